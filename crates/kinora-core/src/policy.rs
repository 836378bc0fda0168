//! The access policy: one function decides who may see a video, and every surface
//! (video JSON, media bytes, poster, share page, profile grid, feeds) calls it or
//! uses the SQL predicate built from the same rules in `kinora-db`.

use crate::types::{VideoStatus, Visibility};

/// What the policy needs to know about the viewer's relation to the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Signed out.
    Anonymous,
    /// The owner themself.
    Owner,
    /// An accepted follower of the owner.
    Follower,
    /// Signed in, no relation.
    Stranger,
}

/// May a viewer with `relation` see a video with `visibility` in `status`?
///
/// Unready videos are visible to their owner only (they can watch progress).
pub fn can_view_video(relation: Relation, visibility: Visibility, status: VideoStatus) -> bool {
    if relation == Relation::Owner {
        return true;
    }
    if status != VideoStatus::Ready {
        return false;
    }
    match visibility {
        Visibility::Public => true,
        Visibility::Followers => relation == Relation::Follower,
        Visibility::Private => false,
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
        let cases = [
            (Anonymous, Public, true),
            (Stranger, Public, true),
            (Follower, Public, true),
            (Owner, Public, true),
            (Anonymous, Followers, false),
            (Stranger, Followers, false),
            (Follower, Followers, true),
            (Owner, Followers, true),
            (Anonymous, Private, false),
            (Stranger, Private, false),
            (Follower, Private, false),
            (Owner, Private, true),
        ];
        for (rel, vis, want) in cases {
            assert_eq!(can_view_video(rel, vis, ready), want, "{rel:?} {vis:?}");
        }
        for status in [VideoStatus::Processing, VideoStatus::Failed] {
            assert!(!can_view_video(Stranger, Public, status));
            assert!(can_view_video(Owner, Public, status));
        }
    }
}
