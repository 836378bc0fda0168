//! Housekeeping: what a crashed process left behind, and what is kept only for a
//! while (`[retention]`).

use crate::state::AppState;
use kinora_db::{JobQueue, TokenRepo, VideoRepo};

/// Removes what a crashed process left on this node: multipart staging files and
/// job scratch directories (no request or worker of this process exists yet), and
/// originals this instance recorded an intent to write (`object_intents`) that no
/// video owns after an hour (a crash between storing an upload and creating its
/// video). Objects are never removed merely for being unknown to the database: a
/// restored instance pointed at production's regions knows fewer objects than are
/// there, and must not touch them (`kinora verify residency --repair` is the
/// operator's explicit command for unknown objects).
pub async fn startup_cleanup(st: &AppState) {
    for dir in ["staging", "work"] {
        let p = st.data_dir().join(dir);
        if p.exists() {
            if let Err(e) = std::fs::remove_dir_all(&p) {
                tracing::warn!(error = %e, dir = %p.display(), "could not clear scratch space");
            }
        }
    }
    let cutoff = kinora_db::now_ms() - 3_600_000;
    let intents = match st.db.stale_object_intents(cutoff).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "could not read object intents");
            return;
        }
    };
    for (region, key) in intents {
        let owned = match key.strip_prefix("originals/").and_then(kinora_core::Id::parse) {
            Some(id) => st.db.video_exists(&id).await.unwrap_or(true),
            None => true,
        };
        if !owned {
            tracing::info!(%key, %region, "removing an original a crash left without its video");
            if let Err(e) = crate::objects::delete(st, &region, &key).await {
                tracing::warn!(%key, %region, error = format!("{e:#}"), "could not remove it; trying again at the next start");
                continue;
            }
        }
        let _ = st.db.remove_object_intent(&region, &key).await;
    }
}

/// Deletes what is kept only for a while: expired tokens and sessions, old view
/// events and notifications, finished jobs.
pub async fn retention(st: &AppState) -> anyhow::Result<()> {
    let r = &st.config.retention;
    let now = kinora_db::now_ms();
    let day = 86_400_000i64;
    let tokens = st.db.delete_expired_tokens().await?;
    let (views, notes) = st.db.forget_old_activity(now - r.view_events_days.max(1) * day, now - r.notifications_days.max(1) * day).await?;
    let jobs = st.db.forget_finished_jobs(now - r.finished_jobs_days.max(1) * day).await?;
    let exports = crate::exports::forget_expired(st).await?;
    let (deleted_videos, deleted_comments) = st.db.forget_deleted_content(now - r.deleted_content_days.max(0) * day).await?;
    tracing::info!(tokens, view_events = views, notifications = notes, jobs, exports, deleted_videos, deleted_comments, "retention sweep");
    Ok(())
}

/// Runs forever: every minute, forget idle limiter keys and sweep uploads; every
/// hour, the retention sweep.
pub async fn run(st: AppState) {
    let mut t = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut minutes = 0u64;
    loop {
        t.tick().await;
        st.limiters.forget_idle();
        if let Err(e) = crate::uploads::sweep(&st).await {
            tracing::error!(error = format!("{e:#}"), "upload housekeeping failed");
        }
        let every = st.config.backup.every_hours.saturating_mul(60);
        if every > 0 && minutes > 0 && minutes.is_multiple_of(every) {
            match crate::backup::create(&st, &|_, _, _| {}).await {
                Ok(b) => tracing::info!(backup = %b.id, bytes = b.bytes, "scheduled backup written"),
                Err(e) => tracing::error!(error = format!("{e:#}"), "scheduled backup failed"),
            }
        }
        if minutes.is_multiple_of(60) {
            if let Err(e) = retention(&st).await {
                tracing::error!(error = format!("{e:#}"), "retention sweep failed");
            }
        }
        minutes += 1;
    }
}
