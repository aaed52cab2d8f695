//! RFC 6962 / RFC 9162 §2.1 Merkle tree: hashes, roots, inclusion and consistency proofs.
//!
//! # Tree
//!
//! * Leaf hash: `SHA-256(0x00 ‖ data)` ([`leaf_hash`]); a ledger entry's `hash` field is its leaf.
//! * Node hash: `SHA-256(0x01 ‖ left ‖ right)` ([`node_hash`]).
//! * `MTH({})` = `SHA-256("")`; `MTH({d0})` = leaf hash of `d0`; for `n > 1`, with `k` the largest
//!   power of two strictly below `n`, `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`.
//!
//! # Proofs (RFC 9162 §2.1.3 and §2.1.4), JSON (DESIGN §3)
//!
//! ```text
//! {"leaf_index":5,"tree_size":8,"leaf_hash":"<64 hex>","hashes":["<64 hex>",...]}
//! {"old_size":3,"new_size":8,"hashes":["<64 hex>",...]}
//! ```
//!
//! Hashes are lowercase hex, listed from the leaf (or the old tree) upwards, exactly the
//! `inclusion_path` / `consistency_path` of RFC 9162, so proofs of any RFC 6962 log can be checked
//! with [`verify_inclusion`] and [`verify_consistency`]. A consistency proof from size 0 (any tree
//! extends the empty tree) and between equal sizes is empty. Parsing is bounded: at most 64
//! hashes in an inclusion proof and 128 in a consistency proof (a tree of 2^64 leaves needs no
//! more); unknown fields are rejected.
//!
//! # Design
//!
//! Proof generation works over any [`HashSource`]: a slice of leaf hashes ([`Leaves`], O(n) per
//! subtree, for tests and small trees) or the stored subtree hashes of `ledger.idx`
//! (O(log n) reads per subtree, see [`crate::ledger::index`]). Verification is pure arithmetic on
//! the proof and never panics: every size and index is checked before use.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub use crate::ledger::entry::leaf_hash;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// Most hashes an inclusion proof can need (tree of up to 2^64 leaves).
pub const MAX_INCLUSION_HASHES: usize = 64;
/// Most hashes a consistency proof can need.
pub const MAX_CONSISTENCY_HASHES: usize = 128;

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Why a proof did not verify. Every variant means "not proven"; the names help people debug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not inside a tree of size {size}")]
    IndexOutOfRange {
        /// Leaf index claimed.
        index: u64,
        /// Tree size claimed.
        size: u64,
    },
    /// The old size is larger than the new size.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has the wrong number of hashes ({got}) for these sizes")]
    WrongLength {
        /// Hashes given.
        got: usize,
    },
    /// The proof leads to a different root.
    #[error("proof does not lead to the given root hash")]
    RootMismatch,
    /// The proof leads to a different old root (consistency).
    #[error("proof does not lead to the given old root hash")]
    OldRootMismatch,
}

/// Something that can give the root hash of a range of leaves.
pub trait HashSource {
    /// Number of leaves available.
    fn size(&self) -> u64;
    /// `MTH(D[lo:hi])` for `lo < hi <= size()`, where `lo` is a multiple of the smallest power
    /// of two that is at least `hi - lo` (the only ranges RFC 9162 proofs use).
    fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash>;
}

/// Leaf hashes in memory as a [`HashSource`].
#[derive(Debug, Clone, Copy)]
pub struct Leaves<'a>(pub &'a [Hash]);

impl HashSource for Leaves<'_> {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash> {
        let slice = usize::try_from(lo)
            .ok()
            .zip(usize::try_from(hi).ok())
            .and_then(|(lo, hi)| self.0.get(lo..hi))
            .ok_or_else(|| {
                Error::invalid(
                    "range",
                    format!(
                        "leaf range {lo}..{hi} is outside a tree of {} leaves",
                        self.0.len()
                    ),
                )
            })?;
        Ok(mth(slice))
    }
}

/// `MTH` of a slice of leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    mth(leaves)
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split(leaves.len() as u64) as usize;
            let (l, r) = leaves.split_at(k);
            node_hash(&mth(l), &mth(r))
        }
    }
}

/// Parameter `what` asks for a tree of `size` leaves when only `available` exist.
fn too_large(what: &str, size: u64, available: u64) -> Error {
    Error::invalid(
        what,
        format!("tree size {size} is larger than the {available} leaves available"),
    )
}

