//! The DORA figures: [`Analysis`] digests a [`History`] once, [`compute`] aggregates it over
//! one window and env, [`series`] over consecutive buckets (definitions in
//! [`crate::metrics`]).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::history::{DeployStatus, Drill, DrillOutcome, History, IncidentSpan};
use super::levels::{self, Levels};
use super::stats::{spread, status_at_least, status_under, Spread, Status};
use super::targets::Targets;
use super::DAY_MS;

/// Per-deploy facts computed once over the whole history, then aggregated per window.
#[derive(Debug, Clone)]
struct Fact {
    seq: u64,
    ts: i64,
    env: String,
    succeeded: bool,
    /// Failed, rolled back, or named by an incident.
    failure: bool,
    /// Recovery time of this failure; `None` while open or when not a failure.
    restore_ms: Option<i64>,
    /// When this failure started and ended (`None`: still open); `None` when not a failure.
    fail_span: Option<(i64, Option<i64>)>,
    /// Made while an earlier deployment of its env was failed and not yet restored.
    rework: bool,
    lead_ms: Vec<i64>,
    /// The env's first succeeded deploy: changes left out of its lead time.
    baseline_excluded: Option<u64>,
    merges: u64,
    ungated_merges: u64,
}

/// How [`Analysis::new`] reads the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Lead-time horizon: the changes of each env's first succeeded deploy (its baseline)
    /// count only from this time (ms); `None`: none of them count.
    pub lead_time_since: Option<i64>,
}

/// [`History`] digested for windowed aggregation.
#[derive(Debug, Clone)]
pub struct Analysis {
    facts: Vec<Fact>,
    drills: Vec<Drill>,
    incidents: Vec<IncidentSpan>,
    opts: Options,
}

impl Analysis {
    /// Digest a history (O(n log n)) with the default options.
    pub fn new(h: &History) -> Analysis {
        Analysis::with(h, Options::default())
    }

    /// Digest a history (O(n log n)); see the definitions in [`crate::metrics`].
    pub fn with(h: &History, opts: Options) -> Analysis {
        let rolled = h.rolled_back();
        let spans = h.incident_spans();
        // Per deploy: (earliest opened, latest resolved or None when one is still open).
        let mut named: HashMap<u64, (i64, Option<i64>)> = HashMap::new();
        for sp in &spans {
            let Some(d) = sp.cause else { continue };
            let e = named.entry(d).or_insert((sp.opened, Some(i64::MIN)));
            e.0 = e.0.min(sp.opened);
            e.1 = match (e.1, sp.resolved) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        // Times of restoring events (succeeded deploys and rollbacks) per env, in seq order.
        let mut restorers: HashMap<&str, Vec<(u64, i64)>> = HashMap::new();
        for d in h
            .deploys
            .iter()
            .filter(|d| d.status == DeployStatus::Succeeded)
        {
            restorers
                .entry(d.env.as_str())
                .or_default()
                .push((d.seq, d.ts));
        }
        for r in &h.rollbacks {
            restorers
                .entry(r.env.as_str())
                .or_default()
                .push((r.seq, r.ts));
        }
        for v in restorers.values_mut() {
            v.sort_unstable();
        }
        let mut shipped: HashSet<(&str, &str)> = HashSet::new();
        let mut baselined: HashSet<&str> = HashSet::new();
        let mut facts = Vec::new();
        for d in &h.deploys {
            if d.status == DeployStatus::Started {
                continue;
            }
            let succeeded = d.status == DeployStatus::Succeeded;
            let rolled_ts = rolled.get(&d.seq).copied();
            let incident = named.get(&d.seq).copied();
            let failure = !succeeded || rolled_ts.is_some() || incident.is_some();
            let start = match (succeeded && rolled_ts.is_none(), incident) {
                (true, Some((opened, _))) => opened,
                _ => d.ts,
            };
            let end = match (incident, rolled_ts) {
                // Incidents, when recorded, say when service came back.
                (Some((_, resolved)), _) => resolved,
                (None, Some(t)) => Some(t),
                (None, None) if !succeeded => restorers.get(d.env.as_str()).and_then(|v| {
                    let i = v.partition_point(|&(seq, _)| seq <= d.seq);
                    v.get(i).map(|&(_, t)| t)
                }),
                (None, None) => None,
            };
            let restore_ms = if failure {
                end.map(|t| (t - start).max(0))
            } else {
                None
            };
            let mut lead_ms = Vec::new();
            let mut baseline_excluded = None;
            if succeeded {
                let baseline = baselined.insert(d.env.as_str());
                let mut excluded = 0u64;
                for (commit, t) in &d.changes {
                    if !shipped.insert((d.env.as_str(), commit.as_str())) {
                        continue;
                    }
                    if baseline && opts.lead_time_since.is_none_or(|h| *t < h) {
                        excluded += 1;
                        continue;
                    }
                    lead_ms.push((d.ts - t).max(0));
                }
                if baseline {
                    baseline_excluded = Some(excluded);
                }
            }
            facts.push(Fact {
                seq: d.seq,
                ts: d.ts,
                env: d.env.clone(),
                succeeded,
                failure,
                restore_ms,
                fail_span: failure.then_some((start, end)),
                rework: false,
                lead_ms,
                baseline_excluded,
                merges: d.merges,
                ungated_merges: d.ungated_merges,
            });
        }
        // Rework: deployed while an earlier deployment of the env was in failure (from its
        // start to its recovery, both included). The deploy that fixes forward is rework, a
        // deploy before an incident named an earlier one is not.
        let mut failing: HashMap<String, Vec<(i64, Option<i64>)>> = HashMap::new();
        for f in &mut facts {
            let spans = failing.entry(f.env.clone()).or_default();
            spans.retain(|&(_, end)| end.is_none_or(|e| e >= f.ts));
            f.rework = spans.iter().any(|&(start, _)| start <= f.ts);
            if let Some(span) = f.fail_span {
                spans.push(span);
            }
        }
        Analysis {
            facts,
            drills: h.drills.clone(),
            incidents: spans,
            opts,
        }
    }

    /// Earliest deployment time of `env` (or of any env).
    fn first_ts(&self, env: Option<&str>) -> Option<i64> {
        self.facts
            .iter()
            .filter(|f| env.is_none_or(|e| f.env == e))
            .map(|f| f.ts)
            .min()
    }
}

/// A window of time: entries with `from <= ts <= to` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start, ms (inclusive); `None` = from the first deploy in scope.
    pub from: Option<i64>,
    /// End, ms (inclusive), normally "now".
    pub to: i64,
}

