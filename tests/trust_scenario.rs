//! Trust scenario on a real git repository: three authors, twelve gated merges, deploys to two
//! environments with one failed deploy and one rollback; scores checked against hand-computed
//! values, gates allowing and denying as the policy says, merge previews that never touch the
//! repository, and bad input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_ledger");

/// Panics unless `v` matches `schemas/output/<name>.schema.json`.
fn assert_schema(name: &str, v: &Value) {
    assert_schema_file(&format!("output/{name}"), v);
}

/// Panics unless `v` matches `schemas/<name>.schema.json`.
fn assert_schema_file(name: &str, v: &Value) {
    let validator = common::schema_validator(&format!("{name}.schema.json"));
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{v}");
}

struct Env {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    audit: PathBuf,
}

fn git(repo: &Path, author: &str, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            &format!("user.name={author}"),
            "-c",
            &format!("user.email={author}@example.org"),
            "-c",
            "init.defaultBranch=main",
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

/// The client state home of this test's runs (beside the ledger, one per test).
fn state_home(env: &Env) -> std::path::PathBuf {
    env.audit.parent().unwrap().join("state")
}

/// The trust cache: in the ledger's client state directory, not in the ledger directory.
fn trust_cache(env: &Env) -> std::path::PathBuf {
    let base = state_home(env).join("ledger");
    let origin = std::fs::read_dir(&base)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let dir = std::fs::read_dir(origin)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    dir.join("trust.cache")
}

/// Run `ledger --dir AUDIT --json ARGS`: (exit code, parsed stdout, stderr).
fn ledger(env: &Env, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(BIN)
        .arg("--dir")
        .arg(&env.audit)
        .arg("--json")
        .args(args)
        .env_remove("LEDGER_SIGNING_KEY")
        .env_remove("LEDGER_STATE")
        .env("XDG_STATE_HOME", state_home(env))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let v = serde_json::from_str(stdout.lines().last().unwrap_or("null")).unwrap_or(Value::Null);
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn ok(env: &Env, args: &[&str]) -> Value {
    let (code, v, err) = ledger(env, args);
    assert_eq!(code, 0, "ledger {args:?}: {v} {err}");
    v
}

fn setup() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, "init", &["init", "-q"]);
    std::fs::write(repo.join("README.md"), "app\n").unwrap();
    std::fs::write(repo.join("shared.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n").unwrap();
    git(&repo, "init", &["add", "."]);
    git(&repo, "init", &["commit", "-q", "-m", "initial"]);
    // Work happens on feature branches; `main` is never checked out, so merges may update it.
    git(&repo, "init", &["checkout", "-q", "-b", "scratch"]);
    let audit = tmp.path().join("audit");
    let env = Env {
        _tmp: tmp,
        repo,
        audit,
    };
    ok(&env, &["init", "--origin", "test.example/app"]);
    // These scenarios check the score arithmetic, which lets new authors through on the prior;
    // the fail-closed default (an approval for unproven authors) has its own test.
    set_policy(&env, "");
    env
}

fn set_policy(env: &Env, policy: &str) {
    let path = env.audit.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let base = text.split("\n[trust]").next().unwrap().to_string();
    // The policy is written with table names relative to [trust].
    let policy = policy
        .replace("[default]", "[trust.default]")
        .replace("[[gates]]", "[[trust.gates]]");
    let mut opt_out = String::new();
    if !policy.contains("prior_alone") {
        opt_out.push_str("prior_alone = true\n");
    }
    // The scenarios record most merges with `append merge`, not through the gate: under the
    // default (count_ungated = false) such merges earn nothing, so these tests of the score
    // arithmetic opt in to wave 1's rule. tests/gaming.rs pins the default.
    if !policy.contains("count_ungated") {
        opt_out.push_str("count_ungated = true\n");
    }
    // Likewise their authors are named by hand (unsigned commits, no attestor): the default
    // (allow_unverified = false) denies every recorded decision; tests/gaming.rs pins it.
    if !policy.contains("allow_unverified") {
        opt_out.push_str("allow_unverified = true\n");
    }
    std::fs::write(&path, format!("{base}\n[trust]\n{opt_out}{policy}")).unwrap();
}

/// A feature branch from the initial commit adding `path`, by `author`.
fn feature(env: &Env, name: &str, author: &str, path: &str) {
    git(&env.repo, author, &["checkout", "-q", "-b", name, "main~0"]);
    let full = env.repo.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, format!("{name} by {author}\n")).unwrap();
    git(&env.repo, author, &["add", "."]);
    git(&env.repo, author, &["commit", "-q", "-m", name]);
    git(&env.repo, author, &["checkout", "-q", "scratch"]);
}

