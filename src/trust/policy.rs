//! The trust policy: section `[trust]` of `config.toml`.
//!
//! ```toml
//! [trust]
//! half_life_days = 30.0    # evidence loses half its weight every 30 days (> 0)
//! prior_successes = 1.0    # Beta prior α: pseudo-successes every author starts with (≥ 0)
//! prior_failures = 1.0     # Beta prior β: pseudo-failures (≥ 0; α + β > 0)
//! window_hours = 72.0      # a shipped merge succeeds once deployed this long without rollback (≥ 0)
//! prior_alone = false      # false (default, fail-closed): an author with no merge of known
//!                          # outcome needs ≥ 1 approval by someone else on every gate; true:
//!                          # the prior alone may pass them
//! approval_ttl_hours = 168 # a person's approval or denial counts for this long (> 0)
//! attestors = []           # identities whose keys may vouch for an author named by hand
//!                          # (a merge bot that read the pull request's author from the forge)
//! allow_unverified = false # false (default): a decision recorded or merged on for an author
//!                          # neither a signed commit nor an attestor establishes is a deny
//! count_ungated = false    # false (default): only gated merges (recorded by `ledger merge`
//!                          # through an allowing gate) count; a merge pushed past the gate
//!                          # and shipped earns nothing. true: every merge counts (wave 1)
//!
//! [trust.default]          # gate for paths no [[trust.gates]] matches
//! min_score = 0.5          # score in [0, 1], compared in per-mille (0.5 → 500)
//! min_history = 0          # merges with a known outcome (successes + failures)
//! approvals = 0            # recorded `approval` entries (allow) by other actors on the subject
//!
//! [[trust.gates]]          # checked in file order: the FIRST gate matching a path wins
//! name = "persistence"     # defaults to the first pattern
//! paths = ["db/**", "migrations/**"]
//! min_score = 0.8
//! min_history = 5
//! approvals = 1
//! scope = "paths"          # "all" (default): the author's overall score;
//!                          # "paths": only merges that touched this gate's paths count
//! ```
//!
//! # Matching
//!
//! Each changed path is matched against the gates in file order and the **first** gate that
//! matches it governs that path (put specific gates before broad ones); a path no gate
//! matches falls to `[trust.default]`. A change must satisfy every gate that governs one of its
//! paths. Patterns are `globset` globs with `literal_separator`: `*` stays within one path
//! component, `**` crosses `/` (`src/**` matches `src/a/b.rs`; `*.rs` matches only top-level
//! files, use `**/*.rs` for any depth).
//!
//! Invalid policy (unknown field, bad glob, out-of-range number) is an input error (exit 2)
//! naming `config.toml: [trust]` and the field.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::config::{Config, CONFIG_FILE};
use crate::error::{Error, Result};

/// Most gates a policy may have (scope masks are 64-bit).
pub const MAX_GATES: usize = 63;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    half_life_days: Option<f64>,
    prior_successes: Option<f64>,
    prior_failures: Option<f64>,
    window_hours: Option<f64>,
    prior_alone: Option<bool>,
    count_ungated: Option<bool>,
    approval_ttl_hours: Option<f64>,
    #[serde(default)]
    attestors: Vec<String>,
    allow_unverified: Option<bool>,
    default: Option<RawGate>,
    #[serde(default)]
    gates: Vec<RawGate>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    name: Option<String>,
    #[serde(default)]
    paths: Vec<String>,
    min_score: Option<f64>,
    min_history: Option<u64>,
    approvals: Option<u64>,
    scope: Option<String>,
}

/// One gate.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Name (unique within the policy).
    pub name: String,
    /// Glob patterns (empty for the default gate).
    pub patterns: Vec<String>,
    /// Minimum score, per-mille.
    pub min_score_permille: u32,
    /// Minimum number of merges with a known outcome.
    pub min_history: u64,
    /// Recorded approvals by other actors required.
    pub approvals: u64,
    /// Score only merges that touched this gate's paths.
    pub scoped: bool,
    matcher: GlobSet,
}

impl Gate {
    /// True when `path` matches one of the gate's patterns.
    pub fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Half-life of evidence, in milliseconds.
    pub half_life_ms: f64,
    /// Beta prior α.
    pub prior_successes: f64,
    /// Beta prior β.
    pub prior_failures: f64,
    /// Rollback window, in milliseconds.
    pub window_ms: i64,
    /// Let an author with no merge of known outcome pass a gate on the prior alone. Off by
    /// default (fail-closed): such an author needs at least one recorded approval by someone
    /// else on every gate, whatever the gate's own `approvals`.
    pub prior_alone: bool,
    /// Count merges that did not go through the gate (wave 1's rule). Off by default: a merge
    /// earns trust only when its `merge` entry names the allowing gate decision on its source
    /// commit.
    pub count_ungated: bool,
    /// How long a person's approval (or denial) counts, in milliseconds.
    pub approval_ttl_ms: i64,
    /// Identities (normalised) whose keys may vouch for an author given by name.
    pub attestors: Vec<String>,
    /// Let a recorded decision go ahead for an author nobody established (wave 1's rule).
    pub allow_unverified: bool,
    /// Gates in file order.
    pub gates: Vec<Gate>,
    /// Gate for paths no other gate matches.
    pub default: Gate,
}

