//! The trust gate as a use case: evaluate a change against the policy (a query that needs no
//! key and writes nothing to the ledger), and record the decision as an `approval` entry.

use serde_json::Value;
use sha2::Digest as _;

use crate::error::{Error, Result};
use crate::flow::Verdict;
use crate::ledger::body::Kind;
use crate::ledger::view::{View, ViewOptions};
use crate::ledger::{Draft, Entry, Ledger, Recorded, Recorder};
use crate::trust::{self, CacheStatus, Decision};

/// Actor recorded on approval entries written by gates, unless the caller says otherwise.
pub const GATE_RECORDER: &str = "ledger/trust-gate";

/// Largest difference between the evaluation time of a decision that is recorded (or acted
/// on) and the clock: such a decision is made now. Another time (`--at`) is for queries only:
/// scoring an author as of a date before their failures must not merge anything.
pub const PRESENT_SKEW_MS: i64 = 60_000;

/// Refuse an evaluation time that is not the present, for a decision that will be recorded.
pub fn require_present(now_ms: i64) -> Result<()> {
    let clock = chrono::Utc::now().timestamp_millis();
    if now_ms.saturating_sub(clock).abs() > PRESENT_SKEW_MS {
        return Err(Error::invalid(
            "at",
            format!(
                "{}: a decision that is recorded or acted on is made at the present time ({}); another time is for queries only (--dry-run)",
                crate::time::format_ts(now_ms),
                crate::time::format_ts(clock)
            ),
        ));
    }
    Ok(())
}

/// Who stands behind the author a gate query names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Vouch {
    /// A query (`--dry-run`): the author as named; nothing is recorded or merged on it.
    #[default]
    Query,
    /// A decision recorded with this key (none: unsigned): the author counts as established
    /// only when the key's identity is one of the policy's `attestors`
    /// ([`trust::gate::Authorship::of_recorder`]).
    Recorder(Option<String>),
}

/// A change to decide on.
#[derive(Debug, Clone)]
pub struct GateQuery {
    /// The change's author.
    pub actor: String,
    /// The paths it changes.
    pub paths: Vec<String>,
    /// What people approve (default: [`default_subject`]).
    pub subject: Option<String>,
    /// Evaluation time, ms since the epoch; later entries are ignored.
    pub now_ms: i64,
    /// What the change is beyond author and paths (a commit), for the approvals bound to it.
    pub change: trust::gate::ChangeRef,
    /// Who vouches for the author named ([`gate`] sets its recorder).
    pub vouch: Vouch,
}

fn vouched(facts: &trust::Facts, policy: &trust::Policy, q: &GateQuery, d: &mut Decision) {
    if let Vouch::Recorder(key) = &q.vouch {
        let a = trust::gate::Authorship::of_recorder(facts, policy, key.as_deref());
        d.apply_authorship(policy, &a);
    }
}

/// A decision, not yet recorded.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The decision with its evidence.
    pub decision: Decision,
    /// How the trust aggregate was obtained.
    pub cache: CacheStatus,
}

/// A decision and the `approval` entry that records it.
#[derive(Debug)]
pub struct GateOutcome {
    /// The decision with its evidence.
    pub decision: Decision,
    /// The approval entry appended.
    pub approval: Entry,
    /// What the record wrote (checkpoint, notices).
    pub recorded: Recorded,
    /// How the trust aggregate was obtained.
    pub cache: CacheStatus,
}

impl Verdict for GateOutcome {
    fn passed(&self) -> bool {
        self.decision.allow
    }
}

impl Verdict for Evaluation {
    fn passed(&self) -> bool {
        self.decision.allow
    }
}

/// Evaluate `q` against the ledger's policy and history. Writes nothing to the ledger (the
/// derived `trust.cache` may be refreshed).
pub fn evaluate(ledger: &Ledger, q: &GateQuery) -> Result<Evaluation> {
    // Normal paths first, so `./a.rs` and `a.rs` are one change with one default subject.
    let paths = trust::gate::normalize_paths(&q.paths)?;
    let subject = q
        .subject
        .clone()
        .unwrap_or_else(|| default_subject(&q.actor, &paths));
    let policy = trust::Policy::from_config(ledger.config())?;
    // One author and one subject: the slice answers without reading the whole cache.
    let keys = trust::model::change_keys(
        &q.actor,
        &paths,
        q.change.source_commit.as_deref(),
        q.change.target.as_deref(),
        q.change.diff_sha256.as_deref(),
    );
    if let Some((facts, cache)) = trust::cache::query(ledger, &policy, &q.actor, &keys)? {
        let mut decision = trust::evaluate(
            &facts, &policy, &q.actor, &paths, &subject, &q.change, q.now_ms,
        )?;
        vouched(&facts, &policy, q, &mut decision);
        return Ok(Evaluation { decision, cache });
    }
    let (agg, cache) = trust::cache::load(ledger, &policy)?;
    let mut decision = trust::evaluate(
        &agg.facts, &policy, &q.actor, &paths, &subject, &q.change, q.now_ms,
    )?;
    vouched(&agg.facts, &policy, q, &mut decision);
    Ok(Evaluation { decision, cache })
}

