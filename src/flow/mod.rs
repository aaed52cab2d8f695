//! The use cases: what a person, a CI step or a merge bot asks of a ledger, as library calls
//! that print nothing and return a typed outcome or a typed [`Error`](crate::Error).
//!
//! The CLI (`src/cli/`) and any service parse their input, call one function here, render the
//! outcome, and map it to an exit code or a status. A use case that can say "no" (a gate, a
//! drill) returns an outcome implementing [`Verdict`]; the caller maps `passed() == false` to
//! exit 1 in one place. Every write goes through the one write path,
//! [`Recorder`](crate::ledger::Recorder).
//!
//! | use case | function |
//! |---|---|
//! | append entries (with deploy / rollback attribution) | [`append::append`] |
//! | add or revoke a key | [`keys::add`], [`keys::revoke`] |
//! | record the signed settings (a `policy` entry) | [`policy::set`] |
//! | verify a ledger (optionally against a trusted checkpoint) | [`verify::verify`] |
//! | check a proof against a tree head | [`proof::verify_proof`] |
//! | sign a checkpoint; witness-cosign one | [`proof::checkpoint`], [`proof::cosign`] |
//! | query a trust gate; record its decision | [`gate::evaluate`], [`gate::record`], [`gate::gate`] |
//! | gated merge: preview → gate → archive → record → execute | [`merge::gated_merge`] |
//! | rollback drill (including the `last-good` target) | [`drill::prepare`], [`drill::run`] |
//! | release bundle: create and record, verify | [`bundle::create`], [`bundle::verify`] |

pub mod append;
pub mod attribution;
pub mod bundle;
pub mod drill;
pub mod gate;
pub mod keys;
pub mod merge;
pub mod policy;
pub mod policy_check;
pub mod proof;
pub mod sync;
pub mod verify;

/// An outcome that can say no: a gate's deny, a failed drill. Errors are not verdicts.
pub trait Verdict {
    /// `true` when the answer is yes (allow, pass).
    fn passed(&self) -> bool;
}
