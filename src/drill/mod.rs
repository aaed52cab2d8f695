//! Rollback drills: check out a past revision in a throw-away git worktree, run a health check
//! in it with a deadline, record the result.
//!
//! # Report file (`DIR/rollbacks/<stamp>-<commit12>.json`)
//!
//! `<stamp>` is the UTC start time as `YYYYMMDDTHHMMSS.mmmZ`, `<commit12>` the first 12 hex
//! characters of the commit. The file is the canonical JSON (RFC 8785, as ledger lines) of one
//! object followed by `\n`, written atomically; its schema is `schemas/drill-report.schema.json`.
//! Integers only. Example (wrapped here):
//!
//! ```text
//! {"check":"make smoke","check_ms":1234,"checkout_ms":310,"commit":"<40 hex>",
//!  "commit_time":"2026-11-20T09:12:00Z","duration_ms":1234,"env":"production","exit_code":0,
//!  "finished":"2026-11-23T04:00:01.544Z","outcome":"pass","output_bytes":812,
//!  "output_sha256":"<64 hex>","output_tail":"ok\n","repo":"/srv/app","rev":"last-good",
//!  "signal":null,"started":"2026-11-23T04:00:00.000Z","timeout_ms":600000,
//!  "tool":"audit-ledger 0.1.0","type":"rollback-drill","v":1,"worktree_removed":true}
//! ```
//!
//! * `outcome`: `pass` (exit status 0), `fail` (any other status or a signal), `timeout`.
//! * `duration_ms` = `check_ms`: spawn of `sh -c CHECK` to its exit (or to the kill at the
//!   deadline). `checkout_ms`: creating the worktree.
//! * `output_sha256`: SHA-256 of stdout and stderr as interleaved in one file;
//!   `output_tail`: its last 4096 bytes as lossy UTF-8, for people.
//! * `env` and `deploy_seq` are present when the revision came from `--env E --to last-good`.
//!
//! The `drill` entry's `report_sha256` is the SHA-256 of the file's bytes, so the report cannot
//! change without the ledger noticing. An interrupted drill (SIGINT / SIGTERM / SIGHUP)
//! removes its worktree and records nothing.

pub mod check;
pub mod worktree;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ledger::{Draft, Kind};

pub use check::{CheckResult, Ending};
pub use worktree::DrillWorktree;

/// Sub-directory of the ledger directory that holds drill reports.
pub const REPORT_DIR: &str = "rollbacks";

/// A revision resolved in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What the user asked for (`v1.2`, `HEAD~3`, `last-good`, ...).
    pub rev: String,
    /// The commit it names.
    pub commit: git2::Oid,
    /// The commit's committer time, RFC 3339 UTC.
    pub commit_time: String,
    /// Env the revision came from (`--env E --to last-good`).
    pub env: Option<String>,
    /// Seq of the deploy entry the revision came from.
    pub deploy_seq: Option<u64>,
}

/// Resolve `rev` to a commit in the repository at `repo`. A revision that does not exist is
/// [`Error::NotFound`]; one that is not well formed or does not name a commit is
/// [`Error::Invalid`] (parameter `rev`). Both exit 2.
pub fn resolve(repo: &Path, rev: &str) -> Result<Target> {
    let r = git2::Repository::open(repo)
        .map_err(|e| Error::Git(format!("open {}: {}", repo.display(), e.message())))?;
    let obj = r.revparse_single(rev).map_err(|e| {
        let why = format!(
            "`{rev}` is not a revision of {}: {}",
            repo.display(),
            e.message()
        );
        if crate::git::is_bad_spec(&e) {
            Error::invalid("rev", why)
        } else {
            Error::NotFound(why)
        }
    })?;
    let commit = obj.peel_to_commit().map_err(|e| {
        Error::invalid(
            "rev",
            format!("`{rev}` does not name a commit: {}", e.message()),
        )
    })?;
    let secs = commit.time().seconds();
    let commit_time = chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    Ok(Target {
        rev: rev.to_string(),
        commit: commit.id(),
        commit_time,
        env: None,
        deploy_seq: None,
    })
}

/// What a drill does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The repository (its working tree is not touched).
    pub repo: PathBuf,
    /// The revision to check out.
    pub target: Target,
    /// Shell command run in the worktree (`sh -c`).
    pub check: String,
    /// Deadline for the check.
    pub timeout: Duration,
}

/// A finished drill: its report and the bytes to write.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The report object.
    pub report: Value,
    /// File bytes (canonical JSON + `\n`).
    pub bytes: Vec<u8>,
    /// File name under [`REPORT_DIR`].
    pub file_name: String,
    /// `pass`, `fail` or `timeout`.
    pub outcome: &'static str,
    /// Check duration.
    pub duration_ms: u64,
    /// Exit code, when the check exited.
    pub exit_code: Option<i32>,
}

