//! SQL shared by the query modules: the account and video column lists of joined
//! queries, their row readers, and `IN`-list placeholders.

use crate::videos::VideoRow;
use crate::{AccountRow, Result};
use sqlx::any::AnyRow;

pub(crate) const ACOLS: &str = "a.id, a.username, a.display_name, a.bio, a.region, a.created_at, a.private, a.avatar_key, a.likes_public, a.restricted_at, a.suspended_at, a.personalized_feed";
pub(crate) const VCOLS: &str = "v.id, v.account_id, a.username, v.caption, v.visibility, v.status, v.error_code, \
    v.error_message, v.duration_ms, v.width, v.height, v.region, v.original_key, v.likes, v.comments, \
    v.views, v.created_at, a.private AS account_private, v.comments_setting, v.shares";

/// A query with each of `ids` bound in turn (after the parameters bound so far),
/// for an `IN` list made by [`placeholders`].
pub(crate) fn bind_ids<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ids: &'q [kinora_core::Id],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for id in ids {
        q = q.bind(id.as_str());
    }
    q
}

/// `$from, $from+1, ...` for an `IN` list of `n` values.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn account_row(r: &AnyRow) -> Result<AccountRow> {
    crate::accounts::row_pub(r)
}

pub(crate) fn video(r: &AnyRow) -> Result<VideoRow> {
    crate::videos::row_pub(r)
}
