//! The score cache: [`Facts`] folded from the ledger, keyed by the ledger's head, updated
//! incrementally, never trusted over the ledger.
//!
//! # File `DIR/trust.cache` (written atomically; safe to delete at any time)
//!
//! All integers little-endian; `str` = u32 byte length ‖ UTF-8 bytes.
//!
//! ```text
//! "ALTRUST" 0x02                           magic and version (8 bytes)
//! u64 len ‖ u64 next_seq ‖ 32 bytes head    ledger size, entries folded, hash of the last one
//! str scope_key                             the policy's gate patterns (see Policy::scope_key)
//! u32 n ‖ n × str                           actors
//! u32 n ‖ n × str                           environments
//! u32 n ‖ n × merge       merge   = u8 has_seq ‖ u64 seq ‖ i64 ts_ms ‖ u32 author ‖ str commit
//!                                   ‖ u64 scope ‖ u32 k ‖ k × u32 deploy index
//! u32 n ‖ n × deploy      deploy  = u64 seq ‖ i64 ts_ms ‖ u32 env ‖ str version ‖ str commit
//!                                   ‖ u8 status (0 succeeded, 1 failed) ‖ u8 rolled_back
//!                                   ‖ u64 rollback_seq ‖ i64 rollback_ts_ms
//! u32 n ‖ n × approval    approval = u64 seq ‖ i64 ts_ms ‖ str subject ‖ u32 approver ‖ u8 allow
//! u64                                       checksum of everything above (see `checksum`)
//! ```
//!
//! # Why it is never trusted over the ledger
//!
//! The cache states the ledger length and head hash it was folded up to. It is used as is only
//! when the ledger's last line (parsed and hashed on every run) has that hash and the file that
//! length; since every entry's hash covers its `prev`, the head hash commits to the whole
//! chain. When the ledger grew, the first new line must chain to the cached head (`prev`) and
//! carry the next seq, and only the new lines are folded in. Anything else — another policy,
//! a checksum mismatch, a shorter or rewritten ledger — discards the cache and folds the
//! whole ledger again. The cache is a speed-up only: deleting it changes no result.
//!
//! Reading is not verifying: the fold checks each relevant line's seq and form but not
//! signatures (that is `ledger verify`'s job).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Failure, Result};
use crate::ledger::body::Kind;
use crate::ledger::entry::{Entry, ZERO_HASH};
use crate::ledger::Ledger;
use crate::trust::model::{ApprovalFact, BodyView, DeployFact, DeployStatus, Facts, MergeFact};
use crate::trust::policy::Policy;

/// File name of the cache inside the ledger directory.
pub const CACHE_FILE: &str = "trust.cache";

const MAGIC: &[u8; 8] = b"ALTRUST\x02";

/// The cache is rewritten after a cold fold, or once an extension folds this many entries.
pub const SAVE_AFTER: u64 = 256;

/// How the aggregate was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// The cache matched the ledger head.
    Warm,
    /// The cache was extended by this many entries.
    Extended(u64),
    /// No usable cache: the whole ledger was folded.
    Cold,
}

impl CacheStatus {
    /// Short name for output (`warm`, `extended`, `cold`).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Warm => "warm",
            CacheStatus::Extended(_) => "extended",
            CacheStatus::Cold => "cold",
        }
    }
}

/// Facts folded up to a ledger position.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The facts.
    pub facts: Facts,
    /// Ledger bytes folded.
    pub len: u64,
    /// Entries folded (the next seq).
    pub next_seq: u64,
    /// Hash of the last entry folded (zeros when none).
    pub head: [u8; 32],
    /// Policy scope key the scope masks were computed with.
    pub scope_key: String,
}

impl Aggregate {
    fn empty(policy: &Policy) -> Aggregate {
        Aggregate {
            facts: Facts::default(),
            len: 0,
            next_seq: 0,
            head: ZERO_HASH,
            scope_key: policy.scope_key(),
        }
    }
}

/// Path of the cache file of `ledger`.
pub fn cache_path(ledger: &Ledger) -> PathBuf {
    ledger.dir().join(CACHE_FILE)
}

