//! The fold of ledger entries into what the metrics read: deploys, rollbacks, incidents and
//! drills with their times, in seq order; which deploys were rolled back and which incidents
//! name them (see the definitions in [`crate::metrics`]).
//!
//! A time in an entry body (`changes[].time`, `commit_time`) is an RFC 3339 string; entries
//! written before 2026-12 may also hold integer seconds since the Unix epoch, which are read
//! too. Fields of the wrong type are skipped.

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

/// Status of an incident entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// The incident began (was declared).
    Opened,
    /// Service was restored.
    Resolved,
}

/// The facts of one `incident` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Entry seq.
    pub seq: u64,
    /// Entry time, ms.
    pub ts: i64,
    /// Environment.
    pub env: String,
    /// The incident's id.
    pub id: String,
    /// Opened or resolved.
    pub status: IncidentStatus,
    /// Severity, when recorded.
    pub severity: Option<String>,
    /// Seq of the deploy that caused it, when recorded.
    pub caused_by_seq: Option<u64>,
    /// Version that caused it, when recorded (used when `caused_by_seq` is absent).
    pub caused_by_version: Option<String>,
    /// Pager alert or issue tracking it.
    pub external_id: Option<String>,
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

/// An incident from its `opened` entry to its `resolved` one ([`History::incident_spans`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSpan {
    /// Seq of the `opened` entry.
    pub seq: u64,
    /// Environment.
    pub env: String,
    /// The incident's id.
    pub id: String,
    /// Severity, as opened.
    pub severity: Option<String>,
    /// When it was opened, ms.
    pub opened: i64,
    /// When it was resolved, ms; `None` while open.
    pub resolved: Option<i64>,
    /// Seq of the deployment it names.
    pub cause: Option<u64>,
}

/// Deploys, rollbacks, drills and incidents of a ledger, in seq order.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Deploy entries.
    pub deploys: Vec<Deploy>,
    /// Rollback entries.
    pub rollbacks: Vec<Rollback>,
    /// Drill entries.
    pub drills: Vec<Drill>,
    /// Incident entries.
    pub incidents: Vec<Incident>,
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
            Kind::Incident => {
                let status = match b.get("status").and_then(Value::as_str) {
                    Some("opened") => IncidentStatus::Opened,
                    Some("resolved") => IncidentStatus::Resolved,
                    _ => return,
                };
                let opt = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
                self.incidents.push(Incident {
                    seq: e.seq,
                    ts,
                    env: s(b, "env"),
                    id: s(b, "incident"),
                    status,
                    severity: opt("severity"),
                    caused_by_seq: b.get("caused_by_seq").and_then(Value::as_u64),
                    caused_by_version: opt("caused_by_version"),
                    external_id: opt("external_id"),
                });
            }
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

    /// The history as it stood at `t`: every entry recorded after it (by its `ts`) left out,
    /// whatever its seq ("as of": the figures `metrics` would have printed at `t`).
    pub fn as_of(&self, t: i64) -> History {
        History {
            deploys: self.deploys.iter().filter(|d| d.ts <= t).cloned().collect(),
            rollbacks: self
                .rollbacks
                .iter()
                .filter(|r| r.ts <= t)
                .cloned()
                .collect(),
            drills: self.drills.iter().filter(|d| d.ts <= t).cloned().collect(),
            incidents: self
                .incidents
                .iter()
                .filter(|i| i.ts <= t)
                .cloned()
                .collect(),
        }
    }

    /// Position in `deploys` of the deployment (succeeded or failed) that entry `seq` of `env`
    /// names by `named` (a seq) or `version`, by the rule of [`crate::rollback::undone`].
    fn deployment(&self, seq: u64, env: &str, named: Option<u64>, version: &str) -> Option<usize> {
        let rb = RollbackRef {
            seq,
            env,
            from_version: version,
            undoes_seq: named,
        };
        rollback::undone(&rb, &self.deploys, |d| DeployRef {
            seq: d.seq,
            env: &d.env,
            version: &d.version,
            terminal: d.status != DeployStatus::Started,
        })
    }

    /// Each incident of this history, its `opened` entry paired with the first later
    /// `resolved` entry of the same id and env, with the deploy seq it names (its own
    /// `caused_by_seq` or `caused_by_version`, or else the resolution's), if that names a
    /// succeeded or failed deploy of its env recorded before it. A `resolved` entry without an
    /// open incident is ignored.
    pub fn incident_spans(&self) -> Vec<IncidentSpan> {
        let mut out: Vec<IncidentSpan> = Vec::new();
        for i in &self.incidents {
            match i.status {
                IncidentStatus::Opened => {
                    let cause = self.cause_of(i);
                    out.push(IncidentSpan {
                        seq: i.seq,
                        env: i.env.clone(),
                        id: i.id.clone(),
                        severity: i.severity.clone(),
                        opened: i.ts,
                        resolved: None,
                        cause,
                    });
                }
                IncidentStatus::Resolved => {
                    if let Some(open) = out
                        .iter_mut()
                        .find(|o| o.resolved.is_none() && o.env == i.env && o.id == i.id)
                    {
                        open.resolved = Some(i.ts);
                        if open.cause.is_none() {
                            open.cause = self.cause_of(i);
                        }
                    }
                }
            }
        }
        out
    }

    fn cause_of(&self, i: &Incident) -> Option<u64> {
        if i.caused_by_seq.is_none() && i.caused_by_version.is_none() {
            return None;
        }
        let version = i.caused_by_version.as_deref().unwrap_or("");
        self.deployment(i.seq, &i.env, i.caused_by_seq, version)
            .and_then(|k| self.deploys.get(k))
            .map(|d| d.seq)
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
            let target = self
                .deployment(rb.seq, rb.env, rb.undoes_seq, rb.from_version)
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
            incidents: vec![],
        };
        assert_eq!(h.rolled_back(), HashMap::from([(1, 30)]));
        assert_eq!(h.last_good("prod").map(|d| d.seq), Some(0));
        assert_eq!(h.last_good("stage").map(|d| d.seq), Some(2));
        assert!(h.last_good("qa").is_none());
    }

    #[test]
    fn times_written_before_2026_12_are_still_read() {
        // Integer seconds and offsets: refused in new entries, read in stored ones.
        let e = Entry {
            seq: 0,
            ts: "2026-11-01T00:00:00.000Z".into(),
            kind: Kind::Deploy,
            actor: "ci".into(),
            signer: None,
            body: serde_json::json!({"env": "prod", "version": "v1", "commit": "c",
                "status": "succeeded", "changes": [
                    {"commit": "a", "time": 1_793_490_000},
                    {"commit": "b", "time": "2026-11-01T00:30:00+01:00"}]}),
            prev: crate::ledger::entry::ZERO_HASH,
            hash: crate::ledger::entry::ZERO_HASH,
            sig: None,
            submission: None,
        };
        let mut h = History::default();
        h.push(&e);
        let t0 = 1_793_491_200_000;
        assert_eq!(
            h.deploys[0].changes,
            vec![
                ("a".to_string(), t0 - 1_200_000),
                ("b".to_string(), t0 - 1_800_000)
            ]
        );
    }
}
