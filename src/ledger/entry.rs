//! One ledger entry: its fields, canonical bytes, leaf hash and signature message.
//!
//! # Format (DESIGN §2)
//!
//! An entry is one line of `ledger.jsonl`:
//!
//! ```text
//! {"actor":"ci/build-7","body":{...},"hash":"<64 hex>","kind":"deploy","prev":"<64 hex>",
//!  "seq":41,"sig":"<base64, 64 bytes>","signer":"<16 hex>","ts":"2026-11-22T12:00:00.123Z","v":1}
//! ```
//!
//! * `C` = canonical JSON ([`crate::canonical`]) of the entry without `hash` and `sig`.
//! * `hash` = hex(SHA-256(0x00 ‖ C)), the RFC 6962 leaf hash shared by the chain and the tree.
//! * `sig` = Ed25519 over the ASCII bytes `ledger-entry-v1:` ‖ hash-hex, by key `signer`.
//!   Unsigned entries carry neither `signer` nor `sig`.
//! * `prev` is the previous entry's `hash` (64 zeros for seq 0); `seq` starts at 0, no gaps.
//! * `ts` is UTC with exactly millisecond precision: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
//! * The line itself is the canonical JSON of the whole entry (with `hash` and `sig`), so a line
//!   that is not byte-identical to its re-encoding is rejected: one entry, one byte string.
//! * A line is at most [`MAX_LINE`] bytes, UTF-8, ending in `\n` (not counted here).
//!
//! ## Version 2: entries that keep a runner's own signature
//!
//! An entry written by `ledger serve` for a runner carries `"v":2` and one more member,
//! `"submission":{"id":ID,"sig":SIG,"signer":KID}` (so the sorted order is actor, body, hash,
//! kind, prev, seq, sig, signer, submission, ts, v). It is part of `C`, so the leaf hash covers
//! it; the entry itself must still be signed (`signer`, `sig`) by the log key.
//!
//! * `ID` (chosen by the runner, for idempotency): 1 to 128 characters of `[A-Za-z0-9._:-]`.
//! * `SIG`: Ed25519 by key `KID` over `ledger-submission-v1:` ‖ lowercase hex(SHA-256(S)), where
//!   `S` is the canonical JSON of `{"actor":A,"body":B,"id":ID,"kind":K,"ts":TS}` with the
//!   entry's own actor, body, kind and ts ([`submission_message`]).
//! * The verifier requires `KID` to be trusted at the entry's point of the log, and no two
//!   entries to carry the same `ID`. Version-1 lines are unchanged and keep verifying.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::ledger::body::{self, is_lower_hex, Kind};

/// Longest line accepted, newline excluded: 1 MiB.
pub const MAX_LINE: usize = 1 << 20;

/// Entry format version written in `v` (entries without a submission).
pub const VERSION: u64 = 1;

/// Entry format version of entries that carry a runner's [`Submission`].
pub const VERSION_SUBMISSION: u64 = 2;

/// Prefix of the message a runner signs for its submission.
pub const SUBMISSION_CONTEXT: &[u8] = b"ledger-submission-v1:";

/// Longest submission id.
pub const MAX_SUBMISSION_ID: usize = 128;

/// Prefix of the signed message of an entry.
pub const SIG_CONTEXT: &[u8] = b"ledger-entry-v1:";

/// The `prev` of entry 0.
pub const ZERO_HASH: [u8; 32] = [0u8; 32];

const FIELDS: [&str; 11] = [
    "actor",
    "body",
    "hash",
    "kind",
    "prev",
    "seq",
    "sig",
    "signer",
    "submission",
    "ts",
    "v",
];

/// What a runner signed, kept in a version-2 entry: the runner's id for the submission, its
/// key and its signature over [`submission_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The runner's id for this submission (idempotency key).
    pub id: String,
    /// Key id of the runner's key.
    pub signer: String,
    /// Ed25519 signature over [`submission_message`].
    pub sig: [u8; 64],
}

