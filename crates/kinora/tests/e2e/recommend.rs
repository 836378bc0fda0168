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
both!(for_you_applies_the_policy_from_memory_at_once);
both!(a_cursor_continues_on_a_process_that_never_saw_it);
both!(a_follow_remembers_the_video_it_came_from);

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
        let Some(c) = page["next_cursor"].as_str().map(str::to_owned) else {
            break;
        };
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

/// Pages are assembled from memory (cards, blocks, mutes): whatever this server
/// changes shows in the very next page, and what changes in the database behind
/// its back (another node, the CLI) within seconds.
async fn for_you_applies_the_policy_from_memory_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "p.mp4", 144, 256, 1);
    let mut by: HashMap<String, String> = HashMap::new();
    let mut toks = HashMap::new();
    for name in ["alice", "bob", "carol", "dave"] {
        let tok = app.signup(name).await;
        for k in 0..2 {
            let v = app.upload_and_wait(&tok, &f, &format!("{name} {k} #p"), "public").await;
            by.insert(v["id"].as_str().unwrap().to_owned(), name.to_owned());
        }
        toks.insert(name, tok);
    }
    let viewer = app.signup("viewer").await;
    // A fresh session each time (no cursor), both feeds; the owners of what it shows.
    let owners = |p: &Value| -> HashSet<String> { ids(p).iter().map(|i| by[i].clone()).collect() };
    let feeds = || async {
        let a = app.get_json("/api/v1/feed/for-you?limit=20", Some(&viewer)).await.1;
        let b = app.get_json("/api/v1/feed/for-you?limit=20&personalized=false", Some(&viewer)).await.1;
        (a, b)
    };
    let (a, b) = feeds().await;
    assert_eq!(ids(&a).len(), 8, "{a}");
    assert_eq!(ids(&b).len(), 8, "{b}");

    // This server's own changes: in the very next page.
    let steps = [
        ("alice", "/api/v1/accounts/alice/block", viewer.clone()),
        ("bob", "/api/v1/accounts/viewer/block", toks["bob"].clone()),
        ("carol", "/api/v1/accounts/carol/mute", viewer.clone()),
    ];
    let mut gone = HashSet::new();
    for (who, path, tok) in steps {
        assert_eq!(app.call(M::POST, path, &tok, None).await.0, 204);
        gone.insert(who.to_owned());
        let (a, b) = feeds().await;
        for p in [a, b] {
            let o = owners(&p);
            assert!(o.is_disjoint(&gone), "blocked, blocking or muted ({who}): {o:?}");
            assert_eq!(o.len(), 4 - gone.len(), "{o:?}");
        }
    }
    assert_eq!(app.call(M::DELETE, "/api/v1/accounts/alice/block", &viewer, None).await.0, 204);
    assert_eq!(app.call(M::DELETE, "/api/v1/accounts/carol/mute", &viewer, None).await.0, 204);
    assert!(owners(&feeds().await.0).contains("alice"));
    assert!(owners(&feeds().await.1).contains("carol"));

    // A deleted video is gone from the next page.
    let deleted = by.iter().filter(|(_, n)| *n == "carol").map(|(i, _)| i.clone()).max().unwrap();
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/videos/{deleted}"), &toks["carol"], None).await.0, 204);
    let (a, b) = feeds().await;
    assert!(!ids(&a).contains(&deleted) && !ids(&b).contains(&deleted), "a deleted video was still offered");
    // An edited caption is on the next card; a private account is gone at once.
    let dave_video = by.iter().find(|(_, n)| *n == "dave").map(|(i, _)| i.clone()).unwrap();
    let (s, _) = app.call(M::PATCH, &format!("/api/v1/videos/{dave_video}"), &toks["dave"], Some(json!({"caption": "renamed #p"}))).await;
    assert_eq!(s, 200);
    let p = feeds().await.1;
    let card = items(&p).into_iter().find(|v| v["id"] == dave_video.as_str()).unwrap();
    assert_eq!(card["caption"], "renamed #p");
    assert_eq!(app.call(M::PATCH, "/api/v1/me", &toks["dave"], Some(json!({"private": true}))).await.0, 200);
    for p in [feeds().await.0, feeds().await.1] {
        assert!(!owners(&p).contains("dave"), "a private account's videos left For You at once");
    }

    // A like: liked_by_me on the feed without profiling; the personalised one does
    // not offer it again.
    // (carol's other video: the one with the larger id was deleted above)
    let liked = by.iter().filter(|(_, n)| *n == "carol").map(|(i, _)| i.clone()).min().unwrap();
    assert_eq!(app.call(M::POST, &format!("/api/v1/videos/{liked}/like"), &viewer, None).await.0, 200);
    let p = feeds().await.1;
    let card = items(&p).into_iter().find(|v| v["id"] == liked.as_str()).unwrap();
    assert_eq!(card["liked_by_me"], true);
    let start = std::time::Instant::now();
    while ids(&feeds().await.0).contains(&liked) {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "a liked video is still offered");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Unliked: offered again from the next page.
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/videos/{liked}/like"), &viewer, None).await.0, 200);
    assert!(ids(&feeds().await.0).contains(&liked), "an unliked video stays out");

    // Behind the server's back (another node, the CLI): caught within seconds.
    let mut conn = app.sql().await;
    sqlx::query("INSERT INTO mutes (muter_id, muted_id, created_at) SELECT v.id, a.id, 1 FROM accounts v, accounts a WHERE v.username = 'viewer' AND a.username = 'alice'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE videos SET visibility = 'followers' WHERE account_id = (SELECT id FROM accounts WHERE username = 'carol')")
        .execute(&mut conn)
        .await
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let (a, b) = feeds().await;
        if [&a, &b].iter().all(|p| ids(p).is_empty()) {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "changes in the database not caught: {a} {b}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Feed sessions live in one process's memory; a cursor that reaches another
/// process (another node, or this one after a restart) rebuilds its session, so
/// the next page still repeats nothing: from the impressions every node writes
/// for a signed-in viewer, by replaying the same-for-everyone feed for the
/// signed-out.
async fn a_cursor_continues_on_a_process_that_never_saw_it(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "c.mp4", 144, 256, 1);
    for c in 0..8 {
        let tok = app.signup(&format!("maker{c}")).await;
        for k in 0..2 {
            app.upload_and_wait(&tok, &f, &format!("clip {k} #t{}", c % 3), "public").await;
        }
    }
    let viewer = app.signup("viewer").await;
    let signed_in = app.get_json("/api/v1/feed/for-you?limit=6", Some(&viewer)).await.1;
    let anon = app.get_json("/api/v1/feed/for-you?limit=6", None).await.1;
    let (c1, c2) = (signed_in["next_cursor"].as_str().unwrap().to_owned(), anon["next_cursor"].as_str().unwrap().to_owned());
    assert_eq!(ids(&signed_in).len(), 6);
    // The poller writes impressions within a second or so.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[]).await;
    let viewer = app.token("viewer", "correct horse battery").await.unwrap_or_else(|e| panic!("{e:?}"));
    for (first, cursor, tok) in [(&signed_in, &c1, Some(viewer.as_str())), (&anon, &c2, None)] {
        let next = app.get_json(&format!("/api/v1/feed/for-you?limit=6&cursor={cursor}"), tok).await.1;
        let a: HashSet<String> = ids(first).into_iter().collect();
        let n = ids(&next);
        assert_eq!(n.len(), 6, "{next}");
        assert!(n.iter().all(|i| !a.contains(i)), "the next page repeats the first after a restart: {:?} then {n:?}", ids(first));
        assert!(next["next_cursor"].as_str().is_some());
    }
    // A cursor that is not one: a clear error.
    let (s, e) = app.get_json("/api/v1/feed/for-you?cursor=r1.zz", None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("invalid-field")), "{e}");
}

