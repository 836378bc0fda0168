//! The social API: follows and requests, profile edits, likes, comments, video
//! edits, hashtags, search, shares, notifications, blocks, mutes, reports, view
//! events and creator analytics. Every read goes through the policy in
//! `kinora_core::policy` (directly, or through `kinora-db`'s SQL mirror of it).

use crate::api::{account_by_name, encode_cursor, list_json, relation, rfc3339, visible_account, visible_video, ListQuery, Q};
use crate::app::AppState;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kinora_core::policy::{can_comment, can_view_account, CommentSetting, Relation};
use kinora_core::text::{hashtags, mentions, parse_tag};
use kinora_core::{Caption, ErrorCode, Id, Visibility};
use kinora_db::{AccountRepo, AccountRow, CommentRow, NewReport};
use serde::Deserialize;
use serde_json::{json, Value};

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(b: JsonBody<T>) -> ApiResult<T> {
    b.map(|Json(v)| v).map_err(|e| ApiError::bad_request(e.body_text()))
}

fn brief(a: &AccountRow) -> Value {
    json!({
        "id": a.id,
        "username": a.username,
        "display_name": if a.display_name.is_empty() { a.username.as_str() } else { &a.display_name },
        "avatar_url": avatar_url(a),
    })
}

// ---------- follows ----------

pub async fn follow(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let (a, rel) = visible_account(&st, &viewer, &name).await?;
    if rel == Relation::Owner {
        return Err(ApiError::new(ErrorCode::InvalidField, "username: you cannot follow yourself"));
    }
    let (state, new) = st.db.follow(&me.id, &a.id, a.private).await?;
    if new {
        let kind = if state == "requested" { "follow_request" } else { "follow" };
        st.db.notify(&a.id, kind, &me.id, None, None).await?;
    }
    Ok(Json(json!({"state": if state == "accepted" { "following" } else { "requested" }})))
}

pub async fn unfollow(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let (a, _) = visible_account(&st, &viewer, &name).await?;
    st.db.unfollow(&me.id, &a.id).await?;
    Ok(Json(json!({"state": "none"})))
}

async fn follow_list(st: AppState, viewer: Viewer, name: String, q: ListQuery, followers: bool) -> ApiResult<Json<Value>> {
    let (a, rel) = visible_account(&st, &viewer, &name).await?;
    if !kinora_core::policy::can_see_follow_lists(rel, a.private) {
        return Ok(Json(json!({"items": [], "next_cursor": null})));
    }
    let limit = q.limit()?;
    let rows = st.db.follow_list(&a.id, followers, viewer.id(), q.cursor()?.as_ref(), limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|(r, t)| encode_cursor(*t, &r.id))).flatten();
    Ok(Json(json!({"items": rows.iter().map(|(r, _)| brief(r)).collect::<Vec<_>>(), "next_cursor": next})))
}

pub async fn followers(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    follow_list(st, viewer, name, q, true).await
}

pub async fn following(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    follow_list(st, viewer, name, q, false).await
}

pub async fn follow_requests(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<Value>> {
    let me = viewer.require()?;
    let rows = st.db.follow_requests(&me.id).await?;
    Ok(Json(json!({"items": rows.iter().map(brief).collect::<Vec<_>>(), "next_cursor": null})))
}

async fn answer(st: AppState, viewer: Viewer, name: String, accept: bool) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let requester = account_by_name(&st, &name).await?;
    if !st.db.answer_request(&me.id, &requester.id, accept).await? {
        return Err(ApiError::not_found());
    }
    if accept {
        st.db.notify(&requester.id, "follow_accepted", &me.id, None, None).await?;
    }
    Ok(Json(json!({"state": if accept { "accepted" } else { "rejected" }})))
}

pub async fn accept_request(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    answer(st, viewer, name, true).await
}

pub async fn reject_request(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    answer(st, viewer, name, false).await
}

#[derive(Deserialize)]
pub struct ProfileEdit {
    display_name: Option<String>,
    bio: Option<String>,
    private: Option<bool>,
    likes_public: Option<bool>,
}

fn clean_text(field: &'static str, s: &str, max: usize) -> ApiResult<String> {
    let t: String = s.trim().chars().filter(|c| *c == '\n' || !c.is_control()).collect();
    if t.chars().count() > max {
        return Err(ApiError::new(ErrorCode::InvalidField, format!("{field}: at most {max} characters")));
    }
    Ok(t)
}