/// True when `id` is a valid submission id: 1 to 128 characters of `[A-Za-z0-9._:-]`.
pub fn valid_submission_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SUBMISSION_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The message a runner signs: `ledger-submission-v1:` ‖ lowercase hex(SHA-256(S)), `S` the
/// canonical JSON of `{"actor","body","id","kind","ts"}`; `body_c` is the body's canonical
/// bytes.
pub fn submission_message(actor: &str, body_c: &[u8], id: &str, kind: Kind, ts: &str) -> [u8; 85] {
    let mut s = Vec::with_capacity(body_c.len() + actor.len() + id.len() + 80);
    s.extend_from_slice(b"{\"actor\":");
    canonical::write_string(actor, &mut s);
    s.extend_from_slice(b",\"body\":");
    s.extend_from_slice(body_c);
    s.extend_from_slice(b",\"id\":");
    canonical::write_string(id, &mut s);
    s.extend_from_slice(b",\"kind\":\"");
    s.extend_from_slice(kind.as_str().as_bytes());
    s.extend_from_slice(b"\",\"ts\":");
    canonical::write_string(ts, &mut s);
    s.push(b'}');
    let digest: [u8; 32] = Sha256::digest(&s).into();
    let mut msg = [0u8; 85];
    msg[..21].copy_from_slice(SUBMISSION_CONTEXT);
    // 32 bytes always encode to exactly 64 hex characters.
    let _ = hex::encode_to_slice(digest, &mut msg[21..]);
    msg
}

fn push_b64_sig(sig: &[u8; 64], out: &mut Vec<u8>) {
    let mut b64 = [0u8; 88];
    // 64 bytes always encode to exactly 88 base64 characters.
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(sig, &mut b64)
        .unwrap_or_default();
    out.extend_from_slice(&b64[..n]);
}

/// Write `,"submission":{...}` (canonical, members sorted).
fn push_submission(sub: &Submission, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"submission\":{\"id\":");
    canonical::write_string(&sub.id, out);
    out.extend_from_slice(b",\"sig\":\"");
    push_b64_sig(&sub.sig, out);
    out.extend_from_slice(b"\",\"signer\":");
    canonical::write_string(&sub.signer, out);
    out.push(b'}');
}

/// A parsed (or freshly sealed) entry. Parsing checks form, canonical bytes and the leaf hash;
/// chain, signatures and key trust are checked by the verifier, which sees the whole log.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// Timestamp, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub ts: String,
    /// Kind of entry.
    pub kind: Kind,
    /// Who recorded it (free text, e.g. `ci/build-7`).
    pub actor: String,
    /// Key id of the signer, if signed.
    pub signer: Option<String>,
    /// Kind-specific body.
    pub body: Value,
    /// Leaf hash of the previous entry.
    pub prev: [u8; 32],
    /// Leaf hash of this entry.
    pub hash: [u8; 32],
    /// Ed25519 signature over [`Entry::signing_message`], if signed.
    pub sig: Option<[u8; 64]>,
    /// The runner's submission (version-2 entries only).
    pub submission: Option<Submission>,
}

/// Why a line is not a valid entry on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Stable reason code.
    pub code: &'static str,
    /// Explanation naming the field.
    pub reason: String,
    /// `seq` of the line, when it could be read.
    pub seq: Option<u64>,
}

impl LineError {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        LineError {
            code,
            reason: reason.into(),
            seq: None,
        }
    }
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// The message an entry's signature covers: `ledger-entry-v1:` ‖ lowercase hex of `hash`.
pub fn signing_message(hash: &[u8; 32]) -> [u8; 80] {
    let mut msg = [0u8; 80];
    msg[..16].copy_from_slice(SIG_CONTEXT);
    // hex::encode_to_slice cannot fail for a 64-byte output of 32 input bytes.
    let _ = hex::encode_to_slice(hash, &mut msg[16..]);
    msg
}

