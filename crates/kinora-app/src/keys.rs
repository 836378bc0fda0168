//! The instance's keys: one documented set in one directory (`[server] keys_dir`,
//! by default `<data>/keys`), and the database's record of which keys those are.
//!
//! * `log.key`: the transparency log's signing key (its verifier key is public).
//! * `journal.key`: keys the commitments in the public log and the erasure journal.
//! * `backup-instance.key`: seals the instance's own backup part and signs manifests.
//! * `accounts/<id>.key`: one per account; destroyed when the account is erased.
//! * `erasure-journal`: keyed hashes of erased accounts, re-applied by a restore.
//!
//! The database records the id (a hash) of the first three. Every process checks
//! at start that its key directory holds exactly those keys and refuses to run
//! otherwise — a worker on a second machine without the keys, or with keys it made
//! itself, stops with an error naming the file instead of signing a second log or
//! erasing under the wrong journal key. Keys are made only by a process starting a
//! new instance (a database that records none); read-only commands never make keys.
//!
//! Escrow: `kinora keys export --out FILE` writes the whole directory sealed with a
//! passphrase (Argon2id, then ChaCha20-Poly1305); `kinora backup restore ID
//! --keys-from FILE` brings it back. Keys are never inside the backups they unlock.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The keys that identify an instance: (name recorded in the database, file).
pub const IDENTITY: &[(&str, &str)] = &[("log", "log.key"), ("journal", "journal.key"), ("backup", "backup-instance.key")];

/// Whether a process may make the keys of a new instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// `serve`, `worker`, `migrate` and commands that write: on a database that
    /// records no keys (a new instance), missing keys are made and recorded.
    MayCreate,
    /// Read-only commands: keys are never made; a missing key is an error.
    MustExist,
}

/// A key's id: the first 16 hex digits of its file's SHA-256 (for the log key, of
/// its public verifier line, so the id can be compared with `/log/key`).
pub fn key_id(name: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let material: Vec<u8> = if name == "log" { String::from_utf8_lossy(bytes).lines().nth(1).unwrap_or("").trim().as_bytes().to_vec() } else { bytes.to_vec() };
    hex::encode(sha2::Sha256::digest(&material)).chars().take(16).collect()
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()?;
    Ok(())
}

fn make(name: &str, path: &Path, origin: &str) -> anyhow::Result<()> {
    match name {
        "log" => {
            let (skey, vkey) = kinora_translog::generate_key(origin);
            write_new(path, format!("{skey}\n{vkey}\n").as_bytes())
        }
        _ => write_new(path, &rand::random::<[u8; 32]>()),
    }
}

/// Checks the key directory against the database's record, making the keys of a
/// new instance when `mode` allows. `origin` names a new log key.
pub async fn check(db: &kinora_db::Db, dir: &Path, origin: &str, mode: KeyMode) -> anyhow::Result<()> {
    let recorded = db.instance_key_ids().await?;
    let fix = "every process of an instance needs its keys: copy the key directory from the machine that made them (or point [server] keys_dir at it), or restore them with `kinora backup restore ID --keys DIR | --keys-from FILE`";
    if recorded.is_empty() {
        if mode == KeyMode::MayCreate {
            std::fs::create_dir_all(dir.join("accounts"))?;
        }
        let mut ids = Vec::new();
        for (name, file) in IDENTITY {
            let path = dir.join(file);
            if !path.exists() {
                if mode == KeyMode::MustExist {
                    anyhow::bail!("{} does not exist; this command does not make keys. {fix}", path.display());
                }
                make(name, &path, origin)?;
                tracing::info!(key = %path.display(), "made a new instance key");
            }
            ids.push(((*name).to_owned(), key_id(name, &std::fs::read(&path)?)));
        }
        if mode == KeyMode::MayCreate {
            db.record_instance_keys(&ids).await?;
        }
        return Ok(());
    }
    for (name, file) in IDENTITY {
        let path = dir.join(file);
        let Some(want) = recorded.get(*name) else {
            anyhow::bail!("the database records no {name} key; it was made by another version or edited");
        };
        let bytes =
            std::fs::read(&path).map_err(|_| anyhow::anyhow!("{} is missing: this process does not have this instance's keys. {fix}", path.display()))?;
        let have = key_id(name, &bytes);
        if &have != want {
            anyhow::bail!(
                "{} is not this instance's {name} key (key id {have}; the database records {want}): these keys belong to another instance. {fix}",
                path.display()
            );
        }
    }
    Ok(())
}

