//! Application errors: a stable [`ErrorCode`], a message for people, and, for
//! rate limits, when to retry. Services return these; the HTTP layer turns them
//! into responses, background code logs them. Nothing here knows HTTP.

use kinora_core::ErrorCode;

/// An error a service reports to whoever called it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds to wait before retrying (rate limits).
    pub retry_after: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError { code, message: message.into(), retry_after: None }
    }

    /// The one answer for "does not exist" and "you may not see it".
    pub fn not_found() -> AppError {
        AppError::new(ErrorCode::NotFound, "no such resource")
    }

    pub fn unauthorized() -> AppError {
        AppError::new(ErrorCode::Unauthorized, "sign in or send a valid Bearer token")
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Forbidden, message)
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::BadRequest, message)
    }

    pub fn invalid(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidField, message)
    }

    /// A server fault: logged with its details, answered without them.
    pub fn internal(err: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %err, "internal error");
        AppError::new(ErrorCode::Internal, "something went wrong on the server; it has been logged")
    }

    pub fn rate_limited(secs: u64) -> AppError {
        AppError { code: ErrorCode::RateLimited, message: format!("too many requests; try again in {secs} s"), retry_after: Some(secs) }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for AppError {}

impl From<kinora_core::types::FieldError> for AppError {
    fn from(e: kinora_core::types::FieldError) -> Self {
        AppError::new(ErrorCode::InvalidField, e.to_string())
    }
}

impl From<kinora_db::DbError> for AppError {
    fn from(e: kinora_db::DbError) -> Self {
        match e {
            kinora_db::DbError::NotFound => AppError::not_found(),
            kinora_db::DbError::Conflict => AppError::new(ErrorCode::Conflict, "already exists"),
            other => AppError::internal(other),
        }
    }
}

impl From<kinora_media::MediaError> for AppError {
    fn from(e: kinora_media::MediaError) -> Self {
        AppError::new(e.error_code(), e.to_string())
    }
}
