//! Tamper suite (issue 2): every alteration of a 500-entry signed ledger makes `verify` exit 1
//! and name the right line and seq, without a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit_ledger::keys::Signer;
use audit_ledger::ledger::entry::Entry;
use common::{verify_json, Env};
use serde_json::Value;

const N: usize = 500;

/// A 500-entry signed ledger (seq 0 is the root key entry).
fn base() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, N - 1);
    let (code, v) = verify_json(&env);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["entries"], N as u64);
    (env, key)
}

fn lines(env: &Env) -> Vec<Vec<u8>> {
    env.read_log()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(env: &Env, lines: &[Vec<u8>]) {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    std::fs::write(env.log(), out).unwrap();
}

/// Run verify, require exit 1 at `line` (1-based) and return the failure JSON.
fn expect_fail(env: &Env, line: u64, what: &str) -> Value {
    let out = env.run(&["--json", "verify"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{what}: panic: {err}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1, stderr: {err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["line"], line, "{what}: wrong line: {v}");
    v
}

/// Change one byte to a different byte of the same class (digit, letter, base64 symbol).
fn flip(b: u8) -> u8 {
    match b {
        // Keep lowercase hex digits hex, so hash fields exercise the hash comparison itself.
        b'f' => b'0',
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => b + 1,
        b'9' => b'8',
        b'z' => b'y',
        b'Z' => b'Y',
        b'+' => b'/',
        b'/' => b'+',
        other => other ^ 0x01,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{} not found", String::from_utf8_lossy(needle)))
}

/// A deterministic "random" entry index in 1..N-1.
fn pick(salt: u64) -> usize {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    1 + (x % (N as u64 - 2)) as usize
}

#[test]
fn byte_flip_in_every_field() {
    let (env, _) = base();
    let pristine = env.read_log();
    for (i, field) in [
        "actor", "body", "hash", "kind", "prev", "seq", "sig", "signer", "ts", "v",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(env.log(), &pristine).unwrap();
        let k = pick(i as u64);
        let mut ls = lines(&env);
        let line = &mut ls[k];
        let start = find(line, format!("\"{field}\":").as_bytes()) + field.len() + 3;
        let pos = match line[start] {
            b'"' => {
                start
                    + 1
                    + 3.min(
                        line[start + 1..]
                            .iter()
                            .position(|&b| b == b'"')
                            .unwrap()
                            .saturating_sub(1),
                    )
            }
            b'{' => start + find(&line[start..], b"\":\"") + 3,
            _ => start,
        };
        line[pos] = flip(line[pos]);
        write_lines(&env, &ls);
        let v = expect_fail(&env, k as u64 + 1, &format!("flip in {field}"));
        if *field != "seq" {
            assert_eq!(v["seq"], k as u64, "flip in {field}: {v}");
        }
    }
}

#[test]
fn structural_edits() {
    let (env, _) = base();
    let pristine = lines(&env);
    let k = pick(100);

    // Delete a line: the next line has the wrong seq.
    let mut ls = pristine.clone();
    ls.remove(k);
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "delete");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("expected seq {k}")),
        "{v}"
    );

    // Swap two lines.
    let mut ls = pristine.clone();
    ls.swap(k, k + 1);
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "swap");
    assert_eq!(v["code"], "bad-seq");

    // Duplicate a line.
    let mut ls = pristine.clone();
    ls.insert(k + 1, pristine[k].clone());
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 2, "duplicate");
    assert_eq!(v["seq"], k as u64);

    // Cut a line in the middle (the rest of the file stays).
    let mut ls = pristine.clone();
    let half = ls[k].len() / 2;
    ls[k].truncate(half);
    write_lines(&env, &ls);
    expect_fail(&env, k as u64 + 1, "cut line");

    // Cut the file in the middle of its last line: a torn tail.
    let mut bytes = Vec::new();
    for l in &pristine {
        bytes.extend_from_slice(l);
        bytes.push(b'\n');
    }
    bytes.truncate(bytes.len() - pristine[N - 1].len() / 2);
    std::fs::write(env.log(), &bytes).unwrap();
    let v = expect_fail(&env, N as u64, "torn tail");
    assert_eq!(v["code"], "torn-tail");
}

