//! Storage of the transparency log: entries and the tree's stored hashes, appended
//! together in one transaction (the log's index is the row's `idx`), signed
//! checkpoints, and staff roles.

use crate::{col, now_ms, Db, Result};
use kinora_core::Id;

/// One log append: the entry at `idx`, the account it is about (kept so its
/// subject can see it), the stored hashes it adds from `first_hash` on, and the
/// (nonce, reference) behind a redacted reference.
pub struct LogAppend<'a> {
    pub idx: i64,
    pub entry: &'a str,
    pub subject_account: Option<&'a Id>,
    pub first_hash: i64,
    pub hashes: &'a [String],
    pub redaction: Option<(&'a str, &'a str)>,
}

/// A staff member.
#[derive(Debug, Clone)]
pub struct StaffRow {
    pub account_id: Id,
    pub username: String,
    pub role: kinora_core::moderation::StaffRole,
    pub granted_at: i64,
}

impl Db {
    /// Every stored hash, in order, and the number of entries.
    pub async fn log_state(&self) -> Result<(Vec<String>, i64)> {
        let hashes = sqlx::query("SELECT hash FROM log_hashes ORDER BY idx").fetch_all(self.pool()).await?;
        let n = sqlx::query("SELECT COUNT(*) AS n FROM log_entries").fetch_one(self.pool()).await?;
        Ok((hashes.iter().map(|r| col(r, "hash")).collect::<Result<_>>()?, col(&n, "n")?))
    }

    /// The number of entries and the stored hashes from stored index `first` on (to
    /// catch up with entries another process appended).
    pub async fn log_tail(&self, first: i64) -> Result<(Vec<String>, i64)> {
        let hashes = sqlx::query("SELECT hash FROM log_hashes WHERE idx >= $1 ORDER BY idx").bind(first).fetch_all(self.pool()).await?;
        let n = sqlx::query("SELECT COUNT(*) AS n FROM log_entries").fetch_one(self.pool()).await?;
        Ok((hashes.iter().map(|r| col(r, "hash")).collect::<Result<_>>()?, col(&n, "n")?))
    }

    /// Appends entry `idx` and its new stored hashes (starting at stored index
    /// `first_hash`) in one transaction. Fails if `idx` is taken (another writer).
    /// Appends an entry and its stored hashes in one transaction; `redaction` keeps
    /// the (nonce, reference) behind a redacted reference.
    /// Appends an entry and its hashes in one transaction that is durable when it
    /// returns, on both backends: the data it precedes is released right after, so
    /// a power loss must not roll it back (the next entry would reuse its index, a
    /// fork). SQLite otherwise runs WAL with `synchronous=NORMAL` (a commit may be
    /// lost on power loss, never corrupted): this one commit runs with
    /// `synchronous=FULL`, which syncs the WAL before the commit returns. On
    /// PostgreSQL the transaction sets `synchronous_commit = on` whatever the
    /// server's default.
    pub async fn log_append(&self, a: LogAppend<'_>) -> Result<()> {
        use sqlx::{Connection, Executor};
        let mut conn = self.pool().acquire().await?;
        let sqlite = self.backend() == crate::Backend::Sqlite;
        if sqlite {
            conn.execute("PRAGMA synchronous=FULL").await?;
        }
        let result = Self::log_append_on(&mut conn, sqlite, a).await;
        if sqlite && conn.execute("PRAGMA synchronous=NORMAL").await.is_err() {
            // Never hand a connection in an unknown mode back to the pool.
            conn.detach().close().await.ok();
        }
        result
    }

