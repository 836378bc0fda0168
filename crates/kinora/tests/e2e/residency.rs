//! Regions and the residency proof: objects go to the account's home region and
//! its backup and nowhere else, replicas are verified, reads fall back to the
//! backup when home fails, and `kinora verify residency` catches a planted file, a
//! removed replica and an object copied into a region it does not belong to. Run
//! with local directories and with two real S3-protocol servers (moto).
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

both!(residency_in_local_regions, residency_in_s3_regions, account_moves_home_region, versioned_buckets_break_the_residency_proof);

/// Where the test's regions are.
enum Stores {
    Local(PathBuf),
    S3 { a: String, b: String, c: String },
}

fn config(stores: &Stores) -> String {
    let (a, b, c) = match stores {
        Stores::Local(root) => (
            format!("file://{}", root.join("eu-a").display()),
            format!("file://{}", root.join("eu-b").display()),
            format!("file://{}", root.join("us-c").display()),
        ),
        Stores::S3 { a, b, c } => (a.clone(), b.clone(), c.clone()),
    };
    format!(
        "[regions.eu-a]\nstorage = \"{a}\"\njurisdiction = \"EU\"\n\
         [regions.eu-b]\nstorage = \"{b}\"\njurisdiction = \"EU\"\n\
         [regions.us-c]\nstorage = \"{c}\"\njurisdiction = \"US\"\n\
         [residency]\nprimary = \"eu-a\"\nbackup = \"eu-b\"\n"
    )
}

/// `kinora verify residency --json` against the app's data, database and config.
fn verify(app: &TestApp, cfg: &Path) -> (i32, Value) {
    let mut cmd = app.cli(&["verify", "residency", "--json"]);
    cmd.arg("--config").arg(cfg).envs(s3_env());
    let out = cmd.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), report)
}

fn s3_env() -> Vec<(&'static str, &'static str)> {
    vec![("AWS_ACCESS_KEY_ID", "kinora-test"), ("AWS_SECRET_ACCESS_KEY", "kinora-test"), ("AWS_REGION", "us-east-1")]
}

fn kinds(report: &Value) -> Vec<(String, String)> {
    report["violations"].as_array().unwrap().iter().map(|v| (v["kind"].as_str().unwrap().to_owned(), v["region"].as_str().unwrap().to_owned())).collect()
}

