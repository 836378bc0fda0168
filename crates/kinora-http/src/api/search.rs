//! `/api/v1/search`: accounts, videos and hashtags.

use crate::error::ApiResult;
use crate::extract::{Viewer, Q};
use axum::extract::State;
use axum::Json;
use kinora_app::search::{self, Found};
use kinora_app::views::{parse_limit, Page};
use kinora_app::AppState;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<String>,
}

pub async fn search(State(st): State<AppState>, viewer: Viewer, Q(s): Q<SearchQuery>) -> ApiResult<Json<Page<Found>>> {
    let limit = parse_limit(s.limit.as_deref())?;
    Ok(Json(search::search(&st, &viewer.caller, s.q.as_deref().unwrap_or(""), search::SearchKind::from_query(s.kind.as_deref())?, limit).await?))
}
