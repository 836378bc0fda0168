//! JSON API handlers (API.md).

use crate::app::{AppState, Limiters};
use crate::auth::{self, AuthVia, ClientAddr, Viewer};
use crate::error::{ApiError, ApiResult};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use kinora_core::policy::{can_view_video, Relation};
use kinora_core::{Caption, Email, ErrorCode, Id, Password, Username, Visibility, VideoStatus};
use kinora_db::{AccountRepo, AccountRow, FeedCursor, NewAccount, NewVideo, TokenKind, TokenRepo, VideoRepo, VideoRow};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub async fn healthz(State(st): State<AppState>) -> Response {
    match st.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

pub async fn api_not_found() -> ApiError {
    ApiError::not_found()
}

pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}

// ---------- accounts and tokens ----------

#[derive(Deserialize)]
pub struct SignUp {
    pub username: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
}

/// An account as `viewer` sees it: counts of videos they may see, and their
/// relationship (`follow`: none | requested | following) when signed in.
pub async fn account_json(st: &AppState, viewer: Option<&Id>, a: &AccountRow) -> ApiResult<Value> {
    let (followers, following) = st.db.account_counts(&a.id).await?;
    let videos = st.db.visible_count(&a.id, viewer).await?;
    let mut j = json!({
        "id": a.id,
        "username": a.username,
        "display_name": if a.display_name.is_empty() { a.username.as_str() } else { &a.display_name },
        "bio": a.bio,
        "private": a.private,
        "likes_public": a.likes_public,
        "avatar_url": crate::social::avatar_url(a),
        "created_at": rfc3339(a.created_at),
        "counts": {"followers": followers, "following": following, "videos": videos},
    });
    if let Some(me) = viewer.filter(|me| *me != &a.id) {
        let (state, _) = st.db.relation_flags(me, &a.id).await?;
        j["follow"] = json!(match state.as_deref() {
            Some("accepted") => "following",
            Some("requested") => "requested",
            _ => "none",
        });
    }
    Ok(j)
}

/// Parses and stores a new account (shared by the API and the sign-up form).
pub async fn register(st: &AppState, client: &ClientAddr, s: SignUp) -> ApiResult<AccountRow> {
    let username = Username::parse(s.username.as_deref().unwrap_or(""))?;
    let password = Password::parse(s.password.as_deref().unwrap_or(""))?;
    let email = match s.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(e) => Some(Email::parse(e)?),
        None => None,
    };
    Limiters::check(&st.limiters.signup, client.key.clone()).map_err(ApiError::rate_limited)?;
    let hash = st.passwords.hash(password.expose().to_owned()).await?;
    let row = st
        .db
        .create_account(NewAccount {
            username: &username,
            email: email.as_ref().map(|e| e.as_str()),
            password_hash: &hash,
            region: &st.config.server.region,
        })
        .await
        .map_err(|e| {
            if e.is_conflict() {
                ApiError::new(ErrorCode::Conflict, "username: that username is taken")
            } else {
                e.into()
            }
        })?;
    Ok(row)
}

pub async fn create_account(
    State(st): State<AppState>,
    client: ClientAddr,
    body: Result<Json<SignUp>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let Json(s) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let row = register(&st, &client, s).await?;
    Ok((StatusCode::CREATED, Json(account_json(&st, Some(&row.id), &row).await?)))
}

#[derive(Deserialize)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
}

/// Checks credentials with the same work and the same answer whether or not the
/// account exists. Input is parsed before anything else: a username that cannot
/// exist or an oversized password is refused without touching a limiter key or
/// argon2. Limits: per client address, and per address and username.
pub async fn check_credentials(st: &AppState, client: &ClientAddr, c: &Credentials) -> ApiResult<AccountRow> {
    let wrong = || ApiError::new(ErrorCode::Unauthorized, "wrong username or password");
    Limiters::check(&st.limiters.signin_addr, client.key.clone()).map_err(ApiError::rate_limited)?;
    let name = Username::parse(c.username.as_deref().unwrap_or("").trim()).map_err(|_| wrong())?;
    let pw = c.password.as_deref().filter(|p| p.len() <= 1024).ok_or_else(wrong)?.to_owned();
    Limiters::check(&st.limiters.signin, format!("{}|{}", client.key, name)).map_err(ApiError::rate_limited)?;
    let account = st.db.account_by_username(&name).await?;
    let hash = account.as_ref().map(|a| a.password_hash.clone()).unwrap_or_else(|| st.dummy_hash.to_string());
    let ok = st.passwords.verify(hash, pw).await?;
    match account {
        Some(a) if ok => Ok(a),
        _ => Err(ApiError::new(ErrorCode::Unauthorized, "wrong username or password")),
    }
}

