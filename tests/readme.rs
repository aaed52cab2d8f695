//! The README's quick start, run verbatim: the first ```sh block under "## Quick start" is
//! executed by bash (`set -eu -o pipefail`, one shell, so `export` carries over) in a fresh
//! temporary HOME and working directory, with the `ledger` under test first on PATH and no
//! `LEDGER_*` variables. Any failing line fails the test, naming the line.
//!
//! `LEDGER_BIN=/path/to/ledger` runs it against another build (scripts/install-check.sh uses
//! it for a `cargo install`ed binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The first ```sh block after the heading `## Quick start`.
fn quick_start(readme: &str) -> String {
    let start = readme
        .find("\n## Quick start\n")
        .expect("README.md has a `## Quick start` section");
    let rest = &readme[start..];
    let open = rest
        .find("```sh\n")
        .expect("a ```sh block in the quick start")
        + 6;
    let len = rest[open..].find("```").expect("the block is closed");
    rest[open..open + len].to_string()
}

fn ledger_dir() -> PathBuf {
    let bin = std::env::var_os("LEDGER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_ledger")));
    assert!(bin.is_file(), "{}: no such binary", bin.display());
    bin.parent().unwrap().to_path_buf()
}

#[test]
fn the_quick_start_runs_verbatim_in_a_fresh_home() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = quick_start(&readme);
    assert!(
        block.lines().count() >= 5,
        "quick start too short:\n{block}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    // Fail on the first failing line, and say which.
    let script = format!(
        "set -eu -o pipefail\ntrap 'echo \"quick start: line $LINENO failed: $BASH_COMMAND\" >&2' ERR\n{block}"
    );
    let path = format!(
        "{}:{}",
        ledger_dir().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&script).current_dir(&work);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LEDGER_") || k == "XDG_STATE_HOME" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .env("HOME", &home)
        .env("PATH", path)
        .env_remove("XDG_CONFIG_HOME")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README quick start failed ({:?}; lines counted from 3):\n--- block\n{block}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // It did what it says: a verified ledger with the deploy, and the key where it says.
    assert!(home.join(".config/ledger/release.key").is_file());
    let log = std::fs::read_to_string(work.join("audit/ledger.jsonl")).unwrap();
    assert!(log.contains("\"v1.2.3\""), "{log}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_quick_start_block_is_found() {
    let text = "# x\n\n## Quick start\n\nInstall first.\n\n```sh\nledger init\nledger verify\n```\n\n```sh\nno\n```\n";
    assert_eq!(quick_start(text), "ledger init\nledger verify\n");
}
