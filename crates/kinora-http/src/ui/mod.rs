//! Server-rendered pages (askama) with small vanilla JS; no build step. Pages
//! call the same services as the API and render their answers.

use crate::error::ApiError;
use crate::extract::{ClientAddr, Viewer, CSRF_COOKIE, SESSION_COOKIE};
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use kinora_app::auth::{hash_secret, new_secret, secret_eq};
use kinora_app::data::TokenKind;
use kinora_app::feeds;
use kinora_app::views::{self, PageRequest, VideoView};
use kinora_app::{access, accounts, videos, AppError, AppState};
use kinora_core::{ErrorCode, Id, VideoStatus};
use serde::Deserialize;

pub mod admin;

/// What every page's layout needs.
pub struct Layout {
    pub csrf: Option<String>,
    pub username: Option<String>,
    pub tab: &'static str,
}

impl Layout {
    fn new(v: &Viewer, tab: &'static str) -> Layout {
        Layout { csrf: v.csrf().map(str::to_owned), username: v.account().map(|a| a.username.to_string()), tab }
    }
}

/// One video in a vertical feed (`card.html`: the first page and every later page
/// loaded by infinite scroll are this one template).
#[derive(Clone)]
pub struct Card {
    pub id: String,
    pub username: String,
    pub caption: String,
    pub poster: String,
    pub src: String,
    pub width: i64,
    pub height: i64,
    pub first: bool,
    /// Every rendition as JSON (`[{url, width, height, bitrate}]`, highest first) for
    /// the player to choose from.
    pub sources: String,
    pub likes: i64,
    pub comments: i64,
    pub liked: bool,
    pub duration_ms: i64,
    /// For You: why this video is here (empty elsewhere).
    pub reason: String,
    pub reason_code: &'static str,
    /// For You, signed in: a Follow button for an author the viewer does not follow.
    pub follow: bool,
}

impl Card {
    /// A card for a ready video with its renditions; `None` otherwise.
    fn from_view(v: &VideoView, first: bool) -> Option<Card> {
        let sources = v.sources.as_ref()?;
        // The default (and the one link previews get): the best rendition up to 720p.
        let src = sources.iter().find(|o| o.width.min(o.height) <= 720).or(sources.last())?;
        let poster = v.poster_url.clone()?;
        let list: Vec<serde_json::Value> =
            sources.iter().map(|o| serde_json::json!({"url": o.url, "width": o.width, "height": o.height, "bitrate": o.bitrate})).collect();
        Some(Card {
            id: v.id.to_string(),
            username: v.author.username.clone(),
            caption: v.caption.clone(),
            poster,
            src: src.url.clone(),
            width: src.width,
            height: src.height,
            first,
            sources: serde_json::Value::Array(list).to_string(),
            likes: v.counts.likes,
            comments: v.counts.comments,
            liked: v.liked_by_me,
            duration_ms: v.duration_ms.unwrap_or(0),
            reason: v.reason.as_ref().map(|r| r.text.clone()).unwrap_or_default(),
            reason_code: v.reason.as_ref().map_or("", |r| r.code),
            follow: false,
        })
    }
}

/// Cards for a feed page; `follow`: the authors the viewer may follow from a card
/// (For You, signed in), and whom of them they follow already.
fn cards(views: &[VideoView], follow: Option<(&kinora_core::Id, &std::collections::HashSet<kinora_core::Id>)>) -> Vec<Card> {
    let mut out = Vec::new();
    for v in views {
        if let Some(mut c) = Card::from_view(v, out.is_empty()) {
            c.follow = follow.is_some_and(|(me, followed)| &v.author.id != me && !followed.contains(&v.author.id));
            out.push(c);
        }
    }
    out
}

/// A grid tile, with its small preview once ready.
pub struct Tile {
    pub id: String,
    pub poster: Option<String>,
    pub caption: String,
    pub status: &'static str,
    pub visibility: &'static str,
}

