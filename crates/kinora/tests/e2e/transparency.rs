//! Staff access through the one door, written to the transparency log before any
//! data is released: roles from the command line (each a log entry), the access
//! API, the C2SP tiles and signed checkpoint, the subject's history with proofs
//! that check out, and a stored tree that disagrees with its checkpoint refusing to
//! serve.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use kinora_translog::{check_record, open_checkpoint, parse_data_tile, record_hash, Entry, Hash};
use serde_json::json;

both!(staff_access_is_logged_first_and_provable);
both!(auditor_catches_a_truncated_and_a_forked_log);

fn kinora(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = app.cli(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The auditor's tool, built next to the server binary by `cargo test --workspace`.
fn audit(app: &TestApp, vkey: &str, state: &std::path::Path) -> (bool, String) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
    assert!(bin.exists(), "{} is built by `cargo test --workspace`", bin.display());
    let out = std::process::Command::new(bin)
        .args(["verify", "--log", &app.url("/log"), "--key", vkey.trim(), "--state"])
        .arg(state)
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn unhex(s: &str) -> Hash {
    Hash((0..32).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect::<Vec<u8>>().try_into().unwrap())
}

async fn staff_access_is_logged_first_and_provable(b: Backend) {
    use reqwest::Method as M;
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let moderator = app.signup("mona").await;
    let dir = tempfile::tempdir().unwrap();
    app.upload_and_wait(&alice, &clip(dir.path(), "p.mp4", 180, 320, 1), "just for me", "private").await;
    let alice_id = app.get_json("/api/v1/me", Some(&alice)).await.1["id"].as_str().unwrap().to_owned();
    let ask = json!({"subject": "alice", "scopes": ["profile", "videos"], "reason": "report-review", "reference": "report-1"});

    // The public report starts empty, with the checkpoint and how to verify it.
    let html = app.get("/transparency", None).await.text().await.unwrap();
    assert!(html.contains("id=\"transparency-empty\"") && html.contains("holds 0 entries") && html.contains("kinora-audit verify --log"), "{html}");

    // Not staff: the door does not exist.
    assert_eq!(app.call(M::POST, "/api/v1/staff/access", &moderator, Some(ask.clone())).await.0, 404);
    assert_eq!(app.call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": 5}))).await.0, 404, "not even a malformed body tells a non-staff caller the route exists");
    let (ok, out) = kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]);
    assert!(ok, "{out}");
    assert!(out.contains("log entry 0"), "{out}");
    let (ok, out) = kinora(&app, &["staff", "list"]);
    assert!(ok && out.contains("mona") && out.contains("moderator"), "{out}");

    // Bad requests are refused before anything is logged.
    for (bad, what) in [
        (json!({"subject": "alice", "scopes": ["profile"], "reference": "x"}), "no reason"),
        (json!({"subject": "alice", "scopes": ["profile"], "reason": "report-review"}), "no reference"),
        (json!({"subject": "alice", "scopes": ["passwords"], "reason": "report-review", "reference": "x"}), "unknown scope"),
    ] {
        assert_eq!(app.call(M::POST, "/api/v1/staff/access", &moderator, Some(bad)).await.0, 400, "{what}");
    }
    assert_eq!(app.call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": "nobody_here", "scopes": ["profile"], "reason": "support", "reference": "t-1"}))).await.0, 404);

    let (s, access) = app.call(M::POST, "/api/v1/staff/access", &moderator, Some(ask)).await;
    assert_eq!(s, 200, "{access}");
    assert_eq!(access["log_index"], 1);
    assert_eq!(access["data"]["profile"]["username"], "alice");
    assert_eq!(access["data"]["videos"][0]["visibility"], "private", "staff see what strangers cannot");

    // The log: a signed checkpoint, tiles, entries with a commitment for a subject.
    let vkey = app.get("/log/key", None).await.text().await.unwrap();
    let note = app.get("/log/checkpoint", None).await.bytes().await.unwrap();
    let cp = open_checkpoint(vkey.trim(), &note).unwrap();
    assert_eq!(cp.size(), 2);
    assert!(cp.origin().ends_with("/kinora/access-log"));
    let bundle = app.get("/log/tile/entries/000.p/2", None).await.bytes().await.unwrap();
    let entries = parse_data_tile(&bundle).unwrap();
    assert_eq!(entries.len(), 2);
    let e = Entry::parse(&entries[1]).unwrap();
    assert_eq!((e.actor.as_str(), e.role.as_str(), e.reason.as_str(), e.reference.as_str()), ("mona", "moderator", "report-review", "report-1"));
    let text = String::from_utf8(entries[1].clone()).unwrap();
    assert!(!text.contains("alice") && !text.contains(&alice_id), "the public log does not say whose data: {text}");
    assert_eq!(Entry::parse(&entries[0]).unwrap().reason, "staff-grant");
    let tile = app.get("/log/tile/0/000.p/2", None).await.bytes().await.unwrap();
    assert_eq!(&tile[..32], &record_hash(&entries[0]).0);
    assert_eq!(&tile[32..], &record_hash(&entries[1]).0);
    assert_eq!(app.get("/log/tile/0/001", None).await.status(), 404, "no tile beyond the tree");

    // The subject sees the access, with a proof against the checkpoint.
    let (s, history) = app.get_json("/api/v1/me/access-log", Some(&alice)).await;
    assert_eq!(s, 200, "{history}");
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{history}");
    let item = &items[0];
    assert_eq!(item["actor"], "mona");
    let proof: Vec<Hash> = item["proof"].as_array().unwrap().iter().map(|h| unhex(h.as_str().unwrap())).collect();
    let cp = open_checkpoint(vkey.trim(), history["checkpoint"].as_str().unwrap().as_bytes()).unwrap();
    check_record(&proof, cp.size(), *cp.hash(), 1, unhex(item["leaf_hash"].as_str().unwrap())).unwrap();
    // The moderator's own history holds the grant.
    assert_eq!(app.get_json("/api/v1/me/access-log", Some(&moderator)).await.1["items"][0]["reason"], "staff-grant");

    // The legal-request path: logged, then the account's whole export archive.
    let out_zip = dir.path().join("legal.zip");
    let out_s = out_zip.to_str().unwrap();
    let (ok, out) = kinora(&app, &["access", "export", "--subject", "alice", "--reference", "", "--out", out_s]);
    assert!(!ok && out.contains("--reference"), "{out}");
    assert!(!out_zip.exists());
    let (ok, out) = kinora(&app, &["access", "export", "--subject", "alice", "--reference", "court-7", "--out", out_s]);
    assert!(ok && out.contains("entry 2"), "{out}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out_zip).unwrap()).unwrap();
    let read = |z: &mut zip::ZipArchive<std::fs::File>, name: &str| {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_name(name).unwrap(), &mut s).unwrap();
        s
    };
    let videos: serde_json::Value = serde_json::from_str(&read(&mut zip, "videos.json")).unwrap();
    assert_eq!(videos[0]["visibility"], "private", "{videos}");
    let log: serde_json::Value = serde_json::from_str(&read(&mut zip, "access-log.json")).unwrap();
    assert!(log.as_array().unwrap().iter().any(|r| r["reason"] == "legal-request" && r["reference"] == "court-7" && r["actor"] == "operator"), "{log}");
    let (ok, out) = kinora(&app, &["access", "export", "--subject", "alice", "--reference", "court-7", "--out", out_s]);
    assert!(!ok && out.contains("exists already"), "{out}");

    // The public report counts them by month, reason and role.
    let html = app.get("/transparency", None).await.text().await.unwrap();
    for row in ["<td>legal-request</td><td>admin</td><td>1</td>", "<td>report-review</td><td>moderator</td><td>1</td>", "<td>staff-grant</td><td>admin</td><td>1</td>"] {
        assert!(html.contains(row), "{row} in {html}");
    }
    assert!(html.contains("holds 3 entries") && !html.contains("alice"), "{html}");

    // Settings → "Who accessed my data": newest first, named staff, reason and reference.
    let page = |who: &'static str| {
        let app = &app;
        async move {
            let session = app.web_session(who).await;
            app.client.get(app.url("/settings/access")).header("cookie", format!("kinora_session={session}")).send().await.unwrap().text().await.unwrap()
        }
    };
    let html = page("alice").await;
    let (legal, review) = (html.find("court-7").expect(&html), html.find("report-1").expect(&html));
    assert!(legal < review, "newest first: {html}");
    assert!(html.contains("<b>mona</b> (moderator)") && html.contains("legal-request") && html.contains("profile, videos"), "{html}");
    let other = app.signup("olga").await;
    drop(other);
    assert!(page("olga").await.contains("id=\"access-empty\""), "an empty state for someone never accessed");
    let r = app.get("/settings/access", None).await;
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/login?next=/settings/access"), "signed out: to the sign-in page");

    // An auditor checks the whole log offline and remembers what it saw.
    let audit_state = tempfile::tempdir().unwrap();
    let (ok, out) = audit(&app, &vkey, audit_state.path());
    assert!(ok && out.contains("(3 entries)") && out.contains("report-review") && out.contains("legal-request"), "{out}");

    // A restart checks the stored tree against the last checkpoint: it agrees...
    let (b2, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b2, data, db, &[]).await;
    assert_eq!(open_checkpoint(vkey.trim(), &app.get("/log/checkpoint", None).await.bytes().await.unwrap()).unwrap().size(), 3);
    // The log grows; the auditor checks the new tree extends the one it saw.
    let moderator = app.token("mona", "correct horse battery").await.unwrap();
    let (s, body) = app.call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-1"}))).await;
    assert_eq!(s, 200, "{body}");
    let (ok, out) = audit(&app, &vkey, audit_state.path());
    assert!(ok && out.contains("(4 entries)"), "{out}");
    // An entry quietly rewritten in the database no longer matches the signed tree.
    sqlx::any::install_default_drivers();
    let url = app.db_url.clone().unwrap_or_else(|| format!("sqlite://{}", app.data.path().join("kinora.sqlite3").display()));
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query("UPDATE log_entries SET entry = REPLACE(entry, 'report-1', 'report-2') WHERE idx = 1").execute(&mut conn).await.unwrap();
    drop(conn);
    let (ok, out) = audit(&app, &vkey, audit_state.path());
    assert!(!ok && out.contains("FAILED") && out.contains("does not match"), "{out}");
    // ...and once the stored tree is edited, the log and staff access are refused.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query(&format!("UPDATE log_hashes SET hash = '{}' WHERE idx = 0", "00".repeat(32))).execute(&mut conn).await.unwrap();
    drop(conn);
    let (b3, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b3, data, db, &[]).await;
    let moderator = app.token("mona", "correct horse battery").await.unwrap();
    let (s, body) = app.call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-3"}))).await;
    assert_eq!(s, 500, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("transparency log is unavailable"), "{body}");
    assert_ne!(app.get("/log/checkpoint", None).await.status(), 200);
}

/// A second server holding the first one's log key (a stolen key, or an operator
/// starting over) can sign a shorter log, then a different one of the same size. An
/// auditor who saw the first log refuses both.
async fn auditor_catches_a_truncated_and_a_forked_log(b: Backend) {
    let a = TestApp::spawn(b).await;
    a.signup("mona").await;
    for args in [["staff", "grant", "mona", "--role", "moderator"], ["staff", "revoke", "mona", "", ""], ["staff", "grant", "mona", "--role", "admin"], ["staff", "revoke", "mona", "", ""]] {
        let args: Vec<&str> = args.into_iter().filter(|s| !s.is_empty()).collect();
        let (ok, out) = kinora(&a, &args);
        assert!(ok, "{out}");
    }
    let vkey = a.get("/log/key", None).await.text().await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let (ok, out) = audit(&a, &vkey, state.path());
    assert!(ok && out.contains("(4 entries)") && out.contains("staff-revoke"), "{out}");

    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("keys")).unwrap();
    std::fs::copy(a.data.path().join("keys/log.key"), data.path().join("keys/log.key")).unwrap();
    let fork = TestApp::spawn_in(Backend::Sqlite, data, None, &[]).await;
    assert_eq!(fork.get("/log/key", None).await.text().await.unwrap(), vkey, "same key, same origin");
    fork.signup("mona").await;
    let (ok, out) = kinora(&fork, &["staff", "grant", "mona", "--role", "moderator"]);
    assert!(ok, "{out}");
    let (ok, out) = audit(&fork, &vkey, state.path());
    assert!(!ok && out.contains("FAILED") && out.contains("truncated"), "a shorter log: {out}");
    for args in [&["staff", "revoke", "mona"][..], &["staff", "grant", "mona", "--role", "moderator"], &["staff", "revoke", "mona"], &["staff", "grant", "mona", "--role", "admin"]] {
        let (ok, out) = kinora(&fork, args);
        assert!(ok, "{out}");
    }
    let (ok, out) = audit(&fork, &vkey, state.path());
    assert!(!ok && out.contains("FAILED") && out.contains("forked"), "a different log of 5 entries: {out}");
    // A fresh auditor (no state) would accept the fork on its own: the state is what
    // catches it, which is why it is kept (and why witnesses matter).
    let fresh = tempfile::tempdir().unwrap();
    assert!(audit(&fork, &vkey, fresh.path()).0);
    // And a log checked against someone else's key fails on the signature.
    let other = kinora_translog::generate_key(vkey.split('+').next().unwrap()).1;
    let (ok, out) = audit(&fork, &other, fresh.path());
    assert!(!ok && out.contains("FAILED: checkpoint signature"), "{out}");
}
