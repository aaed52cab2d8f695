//! Whole-ledger verification.
//!
//! Per line, in parallel: size, UTF-8, JSON, canonical form, field types, body schema, leaf hash
//! (the [`fastline`] fast path, or the reference parser when it declines) and the Ed25519
//! signature (batch-verified per chunk of lines with the keys trusted when the chunk was queued;
//! a failing batch is re-checked one by one with `verify_strict` to name the entry). In log
//! order: `seq` continuity, the `prev` chain, signer trust at that point of the log (key
//! additions and revocations replayed from `key` entries) and signature presence; a signature
//! the parallel pass could not check with the right key is batch-verified at the end of its
//! block. See [`verify`] for how the work is pipelined.
//!
//! The first failure in log order is reported: a bad signature on line 10 wins over a broken
//! chain on line 20. A last line without a newline is reported as a torn tail.
//!
//! The work is split three ways: this module runs the pipeline (reading blocks, queueing their
//! chunks on the rayon pool, taking the results back in log order); [`line`] holds the checks of
//! one line on its own; [`order`] holds the checks that depend on the lines before.
//!
//! # Key trust
//!
//! The first `key add` entry must be signed by the key it adds: that key is the ledger's root of
//! trust (pinned in `config.toml` as `root_key`; a mismatch fails). Every later `key` entry must
//! be signed by a key trusted at that point. A signer is trusted from the entry after its `add`
//! up to its `revoke` entry; revocation is permanent. The rules are
//! [`KeyHistory`](crate::keys::history::KeyHistory)'s, shared with the write path.

mod line;
mod order;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::keys::history::KeyHistory;
use crate::ledger::body::Kind;
use crate::ledger::entry::ZERO_HASH;
use crate::ledger::reader::{Block, BlockReader};
use crate::ledger::store::Ledger;
use line::{process_chunk, Parsed};
use order::State;

pub use crate::config::SignedPolicy;
pub use crate::keys::history::KeyState;

/// Proof that a value came out of a successful verification. Only this module builds it.
#[derive(Debug, Clone)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// The verified value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Options of a verification run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Treat unsigned entries as invalid (in addition to the config's `require_signatures`).
    pub require_signatures: bool,
    /// Check signatures only from this seq on (hashes, chain and key history are still checked
    /// for every entry).
    pub signatures_from: u64,
    /// Keep every leaf hash in the summary (for Merkle roots).
    pub collect_leaves: bool,
    /// Verify up to this byte instead of the file's length (for a caller that holds the
    /// append lock and read the tail under it).
    pub end: Option<u64>,
}

/// What a successful verification saw.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Number of entries.
    pub entries: u64,
    /// Number of signed entries whose signature was checked.
    pub signatures_checked: u64,
    /// Number of unsigned entries.
    pub unsigned: u64,
    /// Number of version-2 entries whose runner's submission signature was checked.
    pub submissions: u64,
    /// Hash of the last entry.
    pub head: Option<[u8; 32]>,
    /// Root key id.
    pub root_key: Option<String>,
    /// Key history.
    pub keys: Vec<KeyState>,
    /// Bytes read.
    pub bytes: u64,
    /// Leaf hashes in seq order, when asked for.
    pub leaves: Vec<[u8; 32]>,
    /// The newest `policy` entry: the signed settings in force after the last entry.
    pub policy: Option<SignedPolicy>,
}

/// Most lines in a block (blocks also stop at about 16 MiB). Blocks are the unit of reading,
/// key snapshots and progress; the pool works on chunks, so small blocks cost nothing.
const BLOCK_LINES: usize = 8192;
/// Lines in the first block, which runs before the pipeline starts.
const FIRST_BLOCK_LINES: usize = 64;
/// Lines per unit of parallel work, and per batch verification.
const SIG_CHUNK: usize = 2048;
/// Blocks queued on the pool ahead of the sequential pass.
const IN_FLIGHT: usize = 3;

/// The parallel pass over a block: line checks and batch signatures, chunk by chunk.
fn parallel_pass(
    block: &Block,
    snapshot: &HashMap<String, VerifyingKey>,
    sig_from: u64,
) -> Vec<Vec<Parsed>> {
    block
        .lines
        .par_chunks(SIG_CHUNK)
        .map(|c| process_chunk(&block.bytes, c, snapshot, sig_from))
        .collect()
}

