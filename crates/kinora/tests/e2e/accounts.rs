//! Sign-up, tokens, and what signed-out callers get.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{Backend, TestApp};
use serde_json::json;

both!(sign_up_and_tokens, rate_limits);

async fn sign_up_and_tokens(b: Backend) {
    let app = TestApp::spawn(b).await;
    let post = |body: serde_json::Value| app.client.post(app.url("/api/v1/accounts")).json(&body).send();

    let r = post(json!({"username": "Alice_1", "password": "long enough", "email": "a@example.org"})).await.unwrap();
    assert_eq!(r.status(), 201);
    let acct: serde_json::Value = r.json().await.unwrap();
    assert_eq!(acct["username"], "alice_1");
    assert_eq!(acct["counts"]["videos"], 0);
    assert!(acct.get("email").is_none(), "email must not leak into the public account");

    // Case-insensitive duplicate.
    let r = post(json!({"username": "ALICE_1", "password": "long enough"})).await.unwrap();
    assert_eq!(r.status(), 409);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "conflict");

    // Invalid fields are named.
    for (body, field) in [
        (json!({"username": "ab", "password": "long enough"}), "username"),
        (json!({"username": "bad-name", "password": "long enough"}), "username"),
        (json!({"username": "bob_ok", "password": "short"}), "password"),
        (json!({"username": "bob_ok", "password": "long enough", "email": "nope"}), "email"),
    ] {
        let r = post(body).await.unwrap();
        assert_eq!(r.status(), 422);
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], "invalid-field");
        assert!(e["error"]["message"].as_str().unwrap().contains(field), "{e}");
    }
    let r = app.client.post(app.url("/api/v1/accounts")).body("{not json").header("content-type", "application/json").send().await.unwrap();
    assert_eq!(r.status(), 400);

    // Wrong password and unknown user: identical answers.
    let wrong = app.token("alice_1", "wrong password").await.unwrap_err();
    let unknown = app.token("nobody_here", "wrong password").await.unwrap_err();
    assert_eq!(wrong.0, 401);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong.1["error"]["code"], "unauthorized");

    let token = app.token("Alice_1", "long enough").await.unwrap();
    let (s, me) = app.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(s, 200);
    assert_eq!(me["username"], "alice_1");
    let (s, pub_acct) = app.get_json("/api/v1/accounts/alice_1", None).await;
    assert_eq!(s, 200);
    assert_eq!(pub_acct["id"], me["id"]);
    assert_eq!(app.get_json("/api/v1/accounts/nobody_here", None).await.0, 404);

    // Signed out / bad token.
    assert_eq!(app.get_json("/api/v1/me", None).await.0, 401);
    assert_eq!(app.get_json("/api/v1/me", Some("garbage")).await.0, 401);
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.mp4");
    std::fs::write(&f, b"whatever").unwrap();
    let (s, e) = app.upload(None, &f, "x.mp4", "", "public").await;
    assert_eq!(s, 401);
    assert_eq!(e["error"]["code"], "unauthorized");

    // Revocation.
    let r = app.client.delete(app.url("/api/v1/auth/token")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get_json("/api/v1/me", Some(&token)).await.0, 401);
}

async fn rate_limits(b: Backend) {
    let app = TestApp::spawn_with(b, &[("KINORA_RATE_LIMITS_SIGNIN_PER_MINUTE", "3")]).await;
    app.signup("carol").await; // one sign-in
    let mut last = None;
    for _ in 0..3 {
        last = Some(app.token("carol", "wrong password").await.unwrap_err());
    }
    let (status, body) = last.unwrap();
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate-limited");
    let r = app.client.post(app.url("/api/v1/auth/token")).json(&json!({"username": "carol", "password": "correct horse battery"})).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Another user is not limited by carol's attempts from the same address... but
    // the same address still hits its own key per username.
    assert!(app.token("dave", "whatever123").await.unwrap_err().0 == 401);
}
