//! Kinora over HTTP: the router of the JSON API (`api/`, a file per resource),
//! resumable uploads, media bytes, the web UI (`ui/`), and the server itself
//! (timeouts, connection cap). Handlers parse, call one `kinora_app` service and
//! render; nothing here talks to the database.

pub mod api;
pub mod error;
pub mod extract;
pub mod log;
pub mod media;
pub mod ui;

use crate::extract::self_service;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::routing::{delete, get, head, post};
use axum::Router;
use kinora_app::AppState;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Write operations are rate limited per client address and per account.
async fn write_limits(
    axum::extract::State(st): axum::extract::State<AppState>,
    client: crate::extract::ClientAddr,
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
    if let Err(e) = st.limit_writes_from(client.key) {
        return crate::error::ApiError(e).into_response();
    }
    let (mut parts, body) = req.into_parts();
    let viewer = match crate::extract::Viewer::identify(&mut parts, &st).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if let Some(id) = viewer.id() {
        if let Err(e) = st.limit_writes_by(id) {
            return crate::error::ApiError(e).into_response();
        }
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Every route.
pub fn router(state: AppState) -> Router {
    use api::{accounts as a, auth, comments as c, feeds, follow_requests as fr, me, notifications as n, reports, search, tags, uploads as tus, videos as v};
    let upload_limit = usize::try_from(state.config().server.max_upload_bytes).unwrap_or(usize::MAX).saturating_add(1 << 20);
    let avatar_limit = kinora_app::accounts::AVATAR_MAX_BYTES + (64 << 10);
    let api = Router::new()
        .route("/accounts", post(a::create_account))
        .route("/accounts/{username}", get(a::get_account))
        .route("/accounts/{username}/videos", get(a::account_videos))
        .route("/accounts/{username}/follow", post(a::follow).delete(a::unfollow))
        .route("/accounts/{username}/followers", get(a::followers))
        .route("/accounts/{username}/following", get(a::following))
        .route("/accounts/{username}/liked", get(a::liked))
        .route("/accounts/{username}/block", post(a::block).delete(a::unblock))
        .route("/accounts/{username}/mute", post(a::mute).delete(a::unmute))
        .route("/auth/token", self_service(post(auth::create_token)).merge(self_service(delete(auth::revoke_token))))
        .route("/me", get(me::me).patch(me::edit_me).merge(self_service(delete(me::delete_account))))
        .route("/me/analytics", get(me::analytics))
        .route("/me/avatar", post(me::upload_avatar).layer(DefaultBodyLimit::max(avatar_limit)))
        .route("/me/password", self_service(post(me::change_password)))
        .route("/me/sessions", self_service(delete(me::sign_out_everywhere)))
        .route("/me/exports", self_service(post(api::exports::create)))
        .route("/me/imports", post(api::imports::create).layer(DefaultBodyLimit::disable()))
        .route("/me/exports/{id}", get(api::exports::get))
        .route("/me/exports/{id}/download", get(api::exports::download))
        .route("/videos", post(v::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/videos/{id}", get(v::get).delete(v::delete).patch(v::edit))
        .route("/videos/{id}/like", post(v::like).delete(v::unlike))
        .route("/videos/{id}/not-interested", post(v::not_interested).delete(v::interested))
        .route("/videos/{id}/likes", get(v::likers))
        .route("/videos/{id}/share", post(v::share))
        .route("/videos/{id}/views", post(v::record_view))
        .route("/videos/{id}/comments", get(c::list).post(c::create))
        .route("/comments/{id}", delete(c::delete))
        .route("/comments/{id}/like", post(c::like).delete(c::unlike))
        .route("/uploads", post(tus::create).options(tus::options))
        .route("/uploads/{id}", head(tus::head).patch(tus::patch).delete(tus::terminate))
        .route("/feed/for-you", get(feeds::for_you))
        .route("/feed/following", get(feeds::following))
        .route("/follow-requests", get(fr::list))
        .route("/follow-requests/{username}/accept", post(fr::accept))
        .route("/follow-requests/{username}/reject", post(fr::reject))
        .route("/tags/trending", get(tags::trending))
        .route("/tags/{tag}/videos", get(tags::videos))
        .route("/tags/{tag}/follow", post(tags::follow).delete(tags::unfollow))
        .route("/search", get(search::search))
        .route("/notifications", get(n::list))
        .route("/notifications/read", self_service(post(n::mark_read)))
        .route("/reports", post(reports::create))
        .route("/staff/access", post(api::staff::access))
        .route("/staff/reports", get(api::moderation::list))
        .route("/staff/reports/{id}", get(api::moderation::get))
        .route("/staff/reports/{id}/open", post(api::moderation::open))
        .route("/staff/actions", post(api::moderation::act))
        .route("/moderation/{id}/appeal", self_service(post(api::moderation::appeal)))
        .route("/me/access-log", get(api::staff::my_access_log))
        .route("/instance/residency", get(api::residency))
        .fallback(api::api_not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), write_limits));
    Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(api::openapi))
        .route("/healthz", get(api::healthz))
        .route("/log/checkpoint", get(log::checkpoint))
        .route("/log/key", get(log::key))
        .route("/log/tile/{*path}", get(log::tile))
        .route("/media/{video}/{name}", get(media::serve).head(media::serve))
        .route("/avatars/{account}/{name}", get(media::serve_avatar))
        .route("/static/{file}", get(ui::static_file))
        .route("/", get(ui::for_you))
        .route("/following", get(ui::following))
        .route("/feed/{kind}/cards", get(ui::feed_cards))
        .route("/upload", get(ui::upload))
        .route("/about/data", get(ui::about_data))
        .route("/transparency", get(ui::transparency))
        .route("/admin", get(ui::admin::admin_queue))
        .route("/admin/reports/{id}", get(ui::admin::admin_report))
        .route("/search", get(ui::search_page))
        .route("/tags/{tag}", get(ui::tag_page))
        .route("/inbox", get(ui::inbox))
        .route("/settings", get(ui::settings))
        .route("/settings/access", get(ui::access_log))
        .route("/login", get(ui::login_page).post(ui::login_submit))
        .route("/signup", get(ui::signup_page).post(ui::signup_submit))
        .route("/logout", post(ui::logout))
        .route("/v/{id}", get(ui::video_page))
        .route("/{handle}", get(ui::profile))
        .fallback(ui::not_found)
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // Nothing from third parties, no inline script, no framing by other sites.
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // One span per request: its id, method, path (never the query: it may carry a
        // media grant) and, once known, the account; every log line of the request,
        // services' included, carries them.
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path(), account = tracing::field::Empty)
        }))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// The request id header, on the request (for the span) and the response.
pub const REQUEST_ID: &str = "x-request-id";

/// Every request carries an id: the client's `X-Request-Id` when it is a short
/// token (letters, digits, `-`, `_`; a proxy's, say), else a new one. It is sent
/// back, so a person reporting a problem can quote it.
async fn request_id(mut req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let given = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| kinora_core::Id::generate().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(REQUEST_ID, value);
    resp
}

/// The HTTP server: hyper's HTTP/1 with a header-read timeout (which also closes
/// idle kept-alive connections), a body timeout between chunks, and a cap on open
/// connections, so slow or stalled clients cannot hold the server (slowloris).
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router, cfg: &kinora_app::config::Server) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections.max(1)));
    let header_timeout = std::time::Duration::from_secs(cfg.header_timeout_secs.max(1));
    let body_timeout = std::time::Duration::from_secs(cfg.body_timeout_secs.max(1));
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = stream.set_nodelay(true);
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(|b| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(body_timeout, b)));
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                let mut r = router.clone();
                async move { tower::Service::call(&mut r, req).await }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
        });
    }
    Ok(())
}
