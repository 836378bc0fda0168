//! Backups: `kinora backup create` while the server runs, `backup list --json`, and
//! `backup restore` into a fresh instance that serves the same videos; an account
//! erased after the backup does not come back (its key is destroyed and the journal
//! is re-applied), and the backups hold none of its text in the clear.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

both!(backup_restore_and_erasure);

fn kinora(args: &[&str], data: &Path, cfg: &Path, db: Option<&str>) -> (i32, String, String) {
    let out = crate::support::cli(args, data, db).arg("--config").arg(cfg).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn contains(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)) {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

async fn new_pg_database(b: Backend) -> Option<String> {
    if b == Backend::Sqlite {
        return None;
    }
    Some(crate::support::pg_database().await)
}

async fn backup_restore_and_erasure(b: Backend) {
    let regions = tempfile::tempdir().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(
        &cfg,
        format!(
            "[regions.home]\nstorage = \"file://{r}/home\"\njurisdiction = \"EU\"\n[regions.copy]\nstorage = \"file://{r}/copy\"\njurisdiction = \"EU\"\n\
             [residency]\nprimary = \"home\"\nbackup = \"copy\"\n[accounts]\nerasure_grace_hours = 0\n",
            r = regions.path().display()
        ),
    )
    .unwrap();
    let cfg_s: &'static str = Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str());
    let app = TestApp::spawn_with(b, &[("KINORA_CONFIG", cfg_s)]).await;
    let gone = app.signup("quentinerased").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&bob, &clip(dir.path(), "b.mp4", 180, 320, 1), "bob keeps this", "public").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let src = v["sources"][0]["url"].as_str().unwrap().to_owned();
    let post = |path: String, token: String, body: Value| {
        let app = &app;
        async move { app.client.post(app.url(&path)).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(post(format!("/api/v1/videos/{vid}/like"), gone.clone(), json!({})).await, 200);
    assert_eq!(post(format!("/api/v1/videos/{vid}/comments"), gone.clone(), json!({"text": "gravelcomment5521"})).await, 201);
    assert_eq!(post("/api/v1/accounts/bob/follow".into(), gone.clone(), json!({})).await, 200);

    // A backup while the server runs.
    let db = app.db_url.as_deref();
    let (code, out, err) = kinora(&["backup", "create"], app.data.path(), &cfg, db);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = kinora(&["backup", "list", "--json"], app.data.path(), &cfg, db);
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["region"], "copy");
    assert!(list[0]["bytes"].as_u64().unwrap() > 0);
    let id = list[0]["id"].as_str().unwrap().to_owned();
    // Encrypted: no account's text in the clear in the backup region.
    assert!(contains(&regions.path().join("copy").join("backups"), b"gravelcomment5521").is_empty());
    assert!(contains(&regions.path().join("copy").join("backups"), b"bob keeps this").is_empty());

    // The account is erased after the backup was made.
    let r = app.client.delete(app.url("/api/v1/me")).bearer_auth(&gone).json(&json!({"password": "correct horse battery"})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let start = Instant::now();
    while app.token("quentinerased", "correct horse battery").await.is_err_and(|(s, _)| s == 403) {
        assert!(start.elapsed() < Duration::from_secs(60), "never erased");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Restore into a fresh instance: same regions, new data directory and database,
    // the key store copied from the old one.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_db = new_pg_database(b).await;
    let keys = app.data.path().join("keys");
    let (code, out, err) = kinora(&["backup", "restore", &id, "--keys", keys.to_str().unwrap()], fresh.path(), &cfg, fresh_db.as_deref());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 parts unreadable"), "the erased account's part cannot be read: {out}");
    // Restoring twice is refused: the instance is not empty any more.
    let (code, _, err) = kinora(&["backup", "restore", &id], fresh.path(), &cfg, fresh_db.as_deref());
    assert_ne!(code, 0);
    assert!(err.contains("empty"), "{err}");
    drop(app);

    let restored = TestApp::spawn_in(b, fresh, fresh_db, &[("KINORA_CONFIG", cfg_s)]).await;
    let bob = restored.token("bob", "correct horse battery").await.unwrap();
    let (s, v) = restored.get_json(&format!("/api/v1/videos/{vid}"), Some(&bob)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["caption"], "bob keeps this");
    assert_eq!(v["counts"]["likes"], 0, "the erased account's like does not come back");
    assert_eq!(v["counts"]["comments"], 0);
    assert_eq!(restored.get(&src, None).await.status(), 200, "its media is served from the regions");
    assert_eq!(restored.get_json("/api/v1/accounts/quentinerased", Some(&bob)).await.0, 404);
    assert!(restored.token("quentinerased", "correct horse battery").await.is_err());
    assert!(contains(restored.data.path(), b"quentinerased").is_empty());
    assert!(contains(restored.data.path(), b"gravelcomment5521").is_empty());
}
