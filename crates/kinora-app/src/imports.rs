//! Bringing an export archive to another Kinora: the profile and the videos
//! (through the normal pipeline: ingest, transcode), captions, visibility and
//! comment settings kept. The archive is checked whole before anything is written:
//! a bad one gets a clear error and changes nothing.

use crate::archive::{self, AccountV1, VideoV1};
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::policy::CommentSetting;
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{AccountRepo, AccountRow, UploadRepo};
use serde::Serialize;
use std::io::Read;
use std::path::Path;

/// Most entries an archive may have, and the largest central directory: both are
/// read from the archive's end record before its directory is read at all (a
/// million-entry ZIP costs no memory).
const MAX_ENTRIES: u64 = 10_000;
const MAX_DIRECTORY_BYTES: u64 = 4 << 20;
/// An original compressed more than this (uncompressed : compressed) is not a
/// video (video does not compress): a ZIP of zeros is refused before anything is
/// stored.
const MAX_RATIO: u64 = 20;

/// (entries, central directory bytes) from the end-of-central-directory record
/// (and its ZIP64 form), reading at most the last 64 KiB of the file.
fn directory_bounds(path: &Path) -> AppResult<(u64, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(AppError::internal)?;
    let len = f.metadata().map_err(AppError::internal)?.len();
    let tail_len = len.min(65_557);
    f.seek(SeekFrom::Start(len - tail_len)).map_err(AppError::internal)?;
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    f.read_exact(&mut tail).map_err(AppError::internal)?;
    let at = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(&[0x50, 0x4b, 0x05, 0x06][..]))
        .ok_or_else(|| bad("not a ZIP file (no end record)"))?;
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map_or(0, |x| <[u8; 2]>::try_from(x).map_or(0, |x| u64::from(u16::from_le_bytes(x))));
    let u32_at = |b: &[u8], i: usize| b.get(i..i + 4).map_or(0, |x| <[u8; 4]>::try_from(x).map_or(0, |x| u64::from(u32::from_le_bytes(x))));
    let u64_at = |b: &[u8], i: usize| b.get(i..i + 8).map_or(u64::MAX, |x| u64::from_le_bytes(x.try_into().unwrap_or([0xff; 8])));
    let (mut entries, mut size) = (u16_at(&tail, at + 10), u32_at(&tail, at + 12));
    if entries == 0xffff || size == 0xffff_ffff {
        // ZIP64: the locator sits just before the end record and points at the
        // ZIP64 end record.
        let loc = at.checked_sub(20).ok_or_else(|| bad("a damaged ZIP64 end record"))?;
        if tail.get(loc..loc + 4) != Some(&[0x50, 0x4b, 0x06, 0x07][..]) {
            return Err(bad("a damaged ZIP64 end record"));
        }
        let off = u64_at(&tail, loc + 8);
        if off.saturating_add(56) > len {
            return Err(bad("a damaged ZIP64 end record"));
        }
        f.seek(SeekFrom::Start(off)).map_err(AppError::internal)?;
        let mut rec = [0u8; 56];
        f.read_exact(&mut rec).map_err(AppError::internal)?;
        if rec.get(..4) != Some(&[0x50, 0x4b, 0x06, 0x06][..]) {
            return Err(bad("a damaged ZIP64 end record"));
        }
        entries = u64_at(&rec, 32);
        size = u64_at(&rec, 40);
    }
    Ok((entries, size))
}

/// One video to recreate.
struct ImportVideo {
    caption: Caption,
    visibility: Visibility,
    comments: CommentSetting,
    original_name: String,
    entry: String,
}

/// A checked archive.
struct Archive {
    display_name: Option<String>,
    bio: Option<String>,
    private: Option<bool>,
    likes_public: Option<bool>,
    videos: Vec<ImportVideo>,
    /// The originals' bytes, all together.
    bytes: u64,
}

fn bad(msg: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::InvalidArchive, format!("archive: {msg}"))
}

fn read_json<T: serde::de::DeserializeOwned>(z: &mut zip::ZipArchive<std::fs::File>, name: &str, max: u64) -> AppResult<T> {
    let mut f = z.by_name(name).map_err(|_| bad(format!("{name} is missing; is this a Kinora export?")))?;
    if f.size() > max {
        return Err(bad(format!("{name} is larger than {max} bytes")));
    }
    let mut s = Vec::new();
    f.by_ref().take(max + 1).read_to_end(&mut s).map_err(|e| bad(format!("{name}: {e}")))?;
    serde_json::from_slice(&s).map_err(|e| bad(format!("{name}: {e}")))
}

