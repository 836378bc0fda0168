//! Resumable uploads: the tus 1.0.0 protocol at `/api/v1/uploads` with the
//! creation, creation-with-upload, termination, expiration and checksum (sha1,
//! sha256) extensions.
//!
//! Bytes are appended to `<data>/uploads/<id>`; the database row's `received` is
//! the acknowledged offset, updated only after the bytes are fsynced, so a crash
//! never loses an acknowledged byte (unacknowledged tail bytes are cut off on the
//! next PATCH). When the last byte arrives the file becomes the video's original
//! and the video + transcode job are created in one transaction; `Kinora-Video-Id`
//! names it on the final PATCH and on every later HEAD.

use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{now_ms, UploadRepo, UploadRow};
use sha1::Digest as _;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

pub const TUS_VERSION: &str = "1.0.0";
const EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration,checksum";
const OFFSET_CT: &str = "application/offset+octet-stream";

/// Uploads with a request in flight on this node (one writer per upload).
#[derive(Default)]
pub struct Busy(Mutex<HashSet<String>>);

struct BusyGuard(Arc<Busy>, String);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0 .0.lock() {
            s.remove(&self.1);
        }
    }
}

fn lock(busy: &Arc<Busy>, id: &Id) -> ApiResult<BusyGuard> {
    let mut s = busy.0.lock().map_err(|_| ApiError::internal("upload lock poisoned"))?;
    if !s.insert(id.to_string()) {
        return Err(ApiError::new(ErrorCode::Conflict, "another request is writing to this upload; retry"));
    }
    Ok(BusyGuard(busy.clone(), id.to_string()))
}

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

fn file_of(st: &AppState, id: &Id) -> PathBuf {
    st.data_dir().join("uploads").join(id.as_str())
}

/// `Upload-Metadata: key base64,key base64`.
fn metadata(headers: &HeaderMap) -> ApiResult<std::collections::HashMap<String, String>> {
    let mut out = std::collections::HashMap::new();
    let Some(raw) = headers.get("upload-metadata") else { return Ok(out) };
    let raw = raw.to_str().map_err(|_| ApiError::bad_request("Upload-Metadata must be ASCII"))?;
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.trim())
            .map_err(|_| ApiError::bad_request(format!("Upload-Metadata: {k} is not base64")))?;
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
    m.insert(h("tus-max-size"), hv(&st.config.server.max_upload_bytes.to_string()));
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
    let me = viewer.require()?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::bad_request("Upload-Defer-Length is not supported; send Upload-Length"));
    }
    let length = header_i64(headers, "upload-length")?.ok_or_else(|| ApiError::bad_request("Upload-Length is required"))?;
    let max = i64::try_from(st.config.server.max_upload_bytes).unwrap_or(i64::MAX);
    if length > max {
        return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("Upload-Length is over the {} MiB limit", max >> 20)));
    }
    if length == 0 {
        return Err(ApiError::new(ErrorCode::MediaInvalid, "the file is empty"));
    }
    let meta = metadata(headers)?;
    let caption = Caption::parse(meta.get("caption").map(String::as_str).unwrap_or(""))?;
    let visibility = Visibility::parse(meta.get("visibility").map(String::as_str).unwrap_or(""))?;
    let filename: String = meta
        .get("filename")
        .or_else(|| meta.get("name"))
        .map(String::as_str)
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let q = &st.config.uploads;
    let (open, bytes) = st.db.open_uploads(&me.id).await?;
    if open >= q.max_concurrent {
        return Err(ApiError::new(ErrorCode::QuotaExceeded, format!("you already have {open} unfinished uploads; finish or delete one")));
    }
    if bytes.saturating_add(length) > q.max_inflight_bytes {
        return Err(ApiError::new(ErrorCode::QuotaExceeded, "your unfinished uploads would exceed the in-flight byte quota"));
    }
    crate::api::check_pending_jobs(st, &me.id, open).await?;
    crate::app::Limiters::check(&st.limiters.upload, me.id.to_string()).map_err(ApiError::rate_limited)?;
    // Admission is where an upload's cost is counted: its bytes, once. Its chunks
    // are not rate limited after this.
    st.limiters.charge_upload(&me.id, length as u64).map_err(ApiError::rate_limited)?;
    let row = UploadRow {
        id: Id::generate(),
        account_id: me.id.clone(),
        video_id: Id::generate(),
        length,
        received: 0,
        filename,
        caption: caption.as_str().to_owned(),
        visibility,
        state: "open".into(),
        expires_at: now_ms() + q.expiry_hours * 3_600_000,
    };
    let path = file_of(st, &row.id);
    tokio::fs::create_dir_all(path.parent().unwrap_or(st.data_dir())).await.map_err(ApiError::internal)?;
    tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    st.db.create_upload(&row).await?;
    let mut m = base_headers();
    m.insert(header::LOCATION, hv(&format!("/api/v1/uploads/{}", row.id)));
    m.insert(h("upload-expires"), hv(&http_date(row.expires_at)));
    let with_body = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) == Some(OFFSET_CT);
    if with_body {
        let _guard = lock(&st.busy_uploads, &row.id)?;
        let out = append(st, &row, headers, body).await?;
        m.insert(h("upload-offset"), hv(&out.received.to_string()));
        if let Some(v) = out.video {
            m.insert(h("kinora-video-id"), hv(v.as_str()));
        }
    }
    Ok((StatusCode::CREATED, m).into_response())
}

