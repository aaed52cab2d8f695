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
//! * `incident`: `incident` (its id), `status` (`opened` / `resolved`), `env`; optional
//!   `caused_by_seq` (the deploy that caused it), `caused_by_version`, `severity`,
//!   `external_id`, `summary`.
//! * `drill`: `outcome` (`pass` / `fail` / `timeout`), `duration_ms`; optional `env`.
//!
//! A time `T` is an RFC 3339 string (new entries: UTC with `Z`; older ones any offset) or, in
//! entries written before 2026-12, an integer number of seconds since the Unix epoch. Fields of
//! the wrong type are ignored (the entry still counts, without that detail); nothing is guessed.
//!
//! # Definitions (docs/metrics.md states them with their DORA sources and worked examples)
//!
//! * **As of**: [`History::as_of`] leaves out every entry recorded after "now" first.
//! * **Deployment**: a `deploy` entry with status `succeeded` or `failed`.
//! * **What a rollback undid**: [`crate::rollback::undone`] (its `undoes_seq`, or the newest
//!   deployment of its `from_version` to its env), shared with the trust scores and the
//!   append path.
//! * **Failed deployment**: failed, undone by a rollback, or named by an incident
//!   (`caused_by_seq`, [`History::incident_spans`]). **Change failure rate** = failed
//!   deployments ÷ deployments in the window.
//! * **Failed deployment recovery time** (`time_to_restore`): from the deploy (or, when only
//!   incidents name it, the first incident's opening) to the last incident's resolution, else
//!   the first rollback that undid it, else the next succeeded deploy or rollback of its env;
//!   clamped at 0; open failures are counted apart.
//! * **Lead time**: per succeeded deployment in the window, each change first shipped to its
//!   env: deploy time − change time (clamped at 0); each env's first succeeded deploy is a
//!   baseline whose changes count only from [`Options::lead_time_since`].
//! * **Deployment frequency** = succeeded deployments in the window ÷ max(1, window days). The
//!   window is `[since, now]`; without `since` it starts at the first deployment in scope.
//! * **Median**: middle value; for an even count the mean of the two middle values (rounded
//!   down to the millisecond). **p90**: nearest rank ⌈0.9·n⌉.
//! * **Rework rate** = deployments made while an earlier deployment of their env was failed
//!   and not yet restored (from the failure's start to its recovery, both included) ÷
//!   deployments in the window (the 2024 DORA report's fifth metric, by this ledger's causes).
//! * **Levels**: each key metric placed in a DORA 2024 cluster, [`levels`].
//! * **Drill pass rate** = drills with outcome `pass` ÷ drills, in the window; **drill
//!   duration** median and p90 over all drills in the window.
//! * With an env, only entries whose `env` equals it count.
//! * A statistic over nothing is `None` ("no data"), never a division by zero.

mod compute;
mod history;
pub mod levels;
mod present;
mod stats;
mod targets;

pub use compute::{
    compute, series, Analysis, Baseline, Drills, FailureRate, Frequency, Incidents, LeadTime,
    Metrics, Options, Restore, Rework, Timing, Window,
};
pub use history::{
    parse_time, Deploy, DeployStatus, Drill, DrillOutcome, History, Incident, IncidentSpan,
    IncidentStatus, Rollback,
};
pub use levels::{Level, Levels};
pub use present::{human_ms, table, Row};
pub use stats::{spread, Spread, Status};
pub use targets::{Targets, TargetsConfig};

/// What a caller asks of the metrics: the scope, the window, the lead-time horizon, and the
/// time they are computed as of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a> {
    /// Only this env (`None`: all).
    pub env: Option<&'a str>,
    /// Window start (ms); `None`: the first deployment in scope.
    pub since_ms: Option<i64>,
    /// "Now" (ms): the window's end, and every entry recorded after it is left out.
    pub now_ms: i64,
    /// Lead-time horizon for the baselines (ms), see [`Options::lead_time_since`].
    pub lead_time_since_ms: Option<i64>,
}

/// The figures `h` gave as of `q.now_ms`: the history cut at that time ([`History::as_of`]),
/// digested with the horizon, aggregated over the window.
pub fn of_history(h: &History, q: &Query<'_>, t: &Targets) -> Metrics {
    let h = h.as_of(q.now_ms);
    let a = Analysis::with(
        &h,
        Options {
            lead_time_since: q.lead_time_since_ms,
        },
    );
    compute(
        &a,
        q.env,
        Window {
            from: q.since_ms,
            to: q.now_ms,
        },
        t,
    )
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
