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
            "--witness-state",
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
        "more than 1 MiB",
    );
    refused(
        &env,
        &["verify", "--checkpoint", b, "--pubkey", &pubk],
        b,
        "more than 1 MiB",
    );
    refused(&env, &["keys", "add", b, "--key", key], b, "more than");
    // A huge config.toml in the ledger directory.
    let cfg = env.dir().join("config.toml");
    let real = std::fs::read(&cfg).unwrap();
    sparse(&cfg, 2 << 30);
    refused(
        &env,
        &["verify"],
        &cfg.display().to_string(),
        "more than 1 MiB",
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

// Family "checkpoints beside the ledger": plain `verify` checks `DIR/checkpoint` and every
// `DIR/checkpoints/*` (signature under the ledger's own key history, and consistency).

use audit_ledger::bundle::tlog::{sign_checkpoint, verify_checkpoint};
use audit_ledger::keys::Signer;

/// The ledger with a signed checkpoint at each of its 4 sizes; returns the signer.
fn checkpointed(env: &Env) -> Signer {
    let k = env.signed_ledger();
    for _ in 0..3 {
        let out = append_event(env, &k);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    Signer::load(&k).unwrap()
}

/// `verify` ends with exit 1, naming `file` and saying `says`.
fn verify_says_no(env: &Env, file: &Path, says: &str) {
    let out = run_bounded(env, &["verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let shown = file.display().to_string();
    assert!(
        err.contains(&shown) && err.contains(says),
        "should name {shown} and say {says}: {err}"
    );
}

#[test]
fn a_ledger_cut_below_its_signed_checkpoint_fails_plain_verify() {
    let env = Env::new();
    checkpointed(&env);
    env.ok(&["verify"]);
    let log = std::fs::read_to_string(env.log()).unwrap();
    let kept: String = log.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(env.log(), kept).unwrap();
    // The newest checkpoint, or checkpoints/4: both cover an entry that is gone.
    let out = run_bounded(&env, &["verify"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("truncated") && err.contains("covers 4"),
        "{err}"
    );
    // With the newest checkpoint also removed, checkpoints/4 still says so.
    std::fs::remove_file(env.dir().join("checkpoint")).unwrap();
    verify_says_no(&env, &env.dir().join("checkpoints/4"), "truncated");
}

#[test]
fn a_checkpoint_signed_by_a_key_only_config_toml_trusts_fails() {
    let env = Env::new();
    let real = checkpointed(&env);
    let cp_path = env.dir().join("checkpoint");
    let cp = verify_checkpoint(&std::fs::read(&cp_path).unwrap(), &real.public()).unwrap();
    // The attacker adds their own key to config.toml and signs the same tree head with it.
    let attacker = Signer::generate().unwrap();
    let mut cfg = std::fs::read_to_string(env.dir().join("config.toml")).unwrap();
    cfg.push_str(&format!(
        "\n[[keys]]\nid = \"{}\"\npublic_key = \"{}\"\nrevoked = false\n",
        attacker.id(),
        hex::encode(attacker.public().as_bytes())
    ));
    std::fs::write(env.dir().join("config.toml"), cfg).unwrap();
    let forged = sign_checkpoint(&cp.origin, cp.size, &cp.root, &cp.name, &attacker).unwrap();
    std::fs::write(&cp_path, &forged).unwrap();
    verify_says_no(&env, &cp_path, "key history");

    // A garbage signature by the real key's name.
    let good = sign_checkpoint(&cp.origin, cp.size, &cp.root, &cp.name, &real).unwrap();
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 10] = if bad[n - 10] == b'A' { b'B' } else { b'A' };
    std::fs::write(&cp_path, &bad).unwrap();
    let out = run_bounded(&env, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&cp_path.display().to_string()));

    // The real key over another root (a key holder rewriting history) fails as rewritten.
    let other = sign_checkpoint(&cp.origin, cp.size, &[7u8; 32], &cp.name, &real).unwrap();
    std::fs::write(&cp_path, &other).unwrap();
    verify_says_no(&env, &cp_path, "rewritten history");

    std::fs::write(&cp_path, &good).unwrap();
    env.ok(&["verify"]);
}

#[test]
fn checkpoint_files_must_hold_what_their_name_says_and_be_files() {
    let env = Env::new();
    checkpointed(&env);
    let dir = env.dir().join("checkpoints");
    std::fs::copy(dir.join("3"), dir.join("2")).unwrap();
    verify_says_no(&env, &dir.join("2"), "size 3, not 2");
    std::fs::remove_file(dir.join("2")).unwrap();
    env.ok(&["verify"]);
    mkfifo(&dir.join("9"));
    let out = run_bounded(&env, &["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a FIFO"), "{}", stderr(&out));
}

/// Key holder: a key that revoked itself cannot sign a tree that holds its revocation.
#[test]
fn a_revoked_key_cannot_sign_a_later_tree() {
    let env = Env::new();
    let root = env.signed_ledger();
    let second = env.keygen("second");
    let r = root.to_str().unwrap();
    let s = Signer::load(&second).unwrap();
    env.ok(&[
        "--key",
        r,
        "keys",
        "add",
        &format!("{}.pub", second.display()),
    ]);
    env.ok(&["--key", r, "keys", "revoke", s.id()]);
    env.ok(&["verify"]);
    let real = Signer::load(&root).unwrap();
    let cp_path = env.dir().join("checkpoint");
    let cp = verify_checkpoint(&std::fs::read(&cp_path).unwrap(), &real.public()).unwrap();
    assert_eq!(cp.size, 3);
    let late = sign_checkpoint(&cp.origin, cp.size, &cp.root, &cp.name, &s).unwrap();
    std::fs::write(&cp_path, late).unwrap();
    verify_says_no(&env, &cp_path, "key history");
}

// Family "gates that cannot be gamed": every spelling of a path meets the gate that governs it.

#[test]
fn a_path_spelled_differently_meets_the_same_gate() {
    let env = Env::new();
    env.ok(&["init", "--origin", "test.example/gates"]);
    let cfg = env.dir().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    let base = text.split("\n[trust]").next().unwrap().to_string();
    text = format!(
        "{base}\n[trust]\nprior_alone = true\nallow_unverified = true\n[trust.default]\nmin_score = 0.0\n[[trust.gates]]\nname = \"auth\"\npaths = [\"auth/**\"]\nmin_score = 0.0\napprovals = 1\n"
    );
    std::fs::write(&cfg, text).unwrap();
    let gate = |path: &str| {
        run_bounded(
            &env,
            &["trust", "gate", "--actor", "mallory", "--paths", path],
        )
    };
    // The default gate lets anything else through; the auth gate needs an approval.
    assert_eq!(
        gate("README.md").status.code(),
        Some(0),
        "{}",
        stderr(&gate("README.md"))
    );
    for spelling in [
        "auth/login.rs",
        "./auth/login.rs",
        "auth//login.rs",
        "docs/../auth/login.rs",
        "./docs/./../auth/login.rs",
    ] {
        let out = gate(spelling);
        assert_eq!(out.status.code(), Some(1), "{spelling}: {}", stderr(&out));
        assert!(
            common::stdout(&out).contains("gate `auth`"),
            "{spelling}: {}",
            common::stdout(&out)
        );
    }
    for (bad, says) in [
        ("../outside.rs", "leaves the repository"),
        ("/etc/passwd", "absolute"),
        ("auth/", "names a directory"),
    ] {
        let before = env.read_log();
        let out = gate(bad);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{bad}: {}", stderr(&out));
        assert_eq!(env.read_log(), before, "{bad}: a refused query appended");
    }
}

// Family "no signature over derived data": the key holder's next append after an attacker
// forged ledger.idx signs the real tree or nothing.

/// Replace the stored hash of the complete subtree over leaves 0..32 in ledger.idx (the index
/// format of docs/ledger.md: header 16 bytes, then per leaf n an 8-byte offset and the hashes
/// it completes, in Go sumdb/tlog stored-hash order). The index stays well-formed: its length,
/// its last leaf and its offsets are untouched, so only the tree it describes is false.
fn forge_index(env: &Env) {
    fn stored_hash_index(level: u32, i: u64) -> u64 {
        let mut n = i;
        for _ in 0..level {
            n = 2 * n + 1;
        }
        let (mut s, mut m) = (0, n);
        while m > 0 {
            s += m;
            m >>= 1;
        }
        s + u64::from(level)
    }
    let p = env.dir().join("ledger.idx");
    let mut b = std::fs::read(&p).unwrap();
    let pos = (16 + 8 * 32 + 32 * stored_hash_index(5, 0)) as usize;
    b[pos..pos + 32].copy_from_slice(&[0x42; 32]);
    std::fs::write(&p, b).unwrap();
}

fn append_event(env: &Env, key: &Path) -> Output {
    run_bounded(
        env,
        &[
            "--key",
            key.to_str().unwrap(),
            "append",
            "event",
            "--actor",
            "ci",
            "--type",
            "t",
            "--data",
            "{}",
        ],
    )
}

#[test]
fn a_forged_index_never_gets_its_tree_signed() {
    for (case, drop_checkpoints) in [("checkpoint kept", false), ("checkpoints removed", true)] {
        let env = Env::new();
        let k = env.signed_ledger();
        env.fill(&k, 40);
        forge_index(&env);
        if drop_checkpoints {
            std::fs::remove_file(env.dir().join("checkpoint")).unwrap();
            std::fs::remove_dir_all(env.dir().join("checkpoints")).unwrap();
        }
        let out = append_event(&env, &k);
        assert_eq!(out.status.code(), Some(0), "{case}: {}", stderr(&out));
        // Plain verify recomputes every root from the entries and checks each signed
        // checkpoint against them: a checkpoint over the forged tree would fail here.
        let out = run_bounded(&env, &["verify"]);
        assert_eq!(out.status.code(), Some(0), "{case}: {}", stderr(&out));
        assert!(
            common::stdout(&out).contains("signed checkpoint"),
            "{case}: {}",
            common::stdout(&out)
        );
    }
}

#[test]
fn a_checkpoint_with_a_garbage_signature_is_not_signed_past() {
    let env = Env::new();
    let k = env.signed_ledger();
    env.fill(&k, 40);
    forge_index(&env);
    let cp = env.dir().join("checkpoint");
    let mut note = std::fs::read(&cp).unwrap();
    let n = note.len();
    note[n - 6] = if note[n - 6] == b'A' { b'B' } else { b'A' };
    std::fs::write(&cp, &note).unwrap();
    let listed = |env: &Env| {
        let mut v: Vec<_> = std::fs::read_dir(env.dir().join("checkpoints"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let before = listed(&env);
    let out = append_event(&env, &k);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to sign past a checkpoint no ledger key signed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&cp).unwrap(),
        note,
        "the forged file was replaced"
    );
    assert_eq!(listed(&env), before, "a checkpoint was signed");
    let out = run_bounded(&env, &["--key", k.to_str().unwrap(), "checkpoint"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(listed(&env), before, "a checkpoint was signed");
}

// Family "keys from the ledger only" and "client state": config.toml's key list is a copy
// that nothing trusts, and the verified state of an earlier run (outside the ledger
// directory) makes a rolled-back or rewritten ledger fail even where no checkpoint is left.

/// Add `key` to config.toml's key list (trusted, not revoked), as an attacker would.
fn trust_in_config(env: &Env, key: &Signer) {
    let cfg = env.dir().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[[keys]]\nid = \"{}\"\npublic_key = \"{}\"\nrevoked = false\n",
        key.id(),
        hex::encode(key.public().as_bytes())
    ));
    std::fs::write(&cfg, text).unwrap();
}

#[test]
fn a_key_only_config_toml_lists_cannot_append_or_checkpoint() {
    let env = Env::new();
    checkpointed(&env);
    let other = Signer::generate().unwrap();
    let other_key = env.path().join("other.key");
    other.write(&other_key).unwrap();
    trust_in_config(&env, &other);
    let before = snapshot(&env);
    // An untrusted signer is refused as bad input (exit 2), before anything is written.
    let out = append_event(&env, &other_key);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(other.id()) && stderr(&out).contains("not trusted"),
        "{}",
        stderr(&out)
    );
    let k = other_key.to_str().unwrap();
    let out = run_bounded(&env, &["--key", k, "checkpoint"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        snapshot(&env) == before,
        "a refused write changed the ledger"
    );
    env.ok(&["verify"]);
}

#[test]
fn a_key_revoked_in_the_ledger_stays_revoked_whatever_config_toml_says() {
    let env = Env::new();
    let root = env.signed_ledger();
    let second = env.keygen("second");
    let r = root.to_str().unwrap();
    let pubp = format!("{}.pub", second.display());
    env.ok(&["--key", r, "keys", "add", &pubp]);
    let id = Signer::load(&second).unwrap().id().to_string();
    env.ok(&["--key", r, "keys", "revoke", &id]);
    // The attacker un-revokes it in config.toml; whoever still holds it tries to write.
    let cfg = env.dir().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("revoked = true", "revoked = false")).unwrap();
    let before = snapshot(&env);
    let out = append_event(&env, &second);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("revoked"), "{}", stderr(&out));
    assert!(
        snapshot(&env) == before,
        "a refused write changed the ledger"
    );
    env.ok(&["verify"]);
}

#[test]
fn a_ledger_rolled_back_below_the_client_state_fails_even_without_checkpoints() {
    let env = Env::new();
    checkpointed(&env);
    env.ok(&["verify"]);
    let head = {
        let v: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "verify"])).unwrap();
        v["head"].as_str().unwrap().to_string()
    };
    // Cut the last entry and remove every checkpoint: nothing in the directory remembers it.
    let log = std::fs::read_to_string(env.log()).unwrap();
    let kept: String = log.lines().take(3).map(|l| format!("{l}\n")).collect();
    std::fs::write(env.log(), kept).unwrap();
    std::fs::remove_file(env.dir().join("checkpoint")).unwrap();
    std::fs::remove_dir_all(env.dir().join("checkpoints")).unwrap();
    env.ok(&["--no-state", "verify"]);
    for args in [
        &["verify"][..],
        &["trust", "score", "--actor", "alice"],
        &["metrics"],
        &["log"],
    ] {
        let out = run_bounded(&env, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("rolled back") && err.contains(&head),
            "{args:?} should name the state's head {head}: {err}"
        );
    }
}

