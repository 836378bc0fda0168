//! What services answer: `Serialize` structs with stable field names (the API's
//! JSON, checked against the OpenAPI document by the HTTP crate's tests), built
//! from rows with a fixed number of queries per page, and the list shape.

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use base64::Engine;
use kinora_core::policy::CommentSetting;
use kinora_core::{ErrorCode, Id, VideoStatus, Visibility};
use kinora_db::{AccountRepo, AccountRow, CommentRow, FeedCursor, FollowState, NotificationKind, VideoRepo, VideoRow};
use serde::Serialize;

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---------- lists ----------

/// The list shape: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A page request, parsed at the edge: `limit` 1..100 (default 20) and an opaque
/// cursor this server issued.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<FeedCursor>,
}

impl PageRequest {
    pub fn parse(cursor: Option<&str>, limit: Option<&str>) -> AppResult<PageRequest> {
        Ok(PageRequest { limit: parse_limit(limit)?, cursor: decode_cursor(cursor)? })
    }

    pub fn first(limit: i64) -> PageRequest {
        PageRequest { limit, cursor: None }
    }

    /// The cursor for the next page, if this one was full.
    pub fn next<T>(&self, rows: &[T], key: impl Fn(&T) -> (i64, &Id)) -> Option<String> {
        (rows.len() as i64 == self.limit)
            .then(|| {
                rows.last().map(|r| {
                    let (k, id) = key(r);
                    encode_cursor(k, id)
                })
            })
            .flatten()
    }
}

pub fn parse_limit(limit: Option<&str>) -> AppResult<i64> {
    match limit {
        None | Some("") => Ok(20),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=100).contains(&n) => Ok(n),
            _ => Err(AppError::new(ErrorCode::InvalidField, "limit: must be 1..100")),
        },
    }
}

fn decode_cursor(c: Option<&str>) -> AppResult<Option<FeedCursor>> {
    let Some(c) = c.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || AppError::new(ErrorCode::InvalidField, "cursor: not a cursor this server issued");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (k, id) = s.split_once(':').ok_or_else(bad)?;
    let id = Id::parse(id).ok_or_else(bad)?;
    Ok(Some(FeedCursor { key: k.parse().map_err(|_| bad())?, id: id.to_string() }))
}

pub fn encode_cursor(key: i64, id: &Id) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{key}:{id}"))
}

// ---------- accounts ----------

/// The caller's follow towards an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowView {
    None,
    Requested,
    Following,
}

