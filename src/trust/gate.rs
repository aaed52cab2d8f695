//! Gate evaluation (pure): may `actor`'s change to `paths` go in without a human?
//!
//! Each path is governed by the first gate matching it, or the default gate (see
//! [`crate::trust::policy`]). Every governing gate must hold: the author's score (scoped to the
//! gate's paths when the gate says `scope = "paths"`) at least its `min_score`, at least
//! `min_history` merges with a known outcome, and at least `approvals` distinct people other
//! than the author whose latest word on this very change ([`ChangeRef`], the keys of
//! [`model::change_keys`]) within the policy's approval TTL is `allow`; one such person whose
//! latest word is `deny` vetoes.

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::trust::model::{self, Facts, Score};
use crate::trust::policy::{Gate, Policy};

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct GateCheck {
    /// Gate name.
    pub gate: String,
    /// Paths it governs in this change.
    pub paths: Vec<String>,
    /// The score it used.
    pub score: Score,
    /// People who approved the change (other than the author).
    pub approvers: Vec<String>,
    /// People whose latest word on the change is `deny`, with the seq of that approval entry:
    /// each one vetoes.
    pub vetoed_by: Vec<(String, u64)>,
    /// Why it failed (empty: it holds).
    pub failures: Vec<String>,
    /// Required values.
    pub min_score_permille: u32,
    /// Required history.
    pub min_history: u64,
    /// Required approvals.
    pub approvals: u64,
}

/// What a change is beyond its author and paths: the commit merged and where to, and the
/// archived diff (what `ledger merge` knows). Approvals naming any of these, or the change id
/// of the author and paths, count for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeRef {
    /// The source commit (full id).
    pub source_commit: Option<String>,
    /// The target branch.
    pub target: Option<String>,
    /// SHA-256 of the archived diff.
    pub diff_sha256: Option<String>,
}

/// How the author of a change was established. A name alone is never proof: a decision that
/// is recorded or merged on needs the author [`Authorship::Signed`] or
/// [`Authorship::Attested`], unless the policy says `allow_unverified = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorship {
    /// A query: the author as the asker named them (nothing is recorded or merged on it).
    Claimed,
    /// The change's commit carries a valid SSH signature by git-signer key `key_id`, which the
    /// ledger binds to the author's identity.
    Signed {
        /// The git-signer key.
        key_id: String,
    },
    /// A key whose identity the policy names in `[trust] attestors` (or a gate recorder of
    /// `ledger serve`) vouched for the author it named.
    Attested {
        /// Who vouched.
        by: String,
    },
    /// Nothing established the author.
    Unverified {
        /// Why not (unsigned commit, a key bound to nobody, a recorder that is no attestor).
        why: String,
    },
}

impl Authorship {
    /// The `author_verification` recorded: `ssh-signature:<key id>` or `attested:<identity>`.
    pub fn label(&self) -> Option<String> {
        match self {
            Authorship::Signed { key_id } => Some(format!("ssh-signature:{key_id}")),
            Authorship::Attested { by } => Some(format!("attested:{by}")),
            _ => None,
        }
    }

    /// How a decision recorded with key `key_id` establishes its author given by name: attested
    /// when the key's identity is one of the policy's `attestors`, unverified otherwise.
    pub fn of_recorder(facts: &Facts, policy: &Policy, key_id: Option<&str>) -> Authorship {
        let Some(k) = key_id else {
            return Authorship::Unverified {
                why: "the decision is recorded without a key".into(),
            };
        };
        match facts.identity_of(k) {
            Some(who) if policy.attestors.contains(&model::normalize_identity(who)) => {
                Authorship::Attested {
                    by: who.to_string(),
                }
            }
            Some(who) => Authorship::Unverified {
                why: format!(
                    "it is named by key {k} ({who}), which [trust] attestors does not name"
                ),
            },
            None => Authorship::Unverified {
                why: format!("it is named by key {k}, which has no identity"),
            },
        }
    }
}

