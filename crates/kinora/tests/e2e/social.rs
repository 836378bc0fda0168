//! The social API's behaviour beyond visibility: follows and requests, likes,
//! comments and their settings, notifications, mutes, shares, views and analytics,
//! reports, search ranking, and write rate limits.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use serde_json::{json, Value};

both!(social_flows, write_rate_limits);

use reqwest::Method as M;

async fn social_flows(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "s.mp4", 64, 112, 1);
    let v = app.upload_and_wait(&ann, &f, "Sunset at the #Beach with @bob", "public").await;
    let id = v["id"].as_str().unwrap().to_owned();

    // Follow, counts, lists.
    assert_eq!(app.call(M::POST, "/api/v1/accounts/ann/follow", &bob, None).await, (200, json!({"state": "following"})));
    assert_eq!(app.call(M::POST, "/api/v1/accounts/ann/follow", &bob, None).await.1["state"], "following");
    assert_eq!(app.call(M::POST, "/api/v1/accounts/bob/follow", &bob, None).await.0, 422);
    let (_, acct) = app.call(M::GET, "/api/v1/accounts/ann", &bob, None).await;
    assert_eq!(acct["counts"]["followers"], 1);
    assert_eq!(acct["follow"], "following");
    let (_, fl) = app.call(M::GET, "/api/v1/accounts/ann/followers", &cat, None).await;
    assert_eq!(fl["items"][0]["username"], "bob");
    let (_, fl) = app.call(M::GET, "/api/v1/accounts/bob/following", &cat, None).await;
    assert_eq!(fl["items"][0]["username"], "ann");
    let (_, feed) = app.call(M::GET, "/api/v1/feed/following", &bob, None).await;
    assert_eq!(feed["items"][0]["id"], id.as_str());

    // Likes: idempotent, counted, liked_by_me.
    for _ in 0..2 {
        let (s, l) = app.call(M::POST, &format!("/api/v1/videos/{id}/like"), &bob, None).await;
        assert_eq!((s, l["counts"]["likes"].as_i64()), (200, Some(1)));
    }
    let (_, vj) = app.call(M::GET, &format!("/api/v1/videos/{id}"), &bob, None).await;
    assert_eq!(vj["liked_by_me"], true);
    assert_eq!(vj["counts"]["likes"], 1);
    // Bob keeps his likes private (the default), so others do not see his name
    // among the likers; he sees himself.
    let (_, likers) = app.call(M::GET, &format!("/api/v1/videos/{id}/likes"), &cat, None).await;
    assert_eq!(likers["items"].as_array().map(Vec::len), Some(0), "{likers}");
    let (_, likers) = app.call(M::GET, &format!("/api/v1/videos/{id}/likes"), &bob, None).await;
    assert_eq!(likers["items"][0]["username"], "bob");
    let (_, l) = app.call(M::DELETE, &format!("/api/v1/videos/{id}/like"), &bob, None).await;
    assert_eq!(l["counts"]["likes"], 0);
    app.call(M::POST, &format!("/api/v1/videos/{id}/like"), &bob, None).await;

    // Comments, one level of replies, comment likes, deletion rights.
    let (s, c1) = app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &bob, Some(json!({"text": "Lovely! @cat look"}))).await;
    assert_eq!(s, 201, "{c1}");
    let c1id = c1["id"].as_str().unwrap().to_owned();
    let (_, r1) = app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &ann, Some(json!({"text": "thanks", "reply_to": c1id}))).await;
    let (_, r2) = app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &cat, Some(json!({"text": "agreed", "reply_to": r1["id"]}))).await;
    assert_eq!(r2["reply_to"], c1id.as_str(), "a reply to a reply answers the top comment");
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &cat, Some(json!({"text": "  "}))).await.0, 422);
    let (_, cl) = app.call(M::POST, &format!("/api/v1/comments/{c1id}/like"), &ann, None).await;
    assert_eq!(cl["counts"]["likes"], 1);
    let (_, list) = app.call(M::GET, &format!("/api/v1/videos/{id}/comments"), &cat, None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/comments/{c1id}"), &cat, None).await.0, 403);
    let (_, vj) = app.call(M::GET, &format!("/api/v1/videos/{id}"), &cat, None).await;
    assert_eq!(vj["counts"]["comments"], 3);
    // The video's owner may delete any comment; replies go with it.
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/comments/{c1id}"), &ann, None).await.0, 204);
    let (_, vj) = app.call(M::GET, &format!("/api/v1/videos/{id}"), &cat, None).await;
    assert_eq!(vj["counts"]["comments"], 0);

    // Making a video private stops its media URLs at once, and shared caches were
    // told to revalidate within seconds.
    let media = vj["sources"][0]["url"].as_str().unwrap().to_owned();
    let r = app.get(&media, None).await;
    assert!(r.headers()["cache-control"].to_str().unwrap().contains("s-maxage=10"));
    app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &ann, Some(json!({"visibility": "private"}))).await;
    assert_eq!(app.get(&media, None).await.status(), 404);
    assert_eq!(app.get(&media, Some(&bob)).await.status(), 404);
    assert_eq!(app.get(&media, Some(&ann)).await.status(), 200);
    app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &ann, Some(json!({"visibility": "public"}))).await;

    // Liked videos: private to the liker unless they choose to show them.
    assert_eq!(app.call(M::GET, "/api/v1/accounts/bob/liked", &cat, None).await.0, 404);
    assert_eq!(app.call(M::GET, "/api/v1/accounts/bob/liked", &bob, None).await.1["items"][0]["id"], id.as_str());
    app.call(M::PATCH, "/api/v1/me", &bob, Some(json!({"likes_public": true}))).await;
    let (s, liked) = app.call(M::GET, "/api/v1/accounts/bob/liked", &cat, None).await;
    assert_eq!((s, liked["items"][0]["id"].as_str()), (200, Some(id.as_str())));
    assert_eq!(app.get_json("/api/v1/accounts/bob/liked", None).await.0, 200);

    // Comment settings.
    let (s, e) = app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &ann, Some(json!({"comments": "followers", "caption": "Now #sunset"}))).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["comments"], "followers");
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &cat, Some(json!({"text": "hi"}))).await.0, 403);
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &bob, Some(json!({"text": "hi"}))).await.0, 201);
    app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &ann, Some(json!({"comments": "off"}))).await;
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{id}/comments"), &bob, Some(json!({"text": "hi"}))).await.0, 403);
    assert_eq!(app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &bob, Some(json!({"caption": "mine"}))).await.0, 403);
    assert_eq!(app.call(M::PATCH, &format!("/api/v1/videos/{id}"), &ann, Some(json!({"comments": "nobody"}))).await.0, 422);
    // Editing the caption re-indexes hashtags.
    let (_, beach) = app.call(M::GET, "/api/v1/tags/beach/videos", &cat, None).await;
    assert!(beach["items"].as_array().unwrap().is_empty());
    let (_, sunset) = app.call(M::GET, "/api/v1/tags/sunset/videos", &cat, None).await;
    assert_eq!(sunset["items"][0]["id"], id.as_str());

    // Hashtag follows feed the following feed.
    assert_eq!(app.call(M::POST, "/api/v1/tags/sunset/follow", &cat, None).await.1["following"], true);
    let (_, feed) = app.call(M::GET, "/api/v1/feed/following", &cat, None).await;
    assert_eq!(feed["items"][0]["id"], id.as_str());
    let (_, trending) = app.call(M::GET, "/api/v1/tags/trending", &cat, None).await;
    assert_eq!(trending["items"][0]["tag"], "sunset");

    // Notifications: follow, like, comment, reply, mention; mark read.
    let (_, n) = app.call(M::GET, "/api/v1/notifications", &ann, None).await;
    let kinds: Vec<&str> = n["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in ["follow", "like", "comment"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert!(n["unread"].as_i64().unwrap() >= 3);
    let (_, nb) = app.call(M::GET, "/api/v1/notifications", &bob, None).await;
    let bob_kinds: Vec<&str> = nb["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert!(bob_kinds.contains(&"mention"), "{bob_kinds:?}");
    assert_eq!(app.call(M::POST, "/api/v1/notifications/read", &ann, Some(json!({}))).await.0, 204);
    assert_eq!(app.call(M::GET, "/api/v1/notifications", &ann, None).await.1["unread"], 0);

    // Mutes hide from feeds; the video stays reachable.
    assert_eq!(app.call(M::POST, "/api/v1/accounts/ann/mute", &bob, None).await.0, 204);
    let (_, fy) = app.call(M::GET, "/api/v1/feed/for-you", &bob, None).await;
    assert!(fy["items"].as_array().unwrap().is_empty());
    let (_, fo) = app.call(M::GET, "/api/v1/feed/following", &bob, None).await;
    assert!(fo["items"].as_array().unwrap().is_empty());
    assert_eq!(app.call(M::GET, &format!("/api/v1/videos/{id}"), &bob, None).await.0, 200);
    app.call(M::DELETE, "/api/v1/accounts/ann/mute", &bob, None).await;

    // Private accounts: requests, accept, reject; going public accepts the rest.
    app.call(M::PATCH, "/api/v1/me", &cat, Some(json!({"private": true, "display_name": "Cat C", "bio": "meow"}))).await;
    assert_eq!(app.call(M::POST, "/api/v1/accounts/cat/follow", &ann, None).await.1["state"], "requested");
    assert_eq!(app.call(M::GET, "/api/v1/accounts/cat", &ann, None).await.1["follow"], "requested");
    assert_eq!(app.call(M::POST, "/api/v1/follow-requests/ann/reject", &cat, None).await.0, 200);
    assert_eq!(app.call(M::POST, "/api/v1/follow-requests/ann/reject", &cat, None).await.0, 404);
    app.call(M::POST, "/api/v1/accounts/cat/follow", &bob, None).await;
    app.call(M::PATCH, "/api/v1/me", &cat, Some(json!({"private": false}))).await;
    assert_eq!(app.call(M::GET, "/api/v1/accounts/cat", &bob, None).await.1["follow"], "following");
    assert_eq!(app.call(M::PATCH, "/api/v1/me", &cat, Some(json!({"bio": "x".repeat(501)}))).await.0, 422);

    // Shares, views, analytics.
    let (s, sh) = app.call(M::POST, &format!("/api/v1/videos/{id}/share"), &cat, None).await;
    assert_eq!(s, 200);
    assert!(sh["share_url"].as_str().unwrap().ends_with(&format!("/v/{id}")));
    // Two viewers (one signed out, one signed in); a viewer's repeats within ten
    // minutes are not new views.
    for (ms, done, token) in [(1000, true, None), (400, false, Some(&cat)), (900, true, None)] {
        let mut r = app.client.post(app.url(&format!("/api/v1/videos/{id}/views"))).json(&json!({"watched_ms": ms, "completed": done}));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().await.unwrap().status(), 204);
    }
    let (s, an) = app.call(M::GET, "/api/v1/me/analytics", &ann, None).await;
    assert_eq!(s, 200);
    let vs = &an["videos"][0];
    assert_eq!(vs["views"], 2);
    assert_eq!(vs["watch_time_ms"], 1400);
    assert_eq!(vs["average_watch_ms"], 700);
    assert_eq!(vs["completion_rate"], 0.5);
    assert_eq!(vs["shares"], 1);
    assert_eq!(vs["likes"], 1);
    assert_eq!(an["totals"]["followers_gained_28d"], 1);

    // Reports are stored; they must name exactly one visible thing.
    let (s, rep) = app.call(M::POST, "/api/v1/reports", &cat, Some(json!({"video_id": id, "reason": "spam", "details": "ads"}))).await;
    assert_eq!((s, rep["status"].as_str()), (201, Some("open")));
    assert_eq!(app.call(M::POST, "/api/v1/reports", &cat, Some(json!({"account": "ann", "reason": "nope"}))).await.0, 422);
    assert_eq!(app.call(M::POST, "/api/v1/reports", &cat, Some(json!({"reason": "spam"}))).await.0, 422);
    assert_eq!(app.call(M::POST, "/api/v1/reports", &cat, Some(json!({"video_id": "AAAAAAAAAAAAAAAA", "reason": "spam"}))).await.0, 404);

    // Search: username prefix, display name and bio full text, captions.
    let (_, acc) = app.call(M::GET, "/api/v1/search?type=accounts&q=ca", &ann, None).await;
    assert_eq!(acc["items"][0]["username"], "cat");
    let (_, acc) = app.call(M::GET, "/api/v1/search?type=accounts&q=meow", &ann, None).await;
    assert_eq!(acc["items"][0]["username"], "cat");
    let (_, vids) = app.call(M::GET, "/api/v1/search?type=videos&q=suns", &cat, None).await;
    assert_eq!(vids["items"][0]["id"], id.as_str());
    assert_eq!(app.call(M::GET, "/api/v1/search?type=people&q=x", &cat, None).await.0, 422);
    let (s, weird) = app.call(M::GET, "/api/v1/search?type=videos&q=%22%29%28*%3A%26%7C%21", &cat, None).await;
    assert_eq!(s, 200, "{weird}");
}

