//! The gate's slice file: what one gate query needs of the facts, found without reading the
//! whole cache. Written beside `trust.cache` (in the client state directory) whenever the
//! cache is saved, keyed by the same ledger position and policy scope.
//!
//! A gate asks about one author and one subject. The slice keeps, per author, that author's
//! merges with the outcome data of the deploys that shipped them (seq, time, status, first
//! rollback: what [`crate::trust::model::outcome`] reads), and per subject hash bucket the
//! people's approvals. A query reads the header, the author directory, one author record and
//! one bucket: a few kilobytes, whatever the ledger's size.
//!
//! # Format (integers little-endian; `str` = u32 length ‖ UTF-8)
//!
//! ```text
//! "ALSLICE" 0x04                                   magic and version
//! u64 len ‖ u64 next_seq ‖ 32 bytes head ‖ str scope_key   the cache position it matches
//! u32 buckets ‖ u64 dir_len                        approval buckets; author directory bytes
//! u32 n ‖ n × (str key_id ‖ str identity)          identities
//! u32 n ‖ n × git_signer                           git-signer keys, as in `trust.cache` (codec)
//! u64 checksum of everything above
//! dir: u32 n ‖ n × (str author ‖ u64 offset ‖ u32 length)   sorted by author; then its u64 checksum
//! buckets × (u64 offset ‖ u32 length)              bucket directory
//! records and buckets, each followed by its u64 checksum:
//!   author record = u32 merges ‖ merges × (u8 flags (1 has_seq, 2 gated, 4 verified) ‖ u64 seq ‖ i64 ts ‖ u64 scope ‖
//!                   u32 k ‖ k × u32 deploy) ‖ u32 deploys ‖ deploys × (u64 seq ‖ i64 ts ‖
//!                   u8 failed ‖ u8 rolled_back ‖ u64 rollback_seq ‖ i64 rollback_ts)
//!   bucket        = u32 n ‖ n × (u64 seq ‖ i64 ts ‖ str subject ‖ str approver ‖ u8 allow)
//! ```
//! Offsets are from the start of the file. Anything that does not decode or check gives
//! `None`, and the caller takes the full cache path.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use super::codec::{checksum, decode_git_signers, encode_git_signers, Dec, Enc};
use super::Aggregate;
use crate::trust::model::{ApprovalFact, DeployFact, DeployStatus, Facts, MergeFact};

const MAGIC: &[u8; 8] = b"ALSLICE\x04";
/// File name beside `trust.cache`.
pub const SLICE_FILE: &str = "trust.slice";
/// Largest header, directory or record read (a larger one means: take the full path).
const MAX_PART: u64 = 64 << 20;

/// FNV-1a, the bucket of a subject (not a security control: the file is the user's own).
fn bucket_of(subject: &str, buckets: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in subject.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(buckets.max(1))) as u32
}

fn sealed(mut e: Enc) -> Vec<u8> {
    let sum = checksum(&e.0);
    e.0.extend_from_slice(&sum.to_le_bytes());
    e.0
}

