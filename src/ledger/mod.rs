//! The log itself: entries, storage, reading and verification.

pub mod body;
pub mod entry;
pub mod fastline;
pub mod index;
pub mod keyring;
pub(crate) mod read;
pub mod reader;
pub mod store;
pub mod tlog;
pub mod verify;

pub use body::Kind;
pub use entry::Entry;
pub use store::{Draft, Ledger, Tail};
