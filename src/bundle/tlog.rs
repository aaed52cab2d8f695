//! The bundle's view of the transparency log: a signed checkpoint of the ledger and inclusion
//! proofs of the release's entries (DESIGN §3).
//!
//! # Formats
//!
//! * `checkpoint`: a C2SP tlog-checkpoint body — origin line, tree size in decimal, base64 root
//!   hash, each ending in `\n` — followed by a blank line and one C2SP signed-note signature
//!   line `— <name> <base64(key hash ‖ Ed25519 signature)>\n`, where the key hash is
//!   SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4] and the signature covers the body.
//! * `proofs/inclusion-<seq>.json`: canonical JSON and `\n`,
//!   `{"hashes":["<hex>",...],"leaf_hash":"<hex>","leaf_index":n,"tree_size":N}`: the RFC 9162
//!   §2.1.3 inclusion proof of leaf `n` in the tree of size `N` named by the checkpoint.
//! * `entries.jsonl`: the ledger lines of those entries, byte for byte; each line's `hash` is
//!   the proof's `leaf_hash`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::keys::{self, Signer};

/// An RFC 9162 inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// Index of the leaf (= seq).
    pub leaf_index: u64,
    /// Size of the tree.
    pub tree_size: u64,
    /// The leaf hash.
    pub leaf_hash: [u8; 32],
    /// Audit path, leaf to root.
    pub hashes: Vec<[u8; 32]>,
}

