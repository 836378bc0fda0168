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
/// Web sessions last 30 days.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

/// Hashes a password with argon2id on a blocking thread.
pub async fn hash_password(pw: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(pw.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Verifies a password against a PHC string on a blocking thread.
pub async fn verify_password(hash: String, pw: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
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
