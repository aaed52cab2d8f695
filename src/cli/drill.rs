//! `ledger drill rollback`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use audit_ledger::error::{Error, Result};
use audit_ledger::flow::{self, drill::DrillRequest, sync};
use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;

/// `ledger drill ...`.
#[derive(Debug, Subcommand)]
pub enum DrillCmd {
    /// Rehearse a rollback: check out REV in a temporary git worktree, run the health check there.
    Rollback(RollbackArgs),
}

/// `ledger drill rollback`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger drill rollback --repo . --to v1.4.2 --check 'make smoke' --timeout 300
  ledger drill rollback --env production --to last-good --check ./health.sh
  ledger --dir \"$RUNNER_TEMP/ledger\" drill rollback --env production --to last-good \\
      --check ./health.sh --git origin --key drill.key   # the entry goes on refs/audit/ledger

The worktree is made with git2 in a temporary directory outside the
working tree, and always removed with its .git/worktrees admin files:
after a pass, a failure, a timeout, or SIGINT/SIGTERM/SIGHUP. The check
runs as `sh -c CMD` in its own process group (killed as a whole at the
deadline) with LEDGER_DRILL_REV, LEDGER_DRILL_COMMIT, LEDGER_DRILL_REPO.
The report goes to DIR/rollbacks/<time>-<commit>.json; a `drill` entry
records its SHA-256. `--to last-good --env E`: the newest succeeded
deploy of E that no rollback undid. Scheduling: docs/drills.md.

Exit codes: 0 the check passed; 1 it failed or timed out (recorded);
2 bad input (e.g. unknown revision), git or I/O error, or interrupted
(nothing recorded).")]
pub struct RollbackArgs {
    /// The git repository (its working tree, index and HEAD are not touched).
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub repo: PathBuf,
    /// Revision to roll back to (commit, tag, branch, `HEAD~2`, ...) or `last-good` with --env.
    #[arg(long, value_name = "REV")]
    pub to: String,
    /// Environment: recorded in the report and entry; required by `--to last-good`.
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
    /// Health-check command, run with `sh -c` inside the worktree.
    #[arg(long, value_name = "CMD")]
    pub check: String,
    /// Kill the check (its whole process group) after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Actor recorded in the entry.
    #[arg(long, default_value = "ledger/drill")]
    pub actor: String,
    /// Publish the drill entry on a git ref instead of appending locally (docs/git.md): DIR is
    /// brought up to the ref first, so `--to last-good` sees every deploy on it.
    #[command(flatten)]
    pub git: super::sync::GitArgs,
}

pub fn run(ctx: &Ctx, cmd: &DrillCmd) -> Result<i32> {
    match cmd {
        DrillCmd::Rollback(a) => rollback(ctx, a),
    }
}

fn request(a: &RollbackArgs) -> DrillRequest {
    DrillRequest {
        repo: a.repo.clone(),
        to: a.to.clone(),
        env: a.env.clone(),
        check: a.check.clone(),
        timeout: Duration::from_secs(a.timeout),
    }
}

/// SIGINT, SIGTERM and SIGHUP set the flag: the drill stops its check and records nothing.
fn cancel_on_signals() -> Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&cancel))
            .map_err(|e| Error::io("signal handler", e))?;
    }
    Ok(cancel)
}

fn announce(ctx: &Ctx, plan: &audit_ledger::drill::Plan, timeout: u64) {
    ctx.note(format!(
        "drill: {} ({}) in a temporary worktree, check `{}`, timeout {} s",
        plan.target.rev, plan.target.commit, plan.check, timeout
    ));
}

fn exit_text(o: &audit_ledger::drill::Outcome) -> String {
    match o.exit_code {
        Some(c) => format!("exit {c}"),
        None if o.outcome == "timeout" => "killed at the deadline".into(),
        None => "killed by a signal".into(),
    }
}

/// `drill rollback --git REMOTE`: sync DIR with the ref, drill, publish the entry there.
fn rollback_git(ctx: &Ctx, a: &RollbackArgs, opts: sync::SyncOptions) -> Result<i32> {
    let signer = ctx.require_signer("--git (the key that signs the drill entry)")?;
    let (ledger, _) = sync::open_or_clone(&ctx.dir, &opts)?;
    let ledger = ledger.with_state(ctx.state.clone());
    let (first, _) = sync::sync(&ledger, ctx.view()?, Some(&signer), &opts, Vec::new())?;
    for n in &first.notices {
        ctx.note(n);
    }
    let rec = ctx.recorder(&ledger, Some(&signer))?;
    let plan = flow::drill::prepare(&rec, &request(a))?;
    let cancel = cancel_on_signals()?;
    announce(ctx, &plan, a.timeout);
    let r = flow::drill::rehearse(ledger.dir(), plan, &a.actor, &cancel)?;
    let (s, ids) = sync::sync(
        &ledger,
        ctx.view()?,
        Some(&signer),
        &opts,
        vec![r.draft.clone()],
    )?;
    for n in &s.notices {
        ctx.note(n);
    }
    let entry = ids
        .first()
        .and_then(|id| s.published.iter().find(|p| &p.id == id))
        .map(|p| &p.entry)
        .ok_or_else(|| {
            Error::internal("the drill entry was not found on the ref after the push")
        })?;
    let (text, mut v) = outcome(&r.plan, &r.outcome, &r.report, &r.report_sha256, entry.seq);
    v["git"] = json!(true);
    v["remote"] = json!(s.remote);
    v["ref"] = json!(s.refname);
    v["commit_pushed"] = json!(s.commit);
    ctx.print(format!("{text} on {} {}", s.remote, s.refname), &v);
    Ok(super::verdict_exit(&r))
}

/// What a drill came to, for people and as JSON (schemas/output/drill.schema.json).
fn outcome(
    plan: &audit_ledger::drill::Plan,
    o: &audit_ledger::drill::Outcome,
    report: &std::path::Path,
    sha: &[u8; 32],
    seq: u64,
) -> (String, serde_json::Value) {
    let text = format!(
        "drill {}: {} ({}) in {} ms — {}; report {} (sha256 {}), entry seq {seq}",
        o.outcome,
        plan.target.rev,
        plan.target.commit,
        o.duration_ms,
        exit_text(o),
        report.display(),
        hex::encode(sha),
    );
    let v = json!({"ok": o.outcome == "pass", "outcome": o.outcome, "commit": plan.target.commit.to_string(), "rev": plan.target.rev,
                   "duration_ms": o.duration_ms, "exit_code": o.exit_code, "report": report, "report_sha256": hex::encode(sha), "seq": seq});
    (text, v)
}

fn rollback(ctx: &Ctx, a: &RollbackArgs) -> Result<i32> {
    if let Some(opts) = a.git.options() {
        return rollback_git(ctx, a, opts);
    }
    // Everything that can fail before the drill fails first: nothing is run or written then.
    let (ledger, _view) = ctx.verified()?;
    let signer = ctx.signer()?;
    let rec = ctx.recorder(&ledger, signer.as_ref())?;
    let plan = flow::drill::prepare(&rec, &request(a))?;
    let cancel = cancel_on_signals()?;
    announce(ctx, &plan, a.timeout);
    let r = flow::drill::run(&rec, plan, &a.actor, &cancel)?;
    let (text, v) = outcome(
        &r.plan,
        &r.outcome,
        &r.report,
        &r.report_sha256,
        r.entry.seq,
    );
    ctx.print(text, &v);
    Ok(super::verdict_exit(&r))
}