#[test]
fn a_rewritten_history_fails_against_the_client_state_and_readers_refuse_it() {
    let env = Env::new();
    env.ok(&["init", "--origin", "test.example/unsigned"]);
    env.ok(&[
        "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
    ]);
    env.ok(&[
        "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
    ]);
    env.ok(&["verify"]);
    // Rewrite the history from scratch (an unsigned ledger: every hash recomputed).
    std::fs::remove_file(env.log()).unwrap();
    std::fs::write(env.log(), b"").unwrap();
    let _ = std::fs::remove_file(env.dir().join("ledger.idx"));
    env.ok(&[
        "--no-state",
        "append",
        "event",
        "--actor",
        "m",
        "--type",
        "x",
        "--data",
        "{}",
    ]);
    env.ok(&[
        "--no-state",
        "append",
        "event",
        "--actor",
        "m",
        "--type",
        "x",
        "--data",
        "{}",
    ]);
    env.ok(&[
        "--no-state",
        "append",
        "event",
        "--actor",
        "m",
        "--type",
        "x",
        "--data",
        "{}",
    ]);
    let before = env.read_log();
    for args in [
        &["verify"][..],
        &["trust", "summary"],
        &["show", "0"],
        &[
            "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
        ],
        &["trust", "gate", "--actor", "a", "--paths", "x.rs"],
    ] {
        let out = run_bounded(&env, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("fork"), "{args:?}: {err}");
    }
    assert_eq!(
        env.read_log(),
        before,
        "something was appended on a forked ledger"
    );
}

