//! The services' rules, tested in process on each backend (no HTTP, no ffmpeg):
//! what the end-to-end scenarios show through a whole server, checked here
//! directly and fast. Each failure names the backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on

mod support;

use futures_util::stream;
use kinora_app::moderation::{self, Decision, QueueFilter};
use kinora_app::uploads::{self, Chunk, NewUpload};
use kinora_app::views::PageRequest;
use kinora_app::{feeds, follows, notifications, reports, search, AppResult};
use kinora_core::moderation::{ReportStatus, StaffRole};
use kinora_core::{Caption, ErrorCode, Visibility};

/// The error code of a result that must fail.
fn code<T: std::fmt::Debug>(r: AppResult<T>) -> ErrorCode {
    r.expect_err("this must fail").code
}

fn chunk(bytes: &[u8]) -> Chunk<stream::Iter<std::vec::IntoIter<Result<bytes::Bytes, std::io::Error>>>> {
    Chunk { checksum: None, content_length: Some(bytes.len() as i64), body: stream::iter(vec![Ok(bytes::Bytes::copy_from_slice(bytes))]) }
}

fn new_upload(length: i64) -> NewUpload {
    NewUpload { length, caption: Caption::parse("first").unwrap(), visibility: Visibility::Public, filename: "clip.mp4".into() }
}

/// The tus state machine: offsets are checked, the settings restated last win,
/// the last byte makes the video, a finished upload answers where it ended, and
/// only its owner sees it.
#[tokio::test]
async fn a_resumable_upload_moves_only_forward() {
    for i in support::instances().await {
        let b = i.backend;
        let ann = i.caller(&i.account("ann").await).await;
        let bob = i.caller(&i.account("bob").await).await;
        let (id, p) = uploads::create_with::<_, std::io::Error>(&i.st, &ann, new_upload(10), None::<Chunk<stream::Empty<_>>>).await.unwrap();
        let id = id.to_string();
        assert_eq!((p.received, p.length, p.video.is_some()), (0, 10, false), "{b}");
        assert_eq!(code(uploads::status(&i.st, &bob, &id).await), ErrorCode::NotFound, "{b}: someone else's upload is not there");
        assert_eq!(code(uploads::patch(&i.st, &ann, &id, 3, None, chunk(b"abc")).await), ErrorCode::OffsetMismatch, "{b}");
        let p = uploads::patch(&i.st, &ann, &id, 0, None, chunk(b"0123")).await.unwrap();
        assert_eq!(p.received, 4, "{b}");
        assert_eq!(code(uploads::patch(&i.st, &ann, &id, 4, None, chunk(b"too many bytes")).await), ErrorCode::PayloadTooLarge, "{b}");
        assert_eq!(uploads::status(&i.st, &ann, &id).await.unwrap().received, 4, "{b}: a refused chunk leaves nothing");
        let last = Some((Caption::parse("chosen last").unwrap(), Visibility::Followers));
        let p = uploads::patch(&i.st, &ann, &id, 4, last, chunk(b"456789")).await.unwrap();
        let video = p.video.expect("the last byte makes the video");
        let done = uploads::patch(&i.st, &ann, &id, 10, None, chunk(b"")).await.unwrap();
        assert_eq!(done.video.as_ref(), Some(&video), "{b}: a finished upload answers where it ended");
        let mine = kinora_app::videos::get_video(&i.st, &ann, video.as_str()).await.unwrap();
        assert_eq!((mine.caption.as_str(), mine.visibility), ("chosen last", Visibility::Followers), "{b}: the settings sent last win");
        uploads::terminate(&i.st, &ann, &id).await.unwrap();
        assert_eq!(code(uploads::status(&i.st, &ann, &id).await), ErrorCode::NotFound, "{b}");
    }
}