fn reseal(line: &[u8], edit: impl FnOnce(&mut Entry)) -> Entry {
    let mut e = Entry::parse_line(line).unwrap();
    edit(&mut e);
    e.hash = audit_ledger::ledger::entry::leaf_hash(&e.unsigned_bytes());
    e
}

#[test]
fn edits_that_recompute_hashes() {
    let (env, _) = base();
    let pristine = lines(&env);
    let k = pick(200);

    // Edit a body and recompute its hash without the key: its signature no longer verifies.
    let mut ls = pristine.clone();
    let e = reseal(&ls[k], |e| e.actor = "mallory".into());
    ls[k] = e.to_line();
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "edit+rehash");
    assert_eq!(v["code"], "bad-signature");

    // Same, and re-chain the whole tail: still the edited entry is named.
    let mut prev = e.hash;
    for l in ls.iter_mut().skip(k + 1) {
        let e2 = reseal(l, |x| x.prev = prev);
        prev = e2.hash;
        *l = e2.to_line();
    }
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "edit+rechain");
    assert_eq!(v["seq"], k as u64);

    // Re-sign with an untrusted key.
    let mallory = Signer::generate().unwrap();
    let mut ls = pristine.clone();
    let mut e = reseal(&ls[k], |e| {
        e.actor = "mallory".into();
        e.signer = Some(mallory.id().to_string());
    });
    e.sig = Some(mallory.sign(&e.signing_message()));
    ls[k] = e.to_line();
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "untrusted signer");
    assert_eq!(v["code"], "untrusted-signer");

    // Strip the signature only.
    let mut ls = pristine.clone();
    let mut e = Entry::parse_line(&ls[k]).unwrap();
    e.sig = None;
    ls[k] = e.to_line();
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "strip sig");
    assert_eq!(v["code"], "missing-signature");

    // Strip signer and signature and recompute the hash: unsigned where signatures are required.
    let mut ls = pristine.clone();
    let mut e = reseal(&ls[k], |e| e.signer = None);
    e.sig = None;
    ls[k] = e.to_line();
    let mut prev = e.hash;
    for l in ls.iter_mut().skip(k + 1) {
        let e2 = reseal(l, |x| x.prev = prev);
        prev = e2.hash;
        *l = e2.to_line();
    }
    write_lines(&env, &ls);
    let v = expect_fail(&env, k as u64 + 1, "strip signer+sig");
    assert!(
        ["unsigned", "bad-signature"].contains(&v["code"].as_str().unwrap()),
        "{v}"
    );
    assert_eq!(v["seq"], k as u64);
}

