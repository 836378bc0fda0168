//! Bringing an export archive to another Kinora: the profile and the videos
//! (through the normal pipeline: ingest, transcode), captions, visibility and
//! comment settings kept. The archive is checked whole before anything is written:
//! a bad one gets a clear error and changes nothing.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::policy::CommentSetting;
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{AccountRepo, AccountRow};
use serde::Serialize;
use std::io::Read;
use std::path::Path;

/// Most entries and bytes an archive may expand to (zip bombs are refused before
/// anything is extracted).
const MAX_ENTRIES: usize = 100_000;

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
}

fn bad(msg: impl std::fmt::Display) -> AppError {
    AppError::new(ErrorCode::InvalidArchive, format!("archive: {msg}"))
}

fn read_json(z: &mut zip::ZipArchive<std::fs::File>, name: &str, max: u64) -> AppResult<serde_json::Value> {
    let mut f = z.by_name(name).map_err(|_| bad(format!("{name} is missing; is this a Kinora export?")))?;
    if f.size() > max {
        return Err(bad(format!("{name} is larger than {max} bytes")));
    }
    let mut s = Vec::new();
    f.by_ref().take(max + 1).read_to_end(&mut s).map_err(|e| bad(format!("{name}: {e}")))?;
    serde_json::from_slice(&s).map_err(|e| bad(format!("{name} is not valid JSON: {e}")))
}

/// Checks the whole archive: its files, their sizes, every field.
fn check(path: &Path, max_video: u64) -> AppResult<Archive> {
    let f = std::fs::File::open(path).map_err(AppError::internal)?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| bad(format!("not a ZIP file ({e})")))?;
    if z.len() > MAX_ENTRIES {
        return Err(bad(format!("{} entries; at most {MAX_ENTRIES}", z.len())));
    }
    let account = read_json(&mut z, "account.json", 1 << 20)?;
    let videos = read_json(&mut z, "videos.json", 64 << 20)?;
    let videos = videos.as_array().ok_or_else(|| bad("videos.json is not a list"))?;
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let mut out = Vec::new();
    for (i, v) in videos.iter().enumerate() {
        let id = text(v, "id").and_then(|s| Id::parse(&s)).ok_or_else(|| bad(format!("videos.json[{i}] has no valid id")))?;
        let entry = format!("videos/{id}/original");
        let size = z.by_name(&entry).map_err(|_| bad(format!("{entry} is missing")))?.size();
        if size == 0 || size > max_video {
            return Err(bad(format!("{entry} is {size} bytes; the limit is {max_video}")));
        }
        out.push(ImportVideo {
            caption: Caption::parse(&text(v, "caption").unwrap_or_default()).map_err(|e| bad(format!("videos.json[{i}]: {e}")))?,
            visibility: Visibility::parse(&text(v, "visibility").unwrap_or_default()).map_err(|e| bad(format!("videos.json[{i}]: {e}")))?,
            comments: CommentSetting::parse(&text(v, "comments").unwrap_or_else(|| "everyone".into()))
                .ok_or_else(|| bad(format!("videos.json[{i}]: comments must be everyone, followers or off")))?,
            original_name: text(v, "original_name").unwrap_or_default().chars().filter(|c| !c.is_control()).take(200).collect(),
            entry,
        });
    }
    let clean = |k: &str, max: usize| -> AppResult<Option<String>> {
        text(&account, k).map(|s| crate::accounts::clean_text("account.json", &s, max).map_err(|e| bad(e.message))).transpose()
    };
    Ok(Archive {
        display_name: clean("display_name", 50)?,
        bio: clean("bio", 500)?,
        private: account.get("private").and_then(|b| b.as_bool()),
        likes_public: account.get("likes_public").and_then(|b| b.as_bool()),
        videos: out,
    })
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub username: String,
    /// The new videos, processing.
    pub videos: Vec<Id>,
}

/// Imports `archive` into `account`: profile fields, then each video through
/// ingest (its transcode is queued like an upload's).
pub async fn import_into(st: &AppState, account: &AccountRow, archive: &Path) -> AppResult<Imported> {
    let max_video = st.config.server.max_upload_bytes;
    let a = {
        let p = archive.to_owned();
        tokio::task::spawn_blocking(move || check(&p, max_video)).await.map_err(AppError::internal)??
    };
    st.db.update_profile(&account.id, a.display_name.as_deref(), a.bio.as_deref(), a.private, a.likes_public).await?;
    if a.private.is_some() {
        st.recommender.account_changed(&account.id);
    }
    let dir = st.scratch_dir(&format!("import-{}", Id::generate())).await.map_err(AppError::internal)?;
    let result = async {
        let mut ids = Vec::new();
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
            if v.comments != CommentSetting::Everyone {
                st.db.edit_video(&id, None, None, Some(v.comments), None).await?;
            }
            let _ = tokio::fs::remove_file(&file).await;
            ids.push(id);
        }
        Ok::<_, AppError>(ids)
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    Ok(Imported { username: account.username.to_string(), videos: result? })
}

/// `POST /api/v1/me/imports`: into the caller's own account.
pub async fn import_mine(st: &AppState, caller: &Caller, archive: &Path) -> AppResult<Imported> {
    let me = caller.require()?.clone();
    crate::ingest::admit(st, &me).await?;
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
