//! Moderation end to end: the staff queue and decisions (remove, restrict,
//! suspend, dismiss), what each does to what others see, the affected person's
//! notification and single appeal, reinstatement, opening an item the moderator
//! could not otherwise see as a logged access with media links that work for that
//! moderator only, and the counts on /transparency.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use reqwest::Method as M;
use serde_json::{json, Value};

both!(moderators_work_the_queue_and_people_can_appeal);

async fn open_reports(app: &TestApp, token: &str, q: &str) -> Vec<Value> {
    let (s, page) = app.get_json(&format!("/api/v1/staff/reports{q}"), Some(token)).await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn report(app: &TestApp, token: &str, body: Value) -> String {
    let (s, r) = app.call(M::POST, "/api/v1/reports", token, Some(body)).await;
    assert_eq!(s, 201, "{r}");
    r["id"].as_str().unwrap().to_owned()
}

async fn decide(app: &TestApp, token: &str, report_id: &str, action: &str, reason: &str, note: &str) -> (u16, Value) {
    app.call(M::POST, "/api/v1/staff/actions", token, Some(json!({"report_id": report_id, "action": action, "reason": reason, "note": note}))).await
}

async fn moderation_notices(app: &TestApp, token: &str) -> Vec<Value> {
    let (s, page) = app.get_json("/api/v1/notifications", Some(token)).await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "moderation").cloned().collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().filter_map(|i| i["id"].as_str().map(str::to_owned)).collect()
}

