//! Operators' work: health, re-transcoding the library.

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::Id;
use kinora_db::{JobKind, JobQueue, VideoRepo};

/// Whether the database answers.
pub async fn healthy(st: &AppState) -> AppResult<()> {
    Ok(st.db.ping().await?)
}

/// Queues `reprocess` jobs for `videos` (or every ready or failed video with
/// `all`); returns how many were queued now. Operator work shares one fair-share
/// slot with every account's uploads, so reprocessing the whole library does not
/// hold new uploads back.
pub async fn queue_reprocess(st: &AppState, all: bool, videos: &[String]) -> AppResult<usize> {
    let ids: Vec<Id> = if all {
        st.db.reprocessable_videos().await?
    } else {
        videos.iter().map(|v| Id::parse(v).ok_or_else(|| AppError::invalid(format!("{v:?} is not a video id")))).collect::<AppResult<_>>()?
    };
    let operator = Id::from_trusted("operator".to_owned());
    let mut queued = 0;
    for id in &ids {
        if !st.db.video_exists(id).await? {
            return Err(AppError::invalid(format!("no video {id}")));
        }
        if st.db.enqueue_unique(JobKind::Reprocess, Some(&operator), &serde_json::json!({ "video_id": id.as_str() })).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// `reprocess` jobs queued or running.
pub async fn pending_reprocess(st: &AppState) -> AppResult<i64> {
    Ok(st.db.pending_jobs(JobKind::Reprocess).await?)
}
