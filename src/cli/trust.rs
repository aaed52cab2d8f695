//! `ledger trust score|gate|summary`, and the record-time attribution of `append deploy --repo`
//! and `append rollback`.

use std::path::PathBuf;

use audit_ledger::error::{Error, Result};
use audit_ledger::git;
use audit_ledger::keys::Signer;
use audit_ledger::ledger::body::Kind;
use audit_ledger::ledger::{Draft, Entry, Ledger};
use audit_ledger::trust::model::ms_ts;
use audit_ledger::trust::{self, Aggregate, CacheStatus, Decision, Policy, Score};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::Ctx;

/// Actor recorded on approval entries written by gates, unless `--recorder` says otherwise.
pub const GATE_RECORDER: &str = "ledger/trust-gate";

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
        after_help = "Examples:\n  ledger trust gate --actor alice --paths src/lib.rs db/schema.sql --subject PR-42\n  ledger trust gate --actor alice --repo . --source feature --target main --json\n\nExit 0 allow, 1 deny (reasons on stdout), 2 bad input. Every decision appends an\n`approval` entry (actor ledger/trust-gate) with the score, breakdown and gate used."
    )]
    Gate(GateArgs),
    /// Scores of every author with merges in the ledger.
    #[command(after_help = "Examples:\n  ledger trust summary\n  ledger trust summary --json")]
    Summary(SummaryArgs),
}

/// Evaluation time shared by the trust commands.
#[derive(Debug, Args)]
pub struct AtArg {
    /// Evaluate as of this time (YYYY-MM-DD or RFC 3339; default now). Later entries are ignored.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

impl AtArg {
    /// `--at` in ms since the epoch, or now.
    pub fn now_ms(&self) -> Result<i64> {
        match &self.at {
            None => Ok(chrono::Utc::now().timestamp_millis()),
            Some(s) => audit_ledger::time::parse_instant(s).map_err(super::for_flag("--at")),
        }
    }
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
    /// Target ref (with --repo).
    #[arg(long, value_name = "REF")]
    pub target: Option<String>,
    /// What people approve, e.g. a PR id (default with --repo: merge:<source commit>).
    #[arg(long)]
    pub subject: Option<String>,
    /// Actor recorded on the approval entry.
    #[arg(long, default_value = GATE_RECORDER)]
    pub recorder: String,
    #[command(flatten)]
    pub at: AtArg,
}

/// `trust summary`.
#[derive(Debug, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub at: AtArg,
}

/// JSON of a score (integers only).
pub fn score_json(s: &Score) -> Value {
    json!({"actor": s.actor, "known": s.known, "score_permille": s.permille(), "history": s.history(), "breakdown": s.breakdown()})
}

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
                Error::input(format!(
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
    let ledger = ctx.ledger()?;
    let now = a.at.now_ms()?;
    let (policy, agg, status) = trust::load(&ledger)?;
    let scope = scope_index(&policy, a.scope.as_deref())?;
    let s = trust::score(&agg.facts, &policy, &a.actor, scope, now);
    let mut j = score_json(&s);
    j["ok"] = json!(true);
    j["cache"] = json!(status.as_str());
    ctx.print(score_line(&s), &j);
    Ok(0)
}

fn summary(ctx: &Ctx, a: &SummaryArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
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

/// Append the approval entry of a decision (plus `extra` body fields); returns it.
pub fn record_decision(
    ledger: &Ledger,
    d: &Decision,
    extra: &Value,
    recorder: &str,
    signer: Option<&Signer>,
) -> Result<Entry> {
    let mut body = d.entry_body();
    if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            b.insert(k.clone(), v.clone());
        }
    }
    let draft = Draft {
        kind: Kind::Approval,
        actor: recorder.to_string(),
        body,
    };
    let mut written = super::core::append_drafts(ledger, vec![draft], signer)?;
    written
        .pop()
        .ok_or_else(|| Error::input("nothing appended"))
}

/// JSON of a decision for `--json` output.
pub fn decision_json(d: &Decision, entry: &Entry, status: CacheStatus) -> Value {
    let gates: Vec<Value> = d
        .checks
        .iter()
        .map(|c| {
            json!({"gate": c.gate, "paths": c.paths, "score_permille": c.score.permille(), "breakdown": c.score.breakdown(),
                   "min_score_permille": c.min_score_permille, "min_history": c.min_history, "approvals_required": c.approvals,
                   "approvers": c.approvers, "failures": c.failures})
        })
        .collect();
    json!({"ok": d.allow, "decision": if d.allow {"allow"} else {"deny"}, "actor": d.actor, "subject": d.subject,
           "paths": d.paths, "reasons": d.reasons, "gates": gates, "gate": d.deciding().map(|c| c.gate.clone()),
           "approval_seq": entry.seq, "approval_hash": entry.hash_hex(), "cache": status.as_str()})
}

