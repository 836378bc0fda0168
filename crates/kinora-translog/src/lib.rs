//! Kinora's transparency log of staff access, as pure functions over data.
//!
//! * [`Entry`]: what one staff or legal read of someone's data records, as canonical
//!   JSON. The subject is a keyed commitment ([`commit_subject`]), never a username.
//! * [`Tree`]: the log's stored hashes (RFC 9162 hashing: leaf `SHA-256(0x00 || entry)`,
//!   node `SHA-256(0x01 || l || r)`), built with `tlog_tiles` (a port of Go's
//!   `sumdb/tlog`): root, inclusion and consistency proofs, and the C2SP tlog-tiles
//!   hash tiles; [`data_tile`] is an entry bundle (each entry a big-endian uint16
//!   length, then its bytes).
//! * Checkpoints (C2SP tlog-checkpoint) signed as notes with Ed25519 (`signed_note`):
//!   [`sign_checkpoint`], [`open_checkpoint`].
//!
//! * Witnesses ([`witness`]): C2SP tlog-cosignature lines and the tlog-witness
//!   `add-checkpoint` body.
//!
//! Storage and HTTP stay outside: the server keeps the stored hashes and entries in
//! its database; `kinora-audit` fetches tiles over HTTP. Both check with this crate.

pub mod witness;

pub use tlog_tiles::{check_record, check_tree, record_hash, Checkpoint, Hash, RecordProof, Tile, TreeProof};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use tlog_tiles::HashReader;

/// Why the log refused something.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log: {0}")]
    Tlog(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("entry: {0}")]
    Entry(String),
}

fn tlog(e: impl std::fmt::Debug) -> LogError {
    LogError::Tlog(format!("{e:?}"))
}

/// One access, as logged. Field order is the canonical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub v: u32,
    /// RFC 3339 UTC.
    pub time: String,
    /// The staff account, by name: staff are accountable.
    pub actor: String,
    /// `moderator`, `admin`, or `legal`.
    pub role: String,
    /// A keyed commitment to the person whose data was read ([`commit_subject`]).
    pub subject: String,
    pub scopes: Vec<String>,
    pub reason: String,
    pub reference: String,
}

impl Entry {
    /// The canonical bytes: compact JSON with the fields in their fixed order.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an entry and checks that it is canonical (re-encoding gives the same
    /// bytes), so one access cannot be logged in two spellings.
    pub fn parse(bytes: &[u8]) -> Result<Entry, LogError> {
        let e: Entry = serde_json::from_slice(bytes).map_err(|e| LogError::Entry(e.to_string()))?;
        if e.canonical() != bytes {
            return Err(LogError::Entry("not in canonical form".into()));
        }
        if e.v != 1 {
            return Err(LogError::Entry(format!("unknown version {}", e.v)));
        }
        Ok(e)
    }
}

/// `HMAC-SHA-256(key, account id)` in hex: the public log does not say whose data
/// was read; the person (and the operator, who holds the key) can tell.
/// Entries counted by (month `YYYY-MM`, reason, role): the public report on
/// `/transparency` and the table `kinora-audit` prints are this one computation, so
/// anyone can recompute the server's numbers from the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally(pub std::collections::BTreeMap<(String, String, String), u64>);

impl Tally {
    pub fn add(&mut self, e: &Entry) {
        *self.0.entry((e.time.get(..7).unwrap_or("?").to_owned(), e.reason.clone(), e.role.clone())).or_default() += 1;
    }
}

pub fn commit_subject(key: &[u8], account_id: &str) -> String {
    let mut m = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(account_id.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// The log's stored hashes (every node of the tree that `tlog_tiles` stores, in its
/// stored-hash order), and its size.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    hashes: Vec<Hash>,
    size: u64,
}

impl HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| self.hashes.get(usize::try_from(*i).unwrap_or(usize::MAX)).copied().ok_or(tlog_tiles::Error::IndexesNotInTree))
            .collect()
    }
}

