//! Resumable uploads, everything but the headers: admission (quotas, limits), one
//! writer per upload, offset checks, appending acknowledged bytes durably,
//! finishing into the ingest service, crash recovery and housekeeping. The HTTP
//! layer (tus 1.0.0) parses headers into [`Chunk`] and maps [`Progress`] back.
//!
//! Bytes are appended to `<data>/uploads/<id>`; the row's `received` is the
//! acknowledged offset, updated only after the bytes are fsynced, so a crash never
//! loses an acknowledged byte (unacknowledged tail bytes are cut off on the next
//! append). When the last byte arrives the file becomes the video's original.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{now_ms, UploadRepo, UploadRow, UploadState};
use sha1::Digest as _;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Uploads with a request in flight on this node (one writer per upload).
#[derive(Default)]
pub struct Busy(Mutex<HashSet<String>>);

pub struct BusyGuard(Arc<Busy>, String);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0 .0.lock() {
            s.remove(&self.1);
        }
    }
}

fn lock(busy: &Arc<Busy>, id: &Id) -> AppResult<BusyGuard> {
    let mut s = busy.0.lock().map_err(|_| AppError::internal("upload lock poisoned"))?;
    if !s.insert(id.to_string()) {
        return Err(AppError::new(ErrorCode::Conflict, "another request is writing to this upload; retry"));
    }
    Ok(BusyGuard(busy.clone(), id.to_string()))
}

fn file_of(st: &AppState, id: &Id) -> PathBuf {
    st.data_dir().join("uploads").join(id.as_str())
}

/// What a new resumable upload declares.
pub struct NewUpload {
    pub length: i64,
    pub caption: Caption,
    pub visibility: Visibility,
    pub filename: String,
}

/// Admits a new upload: size limits, the account's quotas (open uploads, bytes in
/// flight, videos waiting for processing), creations per hour and bytes per hour.
/// Its chunks are not rate limited after this.
pub async fn create(st: &AppState, caller: &Caller, u: NewUpload) -> AppResult<UploadRow> {
    let me = caller.require()?;
    let max = i64::try_from(st.config.server.max_upload_bytes).unwrap_or(i64::MAX);
    if u.length > max {
        return Err(AppError::new(ErrorCode::PayloadTooLarge, format!("Upload-Length is over the {} MiB limit", max >> 20)));
    }
    if u.length == 0 {
        return Err(AppError::new(ErrorCode::MediaInvalid, "the file is empty"));
    }
    let q = &st.config.uploads;
    let (open, bytes) = st.db.open_uploads(&me.id).await?;
    if open >= q.max_concurrent {
        return Err(AppError::new(ErrorCode::QuotaExceeded, format!("you already have {open} unfinished uploads; finish or delete one")));
    }
    if bytes.saturating_add(u.length) > q.max_inflight_bytes {
        return Err(AppError::new(ErrorCode::QuotaExceeded, "your unfinished uploads would exceed the in-flight byte quota"));
    }
    let ask = crate::ingest::Ask {
        videos: 1,
        bytes: u64::try_from(u.length).unwrap_or(u64::MAX),
        open_uploads: open,
        inflight_bytes: u64::try_from(bytes).unwrap_or(0),
    };
    crate::ingest::admit_videos(st, me, ask).await?;
    let filename: String = u.filename.chars().filter(|c| !c.is_control()).take(200).collect();
    let row = UploadRow {
        id: Id::generate(),
        account_id: me.id.clone(),
        video_id: Id::generate(),
        length: u.length,
        received: 0,
        filename,
        caption: u.caption.as_str().to_owned(),
        visibility: u.visibility,
        state: UploadState::Open,
        expires_at: now_ms() + q.expiry_hours * 3_600_000,
    };
    let path = file_of(st, &row.id);
    tokio::fs::create_dir_all(path.parent().unwrap_or(st.data_dir())).await.map_err(AppError::internal)?;
    tokio::fs::File::create(&path).await.map_err(AppError::internal)?;
    st.db.create_upload(&row).await?;
    Ok(row)
}

/// The caller's upload, or the same 404 as a missing one.
async fn owned(st: &AppState, caller: &Caller, id: &str) -> AppResult<UploadRow> {
    let me = caller.require()?;
    let id = Id::parse(id).ok_or_else(AppError::not_found)?;
    let row = st.db.upload_by_id(&id).await?.ok_or_else(AppError::not_found)?;
    if row.account_id != me.id {
        return Err(AppError::not_found());
    }
    Ok(row)
}

