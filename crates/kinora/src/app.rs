//! Shared state and the router.

use crate::config::Config;
use crate::storage::Regions;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kinora_db::Db;
use kinora_media::Tools;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::Notify;
use tower_http::set_header::SetResponseHeaderLayer;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub regions: Regions,
    pub config: Arc<Config>,
    pub tools: Tools,
    /// Wakes a worker when a job is enqueued.
    pub wake: Arc<Notify>,
    pub limiters: Arc<Limiters>,
    /// Absolute base URL, no trailing slash.
    pub base_url: String,
    /// A real argon2 hash, verified against when the username is unknown so both
    /// failures take the same time.
    pub dummy_hash: Arc<String>,
    /// ffmpeg/ffprobe run in an empty network namespace (checked at start).
    pub isolate_network: bool,
    /// ffmpeg/ffprobe run as this user (nobody) when the server runs as root.
    pub sandbox_user: Option<(u32, u32)>,
    /// Resumable uploads with a request in flight on this node.
    pub busy_uploads: Arc<crate::tus::Busy>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub proxies: Arc<kinora_core::net::TrustedProxies>,
    /// Bounded argon2 work.
    pub passwords: Arc<crate::auth::Passwords>,
    /// Profile-picture transcodes running at once (they run inside requests).
    pub avatar_slots: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    pub fn data_dir(&self) -> &PathBuf {
        &self.config.server.data
    }

    /// A scratch directory for one subprocess job, writable by the sandbox user.
    pub async fn scratch_dir(&self, name: &str) -> std::io::Result<PathBuf> {
        let dir = self.data_dir().join("work").join(name);
        let _ = tokio::fs::remove_dir_all(&dir).await;
        tokio::fs::create_dir_all(&dir).await?;
        if let Some((uid, gid)) = self.sandbox_user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        }
        Ok(dir)
    }
}

/// Per-key rate limiters (GCRA, in memory, per process).
pub struct Limiters {
    /// Per client address and username.
    pub signin: DefaultKeyedRateLimiter<String>,
    /// Per client address, whatever the username.
    pub signin_addr: DefaultKeyedRateLimiter<String>,
    pub signup: DefaultKeyedRateLimiter<String>,
    pub upload: DefaultKeyedRateLimiter<String>,
    pub writes_ip: DefaultKeyedRateLimiter<String>,
    pub writes_account: DefaultKeyedRateLimiter<String>,
    /// Upload volume per account, in MiB (multipart and resumable together).
    pub upload_mib: DefaultKeyedRateLimiter<String>,
    /// View events that count, per (viewer or address, video).
    pub views: DefaultKeyedRateLimiter<String>,
}

impl Limiters {
    pub fn new(c: &crate::config::RateLimits, u: &crate::config::Uploads) -> Limiters {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        Limiters {
            signin: RateLimiter::keyed(Quota::per_minute(nz(c.signin_per_minute))),
            signin_addr: RateLimiter::keyed(Quota::per_minute(nz(c.signin_per_minute_per_address))),
            signup: RateLimiter::keyed(Quota::per_hour(nz(c.signup_per_hour)).allow_burst(nz(c.signup_per_hour))),
            upload: RateLimiter::keyed(Quota::per_hour(nz(c.uploads_per_hour)).allow_burst(nz(c.uploads_per_hour))),
            writes_ip: RateLimiter::keyed(Quota::per_minute(nz(c.writes_per_minute_per_ip))),
            writes_account: RateLimiter::keyed(Quota::per_minute(nz(c.writes_per_minute_per_account))),
            upload_mib: {
                let mib = u32::try_from((u.bytes_per_hour.max(1) + (1 << 20) - 1) >> 20).unwrap_or(u32::MAX);
                RateLimiter::keyed(Quota::per_hour(nz(mib)).allow_burst(nz(mib)))
            },
            // One view per viewer and video every 10 minutes counts; replays in
            // between are not new views (and scripts cannot inflate counts).
            views: RateLimiter::keyed(Quota::with_period(std::time::Duration::from_secs(600)).unwrap_or(Quota::per_hour(nz(6)))),
        }
    }

    /// Charges `bytes` of upload volume to `account`; `Err(seconds)` when over.
    pub fn charge_upload(&self, account: &kinora_core::Id, bytes: u64) -> Result<(), u64> {
        let mib = u32::try_from(bytes.div_ceil(1 << 20).max(1)).unwrap_or(u32::MAX);
        let n = NonZeroU32::new(mib).unwrap_or(NonZeroU32::MIN);
        match self.upload_mib.check_key_n(&account.to_string(), n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(nu)) => Err(nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1)),
            // More than a whole hour's volume in one upload.
            Err(_) => Err(3600),
        }
    }

    /// `Err(seconds to wait)` when `key` is over its limit.
    pub fn check(limiter: &DefaultKeyedRateLimiter<String>, key: String) -> Result<(), u64> {
        limiter.check_key(&key).map_err(|nu| {
            let wait = nu.wait_time_from(DefaultClock::default().now());
            wait.as_secs().max(1)
        })
    }

    pub fn forget_idle(&self) {
        self.signin.retain_recent();
        self.signin_addr.retain_recent();
        self.signup.retain_recent();
        self.upload.retain_recent();
        self.writes_ip.retain_recent();
        self.writes_account.retain_recent();
        self.upload_mib.retain_recent();
        self.views.retain_recent();
    }
}

