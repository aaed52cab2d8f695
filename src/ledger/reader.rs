//! Reading `ledger.jsonl` line by line with bounded memory.
//!
//! Lines are capped at [`MAX_LINE`] bytes plus the newline: a longer line is reported, never
//! buffered whole. A last line without `\n` is a torn tail and is reported as such.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Failure, Result};
use crate::ledger::entry::MAX_LINE;

/// One raw line of the ledger.
#[derive(Debug)]
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        reason = "the index reads offsets and bytes only; numbers and early ends are checked by the block reader's differential test"
    )
)]
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
    /// The file cannot be read further: an over-long line or a torn tail. Always the last item.
    End(EarlyEnd),
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
        let mut f = crate::fsutil::open_regular(path)?;
        if offset > 0 {
            f.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
        }
        // A buffer no larger than what is left to read: checking the index reads one line at
        // the tail, and a 1 MiB buffer there costs a fresh, zeroed huge page per append.
        let left = end.saturating_sub(offset);
        let cap = usize::try_from(left.clamp(8 << 10, 1 << 20)).unwrap_or(1 << 20);
        let inner = BufReader::with_capacity(cap, f.take(left));
        Ok(LineReader {
            inner,
            number,
            offset,
            done: false,
            path: path.to_path_buf(),
        })
    }

    /// Open `path` from its start, up to the length it has once no append is in progress.
    #[cfg(test)]
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
            return Ok(Some(RawLine::End(EarlyEnd::TooLong {
                number: self.number,
                offset,
            })));
        }
        Ok(Some(RawLine::End(EarlyEnd::Torn {
            number: self.number,
            offset,
            len: n as u64,
        })))
    }

    /// Byte offset of the next unread byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// The file's length taken under a shared lock: appends hold the exclusive lock while they
/// write, so this length always falls on a line boundary (or a torn tail left by a crash).
pub fn stable_len(path: &Path) -> Result<u64> {
    let f = crate::fsutil::open_regular(path)?;
    f.lock_shared().map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    // Dropping the file releases the lock.
    Ok(len)
}

/// How reading lines ended before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyEnd {
    /// A line longer than [`MAX_LINE`]; reading stops there.
    TooLong {
        /// 1-based line number.
        number: u64,
        /// Byte offset of the line's first byte.
        offset: u64,
    },
    /// Bytes after the last newline at the end of the file.
    Torn {
        /// 1-based line number.
        number: u64,
        /// Byte offset of the torn bytes.
        offset: u64,
        /// Number of torn bytes.
        len: u64,
    },
}

impl EarlyEnd {
    /// The verification failure this end stands for (`too-long` or `torn-tail`).
    pub fn failure(&self) -> Failure {
        match *self {
            EarlyEnd::TooLong { number, .. } => {
                Failure::at_line(number, None, "too-long", "line longer than 1 MiB")
            }
            EarlyEnd::Torn {
                number,
                offset,
                len,
            } => Failure::at_line(
                number,
                None,
                "torn-tail",
                format!("torn tail: {len} bytes at offset {offset} without a final newline (an interrupted append; `ledger repair --torn-tail` moves them aside)"),
            ),
        }
    }
}

/// Complete lines read in one piece: their bytes back to back (newlines included) and where
/// each line starts and ends in them.
#[derive(Debug, Default)]
pub struct Block {
    /// The block's bytes.
    pub bytes: Vec<u8>,
    /// Per line: 1-based line number, start and end (exclusive, newline excluded) in `bytes`.
    pub lines: Vec<(u64, usize, usize)>,
    /// Set when the file ends in a torn tail or an over-long line right after these lines.
    pub end: Option<EarlyEnd>,
    /// Byte offset in the file just past the block's last line.
    pub end_offset: u64,
}

/// Reads a ledger in blocks of whole lines, one buffer per block (no allocation per line).
/// Buffers handed back with [`BlockReader::recycle`] are reused.
pub struct BlockReader {
    file: std::io::Take<File>,
    /// Bytes read after the last line handed out (the start of the next line).
    carry: Vec<u8>,
    spare: Vec<Vec<u8>>,
    eof: bool,
    ended: bool,
    number: u64,
    offset: u64,
    path: std::path::PathBuf,
}

/// A block holds at most about this many bytes (whole lines; one line may cross it).
const BLOCK_BYTES: usize = 16 << 20;

/// Bytes read from the file at a time.
const READ_CHUNK: usize = 1 << 20;

