//! `kinora-audit witness`: a C2SP tlog-witness for one log. It cosigns a
//! checkpoint only if the log signed it and it extends (by a consistency proof) the
//! last checkpoint this witness cosigned, which it keeps durably in `--state`
//! before answering. A truncated or forked log is refused and never cosigned.
//!
//! `POST /add-checkpoint` (body: `old <size>`, proof lines, a blank line, the
//! signed checkpoint) answers 200 with a cosignature line, 400 for a malformed
//! body, 403 for a checkpoint the log did not sign, 404 for another log, 409 with
//! `<size>` when `old` is not the size it last cosigned, 422 when the proof does
//! not verify (fork or rewrite), 503 when its clock runs behind its last
//! cosignature or its state cannot be written.

use http_body_util::BodyExt;
use kinora_translog::witness::{consistent, note_text, AddCheckpoint, WitnessSigner};
use kinora_translog::{open_checkpoint, Checkpoint};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest request body read.
pub const MAX_BODY: usize = 64 * 1024;
/// How long a client has to send its request line and headers, and its body.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections served at once.
const MAX_CONNECTIONS: usize = 256;

/// What the witness remembers: the last checkpoint it cosigned and when.
pub struct Witness {
    origin: String,
    log_key: String,
    signer: WitnessSigner,
    state_file: PathBuf,
    /// (the cosigned checkpoint note, its cosignature time)
    last: Option<(Vec<u8>, u64)>,
}

/// An HTTP answer: status, content type, body.
pub type Answer = (u16, &'static str, String);

fn plain(status: u16, msg: impl Into<String>) -> Answer {
    (status, "text/plain; charset=utf-8", msg.into())
}

/// Writes `bytes` to `path` so that a crash leaves the old or the new file whole.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl Witness {
    /// Opens (or creates) the witness's key and state in `dir`.
    pub fn open(dir: &Path, name: &str, origin: &str, log_key: &str) -> anyhow::Result<Witness> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        // The log key must be usable before anything is cosigned with it.
        signed_note_check(log_key)?;
        let key_path = dir.join("witness.key");
        let signer = match std::fs::read_to_string(&key_path) {
            Ok(k) => WitnessSigner::parse(&k).map_err(|e| anyhow::anyhow!("{}: {e}", key_path.display()))?,
            Err(_) => {
                let (skey, _) = WitnessSigner::generate(name).map_err(|e| anyhow::anyhow!("{e}"))?;
                let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&key_path)?;
                f.write_all(format!("{skey}\n").as_bytes())?;
                f.sync_all()?;
                WitnessSigner::parse(&skey).map_err(|e| anyhow::anyhow!("{e}"))?
            }
        };
        let state_file = dir.join(format!("cosigned-{}", hex_sha256(origin.as_bytes())));
        let last = match std::fs::read(&state_file) {
            Ok(bytes) => {
                // `time <t>\n` then the cosigned checkpoint note.
                let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{}: not UTF-8", state_file.display()))?;
                let (first, note) = text.split_once('\n').ok_or_else(|| anyhow::anyhow!("{}: damaged", state_file.display()))?;
                let t = first.strip_prefix("time ").and_then(|t| t.parse::<u64>().ok()).ok_or_else(|| anyhow::anyhow!("{}: damaged", state_file.display()))?;
                open_checkpoint(log_key, note.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", state_file.display()))?;
                Some((note.as_bytes().to_vec(), t))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", state_file.display())),
        };
        Ok(Witness { origin: origin.to_owned(), log_key: log_key.to_owned(), signer, state_file, last })
    }

    /// The witness's verifier key (give it to the log's operator).
    pub fn vkey(&self) -> String {
        self.signer.verifier().vkey()
    }

    fn last_checkpoint(&self) -> Option<Checkpoint> {
        self.last.as_ref().and_then(|(note, _)| open_checkpoint(&self.log_key, note).ok())
    }

    /// Handles one `add-checkpoint` body at time `now` (seconds).
    pub fn add_checkpoint(&mut self, body: &[u8], now: u64) -> Answer {
        let Ok(req) = AddCheckpoint::parse(body) else { return plain(400, "malformed add-checkpoint body\n") };
        let Ok(text) = note_text(&req.note) else { return plain(400, "malformed checkpoint\n") };
        // The origin is the checkpoint's first line.
        let origin = std::str::from_utf8(text).ok().and_then(|t| t.lines().next()).unwrap_or("");
        if origin != self.origin {
            return plain(404, "unknown log\n");
        }
        let cp = match open_checkpoint(&self.log_key, &req.note) {
            Ok(cp) => cp,
            Err(_) => return plain(403, "the checkpoint is not signed by the log's key\n"),
        };
        if req.old > cp.size() {
            return plain(400, "old size is larger than the checkpoint\n");
        }
        let last = self.last_checkpoint();
        let last_size = last.as_ref().map_or(0, Checkpoint::size);
        if req.old != last_size {
            return (409, "text/x.tlog.size", format!("{last_size}\n"));
        }
        if req.old == 0 && !req.proof.is_empty() {
            return plain(422, "a proof was sent with old size 0\n");
        }
        if let Err(e) = consistent(last.as_ref(), &cp, &req.proof) {
            eprintln!("kinora-audit witness: refused checkpoint of size {}: {e}", cp.size());
            return plain(422, format!("{e}\n"));
        }
        // Never date a cosignature before the previous one.
        let last_time = self.last.as_ref().map_or(0, |(_, t)| *t);
        if now < last_time {
            return plain(503, "this witness's clock reads earlier than its last cosignature\n");
        }
        let mut state = format!("time {now}\n").into_bytes();
        state.extend_from_slice(&req.note);
        if let Err(e) = write_durably(&self.state_file, &state) {
            eprintln!("kinora-audit witness: cannot write {}: {e}", self.state_file.display());
            return plain(503, "the witness cannot store its state\n");
        }
        self.last = Some((req.note.clone(), now));
        (200, "text/plain; charset=utf-8", self.signer.cosign(text, now))
    }
}