/// Waits until the check passes (replication is a background job).
async fn until_ok(app: &TestApp, cfg: &Path) -> Value {
    let start = Instant::now();
    loop {
        let (code, report) = verify(app, cfg);
        if code == 0 && report["ok"] == true {
            return report;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "residency never verified: {report}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// An object store for planting faults by hand.
fn store(stores: &Stores, region: &str) -> std::sync::Arc<dyn object_store::ObjectStore> {
    match stores {
        Stores::Local(root) => {
            std::fs::create_dir_all(root.join(region)).unwrap();
            std::sync::Arc::new(object_store::local::LocalFileSystem::new_with_prefix(root.join(region)).unwrap())
        }
        Stores::S3 { a, b, c } => {
            let url = match region {
                "eu-a" => a,
                "eu-b" => b,
                _ => c,
            };
            let rest = url.trim_start_matches("s3://");
            let (bucket, q) = rest.split_once('?').unwrap();
            let endpoint = q.split('&').find_map(|p| p.strip_prefix("endpoint=")).unwrap();
            std::sync::Arc::new(
                object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_endpoint(endpoint)
                    .with_allow_http(true)
                    .with_region("us-east-1")
                    .with_access_key_id("kinora-test")
                    .with_secret_access_key("kinora-test")
                    .build()
                    .unwrap(),
            )
        }
    }
}

async fn scenario(b: Backend, stores: Stores) {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(&cfg, config(&stores)).unwrap();
    let mut env = s3_env();
    let cfg_str = cfg.to_str().unwrap().to_owned();
    env.push(("KINORA_CONFIG", Box::leak(cfg_str.into_boxed_str())));
    let app = TestApp::spawn_with(b, &env).await;

    // The declaration, for machines and for people.
    let (s, decl) = app.get_json("/api/v1/instance/residency", None).await;
    assert_eq!(s, 200);
    assert_eq!(decl["primary"]["name"], "eu-a");
    assert_eq!(decl["primary"]["jurisdiction"], "EU");
    assert_eq!(decl["backup"]["name"], "eu-b");
    assert!(decl["data"].as_array().unwrap().iter().any(|k| k["name"] == "object:originals"));
    let about = app.get("/about/data", None).await.text().await.unwrap();
    assert!(about.contains("eu-b") && about.contains("watch history"), "{about}");

    let token = app.signup("resident").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "r.mp4", 180, 320, 1), "where am I", "public").await;
    assert_eq!(v["status"], "ready", "{v}");
    let report = until_ok(&app, &cfg).await;
    let regions = &report["regions"];
    assert!(regions["eu-a"]["objects"].as_u64().unwrap() >= 4, "original, rendition, poster, preview: {report}");
    assert_eq!(regions["eu-a"]["objects"], regions["eu-b"]["objects"], "every object has its replica: {report}");
    assert_eq!(regions["us-c"]["objects"], 0);

    // Settings say where the data lives.
    let settings = web_settings(&app, "resident").await;
    assert!(settings.contains("stored in eu-a (EU), backup in eu-b (EU)"), "{settings}");

    // Three planted faults, each caught.
    let id = v["id"].as_str().unwrap();
    let src = v["sources"][0]["url"].as_str().unwrap().trim_start_matches("/media/").to_owned();
    let media_key = format!("media/{src}");
    let a = store(&stores, "eu-a");
    let bk = store(&stores, "eu-b");
    let c = store(&stores, "us-c");
    a.put(&"planted/by-hand".into(), b"someone's file".to_vec().into()).await.unwrap();
    bk.delete(&format!("originals/{id}").as_str().into()).await.unwrap();
    let bytes = a.get(&media_key.as_str().into()).await.unwrap().bytes().await.unwrap();
    c.put(&media_key.as_str().into(), bytes.into()).await.unwrap();
    let (code, report) = verify(&app, &cfg);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["ok"], false);
    let mut got = kinds(&report);
    got.sort();
    assert_eq!(
        got,
        [("misplaced".to_owned(), "us-c".to_owned()), ("missing-replica".into(), "eu-b".into()), ("unknown-object".into(), "eu-a".into())],
        "{report}"
    );

    // The repair makes the removed replica again (the server's workers copy it).
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
    cmd.args(["verify", "residency", "--json", "--repair", "--data"]).arg(app.data.path()).arg("--config").arg(&cfg).envs(s3_env());
    if let Some(url) = &app.db_url {
        cmd.arg("--database-url").arg(url);
    }
    assert!(String::from_utf8_lossy(&cmd.output().unwrap().stderr).contains("1 replicas queued"));
    let start = Instant::now();
    loop {
        let (_, report) = verify(&app, &cfg);
        if !kinds(&report).iter().any(|(k, _)| k == "missing-replica") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the replica was never repaired: {report}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Reads fall back to the backup replica when the home region fails.
    if let Stores::Local(root) = &stores {
        std::fs::rename(root.join("eu-a"), root.join("eu-a.gone")).unwrap();
        let r = app.get(&format!("/media/{src}"), None).await;
        assert_eq!(r.status(), 200, "served from eu-b");
        assert!(!r.bytes().await.unwrap().is_empty());
        let health = app.get("/healthz", None).await;
        assert_eq!(health.status(), 200);
        let text = health.text().await.unwrap();
        assert!(text.contains("region eu-a: failing"), "{text}");
        std::fs::rename(root.join("eu-a.gone"), root.join("eu-a")).unwrap();
    }
}

/// Signs in with the web form and returns the settings page.
async fn web_settings(app: &TestApp, username: &str) -> String {
    let session = app.web_session(username).await;
    app.client.get(app.url("/settings")).header("cookie", format!("kinora_session={session}")).send().await.unwrap().text().await.unwrap()
}

async fn residency_in_local_regions(b: Backend) {
    let root = tempfile::tempdir().unwrap();
    scenario(b, Stores::Local(root.path().to_owned())).await;
}

/// Creates a bucket on a moto server (it takes unsigned requests) and returns the
/// region's storage URL.
async fn bucket(server_var: &str, name: &str) -> String {
    let server = std::env::var(server_var).unwrap_or_else(|_| panic!("{server_var} is not set: run the suite with scripts/test, which starts moto"));
    let r = reqwest::Client::new().put(format!("{server}/{name}")).send().await.unwrap();
    assert!(r.status().is_success(), "creating bucket {name}: {}", r.status());
    format!("s3://{name}?endpoint={server}&region=us-east-1")
}

async fn residency_in_s3_regions(b: Backend) {
    // Bucket names unique per process and backend (each test runs once per backend).
    let tag = std::process::id().to_string();
    let n = match b {
        Backend::Sqlite => "s",
        Backend::Postgres => "p",
    };
    let a = bucket("KINORA_TEST_S3_A", &format!("kin-{n}{tag}-a")).await;
    let bk = bucket("KINORA_TEST_S3_B", &format!("kin-{n}{tag}-b")).await;
    let c = bucket("KINORA_TEST_S3_A", &format!("kin-{n}{tag}-c")).await;
    scenario(b, Stores::S3 { a, b: bk, c }).await;
}

/// An operator moves an account to another region: everything follows, verified.
async fn account_moves_home_region(b: Backend) {
    let root = tempfile::tempdir().unwrap();
    let stores = Stores::Local(root.path().to_owned());
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(&cfg, config(&stores)).unwrap();
    let cfg_s: &'static str = Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str());
    let app = TestApp::spawn_with(b, &[("KINORA_CONFIG", cfg_s)]).await;
    let token = app.signup("mover").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "m.mp4", 180, 320, 1), "moving", "public").await;
    until_ok(&app, &cfg).await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
    cmd.args(["accounts", "move", "mover", "--region", "us-c", "--data"]).arg(app.data.path()).arg("--config").arg(&cfg);
    if let Some(url) = &app.db_url {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = until_ok(&app, &cfg).await;
    assert_eq!(report["regions"]["eu-a"]["objects"], 0, "{report}");
    assert_eq!(report["regions"]["us-c"]["objects"], report["regions"]["eu-b"]["objects"], "{report}");
    let src = v["sources"][0]["url"].as_str().unwrap();
    assert_eq!(app.get(src, None).await.status(), 200, "served from the new home");
    let settings = web_settings(&app, "mover").await;
    assert!(settings.contains("stored in us-c (US), backup in eu-b (EU)"), "{settings}");
}

