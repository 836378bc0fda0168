//! Hostile uploads end as `failed` (or a 4xx) with a stable code: no crash, no
//! network connection, no file read outside the job.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, ffmpeg, Backend, TestApp};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

both!(hostile_files_fail_cleanly);

/// A loopback listener that counts connections.
async fn listener() -> (u16, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, hits)
}

async fn hostile_files_fail_cleanly(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("mallory").await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, hits) = listener().await;

    let write = |name: &str, body: &[u8]| {
        let p = d.join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    // Truncated files: moov at the end (index lost), and fast-start (data lost).
    let plain = clip(d, "plain.mp4", 320, 240, 4);
    let bytes = std::fs::read(&plain).unwrap();
    let cut_index = write("cut-index.mp4", &bytes[..bytes.len() * 6 / 10]);
    let fast = d.join("fast.mp4");
    ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-movflags", "+faststart", fast.to_str().unwrap()]);
    let fbytes = std::fs::read(&fast).unwrap();
    let cut_data = write("cut-data.mp4", &fbytes[..fbytes.len() * 3 / 10]);

    let cases = vec![
        ("text", write("notes.mp4", b"this is not a video, just some text\n")),
        ("truncated-index", cut_index),
        ("truncated-data", cut_data),
        (
            "hls-loopback",
            write("playlist.mp4", format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nhttp://127.0.0.1:{port}/seg.ts\n#EXT-X-ENDLIST\n").as_bytes()),
        ),
        ("hls-file", write("local.mp4", b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")),
        ("ffconcat", write("concat.mp4", format!("ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:{port}/x.mp4'\n").as_bytes())),
        ("garbage", write("noise.mov", &(0..50_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>())),
    ];
    for (name, file) in &cases {
        let (s, v) = app.upload(Some(&token), file, "-rf ; $(id) `id`.mp4", name, "public").await;
        assert_eq!(s, 202, "{name}: {v}");
        let done = app.wait(&token, v["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{name}: {done}");
        let code = done["error"]["code"].as_str().unwrap();
        assert!(["media-invalid", "unsupported-media", "media-no-video"].contains(&code), "{name}: {code}");
        let msg = done["error"]["message"].as_str().unwrap();
        assert!(!msg.contains("root:"), "{name} leaks file contents: {msg}");
        assert!(done.get("sources").is_none());
        // Failed videos are not in the feed and not visible to others.
        assert_eq!(app.get_json(&format!("/api/v1/videos/{}", done["id"].as_str().unwrap()), None).await.0, 404);
    }

    // A file name with a raw newline is a malformed multipart header: refused, and
    // the server keeps serving.
    let ok = clip(d, "ok.mp4", 64, 64, 1);
    let r = reqwest::Client::new()
        .post(app.url("/api/v1/videos"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(std::fs::read(&ok).unwrap()).file_name("evil\nname.mp4")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(app.healthy().await);

    // An empty file is refused at upload.
    let empty = write("empty.mp4", b"");
    let (s, e) = app.upload(Some(&token), &empty, "empty.mp4", "", "public").await;
    assert_eq!(s, 415, "{e}");
    assert_eq!(e["error"]["code"], "media-invalid");
    // No file at all.
    let form = reqwest::multipart::Form::new().text("caption", "no file");
    let r = app.client.post(app.url("/api/v1/videos")).bearer_auth(&token).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // Bad visibility.
    let (s, e) = app.upload(Some(&token), &ok, "ok.mp4", "", "everyone!").await;
    assert_eq!(s, 422, "{e}");

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the server connected to the loopback listener");
    assert!(app.healthy().await);
    let (_, feed) = app.get_json("/api/v1/feed/for-you", None).await;
    assert!(feed["items"].as_array().unwrap().is_empty());
}
