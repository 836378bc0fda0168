//! One video and what people do with it: view, edit, delete, like, share, and
//! count a view. Reads go through [`crate::access`].

use crate::access;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Limiters};
use crate::views::{self, BriefAccount, Page, PageRequest, VideoView};
use kinora_core::policy::CommentSetting;
use kinora_core::text::hashtags;
use kinora_core::{Caption, Visibility};
use kinora_db::NotificationKind;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct LikeCount {
    pub likes: i64,
}

#[derive(Debug, Serialize)]
pub struct Liked {
    pub liked_by_me: bool,
    pub counts: LikeCount,
}

pub async fn set_like(st: &AppState, caller: &Caller, id: &str, on: bool) -> AppResult<Liked> {
    let me = caller.require()?;
    let v = access::visible_video(st, caller, id).await?;
    if st.db.set_like(&me.id, &v.id, on).await? && on {
        st.db.notify(&v.account_id, NotificationKind::Like, &me.id, Some(&v.id), None).await?;
    }
    let v = access::visible_video(st, caller, id).await?;
    if !on {
        st.recommender.unliked(&me.id, &v.id).await;
    }
    Ok(Liked { liked_by_me: on, counts: LikeCount { likes: v.likes } })
}

/// Who liked a video, among the accounts whose likes the caller may see.
pub async fn likers(st: &AppState, caller: &Caller, id: &str, page: &PageRequest) -> AppResult<Page<BriefAccount>> {
    let v = access::visible_video(st, caller, id).await?;
    let rows = st.db.likers(&v.id, caller.id(), page.limit).await?;
    Ok(Page { items: rows.iter().map(views::brief).collect(), next_cursor: None })
}

/// The videos an account liked, when the caller may see its likes; each still
/// subject to the caller's own access.
pub async fn liked_videos(st: &AppState, caller: &Caller, name: &str, page: &PageRequest) -> AppResult<Page<VideoView>> {
    let (a, rel) = access::visible_account(st, caller, name).await?;
    if !access::may_see_likes(rel, &a) {
        return Err(AppError::not_found());
    }
    let rows = st.db.liked_videos(&a.id, caller.id(), page.cursor.as_ref(), page.limit).await?;
    let next_cursor = page.next(&rows, |(v, t)| (*t, &v.id));
    let videos: Vec<_> = rows.into_iter().map(|(v, _)| v).collect();
    Ok(Page { items: views::videos(st, caller, &videos).await?, next_cursor })
}

#[derive(Debug, Serialize)]
pub struct ShareCount {
    pub shares: i64,
}

#[derive(Debug, Serialize)]
pub struct Shared {
    pub share_url: String,
    pub counts: ShareCount,
}

pub async fn share(st: &AppState, caller: &Caller, id: &str) -> AppResult<Shared> {
    let v = access::visible_video(st, caller, id).await?;
    st.db.add_share(&v.id).await?;
    if let Some(me) = caller.id() {
        st.db.record_share(me, &v.id).await?;
        st.recommender.wake.notify_one();
    }
    Ok(Shared { share_url: format!("{}/v/{}", st.base_url, v.id), counts: ShareCount { shares: v.shares + 1 } })
}

/// A view from the player. It counts once per viewer (account, or `client`
/// address when signed out) and video every ten minutes; the rest are accepted
/// and not counted.
pub async fn record_view(
    st: &AppState,
    caller: &Caller,
    client: &str,
    id: &str,
    watched_ms: Option<i64>,
    completed: Option<bool>,
    replays: Option<i64>,
) -> AppResult<()> {
    let v = access::visible_video(st, caller, id).await?;
    let who = caller.id().map(|i| i.to_string()).unwrap_or_else(|| format!("addr:{client}"));
    if Limiters::check(&st.limiters.views, format!("{who}|{}", v.id)).is_err() {
        return Ok(());
    }
    // Watch time beyond ten loops of the video is not a real view of it.
    let cap = v.duration_ms.unwrap_or(60_000).max(1000) * 10;
    let watched = watched_ms.unwrap_or(0).clamp(0, cap);
    let replays = replays.unwrap_or(0).clamp(0, 10);
    st.db.record_view_replays(&v.id, caller.id(), watched, completed.unwrap_or(false), replays).await?;
    // For You learns from it within seconds.
    st.recommender.wake.notify_one();
    Ok(())
}

/// One video, as the caller may see it.
pub async fn get_video(st: &AppState, caller: &Caller, id: &str) -> AppResult<VideoView> {
    let v = access::visible_video(st, caller, id).await?;
    views::video(st, caller, &v).await
}

/// An owner's edit; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct VideoEdit {
    pub caption: Option<String>,
    pub visibility: Option<String>,
    pub comments: Option<String>,
}

pub async fn edit_video(st: &AppState, caller: &Caller, id: &str, e: VideoEdit) -> AppResult<VideoView> {
    let v = access::own_video(st, caller, id, "edit").await?;
    let caption = e.caption.as_deref().map(Caption::parse).transpose()?;
    let visibility = e.visibility.as_deref().map(Visibility::parse).transpose()?;
    let comments =
        e.comments.as_deref().map(|c| CommentSetting::parse(c).ok_or_else(|| AppError::invalid("comments: must be everyone, followers or off"))).transpose()?;
    let tags = caption.as_ref().map(|c| hashtags(c.as_str()));
    st.db.edit_video(&v.id, caption.as_ref().map(|c| c.as_str()), visibility, comments, tags.as_deref()).await?;
    st.recommender.video_changed(&v.id);
    let v = access::visible_video(st, caller, id).await?;
    views::video(st, caller, &v).await
}

/// Deletes a video: it stops being served at once; its objects are purged by a job.
pub async fn delete_video(st: &AppState, caller: &Caller, id: &str) -> AppResult<()> {
    let v = access::own_video(st, caller, id, "delete").await?;
    kinora_db::VideoRepo::delete_video(&st.db, &v.id).await?;
    st.recommender.video_changed(&v.id);
    st.wake.notify_one();
    Ok(())
}
