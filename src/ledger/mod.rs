//! The log itself: entries, storage, the write path, reading and verification.
//!
//! * [`entry`], [`body`] — the entry format and the body rules (what a line is);
//! * [`store`] — the directory on disk: open, lock, whole-line writes, torn-tail repair;
//! * [`recorder`] — the one write path ([`Recorder`]): settings re-read under the lock, the
//!   signer checked, entries written, the index updated, the checkpoint refreshed;
//! * [`appender`] — the same write path for a writer that stays open (`ledger serve`): the
//!   verified state kept between group commits, the derived files brought up to date by
//!   `flush`;
//! * [`index`], [`tlog`] — the derived index, checkpoints and proofs;
//! * [`verify`] — the verifier (with its fast path `fastline` and the block `reader`).

pub mod appender;
pub mod batch;
pub mod body;
pub mod entry;
pub(crate) mod fastline;
pub mod index;
mod keyring;
pub(crate) mod read;
pub(crate) mod reader;
pub mod recorder;
pub mod state;
pub mod store;
pub mod tlog;
pub mod verify;
pub mod view;

pub use appender::{Appended, Appender};
pub use body::Kind;
pub use entry::Entry;
pub use recorder::{Checked, Recorded, Recorder, Session, SubmissionsRecorded};
pub use store::{Draft, Ledger, Submitted, Tail};
