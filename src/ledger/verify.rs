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
//! # Key trust
//!
//! The first `key add` entry must be signed by the key it adds: that key is the ledger's root of
//! trust (pinned in `config.toml` as `root_key`; a mismatch fails). Every later `key` entry must
//! be signed by a key trusted at that point. A signer is trusted from the entry after its `add`
//! until its `revoke` entry (exclusive); revocation is permanent.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde_json::Value;

use crate::error::{Error, Failure, Result};
use crate::keys;
use crate::ledger::body::Kind;
use crate::ledger::entry::{self, Entry, LineError, ZERO_HASH};
use crate::ledger::fastline;
use crate::ledger::reader::{Block, BlockReader};
use crate::ledger::store::Ledger;

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
}

/// A key as known at the end of the log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyState {
    /// Key id.
    pub id: String,
    /// seq of the `key add` entry.
    pub added_at: u64,
    /// seq of the `key revoke` entry, if revoked.
    pub revoked_at: Option<u64>,
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

struct KeyInfo {
    vk: VerifyingKey,
    added_at: u64,
    revoked_at: Option<u64>,
}

struct State {
    file: String,
    require_sigs: bool,
    sig_from: u64,
    next_seq: u64,
    prev: [u8; 32],
    keys: HashMap<String, KeyInfo>,
    root: Option<(String, u64)>,
    collect: bool,
    summary: Summary,
    /// The last finished block, whose buffer the reader may reuse.
    recycle: Option<Block>,
}

/// What the parallel pass learned about one line.
struct Parsed {
    line: u64,
    entry: std::result::Result<Checked, LineError>,
    sig: SigStatus,
}

/// The sequential pass's findings within one block.
#[derive(Default)]
struct BlockCheck {
    deferred: Vec<Deferred>,
    first: Option<Failure>,
}

/// A signature left for the end of a block's sequential pass.
struct Deferred {
    line: u64,
    seq: u64,
    signer: KeyId,
    vk: VerifyingKey,
    msg: [u8; 80],
    sig: Signature,
}

fn bad_signature(line: u64, seq: u64, signer: KeyId) -> Failure {
    fail(
        line,
        Some(seq),
        "bad-signature",
        format!("signature by key {} does not verify", signer.as_str()),
    )
}

/// Batch-verify deferred signatures in parallel; the first bad one in log order, if any.
fn check_deferred(deferred: &[Deferred]) -> Option<Failure> {
    deferred
        .par_chunks(SIG_CHUNK)
        .filter_map(|chunk| {
            let msgs: Vec<&[u8]> = chunk.iter().map(|d| &d.msg[..]).collect();
            let sigs: Vec<Signature> = chunk.iter().map(|d| d.sig).collect();
            let vks: Vec<VerifyingKey> = chunk.iter().map(|d| d.vk).collect();
            if ed25519_dalek::verify_batch(&msgs, &sigs, &vks).is_ok() {
                return None;
            }
            chunk
                .iter()
                .find(|d| !keys::verify_strict(&d.vk, &d.msg, &d.sig.to_bytes()))
        })
        .min_by_key(|d| d.line)
        .map(|d| bad_signature(d.line, d.seq, d.signer))
}

/// What the order-dependent checks need of a line that is valid on its own.
struct Checked {
    seq: u64,
    kind: Kind,
    prev: [u8; 32],
    hash: [u8; 32],
    signer: Option<KeyId>,
    sig: Option<[u8; 64]>,
    /// The body of a `key` entry.
    key: Option<KeyChange>,
}

/// A key id as written in `signer`: 16 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyId([u8; 16]);

impl KeyId {
    fn new(s: &str) -> Option<KeyId> {
        s.as_bytes().try_into().ok().map(KeyId)
    }

