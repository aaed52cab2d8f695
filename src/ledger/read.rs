//! The one structural reader of `ledger.jsonl`: every reader of the history that is not
//! `ledger verify` ([`Ledger::scan`], [`crate::history::scan`], the trust cache) goes through
//! [`scan`].
//!
//! It checks what makes a log well formed, without signatures (that is
//! [`crate::ledger::verify`]): the line limit and the torn tail ([`BlockReader`]), each line's
//! form, canonical bytes and leaf hash (the caller's [`Parse`]), and in log order `seq` without
//! gaps and the `prev` chain. Lines are read in blocks into one reused buffer and parsed on all
//! cores while the next block is read; the order-dependent checks and the caller's callback then
//! run in log order, so the failure reported is always the first bad line, and a callback that
//! returns an error stops the scan there.
//!
//! Reading can start in the middle of the log ([`Position`]), e.g. after what a cache already
//! holds; the first line read must then carry the expected seq and chain to the given hash.

use rayon::prelude::*;

use crate::error::{Error, Failure, Result};
use crate::ledger::entry::{Entry, LineError, ZERO_HASH};
use crate::ledger::reader::{Block, BlockReader};
use crate::ledger::store::Ledger;

/// Lines per block read.
const BLOCK_LINES: usize = 16_384;
/// Lines per unit of parallel work.
const CHUNK: usize = 1024;

/// A point between two lines of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// Byte offset of the next line.
    pub(crate) offset: u64,
    /// Entries before it: the seq the next line must have (and its line number minus one).
    pub(crate) next_seq: u64,
    /// Hash of the entry before it (zeros at the start).
    pub(crate) prev: [u8; 32],
}

impl Position {
    /// The start of the log.
    pub(crate) const START: Position = Position {
        offset: 0,
        next_seq: 0,
        prev: ZERO_HASH,
    };
}

/// A line's outcome from [`Parse::parse`].
type Parsed<'a, P> = std::result::Result<(Head, <P as Parse>::Item<'a>), LineError>;

/// What the chain checks need of a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) prev: [u8; 32],
    pub(crate) hash: [u8; 32],
}

/// Checks one line on its own (form, canonical bytes, leaf hash) and extracts what the caller
/// needs of it. Runs on the pool, so it must not depend on other lines.
pub(crate) trait Parse: Sync {
    /// What the callback gets for a line; it may borrow the line.
    type Item<'a>: Send;
    /// Check `line` (without its newline).
    fn parse<'a>(&self, line: &'a [u8]) -> std::result::Result<(Head, Self::Item<'a>), LineError>;
}

/// Whole entries, from the reference parser.
pub(crate) struct Entries;

impl Parse for Entries {
    type Item<'a> = Entry;
    fn parse(&self, line: &[u8]) -> std::result::Result<(Head, Entry), LineError> {
        let e = Entry::parse_line(line)?;
        let head = Head {
            seq: e.seq,
            prev: e.prev,
            hash: e.hash,
        };
        Ok((head, e))
    }
}

/// Every entry of the ledger, in seq order, through `f`, up to the log's length once no append
/// is in progress.
pub(crate) fn entries(ledger: &Ledger, f: impl FnMut(Entry) -> Result<()>) -> Result<()> {
    let end = crate::ledger::reader::stable_len(&ledger.log_path())?;
    scan(ledger, Position::START, end, &Entries, f).map(|_| ())
}

fn fail(line: u64, seq: Option<u64>, code: &'static str, reason: impl Into<String>) -> Failure {
    Failure::at_line(line, seq, code, reason)
}

/// Read the lines from `from` up to byte `end` (exclusive), check them, and call `f` with each
/// line's item in log order. Returns the position after the last line read.
pub(crate) fn scan<P: Parse>(
    ledger: &Ledger,
    from: Position,
    end: u64,
    parser: &P,
    mut f: impl for<'a> FnMut(P::Item<'a>) -> Result<()>,
) -> Result<Position> {
    let path = ledger.log_path();
    let file = path.display().to_string();
    let mut reader = BlockReader::open_at(&path, from.offset, from.next_seq, end)?;
    let mut at = from;
    let mut block = reader.next_block(BLOCK_LINES)?;
    while !block.lines.is_empty() || block.end.is_some() {
        let last = block.end.is_some();
        // Parse this block on the pool while this thread reads the next one.
        let (parsed, next) = rayon::join(
            || parse_block(&block, parser),
            || {
                if last {
                    Ok(Block::default())
                } else {
                    reader.next_block(BLOCK_LINES)
                }
            },
        );
        for ((number, _, _), p) in block.lines.iter().zip(parsed.into_iter().flatten()) {
            let (head, item) =
                p.map_err(|le| Error::verify(&file, fail(*number, le.seq, le.code, le.reason)))?;
            if head.seq != at.next_seq {
                let why = format!("expected seq {}", at.next_seq);
                return Err(Error::verify(
                    &file,
                    fail(*number, Some(head.seq), "bad-seq", why),
                ));
            }
            if head.prev != at.prev {
                let why = "prev does not match the previous entry's hash";
                return Err(Error::verify(
                    &file,
                    fail(*number, Some(head.seq), "broken-chain", why),
                ));
            }
            at.next_seq += 1;
            at.prev = head.hash;
            f(item)?;
        }
        if let Some(stop) = block.end {
            return Err(Error::verify(&file, stop.failure()));
        }
        at.offset = block.end_offset;
        let next = next?;
        reader.recycle(std::mem::replace(&mut block, next));
    }
    Ok(at)
}

