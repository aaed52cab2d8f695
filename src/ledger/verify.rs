//! Whole-ledger verification.
//!
//! For every line, in order: size, UTF-8, JSON, canonical form, field types, body schema, leaf
//! hash (all per line, in parallel), then `seq` continuity, the `prev` chain, signer trust at that
//! point of the log (key additions and revocations replayed from `key` entries) and signature
//! presence (sequential, cheap), then Ed25519 signatures (in parallel, batch-verified in chunks;
//! a failing chunk is re-checked one by one with `verify_strict` to name the entry).
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

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde_json::Value;

use crate::error::{Error, Failure, Result};
use crate::keys;
use crate::ledger::body::Kind;
use crate::ledger::entry::{Entry, LineError, ZERO_HASH};
use crate::ledger::reader::{LineReader, RawLine};
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

const BLOCK_LINES: usize = 8192;
const FIRST_BLOCK_LINES: usize = 64;
const SIG_CHUNK: usize = 128;

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
}

/// What the parallel pass learned about one line.
struct Parsed {
    line: u64,
    entry: std::result::Result<Box<Entry>, LineError>,
    sig: SigStatus,
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

/// A block of raw lines and what ended it (a torn tail or an over-long line), if anything.
type Block = (Vec<(u64, Vec<u8>)>, Option<Failure>);

fn read_block(reader: &mut LineReader, max: usize) -> Result<Block> {
    let mut raws = Vec::with_capacity(max);
    while raws.len() < max {
        match reader.next_line()? {
            None => break,
            Some(RawLine::Line { number, bytes, .. }) => raws.push((number, bytes)),
            Some(RawLine::TooLong { number, .. }) => {
                return Ok((
                    raws,
                    Some(fail(number, None, "too-long", "line longer than 1 MiB")),
                ));
            }
            Some(RawLine::Torn {
                number,
                offset,
                len,
            }) => {
                let f = fail(
                    number,
                    None,
                    "torn-tail",
                    format!("torn tail: {len} bytes at offset {offset} without a final newline (an interrupted append; `ledger repair --torn-tail` moves them aside)"),
                );
                return Ok((raws, Some(f)));
            }
        }
    }
    Ok((raws, None))
}

/// Parse a chunk of lines and batch-verify the signatures whose signer is in `snapshot`.
fn process_chunk(
    lines: &[(u64, Vec<u8>)],
    snapshot: &HashMap<String, VerifyingKey>,
    sig_from: u64,
) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = lines
        .iter()
        .map(|(n, b)| Parsed {
            line: *n,
            entry: Entry::parse_line(b).map(Box::new),
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
        let Some(vk) = snapshot.get(signer) else {
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

/// Verify the ledger in `ledger`'s directory. `progress(done_bytes, total_bytes)` is called after
/// each block of lines.
///
/// Blocks are pipelined: while the pool parses and checks the signatures of one block, the
/// calling thread reads the next.
pub fn verify(
    ledger: &Ledger,
    opts: &Options,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified<Summary>> {
    let path = ledger.log_path();
    let total = crate::ledger::reader::stable_len(&path)?;
    let mut reader = LineReader::open_at(&path, 0, 0, total)?;
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
    };
    // The first block is small: its signatures are checked one by one until the root key's
    // entry has been seen, after which whole blocks batch-verify with the trusted keys.
    let mut want = FIRST_BLOCK_LINES;
    let mut block = read_block(&mut reader, want)?;
    loop {
        let (raws, tail_problem) = block;
        if raws.is_empty() && tail_problem.is_none() {
            break;
        }
        let full = raws.len() == want && tail_problem.is_none();
        want = BLOCK_LINES;
        let snapshot = st.trusted_snapshot();
        let sig_from = st.sig_from;
        let (parsed, next) = rayon::join(
            || {
                raws.par_chunks(SIG_CHUNK)
                    .map(|c| process_chunk(c, &snapshot, sig_from))
                    .collect::<Vec<_>>()
            },
            || {
                if full {
                    read_block(&mut reader, want)
                } else {
                    Ok((Vec::new(), None))
                }
            },
        );
        drop(raws);
        if let Some(f) = st.sequential(parsed.iter().flatten()) {
            return Err(Error::verify(st.file, f));
        }
        // Freeing a block's parsed entries is real work; keep it off the sequential path.
        parsed.into_par_iter().for_each(drop);
        if let Some(f) = tail_problem {
            return Err(Error::verify(st.file, f));
        }
        st.summary.bytes = reader.offset();
        progress(reader.offset(), total);
        block = next?;
    }
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

    /// Run the order-dependent checks over a block, in log order; the first failure (form,
    /// chain, trust or signature) is returned.
    fn sequential<'a>(&mut self, parsed: impl Iterator<Item = &'a Parsed>) -> Option<Failure> {
        for p in parsed {
            let e = match &p.entry {
                Err(le) => return Some(fail(p.line, le.seq, le.code, le.reason.clone())),
                Ok(e) => e,
            };
            let vk = match self.check_entry(p.line, e) {
                Ok(vk) => vk,
                Err(f) => return Some(f),
            };
            let (Some(vk), Some(sig)) = (vk, &e.sig) else {
                continue;
            };
            if e.seq < self.sig_from {
                continue;
            }
            let good = match p.sig {
                // The parallel pass used the snapshot key of the same id; ids are unique in a
                // key history, but compare anyway rather than assume.
                SigStatus::Good
                    if self
                        .keys
                        .get(e.signer.as_deref().unwrap_or_default())
                        .is_some_and(|k| k.vk == vk) =>
                {
                    true
                }
                SigStatus::Bad => false,
                _ => keys::verify_strict(&vk, &e.signing_message(), sig),
            };
            if !good {
                let by = e.signer.as_deref().unwrap_or("?");
                return Some(fail(
                    p.line,
                    Some(e.seq),
                    "bad-signature",
                    format!("signature by key {by} does not verify"),
                ));
            }
            self.summary.signatures_checked += 1;
        }
        None
    }

    /// Order-dependent checks of one entry. Returns the key its signature must verify with.
    fn check_entry(
        &mut self,
        n: u64,
        e: &Entry,
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
            (Some(id), Some(_)) => Some(self.signer_key(n, e, id)?),
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
        e: &Entry,
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
                let self_add = self.keys.is_empty()
                    && e.kind == Kind::Key
                    && e.body.get("action").and_then(Value::as_str) == Some("add")
                    && e.body.get("key_id").and_then(Value::as_str) == Some(id);
                if self_add {
                    let pk = e
                        .body
                        .get("public_key")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    return keys::parse_public_hex(pk)
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

    fn apply_key(&mut self, n: u64, e: &Entry) -> std::result::Result<(), Failure> {
        let seq = Some(e.seq);
        let field = |k: &str| {
            e.body
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let (action, id, pk_hex) = (field("action"), field("key_id"), field("public_key"));
        let vk = keys::parse_public_hex(&pk_hex)
            .map_err(|r| fail(n, seq, "bad-key", format!("body.public_key: {r}")))?;
        if keys::key_id(&vk) != id {
            return Err(fail(
                n,
                seq,
                "bad-key",
                "body.key_id does not match body.public_key",
            ));
        }
        if action == "add" {
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
