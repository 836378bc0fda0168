//! The transparency log of staff access, on the server: an append-only Merkle log
//! (kinora-translog) whose entries and stored hashes live in the database, with a
//! signed checkpoint after every append. Appends are write-ahead: an access is
//! durably sequenced before any data leaves the server. At start the stored tree is
//! checked against the last signed checkpoint; if they disagree the log (and staff
//! access with it) refuses to work.

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::{ErrorCode, Id};
use kinora_translog::{Entry, Hash, Tile, Tree};
use std::sync::Mutex;

/// The log as this process knows it.
pub struct Log {
    /// The tree, or why the log is refused.
    tree: tokio::sync::Mutex<Result<Tree, String>>,
    signer_key: String,
    pub verifier_key: String,
    pub origin: String,
    /// The latest signed checkpoint, served as is.
    checkpoint: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("origin", &self.origin).finish_non_exhaustive()
    }
}

fn unhex(s: &str) -> Result<Hash, String> {
    let b: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    Ok(Hash(b.try_into().map_err(|_| "not a 32-byte hash".to_owned())?))
}

fn hex(h: &Hash) -> String {
    hex::encode(h.0)
}

fn unavailable(why: &str) -> AppError {
    AppError::new(ErrorCode::Internal, format!("the transparency log is unavailable ({why}); staff access is refused until an operator repairs it"))
}

impl Log {
    /// Loads the log, its key (made on first start, `<data>/keys/log.key`), and checks
    /// the stored tree against the last signed checkpoint.
    pub async fn open(db: &kinora_db::Db, keys_dir: &std::path::Path, origin: &str) -> anyhow::Result<Log> {
        use std::os::unix::fs::OpenOptionsExt;
        // Two lines: the signer key, then the verifier key (both in note format).
        let path = keys_dir.join("log.key");
        let (signer_key, verifier_key) = match std::fs::read_to_string(&path) {
            Ok(k) => {
                let mut lines = k.lines();
                match (lines.next(), lines.next()) {
                    (Some(s), Some(v)) => (s.trim().to_owned(), v.trim().to_owned()),
                    _ => anyhow::bail!("{}: expected the signer key and the verifier key on two lines", path.display()),
                }
            }
            Err(_) => {
                let (skey, vkey) = kinora_translog::generate_key(origin);
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
                std::io::Write::write_all(&mut f, format!("{skey}\n{vkey}\n").as_bytes())?;
                f.sync_all()?;
                (skey, vkey)
            }
        };
        // The log's identity is fixed when its key is made: the origin is the key's
        // name, whatever base URL this process was started with (the command line and
        // every node then sign checkpoints with one origin).
        let origin = verifier_key.split('+').next().filter(|n| !n.is_empty()).unwrap_or(origin).to_owned();
        let (hashes, n) = db.log_state().await?;
        let loaded = async {
            let hashes = hashes.iter().map(|h| unhex(h)).collect::<Result<Vec<_>, _>>()?;
            let tree = Tree::from_stored(hashes, u64::try_from(n).unwrap_or(0)).map_err(|e| e.to_string())?;
            // Every stored hash must follow from the entries: an edited entry or hash
            // shows here.
            let mut rebuilt = Tree::default();
            for e in db.log_entries(0, n).await.map_err(|e| e.to_string())? {
                rebuilt.append(e.as_bytes()).map_err(|e| e.to_string())?;
            }
            if rebuilt.stored() != tree.stored() {
                return Err("the stored tree does not follow from the stored entries".to_owned());
            }
            let mut checkpoint = Vec::new();
            if let Some((size, note)) = db.latest_checkpoint().await.map_err(|e| e.to_string())? {
                let cp = kinora_translog::open_checkpoint(&verifier_key, note.as_bytes()).map_err(|e| format!("last checkpoint: {e}"))?;
                let size = u64::try_from(size).unwrap_or(0);
                if cp.size() != size || size > tree.size() || tree.root_at(size).map_err(|e| e.to_string())? != *cp.hash() {
                    return Err(format!("the stored tree does not match the last signed checkpoint (size {size})"));
                }
                checkpoint = note.into_bytes();
            }
            Ok::<_, String>((tree, checkpoint))
        }
        .await;
        let log = match loaded {
            Ok((tree, checkpoint)) => {
                let log = Log { tree: tokio::sync::Mutex::new(Ok(tree)), signer_key, verifier_key, origin: origin.clone(), checkpoint: Mutex::new(checkpoint) };
                log.sign_current(db).await?;
                log
            }
            Err(why) => {
                tracing::error!(%why, "transparency log refused");
                Log { tree: tokio::sync::Mutex::new(Err(why)), signer_key, verifier_key, origin, checkpoint: Mutex::new(Vec::new()) }
            }
        };
        Ok(log)
    }

