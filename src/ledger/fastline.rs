//! The fast path of line checking: decide, straight from the line's bytes, that a line is a
//! valid entry, without building a JSON tree or re-encoding it.
//!
//! [`Entry::parse_line`](crate::ledger::entry::Entry::parse_line) is the reference: it parses
//! the line, re-encodes it canonically and compares bytes. This module accepts a *subset* of
//! what the reference accepts and answers `None` for everything else (including every invalid
//! line), so callers fall back to the reference, which then names the problem. It never says
//! "valid" where the reference would not: a differential test (`tests/fastline.rs`) runs both on
//! generated entries and on hundreds of thousands of mutations of them.
//!
//! A line is accepted here when it is exactly
//!
//! ```text
//! {"actor":A,"body":{...},"hash":"<64 hex>","kind":"K","prev":"<64 hex>","seq":N,
//!  ["sig":"<88 base64>",]["signer":"<16 hex>",]"ts":"<YYYY-MM-DDTHH:MM:SS.mmmZ>","v":1}
//! ```
//!
//! in canonical form (DESIGN §2), where
//!
//! * the whole line is UTF-8 and at most 1 MiB;
//! * `A` has no escapes, no control characters and 1 to 256 bytes;
//! * `K` is a known kind other than `key` (key entries change who is trusted; they always take
//!   the reference path, which also extracts their body fields);
//! * the body is canonical JSON: object keys ASCII without escapes and strictly increasing in
//!   byte order, no whitespace, strings with only the minimal escapes, integers only (no
//!   leading zero, no `-0`, magnitude below 2^53), nesting at most 64 deep;
//! * the body has the required fields of its kind with the right types;
//! * the leaf hash recomputed over the line without its `hash` and `sig` members equals `hash`.
//!
//! Because keys are strictly increasing and everything else has exactly one spelling, such a
//! line is byte-identical to its canonical re-encoding, which is the reference's rule.

use sha2::{Digest, Sha256};

use crate::canonical::MAX_SAFE_INTEGER;
use crate::ledger::body::{required_fields, FieldType, Kind};
use crate::ledger::entry::{decode_hash_hex, decode_sig_bytes, valid_ts, MAX_LINE};

/// Nesting depth beyond which the fast path gives up (the reference decides).
const MAX_DEPTH: usize = 64;

/// A line the fast path accepted: the fields the order-dependent checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned<'a> {
    /// `seq`.
    pub seq: u64,
    /// `kind` (never [`Kind::Key`]).
    pub kind: Kind,
    /// `prev`.
    pub prev: [u8; 32],
    /// `hash`, checked against the recomputed leaf hash.
    pub hash: [u8; 32],
    /// `signer`: 16 lowercase hex characters.
    pub signer: Option<&'a str>,
    /// `sig`, decoded.
    pub sig: Option<[u8; 64]>,
}

