//! Comments and replies, and their likes. Lists apply the SQL mirror of the policy
//! (blocks either way).

use crate::sql::placeholders;
use crate::visibility::not_blocked;
use crate::{col, now_ms, Db, FeedCursor, Result};
use kinora_core::Id;
use sqlx::any::AnyRow;

/// A comment with its author's username.
#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: Id,
    pub video_id: Id,
    pub account_id: Id,
    pub username: String,
    pub reply_to: Option<String>,
    pub body: String,
    pub likes: i64,
    pub created_at: i64,
}

fn comment(r: &AnyRow) -> Result<CommentRow> {
    Ok(CommentRow {
        id: Id::from_trusted(col(r, "id")?),
        video_id: Id::from_trusted(col(r, "video_id")?),
        account_id: Id::from_trusted(col(r, "account_id")?),
        username: col(r, "username")?,
        reply_to: col(r, "reply_to")?,
        body: col(r, "body")?,
        likes: col(r, "likes")?,
        created_at: col(r, "created_at")?,
    })
}

impl Db {
    /// Which of `comments` the account liked: one query for a whole page.
    pub async fn comments_liked_among(&self, account: &Id, comments: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if comments.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT comment_id FROM comment_likes WHERE account_id = $1 AND comment_id IN ({})", placeholders(2, comments.len()));
        let mut q = sqlx::query(&sql).bind(account.as_str());
        for c in comments {
            q = q.bind(c.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "comment_id")?))).collect()
    }

    pub async fn add_comment(&self, id: &Id, video: &Id, account: &Id, reply_to: Option<&Id>, body: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO comments (id, video_id, account_id, reply_to, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.as_str())
            .bind(video.as_str())
            .bind(account.as_str())
            .bind(reply_to.map(|r| r.as_str().to_owned()))
            .bind(body)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET comments = comments + 1 WHERE id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn comment_by_id(&self, id: &Id) -> Result<Option<CommentRow>> {
        let r = sqlx::query(
            "SELECT c.id, c.video_id, c.account_id, a.username, c.reply_to, c.body, c.likes, c.created_at \
             FROM comments c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1 AND c.deleted_at IS NULL",
        )
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(comment).transpose()
    }

    /// Which of `ids` are comments that exist and are not deleted, in one query.
    pub async fn live_comments(&self, ids: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT id FROM comments WHERE deleted_at IS NULL AND id IN ({})", placeholders(1, ids.len()));
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool()).await?.iter().map(|r| Ok(Id::from_trusted(col(r, "id")?))).collect()
    }

    /// A video's comments, oldest first, minus authors blocked either way with the viewer.
    pub async fn comments(&self, video: &Id, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<CommentRow>> {
        let (k, id) = match after {
            Some(c) => (c.key, c.id.clone()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.video_id, c.account_id, a.username, c.reply_to, c.body, c.likes, c.created_at \
             FROM comments c JOIN accounts a ON a.id = c.account_id \
             WHERE c.video_id = $1 AND c.deleted_at IS NULL AND {nb} AND (c.created_at, c.id) > ($3, $4) \
             ORDER BY c.created_at, c.id LIMIT $5",
            nb = not_blocked(2, "c.account_id")
        ))
        .bind(video.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(comment).collect()
    }

    /// Deletes a comment and its replies; keeps the video's count in step.
    pub async fn delete_comment(&self, c: &CommentRow) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The words go at once; the tombstone goes with the retention sweep.
        let r = sqlx::query("UPDATE comments SET deleted_at = $1, body = '' WHERE (id = $2 OR reply_to = $2) AND deleted_at IS NULL")
            .bind(now_ms())
            .bind(c.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET comments = comments - $1 WHERE id = $2")
            .bind(r.rows_affected() as i64)
            .bind(c.video_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_comment_like(&self, account: &Id, comment: &Id, on: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = if on {
            sqlx::query("INSERT INTO comment_likes (account_id, comment_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, comment_id) DO NOTHING")
                .bind(account.as_str())
                .bind(comment.as_str())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("DELETE FROM comment_likes WHERE account_id = $1 AND comment_id = $2")
                .bind(account.as_str())
                .bind(comment.as_str())
                .execute(&mut *tx)
                .await?
        };
        if r.rows_affected() == 1 {
            sqlx::query("UPDATE comments SET likes = likes + $1 WHERE id = $2")
                .bind(if on { 1i64 } else { -1 })
                .bind(comment.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn comment_liked(&self, account: &Id, comment: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM comment_likes WHERE account_id = $1 AND comment_id = $2")
            .bind(account.as_str())
            .bind(comment.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }
}
