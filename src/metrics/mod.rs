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
//!   whose `version` equals `from_version`, or none. The rule is [`crate::rollback::undone`],
//!   shared with the trust scores and `append rollback`.
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

mod compute;
mod history;
mod present;
mod stats;
mod targets;

pub use compute::{
    compute, series, Analysis, Drills, FailureRate, Frequency, Metrics, Restore, Timing, Window,
};
pub use history::{parse_time, Deploy, DeployStatus, Drill, DrillOutcome, History, Rollback};
pub use present::{human_ms, table, Row};
pub use stats::{spread, Spread, Status};
pub use targets::{Targets, TargetsConfig};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;
