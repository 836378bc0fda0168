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

/// The most bytes one entry may take. An entry bundle stores each entry's length as
/// a uint16, so anything over 65,535 bytes could be appended but never served; the
/// bound here is far below that, and [`Entry::checked`] enforces it before any append.
pub const MAX_ENTRY_BYTES: usize = 4096;
/// The most characters of each free-text field.
pub const MAX_ACTOR_CHARS: usize = 64;
pub const MAX_REASON_CHARS: usize = 64;
pub const MAX_SCOPE_CHARS: usize = 32;
pub const MAX_SCOPES: usize = 16;
pub const MAX_REFERENCE_CHARS: usize = 512;
/// The roles an entry may name.
pub const ROLES: &[&str] = &["moderator", "admin", "legal"];

fn short_token(field: &str, s: &str, max: usize) -> Result<(), LogError> {
    let ok = !s.is_empty() && s.chars().count() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(LogError::Entry(format!("{field}: 1 to {max} characters of a-z, 0-9, '-', '_', '.'")))
    }
}

impl Entry {
    /// The canonical bytes: compact JSON with the fields in their fixed order.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The canonical bytes of an entry that may be appended: every field bounded and
    /// well-formed, and the whole no longer than [`MAX_ENTRY_BYTES`], so it can always
    /// be served in an entry bundle and read back by [`Entry::parse`].
    pub fn checked(&self) -> Result<Vec<u8>, LogError> {
        if self.v != 1 {
            return Err(LogError::Entry(format!("unknown version {}", self.v)));
        }
        let time_ok = self.time.len() == 24 && self.time.ends_with('Z') && self.time.bytes().all(|b| b.is_ascii_digit() || b"-:.TZ".contains(&b));
        if !time_ok {
            return Err(LogError::Entry("time: RFC 3339 UTC with milliseconds".into()));
        }
        short_token("actor", &self.actor, MAX_ACTOR_CHARS)?;
        if !ROLES.contains(&self.role.as_str()) {
            return Err(LogError::Entry(format!("role: one of {}", ROLES.join(", "))));
        }
        if self.subject.len() != 64 || !self.subject.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(LogError::Entry("subject: a 64-digit lowercase hex commitment".into()));
        }
        if self.scopes.is_empty() || self.scopes.len() > MAX_SCOPES {
            return Err(LogError::Entry(format!("scopes: 1 to {MAX_SCOPES}")));
        }
        for s in &self.scopes {
            short_token("scope", s, MAX_SCOPE_CHARS)?;
        }
        short_token("reason", &self.reason, MAX_REASON_CHARS)?;
        let r = &self.reference;
        if r.trim().is_empty() || r.chars().count() > MAX_REFERENCE_CHARS || r.chars().any(char::is_control) {
            return Err(LogError::Entry(format!("reference: 1 to {MAX_REFERENCE_CHARS} characters, no control characters")));
        }
        let bytes = self.canonical();
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(LogError::Entry(format!("{} bytes; an entry may take at most {MAX_ENTRY_BYTES}", bytes.len())));
        }
        Ok(bytes)
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
        indexes.iter().map(|i| self.hashes.get(usize::try_from(*i).unwrap_or(usize::MAX)).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)).collect()
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

    /// A hash tile's bytes (C2SP tlog-tiles: the concatenated hashes). The request
    /// must have been parsed against this tree's size (or a smaller one).
    pub fn hash_tile(&self, tile: &TileRequest) -> Result<Vec<u8>, LogError> {
        if tile.is_data() {
            return Err(LogError::Tlog("an entry bundle is not a hash tile".into()));
        }
        let span = 256u64.checked_pow(u32::from(tile.tile.level())).ok_or_else(|| LogError::Tlog("level".into()))?;
        if tile.end.checked_mul(span).is_none_or(|n| n > self.size) {
            return Err(LogError::Tlog("tile past the tree".into()));
        }
        tile.tile.read_data(self).map_err(tlog)
    }
}

/// The tile height this log serves (C2SP tlog-tiles: 8, 256 hashes a tile).
pub const TILE_HEIGHT: u8 = 8;
/// Longest tile path accepted (`entries/x…/…/NNN.p/WWW` for any 64-bit index fits).
const MAX_TILE_PATH: usize = 64;

/// A tile someone asked for, parsed from its C2SP path and checked against the size of
/// the tree it is asked of: every number in it is in range, so serving it cannot
/// overflow, and a tile past the tree is never built (a caller answers 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRequest {
    tile: Tile,
    /// The first and one-past-the-last index this tile holds at its level.
    start: u64,
    end: u64,
}

