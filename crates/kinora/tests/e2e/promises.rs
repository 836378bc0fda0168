//! Promises without holes: one regression test per failure the second security
//! review found, each named for it, plus the check that keeps its whole class from
//! coming back.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use reqwest::Method as M;
use serde_json::json;

both!(
    open_redirect_through_a_tab,
    one_staff_member_can_make_the_log_unauditable,
    a_suspended_moderator_keeps_staff_reads,
    opening_a_report_is_a_get_that_writes_a_log_entry,
    tile_numbers_overflow,
    staff_revoke_on_someone_who_is_not_staff,
    a_log_entry_can_vanish_after_the_data_was_released,
    a_restored_instance_deletes_productions_originals,
    a_resumed_upload_publishes_the_abandoned_attempts_caption_and_visibility,
    region_files_are_world_readable,
    an_export_download_holds_the_whole_zip_in_memory,
    a_restore_without_the_key_store_restores_nothing_and_says_it_succeeded,
    a_worker_on_another_machine_breaks_erasure_and_the_log,
    a_correct_disaster_restore_truncates_the_public_log,
    an_import_fills_the_disk,
    deleted_videos_and_comments_are_kept_forever,
);

fn kinora(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = app.cli(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The log's size from its public checkpoint.
async fn log_size(app: &TestApp) -> u64 {
    let note = app.get("/log/checkpoint", None).await.text().await.unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

fn audit(app: &TestApp, vkey: &str) -> (bool, String) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
    let state = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin).args(["verify", "--log", &app.url("/log"), "--key", vkey.trim(), "--state"]).arg(state.path()).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Regression: `/login?next=/%09/evil.example/y` sent the browser to evil.example.
/// Class: every known bypass, through the sign-in page and the sign-in form, stays
/// on the site as a browser resolves the `Location`.
async fn open_redirect_through_a_tab(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("alice").await;
    let session = app.web_session("alice").await;
    let base = reqwest::Url::parse(&app.base).unwrap();
    let corpus = [
        "/%09/evil.example/y",
        "/%0a/evil.example",
        "/%0d/evil.example",
        "//evil.example",
        "///evil.example",
        "/%5Cevil.example",
        "/%5C/evil.example",
        "%5C%5Cevil.example",
        "/%2F/evil.example",
        "https://evil.example",
        "https:evil.example",
        "javascript:alert(1)",
        "/.//evil.example",
        "/%09%5Cevil.example",
        "%09//evil.example",
        "//evil.example%40127.0.0.1",
        "/@evil.example",
        "/%E3%80%80//evil.example",
    ];
    for next in corpus {
        // Signed in: the sign-in page redirects at once.
        let r = app.get_with_session(&format!("/login?next={next}"), &session).await;
        assert_eq!(r.status().as_u16(), 303, "{next}");
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        let resolved = base.join(&loc).unwrap();
        assert_eq!(resolved.host_str(), base.host_str(), "{next} -> {loc:?} leaves the site");
        assert!(!loc.contains(['\t', '\\']) && !loc.starts_with("//"), "{next} -> {loc:?}");
    }
    // A local path survives, query and all.
    let r = app.get_with_session("/login?next=/admin%3Fstatus%3Dopen", &session).await;
    assert_eq!(r.headers()["location"], "/admin?status=open");
}

/// Regression: an entry over 65,535 bytes was appended and made every tile after it
/// answer 500. Class: every field is bounded before the append; the largest entry
/// allowed is served and verifies with `kinora-audit`.
async fn one_staff_member_can_make_the_log_unauditable(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("alice").await;
    let mona = app.signup("mona").await;
    assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    let before = log_size(&app).await;
    for reference in ["x".repeat(70_000), "x".repeat(513), "line\nbreak".to_owned()] {
        let (s, e) = app
            .call(M::POST, "/api/v1/staff/access", &mona, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": reference})))
            .await;
        assert_eq!(s, 400, "{e}");
        assert!(e["error"]["message"].as_str().unwrap().contains("reference"), "{e}");
    }
    assert_eq!(log_size(&app).await, before, "a refused entry was appended");
    // The largest reference allowed, in four-byte characters: appended, served, verified.
    let largest = "\u{1F600}".repeat(512);
    let (s, e) = app.call(M::POST, "/api/v1/staff/access", &mona, Some(json!({"subject": "alice", "scopes": ["profile", "videos", "comments", "watch-history", "sessions", "reports"], "reason": "support", "reference": largest}))).await;
    assert_eq!(s, 200, "{e}");
    let vkey = app.get("/log/key", None).await.text().await.unwrap();
    let (ok, out) = audit(&app, &vkey);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("({} entries)", before + 1)), "{out}");
    // The CLI's legal export is bounded the same way, before anything is appended.
    let out_zip = app.data.path().join("legal.zip");
    let (ok, out) = kinora(&app, &["access", "export", "--subject", "alice", "--reference", &"r".repeat(600), "--out", out_zip.to_str().unwrap()]);
    assert!(!ok && out.contains("reference"), "{out}");
    assert!(!out_zip.exists());
    assert_eq!(log_size(&app).await, before + 1);
}

/// Regression: a suspended moderator opened a private report target and the log
/// recorded it. Class: one policy rule (`standing_may`) takes every staff power
/// from a suspended account at once, on every staff surface.
async fn a_suspended_moderator_keeps_staff_reads(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mona = app.signup("mona").await;
    let sam = app.signup("sam").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "p.mp4", 180, 320, 1), "mine only", "private").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    for who in ["mona", "sam"] {
        assert!(kinora(&app, &["staff", "grant", who, "--role", "moderator"]).0);
    }
    // Bob reports alice (a private account's data is hidden from him) and mona;
    // sam suspends mona.
    let (s, r_alice) = app.call(M::POST, "/api/v1/reports", &bob, Some(json!({"account": "alice", "reason": "spam"}))).await;
    assert_eq!(s, 201, "{r_alice}");
    let (s, r_mona) = app.call(M::POST, "/api/v1/reports", &bob, Some(json!({"account": "mona", "reason": "harassment"}))).await;
    assert_eq!(s, 201, "{r_mona}");
    let ask = json!({"subject": "alice", "scopes": ["videos"], "reason": "support", "reference": "t-7"});
    let (s, before) = app.call(M::POST, "/api/v1/staff/access", &mona, Some(ask.clone())).await;
    assert_eq!(s, 200, "{before}");
    assert!(before.to_string().contains(&vid), "staff see the private video before the suspension");
    let (s, d) = app
        .call(M::POST, "/api/v1/staff/actions", &sam, Some(json!({"report_id": r_mona["id"], "action": "suspend", "reason": "harassment", "note": ""})))
        .await;
    assert_eq!(s, 201, "{d}");
    let size = log_size(&app).await;
    // At once: the door, the queue, a report, opening, deciding, the admin pages.
    // Reads answer as for a route that does not exist; writes say the account is
    // suspended (she knows she was staff).
    let refused = |(s, e): (u16, serde_json::Value)| s == 404 || (s == 403 && e["error"]["code"] == "account-suspended");
    assert!(refused(app.call(M::POST, "/api/v1/staff/access", &mona, Some(ask)).await));
    assert_eq!(app.get_json("/api/v1/staff/reports?status=open", Some(&mona)).await.0, 404);
    let rid = r_alice["id"].as_str().unwrap();
    assert_eq!(app.get_json(&format!("/api/v1/staff/reports/{rid}"), Some(&mona)).await.0, 404);
    assert!(refused(app.call(M::POST, &format!("/api/v1/staff/reports/{rid}/open"), &mona, None).await));
    assert!(refused(
        app.call(M::POST, "/api/v1/staff/actions", &mona, Some(json!({"report_id": rid, "action": "dismiss", "reason": "no-violation", "note": ""}))).await
    ));
    let session = app.web_session("mona").await;
    for page in ["/admin", &format!("/admin/reports/{rid}")] {
        let r = app.get_with_session(page, &session).await;
        assert_eq!(r.status().as_u16(), 404, "{page}");
    }
    assert_eq!(log_size(&app).await, size, "a suspended moderator's attempts were logged as accesses");
    // Reading as anyone and looking after her own account still work.
    assert_eq!(app.get_json("/api/v1/me", Some(&mona)).await.0, 200);
    // Reinstated, the role works again.
    let (s, n) = app.get_json("/api/v1/notifications", Some(&mona)).await;
    assert_eq!(s, 200);
    let action = n["items"].as_array().unwrap().iter().find(|i| i["kind"] == "moderation").unwrap()["moderation"]["action_id"].as_str().unwrap().to_owned();
    assert_eq!(app.call(M::POST, &format!("/api/v1/moderation/{action}/appeal"), &mona, Some(json!({"text": "not me"}))).await.0, 201);
    let appeal = app.get_json("/api/v1/staff/reports?status=open&kind=appeal", Some(&sam)).await.1["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(M::POST, "/api/v1/staff/actions", &sam, Some(json!({"report_id": appeal, "action": "reinstate", "reason": "no-violation", "note": ""})))
            .await
            .0,
        201
    );
    assert_eq!(app.get_json("/api/v1/staff/reports?status=open", Some(&mona)).await.0, 200);
}

