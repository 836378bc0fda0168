//! Regression tests for what the security and code review found, each named for
//! the failure it pins. Each failed before its fix.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, ffmpeg, Backend, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both!(
    regression_1_signin_is_limited_per_address_and_parses_first,
    regression_3_private_accounts_media_is_not_publicly_cacheable,
    regression_4_likers_list_hides_private_likes,
    regression_5_limits_key_on_the_client_behind_a_trusted_proxy,
    regression_6_deleting_while_transcoding_never_publishes_and_removes_files,
    regression_7_pending_jobs_are_capped_per_account,
    regression_8_owner_deletes_comment_of_someone_they_blocked,
    regression_9_profile_pictures_over_2_mib,
    regression_11_housekeeping_survives_an_upload_that_cannot_finish,
    regression_12_password_change_and_sign_out_everywhere,
    regression_12_anonymous_views_do_not_inflate_counts,
    regression_13_someone_who_blocked_you_cannot_be_blocked_back_blindly,
);

async fn post_json(app: &TestApp, path: &str, token: Option<&str>, body: Value, xff: Option<&str>) -> (u16, Value) {
    let mut r = app.client.post(app.url(path)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(x) = xff {
        r = r.header("x-forwarded-for", x);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn send(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> u16 {
    app.client.request(method, app.url(path)).bearer_auth(token).send().await.unwrap().status().as_u16()
}

async fn regression_1_signin_is_limited_per_address_and_parses_first(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_SIGNIN_PER_MINUTE_PER_ADDRESS", "4")]).await;
    // A 1.5 MB username is refused as wrong credentials at once; it is never a key.
    let huge = "a".repeat(1_500_000);
    let start = Instant::now();
    let (s, body) = post_json(&app, "/api/v1/auth/token", None, json!({"username": huge, "password": "whatever1"}), None).await;
    assert_eq!(s, 401, "{body}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // Different usernames from one address share the address's limit.
    for name in ["nobody_a", "nobody_b", "nobody_c"] {
        assert_eq!(app.token(name, "wrong password").await.unwrap_err().0, 401);
    }
    let (s, body) = app.token("nobody_d", "wrong password").await.unwrap_err();
    assert_eq!(s, 429, "the fifth attempt from one address is limited: {body}");
    assert_eq!(body["error"]["code"], "rate-limited");
}

async fn regression_3_private_accounts_media_is_not_publicly_cacheable(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "", "public").await;
    let src = v["sources"][0]["url"].as_str().unwrap().to_owned();
    let cc = |r: &reqwest::Response| r.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cc(&app.get(&src, None).await).starts_with("public"));
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/alice/follow", &bob).await, 200);
    let (s, _) =
        app.client.patch(app.url("/api/v1/me")).bearer_auth(&alice).json(&json!({"private": true})).send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(s, 200);
    assert_eq!(app.get(&src, None).await.status(), 404, "strangers no longer see it");
    let r = app.get(&src, Some(&bob)).await;
    assert_eq!(r.status(), 200, "followers still do");
    let c = cc(&r);
    assert!(c.starts_with("private") && !c.contains("s-maxage"), "a CDN must not keep it: {c}");
    assert!(cc(&app.get(&src, Some(&alice)).await).starts_with("private"));
}

async fn regression_4_likers_list_hides_private_likes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "", "public").await;
    let id = v["id"].as_str().unwrap();
    assert_eq!(send(&app, reqwest::Method::POST, &format!("/api/v1/videos/{id}/like"), &bob).await, 200);
    let names = |j: &Value| j["items"].as_array().unwrap().iter().map(|i| i["username"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let path = format!("/api/v1/videos/{id}/likes");
    // Likes are private by default: neither strangers nor the video's owner see who.
    assert!(names(&app.get_json(&path, Some(&carol)).await.1).is_empty());
    assert!(names(&app.get_json(&path, None).await.1).is_empty());
    assert!(names(&app.get_json(&path, Some(&alice)).await.1).is_empty());
    assert_eq!(names(&app.get_json(&path, Some(&bob)).await.1), ["bob"], "you see your own like");
    // The count still says one.
    assert_eq!(app.get_json(&format!("/api/v1/videos/{id}"), None).await.1["counts"]["likes"], 1);
    let r = app.client.patch(app.url("/api/v1/me")).bearer_auth(&bob).json(&json!({"likes_public": true})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(names(&app.get_json(&path, Some(&carol)).await.1), ["bob"]);
    // A private account's likes are for its followers.
    let r = app.client.patch(app.url("/api/v1/me")).bearer_auth(&bob).json(&json!({"private": true})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(names(&app.get_json(&path, Some(&carol)).await.1).is_empty());
}

async fn regression_5_limits_key_on_the_client_behind_a_trusted_proxy(b: Backend) {
    let env = [("KINORA_SERVER_TRUSTED_PROXIES", "127.0.0.1, ::1"), ("KINORA_RATE_LIMITS_SIGNUP_PER_HOUR", "2")];
    let app = TestApp::spawn_with(b, &env).await;
    let signup = |n: &'static str, xff: &'static str| {
        let app = &app;
        async move { post_json(app, "/api/v1/accounts", None, json!({"username": n, "password": "long enough pw"}), Some(xff)).await.0 }
    };
    assert_eq!(signup("proxied_a", "198.51.100.1").await, 201);
    assert_eq!(signup("proxied_b", "198.51.100.1").await, 201);
    assert_eq!(signup("proxied_c", "198.51.100.1").await, 429, "one client is limited");
    assert_eq!(signup("proxied_d", "198.51.100.2").await, 201, "another client behind the same proxy is not");
    // A client cannot escape its key by prepending a forged address.
    assert_eq!(signup("proxied_e", "6.6.6.6, 198.51.100.1").await, 429);
    // IPv6 clients count per /64.
    assert_eq!(signup("proxied_f", "2001:db8:1:2::1").await, 201);
    assert_eq!(signup("proxied_g", "2001:db8:1:2::ffff").await, 201);
    assert_eq!(signup("proxied_h", "2001:db8:1:2:abcd::9").await, 429);
    // Without trusted proxies the header is ignored: the peer is the client.
    let plain = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_SIGNUP_PER_HOUR", "1")]).await;
    let (s, _) = post_json(&plain, "/api/v1/accounts", None, json!({"username": "plain_a", "password": "long enough pw"}), Some("1.1.1.1")).await;
    assert_eq!(s, 201);
    let (s, _) = post_json(&plain, "/api/v1/accounts", None, json!({"username": "plain_b", "password": "long enough pw"}), Some("2.2.2.2")).await;
    assert_eq!(s, 429);
}

/// The status stored for a video, read from the database itself.
async fn stored_status(app: &TestApp, id: &str) -> String {
    sqlx::any::install_default_drivers();
    let url = match &app.db_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", app.data.path().join("kinora.sqlite3").display()),
    };
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query_scalar::<_, String>("SELECT status FROM videos WHERE id = $1").bind(id).fetch_one(&mut conn).await.unwrap()
}

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0)
}

async fn regression_6_deleting_while_transcoding_never_publishes_and_removes_files(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "long.mp4", 1080, 1920, 6);
    let (s, v) = app.upload(Some(&alice), &f, "long.mp4", "gone soon", "public").await;
    assert_eq!(s, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    // Wait until the worker is transcoding (its job directory exists), then delete.
    let work = app.data.path().join("work");
    let start = Instant::now();
    while files_under(&work) == 0 {
        assert!(start.elapsed() < Duration::from_secs(60), "the transcode never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(send(&app, reqwest::Method::DELETE, &format!("/api/v1/videos/{id}"), &alice).await, 204);
    let region = app.data.path().join("regions").join("local");
    let media = region.join("media").join(&id);
    let original = region.join("originals").join(&id);
    let start = Instant::now();
    // Done when the worker has finished with it (its scratch directory is gone)
    // and nothing of the video is left in its region.
    while files_under(&work) > 0 || files_under(&media) > 0 || original.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "files left: media {} original {}", files_under(&media), original.exists());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(files_under(&media) == 0 && !original.exists());
    assert_ne!(stored_status(&app, &id).await, "ready", "a deleted video is never published");
    assert_eq!(app.get_json(&format!("/api/v1/videos/{id}"), Some(&alice)).await.0, 404);
}

async fn regression_7_pending_jobs_are_capped_per_account(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_UPLOADS_MAX_PENDING_JOBS", "2"), ("KINORA_WORKERS", "0")]).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "a.mp4", 180, 320, 1);
    for _ in 0..2 {
        assert_eq!(app.upload(Some(&alice), &f, "a.mp4", "", "public").await.0, 202);
    }
    let (s, body) = app.upload(Some(&alice), &f, "a.mp4", "", "public").await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["error"]["code"], "quota-exceeded");
    // Resumable uploads count too.
    let r =
        app.client.post(app.url("/api/v1/uploads")).bearer_auth(&alice).header("tus-resumable", "1.0.0").header("upload-length", "100").send().await.unwrap();
    assert_eq!(r.status(), 403);
    // Someone else is not held back.
    assert_eq!(app.upload(Some(&bob), &f, "a.mp4", "", "public").await.0, 202);
}

async fn regression_8_owner_deletes_comment_of_someone_they_blocked(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let troll = app.signup("troll").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "", "public").await;
    let id = v["id"].as_str().unwrap();
    let (s, c) = post_json(&app, &format!("/api/v1/videos/{id}/comments"), Some(&troll), json!({"text": "rude"}), None).await;
    assert_eq!(s, 201, "{c}");
    let cid = c["id"].as_str().unwrap();
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/troll/block", &alice).await, 204);
    assert_eq!(send(&app, reqwest::Method::DELETE, &format!("/api/v1/comments/{cid}"), &alice).await, 204);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{id}"), None).await.1["counts"]["comments"], 0);
}

async fn regression_9_profile_pictures_over_2_mib(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("big.png");
    // Noise does not compress: a PNG of about 4 MiB, like a phone photo.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "nullsrc=s=1800x1800,format=rgb24,geq=r='random(1)*255':g='random(2)*255':b='random(3)*255'",
        "-frames:v",
        "1",
        "-pix_fmt",
        "rgb24",
        png.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 3 << 20 && bytes.len() < 10 << 20, "fixture is {} bytes", bytes.len());
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name("big.png"));
    let r = app.client.post(app.url("/api/v1/me/avatar")).bearer_auth(&alice).multipart(form).send().await.unwrap();
    let s = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(s, 200, "{body}");
    assert!(body["avatar_url"].as_str().unwrap().starts_with("/avatars/"));
}