/// Encode the slice of `a` (see the module docs).
///
/// Written on a first run right after the whole ledger was verified, so it is built in one
/// pass into buffers of the right size: records and buckets go into one body whose parts are
/// sealed in place, and a deploy's place in an author's record is kept in one array over all
/// deploys (reset after each author) instead of a map per author.
pub fn encode(a: &Aggregate) -> Vec<u8> {
    let f = &a.facts;
    let mut by_author: Vec<Vec<usize>> = vec![Vec::new(); f.actors.len()];
    for (i, m) in f.merges.iter().enumerate() {
        if let Some(v) = by_author.get_mut(m.author as usize) {
            v.push(i);
        }
    }
    // Merges take 29 bytes and 4 per deploy; each deploy at most 34 in each record.
    let ships: usize = f.merges.iter().map(|m| m.ships.len()).sum();
    let mut body = Enc(Vec::with_capacity(
        f.merges.len() * 29 + ships * (4 + 34) + f.approvals.len() * 64 + 1024,
    ));
    // (author, start, end) of each record in `body`.
    let mut records: Vec<(&str, usize, usize)> = Vec::new();
    let mut slot: Vec<u32> = vec![u32::MAX; f.deploys.len()];
    let mut local: Vec<u32> = Vec::new();
    for (who, merges) in by_author.iter().enumerate() {
        if merges.is_empty() {
            continue;
        }
        let start = body.0.len();
        body.u32(merges.len() as u32);
        for &i in merges {
            let Some(m) = f.merges.get(i) else { continue };
            body.u8(u8::from(m.seq.is_some())
                | (u8::from(m.gated) << 1)
                | (u8::from(m.verified) << 2));
            body.u64(m.seq.unwrap_or(0));
            body.u64(m.ts_ms as u64);
            body.u64(m.scope);
            body.u32(m.ships.len() as u32);
            for &d in &m.ships {
                let at = match slot.get_mut(d as usize) {
                    Some(s) if *s != u32::MAX => *s,
                    Some(s) => {
                        *s = local.len() as u32;
                        local.push(d);
                        *s
                    }
                    // A deploy index past the deploys: a record the reader refuses.
                    None => u32::MAX,
                };
                body.u32(at);
            }
        }
        body.u32(local.len() as u32);
        for &d in &local {
            if let Some(s) = slot.get_mut(d as usize) {
                *s = u32::MAX;
            }
            let Some(d) = f.deploys.get(d as usize) else {
                continue;
            };
            body.u64(d.seq);
            body.u64(d.ts_ms as u64);
            body.u8(u8::from(d.status == DeployStatus::Failed));
            body.u8(u8::from(d.rollback.is_some()));
            let (rs, rt) = d.rollback.unwrap_or((0, 0));
            body.u64(rs);
            body.u64(rt as u64);
        }
        local.clear();
        seal_from(&mut body, start);
        let name = f.actors.get(who).map_or("", String::as_str);
        records.push((name, start, body.0.len()));
    }
    records.sort_by(|x, y| x.0.cmp(y.0));
    // Approval buckets.
    let buckets = (f.approvals.len() / 16).clamp(1, 1 << 20) as u32;
    let mut groups: Vec<Vec<&ApprovalFact>> = vec![Vec::new(); buckets as usize];
    for ap in &f.approvals {
        if let Some(g) = groups.get_mut(bucket_of(&ap.subject, buckets) as usize) {
            g.push(ap);
        }
    }
    let mut bucket_parts: Vec<(usize, usize)> = Vec::with_capacity(groups.len());
    for g in &groups {
        let start = body.0.len();
        body.u32(g.len() as u32);
        for ap in g {
            body.u64(ap.seq);
            body.u64(ap.ts_ms as u64);
            body.str(&ap.subject);
            body.str(
                f.actors
                    .get(ap.approver as usize)
                    .map_or("", String::as_str),
            );
            body.u8(u8::from(ap.allow));
        }
        seal_from(&mut body, start);
        bucket_parts.push((start, body.0.len()));
    }
    // Header.
    let mut h = Enc(Vec::new());
    h.0.extend_from_slice(MAGIC);
    h.u64(a.len);
    h.u64(a.next_seq);
    h.0.extend_from_slice(&a.head);
    h.str(&a.scope_key);
    h.u32(buckets);
    // The directory's length depends only on the names: compute it first.
    let dir_len: usize = 4
        + records
            .iter()
            .map(|(n, _, _)| 4 + n.len() + 12)
            .sum::<usize>()
        + 8;
    h.u64(dir_len as u64);
    h.u32(f.identities.len() as u32);
    for (id, who) in &f.identities {
        h.str(id);
        h.str(who);
    }
    encode_git_signers(&mut h, &f.git_signers);
    let header = sealed(h);
    let bucket_dir_len = buckets as usize * 12;
    let mut out = Enc(Vec::with_capacity(
        header.len() + dir_len + bucket_dir_len + body.0.len(),
    ));
    out.0.extend_from_slice(&header);
    let mut off = (header.len() + dir_len + bucket_dir_len) as u64;
    let dir_start = out.0.len();
    out.u32(records.len() as u32);
    for &(name, start, end) in &records {
        out.str(name);
        out.u64(off);
        out.u32((end - start) as u32);
        off += (end - start) as u64;
    }
    seal_from(&mut out, dir_start);
    for &(start, end) in &bucket_parts {
        out.u64(off);
        out.u32((end - start) as u32);
        off += (end - start) as u64;
    }
    for &(_, start, end) in &records {
        out.0
            .extend_from_slice(body.0.get(start..end).unwrap_or_default());
    }
    for &(start, end) in &bucket_parts {
        out.0
            .extend_from_slice(body.0.get(start..end).unwrap_or_default());
    }
    out.0
}

