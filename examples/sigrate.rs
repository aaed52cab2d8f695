//! Baseline for `make bench`: single-core Ed25519 batch-verification rate of ed25519-dalek on
//! this machine, with the same message shape and chunk size `ledger verify` uses.
//! Prints one JSON object: `{"batch_verify_per_s": ..., "single_verify_per_s": ...}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use audit_ledger::keys::Signer;
use ed25519_dalek::{Signature, VerifyingKey};

fn main() {
    let signer = Signer::generate().unwrap();
    let vk: VerifyingKey = signer.public();
    let n = 128 * 64;
    let msgs: Vec<[u8; 80]> = (0..n as u64)
        .map(|i| {
            audit_ledger::ledger::entry::signing_message(&audit_ledger::ledger::entry::leaf_hash(
                &i.to_le_bytes(),
            ))
        })
        .collect();
    let sigs: Vec<Signature> = msgs
        .iter()
        .map(|m| Signature::from_bytes(&signer.sign(m)))
        .collect();
    let keys = vec![vk; 128];
    let measure = |f: &dyn Fn() -> usize| {
        let mut done = 0usize;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            done += f();
        }
        done as f64 / start.elapsed().as_secs_f64()
    };
    let batch = measure(&|| {
        for (m, s) in msgs.chunks(128).zip(sigs.chunks(128)) {
            let refs: Vec<&[u8]> = m.iter().map(|x| &x[..]).collect();
            ed25519_dalek::verify_batch(&refs, s, &keys[..m.len()]).unwrap();
        }
        n
    });
    let single = measure(&|| {
        for (m, s) in msgs.iter().zip(&sigs).take(1024) {
            vk.verify_strict(m, s).unwrap();
        }
        1024
    });
    println!("{{\"batch_verify_per_s\": {batch:.0}, \"single_verify_per_s\": {single:.0}}}");
}