impl TileRequest {
    /// `path` as it follows `/log/tile/`: `<L>/<N>[.p/<W>]` (hashes) or
    /// `entries/<N>[.p/<W>]` (an entry bundle), against a tree of `tree_size`.
    pub fn parse(path: &str, tree_size: u64) -> Option<TileRequest> {
        if path.len() > MAX_TILE_PATH {
            return None;
        }
        // Parsed here, digit by digit: `Tile::from_path` panics on some paths (a
        // level of 64 or more, a width of 0), so it never sees untrusted text.
        let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let (level, is_data, rest) = match path.strip_prefix("entries/") {
            Some(rest) => (0u8, true, rest),
            None => {
                let (l, rest) = path.split_once('/')?;
                if l.len() != 1 || !digits(l) {
                    return None;
                }
                (l.parse::<u8>().ok()?, false, rest)
            }
        };
        let (index, width) = match rest.split_once(".p/") {
            Some((n, w)) if digits(w) && !w.starts_with('0') => (n, w.parse::<u32>().ok().filter(|w| (1..256).contains(w))?),
            Some(_) => return None,
            None => (rest, 256),
        };
        let groups: Vec<&str> = index.split('/').collect();
        if groups.len() > 7 {
            return None;
        }
        let mut n = 0u64;
        for (i, g) in groups.iter().enumerate() {
            let g = if i + 1 < groups.len() { g.strip_prefix('x')? } else { g };
            if g.len() != 3 || !digits(g) {
                return None;
            }
            n = n.checked_mul(1000)?.checked_add(g.parse::<u64>().ok()?)?;
        }
        if level > 7 {
            return None;
        }
        let tile = Tile::new(TILE_HEIGHT, level, n, width, is_data);
        // One spelling per tile (no leading `x000/`).
        let canonical = if is_data { format!("tile/{TILE_HEIGHT}/data/{rest}") } else { format!("tile/{TILE_HEIGHT}/{path}") };
        if tile.path() != canonical {
            return None;
        }
        Self::from_tile(tile, tree_size)
    }

    /// A tile built by the caller, with the same checks as [`TileRequest::parse`].
    pub fn from_tile(tile: Tile, tree_size: u64) -> Option<TileRequest> {
        // A tree of at most 2^64 entries has hash tiles up to level 7 only; data tiles
        // are level 0.
        if tile.height() != TILE_HEIGHT || tile.level() > 7 || tile.width() == 0 || tile.width() > 256 {
            return None;
        }
        let start = tile.level_index().checked_mul(256)?;
        let end = start.checked_add(u64::from(tile.width()))?;
        // A level-L hash covers 256^L entries.
        let span = 256u64.checked_pow(u32::from(tile.level()))?;
        if end.checked_mul(span)? > tree_size {
            return None;
        }
        Some(TileRequest { tile, start, end })
    }

    pub fn is_data(&self) -> bool {
        self.tile.is_data()
    }

    /// A partial tile (`.p/<W>`) grows as the log does; a full one never changes.
    pub fn is_partial(&self) -> bool {
        self.tile.width() < 256
    }

    /// The entries an entry bundle holds (`start..end`).
    pub fn entries(&self) -> std::ops::Range<u64> {
        self.start..self.end
    }