/// The ledger as its verified view leaves it: the view opened with the ledger handle's client
/// state (verifying what follows it), and the handle with the signed settings in force.
pub fn open_verified(ledger: Ledger) -> Result<(Ledger, View)> {
    let opts = ViewOptions {
        state: ledger.state_location().clone(),
        root_key: None,
    };
    let view = View::open(&ledger, &opts, &mut |_, _| {})?;
    let (ledger, _notices) = ledger.with_signed_policy(view.policy.as_ref())?;
    Ok((ledger, view))
}

/// Open the verified view of `ledger` and evaluate `q` on the verified history: what `trust
/// gate` does before it decides. On a first run (no client state yet, so every entry is
/// verified now) without a usable trust cache, the trust facts are folded from the very lines
/// the view verifies, in the same pass, instead of reading the ledger a second time. Returns
/// the ledger handle with the signed settings in force, the view, the notices and the
/// evaluation.
pub fn evaluate_verified(
    ledger: Ledger,
    view_opts: &ViewOptions,
    q: &GateQuery,
) -> Result<(Ledger, View, Vec<String>, Evaluation)> {
    let before = trust::Policy::from_config(ledger.config()).ok();
    let has_cache = ledger.state_dir().is_some_and(|d| {
        d.join(trust::cache::slice::SLICE_FILE).is_file()
            || d.join(trust::cache::CACHE_FILE).is_file()
    });
    let mut tap = match (&before, has_cache, ledger.state_dir()) {
        (Some(p), false, Some(_)) => Some(trust::cache::Tap::new(p)),
        _ => None,
    };
    let view = View::open_tapped(&ledger, view_opts, &mut |_, _| {}, &mut |line| {
        if let Some(t) = tap.as_mut() {
            t.line(line);
        }
    })?;
    let (ledger, mut notices) = ledger.with_signed_policy(view.policy.as_ref())?;
    notices.splice(0..0, view.notices.iter().cloned());
    if let (Some(t), Some(p0), Some(head)) = (tap, &before, view.head) {
        let same_scope = trust::Policy::from_config(ledger.config())
            .is_ok_and(|p| p.scope_key() == p0.scope_key());
        if same_scope && view.checked == view.size {
            if let Some(agg) = t.finish(view.size, view.bytes, head) {
                trust::cache::store(&ledger, &agg);
            }
        }
    }
    let e = evaluate(&ledger, q)?;
    Ok((ledger, view, notices, e))
}

/// Append the `approval` entry of `d`, with `extra` body fields (merge details), recorded by
/// `recorder` (an actor name such as [`GATE_RECORDER`]).
pub fn record(
    rec: &Recorder<'_>,
    d: &Decision,
    extra: &Value,
    recorder: &str,
) -> Result<(Entry, Recorded)> {
    // A decision is recorded only as made now: not one scored as of another time.
    for c in &d.checks {
        require_present(c.score.as_of_ms)?;
    }
    let mut body = d.entry_body();
    if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            b.insert(k.clone(), v.clone());
        }
    }
    // The policy the decision applied: the hash of its [trust] table, and the signed
    // `policy` entry it came from (none on a ledger without one: config.toml's).
    if let Some(b) = body.as_object_mut() {
        let (sha, seq) = policy_applied(rec.ledger());
        b.insert("policy_sha256".into(), Value::String(sha));
        if let Some(seq) = seq {
            b.insert("policy_seq".into(), Value::from(seq));
        }
    }
    let draft = Draft {
        kind: Kind::Approval,
        actor: recorder.to_string(),
        body,
    };
    let mut recorded = rec.record(vec![draft])?;
    let entry = recorded
        .entries
        .pop()
        .ok_or_else(|| Error::internal("the approval entry was not written"))?;
    Ok((entry, recorded))
}

/// SHA-256 (hex) of the `[trust]` table (compact JSON, keys sorted) `ledger` decides with, and the
/// seq of the signed `policy` entry it came from, if it did.
pub fn policy_applied(ledger: &Ledger) -> (String, Option<u64>) {
    let table = ledger
        .config()
        .rest
        .get("trust")
        .and_then(|t| serde_json::to_value(t).ok())
        .unwrap_or(Value::Object(Default::default()));
    // Compact JSON with sorted keys (numbers as serde_json writes them: the policy has floats).
    let bytes = serde_json::to_vec(&table).unwrap_or_default();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    (sha, ledger.signed_policy().map(|(seq, _)| seq))
}

/// Evaluate and record: the gate as `ledger trust gate` runs it.
pub fn gate(rec: &Recorder<'_>, q: &GateQuery, recorder: &str) -> Result<GateOutcome> {
    require_present(q.now_ms)?;
    // A recorded decision: its recorder vouches for the author, or nobody does.
    let q = GateQuery {
        vouch: Vouch::Recorder(rec.signer().map(|s| s.id().to_string())),
        ..q.clone()
    };
    let Evaluation { decision, cache } = evaluate(rec.ledger(), &q)?;
    let (approval, recorded) =
        record(rec, &decision, &Value::Object(Default::default()), recorder)?;
    Ok(GateOutcome {
        decision,
        approval,
        recorded,
        cache,
    })
}

/// Subject of a gate decision without an explicit one: `change:<actor>:<first 16 hex of
/// SHA-256 of the sorted paths, one per line>`, so the same change gets the same subject.
pub fn default_subject(actor: &str, paths: &[String]) -> String {
    trust::model::change_id(actor, paths)
}