/// The storage quota counts what is stored and what uploads declared.
#[tokio::test]
async fn uploads_past_the_storage_quota_are_refused_before_a_byte_is_stored() {
    for i in support::instances_with(|c| c.uploads.max_stored_bytes = 1000).await {
        let ann = i.caller(&i.account("ann").await).await;
        let r = uploads::create_with::<_, std::io::Error>(&i.st, &ann, new_upload(2000), None::<Chunk<stream::Empty<_>>>).await;
        assert_eq!(code(r), ErrorCode::QuotaExceeded, "{}", i.backend);
        uploads::create_with::<_, std::io::Error>(&i.st, &ann, new_upload(600), None::<Chunk<stream::Empty<_>>>).await.unwrap();
        let r = uploads::create_with::<_, std::io::Error>(&i.st, &ann, new_upload(600), None::<Chunk<stream::Empty<_>>>).await;
        assert_eq!(code(r), ErrorCode::QuotaExceeded, "{}: the first upload's declared bytes count", i.backend);
    }
}

/// Reports and decisions: reasons are a closed set, a report names one thing,
/// nobody decides about their own content, a report is decided once, reinstate
/// answers only appeals, and an action may be appealed once.
#[tokio::test]
async fn moderation_decides_once_and_appeals_once() {
    for i in support::instances().await {
        let b = i.backend;
        let sam = i.account("sam").await;
        let v = i.ready_video(&sam, "sam's video").await;
        let fan = i.caller(&i.account("fan").await).await;
        let moderator = i.account("mods").await;
        kinora_app::staff::grant(&i.st, "mods", StaffRole::Moderator).await.unwrap();
        let mods = i.caller(&moderator).await;
        let report = |reason: &str| reports::Report { video_id: Some(v.to_string()), reason: Some(reason.into()), ..Default::default() };
        assert_eq!(code(reports::report(&i.st, &fan, report("appeal")).await), ErrorCode::InvalidField, "{b}: appeal is not a reporter's reason");
        assert_eq!(code(reports::report(&i.st, &fan, report("boring")).await), ErrorCode::InvalidField, "{b}");
        let two = reports::Report { account: Some("sam".into()), ..report("spam") };
        assert_eq!(code(reports::report(&i.st, &fan, two).await), ErrorCode::InvalidField, "{b}: one thing per report");
        let r = reports::report(&i.st, &fan, report("spam")).await.unwrap();
        let decide = |action: &str, reason: &str| Decision::parse(r.id.to_string(), action, reason, String::new());
        assert_eq!(code(decide("ban", "spam")), ErrorCode::InvalidField, "{b}");
        assert_eq!(code(decide("remove", "appeal")), ErrorCode::InvalidField, "{b}");
        assert_eq!(code(moderation::act(&i.st, &mods, decide("reinstate", "no-violation").unwrap()).await), ErrorCode::InvalidField, "{b}");
        let sam_c = i.caller(&sam).await;
        assert_eq!(code(moderation::act(&i.st, &sam_c, decide("dismiss", "no-violation").unwrap()).await), ErrorCode::NotFound, "{b}: not staff");
        let done = moderation::act(&i.st, &mods, decide("remove", "spam").unwrap()).await.unwrap();
        assert_eq!(done.report_status, ReportStatus::Actioned, "{b}");
        assert_eq!(code(moderation::act(&i.st, &mods, decide("dismiss", "no-violation").unwrap()).await), ErrorCode::Conflict, "{b}: decided once");
        assert_eq!(code(kinora_app::videos::get_video(&i.st, &fan, v.as_str()).await), ErrorCode::NotFound, "{b}: removed");
        // The owner is told, with the action to appeal; once.
        let inbox = notifications::notifications(&i.st, &sam_c, &PageRequest::first(10)).await.unwrap();
        let notice = inbox.items.iter().find_map(|n| n.moderation.clone()).expect("a moderation notice");
        assert!(notice.can_appeal, "{b}");
        assert_eq!(code(moderation::appeal(&i.st, &fan, notice.action_id.as_str(), "not theirs").await), ErrorCode::NotFound, "{b}");
        moderation::appeal(&i.st, &sam_c, notice.action_id.as_str(), "it was not spam").await.unwrap();
        assert_eq!(code(moderation::appeal(&i.st, &sam_c, notice.action_id.as_str(), "again").await), ErrorCode::Conflict, "{b}: one appeal");
        let queue = moderation::queue(&i.st, &mods, &QueueFilter::default(), &PageRequest::first(10)).await.unwrap();
        assert_eq!((queue.open.reports, queue.open.appeals), (0, 1), "{b}");
        assert_eq!(code(moderation::queue(&i.st, &fan, &QueueFilter::default(), &PageRequest::first(10)).await), ErrorCode::NotFound, "{b}: not staff");
    }
}