fn merge(env: &Env, branch: &str) -> Value {
    let repo = env.repo.to_str().unwrap();
    let v = ok(
        env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            branch,
            "--target",
            "main",
            "--execute",
        ],
    );
    assert_eq!(v["decision"], "allow");
    v
}

fn deploy(env: &Env, envname: &str, version: &str, status: &str) -> Value {
    let tip = git(&env.repo, "ci", &["rev-parse", "main"]);
    let repo = env.repo.to_str().unwrap();
    ok(
        env,
        &[
            "append",
            "deploy",
            "--actor",
            "ci",
            "--env",
            envname,
            "--version",
            version,
            "--commit",
            &tip,
            "--status",
            status,
            "--repo",
            repo,
            "--strategy",
            "rolling",
        ],
    )
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect()
}

fn rfc3339_in(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339()
}

fn score(env: &Env, actor: &str, extra: &[&str]) -> Value {
    let mut args = vec!["trust", "score", "--actor", actor];
    args.extend_from_slice(extra);
    let v = ok(env, &args);
    assert_schema("trust-score", &v);
    v
}

/// `trust gate`; with `--at` in `extra`, a query (`--dry-run`): a decision that is recorded is
/// made at the present time.
fn gate(env: &Env, actor: &str, paths: &[&str], extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["trust", "gate", "--actor", actor];
    args.extend_from_slice(extra);
    if extra.contains(&"--at") {
        args.push("--dry-run");
    }
    args.push("--paths");
    args.extend_from_slice(paths);
    let (code, v, err) = ledger(env, &args);
    assert!(code == 0 || code == 1, "{v} {err}");
    assert_schema("trust-gate", &v);
    assert_eq!(v["ok"], code == 0);
    (code, v)
}

