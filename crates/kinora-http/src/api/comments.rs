//! `/api/v1/videos/{id}/comments` and `/api/v1/comments/{id}`.

use crate::error::ApiResult;
use crate::extract::{body, JsonBody, ListQuery, Viewer, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_app::comments::{self, CommentPage};
use kinora_app::videos::Liked;
use kinora_app::views::CommentView;
use kinora_app::AppState;
use serde::Deserialize;

pub async fn list(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<CommentPage>> {
    Ok(Json(comments::comments(&st, &viewer.caller, &id, &q.page()?).await?))
}

#[derive(Deserialize)]
pub struct NewComment {
    text: Option<String>,
    reply_to: Option<String>,
}

pub async fn create(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, b: JsonBody<NewComment>) -> ApiResult<(StatusCode, Json<CommentView>)> {
    let c = body(b)?;
    let view = comments::add_comment(&st, &viewer.caller, &id, c.text.as_deref().unwrap_or(""), c.reply_to.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn delete(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<StatusCode> {
    comments::delete_comment(&st, &viewer.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn like(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Liked>> {
    Ok(Json(comments::set_comment_like(&st, &viewer.caller, &id, true).await?))
}

pub async fn unlike(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Liked>> {
    Ok(Json(comments::set_comment_like(&st, &viewer.caller, &id, false).await?))
}