pub async fn edit_me(State(st): State<AppState>, viewer: Viewer, b: JsonBody<ProfileEdit>) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let e = body(b)?;
    let display_name = e.display_name.as_deref().map(|d| clean_text("display_name", d, 50)).transpose()?;
    let bio = e.bio.as_deref().map(|d| clean_text("bio", d, 500)).transpose()?;
    st.db.update_profile(&me.id, display_name.as_deref(), bio.as_deref(), e.private, e.likes_public).await?;
    let a = st.db.account_by_id(&me.id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(crate::api::account_json(&st, Some(&a.id), &a).await?))
}

// ---------- blocks, mutes ----------

async fn set_block(st: AppState, viewer: Viewer, name: String, on: bool) -> ApiResult<StatusCode> {
    let me = viewer.require()?.clone();
    // Unblocking works on someone you block (whom you cannot otherwise see).
    let a = account_by_name(&st, &name).await?;
    if a.id == me.id {
        return Err(ApiError::new(ErrorCode::InvalidField, "username: you cannot block yourself"));
    }
    if on {
        // Someone who blocks you does not exist for you (unless you block them too).
        if st.db.blocks(&a.id, &me.id).await? && !st.db.blocks(&me.id, &a.id).await? {
            return Err(ApiError::not_found());
        }
        st.db.block(&me.id, &a.id).await?;
    } else {
        st.db.unblock(&me.id, &a.id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn block(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_block(st, viewer, name, true).await
}

pub async fn unblock(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_block(st, viewer, name, false).await
}

async fn set_mute(st: AppState, viewer: Viewer, name: String, on: bool) -> ApiResult<StatusCode> {
    let me = viewer.require()?.clone();
    let (a, rel) = visible_account(&st, &viewer, &name).await?;
    if rel == Relation::Owner {
        return Err(ApiError::new(ErrorCode::InvalidField, "username: you cannot mute yourself"));
    }
    st.db.set_mute(&me.id, &a.id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mute(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_mute(st, viewer, name, true).await
}

pub async fn unmute(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_mute(st, viewer, name, false).await
}

// ---------- likes, shares, views ----------

async fn set_like(st: AppState, viewer: Viewer, id: String, on: bool) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let v = visible_video(&st, &viewer, &id).await?;
    if st.db.set_like(&me.id, &v.id, on).await? && on {
        st.db.notify(&v.account_id, "like", &me.id, Some(&v.id), None).await?;
    }
    let v = visible_video(&st, &viewer, &id).await?;
    Ok(Json(json!({"liked_by_me": on, "counts": {"likes": v.likes}})))
}

pub async fn like(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    set_like(st, viewer, id, true).await
}

pub async fn unlike(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    set_like(st, viewer, id, false).await
}

pub async fn likers(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let v = visible_video(&st, &viewer, &id).await?;
    let rows = st.db.likers(&v.id, viewer.id(), q.limit()?).await?;
    Ok(Json(json!({"items": rows.iter().map(brief).collect::<Vec<_>>(), "next_cursor": null})))
}

/// `GET /api/v1/accounts/{username}/liked`: videos the account liked, when it
/// shows them (or to itself), each still subject to the viewer's own access.
pub async fn liked(State(st): State<AppState>, viewer: Viewer, Path(name): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let (a, rel) = visible_account(&st, &viewer, &name).await?;
    if !kinora_core::policy::can_see_likes(rel, a.likes_public, a.private) {
        return Err(ApiError::not_found());
    }
    let limit = q.limit()?;
    let rows = st.db.liked_videos(&a.id, viewer.id(), q.cursor()?.as_ref(), limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|(v, t)| encode_cursor(*t, &v.id))).flatten();
    let mut items = Vec::new();
    for (v, _) in &rows {
        items.push(crate::api::video_json(&st, &viewer, v).await?);
    }
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

pub async fn share(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let v = visible_video(&st, &viewer, &id).await?;
    st.db.add_share(&v.id).await?;
    Ok(Json(json!({"share_url": format!("{}/v/{}", st.base_url, v.id), "counts": {"shares": v.shares + 1}})))
}

#[derive(Deserialize)]
pub struct ViewEvent {
    watched_ms: Option<i64>,
    completed: Option<bool>,
}

pub async fn record_view(
    State(st): State<AppState>,
    viewer: Viewer,
    client: crate::auth::ClientAddr,
    Path(id): Path<String>,
    b: JsonBody<ViewEvent>,
) -> ApiResult<StatusCode> {
    let v = visible_video(&st, &viewer, &id).await?;
    let e = body(b)?;
    // A view counts once per viewer (account, or address when signed out) and
    // video every ten minutes; the rest are accepted and not counted.
    let who = viewer.id().map(|i| i.to_string()).unwrap_or_else(|| format!("addr:{}", client.key));
    if crate::app::Limiters::check(&st.limiters.views, format!("{who}|{}", v.id)).is_err() {
        return Ok(StatusCode::NO_CONTENT);
    }
    // Watch time beyond ten loops of the video is not a real view of it.
    let cap = v.duration_ms.unwrap_or(60_000).max(1000) * 10;
    let watched = e.watched_ms.unwrap_or(0).clamp(0, cap);
    st.db.record_view(&v.id, viewer.id(), watched, e.completed.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn analytics(State(st): State<AppState>, viewer: Viewer) -> ApiResult<Json<Value>> {
    let me = viewer.require()?;
    let stats = st.db.video_stats(&me.id).await?;
    let since = kinora_db::now_ms() - 28 * 86_400_000;
    let gained = st.db.followers_since(&me.id, since).await?;
    let per: Vec<Value> = stats
        .iter()
        .map(|s| {
            json!({
                "video_id": s.video_id,
                "views": s.views,
                "watch_time_ms": s.watch_ms,
                "average_watch_ms": if s.views > 0 { s.watch_ms / s.views } else { 0 },
                "completion_rate": if s.views > 0 { s.completed as f64 / s.views as f64 } else { 0.0 },
                "likes": s.likes, "comments": s.comments, "shares": s.shares,
            })
        })
        .collect();
    let sum = |f: fn(&kinora_db::VideoStats) -> i64| stats.iter().map(f).sum::<i64>();
    let (views, watch, done) = (sum(|s| s.views), sum(|s| s.watch_ms), sum(|s| s.completed));
    Ok(Json(json!({
        "totals": {
            "views": views, "watch_time_ms": watch,
            "average_watch_ms": if views > 0 { watch / views } else { 0 },
            "completion_rate": if views > 0 { done as f64 / views as f64 } else { 0.0 },
            "likes": sum(|s| s.likes), "comments": sum(|s| s.comments), "shares": sum(|s| s.shares),
            "followers_gained_28d": gained,
        },
        "videos": per,
    })))
}

// ---------- video edits ----------

#[derive(Deserialize)]
pub struct VideoEdit {
    caption: Option<String>,
    visibility: Option<String>,
    comments: Option<String>,
}

pub async fn edit_video(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, b: JsonBody<VideoEdit>) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let v = visible_video(&st, &viewer, &id).await?;
    if v.account_id != me.id {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the owner can edit a video"));
    }
    let e = body(b)?;
    let caption = e.caption.as_deref().map(Caption::parse).transpose()?;
    let visibility = e.visibility.as_deref().map(Visibility::parse).transpose()?;
    let comments = e
        .comments
        .as_deref()
        .map(|c| CommentSetting::parse(c).ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "comments: must be everyone, followers or off")))
        .transpose()?;
    let tags = caption.as_ref().map(|c| hashtags(c.as_str()));
    st.db
        .edit_video(&v.id, caption.as_ref().map(|c| c.as_str()), visibility.map(|v| v.as_str()), comments.map(|c| c.as_str()), tags.as_deref())
        .await?;
    let v = visible_video(&st, &viewer, &id).await?;
    Ok(Json(crate::api::video_json(&st, &viewer, &v).await?))
}

// ---------- comments ----------

async fn comment_json(st: &AppState, viewer: &Viewer, c: &CommentRow) -> ApiResult<Value> {
    Ok(json!({
        "id": c.id,
        "video_id": c.video_id,
        "author": {"id": c.account_id, "username": c.username},
        "text": c.body,
        "reply_to": c.reply_to,
        "created_at": rfc3339(c.created_at),
        "counts": {"likes": c.likes},
        "liked_by_me": match viewer.id() { Some(me) => st.db.comment_liked(me, &c.id).await?, None => false },
    }))
}

pub async fn list_comments(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let v = visible_video(&st, &viewer, &id).await?;
    let limit = q.limit()?;
    let rows = st.db.comments(&v.id, viewer.id(), q.cursor()?.as_ref(), limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|c| encode_cursor(c.created_at, &c.id))).flatten();
    let mut items = Vec::new();
    for c in &rows {
        items.push(comment_json(&st, &viewer, c).await?);
    }
    Ok(Json(json!({"items": items, "next_cursor": next, "comments": v.comments_setting})))
}

#[derive(Deserialize)]
pub struct NewComment {
    text: Option<String>,
    reply_to: Option<String>,
}

pub async fn add_comment(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>, b: JsonBody<NewComment>) -> ApiResult<(StatusCode, Json<Value>)> {
    let me = viewer.require()?.clone();
    let v = visible_video(&st, &viewer, &id).await?;
    let rel = relation(&st, &viewer, &v.account_id).await?;
    let setting = CommentSetting::parse(&v.comments_setting).unwrap_or_default();
    if !can_comment(rel, setting) {
        return Err(ApiError::new(ErrorCode::Forbidden, "comments on this video are limited"));
    }
    let c = body(b)?;
    let text = clean_text("text", c.text.as_deref().unwrap_or(""), 500)?;
    if text.is_empty() {
        return Err(ApiError::new(ErrorCode::InvalidField, "text: write something"));
    }
    // One level of replies: a reply to a reply answers its parent.
    let mut parent = None;
    if let Some(r) = c.reply_to.as_deref() {
        let pid = Id::parse(r).ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "reply_to: no such comment"))?;
        let p = st.db.comment_by_id(&pid).await?.filter(|p| p.video_id == v.id);
        let p = p.ok_or_else(|| ApiError::new(ErrorCode::InvalidField, "reply_to: no such comment on this video"))?;
        let top = match &p.reply_to {
            Some(grand) => st.db.comment_by_id(&Id::from_trusted(grand.clone())).await?.unwrap_or(p),
            None => p,
        };
        parent = Some(top);
    }
    let cid = Id::generate();
    st.db.add_comment(&cid, &v.id, &me.id, parent.as_ref().map(|p| &p.id), &text).await?;
    st.db.notify(&v.account_id, "comment", &me.id, Some(&v.id), Some(&cid)).await?;
    if let Some(p) = &parent {
        if p.account_id != v.account_id {
            st.db.notify(&p.account_id, "reply", &me.id, Some(&v.id), Some(&cid)).await?;
        }
    }
    for u in mentions(&text) {
        if let Some(a) = st.db.account_by_username(&u).await? {
            st.db.notify(&a.id, "mention", &me.id, Some(&v.id), Some(&cid)).await?;
        }
    }
    let row = st.db.comment_by_id(&cid).await?.ok_or_else(|| ApiError::internal("comment vanished"))?;
    Ok((StatusCode::CREATED, Json(comment_json(&st, &viewer, &row).await?)))
}