/// Human rendering of a decision.
pub fn decision_text(d: &Decision, entry: &Entry) -> String {
    let mut s = format!(
        "{} {}'s change to {} path(s) (approval entry seq {})\n",
        if d.allow { "ALLOW" } else { "DENY" },
        d.actor,
        d.paths.len(),
        entry.seq
    );
    for r in &d.reasons {
        s.push_str(&format!("  - {r}\n"));
    }
    s.trim_end().to_string()
}

fn gate(ctx: &Ctx, a: &GateArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let now = a.at.now_ms()?;
    let (policy, agg, status) = trust::load(&ledger)?;
    let signer = ctx.signer()?;
    if let (Some(repo), Some(source), Some(target)) = (&a.repo, &a.source, &a.target) {
        let req = super::merge::MergeRequest {
            repo: repo.clone(),
            source: source.clone(),
            target: target.clone(),
            actor: Some(a.actor.clone()),
            subject: a.subject.clone(),
            recorder: a.recorder.clone(),
            execute: false,
            now_ms: now,
        };
        return super::merge::gated_merge(
            ctx,
            &ledger,
            &policy,
            &agg,
            status,
            &req,
            signer.as_ref(),
        );
    }
    let subject = a
        .subject
        .clone()
        .unwrap_or_else(|| default_subject(&a.actor, &a.paths));
    let d = trust::evaluate(&agg.facts, &policy, &a.actor, &a.paths, &subject, now)?;
    let e = record_decision(&ledger, &d, &json!({}), &a.recorder, signer.as_ref())?;
    ctx.print(decision_text(&d, &e), &decision_json(&d, &e, status));
    Ok(if d.allow { 0 } else { 1 })
}

/// Subject of a gate decision without `--subject`: `change:<actor>:<first 16 hex of SHA-256 of
/// the sorted paths, one per line>`, so the same change gets the same subject.
pub fn default_subject(actor: &str, paths: &[String]) -> String {
    use sha2::Digest as _;
    let mut sorted = paths.to_vec();
    sorted.sort();
    let digest = sha2::Sha256::digest(sorted.join("\n").as_bytes());
    format!(
        "change:{actor}:{}",
        hex::encode(digest).get(..16).unwrap_or_default()
    )
}

/// Options of `append` that need the ledger's history or git.
#[derive(Debug, Default)]
pub struct Attribution {
    /// deploy: git repository to find what the deploy ships.
    pub repo: Option<PathBuf>,
    /// rollback: the deploy undone, by seq or version.
    pub undoes: Option<String>,
}

/// Maximum number of commits listed in a deploy's `changes`.
pub const MAX_CHANGES: usize = 1000;

/// Maximum number of merges listed in a deploy's `merges` (newest first).
pub const MAX_MERGES: usize = 5000;

/// Append a deploy or rollback with its attribution fields, computed under the append lock
/// from the aggregate (so the lookups cost O(new entries), not O(ledger)).
pub fn append_attributed(
    ledger: &Ledger,
    mut draft: Draft,
    attr: &Attribution,
    signer: Option<&Signer>,
    refresh_checkpoint: bool,
) -> Result<Vec<Entry>> {
    let mut locked = ledger.lock()?;
    let policy = Policy::from_config(ledger.config())?;
    let (mut agg, _) = trust::cache::load(ledger, &policy)?;
    match draft.kind {
        Kind::Deploy => attribute_deploy(&mut agg, &mut draft.body, attr)?,
        Kind::Rollback => attribute_rollback(&agg, &mut draft.body, attr, locked.tail().next_seq)?,
        _ => {}
    }
    let entries = locked.append(vec![draft], signer)?;
    if refresh_checkpoint {
        super::core::refresh_checkpoint(&locked, signer, &entries)?;
    }
    Ok(entries)
}

fn field<'a>(body: &'a Value, k: &str) -> Result<&'a str> {
    body.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::input(format!("body.{k}: missing")))
}