/// True when `ts` is a valid timestamp in the one accepted form,
/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds, a real calendar date, no leap second).
pub fn valid_ts(ts: &str) -> bool {
    let b = ts.as_bytes();
    if b.len() != 24 {
        return false;
    }
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'.',
        23 => c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !shape_ok {
        return false;
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0'));
    let (y, mo, d) = (num(0..4), num(5..7), num(8..10));
    let (h, mi, s) = (num(11..13), num(14..16), num(17..19));
    h < 24 && mi < 60 && s < 60 && chrono::NaiveDate::from_ymd_opt(y as i32, mo, d).is_some()
}

fn push_hex(bytes: &[u8; 32], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

/// First step of sealing, order-independent: SHA-256 state over `0x00` and the bytes of `C` up
/// to the value of `prev` (`{"actor":…,"body":…,"kind":"…","prev":"`). Appends run it in
/// parallel; [`finish_seal`] adds what depends on the chain.
pub fn begin_seal(actor: &str, body_c: &[u8], kind: Kind) -> Sha256 {
    let mut head = Vec::with_capacity(actor.len() + 48);
    head.push(0u8);
    head.extend_from_slice(b"{\"actor\":");
    canonical::write_string(actor, &mut head);
    head.extend_from_slice(b",\"body\":");
    let mut h = Sha256::new();
    h.update(&head);
    h.update(body_c);
    head.clear();
    head.extend_from_slice(b",\"kind\":\"");
    head.extend_from_slice(kind.as_str().as_bytes());
    head.extend_from_slice(b"\",\"prev\":\"");
    h.update(&head);
    h
}

/// Second step of sealing: the leaf hash, given the state from [`begin_seal`] and the rest of
/// `C` (`prev`, `seq`, `signer`, `submission`, `ts`, `v`), exactly as
/// [`Entry::unsigned_bytes`] writes it.
pub fn finish_seal(
    head: &Sha256,
    prev: &[u8; 32],
    seq: u64,
    signer: Option<&str>,
    submission: Option<&Submission>,
    ts: &str,
) -> [u8; 32] {
    let mut tail = Vec::with_capacity(160);
    push_hex(prev, &mut tail);
    tail.extend_from_slice(b"\",\"seq\":");
    tail.extend_from_slice(seq.to_string().as_bytes());
    if let Some(signer) = signer {
        tail.extend_from_slice(b",\"signer\":");
        canonical::write_string(signer, &mut tail);
    }
    if let Some(sub) = submission {
        push_submission(sub, &mut tail);
    }
    tail.extend_from_slice(b",\"ts\":");
    canonical::write_string(ts, &mut tail);
    tail.extend_from_slice(version_tail(submission.is_some()));
    let mut h = head.clone();
    h.update(&tail);
    h.finalize().into()
}

fn version_tail(v2: bool) -> &'static [u8] {
    if v2 {
        b",\"v\":2}"
    } else {
        b",\"v\":1}"
    }
}

/// The current time in entry form.
pub fn now_ts() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Entry {
    /// Build an unsigned entry and compute its hash. Fails if the body has no canonical form
    /// or does not fit its kind.
    pub fn seal(
        seq: u64,
        ts: String,
        kind: Kind,
        actor: String,
        signer: Option<String>,
        body: Value,
        prev: [u8; 32],
    ) -> Result<Entry, LineError> {
        if !valid_ts(&ts) {
            return Err(LineError::new(
                "bad-field",
                format!("ts: `{ts}` is not YYYY-MM-DDTHH:MM:SS.mmmZ"),
            ));
        }
        let body_c = Self::check_draft(kind, &actor, &body)?;
        let head = begin_seal(&actor, &body_c, kind);
        let hash = finish_seal(&head, &prev, seq, signer.as_deref(), None, &ts);
        Ok(Entry {
            seq,
            ts,
            kind,
            actor,
            signer,
            body,
            prev,
            hash,
            sig: None,
            submission: None,
        })
    }

    /// Check the caller-chosen parts of an entry and return the body's canonical bytes (the
    /// order-independent half of sealing, which appends run in parallel). The body must satisfy
    /// its kind's full schema ([`body::validate_draft`]), optional fields included.
    pub fn check_draft(kind: Kind, actor: &str, body: &Value) -> Result<Vec<u8>, LineError> {
        check_actor(actor)?;
        let body_c =
            canonical::encode(body).map_err(|e| LineError::new("bad-body", format!("body.{e}")))?;
        // New entries meet every rule of their kind's schema; stored ones only the required
        // fields (see `parse_map`), so ledgers written before the stricter rule still verify.
        body::validate_draft(kind, body).map_err(|e| LineError::new("bad-body", e.to_string()))?;
        Ok(body_c)
    }

    /// Write the entry's canonical bytes given the canonical bytes of its body: `C` when
    /// `full` is false, the whole line when true. The top-level keys are fixed, so they are
    /// written directly in their sorted order: actor, body, hash, kind, prev, seq, sig, signer,
    /// ts, v (`hash` and `sig` only in the full form, `signer`/`sig` only when signed).
    fn assemble(&self, body_c: &[u8], full: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(body_c.len() + 320);
        self.assemble_into(body_c, full, &mut out);
        out
    }

    /// The canonical line given the body's canonical bytes (saves re-encoding the body),
    /// appended to `out` without a newline.
    pub fn write_line(&self, body_c: &[u8], out: &mut Vec<u8>) {
        self.assemble_into(body_c, true, out);
    }

    fn assemble_into(&self, body_c: &[u8], full: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"actor\":");
        canonical::write_string(&self.actor, out);
        out.extend_from_slice(b",\"body\":");
        out.extend_from_slice(body_c);
        if full {
            out.extend_from_slice(b",\"hash\":\"");
            push_hex(&self.hash, out);
            out.push(b'"');
        }
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"prev\":\"");
        push_hex(&self.prev, out);
        out.extend_from_slice(b"\",\"seq\":");
        out.extend_from_slice(self.seq.to_string().as_bytes());
        if let (true, Some(sig)) = (full, &self.sig) {
            out.extend_from_slice(b",\"sig\":\"");
            push_b64_sig(sig, out);
            out.push(b'"');
        }
        if let Some(signer) = &self.signer {
            out.extend_from_slice(b",\"signer\":");
            canonical::write_string(signer, out);
        }
        if let Some(sub) = &self.submission {
            push_submission(sub, out);
        }
        out.extend_from_slice(b",\"ts\":");
        canonical::write_string(&self.ts, out);
        out.extend_from_slice(version_tail(self.submission.is_some()));
    }

    fn body_bytes(&self) -> Vec<u8> {
        // The body was checked when the entry was sealed or parsed, so this cannot fail; an
        // empty result could only cause a hash mismatch, never a silent success.
        canonical::encode(&self.body).unwrap_or_default()
    }

    /// The canonical bytes `C` (entry without `hash` and `sig`).
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        self.assemble(&self.body_bytes(), false)
    }

    /// The whole entry as a JSON value (what is written on its line).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        let v = if self.submission.is_some() {
            VERSION_SUBMISSION
        } else {
            VERSION
        };
        m.insert("v".into(), Value::from(v));
        m.insert("seq".into(), Value::from(self.seq));
        m.insert("ts".into(), Value::from(self.ts.clone()));
        m.insert("kind".into(), Value::from(self.kind.as_str()));
        m.insert("actor".into(), Value::from(self.actor.clone()));
        if let Some(s) = &self.signer {
            m.insert("signer".into(), Value::from(s.clone()));
        }
        m.insert("body".into(), self.body.clone());
        m.insert("prev".into(), Value::from(hex::encode(self.prev)));
        m.insert("hash".into(), Value::from(hex::encode(self.hash)));
        if let Some(sig) = &self.sig {
            use base64::Engine as _;
            m.insert(
                "sig".into(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(sig)),
            );
        }
        if let Some(sub) = &self.submission {
            use base64::Engine as _;
            m.insert(
                "submission".into(),
                serde_json::json!({
                    "id": sub.id,
                    "signer": sub.signer,
                    "sig": base64::engine::general_purpose::STANDARD.encode(sub.sig),
                }),
            );
        }
        Value::Object(m)
    }

    /// The canonical line, without the trailing newline.
    pub fn to_line(&self) -> Vec<u8> {
        self.assemble(&self.body_bytes(), true)
    }

    /// Hex of the leaf hash.
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }

    /// The message the signature covers.
    pub fn signing_message(&self) -> [u8; 80] {
        signing_message(&self.hash)
    }

    /// The message the runner's submission signature covers, if the entry carries one.
    pub fn submission_message(&self) -> Option<[u8; 85]> {
        let sub = self.submission.as_ref()?;
        Some(submission_message(
            &self.actor,
            &self.body_bytes(),
            &sub.id,
            self.kind,
            &self.ts,
        ))
    }

    /// Parse one line (without its newline) and check everything that the line alone decides:
    /// UTF-8, size, JSON, canonical form, field types, body schema and the leaf hash.
    pub fn parse_line(line: &[u8]) -> Result<Entry, LineError> {
        if line.len() > MAX_LINE {
            return Err(LineError::new(
                "too-long",
                format!("line is {} bytes, more than 1 MiB", line.len()),
            ));
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            LineError::new("not-utf8", format!("not UTF-8 at byte {}", e.valid_up_to()))
        })?;
        let value: Value = serde_json::from_str(text)
            .map_err(|e| LineError::new("bad-json", format!("invalid JSON: {e}")))?;
        let Value::Object(mut map) = value else {
            return Err(LineError::new("bad-json", "not a JSON object"));
        };
        let seq = map.get("seq").and_then(Value::as_u64);
        let with_seq = |mut e: LineError| {
            e.seq = seq;
            e
        };
        Self::parse_map(line, &mut map).map_err(with_seq)
    }

    fn parse_map(line: &[u8], map: &mut Map<String, Value>) -> Result<Entry, LineError> {
        if let Some(k) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(LineError::new("bad-field", format!("unknown field `{k}`")));
        }
        let v = map.get("v").and_then(Value::as_u64);
        let submission = match (v, map.get("submission")) {
            (Some(VERSION), None) => None,
            (Some(VERSION), Some(_)) => {
                return Err(LineError::new(
                    "bad-field",
                    "submission: only in version-2 entries (v 2)",
                ))
            }
            (Some(VERSION_SUBMISSION), Some(s)) => Some(parse_submission(s)?),
            (Some(VERSION_SUBMISSION), None) => {
                return Err(LineError::new(
                    "bad-field",
                    "submission: missing (a version-2 entry carries one)",
                ))
            }
            _ => return Err(LineError::new("bad-field", "v: expected 1 or 2")),
        };
        let seq = get_u64(map, "seq")?;
        let ts = get_str(map, "ts")?;
        if !valid_ts(&ts) {
            return Err(LineError::new(
                "bad-field",
                format!("ts: `{ts}` is not YYYY-MM-DDTHH:MM:SS.mmmZ"),
            ));
        }
        let kind_s = get_str(map, "kind")?;
        let kind = Kind::parse(&kind_s)
            .ok_or_else(|| LineError::new("bad-kind", format!("kind: unknown kind `{kind_s}`")))?;
        let actor = get_str(map, "actor")?;
        check_actor(&actor)?;
        let signer = match map.get("signer") {
            None => None,
            Some(Value::String(s)) if is_lower_hex(s, 16) => Some(s.clone()),
            Some(_) => {
                return Err(LineError::new(
                    "bad-field",
                    "signer: expected 16 lowercase hex characters",
                ))
            }
        };
        let prev = get_hash(map, "prev")?;
        let hash = get_hash(map, "hash")?;
        let sig = match map.get("sig") {
            None => None,
            Some(Value::String(s)) => Some(decode_sig(s)?),
            Some(_) => return Err(LineError::new("bad-field", "sig: expected a base64 string")),
        };
        let body = map
            .remove("body")
            .ok_or_else(|| LineError::new("bad-field", "body: missing"))?;
        let body_c = canonical::encode(&body)
            .map_err(|e| LineError::new("not-canonical", format!("body.{e}")))?;
        let entry = Entry {
            seq,
            ts,
            kind,
            actor,
            signer,
            body,
            prev,
            hash,
            sig,
            submission,
        };
        if entry.submission.is_some() && matches!(kind, Kind::Key | Kind::Policy) {
            return Err(LineError::new(
                "bad-kind",
                "kind: a submission cannot be a key or policy entry (only the log's own key changes who is trusted)",
            ));
        }
        if entry.submission.is_some() && (entry.signer.is_none() || entry.sig.is_none()) {
            return Err(LineError::new(
                "missing-signature",
                "a version-2 entry must be signed (signer and sig) by the log's key",
            ));
        }
        // Canonical form of the whole line: any other byte string for the same entry is refused.
        if entry.assemble(&body_c, true) != line {
            return Err(LineError::new(
                "not-canonical",
                "line is not in canonical form (sorted keys, no whitespace, minimal escapes)",
            ));
        }
        body::validate(kind, &entry.body).map_err(|e| LineError::new("bad-body", e.to_string()))?;
        if leaf_hash(&entry.assemble(&body_c, false)) != hash {
            return Err(LineError::new(
                "bad-hash",
                "hash does not match the entry's canonical bytes",
            ));
        }
        Ok(entry)
    }
}

