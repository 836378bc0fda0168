//! `/api/v1/auth/token`: API tokens.

use crate::error::ApiResult;
use crate::extract::{body, ClientAddr, JsonBody, Viewer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kinora_app::{accounts, AppError, AppState};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct Credentials {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Keep an account that is scheduled for deletion.
    #[serde(default)]
    pub cancel_deletion: bool,
}

#[derive(Serialize)]
pub struct Token {
    pub access_token: String,
    pub token_type: &'static str,
}

pub async fn create_token(State(st): State<AppState>, client: ClientAddr, b: JsonBody<Credentials>) -> ApiResult<Json<Token>> {
    let c = body(b)?;
    let account = accounts::check_credentials(&st, &client.key, c.username.as_deref(), c.password.as_deref(), c.cancel_deletion).await?;
    let access_token = accounts::create_api_token(&st, &account, (&client.key, &client.device)).await?;
    Ok(Json(Token { access_token, token_type: "Bearer" }))
}

pub async fn revoke_token(State(st): State<AppState>, viewer: Viewer) -> ApiResult<StatusCode> {
    let hash = viewer.token_hash().ok_or_else(AppError::unauthorized)?;
    accounts::revoke_token(&st, hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