/// Bring the aggregate up to the ledger's current tail (warm, extended or cold) and save it.
/// A cache that cannot be written is not an error (read-only audit directories are fine).
pub fn load(ledger: &Ledger, policy: &Policy) -> Result<(Aggregate, CacheStatus)> {
    let tail = ledger.tail()?;
    let path = cache_path(ledger);
    let cached = std::fs::read(&path).ok().and_then(|b| decode(&b));
    let usable = cached.filter(|a| {
        a.scope_key == policy.scope_key() && a.len <= tail.len && a.next_seq <= tail.next_seq
    });
    let (mut agg, status) = match usable {
        Some(a) if a.len == tail.len && a.head == tail.prev && a.next_seq == tail.next_seq => {
            return Ok((a, CacheStatus::Warm))
        }
        Some(mut a) if a.len < tail.len => {
            let before = a.next_seq;
            match fold(ledger, policy, &mut a, tail.len) {
                Ok(()) => {
                    let n = a.next_seq - before;
                    (a, CacheStatus::Extended(n))
                }
                Err(_) => cold(ledger, policy, tail.len)?,
            }
        }
        _ => cold(ledger, policy, tail.len)?,
    };
    if agg.next_seq != tail.next_seq || agg.head != tail.prev {
        return Err(Error::input(format!(
            "{}: changed while being read (folded {} entries, tail says {}); try again",
            ledger.log_path().display(),
            agg.next_seq,
            tail.next_seq
        )));
    }
    agg.len = tail.len;
    // Rewriting (and fsyncing) a large cache for a handful of new entries would cost more than
    // folding them again next time, so small extensions are folded on every run until they
    // add up to SAVE_AFTER entries.
    let save = match status {
        CacheStatus::Extended(n) => n >= SAVE_AFTER,
        _ => true,
    };
    if save {
        let _ = crate::fsutil::write_atomic(&path, &encode(&agg));
    }
    Ok((agg, status))
}

fn cold(ledger: &Ledger, policy: &Policy, upto: u64) -> Result<(Aggregate, CacheStatus)> {
    let mut a = Aggregate::empty(policy);
    fold(ledger, policy, &mut a, upto)?;
    Ok((a, CacheStatus::Cold))
}

/// The fields the fold reads from a line, borrowed from it; serde skips the rest.
#[derive(Deserialize)]
struct LightView<'a> {
    seq: u64,
    ts: &'a str,
    actor: &'a str,
    #[serde(borrow)]
    body: BodyView<'a>,
}

/// The same, owned: for lines whose strings have escapes or whose optional body fields have
/// unexpected types (read leniently through [`BodyView::from_value`]).
#[derive(Deserialize)]
struct Light {
    seq: u64,
    ts: String,
    actor: String,
    body: Value,
}

enum Parsed<'a> {
    View(LightView<'a>),
    Owned(Light),
}

impl Parsed<'_> {
    fn seq(&self) -> u64 {
        match self {
            Parsed::View(l) => l.seq,
            Parsed::Owned(l) => l.seq,
        }
    }
}

/// The top-level kind of a canonical entry line without parsing it: keys are sorted, so the
/// last `,"kind":"` is the top-level one (only hashes, numbers and base64 follow `body`).
fn line_kind(finder: &memchr::memmem::FinderRev<'_>, line: &[u8]) -> Option<Kind> {
    let at = finder.rfind(line)? + KIND_PAT.len();
    let rest = line.get(at..)?;
    let end = rest.iter().position(|&b| b == b'"')?;
    Kind::parse(std::str::from_utf8(rest.get(..end)?).ok()?)
}

const KIND_PAT: &[u8] = b",\"kind\":\"";

fn relevant(k: Kind) -> bool {
    matches!(
        k,
        Kind::Merge | Kind::Deploy | Kind::Rollback | Kind::Approval
    )
}

