//! The fold of ledger entries into what the metrics read: deploys, rollbacks and drills with
//! their times, in seq order, and which deploys were rolled back (see the definitions in
//! [`crate::metrics`]).
//!
//! A time in an entry body (`changes[].time`, `commit_time`) is an RFC 3339 string or an
//! integer number of seconds since the Unix epoch; fields of the wrong type are skipped.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::ledger::{Entry, Kind};
use crate::rollback::{self, DeployRef, RollbackRef};

/// Status of a deploy entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStatus {
    /// An attempt began.
    Started,
    /// The attempt finished and the version runs.
    Succeeded,
    /// The attempt failed.
    Failed,
}

/// The facts of one `deploy` entry the metrics use.
#[derive(Debug, Clone, PartialEq)]
pub struct Deploy {
    /// Entry seq.
    pub seq: u64,
    /// Entry time, ms since the epoch.
    pub ts: i64,
    /// Who recorded it.
    pub actor: String,
    /// Environment.
    pub env: String,
    /// Version deployed.
    pub version: String,
    /// Commit deployed.
    pub commit: String,
    /// Status.
    pub status: DeployStatus,
    /// (commit, time in ms) of each change shipped, from `changes` or `commit_time`.
    pub changes: Vec<(String, i64)>,
    /// Merges it shipped (its `merges` list, written by `append deploy --repo`).
    pub merges: u64,
    /// Of those, merges that no `merge` entry records: pushed to the branch past the gate.
    pub ungated_merges: u64,
}

/// The facts of one `rollback` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    /// Entry seq.
    pub seq: u64,
    /// Entry time, ms.
    pub ts: i64,
    /// Environment.
    pub env: String,
    /// Version rolled back from.
    pub from_version: String,
    /// Seq of the deploy undone, when recorded.
    pub undoes_seq: Option<u64>,
}

/// Outcome of a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillOutcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check ran out of time.
    Timeout,
}

/// The facts of one `drill` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    /// Entry seq.
    pub seq: u64,
    /// Entry time, ms.
    pub ts: i64,
    /// Environment, when recorded.
    pub env: Option<String>,
    /// Outcome.
    pub outcome: DrillOutcome,
    /// Duration of the check.
    pub duration_ms: u64,
}

/// Deploys, rollbacks and drills of a ledger, in seq order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Deploy entries.
    pub deploys: Vec<Deploy>,
    /// Rollback entries.
    pub rollbacks: Vec<Rollback>,
    /// Drill entries.
    pub drills: Vec<Drill>,
}

/// Parse an entry timestamp (or any RFC 3339 time) to ms since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn time_value(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => parse_time(s),
        Value::Number(n) => n.as_i64().and_then(|s| s.checked_mul(1000)),
        _ => None,
    }
}

