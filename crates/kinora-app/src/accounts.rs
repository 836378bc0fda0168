//! Accounts: sign-up, sign-in, tokens and sessions, passwords, profiles, profile
//! pictures, creator analytics.

use crate::access;
use crate::auth::{self, Caller};
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Limiters};
use crate::views::{self, AccountView};
use kinora_core::{Email, ErrorCode, Id, Password, Username};
use kinora_db::{AccountRepo, AccountRow, NewAccount, TokenKind, TokenRepo};
use serde::Serialize;

/// What sign-up sends.
#[derive(Debug, Default)]
pub struct SignUp {
    pub username: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
}

/// Parses and stores a new account; `client` is the caller's address key.
pub async fn register(st: &AppState, client: &str, s: SignUp) -> AppResult<AccountRow> {
    let username = Username::parse(s.username.as_deref().unwrap_or(""))?;
    let password = Password::parse(s.password.as_deref().unwrap_or(""))?;
    let email = match s.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(Email::parse(e)?),
        None => None,
    };
    Limiters::limit(&st.limiters.signup, client.to_owned())?;
    let hash = st.passwords.hash(password.expose().to_owned()).await?;
    st.db
        .create_account(NewAccount { username: &username, email: email.as_ref().map(|e| e.as_str()), password_hash: &hash, region: &st.regions.primary })
        .await
        .map_err(|e| if e.is_conflict() { AppError::new(ErrorCode::Conflict, "username: that username is taken") } else { e.into() })
}

/// Sign-up: the new account, as its owner sees it.
pub async fn sign_up(st: &AppState, client: &str, s: SignUp) -> AppResult<AccountView> {
    let row = register(st, client, s).await?;
    views::account(st, &Caller { account: Some(row.clone()) }, &row).await
}

/// Checks credentials with the same work and the same answer whether or not the
/// account exists. Input is parsed before anything else: a username that cannot
/// exist or an oversized password is refused without touching a limiter key or
/// argon2. Limits: per client address, and per address and username.
///
/// An account scheduled for deletion is refused with a message saying so (after
/// the password is right); `cancel_deletion` cancels the deletion and signs in.
pub async fn check_credentials(st: &AppState, client: &str, username: Option<&str>, password: Option<&str>, cancel_deletion: bool) -> AppResult<AccountRow> {
    let wrong = || AppError::new(ErrorCode::Unauthorized, "wrong username or password");
    Limiters::limit(&st.limiters.signin_addr, client.to_owned())?;
    let name = Username::parse(username.unwrap_or("").trim()).map_err(|_| wrong())?;
    let pw = password.filter(|p| p.len() <= 1024).ok_or_else(wrong)?.to_owned();
    Limiters::limit(&st.limiters.signin, format!("{client}|{name}"))?;
    let account = st.db.account_for_signin(&name).await?;
    let hash = match &account {
        Some((a, _)) => st.db.password_hash(&a.id).await?.map(|h| h.expose().to_owned()).unwrap_or_else(|| st.dummy_hash.to_string()),
        None => st.dummy_hash.to_string(),
    };
    let ok = st.passwords.verify(hash, pw).await?;
    match account {
        Some((a, None)) if ok => Ok(a),
        Some((a, Some(_))) if ok && cancel_deletion => {
            st.db.cancel_erasure(&a.id).await?;
            st.recommender.account_changed(&a.id);
            tracing::info!(account = %a.id, "scheduled erasure cancelled");
            Ok(a)
        }
        Some((_, Some(erase_at))) if ok => Err(crate::erasure::scheduled_error(erase_at)),
        _ => Err(wrong()),
    }
}

/// A new API token for the account (expires after `auth.api_token_days`).
/// `origin`: the client's address key and device (User-Agent), kept with the token.
pub async fn create_api_token(st: &AppState, account: &AccountRow, origin: (&str, &str)) -> AppResult<String> {
    let (secret, hash) = auth::new_secret();
    let expires = kinora_db::now_ms() + st.config.auth.api_token_days.max(1) * 86_400_000;
    st.db.create_token(&hash, &account.id, TokenKind::Api, None, Some(expires)).await?;
    st.db.set_token_origin(&hash, origin.0, origin.1).await?;
    Ok(secret)
}

/// A new web session: (secret for the cookie, CSRF token, lifetime in seconds).
/// `previous` (the hash of the browser's old session) is revoked: sessions are not
/// fixed across sign-ins.
pub async fn start_session(st: &AppState, account: &Id, previous: Option<&str>, origin: (&str, &str)) -> AppResult<(String, String, i64)> {
    if let Some(old) = previous {
        st.db.revoke_token(old).await?;
    }
    let (secret, hash) = auth::new_secret();
    let (csrf, _) = auth::new_secret();
    let ttl_ms = st.config.auth.session_days.max(1) * 86_400_000;
    st.db.create_token(&hash, account, TokenKind::Session, Some(&csrf), Some(kinora_db::now_ms() + ttl_ms)).await?;
    st.db.set_token_origin(&hash, origin.0, origin.1).await?;
    Ok((secret, csrf, ttl_ms / 1000))
}

