//! Transparency-log use cases: sign a checkpoint, check an inclusion or consistency proof
//! against a tree head (no ledger needed), and cosign a checkpoint as a witness.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys::{self, Signer};
use crate::ledger::tlog::{self, Issued};
use crate::ledger::Recorder;
use crate::merkle::{ConsistencyProof, Hash, InclusionProof};
use crate::note::{self, SignerKey, VerifierKey};

/// Read a small file (a note, a proof, a key): at most 1 MiB.
pub(crate) fn read_small(path: &Path, what: &str) -> Result<Vec<u8>> {
    crate::fsutil::read_bounded(path, note::MAX_NOTE as u64, what)
}

/// Verifier keys from a key file or string: a note verifier key (`name+hash+base64`) or a
/// `PATH.pub` (hex), which stands for every signature line of `note_bytes` whose key hash fits.
pub fn verifiers_from(spec: &str, note_bytes: &[u8]) -> Result<Vec<VerifierKey>> {
    let p = Path::new(spec);
    // Anything that exists at that path is a file to read (a FIFO is refused there, not
    // taken for a key string).
    let text = if p.exists() {
        String::from_utf8_lossy(&read_small(p, "key")?).into_owned()
    } else {
        spec.to_string()
    };
    let text = text.trim();
    if text.contains('+') {
        return Ok(vec![VerifierKey::parse(text)?]);
    }
    let vk = keys::parse_public_hex(text)
        .map_err(|e| Error::malformed(spec, format!("not a verifier key nor a public key: {e}")))?;
    let n = note::parse(note_bytes)?;
    Ok(note::verifiers_for_public(&n, &vk))
}

/// Sign a checkpoint of the whole ledger now (`DIR/checkpoints/<size>` and `DIR/checkpoint`).
pub fn checkpoint(rec: &Recorder<'_>) -> Result<Issued> {
    rec.checkpoint()
}

/// A tree head a proof is checked against.
#[derive(Debug, Clone)]
pub enum TreeHead {
    /// A signed checkpoint file and the key that must have signed it.
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// `.pub` path, note verifier key, or a file holding one.
        pubkey: String,
    },
    /// A bare tree head.
    Bare {
        /// Tree size; for an old head, `None` takes the proof's own old size.
        size: Option<u64>,
        /// Root hash.
        root: Hash,
    },
}

/// A proof to check.
#[derive(Debug, Clone)]
pub struct ProofRequest {
    /// The proof file (JSON from `ledger prove`).
    pub proof: PathBuf,
    /// The (new) tree head.
    pub head: TreeHead,
    /// The old tree head, for consistency proofs.
    pub old_head: Option<TreeHead>,
    /// For inclusion proofs: the leaf hash the proof must be for.
    pub leaf: Option<Hash>,
}

/// What was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// Leaf `leaf_index` is in the tree of `tree_size` with `root`.
    Inclusion {
        /// The leaf.
        leaf_index: u64,
        /// The tree size.
        tree_size: u64,
        /// The root.
        root: Hash,
    },
    /// The tree of `new_size` extends the tree of `old_size`.
    Consistency {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
        /// Old root.
        old_root: Hash,
        /// New root.
        root: Hash,
    },
}

fn open_head(head: &TreeHead, default_size: Option<u64>) -> Result<(u64, Hash)> {
    match head {
        TreeHead::Checkpoint { path, pubkey } => {
            let bytes = read_small(path, "checkpoint")?;
            let known = verifiers_from(pubkey, &bytes)?;
            let signed = tlog::open_checkpoint(&bytes, &known, path)?;
            let c: &Checkpoint = signed.checkpoint();
            Ok((c.size, c.root))
        }
        TreeHead::Bare { size, root } => {
            let size = size
                .or(default_size)
                .ok_or_else(|| Error::invalid("size", "a bare tree head needs its size"))?;
            Ok((size, *root))
        }
    }
}

fn failed(file: &Path, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify_file(file, code, reason)
}