#[test]
fn readers_refuse_a_forged_unsigned_history() {
    let env = Env::new();
    checkpointed(&env);
    // Strip the signature of the last entry and re-hash it: the chain is whole again, but
    // the ledger requires signatures. (Without the client state, to show readers verify.)
    let log = std::fs::read_to_string(env.log()).unwrap();
    let mut lines: Vec<String> = log.lines().map(str::to_string).collect();
    let last = audit_ledger::ledger::Entry::parse_line(lines[3].as_bytes()).unwrap();
    let forged = audit_ledger::ledger::Entry::seal(
        last.seq,
        last.ts.clone(),
        last.kind,
        "mallory".into(),
        None,
        last.body.clone(),
        last.prev,
    )
    .unwrap();
    lines[3] = String::from_utf8(forged.to_line()).unwrap();
    std::fs::write(env.log(), lines.join("\n") + "\n").unwrap();
    let before = env.read_log();
    for args in [
        &["--no-state", "metrics"][..],
        &["--no-state", "trust", "score", "--actor", "alice"],
        &["--no-state", "log"],
        &[
            "--no-state",
            "trust",
            "gate",
            "--actor",
            "a",
            "--paths",
            "x.rs",
            "--dry-run",
        ],
    ] {
        let out = run_bounded(&env, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("line 4"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert_eq!(env.read_log(), before);
}

#[test]
fn a_pinned_root_key_must_be_the_ledgers() {
    let env = Env::new();
    let root = env.signed_ledger();
    let id = Signer::load(&root).unwrap().id().to_string();
    env.ok(&["--root-key", &id, "verify"]);
    env.ok(&[
        "--root-key",
        &format!("{}.pub", root.display()),
        "--no-state",
        "verify",
    ]);
    let other = Signer::generate().unwrap();
    for args in [
        &["--root-key", other.id(), "verify"][..],
        &["--root-key", other.id(), "--no-state", "verify"],
        &["--root-key", other.id(), "--no-state", "trust", "summary"],
    ] {
        let out = run_bounded(&env, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("root-key") || stderr(&out).contains("root key"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = run_bounded(&env, &["--root-key", "/nonexistent.pub", "verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

// Family "a gate that is a query".

#[test]
fn a_dry_run_gate_needs_no_key_writes_nothing_and_an_unproven_author_needs_an_approval() {
    let env = Env::new();
    let k = env.signed_ledger();
    let before = snapshot(&env);
    let out = run_bounded(
        &env,
        &[
            "--json",
            "trust",
            "gate",
            "--actor",
            "newcomer",
            "--paths",
            "src/a.rs",
            "--dry-run",
        ],
    );
    // The default policy is fail-closed: no merge of known outcome, no approval → deny.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["recorded"], false);
    assert!(v["approval_seq"].is_null());
    assert!(
        v["reasons"].to_string().contains("prior_alone"),
        "{}",
        v["reasons"]
    );
    assert!(snapshot(&env) == before, "a dry run wrote to the ledger");
    // An approval by someone else on the change's subject lets it through.
    let subject = "PR-7";
    // Approvals name the change (its id, as the gate printed it), not the subject.
    let change = v["change"].as_str().unwrap().to_string();
    let kk = k.to_str().unwrap();
    // An approval signed by a key bound to no identity is nobody's (unsigned ones cannot be
    // written to this ledger; the trust scenario shows they count for nobody either).
    let signer = Some(kk);
    {
        let mut args = vec![];
        if let Some(s) = signer {
            args.extend(["--key", s]);
        }
        args.extend([
            "append",
            "approval",
            "--actor",
            "bob",
            "--subject",
            subject,
            "--change",
            &change,
            "--decision",
            "allow",
            "--reason",
            "reviewed",
        ]);
        env.ok(&args);
        let out = run_bounded(
            &env,
            &[
                "trust",
                "gate",
                "--actor",
                "newcomer",
                "--paths",
                "src/a.rs",
                "--subject",
                subject,
                "--dry-run",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{signer:?}: {}",
            common::stdout(&out)
        );
    }
    // Bob's own key, bound to his identity, makes it a second person's approval.
    let bob = env.keygen("bob");
    let bob_pub = format!("{}.pub", bob.display());
    env.ok(&["--key", kk, "keys", "add", &bob_pub, "--identity", "bob"]);
    env.ok(&[
        "--key",
        bob.to_str().unwrap(),
        "append",
        "approval",
        "--actor",
        "anyone",
        "--subject",
        subject,
        "--change",
        &change,
        "--decision",
        "allow",
        "--reason",
        "reviewed",
    ]);
    let out = run_bounded(
        &env,
        &[
            "trust",
            "gate",
            "--actor",
            "newcomer",
            "--paths",
            "src/a.rs",
            "--subject",
            subject,
            "--dry-run",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        common::stdout(&out),
        stderr(&out)
    );
}

// Family "signed settings": once a ledger has a `policy` entry, config.toml's
// require_signatures, [trust], [witness] and [metrics] change nothing.

/// A line an attacker without the key can write: unsigned, correctly chained and hashed.
fn forged_unsigned_line(
    env: &Env,
    kind: audit_ledger::ledger::Kind,
    body: serde_json::Value,
) -> String {
    let log = std::fs::read_to_string(env.log()).unwrap();
    let last =
        audit_ledger::ledger::Entry::parse_line(log.lines().last().unwrap().as_bytes()).unwrap();
    let e = audit_ledger::ledger::Entry::seal(
        last.seq + 1,
        "2026-12-01T00:00:00.000Z".into(),
        kind,
        "mallory".into(),
        None,
        body,
        last.hash,
    )
    .unwrap();
    String::from_utf8(e.to_line()).unwrap()
}

fn append_line(env: &Env, line: &str) {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(env.log())
        .unwrap();
    f.write_all(line.as_bytes()).unwrap();
    if !line.ends_with('\n') {
        f.write_all(b"\n").unwrap();
    }
}

fn set_config(env: &Env, from: &str, to: &str) {
    let cfg = env.dir().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(from), "{text}");
    std::fs::write(&cfg, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn require_signatures_false_in_config_toml_changes_nothing_once_signed() {
    let env = Env::new();
    let k = env.signed_ledger();
    let kk = k.to_str().unwrap();
    env.ok(&["--key", kk, "policy", "set", "--reason", "migrate"]);
    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "policy", "show"])).unwrap();
    assert_eq!(shown["signed"], true);
    assert_eq!(shown["require_signatures"], true);
    set_config(
        &env,
        "require_signatures = true",
        "require_signatures = false",
    );
    // An unsigned append is refused: the signed policy wins, and the CLI says so.
    let before = env.read_log();
    let out = run_bounded(
        &env,
        &[
            "append", "event", "--actor", "m", "--type", "t", "--data", "{}",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("requires signatures"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.read_log(), before);
    let out = run_bounded(&env, &["log"]);
    assert!(
        stderr(&out).contains("require_signatures = false differs from the signed policy"),
        "{}",
        stderr(&out)
    );
    // A forged unsigned entry written by hand fails verify, with and without a checkpoint,
    // with and without the client state.
    let line = forged_unsigned_line(
        &env,
        audit_ledger::ledger::Kind::Event,
        serde_json::json!({"type": "t", "data": {}}),
    );
    append_line(&env, &line);
    for args in [
        &["verify"][..],
        &["--no-state", "verify"],
        &[
            "--no-state",
            "verify",
            "--checkpoint",
            env.dir().join("checkpoint").to_str().unwrap(),
        ],
        &["trust", "summary"],
    ] {
        let out = run_bounded(&env, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("unsigned"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_policy_entry_must_be_signed() {
    let env = Env::new();
    env.ok(&["init", "--origin", "test.example/policy"]);
    env.ok(&[
        "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
    ]);
    // Without a key, `policy set` is refused; a hand-made unsigned policy line fails verify.
    let out = run_bounded(&env, &["policy", "set", "--require-signatures", "false"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = forged_unsigned_line(
        &env,
        audit_ledger::ledger::Kind::Policy,
        serde_json::json!({"require_signatures": false, "settings": ""}),
    );
    append_line(&env, &line);
    let out = run_bounded(&env, &["--no-state", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("policy entries must be signed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_signed_trust_policy_wins_over_config_toml_and_gates_record_it() {
    let env = Env::new();
    let k = env.signed_ledger();
    let kk = k.to_str().unwrap();
    let policy = env.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[trust]\nprior_alone = true\nallow_unverified = true\n[trust.default]\nmin_score = 0.0\n[[trust.gates]]\nname = \"auth\"\npaths = [\"auth/**\"]\nmin_score = 0.0\napprovals = 2\n",
    )
    .unwrap();
    // An invalid policy is refused before it is signed.
    let bad = env.path().join("bad.toml");
    std::fs::write(&bad, "[trust]\nhalf_life_days = -1\n").unwrap();
    let out = run_bounded(
        &env,
        &[
            "--key",
            kk,
            "policy",
            "set",
            "--settings",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("half_life_days"), "{}", stderr(&out));
    let out = run_bounded(
        &env,
        &[
            "--key",
            kk,
            "policy",
            "set",
            "--settings",
            bad.to_str().unwrap().replace("bad", "nope").as_str(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    env.ok(&[
        "--key",
        kk,
        "policy",
        "set",
        "--settings",
        policy.to_str().unwrap(),
    ]);
    // The attacker loosens the gate in config.toml: the signed one still decides.
    set_config(&env, "approvals = 2", "approvals = 0");
    let out = run_bounded(
        &env,
        &[
            "trust",
            "gate",
            "--actor",
            "m",
            "--paths",
            "auth/x.rs",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[trust] differs from the signed policy"),
        "{}",
        stderr(&out)
    );
    // A recorded decision names the policy it applied.
    let out = run_bounded(
        &env,
        &[
            "--json",
            "--key",
            kk,
            "trust",
            "gate",
            "--actor",
            "m",
            "--paths",
            "README.md",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let last = std::fs::read_to_string(env.log()).unwrap();
    let e: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(e["kind"], "approval");
    assert_eq!(e["body"]["policy_seq"], 1);
    assert_eq!(e["body"]["policy_sha256"].as_str().map(str::len), Some(64));
    env.ok(&["verify"]);
}
