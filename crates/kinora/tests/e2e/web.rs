//! Server-rendered pages: sign-up by form with CSRF, cookie sessions, upload by
//! cookie, feed, share page Open Graph tags, profile, empty states.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};

both!(web_flow);

fn cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers().get_all("set-cookie").iter().find_map(|v| {
        let s = v.to_str().ok()?;
        let (pair, _) = s.split_once(';').unwrap_or((s, ""));
        let (k, val) = pair.split_once('=')?;
        (k == name).then(|| (val.to_owned(), s.to_owned()))
    })
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

async fn web_flow(b: Backend) {
    let app = TestApp::spawn(b).await;
    let home = app.get("/", None).await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(html.contains("Nothing to watch yet"), "empty state");
    assert!(html.contains("name=\"viewport\""));

    // Sign-up form with a double-submit CSRF token.
    let page = app.get("/signup", None).await;
    let (csrf_cookie, _) = cookie(&page, "kinora_csrf").expect("csrf cookie");
    let html = page.text().await.unwrap();
    let csrf = between(&html, "name=\"csrf\" value=\"", "\"").unwrap().to_owned();
    assert_eq!(csrf, csrf_cookie);
    let post = |form: Vec<(&'static str, String)>, cookie: String| app.client.post(app.url("/signup")).header("cookie", cookie).form(&form).send();
    let bad = post(vec![("csrf", "forged".into()), ("username", "webby".into()), ("password", "long enough".into())], format!("kinora_csrf={csrf_cookie}"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let taken_short =
        post(vec![("csrf", csrf.clone()), ("username", "webby".into()), ("password", "short".into())], format!("kinora_csrf={csrf_cookie}")).await.unwrap();
    assert_eq!(taken_short.status(), 422);
    assert!(taken_short.text().await.unwrap().contains("password"));
    let ok = post(vec![("csrf", csrf.clone()), ("username", "webby".into()), ("password", "long enough".into())], format!("kinora_csrf={csrf_cookie}"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 303);
    let (session, raw) = cookie(&ok, "kinora_session").expect("session cookie");
    assert!(raw.contains("HttpOnly"), "{raw}");
    assert!(raw.contains("SameSite=Lax"), "{raw}");
    let jar = format!("kinora_session={session}");

    // Signed in: the upload page carries the session's CSRF token.
    let up = app.client.get(app.url("/upload")).header("cookie", &jar).send().await.unwrap();
    assert_eq!(up.status(), 200);
    let html = up.text().await.unwrap();
    let token = between(&html, "name=\"csrf-token\" content=\"", "\"").unwrap().to_owned();
    assert!(html.contains("<progress"));
    // Signed out, /upload sends you to sign in.
    assert_eq!(app.get("/upload", None).await.status(), 303);

    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "w.mp4", 360, 640, 1);
    let form = || {
        reqwest::multipart::Form::new()
            .text("caption", "made in the browser <script>alert(1)</script>")
            .part("file", reqwest::multipart::Part::bytes(std::fs::read(&f).unwrap()).file_name("w.mp4"))
    };
    // Cookie without the CSRF header: refused.
    let r = app.client.post(app.url("/api/v1/videos")).header("cookie", &jar).multipart(form()).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // A fresh connection: the refusal above may close the one it answered on
    // before the body was read, as any server does with a rejected upload.
    let r =
        reqwest::Client::new().post(app.url("/api/v1/videos")).header("cookie", &jar).header("x-csrf-token", &token).multipart(form()).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let v: serde_json::Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    // The owner watches it process on the share page, then it is ready.
    let web_token = app.token("webby", "long enough").await.unwrap();
    let v = app.wait(&web_token, &id).await;
    assert_eq!(v["status"], "ready");

    let html = app.get("/", None).await.text().await.unwrap();
    assert!(html.contains(&format!("data-id=\"{id}\"")));
    assert!(html.contains("playsinline") && html.contains("muted"));
    assert!(!html.contains("<script>alert(1)</script>"), "captions are escaped");

    let share = app.get(&format!("/v/{id}"), None).await;
    assert_eq!(share.status(), 200);
    let html = share.text().await.unwrap();
    let og = |p: &str| between(&html, &format!("property=\"{p}\" content=\""), "\"").map(str::to_owned);
    let video = og("og:video").unwrap();
    let image = og("og:image").unwrap();
    assert!(video.starts_with(&app.base) && video.contains("/media/"), "{video}");
    assert!(image.starts_with(&app.base), "{image}");
    assert!(og("og:title").unwrap().contains("made in the browser"));
    assert_eq!(app.get(video.strip_prefix(&app.base).unwrap(), None).await.status(), 200);
    // Only the owner gets the edit sheet.
    assert!(!html.contains("edit-form"));
    let mine = app.client.get(app.url(&format!("/v/{id}"))).header("cookie", &jar).send().await.unwrap().text().await.unwrap();
    assert!(mine.contains("id=\"edit-form\""));

    let profile = app.get("/@webby", None).await;
    assert_eq!(profile.status(), 200);
    assert!(profile.text().await.unwrap().contains(&format!("/v/{id}")));
    assert_eq!(app.get("/@nobody_at_all", None).await.status(), 404);
    assert_eq!(app.get("/no-such-page", None).await.status(), 404);
    assert_eq!(app.get("/login", None).await.status(), 200);
    assert_eq!(app.get("/static/app.js", None).await.status(), 200);

    // Sign out needs the session's CSRF token.
    let r = app.client.post(app.url("/logout")).header("cookie", &jar).form(&[("csrf", "nope")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app.client.post(app.url("/logout")).header("cookie", &jar).form(&[("csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let me = app.client.get(app.url("/api/v1/me")).header("cookie", &jar).send().await.unwrap();
    assert_eq!(me.status(), 401);
}
