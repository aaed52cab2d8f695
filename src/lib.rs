//! # audit-ledger
//!
//! A tamper-evident record of a codebase's road to production: an append-only, hash-chained,
//! Ed25519-signed JSONL log (`audit/ledger.jsonl`) with an RFC 6962 Merkle tree, signed
//! checkpoints and proofs, trust scores and gates, rollback drills, DORA metrics and signed
//! release bundles. Each format is stated in the documentation of its module (entries in
//! [`ledger::entry`], bodies in [`ledger::body`], batches in [`ledger::batch`], the tree in
//! [`merkle`], notes and checkpoints in [`note`] and [`checkpoint`], the index in
//! [`ledger::index`], bundles in [`bundle`]); `docs/` describes them for people.
//!
//! # Layers
//!
//! * **Use cases** — [`flow`]: append (with attribution), keys, verify, proofs, the trust gate
//!   (query and record), the gated merge, drills, bundles. Each is one call that prints
//!   nothing and returns a typed outcome or a typed [`Error`].
//! * **The write path** — [`Recorder`]: the only way anything is appended (settings re-read
//!   under the lock, signer checked, bodies validated, index updated, checkpoint refreshed).
//! * **Domain** — [`ledger`] (entries, storage, verification), [`trust`], [`metrics`],
//!   [`drill`], [`bundle`], [`git`], [`keys`], [`config`]: formats and pure logic, with the
//!   I/O in thin modules around them.
//!
//! Only the binary prints. Every fallible function returns [`Error`], whose variants say what
//! went wrong (see its table for exit codes and HTTP statuses).

#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests assert by panicking"
    )
)]

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod config;
pub mod drill;
pub mod error;
pub mod flow;
pub(crate) mod fsutil;
/// Reading what a caller hands in — a path argument, stdin, a request body — the way the
/// library reads its own files: regular files only (a FIFO, device, socket or directory is
/// refused at once, [`Error::NotAFile`]) and never more than a stated bound.
pub mod input {
    pub use crate::fsutil::{open_regular, read_bounded, read_stream_text, read_text_bounded};
}
pub mod git;
pub mod history;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod metrics;
pub mod note;
pub mod report;
pub mod rollback;
#[cfg(feature = "serve")]
pub mod serve;
pub mod time;
pub mod trust;

pub use error::{Error, Failure, Result};
pub use keys::Signer;
pub use ledger::{Draft, Entry, Kind, Ledger, Recorded, Recorder};
