//! `ledger.idx`: the derived index of `ledger.jsonl` — per entry its byte offset and leaf hash,
//! plus every complete Merkle subtree hash, so roots and proofs need O(log n) reads and an
//! append O(log n) work. It is never trusted: `verify` recomputes the tree from the ledger, and
//! whenever the index does not match the ledger's tail it is caught up or rebuilt.
//!
//! # Format (all integers big-endian)
//!
//! ```text
//! header  16 bytes  "AUDITLEDGERIDX01"
//! then for each entry n = 0, 1, 2, ...:
//!   offset   8 bytes   byte offset of line n in ledger.jsonl
//!   hashes   32 bytes × (1 + t(n))   leaf hash of entry n, then the hashes of the subtrees
//!                                    completed by leaf n at levels 1..=t(n), lowest first,
//!                                    where t(n) = number of trailing one bits of n
//! ```
//!
//! This is the stored-hash order of Go's `sumdb/tlog` (`StoredHashIndex`): the hash of the
//! complete subtree at `level` covering leaves `[i·2^level, (i+1)·2^level)` is stored hash number
//! `s = stored_hash_index(level, i)`, written in the record of leaf `n = (i+1)·2^level − 1`, at
//! byte `16 + 8·(n+1) + 32·s`. A file for `N` entries is `16 + 8·N + 32·(2N − popcount(N))`
//! bytes long; any other length means a torn or corrupt index.
//!
//! # When the index is used and checked
//!
//! [`Index::sync`] opens it against the ledger's tail (read under the caller's lock or as a
//! snapshot): header and length must be exact, the entry count must not exceed the ledger's,
//! and the last indexed leaf hash must equal the hash of the ledger line at the indexed offset.
//! If the ledger has a few more entries (a crash between the log's fsync and the index write),
//! only those lines are read and indexed; anything else rebuilds the whole index from the
//! ledger, and the caller is told why. Appends write the new records under the ledger's lock
//! after the log's fsync, and fsync the index too, so a checkpoint is never signed from index
//! bytes a crash could have lost.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ledger::entry::Entry;
use crate::ledger::reader::{LineReader, RawLine};
use crate::ledger::store::{Ledger, Tail};
use crate::merkle::{node_hash, Hash, HashSource};

/// File name of the index inside a ledger directory.
pub const INDEX_FILE: &str = "ledger.idx";

const MAGIC: &[u8; 16] = b"AUDITLEDGERIDX01";
const HEADER: u64 = 16;

/// Stored-hash number of the complete subtree at `level`, index `i` (Go `tlog.StoredHashIndex`).
pub fn stored_hash_index(level: u32, i: u64) -> u64 {
    // Level L's i-th hash follows level L+1's (2i+1)-th; walk down to level 0, then leaf n is
    // stored at n + n/2 + n/4 + ...; add back one slot per level climbed.
    let mut n = i;
    for _ in 0..level {
        n = 2 * n + 1;
    }
    let mut s = 0u64;
    let mut m = n;
    while m > 0 {
        s += m;
        m >>= 1;
    }
    s + u64::from(level)
}

/// Number of stored hashes for `n` leaves: 2n − popcount(n).
pub fn stored_hash_count(n: u64) -> u64 {
    2 * n - u64::from(n.count_ones())
}

/// Exact file length of an index of `n` entries.
fn file_len(n: u64) -> Option<u64> {
    HEADER
        .checked_add(n.checked_mul(8)?)?
        .checked_add(stored_hash_count(n).checked_mul(32)?)
}