/// Regression: opening a report was a GET that appended to the log, so a link on
/// another site made a moderator's browser log accesses. Class: no GET route
/// appends — every documented GET path and every staff page, filled with real ids,
/// called as a moderator with a bearer token and with a session, leaves the log
/// as it was.
async fn opening_a_report_is_a_get_that_writes_a_log_entry(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mona = app.signup("mona").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "p.mp4", 180, 320, 1), "hidden #x", "public").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let (s, c) = app.call(M::POST, &format!("/api/v1/videos/{vid}/comments"), &alice, Some(json!({"text": "note to self"}))).await;
    assert_eq!(s, 201, "{c}");
    // Reported while public, then made private: hidden from the moderator.
    let (s, r) = app.call(M::POST, "/api/v1/reports", &bob, Some(json!({"video_id": vid, "reason": "spam", "details": "x"}))).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(app.call(M::PATCH, &format!("/api/v1/videos/{vid}"), &alice, Some(json!({"visibility": "private"}))).await.0, 200);
    assert_eq!(app.call(M::POST, "/api/v1/accounts/alice/block", &bob, None).await.0 / 100, 2);
    let rid = r["id"].as_str().unwrap().to_owned();
    assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    let session = app.web_session("mona").await;
    let size = log_size(&app).await;

    let doc = app.get_json("/api/openapi.json", None).await.1;
    let mut paths: Vec<String> = doc["paths"].as_object().unwrap().iter().filter(|(_, ops)| ops.get("get").is_some()).map(|(p, _)| p.clone()).collect();
    paths.extend(
        [
            "/admin",
            "/admin?kind=appeal",
            "/admin/reports/{id}",
            "/transparency",
            "/settings",
            "/settings/access",
            "/inbox",
            "/",
            "/following",
            "/upload",
            "/about/data",
            "/search?q=alice",
            "/tags/x",
            "/feed/for-you/cards",
            "/v/{id}",
            "/@alice",
            "/log/checkpoint",
            "/log/key",
            "/log/tile/entries/000.p/1",
        ]
        .map(str::to_owned),
    );
    let mut called = 0;
    for p in &paths {
        let filled = p
            .replace("/staff/reports/{id}", &format!("/staff/reports/{rid}"))
            .replace("/admin/reports/{id}", &format!("/admin/reports/{rid}"))
            .replace("{id}", &vid)
            .replace("{video_id}", &vid)
            .replace("{username}", "alice")
            .replace("{name}", "alice")
            .replace("{video}", &vid)
            .replace("{tag}", "x");
        if filled.contains('{') {
            continue;
        }
        let r = app.client.get(app.url(&filled)).bearer_auth(&mona).send().await.unwrap();
        assert!(r.status().as_u16() < 500, "{filled}: {}", r.status());
        let r = app.get_with_session(&format!("{filled}{}opened=0", if filled.contains('?') { "&" } else { "?" }), &session).await;
        assert!(r.status().as_u16() < 500, "{filled}: {}", r.status());
        called += 1;
    }
    assert!(called >= 40, "walked only {called} GET routes");
    assert_eq!(log_size(&app).await, size, "a GET appended to the transparency log");
    // The report page offers opening as a POST; the POST is what logs.
    let page = app.page_as(&format!("/admin/reports/{rid}"), &session).await;
    assert!(page.contains("id=\"open-item\"") && !page.contains("id=\"logged-access\""), "{page}");
    let (s, opened) = app.call(M::POST, &format!("/api/v1/staff/reports/{rid}/open"), &mona, None).await;
    assert_eq!(s, 200, "{opened}");
    let idx = opened["log_index"].as_u64().expect("logged");
    assert_eq!(log_size(&app).await, size + 1);
    // Shown again under that entry, for that moderator only, without a new entry.
    let page = app.page_as(&format!("/admin/reports/{rid}?opened={idx}"), &session).await;
    assert!(page.contains("id=\"logged-access\"") && !page.contains("id=\"open-item\""), "{page}");
    assert_eq!(log_size(&app).await, size + 1);
    // Without the CSRF header, a cookie POST is refused.
    let r = app.client.post(app.url(&format!("/api/v1/staff/reports/{rid}/open"))).header("cookie", format!("kinora_session={session}")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(log_size(&app).await, size + 1);
}