/// Seal the part of `e` from `start` on: append the checksum of those bytes.
fn seal_from(e: &mut Enc, start: usize) {
    let sum = checksum(e.0.get(start..).unwrap_or_default());
    e.0.extend_from_slice(&sum.to_le_bytes());
}

/// The position a slice file matches, and what a query read from it.
pub struct Sliced {
    /// Ledger bytes folded.
    pub len: u64,
    /// Entries folded.
    pub next_seq: u64,
    /// Hash of the last entry folded.
    pub head: [u8; 32],
    /// The facts one query needs: the author's merges and their deploys, the subject's
    /// approvals, the identities and the git-signer keys.
    pub facts: Facts,
}

fn open_part(f: &mut std::fs::File, off: u64, len: u64) -> Option<Vec<u8>> {
    if len > MAX_PART {
        return None;
    }
    f.seek(SeekFrom::Start(off)).ok()?;
    let mut buf = vec![0u8; usize::try_from(len).ok()?];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// Check a sealed part's trailing checksum; the part without it.
fn unseal(buf: &[u8]) -> Option<&[u8]> {
    let split = buf.len().checked_sub(8)?;
    let (data, sum) = buf.split_at(split);
    (checksum(data).to_le_bytes().as_slice() == sum).then_some(data)
}

/// Read what a query about `author` and `subject` needs from the slice at `path`, if it
/// matches `scope_key`. `None` for anything missing, malformed or damaged.
pub fn read(path: &Path, scope_key: &str, author: &str, keys: &[String]) -> Option<Sliced> {
    let mut f = crate::fsutil::open_regular(path).ok()?;
    let file_len = f.metadata().ok()?.len();
    // Header: read a first chunk, then all of it if the identities make it longer.
    let first = open_part(&mut f, 0, file_len.min(64 << 10))?;
    let mut d = Dec(&first);
    if d.take(8)? != MAGIC {
        return None;
    }
    let len = d.u64()?;
    let next_seq = d.u64()?;
    let head: [u8; 32] = d.take(32)?.try_into().ok()?;
    let key = d.str()?;
    if key != scope_key {
        return None;
    }
    let buckets = d.u32()?;
    let dir_len = d.u64()?;
    // The header's end is only known after the identities and git-signer keys; re-read it
    // whole if needed.
    let header = header_bytes(&mut f, &first, file_len)?;
    let body = unseal(&header)?;
    let mut d = Dec(body);
    d.take(8 + 8 + 8 + 32)?;
    d.str()?;
    d.u32()?;
    d.u64()?;
    let mut identities = Vec::new();
    for _ in 0..d.count()? {
        let id = d.str()?;
        let who = d.str()?;
        identities.push((id, who));
    }
    let git_signers = decode_git_signers(&mut d)?;
    let dir_off = header.len() as u64;
    let dir = open_part(&mut f, dir_off, dir_len)?;
    let dir = unseal(&dir)?;
    let mut d = Dec(dir);
    let mut found = None;
    for _ in 0..d.count()? {
        let name = d.str()?;
        let off = d.u64()?;
        let n = d.u32()?;
        if name == author {
            found = Some((off, u64::from(n)));
        }
    }
    let mut actors = vec![author.to_string()];
    let mut merges = Vec::new();
    let mut deploys = Vec::new();
    if let Some((off, n)) = found {
        let rec = open_part(&mut f, off, n)?;
        let rec = unseal(&rec)?;
        let mut d = Dec(rec);
        for _ in 0..d.count()? {
            let flags = d.u8()?;
            if flags > 7 {
                return None;
            }
            let seq = d.u64()?;
            let ts_ms = d.u64()? as i64;
            let scope = d.u64()?;
            let mut ships = Vec::new();
            for _ in 0..d.count()? {
                ships.push(d.u32()?);
            }
            merges.push(MergeFact {
                seq: (flags & 1 == 1).then_some(seq),
                ts_ms,
                author: 0,
                commit: String::new(),
                scope,
                ships,
                gated: flags & 2 == 2,
                verified: flags & 4 == 4,
            });
        }
        for _ in 0..d.count()? {
            let seq = d.u64()?;
            let ts_ms = d.u64()? as i64;
            let failed = d.u8()? == 1;
            let rb = d.u8()? == 1;
            let rs = d.u64()?;
            let rt = d.u64()? as i64;
            deploys.push(DeployFact {
                seq,
                ts_ms,
                env: 0,
                version: String::new(),
                commit: String::new(),
                status: if failed {
                    DeployStatus::Failed
                } else {
                    DeployStatus::Succeeded
                },
                rollback: rb.then_some((rs, rt)),
            });
        }
        if !d.0.is_empty()
            || merges
                .iter()
                .any(|m| m.ships.iter().any(|&s| s as usize >= deploys.len()))
        {
            return None;
        }
    }
    // The buckets of the change's keys (each read once).
    let mut wanted: Vec<u32> = keys.iter().map(|k| bucket_of(k, buckets)).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut approvals = Vec::new();
    for b in wanted {
        let bdir_off = dir_off + dir_len + u64::from(b) * 12;
        let slot = open_part(&mut f, bdir_off, 12)?;
        let mut d = Dec(&slot);
        let (off, n) = (d.u64()?, u64::from(d.u32()?));
        let blob = open_part(&mut f, off, n)?;
        let blob = unseal(&blob)?;
        read_bucket(blob, keys, &mut actors, &mut approvals)?;
    }
    let mut facts = Facts::from_parts(
        actors,
        Vec::new(),
        merges,
        deploys,
        approvals,
        identities,
        Vec::new(),
    );
    facts.git_signers = git_signers;
    Some(Sliced {
        len,
        next_seq,
        head,
        facts,
    })
}

/// The approvals of one bucket bound to one of `keys`, their approvers interned in `actors`.
fn read_bucket(
    blob: &[u8],
    keys: &[String],
    actors: &mut Vec<String>,
    approvals: &mut Vec<ApprovalFact>,
) -> Option<()> {
    let mut d = Dec(blob);
    for _ in 0..d.count()? {
        let seq = d.u64()?;
        let ts_ms = d.u64()? as i64;
        let subj = d.str()?;
        let who = d.str()?;
        let allow = d.u8()? == 1;
        if !keys.contains(&subj) {
            continue;
        }
        let approver = match actors.iter().position(|a| *a == who) {
            Some(i) => i,
            None => {
                actors.push(who);
                actors.len() - 1
            }
        } as u32;
        approvals.push(ApprovalFact {
            seq,
            ts_ms,
            subject: subj,
            approver,
            allow,
        });
    }
    d.0.is_empty().then_some(())
}

/// The whole sealed header (its length is known once the identities and git-signer keys are
/// read).
fn header_bytes(f: &mut std::fs::File, first: &[u8], file_len: u64) -> Option<Vec<u8>> {
    let end = |buf: &[u8]| -> Option<usize> {
        let mut d = Dec(buf);
        d.take(8 + 8 + 8 + 32)?;
        d.str()?;
        d.u32()?;
        d.u64()?;
        for _ in 0..d.count()? {
            d.str()?;
            d.str()?;
        }
        decode_git_signers(&mut d)?;
        Some(buf.len() - d.0.len() + 8)
    };
    if let Some(n) = end(first).filter(|&n| n <= first.len()) {
        return first.get(..n).map(<[u8]>::to_vec);
    }
    let all = open_part(f, 0, file_len.min(MAX_PART))?;
    let n = end(&all)?;
    all.get(..n).map(<[u8]>::to_vec)
}
