//! `ledger drill rollback` on real git repositories in temporary directories: pass, fail,
//! timeout, interrupt, bad revision and `--to last-good`. After every run the worktree and its
//! admin files are gone, `git worktree list` shows only the main tree, and the user's working
//! tree is untouched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_ledger");

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    dir: PathBuf,
    /// Commits, oldest first: `f` contains "1", then "2".
    commits: Vec<String>,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for n in ["1", "2"] {
        std::fs::write(repo.join("f"), format!("{n}\n")).unwrap();
        git(&repo, &["add", "f"]);
        git(&repo, &["commit", "-q", "-m", n]);
        commits.push(git(&repo, &["rev-parse", "HEAD"]).trim().to_string());
    }
    // An uncommitted change the drill must not touch.
    std::fs::write(repo.join("local"), "mine\n").unwrap();
    let dir = tmp.path().join("audit");
    let out = ledger(&dir, &["init", "--origin", "test.example/drill"]);
    assert!(out.status.success());
    Fixture {
        _tmp: tmp,
        repo,
        dir,
        commits,
    }
}

fn ledger(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("LEDGER_SIGNING_KEY")
        .env_remove("LEDGER_DIR")
        .output()
        .unwrap()
}

fn drill(f: &Fixture, extra: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "drill",
        "rollback",
        "--repo",
        f.repo.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ledger(&f.dir, &args)
}

