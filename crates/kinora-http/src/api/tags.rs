//! `/api/v1/tags`: hashtags, their videos, trending, follows.

use crate::error::ApiResult;
use crate::extract::{ListQuery, Viewer, Q};
use axum::extract::{Path, State};
use axum::Json;
use kinora_app::feeds::{self, TagPage};
use kinora_app::tags::{self, TagFollow};
use kinora_app::views::{Page, TagCount};
use kinora_app::AppState;

pub async fn videos(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<TagPage>> {
    Ok(Json(feeds::tag_videos(&st, &viewer.caller, &tag, &q.page()?).await?))
}

pub async fn trending(State(st): State<AppState>) -> ApiResult<Json<Page<TagCount>>> {
    Ok(Json(tags::trending(&st).await?))
}

pub async fn follow(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> ApiResult<Json<TagFollow>> {
    Ok(Json(tags::set_tag_follow(&st, &viewer.caller, &tag, true).await?))
}

pub async fn unfollow(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> ApiResult<Json<TagFollow>> {
    Ok(Json(tags::set_tag_follow(&st, &viewer.caller, &tag, false).await?))
}