fn attribute_deploy(agg: &mut Aggregate, body: &mut Value, attr: &Attribution) -> Result<()> {
    if let Some(s) = body.get("strategy") {
        let ok = s
            .as_str()
            .is_some_and(|s| ["blue-green", "canary", "rolling", "recreate"].contains(&s));
        if !ok {
            return Err(Error::input(format!(
                "--strategy: {s} is not one of blue-green, canary, rolling, recreate"
            )));
        }
    }
    if let Some(p) = body.get("percent") {
        if p.as_u64().is_none_or(|p| p > 100) {
            return Err(Error::input(format!(
                "--percent: {p} is not an integer from 0 to 100"
            )));
        }
    }
    let Some(repo_path) = &attr.repo else {
        return Ok(());
    };
    let env = field(body, "env")?.to_string();
    let commit_s = field(body, "commit")?.to_string();
    let repo = git::open(repo_path)?;
    let commit = git::resolve_commit(&repo, &commit_s)?;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "commit_time".into(),
        json!(ms_ts(git::commit_time(&repo, commit)? * 1000)),
    );
    let previous = agg
        .facts
        .last_success(&env, None, u64::MAX)
        .map(|d| (d.seq, d.commit.clone()));
    let prev_oid = match &previous {
        Some((seq, c)) => {
            let oid = git::resolve_commit(&repo, c).map_err(|_| {
                Error::input(format!("previous successful deploy of `{env}` (seq {seq}) has commit `{c}`, which {} does not have", repo_path.display()))
            })?;
            extra.insert("previous_commit".into(), json!(oid.to_string()));
            extra.insert("previous_seq".into(), json!(seq));
            Some(oid)
        }
        None => None,
    };
    let shipped = git::shipped(&repo, commit, prev_oid)?;
    let changes: Vec<Value> = shipped
        .iter()
        .take(MAX_CHANGES)
        .map(|c| json!({"commit": c.id.to_string(), "time": ms_ts(c.time * 1000)}))
        .collect();
    extra.insert("changes".into(), json!(changes));
    if shipped.len() > MAX_CHANGES {
        extra.insert("changes_truncated".into(), json!(true));
    }
    let mut merges = Vec::new();
    for c in &shipped {
        let hex = c.id.to_string();
        if let Some(m) = agg.facts.merge_by_commit(&hex) {
            let (seq, author) = (m.seq, m.author);
            let name = agg
                .facts
                .actors
                .get(author as usize)
                .cloned()
                .unwrap_or_default();
            let mut v = json!({"merge_commit": hex, "author": name});
            if let Some(s) = seq {
                v["seq"] = json!(s);
            }
            merges.push(v);
        } else if c.parents >= 2 && !c.author.is_empty() {
            merges.push(json!({"merge_commit": hex, "author": c.author}));
        }
    }
    // An entry line is at most 1 MiB: keep the newest MAX_MERGES (≈ 100 bytes each).
    if merges.len() > MAX_MERGES {
        merges.truncate(MAX_MERGES);
        extra.insert("merges_truncated".into(), json!(true));
    }
    extra.insert("merges".into(), json!(merges));
    if let Some(b) = body.as_object_mut() {
        b.extend(extra);
    }
    Ok(())
}

fn attribute_rollback(
    agg: &Aggregate,
    body: &mut Value,
    attr: &Attribution,
    next_seq: u64,
) -> Result<()> {
    if let Some(t) = body.get("trigger_type") {
        if !t.as_str().is_some_and(|t| t == "auto" || t == "manual") {
            return Err(Error::input(format!(
                "--trigger-type: {t} is not auto or manual"
            )));
        }
    }
    let env = field(body, "env")?.to_string();
    let facts = &agg.facts;
    let undone = match attr.undoes.as_deref() {
        Some(u) => {
            let d = match u.parse::<u64>() {
                Ok(seq) => facts.deploy_by_seq(seq).ok_or_else(|| {
                    Error::input(format!(
                        "--undoes {seq}: no succeeded or failed deploy entry has seq {seq}"
                    ))
                })?,
                Err(_) => facts.last_success(&env, Some(u), next_seq).ok_or_else(|| {
                    Error::input(format!(
                        "--undoes {u}: no succeeded deploy of version `{u}` to `{env}`"
                    ))
                })?,
            };
            if facts.envs.get(d.env as usize).map(String::as_str) != Some(env.as_str()) {
                return Err(Error::input(format!(
                    "--undoes {u}: deploy seq {} is not in env `{env}`",
                    d.seq
                )));
            }
            Some(d.seq)
        }
        None => {
            let from = field(body, "from_version")?;
            facts
                .last_success(&env, Some(from), next_seq)
                .map(|d| d.seq)
        }
    };
    if let (Some(seq), Some(b)) = (undone, body.as_object_mut()) {
        b.insert("undoes_seq".into(), json!(seq));
    }
    Ok(())
}
