//! Delete your account: deactivated at once (answers like a missing account),
//! signing in explains and can cancel; after the grace period every row and object
//! is gone: a byte scan of the data directory and every region (local and backup)
//! finds none of the account's text or media, and other accounts are untouched.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, phone_clip, Backend, TestApp};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

both!(deactivate_and_cancel, erasure_leaves_no_byte_behind, erasure_removes_every_version_in_s3);

async fn deactivate_and_cancel(b: Backend) {
    use reqwest::Method as M;
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "still here?", "public").await;
    let id = v["id"].as_str().unwrap();
    let (s, body) = app.call(M::DELETE, "/api/v1/me", &alice, Some(json!({"password": "wrong password!"}))).await;
    assert_eq!(s, 422, "{body}");
    let (s, body) = app.call(M::DELETE, "/api/v1/me", &alice, Some(json!({"password": "correct horse battery"}))).await;
    assert_eq!(s, 202, "{body}");
    assert!(body["erase_at"].as_str().unwrap().ends_with('Z'));
    // Deactivated: gone for everyone, signed out everywhere.
    assert_eq!(app.get_json("/api/v1/accounts/alice", Some(&bob)).await.0, 404);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{id}"), None).await.0, 404);
    assert_eq!(app.get_json("/api/v1/me", Some(&alice)).await.0, 401);
    let (_, feed) = app.get_json("/api/v1/feed/for-you", None).await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 0);
    let (_, found) = app.get_json("/api/v1/search?type=accounts&q=alice", Some(&bob)).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 0);
    // Signing in explains; with cancel_deletion the account comes back.
    let (s, e) = app.token("alice", "correct horse battery").await.unwrap_err();
    assert_eq!(s, 403);
    assert_eq!(e["error"]["code"], "account-scheduled-for-deletion");
    assert_eq!(app.token("alice", "wrong password!").await.unwrap_err().0, 401, "nothing is said without the password");
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "alice", "password": "correct horse battery", "cancel_deletion": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{id}"), None).await.0, 200);
    assert_eq!(app.get_json("/api/v1/accounts/alice", Some(&bob)).await.0, 200);
}

/// Every file under `root` that contains `needle`.
fn files_with(root: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else { continue };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    out.push(path.display().to_string());
                }
            }
        }
    }
    out
}