#[test]
fn three_authors_twelve_merges_two_envs() {
    let env = setup();
    // Phase 1: every merge is allowed (we are building history).
    set_policy(
        &env,
        "window_hours = 1\nhalf_life_days = 100000\n[default]\nmin_score = 0.0\n",
    );
    let plan: [(&str, &str, &str); 12] = [
        ("f1", "alice", "src/a1.rs"),
        ("f2", "bob", "src/b1.rs"),
        ("f3", "carol", "db/c1.sql"),
        ("f4", "alice", "src/a2.rs"),
        ("f5", "alice", "src/a3.rs"),
        ("f6", "bob", "src/b2.rs"),
        ("f7", "carol", "db/c2.sql"),
        ("f8", "bob", "src/b3.rs"),
        ("f9", "alice", "src/a4.rs"),
        ("f10", "carol", "src/c3.rs"),
        ("f11", "alice", "src/a5.rs"),
        ("f12", "bob", "src/b4.rs"),
    ];
    for (name, author, path) in plan {
        feature(&env, name, author, path);
    }
    let mut merge_commit: BTreeMap<String, String> = BTreeMap::new();
    let do_merges = |range: std::ops::Range<usize>, mc: &mut BTreeMap<String, String>| {
        for (name, _, _) in &plan[range] {
            let v = merge(&env, name);
            mc.insert(
                name.to_string(),
                v["merge_commit"].as_str().unwrap().to_string(),
            );
        }
    };
    do_merges(0..4, &mut merge_commit);
    let d1 = deploy(&env, "staging", "v1", "succeeded");
    assert_eq!(d1["body"]["merges"].as_array().unwrap().len(), 4);
    assert!(d1["body"].get("previous_commit").is_none());
    let d2 = deploy(&env, "production", "v1", "succeeded");
    assert_eq!(d2["body"]["merges"].as_array().unwrap().len(), 4);
    do_merges(4..7, &mut merge_commit);
    let d3 = deploy(&env, "staging", "v2", "failed");
    assert_eq!(d3["body"]["previous_commit"], d1["body"]["commit"]);
    assert_eq!(d3["body"]["merges"].as_array().unwrap().len(), 3);
    do_merges(7..8, &mut merge_commit);
    let d4 = deploy(&env, "staging", "v3", "succeeded");
    // The failed deploy is not a "previous successful deploy": v3 ships f5..f8 relative to v1.
    assert_eq!(d4["body"]["previous_commit"], d1["body"]["commit"]);
    assert_eq!(d4["body"]["merges"].as_array().unwrap().len(), 4);
    let d5 = deploy(&env, "production", "v3", "succeeded");
    assert_eq!(d5["body"]["previous_seq"], d2["seq"]);
    let m8 = &d5["body"]["merges"].as_array().unwrap()[0];
    assert_eq!(m8["merge_commit"].as_str().unwrap(), merge_commit["f8"]);
    assert_eq!(m8["author"], "bob");
    assert!(
        m8["seq"].as_u64().is_some(),
        "the merge entry's seq is recorded"
    );
    assert!(d5["body"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["time"].as_str().unwrap().ends_with('Z')));
    assert_eq!(d5["body"]["strategy"], "rolling");
    let rb = ok(
        &env,
        &[
            "append",
            "rollback",
            "--actor",
            "oncall",
            "--env",
            "production",
            "--from-version",
            "v3",
            "--to-version",
            "v1",
            "--trigger",
            "error-rate",
            "--undoes",
            "v3",
            "--trigger-type",
            "auto",
            "--reason",
            "5xx spike",
        ],
    );
    assert_eq!(rb["body"]["undoes_seq"], d5["seq"]);
    assert_eq!(rb["body"]["trigger_type"], "auto");
    assert_eq!(rb["body"]["reason"], "5xx spike");
    assert_schema_file("body/rollback", &rb["body"]);
    assert_schema_file("body/deploy", &d5["body"]);
    do_merges(8..12, &mut merge_commit);
    let d6 = deploy(&env, "staging", "v4", "succeeded");
    let d7 = deploy(&env, "production", "v4", "succeeded");
    // Relative to v3 (succeeded, later rolled back) production v4 ships f9..f12.
    assert_eq!(d7["body"]["previous_commit"], d5["body"]["commit"]);
    assert_eq!(d7["body"]["merges"].as_array().unwrap().len(), 4);

    // Phase 2: the real policy. Half-life 100000 days makes every weight 1 (to 1e-8), so the
    // scores are plain Beta means; the window is 1 hour.
    set_policy(
        &env,
        r#"half_life_days = 100000
window_hours = 1
prior_successes = 1
prior_failures = 1
[default]
min_score = 0.6
min_history = 3
[[gates]]
name = "auth"
paths = ["auth/**"]
min_score = 0.5
approvals = 1
[[gates]]
name = "db"
paths = ["db/**"]
min_score = 0.55
scope = "paths"
"#,
    );
    // Now (inside the 1 h window): only failures are known. f5 (alice) failed in staging v2;
    // f6, f7 too; f8 (bob) shipped in production v3, rolled back at once. Everything else is
    // pending. alice: (1 + 0) / (2 + 0 + 1) = 1/3 → 333 ‰.
    let a = score(&env, "alice", &[]);
    assert_eq!(a["breakdown"]["successes"], 0);
    assert_eq!(a["breakdown"]["failures"], 1);
    assert_eq!(a["breakdown"]["pending"], 4);
    assert_eq!(a["score_permille"], 333);

    // Two hours later every shipped merge is out of the window.
    // alice: f1 f4 f9 f11 succeed, f5 failed          → (1 + 4) / (2 + 5) = 5/7 = 0.714 → 714
    // bob:   f2 f12 succeed, f6 failed, f8 rolled back → (1 + 2) / (2 + 4) = 3/6 = 0.5   → 500
    // carol: f3 f10 succeed, f7 failed                 → (1 + 2) / (2 + 3) = 3/5 = 0.6   → 600
    // carol, db scope (f3, f7 touched db/**)           → (1 + 1) / (2 + 2) = 2/4 = 0.5   → 500
    // dave:  no merges → the prior mean 1/2                                              → 500
    let at = rfc3339_in(2);
    let at2 = ["--at", at.as_str()];
    let expect = [
        ("alice", 714, 4, 1),
        ("bob", 500, 2, 2),
        ("carol", 600, 2, 1),
        ("dave", 500, 0, 0),
    ];
    for (who, pm, s, f) in expect {
        let v = score(&env, who, &at2);
        assert_eq!(v["score_permille"], pm, "{who}: {v}");
        assert_eq!(v["breakdown"]["successes"], s, "{who}");
        assert_eq!(v["breakdown"]["failures"], f, "{who}");
        assert_eq!(v["breakdown"]["success_weight_permille"], s * 1000, "{who}");
        assert_eq!(v["known"], who != "dave");
    }
    let b = score(&env, "bob", &at2);
    let newest: Vec<u64> = b["breakdown"]["newest_evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    // f12's evidence is its first successful deploy (staging v4), the newest of bob's.
    assert_eq!(
        newest[0],
        d6["seq"].as_u64().unwrap(),
        "newest evidence of bob is staging v4"
    );
    assert!(
        newest.contains(&rb["seq"].as_u64().unwrap()),
        "the rollback is evidence"
    );
    let c = score(&env, "carol", &["--at", at.as_str(), "--scope", "db"]);
    assert_eq!(c["score_permille"], 500);
    let dave = Command::new(BIN)
        .arg("--dir")
        .arg(&env.audit)
        .args(["trust", "score", "--actor", "dave"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&dave.stdout).contains("no recorded merges: this is the prior"));
    let summary = ok(&env, &["trust", "summary", "--at", at.as_str()]);
    assert_eq!(summary["actors"].as_array().unwrap().len(), 3);
    assert_schema("trust-summary", &summary);

    // Gates (2 h later).
    let (code, v) = gate(&env, "alice", &["src/new.rs"], &at2);
    assert_eq!((code, v["decision"].as_str().unwrap()), (0, "allow"), "{v}");
    let (code, v) = gate(&env, "bob", &["src/new.rs"], &at2);
    assert_eq!(code, 1);
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("score 0.500 is below 0.600"),
        "{v}"
    );
    let (code, _) = gate(&env, "carol", &["src/new.rs"], &at2);
    assert_eq!(code, 0, "carol's overall 0.600 meets the default gate");
    let (code, v) = gate(&env, "carol", &["db/new.sql"], &at2);
    assert_eq!(code, 1, "carol's db-scoped 0.500 is below 0.550: {v}");
    assert_eq!(v["gate"], "db");
    let (code, v) = gate(&env, "dave", &["src/new.rs"], &at2);
    assert_eq!(code, 1);
    let reasons = v["reasons"].to_string();
    assert!(
        reasons.contains("no recorded merges: scored with the prior 0.500"),
        "{reasons}"
    );
    assert!(reasons.contains("history 0 merge(s)"), "{reasons}");
    // A protected path needs a recorded approval by someone else.
    let (code, v) = gate(
        &env,
        "alice",
        &["auth/login.rs", "src/x.rs"],
        &["--at", at.as_str(), "--subject", "PR-7"],
    );
    assert_eq!(code, 1);
    // Approvals name the change: here its change id (author and paths), as the gate prints it.
    let change = v["change"].as_str().unwrap().to_string();
    assert!(change.starts_with("change:alice:"), "{change}");
    assert!(
        v["reasons"]
            .to_string()
            .contains("needs 1 recorded approval(s)"),
        "{v}"
    );
    // Approvals count by the identity of the key that signed them: alice's key (the root,
    // self-signed) and bob's key, each bound to its identity.
    let keys = env.audit.parent().unwrap().to_path_buf();
    let key = |name: &str| {
        keys.join(format!("{name}.key"))
            .to_str()
            .unwrap()
            .to_string()
    };
    for name in ["alice", "bob"] {
        ok(&env, &["keygen", "--name", name, "--out", &key(name)]);
    }
    for name in ["alice", "bob"] {
        let pubp = format!("{}.pub", key(name));
        ok(
            &env,
            &[
                "--key",
                &key("alice"),
                "keys",
                "add",
                &pubp,
                "--identity",
                name,
            ],
        );
    }
    let approve = |who: &str, signer: Option<&str>| {
        let mut args = vec![];
        let k;
        if let Some(s) = signer {
            k = key(s);
            args.extend(["--key", k.as_str()]);
        }
        args.extend([
            "append",
            "approval",
            "--actor",
            who,
            "--subject",
            "PR-7",
            "--change",
            &change,
            "--decision",
            "allow",
            "--reason",
            "ok",
        ]);
        ok(&env, &args);
    };
    // The author's own key, and an unsigned approval under another free-text actor: neither
    // is a second person.
    approve("alice", Some("alice"));
    approve("carol", None);
    approve("dave", Some("alice"));
    let (code, _) = gate(
        &env,
        "alice",
        &["auth/login.rs", "src/x.rs"],
        &["--at", &rfc3339_in(2), "--subject", "PR-7"],
    );
    assert_eq!(code, 1, "an author's own approval does not count");
    approve("bob", Some("bob"));
    let (code, v) = gate(
        &env,
        "alice",
        &["auth/login.rs", "src/x.rs"],
        &["--at", &rfc3339_in(2), "--subject", "PR-7"],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["gates"][0]["approvers"][0], "bob");
    assert_eq!(v["gate"], "auth");
    assert_eq!(v["gates"][0]["score_permille"], 714);
    assert_eq!(v["gates"][0]["breakdown"]["successes"], 4);
    assert_eq!(
        v["recorded"], false,
        "a query at another time records nothing"
    );
    // Recording a decision as of another time is refused (no time travel), nothing written.
    let before = std::fs::read(env.audit.join("ledger.jsonl")).unwrap();
    let later = rfc3339_in(2);
    let (code, _, err) = ledger(
        &env,
        &[
            "trust",
            "gate",
            "--actor",
            "alice",
            "--paths",
            "auth/login.rs",
            "--subject",
            "PR-7",
            "--at",
            &later,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--dry-run"), "{err}");
    assert_eq!(
        std::fs::read(env.audit.join("ledger.jsonl")).unwrap(),
        before
    );
    // Recorded now, the decision is an approval entry with the evidence it used (at the
    // present time f5's failed deploy counts, the other four are inside the one-hour window).
    let (_, v) = gate(
        &env,
        "alice",
        &["auth/login.rs", "src/x.rs"],
        &["--subject", "PR-7"],
    );
    let (_, last, _) = ledger(&env, &["log", "--kind", "approval", "--limit", "1"]);
    assert_eq!(last["seq"], v["approval_seq"]);
    assert_eq!(last["actor"], "ledger/trust-gate");
    assert_eq!(last["body"]["decision"], v["decision"]);
    assert_eq!(last["body"]["actor"], "alice");
    assert_eq!(last["body"]["gate"], v["gate"]);
    assert_eq!(last["body"]["breakdown"]["successes"], 0);
    assert_eq!(last["body"]["breakdown"]["failures"], 1);
    assert_eq!(last["body"]["breakdown"]["pending"], 4);
    assert_schema_file("body/approval", &last["body"]);

    // Decay: with a 10-day half-life, 10 days on every weight is ≈ 0.5 (the entries are
    // seconds apart): alice → (1 + 4·0.5) / (2 + 5·0.5) = 3 / 4.5 = 0.667 → 667.
    let p = std::fs::read_to_string(env.audit.join("config.toml"))
        .unwrap()
        .replace("half_life_days = 100000", "half_life_days = 10");
    std::fs::write(env.audit.join("config.toml"), p).unwrap();
    let v = score(&env, "alice", &["--at", &rfc3339_in(240)]);
    assert_eq!(v["score_permille"], 667, "{v}");
    assert_eq!(v["breakdown"]["success_weight_permille"], 2000);
    // The last gate appended its approval entry after loading: the cache is extended (small
    // extensions are folded on each run, not saved).
    assert_eq!(
        v["cache"], "extended",
        "the half-life does not invalidate the cached facts"
    );

    // The cache is never trusted over the ledger: a deleted or damaged cache gives the same.
    let cache = trust_cache(&env);
    let mut bytes = std::fs::read(&cache).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    std::fs::write(&cache, bytes).unwrap();
    let v2 = score(&env, "alice", &["--at", &rfc3339_in(240)]);
    assert_eq!(v2["cache"], "cold");
    assert_eq!(v2["score_permille"], 667);
    // The cold fold saved the cache: the next run uses it as is.
    let again = score(&env, "alice", &["--at", &rfc3339_in(240)]);
    assert_eq!(
        (again["cache"].as_str(), again["score_permille"].as_i64()),
        (Some("warm"), Some(667))
    );
    // And ledger verification still passes after all of the above.
    ok(&env, &["verify"]);
}

fn policy_default(env: &Env, min: &str) {
    set_policy(
        env,
        &format!("window_hours = 0\n[default]\nmin_score = {min}\n"),
    );
}

#[test]
fn merge_previews_conflicts_archive_and_execute() {
    let env = setup();
    policy_default(&env, "0.0");
    let repo = env.repo.to_str().unwrap();
    // Two branches that edit the same line of shared.txt differently: the second conflicts.
    for (b, who, text) in [
        ("x", "alice", "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\n"),
        ("y", "bob", "1\nY\n3\n4\n5\n6\n7\n8\n9\n10\n"),
    ] {
        git(&env.repo, who, &["checkout", "-q", "-b", b, "main"]);
        std::fs::write(env.repo.join("shared.txt"), text).unwrap();
        git(&env.repo, who, &["commit", "-q", "-am", b]);
        git(&env.repo, who, &["checkout", "-q", "scratch"]);
    }
    let main0 = git(&env.repo, "t", &["rev-parse", "main"]);
    // x is a fast-forward of main.
    let v = ok(
        &env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            "x",
            "--target",
            "main",
            "--execute",
        ],
    );
    let x = git(&env.repo, "t", &["rev-parse", "x"]);
    assert_eq!(v["fast_forward"], true);
    assert_eq!(git(&env.repo, "t", &["rev-parse", "main"]), x);
    assert_eq!(v["merge_commit"], x.as_str());
    // The archived diff's sha256 is the one in the approval entry and in the file name.
    let digest = v["diff_sha256"].as_str().unwrap();
    let diff = std::fs::read(env.audit.join("merges").join(format!("{digest}.diff"))).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&diff)), digest);
    assert!(
        String::from_utf8_lossy(&diff).contains("-2\n+X\n"),
        "unified diff: {}",
        String::from_utf8_lossy(&diff)
    );
    let (_, approval, _) = ledger(&env, &["show", &v["approval_seq"].to_string()]);
    assert_eq!(approval["body"]["diff_sha256"], digest);
    assert_eq!(approval["body"]["paths"][0], "shared.txt");
    let (_, merge_entry, _) = ledger(&env, &["show", &v["merge_seq"].to_string()]);
    assert_eq!(merge_entry["kind"], "merge");
    assert_schema_file("body/merge", &merge_entry["body"]);
    assert_eq!(merge_entry["body"]["author"], "alice");
    assert_eq!(merge_entry["body"]["target_commit"], main0.as_str());
    assert_eq!(merge_entry["body"]["merge_commit"], x.as_str());

    // y now conflicts with main: denied, naming the file, and the repository is untouched.
    let before = snapshot(&env.repo);
    let (code, v, _) = ledger(
        &env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            "y",
            "--target",
            "main",
            "--execute",
        ],
    );
    assert_eq!(code, 1);
    assert_schema("merge", &v);
    assert_eq!(v["conflicts"][0], "shared.txt");
    assert!(v["reasons"][0]
        .as_str()
        .unwrap()
        .contains("merge conflicts in: shared.txt"));
    assert_eq!(
        snapshot(&env.repo),
        before,
        "a denied merge leaves the repository byte-identical"
    );

    // A clean three-way merge (both sides edit shared.txt, far apart): the preview creates a
    // merged blob, which must not reach the repository when the gate denies.
    git(
        &env.repo,
        "carol",
        &["checkout", "-q", "-b", "z", main0.as_str()],
    );
    std::fs::write(
        env.repo.join("shared.txt"),
        "1\n2\n3\n4\n5\n6\n7\n8\n9\nZ\n",
    )
    .unwrap();
    git(&env.repo, "carol", &["commit", "-q", "-am", "z"]);
    git(&env.repo, "carol", &["checkout", "-q", "scratch"]);
    policy_default(&env, "0.9");
    let before = snapshot(&env.repo);
    let (code, v, _) = ledger(
        &env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            "z",
            "--target",
            "main",
            "--execute",
        ],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["fast_forward"], false);
    assert_eq!(
        snapshot(&env.repo),
        before,
        "a denied merge leaves the repository byte-identical"
    );
    // `trust gate --repo` computes the paths the same way and never writes to the repository.
    let (code, v, _) = ledger(
        &env,
        &[
            "trust", "gate", "--actor", "carol", "--repo", repo, "--source", "z", "--target",
            "main",
        ],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["paths"][0], "shared.txt");
    assert!(v["subject"].as_str().unwrap().starts_with("merge:"));
    assert_eq!(snapshot(&env.repo), before);
    // Allowed, the same merge creates a two-parent commit on main with both edits.
    policy_default(&env, "0.0");
    let v = ok(
        &env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            "z",
            "--target",
            "main",
            "--execute",
        ],
    );
    let tip = git(&env.repo, "t", &["rev-parse", "main"]);
    assert_eq!(v["merge_commit"], tip.as_str());
    let parents = git(&env.repo, "t", &["log", "-1", "--format=%P", "main"]);
    assert_eq!(
        parents,
        format!("{x} {}", git(&env.repo, "t", &["rev-parse", "z"]))
    );
    assert_eq!(
        git(&env.repo, "t", &["show", "main:shared.txt"]),
        "1\nX\n3\n4\n5\n6\n7\n8\n9\nZ"
    );
    // Without --execute nothing moves.
    let (code, v, _) = ledger(
        &env,
        &["merge", "--repo", repo, "--source", "z", "--target", "main"],
    );
    assert_eq!((code, v["up_to_date"].as_bool()), (0, Some(true)));
}

