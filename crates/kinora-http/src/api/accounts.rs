//! `/api/v1/accounts`: sign-up, profiles, their videos, follows, lists, blocks, mutes.

use crate::error::ApiResult;
use crate::extract::{body, ClientAddr, JsonBody, ListQuery, Viewer, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_app::views::{AccountView, BriefAccount, FollowView, Page, VideoView};
use kinora_app::{accounts, feeds, follows, videos, AppState};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct SignUp {
    pub username: Option<String>,
    pub password: Option<String>,
    pub email: Option<String>,
}

impl From<SignUp> for accounts::SignUp {
    fn from(s: SignUp) -> Self {
        accounts::SignUp { username: s.username, password: s.password, email: s.email }
    }
}

pub async fn create_account(State(st): State<AppState>, client: ClientAddr, b: JsonBody<SignUp>) -> ApiResult<(StatusCode, Json<AccountView>)> {
    Ok((StatusCode::CREATED, Json(accounts::sign_up(&st, &client.key, body(b)?.into()).await?)))
}

pub async fn get_account(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<AccountView>> {
    Ok(Json(accounts::get(&st, &viewer.caller, &name).await?))
}

pub async fn account_videos(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<VideoView>>> {
    Ok(Json(feeds::account_videos(&st, &viewer.caller, &name, &q.page()?).await?))
}

/// `{"state": "following" | "requested" | "none"}`.
#[derive(Serialize)]
pub struct FollowAnswer {
    pub state: FollowView,
}

/// `POST /accounts/{username}/follow`, with an optional body `{"from_video": id}`.
#[derive(Deserialize, Default)]
pub struct FollowBody {
    pub from_video: Option<String>,
}

pub async fn follow(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, raw: axum::body::Bytes) -> ApiResult<Json<FollowAnswer>> {
    // No body (or an empty one) is a plain follow.
    let b: FollowBody = if raw.iter().all(u8::is_ascii_whitespace) {
        FollowBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| crate::error::ApiError::bad_request(format!("invalid JSON: {e}")))?
    };
    Ok(Json(FollowAnswer { state: follows::follow(&st, &viewer.caller, &name, b.from_video.as_deref()).await? }))
}

pub async fn unfollow(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<FollowAnswer>> {
    Ok(Json(FollowAnswer { state: follows::unfollow(&st, &viewer.caller, &name).await? }))
}

pub async fn followers(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<BriefAccount>>> {
    Ok(Json(follows::follow_list(&st, &viewer.caller, &name, true, &q.page()?).await?))
}

pub async fn following(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<BriefAccount>>> {
    Ok(Json(follows::follow_list(&st, &viewer.caller, &name, false, &q.page()?).await?))
}

/// `GET /api/v1/accounts/{username}/liked`: videos the account liked, when it
/// shows them (or to itself).
pub async fn liked(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<VideoView>>> {
    Ok(Json(videos::liked_videos(&st, &viewer.caller, &name, &q.page()?).await?))
}

pub async fn block(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    follows::set_block(&st, &viewer.caller, &name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unblock(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    follows::set_block(&st, &viewer.caller, &name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mute(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    follows::set_mute(&st, &viewer.caller, &name, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unmute(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    follows::set_mute(&st, &viewer.caller, &name, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