async fn erasure_leaves_no_byte_behind(b: Backend) {
    use reqwest::Method as M;
    let backup = tempfile::tempdir().unwrap();
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(
        &cfg,
        format!(
            "[regions.home]\nstorage = \"\"\njurisdiction = \"EU\"\n[regions.copy]\nstorage = \"file://{}\"\njurisdiction = \"EU\"\n\
             [residency]\nprimary = \"home\"\nbackup = \"copy\"\n[accounts]\nerasure_grace_hours = 0\n",
            backup.path().display()
        ),
    )
    .unwrap();
    let cfg_s: &'static str = Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str());
    let app = TestApp::spawn_with(b, &[("KINORA_CONFIG", cfg_s)]).await;
    let zed = app.signup("zebulonquux").await;
    let zed_id = app.get_json("/api/v1/me", Some(&zed)).await.1["id"].as_str().unwrap().to_owned();
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let phone = phone_clip(dir.path());
    let original = std::fs::read(&phone).unwrap();
    let r = app.client.patch(app.url("/api/v1/me")).bearer_auth(&zed).json(&json!({"bio": "xylophonebio7731"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mine = app.upload_and_wait(&zed, &phone, "quokkacaption4412 #quokkatag", "public").await;
    let theirs = app.upload_and_wait(&bob, &clip(dir.path(), "b.mp4", 180, 320, 1), "bob's video", "public").await;
    let theirs_id = theirs["id"].as_str().unwrap();
    let mine_id = mine["id"].as_str().unwrap();
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/like"), &zed, None).await.0, 200);
    let (s, zc) = app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/comments"), &zed, Some(json!({"text": "wombatcomment9981"}))).await;
    assert_eq!(s, 201, "{zc}");
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{mine_id}/comments"), &bob, Some(json!({"text": "bob was here"}))).await.0, 201);
    assert_eq!(app.call(M::POST, "/api/v1/accounts/bob/follow", &zed, None).await.0, 200);
    assert_eq!(app.call(M::POST, "/api/v1/accounts/zebulonquux/follow", &bob, None).await.0, 200);
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/views"), &zed, Some(json!({"watched_ms": 500}))).await.0, 204);
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &zed, None).await;
    assert_eq!(s, 202, "{e}");
    // Wait until the replicas and the export exist, so the erasure has them to remove.
    let home = app.data.path().join("regions").join("home");
    let start = Instant::now();
    while files_with(backup.path(), &original[1000..1064]).is_empty() || files_with(&home, b"watch-history.json").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "replica or export never appeared");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (_, before) = app.get_json(&format!("/api/v1/videos/{theirs_id}"), None).await;
    assert_eq!(before["counts"]["likes"], 1);
    assert_eq!(before["counts"]["comments"], 1);

    // Every state the account can be in when it is erased: reported (with the
    // reporter's words about its comment), moderated (with a note), read by staff,
    // in a backup, with a transcode running.
    let kin = |args: &[&str]| {
        let mut cmd = app.cli(args);
        cmd.env("KINORA_CONFIG", cfg_s);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (s, r) = app.call(M::POST, "/api/v1/reports", &bob, Some(json!({"comment_id": zc["id"], "reason": "harassment", "details": "reportdetail5521"}))).await;
    assert_eq!(s, 201, "{r}");
    let mona = app.signup("mona").await;
    kin(&["staff", "grant", "mona", "--role", "moderator"]);
    let (s, d) = app
        .call(M::POST, "/api/v1/staff/actions", &mona, Some(json!({"report_id": r["id"], "action": "remove", "reason": "harassment", "note": "modnote5521"})))
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, a) = app
        .call(
            M::POST,
            "/api/v1/staff/access",
            &mona,
            Some(json!({"subject": "zebulonquux", "scopes": ["profile", "videos"], "reason": "support", "reference": "case-77"})),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    let backup_out = kin(&["backup", "create"]);
    let backup_id = backup_out.split_whitespace().nth(1).unwrap().to_owned();
    // A resumable upload in progress (its bytes on this node's disk).
    let r =
        app.client.post(app.url("/api/v1/uploads")).bearer_auth(&zed).header("Tus-Resumable", "1.0.0").header("Upload-Length", "1000000").send().await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let partial = b"uploadingbytes5521".repeat(1000);
    let r = app
        .client
        .patch(app.url(&loc))
        .bearer_auth(&zed)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(partial)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let long = clip(dir.path(), "long.mp4", 720, 1280, 6);
    let long_bytes = std::fs::read(&long).unwrap();
    let (s, v2) = app.upload(Some(&zed), &long, "long.mp4", "pangolincaption3390", "public").await;
    assert_eq!(s, 202, "{v2}");

    let (s, body) = app.call(M::DELETE, "/api/v1/me", &zed, Some(json!({"password": "correct horse battery"}))).await;
    assert_eq!(s, 202, "{body}");
    // The erase job runs at once (grace 0); wait for its end: the account row is gone.
    sqlx::any::install_default_drivers();
    let url = match &app.db_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", app.data.path().join("kinora.sqlite3").display()),
    };
    let start = Instant::now();
    loop {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE username = 'zebulonquux'").fetch_one(&mut conn).await.unwrap();
        let journal: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM erasure_journal").fetch_one(&mut conn).await.unwrap();
        drop(conn);
        if n == 0 && journal == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "the account was never erased");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Let the scrub after the erasure finish (it follows the transaction), and a
    // transcode that was running when it came end (it finds the video gone).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = Instant::now();
    while !app.log_tail().contains("video deleted while processing") && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Others' counts are corrected; their own things stay.
    let (s, after) = app.get_json(&format!("/api/v1/videos/{theirs_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(after["counts"]["likes"], 0);
    assert_eq!(after["counts"]["comments"], 0);
    assert_eq!(app.get_json("/api/v1/accounts/bob", Some(&bob)).await.0, 200);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{mine_id}"), Some(&bob)).await.0, 404);

    // No byte of it: not its text in the database file, its WAL or its indexes,
    // not its media in any region, not its export.
    let needles: Vec<(&str, Vec<u8>)> = vec![
        ("username", b"zebulonquux".to_vec()),
        ("bio", b"xylophonebio7731".to_vec()),
        ("caption", b"quokkacaption4412".to_vec()),
        ("hashtag", b"quokkatag".to_vec()),
        ("comment", b"wombatcomment9981".to_vec()),
        ("original bytes", original[1000..1064].to_vec()),
        ("export", b"watch-history.json".to_vec()),
        ("report details about its comment", b"reportdetail5521".to_vec()),
        ("moderation note", b"modnote5521".to_vec()),
        ("bytes of an upload in progress", b"uploadingbytes5521".to_vec()),
        ("caption of the video being transcoded", b"pangolincaption3390".to_vec()),
        ("bytes of the video being transcoded", long_bytes[4000..4064].to_vec()),
    ];
    // On PostgreSQL, its table files too (`base/`: tables, indexes, TOAST; its
    // write-ahead log recycles on its own schedule and is not a table).
    let mut pg_tables = None;
    if let (Some(dir), Some(db)) = (std::env::var("KINORA_TEST_POSTGRES_DATA").ok(), app.db_url.as_ref()) {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db).await.unwrap();
        let oid: String =
            sqlx::query_scalar("SELECT CAST(oid AS TEXT) FROM pg_database WHERE datname = current_database()").fetch_one(&mut conn).await.unwrap();
        pg_tables = Some(Path::new(&dir).join("base").join(oid));
    }
    // The backup made before the erasure, restored after it: the account's part
    // cannot be read, others' rows about it are dropped, the journal erases again.
    let restored = tempfile::tempdir().unwrap();
    let restored_db = match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::support::pg_database().await),
    };
    let mut cmd = crate::support::cli(
        &["backup", "restore", &backup_id, "--keys", app.data.path().join("keys").to_str().unwrap()],
        restored.path(),
        restored_db.as_deref(),
    );
    let out = cmd.env("KINORA_CONFIG", cfg_s).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 parts unreadable"), "{text}");
    let mut restored_tables = None;
    if let (Some(dir), Some(db)) = (std::env::var("KINORA_TEST_POSTGRES_DATA").ok(), restored_db.as_ref()) {
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db).await.unwrap();
        let oid: String =
            sqlx::query_scalar("SELECT CAST(oid AS TEXT) FROM pg_database WHERE datname = current_database()").fetch_one(&mut conn).await.unwrap();
        restored_tables = Some(Path::new(&dir).join("base").join(oid));
        // Nothing in the restored rows points at it.
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM reports WHERE account_id = '{zed_id}' OR details LIKE '%5521%'"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM log_entries WHERE subject_account = '{zed_id}'")).fetch_one(&mut conn).await.unwrap();
        assert_eq!(n, 0);
    }
    for (what, needle) in &needles {
        for root in
            [Some(app.data.path().to_owned()), Some(backup.path().to_owned()), pg_tables.clone(), Some(restored.path().to_owned()), restored_tables.clone()]
                .into_iter()
                .flatten()
        {
            let found = files_with(&root, needle);
            assert!(found.is_empty(), "{what} survives the erasure in {found:?}");
        }
    }
    // Its id is in no restored row either (SQLite: a byte scan of the restored file).
    if b == Backend::Sqlite {
        let found = files_with(restored.path(), zed_id.as_bytes());
        if !found.is_empty() {
            let url = format!("sqlite://{}", restored.path().join("kinora.sqlite3").display());
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut conn).await.unwrap();
            let mut hits = Vec::new();
            for t in tables {
                let cols: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{t}')")).fetch_all(&mut conn).await.unwrap_or_default();
                for c in cols {
                    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE CAST({c} AS TEXT) LIKE '%{zed_id}%'"))
                        .fetch_one(&mut conn)
                        .await
                        .unwrap_or(0);
                    if n > 0 {
                        hits.push(format!("{t}.{c}"));
                    }
                }
            }
            panic!("the erased account's id is in the restored database: {found:?}; rows: {hits:?}");
        }
    }

    // The residency check names leftovers of an erased account, and backups outside
    // the backup region.
    let verify = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
        cmd.args(["verify", "residency", "--json", "--data"]).arg(app.data.path()).arg("--config").arg(&cfg);
        if let Some(url) = &app.db_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap())
    };
    let (code, report) = verify();
    assert_eq!(code, Some(0), "{report}");
    std::fs::create_dir_all(home.join("avatars").join(&zed_id)).unwrap();
    std::fs::write(home.join("avatars").join(&zed_id).join("left.jpg"), b"left behind").unwrap();
    std::fs::create_dir_all(home.join("backups").join("x")).unwrap();
    std::fs::write(home.join("backups").join("x").join("manifest.json"), b"{}").unwrap();
    let (code, report) = verify();
    assert_eq!(code, Some(1));
    let kinds: Vec<&str> = report["violations"].as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["backup-misplaced", "erased-remnant"], "{report}");
}

