//! Data downloads: the `exports` table, and everything the database holds about one
//! account, gathered for its archive (stable field names: they are documented in
//! docs/data-export.md and read back by `kinora import`).

use crate::{col, now_ms, Db, Result};
use kinora_core::Id;
use serde_json::{json, Value};

kinora_core::closed_set! {
    /// Where an export is.
    pub enum ExportStatus {
        Pending = "pending",
        Ready = "ready",
        Failed = "failed",
    }
}

/// A stored export.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: Id,
    pub account_id: Id,
    pub status: ExportStatus,
    pub region: String,
    pub object_key: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

const COLS: &str = "id, account_id, status, region, object_key, bytes, error, created_at, expires_at";

fn row(r: &sqlx::any::AnyRow) -> Result<ExportRow> {
    Ok(ExportRow {
        id: Id::from_trusted(col(r, "id")?),
        account_id: Id::from_trusted(col(r, "account_id")?),
        status: ExportStatus::parse(&col::<String>(r, "status")?).unwrap_or(ExportStatus::Failed),
        region: col(r, "region")?,
        object_key: col(r, "object_key")?,
        bytes: col(r, "bytes")?,
        error: col(r, "error")?,
        created_at: col(r, "created_at")?,
        expires_at: col(r, "expires_at")?,
    })
}