/// Termination: the caller's upload and its bytes are deleted.
#[tracing::instrument(name = "upload.terminate", skip_all, fields(upload = id))]
pub async fn terminate(st: &AppState, caller: &Caller, id: &str) -> AppResult<()> {
    let row = owned(st, caller, id).await?;
    let _guard = lock(&st.busy_uploads, &row.id)?;
    st.db.delete_upload(&row.id).await?;
    let _ = tokio::fs::remove_file(file_of(st, &row.id)).await;
    Ok(())
}

/// Where an upload stands: the offset to resume from, its length, until when it
/// may be resumed (while open), and its video once the last byte arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub received: i64,
    pub length: i64,
    pub expires_at: Option<i64>,
    pub video: Option<Id>,
}

/// One request's bytes: the declared digest (`Upload-Checksum`) and length, and the body.
pub struct Chunk<S> {
    pub checksum: Option<Checksum>,
    pub content_length: Option<i64>,
    pub body: S,
}

/// Creation, with the first chunk when the request carries one
/// (creation-with-upload).
#[tracing::instrument(name = "upload.create", skip_all, fields(length = u.length))]
pub async fn create_with<S, E>(st: &AppState, caller: &Caller, u: NewUpload, chunk: Option<Chunk<S>>) -> AppResult<(Id, Progress)>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let row = create(st, caller, u).await?;
    let mut progress = Progress { received: 0, length: row.length, expires_at: Some(row.expires_at), video: None };
    if let Some(chunk) = chunk {
        let _guard = lock(&st.busy_uploads, &row.id)?;
        progress = append(st, &row, chunk).await?;
    }
    Ok((row.id, progress))
}

/// Where the caller's upload stands (tus HEAD). An upload whose bytes all
/// arrived before a crash stopped it from becoming a video is finished now.
#[tracing::instrument(name = "upload.status", skip_all, fields(upload = id))]
pub async fn status(st: &AppState, caller: &Caller, id: &str) -> AppResult<Progress> {
    let row = owned(st, caller, id).await?;
    let open = Some(row.expires_at).filter(|_| row.state == UploadState::Open);
    if row.state == UploadState::Done {
        return Ok(Progress { received: row.received, length: row.length, expires_at: None, video: Some(row.video_id) });
    }
    if row.received == row.length {
        let _guard = lock(&st.busy_uploads, &row.id)?;
        finish(st, &row).await?;
        return Ok(Progress { received: row.received, length: row.length, expires_at: None, video: Some(row.video_id) });
    }
    Ok(Progress { received: row.received, length: row.length, expires_at: open, video: None })
}

/// Appends a chunk at `offset` (tus PATCH), one writer per upload. What the person
/// chose last wins: `restate` (the caption and audience sent again with a chunk,
/// as the web UI does with every chunk) replaces the ones given at creation, so
/// resuming an earlier attempt never publishes its settings. An offset other than
/// the acknowledged one is refused; a finished upload answers where it ended.
#[tracing::instrument(name = "upload.patch", skip_all, fields(upload = id, offset = offset))]
pub async fn patch<S, E>(st: &AppState, caller: &Caller, id: &str, offset: i64, restate: Option<(Caption, Visibility)>, chunk: Chunk<S>) -> AppResult<Progress>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let row = owned(st, caller, id).await?;
    let _guard = lock(&st.busy_uploads, &row.id)?;
    if let Some((caption, visibility)) = restate {
        if row.state == UploadState::Open {
            st.db.restate_upload(&row.id, caption.as_str(), visibility).await?;
        }
    }
    // Re-read under the lock: another request may have moved it.
    let row = owned(st, caller, id).await?;
    if offset != row.received {
        return Err(AppError::new(ErrorCode::OffsetMismatch, format!("Upload-Offset is {offset} but the upload is at {}", row.received)));
    }
    if row.state == UploadState::Done {
        return Ok(Progress { received: row.received, length: row.length, expires_at: None, video: Some(row.video_id) });
    }
    append(st, &row, chunk).await
}

/// A chunk's declared digest (`Upload-Checksum`), with the hasher that checks it.
pub enum Checksum {
    Sha1(sha1::Sha1, Vec<u8>),
    Sha256(sha2::Sha256, Vec<u8>),
}

