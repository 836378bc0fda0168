//! Moderation: the staff report queue (`/api/v1/staff/reports`), decisions
//! (`/api/v1/staff/actions`) — staff only, everyone else gets a 404 — and the
//! affected person's appeal (`/api/v1/moderation/{action_id}/appeal`).

use crate::error::ApiResult;
use crate::extract::{body, JsonBody, ListQuery, Viewer, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_app::moderation::{self, Appealed, Decided, Decision, Opening, QueueFilter, ReportPage, ReviewView};
use kinora_app::{staff, AppState};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    kind: Option<String>,
    reason: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/staff/reports?status=open&kind=report|appeal&reason=spam`.
pub async fn list(State(st): State<AppState>, viewer: Viewer, q: Result<Q<QueueQuery>, crate::error::ApiError>) -> ApiResult<Json<ReportPage>> {
    staff::role(&st, &viewer.caller).await?;
    let Q(q) = q?;
    let page = ListQuery { cursor: q.cursor, limit: q.limit }.page()?;
    let f = QueueFilter { status: q.status, kind: q.kind, reason: q.reason };
    Ok(Json(moderation::queue(&st, &viewer.caller, &f, &page).await?))
}

/// `GET /api/v1/staff/reports/{id}`: the report, and its item when the moderator
/// could see it anyway; a hidden item says `needs_open`. Never appends to the log.
pub async fn get(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<ReviewView>> {
    staff::role(&st, &viewer.caller).await?;
    Ok(Json(moderation::review(&st, &viewer.caller, &id, Opening::Look).await?))
}

/// `POST /api/v1/staff/reports/{id}/open`: the report and its item; a logged access
/// when the moderator could not otherwise see the item.
pub async fn open(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<ReviewView>> {
    staff::role(&st, &viewer.caller).await?;
    Ok(Json(moderation::review(&st, &viewer.caller, &id, Opening::Open).await?))
}

#[derive(Deserialize)]
pub struct ActionBody {
    report_id: Option<String>,
    action: Option<String>,
    reason: Option<String>,
    note: Option<String>,
}

/// `POST /api/v1/staff/actions`.
pub async fn act(State(st): State<AppState>, viewer: Viewer, b: JsonBody<ActionBody>) -> ApiResult<(StatusCode, Json<Decided>)> {
    staff::role(&st, &viewer.caller).await?;
    let b = body(b)?;
    let d = Decision::parse(b.report_id.unwrap_or_default(), b.action.as_deref().unwrap_or(""), b.reason.as_deref().unwrap_or(""), b.note.unwrap_or_default())?;
    Ok((StatusCode::CREATED, Json(moderation::act(&st, &viewer.caller, d).await?)))
}

#[derive(Deserialize)]
pub struct AppealBody {
    text: Option<String>,
}

/// `POST /api/v1/moderation/{action_id}/appeal`.
pub async fn appeal(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, b: JsonBody<AppealBody>) -> ApiResult<(StatusCode, Json<Appealed>)> {
    let b = body(b)?;
    Ok((StatusCode::CREATED, Json(moderation::appeal(&st, &viewer.caller, &id, b.text.as_deref().unwrap_or("")).await?)))
}
