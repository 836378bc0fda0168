//! What the database says is stored where: every object of every account with its
//! home region, for the residency check; and the tables that exist, for the
//! personal-data registry's completeness test.

use crate::{col, Backend, Db, Result};
use kinora_core::Id;

/// An object the database knows.
#[derive(Debug, Clone)]
pub struct KnownObject {
    pub account: Id,
    /// The account's (or video's) home region.
    pub home: String,
    pub key: String,
    /// `originals`, `media`, `avatars` or `exports`.
    pub kind: String,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    /// It belongs to a deleted video (its purge may be pending).
    pub deleted: bool,
}

impl Db {
    /// Every object the database knows of: originals, media objects, avatars.
    pub async fn known_objects(&self) -> Result<Vec<KnownObject>> {
        let rows = sqlx::query(
            "SELECT v.account_id AS account, v.region AS home, v.original_key AS k, 'originals' AS kind, \
               v.original_bytes AS bytes, CAST(NULL AS TEXT) AS sha, CASE WHEN v.deleted_at IS NULL THEN 0 ELSE 1 END AS deleted \
             FROM videos v \
             UNION ALL SELECT v.account_id, v.region, m.object_key, 'media', m.bytes, m.sha256, \
               CASE WHEN v.deleted_at IS NULL THEN 0 ELSE 1 END FROM media_objects m JOIN videos v ON v.id = m.video_id \
             UNION ALL SELECT a.id, a.region, a.avatar_key, 'avatars', CAST(NULL AS BIGINT), CAST(NULL AS TEXT), 0 \
             FROM accounts a WHERE a.avatar_key IS NOT NULL \
             UNION ALL SELECT e.account_id, e.region, e.object_key, 'exports', e.bytes, CAST(NULL AS TEXT), 0 \
             FROM exports e WHERE e.object_key IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KnownObject {
                    account: Id::from_trusted(col(r, "account")?),
                    home: col(r, "home")?,
                    key: col(r, "k")?,
                    kind: col(r, "kind")?,
                    bytes: col(r, "bytes")?,
                    sha256: col(r, "sha")?,
                    deleted: col::<i64>(r, "deleted")? != 0,
                })
            })
            .collect()
    }

    /// The tables of the schema (for SQLite, without full-text indexes' shadow tables).
    pub async fn tables(&self) -> Result<Vec<String>> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name NOT LIKE '%_fts_%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_type = 'BASE TABLE' ORDER BY table_name"
            }
        };
        let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
        rows.iter().map(|r| col(r, "t")).collect()
    }

    /// Every text column of the schema: (table, column), without full-text
    /// indexes and the migration bookkeeping.
    pub async fn text_columns(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for t in self.tables().await? {
            if t.ends_with("_fts") || t == "schema_migrations" {
                continue;
            }
            let rows = match self.backend() {
                Backend::Sqlite => sqlx::query(&format!("SELECT name AS c, type AS ty FROM pragma_table_info('{t}')")).fetch_all(self.pool()).await?,
                Backend::Postgres => {
                    sqlx::query("SELECT CAST(column_name AS TEXT) AS c, CAST(data_type AS TEXT) AS ty FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()")
                        .bind(&t)
                        .fetch_all(self.pool())
                        .await?
                }
            };
            for r in &rows {
                let ty: String = col(r, "ty")?;
                if ty.eq_ignore_ascii_case("text") {
                    out.push((t.clone(), col(r, "c")?));
                }
            }
        }
        Ok(out)
    }
}
