//! Service errors as HTTP answers: `{"error": {"code", "message"}}` with the status
//! of the code, and `Retry-After` for rate limits.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kinora_app::AppError;
use kinora_core::ErrorCode;

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

/// The HTTP status an error code is answered with (the codes are core's; their
/// mapping to HTTP is this layer's).
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::InvalidField | ErrorCode::InvalidArchive => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::QuotaExceeded | ErrorCode::AccountScheduledForDeletion | ErrorCode::AccountSuspended => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::OffsetMismatch => StatusCode::CONFLICT,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMedia
        | ErrorCode::MediaInvalid
        | ErrorCode::MediaTooLong
        | ErrorCode::MediaTooLarge
        | ErrorCode::MediaFrameRate
        | ErrorCode::MediaNoVideo
        | ErrorCode::MediaStreams
        | ErrorCode::MediaFileTooLarge
        | ErrorCode::UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::MediaTimeout | ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        // tus: a chunk whose Upload-Checksum does not match (460, the extension's own status).
        ErrorCode::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = status_of(e.code);
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
