//! Notifications: what happened to the caller's account and videos, each shown
//! only while its actor and video are visible to them, at a fixed number of
//! queries per page.

use crate::access;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::state::AppState;
use crate::views::{self, NotificationVideo, NotificationView, PageRequest};
use kinora_core::policy::{self};
use kinora_core::Id;
use kinora_db::NotificationKind;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
    pub unread: i64,
}

/// The caller's notifications; each is shown only while its actor and video are
/// visible to the caller (`policy::can_see_notification`).
pub async fn notifications(st: &AppState, caller: &Caller, page: &PageRequest) -> AppResult<NotificationPage> {
    let me = caller.require()?;
    let rows = st.db.notifications(&me.id, page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |n| (n.created_at, &n.id));
    // A fixed number of queries per page: the actors, their relations to the
    // caller, the videos (through the door), the comments and the moderation
    // notices are each read once for the whole page.
    let actor_ids: Vec<Id> = rows.iter().map(|n| n.actor_id.clone()).collect();
    let actors = st.db.accounts_by_ids(&actor_ids).await?;
    let relations = access::relations(st, caller, &actor_ids).await?;
    let video_ids: Vec<Id> = rows.iter().filter_map(|n| n.video_id.clone()).collect();
    let videos = access::visible_videos(st, caller, &video_ids).await?;
    let comment_ids: Vec<Id> = rows.iter().filter_map(|n| n.comment_id.clone().map(Id::from_trusted)).collect();
    let live_comments = st.db.live_comments(&comment_ids).await?;
    let action_ids: Vec<Id> = rows.iter().filter(|n| n.kind == NotificationKind::Moderation).filter_map(|n| n.action_id.clone()).collect();
    let notices = crate::moderation::notices(st, &action_ids).await?;
    let mut items = Vec::new();
    let mut unread = 0;
    for n in &rows {
        let (Some(actor), Some(actor_rel)) = (actors.get(&n.actor_id), relations.get(&n.actor_id)) else {
            continue;
        };
        let video = n.video_id.as_ref().and_then(|v| videos.get(v));
        if !policy::can_see_notification(*actor_rel, n.video_id.as_ref().map(|_| video.is_some())) {
            continue;
        }
        if n.comment_id.as_ref().is_some_and(|c| !live_comments.contains(&Id::from_trusted(c.clone()))) {
            continue;
        }
        let moderation = match (&n.kind, &n.action_id) {
            (NotificationKind::Moderation, Some(a)) => notices.get(a).cloned(),
            _ => None,
        };
        if n.kind == NotificationKind::Moderation && moderation.is_none() {
            continue;
        }
        unread += i64::from(!n.read);
        items.push(NotificationView {
            id: n.id.clone(),
            kind: n.kind,
            actor: views::brief(actor),
            video: video.map(|v| NotificationVideo { id: v.id.clone(), caption: v.caption.as_str().to_owned() }),
            comment_id: n.comment_id.clone(),
            created_at: views::rfc3339(n.created_at),
            read: n.read,
            moderation,
        });
    }
    Ok(NotificationPage { items, next_cursor, unread })
}

pub async fn mark_read(st: &AppState, caller: &Caller, ids: Option<Vec<String>>) -> AppResult<()> {
    let me = caller.require()?;
    let ids: Option<Vec<Id>> = ids.map(|ids| ids.iter().filter_map(|i| Id::parse(i)).collect());
    st.db.mark_read(&me.id, ids.as_deref()).await?;
    Ok(())
}