fn s(body: &Value, k: &str) -> String {
    body.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl History {
    /// Take what the metrics need from `e` (other kinds are ignored). Entries must come in
    /// seq order.
    pub fn push(&mut self, e: &Entry) {
        let Some(ts) = parse_time(&e.ts) else { return };
        let b = &e.body;
        match e.kind {
            Kind::Deploy => {
                let status = match b.get("status").and_then(Value::as_str) {
                    Some("succeeded") => DeployStatus::Succeeded,
                    Some("failed") => DeployStatus::Failed,
                    _ => DeployStatus::Started,
                };
                let commit = s(b, "commit");
                let changes = match b.get("changes").and_then(Value::as_array) {
                    Some(list) => list
                        .iter()
                        .filter_map(|c| {
                            Some((
                                c.get("commit")?.as_str()?.to_string(),
                                time_value(c.get("time")?)?,
                            ))
                        })
                        .collect(),
                    None => b
                        .get("commit_time")
                        .and_then(time_value)
                        .map(|t| vec![(commit.clone(), t)])
                        .unwrap_or_default(),
                };
                let list = b.get("merges").and_then(Value::as_array);
                let merges = list.map_or(0, |l| l.len() as u64);
                let ungated_merges = list.map_or(0, |l| {
                    l.iter().filter(|m| m.get("seq").is_none()).count() as u64
                });
                self.deploys.push(Deploy {
                    seq: e.seq,
                    ts,
                    actor: e.actor.clone(),
                    env: s(b, "env"),
                    version: s(b, "version"),
                    commit,
                    status,
                    changes,
                    merges,
                    ungated_merges,
                });
            }
            Kind::Rollback => self.rollbacks.push(Rollback {
                seq: e.seq,
                ts,
                env: s(b, "env"),
                from_version: s(b, "from_version"),
                undoes_seq: b.get("undoes_seq").and_then(Value::as_u64),
            }),
            Kind::Drill => {
                let outcome = match b.get("outcome").and_then(Value::as_str) {
                    Some("pass") => DrillOutcome::Pass,
                    Some("timeout") => DrillOutcome::Timeout,
                    _ => DrillOutcome::Fail,
                };
                self.drills.push(Drill {
                    seq: e.seq,
                    ts,
                    env: b.get("env").and_then(Value::as_str).map(str::to_string),
                    outcome,
                    duration_ms: b.get("duration_ms").and_then(Value::as_u64).unwrap_or(0),
                });
            }
            _ => {}
        }
    }

    /// For each deploy that was rolled back: deploy seq → the time of the first rollback that
    /// undid it (which one is [`crate::rollback::undone`]'s rule).
    pub fn rolled_back(&self) -> HashMap<u64, i64> {
        let mut out: HashMap<u64, i64> = HashMap::new();
        for r in &self.rollbacks {
            let rb = RollbackRef {
                seq: r.seq,
                env: &r.env,
                from_version: &r.from_version,
                undoes_seq: r.undoes_seq,
            };
            let target = rollback::undone(&rb, &self.deploys, |d| DeployRef {
                seq: d.seq,
                env: &d.env,
                version: &d.version,
                succeeded: d.status == DeployStatus::Succeeded,
            })
            .and_then(|i| self.deploys.get(i));
            if let Some(d) = target {
                out.entry(d.seq).or_insert(r.ts);
            }
        }
        out
    }

    /// The newest succeeded deploy of `env` not rolled back: what a rollback returns to.
    pub fn last_good(&self, env: &str) -> Option<&Deploy> {
        let rb = self.rolled_back();
        self.deploys.iter().rev().find(|d| {
            d.env == env && d.status == DeployStatus::Succeeded && !rb.contains_key(&d.seq)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(
        seq: u64,
        ts: i64,
        env: &str,
        version: &str,
        status: DeployStatus,
        changes: &[i64],
    ) -> Deploy {
        Deploy {
            seq,
            ts,
            actor: "ci".into(),
            env: env.into(),
            version: version.into(),
            commit: format!("c{version}"),
            status,
            changes: changes
                .iter()
                .enumerate()
                .map(|(i, &t)| (format!("{version}-{i}"), t))
                .collect(),
            merges: 0,
            ungated_merges: 0,
        }
    }

    #[test]
    fn rollback_matching_and_last_good() {
        use DeployStatus::*;
        let h = History {
            deploys: vec![
                dep(0, 0, "prod", "v1", Succeeded, &[]),
                dep(1, 10, "prod", "v2", Succeeded, &[]),
                dep(2, 20, "stage", "v3", Succeeded, &[]),
            ],
            rollbacks: vec![Rollback {
                seq: 3,
                ts: 30,
                env: "prod".into(),
                from_version: "v2".into(),
                undoes_seq: None,
            }],
            drills: vec![],
        };
        assert_eq!(h.rolled_back(), HashMap::from([(1, 30)]));
        assert_eq!(h.last_good("prod").map(|d| d.seq), Some(0));
        assert_eq!(h.last_good("stage").map(|d| d.seq), Some(2));
        assert!(h.last_good("qa").is_none());
    }
}
