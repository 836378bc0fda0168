//! Secrets (tokens and sessions are random secrets
//! stored as SHA-256), and who is calling ([`Caller`]).

use crate::error::AppError;
use base64::Engine;
use kinora_db::AccountRow;
use sha2::{Digest, Sha256};

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

/// Constant-time string equality for secrets.
pub fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is calling a service: an account, or no one (signed out).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub account: Option<AccountRow>,
}

impl Caller {
    pub fn id(&self) -> Option<&kinora_core::Id> {
        self.account.as_ref().map(|a| &a.id)
    }

    /// The signed-in account, or `unauthorized`.
    pub fn require(&self) -> Result<&AccountRow, AppError> {
        self.account.as_ref().ok_or_else(AppError::unauthorized)
    }
}
