//! The server against its own OpenAPI document, with schemathesis (property-based
//! requests for every documented operation): no server errors, only documented
//! status codes, content types, headers and response bodies that match the schemas.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};

both!(server_matches_its_openapi_document);

async fn server_matches_its_openapi_document(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        &[
            ("KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_ACCOUNT", "1000000"),
            ("KINORA_RATE_LIMITS_WRITES_PER_MINUTE_PER_IP", "1000000"),
            ("KINORA_RATE_LIMITS_SIGNUP_PER_HOUR", "1000000"),
        ],
    )
    .await;
    let token = app.signup("fuzzer").await;
    // Some real data to find: a video, a comment, a hashtag.
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&token, &clip(dir.path(), "f.mp4", 64, 112, 1), "fuzz me #fuzz", "public").await;
    let id = v["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/videos/{id}/comments")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let doc: serde_json::Value = app.get("/api/openapi.json", None).await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"].as_object().unwrap().len() >= 35);

    let st = std::env::var("KINORA_TEST_SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let base = app.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(st)
            .args(["run", &format!("{base}/api/openapi.json"), "-H", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "-n",
                "15",
                "--seed",
                "20261129",
                "--no-shrink",
                "--workers",
                "1",
                // The suite runs tests side by side on two cores: be patient.
                "--request-timeout",
                "60",
                // Media bytes and uploads are exercised by their own tests with real files;
                // credential operations (which would sign the fuzzer out) by review.rs.
                "--exclude-path-regex",
                "^/media/|^/api/v1/uploads|^/api/v1/videos$|^/api/v1/auth/token$|^/api/v1/me/password$|^/api/v1/me/sessions$",
            ])
            .env("NO_COLOR", "1")
            .output()
            .expect("schemathesis (scripts/test installs it)")
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "schemathesis found problems:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("passed"), "{text}");
    assert!(app.healthy().await);
}