impl From<Option<FollowState>> for FollowView {
    fn from(s: Option<FollowState>) -> Self {
        match s {
            Some(FollowState::Accepted) => FollowView::Following,
            Some(FollowState::Requested) => FollowView::Requested,
            None => FollowView::None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AccountCounts {
    pub followers: i64,
    pub following: i64,
    /// Videos the caller may see.
    pub videos: i64,
}

/// An account as the caller sees it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub bio: String,
    pub private: bool,
    pub likes_public: bool,
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub counts: AccountCounts,
    /// The caller's follow (signed in, someone else's account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<FollowView>,
    /// `GET /api/v1/me` only: For You is personalised (off: the feed without profiling).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personalized_feed: Option<bool>,
}

/// An account in a list.
#[derive(Debug, Serialize)]
pub struct BriefAccount {
    pub id: Id,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

/// The URL of an account's profile picture, if it has one.
pub fn avatar_url(a: &AccountRow) -> Option<String> {
    a.avatar_key.as_deref().and_then(|k| k.strip_prefix("avatars/")).map(|rest| format!("/avatars/{rest}"))
}

pub fn display_name(a: &AccountRow) -> String {
    if a.display_name.is_empty() {
        a.username.to_string()
    } else {
        a.display_name.clone()
    }
}

pub fn brief(a: &AccountRow) -> BriefAccount {
    BriefAccount { id: a.id.clone(), username: a.username.to_string(), display_name: display_name(a), avatar_url: avatar_url(a) }
}

pub async fn account(st: &AppState, caller: &Caller, a: &AccountRow) -> AppResult<AccountView> {
    let (followers, following) = st.db.account_counts(&a.id).await?;
    let videos = st.db.visible_count(&a.id, caller.id()).await?;
    let follow = match caller.id() {
        Some(me) if me != &a.id => Some(FollowView::from(st.db.relation_flags(me, &a.id).await?.0)),
        _ => None,
    };
    Ok(AccountView {
        id: a.id.clone(),
        username: a.username.to_string(),
        display_name: display_name(a),
        bio: a.bio.clone(),
        private: a.private,
        likes_public: a.likes_public,
        avatar_url: avatar_url(a),
        created_at: rfc3339(a.created_at),
        counts: AccountCounts { followers, following, videos },
        follow,
        personalized_feed: None,
    })
}

// ---------- videos ----------

#[derive(Debug, Serialize)]
pub struct Author {
    pub id: Id,
    pub username: String,
}

#[derive(Debug, Serialize)]
pub struct VideoCounts {
    pub likes: i64,
    pub comments: i64,
    pub views: i64,
    pub shares: i64,
}

#[derive(Debug, Serialize)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

/// A rendition the player may choose.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub url: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub bitrate: i64,
}

/// A video as the caller sees it. `sources` (highest first), `poster_url` and
/// `preview_url` are there once it is ready.
#[derive(Debug, Serialize)]
pub struct VideoView {
    pub id: Id,
    pub status: VideoStatus,
    pub error: Option<ErrorView>,
    pub caption: String,
    pub visibility: Visibility,
    pub author: Author,
    pub duration_ms: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub share_url: String,
    pub created_at: String,
    pub counts: VideoCounts,
    pub comments: CommentSetting,
    pub liked_by_me: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<Source>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poster_url: Option<String>,
    /// For You only: why this video is in the feed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::recommend::ReasonView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
}

/// Views of several videos: one query for all their media objects and one for the
/// caller's likes, however many videos (a feed page costs the same every time).
pub async fn videos(st: &AppState, caller: &Caller, rows: &[VideoRow]) -> AppResult<Vec<VideoView>> {
    let ready: Vec<Id> = rows.iter().filter(|v| v.status == VideoStatus::Ready).map(|v| v.id.clone()).collect();
    let mut objects = st.db.media_objects_for(&ready).await?;
    let ids: Vec<Id> = rows.iter().map(|v| v.id.clone()).collect();
    let liked = match caller.id() {
        Some(me) => st.db.liked_among(me, &ids).await?,
        None => Default::default(),
    };
    Ok(rows.iter().map(|v| video_from(st, v, &objects.remove(&v.id).unwrap_or_default(), liked.contains(&v.id))).collect())
}

pub async fn video(st: &AppState, caller: &Caller, v: &VideoRow) -> AppResult<VideoView> {
    let mut out = videos(st, caller, std::slice::from_ref(v)).await?;
    out.pop().ok_or_else(|| AppError::internal("no view for a video"))
}

pub(crate) fn video_from(st: &AppState, v: &VideoRow, objects: &[kinora_db::MediaObject], liked: bool) -> VideoView {
    let url = |name: &str| format!("/media/{}/{}", v.id, name);
    let ready = v.status == VideoStatus::Ready;
    VideoView {
        id: v.id.clone(),
        status: v.status,
        error: (v.status == VideoStatus::Failed).then(|| ErrorView {
            code: v.error_code.clone().unwrap_or_else(|| "internal".into()),
            message: v.error_message.clone().unwrap_or_else(|| "processing failed".into()),
        }),
        caption: v.caption.as_str().to_owned(),
        visibility: v.visibility,
        author: Author { id: v.account_id.clone(), username: v.username.to_string() },
        duration_ms: v.duration_ms,
        width: v.width,
        height: v.height,
        share_url: format!("{}/v/{}", st.base_url, v.id),
        created_at: rfc3339(v.created_at),
        counts: VideoCounts { likes: v.likes, comments: v.comments, views: v.views, shares: v.shares },
        comments: v.comments_setting,
        liked_by_me: liked,
        sources: ready.then(|| {
            objects
                .iter()
                .filter(|o| o.mime == "video/mp4")
                .map(|o| Source { url: url(&o.name), mime: o.mime.clone(), width: o.width, height: o.height, bitrate: o.bitrate })
                .collect()
        }),
        poster_url: objects.iter().find(|o| ready && o.name.starts_with("poster-")).map(|o| url(&o.name)),
        reason: None,
        preview_url: objects.iter().find(|o| ready && o.name.starts_with("preview-")).map(|o| url(&o.name)),
    }
}

// ---------- comments, notifications ----------

#[derive(Debug, Serialize)]
pub struct CommentCounts {
    pub likes: i64,
}

#[derive(Debug, Serialize)]
pub struct CommentView {
    pub id: Id,
    pub video_id: Id,
    pub author: Author,
    pub text: String,
    pub reply_to: Option<String>,
    pub created_at: String,
    pub counts: CommentCounts,
    pub liked_by_me: bool,
}

/// Views of comments: one query for the caller's likes of all of them.
pub async fn comments(st: &AppState, caller: &Caller, rows: &[CommentRow]) -> AppResult<Vec<CommentView>> {
    let ids: Vec<Id> = rows.iter().map(|c| c.id.clone()).collect();
    let liked = match caller.id() {
        Some(me) => st.db.comments_liked_among(me, &ids).await?,
        None => Default::default(),
    };
    Ok(rows
        .iter()
        .map(|c| CommentView {
            id: c.id.clone(),
            video_id: c.video_id.clone(),
            author: Author { id: c.account_id.clone(), username: c.username.clone() },
            text: c.body.clone(),
            reply_to: c.reply_to.clone(),
            created_at: rfc3339(c.created_at),
            counts: CommentCounts { likes: c.likes },
            liked_by_me: liked.contains(&c.id),
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct NotificationVideo {
    pub id: Id,
    pub caption: String,
}

#[derive(Debug, Serialize)]
pub struct NotificationView {
    pub id: Id,
    pub kind: NotificationKind,
    pub actor: BriefAccount,
    pub video: Option<NotificationVideo>,
    pub comment_id: Option<String>,
    pub created_at: String,
    pub read: bool,
    /// For `moderation`: what was decided, why, and whether it can be appealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderation: Option<crate::moderation::Notice>,
}

/// An account looked up by id for a view (the actor of a notification).
pub async fn account_row(st: &AppState, id: &Id) -> AppResult<Option<AccountRow>> {
    Ok(st.db.account_by_id(id).await?)
}

/// Hashtag counts in lists.
#[derive(Debug, Serialize)]
pub struct TagCount {
    pub tag: String,
    pub videos: i64,
}

/// The video of a notification, by id, if it exists (for read-time checks).
pub async fn video_row(st: &AppState, id: &Id) -> AppResult<Option<VideoRow>> {
    Ok(st.db.video_by_id(id).await?)
}
