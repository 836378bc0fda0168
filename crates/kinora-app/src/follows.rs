//! Follows and follow requests, blocks and mutes: who stands where to whom. Every
//! read of an account goes through [`crate::access`].

use crate::access;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::views::{self, BriefAccount, Page, PageRequest};
use kinora_core::policy::{self, Relation};
use kinora_db::{FollowState, NotificationKind};

/// Follows (or asks to follow a private account); returns the new state.
/// `from_video` names the video of theirs the follow was made from (For You
/// learns from it as engagement with that video).
pub async fn follow(st: &AppState, caller: &Caller, name: &str, from_video: Option<&str>) -> AppResult<views::FollowView> {
    let me = caller.require()?;
    let (a, rel) = access::visible_account(st, caller, name).await?;
    if rel == Relation::Owner {
        return Err(AppError::invalid("username: you cannot follow yourself"));
    }
    let via = match from_video {
        None => None,
        Some(id) => {
            let v = access::visible_video(st, caller, id).await?;
            if v.account_id != a.id {
                return Err(AppError::invalid("from_video: not a video of this account"));
            }
            Some(v.id)
        }
    };
    let (state, new) = st.db.follow(&me.id, &a.id, a.private, via.as_ref()).await?;
    if new {
        st.recommender.wake.notify_one();
        let kind = if state == FollowState::Requested { NotificationKind::FollowRequest } else { NotificationKind::Follow };
        st.db.notify(&a.id, kind, &me.id, None, None).await?;
    }
    Ok(views::FollowView::from(Some(state)))
}

pub async fn unfollow(st: &AppState, caller: &Caller, name: &str) -> AppResult<views::FollowView> {
    let me = caller.require()?;
    let (a, _) = access::visible_account(st, caller, name).await?;
    st.db.unfollow(&me.id, &a.id).await?;
    st.recommender.unfollowed(&me.id, &a.id).await;
    Ok(views::FollowView::None)
}

/// Followers (`followers = true`) or followees of an account, when the caller may
/// see its lists (`policy::can_see_follow_lists`); empty otherwise.
pub async fn follow_list(st: &AppState, caller: &Caller, name: &str, followers: bool, page: &PageRequest) -> AppResult<Page<BriefAccount>> {
    let (a, rel) = access::visible_account(st, caller, name).await?;
    if !policy::can_see_follow_lists(rel, a.private) {
        return Ok(Page { items: vec![], next_cursor: None });
    }
    let rows = st.db.follow_list(&a.id, followers, caller.id(), page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |(r, t)| (*t, &r.id));
    Ok(Page { items: rows.iter().map(|(r, _)| views::brief(r)).collect(), next_cursor })
}

pub async fn follow_requests(st: &AppState, caller: &Caller) -> AppResult<Page<BriefAccount>> {
    let me = caller.require()?;
    let rows = st.db.follow_requests(&me.id).await?;
    Ok(Page { items: rows.iter().map(views::brief).collect(), next_cursor: None })
}

/// Accepts or rejects a request to follow the caller.
pub async fn answer_request(st: &AppState, caller: &Caller, name: &str, accept: bool) -> AppResult<()> {
    let me = caller.require()?;
    let requester = access::account_by_name(st, name).await?;
    if !st.db.answer_request(&me.id, &requester.id, accept).await? {
        return Err(AppError::not_found());
    }
    if accept {
        st.db.notify(&requester.id, NotificationKind::FollowAccepted, &me.id, None, None).await?;
    }
    Ok(())
}

pub async fn set_block(st: &AppState, caller: &Caller, name: &str, on: bool) -> AppResult<()> {
    let me = caller.require()?;
    // Unblocking works on someone you block (whom you cannot otherwise see).
    let a = access::account_by_name(st, name).await?;
    if a.id == me.id {
        return Err(AppError::invalid("username: you cannot block yourself"));
    }
    if on {
        // Someone who blocks you does not exist for you (unless you block them too).
        if st.db.blocks(&a.id, &me.id).await? && !st.db.blocks(&me.id, &a.id).await? {
            return Err(AppError::not_found());
        }
        st.db.block(&me.id, &a.id).await?;
        // A block ends follows both ways.
        st.recommender.unfollowed(&me.id, &a.id).await;
        st.recommender.unfollowed(&a.id, &me.id).await;
    } else {
        st.db.unblock(&me.id, &a.id).await?;
    }
    st.recommender.relations_changed();
    Ok(())
}

pub async fn set_mute(st: &AppState, caller: &Caller, name: &str, on: bool) -> AppResult<()> {
    let me = caller.require()?;
    let (a, rel) = access::visible_account(st, caller, name).await?;
    if rel == Relation::Owner {
        return Err(AppError::invalid("username: you cannot mute yourself"));
    }
    st.db.set_mute(&me.id, &a.id, on).await?;
    st.recommender.relations_changed();
    Ok(())
}
