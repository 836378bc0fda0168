//! The pages: feeds, a video, a profile, a hashtag, search, the inbox, settings,
//! upload, the transparency report and access log, the privacy page.

use super::*;
use crate::error::ApiError;
use crate::extract::Viewer;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kinora_app::feeds;
use kinora_app::views::{self, PageRequest, VideoView};
use kinora_app::{access, videos, AppError, AppState};
use kinora_core::VideoStatus;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "about-data.html")]
struct AboutDataPage {
    layout: Layout,
    d: kinora_app::residency::Declaration,
}

/// `/about/data`: the privacy page, generated from the personal-data registry.
pub async fn about_data(State(st): State<AppState>, viewer: Viewer) -> Response {
    render(AboutDataPage { layout: Layout::new(&viewer, ""), d: kinora_app::residency::declaration(&st) })
}

#[derive(Template)]
#[template(path = "cards.html")]
struct CardsFragment {
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    layout: Layout,
    title: &'static str,
    feed: &'static str,
    next: String,
    cards: Vec<Card>,
    /// For You: whether this page is personalised, and whether the viewer may switch.
    personalized: bool,
    signed_in: bool,
    empty_title: &'static str,
    empty_text: &'static str,
    empty_link: &'static str,
    empty_action: &'static str,
}

#[derive(Template)]
#[template(path = "video.html")]
struct VideoPage {
    layout: Layout,
    /// The owner gets an edit sheet (caption, visibility, comments).
    owner_edit: Option<(String, String, String)>,
    title: String,
    c: Card,
    cards: Vec<Card>,
    page_url: String,
    abs_src: String,
    abs_poster: String,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    username: String,
    display_name: String,
    initial: String,
    bio: String,
    followers: i64,
    following: i64,
    videos: i64,
    tiles: Vec<Tile>,
    liked: Vec<Tile>,
    show_liked: bool,
    likes_public: bool,
    is_me: bool,
    logout_csrf: String,
    /// none | requested | following (for signed-in visitors).
    follow: String,
    signed_in: bool,
    private: bool,
    avatar: Option<String>,
}

#[derive(Template)]
#[template(path = "upload.html")]
struct UploadPage {
    layout: Layout,
}

/// The owner's own video that is not ready: processing (the page refreshes),
/// failed, or removed by moderators.
#[derive(Template)]
#[template(path = "video-state.html")]
struct VideoStatePage {
    layout: Layout,
    message: String,
    refresh: bool,
    removed: bool,
}

#[derive(Template)]
#[template(path = "notfound.html")]
struct NotFoundPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    layout: Layout,
    tag: String,
    tiles: Vec<Tile>,
    following: bool,
    signed_in: bool,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    /// "stored in eu-a (EU), backup in eu-b (EU)".
    residency: String,
    /// Hours before a deleted account is erased.
    grace_hours: i64,
    display_name: String,
    bio: String,
    private: bool,
    likes_public: bool,
    /// The viewer's staff role, for the link to the moderation queue.
    staff_role: Option<kinora_core::moderation::StaffRole>,
    personalized_feed: bool,
    /// Storage used and the quota, readable ("1.2 GB"), and the fraction used.
    storage_used: String,
    storage_quota: String,
    storage_fraction: String,
}

/// Bytes as people read them: "830 MB", "1.2 GB".
const PAGE: i64 = 8;

/// A feed page's fixed texts.
struct FeedKind {
    tab: &'static str,
    title: &'static str,
    feed: &'static str,
    empty: [&'static str; 4],
}

/// The two vertical feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    /// The recommender's.
    ForYou,
    /// Accounts and hashtags the viewer follows, newest first.
    Following,
}

impl Feed {
    fn parse(s: &str) -> Option<Feed> {
        match s {
            "for-you" => Some(Feed::ForYou),
            "following" => Some(Feed::Following),
            _ => None,
        }
    }
}

/// A loaded feed page: its videos, the next cursor, whether personalised, and (For
/// You, signed in) the authors on it the viewer follows.
struct FeedLoad {
    items: Vec<VideoView>,
    next: Option<String>,
    personalized: bool,
    followed: Option<std::collections::HashSet<kinora_core::Id>>,
}

/// Renders the first page of a vertical feed; later pages come from
/// [`feed_cards`] as the same cards.
/// A page of a feed: For You from the recommender (its own cursors), Following
/// from the database. (items, next cursor, personalised)
async fn load_feed(st: &AppState, viewer: &Viewer, feed: Feed, cursor: Option<&str>) -> Result<FeedLoad, AppError> {
    match feed {
        Feed::ForYou => {
            let p = kinora_app::recommend::for_you(st, &viewer.caller, None, cursor, PAGE).await?;
            Ok(FeedLoad {
                items: p.items,
                next: p.next_cursor,
                personalized: p.personalized,
                followed: viewer.caller.id().is_some().then_some(p.followed_authors),
            })
        }
        Feed::Following => {
            let req = PageRequest::parse(cursor, Some(&PAGE.to_string()))?;
            let p = feeds::following(st, &viewer.caller, &req).await?;
            Ok(FeedLoad { items: p.items, next: p.next_cursor, personalized: false, followed: None })
        }
    }
}

