//! The bundle's view of the transparency log: the signed checkpoint of the ledger and the
//! inclusion proofs of the release's entries (DESIGN §3), on top of [`crate::merkle`],
//! [`crate::note`] and [`crate::checkpoint`].
//!
//! # Formats
//!
//! * `checkpoint`: the C2SP signed note of a C2SP tlog-checkpoint, exactly as `ledger
//!   checkpoint` writes it (origin line, decimal tree size, base64 root, a blank line, then
//!   `— <name> <base64(key hash ‖ Ed25519 signature)>`); the bundle's key must have signed it.
//! * `proofs/inclusion-<seq>.json`: canonical JSON and `\n`,
//!   `{"hashes":["<hex>",...],"leaf_hash":"<hex>","leaf_index":n,"tree_size":N}` — the
//!   [`InclusionProof`] of DESIGN §3 with its keys sorted.
//! * `entries.jsonl`: the ledger lines of those entries, byte for byte; each line's `hash` is
//!   its proof's `leaf_hash`.

use ed25519_dalek::VerifyingKey;

use crate::checkpoint::Checkpoint as Body;
use crate::keys::Signer;
use crate::merkle::{self, InclusionProof, Leaves};
use crate::note::{self, SignerKey};

/// An inclusion proof as the bundle stores it.
pub type Inclusion = InclusionProof;

/// RFC 9162 Merkle tree hash of `leaves`.
pub fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    merkle::root(leaves)
}

/// The inclusion proof of leaf `index` in the tree of all `leaves`.
pub fn prove(index: u64, leaves: &[[u8; 32]]) -> crate::Result<Inclusion> {
    merkle::inclusion_proof(&mut Leaves(leaves), index, leaves.len() as u64)
}

/// Canonical JSON bytes of a proof, and `\n`.
pub fn proof_bytes(p: &Inclusion) -> crate::Result<Vec<u8>> {
    let v = serde_json::to_value(p).map_err(|e| crate::Error::internal(format!("proof: {e}")))?;
    crate::bundle::json_file(&v)
}

/// Parse proof bytes written by [`proof_bytes`]; any other spelling is refused.
pub fn parse_proof(bytes: &[u8]) -> Result<Inclusion, String> {
    let p: Inclusion =
        serde_json::from_slice(bytes).map_err(|e| format!("not an inclusion proof: {e}"))?;
    match proof_bytes(&p) {
        Ok(again) if again == bytes => Ok(p),
        _ => Err("not in canonical form (sorted keys, no whitespace, then a newline)".into()),
    }
}

/// A checkpoint note for `origin`, `size`, `root`, signed by `signer` under note name `name`.
pub fn sign_checkpoint(
    origin: &str,
    size: u64,
    root: &[u8; 32],
    name: &str,
    signer: &Signer,
) -> crate::Result<Vec<u8>> {
    let key = SignerKey::new(name, signer.signing_key().clone())?;
    let body = Body {
        origin: origin.to_string(),
        size,
        root: *root,
        extensions: Vec::new(),
    };
    Ok(body.sign(&key)?.into_bytes())
}

/// A checkpoint whose signature by the bundle's key was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin line.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// Note name under which the bundle's key signed.
    pub name: String,
}

/// Open a checkpoint note and require a valid signature by `public` (under any name whose key
/// hash matches). Other signatures (witnesses) may be present and are not checked here.
pub fn verify_checkpoint(bytes: &[u8], public: &VerifyingKey) -> Result<Checkpoint, String> {
    let parsed = note::parse(bytes).map_err(|e| e.to_string())?;
    let known = note::verifiers_for_public(&parsed, public);
    if known.is_empty() {
        return Err("no signature by the bundle's key".into());
    }
    let signed = crate::checkpoint::open(bytes, &known).map_err(|e| e.to_string())?;
    let name = signed
        .note()
        .verified()
        .first()
        .map(|v| v.name().to_string())
        .ok_or("no valid signature by the bundle's key")?;
    let cp = signed.checkpoint();
    Ok(Checkpoint {
        origin: cp.origin.clone(),
        size: cp.size,
        root: cp.root,
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
    fn proofs_round_trip_canonically() {
        let l = leaves(11);
        let r = root(&l);
        for i in 0..11 {
            let p = prove(i, &l).unwrap();
            let bytes = proof_bytes(&p).unwrap();
            assert!(bytes.starts_with(b"{\"hashes\":["));
            let q = parse_proof(&bytes).unwrap();
            assert!(q.verify(&r).is_ok());
            let pretty = serde_json::to_vec_pretty(&q).unwrap();
            assert!(parse_proof(&pretty).is_err());
        }
    }

    #[test]
    fn checkpoint_round_trip() {
        let s = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]));
        let note = sign_checkpoint("example.org/log", 5, &[7u8; 32], "release", &s).unwrap();
        let c = verify_checkpoint(&note, &s.public()).unwrap();
        assert_eq!((c.size, c.root, c.name.as_str()), (5, [7u8; 32], "release"));
        let mut bad = note.clone();
        bad[16] ^= 1;
        assert!(verify_checkpoint(&bad, &s.public()).is_err());
        let other = Signer::new(ed25519_dalek::SigningKey::from_bytes(&[4u8; 32]));
        assert!(verify_checkpoint(&note, &other.public()).is_err());
    }
}
