//! Videos, their media objects, and the feeds built from them.

use crate::jobs::{enqueue_in, finish, JobKind};
use crate::visibility::{not_muted, video_visible_to as visible_to};
use crate::{col, now_ms, Db, DbError, Result};
use kinora_core::{Caption, Id, Username, VideoStatus, Visibility};
use sqlx::any::AnyRow;

/// A stored video joined with its author's username.
#[derive(Debug, Clone)]
pub struct VideoRow {
    pub id: Id,
    pub account_id: Id,
    pub username: Username,
    pub caption: Caption,
    pub visibility: Visibility,
    pub status: VideoStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub duration_ms: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub region: String,
    pub original_key: String,
    pub likes: i64,
    pub comments: i64,
    pub views: i64,
    pub created_at: i64,
    /// The author's account is private (its videos are `followers` at most).
    pub account_private: bool,
    /// Who may comment.
    pub comments_setting: kinora_core::policy::CommentSetting,
    pub shares: i64,
}

/// A served object of a video (a rendition or the poster).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaObject {
    /// Name in the URL: `720.mp4`, `poster.jpg`.
    pub name: String,
    pub object_key: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub bitrate: i64,
    pub bytes: i64,
    pub sha256: String,
}

/// What an upload stores.
pub struct NewVideo<'a> {
    pub id: &'a Id,
    pub account_id: &'a Id,
    pub caption: &'a Caption,
    pub visibility: Visibility,
    pub region: &'a str,
    pub original_key: &'a str,
    pub original_bytes: i64,
    pub original_name: &'a str,
}

/// What a finished transcode publishes.
pub struct Published<'a> {
    pub duration_ms: i64,
    pub width: i64,
    pub height: i64,
    pub objects: &'a [MediaObject],
}

/// Position in a list: the sort key and id of the last item seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCursor {
    pub key: i64,
    pub id: String,
}

