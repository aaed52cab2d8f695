//! The order-dependent checks of verification, run on the calling thread in log order: `seq`
//! continuity, the `prev` chain, signature presence, signer trust at that point of the log
//! (the rules are [`KeyHistory`]'s), the signatures the parallel pass could not check, and at
//! the end the pinned root key.
//!
//! Each block's first failure is kept; a bad deferred signature of the same block wins over
//! it when it is on an earlier line, so the failure reported is always the first in log order.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

use super::line::{Checked, KeyId, Parsed, SigStatus, SubCheck};
use super::{Summary, Verified, SIG_CHUNK};
use crate::error::{Error, Failure, Result};
use crate::keys::{self, history::KeyHistory};
use crate::ledger::body::Kind;
use crate::ledger::reader::Block;
use crate::ledger::store::Ledger;

/// The state of the sequential pass.
pub(super) struct State {
    pub(super) file: String,
    pub(super) require_sigs: bool,
    /// `--require-signatures`: stays on whatever a `policy` entry says.
    pub(super) require_flag: bool,
    pub(super) sig_from: u64,
    pub(super) next_seq: u64,
    pub(super) prev: [u8; 32],
    pub(super) keys: KeyHistory,
    pub(super) collect: bool,
    pub(super) summary: Summary,
    /// The last finished block, whose buffer the reader may reuse.
    pub(super) recycle: Option<Block>,
    /// The last block's list of kinds and signers, to be reused by the next.
    pub(super) seen_spare: Vec<(Kind, Option<KeyId>, Option<KeyId>)>,
    /// Submission ids seen so far (each may appear once in a ledger).
    pub(super) submission_ids: std::collections::HashSet<String>,
}

