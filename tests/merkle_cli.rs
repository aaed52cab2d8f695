//! End-to-end: checkpoints, proofs, `verify --checkpoint` and `witness cosign` against
//! truncation, a rewritten and re-signed history, and a fork.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_ledger::keys::Signer;
use audit_ledger::ledger::Entry;

fn ledger(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("LEDGER_SIGNING_KEY")
        .env_remove("LEDGER_DIR")
        .env_remove("LEDGER_STATE")
        .env("XDG_STATE_HOME", state_of(dir))
        .output()
        .unwrap()
}

/// The client state of the ledger in `dir` (beside it, so every test has its own).
fn state_of(dir: &Path) -> PathBuf {
    dir.parent().unwrap_or(dir).join("state")
}

/// Forget the client state: what an attacker's machine, which never verified the genuine
/// ledger, sees.
fn forget_state(dir: &Path) {
    let _ = std::fs::remove_dir_all(state_of(dir));
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = ledger(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Expect exit `code` and `needle` in stderr.
fn fails(dir: &Path, args: &[&str], code: i32, needle: &str) {
    let o = ledger(dir, args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in: {err}"
    );
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
    key: PathBuf,
}

impl Setup {
    fn new(entries: usize) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let dir = root.join("audit");
        let key = root.join("release.key");
        ok(
            &dir,
            &[
                "init",
                "--origin",
                "example.org/app",
                "--require-signatures",
            ],
        );
        ok(
            &dir,
            &[
                "keygen",
                "--name",
                "release",
                "--out",
                key.to_str().unwrap(),
            ],
        );
        ok(
            &dir,
            &[
                "keys",
                "add",
                &format!("{}.pub", key.display()),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        let s = Setup {
            _tmp: tmp,
            root,
            dir,
            key,
        };
        s.append(entries, "main");
        s
    }

    fn k(&self) -> &str {
        self.key.to_str().unwrap()
    }

    fn append(&self, n: usize, tag: &str) {
        self.append_in(&self.dir, n, tag);
    }

    fn append_in(&self, dir: &Path, n: usize, tag: &str) {
        for i in 0..n {
            let body = format!("{{\"type\":\"step\",\"data\":{{\"tag\":\"{tag}\",\"i\":{i}}}}}");
            ok(
                dir,
                &[
                    "append",
                    "event",
                    "--actor",
                    "ci",
                    "--body",
                    &body,
                    "--key",
                    self.k(),
                ],
            );
        }
    }

    fn save(&self, name: &str) -> String {
        let p = self.root.join(name);
        std::fs::copy(self.dir.join("checkpoint"), &p).unwrap();
        p.display().to_string()
    }

    fn witness_key(&self) -> String {
        let p = self.root.join("witness.key");
        if !p.exists() {
            ok(
                &self.dir,
                &["keygen", "--name", "w1", "--out", p.to_str().unwrap()],
            );
        }
        p.display().to_string()
    }

    fn cosign(&self, dir: &Path, cp: &str, proof: Option<&str>) -> Output {
        let state = self.root.join("witness-state");
        let mut args = vec![
            "witness",
            "cosign",
            "--checkpoint",
            cp,
            "--witness-state",
            state.to_str().unwrap(),
            "--name",
            "w1",
        ];
        let wk = self.witness_key();
        args.extend(["--key", &wk]);
        if let Some(p) = proof {
            args.extend(["--proof", p]);
        }
        ledger(dir, &args)
    }

    fn lines(&self, dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("ledger.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn write_proof(dir: &Path, out: &Path, args: &[&str]) -> String {
    let p = ok(dir, args);
    std::fs::write(out, p).unwrap();
    out.display().to_string()
}

#[test]
fn append_refreshes_checkpoint_and_proofs_verify_without_ledger() {
    let s = Setup::new(6);
    // 1 key entry + 6 events.
    let cp = std::fs::read_to_string(s.dir.join("checkpoint")).unwrap();
    assert!(cp.starts_with("example.org/app\n7\n"), "{cp}");
    assert!(s.dir.join("checkpoints/7").is_file());
    assert!(s.dir.join("ledger.idx").is_file());
    let vkey = ok(&s.dir, &["keys", "show", "--note"]);
    assert!(vkey.starts_with("example.org/app+"), "{vkey}");
    let vkey_file = s.root.join("log.vkey");
    std::fs::write(&vkey_file, &vkey).unwrap();

    let cp_path = s.save("cp7");
    for seq in 0..7u64 {
        let proof = write_proof(
            &s.dir,
            &s.root.join("incl.json"),
            &["prove", "inclusion", "--seq", &seq.to_string()],
        );
        let nowhere = s.root.join("nowhere");
        ok(
            &nowhere,
            &[
                "verify-proof",
                "--proof",
                &proof,
                "--checkpoint",
                &cp_path,
                "--pubkey",
                &format!("{}.pub", s.k()),
            ],
        );
        ok(
            &nowhere,
            &[
                "verify-proof",
                "--proof",
                &proof,
                "--checkpoint",
                &cp_path,
                "--pubkey",
                vkey_file.to_str().unwrap(),
            ],
        );
    }
    s.append(3, "more");
    let cp10 = s.save("cp10");
    let proof = write_proof(
        &s.dir,
        &s.root.join("cons.json"),
        &["prove", "consistency", "--from", "7"],
    );
    ok(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &proof,
            "--checkpoint",
            &cp10,
            "--old-checkpoint",
            &cp_path,
            "--pubkey",
            &format!("{}.pub", s.k()),
        ],
    );
    // Bare tree heads.
    let json: serde_json::Value =
        serde_json::from_str(&ok(&s.dir, &["--json", "checkpoint", "--key", s.k()])).unwrap();
    let root = json["root"].as_str().unwrap();
    let incl = write_proof(
        &s.dir,
        &s.root.join("i.json"),
        &["prove", "inclusion", "--seq", "4"],
    );
    ok(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &incl,
            "--root",
            root,
            "--size",
            "10",
        ],
    );
    fails(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &incl,
            "--root",
            root,
            "--size",
            "9",
        ],
        1,
        "tree size",
    );
    let other = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    fails(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &incl,
            "--root",
            other,
            "--size",
            "10",
        ],
        1,
        "root",
    );
    fails(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &incl,
            "--root",
            "zz",
            "--size",
            "10",
        ],
        2,
        "base64",
    );
    // A proof checked against a checkpoint signed by another key fails.
    let wk = s.witness_key();
    fails(
        &s.root,
        &[
            "verify-proof",
            "--proof",
            &incl,
            "--checkpoint",
            &cp10,
            "--pubkey",
            &format!("{wk}.pub"),
        ],
        1,
        "no signature by a known key",
    );
    ok(&s.dir, &["verify", "--checkpoint", &cp_path]);
    ok(&s.dir, &["verify", "--checkpoint", &cp10]);
}

