//! Logical backups: every table's rows, each tagged with the account it belongs to
//! (so it can be encrypted under that account's key), read in one consistent
//! snapshot; and loading them into an empty database of either backend, dropping
//! rows that point at what was not restored (an erased account's).

use crate::{Backend, Db, Result};
use serde_json::{Map, Value};
use sqlx::{Column, Row};
use std::collections::{HashMap, HashSet};

/// What a table's rows belong to, and what they point at.
pub struct TableRule {
    pub table: &'static str,
    /// SQL for the owning account of a row of `t` (NULL: the instance).
    pub owner: &'static str,
    /// (column, table it points at) for rows that must be dropped when the target
    /// is not restored.
    pub refs: &'static [(&'static str, &'static str)],
    /// (column, table it points at) set to NULL when the target is not restored
    /// (`ON DELETE SET NULL`: the row stays, the pointer to an erased account goes).
    pub nulls: &'static [(&'static str, &'static str)],
    /// Which rows are backed up (SQL over `t`); the rest are not.
    pub only: &'static str,
}

const fn rule(table: &'static str, owner: &'static str, refs: &'static [(&'static str, &'static str)]) -> TableRule {
    TableRule { table, owner, refs, nulls: &[], only: "1 = 1" }
}

/// Every table a backup holds, in an order that satisfies foreign keys on restore.
/// Every table of the schema is here or in [`NOT_BACKED_UP`] (a test reads the
/// schema of both backends and fails on a table in neither).
pub const TABLES: &[TableRule] = &[
    rule("accounts", "t.id", &[]),
    rule("videos", "t.account_id", &[("account_id", "accounts")]),
    rule("media_objects", "(SELECT v.account_id FROM videos v WHERE v.id = t.video_id)", &[("video_id", "videos")]),
    rule("video_tags", "(SELECT v.account_id FROM videos v WHERE v.id = t.video_id)", &[("video_id", "videos")]),
    rule("comments", "t.account_id", &[("account_id", "accounts"), ("video_id", "videos")]),
    rule("comment_likes", "t.account_id", &[("account_id", "accounts"), ("comment_id", "comments")]),
    rule("likes", "t.account_id", &[("account_id", "accounts"), ("video_id", "videos")]),
    rule("follows", "t.follower_id", &[("follower_id", "accounts"), ("followee_id", "accounts")]),
    rule("blocks", "t.blocker_id", &[("blocker_id", "accounts"), ("blocked_id", "accounts")]),
    rule("mutes", "t.muter_id", &[("muter_id", "accounts"), ("muted_id", "accounts")]),
    rule("tag_follows", "t.account_id", &[("account_id", "accounts")]),
    rule("notifications", "t.account_id", &[("account_id", "accounts"), ("actor_id", "accounts")]),
    // A report about someone who was not restored (erased) goes with them: its
    // details describe them.
    rule("reports", "t.reporter_id", &[("reporter_id", "accounts"), ("account_id", "accounts"), ("video_id", "videos"), ("comment_id", "comments")]),
    // A decision belongs to the person it concerns; the moderator may be gone.
    TableRule { table: "moderation_actions", owner: "t.subject_id", refs: &[], nulls: &[("actor_id", "accounts"), ("subject_id", "accounts")], only: "1 = 1" },
    rule("view_events", "t.viewer_id", &[("video_id", "videos")]),
    rule("not_interested", "t.account_id", &[("account_id", "accounts"), ("video_id", "videos")]),
    rule("feed_impressions", "t.account_id", &[("account_id", "accounts"), ("video_id", "videos")]),
    rule("video_shares", "t.account_id", &[("account_id", "accounts"), ("video_id", "videos")]),
    rule("exports", "t.account_id", &[("account_id", "accounts")]),
    // Jobs that name an account in their payload without owning a row of it
    // (replicas of its objects, its scheduled erasure) are not backed up: the
    // instance's part would keep its id after its key is destroyed. A restore
    // schedules pending erasures again; `verify residency --repair` redoes replicas.
    TableRule { table: "jobs", owner: "t.account_id", refs: &[], nulls: &[], only: "t.kind NOT IN ('replicate', 'erase_account')" },
    rule("erasure_journal", "NULL", &[]),
    rule("staff", "NULL", &[("account_id", "accounts")]),
    TableRule { table: "log_entries", owner: "NULL", refs: &[], nulls: &[("subject_account", "accounts")], only: "1 = 1" },
    rule("log_hashes", "NULL", &[]),
    rule("log_checkpoints", "NULL", &[]),
    rule("log_redactions", "NULL", &[]),
    rule("log_cosignatures", "NULL", &[]),
    rule("log_witnesses", "NULL", &[]),
];

