//! Gaming the trust gate, tried as an author who wants an unsafe change merged: each attempt
//! on a real git repository and a real signed ledger, asserting the decision and that nothing
//! was merged or appended where it must not be (issue 14).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::ssh::SshKey;
use common::{code, stderr, stdout, Env};
use serde_json::Value;

/// `git` in `repo` as `who` (`who@example.org`), with no user or system configuration.
fn git(repo: &Path, who: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .args(["-c", &format!("user.name={who}")])
        .args(["-c", &format!("user.email={who}@example.org")])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A signed ledger (root key: the release key) whose trust policy is `policy` (TOML of the
/// `[trust]` table, written to config.toml), and a repository with one commit on `main`,
/// checked out on `scratch` so that `main` can be updated.
struct World {
    env: Env,
    key: PathBuf,
    repo: PathBuf,
}

impl World {
    fn new(policy: &str) -> World {
        let env = Env::new();
        let key = env.signed_ledger();
        let cfg = env.dir().join("config.toml");
        let mut text = std::fs::read_to_string(&cfg).unwrap();
        text.push_str(&format!("\n[trust]\n{policy}\n"));
        std::fs::write(&cfg, text).unwrap();
        let repo = env.path().join("repo");
        std::fs::create_dir_all(repo.join("src")).unwrap();
        git(&repo, "init", &["init", "-q"]);
        std::fs::write(repo.join("src/app.rs"), "fn main() {}\n").unwrap();
        git(&repo, "init", &["add", "."]);
        git(&repo, "init", &["commit", "-q", "-m", "initial"]);
        git(&repo, "init", &["checkout", "-q", "-b", "scratch"]);
        World { env, key, repo }
    }

    fn k(&self) -> &str {
        self.key.to_str().unwrap()
    }

    /// `ledger --json --key KEY ARGS`: (exit code, last JSON line, stderr).
    fn ledger(&self, args: &[&str]) -> (Option<i32>, Value, String) {
        let mut all = vec!["--json", "--key", self.k()];
        all.extend_from_slice(args);
        let out = self.env.run(&all);
        let v = stdout(&out)
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null);
        (code(&out), v, stderr(&out))
    }

    fn ok(&self, args: &[&str]) -> Value {
        let (c, v, err) = self.ledger(args);
        assert_eq!(c, Some(0), "ledger {args:?}: {v} {err}");
        v
    }

    fn repo(&self) -> &str {
        self.repo.to_str().unwrap()
    }

    /// A branch `name` off `main` by `who`, changing `file`.
    fn branch(&self, who: &str, name: &str, file: &str) -> String {
        git(&self.repo, who, &["checkout", "-q", "-b", name, "main"]);
        let path = self.repo.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{name}\n")).unwrap();
        git(&self.repo, who, &["add", "."]);
        git(&self.repo, who, &["commit", "-q", "-m", name]);
        let tip = git(&self.repo, who, &["rev-parse", "HEAD"]);
        git(&self.repo, who, &["checkout", "-q", "scratch"]);
        tip
    }

    fn main_tip(&self) -> String {
        git(&self.repo, "t", &["rev-parse", "main"])
    }

    fn deploy(&self, version: &str, status: &str) -> Value {
        let tip = self.main_tip();
        self.ok(&[
            "append",
            "deploy",
            "--actor",
            "ci/deploy",
            "--env",
            "production",
            "--version",
            version,
            "--commit",
            &tip,
            "--status",
            status,
            "--repo",
            self.repo(),
        ])
    }

    fn score(&self, actor: &str) -> Value {
        self.ok(&["trust", "score", "--actor", actor])
    }

    fn log(&self) -> Vec<u8> {
        self.env.read_log()
    }
}

#[test]
fn merges_pushed_straight_to_main_earn_nothing() {
    let w = World::new("window_hours = 0");
    // Six merges mallory pushes to main herself, never gated, then a deploy ships them.
    for i in 0..6 {
        let b = format!("m{i}");
        w.branch("mallory", &b, &format!("src/m{i}.rs"));
        git(&w.repo, "mallory", &["checkout", "-q", "main"]);
        git(
            &w.repo,
            "mallory",
            &["merge", "-q", "--no-ff", "-m", &b, &b],
        );
        git(&w.repo, "mallory", &["checkout", "-q", "scratch"]);
    }
    let d = w.deploy("v1", "succeeded");
    let seq = d["seq"].as_u64().unwrap();
    let (_, shown, _) = w.ledger(&["show", &seq.to_string()]);
    assert_eq!(
        shown["body"]["merges"].as_array().unwrap().len(),
        6,
        "{shown}"
    );
    // Not a single success: the six count as ungated, and her score is the prior.
    let s = w.score("mallory");
    assert_eq!(s["breakdown"]["successes"], 0, "{s}");
    assert_eq!(s["breakdown"]["ungated"], 6, "{s}");
    assert_eq!(s["score_permille"], 500);
    assert_eq!(s["history"], 0);
    // Her next change is denied: no history, no approval.
    let before = w.log();
    let (c, v, _) = w.ledger(&[
        "trust",
        "gate",
        "--dry-run",
        "--actor",
        "mallory",
        "--paths",
        "src/evil.rs",
    ]);
    assert_eq!(c, Some(1), "{v}");
    assert_eq!(v["decision"], "deny");
    assert_eq!(w.log(), before, "a query appends nothing");
    // Visible beyond the score: metrics and the report count merges past the gate.
    let m = w.ok(&["metrics"]);
    assert_eq!(m["merges"]["shipped"], 6, "{m}");
    assert_eq!(m["merges"]["ungated"], 6, "{m}");
    let html = w.env.path().join("report.html");
    w.ok(&["report", "--out", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("past the gate (no merge entry, earning no trust): 6"),
        "report"
    );
    // Under wave 1's rule the same history would have made her trusted: the rule is the
    // difference, not the setup.
    let cfg = w.env.dir().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("window_hours = 0", "window_hours = 0\ncount_ungated = true"),
    )
    .unwrap();
    let s = w.score("mallory");
    assert_eq!(s["breakdown"]["successes"], 6, "{s}");
    assert_eq!(s["score_permille"], 875);
}

#[test]
fn a_late_merge_entry_cannot_claim_a_deployed_commit() {
    let w = World::new("window_hours = 0");
    w.branch("bob", "fix", "src/fix.rs");
    git(&w.repo, "bob", &["checkout", "-q", "main"]);
    git(
        &w.repo,
        "bob",
        &["merge", "-q", "--no-ff", "-m", "fix", "fix"],
    );
    git(&w.repo, "bob", &["checkout", "-q", "scratch"]);
    let merged = w.main_tip();
    w.deploy("v1", "succeeded");
    // Alice claims bob's deployed merge (a success) as hers: refused, nothing written.
    let before = w.log();
    let (c, _, err) = w.ledger(&[
        "append",
        "merge",
        "--actor",
        "alice",
        "--author",
        "alice",
        "--source",
        "fix",
        "--target",
        "main",
        "--source-commit",
        &merged,
        "--target-commit",
        &merged,
        "--merge-commit",
        &merged,
        "--path",
        "src/fix.rs",
    ]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("already shipped by a deploy"), "{err}");
    assert_eq!(w.log(), before);
    // A second merge entry for one commit is refused the same way, in a batch too.
    let one = w.branch("carol", "one", "src/one.rs");
    let args = [
        "append",
        "merge",
        "--actor",
        "carol",
        "--author",
        "carol",
        "--source",
        "one",
        "--target",
        "main",
        "--source-commit",
        &one,
        "--target-commit",
        &one,
        "--merge-commit",
        &one,
        "--path",
        "src/one.rs",
    ];
    w.ok(&args);
    let before = w.log();
    let (c, _, err) = w.ledger(&args);
    assert_eq!(c, Some(2), "{err}");
    assert!(
        err.contains("already recorded by the merge entry at seq"),
        "{err}"
    );
    let line = |m: &str| {
        format!(
            r#"{{"kind":"merge","actor":"x","body":{{"author":"dave","source":"s","target":"main","source_commit":"{m}","target_commit":"{m}","merge_commit":"{m}","paths":["a"]}}}}"#
        )
    };
    let fresh = "f".repeat(40);
    let batch = format!("{}\n{}\n", line(&fresh), line(&fresh));
    let out = w.env.run_stdin(
        &["--key", w.k(), "append", "--batch", "-"],
        batch.as_bytes(),
    );
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("twice in this batch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.log(), before);
    // Bob's success stays bob's.
    assert_eq!(w.score("alice")["known"], false);
}

#[test]
fn no_time_travel_where_a_decision_acts() {
    let w = World::new("window_hours = 0\nprior_alone = true\n[trust.default]\nmin_score = 0.0");
    w.branch("alice", "feature", "src/lib.rs");
    let main0 = w.main_tip();
    let before = w.log();
    // `ledger merge --execute --at`: there is no --at on a merge.
    let (c, _, err) = w.ledger(&[
        "merge",
        "--repo",
        w.repo(),
        "--source",
        "feature",
        "--target",
        "main",
        "--execute",
        "--at",
        "2026-01-01",
    ]);
    assert_eq!(c, Some(2), "{err}");
    // A recorded gate decision as of another time: refused, with the way to ask instead.
    let (c, _, err) = w.ledger(&[
        "trust",
        "gate",
        "--actor",
        "alice",
        "--paths",
        "src/lib.rs",
        "--at",
        "2026-01-01",
    ]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("--dry-run"), "{err}");
    assert_eq!(w.main_tip(), main0, "nothing merged");
    assert_eq!(w.log(), before, "nothing appended");
    // As a query it answers.
    let (c, v, _) = w.ledger(&[
        "trust",
        "gate",
        "--actor",
        "alice",
        "--paths",
        "src/lib.rs",
        "--at",
        "2026-01-01",
        "--dry-run",
    ]);
    assert_eq!(c, Some(0), "{v}");
    assert_eq!(v["recorded"], false);
}

/// A key for `name`, bound to `identity` by the release key.
fn person(w: &World, name: &str, identity: &str) -> PathBuf {
    let k = w.env.keygen(name);
    let public = format!("{}.pub", k.display());
    w.ok(&["keys", "add", &public, "--identity", identity]);
    k
}

/// `who` (signing with `key`) says `decision` on the change named by `bind` (flags).
fn approve(w: &World, key: &Path, decision: &str, bind: &[&str]) {
    let mut args = vec![
        "--key",
        key.to_str().unwrap(),
        "append",
        "approval",
        "--actor",
        "reviewer",
        "--subject",
        "PR-1",
        "--decision",
        decision,
        "--reason",
        "read it",
    ];
    args.extend_from_slice(bind);
    let out = w.env.run(&args);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
}

#[test]
fn approvals_count_for_the_change_they_name_by_someone_else_while_fresh() {
    let w = World::new(
        "window_hours = 0\nprior_alone = true\napproval_ttl_hours = 1\n[trust.default]\nmin_score = 0.0\n[[trust.gates]]\nname = \"auth\"\npaths = [\"auth/**\"]\nmin_score = 0.0\napprovals = 1",
    );
    let bob = person(&w, "bob", "bob@example.org");
    let alice_again = person(&w, "alice2", "ALICE");
    let carol = person(&w, "carol", "carol@example.org");
    let ask = |paths: &[&str], extra: &[&str]| {
        let mut args = vec![
            "trust",
            "gate",
            "--dry-run",
            "--actor",
            "alice",
            "--subject",
            "PR-1",
        ];
        args.extend_from_slice(extra);
        args.push("--paths");
        args.extend_from_slice(paths);
        let (c, v, err) = w.ledger(&args);
        assert!(matches!(c, Some(0 | 1)), "{err}");
        v
    };
    let v = ask(&["auth/login.rs"], &[]);
    assert_eq!(v["decision"], "deny");
    let change = v["change"].as_str().unwrap().to_string();
    let other = ask(&["auth/other.rs"], &[])["change"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(change, other);

    // An approval of another change, and one that names no change (a bare subject, PR-1 as
    // asked): neither counts.
    approve(&w, &bob, "allow", &["--change", &other]);
    approve(&w, &bob, "allow", &[]);
    assert_eq!(ask(&["auth/login.rs"], &[])["decision"], "deny");
    // The author approving herself under another spelling of her name: not a second person.
    approve(&w, &alice_again, "allow", &["--change", &change]);
    let v = ask(&["auth/login.rs"], &[]);
    assert_eq!(v["decision"], "deny", "{v}");
    assert_eq!(v["gates"][0]["approvers"], serde_json::json!([]));
    // Bob approves this change: it passes, for the next hour only.
    approve(&w, &bob, "allow", &["--change", &change]);
    let v = ask(&["auth/login.rs"], &[]);
    assert_eq!(v["decision"], "allow", "{v}");
    assert_eq!(v["gates"][0]["approvers"][0], "bob@example.org");
    let later = (chrono::Utc::now() + chrono::Duration::minutes(90)).to_rfc3339();
    let v = ask(&["auth/login.rs"], &["--at", &later]);
    assert_eq!(v["decision"], "deny", "expired: {v}");
    // The same paths by another author: bob's approval is not for them.
    let (_, v, _) = w.ledger(&[
        "trust",
        "gate",
        "--dry-run",
        "--actor",
        "mallory",
        "--paths",
        "auth/login.rs",
    ]);
    assert_eq!(v["decision"], "deny", "{v}");
    // Carol denies: one eligible deny vetoes, whoever allowed.
    approve(&w, &carol, "deny", &["--change", &change]);
    let v = ask(&["auth/login.rs"], &[]);
    assert_eq!(v["decision"], "deny", "{v}");
    assert_eq!(
        v["gates"][0]["vetoed_by"][0]["identity"],
        "carol@example.org"
    );
    assert!(
        v["reasons"]
            .to_string()
            .contains("denied by carol@example.org"),
        "{v}"
    );
    // Carol changes her mind: her latest word counts.
    approve(&w, &carol, "allow", &["--change", &change]);
    assert_eq!(ask(&["auth/login.rs"], &[])["decision"], "allow");

    // A change known by its commit: approvals bound to that commit (and branch) count, and
    // only for it.
    let sha = w.branch("alice", "feature", "auth/login.rs");
    let by_commit = |sc: &str| {
        ask(
            &["auth/login.rs", "auth/x.rs"],
            &["--source-commit", sc, "--target", "main"],
        )
    };
    assert_eq!(by_commit(&sha)["decision"], "deny");
    approve(
        &w,
        &bob,
        "allow",
        &["--source-commit", &sha, "--target", "main"],
    );
    assert_eq!(by_commit(&sha)["decision"], "allow");
    assert_eq!(by_commit(&"0".repeat(40))["decision"], "deny");
    approve(
        &w,
        &carol,
        "allow",
        &["--source-commit", &sha, "--target", "release"],
    );
    let v = by_commit(&sha);
    assert_eq!(
        v["gates"][0]["approvers"],
        serde_json::json!(["bob@example.org"])
    );
}

#[test]
fn merge_paths_are_stored_sorted_and_once() {
    let w = World::new("");
    let c = "a".repeat(40);
    let v = w.ok(&[
        "append",
        "merge",
        "--actor",
        "bot",
        "--author",
        "ann",
        "--source",
        "f",
        "--target",
        "main",
        "--source-commit",
        &c,
        "--target-commit",
        &c,
        "--merge-commit",
        &c,
        "--path",
        "src/b.rs",
        "--path",
        "db/a.sql",
        "--path",
        "src/b.rs",
    ]);
    let seq = v["seq"].as_u64().unwrap().to_string();
    let (_, e, _) = w.ledger(&["show", &seq]);
    assert_eq!(
        e["body"]["paths"],
        serde_json::json!(["db/a.sql", "src/b.rs"])
    );
}

#[test]
fn policy_check_finds_dead_shadowed_and_order_dependent_gates() {
    let w = World::new(
        "[[trust.gates]]\nname = \"src\"\npaths = [\"src/**\"]\nmin_score = 0.6\n[[trust.gates]]\nname = \"auth\"\npaths = [\"src/auth/**\"]\napprovals = 1\n[[trust.gates]]\nname = \"db\"\npaths = [\"db/*\"]",
    );
    w.branch("t", "layout", "src/auth/login.rs");
    git(&w.repo, "t", &["checkout", "-q", "layout"]);
    std::fs::create_dir_all(w.repo.join("db/migrations")).unwrap();
    std::fs::write(w.repo.join("db/migrations/001.sql"), "create table t();\n").unwrap();
    git(&w.repo, "t", &["add", "."]);
    git(&w.repo, "t", &["commit", "-q", "-m", "db"]);
    let (c, v, err) = w.ledger(&["policy", "check", "--repo", w.repo(), "--rev", "layout"]);
    assert_eq!(c, Some(1), "{v} {err}");
    let codes: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["gate"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("shadowed", "auth"),
            ("matches-nothing", "db"),
            ("order-matters", "auth")
        ],
        "{v}"
    );
    assert_eq!(v["findings"][0]["examples"][0], "src/auth/login.rs");
    let schema = common::schema_validator("output/policy-check.schema.json");
    assert!(schema.is_valid(&v), "{v}");
    // A fixed policy, checked before it is signed: nothing found.
    let fixed = w.env.path().join("fixed.toml");
    std::fs::write(
        &fixed,
        "[trust]\n[[trust.gates]]\nname = \"auth\"\npaths = [\"src/auth/**\"]\napprovals = 1\n[[trust.gates]]\nname = \"db\"\npaths = [\"db/**\"]\n",
    )
    .unwrap();
    let (c, v, err) = w.ledger(&[
        "policy",
        "check",
        "--repo",
        w.repo(),
        "--rev",
        "layout",
        "--settings",
        fixed.to_str().unwrap(),
    ]);
    assert_eq!(c, Some(0), "{v} {err}");
    // Bad input: exit 2.
    let (c, _, _) = w.ledger(&["policy", "check", "--repo", w.repo(), "--rev", "nope"]);
    assert_eq!(c, Some(2));
}

/// A commit on a new branch `name` off `main`, changing `file`, written with author
/// `name <email>` and signed with `key` (an ssh-keygen key) when given.
fn commit_as(w: &World, branch: &str, file: &str, author: (&str, &str), key: Option<&SshKey>) {
    let repo = &w.repo;
    git(repo, "t", &["checkout", "-q", "-b", branch, "main"]);
    let path = repo.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{branch}\n")).unwrap();
    git(repo, "t", &["add", "."]);
    let who = format!("{} <{}>", author.0, author.1);
    let mut args: Vec<String> = Vec::new();
    if let Some(k) = key {
        args.extend([
            "-c".into(),
            "gpg.format=ssh".into(),
            "-c".into(),
            format!("user.signingkey={}", k.private.display()),
        ]);
    }
    args.extend([
        "commit".into(),
        "-q".into(),
        "--author".into(),
        who,
        "-m".into(),
        branch.into(),
    ]);
    if key.is_some() {
        args.push("-S".into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    git(repo, "t", &a);
    git(repo, "t", &["checkout", "-q", "scratch"]);
}

#[test]
fn authors_are_established_by_a_signed_commit_or_an_attestor_never_by_a_name() {
    let w = World::new(
        "window_hours = 0\nprior_alone = true\nattestors = [\"ci/merge-bot\"]\n[trust.default]\nmin_score = 0.0",
    );
    let keys = w.env.path().join("ssh");
    std::fs::create_dir_all(&keys).unwrap();
    let alice = SshKey::new(&keys, "alice");
    let mallory = SshKey::new(&keys, "mallory");
    let stranger = SshKey::new(&keys, "stranger");
    for (k, who) in [
        (&alice, "alice@example.org"),
        (&mallory, "mallory@example.org"),
    ] {
        w.ok(&[
            "keys",
            "add",
            k.public.to_str().unwrap(),
            "--git-signer",
            "--identity",
            who,
        ]);
    }
    let merge = |branch: &str, extra: &[&str]| {
        let mut args = vec![
            "merge",
            "--repo",
            w.repo(),
            "--source",
            branch,
            "--target",
            "main",
            "--execute",
        ];
        args.extend_from_slice(extra);
        w.ledger(&args)
    };
    let merges = |w: &World| -> usize {
        let (_, v, _) = w.ledger(&["log", "--kind", "merge"]);
        v["entries"].as_array().map_or(0, Vec::len)
    };

    // A spoofed author name on an unsigned commit: unverified, denied, nothing merged.
    commit_as(
        &w,
        "spoof",
        "src/a.rs",
        ("alice", "mallory@evil.example"),
        None,
    );
    let main0 = w.main_tip();
    let (c, v, err) = merge("spoof", &[]);
    assert_eq!(c, Some(1), "{v} {err}");
    assert!(
        v["reasons"][0].as_str().unwrap().contains("unverified"),
        "{v}"
    );
    assert!(
        v["reasons"][0].as_str().unwrap().contains("not signed"),
        "{v}"
    );
    assert_eq!(v["author_verification"], Value::Null);
    assert_eq!(w.main_tip(), main0, "nothing merged");
    assert_eq!(merges(&w), 0, "no merge entry");
    // Naming alice by hand changes nothing without an attestor's key.
    let (c, v, _) = merge("spoof", &["--actor", "alice@example.org"]);
    assert_eq!(c, Some(1), "{v}");
    assert_eq!(w.main_tip(), main0);

    // Signed by a key bound to nobody, with alice's name on it: unverified.
    commit_as(
        &w,
        "stranger",
        "src/b.rs",
        ("alice", "alice@example.org"),
        Some(&stranger),
    );
    let (c, v, _) = merge("stranger", &[]);
    assert_eq!(c, Some(1), "{v}");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains(&stranger.fingerprint()),
        "{v}"
    );
    assert_eq!(w.main_tip(), main0);

    // Signed by mallory's bound key, claimed for alice: refused (exit 2), nothing written.
    commit_as(
        &w,
        "claim",
        "src/c.rs",
        ("alice", "alice@example.org"),
        Some(&mallory),
    );
    let before = w.log();
    let (c, _, err) = merge("claim", &["--actor", "alice@example.org"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("mallory@example.org"), "{err}");
    assert_eq!(w.log(), before);
    // Without the claim it is mallory's change: her decision, not alice's.
    let (c, v, _) = merge("claim", &[]);
    assert_eq!(c, Some(0), "{v}");
    assert_eq!(v["actor"], "mallory@example.org");

    // Signed by alice's bound key: her change, established; merged and recorded as such.
    commit_as(
        &w,
        "good",
        "src/d.rs",
        ("Alice Liddell", "alice@example.org"),
        Some(&alice),
    );
    let (c, v, err) = merge("good", &[]);
    assert_eq!(c, Some(0), "{v} {err}");
    assert_eq!(v["actor"], "alice@example.org");
    let seq = v["merge_seq"].as_u64().unwrap().to_string();
    let (_, e, _) = w.ledger(&["show", &seq]);
    assert_eq!(e["body"]["author"], "alice@example.org");
    let how = e["body"]["author_verification"].as_str().unwrap();
    assert!(how.starts_with("ssh-signature:"), "{e}");

    // A tampered signed commit (message changed after signing): unverified.
    commit_as(
        &w,
        "tamper",
        "src/e.rs",
        ("alice", "alice@example.org"),
        Some(&alice),
    );
    let tip = git(&w.repo, "t", &["rev-parse", "tamper"]);
    let raw = git(&w.repo, "t", &["cat-file", "commit", &tip]).replace("tamper", "harmless");
    let forged = {
        let mut c = Command::new("git")
            .current_dir(&w.repo)
            .args(["hash-object", "-t", "commit", "-w", "--stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        c.stdin
            .take()
            .unwrap()
            .write_all(format!("{raw}\n").as_bytes())
            .unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    git(&w.repo, "t", &["branch", "-f", "tamper", &forged]);
    let tip = w.main_tip();
    let (c, v, _) = merge("tamper", &[]);
    assert_eq!(c, Some(1), "{v}");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("signature is bad"),
        "{v}"
    );
    assert_eq!(w.main_tip(), tip);

    // An attestor (the merge bot, whose key the policy names) vouches for an unsigned commit's
    // author it read from the forge.
    let bot = w.env.keygen("bot");
    w.ok(&[
        "keys",
        "add",
        &format!("{}.pub", bot.display()),
        "--identity",
        "ci/merge-bot",
    ]);
    let out = w.env.run(&[
        "--json",
        "--key",
        bot.to_str().unwrap(),
        "merge",
        "--repo",
        w.repo(),
        "--source",
        "spoof",
        "--target",
        "main",
        "--execute",
        "--actor",
        "alice@example.org",
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(v["author_verification"], "attested:ci/merge-bot");
}

#[test]
fn a_recorded_gate_decision_needs_its_recorder_to_vouch_for_the_author() {
    let w = World::new(
        "prior_alone = true\nattestors = [\"ci/merge-bot\"]\n[trust.default]\nmin_score = 0.0",
    );
    let gate = |key: &Path| {
        let out = w.env.run(&[
            "--json",
            "--key",
            key.to_str().unwrap(),
            "trust",
            "gate",
            "--actor",
            "alice",
            "--paths",
            "src/a.rs",
        ]);
        let v: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
        (code(&out), v)
    };
    // The release key has no identity: it vouches for nobody. The decision is recorded as a
    // deny naming why.
    let (c, v) = gate(&w.key);
    assert_eq!(c, Some(1), "{v}");
    assert_eq!(v["recorded"], true);
    assert!(
        v["reasons"][0].as_str().unwrap().contains("unverified"),
        "{v}"
    );
    // A query answers for the author as named (nothing is recorded or merged on it).
    let (c, v, _) = w.ledger(&[
        "trust",
        "gate",
        "--dry-run",
        "--actor",
        "alice",
        "--paths",
        "src/a.rs",
    ]);
    assert_eq!(c, Some(0), "{v}");
    // The merge bot, an attestor: allowed, and the record says who vouched.
    let bot = w.env.keygen("bot");
    w.ok(&[
        "keys",
        "add",
        &format!("{}.pub", bot.display()),
        "--identity",
        "CI/Merge-Bot",
    ]);
    let (c, v) = gate(&bot);
    assert_eq!(c, Some(0), "{v}");
    let seq = v["approval_seq"].as_u64().unwrap().to_string();
    let (_, e, _) = w.ledger(&["show", &seq]);
    assert_eq!(e["body"]["author_verification"], "attested:CI/Merge-Bot");
}

#[test]
fn a_signed_merge_pushed_past_the_gate_still_answers_for_its_failure() {
    let w = World::new("window_hours = 0");
    let keys = w.env.path().join("ssh");
    std::fs::create_dir_all(&keys).unwrap();
    let mallory = SshKey::new(&keys, "mallory");
    let k = mallory.public.to_str().unwrap();
    w.ok(&[
        "keys",
        "add",
        k,
        "--git-signer",
        "--identity",
        "mallory@example.org",
    ]);
    // Two merge commits mallory signs and pushes to main herself, as "alice".
    for (i, status) in [(0, "succeeded"), (1, "failed")] {
        let b = format!("p{i}");
        w.branch("alice", &b, &format!("src/p{i}.rs"));
        git(&w.repo, "alice", &["checkout", "-q", "main"]);
        git(
            &w.repo,
            "alice",
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("user.signingkey={}", mallory.private.display()),
                "merge",
                "-q",
                "--no-ff",
                "-S",
                "-m",
                &b,
                &b,
            ],
        );
        git(&w.repo, "alice", &["checkout", "-q", "scratch"]);
        let d = w.deploy(&format!("v{i}"), status);
        let (_, e, _) = w.ledger(&["show", &d["seq"].as_u64().unwrap().to_string()]);
        assert_eq!(
            e["body"]["merges"][0]["author"], "mallory@example.org",
            "{e}"
        );
    }
    // Her success earns nothing (not gated); her failure counts against her, not alice.
    let s = w.score("mallory@example.org");
    assert_eq!(s["breakdown"]["successes"], 0, "{s}");
    assert_eq!(s["breakdown"]["failures"], 1, "{s}");
    assert_eq!(s["breakdown"]["ungated"], 1, "{s}");
    assert_eq!(w.score("alice")["known"], false);
}
