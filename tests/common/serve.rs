//! Starting the real `ledger serve` for the service tests.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use super::Env;

/// Make `env` a signed ledger (root key = log key) with a writer key `runner` added; returns
/// (log key, writer key) paths.
pub fn served_ledger(env: &Env) -> (PathBuf, PathBuf) {
    let log_key = env.signed_ledger();
    let writer_key = env.keygen("runner");
    let wpub = format!("{}.pub", writer_key.display());
    env.ok(&[
        "--key",
        log_key.to_str().unwrap(),
        "keys",
        "add",
        &wpub,
        "--writer",
    ]);
    (log_key, writer_key)
}

/// `[serve] gate_recorders = [ids]` signed as the ledger's policy.
pub fn sign_gate_recorders(env: &Env, log_key: &Path, ids: &[&str]) {
    let settings = env.path().join("policy.toml");
    let list: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    std::fs::write(
        &settings,
        format!("[serve]\ngate_recorders = [{}]\n", list.join(", ")),
    )
    .unwrap();
    env.ok(&[
        "--key",
        log_key.to_str().unwrap(),
        "policy",
        "set",
        "--settings",
        settings.to_str().unwrap(),
    ]);
}

/// Start `ledger serve` on an ephemeral port; the URL from its first line of JSON.
pub fn start(env: &Env, log_key: &Path, extra: &[&str]) -> (Child, String) {
    let mut args = vec![
        "--json",
        "--key",
        log_key.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut child = env
        .cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("no start line ({e}): {line:?} {err}")
    });
    (child, v["url"].as_str().unwrap().to_string())
}