fn tiles(views: &[VideoView]) -> Vec<Tile> {
    views
        .iter()
        .map(|v| Tile {
            id: v.id.to_string(),
            poster: v.preview_url.clone(),
            caption: v.caption.chars().take(100).collect(),
            status: v.status.as_str(),
            visibility: v.visibility.as_str(),
        })
        .collect()
}

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

#[derive(Template)]
#[template(path = "auth.html")]
struct AuthPage {
    layout: Layout,
    /// The account is scheduled for deletion: offer to keep it.
    offer_cancel: bool,
    heading: &'static str,
    action: &'static str,
    signup: bool,
    csrf: String,
    username: String,
    error: Option<String>,
    /// Sign-in: a local path to go to after (`?next=`).
    next: String,
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
fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.0} MB", n / 1e6),
        n if n >= 1e3 => format!("{:.0} kB", n / 1e3),
        n => format!("{n:.0} bytes"),
    }
}

/// Pages differ per viewer and carry CSRF tokens: no cache may keep them.
fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// A service error on a page: the not-found page for `not-found`, the JSON
/// error otherwise.
fn page_error(viewer: &Viewer, e: AppError) -> Response {
    if e.code == ErrorCode::NotFound {
        not_found_page(viewer)
    } else {
        ApiError(e).into_response()
    }
}

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
    let mut r =
        render(CardsFragment { cards: cards(&items, viewer.caller.id().zip(followed.as_ref())).into_iter().map(|c| Card { first: false, ..c }).collect() });
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
    let Some(c) = Card::from_view(&view, true) else {
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

fn not_found_page(viewer: &Viewer) -> Response {
    let mut r = render(NotFoundPage { layout: Layout::new(viewer, "") });
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

pub async fn not_found(viewer: Viewer) -> Response {
    not_found_page(&viewer)
}

// ---------- sign-in, sign-up, sign-out ----------

/// The pre-session CSRF token (double-submit cookie) for the sign-in and sign-up forms.
fn form_csrf(st: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE) {
        let v = c.value().to_owned();
        if v.len() >= 32 {
            return (jar, v);
        }
    }
    let (secret, _) = new_secret();
    let cookie = Cookie::build((CSRF_COOKIE, secret.clone())).path("/").http_only(true).same_site(SameSite::Strict).secure(st.https()).build();
    (jar.add(cookie), secret)
}

fn auth_page(signup: bool, csrf: String, username: String, error: Option<String>) -> AuthPage {
    auth_page_offering(signup, csrf, username, error, false)
}

/// Where to go after signing in: a path on this site, as a browser reads it
/// ([`kinora_core::redirect::LocalRedirect`]), else home.
fn local_next(next: Option<&str>) -> String {
    kinora_core::redirect::LocalRedirect::or_home(next).as_str().to_owned()
}

fn auth_page_offering(signup: bool, csrf: String, username: String, error: Option<String>, offer_cancel: bool) -> AuthPage {
    AuthPage {
        next: String::new(),
        offer_cancel,
        // The forms render as for a signed-out visitor: they are protected by their
        // own double-submit token, not the session (a signed-in person may submit a
        // sign-in form opened in another tab).
        layout: Layout::new(&Viewer::anonymous(), "login"),
        heading: if signup { "Create your account" } else { "Sign in" },
        action: if signup { "/signup" } else { "/login" },
        signup,
        csrf,
        username,
        error,
    }
}

/// Signed in already: the sign-in and sign-up pages send you home.
pub async fn login_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar, Query(q): Query<NextParam>) -> Response {
    let next = local_next(q.next.as_deref());
    if viewer.account().is_some() {
        return Redirect::to(&next).into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    let mut page = auth_page(false, csrf, String::new(), None);
    page.next = next;
    (jar, render(page)).into_response()
}

#[derive(Deserialize, Default)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn signup_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    if viewer.account().is_some() {
        return Redirect::to("/").into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    (jar, render(auth_page(true, csrf, String::new(), None))).into_response()
}

