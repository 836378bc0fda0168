//! Witnesses: C2SP tlog-cosignature (Ed25519 `cosignature/v1`, key type 0x04) and
//! the C2SP tlog-witness `add-checkpoint` request body.
//!
//! Written here rather than taken from a crate: `tlog_tiles` 0.2 and `signed_note`
//! 0.2 (the latest on crates.io) cover tlog-tiles, tlog-checkpoint and signed-note
//! but not cosignatures or the witness protocol. What this module builds on is
//! theirs: key IDs (`signed_note::key_id`) and consistency proofs
//! (`tlog_tiles::check_tree`). The tests cross-check against an independent
//! witness (PyPI `aics-witness`) in the server's end-to-end suite.

use crate::{Checkpoint, Hash, LogError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};

/// The signature type byte of Ed25519 checkpoint cosignatures.
pub const COSIGNATURE_TYPE: u8 = 0x04;
/// At most this many proof lines in an `add-checkpoint` body (tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;

fn err(s: impl Into<String>) -> LogError {
    LogError::Checkpoint(s.into())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut k = vec![COSIGNATURE_TYPE];
    k.extend_from_slice(public);
    signed_note::key_id(name, &k)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// The bytes a cosignature signs: the `cosignature/v1` header, the time, then the
/// checkpoint's text (origin, size, root hash, extension lines; each ending in `\n`).
pub fn cosignature_message(timestamp: u64, checkpoint_text: &[u8]) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(checkpoint_text);
    m
}