/// The caller's upload, or the same 404 as a missing one.
async fn owned(st: &AppState, viewer: &Viewer, id: &str) -> ApiResult<UploadRow> {
    let me = viewer.require()?;
    let id = Id::parse(id).ok_or_else(ApiError::not_found)?;
    let row = st.db.upload_by_id(&id).await?.ok_or_else(ApiError::not_found)?;
    if row.account_id != me.id {
        return Err(ApiError::not_found());
    }
    Ok(row)
}

/// `HEAD /api/v1/uploads/{id}`: the offset to resume from.
pub async fn head(State(st): State<AppState>, viewer: Viewer, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let r = async {
        check_version(&headers)?;
        let mut row = owned(&st, &viewer, &id).await?;
        let mut video = None;
        if row.state == "done" {
            video = Some(row.video_id.clone());
        } else if row.received == row.length {
            // All bytes arrived but a crash came before the video was created.
            let _guard = lock(&st.busy_uploads, &row.id)?;
            finish(&st, &row).await?;
            video = Some(row.video_id.clone());
            row.state = "done".into();
        }
        let mut m = base_headers();
        m.insert(h("upload-offset"), hv(&row.received.to_string()));
        m.insert(h("upload-length"), hv(&row.length.to_string()));
        if row.state == "open" {
            m.insert(h("upload-expires"), hv(&http_date(row.expires_at)));
        }
        if let Some(v) = video {
            m.insert(h("kinora-video-id"), hv(v.as_str()));
        }
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
        let row = owned(&st, &viewer, &id).await?;
        if headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) != Some(OFFSET_CT) {
            return Err(ApiError::new(ErrorCode::UnsupportedContentType, format!("PATCH bodies must be {OFFSET_CT}")));
        }
        let offset = header_i64(&headers, "upload-offset")?.ok_or_else(|| ApiError::bad_request("Upload-Offset is required"))?;
        let _guard = lock(&st.busy_uploads, &row.id)?;
        // Re-read under the lock: another request may have moved it.
        let row = owned(&st, &viewer, &id).await?;
        if offset != row.received {
            return Err(ApiError::new(
                ErrorCode::OffsetMismatch,
                format!("Upload-Offset is {offset} but the upload is at {}", row.received),
            ));
        }
        let mut m = base_headers();
        if row.state == "done" {
            m.insert(h("upload-offset"), hv(&row.received.to_string()));
            m.insert(h("kinora-video-id"), hv(row.video_id.as_str()));
            return Ok((StatusCode::NO_CONTENT, m).into_response());
        }
        let b = body.take().ok_or_else(|| ApiError::internal("body already read"))?;
        let out = append(&st, &row, &headers, b).await?;
        m.insert(h("upload-offset"), hv(&out.received.to_string()));
        m.insert(h("upload-expires"), hv(&http_date(out.expires_at)));
        if let Some(v) = out.video {
            m.insert(h("kinora-video-id"), hv(v.as_str()));
        }
        Ok((StatusCode::NO_CONTENT, m).into_response())
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
        let row = owned(&st, &viewer, &id).await?;
        let _guard = lock(&st.busy_uploads, &row.id)?;
        st.db.delete_upload(&row.id).await?;
        let _ = tokio::fs::remove_file(file_of(&st, &row.id)).await;
        Ok::<_, ApiError>((StatusCode::NO_CONTENT, base_headers()).into_response())
    }
    .await;
    r.unwrap_or_else(tus_err)
}

