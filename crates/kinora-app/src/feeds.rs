//! Feeds and video lists from the database: Following, an account's videos, a
//! hashtag's videos. Each page costs a fixed number of queries: the rows (with the policy
//! applied in SQL), their media objects in one query, the caller's likes in one.

use crate::access;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::state::AppState;
use crate::tags::tag_of;
use crate::views::{self, Page, PageRequest, VideoView};
use kinora_db::VideoRepo;
use serde::Serialize;

/// The Following feed: videos of the accounts and hashtags the caller follows,
/// newest first. (For You is the recommender's: [`crate::recommend::for_you`].)
pub async fn following(st: &AppState, caller: &Caller, page: &PageRequest) -> AppResult<Page<VideoView>> {
    let me = caller.require()?;
    let rows = st.db.following_feed(&me.id, page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |r| (r.created_at, &r.id));
    Ok(Page { items: views::videos(st, caller, &rows).await?, next_cursor })
}

/// An account's videos the caller may see, newest first.
pub async fn account_videos(st: &AppState, caller: &Caller, name: &str, page: &PageRequest) -> AppResult<Page<VideoView>> {
    let (a, _) = access::visible_account(st, caller, name).await?;
    let rows = st.db.account_videos(&a.id, caller.id(), page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |r| (r.created_at, &r.id));
    Ok(Page { items: views::videos(st, caller, &rows).await?, next_cursor })
}

/// A hashtag's videos, and whether the caller follows the hashtag.
#[derive(Debug, Serialize)]
pub struct TagPage {
    pub items: Vec<VideoView>,
    pub next_cursor: Option<String>,
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub following: Option<bool>,
}

pub async fn tag_videos(st: &AppState, caller: &Caller, tag: &str, page: &PageRequest) -> AppResult<TagPage> {
    let tag = tag_of(tag)?;
    let rows = st.db.tag_videos(&tag, caller.id(), page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |r| (r.created_at, &r.id));
    let following = match caller.id() {
        Some(me) => Some(st.db.follows_tag(me, &tag).await?),
        None => None,
    };
    Ok(TagPage { items: views::videos(st, caller, &rows).await?, next_cursor, tag, following })
}
