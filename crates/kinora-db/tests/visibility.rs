//! The SQL mirror of the access policy (`kinora_db::visibility`) against the pure
//! policy (`kinora_core::policy`) over the whole matrix, on both backends, without
//! HTTP: every kind of viewer x account privacy x standing (good, restricted,
//! suspended) x visibility x processing state (incl. removed by moderators) for videos, every liker setting for likes, blocks both ways for accounts.
#![allow(clippy::indexing_slicing)] // tests index what they just asserted on
#![allow(clippy::unwrap_used)]

mod common;

use common::{account, new_video, postgres, sqlite};
use kinora_core::policy::{self, Relation, Standing};
use kinora_core::{Caption, Id, VideoStatus, Visibility};
use kinora_db::{visibility, AccountRepo, AccountRow, Db, VideoRepo};

/// The kinds of viewer, and how to make each one of an owner.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Anonymous,
    Owner,
    Follower,
    Requested,
    Stranger,
    BlockedByOwner,
    BlocksOwner,
}

const KINDS: [Kind; 7] = [Kind::Anonymous, Kind::Owner, Kind::Follower, Kind::Requested, Kind::Stranger, Kind::BlockedByOwner, Kind::BlocksOwner];

/// The relation each kind stands in, restated here rather than computed.
fn relation(k: Kind) -> Relation {
    match k {
        Kind::Anonymous => Relation::Anonymous,
        Kind::Owner => Relation::Owner,
        Kind::Follower => Relation::Follower,
        Kind::Requested | Kind::Stranger => Relation::Stranger,
        Kind::BlockedByOwner | Kind::BlocksOwner => Relation::Blocked,
    }
}

/// Makes a viewer of `kind` for `owner`; `None` for the anonymous viewer.
async fn viewer(db: &Db, owner: &AccountRow, kind: Kind, tag: &str) -> Option<Id> {
    let name = |s: &str| format!("{}_{}", s, tag);
    match kind {
        Kind::Anonymous => None,
        Kind::Owner => Some(owner.id.clone()),
        Kind::Follower => {
            let v = account(db, &name("fol")).await;
            db.follow(&v.id, &owner.id, owner.private, None).await.unwrap();
            if owner.private {
                assert!(db.answer_request(&owner.id, &v.id, true).await.unwrap());
            }
            Some(v.id)
        }
        Kind::Requested => {
            let v = account(db, &name("req")).await;
            // Only a private account has pending requests; a public one's "requested"
            // viewer is a stranger who asked nothing.
            if owner.private {
                db.follow(&v.id, &owner.id, true, None).await.unwrap();
            }
            Some(v.id)
        }
        Kind::Stranger => Some(account(db, &name("str")).await.id),
        Kind::BlockedByOwner => {
            let v = account(db, &name("bby")).await;
            db.follow(&v.id, &owner.id, false, None).await.unwrap();
            db.block(&owner.id, &v.id).await.unwrap();
            Some(v.id)
        }
        Kind::BlocksOwner => {
            let v = account(db, &name("bko")).await;
            db.block(&v.id, &owner.id).await.unwrap();
            Some(v.id)
        }
    }
}

async fn one(db: &Db, sql: &str, id: &str, viewer: &Option<Id>) -> bool {
    let r = sqlx::query(sql).bind(id.to_owned()).bind(viewer.as_ref().map(|v| v.as_str().to_owned())).fetch_optional(db.pool()).await.unwrap();
    r.is_some()
}