struct Appended {
    received: i64,
    expires_at: i64,
    video: Option<Id>,
}

enum Checksum {
    Sha1(sha1::Sha1, Vec<u8>),
    Sha256(sha2::Sha256, Vec<u8>),
}

fn checksum(headers: &HeaderMap) -> ApiResult<Option<Checksum>> {
    let Some(v) = headers.get("upload-checksum") else { return Ok(None) };
    let s = v.to_str().map_err(|_| ApiError::bad_request("Upload-Checksum must be ASCII"))?;
    let (algo, b64) = s.trim().split_once(' ').ok_or_else(|| ApiError::bad_request("Upload-Checksum: `<algorithm> <base64>`"))?;
    let want = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ApiError::bad_request("Upload-Checksum: the digest is not base64"))?;
    match algo {
        "sha1" => Ok(Some(Checksum::Sha1(sha1::Sha1::new(), want))),
        "sha256" => Ok(Some(Checksum::Sha256(sha2::Sha256::new(), want))),
        other => Err(ApiError::bad_request(format!("Upload-Checksum: unsupported algorithm {other:?}; use sha1 or sha256"))),
    }
}

/// Appends the body at the acknowledged offset. Without a checksum, bytes that
/// arrived before the client went away are kept (and acknowledged by the next
/// HEAD); with one, the chunk counts only if it matches.
async fn append(st: &AppState, row: &UploadRow, headers: &HeaderMap, body: Body) -> ApiResult<Appended> {
    let mut sum = checksum(headers)?;
    if let Some(len) = header_i64(headers, "content-length")? {
        // Checked: a Content-Length near i64::MAX must not wrap around.
        if row.received.checked_add(len).is_none_or(|end| end > row.length) {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge, "the body goes past Upload-Length"));
        }
    }
    let path = file_of(st, &row.id);
    let mut f = tokio::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&path).await.map_err(ApiError::internal)?;
    // Cut bytes that were written but never acknowledged (a crash mid-PATCH).
    f.set_len(row.received as u64).await.map_err(ApiError::internal)?;
    f.seek(std::io::SeekFrom::Start(row.received as u64)).await.map_err(ApiError::internal)?;
    let mut w = tokio::io::BufWriter::with_capacity(1 << 20, f);
    let mut written: i64 = 0;
    let mut stream = body.into_data_stream();
    let mut broken = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                broken = Some(e.to_string());
                break;
            }
        };
        let end = i64::try_from(chunk.len()).ok().and_then(|n| row.received.checked_add(written)?.checked_add(n));
        if end.is_none_or(|end| end > row.length) {
            let f = w.into_inner();
            let _ = f.set_len(row.received as u64).await;
            return Err(ApiError::new(ErrorCode::PayloadTooLarge, "the body goes past Upload-Length"));
        }
        match &mut sum {
            Some(Checksum::Sha1(hs, _)) => hs.update(&chunk),
            Some(Checksum::Sha256(hs, _)) => hs.update(&chunk),
            None => {}
        }
        w.write_all(&chunk).await.map_err(ApiError::internal)?;
        written += chunk.len() as i64;
    }
    w.flush().await.map_err(ApiError::internal)?;
    let f = w.into_inner();
    let discard = |msg: ApiError| async {
        let _ = f.set_len(row.received as u64).await;
        Err::<Appended, _>(msg)
    };
    if let Some(c) = sum {
        if broken.is_some() {
            return discard(ApiError::bad_request("the body ended early; the chunk was discarded")).await;
        }
        let ok = match c {
            Checksum::Sha1(hs, want) => hs.finalize().as_slice() == want.as_slice(),
            Checksum::Sha256(hs, want) => hs.finalize().as_slice() == want.as_slice(),
        };
        if !ok {
            return discard(ApiError::new(ErrorCode::ChecksumMismatch, "the chunk does not match Upload-Checksum; it was discarded")).await;
        }
    }
    f.sync_data().await.map_err(ApiError::internal)?;
    drop(f);
    let received = row.received + written;
    let expires_at = now_ms() + st.config.uploads.expiry_hours * 3_600_000;
    st.db.set_received(&row.id, received, expires_at).await?;
    if let Some(e) = broken {
        tracing::info!(upload = %row.id, received, error = %e, "upload body ended early; kept what arrived");
    }
    let mut video = None;
    if received == row.length {
        let done = UploadRow { received, ..row.clone() };
        finish(st, &done).await?;
        video = Some(row.video_id.clone());
    }
    Ok(Appended { received, expires_at, video })
}

