//! The `[metrics]` section of `config.toml`: the targets each metric is compared with.
//!
//! ```toml
//! [metrics]
//! min_deploys_per_day = 2          # deployment frequency at least this
//! max_lead_time = "1h"             # median lead time under this
//! max_change_failure_rate = 5      # percent, under this
//! max_time_to_restore = "5m"       # median time to restore under this
//! min_drill_pass_rate = 100        # percent, at least this
//! max_drill_duration = "5m"        # median drill duration under this
//! ```
//!
//! Durations use the grammar of [`crate::time::parse_duration`]; numbers are finite and
//! `>= 0`. Every key is optional (the defaults are the values above); unknown keys are errors.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
        let bad = |name: &str, reason: String| {
            Error::malformed_at(
                "config.toml",
                None,
                Some(&format!("[metrics].{name}")),
                reason,
            )
        };
        let dur = |v: &Option<String>, name: &str, def: i64| -> Result<i64> {
            match v {
                None => Ok(def),
                Some(s) => crate::time::parse_duration(s).map_err(|e| match e {
                    Error::Invalid { reason, .. } => bad(name, reason),
                    other => other,
                }),
            }
        };
        let num = |v: Option<f64>, name: &str, def: f64| -> Result<f64> {
            match v {
                None => Ok(def),
                Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
                Some(x) => Err(bad(name, format!("expected a number >= 0, found {x}"))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_time_grammar_and_errors_name_the_key() {
        let c: TargetsConfig =
            toml::from_str("max_lead_time = \"1h 30m\"\nmax_time_to_restore = \"3 minutes\"")
                .unwrap();
        let t = c.resolve().unwrap();
        assert_eq!(t.max_lead_time_ms, 90 * 60_000);
        assert_eq!(t.max_time_to_restore_ms, 3 * 60_000);
        assert_eq!(
            t.min_deploys_per_day,
            Targets::default().min_deploys_per_day
        );
        for (text, key) in [
            (
                "max_drill_duration = \"1.5m\"",
                "[metrics].max_drill_duration",
            ),
            ("max_lead_time = \"0h\"", "[metrics].max_lead_time"),
            ("min_drill_pass_rate = -1", "[metrics].min_drill_pass_rate"),
        ] {
            let c: TargetsConfig = toml::from_str(text).unwrap();
            let e = c.resolve().unwrap_err();
            assert!(matches!(e, Error::Malformed { .. }), "{e}");
            assert!(
                e.to_string().starts_with(&format!("config.toml: {key}: ")),
                "{e}"
            );
        }
    }
}
