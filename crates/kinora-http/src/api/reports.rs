//! `/api/v1/reports`: reports for the moderation queue.

use crate::error::ApiResult;
use crate::extract::{body, JsonBody, Viewer};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kinora_app::reports::{self, Reported};
use kinora_app::AppState;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Report {
    video_id: Option<String>,
    comment_id: Option<String>,
    account: Option<String>,
    reason: Option<String>,
    details: Option<String>,
}

pub async fn create(State(st): State<AppState>, viewer: Viewer, b: JsonBody<Report>) -> ApiResult<(StatusCode, Json<Reported>)> {
    let r = body(b)?;
    let r = reports::Report { video_id: r.video_id, comment_id: r.comment_id, account: r.account, reason: r.reason, details: r.details };
    Ok((StatusCode::CREATED, Json(reports::report(&st, &viewer.caller, r).await?)))
}
