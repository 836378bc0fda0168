//! The SQL mirror of `kinora_core::policy`: every predicate that list queries use
//! to apply the access rules in the database, in one place. Each function here
//! restates one policy function for a viewer bound at `$n` (NULL when signed out);
//! `tests/visibility.rs` checks each against the pure policy over the whole matrix
//! of relations, visibilities, account privacy and processing states, on both
//! backends, without HTTP.

/// `policy::can_view_video` over `videos v JOIN accounts a` (plus: not deleted).
pub fn video_visible_to(n: usize) -> String {
    format!(
        "v.deleted_at IS NULL AND a.erase_at IS NULL AND {nb} \
         AND (v.account_id = ${n} OR (v.status = 'ready' AND ( \
               (v.visibility = 'public' AND a.private = 0) \
            OR (v.visibility IN ('public', 'followers') AND {follows}))))",
        nb = not_blocked(n, "v.account_id"),
        follows = follows(n, "v.account_id"),
    )
}

/// `policy::discoverable` over `videos v JOIN accounts a`: For You and trending.
pub fn discoverable() -> &'static str {
    "v.deleted_at IS NULL AND a.erase_at IS NULL AND v.status = 'ready' AND v.visibility = 'public' AND a.private = 0 \
     AND a.restricted_at IS NULL AND a.suspended_at IS NULL"
}

/// Search and discovery list only accounts in good standing (`policy::Standing::Good`)
/// over `accounts a`.
pub fn in_good_standing() -> &'static str {
    "a.restricted_at IS NULL AND a.suspended_at IS NULL"
}

/// `policy::can_view_account` for the account in `account_col` (with
/// `policy::standing_relation`): no block either way, not deactivated (scheduled for
/// erasure: it answers like a missing account), and not suspended unless it is the
/// viewer's own.
pub fn not_blocked(n: usize, account_col: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = {account_col} AND b.blocked_id = ${n}) \
         OR (b.blocker_id = ${n} AND b.blocked_id = {account_col})) \
         AND NOT EXISTS (SELECT 1 FROM accounts gone WHERE gone.id = {account_col} AND (gone.erase_at IS NOT NULL \
         OR (gone.suspended_at IS NOT NULL AND gone.id <> COALESCE(${n}, ''))))"
    )
}

/// `policy::can_see_likes` for the liker `a` (an `accounts a` row).
pub fn likes_visible_to(n: usize) -> String {
    format!("(a.id = ${n} OR (a.likes_public = 1 AND (a.private = 0 OR {follows}) AND {nb}))", follows = follows(n, "a.id"), nb = not_blocked(n, "a.id"),)
}

/// Authors the viewer at `$n` muted are left out of feeds (not a visibility rule:
/// muted accounts stay visible on their profiles).
pub fn not_muted(n: usize) -> String {
    format!("NOT EXISTS (SELECT 1 FROM mutes m WHERE m.muter_id = ${n} AND m.muted_id = v.account_id)")
}

/// The viewer at `$n` is an accepted follower of the account in `account_col`.
fn follows(n: usize, account_col: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = ${n} AND f.followee_id = {account_col} \
         AND f.state = 'accepted')"
    )
}
