//! Which keys an instance was made with: their ids, never the keys.

use crate::{col, now_ms, Db, Result};

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