fn entries(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The repository is as the user left it: one worktree, one branch, HEAD and files unchanged.
fn assert_clean(f: &Fixture) {
    let list = git(&f.repo, &["worktree", "list", "--porcelain"]);
    assert_eq!(
        list.matches("worktree ").count(),
        1,
        "git worktree list: {list}"
    );
    let wt_admin = f.repo.join(".git/worktrees");
    assert!(
        !wt_admin.exists() || std::fs::read_dir(&wt_admin).unwrap().next().is_none(),
        "admin files left in {}",
        wt_admin.display()
    );
    assert_eq!(
        git(&f.repo, &["branch", "--format=%(refname)"]).trim(),
        "refs/heads/main"
    );
    assert_eq!(git(&f.repo, &["rev-parse", "HEAD"]).trim(), f.commits[1]);
    assert_eq!(git(&f.repo, &["status", "--porcelain"]).trim(), "?? local");
    assert_eq!(std::fs::read_to_string(f.repo.join("f")).unwrap(), "2\n");
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(name),
    )
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Check the report file against its schema and the entry's digest; return the report.
fn check_report(f: &Fixture, out: &Output) -> (Value, Value) {
    let res: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert!(schema("output/drill.schema.json").is_valid(&res), "{res}");
    let es = entries(&f.dir);
    let e = es.last().unwrap();
    assert_eq!(e["kind"], "drill");
    let body = &e["body"];
    let path = f.dir.join(body["report"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        body["report_sha256"].as_str().unwrap()
    );
    assert_eq!(res["report_sha256"], body["report_sha256"]);
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let report: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        name.ends_with(&format!(
            "-{}.json",
            &report["commit"].as_str().unwrap()[..12]
        )),
        "{name}"
    );
    assert!(
        schema("drill-report.schema.json").is_valid(&report),
        "{report}"
    );
    // The file is canonical JSON plus a newline.
    let mut canon = audit_ledger::canonical::encode(&report).unwrap();
    canon.push(b'\n');
    assert_eq!(canon, bytes);
    assert_eq!(body["outcome"], report["outcome"]);
    assert_eq!(body["duration_ms"], report["duration_ms"]);
    assert_eq!(body["target"], report["commit"]);
    (report, body.clone())
}

#[test]
fn passing_check_runs_outside_the_working_tree() {
    let f = fixture();
    // The check sees the old content, and runs in a directory outside the repository.
    let out = drill(
        &f,
        &[
            "--to",
            "HEAD~1",
            "--check",
            "test \"$(cat f)\" = 1 && pwd && echo \"$LEDGER_DRILL_COMMIT\"",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (report, body) = check_report(&f, &out);
    assert_eq!(report["outcome"], "pass");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["commit"], f.commits[0].as_str());
    assert_eq!(report["rev"], "HEAD~1");
    let tail = report["output_tail"].as_str().unwrap();
    let wt_dir = tail.lines().next().unwrap();
    assert!(
        !Path::new(wt_dir).starts_with(&f.repo),
        "worktree {wt_dir} inside the repo"
    );
    assert!(
        !Path::new(wt_dir).exists(),
        "worktree directory {wt_dir} left behind"
    );
    assert_eq!(tail.lines().nth(1), Some(f.commits[0].as_str()));
    assert_eq!(
        report["output_sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(tail.as_bytes()))
    );
    assert_eq!(body["rev"], "HEAD~1");
    assert_clean(&f);
}

#[test]
fn failing_check_is_recorded_and_exits_1() {
    let f = fixture();
    let out = drill(
        &f,
        &[
            "--to",
            &f.commits[1][..10],
            "--check",
            "echo broken >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (report, body) = check_report(&f, &out);
    assert_eq!(report["outcome"], "fail");
    assert_eq!(report["exit_code"], 3);
    assert_eq!(report["output_tail"], "broken\n");
    assert_eq!(body["exit_code"], 3);
    assert_clean(&f);

    // A check killed by a signal (here its own SIGTERM) fails too, with the signal recorded.
    let out = drill(&f, &["--to", "HEAD", "--check", "kill -TERM $$; sleep 5"]);
    assert_eq!(out.status.code(), Some(1));
    let (report, body) = check_report(&f, &out);
    assert_eq!(report["outcome"], "fail");
    assert_eq!(report["exit_code"], Value::Null);
    assert_eq!(report["signal"], 15);
    assert!(body.get("exit_code").is_none());
    assert_eq!(entries(&f.dir).len(), 2);
    assert_clean(&f);
}

fn alive(pid: &str) -> bool {
    // A zombie waiting for its new parent to reap it is dead for our purpose.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let f = fixture();
    let pidfile = f.dir.parent().unwrap().join("bg.pid");
    let check = format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display());
    let t0 = Instant::now();
    let out = drill(&f, &["--to", "HEAD", "--check", &check, "--timeout", "1"]);
    assert!(t0.elapsed() < Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (report, _) = check_report(&f, &out);
    assert_eq!(report["outcome"], "timeout");
    assert_eq!(report["exit_code"], Value::Null);
    assert!(report["duration_ms"].as_u64().unwrap() >= 1000);
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid.trim()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !alive(pid.trim()),
        "background child {pid} survived the timeout"
    );
    assert_clean(&f);
}

#[test]
fn bad_revision_exits_2_and_appends_nothing() {
    let f = fixture();
    for rev in [
        "no-such-branch",
        "0000000000000000000000000000000000000000",
        "HEAD~9",
        "HEAD:f",
    ] {
        let out = drill(&f, &["--to", rev, "--check", "true"]);
        assert_eq!(out.status.code(), Some(2), "{rev}");
        let err: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(err["ok"], false);
        // The library names the revision; the `--to` flag is the CLI's to add.
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("`{rev}`")),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // last-good without --env, and with an env that has no deploys.
    assert_eq!(
        drill(&f, &["--to", "last-good", "--check", "true"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        drill(
            &f,
            &["--to", "last-good", "--env", "prod", "--check", "true"]
        )
        .status
        .code(),
        Some(2)
    );
    // A repository that does not exist.
    let out = ledger(
        &f.dir,
        &[
            "drill",
            "rollback",
            "--repo",
            "/nonexistent/repo",
            "--to",
            "HEAD",
            "--check",
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(f.dir.join("ledger.jsonl")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_dir(f.dir.join("rollbacks")).unwrap().count(),
        0
    );
    assert_clean(&f);
}

#[test]
fn interrupt_removes_the_worktree_and_records_nothing() {
    let f = fixture();
    let child = Command::new(BIN)
        .arg("--dir")
        .arg(&f.dir)
        .args([
            "drill",
            "rollback",
            "--repo",
            f.repo.to_str().unwrap(),
            "--to",
            "HEAD~1",
            "--check",
            "sleep 300",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the worktree exists, then send SIGINT as a terminal's Ctrl-C would.
    let deadline = Instant::now() + Duration::from_secs(30);
    while git(&f.repo, &["worktree", "list"]).lines().count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the drill never created its worktree"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(
        std::fs::read_to_string(f.dir.join("ledger.jsonl")).unwrap(),
        ""
    );
    assert_eq!(
        std::fs::read_dir(f.dir.join("rollbacks")).unwrap().count(),
        0
    );
    assert_clean(&f);
}

#[test]
fn last_good_resolves_from_the_ledger() {
    let f = fixture();
    let deploy = |version: &str, commit: &str, status: &str| {
        let out = ledger(
            &f.dir,
            &[
                "append",
                "deploy",
                "--actor",
                "ci",
                "--env",
                "prod",
                "--version",
                version,
                "--commit",
                commit,
                "--status",
                status,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    deploy("v1", &f.commits[0], "succeeded"); // seq 0
    deploy("v2", &f.commits[1], "succeeded"); // seq 1
    let body = r#"{"env":"prod","from_version":"v2","to_version":"v1","trigger":"error rate","trigger_type":"auto","undoes_seq":1}"#;
    assert!(ledger(
        &f.dir,
        &["append", "rollback", "--actor", "ci", "--body", body]
    )
    .status
    .success()); // seq 2
    deploy("v3", &f.commits[1], "failed"); // seq 3: not good
    let out = drill(
        &f,
        &[
            "--env",
            "prod",
            "--to",
            "last-good",
            "--check",
            "test \"$(cat f)\" = 1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (report, body) = check_report(&f, &out);
    assert_eq!(report["commit"], f.commits[0].as_str());
    assert_eq!(report["rev"], "last-good");
    assert_eq!(report["env"], "prod");
    assert_eq!(report["deploy_seq"], 0);
    assert_eq!(body["env"], "prod");
    assert_eq!(body["rev"], "last-good");
    assert_clean(&f);
}

/// End to end with the recording flags of `append`: deploys recorded with `--repo` carry their
/// shipped changes, a rollback recorded with `--undoes` names the deploy, and `metrics` and
/// `drill --to last-good` read them.
#[test]
fn recorded_deploys_feed_metrics_and_last_good() {
    let f = fixture();
    let repo = f.repo.to_str().unwrap();
    let append = |args: &[&str]| {
        let out = ledger(&f.dir, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    append(&[
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        "prod",
        "--version",
        "v1",
        "--commit",
        &f.commits[0],
        "--status",
        "succeeded",
        "--repo",
        repo,
    ]);
    append(&[
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        "prod",
        "--version",
        "v2",
        "--commit",
        &f.commits[1],
        "--status",
        "succeeded",
        "--repo",
        repo,
        "--strategy",
        "canary",
        "--percent",
        "10",
    ]);
    append(&[
        "append",
        "rollback",
        "--actor",
        "oncall",
        "--env",
        "prod",
        "--from-version",
        "v2",
        "--to-version",
        "v1",
        "--trigger",
        "error-rate",
        "--undoes",
        "v2",
        "--trigger-type",
        "manual",
    ]);
    let es = entries(&f.dir);
    assert_eq!(
        es[1]["body"]["changes"].as_array().unwrap().len(),
        1,
        "{}",
        es[1]
    );
    assert_eq!(es[2]["body"]["undoes_seq"], 1, "{}", es[2]);
    let out = ledger(&f.dir, &["--json", "metrics", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(0));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Two changes shipped (one per deploy), but the first deploy of prod is its baseline
    // (docs/metrics.md): without --lead-time-since its change does not count. One of two
    // deploys rolled back.
    assert_eq!(m["lead_time"]["count"], 1, "{m}");
    assert_eq!(m["lead_time"]["baselines"][0]["excluded"], 1, "{m}");
    assert_eq!(m["change_failure_rate"]["failures"], 1);
    assert_eq!(m["change_failure_rate"]["deploys"], 2);
    assert_eq!(m["time_to_restore"]["count"], 1);
    // last-good skips the rolled-back v2.
    let out = drill(
        &f,
        &[
            "--env",
            "prod",
            "--to",
            "last-good",
            "--check",
            "test \"$(cat f)\" = 1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (report, _) = check_report(&f, &out);
    assert_eq!(report["deploy_seq"], 0);
    assert_clean(&f);
}
