//! Upload -> ready -> the served file is what we promise; byte-serving semantics.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, ffprobe_json, phone_clip, top_level_boxes, Backend, TestApp};

both!(phone_upload_is_normalised, range_etag_semantics, default_relative_data_dir);

/// Regression: with the default `./kinora-data` (relative) the media pipeline ran
/// ffmpeg inside its job directory with paths relative to the server's directory.
async fn default_relative_data_dir(b: Backend) {
    let app = TestApp::spawn_default_data_dir(b).await;
    let token = app.signup("relative").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "r.mp4", 64, 112, 1), "", "public").await;
    assert_eq!(v["status"], "ready", "{v}");
    assert!(app.data.path().join("kinora-data/regions/local/originals").join(v["id"].as_str().unwrap()).exists());
}

async fn phone_upload_is_normalised(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("maker").await;
    let dir = tempfile::tempdir().unwrap();
    let src = phone_clip(dir.path());
    let v = app.upload_and_wait(&token, &src, "first post #hello", "public").await;
    assert_eq!(v["status"], "ready", "{v}");
    assert!(v["error"].is_null());
    // Upright: 320x240 pixels with a 90-degree rotation display as 240x320.
    assert_eq!((v["width"].as_i64(), v["height"].as_i64()), (Some(240), Some(320)), "{v}");
    let d = v["duration_ms"].as_i64().unwrap();
    assert!((1800..=2200).contains(&d), "duration {d}");
    assert!(v["share_url"].as_str().unwrap().ends_with(&format!("/v/{}", v["id"].as_str().unwrap())));
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["mime"], "video/mp4");

    let bytes = app.get(sources[0]["url"].as_str().unwrap(), None).await.bytes().await.unwrap();
    let out = dir.path().join("served.mp4");
    std::fs::write(&out, &bytes).unwrap();
    let p = ffprobe_json(&out);
    let streams = p["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let audio = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["profile"], "High");
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert_eq!((video["width"].as_i64(), video["height"].as_i64()), (Some(240), Some(320)));
    assert!(video.get("side_data_list").is_none_or(|l| !l.to_string().contains("rotation")), "{video}");
    assert!(video["tags"].get("rotate").is_none());
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["channels"], 2);
    // No GPS or device tags anywhere.
    let tags = p["format"]["tags"].to_string();
    for needle in ["location", "make", "model", "Apple", "iPhone", "37.7749"] {
        assert!(!tags.contains(needle), "format tags leak {needle}: {tags}");
    }
    for needle in [&b"37.7749"[..], b"iPhone", b"Apple"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "bytes leak {:?}", String::from_utf8_lossy(needle));
    }
    // Fast start: the index comes before the media data.
    let boxes = top_level_boxes(&bytes);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "boxes {boxes:?}");

    let poster = app.get(v["poster_url"].as_str().unwrap(), None).await;
    assert_eq!(poster.status(), 200);
    assert_eq!(poster.headers()["content-type"], "image/jpeg");
    assert_eq!(&poster.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);

    // A tall 1080x1920 source gets the whole ladder, highest first; the original is never served.
    let tall = clip(dir.path(), "tall.mp4", 1080, 1920, 1);
    let v2 = app.upload_and_wait(&token, &tall, "", "public").await;
    assert_eq!((v2["width"].as_i64(), v2["height"].as_i64()), (Some(1080), Some(1920)), "{v2}");
    let dims: Vec<(i64, i64)> = v2["sources"].as_array().unwrap().iter().map(|s| (s["width"].as_i64().unwrap(), s["height"].as_i64().unwrap())).collect();
    assert_eq!(dims, vec![(1080, 1920), (720, 1280), (480, 854)]);
    let preview = app.get(v2["preview_url"].as_str().unwrap(), None).await;
    assert_eq!(preview.headers()["content-type"], "image/jpeg");
    let id = v2["id"].as_str().unwrap();
    for guess in ["original", "input", "originals", "../../originals"] {
        assert_eq!(app.get(&format!("/media/{id}/{guess}"), Some(&token)).await.status(), 404);
    }
}

async fn range_etag_semantics(b: Backend) {
    let app = TestApp::spawn(b).await;
    let token = app.signup("ranger").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "a.mp4", 320, 568, 1), "", "public").await;
    let url = v["sources"][0]["url"].as_str().unwrap().to_owned();

    let full = app.get(&url, None).await;
    assert_eq!(full.status(), 200);
    let h = full.headers().clone();
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-type"], "video/mp4");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age=31536000"));
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "strong etag: {etag}");
    let body = full.bytes().await.unwrap();
    let len = body.len();
    assert_eq!(h["content-length"].to_str().unwrap(), len.to_string());

    let get = |range: Option<String>, inm: Option<&str>, if_range: Option<&str>| {
        let mut r = app.client.get(app.url(&url));
        if let Some(range) = range {
            r = r.header("range", range);
        }
        if let Some(x) = inm {
            r = r.header("if-none-match", x);
        }
        if let Some(x) = if_range {
            r = r.header("if-range", x);
        }
        r.send()
    };

    let r = get(Some("bytes=0-99".into()), None, None).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 0-99/{len}").as_str());
    assert_eq!(r.bytes().await.unwrap(), body.slice(0..100));

    let r = get(Some("bytes=-50".into()), None, None).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), body.slice(len - 50..));

    let r = get(Some(format!("bytes={}-", len - 10)), None, None).await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes {}-{}/{len}", len - 10, len - 1).as_str());

    let r = get(Some(format!("bytes={len}-")), None, None).await.unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], format!("bytes */{len}").as_str());

    let r = get(None, Some(&etag), None).await.unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    assert!(r.bytes().await.unwrap().is_empty());

    let r = get(None, Some("\"other\""), None).await.unwrap();
    assert_eq!(r.status(), 200);

    let r = get(Some("bytes=0-9".into()), None, Some("\"stale\"")).await.unwrap();
    assert_eq!(r.status(), 200, "If-Range with another ETag sends the whole file");
    let r = get(Some("bytes=0-9".into()), None, Some(&etag)).await.unwrap();
    assert_eq!(r.status(), 206);

    let head = app.client.head(app.url(&url)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"].to_str().unwrap(), len.to_string());
}
