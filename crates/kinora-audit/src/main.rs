//! `kinora-audit`: verify a Kinora instance's transparency log from the outside,
//! needing nothing of the server but its public URLs and its verifier key.
//!
//! `kinora-audit verify --log https://host/log --key VKEY [--state DIR]` fetches the
//! signed checkpoint and every entry bundle, checks the signature, rebuilds the tree
//! from the entries (each must be a canonical entry), checks the root and the served
//! hash tiles, and, with `--state`, that the log extends the checkpoint seen last time
//! (a shrunk or rewritten log fails). It prints a summary and exits non-zero on any
//! failure, naming it. `--witness VKEY` (repeatable) also requires a valid
//! cosignature of that witness on the checkpoint.
//!
//! `kinora-audit witness --listen ADDR --log-origin ORIGIN --log-key VKEY --state DIR`
//! runs a C2SP tlog-witness for the log: it cosigns only checkpoints that extend
//! the last one it cosigned, and refuses forks and truncations.

mod witness;

use clap::{Parser, Subcommand};
use kinora_translog::{open_checkpoint, parse_data_tile, Entry, Tally, Tile, Tree};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "kinora-audit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verifies the whole log; exits 0 only if every check passes.
    Verify {
        /// The log's base URL, e.g. https://kinora.example/log
        #[arg(long)]
        log: String,
        /// The log's verifier key (note format), as published at <log>/key.
        #[arg(long)]
        key: String,
        /// Where the last verified checkpoint is kept between runs.
        #[arg(long)]
        state: Option<PathBuf>,
        /// A witness's verifier key whose cosignature the checkpoint must carry
        /// (repeat for several).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
    },
    /// Runs a witness (C2SP tlog-witness) for one log: POST /add-checkpoint.
    Witness {
        /// Address to listen on, e.g. 127.0.0.1:7380.
        #[arg(long)]
        listen: String,
        /// The log's origin (the first line of its checkpoints).
        #[arg(long)]
        log_origin: String,
        /// The log's verifier key (note format), obtained out of band.
        #[arg(long)]
        log_key: String,
        /// Where the witness keeps its key and the last checkpoint it cosigned.
        /// Losing it means a new witness identity.
        #[arg(long)]
        state: PathBuf,
        /// The witness's name (part of its key; used only when the key is made).
        #[arg(long, default_value = "kinora-audit/witness")]
        name: String,
    },
}

