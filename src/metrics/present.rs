//! How the metrics read to people: durations in words and the rows of the metrics table that
//! `ledger metrics` prints as text and `ledger report` as HTML.
//!
//! [`table`] is the one place the table's words are chosen: a row per metric with its value,
//! what it rests on, its target and its status. Renderers lay the rows out (and may capitalise
//! or colour them) but do not reword them.

use super::compute::Metrics;
use super::levels::Level;
use super::stats::Status;

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

/// One row of the metrics table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The metric, in lower case (`deployment frequency`).
    pub name: &'static str,
    /// Its value (`0.43 / day`, `median 30m 00s, p90 2h 00m`, `no data`).
    pub value: String,
    /// What the value rests on (`3 succeeded deploys / 7.0 days`).
    pub basis: String,
    /// The target (`>= 2 / day`, `median < 1h 00m`).
    pub target: String,
    /// The value against the target.
    pub status: Status,
    /// The DORA 2024 cluster of the value (the four key metrics only; `None` without data).
    pub level: Option<Level>,
}

fn opt_ms(v: Option<i64>) -> String {
    v.map(human_ms).unwrap_or_else(|| "no data".into())
}

fn opt_f(v: Option<f64>, digits: usize, unit: &str) -> String {
    v.map(|x| format!("{x:.digits$}{unit}"))
        .unwrap_or_else(|| "no data".into())
}

fn median_p90(median: Option<i64>, p90: Option<i64>) -> String {
    format!("median {}, p90 {}", opt_ms(median), opt_ms(p90))
}

/// The rows of the metrics table, in the order shown: deployment frequency, lead time, change
/// failure rate, (failed deployment) recovery time, rework rate, drill pass rate, drill
/// duration.
pub fn table(m: &Metrics) -> [Row; 7] {
    let f = &m.deployment_frequency;
    let l = &m.lead_time.timing;
    let c = &m.change_failure_rate;
    let r = &m.time_to_restore;
    let d = &m.drills;
    let w = &m.rework;
    let lv = &m.levels;
    [
        Row {
            name: "deployment frequency",
            value: opt_f(f.per_day, 2, " / day"),
            basis: format!("{} succeeded deploys / {:.1} days", f.count, f.days),
            target: format!(">= {} / day", f.target),
            status: f.status,
            level: lv.deployment_frequency,
        },
        Row {
            name: "lead time for changes",
            value: median_p90(l.spread.median_ms, l.spread.p90_ms),
            basis: format!("{} changes", l.spread.count),
            target: format!("median < {}", human_ms(l.target_ms)),
            status: l.status,
            level: lv.lead_time,
        },
        Row {
            name: "change failure rate",
            value: opt_f(c.percent, 1, " %"),
            basis: format!(
                "{} failed, rolled back or named by an incident / {} deployments",
                c.failures, c.deploys
            ),
            target: format!("< {} %", c.target),
            status: c.status,
            level: lv.change_failure_rate,
        },
        Row {
            name: "recovery time",
            value: median_p90(r.timing.spread.median_ms, r.timing.spread.p90_ms),
            basis: format!(
                "{} failed deployments recovered, {} open",
                r.timing.spread.count, r.open
            ),
            target: format!("median < {}", human_ms(r.timing.target_ms)),
            status: r.timing.status,
            level: lv.time_to_restore,
        },
        Row {
            name: "rework rate",
            value: opt_f(w.percent, 1, " %"),
            basis: format!(
                "{} deployed while an earlier one was failing / {} deployments",
                w.rework, w.deploys
            ),
            target: "none (DORA gives none)".to_string(),
            status: Status::NoTarget,
            level: None,
        },
        Row {
            name: "drill pass rate",
            value: opt_f(d.pass_rate, 1, " %"),
            basis: format!("{} passed / {} drills", d.passed, d.count),
            target: format!(">= {} %", d.target_pass_rate),
            status: d.pass_status,
            level: None,
        },
        Row {
            name: "drill duration",
            value: median_p90(d.duration.spread.median_ms, d.duration.spread.p90_ms),
            basis: format!("{} drills", d.duration.spread.count),
            target: format!("median < {}", human_ms(d.duration.target_ms)),
            status: d.duration.status,
            level: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(human_ms(999), "999ms");
        assert_eq!(human_ms(1_250), "1.2s");
        assert_eq!(human_ms(90_000), "1m 30s");
        assert_eq!(human_ms(3_720_000), "1h 02m");
        assert_eq!(human_ms(2 * 86_400_000 + 3 * 3_600_000), "2d 3h");
    }

    #[test]
    fn the_table_without_data() {
        use crate::metrics::{compute, Analysis, History, Targets, Window};
        let a = Analysis::new(&History::default());
        let w = Window { from: None, to: 0 };
        let rows = table(&compute(&a, None, w, &Targets::default()));
        let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "deployment frequency",
                "lead time for changes",
                "change failure rate",
                "recovery time",
                "rework rate",
                "drill pass rate",
                "drill duration"
            ]
        );
        assert!(rows
            .iter()
            .all(|r| r.status == Status::NoData || r.name == "rework rate"));
        assert_eq!(rows[0].value, "no data");
        assert_eq!(rows[0].basis, "0 succeeded deploys / 1.0 days");
        assert_eq!(rows[1].value, "median no data, p90 no data");
        assert_eq!(rows[2].target, "< 5 %");
    }
}
