//! Baseline for `make bench`: single-core Ed25519 rates of ed25519-dalek on this machine, with
//! the message shape `ledger` signs (`ledger-entry-v1:` + 64 hex digits).
//!
//! Prints one JSON object:
//! * `batch_verify_per_s`: `verify_batch` over batches of 8,192 signatures (large batches are
//!   the library's fastest mode: its per-signature cost falls with the batch size);
//! * `batch128_verify_per_s`: the same over batches of 128, for comparison;
//! * `single_verify_per_s`: `verify_strict`, one signature at a time;
//! * `sign_per_s`: `sign`, one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use audit_ledger::keys::Signer;
use ed25519_dalek::{Signature, VerifyingKey};

fn main() {
    let signer = Signer::generate().unwrap();
    let vk: VerifyingKey = signer.public();
    let n = 8192;
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
    let keys = vec![vk; n];
    let measure = |f: &dyn Fn() -> usize| {
        let mut done = 0usize;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            done += f();
        }
        done as f64 / start.elapsed().as_secs_f64()
    };
    let batch_of = |size: usize| {
        measure(&|| {
            for (m, s) in msgs.chunks(size).zip(sigs.chunks(size)) {
                let refs: Vec<&[u8]> = m.iter().map(|x| &x[..]).collect();
                ed25519_dalek::verify_batch(&refs, s, &keys[..m.len()]).unwrap();
            }
            n
        })
    };
    let batch = batch_of(n);
    let batch128 = batch_of(128);
    let single = measure(&|| {
        for (m, s) in msgs.iter().zip(&sigs).take(1024) {
            vk.verify_strict(m, s).unwrap();
        }
        1024
    });
    let sign = measure(&|| {
        for m in msgs.iter().take(1024) {
            std::hint::black_box(signer.sign(m));
        }
        1024
    });
    println!(
        "{{\"batch_verify_per_s\": {batch:.0}, \"batch128_verify_per_s\": {batch128:.0}, \"single_verify_per_s\": {single:.0}, \"sign_per_s\": {sign:.0}}}"
    );
}