/// The decision on a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Allowed.
    pub allow: bool,
    /// The change's author.
    pub actor: String,
    /// The subject: a label for people (a PR id, or the change id by default).
    pub subject: String,
    /// The change id approvals can name ([`model::change_id`]).
    pub change: String,
    /// Every path of the change.
    pub paths: Vec<String>,
    /// Reasons, in order: why denied, or why allowed; plus a note for an unknown author.
    pub reasons: Vec<String>,
    /// Verdict of each governing gate, in policy order (default last).
    pub checks: Vec<GateCheck>,
    /// How the author was established (`ssh-signature:<key>`, `attested:<identity>`), when
    /// something did.
    pub author_verification: Option<String>,
}

impl Decision {
    /// Apply how the author was established: recorded as `author_verification`; an
    /// unverified author makes the decision a deny (first reason, and a failure of the first
    /// gate) unless the policy says `allow_unverified = true`.
    pub fn apply_authorship(&mut self, policy: &Policy, a: &Authorship) {
        self.author_verification = a.label();
        if let Authorship::Unverified { why } = a {
            if policy.allow_unverified {
                return;
            }
            let reason = format!(
                "author `{}` is unverified: {why} (a commit signed by a git-signer key bound to the author, or an attestor, establishes it; [trust] allow_unverified = true lets it pass)",
                self.actor
            );
            self.allow = false;
            if let Some(c) = self.checks.first_mut() {
                c.failures.insert(0, reason.clone());
            }
            self.reasons.insert(0, reason);
        }
    }

    /// The gate that decided: the first failing one on a deny; on an allow the first governing
    /// gate in policy order (the default gate last), i.e. the most specific one when, as
    /// advised, specific gates come first.
    pub fn deciding(&self) -> Option<&GateCheck> {
        if self.allow {
            self.checks.first()
        } else {
            self.checks.iter().find(|c| !c.failures.is_empty())
        }
    }

    /// Body of the `approval` entry recording this decision (integers only).
    pub fn entry_body(&self) -> Value {
        let d = self.deciding();
        let mut body = json!({
            "subject": self.subject,
            "change": self.change,
            "decision": if self.allow { "allow" } else { "deny" },
            "reasons": self.reasons,
            "actor": self.actor,
            "paths": self.paths,
            "gates": self.checks.iter().map(|c| c.gate.clone()).collect::<Vec<_>>(),
        });
        if let Some(v) = &self.author_verification {
            body["author_verification"] = json!(v);
        }
        if let Some(d) = d {
            body["gate"] = json!(d.gate);
            body["score_permille"] = json!(d.score.permille());
            body["breakdown"] = d.score.breakdown();
            body["approvers"] = json!(d.approvers);
        }
        body
    }
}

fn fmt_pm(pm: i64) -> String {
    format!("{}.{:03}", pm / 1000, pm % 1000)
}

#[allow(
    clippy::too_many_arguments,
    reason = "the arguments are the gate, the change and the clock; a struct would only rename them"
)]
fn check(
    facts: &Facts,
    policy: &Policy,
    gate: &Gate,
    index: Option<usize>,
    actor: &str,
    keys: &[String],
    paths: Vec<String>,
    now_ms: i64,
) -> GateCheck {
    let scope = if gate.scoped { index } else { None };
    let score = model::score(facts, policy, actor, scope, now_ms);
    let (approvers, vetoed_by) = facts.verdicts(keys, actor, now_ms, policy.approval_ttl_ms);
    let mut failures = Vec::new();
    for (who, seq) in &vetoed_by {
        failures.push(format!(
            "gate `{}`: denied by {who} (approval entry seq {seq})",
            gate.name
        ));
    }
    let pm = score.permille();
    let scope_note = if gate.scoped {
        format!(" (merges touching {})", gate.patterns.join(", "))
    } else {
        String::new()
    };
    if pm < i64::from(gate.min_score_permille) {
        failures.push(format!(
            "gate `{}`: score {}{scope_note} is below {}",
            gate.name,
            fmt_pm(pm),
            fmt_pm(i64::from(gate.min_score_permille))
        ));
    }
    if score.history() < gate.min_history {
        failures.push(format!(
            "gate `{}`: history {} merge(s) with a known outcome{scope_note}, needs {}",
            gate.name,
            score.history(),
            gate.min_history
        ));
    }
    // Fail-closed: an author without a single merge of known outcome is not let through on
    // the prior alone (unless the policy says `prior_alone = true`).
    let unproven = score.history() == 0 && !policy.prior_alone;
    let required = if unproven {
        gate.approvals.max(1)
    } else {
        gate.approvals
    };
    if (approvers.len() as u64) < required {
        let on = format!("bound to {}", keys.join(" or "));
        let why = if unproven && gate.approvals == 0 {
            " (no merge of known outcome yet, so the prior alone does not pass; [trust] prior_alone = true allows it)"
        } else {
            ""
        };
        failures.push(format!(
            "gate `{}`: needs {} recorded approval(s) by other people, found {} ({on}){why}",
            gate.name,
            required,
            approvers.len()
        ));
    }
    GateCheck {
        gate: gate.name.clone(),
        paths,
        score,
        approvers,
        vetoed_by,
        failures,
        min_score_permille: gate.min_score_permille,
        min_history: gate.min_history,
        approvals: required,
    }
}

