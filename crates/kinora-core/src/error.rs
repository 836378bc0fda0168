//! Stable error codes. These strings are part of the API contract (API.md); never
//! change one, only add.

use serde::Serialize;

/// Every error code the API can return, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The request is malformed (bad JSON, missing field, bad query).
    BadRequest,
    /// A field failed validation; the message names the field.
    InvalidField,
    /// No or bad credentials.
    Unauthorized,
    /// Authenticated, but not allowed (also: CSRF check failed).
    Forbidden,
    /// Does not exist, or the caller may not see it.
    NotFound,
    /// Conflicts with existing state (duplicate username).
    Conflict,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The upload is not a video we accept (wrong container, codec or format).
    UnsupportedMedia,
    /// The file could not be read as media (empty, truncated, corrupt).
    MediaInvalid,
    /// The media is longer than the configured duration limit.
    MediaTooLong,
    /// The media's width, height or pixel area exceeds the limits.
    MediaTooLarge,
    /// The media's frame rate or frame count exceeds the limits.
    MediaFrameRate,
    /// The media has no video stream.
    MediaNoVideo,
    /// The container has more streams than the limit.
    MediaStreams,
    /// The file is larger than the processing limit.
    MediaFileTooLarge,
    /// Processing took longer than its time limit.
    MediaTimeout,
    /// The requested byte range cannot be satisfied.
    RangeNotSatisfiable,
    /// A tus request without `Tus-Resumable: 1.0.0`.
    PreconditionFailed,
    /// A tus PATCH whose `Upload-Offset` is not the upload's current offset.
    OffsetMismatch,
    /// A tus PATCH whose body does not match its `Upload-Checksum`; the chunk was discarded.
    ChecksumMismatch,
    /// The request body has the wrong `Content-Type`.
    UnsupportedContentType,
    /// A per-account quota (concurrent uploads, in-flight bytes) would be exceeded.
    QuotaExceeded,
    /// The account is scheduled for deletion; signing in with `cancel_deletion` keeps it.
    AccountScheduledForDeletion,
    /// The account is suspended by moderators: it may read, appeal, download its data
    /// or delete itself, and nothing else.
    AccountSuspended,
    /// An archive to import is not a Kinora export, or is damaged; nothing was imported.
    InvalidArchive,
    /// Too many requests; retry after the `Retry-After` header.
    RateLimited,
    /// A server fault; details are in the server log.
    Internal,
}

impl ErrorCode {
    /// The kebab-case string clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad-request",
            ErrorCode::InvalidField => "invalid-field",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not-found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload-too-large",
            ErrorCode::UnsupportedMedia => "unsupported-media",
            ErrorCode::MediaInvalid => "media-invalid",
            ErrorCode::MediaTooLong => "media-too-long",
            ErrorCode::MediaTooLarge => "media-too-large",
            ErrorCode::MediaFrameRate => "media-frame-rate",
            ErrorCode::MediaNoVideo => "media-no-video",
            ErrorCode::MediaStreams => "media-streams",
            ErrorCode::MediaFileTooLarge => "media-file-too-large",
            ErrorCode::MediaTimeout => "media-timeout",
            ErrorCode::RangeNotSatisfiable => "range-not-satisfiable",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::OffsetMismatch => "offset-mismatch",
            ErrorCode::ChecksumMismatch => "checksum-mismatch",
            ErrorCode::UnsupportedContentType => "unsupported-content-type",
            ErrorCode::QuotaExceeded => "quota-exceeded",
            ErrorCode::AccountScheduledForDeletion => "account-scheduled-for-deletion",
            ErrorCode::AccountSuspended => "account-suspended",
            ErrorCode::InvalidArchive => "invalid-archive",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::Internal => "internal",
        }
    }

    /// Parses a stored code back (used for failed videos' `error.code`).
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::InvalidField => 422,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMedia
            | ErrorCode::MediaInvalid
            | ErrorCode::MediaTooLong
            | ErrorCode::MediaTooLarge
            | ErrorCode::MediaFrameRate
            | ErrorCode::MediaNoVideo
            | ErrorCode::MediaStreams
            | ErrorCode::MediaFileTooLarge => 415,
            ErrorCode::MediaTimeout => 500,
            ErrorCode::RangeNotSatisfiable => 416,
            ErrorCode::PreconditionFailed => 412,
            ErrorCode::OffsetMismatch => 409,
            ErrorCode::ChecksumMismatch => 460,
            ErrorCode::UnsupportedContentType => 415,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::AccountScheduledForDeletion => 403,
            ErrorCode::AccountSuspended => 403,
            ErrorCode::InvalidArchive => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
        }
    }
}

/// All codes, for documentation tests.
pub const ALL: &[ErrorCode] = &[
    ErrorCode::BadRequest,
    ErrorCode::InvalidField,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::NotFound,
    ErrorCode::Conflict,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnsupportedMedia,
    ErrorCode::MediaInvalid,
    ErrorCode::MediaTooLong,
    ErrorCode::MediaTooLarge,
    ErrorCode::MediaFrameRate,
    ErrorCode::MediaNoVideo,
    ErrorCode::MediaStreams,
    ErrorCode::MediaFileTooLarge,
    ErrorCode::MediaTimeout,
    ErrorCode::RangeNotSatisfiable,
    ErrorCode::PreconditionFailed,
    ErrorCode::OffsetMismatch,
    ErrorCode::ChecksumMismatch,
    ErrorCode::UnsupportedContentType,
    ErrorCode::QuotaExceeded,
    ErrorCode::AccountScheduledForDeletion,
    ErrorCode::AccountSuspended,
    ErrorCode::InvalidArchive,
    ErrorCode::RateLimited,
    ErrorCode::Internal,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(*c));
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
        }
    }
}
