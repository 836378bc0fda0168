//! The OpenAPI document against the response structs: for every component schema
//! a service answers with, a fully populated value of the struct serializes to
//! exactly the schema's properties, and every property the schema requires is
//! there. A field added to a struct or to the document alone fails here.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

use kinora_app::accounts::{Analytics, Numbers, Totals, VideoAnalytics};
use kinora_app::comments::CommentPage;
use kinora_app::data::NotificationKind;
use kinora_app::feeds::TagPage;
use kinora_app::moderation::{
    ActionView as ModerationActionView, Appealed, Decided, Notice, OpenCounts, ReportPage, ReportView as StaffReport, ReportedItem, ReviewView,
};
use kinora_app::notifications::NotificationPage;
use kinora_app::reports::Reported;
use kinora_app::tags::TagFollow;
use kinora_app::videos::{LikeCount, Liked, ShareCount, Shared};
use kinora_app::views::*;
use kinora_core::moderation::{ActionReason, ModAction, ReportReason, ReportStatus, ReportedKind};
use kinora_core::policy::CommentSetting;
use kinora_core::{Id, VideoStatus, Visibility};
use serde_json::Value;
use std::collections::BTreeSet;

fn id() -> Id {
    Id::from_trusted("AbCdEfGhIjKlMnOp".into())
}

fn video() -> VideoView {
    VideoView {
        id: id(),
        status: VideoStatus::Ready,
        error: Some(ErrorView { code: "media-invalid".into(), message: "m".into() }),
        caption: "c".into(),
        visibility: Visibility::Public,
        author: Author { id: id(), username: "u".into() },
        duration_ms: Some(1),
        width: Some(1),
        height: Some(1),
        share_url: "/v/x".into(),
        created_at: rfc3339(0),
        counts: VideoCounts { likes: 1, comments: 1, views: 1, shares: 1 },
        comments: CommentSetting::Everyone,
        liked_by_me: true,
        sources: Some(vec![Source { url: "/media/x/y".into(), mime: "video/mp4".into(), width: 1, height: 1, bitrate: 1 }]),
        poster_url: Some("/media/x/p".into()),
        preview_url: Some("/media/x/q".into()),
        reason: Some(kinora_app::recommend::ReasonView { code: "topic", text: "Because you watched videos tagged #x".into() }),
    }
}

fn brief_account() -> BriefAccount {
    BriefAccount { id: id(), username: "u".into(), display_name: "U".into(), avatar_url: Some("/avatars/x".into()) }
}

fn comment() -> CommentView {
    CommentView {
        id: id(),
        video_id: id(),
        author: Author { id: id(), username: "u".into() },
        text: "t".into(),
        reply_to: Some("x".into()),
        created_at: rfc3339(0),
        counts: CommentCounts { likes: 1 },
        liked_by_me: false,
    }
}

fn notice() -> Notice {
    Notice {
        action_id: id(),
        action: ModAction::Remove,
        reason: ActionReason::Violation(ReportReason::Spam),
        note: "n".into(),
        target: "video",
        appeal: "none",
        can_appeal: true,
    }
}

fn numbers() -> Numbers {
    Numbers { views: 0, watch_time_ms: 0, average_watch_ms: 0, completion_rate: 0.0, likes: 0, comments: 0, shares: 0 }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn check(doc: &Value, schema: &str, value: impl serde::Serialize) {
    let s = &doc["components"]["schemas"][schema];
    assert!(s.is_object(), "no schema {schema} in the OpenAPI document");
    let v = serde_json::to_value(value).unwrap();
    let props: BTreeSet<String> = s["properties"].as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys(&v), props, "{schema}: struct fields (left) and documented properties (right) differ");
    for r in s["required"].as_array().into_iter().flatten() {
        assert!(v.get(r.as_str().unwrap()).is_some(), "{schema}: required {r} is missing");
    }
}

