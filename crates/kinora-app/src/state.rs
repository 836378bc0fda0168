//! The application's state: everything services need, with no HTTP in it.

use crate::config::Config;
pub use crate::limits::Limiters;
use kinora_db::Db;
use kinora_media::Tools;
use kinora_store::Regions;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;

/// Everything a service needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) db: Db,
    pub(crate) regions: Regions,
    pub(crate) config: Arc<Config>,
    pub(crate) tools: Tools,
    /// Wakes a worker when a job is enqueued.
    pub(crate) wake: Arc<Notify>,
    pub(crate) limiters: Arc<Limiters>,
    /// Absolute base URL, no trailing slash.
    pub(crate) base_url: String,
    /// A real argon2 hash, verified against when the username is unknown so both
    /// failures take the same time.
    pub(crate) dummy_hash: Arc<String>,
    /// ffmpeg/ffprobe run in an empty network namespace (checked at start).
    pub(crate) isolate_network: bool,
    /// ffmpeg/ffprobe run as this user (nobody) when the server runs as root.
    pub(crate) sandbox_user: Option<(u32, u32)>,
    /// Resumable uploads with a request in flight on this node.
    pub(crate) busy_uploads: Arc<crate::uploads::Busy>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub(crate) proxies: Arc<kinora_core::net::TrustedProxies>,
    /// Bounded argon2 work.
    pub(crate) passwords: Arc<crate::passwords::Passwords>,
    /// Profile-picture transcodes running at once (they run inside requests).
    pub(crate) avatar_slots: Arc<tokio::sync::Semaphore>,
    /// The key of the erasure journal's keyed hashes (`<data>/keys/journal.key`,
    /// never part of a backup).
    pub(crate) journal_key: Arc<[u8; 32]>,
    /// Per-account backup keys and the erasure journal (`<data>/keys/`).
    pub(crate) keys: Arc<crate::keystore::KeyStore>,
    /// The transparency log of staff access.
    pub(crate) log: Arc<crate::transparency::Log>,
    /// For You's online model (loaded lazily, then kept current by `recommend::poll_loop`).
    pub(crate) recommender: Arc<crate::recommend::Recommender>,
}

/// What the HTTP layer may read of the state; everything else is reached through
/// the services, so no handler holds the database.
impl AppState {
    /// The configuration, read-only.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Absolute base URL, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether the instance is served over HTTPS (cookies are then `Secure`).
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// The client's address: `peer`, or what a trusted proxy says in `X-Forwarded-For`.
    pub fn client_ip(&self, peer: std::net::IpAddr, forwarded_for: &[&str]) -> std::net::IpAddr {
        self.proxies.client(peer, forwarded_for)
    }

    /// The general write limit per client address (checked before anything else).
    pub fn limit_writes_from(&self, address_key: String) -> crate::AppResult<()> {
        Limiters::limit(&self.limiters.writes_ip, address_key)
    }

    /// The general write limit per signed-in account.
    pub fn limit_writes_by(&self, account: &kinora_core::Id) -> crate::AppResult<()> {
        Limiters::limit(&self.limiters.writes_account, account.to_string())
    }

    /// Regions whose store is failing: (region, since, last error).
    pub fn failing_regions(&self) -> Vec<(String, i64, String)> {
        self.regions.failing()
    }

    pub fn data_dir(&self) -> &PathBuf {
        &self.config.server.data
    }

    /// Gives a file in a scratch directory to the sandbox user, who reads it: files
    /// Kinora writes are private to its own user (umask 077, see
    /// [`private_files`]).
    pub async fn hand_to_sandbox(&self, path: &std::path::Path) -> std::io::Result<()> {
        if let Some((uid, gid)) = self.sandbox_user {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        Ok(())
    }

    /// A scratch directory for one subprocess job, writable by the sandbox user.
    pub async fn scratch_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.data_dir().join("work").join(name);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir).await?;
        if let Some((uid, gid)) = self.sandbox_user {
            use std::os::unix::fs::PermissionsExt;
            // `work/` (made 0700 like every directory) is passable, not listable,
            // by the sandbox user.
            std::fs::set_permissions(self.data_dir().join("work"), std::fs::Permissions::from_mode(0o711))?;
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        Ok(dir)
    }
}

impl AppState {
    /// Opens everything: the data directory, the database (migrated), the region
    /// stores, the media tools' sandbox. `addr` is where the server listens, for
    /// the default base URL.
    pub async fn open(c: Config, addr: Option<std::net::SocketAddr>) -> anyhow::Result<AppState> {
        Self::open_with(c, addr, crate::keys::KeyMode::MayCreate).await
    }

    /// [`AppState::open`] for read-only commands: never makes keys.
    pub async fn open_existing(c: Config) -> anyhow::Result<AppState> {
        Self::open_with(c, None, crate::keys::KeyMode::MustExist).await
    }

