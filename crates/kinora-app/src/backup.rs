//! Backups of the database, in the backup region, encrypted: each account's rows
//! under a key of that account's own, everything else under the instance's backup
//! key. Keys live in a key store outside the backups (`<data>/keys/`): erasing an
//! account destroys its key, so every old backup of it becomes unreadable
//! (crypto-shredding), and a restore re-applies the erasure journal as well.
//!
//! Layout in the backup region: `backups/<id>/manifest.json` (id, time, sizes, the
//! accounts it holds) and `backups/<id>/<part>.bin` (`instance`, or an account id):
//! a 12-byte nonce and ChaCha20-Poly1305 over a JSON array of `[table, row]`.

use crate::state::AppState;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use kinora_core::Id;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a part is bound to: its backup and its owner. A part moved to another
/// backup, or renamed to another owner, no longer opens.
fn part_aad(backup: &str, who: &str) -> Vec<u8> {
    format!("kinora-backup-part-v2\n{backup}\n{who}").into_bytes()
}

fn seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    use chacha20poly1305::aead::Payload;
    let nonce: [u8; 12] = rand::random();
    let c = ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    Ok([nonce.as_slice(), &c].concat())
}

fn open_sealed(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
    use chacha20poly1305::aead::Payload;
    if sealed.len() < 12 {
        anyhow::bail!("truncated backup part");
    }
    let (nonce, c) = sealed.split_at(12);
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), Payload { msg: c, aad })
        .map_err(|_| anyhow::anyhow!("wrong key, or the part was damaged or moved from another backup"))
}

/// The manifest's signature: HMAC-SHA-256 under the instance's backup key over the
/// manifest's bytes, in hex. Someone who can write to the backup bucket but has no
/// key cannot change, swap or roll back what a backup holds.
fn manifest_mac(key: &[u8; 32], manifest: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(b"kinora-backup-manifest-v2\n");
    m.update(manifest);
    hex::encode(m.finalize().into_bytes())
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A row in a part: its table and its columns.
type PartRow<'a> = (&'a str, &'a Map<String, Value>);

/// What `backup list` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupInfo {
    pub id: String,
    pub created_at: String,
    pub bytes: u64,
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    id: String,
    created_at: String,
    rows: usize,
    bytes: u64,
    /// Parts: `instance` and one per account.
    parts: Vec<String>,
    /// SHA-256 of each sealed part, by part (signed with the manifest).
    #[serde(default)]
    digests: BTreeMap<String, String>,
}

/// The region backups go to: the backup region, or the primary when there is none.
pub fn region(st: &AppState) -> String {
    st.regions.backup.clone().unwrap_or_else(|| st.regions.primary.clone())
}

/// Writes a consistent backup; `progress(step, done, total)` reports as it goes.
pub async fn create(st: &AppState, progress: &(dyn Fn(&str, u64, u64) + Sync)) -> anyhow::Result<BackupInfo> {
    let rows = st.db.dump(&|table, n| progress(table, n as u64, 0)).await?;
    let mut parts: BTreeMap<String, Vec<PartRow<'_>>> = BTreeMap::new();
    for r in &rows {
        parts.entry(r.owner.clone().unwrap_or_else(|| "instance".into())).or_default().push((r.table, &r.row));
    }
    let id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), &Id::generate().as_str()[..6]);
    let region = region(st);
    let store = st.regions.get(&region)?;
    let keys = &st.keys;
    let total = parts.len() as u64;
    let mut bytes = 0u64;
    let mut digests = BTreeMap::new();
    for (i, (who, rows)) in parts.iter().enumerate() {
        let key = keys.key(who)?;
        let sealed = seal(&key, &part_aad(&id, who), &serde_json::to_vec(rows)?)?;
        bytes += sealed.len() as u64;
        digests.insert(who.clone(), sha256_hex(&sealed));
        store.put(&kinora_store::key(&format!("backups/{id}/{who}.bin")), sealed.into()).await?;
        progress("encrypting", i as u64 + 1, total);
    }
    let manifest = Manifest {
        id: id.clone(),
        created_at: crate::views::rfc3339(kinora_db::now_ms()),
        rows: rows.len(),
        bytes,
        parts: parts.keys().cloned().collect(),
        digests,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    store.put(&kinora_store::key(&format!("backups/{id}/manifest.sig")), manifest_mac(&keys.key("instance")?, &manifest_bytes).into_bytes().into()).await?;
    // The manifest last: a backup without one is incomplete and is not listed.
    store.put(&kinora_store::key(&format!("backups/{id}/manifest.json")), manifest_bytes.into()).await?;
    tracing::info!(backup = %id, rows = rows.len(), bytes, %region, "backup written");
    Ok(BackupInfo { id, created_at: manifest.created_at, bytes, region })
}