/// Write operations are rate limited per client address and per account.
async fn write_limits(
    axum::extract::State(st): axum::extract::State<AppState>,
    client: crate::auth::ClientAddr,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS) {
        return next.run(req).await;
    }
    // The chunks of a resumable upload that was already admitted are not writes to
    // limit: creations are (uploads per hour, bytes per hour, quotas). A real tus
    // client sends hundreds of PATCHes for one phone video and does not retry a 4xx.
    // (Nested under /api/v1, the path here is relative to it.)
    if *req.method() == axum::http::Method::PATCH && req.uri().path().starts_with("/uploads/") {
        return next.run(req).await;
    }
    if let Err(secs) = Limiters::check(&st.limiters.writes_ip, client.key) {
        return crate::error::ApiError::rate_limited(secs).into_response();
    }
    let (mut parts, body) = req.into_parts();
    let viewer = match <crate::auth::Viewer as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &st).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if let Some(id) = viewer.id() {
        if let Err(secs) = Limiters::check(&st.limiters.writes_account, id.to_string()) {
            return crate::error::ApiError::rate_limited(secs).into_response();
        }
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    use crate::social as s;
    let upload_limit = usize::try_from(state.config.server.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20);
    let api = Router::new()
        .route("/accounts", post(crate::api::create_account))
        .route("/accounts/{username}", get(crate::api::get_account))
        .route("/accounts/{username}/videos", get(crate::api::account_videos))
        .route("/auth/token", post(crate::api::create_token).delete(crate::api::revoke_token))
        .route("/me", get(crate::api::me).patch(s::edit_me))
        .route(
            "/videos",
            post(crate::api::upload_video).layer(DefaultBodyLimit::max(upload_limit)),
        )
        .route("/videos/{id}", get(crate::api::get_video).delete(crate::api::delete_video).patch(s::edit_video))
        .route("/uploads", post(crate::tus::create).options(crate::tus::options))
        .route(
            "/uploads/{id}",
            axum::routing::head(crate::tus::head).patch(crate::tus::patch).delete(crate::tus::terminate),
        )
        .route("/feed/for-you", get(crate::api::for_you))
        .route("/feed/following", get(crate::api::following_feed))
        .route("/accounts/{username}/follow", post(s::follow).delete(s::unfollow))
        .route("/accounts/{username}/followers", get(s::followers))
        .route("/accounts/{username}/liked", get(s::liked))
        .route("/accounts/{username}/following", get(s::following))
        .route("/accounts/{username}/block", post(s::block).delete(s::unblock))
        .route("/accounts/{username}/mute", post(s::mute).delete(s::unmute))
        .route("/follow-requests", get(s::follow_requests))
        .route("/follow-requests/{username}/accept", post(s::accept_request))
        .route("/follow-requests/{username}/reject", post(s::reject_request))
        .route("/me/analytics", get(s::analytics))
        .route("/me/avatar", post(s::upload_avatar).layer(DefaultBodyLimit::max(crate::social::AVATAR_MAX_BYTES + (64 << 10))))
        .route("/me/password", post(crate::api::change_password))
        .route("/me/sessions", axum::routing::delete(crate::api::sign_out_everywhere))
        .route("/videos/{id}/like", post(s::like).delete(s::unlike))
        .route("/videos/{id}/likes", get(s::likers))
        .route("/videos/{id}/share", post(s::share))
        .route("/videos/{id}/views", post(s::record_view))
        .route("/videos/{id}/comments", get(s::list_comments).post(s::add_comment))
        .route("/comments/{id}", axum::routing::delete(s::delete_comment))
        .route("/comments/{id}/like", post(s::like_comment).delete(s::unlike_comment))
        .route("/tags/trending", get(s::trending))
        .route("/tags/{tag}/videos", get(s::tag_videos))
        .route("/tags/{tag}/follow", post(s::follow_tag).delete(s::unfollow_tag))
        .route("/search", get(s::search))
        .route("/notifications", get(s::notifications))
        .route("/notifications/read", post(s::mark_read))
        .route("/reports", post(s::report))
        .fallback(crate::api::api_not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), write_limits));
    Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(crate::api::openapi))
        .route("/healthz", get(crate::api::healthz))
        .route("/media/{video}/{name}", get(crate::media::serve).head(crate::media::serve))
        .route("/avatars/{account}/{name}", get(crate::social::serve_avatar))
        .route("/static/{file}", get(crate::ui::static_file))
        .route("/", get(crate::ui::for_you))
        .route("/following", get(crate::ui::following))
        .route("/upload", get(crate::ui::upload))
        .route("/search", get(crate::ui::search_page))
        .route("/tags/{tag}", get(crate::ui::tag_page))
        .route("/inbox", get(crate::ui::inbox))
        .route("/settings", get(crate::ui::settings))
        .route("/login", get(crate::ui::login_page).post(crate::ui::login_submit))
        .route("/signup", get(crate::ui::signup_page).post(crate::ui::signup_submit))
        .route("/logout", post(crate::ui::logout))
        .route("/v/{id}", get(crate::ui::video_page))
        .route("/{handle}", get(crate::ui::profile))
        .fallback(crate::ui::not_found)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // Nothing from third parties, no inline script, no framing by other sites.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