async fn moderators_work_the_queue_and_people_can_appeal(b: Backend) {
    let app = TestApp::spawn(b).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let dave = app.signup("dave").await;
    let mona = app.signup("mona").await;
    let dir = tempfile::tempdir().unwrap();
    let v = app.upload_and_wait(&alice, &clip(dir.path(), "a.mp4", 180, 320, 1), "cheap pills #deals", "public").await;
    let vid = v["id"].as_str().unwrap().to_owned();
    let dv = app.upload_and_wait(&dave, &clip(dir.path(), "d.mp4", 180, 320, 1), "dave dances #daily", "public").await;
    let dvid = dv["id"].as_str().unwrap().to_owned();
    let (s, c) = app.call(M::POST, &format!("/api/v1/videos/{vid}/comments"), &carol, Some(json!({"text": "you are all idiots"}))).await;
    assert_eq!(s, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_owned();

    let r_video = report(&app, &bob, json!({"video_id": vid, "reason": "spam", "details": "ads"})).await;
    let r_video2 = report(&app, &carol, json!({"video_id": vid, "reason": "spam"})).await;
    let r_comment = report(&app, &bob, json!({"comment_id": cid, "reason": "harassment"})).await;
    let r_dave = report(&app, &bob, json!({"account": "dave", "reason": "spam"})).await;
    let r_mona = report(&app, &bob, json!({"account": "mona", "reason": "other"})).await;

    // Not staff: the queue and the actions do not exist, malformed or not.
    assert_eq!(app.get_json("/api/v1/staff/reports?status=open", Some(&bob)).await.0, 404);
    assert_eq!(app.get_json("/api/v1/staff/reports?status=bogus", Some(&bob)).await.0, 404);
    assert_eq!(app.get_json(&format!("/api/v1/staff/reports/{r_video}"), Some(&bob)).await.0, 404);
    assert_eq!(decide(&app, &bob, &r_video, "remove", "spam", "").await.0, 404);
    assert_eq!(app.call(M::POST, "/api/v1/staff/actions", &bob, Some(json!({"report_id": 5}))).await.0, 404);
    let out = app.cli(&["staff", "grant", "mona", "--role", "moderator"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The queue: oldest first, each item as far as the moderator can see it anyway.
    let q = open_reports(&app, &mona, "?status=open").await;
    let qids: Vec<&str> = q.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(qids, [r_video.as_str(), &r_video2, &r_comment, &r_dave, &r_mona]);
    assert_eq!(q[0]["reason"], "spam");
    assert_eq!(q[0]["kind"], "report");
    assert_eq!(q[0]["item"]["kind"], "video");
    assert_eq!(q[0]["item"]["visible_to_you"], true);
    assert_eq!(q[0]["item"]["summary"], "cheap pills #deals");
    assert_eq!(q[0]["item"]["account"]["username"], "alice");
    assert_eq!(q[2]["item"]["kind"], "comment");
    let by_reason = open_reports(&app, &mona, "?status=open&reason=harassment").await;
    assert_eq!(by_reason.len(), 1);
    assert_eq!(app.get_json("/api/v1/staff/reports?status=bogus", Some(&mona)).await.0, 422);

    // Bad decisions are refused with a reason.
    assert_eq!(decide(&app, &mona, &r_video, "obliterate", "spam", "").await.0, 422);
    assert_eq!(decide(&app, &mona, &r_video, "remove", "because", "").await.0, 422);
    assert_eq!(decide(&app, &mona, &r_dave, "remove", "spam", "").await.0, 422, "remove takes a video or comment");
    assert_eq!(decide(&app, &mona, &r_video, "reinstate", "no-violation", "").await.0, 422, "reinstate answers appeals only");
    assert_eq!(decide(&app, &mona, &r_mona, "suspend", "other", "").await.0, 403, "not about yourself");
    assert_eq!(decide(&app, &mona, "AAAAAAAAAAAAAAAA", "dismiss", "no-violation", "").await.0, 404);

    // Remove: the video is gone for everyone but its owner, who is told why.
    let (s, d) = decide(&app, &mona, &r_video, "remove", "spam", "Advertising is not allowed here.").await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["report_status"], "actioned");
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), Some(&bob)).await.0, 404);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), None).await.0, 404);
    let (s, own) = app.get_json(&format!("/api/v1/videos/{vid}"), Some(&alice)).await;
    assert_eq!((s, own["status"].as_str()), (200, Some("removed")), "{own}");
    let session = app.web_session("alice").await;
    let page = app.client.get(app.url(&format!("/v/{vid}"))).header("cookie", format!("kinora_session={session}")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id='removed-notice'") && !page.contains("refresh"), "the owner is told, not left waiting: {page}");
    assert!(!ids(&app.get_json("/api/v1/feed/for-you", None).await.1).contains(&vid));
    assert_eq!(decide(&app, &mona, &r_video, "dismiss", "no-violation", "").await.0, 409, "decided already");
    let settled = open_reports(&app, &mona, "?status=actioned").await;
    assert!(settled.iter().any(|r| r["id"] == r_video2.as_str()), "the other report about the same video is settled too");
    let notices = moderation_notices(&app, &alice).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0]["moderation"];
    assert_eq!((n["action"].as_str(), n["reason"].as_str(), n["target"].as_str()), (Some("remove"), Some("spam"), Some("video")));
    assert_eq!(n["note"], "Advertising is not allowed here.");
    assert_eq!((n["can_appeal"].as_bool(), n["appeal"].as_str()), (Some(true), Some("none")));
    let action = n["action_id"].as_str().unwrap().to_owned();

    // One appeal, by the person affected only.
    let appeal_path = format!("/api/v1/moderation/{action}/appeal");
    assert_eq!(app.call(M::POST, &appeal_path, &bob, Some(json!({"text": "let me"}))).await.0, 404);
    assert_eq!(app.call(M::POST, &appeal_path, &alice, Some(json!({"text": ""}))).await.0, 422);
    let (s, ap) = app.call(M::POST, &appeal_path, &alice, Some(json!({"text": "It is my own shop, not spam."}))).await;
    assert_eq!(s, 201, "{ap}");
    assert_eq!(app.call(M::POST, &appeal_path, &alice, Some(json!({"text": "again"}))).await.0, 409);
    assert_eq!(moderation_notices(&app, &alice).await[0]["moderation"]["appeal"], "open");

    // The appeal is in the queue. The video is now hidden from the moderator as an
    // ordinary user: the queue does not show it, and opening it is a logged access.
    let appeals = open_reports(&app, &mona, "?status=open&kind=appeal").await;
    assert_eq!(appeals.len(), 1);
    let r_appeal = appeals[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(appeals[0]["kind"], "appeal");
    assert_eq!(appeals[0]["details"], "It is my own shop, not spam.");
    assert_eq!(appeals[0]["appeal_of"]["action"], "remove");
    assert_eq!(appeals[0]["item"]["visible_to_you"], false);
    assert!(appeals[0]["item"]["summary"].is_null(), "{}", appeals[0]);
    // Looking (a GET) never logs and never shows the hidden item; opening is a POST.
    let size_before = app.get("/log/checkpoint", None).await.text().await.unwrap();
    let (s, look) = app.get_json(&format!("/api/v1/staff/reports/{r_appeal}"), Some(&mona)).await;
    assert_eq!((s, look["needs_open"].as_bool(), look["data"].is_null(), look["log_index"].is_null()), (200, Some(true), true, true), "{look}");
    assert_eq!(app.get("/log/checkpoint", None).await.text().await.unwrap(), size_before, "a GET appended to the log");
    let (s, review) = app.call(M::POST, &format!("/api/v1/staff/reports/{r_appeal}/open"), &mona, None).await;
    assert_eq!(s, 200, "{review}");
    let idx = review["log_index"].as_u64().expect("opening a hidden item is logged");
    assert_eq!(review["data"]["caption"], "cheap pills #deals");
    let history = app.get_json("/api/v1/me/access-log", Some(&alice)).await.1;
    let entry = history["items"].as_array().unwrap().iter().find(|e| e["log_index"] == idx).expect("alice sees the access");
    assert_eq!((entry["actor"].as_str(), entry["reason"].as_str()), (Some("mona"), Some("report-review")));
    assert_eq!(entry["reference"], format!("report:{r_appeal}"));
    // Media links work for this moderator, and no one else; without the grant, 404.
    let links: Vec<String> = review["data"]["media"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect();
    let mp4 = links.iter().find(|l| l.contains(".mp4")).expect("an mp4 link");
    assert_eq!(app.get(mp4, Some(&mona)).await.status(), 200);
    assert_eq!(app.get(mp4, Some(&bob)).await.status(), 404);
    assert_eq!(app.get(mp4, None).await.status(), 404);
    assert_eq!(app.get(mp4.split('?').next().unwrap(), Some(&mona)).await.status(), 404);
    let forged = format!("{}?grant=99999999999.{}", mp4.split('?').next().unwrap(), "0".repeat(64));
    assert_eq!(app.get(&forged, Some(&mona)).await.status(), 404);
    // A visible item opens without a log entry.
    let (s, plain) = app.get_json(&format!("/api/v1/staff/reports/{r_dave}"), Some(&mona)).await;
    assert_eq!((s, plain["log_index"].is_null()), (200, true), "{plain}");

    // Reinstate: back for everyone, and alice hears the answer.
    assert_eq!(decide(&app, &mona, &r_appeal, "remove", "spam", "").await.0, 422, "an appeal is reinstated or dismissed");
    let (s, d) = decide(&app, &mona, &r_appeal, "reinstate", "no-violation", "Sorry, our mistake.").await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(app.get_json(&format!("/api/v1/videos/{vid}"), Some(&bob)).await.0, 200);
    let notices = moderation_notices(&app, &alice).await;
    assert_eq!(notices.len(), 2);
    assert_eq!(notices[0]["moderation"]["action"], "reinstate");
    assert_eq!(notices[0]["moderation"]["can_appeal"], false);
    assert_eq!(notices[1]["moderation"]["appeal"], "reinstated");

    // Restrict: dave is out of For You and search, still on his profile.
    let (s, d) = decide(&app, &mona, &r_dave, "restrict", "spam", "").await;
    assert_eq!(s, 201, "{d}");
    assert!(!ids(&app.get_json("/api/v1/feed/for-you", None).await.1).contains(&dvid));
    let fy = app.get_json("/api/v1/feed/for-you", None).await.1;
    assert!(ids(&fy).contains(&vid), "{vid} in {fy}");
    let found = app.get_json("/api/v1/search?q=dave", Some(&bob)).await.1.to_string();
    assert!(!found.contains("\"dave\"") && !found.contains(&dvid), "{found}");
    assert_eq!(app.get_json("/api/v1/accounts/dave", Some(&bob)).await.0, 200);
    assert_eq!(app.get_json(&format!("/api/v1/videos/{dvid}"), Some(&bob)).await.0, 200);

    // Suspend: carol is gone for others; she can still sign in, read and appeal, nothing else.
    let (s, d) = decide(&app, &mona, &r_comment, "suspend", "harassment", "Repeated insults.").await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(app.get_json("/api/v1/accounts/carol", Some(&bob)).await.0, 404);
    assert_eq!(app.get_json("/api/v1/accounts/carol", None).await.0, 404);
    let comments = app.get_json(&format!("/api/v1/videos/{vid}/comments"), Some(&bob)).await.1.to_string();
    assert!(!comments.contains(&cid), "{comments}");
    let carol2 = app.token("carol", "correct horse battery").await.expect("a suspended account can sign in");
    assert_eq!(app.get_json("/api/v1/me", Some(&carol2)).await.0, 200);
    let (s, e) = app.call(M::POST, &format!("/api/v1/videos/{vid}/like"), &carol, None).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("account-suspended")), "{e}");
    assert_eq!(app.call(M::POST, "/api/v1/reports", &carol, Some(json!({"account": "bob", "reason": "spam"}))).await.0, 403);
    let notices = moderation_notices(&app, &carol).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0]["moderation"]["action"], "suspend");
    let a = notices[0]["moderation"]["action_id"].as_str().unwrap();
    assert_eq!(app.call(M::POST, &format!("/api/v1/moderation/{a}/appeal"), &carol, Some(json!({"text": "I apologise"}))).await.0, 201);

    // Dismiss: nothing changes, and no one is told.
    let leftover = report(&app, &bob, json!({"video_id": dvid, "reason": "violence"})).await;
    let (s, d) = decide(&app, &mona, &leftover, "dismiss", "no-violation", "").await;
    assert_eq!((s, d["report_status"].as_str()), (201, Some("dismissed")), "{d}");
    assert_eq!(moderation_notices(&app, &dave).await.len(), 1, "dave heard of the restriction only");

    // The public report counts decisions by month, kind and reason.
    let html = app.get("/transparency", None).await.text().await.unwrap();
    assert!(html.contains("id=\"moderation-actions\""), "{html}");
    for needle in [
        "<td>remove</td><td>spam</td><td>1</td>",
        "<td>restrict</td><td>spam</td><td>1</td>",
        "<td>suspend</td><td>harassment</td><td>1</td>",
        "<td>dismiss</td><td>no-violation</td><td>1</td>",
        "<td>reinstate</td><td>no-violation</td><td>1</td>",
    ] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
}