async fn regression_11_housekeeping_survives_an_upload_that_cannot_finish(b: Backend) {
    // Every finish fails: both uploads end complete but unfinished.
    let app = TestApp::spawn_with(b, &[("KINORA_FAULT_FAIL_FINISH", "*")]).await;
    let token = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "a.mp4", 180, 320, 1);
    let bytes = std::fs::read(&f).unwrap();
    let mut locations = Vec::new();
    for name in ["poison.mp4", "fine.mp4"] {
        let meta = format!("filename {}", base64_of(name));
        let r = app
            .client
            .post(app.url("/api/v1/uploads"))
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", bytes.len().to_string())
            .header("upload-metadata", meta)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let r = app
            .client
            .patch(app.url(&loc))
            .bearer_auth(&token)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500, "the injected fault fails the finish");
        locations.push(loc);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Restart where only the first keeps failing: the start-up sweep must still
    // finish the second.
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[("KINORA_FAULT_FAIL_FINISH", "poison")]).await;
    let start = Instant::now();
    loop {
        let (_, list) = app.get_json("/api/v1/accounts/alice/videos", Some(&token)).await;
        if list["items"].as_array().map(Vec::len) == Some(1) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the healthy upload was never finished: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn regression_12_password_change_and_sign_out_everywhere(b: Backend) {
    let app = TestApp::spawn(b).await;
    let phone = app.signup("alice").await;
    let laptop = app.token("alice", "correct horse battery").await.unwrap();
    let (s, body) =
        post_json(&app, "/api/v1/me/password", Some(&phone), json!({"current_password": "wrong one!", "new_password": "a brand new secret"}), None).await;
    assert_eq!(s, 422, "{body}");
    let (s, body) =
        post_json(&app, "/api/v1/me/password", Some(&phone), json!({"current_password": "correct horse battery", "new_password": "a brand new secret"}), None)
            .await;
    assert_eq!(s, 204, "{body}");
    assert_eq!(app.get_json("/api/v1/me", Some(&laptop)).await.0, 401, "other sessions are signed out");
    assert_eq!(app.get_json("/api/v1/me", Some(&phone)).await.0, 200, "the one that changed it stays");
    assert_eq!(app.token("alice", "correct horse battery").await.unwrap_err().0, 401);
    let fresh = app.token("alice", "a brand new secret").await.unwrap();
    assert_eq!(send(&app, reqwest::Method::DELETE, "/api/v1/me/sessions", &phone).await, 204);
    assert_eq!(app.get_json("/api/v1/me", Some(&phone)).await.0, 401);
    assert_eq!(app.get_json("/api/v1/me", Some(&fresh)).await.0, 401, "everywhere means everywhere");
}

async fn regression_12_anonymous_views_do_not_inflate_counts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "", "public").await;
    let id = v["id"].as_str().unwrap();
    let path = format!("/api/v1/videos/{id}/views");
    for _ in 0..5 {
        assert_eq!(post_json(&app, &path, None, json!({"watched_ms": 900, "completed": true}), None).await.0, 204);
    }
    for _ in 0..3 {
        assert_eq!(post_json(&app, &path, Some(&bob), json!({"watched_ms": 900}), None).await.0, 204);
    }
    let (_, v) = app.get_json(&format!("/api/v1/videos/{id}"), None).await;
    assert_eq!(v["counts"]["views"], 2, "one anonymous address and one account: {v}");
}

