//! The visibility matrix: for every surface x every video visibility x account
//! privacy x every kind of viewer, exactly who sees what. Expectations come from
//! the rules as written in the issue (re-stated here, independently of the
//! server's policy code), and the count of checked cases is printed.
#![allow(clippy::unwrap_used)]

use crate::both;
use crate::support::{clip, Backend, TestApp};
use serde_json::Value;
use std::collections::HashMap;

both!(visibility_matrix);

#[derive(Clone, Copy, PartialEq, Debug)]
enum Who {
    Owner,
    Follower,
    Requested,
    Stranger,
    Anon,
    Blocked,
}

const VIS: [&str; 3] = ["public", "followers", "private"];

/// The rules: owner sees all; blocked sees nothing; a private account's public
/// videos are followers-only; a pending request is no follow.
fn may_see(who: Who, private_account: bool, vis: &str) -> bool {
    match who {
        Who::Owner => true,
        Who::Blocked => false,
        _ => {
            let vis = if private_account && vis == "public" { "followers" } else { vis };
            match vis {
                "public" => true,
                "followers" => who == Who::Follower,
                _ => false,
            }
        }
    }
}

struct Tally {
    cases: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: String, got: bool, want: bool) {
        self.cases += 1;
        if got != want {
            self.failures.push(format!("{what}: got {got}, want {want}"));
        }
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["items"].as_array().map(|a| a.iter().filter_map(|i| i["id"].as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

async fn visibility_matrix(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut tokens: HashMap<&str, String> = HashMap::new();
    for name in ["pubowner", "privowner", "follower", "requester", "stranger", "blocked"] {
        tokens.insert(name, app.signup(name).await);
    }
    let t = |n: &str| tokens[n].clone();
    let send = |method: reqwest::Method, path: String, token: String, body: Option<Value>| {
        let mut r = app.client.request(method, app.url(&path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    // Relations.
    let r = send(reqwest::Method::PATCH, "/api/v1/me".into(), t("privowner"), Some(serde_json::json!({"private": true}))).await.unwrap();
    assert_eq!(r.status(), 200);
    for owner in ["pubowner", "privowner"] {
        let r = send(reqwest::Method::POST, format!("/api/v1/accounts/{owner}/follow"), t("follower"), None).await.unwrap();
        let state: Value = r.json().await.unwrap();
        let want = if owner == "privowner" { "requested" } else { "following" };
        assert_eq!(state["state"], want);
    }
    // The owners block "blocked".
    for owner in ["pubowner", "privowner"] {
        let r = send(reqwest::Method::POST, "/api/v1/accounts/blocked/block".into(), t(owner), None).await.unwrap();
        assert_eq!(r.status(), 204);
    }
    let (_, reqs) = app.get_json("/api/v1/follow-requests", Some(&t("privowner"))).await;
    assert_eq!(reqs["items"][0]["username"], "follower");
    let r = send(reqwest::Method::POST, "/api/v1/follow-requests/follower/accept".into(), t("privowner"), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = send(reqwest::Method::POST, "/api/v1/accounts/privowner/follow".into(), t("requester"), None).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "requested");

    // Six ready videos, each with its own hashtag, mentioning every viewer.
    let dir = tempfile::tempdir().unwrap();
    let f = clip(dir.path(), "m.mp4", 64, 112, 1);
    let mut videos = Vec::new();
    for owner in ["pubowner", "privowner"] {
        for vis in VIS {
            let tag = format!("mx{owner}{vis}");
            let caption = format!("matrix {owner} {vis} #{tag} @follower @requester @stranger @blocked");
            let v = app.upload_and_wait(&t(owner), &f, &caption, vis).await;
            assert_eq!(v["status"], "ready", "{v}");
            // Everyone who can comment leaves nothing; the owner comments and likes.
            let id = v["id"].as_str().unwrap().to_owned();
            send(reqwest::Method::POST, format!("/api/v1/videos/{id}/like"), t(owner), None).await.unwrap();
            let r = send(reqwest::Method::POST, format!("/api/v1/videos/{id}/comments"), t(owner), Some(serde_json::json!({"text": "first"}))).await.unwrap();
            assert_eq!(r.status(), 201);
            videos.push((owner, vis, tag, v));
        }
    }
    let missing_body = app.get("/api/v1/videos/AAAAAAAAAAAAAAAA", None).await.text().await.unwrap();

    let viewers: Vec<(Who, Option<String>, &str)> = vec![
        (Who::Follower, Some(t("follower")), "follower"),
        (Who::Requested, Some(t("requester")), "requester"),
        (Who::Stranger, Some(t("stranger")), "stranger"),
        (Who::Anon, None, "anon"),
        (Who::Blocked, Some(t("blocked")), "blocked"),
    ];
    let mut tally = Tally { cases: 0, failures: vec![] };
    for (owner, vis, tag, v) in &videos {
        let private_account = *owner == "privowner";
        let id = v["id"].as_str().unwrap();
        let media = v["sources"][0]["url"].as_str().unwrap();
        let poster = v["poster_url"].as_str().unwrap();
        let mut all: Vec<(Who, Option<String>, &str)> = viewers.clone();
        all.push((Who::Owner, Some(t(owner)), owner));
        for (who, token, name) in &all {
            if *who == Who::Requested && !private_account {
                continue; // a request exists only towards a private account
            }
            let tok = token.as_deref();
            let want = may_see(*who, private_account, vis);
            let case = |s: &str| format!("{owner}/{vis} {s} as {name}");

            let r = app.get(&format!("/api/v1/videos/{id}"), tok).await;
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            tally.check(case("video JSON"), status == 200, want);
            if !want {
                tally.check(case("404 body identical to a missing id"), text == missing_body, true);
            }
            tally.check(case("media bytes"), app.get(media, tok).await.status() == 200, want);
            tally.check(case("poster"), app.get(poster, tok).await.status() == 200, want);
            let page = app.client.get(app.url(&format!("/v/{id}")));
            let page = match tok {
                Some(x) => page.bearer_auth(x),
                None => page,
            };
            tally.check(case("share page"), page.send().await.unwrap().status() == 200, want);
            tally.check(case("comments"), app.get(&format!("/api/v1/videos/{id}/comments"), tok).await.status() == 200, want);
            tally.check(case("likes list"), app.get(&format!("/api/v1/videos/{id}/likes"), tok).await.status() == 200, want);
            // Both For You feeds apply the policy; the personalised one also
            // leaves out what the viewer liked (here: the owner liked each video).
            let in_for_you = want && *vis == "public" && !private_account;
            let (_, fy) = app.get_json("/api/v1/feed/for-you?limit=100&personalized=false", tok).await;
            tally.check(case("for-you feed without profiling"), ids(&fy).contains(&id.to_string()), in_for_you);
            let (_, fy) = app.get_json("/api/v1/feed/for-you?limit=100", tok).await;
            tally.check(case("for-you feed"), ids(&fy).contains(&id.to_string()), in_for_you && *who != Who::Owner);
            if tok.is_some() && *who != Who::Owner {
                let (_, fol) = app.get_json("/api/v1/feed/following?limit=100", tok).await;
                tally.check(case("following feed"), ids(&fol).contains(&id.to_string()), want && *who == Who::Follower);
            }
            let (_, grid) = app.get_json(&format!("/api/v1/accounts/{owner}/videos?limit=100"), tok).await;
            tally.check(case("profile grid"), ids(&grid).contains(&id.to_string()), want);
            let (_, tagged) = app.get_json(&format!("/api/v1/tags/{tag}/videos"), tok).await;
            tally.check(case("hashtag page"), ids(&tagged).contains(&id.to_string()), want);
            let (_, found) = app.get_json(&format!("/api/v1/search?type=videos&q={tag}"), tok).await;
            tally.check(case("video search"), ids(&found).contains(&id.to_string()), want);
            let (_, tags) = app.get_json(&format!("/api/v1/search?type=tags&q={tag}"), tok).await;
            let tag_found = tags["items"].as_array().unwrap().iter().any(|i| i["tag"] == tag.as_str());
            tally.check(case("tag search"), tag_found, want);
            let (_, trending) = app.get_json("/api/v1/tags/trending", tok).await;
            let trending_has = trending["items"].as_array().unwrap().iter().any(|i| i["tag"] == tag.as_str());
            tally.check(case("trending"), trending_has, *vis == "public" && !private_account);
            if tok.is_some() && *who != Who::Owner {
                let (_, notes) = app.get_json("/api/v1/notifications?limit=100", tok).await;
                let mentioned = notes["items"].as_array().unwrap().iter().any(|n| n["kind"] == "mention" && n["video"]["id"] == id);
                tally.check(case("mention notification"), mentioned, want);
            }
        }
    }
    // Accounts: the blocked viewer cannot see or find the owners, and vice versa.
    for owner in ["pubowner", "privowner"] {
        for (who, tok) in [("blocked", Some(t("blocked"))), ("stranger", Some(t("stranger"))), ("anon", None)] {
            let want = who != "blocked";
            let (s, _) = app.get_json(&format!("/api/v1/accounts/{owner}"), tok.as_deref()).await;
            tally.check(format!("account {owner} as {who}"), s == 200, want);
            let page = app.client.get(app.url(&format!("/@{owner}")));
            let page = match &tok {
                Some(x) => page.bearer_auth(x),
                None => page,
            };
            tally.check(format!("profile page {owner} as {who}"), page.send().await.unwrap().status() == 200, want);
            let (_, found) = app.get_json(&format!("/api/v1/search?type=accounts&q={owner}"), tok.as_deref()).await;
            let hit = found["items"].as_array().unwrap().iter().any(|a| a["username"] == owner);
            tally.check(format!("account search {owner} as {who}"), hit, want);
            let (_, c) = app.get_json(&format!("/api/v1/accounts/{owner}"), tok.as_deref()).await;
            if want {
                let visible = VIS.iter().filter(|v| may_see(if who == "anon" { Who::Anon } else { Who::Stranger }, owner == "privowner", v)).count();
                tally.check(format!("video count of {owner} as {who}"), c["counts"]["videos"] == visible, true);
            }
        }
        let (s, _) = app.get_json("/api/v1/accounts/blocked", Some(&t(owner))).await;
        tally.check(format!("blocker sees blocked account ({owner})"), s == 200, false);
        let r = send(reqwest::Method::POST, format!("/api/v1/accounts/{owner}/follow"), t("blocked"), None).await.unwrap();
        tally.check(format!("blocked cannot follow {owner}"), r.status() == 404, true);
    }
    println!("visibility matrix: {} cases checked on {b:?}", tally.cases);
    assert!(tally.failures.is_empty(), "{} of {} cases failed:\n{}", tally.failures.len(), tally.cases, tally.failures.join("\n"));
}
