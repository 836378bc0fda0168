//! Account erasure: scheduling (the account is deactivated at once), cancelling,
//! the objects to remove, and the erasure itself in one transaction, with counts of
//! others corrected, reports about the account stripped of it, and a journal entry
//! that keeps only a keyed hash of its id. Then the storage is cleaned of what a
//! delete leaves behind: SQLite runs with `secure_delete`, its full-text indexes are
//! merged and its WAL truncated; PostgreSQL tables are vacuumed.

use crate::jobs::{enqueue_at, JobKind};
use crate::{col, now_ms, AccountRow, Backend, Db, Result};
use kinora_core::Id;

impl Db {
    /// Deactivates the account, signs it out everywhere and queues its erasure.
    pub async fn schedule_erasure(&self, account: &Id, erase_at: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE accounts SET erase_at = $1 WHERE id = $2").bind(erase_at).bind(account.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM tokens WHERE account_id = $1").bind(account.as_str()).execute(&mut *tx).await?;
        enqueue_at(&mut tx, JobKind::EraseAccount, None, &serde_json::json!({"account_id": account.as_str()}), erase_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Cancels a scheduled erasure: the account is active again.
    pub async fn cancel_erasure(&self, account: &Id) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE accounts SET erase_at = NULL WHERE id = $1").bind(account.as_str()).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM jobs WHERE kind = 'erase_account' AND status = 'queued' AND payload = $1")
            .bind(serde_json::json!({"account_id": account.as_str()}).to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An account by username whether or not it is scheduled for erasure, with its
    /// erase time (for sign-in, which explains and offers to cancel).
    pub async fn account_for_signin(&self, username: &kinora_core::Username) -> Result<Option<(AccountRow, Option<i64>)>> {
        let r = sqlx::query("SELECT id, erase_at FROM accounts WHERE username = $1").bind(username.as_str()).fetch_optional(self.pool()).await?;
        let Some(r) = r else { return Ok(None) };
        let id = Id::from_trusted(col(&r, "id")?);
        let erase_at: Option<i64> = col(&r, "erase_at")?;
        let row = sqlx::query(&format!("SELECT {} FROM accounts WHERE id = $1", crate::accounts::COLS)).bind(id.as_str()).fetch_one(self.pool()).await?;
        Ok(Some((crate::accounts::row_pub(&row)?, erase_at)))
    }

    /// The account's home region, if the account (active or not) exists.
    pub async fn account_region_any(&self, account: &Id) -> Result<Option<String>> {
        let r = sqlx::query("SELECT region FROM accounts WHERE id = $1").bind(account.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(|r| col(r, "region")).transpose()
    }

    /// What the account has stored: (region, key, is a prefix). Videos' media are
    /// prefixes (whatever a transcode wrote), the rest single keys.
    pub async fn account_objects(&self, account: &Id) -> Result<Vec<(String, String, bool)>> {
        let mut out = Vec::new();
        for r in sqlx::query("SELECT id, region, original_key FROM videos WHERE account_id = $1").bind(account.as_str()).fetch_all(self.pool()).await? {
            let id: String = col(&r, "id")?;
            let region: String = col(&r, "region")?;
            out.push((region.clone(), format!("media/{id}"), true));
            out.push((region, col(&r, "original_key")?, false));
        }
        for r in sqlx::query("SELECT region, avatar_key FROM accounts WHERE id = $1 AND avatar_key IS NOT NULL")
            .bind(account.as_str())
            .fetch_all(self.pool())
            .await?
        {
            out.push((col(&r, "region")?, col(&r, "avatar_key")?, false));
        }
        for r in sqlx::query("SELECT region, object_key FROM exports WHERE account_id = $1 AND object_key IS NOT NULL")
            .bind(account.as_str())
            .fetch_all(self.pool())
            .await?
        {
            out.push((col(&r, "region")?, col(&r, "object_key")?, false));
        }
        Ok(out)
    }

    /// Erases every row of the account and corrects what others see; records the
    /// keyed hash `subject` in the erasure journal. Idempotent.
    pub async fn erase_account(&self, account: &Id, subject: &str) -> Result<()> {
        let a = account.as_str();
        let mut tx = self.begin_write().await?;
        // Videos whose counts change: those it liked or commented on.
        let exec = |sql: &'static str| sqlx::query(sql).bind(a);
        let steps: &[&str] = &[
            // Comments it liked, and likes of its comments.
            "UPDATE comments SET likes = likes - 1 WHERE id IN (SELECT comment_id FROM comment_likes WHERE account_id = $1)",
            "DELETE FROM comment_likes WHERE account_id = $1 OR comment_id IN (SELECT id FROM comments WHERE account_id = $1)",
            // Reports others filed about its comments keep their reason and status,
            // not the comment or what the reporter wrote about it.
            "UPDATE reports SET comment_id = NULL, details = '' WHERE comment_id IN (SELECT id FROM comments WHERE account_id = $1)",
            // Its comments, and replies to them.
            "DELETE FROM comment_likes WHERE comment_id IN (SELECT id FROM comments WHERE reply_to IN (SELECT id FROM comments WHERE account_id = $1))",
            "DELETE FROM comments WHERE reply_to IN (SELECT id FROM comments WHERE account_id = $1)",
            "DELETE FROM comments WHERE account_id = $1",
            // Its likes.
            "DELETE FROM likes WHERE account_id = $1",
            // Its videos and everything attached to them.
            "DELETE FROM comment_likes WHERE comment_id IN (SELECT c.id FROM comments c JOIN videos v ON v.id = c.video_id WHERE v.account_id = $1)",
            "DELETE FROM comments WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM likes WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM view_events WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM notifications WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM video_tags WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM media_objects WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            // Reports others filed about it keep their reason and status, not it.
            "UPDATE reports SET video_id = NULL, details = '' WHERE video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "UPDATE reports SET account_id = NULL, details = '' WHERE account_id = $1",
            "DELETE FROM videos WHERE account_id = $1",
            // Its relations, activity and sessions.
            "DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1",
            "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
            "DELETE FROM mutes WHERE muter_id = $1 OR muted_id = $1",
            "DELETE FROM notifications WHERE account_id = $1 OR actor_id = $1",
            "DELETE FROM view_events WHERE viewer_id = $1",
            "DELETE FROM not_interested WHERE account_id = $1 OR video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM feed_impressions WHERE account_id = $1 OR video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM video_shares WHERE account_id = $1 OR video_id IN (SELECT id FROM videos WHERE account_id = $1)",
            "DELETE FROM tag_follows WHERE account_id = $1",
            "DELETE FROM reports WHERE reporter_id = $1",
            "DELETE FROM tokens WHERE account_id = $1",
            "DELETE FROM uploads WHERE account_id = $1",
            "DELETE FROM exports WHERE account_id = $1",
            "DELETE FROM jobs WHERE account_id = $1",
            // The log is append-only: its entries stay (they name the subject only by a
            // keyed commitment); the link to the account goes.
            "UPDATE log_entries SET subject_account = NULL WHERE subject_account = $1",
            "DELETE FROM staff WHERE account_id = $1",
            // Moderation decisions stay counted (kind, reason, month); what they were
            // about and any note go.
            "UPDATE moderation_actions SET note = '', video_id = NULL, comment_id = NULL, subject_id = NULL WHERE subject_id = $1",
            "UPDATE moderation_actions SET actor_id = NULL WHERE actor_id = $1",
            "DELETE FROM accounts WHERE id = $1",
        ];
        // Counts on others' videos, recomputed after the deletions.
        let touched: Vec<String> = sqlx::query(
            "SELECT video_id FROM likes WHERE account_id = $1 UNION SELECT video_id FROM comments WHERE account_id = $1 \
             UNION SELECT c.video_id FROM comments c WHERE c.reply_to IN (SELECT id FROM comments WHERE account_id = $1)",
        )
        .bind(a)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| col(r, "video_id"))
        .collect::<Result<_>>()?;
        for sql in steps {
            exec(sql).execute(&mut *tx).await?;
        }
        for v in &touched {
            sqlx::query(
                "UPDATE videos SET likes = (SELECT COUNT(*) FROM likes l WHERE l.video_id = $1), \
                   comments = (SELECT COUNT(*) FROM comments c WHERE c.video_id = $1 AND c.deleted_at IS NULL) WHERE id = $1",
            )
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO erasure_journal (subject, erased_at) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING")
            .bind(subject)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// After an erasure: nothing of it may linger in free pages, index segments or
    /// the write-ahead log.
    pub async fn scrub(&self) -> Result<()> {
        match self.backend() {
            Backend::Sqlite => {
                // secure_delete zeroes freed pages; merging the full-text indexes drops
                // the deleted rows' terms; the checkpoint empties the WAL.
                for sql in [
                    "INSERT INTO videos_fts(videos_fts) VALUES ('optimize')",
                    "INSERT INTO accounts_fts(accounts_fts) VALUES ('optimize')",
                    "PRAGMA wal_checkpoint(TRUNCATE)",
                ] {
                    sqlx::query(sql).execute(self.pool()).await?;
                }
            }
            Backend::Postgres => {
                // VACUUM FULL rewrites each table and its indexes without the dead
                // rows (plain VACUUM only marks their space reusable). It locks each
                // table while it runs: erasures are rare, and this is the price of
                // "nothing of it survives in the tables".
                for t in [
                    "accounts",
                    "videos",
                    "media_objects",
                    "video_tags",
                    "comments",
                    "comment_likes",
                    "likes",
                    "follows",
                    "blocks",
                    "mutes",
                    "tag_follows",
                    "notifications",
                    "view_events",
                    "reports",
                    "tokens",
                    "uploads",
                    "exports",
                    "jobs",
                    "moderation_actions",
                    "not_interested",
                    "feed_impressions",
                    "video_shares",
                ] {
                    sqlx::query(&format!("VACUUM FULL {t}")).execute(self.pool()).await?;
                }
            }
        }
        Ok(())
    }

    /// Moves an account's home region: the account, its videos and exports point at
    /// `region` from now on (the objects are copied first by the caller).
    pub async fn set_account_region(&self, account: &Id, region: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "UPDATE accounts SET region = $1 WHERE id = $2",
            "UPDATE videos SET region = $1 WHERE account_id = $2",
            "UPDATE exports SET region = $1 WHERE account_id = $2",
        ] {
            sqlx::query(sql).bind(region).bind(account.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's resumable uploads (their bytes are on a node's disk).
    pub async fn account_upload_ids(&self, account: &Id) -> Result<Vec<Id>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE account_id = $1").bind(account.as_str()).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "id")?))).collect()
    }

    /// Keyed hashes of erased accounts (for restores).
    pub async fn erasure_journal(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT subject FROM erasure_journal ORDER BY erased_at").fetch_all(self.pool()).await?;
        rows.iter().map(|r| col(r, "subject")).collect()
    }
}

impl Db {
    /// Accounts scheduled for erasure, with when.
    pub async fn scheduled_erasures(&self) -> Result<Vec<(kinora_core::Id, i64)>> {
        let rows = sqlx::query("SELECT id, erase_at FROM accounts WHERE erase_at IS NOT NULL").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((kinora_core::Id::from_trusted(col(r, "id")?), col(r, "erase_at")?))).collect()
    }
}