/// Fold the ledger bytes `[agg.len, upto)` into `agg`.
fn fold(ledger: &Ledger, policy: &Policy, agg: &mut Aggregate, upto: u64) -> Result<()> {
    let path = ledger.log_path();
    let file_name = path.display().to_string();
    let bad = |line: u64, seq: Option<u64>, code: &'static str, reason: String| {
        Error::verify(
            &file_name,
            Failure {
                line: Some(line),
                seq,
                code,
                reason,
            },
        )
    };
    let mut f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    {
        use std::io::Seek as _;
        f.seek(std::io::SeekFrom::Start(agg.len))
            .map_err(|e| Error::io(&path, e))?;
    }
    let mut remaining = upto.saturating_sub(agg.len);
    let mask = |ps: &[&str]| policy.scope_mask(ps.iter().copied());
    let mut carry: Vec<u8> = Vec::new();
    let mut first = agg.len > 0;
    let mut last_line: Vec<u8> = Vec::new();
    const CHUNK: u64 = 32 << 20;
    while remaining > 0 {
        let want = remaining.min(CHUNK);
        // One buffer for the whole fold: fresh 32 MiB allocations per chunk cost page faults.
        let buf = &mut carry;
        buf.reserve(want as usize);
        let got = (&mut f)
            .take(want)
            .read_to_end(buf)
            .map_err(|e| Error::io(&path, e))?;
        if got as u64 != want {
            return Err(Error::input(format!(
                "{}: shorter than expected (changed while being read?)",
                path.display()
            )));
        }
        remaining -= want;
        let end = match buf.iter().rposition(|&b| b == b'\n') {
            Some(p) => p + 1,
            None if remaining == 0 => {
                return Err(bad(
                    agg.next_seq + 1,
                    None,
                    "torn-tail",
                    "incomplete last line".into(),
                ))
            }
            None => continue,
        };
        let body = buf.get(..end.saturating_sub(1)).unwrap_or_default();
        let base = agg.next_seq;
        if first {
            // The join with the cached part: the first new entry must chain to the cached head.
            let l = body
                .get(..memchr::memchr(b'\n', body).unwrap_or(body.len()))
                .unwrap_or_default();
            let e = Entry::parse_line(l).map_err(|le| bad(base + 1, le.seq, le.code, le.reason))?;
            if e.seq != base || e.prev != agg.head {
                return Err(bad(
                    base + 1,
                    Some(e.seq),
                    "broken-chain",
                    "does not continue the cached head".into(),
                ));
            }
            first = false;
        }
        // Scanning and parsing run in parallel over pieces cut at line ends; folding is serial.
        let pieces = pieces(body, 4 * rayon::current_num_threads().max(1));
        let scanned: Vec<Scanned<'_>> = pieces.par_iter().map(|p| scan_piece(p)).collect();
        let mut seq = base;
        for sc in scanned {
            for (i, kind, parsed) in sc.items {
                let want = seq + i;
                let light = parsed
                    .map_err(|e| bad(want + 1, None, "bad-json", format!("invalid JSON: {e}")))?;
                if light.seq() != want {
                    return Err(bad(
                        want + 1,
                        Some(light.seq()),
                        "bad-seq",
                        format!("expected seq {want}"),
                    ));
                }
                match light {
                    Parsed::View(l) => agg
                        .facts
                        .apply_view(l.seq, l.ts, kind, l.actor, &l.body, &mask),
                    Parsed::Owned(l) => agg
                        .facts
                        .apply(l.seq, &l.ts, kind, &l.actor, &l.body, &mask),
                }
            }
            if let Some(i) = sc.no_kind {
                return Err(bad(
                    seq + i + 1,
                    None,
                    "bad-kind",
                    "no top-level kind".into(),
                ));
            }
            seq += sc.lines;
        }
        agg.next_seq = seq;
        let last_start = memchr::memrchr(b'\n', body).map_or(0, |p| p + 1);
        last_line = body
            .get(last_start..)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        // Keep the incomplete line after `end` for the next chunk.
        let len = buf.len();
        buf.copy_within(end.., 0);
        buf.truncate(len - end);
    }
    if !carry.is_empty() {
        return Err(bad(
            agg.next_seq + 1,
            None,
            "torn-tail",
            "incomplete last line".into(),
        ));
    }
    // The last line's hash is the new head; the caller compares it with the ledger's tail.
    if !last_line.is_empty() {
        let e = Entry::parse_line(&last_line)
            .map_err(|le| bad(agg.next_seq, le.seq, le.code, le.reason))?;
        agg.head = e.hash;
    }
    agg.len = upto;
    Ok(())
}

/// What one piece of a chunk holds: its line count and its relevant lines, parsed.
struct Scanned<'a> {
    lines: u64,
    items: Vec<(
        u64,
        Kind,
        std::result::Result<Parsed<'a>, serde_json::Error>,
    )>,
    /// Index of the first line without a top-level kind (scanning stops there).
    no_kind: Option<u64>,
}

