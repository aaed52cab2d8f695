//! `trust-summary.json`: the state of trust in the ledger at release time, computed from the
//! entries alone (pure: no I/O).
//!
//! ```json
//! {"actors":[{"actor":"ci","approvals_allow":1,"approvals_deny":0,"merges":3}],
//!  "counts":{"approval":1,"bundle":0,"deploy":2,...},
//!  "format":1, "scores":[{"actor":"dev0","breakdown":{...},"score_permille":812}],
//!  "ledger":{"entries":9,"keys":[{"added_at":0,"id":"…","revoked_at":null}],"root_key":"…",
//!            "signatures_checked":9,"unsigned":0},
//!  "release":{"deploys":[{"env":"prod","seq":5,"status":"succeeded"}],
//!             "drills":{"fail":0,"latest":{"outcome":"pass","seq":7,"target":"prod"},"pass":1,"timeout":0},
//!             "incidents":[{"caused_by_seq":5,"env":"prod","incident":"INC-7","seq":8,
//!                           "severity":"sev2","status":"opened"}],
//!             "rollbacks":[],"version":"1.0.0"}}
//! ```
//!
//! `scores` holds the trust score of every merge author as of the build time, with its
//! breakdown (DESIGN §4, [`crate::trust`]): `{"actor","score_permille","breakdown"}`, sorted by
//! actor. Per actor (`actors`): merges authored (`body.author`) and approvals decided about them (`body.subject`
//! equal to the actor). `release` lists the deploys and rollbacks that name this version, the
//! incident entries that blame one of its deploys (`caused_by_seq`) with the entries resolving
//! them, and
//! every drill's outcome. Counts cover every kind, zeros included.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ledger::body::Kind;
use crate::ledger::verify::Summary;
use crate::ledger::Entry;

