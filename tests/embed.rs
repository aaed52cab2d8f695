//! The library driven the way a service would drive it, without the CLI: open, append through
//! the write path, gate query, gate record, gated merge in a temporary git repository, drill,
//! bundle create and verify. The same steps are then run with the `ledger` binary on a twin
//! directory, and the two ledgers must hold the same entries (kinds, actors and bodies, up to
//! the fields that depend on keys and time).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use audit_ledger::bundle::{CreateOptions, Pin, VerifyOptions};
use audit_ledger::flow::attribution::Attribution;
use audit_ledger::flow::drill::DrillRequest;
use audit_ledger::flow::gate::{GateQuery, GATE_RECORDER};
use audit_ledger::flow::merge::{MergeOutcome, MergeRequest};
use audit_ledger::flow::{self, Verdict};
use audit_ledger::ledger::verify::Options;
use audit_ledger::{Draft, Kind, Ledger, Recorder, Signer};
use serde_json::{json, Value};

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            "user.name=alice",
            "-c",
            "user.email=alice@example.org",
        ])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // Fixed dates: both twins get the same commit ids.
        .env("GIT_AUTHOR_DATE", "2026-11-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository with `main` (one commit) and `feature` (one more, touching src/lib.rs),
/// `feature` checked out.
fn repo(at: &Path) -> (PathBuf, String) {
    let repo = at.join("repo");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(repo.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    git(&repo, &["add", "src/lib.rs"]);
    git(&repo, &["commit", "-q", "-m", "feature"]);
    // `feature` stays checked out: a merge never touches the branch of a work tree.
    (repo, first)
}

struct Twin {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    repo: PathBuf,
    first: String,
    key: PathBuf,
}

fn twin() -> Twin {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, first) = repo(tmp.path());
    let key = tmp.path().join("release.key");
    Signer::generate().unwrap().write(&key).unwrap();
    Twin {
        dir: tmp.path().join("audit"),
        repo,
        first,
        key,
        _tmp: tmp,
    }
}

fn deploy(version: &str, commit: &str) -> Draft {
    Draft {
        kind: Kind::Deploy,
        actor: "ci/build".into(),
        body: json!({"env": "prod", "version": version, "commit": commit, "status": "succeeded"}),
    }
}

/// Let new authors through on the prior (the twins compare writes, not the policy default).
fn prior_alone(t: &Twin) {
    let cfg = t.dir.join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    // Authors named by hand (the commits are not SSH-signed): wave 1's rule.
    text.push_str("\n[trust]\nprior_alone = true\nallow_unverified = true\n");
    std::fs::write(&cfg, text).unwrap();
}

/// The steps, through the library only.
fn run_library(t: &Twin) {
    Ledger::init(&t.dir, "example.org/embed", true).unwrap();
    prior_alone(t);
    let ledger = Ledger::open(&t.dir).unwrap();
    let signer = Signer::load(&t.key).unwrap();
    let rec = Recorder::new(&ledger, Some(&signer));

    let r = flow::keys::add(&rec, &signer.public(), Some("release"), "ledger/keys").unwrap();
    assert!(
        r.checkpoint.is_some(),
        "the key entry refreshes the checkpoint"
    );
    // The ledger read at open has no keys; the write path re-reads the settings under its lock.
    let ledger = Ledger::open(&t.dir).unwrap();
    let rec = Recorder::new(&ledger, Some(&signer));

    let r =
        flow::append::append(&rec, vec![deploy("v1", &t.first)], &Attribution::default()).unwrap();
    assert_eq!(r.entries.len(), 1);
    assert_eq!(r.checkpoint.as_ref().unwrap().checkpoint.size, 2);

    // Gate: a query writes nothing; recording it appends the approval.
    let q = GateQuery {
        actor: "alice".into(),
        paths: vec!["src/lib.rs".into()],
        subject: Some("PR-1".into()),
        // A decision that is recorded is made now (no --at).
        now_ms: chrono_now_ms(),
        change: Default::default(),
        vouch: Default::default(),
    };
    let before = std::fs::read(ledger.log_path()).unwrap();
    let e = flow::gate::evaluate(&ledger, &q).unwrap();
    assert_eq!(
        std::fs::read(ledger.log_path()).unwrap(),
        before,
        "a query appends nothing"
    );
    let (approval, _) = flow::gate::record(&rec, &e.decision, &json!({}), GATE_RECORDER).unwrap();
    assert_eq!(approval.kind, Kind::Approval);
    assert_eq!(approval.seq, 2);

    // Gated merge, executed.
    let req = MergeRequest {
        repo: t.repo.clone(),
        source: "feature".into(),
        target: "main".into(),
        actor: None,
        subject: None,
        recorder: GATE_RECORDER.into(),
        execute: true,
        now_ms: chrono_now_ms(),
    };
    let o = flow::merge::gated_merge(&rec, &req).unwrap();
    let MergeOutcome::Gated(g) = &o else {
        panic!("not gated")
    };
    assert_eq!(g.decision.allow, o.passed());
    assert!(g.diff.as_ref().is_some_and(|d| d.path.is_file()));

    // Drill to the first commit.
    let dreq = DrillRequest {
        repo: t.repo.clone(),
        to: t.first.clone(),
        env: Some("prod".into()),
        check: "test -f README".into(),
        timeout: Duration::from_secs(60),
    };
    let plan = flow::drill::prepare(&rec, &dreq).unwrap();
    let run = flow::drill::run(&rec, plan, "ledger/drill", &AtomicBool::new(false)).unwrap();
    assert!(run.passed());
    assert!(run.report.is_file());

    // Bundle create, then verify with the pinned key.
    let opts = CreateOptions {
        version: "v1".into(),
        repo: t.repo.clone(),
        source_date_epoch: Some(1_764_000_000),
        actor: "ledger/bundle".into(),
        ..CreateOptions::default()
    };
    let c = flow::bundle::create(&rec, &opts).unwrap();
    let entry = c.entry.as_ref().unwrap();
    assert_eq!(entry.kind, Kind::Bundle);
    let rep = flow::bundle::verify(
        &c.dir,
        &VerifyOptions {
            pin: Some(Pin::Key(signer.public())),
        },
    )
    .unwrap();
    assert!(rep.pinned);

    // The whole ledger verifies, and the checkpoint beside it covers the bundle entry too.
    let v = flow::verify::verify(&ledger, &Options::default(), None, &mut |_, _| {}).unwrap();
    assert_eq!(v.summary.entries, entry.seq + 1);
    let cp = std::fs::read_to_string(t.dir.join("checkpoint")).unwrap();
    assert!(
        cp.lines().nth(1) == Some((entry.seq + 1).to_string().as_str()),
        "{cp}"
    );
}

fn ledger_cmd(t: &Twin, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ledger"))
        .arg("--dir")
        .arg(&t.dir)
        .arg("--key")
        .arg(&t.key)
        .args(args)
        .env_remove("LEDGER_SIGNING_KEY")
        .env_remove("LEDGER_DIR")
        .env("SOURCE_DATE_EPOCH", "1764000000")
        .output()
        .unwrap()
}

/// The same steps, through the binary.
fn run_cli(t: &Twin) {
    let ok = |args: &[&str], want: i32| {
        let out = ledger_cmd(t, args);
        assert_eq!(
            out.status.code(),
            Some(want),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(
        &[
            "init",
            "--origin",
            "example.org/embed",
            "--require-signatures",
        ],
        0,
    );
    prior_alone(t);
    let pubkey = format!("{}.pub", t.key.display());
    ok(&["keys", "add", &pubkey, "--name", "release"], 0);
    ok(
        &[
            "append",
            "deploy",
            "--actor",
            "ci/build",
            "--env",
            "prod",
            "--version",
            "v1",
            "--commit",
            &t.first,
            "--status",
            "succeeded",
        ],
        0,
    );
    let gate = ledger_cmd(
        t,
        &[
            "trust",
            "gate",
            "--actor",
            "alice",
            "--paths",
            "src/lib.rs",
            "--subject",
            "PR-1",
        ],
    );
    assert!(matches!(gate.status.code(), Some(0 | 1)));
    let merge = ledger_cmd(
        t,
        &[
            "merge",
            "--repo",
            t.repo.to_str().unwrap(),
            "--source",
            "feature",
            "--target",
            "main",
            "--execute",
        ],
    );
    assert!(matches!(merge.status.code(), Some(0 | 1)));
    ok(
        &[
            "drill",
            "rollback",
            "--repo",
            t.repo.to_str().unwrap(),
            "--to",
            &t.first,
            "--env",
            "prod",
            "--check",
            "test -f README",
            "--timeout",
            "60",
        ],
        0,
    );
    ok(
        &[
            "bundle",
            "create",
            "--version",
            "v1",
            "--repo",
            t.repo.to_str().unwrap(),
        ],
        0,
    );
    ok(&["verify"], 0);
}

/// An entry without what depends on keys, time and the machine: seq, kind, actor and the body
/// with such fields masked.
fn normal(line: &str, mask: &[String]) -> Value {
    let mut v: Value = serde_json::from_str(line).unwrap();
    let mut body = v["body"].take();
    for p in mask {
        if let Some(x) = body.pointer_mut(p) {
            *x = json!("*");
        }
    }
    json!({"seq": v["seq"], "kind": v["kind"], "actor": v["actor"], "body": body})
}

#[test]
fn the_library_writes_what_the_cli_writes() {
    let lib = twin();
    run_library(&lib);
    let cli = twin();
    // Both twins' repositories have the same commits (fixed dates), so the bodies that name
    // commits agree; keys differ, and so do ids and digests derived from them or from time.
    assert_eq!(lib.first, cli.first);
    run_cli(&cli);

    let mask: Vec<String> = [
        "/key_id",
        "/public_key",
        "/merge_commit",
        "/duration_ms",
        "/report",
        "/report_sha256",
        "/manifest_sha256",
        "/evaluated_at",
        "/breakdown/as_of",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let read = |t: &Twin| -> Vec<Value> {
        std::fs::read_to_string(t.dir.join("ledger.jsonl"))
            .unwrap()
            .lines()
            .map(|l| normal(l, &mask))
            .collect()
    };
    let (a, b) = (read(&lib), read(&cli));
    assert_eq!(a.len(), 7, "{a:#?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    assert_eq!(a.len(), b.len());
}
