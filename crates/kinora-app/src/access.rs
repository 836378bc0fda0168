//! The one door to data the access policy governs. Every read of an account, a
//! video, a comment, a media object or a profile picture on behalf of a caller
//! comes through here; the rules themselves are `kinora_core::policy` (and, for
//! lists, its SQL mirror `kinora_db::visibility`). What a caller may not see is
//! answered exactly like what does not exist: [`AppError::not_found`].

use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::policy::{self, Relation};
use kinora_core::{Id, Username, VideoStatus};
use kinora_db::{AccountRepo, AccountRow, CommentRow, FollowState, MediaObject, VideoRepo, VideoRow};

/// The caller's relation to `owner`, for the policy.
/// A suspended owner stands to everyone else as a blocked one
/// (`policy::standing_relation`).
pub async fn relation(st: &AppState, caller: &Caller, owner: &Id) -> AppResult<Relation> {
    if caller.id() == Some(owner) {
        return Ok(Relation::Owner);
    }
    let (state, blocked, standing) = st.db.relation_of(caller.id(), owner).await?;
    Ok(relation_from(caller, state, blocked, standing))
}

fn relation_from(caller: &Caller, state: Option<FollowState>, blocked: bool, standing: policy::Standing) -> Relation {
    let rel = if caller.id().is_none() {
        Relation::Anonymous
    } else if blocked {
        Relation::Blocked
    } else if state == Some(FollowState::Accepted) {
        Relation::Follower
    } else {
        Relation::Stranger
    };
    policy::standing_relation(rel, standing)
}

/// [`relation`] to many owners in one query (for lists). Owners that do not
/// exist are absent.
pub async fn relations(st: &AppState, caller: &Caller, owners: &[Id]) -> AppResult<std::collections::HashMap<Id, Relation>> {
    let mut owners = owners.to_vec();
    owners.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    owners.dedup();
    let found = st.db.relations_of(caller.id(), &owners).await?;
    Ok(found
        .into_iter()
        .map(|(owner, (state, blocked, standing))| {
            let rel = if caller.id() == Some(&owner) { Relation::Owner } else { relation_from(caller, state, blocked, standing) };
            (owner, rel)
        })
        .collect())
}

/// [`visible_video`] for many ids in two queries: the videos among `ids` the
/// caller may see (what they may not see is simply absent).
pub async fn visible_videos(st: &AppState, caller: &Caller, ids: &[Id]) -> AppResult<std::collections::HashMap<Id, VideoRow>> {
    let videos = st.db.videos_by_ids(ids).await?;
    let owners: Vec<Id> = videos.values().map(|v| v.account_id.clone()).collect();
    let rels = relations(st, caller, &owners).await?;
    Ok(videos
        .into_iter()
        .filter(|(_, v)| rels.get(&v.account_id).is_some_and(|rel| policy::can_view_video(*rel, v.visibility, v.account_private, v.status)))
        .collect())
}

/// An account by username, whoever asks (for acting on someone you may not see:
/// unblocking, answering a follow request). Reading goes through [`visible_account`].
pub async fn account_by_name(st: &AppState, name: &str) -> AppResult<AccountRow> {
    let u = Username::parse(name).map_err(|_| AppError::not_found())?;
    st.db.account_by_username(&u).await?.ok_or_else(AppError::not_found)
}

/// An account the caller may see (not blocked either way), with their relation.
pub async fn visible_account(st: &AppState, caller: &Caller, name: &str) -> AppResult<(AccountRow, Relation)> {
    let a = account_by_name(st, name).await?;
    let rel = relation(st, caller, &a.id).await?;
    if !policy::can_view_account(rel) {
        return Err(AppError::not_found());
    }
    Ok((a, rel))
}

/// A video the caller may see.
pub async fn visible_video(st: &AppState, caller: &Caller, id: &str) -> AppResult<VideoRow> {
    let id = Id::parse(id).ok_or_else(AppError::not_found)?;
    let v = st.db.video_by_id(&id).await?.ok_or_else(AppError::not_found)?;
    let rel = relation(st, caller, &v.account_id).await?;
    if !policy::can_view_video(rel, v.visibility, v.account_private, v.status) {
        return Err(AppError::not_found());
    }
    Ok(v)
}

/// A video the caller owns: someone else's is `forbidden` if they may see it, and
/// `not-found` if they may not.
pub async fn own_video(st: &AppState, caller: &Caller, id: &str, what: &str) -> AppResult<VideoRow> {
    let me = caller.require()?;
    let v = visible_video(st, caller, id).await?;
    if v.account_id != me.id {
        return Err(AppError::forbidden(format!("only the owner can {what} a video")));
    }
    Ok(v)
}

