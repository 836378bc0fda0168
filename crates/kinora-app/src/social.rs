//! The social layer: follows and requests, blocks, mutes, likes, shares, views,
//! video edits, comments, hashtags, search, notifications, reports. Every read
//! goes through [`crate::access`] or the SQL mirror of the policy.

use crate::access;
use crate::accounts::clean_text;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::{AppState, Limiters};
use crate::views::{self, BriefAccount, CommentView, NotificationVideo, NotificationView, Page, PageRequest, TagCount, VideoView};
use kinora_core::moderation::ReportReason;
use kinora_core::policy::{self, CommentSetting, Relation};
use kinora_core::text::{hashtags, mentions, parse_tag};
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{AccountRepo, FollowState, NewReport, NotificationKind};
use serde::Serialize;

// ---------- follows ----------

/// Follows (or asks to follow a private account); returns the new state.
/// Follows an account; `from_video` names the video of theirs the follow was made
/// from (For You learns from it as engagement with that video).
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

// ---------- blocks, mutes ----------

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

// ---------- likes, shares, views ----------

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

// ---------- videos ----------

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

// ---------- comments ----------

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

// ---------- hashtags ----------

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

// ---------- search ----------

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

// ---------- notifications ----------

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

// ---------- reports ----------

/// What a report is about: exactly one target.
#[derive(Debug, Default)]
pub struct Report {
    pub video_id: Option<String>,
    pub comment_id: Option<String>,
    pub account: Option<String>,
    pub reason: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Reported {
    pub id: Id,
    pub status: &'static str,
}

/// Files a report about something the caller can see.
pub async fn report(st: &AppState, caller: &Caller, r: Report) -> AppResult<Reported> {
    let me = caller.require()?;
    let choosable = || ReportReason::choosable().map(ReportReason::as_str).collect::<Vec<_>>().join(", ");
    let reason = r
        .reason
        .as_deref()
        .and_then(ReportReason::parse)
        .filter(|r| *r != ReportReason::Appeal)
        .ok_or_else(|| AppError::new(ErrorCode::InvalidField, format!("reason: one of {}", choosable())))?;
    let details = clean_text("details", r.details.as_deref().unwrap_or(""), 2000)?;
    let targets = [r.video_id.is_some(), r.comment_id.is_some(), r.account.is_some()].iter().filter(|x| **x).count();
    if targets != 1 {
        return Err(AppError::invalid("video_id: report exactly one of video_id, comment_id or account"));
    }
    let (mut video, mut comment, mut account) = (None, None, None);
    if let Some(v) = &r.video_id {
        video = Some(access::visible_video(st, caller, v).await?.id.to_string());
    }
    if let Some(c) = &r.comment_id {
        comment = Some(access::visible_comment(st, caller, c).await?.0.id.to_string());
    }
    if let Some(a) = &r.account {
        account = Some(access::visible_account(st, caller, a).await?.0.id.to_string());
    }
    let id = st
        .db
        .create_report(NewReport {
            reporter: &me.id,
            video_id: video.as_deref(),
            comment_id: comment.as_deref(),
            account_id: account.as_deref(),
            reason,
            details: &details,
        })
        .await?;
    Ok(Reported { id, status: "open" })
}