const DAY_MS: f64 = 86_400_000.0;
const HOUR_MS: f64 = 3_600_000.0;

fn bad(field: &str, msg: impl std::fmt::Display) -> Error {
    let field = format!("[trust] {field}");
    Error::malformed_at(CONFIG_FILE, None, Some(&field), msg.to_string())
}

fn number(field: &str, v: Option<f64>, default: f64, min: f64, max: f64) -> Result<f64> {
    let x = v.unwrap_or(default);
    if !x.is_finite() || x < min || x > max {
        return Err(bad(field, format!("{x} is out of range [{min}, {max}]")));
    }
    Ok(x)
}

fn build_gate(raw: &RawGate, field: &str, is_default: bool) -> Result<Gate> {
    let min_score = number(&format!("{field}.min_score"), raw.min_score, 0.5, 0.0, 1.0)?;
    if is_default && !raw.paths.is_empty() {
        return Err(bad(
            &format!("{field}.paths"),
            "the default gate has no paths (it governs unmatched paths)",
        ));
    }
    if !is_default && raw.paths.is_empty() {
        return Err(bad(
            &format!("{field}.paths"),
            "a gate needs at least one glob",
        ));
    }
    let mut b = GlobSetBuilder::new();
    for (i, p) in raw.paths.iter().enumerate() {
        let g = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                bad(
                    &format!("{field}.paths[{i}]"),
                    format!("invalid glob `{p}`: {e}"),
                )
            })?;
        b.add(g);
    }
    let matcher = b.build().map_err(|e| bad(&format!("{field}.paths"), e))?;
    let scoped = match raw.scope.as_deref() {
        None | Some("all") => false,
        Some("paths") if !is_default => true,
        Some(s) => {
            return Err(bad(
                &format!("{field}.scope"),
                format!("`{s}`: expected \"all\" or \"paths\" (not on the default gate)"),
            ))
        }
    };
    let name = match (&raw.name, is_default) {
        (_, true) => "default".to_string(),
        (Some(n), _) if !n.trim().is_empty() => n.clone(),
        (Some(_), _) => return Err(bad(&format!("{field}.name"), "empty name")),
        (None, _) => raw.paths.first().cloned().unwrap_or_default(),
    };
    Ok(Gate {
        name,
        patterns: raw.paths.clone(),
        min_score_permille: (min_score * 1000.0).round() as u32,
        min_history: raw.min_history.unwrap_or(0),
        approvals: raw.approvals.unwrap_or(0),
        scoped,
        matcher,
    })
}

impl Policy {
    /// Read and validate `[trust]` of a config (defaults when absent).
    pub fn from_config(config: &Config) -> Result<Policy> {
        let raw: RawPolicy = config.section("trust")?;
        Self::from_raw(&raw)
    }