    /// The C2SP path after `tile/`, as parsed.
    pub fn path(&self) -> String {
        let p = self.tile.path();
        let rest = p.strip_prefix("tile/8/").unwrap_or(&p);
        match rest.strip_prefix("data/") {
            Some(n) => format!("entries/{n}"),
            None => rest.to_owned(),
        }
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
        let truncated = || LogError::Entry("truncated bundle".into());
        let (len, rest) = bytes.split_first_chunk::<2>().ok_or_else(truncated)?;
        let n = usize::from(u16::from_be_bytes(*len));
        let (entry, rest) = rest.split_at_checked(n).ok_or_else(truncated)?;
        out.push(entry.to_vec());
        bytes = rest;
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
        let tile = TileRequest::parse("0/000", t.size()).expect("in the tree");
        let bytes = t.hash_tile(&tile).expect("tile");
        assert_eq!(bytes.len(), 256 * 32);
        assert_eq!(&bytes[..32], &record_hash(&entries[0]).0);
        assert_eq!(tile.path(), "0/000");
        let partial = TileRequest::parse("0/001.p/44", t.size()).expect("partial");
        assert_eq!(t.hash_tile(&partial).expect("tile").len(), 44 * 32);
        assert!(TileRequest::parse("0/001.p/45", t.size()).is_none(), "past the tree");
        assert!(TileRequest::parse("1/000.p/1", t.size()).is_some());
        assert!(TileRequest::parse("1/000.p/2", t.size()).is_none());
        assert_eq!(TileRequest::parse("entries/001.p/44", t.size()).expect("bundle").entries(), 256..300);
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

    /// Tile numbers overflow: huge indexes, levels and widths are refused, never
    /// computed with; random paths never panic, and what parses serves exactly
    /// `width` hashes from inside the tree.
    #[test]
    fn tile_numbers_overflow_and_random_paths_never_panic() {
        let mut t = Tree::default();
        for i in 0..600 {
            t.append(&entry(i)).expect("append");
        }
        for p in [
            "entries/x072/x057/x594/x037/x927/936",
            "x072/x057/x594/x037/x927/936",
            "7/x072/x057/x594/x037/x927/936",
            "entries/x018/x446/x744/x073/x709/x551/616.p/255",
            "entries/x018/x446/x744/x073/x709/x551/615",
            "40/000",
            "255/000",
            "0/000.p/0",
            "0/000.p/256",
            "0/003",
            "entries/002.p/89",
            "entries/-1",
            "entries/",
            "255/000",
            "64/000",
            "8/000",
            "entries/000.p/0",
            "entries/000.p/00",
            "0/x000/001",
            "0/1",
            "0/0001",
            "",
        ] {
            assert!(TileRequest::parse(p, t.size()).is_none(), "{p:?} parsed");
        }
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let parts = [
            "entries", "0", "1", "2", "7", "8", "255", "000", "001", "002", "x000", "x072", "x999", "936", "088.p", "001.p", "000.p", "44", "0", "255", "256",
            "-1", "", "..",
        ];
        let mut served = 0;
        for _ in 0..200_000 {
            let n = rng.gen_range(1..8);
            let mut p: Vec<String> = (0..n).map(|_| parts[rng.gen_range(0..parts.len())].to_owned()).collect();
            if rng.gen_bool(0.3) {
                p.push(rng.gen::<u64>().to_string());
            }
            let path = p.join("/");
            let Some(tile) = TileRequest::parse(&path, t.size()) else { continue };
            served += 1;
            if tile.is_data() {
                let r = tile.entries();
                assert!(r.end <= t.size() && r.start < r.end, "{path}");
            } else {
                let bytes = t.hash_tile(&tile).expect("a parsed tile is served");
                assert_eq!(bytes.len() % 32, 0);
                assert!(!bytes.is_empty() && bytes.len() <= 256 * 32, "{path}");
            }
        }
        assert!(served > 100, "the random paths reached the tree {served} times");
    }

    /// The largest entry the checks allow still fits an entry bundle and parses back;
    /// every field over its bound is refused.
    #[test]
    fn the_largest_allowed_entry_fits_a_tile_and_oversized_fields_are_refused() {
        // Four-byte characters in every free-text field: the most bytes per character.
        let big = Entry {
            v: 1,
            time: "2026-11-29T00:00:00.000Z".into(),
            actor: "a".repeat(MAX_ACTOR_CHARS),
            role: "moderator".into(),
            subject: commit_subject(b"k", "x"),
            scopes: (0..MAX_SCOPES).map(|i| format!("{i:0>32}")).collect(),
            reason: "r".repeat(MAX_REASON_CHARS),
            reference: "\u{1F600}".repeat(MAX_REFERENCE_CHARS),
        };
        let bytes = big.checked().expect("the largest allowed entry is allowed");
        assert!(bytes.len() <= MAX_ENTRY_BYTES);
        let bundle = data_tile(std::slice::from_ref(&bytes)).expect("fits a bundle");
        assert_eq!(parse_data_tile(&bundle).expect("parses"), vec![bytes.clone()]);
        assert_eq!(Entry::parse(&bytes).expect("parses"), big);
        // Escaped characters take six bytes each: the total bound still holds.
        let escaped = Entry { reference: "\"".repeat(MAX_REFERENCE_CHARS), ..big.clone() };
        assert!(escaped.checked().map(|b| b.len() <= MAX_ENTRY_BYTES).unwrap_or(true));
        let over = |e: Entry| assert!(e.checked().is_err(), "{e:?} was allowed");
        over(Entry { reference: "x".repeat(MAX_REFERENCE_CHARS + 1), ..big.clone() });
        over(Entry { reference: "x".repeat(70_000), ..big.clone() });
        over(Entry { reference: "a\nb".into(), ..big.clone() });
        over(Entry { reference: " ".into(), ..big.clone() });
        over(Entry { actor: "a".repeat(MAX_ACTOR_CHARS + 1), ..big.clone() });
        over(Entry { actor: "a b".into(), ..big.clone() });
        over(Entry { role: "root".into(), ..big.clone() });
        over(Entry { subject: "alice".into(), ..big.clone() });
        over(Entry { scopes: vec![], ..big.clone() });
        over(Entry { scopes: (0..=MAX_SCOPES).map(|i| i.to_string()).collect(), ..big.clone() });
        over(Entry { reason: "r".repeat(MAX_REASON_CHARS + 1), ..big.clone() });
        over(Entry { time: "yesterday".into(), ..big });
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
