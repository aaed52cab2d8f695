//! The byte format of `DIR/trust.cache`: [`encode`] and [`decode`] of an [`Aggregate`].
//!
//! All integers little-endian; `str` = u32 byte length ‖ UTF-8 bytes.
//!
//! ```text
//! "ALTRUST" 0x07                           magic and version (8 bytes)
//! u64 len ‖ u64 next_seq ‖ 32 bytes head    ledger size, entries folded, hash of the last one
//! str scope_key                             the policy's gate patterns (see Policy::scope_key)
//! u32 n ‖ n × str                           actors
//! u32 n ‖ n × str                           environments
//! u32 n ‖ n × merge       merge   = u8 flags (1 has_seq, 2 gated, 4 verified) ‖ u64 seq ‖ i64 ts_ms ‖ u32 author ‖ str commit
//!                                   ‖ u64 scope ‖ u32 k ‖ k × u32 deploy index
//! u32 n ‖ n × deploy      deploy  = u64 seq ‖ i64 ts_ms ‖ u32 env ‖ str version ‖ str commit
//!                                   ‖ u8 status (0 succeeded, 1 failed) ‖ u8 rolled_back
//!                                   ‖ u64 rollback_seq ‖ i64 rollback_ts_ms
//! u32 n ‖ n × approval    approval = u64 seq ‖ i64 ts_ms ‖ str subject ‖ u32 approver ‖ u8 allow
//! u32 n ‖ n × identity    identity = str key_id ‖ str identity   (from `key add` entries)
//! u32 n ‖ n × gate_allow  gate_allow = u64 seq ‖ u32 author ‖ str source_commit
//! u32 n ‖ n × git_signer  git_signer = str key_id ‖ 32 bytes public key ‖ str identity
//!                                   ‖ u64 added_at ‖ u8 revoked ‖ u64 revoked_at
//!                                   (from `add-git-signer` entries and their revocations)
//! u32 n ‖ n × incident    incident = u64 seq ‖ u32 env ‖ str id   (incidents open at the end)
//! u64                                       checksum of everything above (see `checksum`)
//! ```
//!
//! Version 5 added the git-signer keys (4 is taken by another line of work: gated merges),
//! version 6 the gated merges, version 7 the open incidents; a cache of any other version is
//! rebuilt.
//!
//! Decoding is total: anything malformed (wrong magic or version, a checksum mismatch, a count
//! larger than the bytes left, bytes after the end) gives `None`, and the caller rebuilds the
//! cache from the ledger.

use super::Aggregate;
use crate::trust::model::{
    ApprovalFact, DeployFact, DeployStatus, Facts, GitSignerFact, MergeFact,
};

const MAGIC: &[u8; 8] = b"ALTRUST\x07";

/// Encode an aggregate (see the module docs).
pub fn encode(a: &Aggregate) -> Vec<u8> {
    let mut e = Enc(Vec::with_capacity(encoded_len(a)));
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
        e.u8(u8::from(m.seq.is_some()) | (u8::from(m.gated) << 1) | (u8::from(m.verified) << 2));
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
    e.u32(f.identities.len() as u32);
    for (id, who) in &f.identities {
        e.str(id);
        e.str(who);
    }
    e.u32(f.gate_allows.len() as u32);
    for g in &f.gate_allows {
        e.u64(g.seq);
        e.u32(g.author);
        e.str(&g.source_commit);
    }
    encode_git_signers(&mut e, &f.git_signers);
    e.u32(f.open_incidents.len() as u32);
    for i in &f.open_incidents {
        e.u64(i.seq);
        e.u32(i.env);
        e.str(&i.id);
    }
    let sum = checksum(&e.0);
    e.0.extend_from_slice(&sum.to_le_bytes());
    e.0
}

/// The length of [`encode`]'s output, so that it is written into one allocation of the right
/// size (a cache of a million entries is tens of megabytes: growing it by doubling costs more
/// than writing it).
fn encoded_len(a: &Aggregate) -> usize {
    let f = &a.facts;
    let strs = |v: &[String]| v.iter().map(|s| 4 + s.len()).sum::<usize>();
    8 + 8
        + 8
        + 32
        + 4
        + a.scope_key.len()
        + 4
        + strs(&f.actors)
        + 4
        + strs(&f.envs)
        + 4
        + f.merges
            .iter()
            .map(|m| 1 + 8 + 8 + 4 + 4 + m.commit.len() + 8 + 4 + 4 * m.ships.len())
            .sum::<usize>()
        + 4
        + f.deploys
            .iter()
            .map(|d| 8 + 8 + 4 + 4 + d.version.len() + 4 + d.commit.len() + 1 + 1 + 8 + 8)
            .sum::<usize>()
        + 4
        + f.approvals
            .iter()
            .map(|ap| 8 + 8 + 4 + ap.subject.len() + 4 + 1)
            .sum::<usize>()
        + 4
        + f.identities
            .iter()
            .map(|(i, w)| 8 + i.len() + w.len())
            .sum::<usize>()
        + 4
        + f.gate_allows
            .iter()
            .map(|g| 8 + 4 + 4 + g.source_commit.len())
            .sum::<usize>()
        + git_signers_len(&f.git_signers)
        + 4
        + f.open_incidents
            .iter()
            .map(|i| 8 + 4 + 4 + i.id.len())
            .sum::<usize>()
        + 8
}