#[test]
fn index_is_rebuilt_when_missing_or_corrupt() {
    let s = Setup::new(5);
    let idx = s.dir.join("ledger.idx");
    let good = std::fs::read(&idx).unwrap();
    let p1 = ok(&s.dir, &["prove", "inclusion", "--seq", "3"]);
    std::fs::remove_file(&idx).unwrap();
    let o = ledger(&s.dir, &["prove", "inclusion", "--seq", "3"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing; rebuilt"),
        "{o:?}"
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), p1);
    assert_eq!(std::fs::read(&idx).unwrap(), good);
    // A flipped byte inside a stored hash is found by verify, which rebuilds.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 40] ^= 1;
    std::fs::write(&idx, &bad).unwrap();
    let o = ledger(&s.dir, &["verify"]);
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rebuilt"),
        "{o:?}"
    );
    assert_eq!(std::fs::read(&idx).unwrap(), good);
    // A torn index (crash mid-write) is rebuilt on use; a lagging one catches up.
    std::fs::write(&idx, &good[..good.len() - 7]).unwrap();
    assert_eq!(ok(&s.dir, &["prove", "inclusion", "--seq", "3"]), p1);
    assert_eq!(std::fs::read(&idx).unwrap(), good);
    let before = good.clone();
    s.append(2, "x");
    let grown = std::fs::read(&idx).unwrap();
    std::fs::write(&idx, &before).unwrap();
    let o = ledger(&s.dir, &["prove", "inclusion", "--seq", "6"]);
    assert!(o.status.success() && o.stderr.is_empty(), "{o:?}");
    assert_eq!(std::fs::read(&idx).unwrap(), grown);
}

