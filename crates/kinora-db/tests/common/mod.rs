//! What the database tests share: a fresh database on each backend, accounts, videos.
#![allow(clippy::unwrap_used, dead_code)]

use kinora_core::{Caption, Id, Username, Visibility};
use kinora_db::{AccountRepo, AccountRow, Db, NewAccount, NewVideo, VideoRepo};

pub async fn sqlite() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&Db::sqlite_url(&dir.path().join("t.sqlite3"))).await.unwrap();
    db.migrate().await.unwrap();
    (db, dir)
}

/// A fresh database on the PostgreSQL server `scripts/test` started.
pub async fn postgres() -> Db {
    let admin =
        std::env::var("KINORA_TEST_POSTGRES_URL").expect("KINORA_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL");
    let admin_db = Db::connect(&admin).await.unwrap();
    let name = format!("kinora_t_{}_{}", std::process::id(), Id::generate().as_str().to_ascii_lowercase().replace(['-', '_'], "x"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin_db.pool()).await.unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    let db = Db::connect(&format!("{prefix}/{name}")).await.unwrap();
    db.migrate().await.unwrap();
    // Migrating twice is a no-op.
    db.migrate().await.unwrap();
    db
}

pub async fn account(db: &Db, name: &str) -> AccountRow {
    let u = Username::parse(name).unwrap();
    db.create_account(NewAccount { username: &u, email: None, password_hash: "x", region: "local" }).await.unwrap()
}

/// A new public video of `owner` (processing, with its transcode job).
pub async fn video(db: &Db, owner: &Id, caption: &str) -> Id {
    let id = Id::generate();
    db.create_video(new_video(&id, owner, &Caption::parse(caption).unwrap(), Visibility::Public)).await.unwrap();
    id
}

pub fn new_video<'a>(id: &'a Id, owner: &'a Id, caption: &'a Caption, visibility: Visibility) -> NewVideo<'a> {
    NewVideo { id, account_id: owner, caption, visibility, region: "local", original_key: "originals/x", original_bytes: 1, original_name: "x.mp4" }
}

/// A fresh, migrated database on the same backend as `like` (a restore target).
pub async fn fresh_like(like: &Db) -> Db {
    match like.backend() {
        kinora_db::Backend::Sqlite => {
            let (db, dir) = sqlite().await;
            // Kept for the rest of the test process.
            std::mem::forget(dir);
            db
        }
        kinora_db::Backend::Postgres => postgres().await,
    }
}