pub async fn create_token(
    State(st): State<AppState>,
    client: ClientAddr,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(c) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let account = check_credentials(&st, &client, &c).await?;
    let (secret, hash) = auth::new_secret();
    let expires = kinora_db::now_ms() + st.config.auth.api_token_days.max(1) * 86_400_000;
    st.db.create_token(&hash, &account.id, TokenKind::Api, None, Some(expires)).await?;
    Ok(Json(json!({"access_token": secret, "token_type": "Bearer"})))
}

pub async fn revoke_token(State(st): State<AppState>, viewer: Viewer) -> ApiResult<StatusCode> {
    match &viewer.via {
        AuthVia::Bearer { token_hash } | AuthVia::Session { token_hash, .. } => {
            st.db.revoke_token(token_hash).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        AuthVia::None => Err(ApiError::unauthorized()),
    }
}

pub async fn me(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<Value>> {
    let a = viewer.require()?;
    Ok(Json(account_json(&st, Some(&a.id), a).await?))
}

pub async fn account_by_name(st: &AppState, name: &str) -> ApiResult<AccountRow> {
    let u = Username::parse(name).map_err(|_| ApiError::not_found())?;
    st.db.account_by_username(&u).await?.ok_or_else(ApiError::not_found)
}

pub async fn get_account(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let (a, _) = visible_account(&st, &viewer, &name).await?;
    Ok(Json(account_json(&st, viewer.id(), &a).await?))
}

// ---------- lists ----------

/// `Query` whose rejection is our JSON error (axum's own answers in plain text).
pub struct Q<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Q<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Q(v))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> ApiResult<i64> {
        match self.limit.as_deref() {
            None | Some("") => Ok(20),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => Ok(n),
                _ => Err(ApiError::new(ErrorCode::InvalidField, "limit: must be 1..100")),
            },
        }
    }

    pub fn cursor(&self) -> ApiResult<Option<FeedCursor>> {
        let Some(c) = self.cursor.as_deref().filter(|c| !c.is_empty()) else { return Ok(None) };
        let bad = || ApiError::new(ErrorCode::InvalidField, "cursor: not a cursor this server issued");
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
        let s = String::from_utf8(raw).map_err(|_| bad())?;
        let (k, id) = s.split_once(':').ok_or_else(bad)?;
        let id = Id::parse(id).ok_or_else(bad)?;
        Ok(Some(FeedCursor { key: k.parse().map_err(|_| bad())?, id: id.to_string() }))
    }
}

pub fn encode_cursor(key: i64, id: &Id) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{key}:{id}"))
}

/// The list shape; `key` picks the sort key the next page continues from.
pub async fn list_json(
    st: &AppState,
    viewer: &Viewer,
    rows: Vec<VideoRow>,
    limit: i64,
    key: impl Fn(&VideoRow) -> i64,
) -> ApiResult<Json<Value>> {
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|r| encode_cursor(key(r), &r.id))).flatten();
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(video_json(st, viewer, r).await?);
    }
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

