//! Configuration: defaults, then the TOML file (`--config`), then `KINORA_*`
//! environment variables, then command-line flags. `kinora.example.toml` at the
//! repository root documents every key with its default and variable.

use kinora_media::Limits;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub media: Media,
    pub limits: Limits,
    pub rate_limits: RateLimits,
    pub uploads: Uploads,
    pub auth: Auth,
    pub retention: Retention,
    /// Named storage locations. Default: one, `local`, under the data directory.
    pub regions: std::collections::BTreeMap<String, RegionConfig>,
    pub residency: Residency,
    pub accounts: Accounts,
    pub backup: Backup,
    pub transparency: Transparency,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Transparency {
    /// C2SP tlog-witnesses that get every new checkpoint with a consistency proof;
    /// their cosignatures are appended to the served checkpoint.
    pub witnesses: Vec<WitnessConfig>,
    /// Legal-request references go into the public log as a commitment
    /// (`sha256:…`) instead of as written; `kinora access reveal` discloses one.
    pub redact_legal_references: bool,
}

/// One witness: `{ url = "https://witness.example/", key = "<name>+<id>+<base64>" }`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Its base URL; checkpoints go to `<url>/add-checkpoint`.
    pub url: String,
    /// Its cosignature verifier key (note format, key type 0x04).
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Backup {
    /// Hours between scheduled backups made by `kinora serve`; 0: none (run
    /// `kinora backup create` from cron instead).
    pub every_hours: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounts {
    /// Hours between asking to delete an account and its erasure (it is deactivated
    /// at once and can be restored by signing in); 0 erases at once.
    pub erasure_grace_hours: i64,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts { erasure_grace_hours: 72 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: Server::default(),
            media: Media::default(),
            limits: Limits::default(),
            rate_limits: RateLimits::default(),
            uploads: Uploads::default(),
            auth: Auth::default(),
            retention: Retention::default(),
            regions: [("local".to_owned(), RegionConfig::default())].into_iter().collect(),
            residency: Residency::default(),
            accounts: Accounts::default(),
            backup: Backup::default(),
            transparency: Transparency::default(),
        }
    }
}

/// A region: where its objects are stored, under which jurisdiction.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RegionConfig {
    /// `file:///srv/kinora/eu-a`, `s3://bucket?endpoint=http://host:9000&region=eu-central-1`,
    /// or empty for `<data>/regions/<name>/`.
    pub storage: String,
    /// A label for people: "EU", "CH".
    pub jurisdiction: String,
}

/// Where accounts live by default and where backups and replicas go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Residency {
    /// New accounts' home region.
    pub primary: String,
    /// Every object is replicated here (and backups go here); empty: no backup.
    pub backup: String,
}

impl Default for Residency {
    fn default() -> Self {
        Residency { primary: "local".into(), backup: String::new() }
    }
}

