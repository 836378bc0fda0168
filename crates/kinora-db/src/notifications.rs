//! Notifications: written with what caused them, read newest first (the read-time
//! policy check is the application's), marked read, forgotten after a while.

use crate::videos::cursor_parts;
use crate::{col, now_ms, Db, FeedCursor, Result};
use kinora_core::Id;

kinora_core::closed_set! {
    /// What a notification is about.
    pub enum NotificationKind {
        Follow = "follow",
        FollowRequest = "follow_request",
        FollowAccepted = "follow_accepted",
        Like = "like",
        Comment = "comment",
        Reply = "reply",
        Mention = "mention",
        /// A data download is ready.
        ExportReady = "export_ready",
        /// Moderators acted on the account's content or the account (or answered its appeal).
        Moderation = "moderation",
    }
}

/// A notification, before the read-time policy check.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: Id,
    pub kind: NotificationKind,
    pub actor_id: Id,
    pub video_id: Option<Id>,
    pub comment_id: Option<String>,
    pub created_at: i64,
    pub read: bool,
    /// For `moderation`: the action it is about.
    pub action_id: Option<Id>,
}

impl Db {
    pub async fn notify(&self, recipient: &Id, kind: NotificationKind, actor: &Id, video: Option<&Id>, comment: Option<&Id>) -> Result<()> {
        if recipient == actor {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO notifications (id, account_id, kind, actor_id, video_id, comment_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Id::generate().as_str())
        .bind(recipient.as_str())
        .bind(kind.as_str())
        .bind(actor.as_str())
        .bind(video.map(|v| v.as_str().to_owned()))
        .bind(comment.map(|c| c.as_str().to_owned()))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn notifications(&self, account: &Id, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<NotificationRow>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(
            "SELECT id, kind, actor_id, video_id, comment_id, created_at, read_at, action_id FROM notifications \
             WHERE account_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(account.as_str())
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationRow {
                    id: Id::from_trusted(col(r, "id")?),
                    kind: crate::closed(r, "kind")?,
                    actor_id: Id::from_trusted(col(r, "actor_id")?),
                    video_id: col::<Option<String>>(r, "video_id")?.map(Id::from_trusted),
                    comment_id: col(r, "comment_id")?,
                    created_at: col(r, "created_at")?,
                    read: col::<Option<i64>>(r, "read_at")?.is_some(),
                    action_id: col::<Option<String>>(r, "action_id")?.map(Id::from_trusted),
                })
            })
            .collect()
    }

    /// Marks notifications read: the given ones, or all.
    pub async fn mark_read(&self, account: &Id, ids: Option<&[Id]>) -> Result<()> {
        match ids {
            None => {
                sqlx::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL")
                    .bind(now_ms())
                    .bind(account.as_str())
                    .execute(self.pool())
                    .await?;
            }
            Some(ids) => {
                for id in ids {
                    sqlx::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND id = $3 AND read_at IS NULL")
                        .bind(now_ms())
                        .bind(account.as_str())
                        .bind(id.as_str())
                        .execute(self.pool())
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Retention: deletes view events and notifications older than the cut-offs.
    /// Returns (view events, notifications) deleted. Counts on videos stay.
    pub async fn forget_old_activity(&self, views_before_ms: i64, notifications_before_ms: i64) -> Result<(u64, u64)> {
        let v = sqlx::query("DELETE FROM view_events WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        // Impressions and shares go with the watch history they belong to.
        sqlx::query("DELETE FROM feed_impressions WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        sqlx::query("DELETE FROM video_shares WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        let n = sqlx::query("DELETE FROM notifications WHERE created_at < $1").bind(notifications_before_ms).execute(self.pool()).await?;
        Ok((v.rows_affected(), n.rows_affected()))
    }
}