#[test]
fn key_used_after_revocation() {
    let env = Env::new();
    let root = env.signed_ledger();
    let second = env.keygen("second");
    let r = root.to_str().unwrap();
    let s = second.to_str().unwrap();
    env.ok(&[
        "--key",
        r,
        "keys",
        "add",
        &format!("{s}.pub"),
        "--name",
        "second",
    ]);
    env.ok(&[
        "--key", s, "append", "event", "--actor", "x", "--type", "t", "--data", "{}",
    ]);
    let id = audit_ledger::keys::key_id(&Signer::load(&second).unwrap().public());
    env.ok(&["--key", r, "keys", "revoke", &id]);
    // The CLI refuses to sign with the revoked key (exit 2, nothing written)...
    let before = env.read_log();
    let out = env.run(&[
        "--key", s, "append", "event", "--actor", "x", "--type", "t", "--data", "{}",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(env.read_log(), before);
    // ...and verify rejects an entry forged with it after the revocation.
    let ls = lines(&env);
    let last = Entry::parse_line(ls.last().unwrap()).unwrap();
    let signer = Signer::load(&second).unwrap();
    let mut e = Entry::seal(
        last.seq + 1,
        audit_ledger::ledger::entry::now_ts(),
        audit_ledger::ledger::Kind::Event,
        "x".into(),
        Some(signer.id().to_string()),
        serde_json::json!({"type": "t", "data": {}}),
        last.hash,
    )
    .unwrap();
    e.sig = Some(signer.sign(&e.signing_message()));
    let mut ls2 = ls.clone();
    ls2.push(e.to_line());
    write_lines(&env, &ls2);
    let v = expect_fail(&env, ls2.len() as u64, "revoked key");
    assert_eq!(v["code"], "revoked-signer");
    assert_eq!(v["seq"], e.seq);
}

#[test]
fn intact_ledger_passes_and_names_keys() {
    let (env, _) = base();
    let (code, v) = verify_json(&env);
    assert_eq!(code, Some(0));
    assert_eq!(v["signatures_checked"], N as u64);
    assert_eq!(v["unsigned"], 0);
}

/// Past the first block of 8,192 lines, signatures are batch-verified in the parallel pass with
/// the keys trusted at the block's start; a bad one there must still be named exactly. Entries
/// by a key added later in a block take the sequential path; a bad one there too.
#[test]
fn bad_signatures_in_later_blocks_and_by_later_keys() {
    let env = Env::new();
    let root = env.signed_ledger();
    env.fill(&root, 9_000);
    let second = env.keygen("second");
    let s = second.to_str().unwrap();
    env.ok(&[
        "--key",
        root.to_str().unwrap(),
        "keys",
        "add",
        &format!("{s}.pub"),
    ]);
    env.fill(&second, 300);
    env.ok(&["verify"]);
    let pristine = lines(&env);
    // 8,601: batch-verified with the root key from the block snapshot. The last lines: signed
    // by the second key, added inside the second block.
    for k in [8_600usize, pristine.len() - 7] {
        let mut ls = pristine.clone();
        let e = reseal(&ls[k], |e| e.actor = "mallory".into());
        ls[k] = e.to_line();
        write_lines(&env, &ls);
        let v = expect_fail(&env, k as u64 + 1, "later block");
        assert_eq!(v["code"], "bad-signature", "{v}");
        assert_eq!(v["seq"], k as u64);
    }
    write_lines(&env, &pristine);
    let (code, v) = verify_json(&env);
    assert_eq!(code, Some(0));
    assert_eq!(v["signatures_checked"], pristine.len() as u64);
}

/// Verify reads blocks of 8,192 lines and keeps up to three on the pool, each checked with the
/// keys trusted when it was queued. Keys that change while blocks are in flight must still be
/// applied in log order: a key added and used within the pipeline's reach, a revoked key whose
/// later signatures were batch-verified from an older snapshot, bad signatures far from both.
#[test]
fn key_changes_while_blocks_are_in_flight() {
    let env = Env::new();
    let root = env.signed_ledger();
    let second = env.keygen("second");
    let (r, s) = (root.to_str().unwrap(), second.to_str().unwrap());
    env.fill(&root, 100);
    env.ok(&["--key", r, "keys", "add", &format!("{s}.pub")]);
    env.fill(&second, 20_000);
    let root_id = Signer::load(&root).unwrap().id().to_string();
    env.ok(&["--key", s, "keys", "revoke", &root_id]);
    env.fill(&second, 20_000);
    let (code, v) = verify_json(&env);
    assert_eq!(code, Some(0), "{v}");
    let pristine = lines(&env);
    assert_eq!(v["signatures_checked"], pristine.len() as u64);
    let revoked_at = pristine
        .iter()
        .position(|l| l.windows(8).any(|w| w == b"\"revoke\""))
        .unwrap();

    // Bad signatures: right after the second key's addition, deep in its run, at the end.
    for k in [150usize, 33_333, pristine.len() - 2] {
        let mut ls = pristine.clone();
        ls[k] = reseal(&ls[k], |e| e.actor = "mallory".into()).to_line();
        write_lines(&env, &ls);
        let v = expect_fail(&env, k as u64 + 1, "bad signature");
        assert_eq!(v["code"], "bad-signature", "line {k}: {v}");
    }

    // A correct signature by the root key, after its revocation: near it (the block was queued
    // while the root key was still trusted) and far from it.
    let root_signer = Signer::load(&root).unwrap();
    for k in [revoked_at + 3_000, revoked_at + 19_000] {
        let mut ls = pristine.clone();
        let mut e = reseal(&ls[k], |e| e.signer = Some(root_id.clone()));
        e.sig = Some(root_signer.sign(&e.signing_message()));
        ls[k] = e.to_line();
        write_lines(&env, &ls);
        let v = expect_fail(&env, k as u64 + 1, "revoked key");
        assert_eq!(v["code"], "revoked-signer", "line {k}: {v}");
    }
    write_lines(&env, &pristine);
    assert_eq!(verify_json(&env).0, Some(0));
}
