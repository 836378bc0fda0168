//! Background workers: claim a job, run it, publish or fail it, repeat.
//!
//! Transcode jobs run the media pipeline in a per-job scratch directory
//! (`work/<job>/`): fetch the original, ffprobe it, check the limits, transcode,
//! take a poster from our own output, store the objects in the video's region,
//! then publish (media rows + `ready` + job done) in one transaction. Each step is
//! idempotent, so a job whose worker died simply runs again.

use crate::state::AppState;
use anyhow::Context;
use kinora_core::Id;
use kinora_db::{Job, JobKind, JobQueue, MediaObject, PublishOutcome, Published, VideoRepo};
use kinora_media::probe::{run_probe, RunProbeError};
use kinora_media::process::{self, ProcessError, ProcessLimits};
use kinora_media::{transcode, MediaError};
use kinora_store as storage;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::Instrument;

/// Runs one worker loop forever.
pub async fn run(st: AppState, n: usize) {
    let worker = format!("{}-{}-{n}", hostname(), std::process::id());
    tracing::info!(%worker, "worker started");
    let lease_ms = (st.config.media.job_lease_secs.max(1) * 1000) as i64;
    loop {
        match st.db.claim(&worker, lease_ms).await {
            Ok(Some(job)) => {
                let renew = {
                    let (db, w, id) = (st.db.clone(), worker.clone(), job.id.clone());
                    tokio::spawn(async move {
                        let mut t = tokio::time::interval(Duration::from_millis((lease_ms / 3) as u64));
                        t.tick().await;
                        loop {
                            t.tick().await;
                            if !matches!(db.renew(&id, &w, lease_ms).await, Ok(true)) {
                                break;
                            }
                        }
                    })
                };
                // Every line a job logs, from claim to finish, carries its id, kind,
                // attempt and (when it has them) video and account.
                let span = tracing::info_span!(
                    "job",
                    job = %job.id,
                    kind = %job.kind_name,
                    attempt = job.attempts,
                    video = tracing::field::Empty,
                    account = tracing::field::Empty,
                );
                for field in ["video", "account"] {
                    if let Some(id) = job.payload.get(format!("{field}_id")).and_then(|v| v.as_str()) {
                        span.record(field, tracing::field::display(id));
                    }
                }
                async {
                    let started = std::time::Instant::now();
                    tracing::info!("job claimed");
                    let outcome = run_job(&st, &worker, &job).await;
                    renew.abort();
                    match outcome {
                        Ok(()) => tracing::info!(ms = started.elapsed().as_millis() as u64, "job finished"),
                        Err(e) => retry_or_fail(&st, &worker, &job, &format!("{e:#}")).await,
                    }
                }
                .instrument(span)
                .await;
            }
            Ok(None) => {
                let _ = tokio::time::timeout(Duration::from_millis(1000), st.wake.notified()).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|s| s.trim().to_owned()).unwrap_or_else(|_| "host".into())
}

/// An internal failure: try again later with backoff, or give up after the limit.
async fn retry_or_fail(st: &AppState, worker: &str, job: &Job, error: &str) {
    tracing::warn!(job = %job.id, kind = %job.kind_name, attempts = job.attempts, %error, "job failed");
    let video = video_of(job);
    let r = if job.attempts >= st.config.media.max_attempts {
        if let Some(export) = job.payload.get("export_id").and_then(|v| v.as_str()).and_then(Id::parse) {
            if let Err(e) = crate::exports::give_up(st, &export, "building the archive failed repeatedly; try again later").await {
                tracing::error!(error = %e, "could not record the export's failure");
            }
        }
        match video {
            Some(v) => {
                let r = st.db.fail_video(&v, &job.id, worker, "internal", "processing failed repeatedly; see the server log").await;
                st.recommender.video_changed(&v);
                r
            }
            None => st.db.fail(&job.id, worker, error).await,
        }
    } else {
        let delay = 2_000 * (1i64 << job.attempts.clamp(0, 8));
        st.db.retry_later(&job.id, worker, delay, error).await
    };
    if let Err(e) = r {
        tracing::error!(error = %e, job = %job.id, "could not record the job's failure");
    }
}

fn video_of(job: &Job) -> Option<Id> {
    job.payload.get("video_id").and_then(|v| v.as_str()).and_then(Id::parse)
}

async fn run_job(st: &AppState, worker: &str, job: &Job) -> anyhow::Result<()> {
    match job.kind {
        Some(JobKind::Transcode) => transcode_job(st, worker, job, false).await,
        Some(JobKind::Reprocess) => transcode_job(st, worker, job, true).await,
        Some(JobKind::PurgeVideo) => purge_job(st, worker, job).await,
        Some(JobKind::EraseAccount) => {
            let id = job.payload.get("account_id").and_then(|v| v.as_str()).and_then(Id::parse).context("erase job without account_id")?;
            crate::erasure::erase(st, &id).await?;
            st.db.complete(&job.id, worker).await?;
            Ok(())
        }
        Some(JobKind::Export) => {
            let id = job.payload.get("export_id").and_then(|v| v.as_str()).and_then(Id::parse).context("export job without export_id")?;
            crate::exports::build(st, &id).await?;
            st.db.complete(&job.id, worker).await?;
            Ok(())
        }
        Some(JobKind::Replicate) => {
            let field = |k: &str| job.payload.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let (Some(from), Some(to), Some(key)) = (field("from"), field("to"), field("key")) else {
                st.db.fail(&job.id, worker, "replicate job without from, to and key").await?;
                return Ok(());
            };
            crate::objects::replicate(st, &from, &to, &key).await?;
            st.db.complete(&job.id, worker).await?;
            Ok(())
        }
        None => {
            st.db.fail(&job.id, worker, &format!("unknown job kind {:?}", job.kind_name)).await?;
            Ok(())
        }
    }
}

/// Removes every object of a video from its home region and the backup region:
/// whatever is stored under its prefix, not only what the database lists (a
/// transcode that was running when the video was deleted may have written more).
async fn remove_video_objects(st: &AppState, home: &str, video: &Id) -> anyhow::Result<usize> {
    let n = crate::objects::delete_prefix(st, home, &format!("media/{video}")).await?;
    // The original is one object (a listing would look under it, not at it).
    crate::objects::delete(st, home, &format!("originals/{video}")).await?;
    Ok(n + 1)
}

async fn purge_job(st: &AppState, worker: &str, job: &Job) -> anyhow::Result<()> {
    let video = video_of(job).context("purge job without video_id")?;
    if let Some(region) = st.db.deleted_video_region(&video).await? {
        let n = remove_video_objects(st, &region, &video).await?;
        tracing::info!(video = %video, region = %region, objects = n, "deleted video purged");
    }
    st.db.complete(&job.id, worker).await?;
    Ok(())
}

/// Removes the job directory when the job ends, however it ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}

/// Transcodes a video's original. A `reprocess` of a ready video that the current
/// limits reject keeps the video and its files as they are.
async fn transcode_job(st: &AppState, worker: &str, job: &Job, reprocess: bool) -> anyhow::Result<()> {
    let Some(video_id) = video_of(job) else {
        st.db.fail(&job.id, worker, "transcode job without video_id").await?;
        return Ok(());
    };
    let Some(video) = st.db.video_by_id(&video_id).await? else {
        // Deleted while queued: nothing to do.
        st.db.complete(&job.id, worker).await?;
        return Ok(());
    };
    let started = std::time::Instant::now();
    let dir = st.scratch_dir(&job.id).await?;
    let scratch = Scratch(dir.clone());
    let input = dir.join("input");
    let store = st.regions.get(&video.region)?.clone();
    let bytes = st.regions.get_to_file_with_fallback(&video.region, &video.original_key, &input).await?;
    st.hand_to_sandbox(&input).await?;

    match media_pipeline(st, &dir, &input, bytes).await? {
        Err(media_err) if reprocess && video.status == kinora_core::VideoStatus::Ready => {
            tracing::warn!(video = %video_id, code = media_err.code(), error = %media_err, "reprocess rejected; keeping the current files");
            st.db.complete(&job.id, worker).await?;
        }
        Err(media_err) => {
            tracing::info!(video = %video_id, code = media_err.code(), error = %media_err, "video rejected");
            st.db.fail_video(&video_id, &job.id, worker, media_err.code(), &media_err.to_string()).await?;
        }
        Ok(out) => {
            let mut files: Vec<(&PathBuf, &str, u32, u32, u64, String, &str)> =
                out.renditions.iter().map(|r| (&r.path, "video/mp4", r.width, r.height, r.bitrate, format!("{}p", r.width.min(r.height)), "mp4")).collect();
            let (top_w, top_h) = out.renditions.first().map(|r| (r.width, r.height)).unwrap_or((0, 0));
            files.push((&out.poster, "image/jpeg", top_w, top_h, 0, "poster".to_owned(), "jpg"));
            files.push((&out.preview, "image/jpeg", 0, 0, 0, "preview".to_owned(), "jpg"));
            let mut objects = Vec::new();
            for (file, mime, w, h, bitrate, stem, ext) in files {
                let sha = tokio::task::spawn_blocking({
                    let f = file.clone();
                    move || sha256_file(&f)
                })
                .await??;
                let name = format!("{stem}-{}.{ext}", &sha[..12]);
                let key = format!("media/{video_id}/{name}");
                let n = crate::objects::put(st, &video.region, &key, file).await?;
                objects.push(MediaObject {
                    name,
                    object_key: key,
                    mime: mime.into(),
                    width: i64::from(w),
                    height: i64::from(h),
                    bitrate: bitrate as i64,
                    bytes: n as i64,
                    sha256: sha,
                });
            }
            if std::env::var_os("KINORA_FAULT_CRASH_BEFORE_PUBLISH").is_some() {
                // Fault injection for the crash-safety tests: die like `kill -9`
                // after the objects are written and before the video is published.
                tracing::warn!("KINORA_FAULT_CRASH_BEFORE_PUBLISH is set: aborting");
                std::process::abort();
            }
            let published = st
                .db
                .publish_video(
                    &video_id,
                    &job.id,
                    worker,
                    Published { duration_ms: out.duration_ms, width: i64::from(top_w), height: i64::from(top_h), objects: &objects },
                )
                .await?;
            match published {
                PublishOutcome::Published => {
                    st.recommender.video_changed(&video_id);
                    // Objects of an earlier run that this one replaced, or that a run
                    // which crashed before publishing left behind.
                    for (k, _) in storage::list(&store, &format!("media/{video_id}")).await? {
                        if !objects.iter().any(|n| n.object_key == k) {
                            crate::objects::delete(st, &video.region, &k).await?;
                        }
                    }
                    tracing::info!(video = %video_id, ms = started.elapsed().as_millis() as u64, "video ready");
                }
                PublishOutcome::Deleted => {
                    // Deleted while we worked: never published; remove what we wrote
                    // (the purge job may have run before these objects existed).
                    remove_video_objects(st, &video.region, &video_id).await?;
                    tracing::info!(video = %video_id, "video deleted while processing; its files were removed");
                }
                PublishOutcome::LostLease => {
                    tracing::warn!(video = %video_id, "lost the job lease before publishing; the new holder publishes");
                }
            }
        }
    }
    drop(scratch);
    Ok(())
}

struct RenditionFile {
    path: PathBuf,
    width: u32,
    height: u32,
    bitrate: u64,
}

struct Output {
    /// Highest first.
    renditions: Vec<RenditionFile>,
    poster: PathBuf,
    preview: PathBuf,
    duration_ms: i64,
}

fn limits(st: &AppState, wall: Duration) -> ProcessLimits {
    ProcessLimits {
        wall,
        cpu_secs: wall.as_secs().saturating_mul(2).max(10),
        memory_bytes: st.config.media.memory_limit_mib << 20,
        file_bytes: st.config.server.max_upload_bytes.max(1 << 30),
        max_stdout: 4 << 20,
        isolate_network: st.isolate_network,
        run_as: st.sandbox_user,
    }
}

/// Probe, validate, transcode, poster. `Ok(Err(_))` is a verdict on the media;
/// `Err(_)` is an internal failure worth retrying.
async fn media_pipeline(st: &AppState, dir: &Path, input: &Path, bytes: u64) -> anyhow::Result<Result<Output, MediaError>> {
    let probe_limits = limits(st, Duration::from_secs(st.config.media.probe_timeout_secs));
    let probe = match run_probe(&st.tools, input, dir, probe_limits).await {
        Ok(p) => p,
        Err(RunProbeError::Unreadable(stderr)) => {
            let e = if stderr.contains("not on whitelist") {
                MediaError::Unsupported("the file is not an MP4, MOV, MKV or WebM video".into())
            } else {
                MediaError::Invalid("the file could not be read as a video (empty, truncated or not a video)".into())
            };
            return Ok(Err(e));
        }
        Err(RunProbeError::Parse(e)) => return Ok(Err(MediaError::Invalid(e.to_string()))),
        Err(RunProbeError::Process(ProcessError::Timeout { .. })) => return Ok(Err(MediaError::Timeout)),
        Err(RunProbeError::Process(e)) => return Err(e.into()),
    };
    let valid = match st.config.limits.validate(&probe, bytes) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let rungs = transcode::ladder(&valid);
    let paths: Vec<PathBuf> = rungs.iter().map(|r| dir.join(format!("{}p.mp4", r.short_edge()))).collect();
    let outputs: Vec<(&Path, transcode::Rendition)> = paths.iter().map(PathBuf::as_path).zip(rungs.iter().copied()).collect();
    let wall = Duration::from_secs(st.config.media.transcode_timeout_secs + st.config.media.transcode_secs_per_media_sec * valid.duration_secs.ceil() as u64);
    match process::run(&st.tools.ffmpeg, &transcode::transcode_args(input, &valid, &outputs), dir, limits(st, wall)).await {
        Ok(_) => {}
        Err(ProcessError::Failed { stderr, .. }) => {
            tracing::info!(%stderr, "ffmpeg rejected the input");
            return Ok(Err(MediaError::Invalid("the video could not be decoded".into())));
        }
        Err(ProcessError::Timeout { .. }) => return Ok(Err(MediaError::Timeout)),
        Err(e) => return Err(e.into()),
    }
    // Our own output: trusted enough to probe with the same safe flags.
    let (Some(top), Some(low)) = (paths.first(), paths.last()) else { anyhow::bail!("the ladder made no renditions") };
    let result = run_probe(&st.tools, top, dir, probe_limits).await.map_err(|e| anyhow::anyhow!("probing our output: {e}"))?;
    if result.video.is_none() {
        anyhow::bail!("our output has no video stream");
    }
    let duration = result.duration().unwrap_or(0.0);
    if duration + 0.5 < valid.duration_secs * 0.75 {
        // The header promised far more than the file holds: truncated or lying.
        return Ok(Err(MediaError::Invalid(format!(
            "the file holds {duration:.1} s of the {:.1} s it declares; it is truncated or corrupt",
            valid.duration_secs
        ))));
    }
    let poster = dir.join("poster.jpg");
    let preview = dir.join("preview.jpg");
    let at = (duration * 0.25).min(1.0);
    let short = limits(st, Duration::from_secs(30));
    process::run(&st.tools.ffmpeg, &transcode::poster_args(top, at, &poster), dir, short).await.context("taking the poster")?;
    process::run(&st.tools.ffmpeg, &transcode::preview_args(low, at, &preview), dir, short).await.context("taking the preview")?;
    let mut renditions = Vec::new();
    for (path, r) in paths.iter().zip(&rungs) {
        let size = tokio::fs::metadata(path).await?.len();
        let bitrate = if duration > 0.0 { (size as f64 * 8.0 / duration) as u64 } else { 0 };
        renditions.push(RenditionFile { path: path.clone(), width: r.width, height: r.height, bitrate });
    }
    Ok(Ok(Output { renditions, poster, preview, duration_ms: (duration * 1000.0).round() as i64 }))
}
