//! Passwords (argon2id), tokens and sessions (random secrets stored as SHA-256),
//! the [`Viewer`] extractor and CSRF protection for cookie-authenticated writes.

use crate::app::AppState;
use crate::error::ApiError;
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::{request::Parts, Method};
use axum_extra::extract::cookie::CookieJar;
use base64::Engine;
use kinora_core::ErrorCode;
use kinora_db::{AccountRepo, AccountRow, TokenKind, TokenRepo};
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "kinora_session";
pub const CSRF_COOKIE: &str = "kinora_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Password hashing and checking (argon2id, 19 MiB and tens of milliseconds each)
/// with a bound on how many run at once, so a flood of sign-ins cannot take every
/// core and gigabytes of memory: past the bound a check waits up to `wait`, then
/// is refused with 429.
pub struct Passwords {
    slots: tokio::sync::Semaphore,
    wait: std::time::Duration,
}

impl Passwords {
    pub fn new(concurrent: usize, wait: std::time::Duration) -> Passwords {
        Passwords { slots: tokio::sync::Semaphore::new(concurrent.max(1)), wait }
    }

    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(_) => Err(ApiError::rate_limited(1)),
        }
    }

    /// Hashes a password with argon2id on a blocking thread.
    pub async fn hash(&self, pw: String) -> Result<String, ApiError> {
        let _slot = self.slot().await?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(pw.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }

    /// Verifies a password against a PHC string on a blocking thread.
    pub async fn verify(&self, hash: String, pw: String) -> Result<bool, ApiError> {
        let _slot = self.slot().await?;
        Ok(tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false))
    }
}

/// The client's address as rate limits see it: the TCP peer, or the client behind
/// a trusted reverse proxy (`server.trusted_proxies`), keyed by IPv4 address or
/// IPv6 /64.
#[derive(Debug, Clone)]
pub struct ClientAddr {
    /// IPv4 address or IPv6 /64, as text.
    pub key: String,
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
        let ip = state.proxies.client(peer, &xff);
        Ok(ClientAddr { key: kinora_core::net::limit_key(ip) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn regression_password_checks_are_bounded() {
        let p = std::sync::Arc::new(Passwords::new(1, std::time::Duration::from_millis(200)));
        let held = p.slot().await.expect("first slot");
        let refused = p.verify("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(), "pw".into()).await;
        assert_eq!(refused.expect_err("no free slot").code, ErrorCode::RateLimited);
        drop(held);
        assert!(!p.verify("not a hash".into(), "pw".into()).await.expect("a slot is free again"));
    }
}

/// A new random secret (43 chars) and the hash we store for it.
pub fn new_secret() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    (secret, hash)
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How the caller authenticated.
#[derive(Debug, Clone)]
pub enum AuthVia {
    None,
    Bearer { token_hash: String },
    Session { token_hash: String, csrf: String },
}

/// The caller: maybe signed in.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub account: Option<AccountRow>,
    pub via: AuthVia,
}

impl Viewer {
    pub fn id(&self) -> Option<&kinora_core::Id> {
        self.account.as_ref().map(|a| &a.id)
    }

    pub fn require(&self) -> Result<&AccountRow, ApiError> {
        self.account.as_ref().ok_or_else(ApiError::unauthorized)
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

/// Constant-time string equality for secrets.
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(v) = parts.extensions.get::<Viewer>() {
            return Ok(v.clone());
        }
        let viewer = resolve(parts, state).await?;
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

async fn resolve(parts: &Parts, state: &AppState) -> Result<Viewer, ApiError> {
    if let Some(auth) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|s| s.strip_prefix("Bearer ").or_else(|| s.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let hash = hash_secret(token);
        let row = state.db.find_token(&hash, TokenKind::Api).await?.ok_or_else(ApiError::unauthorized)?;
        let account = state.db.account_by_id(&row.account_id).await?.ok_or_else(ApiError::unauthorized)?;
        return Ok(Viewer { account: Some(account), via: AuthVia::Bearer { token_hash: hash } });
    }
    let jar = CookieJar::from_headers(&parts.headers);
    if let Some(c) = jar.get(SESSION_COOKIE) {
        let hash = hash_secret(c.value());
        if let Some(row) = state.db.find_token(&hash, TokenKind::Session).await? {
            if let Some(account) = state.db.account_by_id(&row.account_id).await? {
                let csrf = row.csrf.unwrap_or_default();
                if !is_safe(&parts.method) {
                    let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                    if csrf.is_empty() || !secret_eq(sent, &csrf) {
                        return Err(ApiError::new(
                            ErrorCode::Forbidden,
                            "missing or wrong X-CSRF-Token header for a cookie-authenticated request",
                        ));
                    }
                }
                return Ok(Viewer { account: Some(account), via: AuthVia::Session { token_hash: hash, csrf } });
            }
        }
    }
    Ok(Viewer { account: None, via: AuthVia::None })
}
