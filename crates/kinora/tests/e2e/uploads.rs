//! Resumable uploads: the tus protocol by hand, then tuspy (the tus project's
//! Python client) for a full upload and for one interrupted at ~40% by `kill -9`
//! of the server and resumed after the restart.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use base64::Engine;
use serde_json::Value;
use sha1::Digest;
use std::path::Path;

both!(tus_protocol, tuspy_full_and_resumed_after_kill9, logs_follow_a_request_and_a_job);

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn tus(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(token).header("Tus-Resumable", "1.0.0")
}

async fn create(app: &TestApp, token: &str, len: usize, meta: &str) -> reqwest::Response {
    tus(app, reqwest::Method::POST, "/api/v1/uploads", token).header("Upload-Length", len.to_string()).header("Upload-Metadata", meta).send().await.unwrap()
}

async fn patch(app: &TestApp, token: &str, loc: &str, offset: usize, body: Vec<u8>) -> reqwest::RequestBuilder {
    tus(app, reqwest::Method::PATCH, loc, token)
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(body)
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

async fn tus_protocol(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_UPLOADS_MAX_CONCURRENT", "3")]).await;
    let token = app.signup("tusser").await;
    let other = app.signup("stranger").await;
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::read(clip(dir.path(), "t.mp4", 192, 340, 2)).unwrap();
    let n = file.len();

    let opts = app.client.request(reqwest::Method::OPTIONS, app.url("/api/v1/uploads")).send().await.unwrap();
    assert_eq!(opts.status(), 204);
    assert_eq!(header(&opts, "tus-version"), "1.0.0");
    for ext in ["creation", "creation-with-upload", "termination", "expiration", "checksum"] {
        assert!(header(&opts, "tus-extension").split(',').any(|e| e == ext), "{ext}");
    }
    assert!(header(&opts, "tus-checksum-algorithm").contains("sha1"));

    // Missing Tus-Resumable: 412. No token: 401.
    let r = app.client.post(app.url("/api/v1/uploads")).bearer_auth(&token).header("Upload-Length", "10").send().await.unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(header(&r, "tus-version"), "1.0.0");
    let r = app.client.post(app.url("/api/v1/uploads")).header("Tus-Resumable", "1.0.0").header("Upload-Length", "10").send().await.unwrap();
    assert_eq!(r.status(), 401);

    let meta = format!("filename {},caption {},visibility {}", b64(b"-evil\nname.mp4"), b64("résumé #tus".as_bytes()), b64(b"followers"));
    let r = create(&app, &token, n, &meta).await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "tus-resumable"), "1.0.0");
    assert!(!header(&r, "upload-expires").is_empty());
    let loc = header(&r, "location").to_owned();
    assert!(loc.starts_with("/api/v1/uploads/"), "{loc}");

    // Someone else's upload does not exist for them.
    let r = tus(&app, reqwest::Method::HEAD, &loc, &other).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let half = n / 2;
    let r = patch(&app, &token, &loc, 0, file[..half].to_vec()).await.send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), half.to_string());
    // Wrong offset: 409. Wrong content type: 415.
    let r = patch(&app, &token, &loc, 5, file[5..10].to_vec()).await.send().await.unwrap();
    assert_eq!(r.status(), 409);
    let r = tus(&app, reqwest::Method::PATCH, &loc, &token)
        .header("Upload-Offset", half.to_string())
        .header("Content-Type", "application/octet-stream")
        .body(file[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Bad checksum: 460 and the chunk is discarded.
    let r = patch(&app, &token, &loc, half, file[half..half + 100].to_vec())
        .await
        .header("Upload-Checksum", format!("sha1 {}", b64(&sha1::Sha1::digest(b"something else"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 460);
    let r = tus(&app, reqwest::Method::HEAD, &loc, &token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "upload-offset"), half.to_string());
    assert_eq!(header(&r, "upload-length"), n.to_string());
    assert_eq!(header(&r, "cache-control"), "no-store");
    // Good checksum on the rest: done, with the video id.
    let rest = file[half..].to_vec();
    let r = patch(&app, &token, &loc, half, rest.clone())
        .await
        .header("Upload-Checksum", format!("sha1 {}", b64(&sha1::Sha1::digest(&rest))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), n.to_string());
    let video = header(&r, "kinora-video-id").to_owned();
    assert!(!video.is_empty());
    let r = tus(&app, reqwest::Method::HEAD, &loc, &token).send().await.unwrap();
    assert_eq!(header(&r, "kinora-video-id"), video);
    let v = app.wait(&token, &video).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["caption"], "résumé #tus");
    assert_eq!(v["visibility"], "followers");
    assert_eq!(app.get_json(&format!("/api/v1/videos/{video}"), Some(&other)).await.0, 404);

    // Creation with upload, in one request.
    let r = tus(&app, reqwest::Method::POST, "/api/v1/uploads", &token)
        .header("Upload-Length", n.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "upload-offset"), n.to_string());
    assert!(!header(&r, "kinora-video-id").is_empty());

    // Termination: then 404.
    let r = create(&app, &token, n, "").await;
    let loc2 = header(&r, "location").to_owned();
    let r = tus(&app, reqwest::Method::DELETE, &loc2, &token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(tus(&app, reqwest::Method::HEAD, &loc2, &token).send().await.unwrap().status(), 404);
    assert_eq!(patch(&app, &token, &loc2, 0, vec![1, 2, 3]).await.send().await.unwrap().status(), 404);

    // Quota: three open uploads at most here.
    for _ in 0..3 {
        assert_eq!(create(&app, &token, n, "").await.status(), 201);
    }
    let r = create(&app, &token, n, "").await;
    assert_eq!(r.status(), 403);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "quota-exceeded");
    // Too large and past-the-end bodies.
    assert_eq!(create(&app, &other, 1 << 40, "").await.status(), 413);
    let r = create(&app, &other, 10, "").await;
    let loc3 = header(&r, "location").to_owned();
    assert_eq!(patch(&app, &other, &loc3, 0, vec![0; 11]).await.send().await.unwrap().status(), 413);
    assert_eq!(header(&tus(&app, reqwest::Method::HEAD, &loc3, &other).send().await.unwrap(), "upload-offset"), "0");
}

async fn expired_uploads_vanish(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_UPLOADS_EXPIRY_HOURS", "0")]).await;
    let token = app.signup("slowpoke").await;
    let r = create(&app, &token, 1000, "").await;
    assert_eq!(r.status(), 201);
    let loc = header(&r, "location").to_owned();
    assert_eq!(tus(&app, reqwest::Method::HEAD, &loc, &token).send().await.unwrap().status(), 404);
    // The start-up sweep removes its file.
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[]).await;
    let id = loc.rsplit('/').next().unwrap();
    let f = app.data.path().join("uploads").join(id);
    for _ in 0..50 {
        if !f.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!f.exists(), "expired upload's bytes are still on disk");
}