/// Complete upload -> original object -> video + job (idempotent at every step).
pub async fn finish(st: &AppState, row: &UploadRow) -> ApiResult<()> {
    let account = kinora_db::AccountRepo::account_by_id(&st.db, &row.account_id).await?.ok_or_else(ApiError::not_found)?;
    let key = format!("originals/{}", row.video_id);
    let path = file_of(st, &row.id);
    fault_fail_finish(row)?;
    st.regions.put_durable(&account.region, &key, &path).await.map_err(ApiError::internal)?;
    st.db.finish_upload(row, &account.region, &key).await?;
    let _ = tokio::fs::remove_file(&path).await;
    st.wake.notify_one();
    Ok(())
}

/// Fault injection for the housekeeping tests: finishing an upload whose file name
/// contains `KINORA_FAULT_FAIL_FINISH` (`*`: every upload) fails.
fn fault_fail_finish(row: &UploadRow) -> ApiResult<()> {
    match std::env::var("KINORA_FAULT_FAIL_FINISH") {
        Ok(f) if f == "*" || (!f.is_empty() && row.filename.contains(&f)) => Err(ApiError::internal("KINORA_FAULT_FAIL_FINISH")),
        _ => Ok(()),
    }
}

/// Start-up and periodic housekeeping: finish complete uploads a crash left open,
/// delete expired ones, and remove files no open upload owns. One upload that
/// cannot be finished is logged and retried next time; it never stops the rest.
pub async fn sweep(st: &AppState) -> anyhow::Result<()> {
    for row in st.db.complete_open_uploads().await? {
        if let Ok(_g) = lock(&st.busy_uploads, &row.id) {
            if let Err(e) = finish(st, &row).await {
                tracing::error!(upload = %row.id, error = %e.message, "finishing a complete upload failed; retrying at the next sweep");
            }
        }
    }
    for id in st.db.expired_uploads().await? {
        if let Ok(_g) = lock(&st.busy_uploads, &id) {
            st.db.delete_upload(&id).await?;
            let _ = tokio::fs::remove_file(file_of(st, &id)).await;
            tracing::info!(upload = %id, "expired upload removed");
        }
    }
    let dir = st.data_dir().join("uploads");
    if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().into_owned();
            let keep = match Id::parse(&name) {
                Some(id) => matches!(st.db.upload_by_id(&id).await?, Some(r) if r.state == "open"),
                None => false,
            };
            if !keep {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
    Ok(())
}
