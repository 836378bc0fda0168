//! Hashtags: following one, and what is trending.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{Page, TagCount};
use kinora_core::text::parse_tag;
use serde::Serialize;

pub fn tag_of(s: &str) -> AppResult<String> {
    parse_tag(s).ok_or_else(AppError::not_found)
}

#[derive(Debug, Serialize)]
pub struct TagFollow {
    pub tag: String,
    pub following: bool,
}

pub async fn set_tag_follow(st: &AppState, caller: &Caller, tag: &str, on: bool) -> AppResult<TagFollow> {
    let me = caller.require()?;
    let tag = tag_of(tag)?;
    st.db.set_tag_follow(&me.id, &tag, on).await?;
    st.recommender.relations_changed();
    Ok(TagFollow { tag, following: on })
}

/// Hashtags with the most discoverable videos of the last 7 days.
pub async fn trending(st: &AppState) -> AppResult<Page<TagCount>> {
    let rows = st.db.trending_tags(7, 20).await?;
    Ok(Page { items: rows.into_iter().map(|(tag, videos)| TagCount { tag, videos }).collect(), next_cursor: None })
}
