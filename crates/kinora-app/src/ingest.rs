//! Ingest: the one way a video comes in, for multipart uploads, finished resumable
//! uploads and demo content alike. The original goes to the owner's home region
//! (durably), then the video row, its hashtags, its mention notifications and its
//! transcode job are written in one transaction (`kinora_db::videos::ingest_in`).

use crate::error::{AppError, AppResult};
use crate::state::{AppState, Limiters};
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{AccountRow, JobQueue, NewVideo, VideoRepo};
use std::path::Path;

/// One account may have at most `uploads.max_pending_jobs` videos waiting for or
/// in processing (counting `open_uploads` that will become videos), so nobody can
/// fill the transcode queue for hours.
pub async fn check_pending_jobs(st: &AppState, account: &Id, open_uploads: i64) -> AppResult<()> {
    let max = st.config.uploads.max_pending_jobs;
    let pending = st.db.pending_media_jobs(account).await? + open_uploads;
    if pending >= max {
        return Err(AppError::new(
            ErrorCode::QuotaExceeded,
            format!("you have {pending} videos waiting to be processed (the limit is {max}); upload more when they are ready"),
        ));
    }
    Ok(())
}

/// What a path that creates videos asks to add: how many videos, how many bytes
/// (0 when not known yet: a multipart body not read yet).
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub videos: u32,
    pub bytes: u64,
    /// Resumable uploads the account has open (they will become videos too), and
    /// the bytes they declared (they will be stored too).
    pub open_uploads: i64,
    pub inflight_bytes: u64,
}

/// The one admission of every path that creates videos (multipart and resumable
/// uploads, imports from the API and the command line; federation will join):
/// videos waiting for processing, stored bytes against the account's quota, and
/// creations and bytes per hour. Nothing is stored before it passes.
pub async fn admit_videos(st: &AppState, account: &AccountRow, ask: Ask) -> AppResult<()> {
    let max = st.config.uploads.max_pending_jobs;
    let pending = st.db.pending_media_jobs(&account.id).await? + ask.open_uploads;
    if pending + i64::from(ask.videos) > max {
        return Err(AppError::new(
            ErrorCode::QuotaExceeded,
            format!("you have {pending} videos waiting to be processed and ask for {} more (the limit is {max}); add more when they are ready", ask.videos),
        ));
    }
    check_storage(st, &account.id, ask.bytes.saturating_add(ask.inflight_bytes)).await?;
    if ask.videos > 0 {
        Limiters::limit_n(&st.limiters.upload, account.id.to_string(), ask.videos)?;
    }
    if ask.bytes > 0 {
        st.limiters.charge_upload(&account.id, ask.bytes).map_err(AppError::rate_limited)?;
    }
    Ok(())
}

/// Stored bytes (originals and renditions of videos not deleted) plus `more`
/// must stay within `uploads.max_stored_bytes`.
pub async fn check_storage(st: &AppState, account: &Id, more: u64) -> AppResult<()> {
    let quota = st.config.uploads.max_stored_bytes;
    let used = st.db.stored_bytes(account).await?;
    let more = i64::try_from(more).unwrap_or(i64::MAX);
    if used.saturating_add(more) > quota {
        return Err(AppError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "your videos take {} MiB of your {} MiB storage quota; this needs {} MiB more. Delete some videos first",
                used >> 20,
                quota >> 20,
                (more + (1 << 20) - 1) >> 20
            ),
        ));
    }
    Ok(())
}

/// Before a multipart upload's body is read: the account may upload now.
pub async fn admit(st: &AppState, account: &AccountRow) -> AppResult<()> {
    admit_videos(st, account, Ask { videos: 1, bytes: 0, open_uploads: 0, inflight_bytes: 0 }).await
}

/// After a multipart body was read: its bytes count against the account's bytes
/// per hour (admitted before the body, when its size was not known).
pub fn charge_bytes(st: &AppState, account: &AccountRow, bytes: u64) -> AppResult<()> {
    if bytes > 0 {
        st.limiters.charge_upload(&account.id, bytes).map_err(AppError::rate_limited)?;
    }
    Ok(())
}

/// What a new video is made of.
pub struct Incoming<'a> {
    /// The complete original, on local disk (staging); the caller removes it after.
    pub file: &'a Path,
    pub bytes: u64,
    pub caption: &'a Caption,
    pub visibility: Visibility,
    pub original_name: &'a str,
}

/// Stores the original in the owner's home region and creates the video with its
/// tags, mentions and transcode job. Returns the new video's id.
#[tracing::instrument(name = "ingest", skip_all, fields(account = %owner.id, bytes = v.bytes, video = tracing::field::Empty))]
pub async fn ingest(st: &AppState, owner: &AccountRow, v: Incoming<'_>) -> AppResult<Id> {
    if v.bytes == 0 {
        return Err(AppError::new(ErrorCode::MediaInvalid, "file: the file is empty"));
    }
    // Whatever admitted it, the stored bytes stay within the quota.
    check_storage(st, &owner.id, v.bytes).await?;
    let id = Id::generate();
    tracing::Span::current().record("video", tracing::field::display(&id));
    let original_key = format!("originals/{id}");
    // Written before its video row: an intent first, so a crash in between leaves
    // something start-up may clean (and only this).
    st.db.add_object_intent(&owner.region, &original_key).await?;
    crate::objects::put(st, &owner.region, &original_key, v.file).await.map_err(AppError::internal)?;
    st.db
        .create_video(NewVideo {
            id: &id,
            account_id: &owner.id,
            caption: v.caption,
            visibility: v.visibility,
            region: &owner.region,
            original_key: &original_key,
            original_bytes: i64::try_from(v.bytes).unwrap_or(i64::MAX),
            original_name: v.original_name,
        })
        .await?;
    st.db.remove_object_intent(&owner.region, &original_key).await?;
    st.wake.notify_one();
    Ok(id)
}
