//! `/api/v1/notifications`.

use crate::error::ApiResult;
use crate::extract::{body, JsonBody, ListQuery, Viewer, Q};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kinora_app::notifications::{self, NotificationPage};
use kinora_app::AppState;
use serde::Deserialize;

pub async fn list(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<NotificationPage>> {
    Ok(Json(notifications::notifications(&st, &viewer.caller, &q.page()?).await?))
}

#[derive(Deserialize)]
pub struct MarkRead {
    ids: Option<Vec<String>>,
}

pub async fn mark_read(State(st): State<AppState>, viewer: Viewer, b: JsonBody<MarkRead>) -> ApiResult<StatusCode> {
    notifications::mark_read(&st, &viewer.caller, body(b)?.ids).await?;
    Ok(StatusCode::NO_CONTENT)
}