/// Deployment frequency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Frequency {
    /// Succeeded deploys in the window.
    pub count: u64,
    /// Window length in days used as the denominator (at least 1).
    pub days: f64,
    /// Deploys per day; `None` without deploys.
    pub per_day: Option<f64>,
    /// Target (at least, per day).
    pub target: f64,
    /// Against the target.
    pub status: Status,
}

/// A duration metric (lead time, time to restore, drill duration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// Median / p90 / count.
    #[serde(flatten)]
    pub spread: Spread,
    /// Target for the median (under, ms).
    pub target_ms: i64,
    /// Median against the target.
    pub status: Status,
}

/// Lead time for changes, with the baselines it leaves out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadTime {
    /// Statistics over the changes counted.
    #[serde(flatten)]
    pub timing: Timing,
    /// The horizon given (`--lead-time-since`), ms; `None`: the baselines' changes do not
    /// count at all.
    pub horizon_ms: Option<i64>,
    /// Each env's first succeeded deploy in scope and in the window: changes it shipped
    /// that were left out (older than the horizon, or all of them without one).
    pub baselines: Vec<Baseline>,
}

/// An env's first succeeded deploy, whose changes count for lead time only from the horizon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Baseline {
    /// Environment.
    pub env: String,
    /// Seq of the deploy.
    pub seq: u64,
    /// Changes left out.
    pub excluded: u64,
}

/// Incidents opened in the window (in scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Incidents {
    /// Opened in the window.
    pub opened: u64,
    /// Of those, resolved (as of the window's end).
    pub resolved: u64,
    /// Of those, still open.
    pub open: u64,
    /// Of those, naming no deployment: they count in no figure.
    pub without_cause: u64,
}

/// Change failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FailureRate {
    /// Deploys (succeeded + failed) in the window.
    pub deploys: u64,
    /// Deploys among them that failed, were rolled back, or were named by an incident.
    pub failures: u64,
    /// failures / deploys in percent; `None` without deploys.
    pub percent: Option<f64>,
    /// Target (under, percent).
    pub target: f64,
    /// Against the target.
    pub status: Status,
}

