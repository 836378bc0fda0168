//! The durable job queue: a `jobs` table in the same database as everything else.
//!
//! * A job is enqueued in the same transaction as the row it belongs to
//!   ([`enqueue_in`]), so a video never exists without its transcode job.
//! * Workers claim one job at a time with a lease (`locked_until`). On PostgreSQL the
//!   claim uses `FOR UPDATE SKIP LOCKED`, so many workers never take the same job;
//!   SQLite serialises writers, so a single `UPDATE ... RETURNING` is atomic.
//! * A worker that dies stops renewing its lease; once it expires the job is claimed
//!   again. Finishing a job checks the lease holder, so a worker that lost its lease
//!   cannot publish over the new holder.
//! * Claims are fair across accounts: the next job belongs to the account whose
//!   last claim is oldest (jobs of no account first), so one account with a hundred
//!   uploads queued does not hold everyone else's for hours.

use crate::{col, now_ms, Backend, Db, Result};
use kinora_core::Id;
use sqlx::{Any, Transaction};

kinora_core::closed_set! {
    /// What a job does.
    pub enum JobKind {
        /// Transcode a new upload's original into the rendition ladder.
        Transcode = "transcode",
        /// Transcode again with the current profiles (`kinora media reprocess`).
        Reprocess = "reprocess",
        /// Remove a deleted video's objects from its region.
        PurgeVideo = "purge_video",
        /// Copy an object to the backup region and verify the copy.
        Replicate = "replicate",
        /// Build an account's data download.
        Export = "export",
        /// Erase an account scheduled for deletion (runs at its `erase_at`).
        EraseAccount = "erase_account",
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    /// `None` for a kind this version does not know (written by a newer one).
    pub kind: Option<JobKind>,
    /// The stored kind, as written.
    pub kind_name: String,
    pub payload: serde_json::Value,
    /// Attempts so far, counting this one.
    pub attempts: i64,
}

/// Inserts a job inside an open transaction; `account` is whose work it is (for
/// fair claiming and per-account caps).
pub(crate) async fn enqueue_in(tx: &mut Transaction<'static, Any>, kind: JobKind, account: Option<&Id>, payload: &serde_json::Value) -> Result<String> {
    enqueue_at(tx, kind, account, payload, now_ms()).await
}

/// Like [`enqueue_in`], to run at `run_at` (ms) at the earliest.
pub(crate) async fn enqueue_at(
    tx: &mut Transaction<'static, Any>,
    kind: JobKind,
    account: Option<&Id>,
    payload: &serde_json::Value,
    run_at: i64,
) -> Result<String> {
    let id = Id::generate().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, run_at, created_at, updated_at, account_id) \
         VALUES ($1, $2, $3, 'queued', 0, $6, $4, $4, $5)",
    )
    .bind(&id)
    .bind(kind.as_str())
    .bind(payload.to_string())
    .bind(now)
    .bind(account.map(|a| a.as_str().to_owned()))
    .bind(run_at)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Queue operations.
pub trait JobQueue {
    /// Enqueues a job on its own.
    fn enqueue(&self, kind: JobKind, account: Option<&Id>, payload: &serde_json::Value) -> impl std::future::Future<Output = Result<String>> + Send;
    /// Claims the next runnable job (queued and due, or running with an expired lease).
    fn claim(&self, worker: &str, lease_ms: i64) -> impl std::future::Future<Output = Result<Option<Job>>> + Send;
    /// Extends the lease; false if this worker no longer holds the job.
    fn renew(&self, job: &str, worker: &str, lease_ms: i64) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Marks a job done.
    fn complete(&self, job: &str, worker: &str) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Puts a job back to run after `delay_ms`, recording why.
    fn retry_later(&self, job: &str, worker: &str, delay_ms: i64, error: &str) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Ends a job as failed for good.
    fn fail(&self, job: &str, worker: &str, error: &str) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Enqueues `kind` with `payload` unless an identical job is queued or running;
    /// returns whether it enqueued.
    fn enqueue_unique(&self, kind: JobKind, account: Option<&Id>, payload: &serde_json::Value) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Jobs of `kind` that are queued or running.
    fn pending_jobs(&self, kind: JobKind) -> impl std::future::Future<Output = Result<i64>> + Send;
    /// Transcode jobs of `account` (its uploads) that are queued or running.
    fn pending_media_jobs(&self, account: &Id) -> impl std::future::Future<Output = Result<i64>> + Send;
    /// Deletes finished (done or failed) jobs last touched before `before_ms`.
    fn forget_finished_jobs(&self, before_ms: i64) -> impl std::future::Future<Output = Result<u64>> + Send;
    /// Counts jobs by status (for tests and status output).
    fn count_jobs(&self, status: &str) -> impl std::future::Future<Output = Result<i64>> + Send;
}

