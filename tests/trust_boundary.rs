//! Red-team cases for the trust boundary (issue "Trust only what is signed", DESIGN §8), written
//! as an attacker who can write to the ledger directory and to files handed to `ledger`, but
//! holds no private key.
//!
//! Family "hostile files": a FIFO, device or directory where a regular file is expected, and
//! files far larger than their format allows. Each case must end with exit 2 and a message
//! naming the file, must not wait for a writer (every run has a watchdog: a hang fails the
//! test instead of blocking it), and must leave the ledger and its checkpoint byte-identical.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, Env};

/// Longer than any of these commands takes on a loaded machine; a hang is unbounded.
const WATCHDOG: Duration = Duration::from_secs(20);

/// Run `ledger` with a watchdog; panics (after killing it) if it has not ended in time.
fn run_bounded(env: &Env, args: &[&str]) -> Output {
    let mut child = env
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ledger {args:?} still running after {WATCHDOG:?} (waiting on a FIFO?)\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

/// A sparse file of `len` bytes (no newline anywhere).
fn sparse(path: &Path, len: u64) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
}

/// The bytes an attacker must not be able to change by making `ledger` fail.
fn snapshot(env: &Env) -> (Vec<u8>, Option<Vec<u8>>, Vec<PathBuf>) {
    let cps: Vec<PathBuf> = std::fs::read_dir(env.dir().join("checkpoints"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    let cp = read_if_file(&env.dir().join("checkpoint"));
    let log = read_if_file(&env.log()).unwrap_or_default();
    (log, cp, cps)
}

/// The bytes of a regular file (a FIFO planted by the test is not read: that would block).
fn read_if_file(p: &Path) -> Option<Vec<u8>> {
    std::fs::symlink_metadata(p)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|_| std::fs::read(p).ok())
}

/// A signed ledger with a few entries and a checkpoint; returns the key path.
fn ledger(env: &Env) -> PathBuf {
    let k = env.signed_ledger();
    env.fill(&k, 3);
    env.ok(&["--key", k.to_str().unwrap(), "checkpoint"]);
    k
}

/// The case ends with exit 2 and a message naming `names`, and changes nothing.
fn refused(env: &Env, args: &[&str], names: &str, says: &str) {
    let before = snapshot(env);
    let out = run_bounded(env, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "ledger {args:?}: {err}");
    assert!(
        err.contains(names) && err.contains(says),
        "ledger {args:?}: message should name {names} and say {says}: {err}"
    );
    assert!(
        snapshot(env) == before,
        "ledger {args:?} changed the ledger"
    );
}

#[test]
fn fifos_and_devices_given_as_arguments_are_refused_at_once() {
    let env = Env::new();
    let k = ledger(&env);
    let key = k.to_str().unwrap();
    let pubk = format!("{key}.pub");
    let fifo = env.path().join("pipe");
    mkfifo(&fifo);
    let f = fifo.to_str().unwrap();
    let body = format!("@{f}");
    let is_fifo = "is a FIFO, not a regular file";
    let cp = env.dir().join("checkpoint");
    let cp = cp.to_str().unwrap();

    let cases: Vec<Vec<&str>> = vec![
        vec!["verify", "--checkpoint", f, "--pubkey", &pubk],
        vec!["verify", "--checkpoint", cp, "--pubkey", f],
        vec![
            "verify-proof",
            "--checkpoint",
            f,
            "--proof",
            f,
            "--pubkey",
            &pubk,
        ],
        vec![
            "verify-proof",
            "--checkpoint",
            cp,
            "--proof",
            f,
            "--pubkey",
            &pubk,
        ],
        vec!["keys", "add", f, "--key", key],
        vec![
            "--key", f, "append", "event", "--actor", "x", "--type", "t", "--data", "{}",
        ],
        vec![
            "--key", key, "append", "event", "--actor", "x", "--body", &body,
        ],
        vec!["--key", key, "append", "--batch", f],
        vec![
            "witness",
            "cosign",
            "--checkpoint",
            f,
            "--state",
            "st",
            "--key",
            key,
        ],
        vec!["bundle", "verify", "--pubkey", f, "bundle-none"],
        vec![
            "--key",
            key,
            "bundle",
            "create",
            "--version",
            "v1",
            "--sbom-from",
            f,
            "--repo",
            ".",
        ],
        vec![
            "--key",
            key,
            "bundle",
            "create",
            "--version",
            "v1",
            "--attach",
            f,
            "--repo",
            ".",
        ],
    ];
    for args in &cases {
        refused(&env, args, f, is_fifo);
    }

    // A character device (an endless one) and a directory.
    for (path, what) in [("/dev/zero", "a character device"), (".", "a directory")] {
        refused(&env, &["--key", key, "append", "--batch", path], path, what);
        refused(
            &env,
            &["verify", "--checkpoint", path, "--pubkey", &pubk],
            path,
            what,
        );
    }
}

#[test]
fn fifos_in_the_ledger_directory_are_refused_by_name() {
    for name in ["config.toml", "ledger.jsonl", "ledger.idx", "checkpoint"] {
        let env = Env::new();
        let k = ledger(&env);
        let key = k.to_str().unwrap();
        let path = env.dir().join(name);
        std::fs::remove_file(&path).unwrap();
        mkfifo(&path);
        let shown = path.display().to_string();
        let says = "is a FIFO, not a regular file";
        // Every writer refuses before appending anything.
        refused(
            &env,
            &[
                "--key", key, "append", "event", "--actor", "x", "--type", "t", "--data", "{}",
            ],
            &shown,
            says,
        );
        refused(&env, &["--key", key, "checkpoint"], &shown, says);
        // Readers end at once too (verify reports a derived file it cannot check).
        for args in [&["verify"][..], &["trust", "score", "--actor", "x"][..]] {
            let out = run_bounded(&env, args);
            if matches!(name, "config.toml" | "ledger.jsonl") {
                assert_eq!(out.status.code(), Some(2), "{name}: {args:?}");
                assert!(stderr(&out).contains(&shown), "{name}: {}", stderr(&out));
            }
        }
    }
}

#[test]
fn oversized_inputs_are_refused_before_they_are_read() {
    let env = Env::new();
    let k = ledger(&env);
    let key = k.to_str().unwrap();
    let pubk = format!("{key}.pub");
    let big = env.path().join("big");
    // 2 GiB, sparse: reading it whole would take seconds and 2 GiB of memory.
    sparse(&big, 2 << 30);
    let b = big.to_str().unwrap();
    let body = format!("@{b}");
    refused(
        &env,
        &["--key", key, "append", "--batch", b],
        b,
        "line 1: line longer than",
    );
    refused(
        &env,
        &[
            "--key", key, "append", "event", "--actor", "x", "--body", &body,
        ],
        b,
        "larger than 1 MiB",
    );
    refused(
        &env,
        &["verify", "--checkpoint", b, "--pubkey", &pubk],
        b,
        "larger than 1 MiB",
    );
    refused(&env, &["keys", "add", b, "--key", key], b, "larger than");
    // A huge config.toml in the ledger directory.
    let cfg = env.dir().join("config.toml");
    let real = std::fs::read(&cfg).unwrap();
    sparse(&cfg, 2 << 30);
    refused(
        &env,
        &["verify"],
        &cfg.display().to_string(),
        "larger than 1 MiB",
    );
    std::fs::write(&cfg, real).unwrap();
    // A batch on stdin without a newline is bounded in the same way.
    let out = env.run_stdin(
        &["--key", key, "append", "--batch", "-"],
        &vec![b'x'; (1 << 20) + 10],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("stdin: line 1: line longer than"));
}