impl Checksum {
    /// `sha1` or `sha256` with the expected digest; `None` for other algorithms.
    pub fn new(algorithm: &str, want: Vec<u8>) -> Option<Checksum> {
        match algorithm {
            "sha1" => Some(Checksum::Sha1(sha1::Sha1::new(), want)),
            "sha256" => Some(Checksum::Sha256(sha2::Sha256::new(), want)),
            _ => None,
        }
    }
}

/// Appends the body at the acknowledged offset. Without a checksum, bytes that
/// arrived before the client went away are kept (and acknowledged by the next
/// HEAD); with one, the chunk counts only if it matches.
async fn append<S, E>(st: &AppState, row: &UploadRow, chunk: Chunk<S>) -> AppResult<Progress>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let Chunk { checksum: mut sum, content_length, body } = chunk;
    if let Some(len) = content_length {
        // Checked: a Content-Length near i64::MAX must not wrap around.
        if row.received.checked_add(len).is_none_or(|end| end > row.length) {
            return Err(AppError::new(ErrorCode::PayloadTooLarge, "the body goes past Upload-Length"));
        }
    }
    let path = file_of(st, &row.id);
    let mut f = tokio::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&path).await.map_err(AppError::internal)?;
    // Cut bytes that were written but never acknowledged (a crash mid-PATCH).
    f.set_len(row.received as u64).await.map_err(AppError::internal)?;
    f.seek(std::io::SeekFrom::Start(row.received as u64)).await.map_err(AppError::internal)?;
    let mut w = tokio::io::BufWriter::with_capacity(1 << 20, f);
    let mut written: i64 = 0;
    let mut stream = body;
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
            return Err(AppError::new(ErrorCode::PayloadTooLarge, "the body goes past Upload-Length"));
        }
        match &mut sum {
            Some(Checksum::Sha1(hs, _)) => hs.update(&chunk),
            Some(Checksum::Sha256(hs, _)) => hs.update(&chunk),
            None => {}
        }
        w.write_all(&chunk).await.map_err(AppError::internal)?;
        written += chunk.len() as i64;
    }
    w.flush().await.map_err(AppError::internal)?;
    let f = w.into_inner();
    let discard = |msg: AppError| async {
        let _ = f.set_len(row.received as u64).await;
        Err::<Progress, _>(msg)
    };
    if let Some(c) = sum {
        if broken.is_some() {
            return discard(AppError::bad_request("the body ended early; the chunk was discarded")).await;
        }
        let ok = match c {
            Checksum::Sha1(hs, want) => hs.finalize().as_slice() == want.as_slice(),
            Checksum::Sha256(hs, want) => hs.finalize().as_slice() == want.as_slice(),
        };
        if !ok {
            return discard(AppError::new(ErrorCode::ChecksumMismatch, "the chunk does not match Upload-Checksum; it was discarded")).await;
        }
    }
    f.sync_data().await.map_err(AppError::internal)?;
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
    Ok(Progress { received, length: row.length, expires_at: Some(expires_at), video })
}

/// Complete upload -> original object -> video + job (idempotent at every step).
async fn finish(st: &AppState, row: &UploadRow) -> AppResult<()> {
    let account = kinora_db::AccountRepo::account_by_id(&st.db, &row.account_id).await?.ok_or_else(AppError::not_found)?;
    let key = format!("originals/{}", row.video_id);
    let path = file_of(st, &row.id);
    fault_fail_finish(row)?;
    crate::objects::put(st, &account.region, &key, &path).await.map_err(AppError::internal)?;
    st.db.finish_upload(row, &account.region, &key).await?;
    let _ = tokio::fs::remove_file(&path).await;
    st.wake.notify_one();
    Ok(())
}

/// Fault injection for the housekeeping tests: finishing an upload whose file name
/// contains `KINORA_FAULT_FAIL_FINISH` (`*`: every upload) fails.
fn fault_fail_finish(row: &UploadRow) -> AppResult<()> {
    match std::env::var("KINORA_FAULT_FAIL_FINISH") {
        Ok(f) if f == "*" || (!f.is_empty() && row.filename.contains(&f)) => Err(AppError::internal("KINORA_FAULT_FAIL_FINISH")),
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
                tracing::error!(upload = %row.id, error = %e, "finishing a complete upload failed; retrying at the next sweep");
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
                Some(id) => matches!(st.db.upload_by_id(&id).await?, Some(r) if r.state == UploadState::Open),
                None => false,
            };
            if !keep {
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
    Ok(())
}