fn parse_submission(v: &Value) -> Result<Submission, LineError> {
    let Value::Object(m) = v else {
        return Err(LineError::new(
            "bad-field",
            "submission: expected an object",
        ));
    };
    if let Some(k) = m
        .keys()
        .find(|k| !["id", "sig", "signer"].contains(&k.as_str()))
    {
        return Err(LineError::new(
            "bad-field",
            format!("submission: unknown field `{k}`"),
        ));
    }
    let id = match m.get("id") {
        Some(Value::String(s)) if valid_submission_id(s) => s.clone(),
        _ => {
            return Err(LineError::new(
                "bad-field",
                "submission.id: expected 1 to 128 characters of [A-Za-z0-9._:-]",
            ))
        }
    };
    let signer = match m.get("signer") {
        Some(Value::String(s)) if is_lower_hex(s, 16) => s.clone(),
        _ => {
            return Err(LineError::new(
                "bad-field",
                "submission.signer: expected 16 lowercase hex characters",
            ))
        }
    };
    let sig = match m.get("sig") {
        Some(Value::String(s)) => decode_sig_bytes(s.as_bytes()).ok_or_else(|| {
            LineError::new(
                "bad-field",
                "submission.sig: expected canonical base64 of 64 bytes",
            )
        })?,
        _ => {
            return Err(LineError::new(
                "bad-field",
                "submission.sig: expected a base64 string",
            ))
        }
    };
    Ok(Submission { id, signer, sig })
}

