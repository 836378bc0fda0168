//! Resumable uploads: the tus 1.0.0 protocol at `/api/v1/uploads` with the
//! creation, creation-with-upload, termination, expiration and checksum (sha1,
//! sha256) extensions.
//!
//! This is the protocol: headers in, headers out. Admission, durable appends and
//! finishing into the ingest service are `kinora_app::uploads`. `Kinora-Video-Id`
//! names the video on the final PATCH and on every later HEAD.

use crate::error::{ApiError, ApiResult};
use crate::extract::Viewer;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;
use kinora_app::{uploads, AppState};
use kinora_core::{Caption, ErrorCode, Visibility};

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const OFFSET_CT: &str = "application/offset+octet-stream";

fn h(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""))
}

fn base_headers() -> HeaderMap {
    let mut m = HeaderMap::new();
    m.insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    m.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    m
}

/// Adds `Tus-Resumable` to error answers too, as the protocol asks.
fn tus_err(e: ApiError) -> Response {
    let mut r = e.into_response();
    r.headers_mut().insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    if r.status() == StatusCode::PRECONDITION_FAILED {
        r.headers_mut().insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    }
    r
}

fn check_version(headers: &HeaderMap) -> ApiResult<()> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError::new(ErrorCode::PreconditionFailed, "send the header Tus-Resumable: 1.0.0")),
    }
}

fn header_i64(headers: &HeaderMap, name: &str) -> ApiResult<Option<i64>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be a non-negative integer"))),
    }
}

fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// `Upload-Metadata: key base64,key base64`.
fn metadata(headers: &HeaderMap) -> ApiResult<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    let Some(raw) = headers.get("upload-metadata") else { return Ok(out) };
    let raw = raw.to_str().map_err(|_| ApiError::bad_request("Upload-Metadata must be ASCII"))?;
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(v.trim()).map_err(|_| ApiError::bad_request(format!("Upload-Metadata: {k} is not base64")))?;
        let v = String::from_utf8(bytes).map_err(|_| ApiError::bad_request(format!("Upload-Metadata: {k} is not UTF-8")))?;
        out.insert(k.to_owned(), v);
    }
    Ok(out)
}

/// `OPTIONS /api/v1/uploads`: what this server supports.
pub async fn options(State(st): State<AppState>) -> Response {
    let mut m = base_headers();
    m.insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    m.insert(h("tus-extension"), HeaderValue::from_static(EXTENSIONS));
    m.insert(h("tus-max-size"), hv(&st.config().server.max_upload_bytes.to_string()));
    m.insert(h("tus-checksum-algorithm"), HeaderValue::from_static("sha1,sha256"));
    (StatusCode::NO_CONTENT, m).into_response()
}

/// `POST /api/v1/uploads`: creation (and creation-with-upload).
pub async fn create(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, body: Body) -> Response {
    match create_inner(&st, &viewer, &headers, body).await {
        Ok(r) => r,
        Err(e) => tus_err(e),
    }
}

async fn create_inner(st: &AppState, viewer: &Viewer, headers: &HeaderMap, body: Body) -> ApiResult<Response> {
    check_version(headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::bad_request("Upload-Defer-Length is not supported; send Upload-Length"));
    }
    let length = header_i64(headers, "upload-length")?.ok_or_else(|| ApiError::bad_request("Upload-Length is required"))?;
    let meta = metadata(headers)?;
    let new = uploads::NewUpload {
        length,
        caption: Caption::parse(meta.get("caption").map(String::as_str).unwrap_or(""))?,
        visibility: Visibility::parse(meta.get("visibility").map(String::as_str).unwrap_or(""))?,
        filename: meta.get("filename").or_else(|| meta.get("name")).cloned().unwrap_or_default(),
    };
    let with_body = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) == Some(OFFSET_CT);
    let chunk = if with_body { Some(chunk(headers, body)?) } else { None };
    let (id, progress) = uploads::create_with(st, &viewer.caller, new, chunk).await?;
    let mut m = progress_headers(&progress);
    m.insert(header::LOCATION, hv(&format!("/api/v1/uploads/{id}")));
    if !with_body {
        m.remove(h("upload-offset"));
    }
    Ok((StatusCode::CREATED, m).into_response())
}

