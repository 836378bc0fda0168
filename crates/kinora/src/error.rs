//! API errors: a stable code, a message for humans, the right status.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kinora_core::ErrorCode;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), retry_after: None }
    }

    /// The one answer for "does not exist" and "you may not see it".
    pub fn not_found() -> ApiError {
        ApiError::new(ErrorCode::NotFound, "no such resource")
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "sign in or send a valid Bearer token")
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, msg)
    }

    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %err, "internal error");
        ApiError::new(ErrorCode::Internal, "something went wrong on the server; it has been logged")
    }

    pub fn rate_limited(secs: u64) -> ApiError {
        ApiError {
            code: ErrorCode::RateLimited,
            message: format!("too many requests; try again in {secs} s"),
            retry_after: Some(secs),
        }
    }
}

impl From<kinora_core::types::FieldError> for ApiError {
    fn from(e: kinora_core::types::FieldError) -> Self {
        ApiError::new(ErrorCode::InvalidField, e.to_string())
    }
}

impl From<kinora_db::DbError> for ApiError {
    fn from(e: kinora_db::DbError) -> Self {
        match e {
            kinora_db::DbError::NotFound => ApiError::not_found(),
            kinora_db::DbError::Conflict => ApiError::new(ErrorCode::Conflict, "already exists"),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({"error": {"code": self.code.as_str(), "message": self.message}});
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
