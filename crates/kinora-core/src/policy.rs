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

/// Who may comment on a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentSetting {
    #[default]
    Everyone,
    Followers,
    Off,
}

impl CommentSetting {
    pub fn parse(s: &str) -> Option<CommentSetting> {
        match s {
            "everyone" => Some(CommentSetting::Everyone),
            "followers" => Some(CommentSetting::Followers),
            "off" => Some(CommentSetting::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommentSetting::Everyone => "everyone",
            CommentSetting::Followers => "followers",
            CommentSetting::Off => "off",
        }
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
        for status in [VideoStatus::Processing, VideoStatus::Failed] {
            assert!(!can_view_video(Stranger, Public, false, status));
            assert!(can_view_video(Owner, Public, false, status));
        }
        assert!(!can_view_account(Blocked));
        assert!(can_view_account(Anonymous));
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
