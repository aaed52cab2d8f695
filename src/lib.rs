//! # audit-ledger
//!
//! A tamper-evident record of a codebase's road to production: an append-only, hash-chained,
//! Ed25519-signed JSONL log (`audit/ledger.jsonl`) with an RFC 6962 Merkle tree, signed
//! checkpoints and proofs, trust scores and gates, rollback drills, DORA metrics and signed
//! release bundles. The formats are stated in each module's documentation and in
//! `docs/FORMATS.md`; the binary `ledger` is a thin layer over this library.
//!
//! Only the binary prints. Every fallible function returns [`error::Error`], whose
//! [`exit_code`](error::Error::exit_code) tells the CLI what to exit with.

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod bundle;
pub mod canonical;
pub mod checkpoint;
pub mod config;
pub mod drill;
pub mod error;
pub mod fsutil;
pub mod git;
pub mod history;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod metrics;
pub mod note;
pub mod report;
pub mod rollback;
pub mod time;
pub mod trust;

pub use error::{Error, Failure, Result};