/// The roots of a growing tree, one leaf at a time: the perfect subtrees that cover the leaves
/// so far (a compact range from 0), largest first. `root()` after `n` pushes is `MTH(D[0:n])`
/// in O(log n), so the roots at many sizes cost one pass over the leaves.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (number of leaves, hash) of each perfect subtree, sizes strictly decreasing.
    subtrees: Vec<(u64, Hash)>,
    size: u64,
}

impl Frontier {
    /// Add the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut node = (1u64, leaf);
        while let Some(&(n, h)) = self.subtrees.last() {
            if n != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (n * 2, node_hash(&h, &node.1));
        }
        self.subtrees.push(node);
        self.size += 1;
    }

    /// The frontier of a tree of `size` leaves from the hashes of its perfect subtrees, largest
    /// first (one per set bit of `size`, as [`Frontier::subtrees_of`] lists them). `None` when
    /// the count does not fit `size`.
    pub fn from_subtrees(size: u64, hashes: &[Hash]) -> Option<Frontier> {
        let spans = Frontier::subtrees_of(size);
        if spans.len() != hashes.len() {
            return None;
        }
        Some(Frontier {
            subtrees: spans
                .iter()
                .zip(hashes)
                .map(|(&(level, _), h)| (1u64 << level, *h))
                .collect(),
            size,
        })
    }

    /// The perfect subtrees that cover `size` leaves, largest first, as (level, index): the
    /// subtree at `level`, index `i` holds leaves `i·2^level .. (i+1)·2^level`.
    pub fn subtrees_of(size: u64) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let mut lo = 0u64;
        for level in (0..64u32).rev() {
            let span = 1u64 << level;
            if size & span != 0 {
                out.push((level, lo >> level));
                lo += span;
            }
        }
        out
    }

    /// The hashes of the perfect subtrees, largest first (what [`Frontier::from_subtrees`]
    /// takes back).
    pub fn hashes(&self) -> Vec<Hash> {
        self.subtrees.iter().map(|&(_, h)| h).collect()
    }

    /// Number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// `MTH` of the leaves pushed so far: the subtrees folded from the right (RFC 6962 splits
    /// at the largest power of two below the size, which is the first subtree).
    pub fn root(&self) -> Hash {
        let mut it = self.subtrees.iter().rev();
        let Some(&(_, last)) = it.next() else {
            return empty_root();
        };
        it.fold(last, |acc, (_, h)| node_hash(h, &acc))
    }
}

/// Root of the first `size` leaves of `src`.
pub fn root_from(src: &mut dyn HashSource, size: u64) -> Result<Hash> {
    if size > src.size() {
        return Err(too_large("size", size, src.size()));
    }
    if size == 0 {
        return Ok(empty_root());
    }
    src.range_hash(0, size)
}

/// An inclusion proof (RFC 9162 §2.1.3) in the JSON form of DESIGN §3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Index of the leaf (the entry's seq).
    pub leaf_index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Leaf hash of the entry.
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    /// Audit path, from the leaf upwards.
    #[serde(with = "hex_hashes_64")]
    pub hashes: Vec<Hash>,
}

/// A consistency proof (RFC 9162 §2.1.4) in the JSON form of DESIGN §3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Consistency path.
    #[serde(with = "hex_hashes_128")]
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Check the proof against the root of a tree of `self.tree_size` leaves.
    pub fn verify(&self, root: &Hash) -> std::result::Result<(), ProofError> {
        verify_inclusion(
            &self.leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.hashes,
            root,
        )
    }
}

impl ConsistencyProof {
    /// Check the proof against the old and new roots.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> std::result::Result<(), ProofError> {
        verify_consistency(
            self.old_size,
            self.new_size,
            &self.hashes,
            old_root,
            new_root,
        )
    }
}

/// Inclusion proof for leaf `index` in the tree of the first `size` leaves of `src`.
pub fn inclusion_proof(src: &mut dyn HashSource, index: u64, size: u64) -> Result<InclusionProof> {
    if size > src.size() {
        return Err(too_large("size", size, src.size()));
    }
    if index >= size {
        return Err(Error::invalid(
            "index",
            format!("leaf {index} is not inside a tree of size {size}"),
        ));
    }
    let leaf = src.range_hash(index, index + 1)?;
    let (mut lo, mut hi) = (0u64, size);
    let mut hashes = Vec::new();
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            hashes.push(src.range_hash(lo + k, hi)?);
            hi = lo + k;
        } else {
            hashes.push(src.range_hash(lo, lo + k)?);
            lo += k;
        }
    }
    hashes.reverse();
    Ok(InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: leaf,
        hashes,
    })
}