    /// Opens everything, checking the key directory against the instance's record
    /// first ([`crate::keys::check`]).
    pub async fn open_with(mut c: Config, addr: Option<std::net::SocketAddr>, mode: crate::keys::KeyMode) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&c.server.data)?;
        // Absolute from here on: subprocesses run inside job directories, where a
        // relative path (the default `./kinora-data`) would point somewhere else.
        c.server.data = std::fs::canonicalize(&c.server.data).map_err(|e| anyhow::anyhow!("data directory {}: {e}", c.server.data.display()))?;
        let db = Db::connect(&c.database_url()).await?;
        db.migrate().await?;
        let regions = regions(&c)?;
        let base_url = if !c.server.base_url.is_empty() {
            c.server.base_url.trim_end_matches('/').to_owned()
        } else {
            format!("http://{}", addr.map(|a| a.to_string()).unwrap_or_else(|| c.server.listen.clone()))
        };
        let isolate_network = c.media.isolate_network && kinora_media::process::network_isolation_available().await;
        if c.media.isolate_network && !isolate_network {
            tracing::warn!("cannot give ffmpeg an empty network namespace here (needs root); relying on its protocol whitelist");
        }
        let sandbox_user = kinora_media::process::sandbox_user();
        if sandbox_user.is_some() {
            protect_data_dir(&c.server.data)?;
        }
        let proxies = kinora_core::net::TrustedProxies::parse(&c.server.trusted_proxies).map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))?;
        let passwords = crate::passwords::Passwords::new(c.auth.max_concurrent_password_checks, std::time::Duration::from_secs(5));
        let dummy_hash = passwords.hash("not-a-real-password".into()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let keys_dir = c.keys_dir();
        crate::keys::check(&db, &keys_dir, &crate::transparency::origin(&base_url), mode).await?;
        let keys = crate::keystore::KeyStore::open(&keys_dir)?;
        let mirror = regions.get(regions.backup.as_deref().unwrap_or(&regions.primary))?.clone();
        let log = crate::transparency::Log::open(&db, &keys_dir, &crate::transparency::origin(&base_url), Some(mirror)).await?;
        Ok(AppState {
            db,
            limiters: Arc::new(Limiters::new(&c.rate_limits, &c.uploads)),
            tools: Tools { ffmpeg: c.media.ffmpeg.clone(), ffprobe: c.media.ffprobe.clone() },
            regions,
            wake: Arc::new(Notify::new()),
            base_url,
            dummy_hash: Arc::new(dummy_hash),
            isolate_network,
            sandbox_user,
            busy_uploads: Arc::new(crate::uploads::Busy::default()),
            proxies: Arc::new(proxies),
            passwords: Arc::new(passwords),
            avatar_slots: Arc::new(tokio::sync::Semaphore::new(2)),
            journal_key: Arc::new(load_or_create_key(&keys_dir.join("journal.key"))?),
            keys: Arc::new(keys),
            log: Arc::new(log),
            recommender: Arc::new(crate::recommend::Recommender::default()),
            config: Arc::new(c),
        })
    }
}

/// A 32-byte secret kept in a file only the server's user can read; made on first use.
fn load_or_create_key(path: &std::path::Path) -> anyhow::Result<[u8; 32]> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Ok(bytes) = std::fs::read(path) {
        return bytes.try_into().map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let key: [u8; 32] = rand::random();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    std::io::Write::write_all(&mut f, &key)?;
    f.sync_all()?;
    Ok(key)
}

/// When running as root, media tools run as `nobody`: they may pass through the
/// data directory to their own scratch directory, and read nothing else in it (the
/// database, region stores, uploads in flight).
fn protect_data_dir(data: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &std::path::Path, mode: u32| -> anyhow::Result<()> {
        if p.exists() {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        }
        Ok(())
    };
    set(data, 0o711)?;
    std::fs::create_dir_all(data.join("work"))?;
    set(&data.join("work"), 0o711)?;
    for private in ["regions", "uploads", "staging"] {
        std::fs::create_dir_all(data.join(private))?;
        set(&data.join(private), 0o700)?;
    }
    for db in ["kinora.sqlite3", "kinora.sqlite3-wal", "kinora.sqlite3-shm"] {
        set(&data.join(db), 0o600)?;
    }
    Ok(())
}

/// Every directory Kinora creates is 0700 and every file 0600 (umask 077), for
/// the data directory and `file://` regions alike, whichever library creates them:
/// nobody else on the machine — the `nobody` user ffmpeg runs as included — reads
/// an original, a key, an export or a legal-request archive. Called first thing by
/// every command.
#[allow(unsafe_code)]
pub fn private_files() {
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// The configured regions, opened (no database, no keys).
pub fn regions(c: &Config) -> anyhow::Result<Regions> {
    let backup = Some(c.residency.backup.as_str()).filter(|b| !b.is_empty());
    Ok(Regions::open(&c.server.data, &c.region_specs(), &c.residency.primary, backup)?)
}
