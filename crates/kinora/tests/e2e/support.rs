//! `TestApp`: spawns the server, creates accounts, uploads, waits, probes.
#![allow(dead_code, clippy::unwrap_used)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod name { sqlite(), postgres() }` tests that run `name(backend)`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { super::$name($crate::support::Backend::Sqlite).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { super::$name($crate::support::Backend::Postgres).await }
        }
    )*};
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data: tempfile::TempDir,
    pub backend: Backend,
    pub db_url: Option<String>,
    child: Child,
    /// The server's log (outside the data directory, which some tests scan byte by
    /// byte), quoted when a request fails unexpectedly.
    log: tempfile::NamedTempFile,
}

/// A fresh PostgreSQL database on the server `scripts/test` started.
pub async fn pg_database() -> String {
    let admin =
        std::env::var("KINORA_TEST_POSTGRES_URL").expect("KINORA_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL");
    let name = format!("kinora_test_{}", rand_suffix());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("connect to test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create database");
    let (prefix, _) = admin.rsplit_once('/').expect("url has a database");
    format!("{prefix}/{name}")
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{}_{}", std::process::id(), t % 1_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

/// `kinora ARGS --data DATA [--database-url DB]`.
pub fn cli(args: &[&str], data: &Path, db: Option<&str>) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
    cmd.args(args).arg("--data").arg(data);
    if let Some(url) = db {
        cmd.arg("--database-url").arg(url);
    }
    cmd
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> TestApp {
        let data = tempfile::tempdir().unwrap();
        let db_url = match backend {
            Backend::Postgres => Some(pg_database().await),
            Backend::Sqlite => None,
        };
        Self::spawn_in(backend, data, db_url, env).await
    }

    /// A GET with a web session cookie.
    pub async fn get_with_session(&self, path: &str, session: &str) -> reqwest::Response {
        self.client.get(self.url(path)).header("cookie", format!("kinora_session={session}")).send().await.unwrap()
    }

    /// The page at `path` as the holder of `session` sees it.
    pub async fn page_as(&self, path: &str, session: &str) -> String {
        self.get_with_session(path, session).await.text().await.unwrap()
    }

    /// The server process's peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let pid = self.child.id().expect("running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap().trim().trim_end_matches("kB").trim().parse().unwrap();
        kb * 1024
    }

    /// Kills the server like `kill -9`; returns what a restart needs.
    pub async fn kill9(mut self) -> (Backend, tempfile::TempDir, Option<String>) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        (self.backend, self.data, self.db_url)
    }

    /// Waits for the server process to end by itself (a fault-injected crash).
    pub async fn wait_exit(mut self) -> (Backend, tempfile::TempDir, Option<String>) {
        tokio::time::timeout(Duration::from_secs(120), self.child.wait()).await.expect("server did not exit").unwrap();
        (self.backend, self.data, self.db_url)
    }

    /// Starts a server on an existing data directory and database.
    pub async fn spawn_in(backend: Backend, data: tempfile::TempDir, db_url: Option<String>, env: &[(&str, &str)]) -> TestApp {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinora"));
        cmd.arg("serve").arg("--data").arg(data.path()).arg("--listen").arg("127.0.0.1:0");
        Self::start(cmd, backend, data, db_url, env).await
    }

    /// Like a user following the README: run from a directory with the default
    /// relative data directory (`./kinora-data`).
    pub async fn spawn_default_data_dir(backend: Backend) -> TestApp {
        let data = tempfile::tempdir().unwrap();
        let db_url = match backend {
            Backend::Postgres => Some(pg_database().await),
            Backend::Sqlite => None,
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kinora"));
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").current_dir(data.path());
        Self::start(cmd, backend, data, db_url, &[]).await
    }

    async fn start(mut cmd: Command, backend: Backend, data: tempfile::TempDir, db_url: Option<String>, env: &[(&str, &str)]) -> TestApp {
        if let Some(url) = &db_url {
            cmd.arg("--database-url").arg(url);
        }
        for k in ["KINORA_DATA", "KINORA_LISTEN", "KINORA_DATABASE_URL", "KINORA_CONFIG", "KINORA_DEMO"] {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().copied());
        cmd.stdout(Stdio::piped()).stdin(Stdio::null()).kill_on_drop(true);
        let log = tempfile::NamedTempFile::new().unwrap();
        if std::env::var_os("TEST_LOG").is_some() {
            cmd.stderr(Stdio::inherit());
        } else {
            cmd.stderr(Stdio::from(log.reopen().unwrap()));
        }
        let mut child = cmd.spawn().expect("spawn kinora");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("kinora listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("kinora exited before listening");
        })
        .await
        .expect("kinora did not start within 60 s");
        // Keep draining stdout so the server never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        // No connection reuse: a server may close a connection after refusing a
        // request whose body it did not read, and a pooled client would then race it.
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).pool_max_idle_per_host(0).build().unwrap();
        TestApp { base, client, data, backend, db_url, child, log }
    }

    /// The `kinora` command line against this app's data directory and database.
    pub fn cli(&self, args: &[&str]) -> std::process::Command {
        cli(args, self.data.path(), self.db_url.as_deref())
    }

    /// A connection to the server's database, to look or to change something
    /// behind its back.
    pub async fn sql(&self) -> sqlx::AnyConnection {
        let url = self.db_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data.path().join("kinora.sqlite3").display()));
        sqlx::any::install_default_drivers();
        <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap()
    }

    /// The server's whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let r = self.get(path, token).await;
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs up `username` with a standard password; returns a Bearer token.
    pub async fn signup(&self, username: &str) -> String {
        let r = self.client.post(self.url("/api/v1/accounts")).json(&json!({"username": username, "password": "correct horse battery"})).send().await.unwrap();
        assert_eq!(r.status(), 201, "sign-up of {username}: {}", r.text().await.unwrap());
        self.token(username, "correct horse battery").await.expect("token")
    }

    pub async fn token(&self, username: &str, password: &str) -> Result<String, (u16, Value)> {
        let r = self.client.post(self.url("/api/v1/auth/token")).json(&json!({"username": username, "password": password})).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status == 200 {
            Ok(body["access_token"].as_str().unwrap().to_owned())
        } else {
            Err((status, body))
        }
    }

    /// Multipart upload; returns (status, body).
    pub async fn upload(&self, token: Option<&str>, file: &Path, filename: &str, caption: &str, visibility: &str) -> (u16, Value) {
        let bytes = std::fs::read(file).unwrap();
        let form = reqwest::multipart::Form::new()
            .text("caption", caption.to_owned())
            .text("visibility", visibility.to_owned())
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()));
        let mut r = self.client.post(self.url("/api/v1/videos")).multipart(form);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Uploads and waits until the video leaves `processing`.
    pub async fn upload_and_wait(&self, token: &str, file: &Path, caption: &str, visibility: &str) -> Value {
        let (s, v) = self.upload(Some(token), file, "clip.mp4", caption, visibility).await;
        assert_eq!(s, 202, "upload: {v}\nserver log:\n{}", self.log_tail());
        assert_eq!(v["status"], "processing");
        self.wait(token, v["id"].as_str().unwrap()).await
    }

    pub async fn wait(&self, token: &str, id: &str) -> Value {
        let start = Instant::now();
        loop {
            let (s, v) = self.get_json(&format!("/api/v1/videos/{id}"), Some(token)).await;
            assert_eq!(s, 200, "{v}");
            if v["status"] != "processing" {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(180), "video {id} still processing after 180 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// An API call with a Bearer token and an optional JSON body: (status, JSON).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs in with the web form (double-submit CSRF) and returns the session
    /// cookie's value.
    pub async fn web_session(&self, username: &str) -> String {
        let cookie = |r: &reqwest::Response, name: &str| {
            r.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| c.strip_prefix(&format!("{name}=")).map(|r| r.split(';').next().unwrap().to_owned()))
        };
        let page = self.get("/login", None).await;
        let csrf = cookie(&page, "kinora_csrf").expect("a CSRF cookie");
        let r = self
            .client
            .post(self.url("/login"))
            .header("cookie", format!("kinora_csrf={csrf}"))
            .form(&[("csrf", csrf.as_str()), ("username", username), ("password", "correct horse battery")])
            .send()
            .await
            .unwrap();
        cookie(&r, "kinora_session").expect("a session cookie")
    }

    pub async fn healthy(&self) -> bool {
        matches!(self.client.get(self.url("/healthz")).send().await, Ok(r) if r.status() == 200)
    }
}

// ---------- clips ----------

/// Runs ffmpeg (test fixtures only).
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg is installed (scripts/deps --test)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn ffprobe_json(file: &Path) -> Value {
    let out = std::process::Command::new("ffprobe").args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"]).arg(file).output().unwrap();
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A small clip: `secs` of testsrc2 at `w`x`h` with a tone.
pub fn clip(dir: &Path, name: &str, w: u32, h: u32, secs: u32) -> PathBuf {
    let out = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={w}x{h}:rate=25"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &secs.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        out.to_str().unwrap(),
    ]);
    out
}

/// Like a phone recording: landscape pixels with a 90-degree display rotation,
/// GPS location and device make/model tags, in a MOV.
pub fn phone_clip(dir: &Path) -> PathBuf {
    let raw = clip(dir, "raw.mov", 320, 240, 2);
    let out = dir.join("phone.mov");
    ffmpeg(&[
        "-i",
        raw.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        "-movflags",
        "use_metadata_tags",
        "-metadata",
        "location=+37.7749-122.4194/",
        "-metadata",
        "make=Apple",
        "-metadata",
        "model=iPhone 15 Pro",
        out.to_str().unwrap(),
    ]);
    out
}

/// Top-level MP4 box types in order.
pub fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 8 <= bytes.len() {
        let size = u64::from(u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()));
        let kind = String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned();
        let size = if size == 1 { u64::from_be_bytes(bytes[i + 8..i + 16].try_into().unwrap()) } else { size };
        out.push(kind);
        if size < 8 {
            break;
        }
        i += size as usize;
    }
    out
}
