//! `/api/v1/me/exports`: "Download your data".

use crate::error::ApiResult;
use crate::extract::Viewer;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use kinora_app::exports::{self, ExportView};
use kinora_app::AppState;

/// `POST /api/v1/me/exports` -> 202 `{"id", "status": "pending"}`.
pub async fn create(State(st): State<AppState>, viewer: Viewer) -> ApiResult<(StatusCode, Json<ExportView>)> {
    Ok((StatusCode::ACCEPTED, Json(exports::request(&st, &viewer.caller).await?)))
}

pub async fn get(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<ExportView>> {
    Ok(Json(exports::get(&st, &viewer.caller, &id).await?))
}

/// The ZIP, for its owner only; never cached.
pub async fn download(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Response> {
    let d = exports::download(&st, &viewer.caller, &id).await?;
    let disposition = format!("attachment; filename=\"{}\"", d.name);
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_LENGTH, d.bytes.to_string()),
        ],
        axum::body::Body::from_stream(d.stream),
    )
        .into_response())
}
