//! The access policy: the one place that decides who may see an account, a video
//! or a comment, and who may comment. Every surface (video JSON, media bytes,
//! posters, share pages, comments, likes lists, feeds, profile grids, hashtag pages,
//! search, notifications, trending, counts) calls these functions, or uses the SQL
//! predicate in `kinora-db` (`videos::visible_to`) built from the same rules; the
//! end-to-end visibility matrix checks that they agree.

use crate::types::{VideoStatus, Visibility};

/// The viewer's relation to an account's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Signed out.
    Anonymous,
    /// The owner themself.
    Owner,
    /// An accepted follower of the owner.
    Follower,
    /// Signed in, no accepted follow (a pending request counts as none).
    Stranger,
    /// Either side blocks the other. Overrides everything.
    Blocked,
}

/// An account's standing after moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standing {
    #[default]
    Good,
    /// Hidden from For You, trending and search; still visible where people look for it.
    Restricted,
    /// Gone for everyone but the owner, who may still sign in, read and appeal.
    Suspended,
}

impl Standing {
    /// From the times an account was suspended and restricted, if it was.
    pub fn from_times(suspended_at: Option<i64>, restricted_at: Option<i64>) -> Standing {
        match (suspended_at, restricted_at) {
            (Some(_), _) => Standing::Suspended,
            (None, Some(_)) => Standing::Restricted,
            (None, None) => Standing::Good,
        }
    }
}

/// What an account asks to do, as far as its standing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read what the account could see as anyone.
    Read,
    /// Change things others see: post, comment, like, follow, edit.
    Write,
    /// Look after its own account and its own case: appeal, mark notifications
    /// read, download its data, change its password, end sessions, sign in or out,
    /// delete itself.
    SelfService,
    /// Use a staff role: read other people's data through the logged door, decide
    /// reports, moderate.
    Staff,
}

/// The one rule for what each standing may do. A suspended account keeps reading
/// and looking after itself; it loses writing and, with it, every staff power at
/// once (a suspended moderator reads nothing through the staff door).
pub fn standing_may(standing: Standing, action: Action) -> bool {
    match (standing, action) {
        (Standing::Good | Standing::Restricted, _) => true,
        (Standing::Suspended, Action::Read | Action::SelfService) => true,
        (Standing::Suspended, Action::Write | Action::Staff) => false,
    }
}

/// The relation that applies once the owner's standing is known: a suspended
/// account is to everyone else what a blocked one is.
pub fn standing_relation(relation: Relation, owner: Standing) -> Relation {
    match (owner, relation) {
        (Standing::Suspended, r) if r != Relation::Owner => Relation::Blocked,
        (_, r) => r,
    }
}

/// May the viewer see the account at all (profile, mentions, search, lists)?
pub fn can_view_account(relation: Relation) -> bool {
    relation != Relation::Blocked
}

/// The visibility that applies: a private account's videos are `followers` at most.
pub fn effective_visibility(visibility: Visibility, account_private: bool) -> Visibility {
    match (visibility, account_private) {
        (Visibility::Public, true) => Visibility::Followers,
        (v, _) => v,
    }
}

/// May a viewer with `relation` see a video? Unready videos are the owner's alone.
pub fn can_view_video(relation: Relation, visibility: Visibility, account_private: bool, status: VideoStatus) -> bool {
    match relation {
        Relation::Blocked => false,
        Relation::Owner => true,
        _ if status != VideoStatus::Ready => false,
        _ => match effective_visibility(visibility, account_private) {
            Visibility::Public => true,
            Visibility::Followers => relation == Relation::Follower,
            Visibility::Private => false,
        },
    }
}

/// May the viewer see what an account liked (its liked-videos list, and its name
/// among a video's likers)? Likes are private unless the account shows them, and a
/// private account shows them to its followers only.
pub fn can_see_likes(relation: Relation, likes_public: bool, account_private: bool) -> bool {
    match relation {
        Relation::Owner => true,
        Relation::Blocked => false,
        Relation::Follower => likes_public,
        Relation::Anonymous | Relation::Stranger => likes_public && !account_private,
    }
}

/// May the viewer see who an account follows and who follows it? A private
/// account's lists are for its followers.
pub fn can_see_follow_lists(relation: Relation, account_private: bool) -> bool {
    match relation {
        Relation::Owner | Relation::Follower => true,
        Relation::Blocked => false,
        Relation::Anonymous | Relation::Stranger => !account_private,
    }
}

/// May a video appear in For You or count towards trending? Discovery surfaces
/// show only what anyone on the internet may see: ready public videos of public
/// accounts in good standing (never followers-only or private videos, not even the
/// viewer's own; nothing of a restricted or suspended account).
pub fn discoverable(visibility: Visibility, account_private: bool, status: VideoStatus, standing: Standing) -> bool {
    standing == Standing::Good && status == VideoStatus::Ready && effective_visibility(visibility, account_private) == Visibility::Public
}

/// May the viewer be shown a notification? Only while its actor is visible to
/// them and the video it is about (if any) still is.
pub fn can_see_notification(actor: Relation, video_visible: Option<bool>) -> bool {
    can_view_account(actor) && video_visible.unwrap_or(true)
}