/// Tables deliberately left out of backups: `tokens` (people sign in again),
/// `uploads` (their bytes are on a node's disk), full-text indexes (rebuilt),
/// `schema_migrations` (migrate), `object_intents` (objects being written by this
/// instance's processes: a restored instance never deletes what it did not write),
/// `instance_keys` (a restored instance records the keys it was restored with).
pub const NOT_BACKED_UP: &[&str] = &["tokens", "uploads", "videos_fts", "accounts_fts", "schema_migrations", "object_intents", "instance_keys"];

/// A dumped row: its table, its owner, its columns.
pub struct DumpedRow {
    pub table: &'static str,
    pub owner: Option<String>,
    pub row: Map<String, Value>,
}

fn cell(r: &sqlx::any::AnyRow, i: usize) -> Value {
    if let Ok(v) = r.try_get::<Option<i64>, _>(i) {
        return v.map(Value::from).unwrap_or(Value::Null);
    }
    if let Ok(v) = r.try_get::<Option<String>, _>(i) {
        return v.map(Value::from).unwrap_or(Value::Null);
    }
    if let Ok(v) = r.try_get::<Option<f64>, _>(i) {
        return v.map(Value::from).unwrap_or(Value::Null);
    }
    if let Ok(v) = r.try_get::<Option<bool>, _>(i) {
        return v.map(Value::from).unwrap_or(Value::Null);
    }
    Value::Null
}