fn check_actor(actor: &str) -> Result<(), LineError> {
    if actor.is_empty() || actor.len() > 256 || actor.chars().any(char::is_control) {
        return Err(LineError::new(
            "bad-field",
            "actor: expected 1 to 256 characters, no control characters",
        ));
    }
    Ok(())
}

fn get_u64(map: &Map<String, Value>, key: &str) -> Result<u64, LineError> {
    map.get(key).and_then(Value::as_u64).ok_or_else(|| {
        LineError::new(
            "bad-field",
            format!("{key}: expected a non-negative integer"),
        )
    })
}

fn get_str(map: &Map<String, Value>, key: &str) -> Result<String, LineError> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LineError::new("bad-field", format!("{key}: expected a string")))
}

fn get_hash(map: &Map<String, Value>, key: &str) -> Result<[u8; 32], LineError> {
    let bad = || {
        LineError::new(
            "bad-field",
            format!("{key}: expected 64 lowercase hex characters"),
        )
    };
    let s = map
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .as_bytes();
    decode_hash_hex(s).ok_or_else(bad)
}

/// Value of each byte as a lowercase hex digit; `0xFF` for every other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decode exactly 64 lowercase hex digits (the only spelling of a hash in an entry).
///
/// Every line carries two hashes, so this runs two million times per million entries: one
/// table lookup per digit, and the validity of all 64 checked once at the end.
pub fn decode_hash_hex(s: &[u8]) -> Option<[u8; 32]> {
    let s: &[u8; 64] = s.try_into().ok()?;
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        if let [h, l] = *pair {
            let (h, l) = (HEX_DIGIT[h as usize], HEX_DIGIT[l as usize]);
            bad |= h | l;
            *o = (h << 4) | (l & 0x0F);
        }
    }
    (bad & 0xF0 == 0).then_some(out)
}

