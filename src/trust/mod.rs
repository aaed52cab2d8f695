//! Trust: scores from recorded outcomes and a policy-driven gate (DESIGN §4).
//!
//! * [`policy`] — the `[trust]` section of `config.toml` (half-life, prior, window, gates).
//! * [`model`] — facts folded from entries, merge outcomes and decayed Beta scores (pure).
//! * [`gate`] — gate evaluation (pure) and the body of the `approval` entry it records.
//! * [`cache`] — the aggregate cache keyed by the ledger head (`DIR/trust.cache`).
//!
//! Scoring needs no git: what a merge touched and what a deploy shipped are recorded at append
//! time (`ledger merge`, `append deploy --repo`, `append rollback --undoes`). The user-facing
//! description, with every body field written, is `docs/trust.md`.

pub mod cache;
pub mod gate;
pub mod model;
pub mod policy;

pub use cache::{Aggregate, CacheStatus};
pub use gate::{evaluate, Decision};
pub use model::{score, scores_of_authors, Facts, GitSignerFact, Score};
pub use policy::Policy;

pub mod json;

use crate::error::Result;
use crate::ledger::Ledger;

/// The score of `actor` (scoped to gate `scope` if given) at `now_ms`, with the ledger's policy:
/// from the gate's slice when it can answer, else from the whole facts.
pub fn score_of(
    ledger: &Ledger,
    policy: &Policy,
    actor: &str,
    scope: Option<usize>,
    now_ms: i64,
) -> Result<(Score, CacheStatus)> {
    if let Some((facts, status)) = cache::query(ledger, policy, actor, &[])? {
        return Ok((score(&facts, policy, actor, scope, now_ms), status));
    }
    let (agg, status) = cache::load(ledger, policy)?;
    Ok((score(&agg.facts, policy, actor, scope, now_ms), status))
}

/// The ledger's policy and its facts, brought up to date through the cache.
pub fn load(ledger: &Ledger) -> Result<(Policy, Aggregate, CacheStatus)> {
    let policy = Policy::from_config(ledger.config())?;
    let (agg, status) = cache::load(ledger, &policy)?;
    Ok((policy, agg, status))
}
