//! Full-text search of accounts, videos and hashtags: SQLite's FTS5 or
//! PostgreSQL's text search, the policy applied in SQL.

use crate::sql::{account_row, video, ACOLS, VCOLS};
use crate::videos::VideoRow;
use crate::visibility::{in_good_standing, not_blocked, video_visible_to as visible_to};
use crate::{col, AccountRow, Backend, Db, Result};
use kinora_core::Id;

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
