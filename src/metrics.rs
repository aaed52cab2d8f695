//! DORA metrics and drill statistics computed from ledger entries. Pure: no I/O, no clock
//! (the caller passes "now"), so every number can be checked by hand. `docs/metrics.md` has
//! the same definitions with worked examples.
//!
//! # Inputs (entry bodies, DESIGN §2 plus optional fields)
//!
//! * `deploy`: `env`, `version`, `commit`, `status` (`started` / `succeeded` / `failed`);
//!   optional `changes` (array of `{"commit": "...", "time": T}`), `commit_time` (T),
//!   `strategy`, `percent`, `previous_commit`, `merges`.
//! * `rollback`: `env`, `from_version`, `to_version`, `trigger`; optional `undoes_seq` (seq of
//!   the deploy undone), `trigger_type` (`auto` / `manual`), `reason`.
//! * `drill`: `outcome` (`pass` / `fail` / `timeout`), `duration_ms`; optional `env`.
//!
//! A time `T` is an RFC 3339 string (`2026-11-22T12:00:00Z`, any offset) or an integer
//! number of seconds since the Unix epoch. Fields of the wrong type are ignored (the entry
//! still counts, without that detail); nothing is guessed.
//!
//! # Definitions
//!
//! * **Deploy**: a `deploy` entry with status `succeeded` or `failed` (a terminal entry).
//!   `started` entries open an attempt and are not counted; the attempt counts once, when its
//!   terminal entry is written.
//! * **Rolled back**: a succeeded deploy named by a later rollback's `undoes_seq`; for a
//!   rollback without `undoes_seq`, the newest earlier succeeded deploy of the rollback's env
//!   whose `version` equals `from_version`, or failing that the newest earlier succeeded deploy
//!   of that env.
//! * **Deployment frequency** = succeeded deploys in the window ÷ window length in days. The
//!   window is `[now − since, now]`; without `--since` it starts at the first deploy in scope.
//!   Windows shorter than one day count as one day, so a single deploy is not extrapolated to
//!   hundreds per day.
//! * **Lead time for changes**: for each succeeded deploy in the window, each change it
//!   shipped: deploy `ts` − change time. Changes come from `changes`; without it, from
//!   `commit_time` (one change: the deployed commit); a deploy with neither gives none. A
//!   change counts once per env, at the first succeeded deploy that shipped it (redeploys and
//!   roll-forwards do not repeat it). A change time after the deploy (clock skew) counts as 0.
//! * **Change failure rate** = (failed deploys + rolled-back succeeded deploys) ÷ deploys, in
//!   the window, in percent.
//! * **Time to restore**, per failure in the window: for a rolled-back deploy, rollback `ts` −
//!   deploy `ts`; for a failed deploy, the `ts` of the next succeeded deploy or rollback of the
//!   same env − failed `ts`. Failures not yet restored are counted as `open`, not in the
//!   statistics.
//! * **Median**: middle value; for an even count the mean of the two middle values (rounded
//!   down to the millisecond). **p90**: nearest rank, the value at rank ⌈0.9·n⌉ of the sorted
//!   list.
//! * **Drill pass rate** = drills with outcome `pass` ÷ drills, in the window; **drill
//!   duration** median and p90 over all drills in the window.
//! * With `--env`, only deploys, rollbacks and drills whose `env` equals it count.
//! * A statistic over nothing is `None` ("no data"), never a division by zero.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ledger::{Entry, Kind};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

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
                self.deploys.push(Deploy {
                    seq: e.seq,
                    ts,
                    actor: e.actor.clone(),
                    env: s(b, "env"),
                    version: s(b, "version"),
                    commit,
                    status,
                    changes,
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

    /// For each succeeded deploy that was rolled back: deploy seq → the rollback's time.
    pub fn rolled_back(&self) -> HashMap<u64, i64> {
        let mut out: HashMap<u64, i64> = HashMap::new();
        for r in &self.rollbacks {
            let target = match r.undoes_seq {
                Some(s) => Some(s),
                None => {
                    let before = self.deploys.iter().rev().filter(|d| {
                        d.seq < r.seq && d.env == r.env && d.status == DeployStatus::Succeeded
                    });
                    let by_version = before.clone().find(|d| d.version == r.from_version);
                    by_version.or_else(|| before.clone().next()).map(|d| d.seq)
                }
            };
            if let Some(t) = target {
                out.entry(t).or_insert(r.ts);
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

/// Per-deploy facts computed once over the whole history, then aggregated per window.
#[derive(Debug, Clone)]
struct Fact {
    ts: i64,
    env: String,
    succeeded: bool,
    failure: bool,
    /// Time to restore of this failure; `None` while open or when not a failure.
    restore_ms: Option<i64>,
    lead_ms: Vec<i64>,
}

/// [`History`] digested for windowed aggregation.
#[derive(Debug, Clone)]
pub struct Analysis {
    facts: Vec<Fact>,
    drills: Vec<Drill>,
    first_deploy_ts: Option<i64>,
}

impl Analysis {
    /// Digest a history (O(n log n)).
    pub fn new(h: &History) -> Analysis {
        let rolled = h.rolled_back();
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
        let mut facts = Vec::new();
        for d in &h.deploys {
            if d.status == DeployStatus::Started {
                continue;
            }
            let succeeded = d.status == DeployStatus::Succeeded;
            let rolled_ts = if succeeded {
                rolled.get(&d.seq).copied()
            } else {
                None
            };
            let failure = !succeeded || rolled_ts.is_some();
            let restore_ms = match (succeeded, rolled_ts) {
                (true, Some(t)) => Some((t - d.ts).max(0)),
                (true, None) => None,
                (false, _) => restorers.get(d.env.as_str()).and_then(|v| {
                    let i = v.partition_point(|&(seq, _)| seq <= d.seq);
                    v.get(i).map(|&(_, t)| (t - d.ts).max(0))
                }),
            };
            let mut lead_ms = Vec::new();
            if succeeded {
                for (commit, t) in &d.changes {
                    if shipped.insert((d.env.as_str(), commit.as_str())) {
                        lead_ms.push((d.ts - t).max(0));
                    }
                }
            }
            facts.push(Fact {
                ts: d.ts,
                env: d.env.clone(),
                succeeded,
                failure,
                restore_ms,
                lead_ms,
            });
        }
        let first_deploy_ts = facts.iter().map(|f| f.ts).min();
        Analysis {
            facts,
            drills: h.drills.clone(),
            first_deploy_ts,
        }
    }

    /// Earliest deploy time of `env` (or of any env).
    fn first_ts(&self, env: Option<&str>) -> Option<i64> {
        match env {
            None => self.first_deploy_ts,
            Some(e) => self.facts.iter().filter(|f| f.env == e).map(|f| f.ts).min(),
        }
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

/// Targets from `config.toml` `[metrics]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Targets {
    /// Deployment frequency at least this many per day.
    pub min_deploys_per_day: f64,
    /// Median lead time under this (ms).
    pub max_lead_time_ms: i64,
    /// Change failure rate under this (percent).
    pub max_change_failure_rate: f64,
    /// Median time to restore under this (ms).
    pub max_time_to_restore_ms: i64,
    /// Drill pass rate at least this (percent).
    pub min_drill_pass_rate: f64,
    /// Median drill duration under this (ms).
    pub max_drill_duration_ms: i64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            min_deploys_per_day: 2.0,
            max_lead_time_ms: 3_600_000,
            max_change_failure_rate: 5.0,
            max_time_to_restore_ms: 300_000,
            min_drill_pass_rate: 100.0,
            max_drill_duration_ms: 300_000,
        }
    }
}

/// The `[metrics]` section of `config.toml` as written by people (durations like `"1h"`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    /// e.g. `2` (at least two deploys a day).
    pub min_deploys_per_day: Option<f64>,
    /// e.g. `"1h"`.
    pub max_lead_time: Option<String>,
    /// Percent, e.g. `5`.
    pub max_change_failure_rate: Option<f64>,
    /// e.g. `"5m"`.
    pub max_time_to_restore: Option<String>,
    /// Percent, e.g. `100`.
    pub min_drill_pass_rate: Option<f64>,
    /// e.g. `"5m"`.
    pub max_drill_duration: Option<String>,
}

impl TargetsConfig {
    /// Resolve against the defaults; errors name the field.
    pub fn resolve(&self) -> Result<Targets> {
        let d = Targets::default();
        let dur = |v: &Option<String>, name: &str, def: i64| -> Result<i64> {
            match v {
                None => Ok(def),
                Some(s) => parse_duration(s)
                    .map_err(|e| Error::input(format!("config.toml: [metrics].{name}: {e}"))),
            }
        };
        let num = |v: Option<f64>, name: &str, def: f64| -> Result<f64> {
            match v {
                None => Ok(def),
                Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
                Some(x) => Err(Error::input(format!(
                    "config.toml: [metrics].{name}: expected a number >= 0, found {x}"
                ))),
            }
        };
        Ok(Targets {
            min_deploys_per_day: num(
                self.min_deploys_per_day,
                "min_deploys_per_day",
                d.min_deploys_per_day,
            )?,
            max_lead_time_ms: dur(&self.max_lead_time, "max_lead_time", d.max_lead_time_ms)?,
            max_change_failure_rate: num(
                self.max_change_failure_rate,
                "max_change_failure_rate",
                d.max_change_failure_rate,
            )?,
            max_time_to_restore_ms: dur(
                &self.max_time_to_restore,
                "max_time_to_restore",
                d.max_time_to_restore_ms,
            )?,
            min_drill_pass_rate: num(
                self.min_drill_pass_rate,
                "min_drill_pass_rate",
                d.min_drill_pass_rate,
            )?,
            max_drill_duration_ms: dur(
                &self.max_drill_duration,
                "max_drill_duration",
                d.max_drill_duration_ms,
            )?,
        })
    }
}

/// Parse a duration `<integer><unit>` with unit `s`, `m`, `h`, `d` or `w` (e.g. `30d`, `12h`)
/// into milliseconds.
pub fn parse_duration(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("`{s}` is not a duration like 30d, 12h, 45m, 90s or 2w");
    let unit = s.chars().last().ok_or_else(bad)?;
    let digits = s.get(..s.len() - unit.len_utf8()).ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let per = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => DAY_MS,
        'w' => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    n.checked_mul(per).filter(|&ms| ms > 0).ok_or_else(bad)
}

/// Whether a value meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Meets the target.
    Met,
    /// Misses the target.
    Missed,
    /// Nothing to measure.
    NoData,
}

fn status_at_least(v: Option<f64>, target: f64) -> Status {
    match v {
        None => Status::NoData,
        Some(x) if x >= target => Status::Met,
        Some(_) => Status::Missed,
    }
}

fn status_under<T: PartialOrd>(v: Option<T>, target: T) -> Status {
    match v {
        None => Status::NoData,
        Some(x) if x < target => Status::Met,
        Some(_) => Status::Missed,
    }
}

/// Median and p90 of a list of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Number of values.
    pub count: u64,
    /// Median (ms), `None` when there are no values.
    pub median_ms: Option<i64>,
    /// p90 by nearest rank (ms).
    pub p90_ms: Option<i64>,
}

/// Median (mean of the two middle values, rounded down, for even counts) and nearest-rank p90.
pub fn spread(mut v: Vec<i64>) -> Spread {
    v.sort_unstable();
    let n = v.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => match (v.get(n / 2 - 1), v.get(n / 2)) {
            (Some(&a), Some(&b)) => Some(a + (b - a).div_euclid(2)),
            _ => None,
        },
    };
    // Nearest rank: ceil(0.9 n), 1-based.
    let rank = (9 * n).div_ceil(10);
    let p90 = if n == 0 {
        None
    } else {
        v.get(rank.saturating_sub(1)).copied()
    };
    Spread {
        count: n as u64,
        median_ms: median,
        p90_ms: p90,
    }
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

/// Change failure rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FailureRate {
    /// Deploys (succeeded + failed) in the window.
    pub deploys: u64,
    /// Failed or rolled-back deploys among them.
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
    pub lead_time: Timing,
    /// Change failure rate.
    pub change_failure_rate: FailureRate,
    /// Time to restore.
    pub time_to_restore: Restore,
    /// Drills.
    pub drills: Drills,
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
    let mut open = 0u64;
    let mut lead = Vec::new();
    let mut restore = Vec::new();
    for f in a.facts.iter().filter(|f| in_window(f.ts, &f.env)) {
        deploys += 1;
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
    let dur = spread(
        drills
            .iter()
            .map(|d| i64::try_from(d.duration_ms).unwrap_or(i64::MAX))
            .collect(),
    );
    Metrics {
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
        lead_time: Timing {
            spread: lead,
            target_ms: t.max_lead_time_ms,
            status: status_under(lead.median_ms, t.max_lead_time_ms),
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
    }
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

/// Human form of a duration in ms: `42s`, `3m 20s`, `5h 02m`, `2d 3h`.
pub fn human_ms(ms: i64) -> String {
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms}ms")
    } else if s < 60 {
        format!("{}.{}s", s, (ms % 1000) / 100)
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_by_hand() {
        assert_eq!(
            spread(vec![]),
            Spread {
                count: 0,
                median_ms: None,
                p90_ms: None
            }
        );
        assert_eq!(
            spread(vec![5]),
            Spread {
                count: 1,
                median_ms: Some(5),
                p90_ms: Some(5)
            }
        );
        // Sorted 1,2,3,4: median (2+3)/2 = 2 (rounded down), p90 rank ceil(3.6) = 4 -> 4.
        assert_eq!(
            spread(vec![4, 1, 3, 2]),
            Spread {
                count: 4,
                median_ms: Some(2),
                p90_ms: Some(4)
            }
        );
        // 1..=10: median (5+6)/2 = 5, p90 rank 9 -> 9.
        assert_eq!(
            spread((1..=10).rev().collect()),
            Spread {
                count: 10,
                median_ms: Some(5),
                p90_ms: Some(9)
            }
        );
        // 1..=11: median 6, p90 rank ceil(9.9) = 10 -> 10.
        assert_eq!(
            spread((1..=11).collect()),
            Spread {
                count: 11,
                median_ms: Some(6),
                p90_ms: Some(10)
            }
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d"), Ok(30 * DAY_MS));
        assert_eq!(parse_duration("12h"), Ok(12 * 3_600_000));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("2w"), Ok(14 * DAY_MS));
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1.5h",
            "1y",
            "h1",
            "99999999999999999999d",
            "１d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_ms(999), "999ms");
        assert_eq!(human_ms(90_000), "1m 30s");
        assert_eq!(human_ms(3_720_000), "1h 02m");
    }

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
        assert_eq!(m.lead_time.spread.median_ms, None);
        assert_eq!(m.time_to_restore.timing.status, Status::NoData);
        assert_eq!(m.drills.pass_rate, None);
    }
}
