//! A small migrator: each backend's numbered SQL files, embedded in the binary,
//! applied in order inside a transaction and recorded in `schema_migrations`.
//! (sqlx's `migrate!` needs the proc-macro crate, which would compile both drivers a
//! second time; this is the 40 lines we need of it.)

use crate::{Backend, Db, DbError, Result};

struct Migration {
    version: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// The migrations of both backends, in order: `migrations/<backend>/<version>.sql`.
macro_rules! migrations {
    ($($v:literal),* $(,)?) => {
        &[$(Migration {
            version: $v,
            sqlite: include_str!(concat!("../migrations/sqlite/", $v, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $v, ".sql")),
        }),*]
    };
}

const MIGRATIONS: &[Migration] = migrations![
    "0001_core",
    "0002_uploads",
    "0003_social",
    "0004_avatars",
    "0005_likes_public",
    "0006_review",
    "0007_exports",
    "0008_erasure",
    "0009_transparency",
    "0010_moderation",
    "0011_witnesses",
    "0012_redactions",
    "0013_session_origin",
    "0014_recommend",
    "0015_shares",
    "0016_follow_from_video",
    "0017_object_intents",
    "0018_instance_keys",
    "0019_drop_feed_score",
    "0020_tag_pages",
];

pub(crate) async fn run(db: &Db) -> Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)").execute(db.pool()).await?;
    for m in MIGRATIONS {
        let mut tx = db.pool().begin().await?;
        if db.backend() == Backend::Postgres {
            // Serialise concurrent starters (several API nodes) on one lock.
            sqlx::query("SELECT pg_advisory_xact_lock(7212)").execute(&mut *tx).await?;
        }
        let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1").bind(m.version).fetch_optional(&mut *tx).await?;
        if done.is_some() {
            continue;
        }
        let sql = match db.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|source| DbError::Migration { version: m.version.into(), source })?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)").bind(m.version).bind(crate::now_ms()).execute(&mut *tx).await?;
        tx.commit().await?;
        tracing::info!(version = m.version, "applied migration");
    }
    Ok(())
}
