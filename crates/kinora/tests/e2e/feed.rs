//! For You contents and pagination; private videos behave exactly like missing ones.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use serde_json::Value;
use std::collections::HashSet;

both!(feed_and_visibility);

fn ids(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

async fn feed_and_visibility(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, empty) = app.get_json("/api/v1/feed/for-you", None).await;
    assert_eq!(s, 200);
    assert_eq!(empty["items"].as_array().unwrap().len(), 0);
    assert!(empty["next_cursor"].is_null());

    let owner = app.signup("owner").await;
    let other = app.signup("other").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "c.mp4", 240, 426, 1);
    let mut public = Vec::new();
    for i in 0..3 {
        let v = app.upload_and_wait(&owner, &f, &format!("public {i}"), "public").await;
        assert_eq!(v["status"], "ready");
        public.push(v["id"].as_str().unwrap().to_owned());
    }
    let private = app.upload_and_wait(&owner, &f, "secret", "private").await;
    let followers = app.upload_and_wait(&owner, &f, "friends only", "followers").await;
    let private_id = private["id"].as_str().unwrap();
    let followers_id = followers["id"].as_str().unwrap();

    // Feed: exactly the public videos for everyone. Without profiling (signed
    // out, or asked for) they are ranked by recency and engagement: newest first
    // here; signed in, the recommender orders them.
    let mut want = public.clone();
    want.reverse();
    for viewer in [None, Some(other.as_str()), Some(owner.as_str())] {
        let (_, page) = app.get_json("/api/v1/feed/for-you", viewer).await;
        let got = ids(&page);
        assert_eq!(got.iter().collect::<HashSet<_>>(), want.iter().collect::<HashSet<_>>(), "viewer {viewer:?}");
        assert_eq!(page["personalized"], viewer.is_some(), "{page}");
        let (_, plain) = app.get_json("/api/v1/feed/for-you?personalized=false", viewer).await;
        assert_eq!(ids(&plain), want, "viewer {viewer:?}, not personalised");
        assert!(page["items"].as_array().unwrap().iter().all(|v| v["reason"]["text"].as_str().is_some_and(|t| !t.is_empty())), "every item says why: {page}");
    }

    // Pagination with limit=1 walks every item once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/feed/for-you?limit=1&cursor={c}"),
            None => "/api/v1/feed/for-you?limit=1".to_owned(),
        };
        let (s, page) = app.get_json(&path, None).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(seen.len() <= 10, "pagination does not end");
    }
    assert_eq!(seen.len(), 3);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(app.get_json("/api/v1/feed/for-you?limit=0", None).await.0, 422);
    assert_eq!(app.get_json("/api/v1/feed/for-you?limit=101", None).await.0, 422);
    assert_eq!(app.get_json("/api/v1/feed/for-you?cursor=%%%", None).await.0, 422);

    // A private video answers exactly like a missing one, for strangers and the signed-out.
    let missing = app.get(&format!("/api/v1/videos/{}", "AAAAAAAAAAAAAAAA"), Some(&other)).await;
    let missing_status = missing.status();
    let missing_body = missing.text().await.unwrap();
    assert_eq!(missing_status, 404);
    for hidden in [private_id, followers_id] {
        for viewer in [Some(other.as_str()), None] {
            let r = app.get(&format!("/api/v1/videos/{hidden}"), viewer).await;
            assert_eq!(r.status(), missing_status);
            assert_eq!(r.text().await.unwrap(), missing_body);
        }
    }
    // Their media too.
    let (_, pv) = app.get_json(&format!("/api/v1/videos/{private_id}"), Some(&owner)).await;
    assert_eq!(pv["status"], "ready");
    let media = pv["sources"][0]["url"].as_str().unwrap();
    let poster = pv["poster_url"].as_str().unwrap();
    for url in [media, poster] {
        assert_eq!(app.get(url, Some(&owner)).await.status(), 200);
        let r = app.get(url, Some(&other)).await;
        assert_eq!(r.status(), 404);
        assert_eq!(r.text().await.unwrap(), missing_body);
        assert_eq!(app.get(url, None).await.status(), 404);
    }
    let owner_media = app.get(media, Some(&owner)).await;
    assert!(owner_media.headers()["cache-control"].to_str().unwrap().contains("private"));

    // Profile lists: the owner sees all five, others the public three.
    let (_, mine) = app.get_json("/api/v1/accounts/owner/videos", Some(&owner)).await;
    assert_eq!(ids(&mine).len(), 5);
    let (_, theirs) = app.get_json("/api/v1/accounts/owner/videos", Some(&other)).await;
    assert_eq!(ids(&theirs).iter().collect::<HashSet<_>>(), public.iter().collect::<HashSet<_>>());
    let (_, anon) = app.get_json("/api/v1/accounts/owner/videos", None).await;
    assert_eq!(ids(&anon).len(), 3);

    // Share pages follow the same rule.
    assert_eq!(app.get(&format!("/v/{private_id}"), None).await.status(), 404);
    assert_eq!(app.get(&format!("/v/{}", public[0]), None).await.status(), 200);

    // Following feed needs sign-in; nobody follows anyone yet.
    assert_eq!(app.get_json("/api/v1/feed/following", None).await.0, 401);
    let (s, f) = app.get_json("/api/v1/feed/following", Some(&other)).await;
    assert_eq!(s, 200);
    assert!(ids(&f).is_empty());

    // Delete: only the owner; afterwards it and its media are gone.
    let del = |t: &str, id: &str| app.client.delete(app.url(&format!("/api/v1/videos/{id}"))).bearer_auth(t.to_owned()).send();
    assert_eq!(del(&other, &public[0]).await.unwrap().status(), 403);
    assert_eq!(del(&other, private_id).await.unwrap().status(), 404);
    let (_, v0) = app.get_json(&format!("/api/v1/videos/{}", public[0]), None).await;
    let v0_media = v0["sources"][0]["url"].as_str().unwrap().to_owned();
    assert_eq!(del(&owner, &public[0]).await.unwrap().status(), 204);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{}", public[0]), Some(&owner)).await.0, 404);
    assert_eq!(app.get(&v0_media, None).await.status(), 404);
    let (_, page) = app.get_json("/api/v1/feed/for-you", None).await;
    assert!(!ids(&page).contains(&public[0]));
    // The purge job removes its objects from the region store.
    let key_dir = app.data.path().join("regions/local/media").join(&public[0]);
    let start = std::time::Instant::now();
    let original = app.data.path().join("regions/local/originals").join(&public[0]);
    while key_dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(false) || original.exists() {
        assert!(start.elapsed().as_secs() < 30, "objects of a deleted video were not purged");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