/// Backups in the backup region, oldest first. Needs only the regions (no
/// database, no keys): it runs before a restore, in an empty data directory.
pub async fn list(regions: &kinora_store::Regions) -> anyhow::Result<Vec<BackupInfo>> {
    let region = regions.backup.clone().unwrap_or_else(|| regions.primary.clone());
    let store = regions.get(&region)?;
    let mut out = Vec::new();
    for (k, _) in kinora_store::list_all(store).await? {
        if !(k.starts_with("backups/") && k.ends_with("/manifest.json")) {
            continue;
        }
        let m: Manifest = serde_json::from_slice(&store.get(&kinora_store::key(&k)).await?.bytes().await?)?;
        out.push(BackupInfo { id: m.id, created_at: m.created_at, bytes: m.bytes, region: region.clone() });
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(out)
}

/// What a restore did.
#[derive(Debug, Serialize)]
pub struct Restored {
    pub rows: usize,
    pub dropped: usize,
    /// Parts whose key no longer exists (erased accounts): unreadable, skipped.
    pub unreadable: usize,
    /// Accounts in the erasure journal, erased again after loading.
    pub erased_again: usize,
    /// Log entries appended after the backup was made, from the backup region's
    /// copy of the log.
    pub log_added: u64,
}

/// Restores backup `id` into this instance's (empty) database, then re-applies the
/// erasure journal.
pub async fn restore(st: &AppState, id: &str, progress: &(dyn Fn(&str, u64, u64) + Sync)) -> anyhow::Result<Restored> {
    let keys = &st.keys;
    if !st.db.is_empty().await? {
        anyhow::bail!("the database already holds accounts; restore into an empty instance (a new --data and --database-url)");
    }
    let region = region(st);
    let store = st.regions.get(&region)?;
    let get = |k: String| async move { anyhow::Ok(store.get(&kinora_store::key(&k)).await?.bytes().await?) };
    let manifest_bytes = get(format!("backups/{id}/manifest.json")).await.map_err(|e| anyhow::anyhow!("backup {id}: {e}"))?;
    // Nothing is read from a backup before its manifest's signature checks out.
    let Some(instance_key) = keys.existing("instance") else {
        anyhow::bail!(
            "backup {id}: this instance has no backup keys ({}/backup-instance.key is missing); restore with the keys that made the backup: --keys DIR (a copy of <data>/keys) or --keys-from FILE (from `kinora keys export`)",
            st.config.keys_dir().display()
        );
    };
    let sig = get(format!("backups/{id}/manifest.sig")).await.map_err(|_| {
        anyhow::anyhow!("backup {id}: the manifest is not signed (made by an older version, or its signature was removed); refusing to restore it")
    })?;
    if !crate::auth::secret_eq(std::str::from_utf8(&sig).unwrap_or("").trim(), &manifest_mac(&instance_key, &manifest_bytes)) {
        anyhow::bail!("backup {id}: the manifest's signature does not match: it was changed after it was written, or it was made with other keys than these; refusing to restore it");
    }
    let m: Manifest = serde_json::from_slice(&manifest_bytes)?;
    if m.id != id {
        anyhow::bail!("backup {id}: the manifest names backup {}; refusing to restore it", m.id);
    }
    let mut journal = keys.journal();
    let mut rows: Vec<(String, Map<String, Value>)> = Vec::with_capacity(m.rows);
    let mut unreadable = 0;
    let total = m.parts.len() as u64;
    for (i, who) in m.parts.iter().enumerate() {
        progress("decrypting", i as u64 + 1, total);
        let Some(key) = keys.existing(who) else {
            // Only a journalled erasure may leave a part unreadable.
            let erased = Id::parse(who).is_some_and(|acc| journal.contains(&crate::erasure::subject(st, &acc)));
            if erased {
                unreadable += 1;
                continue;
            }
            anyhow::bail!(
                "backup {id}: part {who} cannot be read: its key is not in the key store and the erasure journal does not say it was erased. Restore with the keys that made the backup (--keys DIR or --keys-from FILE); nothing was restored"
            );
        };
        let sealed = get(format!("backups/{id}/{who}.bin")).await?;
        if m.digests.get(who) != Some(&sha256_hex(&sealed)) {
            anyhow::bail!("backup {id}: part {who} is not the part the signed manifest names (replaced or damaged); nothing was restored");
        }
        let plain = open_sealed(&key, &part_aad(id, who), &sealed).map_err(|e| anyhow::anyhow!("backup {id}: part {who}: {e}; nothing was restored"))?;
        let part: Vec<(String, Map<String, Value>)> = serde_json::from_slice(&plain)?;
        rows.extend(part);
    }
    progress("loading", 0, 1);
    let (loaded, dropped) = st.db.load(&rows).await?;
    // The erasure journal: whoever was erased after this backup was made is erased again.
    journal.extend(st.db.erasure_journal().await?);
    let mut erased_again = 0;
    for (table, row) in &rows {
        if table != "accounts" {
            continue;
        }
        let Some(acc) = row.get("id").and_then(Value::as_str).and_then(Id::parse) else { continue };
        if journal.contains(&crate::erasure::subject(st, &acc)) {
            st.db.erase_account(&acc, &crate::erasure::subject(st, &acc)).await?;
            erased_again += 1;
        }
    }
    if erased_again > 0 {
        st.db.scrub().await?;
    }
    // Erasures that were scheduled when the backup was made are scheduled again
    // (their jobs are not in backups).
    for (acc, erase_at) in st.db.scheduled_erasures().await? {
        st.db.schedule_erasure(&acc, erase_at).await?;
    }
    // The log as the backup region holds it now: never shorter than the restored one.
    let log_added = crate::transparency::extend_from_mirror(&st.db, store, &st.log.verifier_key).await?;
    progress("loading", 1, 1);
    Ok(Restored { rows: loaded, dropped, unreadable, erased_again, log_added })
}
