//! Follows and follow requests, blocks and mutes, and the relation between a viewer
//! and an account that the access policy reads.

use crate::sql::{account_row, placeholders, ACOLS};
use crate::videos::cursor_parts;
use crate::visibility::not_blocked;
use crate::{col, now_ms, AccountRow, Db, FeedCursor, Result};
use kinora_core::policy::Standing;
use kinora_core::Id;

kinora_core::closed_set! {
    /// Where a follow stands.
    pub enum FollowState {
        /// Waiting for a private account's approval.
        Requested = "requested",
        /// Following.
        Accepted = "accepted",
    }
}

impl Db {
    /// (the viewer's follow state towards `owner`, a block either way, the owner's
    /// standing); the viewer may be signed out.
    pub async fn relation_of(&self, viewer: Option<&Id>, owner: &Id) -> Result<(Option<FollowState>, bool, Standing)> {
        let r = sqlx::query(
            "SELECT (SELECT state FROM follows WHERE follower_id = $1 AND followee_id = $2) AS state, \
               (SELECT COUNT(*) FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) \
                  OR (blocker_id = $2 AND blocked_id = $1)) AS blocked, \
               (SELECT suspended_at FROM accounts WHERE id = $2) AS suspended_at, \
               (SELECT restricted_at FROM accounts WHERE id = $2) AS restricted_at",
        )
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(owner.as_str())
        .fetch_one(self.pool())
        .await?;
        let state: Option<String> = col(&r, "state")?;
        let standing = Standing::from_times(col(&r, "suspended_at")?, col(&r, "restricted_at")?);
        Ok((state.as_deref().and_then(FollowState::parse), col::<i64>(&r, "blocked")? > 0, standing))
    }

    /// [`Db::relation_of`] for many owners in one query: owner -> (the viewer's
    /// follow state towards them, a block either way, their standing). Owners that
    /// do not exist are absent.
    pub async fn relations_of(&self, viewer: Option<&Id>, owners: &[Id]) -> Result<std::collections::HashMap<Id, (Option<FollowState>, bool, Standing)>> {
        if owners.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!(
            "SELECT a.id, a.suspended_at, a.restricted_at, \
               (SELECT state FROM follows WHERE follower_id = $1 AND followee_id = a.id) AS state, \
               (SELECT COUNT(*) FROM blocks WHERE (blocker_id = $1 AND blocked_id = a.id) \
                  OR (blocker_id = a.id AND blocked_id = $1)) AS blocked \
             FROM accounts a WHERE a.id IN ({})",
            placeholders(2, owners.len())
        );
        let q = crate::sql::bind_ids(sqlx::query(&sql).bind(viewer.map(|v| v.as_str().to_owned())), owners);
        let mut out = std::collections::HashMap::new();
        for r in q.fetch_all(self.pool()).await? {
            let state: Option<String> = col(&r, "state")?;
            let standing = Standing::from_times(col(&r, "suspended_at")?, col(&r, "restricted_at")?);
            out.insert(Id::from_trusted(col(&r, "id")?), (state.as_deref().and_then(FollowState::parse), col::<i64>(&r, "blocked")? > 0, standing));
        }
        Ok(out)
    }

    /// (the viewer's follow state towards `owner`, a block either way).
    pub async fn relation_flags(&self, viewer: &Id, owner: &Id) -> Result<(Option<FollowState>, bool)> {
        let r = sqlx::query(
            "SELECT (SELECT state FROM follows WHERE follower_id = $1 AND followee_id = $2) AS state, \
               (SELECT COUNT(*) FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) \
                  OR (blocker_id = $2 AND blocked_id = $1)) AS blocked",
        )
        .bind(viewer.as_str())
        .bind(owner.as_str())
        .fetch_one(self.pool())
        .await?;
        let state: Option<String> = col(&r, "state")?;
        Ok((state.as_deref().and_then(FollowState::parse), col::<i64>(&r, "blocked")? > 0))
    }