/// A bucket with versioning on (moto); returns the region's storage URL and the
/// bucket's `?versions` listing URL.
async fn versioned(server_var: &str, name: &str) -> (String, String) {
    let url = bucket(server_var, name).await;
    let server = std::env::var(server_var).unwrap();
    let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    assert!(reqwest::Client::new().put(format!("{server}/{name}?versioning")).body(body).send().await.unwrap().status().is_success());
    (url, format!("{server}/{name}?versions"))
}

/// Versioned buckets broke the residency proof: after a move
/// the old bucket kept noncurrent versions of her objects while verify said "ok".
/// Class: moves (like reprocessing and every delete) remove all versions, and
/// verify lists versions too, reporting `noncurrent-version`.
async fn versioned_buckets_break_the_residency_proof(b: Backend) {
    let tag = format!("{}{}", std::process::id(), if b == Backend::Sqlite { "s" } else { "p" });
    let (a, a_versions) = versioned("KINORA_TEST_S3_A", &format!("kin-v{tag}-a")).await;
    let (bk, _) = versioned("KINORA_TEST_S3_B", &format!("kin-v{tag}-b")).await;
    let (c, _) = versioned("KINORA_TEST_S3_A", &format!("kin-v{tag}-c")).await;
    let stores = Stores::S3 { a, b: bk, c };
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(&cfg, config(&stores)).unwrap();
    let cfg_s: &'static str = Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str());
    let mut env = s3_env();
    env.push(("KINORA_CONFIG", cfg_s));
    let app = TestApp::spawn_with(b, &env).await;
    let token = app.signup("mover").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "m.mp4", 180, 320, 1), "moving", "public").await;
    until_ok(&app, &cfg).await;
    let mut cmd = app.cli(&["accounts", "move", "mover", "--region", "us-c"]);
    cmd.arg("--config").arg(&cfg).envs(s3_env());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = until_ok(&app, &cfg).await;
    assert_eq!(report["regions"]["eu-a"]["objects"], 0, "{report}");
    let xml = reqwest::get(&a_versions).await.unwrap().text().await.unwrap();
    assert_eq!(xml.matches("<Version>").count() + xml.matches("<DeleteMarker>").count(), 0, "the old bucket keeps versions: {xml}");
    // An object overwritten in place leaves a noncurrent version: verify names it.
    let eu_b = store(&stores, "eu-b");
    let key = object_store::path::Path::from("media/AAAAAAAAAAAAAAAA/planted.jpg");
    eu_b.put(&key, b"one".to_vec().into()).await.unwrap();
    eu_b.put(&key, b"two".to_vec().into()).await.unwrap();
    let (code, report) = verify(&app, &cfg);
    assert_eq!(code, 1, "{report}");
    assert!(kinds(&report).contains(&("noncurrent-version".to_owned(), "eu-b".to_owned())), "{report}");
    // The operator's explicit command lists, asks, and removes only with consent.
    let repair = |answer: &str| {
        let mut cmd = app.cli(&["verify", "residency", "--repair"]);
        cmd.arg("--config")
            .arg(&cfg)
            .envs(s3_env())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let said = repair("no\n");
    assert!(said.contains("media/AAAAAAAAAAAAAAAA/planted.jpg") && said.contains("nothing removed"), "{said}");
    assert_eq!(verify(&app, &cfg).0, 1);
    let said = repair("remove\n");
    assert!(said.contains("objects removed"), "{said}");
    let report = until_ok(&app, &cfg).await;
    assert_eq!(report["ok"], true);
    // Her objects are untouched by the repair: still served.
    let src = v["sources"][0]["url"].as_str().unwrap();
    assert_eq!(app.get(src, None).await.status(), 200);
}
