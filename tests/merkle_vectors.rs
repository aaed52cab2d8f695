//! Every RFC 6962 / RFC 9162 proof vector in `tests/vectors/rfc6962` (from transparency-dev/merkle,
//! Apache-2.0): wantErr=false cases verify, wantErr=true cases are rejected, nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use audit_ledger::merkle::{self, Hash};
use base64::Engine as _;
use serde_json::Value;

fn b64(v: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()
}

/// A hash field: `None` when it is not exactly 32 bytes (such a case can only be rejected).
fn hash(v: &Value) -> Option<Hash> {
    b64(v)?.try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

fn cases(kind: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/rfc6962")
        .join(kind);
    let mut out = Vec::new();
    for sub in std::fs::read_dir(&dir).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            let v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            out.push((p.display().to_string(), v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn inclusion_vectors() {
    let all = cases("inclusion");
    assert!(all.len() > 60, "vectors missing: {}", all.len());
    let mut ok = 0;
    for (name, c) in all {
        let want_err = c["wantErr"].as_bool().unwrap();
        let got = (|| {
            let leaf = hash(&c["leafHash"])?;
            let root = hash(&c["root"])?;
            let p = proof(&c["proof"])?;
            Some(
                merkle::verify_inclusion(
                    &leaf,
                    c["leafIdx"].as_u64()?,
                    c["treeSize"].as_u64()?,
                    &p,
                    &root,
                )
                .is_ok(),
            )
        })()
        .unwrap_or(false);
        assert_eq!(got, !want_err, "{name}");
        ok += usize::from(got);
    }
    assert_eq!(ok, 5);
}

#[test]
fn consistency_vectors() {
    let all = cases("consistency");
    assert!(all.len() > 80, "vectors missing: {}", all.len());
    let mut ok = 0;
    for (name, c) in all {
        let want_err = c["wantErr"].as_bool().unwrap();
        let got = (|| {
            let r1 = hash(&c["root1"])?;
            let r2 = hash(&c["root2"])?;
            let p = proof(&c["proof"])?;
            Some(
                merkle::verify_consistency(
                    c["size1"].as_u64()?,
                    c["size2"].as_u64()?,
                    &p,
                    &r1,
                    &r2,
                )
                .is_ok(),
            )
        })()
        .unwrap_or(false);
        assert_eq!(got, !want_err, "{name}");
        ok += usize::from(got);
    }
    assert_eq!(ok, 5);
}

/// The leaves behind the vectors (README) rebuild their roots, and our generated proofs equal
/// the vectors' happy-path proofs.
#[test]
fn generated_proofs_match_happy_paths() {
    let data = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    let leaves: Vec<Hash> = data
        .iter()
        .map(|h| merkle::leaf_hash(&hex::decode(h).unwrap()))
        .collect();
    for (name, c) in cases("inclusion")
        .into_iter()
        .filter(|(n, _)| n.ends_with("happy-path.json"))
    {
        let (i, n) = (
            c["leafIdx"].as_u64().unwrap(),
            c["treeSize"].as_u64().unwrap(),
        );
        let d = &leaves[..n as usize];
        assert_eq!(merkle::root(d), hash(&c["root"]).unwrap(), "{name}");
        let p = merkle::inclusion_proof(&mut merkle::Leaves(d), i, n).unwrap();
        assert_eq!(p.hashes, proof(&c["proof"]).unwrap(), "{name}");
    }
    for (name, c) in cases("consistency")
        .into_iter()
        .filter(|(n, _)| n.ends_with("happy-path.json"))
    {
        let (m, n) = (c["size1"].as_u64().unwrap(), c["size2"].as_u64().unwrap());
        let p =
            merkle::consistency_proof(&mut merkle::Leaves(&leaves[..n as usize]), m, n).unwrap();
        assert_eq!(p.hashes, proof(&c["proof"]).unwrap(), "{name}");
    }
}