fn node(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn split(n: usize) -> usize {
    // Largest power of two strictly below n (n >= 2).
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// RFC 9162 Merkle tree hash of `leaves` (SHA-256 of nothing for an empty tree).
pub fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            let k = split(leaves.len());
            node(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

fn path(index: usize, leaves: &[[u8; 32]], out: &mut Vec<[u8; 32]>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    if index < k {
        path(index, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(index - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The inclusion proof of leaf `index` in the tree of `leaves`.
pub fn prove(index: usize, leaves: &[[u8; 32]]) -> Option<Inclusion> {
    let leaf_hash = *leaves.get(index)?;
    let mut hashes = Vec::new();
    path(index, leaves, &mut hashes);
    Some(Inclusion {
        leaf_index: index as u64,
        tree_size: leaves.len() as u64,
        leaf_hash,
        hashes,
    })
}

/// RFC 9162 §2.1.3.2: true when `p` proves its leaf into a tree of `p.tree_size` with `root`.
pub fn verify_inclusion(p: &Inclusion, root: &[u8; 32]) -> bool {
    if p.leaf_index >= p.tree_size {
        return false;
    }
    let (mut f_n, mut s_n) = (p.leaf_index, p.tree_size - 1);
    let mut r = p.leaf_hash;
    for h in &p.hashes {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node(h, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node(&r, h);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

impl Inclusion {
    /// Canonical JSON bytes and `\n`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let v = json!({"leaf_index": self.leaf_index, "tree_size": self.tree_size, "leaf_hash": hex::encode(self.leaf_hash),
                       "hashes": self.hashes.iter().map(hex::encode).collect::<Vec<_>>()});
        let mut out = crate::canonical::encode(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parse [`Inclusion::to_bytes`] output; refuses any other spelling.
    pub fn parse(bytes: &[u8]) -> Result<Inclusion, String> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let h32 = |s: Option<&str>, what: &str| -> Result<[u8; 32], String> {
            let mut out = [0u8; 32];
            hex::decode_to_slice(s.ok_or(format!("{what}: expected hex"))?, &mut out)
                .map_err(|_| format!("{what}: expected 64 hex"))?;
            Ok(out)
        };
        let p = Inclusion {
            leaf_index: v
                .get("leaf_index")
                .and_then(Value::as_u64)
                .ok_or("leaf_index: expected an integer")?,
            tree_size: v
                .get("tree_size")
                .and_then(Value::as_u64)
                .ok_or("tree_size: expected an integer")?,
            leaf_hash: h32(v.get("leaf_hash").and_then(Value::as_str), "leaf_hash")?,
            hashes: v
                .get("hashes")
                .and_then(Value::as_array)
                .ok_or("hashes: expected an array")?
                .iter()
                .take(64)
                .map(|h| h32(h.as_str(), "hashes[]"))
                .collect::<Result<_, _>>()?,
        };
        if p.to_bytes() != bytes {
            return Err("not in canonical form".into());
        }
        Ok(p)
    }
}

/// C2SP key hash of an Ed25519 key named `name`.
pub fn key_hash(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(public.as_bytes());
    let d: [u8; 32] = h.finalize().into();
    [d[0], d[1], d[2], d[3]]
}

/// A signed checkpoint note for `origin`, `size`, `root`, signed by `signer` as `name`.
pub fn sign_checkpoint(
    origin: &str,
    size: u64,
    root: &[u8; 32],
    name: &str,
    signer: &Signer,
) -> Vec<u8> {
    let body = format!("{origin}\n{size}\n{}\n", B64.encode(root));
    let mut blob = key_hash(name, &signer.public()).to_vec();
    blob.extend_from_slice(&signer.sign(body.as_bytes()));
    format!("{body}\n\u{2014} {name} {}\n", B64.encode(blob)).into_bytes()
}

/// A checkpoint whose signature by the given key was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// Name on the verified signature line.
    pub name: String,
}

/// Parse a checkpoint note and verify that one of its signatures is by `public`. Extension
/// lines and other signers' lines are allowed; at most 100 signature lines.
pub fn verify_checkpoint(note: &[u8], public: &VerifyingKey) -> Result<Checkpoint, String> {
    let text = std::str::from_utf8(note).map_err(|_| "not UTF-8")?;
    if note.len() > 1 << 20 {
        return Err("larger than 1 MiB".into());
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err("contains control characters".into());
    }
    let (body, sigs) = text
        .split_once("\n\n")
        .ok_or("no blank line before the signatures")?;
    let body = format!("{body}\n");
    if !sigs.ends_with('\n') {
        return Err("last signature line does not end in a newline".into());
    }
    let mut found = None;
    for (i, line) in sigs.split_terminator('\n').enumerate() {
        if i >= 100 {
            return Err("more than 100 signatures".into());
        }
        let rest = line.strip_prefix("\u{2014} ").ok_or(format!(
            "signature line {}: expected `— name signature`",
            i + 1
        ))?;
        let (name, b64) = rest.split_once(' ').ok_or(format!(
            "signature line {}: expected `— name signature`",
            i + 1
        ))?;
        if name.is_empty() || name.contains('+') || b64.contains(' ') {
            return Err(format!("signature line {}: bad key name", i + 1));
        }
        let blob = B64
            .decode(b64)
            .map_err(|_| format!("signature line {}: bad base64", i + 1))?;
        if blob.len() < 5 {
            return Err(format!("signature line {}: too short", i + 1));
        }
        if blob[..4] == key_hash(name, public) && blob.len() == 68 {
            let mut sig = [0u8; 64];
            sig.copy_from_slice(&blob[4..]);
            if !keys::verify_strict(public, body.as_bytes(), &sig) {
                return Err(format!("signature line {} ({name}): bad signature", i + 1));
            }
            found = Some(name.to_string());
        }
    }
    let name = found.ok_or("no signature by the bundle's key")?;
    let mut lines = body.split_terminator('\n');
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or("no origin line")?
        .to_string();
    let size_s = lines.next().ok_or("no tree size line")?;
    let size: u64 = size_s
        .parse()
        .map_err(|_| "tree size: expected a decimal number")?;
    if size.to_string() != size_s {
        return Err("tree size: not in canonical decimal".into());
    }
    let root_s = lines.next().ok_or("no root hash line")?;
    let root: [u8; 32] = B64
        .decode(root_s)
        .ok()
        .and_then(|r| r.try_into().ok())
        .ok_or("root hash: expected base64 of 32 bytes")?;
    Ok(Checkpoint {
        origin,
        size,
        root,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| crate::ledger::entry::leaf_hash(&[i as u8]))
            .collect()
    }

    #[test]
    fn proofs_verify_for_every_leaf_and_size() {
        for n in 1..=17 {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = prove(i, &l).unwrap();
                assert!(verify_inclusion(&p, &r), "n={n} i={i}");
                assert_eq!(Inclusion::parse(&p.to_bytes()).unwrap(), p);
                let mut bad = p.clone();
                bad.tree_size += 1;
                assert!(!verify_inclusion(&bad, &r), "n={n} i={i}");
            }
        }
    }

    #[test]
    fn rfc6962_empty_root() {
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn checkpoint_round_trip() {
        let s = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]));
        let note = sign_checkpoint("example.org/log", 5, &[7u8; 32], "release", &s);
        let c = verify_checkpoint(&note, &s.public()).unwrap();
        assert_eq!((c.size, c.root, c.name.as_str()), (5, [7u8; 32], "release"));
        let mut bad = note.clone();
        bad[16] ^= 1;
        assert!(verify_checkpoint(&bad, &s.public()).is_err());
        let other = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[4u8; 32]));
        assert!(verify_checkpoint(&note, &other.public()).is_err());
    }
}