/// Regression: `/log/tile/entries/x072/x057/x594/x037/x927/936` panicked in a debug
/// build. Class: tile paths are parsed into checked types and anything past the
/// tree is 404 (the property test over random paths is in kinora-translog).
async fn tile_numbers_overflow(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("mona").await;
    assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    for p in [
        "entries/x072/x057/x594/x037/x927/936",
        "x072/x057/x594/x037/x927/936",
        "7/x072/x057/x594/x037/x927/936",
        "entries/x018/x446/x744/x073/x709/x551/616.p/255",
        "255/000",
        "64/000",
        "0/000.p/0",
        "entries/000.p/0",
        "entries/001",
        "0/000",
        "entries/000.p/2",
    ] {
        let r = app.get(&format!("/log/tile/{p}"), None).await;
        assert_eq!(r.status().as_u16(), 404, "{p}");
    }
    assert!(app.healthy().await);
    let r = app.get("/log/tile/entries/000.p/1", None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store", "a partial tile grows");
    let r = app.get("/log/tile/0/000.p/1", None).await;
    assert_eq!((r.status().as_u16(), r.bytes().await.unwrap().len()), (200, 32));
}

/// Regression: `kinora staff revoke` on someone who is not staff appended a public
/// `staff-revoke` entry (twice when repeated). Class: commands that append
/// validate first and are idempotent.
async fn staff_revoke_on_someone_who_is_not_staff(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("bob").await;
    app.signup("mona").await;
    let size = log_size(&app).await;
    for _ in 0..2 {
        let (ok, out) = kinora(&app, &["staff", "revoke", "bob"]);
        assert!(!ok && out.contains("not staff"), "{out}");
    }
    let (ok, out) = kinora(&app, &["staff", "revoke", "nobody"]);
    assert!(!ok, "{out}");
    let (ok, out) = kinora(&app, &["staff", "grant", "bob", "--role", "king"]);
    assert!(!ok, "{out}");
    assert_eq!(log_size(&app).await, size, "a refused command appended");
    // Granting twice appends once; revoking twice appends once.
    for _ in 0..2 {
        assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    }
    assert_eq!(log_size(&app).await, size + 1);
    assert!(kinora(&app, &["staff", "revoke", "mona"]).0);
    assert!(!kinora(&app, &["staff", "revoke", "mona"]).0);
    assert_eq!(log_size(&app).await, size + 2);
    let entries = app.get("/log/tile/entries/000.p/2", None).await.text().await.unwrap();
    assert!(!entries.contains("bob"), "{entries}");
}

/// Regression: an entry could vanish after the data was released (SQLite's
/// `synchronous=NORMAL`). Class: the append that precedes a release is durable on
/// both backends; killed the moment the append returns, the entry is there after a
/// restart, the next access takes the next index, and the log verifies.
async fn a_log_entry_can_vanish_after_the_data_was_released(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("alice").await;
    let mona = app.signup("mona").await;
    assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    let vkey = app.get("/log/key", None).await.text().await.unwrap();
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[("KINORA_FAULT_CRASH_AFTER_LOG_APPEND", "1")]).await;
    let ask = json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-8"});
    let r = app.client.post(app.url("/api/v1/staff/access")).bearer_auth(&mona).json(&ask).send().await;
    assert!(r.is_err() || r.unwrap().status().is_server_error(), "the process died before answering");
    let (b, data, db) = app.wait_exit().await;
    let app = TestApp::spawn_in(b, data, db, &[]).await;
    assert_eq!(log_size(&app).await, 2, "the entry appended before the crash is there");
    let (s, e) = app.call(M::POST, "/api/v1/staff/access", &mona, Some(ask)).await;
    assert_eq!((s, e["log_index"].as_u64()), (200, Some(2)), "{e}");
    let (ok, out) = audit(&app, &vkey);
    assert!(ok && out.contains("(3 entries)"), "{out}");
}

