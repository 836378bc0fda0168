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
both!(witnesses_cosign_the_log_and_refuse_forks);
both!(legal_references_can_be_redacted_and_revealed);

fn kinora(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = app.cli(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The auditor's tool, built next to the server binary by `cargo test --workspace`.
fn audit(app: &TestApp, vkey: &str, state: &std::path::Path) -> (bool, String) {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
    assert!(bin.exists(), "{} is built by `cargo test --workspace`", bin.display());
    let out = std::process::Command::new(bin).args(["verify", "--log", &app.url("/log"), "--key", vkey.trim(), "--state"]).arg(state).output().unwrap();
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
    assert_eq!(
        app.call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": 5}))).await.0,
        404,
        "not even a malformed body tells a non-staff caller the route exists"
    );
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
    assert_eq!(
        app.call(
            M::POST,
            "/api/v1/staff/access",
            &moderator,
            Some(json!({"subject": "nobody_here", "scopes": ["profile"], "reason": "support", "reference": "t-1"}))
        )
        .await
        .0,
        404
    );

    let (s, access) = app.call(M::POST, "/api/v1/staff/access", &moderator, Some(ask)).await;
    assert_eq!(s, 200, "{access}");
    assert_eq!(access["log_index"], 1);
    assert_eq!(access["data"]["profile"]["username"], "alice");
    assert_eq!(access["data"]["videos"][0]["visibility"], "private", "staff see what strangers cannot");
    // With media links that work for this staff member only, for a limited time.
    assert_eq!(access["data"]["videos"][0]["media_expires_in_s"], 900);
    let link = access["data"]["videos"][0]["media"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str())
        .find(|l| l.contains(".mp4"))
        .expect("an mp4 link")
        .to_owned();
    assert_eq!(app.get(&link, Some(&moderator)).await.status(), 200);
    let stranger = app.signup("stranger").await;
    assert_eq!(app.get(&link, Some(&stranger)).await.status(), 404);
    assert_eq!(app.get(&link, None).await.status(), 404);

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
    for row in
        ["<td>legal-request</td><td>admin</td><td>1</td>", "<td>report-review</td><td>moderator</td><td>1</td>", "<td>staff-grant</td><td>admin</td><td>1</td>"]
    {
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
    let (s, body) = app
        .call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-1"})))
        .await;
    assert_eq!(s, 200, "{body}");
    let (ok, out) = audit(&app, &vkey, audit_state.path());
    assert!(ok && out.contains("(4 entries)"), "{out}");
    // An entry quietly rewritten in the database no longer matches the signed tree.
    sqlx::any::install_default_drivers();
    let url = app.db_url.clone().unwrap_or_else(|| format!("sqlite://{}", app.data.path().join("kinora.sqlite3").display()));
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query("UPDATE log_entries SET entry = REPLACE(entry, 'report-1', 'report-2') WHERE idx = 1").execute(&mut conn).await.unwrap();
    drop(conn);
    // The running server serves the bundles it already built from memory; after a
    // restart it finds the entries no longer give the stored tree and refuses to
    // serve the log at all, and the auditor fails.
    let (b2, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b2, data, db, &[]).await;
    let (ok, out) = audit(&app, &vkey, audit_state.path());
    assert!(!ok && out.contains("FAILED"), "{out}");
    assert_ne!(app.get("/log/checkpoint", None).await.status(), 200);
    // ...and once the stored tree is edited, the log and staff access are refused.
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
    sqlx::query(&format!("UPDATE log_hashes SET hash = '{}' WHERE idx = 0", "00".repeat(32))).execute(&mut conn).await.unwrap();
    drop(conn);
    let (b3, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b3, data, db, &[]).await;
    let moderator = app.token("mona", "correct horse battery").await.unwrap();
    let (s, body) = app
        .call(M::POST, "/api/v1/staff/access", &moderator, Some(json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-3"})))
        .await;
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
    for args in [
        ["staff", "grant", "mona", "--role", "moderator"],
        ["staff", "revoke", "mona", "", ""],
        ["staff", "grant", "mona", "--role", "admin"],
        ["staff", "revoke", "mona", "", ""],
    ] {
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
    for args in [
        &["staff", "revoke", "mona"][..],
        &["staff", "grant", "mona", "--role", "moderator"],
        &["staff", "revoke", "mona"],
        &["staff", "grant", "mona", "--role", "admin"],
    ] {
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

/// A witness process: its verifier key and base URL; killed when dropped.
struct RunningWitness {
    vkey: String,
    url: String,
    _child: tokio::process::Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_listening(port: u16) {
    let start = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "the witness did not start on {port}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// PyPI `aics-witness` (a C2SP tlog-witness written elsewhere), trusting our log.
async fn aics_witness(dir: &std::path::Path, origin: &str, log_vkey: &str) -> RunningWitness {
    let python = std::env::var("KINORA_TEST_PYTHON").expect("KINORA_TEST_PYTHON: scripts/test installs aics-witness in its venv");
    let bin = std::path::Path::new(&python).with_file_name("aics-witness");
    let config = dir.join("witness.json");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin).args(args).arg("--config").arg(&config).output().expect("aics-witness is installed (scripts/test)");
        assert!(out.status.success(), "aics-witness {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let printed = run(&["init", "--name", "witness.test/aics"]);
    let vkey = printed.split_whitespace().find(|w| w.starts_with("witness.test/aics+")).unwrap_or_else(|| panic!("no vkey in {printed}")).to_owned();
    run(&["add-log", "--origin", origin, "--vkey", log_vkey]);
    let port = free_port();
    let child = tokio::process::Command::new(&bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_listening(port).await;
    RunningWitness { vkey, url: format!("http://127.0.0.1:{port}"), _child: child }
}

/// `kinora-audit witness`.
async fn our_witness(dir: &std::path::Path, origin: &str, log_vkey: &str) -> RunningWitness {
    use tokio::io::AsyncBufReadExt;
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
    let port = free_port();
    let mut child = tokio::process::Command::new(bin)
        .args(["witness", "--listen", &format!("127.0.0.1:{port}"), "--log-origin", origin, "--log-key", log_vkey, "--name", "witness.test/ours", "--state"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let vkey = first.strip_prefix("kinora-audit witness ").unwrap_or_else(|| panic!("{first}")).trim().to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    wait_listening(port).await;
    RunningWitness { vkey, url: format!("http://127.0.0.1:{port}"), _child: child }
}

async fn post_checkpoint(url: &str, body: Vec<u8>) -> (u16, String) {
    let r = reqwest::Client::new().post(format!("{url}/add-checkpoint")).body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn witnesses_cosign_the_log_and_refuse_forks(b: Backend) {
    use kinora_translog::witness::{note_text, AddCheckpoint, WitnessKey};
    use kinora_translog::{sign_checkpoint, Tree};
    use reqwest::Method as M;
    let app = TestApp::spawn(b).await;
    app.signup("alice").await;
    app.signup("mona").await;
    let (ok, out) = kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]);
    assert!(ok, "{out}");
    let log_vkey = app.get("/log/key", None).await.text().await.unwrap().trim().to_owned();
    let origin = log_vkey.split('+').next().unwrap().to_owned();

    // Two witnesses: one written elsewhere (PyPI aics-witness), and kinora-audit's.
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let aics = aics_witness(d1.path(), &origin, &log_vkey).await;
    let ours = our_witness(d2.path(), &origin, &log_vkey).await;
    let config = d2.path().join("kinora.toml");
    std::fs::write(
        &config,
        format!("[transparency]\nwitnesses = [{{ url = \"{}\", key = \"{}\" }}, {{ url = \"{}\", key = \"{}\" }}]\n", aics.url, aics.vkey, ours.url, ours.vkey),
    )
    .unwrap();
    let (b2, data, db) = app.kill9().await;
    let app = TestApp::spawn_in(b2, data, db, &[("KINORA_CONFIG", config.to_str().unwrap())]).await;

    // A staff access makes a new checkpoint; both witnesses cosign it within seconds.
    let mona = app.token("mona", "correct horse battery").await.unwrap();
    let ask = json!({"subject": "alice", "scopes": ["profile"], "reason": "support", "reference": "t-1"});
    assert_eq!(app.call(M::POST, "/api/v1/staff/access", &mona, Some(ask.clone())).await.0, 200);
    let keys = [WitnessKey::parse(&aics.vkey).unwrap(), WitnessKey::parse(&ours.vkey).unwrap()];
    let cosigned = |note: &[u8]| {
        let text = note_text(note).unwrap();
        let sigs = String::from_utf8_lossy(&note[text.len()..]).into_owned();
        keys.iter().map(|k| sigs.lines().any(|l| matches!(k.verify_line(text, l), Ok(Some(_))))).collect::<Vec<bool>>()
    };
    let start = std::time::Instant::now();
    let note = loop {
        let note = app.get("/log/checkpoint", None).await.bytes().await.unwrap().to_vec();
        if cosigned(&note) == [true, true] {
            break note;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "not cosigned by both: {}\n{}", String::from_utf8_lossy(&note), app.log_tail());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let cp = open_checkpoint(&log_vkey, &note).expect("cosignature lines do not disturb the log's signature");
    let html = app.get("/transparency", None).await.text().await.unwrap();
    assert_eq!(html.matches("cosigned the checkpoint above").count(), 2, "{html}");
    assert!(html.contains(&format!("--witness '{}'", ours.vkey)), "{html}");
    assert_eq!(cp.size(), 2);
    // The auditor can require the witnesses.
    let audit_with = |extra: &[String]| {
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_kinora")).with_file_name("kinora-audit");
        let mut args = vec!["verify".to_owned(), "--log".into(), app.url("/log"), "--key".into(), log_vkey.clone()];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(bin).args(&args).output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let (ok, out) = audit_with(&["--witness".into(), aics.vkey.clone(), "--witness".into(), ours.vkey.clone()]);
    assert!(ok && out.contains("cosigned by witness.test/aics") && out.contains("cosigned by witness.test/ours"), "{out}");
    let (stranger_skey, _) = kinora_translog::witness::WitnessSigner::generate("witness.test/stranger").unwrap();
    let stranger = kinora_translog::witness::WitnessSigner::parse(&stranger_skey).unwrap().verifier().vkey();
    let (ok, out) = audit_with(&["--witness".into(), stranger]);
    assert!(!ok && out.contains("no cosignature of witness witness.test/stranger"), "{out}");

    // Someone with the log's key signs a forked, a truncated and a rewritten log:
    // neither witness cosigns any of them.
    let skey = std::fs::read_to_string(app.data.path().join("keys/log.key")).unwrap().lines().next().unwrap().to_owned();
    let mut fake = Tree::default();
    for i in 0..3 {
        fake.append(format!("{{\"forged\":{i}}}").as_bytes()).unwrap();
    }
    let fork = AddCheckpoint { old: 2, proof: vec![], note: sign_checkpoint(&skey, &origin, 2, fake.root_at(2).unwrap()).unwrap() };
    let rewritten =
        AddCheckpoint { old: 2, proof: fake.consistency_proof(3, 2).unwrap(), note: sign_checkpoint(&skey, &origin, 3, fake.root().unwrap()).unwrap() };
    let truncated = AddCheckpoint { old: 2, proof: vec![], note: sign_checkpoint(&skey, &origin, 1, fake.root_at(1).unwrap()).unwrap() };
    for w in [&aics, &ours] {
        for (what, req, want) in [("fork", &fork, 422), ("rewrite", &rewritten, 422), ("truncation", &truncated, 400)] {
            let (s, body) = post_checkpoint(&w.url, req.to_bytes()).await;
            assert_eq!(s, want, "{} on a {what}: {body}", w.vkey);
        }
        // Starting over from nothing is no way around it either.
        let (s, body) = post_checkpoint(&w.url, AddCheckpoint { old: 0, proof: vec![], note: fork.note.clone() }.to_bytes()).await;
        assert_eq!((s, body.trim()), (409, "2"), "{}", w.vkey);
    }

    // The honest log goes on, and both witnesses keep cosigning it.
    assert_eq!(app.call(M::POST, "/api/v1/staff/access", &mona, Some(ask)).await.0, 200);
    let start = std::time::Instant::now();
    loop {
        let note = app.get("/log/checkpoint", None).await.bytes().await.unwrap().to_vec();
        if open_checkpoint(&log_vkey, &note).unwrap().size() == 3 && cosigned(&note) == [true, true] {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "size 3 not cosigned: {}\n{}", String::from_utf8_lossy(&note), app.log_tail());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn legal_references_can_be_redacted_and_revealed(b: Backend) {
    use sha2::Digest;
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("case.zip");
    let (ok, text) = kinora(
        &app,
        &["access", "export", "--subject", "alice", "--reference", "Court of X, case 2026/41", "--redact-reference", "--out", out.to_str().unwrap()],
    );
    assert!(ok && text.contains("entry 0"), "{text}");
    // The public log and the person see a commitment, not the case.
    let bundle = app.get("/log/tile/entries/000.p/1", None).await.bytes().await.unwrap();
    let entry = Entry::parse(&parse_data_tile(&bundle).unwrap()[0]).unwrap();
    assert!(entry.reference.starts_with("sha256:") && entry.reference.len() == 7 + 64, "{}", entry.reference);
    assert!(!String::from_utf8_lossy(&bundle).contains("2026/41"));
    let history = app.get_json("/api/v1/me/access-log", Some(&alice)).await.1;
    assert_eq!(history["items"][0]["reference"], entry.reference.as_str());
    // The operator can disclose it; anyone checks the disclosure against the log.
    let (ok, text) = kinora(&app, &["access", "reveal", "0"]);
    assert!(ok && text.contains("Court of X, case 2026/41"), "{text}");
    let nonce = text.split("printf '%s:%s' '").nth(1).unwrap().split('\'').next().unwrap();
    let digest = sha2::Sha256::digest(format!("{nonce}:Court of X, case 2026/41").as_bytes());
    assert_eq!(entry.reference, format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    // An entry that was not redacted has nothing to reveal.
    app.signup("mona").await;
    assert!(kinora(&app, &["staff", "grant", "mona", "--role", "moderator"]).0);
    let (ok, text) = kinora(&app, &["access", "reveal", "1"]);
    assert!(!ok && text.contains("not redacted"), "{text}");

    // The sessions scope: when, from which address and which device.
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("user-agent", "KinoraTest/1.0 (Pixel 8)")
        .json(&json!({"username": "alice", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mona = app.token("mona", "correct horse battery").await.unwrap();
    let (s, got) = app
        .call(
            reqwest::Method::POST,
            "/api/v1/staff/access",
            &mona,
            Some(json!({"subject": "alice", "scopes": ["sessions"], "reason": "security", "reference": "sec-9"})),
        )
        .await;
    assert_eq!(s, 200, "{got}");
    let sessions = got["data"]["sessions"].as_array().unwrap();
    assert!(sessions.iter().any(|s| s["device"] == "KinoraTest/1.0 (Pixel 8)" && s["client_address"] == "127.0.0.1" && s["kind"] == "api"), "{got}");
}