async fn regression_13_someone_who_blocked_you_cannot_be_blocked_back_blindly(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/alice/block", &bob).await, 204);
    // For alice, bob does not exist: blocking him answers like a missing account.
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/bob/block", &alice).await, 404);
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/nobody_here/block", &alice).await, 404);
    // Bob may still block again (idempotent) and unblock.
    assert_eq!(send(&app, reqwest::Method::POST, "/api/v1/accounts/alice/block", &bob).await, 204);
    assert_eq!(send(&app, reqwest::Method::DELETE, "/api/v1/accounts/alice/block", &bob).await, 204);
}

// ---------- one backend is enough: these are about HTTP, not data ----------

/// Regression: a connection that sends half its headers is closed, and 1,000 of
/// them do not stop a normal client (the benchmark measures how much they slow it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_2_slow_headers_are_cut_off_and_do_not_block_others() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_SERVER_HEADER_TIMEOUT_SECS", "2")]).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        slow.push(s);
    }
    // A normal client is served while they hang.
    let start = Instant::now();
    assert!(app.healthy().await);
    assert!(start.elapsed() < Duration::from_secs(5));
    // The slow ones are closed after the header timeout.
    let mut buf = [0u8; 256];
    let s = &mut slow[0];
    let r = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("the server never closed a connection with half its headers");
    assert!(matches!(r, Ok(0) | Err(_)) || String::from_utf8_lossy(&buf).contains("408"), "{r:?}");
}

