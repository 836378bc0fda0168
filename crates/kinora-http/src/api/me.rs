//! `/api/v1/me`: the caller's account, profile, picture, password, sessions, numbers.

use crate::error::{ApiError, ApiResult};
use crate::extract::{body, ClientAddr, JsonBody, Viewer};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_app::accounts::{self, Analytics, AVATAR_MAX_BYTES};
use kinora_app::views::AccountView;
use kinora_app::AppState;
use kinora_core::ErrorCode;
use serde::Deserialize;

pub async fn me(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<AccountView>> {
    Ok(Json(accounts::me(&st, &viewer.caller).await?))
}

#[derive(Deserialize)]
pub struct ProfileEdit {
    display_name: Option<String>,
    bio: Option<String>,
    private: Option<bool>,
    likes_public: Option<bool>,
    personalized_feed: Option<bool>,
}

pub async fn edit_me(State(st): State<AppState>, viewer: Viewer, b: JsonBody<ProfileEdit>) -> ApiResult<Json<AccountView>> {
    let e = body(b)?;
    let edit = accounts::ProfileEdit {
        display_name: e.display_name,
        bio: e.bio,
        private: e.private,
        likes_public: e.likes_public,
        personalized_feed: e.personalized_feed,
    };
    Ok(Json(accounts::edit_profile(&st, &viewer.caller, edit).await?))
}

/// `POST /api/v1/me/avatar` (multipart `file`).
pub async fn upload_avatar(
    State(st): State<AppState>,
    viewer: Viewer,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<AccountView>> {
    viewer.caller.require()?;
    let mut mp = mp.map_err(|e| ApiError::bad_request(format!("expected multipart/form-data: {}", e.body_text())))?;
    let mut data = Vec::new();
    while let Some(mut f) = mp.next_field().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
        if f.name() != Some("file") {
            continue;
        }
        while let Some(c) = f.chunk().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
            data.extend_from_slice(&c);
            if data.len() > AVATAR_MAX_BYTES {
                return Err(kinora_app::AppError::new(ErrorCode::PayloadTooLarge, "profile pictures are limited to 10 MiB").into());
            }
        }
    }
    Ok(Json(accounts::set_avatar(&st, &viewer.caller, &data).await?))
}

#[derive(Deserialize)]
pub struct DeleteAccount {
    pub password: Option<String>,
}

/// `DELETE /api/v1/me` `{"password"}` -> 202 `{"erase_at"}`: deactivated at once,
/// erased after the grace period.
pub async fn delete_account(
    State(st): State<AppState>,
    client: ClientAddr,
    viewer: Viewer,
    b: JsonBody<DeleteAccount>,
) -> ApiResult<(StatusCode, Json<kinora_app::erasure::Scheduled>)> {
    let d = body(b)?;
    let scheduled = kinora_app::erasure::request(&st, &viewer.caller, &client.key, d.password.as_deref().unwrap_or("")).await?;
    Ok((StatusCode::ACCEPTED, Json(scheduled)))
}

#[derive(Deserialize)]
pub struct PasswordChange {
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// `POST /api/v1/me/password`: every other token and session is signed out.
pub async fn change_password(State(st): State<AppState>, client: ClientAddr, viewer: Viewer, b: JsonBody<PasswordChange>) -> ApiResult<StatusCode> {
    let c = body(b)?;
    let (current, new) = (c.current_password.unwrap_or_default(), c.new_password.unwrap_or_default());
    accounts::change_password(&st, &viewer.caller, &client.key, viewer.token_hash(), &current, &new).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/me/sessions`: signs out everywhere, this session included.
pub async fn sign_out_everywhere(State(st): State<AppState>, viewer: Viewer) -> ApiResult<StatusCode> {
    accounts::sign_out_everywhere(&st, &viewer.caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn analytics(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<Analytics>> {
    Ok(Json(accounts::analytics(&st, &viewer.caller).await?))
}
