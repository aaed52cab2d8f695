//! `ledger policy check --repo R`: the trust policy read against a repository's files, for the
//! mistakes that make a gate silently useless.
//!
//! * `matches-nothing`: a gate whose globs match no file at the revision: it guards nothing
//!   (a typo such as `db/*` for `db/**/*.sql`, or a directory that moved).
//! * `shadowed`: a gate governs none of the files it matches, because an earlier gate matches
//!   each of them first (first match wins).
//! * `order-matters`: two gates both match some files and ask for different things, so which
//!   one governs those files depends on their order in the policy; the finding names the one
//!   that wins and what the other would have asked.
//! * `admits-new-authors`: the default gate lets an author with no merge of known outcome
//!   through on the prior alone (`prior_alone = true` and a `min_score` the prior meets, with no
//!   approval required).
//! * `admits-unverified`: `allow_unverified = true` lets a recorded or merged-on decision go
//!   ahead for an author that neither a signed commit nor an attestor established.
//!
//! A finding is advice, never an error: the policy stays valid. The CLI exits 1 when there is
//! one, so a CI job can hold a policy change back.

use std::path::Path;

use crate::error::Result;
use crate::git;
use crate::trust::policy::{Gate, Policy};

/// Most example paths a finding lists.
pub const EXAMPLES: usize = 3;

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `matches-nothing`, `shadowed`, `order-matters`, `admits-new-authors` or
    /// `admits-unverified`.
    pub code: &'static str,
    /// The gate it is about.
    pub gate: String,
    /// What is wrong, for people.
    pub message: String,
    /// Up to [`EXAMPLES`] files concerned.
    pub examples: Vec<String>,
}

/// What [`check`] looked at and found.
#[derive(Debug, Clone)]
pub struct PolicyCheck {
    /// The commit whose files were matched.
    pub commit: String,
    /// Number of files at that commit.
    pub files: usize,
    /// Findings, in policy order.
    pub findings: Vec<Finding>,
}

/// Check `policy` against the files of `rev` in the repository at `repo`.
pub fn check(policy: &Policy, repo: &Path, rev: &str) -> Result<PolicyCheck> {
    let r = git::open(repo)?;
    let commit = git::resolve_commit(&r, rev)?;
    let files = git::files_at(&r, commit)?;
    Ok(PolicyCheck {
        commit: commit.to_string(),
        files: files.len(),
        findings: findings(policy, &files),
    })
}

fn asks_the_same(a: &Gate, b: &Gate) -> bool {
    a.min_score_permille == b.min_score_permille
        && a.min_history == b.min_history
        && a.approvals == b.approvals
        && a.scoped == b.scoped
}

fn asks(g: &Gate) -> String {
    format!(
        "min_score {}.{:03}, min_history {}, approvals {}{}",
        g.min_score_permille / 1000,
        g.min_score_permille % 1000,
        g.min_history,
        g.approvals,
        if g.scoped { ", scope paths" } else { "" }
    )
}

