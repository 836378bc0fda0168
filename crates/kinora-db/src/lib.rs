//! Kinora's storage layer.
//!
//! [`Db`] holds a connection pool for either backend: SQLite (the embedded default,
//! WAL mode) or PostgreSQL (scale-out). Capabilities are small traits
//! ([`AccountRepo`], [`TokenRepo`], [`VideoRepo`], [`UploadRepo`], [`JobQueue`]) implemented by
//! [`Db`] for both backends. The SQL is written once in the common subset of the two
//! dialects (`$n` placeholders, BIGINT millisecond times, TEXT ids); the few places
//! that differ (`FOR UPDATE SKIP LOCKED`) branch on [`Backend`]. Each backend has its
//! own migrations under `migrations/<backend>/`, applied at start by [`Db::migrate`].

mod accounts;
pub mod backup;
mod comments;
mod erasure;
mod exports;
mod follows;
mod instance_keys;
mod intents;
mod jobs;
mod likes;
mod migrate;
mod moderation;
mod notifications;
mod recommend;
mod reports;
mod residency;
mod search;
mod sql;
mod tags;
mod tokens;
mod translog;
mod uploads;
mod videos;
pub mod visibility;
pub use exports::{ExportRow, ExportStatus, PersonalData};
pub use moderation::{ActionRow, Effect, NewAction, ReportRow};
pub use recommend::{synthetic_viewer, RecEvent, RecEventKind, RecVideo, Subset, Synthetic};
pub use residency::KnownObject;
pub use translog::{LogAppend, StaffRow};

pub use accounts::{AccountRepo, AccountRow, NewAccount, PasswordHash};
pub use comments::CommentRow;
pub use follows::FollowState;
pub use jobs::{Job, JobKind, JobQueue};
pub use likes::VideoStats;
pub use notifications::{NotificationKind, NotificationRow};
pub use reports::NewReport;
pub use tokens::{TokenKind, TokenRepo, TokenRow};
pub use uploads::{UploadRepo, UploadRow, UploadState};
pub use videos::{FeedCursor, MediaObject, NewVideo, PublishOutcome, Published, VideoRepo, VideoRow};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint was violated (e.g. a taken username).
    #[error("already exists")]
    Conflict,
    /// The row does not exist.
    #[error("not found")]
    NotFound,
    #[error("database: {0}")]
    Sqlx(sqlx::Error),
    #[error("migration {version}: {source}")]
    Migration { version: String, source: sqlx::Error },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    BadUrl(String),
    #[error("this kinora was built without {0} support (cargo feature `{1}`)")]
    NotBuiltIn(&'static str, &'static str),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.is_unique_violation() {
                return DbError::Conflict;
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return DbError::NotFound;
        }
        DbError::Sqlx(e)
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// A pool on one backend; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`). SQLite files are
    /// created if missing and run in WAL mode with a busy timeout.
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::BadUrl(url.to_owned()));
        };
        match backend {
            Backend::Sqlite if !cfg!(feature = "sqlite") => return Err(DbError::NotBuiltIn("SQLite", "sqlite")),
            Backend::Postgres if !cfg!(feature = "postgres") => return Err(DbError::NotBuiltIn("PostgreSQL", "postgres")),
            _ => {}
        }
        let opts = AnyConnectOptions::from_str(url)?;
        let pool_opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30)).max_connections(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let pool_opts = if backend == Backend::Sqlite {
            pool_opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                         PRAGMA foreign_keys=ON; PRAGMA busy_timeout=15000; PRAGMA secure_delete=ON;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            pool_opts
        };
        let pool = pool_opts.connect_with(opts).await?;
        Ok(Db { pool, backend })
    }

    /// The SQLite URL for a file path.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock at `BEGIN IMMEDIATE`:
    /// a deferred transaction that reads and then writes fails at once with
    /// SQLITE_BUSY_SNAPSHOT (517) when another writer committed in between, and
    /// busy_timeout cannot help it. PostgreSQL needs no such care.
    pub async fn begin_write(&self) -> std::result::Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool().begin().await,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations for this backend.
    pub async fn migrate(&self) -> Result<()> {
        migrate::run(self).await
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Reads a column, mapping errors into [`DbError`].
/// A column holding a member of a closed set (`kinora_core::closed_set!`); a value
/// outside the set is a decode error, never a silent default.
pub(crate) fn closed<T>(row: &sqlx::any::AnyRow, name: &str) -> Result<T>
where
    T: std::str::FromStr<Err = kinora_core::closed::NotInSet>,
{
    let s: String = col(row, name)?;
    s.parse().map_err(|e: kinora_core::closed::NotInSet| DbError::Sqlx(sqlx::Error::ColumnDecode { index: name.to_owned(), source: Box::new(e) }))
}

pub(crate) fn col<'r, T>(row: &'r sqlx::any::AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    Ok(row.try_get::<T, _>(name)?)
}