/// Time to restore with the failures still open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Restore {
    /// Statistics over restored failures.
    #[serde(flatten)]
    pub timing: Timing,
    /// Failures in the window not restored yet.
    pub open: u64,
}

/// Drill statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drills {
    /// Drills in the window.
    pub count: u64,
    /// With outcome `pass`.
    pub passed: u64,
    /// passed / count in percent; `None` without drills.
    pub pass_rate: Option<f64>,
    /// Target (at least, percent).
    pub target_pass_rate: f64,
    /// Pass rate against its target.
    pub pass_status: Status,
    /// Duration of the drills' checks.
    pub duration: Timing,
}

/// Merges shipped in the window by succeeded or failed deploys (`merges` of `append deploy
/// --repo`), and those that went past the gate: no `merge` entry records them (pushed to the
/// branch directly). They earn no trust (docs/trust.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Merges {
    /// Merges shipped.
    pub shipped: u64,
    /// Of those, not recorded by a `merge` entry.
    pub ungated: u64,
}

/// Rework rate (added by the 2024 DORA report): deployments made while an earlier deployment
/// of their env was failed and not yet restored (fixes, forward or failed again), of all
/// deployments in the window. No target: DORA gives none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rework {
    /// Deployments (succeeded + failed) in the window.
    pub deploys: u64,
    /// Of those, rework.
    pub rework: u64,
    /// rework / deploys in percent; `None` without deploys.
    pub percent: Option<f64>,
}

/// Every metric for one env (or all) and one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Env filter, if any.
    pub env: Option<String>,
    /// Window start actually used (ms), `None` when there is no data to start from.
    pub from_ms: Option<i64>,
    /// Window end (ms).
    pub to_ms: i64,
    /// Deployment frequency.
    pub deployment_frequency: Frequency,
    /// Lead time for changes.
    pub lead_time: LeadTime,
    /// Change failure rate.
    pub change_failure_rate: FailureRate,
    /// Time to restore.
    pub time_to_restore: Restore,
    /// Drills.
    pub drills: Drills,
    /// Merges shipped, and those past the gate.
    pub merges: Merges,
    /// Incidents opened in the window.
    pub incidents: Incidents,
    /// Rework rate.
    pub rework: Rework,
    /// DORA performance level of each key metric ([`super::levels`]).
    pub levels: Levels,
}

