//! The social layer's storage: follows, likes, comments, hashtags, blocks, mutes,
//! notifications, reports, shares, view events and full-text search.
//!
//! Queries that return videos apply [`crate::visibility::video_visible_to`], the SQL mirror of
//! `kinora_core::policy`; queries that return accounts exclude blocks both ways.

use crate::videos::{cursor_parts, VideoRow};
use crate::visibility::{discoverable, in_good_standing, likes_visible_to, not_blocked, video_visible_to as visible_to};
use crate::{col, now_ms, AccountRow, Backend, Db, FeedCursor, Result};
use kinora_core::policy::Standing;
use kinora_core::Id;
use sqlx::any::AnyRow;

/// A comment with its author's username.
#[derive(Debug, Clone)]
pub struct CommentRow {
    pub id: Id,
    pub video_id: Id,
    pub account_id: Id,
    pub username: String,
    pub reply_to: Option<String>,
    pub body: String,
    pub likes: i64,
    pub created_at: i64,
}

kinora_core::closed_set! {
    /// Where a follow stands.
    pub enum FollowState {
        /// Waiting for a private account's approval.
        Requested = "requested",
        /// Following.
        Accepted = "accepted",
    }
}

kinora_core::closed_set! {
    /// What a notification is about.
    pub enum NotificationKind {
        Follow = "follow",
        FollowRequest = "follow_request",
        FollowAccepted = "follow_accepted",
        Like = "like",
        Comment = "comment",
        Reply = "reply",
        Mention = "mention",
        /// A data download is ready.
        ExportReady = "export_ready",
        /// Moderators acted on the account's content or the account (or answered its appeal).
        Moderation = "moderation",
    }
}

/// A notification, before the read-time policy check.
#[derive(Debug, Clone)]
pub struct NotificationRow {
    pub id: Id,
    pub kind: NotificationKind,
    pub actor_id: Id,
    pub video_id: Option<Id>,
    pub comment_id: Option<String>,
    pub created_at: i64,
    pub read: bool,
    /// For `moderation`: the action it is about.
    pub action_id: Option<Id>,
}

/// Per-video numbers for the creator's analytics.
#[derive(Debug, Clone)]
pub struct VideoStats {
    pub video_id: Id,
    pub views: i64,
    pub watch_ms: i64,
    pub completed: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
}

/// A report for the moderation queue.
pub struct NewReport<'a> {
    pub reporter: &'a Id,
    pub video_id: Option<&'a str>,
    pub comment_id: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub reason: kinora_core::moderation::ReportReason,
    pub details: &'a str,
}

const ACOLS: &str = "a.id, a.username, a.display_name, a.bio, a.region, a.created_at, a.private, a.avatar_key, a.likes_public, a.restricted_at, a.suspended_at, a.personalized_feed";
const VCOLS: &str = "v.id, v.account_id, a.username, v.caption, v.visibility, v.status, v.error_code, \
    v.error_message, v.duration_ms, v.width, v.height, v.region, v.original_key, v.likes, v.comments, \
    v.views, v.created_at, a.private AS account_private, v.comments_setting, v.shares";

/// `$from, $from+1, ...` for an `IN` list of `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn account_row(r: &AnyRow) -> Result<AccountRow> {
    crate::accounts::row_pub(r)
}

fn video(r: &AnyRow) -> Result<VideoRow> {
    crate::videos::row_pub(r)
}

fn comment(r: &AnyRow) -> Result<CommentRow> {
    Ok(CommentRow {
        id: Id::from_trusted(col(r, "id")?),
        video_id: Id::from_trusted(col(r, "video_id")?),
        account_id: Id::from_trusted(col(r, "account_id")?),
        username: col(r, "username")?,
        reply_to: col(r, "reply_to")?,
        body: col(r, "body")?,
        likes: col(r, "likes")?,
        created_at: col(r, "created_at")?,
    })
}

/// FTS5 query: each word as a quoted prefix term (quotes doubled), ANDed.
fn fts5_query(q: &str) -> Option<String> {
    let terms: Vec<String> = words(q).map(|w| format!("\"{}\"*", w.replace('"', "\"\""))).collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// tsquery: each word as a prefix lexeme, ANDed; only letters and digits survive.
fn tsquery(q: &str) -> Option<String> {
    let terms: Vec<String> = words(q)
        .map(|w| w.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
        .filter(|w| !w.is_empty())
        .map(|w| format!("{w}:*"))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" & "))
}