    /// Whether `blocker` blocks `blocked` (one direction only).
    pub async fn blocks(&self, blocker: &Id, blocked: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker.as_str())
            .bind(blocked.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    /// Follows or requests to follow; returns the state and whether it is new.
    pub async fn follow(&self, follower: &Id, followee: &Id, requested: bool, via_video: Option<&Id>) -> Result<(FollowState, bool)> {
        let state = if requested { FollowState::Requested } else { FollowState::Accepted };
        let r = sqlx::query(
            "INSERT INTO follows (follower_id, followee_id, state, created_at, via_video_id) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (follower_id, followee_id) DO NOTHING",
        )
        .bind(follower.as_str())
        .bind(followee.as_str())
        .bind(state.as_str())
        .bind(now_ms())
        .bind(via_video.map(|v| v.as_str().to_owned()))
        .execute(self.pool())
        .await?;
        let now = self.relation_flags(follower, followee).await?.0;
        Ok((now.unwrap_or(state), r.rows_affected() == 1))
    }

    pub async fn unfollow(&self, follower: &Id, followee: &Id) -> Result<()> {
        sqlx::query("DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2")
            .bind(follower.as_str())
            .bind(followee.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Accepted followers (`followers = true`) or followees of `account`, newest first.
    pub async fn follow_list(
        &self,
        account: &Id,
        followers: bool,
        viewer: Option<&Id>,
        after: Option<&FeedCursor>,
        limit: i64,
    ) -> Result<Vec<(AccountRow, i64)>> {
        let (mine, theirs) = if followers { ("followee_id", "follower_id") } else { ("follower_id", "followee_id") };
        let (k, id) = cursor_parts(after);
        let sql = format!(
            "SELECT {ACOLS}, f.created_at AS followed_at FROM follows f JOIN accounts a ON a.id = f.{theirs} \
             WHERE f.{mine} = $1 AND f.state = 'accepted' AND {nb} AND (f.created_at, a.id) < ($3, $4) \
             ORDER BY f.created_at DESC, a.id DESC LIMIT $5",
            nb = not_blocked(2, "a.id")
        );
        let rows =
            sqlx::query(&sql).bind(account.as_str()).bind(viewer.map(|v| v.as_str().to_owned())).bind(k).bind(id).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((account_row(r)?, col(r, "followed_at")?))).collect()
    }

    pub async fn follow_requests(&self, account: &Id) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACOLS} FROM follows f JOIN accounts a ON a.id = f.follower_id \
             WHERE f.followee_id = $1 AND f.state = 'requested' ORDER BY f.created_at DESC LIMIT 200"
        ))
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_row).collect()
    }

    /// Accepts (`accept = true`) or rejects a pending request; false if none.
    pub async fn answer_request(&self, account: &Id, requester: &Id, accept: bool) -> Result<bool> {
        let r = if accept {
            sqlx::query("UPDATE follows SET state = 'accepted', created_at = $3 WHERE followee_id = $1 AND follower_id = $2 AND state = 'requested'")
                .bind(account.as_str())
                .bind(requester.as_str())
                .bind(now_ms())
                .execute(self.pool())
                .await?
        } else {
            sqlx::query("DELETE FROM follows WHERE followee_id = $1 AND follower_id = $2 AND state = 'requested'")
                .bind(account.as_str())
                .bind(requester.as_str())
                .execute(self.pool())
                .await?
        };
        Ok(r.rows_affected() == 1)
    }

    /// Blocks and drops follows both ways.
    pub async fn block(&self, blocker: &Id, blocked: &Id) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (blocker_id, blocked_id) DO NOTHING")
            .bind(blocker.as_str())
            .bind(blocked.as_str())
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM follows WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)")
            .bind(blocker.as_str())
            .bind(blocked.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn unblock(&self, blocker: &Id, blocked: &Id) -> Result<()> {
        sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2").bind(blocker.as_str()).bind(blocked.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn set_mute(&self, muter: &Id, muted: &Id, on: bool) -> Result<()> {
        let q = if on {
            "INSERT INTO mutes (muter_id, muted_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (muter_id, muted_id) DO NOTHING"
        } else {
            "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2 AND $3 = $3"
        };
        sqlx::query(q).bind(muter.as_str()).bind(muted.as_str()).bind(now_ms()).execute(self.pool()).await?;
        Ok(())
    }

    /// Followers gained since `since_ms`.
    pub async fn followers_since(&self, account: &Id, since_ms: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM follows WHERE followee_id = $1 AND state = 'accepted' AND created_at >= $2")
            .bind(account.as_str())
            .bind(since_ms)
            .fetch_one(self.pool())
            .await?;
        col(&r, "n")
    }
}
