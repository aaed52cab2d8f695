//! The rollback drill as a use case: resolve the target (a revision, or `last-good`: the
//! newest succeeded deploy of an env that no rollback undid), run the check in a temporary
//! worktree ([`crate::drill`]), save the report and record a `drill` entry.
//!
//! [`prepare`] does everything that can fail before the drill runs, so a bad request runs and
//! writes nothing; [`run`] then runs, saves and records ([`rehearse`] runs and saves, and leaves
//! the recording to its caller: `drill rollback --git` publishes the entry on a git ref).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::drill::{self, Outcome, Plan};
use crate::error::{Error, Result};
use crate::flow::Verdict;
use crate::ledger::{Draft, Entry, Ledger, Recorder};
use crate::metrics::History;

/// What to drill.
#[derive(Debug, Clone)]
pub struct DrillRequest {
    /// The git repository (its working tree, index and HEAD are not touched).
    pub repo: PathBuf,
    /// Revision to roll back to, or `last-good` (with `env`).
    pub to: String,
    /// Environment: recorded; required by `last-good`.
    pub env: Option<String>,
    /// Health-check command, run with `sh -c` inside the worktree.
    pub check: String,
    /// Deadline of the check.
    pub timeout: Duration,
}

/// A drill that ran and was recorded.
#[derive(Debug)]
pub struct DrillRun {
    /// What ran.
    pub plan: Plan,
    /// How it ended.
    pub outcome: Outcome,
    /// The report file.
    pub report: PathBuf,
    /// SHA-256 of the report's bytes.
    pub report_sha256: [u8; 32],
    /// The `drill` entry.
    pub entry: Entry,
}

impl Verdict for DrillRun {
    fn passed(&self) -> bool {
        self.outcome.outcome == "pass"
    }
}

/// The newest succeeded deploy of `env` that no rollback undid.
pub fn last_good(ledger: &Ledger, env: &str) -> Result<Option<crate::metrics::Deploy>> {
    let mut h = History::default();
    crate::history::scan(ledger, |e| h.push(e))?;
    Ok(h.last_good(env).cloned())
}

/// Check the request against the ledger and the repository and resolve the target. Runs and
/// writes nothing.
pub fn prepare(rec: &Recorder<'_>, req: &DrillRequest) -> Result<Plan> {
    let ledger = rec.ledger();
    if rec.signer().is_none() && ledger.config().require_signatures {
        return Err(Error::SignatureRequired);
    }
    if req.check.trim().is_empty() {
        return Err(Error::invalid("check", "the command is empty"));
    }
    if req.timeout.is_zero() {
        return Err(Error::invalid("timeout", "must be at least 1 second"));
    }
    let target = if req.to == "last-good" {
        let env = req
            .env
            .as_deref()
            .ok_or_else(|| Error::invalid("to", "last-good needs an env"))?;
        let d = last_good(ledger, env)?.ok_or_else(|| {
            Error::NotFound(format!(
                "last-good: no succeeded deploy of env `{env}` that was not rolled back in {}",
                ledger.log_path().display()
            ))
        })?;
        let mut t = drill::resolve(&req.repo, &d.commit).map_err(|e| {
            Error::NotFound(format!(
                "last-good: deploy seq {} commit `{}`: {e}",
                d.seq, d.commit
            ))
        })?;
        t.rev = "last-good".into();
        t.deploy_seq = Some(d.seq);
        t.env = Some(env.to_string());
        t
    } else {
        let mut t = drill::resolve(&req.repo, &req.to)?;
        t.env = req.env.clone();
        t
    };
    let repo = std::fs::canonicalize(&req.repo).map_err(|e| Error::io(&req.repo, e))?;
    Ok(Plan {
        repo,
        target,
        check: req.check.clone(),
        timeout: req.timeout,
    })
}

/// A drill that ran, its report saved, its entry drafted but not yet recorded.
#[derive(Debug)]
pub struct Rehearsal {
    /// What ran.
    pub plan: Plan,
    /// How it ended.
    pub outcome: Outcome,
    /// The report file.
    pub report: PathBuf,
    /// SHA-256 of the report's bytes.
    pub report_sha256: [u8; 32],
    /// The `drill` entry to record (by `actor`).
    pub draft: Draft,
}

impl Verdict for Rehearsal {
    fn passed(&self) -> bool {
        self.outcome.outcome == "pass"
    }
}

/// Run the drill and save its report under `dir` (the ledger directory); return the entry to
/// record, for a caller that records it elsewhere (on a git ref: `flow::sync`). An interrupt
/// (`cancel` set) removes the worktree and drafts nothing.
pub fn rehearse(dir: &Path, plan: Plan, actor: &str, cancel: &AtomicBool) -> Result<Rehearsal> {
    let outcome = drill::run(&plan, cancel)?;
    let (report, report_sha256) = drill::save(dir, &outcome)?;
    let draft = drill::draft(&plan, &outcome, &report_sha256, actor);
    Ok(Rehearsal {
        plan,
        outcome,
        report,
        report_sha256,
        draft,
    })
}

/// Run the drill, save its report and record the `drill` entry (recorded by `actor`). An
/// interrupt (`cancel` set) removes the worktree and records nothing.
pub fn run(rec: &Recorder<'_>, plan: Plan, actor: &str, cancel: &AtomicBool) -> Result<DrillRun> {
    let r = rehearse(rec.ledger().dir(), plan, actor, cancel)?;
    let entry = rec
        .record(vec![r.draft])?
        .entries
        .pop()
        .ok_or_else(|| Error::internal("the drill entry was not written"))?;
    Ok(DrillRun {
        plan: r.plan,
        outcome: r.outcome,
        report: r.report,
        report_sha256: r.report_sha256,
        entry,
    })
}