/// A witness's public key, from its verifier key `<name>+<key id hex>+<base64(0x04 || key)>`.
#[derive(Debug, Clone)]
pub struct WitnessKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl WitnessKey {
    pub fn parse(vkey: &str) -> Result<WitnessKey, LogError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("a witness key is <name>+<key id>+<base64 key>"));
        };
        if !valid_name(name) {
            return Err(err("a witness key's name has no spaces or pluses"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| err("a witness key's id is 8 hex digits"))?;
        let raw = B64.decode(b64).map_err(|_| err("a witness key's key is base64"))?;
        let (Some(&COSIGNATURE_TYPE), Ok(public)) = (raw.first(), <[u8; 32]>::try_from(raw.get(1..).unwrap_or_default())) else {
            return Err(err("a witness key is an Ed25519 cosignature key (type 0x04, 32 bytes)"));
        };
        let key = VerifyingKey::from_bytes(&public).map_err(|_| err("not an Ed25519 public key"))?;
        if key.is_weak() {
            return Err(err("a weak (small-order) Ed25519 key"));
        }
        if key_id(name, &public) != id {
            return Err(err("the witness key's id does not match its name and key"));
        }
        Ok(WitnessKey { name: name.to_owned(), id, key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key in note format.
    pub fn vkey(&self) -> String {
        let mut raw = vec![COSIGNATURE_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(raw))
    }

    /// Checks one note signature line (`— <name> <base64>`) as this witness's
    /// cosignature of `checkpoint_text`; returns its timestamp. Lines of other keys
    /// are `Ok(None)`.
    pub fn verify_line(&self, checkpoint_text: &[u8], line: &str) -> Result<Option<u64>, LogError> {
        let Some(rest) = line.trim_end_matches('\n').strip_prefix("\u{2014} ") else { return Err(err("a signature line starts with an em dash")) };
        let Some((name, b64)) = rest.split_once(' ') else { return Err(err("a signature line is: em dash, name, base64")) };
        let raw = B64.decode(b64).map_err(|_| err("a signature line's signature is base64"))?;
        let (Some(id), Some(body)) = (raw.get(..4), raw.get(4..)) else { return Ok(None) };
        if name != self.name || <[u8; 4]>::try_from(id).ok().map(u32::from_be_bytes) != Some(self.id) {
            return Ok(None);
        }
        let Ok(body) = <[u8; 72]>::try_from(body) else { return Err(err("a cosignature is a timestamp and an Ed25519 signature (72 bytes)")) };
        let mut t = [0u8; 8];
        t.copy_from_slice(&body[..8]);
        let timestamp = u64::from_be_bytes(t);
        let mut s = [0u8; 64];
        s.copy_from_slice(&body[8..]);
        let sig = ed25519_dalek::Signature::from_bytes(&s);
        self.key
            .verify(&cosignature_message(timestamp, checkpoint_text), &sig)
            .map_err(|_| err(format!("the cosignature of {} does not verify", self.name)))?;
        Ok(Some(timestamp))
    }
}

/// A witness's signing key (`kinora-audit witness`).
pub struct WitnessSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl WitnessSigner {
    /// A new key: (signer key `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>`, verifier key).
    pub fn generate(name: &str) -> Result<(String, String), LogError> {
        if !valid_name(name) {
            return Err(err("a witness name has no spaces or pluses"));
        }
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = key.verifying_key().to_bytes();
        let id = key_id(name, &public);
        let mut raw = vec![COSIGNATURE_TYPE];
        raw.extend_from_slice(&key.to_bytes());
        let skey = format!("PRIVATE+KEY+{name}+{id:08x}+{}", B64.encode(raw));
        let w = WitnessSigner::parse(&skey)?;
        Ok((skey, w.verifier().vkey()))
    }

    pub fn parse(skey: &str) -> Result<WitnessSigner, LogError> {
        let rest = skey.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(|| err("a witness signer key starts with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else { return Err(err("malformed witness signer key")) };
        let raw = B64.decode(b64).map_err(|_| err("malformed witness signer key"))?;
        let (Some(&COSIGNATURE_TYPE), Ok(seed)) = (raw.first(), <[u8; 32]>::try_from(raw.get(1..).unwrap_or_default())) else {
            return Err(err("a witness signer key is an Ed25519 seed of type 0x04"));
        };
        let key = SigningKey::from_bytes(&seed);
        let want = key_id(name, &key.verifying_key().to_bytes());
        if u32::from_str_radix(id, 16).ok() != Some(want) {
            return Err(err("the witness signer key's id does not match"));
        }
        Ok(WitnessSigner { name: name.to_owned(), id: want, key })
    }

    pub fn verifier(&self) -> WitnessKey {
        WitnessKey { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// A cosignature line (`— <name> <base64(key id || timestamp || signature)>\n`).
    pub fn cosign(&self, checkpoint_text: &[u8], timestamp: u64) -> String {
        let sig = self.key.sign(&cosignature_message(timestamp, checkpoint_text));
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}\n", self.name, B64.encode(raw))
    }
}

/// An `add-checkpoint` request: the size the witness last saw, a consistency proof
/// from it, and the new signed checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    pub note: Vec<u8>,
}

impl AddCheckpoint {
    /// The request body: `old <size>\n`, one base64 hash per line, a blank line, the note.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = format!("old {}\n", self.old).into_bytes();
        for h in &self.proof {
            b.extend_from_slice(B64.encode(h.0).as_bytes());
            b.push(b'\n');
        }
        b.push(b'\n');
        b.extend_from_slice(&self.note);
        b
    }

    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, LogError> {
        let text = std::str::from_utf8(body).map_err(|_| err("the body is not UTF-8"))?;
        let (head, note) = text.split_once("\n\n").ok_or_else(|| err("no blank line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0')))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| err("the first line is `old <size>`"))?;
        let mut proof = Vec::new();
        for l in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(err("more than 63 proof lines"));
            }
            let raw = B64.decode(l).map_err(|_| err("a proof line is a base64 hash"))?;
            proof.push(Hash(raw.try_into().map_err(|_| err("a proof hash is 32 bytes"))?));
        }
        Ok(AddCheckpoint { old, proof, note: note.as_bytes().to_vec() })
    }
}

/// The text of a signed note (everything before the blank line, with its final newline).
pub fn note_text(note: &[u8]) -> Result<&[u8], LogError> {
    let at = note.windows(2).position(|w| w == b"\n\n").ok_or_else(|| err("a note has a blank line before its signatures"))?;
    note.get(..=at).ok_or_else(|| err("a note has a blank line before its signatures"))
}

/// Whether `new` extends `old` (`tlog_tiles::check_tree`); `old` may be empty.
pub fn consistent(old: Option<&Checkpoint>, new: &Checkpoint, proof: &[Hash]) -> Result<(), LogError> {
    match old {
        None => Ok(()),
        Some(o) if o.size() > new.size() => Err(err(format!("the tree shrank from {} to {}", o.size(), new.size()))),
        Some(o) if o.size() == new.size() => {
            if o.hash() == new.hash() {
                Ok(())
            } else {
                Err(err(format!("two different trees of size {}: the log forked", o.size())))
            }
        }
        Some(o) if o.size() == 0 => Ok(()),
        Some(o) => crate::check_tree(&proof.to_vec(), new.size(), *new.hash(), o.size(), *o.hash())
            .map_err(|_| err(format!("the checkpoint of size {} is not consistent with the one of size {}", new.size(), o.size()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosignatures_sign_and_verify() {
        let (skey, vkey) = WitnessSigner::generate("witness.example/w1").unwrap();
        let w = WitnessSigner::parse(&skey).unwrap();
        let k = WitnessKey::parse(&vkey).unwrap();
        assert_eq!(k.vkey(), vkey);
        let text = b"example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = w.cosign(text, 1_700_000_000);
        assert_eq!(k.verify_line(text, &line).unwrap(), Some(1_700_000_000));
        // Another checkpoint, another time, or another key: no.
        assert!(k.verify_line(b"example.com/log\n6\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", &line).is_err());
        let (_, other) = WitnessSigner::generate("witness.example/w2").unwrap();
        assert_eq!(WitnessKey::parse(&other).unwrap().verify_line(text, &line).unwrap(), None);
        // A tampered key id is refused when parsing the key.
        let mut bad = vkey.clone();
        bad.replace_range(vkey.find('+').unwrap() + 1..vkey.find('+').unwrap() + 3, "zz");
        assert!(WitnessKey::parse(&bad).is_err());
    }

    #[test]
    fn add_checkpoint_bodies_round_trip() {
        let a = AddCheckpoint { old: 3, proof: vec![Hash([7; 32]), Hash([9; 32])], note: b"o\n4\nh\n\n\xe2\x80\x94 o sig\n".to_vec() };
        assert_eq!(AddCheckpoint::parse(&a.to_bytes()).unwrap(), a);
        for bad in [&b"old 01\n\nx"[..], b"old x\n\nx", b"old 1\nnot base64!\n\nx", b"old 1\nx"] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let many = format!("old 1\n{}\nnote\n", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64));
        assert!(AddCheckpoint::parse(many.as_bytes()).is_err());
    }
}