#[test]
fn openapi_matches_the_response_structs() {
    let doc: Value = serde_json::from_str(kinora_http::api::OPENAPI).unwrap();
    check(&doc, "Video", video());
    check(&doc, "Source", video().sources.unwrap().remove(0));
    check(&doc, "VideoList", Page { items: vec![video()], next_cursor: Some("c".into()) });
    check(
        &doc,
        "ForYouList",
        kinora_app::recommend::ForYouPage { items: vec![video()], next_cursor: None, personalized: true, followed_authors: Default::default() },
    );
    check(&doc, "FeedReason", video().reason.unwrap());
    check(&doc, "NotInterested", kinora_app::recommend::NotInterested { video_id: id(), not_interested: true });
    check(&doc, "TagVideoList", TagPage { items: vec![video()], next_cursor: None, tag: "t".into(), following: Some(true) });
    check(
        &doc,
        "Account",
        AccountView {
            id: id(),
            username: "u".into(),
            display_name: "U".into(),
            bio: "b".into(),
            private: false,
            likes_public: false,
            avatar_url: None,
            created_at: rfc3339(0),
            counts: AccountCounts { followers: 1, following: 1, videos: 1 },
            follow: Some(FollowView::None),
            personalized_feed: Some(true),
        },
    );
    check(&doc, "AccountBrief", brief_account());
    check(&doc, "AccountList", Page { items: vec![brief_account()], next_cursor: None });
    check(&doc, "Comment", comment());
    check(&doc, "CommentList", CommentPage { items: vec![comment()], next_cursor: None, comments: CommentSetting::Off });
    check(&doc, "LikeState", Liked { liked_by_me: true, counts: LikeCount { likes: 1 } });
    check(&doc, "Share", Shared { share_url: "u".into(), counts: ShareCount { shares: 1 } });
    check(&doc, "TagCount", TagCount { tag: "t".into(), videos: 1 });
    check(&doc, "TagList", Page { items: vec![TagCount { tag: "t".into(), videos: 1 }], next_cursor: None });
    check(&doc, "TagFollow", TagFollow { tag: "t".into(), following: true });
    check(
        &doc,
        "Notification",
        NotificationView {
            id: id(),
            kind: NotificationKind::Like,
            actor: brief_account(),
            video: Some(NotificationVideo { id: id(), caption: "c".into() }),
            comment_id: Some("x".into()),
            created_at: rfc3339(0),
            read: false,
            moderation: Some(notice()),
        },
    );
    check(&doc, "ModerationNotice", notice());
    let action = || ModerationActionView {
        id: id(),
        action: ModAction::Remove,
        reason: ActionReason::Violation(ReportReason::Spam),
        note: "n".into(),
        created_at: rfc3339(0),
    };
    check(&doc, "ModerationAction", action());
    let report = || StaffReport {
        id: id(),
        reason: ReportReason::Spam,
        details: "d".into(),
        status: ReportStatus::Open,
        kind: "appeal",
        created_at: rfc3339(0),
        item: ReportedItem { kind: ReportedKind::Video, id: Some("v".into()), account: Some(brief_account()), visible_to_you: true, summary: Some("s".into()) },
        appeal_of: Some(action()),
        decisions: vec![action()],
    };
    check(&doc, "ReportedItem", report().item);
    check(&doc, "StaffReport", report());
    check(&doc, "StaffReportList", ReportPage { items: vec![report()], next_cursor: None, open: OpenCounts { reports: 1, appeals: 0 } });
    check(&doc, "StaffReview", ReviewView { report: report(), log_index: Some(1), needs_open: false, data: Value::Null });
    check(
        &doc,
        "ModerationDecision",
        Decided { id: id(), report_id: id(), action: ModAction::Dismiss, reason: ActionReason::NoViolation, report_status: ReportStatus::Dismissed },
    );
    check(&doc, "AppealCreated", Appealed { id: id(), status: "open" });
    check(&doc, "NotificationList", NotificationPage { items: vec![], next_cursor: None, unread: 0 });
    check(&doc, "ReportCreated", Reported { id: id(), status: "open" });
    check(
        &doc,
        "Analytics",
        Analytics { totals: Totals { numbers: numbers(), followers_gained_28d: 0 }, videos: vec![VideoAnalytics { video_id: id(), numbers: numbers() }] },
    );
    check(&doc, "Token", kinora_http::api::auth::Token { access_token: "t".into(), token_type: "Bearer" });
    check(&doc, "FollowState", kinora_http::api::accounts::FollowAnswer { state: FollowView::Following });
    let region = kinora_app::residency::RegionInfo { name: "eu-a".into(), jurisdiction: "EU".into(), role: "primary" };
    check(&doc, "RegionInfo", region.clone());
    check(&doc, "DataKind", kinora_app::registry::REGISTRY[0]);
    check(
        &doc,
        "Residency",
        kinora_app::residency::Declaration {
            primary: region.clone(),
            backup: Some(region.clone()),
            regions: vec![region],
            data: kinora_app::registry::REGISTRY.to_vec(),
        },
    );
    check(
        &doc,
        "Export",
        kinora_app::exports::ExportView {
            id: id(),
            status: kinora_app::data::ExportStatus::Ready,
            download_url: Some("/x".into()),
            expires_at: Some(rfc3339(0)),
            bytes: Some(1),
            error: None,
            created_at: rfc3339(0),
        },
    );
    check(&doc, "Imported", kinora_app::imports::Imported { username: "u".into(), videos: vec![id()] });
    let record = kinora_app::staff::AccessRecord {
        log_index: 1,
        time: rfc3339(0),
        actor: "mona".into(),
        role: "moderator".into(),
        scopes: vec!["profile".into()],
        reason: "support".into(),
        reference: "t-1".into(),
        leaf_hash: "00".into(),
        proof: vec![],
        tree_size: 2,
    };
    check(&doc, "AccessHistory", kinora_app::staff::AccessHistory { items: vec![], next_cursor: None, checkpoint: "x".into() });
    check(&doc, "AccessRecord", record);
    check(&doc, "StaffAccess", kinora_app::staff::Access { log_index: 1, data: serde_json::json!({}) });
    // The documented error codes are exactly the ones the server has.
    let documented: BTreeSet<String> = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let codes: BTreeSet<String> = kinora_core::error::ALL.iter().map(|c| c.as_str().to_owned()).collect();
    assert_eq!(documented, codes, "error codes in the OpenAPI document");
    // Every documented notification kind is one the server can send, and back.
    let kinds: BTreeSet<String> = NotificationKind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    if let Some(e) = doc["components"]["schemas"]["Notification"]["properties"]["kind"]["enum"].as_array() {
        let documented: BTreeSet<String> = e.iter().map(|k| k.as_str().unwrap().to_owned()).collect();
        assert_eq!(documented, kinds);
    }
}
