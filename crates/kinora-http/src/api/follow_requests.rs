//! `/api/v1/follow-requests`: requests to follow a private account.

use crate::error::ApiResult;
use crate::extract::Viewer;
use axum::extract::{Path, State};
use axum::Json;
use kinora_app::views::{BriefAccount, Page};
use kinora_app::{follows, AppState};
use serde::Serialize;

pub async fn list(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<Page<BriefAccount>>> {
    Ok(Json(follows::follow_requests(&st, &viewer.caller).await?))
}

#[derive(Serialize)]
pub struct Answered {
    pub state: &'static str,
}

pub async fn accept(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Answered>> {
    follows::answer_request(&st, &viewer.caller, &name, true).await?;
    Ok(Json(Answered { state: "accepted" }))
}

pub async fn reject(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Answered>> {
    follows::answer_request(&st, &viewer.caller, &name, false).await?;
    Ok(Json(Answered { state: "rejected" }))
}