/// Consistency proof from the tree of the first `old` leaves to the tree of the first `new`.
pub fn consistency_proof(src: &mut dyn HashSource, old: u64, new: u64) -> Result<ConsistencyProof> {
    if new > src.size() {
        return Err(too_large("new", new, src.size()));
    }
    if old > new {
        return Err(Error::invalid(
            "old",
            format!("old size {old} is larger than new size {new}"),
        ));
    }
    let mut hashes = Vec::new();
    if old > 0 && old < new {
        // SUBPROOF(m, D[lo:hi], b) of RFC 9162 §2.1.4.1, unrolled.
        let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
        loop {
            let size = hi - lo;
            if m == size {
                if !whole {
                    hashes.push(src.range_hash(lo, hi)?);
                }
                break;
            }
            let k = split(size);
            if m <= k {
                hashes.push(src.range_hash(lo + k, hi)?);
                hi = lo + k;
            } else {
                hashes.push(src.range_hash(lo, lo + k)?);
                lo += k;
                m -= k;
                whole = false;
            }
        }
        hashes.reverse();
    }
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        hashes,
    })
}

/// Verify an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> std::result::Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength { got: proof.len() });
    }
    if &r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2). Size 0 is consistent with every tree
/// (empty proof, old root = [`empty_root`]); equal sizes need an empty proof and equal roots.
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> std::result::Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizeOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if old == 0 {
            return if old_root == &empty_root() {
                Ok(())
            } else {
                Err(ProofError::OldRootMismatch)
            };
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // When `old` is a power of two the old root is the first node of the path (not sent).
    let (first, rest) = if old.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((h, rest)) => (*h, rest),
            None => return Err(ProofError::WrongLength { got: 0 }),
        }
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength { got: proof.len() });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength { got: proof.len() });
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if &sr != new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Parse 64 lowercase hex characters.
pub fn parse_hex_hash(s: &str) -> Option<Hash> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Serde helpers: a [`Hash`] as 64 lowercase hex characters.
pub(crate) mod hex_hash {
    use super::*;
    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex_hash(&s)
            .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex characters"))
    }
}

fn ser_hashes<S: Serializer>(v: &[Hash], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(hex::encode))
}

fn de_hashes<'de, D: Deserializer<'de>>(
    d: D,
    max: usize,
) -> std::result::Result<Vec<Hash>, D::Error> {
    struct Visit(usize);
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Vec<Hash>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an array of at most {} hex hashes", self.0)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<Hash>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                if out.len() == self.0 {
                    return Err(serde::de::Error::custom(format!(
                        "more than {} hashes",
                        self.0
                    )));
                }
                out.push(parse_hex_hash(&s).ok_or_else(|| {
                    serde::de::Error::custom("hash: expected 64 lowercase hex characters")
                })?);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Visit(max))
}

