//! `/api/v1/videos`: multipart upload, one video, edits, deletion, likes, likers,
//! shares, views.

use crate::error::{ApiError, ApiResult};
use crate::extract::{body, ClientAddr, JsonBody, ListQuery, Viewer, Q};
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_app::videos::{self, Liked, Shared};
use kinora_app::views::{BriefAccount, Page, VideoView};
use kinora_app::{ingest, AppError, AppState};
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

pub async fn get(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<VideoView>> {
    Ok(Json(videos::get_video(&st, &viewer.caller, &id).await?))
}

pub async fn delete(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<StatusCode> {
    videos::delete_video(&st, &viewer.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct VideoEdit {
    caption: Option<String>,
    visibility: Option<String>,
    comments: Option<String>,
}

pub async fn edit(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, b: JsonBody<VideoEdit>) -> ApiResult<Json<VideoView>> {
    let e = body(b)?;
    let edit = videos::VideoEdit { caption: e.caption, visibility: e.visibility, comments: e.comments };
    Ok(Json(videos::edit_video(&st, &viewer.caller, &id, edit).await?))
}

/// `POST /api/v1/videos/{id}/not-interested`: For You never shows it again (nor,
/// after two, that creator).
pub async fn not_interested(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<kinora_app::recommend::NotInterested>> {
    Ok(Json(kinora_app::recommend::not_interested(&st, &viewer.caller, &id, true).await?))
}

/// `DELETE /api/v1/videos/{id}/not-interested`: takes the mark back.
pub async fn interested(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<kinora_app::recommend::NotInterested>> {
    Ok(Json(kinora_app::recommend::not_interested(&st, &viewer.caller, &id, false).await?))
}

pub async fn like(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Liked>> {
    Ok(Json(videos::set_like(&st, &viewer.caller, &id, true).await?))
}

pub async fn unlike(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Liked>> {
    Ok(Json(videos::set_like(&st, &viewer.caller, &id, false).await?))
}

pub async fn likers(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<BriefAccount>>> {
    Ok(Json(videos::likers(&st, &viewer.caller, &id, &q.page()?).await?))
}

pub async fn share(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Shared>> {
    Ok(Json(videos::share(&st, &viewer.caller, &id).await?))
}

#[derive(Deserialize)]
pub struct ViewEvent {
    watched_ms: Option<i64>,
    completed: Option<bool>,
    /// Times the viewer watched it again (the player loops).
    replays: Option<i64>,
}

pub async fn record_view(
    State(st): State<AppState>,
    viewer: Viewer,
    client: ClientAddr,
    Path(id): Path<String>,
    b: JsonBody<ViewEvent>,
) -> ApiResult<StatusCode> {
    let e = body(b)?;
    videos::record_view(&st, &viewer.caller, &client.key, &id, e.watched_ms, e.completed, e.replays).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a staging file when dropped, whatever path the handler leaves by.
struct Staged(std::path::PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn too_large(max: u64) -> ApiError {
    AppError::new(ErrorCode::PayloadTooLarge, format!("the upload is larger than the {} MiB limit", max >> 20)).into()
}

/// `POST /api/v1/videos` (multipart `file`, `caption`, `visibility`): the file is
/// staged (fsynced) on local disk, then handed to the ingest service.
pub async fn upload(
    State(st): State<AppState>,
    viewer: Viewer,
    mp: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<VideoView>)> {
    let me = viewer.caller.require()?.clone();
    let mut mp = mp.map_err(|e| ApiError::bad_request(format!("expected multipart/form-data: {}", e.body_text())))?;
    ingest::admit(&st, &me).await?;
    let max = st.config().server.max_upload_bytes;
    let staging_dir = st.data_dir().join("staging");
    tokio::fs::create_dir_all(&staging_dir).await.map_err(ApiError::internal)?;
    let mut staged: Option<(Staged, u64, String)> = None;
    let mut caption = String::new();
    let mut visibility = String::new();
    let field_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            ApiError::bad_request(format!("reading the upload: {}", e.body_text()))
        }
    };
    while let Some(mut field) = mp.next_field().await.map_err(field_err)? {
        match field.name().unwrap_or("") {
            "file" if staged.is_none() => {
                let name: String = field.file_name().unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
                let path = staging_dir.join(Id::generate().as_str());
                let guard = Staged(path.clone());
                let mut f = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
                let mut n = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(field_err)? {
                    n += chunk.len() as u64;
                    if n > max {
                        return Err(too_large(max));
                    }
                    f.write_all(&chunk).await.map_err(ApiError::internal)?;
                }
                f.sync_all().await.map_err(ApiError::internal)?;
                staged = Some((guard, n, name));
            }
            "caption" => caption = small_text(field, 16 * 1024).await?,
            "visibility" => visibility = small_text(field, 64).await?,
            _ => {}
        }
    }
    let caption = Caption::parse(&caption)?;
    let visibility = Visibility::parse(&visibility)?;
    let (file, bytes, name) = staged.ok_or_else(|| ApiError::bad_request("file: the multipart field `file` is missing"))?;
    ingest::charge_bytes(&st, &me, bytes)?;
    let incoming = ingest::Incoming { file: &file.0, bytes, caption: &caption, visibility, original_name: &name };
    let id = ingest::ingest(&st, &me, incoming).await?;
    drop(file);
    Ok((StatusCode::ACCEPTED, Json(videos::get_video(&st, &viewer.caller, id.as_str()).await?)))
}

async fn small_text(mut field: axum::extract::multipart::Field<'_>, max: usize) -> ApiResult<String> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
        buf.extend_from_slice(&chunk);
        if buf.len() > max {
            return Err(AppError::invalid(format!("{}: too long", field.name().unwrap_or("field"))).into());
        }
    }
    String::from_utf8(buf).map_err(|_| AppError::invalid("form fields must be UTF-8").into())
}