/// The sequential pass's findings within one block.
#[derive(Default)]
pub(super) struct BlockCheck {
    deferred: Vec<Deferred>,
    first: Option<Failure>,
    /// Kind and signer of each line that passed, in order (for the tap).
    seen: Vec<(Kind, Option<KeyId>, Option<KeyId>)>,
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

fn fail(line: u64, seq: Option<u64>, code: &'static str, reason: impl Into<String>) -> Failure {
    Failure::at_line(line, seq, code, reason)
}

/// A key-history failure (which carries a seq but no line) placed at line `n`.
fn at_line(n: u64, f: Failure) -> Failure {
    Failure { line: Some(n), ..f }
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

impl State {
    /// Keys trusted now, for the parallel pass of the next block.
    pub(super) fn trusted_snapshot(&self) -> HashMap<String, VerifyingKey> {
        self.keys
            .trusted_keys()
            .map(|(id, vk)| (id.to_string(), *vk))
            .collect()
    }

    /// Run the order-dependent checks over one chunk of a block, in log order, up to the
    /// block's first failure (form, chain, trust or signature).
    ///
    /// Signatures the parallel pass could not check (their key was not in its snapshot: a key
    /// added shortly before) are collected on the way and batch-verified in parallel at the
    /// end of the block; a bad one wins over a later failure of another kind.
    pub(super) fn check_chunk(&mut self, parsed: &[Parsed], check: &mut BlockCheck) {
        if check.first.is_some() {
            return;
        }
        for p in parsed {
            if let Err(f) = self.sequential_one(p, &mut check.deferred) {
                check.first = Some(f);
                return;
            }
            if let Ok(e) = &p.entry {
                let author = e.sub.as_ref().map(|s| s.signer).or(e.signer);
                check.seen.push((e.kind, e.signer, author));
            }
        }
    }

    /// A fresh [`BlockCheck`], reusing the last block's buffer.
    pub(super) fn new_check(&mut self) -> BlockCheck {
        let mut seen = std::mem::take(&mut self.seen_spare);
        seen.clear();
        BlockCheck {
            seen,
            ..BlockCheck::default()
        }
    }

    /// Finish a block: its deferred signatures, its first failure, what ended it, progress.
    pub(super) fn end_block(
        &mut self,
        check: BlockCheck,
        block: Block,
        total: u64,
        progress: &mut dyn FnMut(u64, u64),
        tap: &mut dyn FnMut(&super::Tapped<'_>),
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
        if check.seen.len() != block.lines.len() {
            return Err(Error::internal(format!(
                "{}: {} lines checked of a block of {}",
                self.file,
                check.seen.len(),
                block.lines.len()
            )));
        }
        for (&(_, start, end), (kind, signer, author)) in block.lines.iter().zip(&check.seen) {
            if let Some(line) = block.bytes.get(start..end) {
                tap(&super::Tapped {
                    kind: *kind,
                    signer: signer.as_ref().map(KeyId::as_str),
                    author: author.as_ref().map(KeyId::as_str),
                    line,
                });
            }
        }
        self.seen_spare = check.seen;
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
        if let Some(sub) = &e.sub {
            self.check_submission(p, e.seq, sub)?;
        }
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
            SigStatus::Good if self.keys.known(signer.as_str()) == Some(&vk) => {
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

    /// A version-2 entry's submission: signed by a key trusted at this entry (any role but a
    /// git-signer key's), with a valid signature, and an id no earlier entry carries.
    fn check_submission(
        &mut self,
        p: &Parsed,
        seq: u64,
        sub: &SubCheck,
    ) -> std::result::Result<(), Failure> {
        let id = sub.signer.as_str();
        let Some(vk) = self.keys.trusted(id) else {
            let why = if self.keys.known(id).is_some() {
                "revoked before this entry"
            } else {
                "not trusted at this point of the log"
            };
            return Err(fail(
                p.line,
                Some(seq),
                "untrusted-submitter",
                format!("submission signed by key {id}, {why}"),
            ));
        };
        if self.keys.git_signer(id).is_some() {
            return Err(fail(
                p.line,
                Some(seq),
                "git-signer-signed-submission",
                format!("submission signed by git-signer key {id}, which signs git commits only"),
            ));
        }
        let good = match p.sub_sig {
            SigStatus::Good => true,
            SigStatus::Bad => false,
            SigStatus::Unchecked => keys::verify_strict(vk, &sub.msg, &sub.sig),
        };
        if !good {
            return Err(fail(
                p.line,
                Some(seq),
                "bad-submission-signature",
                format!("submission signature by key {id} does not verify"),
            ));
        }
        if !self.submission_ids.insert(sub.id.clone()) {
            return Err(fail(
                p.line,
                Some(seq),
                "duplicate-submission",
                format!(
                    "submission id {:?} was already written by an earlier entry",
                    sub.id
                ),
            ));
        }
        self.summary.submissions += 1;
        Ok(())
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
                if matches!(e.kind, Kind::Key | Kind::Policy) {
                    return Err(fail(
                        n,
                        seq,
                        "unsigned",
                        format!("{} entries must be signed", e.kind),
                    ));
                }
                self.summary.unsigned += 1;
                None
            }
            (Some(id), Some(_)) => Some(
                self.keys
                    .signer_key(e.seq, id.as_str(), e.key.as_ref())
                    .map_err(|f| at_line(n, f))?,
            ),
        };
        if e.kind == Kind::Key {
            let Some(change) = &e.key else {
                return Err(fail(n, seq, "bad-key", "key entry without a key body"));
            };
            self.keys.apply(e.seq, change).map_err(|f| at_line(n, f))?;
        }
        if let Some((require, settings)) = &e.policy {
            // In force from the next entry on.
            self.require_sigs = self.require_flag || *require;
            self.summary.policy = Some(super::SignedPolicy {
                seq: e.seq,
                hash: e.hash,
                require_signatures: *require,
                settings: settings.clone(),
            });
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

    /// Check the root key against the one pinned in `config.toml` and hand out the summary.
    pub(super) fn finish(mut self, ledger: &Ledger) -> Result<Verified<Summary>> {
        let root = self.keys.root();
        if let (Some(pinned), None) = (&ledger.config().root_key, root) {
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
        if let (Some(pinned), Some((root, at))) = (&ledger.config().root_key, root) {
            if pinned != root {
                return Err(Error::verify(
                    self.file,
                    Failure {
                        line: Some(at + 1),
                        seq: Some(at),
                        code: "root-key-mismatch",
                        reason: format!(
                            "root key {root} differs from root_key {pinned} pinned in config.toml"
                        ),
                    },
                ));
            }
        }
        self.summary.root_key = root.map(|(id, _)| id.to_string());
        self.summary.keys = self.keys.states();
        Ok(Verified(self.summary))
    }
}
