//! The per-line checks of verification, run in parallel: each line on its own (form, canonical
//! bytes, body schema, leaf hash), then one batch verification of the chunk's signatures by
//! keys trusted when the chunk's block was queued.
//!
//! Nothing here depends on other lines; what does (seq, chain, trust) is in
//! [`super::order`].

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};

use crate::keys::history::KeyChange;
use crate::ledger::body::Kind;
use crate::ledger::entry::{self, Entry, LineError};
use crate::ledger::fastline;

/// What the parallel pass learned about one line.
pub(super) struct Parsed {
    /// 1-based line number.
    pub(super) line: u64,
    pub(super) entry: std::result::Result<Checked, LineError>,
    pub(super) sig: SigStatus,
    /// The runner's submission signature, checked with the snapshot key of its signer.
    pub(super) sub_sig: SigStatus,
}

/// Signature status after the parallel pass, which checks signatures by keys trusted at the
/// start of the block (the common case). The sequential pass decides whether that key was the
/// right one at the entry's point of the log, and checks the rest itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum SigStatus {
    Good,
    Bad,
    Unchecked,
}

/// What the order-dependent checks need of a line that is valid on its own.
pub(super) struct Checked {
    pub(super) seq: u64,
    pub(super) kind: Kind,
    pub(super) prev: [u8; 32],
    pub(super) hash: [u8; 32],
    pub(super) signer: Option<KeyId>,
    pub(super) sig: Option<[u8; 64]>,
    /// The body of a `key` entry.
    pub(super) key: Option<KeyChange>,
    /// The body of a `policy` entry: `require_signatures` and the settings text.
    pub(super) policy: Option<(bool, String)>,
    /// A version-2 entry's submission.
    pub(super) sub: Option<Box<SubCheck>>,
}

/// What checking a version-2 entry's submission needs: its signer, id, signature and the
/// message signed.
pub(super) struct SubCheck {
    pub(super) signer: KeyId,
    pub(super) id: String,
    pub(super) sig: [u8; 64],
    pub(super) msg: [u8; 85],
}

/// A key id as written in `signer`: 16 lowercase hex characters, kept inline so that a line's
/// result owns no heap memory.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyId(pub(super) [u8; 16]);

impl KeyId {
    fn new(s: &str) -> Option<KeyId> {
        s.as_bytes().try_into().ok().map(KeyId)
    }

    pub(super) fn as_str(&self) -> &str {
        // Built from a `&str` of 16 bytes that the line checks made lowercase hex.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
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
                    policy: None,
                    sub: None,
                });
            }
        }
        let e = Entry::parse_line(line)?;
        let key = (e.kind == Kind::Key).then(|| KeyChange::from_body(&e.body));
        let policy = (e.kind == Kind::Policy).then(|| {
            let field = |k: &str| e.body.get(k).cloned();
            (
                field("require_signatures")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true),
                field("settings")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
        });
        let sub = match (&e.submission, e.submission_message()) {
            (Some(s), Some(msg)) => match KeyId::new(&s.signer) {
                Some(signer) => Some(Box::new(SubCheck {
                    signer,
                    id: s.id.clone(),
                    sig: s.sig,
                    msg,
                })),
                None => {
                    return Err(LineError {
                        code: "bad-field",
                        reason: "submission.signer: expected 16 lowercase hex characters".into(),
                        seq: Some(e.seq),
                    })
                }
            },
            _ => None,
        };
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
            policy,
            sub,
        })
    }

    pub(super) fn signing_message(&self) -> [u8; 80] {
        entry::signing_message(&self.hash)
    }
}

/// Parse a chunk of lines and batch-verify the signatures whose signer is in `snapshot`.
pub(super) fn process_chunk(
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
            sub_sig: SigStatus::Unchecked,
        })
        .collect();
    // Submissions (version-2 entries) are checked one by one with the snapshot key of their
    // signer; the sequential pass decides whether that key was trusted at the entry.
    for p in &mut out {
        let Ok(Checked { sub: Some(s), .. }) = &p.entry else {
            continue;
        };
        if let Some(vk) = snapshot.get(s.signer.as_str()) {
            p.sub_sig = if crate::keys::verify_strict(vk, &s.msg, &s.sig) {
                SigStatus::Good
            } else {
                SigStatus::Bad
            };
        }
    }
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
