//! Transparency-log operations on a ledger directory: signed checkpoints, inclusion and
//! consistency proofs from `ledger.idx`, checking a ledger against a trusted checkpoint, and
//! witness cosigning.
//!
//! # Files
//!
//! * `DIR/checkpoint`: the latest signed checkpoint (a [`crate::note`] whose text is a
//!   [`crate::checkpoint`] body with the origin of `config.toml`).
//! * `DIR/checkpoints/<size>`: every checkpoint issued, by tree size. Both written atomically.
//! * Witness state `STATE/<hex SHA-256(origin)>.checkpoint`: the last checkpoint the witness
//!   cosigned for that origin.
//!
//! # Names in notes
//!
//! A ledger key signs checkpoints under its `name` in `config.toml`, or the origin when it has
//! none. Before signing, the new tree is checked against the previous `DIR/checkpoint` (same
//! root at its size, read from the index): `ledger` never signs a tree that does not extend the
//! one it signed before.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::keys::history::KeyState;
use crate::keys::Signer;
use crate::ledger::index::Index;
use crate::ledger::store::{Ledger, Tail};
use crate::ledger::view::View;
use crate::merkle::{self, ConsistencyProof, Hash, InclusionProof};
use crate::note::{self, SignerKey, VerifierKey};

/// File name of the latest checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// Directory of every checkpoint issued.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// Note key name of the ledger key `key_id`: its `name` in config.toml, else the origin.
pub fn note_name(config: &Config, key_id: &str) -> String {
    config
        .keys
        .iter()
        .find(|k| k.id == key_id)
        .and_then(|k| k.name.clone())
        .unwrap_or_else(|| config.origin.clone())
}

/// The note signer for a ledger signing key.
pub fn note_signer(config: &Config, signer: &Signer) -> Result<SignerKey> {
    let name = note_name(config, signer.id());
    SignerKey::new(&name, signer.signing_key().clone()).map_err(|_| {
        Error::invalid(
            "name",
            format!(
                "key {}: note name {name:?} has a space or '+'; give the key a `name` in config.toml",
                signer.id()
            ),
        )
    })
}

/// Verifier keys of every key of a verified key history that is trusted now (not revoked) to
/// sign checkpoints (not a writer or git-signer key), under their note names. The keys come from the ledger's own `key` entries
/// ([`crate::ledger::view::View::keys`]), never from config.toml's list.
pub fn log_verifiers(config: &Config, keys: &[KeyState]) -> Vec<VerifierKey> {
    keys.iter()
        .filter(|k| k.revoked_at.is_none() && k.signs_entries())
        .filter_map(|k| VerifierKey::new(&note_name(config, &k.id), k.public).ok())
        .collect()
}

/// `[witness]` section of config.toml: trusted witness keys (note verifier keys) and how many
/// cosignatures `verify --checkpoint` requires by default.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Verifier keys, `name+hash+base64`.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Cosignatures required by default.
    #[serde(default)]
    pub required: usize,
}

