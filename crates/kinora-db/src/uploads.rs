//! Resumable uploads (tus): one row per upload, the bytes on the node's disk.

use crate::{col, now_ms, Db, Result};
use kinora_core::{Id, Visibility};
use sqlx::any::AnyRow;

/// A stored upload.
#[derive(Debug, Clone)]
pub struct UploadRow {
    pub id: Id,
    pub account_id: Id,
    pub video_id: Id,
    pub length: i64,
    pub received: i64,
    pub filename: String,
    pub caption: String,
    pub visibility: Visibility,
    /// `open` or `done`.
    pub state: UploadState,
    pub expires_at: i64,
}

/// Where a resumable upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Receiving bytes.
    Open,
    /// All bytes arrived and its video exists.
    Done,
}

const COLS: &str = "id, account_id, video_id, length, received, filename, caption, visibility, state, expires_at";

fn row(r: &AnyRow) -> Result<UploadRow> {
    let vis: String = col(r, "visibility")?;
    Ok(UploadRow {
        id: Id::from_trusted(col(r, "id")?),
        account_id: Id::from_trusted(col(r, "account_id")?),
        video_id: Id::from_trusted(col(r, "video_id")?),
        length: col(r, "length")?,
        received: col(r, "received")?,
        filename: col(r, "filename")?,
        caption: col(r, "caption")?,
        visibility: Visibility::parse(&vis).unwrap_or(Visibility::Private),
        state: if col::<String>(r, "state")? == "done" { UploadState::Done } else { UploadState::Open },
        expires_at: col(r, "expires_at")?,
    })
}

/// Upload storage.
pub trait UploadRepo {
    fn create_upload(&self, u: &UploadRow) -> impl std::future::Future<Output = Result<()>> + Send;
    /// An upload that is not expired.
    fn upload_by_id(&self, id: &Id) -> impl std::future::Future<Output = Result<Option<UploadRow>>> + Send;
    /// Records acknowledged bytes and pushes the expiry out.
    fn set_received(&self, id: &Id, received: i64, expires_at: i64) -> impl std::future::Future<Output = Result<()>> + Send;
    fn delete_upload(&self, id: &Id) -> impl std::future::Future<Output = Result<()>> + Send;
    /// (open uploads, their total declared bytes) of an account.
    fn open_uploads(&self, account: &Id) -> impl std::future::Future<Output = Result<(i64, i64)>> + Send;
    /// Turns a complete upload into a video + transcode job, once: the video row,
    /// the job and the upload's `done` state commit together; a repeat is a no-op.
    fn finish_upload(&self, u: &UploadRow, region: &str, original_key: &str) -> impl std::future::Future<Output = Result<()>> + Send;
    /// Open uploads whose expiry has passed.
    fn expired_uploads(&self) -> impl std::future::Future<Output = Result<Vec<Id>>> + Send;
    /// Open uploads that hold all their bytes (a crash came before finishing).
    fn complete_open_uploads(&self) -> impl std::future::Future<Output = Result<Vec<UploadRow>>> + Send;
}

impl UploadRepo for Db {
    async fn create_upload(&self, u: &UploadRow) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO uploads (id, account_id, video_id, length, received, filename, caption, visibility, state, \
               created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9, $10)",
        )
        .bind(u.id.as_str())
        .bind(u.account_id.as_str())
        .bind(u.video_id.as_str())
        .bind(u.length)
        .bind(u.received)
        .bind(&u.filename)
        .bind(&u.caption)
        .bind(u.visibility.as_str())
        .bind(now)
        .bind(u.expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn upload_by_id(&self, id: &Id) -> Result<Option<UploadRow>> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM uploads WHERE id = $1 AND (state = 'done' OR expires_at > $2)"))
            .bind(id.as_str())
            .bind(now_ms())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    async fn set_received(&self, id: &Id, received: i64, expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE uploads SET received = $1, updated_at = $2, expires_at = $3 WHERE id = $4")
            .bind(received)
            .bind(now_ms())
            .bind(expires_at)
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    async fn open_uploads(&self, account: &Id) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(length), 0) AS BIGINT) AS bytes FROM uploads \
             WHERE account_id = $1 AND state = 'open' AND expires_at > $2",
        )
        .bind(account.as_str())
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        Ok((col(&r, "n")?, col(&r, "bytes")?))
    }

    async fn finish_upload(&self, u: &UploadRow, region: &str, original_key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE uploads SET state = 'done', updated_at = $1 WHERE id = $2 AND state = 'open'")
            .bind(now_ms())
            .bind(u.id.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            // Another request finished it first.
            tx.rollback().await?;
            return Ok(());
        }
        let caption = kinora_core::Caption::from_trusted(u.caption.clone());
        crate::videos::ingest_in(
            &mut tx,
            &crate::NewVideo {
                id: &u.video_id,
                account_id: &u.account_id,
                caption: &caption,
                visibility: u.visibility,
                region,
                original_key,
                original_bytes: u.length,
                original_name: &u.filename,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn expired_uploads(&self) -> Result<Vec<Id>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE state = 'open' AND expires_at <= $1").bind(now_ms()).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "id")?))).collect()
    }

    async fn complete_open_uploads(&self) -> Result<Vec<UploadRow>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM uploads WHERE state = 'open' AND received = length ORDER BY created_at, id"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row).collect()
    }
}

impl Db {
    /// The caption and audience chosen last, for an upload still open: a resumed
    /// upload publishes what the person chose when they resumed it.
    pub async fn restate_upload(&self, id: &Id, caption: &str, visibility: Visibility) -> Result<bool> {
        let r = sqlx::query("UPDATE uploads SET caption = $1, visibility = $2, updated_at = $3 WHERE id = $4 AND state = 'open'")
            .bind(caption)
            .bind(visibility.as_str())
            .bind(now_ms())
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