/// Regression: a restored instance started beside production deleted every
/// original older than an hour its (older) database did not know, in every region.
/// Class: nothing is removed for being unknown; start-up removes only objects this
/// instance recorded an intent to write and that no video owns.
async fn a_restored_instance_deletes_productions_originals(b: Backend) {
    let app = TestApp::spawn(b).await;
    let region = app.data.path().join("regions/local/originals");
    std::fs::create_dir_all(&region).unwrap();
    // Production's original, unknown to this database, two hours old.
    let unknown = region.join("AAAAAAAAAAAAAAAA");
    std::fs::write(&unknown, b"production's original").unwrap();
    // A crash between storing an upload and creating its video: an intent, no video.
    let crashed = region.join("BBBBBBBBBBBBBBBB");
    std::fs::write(&crashed, b"half-ingested").unwrap();
    for f in [&unknown, &crashed] {
        assert!(std::process::Command::new("touch").args(["-d", "2 hours ago"]).arg(f).status().unwrap().success());
    }
    let mut sql = app.sql().await;
    let old = kinora_db::now_ms() - 2 * 3_600_000;
    sqlx::query(&format!("INSERT INTO object_intents (region, key, created_at) VALUES ('local', 'originals/BBBBBBBBBBBBBBBB', {old})"))
        .execute(&mut sql)
        .await
        .unwrap();
    drop(sql);
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[]).await;
    assert!(app.healthy().await);
    assert!(unknown.exists(), "an object the database does not know was deleted at start-up");
    assert!(!crashed.exists(), "the crashed ingest's original is cleaned up");
    let mut sql = app.sql().await;
    let n: i64 = sqlx::Row::get(&sqlx::query("SELECT COUNT(*) AS n FROM object_intents").fetch_one(&mut sql).await.unwrap(), "n");
    assert_eq!(n, 0);
}

/// Regression: an upload started as "Everyone" with caption A, left at 23%, then
/// picked again with "Only me" and caption B, was published public with caption A.
/// Class: what the person chose last wins — a resuming PATCH restates the caption
/// and audience (the web UI sends them with every chunk), so a resume publishes
/// the latest choice, never the abandoned one.
async fn a_resumed_upload_publishes_the_abandoned_attempts_caption_and_visibility(b: Backend) {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let app = TestApp::spawn(b).await;
    let token = app.signup("walker").await;
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::read(clip(dir.path(), "c.mp4", 180, 320, 1)).unwrap();
    let tus = |m: reqwest::Method, p: &str| app.client.request(m, app.url(p)).bearer_auth(&token).header("Tus-Resumable", "1.0.0");
    let first = format!("filename {},caption {},visibility {}", b64("c.mp4"), b64("caption A #first"), b64("public"));
    let r = tus(M::POST, "/api/v1/uploads").header("Upload-Length", file.len().to_string()).header("Upload-Metadata", first).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let cut = file.len() * 23 / 100;
    let r = tus(M::PATCH, &loc)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .body(file[..cut].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Picked again: "Only me", caption B; the rest resumes the first upload.
    let again = format!("caption {},visibility {}", b64("caption B"), b64("private"));
    let r = tus(M::PATCH, &loc)
        .header("Upload-Offset", cut.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Metadata", again)
        .body(file[cut..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let vid = r.headers()["kinora-video-id"].to_str().unwrap().to_owned();
    let v = app.wait(&token, &vid).await;
    assert_eq!((v["caption"].as_str(), v["visibility"].as_str()), (Some("caption B"), Some("private")), "{v}");
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), None).await.0, 404, "the abandoned attempt's audience");
    let fy = app.get_json("/api/v1/feed/for-you", None).await.1.to_string();
    assert!(!fy.contains(&vid) && !fy.contains("caption A"), "{fy}");
    // A bad restatement is refused and changes nothing.
    let r =
        tus(M::POST, "/api/v1/uploads").header("Upload-Length", "10").header("Upload-Metadata", format!("visibility {}", b64("private"))).send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let r = tus(M::PATCH, &loc)
        .header("Upload-Offset", "0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Metadata", format!("visibility {}", b64("everyone-ish")))
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

/// Every path under `root` with a permission bit for group or others, except the
/// directories that must be passable by the sandbox user (mode 0711).
fn too_open(root: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
        let mode = md.permissions().mode() & 0o777;
        if md.is_dir() {
            if mode & 0o077 != 0 && mode != 0o711 {
                out.push(format!("{} {mode:o}", p.display()));
            }
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                stack.push(e.path());
            }
        } else if md.is_file() && mode & 0o077 != 0 {
            out.push(format!("{} {mode:o}", p.display()));
        }
    }
    out
}

/// Regression: a `file://` region outside the data directory was created 0755 with
/// objects 0644, so `nobody` (ffmpeg's user) read a private original; legal-request
/// ZIPs were 0644. Class: every directory Kinora creates is 0700 and every file
/// 0600 — walked over the data directory and the regions after a full scenario.
async fn region_files_are_world_readable(b: Backend) {
    let (regions, cfg_s) = two_file_regions();
    let app = TestApp::spawn_with(b, &[("KINORA_CONFIG", cfg_s)]).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    app.upload_and_wait(&alice, &clip(dir.path(), "p.mp4", 180, 320, 1), "private one", "private").await;
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s / 100, 2, "{e}");
    let out_zip = app.data.path().join("legal.zip");
    for args in [&["access", "export", "--subject", "alice", "--reference", "case-20", "--out", out_zip.to_str().unwrap()][..], &["backup", "create"]] {
        let out = app.cli(args).env("KINORA_CONFIG", cfg_s).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Let the replica and the export job land.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(std::fs::read_dir(regions.path().join("home")).unwrap().count() > 0);
    let mut open = too_open(app.data.path());
    open.extend(too_open(&regions.path().join("home")));
    open.extend(too_open(&regions.path().join("copy")));
    open.retain(|p| !p.ends_with("kinora.toml 644"));
    assert!(open.is_empty(), "readable by others: {open:#?}");
}

