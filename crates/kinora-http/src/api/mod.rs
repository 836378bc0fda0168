//! The JSON API (docs/api.md), a file per resource. Each handler parses its input
//! into types, calls one service of `kinora_app`, and renders its `Serialize`
//! answer; none talks to the database.

pub mod accounts;
pub mod auth;
pub mod comments;
pub mod feeds;
pub mod follow_requests;
pub mod me;
pub mod notifications;
pub mod reports;
pub mod search;
pub mod tags;
pub mod uploads;
pub mod videos;

use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kinora_app::AppState;

pub async fn healthz(State(st): State<AppState>) -> Response {
    match kinora_app::admin::healthy(&st).await {
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

/// The OpenAPI document (checked against the response structs by tests).
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
