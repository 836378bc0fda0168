//! `kinora media reprocess`: re-transcodes from originals with the current limits
//! and profiles, and an interrupted run resumes when run again.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::crash::assert_clean;
use crate::support::{clip, Backend, TestApp};
use std::process::Stdio;

both!(reprocess_resumes_and_applies_current_limits);

fn cli(data: &std::path::Path, db: &Option<String>, args: &[&str]) -> std::process::Command {
    let mut c = crate::support::cli(&["media", "reprocess"], data, db.as_deref());
    c.args(args).env("KINORA_MEDIA_JOB_LEASE_SECS", "1").stdin(Stdio::null());
    c
}

async fn reprocess_resumes_and_applies_current_limits(b: Backend) {
    // A strict instance: videos over 2 s are refused.
    let app = TestApp::spawn_with(b, &[("KINORA_LIMITS_MAX_DURATION_SECS", "2.0")]).await;
    let token = app.signup("rerun").await;
    let dir = tempfile::tempdir().unwrap();
    let short = app.upload_and_wait(&token, &clip(dir.path(), "s.mp4", 360, 640, 1), "short", "public").await;
    let long = app.upload_and_wait(&token, &clip(dir.path(), "l.mp4", 360, 640, 3), "long", "public").await;
    assert_eq!(short["status"], "ready");
    assert_eq!(long["error"]["code"], "media-too-long", "{long}");
    let (b, data, db) = app.kill9().await;

    // Start a run and kill it mid-way, once it has queued its work.
    let mut first = cli(data.path(), &db, &["--all"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(first.stderr.take().unwrap()));
    assert!(lines.any(|l| l.map(|l| l.contains("videos queued")).unwrap_or(false)));
    std::thread::sleep(std::time::Duration::from_millis(300));
    first.kill().unwrap();
    first.wait().unwrap();

    // Run again with no ids: it finishes what is queued, under today's default limits.
    let out = cli(data.path(), &db, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("to reprocess"), "{stderr}");

    let app = TestApp::spawn_in(b, data, db, &[]).await;
    for v in [&short, &long] {
        let id = v["id"].as_str().unwrap();
        let (_, now) = app.get_json(&format!("/api/v1/videos/{id}"), Some(&token)).await;
        assert_eq!(now["status"], "ready", "{now}");
        assert_clean(&app, &token, id).await;
    }
    // Unknown ids are refused.
    let bad = cli(app.data.path(), &app.db_url, &["AAAAAAAAAAAAAAAA"]).output().unwrap();
    assert!(!bad.status.success());
}
