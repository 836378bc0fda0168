//! The JSON API (docs/api.md), a file per resource. Each handler parses its input
//! into types, calls one service of `kinora_app`, and renders its `Serialize`
//! answer; none talks to the database.

pub mod accounts;
pub mod auth;
pub mod comments;
pub mod exports;
pub mod feeds;
pub mod follow_requests;
pub mod imports;
pub mod me;
pub mod moderation;
pub mod notifications;
pub mod reports;
pub mod search;
pub mod staff;
pub mod tags;
pub mod uploads;
pub mod videos;

use crate::error::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kinora_app::AppState;

/// `GET /healthz`: 200 while the server can serve (the database answers); the body
/// names any region whose store is failing (reads then come from the backup).
pub async fn healthz(State(st): State<AppState>) -> Response {
    match kinora_app::admin::healthy(&st).await {
        Ok(()) => {
            let mut body = String::from("ok\n");
            for (region, since, error) in st.failing_regions() {
                body.push_str(&format!("region {region}: failing since {}: {error}\n", kinora_app::views::rfc3339(since)));
            }
            (StatusCode::OK, body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// `GET /api/v1/instance/residency`: the regions, their jurisdictions, which is
/// primary and which holds backups, and what is kept where.
pub async fn residency(State(st): State<AppState>) -> axum::Json<kinora_app::residency::Declaration> {
    axum::Json(kinora_app::residency::declaration(&st))
}

pub async fn api_not_found() -> ApiError {
    ApiError::not_found()
}

/// The OpenAPI document (checked against the response structs by tests).
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