/// Creates a 1000-byte upload, then sends a PATCH by hand: the headers with this
/// `Content-Length` and ten bytes of body. Returns (upload location, the first
/// bytes of the answer, or None if none came within 15 s).
async fn raw_patch(app: &TestApp, token: &str, content_length: &str) -> (String, Option<String>) {
    let r =
        app.client.post(app.url("/api/v1/uploads")).bearer_auth(token).header("tus-resumable", "1.0.0").header("upload-length", "1000").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {content_length}\r\n\r\n0123456789"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let answer = match tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf)).await {
        Ok(Ok(n)) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
        _ => None,
    };
    (loc, answer)
}

/// Regression: a body that stops arriving is cut off; what arrived is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_2_stalled_upload_bodies_time_out() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_SERVER_BODY_TIMEOUT_SECS", "2")]).await;
    let token = app.signup("alice").await;
    let (loc, answer) = raw_patch(&app, &token, "1000").await;
    let answer = answer.expect("a stalled body hangs forever");
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let r = app.client.head(app.url(&loc)).bearer_auth(&token).header("tus-resumable", "1.0.0").send().await.unwrap();
    assert_eq!(r.headers()["upload-offset"], "10", "what arrived before the stall is kept");
}

/// Regression: `received + Content-Length` must not overflow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_14_tus_offset_overflow() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.signup("alice").await;
    let (_, answer) = raw_patch(&app, &token, "9223372036854775800").await;
    let answer = answer.unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(app.healthy().await);
}

