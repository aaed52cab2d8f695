//! Verifying a ledger as a use case: the whole-ledger verification ([`crate::ledger::verify`]);
//! then every checkpoint beside the ledger (`DIR/checkpoint`, `DIR/checkpoints/*`), which must
//! be signed by a key of the ledger's own key history and agree with the verified entries;
//! optionally a trusted checkpoint obtained elsewhere (a bundle, a tag, a witness); then the
//! check of the derived `ledger.idx` against the verified leaves.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::flow::proof::{read_small, verifiers_from};
use crate::ledger::tlog::{self, WitnessConfig};
use crate::ledger::verify::{self, Options, Summary};
use crate::ledger::view::{StateLocation, View, ViewOptions};
use crate::ledger::Ledger;
use crate::merkle::{Frontier, Hash};
use crate::note;

/// A trusted checkpoint the ledger must extend.
#[derive(Debug, Clone)]
pub struct CheckpointCheck {
    /// The checkpoint file (a signed note).
    pub path: PathBuf,
    /// An extra key for its signature: a `.pub` path, or a note verifier key (or a file
    /// holding one). The ledger's own trusted keys are always accepted.
    pub pubkey: Option<String>,
    /// Cosignatures by trusted witnesses required (default: the `[witness]` setting).
    pub witnesses: Option<usize>,
}

/// What the trusted checkpoint check found.
#[derive(Debug, Clone)]
pub struct Against {
    /// The checkpoint file.
    pub path: PathBuf,
    /// Its tree size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
    /// Valid cosignatures by trusted witnesses.
    pub witnesses: usize,
    /// The ledger's root now.
    pub ledger_root: Hash,
}

/// A successful verification.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    /// What the verifier saw.
    pub summary: Summary,
    /// The trusted checkpoint check, when one was asked for.
    pub against: Option<Against>,
    /// The checkpoints beside the ledger, all found signed and consistent with it.
    pub beside: Vec<Beside>,
    /// What happened to `ledger.idx` (rebuilt because it differed, or not checked), if
    /// anything worth telling.
    pub index_notice: Option<String>,
    /// The client state checked and advanced, if any.
    pub state_file: Option<PathBuf>,
    /// What the client state step wants said (a state recorded for the first time).
    pub state_notices: Vec<String>,
}