/// C2SP path of a tile: `tile/<L>/<N>` or `tile/entries/<N>` (height 8).
fn c2sp(tile: &Tile) -> String {
    let p = tile.path();
    let rest = p.strip_prefix("tile/8/").unwrap_or(&p);
    match rest.strip_prefix("data/") {
        Some(n) => format!("tile/entries/{n}"),
        None => format!("tile/{rest}"),
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let r = client.get(url).send().await?;
    if !r.status().is_success() {
        anyhow::bail!("GET {url}: {}", r.status());
    }
    Ok(r.bytes().await?.to_vec())
}

async fn verify(log: &str, key: &str, state: Option<PathBuf>, witnesses: &[String]) -> anyhow::Result<()> {
    let log = log.trim_end_matches('/');
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
    let note = fetch(&client, &format!("{log}/checkpoint")).await?;
    let cp = open_checkpoint(key, &note).map_err(|e| anyhow::anyhow!("checkpoint signature: {e}"))?;
    // The key is named after the log: a checkpoint for another origin is not this log's.
    let name = key.split('+').next().unwrap_or_default();
    if cp.origin() != name {
        anyhow::bail!("checkpoint origin {:?} is not the key's log {name:?}", cp.origin());
    }
    // Each required witness vouches for this very checkpoint.
    let mut cosigned = Vec::new();
    for wk in witnesses {
        let w = kinora_translog::witness::WitnessKey::parse(wk).map_err(|e| anyhow::anyhow!("--witness: {e}"))?;
        let text = kinora_translog::witness::note_text(&note).map_err(|e| anyhow::anyhow!("{e}"))?;
        let sigs = std::str::from_utf8(note.get(text.len()..).unwrap_or_default()).unwrap_or("");
        let mut found = None;
        for line in sigs.lines().filter(|l| !l.is_empty()) {
            if let Some(t) = w.verify_line(text, line).map_err(|e| anyhow::anyhow!("{e}"))? {
                found = Some(t);
            }
        }
        match found {
            Some(t) => cosigned.push(format!("{} (cosignature time {t})", w.name())),
            None => anyhow::bail!("the checkpoint carries no cosignature of witness {}", w.name()),
        }
    }
    let size = cp.size();
    // Every entry, bundle by bundle, into a tree of our own.
    let mut tree = Tree::default();
    let mut summary = Tally::default();
    let mut k = 0u64;
    while k * 256 < size {
        let w = u32::try_from((size - k * 256).min(256)).unwrap_or(256);
        let tile = Tile::new(8, 0, k, w, true);
        let bytes = fetch(&client, &format!("{log}/{}", c2sp(&tile))).await?;
        let entries = parse_data_tile(&bytes).map_err(|e| anyhow::anyhow!("entry bundle {k}: {e}"))?;
        if entries.len() != w as usize {
            anyhow::bail!("entry bundle {k} holds {} entries, {w} expected", entries.len());
        }
        for (i, e) in entries.iter().enumerate() {
            let index = k * 256 + i as u64;
            let parsed = Entry::parse(e).map_err(|err| anyhow::anyhow!("entry {index}: {err}"))?;
            summary.add(&parsed);
            tree.append(e).map_err(|err| anyhow::anyhow!("entry {index}: {err}"))?;
        }
        // The server's hash tile must say what the entries say.
        let hashes = fetch(&client, &format!("{log}/{}", c2sp(&Tile::new(8, 0, k, w, false)))).await?;
        let ours = kinora_translog::TileRequest::from_tile(Tile::new(8, 0, k, w, false), tree.size())
            .ok_or_else(|| anyhow::anyhow!("hash tile {k} is past the entries read"))?;
        if hashes != tree.hash_tile(&ours).map_err(|e| anyhow::anyhow!("{e}"))? {
            anyhow::bail!("hash tile {k} does not match the entries it covers");
        }
        k += 1;
    }
    let root = tree.root().map_err(|e| anyhow::anyhow!("{e}"))?;
    if root != *cp.hash() {
        anyhow::bail!("root mismatch: the entries give a different tree than the signed checkpoint (an entry was changed or removed)");
    }
    if let Some(dir) = &state {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("checkpoint");
        if let Ok(prev) = std::fs::read(&path) {
            let prev = open_checkpoint(key, &prev).map_err(|e| anyhow::anyhow!("saved checkpoint: {e}"))?;
            if prev.size() > size {
                anyhow::bail!("the log shrank: {} entries seen before, {size} now (truncated)", prev.size());
            }
            let then = tree.root_at(prev.size()).map_err(|e| anyhow::anyhow!("{e}"))?;
            if then != *prev.hash() {
                anyhow::bail!("the log does not extend the checkpoint of size {} seen before (rewritten or forked)", prev.size());
            }
        }
        std::fs::write(&path, &note)?;
    }
    println!("ok: {} ({size} entries), root {}", cp.origin(), root.0.iter().map(|b| format!("{b:02x}")).collect::<String>());
    for c in &cosigned {
        println!("cosigned by {c}");
    }
    println!("{:<8} {:<16} {:<10} {:>7}", "month", "reason", "role", "entries");
    for ((month, reason, role), n) in &summary.0 {
        println!("{month:<8} {reason:<16} {role:<10} {n:>7}");
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kinora-audit: {e}");
            std::process::exit(2);
        }
    };
    let r = rt.block_on(async {
        match cli.command {
            Command::Verify { log, key, state, witnesses } => verify(&log, &key, state, &witnesses).await,
            Command::Witness { listen, log_origin, log_key, state, name } => match witness::Witness::open(&state, &name, &log_origin, &log_key) {
                Ok(w) => witness::serve(&listen, w).await,
                Err(e) => Err(e),
            },
        }
    });
    if let Err(e) = r {
        eprintln!("FAILED: {e:#}");
        std::process::exit(1);
    }
}
