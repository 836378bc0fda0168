//! API tokens and web sessions, stored as SHA-256 hashes of the secret.

use crate::{col, now_ms, Db, Result};
use kinora_core::Id;

kinora_core::closed_set! {
    /// What a token is for.
    pub enum TokenKind {
        /// A Bearer token for API clients; lives until revoked.
        Api = "api",
        /// A web session cookie; carries a CSRF token and expires.
        Session = "session",
    }
}

/// A live token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub account_id: Id,
    pub csrf: Option<String>,
}

/// Token storage. Callers pass the hash, never the secret.
pub trait TokenRepo {
    fn create_token(
        &self,
        hash: &str,
        account: &Id,
        kind: TokenKind,
        csrf: Option<&str>,
        expires_at: Option<i64>,
    ) -> impl std::future::Future<Output = Result<()>> + Send;
    /// The live (unexpired) token with this hash and kind.
    fn find_token(&self, hash: &str, kind: TokenKind) -> impl std::future::Future<Output = Result<Option<TokenRow>>> + Send;
    fn revoke_token(&self, hash: &str) -> impl std::future::Future<Output = Result<()>> + Send;
    /// Revokes every token and session of `account` but `except` (a token hash);
    /// returns how many.
    fn revoke_all_tokens(&self, account: &Id, except: Option<&str>) -> impl std::future::Future<Output = Result<u64>> + Send;
    /// Deletes tokens and sessions whose time is up.
    fn delete_expired_tokens(&self) -> impl std::future::Future<Output = Result<u64>> + Send;
}

impl TokenRepo for Db {
    async fn create_token(&self, hash: &str, account: &Id, kind: TokenKind, csrf: Option<&str>, expires_at: Option<i64>) -> Result<()> {
        sqlx::query("INSERT INTO tokens (hash, account_id, kind, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(hash)
            .bind(account.as_str())
            .bind(kind.as_str())
            .bind(csrf)
            .bind(now_ms())
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn find_token(&self, hash: &str, kind: TokenKind) -> Result<Option<TokenRow>> {
        let r = sqlx::query(
            "SELECT account_id, csrf FROM tokens WHERE hash = $1 AND kind = $2 \
             AND expires_at > $3",
        )
        .bind(hash)
        .bind(kind.as_str())
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok(TokenRow { account_id: Id::from_trusted(col(&r, "account_id")?), csrf: col(&r, "csrf")? })).transpose()
    }

    async fn revoke_token(&self, hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE hash = $1").bind(hash).execute(self.pool()).await?;
        Ok(())
    }

    async fn revoke_all_tokens(&self, account: &Id, except: Option<&str>) -> Result<u64> {
        let r = sqlx::query("DELETE FROM tokens WHERE account_id = $1 AND hash <> $2")
            .bind(account.as_str())
            .bind(except.unwrap_or(""))
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected())
    }

    async fn delete_expired_tokens(&self) -> Result<u64> {
        let r = sqlx::query("DELETE FROM tokens WHERE expires_at IS NULL OR expires_at <= $1").bind(now_ms()).execute(self.pool()).await?;
        Ok(r.rows_affected())
    }
}

impl Db {
    /// Records where a token or session was made: the client's address key and device.
    pub async fn set_token_origin(&self, hash: &str, client: &str, device: &str) -> Result<()> {
        sqlx::query("UPDATE tokens SET client = $1, device = $2 WHERE hash = $3").bind(client).bind(device).bind(hash).execute(self.pool()).await?;
        Ok(())
    }
}