/// Decode a signature field: standard padded base64 of exactly 64 bytes, canonical encoding.
pub fn decode_sig(s: &str) -> Result<[u8; 64], LineError> {
    decode_sig_bytes(s.as_bytes())
        .ok_or_else(|| LineError::new("bad-field", "sig: expected canonical base64 of 64 bytes"))
}

/// [`decode_sig`] on raw bytes: 88 characters of standard padded base64 that decode to 64
/// bytes and are the canonical encoding of them (no stray bits in the last character).
pub fn decode_sig_bytes(raw: &[u8]) -> Option<[u8; 64]> {
    if raw.len() != 88 {
        return None;
    }
    let mut sig = [0u8; 64];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(raw, &mut sig)
        .ok()?;
    if n != 64 {
        return None;
    }
    let mut back = [0u8; 88];
    let m = base64::engine::general_purpose::STANDARD
        .encode_slice(sig, &mut back)
        .ok()?;
    (m == 88 && back[..] == *raw).then_some(sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The table decoder agrees with the `hex` crate on lowercase digits, and refuses every
    /// other byte in every position (uppercase too: one spelling per hash).
    #[test]
    fn hash_hex_decodes_lowercase_only() {
        let digest: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0xA5);
        let text = hex::encode(digest);
        assert_eq!(decode_hash_hex(text.as_bytes()), Some(digest));
        assert_eq!(decode_hash_hex(&text.as_bytes()[..63]), None);
        assert_eq!(decode_hash_hex(format!("{text}0").as_bytes()), None);
        for at in [0, 1, 30, 63] {
            for b in 0..=255u8 {
                let mut t = text.clone().into_bytes();
                t[at] = b;
                let want = (b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    .then(|| hex::decode(&t).ok())
                    .flatten()
                    .and_then(|v| <[u8; 32]>::try_from(v).ok());
                assert_eq!(decode_hash_hex(&t), want, "byte {b:#04x} at {at}");
            }
        }
    }

    #[test]
    fn non_ascii_keys_are_refused() {
        assert_eq!(
            Entry::seal(
                0,
                "2026-11-22T12:00:00.123Z".into(),
                Kind::Event,
                "a".into(),
                None,
                json!({"type": "t", "data": {"é": 1}}),
                ZERO_HASH
            )
            .map_err(|e| e.code),
            Err("bad-body")
        );
    }

    #[test]
    fn round_trip_and_hash() {
        let e = Entry::seal(
            3,
            "2026-11-22T12:00:00.123Z".into(),
            Kind::Event,
            "ci/x".into(),
            None,
            json!({"type": "t", "data": {"n": 1}}),
            [7; 32],
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let line = e.to_line();
        let back = Entry::parse_line(&line).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(back, e);
        assert!(std::str::from_utf8(&line)
            .unwrap_or("")
            .starts_with(r#"{"actor":"ci/x","body":{"data":{"n":1},"type":"t"},"hash":""#));
        let mut spaced = line.clone();
        spaced.insert(1, b' ');
        assert_eq!(
            Entry::parse_line(&spaced).map_err(|e| e.code),
            Err("not-canonical")
        );
    }

    #[test]
    fn two_step_sealing_hashes_the_canonical_bytes() {
        for (actor, signer, seq) in [
            ("ci/x", None, 0u64),
            ("q\"\\é😀/", Some("0123456789abcdef"), 9_007_199_254_740_991),
            ("a", Some("ffffffffffffffff"), 10),
        ] {
            let e = Entry::seal(
                seq,
                "2026-11-22T12:00:00.123Z".into(),
                Kind::Deploy,
                actor.into(),
                signer.map(str::to_string),
                json!({"env": "p\n", "version": "1", "commit": "c", "status": "failed", "x": [1, {"b": null, "a": -3}]}),
                [0xab; 32],
            )
            .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(e.hash, leaf_hash(&e.unsigned_bytes()), "{actor}");
        }
    }

    #[test]
    fn timestamps() {
        assert!(valid_ts("2026-11-22T12:00:00.123Z"));
        assert!(!valid_ts("2026-11-22T12:00:00Z"));
        assert!(!valid_ts("2026-13-22T12:00:00.123Z"));
        assert!(!valid_ts("2026-11-22 12:00:00.123Z"));
        assert!(valid_ts(&now_ts()));
        assert!(valid_ts("2024-02-29T23:59:59.999Z"));
        assert!(!valid_ts("2025-02-29T00:00:00.000Z"));
        assert!(!valid_ts("2026-11-22T24:00:00.000Z"));
        assert!(!valid_ts("2026-11-22T12:60:00.000Z"));
        assert!(!valid_ts("2026-11-22T12:00:60.000Z"));
        assert!(!valid_ts("2026-11-22T12:00:00.000+"));
        assert!(!valid_ts("2026-11-00T12:00:00.000Z"));
        assert!(!valid_ts("２026-11-22T12:00:00.00Z"));
    }
}