mod hex_hashes_64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Hash], s: S) -> std::result::Result<S::Ok, S::Error> {
        ser_hashes(v, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<Hash>, D::Error> {
        de_hashes(d, MAX_INCLUSION_HASHES)
    }
}

mod hex_hashes_128 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &[Hash], s: S) -> std::result::Result<S::Ok, S::Error> {
        ser_hashes(v, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<Hash>, D::Error> {
        de_hashes(d, MAX_CONSISTENCY_HASHES)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn frontier_roots_equal_mth_at_every_size() {
        let leaves: Vec<Hash> = (0..300u32)
            .map(|i| {
                let mut h = [0u8; 32];
                h[..4].copy_from_slice(&i.to_be_bytes());
                h
            })
            .collect();
        let mut f = Frontier::default();
        assert_eq!(f.root(), empty_root());
        for (n, l) in leaves.iter().enumerate() {
            f.push(*l);
            assert_eq!(f.size(), n as u64 + 1);
            assert_eq!(f.root(), root(&leaves[..=n]), "size {}", n + 1);
            // The same frontier rebuilt from its subtree hashes.
            let size = n as u64 + 1;
            let hashes: Vec<Hash> = Frontier::subtrees_of(size)
                .iter()
                .map(|&(level, i)| {
                    let lo = (i << level) as usize;
                    root(&leaves[lo..lo + (1usize << level)])
                })
                .collect();
            let g = Frontier::from_subtrees(size, &hashes).unwrap();
            assert_eq!(g.root(), f.root(), "size {size}");
        }
    }

    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// Naive recursive PATH and PROOF straight from RFC 9162, over slices.
    fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split(d.len() as u64) as usize;
        if m < k {
            let mut p = ref_path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        if m == d.len() {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = split(d.len() as u64) as usize;
        if m <= k {
            let mut p = ref_subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = ref_subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    #[test]
    fn every_proof_up_to_130_matches_the_reference_and_verifies() {
        let all = leaves(130);
        for n in 1..=130u64 {
            let d = &all[..n as usize];
            let r = root(d);
            for i in 0..n {
                let p = inclusion_proof(&mut Leaves(d), i, n).unwrap();
                assert_eq!(p.hashes, ref_path(i as usize, d), "n={n} i={i}");
                p.verify(&r).unwrap();
                assert!(verify_inclusion(&p.leaf_hash, i, n, &p.hashes, &[0; 32]).is_err());
                if let Some(first) = p.hashes.first() {
                    let mut bad = p.hashes.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(&p.leaf_hash, i, n, &bad, &r).is_err());
                    assert!(verify_inclusion(&p.leaf_hash, i, n, &p.hashes[1..], &r).is_err());
                    let mut long = p.hashes.clone();
                    long.push(*first);
                    assert!(verify_inclusion(&p.leaf_hash, i, n, &long, &r).is_err());
                }
                assert!(verify_inclusion(&p.leaf_hash, i + 1, n, &p.hashes, &r).is_err() || n == 1);
            }
            for m in 0..=n {
                let old_root = root(&d[..m as usize]);
                let p = consistency_proof(&mut Leaves(d), m, n).unwrap();
                if m > 0 && m < n {
                    assert_eq!(p.hashes, ref_subproof(m as usize, d, true), "m={m} n={n}");
                }
                p.verify(&old_root, &r).unwrap();
                if m < n {
                    let other = root(&all[1..m as usize + 1]);
                    assert!(verify_consistency(m, n, &p.hashes, &other, &r).is_err() || m == 0);
                    assert!(
                        verify_consistency(m, n, &p.hashes, &old_root, &old_root).is_err()
                            || m == 0
                    );
                }
                if !p.hashes.is_empty() {
                    let mut bad = p.hashes.clone();
                    let last = bad.len() - 1;
                    bad[last][31] ^= 0x80;
                    assert!(verify_consistency(m, n, &bad, &old_root, &r).is_err());
                    assert!(verify_consistency(m, n, &p.hashes[1..], &old_root, &r).is_err());
                }
            }
        }
    }

    #[test]
    fn verification_never_panics_on_extreme_sizes() {
        let h = [7u8; 32];
        let proof = vec![h; 70];
        for (a, b) in [
            (0, 0),
            (u64::MAX, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1, u64::MAX),
            (u64::MAX, 1),
            (0, 1),
        ] {
            let _ = verify_inclusion(&h, a, b, &proof, &h);
            let _ = verify_inclusion(&h, a, b, &[], &h);
            let _ = verify_consistency(a, b, &proof, &h, &h);
            let _ = verify_consistency(a, b, &[], &h, &h);
        }
        assert!(inclusion_proof(&mut Leaves(&[]), 0, 0).is_err());
        assert!(inclusion_proof(&mut Leaves(&[h]), 0, 2).is_err());
        assert!(consistency_proof(&mut Leaves(&[h]), 2, 1).is_err());
    }

    #[test]
    fn json_form_and_bounds() {
        let d = leaves(5);
        let p = inclusion_proof(&mut Leaves(&d), 2, 5).unwrap();
        let j = serde_json::to_string(&p).unwrap();
        assert!(j.starts_with("{\"leaf_index\":2,\"tree_size\":5,\"leaf_hash\":\""));
        assert_eq!(serde_json::from_str::<InclusionProof>(&j).unwrap(), p);
        let upper = j.replace(&hex::encode(p.leaf_hash), &hex::encode_upper(p.leaf_hash));
        assert!(serde_json::from_str::<InclusionProof>(&upper).is_err());
        let many = format!(
            "{{\"leaf_index\":0,\"tree_size\":1,\"leaf_hash\":\"{}\",\"hashes\":[{}]}}",
            "00".repeat(32),
            vec![format!("\"{}\"", "00".repeat(32)); 65].join(",")
        );
        assert!(serde_json::from_str::<InclusionProof>(&many).is_err());
        let c = consistency_proof(&mut Leaves(&d), 3, 5).unwrap();
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.starts_with("{\"old_size\":3,\"new_size\":5,\"hashes\":[\""));
        assert!(serde_json::from_str::<ConsistencyProof>(&j.replace('}', ",\"x\":1}")).is_err());
    }
}
