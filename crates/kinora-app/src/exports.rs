//! "Download your data" (GDPR Art. 20): a ZIP of everything about an account, built
//! by a job into the account's home region (replicated like its other objects),
//! downloadable by its owner until it expires, announced by a notification. The
//! files and their fields are documented in docs/data-export.md.

use crate::archive::{self, AccountV1, VideoV1};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::{ErrorCode, Id};
use kinora_db::{ExportRow, ExportStatus, JobKind, JobQueue, NotificationKind, VideoRepo};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// Days a ready export can be downloaded.
pub const EXPORT_DAYS: i64 = 7;

/// An export as its owner sees it.
#[derive(Debug, Serialize)]
pub struct ExportView {
    pub id: Id,
    pub status: ExportStatus,
    pub download_url: Option<String>,
    pub expires_at: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    pub created_at: String,
}

fn view(e: &ExportRow) -> ExportView {
    ExportView {
        id: e.id.clone(),
        status: e.status,
        download_url: (e.status == ExportStatus::Ready).then(|| format!("/api/v1/me/exports/{}/download", e.id)),
        expires_at: e.expires_at.map(crate::views::rfc3339),
        bytes: e.bytes,
        error: e.error.clone(),
        created_at: crate::views::rfc3339(e.created_at),
    }
}

/// Starts building an export. One per account at a time: while one is being
/// built, asking again answers that one; a new export replaces the account's
/// earlier ones (their ZIPs are deleted), and requests are rate limited
/// (`rate_limits.exports_per_day`), so exports never pile up.
pub async fn request(st: &AppState, caller: &Caller) -> AppResult<ExportView> {
    let me = caller.require()?;
    if let Some(p) = st.db.pending_export(&me.id).await? {
        return Ok(view(&p));
    }
    crate::state::Limiters::limit(&st.limiters.exports, me.id.to_string())?;
    for old in st.db.exports_of(&me.id).await? {
        if let Some(k) = &old.object_key {
            crate::objects::delete(st, &old.region, k).await.map_err(AppError::internal)?;
        }
        st.db.delete_export(&old.id).await?;
    }
    let id = Id::generate();
    st.db.create_export(&id, &me.id, &me.region).await?;
    st.db.enqueue(JobKind::Export, Some(&me.id), &serde_json::json!({"export_id": id.as_str()})).await?;
    st.wake.notify_one();
    let e = st.db.export_by_id(&id).await?.ok_or_else(|| AppError::internal("export vanished"))?;
    Ok(view(&e))
}

/// The caller's export, or the same 404 as a missing one.
async fn own(st: &AppState, caller: &Caller, id: &str) -> AppResult<ExportRow> {
    let me = caller.require()?;
    let id = Id::parse(id).ok_or_else(AppError::not_found)?;
    let e = st.db.export_by_id(&id).await?.ok_or_else(AppError::not_found)?;
    if e.account_id != me.id {
        return Err(AppError::not_found());
    }
    Ok(e)
}

pub async fn get(st: &AppState, caller: &Caller, id: &str) -> AppResult<ExportView> {
    Ok(view(&own(st, caller, id).await?))
}

/// A ZIP being downloaded: streamed from the home region (or its replica), one
/// chunk in memory at a time, whatever its size.
pub struct Download {
    pub bytes: u64,
    pub name: String,
    pub stream: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, object_store::Error>>,
}

/// The ZIP of a ready export, for its owner.
pub async fn download(st: &AppState, caller: &Caller, id: &str) -> AppResult<Download> {
    let e = own(st, caller, id).await?;
    let key = e.object_key.filter(|_| e.status == ExportStatus::Ready).ok_or_else(|| AppError::new(ErrorCode::Conflict, "the export is not ready yet"))?;
    let (bytes, stream) = st.regions.get_stream_with_fallback(&e.region, &key).await.map_err(AppError::internal)?;
    Ok(Download { bytes, name: format!("kinora-{}.zip", e.id), stream })
}

const README: &str = "Your data from Kinora\n\
=====================\n\n\
This archive holds everything this Kinora server keeps about your account.\n\
The fields of every file are described in the server's docs/data-export.md.\n\n\
README.txt            this file\n\
account.json          your profile, email, settings and home region\n\
videos.json           your videos: caption, visibility, who may comment, counts, size, dates\n\
videos/<id>/original  each video's file exactly as you uploaded it (it may carry location data)\n\
videos/<id>/<name>    each video's best rendition as Kinora serves it\n\
comments.json         comments you wrote\n\
likes.json            videos you liked\n\
following.json        accounts you follow (and requests you sent)\n\
followers.json        accounts that follow you (and requests you received)\n\
blocks.json           accounts you block\n\
mutes.json            accounts you mute\n\
hashtags.json         hashtags you follow\n\
notifications.json    your notifications\n\
watch-history.json    what you watched, for how long, whether to the end\n\
reports.json          reports and appeals you filed\n\
sessions.json         where you are signed in: when, until when, address (IPv6: its /64) and device\n\
access-log.json       every staff or legal access to your data, with its place in the public log\n\
deleted.json          videos and comments you deleted that are still kept as tombstones: their\n\
                      ids and times only (their words, file names and hashtags went at once;\n\
                      the tombstones go within days, see the server's /about/data)\n\n\
`kinora import` (or the import in settings) recreates your profile and videos from this\n\
archive on another Kinora server.\n";