/// A bucket with versioning on a moto server; returns its storage URL and how to
/// list its versions.
async fn versioned_bucket(server_var: &str, name: &str) -> (String, String) {
    let server = std::env::var(server_var).unwrap_or_else(|_| panic!("{server_var} is not set: run the suite with scripts/test, which starts moto"));
    let c = reqwest::Client::new();
    assert!(c.put(format!("{server}/{name}")).send().await.unwrap().status().is_success());
    let body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
    assert!(c.put(format!("{server}/{name}?versioning")).body(body).send().await.unwrap().status().is_success());
    (format!("s3://{name}?endpoint={server}&region=us-east-1"), format!("{server}/{name}?versions"))
}

/// Erasure on buckets that keep versions: no version and no delete marker of the
/// account's objects is left in its home region or its backup.
async fn erasure_removes_every_version_in_s3(b: Backend) {
    let tag = format!("{}{}", std::process::id(), if b == Backend::Sqlite { "s" } else { "p" });
    let (home, home_versions) = versioned_bucket("KINORA_TEST_S3_A", &format!("kin-ver-{tag}-home")).await;
    let (copy, copy_versions) = versioned_bucket("KINORA_TEST_S3_B", &format!("kin-ver-{tag}-copy")).await;
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("kinora.toml");
    std::fs::write(
        &cfg,
        format!(
            "[regions.home]\nstorage = \"{home}\"\njurisdiction = \"EU\"\n[regions.copy]\nstorage = \"{copy}\"\njurisdiction = \"EU\"\n\
             [residency]\nprimary = \"home\"\nbackup = \"copy\"\n[accounts]\nerasure_grace_hours = 0\n"
        ),
    )
    .unwrap();
    let cfg_s: &'static str = Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str());
    let env = [("KINORA_CONFIG", cfg_s), ("AWS_ACCESS_KEY_ID", "kinora-test"), ("AWS_SECRET_ACCESS_KEY", "kinora-test"), ("AWS_REGION", "us-east-1")];
    let app = TestApp::spawn_with(b, &env).await;
    let token = app.signup("versioned").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "v.mp4", 180, 320, 1), "kept in versions?", "public").await;
    assert_eq!(v["status"], "ready");
    let count = |url: String| async move {
        let xml = reqwest::get(url).await.unwrap().text().await.unwrap();
        xml.matches("<Version>").count() + xml.matches("<DeleteMarker>").count()
    };
    let start = Instant::now();
    while count(copy_versions.clone()).await < 4 {
        assert!(start.elapsed() < Duration::from_secs(60), "replicas never arrived");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(count(home_versions.clone()).await >= 4);
    let r = app.client.delete(app.url("/api/v1/me")).bearer_auth(&token).json(&json!({"password": "correct horse battery"})).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let start = Instant::now();
    loop {
        let (h, c) = (count(home_versions.clone()).await, count(copy_versions.clone()).await);
        if h == 0 && c == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "versions left: home {h}, backup {c}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
