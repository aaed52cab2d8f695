//! The Merkle tree of the served ledger, kept in memory by levels so that a proof costs
//! O(log n) hashes: level `k` holds the hash of every complete, aligned subtree of `2^k` leaves.
//! Appending a leaf costs O(1) amortised.

use crate::error::{Error, Result};
use crate::merkle::{node_hash, Hash, HashSource};

/// Leaves and the hashes of their complete aligned subtrees.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// The tree of `leaves`.
    pub(crate) fn new(leaves: Vec<Hash>) -> Tree {
        let mut levels = vec![leaves];
        while let Some(last) = levels.last() {
            if last.len() < 2 {
                break;
            }
            let next: Vec<Hash> = last
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            levels.push(next);
        }
        Tree { levels }
    }

    /// Number of leaves.
    pub(crate) fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Leaf `i`.
    pub(crate) fn leaf(&self, i: u64) -> Option<&Hash> {
        self.levels.first()?.get(usize::try_from(i).ok()?)
    }

    /// Append one leaf, completing every subtree it closes.
    pub(crate) fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let h = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(h);
            k += 1;
        }
    }

    /// `MTH(D[lo:hi])`.
    fn hash(&self, lo: u64, hi: u64) -> Option<Hash> {
        let n = hi - lo;
        if n == 0 {
            return None;
        }
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let k = n.trailing_zeros() as usize;
            return self
                .levels
                .get(k)?
                .get(usize::try_from(lo >> k).ok()?)
                .copied();
        }
        // The largest power of two smaller than n splits the range (RFC 9162 §2.1.1).
        let split = 1u64 << (63 - (n - 1).leading_zeros());
        Some(node_hash(
            &self.hash(lo, lo + split)?,
            &self.hash(lo + split, hi)?,
        ))
    }

    /// The root of the first `size` leaves.
    pub(crate) fn root(&self, size: u64) -> Hash {
        if size == 0 {
            return crate::merkle::empty_root();
        }
        self.hash(0, size.min(self.len()))
            .unwrap_or_else(crate::merkle::empty_root)
    }
}

/// A shared tree as a [`HashSource`] (proofs only read it).
pub(crate) struct TreeRef<'a>(pub(crate) &'a Tree);

impl HashSource for TreeRef<'_> {
    fn size(&self) -> u64 {
        self.0.len()
    }

    fn range_hash(&mut self, lo: u64, hi: u64) -> Result<Hash> {
        if lo >= hi || hi > self.0.len() {
            return Err(Error::internal(format!(
                "range {lo}..{hi} of a tree of {}",
                self.0.len()
            )));
        }
        self.0
            .hash(lo, hi)
            .ok_or_else(|| Error::internal(format!("range {lo}..{hi}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, Leaves};

    /// Roots and proofs agree with the reference over plain leaves, at every size up to 70.
    #[test]
    fn agrees_with_the_reference() {
        let leaves: Vec<Hash> = (0..70u8).map(|i| [i; 32]).collect();
        let mut t = Tree::default();
        for (n, l) in leaves.iter().enumerate() {
            t.push(*l);
            let size = n as u64 + 1;
            assert_eq!(t.root(size), merkle::root(&leaves[..=n]));
            let mut r = Leaves(&leaves[..=n]);
            for i in [0, size / 2, size - 1] {
                assert_eq!(
                    merkle::inclusion_proof(&mut TreeRef(&t), i, size).unwrap(),
                    merkle::inclusion_proof(&mut r, i, size).unwrap()
                );
            }
            assert_eq!(
                merkle::consistency_proof(&mut TreeRef(&t), size / 3 + 1, size).unwrap(),
                merkle::consistency_proof(&mut r, size / 3 + 1, size).unwrap()
            );
        }
        assert_eq!(Tree::new(leaves.clone()).root(70), t.root(70));
        assert_eq!(Tree::new(leaves).levels, t.levels);
    }
}