pub async fn account_videos(
    State(st): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Value>> {
    let (a, _) = visible_account(&st, &viewer, &name).await?;
    let limit = q.limit()?;
    let rows = st.db.account_videos(&a.id, viewer.id(), q.cursor()?.as_ref(), limit).await?;
    list_json(&st, &viewer, rows, limit, |r| r.created_at).await
}

pub async fn for_you(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let limit = q.limit()?;
    let rows = st.db.for_you(viewer.id(), q.cursor()?.as_ref(), limit).await?;
    list_json(&st, &viewer, rows, limit, |r| r.feed_score).await
}

pub async fn following_feed(
    State(st): State<AppState>,
    viewer: Viewer,
    Q(q): Q<ListQuery>,
) -> ApiResult<Json<Value>> {
    let me = viewer.require()?;
    let limit = q.limit()?;
    let rows = st.db.following_feed(&me.id, q.cursor()?.as_ref(), limit).await?;
    list_json(&st, &viewer, rows, limit, |r| r.created_at).await
}

// ---------- videos ----------

/// The viewer's relation to `owner`, for the policy.
pub async fn relation(st: &AppState, viewer: &Viewer, owner: &Id) -> ApiResult<Relation> {
    let Some(me) = viewer.id() else { return Ok(Relation::Anonymous) };
    if me == owner {
        return Ok(Relation::Owner);
    }
    let (state, blocked) = st.db.relation_flags(me, owner).await?;
    Ok(if blocked {
        Relation::Blocked
    } else if state.as_deref() == Some("accepted") {
        Relation::Follower
    } else {
        Relation::Stranger
    })
}

/// An account the viewer may see (not blocked either way), by username; otherwise
/// the same 404 as a missing one.
pub async fn visible_account(st: &AppState, viewer: &Viewer, name: &str) -> ApiResult<(AccountRow, Relation)> {
    let a = account_by_name(st, name).await?;
    let rel = relation(st, viewer, &a.id).await?;
    if !kinora_core::policy::can_view_account(rel) {
        return Err(ApiError::not_found());
    }
    Ok((a, rel))
}

/// The video if `viewer` may see it; otherwise the same 404 as a missing id.
pub async fn visible_video(st: &AppState, viewer: &Viewer, id: &str) -> ApiResult<VideoRow> {
    let id = Id::parse(id).ok_or_else(ApiError::not_found)?;
    let v = st.db.video_by_id(&id).await?.ok_or_else(ApiError::not_found)?;
    let rel = relation(st, viewer, &v.account_id).await?;
    if !can_view_video(rel, v.visibility, v.account_private, v.status) {
        return Err(ApiError::not_found());
    }
    Ok(v)
}

pub async fn video_json(st: &AppState, viewer: &Viewer, v: &VideoRow) -> ApiResult<Value> {
    let mut j = json!({
        "id": v.id,
        "status": v.status,
        "error": null,
        "caption": v.caption,
        "visibility": v.visibility,
        "author": {"id": v.account_id, "username": v.username},
        "duration_ms": v.duration_ms,
        "width": v.width,
        "height": v.height,
        "share_url": format!("{}/v/{}", st.base_url, v.id),
        "created_at": rfc3339(v.created_at),
        "counts": {"likes": v.likes, "comments": v.comments, "views": v.views, "shares": v.shares},
        "comments": v.comments_setting,
        "liked_by_me": match viewer.id() {
            Some(me) => st.db.liked(me, &v.id).await?,
            None => false,
        },
    });
    if v.status == VideoStatus::Failed {
        j["error"] = json!({
            "code": v.error_code.as_deref().unwrap_or("internal"),
            "message": v.error_message.as_deref().unwrap_or("processing failed"),
        });
    }
    if v.status == VideoStatus::Ready {
        let objects = st.db.media_objects(&v.id).await?;
        let url = |name: &str| format!("/media/{}/{}", v.id, name);
        let sources: Vec<Value> = objects
            .iter()
            .filter(|o| o.mime == "video/mp4")
            .map(|o| json!({"url": url(&o.name), "mime": o.mime, "width": o.width, "height": o.height, "bitrate": o.bitrate}))
            .collect();
        j["sources"] = Value::Array(sources);
        if let Some(p) = objects.iter().find(|o| o.name.starts_with("poster-")) {
            j["poster_url"] = Value::String(url(&p.name));
        }
        if let Some(p) = objects.iter().find(|o| o.name.starts_with("preview-")) {
            j["preview_url"] = Value::String(url(&p.name));
        }
    }
    Ok(j)
}

pub async fn get_video(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let v = visible_video(&st, &viewer, &id).await?;
    Ok(Json(video_json(&st, &viewer, &v).await?))
}

pub async fn delete_video(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let me = viewer.require()?.id.clone();
    let v = visible_video(&st, &viewer, &id).await?;
    if v.account_id != me {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the owner can delete a video"));
    }
    st.db.delete_video(&v.id).await?;
    st.wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a staging file when dropped, whatever path the handler leaves by.
struct Staged(std::path::PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("the upload is larger than the {} MiB limit", max >> 20))
}

pub async fn upload_video(
    State(st): State<AppState>,
    viewer: Viewer,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let me = viewer.require()?.clone();
    let mut mp = mp.map_err(|e| ApiError::bad_request(format!("expected multipart/form-data: {}", e.body_text())))?;
    check_pending_jobs(&st, &me.id, 0).await?;
    Limiters::check(&st.limiters.upload, me.id.to_string()).map_err(ApiError::rate_limited)?;
    let max = st.config.server.max_upload_bytes;
    let staging_dir = st.data_dir().join("staging");
    tokio::fs::create_dir_all(&staging_dir).await.map_err(ApiError::internal)?;
    let mut staged: Option<(Staged, u64, String)> = None;
    let mut caption = String::new();
    let mut visibility = String::new();
    let field_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            ApiError::bad_request(format!("reading the upload: {}", e.body_text()))
        }
    };
    while let Some(mut field) = mp.next_field().await.map_err(field_err)? {
        match field.name().unwrap_or("") {
            "file" if staged.is_none() => {
                let name: String = field.file_name().unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
                let path = staging_dir.join(Id::generate().as_str());
                let guard = Staged(path.clone());
                let mut f = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
                let mut n = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(field_err)? {
                    n += chunk.len() as u64;
                    if n > max {
                        return Err(too_large(max));
                    }
                    f.write_all(&chunk).await.map_err(ApiError::internal)?;
                }
                f.sync_all().await.map_err(ApiError::internal)?;
                staged = Some((guard, n, name));
            }
            "caption" => caption = small_text(field, 16 * 1024).await?,
            "visibility" => visibility = small_text(field, 64).await?,
            _ => {}
        }
    }
    let caption = Caption::parse(&caption)?;
    let visibility = Visibility::parse(&visibility)?;
    let (file, bytes, name) = staged.ok_or_else(|| ApiError::bad_request("file: the multipart field `file` is missing"))?;
    if bytes == 0 {
        return Err(ApiError::new(ErrorCode::MediaInvalid, "file: the file is empty"));
    }
    st.limiters.charge_upload(&me.id, bytes).map_err(ApiError::rate_limited)?;
    let id = Id::generate();
    let region = me.region.clone();
    let original_key = format!("originals/{id}");
    st.regions.put_durable(&region, &original_key, &file.0).await.map_err(ApiError::internal)?;
    drop(file);
    st.db
        .create_video(NewVideo {
            id: &id,
            account_id: &me.id,
            caption: &caption,
            visibility,
            region: &region,
            original_key: &original_key,
            original_bytes: bytes as i64,
            original_name: &name,
        })
        .await?;
    st.wake.notify_one();
    let v = st.db.video_by_id(&id).await?.ok_or_else(|| ApiError::internal("video vanished after insert"))?;
    Ok((StatusCode::ACCEPTED, Json(video_json(&st, &viewer, &v).await?)))
}

