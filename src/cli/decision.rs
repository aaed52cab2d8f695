//! What the trust and merge commands share: the evaluation time flag and the rendering of a
//! gate decision.

use audit_ledger::error::Result;
use audit_ledger::ledger::Entry;
use audit_ledger::trust::{CacheStatus, Decision};
use clap::Args;
use serde_json::{json, Value};

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

/// JSON of a decision for `--json` output.
/// `entry` is the approval entry that records the decision, `None` for a dry run.
pub fn decision_json(d: &Decision, entry: Option<&Entry>, status: CacheStatus) -> Value {
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
           "approval_seq": entry.map(|e| e.seq), "approval_hash": entry.map(Entry::hash_hex),
           "recorded": entry.is_some(), "cache": status.as_str()})
}

/// Human rendering of a decision.
pub fn decision_text(d: &Decision, entry: Option<&Entry>) -> String {
    let recorded = match entry {
        Some(e) => format!("approval entry seq {}", e.seq),
        None => "dry run: nothing recorded".to_string(),
    };
    let mut s = format!(
        "{} {}'s change to {} path(s) ({recorded})\n",
        if d.allow { "ALLOW" } else { "DENY" },
        d.actor,
        d.paths.len(),
    );
    for r in &d.reasons {
        s.push_str(&format!("  - {r}\n"));
    }
    s.trim_end().to_string()
}
