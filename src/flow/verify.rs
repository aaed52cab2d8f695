//! Verifying a ledger as a use case: the whole-ledger verification ([`crate::ledger::verify`]),
//! optionally against a trusted checkpoint obtained elsewhere (a bundle, a tag, a witness),
//! then the check of the derived `ledger.idx` against the verified leaves.

use std::path::{Path, PathBuf};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::flow::proof::{read_small, verifiers_from};
use crate::ledger::tlog::{self, WitnessConfig};
use crate::ledger::verify::{self, Options, Summary};
use crate::ledger::Ledger;
use crate::merkle::Hash;
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
    /// What happened to `ledger.idx` (rebuilt because it differed, or not checked), if
    /// anything worth telling.
    pub index_notice: Option<String>,
}

/// Verify the whole ledger; then check it against `checkpoint` if given. `progress` is
/// called with (bytes done, bytes total).
pub fn verify(
    ledger: &Ledger,
    opts: &Options,
    checkpoint: Option<&CheckpointCheck>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyOutcome> {
    let opts = Options {
        collect_leaves: true,
        ..opts.clone()
    };
    let summary = verify::verify(ledger, &opts, progress)?.into_inner();
    let against = checkpoint
        .map(|c| against_checkpoint(ledger, &summary.leaves, c))
        .transpose()?;
    // ledger.idx is derived and never trusted: compare every stored hash with the ledger's.
    // Best effort: a read-only copy of a ledger still verifies.
    let index_notice = match tlog::check_index(ledger, &summary.leaves) {
        Ok(m) => m,
        Err(e) => Some(format!("ledger.idx not checked: {e}")),
    };
    Ok(VerifyOutcome {
        summary,
        against,
        index_notice,
    })
}

/// Check verified `leaves` against a trusted checkpoint file.
fn against_checkpoint(ledger: &Ledger, leaves: &[Hash], c: &CheckpointCheck) -> Result<Against> {
    let file: &Path = &c.path;
    let bytes = read_small(file, "checkpoint")?;
    let mut known = tlog::log_verifiers(ledger.config());
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