/// `POST /accounts/{name}/follow {"from_video"}`: only a video of that account the
/// caller can see; the follow keeps it (the data download shows it) and For You
/// learns the follow as engagement with that video.
async fn a_follow_remembers_the_video_it_came_from(b: Backend) {
    let app = TestApp::spawn(b).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "f.mp4", 144, 256, 1);
    let ana = app.signup("ana").await;
    let ben = app.signup("ben").await;
    let theirs = app.upload_and_wait(&ana, &f, "soup #soup", "public").await["id"].as_str().unwrap().to_owned();
    let hidden = app.upload_and_wait(&ana, &f, "secret", "private").await["id"].as_str().unwrap().to_owned();
    let bens = app.upload_and_wait(&ben, &f, "mine", "public").await["id"].as_str().unwrap().to_owned();
    let viewer = app.signup("viewer").await;
    let follow = |body: Value| {
        let viewer = viewer.clone();
        let app = &app;
        async move { app.call(M::POST, "/api/v1/accounts/ana/follow", &viewer, Some(body)).await }
    };
    let (s, e) = follow(json!({"from_video": bens})).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("invalid-field")), "{e}");
    assert_eq!(follow(json!({"from_video": hidden})).await.0, 404, "a video the caller cannot see is not there");
    assert_eq!(follow(json!({"from_video": "AAAAAAAAAAAAAAAA"})).await.0, 404);
    assert_eq!(follow(json!({"from_video": 7})).await.0, 400);
    let (s, r) = follow(json!({"from_video": theirs})).await;
    assert_eq!((s, r["state"].as_str()), (200, Some("following")), "{r}");
    // A plain follow (no body) still works.
    assert_eq!(app.call(M::POST, "/api/v1/accounts/ben/follow", &viewer, None).await.0, 200);
    let mut conn = app.sql().await;
    let rows = sqlx::query("SELECT a.username, f.via_video_id FROM follows f JOIN accounts a ON a.id = f.followee_id ORDER BY a.username")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let got: Vec<(String, Option<String>)> = rows.iter().map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1))).collect();
    assert_eq!(got, vec![("ana".to_owned(), Some(theirs.clone())), ("ben".to_owned(), None)]);
    // The followed creator's videos come "because you follow" them.
    let start = std::time::Instant::now();
    loop {
        let p = app.get_json("/api/v1/feed/for-you?limit=10", Some(&viewer)).await.1;
        if items(&p).iter().any(|v| v["id"] == theirs.as_str() && v["reason"]["code"] == "following") {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{p}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A followed hashtag is a source too, from the next page on.
    let cara = app.signup("cara").await;
    let knit = app.upload_and_wait(&cara, &f, "scarf #knit", "public").await["id"].as_str().unwrap().to_owned();
    assert_eq!(app.call(M::POST, "/api/v1/tags/knit/follow", &viewer, None).await.0, 200);
    let p = app.get_json("/api/v1/feed/for-you?limit=10", Some(&viewer)).await.1;
    let card = items(&p).into_iter().find(|v| v["id"] == knit.as_str()).unwrap_or_else(|| panic!("{p}"));
    assert_eq!(card["reason"]["code"], "following", "{card}");
    assert_eq!(card["reason"]["text"], "Because you follow #knit", "{card}");
}