async fn feed_page(st: &AppState, viewer: &Viewer, feed: Feed, kind: FeedKind) -> Response {
    let FeedLoad { items, next, personalized, followed } = match load_feed(st, viewer, feed, None).await {
        Ok(p) => p,
        Err(e) => return page_error(viewer, e),
    };
    let [empty_title, empty_text, empty_link, empty_action] = kind.empty;
    render(FeedPage {
        layout: Layout::new(viewer, kind.tab),
        title: kind.title,
        feed: kind.feed,
        next: next.unwrap_or_default(),
        cards: cards(&items, viewer.caller.id().zip(followed.as_ref())),
        personalized,
        signed_in: viewer.account().is_some(),
        empty_title,
        empty_text,
        empty_link,
        empty_action,
    })
}

pub async fn for_you(State(st): State<AppState>, viewer: Viewer) -> Response {
    let kind = FeedKind {
        tab: "home",
        title: "For You",
        feed: "for-you",
        empty: ["Nothing to watch yet", "Be the first: post a video and it will show up here.", "/upload", "Upload a video"],
    };
    feed_page(&st, &viewer, Feed::ForYou, kind).await
}

pub async fn following(State(st): State<AppState>, viewer: Viewer) -> Response {
    if viewer.account().is_none() {
        return Redirect::to("/login").into_response();
    }
    let kind = FeedKind {
        tab: "following",
        title: "Following",
        feed: "following",
        empty: ["No videos from people you follow", "Follow creators and hashtags you like and their new videos land here.", "/", "Find creators on For You"],
    };
    feed_page(&st, &viewer, Feed::Following, kind).await
}

#[derive(Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

