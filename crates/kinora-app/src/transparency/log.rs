//! The log component: an append-only Merkle log
//! (kinora-translog) whose entries and stored hashes live in the database, with a
//! signed checkpoint after every append. Appends are write-ahead: an access is
//! durably sequenced before any data leaves the server. At start the stored tree is
//! checked against the last signed checkpoint; if they disagree the log (and staff
//! access with it) refuses to work.

use crate::error::{AppError, AppResult};
use kinora_core::{ErrorCode, Id};
use kinora_translog::{Entry, Hash, TileRequest, Tree};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entry bundles kept in memory, up to [`BUNDLE_CACHE_BYTES`].
#[derive(Default)]
struct BundleCache {
    bytes: usize,
    tiles: std::collections::HashMap<String, Arc<Vec<u8>>>,
}

const BUNDLE_CACHE_BYTES: usize = 32 << 20;
/// How often a tile past what this process knows may trigger a catch-up query.
const CATCH_UP_EVERY: Duration = Duration::from_secs(1);

/// The log as this process knows it.
pub struct Log {
    /// The tree, or why the log is refused. Held by appends (and catch-ups).
    tree: tokio::sync::Mutex<Result<Tree, String>>,
    /// What readers are served: the tree as of the last append or catch-up, read
    /// without the append lock or a query, so anonymous tile requests never queue in
    /// front of a staff append.
    snapshot: std::sync::RwLock<Result<Arc<Tree>, String>>,
    /// Entry bundles already built (entries never change once appended), by path.
    bundles: Mutex<BundleCache>,
    /// When readers last caught up with appends made elsewhere (at most once a second).
    caught_up: Mutex<Option<Instant>>,
    /// The public report, per checkpoint.
    pub(super) report: tokio::sync::Mutex<super::ReportCache>,
    /// The copy of the log in the backup region (`translog/`), kept as it grows so
    /// a restore from an older backup never shrinks the log, and how much of the
    /// log it holds.
    mirror: Option<Arc<dyn object_store::ObjectStore>>,
    mirrored: tokio::sync::Mutex<Option<u64>>,
    signer_key: String,
    pub verifier_key: String,
    pub origin: String,
    /// The latest signed checkpoint, served as is.
    checkpoint: Mutex<Vec<u8>>,
    /// Woken after every append: witnesses get the new checkpoint.
    pub appended: tokio::sync::Notify,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("origin", &self.origin).finish_non_exhaustive()
    }
}