    async fn log_append_on(conn: &mut sqlx::pool::PoolConnection<sqlx::Any>, sqlite: bool, a: LogAppend<'_>) -> Result<()> {
        use sqlx::Connection;
        let LogAppend { idx, entry, subject_account, first_hash, hashes, redaction } = a;
        let mut tx = if sqlite { conn.begin_with("BEGIN IMMEDIATE").await? } else { conn.begin().await? };
        if !sqlite {
            sqlx::query("SET LOCAL synchronous_commit TO on").execute(&mut *tx).await?;
        }
        if let Some((nonce, reference)) = redaction {
            sqlx::query("INSERT INTO log_redactions (idx, nonce, reference) VALUES ($1, $2, $3)")
                .bind(idx)
                .bind(nonce)
                .bind(reference)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO log_entries (idx, entry, subject_account, created_at) VALUES ($1, $2, $3, $4)")
            .bind(idx)
            .bind(entry)
            .bind(subject_account.map(|a| a.as_str().to_owned()))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        for (i, h) in hashes.iter().enumerate() {
            sqlx::query("INSERT INTO log_hashes (idx, hash) VALUES ($1, $2)").bind(first_hash + i as i64).bind(h).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Entries `from..to` in order.
    pub async fn log_entries(&self, from: i64, to: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT entry FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx").bind(from).bind(to).fetch_all(self.pool()).await?;
        rows.iter().map(|r| col(r, "entry")).collect()
    }

    /// The entries about an account: (index, entry).
    pub async fn log_entries_about(&self, account: &Id) -> Result<Vec<(i64, String)>> {
        let rows =
            sqlx::query("SELECT idx, entry FROM log_entries WHERE subject_account = $1 ORDER BY idx").bind(account.as_str()).fetch_all(self.pool()).await?;
        rows.iter().map(|r| Ok((col(r, "idx")?, col(r, "entry")?))).collect()
    }

    pub async fn save_checkpoint(&self, size: i64, note: &str) -> Result<()> {
        sqlx::query("INSERT INTO log_checkpoints (size, note, created_at) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING")
            .bind(size)
            .bind(note)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The latest signed checkpoint: (size, note).
    pub async fn latest_checkpoint(&self) -> Result<Option<(i64, String)>> {
        let r = sqlx::query("SELECT size, note FROM log_checkpoints ORDER BY size DESC LIMIT 1").fetch_optional(self.pool()).await?;
        r.map(|r| Ok((col(&r, "size")?, col(&r, "note")?))).transpose()
    }

    /// The account's sessions and API tokens (no secrets): kind, created, expires,
    /// and where each was made (client address, device).
    pub async fn sessions_of(&self, account: &Id) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT kind, created_at, expires_at, client, device FROM tokens WHERE account_id = $1 ORDER BY created_at")
            .bind(account.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "kind": col::<String>(r, "kind")?,
                    "created_at": col::<i64>(r, "created_at")?,
                    "expires_at": col::<Option<i64>>(r, "expires_at")?,
                    "client_address": col::<String>(r, "client")?,
                    "device": col::<String>(r, "device")?,
                }))
            })
            .collect()
    }

    pub async fn staff_role(&self, account: &Id) -> Result<Option<kinora_core::moderation::StaffRole>> {
        let r = sqlx::query("SELECT role FROM staff WHERE account_id = $1").bind(account.as_str()).fetch_optional(self.pool()).await?;
        r.map(|r| crate::closed(&r, "role")).transpose()
    }

    pub async fn set_staff(&self, account: &Id, role: Option<kinora_core::moderation::StaffRole>) -> Result<()> {
        match role {
            Some(role) => {
                sqlx::query(
                    "INSERT INTO staff (account_id, role, granted_at) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET role = $2, granted_at = $3",
                )
                .bind(account.as_str())
                .bind(role.as_str())
                .bind(now_ms())
                .execute(self.pool())
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM staff WHERE account_id = $1").bind(account.as_str()).execute(self.pool()).await?;
            }
        }
        Ok(())
    }

    pub async fn staff_list(&self) -> Result<Vec<StaffRow>> {
        let rows = sqlx::query("SELECT s.account_id, a.username, s.role, s.granted_at FROM staff s JOIN accounts a ON a.id = s.account_id ORDER BY a.username")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StaffRow {
                    account_id: Id::from_trusted(col(r, "account_id")?),
                    username: col(r, "username")?,
                    role: crate::closed(r, "role")?,
                    granted_at: col(r, "granted_at")?,
                })
            })
            .collect()
    }
}

impl Db {
    /// The size `witness` last cosigned (0 if never).
    pub async fn witness_size(&self, witness: &str) -> Result<i64> {
        let r = sqlx::query("SELECT size FROM log_witnesses WHERE witness = $1").bind(witness).fetch_optional(self.pool()).await?;
        Ok(r.map(|r| col::<i64>(&r, "size")).transpose()?.unwrap_or(0))
    }

    pub async fn set_witness_size(&self, witness: &str, size: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO log_witnesses (witness, size, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (witness) DO UPDATE SET size = excluded.size, updated_at = excluded.updated_at",
        )
        .bind(witness)
        .bind(size)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stores a witness's cosignature of the checkpoint of `size` (the latest wins).
    pub async fn save_cosignature(&self, size: i64, witness: &str, line: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO log_cosignatures (size, witness, line, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, created_at = excluded.created_at",
        )
        .bind(size)
        .bind(witness)
        .bind(line)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The cosignature lines of the checkpoint of `size`, by witness name.
    pub async fn cosignatures(&self, size: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT line FROM log_cosignatures WHERE size = $1 ORDER BY witness").bind(size).fetch_all(self.pool()).await?;
        rows.iter().map(|r| col(r, "line")).collect()
    }
}

impl Db {
    /// The (nonce, reference) behind entry `idx`'s redacted reference.
    pub async fn log_redaction(&self, idx: i64) -> Result<Option<(String, String)>> {
        let r = sqlx::query("SELECT nonce, reference FROM log_redactions WHERE idx = $1").bind(idx).fetch_optional(self.pool()).await?;
        r.map(|r| Ok((col(&r, "nonce")?, col(&r, "reference")?))).transpose()
    }
}