    /// Signs a checkpoint for the current size if there is none yet for it.
    async fn sign_current(&self, db: &kinora_db::Db) -> anyhow::Result<()> {
        let guard = self.tree.lock().await;
        let Ok(tree) = guard.as_ref() else { return Ok(()) };
        let note = kinora_translog::sign_checkpoint(&self.signer_key, &self.origin, tree.size(), tree.root()?)?;
        db.save_checkpoint(i64::try_from(tree.size()).unwrap_or(i64::MAX), &String::from_utf8_lossy(&note)).await?;
        if let Ok(mut c) = self.checkpoint.lock() {
            *c = note;
        }
        Ok(())
    }

    /// Catches up with entries another process (the command line, another node)
    /// appended since this one last looked.
    async fn refresh(db: &kinora_db::Db, tree: &mut Tree) -> AppResult<()> {
        let (tail, n) = db.log_tail(tree.stored().len() as i64).await?;
        let n = u64::try_from(n).unwrap_or(0);
        if n == tree.size() {
            return Ok(());
        }
        let mut all = tree.stored().to_vec();
        for h in &tail {
            all.push(unhex(h).map_err(|e| unavailable(&e))?);
        }
        *tree = Tree::from_stored(all, n).map_err(|e| unavailable(&e.to_string()))?;
        Ok(())
    }