/// Regression: an export download held the whole ZIP in memory (2 GB export: +2 GB
/// resident), and exports piled up. Class: object responses stream with bounded
/// memory — a 512 MiB export downloads while the server's peak resident memory
/// grows by far less; a new export replaces the old; requests are rate limited.
async fn an_export_download_holds_the_whole_zip_in_memory(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_EXPORTS_PER_DAY", "3")]).await;
    let alice = app.signup("alice").await;
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s, 202, "{e}");
    let first = export_ready(&app, &alice, e["id"].as_str().unwrap()).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    // Make the stored ZIP 512 MiB (sparse: the disk is not the point, memory is).
    let mut sql = app.sql().await;
    let key: String =
        sqlx::Row::get(&sqlx::query(&format!("SELECT object_key FROM exports WHERE id = '{first_id}'")).fetch_one(&mut sql).await.unwrap(), "object_key");
    let path = app.data.path().join("regions/local").join(&key);
    let big: u64 = 512 << 20;
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(big).unwrap();
    let before = app.peak_rss();
    let mut r = app.client.get(app.url(first["download_url"].as_str().unwrap())).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut got = 0u64;
    while let Some(c) = r.chunk().await.unwrap() {
        got += c.len() as u64;
    }
    assert_eq!(got, big);
    let grew = app.peak_rss().saturating_sub(before);
    assert!(grew < 64 << 20, "downloading a 512 MiB export grew the server's peak memory by {} MiB", grew >> 20);
    // A new export replaces the old one: its ZIP and its row are gone.
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s, 202, "{e}");
    export_ready(&app, &alice, e["id"].as_str().unwrap()).await;
    assert_eq!(app.get_json(&format!("/api/v1/me/exports/{first_id}"), Some(&alice)).await.0, 404);
    assert!(!path.exists(), "the replaced export's ZIP is still stored");
    // Rate limited (3 a day here): the third is allowed, the fourth is not.
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s, 202, "{e}");
    let id3 = e["id"].as_str().unwrap().to_owned();
    export_ready(&app, &alice, &id3).await;
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (429, Some("rate-limited")), "{e}");
}

