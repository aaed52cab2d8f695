//! `ledger trust score|gate|summary`.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::flow::{self, gate::GateQuery, gate::GATE_RECORDER, merge::MergeRequest};
use audit_ledger::trust::model::ms_ts;
use audit_ledger::trust::{self, Policy, Score};
use clap::{Args, Subcommand};
use serde_json::json;

use super::decision::{decision_json, decision_text, AtArg};
use super::Ctx;

/// `ledger trust ...`.
#[derive(Debug, Subcommand)]
pub enum TrustCmd {
    /// An author's score with its breakdown.
    #[command(
        after_help = "Examples:\n  ledger trust score --actor alice\n  ledger trust score --actor alice --scope persistence --json\n  ledger trust score --actor alice --at 2026-12-01\n\nAn author with no recorded merge gets the prior (said in the output), not an error."
    )]
    Score(ScoreArgs),
    /// Decide whether a change may merge without a human; records an `approval` entry.
    #[command(
        after_help = "Examples:\n  ledger trust gate --actor alice --paths src/lib.rs db/schema.sql --subject PR-42\n  ledger trust gate --actor alice --repo . --source feature --target main --json\n  ledger trust gate --actor alice --paths src/lib.rs --subject PR-42 --dry-run --json\n\nExit 0 allow, 1 deny (reasons on stdout), 2 bad input. Every decision appends an\n`approval` entry (actor ledger/trust-gate) with the score, breakdown and gate used, except\nwith --dry-run, which needs no key and writes nothing to the ledger. An author with no merge\nof known outcome needs an approval by someone else unless [trust] prior_alone = true."
    )]
    Gate(Box<GateArgs>),
    /// Scores of every author with merges in the ledger.
    #[command(after_help = "Examples:\n  ledger trust summary\n  ledger trust summary --json")]
    Summary(SummaryArgs),
}

/// `trust score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The author to score.
    #[arg(long)]
    pub actor: String,
    /// Only merges that touched this gate's paths.
    #[arg(long, value_name = "GATE")]
    pub scope: Option<String>,
    #[command(flatten)]
    pub at: AtArg,
}

/// `trust gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The change's author.
    #[arg(long)]
    pub actor: String,
    /// Changed paths.
    #[arg(long, num_args = 1.., value_name = "PATH", required_unless_present = "repo", conflicts_with = "repo")]
    pub paths: Vec<String>,
    /// Git repository to compute the paths from (with --source and --target).
    #[arg(long, value_name = "R", requires_all = ["source", "target"])]
    pub repo: Option<PathBuf>,
    /// Source ref (with --repo).
    #[arg(long, value_name = "REF")]
    pub source: Option<String>,
    /// Target ref (with --repo); without --repo, the branch --source-commit goes to.
    #[arg(long, value_name = "REF")]
    pub target: Option<String>,
    /// The change's commit (full id), when the asker knows it (a pull request's head):
    /// approvals bound to it count. With --repo the source commit is known.
    #[arg(long, value_name = "SHA", conflicts_with = "repo")]
    pub source_commit: Option<String>,
    /// What people approve, e.g. a PR id (default with --repo: merge:<source commit>).
    #[arg(long)]
    pub subject: Option<String>,
    /// Actor recorded on the approval entry.
    #[arg(long, default_value = GATE_RECORDER)]
    pub recorder: String,
    /// Decide only: no key needed, nothing appended (a query for merge bots).
    #[arg(long, conflicts_with = "repo")]
    pub dry_run: bool,
    /// With --remote: have the service record the decision as an `approval` entry, signed
    /// with --key (a key the signed policy names in [serve].gate_recorders). Without it a
    /// remote gate is a query.
    #[arg(long, requires = "remote", conflicts_with = "dry_run")]
    pub record: bool,
    /// With --remote --record: the submission id (default: a fresh random one).
    #[arg(long, requires = "record", value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub at: AtArg,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
}

/// `trust summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub at: AtArg,
}

pub use audit_ledger::trust::json::score_json;

/// One line for people.
pub fn score_line(s: &Score) -> String {
    let pm = s.permille();
    let mut line = format!(
        "{}: {}.{:03} — {} success(es), {} failure(s), {} pending; decayed weights S {:.3} F {:.3}; prior α {} β {}",
        s.actor,
        pm / 1000,
        pm % 1000,
        s.successes,
        s.failures,
        s.pending,
        s.success_weight,
        s.failure_weight,
        s.prior.0,
        s.prior.1
    );
    if let Some(sc) = &s.scope {
        line.push_str(&format!("; scope {sc}"));
    }
    if !s.newest.is_empty() {
        let seqs: Vec<String> = s.newest.iter().map(u64::to_string).collect();
        line.push_str(&format!("; newest evidence seq {}", seqs.join(", ")));
    }
    if !s.known {
        line.push_str(" (no recorded merges: this is the prior)");
    }
    line
}

fn scope_index(policy: &Policy, scope: Option<&str>) -> Result<Option<usize>> {
    match scope {
        None => Ok(None),
        Some(name) => policy
            .gates
            .iter()
            .position(|g| g.name == name)
            .map(Some)
            .ok_or_else(|| {
                let names: Vec<&str> = policy.gates.iter().map(|g| g.name.as_str()).collect();
                super::usage(format!(
                    "--scope: no gate named `{name}` (gates: {})",
                    names.join(", ")
                ))
            }),
    }
}

pub fn run(ctx: &Ctx, cmd: &TrustCmd) -> Result<i32> {
    match cmd {
        TrustCmd::Score(a) => score(ctx, a),
        TrustCmd::Gate(a) => gate(ctx, a),
        TrustCmd::Summary(a) => summary(ctx, a),
    }
}