/// Entry count of an index file of `len` bytes, if `len` is a valid length.
fn count_for_len(len: u64) -> Option<u64> {
    let body = len.checked_sub(HEADER)?;
    // Each entry takes between 40 and 72 bytes on average; search the exact count.
    let (mut lo, mut hi) = (body / 72, body / 40 + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if file_len(mid)? < len {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (file_len(lo)? == len).then_some(lo)
}

/// Byte position of the record (offset field) of leaf `n`.
fn record_pos(n: u64) -> u64 {
    HEADER + 8 * n + 32 * stored_hash_index(0, n)
}

/// Byte position of the subtree hash at `level`, index `i`.
fn hash_pos(level: u32, i: u64) -> u64 {
    let last_leaf = ((i + 1) << level) - 1;
    HEADER + 8 * (last_leaf + 1) + 32 * stored_hash_index(level, i)
}

/// An open, synced index.
#[derive(Debug)]
pub struct Index {
    file: File,
    path: PathBuf,
    size: u64,
    /// Hashes of the complete subtrees on the right edge: `frontier[l]` is set iff bit `l` of
    /// `size` is set.
    frontier: Vec<Option<Hash>>,
}

impl Index {
    /// Open the index of `ledger` and bring it in line with `tail`: check, catch up or rebuild.
    /// Returns the index and, when it had to be rebuilt, a message saying why.
    pub fn sync(ledger: &Ledger, tail: &Tail) -> Result<(Index, Option<String>)> {
        let path = ledger.dir().join(INDEX_FILE);
        match Self::try_open(ledger, &path, tail)? {
            Ok(ix) => Ok((ix, None)),
            Err(why) => {
                let ix = Self::rebuild(ledger, &path, tail)?;
                let msg = format!(
                    "{}: {why}; rebuilt from {} ({} entries)",
                    path.display(),
                    crate::ledger::store::LEDGER_FILE,
                    ix.size
                );
                Ok((ix, Some(msg)))
            }
        }
    }

    /// Entries indexed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root of the whole indexed tree, from the frontier (no reads).
    pub fn root(&self) -> Hash {
        let mut acc: Option<Hash> = None;
        for h in self.frontier.iter().flatten() {
            acc = Some(match acc {
                None => *h,
                Some(r) => node_hash(h, &r),
            });
        }
        acc.unwrap_or_else(crate::merkle::empty_root)
    }

    /// Byte offset of line `seq` in the ledger.
    pub fn offset(&self, seq: u64) -> Result<u64> {
        if seq >= self.size {
            return Err(Error::NotFound(format!(
                "seq {seq} is not in the ledger ({} entries)",
                self.size
            )));
        }
        let mut b = [0u8; 8];
        self.file
            .read_exact_at(&mut b, record_pos(seq))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(u64::from_be_bytes(b))
    }

    /// Hash of the complete subtree at `level`, index `i` (must be complete within `size`).
    pub fn subtree(&self, level: u32, i: u64) -> Result<Hash> {
        let complete = level < 64
            && i.checked_add(1)
                .and_then(|j| j.checked_mul(1u64 << level))
                .is_some_and(|end| end <= self.size);
        if !complete {
            return Err(Error::invalid(
                "subtree",
                format!(
                    "no complete subtree at level {level} index {i} in {} entries",
                    self.size
                ),
            ));
        }
        let mut h = [0u8; 32];
        self.file
            .read_exact_at(&mut h, hash_pos(level, i))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(h)
    }

    /// Append records for `entries` (which follow the indexed ones; `first_offset` is the byte
    /// offset of the first one, `line_lens` the length of each line with its newline), then
    /// fsync.
    pub fn append(&mut self, entries: &[(u64, Hash)]) -> Result<()> {
        let mut buf = Vec::with_capacity(entries.len() * 80);
        for (offset, leaf) in entries {
            buf.extend_from_slice(&offset.to_be_bytes());
            buf.extend_from_slice(leaf);
            let mut h = *leaf;
            let mut level = 0usize;
            while let Some(slot) = self.frontier.get_mut(level) {
                match slot.take() {
                    Some(left) => {
                        h = node_hash(&left, &h);
                        buf.extend_from_slice(&h);
                        level += 1;
                    }
                    None => break,
                }
            }
            if level == self.frontier.len() {
                self.frontier.push(None);
            }
            if let Some(slot) = self.frontier.get_mut(level) {
                *slot = Some(h);
            }
            self.size += 1;
        }
        self.file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&self.path, e))?;
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }

    /// Open and check; `Ok(Err(why))` when the index must be rebuilt.
    fn try_open(
        ledger: &Ledger,
        path: &Path,
        tail: &Tail,
    ) -> Result<std::result::Result<Index, String>> {
        let mut file =
            match crate::fsutil::open_regular_with(path, OpenOptions::new().read(true).write(true))
            {
                Ok(f) => f,
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Err("missing".into()))
                }
                Err(e) => return Err(e),
            };
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut magic = [0u8; 16];
        if len < HEADER || file.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Ok(Err("not an index file (bad header)".into()));
        }
        let Some(size) = count_for_len(len) else {
            return Ok(Err(format!(
                "torn or corrupt (length {len} fits no entry count)"
            )));
        };
        if size > tail.next_seq {
            return Ok(Err(format!(
                "stale: indexes {size} entries, the ledger has {}",
                tail.next_seq
            )));
        }
        let mut ix = Index {
            file,
            path: path.to_path_buf(),
            size,
            frontier: Vec::new(),
        };
        ix.frontier = match ix.read_frontier() {
            Ok(f) => f,
            Err(e) => return Ok(Err(format!("unreadable ({e})"))),
        };
        if size == 0 {
            if tail.next_seq == 0 {
                return Ok(Ok(ix));
            }
            return Ok(Err(format!(
                "stale: empty, the ledger has {} entries",
                tail.next_seq
            )));
        }
        // The last indexed record must describe the ledger line at its offset.
        let last = size - 1;
        let offset = ix.offset(last)?;
        let log = ledger.log_path();
        let mut reader = LineReader::open_at(&log, offset, last, tail.len)?;
        let (leaf, next_offset) = match reader.next_line()? {
            Some(RawLine::Line { bytes, .. }) => match Entry::parse_line(&bytes) {
                Ok(e) if e.seq == last => (e.hash, reader.offset()),
                _ => {
                    return Ok(Err(format!(
                        "stale: entry {last} is not at byte {offset} of the ledger"
                    )))
                }
            },
            _ => {
                return Ok(Err(format!(
                    "stale: entry {last} is not at byte {offset} of the ledger"
                )))
            }
        };
        if ix.subtree(0, last)? != leaf {
            return Ok(Err(format!(
                "stale: leaf hash of entry {last} differs from the ledger"
            )));
        }
        if size == tail.next_seq {
            if next_offset != tail.len || leaf != tail.prev {
                return Ok(Err("stale: the ledger's last entry differs".into()));
            }
            return Ok(Ok(ix));
        }
        // Catch up: index the lines after the last indexed one.
        match ix.index_from(ledger, next_offset, size, tail.len)? {
            Ok(()) if ix.size == tail.next_seq && ix.last_leaf_is(tail.prev)? => Ok(Ok(ix)),
            Ok(()) => Ok(Err(
                "stale: catching up did not reach the ledger's tail".into()
            )),
            Err(why) => Ok(Err(why)),
        }
    }

    fn last_leaf_is(&self, h: Hash) -> Result<bool> {
        Ok(self.size > 0 && self.subtree(0, self.size - 1)? == h)
    }

    /// Read the right-edge subtree hashes for `size`.
    fn read_frontier(&self) -> Result<Vec<Option<Hash>>> {
        let mut f = Vec::new();
        for level in 0..64u32 {
            if self.size >> level == 0 {
                break;
            }
            if (self.size >> level) & 1 == 1 {
                f.push(Some(self.subtree(level, (self.size >> level) - 1)?));
            } else {
                f.push(None);
            }
        }
        Ok(f)
    }

    /// Index every ledger line from byte `offset` (entry `seq`) to the end of the file, in
    /// chunks. `Ok(Err(why))` when a line is not the expected valid entry.
    fn index_from(
        &mut self,
        ledger: &Ledger,
        offset: u64,
        seq: u64,
        end: u64,
    ) -> Result<std::result::Result<(), String>> {
        let log = ledger.log_path();
        let mut reader = LineReader::open_at(&log, offset, seq, end)?;
        let mut expect = seq;
        let mut chunk: Vec<(u64, Hash)> = Vec::new();
        let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
        loop {
            let raw = reader.next_line()?;
            let end = raw.is_none();
            match raw {
                Some(RawLine::Line { offset, bytes, .. }) => pending.push((offset, bytes)),
                Some(_) => {
                    return Ok(Err(format!(
                        "entry {} of the ledger is torn or too long",
                        expect + pending.len() as u64
                    )))
                }
                None => {}
            }
            if pending.len() >= 65536 || (end && !pending.is_empty()) {
                use rayon::prelude::*;
                let parsed: Vec<_> = pending
                    .par_iter()
                    .map(|(o, b)| (*o, Entry::parse_line(b)))
                    .collect();
                for (o, p) in parsed {
                    match p {
                        Ok(e) if e.seq == expect => chunk.push((o, e.hash)),
                        _ => {
                            return Ok(Err(format!(
                                "entry {expect} of the ledger is not valid; run `ledger verify`"
                            )))
                        }
                    }
                    expect += 1;
                }
                pending.clear();
                self.append(&chunk)?;
                chunk.clear();
            }
            if end {
                return Ok(Ok(()));
            }
        }
    }

    fn rebuild(ledger: &Ledger, path: &Path, tail: &Tail) -> Result<Index> {
        // Build beside the index and rename over it, so readers never see a half-built file.
        let dir = ledger.dir();
        let tmp = tempfile::Builder::new()
            .prefix(".idx-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        let file = tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?;
        let mut ix = Index {
            file,
            path: path.to_path_buf(),
            size: 0,
            frontier: Vec::new(),
        };
        ix.file.write_all(MAGIC).map_err(|e| Error::io(path, e))?;
        if let Err(why) = ix.index_from(ledger, 0, 0, tail.len)? {
            return Err(Error::malformed(
                path.display().to_string(),
                format!("cannot index the ledger: {why}"),
            ));
        }
        if ix.size != tail.next_seq || (ix.size > 0 && !ix.last_leaf_is(tail.prev)?) {
            return Err(Error::Conflict(format!(
                "{}: the ledger changed while indexing; try again",
                path.display()
            )));
        }
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        crate::fsutil::sync_dir(dir)?;
        Ok(ix)
    }
}