/// Cut `body` (lines separated by `\n`, no trailing newline) into about `n` pieces at line ends.
fn pieces(body: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n + 1);
    let step = (body.len() / n.max(1)).max(1);
    let mut start = 0;
    while start < body.len() {
        let probe = (start + step).min(body.len());
        match body
            .get(probe..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
        {
            Some(off) => {
                out.push(body.get(start..probe + off).unwrap_or_default());
                start = probe + off + 1;
            }
            None => {
                out.push(body.get(start..).unwrap_or_default());
                start = body.len();
            }
        }
    }
    if out.is_empty() {
        out.push(body);
    }
    out
}

fn scan_piece(piece: &[u8]) -> Scanned<'_> {
    let mut sc = Scanned {
        lines: 0,
        items: Vec::new(),
        no_kind: None,
    };
    let finder = memchr::memmem::FinderRev::new(KIND_PAT);
    let mut rest = Some(piece);
    while let Some(r) = rest {
        let (line, next) = match memchr::memchr(b'\n', r) {
            Some(p) => (r.get(..p).unwrap_or_default(), r.get(p + 1..)),
            None => (r, None),
        };
        rest = next;
        let i = sc.lines;
        sc.lines += 1;
        let Some(kind) = line_kind(&finder, line) else {
            sc.no_kind = Some(i);
            return sc;
        };
        if !relevant(kind) {
            continue;
        }
        let parsed = match serde_json::from_slice::<LightView<'_>>(line) {
            Ok(v) => Ok(Parsed::View(v)),
            Err(_) => serde_json::from_slice::<Light>(line).map(Parsed::Owned),
        };
        sc.items.push((i, kind, parsed));
    }
    sc
}

/// Encode an aggregate (see the module docs).
pub fn encode(a: &Aggregate) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(1 << 16));
    e.0.extend_from_slice(MAGIC);
    e.u64(a.len);
    e.u64(a.next_seq);
    e.0.extend_from_slice(&a.head);
    e.str(&a.scope_key);
    let f = &a.facts;
    e.u32(f.actors.len() as u32);
    f.actors.iter().for_each(|s| e.str(s));
    e.u32(f.envs.len() as u32);
    f.envs.iter().for_each(|s| e.str(s));
    e.u32(f.merges.len() as u32);
    for m in &f.merges {
        e.u8(u8::from(m.seq.is_some()));
        e.u64(m.seq.unwrap_or(0));
        e.u64(m.ts_ms as u64);
        e.u32(m.author);
        e.str(&m.commit);
        e.u64(m.scope);
        e.u32(m.ships.len() as u32);
        m.ships.iter().for_each(|&d| e.u32(d));
    }
    e.u32(f.deploys.len() as u32);
    for d in &f.deploys {
        e.u64(d.seq);
        e.u64(d.ts_ms as u64);
        e.u32(d.env);
        e.str(&d.version);
        e.str(&d.commit);
        e.u8(u8::from(d.status == DeployStatus::Failed));
        e.u8(u8::from(d.rollback.is_some()));
        let (rs, rt) = d.rollback.unwrap_or((0, 0));
        e.u64(rs);
        e.u64(rt as u64);
    }
    e.u32(f.approvals.len() as u32);
    for ap in &f.approvals {
        e.u64(ap.seq);
        e.u64(ap.ts_ms as u64);
        e.str(&ap.subject);
        e.u32(ap.approver);
        e.u8(u8::from(ap.allow));
    }
    let sum = checksum(&e.0);
    e.0.extend_from_slice(&sum.to_le_bytes());
    e.0
}

