//! Service errors as HTTP answers: `{"error": {"code", "message"}}` with the status
//! of the code, and `Retry-After` for rate limits.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kinora_app::AppError;

/// An [`AppError`] on its way to a client.
#[derive(Debug)]
pub struct ApiError(pub AppError);

pub type ApiResult<T> = Result<T, ApiError>;

impl std::ops::Deref for ApiError {
    type Target = AppError;
    fn deref(&self) -> &AppError {
        &self.0
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<kinora_app::data::DbError> for ApiError {
    fn from(e: kinora_app::data::DbError) -> Self {
        ApiError(e.into())
    }
}

impl From<kinora_core::types::FieldError> for ApiError {
    fn from(e: kinora_core::types::FieldError) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    pub fn new(code: kinora_core::ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(AppError::new(code, message))
    }

    pub fn not_found() -> ApiError {
        ApiError(AppError::not_found())
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError(AppError::bad_request(msg))
    }

    pub fn internal(err: impl std::fmt::Display) -> ApiError {
        ApiError(AppError::internal(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({"error": {"code": e.code.as_str(), "message": e.message}});
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = e.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}