/// Who holds this token or session secret hash (live ones only), and its CSRF
/// token for sessions.
pub async fn authenticate(st: &AppState, token_hash: &str, kind: TokenKind) -> AppResult<Option<(AccountRow, Option<String>)>> {
    Ok(st.db.account_by_token(token_hash, kind).await?)
}

pub async fn revoke_token(st: &AppState, token_hash: &str) -> AppResult<()> {
    Ok(st.db.revoke_token(token_hash).await?)
}

/// A new password; every other token and session of the account is revoked
/// (`keep` is the hash of the one making the change). Guesses of the current
/// password count against the sign-in limits.
pub async fn change_password(st: &AppState, caller: &Caller, client: &str, keep: Option<&str>, current: &str, new: &str) -> AppResult<()> {
    let me = caller.require()?;
    let new = Password::parse(new).map_err(|e| AppError::new(ErrorCode::InvalidField, format!("new_{e}")))?;
    let current = if current.len() <= 1024 { current.to_owned() } else { String::new() };
    Limiters::limit(&st.limiters.signin, format!("{client}|{}", me.username))?;
    let stored = st.db.password_hash(&me.id).await?.ok_or_else(AppError::unauthorized)?;
    if !st.passwords.verify(stored.expose().to_owned(), current).await? {
        return Err(AppError::new(ErrorCode::InvalidField, "current_password: that is not your current password"));
    }
    let hash = st.passwords.hash(new.expose().to_owned()).await?;
    st.db.set_password_hash(&me.id, &hash).await?;
    st.db.revoke_all_tokens(&me.id, keep).await?;
    Ok(())
}

/// Signs out everywhere: every token and session of the account.
pub async fn sign_out_everywhere(st: &AppState, caller: &Caller) -> AppResult<()> {
    let me = caller.require()?;
    st.db.revoke_all_tokens(&me.id, None).await?;
    Ok(())
}

/// An account by username, as the caller may see it.
pub async fn get(st: &AppState, caller: &Caller, name: &str) -> AppResult<AccountView> {
    let (a, _) = access::visible_account(st, caller, name).await?;
    views::account(st, caller, &a).await
}

/// The caller's own account.
pub async fn me(st: &AppState, caller: &Caller) -> AppResult<AccountView> {
    let me = caller.require()?;
    let fresh = st.db.account_by_id(&me.id).await?.ok_or_else(AppError::not_found)?;
    let mut v = views::account(st, caller, &fresh).await?;
    v.personalized_feed = Some(fresh.personalized_feed);
    Ok(v)
}

/// A profile edit; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileEdit {
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub private: Option<bool>,
    pub likes_public: Option<bool>,
    /// For You from the recommender (`true`) or the feed without profiling.
    pub personalized_feed: Option<bool>,
}

/// Trims, drops control characters (but newlines) and checks the length.
pub fn clean_text(field: &'static str, s: &str, max: usize) -> AppResult<String> {
    let t: String = s.trim().chars().filter(|c| *c == '\n' || !c.is_control()).collect();
    if t.chars().count() > max {
        return Err(AppError::new(ErrorCode::InvalidField, format!("{field}: at most {max} characters")));
    }
    Ok(t)
}

pub async fn edit_profile(st: &AppState, caller: &Caller, e: ProfileEdit) -> AppResult<AccountView> {
    let me = caller.require()?;
    let display_name = e.display_name.as_deref().map(|d| clean_text("display_name", d, 50)).transpose()?;
    let bio = e.bio.as_deref().map(|d| clean_text("bio", d, 500)).transpose()?;
    st.db.update_profile(&me.id, display_name.as_deref(), bio.as_deref(), e.private, e.likes_public).await?;
    if e.private.is_some() {
        st.recommender.account_changed(&me.id);
    }
    if let Some(p) = e.personalized_feed {
        st.db.set_personalized_feed(&me.id, p).await?;
    }
    self::me(st, caller).await
}

/// Largest profile picture upload.
pub const AVATAR_MAX_BYTES: usize = 10 << 20;