fn unhex(s: &str) -> Result<Hash, String> {
    let b: Vec<u8> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
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
    pub async fn open(db: &kinora_db::Db, keys_dir: &std::path::Path, origin: &str, mirror: Option<Arc<dyn object_store::ObjectStore>>) -> anyhow::Result<Log> {
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
                let log = Log {
                    snapshot: std::sync::RwLock::new(Ok(Arc::new(tree.clone()))),
                    bundles: Mutex::default(),
                    caught_up: Mutex::new(None),
                    report: tokio::sync::Mutex::default(),
                    mirror: mirror.clone(),
                    mirrored: tokio::sync::Mutex::new(None),
                    tree: tokio::sync::Mutex::new(Ok(tree)),
                    signer_key,
                    verifier_key,
                    origin: origin.clone(),
                    checkpoint: Mutex::new(checkpoint),
                    appended: tokio::sync::Notify::new(),
                };
                log.sign_current(db).await?;
                log
            }
            Err(why) => {
                tracing::error!(%why, "transparency log refused");
                Log {
                    snapshot: std::sync::RwLock::new(Err(why.clone())),
                    bundles: Mutex::default(),
                    caught_up: Mutex::new(None),
                    report: tokio::sync::Mutex::default(),
                    mirror,
                    mirrored: tokio::sync::Mutex::new(None),
                    tree: tokio::sync::Mutex::new(Err(why)),
                    signer_key,
                    verifier_key,
                    origin,
                    checkpoint: Mutex::new(Vec::new()),
                    appended: tokio::sync::Notify::new(),
                }
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
        self.append_redacted(db, entry, subject_account, None).await
    }

    /// [`Log::append`], keeping the (nonce, reference) behind a redacted reference.
    pub async fn append_redacted(&self, db: &kinora_db::Db, entry: &Entry, subject_account: Option<&Id>, redaction: Option<(&str, &str)>) -> AppResult<u64> {
        // Every field bounded before the append: an entry that could not be served in
        // a tile (or read back by an auditor) is never appended.
        let bytes = entry.checked().map_err(|e| AppError::bad_request(e.to_string()))?;
        let mut guard = self.tree.lock().await;
        let tree = guard.as_mut().map_err(|why| unavailable(why))?;
        Self::refresh(db, tree).await?;
        let mut next = tree.clone();
        let first = next.stored().len() as i64;
        let (index, new) = next.append(&bytes).map_err(|e| unavailable(&e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(AppError::internal)?;
        let hashes: Vec<String> = new.iter().map(hex).collect();
        db.log_append(kinora_db::LogAppend {
            idx: i64::try_from(index).unwrap_or(i64::MAX),
            entry: &text,
            subject_account,
            first_hash: first,
            hashes: &hashes,
            redaction,
        })
        .await
        .map_err(|e| unavailable(&e.to_string()))?;
        if std::env::var_os("KINORA_FAULT_CRASH_AFTER_LOG_APPEND").is_some() {
            // Fault injection for the durability test: die the moment the append
            // has returned, before anything else happens.
            tracing::warn!("KINORA_FAULT_CRASH_AFTER_LOG_APPEND is set: aborting");
            std::process::abort();
        }
        *tree = next;
        self.publish(tree);
        let root = tree.root().map_err(|e| unavailable(&e.to_string()))?;
        let note = kinora_translog::sign_checkpoint(&self.signer_key, &self.origin, tree.size(), root).map_err(|e| unavailable(&e.to_string()))?;
        db.save_checkpoint(i64::try_from(tree.size()).unwrap_or(i64::MAX), &String::from_utf8_lossy(&note)).await?;
        if let Ok(mut c) = self.checkpoint.lock() {
            *c = note.clone();
        }
        // The backup region holds the log too, before any data is released: a
        // restore can then never shrink it below a checkpoint anyone has seen.
        self.copy_to_mirror(db, tree.size(), &note).await.map_err(|e| unavailable(&format!("the log could not be copied to the backup region: {e:#}")))?;
        self.appended.notify_one();
        Ok(index)
    }

    /// Copies entries the backup region does not hold yet, then the checkpoint.
    async fn copy_to_mirror(&self, db: &kinora_db::Db, size: u64, note: &[u8]) -> anyhow::Result<()> {
        let Some(m) = &self.mirror else { return Ok(()) };
        let mut mirrored = self.mirrored.lock().await;
        let from = match *mirrored {
            Some(n) => n,
            None => match m.get(&kinora_store::key(MIRROR_CHECKPOINT)).await {
                Ok(r) => kinora_translog::open_checkpoint(&self.verifier_key, &r.bytes().await?).map(|c| c.size()).unwrap_or(0),
                Err(object_store::Error::NotFound { .. }) => 0,
                Err(e) => return Err(e.into()),
            },
        };
        let mut i = from.min(size);
        while i < size {
            let to = (i + 256).min(size);
            let rows = db.log_entries(i64::try_from(i).unwrap_or(0), i64::try_from(to).unwrap_or(0)).await?;
            for (k, text) in rows.into_iter().enumerate() {
                m.put(&kinora_store::key(&mirror_entry(i + k as u64)), text.into_bytes().into()).await?;
            }
            i = to;
        }
        m.put(&kinora_store::key(MIRROR_CHECKPOINT), note.to_vec().into()).await?;
        *mirrored = Some(size);
        Ok(())
    }

    /// A consistency proof from the tree of `old` entries to the tree of `new`.
    pub async fn consistency(&self, db: &kinora_db::Db, new: u64, old: u64) -> AppResult<Vec<Hash>> {
        let mut guard = self.tree.lock().await;
        let tree = guard.as_mut().map_err(|why| unavailable(why))?;
        Self::refresh(db, tree).await?;
        tree.consistency_proof(new, old).map_err(AppError::internal)
    }

    /// Readers see `tree` from now on.
    fn publish(&self, tree: &Tree) {
        if let Ok(mut s) = self.snapshot.write() {
            if s.as_ref().map_or(true, |t| t.size() < tree.size()) {
                *s = Ok(Arc::new(tree.clone()));
            }
        }
    }

    fn snapshot(&self) -> AppResult<Arc<Tree>> {
        let s = self.snapshot.read().map_err(|_| AppError::internal("log snapshot lock"))?;
        s.as_ref().map(Arc::clone).map_err(|why| unavailable(why))
    }

    /// Catches up with appends made elsewhere and publishes the result.
    async fn catch_up(&self, db: &kinora_db::Db) -> AppResult<Arc<Tree>> {
        {
            let mut guard = self.tree.lock().await;
            let tree = guard.as_mut().map_err(|why| unavailable(why))?;
            Self::refresh(db, tree).await?;
            self.publish(tree);
        }
        self.snapshot()
    }

    /// The latest signed checkpoint (C2SP tlog-checkpoint note) with its witnesses'
    /// cosignatures. Readers catch up with appends made elsewhere only when the
    /// stored checkpoint is ahead of what they serve; the append lock is not taken
    /// otherwise.
    pub async fn checkpoint(&self, db: &kinora_db::Db) -> AppResult<Vec<u8>> {
        let snap = self.snapshot()?;
        if let Some((size, note)) = db.latest_checkpoint().await? {
            if u64::try_from(size).unwrap_or(0) > snap.size() {
                self.catch_up(db).await?;
            }
            // Witnesses' cosignatures of this checkpoint follow the log's signature.
            let mut note = note.into_bytes();
            for line in db.cosignatures(size).await? {
                note.extend_from_slice(line.trim_end().as_bytes());
                note.push(b'\n');
            }
            return Ok(note);
        }
        let c = self.checkpoint.lock().map_err(|_| AppError::internal("checkpoint lock"))?.clone();
        if c.is_empty() {
            return Err(unavailable("no checkpoint"));
        }
        Ok(c)
    }

    /// A tile by its C2SP path after `tile/` (`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`),
    /// parsed into a checked [`TileRequest`] (anything past the tree is 404). Hash
    /// tiles come from memory; entry bundles are read once and kept.
    pub async fn tile(&self, db: &kinora_db::Db, path: &str) -> AppResult<Vec<u8>> {
        let mut snap = self.snapshot()?;
        let req = match TileRequest::parse(path, snap.size()) {
            Some(r) => r,
            None => {
                // Past what this process serves: another node may have appended. Look
                // at most once a second, so made-up paths cannot turn into queries.
                let due = {
                    let mut last = self.caught_up.lock().map_err(|_| AppError::internal("log lock"))?;
                    let due = last.is_none_or(|t| t.elapsed() >= CATCH_UP_EVERY);
                    if due {
                        *last = Some(Instant::now());
                    }
                    due
                };
                if !due {
                    return Err(AppError::not_found());
                }
                snap = self.catch_up(db).await?;
                TileRequest::parse(path, snap.size()).ok_or_else(AppError::not_found)?
            }
        };
        if !req.is_data() {
            return snap.hash_tile(&req).map_err(AppError::internal);
        }
        let key = req.path();
        if let Some(b) = self.bundles.lock().map_err(|_| AppError::internal("log lock"))?.tiles.get(&key) {
            return Ok(b.as_ref().clone());
        }
        let range = req.entries();
        let rows = db.log_entries(i64::try_from(range.start).unwrap_or(0), i64::try_from(range.end).unwrap_or(0)).await?;
        let entries: Vec<Vec<u8>> = rows.into_iter().map(String::into_bytes).collect();
        if entries.len() as u64 != range.end - range.start {
            return Err(AppError::not_found());
        }
        let bundle = kinora_translog::data_tile(&entries).map_err(AppError::internal)?;
        let mut cache = self.bundles.lock().map_err(|_| AppError::internal("log lock"))?;
        if cache.bytes + bundle.len() > BUNDLE_CACHE_BYTES {
            *cache = BundleCache::default();
        }
        cache.bytes += bundle.len();
        cache.tiles.insert(key, Arc::new(bundle.clone()));
        Ok(bundle)
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

/// Where the backup region keeps the log: the latest checkpoint, and each entry.
const MIRROR_CHECKPOINT: &str = "translog/checkpoint";

fn mirror_entry(index: u64) -> String {
    format!("translog/entries/{index:020}")
}

/// After a restore: entries the backup region's copy of the log holds beyond the
/// restored ones are appended, checked against its signed checkpoint, so the log
/// never shrinks below what witnesses and auditors may have seen. Returns how many.
pub async fn extend_from_mirror(db: &kinora_db::Db, mirror: &Arc<dyn object_store::ObjectStore>, verifier_key: &str) -> anyhow::Result<u64> {
    let note = match mirror.get(&kinora_store::key(MIRROR_CHECKPOINT)).await {
        Ok(r) => r.bytes().await?.to_vec(),
        Err(object_store::Error::NotFound { .. }) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let cp = kinora_translog::open_checkpoint(verifier_key, &note).map_err(|e| anyhow::anyhow!("the backup region's log checkpoint: {e}"))?;
    let (hashes, n) = db.log_state().await?;
    let hashes = hashes.iter().map(|h| unhex(h)).collect::<Result<Vec<_>, _>>().map_err(|e| anyhow::anyhow!(e))?;
    let mut tree = Tree::from_stored(hashes, u64::try_from(n).unwrap_or(0))?;
    let restored = tree.size();
    if cp.size() <= restored {
        return Ok(0);
    }
    let mut added = Vec::new();
    for i in restored..cp.size() {
        let text = mirror.get(&kinora_store::key(&mirror_entry(i))).await?.bytes().await?;
        let text = String::from_utf8(text.to_vec()).map_err(|_| anyhow::anyhow!("log entry {i} in the backup region is not text"))?;
        kinora_translog::Entry::parse(text.as_bytes()).map_err(|e| anyhow::anyhow!("log entry {i} in the backup region: {e}"))?;
        let first = tree.stored().len() as i64;
        let (index, new) = tree.append(text.as_bytes())?;
        added.push((index, text, first, new));
    }
    if tree.root()? != *cp.hash() {
        anyhow::bail!(
            "the backup region's copy of the log does not extend the restored log (its entries do not give its signed checkpoint); nothing was added"
        );
    }
    for (index, text, first, new) in &added {
        let hashes: Vec<String> = new.iter().map(hex).collect();
        db.log_append(kinora_db::LogAppend {
            idx: i64::try_from(*index).unwrap_or(i64::MAX),
            entry: text,
            subject_account: None,
            first_hash: *first,
            hashes: &hashes,
            redaction: None,
        })
        .await?;
    }
    db.save_checkpoint(i64::try_from(cp.size()).unwrap_or(i64::MAX), &String::from_utf8_lossy(&note)).await?;
    Ok(added.len() as u64)
}