/// Compare every stored hash of the index at `path` with the hashes implied by `leaves` (a
/// verified ledger's leaf hashes). `Ok(None)` when they agree, `Ok(Some(why))` otherwise.
/// Offsets are not compared: they are checked where used.
///
/// The leaves are split into aligned runs of 2^14: each run's records (its leaf hashes and the
/// subtrees inside it) are read and checked on its own, runs in parallel; then the few subtrees
/// above the runs are checked in order. A mismatch is reported at the earliest entry whose
/// record holds a wrong hash.
pub fn compare(path: &Path, leaves: &[Hash]) -> Result<Option<String>> {
    compare_in_runs(path, leaves, 14)
}

/// [`compare`] with runs of 2^`run_level` leaves.
fn compare_in_runs(path: &Path, leaves: &[Hash], run_level: u32) -> Result<Option<String>> {
    use rayon::prelude::*;
    let Some(file) = crate::fsutil::open_regular_if_exists(path)? else {
        return Ok(Some("missing".into()));
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let n = leaves.len() as u64;
    let mut magic = [0u8; 16];
    let magic_ok = file.read_exact_at(&mut magic, 0).is_ok() && magic == *MAGIC;
    if !magic_ok || count_for_len(len) != Some(n) {
        return Ok(Some(format!(
            "does not index exactly the ledger's {n} entries"
        )));
    }
    let run = 1usize << run_level;
    let runs: Vec<Result<(Option<u64>, Hash)>> = leaves
        .par_chunks(run)
        .enumerate()
        .map(|(r, ls)| {
            let first = (r as u64) << run_level;
            let last = first + ls.len() as u64;
            let start = record_pos(first);
            let end = if last < n { record_pos(last) } else { len };
            let mut buf = vec![0u8; (end - start) as usize];
            file.read_exact_at(&mut buf, start)
                .map_err(|e| Error::io(path, e))?;
            let mut frontier: Vec<Option<Hash>> = Vec::new();
            let mut bad = None;
            let mut top = [0u8; 32];
            for (j, leaf) in ls.iter().enumerate() {
                let i = first + j as u64;
                let mut at = (record_pos(i) - start) as usize + 8;
                let mut check = |h: &Hash, at: &mut usize| {
                    if buf.get(*at..*at + 32) != Some(h.as_slice()) && bad.is_none() {
                        bad = Some(i);
                    }
                    *at += 32;
                };
                check(leaf, &mut at);
                // Subtrees completed by this leaf inside the run (the run is aligned, so they
                // are the same as in the whole tree).
                let mut h = *leaf;
                let mut level = 0usize;
                while let Some(Some(left)) = frontier.get_mut(level).map(Option::take) {
                    h = node_hash(&left, &h);
                    check(&h, &mut at);
                    level += 1;
                }
                if level == frontier.len() {
                    frontier.push(None);
                }
                if let Some(slot) = frontier.get_mut(level) {
                    *slot = Some(h);
                }
                top = h;
            }
            Ok((bad, top))
        })
        .collect();
    let mut worst: Option<u64> = None;
    let mut tops = Vec::with_capacity(runs.len());
    for r in runs {
        let (bad, top) = r?;
        if worst.is_none() {
            worst = bad;
        }
        tops.push(top);
    }
    // Subtrees above the runs: completed by the last leaf of a full run, stored after the
    // run's own top in that leaf's record.
    let full_runs = (n >> run_level) as usize;
    let mut frontier: Vec<Option<Hash>> = Vec::new();
    for (r, top) in tops.iter().take(full_runs).enumerate() {
        let last_leaf = ((r as u64 + 1) << run_level) - 1;
        let mut at = record_pos(last_leaf) + 8 + 32 * (u64::from(run_level) + 1);
        let mut h = *top;
        let mut level = 0usize;
        while let Some(Some(left)) = frontier.get_mut(level).map(Option::take) {
            h = node_hash(&left, &h);
            let mut stored = [0u8; 32];
            file.read_exact_at(&mut stored, at)
                .map_err(|e| Error::io(path, e))?;
            if stored != h {
                worst = Some(worst.map_or(last_leaf, |w| w.min(last_leaf)));
            }
            at += 32;
            level += 1;
        }
        if level == frontier.len() {
            frontier.push(None);
        }
        if let Some(slot) = frontier.get_mut(level) {
            *slot = Some(h);
        }
    }
    Ok(worst.map(|seq| format!("stored hash of entry {seq} differs from the ledger")))
}

/// Record new lines in the index after the log's fsync, under the append lock (the write
/// path calls this). `before` is the tail before the append; `lines` the offset and leaf of
/// each new entry. Returns `false`, and writes nothing, when the index is missing or not in
/// line with `before`: rebuilding it is O(ledger), which an append never does silently. The
/// next user of the index catches it up (and says so).
pub(crate) fn after_append(ledger: &Ledger, before: &Tail, lines: &[(u64, Hash)]) -> Result<bool> {
    let path = ledger.dir().join(INDEX_FILE);
    match Index::try_open(ledger, &path, before)? {
        Ok(mut ix) if ix.size == before.next_seq => ix.append(lines).map(|()| true),
        // The first append to a new ledger creates the index: nothing to read before it.
        Err(_) if before.next_seq == 0 => {
            let mut ix = Index::rebuild(ledger, &path, before)?;
            ix.append(lines).map(|()| true)
        }
        _ => Ok(false),
    }
}

/// The index as a [`HashSource`]: any aligned range is a fold of O(log n) stored subtrees.
impl HashSource for Index {
    fn size(&self) -> u64 {
        self.size
    }
    fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash> {
        if lo >= hi || hi > self.size {
            return Err(Error::invalid(
                "range",
                format!(
                    "leaf range {lo}..{hi} is outside a tree of {} leaves",
                    self.size
                ),
            ));
        }
        // Split [lo, hi) into complete aligned subtrees, largest first, then fold from the
        // right: MTH splits at the largest power of two, so this is exactly MTH(D[lo:hi]).
        let mut parts = Vec::new();
        let mut pos = lo;
        while pos < hi {
            let rem = hi - pos;
            let mut level = 63 - rem.leading_zeros();
            if pos != 0 {
                level = level.min(pos.trailing_zeros());
            }
            parts.push(self.subtree(level, pos >> level)?);
            pos += 1u64 << level;
        }
        let mut acc = parts.pop().unwrap_or_else(crate::merkle::empty_root);
        while let Some(left) = parts.pop() {
            acc = node_hash(&left, &acc);
        }
        Ok(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_hash_layout_matches_go() {
        // Go's tlog: leaf 0 → 0, leaf 1 → 1, node(0..2) → 2, leaf 2 → 3, leaf 3 → 4, ...
        assert_eq!(stored_hash_index(0, 0), 0);
        assert_eq!(stored_hash_index(0, 1), 1);
        assert_eq!(stored_hash_index(1, 0), 2);
        assert_eq!(stored_hash_index(0, 2), 3);
        assert_eq!(stored_hash_index(0, 3), 4);
        assert_eq!(stored_hash_index(1, 1), 5);
        assert_eq!(stored_hash_index(2, 0), 6);
        assert_eq!(stored_hash_index(0, 4), 7);
        for n in 1..2000u64 {
            let t = (n - 1).trailing_ones();
            assert_eq!(
                stored_hash_count(n),
                stored_hash_index(0, n - 1) + 1 + u64::from(t)
            );
            assert_eq!(count_for_len(file_len(n).unwrap()), Some(n));
            assert_eq!(count_for_len(file_len(n).unwrap() - 1), None);
        }
        assert_eq!(count_for_len(HEADER), Some(0));
    }

    /// Proofs and roots read from stored hashes equal those computed from the leaves, for every
    /// tree size up to 130 and every index / old size; `compare` accepts the file it wrote.
    #[test]
    fn index_proofs_equal_leaf_proofs() {
        use crate::merkle::{self, Leaves};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let mut file = File::create(&path).unwrap();
        file.write_all(MAGIC).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut ix = Index {
            file,
            path: path.clone(),
            size: 0,
            frontier: Vec::new(),
        };
        let leaves: Vec<Hash> = (0..130u64)
            .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
            .collect();
        for (i, l) in leaves.iter().enumerate() {
            ix.append(&[(i as u64 * 10, *l)]).unwrap();
            assert_eq!(ix.root(), merkle::root(&leaves[..=i]));
        }
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            file_len(130).unwrap()
        );
        assert_eq!(compare(&path, &leaves).unwrap(), None);
        assert!(compare(&path, &leaves[..129]).unwrap().is_some());
        assert_eq!(ix.offset(77).unwrap(), 770);
        for n in 1..=130u64 {
            let d = &leaves[..n as usize];
            assert_eq!(merkle::root_from(&mut ix, n).unwrap(), merkle::root(d));
            for i in 0..n {
                let a = merkle::inclusion_proof(&mut ix, i, n).unwrap();
                assert_eq!(
                    a,
                    merkle::inclusion_proof(&mut Leaves(d), i, n).unwrap(),
                    "n={n} i={i}"
                );
            }
            for m in 0..=n {
                let a = merkle::consistency_proof(&mut ix, m, n).unwrap();
                assert_eq!(
                    a,
                    merkle::consistency_proof(&mut Leaves(d), m, n).unwrap(),
                    "m={m} n={n}"
                );
            }
        }
        assert!(ix.subtree(8, 0).is_err());
        assert!(ix.offset(130).is_err());

        // Every stored hash is compared: flip a byte in each one in turn, and the report names
        // the entry whose record holds it (records are in entry order).
        let good = std::fs::read(&path).unwrap();
        for run_level in [0, 1, 2, 3, 7, 14] {
            assert_eq!(compare_in_runs(&path, &leaves, run_level).unwrap(), None);
            for k in [1usize, 2, 3, 4, 5, 64, 127, 128, 129] {
                assert!(compare_in_runs(&path, &leaves[..k], run_level)
                    .unwrap()
                    .is_some());
            }
        }
        for n in 0..130u64 {
            let start = record_pos(n) as usize + 8;
            let end = if n + 1 < 130 {
                record_pos(n + 1) as usize
            } else {
                good.len()
            };
            for at in (start..end).step_by(32) {
                let mut bad = good.clone();
                bad[at + 31] ^= 0x80;
                std::fs::write(&path, &bad).unwrap();
                for run_level in [0, 1, 2, 3, 7, 14] {
                    assert_eq!(
                        compare_in_runs(&path, &leaves, run_level).unwrap(),
                        Some(format!("stored hash of entry {n} differs from the ledger")),
                        "hash at byte {at}, runs of 2^{run_level}"
                    );
                }
            }
        }
    }
}