impl Tree {
    /// A tree from stored hashes read back from storage.
    pub fn from_stored(hashes: Vec<Hash>, size: u64) -> Result<Tree, LogError> {
        if hashes.len() as u64 != tlog_tiles::stored_hash_count(size) {
            return Err(LogError::Tlog(format!("{} stored hashes for a tree of {size}", hashes.len())));
        }
        Ok(Tree { hashes, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn stored(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends an entry; returns its index and the stored hashes it added.
    pub fn append(&mut self, entry: &[u8]) -> Result<(u64, Vec<Hash>), LogError> {
        let index = self.size;
        let new = tlog_tiles::stored_hashes(index, entry, self).map_err(tlog)?;
        self.hashes.extend(new.iter().copied());
        self.size += 1;
        Ok((index, new))
    }

    /// The root hash of the tree's first `n` entries.
    pub fn root_at(&self, n: u64) -> Result<Hash, LogError> {
        tlog_tiles::tree_hash(n, self).map_err(tlog)
    }

    pub fn root(&self) -> Result<Hash, LogError> {
        self.root_at(self.size)
    }

    /// Proof that entry `index` is in the tree of size `size`.
    pub fn inclusion_proof(&self, size: u64, index: u64) -> Result<RecordProof, LogError> {
        tlog_tiles::prove_record(size, index, self).map_err(tlog)
    }

    /// Proof that the tree of size `old` is a prefix of the tree of size `new`.
    pub fn consistency_proof(&self, new: u64, old: u64) -> Result<TreeProof, LogError> {
        tlog_tiles::prove_tree(new, old, self).map_err(tlog)
    }

    /// A hash tile's bytes (C2SP tlog-tiles: the concatenated hashes).
    pub fn hash_tile(&self, tile: &Tile) -> Result<Vec<u8>, LogError> {
        tile.read_data(self).map_err(tlog)
    }
}

/// An entry bundle: each entry as a big-endian uint16 length, then its bytes.
pub fn data_tile(entries: &[Vec<u8>]) -> Result<Vec<u8>, LogError> {
    let mut out = Vec::new();
    for e in entries {
        let n = u16::try_from(e.len()).map_err(|_| LogError::Entry("longer than 65535 bytes".into()))?;
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of a bundle.
pub fn parse_data_tile(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, LogError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 2 {
            return Err(LogError::Entry("truncated bundle".into()));
        }
        let n = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        if bytes.len() < 2 + n {
            return Err(LogError::Entry("truncated bundle".into()));
        }
        out.push(bytes[2..2 + n].to_vec());
        bytes = &bytes[2 + n..];
    }
    Ok(out)
}

/// A new Ed25519 key pair in note format: (signer key, verifier key).
pub fn generate_key(name: &str) -> (String, String) {
    signed_note::generate_key(&mut rand::rngs::OsRng, name)
}

/// The checkpoint of a tree as a signed note.
pub fn sign_checkpoint(signer_key: &str, origin: &str, size: u64, root: Hash) -> Result<Vec<u8>, LogError> {
    let cp = Checkpoint::new(origin, size, root, "").map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    let signer = signed_note::StandardSigner::new(signer_key).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    let mut note = signed_note::Note::new(&cp.to_bytes(), &[]).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    note.add_sigs(&[&signer]).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    Ok(note.to_bytes())
}

/// Verifies a signed checkpoint with the log's verifier key and parses it.
pub fn open_checkpoint(verifier_key: &str, note: &[u8]) -> Result<Checkpoint, LogError> {
    let v = signed_note::StandardVerifier::new(verifier_key).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    let n = signed_note::Note::from_bytes(note).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    let list = signed_note::VerifierList::new(vec![Box::new(v)]);
    let (verified, _) = n.verify(&list).map_err(|e| LogError::Checkpoint(format!("{e:?}")))?;
    if verified.is_empty() {
        return Err(LogError::Checkpoint("not signed by the log's key".into()));
    }
    Checkpoint::from_bytes(n.text()).map_err(|e| LogError::Checkpoint(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn leaf(e: &[u8]) -> [u8; 32] {
        Sha256::digest([&[0u8][..], e].concat()).into()
    }

    /// The Merkle tree hash of RFC 9162 section 2.1, computed the slow, obvious way.
    fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => leaf(&leaves[0]),
            n => {
                let k = n.next_power_of_two() / 2;
                let (l, r) = (mth(&leaves[..k]), mth(&leaves[k..]));
                Sha256::digest([&[1u8][..], &l, &r].concat()).into()
            }
        }
    }

    fn entry(i: usize) -> Vec<u8> {
        Entry {
            v: 1,
            time: format!("2026-11-29T00:00:{:02}.000Z", i % 60),
            actor: "mod_ana".into(),
            role: "moderator".into(),
            subject: commit_subject(b"k", &format!("acct{i}")),
            scopes: vec!["profile".into()],
            reason: "report-review".into(),
            reference: format!("report-{i}"),
        }
        .canonical()
    }

    #[test]
    fn roots_and_proofs_agree_with_rfc_9162() {
        let mut t = Tree::default();
        let mut leaves = Vec::new();
        for i in 0..70 {
            let e = entry(i);
            assert_eq!(record_hash(&e).0, leaf(&e), "leaf hash");
            t.append(&e).expect("append");
            leaves.push(e);
            let n = leaves.len() as u64;
            assert_eq!(t.root().expect("root").0, mth(&leaves), "root of {n}");
        }
        let n = t.size();
        let root = t.root().expect("root");
        for i in [0, 1, 31, 32, 63, 69] {
            let p = t.inclusion_proof(n, i).expect("inclusion");
            check_record(&p, n, root, i, record_hash(&leaves[i as usize])).expect("proof checks");
            assert!(check_record(&p, n, root, i, record_hash(b"forged")).is_err());
        }
        for old in [1, 2, 7, 32, 64, 69] {
            let p = t.consistency_proof(n, old).expect("consistency");
            check_tree(&p, n, root, old, t.root_at(old).expect("old root")).expect("consistent");
            assert!(check_tree(&p, n, root, old, record_hash(b"another history")).is_err());
        }
    }

    #[test]
    fn tiles_and_bundles() {
        let mut t = Tree::default();
        let entries: Vec<Vec<u8>> = (0..300).map(entry).collect();
        for e in &entries {
            t.append(e).expect("append");
        }
        let tile = Tile::new(8, 0, 0, 256, false);
        let bytes = t.hash_tile(&tile).expect("tile");
        assert_eq!(bytes.len(), 256 * 32);
        assert_eq!(&bytes[..32], &record_hash(&entries[0]).0);
        assert_eq!(tile.path(), "tile/8/0/000");
        let bundle = data_tile(&entries[..256]).expect("bundle");
        assert_eq!(parse_data_tile(&bundle).expect("parse"), entries[..256]);
        assert!(parse_data_tile(&bundle[..bundle.len() - 1]).is_err());
        let stored = Tree::from_stored(t.stored().to_vec(), t.size()).expect("from stored");
        assert_eq!(stored.root().expect("root"), t.root().expect("root"));
    }

    #[test]
    fn checkpoints_are_signed_and_checked() {
        let (skey, vkey) = generate_key("kinora.example/kinora/access-log");
        let mut t = Tree::default();
        t.append(&entry(1)).expect("append");
        let note = sign_checkpoint(&skey, "kinora.example/kinora/access-log", 1, t.root().expect("root")).expect("sign");
        let cp = open_checkpoint(&vkey, &note).expect("verifies");
        assert_eq!((cp.origin(), cp.size(), *cp.hash()), ("kinora.example/kinora/access-log", 1, t.root().expect("root")));
        let text = String::from_utf8(note.clone()).expect("utf8");
        let forged = text.replacen("\n1\n", "\n2\n", 1);
        assert!(open_checkpoint(&vkey, forged.as_bytes()).is_err(), "an edited checkpoint fails");
        let (_, other) = generate_key("kinora.example/kinora/access-log");
        assert!(open_checkpoint(&other, &note).is_err(), "another key fails");
    }

    #[test]
    fn entries_are_canonical() {
        let e = entry(3);
        assert_eq!(Entry::parse(&e).expect("parses").canonical(), e);
        let spaced = String::from_utf8(e.clone()).expect("utf8").replacen(",", ", ", 1);
        assert!(Entry::parse(spaced.as_bytes()).is_err());
        assert!(String::from_utf8(e).expect("utf8").starts_with("{\"v\":1,\"time\":"));
    }
}
