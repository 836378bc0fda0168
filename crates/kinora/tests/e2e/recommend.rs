//! For You that learns: a viewer who watches one topic through and skips the rest
//! gets mostly that topic within a few pages; "not interested" never comes back;
//! every item says why; pages never repeat within a session and keep the
//! diversity rules; the feed without profiling is the same for two viewers and
//! can be chosen per request or in settings; new videos reach viewers.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use reqwest::Method as M;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

both!(for_you_learns_explains_and_can_be_switched_off);

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().unwrap().clone()
}

fn ids(page: &Value) -> Vec<String> {
    items(page).iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
}

async fn for_you_learns_explains_and_can_be_switched_off(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "r.mp4", 144, 256, 1);
    // Six creators, two topics, three videos each: 18 videos.
    let mut topic: HashMap<String, &str> = HashMap::new();
    let mut creator: HashMap<String, String> = HashMap::new();
    for c in 0..6 {
        let name = format!("maker{c}");
        let tok = app.signup(&name).await;
        let t = if c % 2 == 0 { "cooking" } else { "cars" };
        for k in 0..3 {
            let v = app.upload_and_wait(&tok, &f, &format!("clip {k} #{t}"), "public").await;
            let id = v["id"].as_str().unwrap().to_owned();
            topic.insert(id.clone(), t);
            creator.insert(id, name.clone());
        }
    }
    let viewer = app.signup("viewer").await;
    let other = app.signup("other").await;

    // Cold start: a page with a reason for every item, the rules kept.
    let (s, first) = app.get_json("/api/v1/feed/for-you?limit=10", Some(&viewer)).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["personalized"], true);
    assert_eq!(items(&first).len(), 10, "{first}");
    for v in items(&first) {
        let code = v["reason"]["code"].as_str().unwrap();
        assert!(["following", "similar", "topic", "trending", "new", "exploration"].contains(&code), "{v}");
        assert!(!v["reason"]["text"].as_str().unwrap().is_empty());
    }
    let rules_hold = |page: &Value| {
        let names: Vec<&String> = ids(page).iter().map(|i| &creator[i]).collect::<Vec<_>>().into_iter().collect();
        for w in names.windows(2) {
            assert_ne!(w[0], w[1], "one creator twice in a row: {names:?}");
        }
        let mut per: HashMap<&String, usize> = HashMap::new();
        for n in &names {
            *per.entry(n).or_default() += 1;
        }
        assert!(per.values().all(|n| *n <= 2), "at most two per page of ten: {per:?}");
    };
    rules_hold(&first);

    // The viewer watches cooking through and skips cars on the first page, then
    // pages through the rest of the session without watching: the cursor never
    // repeats a video.
    let mut seen = HashSet::new();
    let mut page = first;
    let mut shares = Vec::new();
    for round in 0..3 {
        for v in items(&page) {
            let id = v["id"].as_str().unwrap();
            assert!(seen.insert(id.to_owned()), "a repeat within the session: {id}");
            if round > 0 {
                continue;
            }
            let through = topic[id] == "cooking";
            let body = if through { json!({"watched_ms": 1000, "completed": true}) } else { json!({"watched_ms": 400, "completed": false}) };
            assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{id}/views"), &viewer, Some(body)).await.0, 204);
        }
        let Some(c) = page["next_cursor"].as_str().map(str::to_owned) else { break };
        // (Later pages of a session on a server this small run out of other
        // creators: the rules give way rather than stop the feed. The crate's
        // property test checks every page where there is a choice.)
        page = app.get_json(&format!("/api/v1/feed/for-you?limit=10&cursor={c}"), Some(&viewer)).await.1;
        if items(&page).is_empty() {
            break;
        }
    }
    assert!(seen.len() >= 17, "the session walked the whole server: {}", seen.len());
    // Events reach the model within seconds; a fresh session is mostly cooking
    // (among what the viewer has not watched to the end).
    let start = std::time::Instant::now();
    loop {
        let p = app.get_json("/api/v1/feed/for-you?limit=6", Some(&viewer)).await.1;
        let on = ids(&p).iter().filter(|i| topic[*i] == "cooking").count();
        shares.push(on);
        if ids(&p).len() >= 4 && on * 2 > ids(&p).len() {
            assert!(items(&p).iter().any(|v| matches!(v["reason"]["code"].as_str(), Some("topic" | "similar"))), "{p}");
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(15), "not mostly cooking after watching cooking: {shares:?} {p}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    // Not interested: never again, whatever the session.
    let p = app.get_json("/api/v1/feed/for-you?limit=10", Some(&other)).await.1;
    let gone = ids(&p)[0].clone();
    let (s, r) = app.call(M::POST, &format!("/api/v1/videos/{gone}/not-interested"), &other, None).await;
    assert_eq!((s, r["not_interested"].as_bool()), (200, Some(true)), "{r}");
    assert_eq!(app.call(M::POST, "/api/v1/videos/AAAAAAAAAAAAAAAA/not-interested", &other, None).await.0, 404);
    for _ in 0..5 {
        let mut cursor: Option<String> = None;
        for _ in 0..3 {
            let path = match &cursor {
                Some(c) => format!("/api/v1/feed/for-you?limit=10&cursor={c}"),
                None => "/api/v1/feed/for-you?limit=10".to_owned(),
            };
            let p = app.get_json(&path, Some(&other)).await.1;
            assert!(!ids(&p).contains(&gone), "a not-interested video came back");
            cursor = p["next_cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
    }
    let (s, r) = app.call(M::DELETE, &format!("/api/v1/videos/{gone}/not-interested"), &other, None).await;
    assert_eq!((s, r["not_interested"].as_bool()), (200, Some(false)));

    // Without profiling: the same for two different viewers, and for the signed-out.
    let a = ids(&app.get_json("/api/v1/feed/for-you?personalized=false&limit=10", Some(&viewer)).await.1);
    let b2 = ids(&app.get_json("/api/v1/feed/for-you?personalized=false&limit=10", Some(&other)).await.1);
    let anon = app.get_json("/api/v1/feed/for-you?limit=10", None).await.1;
    assert_eq!(a, b2);
    assert_eq!(a, ids(&anon));
    assert_eq!(anon["personalized"], false);
    assert_eq!(app.get_json("/api/v1/feed/for-you?personalized=maybe", Some(&viewer)).await.0, 422);
    assert_eq!(app.get_json("/api/v1/feed/for-you?cursor=r1.zz", Some(&viewer)).await.0, 422);
    // The setting: off, and For You stops personalising for this viewer.
    let (s, me) = app.call(M::PATCH, "/api/v1/me", &viewer, Some(json!({"personalized_feed": false}))).await;
    assert_eq!((s, me["personalized_feed"].as_bool()), (200, Some(false)), "{me}");
    let p = app.get_json("/api/v1/feed/for-you?limit=10", Some(&viewer)).await.1;
    assert_eq!(p["personalized"], false);
    assert_eq!(ids(&p), a);

    // A new creator's first video reaches viewers within a few requests.
    let newbie = app.signup("newbie").await;
    let fresh = app.upload_and_wait(&newbie, &f, "my first video #cars", "public").await;
    let fresh_id = fresh["id"].as_str().unwrap().to_owned();
    let mut shown = 0;
    for k in 0..6 {
        let who = if k % 2 == 0 { &other } else { &viewer };
        if k == 1 {
            app.call(M::PATCH, "/api/v1/me", &viewer, Some(json!({"personalized_feed": true}))).await;
        }
        let p = app.get_json("/api/v1/feed/for-you?limit=10", Some(who)).await.1;
        shown += usize::from(ids(&p).contains(&fresh_id));
    }
    assert!(shown >= 3, "the new video was shown in {shown} of 6 requests");

    // The web feed: the first card says why, and the toggle says which feed it is.
    let session = app.web_session("other").await;
    let html = app.client.get(app.url("/")).header("cookie", format!("kinora_session={session}")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("class=\"act why\"") && html.contains("id=\"feedmode\"") && html.contains("id=\"not-interested\""), "{html}");
}
