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