/// Build the trust summary for `version` from verified `entries` and their verification summary.
pub fn trust_summary(entries: &[Entry], verified: &Summary, version: &str, scores: Value) -> Value {
    let mut counts: BTreeMap<&str, u64> = Kind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
    let mut actors: BTreeMap<String, [u64; 3]> = BTreeMap::new();
    let mut deploys = Vec::new();
    let mut rollbacks = Vec::new();
    let mut incidents = Vec::new();
    // (env, id) of this release's incidents still open: their `resolved` entries are listed too.
    let mut open_blamed: Vec<(String, String)> = Vec::new();
    // Seqs of this version's succeeded or failed deploys, per env: what an incident blames.
    let mut shipped: Vec<(u64, String)> = Vec::new();
    let mut drills: BTreeMap<&str, u64> = [("pass", 0), ("fail", 0), ("timeout", 0)]
        .into_iter()
        .collect();
    let mut latest_drill = Value::Null;
    let s = |e: &Entry, k: &str| {
        e.body
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    for e in entries {
        *counts.entry(e.kind.as_str()).or_insert(0) += 1;
        match e.kind {
            Kind::Merge => actors.entry(s(e, "author")).or_default()[0] += 1,
            Kind::Approval => {
                let i = if s(e, "decision") == "allow" { 1 } else { 2 };
                actors.entry(s(e, "subject")).or_default()[i] += 1;
            }
            Kind::Deploy if s(e, "version") == version => {
                deploys.push(json!({"seq": e.seq, "env": s(e, "env"), "status": s(e, "status")}));
                if matches!(s(e, "status").as_str(), "succeeded" | "failed") {
                    shipped.push((e.seq, s(e, "env")));
                }
            }
            Kind::Incident => {
                // An incident this version caused: it names one of its deploys (as the append
                // path records it) in the same env.
                let cause = e.body.get("caused_by_seq").and_then(Value::as_u64);
                let env = s(e, "env");
                let key = (env.clone(), s(e, "incident"));
                let blamed =
                    cause.is_some_and(|c| shipped.iter().any(|(seq, en)| *seq == c && *en == env));
                let resolves = s(e, "status") == "resolved" && open_blamed.contains(&key);
                if s(e, "status") == "opened" && blamed {
                    open_blamed.push(key);
                } else if resolves {
                    open_blamed.retain(|k| *k != key);
                }
                if blamed || resolves {
                    incidents.push(
                        json!({"seq": e.seq, "env": env, "incident": s(e, "incident"),
                                          "status": s(e, "status"), "severity": s(e, "severity"),
                                          "caused_by_seq": cause}),
                    );
                }
            }
            Kind::Rollback if s(e, "from_version") == version || s(e, "to_version") == version => {
                rollbacks.push(json!({"seq": e.seq, "env": s(e, "env"), "from_version": s(e, "from_version"),
                                      "to_version": s(e, "to_version"), "trigger": s(e, "trigger")}));
            }
            Kind::Drill => {
                let outcome = s(e, "outcome");
                if let Some(n) = drills.get_mut(outcome.as_str()) {
                    *n += 1;
                }
                latest_drill = json!({"seq": e.seq, "outcome": outcome, "target": s(e, "target")});
            }
            _ => {}
        }
    }
    let actors: Vec<Value> = actors
        .into_iter()
        .map(|(a, [m, allow, deny])| json!({"actor": a, "merges": m, "approvals_allow": allow, "approvals_deny": deny}))
        .collect();
    let keys: Vec<Value> = verified
        .keys
        .iter()
        .map(|k| json!({"id": k.id, "added_at": k.added_at, "revoked_at": k.revoked_at}))
        .collect();
    let mut drills_v = json!(drills);
    drills_v["latest"] = latest_drill;
    json!({
        "format": 1,
        "ledger": {"entries": verified.entries, "signatures_checked": verified.signatures_checked,
                   "unsigned": verified.unsigned, "root_key": verified.root_key, "keys": keys},
        "counts": counts,
        "actors": actors,
        "scores": scores,
        "release": {"version": version, "deploys": deploys, "rollbacks": rollbacks,
                    "incidents": incidents, "drills": drills_v},
    })
}

/// Trust scores of every merge author at `now_ms`, as JSON (see the module documentation).
pub fn scores_json(
    facts: &crate::trust::Facts,
    policy: &crate::trust::Policy,
    now_ms: i64,
) -> Value {
    Value::Array(
        crate::trust::scores_of_authors(facts, policy, now_ms)
            .into_iter()
            .map(|s| json!({"actor": s.actor, "score_permille": s.permille(), "breakdown": s.breakdown()}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::ZERO_HASH;

    fn entry(seq: u64, kind: Kind, body: Value) -> Entry {
        Entry::seal(
            seq,
            "2026-11-01T00:00:00.000Z".into(),
            kind,
            "ci".into(),
            None,
            body,
            ZERO_HASH,
        )
        .unwrap()
    }

    #[test]
    fn the_release_lists_the_incidents_its_deploys_caused() {
        let d = |env: &str, v: &str, status: &str| json!({"env": env, "version": v, "commit": "c", "status": status});
        let inc = |id: &str, env: &str, status: &str, cause: Option<u64>| {
            let mut b = json!({"incident": id, "env": env, "status": status});
            if let Some(c) = cause {
                b["caused_by_seq"] = json!(c);
            }
            b
        };
        let entries = vec![
            entry(0, Kind::Deploy, d("prod", "v1", "succeeded")),
            entry(1, Kind::Deploy, d("prod", "v2", "succeeded")),
            entry(2, Kind::Deploy, d("stage", "v2", "started")),
            // v2's prod deploy: listed, opened and resolved.
            entry(3, Kind::Incident, inc("INC-1", "prod", "opened", Some(1))),
            entry(4, Kind::Incident, inc("INC-1", "prod", "resolved", None)),
            // v1's deploy, a `started` step, or no cause: not this release's.
            entry(5, Kind::Incident, inc("INC-2", "prod", "opened", Some(0))),
            entry(6, Kind::Incident, inc("INC-3", "stage", "opened", Some(2))),
            entry(7, Kind::Incident, inc("INC-4", "prod", "opened", None)),
            // Another env than the deploy it names: not this release's either.
            entry(8, Kind::Incident, inc("INC-5", "stage", "opened", Some(1))),
        ];
        let verified = Summary {
            entries: entries.len() as u64,
            signatures_checked: 0,
            unsigned: entries.len() as u64,
            submissions: 0,
            head: None,
            root_key: None,
            keys: Vec::new(),
            bytes: 0,
            leaves: Vec::new(),
            policy: None,
        };
        let s = trust_summary(&entries, &verified, "v2", json!([]));
        let listed: Vec<(u64, &str)> = s["release"]["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["seq"].as_u64().unwrap(), i["status"].as_str().unwrap()))
            .collect();
        assert_eq!(listed, [(3, "opened"), (4, "resolved")]);
        assert_eq!(s["counts"]["incident"], 6);
    }
}
