//! Hostile files that pass as media but are built to exhaust or escape: each is
//! refused from ffprobe's report before any decode, with its own error code, while
//! the server keeps answering `/healthz`.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, ffmpeg, Backend, TestApp};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

both!(bombs_are_refused_and_server_stays_up);

fn make(dir: &Path, name: &str, args: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let mut a = args.to_vec();
    a.push(out.to_str().unwrap());
    ffmpeg(&a);
    out
}

/// Finds a box by path (e.g. `["moov", "mvhd"]`) in MP4 bytes: (start, size).
fn find_box(bytes: &[u8], path: &[&str]) -> Option<(usize, usize)> {
    let (mut lo, mut hi) = (0usize, bytes.len());
    let mut found = None;
    for (depth, want) in path.iter().enumerate() {
        let mut i = lo;
        found = None;
        while i + 8 <= hi {
            let size = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
            if size < 8 || i + size > hi {
                return None;
            }
            if &bytes[i + 4..i + 8] == want.as_bytes() {
                found = Some((i, size));
                break;
            }
            i += size;
        }
        let (s, size) = found?;
        if depth + 1 < path.len() {
            // Container boxes: children start after the 8-byte header; dref/stsd are
            // full boxes with 8 more bytes, handled by callers.
            lo = s + 8;
            hi = s + size;
        }
    }
    found
}

/// Rewrites the first track's data reference to point outside the file, fixing
/// every enclosing box size. The file must have its `moov` after `mdat`, so no
/// chunk offset moves.
fn external_dref(bytes: &[u8], url: &str) -> Vec<u8> {
    let path = ["moov", "trak", "mdia", "minf", "dinf", "dref"];
    let (start, size) = find_box(bytes, &path).expect("dref box");
    let mut entry = Vec::new();
    let body = [&[0u8, 0, 0, 0][..], url.as_bytes(), &[0]].concat(); // flags 0: not self-contained
    entry.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
    entry.extend_from_slice(b"url ");
    entry.extend_from_slice(&body);
    let mut dref = Vec::new();
    dref.extend_from_slice(&((16 + entry.len()) as u32).to_be_bytes());
    dref.extend_from_slice(b"dref");
    dref.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    dref.extend_from_slice(&entry);
    let delta = dref.len() as i64 - size as i64;
    let mut out = [&bytes[..start], &dref[..], &bytes[start + size..]].concat();
    for depth in 1..path.len() {
        let (s, _) = find_box(bytes, &path[..depth]).unwrap();
        let old = i64::from(u32::from_be_bytes(bytes[s..s + 4].try_into().unwrap()));
        out[s..s + 4].copy_from_slice(&((old + delta) as u32).to_be_bytes());
    }
    out
}

/// Multiplies the movie header's declared duration.
fn lying_duration(bytes: &[u8], factor: u32) -> Vec<u8> {
    let (s, _) = find_box(bytes, &["moov", "mvhd"]).expect("mvhd");
    let mut out = bytes.to_vec();
    assert_eq!(out[s + 8], 0, "version 0 mvhd");
    let at = s + 8 + 4 + 4 + 4 + 4; // version/flags, ctime, mtime, timescale
    let d = u32::from_be_bytes(out[at..at + 4].try_into().unwrap());
    out[at..at + 4].copy_from_slice(&(d * factor).to_be_bytes());
    out
}

async fn bombs_are_refused_and_server_stays_up(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("bomber").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    {
        let hits = hits.clone();
        tokio::spawn(async move {
            while let Ok(_c) = listener.accept().await {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });
    }

    let sixty_four: Vec<String> = (0..64).flat_map(|_| ["-map".to_string(), "1:a".to_string()]).collect();
    let mut many_args: Vec<&str> = vec!["-t", "1", "-f", "lavfi", "-i", "color=s=32x32:r=10", "-t", "1", "-f", "lavfi", "-i", "sine", "-map", "0:v"];
    many_args.extend(sixty_four.iter().map(String::as_str));
    many_args.extend(["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]);
    let plain = clip(d, "plain.mp4", 160, 90, 2);
    let plain_bytes = std::fs::read(&plain).unwrap();
    let dref = d.join("dref.mov");
    std::fs::write(&dref, external_dref(&plain_bytes, &format!("http://127.0.0.1:{port}/outside.mov"))).unwrap();
    let dref_file = d.join("dref-file.mov");
    std::fs::write(&dref_file, external_dref(&plain_bytes, "file:///etc/passwd")).unwrap();
    let liar = d.join("liar.mp4");
    std::fs::write(&liar, lying_duration(&plain_bytes, 10)).unwrap();

    let refused = vec![
        (
            "pixel-bomb",
            make(d, "bomb.mkv", &["-f", "lavfi", "-i", "color=c=black:s=8192x8192:r=1", "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast"]),
            "media-too-large",
        ),
        (
            "three-hours-of-16x16",
            make(d, "long.mp4", &["-f", "lavfi", "-i", "color=s=16x16:r=1", "-t", "10800", "-c:v", "libx264", "-preset", "ultrafast"]),
            "media-too-long",
        ),
        (
            "1000-fps",
            make(d, "fast.mkv", &["-f", "lavfi", "-i", "testsrc=s=64x64:r=1000", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast"]),
            "media-frame-rate",
        ),
        ("64-audio-streams", make(d, "many.mkv", &many_args), "media-streams"),
        ("lying-duration", liar, "media-invalid"),
    ];

    // Poll /healthz throughout; every answer must be a 200 within a generous 5 s.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = {
        let (client, url, stop) = (reqwest::Client::new(), app.url("/healthz"), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let r = tokio::time::timeout(Duration::from_secs(5), client.get(&url).send()).await;
                assert!(matches!(r, Ok(Ok(ref resp)) if resp.status() == 200), "healthz failed while processing bombs: {r:?}");
                n += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            n
        })
    };

    let mut ids = Vec::new();
    for (name, file, _) in &refused {
        let (s, v) = app.upload(Some(&token), file, "-name with spaces.mp4", name, "public").await;
        assert_eq!(s, 202, "{name}: {v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for ((name, _, code), id) in refused.iter().zip(&ids) {
        let v = app.wait(&token, id).await;
        assert_eq!(v["status"], "failed", "{name}: {v}");
        assert_eq!(v["error"]["code"], *code, "{name}: {v}");
    }
    // External data references are never followed: whatever the verdict, nothing
    // outside the file is read or connected to.
    for f in [&dref, &dref_file] {
        let v = app.upload_and_wait(&token, f, "dref", "public").await;
        if v["status"] == "ready" {
            let url = v["sources"][0]["url"].as_str().unwrap();
            let bytes = app.get(url, None).await.bytes().await.unwrap();
            assert!(!bytes.windows(5).any(|w| w == b"root:"), "the output contains /etc/passwd");
        } else {
            assert_eq!(v["status"], "failed", "{v}");
        }
    }
    stop.store(true, Ordering::SeqCst);
    let polls = health.await.unwrap();
    assert!(polls > 0);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server connected out");
    assert!(app.healthy().await);
}