#[test]
fn truncation_below_a_checkpoint_is_detected_and_refused() {
    let s = Setup::new(6);
    let cp = s.save("cp7");
    assert!(s.cosign(&s.dir, &cp, None).status.success());
    let lines = s.lines(&s.dir);
    std::fs::write(s.dir.join("ledger.jsonl"), lines[..4].join("\n") + "\n").unwrap();
    // The chain alone cannot tell; the signed checkpoints beside the ledger can.
    fails(
        &s.dir,
        &["verify"],
        1,
        "truncated below this signed checkpoint",
    );
    fails(
        &s.dir,
        &["verify", "--checkpoint", &cp],
        1,
        "truncated below the checkpoint",
    );
    // The ledger itself refuses to sign a smaller tree than its last checkpoint.
    fails(&s.dir, &["checkpoint", "--key", s.k()], 1, "truncated");
    // An attacker removes the evidence and signs anyway (on a machine without the client
    // state, which would refuse): the witness refuses.
    forget_state(&s.dir);
    std::fs::remove_file(s.dir.join("checkpoint")).unwrap();
    std::fs::remove_dir_all(s.dir.join("checkpoints")).unwrap();
    ok(&s.dir, &["checkpoint", "--key", s.k()]);
    let small = s.save("cp4");
    let o = s.cosign(&s.dir, &small, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("smaller than the 7 already cosigned"),
        "{o:?}"
    );
}

