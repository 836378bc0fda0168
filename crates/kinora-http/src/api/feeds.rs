//! `/api/v1/feed/*`: For You (the recommender) and Following.

use crate::error::{ApiError, ApiResult};
use crate::extract::{ListQuery, Viewer, Q};
use axum::extract::State;
use axum::Json;
use kinora_app::feeds;
use kinora_app::recommend::{self, ForYouPage};
use kinora_app::views::{parse_limit, Page, VideoView};
use kinora_app::AppState;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ForYouQuery {
    cursor: Option<String>,
    limit: Option<String>,
    /// `false`: the feed without profiling (signed-out viewers always get it).
    personalized: Option<String>,
}

pub async fn for_you(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ForYouQuery>) -> ApiResult<Json<ForYouPage>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let personalized = match q.personalized.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError(kinora_app::AppError::new(kinora_core::ErrorCode::InvalidField, "personalized: true or false"))),
    };
    Ok(Json(recommend::for_you(&st, &viewer.caller, personalized, q.cursor.as_deref(), limit).await?))
}

pub async fn following(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<Page<VideoView>>> {
    Ok(Json(feeds::following(&st, &viewer.caller, &q.page()?).await?))
}
