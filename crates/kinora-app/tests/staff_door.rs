//! "Logged before read", by behaviour: every statement the staff door executes is
//! recorded in order, and the append to the transparency log must come before the
//! first read of the person's data, on each backend. (HTTP cannot go around the
//! door: it has no database handle, `AppState`'s fields being private to
//! kinora-app.)
//!
//! One test function: the recorder is process-wide.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kinora_app::staff::{self, AccessRequest};
use kinora_core::moderation::{AccessReason, StaffRole};
use support::statements;

/// Tables that hold a person's data: reading one releases it.
const PERSONAL: &[&str] = &["FROM comments", "FROM likes", "FROM follows", "FROM view_events", "FROM videos", "FROM tokens"];

/// (index of the log append, index of the first read of personal data) in `sql`.
fn order(sql: &[String]) -> (Option<usize>, Option<usize>) {
    let append = sql.iter().position(|s| s.contains("INSERT INTO log_entries"));
    let read = sql.iter().position(|s| PERSONAL.iter().any(|t| s.contains(t)));
    (append, read)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_append_precedes_every_read_of_the_persons_data() {
    statements::install();
    for i in support::instances().await {
        let admin = i.account("admin").await;
        let sam = i.account("sam").await;
        let v = i.ready_video(&sam, "sam's video").await;
        let fan = i.account("fan").await;
        let fan_c = i.caller(&fan).await;
        kinora_app::comments::add_comment(&i.st, &fan_c, v.as_str(), "hello", None).await.unwrap();
        kinora_app::videos::set_like(&i.st, &i.caller(&sam).await, v.as_str(), true).await.unwrap();
        staff::grant(&i.st, "admin", StaffRole::Admin).await.unwrap();
        let admin_c = i.caller(&admin).await;

        // The staff access door: every scope.
        let scopes = ["profile", "videos", "comments", "watch-history", "sessions", "reports"].map(String::from).to_vec();
        statements::start();
        let access = staff::access(&i.st, &admin_c, AccessRequest { subject: "sam".into(), scopes, reason: "support".into(), reference: "ticket 7".into() })
            .await
            .map_err(|e| e.message)
            .unwrap();
        let sql = statements::taken();
        let (append, read) = order(&sql);
        let (append, read) = (append.expect("the access was appended to the log"), read.expect("the access read the person's data"));
        assert!(append < read, "{}: the access read the person's data (statement {read}: {}) before its log entry (statement {append})", i.backend, sql[read]);
        assert!(access.data.get("videos").is_some(), "{:?}", access.data);

        // A refused access appends nothing and reads nothing: a reason outside the set.
        statements::start();
        let refused = staff::access(
            &i.st,
            &admin_c,
            AccessRequest { subject: "sam".into(), scopes: vec!["profile".into()], reason: "curiosity".into(), reference: "x".into() },
        )
        .await;
        assert!(refused.is_err());
        let sql = statements::taken();
        assert_eq!(order(&sql), (None, None), "{}: a refused access touched the log or the data: {sql:?}", i.backend);

        // The legal-request path of the command line: logged, then the archive built.
        let out = tempfile::tempdir().unwrap();
        statements::start();
        staff::legal_export(&i.st, "sam", AccessReason::LegalRequest, "case 12", &out.path().join("sam.zip"), false).await.unwrap();
        let sql = statements::taken();
        let (append, read) = order(&sql);
        let (append, read) = (append.expect("the export was appended to the log"), read.expect("the export read the person's data"));
        assert!(append < read, "{}: the legal export read data (statement {read}: {}) before its log entry (statement {append})", i.backend, sql[read]);
        assert!(out.path().join("sam.zip").exists());
    }
}