fn score(ctx: &Ctx, a: &ScoreArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let now = a.at.now_ms()?;
    let policy = trust::Policy::from_config(ledger.config())?;
    let scope = scope_index(&policy, a.scope.as_deref())?;
    let (s, status) = trust::score_of(&ledger, &policy, &a.actor, scope, now)?;
    let mut j = score_json(&s);
    j["ok"] = json!(true);
    j["cache"] = json!(status.as_str());
    ctx.print(score_line(&s), &j);
    Ok(0)
}

fn summary(ctx: &Ctx, a: &SummaryArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let now = a.at.now_ms()?;
    let (policy, agg, status) = trust::load(&ledger)?;
    let scores = trust::scores_of_authors(&agg.facts, &policy, now);
    let human = if scores.is_empty() {
        "no merges recorded yet".to_string()
    } else {
        scores.iter().map(score_line).collect::<Vec<_>>().join("\n")
    };
    ctx.print(
        human,
        &json!({"ok": true, "as_of": ms_ts(now), "cache": status.as_str(), "actors": scores.iter().map(score_json).collect::<Vec<_>>()}),
    );
    Ok(0)
}

fn gate(ctx: &Ctx, a: &GateArgs) -> Result<i32> {
    if let Some(remote) = a.remote.client(ctx)? {
        if a.repo.is_some() || a.at.at.is_some() {
            return Err(super::usage(
                "--remote answers for now and for --paths only (no --repo, no --at)",
            ));
        }
        let j = if a.record {
            let signer = ctx.require_signer(
                "trust gate --record (a key the signed policy names in [serve].gate_recorders)",
            )?;
            let id = match &a.id {
                Some(id) => id.clone(),
                None => super::append::fresh_submission_id("gate")?,
            };
            let (mut j, receipt) = remote.record_gate(
                &signer,
                &audit_ledger::serve::client::GateRequest {
                    actor: &a.actor,
                    paths: &a.paths,
                    subject: a.subject.as_deref(),
                    id: &id,
                    recorder: &a.recorder,
                },
            )?;
            j["approval_seq"] = json!(receipt.seq);
            j["approval_hash"] = json!(hex::encode(receipt.hash));
            j["recorded"] = json!(true);
            j["created"] = json!(receipt.created);
            j["tree_size"] = json!(receipt.tree_size);
            j
        } else {
            remote.gate(&a.actor, &a.paths, a.subject.as_deref())?
        };
        let allow = j["ok"].as_bool() == Some(true);
        let reasons: Vec<String> = j["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(|s| format!("  - {s}")))
                    .collect()
            })
            .unwrap_or_default();
        let recorded = match j["approval_seq"].as_u64() {
            Some(seq) if a.record => format!(", recorded as seq {seq}"),
            _ => String::new(),
        };
        let human = format!(
            "{} {}'s change to {} path(s) (asked {}{recorded})\n{}",
            if allow {
                ctx.paint("ALLOW", super::Tone::Good)
            } else {
                ctx.paint("DENY", super::Tone::Bad)
            },
            a.actor,
            a.paths.len(),
            a.remote.remote.as_deref().unwrap_or_default(),
            reasons.join("\n")
        );
        ctx.print(human.trim_end(), &j);
        return Ok(if allow { 0 } else { 1 });
    }
    if a.at.at.is_some() && !a.dry_run {
        return Err(super::usage(
            "--at is for queries: add --dry-run (a decision that is recorded or merged on is made at the present time)",
        ));
    }
    let now = a.at.now_ms()?;
    let q = GateQuery {
        actor: a.actor.clone(),
        paths: a.paths.clone(),
        subject: a.subject.clone(),
        now_ms: now,
        change: audit_ledger::trust::gate::ChangeRef {
            source_commit: a.source_commit.clone(),
            target: a.target.clone(),
            diff_sha256: None,
        },
        vouch: Default::default(),
    };
    let (ledger, first) = if a.repo.is_some() {
        (ctx.verified()?.0, None)
    } else {
        // The view, and on a first run the trust facts from the same pass over the ledger.
        let (ledger, _view, notices, e) =
            flow::gate::evaluate_verified(ctx.ledger()?, ctx.view()?, &q)?;
        for n in &notices {
            ctx.note(n);
        }
        (ledger, Some(e))
    };
    if a.dry_run {
        let e = match first {
            Some(e) => e,
            None => flow::gate::evaluate(&ledger, &q)?,
        };
        ctx.print(
            decision_text(ctx, &e.decision, None),
            &decision_json(&e.decision, None, e.cache),
        );
        return Ok(super::verdict_exit(&e));
    }
    let signer = ctx.signer()?;
    let rec = ctx.recorder(&ledger, signer.as_ref())?;
    if let (Some(repo), Some(source), Some(target)) = (&a.repo, &a.source, &a.target) {
        let req = MergeRequest {
            repo: repo.clone(),
            source: source.clone(),
            target: target.clone(),
            actor: Some(a.actor.clone()),
            subject: a.subject.clone(),
            recorder: a.recorder.clone(),
            execute: false,
            now_ms: now,
        };
        return super::merge::render(ctx, &req, &flow::merge::gated_merge(&rec, &req)?);
    }
    let o = flow::gate::gate(&rec, &q, &a.recorder)?;
    ctx.notices(&o.recorded);
    ctx.print(
        decision_text(ctx, &o.decision, Some(&o.approval)),
        &decision_json(&o.decision, Some(&o.approval), o.cache),
    );
    Ok(super::verdict_exit(&o))
}
