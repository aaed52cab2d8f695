//! DORA performance levels beside each of the four key metrics.
//!
//! Source: *Accelerate State of DevOps Report 2024* (DORA, Google Cloud), the software delivery
//! performance clusters of that year's survey (share of respondents in brackets):
//!
//! | cluster | deployment frequency | change lead time | change fail rate | failed deployment recovery time |
//! |---|---|---|---|---|
//! | elite (19 %) | on demand (multiple deploys per day) | less than one day | 5 % | less than one hour |
//! | high (22 %) | between once per day and once per week | between one day and one week | 20 % | less than one day |
//! | medium (35 %) | between once per week and once per month | between one week and one month | 10 % | less than one day |
//! | low (25 %) | between once per month and once every six months | between one month and six months | 40 % | between one week and one month |
//!
//! The clusters describe teams, not single metrics, and their bands are not all contiguous, so
//! each metric is placed by these rules (stated here, in docs/metrics.md and in `--help`):
//!
//! * **Deployment frequency** (succeeded deployments per day, `d`): elite when `d > 1`, high
//!   when `d >= 1/7`, medium when `d >= 1/30`, else low.
//! * **Lead time** (median): elite under 1 day, high up to 7 days, medium up to 30 days, else
//!   low.
//! * **Change failure rate** (`p` percent): the cluster whose rate is nearest (the 2024 rates
//!   are not ordered: high 20 %, medium 10 %): elite up to 7.5 %, medium up to 15 %, high up to
//!   30 %, else low.
//! * **Recovery time** (median): elite under 1 hour, high under 1 day (the medium cluster has
//!   the same bound), else low.
//!
//! A metric without data has no level.

use serde::Serialize;

use super::compute::Metrics;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A DORA performance cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The best cluster.
    Elite,
    /// Second.
    High,
    /// Third.
    Medium,
    /// Last.
    Low,
}

impl Level {
    /// Lower-case name (`elite`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Elite => "elite",
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The level of each key metric (`None`: no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Levels {
    /// Deployment frequency.
    pub deployment_frequency: Option<Level>,
    /// Lead time for changes (median).
    pub lead_time: Option<Level>,
    /// Change failure rate.
    pub change_failure_rate: Option<Level>,
    /// Failed deployment recovery time (median).
    pub time_to_restore: Option<Level>,
}

/// Succeeded deployments per day.
pub fn of_frequency(per_day: f64) -> Level {
    if per_day > 1.0 {
        Level::Elite
    } else if per_day >= 1.0 / 7.0 {
        Level::High
    } else if per_day >= 1.0 / 30.0 {
        Level::Medium
    } else {
        Level::Low
    }
}

/// Median lead time, ms.
pub fn of_lead_time(ms: i64) -> Level {
    if ms < DAY_MS {
        Level::Elite
    } else if ms <= 7 * DAY_MS {
        Level::High
    } else if ms <= 30 * DAY_MS {
        Level::Medium
    } else {
        Level::Low
    }
}

/// Change failure rate, percent.
pub fn of_failure_rate(percent: f64) -> Level {
    if percent <= 7.5 {
        Level::Elite
    } else if percent <= 15.0 {
        Level::Medium
    } else if percent <= 30.0 {
        Level::High
    } else {
        Level::Low
    }
}

/// Median recovery time, ms.
pub fn of_recovery(ms: i64) -> Level {
    if ms < HOUR_MS {
        Level::Elite
    } else if ms < DAY_MS {
        Level::High
    } else {
        Level::Low
    }
}

/// The levels of `m`'s four key metrics.
pub fn of(m: &Metrics) -> Levels {
    Levels {
        deployment_frequency: m.deployment_frequency.per_day.map(of_frequency),
        lead_time: m.lead_time.timing.spread.median_ms.map(of_lead_time),
        change_failure_rate: m.change_failure_rate.percent.map(of_failure_rate),
        time_to_restore: m.time_to_restore.timing.spread.median_ms.map(of_recovery),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_fall_as_documented() {
        assert_eq!(of_frequency(1.01), Level::Elite);
        assert_eq!(of_frequency(1.0), Level::High);
        assert_eq!(of_frequency(1.0 / 7.0), Level::High);
        assert_eq!(of_frequency(0.1), Level::Medium);
        assert_eq!(of_frequency(1.0 / 30.0), Level::Medium);
        assert_eq!(of_frequency(0.01), Level::Low);
        assert_eq!(of_lead_time(DAY_MS - 1), Level::Elite);
        assert_eq!(of_lead_time(DAY_MS), Level::High);
        assert_eq!(of_lead_time(7 * DAY_MS), Level::High);
        assert_eq!(of_lead_time(7 * DAY_MS + 1), Level::Medium);
        assert_eq!(of_lead_time(31 * DAY_MS), Level::Low);
        assert_eq!(of_failure_rate(5.0), Level::Elite);
        assert_eq!(of_failure_rate(7.5), Level::Elite);
        assert_eq!(of_failure_rate(10.0), Level::Medium);
        assert_eq!(of_failure_rate(20.0), Level::High);
        assert_eq!(of_failure_rate(30.1), Level::Low);
        assert_eq!(of_recovery(HOUR_MS - 1), Level::Elite);
        assert_eq!(of_recovery(HOUR_MS), Level::High);
        assert_eq!(of_recovery(DAY_MS), Level::Low);
    }
}