/// Checks the whole archive: its files, their sizes, every field.
fn check(path: &Path, max_video: u64) -> AppResult<Archive> {
    let (entries, directory) = directory_bounds(path)?;
    if entries > MAX_ENTRIES {
        return Err(bad(format!("{entries} entries; at most {MAX_ENTRIES}")));
    }
    if directory > MAX_DIRECTORY_BYTES {
        return Err(bad(format!("a central directory of {directory} bytes; at most {MAX_DIRECTORY_BYTES}")));
    }
    let f = std::fs::File::open(path).map_err(AppError::internal)?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| bad(format!("not a ZIP file ({e})")))?;
    if z.len() as u64 > MAX_ENTRIES {
        return Err(bad(format!("{} entries; at most {MAX_ENTRIES}", z.len())));
    }
    let account: AccountV1 = read_json(&mut z, archive::ACCOUNT, 1 << 20)?;
    let videos: Vec<VideoV1> = read_json(&mut z, archive::VIDEOS, 64 << 20)?;
    let mut out = Vec::new();
    // Every id once, before any entry is looked at.
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, v) in videos.iter().enumerate() {
        let id = Id::parse(&v.id).ok_or_else(|| bad(format!("videos.json[{i}] has no valid id")))?;
        if !seen.insert(id.clone()) {
            return Err(bad(format!("videos.json lists video {id} more than once")));
        }
        ids.push(id);
    }
    let mut total = 0u64;
    for (i, (v, id)) in videos.iter().zip(&ids).enumerate() {
        let entry = archive::original_entry(id);
        let (size, packed) = z.by_name(&entry).map(|e| (e.size(), e.compressed_size())).map_err(|_| bad(format!("{entry} is missing")))?;
        if size == 0 || size > max_video {
            return Err(bad(format!("{entry} is {size} bytes; the limit is {max_video}")));
        }
        if size > (1 << 20) && size / packed.max(1) > MAX_RATIO {
            return Err(bad(format!("{entry} is compressed {}:1 ({packed} bytes for {size}); a video does not compress like that", size / packed.max(1))));
        }
        total = total.saturating_add(size);
        out.push(ImportVideo {
            caption: Caption::parse(v.caption.as_deref().unwrap_or_default()).map_err(|e| bad(format!("videos.json[{i}]: {e}")))?,
            visibility: Visibility::parse(v.visibility.as_deref().unwrap_or_default()).map_err(|e| bad(format!("videos.json[{i}]: {e}")))?,
            comments: v.comments.unwrap_or_default(),
            original_name: v.original_name.as_deref().unwrap_or_default().chars().filter(|c| !c.is_control()).take(200).collect(),
            entry,
        });
    }
    let clean = |s: &Option<String>, max: usize| -> AppResult<Option<String>> {
        s.as_deref().map(|s| crate::accounts::clean_text("account.json", s, max).map_err(|e| bad(e.message))).transpose()
    };
    Ok(Archive {
        display_name: clean(&account.display_name, 50)?,
        bio: clean(&account.bio, 500)?,
        private: account.private,
        likes_public: account.likes_public,
        videos: out,
        bytes: total,
    })
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub username: String,
    /// The new videos, processing.
    pub videos: Vec<Id>,
}

/// Imports run one at a time per account, and at most [`MAX_IMPORTS`] at once.
const MAX_IMPORTS: usize = 2;

fn running() -> &'static (tokio::sync::Semaphore, std::sync::Mutex<std::collections::HashSet<Id>>) {
    static R: std::sync::OnceLock<(tokio::sync::Semaphore, std::sync::Mutex<std::collections::HashSet<Id>>)> = std::sync::OnceLock::new();
    R.get_or_init(|| (tokio::sync::Semaphore::new(MAX_IMPORTS), std::sync::Mutex::new(std::collections::HashSet::new())))
}

