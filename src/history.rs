//! Reading a ledger's history for metrics and reports.
//!
//! [`scan`] applies the structural checks of the one reader of the log — line length, torn tail,
//! canonical form, leaf hash, body schema, `seq` without gaps and the `prev` chain — and calls
//! `f` for every entry in seq order; the failure reported is always the first bad line.
//! Signatures are not checked here (that is `ledger verify`). It is [`Ledger::scan`] for
//! callers that only look at entries.

use crate::error::Result;
use crate::ledger::{Entry, Ledger};

/// Call `f` for every entry of the ledger, in seq order, after structural checks.
pub fn scan(ledger: &Ledger, mut f: impl FnMut(&Entry)) -> Result<()> {
    ledger.scan(|e| {
        f(&e);
        Ok(())
    })
}
