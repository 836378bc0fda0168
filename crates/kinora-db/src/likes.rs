//! Likes, shares and view events, the lists they make (likers, liked videos), edits
//! of a video's caption and settings, and the creator's per-video numbers.

use crate::sql::{account_row, placeholders, video, ACOLS, VCOLS};
use crate::videos::{cursor_parts, VideoRow};
use crate::visibility::{likes_visible_to, video_visible_to as visible_to};
use crate::{col, now_ms, AccountRow, Db, FeedCursor, Result};
use kinora_core::Id;

/// Per-video numbers for the creator's analytics.
#[derive(Debug, Clone)]
pub struct VideoStats {
    pub video_id: Id,
    pub views: i64,
    pub watch_ms: i64,
    pub completed: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
}

impl Db {
    /// Likes (`on`) or unlikes; idempotent. Keeps the count in step.
    pub async fn set_like(&self, account: &Id, video: &Id, on: bool) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = if on {
            sqlx::query("INSERT INTO likes (account_id, video_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, video_id) DO NOTHING")
                .bind(account.as_str())
                .bind(video.as_str())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("DELETE FROM likes WHERE account_id = $1 AND video_id = $2").bind(account.as_str()).bind(video.as_str()).execute(&mut *tx).await?
        };
        let changed = r.rows_affected() == 1;
        if changed {
            let delta: i64 = if on { 1 } else { -1 };
            sqlx::query("UPDATE videos SET likes = likes + $1 WHERE id = $2").bind(delta).bind(video.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Which of `videos` the account liked: one query for a whole page.
    pub async fn liked_among(&self, account: &Id, videos: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if videos.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT video_id FROM likes WHERE account_id = $1 AND video_id IN ({})", placeholders(2, videos.len()));
        let mut q = sqlx::query(&sql).bind(account.as_str());
        for v in videos {
            q = q.bind(v.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "video_id")?))).collect()
    }

    pub async fn liked(&self, account: &Id, video: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM likes WHERE account_id = $1 AND video_id = $2")
            .bind(account.as_str())
            .bind(video.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    /// Accounts that liked a video and whose likes the viewer may see
    /// (`policy::can_see_likes`).
    pub async fn likers(&self, video: &Id, viewer: Option<&Id>, limit: i64) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACOLS} FROM likes l JOIN accounts a ON a.id = l.account_id WHERE l.video_id = $1 AND {lv} \
             ORDER BY l.created_at DESC LIMIT $3",
            lv = likes_visible_to(2)
        ))
        .bind(video.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_row).collect()
    }

    /// Videos an account liked that the viewer may see, newest like first.
    pub async fn liked_videos(&self, account: &Id, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<(VideoRow, i64)>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(&format!(
            "SELECT {VCOLS}, l.created_at AS liked_at FROM likes l JOIN videos v ON v.id = l.video_id \
             JOIN accounts a ON a.id = v.account_id WHERE l.account_id = $1 AND v.status = 'ready' AND {vis} \
             AND (l.created_at, v.id) < ($3, $4) ORDER BY l.created_at DESC, v.id DESC LIMIT $5",
            vis = visible_to(2)
        ))
        .bind(account.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((video(r)?, col(r, "liked_at")?))).collect()
    }

    pub async fn add_share(&self, video: &Id) -> Result<()> {
        sqlx::query("UPDATE videos SET shares = shares + 1 WHERE id = $1").bind(video.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    /// A signed-in viewer's share, for For You to learn from.
    pub async fn record_share(&self, account: &Id, video: &Id) -> Result<()> {
        sqlx::query("INSERT INTO video_shares (account_id, video_id, created_at) VALUES ($1, $2, $3)")
            .bind(account.as_str())
            .bind(video.as_str())
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Edits a video; `tags` replaces its hashtags when the caption changes.
    pub async fn edit_video(
        &self,
        video: &Id,
        caption: Option<&str>,
        visibility: Option<kinora_core::Visibility>,
        comments: Option<kinora_core::policy::CommentSetting>,
        tags: Option<&[String]>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE videos SET caption = COALESCE($1, caption), visibility = COALESCE($2, visibility), \
               comments_setting = COALESCE($3, comments_setting) WHERE id = $4",
        )
        .bind(caption)
        .bind(visibility.map(|v| v.as_str()))
        .bind(comments.map(|c| c.as_str()))
        .bind(video.as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(tags) = tags {
            sqlx::query("DELETE FROM video_tags WHERE video_id = $1").bind(video.as_str()).execute(&mut *tx).await?;
            for t in tags {
                // Stamped with the video's creation time: a hashtag page is in
                // publication order whatever was edited since.
                sqlx::query(
                    "INSERT INTO video_tags (video_id, tag, created_at) SELECT $1, $2, v.created_at FROM videos v WHERE v.id = $1 \
                     ON CONFLICT (video_id, tag) DO NOTHING",
                )
                .bind(video.as_str())
                .bind(t)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn record_view(&self, video: &Id, viewer: Option<&Id>, watched_ms: i64, completed: bool) -> Result<()> {
        self.record_view_replays(video, viewer, watched_ms, completed, 0).await
    }

    /// A view with how many times the viewer watched it again.
    pub async fn record_view_replays(&self, video: &Id, viewer: Option<&Id>, watched_ms: i64, completed: bool, replays: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO view_events (id, video_id, viewer_id, watched_ms, completed, created_at, replays) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(Id::generate().as_str())
            .bind(video.as_str())
            .bind(viewer.map(|v| v.as_str().to_owned()))
            .bind(watched_ms)
            .bind(i64::from(completed))
            .bind(now_ms())
            .bind(replays)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET views = views + 1 WHERE id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Per-video numbers for an account's own videos (not deleted).
    pub async fn video_stats(&self, account: &Id) -> Result<Vec<VideoStats>> {
        let rows = sqlx::query(
            "SELECT v.id, v.likes, v.comments, v.shares, \
               (SELECT COUNT(*) FROM view_events e WHERE e.video_id = v.id) AS views, \
               (SELECT CAST(COALESCE(SUM(e.watched_ms), 0) AS BIGINT) FROM view_events e WHERE e.video_id = v.id) AS watch_ms, \
               (SELECT COUNT(*) FROM view_events e WHERE e.video_id = v.id AND e.completed = 1) AS completed \
             FROM videos v WHERE v.account_id = $1 AND v.deleted_at IS NULL ORDER BY v.created_at DESC LIMIT 500",
        )
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VideoStats {
                    video_id: Id::from_trusted(col(r, "id")?),
                    views: col(r, "views")?,
                    watch_ms: col(r, "watch_ms")?,
                    completed: col(r, "completed")?,
                    likes: col(r, "likes")?,
                    comments: col(r, "comments")?,
                    shares: col(r, "shares")?,
                })
            })
            .collect()
    }
}
