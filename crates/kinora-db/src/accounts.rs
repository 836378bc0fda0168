//! Accounts.

use crate::{col, now_ms, Db, DbError, Result};
use kinora_core::policy::Standing;
use kinora_core::{Id, Username};
use sqlx::any::AnyRow;

/// A stored account.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: Id,
    pub username: Username,
    pub display_name: String,
    pub bio: String,
    pub region: String,
    pub created_at: i64,
    /// Private accounts approve followers; their videos are `followers` at most.
    pub private: bool,
    /// Object key of the profile picture, if any.
    pub avatar_key: Option<String>,
    /// Liked videos are shown on the profile.
    pub likes_public: bool,
    /// After moderation: restricted (hidden from discovery) or suspended.
    pub standing: Standing,
    /// For You is personalised for this account (off: the feed without profiling).
    pub personalized_feed: bool,
}

/// What sign-up stores.
pub struct NewAccount<'a> {
    pub username: &'a Username,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub region: &'a str,
}

/// Account storage.
pub trait AccountRepo {
    /// Creates an account; [`DbError::Conflict`] when the username is taken.
    fn create_account(&self, a: NewAccount<'_>) -> impl std::future::Future<Output = Result<AccountRow>> + Send;
    fn account_by_username(&self, u: &Username) -> impl std::future::Future<Output = Result<Option<AccountRow>>> + Send;
    fn account_by_id(&self, id: &Id) -> impl std::future::Future<Output = Result<Option<AccountRow>>> + Send;
    /// (accepted followers, accepted followees). Video counts depend on the viewer:
    /// see `Db::visible_count`.
    fn account_counts(&self, id: &Id) -> impl std::future::Future<Output = Result<(i64, i64)>> + Send;
    /// Replaces the password hash.
    fn set_password_hash(&self, id: &Id, hash: &str) -> impl std::future::Future<Output = Result<()>> + Send;
    /// How many accounts exist.
    fn count_accounts(&self) -> impl std::future::Future<Output = Result<i64>> + Send;
    /// Sets the profile picture's object key; returns the previous one.
    fn set_avatar(&self, id: &Id, key: &str) -> impl std::future::Future<Output = Result<Option<String>>> + Send;
}

pub(crate) const COLS: &str =
    "id, username, display_name, bio, region, created_at, private, avatar_key, likes_public, restricted_at, suspended_at, personalized_feed";

pub(crate) fn row_pub(r: &AnyRow) -> Result<AccountRow> {
    row(r)
}

fn row(r: &AnyRow) -> Result<AccountRow> {
    Ok(AccountRow {
        id: Id::from_trusted(col(r, "id")?),
        username: Username::from_trusted(col(r, "username")?),
        display_name: col(r, "display_name")?,
        bio: col(r, "bio")?,
        region: col(r, "region")?,
        created_at: col(r, "created_at")?,
        private: col::<i64>(r, "private")? != 0,
        avatar_key: col(r, "avatar_key")?,
        likes_public: col::<i64>(r, "likes_public")? != 0,
        standing: Standing::from_times(col(r, "suspended_at")?, col(r, "restricted_at")?),
        personalized_feed: col::<i64>(r, "personalized_feed")? != 0,
    })
}

impl AccountRepo for Db {
    async fn set_password_hash(&self, id: &Id, hash: &str) -> Result<()> {
        sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2").bind(hash).bind(id.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    async fn count_accounts(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(self.pool()).await?;
        col(&r, "n")
    }

    async fn create_account(&self, a: NewAccount<'_>) -> Result<AccountRow> {
        let id = Id::generate();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO accounts (id, username, email, password_hash, region, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.as_str())
        .bind(a.username.as_str())
        .bind(a.email)
        .bind(a.password_hash)
        .bind(a.region)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(AccountRow {
            id,
            username: a.username.clone(),
            display_name: String::new(),
            bio: String::new(),
            region: a.region.to_owned(),
            created_at: now,
            private: false,
            avatar_key: None,
            likes_public: false,
            standing: Standing::Good,
            personalized_feed: true,
        })
    }

    async fn account_by_username(&self, u: &Username) -> Result<Option<AccountRow>> {
        // An account scheduled for erasure is deactivated: it answers like a missing one.
        let r =
            sqlx::query(&format!("SELECT {COLS} FROM accounts WHERE username = $1 AND erase_at IS NULL")).bind(u.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(row).transpose()
    }

    async fn account_by_id(&self, id: &Id) -> Result<Option<AccountRow>> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM accounts WHERE id = $1 AND erase_at IS NULL")).bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.as_ref().map(row).transpose()
    }

