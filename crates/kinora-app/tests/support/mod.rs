//! What the in-process service tests share: an instance (the app state on a fresh
//! database, regions in a temporary directory) on SQLite, and on PostgreSQL where
//! `KINORA_TEST_POSTGRES_URL` names a server (`scripts/test` starts one and sets
//! `KINORA_TEST_REQUIRE_POSTGRES`, so there a missing server fails instead of
//! being left out); and fixtures written straight to the database, so no test
//! here needs ffmpeg.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod statements;

use kinora_app::{AppState, Caller, Config};
use kinora_core::{Caption, Id, Username, Visibility};
use kinora_db::{AccountRepo, AccountRow, Db, JobQueue, MediaObject, NewAccount, NewVideo, Published, VideoRepo};

/// An instance: the state services take, a second handle on its database for
/// fixtures, and the directory that holds both.
pub struct Instance {
    pub backend: &'static str,
    pub st: AppState,
    pub db: Db,
    _dir: tempfile::TempDir,
}

fn config(dir: &std::path::Path, database_url: String) -> Config {
    let mut c = Config::default();
    c.server.data = dir.to_path_buf();
    c.server.database_url = database_url;
    c.server.base_url = "http://kinora.test".into();
    c
}

pub async fn sqlite() -> Instance {
    sqlite_with(|_| {}).await
}

/// On SQLite, with a configuration changed by `tweak`.
pub async fn sqlite_with(tweak: impl Fn(&mut Config)) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), String::new());
    tweak(&mut c);
    let st = AppState::open(c, None).await.unwrap();
    let db = Db::connect(&Db::sqlite_url(&dir.path().join("kinora.sqlite3"))).await.unwrap();
    Instance { backend: "sqlite", st, db, _dir: dir }
}

/// A fresh database on the PostgreSQL server named by `KINORA_TEST_POSTGRES_URL`.
pub async fn postgres() -> Option<Instance> {
    postgres_with(|_| {}).await
}

/// On PostgreSQL (where there is one), with a configuration changed by `tweak`.
pub async fn postgres_with(tweak: impl Fn(&mut Config)) -> Option<Instance> {
    let Ok(admin) = std::env::var("KINORA_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("KINORA_TEST_REQUIRE_POSTGRES").is_none(), "KINORA_TEST_REQUIRE_POSTGRES is set but KINORA_TEST_POSTGRES_URL is not");
        return None;
    };
    let admin_db = Db::connect(&admin).await.unwrap();
    let name = format!("kinora_app_{}_{}", std::process::id(), Id::generate().as_str().to_ascii_lowercase().replace(['-', '_'], "x"));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin_db.pool()).await.unwrap();
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{name}");
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), url.clone());
    tweak(&mut c);
    let st = AppState::open(c, None).await.unwrap();
    let db = Db::connect(&url).await.unwrap();
    Some(Instance { backend: "postgres", st, db, _dir: dir })
}

/// Every backend this run has.
pub async fn instances() -> Vec<Instance> {
    instances_with(|_| {}).await
}

/// Every backend this run has, each with a configuration changed by `tweak`.
pub async fn instances_with(tweak: impl Fn(&mut Config)) -> Vec<Instance> {
    let mut out = vec![sqlite_with(&tweak).await];
    out.extend(postgres_with(&tweak).await);
    out
}

impl Instance {
    /// Writes an object into the default region (`<data>/regions/local`).
    pub fn put(&self, key: &str, bytes: &[u8]) {
        let path = self._dir.path().join("regions").join("local").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A public account (no password: these tests call services directly).
    pub async fn account(&self, name: &str) -> AccountRow {
        let u = Username::parse(name).unwrap();
        self.db.create_account(NewAccount { username: &u, email: None, password_hash: "x", region: "local" }).await.unwrap()
    }

    /// The account as a signed-in caller (re-read, so it carries what changed).
    pub async fn caller(&self, a: &AccountRow) -> Caller {
        Caller { account: Some(self.db.account_by_id(&a.id).await.unwrap().unwrap()) }
    }

    /// A public video of `owner`, published as a worker would: a rendition and a poster.
    pub async fn ready_video(&self, owner: &AccountRow, caption: &str) -> Id {
        let id = Id::generate();
        let caption = Caption::parse(caption).unwrap();
        // The bytes too, in the default region (a directory), so exports and
        // erasure find what the rows name.
        let original_key = format!("originals/{id}");
        self.put(&original_key, b"original bytes");
        self.db
            .create_video(NewVideo {
                id: &id,
                account_id: &owner.id,
                caption: &caption,
                visibility: Visibility::Public,
                region: "local",
                original_key: &original_key,
                original_bytes: 1,
                original_name: "x.mp4",
            })
            .await
            .unwrap();
        let job = self.db.claim("fixture", 60_000).await.unwrap().expect("the video's transcode job");
        assert_eq!(job.payload.get("video_id").and_then(|v| v.as_str()), Some(id.as_str()));
        let object = |name: &str, mime: &str| MediaObject {
            name: name.into(),
            object_key: format!("videos/{id}/{name}"),
            mime: mime.into(),
            width: 720,
            height: 1280,
            bitrate: 1_000_000,
            bytes: 1000,
            sha256: "00".repeat(32),
        };
        let objects = [object("720.mp4", "video/mp4"), object("poster.jpg", "image/jpeg")];
        for o in &objects {
            self.put(&o.object_key, b"rendition bytes");
        }
        self.db.publish_video(&id, &job.id, "fixture", Published { duration_ms: 10_000, width: 720, height: 1280, objects: &objects }).await.unwrap();
        id
    }
}