/// Blocking hides: the blocked account's notifications, profile and search results.
#[tokio::test]
async fn a_block_hides_both_ways() {
    for i in support::instances().await {
        let b = i.backend;
        let ann = i.account("ann").await;
        let v = i.ready_video(&ann, "ann's cat #cats").await;
        let troll = i.caller(&i.account("troll").await).await;
        let ann_c = i.caller(&ann).await;
        kinora_app::videos::set_like(&i.st, &troll, v.as_str(), true).await.unwrap();
        let before = notifications::notifications(&i.st, &ann_c, &PageRequest::first(10)).await.unwrap();
        assert_eq!(before.items.len(), 1, "{b}");
        follows::set_block(&i.st, &ann_c, "troll", true).await.unwrap();
        let after = notifications::notifications(&i.st, &ann_c, &PageRequest::first(10)).await.unwrap();
        assert!(after.items.is_empty(), "{b}: a blocked actor's notifications are hidden");
        assert_eq!(code(feeds::account_videos(&i.st, &troll, "ann", &PageRequest::first(10)).await), ErrorCode::NotFound, "{b}");
        assert_eq!(code(kinora_app::videos::get_video(&i.st, &troll, v.as_str()).await), ErrorCode::NotFound, "{b}");
        let found = search::search(&i.st, &troll, "ann", search::SearchKind::Accounts, 10).await.unwrap();
        assert!(found.items.is_empty(), "{b}: {:?}", found.items.len());
    }
}

/// Parsed at the edge: the search kind and the Following feed's caller.
#[tokio::test]
async fn edges_parse_into_types() {
    assert_eq!(search::SearchKind::from_query(None).unwrap(), search::SearchKind::Videos);
    assert_eq!(search::SearchKind::from_query(Some("tags")).unwrap(), search::SearchKind::Tags);
    assert_eq!(code(search::SearchKind::from_query(Some("people"))), ErrorCode::InvalidField);
    let i = support::sqlite().await;
    let anonymous = kinora_app::Caller { account: None };
    assert_eq!(code(feeds::following(&i.st, &anonymous, &PageRequest::first(10)).await), ErrorCode::Unauthorized);
}

/// A hashtag's page is in publication order, newest first, page after page, and
/// editing a caption (its hashtags rewritten) does not move a video up.
#[tokio::test]
async fn a_hashtag_page_keeps_publication_order_through_edits() {
    for i in support::instances().await {
        let b = i.backend;
        let ann = i.account("ann").await;
        let mut made = Vec::new();
        for n in 0..3 {
            made.push(i.ready_video(&ann, &format!("cat {n} #cats")).await);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let ann_c = i.caller(&ann).await;
        let edit = kinora_app::videos::VideoEdit { caption: Some("the first cat, edited #cats #kittens".into()), visibility: None, comments: None };
        kinora_app::videos::edit_video(&i.st, &ann_c, made[0].as_str(), edit).await.unwrap();
        let first = feeds::tag_videos(&i.st, &ann_c, "cats", &PageRequest::first(2)).await.unwrap();
        let ids: Vec<String> = first.items.iter().map(|v| v.id.to_string()).collect();
        assert_eq!(ids, vec![made[2].to_string(), made[1].to_string()], "{b}");
        let next = PageRequest::parse(first.next_cursor.as_deref(), Some("2")).unwrap();
        let second = feeds::tag_videos(&i.st, &ann_c, "cats", &next).await.unwrap();
        let ids: Vec<String> = second.items.iter().map(|v| v.id.to_string()).collect();
        assert_eq!(ids, vec![made[0].to_string()], "{b}: the edited video stays where it was published");
    }
}