both!(expired_uploads_vanish);

pub(crate) fn tuspy(app: &TestApp, token: &str, file: &Path, extra: &[&str]) -> Value {
    let py = std::env::var("KINORA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")).join("tests/tus_client.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(&app.base)
        .arg(file)
        .env("KINORA_TOKEN", token)
        .args(extra)
        .output()
        .expect("python3 with tuspy (scripts/test installs it)");
    assert!(out.status.success(), "tuspy: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn tuspy_full_and_resumed_after_kill9(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("pyuser").await;
    let dir = tempfile::tempdir().unwrap();
    let file = clip(dir.path(), "py.mp4", 360, 640, 3);
    let size = std::fs::metadata(&file).unwrap().len();

    let full = tuspy(&app, &token, &file, &["--checksum", "--caption", "from tuspy"]);
    let id = full["video_id"].as_str().unwrap();
    assert_eq!(full["offset"].as_u64(), Some(size));
    let v = app.wait(&token, id).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_eq!(v["caption"], "from tuspy");

    // Stop at ~40%, then kill -9 the server.
    let chunk = (size / 20).max(1);
    let stop = size * 4 / 10;
    let part = tuspy(&app, &token, &file, &["--chunk", &chunk.to_string(), "--stop-at", &stop.to_string()]);
    let offset = part["offset"].as_u64().unwrap();
    assert!(offset >= stop && offset < size, "offset {offset} of {size}");
    assert!(part["video_id"].is_null());
    let url = part["url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&app.base).unwrap().to_owned();
    let (b, data, db) = app.kill9().await;

    // Restart on the same data and database; resume where the server says.
    let app = TestApp::spawn_in(b, data, db, &[]).await;
    let new_url = format!("{}{}", app.base, path);
    let done = tuspy(&app, &token, &file, &["--url", &new_url, "--chunk", &chunk.to_string()]);
    assert_eq!(done["offset"].as_u64(), Some(size));
    let id = done["video_id"].as_str().unwrap();
    let v = app.wait(&token, id).await;
    assert_eq!(v["status"], "ready", "{v}");
    // The original equals the file byte for byte.
    let original = app.data.path().join("regions/local/originals").join(id);
    assert_eq!(std::fs::read(original).unwrap(), std::fs::read(&file).unwrap());
}

/// A request's id comes back to the client (the one it sent, if it is a plain
/// token; a new one otherwise), and a job's log lines can be followed from claim
/// to finish by its id, each carrying the video it works on.
async fn logs_follow_a_request_and_a_job(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("logger").await;
    let r = app.client.get(app.url("/api/v1/me")).bearer_auth(&token).header("X-Request-Id", "support-ticket-42").send().await.unwrap();
    assert_eq!(header(&r, "x-request-id"), "support-ticket-42");
    let r = app.client.get(app.url("/healthz")).header("X-Request-Id", "bad id <script>").send().await.unwrap();
    let fresh = header(&r, "x-request-id").to_owned();
    assert!(!fresh.is_empty() && fresh.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{fresh:?}");
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "l.mp4", 240, 426, 1);
    let v = app.upload_and_wait(&token, &f, "logged", "public").await;
    let id = v["id"].as_str().unwrap();
    let log = app.log_text();
    let claimed = log
        .lines()
        .find(|l| l.contains("job claimed") && l.contains(&format!("video={id}")))
        .unwrap_or_else(|| panic!("no 'job claimed' line for video {id}:\n{}", app.log_tail()));
    let job = claimed.split("job=").nth(1).and_then(|s| s.split([' ', '}']).next()).unwrap();
    assert!(
        log.lines().any(|l| l.contains("job finished") && l.contains(&format!("job={job}")) && l.contains(&format!("video={id}"))),
        "no 'job finished' line for job {job}:\n{}",
        app.log_tail()
    );
}