    async fn account_counts(&self, id: &Id) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM follows WHERE followee_id = $1 AND state = 'accepted') AS followers, \
               (SELECT COUNT(*) FROM follows WHERE follower_id = $1 AND state = 'accepted') AS following",
        )
        .bind(id.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok((col(&r, "followers")?, col(&r, "following")?))
    }

    async fn set_avatar(&self, id: &Id, key: &str) -> Result<Option<String>> {
        let old: Option<String> = sqlx::query("SELECT avatar_key FROM accounts WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .map(|r| col::<Option<String>>(&r, "avatar_key"))
            .transpose()?
            .flatten();
        sqlx::query("UPDATE accounts SET avatar_key = $1 WHERE id = $2").bind(key).bind(id.as_str()).execute(self.pool()).await?;
        Ok(old)
    }
}

impl Db {
    /// The live account holding a live token of `kind` with this hash, and the
    /// token's CSRF secret: one query per authenticated request.
    pub async fn account_by_token(&self, hash: &str, kind: crate::TokenKind) -> Result<Option<(AccountRow, Option<String>)>> {
        let r = sqlx::query(&format!(
            "SELECT {COLS}, t.csrf AS token_csrf FROM accounts \
             JOIN (SELECT account_id, csrf FROM tokens WHERE hash = $1 AND kind = $2 AND expires_at > $3) t ON t.account_id = accounts.id \
             WHERE erase_at IS NULL"
        ))
        .bind(hash)
        .bind(kind.as_str())
        .bind(crate::now_ms())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| Ok((row(&r)?, crate::col(&r, "token_csrf")?))).transpose()
    }
}

impl DbError {
    /// True for a unique-constraint conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, DbError::Conflict)
    }
}

/// An account's password hash (argon2id, PHC string): its own type, read only by
/// sign-in and by the checks that ask for the password again, never printed (its
/// `Debug` says nothing) and never part of [`AccountRow`], so it does not travel
/// with the account through requests.
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

impl Db {
    /// The account's password hash (for sign-in and password checks only).
    pub async fn password_hash(&self, id: &Id) -> Result<Option<PasswordHash>> {
        let r = sqlx::query("SELECT password_hash FROM accounts WHERE id = $1").bind(id.as_str()).fetch_optional(self.pool()).await?;
        r.map(|r| Ok(PasswordHash(col(&r, "password_hash")?))).transpose()
    }
}

impl Db {
    /// Accounts by id (those not being erased), in one query: for lists whose items
    /// name accounts (notifications, the moderation queue).
    pub async fn accounts_by_ids(&self, ids: &[Id]) -> Result<std::collections::HashMap<Id, AccountRow>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT {COLS} FROM accounts WHERE erase_at IS NULL AND id IN ({})", crate::sql::placeholders(1, ids.len()));
        let q = crate::sql::bind_ids(sqlx::query(&sql), ids);
        q.fetch_all(self.pool()).await?.iter().map(|r| row(r).map(|a| (a.id.clone(), a))).collect()
    }

    /// Updates the profile; going public accepts every pending request.
    pub async fn update_profile(
        &self,
        id: &Id,
        display_name: Option<&str>,
        bio: Option<&str>,
        private: Option<bool>,
        likes_public: Option<bool>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET display_name = COALESCE($1, display_name), bio = COALESCE($2, bio), \
               private = COALESCE($3, private), likes_public = COALESCE($5, likes_public) WHERE id = $4",
        )
        .bind(display_name)
        .bind(bio)
        .bind(private.map(i64::from))
        .bind(id.as_str())
        .bind(likes_public.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if private == Some(false) {
            sqlx::query("UPDATE follows SET state = 'accepted' WHERE followee_id = $1 AND state = 'requested'").bind(id.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An account's videos visible to the viewer, with mutes not applied.
    pub async fn visible_count(&self, account: &Id, viewer: Option<&Id>) -> Result<i64> {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.account_id = $1 AND v.status = 'ready' AND {vis}",
            vis = crate::visibility::video_visible_to(2)
        ))
        .bind(account.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .fetch_one(self.pool())
        .await?;
        col(&r, "n")
    }
}
