//! The JSON forms of a score and of a gate decision, shared by `--json` output and
//! `ledger serve` (integers only: scores in permille).

use serde_json::{json, Value};

use crate::ledger::Entry;
use crate::trust::{CacheStatus, Decision, Score};

/// JSON of a score (integers only).
pub fn score_json(s: &Score) -> Value {
    json!({"actor": s.actor, "known": s.known, "score_permille": s.permille(), "history": s.history(), "breakdown": s.breakdown()})
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
                   "approvers": c.approvers, "failures": c.failures,
                   "vetoed_by": c.vetoed_by.iter().map(|(who, seq)| json!({"identity": who, "seq": seq})).collect::<Vec<_>>()})
        })
        .collect();
    json!({"ok": d.allow, "decision": if d.allow {"allow"} else {"deny"}, "actor": d.actor, "subject": d.subject, "change": d.change,
           "paths": d.paths, "reasons": d.reasons, "gates": gates, "gate": d.deciding().map(|c| c.gate.clone()),
           "approval_seq": entry.map(|e| e.seq), "approval_hash": entry.map(Entry::hash_hex),
           "recorded": entry.is_some(), "cache": status.as_str(), "author_verification": d.author_verification})
}
