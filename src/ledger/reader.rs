//! Reading `ledger.jsonl` line by line with bounded memory.
//!
//! Lines are capped at [`MAX_LINE`] bytes plus the newline: a longer line is reported, never
//! buffered whole. A last line without `\n` is a torn tail and is reported as such.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};
use crate::ledger::entry::MAX_LINE;

/// One raw line of the ledger.
#[derive(Debug)]
pub enum RawLine {
    /// A complete line (newline stripped).
    Line {
        /// 1-based line number.
        number: u64,
        /// Byte offset of the line's first byte.
        offset: u64,
        /// The bytes, without the newline.
        bytes: Vec<u8>,
    },
    /// A line longer than [`MAX_LINE`]; reading stops here.
    TooLong {
        /// 1-based line number.
        number: u64,
        /// Byte offset of the line's first byte.
        offset: u64,
    },
    /// Bytes after the last newline: a torn tail. Always the last item.
    Torn {
        /// 1-based line number.
        number: u64,
        /// Byte offset of the torn bytes.
        offset: u64,
        /// Number of torn bytes.
        len: u64,
    },
}

/// Streaming reader of raw lines.
pub struct LineReader {
    inner: BufReader<std::io::Take<File>>,
    number: u64,
    offset: u64,
    done: bool,
    path: std::path::PathBuf,
}

impl LineReader {
    /// Open `path`, starting at byte `offset` which is line `number` + 1.
    /// Reading stops at byte `end` (exclusive), so a reader can work on a consistent snapshot
    /// while appends go on.
    pub fn open_at(path: &Path, offset: u64, number: u64, end: u64) -> Result<LineReader> {
        use std::io::Seek as _;
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        if offset > 0 {
            f.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
        }
        let inner = BufReader::with_capacity(1 << 20, f.take(end.saturating_sub(offset)));
        Ok(LineReader {
            inner,
            number,
            offset,
            done: false,
            path: path.to_path_buf(),
        })
    }

    /// Open `path` from its start, up to the length it has once no append is in progress.
    pub fn open(path: &Path) -> Result<LineReader> {
        let end = stable_len(path)?;
        Self::open_at(path, 0, 0, end)
    }

    /// Next raw line, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<RawLine>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::with_capacity(512);
        let limit = (MAX_LINE + 1) as u64;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            self.done = true;
            return Ok(None);
        }
        self.number += 1;
        let offset = self.offset;
        self.offset += n as u64;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            return Ok(Some(RawLine::Line {
                number: self.number,
                offset,
                bytes: buf,
            }));
        }
        self.done = true;
        if n as u64 == limit {
            return Ok(Some(RawLine::TooLong {
                number: self.number,
                offset,
            }));
        }
        Ok(Some(RawLine::Torn {
            number: self.number,
            offset,
            len: n as u64,
        }))
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// The file's length taken under a shared lock: appends hold the exclusive lock while they
/// write, so this length always falls on a line boundary (or a torn tail left by a crash).
pub fn stable_len(path: &Path) -> Result<u64> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.lock_shared().map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    // Dropping the file releases the lock.
    Ok(len)
}