/// A comment the viewer may see: its video is visible and its author not blocked.
async fn visible_comment(st: &AppState, viewer: &Viewer, id: &str) -> ApiResult<(CommentRow, kinora_db::VideoRow)> {
    let cid = Id::parse(id).ok_or_else(ApiError::not_found)?;
    let c = st.db.comment_by_id(&cid).await?.ok_or_else(ApiError::not_found)?;
    let v = visible_video(st, viewer, c.video_id.as_str()).await?;
    if !can_view_account(relation(st, viewer, &c.account_id).await?) {
        return Err(ApiError::not_found());
    }
    Ok((c, v))
}

pub async fn delete_comment(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let me = viewer.require()?.clone();
    let cid = Id::parse(&id).ok_or_else(ApiError::not_found)?;
    let c = st.db.comment_by_id(&cid).await?.ok_or_else(ApiError::not_found)?;
    let v = visible_video(&st, &viewer, c.video_id.as_str()).await?;
    // The video's owner may remove any comment on it, even one by someone they
    // blocked (whom they otherwise cannot see); everyone else needs to see it.
    if v.account_id != me.id {
        visible_comment(&st, &viewer, &id).await?;
    }
    if !kinora_core::policy::can_delete_comment(c.account_id == me.id, v.account_id == me.id) {
        return Err(ApiError::new(ErrorCode::Forbidden, "only the comment's author or the video's owner can delete it"));
    }
    st.db.delete_comment(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_comment_like(st: AppState, viewer: Viewer, id: String, on: bool) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let (c, _) = visible_comment(&st, &viewer, &id).await?;
    st.db.set_comment_like(&me.id, &c.id, on).await?;
    let (c, _) = visible_comment(&st, &viewer, &id).await?;
    Ok(Json(json!({"liked_by_me": on, "counts": {"likes": c.likes}})))
}

pub async fn like_comment(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    set_comment_like(st, viewer, id, true).await
}

pub async fn unlike_comment(State(st): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    set_comment_like(st, viewer, id, false).await
}

// ---------- hashtags ----------

fn tag_of(s: &str) -> ApiResult<String> {
    parse_tag(s).ok_or_else(ApiError::not_found)
}

pub async fn tag_videos(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let tag = tag_of(&tag)?;
    let limit = q.limit()?;
    let rows = st.db.tag_videos(&tag, viewer.id(), q.cursor()?.as_ref(), limit).await?;
    let mut j = list_json(&st, &viewer, rows, limit, |r| r.created_at).await?;
    j.0["tag"] = json!(tag);
    if let Some(me) = viewer.id() {
        j.0["following"] = json!(st.db.follows_tag(me, &tag).await?);
    }
    Ok(j)
}

pub async fn trending(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let rows = st.db.trending_tags(7, 20).await?;
    Ok(Json(json!({
        "items": rows.iter().map(|(t, n)| json!({"tag": t, "videos": n})).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

async fn set_tag_follow(st: AppState, viewer: Viewer, tag: String, on: bool) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let tag = tag_of(&tag)?;
    st.db.set_tag_follow(&me.id, &tag, on).await?;
    Ok(Json(json!({"tag": tag, "following": on})))
}

pub async fn follow_tag(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> ApiResult<Json<Value>> {
    set_tag_follow(st, viewer, tag, true).await
}

pub async fn unfollow_tag(State(st): State<AppState>, viewer: Viewer, Path(tag): Path<String>) -> ApiResult<Json<Value>> {
    set_tag_follow(st, viewer, tag, false).await
}

// ---------- search ----------

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    limit: Option<String>,
}

pub async fn search(State(st): State<AppState>, viewer: Viewer, Q(s): Q<SearchQuery>) -> ApiResult<Json<Value>> {
    let q = s.q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(ApiError::new(ErrorCode::InvalidField, "q: at most 100 characters"));
    }
    let limit = ListQuery { cursor: None, limit: s.limit }.limit()?;
    let items: Vec<Value> = match s.kind.as_deref().unwrap_or("videos") {
        "accounts" => st.db.search_accounts(&q, viewer.id(), limit).await?.iter().map(brief).collect(),
        "tags" => st.db.search_tags(&q, viewer.id(), limit).await?.into_iter().map(|(t, n)| json!({"tag": t, "videos": n})).collect(),
        "videos" => {
            let rows = st.db.search_videos(&q, viewer.id(), limit).await?;
            let mut out = Vec::new();
            for r in &rows {
                out.push(crate::api::video_json(&st, &viewer, r).await?);
            }
            out
        }
        _ => return Err(ApiError::new(ErrorCode::InvalidField, "type: must be accounts, videos or tags")),
    };
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

// ---------- notifications ----------

pub async fn notifications(State(st): State<AppState>, viewer: Viewer, Q(q): Q<ListQuery>) -> ApiResult<Json<Value>> {
    let me = viewer.require()?.clone();
    let limit = q.limit()?;
    let rows = st.db.notifications(&me.id, q.cursor()?.as_ref(), limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|n| encode_cursor(n.created_at, &n.id))).flatten();
    let mut items = Vec::new();
    let mut unread = 0;
    for n in &rows {
        // Read-time policy: the actor and the video must still be visible to me.
        let Some(actor) = st.db.account_by_id(&n.actor_id).await? else { continue };
        if !can_view_account(relation(&st, &viewer, &actor.id).await?) {
            continue;
        }
        let mut video = Value::Null;
        if let Some(vid) = &n.video_id {
            match visible_video(&st, &viewer, vid.as_str()).await {
                Ok(v) => video = json!({"id": v.id, "caption": v.caption}),
                Err(_) => continue,
            }
        }
        if let Some(cid) = &n.comment_id {
            if st.db.comment_by_id(&Id::from_trusted(cid.clone())).await?.is_none() {
                continue;
            }
        }
        unread += i64::from(!n.read);
        items.push(json!({
            "id": n.id, "kind": n.kind, "actor": brief(&actor), "video": video,
            "comment_id": n.comment_id, "created_at": rfc3339(n.created_at), "read": n.read,
        }));
    }
    Ok(Json(json!({"items": items, "next_cursor": next, "unread": unread})))
}

#[derive(Deserialize)]
pub struct MarkRead {
    ids: Option<Vec<String>>,
}

pub async fn mark_read(State(st): State<AppState>, viewer: Viewer, b: JsonBody<MarkRead>) -> ApiResult<StatusCode> {
    let me = viewer.require()?.clone();
    let m = body(b)?;
    let ids: Option<Vec<Id>> = m.ids.map(|ids| ids.iter().filter_map(|i| Id::parse(i)).collect());
    st.db.mark_read(&me.id, ids.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------- reports ----------

#[derive(Deserialize)]
pub struct Report {
    video_id: Option<String>,
    comment_id: Option<String>,
    account: Option<String>,
    reason: Option<String>,
    details: Option<String>,
}

const REASONS: &[&str] = &["spam", "harassment", "hate", "violence", "sexual", "self-harm", "illegal", "copyright", "privacy", "other"];

pub async fn report(State(st): State<AppState>, viewer: Viewer, b: JsonBody<Report>) -> ApiResult<(StatusCode, Json<Value>)> {
    let me = viewer.require()?.clone();
    let r = body(b)?;
    let reason = r.reason.unwrap_or_default();
    if !REASONS.contains(&reason.as_str()) {
        return Err(ApiError::new(ErrorCode::InvalidField, format!("reason: one of {}", REASONS.join(", "))));
    }
    let details = clean_text("details", r.details.as_deref().unwrap_or(""), 2000)?;
    let targets = [r.video_id.is_some(), r.comment_id.is_some(), r.account.is_some()].iter().filter(|x| **x).count();
    if targets != 1 {
        return Err(ApiError::new(ErrorCode::InvalidField, "video_id: report exactly one of video_id, comment_id or account"));
    }
    // What you report must be something you can see.
    let (mut video, mut comment, mut account) = (None, None, None);
    if let Some(v) = &r.video_id {
        video = Some(visible_video(&st, &viewer, v).await?.id.to_string());
    }
    if let Some(c) = &r.comment_id {
        comment = Some(visible_comment(&st, &viewer, c).await?.0.id.to_string());
    }
    if let Some(a) = &r.account {
        let (a, _) = match visible_account(&st, &viewer, a).await {
            Ok(x) => x,
            // You may report someone who blocked you... only if they exist; still 404.
            Err(e) => return Err(e),
        };
        account = Some(a.id.to_string());
    }
    let id = st
        .db
        .create_report(NewReport {
            reporter: &me.id,
            video_id: video.as_deref(),
            comment_id: comment.as_deref(),
            account_id: account.as_deref(),
            reason: &reason,
            details: &details,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id, "status": "open"}))))
}


// ---------- profile pictures ----------

/// Largest profile picture upload.
pub const AVATAR_MAX_BYTES: usize = 10 << 20;

/// `POST /api/v1/me/avatar` (multipart `file`): any PNG, JPEG, WebP, GIF or BMP up
/// to 10 MiB and 8192 px a side, re-encoded by sandboxed ffmpeg to a 256x256 JPEG
/// with no metadata, stored in the account's home region.
pub async fn upload_avatar(
    State(st): State<AppState>,
    viewer: Viewer,
    mp: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<Value>> {
    use kinora_media::process::{self, ProcessLimits};
    let me = viewer.require()?.clone();
    let mut mp = mp.map_err(|e| ApiError::bad_request(format!("expected multipart/form-data: {}", e.body_text())))?;
    const MAX: usize = AVATAR_MAX_BYTES;
    let mut data = None;
    while let Some(mut f) = mp.next_field().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
        if f.name() != Some("file") {
            continue;
        }
        let mut buf = Vec::new();
        while let Some(c) = f.chunk().await.map_err(|e| ApiError::bad_request(e.body_text()))? {
            buf.extend_from_slice(&c);
            if buf.len() > MAX {
                return Err(ApiError::new(ErrorCode::PayloadTooLarge, "profile pictures are limited to 10 MiB"));
            }
        }
        data = Some(buf);
    }
    let data = data.filter(|d| !d.is_empty()).ok_or_else(|| ApiError::bad_request("file: send an image in the field `file`"))?;
    // Transcodes run inside the request: a few at a time, the rest wait briefly.
    let _slot = tokio::time::timeout(std::time::Duration::from_secs(20), st.avatar_slots.acquire())
        .await
        .map_err(|_| ApiError::rate_limited(5))?
        .map_err(ApiError::internal)?;
    let dir = st.scratch_dir(&format!("avatar-{}", Id::generate())).await.map_err(ApiError::internal)?;
    let result = async {
        let input = dir.join("input");
        tokio::fs::write(&input, &data).await.map_err(ApiError::internal)?;
        let limits = ProcessLimits {
            wall: std::time::Duration::from_secs(20),
            cpu_secs: 20,
            memory_bytes: st.config.media.memory_limit_mib << 20,
            file_bytes: 16 << 20,
            max_stdout: 1 << 20,
            isolate_network: st.isolate_network,
            run_as: st.sandbox_user,
        };
        let bad = |m: &str| ApiError::new(ErrorCode::UnsupportedMedia, format!("file: {m}"));
        let probe = kinora_media::probe::run_probe_with(&st.tools, &input, &dir, limits, kinora_media::probe::IMAGE_DEMUXER_WHITELIST)
            .await
            .map_err(|_| bad("not a PNG, JPEG, WebP, GIF or BMP image"))?;
        let v = probe.video.as_ref().ok_or_else(|| bad("no image in the file"))?;
        if v.width == 0 || v.height == 0 || v.width > 8192 || v.height > 8192 || u64::from(v.width) * u64::from(v.height) > 40_000_000 {
            return Err(ApiError::new(ErrorCode::MediaTooLarge, "file: images are limited to 8192 px a side and 40 megapixels"));
        }
        let out = dir.join("avatar.jpg");
        process::run(&st.tools.ffmpeg, &kinora_media::transcode::avatar_args(&input, &probe.demuxer, &out), &dir, limits)
            .await
            .map_err(|_| bad("the image could not be decoded"))?;
        let bytes = tokio::fs::read(&out).await.map_err(ApiError::internal)?;
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        let key = format!("avatars/{}/{}.jpg", me.id, &sha[..16]);
        st.regions.put_durable(&me.region, &key, &out).await.map_err(ApiError::internal)?;
        let store = st.regions.get(&me.region).map_err(ApiError::internal)?;
        if let Some(old) = st.db.set_avatar(&me.id, &key).await? {
            if old != key {
                let _ = crate::storage::delete(store, &old).await;
            }
        }
        Ok(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    result?;
    let a = st.db.account_by_id(&me.id).await?.ok_or_else(ApiError::not_found)?;
    Ok(Json(crate::api::account_json(&st, Some(&a.id), &a).await?))
}

/// `GET /avatars/{account}/{name}`: a profile picture, for whoever may see the account.
pub async fn serve_avatar(
    State(st): State<AppState>,
    viewer: Viewer,
    Path((account, name)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = Id::parse(&account).ok_or_else(ApiError::not_found)?;
    let a = st.db.account_by_id(&id).await?.ok_or_else(ApiError::not_found)?;
    if !can_view_account(relation(&st, &viewer, &a.id).await?) {
        return Err(ApiError::not_found());
    }
    let key = format!("avatars/{}/{}", a.id, name);
    if a.avatar_key.as_deref() != Some(key.as_str()) {
        return Err(ApiError::not_found());
    }
    let store = st.regions.get(&a.region).map_err(ApiError::internal)?;
    let bytes = store
        .get(&crate::storage::key(&key))
        .await
        .map_err(ApiError::internal)?
        .bytes()
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}

/// The URL of an account's profile picture, if it has one.
pub fn avatar_url(a: &AccountRow) -> Option<String> {
    a.avatar_key.as_deref().and_then(|k| k.strip_prefix("avatars/")).map(|rest| format!("/avatars/{rest}"))
}
