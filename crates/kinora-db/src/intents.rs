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
        let rows = sqlx::query("SELECT region, key FROM object_intents WHERE created_at < $1 ORDER BY created_at LIMIT 1000").bind(before).fetch_all(self.pool()).await?;
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