#[test]
fn bad_input_has_clear_messages_and_exit_codes() {
    let env = setup();
    policy_default(&env, "0.5");
    let repo = env.repo.to_str().unwrap();
    let (code, _, err) = ledger(
        &env,
        &[
            "merge", "--repo", repo, "--source", "nope", "--target", "main",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown ref `nope`"), "{err}");
    let not_repo = env.audit.to_str().unwrap();
    let (code, _, err) = ledger(
        &env,
        &[
            "merge", "--repo", not_repo, "--source", "a", "--target", "main",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not a git repository"), "{err}");
    let (code, _, err) = ledger(
        &env,
        &[
            "trust", "gate", "--actor", "a", "--repo", repo, "--source", "main", "--target", "nope",
        ],
    );
    assert_eq!(code, 2, "{err}");
    // The checked-out branch is refused for --execute (work trees are never touched).
    feature(&env, "w", "alice", "w.txt");
    let (code, _, err) = ledger(
        &env,
        &[
            "merge",
            "--repo",
            repo,
            "--source",
            "w",
            "--target",
            "scratch",
            "--execute",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("checked out"), "{err}");
    // Unknown actor: the prior, exit 0, and said so.
    let v = score(&env, "nobody", &[]);
    assert_eq!(
        (v["known"].as_bool(), v["score_permille"].as_i64()),
        (Some(false), Some(500))
    );
    // Invalid policies: exit 2 naming the field.
    for (policy, needle) in [
        ("half_life_days = -1\n", "[trust] half_life_days"),
        (
            "[[gates]]\npaths = [\"src/[\"]\n",
            "gates[0].paths[0]: invalid glob",
        ),
        (
            "[[gates]]\npaths = [\"src/**\"]\nmin_score = 2\n",
            "gates[0].min_score",
        ),
        ("frobnicate = true\n", "unknown field"),
    ] {
        set_policy(&env, policy);
        let (code, _, err) = ledger(&env, &["trust", "gate", "--actor", "a", "--paths", "src/x"]);
        assert_eq!(code, 2, "{policy}");
        assert!(
            err.contains("config.toml") && err.contains(needle),
            "{policy}: {err}"
        );
    }
    policy_default(&env, "0.5");
    // Rollback of a deploy that does not exist.
    let (code, _, err) = ledger(
        &env,
        &[
            "append",
            "rollback",
            "--actor",
            "o",
            "--env",
            "p",
            "--from-version",
            "v9",
            "--to-version",
            "v8",
            "--trigger",
            "t",
            "--undoes",
            "42",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--undoes: 42"), "{err}");
    let (code, _, err) = ledger(
        &env,
        &[
            "append",
            "deploy",
            "--actor",
            "ci",
            "--env",
            "p",
            "--version",
            "1",
            "--commit",
            "nope",
            "--status",
            "succeeded",
            "--repo",
            repo,
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown ref `nope`"), "{err}");
    let (code, _, err) = ledger(
        &env,
        &[
            "append",
            "deploy",
            "--actor",
            "ci",
            "--env",
            "p",
            "--version",
            "1",
            "--commit",
            "c",
            "--status",
            "succeeded",
            "--strategy",
            "yolo",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("body.strategy"), "{err}");
}