/// One account may have at most `uploads.max_pending_jobs` videos waiting for or
/// in processing (counting `open` resumable uploads that will become videos), so
/// nobody can fill the transcode queue for hours.
pub async fn check_pending_jobs(st: &AppState, account: &Id, open_uploads: i64) -> ApiResult<()> {
    let max = st.config.uploads.max_pending_jobs;
    let pending = kinora_db::JobQueue::pending_media_jobs(&st.db, account).await? + open_uploads;
    if pending >= max {
        return Err(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!("you have {pending} videos waiting to be processed (the limit is {max}); upload more when they are ready"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// `POST /api/v1/me/password`: a new password; every other token and session of
/// the account is signed out (the one making the change stays).
pub async fn change_password(
    State(st): State<AppState>,
    client: ClientAddr,
    viewer: Viewer,
    body: Result<Json<PasswordChange>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<StatusCode> {
    let me = viewer.require()?.clone();
    let Json(c) = body.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let new = Password::parse(c.new_password.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::new(ErrorCode::InvalidField, format!("new_{e}")))?;
    let current = c.current_password.as_deref().filter(|p| p.len() <= 1024).unwrap_or("").to_owned();
    // Guessing the current password here is limited like signing in.
    Limiters::check(&st.limiters.signin, format!("{}|{}", client.key, me.username)).map_err(ApiError::rate_limited)?;
    if !st.passwords.verify(me.password_hash.clone(), current).await? {
        return Err(ApiError::new(ErrorCode::InvalidField, "current_password: that is not your current password"));
    }
    let hash = st.passwords.hash(new.expose().to_owned()).await?;
    st.db.set_password_hash(&me.id, &hash).await?;
    let keep = match &viewer.via {
        AuthVia::Bearer { token_hash } | AuthVia::Session { token_hash, .. } => Some(token_hash.as_str()),
        AuthVia::None => None,
    };
    st.db.revoke_all_tokens(&me.id, keep).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/me/sessions`: signs out everywhere: every token and session of
/// the account, this one included.
pub async fn sign_out_everywhere(State(st): State<AppState>, viewer: Viewer) -> ApiResult<StatusCode> {
    let me = viewer.require()?;
    st.db.revoke_all_tokens(&me.id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn small_text(mut field: axum::extract::multipart::Field<'_>, max: usize) -> ApiResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
        buf.extend_from_slice(&chunk);
        if buf.len() > max {
            return Err(ApiError::new(ErrorCode::InvalidField, format!("{}: too long", field.name().unwrap_or("field"))));
        }
    }
    String::from_utf8(buf).map_err(|_| ApiError::new(ErrorCode::InvalidField, "form fields must be UTF-8"))
}
