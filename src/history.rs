//! Reading a ledger's history for metrics and reports, in parallel.
//!
//! [`scan`] applies the same checks as [`Ledger::scan`] — line length, torn tail, canonical
//! form, leaf hash, body schema, `seq` without gaps and the `prev` chain — and calls `f` for
//! every entry in seq order. Lines are read sequentially in batches and parsed on all cores;
//! the chain is then checked in order, so the failure reported is always the first bad line.
//! Signatures are not checked here (that is `ledger verify`).

use rayon::prelude::*;

use crate::error::{Error, Failure, Result};
use crate::ledger::entry::ZERO_HASH;
use crate::ledger::reader::{LineReader, RawLine};
use crate::ledger::{Entry, Ledger};

/// Lines parsed per parallel batch.
const BATCH: usize = 16_384;

fn fail(line: u64, seq: Option<u64>, code: &'static str, reason: impl Into<String>) -> Failure {
    Failure::at_line(line, seq, code, reason)
}

/// Call `f` for every entry of the ledger, in seq order, after structural checks.
pub fn scan(ledger: &Ledger, mut f: impl FnMut(&Entry)) -> Result<()> {
    let path = ledger.log_path();
    let file = path.display().to_string();
    let mut reader = LineReader::open(&path)?;
    let mut prev = ZERO_HASH;
    let mut seq = 0u64;
    let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(BATCH);
    let mut end: Option<Error> = None;
    loop {
        batch.clear();
        while batch.len() < BATCH {
            match reader.next_line()? {
                None => break,
                Some(RawLine::Line { number, bytes, .. }) => batch.push((number, bytes)),
                Some(RawLine::End(stop)) => {
                    end = Some(Error::verify(&file, stop.failure()));
                    break;
                }
            }
        }
        let parsed: Vec<_> = batch
            .par_iter()
            .map(|(_, bytes)| Entry::parse_line(bytes))
            .collect();
        for ((number, _), p) in batch.iter().zip(parsed) {
            let e =
                p.map_err(|le| Error::verify(&file, fail(*number, le.seq, le.code, le.reason)))?;
            if e.seq != seq {
                return Err(Error::verify(
                    &file,
                    fail(
                        *number,
                        Some(e.seq),
                        "bad-seq",
                        format!("expected seq {seq}"),
                    ),
                ));
            }
            if e.prev != prev {
                let why = "prev does not match the previous entry's hash";
                return Err(Error::verify(
                    &file,
                    fail(*number, Some(e.seq), "broken-chain", why),
                ));
            }
            prev = e.hash;
            seq += 1;
            f(&e);
        }
        if let Some(e) = end {
            return Err(e);
        }
        if batch.len() < BATCH {
            return Ok(());
        }
    }
}