async fn export_ready(app: &TestApp, token: &str, id: &str) -> serde_json::Value {
    for _ in 0..240 {
        let (_, e) = app.get_json(&format!("/api/v1/me/exports/{id}"), Some(token)).await;
        if e["status"] == "ready" {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("export {id} not ready");
}

/// A fresh database for `b` (None: SQLite in the data directory).
async fn fresh_db(b: Backend) -> Option<String> {
    match b {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::support::pg_database().await),
    }
}

fn run(args: &[&str], data: &std::path::Path, db: Option<&str>, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = crate::support::cli(args, data, db);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Findings 13, 18 and 9: a restore without the keys restored nothing and said it
/// succeeded; `backup list` in the new data directory made new keys that poisoned
/// the restore; backups were not authenticated. Class: a disaster recovery from
/// nothing but the backup region and the escrowed keys; read-only commands never
/// make keys; a restore refuses unreadable parts, differing keys and tampered
/// backups, each with a clear error.
async fn a_restore_without_the_key_store_restores_nothing_and_says_it_succeeded(b: Backend) {
    let (regions, cfg_s) = two_file_regions();
    let env = [("KINORA_CONFIG", cfg_s), ("KINORA_KEYS_PASSPHRASE", "correct horse battery staple")];
    let app = TestApp::spawn_with(b, &[("KINORA_CONFIG", cfg_s)]).await;
    app.signup("alice").await;
    app.signup("mona").await;
    let (ok, out) = run(&["staff", "grant", "mona", "--role", "moderator"], app.data.path(), app.db_url.as_deref(), &env);
    assert!(ok, "{out}");
    let vkey = app.get("/log/key", None).await.text().await.unwrap();
    let escrow = regions.path().join("escrow.json");
    let (ok, out) = run(&["backup", "create"], app.data.path(), app.db_url.as_deref(), &env);
    assert!(ok && out.contains("reminder") && out.contains("keys export"), "never escrowed: a reminder: {out}");
    let (ok, out) = run(&["keys", "export", "--out", escrow.to_str().unwrap()], app.data.path(), app.db_url.as_deref(), &env);
    assert!(ok, "{out}");
    let (ok, out) = run(&["backup", "create"], app.data.path(), app.db_url.as_deref(), &env);
    assert!(ok && !out.contains("reminder"), "{out}");
    let (ok, out) = run(&["backup", "list", "--json"], app.data.path(), app.db_url.as_deref(), &env);
    assert!(ok, "{out}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = list.as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_owned();
    // The machine is lost: its data directory (keys included) and the home region.
    let (_, old_data, _) = app.kill9().await;
    drop(old_data);
    std::fs::remove_dir_all(regions.path().join("home")).unwrap();

    // Read-only commands in a new data directory make no keys.
    let fresh = tempfile::tempdir().unwrap();
    let db = fresh_db(b).await;
    let (ok, out) = run(&["backup", "list", "--json"], fresh.path(), db.as_deref(), &env);
    assert!(ok && out.contains(&id), "{out}");
    let (ok, out) = run(&["staff", "list"], fresh.path(), db.as_deref(), &env);
    assert!(!ok && out.contains("does not make keys"), "{out}");
    assert!(!fresh.path().join("keys/log.key").exists() && !fresh.path().join("keys/journal.key").exists(), "a read-only command made keys");
    // Without the keys: refused, saying why, nothing restored.
    let (ok, out) = run(&["backup", "restore", &id], fresh.path(), db.as_deref(), &env);
    assert!(!ok && out.contains("keys"), "{out}");
    // A wrong passphrase: refused.
    let (ok, out) = run(
        &["backup", "restore", &id, "--keys-from", escrow.to_str().unwrap()],
        fresh.path(),
        db.as_deref(),
        &[("KINORA_CONFIG", cfg_s), ("KINORA_KEYS_PASSPHRASE", "not the passphrase")],
    );
    assert!(!ok && out.contains("wrong passphrase"), "{out}");
    // Tampered backups are refused before anything is read.
    let copy = regions.path().join("copy/backups").join(&id);
    let manifest = std::fs::read(copy.join("manifest.json")).unwrap();
    std::fs::write(copy.join("manifest.json"), String::from_utf8(manifest.clone()).unwrap().replacen("\"rows\": ", "\"rows\": 1", 1)).unwrap();
    let (ok, out) = run(&["backup", "restore", &id, "--keys-from", escrow.to_str().unwrap()], fresh.path(), db.as_deref(), &env);
    assert!(!ok && out.contains("signature does not match"), "{out}");
    std::fs::write(copy.join("manifest.json"), &manifest).unwrap();
    let older = list.as_array().unwrap().first().unwrap()["id"].as_str().unwrap().to_owned();
    let part = std::fs::read_dir(&copy)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "bin") && !p.ends_with("instance.bin"))
        .unwrap();
    let saved = std::fs::read(&part).unwrap();
    // A part from the older backup of the same account, swapped in.
    std::fs::copy(regions.path().join("copy/backups").join(&older).join(part.file_name().unwrap()), &part).unwrap();
    let (ok, out) = run(&["backup", "restore", &id, "--keys-from", escrow.to_str().unwrap()], fresh.path(), db.as_deref(), &env);
    assert!(!ok && out.contains("not the part the signed manifest names"), "{out}");
    std::fs::write(&part, &saved).unwrap();
    // With the escrow: restored; the keys are the instance's own again.
    let (ok, out) = run(&["backup", "restore", &id, "--keys-from", escrow.to_str().unwrap()], fresh.path(), db.as_deref(), &env);
    assert!(ok && out.contains("0 parts unreadable"), "{out}");
    let restored = TestApp::spawn_in(b, fresh, db, &[("KINORA_CONFIG", cfg_s)]).await;
    assert!(restored.token("alice", "correct horse battery").await.is_ok());
    assert_eq!(restored.get("/log/key", None).await.text().await.unwrap(), vkey);
    assert_eq!(log_size(&restored).await, 1);
    let (ok, out) = audit(&restored, &vkey);
    assert!(ok, "{out}");

    // Keys another command made first are never silently kept: refused, naming them.
    let other = tempfile::tempdir().unwrap();
    let db2 = fresh_db(b).await;
    // (Any command that opens an instance makes the keys of a new one.)
    let (ok, out) = run(&["backup", "create"], other.path(), db2.as_deref(), &env);
    assert!(ok, "{out}");
    let (ok, out) = run(&["backup", "restore", &id, "--keys-from", escrow.to_str().unwrap()], other.path(), db2.as_deref(), &env);
    assert!(!ok && out.contains("already holds different keys") && out.contains("log.key"), "{out}");
}

/// Regression: a worker on another machine made its own keys, so its erasure
/// destroyed nothing on the first machine and sealed the journal under the wrong
/// key. Class: every process checks at start that it has the instance's keys (the
/// ids the database records) and refuses otherwise; pointed at the instance's key
/// directory (`[server] keys_dir`), it runs.
async fn a_worker_on_another_machine_breaks_erasure_and_the_log(b: Backend) {
    let app = TestApp::spawn(b).await;
    app.signup("alice").await;
    let db = app.db_url.clone().unwrap_or_else(|| kinora_db::Db::sqlite_url(&app.data.path().join("kinora.sqlite3")));
    let second = tempfile::tempdir().unwrap();
    let out = crate::support::cli(&["worker"], second.path(), Some(&db)).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("does not have this instance's keys"), "{err}");
    assert!(!second.path().join("keys/log.key").exists(), "the second machine made keys of its own");
    // Keys made elsewhere (another instance's) are refused too, naming the file.
    let third = tempfile::tempdir().unwrap();
    let (ok, out) = run(&["backup", "create"], third.path(), None, &[]);
    assert!(ok, "{out}");
    let out = crate::support::cli(&["worker"], third.path(), Some(&db)).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not this instance's"), "{err}");
    // With the instance's key directory, the worker runs (until it is stopped).
    let mut w = crate::support::cli(&["worker"], second.path(), Some(&db)).env("KINORA_SERVER_KEYS_DIR", app.data.path().join("keys")).spawn().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(w.try_wait().unwrap().is_none(), "the worker with the instance's keys stopped");
    w.kill().unwrap();
    w.wait().unwrap();
}