    /// Appends an entry durably (entry and hashes in one transaction), then signs the
    /// new checkpoint. Returns the entry's index. Only after this returns may the
    /// access it records release any data.
    pub async fn append(&self, db: &kinora_db::Db, entry: &Entry, subject_account: Option<&Id>) -> AppResult<u64> {
        let mut guard = self.tree.lock().await;
        let tree = guard.as_mut().map_err(|why| unavailable(why))?;
        Self::refresh(db, tree).await?;
        let bytes = entry.canonical();
        let mut next = tree.clone();
        let first = next.stored().len() as i64;
        let (index, new) = next.append(&bytes).map_err(|e| unavailable(&e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(AppError::internal)?;
        db.log_append(i64::try_from(index).unwrap_or(i64::MAX), &text, subject_account, first, &new.iter().map(hex).collect::<Vec<_>>())
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        *tree = next;
        let root = tree.root().map_err(|e| unavailable(&e.to_string()))?;
        let note = kinora_translog::sign_checkpoint(&self.signer_key, &self.origin, tree.size(), root).map_err(|e| unavailable(&e.to_string()))?;
        db.save_checkpoint(i64::try_from(tree.size()).unwrap_or(i64::MAX), &String::from_utf8_lossy(&note)).await?;
        if let Ok(mut c) = self.checkpoint.lock() {
            *c = note;
        }
        Ok(index)
    }

    /// The latest signed checkpoint (C2SP tlog-checkpoint note), after catching up
    /// with other writers.
    pub async fn checkpoint(&self, db: &kinora_db::Db) -> AppResult<Vec<u8>> {
        {
            let mut guard = self.tree.lock().await;
            let tree = guard.as_mut().map_err(|why| unavailable(why))?;
            Self::refresh(db, tree).await?;
        }
        if let Some((_, note)) = db.latest_checkpoint().await? {
            return Ok(note.into_bytes());
        }
        let c = self.checkpoint.lock().map_err(|_| AppError::internal("checkpoint lock"))?.clone();
        if c.is_empty() {
            return Err(unavailable("no checkpoint"));
        }
        Ok(c)
    }

    /// A tile by its C2SP path after `tile/` (`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`).
    pub async fn tile(&self, db: &kinora_db::Db, path: &str) -> AppResult<Vec<u8>> {
        let sumdb = match path.strip_prefix("entries/") {
            Some(rest) => format!("tile/8/data/{rest}"),
            None => format!("tile/8/{path}"),
        };
        let tile = Tile::from_path(&sumdb).map_err(|_| AppError::not_found())?;
        let mut guard = self.tree.lock().await;
        let tree = guard.as_mut().map_err(|why| unavailable(why))?;
        Self::refresh(db, tree).await?;
        let start = tile.level_index() * 256;
        let end = start + u64::from(tile.width());
        // Level-L tiles cover 256^L entries per hash.
        let span = 256u64.saturating_pow(u32::from(tile.level()));
        if end.saturating_mul(span) > tree.size() {
            return Err(AppError::not_found());
        }
        if tile.is_data() {
            let rows = db.log_entries(i64::try_from(start).unwrap_or(0), i64::try_from(end).unwrap_or(0)).await?;
            let entries: Vec<Vec<u8>> = rows.into_iter().map(String::into_bytes).collect();
            return kinora_translog::data_tile(&entries).map_err(AppError::internal);
        }
        tree.hash_tile(&tile).map_err(AppError::internal)
    }

    /// An inclusion proof of entry `index` against the current tree: (size, proof).
    pub async fn prove(&self, db: &kinora_db::Db, index: u64) -> AppResult<(u64, Vec<String>)> {
        let mut guard = self.tree.lock().await;
        let tree = guard.as_mut().map_err(|why| unavailable(why))?;
        Self::refresh(db, tree).await?;
        let proof = tree.inclusion_proof(tree.size(), index).map_err(AppError::internal)?;
        Ok((tree.size(), proof.iter().map(hex).collect()))
    }
}

/// The keyed commitment that stands for a subject in the public log.
pub fn commit(st: &AppState, account: &Id) -> String {
    kinora_translog::commit_subject(&st.journal_key[..], account.as_str())
}

/// The log's origin for an instance at `base_url`: `<host>/kinora/access-log`.
pub fn origin(base_url: &str) -> String {
    let host = base_url.split("://").nth(1).unwrap_or(base_url).trim_end_matches('/');
    format!("{host}/kinora/access-log")
}

/// One row of the public report: in `month`, `count` log entries with this reason and role.
#[derive(Debug, serde::Serialize)]
pub struct ReportRow {
    pub month: String,
    pub reason: String,
    pub role: String,
    pub count: u64,
}

/// The public `/transparency` report, computed from the log itself so anyone can
/// recompute it from the tiles (`kinora-audit verify` prints the same table).
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub size: u64,
    pub checkpoint: String,
    pub verifier_key: String,
    /// The log's base URL, for `kinora-audit verify --log`.
    pub log_url: String,
    /// Newest month first.
    pub rows: Vec<ReportRow>,
    /// Moderation decisions by month, kind and reason, newest month first.
    pub moderation: Vec<crate::moderation::ActionCount>,
}

/// Entries are read in pages so a large log never sits in memory at once.
const REPORT_PAGE: i64 = 4096;

pub async fn report(st: &AppState) -> AppResult<Report> {
    let note = st.log.checkpoint(&st.db).await?;
    let cp = kinora_translog::open_checkpoint(&st.log.verifier_key, &note).map_err(|e| AppError::internal(e.to_string()))?;
    let size = i64::try_from(cp.size()).unwrap_or(i64::MAX);
    let mut tally = kinora_translog::Tally::default();
    let mut from = 0i64;
    while from < size {
        let to = (from + REPORT_PAGE).min(size);
        for text in st.db.log_entries(from, to).await? {
            let e = Entry::parse(text.as_bytes()).map_err(|e| AppError::internal(e.to_string()))?;
            tally.add(&e);
        }
        from = to;
    }
    let mut rows: Vec<ReportRow> = tally.0.into_iter().map(|((month, reason, role), count)| ReportRow { month, reason, role, count }).collect();
    rows.sort_by(|a, b| b.month.cmp(&a.month).then_with(|| a.reason.cmp(&b.reason)).then_with(|| a.role.cmp(&b.role)));
    Ok(Report {
        size: cp.size(),
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
        verifier_key: st.log.verifier_key.clone(),
        log_url: format!("{}/log", st.base_url.trim_end_matches('/')),
        rows,
        moderation: crate::moderation::action_counts(st).await?,
    })
}