impl BlockReader {
    /// Open `path` at byte `offset`, the start of line `number` + 1, up to byte `end`.
    pub fn open_at(path: &Path, offset: u64, number: u64, end: u64) -> Result<BlockReader> {
        use std::io::Seek as _;
        let mut f = crate::fsutil::open_regular(path)?;
        if offset > 0 {
            f.seek(std::io::SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(BlockReader {
            file: f.take(end.saturating_sub(offset)),
            carry: Vec::new(),
            spare: Vec::new(),
            eof: false,
            ended: false,
            number,
            offset,
            path: path.to_path_buf(),
        })
    }

    /// Give a block's buffer back for reuse.
    pub fn recycle(&mut self, block: Block) {
        if self.spare.len() < 3 {
            self.spare.push(block.bytes);
        }
    }

    /// Append up to [`READ_CHUNK`] bytes from the file to `buf`; sets `eof` on end of file.
    fn read_more(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let have = buf.len();
        buf.reserve(READ_CHUNK);
        // Into the spare capacity through `read_buf`: no zeroing of the buffer first (a
        // regular file; `take` bounds the read to one chunk). `read_to_end` retries on
        // EINTR itself.
        let got = match Read::take(&mut self.file, READ_CHUNK as u64).read_to_end(buf) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(have);
                return Err(Error::io(&self.path, e));
            }
        };
        if got == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next block: up to `max_lines` complete lines (and about 16 MiB), fewer at
    /// the end of the file or before a torn tail or an over-long line (reported in
    /// [`Block::end`], after which the reader is done). An empty block with no `end` means the
    /// file is exhausted.
    pub fn next_block(&mut self, max_lines: usize) -> Result<Block> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.reserve(BLOCK_BYTES + MAX_LINE + READ_CHUNK);
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let mut block = Block {
            end_offset: self.offset,
            ..Block::default()
        };
        if self.ended {
            return Ok(block);
        }
        // `buf[..pos]` holds the block's complete lines so far.
        let mut pos = 0usize;
        while block.lines.len() < max_lines {
            let Some(k) = memchr::memchr(b'\n', &buf[pos..]) else {
                let partial = buf.len() - pos;
                if partial > MAX_LINE {
                    block.end = Some(EarlyEnd::TooLong {
                        number: self.number + 1,
                        offset: self.offset,
                    });
                    break;
                }
                if self.eof {
                    if partial > 0 {
                        block.end = Some(EarlyEnd::Torn {
                            number: self.number + 1,
                            offset: self.offset,
                            len: partial as u64,
                        });
                    }
                    break;
                }
                if pos > 0 && buf.len() >= BLOCK_BYTES {
                    break;
                }
                self.read_more(&mut buf)?;
                continue;
            };
            if k > MAX_LINE {
                block.end = Some(EarlyEnd::TooLong {
                    number: self.number + 1,
                    offset: self.offset,
                });
                break;
            }
            self.number += 1;
            block.lines.push((self.number, pos, pos + k));
            pos += k + 1;
            self.offset += k as u64 + 1;
        }
        if block.end.is_some() {
            self.ended = true;
        } else {
            self.carry.extend_from_slice(&buf[pos..]);
        }
        buf.truncate(pos);
        block.bytes = buf;
        block.end_offset = self.offset;
        Ok(block)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests assert by panicking"
    )]
    use super::*;

    /// Everything a reader reports about a file: complete lines (number, offset, bytes), then
    /// how it ended early, if it did.
    type Seen = (Vec<(u64, u64, Vec<u8>)>, Option<EarlyEnd>);

    fn by_lines(path: &Path) -> Seen {
        let mut r = LineReader::open(path).unwrap();
        let mut lines = Vec::new();
        while let Some(raw) = r.next_line().unwrap() {
            match raw {
                RawLine::Line {
                    number,
                    offset,
                    bytes,
                } => lines.push((number, offset, bytes)),
                RawLine::End(end) => return (lines, Some(end)),
            }
        }
        (lines, None)
    }

    fn by_blocks(path: &Path, max_lines: usize) -> Seen {
        let len = std::fs::metadata(path).unwrap().len();
        let mut r = BlockReader::open_at(path, 0, 0, len).unwrap();
        let mut lines = Vec::new();
        let mut offset = 0u64;
        loop {
            let b = r.next_block(max_lines).unwrap();
            assert!(b.lines.len() <= max_lines);
            for &(n, s, e) in &b.lines {
                lines.push((n, offset + s as u64, b.bytes[s..e].to_vec()));
            }
            offset = b.end_offset;
            if b.end.is_some() {
                assert!(r.next_block(max_lines).unwrap().lines.is_empty());
                return (lines, b.end);
            }
            if b.lines.is_empty() {
                return (lines, None);
            }
            r.recycle(b);
        }
    }

    /// The block reader reports exactly what the line reader does: the same lines at the same
    /// offsets, the same torn tail or over-long line, whatever the block size and however the
    /// lines fall across read chunks.
    #[test]
    fn blocks_agree_with_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let line = |n: usize, fill: u8| {
            let mut l = vec![fill; n];
            l.push(b'\n');
            l
        };
        let mut base = Vec::new();
        for i in 0..3000usize {
            base.extend(line(1 + (i * 7919) % 1500, b'a' + (i % 26) as u8));
        }
        base.extend(line(MAX_LINE, b'x'));
        base.extend(line(0, b'-'));
        base.extend(line(700_000, b'y'));
        let cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\n".to_vec(),
            base.clone(),
            [base.clone(), b"torn".to_vec()].concat(),
            [base.clone(), vec![b'z'; MAX_LINE + 1]].concat(),
            [base.clone(), line(MAX_LINE + 1, b'z'), line(3, b'q')].concat(),
            [line(5, b'a'), line(MAX_LINE + 5, b'z'), base.clone()].concat(),
        ];
        for (k, bytes) in cases.iter().enumerate() {
            std::fs::write(&path, bytes).unwrap();
            let want = by_lines(&path);
            for max_lines in [1, 7, 64, 8192, usize::MAX] {
                assert!(
                    by_blocks(&path, max_lines) == want,
                    "case {k}, blocks of {max_lines} lines"
                );
            }
        }
    }
}
