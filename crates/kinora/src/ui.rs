//! Server-rendered pages (askama) with small vanilla JS; no build step.

use crate::api::{check_credentials, encode_cursor, register, relation, Credentials, SignUp};
use crate::app::AppState;
use crate::auth::{self, secret_eq, ClientAddr, Viewer, CSRF_COOKIE, SESSION_COOKIE};
use crate::error::ApiError;
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use kinora_core::policy::can_view_video;
use kinora_core::{Id, VideoStatus};
use kinora_db::{AccountRepo, TokenKind, TokenRepo, VideoRepo, VideoRow};
use serde::Deserialize;

/// What every page's layout needs.
pub struct Layout {
    pub csrf: Option<String>,
    pub username: Option<String>,
    pub tab: &'static str,
}

impl Layout {
    fn new(v: &Viewer, tab: &'static str) -> Layout {
        Layout {
            csrf: v.csrf().map(str::to_owned),
            username: v.account.as_ref().map(|a| a.username.to_string()),
            tab,
        }
    }
}

/// One video in a vertical feed.
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
}

#[derive(Template)]
#[template(path = "feed.html")]
struct FeedPage {
    layout: Layout,
    title: &'static str,
    feed: &'static str,
    next: String,
    cards: Vec<Card>,
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

/// A grid tile for a ready video, with its small preview.
async fn tile(st: &AppState, v: &VideoRow) -> Result<Tile, ApiError> {
    let preview = if v.status == VideoStatus::Ready {
        st.db
            .media_objects(&v.id)
            .await?
            .into_iter()
            .find(|o| o.name.starts_with("preview-"))
            .map(|o| format!("/media/{}/{}", v.id, o.name))
    } else {
        None
    };
    Ok(Tile {
        id: v.id.to_string(),
        poster: preview,
        caption: v.caption.as_str().chars().take(100).collect(),
        status: v.status.as_str(),
        visibility: v.visibility.as_str(),
    })
}

pub struct Tile {
    pub id: String,
    pub poster: Option<String>,
    pub caption: String,
    pub status: &'static str,
    pub visibility: &'static str,
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
    heading: &'static str,
    action: &'static str,
    signup: bool,
    csrf: String,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "notfound.html")]
struct NotFoundPage {
    layout: Layout,
}

