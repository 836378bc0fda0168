//! A real browser: headless Chromium at phone size opens `/` and the first video
//! actually plays (its currentTime advances); swiping to the next plays that one.
//! Drives Chromium through chromedriver with plain W3C WebDriver requests.
#![allow(clippy::unwrap_used)]

use crate::support::{clip, Backend, TestApp};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

struct Driver {
    base: String,
    session: String,
    client: reqwest::Client,
    _child: tokio::process::Child,
}

impl Driver {
    /// A phone: 390x844, touch, mobile user agent.
    async fn start() -> Driver {
        Driver::start_as(true).await
    }

    /// A desktop browser window, 1280x800.
    async fn start_desktop() -> Driver {
        Driver::start_as(false).await
    }

    async fn start_as(phone: bool) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is installed (scripts/deps --test)");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let start = Instant::now();
        while client.get(format!("{base}/status")).send().await.is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     if phone { "--window-size=390,844" } else { "--window-size=1280,800" }],
        });
        if phone {
            options["mobileEmulation"] = json!({"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let r: Value = client.post(format!("{base}/session")).json(&caps).send().await.unwrap().json().await.unwrap();
        let session = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_owned();
        Driver { base, session, client, _child: child }
    }

    /// Signs up with the form, as a phone user does, and waits for `/upload`.
    async fn sign_up(&self, app: &TestApp, username: &str) {
        self.goto(&app.url("/signup")).await;
        self.type_into("input[name=username]", username).await;
        self.type_into("input[name=password]", "a long enough password").await;
        self.click("button[type=submit]").await;
        let start = Instant::now();
        while self.js("return location.pathname;").await != "/upload" {
            assert!(start.elapsed() < Duration::from_secs(20), "sign-up did not lead to /upload");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn goto(&self, url: &str) {
        let r = self.client.post(format!("{}/session/{}/url", self.base, self.session)).json(&json!({"url": url})).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn js(&self, script: &str) -> Value {
        self.execute("sync", script).await
    }

    /// Runs a W3C WebDriver script (`sync`, or `async` with a callback argument).
    async fn execute(&self, kind: &str, script: &str) -> Value {
        let r: Value = self
            .client
            .post(format!("{}/session/{}/execute/{kind}", self.base, self.session))
            .json(&json!({"script": script, "args": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"].clone()
    }

    /// Runs an async script (its last argument is the callback) and returns its value.
    async fn js_async(&self, script: &str) -> Value {
        let t = json!({"script": 300_000});
        self.client.post(format!("{}/session/{}/timeouts", self.base, self.session)).json(&t).send().await.unwrap();
        self.execute("async", script).await
    }

    async fn find(&self, css: &str) -> String {
        let r: Value = self
            .client
            .post(format!("{}/session/{}/element", self.base, self.session))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"]["element-6066-11e4-a52e-4f735466cecf"].as_str().unwrap_or_else(|| panic!("no {css}: {r}")).to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        let r = self.client.post(format!("{}/session/{}/element/{el}/value", self.base, self.session)).json(&json!({"text": text})).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn click(&self, css: &str) {
        // As a person does: scroll it to the middle of the screen (not under the tab bar).
        self.js(&format!("document.querySelector({css:?}).scrollIntoView({{block: 'center'}}); return true;")).await;
        let el = self.find(css).await;
        let r = self.client.post(format!("{}/session/{}/element/{el}/click", self.base, self.session)).json(&json!({})).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Accepts the page's `confirm()` dialog.
    async fn accept_dialog(&self) {
        let start = Instant::now();
        loop {
            let r = self.client.post(format!("{}/session/{}/alert/accept", self.base, self.session)).json(&json!({})).send().await.unwrap();
            if r.status().is_success() {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "no dialog to accept");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `script` returns a truthy value; returns it.
    async fn until(&self, script: &str, what: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script).await;
            if !(v.is_null() || v == false || v == "") {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{what} never happened");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the `n`th card's video has played past `secs`.
    async fn wait_playing(&self, n: usize, secs: f64) -> Value {
        let script = format!(
            "const v = document.querySelectorAll('.card video')[{n}]; \
             return v ? {{t: v.currentTime, paused: v.paused, rs: v.readyState, err: v.error && v.error.code, src: v.currentSrc}} : null;"
        );
        let start = Instant::now();
        loop {
            let s = self.js(&script).await;
            if s["t"].as_f64().unwrap_or(0.0) > secs && s["paused"] == false {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(45), "video {n} is not playing: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Best effort: close the browser; chromedriver dies with the child handle.
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ = reqwest::Client::new().delete(url).send().await;
                });
            }
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_plays_the_feed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.signup("browsy").await;
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2 {
        let f = clip(dir.path(), &format!("b{i}.mp4"), 360, 640, 3);
        let v = app.upload_and_wait(&token, &f, &format!("browser clip {i}"), "public").await;
        assert_eq!(v["status"], "ready");
    }
    let d = Driver::start().await;
    d.goto(&app.url("/")).await;
    let first = d.wait_playing(0, 0.5).await;
    assert!(first["src"].as_str().unwrap().contains("/media/"), "{first}");
    // Full-height cards at phone size.
    let layout = d.js("const c = document.querySelector('.card'); return [c.getBoundingClientRect().height, window.innerHeight, getComputedStyle(document.querySelector('.feed')).scrollSnapType];").await;
    let (card_h, win_h) = (layout[0].as_f64().unwrap(), layout[1].as_f64().unwrap());
    assert!(win_h < 900.0 && card_h > win_h * 0.8, "{layout}");
    assert!(layout[2].as_str().unwrap().contains("y"), "{layout}");
    // Swipe to the next video: it plays, the first pauses.
    d.js("const f = document.querySelector('.feed'); f.scrollTo(0, f.clientHeight); return true;").await;
    d.wait_playing(1, 0.3).await;
    let paused = d.js("return document.querySelectorAll('.card video')[0].paused;").await;
    assert_eq!(paused, true);
}

/// Sign up and upload through the web pages as a phone user would: the upload page
/// sends the file with tus-js-client, shows progress, then the ready video.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_signs_up_and_uploads() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "phone.mp4", 360, 640, 2);
    let d = Driver::start().await;
    d.sign_up(&app, "webtus").await;
    d.type_into("input[type=file]", f.to_str().unwrap()).await;
    d.type_into("textarea[name=caption]", "sent with tus from a phone").await;
    d.click("button[type=submit]").await;
    let start = Instant::now();
    let mut saw_progress = false;
    loop {
        let s = d.js("return [document.getElementById('upload-text').textContent, document.getElementById('upload-result').getAttribute('src')];").await;
        let text = s[0].as_str().unwrap_or("").to_owned();
        saw_progress |= text.contains('%') || text.contains("Processing");
        if let Some(src) = s[1].as_str() {
            assert!(src.contains("/media/"), "{s}");
            assert!(text.contains("Ready"), "{text}");
            break;
        }
        assert!(!text.contains("stopped") && !text.contains("couldn't"), "{text}");
        assert!(start.elapsed() < Duration::from_secs(90), "upload never became ready: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(saw_progress, "no progress or processing state was shown");
    let (_, me) = app.get_json("/api/v1/accounts/webtus/videos", None).await;
    assert_eq!(me["items"][0]["caption"], "sent with tus from a phone");
}

/// The social flows as a phone user does them: follow from a profile, double-tap to
/// like, comment in the sheet, and search with results as you type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_follows_likes_comments_and_searches() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let creator = app.signup("creator").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "s.mp4", 360, 640, 3);
    let v = app.upload_and_wait(&creator, &f, "Morning run #sunrise", "public").await;
    let id = v["id"].as_str().unwrap().to_owned();

    let d = Driver::start().await;
    d.goto(&app.url("/signup")).await;
    d.type_into("input[name=username]", "viewer1").await;
    d.type_into("input[name=password]", "a long enough password").await;
    d.click("button[type=submit]").await;
    let wait_for = |script: &'static str, what: &'static str| {
        let d = &d;
        async move {
            let start = Instant::now();
            loop {
                let v = d.js(script).await;
                if v == true {
                    return;
                }
                assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}: {v}");
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
    };
    wait_for("return location.pathname === '/upload';", "sign-up").await;

    // Follow from the profile page.
    d.goto(&app.url("/@creator")).await;
    // Hidden things stay hidden (the block/report menu opens only from its button).
    assert_eq!(d.js("return document.querySelector('.menu').offsetParent === null;").await, true);
    d.click("button.more").await;
    assert_eq!(d.js("return document.querySelector('.menu').offsetParent !== null;").await, true);
    d.click("[data-action=report]").await;
    wait_for("return document.getElementById('report-dialog').open;", "report dialog").await;
    d.click("#report-dialog button[value=send]").await;
    wait_for("return document.getElementById('toast').textContent.startsWith('Thanks');", "report sent").await;
    d.click("button.follow").await;
    wait_for("return document.querySelector('button.follow').textContent.trim() === 'Following';", "follow").await;

    // Double-tap the video to like it; the heart shows and the count goes up.
    d.goto(&app.url("/")).await;
    d.wait_playing(0, 0.3).await;
    d.js("const v = document.querySelector('.card video'); v.click(); setTimeout(() => v.click(), 80); return true;").await;
    wait_for("return document.querySelector('.card .like').classList.contains('on') && document.querySelector('.card .like .n').textContent === '1';", "like")
        .await;

    // Report the video from the rail.
    d.click(".card .act.report").await;
    wait_for("return document.getElementById('report-dialog').open;", "report dialog").await;
    d.click("#report-dialog button[value=send]").await;
    wait_for(
        "return !document.getElementById('report-dialog').open && document.getElementById('toast').textContent.startsWith('Thanks');",
        "video report sent",
    )
    .await;

    // Comment in the sheet.
    d.click(".card .act.comment").await;
    wait_for(
        "const s = document.getElementById('comments'); return !s.hidden && s.classList.contains('open') && Math.abs(s.getBoundingClientRect().bottom - window.innerHeight) < 2;",
        "comment sheet",
    )
    .await;
    d.type_into(".comment-form input[name=text]", "great pace!").await;
    d.click(".comment-form button[type=submit]").await;
    wait_for("return Array.from(document.querySelectorAll('.comment-list li p')).some(p => p.textContent === 'great pace!');", "comment").await;

    // Search as you type.
    d.goto(&app.url("/search")).await;
    d.type_into("#search-q", "sunr").await;
    wait_for("return Array.from(document.querySelectorAll('#search-results a')).some(a => a.getAttribute('href') === '/tags/sunrise');", "tag result").await;
    wait_for(&*Box::leak(format!("return !!document.querySelector('#search-results a[href=\"/v/{id}\"]');").into_boxed_str()), "video result").await;
    d.js("const q = document.getElementById('search-q'); q.value = ''; return true;").await;
    d.type_into("#search-q", "crea").await;
    wait_for("return !!document.querySelector('#search-results a[href=\"/@creator\"]');", "account result").await;

    // The server agrees with what the page showed.
    let (_, vj) = app.get_json(&format!("/api/v1/videos/{id}"), Some(&creator)).await;
    assert_eq!(vj["counts"]["likes"], 1);
    assert_eq!(vj["counts"]["comments"], 1);
    let (_, acct) = app.get_json("/api/v1/accounts/creator", None).await;
    assert_eq!(acct["counts"]["followers"], 1);
    let (_, notes) = app.get_json("/api/v1/notifications", Some(&creator)).await;
    assert!(notes["unread"].as_i64().unwrap() >= 3, "{notes}");
}

/// Regression: tus-js-client in a phone browser sends 100 MB in 256 KiB
/// chunks (400 PATCHes, more than the per-account write limit allows in a minute)
/// and the upload completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_15_tus_js_client_uploads_100_mb_in_256_kib_chunks() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_WORKERS", "0")]).await;
    let d = Driver::start().await;
    d.sign_up(&app, "bigtus").await;
    // The page's own tus-js-client, a 100 MB file made in the page.
    let r = d
        .js_async(
            "var done = arguments[arguments.length - 1];\
             var bytes = new Uint8Array(100 * 1024 * 1024); for (var i = 0; i < bytes.length; i += 4096) bytes[i] = i & 255;\
             var file = new File([bytes], 'big.mp4', {type: 'video/mp4'});\
             var csrf = document.querySelector('meta[name=csrf-token]').content;\
             var up = new tus.Upload(file, {endpoint: '/api/v1/uploads', chunkSize: 256 * 1024, retryDelays: [],\
               headers: {'X-CSRF-Token': csrf}, metadata: {filename: 'big.mp4', caption: 'big one'},\
               onError: function (e) { done('error: ' + e); },\
               onSuccess: function () { done('ok ' + up.url); }});\
             up.start();",
        )
        .await;
    let r = r.as_str().unwrap_or("").to_owned();
    assert!(r.starts_with("ok "), "tus-js-client failed: {r}");
}

/// Infinite scroll in a phone browser: swiping to the end of the first page loads
/// the next one as the same cards (Report included, hashtags linked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_scrolls_past_the_first_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.signup("scroller").await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "s.mp4", 64, 112, 1);
    let mut ids = Vec::new();
    for i in 0..10 {
        let (s, v) = app.upload(Some(&token), &f, "s.mp4", &format!("clip {i} #scroll"), "public").await;
        assert_eq!(s, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(app.wait(&token, id).await["status"], "ready");
    }
    let d = Driver::start().await;
    d.goto(&app.url("/")).await;
    let start = Instant::now();
    loop {
        let n = d.js("const f = document.querySelector('.feed'); f.scrollTo(0, f.scrollHeight); return document.querySelectorAll('.card').length;").await;
        if n.as_u64() == Some(10) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the second page never arrived: {n} cards");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let last = d.js("const c = document.querySelectorAll('.card')[9]; return [!!c.querySelector('.act.report'), !!c.querySelector('.caption a[href=\"/tags/scroll\"]')];").await;
    assert_eq!(last, serde_json::json!([true, true]), "later cards are the same card");
}

/// Settings at phone size, as a person uses them: where the data lives, change the
/// password, download the data, then delete the account (confirming the dialog).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_settings_password_download_and_delete() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("KINORA_ACCOUNTS_ERASURE_GRACE_HOURS", "72")]).await;
    let d = Driver::start().await;
    d.sign_up(&app, "settler").await;
    d.goto(&app.url("/settings")).await;
    let residency = d.js("return document.getElementById('residency').textContent;").await;
    assert!(residency.as_str().unwrap().contains("stored in local"), "{residency}");
    // Password change keeps this session.
    d.type_into("#password-form input[name=current_password]", "a long enough password").await;
    d.type_into("#password-form input[name=new_password]", "an even longer password").await;
    d.click("#password-form button[type=submit]").await;
    d.until("return document.getElementById('toast').textContent.indexOf('Password changed') >= 0;", "the password change").await;
    assert!(app.token("settler", "an even longer password").await.is_ok());
    // Download your data: progress, then a link to the ZIP.
    d.click("#export-start").await;
    let href = d.until("const a = document.querySelector('#export-status a'); return a && a.getAttribute('href');", "the download link").await;
    assert!(href.as_str().unwrap().ends_with("/download"), "{href}");
    let zip = d
        .js_async("var done = arguments[arguments.length - 1]; fetch(document.querySelector('#export-status a').href).then(function (r) { return r.arrayBuffer(); }).then(function (b) { var u = new Uint8Array(b); done([u.length, u[0], u[1]]); });")
        .await;
    assert!(zip[0].as_u64().unwrap() > 100 && zip[1] == 0x50 && zip[2] == 0x4b, "a ZIP: {zip}");
    // Delete the account: confirm, then it is gone.
    d.type_into("#delete-form input[name=password]", "an even longer password").await;
    d.click("#delete-form button[type=submit]").await;
    d.accept_dialog().await;
    d.until("return location.pathname === '/';", "the way home after deletion").await;
    assert_eq!(app.get_json("/api/v1/accounts/settler", None).await.0, 404);
    let (s, e) = app.token("settler", "an even longer password").await.unwrap_err();
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("account-scheduled-for-deletion")));
}

/// No part of the page is wider than the screen (nothing to scroll sideways).
async fn fits_the_width(d: &Driver, what: &str) {
    let w = d.js("return [document.documentElement.scrollWidth, window.innerWidth];").await;
    assert!(w[0].as_u64().unwrap() <= w[1].as_u64().unwrap(), "{what} is wider than the screen: {w}");
}

/// Signs in with the form and waits to land on `next`.
async fn sign_in(d: &Driver, app: &TestApp, username: &str, password: &str, next: &str) {
    d.goto(&app.url(&format!("/login?next={next}"))).await;
    d.type_into("input[name=username]", username).await;
    d.type_into("input[name=password]", password).await;
    d.click("button[type=submit]").await;
    d.until(&format!("return location.pathname === {next:?};"), "sign-in").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_work_the_queue_on_a_phone_and_a_desktop() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let bob = app.signup("bob").await;
    app.signup("dave").await;
    let dir = tempfile::tempdir().unwrap();
    let phone = Driver::start().await;
    phone.sign_up(&app, "alice").await;
    let alice = app.token("alice", "a long enough password").await.unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "m.mp4", 360, 640, 2), "buy followers cheap", "public").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    for body in [json!({"video_id": vid, "reason": "spam", "details": "a bot ring"}), json!({"account": "dave", "reason": "other"})] {
        assert_eq!(app.call(reqwest::Method::POST, "/api/v1/reports", &bob, Some(body)).await.0, 201);
    }
    app.signup("mona").await;
    // Staff pages do not exist for anyone else.
    assert_eq!(app.get("/admin", Some(&bob)).await.status(), 404);
    let desk = Driver::start_desktop().await;
    desk.sign_up(&app, "mona_desk").await;
    let out = app.cli(&["staff", "grant", "mona_desk", "--role", "moderator"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // On the phone, alice (not staff) sees no way in; a moderator on the desktop does.
    phone.goto(&app.url("/settings")).await;
    assert_eq!(phone.js("return !document.getElementById('admin-link');").await, true);
    desk.goto(&app.url("/settings")).await;
    desk.click("#admin-link").await;
    desk.until("return location.pathname === '/admin' && document.querySelectorAll('.queue-item').length === 2;", "the queue").await;
    fits_the_width(&desk, "the queue on a desktop").await;
    let summary = desk.js("return document.querySelector('.queue-item .summary').textContent;").await;
    assert!(summary.as_str().unwrap().contains("buy followers cheap"), "{summary}");
    // Filter by reason.
    desk.goto(&app.url("/admin?status=open&reason=other")).await;
    assert_eq!(desk.js("return document.querySelectorAll('.queue-item').length;").await, 1);

    // Decide the video report: remove, with a reason and a note.
    desk.goto(&app.url("/admin")).await;
    desk.click(".queue-item .open-report").await;
    desk.until("return location.pathname.startsWith('/admin/reports/') && document.getElementById('decide');", "the report").await;
    assert_eq!(desk.js("return !document.getElementById('logged-access');").await, true, "a public video is no staff access");
    desk.until("const v = document.getElementById('review-video'); return v && v.readyState >= 1;", "the reviewed video loads").await;
    desk.click("#decide input[value=remove]").await;
    desk.type_into("#decide textarea[name=note]", "Selling followers is not allowed.").await;
    desk.click("#decide button[type=submit]").await;
    desk.until("return !!document.getElementById('decided');", "the decision").await;
    desk.until("return location.pathname === '/admin' && document.querySelectorAll('.queue-item').length === 1;", "back to a shorter queue").await;
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), Some(&bob)).await.0, 404);

    // Alice, on her phone, reads why and appeals.
    phone.goto(&app.url("/inbox")).await;
    phone.until("return !!document.querySelector('#notifications li.moderation .appeal-open');", "the moderation notice").await;
    let why = phone.js("return document.querySelector('#notifications li.moderation').textContent;").await;
    assert!(why.as_str().unwrap().contains("Selling followers is not allowed."), "{why}");
    fits_the_width(&phone, "the inbox on a phone").await;
    phone.click("#notifications li.moderation .appeal-open").await;
    phone.type_into("#notifications li.moderation textarea", "These are my real fans.").await;
    phone.click("#notifications li.moderation .appeal-form button[type=submit]").await;
    phone
        .until(
            "const p = document.querySelector('#notifications li.moderation .appeal-state'); return p && p.textContent.indexOf('waiting') >= 0;",
            "the appeal",
        )
        .await;

    // A second moderator works the appeal on a phone: the video is hidden from
    // ordinary users now, so opening it is a logged access; the video still plays.
    let out = app.cli(&["staff", "grant", "mona", "--role", "moderator"]).output().unwrap();
    assert!(out.status.success());
    let phone2 = Driver::start().await;
    // (`TestApp::signup` uses this password.)
    sign_in(&phone2, &app, "mona", "correct horse battery", "/admin").await;
    phone2.goto(&app.url("/admin?kind=appeal")).await;
    phone2.until("return document.querySelectorAll('.queue-item.appeal .hidden-item').length === 1;", "the appeal, hidden item").await;
    fits_the_width(&phone2, "the queue on a phone").await;
    phone2.click(".queue-item.appeal .open-report").await;
    // Looking at the report logs nothing; the hidden item opens with a POST.
    phone2.until("return !!document.getElementById('open-item') && !document.getElementById('logged-access');", "the open button").await;
    phone2.click("#open-item").await;
    phone2.until("return !!document.getElementById('logged-access');", "the logged access notice").await;
    phone2.until("const v = document.getElementById('review-video'); return v && v.readyState >= 1;", "the hidden video loads for the moderator").await;
    fits_the_width(&phone2, "a report on a phone").await;
    phone2.click("#decide input[value=reinstate]").await;
    phone2.js("document.querySelector('#decide select[name=reason]').value = 'no-violation'; return true;").await;
    phone2.click("#decide button[type=submit]").await;
    phone2.until("return !!document.getElementById('decided');", "the reinstatement").await;
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), Some(&bob)).await.0, 200);
    let log = app.get_json("/api/v1/me/access-log", Some(&alice)).await.1;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["actor"] == "mona" && e["reason"] == "report-review"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_browser_explains_for_you_and_switches_it_off() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "w.mp4", 240, 426, 2);
    for c in 0..3 {
        let tok = app.signup(&format!("maker{c}")).await;
        app.upload_and_wait(&tok, &f, &format!("clip by maker{c} #tag{c}"), "public").await;
    }
    let d = Driver::start().await;
    d.sign_up(&app, "watcher").await;
    d.goto(&app.url("/")).await;
    d.wait_playing(0, 0.2).await;
    // "Why this video?" shows the reason, with "Not interested".
    d.click(".card .act.why").await;
    let why = d.until("const s = document.getElementById('why-sheet'); return s.open && document.getElementById('why-text').textContent;", "the reason").await;
    assert!(why.as_str().unwrap().len() > 5, "{why}");
    let first = d.js("return document.querySelector('.card').dataset.id;").await.as_str().unwrap().to_owned();
    d.click("#not-interested").await;
    d.until("return document.getElementById('toast').textContent.indexOf('fewer') >= 0;", "not interested").await;
    let token = app.token("watcher", "a long enough password").await.unwrap();
    for _ in 0..3 {
        let p = app.get_json("/api/v1/feed/for-you", Some(&token)).await.1;
        assert!(!p["items"].as_array().unwrap().iter().any(|v| v["id"] == first.as_str()), "it came back: {p}");
    }
    // Follow from a card: every card of that author says "Following", and the
    // follow remembers the video it was made from.
    let picked = d
        .js("const c = [...document.querySelectorAll('.card')].find(c => !c.classList.contains('dismissed') && c.querySelector('.followcard')); return [c.dataset.id, c.querySelector('.followcard').dataset.username];")
        .await;
    let (vid, who) = (picked[0].as_str().unwrap().to_owned(), picked[1].as_str().unwrap().to_owned());
    d.click(&format!(".card[data-id=\"{vid}\"] .followcard")).await;
    d.until(
        &format!("return [...document.querySelectorAll('.followcard[data-username=\"{who}\"]')].every(b => b.textContent === 'Following' && b.disabled);"),
        "following from the card",
    )
    .await;
    let following = app.get_json("/api/v1/accounts/watcher/following", Some(&token)).await.1;
    assert_eq!(following["items"][0]["username"], who.as_str(), "{following}");
    let mut conn = app.sql().await;
    let via: Option<String> = sqlx::Row::get(&sqlx::query("SELECT via_video_id FROM follows").fetch_one(&mut conn).await.unwrap(), 0);
    assert_eq!(via.as_deref(), Some(vid.as_str()));
    // The toggle at the top of For You: personalised, then not.
    assert_eq!(d.js("return document.getElementById('feedmode').dataset.personalized;").await, "true");
    d.click("#feedmode").await;
    d.until("const b = document.getElementById('feedmode'); return b && b.dataset.personalized === 'false';", "the feed without profiling").await;
    assert_eq!(app.get_json("/api/v1/me", Some(&token)).await.1["personalized_feed"], false);
    fits_the_width(&d, "For You on a phone").await;
}

/// Regression: an upload started as "Everyone" with caption A and left
/// part-way, then picked again with "Only me" and caption B, resumed the first one
/// and published caption A, public. In the browser, with the page's tus-js-client:
/// the resumed upload publishes what was chosen last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_upload_in_the_browser_publishes_the_settings_chosen_last() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "resume.mp4", 360, 640, 4);
    let d = Driver::start().await;
    d.sign_up(&app, "resumer").await;
    d.type_into("input[type=file]", f.to_str().unwrap()).await;
    // The abandoned attempt: the same file, "Everyone", caption A, stopped after its
    // first chunk (tus-js-client remembers it for resuming, as a closed tab would).
    let r = d
        .js_async(
            "var done = arguments[arguments.length - 1];\
             var file = document.querySelector('input[type=file]').files[0];\
             var csrf = document.querySelector('meta[name=csrf-token]').content;\
             var up = new tus.Upload(file, {endpoint: '/api/v1/uploads', chunkSize: 64 * 1024, retryDelays: [],\
               headers: {'X-CSRF-Token': csrf}, metadata: {filename: file.name, filetype: file.type, caption: 'caption A #abandoned', visibility: 'public'},\
               onChunkComplete: function () { up.abort(false).then(function () { done('stopped ' + up.url); }); },\
               onError: function (e) { done('error: ' + e); }});\
             up.start();",
        )
        .await;
    let r = r.as_str().unwrap_or("").to_owned();
    assert!(r.starts_with("stopped "), "{r}");
    // Picked again with other settings.
    d.type_into("textarea[name=caption]", "caption B").await;
    d.js("document.querySelector('select[name=visibility]').value = 'private'; return true;").await;
    d.click("button[type=submit]").await;
    d.until("var s = document.getElementById('upload-result'); return s && s.getAttribute('src');", "the resumed upload is ready").await;
    let text = d.js("return document.getElementById('upload-text').textContent;").await;
    assert!(text.as_str().unwrap_or("").contains("Ready"), "{text}");
    // One upload (resumed, not a second one), with caption B, private.
    let mut sql = app.sql().await;
    let n: i64 = sqlx::Row::get(&sqlx::query("SELECT COUNT(*) AS n FROM uploads").fetch_one(&mut sql).await.unwrap(), "n");
    assert_eq!(n, 1, "the earlier upload was resumed");
    let row = sqlx::query("SELECT caption, visibility FROM videos").fetch_one(&mut sql).await.unwrap();
    let (caption, visibility): (String, String) = (sqlx::Row::get(&row, "caption"), sqlx::Row::get(&row, "visibility"));
    assert_eq!((caption.as_str(), visibility.as_str()), ("caption B", "private"));
    let (_, feed) = app.get_json("/api/v1/feed/for-you", None).await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 0, "{feed}");
}
