//! Object intents: an object this instance is about to write before the row that
//! owns it exists. Start-up cleanup removes only objects named here, never objects
//! merely unknown to the database.

use crate::{col, now_ms, Db, Result};

impl Db {
    /// Records that `key` in `region` is about to be written.
    pub async fn add_object_intent(&self, region: &str, key: &str) -> Result<()> {
        sqlx::query("INSERT INTO object_intents (region, key, created_at) VALUES ($1, $2, $3) ON CONFLICT (region, key) DO NOTHING")
            .bind(region)
            .bind(key)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The object is owned now (or gone): forget the intent.
    pub async fn remove_object_intent(&self, region: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM object_intents WHERE region = $1 AND key = $2").bind(region).bind(key).execute(self.pool()).await?;
        Ok(())
    }

    /// Intents older than `before` (ms): (region, key).
    pub async fn stale_object_intents(&self, before: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT region, key FROM object_intents WHERE created_at < $1 ORDER BY created_at LIMIT 1000")
            .bind(before)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((col(r, "region")?, col(r, "key")?))).collect()
    }
}

impl Db {
    /// The ids of the keys this instance was made with, by name.
    pub async fn instance_key_ids(&self) -> Result<std::collections::HashMap<String, String>> {
        let rows = sqlx::query("SELECT name, key_id FROM instance_keys").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((col(r, "name")?, col(r, "key_id")?))).collect()
    }

    /// Records a new instance's key ids (once: a second process starting a new
    /// instance at the same moment keeps the first record).
    pub async fn record_instance_keys(&self, ids: &[(String, String)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (name, id) in ids {
            sqlx::query("INSERT INTO instance_keys (name, key_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(id)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
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

impl Db {
    /// Accounts scheduled for erasure, with when.
    pub async fn scheduled_erasures(&self) -> Result<Vec<(kinora_core::Id, i64)>> {
        let rows = sqlx::query("SELECT id, erase_at FROM accounts WHERE erase_at IS NOT NULL").fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((kinora_core::Id::from_trusted(col(r, "id")?), col(r, "erase_at")?))).collect()
    }
}