/// Check `line` (without its newline) on the fast path; `None` means "ask the reference".
pub fn scan(line: &[u8]) -> Option<Scanned<'_>> {
    if line.len() > MAX_LINE || std::str::from_utf8(line).is_err() {
        return None;
    }
    let mut c = Cursor { b: line, i: 0 };
    c.lit(b"{\"actor\":")?;
    let actor = c.string()?;
    if actor.escaped || actor.raw.is_empty() || actor.raw.len() > 256 || has_c1_or_del(actor.raw) {
        return None;
    }
    c.lit(b",\"body\":")?;
    if c.peek()? != b'{' {
        return None;
    }
    c.i += 1;
    let mut fields = BodyFields::default();
    c.object_members(1, |key, tok| fields.note(key, tok))?;

    let hash_start = c.i;
    c.lit(b",\"hash\":\"")?;
    let hash = c.hex32()?;
    c.lit(b"\"")?;
    let hash_end = c.i;

    c.lit(b",\"kind\":")?;
    let kind_s = c.string()?;
    let kind = Kind::parse(std::str::from_utf8(kind_s.raw).ok()?)?;
    if matches!(kind, Kind::Key | Kind::Policy) || kind_s.escaped {
        return None;
    }
    c.lit(b",\"prev\":\"")?;
    let prev = c.hex32()?;
    c.lit(b"\",\"seq\":")?;
    let seq = c.uint()?;

    let sig_start = c.i;
    let mut sig = None;
    if c.lit(b",\"sig\":\"").is_some() {
        sig = Some(decode_sig_bytes(c.take(88)?)?);
        c.lit(b"\"")?;
    }
    let sig_end = c.i;
    let mut signer = None;
    if c.lit(b",\"signer\":\"").is_some() {
        let raw = c.take(16)?;
        if !raw.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        signer = Some(std::str::from_utf8(raw).ok()?);
        c.lit(b"\"")?;
    }
    c.lit(b",\"ts\":\"")?;
    let ts = c.take(24)?;
    if !valid_ts(std::str::from_utf8(ts).ok()?) {
        return None;
    }
    c.lit(b"\",\"v\":1}")?;
    if c.i != line.len() {
        return None;
    }
    if !fields.satisfies(kind) {
        return None;
    }

    // C = the line without its `hash` and `sig` members.
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(&line[..hash_start]);
    h.update(&line[hash_end..sig_start]);
    h.update(&line[sig_end..]);
    let computed: [u8; 32] = h.finalize().into();
    if computed != hash {
        return None;
    }
    Some(Scanned {
        seq,
        kind,
        prev,
        hash,
        signer,
        sig,
    })
}

fn has_c1_or_del(s: &[u8]) -> bool {
    // U+007F is DEL; U+0080..U+009F (the C1 controls) are encoded as C2 80..C2 9F.
    s.contains(&0x7f)
        || s.windows(2)
            .any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
}

/// A string token: its raw bytes between the quotes, and whether they hold an escape.
#[derive(Debug, Clone, Copy)]
struct Str<'a> {
    raw: &'a [u8],
    escaped: bool,
}