/// This account's import slot, released when dropped.
struct ImportSlot(Id, #[allow(dead_code)] tokio::sync::SemaphorePermit<'static>);

impl Drop for ImportSlot {
    fn drop(&mut self) {
        if let Ok(mut s) = running().1.lock() {
            s.remove(&self.0);
        }
    }
}

fn slot(account: &Id) -> AppResult<ImportSlot> {
    let (sem, busy) = running();
    {
        let mut b = busy.lock().map_err(|_| AppError::internal("import lock"))?;
        if !b.insert(account.clone()) {
            return Err(AppError::new(ErrorCode::Conflict, "an import into this account is already running; wait for it to finish"));
        }
    }
    match sem.try_acquire() {
        Ok(p) => Ok(ImportSlot(account.clone(), p)),
        Err(_) => {
            if let Ok(mut b) = busy.lock() {
                b.remove(account);
            }
            Err(AppError::rate_limited(30))
        }
    }
}

/// Imports `archive` into `account`: the archive checked whole, then the one
/// admission for all its videos and bytes, then each video through ingest (its
/// transcode is queued like an upload's), then the profile. If anything fails on
/// the way, the videos it made are deleted again: a failed import leaves nothing.
#[tracing::instrument(name = "import", skip_all, fields(account = %account.id))]
pub async fn import_into(st: &AppState, account: &AccountRow, archive: &Path) -> AppResult<Imported> {
    let _slot = slot(&account.id)?;
    let max_video = st.config.server.max_upload_bytes;
    let a = {
        let p = archive.to_owned();
        tokio::task::spawn_blocking(move || check(&p, max_video)).await.map_err(AppError::internal)??
    };
    let (open, inflight) = st.db.open_uploads(&account.id).await?;
    let n = u32::try_from(a.videos.len()).unwrap_or(u32::MAX);
    if n > 0 {
        let ask = crate::ingest::Ask { videos: n, bytes: a.bytes, open_uploads: open, inflight_bytes: u64::try_from(inflight).unwrap_or(0) };
        crate::ingest::admit_videos(st, account, ask).await?;
    }
    let dir = st.scratch_dir(&format!("import-{}", Id::generate())).await.map_err(AppError::internal)?;
    let mut ids = Vec::new();
    let result = async {
        for v in &a.videos {
            let file = dir.join("original");
            let (p, entry, f2) = (archive.to_owned(), v.entry.clone(), file.clone());
            let bytes = tokio::task::spawn_blocking(move || -> AppResult<u64> {
                let mut z = zip::ZipArchive::new(std::fs::File::open(&p).map_err(AppError::internal)?).map_err(|e| bad(e.to_string()))?;
                let mut e = z.by_name(&entry).map_err(|_| bad(format!("{entry} is missing")))?;
                let mut out = std::fs::File::create(&f2).map_err(AppError::internal)?;
                let n = std::io::copy(&mut e.by_ref().take(max_video + 1), &mut out).map_err(|e| bad(format!("{entry}: {e}")))?;
                out.sync_all().map_err(AppError::internal)?;
                Ok(n)
            })
            .await
            .map_err(AppError::internal)??;
            let incoming = crate::ingest::Incoming { file: &file, bytes, caption: &v.caption, visibility: v.visibility, original_name: &v.original_name };
            let id = crate::ingest::ingest(st, account, incoming).await?;
            ids.push(id.clone());
            if v.comments != CommentSetting::Everyone {
                st.db.edit_video(&id, None, None, Some(v.comments), None).await?;
            }
            let _ = tokio::fs::remove_file(&file).await;
        }
        st.db.update_profile(&account.id, a.display_name.as_deref(), a.bio.as_deref(), a.private, a.likes_public).await?;
        if a.private.is_some() {
            st.recommender.account_changed(&account.id);
        }
        Ok::<_, AppError>(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    if let Err(e) = result {
        // Nothing stays of a failed import: its videos are deleted (their objects
        // purged by the delete job) before the error is returned.
        for id in &ids {
            if let Err(d) = kinora_db::VideoRepo::delete_video(&st.db, id).await {
                tracing::error!(video = %id, error = %d, "could not remove a video of a failed import");
            }
            st.recommender.video_changed(id);
        }
        st.wake.notify_one();
        return Err(e);
    }
    Ok(Imported { username: account.username.to_string(), videos: ids })
}

/// `POST /api/v1/me/imports`: into the caller's own account.
pub async fn import_mine(st: &AppState, caller: &Caller, archive: &Path) -> AppResult<Imported> {
    let me = caller.require()?.clone();
    import_into(st, &me, archive).await
}

/// `kinora import ARCHIVE --username NAME`: into that account, made (with a random
/// password, returned) if it does not exist. The archive is checked before the
/// account is made: a bad archive leaves nothing behind.
pub async fn import_cli(st: &AppState, archive: &Path, username: &str) -> AppResult<(Imported, Option<String>)> {
    let max_video = st.config.server.max_upload_bytes;
    let p = archive.to_owned();
    tokio::task::spawn_blocking(move || check(&p, max_video)).await.map_err(AppError::internal)??;
    let name = kinora_core::Username::parse(username)?;
    let (account, password) = match st.db.account_by_username(&name).await? {
        Some(a) => (a, None),
        None => {
            let password = crate::auth::new_secret().0[..20].to_owned();
            let s = crate::accounts::SignUp { username: Some(username.to_owned()), password: Some(password.clone()), email: None };
            (crate::accounts::register(st, "operator", s).await?, Some(password))
        }
    };
    Ok((import_into(st, &account, archive).await?, password))
}
