//! Parsing at the edge: who is calling ([`Viewer`]: Bearer token or session
//! cookie, with CSRF protection for cookie-authenticated writes), from where
//! ([`ClientAddr`]), and query strings and JSON bodies whose rejections answer
//! in the API's error shape.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::{request::Parts, Method};
use axum_extra::extract::cookie::CookieJar;
use kinora_app::auth::{hash_secret, secret_eq};
use kinora_app::data::TokenKind;
use kinora_app::{accounts, AppError, AppState, Caller};
use kinora_core::ErrorCode;
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "kinora_session";
pub const CSRF_COOKIE: &str = "kinora_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The client's address as rate limits see it: the TCP peer, or the client behind
/// a trusted reverse proxy (`server.trusted_proxies`), keyed by IPv4 address or
/// IPv6 /64.
#[derive(Debug, Clone)]
pub struct ClientAddr {
    /// IPv4 address or IPv6 /64, as text.
    pub key: String,
    /// The User-Agent, printable ASCII only, at most 200 characters: the "device"
    /// a session shows its owner (and staff, through the door).
    pub device: String,
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| ApiError::internal("no peer address on the request"))?;
        let xff: Vec<&str> = parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let ip = state.client_ip(peer, &xff);
        let device: String = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .filter(|c| (' '..='~').contains(c))
            .take(200)
            .collect();
        Ok(ClientAddr { key: kinora_core::net::limit_key(ip), device })
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum AuthVia {
    None,
    Bearer { token_hash: String },
    Session { token_hash: String, csrf: String },
}

/// The caller, maybe signed in, and how.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub caller: Caller,
    pub via: AuthVia,
}

impl Viewer {
    pub fn anonymous() -> Viewer {
        Viewer { caller: Caller::default(), via: AuthVia::None }
    }

    pub fn id(&self) -> Option<&kinora_core::Id> {
        self.caller.id()
    }

    pub fn account(&self) -> Option<&kinora_app::data::AccountRow> {
        self.caller.account.as_ref()
    }

    /// The hash of the token or session this request used.
    pub fn token_hash(&self) -> Option<&str> {
        match &self.via {
            AuthVia::Bearer { token_hash } | AuthVia::Session { token_hash, .. } => Some(token_hash),
            AuthVia::None => None,
        }
    }

    /// The CSRF token pages embed for this viewer's writes, if signed in by cookie.
    pub fn csrf(&self) -> Option<&str> {
        match &self.via {
            AuthVia::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    /// Who is calling, and whether their standing allows what the route does.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::identify(parts, state).await?;
        if let Some(account) = viewer.account() {
            check_standing(parts, account)?;
        }
        Ok(viewer)
    }
}

impl Viewer {
    /// Who is calling (cached on the request), without the standing check: for
    /// middleware, which runs before the route says what it does.
    pub async fn identify(parts: &mut Parts, state: &AppState) -> Result<Viewer, ApiError> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        let viewer = resolve(parts, state).await?;
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// What a route does, as the standing rule sees it
/// ([`kinora_core::policy::Action`]); routes say so in the router with
/// [`self_service`]. Without one: reading for safe methods, writing otherwise.
#[derive(Debug, Clone, Copy)]
pub struct RouteAction(pub kinora_core::policy::Action);

/// Marks a route as the account looking after itself or its own case (appeal,
/// mark notifications read, download its data, change its password, sign out,
/// delete itself): a suspended account may still do it.
pub fn self_service(route: axum::routing::MethodRouter<AppState>) -> axum::routing::MethodRouter<AppState> {
    route.layer(axum::Extension(RouteAction(kinora_core::policy::Action::SelfService)))
}

/// The request as an [`Action`](kinora_core::policy::Action) for the standing rule.
fn action_of(parts: &Parts) -> kinora_core::policy::Action {
    use kinora_core::policy::Action;
    match parts.extensions.get::<RouteAction>() {
        Some(RouteAction(a)) => *a,
        None if is_safe(&parts.method) => Action::Read,
        None => Action::Write,
    }
}

/// What the account's standing does not allow ([`kinora_core::policy::standing_may`])
/// is refused with `account-suspended`.
fn check_standing(parts: &Parts, account: &kinora_app::data::AccountRow) -> Result<(), ApiError> {
    if !kinora_core::policy::standing_may(account.standing, action_of(parts)) {
        return Err(ApiError(AppError::new(
            ErrorCode::AccountSuspended,
            "your account is suspended: you can still read, appeal the decision (see your notifications), download your data or delete the account",
        )));
    }
    Ok(())
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Viewer, ApiError> {
    if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|s| s.strip_prefix("Bearer ").or_else(|| s.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(AppError::unauthorized)?;
        let hash = hash_secret(token);
        let (account, _) = accounts::authenticate(state, &hash, TokenKind::Api).await?.ok_or_else(AppError::unauthorized)?;
        tracing::Span::current().record("account", tracing::field::display(&account.id));
        return Ok(Viewer { caller: Caller { account: Some(account) }, via: AuthVia::Bearer { token_hash: hash } });
    }
    let jar = CookieJar::from_headers(&parts.headers);
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = hash_secret(c.value());
        if let Some((account, csrf)) = accounts::authenticate(state, &hash, TokenKind::Session).await? {
            tracing::Span::current().record("account", tracing::field::display(&account.id));
            let csrf = csrf.unwrap_or_default();
            if !is_safe(&parts.method) {
                let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                if csrf.is_empty() || !secret_eq(sent, &csrf) {
                    return Err(ApiError(AppError::new(ErrorCode::Forbidden, "missing or wrong X-CSRF-Token header for a cookie-authenticated request")));
                }
            }
            return Ok(Viewer { caller: Caller { account: Some(account) }, via: AuthVia::Session { token_hash: hash, csrf } });
        }
    }
    Ok(Viewer::anonymous())
}

/// `Query` whose rejection is the API's JSON error (axum's own is plain text).
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state).await.map(|Query(v)| Q(v)).map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `?cursor=&limit=`.
#[derive(Deserialize)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Result<kinora_app::views::PageRequest, ApiError> {
        Ok(kinora_app::views::PageRequest::parse(self.cursor.as_deref(), self.limit.as_deref())?)
    }
}

/// A JSON body whose rejection is the API's JSON error.
pub type JsonBody<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

pub fn body<T>(b: JsonBody<T>) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| ApiError::bad_request(e.body_text()))
}