/// A comment the caller may see: its video is visible and its author is not
/// blocked either way.
pub async fn visible_comment(st: &AppState, caller: &Caller, id: &str) -> AppResult<(CommentRow, VideoRow)> {
    let cid = Id::parse(id).ok_or_else(AppError::not_found)?;
    let c = st.db.comment_by_id(&cid).await?.ok_or_else(AppError::not_found)?;
    let v = visible_video(st, caller, c.video_id.as_str()).await?;
    if !policy::can_view_account(relation(st, caller, &c.account_id).await?) {
        return Err(AppError::not_found());
    }
    Ok((c, v))
}

/// A comment the caller may remove (`policy::can_delete_comment`): the video's owner
/// may remove any comment on it, including one by someone they blocked, whom they
/// otherwise cannot see.
pub async fn deletable_comment(st: &AppState, caller: &Caller, id: &str) -> AppResult<CommentRow> {
    let me = caller.require()?;
    let cid = Id::parse(id).ok_or_else(AppError::not_found)?;
    let c = st.db.comment_by_id(&cid).await?.ok_or_else(AppError::not_found)?;
    let v = visible_video(st, caller, c.video_id.as_str()).await?;
    if v.account_id != me.id {
        visible_comment(st, caller, id).await?;
    }
    if !policy::can_delete_comment(c.account_id == me.id, v.account_id == me.id) {
        return Err(AppError::forbidden("only the comment's author or the video's owner can delete it"));
    }
    Ok(c)
}

/// A served object (rendition, poster, preview) of a ready video the caller may
/// see, and whether shared caches may keep it (`policy::publicly_cacheable`).
///
/// A staff member may also fetch, with a `grant` issued to them by a logged staff
/// access ([`crate::staff::media_grant`]), media they could not otherwise see, for a
/// limited time; such answers are never shared-cacheable.
pub async fn media_object(st: &AppState, caller: &Caller, video: &str, name: &str, grant: Option<&str>) -> AppResult<ReleasedMedia> {
    let id = Id::parse(video).ok_or_else(AppError::not_found)?;
    let (v, obj) = st.db.video_with_object(&id, name).await?.ok_or_else(AppError::not_found)?;
    let rel = relation(st, caller, &v.account_id).await?;
    if v.status != VideoStatus::Ready || !policy::can_view_video(rel, v.visibility, v.account_private, v.status) {
        if let Some(g) = grant {
            if crate::staff::media_grant_valid(st, caller, &v.id, g).await? {
                return Ok(ReleasedMedia { video: v, object: obj, public: false });
            }
        }
        return Err(AppError::not_found());
    }
    let public = policy::publicly_cacheable(v.visibility, v.account_private);
    Ok(ReleasedMedia { video: v, object: obj, public })
}

/// A media object the door released to a caller; its bytes are read only through
/// it (the fields are private, so nothing else makes one).
pub struct ReleasedMedia {
    video: VideoRow,
    object: MediaObject,
    public: bool,
}

impl ReleasedMedia {
    pub fn object(&self) -> &MediaObject {
        &self.object
    }

    /// Anyone may see it (shared caches may keep it).
    pub fn public(&self) -> bool {
        self.public
    }

    /// A byte range, from the video's home region or its backup replica when home fails.
    pub async fn read_range(
        &self,
        st: &AppState,
        range: std::ops::Range<u64>,
    ) -> AppResult<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>> {
        st.regions.get_range_with_fallback(&self.video.region, &self.object.object_key, range).await.map_err(AppError::internal)
    }
}

/// A profile picture the caller may see: (its account, its object key).
pub async fn avatar(st: &AppState, caller: &Caller, account: &str, name: &str) -> AppResult<(AccountRow, String)> {
    let id = Id::parse(account).ok_or_else(AppError::not_found)?;
    let a = st.db.account_by_id(&id).await?.ok_or_else(AppError::not_found)?;
    if !policy::can_view_account(relation(st, caller, &a.id).await?) {
        return Err(AppError::not_found());
    }
    let key = format!("avatars/{}/{}", a.id, name);
    if a.avatar_key.as_deref() != Some(key.as_str()) {
        return Err(AppError::not_found());
    }
    Ok((a, key))
}

/// May the caller see what `a` liked (`policy::can_see_likes`)?
pub fn may_see_likes(rel: Relation, a: &AccountRow) -> bool {
    policy::can_see_likes(rel, a.likes_public, a.private)
}