/// Parse a block's lines in parallel; the results in line order, chunk by chunk.
fn parse_block<'b, P: Parse>(block: &'b Block, parser: &P) -> Vec<Vec<Parsed<'b, P>>> {
    block
        .lines
        .par_chunks(CHUNK)
        .map(|chunk| {
            chunk
                .iter()
                .map(|&(_, start, end)| {
                    parser.parse(block.bytes.get(start..end).unwrap_or_default())
                })
                .collect()
        })
        .collect()
}

impl Ledger {
    /// Read and structurally check every entry (form, canonical bytes, hashes, seq and chain),
    /// without signature checks. For consumers (trust, metrics) that need the history; auditors
    /// use [`crate::ledger::verify`].
    pub fn read_entries(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.scan(|e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Stream every entry through `f`, in seq order, with the same checks as
    /// [`Ledger::read_entries`] (those of the crate's one structural reader). An error from `f` stops the
    /// scan and is returned.
    pub fn scan(&self, f: impl FnMut(Entry) -> Result<()>) -> Result<()> {
        entries(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Draft, Kind};
    use serde_json::json;

    fn ledger(n: u64) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "test.example/read", false).unwrap();
        let drafts = (0..n)
            .map(|i| Draft {
                kind: Kind::Event,
                actor: "ci".into(),
                body: json!({"type": "t", "data": {"i": i}}),
            })
            .collect();
        crate::ledger::Recorder::new(&l, None)
            .record(drafts)
            .unwrap();
        (dir, l)
    }

    /// Replace the data of entry `i` (keeping the line valid JSON), which breaks its hash.
    fn tamper(l: &Ledger, i: u64) {
        let path = l.log_path();
        let text = std::fs::read_to_string(&path).unwrap();
        let from = format!("\"data\":{{\"i\":{i}}}");
        let bad = text.replacen(&from, "\"data\":{\"i\":-1}", 1);
        assert_ne!(bad, text);
        std::fs::write(&path, bad).unwrap();
    }

    fn first_failure(l: &Ledger) -> (Option<u64>, &'static str) {
        let err = entries(l, |_| Ok(())).unwrap_err();
        let (_, f) = err.verify_failure().expect("a verification failure");
        (f.line, f.code)
    }

    /// The first bad line in log order is reported, whichever block or chunk it falls in and
    /// whatever follows it (another bad line, a torn tail).
    #[test]
    fn the_first_bad_line_is_reported() {
        let (_d, l) = ledger(BLOCK_LINES as u64 + 3 * CHUNK as u64);
        let late = BLOCK_LINES as u64 + 2 * CHUNK as u64 + 5;
        tamper(&l, late);
        assert_eq!(first_failure(&l), (Some(late + 1), "bad-hash"));
        tamper(&l, 2 * CHUNK as u64 + 1);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(l.log_path())
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"torn").unwrap();
        assert_eq!(first_failure(&l), (Some(2 * CHUNK as u64 + 2), "bad-hash"));
    }

    #[test]
    fn a_torn_tail_ends_the_scan_after_the_lines_before_it() {
        let (_d, l) = ledger(10);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(l.log_path())
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"torn").unwrap();
        let mut seen = 0;
        let err = entries(&l, |_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
        assert_eq!(seen, 10);
        assert_eq!(err.verify_failure().unwrap().1.code, "torn-tail");
    }

    #[test]
    fn an_error_from_the_callback_stops_the_scan() {
        let (_d, l) = ledger(3000);
        let mut seen = Vec::new();
        let err = entries(&l, |e| {
            seen.push(e.seq);
            if e.seq == 1500 {
                return Err(Error::NotFound("stop".into()));
            }
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
        assert_eq!(seen, (0..=1500).collect::<Vec<_>>());
    }

    /// Reading from a position in the middle continues the chain from there, and refuses a
    /// position whose hash is not the previous entry's.
    #[test]
    fn scan_from_a_position() {
        let (_d, l) = ledger(50);
        let end = std::fs::metadata(l.log_path()).unwrap().len();
        let all = l.read_entries().unwrap();
        let mut offset = 0u64;
        for e in &all[..20] {
            offset += e.to_line().len() as u64 + 1;
        }
        let from = Position {
            offset,
            next_seq: 20,
            prev: all[19].hash,
        };
        let mut seqs = Vec::new();
        let at = scan(&l, from, end, &Entries, |e| {
            seqs.push(e.seq);
            Ok(())
        })
        .unwrap();
        assert_eq!(seqs, (20..50).collect::<Vec<_>>());
        assert_eq!(
            at,
            Position {
                offset: end,
                next_seq: 50,
                prev: all[49].hash
            }
        );
        let wrong = Position {
            prev: all[18].hash,
            ..from
        };
        let err = scan(&l, wrong, end, &Entries, |_| Ok(())).unwrap_err();
        let (_, f) = err.verify_failure().unwrap();
        assert_eq!((f.line, f.code), (Some(21), "broken-chain"));
        let err = scan(
            &l,
            Position {
                next_seq: 21,
                ..from
            },
            end,
            &Entries,
            |_| Ok(()),
        );
        assert_eq!(err.unwrap_err().verify_failure().unwrap().1.code, "bad-seq");
    }
}