/// Verify the whole ledger; then check it against `checkpoint` if given. `progress` is
/// called with (bytes done, bytes total).
pub fn verify(
    ledger: &Ledger,
    opts: &Options,
    checkpoint: Option<&CheckpointCheck>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyOutcome> {
    let off = ViewOptions {
        state: StateLocation::Off,
        root_key: None,
    };
    verify_with(ledger, opts, checkpoint, &off, progress)
}

/// [`verify`], then the client state and pinned root key of `view`: the ledger must extend
/// the state recorded by an earlier run (rollback, fork → exit 1), and the state is advanced.
pub fn verify_with(
    ledger: &Ledger,
    opts: &Options,
    checkpoint: Option<&CheckpointCheck>,
    view: &ViewOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyOutcome> {
    let opts = Options {
        collect_leaves: true,
        ..opts.clone()
    };
    let summary = verify::verify(ledger, &opts, progress)?.into_inner();
    // The checkpoint asked for first: a failure then names the file the user gave.
    let against = checkpoint
        .map(|c| against_checkpoint(ledger, &summary.leaves, &summary.keys, c))
        .transpose()?;
    let beside = check_beside(ledger, &summary)?;
    let state = View::from_verified(ledger, view, &summary)?;
    // ledger.idx is derived and never trusted: compare every stored hash with the ledger's.
    // Best effort: a read-only copy of a ledger still verifies.
    let index_notice = match tlog::check_index(ledger, &summary.leaves) {
        Ok(m) => m,
        Err(e) => Some(format!("ledger.idx not checked: {e}")),
    };
    Ok(VerifyOutcome {
        summary,
        against,
        beside,
        index_notice,
        state_file: state.state_file,
        state_notices: state.notices,
    })
}

/// Check verified `leaves` against a trusted checkpoint file.
fn against_checkpoint(
    ledger: &Ledger,
    leaves: &[Hash],
    keys: &[verify::KeyState],
    c: &CheckpointCheck,
) -> Result<Against> {
    let file: &Path = &c.path;
    let bytes = read_small(file, "checkpoint")?;
    // The ledger's own key history, never config.toml's list: any key that may sign a tree
    // of the claimed size (checked again below against the size signed).
    let claimed = note::parse(&bytes)
        .and_then(|n| Checkpoint::parse(&n.text))
        .map(|cp| cp.size)
        .ok();
    let mut known: Vec<note::VerifierKey> = keys
        .iter()
        .filter(|k| claimed.is_none_or(|size| k.may_sign_tree(size)))
        .filter_map(|k| {
            note::VerifierKey::new(&tlog::note_name(ledger.config(), &k.id), k.public).ok()
        })
        .collect();
    if let Some(spec) = &c.pubkey {
        known.extend(verifiers_from(spec, &bytes)?);
    }
    // Name a different log before its signature: its key is not ours, so opening would only
    // say "no known signature". Failing either way, the unsigned origin is safe to report.
    if let Ok(body) = note::parse(&bytes).and_then(|n| Checkpoint::parse(&n.text)) {
        tlog::check_origin(ledger.config(), &body, file)?;
    }
    let signed = tlog::open_checkpoint(&bytes, &known, file)?;
    let (wkeys, wreq) = WitnessConfig::load(ledger.config())?;
    let required = c.witnesses.unwrap_or(wreq);
    let cosigned = tlog::count_witnesses(&bytes, &wkeys)?;
    if cosigned < required {
        return Err(Error::verify_file(
            file,
            "not-enough-witnesses",
            format!("{cosigned} valid cosignature(s) by trusted witnesses ([witness] keys in config.toml), {required} required"),
        ));
    }
    let cons = tlog::check_ledger_against(ledger.config(), leaves, signed.checkpoint(), file)?;
    Ok(Against {
        path: file.to_path_buf(),
        size: cons.checkpoint.size,
        root: cons.checkpoint.root,
        witnesses: cosigned,
        ledger_root: cons.ledger_root,
    })
}

/// A checkpoint file beside the ledger that plain verify found signed and consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beside {
    /// The file (`DIR/checkpoint` or `DIR/checkpoints/<size>`).
    pub path: PathBuf,
    /// Its tree size.
    pub size: u64,
}

/// Check every checkpoint beside the ledger (DESIGN §8): each must be a regular file holding a
/// checkpoint for this origin, signed by a key that the verified key history allows to sign a
/// tree of its size (added inside it, not revoked inside it), no larger than the ledger
/// (a larger one means entries were cut off) and with the root of the verified entries at its
/// size. `config.toml`'s key list plays no part. The roots at every size come from one pass
/// over the leaves. `checkpoints/<N>` must hold a tree of size N; write_atomic's leftover
/// temp files (`.tmp-*`) are skipped.
fn check_beside(ledger: &Ledger, summary: &Summary) -> Result<Vec<Beside>> {
    let dir = ledger.dir();
    let mut files = Vec::new();
    let latest = dir.join(tlog::CHECKPOINT_FILE);
    if std::fs::symlink_metadata(&latest).is_ok() {
        files.push((latest, None));
    }
    let cps = dir.join(tlog::CHECKPOINTS_DIR);
    match std::fs::read_dir(&cps) {
        Ok(rd) => {
            for e in rd {
                let e = e.map_err(|e| Error::io(&cps, e))?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".tmp-") {
                    continue;
                }
                files.push((e.path(), Some(name)));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&cps, e)),
    }
    let entries = summary.leaves.len() as u64;
    // Every signed append leaves a `checkpoints/<size>`: a long-lived ledger has many, so the
    // files are checked in parallel; the first failure in file order is the one reported.
    files.sort();
    let results: Vec<Result<(Beside, Hash)>> = files
        .into_par_iter()
        .map(|(path, name)| check_one(ledger, summary, entries, path, name))
        .collect();
    let mut checked = results.into_iter().collect::<Result<Vec<_>>>()?;
    checked.sort_by_key(|(b, _)| b.size);
    let mut frontier = Frontier::default();
    let mut leaves = summary.leaves.iter();
    for (b, root) in &checked {
        while frontier.size() < b.size {
            match leaves.next() {
                Some(l) => frontier.push(*l),
                None => break,
            }
        }
        if frontier.root() != *root {
            return Err(Error::verify_file(
                &b.path,
                "rewritten-history",
                format!(
                    "rewritten history: the first {} entries do not have this signed checkpoint's root (an entry was changed, inserted or removed)",
                    b.size
                ),
            ));
        }
    }
    Ok(checked.into_iter().map(|(b, _)| b).collect())
}

fn check_one(
    ledger: &Ledger,
    summary: &Summary,
    entries: u64,
    path: PathBuf,
    name: Option<String>,
) -> Result<(Beside, Hash)> {
    let config = ledger.config();
    let bytes = read_small(&path, "checkpoint")?;
    let n = note::parse(&bytes)
        .map_err(|e| Error::verify_file(&path, "bad-checkpoint", e.to_string()))?;
    let body = Checkpoint::parse(&n.text)
        .map_err(|e| Error::verify_file(&path, "bad-checkpoint", e.to_string()))?;
    tlog::check_origin(config, &body, &path)?;
    if let Some(name) = name {
        if name != body.size.to_string() {
            return Err(Error::verify_file(
                &path,
                "misnamed-checkpoint",
                format!("holds a checkpoint of size {}, not {name}", body.size),
            ));
        }
    }
    let verifiers: Vec<_> = summary
        .keys
        .iter()
        .filter(|k| k.may_sign_tree(body.size))
        .flat_map(|k| note::verifiers_for_public(&n, &k.public))
        .collect();
    if verifiers.is_empty() {
        return Err(Error::verify_file(
            &path,
            "untrusted-checkpoint-signer",
            format!(
                "no signature by a key the ledger's key history lets sign a tree of size {}",
                body.size
            ),
        ));
    }
    tlog::open_checkpoint(&bytes, &verifiers, &path)?;
    if body.size > entries {
        return Err(Error::verify_file(
                &path,
                "truncated",
                format!(
                    "ledger truncated below this signed checkpoint: it has {entries} entries, the checkpoint covers {}",
                    body.size
                ),
            ));
    }
    Ok((
        Beside {
            path,
            size: body.size,
        },
        body.root,
    ))
}