/// Decode a cache file; `None` for anything malformed (the cache is then rebuilt).
pub fn decode(bytes: &[u8]) -> Option<Aggregate> {
    let split = bytes.len().checked_sub(8)?;
    let (data, sum) = bytes.split_at(split);
    if checksum(data).to_le_bytes().as_slice() != sum {
        return None;
    }
    let mut d = Dec(data);
    if d.take(8)? != MAGIC {
        return None;
    }
    let len = d.u64()?;
    let next_seq = d.u64()?;
    let head: [u8; 32] = d.take(32)?.try_into().ok()?;
    let scope_key = d.str()?;
    let mut f = Facts::default();
    for _ in 0..d.count()? {
        f.actors.push(d.str()?);
    }
    for _ in 0..d.count()? {
        f.envs.push(d.str()?);
    }
    for _ in 0..d.count()? {
        let has_seq = d.u8()? == 1;
        let seq = d.u64()?;
        let ts_ms = d.u64()? as i64;
        let author = d.u32()?;
        let commit = d.str()?;
        let scope = d.u64()?;
        let mut ships = Vec::new();
        for _ in 0..d.count()? {
            ships.push(d.u32()?);
        }
        f.merges.push(MergeFact {
            seq: has_seq.then_some(seq),
            ts_ms,
            author,
            commit,
            scope,
            ships,
        });
    }
    for _ in 0..d.count()? {
        let seq = d.u64()?;
        let ts_ms = d.u64()? as i64;
        let env = d.u32()?;
        let version = d.str()?;
        let commit = d.str()?;
        let status = if d.u8()? == 1 {
            DeployStatus::Failed
        } else {
            DeployStatus::Succeeded
        };
        let rb = d.u8()? == 1;
        let rs = d.u64()?;
        let rt = d.u64()? as i64;
        f.deploys.push(DeployFact {
            seq,
            ts_ms,
            env,
            version,
            commit,
            status,
            rollback: rb.then_some((rs, rt)),
        });
    }
    for _ in 0..d.count()? {
        let seq = d.u64()?;
        let ts_ms = d.u64()? as i64;
        let subject = d.str()?;
        let approver = d.u32()?;
        let allow = d.u8()? == 1;
        f.approvals.push(ApprovalFact {
            seq,
            ts_ms,
            subject,
            approver,
            allow,
        });
    }
    if !d.0.is_empty() {
        return None;
    }
    Some(Aggregate {
        facts: f,
        len,
        next_seq,
        head,
        scope_key,
    })
}

/// A fast 64-bit checksum (multiply–xorshift over little-endian words, then the length). It
/// catches accidental damage only: it is not a security control, and neither would an unkeyed
/// SHA-256 be (whoever can write the cache can recompute either). SHA-256 here took a quarter
/// of a warm run.
fn checksum(data: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x5165_6E74_7275_7374;
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(K);
        h ^= h >> 29;
    }
    for &byte in words.remainder() {
        h = (h ^ u64::from(byte)).wrapping_mul(K);
        h ^= h >> 29;
    }
    (h ^ data.len() as u64).wrapping_mul(K)
}

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count, bounded by the bytes left (every item takes at least one byte).
    fn count(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.0.len()).then_some(n)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// Remove the cache file if present (for benchmarks and tests).
pub fn clear(dir: &Path) -> Result<()> {
    let p = dir.join(CACHE_FILE);
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codec_round_trips_and_rejects_damage() {
        let p = Policy::from_toml("").unwrap();
        let mut a = Aggregate::empty(&p);
        let m = |_: &[&str]| 3u64;
        a.facts.apply(
            0,
            "2026-01-01T00:00:00.000Z",
            Kind::Merge,
            "bot",
            &json!({"author": "ann", "merge_commit": "c1", "paths": ["x"]}),
            &m,
        );
        a.facts.apply(
            1,
            "2026-01-01T00:00:01.000Z",
            Kind::Deploy,
            "ci",
            &json!({"env": "prod", "version": "1", "commit": "c1", "status": "succeeded"}),
            &m,
        );
        a.facts.apply(
            2,
            "2026-01-01T00:00:02.000Z",
            Kind::Rollback,
            "ci",
            &json!({"env": "prod", "from_version": "1", "to_version": "0", "trigger": "t"}),
            &m,
        );
        a.facts.apply(
            3,
            "2026-01-01T00:00:03.000Z",
            Kind::Approval,
            "bob",
            &json!({"subject": "s", "decision": "allow", "reasons": []}),
            &m,
        );
        a.next_seq = 4;
        a.len = 999;
        let bytes = encode(&a);
        let mut back = decode(&bytes).unwrap();
        assert_eq!(back.facts.merges, a.facts.merges);
        assert_eq!(back.facts.deploys, a.facts.deploys);
        assert_eq!(back.facts.deploys[0].rollback, Some((2, 1_767_225_602_000)));
        assert_eq!(back.facts.approvals, a.facts.approvals);
        assert_eq!(back.facts.merge_by_commit("c1").unwrap().ships, vec![0]);
        for i in [0, 8, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(decode(&bad).is_none(), "byte {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn kind_is_found_without_parsing() {
        let l = br#"{"actor":"a","body":{"data":{"x":1,"kind":"merge"},"type":"t"},"hash":"00","kind":"event","prev":"00","seq":0,"ts":"x","v":1}"#;
        let f = memchr::memmem::FinderRev::new(KIND_PAT);
        assert_eq!(line_kind(&f, l), Some(Kind::Event));
    }
}
