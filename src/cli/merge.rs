//! `ledger merge`: preview a merge in memory, gate it, archive its diff, and on `--execute`
//! with an allow create the merge commit (or fast-forward) and record a `merge` entry.

use std::path::PathBuf;

use audit_ledger::error::{Error, Result};
use audit_ledger::git;
use audit_ledger::keys::Signer;
use audit_ledger::ledger::body::Kind;
use audit_ledger::ledger::{Draft, Ledger};
use audit_ledger::trust::{self, Aggregate, CacheStatus, Decision, Policy};
use clap::Args;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::trust::{decision_json, decision_text, record_decision, AtArg, GATE_RECORDER};
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
    #[command(flatten)]
    pub at: AtArg,
}

/// Everything a gated merge needs.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    /// Repository.
    pub repo: PathBuf,
    /// Source ref.
    pub source: String,
    /// Target ref.
    pub target: String,
    /// Author override.
    pub actor: Option<String>,
    /// Subject override.
    pub subject: Option<String>,
    /// Recorder of the entries.
    pub recorder: String,
    /// Execute on allow.
    pub execute: bool,
    /// Evaluation time.
    pub now_ms: i64,
}

pub fn run(ctx: &Ctx, a: &MergeArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let now_ms = a.at_ms()?;
    let (policy, agg, status) = trust::load(&ledger)?;
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
    gated_merge(ctx, &ledger, &policy, &agg, status, &req, signer.as_ref())
}

impl MergeArgs {
    fn at_ms(&self) -> Result<i64> {
        self.at.now_ms()
    }
}

/// Write `diff` to `DIR/merges/<sha256>.diff` (content-addressed: an existing file with that
/// name already holds these bytes). Returns the hex digest.
fn archive_diff(ledger: &Ledger, diff: &[u8]) -> Result<(String, PathBuf)> {
    let digest = hex::encode(Sha256::digest(diff));
    let dir = ledger.dir().join("merges");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{digest}.diff"));
    if !path.is_file() {
        audit_ledger::fsutil::write_atomic(&path, diff)?;
    }
    Ok((digest, path))
}

/// Preview, gate, record, and (on request and allow) execute a merge. Exit 0 allow, 1 deny.
pub fn gated_merge(
    ctx: &Ctx,
    ledger: &Ledger,
    policy: &Policy,
    agg: &Aggregate,
    status: CacheStatus,
    req: &MergeRequest,
    signer: Option<&Signer>,
) -> Result<i32> {
    let preview = git::preview_merge(&req.repo, &req.source, &req.target)?;
    let repo = git::open(&req.repo)?;
    // Refuse a target we could not update before recording anything.
    let target_ref = if req.execute {
        Some(git::target_branch(&repo, &req.target)?)
    } else {
        None
    };
    if preview.up_to_date {
        ctx.print(
            format!("nothing to merge: {} is already contained in {}", req.source, req.target),
            &json!({"ok": true, "up_to_date": true, "source_commit": preview.source_commit.to_string(), "target_commit": preview.target_commit.to_string()}),
        );
        return Ok(0);
    }
    let actor = match &req.actor {
        Some(a) => a.clone(),
        None => repo
            .find_commit(preview.source_commit)
            .ok()
            .and_then(|c| c.author().name().ok().map(str::to_string))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::input("the source commit has no author name: give --actor"))?,
    };
    let subject = req
        .subject
        .clone()
        .unwrap_or_else(|| format!("merge:{}", preview.source_commit));
    let mut extra = json!({
        "source": req.source, "target": req.target,
        "source_commit": preview.source_commit.to_string(), "target_commit": preview.target_commit.to_string(),
        "fast_forward": preview.fast_forward,
    });
    let (decision, diff) = if preview.conflicts.is_empty() {
        let (digest, path) = archive_diff(ledger, &preview.diff)?;
        extra["diff_sha256"] = json!(digest);
        let d = trust::evaluate(
            &agg.facts,
            policy,
            &actor,
            &preview.paths,
            &subject,
            req.now_ms,
        )?;
        (d, Some((digest, path)))
    } else {
        extra["conflicts"] = json!(preview.conflicts);
        let d = Decision {
            allow: false,
            actor: actor.clone(),
            subject: subject.clone(),
            paths: preview.conflicts.clone(),
            reasons: vec![format!(
                "merge conflicts in: {}",
                preview.conflicts.join(", ")
            )],
            checks: Vec::new(),
        };
        (d, None)
    };
    let approval = record_decision(ledger, &decision, &extra, &req.recorder, signer)?;
    let mut out = decision_json(&decision, &approval, status);
    let mut text = decision_text(&decision, &approval);
    if let Some((digest, path)) = &diff {
        out["diff_sha256"] = json!(digest);
        out["diff_path"] = json!(path);
        text.push_str(&format!(
            "\ndiff archived: {} (sha256 {digest})",
            path.display()
        ));
    }
    out["conflicts"] = json!(preview.conflicts);
    out["fast_forward"] = json!(preview.fast_forward);
    out["source_commit"] = json!(preview.source_commit.to_string());
    out["target_commit"] = json!(preview.target_commit.to_string());
    if decision.allow {
        if let Some(target_ref) = target_ref {
            let msg = format!(
                "Merge {} into {}\n\nTrust gate: allow ({}, approval seq {})\n",
                req.source, req.target, actor, approval.seq
            );
            let tip = git::execute_merge(&req.repo, &preview, &target_ref, &msg)?;
            let mut body = json!({
                "author": actor, "source": req.source, "target": req.target,
                "source_commit": preview.source_commit.to_string(), "target_commit": preview.target_commit.to_string(),
                "merge_commit": tip.to_string(), "paths": preview.paths, "approval_seq": approval.seq,
                "fast_forward": preview.fast_forward,
            });
            if let Some((digest, _)) = &diff {
                body["diff_sha256"] = json!(digest);
            }
            let draft = Draft {
                kind: Kind::Merge,
                actor: req.recorder.clone(),
                body,
            };
            let merge_entry = super::core::append_drafts(ledger, vec![draft], signer)?;
            let seq = merge_entry.first().map(|e| e.seq);
            out["merge_commit"] = json!(tip.to_string());
            out["merge_seq"] = json!(seq);
            text.push_str(&format!(
                "\n{} {target_ref} → {tip} (merge entry seq {})",
                if preview.fast_forward {
                    "fast-forwarded"
                } else {
                    "merged:"
                },
                seq.map(|s| s.to_string()).unwrap_or_default()
            ));
        }
    }
    ctx.print(text, &out);
    Ok(if decision.allow { 0 } else { 1 })
}