    fn as_str(&self) -> &str {
        // Built from a `&str` of 16 bytes that the line checks made lowercase hex.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The fields of a `key` entry's body (validated by the line checks).
struct KeyChange {
    add: bool,
    key_id: String,
    public_key: String,
}

impl Checked {
    /// Check one line: the fast path, and the reference parser when the fast path declines
    /// (key entries, unusual spellings, and every invalid line, which the reference names).
    fn from_line(line: &[u8]) -> std::result::Result<Checked, LineError> {
        if let Some(f) = fastline::scan(line) {
            let signer = match f.signer {
                None => Some(None),
                Some(s) => KeyId::new(s).map(Some),
            };
            if let Some(signer) = signer {
                return Ok(Checked {
                    seq: f.seq,
                    kind: f.kind,
                    prev: f.prev,
                    hash: f.hash,
                    signer,
                    sig: f.sig,
                    key: None,
                });
            }
        }
        let e = Entry::parse_line(line)?;
        let field = |k: &str| {
            e.body
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let key = (e.kind == Kind::Key).then(|| KeyChange {
            add: field("action") == "add",
            key_id: field("key_id"),
            public_key: field("public_key"),
        });
        let signer = match e.signer.as_deref().map(KeyId::new) {
            None => None,
            Some(Some(id)) => Some(id),
            Some(None) => {
                return Err(LineError {
                    code: "bad-field",
                    reason: "signer: expected 16 lowercase hex characters".into(),
                    seq: Some(e.seq),
                })
            }
        };
        Ok(Checked {
            seq: e.seq,
            kind: e.kind,
            prev: e.prev,
            hash: e.hash,
            signer,
            sig: e.sig,
            key,
        })
    }

    fn signing_message(&self) -> [u8; 80] {
        entry::signing_message(&self.hash)
    }
}

/// Signature status after the parallel pass, which checks signatures by keys trusted at the
/// start of the block (the common case). The sequential pass decides whether that key was the
/// right one at the entry's point of the log, and checks the rest itself.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SigStatus {
    Good,
    Bad,
    Unchecked,
}

/// Parse a chunk of lines and batch-verify the signatures whose signer is in `snapshot`.
fn process_chunk(
    bytes: &[u8],
    lines: &[(u64, usize, usize)],
    snapshot: &HashMap<String, VerifyingKey>,
    sig_from: u64,
) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = lines
        .iter()
        .map(|&(n, start, end)| Parsed {
            line: n,
            entry: Checked::from_line(bytes.get(start..end).unwrap_or_default()),
            sig: SigStatus::Unchecked,
        })
        .collect();
    let mut idx = Vec::with_capacity(out.len());
    let mut msgs = Vec::with_capacity(out.len());
    let mut sigs = Vec::with_capacity(out.len());
    let mut vks = Vec::with_capacity(out.len());
    for (i, p) in out.iter().enumerate() {
        let Ok(e) = &p.entry else { continue };
        let (Some(signer), Some(sig)) = (&e.signer, &e.sig) else {
            continue;
        };
        let Some(vk) = snapshot.get(signer.as_str()) else {
            continue;
        };
        if e.seq < sig_from {
            continue;
        }
        idx.push(i);
        msgs.push(e.signing_message());
        sigs.push(Signature::from_bytes(sig));
        vks.push(*vk);
    }
    if idx.is_empty() {
        return out;
    }
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    let all_good = ed25519_dalek::verify_batch(&refs, &sigs, &vks).is_ok();
    for (k, &i) in idx.iter().enumerate() {
        // A failed batch is re-checked one by one (strictly) to name the culprit.
        let good = all_good || vks[k].verify_strict(&msgs[k], &sigs[k]).is_ok();
        out[i].sig = if good {
            SigStatus::Good
        } else {
            SigStatus::Bad
        };
    }
    out
}

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
    let path = ledger.log_path();
    let total = crate::ledger::reader::stable_len(&path)?;
    let mut reader = BlockReader::open(&path, total)?;
    let mut st = State {
        file: path.display().to_string(),
        require_sigs: opts.require_signatures || ledger.config().require_signatures,
        sig_from: opts.signatures_from,
        next_seq: 0,
        prev: ZERO_HASH,
        keys: HashMap::new(),
        root: None,
        collect: opts.collect_leaves,
        summary: Summary::default(),
        recycle: None,
    };
    let sig_from = st.sig_from;
    // The first block is small and runs alone, so that the root key is trusted by the time
    // the pipeline starts and later blocks batch-verify with it.
    let first = reader.next_block(FIRST_BLOCK_LINES)?;
    let parsed = parallel_pass(&first, &HashMap::new(), sig_from);
    let mut check = BlockCheck::default();
    for chunk in &parsed {
        st.check_chunk(chunk, &mut check);
    }
    st.end_block(check, first, total, progress)?;

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
        let mut check = BlockCheck::default();
        for c in 0..front.chunks {
            let parsed = loop {
                if let Some(p) = ready.remove(&(front.no, c)) {
                    break p;
                }
                // Not a verdict on the ledger: nothing was decided (exit 2, not 1).
                let (no, k, p) = next_result(&rx).ok_or_else(|| {
                    Error::input(format!(
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
        st.end_block(check, block, total, progress)?;
        if let Some(done) = st.recycle.take() {
            reader.recycle(done);
        }
    }
    drop(cancel);
    st.finish(ledger)
}

fn fail(line: u64, seq: Option<u64>, code: &'static str, reason: impl Into<String>) -> Failure {
    Failure::at_line(line, seq, code, reason)
}

impl State {
    /// Keys trusted now, for the parallel pass of the next block.
    fn trusted_snapshot(&self) -> HashMap<String, VerifyingKey> {
        self.keys
            .iter()
            .filter(|(_, k)| k.revoked_at.is_none())
            .map(|(id, k)| (id.clone(), k.vk))
            .collect()
    }

    /// Run the order-dependent checks over one chunk of a block, in log order, up to the
    /// block's first failure (form, chain, trust or signature).
    ///
    /// Signatures the parallel pass could not check (their key was not in its snapshot: a key
    /// added shortly before) are collected on the way and batch-verified in parallel at the
    /// end of the block; a bad one wins over a later failure of another kind.
    fn check_chunk(&mut self, parsed: &[Parsed], check: &mut BlockCheck) {
        if check.first.is_some() {
            return;
        }
        for p in parsed {
            if let Err(f) = self.sequential_one(p, &mut check.deferred) {
                check.first = Some(f);
                return;
            }
        }
    }

    /// Finish a block: its deferred signatures, its first failure, what ended it, progress.
    fn end_block(
        &mut self,
        check: BlockCheck,
        block: Block,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<()> {
        if let Some(bad) = check_deferred(&check.deferred) {
            return Err(Error::verify(self.file.clone(), bad));
        }
        self.summary.signatures_checked += check.deferred.len() as u64;
        if let Some(f) = check.first {
            return Err(Error::verify(self.file.clone(), f));
        }
        if let Some(end) = block.end {
            return Err(Error::verify(self.file.clone(), end.failure()));
        }
        self.summary.bytes = block.end_offset;
        progress(block.end_offset, total);
        self.recycle = Some(block);
        Ok(())
    }

    fn sequential_one(
        &mut self,
        p: &Parsed,
        deferred: &mut Vec<Deferred>,
    ) -> std::result::Result<(), Failure> {
        let e = match &p.entry {
            Err(le) => return Err(fail(p.line, le.seq, le.code, le.reason.clone())),
            Ok(e) => e,
        };
        let vk = self.check_entry(p.line, e)?;
        let (Some(vk), Some(sig)) = (vk, &e.sig) else {
            return Ok(());
        };
        if e.seq < self.sig_from {
            return Ok(());
        }
        let signer = e.signer.unwrap_or(KeyId([b'?'; 16]));
        match p.sig {
            // The parallel pass used the snapshot key of the same id; ids are unique in a key
            // history, but compare the keys anyway rather than assume.
            SigStatus::Good if self.keys.get(signer.as_str()).is_some_and(|k| k.vk == vk) => {
                self.summary.signatures_checked += 1;
                Ok(())
            }
            SigStatus::Bad => Err(bad_signature(p.line, e.seq, signer)),
            _ => {
                deferred.push(Deferred {
                    line: p.line,
                    seq: e.seq,
                    signer,
                    vk,
                    msg: e.signing_message(),
                    sig: Signature::from_bytes(sig),
                });
                Ok(())
            }
        }
    }

    /// Order-dependent checks of one entry. Returns the key its signature must verify with.
    fn check_entry(
        &mut self,
        n: u64,
        e: &Checked,
    ) -> std::result::Result<Option<VerifyingKey>, Failure> {
        let seq = Some(e.seq);
        if e.seq != self.next_seq {
            let what = if e.seq < self.next_seq {
                "duplicate or out-of-order"
            } else {
                "gap"
            };
            return Err(fail(
                n,
                seq,
                "bad-seq",
                format!("{what}: expected seq {}, found {}", self.next_seq, e.seq),
            ));
        }
        if e.prev != self.prev {
            return Err(fail(
                n,
                seq,
                "broken-chain",
                "prev does not equal the previous entry's hash",
            ));
        }
        let vk = match (&e.signer, &e.sig) {
            (None, Some(_)) => return Err(fail(n, seq, "bad-field", "sig present without signer")),
            (Some(_), None) => {
                return Err(fail(
                    n,
                    seq,
                    "missing-signature",
                    "signer named but sig missing",
                ))
            }
            (None, None) => {
                if self.require_sigs {
                    return Err(fail(
                        n,
                        seq,
                        "unsigned",
                        "unsigned entry in a ledger that requires signatures",
                    ));
                }
                if e.kind == Kind::Key {
                    return Err(fail(n, seq, "unsigned", "key entries must be signed"));
                }
                self.summary.unsigned += 1;
                None
            }
            (Some(id), Some(_)) => Some(self.signer_key(n, e, id.as_str())?),
        };
        if e.kind == Kind::Key {
            self.apply_key(n, e)?;
        }
        self.next_seq += 1;
        self.prev = e.hash;
        self.summary.entries += 1;
        self.summary.head = Some(e.hash);
        if self.collect {
            self.summary.leaves.push(e.hash);
        }
        Ok(vk)
    }

    fn signer_key(
        &self,
        n: u64,
        e: &Checked,
        id: &str,
    ) -> std::result::Result<VerifyingKey, Failure> {
        let seq = Some(e.seq);
        match self.keys.get(id) {
            Some(k) if k.revoked_at.is_none() => Ok(k.vk),
            Some(k) => Err(fail(
                n,
                seq,
                "revoked-signer",
                format!(
                    "signed by key {id} after its revocation at seq {}",
                    k.revoked_at.unwrap_or_default()
                ),
            )),
            None => {
                // Bootstrap: the very first key signs its own `key add` entry.
                let self_add = self
                    .keys
                    .is_empty()
                    .then_some(e.key.as_ref())
                    .flatten()
                    .filter(|k| k.add && k.key_id == id);
                if let Some(k) = self_add {
                    return keys::parse_public_hex(&k.public_key)
                        .map_err(|r| fail(n, seq, "bad-key", format!("body.public_key: {r}")));
                }
                Err(fail(
                    n,
                    seq,
                    "untrusted-signer",
                    format!("signed by key {id}, which is not trusted at this point of the log"),
                ))
            }
        }
    }

    fn apply_key(&mut self, n: u64, e: &Checked) -> std::result::Result<(), Failure> {
        let seq = Some(e.seq);
        let Some(change) = &e.key else {
            return Err(fail(n, seq, "bad-key", "key entry without a key body"));
        };
        let id = change.key_id.clone();
        let vk = keys::parse_public_hex(&change.public_key)
            .map_err(|r| fail(n, seq, "bad-key", format!("body.public_key: {r}")))?;
        if keys::key_id(&vk) != id {
            return Err(fail(
                n,
                seq,
                "bad-key",
                "body.key_id does not match body.public_key",
            ));
        }
        if change.add {
            if self.keys.contains_key(&id) {
                return Err(fail(
                    n,
                    seq,
                    "bad-key",
                    format!("key {id} was already added"),
                ));
            }
            if self.root.is_none() {
                self.root = Some((id.clone(), e.seq));
            }
            self.keys.insert(
                id,
                KeyInfo {
                    vk,
                    added_at: e.seq,
                    revoked_at: None,
                },
            );
        } else {
            match self.keys.get_mut(&id) {
                Some(k) if k.revoked_at.is_none() && k.vk == vk => k.revoked_at = Some(e.seq),
                Some(k) if k.revoked_at.is_some() => {
                    return Err(fail(
                        n,
                        seq,
                        "bad-key",
                        format!("key {id} is already revoked"),
                    ))
                }
                _ => {
                    return Err(fail(
                        n,
                        seq,
                        "bad-key",
                        format!("revokes key {id}, which is not trusted here"),
                    ))
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, ledger: &Ledger) -> Result<Verified<Summary>> {
        if let (Some(pinned), None) = (&ledger.config().root_key, &self.root) {
            return Err(Error::verify(
                self.file,
                Failure {
                    line: None,
                    seq: None,
                    code: "root-key-mismatch",
                    reason: format!(
                        "config.toml pins root_key {pinned}, but the log has no key entries"
                    ),
                },
            ));
        }
        if let (Some(pinned), Some((root, at))) = (&ledger.config().root_key, &self.root) {
            if pinned != root {
                return Err(Error::verify(
                    self.file,
                    Failure {
                        line: Some(at + 1),
                        seq: Some(*at),
                        code: "root-key-mismatch",
                        reason: format!(
                            "root key {root} differs from root_key {pinned} pinned in config.toml"
                        ),
                    },
                ));
            }
        }
        let mut keys: Vec<KeyState> = self
            .keys
            .iter()
            .map(|(id, k)| KeyState {
                id: id.clone(),
                added_at: k.added_at,
                revoked_at: k.revoked_at,
            })
            .collect();
        keys.sort_by_key(|k| k.added_at);
        self.summary.keys = keys;
        self.summary.root_key = self.root.map(|r| r.0);
        Ok(Verified(self.summary))
    }
}
