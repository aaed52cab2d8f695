//! `ledger merge`: preview a merge in memory, gate it, archive its diff, and on `--execute`
//! with an allow create the merge commit (or fast-forward) and record a `merge` entry.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::flow::{self, gate::GATE_RECORDER, merge::MergeOutcome, merge::MergeRequest};
use clap::Args;
use serde_json::json;

use super::decision::{decision_json, decision_text};
use super::Ctx;

/// `ledger merge`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger merge --repo /srv/git/app.git --source feature/login --target main\n  ledger merge --repo /srv/git/app.git --source feature/login --target main --execute --json\n\nThe merge is previewed in memory (no work tree, nothing written to the repository). Conflicts\ndeny, naming the files. Otherwise the changed paths go through `trust gate`, the unified diff is\narchived as DIR/merges/<sha256>.diff and an `approval` entry records the decision. With\n--execute and an allow, the target branch gets the merge commit (or is fast-forwarded) and a\n`merge` entry is appended. Exit 0 allow, 1 deny, 2 bad input."
)]
pub struct MergeArgs {
    /// Git repository (work tree or bare).
    #[arg(long, value_name = "R")]
    pub repo: PathBuf,
    /// Ref to merge.
    #[arg(long, value_name = "REF")]
    pub source: String,
    /// Branch to merge into.
    #[arg(long, value_name = "REF")]
    pub target: String,
    /// Create the merge on the target branch when the gate allows.
    #[arg(long)]
    pub execute: bool,
    /// The change's author (default: the author name of the source commit).
    #[arg(long)]
    pub actor: Option<String>,
    /// What people approve (default: merge:<source commit>).
    #[arg(long)]
    pub subject: Option<String>,
    /// Actor recorded on the approval and merge entries.
    #[arg(long, default_value = GATE_RECORDER)]
    pub recorder: String,
}

pub fn run(ctx: &Ctx, a: &MergeArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    // A merge records its decision: it is made now (no --at).
    let now_ms = chrono::Utc::now().timestamp_millis();
    let signer = ctx.signer()?;
    let req = MergeRequest {
        repo: a.repo.clone(),
        source: a.source.clone(),
        target: a.target.clone(),
        actor: a.actor.clone(),
        subject: a.subject.clone(),
        recorder: a.recorder.clone(),
        execute: a.execute,
        now_ms,
    };
    let o = flow::merge::gated_merge(&ctx.recorder(&ledger, signer.as_ref())?, &req)?;
    render(ctx, &req, &o)
}

/// Print a merge outcome (also for `trust gate --repo`); returns the exit code.
pub fn render(ctx: &Ctx, req: &MergeRequest, o: &MergeOutcome) -> Result<i32> {
    let g = match o {
        MergeOutcome::UpToDate {
            source_commit,
            target_commit,
        } => {
            ctx.print(
                format!("nothing to merge: {} is already contained in {}", req.source, req.target),
                &json!({"ok": true, "up_to_date": true, "source_commit": source_commit, "target_commit": target_commit}),
            );
            return Ok(0);
        }
        MergeOutcome::Gated(g) => g,
    };
    let mut out = decision_json(&g.decision, Some(&g.approval), g.cache);
    let mut text = decision_text(ctx, &g.decision, Some(&g.approval));
    if let Some(d) = &g.diff {
        out["diff_sha256"] = json!(d.sha256);
        out["diff_path"] = json!(d.path);
        text.push_str(&format!(
            "\ndiff archived: {} (sha256 {})",
            d.path.display(),
            d.sha256
        ));
    }
    out["conflicts"] = json!(g.conflicts);
    out["fast_forward"] = json!(g.fast_forward);
    out["source_commit"] = json!(g.source_commit);
    out["target_commit"] = json!(g.target_commit);
    if let Some(m) = &g.merged {
        out["merge_commit"] = json!(m.tip);
        out["merge_seq"] = json!(m.entry.seq);
        text.push_str(&format!(
            "\n{} {} → {} (merge entry seq {})",
            if g.fast_forward {
                "fast-forwarded"
            } else {
                "merged:"
            },
            m.target_ref,
            m.tip,
            m.entry.seq
        ));
    }
    ctx.print(text, &out);
    Ok(super::verdict_exit(o))
}
