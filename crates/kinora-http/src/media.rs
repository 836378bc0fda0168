//! Media bytes: Range (206/416), strong ETags, If-None-Match, If-Range, nosniff and
//! caching, behind the same access policy as the video JSON.

use crate::error::ApiResult;
use crate::extract::Viewer;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use kinora_app::{access, accounts, AppState};
use kinora_core::ErrorCode;

/// What the request's validators and Range header ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    NotModified,
    Full,
    Range(u64, u64),
    Unsatisfiable,
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// Only a strong ETag can validate a range; a date or another tag means "send it all".
fn has_stale_if_range(headers: &HeaderMap, etag: &str) -> bool {
    headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_some_and(|ir| ir.trim() != etag)
}

/// Decides the response from the headers, the object's length and its ETag.
pub fn decide(headers: &HeaderMap, len: u64, etag: &str) -> Want {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        if etag_matches(inm, etag) {
            return Want::NotModified;
        }
    }
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Want::Full };
    // A suffix longer than the object means all of it (RFC 9110 14.1.2), not 416.
    if let Some(n) = range.trim().strip_prefix("bytes=-").and_then(|n| n.trim().parse::<u64>().ok()) {
        if n == 0 && len > 0 {
            return Want::Unsatisfiable;
        }
        if n >= len && len > 0 && !has_stale_if_range(headers, etag) {
            return Want::Range(0, len - 1);
        }
    }
    if has_stale_if_range(headers, etag) {
        return Want::Full;
    }
    match http_range_header::parse_range_header(range) {
        Ok(parsed) => match parsed.validate(len) {
            // Several ranges: answer with the whole object, which RFC 9110 allows.
            Ok(ranges) if ranges.len() == 1 => match ranges.first() {
                Some(r) => Want::Range(*r.start(), *r.end()),
                None => Want::Full,
            },
            Ok(_) => Want::Full,
            Err(_) => Want::Unsatisfiable,
        },
        // A header we cannot parse is ignored, as RFC 9110 says.
        Err(_) => Want::Full,
    }
}

pub async fn serve(
    State(st): State<AppState>,
    viewer: Viewer,
    method: Method,
    headers: HeaderMap,
    Path((video, name)): Path<(String, String)>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> ApiResult<Response> {
    // `?grant=`: a time-limited link issued to a staff member by a logged access.
    let grant = q.as_deref().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("grant=")));
    // One query for the video and the object; the policy decides as everywhere.
    let released = access::media_object(&st, &viewer.caller, &video, &name, grant).await?;
    let (obj, public) = (released.object(), released.public());
    let len = u64::try_from(obj.bytes).unwrap_or(0);
    let etag = format!("\"{}\"", &obj.sha256[..obj.sha256.len().min(32)]);
    // Shared caches may keep only what anyone may see: a private account's
    // "public" video is for its followers, so `public` is false for it too.
    let mut h = HeaderMap::new();
    let hv = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    h.insert(header::ETAG, hv(&etag));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        if public {
            // Names carry a content hash, so the bytes behind a URL never change:
            // browsers keep them for a year. Shared caches (CDNs) revalidate after
            // 10 s, so making a video private or deleting it stops every cached
            // copy within seconds (a revalidation is a cheap 304 while it is public).
            HeaderValue::from_static("public, max-age=31536000, s-maxage=10, immutable")
        } else {
            HeaderValue::from_static("private, no-cache")
        },
    );
    if !public {
        h.insert(header::VARY, HeaderValue::from_static("Cookie, Authorization"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_TYPE, hv(&obj.mime));
    let (status, start, end) = match decide(&headers, len, &etag) {
        Want::NotModified => return Ok((StatusCode::NOT_MODIFIED, h).into_response()),
        Want::Unsatisfiable => {
            h.insert(header::CONTENT_RANGE, hv(&format!("bytes */{len}")));
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let body = serde_json::json!({"error": {"code": ErrorCode::RangeNotSatisfiable.as_str(),
                "message": format!("the range is outside the object's {len} bytes")}});
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, h, body.to_string()).into_response());
        }
        Want::Full => (StatusCode::OK, 0, len.saturating_sub(1)),
        Want::Range(s, e) => {
            h.insert(header::CONTENT_RANGE, hv(&format!("bytes {s}-{e}/{len}")));
            (StatusCode::PARTIAL_CONTENT, s, e)
        }
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    h.insert(header::CONTENT_LENGTH, hv(&count.to_string()));
    if method == Method::HEAD || count == 0 {
        return Ok((status, h).into_response());
    }
    // From the home region, or the backup replica when home fails.
    let stream = released.read_range(&st, start..end + 1).await?;
    Ok((status, h, Body::from_stream(stream)).into_response())
}

/// `GET /avatars/{account}/{name}`: a profile picture, for whoever may see the account.
pub async fn serve_avatar(State(st): State<AppState>, viewer: Viewer, Path((account, name)): Path<(String, String)>) -> ApiResult<Response> {
    let bytes = accounts::avatar_bytes(&st, &viewer.caller, &account, &name).await?;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, max-age=3600")], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn regression_suffix_range_longer_than_the_file_sends_it_all() {
        let e = "\"abc\"";
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=-500")]), 100, e), Want::Range(0, 99));
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=-100")]), 100, e), Want::Range(0, 99));
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=-500"), (header::IF_RANGE, "\"old\"")]), 100, e), Want::Full);
    }

    #[test]
    fn range_decisions() {
        let e = "\"abc\"";
        assert_eq!(decide(&hm(&[]), 100, e), Want::Full);
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=0-9")]), 100, e), Want::Range(0, 9));
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=90-")]), 100, e), Want::Range(90, 99));
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=-10")]), 100, e), Want::Range(90, 99));
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=100-")]), 100, e), Want::Unsatisfiable);
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=-0")]), 100, e), Want::Unsatisfiable);
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=0-1,5-6")]), 100, e), Want::Full);
        assert_eq!(decide(&hm(&[(header::RANGE, "pages=1")]), 100, e), Want::Full);
        assert_eq!(decide(&hm(&[(header::IF_NONE_MATCH, "\"abc\"")]), 100, e), Want::NotModified);
        assert_eq!(decide(&hm(&[(header::IF_NONE_MATCH, "\"x\", W/\"abc\"")]), 100, e), Want::NotModified);
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"old\"")]), 100, e), Want::Full);
        assert_eq!(decide(&hm(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"abc\"")]), 100, e), Want::Range(0, 9));
    }
}