/// Pages differ per viewer and carry CSRF tokens: no cache may keep them.
fn render(t: impl Template) -> Response {
    match t.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

async fn cards(st: &AppState, viewer: &Viewer, rows: &[VideoRow]) -> Result<Vec<Card>, ApiError> {
    let mut out = Vec::new();
    for v in rows {
        let objects = st.db.media_objects(&v.id).await?;
        let videos: Vec<_> = objects.iter().filter(|o| o.mime == "video/mp4").collect();
        // The default (and the one link previews get): the best rendition up to 720p.
        let src = videos.iter().find(|o| o.width.min(o.height) <= 720).or(videos.last());
        let (Some(src), Some(poster)) = (src, objects.iter().find(|o| o.name.starts_with("poster-"))) else {
            continue;
        };
        let sources = serde_json::Value::Array(
            videos
                .iter()
                .map(|o| serde_json::json!({"url": format!("/media/{}/{}", v.id, o.name), "width": o.width, "height": o.height, "bitrate": o.bitrate}))
                .collect(),
        )
        .to_string();
        out.push(Card {
            id: v.id.to_string(),
            username: v.username.to_string(),
            caption: v.caption.as_str().to_owned(),
            poster: format!("/media/{}/{}", v.id, poster.name),
            src: format!("/media/{}/{}", v.id, src.name),
            width: src.width,
            height: src.height,
            first: out.is_empty(),
            sources,
            likes: v.likes,
            comments: v.comments,
            liked: match viewer.id() {
                Some(me) => st.db.liked(me, &v.id).await?,
                None => false,
            },
            duration_ms: v.duration_ms.unwrap_or(0),
        });
    }
    Ok(out)
}

const PAGE: i64 = 8;

/// A feed page's fixed texts.
struct FeedKind {
    tab: &'static str,
    title: &'static str,
    feed: &'static str,
    empty: [&'static str; 4],
}

/// Renders the first page of a vertical feed; JS loads the rest from the API.
async fn feed_page(
    st: &AppState,
    viewer: &Viewer,
    kind: FeedKind,
    rows: Result<Vec<VideoRow>, kinora_db::DbError>,
    key: fn(&VideoRow) -> i64,
) -> Response {
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let next = if rows.len() as i64 == PAGE { rows.last().map(|r| encode_cursor(key(r), &r.id)) } else { None };
    let cards = match cards(st, viewer, &rows).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let [empty_title, empty_text, empty_link, empty_action] = kind.empty;
    render(FeedPage {
        layout: Layout::new(viewer, kind.tab),
        title: kind.title,
        feed: kind.feed,
        next: next.unwrap_or_default(),
        cards,
        empty_title,
        empty_text,
        empty_link,
        empty_action,
    })
}

pub async fn for_you(State(st): State<AppState>, viewer: Viewer) -> Response {
    let rows = st.db.for_you(viewer.id(), None, PAGE).await;
    let kind = FeedKind {
        tab: "home",
        title: "For You",
        feed: "for-you",
        empty: ["Nothing to watch yet", "Be the first: post a video and it will show up here.", "/upload", "Upload a video"],
    };
    feed_page(&st, &viewer, kind, rows, |r| r.feed_score).await
}

pub async fn following(State(st): State<AppState>, viewer: Viewer) -> Response {
    let Some(me) = viewer.account.as_ref() else { return Redirect::to("/login").into_response() };
    let rows = st.db.following_feed(&me.id, None, PAGE).await;
    let kind = FeedKind {
        tab: "following",
        title: "Following",
        feed: "following",
        empty: [
            "No videos from people you follow",
            "Follow creators and hashtags you like and their new videos land here.",
            "/",
            "Find creators on For You",
        ],
    };
    feed_page(&st, &viewer, kind, rows, |r| r.created_at).await
}

pub async fn video_page(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let v = match crate::api::visible_video(&st, &viewer, &id).await {
        Ok(v) if v.status == VideoStatus::Ready => v,
        Ok(v) => {
            // The owner sees progress on their own unready video.
            let layout = Layout::new(&viewer, "me");
            let msg = match v.status {
                VideoStatus::Failed => format!(
                    "This video could not be processed: {}",
                    v.error_message.as_deref().unwrap_or("unknown error")
                ),
                _ => "This video is still processing. This page refreshes when it is ready.".to_owned(),
            };
            let html = format!(
                "<!doctype html><meta name=viewport content='width=device-width'><meta http-equiv=refresh content=3>\
                 <link rel=stylesheet href=/static/app.css><main class='page narrow empty light'><h1>{}</h1><p><a href='/@{}'>Back to your profile</a></p></main>",
                askama_escape(&msg),
                layout.username.unwrap_or_default()
            );
            return Html(html).into_response();
        }
        Err(_) => return not_found_page(&viewer),
    };
    let cs = match cards(&st, &viewer, std::slice::from_ref(&v)).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(c) = cs.into_iter().next() else { return not_found_page(&viewer) };
    let title = {
        let t: String = c.caption.lines().next().unwrap_or("").chars().take(80).collect();
        if t.is_empty() { "a video on Kinora".to_owned() } else { t }
    };
    let base = &st.base_url;
    let owner_edit = (viewer.id() == Some(&v.account_id))
        .then(|| (v.caption.as_str().to_owned(), v.visibility.as_str().to_owned(), v.comments_setting.clone()));
    let page = VideoPage {
        layout: Layout::new(&viewer, "home"),
        owner_edit,
        title,
        page_url: format!("{base}/v/{}", c.id),
        abs_src: format!("{base}{}", c.src),
        abs_poster: format!("{base}{}", c.poster),
        cards: vec![Card { first: true, ..clone_card(&c) }],
        c,
    };
    render(page)
}

fn clone_card(c: &Card) -> Card {
    Card {
        id: c.id.clone(),
        username: c.username.clone(),
        caption: c.caption.clone(),
        poster: c.poster.clone(),
        src: c.src.clone(),
        width: c.width,
        height: c.height,
        first: c.first,
        sources: c.sources.clone(),
        likes: c.likes,
        comments: c.comments,
        liked: c.liked,
        duration_ms: c.duration_ms,
    }
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub async fn profile(State(st): State<AppState>, viewer: Viewer, Path(handle): Path<String>) -> Response {
    let Some(name) = handle.strip_prefix('@') else { return not_found_page(&viewer) };
    let a = match crate::api::visible_account(&st, &viewer, name).await {
        Ok((a, _)) => a,
        Err(e) if e.code == kinora_core::ErrorCode::NotFound => return not_found_page(&viewer),
        Err(e) => return e.into_response(),
    };
    let result = async {
        let (followers, following) = st.db.account_counts(&a.id).await?;
        let videos = st.db.visible_count(&a.id, viewer.id()).await?;
        let rows = st.db.account_videos(&a.id, viewer.id(), None, 60).await?;
        let rel = relation(&st, &viewer, &a.id).await?;
        let mut tiles = Vec::new();
        for v in rows.iter().filter(|v| can_view_video(rel, v.visibility, v.account_private, v.status)) {
            tiles.push(tile(&st, v).await?);
        }
        let mut liked = Vec::new();
        let likes_visible = kinora_core::policy::can_see_likes(rel, a.likes_public, a.private);
        if likes_visible {
            for (v, _) in st.db.liked_videos(&a.id, viewer.id(), None, 60).await? {
                liked.push(tile(&st, &v).await?);
            }
        }
        let follow = match viewer.id() {
            Some(me) if me != &a.id => match st.db.relation_flags(me, &a.id).await?.0.as_deref() {
                Some("accepted") => "following",
                Some("requested") => "requested",
                _ => "none",
            },
            _ => "",
        };
        Ok::<_, ApiError>((followers, following, videos, tiles, liked, follow.to_owned(), likes_visible))
    }
    .await;
    let (followers, following, videos, tiles, liked, follow, show_liked) = match result {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let is_me = viewer.id() == Some(&a.id);
    let display_name = if a.display_name.is_empty() { a.username.to_string() } else { a.display_name.clone() };
    render(ProfilePage {
        layout: Layout::new(&viewer, if is_me { "me" } else { "" }),
        initial: display_name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
        username: a.username.to_string(),
        display_name,
        bio: a.bio.clone(),
        followers,
        following,
        videos,
        tiles,
        liked,
        show_liked,
        likes_public: a.likes_public,
        is_me,
        logout_csrf: viewer.csrf().unwrap_or("").to_owned(),
        follow,
        signed_in: viewer.account.is_some(),
        private: a.private,
        avatar: crate::social::avatar_url(&a),
    })
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
}

#[derive(Deserialize)]
pub struct SearchParams {
    q: Option<String>,
}

pub async fn search_page(viewer: Viewer, axum::extract::Query(p): axum::extract::Query<SearchParams>) -> Response {
    render(SearchPage { layout: Layout::new(&viewer, "search"), q: p.q.unwrap_or_default().chars().take(100).collect() })
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

pub async fn tag_page(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> Response {
    let Some(tag) = kinora_core::text::parse_tag(&tag) else { return not_found_page(&viewer) };
    let result = async {
        let rows = st.db.tag_videos(&tag, viewer.id(), None, 60).await?;
        let mut tiles = Vec::new();
        for v in &rows {
            tiles.push(tile(&st, v).await?);
        }
        let following = match viewer.id() {
            Some(me) => st.db.follows_tag(me, &tag).await?,
            None => false,
        };
        Ok::<_, ApiError>((tiles, following))
    }
    .await;
    match result {
        Ok((tiles, following)) => render(TagPage { layout: Layout::new(&viewer, "search"), tag, tiles, following, signed_in: viewer.account.is_some() }),
        Err(e) => e.into_response(),
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
}

pub async fn inbox(viewer: Viewer) -> Response {
    if viewer.account.is_none() {
        return Redirect::to("/login").into_response();
    }
    render(InboxPage { layout: Layout::new(&viewer, "inbox") })
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    display_name: String,
    bio: String,
    private: bool,
    likes_public: bool,
}

pub async fn settings(viewer: Viewer) -> Response {
    let Some(a) = viewer.account.as_ref() else { return Redirect::to("/login").into_response() };
    render(SettingsPage {
        layout: Layout::new(&viewer, "me"),
        display_name: a.display_name.clone(),
        bio: a.bio.clone(),
        private: a.private,
        likes_public: a.likes_public,
    })
}

pub async fn upload(viewer: Viewer) -> Response {
    if viewer.account.is_none() {
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

/// The pre-session CSRF token (double-submit cookie) for the sign-in and sign-up forms.
fn form_csrf(st: &AppState, jar: CookieJar) -> (CookieJar, String) {
    if let Some(c) = jar.get(CSRF_COOKIE) {
        let v = c.value().to_owned();
        if v.len() >= 32 {
            return (jar, v);
        }
    }
    let (secret, _) = auth::new_secret();
    let cookie = Cookie::build((CSRF_COOKIE, secret.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(st.base_url.starts_with("https://"))
        .build();
    (jar.add(cookie), secret)
}

fn auth_page(viewer: &Viewer, signup: bool, csrf: String, username: String, error: Option<String>) -> AuthPage {
    AuthPage {
        layout: Layout::new(viewer, "login"),
        heading: if signup { "Create your account" } else { "Sign in" },
        action: if signup { "/signup" } else { "/login" },
        signup,
        csrf,
        username,
        error,
    }
}

/// Signed in already: the sign-in and sign-up pages send you home.
pub async fn login_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    if viewer.account.is_some() {
        return Redirect::to("/").into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    (jar, render(auth_page(&viewer, false, csrf, String::new(), None))).into_response()
}

pub async fn signup_page(State(st): State<AppState>, viewer: Viewer, jar: CookieJar) -> Response {
    if viewer.account.is_some() {
        return Redirect::to("/").into_response();
    }
    let (jar, csrf) = form_csrf(&st, jar);
    (jar, render(auth_page(&viewer, true, csrf, String::new(), None))).into_response()
}

/// The form posts are protected by their own double-submit token, not the session
/// (a signed-in person may submit a sign-in form opened in another tab), so they
/// render as for a signed-out visitor.
fn anonymous() -> Viewer {
    Viewer { account: None, via: auth::AuthVia::None }
}

#[derive(Deserialize)]
pub struct AuthForm {
    csrf: Option<String>,
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
}

fn form_error(st: &AppState, jar: CookieJar, signup: bool, username: String, e: ApiError) -> Response {
    let (jar, csrf) = form_csrf(st, jar);
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = (jar, render(auth_page(&anonymous(), signup, csrf, username, Some(e.message)))).into_response();
    *r.status_mut() = status;
    if let Some(s) = e.retry_after {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

/// A new session (the one the browser had, if any, is revoked: sessions are not
/// fixed across sign-ins).
async fn start_session(st: &AppState, jar: CookieJar, account: &Id) -> Result<CookieJar, ApiError> {
    if let Some(old) = jar.get(SESSION_COOKIE) {
        st.db.revoke_token(&auth::hash_secret(old.value())).await?;
    }
    let (secret, hash) = auth::new_secret();
    let (csrf, _) = auth::new_secret();
    let ttl_ms = st.config.auth.session_days.max(1) * 86_400_000;
    st.db.create_token(&hash, account, TokenKind::Session, Some(&csrf), Some(kinora_db::now_ms() + ttl_ms)).await?;
    let cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.base_url.starts_with("https://"))
        .max_age(time_secs(ttl_ms / 1000))
        .build();
    Ok(jar.add(cookie))
}

fn time_secs(s: i64) -> cookie::time::Duration {
    cookie::time::Duration::seconds(s)
}

fn csrf_ok(jar: &CookieJar, form: &AuthForm) -> bool {
    match (jar.get(CSRF_COOKIE), form.csrf.as_deref()) {
        (Some(c), Some(f)) => !f.is_empty() && secret_eq(c.value(), f),
        _ => false,
    }
}

fn csrf_error() -> ApiError {
    ApiError::new(kinora_core::ErrorCode::Forbidden, "The form expired. Please try again.")
}

pub async fn login_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, false, username, csrf_error());
    }
    let creds = Credentials { username: f.username.clone(), password: f.password.clone() };
    match check_credentials(&st, &client, &creds).await {
        Ok(a) => match start_session(&st, jar, &a.id).await {
            Ok(jar) => (jar, Redirect::to("/")).into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => form_error(&st, jar, false, username, e),
    }
}

pub async fn signup_submit(State(st): State<AppState>, client: ClientAddr, jar: CookieJar, Form(f): Form<AuthForm>) -> Response {
    let username: String = f.username.clone().unwrap_or_default().chars().take(30).collect();
    if !csrf_ok(&jar, &f) {
        return form_error(&st, jar, true, username, csrf_error());
    }
    let s = SignUp { username: f.username.clone(), password: f.password.clone(), email: f.email.clone() };
    match register(&st, &client, s).await {
        Ok(a) => match start_session(&st, jar, &a.id).await {
            Ok(jar) => (jar, Redirect::to("/upload")).into_response(),
            Err(e) => e.into_response(),
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
        let hash = auth::hash_secret(c.value());
        if let Ok(Some(row)) = st.db.find_token(&hash, TokenKind::Session).await {
            let ok = matches!((row.csrf.as_deref(), f.csrf.as_deref()), (Some(a), Some(b)) if secret_eq(a, b));
            if !ok {
                return csrf_error().into_response();
            }
            if let Err(e) = st.db.revoke_token(&hash).await {
                return ApiError::from(e).into_response();
            }
        }
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/").build());
    (jar, Redirect::to("/")).into_response()
}

/// The embedded CSS and JS.
pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, mime) = match file.as_str() {
        "app.css" => (include_str!("../static/app.css"), "text/css; charset=utf-8"),
        "app.js" => (include_str!("../static/app.js"), "text/javascript; charset=utf-8"),
        // tus-js-client 4.3.1, MIT licence: static/vendor/tus-js-client.LICENSE.
        "tus.min.js" => (include_str!("../static/vendor/tus.min.js"), "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    (
        [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=300")],
        body,
    )
        .into_response()
}
