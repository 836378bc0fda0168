//! The transparency log of staff access, on the server. [`Log`] (in `log.rs`) is
//! the component: the tree, its signed checkpoints, tiles and the backup region's
//! mirror. This module is what is built on it: the services HTTP calls (the
//! checkpoint, tiles, the verifier key), the public report, witnesses and the
//! commitments that stand for subjects in entries.

mod log;

pub use self::log::{extend_from_mirror, Log};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use kinora_core::Id;
use kinora_translog::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the report's witness and moderation numbers may be reused.
const REPORT_FRESH: Duration = Duration::from_secs(5);

/// The report's tally is extended entry by entry as the log grows; the rest is
/// re-read after [`REPORT_FRESH`].
#[derive(Default)]
pub(super) struct ReportCache {
    tally_size: u64,
    tally: kinora_translog::Tally,
    built: Option<(Vec<u8>, Instant, Arc<Report>)>,
}

/// The latest signed checkpoint with its witnesses' cosignatures (`/log/checkpoint`).
pub async fn checkpoint(st: &AppState) -> AppResult<Vec<u8>> {
    st.log.checkpoint(&st.db).await
}

/// The log's verifier key in note format (`/log/key`).
pub fn verifier_key(st: &AppState) -> &str {
    &st.log.verifier_key
}

/// A tile by its C2SP path after `tile/` (`/log/tile/...`).
pub async fn tile(st: &AppState, path: &str) -> AppResult<Vec<u8>> {
    st.log.tile(&st.db, path).await
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
    /// The configured witnesses: (name, verifier key, whether the served checkpoint
    /// carries its cosignature, the size it last cosigned).
    pub witnesses: Vec<WitnessStatus>,
}

#[derive(Debug, serde::Serialize)]
pub struct WitnessStatus {
    pub name: String,
    pub key: String,
    pub url: String,
    pub last_cosigned_size: i64,
    pub cosigns_current: bool,
}

/// Entries are read in pages so a large log never sits in memory at once.
const REPORT_PAGE: i64 = 4096;

/// The public report. The tally grows with the log (only new entries are read);
/// the whole report is reused for the same checkpoint for [`REPORT_FRESH`], so
/// anonymous readers cost no more than the checkpoint query.
pub async fn report(st: &AppState) -> AppResult<Arc<Report>> {
    let note = st.log.checkpoint(&st.db).await?;
    let mut cache = st.log.report.lock().await;
    if let Some((n, at, r)) = &cache.built {
        if *n == note && at.elapsed() < REPORT_FRESH {
            return Ok(Arc::clone(r));
        }
    }
    let cp = kinora_translog::open_checkpoint(&st.log.verifier_key, &note).map_err(|e| AppError::internal(e.to_string()))?;
    if cp.size() < cache.tally_size {
        // The log cannot shrink; if a restore ever made it, count again.
        cache.tally = kinora_translog::Tally::default();
        cache.tally_size = 0;
    }
    let size = i64::try_from(cp.size()).unwrap_or(i64::MAX);
    let mut from = i64::try_from(cache.tally_size).unwrap_or(0);
    while from < size {
        let to = (from + REPORT_PAGE).min(size);
        for text in st.db.log_entries(from, to).await? {
            let e = Entry::parse(text.as_bytes()).map_err(|e| AppError::internal(e.to_string()))?;
            cache.tally.add(&e);
        }
        from = to;
        cache.tally_size = u64::try_from(to).unwrap_or(0);
    }
    let mut rows: Vec<ReportRow> = cache
        .tally
        .0
        .iter()
        .map(|((month, reason, role), count)| ReportRow { month: month.clone(), reason: reason.clone(), role: role.clone(), count: *count })
        .collect();
    rows.sort_by(|a, b| b.month.cmp(&a.month).then_with(|| a.reason.cmp(&b.reason)).then_with(|| a.role.cmp(&b.role)));
    let report = Arc::new(Report {
        size: cp.size(),
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
        verifier_key: st.log.verifier_key.clone(),
        log_url: format!("{}/log", st.base_url.trim_end_matches('/')),
        rows,
        moderation: crate::moderation::action_counts(st).await?,
        witnesses: witness_status(st, &note).await?,
    });
    cache.built = Some((note, Instant::now(), Arc::clone(&report)));
    Ok(report)
}

// ---------- witnesses ----------

/// A configured witness.
#[derive(Debug, Clone)]
pub struct Witness {
    pub url: String,
    pub key: kinora_translog::witness::WitnessKey,
}

/// The configured witnesses, checked (a bad key stops the server at start).
pub fn witnesses(config: &crate::Config) -> anyhow::Result<Vec<Witness>> {
    config
        .transparency
        .witnesses
        .iter()
        .map(|w| {
            let key = kinora_translog::witness::WitnessKey::parse(&w.key).map_err(|e| anyhow::anyhow!("[transparency] witness {}: {e}", w.url))?;
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                anyhow::bail!("[transparency] witness url {:?}: http:// or https://", w.url);
            }
            Ok(Witness { url: w.url.trim_end_matches('/').to_owned(), key })
        })
        .collect()
}

/// What one submission came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Submitted {
    /// The witness cosigned the checkpoint of this size.
    Cosigned(u64),
    /// It has this size's cosignature already.
    UpToDate,
    /// It refused: status and its answer.
    Refused(u16, String),
}

/// The largest answer read from a witness.
const WITNESS_ANSWER_MAX: usize = 64 * 1024;