/// A changed path as a gate matches it: relative to the repository root, `/`-separated, with
/// `.` and empty components removed and `..` applied (`./auth//login.rs` and
/// `src/../auth/login.rs` are `auth/login.rs`), so no spelling of a path escapes the gate that
/// governs it. Refused: an empty path, an absolute one, one that leaves the repository
/// (`../x`), one that names the root or ends in `/` (a gate decides on files; give the files
/// changed), and one with a NUL.
pub fn normalize_path(p: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid("paths", format!("{p:?}: {why}"));
    if p.is_empty() {
        return Err(bad("empty path"));
    }
    if p.contains('\0') {
        return Err(bad("contains a NUL"));
    }
    if p.starts_with('/') {
        return Err(bad(
            "absolute; give the path relative to the repository root",
        ));
    }
    if p.ends_with('/') {
        return Err(bad("names a directory; give the files changed"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(bad("leaves the repository"));
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() || p.ends_with("/.") || p.ends_with("/..") || p == "." || p == ".." {
        return Err(bad("names a directory; give the files changed"));
    }
    Ok(parts.join("/"))
}

/// [`normalize_path`] of each path, duplicates removed, order kept.
pub fn normalize_paths(paths: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(paths.len());
    for p in paths {
        let n = normalize_path(p)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

/// Decide on `actor`'s change to `paths` at `now_ms`. `subject` is a label for people (a PR
/// id); approvals count when bound to the change itself: its change id, or what `change` says
/// it is. Paths are normalised first ([`normalize_path`]); the decision carries the normal
/// forms.
pub fn evaluate(
    facts: &Facts,
    policy: &Policy,
    actor: &str,
    paths: &[String],
    subject: &str,
    change: &ChangeRef,
    now_ms: i64,
) -> Result<Decision> {
    if actor.trim().is_empty() {
        return Err(Error::invalid("actor", "empty"));
    }
    if paths.is_empty() {
        return Err(Error::invalid("paths", "no paths to gate"));
    }
    let paths = &normalize_paths(paths)?[..];
    let keys = model::change_keys(
        actor,
        paths,
        change.source_commit.as_deref(),
        change.target.as_deref(),
        change.diff_sha256.as_deref(),
    );
    let mut by_gate: Vec<Vec<String>> = vec![Vec::new(); policy.gates.len() + 1];
    for p in paths {
        let i = policy.gate_for(p).unwrap_or(policy.gates.len());
        if let Some(v) = by_gate.get_mut(i) {
            v.push(p.clone());
        }
    }
    let mut checks = Vec::new();
    for (i, governed) in by_gate.into_iter().enumerate() {
        if governed.is_empty() {
            continue;
        }
        let (gate, index) = match policy.gates.get(i) {
            Some(g) => (g, Some(i)),
            None => (&policy.default, None),
        };
        checks.push(check(
            facts, policy, gate, index, actor, &keys, governed, now_ms,
        ));
    }
    let allow = checks.iter().all(|c| c.failures.is_empty());
    let mut reasons: Vec<String> = Vec::new();
    if let Some(c) = checks.first() {
        if !c.score.known {
            reasons.push(format!(
                "actor `{actor}` has no recorded merges: scored with the prior {} (α {}, β {})",
                fmt_pm(c.score.permille()),
                policy.prior_successes,
                policy.prior_failures
            ));
        }
    }
    for c in &checks {
        if c.failures.is_empty() {
            reasons.push(format!(
                "gate `{}`: score {} ≥ {}, history {} ≥ {}, approvals {} ≥ {}",
                c.gate,
                fmt_pm(c.score.permille()),
                fmt_pm(i64::from(c.min_score_permille)),
                c.score.history(),
                c.min_history,
                c.approvers.len(),
                c.approvals
            ));
        } else {
            reasons.extend(c.failures.iter().cloned());
        }
    }
    Ok(Decision {
        allow,
        actor: actor.to_string(),
        subject: subject.to_string(),
        change: keys.first().cloned().unwrap_or_default(),
        paths: paths.to_vec(),
        reasons,
        checks,
        author_verification: None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_normalised_before_gates_match_them() {
        for (given, normal) in [
            ("auth/login.rs", "auth/login.rs"),
            ("./auth/login.rs", "auth/login.rs"),
            ("auth//login.rs", "auth/login.rs"),
            ("src/../auth/login.rs", "auth/login.rs"),
            ("./././auth/./login.rs", "auth/login.rs"),
        ] {
            assert_eq!(normalize_path(given).unwrap(), normal, "{given}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "auth/",
            ".",
            "..",
            "a/..",
            "a\0b",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad:?} accepted");
        }
    }

    use super::*;
    use crate::ledger::body::Kind;
    use crate::trust::model::ms_ts;

    #[test]
    fn protected_path_needs_an_approval() {
        let p = Policy::from_toml(
            "window_hours = 0\n[default]\nmin_score = 0.5\n[[gates]]\nname = \"auth\"\npaths = [\"auth/**\"]\nmin_score = 0.5\napprovals = 1",
        )
        .unwrap();
        let mut f = Facts::default();
        let now = 1_700_000_000_000;
        let paths = vec!["auth/login.rs".to_string(), "README.md".to_string()];
        let pr = ChangeRef {
            source_commit: Some("c1".into()),
            target: Some("main".into()),
            diff_sha256: None,
        };
        let d = evaluate(&f, &p, "new", &paths, "S", &pr, now).unwrap();
        assert!(!d.allow);
        assert!(
            d.reasons[0].contains("no recorded merges: scored with the prior 0.500"),
            "{:?}",
            d.reasons
        );
        assert_eq!(d.deciding().unwrap().gate, "auth");
        assert_eq!(d.checks.len(), 2);
        f.apply(
            0,
            &ms_ts(now - 1),
            Kind::Approval,
            "rev",
            &json!({"subject": "S", "source_commit": "c1", "target": "main", "decision": "allow", "reasons": []}),
            &|_| 0,
        );
        let d = evaluate(&f, &p, "new", &paths, "S", &pr, now).unwrap();
        assert!(d.allow, "{:?}", d.reasons);
        // The same approval says nothing of another change (another commit, or the same paths
        // without the commit).
        let other = ChangeRef {
            source_commit: Some("c2".into()),
            ..pr.clone()
        };
        assert!(
            !evaluate(&f, &p, "new", &paths, "S", &other, now)
                .unwrap()
                .allow
        );
        assert!(
            !evaluate(&f, &p, "new", &paths, "S", &ChangeRef::default(), now)
                .unwrap()
                .allow
        );
        let body = d.entry_body();
        assert_eq!(body["gate"], "auth");
        assert_eq!(body["score_permille"], 500);
        assert!(crate::canonical::check(&body).is_ok());
        assert!(evaluate(&f, &p, "new", &[], "S", &pr, now).is_err());
    }
}