/// The findings of `policy` on `files` (paths relative to the repository root).
pub fn findings(policy: &Policy, files: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    // For each gate, the files it matches and those it governs (matches first).
    let n = policy.gates.len();
    let mut matched: Vec<Vec<&str>> = vec![Vec::new(); n];
    let mut governed: Vec<usize> = vec![0; n];
    // (earlier, later) → files both match.
    let mut overlap: std::collections::BTreeMap<(usize, usize), Vec<&str>> = Default::default();
    for f in files {
        let hits: Vec<usize> = (0..n)
            .filter(|&i| policy.gates.get(i).is_some_and(|g| g.matches(f)))
            .collect();
        if let Some(&first) = hits.first() {
            if let Some(g) = governed.get_mut(first) {
                *g += 1;
            }
        }
        for (k, &i) in hits.iter().enumerate() {
            if let Some(m) = matched.get_mut(i) {
                m.push(f);
            }
            for &j in hits.iter().skip(k + 1) {
                overlap.entry((i, j)).or_default().push(f);
            }
        }
    }
    let examples = |v: &[&str]| v.iter().take(EXAMPLES).map(|s| s.to_string()).collect();
    for (i, g) in policy.gates.iter().enumerate() {
        let m = matched.get(i).map(Vec::as_slice).unwrap_or_default();
        if m.is_empty() {
            out.push(Finding {
                code: "matches-nothing",
                gate: g.name.clone(),
                message: format!(
                    "gate `{}` ({}) matches no file: it guards nothing",
                    g.name,
                    g.patterns.join(", ")
                ),
                examples: Vec::new(),
            });
        } else if governed.get(i) == Some(&0) {
            out.push(Finding {
                code: "shadowed",
                gate: g.name.clone(),
                message: format!(
                    "gate `{}` governs none of the {} file(s) it matches: an earlier gate matches each of them first",
                    g.name,
                    m.len()
                ),
                examples: examples(m),
            });
        }
    }
    for ((i, j), both) in &overlap {
        let (Some(a), Some(b)) = (policy.gates.get(*i), policy.gates.get(*j)) else {
            continue;
        };
        if asks_the_same(a, b) {
            continue;
        }
        out.push(Finding {
            code: "order-matters",
            gate: b.name.clone(),
            message: format!(
                "{} file(s) match both `{}` ({}) and `{}` ({}); `{}` governs them because it comes first; in the other order they would need {}",
                both.len(),
                a.name,
                asks(a),
                b.name,
                asks(b),
                a.name,
                asks(b)
            ),
            examples: examples(both),
        });
    }
    let prior = policy.prior_successes / (policy.prior_successes + policy.prior_failures);
    let d = &policy.default;
    let prior_pm = (prior * 1000.0).round() as i64;
    if policy.prior_alone && d.approvals == 0 && prior_pm >= i64::from(d.min_score_permille) {
        out.push(Finding {
            code: "admits-new-authors",
            gate: d.name.clone(),
            message: format!(
                "the default gate lets an author with no merge of known outcome through on the prior alone (prior_alone = true, prior {}.{:03} ≥ min_score, no approval required)",
                prior_pm / 1000,
                prior_pm % 1000
            ),
            examples: Vec::new(),
        });
    }
    if policy.allow_unverified {
        out.push(Finding {
            code: "admits-unverified",
            gate: d.name.clone(),
            message: "allow_unverified = true: a decision recorded or merged on goes ahead for an author named by hand, whom no signed commit or attestor established".into(),
            examples: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dead_shadowed_and_order_dependent_gates_are_found() {
        let p = Policy::from_toml(
            r#"
[[gates]]
name = "src"
paths = ["src/**"]
min_score = 0.6
[[gates]]
name = "auth"
paths = ["src/auth/**"]
approvals = 1
[[gates]]
name = "db"
paths = ["db/*"]
[[gates]]
name = "docs"
paths = ["docs/**", "src/**/*.md"]
min_score = 0.6
"#,
        )
        .unwrap();
        let f = files(&[
            "src/main.rs",
            "src/auth/login.rs",
            "db/migrations/001.sql",
            "docs/a.md",
            "src/README.md",
        ]);
        let found = findings(&p, &f);
        let got: Vec<(&str, &str)> = found.iter().map(|x| (x.code, x.gate.as_str())).collect();
        assert_eq!(
            got,
            [
                ("shadowed", "auth"),
                ("matches-nothing", "db"),
                ("order-matters", "auth"),
            ],
            "src/README.md matches src and docs, which ask the same: no finding"
        );
        let ok = Policy::from_toml("[[gates]]\npaths = [\"src/**\"]").unwrap();
        assert!(findings(&ok, &f).is_empty());
        let open = Policy::from_toml("prior_alone = true").unwrap();
        assert_eq!(findings(&open, &f)[0].code, "admits-new-authors");
        let names = Policy::from_toml("allow_unverified = true").unwrap();
        assert_eq!(findings(&names, &f)[0].code, "admits-unverified");
    }
}