/// Writes one account's export archive into `dir` and returns its path: the
/// person's own export and the operator's legal-request export are the same file.
pub async fn archive(st: &AppState, account: &Id, dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    let data = st.db.personal_data(account).await?;
    // The files another Kinora reads back, in their one typed form.
    let profile = AccountV1::from_stored(data.account.clone())?;
    let videos = data.videos.iter().cloned().map(VideoV1::from_stored).collect::<Result<Vec<_>, _>>()?;
    // Each video's original and top rendition, fetched into the scratch directory.
    let mut files = Vec::new();
    for v in &videos {
        let Some(vid) = Id::parse(&v.id) else { continue };
        let Some(row) = st.db.video_by_id(&vid).await? else { continue };
        let original = dir.join(format!("{vid}-original"));
        st.regions.get_to_file_with_fallback(&row.region, &row.original_key, &original).await?;
        files.push((archive::original_entry(&vid), original));
        if let Some(top) = st.db.media_objects(&vid).await?.into_iter().find(|o| o.mime == "video/mp4") {
            let path = dir.join(format!("{vid}-{}", top.name));
            st.regions.get_to_file_with_fallback(&row.region, &top.object_key, &path).await?;
            files.push((format!("videos/{vid}/{}", top.name), path));
        }
    }
    let docs: Vec<(&str, String)> = vec![
        ("README.txt", README.to_owned()),
        (archive::ACCOUNT, pretty(&profile)),
        (archive::VIDEOS, pretty(&videos)),
        ("comments.json", pretty(&data.comments)),
        ("likes.json", pretty(&data.likes)),
        ("following.json", pretty(&data.following)),
        ("followers.json", pretty(&data.followers)),
        ("blocks.json", pretty(&data.blocks)),
        ("mutes.json", pretty(&data.mutes)),
        ("hashtags.json", pretty(&data.hashtags_followed)),
        ("notifications.json", pretty(&data.notifications)),
        ("watch-history.json", pretty(&data.watch_history)),
        ("reports.json", pretty(&data.reports)),
        ("sessions.json", pretty(&st.db.sessions_of(account).await?)),
        ("access-log.json", pretty(&crate::staff::history_of(st, account).await.map(|h| h.items).unwrap_or_default())),
        ("deleted.json", pretty(&st.db.deleted_content(account).await?)),
    ];
    let zip_path = dir.join("export.zip");
    let zp = zip_path.clone();
    tokio::task::spawn_blocking(move || write_zip(&zp, &docs, &files)).await??;
    Ok(zip_path)
}

/// The export job: gathers, zips (videos stored as they are), stores, announces.
#[tracing::instrument(name = "export.build", skip_all, fields(export = %export_id))]
pub async fn build(st: &AppState, export_id: &Id) -> anyhow::Result<()> {
    let Some(e) = st.db.export_by_id(export_id).await? else { return Ok(()) };
    if e.status != ExportStatus::Pending {
        return Ok(());
    }
    let dir = st.scratch_dir(&format!("export-{}", e.id)).await?;
    let result = async {
        let zip_path = archive(st, &e.account_id, &dir).await?;
        let key = format!("exports/{}/{}.zip", e.account_id, e.id);
        let bytes = crate::objects::put(st, &e.region, &key, &zip_path).await?;
        let expires = kinora_db::now_ms() + EXPORT_DAYS * 86_400_000;
        st.db.finish_export(&e.id, &key, i64::try_from(bytes).unwrap_or(i64::MAX), expires).await?;
        st.db.notify_self(&e.account_id, NotificationKind::ExportReady).await?;
        tracing::info!(export = %e.id, bytes, "export ready");
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result
}

/// Marks an export failed for good (the job gave up).
pub async fn give_up(st: &AppState, export_id: &Id, error: &str) -> anyhow::Result<()> {
    st.db.fail_export(export_id, error).await?;
    Ok(())
}

fn write_zip(path: &Path, docs: &[(&str, String)], files: &[(String, std::path::PathBuf)]) -> anyhow::Result<()> {
    use zip::write::SimpleFileOptions;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path)?);
    let text = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(false);
    // Videos are compressed already: stored as they are.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored).large_file(true);
    for (name, body) in docs {
        z.start_file(*name, text)?;
        z.write_all(body.as_bytes())?;
    }
    for (name, file) in files {
        z.start_file(name.as_str(), stored)?;
        std::io::copy(&mut std::fs::File::open(file)?, &mut z)?;
    }
    z.finish()?.sync_all()?;
    Ok(())
}

/// Deletes exports whose time is up, objects first.
pub async fn forget_expired(st: &AppState) -> anyhow::Result<usize> {
    let expired = st.db.expired_exports().await?;
    for e in &expired {
        if let Some(key) = &e.object_key {
            crate::objects::delete(st, &e.region, key).await?;
        }
        st.db.delete_export(&e.id).await?;
    }
    Ok(expired.len())
}

/// Pretty JSON of one of the archive's documents.
fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into()) + "\n"
}