/// Rewrite entry `at` and re-hash and re-sign every later entry with the valid key.
fn rewrite_from(path: &Path, key: &Path, at: usize) {
    let signer = Signer::load(key).unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut prev = [0u8; 32];
    for (i, line) in text.lines().enumerate() {
        let e = Entry::parse_line(line.as_bytes()).unwrap();
        if i < at {
            prev = e.hash;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut body = e.body.clone();
        if i == at {
            body["data"]["tag"] = serde_json::json!("forged");
        }
        let mut n = Entry::seal(
            e.seq,
            e.ts.clone(),
            e.kind,
            e.actor.clone(),
            e.signer.clone(),
            body,
            prev,
        )
        .unwrap();
        n.sig = Some(signer.sign(&n.signing_message()));
        prev = n.hash;
        out.push_str(std::str::from_utf8(&n.to_line()).unwrap());
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn rewritten_and_resigned_history_is_detected_and_refused() {
    let s = Setup::new(6);
    let cp = s.save("cp7");
    assert!(s.cosign(&s.dir, &cp, None).status.success());
    rewrite_from(&s.dir.join("ledger.jsonl"), &s.key, 3);
    // Every hash and signature is valid again; the signed checkpoints beside it are not.
    fails(&s.dir, &["verify"], 1, "rewritten history");
    fails(
        &s.dir,
        &["verify", "--checkpoint", &cp],
        1,
        "rewritten history",
    );
    // The client state of the machine that signed the genuine ledger refuses at once ...
    fails(
        &s.dir,
        &["checkpoint", "--key", s.k()],
        1,
        "the history was rewritten (fork)",
    );
    // ... and without it the signed checkpoint beside the ledger does.
    forget_state(&s.dir);
    fails(
        &s.dir,
        &["checkpoint", "--key", s.k()],
        1,
        "rewritten history",
    );
    // The attacker drops the old checkpoints and signs the forged tree at the same size.
    std::fs::remove_file(s.dir.join("checkpoint")).unwrap();
    std::fs::remove_dir_all(s.dir.join("checkpoints")).unwrap();
    ok(&s.dir, &["checkpoint", "--key", s.k()]);
    let forged = s.save("forged7");
    let o = s.cosign(&s.dir, &forged, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("a fork"),
        "{o:?}"
    );
    // ... or grows it and offers a consistency proof from its own history: still refused.
    s.append(2, "after");
    let bigger = s.save("forged9");
    let proof = write_proof(
        &s.dir,
        &s.root.join("p.json"),
        &["prove", "consistency", "--from", "7"],
    );
    let o = s.cosign(&s.dir, &bigger, Some(&proof));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rewritten history or a fork"),
        "{o:?}"
    );
}

#[test]
fn forked_copies_are_detected_and_refused() {
    let s = Setup::new(4);
    let base = s.save("cp5");
    assert!(s.cosign(&s.dir, &base, None).status.success());
    let b = s.root.join("copy");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&s.dir)
        .arg(&b)
        .status()
        .unwrap();
    assert!(status.success());
    s.append(2, "a");
    s.append_in(&b, 2, "b");
    let cp_a = s.save("cpA");
    let cp_b = s.root.join("cpB").display().to_string();
    std::fs::copy(b.join("checkpoint"), &cp_b).unwrap();
    ok(&s.dir, &["verify", "--checkpoint", &cp_a]);
    ok(&b, &["verify", "--checkpoint", &cp_b]);
    ok(&b, &["verify", "--checkpoint", &base]);
    fails(
        &b,
        &["verify", "--checkpoint", &cp_a],
        1,
        "rewritten history",
    );
    fails(
        &s.dir,
        &["verify", "--checkpoint", &cp_b],
        1,
        "rewritten history",
    );
    // The witness cosigns A (with a proof from the base), then refuses B.
    let pa = write_proof(
        &s.dir,
        &s.root.join("pa.json"),
        &["prove", "consistency", "--from", "5"],
    );
    let o = s.cosign(&s.dir, &cp_a, Some(&pa));
    assert!(o.status.success(), "{o:?}");
    let o = s.cosign(&b, &cp_b, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("a fork"),
        "{o:?}"
    );
    // A different log altogether is named as such.
    let other = tempfile::tempdir().unwrap();
    let od = other.path().join("audit");
    ok(&od, &["init", "--origin", "example.org/other"]);
    ok(
        &od,
        &["keys", "add", &format!("{}.pub", s.k()), "--key", s.k()],
    );
    fails(&od, &["verify", "--checkpoint", &cp_a], 1, "different log");
}

#[test]
fn witness_cosignatures_can_be_required() {
    let s = Setup::new(3);
    let cp = s.save("cp4");
    let o = s.cosign(&s.dir, &cp, None);
    assert!(o.status.success());
    let cosigned = s.root.join("cosigned");
    std::fs::write(&cosigned, &o.stdout).unwrap();
    let wk = s.witness_key();
    let vkey = ok(&s.dir, &["witness", "key", "--key", &wk, "--name", "w1"]);
    let cfg = s.dir.join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "\n[witness]\nkeys = [\"{}\"]\nrequired = 1\n",
        vkey.trim()
    ));
    std::fs::write(&cfg, text).unwrap();
    fails(
        &s.dir,
        &["verify", "--checkpoint", &cp],
        1,
        "0 valid cosignature(s)",
    );
    ok(
        &s.dir,
        &["verify", "--checkpoint", cosigned.to_str().unwrap()],
    );
    fails(
        &s.dir,
        &[
            "verify",
            "--checkpoint",
            cosigned.to_str().unwrap(),
            "--witnesses",
            "2",
        ],
        1,
        "2 required",
    );
}

/// An independent implementation (Python `cryptography`) opens a checkpoint `ledger` wrote with
/// the verifier key of `keys show --note`, checking the key-hash rule.
#[test]
fn checkpoint_opens_with_an_independent_verifier() {
    let has_py = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_py {
        eprintln!("skipped: python3 with cryptography not available");
        return;
    }
    let s = Setup::new(2);
    let vkey = ok(&s.dir, &["keys", "show", "--note"]);
    let script = r#"
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
vkey, note = sys.argv[1].strip(), open(sys.argv[2], 'rb').read()
name, khash, k = vkey.split('+', 2)
raw = base64.b64decode(k)
assert raw[0] == 1 and len(raw) == 33
assert hashlib.sha256(name.encode() + b'\n' + raw).digest()[:4].hex() == khash, 'key hash rule'
text, sigs = note.rsplit(b'\n\n', 1)
text += b'\n'
found = 0
for line in sigs.decode().splitlines():
    assert line.startswith('\u2014 ')
    n, b = line[2:].split(' ')
    sig = base64.b64decode(b)
    if n == name and sig[:4].hex() == khash:
        Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], text)
        found += 1