#[derive(Deserialize)]
pub struct AuthForm {
    csrf: Option<String>,
    /// "1": keep an account that is scheduled for deletion.
    cancel_deletion: Option<String>,
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    /// Sign-in: where to go after.
    next: Option<String>,
}

fn form_error(st: &AppState, jar: CookieJar, signup: bool, username: String, e: AppError) -> Response {
    form_error_next(st, jar, signup, username, e, String::new())
}

fn form_error_next(st: &AppState, jar: CookieJar, signup: bool, username: String, e: AppError, next: String) -> Response {
    let (jar, csrf) = form_csrf(st, jar);
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let offer_cancel = e.code == ErrorCode::AccountScheduledForDeletion;
    let mut page = auth_page_offering(signup, csrf, username, Some(e.message), offer_cancel);
    page.next = next;
    let mut r = (jar, render(page)).into_response();
    *r.status_mut() = status;
    if let Some(s) = e.retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, s);
    }
    r
}

/// A new session cookie (the browser's old session, if any, is revoked).
async fn start_session(st: &AppState, jar: CookieJar, account: &Id, client: &ClientAddr) -> Result<CookieJar, AppError> {
    let previous = jar.get(SESSION_COOKIE).map(|c| hash_secret(c.value()));
    let (secret, _csrf, ttl_secs) = accounts::start_session(st, account, previous.as_deref(), (&client.key, &client.device)).await?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.https())
        .max_age(cookie::time::Duration::seconds(ttl_secs))
        .build();
    Ok(jar.add(cookie))
}

fn csrf_ok(jar: &CookieJar, form: &AuthForm) -> bool {
    match (jar.get(CSRF_COOKIE), form.csrf.as_deref()) {
        (Some(c), Some(f)) => !f.is_empty() && secret_eq(c.value(), f),
        _ => false,
    }
}

fn csrf_error() -> AppError {
    AppError::forbidden("The form expired. Please try again.")
}

pub async fn login_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, false, username, csrf_error());
    }
    let cancel = f.cancel_deletion.as_deref() == Some("1");
    match accounts::check_credentials(&st, &client.key, f.username.as_deref(), f.password.as_deref(), cancel).await {
        Ok(a) => match start_session(&st, jar, &a.id, &client).await {
            Ok(jar) => (jar, Redirect::to(&local_next(f.next.as_deref()))).into_response(),
            Err(e) => ApiError(e).into_response(),
        },
        Err(e) => form_error_next(&st, jar, false, username, e, local_next(f.next.as_deref())),
    }
}

pub async fn signup_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, true, username, csrf_error());
    }
    let s = accounts::SignUp { username: f.username.clone(), password: f.password.clone(), email: f.email.clone() };
    match accounts::register(&st, &client.key, s).await {
        Ok(a) => match start_session(&st, jar, &a.id, &client).await {
            Ok(jar) => (jar, Redirect::to("/upload")).into_response(),
            Err(e) => ApiError(e).into_response(),
        },
        Err(e) => form_error(&st, jar, true, username, e),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn logout(State(st): State<AppState>, jar: CookieJar, Form(f): Form<LogoutForm>) -> Response {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = hash_secret(c.value());
        if let Ok(Some((_, csrf))) = accounts::authenticate(&st, &hash, TokenKind::Session).await {
            let ok = matches!((csrf.as_deref(), f.csrf.as_deref()), (Some(a), Some(b)) if secret_eq(a, b));
            if !ok {
                return ApiError(csrf_error()).into_response();
            }
            if let Err(e) = accounts::revoke_token(&st, &hash).await {
                return ApiError(e).into_response();
            }
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (jar, Redirect::to("/")).into_response()
}

/// The embedded CSS and JS.
pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "app.css" => (include_str!("../../static/app.css"), "text/css; charset=utf-8"),
        "app.js" => (include_str!("../../static/app.js"), "text/javascript; charset=utf-8"),
        // tus-js-client 4.3.1, MIT licence: static/vendor/tus-js-client.LICENSE.
        "tus.min.js" => (include_str!("../../static/vendor/tus.min.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}
