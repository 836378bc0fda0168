//! Housekeeping: what a crashed process left behind, and what is kept only for a
//! while (`[retention]`).

use crate::state::AppState;
use kinora_db::{JobQueue, TokenRepo, VideoRepo};

/// Removes what a crashed process left on this node: multipart staging files and
/// job scratch directories (no request or worker of this process exists yet), and
/// originals that no video owns after an hour (a crash between storing an upload
/// and creating its video).
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
    for region in st.regions.all() {
        match kinora_store::list(&region.store, "originals").await {
            Ok(keys) => {
                for (k, modified) in keys {
                    let Some(id) = k.rsplit('/').next().and_then(kinora_core::Id::parse) else { continue };
                    if modified > cutoff {
                        continue;
                    }
                    if !st.db.video_exists(&id).await.unwrap_or(true) {
                        tracing::info!(key = %k, region = %region.name, "removing an original no video owns");
                        let _ = kinora_store::delete(&region.store, &k).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), region = %region.name, "could not list originals"),
        }
    }
}

/// Deletes what is kept only for a while: expired tokens and sessions, old view
/// events and notifications, finished jobs.
pub async fn retention(st: &AppState) -> anyhow::Result<()> {
    let r = &st.config.retention;
    let now = kinora_db::now_ms();
    let day = 86_400_000i64;
    let tokens = st.db.delete_expired_tokens().await?;
    let (views, notes) = st
        .db
        .forget_old_activity(now - r.view_events_days.max(1) * day, now - r.notifications_days.max(1) * day)
        .await?;
    let jobs = st.db.forget_finished_jobs(now - r.finished_jobs_days.max(1) * day).await?;
    let exports = crate::exports::forget_expired(st).await?;
    tracing::info!(tokens, view_events = views, notifications = notes, jobs, exports, "retention sweep");
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