/// A block whose chunks are being checked by the pool.
struct InFlight {
    no: u64,
    block: Arc<Block>,
    chunks: usize,
}

/// Wait for the next chunk result. The calling thread holds a sender, so `None` only means a
/// worker vanished.
///
/// Called from a thread of the pool itself (a library user verifying inside a parallel
/// iterator), blocking could starve the very tasks it waits for, so it runs pending pool work
/// while it waits instead.
fn next_result<T>(rx: &mpsc::Receiver<T>) -> Option<T> {
    if rayon::current_thread_index().is_none() {
        return rx.recv().ok();
    }
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Sets the flag when dropped, so that queued chunk work of an abandoned run stops early.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Verify the ledger in `ledger`'s directory. `progress(done_bytes, total_bytes)` is called after
/// each block of lines.
///
/// The calling thread reads blocks of lines and queues their chunks on the pool, up to
/// three blocks ahead; workers check lines and batch-verify signatures with the keys
/// trusted when the block was queued; the calling thread takes the results in log order and
/// runs the order-dependent checks. A signature by a key that was added while its block was
/// in flight is checked by the sequential pass (batched, at the end of the block).
pub fn verify(
    ledger: &Ledger,
    opts: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified<Summary>> {
    verify_from(ledger, None, opts, progress)
}

/// Where a verification resumes: the end of a prefix verified earlier. Whoever builds one
/// vouches for it (the verified view checks the prefix's last line against `head` first).
#[derive(Debug, Clone)]
pub struct Resume {
    /// Entries in the verified prefix: the first entry checked has this seq.
    pub size: u64,
    /// Bytes of the prefix: the first line checked starts here.
    pub bytes: u64,
    /// Hash of the prefix's last entry.
    pub head: [u8; 32],
    /// The key history at the end of the prefix.
    pub keys: Vec<KeyState>,
    /// The newest `policy` entry of the prefix.
    pub policy: Option<SignedPolicy>,
}

/// [`verify`] from the end of a verified prefix (or from the start with `None`). The summary
/// counts the entries checked by this run only (`entries`, `signatures_checked`, `unsigned`,
/// `leaves`); `bytes` is the end offset in the file, `keys` the whole history.
pub fn verify_from(
    ledger: &Ledger,
    resume: Option<&Resume>,
    opts: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified<Summary>> {
    verify_tapped(ledger, resume, opts, progress, &mut |_| {})
}

/// One verified line as [`verify_tapped`] hands it on: the kind and signer the checks read
/// from it, and its bytes without the newline. A consumer that needs only some kinds, or only
/// lines by some signers, decides without parsing the line again.
pub struct Tapped<'a> {
    /// The entry's `kind`.
    pub kind: Kind,
    /// The entry's `signer` (a key id), if it has one.
    pub signer: Option<&'a str>,
    /// Who said it: the runner's key of a version-2 entry (`submission.signer`, checked), the
    /// entry's `signer` otherwise. A log key orders runners' submissions; it never speaks for
    /// them.
    pub author: Option<&'a str>,
    /// The line.
    pub line: &'a [u8],
}

/// [`verify_from`], handing `tap` every line (see [`Tapped`]) once the block holding it has
/// passed every check, in log order: for a consumer that wants to read the very bytes that
/// were verified, in the same pass (the trust fold on a first run). A failing run stops
/// before the block that failed.
pub fn verify_tapped(
    ledger: &Ledger,
    resume: Option<&Resume>,
    opts: &Options,
    progress: &mut dyn FnMut(u64, u64),
    tap: &mut dyn FnMut(&Tapped<'_>),
) -> Result<Verified<Summary>> {
    let path = ledger.log_path();
    let total = match opts.end {
        Some(end) => end,
        None => crate::ledger::reader::stable_len(&path)?,
    };
    let (size, bytes, head, keys) = match resume {
        Some(r) => (r.size, r.bytes, r.head, KeyHistory::restore(&r.keys)),
        None => (0, 0, ZERO_HASH, KeyHistory::new()),
    };
    let policy = resume.and_then(|r| r.policy.clone());
    // Before the first `policy` entry (a ledger of wave 1) config.toml's setting applies;
    // after it, only the signed one.
    let require_base = match &policy {
        Some(p) => p.require_signatures,
        None => ledger.config().require_signatures,
    };
    if bytes > total {
        return Err(Error::verify(
            path.display().to_string(),
            crate::error::Failure {
                line: None,
                seq: None,
                code: "truncated",
                reason: format!("{total} bytes, shorter than the {bytes} bytes verified before"),
            },
        ));
    }
    let mut reader = BlockReader::open_at(&path, bytes, size, total)?;
    let mut st = State {
        file: path.display().to_string(),
        require_sigs: opts.require_signatures || require_base,
        require_flag: opts.require_signatures,
        sig_from: opts.signatures_from,
        next_seq: size,
        prev: head,
        keys,
        collect: opts.collect_leaves,
        summary: Summary {
            bytes,
            head: resume.map(|r| r.head),
            policy,
            ..Summary::default()
        },
        recycle: None,
        seen_spare: Vec::new(),
        submission_ids: Default::default(),
    };
    let sig_from = st.sig_from;
    // The first block is small and runs alone, so that the root key is trusted by the time
    // the pipeline starts and later blocks batch-verify with it.
    let first = reader.next_block(FIRST_BLOCK_LINES)?;
    let parsed = parallel_pass(&first, &HashMap::new(), sig_from);
    let mut check = st.new_check();
    for chunk in &parsed {
        st.check_chunk(chunk, &mut check);
    }
    st.end_block(check, first, total, progress, tap)?;

    let cancel = CancelOnDrop(Arc::new(AtomicBool::new(false)));
    let (tx, rx) = mpsc::channel::<(u64, usize, Vec<Parsed>)>();
    let mut inflight: VecDeque<InFlight> = VecDeque::new();
    let mut ready: HashMap<(u64, usize), Vec<Parsed>> = HashMap::new();
    let mut queued = 0u64;
    let mut reader_done = false;
    loop {
        while inflight.len() < IN_FLIGHT && !reader_done {
            let block = reader.next_block(BLOCK_LINES)?;
            reader_done = block.end.is_some() || block.lines.is_empty();
            if block.lines.is_empty() && block.end.is_none() {
                break;
            }
            let block = Arc::new(block);
            let snapshot = Arc::new(st.trusted_snapshot());
            let chunks = block.lines.len().div_ceil(SIG_CHUNK);
            for c in 0..chunks {
                let (block, snapshot, tx, stop) = (
                    Arc::clone(&block),
                    Arc::clone(&snapshot),
                    tx.clone(),
                    Arc::clone(&cancel.0),
                );
                let no = queued;
                rayon::spawn(move || {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let from = c * SIG_CHUNK;
                    let to = (from + SIG_CHUNK).min(block.lines.len());
                    let lines = block.lines.get(from..to).unwrap_or_default();
                    let parsed = process_chunk(&block.bytes, lines, &snapshot, sig_from);
                    // Let go of the block first, so that its buffer can be reused once the
                    // calling thread has every chunk back.
                    drop(block);
                    // The receiver is gone only when verification already ended.
                    let _ = tx.send((no, c, parsed));
                });
            }
            inflight.push_back(InFlight {
                no: queued,
                block,
                chunks,
            });
            queued += 1;
        }
        let Some(front) = inflight.pop_front() else {
            break;
        };
        let mut check = st.new_check();
        for c in 0..front.chunks {
            let parsed = loop {
                if let Some(p) = ready.remove(&(front.no, c)) {
                    break p;
                }
                // Not a verdict on the ledger: nothing was decided (exit 2, not 1).
                let (no, k, p) = next_result(&rx).ok_or_else(|| {
                    Error::internal(format!(
                        "{}: verification could not finish: a worker stopped",
                        st.file
                    ))
                })?;
                ready.insert((no, k), p);
            };
            st.check_chunk(&parsed, &mut check);
        }
        let block = Arc::try_unwrap(front.block).unwrap_or_else(|shared| Block {
            end: shared.end,
            end_offset: shared.end_offset,
            ..Block::default()
        });
        st.end_block(check, block, total, progress, tap)?;
        if let Some(done) = st.recycle.take() {
            reader.recycle(done);
        }
    }
    drop(cancel);
    st.finish(ledger)
}