impl WitnessConfig {
    /// Read `[witness]` and parse its keys.
    pub fn load(config: &Config) -> Result<(Vec<VerifierKey>, usize)> {
        let w: WitnessConfig = config.section("witness")?;
        let keys = w
            .keys
            .iter()
            .map(|k| {
                VerifierKey::parse(k).map_err(|e| {
                    Error::malformed_at("config.toml", None, Some("[witness] keys"), e.to_string())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((keys, w.required))
    }
}

/// A checkpoint just issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The body.
    pub checkpoint: Checkpoint,
    /// The signed note as written.
    pub note: String,
    /// Where it was written (`DIR/checkpoints/<size>`).
    pub path: PathBuf,
    /// Set when the index had to be rebuilt first.
    pub index_message: Option<String>,
}

fn verify_err(file: &Path, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify_file(file, code, reason)
}

/// Sign a checkpoint of the whole ledger and write `DIR/checkpoints/<size>` and
/// `DIR/checkpoint`. Called by the write path ([`crate::ledger::Recorder`]) under the append
/// lock, with the settings read under that lock and the lock's tail. Refuses (exit 1) when the
/// ledger does not extend the previous `DIR/checkpoint`.
pub(crate) fn write_checkpoint(
    ledger: &Ledger,
    config: &Config,
    view: &View,
    tail: &Tail,
    signer: &Signer,
    fresh: Option<Fresh<'_>>,
) -> Result<Issued> {
    // Only a key the ledger's own key history trusts may speak for it: anyone else's
    // checkpoint would be rejected by every verifier anyway, so refuse to write it.
    if !view
        .trusted(signer.id())
        .is_some_and(KeyState::signs_entries)
    {
        return Err(Error::untrusted(
            signer.id(),
            "not trusted by this ledger to sign checkpoints; they are signed by ledger keys (not writer or git-signer keys)",
        ));
    }
    let latest = ledger.dir().join(CHECKPOINT_FILE);
    let Previous {
        start: prev,
        other,
        mut notices,
    } = previous_checkpoint(&latest, config, &view.keys, signer)?;
    let (mut ix, index_message) = Index::sync(ledger, tail)?;
    notices.extend(index_message);
    // No signature over derived data (DESIGN §8): the root signed is recomputed from the
    // previous checkpoint this key signed and the entry lines after it, never read from
    // ledger.idx. The index only supplies positions and subtree hashes, each checked against
    // that signed root; if it fails a check it is rebuilt from ledger.jsonl and the root
    // computed again, and if the ledger itself fails, nothing is signed.
    let keys = &view.keys;
    let root = match checked_root(ledger, config, keys, &mut ix, tail, prev.as_ref(), fresh) {
        Ok(root) => root,
        Err(why) => {
            ix = rebuild_index(ledger, tail)?;
            notices.push(format!(
                "{}: {why}; rebuilt from the ledger ({} entries)",
                ledger
                    .dir()
                    .join(crate::ledger::index::INDEX_FILE)
                    .display(),
                ix.size()
            ));
            checked_root(ledger, config, keys, &mut ix, tail, prev.as_ref(), fresh).map_err(
                |why| {
                    verify_err(
                        &ledger.log_path(),
                        "unverifiable",
                        format!("refusing to sign a checkpoint: {why}"),
                    )
                },
            )?
        }
    };
    // The verified view computed the same root from the entries it checked under this lock.
    if view.size == tail.next_seq && view.root != root {
        return Err(verify_err(
            &ledger.log_path(),
            "unverifiable",
            "refusing to sign a checkpoint: the root recomputed from the ledger differs from the verified view's",
        ));
    }
    let cp = Checkpoint {
        origin: config.origin.clone(),
        size: tail.next_seq,
        root,
        extensions: Vec::new(),
    };
    // The file read once above: the new tree must extend it, whoever signed it.
    if let Some(prev) = prev.as_ref().or(other.as_ref()) {
        check_extends(&mut ix, prev, &latest)?;
    }
    let by_size = ledger.dir().join(CHECKPOINTS_DIR).join(cp.size.to_string());
    if let Some(prev) = read_body(&by_size)? {
        check_extends(&mut ix, &prev, &by_size)?;
    }
    let note = cp.sign(&note_signer(config, signer)?)?;
    let dir = ledger.dir().join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    fsutil::write_atomic(&by_size, note.as_bytes())?;
    fsutil::write_atomic(&latest, note.as_bytes())?;
    Ok(Issued {
        checkpoint: cp,
        note,
        path: by_size,
        index_message: (!notices.is_empty()).then(|| notices.join("; ")),
    })
}

/// `DIR/checkpoint` as the starting point of the next one: trusted only when its signature
/// checks under `signer`'s own key (the key about to sign). One signed by another key of
/// `config.toml` (revoked or not) is not used as a starting point (config.toml is not signed), so the tree is
/// computed from all of ledger.jsonl, and said so. A file with no valid signature by any of
/// those keys is evidence of tampering: refuse (exit 1) rather than sign past it.
/// What [`previous_checkpoint`] found in `DIR/checkpoint`.
#[derive(Default)]
struct Previous {
    /// Signed by the key about to sign: the starting point of the new root.
    start: Option<Checkpoint>,
    /// Signed by another listed key: not a starting point, but the new tree must extend it.
    other: Option<Checkpoint>,
    notices: Vec<String>,
}

fn previous_checkpoint(
    latest: &Path,
    config: &Config,
    keys: &[KeyState],
    signer: &Signer,
) -> Result<Previous> {
    let Some(bytes) = fsutil::read_bounded_if_exists(latest, note::MAX_NOTE as u64, "checkpoint")?
    else {
        return Ok(Previous::default());
    };
    let own = note::parse(&bytes)
        .map(|n| note::verifiers_for_public(&n, &signer.public()))
        .unwrap_or_default();
    if !own.is_empty() {
        if let Ok(signed) = checkpoint::open(&bytes, &own) {
            return Ok(Previous {
                start: Some(signed.checkpoint().clone()),
                ..Previous::default()
            });
        }
    }
    // Any key of the ledger's key history, revoked ones included: a checkpoint signed before
    // its key was revoked is no sign of tampering.
    let others: Vec<VerifierKey> = keys
        .iter()
        .filter_map(|k| VerifierKey::new(&note_name(config, &k.id), k.public).ok())
        .collect();
    match open_checkpoint(&bytes, &others, latest) {
        Ok(signed) => Ok(Previous {
            other: Some(signed.checkpoint().clone()),
            notices: vec![format!(
                "{}: signed by another key; the tree was computed from every line of the ledger",
                latest.display()
            )],
            ..Previous::default()
        }),
        Err(e) => Err(verify_err(
            latest,
            "bad-checkpoint-signature",
            format!("refusing to sign past a checkpoint no ledger key signed ({e}); check the ledger with `verify`, then remove or restore this file"),
        )),
    }
}

/// The entries this process has just written under the same lock: the tail before the write
/// and each new line's (offset, leaf hash). Their bytes were made and hashed here, so the
/// checkpoint after an append takes their leaves from memory instead of reading them back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fresh<'a> {
    pub before: &'a Tail,
    pub leaves: &'a [(u64, Hash)],
}

fn rebuild_index(ledger: &Ledger, tail: &Tail) -> Result<Index> {
    let path = ledger.dir().join(crate::ledger::index::INDEX_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    Ok(Index::sync(ledger, tail)?.0)
}

/// The root of the whole ledger from checked data only: the frontier of `prev` (subtree
/// hashes from the index, which must fold to `prev`'s signed root), then every entry line
/// after it, read from ledger.jsonl and parsed (canonical bytes, hash), each chaining to the
/// one before (the first to leaf `prev.size - 1`, proven included in `prev`'s root), signed by
/// a key of the settings where signed and signed where the settings require it, ending at the
/// tail read under the lock. The index must agree with the result. `Err` says what did not
/// hold.
fn checked_root(
    ledger: &Ledger,
    config: &Config,
    keys: &[KeyState],
    ix: &mut Index,
    tail: &Tail,
    prev: Option<&Checkpoint>,
    fresh: Option<Fresh<'_>>,
) -> std::result::Result<Hash, String> {
    use crate::ledger::entry::{Entry, ZERO_HASH};
    use crate::ledger::reader::{LineReader, RawLine};
    use crate::merkle::Frontier;
    let n = tail.next_seq;
    if ix.size() != n {
        return Err(format!("holds {} entries, the ledger {n}", ix.size()));
    }
    let prev = prev.filter(|cp| cp.size <= n);
    let (p, mut frontier, mut chain) = match prev {
        None => (0, Frontier::default(), ZERO_HASH),
        Some(cp) => {
            let hashes = Frontier::subtrees_of(cp.size)
                .into_iter()
                .map(|(level, i)| ix.subtree(level, i))
                .collect::<Result<Vec<Hash>>>()
                .map_err(|e| e.to_string())?;
            let f = Frontier::from_subtrees(cp.size, &hashes)
                .ok_or("subtree count does not fit the checkpoint size")?;
            if f.root() != cp.root {
                return Err(format!(
                    "rewritten history: the first {} entries do not have the root of the checkpoint this key signed",
                    cp.size
                ));
            }
            let last = if cp.size == 0 {
                ZERO_HASH
            } else {
                let proof =
                    merkle::inclusion_proof(ix, cp.size - 1, cp.size).map_err(|e| e.to_string())?;
                proof.verify(&cp.root).map_err(|e| {
                    format!("entry {} is not in the signed checkpoint: {e}", cp.size - 1)
                })?;
                proof.leaf_hash
            };
            (cp.size, f, last)
        }
    };
    // Lines up to `end` are read back and checked; the fresh ones after it come from memory.
    let fresh =
        fresh.filter(|f| f.before.next_seq >= p && f.before.next_seq + f.leaves.len() as u64 == n);
    let end = fresh.map_or(tail.len, |f| f.before.len);
    let mut seq = p;
    if p < n && fresh.is_none_or(|f| f.before.next_seq > p) {
        let offset = if p == 0 {
            0
        } else {
            ix.offset(p).map_err(|e| e.to_string())?
        };
        let path = ledger.log_path();
        let mut lines = LineReader::open_at(&path, offset, p, end).map_err(|e| e.to_string())?;
        while let Some(raw) = lines.next_line().map_err(|e| e.to_string())? {
            let RawLine::Line { bytes, number, .. } = raw else {
                return Err(format!("line {}: cannot be read", seq + 1));
            };
            let e =
                Entry::parse_line(&bytes).map_err(|e| format!("line {number}: {}", e.reason))?;
            if e.seq != seq || e.prev != chain {
                return Err(format!(
                    "line {number}: seq {} does not follow the entries before it",
                    e.seq
                ));
            }
            match (&e.signer, &e.sig) {
                (Some(id), Some(sig)) => {
                    let ok = keys.iter().find(|k| &k.id == id).is_some_and(|k| {
                        crate::keys::verify_strict(&k.public, &e.signing_message(), sig)
                    });
                    if !ok {
                        return Err(format!(
                            "line {number} (seq {}): signature by {id} does not verify",
                            e.seq
                        ));
                    }
                }
                _ if config.require_signatures => {
                    return Err(format!(
                        "line {number} (seq {}): unsigned, and this ledger requires signatures",
                        e.seq
                    ))
                }
                _ => {}
            }
            frontier.push(e.hash);
            chain = e.hash;
            seq += 1;
        }
    }
    if let Some(f) = fresh {
        if seq != f.before.next_seq || chain != f.before.prev {
            return Err(format!(
                "the entry lines after {p} do not end where this append began"
            ));
        }
        for (_, leaf) in f.leaves {
            frontier.push(*leaf);
            chain = *leaf;
            seq += 1;
        }
    }
    if seq != n || chain != tail.prev {
        return Err(format!(
            "the entry lines after {p} do not end at the ledger's last entry"
        ));
    }
    let root = frontier.root();
    if root != ix.root() {
        return Err("its root differs from the root of the checked entries".into());
    }
    Ok(root)
}

/// The body of a checkpoint file we wrote, if the file exists.
fn read_body(path: &Path) -> Result<Option<Checkpoint>> {
    let Some(bytes) = fsutil::read_bounded_if_exists(path, note::MAX_NOTE as u64, "checkpoint")?
    else {
        return Ok(None);
    };
    let file = path.display().to_string();
    let n = note::parse_named(&bytes, &file)?;
    Checkpoint::parse(&n.text)
        .map(Some)
        .map_err(|e| Error::malformed(file, e.to_string()))
}

fn check_extends(ix: &mut Index, prev: &Checkpoint, file: &Path) -> Result<()> {
    if prev.size > ix.size() {
        return Err(verify_err(
            file,
            "truncated",
            format!("refusing to sign: the ledger has {} entries, fewer than the {} of this checkpoint (truncated)", ix.size(), prev.size),
        ));
    }
    if merkle::root_from(ix, prev.size)? != prev.root {
        return Err(verify_err(
            file,
            "rewritten-history",
            format!("refusing to sign: the first {} entries no longer have this checkpoint's root (rewritten history)", prev.size),
        ));
    }
    Ok(())
}

/// Open the index in line with the ledger (under the lock: catching up writes the index).
pub fn open_index(ledger: &Ledger) -> Result<(Index, Option<String>)> {
    let locked = ledger.lock()?;
    Index::sync(ledger, &locked.tail())
}

/// Compare `ledger.idx` with a verified ledger's leaf hashes; rebuild it when it differs.
/// Returns a message when it was rebuilt.
pub fn check_index(ledger: &Ledger, leaves: &[Hash]) -> Result<Option<String>> {
    let locked = ledger.lock()?;
    let tail = locked.tail();
    if tail.next_seq != leaves.len() as u64 {
        // Appended to while verifying: nothing to compare against; the index syncs on use.
        return Ok(None);
    }
    let path = ledger.dir().join(crate::ledger::index::INDEX_FILE);
    let Some(why) = crate::ledger::index::compare(&path, leaves)? else {
        return Ok(None);
    };
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    let (ix, _) = Index::sync(ledger, &tail)?;
    Ok(Some(format!(
        "{}: {why}; rebuilt from the ledger ({} entries)",
        path.display(),
        ix.size()
    )))
}

/// Inclusion proof of entry `seq` in the tree of the first `size` entries (default: all).
pub fn prove_inclusion(
    ledger: &Ledger,
    seq: u64,
    size: Option<u64>,
) -> Result<(InclusionProof, Hash, Option<String>)> {
    let (mut ix, msg) = open_index(ledger)?;
    let size = size.unwrap_or(ix.size());
    if seq >= size || size > ix.size() {
        return Err(Error::NotFound(format!(
            "seq {seq} is not inside a tree of size {size} (the ledger has {} entries)",
            ix.size()
        )));
    }
    let p = merkle::inclusion_proof(&mut ix, seq, size)?;
    let root = merkle::root_from(&mut ix, size)?;
    Ok((p, root, msg))
}

/// Consistency proof from size `from` to size `to` (default: all), with both roots.
pub fn prove_consistency(
    ledger: &Ledger,
    from: u64,
    to: Option<u64>,
) -> Result<(ConsistencyProof, Hash, Hash, Option<String>)> {
    let (mut ix, msg) = open_index(ledger)?;
    let to = to.unwrap_or(ix.size());
    if from > to || to > ix.size() {
        return Err(Error::invalid(
            "size",
            format!(
                "sizes {from}..{to} do not fit a ledger of {} entries (need from <= to <= size)",
                ix.size()
            ),
        ));
    }
    let p = merkle::consistency_proof(&mut ix, from, to)?;
    let old = merkle::root_from(&mut ix, from)?;
    let new = merkle::root_from(&mut ix, to)?;
    Ok((p, old, new, msg))
}

/// Open a signed checkpoint file with `known` keys; failures are verification failures.
pub fn open_checkpoint(
    bytes: &[u8],
    known: &[VerifierKey],
    file: &Path,
) -> Result<checkpoint::SignedCheckpoint> {
    checkpoint::open(bytes, known).map_err(|e| {
        let code = match e {
            CheckpointError::Note(note::OpenError::Malformed(_)) | CheckpointError::Body(_) => {
                "bad-checkpoint"
            }
            _ => "bad-checkpoint-signature",
        };
        verify_err(file, code, e.to_string())
    })
}

/// Number of distinct `witnesses` whose cosignatures on `bytes` verify.
pub fn count_witnesses(bytes: &[u8], witnesses: &[VerifierKey]) -> Result<usize> {
    if witnesses.is_empty() {
        return Ok(0);
    }
    match note::open(bytes, witnesses) {
        Ok(o) => Ok(o.verified().len()),
        Err(note::OpenError::NoKnownSignature(_)) => Ok(0),
        Err(e) => Err(Error::malformed("witness signature", e.to_string())),
    }
}

/// What [`check_ledger_against`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consistent {
    /// The trusted checkpoint.
    pub checkpoint: Checkpoint,
    /// Entries in the ledger now.
    pub ledger_size: u64,
    /// Root of the whole ledger now.
    pub ledger_root: Hash,
}

/// Check a verified ledger (its leaf hashes, in order) against a trusted checkpoint: same
/// origin, at least as many entries, the same root at the checkpoint's size and a consistency
/// proof from it to the whole ledger. Failures name truncation, rewritten history or a
/// different log.
pub fn check_ledger_against(
    config: &Config,
    leaves: &[Hash],
    cp: &Checkpoint,
    file: &Path,
) -> Result<Consistent> {
    check_origin(config, cp, file)?;
    let n = leaves.len() as u64;
    if cp.size > n {
        return Err(verify_err(
            file,
            "truncated",
            format!("ledger truncated below the checkpoint: it has {n} entries, the checkpoint covers {}", cp.size),
        ));
    }
    let mut src = merkle::Leaves(leaves);
    let old = merkle::root_from(&mut src, cp.size)?;
    if old != cp.root {
        // A root alone cannot say which entry changed, only that the prefix is not the same.
        return Err(verify_err(
            file,
            "rewritten-history",
            format!(
                "rewritten history: the first {} entries do not have the checkpoint's root (an entry was changed, inserted or removed)",
                cp.size
            ),
        ));
    }
    let root = merkle::root(leaves);
    let proof = merkle::consistency_proof(&mut src, cp.size, n)?;
    proof.verify(&cp.root, &root).map_err(|e| {
        verify_err(
            file,
            "inconsistent",
            format!("consistency proof failed: {e}"),
        )
    })?;
    Ok(Consistent {
        checkpoint: cp.clone(),
        ledger_size: n,
        ledger_root: root,
    })
}

/// The checkpoint must be for this ledger's origin.
pub fn check_origin(config: &Config, cp: &Checkpoint, file: &Path) -> Result<()> {
    if cp.origin != config.origin {
        return Err(verify_err(
            file,
            "different-origin",
            format!(
                "checkpoint is for a different log: origin {:?}, this ledger is {:?}",
                cp.origin, config.origin
            ),
        ));
    }
    Ok(())
}

/// Witness state file for `origin`.
pub fn witness_state_path(state: &Path, origin: &str) -> PathBuf {
    let h = hex::encode(Sha256::digest(origin.as_bytes()));
    state.join(format!("{}.checkpoint", &h[..32]))
}

/// Cosign a checkpoint as a witness: open it with the log's keys, compare it with the last
/// checkpoint cosigned for its origin (kept in `state`), and add the witness's signature only
/// if the new tree extends that one (`proof` is the consistency proof between them, needed
/// when the tree grew). Refuses smaller trees and forks (exit 1). On success the state is
/// updated and the cosigned note returned.
pub fn witness_cosign(
    bytes: &[u8],
    file: &Path,
    log_keys: &[VerifierKey],
    witness: &SignerKey,
    state: &Path,
    proof: Option<&ConsistencyProof>,
) -> Result<String> {
    let signed = open_checkpoint(bytes, log_keys, file)?;
    let cp = signed.checkpoint();
    std::fs::create_dir_all(state).map_err(|e| Error::io(state, e))?;
    let state_file = witness_state_path(state, &cp.origin);
    if let Some(old) = read_body(&state_file)? {
        if old.origin != cp.origin {
            return Err(Error::Conflict(format!(
                "{}: holds origin {:?}, not {:?}",
                state_file.display(),
                old.origin,
                cp.origin
            )));
        }
        if cp.size < old.size {
            return Err(verify_err(
                file,
                "smaller-tree",
                format!("refusing to cosign: tree size {} is smaller than the {} already cosigned (truncated or rolled back)", cp.size, old.size),
            ));
        }
        if cp.size == old.size && cp.root != old.root {
            return Err(verify_err(
                file,
                "fork",
                format!("refusing to cosign: a different root for tree size {} than the one already cosigned (a fork)", cp.size),
            ));
        }
        if cp.size > old.size {
            let p = proof.ok_or_else(|| {
                Error::invalid(
                    "proof",
                    format!(
                        "the tree grew from {} to {}: a consistency proof from {} to {} is needed",
                        old.size, cp.size, old.size, cp.size
                    ),
                )
            })?;
            if p.old_size != old.size || p.new_size != cp.size {
                return Err(Error::invalid(
                    "proof",
                    format!(
                        "is from {} to {}, need {} to {}",
                        p.old_size, p.new_size, old.size, cp.size
                    ),
                ));
            }
            p.verify(&old.root, &cp.root).map_err(|e| {
                verify_err(
                    file,
                    "fork",
                    format!("refusing to cosign: not consistent with the tree of size {} already cosigned ({e}): rewritten history or a fork", old.size),
                )
            })?;
        }
    }
    let cosigned = note::add_signature(bytes, witness)?;
    fsutil::write_atomic(&state_file, cosigned.as_bytes())?;
    Ok(cosigned)
}