/// `u32 n ‖ n × git_signer` (see the module docs); shared with the slice file's header.
pub(super) fn encode_git_signers(e: &mut Enc, list: &[GitSignerFact]) {
    e.u32(list.len() as u32);
    for g in list {
        e.str(&g.key_id);
        e.0.extend_from_slice(&g.public_key);
        e.str(&g.identity);
        e.u64(g.added_at);
        e.u8(u8::from(g.revoked_at.is_some()));
        e.u64(g.revoked_at.unwrap_or(0));
    }
}

/// The length of [`encode_git_signers`]'s output.
pub(super) fn git_signers_len(list: &[GitSignerFact]) -> usize {
    4 + list
        .iter()
        .map(|g| 4 + g.key_id.len() + 32 + 4 + g.identity.len() + 8 + 1 + 8)
        .sum::<usize>()
}

/// Read what [`encode_git_signers`] wrote.
pub(super) fn decode_git_signers(d: &mut Dec<'_>) -> Option<Vec<GitSignerFact>> {
    let n = d.count()?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let key_id = d.str()?;
        let public_key: [u8; 32] = d.take(32)?.try_into().ok()?;
        let identity = d.str()?;
        let added_at = d.u64()?;
        let revoked = d.u8()?;
        let at = d.u64()?;
        out.push(GitSignerFact {
            key_id,
            public_key,
            identity,
            added_at,
            revoked_at: match revoked {
                0 => None,
                1 => Some(at),
                _ => return None,
            },
        });
    }
    Some(out)
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
        let flags = d.u8()?;
        if flags > 7 {
            return None;
        }
        let has_seq = flags & 1 == 1;
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
            gated: flags & 2 == 2,
            verified: flags & 4 == 4,
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
    for _ in 0..d.count()? {
        let id = d.str()?;
        let who = d.str()?;
        f.identities.push((id, who));
    }
    for _ in 0..d.count()? {
        let seq = d.u64()?;
        let author = d.u32()?;
        let source_commit = d.str()?;
        f.gate_allows.push(crate::trust::model::GateAllow {
            seq,
            author,
            source_commit,
        });
    }
    f.git_signers = decode_git_signers(&mut d)?;
    for _ in 0..d.count()? {
        let seq = d.u64()?;
        let env = d.u32()?;
        let id = d.str()?;
        f.open_incidents
            .push(crate::trust::model::OpenIncident { seq, env, id });
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
pub(super) fn checksum(data: &[u8]) -> u64 {
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

pub(super) struct Enc(pub(super) Vec<u8>);

impl Enc {
    pub(super) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(super) fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

pub(super) struct Dec<'a>(pub(super) &'a [u8]);

impl<'a> Dec<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count, bounded by the bytes left (every item takes at least one byte).
    pub(super) fn count(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.0.len()).then_some(n)
    }
    pub(super) fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::body::Kind;
    use crate::trust::policy::Policy;
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
        a.facts
            .identities
            .push(("0123456789abcdef".into(), "ann@example.org".into()));
        let pk = hex::encode([7u8; 32]);
        a.facts.note_key(
            4,
            &json!({"action": "add-git-signer", "key_id": "1111111111111111", "public_key": pk,
                    "identity": "ann@example.org"}),
        );
        a.facts.note_key(
            5,
            &json!({"action": "add-git-signer", "key_id": "2222222222222222", "public_key": pk,
                    "identity": "bob@example.org"}),
        );
        a.facts.note_key(
            6,
            &json!({"action": "revoke", "key_id": "2222222222222222", "public_key": pk}),
        );
        assert_eq!(a.facts.git_signers[1].revoked_at, Some(6));
        assert_eq!(
            a.facts.git_signer_identity_at("2222222222222222", 6),
            Some("bob@example.org")
        );
        assert_eq!(a.facts.git_signer_identity_at("2222222222222222", 7), None);
        assert_eq!(a.facts.git_signer_identity_at("1111111111111111", 4), None);
        assert_eq!(a.facts.git_signers_at(7).count(), 1);
        assert_eq!(
            a.facts.identity_of("1111111111111111"),
            None,
            "no approver identity"
        );
        a.next_seq = 4;
        a.len = 999;
        let bytes = encode(&a);
        assert_eq!(
            bytes.len(),
            encoded_len(&a),
            "one allocation of the right size"
        );
        let mut back = decode(&bytes).unwrap();
        assert_eq!(back.facts.merges, a.facts.merges);
        assert_eq!(back.facts.deploys, a.facts.deploys);
        assert_eq!(back.facts.deploys[0].rollback, Some((2, 1_767_225_602_000)));
        assert_eq!(back.facts.approvals, a.facts.approvals);
        assert_eq!(back.facts.git_signers, a.facts.git_signers);
        assert_eq!(back.facts.merge_by_commit("c1").unwrap().ships, vec![0]);
        for i in [0, 8, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(decode(&bad).is_none(), "byte {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
    }
}