async fn read_bounded(r: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut r = r;
    let mut out = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > WITNESS_ANSWER_MAX {
            return Err("the answer is too large".into());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Sends the latest checkpoint to one witness with a consistency proof from the
/// size it last cosigned, and keeps its verified cosignature.
pub async fn submit(st: &AppState, client: &reqwest::Client, w: &Witness) -> anyhow::Result<Submitted> {
    use kinora_translog::witness::AddCheckpoint;
    let Some((size, note)) = st.db.latest_checkpoint().await? else { return Ok(Submitted::UpToDate) };
    let size_u = u64::try_from(size).unwrap_or(0);
    let name = w.key.name().to_owned();
    let mut old = u64::try_from(st.db.witness_size(&name).await?).unwrap_or(0);
    if size_u == 0 || (old == size_u && !st.db.cosignatures(size).await?.is_empty()) {
        return Ok(Submitted::UpToDate);
    }
    let text = kinora_translog::witness::note_text(note.as_bytes())?.to_vec();
    // At most two tries: the second after the witness says which size it has.
    for _ in 0..2 {
        let proof = if old == 0 || old >= size_u { Vec::new() } else { st.log.consistency(&st.db, size_u, old).await.map_err(|e| anyhow::anyhow!("{e}"))? };
        let body = AddCheckpoint { old, proof, note: note.as_bytes().to_vec() }.to_bytes();
        let r = client.post(format!("{}/add-checkpoint", w.url)).body(body).send().await?;
        let status = r.status().as_u16();
        let answer = read_bounded(r).await.map_err(|e| anyhow::anyhow!("witness {name}: {e}"))?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        match status {
            200 => {
                for line in answer.lines().filter(|l| !l.trim().is_empty()) {
                    if w.key.verify_line(&text, line)?.is_some() {
                        st.db.save_cosignature(size, &name, line).await?;
                        st.db.set_witness_size(&name, size).await?;
                        return Ok(Submitted::Cosigned(size_u));
                    }
                }
                return Ok(Submitted::Refused(200, format!("no cosignature by {name} in the answer: {}", answer.chars().take(200).collect::<String>())));
            }
            // The witness has another size: it says which; try once more from there.
            409 => match answer.trim().parse::<u64>() {
                Ok(theirs) if theirs != old && theirs <= size_u => {
                    st.db.set_witness_size(&name, i64::try_from(theirs).unwrap_or(0)).await?;
                    old = theirs;
                }
                _ => return Ok(Submitted::Refused(409, answer.chars().take(200).collect())),
            },
            s => return Ok(Submitted::Refused(s, answer.chars().take(200).collect())),
        }
    }
    Ok(Submitted::Refused(409, "the witness keeps naming another size".into()))
}

/// Runs for the life of the server: after every append (and every 30 s, for
/// appends by the command line or other nodes), each witness gets the latest
/// checkpoint. A witness that is down or refuses is logged; staff access never
/// waits for witnesses.
pub async fn witness_loop(st: AppState, witnesses: Vec<Witness>) {
    if witnesses.is_empty() {
        return;
    }
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).connect_timeout(std::time::Duration::from_secs(5)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "witness client");
            return;
        }
    };
    let mut last: std::collections::HashMap<String, String> = Default::default();
    loop {
        for w in &witnesses {
            let outcome = match submit(&st, &client, w).await {
                Ok(Submitted::Cosigned(n)) => {
                    tracing::info!(witness = w.key.name(), size = n, "witness cosigned the log's checkpoint");
                    String::new()
                }
                Ok(Submitted::UpToDate) => String::new(),
                Ok(Submitted::Refused(status, why)) => format!("refused ({status}): {why}"),
                Err(e) => format!("unreachable: {e}"),
            };
            // Log a problem once, not every round.
            if !outcome.is_empty() && last.get(w.key.name()) != Some(&outcome) {
                tracing::warn!(witness = w.key.name(), url = %w.url, "witness {outcome}");
            }
            last.insert(w.key.name().to_owned(), outcome);
        }
        tokio::select! {
            () = st.log.appended.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
        }
    }
}

/// A legal reference as the public log shows it: as given, or (`redact`) as
/// `sha256:<hex SHA-256 of "<nonce>:<reference>">`, with the (nonce, reference) to keep.
pub fn reference_for_log(reference: &str, redact: bool) -> (String, Option<(String, String)>) {
    use sha2::Digest;
    if !redact {
        return (reference.to_owned(), None);
    }
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let digest = hex::encode(sha2::Sha256::digest(format!("{nonce}:{reference}").as_bytes()));
    (format!("sha256:{digest}"), Some((nonce, reference.to_owned())))
}

async fn witness_status(st: &AppState, note: &[u8]) -> AppResult<Vec<WitnessStatus>> {
    let Ok(ws) = witnesses(&st.config) else { return Ok(Vec::new()) };
    let text = kinora_translog::witness::note_text(note).map_err(|e| AppError::internal(e.to_string()))?;
    let sigs = String::from_utf8_lossy(note.get(text.len()..).unwrap_or_default()).into_owned();
    let mut out = Vec::new();
    for w in ws {
        let cosigns_current = sigs.lines().any(|l| matches!(w.key.verify_line(text, l), Ok(Some(_))));
        out.push(WitnessStatus {
            name: w.key.name().to_owned(),
            key: w.key.vkey(),
            url: w.url.clone(),
            last_cosigned_size: st.db.witness_size(w.key.name()).await?,
            cosigns_current,
        });
    }
    Ok(out)
}