fn signed_note_check(log_key: &str) -> anyhow::Result<()> {
    // A verifier key is <name>+<hex id>+<base64>; opening any note with it parses it.
    let parts: Vec<&str> = log_key.trim().splitn(3, '+').collect();
    if parts.len() != 3 || parts.first().is_none_or(|p| p.is_empty()) {
        anyhow::bail!("--log-key: a note verifier key, <name>+<id>+<base64> (GET <log>/key)");
    }
    Ok(())
}

fn hex_sha256(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

type Resp = hyper::Response<http_body_util::Full<bytes::Bytes>>;

fn respond((status, ctype, body): Answer) -> Resp {
    let mut r = hyper::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(w: Arc<tokio::sync::Mutex<Witness>>, req: hyper::Request<hyper::body::Incoming>) -> Result<Resp, std::convert::Infallible> {
    if req.uri().path() != "/add-checkpoint" {
        return Ok(respond(plain(404, "not found\n")));
    }
    if req.method() != hyper::Method::POST {
        return Ok(respond(plain(405, "POST only\n")));
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return Ok(respond(plain(413, "the body is too large\n"))),
        Err(_) => return Ok(respond(plain(408, "the body took too long\n"))),
    };
    let answer = w.lock().await.add_checkpoint(&body, now_secs());
    Ok(respond(answer))
}

/// Serves the witness until interrupted.
pub async fn serve(listen: &str, w: Witness) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    println!("kinora-audit witness {}", w.vkey());
    println!("witness listening on http://{}", listener.local_addr()?);
    let w = Arc::new(tokio::sync::Mutex::new(w));
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = slots.clone().acquire_owned().await?;
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let w = w.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |req| handle(w.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kinora_translog::{sign_checkpoint, Tree};

    fn tree(n: usize, tag: &str) -> Tree {
        let mut t = Tree::default();
        for i in 0..n {
            t.append(format!("{tag}{i}").as_bytes()).unwrap();
        }
        t
    }

    #[test]
    fn cosigns_what_extends_and_refuses_forks_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let (skey, vkey) = kinora_translog::generate_key("example.org/log");
        let mut w = Witness::open(dir.path(), "test/witness", "example.org/log", &vkey).unwrap();
        let wkey = kinora_translog::witness::WitnessKey::parse(&w.vkey()).unwrap();
        let t = tree(10, "e");
        let cp = |t: &Tree, n: u64| sign_checkpoint(&skey, "example.org/log", n, t.root_at(n).unwrap()).unwrap();
        let body = |old: u64, proof: Vec<kinora_translog::Hash>, note: Vec<u8>| AddCheckpoint { old, proof, note }.to_bytes();

        // First contact: old 0, no proof.
        let (s, _, line) = w.add_checkpoint(&body(0, vec![], cp(&t, 4)), 100);
        assert_eq!(s, 200, "{line}");
        assert_eq!(wkey.verify_line(note_text(&cp(&t, 4)).unwrap(), &line).unwrap(), Some(100));
        // A wrong old size gets the size it has.
        assert_eq!(w.add_checkpoint(&body(0, vec![], cp(&t, 6)), 101), (409, "text/x.tlog.size", "4\n".to_owned()));
        // A consistent extension.
        let (s, _, _) = w.add_checkpoint(&body(4, t.consistency_proof(8, 4).unwrap(), cp(&t, 8)), 102);
        assert_eq!(s, 200);
        // A fork: another tree of the same size, and one that does not extend.
        let other = tree(10, "x");
        assert_eq!(w.add_checkpoint(&body(8, vec![], cp(&other, 8)), 103).0, 422, "same size, other root");
        assert_eq!(w.add_checkpoint(&body(8, other.consistency_proof(9, 8).unwrap(), cp(&other, 9)), 103).0, 422, "no proof from our 8");
        // Truncation: smaller than what it cosigned.
        assert_eq!(w.add_checkpoint(&body(8, vec![], cp(&t, 5)), 103).0, 400);
        assert_eq!(w.add_checkpoint(&body(5, vec![], cp(&t, 5)), 103).0, 409);
        // Not the log's signature; another log; garbage.
        let (skey2, _) = kinora_translog::generate_key("example.org/log");
        let forged = sign_checkpoint(&skey2, "example.org/log", 9, t.root_at(9).unwrap()).unwrap();
        assert_eq!(w.add_checkpoint(&body(8, t.consistency_proof(9, 8).unwrap(), forged), 103).0, 403);
        let (skey3, _) = kinora_translog::generate_key("elsewhere/log");
        let elsewhere = sign_checkpoint(&skey3, "elsewhere/log", 9, t.root_at(9).unwrap()).unwrap();
        assert_eq!(w.add_checkpoint(&body(8, vec![], elsewhere), 103).0, 404);
        assert_eq!(w.add_checkpoint(b"hello", 103).0, 400);
        // A clock behind the last cosignature.
        assert_eq!(w.add_checkpoint(&body(8, t.consistency_proof(9, 8).unwrap(), cp(&t, 9)), 50).0, 503);
        // The state survives a restart: the reopened witness still has 8.
        drop(w);
        let mut w = Witness::open(dir.path(), "ignored", "example.org/log", &vkey).unwrap();
        assert_eq!(w.vkey(), wkey.vkey(), "the key is kept");
        assert_eq!(w.add_checkpoint(&body(0, vec![], cp(&t, 9)), 200).0, 409);
        assert_eq!(w.add_checkpoint(&body(8, t.consistency_proof(9, 8).unwrap(), cp(&t, 9)), 200).0, 200);
    }
}
