//! Helpers shared by the integration tests: a temp dir with a ledger, and a way to run `ledger`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod serve;
pub mod ssh;

/// A temp directory holding `audit/` and key files.
pub struct Env {
    pub tmp: tempfile::TempDir,
    /// Batches appended by [`Env::fill`] so far: each gets other merge commits (a merge
    /// commit is recorded once per ledger).
    fills: std::sync::atomic::AtomicUsize,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ledger")
}

impl Env {
    pub fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
            fills: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("audit")
    }

    pub fn log(&self) -> PathBuf {
        self.dir().join("ledger.jsonl")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path())
            .env_remove("LEDGER_SIGNING_KEY")
            .env_remove("LEDGER_DIR")
            .env_remove("LEDGER_STATE")
            .env_remove("LEDGER_ROOT_KEY")
            .env("XDG_STATE_HOME", self.path().join("state"))
            .arg("--dir")
            .arg(self.dir())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write as _;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Run and require exit 0.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "ledger {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Generate a key named `name` in the temp dir; returns its path.
    pub fn keygen(&self, name: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.key"));
        self.ok(&["keygen", "--name", name, "--out", p.to_str().unwrap()]);
        p
    }

    /// A ledger that requires signatures, with root key `root` already added. Returns the key path.
    pub fn signed_ledger(&self) -> PathBuf {
        self.ok(&[
            "init",
            "--origin",
            "test.example/ledger",
            "--require-signatures",
        ]);
        let k = self.keygen("root");
        let pubp = format!("{}.pub", k.display());
        self.ok(&["--key", k.to_str().unwrap(), "keys", "add", &pubp]);
        k
    }

    /// Append `n` varied entries in one batch, signed with `key`.
    pub fn fill(&self, key: &Path, n: usize) {
        // A multiple of 5 keeps the mix of kinds; the merge commits differ from every
        // earlier batch's.
        let round = self
            .fills
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let batch = batch_lines(n, round * 5_000_000);
        let out = self.run_stdin(
            &["--key", key.to_str().unwrap(), "append", "--batch", "-"],
            batch.as_bytes(),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn read_log(&self) -> Vec<u8> {
        std::fs::read(self.log()).unwrap()
    }
}

/// `n` varied batch lines (deploys, merges, approvals, rollbacks, events).
pub fn batch_lines(n: usize, salt: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let j = i + salt;
        let line = match j % 5 {
            0 => serde_json::json!({"kind": "deploy", "actor": format!("ci/build-{j}"),
                 "body": {"env": if j.is_multiple_of(2) {"production"} else {"staging"}, "version": format!("v1.{j}.0"), "commit": format!("{:040x}", j), "status": "succeeded"}}),
            1 => {
                serde_json::json!({"kind": "merge", "actor": "bot", "body": {"author": format!("dev{}", j % 3), "source": "feature", "target": "main",
                 "source_commit": "a", "target_commit": "b", "merge_commit": format!("{:040x}", j), "paths": ["src/lib.rs", "é/ü.txt"]}})
            }
            2 => {
                serde_json::json!({"kind": "approval", "actor": "gate", "body": {"subject": format!("merge {j}"), "decision": "allow", "reasons": ["score 900‰ ≥ 700‰"]}})
            }
            3 => {
                serde_json::json!({"kind": "rollback", "actor": "oncall", "body": {"env": "production", "from_version": "v2", "to_version": "v1", "trigger": "error-rate \"5xx\"\n"}})
            }
            _ => {
                serde_json::json!({"kind": "event", "actor": "ci", "body": {"type": "lint", "data": {"warnings": j, "note": "tab\there"}}})
            }
        };
        s.push_str(&line.to_string());
        s.push('\n');
    }
    s
}

pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `verify --json` and return (exit code, parsed JSON).
pub fn verify_json(env: &Env) -> (Option<i32>, serde_json::Value) {
    let out = env.run(&["--json", "verify"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json printed no JSON ({e}): {}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code(), v)
}

/// xorshift64*: a small seeded generator, so a failing case is reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Where our JSON Schemas say they live; `$ref`s under it resolve to files in `schemas/`.
const SCHEMA_BASE: &str = "https://audit-ledger.invalid/schemas/";

/// Resolves our schema ids to the files in `schemas/`; refuses everything else (no network).
pub struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        let rel = uri
            .as_str()
            .strip_prefix(SCHEMA_BASE)
            .ok_or_else(|| format!("not a local schema: {}", uri.as_str()))?;
        let text = std::fs::read_to_string(schemas_dir().join(rel))?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// The project's `schemas/` directory.
pub fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// A validator for `schemas/<rel>` (e.g. `output/verify.schema.json`), its references resolved
/// locally.
pub fn schema_validator(rel: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schemas_dir().join(rel)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_retriever(LocalSchemas)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A signed ledger (root key `root`) with `n` varied entries, a release event and a deploy of
/// 1.0.0, and a `dist/` of two artifacts (`app.bin` of `app_len` bytes, `lib/x.so`). Returns
/// the env, the key path and the artifacts root.
pub fn release_ledger(n: usize, app_len: usize) -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, n);
    let k = key.to_str().unwrap();
    env.ok(&[
        "--key",
        k,
        "append",
        "event",
        "--actor",
        "release",
        "--body",
        r#"{"type":"release","data":{"version":"1.0.0"}}"#,
    ]);
    env.ok(&[
        "--key",
        k,
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        "production",
        "--version",
        "1.0.0",
        "--commit",
        "abc",
        "--status",
        "succeeded",
    ]);
    let dist = env.path().join("dist");
    std::fs::create_dir_all(dist.join("lib")).unwrap();
    std::fs::write(dist.join("app.bin"), vec![7u8; app_len]).unwrap();
    std::fs::write(dist.join("lib/x.so"), b"x").unwrap();
    (env, key, dist)
}

/// A small git repository (no Cargo.toml: artifacts-only SBOM) with a deterministic commit.
pub fn git_repo(at: &Path) -> PathBuf {
    let repo = at.join("src-repo");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    let r = git2::Repository::init(&repo).unwrap();
    let mut idx = r.index().unwrap();
    idx.add_path(Path::new("README")).unwrap();
    idx.write().unwrap();
    let tree = r.find_tree(idx.write_tree().unwrap()).unwrap();
    let sig =
        git2::Signature::new("t", "t@example.invalid", &git2::Time::new(1_600_000_000, 0)).unwrap();
    let c = r
        .commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    r.tag_lightweight("v1.0.0", &r.find_object(c, None).unwrap(), false)
        .unwrap();
    repo
}