/// Regression: CSP and frame-ancestors; pages with CSRF tokens are `no-store`; the
/// CSRF cookie is `Secure` on https; demo content only into an empty instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_14_headers_cookies_and_demo() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_BASE_URL", "https://kinora.example")]).await;
    let r = app.get("/login", None).await;
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("kinora_csrf=") && cookie.contains("Secure"), "{cookie}");
    // Demo content is not seeded into an instance that has people in it.
    app.signup("realperson").await;
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[("KINORA_DEMO", "true")]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.get_json("/api/v1/accounts/aurora", None).await.0, 404);
}

/// Regression: a signed-in person who opens the sign-in page and submits it is
/// signed in again, not answered with a JSON 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_10_signed_in_person_submits_the_sign_in_form() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.signup("alice").await;
    let form_page = app.get("/login", None).await;
    let csrf = form_page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("kinora_csrf=").map(|r| r.split(';').next().unwrap().to_owned()))
        .unwrap();
    let login = |cookie: String| {
        app.client
            .post(app.url("/login"))
            .header("cookie", cookie)
            .form(&[("csrf", csrf.as_str()), ("username", "alice"), ("password", "correct horse battery")])
            .send()
    };
    let r = login(format!("kinora_csrf={csrf}")).await.unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("kinora_session=").map(|r| r.split(';').next().unwrap().to_owned()))
        .unwrap();
    // Signed in, the sign-in page sends you home...
    let r = app.client.get(app.url("/login")).header("cookie", format!("kinora_session={session}")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    // ...and a form opened earlier still works.
    let r = login(format!("kinora_csrf={csrf}; kinora_session={session}")).await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
}

/// Regression: a real tus client sending a 100 MB file in 256 KiB chunks (400
/// PATCHes, over the per-account write limit of 120 a minute) finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_15_tuspy_uploads_100_mb_in_256_kib_chunks() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_WORKERS", "0")]).await;
    let token = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("big.mp4");
    let mut data = vec![0u8; 100 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&f, &data).unwrap();
    let out = crate::uploads::tuspy(&app, &token, &f, &["--chunk", "262144"]);
    assert_eq!(out["offset"], 100 << 20, "{out}");
    assert!(out["video_id"].as_str().is_some(), "{out}");
    // The account's next upload is not refused.
    let small = clip(dir.path(), "a.mp4", 180, 320, 1);
    assert_eq!(app.upload(Some(&token), &small, "a.mp4", "", "public").await.0, 202);
}

/// The shape: pages of the feed loaded by infinite scroll are the same card as
/// the first page (they had drifted: later cards lacked the Report button).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_one_card_for_every_feed_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "a.mp4", 64, 112, 1);
    let mut ids = Vec::new();
    for i in 0..10 {
        let (s, v) = app.upload(Some(&alice), &f, "a.mp4", &format!("clip {i} #tiny"), "public").await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(app.wait(&alice, id).await["status"], "ready");
    }
    let first = app.get("/", None).await.text().await.unwrap();
    let cards = |html: &str| html.matches("<section class=\"card\"").count();
    assert_eq!(cards(&first), 8);
    let next = first.split("data-next=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(!next.is_empty());
    let r = app.get(&format!("/feed/for-you/cards?cursor={next}"), None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-next-cursor").is_none(), "the last page has no next cursor");
    let more = r.text().await.unwrap();
    assert_eq!(cards(&more), 2);
    // Every card, first page or later, is the one template: same rail, Report included.
    for html in [&first, &more] {
        assert_eq!(html.matches("class=\"act report\"").count(), cards(html));
        assert_eq!(html.matches("class=\"act share\"").count(), cards(html));
    }
    assert_eq!(app.get("/feed/nonsense/cards", None).await.status(), 404);
}