/// Regression: a correct disaster restore truncated the public log (from 3 entries
/// to 1) and auditors then saw "the log shrank". Class: the backup region holds the
/// log as it grows (every entry and the latest checkpoint, before any data is
/// released), and a restore appends what came after the backup, checked against
/// that signed checkpoint: the log never shrinks.
async fn a_correct_disaster_restore_truncates_the_public_log(b: Backend) {
    let (regions, cfg_s) = two_file_regions();
    let env = [("KINORA_CONFIG", cfg_s)];
    let app = TestApp::spawn_with(b, &env).await;
    app.signup("alice").await;
    let mona = app.signup("mona").await;
    let kin = |args: &[&str]| run(args, app.data.path(), app.db_url.as_deref(), &env);
    assert!(kin(&["staff", "grant", "mona", "--role", "moderator"]).0);
    let (ok, out) = kin(&["backup", "create"]);
    assert!(ok, "{out}");
    let id = out.split_whitespace().nth(1).unwrap().to_owned();
    // Two more accesses after the backup; an auditor sees all three.
    for r in ["t-1", "t-2"] {
        let (s, e) = app
            .call(M::POST, "/api/v1/staff/access", &mona, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": r})))
            .await;
        assert_eq!(s, 200, "{e}");
    }
    let vkey = app.get("/log/key", None).await.text().await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let audit_with_state = |app: &TestApp| {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
        let out =
            std::process::Command::new(bin).args(["verify", "--log", &app.url("/log"), "--key", vkey.trim(), "--state"]).arg(state.path()).output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let (ok, out) = audit_with_state(&app);
    assert!(ok && out.contains("(3 entries)"), "{out}");
    assert!(regions.path().join("copy/translog/entries").read_dir().unwrap().count() == 3, "the backup region holds every entry");
    let keys = tempfile::tempdir().unwrap();
    for sub in ["", "accounts"] {
        std::fs::create_dir_all(keys.path().join(sub)).unwrap();
        for e in std::fs::read_dir(app.data.path().join("keys").join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), keys.path().join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    drop(app.kill9().await);
    // The disaster: restore the backup (made at one entry) into a new instance.
    let fresh = tempfile::tempdir().unwrap();
    let db = fresh_db(b).await;
    let (ok, out) = run(&["backup", "restore", &id, "--keys", keys.path().to_str().unwrap()], fresh.path(), db.as_deref(), &env);
    assert!(ok && out.contains("2 log entries made after the backup"), "{out}");
    let restored = TestApp::spawn_in(b, fresh, db, &env).await;
    assert_eq!(log_size(&restored).await, 3, "the log shrank");
    let (ok, out) = audit_with_state(&restored);
    assert!(ok && out.contains("(3 entries)"), "the auditor who saw 3 entries accepts the restored log: {out}");
    // And it keeps growing from there.
    let mona = restored.token("mona", "correct horse battery").await.unwrap();
    let (s, e) = restored
        .call(M::POST, "/api/v1/staff/access", &mona, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-3"})))
        .await;
    assert_eq!((s, e["log_index"].as_u64()), (200, Some(3)), "{e}");
}

fn zip_with(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in files {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        z.write_all(body).unwrap();
    }
    z.finish().unwrap().into_inner()
}

async fn import(app: &TestApp, token: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = app.client.post(app.url("/api/v1/me/imports")).bearer_auth(token).header("content-type", "application/zip").body(body).send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(serde_json::Value::Null))
}

fn count_files(dir: &std::path::Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

/// Regression: a 51 KB ZIP (one 50 MiB entry of zeros listed 40 times) made 40
/// videos and 2 GB of originals; a million-entry ZIP cost 210 MB before the count
/// was checked. Class: archives are checked (entries from the end record, sizes,
/// ratios, duplicates) before anything is stored, then every path that creates
/// videos passes one admission (pending jobs, rates, the storage quota shown in
/// settings); nothing of a refused import stays.
async fn an_import_fills_the_disk(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_UPLOADS_MAX_PENDING_JOBS", "3")]).await;
    let token = app.signup("importer").await;
    let originals = app.data.path().join("regions/local/originals");
    let id = "AAAAAAAAAAAAAAAA";
    let zeros = vec![0u8; 50 << 20];
    let entry = |id: &str| format!("{{\"id\":\"{id}\",\"caption\":\"x\",\"visibility\":\"public\"}}");
    let account = ("account.json".to_owned(), b"{}".to_vec());
    // The bomb of the finding: one entry listed 40 times.
    let listed = format!("[{}]", vec![entry(id); 40].join(","));
    let bomb = zip_with(&[account.clone(), ("videos.json".into(), listed.into_bytes()), (format!("videos/{id}/original"), zeros.clone())]);
    assert!(bomb.len() < 200 << 10, "{}", bomb.len());
    let (s, e) = import(&app, &token, bomb).await;
    assert_eq!((s, e["error"]["code"].as_str()), (422, Some("invalid-archive")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("more than once"), "{e}");
    // Distinct ids, zeros inside: refused by the ratio before anything is stored.
    let ids = ["BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"];
    let zipped = zip_with(&[
        account.clone(),
        ("videos.json".into(), format!("[{}]", ids.map(entry).join(",")).into_bytes()),
        (format!("videos/{}/original", ids[0]), zeros.clone()),
        (format!("videos/{}/original", ids[1]), zeros.clone()),
    ]);
    let (s, e) = import(&app, &token, zipped).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("compressed"), "{e}");
    // An end record claiming 60,000 entries: refused before the directory is read.
    let mut eocd = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0];
    eocd.extend_from_slice(&60_000u16.to_le_bytes());
    eocd.extend_from_slice(&60_000u16.to_le_bytes());
    eocd.extend_from_slice(&(3_000_000u32).to_le_bytes());
    eocd.extend_from_slice(&0u32.to_le_bytes());
    eocd.extend_from_slice(&0u16.to_le_bytes());
    let (s, e) = import(&app, &token, eocd).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("60000 entries"), "{e}");
    // Real videos, but more than the pending-jobs limit (3): one admission for all.
    let dir = tempfile::tempdir().unwrap();
    let clip_bytes = std::fs::read(clip(dir.path(), "c.mp4", 180, 320, 1)).unwrap();
    let four = ["DDDDDDDDDDDDDDDD", "EEEEEEEEEEEEEEEE", "FFFFFFFFFFFFFFFF", "GGGGGGGGGGGGGGGG"];
    let mut files = vec![account.clone(), ("videos.json".into(), format!("[{}]", four.map(entry).join(",")).into_bytes())];
    files.extend(four.iter().map(|i| (format!("videos/{i}/original"), clip_bytes.clone())));
    let (s, e) = import(&app, &token, zip_with(&files)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("quota-exceeded")), "{e}");
    assert_eq!(count_files(&originals), 0, "a refused import stored originals");
    let (_, mine) = app.get_json("/api/v1/accounts/importer/videos", Some(&token)).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 0, "{mine}");
    // Two fit: imported, and the storage they take shows in settings.
    files.truncate(2);
    files[1] = ("videos.json".into(), format!("[{}]", four[..2].iter().map(|i| entry(i)).collect::<Vec<_>>().join(",")).into_bytes());
    files.extend(four[..2].iter().map(|i| (format!("videos/{i}/original"), clip_bytes.clone())));
    let (s, e) = import(&app, &token, zip_with(&files)).await;
    assert_eq!(s, 201, "{e}");
    for v in e["videos"].as_array().unwrap() {
        app.wait(&token, v.as_str().unwrap()).await;
    }
    let session = app.web_session("importer").await;
    let page = app.page_as("/settings", &session).await;
    assert!(page.contains("id=\"storage\"") && page.contains("of your 53.7 GB storage"), "{page}");
}

