//! Comments and replies, their likes, and who may comment
//! (`policy::can_comment`).

use crate::access;
use crate::accounts::clean_text;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::videos::{LikeCount, Liked};
use crate::views::{self, CommentView, PageRequest};
use kinora_core::policy::{self, CommentSetting};
use kinora_core::text::mentions;
use kinora_core::Id;
use kinora_db::{AccountRepo, NotificationKind};
use serde::Serialize;

/// A video's comments, with its comment setting.
#[derive(Debug, Serialize)]
pub struct CommentPage {
    pub items: Vec<CommentView>,
    pub next_cursor: Option<String>,
    pub comments: CommentSetting,
}

pub async fn comments(st: &AppState, caller: &Caller, id: &str, page: &PageRequest) -> AppResult<CommentPage> {
    let v = access::visible_video(st, caller, id).await?;
    let rows = st.db.comments(&v.id, caller.id(), page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |c| (c.created_at, &c.id));
    Ok(CommentPage { items: views::comments(st, caller, &rows).await?, next_cursor, comments: v.comments_setting })
}

/// Posts a comment (or a reply: a reply to a reply answers its parent) and
/// notifies the video's owner, the parent's author and mentioned accounts.
pub async fn add_comment(st: &AppState, caller: &Caller, id: &str, text: &str, reply_to: Option<&str>) -> AppResult<CommentView> {
    let me = caller.require()?;
    let v = access::visible_video(st, caller, id).await?;
    let rel = access::relation(st, caller, &v.account_id).await?;
    if !policy::can_comment(rel, v.comments_setting) {
        return Err(AppError::forbidden("comments on this video are limited"));
    }
    let text = clean_text("text", text, 500)?;
    if text.is_empty() {
        return Err(AppError::invalid("text: write something"));
    }
    let mut parent = None;
    if let Some(r) = reply_to {
        let pid = Id::parse(r).ok_or_else(|| AppError::invalid("reply_to: no such comment"))?;
        let p = st.db.comment_by_id(&pid).await?.filter(|p| p.video_id == v.id);
        let p = p.ok_or_else(|| AppError::invalid("reply_to: no such comment on this video"))?;
        let top = match &p.reply_to {
            Some(grand) => st.db.comment_by_id(&Id::from_trusted(grand.clone())).await?.unwrap_or(p),
            None => p,
        };
        parent = Some(top);
    }
    let cid = Id::generate();
    st.db.add_comment(&cid, &v.id, &me.id, parent.as_ref().map(|p| &p.id), &text).await?;
    st.db.notify(&v.account_id, NotificationKind::Comment, &me.id, Some(&v.id), Some(&cid)).await?;
    if let Some(p) = &parent {
        if p.account_id != v.account_id {
            st.db.notify(&p.account_id, NotificationKind::Reply, &me.id, Some(&v.id), Some(&cid)).await?;
        }
    }
    for u in mentions(&text) {
        if let Some(a) = st.db.account_by_username(&u).await? {
            st.db.notify(&a.id, NotificationKind::Mention, &me.id, Some(&v.id), Some(&cid)).await?;
        }
    }
    let row = st.db.comment_by_id(&cid).await?.ok_or_else(|| AppError::internal("comment vanished"))?;
    let mut out = views::comments(st, caller, std::slice::from_ref(&row)).await?;
    out.pop().ok_or_else(|| AppError::internal("no view for a comment"))
}

pub async fn delete_comment(st: &AppState, caller: &Caller, id: &str) -> AppResult<()> {
    let c = access::deletable_comment(st, caller, id).await?;
    st.db.delete_comment(&c).await?;
    Ok(())
}

pub async fn set_comment_like(st: &AppState, caller: &Caller, id: &str, on: bool) -> AppResult<Liked> {
    let me = caller.require()?;
    let (c, _) = access::visible_comment(st, caller, id).await?;
    st.db.set_comment_like(&me.id, &c.id, on).await?;
    let (c, _) = access::visible_comment(st, caller, id).await?;
    Ok(Liked { liked_by_me: on, counts: LikeCount { likes: c.likes } })
}