async fn write_rate_limits(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_ACCOUNT", "5")]).await;
    let ann = app.signup("ann").await;
    app.signup("bob").await;
    let mut last = 0;
    let mut retry = None;
    for _ in 0..8 {
        let r = app.client.post(app.url("/api/v1/accounts/bob/follow")).bearer_auth(&ann).send().await.unwrap();
        last = r.status().as_u16();
        retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    }
    assert_eq!(last, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Reads are not limited.
    assert_eq!(app.get_json("/api/v1/accounts/bob", Some(&ann)).await.0, 200);

    // Per client address, across accounts and signed-out writes.
    let app = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_IP", "4")]).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let r = app.client.post(app.url("/api/v1/videos/AAAAAAAAAAAAAAAA/views")).json(&json!({"watched_ms": i})).send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
}

both!(avatars_are_reencoded_and_policed);

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

async fn avatars_are_reencoded_and_policed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("me.png");
    crate::support::ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", png.to_str().unwrap()]);
    // Add a text chunk with a location, as phone apps do.
    let mut bytes = std::fs::read(&png).unwrap();
    let iend = bytes.len() - 12;
    let text = b"tEXtGPS\x0037.7749,-122.4194 secret-location";
    let mut chunk = ((text.len() - 4) as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(text);
    chunk.extend_from_slice(&crc32(text).to_be_bytes());
    bytes.splice(iend..iend, chunk);
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(bytes).file_name("me.png"));
    let r = app.client.post(app.url("/api/v1/me/avatar")).bearer_auth(&ann).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let acct: Value = r.json().await.unwrap();
    let url = acct["avatar_url"].as_str().unwrap().to_owned();
    let got = app.get(&url, None).await;
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    let jpg = got.bytes().await.unwrap();
    assert!(!jpg.windows(15).any(|w| w == b"secret-location"));
    let out = dir.path().join("a.jpg");
    std::fs::write(&out, &jpg).unwrap();
    let p = crate::support::ffprobe_json(&out);
    assert_eq!((p["streams"][0]["width"].as_i64(), p["streams"][0]["height"].as_i64()), (Some(256), Some(256)));
    assert_eq!(app.get_json("/api/v1/accounts/ann", None).await.1["avatar_url"], url.as_str());
    // Blocked: the picture is gone for them, like the account.
    app.call(M::POST, "/api/v1/accounts/bob/block", &ann, None).await;
    assert_eq!(app.get(&url, Some(&bob)).await.status(), 404);
    // Not an image.
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"#EXTM3U\nhttp://127.0.0.1:9/x\n".to_vec()).file_name("x.png"));
    let r = app.client.post(app.url("/api/v1/me/avatar")).bearer_auth(&ann).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), 415);
}
