//! Shared context of a command run: where the ledger is, how to print, which key to use.

use std::io::Write as _;
use std::path::PathBuf;

use audit_ledger::error::Error;
use audit_ledger::keys::Signer;
use audit_ledger::ledger::Ledger;
use serde_json::{json, Value};

use super::Cli;

/// Put a flag's name on a library error about its value: the library names the kind of value
/// (`time`, `duration`), the CLI says which flag it came from, e.g. `--since: ...`.
pub fn for_flag(flag: &'static str) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Invalid { reason, .. } => Error::invalid(flag, reason),
        other => other,
    }
}

/// What every command gets.
pub struct Ctx {
    /// Ledger directory.
    pub dir: PathBuf,
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `--key` / `LEDGER_SIGNING_KEY`.
    pub key: Option<PathBuf>,
}

impl Ctx {
    /// Build from parsed arguments.
    pub fn new(cli: &Cli) -> Ctx {
        Ctx {
            dir: cli.dir.clone(),
            json: cli.json,
            quiet: cli.quiet,
            key: cli.key.clone(),
        }
    }

    /// Open the ledger in `--dir`.
    pub fn ledger(&self) -> Result<Ledger, Error> {
        Ledger::open(&self.dir)
    }

    /// Load the signing key if one was given.
    pub fn signer(&self) -> Result<Option<Signer>, Error> {
        match &self.key {
            Some(p) if !p.as_os_str().is_empty() => Signer::load(p).map(Some),
            _ => Ok(None),
        }
    }

    /// Load the signing key, which this command needs.
    pub fn require_signer(&self, what: &str) -> Result<Signer, Error> {
        self.signer()?.ok_or_else(|| {
            Error::input(format!(
                "{what} needs a signing key: give --key PATH or set LEDGER_SIGNING_KEY"
            ))
        })
    }

    /// Print a result: `human` on stdout unless quiet, or `json` with `--json`.
    pub fn print(&self, human: impl std::fmt::Display, json: &Value) {
        let mut out = std::io::stdout().lock();
        if self.json {
            let _ = writeln!(out, "{json}");
        } else if !self.quiet {
            let _ = writeln!(out, "{human}");
        }
    }

    #[allow(dead_code)]
    /// Print a note for people on stderr (not in quiet or JSON mode).
    pub fn note(&self, msg: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            eprintln!("{msg}");
        }
    }

    #[allow(dead_code)]
    /// Print a warning on stderr (also in JSON mode; not when quiet).
    pub fn warn(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// Render an error and return its exit code.
    pub fn error(&self, e: &Error) -> i32 {
        let code = e.exit_code();
        eprintln!("ledger: {e}");
        if self.json {
            let mut obj = json!({"ok": false, "exit": code, "error": e.to_string()});
            if let Error::Verify { file, failure } = e {
                obj["file"] = json!(file);
                obj["line"] = json!(failure.line);
                obj["seq"] = json!(failure.seq);
                obj["code"] = json!(failure.code);
                obj["reason"] = json!(failure.reason);
            }
            println!("{obj}");
        }
        code
    }
}