impl Db {
    /// Every backed-up row, read in one transaction (one snapshot: SQLite's WAL read
    /// transaction, PostgreSQL's REPEATABLE READ). `each` is called per table with
    /// the rows read so far, for progress.
    pub async fn dump(&self, each: &(dyn Fn(&str, usize) + Sync)) -> Result<Vec<DumpedRow>> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
        }
        let mut out = Vec::new();
        for rule in TABLES {
            // Stored columns only: derived ones (PostgreSQL's search vectors) are
            // rebuilt, not backed up.
            let cols: Vec<String> =
                self.columns(rule.table).await?.into_iter().filter(|(_, t)| !t.contains("tsvector")).map(|(c, _)| format!("t.{c}")).collect();
            let sql = format!("SELECT {}, {} AS kinora_owner FROM {} t WHERE {}", cols.join(", "), rule.owner, rule.table, rule.only);
            let rows = sqlx::query(&sql).fetch_all(&mut *tx).await?;
            for r in &rows {
                let mut row = Map::new();
                let mut owner = None;
                for (i, c) in r.columns().iter().enumerate() {
                    if c.name() == "kinora_owner" {
                        owner = r.try_get::<Option<String>, _>(i).ok().flatten();
                    } else {
                        row.insert(c.name().to_owned(), cell(r, i));
                    }
                }
                out.push(DumpedRow { table: rule.table, owner, row });
            }
            each(rule.table, out.len());
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Whether the database holds any account (restores need an empty one).
    pub async fn is_empty(&self) -> Result<bool> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(self.pool()).await?;
        Ok(crate::col::<i64>(&r, "n")? == 0)
    }

    async fn integer_columns(&self, table: &str) -> Result<HashSet<String>> {
        Ok(self.columns(table).await?.into_iter().filter(|(_, t)| t.contains("int")).map(|(c, _)| c).collect())
    }

    /// A table's columns and their (lowercase) declared types.
    async fn columns(&self, table: &str) -> Result<Vec<(String, String)>> {
        let rows = match self.backend() {
            Backend::Sqlite => sqlx::query(&format!("SELECT name AS c, type AS t FROM pragma_table_info('{table}')")).fetch_all(self.pool()).await?,
            Backend::Postgres => {
                sqlx::query("SELECT CAST(column_name AS TEXT) AS c, CAST(data_type AS TEXT) AS t FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()")
                    .bind(table)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(|r| Ok((crate::col(r, "c")?, crate::col::<String>(r, "t")?.to_ascii_lowercase()))).collect()
    }

    /// Loads rows into this (empty, migrated) database in one transaction, table by
    /// table in [`TABLES`] order, dropping rows that point at rows not restored.
    /// Returns (rows loaded, rows dropped).
    pub async fn load(&self, rows: &[(String, Map<String, Value>)]) -> Result<(usize, usize)> {
        let mut by_table: HashMap<&str, Vec<&Map<String, Value>>> = HashMap::new();
        for (t, r) in rows {
            by_table.entry(t.as_str()).or_default().push(r);
        }
        let mut present: HashMap<&str, HashSet<String>> = HashMap::new();
        let (mut loaded, mut dropped) = (0, 0);
        let mut tx = self.begin_write().await?;
        // A fresh instance has signed the empty log; the restored log replaces it.
        for t in ["log_checkpoints", "log_hashes", "log_entries"] {
            sqlx::query(&format!("DELETE FROM {t}")).execute(&mut *tx).await?;
        }
        for rule in TABLES {
            let Some(rows) = by_table.get(rule.table) else { continue };
            let ints = self.integer_columns(rule.table).await?;
            // A backup made before a migration dropped a column still restores:
            // columns the schema no longer has are left out.
            let known: HashSet<String> = self.columns(rule.table).await?.into_iter().map(|(c, _)| c).collect();
            for row in rows {
                let here = |c: &str, target: &str| match row.get(c).and_then(Value::as_str) {
                    Some(v) => present.get(target).is_some_and(|s| s.contains(v)),
                    None => true,
                };
                if !rule.refs.iter().all(|(c, target)| here(c, target)) {
                    dropped += 1;
                    continue;
                }
                let mut row = std::borrow::Cow::Borrowed(*row);
                for (c, target) in rule.nulls {
                    if !here(c, target) {
                        row.to_mut().insert((*c).to_owned(), Value::Null);
                    }
                }
                let cols: Vec<&String> = row.keys().filter(|c| known.contains(c.as_str())).collect();
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    rule.table,
                    cols.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
                    (1..=cols.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
                );
                let mut q = sqlx::query(&sql);
                for c in &cols {
                    let v = row.get(c.as_str()).unwrap_or(&Value::Null);
                    q = if ints.contains(c.as_str()) {
                        q.bind(v.as_i64().or_else(|| v.as_bool().map(i64::from)))
                    } else {
                        q.bind(match v {
                            Value::Null => None,
                            Value::String(s) => Some(s.clone()),
                            other => Some(other.to_string()),
                        })
                    };
                }
                q.execute(&mut *tx).await?;
                loaded += 1;
                if let Some(id) = row.get("id").and_then(Value::as_str) {
                    present.entry(rule.table).or_default().insert(id.to_owned());
                }
            }
        }
        // Counters follow the rows that came back (an erased account's likes and
        // comments did not).
        sqlx::query(
            "UPDATE videos SET likes = (SELECT COUNT(*) FROM likes l WHERE l.video_id = videos.id), \
               comments = (SELECT COUNT(*) FROM comments c WHERE c.video_id = videos.id AND c.deleted_at IS NULL)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE comments SET likes = (SELECT COUNT(*) FROM comment_likes l WHERE l.comment_id = comments.id)").execute(&mut *tx).await?;
        tx.commit().await?;
        if self.backend() == Backend::Sqlite {
            for sql in ["INSERT INTO videos_fts(videos_fts) VALUES ('rebuild')", "INSERT INTO accounts_fts(accounts_fts) VALUES ('rebuild')"] {
                sqlx::query(sql).execute(self.pool()).await?;
            }
        }
        Ok((loaded, dropped))
    }
}