/// Video storage and the queries feeds are made of.
pub trait VideoRepo {
    /// Inserts the video and its transcode job in one transaction.
    fn create_video(&self, v: NewVideo<'_>) -> impl std::future::Future<Output = Result<()>> + Send;
    /// A video that is not deleted, whoever may see it (callers apply the policy).
    fn video_by_id(&self, id: &Id) -> impl std::future::Future<Output = Result<Option<VideoRow>>> + Send;
    fn media_objects(&self, video: &Id) -> impl std::future::Future<Output = Result<Vec<MediaObject>>> + Send;
    /// The objects of several videos in one query (a feed page), largest first.
    fn media_objects_for(&self, videos: &[Id]) -> impl std::future::Future<Output = Result<std::collections::HashMap<Id, Vec<MediaObject>>>> + Send;
    /// A video (not deleted) with one of its objects, in one query: the media
    /// byte-serving hot path.
    fn video_with_object(&self, video: &Id, name: &str) -> impl std::future::Future<Output = Result<Option<(VideoRow, MediaObject)>>> + Send;
    /// Publishes: media rows, `ready`, the job done, all in one transaction, and only
    /// while `worker` still holds `job`.
    fn publish_video(&self, video: &Id, job: &str, worker: &str, media: Published<'_>) -> impl std::future::Future<Output = Result<PublishOutcome>> + Send;
    /// Ends processing with an error code, and the job with it.
    fn fail_video(&self, video: &Id, job: &str, worker: &str, code: &str, message: &str) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Marks deleted and enqueues removal of its objects.
    fn delete_video(&self, video: &Id) -> impl std::future::Future<Output = Result<()>> + Send;
    /// A deleted video's region (for the purge job, which removes everything under
    /// its prefixes there); `None` if it is not deleted.
    fn deleted_video_region(&self, video: &Id) -> impl std::future::Future<Output = Result<Option<String>>> + Send;
    /// Whether the video is deleted (or gone); workers check before and after work.
    fn video_deleted(&self, video: &Id) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// An account's videos that `viewer` may see, newest first.
    fn account_videos(
        &self,
        account: &Id,
        viewer: Option<&Id>,
        after: Option<&FeedCursor>,
        limit: i64,
    ) -> impl std::future::Future<Output = Result<Vec<VideoRow>>> + Send;
    /// Ready videos from accounts and hashtags `viewer` follows, newest first.
    fn following_feed(&self, viewer: &Id, after: Option<&FeedCursor>, limit: i64) -> impl std::future::Future<Output = Result<Vec<VideoRow>>> + Send;
    /// Ids of videos that are ready or failed (not deleted), for reprocessing.
    fn reprocessable_videos(&self) -> impl std::future::Future<Output = Result<Vec<Id>>> + Send;
    /// Whether any video row (deleted or not) has this id.
    fn video_exists(&self, id: &Id) -> impl std::future::Future<Output = Result<bool>> + Send;
    /// Every video id (for admin jobs).
    fn count_videos(&self, status: VideoStatus) -> impl std::future::Future<Output = Result<i64>> + Send;
}

pub(crate) const COLS_PUB: &str = COLS;
const COLS: &str = "v.id, v.account_id, a.username, v.caption, v.visibility, v.status, v.error_code, \
    v.error_message, v.duration_ms, v.width, v.height, v.region, v.original_key, v.likes, v.comments, \
    v.views, v.created_at, a.private AS account_private, v.comments_setting, v.shares";

/// A `media_objects` row (name, object_key, mime, width, height, bitrate, bytes, sha256).
pub(crate) fn media_object(r: &AnyRow) -> Result<MediaObject> {
    Ok(MediaObject {
        name: col(r, "name")?,
        object_key: col(r, "object_key")?,
        mime: col(r, "mime")?,
        width: col(r, "width")?,
        height: col(r, "height")?,
        bitrate: col(r, "bitrate")?,
        bytes: col(r, "bytes")?,
        sha256: col(r, "sha256")?,
    })
}

pub(crate) fn row_pub(r: &AnyRow) -> Result<VideoRow> {
    row(r)
}

fn row(r: &AnyRow) -> Result<VideoRow> {
    let vis: String = col(r, "visibility")?;
    let status: String = col(r, "status")?;
    Ok(VideoRow {
        id: Id::from_trusted(col(r, "id")?),
        account_id: Id::from_trusted(col(r, "account_id")?),
        username: Username::from_trusted(col(r, "username")?),
        caption: Caption::from_trusted(col(r, "caption")?),
        visibility: Visibility::parse(&vis).unwrap_or(Visibility::Private),
        status: VideoStatus::parse(&status).unwrap_or(VideoStatus::Failed),
        error_code: col(r, "error_code")?,
        error_message: col(r, "error_message")?,
        duration_ms: col(r, "duration_ms")?,
        width: col(r, "width")?,
        height: col(r, "height")?,
        region: col(r, "region")?,
        original_key: col(r, "original_key")?,
        likes: col(r, "likes")?,
        comments: col(r, "comments")?,
        views: col(r, "views")?,
        created_at: col(r, "created_at")?,
        account_private: col::<i64>(r, "account_private")? != 0,
        comments_setting: kinora_core::policy::CommentSetting::parse(&col::<String>(r, "comments_setting")?).unwrap_or_default(),
        shares: col(r, "shares")?,
    })
}

/// Ingest: the video row, its hashtags, notifications for the accounts its caption
/// mentions and its transcode job, inside the caller's transaction. Multipart
/// uploads, finished resumable uploads and demo content all come through here, so
/// a crash can never leave a video without its tags, mentions or job.
pub(crate) async fn ingest_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, v: &NewVideo<'_>) -> Result<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO videos (id, account_id, caption, visibility, status, region, original_key, \
           original_bytes, original_name, created_at) \
         VALUES ($1, $2, $3, $4, 'processing', $5, $6, $7, $8, $9)",
    )
    .bind(v.id.as_str())
    .bind(v.account_id.as_str())
    .bind(v.caption.as_str())
    .bind(v.visibility.as_str())
    .bind(v.region)
    .bind(v.original_key)
    .bind(v.original_bytes)
    .bind(v.original_name)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for tag in kinora_core::text::hashtags(v.caption.as_str()) {
        sqlx::query("INSERT INTO video_tags (video_id, tag, created_at) VALUES ($1, $2, $3) ON CONFLICT (video_id, tag) DO NOTHING")
            .bind(v.id.as_str())
            .bind(tag)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    for u in kinora_core::text::mentions(v.caption.as_str()) {
        // Who is mentioned sees the notification only while they may see the video
        // (checked when notifications are read).
        sqlx::query(
            "INSERT INTO notifications (id, account_id, kind, actor_id, video_id, comment_id, created_at) \
             SELECT $1, a.id, 'mention', $2, $3, NULL, $4 FROM accounts a WHERE a.username = $5 AND a.id <> $2",
        )
        .bind(Id::generate().as_str())
        .bind(v.account_id.as_str())
        .bind(v.id.as_str())
        .bind(now)
        .bind(u.as_str())
        .execute(&mut **tx)
        .await?;
    }
    enqueue_in(tx, JobKind::Transcode, Some(v.account_id), &serde_json::json!({ "video_id": v.id.as_str() })).await?;
    Ok(())
}

/// What became of a finished transcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The video is ready.
    Published,
    /// The worker lost its lease; the new holder publishes.
    LostLease,
    /// The video was deleted while it was processing: nothing was published, the
    /// job is done, and the caller removes the objects it wrote.
    Deleted,
}