/// What the body checks need to know about a value.
#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    Str(Str<'a>),
    UInt,
    Other,
    Object,
    Array { all_strings: bool },
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or_default()
    }

    fn lit(&mut self, s: &[u8]) -> Option<()> {
        if self.rest().starts_with(s) {
            self.i += s.len();
            Some(())
        } else {
            None
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(s)
    }

    fn hex32(&mut self) -> Option<[u8; 32]> {
        decode_hash_hex(self.take(64)?)
    }

    /// A canonical non-negative integer (no sign, no leading zero, no fraction or exponent).
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b[start] == b'0') {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(n)
    }

    /// A canonical integer of magnitude at most 2^53 - 1; true when it is non-negative.
    fn int(&mut self) -> Option<bool> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let n = self.uint()?;
        if n > MAX_SAFE_INTEGER || (negative && n == 0) {
            return None;
        }
        Some(!negative)
    }

    /// A string in canonical form; the cursor is on its opening quote.
    fn string(&mut self) -> Option<Str<'a>> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            let rest = self.rest();
            let k = memchr::memchr2(b'"', b'\\', rest)?;
            if rest[..k].iter().any(|&b| b < 0x20) {
                return None;
            }
            self.i += k;
            if rest[k] == b'"' {
                let raw = &self.b[start..self.i];
                self.i += 1;
                return Some(Str { raw, escaped });
            }
            escaped = true;
            // The escapes JCS writes, and no others.
            let esc = *rest.get(k + 1)?;
            match esc {
                b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.i += 2,
                b'u' => {
                    let h = rest.get(k + 2..k + 6)?;
                    let lower = |c: u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
                    if h[0] != b'0' || h[1] != b'0' || !matches!(h[2], b'0' | b'1') || !lower(h[3])
                    {
                        return None;
                    }
                    let code = (h[2] - b'0') * 16
                        + if h[3] <= b'9' {
                            h[3] - b'0'
                        } else {
                            h[3] - b'a' + 10
                        };
                    if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                        return None;
                    }
                    self.i += 6;
                }
                _ => return None,
            }
        }
    }

    /// Any canonical value.
    fn value(&mut self, depth: usize) -> Option<Tok<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(Tok::Str),
            b'{' => {
                self.i += 1;
                self.object_members(depth + 1, |_, _| Some(()))?;
                Some(Tok::Object)
            }
            b'[' => {
                self.i += 1;
                let mut all_strings = true;
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(Tok::Array { all_strings });
                }
                loop {
                    let t = self.value(depth + 1)?;
                    all_strings &= matches!(t, Tok::Str(_));
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(Tok::Array { all_strings });
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.lit(b"true").map(|()| Tok::Other),
            b'f' => self.lit(b"false").map(|()| Tok::Other),
            b'n' => self.lit(b"null").map(|()| Tok::Other),
            b'-' | b'0'..=b'9' => self
                .int()
                .map(|non_negative| if non_negative { Tok::UInt } else { Tok::Other }),
            _ => None,
        }
    }

    /// The members of an object whose `{` was consumed, up to and including its `}`. Keys are
    /// ASCII without escapes and strictly increasing. `f` sees each key and value.
    fn object_members(
        &mut self,
        depth: usize,
        mut f: impl FnMut(&'a [u8], Tok<'a>) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        let mut last: Option<&[u8]> = None;
        loop {
            let key = self.string()?;
            if key.escaped || !key.raw.is_ascii() {
                return None;
            }
            if last.is_some_and(|l| l >= key.raw) {
                return None;
            }
            last = Some(key.raw);
            self.lit(b":")?;
            let tok = self.value(depth)?;
            f(key.raw, tok)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// Most body fields some kind requires that one body may carry before the fast path gives up.
const MAX_NOTED: usize = 12;

/// The body's top-level members whose names some kind requires, with their tokens (the kind is
/// only known after the body, so all candidates are kept). The body is a canonical object, so
/// each key appears once.
#[derive(Default)]
struct BodyFields<'a> {
    seen: [Option<(&'a [u8], Tok<'a>)>; MAX_NOTED],
    n: usize,
}

/// True when some kind requires a body field named `key`.
fn is_required_somewhere(key: &[u8]) -> bool {
    Kind::ALL
        .iter()
        .any(|k| required_fields(*k).iter().any(|(n, _)| n.as_bytes() == key))
}

impl<'a> BodyFields<'a> {
    fn note(&mut self, key: &'a [u8], tok: Tok<'a>) -> Option<()> {
        if is_required_somewhere(key) {
            *self.seen.get_mut(self.n)? = Some((key, tok));
            self.n += 1;
        }
        Some(())
    }

    fn get(&self, name: &str) -> Option<Tok<'a>> {
        self.seen
            .iter()
            .flatten()
            .find(|(k, _)| *k == name.as_bytes())
            .map(|(_, t)| *t)
    }

    /// The rule of [`crate::ledger::body::validate`], on tokens.
    fn satisfies(&self, kind: Kind) -> bool {
        required_fields(kind).iter().all(|(name, ty)| {
            let Some(tok) = self.get(name) else {
                return false;
            };
            match (ty, tok) {
                (FieldType::Str, Tok::Str(s)) => !s.raw.is_empty(),
                (FieldType::Enum(allowed), Tok::Str(s)) => {
                    !s.escaped && allowed.iter().any(|a| a.as_bytes() == s.raw)
                }
                (FieldType::StrArray, Tok::Array { all_strings }) => all_strings,
                (FieldType::UInt, Tok::UInt) => true,
                (FieldType::Object, Tok::Object) => true,
                (FieldType::Hex(n), Tok::Str(s)) => {
                    s.raw.len() == *n
                        && s.raw.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                }
                _ => false,
            }
        })
    }
}

#[cfg(test)]
#[path = "fastline_diff.rs"]
mod diff_tests;