/// Regression: deleted videos and comments were kept forever (caption, file name,
/// hashtags, the search entry, comment bodies) and the export left them out.
/// Class: the words go at deletion; the tombstones go with the retention sweep;
/// the export lists what is still kept; every text column has a stated retention
/// (the registry test, column by column).
async fn deleted_videos_and_comments_are_kept_forever(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_RETENTION_DELETED_CONTENT_DAYS", "0")]).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let (s, v) = app.upload(Some(&alice), &clip(dir.path(), "c.mp4", 180, 320, 1), "holiday-at-grandmas.mp4", "secretcaption77 #secrettag77", "public").await;
    assert_eq!(s, 202, "{v}");
    let vid = v["id"].as_str().unwrap().to_owned();
    app.wait(&alice, &vid).await;
    let (s, c) = app.call(M::POST, &format!("/api/v1/videos/{vid}/comments"), &alice, Some(json!({"text": "secretcomment77"}))).await;
    assert_eq!(s, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_owned();
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/comments/{cid}"), &alice, None).await.0 / 100, 2);
    assert_eq!(app.call(M::DELETE, &format!("/api/v1/videos/{vid}"), &alice, None).await.0 / 100, 2);
    // At once: no words in any row, nothing in search or on the hashtag page.
    let mut sql = app.sql().await;
    for (table, cols) in [("videos", "caption || original_name"), ("comments", "body"), ("video_tags", "tag")] {
        let n: i64 = sqlx::Row::get(
            &sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {cols} LIKE '%secret%' OR {cols} LIKE '%grandma%'"))
                .fetch_one(&mut sql)
                .await
                .unwrap(),
            "n",
        );
        assert_eq!(n, 0, "{table} still holds the deleted words");
    }
    let found = app.get_json("/api/v1/search?q=secretcaption77", Some(&alice)).await.1.to_string();
    assert!(!found.contains(&vid), "{found}");
    let found = app.get_json("/api/v1/tags/secrettag77/videos", None).await.1.to_string();
    assert!(!found.contains(&vid), "{found}");
    // The export lists the tombstones still kept, without the words.
    let (s, e) = app.call(M::POST, "/api/v1/me/exports", &alice, None).await;
    assert_eq!(s, 202, "{e}");
    let e = export_ready(&app, &alice, e["id"].as_str().unwrap()).await;
    let zip_bytes = app.client.get(app.url(e["download_url"].as_str().unwrap())).bearer_auth(&alice).send().await.unwrap().bytes().await.unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).unwrap();
    let mut deleted = String::new();
    std::io::Read::read_to_string(&mut z.by_name("deleted.json").unwrap(), &mut deleted).unwrap();
    assert!(deleted.contains(&vid) && deleted.contains(&cid) && !deleted.contains("secret"), "{deleted}");
    // The retention sweep (at start-up and hourly) removes the tombstones (0 days
    // here) once the purge job has removed the video's files.
    for _ in 0..300 {
        let n: i64 =
            sqlx::Row::get(&sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')").fetch_one(&mut sql).await.unwrap(), "n");
        if n == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(sql);
    let (b, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b, data, db, &[("KINORA_RETENTION_DELETED_CONTENT_DAYS", "0")]).await;
    let mut sql = app.sql().await;
    for _ in 0..100 {
        let n: i64 = sqlx::Row::get(&sqlx::query(&format!("SELECT COUNT(*) AS n FROM videos WHERE id = '{vid}'")).fetch_one(&mut sql).await.unwrap(), "n");
        let m: i64 = sqlx::Row::get(&sqlx::query(&format!("SELECT COUNT(*) AS n FROM comments WHERE id = '{cid}'")).fetch_one(&mut sql).await.unwrap(), "n");
        if n + m == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the tombstones were not swept");
}

/// Two `file://` regions (home, and its backup copy) in a temporary directory, and
/// the configuration naming them (its path, for `KINORA_CONFIG`).
fn two_file_regions() -> (tempfile::TempDir, &'static str) {
    let regions = tempfile::tempdir().unwrap();
    let cfg = regions.path().join("kinora.toml");
    std::fs::write(
        &cfg,
        format!(
            "[regions.home]\nstorage = \"file://{r}/home\"\njurisdiction = \"EU\"\n[regions.copy]\nstorage = \"file://{r}/copy\"\njurisdiction = \"EU\"\n[residency]\nprimary = \"home\"\nbackup = \"copy\"\n",
            r = regions.path().display()
        ),
    )
    .unwrap();
    (regions, Box::leak(cfg.to_str().unwrap().to_owned().into_boxed_str()))
}
