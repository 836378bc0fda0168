//! `/api/v1/feed/*`: For You and Following.

use crate::error::ApiResult;
use crate::extract::{ListQuery, Viewer, Q};
use axum::extract::State;
use axum::Json;
use kinora_app::feeds::{self, Feed};
use kinora_app::views::{Page, VideoView};
use kinora_app::AppState;

pub async fn for_you(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<VideoView>>> {
    Ok(Json(feeds::feed(&st, &viewer.caller, Feed::ForYou, &q.page()?).await?))
}

pub async fn following(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<VideoView>>> {
    Ok(Json(feeds::feed(&st, &viewer.caller, Feed::Following, &q.page()?).await?))
}