impl JobQueue for Db {
    async fn enqueue(&self, kind: JobKind, account: Option<&Id>, payload: &serde_json::Value) -> Result<String> {
        let mut tx = self.begin_write().await?;
        let id = enqueue_in(&mut tx, kind, account, payload).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn claim(&self, worker: &str, lease_ms: i64) -> Result<Option<Job>> {
        let now = now_ms();
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // Fair across accounts: among runnable jobs, the one whose account was
        // served longest ago (jobs of no account, and accounts never served, first).
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
               attempts = attempts + 1, updated_at = $3, claimed_at = $3 \
             WHERE id = (SELECT j.id FROM jobs j \
               WHERE (j.status = 'queued' AND j.run_at <= $3) OR (j.status = 'running' AND j.locked_until < $3) \
               ORDER BY COALESCE((SELECT MAX(s.claimed_at) FROM jobs s WHERE s.account_id = j.account_id), 0), \
                 j.run_at, j.created_at LIMIT 1 {lock}) \
             RETURNING id, kind, payload, attempts"
        );
        let r = sqlx::query(&sql).bind(worker).bind(now + lease_ms).bind(now).fetch_optional(self.pool()).await?;
        let Some(r) = r else { return Ok(None) };
        let payload: String = col(&r, "payload")?;
        let kind_name: String = col(&r, "kind")?;
        Ok(Some(Job {
            id: col(&r, "id")?,
            kind: JobKind::parse(&kind_name),
            kind_name,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempts: col(&r, "attempts")?,
        }))
    }

    async fn renew(&self, job: &str, worker: &str, lease_ms: i64) -> Result<bool> {
        let now = now_ms();
        let r = sqlx::query("UPDATE jobs SET locked_until = $1, updated_at = $2 WHERE id = $3 AND locked_by = $4 AND status = 'running'")
            .bind(now + lease_ms)
            .bind(now)
            .bind(job)
            .bind(worker)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn complete(&self, job: &str, worker: &str) -> Result<bool> {
        finish(self.pool(), job, worker, "done", None, None).await
    }

    async fn retry_later(&self, job: &str, worker: &str, delay_ms: i64, error: &str) -> Result<bool> {
        finish(self.pool(), job, worker, "queued", Some(now_ms() + delay_ms), Some(error)).await
    }

    async fn fail(&self, job: &str, worker: &str, error: &str) -> Result<bool> {
        finish(self.pool(), job, worker, "failed", None, Some(error)).await
    }

    async fn enqueue_unique(&self, kind: JobKind, account: Option<&Id>, payload: &serde_json::Value) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let text = payload.to_string();
        let dup = sqlx::query("SELECT 1 AS one FROM jobs WHERE kind = $1 AND payload = $2 AND status IN ('queued', 'running')")
            .bind(kind.as_str())
            .bind(&text)
            .fetch_optional(&mut *tx)
            .await?;
        if dup.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        enqueue_in(&mut tx, kind, account, payload).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn pending_jobs(&self, kind: JobKind) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND status IN ('queued', 'running')")
            .bind(kind.as_str())
            .fetch_one(self.pool())
            .await?;
        col(&r, "n")
    }

    async fn pending_media_jobs(&self, account: &Id) -> Result<i64> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE account_id = $1 AND kind = 'transcode' \
             AND status IN ('queued', 'running')",
        )
        .bind(account.as_str())
        .fetch_one(self.pool())
        .await?;
        col(&r, "n")
    }

    async fn forget_finished_jobs(&self, before_ms: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND updated_at < $1").bind(before_ms).execute(self.pool()).await?;
        Ok(r.rows_affected())
    }

    async fn count_jobs(&self, status: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = $1").bind(status).fetch_one(self.pool()).await?;
        col(&r, "n")
    }
}

/// Moves a job this worker holds to `status`. Works on a pool or a transaction.
pub(crate) async fn finish<'e, E>(ex: E, job: &str, worker: &str, status: &str, run_at: Option<i64>, error: Option<&str>) -> Result<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = COALESCE($3, last_error), \
           locked_by = NULL, locked_until = NULL, updated_at = $4 \
         WHERE id = $5 AND locked_by = $6 AND status = 'running'",
    )
    .bind(status)
    .bind(run_at)
    .bind(error)
    .bind(now)
    .bind(job)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() == 1)
}
