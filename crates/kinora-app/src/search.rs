//! Search: accounts, videos or hashtags, with the policy applied in SQL.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{self, BriefAccount, Page, TagCount, VideoView};
use serde::Serialize;

/// Search results: accounts, videos or tags.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Found {
    Account(BriefAccount),
    Video(Box<VideoView>),
    Tag(TagCount),
}

kinora_core::closed_set! {
    /// What a search looks for (`?type=`).
    pub enum SearchKind {
        Videos = "videos",
        Accounts = "accounts",
        Tags = "tags",
    }
}

impl SearchKind {
    /// `?type=`: videos when absent.
    pub fn from_query(kind: Option<&str>) -> AppResult<SearchKind> {
        match kind {
            None | Some("") => Ok(SearchKind::Videos),
            Some(k) => SearchKind::parse(k).ok_or_else(|| AppError::invalid(format!("type: one of {}", SearchKind::allowed()))),
        }
    }
}

pub async fn search(st: &AppState, caller: &Caller, q: &str, kind: SearchKind, limit: i64) -> AppResult<Page<Found>> {
    if q.chars().count() > 100 {
        return Err(AppError::invalid("q: at most 100 characters"));
    }
    let items = match kind {
        SearchKind::Accounts => st.db.search_accounts(q, caller.id(), limit).await?.iter().map(|a| Found::Account(views::brief(a))).collect(),
        SearchKind::Tags => st.db.search_tags(q, caller.id(), limit).await?.into_iter().map(|(tag, videos)| Found::Tag(TagCount { tag, videos })).collect(),
        SearchKind::Videos => {
            let rows = st.db.search_videos(q, caller.id(), limit).await?;
            views::videos(st, caller, &rows).await?.into_iter().map(|v| Found::Video(Box::new(v))).collect()
        }
    };
    Ok(Page { items, next_cursor: None })
}
