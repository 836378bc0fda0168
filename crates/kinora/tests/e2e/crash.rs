//! Crash safety: `kill -9` during a transcode, and a crash between "files written"
//! and "video ready", never publish a video without its files and leave no orphan
//! files; the job resumes after restart. A job that keeps failing ends `failed`.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

both!(kill9_during_transcode, crash_before_publish, failing_job_gives_up);

const FAST_LEASE: &[(&str, &str)] = &[("KINORA_MEDIA_JOB_LEASE_SECS", "2")];

/// Files under `dir`, relative.
fn files(dir: &Path) -> HashSet<String> {
    let mut out = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// After a video is ready: its media folder holds exactly the objects the API
/// names, and no scratch or staging file is left.
pub(crate) async fn assert_clean(app: &TestApp, token: &str, id: &str) {
    let (_, v) = app.get_json(&format!("/api/v1/videos/{id}"), Some(token)).await;
    let mut named: HashSet<String> =
        v["sources"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect();
    for k in ["poster_url", "preview_url"] {
        named.insert(v[k].as_str().unwrap().rsplit('/').next().unwrap().to_owned());
    }
    for url in v["sources"].as_array().unwrap().iter().map(|s| s["url"].as_str().unwrap()) {
        assert_eq!(app.get(url, Some(token)).await.status(), 200, "{url}");
    }
    let media = app.data.path().join("regions/local/media").join(id);
    let start = Instant::now();
    loop {
        let on_disk = files(&media);
        let leftovers: Vec<_> = files(&app.data.path().join("work")).into_iter().chain(files(&app.data.path().join("staging"))).collect();
        if on_disk == named && leftovers.is_empty() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "orphans: media {on_disk:?} vs {named:?}; scratch {leftovers:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn kill9_during_transcode(b: Backend) {
    let app = TestApp::spawn_with(b, FAST_LEASE).await;
    let token = app.signup("crashy").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "long.mp4", 720, 1280, 12);
    let (s, v) = app.upload(Some(&token), &f, "long.mp4", "survives", "public").await;
    assert_eq!(s, 202);
    let id = v["id"].as_str().unwrap().to_owned();
    // Wait until ffmpeg is writing renditions in the job's scratch directory.
    let work = app.data.path().join("work");
    let start = Instant::now();
    while !files(&work).iter().any(|f| f.ends_with("p.mp4")) {
        assert!(start.elapsed() < Duration::from_secs(60), "transcode never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (b, data, db) = app.kill9().await;
    // The video is not published, and ffmpeg died with the server.
    let app = TestApp::spawn_in(b, data, db, FAST_LEASE).await;
    let (_, mid) = app.get_json(&format!("/api/v1/videos/{id}"), Some(&token)).await;
    assert_eq!(mid["status"], "processing");
    assert!(mid.get("sources").is_none());
    let v = app.wait(&token, &id).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_clean(&app, &token, &id).await;
}

async fn crash_before_publish(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_FAULT_CRASH_BEFORE_PUBLISH", "1"), FAST_LEASE[0]]).await;
    let token = app.signup("crashy2").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "c.mp4", 480, 854, 2);
    let (s, v) = app.upload(Some(&token), &f, "c.mp4", "", "public").await;
    assert_eq!(s, 202);
    let id = v["id"].as_str().unwrap().to_owned();
    // The worker writes every object, then the process dies before publishing.
    let (b, data, db) = app.wait_exit().await;
    assert!(!files(&data.path().join("regions/local/media").join(&id)).is_empty(), "objects were written");
    let app = TestApp::spawn_in(b, data, db, FAST_LEASE).await;
    let (_, mid) = app.get_json(&format!("/api/v1/videos/{id}"), Some(&token)).await;
    assert_eq!(mid["status"], "processing", "never published without the transaction");
    let v = app.wait(&token, &id).await;
    assert_eq!(v["status"], "ready", "{v}");
    assert_clean(&app, &token, &id).await;
}

async fn failing_job_gives_up(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_MEDIA_FFPROBE", "/nonexistent/ffprobe"), ("KINORA_MEDIA_MAX_ATTEMPTS", "2")]).await;
    let token = app.signup("unlucky").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "x.mp4", 64, 64, 1);
    let v = app.upload_and_wait(&token, &f, "", "public").await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["error"]["code"], "internal");
    assert!(app.healthy().await);
}