/// `GET /feed/{for-you|following}/cards?cursor=`: the next page of a feed as the
/// same cards as the first page, with the cursor after it in `X-Next-Cursor`.
pub async fn feed_cards(State(st): State<AppState>, viewer: Viewer, Path(kind): Path<String>, Query(q): Query<CursorQuery>) -> Response {
    let Some(feed) = Feed::parse(&kind) else {
        return not_found_page(&viewer);
    };
    let FeedLoad { items, next, followed, .. } = match load_feed(&st, &viewer, feed, q.cursor.as_deref()).await {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    let mut r = render(CardsFragment { cards: cards(&items, viewer.caller.id().zip(followed.as_ref())) });
    if let Some(next) = next.and_then(|n| HeaderValue::from_str(&n).ok()) {
        r.headers_mut().insert("x-next-cursor", next);
    }
    r
}

pub async fn video_page(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let v = match access::visible_video(&st, &viewer.caller, &id).await {
        Ok(v) if v.status == VideoStatus::Ready => v,
        Ok(v) => {
            // The owner sees progress on their own unready video.
            let (message, refresh, removed) = match v.status {
                VideoStatus::Failed => (format!("This video could not be processed: {}", v.error_message.as_deref().unwrap_or("unknown error")), false, false),
                // Removed by moderators: only its owner sees this; the inbox says why.
                VideoStatus::Removed => ("Moderators removed this video. Only you can see that it exists.".to_owned(), false, true),
                _ => ("This video is still processing. This page refreshes when it is ready.".to_owned(), true, false),
            };
            let mut r = render(VideoStatePage { layout: Layout::new(&viewer, "me"), message, refresh, removed });
            r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
            return r;
        }
        Err(e) => return page_error(&viewer, e),
    };
    let view = match views::video(&st, &viewer.caller, &v).await {
        Ok(view) => view,
        Err(e) => return page_error(&viewer, e),
    };
    let Some(c) = Card::from_view(&view) else {
        return not_found_page(&viewer);
    };
    let title = {
        let t: String = c.caption.lines().next().unwrap_or("").chars().take(80).collect();
        if t.is_empty() {
            "a video on Kinora".to_owned()
        } else {
            t
        }
    };
    let base = st.base_url();
    let owner_edit =
        (viewer.id() == Some(&v.account_id)).then(|| (v.caption.as_str().to_owned(), v.visibility.as_str().to_owned(), v.comments_setting.as_str().to_owned()));
    render(VideoPage {
        layout: Layout::new(&viewer, "home"),
        owner_edit,
        title,
        page_url: format!("{base}/v/{}", c.id),
        abs_src: format!("{base}{}", c.src),
        abs_poster: format!("{base}{}", c.poster),
        cards: vec![c.clone()],
        c,
    })
}

pub async fn profile(State(st): State<AppState>, viewer: Viewer, Path(handle): Path<String>) -> Response {
    let Some(name) = handle.strip_prefix('@') else {
        return not_found_page(&viewer);
    };
    let result = async {
        let (a, rel) = access::visible_account(&st, &viewer.caller, name).await?;
        let account = views::account(&st, &viewer.caller, &a).await?;
        let videos = feeds::account_videos(&st, &viewer.caller, name, &PageRequest::first(60)).await?;
        let show_liked = access::may_see_likes(rel, &a);
        let liked = if show_liked { videos::liked_videos(&st, &viewer.caller, name, &PageRequest::first(60)).await?.items } else { vec![] };
        Ok::<_, AppError>((a, account, videos.items, liked, show_liked))
    }
    .await;
    let (a, account, videos, liked, show_liked) = match result {
        Ok(r) => r,
        Err(e) => return page_error(&viewer, e),
    };
    let is_me = viewer.id() == Some(&a.id);
    let follow = match account.follow {
        Some(views::FollowView::Following) => "following",
        Some(views::FollowView::Requested) => "requested",
        Some(views::FollowView::None) => "none",
        None => "",
    };
    render(ProfilePage {
        layout: Layout::new(&viewer, if is_me { "me" } else { "" }),
        initial: account.display_name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        bio: account.bio.clone(),
        followers: account.counts.followers,
        following: account.counts.following,
        videos: account.counts.videos,
        tiles: tiles(&videos),
        liked: tiles(&liked),
        show_liked,
        likes_public: a.likes_public,
        is_me,
        logout_csrf: viewer.csrf().unwrap_or("").to_owned(),
        follow: follow.to_owned(),
        signed_in: viewer.account().is_some(),
        private: a.private,
        avatar: account.avatar_url.clone(),
    })
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
}

pub async fn search_page(viewer: Viewer, Query(p): Query<SearchParams>) -> Response {
    render(SearchPage { layout: Layout::new(&viewer, "search"), q: p.q.unwrap_or_default().chars().take(100).collect() })
}

pub async fn tag_page(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> Response {
    match feeds::tag_videos(&st, &viewer.caller, &tag, &PageRequest::first(60)).await {
        Ok(page) => render(TagPage {
            layout: Layout::new(&viewer, "search"),
            tiles: tiles(&page.items),
            following: page.following.unwrap_or(false),
            tag: page.tag,
            signed_in: viewer.account().is_some(),
        }),
        Err(e) => page_error(&viewer, e),
    }
}

pub async fn inbox(viewer: Viewer) -> Response {
    if viewer.account().is_none() {
        return Redirect::to("/login").into_response();
    }
    render(InboxPage { layout: Layout::new(&viewer, "inbox") })
}

pub async fn settings(State(st): State<AppState>, viewer: Viewer) -> Response {
    let Some(a) = viewer.account() else {
        return Redirect::to("/login").into_response();
    };
    let (used, quota) = match kinora_app::accounts::storage(&st, &viewer.caller).await {
        Ok(s) => s,
        Err(e) => return page_error(&viewer, e),
    };
    render(SettingsPage {
        layout: Layout::new(&viewer, "me"),
        residency: kinora_app::residency::describe(&st, &a.region),
        grace_hours: st.config().accounts.erasure_grace_hours,
        display_name: a.display_name.clone(),
        bio: a.bio.clone(),
        private: a.private,
        likes_public: a.likes_public,
        staff_role: kinora_app::staff::role(&st, &viewer.caller).await.ok(),
        personalized_feed: a.personalized_feed,
        storage_used: human_bytes(used),
        storage_quota: human_bytes(quota),
        storage_fraction: format!("{:.3}", used as f64 / quota.max(1) as f64),
    })
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage {
    layout: Layout,
    r: std::sync::Arc<kinora_app::transparency::Report>,
}

/// `/transparency` (public): staff accesses by month, reason and role, computed from
/// the log, with the checkpoint and how to check it.
pub async fn transparency(State(st): State<AppState>, viewer: Viewer) -> Response {
    match kinora_app::transparency::report(&st).await {
        Ok(r) => render(TransparencyPage { layout: Layout::new(&viewer, ""), r }),
        Err(e) => page_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "access-log.html")]
struct AccessLogPage {
    layout: Layout,
    items: Vec<kinora_app::staff::AccessRecord>,
    tree_size: u64,
}

/// Settings → "Who accessed my data": every logged staff or legal access, newest first.
pub async fn access_log(State(st): State<AppState>, viewer: Viewer) -> Response {
    let Some(a) = viewer.account() else {
        return Redirect::to("/login?next=/settings/access").into_response();
    };
    match kinora_app::staff::history_of(&st, &a.id).await {
        Ok(h) => {
            let tree_size = h.items.first().map_or(0, |r| r.tree_size);
            let mut items = h.items;
            items.reverse();
            render(AccessLogPage { layout: Layout::new(&viewer, "me"), items, tree_size })
        }
        Err(e) => page_error(&viewer, e),
    }
}

pub async fn upload(viewer: Viewer) -> Response {
    if viewer.account().is_none() {
        return Redirect::to("/login?next=/upload").into_response();
    }
    render(UploadPage { layout: Layout::new(&viewer, "upload") })
}

pub(crate) fn not_found_page(viewer: &Viewer) -> Response {
    let mut r = render(NotFoundPage { layout: Layout::new(viewer, "") });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

pub async fn not_found(viewer: Viewer) -> Response {
    not_found_page(&viewer)
}