/// Check a proof against its tree head(s). Needs no ledger. A proof that does not hold is
/// [`Error::Verify`] naming the proof file.
pub fn verify_proof(req: &ProofRequest) -> Result<Proven> {
    let file = &req.proof;
    let raw = read_small(file, "proof")?;
    let v: Value = serde_json::from_slice(&raw)
        .map_err(|e| Error::malformed(file.display().to_string(), format!("invalid JSON: {e}")))?;
    let (size, root) = open_head(&req.head, None)?;
    if v.get("leaf_index").is_some() {
        let p: InclusionProof = serde_json::from_value(v).map_err(|e| {
            Error::malformed(
                file.display().to_string(),
                format!("not an inclusion proof: {e}"),
            )
        })?;
        if req.leaf.is_some_and(|want| want != p.leaf_hash) {
            return Err(failed(
                file,
                "wrong-leaf",
                "the proof is for a different leaf hash than the one expected",
            ));
        }
        if p.tree_size != size {
            return Err(failed(
                file,
                "wrong-size",
                format!(
                    "the proof is for tree size {}, the tree head has size {size}",
                    p.tree_size
                ),
            ));
        }
        p.verify(&root)
            .map_err(|e| failed(file, "bad-proof", e.to_string()))?;
        Ok(Proven::Inclusion {
            leaf_index: p.leaf_index,
            tree_size: size,
            root,
        })
    } else if v.get("old_size").is_some() {
        let p: ConsistencyProof = serde_json::from_value(v).map_err(|e| {
            Error::malformed(
                file.display().to_string(),
                format!("not a consistency proof: {e}"),
            )
        })?;
        let old = req.old_head.as_ref().ok_or_else(|| {
            Error::invalid("old_head", "a consistency proof needs the old tree head")
        })?;
        let (old_size, old_root) = open_head(old, Some(p.old_size))?;
        if p.old_size != old_size || p.new_size != size {
            return Err(failed(
                file,
                "wrong-size",
                format!(
                    "the proof is from size {} to {}, the tree heads are {old_size} and {size}",
                    p.old_size, p.new_size
                ),
            ));
        }
        p.verify(&old_root, &root)
            .map_err(|e| failed(file, "bad-proof", e.to_string()))?;
        Ok(Proven::Consistency {
            old_size,
            new_size: size,
            old_root,
            root,
        })
    } else {
        Err(Error::malformed(
            file.display().to_string(),
            "neither an inclusion nor a consistency proof",
        ))
    }
}

/// The witness's key from a file: a PKCS#8 PEM private key (named `name`, default its key
/// id) or a note signer key (`PRIVATE+KEY+name+hash+base64`).
pub fn witness_key(path: &Path, name: Option<&str>) -> Result<SignerKey> {
    let head = read_small(path, "witness key")?;
    if head.starts_with(b"PRIVATE+KEY+") {
        let text = String::from_utf8(head)
            .map_err(|_| Error::malformed(path.display().to_string(), "not UTF-8"))?;
        return SignerKey::parse(&text);
    }
    let s = Signer::load(path)?;
    let name = name
        .map(str::to_string)
        .unwrap_or_else(|| s.id().to_string());
    SignerKey::new(&name, s.signing_key().clone())
}

/// A checkpoint to cosign.
#[derive(Debug, Clone)]
pub struct CosignRequest {
    /// The checkpoint (signed note).
    pub checkpoint: PathBuf,
    /// Witness state directory (the last checkpoint cosigned per origin).
    pub state: PathBuf,
    /// Consistency proof from the last cosigned tree to this one.
    pub proof: Option<PathBuf>,
    /// The log's keys.
    pub log_keys: Vec<VerifierKey>,
    /// Also write the cosigned note here (atomically).
    pub out: Option<PathBuf>,
}

/// Cosign a checkpoint if it extends the last one cosigned for its origin; returns the
/// cosigned note. Smaller trees and forks are refused ([`Error::Verify`]).
pub fn cosign(req: &CosignRequest, witness: &SignerKey) -> Result<String> {
    let bytes = read_small(&req.checkpoint, "checkpoint")?;
    let proof: Option<ConsistencyProof> = match &req.proof {
        Some(p) => Some(
            serde_json::from_slice(&read_small(p, "proof")?).map_err(|e| {
                Error::malformed(
                    p.display().to_string(),
                    format!("not a consistency proof: {e}"),
                )
            })?,
        ),
        None => None,
    };
    let cosigned = tlog::witness_cosign(
        &bytes,
        &req.checkpoint,
        &req.log_keys,
        witness,
        &req.state,
        proof.as_ref(),
    )?;
    if let Some(out) = &req.out {
        crate::fsutil::write_atomic(out, cosigned.as_bytes())?;
    }
    Ok(cosigned)
}

/// The log keys for cosigning: from `spec` (a note verifier key, a file holding one, or a
/// `.pub`), checked against the checkpoint's signature lines.
pub fn log_keys_from(spec: &str, checkpoint: &Path) -> Result<Vec<VerifierKey>> {
    let bytes = read_small(checkpoint, "checkpoint")?;
    verifiers_from(spec, &bytes)
}