/// Run a drill. Always removes the worktree (also on errors and on interrupt, which returns
/// [`Error::Interrupted`] after cleaning up). Writes nothing; see [`save`].
pub fn run(plan: &Plan, cancel: &AtomicBool) -> Result<Outcome> {
    if plan.check.trim().is_empty() {
        return Err(Error::invalid("check", "the command is empty"));
    }
    if plan.timeout.is_zero() {
        return Err(Error::invalid("timeout", "must be at least 1 second"));
    }
    let started_ts = crate::ledger::entry::now_ts();
    let t0 = Instant::now();
    let mut wt = DrillWorktree::create(&plan.repo, plan.target.commit)?;
    let checkout_ms = ms(t0.elapsed());
    let scratch = tempfile::Builder::new()
        .prefix("ledger-drill-out-")
        .tempdir()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let env = [
        ("LEDGER_DRILL_REV", plan.target.rev.clone()),
        ("LEDGER_DRILL_COMMIT", plan.target.commit.to_string()),
        ("LEDGER_DRILL_REPO", plan.repo.display().to_string()),
    ];
    let result = check::run(
        &plan.check,
        wt.path(),
        &env,
        plan.timeout,
        scratch.path(),
        cancel,
    );
    // Remove before reporting, so the report can say it happened; `Drop` is the fallback.
    let removed = wt.remove();
    let res = result?;
    removed?;
    let finished_ts = crate::ledger::entry::now_ts();
    let (outcome, exit_code, signal) = match res.ending {
        Ending::Exited(0) => ("pass", Some(0), None),
        Ending::Exited(c) => ("fail", Some(c), None),
        Ending::Signaled(s) => ("fail", None, Some(s)),
        Ending::TimedOut => ("timeout", None, None),
    };
    let mut report = json!({
        "v": 1,
        "type": "rollback-drill",
        "tool": concat!("audit-ledger ", env!("CARGO_PKG_VERSION")),
        "repo": plan.repo.display().to_string(),
        "rev": plan.target.rev,
        "commit": plan.target.commit.to_string(),
        "commit_time": plan.target.commit_time,
        "check": plan.check,
        "timeout_ms": ms(plan.timeout),
        "started": started_ts,
        "finished": finished_ts,
        "checkout_ms": checkout_ms,
        "check_ms": res.duration_ms,
        "duration_ms": res.duration_ms,
        "outcome": outcome,
        "exit_code": exit_code,
        "signal": signal,
        "output_sha256": hex::encode(res.output_sha256),
        "output_bytes": res.output_bytes,
        "output_tail": res.output_tail,
        "worktree_removed": true,
    });
    if let Some(e) = &plan.target.env {
        report["env"] = json!(e);
    }
    if let Some(s) = plan.target.deploy_seq {
        report["deploy_seq"] = json!(s);
    }
    let mut bytes = crate::canonical::encode(&report)
        .map_err(|e| Error::internal(format!("drill report: {e}")))?;
    bytes.push(b'\n');
    let stamp: String = started_ts
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    let commit_hex = plan.target.commit.to_string();
    let file_name = format!(
        "{stamp}-{}.json",
        commit_hex.get(..12).unwrap_or(&commit_hex)
    );
    Ok(Outcome {
        report,
        bytes,
        file_name,
        outcome,
        duration_ms: res.duration_ms,
        exit_code,
    })
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Write the report atomically under `ledger_dir/rollbacks/`; returns its path and SHA-256.
pub fn save(ledger_dir: &Path, o: &Outcome) -> Result<(PathBuf, [u8; 32])> {
    let dir = ledger_dir.join(REPORT_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(&o.file_name);
    crate::fsutil::write_atomic(&path, &o.bytes)?;
    Ok((path, Sha256::digest(&o.bytes).into()))
}

/// The `drill` entry for a saved report.
pub fn draft(plan: &Plan, o: &Outcome, report_sha256: &[u8; 32], actor: &str) -> Draft {
    let mut body = json!({
        "target": plan.target.commit.to_string(),
        "rev": plan.target.rev,
        "check": plan.check,
        "outcome": o.outcome,
        "duration_ms": o.duration_ms,
        "timeout_ms": ms(plan.timeout),
        "report": format!("{REPORT_DIR}/{}", o.file_name),
        "report_sha256": hex::encode(report_sha256),
    });
    if let Some(c) = o.exit_code {
        body["exit_code"] = json!(c);
    }
    if let Some(e) = &plan.target.env {
        body["env"] = json!(e);
    }
    Draft {
        kind: Kind::Drill,
        actor: actor.to_string(),
        body,
    }
}
