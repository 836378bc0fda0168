//! Hashtags: a hashtag's videos (the policy applied in SQL), trending hashtags, and
//! following one.

use crate::sql::{video, VCOLS};
use crate::videos::{cursor_parts, VideoRow};
use crate::visibility::{discoverable, video_visible_to as visible_to};
use crate::{col, now_ms, Db, FeedCursor, Result};
use kinora_core::Id;

impl Db {
    pub async fn tag_videos(&self, tag: &str, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<VideoRow>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(&format!(
            "SELECT {VCOLS} FROM video_tags t JOIN videos v ON v.id = t.video_id JOIN accounts a ON a.id = v.account_id \
             WHERE t.tag = $1 AND v.status = 'ready' AND {vis} AND (t.created_at, t.video_id) < ($3, $4) \
             ORDER BY t.created_at DESC, t.video_id DESC LIMIT $5",
            vis = visible_to(2)
        ))
        .bind(tag)
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(video).collect()
    }

    /// Tags with the most videos anyone may see (public videos of public accounts)
    /// in the last `days` days; the counts reveal nothing else.
    pub async fn trending_tags(&self, days: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT t.tag, COUNT(*) AS n FROM video_tags t JOIN videos v ON v.id = t.video_id \
             JOIN accounts a ON a.id = v.account_id \
             WHERE {disc} AND v.created_at > $1 GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT $2",
            disc = discoverable()
        ))
        .bind(now_ms() - days * 86_400_000)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((col(r, "tag")?, col(r, "n")?))).collect()
    }

    pub async fn set_tag_follow(&self, account: &Id, tag: &str, on: bool) -> Result<()> {
        let q = if on {
            "INSERT INTO tag_follows (account_id, tag, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, tag) DO NOTHING"
        } else {
            "DELETE FROM tag_follows WHERE account_id = $1 AND tag = $2 AND $3 = $3"
        };
        sqlx::query(q).bind(account.as_str()).bind(tag).bind(now_ms()).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn follows_tag(&self, account: &Id, tag: &str) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM tag_follows WHERE account_id = $1 AND tag = $2")
            .bind(account.as_str())
            .bind(tag)
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }
}