impl Config {
    /// The regions as the store crate takes them.
    pub fn region_specs(&self) -> Vec<kinora_store::RegionSpec> {
        self.regions
            .iter()
            .map(|(name, r)| kinora_store::RegionSpec { name: name.clone(), storage: r.storage.clone(), jurisdiction: r.jurisdiction.clone() })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Auth {
    /// Days an API token (Bearer) stays valid after it was issued.
    pub api_token_days: i64,
    /// Days a web session lasts.
    pub session_days: i64,
    /// Password checks (argon2, 19 MiB each) running at once; more wait briefly,
    /// then are refused with 429.
    pub max_concurrent_password_checks: usize,
}

impl Default for Auth {
    fn default() -> Self {
        Auth { api_token_days: 90, session_days: 30, max_concurrent_password_checks: 4 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Days view events (watch history) are kept; counts on videos stay.
    pub view_events_days: i64,
    /// Days notifications are kept.
    pub notifications_days: i64,
    /// Days finished (done or failed) jobs are kept.
    pub finished_jobs_days: i64,
    /// Days the tombstone of a deleted video or comment (its id and times, never
    /// its words, which go at once) is kept; 0: at the next sweep.
    pub deleted_content_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention { view_events_days: 90, notifications_days: 180, finished_jobs_days: 7, deleted_content_days: 7 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Uploads {
    /// Resumable uploads one account may have open at once.
    pub max_concurrent: i64,
    /// Total declared bytes of one account's open resumable uploads.
    pub max_inflight_bytes: i64,
    /// Hours an unfinished upload is kept after its last byte arrived.
    pub expiry_hours: i64,
    /// Videos of one account waiting for (or in) processing; more uploads are
    /// refused until some are done.
    pub max_pending_jobs: i64,
    /// Bytes one account may upload per hour (multipart and resumable together).
    pub bytes_per_hour: i64,
    /// Bytes one account's videos may take in storage (originals and renditions),
    /// shown in settings; uploads and imports past it are refused.
    pub max_stored_bytes: i64,
}

impl Default for Uploads {
    fn default() -> Self {
        Uploads { max_concurrent: 4, max_inflight_bytes: 4 << 30, expiry_hours: 24, max_pending_jobs: 20, bytes_per_hour: 20 << 30, max_stored_bytes: 50 << 30 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Address to listen on.
    pub listen: String,
    /// Data directory (SQLite file, region folders, scratch space).
    pub data: PathBuf,
    /// Database URL; empty means the SQLite file inside the data directory.
    pub database_url: String,
    /// Public base URL for links in share pages; empty means `http://{listen}`.
    pub base_url: String,
    /// Background workers run inside `serve` (0 = run `kinora worker` separately).
    pub workers: usize,
    /// Seed demo accounts and videos into an empty instance.
    pub demo: bool,
    /// Largest request body for uploads, in bytes.
    pub max_upload_bytes: u64,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as comma-separated
    /// addresses or CIDR blocks (`127.0.0.1, 10.0.0.0/8, ::1`). Empty: the TCP
    /// peer is the client.
    pub trusted_proxies: String,
    /// Seconds a client has to send a request's headers (slowloris defence); also
    /// how long an idle kept-alive connection stays open.
    pub header_timeout_secs: u64,
    /// Seconds a request body may go without sending a byte before it is cut off.
    pub body_timeout_secs: u64,
    /// Open client connections at most; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Password of the demo accounts. Empty: a random one, printed at start.
    pub demo_password: String,
    /// The instance's key directory (see docs/operations.md, "Keys"). Empty:
    /// `<data>/keys`. Every process of an instance (`serve` on each node, `worker`
    /// on other machines, the command line) needs the same keys, and refuses to run
    /// with others.
    pub keys_dir: PathBuf,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8080".into(),
            data: PathBuf::from("./kinora-data"),
            database_url: String::new(),
            base_url: String::new(),
            workers: 1,
            demo: false,
            max_upload_bytes: 512 * 1024 * 1024,
            trusted_proxies: String::new(),
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 4096,
            demo_password: String::new(),
            keys_dir: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Media {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// ffprobe's wall-clock limit, seconds.
    pub probe_timeout_secs: u64,
    /// Transcode wall-clock limit: this many seconds plus `transcode_secs_per_media_sec` x duration.
    pub transcode_timeout_secs: u64,
    pub transcode_secs_per_media_sec: u64,
    /// Address-space limit for ffmpeg/ffprobe, MiB.
    pub memory_limit_mib: u64,
    /// Attempts before a job that keeps failing for internal reasons gives up.
    pub max_attempts: i64,
    /// Run ffmpeg/ffprobe in an empty network namespace where the platform allows
    /// (root on Linux); a warning is logged where it does not.
    pub isolate_network: bool,
    /// Seconds a worker's claim on a job lasts without renewal; a job whose worker
    /// died is claimed again after this.
    pub job_lease_secs: u64,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            probe_timeout_secs: 30,
            transcode_timeout_secs: 120,
            transcode_secs_per_media_sec: 10,
            memory_limit_mib: 4096,
            max_attempts: 5,
            isolate_network: true,
            job_lease_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Sign-in attempts per minute per client address and username.
    pub signin_per_minute: u32,
    /// Sign-in attempts per minute per client address, whatever the username.
    pub signin_per_minute_per_address: u32,
    /// Sign-ups per hour per client address.
    pub signup_per_hour: u32,
    /// Uploads per hour per account.
    pub uploads_per_hour: u32,
    /// API write requests (POST/PATCH/PUT/DELETE) per minute per client address.
    pub writes_per_minute_per_ip: u32,
    /// API write requests per minute per account.
    pub writes_per_minute_per_account: u32,
    /// "Download your data" requests per day per account (each new export replaces
    /// the earlier one).
    pub exports_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            signin_per_minute: 10,
            signin_per_minute_per_address: 30,
            signup_per_hour: 30,
            uploads_per_hour: 60,
            writes_per_minute_per_ip: 600,
            writes_per_minute_per_account: 120,
            exports_per_day: 10,
        }
    }
}

impl Config {
    /// Loads defaults, then `file` if given, then `KINORA_<SECTION>_<KEY>` variables.
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Config> {
        let mut table: toml::Table = toml::Table::try_from(Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading config {}: {e}", path.display()))?;
            let from_file: toml::Table = text.parse().map_err(|e| anyhow::anyhow!("parsing config {}: {e}", path.display()))?;
            merge(&mut table, from_file);
        }
        for (section, keys) in table.iter_mut() {
            let Some(keys) = keys.as_table_mut() else { continue };
            for (key, value) in keys.iter_mut() {
                let var = format!("KINORA_{}_{}", section.to_uppercase(), key.to_uppercase());
                if let Ok(raw) = std::env::var(&var) {
                    *value = env_value(value, &raw).map_err(|e| anyhow::anyhow!("{var}: {e}"))?;
                }
            }
        }
        Ok(table.try_into()?)
    }

    /// The instance's key directory: `[server] keys_dir`, else `<data>/keys`.
    pub fn keys_dir(&self) -> PathBuf {
        if self.server.keys_dir.as_os_str().is_empty() {
            self.server.data.join("keys")
        } else {
            self.server.keys_dir.clone()
        }
    }

    pub fn database_url(&self) -> String {
        if self.server.database_url.is_empty() {
            kinora_db::Db::sqlite_url(&self.server.data.join("kinora.sqlite3"))
        } else {
            self.server.database_url.clone()
        }
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        // Regions named in a file replace the default one instead of joining it.
        if k == "regions" {
            base.insert(k, v);
            continue;
        }
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn env_value(current: &toml::Value, raw: &str) -> anyhow::Result<toml::Value> {
    Ok(match current {
        toml::Value::String(_) => toml::Value::String(raw.to_owned()),
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(matches!(raw.trim(), "1" | "true" | "yes" | "on")),
        _ => anyhow::bail!("cannot be set from the environment"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_matches_defaults() {
        // The documented example must parse and equal the defaults it documents.
        let text = include_str!("../../../kinora.example.toml");
        let parsed: Config = toml::from_str(text).expect("example parses");
        let a = toml::Table::try_from(parsed).expect("ser");
        let b = toml::Table::try_from(Config::default()).expect("ser");
        assert_eq!(a, b);
    }
}