/// Every file of a key directory, by path relative to it.
fn files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for sub in ["", "accounts"] {
        let d = dir.join(sub);
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd {
            let e = e?;
            if e.file_type()?.is_file() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name == ESCROW_MARK {
                    continue;
                }
                let rel = if sub.is_empty() { name } else { format!("{sub}/{name}") };
                out.push((rel, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies keys into `to` (a restore): a file already there must be identical, so
/// keys made by an earlier command are never silently kept beside the real ones.
pub fn install(to: &Path, keys: &[(String, Vec<u8>)]) -> anyhow::Result<usize> {
    std::fs::create_dir_all(to.join("accounts"))?;
    let mut differ = Vec::new();
    for (rel, bytes) in keys {
        let path = to.join(rel);
        if let Ok(have) = std::fs::read(&path) {
            // The erasure journal only grows: the longer one wins if one extends the other.
            if rel == "erasure-journal" && (bytes.starts_with(&have) || have.starts_with(bytes)) {
                continue;
            }
            if &have != bytes {
                differ.push(rel.clone());
            }
        }
    }
    if !differ.is_empty() {
        anyhow::bail!(
            "{} already holds different keys ({}): they were made by another instance or by a command run before this restore. Move that directory away and restore again",
            to.display(),
            differ.join(", ")
        );
    }
    let mut n = 0;
    for (rel, bytes) in keys {
        let path = to.join(rel);
        if rel == "erasure-journal" {
            if std::fs::read(&path).map(|h| h.len() >= bytes.len()).unwrap_or(false) {
                continue;
            }
            let _ = std::fs::remove_file(&path);
        } else if path.exists() {
            continue;
        }
        write_new(&path, bytes)?;
        n += 1;
    }
    Ok(n)
}

/// The files of a key directory (for `--keys DIR`).
pub fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (rel, p) in files(dir)? {
        out.push((rel, std::fs::read(p)?));
    }
    if out.is_empty() {
        anyhow::bail!("{} holds no keys", dir.display());
    }
    Ok(out)
}

/// Marks the moment the keys were last exported (`kinora backup create` reminds
/// when keys are newer than that).
const ESCROW_MARK: &str = "exported-at";

#[derive(serde::Serialize, serde::Deserialize)]
struct Escrow {
    kinora_keys: u32,
    salt: String,
    nonce: String,
    sealed: String,
}

fn escrow_key(passphrase: &str, salt: &[u8]) -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    argon2::Argon2::default().hash_password_into(passphrase.as_bytes(), salt, &mut key).map_err(|e| anyhow::anyhow!("deriving the escrow key: {e}"))?;
    Ok(key)
}

/// The most bytes an escrow file may have (a restore reads it whole).
const ESCROW_MAX: u64 = 256 << 20;

/// `kinora keys export`: every key file, sealed with `passphrase`, into `out`
/// (refusing to overwrite). Returns how many files it holds.
pub fn export(dir: &Path, passphrase: &str, out: &Path) -> anyhow::Result<usize> {
    use base64::Engine;
    use chacha20poly1305::aead::{Aead, KeyInit};
    if passphrase.chars().count() < 12 {
        anyhow::bail!("the passphrase must have at least 12 characters");
    }
    let keys = read_dir(dir)?;
    let plain = serde_json::to_vec(&keys.iter().map(|(r, b)| (r.clone(), base64::engine::general_purpose::STANDARD.encode(b))).collect::<Vec<_>>())?;
    let salt: [u8; 16] = rand::random();
    let nonce: [u8; 12] = rand::random();
    let key = escrow_key(passphrase, &salt)?;
    let sealed = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key))
        .encrypt(chacha20poly1305::Nonce::from_slice(&nonce), plain.as_slice())
        .map_err(|_| anyhow::anyhow!("sealing the keys failed"))?;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let doc = Escrow { kinora_keys: 1, salt: b64(&salt), nonce: b64(&nonce), sealed: b64(&sealed) };
    write_new(out, &serde_json::to_vec_pretty(&doc)?)?;
    let mark = dir.join(ESCROW_MARK);
    let _ = std::fs::remove_file(&mark);
    write_new(&mark, crate::views::rfc3339(kinora_db::now_ms()).as_bytes())?;
    Ok(keys.len())
}

/// Opens an escrow file written by [`export`].
pub fn open_escrow(file: &Path, passphrase: &str) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    use base64::Engine;
    use chacha20poly1305::aead::{Aead, KeyInit};
    let len = std::fs::metadata(file).with_context(|| format!("{}", file.display()))?.len();
    if len > ESCROW_MAX {
        anyhow::bail!("{} is too large to be a key escrow", file.display());
    }
    let doc: Escrow = serde_json::from_slice(&std::fs::read(file)?).with_context(|| format!("{} is not a Kinora key escrow", file.display()))?;
    if doc.kinora_keys != 1 {
        anyhow::bail!("{}: unknown escrow version {}", file.display(), doc.kinora_keys);
    }
    let d = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| anyhow::anyhow!("{} is damaged", file.display()));
    let (salt, nonce, sealed) = (d(&doc.salt)?, d(&doc.nonce)?, d(&doc.sealed)?);
    if nonce.len() != 12 {
        anyhow::bail!("{} is damaged", file.display());
    }
    let key = escrow_key(passphrase, &salt)?;
    let plain = chacha20poly1305::ChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&key))
        .decrypt(chacha20poly1305::Nonce::from_slice(&nonce), sealed.as_slice())
        .map_err(|_| anyhow::anyhow!("{}: wrong passphrase, or the file was changed", file.display()))?;
    let list: Vec<(String, String)> = serde_json::from_slice(&plain)?;
    let mut out = Vec::new();
    for (rel, b) in list {
        let ok = rel.split('/').all(|p| !p.is_empty() && p != ".." && p != ".")
            && (rel.matches('/').count() == 0 || rel.starts_with("accounts/"))
            && rel.len() < 200;
        if !ok {
            anyhow::bail!("{}: an entry names {rel:?}, not a key file", file.display());
        }
        out.push((rel, d(&b)?));
    }
    Ok(out)
}

/// Key files made or changed since the last `kinora keys export` (all of them if
/// the keys were never exported): what a backup made now could not be restored
/// from the escrow without.
pub fn unescrowed(dir: &Path) -> usize {
    let mark = std::fs::metadata(dir.join(ESCROW_MARK)).and_then(|m| m.modified()).ok();
    files(dir)
        .map(|f| {
            f.iter()
                .filter(|(_, p)| match (mark, std::fs::metadata(p).and_then(|m| m.modified())) {
                    (Some(m), Ok(t)) => t > m,
                    _ => true,
                })
                .count()
        })
        .unwrap_or(0)
}