impl VideoRepo for Db {
    async fn create_video(&self, v: NewVideo<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        ingest_in(&mut tx, &v).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn video_by_id(&self, id: &Id) -> Result<Option<VideoRow>> {
        let r = sqlx::query(&format!(
            "SELECT {COLS} FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.id = $1 AND v.deleted_at IS NULL AND a.erase_at IS NULL"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(row).transpose()
    }

    async fn media_objects(&self, video: &Id) -> Result<Vec<MediaObject>> {
        let rows = sqlx::query(
            "SELECT name, object_key, mime, width, height, bitrate, bytes, sha256 FROM media_objects \
             WHERE video_id = $1 ORDER BY height * width DESC, name",
        )
        .bind(video.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(media_object).collect()
    }

    async fn media_objects_for(&self, videos: &[Id]) -> Result<std::collections::HashMap<Id, Vec<MediaObject>>> {
        let mut out: std::collections::HashMap<Id, Vec<MediaObject>> = std::collections::HashMap::new();
        if videos.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT video_id, name, object_key, mime, width, height, bitrate, bytes, sha256 FROM media_objects \
             WHERE video_id IN ({}) ORDER BY video_id, height * width DESC, name",
            crate::sql::placeholders(1, videos.len())
        );
        let mut q = sqlx::query(&sql);
        for v in videos {
            q = q.bind(v.as_str());
        }
        for r in q.fetch_all(self.pool()).await? {
            out.entry(Id::from_trusted(col(&r, "video_id")?)).or_default().push(media_object(&r)?);
        }
        Ok(out)
    }

    async fn video_with_object(&self, video: &Id, name: &str) -> Result<Option<(VideoRow, MediaObject)>> {
        let r = sqlx::query(&format!(
            "SELECT {COLS}, m.name, m.object_key, m.mime, m.width AS m_width, m.height AS m_height, m.bitrate, \
               m.bytes, m.sha256 \
             FROM videos v JOIN accounts a ON a.id = v.account_id JOIN media_objects m ON m.video_id = v.id \
             WHERE v.id = $1 AND m.name = $2 AND v.deleted_at IS NULL AND a.erase_at IS NULL"
        ))
        .bind(video.as_str())
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = r else { return Ok(None) };
        let o = MediaObject {
            name: col(&r, "name")?,
            object_key: col(&r, "object_key")?,
            mime: col(&r, "mime")?,
            width: col(&r, "m_width")?,
            height: col(&r, "m_height")?,
            bitrate: col(&r, "bitrate")?,
            bytes: col(&r, "bytes")?,
            sha256: col(&r, "sha256")?,
        };
        Ok(Some((row(&r)?, o)))
    }

    async fn publish_video(&self, video: &Id, job: &str, worker: &str, media: Published<'_>) -> Result<PublishOutcome> {
        let Published { duration_ms, width, height, objects } = media;
        let mut tx = self.begin_write().await?;
        // Erased while we worked (the video row and its job are gone): never
        // published, and the caller removes what it wrote.
        let exists = sqlx::query("SELECT id FROM videos WHERE id = $1").bind(video.as_str()).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            tx.commit().await?;
            return Ok(PublishOutcome::Deleted);
        }
        if !finish(&mut *tx, job, worker, "done", None, None).await? {
            // Lost the lease: another worker owns this job now.
            tx.rollback().await?;
            return Ok(PublishOutcome::LostLease);
        }
        // A deleted video is never published. (Deleting takes the same row lock on
        // PostgreSQL and the write lock on SQLite, so the two cannot interleave.)
        let live = sqlx::query("UPDATE videos SET status = status WHERE id = $1 AND deleted_at IS NULL").bind(video.as_str()).execute(&mut *tx).await?;
        if live.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(PublishOutcome::Deleted);
        }
        sqlx::query("DELETE FROM media_objects WHERE video_id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        for o in objects {
            sqlx::query(
                "INSERT INTO media_objects (video_id, name, object_key, mime, width, height, bitrate, bytes, sha256) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(video.as_str())
            .bind(&o.name)
            .bind(&o.object_key)
            .bind(&o.mime)
            .bind(o.width)
            .bind(o.height)
            .bind(o.bitrate)
            .bind(o.bytes)
            .bind(&o.sha256)
            .execute(&mut *tx)
            .await?;
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE videos SET status = 'ready', error_code = NULL, error_message = NULL, duration_ms = $1, \
               width = $2, height = $3, ready_at = COALESCE(ready_at, $4) \
             WHERE id = $5",
        )
        .bind(duration_ms)
        .bind(width)
        .bind(height)
        .bind(now)
        .bind(video.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PublishOutcome::Published)
    }

    async fn fail_video(&self, video: &Id, job: &str, worker: &str, code: &str, message: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !finish(&mut *tx, job, worker, "failed", None, Some(message)).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("UPDATE videos SET status = 'failed', error_code = $1, error_message = $2 WHERE id = $3")
            .bind(code)
            .bind(message)
            .bind(video.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_video(&self, video: &Id) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Deleted means deleted: the words go at once (caption, file name, error
        // text, hashtags and with the caption the search index entry); the row stays
        // as a tombstone for the purge job and goes with the retention sweep.
        let r = sqlx::query("UPDATE videos SET deleted_at = $1, caption = '', original_name = '', error_message = NULL WHERE id = $2 AND deleted_at IS NULL")
            .bind(now_ms())
            .bind(video.as_str())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(DbError::NotFound);
        }
        sqlx::query("DELETE FROM video_tags WHERE video_id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        enqueue_in(&mut tx, JobKind::PurgeVideo, None, &serde_json::json!({ "video_id": video.as_str() })).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deleted_video_region(&self, video: &Id) -> Result<Option<String>> {
        let r = sqlx::query("SELECT region FROM videos WHERE id = $1 AND deleted_at IS NOT NULL").bind(video.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(|r| col(r, "region")).transpose()
    }

    async fn video_deleted(&self, video: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM videos WHERE id = $1 AND deleted_at IS NULL").bind(video.as_str()).fetch_optional(self.pool()).await?;
        Ok(r.is_none())
    }

    async fn account_videos(&self, account: &Id, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<VideoRow>> {
        let (k, id) = cursor_parts(after);
        let sql = format!(
            "SELECT {COLS} FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.account_id = $1 AND {vis} AND (v.created_at, v.id) < ($3, $4) \
             ORDER BY v.created_at DESC, v.id DESC LIMIT $5",
            vis = visible_to(2)
        );
        let rows =
            sqlx::query(&sql).bind(account.as_str()).bind(viewer.map(|v| v.as_str().to_owned())).bind(k).bind(id).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    async fn following_feed(&self, viewer: &Id, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<VideoRow>> {
        let (k, id) = cursor_parts(after);
        let sql = format!(
            "SELECT {COLS} FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.status = 'ready' AND (v.account_id IN (SELECT followee_id FROM follows \
                 WHERE follower_id = $1 AND state = 'accepted') \
               OR v.id IN (SELECT t.video_id FROM video_tags t JOIN tag_follows tf ON tf.tag = t.tag \
                 WHERE tf.account_id = $1)) \
               AND v.account_id <> $1 AND {vis} AND {muted} AND (v.created_at, v.id) < ($2, $3) \
             ORDER BY v.created_at DESC, v.id DESC LIMIT $4",
            vis = visible_to(1),
            muted = not_muted(1)
        );
        let rows = sqlx::query(&sql).bind(viewer.as_str()).bind(k).bind(id).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    async fn reprocessable_videos(&self) -> Result<Vec<Id>> {
        let rows =
            sqlx::query("SELECT id FROM videos WHERE deleted_at IS NULL AND status IN ('ready', 'failed') ORDER BY created_at").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "id")?))).collect()
    }

    async fn video_exists(&self, id: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM videos WHERE id = $1").bind(id.as_str()).fetch_optional(self.pool()).await?;
        Ok(r.is_some())
    }

    async fn count_videos(&self, status: VideoStatus) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM videos WHERE status = $1 AND deleted_at IS NULL").bind(status.as_str()).fetch_one(self.pool()).await?;
        col(&r, "n")
    }
}

pub(crate) fn cursor_parts(c: Option<&FeedCursor>) -> (i64, String) {
    match c {
        Some(c) => (c.key, c.id.clone()),
        // Above every real key: ids are base64url, which sorts below '~'.
        None => (i64::MAX, "~".to_owned()),
    }
}

impl Db {
    /// Bytes an account's videos take in storage: originals and renditions of
    /// videos not deleted.
    pub async fn stored_bytes(&self, account: &kinora_core::Id) -> Result<i64> {
        let a = sqlx::query("SELECT CAST(COALESCE(SUM(original_bytes), 0) AS BIGINT) AS n FROM videos WHERE account_id = $1 AND deleted_at IS NULL")
            .bind(account.as_str())
            .fetch_one(self.pool())
            .await?;
        let b = sqlx::query("SELECT CAST(COALESCE(SUM(m.bytes), 0) AS BIGINT) AS n FROM media_objects m JOIN videos v ON v.id = m.video_id WHERE v.account_id = $1 AND v.deleted_at IS NULL")
            .bind(account.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(col::<i64>(&a, "n")?.saturating_add(col::<i64>(&b, "n")?))
    }
}

impl Db {
    /// Removes the tombstones of videos and comments deleted before `before` (ms):
    /// their words went at deletion; this removes the rest (ids, times, counts).
    /// A video waits until its purge job is no longer pending. Returns (videos,
    /// comments) removed.
    pub async fn forget_deleted_content(&self, before: i64) -> Result<(u64, u64)> {
        let c = sqlx::query("DELETE FROM comments WHERE deleted_at IS NOT NULL AND deleted_at < $1").bind(before).execute(self.pool()).await?.rows_affected();
        let v = sqlx::query(
            "DELETE FROM videos WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
               AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.status IN ('queued', 'running') AND j.payload LIKE '%' || videos.id || '%')",
        )
        .bind(before)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((v, c))
    }
}

impl Db {
    /// Videos by id (not deleted, of accounts not being erased), in one query.
    pub async fn videos_by_ids(&self, ids: &[Id]) -> Result<std::collections::HashMap<Id, VideoRow>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!(
            "SELECT {COLS} FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.deleted_at IS NULL AND a.erase_at IS NULL AND v.id IN ({})",
            crate::sql::placeholders(1, ids.len())
        );
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool()).await?.iter().map(|r| row(r).map(|v| (v.id.clone(), v))).collect()
    }
}