/// A new profile picture from any PNG, JPEG, WebP, GIF or BMP up to 10 MiB and 8192
/// px a side, re-encoded by sandboxed ffmpeg to a 256x256 JPEG with no metadata,
/// stored in the account's home region. A few run at once; the rest wait briefly.
pub async fn set_avatar(st: &AppState, caller: &Caller, data: &[u8]) -> AppResult<AccountView> {
    use kinora_media::process::{self, ProcessLimits};
    let me = caller.require()?;
    if data.is_empty() {
        return Err(AppError::bad_request("file: send an image in the field `file`"));
    }
    if data.len() > AVATAR_MAX_BYTES {
        return Err(AppError::new(ErrorCode::PayloadTooLarge, "profile pictures are limited to 10 MiB"));
    }
    let _slot = tokio::time::timeout(std::time::Duration::from_secs(20), st.avatar_slots.acquire())
        .await
        .map_err(|_| AppError::rate_limited(5))?
        .map_err(AppError::internal)?;
    let dir = st.scratch_dir(&format!("avatar-{}", Id::generate())).await.map_err(AppError::internal)?;
    let result = async {
        let input = dir.join("input");
        tokio::fs::write(&input, data).await.map_err(AppError::internal)?;
        st.hand_to_sandbox(&input).await.map_err(AppError::internal)?;
        let limits = ProcessLimits {
            wall: std::time::Duration::from_secs(20),
            cpu_secs: 20,
            memory_bytes: st.config.media.memory_limit_mib << 20,
            file_bytes: 16 << 20,
            max_stdout: 1 << 20,
            isolate_network: st.isolate_network,
            run_as: st.sandbox_user,
        };
        let bad = |m: &str| AppError::new(ErrorCode::UnsupportedMedia, format!("file: {m}"));
        let probe = kinora_media::probe::run_probe_with(&st.tools, &input, &dir, limits, kinora_media::probe::IMAGE_DEMUXER_WHITELIST)
            .await
            .map_err(|_| bad("not a PNG, JPEG, WebP, GIF or BMP image"))?;
        let v = probe.video.as_ref().ok_or_else(|| bad("no image in the file"))?;
        if v.width == 0 || v.height == 0 || v.width > 8192 || v.height > 8192 || u64::from(v.width) * u64::from(v.height) > 40_000_000 {
            return Err(AppError::new(ErrorCode::MediaTooLarge, "file: images are limited to 8192 px a side and 40 megapixels"));
        }
        let out = dir.join("avatar.jpg");
        process::run(&st.tools.ffmpeg, &kinora_media::transcode::avatar_args(&input, &probe.demuxer, &out), &dir, limits)
            .await
            .map_err(|_| bad("the image could not be decoded"))?;
        let bytes = tokio::fs::read(&out).await.map_err(AppError::internal)?;
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let key = format!("avatars/{}/{}.jpg", me.id, &sha[..16]);
        crate::objects::put(st, &me.region, &key, &out).await.map_err(AppError::internal)?;
        if let Some(old) = st.db.set_avatar(&me.id, &key).await? {
            if old != key {
                let _ = crate::objects::delete(st, &me.region, &old).await;
            }
        }
        Ok(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result?;
    self::me(st, caller).await
}

/// The bytes of a profile picture the caller may see.
pub async fn avatar_bytes(st: &AppState, caller: &Caller, account: &str, name: &str) -> AppResult<bytes::Bytes> {
    let (a, key) = access::avatar(st, caller, account, name).await?;
    st.regions.get_bytes_with_fallback(&a.region, &key).await.map_err(AppError::internal)
}

/// Engagement numbers, of one video or all of them.
#[derive(Debug, Serialize)]
pub struct Numbers {
    pub views: i64,
    pub watch_time_ms: i64,
    pub average_watch_ms: i64,
    pub completion_rate: f64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
}

impl Numbers {
    fn of(s: &kinora_db::VideoStats) -> Numbers {
        Numbers {
            views: s.views,
            watch_time_ms: s.watch_ms,
            average_watch_ms: if s.views > 0 { s.watch_ms / s.views } else { 0 },
            completion_rate: if s.views > 0 { s.completed as f64 / s.views as f64 } else { 0.0 },
            likes: s.likes,
            comments: s.comments,
            shares: s.shares,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct VideoAnalytics {
    pub video_id: Id,
    #[serde(flatten)]
    pub numbers: Numbers,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    #[serde(flatten)]
    pub numbers: Numbers,
    pub followers_gained_28d: i64,
}

#[derive(Debug, Serialize)]
pub struct Analytics {
    pub totals: Totals,
    pub videos: Vec<VideoAnalytics>,
}

/// The creator's numbers: per video and in total.
pub async fn analytics(st: &AppState, caller: &Caller) -> AppResult<Analytics> {
    let me = caller.require()?;
    let stats = st.db.video_stats(&me.id).await?;
    let gained = st.db.followers_since(&me.id, kinora_db::now_ms() - 28 * 86_400_000).await?;
    let videos = stats.iter().map(|s| VideoAnalytics { video_id: s.video_id.clone(), numbers: Numbers::of(s) }).collect();
    // The totals are the numbers of one video that is all of them.
    let all = stats.iter().fold(
        kinora_db::VideoStats { video_id: me.id.clone(), views: 0, watch_ms: 0, completed: 0, likes: 0, comments: 0, shares: 0 },
        |mut t, s| {
            t.views += s.views;
            t.watch_ms += s.watch_ms;
            t.completed += s.completed;
            t.likes += s.likes;
            t.comments += s.comments;
            t.shares += s.shares;
            t
        },
    );
    Ok(Analytics { totals: Totals { numbers: Numbers::of(&all), followers_gained_28d: gained }, videos })
}

/// The caller's stored bytes and storage quota (`uploads.max_stored_bytes`).
pub async fn storage(st: &AppState, caller: &crate::auth::Caller) -> AppResult<(i64, i64)> {
    let me = caller.require()?;
    Ok((st.db.stored_bytes(&me.id).await?, st.config.uploads.max_stored_bytes))
}
