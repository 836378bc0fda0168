//! "Download your data": the archive holds every file the docs list, the original
//! bytes of every video, and what the account did; only its owner can fetch it.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, phone_clip, Backend, TestApp};
use serde_json::{json, Value};
use std::io::Read;
use std::time::{Duration, Instant};

both!(export_holds_everything, export_then_import_elsewhere);

async fn export_holds_everything(b: Backend) {
    use reqwest::Method as M;
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    app.signup("carol").await;
    let dir = tempfile::tempdir().unwrap();
    let phone = phone_clip(dir.path());
    let mine = app.upload_and_wait(&alice, &phone, "from my phone #me", "followers").await;
    let theirs = app.upload_and_wait(&bob, &clip(dir.path(), "b.mp4", 180, 320, 1), "bob's", "public").await;
    let (mine_id, theirs_id) = (mine["id"].as_str().unwrap(), theirs["id"].as_str().unwrap());
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/like"), &alice, None).await.0, 200);
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/comments"), &alice, Some(json!({"text": "nice one"}))).await.0, 201);
    assert_eq!(app.call(M::POST, "/api/v1/accounts/bob/follow", &alice, None).await.0, 200);
    assert_eq!(app.call(M::POST, "/api/v1/accounts/carol/block", &alice, None).await.0, 204);
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{theirs_id}/views"), &alice, Some(json!({"watched_ms": 800, "completed": true}))).await.0, 204);
    assert_eq!(app.call(M::POST, "/api/v1/reports", &alice, Some(json!({"video_id": theirs_id, "reason": "spam"}))).await.0, 201);

    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s, 202, "{e}");
    assert_eq!(e["status"], "pending");
    let id = e["id"].as_str().unwrap().to_owned();
    // Nobody else sees it.
    assert_eq!(app.call(M::GET, &format!("/api/v1/me/exports/{id}"), &bob, None).await.0, 404);
    assert_eq!(app.get_json(&format!("/api/v1/me/exports/{id}"), None).await.0, 401);
    let start = Instant::now();
    let ready = loop {
        let (s, e) = app.call(M::GET, &format!("/api/v1/me/exports/{id}"), &alice, None).await;
        assert_eq!(s, 200, "{e}");
        if e["status"] == "ready" {
            break e;
        }
        assert_ne!(e["status"], "failed", "{e}");
        assert!(start.elapsed() < Duration::from_secs(60), "export never ready: {e}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (_, notes) = app.call(M::GET, "/api/v1/notifications", &alice, None).await;
    assert!(notes["items"].as_array().unwrap().iter().any(|n| n["kind"] == "export_ready"), "{notes}");
    let url = ready["download_url"].as_str().unwrap();
    assert_eq!(app.client.get(app.url(url)).bearer_auth(&bob).send().await.unwrap().status(), 404);
    let r = app.client.get(app.url(url)).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let zip_bytes = r.bytes().await.unwrap();
    assert_eq!(zip_bytes.len() as i64, ready["bytes"].as_i64().unwrap());
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    let mut read = |name: &str| -> Vec<u8> {
        let mut f = z.by_name(name).unwrap_or_else(|_| panic!("{name} is in the archive"));
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        out
    };
    let json_of = |b: Vec<u8>| -> Value { serde_json::from_slice(&b).unwrap() };
    assert!(String::from_utf8(read("README.txt")).unwrap().contains("watch-history.json"));
    let account = json_of(read("account.json"));
    assert_eq!(account["username"], "alice");
    assert_eq!(account["home_region"], "local");
    let videos = json_of(read("videos.json"));
    assert_eq!(videos.as_array().unwrap().len(), 1);
    assert_eq!(videos[0]["id"], mine_id);
    assert_eq!(videos[0]["visibility"], "followers");
    // The original, byte for byte (GPS and all: it is theirs).
    assert_eq!(read(&format!("videos/{mine_id}/original")), std::fs::read(&phone).unwrap());
    assert_eq!(json_of(read("likes.json"))[0]["video_id"], theirs_id);
    assert_eq!(json_of(read("comments.json"))[0]["text"], "nice one");
    assert_eq!(json_of(read("following.json"))[0]["username"], "bob");
    assert_eq!(json_of(read("blocks.json"))[0]["username"], "carol");
    assert_eq!(json_of(read("watch-history.json"))[0]["completed"], true);
    assert_eq!(json_of(read("reports.json"))[0]["reason"], "spam");
    assert_eq!(json_of(read("access-log.json")), json!([]));
    for f in ["followers.json", "mutes.json", "hashtags.json", "notifications.json"] {
        assert!(json_of(read(f)).is_array(), "{f}");
    }
    let names: Vec<String> = (0..z.len()).map(|i| z.by_index(i).unwrap().name().unwrap().to_string()).collect();
    assert!(names.iter().any(|n| n.starts_with(&format!("videos/{mine_id}/")) && n.ends_with(".mp4")), "{names:?}");
}

async fn wait_export(app: &TestApp, token: &str) -> Vec<u8> {
    let (s, e) = app.call(reqwest::Method::POST, "/api/v1/me/exports", token, None).await;
    assert_eq!(s, 202, "{e}");
    let id = e["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let (_, e) = app.call(reqwest::Method::GET, &format!("/api/v1/me/exports/{id}"), token, None).await;
        if e["status"] == "ready" {
            let r = app.client.get(app.url(e["download_url"].as_str().unwrap())).bearer_auth(token).send().await.unwrap();
            return r.bytes().await.unwrap().to_vec();
        }
        assert!(start.elapsed() < Duration::from_secs(60), "export never ready: {e}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(body).unwrap();
    }
    z.finish().unwrap().into_inner()
}

async fn import_api(app: &TestApp, token: &str, body: Vec<u8>) -> (u16, Value) {
    let r = app.client.post(app.url("/api/v1/me/imports")).bearer_auth(token).header("content-type", "application/zip").body(body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn export_then_import_elsewhere(b: Backend) {
    use reqwest::Method as M;
    let from = TestApp::spawn(b).await;
    let alice = from.signup("alice").await;
    let r = from.client.patch(from.url("/api/v1/me")).bearer_auth(&alice).json(&json!({"bio": "moved here"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let a = from.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "first #moved", "public").await;
    let b2 = from.upload_and_wait(&alice, &clip(dir.path(), "b.mp4", 320, 180, 1), "second, friends only", "followers").await;
    let id_b = b2["id"].as_str().unwrap();
    assert_eq!(from.call(M::PATCH, &format!("/api/v1/videos/{id_b}"), &alice, Some(json!({"comments": "off"}))).await.0, 200);
    let archive = wait_export(&from, &alice).await;
    let zip_path = dir.path().join("alice.zip");
    std::fs::write(&zip_path, &archive).unwrap();
    let _ = a;

    let to = TestApp::spawn(b).await;
    // The command line, into a new account, while the server runs.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
    cmd.args(["import"]).arg(&zip_path).args(["--username", "alicia", "--data"]).arg(to.data.path());
    if let Some(url) = &to.db_url {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("imported 2 videos"), "{stdout}");
    let password = stdout.split("password ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let token = to.token("alicia", &password).await.unwrap();
    let (_, me) = to.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me["bio"], "moved here");
    let (_, list) = to.get_json("/api/v1/accounts/alicia/videos", Some(&token)).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    for v in items {
        let done = to.wait(&token, v["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "ready", "{done}");
    }
    let by_caption = |c: &str| items.iter().find(|v| v["caption"] == c).unwrap().clone();
    assert_eq!(by_caption("first #moved")["visibility"], "public");
    assert_eq!(by_caption("second, friends only")["visibility"], "followers");
    assert_eq!(by_caption("second, friends only")["comments"], "off");

    // The API, into an existing account.
    let carl = to.signup("carl").await;
    let (s, body) = import_api(&to, &carl, archive.clone()).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["videos"].as_array().unwrap().len(), 2);

    // Bad archives: a clear error, nothing imported.
    let dave = to.signup("dave").await;
    for (what, bytes) in [
        ("not a zip", b"this is not a zip file at all".to_vec()),
        ("no account.json", zip_of(&[("videos.json", b"[]")])),
        (
            "a listed video without its file",
            zip_of(&[("account.json", b"{}"), ("videos.json", br#"[{"id":"AbCdEfGhIjKlMnOp","caption":"x","visibility":"public"}]"#)]),
        ),
        ("broken json", zip_of(&[("account.json", b"{"), ("videos.json", b"[]")])),
    ] {
        let (s, body) = import_api(&to, &dave, bytes).await;
        assert_eq!(s, 422, "{what}: {body}");
        assert_eq!(body["error"]["code"], "invalid-archive", "{what}");
    }
    let (_, list) = to.get_json("/api/v1/accounts/dave/videos", Some(&dave)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // The command line with a bad archive makes no account.
    let bad = dir.path().join("bad.zip");
    std::fs::write(&bad, b"garbage").unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kinora"));
    cmd.args(["import"]).arg(&bad).args(["--username", "nobodyhere", "--data"]).arg(to.data.path());
    if let Some(url) = &to.db_url {
        cmd.arg("--database-url").arg(url);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid-archive"));
    assert_eq!(to.get_json("/api/v1/accounts/nobodyhere", None).await.0, 404);
}