/// Rows of a query as JSON objects with the given `(column, field)` names; integer
/// columns listed in `ints`, flags (0/1) in `flags`, times (ms) in `times`.
async fn objects(db: &Db, sql: &str, account: &Id, fields: &[(&str, &str)], kinds: &[(&str, char)]) -> Result<Vec<Value>> {
    let rows = sqlx::query(sql).bind(account.as_str()).fetch_all(db.pool()).await?;
    let kind = |c: &str| kinds.iter().find(|(k, _)| *k == c).map(|(_, t)| *t).unwrap_or('s');
    rows.iter()
        .map(|r| {
            let mut o = serde_json::Map::new();
            for (c, name) in fields {
                let v = match kind(c) {
                    'i' => json!(col::<Option<i64>>(r, c)?),
                    'b' => json!(col::<Option<i64>>(r, c)?.map(|n| n != 0)),
                    't' => json!(col::<Option<i64>>(r, c)?.map(rfc3339)),
                    _ => json!(col::<Option<String>>(r, c)?),
                };
                o.insert((*name).to_owned(), v);
            }
            Ok(Value::Object(o))
        })
        .collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Everything about an account, by file of its archive.
#[derive(Debug, Clone, Default)]
pub struct PersonalData {
    pub account: Value,
    pub videos: Vec<Value>,
    pub comments: Vec<Value>,
    pub likes: Vec<Value>,
    pub following: Vec<Value>,
    pub followers: Vec<Value>,
    pub blocks: Vec<Value>,
    pub mutes: Vec<Value>,
    pub notifications: Vec<Value>,
    pub watch_history: Vec<Value>,
    pub reports: Vec<Value>,
    pub hashtags_followed: Vec<Value>,
}

impl Db {
    pub async fn create_export(&self, id: &Id, account: &Id, region: &str) -> Result<()> {
        sqlx::query("INSERT INTO exports (id, account_id, status, region, created_at) VALUES ($1, $2, 'pending', $3, $4)")
            .bind(id.as_str())
            .bind(account.as_str())
            .bind(region)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn export_by_id(&self, id: &Id) -> Result<Option<ExportRow>> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM exports WHERE id = $1")).bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(row).transpose()
    }

    /// The account's exports, whatever their state.
    pub async fn exports_of(&self, account: &Id) -> Result<Vec<ExportRow>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM exports WHERE account_id = $1")).bind(account.as_str()).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    /// The account's export that is still being built, if any.
    pub async fn pending_export(&self, account: &Id) -> Result<Option<ExportRow>> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM exports WHERE account_id = $1 AND status = 'pending'"))
            .bind(account.as_str())
            .fetch_optional(self.pool())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn finish_export(&self, id: &Id, key: &str, bytes: i64, expires_at: i64) -> Result<()> {
        sqlx::query("UPDATE exports SET status = 'ready', object_key = $1, bytes = $2, expires_at = $3 WHERE id = $4")
            .bind(key)
            .bind(bytes)
            .bind(expires_at)
            .bind(id.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn fail_export(&self, id: &Id, error: &str) -> Result<()> {
        sqlx::query("UPDATE exports SET status = 'failed', error = $1 WHERE id = $2").bind(error).bind(id.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    /// Ready exports whose time is up.
    pub async fn expired_exports(&self) -> Result<Vec<ExportRow>> {
        let rows =
            sqlx::query(&format!("SELECT {COLS} FROM exports WHERE status = 'ready' AND expires_at <= $1")).bind(now_ms()).fetch_all(self.pool()).await?;
        rows.iter().map(row).collect()
    }

    pub async fn delete_export(&self, id: &Id) -> Result<()> {
        sqlx::query("DELETE FROM exports WHERE id = $1").bind(id.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    /// A notification from the system to an account about itself (an export is
    /// ready): the actor is the account.
    pub async fn notify_self(&self, account: &Id, kind: crate::NotificationKind) -> Result<()> {
        sqlx::query("INSERT INTO notifications (id, account_id, kind, actor_id, created_at) VALUES ($1, $2, $3, $2, $4)")
            .bind(Id::generate().as_str())
            .bind(account.as_str())
            .bind(kind.as_str())
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Everything the database holds about an account.
    pub async fn personal_data(&self, account: &Id) -> Result<PersonalData> {
        let t = |c| (c, 't');
        let i = |c| (c, 'i');
        let b = |c| (c, 'b');
        let acct = objects(
            self,
            "SELECT id, username, display_name, bio, email, region, private, likes_public, created_at FROM accounts WHERE id = $1",
            account,
            &[
                ("id", "id"),
                ("username", "username"),
                ("display_name", "display_name"),
                ("bio", "bio"),
                ("email", "email"),
                ("region", "home_region"),
                ("private", "private"),
                ("likes_public", "likes_public"),
                ("created_at", "created_at"),
            ],
            &[b("private"), b("likes_public"), t("created_at")],
        )
        .await?;
        Ok(PersonalData {
            account: acct.into_iter().next().unwrap_or(Value::Null),
            videos: objects(
                self,
                "SELECT id, caption, visibility, comments_setting, status, duration_ms, width, height, original_name, original_bytes, \
                   likes, comments, views, shares, region, created_at FROM videos WHERE account_id = $1 AND deleted_at IS NULL ORDER BY created_at",
                account,
                &[("id", "id"), ("caption", "caption"), ("visibility", "visibility"), ("comments_setting", "comments"), ("status", "status"),
                  ("duration_ms", "duration_ms"), ("width", "width"), ("height", "height"), ("original_name", "original_name"),
                  ("original_bytes", "original_bytes"), ("likes", "likes"), ("comments", "comment_count"), ("views", "views"),
                  ("shares", "shares"), ("region", "region"), ("created_at", "created_at")],
                &[i("duration_ms"), i("width"), i("height"), i("original_bytes"), i("likes"), i("comments"), i("views"), i("shares"), t("created_at")],
            )
            .await?,
            comments: objects(
                self,
                "SELECT id, video_id, reply_to, body, created_at FROM comments WHERE account_id = $1 AND deleted_at IS NULL ORDER BY created_at",
                account,
                &[("id", "id"), ("video_id", "video_id"), ("reply_to", "reply_to"), ("body", "text"), ("created_at", "created_at")],
                &[t("created_at")],
            )
            .await?,
            likes: objects(self, "SELECT video_id, created_at FROM likes WHERE account_id = $1 ORDER BY created_at", account,
                &[("video_id", "video_id"), ("created_at", "created_at")], &[t("created_at")]).await?,
            following: objects(
                self,
                "SELECT a.username, f.state, f.created_at, f.via_video_id AS from_video FROM follows f JOIN accounts a ON a.id = f.followee_id WHERE f.follower_id = $1 ORDER BY f.created_at",
                account,
                &[("username", "username"), ("state", "state"), ("created_at", "created_at"), ("from_video", "from_video")],
                &[t("created_at")],
            )
            .await?,
            followers: objects(
                self,
                "SELECT a.username, f.state, f.created_at FROM follows f JOIN accounts a ON a.id = f.follower_id WHERE f.followee_id = $1 ORDER BY f.created_at",
                account,
                &[("username", "username"), ("state", "state"), ("created_at", "created_at")],
                &[t("created_at")],
            )
            .await?,
            blocks: objects(
                self,
                "SELECT a.username, b.created_at FROM blocks b JOIN accounts a ON a.id = b.blocked_id WHERE b.blocker_id = $1 ORDER BY b.created_at",
                account,
                &[("username", "username"), ("created_at", "created_at")],
                &[t("created_at")],
            )
            .await?,
            mutes: objects(
                self,
                "SELECT a.username, m.created_at FROM mutes m JOIN accounts a ON a.id = m.muted_id WHERE m.muter_id = $1 ORDER BY m.created_at",
                account,
                &[("username", "username"), ("created_at", "created_at")],
                &[t("created_at")],
            )
            .await?,
            notifications: objects(
                self,
                "SELECT n.kind, a.username, n.video_id, n.comment_id, n.created_at, n.read_at FROM notifications n \
                   JOIN accounts a ON a.id = n.actor_id WHERE n.account_id = $1 ORDER BY n.created_at",
                account,
                &[("kind", "kind"), ("username", "actor"), ("video_id", "video_id"), ("comment_id", "comment_id"), ("created_at", "created_at"), ("read_at", "read_at")],
                &[t("created_at"), t("read_at")],
            )
            .await?,
            watch_history: objects(
                self,
                "SELECT video_id, watched_ms, completed, created_at FROM view_events WHERE viewer_id = $1 ORDER BY created_at",
                account,
                &[("video_id", "video_id"), ("watched_ms", "watched_ms"), ("completed", "completed"), ("created_at", "created_at")],
                &[i("watched_ms"), b("completed"), t("created_at")],
            )
            .await?,
            reports: objects(
                self,
                "SELECT id, video_id, comment_id, account_id, reason, details, status, created_at FROM reports WHERE reporter_id = $1 ORDER BY created_at",
                account,
                &[("id", "id"), ("video_id", "video_id"), ("comment_id", "comment_id"), ("account_id", "account_id"), ("reason", "reason"),
                  ("details", "details"), ("status", "status"), ("created_at", "created_at")],
                &[t("created_at")],
            )
            .await?,
            hashtags_followed: objects(self, "SELECT tag, created_at FROM tag_follows WHERE account_id = $1 ORDER BY created_at", account,
                &[("tag", "tag"), ("created_at", "created_at")], &[t("created_at")]).await?,
        })
    }
}

impl Db {
    /// An account's deleted videos and comments still kept as tombstones (their
    /// words are gone): `{"videos": [{id, created_at, deleted_at}], "comments": [...]}`.
    pub async fn deleted_content(&self, account: &kinora_core::Id) -> Result<serde_json::Value> {
        let mut out = serde_json::Map::new();
        for (name, table) in [("videos", "videos"), ("comments", "comments")] {
            let rows =
                sqlx::query(&format!("SELECT id, created_at, deleted_at FROM {table} WHERE account_id = $1 AND deleted_at IS NOT NULL ORDER BY deleted_at"))
                    .bind(account.as_str())
                    .fetch_all(self.pool())
                    .await?;
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| Ok(serde_json::json!({"id": col::<String>(r, "id")?, "created_at": col::<i64>(r, "created_at")?, "deleted_at": col::<Option<i64>>(r, "deleted_at")?})))
                .collect::<Result<_>>()?;
            out.insert(name.to_owned(), serde_json::Value::Array(items));
        }
        Ok(serde_json::Value::Object(out))
    }
}
