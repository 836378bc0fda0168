//! A fixed number of queries per page, whatever the page's size: every list a
//! person pages through (feeds, a profile, comments, notifications, search,
//! followers, likers, the moderation queue) is measured with a page of 2 and a
//! page of 12 over the same data, on each backend, and must cost the same number
//! of statements. The count is every statement sqlx executes
//! (`support::statements`), so a query hidden in a loop shows.
//!
//! One test function: the counter is process-wide.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kinora_app::views::PageRequest;
use kinora_app::{comments, feeds, follows, moderation, notifications, recommend, reports, search, videos, Caller};
use std::future::Future;
use support::statements;

/// Statements `f` executes: the least of three calls after a warm-up, so a pool
/// connection opened meanwhile (its setup statements) is not counted against the
/// page.
async fn cost<F, Fut, T>(f: F) -> usize
where
    F: Fn() -> Fut,
    Fut: Future<Output = kinora_app::AppResult<T>>,
{
    f().await.map_err(|e| e.message).unwrap();
    let mut least = usize::MAX;
    for _ in 0..3 {
        let before = statements::count();
        f().await.map_err(|e| e.message).unwrap();
        least = least.min(statements::count() - before);
    }
    least
}

const SMALL: i64 = 2;
const LARGE: i64 = 12;

fn page(limit: i64) -> PageRequest {
    PageRequest::first(limit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_costs_the_same_queries_for_2_items_as_for_12() {
    statements::install();
    let mut table = Vec::new();
    for i in support::instances().await {
        // ann posts 14 videos tagged #cats; bob follows her, likes and comments on
        // them; 14 others follow bob, like and comment on his video (bob's
        // notifications) and report one of ann's videos (the queue).
        let ann = i.account("ann").await;
        let bob = i.account("bob").await;
        let mods = i.account("mods").await;
        let mut videos = Vec::new();
        for n in 0..14 {
            videos.push(i.ready_video(&ann, &format!("cat video {n} #cats")).await);
        }
        let bobs = i.ready_video(&bob, "bob's cat #cats").await;
        let (ann_c, bob_c) = (i.caller(&ann).await, i.caller(&bob).await);
        follows::follow(&i.st, &bob_c, "ann", None).await.unwrap();
        for v in &videos {
            videos::set_like(&i.st, &bob_c, v.as_str(), true).await.unwrap();
        }
        let mut others: Vec<Caller> = Vec::new();
        for n in 0..14 {
            let a = i.account(&format!("fan{n}")).await;
            let c = i.caller(&a).await;
            follows::follow(&i.st, &c, "bob", None).await.unwrap();
            videos::set_like(&i.st, &c, bobs.as_str(), true).await.unwrap();
            comments::add_comment(&i.st, &c, bobs.as_str(), &format!("nice {n} @bob"), None).await.unwrap();
            comments::add_comment(&i.st, &c, videos[0].as_str(), &format!("meow {n}"), None).await.unwrap();
            reports::report(
                &i.st,
                &c,
                reports::Report {
                    video_id: Some(videos[n].to_string()),
                    reason: Some("spam".into()),
                    details: Some(format!("report {n}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            others.push(c);
        }
        kinora_app::staff::grant(&i.st, "mods", kinora_core::moderation::StaffRole::Moderator).await.unwrap();
        let mods_c = i.caller(&mods).await;
        let (st, v0, bobs) = (&i.st, videos[0].as_str(), bobs.as_str());
        let (bob_c, mods_c) = (&bob_c, &mods_c);
        let _ = &ann_c;

        macro_rules! measure {
            ($name:expr, |$limit:ident, $page:ident| $call:expr) => {{
                let small = cost(|| async move {
                    let $limit = SMALL;
                    let $page = &page($limit);
                    let _ = $page;
                    $call.await
                })
                .await;
                let large = cost(|| async move {
                    let $limit = LARGE;
                    let $page = &page($limit);
                    let _ = $page;
                    $call.await
                })
                .await;
                table.push((i.backend, $name, small, large));
            }};
        }
        measure!("For You (signed in)", |l, p| recommend::for_you(st, bob_c, None, None, l));
        measure!("Following feed", |l, p| feeds::following(st, bob_c, p));
        measure!("profile: an account's videos", |l, p| feeds::account_videos(st, bob_c, "ann", p));
        measure!("hashtag page", |l, p| feeds::tag_videos(st, bob_c, "cats", p));
        measure!("comments", |l, p| comments::comments(st, bob_c, v0, p));
        measure!("notifications (inbox)", |l, p| notifications::notifications(st, bob_c, p));
        measure!("search: videos", |l, p| search::search(st, bob_c, "cat", search::SearchKind::Videos, l));
        measure!("search: accounts", |l, p| search::search(st, bob_c, "fan", search::SearchKind::Accounts, l));
        measure!("search: tags", |l, p| search::search(st, bob_c, "cat", search::SearchKind::Tags, l));
        measure!("followers", |l, p| follows::follow_list(st, bob_c, "bob", true, p));
        measure!("likers", |l, p| videos::likers(st, bob_c, bobs, p));
        measure!("liked videos", |l, p| videos::liked_videos(st, bob_c, "bob", p));
        measure!("moderation queue", |l, p| moderation::queue(st, mods_c, &moderation::QueueFilter::default(), p));
    }
    println!("{:<10} {:<32} {:>8} {:>8}", "backend", "list", SMALL, LARGE);
    for (backend, name, small, large) in &table {
        println!("{backend:<10} {name:<32} {small:>8} {large:>8}");
    }
    let growing: Vec<_> = table.iter().filter(|(_, _, small, large)| small != large).collect();
    assert!(growing.is_empty(), "lists whose queries grow with the page (backend, list, statements for {SMALL}, for {LARGE}): {growing:?}");
}