/// May a video's owner remove a comment? The author may always; the owner of the
/// video may remove any comment on it, including one by someone they blocked.
pub fn can_delete_comment(is_comment_author: bool, is_video_owner: bool) -> bool {
    is_comment_author || is_video_owner
}

/// Cache policy for media bytes: shared caches may keep only what anyone may see.
pub fn publicly_cacheable(visibility: Visibility, account_private: bool) -> bool {
    effective_visibility(visibility, account_private) == Visibility::Public
}

crate::closed_set! {
    /// Who may comment on a video.
    #[derive(Default)]
    pub enum CommentSetting {
        #[default]
        Everyone = "everyone",
        Followers = "followers",
        Off = "off",
    }
}

/// May a viewer who can see the video post a comment on it?
pub fn can_comment(relation: Relation, setting: CommentSetting) -> bool {
    match relation {
        Relation::Owner => true,
        Relation::Anonymous | Relation::Blocked => false,
        Relation::Follower => setting != CommentSetting::Off,
        Relation::Stranger => setting == CommentSetting::Everyone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix() {
        use Relation::*;
        use Visibility::*;
        let ready = VideoStatus::Ready;
        // (relation, visibility, private account, visible)
        let cases = [
            (Anonymous, Public, false, true),
            (Stranger, Public, false, true),
            (Follower, Public, false, true),
            (Owner, Public, false, true),
            (Blocked, Public, false, false),
            (Anonymous, Followers, false, false),
            (Stranger, Followers, false, false),
            (Follower, Followers, false, true),
            (Owner, Followers, false, true),
            (Anonymous, Private, false, false),
            (Follower, Private, false, false),
            (Owner, Private, false, true),
            (Anonymous, Public, true, false),
            (Stranger, Public, true, false),
            (Follower, Public, true, true),
            (Owner, Public, true, true),
            (Follower, Private, true, false),
        ];
        for (rel, vis, private, want) in cases {
            assert_eq!(can_view_video(rel, vis, private, ready), want, "{rel:?} {vis:?} private={private}");
        }
        for status in [VideoStatus::Processing, VideoStatus::Failed, VideoStatus::Removed] {
            assert!(!can_view_video(Stranger, Public, false, status));
            assert!(can_view_video(Owner, Public, false, status));
        }
        assert!(!can_view_account(Blocked));
        assert!(can_view_account(Anonymous));
    }

    #[test]
    fn likes_and_lists() {
        use Relation::*;
        // (relation, likes_public, private, may see likes)
        for (rel, lp, private, want) in [
            (Owner, false, true, true),
            (Anonymous, false, false, false),
            (Stranger, true, false, true),
            (Stranger, true, true, false),
            (Follower, true, true, true),
            (Follower, false, false, false),
            (Blocked, true, false, false),
        ] {
            assert_eq!(can_see_likes(rel, lp, private), want, "{rel:?} likes_public={lp} private={private}");
        }
        assert!(!can_see_follow_lists(Stranger, true));
        assert!(can_see_follow_lists(Follower, true));
        assert!(can_see_follow_lists(Anonymous, false));
        assert!(!can_see_follow_lists(Blocked, false));
        let good = Standing::Good;
        assert!(discoverable(Visibility::Public, false, VideoStatus::Ready, good));
        assert!(!discoverable(Visibility::Public, true, VideoStatus::Ready, good));
        assert!(!discoverable(Visibility::Followers, false, VideoStatus::Ready, good));
        assert!(!discoverable(Visibility::Public, false, VideoStatus::Processing, good));
        assert!(!discoverable(Visibility::Public, false, VideoStatus::Removed, good));
        assert!(!discoverable(Visibility::Public, false, VideoStatus::Ready, Standing::Restricted));
        assert!(!discoverable(Visibility::Public, false, VideoStatus::Ready, Standing::Suspended));
        assert_eq!(standing_relation(Follower, Standing::Suspended), Blocked);
        assert_eq!(standing_relation(Owner, Standing::Suspended), Owner);
        assert_eq!(standing_relation(Stranger, Standing::Restricted), Stranger);
        assert!(!publicly_cacheable(Visibility::Public, true));
        assert!(publicly_cacheable(Visibility::Public, false));
        assert!(can_delete_comment(false, true));
        assert!(!can_delete_comment(false, false));
        assert!(!can_see_notification(Blocked, Some(true)));
        assert!(!can_see_notification(Stranger, Some(false)));
        assert!(can_see_notification(Stranger, None));
    }

    #[test]
    fn commenting() {
        use CommentSetting::*;
        use Relation::*;
        assert!(can_comment(Stranger, Everyone));
        assert!(!can_comment(Stranger, Followers));
        assert!(can_comment(Follower, Followers));
        assert!(!can_comment(Follower, Off));
        assert!(can_comment(Owner, Off));
        assert!(!can_comment(Anonymous, Everyone));
        assert!(!can_comment(Blocked, Everyone));
    }
}
