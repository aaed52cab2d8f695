//! Concurrency and crash safety of appends (issue 2 acceptance).
//!
//! * 8 processes × 200 appends at once → 1,600 entries, seqs 0..1599, a valid chain.
//! * SIGKILL appending processes at random moments (at least 50 kills): the ledger always
//!   verifies, or has only a torn last line that `repair --torn-tail` removes; and no
//!   acknowledged append (the process printed its entry) is ever lost.
//! * The library's verify, called from inside a one-thread rayon pool, finishes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{batch_lines, verify_json, Env};

#[test]
fn eight_writers_two_hundred_appends_each() {
    let env = Env::new();
    let key = env.signed_ledger();
    let k = key.to_str().unwrap().to_string();
    std::thread::scope(|s| {
        for w in 0..8 {
            let env = &env;
            let k = k.clone();
            s.spawn(move || {
                for i in 0..200 {
                    let out = env.run(&[
                        "--key",
                        &k,
                        "append",
                        "event",
                        "--actor",
                        &format!("w{w}"),
                        "--type",
                        "t",
                        "--data",
                        &format!("{{\"i\":{i}}}"),
                    ]);
                    assert_eq!(
                        out.status.code(),
                        Some(0),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let (code, v) = verify_json(&env);
    assert_eq!(code, Some(0), "{v}");
    // 1 key entry + 1,600 appends.
    assert_eq!(v["entries"], 1601);
    let log = String::from_utf8(env.read_log()).unwrap();
    let seqs: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (0..1601).collect::<Vec<u64>>());
    for w in 0..8 {
        assert_eq!(log.matches(&format!("\"actor\":\"w{w}\"")).count(), 200);
    }
}

/// A small deterministic generator for kill delays.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn sigkill_never_loses_acknowledged_appends() {
    let env = Env::new();
    let key = env.signed_ledger();
    let k = key.to_str().unwrap().to_string();
    let mut acknowledged: HashSet<String> = HashSet::new();
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut kills = 0;
    let mut repairs = 0;
    let started = Instant::now();
    let mut round = 0;
    // Kill delays span well past a normal append's duration, so some appends finish (and are
    // acknowledged) and others die at every stage: start-up, signing, writing, index, checkpoint.
    let mut max_delay_us = 20_000u64;
    while kills < 60 || acknowledged.len() < 10 {
        round += 1;
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "crash test took too long"
        );
        // Two appenders at once: one single-entry append, one batch of random size.
        let n = 1 + (next(&mut seed) % 50) as usize;
        let batch = batch_lines(n, round * 1000);
        let batch_file = env.path().join(format!("batch-{round}.jsonl"));
        std::fs::write(&batch_file, &batch).unwrap();
        let mut children = vec![
            env.cmd(&[
                "--json",
                "--key",
                &k,
                "append",
                "event",
                "--actor",
                &format!("r{round}"),
                "--type",
                "t",
                "--data",
                "{}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
            env.cmd(&[
                "--json",
                "--key",
                &k,
                "append",
                "--batch",
                batch_file.to_str().unwrap(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        ];
        std::thread::sleep(Duration::from_micros(next(&mut seed) % max_delay_us));
        let mut killed_now = 0;
        for c in children.iter_mut() {
            if c.try_wait().unwrap().is_none() {
                c.kill().unwrap(); // SIGKILL
                killed_now += 1;
            }
        }
        kills += killed_now;
        // Adapt to this machine's speed: widen the window while everything gets killed.
        if killed_now == 2 && acknowledged.len() < 10 {
            max_delay_us = (max_delay_us * 3 / 2).min(2_000_000);
        } else if killed_now == 0 {
            max_delay_us = (max_delay_us * 2 / 3).max(1_000);
        }
        for mut c in children {
            let status = c.wait().unwrap();
            let mut out = String::new();
            c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            let mut err = String::new();
            c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            if !out.trim().is_empty() {
                // The process printed its result: the append was acknowledged.
                let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                let head = v
                    .get("head")
                    .or_else(|| v.get("hash"))
                    .and_then(|h| h.as_str())
                    .unwrap()
                    .to_string();
                acknowledged.insert(head);
            } else if status.success() {
                panic!("exit 0 without output");
            } else if status.code() == Some(2) {
                // Refused because of a torn tail left by an earlier kill: fine, repaired below.
                assert!(err.contains("torn tail"), "unexpected refusal: {err}");
            }
        }
        // After each round the ledger verifies, or has only a torn tail which repair removes.
        let (code, v) = verify_json(&env);
        if code != Some(0) {
            assert_eq!(
                v["code"], "torn-tail",
                "ledger broken beyond a torn tail: {v}"
            );
            env.ok(&["repair", "--torn-tail"]);
            repairs += 1;
            let (code, v) = verify_json(&env);
            assert_eq!(code, Some(0), "{v}");
        }
    }
    let log = String::from_utf8(env.read_log()).unwrap();
    let hashes: HashSet<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for h in &acknowledged {
        assert!(hashes.contains(h), "acknowledged entry {h} was lost");
    }
    eprintln!(
        "{kills} kills over {round} rounds, {repairs} torn-tail repairs, {} acknowledged appends",
        acknowledged.len()
    );
    assert!(kills >= 50);
    assert!(!acknowledged.is_empty());
}

/// The library's verify queues work on the rayon pool it is called from. Called from inside a
/// one-thread pool (a caller's parallel iterator), it must run that work itself rather than
/// wait for it forever.
#[test]
fn verify_from_inside_a_one_thread_pool_finishes() {
    use audit_ledger::ledger::verify::{verify, Options};
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 20_000);
    let dir = env.dir();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ledger = audit_ledger::ledger::Ledger::open(&dir).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let n = pool.install(|| {
            verify(&ledger, &Options::default(), &mut |_, _| {})
                .map(|s| s.entries)
                .map_err(|e| e.to_string())
        });
        let _ = tx.send(n);
    });
    let n = rx
        .recv_timeout(std::time::Duration::from_secs(300))
        .expect("verify inside a one-thread pool did not finish (deadlock)");
    assert_eq!(n, Ok(20_001));
}