/// Compute the metrics of `env` (all envs when `None`) over `window`.
pub fn compute(a: &Analysis, env: Option<&str>, window: Window, t: &Targets) -> Metrics {
    let from = window.from.or_else(|| a.first_ts(env));
    let in_window = |ts: i64, e: &str| {
        env.is_none_or(|x| x == e) && from.is_none_or(|f| ts >= f) && ts <= window.to
    };
    let mut succeeded = 0u64;
    let mut deploys = 0u64;
    let mut failures = 0u64;
    let mut rework = 0u64;
    let mut open = 0u64;
    let mut lead = Vec::new();
    let mut restore = Vec::new();
    let mut merges = Merges {
        shipped: 0,
        ungated: 0,
    };
    let mut baselines = Vec::new();
    for f in a.facts.iter().filter(|f| in_window(f.ts, &f.env)) {
        deploys += 1;
        rework += u64::from(f.rework);
        if let Some(excluded) = f.baseline_excluded {
            baselines.push(Baseline {
                env: f.env.clone(),
                seq: f.seq,
                excluded,
            });
        }
        merges.shipped += f.merges;
        merges.ungated += f.ungated_merges;
        if f.succeeded {
            succeeded += 1;
            lead.extend_from_slice(&f.lead_ms);
        }
        if f.failure {
            failures += 1;
            match f.restore_ms {
                Some(r) => restore.push(r),
                None => open += 1,
            }
        }
    }
    let days = match from {
        Some(f) => ((window.to - f) as f64 / DAY_MS as f64).max(1.0),
        None => 1.0,
    };
    let per_day = (succeeded > 0).then(|| succeeded as f64 / days);
    let percent = (deploys > 0).then(|| failures as f64 * 100.0 / deploys as f64);
    let lead = spread(lead);
    let restore = spread(restore);
    let drills: Vec<&Drill> = a
        .drills
        .iter()
        .filter(|d| {
            env.is_none_or(|x| d.env.as_deref() == Some(x))
                && from.is_none_or(|f| d.ts >= f)
                && d.ts <= window.to
        })
        .collect();
    let passed = drills
        .iter()
        .filter(|d| d.outcome == DrillOutcome::Pass)
        .count() as u64;
    let pass_rate = (!drills.is_empty()).then(|| passed as f64 * 100.0 / drills.len() as f64);
    let mut incidents = Incidents {
        opened: 0,
        resolved: 0,
        open: 0,
        without_cause: 0,
    };
    for sp in a
        .incidents
        .iter()
        .filter(|sp| in_window(sp.opened, &sp.env))
    {
        incidents.opened += 1;
        match sp.resolved {
            Some(t) if t <= window.to => incidents.resolved += 1,
            _ => incidents.open += 1,
        }
        if sp.cause.is_none() {
            incidents.without_cause += 1;
        }
    }
    let dur = spread(
        drills
            .iter()
            .map(|d| i64::try_from(d.duration_ms).unwrap_or(i64::MAX))
            .collect(),
    );
    let mut m = Metrics {
        env: env.map(str::to_string),
        from_ms: from,
        to_ms: window.to,
        deployment_frequency: Frequency {
            count: succeeded,
            days,
            per_day,
            target: t.min_deploys_per_day,
            status: status_at_least(per_day, t.min_deploys_per_day),
        },
        lead_time: LeadTime {
            timing: Timing {
                spread: lead,
                target_ms: t.max_lead_time_ms,
                status: status_under(lead.median_ms, t.max_lead_time_ms),
            },
            horizon_ms: a.opts.lead_time_since,
            baselines,
        },
        change_failure_rate: FailureRate {
            deploys,
            failures,
            percent,
            target: t.max_change_failure_rate,
            status: status_under(percent, t.max_change_failure_rate),
        },
        time_to_restore: Restore {
            timing: Timing {
                spread: restore,
                target_ms: t.max_time_to_restore_ms,
                status: status_under(restore.median_ms, t.max_time_to_restore_ms),
            },
            open,
        },
        drills: Drills {
            count: drills.len() as u64,
            passed,
            pass_rate,
            target_pass_rate: t.min_drill_pass_rate,
            pass_status: status_at_least(pass_rate, t.min_drill_pass_rate),
            duration: Timing {
                spread: dur,
                target_ms: t.max_drill_duration_ms,
                status: status_under(dur.median_ms, t.max_drill_duration_ms),
            },
        },
        merges,
        incidents,
        rework: Rework {
            deploys,
            rework,
            percent: (deploys > 0).then(|| rework as f64 * 100.0 / deploys as f64),
        },
        levels: Levels {
            deployment_frequency: None,
            lead_time: None,
            change_failure_rate: None,
            time_to_restore: None,
        },
    };
    m.levels = levels::of(&m);
    m
}

/// Metrics per bucket of `bucket_ms` ending at `to`, oldest first, `buckets` of them.
pub fn series(
    a: &Analysis,
    env: Option<&str>,
    to: i64,
    bucket_ms: i64,
    buckets: u32,
    t: &Targets,
) -> Vec<Metrics> {
    (0..i64::from(buckets))
        .rev()
        .map(|i| {
            let end = to - i * bucket_ms;
            // Inclusive ends would count a deploy at a boundary twice: end one ms early.
            compute(
                a,
                env,
                Window {
                    from: Some(end - bucket_ms + 1),
                    to: end,
                },
                t,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_data_is_not_a_division_by_zero() {
        let a = Analysis::new(&History::default());
        let m = compute(
            &a,
            Some("prod"),
            Window {
                from: None,
                to: 1000,
            },
            &Targets::default(),
        );
        assert_eq!(m.deployment_frequency.per_day, None);
        assert_eq!(m.deployment_frequency.status, Status::NoData);
        assert_eq!(m.change_failure_rate.percent, None);
        assert_eq!(m.lead_time.timing.spread.median_ms, None);
        assert_eq!(m.time_to_restore.timing.status, Status::NoData);
        assert_eq!(m.drills.pass_rate, None);
    }
}