assert found == 1
lines = text.decode().split('\n')
assert lines[0] == 'example.org/app' and lines[1] == '3' and len(base64.b64decode(lines[2])) == 32
print('ok')
"#;
    let o = Command::new("python3")
        .args([
            "-c",
            script,
            &vkey,
            s.dir.join("checkpoint").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
}

fn valid(rel: &str, out: &str) {
    let v = common::schema_validator(rel);
    let value: serde_json::Value = serde_json::from_str(out).unwrap();
    assert!(v.is_valid(&value), "{rel} rejects {out}");
}

#[test]
fn json_outputs_match_their_schemas() {
    let s = Setup::new(4);
    let k = s.k();
    valid(
        "output/checkpoint.schema.json",
        &ok(&s.dir, &["--json", "checkpoint", "--key", k]),
    );
    let cp = s.save("cp");
    valid(
        "output/keys-show.schema.json",
        &ok(&s.dir, &["--json", "keys", "show"]),
    );
    let incl = ok(&s.dir, &["prove", "inclusion", "--seq", "2"]);
    valid("inclusion-proof.schema.json", &incl);
    // Field order of DESIGN §3.
    assert!(
        incl.starts_with("{\"leaf_index\":2,\"tree_size\":5,\"leaf_hash\":\""),
        "{incl}"
    );
    let cons = ok(&s.dir, &["prove", "consistency", "--from", "2"]);
    valid("consistency-proof.schema.json", &cons);
    assert!(
        cons.starts_with("{\"old_size\":2,\"new_size\":5,\"hashes\":["),
        "{cons}"
    );
    let ip = s.root.join("i.json");
    std::fs::write(&ip, &incl).unwrap();
    let pubkey = format!("{k}.pub");
    let args = [
        "--json",
        "verify-proof",
        "--proof",
        ip.to_str().unwrap(),
        "--checkpoint",
        &cp,
        "--pubkey",
        &pubkey,
    ];
    valid("output/verify-proof.schema.json", &ok(&s.dir, &args));
    let o = ledger(
        &s.dir,
        &[
            "--json",
            "verify-proof",
            "--proof",
            ip.to_str().unwrap(),
            "--root",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "--size",
            "5",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    valid(
        "output/verify-proof.schema.json",
        &String::from_utf8_lossy(&o.stdout),
    );
    valid(
        "output/verify.schema.json",
        &ok(&s.dir, &["--json", "verify", "--checkpoint", &cp]),
    );
    let wk = s.witness_key();
    valid(
        "output/witness-key.schema.json",
        &ok(
            &s.dir,
            &["--json", "witness", "key", "--key", &wk, "--name", "w1"],
        ),
    );
    let state = s.root.join("st");
    let out = ok(
        &s.dir,
        &[
            "--json",
            "witness",
            "cosign",
            "--checkpoint",
            &cp,
            "--witness-state",
            state.to_str().unwrap(),
            "--key",
            &wk,
            "--name",
            "w1",
        ],
    );
    valid("output/witness-cosign.schema.json", &out);
}

#[test]
fn every_signed_append_path_refreshes_unless_told_not_to() {
    let s = Setup::new(1);
    let size = |s: &Setup| {
        std::fs::read_to_string(s.dir.join("checkpoint"))
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(size(&s), "2");
    ok(
        &s.dir,
        &[
            "append",
            "deploy",
            "--actor",
            "ci",
            "--env",
            "prod",
            "--version",
            "v1",
            "--commit",
            "abc",
            "--status",
            "succeeded",
            "--key",
            s.k(),
        ],
    );
    assert_eq!(size(&s), "3");
    ok(
        &s.dir,
        &[
            "append",
            "event",
            "--actor",
            "ci",
            "--type",
            "t",
            "--data",
            "{}",
            "--key",
            s.k(),
            "--no-checkpoint",
        ],
    );
    assert_eq!(size(&s), "3");
    ok(&s.dir, &["checkpoint", "--key", s.k()]);
    assert_eq!(size(&s), "4");
    // A key the ledger does not trust cannot speak for it.
    let wk = s.witness_key();
    fails(&s.dir, &["checkpoint", "--key", &wk], 2, "not trusted");
    assert_eq!(size(&s), "4");
}