    /// Parse a `[trust]` table given as TOML text (for tests and tools).
    pub fn from_toml(text: &str) -> Result<Policy> {
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|e| Error::malformed_at(CONFIG_FILE, None, Some("[trust]"), e.to_string()))?;
        Self::from_raw(&raw)
    }

    fn from_raw(raw: &RawPolicy) -> Result<Policy> {
        let half_life_days = number("half_life_days", raw.half_life_days, 30.0, 1e-6, 1e9)?;
        let prior_successes = number("prior_successes", raw.prior_successes, 1.0, 0.0, 1e9)?;
        let prior_failures = number("prior_failures", raw.prior_failures, 1.0, 0.0, 1e9)?;
        if prior_successes + prior_failures <= 0.0 {
            return Err(bad(
                "prior_successes",
                "prior_successes + prior_failures must be > 0",
            ));
        }
        let window_hours = number("window_hours", raw.window_hours, 72.0, 0.0, 1e6)?;
        let approval_ttl_hours = number(
            "approval_ttl_hours",
            raw.approval_ttl_hours,
            168.0,
            1e-3,
            1e6,
        )?;
        let mut attestors = Vec::with_capacity(raw.attestors.len());
        for (i, a) in raw.attestors.iter().enumerate() {
            let n = crate::trust::model::normalize_identity(a);
            if n.is_empty() {
                return Err(bad(&format!("attestors[{i}]"), "an empty identity"));
            }
            attestors.push(n);
        }
        if raw.gates.len() > MAX_GATES {
            return Err(bad(
                "gates",
                format!("{} gates, at most {MAX_GATES}", raw.gates.len()),
            ));
        }
        let mut gates = Vec::with_capacity(raw.gates.len());
        for (i, g) in raw.gates.iter().enumerate() {
            let gate = build_gate(g, &format!("gates[{i}]"), false)?;
            if gate.name == "default" || gates.iter().any(|x: &Gate| x.name == gate.name) {
                return Err(bad(
                    &format!("gates[{i}].name"),
                    format!("duplicate gate name `{}`", gate.name),
                ));
            }
            gates.push(gate);
        }
        let default = build_gate(
            raw.default.as_ref().unwrap_or(&RawGate::default()),
            "default",
            true,
        )?;
        Ok(Policy {
            half_life_ms: half_life_days * DAY_MS,
            prior_successes,
            prior_failures,
            window_ms: (window_hours * HOUR_MS).round() as i64,
            prior_alone: raw.prior_alone.unwrap_or(false),
            count_ungated: raw.count_ungated.unwrap_or(false),
            approval_ttl_ms: (approval_ttl_hours * HOUR_MS).round() as i64,
            attestors,
            allow_unverified: raw.allow_unverified.unwrap_or(false),
            gates,
            default,
        })
    }

    /// Index of the gate governing `path` (first match), or `None` for the default gate.
    pub fn gate_for(&self, path: &str) -> Option<usize> {
        self.gates.iter().position(|g| g.matches(path))
    }

    /// Bit mask of the gates whose patterns match at least one of `paths` (bit i = gate i),
    /// used to score per path scope.
    pub fn scope_mask<'a>(&self, paths: impl IntoIterator<Item = &'a str>) -> u64 {
        let mut mask = 0u64;
        for p in paths {
            for (i, g) in self.gates.iter().enumerate() {
                if g.matches(p) {
                    mask |= 1u64 << i;
                }
            }
        }
        mask
    }

    /// A string that changes whenever the scope masks would (the gates' patterns); the
    /// aggregate cache is rebuilt when it differs.
    pub fn scope_key(&self) -> String {
        let parts: Vec<String> = self
            .gates
            .iter()
            .map(|g| g.patterns.join("\u{1f}"))
            .collect();
        parts.join("\u{1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = r#"
half_life_days = 10
window_hours = 0
[[gates]]
name = "db"
paths = ["db/**", "migrations/*.sql"]
min_score = 0.8
approvals = 1
scope = "paths"
[[gates]]
name = "src"
paths = ["src/**"]
min_score = 0.6
"#;

    #[test]
    fn first_match_wins_and_default_catches_the_rest() {
        let p = Policy::from_toml(P).unwrap();
        assert_eq!(p.gate_for("db/schema.rs"), Some(0));
        assert_eq!(p.gate_for("migrations/001.sql"), Some(0));
        assert_eq!(
            p.gate_for("migrations/old/001.sql"),
            None,
            "* does not cross /"
        );
        assert_eq!(p.gate_for("src/a/b.rs"), Some(1));
        assert_eq!(p.gate_for("README.md"), None);
        assert_eq!(p.scope_mask(["db/x", "src/y"]), 0b11);
        assert_eq!(p.gates[0].min_score_permille, 800);
        assert!(p.gates[0].scoped && !p.gates[1].scoped);
        assert_eq!(p.default.min_score_permille, 500);
        assert_eq!(p.window_ms, 0);
        assert_eq!(p.half_life_ms, 10.0 * 86_400_000.0);
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let e = |t: &str| Policy::from_toml(t).unwrap_err().to_string();
        assert!(e("half_life_days = 0").contains("half_life_days"));
        assert!(e("[[gates]]\npaths = [\"a[\"]").contains("gates[0].paths[0]: invalid glob"));
        assert!(e("[[gates]]\npaths = [\"a\"]\nmin_score = 1.5").contains("gates[0].min_score"));
        assert!(e("[[gates]]\nname = \"x\"").contains("gates[0].paths"));
        assert!(e("bogus = 1").contains("unknown field"));
        assert!(e("prior_successes = 0\nprior_failures = 0").contains("must be > 0"));
        assert!(e("[[gates]]\npaths=[\"a\"]\nscope=\"x\"").contains("scope"));
        assert!(
            e("[[gates]]\nname=\"a\"\npaths=[\"a\"]\n[[gates]]\nname=\"a\"\npaths=[\"b\"]")
                .contains("duplicate")
        );
    }
}