/// The chunk a request carries: its declared digest and length, and the body.
fn chunk(headers: &HeaderMap, body: Body) -> ApiResult<uploads::Chunk<axum::body::BodyDataStream>> {
    Ok(uploads::Chunk { checksum: checksum(headers)?, content_length: header_i64(headers, "content-length")?, body: body.into_data_stream() })
}

/// `Upload-Offset`, `Upload-Expires` (while open) and `Kinora-Video-Id` (once finished).
fn progress_headers(p: &uploads::Progress) -> HeaderMap {
    let mut m = base_headers();
    m.insert(h("upload-offset"), hv(&p.received.to_string()));
    if let Some(at) = p.expires_at {
        m.insert(h("upload-expires"), hv(&http_date(at)));
    }
    if let Some(v) = &p.video {
        m.insert(h("kinora-video-id"), hv(v.as_str()));
    }
    m
}

/// `HEAD /api/v1/uploads/{id}`: the offset to resume from.
pub async fn head(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let r = async {
        check_version(&headers)?;
        let p = uploads::status(&st, &viewer.caller, &id).await?;
        let mut m = progress_headers(&p);
        m.insert(h("upload-length"), hv(&p.length.to_string()));
        Ok::<_, ApiError>((StatusCode::OK, m).into_response())
    }
    .await;
    r.unwrap_or_else(|e| {
        // HEAD answers carry no body.
        let mut resp = tus_err(e);
        *resp.body_mut() = Body::empty();
        resp
    })
}

/// Reads and drops what is left of a refused request's body (within limits), so
/// the client's connection stays usable for its next request; tus clients reuse
/// connections and resume right after a refusal.
async fn drain(body: Option<Body>) {
    let Some(body) = body else { return };
    let mut s = body.into_data_stream();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut n = 0usize;
        while let Some(Ok(c)) = s.next().await {
            n += c.len();
            if n > 64 << 20 {
                break;
            }
        }
    })
    .await;
}

/// `PATCH /api/v1/uploads/{id}`: append bytes at `Upload-Offset`.
pub async fn patch(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Response {
    let mut body = Some(body);
    let r = async {
        check_version(&headers)?;
        if headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(OFFSET_CT) {
            return Err(ApiError::new(ErrorCode::UnsupportedContentType, format!("PATCH bodies must be {OFFSET_CT}")));
        }
        let offset = header_i64(&headers, "upload-offset")?.ok_or_else(|| ApiError::bad_request("Upload-Offset is required"))?;
        // The web UI restates the caption and audience with every chunk.
        let meta = metadata(&headers)?;
        let restate = if meta.contains_key("caption") || meta.contains_key("visibility") {
            let caption = Caption::parse(meta.get("caption").map(String::as_str).unwrap_or(""))?;
            let visibility = Visibility::parse(meta.get("visibility").map(String::as_str).unwrap_or(""))?;
            Some((caption, visibility))
        } else {
            None
        };
        let b = body.take().ok_or_else(|| ApiError::internal("body already read"))?;
        let p = uploads::patch(&st, &viewer.caller, &id, offset, restate, chunk(&headers, b)?).await?;
        Ok((StatusCode::NO_CONTENT, progress_headers(&p)).into_response())
    }
    .await;
    match r {
        Ok(resp) => resp,
        Err(e) => {
            drain(body).await;
            tus_err(e)
        }
    }
}

/// `DELETE /api/v1/uploads/{id}`: termination.
pub async fn terminate(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let r = async {
        check_version(&headers)?;
        uploads::terminate(&st, &viewer.caller, &id).await?;
        Ok::<_, ApiError>((StatusCode::NO_CONTENT, base_headers()).into_response())
    }
    .await;
    r.unwrap_or_else(tus_err)
}

fn checksum(headers: &HeaderMap) -> ApiResult<Option<uploads::Checksum>> {
    let Some(v) = headers.get("upload-checksum") else { return Ok(None) };
    let s = v.to_str().map_err(|_| ApiError::bad_request("Upload-Checksum must be ASCII"))?;
    let (algo, b64) = s.trim().split_once(' ').ok_or_else(|| ApiError::bad_request("Upload-Checksum: `<algorithm> <base64>`"))?;
    let want = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| ApiError::bad_request("Upload-Checksum: the digest is not base64"))?;
    uploads::Checksum::new(algo, want)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request(format!("Upload-Checksum: unsupported algorithm {algo:?}; use sha1 or sha256")))
}