async fn sql_mirrors_the_policy(db: Db) {
    let mut checked = 0;
    let cases = [false, true].into_iter().flat_map(|p| [Standing::Good, Standing::Restricted, Standing::Suspended].map(|s| (p, s)));
    for (pi, (private, standing)) in cases.enumerate() {
        let owner = account(&db, &format!("owner_{pi}")).await;
        if private {
            db.update_profile(&owner.id, None, None, Some(true), None).await.unwrap();
        }
        let col = match standing {
            Standing::Good => None,
            Standing::Restricted => Some("restricted_at"),
            Standing::Suspended => Some("suspended_at"),
        };
        if let Some(col) = col {
            sqlx::query(&format!("UPDATE accounts SET {col} = 1 WHERE id = $1")).bind(owner.id.as_str()).execute(db.pool()).await.unwrap();
        }
        let owner = db.account_by_id(&owner.id).await.unwrap().unwrap();
        assert_eq!(owner.standing, standing);
        // Every visibility in every state, plus a deleted one.
        let mut videos = Vec::new();
        for vis in [Visibility::Public, Visibility::Followers, Visibility::Private] {
            for status in [VideoStatus::Ready, VideoStatus::Processing, VideoStatus::Failed, VideoStatus::Removed] {
                let id = Id::generate();
                let caption = Caption::parse("m").unwrap();
                db.create_video(new_video(&id, &owner.id, &caption, vis)).await.unwrap();
                sqlx::query("UPDATE videos SET status = $1 WHERE id = $2").bind(status.as_str()).bind(id.as_str()).execute(db.pool()).await.unwrap();
                videos.push((id, vis, status, false));
            }
        }
        let gone = videos[0].0.clone();
        db.delete_video(&gone).await.unwrap();
        videos[0].3 = true;

        let vsql = format!("SELECT v.id FROM videos v JOIN accounts a ON a.id = v.account_id WHERE v.id = $1 AND {}", visibility::video_visible_to(2));
        let dsql = format!(
            "SELECT v.id FROM videos v JOIN accounts a ON a.id = v.account_id WHERE v.id = $1 AND {} AND COALESCE($2, '') = COALESCE($2, '')",
            visibility::discoverable()
        );
        let asql = format!("SELECT a.id FROM accounts a WHERE a.id = $1 AND {}", visibility::not_blocked(2, "a.id"));
        for kind in KINDS {
            let v = viewer(&db, &owner, kind, &format!("{pi}_{kind:?}").to_lowercase()).await;
            let rel = policy::standing_relation(relation(kind), standing);
            for (id, vis, status, deleted) in &videos {
                let want = !deleted && policy::can_view_video(rel, *vis, owner.private, *status);
                assert_eq!(
                    one(&db, &vsql, id.as_str(), &v).await,
                    want,
                    "video {vis:?} {status:?} deleted={deleted} private={private} {standing:?} to {kind:?}"
                );
                let disc = !deleted && policy::discoverable(*vis, owner.private, *status, standing);
                assert_eq!(one(&db, &dsql, id.as_str(), &v).await, disc, "discoverable {vis:?} {status:?} private={private} {standing:?}");
                checked += 2;
            }
            assert_eq!(one(&db, &asql, owner.id.as_str(), &v).await, policy::can_view_account(rel), "account {standing:?} to {kind:?}");
            checked += 1;
        }
    }

    // Likes: the liker's settings x the viewer's relation to the liker.
    let lsql = format!("SELECT a.id FROM accounts a WHERE a.id = $1 AND {}", visibility::likes_visible_to(2));
    for (li, (likes_public, private)) in [(false, false), (true, false), (false, true), (true, true)].into_iter().enumerate() {
        let liker = account(&db, &format!("liker_{li}")).await;
        db.update_profile(&liker.id, None, None, Some(private), Some(likes_public)).await.unwrap();
        let liker = db.account_by_id(&liker.id).await.unwrap().unwrap();
        for kind in KINDS {
            let v = viewer(&db, &liker, kind, &format!("l{li}_{kind:?}").to_lowercase()).await;
            let want = policy::can_see_likes(relation(kind), likes_public, private);
            assert_eq!(one(&db, &lsql, liker.id.as_str(), &v).await, want, "likes of public={likes_public} private={private} to {kind:?}");
            checked += 1;
        }
    }
    assert!(checked > 900, "{checked} cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sql_mirrors_the_policy() {
    let (db, _d) = sqlite().await;
    sql_mirrors_the_policy(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sql_mirrors_the_policy() {
    sql_mirrors_the_policy(postgres().await).await;
}
