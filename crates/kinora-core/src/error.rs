//! Stable error codes. These strings are part of the API contract (API.md); never
//! change one, only add. The HTTP status each is answered with is the HTTP layer's
//! (`kinora_http::error::status_of`).

crate::closed_set! {
    /// Every error code the API can return, in one place.
    pub enum ErrorCode {
        /// The request is malformed (bad JSON, missing field, bad query).
        BadRequest = "bad-request",
        /// A field failed validation; the message names the field.
        InvalidField = "invalid-field",
        /// No or bad credentials.
        Unauthorized = "unauthorized",
        /// Authenticated, but not allowed (also: CSRF check failed).
        Forbidden = "forbidden",
        /// Does not exist, or the caller may not see it.
        NotFound = "not-found",
        /// Conflicts with existing state (duplicate username).
        Conflict = "conflict",
        /// The body is larger than the configured limit.
        PayloadTooLarge = "payload-too-large",
        /// The upload is not a video we accept (wrong container, codec or format).
        UnsupportedMedia = "unsupported-media",
        /// The file could not be read as media (empty, truncated, corrupt).
        MediaInvalid = "media-invalid",
        /// The media is longer than the configured duration limit.
        MediaTooLong = "media-too-long",
        /// The media's width, height or pixel area exceeds the limits.
        MediaTooLarge = "media-too-large",
        /// The media's frame rate or frame count exceeds the limits.
        MediaFrameRate = "media-frame-rate",
        /// The media has no video stream.
        MediaNoVideo = "media-no-video",
        /// The container has more streams than the limit.
        MediaStreams = "media-streams",
        /// The file is larger than the processing limit.
        MediaFileTooLarge = "media-file-too-large",
        /// Processing took longer than its time limit.
        MediaTimeout = "media-timeout",
        /// The requested byte range cannot be satisfied.
        RangeNotSatisfiable = "range-not-satisfiable",
        /// A tus request without `Tus-Resumable: 1.0.0`.
        PreconditionFailed = "precondition-failed",
        /// A tus PATCH whose `Upload-Offset` is not the upload's current offset.
        OffsetMismatch = "offset-mismatch",
        /// A tus PATCH whose body does not match its `Upload-Checksum`; the chunk was discarded.
        ChecksumMismatch = "checksum-mismatch",
        /// The request body has the wrong `Content-Type`.
        UnsupportedContentType = "unsupported-content-type",
        /// A per-account quota (concurrent uploads, in-flight bytes) would be exceeded.
        QuotaExceeded = "quota-exceeded",
        /// The account is scheduled for deletion; signing in with `cancel_deletion` keeps it.
        AccountScheduledForDeletion = "account-scheduled-for-deletion",
        /// The account is suspended by moderators: it may read, appeal, download its data
        /// or delete itself, and nothing else.
        AccountSuspended = "account-suspended",
        /// An archive to import is not a Kinora export, or is damaged; nothing was imported.
        InvalidArchive = "invalid-archive",
        /// Too many requests; retry after the `Retry-After` header.
        RateLimited = "rate-limited",
        /// A server fault; details are in the server log.
        Internal = "internal",
    }
}

/// All codes, for documentation tests.
pub const ALL: &[ErrorCode] = ErrorCode::ALL;

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