fn words(q: &str) -> impl Iterator<Item = String> + '_ {
    q.split(|c: char| c.is_whitespace() || c == '#' || c == '@').map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).take(8)
}

impl Db {
    // ---------- follows ----------

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
        let mut q = sqlx::query(&sql).bind(viewer.map(|v| v.as_str().to_owned()));
        for o in owners {
            q = q.bind(o.as_str());
        }
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

    /// Updates the profile; going public accepts every pending request.
    pub async fn update_profile(
        &self,
        id: &Id,
        display_name: Option<&str>,
        bio: Option<&str>,
        private: Option<bool>,
        likes_public: Option<bool>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE accounts SET display_name = COALESCE($1, display_name), bio = COALESCE($2, bio), \
               private = COALESCE($3, private), likes_public = COALESCE($5, likes_public) WHERE id = $4",
        )
        .bind(display_name)
        .bind(bio)
        .bind(private.map(i64::from))
        .bind(id.as_str())
        .bind(likes_public.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if private == Some(false) {
            sqlx::query("UPDATE follows SET state = 'accepted' WHERE followee_id = $1 AND state = 'requested'").bind(id.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---------- blocks and mutes ----------

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

    // ---------- likes and shares ----------

    /// Likes (`on`) or unlikes; idempotent. Keeps the count in step.
    pub async fn set_like(&self, account: &Id, video: &Id, on: bool) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = if on {
            sqlx::query("INSERT INTO likes (account_id, video_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, video_id) DO NOTHING")
                .bind(account.as_str())
                .bind(video.as_str())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("DELETE FROM likes WHERE account_id = $1 AND video_id = $2").bind(account.as_str()).bind(video.as_str()).execute(&mut *tx).await?
        };
        let changed = r.rows_affected() == 1;
        if changed {
            let delta: i64 = if on { 1 } else { -1 };
            sqlx::query("UPDATE videos SET likes = likes + $1 WHERE id = $2").bind(delta).bind(video.as_str()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Which of `videos` the account liked: one query for a whole page.
    pub async fn liked_among(&self, account: &Id, videos: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if videos.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT video_id FROM likes WHERE account_id = $1 AND video_id IN ({})", placeholders(2, videos.len()));
        let mut q = sqlx::query(&sql).bind(account.as_str());
        for v in videos {
            q = q.bind(v.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "video_id")?))).collect()
    }

    /// Which of `comments` the account liked: one query for a whole page.
    pub async fn comments_liked_among(&self, account: &Id, comments: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if comments.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT comment_id FROM comment_likes WHERE account_id = $1 AND comment_id IN ({})", placeholders(2, comments.len()));
        let mut q = sqlx::query(&sql).bind(account.as_str());
        for c in comments {
            q = q.bind(c.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok(Id::from_trusted(col(r, "comment_id")?))).collect()
    }

    pub async fn liked(&self, account: &Id, video: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM likes WHERE account_id = $1 AND video_id = $2")
            .bind(account.as_str())
            .bind(video.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    /// Accounts that liked a video and whose likes the viewer may see
    /// (`policy::can_see_likes`).
    pub async fn likers(&self, video: &Id, viewer: Option<&Id>, limit: i64) -> Result<Vec<AccountRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACOLS} FROM likes l JOIN accounts a ON a.id = l.account_id WHERE l.video_id = $1 AND {lv} \
             ORDER BY l.created_at DESC LIMIT $3",
            lv = likes_visible_to(2)
        ))
        .bind(video.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_row).collect()
    }

    /// Videos an account liked that the viewer may see, newest like first.
    pub async fn liked_videos(&self, account: &Id, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<(VideoRow, i64)>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(&format!(
            "SELECT {VCOLS}, l.created_at AS liked_at FROM likes l JOIN videos v ON v.id = l.video_id \
             JOIN accounts a ON a.id = v.account_id WHERE l.account_id = $1 AND v.status = 'ready' AND {vis} \
             AND (l.created_at, v.id) < ($3, $4) ORDER BY l.created_at DESC, v.id DESC LIMIT $5",
            vis = visible_to(2)
        ))
        .bind(account.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((video(r)?, col(r, "liked_at")?))).collect()
    }

    pub async fn add_share(&self, video: &Id) -> Result<()> {
        sqlx::query("UPDATE videos SET shares = shares + 1 WHERE id = $1").bind(video.as_str()).execute(self.pool()).await?;
        Ok(())
    }

    /// A signed-in viewer's share, for For You to learn from.
    pub async fn record_share(&self, account: &Id, video: &Id) -> Result<()> {
        sqlx::query("INSERT INTO video_shares (account_id, video_id, created_at) VALUES ($1, $2, $3)")
            .bind(account.as_str())
            .bind(video.as_str())
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // ---------- comments ----------

    pub async fn add_comment(&self, id: &Id, video: &Id, account: &Id, reply_to: Option<&Id>, body: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO comments (id, video_id, account_id, reply_to, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id.as_str())
            .bind(video.as_str())
            .bind(account.as_str())
            .bind(reply_to.map(|r| r.as_str().to_owned()))
            .bind(body)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET comments = comments + 1 WHERE id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn comment_by_id(&self, id: &Id) -> Result<Option<CommentRow>> {
        let r = sqlx::query(
            "SELECT c.id, c.video_id, c.account_id, a.username, c.reply_to, c.body, c.likes, c.created_at \
             FROM comments c JOIN accounts a ON a.id = c.account_id WHERE c.id = $1 AND c.deleted_at IS NULL",
        )
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        r.as_ref().map(comment).transpose()
    }

    /// Which of `ids` are comments that exist and are not deleted, in one query.
    pub async fn live_comments(&self, ids: &[Id]) -> Result<std::collections::HashSet<Id>> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let sql = format!("SELECT id FROM comments WHERE deleted_at IS NULL AND id IN ({})", placeholders(1, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id.as_str());
        }
        q.fetch_all(self.pool()).await?.iter().map(|r| Ok(Id::from_trusted(col(r, "id")?))).collect()
    }

    /// A video's comments, oldest first, minus authors blocked either way with the viewer.
    pub async fn comments(&self, video: &Id, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<CommentRow>> {
        let (k, id) = match after {
            Some(c) => (c.key, c.id.clone()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.video_id, c.account_id, a.username, c.reply_to, c.body, c.likes, c.created_at \
             FROM comments c JOIN accounts a ON a.id = c.account_id \
             WHERE c.video_id = $1 AND c.deleted_at IS NULL AND {nb} AND (c.created_at, c.id) > ($3, $4) \
             ORDER BY c.created_at, c.id LIMIT $5",
            nb = not_blocked(2, "c.account_id")
        ))
        .bind(video.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(comment).collect()
    }

    /// Deletes a comment and its replies; keeps the video's count in step.
    pub async fn delete_comment(&self, c: &CommentRow) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // The words go at once; the tombstone goes with the retention sweep.
        let r = sqlx::query("UPDATE comments SET deleted_at = $1, body = '' WHERE (id = $2 OR reply_to = $2) AND deleted_at IS NULL")
            .bind(now_ms())
            .bind(c.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET comments = comments - $1 WHERE id = $2")
            .bind(r.rows_affected() as i64)
            .bind(c.video_id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_comment_like(&self, account: &Id, comment: &Id, on: bool) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let r = if on {
            sqlx::query("INSERT INTO comment_likes (account_id, comment_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, comment_id) DO NOTHING")
                .bind(account.as_str())
                .bind(comment.as_str())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?
        } else {
            sqlx::query("DELETE FROM comment_likes WHERE account_id = $1 AND comment_id = $2")
                .bind(account.as_str())
                .bind(comment.as_str())
                .execute(&mut *tx)
                .await?
        };
        if r.rows_affected() == 1 {
            sqlx::query("UPDATE comments SET likes = likes + $1 WHERE id = $2")
                .bind(if on { 1i64 } else { -1 })
                .bind(comment.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn comment_liked(&self, account: &Id, comment: &Id) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM comment_likes WHERE account_id = $1 AND comment_id = $2")
            .bind(account.as_str())
            .bind(comment.as_str())
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    /// Edits a video; `tags` replaces its hashtags when the caption changes.
    pub async fn edit_video(
        &self,
        video: &Id,
        caption: Option<&str>,
        visibility: Option<kinora_core::Visibility>,
        comments: Option<kinora_core::policy::CommentSetting>,
        tags: Option<&[String]>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE videos SET caption = COALESCE($1, caption), visibility = COALESCE($2, visibility), \
               comments_setting = COALESCE($3, comments_setting) WHERE id = $4",
        )
        .bind(caption)
        .bind(visibility.map(|v| v.as_str()))
        .bind(comments.map(|c| c.as_str()))
        .bind(video.as_str())
        .execute(&mut *tx)
        .await?;
        if let Some(tags) = tags {
            sqlx::query("DELETE FROM video_tags WHERE video_id = $1").bind(video.as_str()).execute(&mut *tx).await?;
            for t in tags {
                sqlx::query("INSERT INTO video_tags (video_id, tag, created_at) VALUES ($1, $2, $3) ON CONFLICT (video_id, tag) DO NOTHING")
                    .bind(video.as_str())
                    .bind(t)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    // ---------- hashtags ----------

    pub async fn tag_videos(&self, tag: &str, viewer: Option<&Id>, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<VideoRow>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(&format!(
            "SELECT {VCOLS} FROM video_tags t JOIN videos v ON v.id = t.video_id JOIN accounts a ON a.id = v.account_id \
             WHERE t.tag = $1 AND v.status = 'ready' AND {vis} AND (v.created_at, v.id) < ($3, $4) \
             ORDER BY v.created_at DESC, v.id DESC LIMIT $5",
            vis = visible_to(2)
        ))
        .bind(tag)
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(video).collect()
    }

    /// Tags with the most videos anyone may see (public videos of public accounts)
    /// in the last `days` days; the counts reveal nothing else.
    pub async fn trending_tags(&self, days: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(&format!(
            "SELECT t.tag, COUNT(*) AS n FROM video_tags t JOIN videos v ON v.id = t.video_id \
             JOIN accounts a ON a.id = v.account_id \
             WHERE {disc} AND v.created_at > $1 GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT $2",
            disc = discoverable()
        ))
        .bind(now_ms() - days * 86_400_000)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((col(r, "tag")?, col(r, "n")?))).collect()
    }

    pub async fn set_tag_follow(&self, account: &Id, tag: &str, on: bool) -> Result<()> {
        let q = if on {
            "INSERT INTO tag_follows (account_id, tag, created_at) VALUES ($1, $2, $3) ON CONFLICT (account_id, tag) DO NOTHING"
        } else {
            "DELETE FROM tag_follows WHERE account_id = $1 AND tag = $2 AND $3 = $3"
        };
        sqlx::query(q).bind(account.as_str()).bind(tag).bind(now_ms()).execute(self.pool()).await?;
        Ok(())
    }

    pub async fn follows_tag(&self, account: &Id, tag: &str) -> Result<bool> {
        let r = sqlx::query("SELECT 1 AS one FROM tag_follows WHERE account_id = $1 AND tag = $2")
            .bind(account.as_str())
            .bind(tag)
            .fetch_optional(self.pool())
            .await?;
        Ok(r.is_some())
    }

    // ---------- search ----------

    /// Accounts: exact username first, then username prefix, then full-text matches
    /// on display name and bio; minus blocks either way.
    pub async fn search_accounts(&self, q: &str, viewer: Option<&Id>, limit: i64) -> Result<Vec<AccountRow>> {
        let prefix: String = q.trim().trim_start_matches('@').to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let (fts_sql, fts_arg) = match self.backend() {
            Backend::Sqlite => ("a.rowid IN (SELECT rowid FROM accounts_fts WHERE accounts_fts MATCH $4)", fts5_query(q)),
            Backend::Postgres => ("a.search @@ to_tsquery('simple', $4)", tsquery(q)),
        };
        let fts_arg = fts_arg.unwrap_or_else(|| "\"\"".into());
        let sql = format!(
            "SELECT {ACOLS}, CASE WHEN a.username = $1 THEN 0 WHEN a.username LIKE $2 THEN 1 ELSE 2 END AS rank \
             FROM accounts a WHERE ((a.username LIKE $2 AND $1 <> '') OR {fts_sql}) AND {nb} AND {gs} \
             ORDER BY rank, length(a.username), a.username LIMIT $5",
            nb = not_blocked(3, "a.id"),
            gs = in_good_standing()
        );
        let rows = sqlx::query(&sql)
            .bind(&prefix)
            .bind(format!("{prefix}%"))
            .bind(viewer.map(|v| v.as_str().to_owned()))
            .bind(fts_arg)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(account_row).collect()
    }

    /// Videos whose caption matches, ranked by relevance, that the viewer may see.
    pub async fn search_videos(&self, q: &str, viewer: Option<&Id>, limit: i64) -> Result<Vec<VideoRow>> {
        let sql = match self.backend() {
            Backend::Sqlite => {
                let Some(m) = fts5_query(q) else { return Ok(vec![]) };
                let sql = format!(
                    "SELECT {VCOLS} FROM videos_fts JOIN videos v ON v.rowid = videos_fts.rowid \
                     JOIN accounts a ON a.id = v.account_id \
                     WHERE videos_fts MATCH $1 AND v.status = 'ready' AND {vis} AND {gs} ORDER BY bm25(videos_fts), v.created_at DESC LIMIT $3",
                    vis = visible_to(2),
                    gs = in_good_standing()
                );
                return sqlx::query(&sql)
                    .bind(m)
                    .bind(viewer.map(|v| v.as_str().to_owned()))
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(video)
                    .collect();
            }
            Backend::Postgres => format!(
                "SELECT {VCOLS} FROM videos v JOIN accounts a ON a.id = v.account_id \
                 WHERE v.search @@ to_tsquery('simple', $1) AND v.status = 'ready' AND {vis} AND {gs} \
                 ORDER BY ts_rank(v.search, to_tsquery('simple', $1)) DESC, v.created_at DESC LIMIT $3",
                vis = visible_to(2),
                gs = in_good_standing()
            ),
        };
        let Some(m) = tsquery(q) else {
            return Ok(vec![]);
        };
        sqlx::query(&sql).bind(m).bind(viewer.map(|v| v.as_str().to_owned())).bind(limit).fetch_all(self.pool()).await?.iter().map(video).collect()
    }

    /// Tags starting with `q`, counted over videos the viewer may see.
    pub async fn search_tags(&self, q: &str, viewer: Option<&Id>, limit: i64) -> Result<Vec<(String, i64)>> {
        let prefix: String = q.trim().trim_start_matches('#').to_lowercase();
        if prefix.is_empty() {
            return Ok(vec![]);
        }
        let rows = sqlx::query(&format!(
            "SELECT t.tag, COUNT(*) AS n FROM video_tags t JOIN videos v ON v.id = t.video_id \
             JOIN accounts a ON a.id = v.account_id WHERE t.tag LIKE $1 AND v.status = 'ready' AND {vis} AND {gs} \
             GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT $3",
            vis = visible_to(2),
            gs = in_good_standing()
        ))
        .bind(format!("{}%", prefix.replace(['%', '_'], "")))
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((col(r, "tag")?, col(r, "n")?))).collect()
    }

    // ---------- notifications ----------

    pub async fn notify(&self, recipient: &Id, kind: NotificationKind, actor: &Id, video: Option<&Id>, comment: Option<&Id>) -> Result<()> {
        if recipient == actor {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO notifications (id, account_id, kind, actor_id, video_id, comment_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Id::generate().as_str())
        .bind(recipient.as_str())
        .bind(kind.as_str())
        .bind(actor.as_str())
        .bind(video.map(|v| v.as_str().to_owned()))
        .bind(comment.map(|c| c.as_str().to_owned()))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn notifications(&self, account: &Id, after: Option<&FeedCursor>, limit: i64) -> Result<Vec<NotificationRow>> {
        let (k, id) = cursor_parts(after);
        let rows = sqlx::query(
            "SELECT id, kind, actor_id, video_id, comment_id, created_at, read_at, action_id FROM notifications \
             WHERE account_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(account.as_str())
        .bind(k)
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NotificationRow {
                    id: Id::from_trusted(col(r, "id")?),
                    kind: crate::closed(r, "kind")?,
                    actor_id: Id::from_trusted(col(r, "actor_id")?),
                    video_id: col::<Option<String>>(r, "video_id")?.map(Id::from_trusted),
                    comment_id: col(r, "comment_id")?,
                    created_at: col(r, "created_at")?,
                    read: col::<Option<i64>>(r, "read_at")?.is_some(),
                    action_id: col::<Option<String>>(r, "action_id")?.map(Id::from_trusted),
                })
            })
            .collect()
    }

    /// Marks notifications read: the given ones, or all.
    pub async fn mark_read(&self, account: &Id, ids: Option<&[Id]>) -> Result<()> {
        match ids {
            None => {
                sqlx::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND read_at IS NULL")
                    .bind(now_ms())
                    .bind(account.as_str())
                    .execute(self.pool())
                    .await?;
            }
            Some(ids) => {
                for id in ids {
                    sqlx::query("UPDATE notifications SET read_at = $1 WHERE account_id = $2 AND id = $3 AND read_at IS NULL")
                        .bind(now_ms())
                        .bind(account.as_str())
                        .bind(id.as_str())
                        .execute(self.pool())
                        .await?;
                }
            }
        }
        Ok(())
    }

    // ---------- reports, views, analytics ----------

    pub async fn create_report(&self, r: NewReport<'_>) -> Result<Id> {
        let id = Id::generate();
        sqlx::query(
            "INSERT INTO reports (id, reporter_id, video_id, comment_id, account_id, reason, details, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
        )
        .bind(id.as_str())
        .bind(r.reporter.as_str())
        .bind(r.video_id)
        .bind(r.comment_id)
        .bind(r.account_id)
        .bind(r.reason.as_str())
        .bind(r.details)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    pub async fn record_view(&self, video: &Id, viewer: Option<&Id>, watched_ms: i64, completed: bool) -> Result<()> {
        self.record_view_replays(video, viewer, watched_ms, completed, 0).await
    }

    /// A view with how many times the viewer watched it again.
    pub async fn record_view_replays(&self, video: &Id, viewer: Option<&Id>, watched_ms: i64, completed: bool, replays: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO view_events (id, video_id, viewer_id, watched_ms, completed, created_at, replays) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(Id::generate().as_str())
            .bind(video.as_str())
            .bind(viewer.map(|v| v.as_str().to_owned()))
            .bind(watched_ms)
            .bind(i64::from(completed))
            .bind(now_ms())
            .bind(replays)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE videos SET views = views + 1 WHERE id = $1").bind(video.as_str()).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Retention: deletes view events and notifications older than the cut-offs.
    /// Returns (view events, notifications) deleted. Counts on videos stay.
    pub async fn forget_old_activity(&self, views_before_ms: i64, notifications_before_ms: i64) -> Result<(u64, u64)> {
        let v = sqlx::query("DELETE FROM view_events WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        // Impressions and shares go with the watch history they belong to.
        sqlx::query("DELETE FROM feed_impressions WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        sqlx::query("DELETE FROM video_shares WHERE created_at < $1").bind(views_before_ms).execute(self.pool()).await?;
        let n = sqlx::query("DELETE FROM notifications WHERE created_at < $1").bind(notifications_before_ms).execute(self.pool()).await?;
        Ok((v.rows_affected(), n.rows_affected()))
    }

    /// Per-video numbers for an account's own videos (not deleted).
    pub async fn video_stats(&self, account: &Id) -> Result<Vec<VideoStats>> {
        let rows = sqlx::query(
            "SELECT v.id, v.likes, v.comments, v.shares, \
               (SELECT COUNT(*) FROM view_events e WHERE e.video_id = v.id) AS views, \
               (SELECT CAST(COALESCE(SUM(e.watched_ms), 0) AS BIGINT) FROM view_events e WHERE e.video_id = v.id) AS watch_ms, \
               (SELECT COUNT(*) FROM view_events e WHERE e.video_id = v.id AND e.completed = 1) AS completed \
             FROM videos v WHERE v.account_id = $1 AND v.deleted_at IS NULL ORDER BY v.created_at DESC LIMIT 500",
        )
        .bind(account.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(VideoStats {
                    video_id: Id::from_trusted(col(r, "id")?),
                    views: col(r, "views")?,
                    watch_ms: col(r, "watch_ms")?,
                    completed: col(r, "completed")?,
                    likes: col(r, "likes")?,
                    comments: col(r, "comments")?,
                    shares: col(r, "shares")?,
                })
            })
            .collect()
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

    /// An account's videos visible to the viewer, with mutes not applied.
    pub async fn visible_count(&self, account: &Id, viewer: Option<&Id>) -> Result<i64> {
        let r = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM videos v JOIN accounts a ON a.id = v.account_id \
             WHERE v.account_id = $1 AND v.status = 'ready' AND {vis}",
            vis = visible_to(2)
        ))
        .bind(account.as_str())
        .bind(viewer.map(|v| v.as_str().to_owned()))
        .fetch_one(self.pool())
        .await?;
        col(&r, "n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_queries_are_escaped() {
        assert_eq!(fts5_query("  Hello \"world\" #cats "), Some("\"hello\"* \"\"\"world\"\"\"* \"cats\"*".into()));
        assert_eq!(fts5_query("   "), None);
        assert_eq!(tsquery("cats & dogs | ! :*"), Some("cats:* & dogs:*".into()));
        assert_eq!(tsquery("!!!"), None);
    }
}
