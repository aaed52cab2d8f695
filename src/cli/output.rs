//! Shared context of a command run: where the ledger is, how to print, which key to use.

use std::io::Write as _;
use std::path::PathBuf;

use audit_ledger::error::Error;
use audit_ledger::keys::Signer;
use audit_ledger::ledger::view::{StateLocation, View, ViewOptions};
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
    /// `--state` / `--no-state`.
    pub state: StateLocation,
    /// `--root-key` / `LEDGER_ROOT_KEY`, as given.
    pub root_key: Option<String>,
    /// Colour on stdout (`--color`, NO_COLOR, a terminal).
    pub color: bool,
    /// Progress bars on stderr: a terminal, not `--quiet` or `--json`.
    pub progress: bool,
    /// The view options (client state, pinned root key), or why `--root-key` is unusable.
    view: std::result::Result<ViewOptions, String>,
}

/// How a word is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Met, verified, allowed.
    Good,
    /// Missed, failed, denied.
    Bad,
}

impl Ctx {
    /// Build from parsed arguments.
    pub fn new(cli: &Cli) -> Ctx {
        let mut ctx = Ctx {
            dir: cli.dir.clone(),
            json: cli.json,
            quiet: cli.quiet,
            key: cli.key.clone(),
            state: match (&cli.state, cli.no_state) {
                (_, true) => StateLocation::Off,
                (Some(d), false) if !d.as_os_str().is_empty() => StateLocation::Dir(d.clone()),
                _ => StateLocation::Default,
            },
            root_key: cli.root_key.clone().filter(|s| !s.is_empty()),
            color: cli
                .color
                .enabled(std::io::IsTerminal::is_terminal(&std::io::stdout())),
            progress: !cli.quiet
                && !cli.json
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            view: Err(String::new()),
        };
        ctx.view = ctx.resolve_view().map_err(|e| e.to_string());
        ctx
    }

    /// The view options, for the write path ([`audit_ledger::Recorder::with_view`]).
    pub fn view(&self) -> Result<&ViewOptions, Error> {
        self.view.as_ref().map_err(|m| super::usage(m.clone()))
    }

    /// A recorder on `ledger` for `signer` that opens the verified view with this run's
    /// client state and pinned root key.
    pub fn recorder<'a>(
        &'a self,
        ledger: &'a Ledger,
        signer: Option<&'a Signer>,
    ) -> Result<audit_ledger::Recorder<'a>, Error> {
        Ok(audit_ledger::Recorder::new(ledger, signer).with_view(self.view()?))
    }

    /// How to open the verified view: the client state and the pinned root key.
    pub fn view_options(&self) -> Result<ViewOptions, Error> {
        self.view().cloned()
    }

    fn resolve_view(&self) -> Result<ViewOptions, Error> {
        let root_key = match &self.root_key {
            None => None,
            Some(s) if s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(s.to_ascii_lowercase())
            }
            Some(path) => {
                let public = audit_ledger::keys::load_public(std::path::Path::new(path))
                    .map_err(super::for_flag("--root-key"))?;
                Some(audit_ledger::keys::key_id(&public))
            }
        };
        Ok(ViewOptions {
            state: self.state.clone(),
            root_key,
        })
    }

    /// Open the ledger and its verified view (what every command that decides or reports
    /// reads through). Notices go to stderr.
    pub fn verified(&self) -> Result<(Ledger, View), Error> {
        let ledger = self.ledger()?;
        let view = View::open(&ledger, &self.view_options()?, &mut |_, _| {})?;
        let (ledger, notices) = ledger.with_signed_policy(view.policy.as_ref())?;
        for n in view.notices.iter().chain(&notices) {
            self.note(n);
        }
        Ok((ledger, view))
    }

    /// Open the ledger in `--dir`.
    pub fn ledger(&self) -> Result<Ledger, Error> {
        Ok(Ledger::open(&self.dir)?.with_state(self.state.clone()))
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
            super::usage(format!(
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

    /// `text` in the colour of `tone` when colour is on (ANSI SGR), else as it is.
    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let style = match tone {
            Tone::Good => anstyle::AnsiColor::Green.on_default().bold(),
            Tone::Bad => anstyle::AnsiColor::Red.on_default().bold(),
        };
        format!("{}{text}{}", style.render(), style.render_reset())
    }

    /// A progress bar over `total` units (bytes with `bytes`) on stderr, drawn only on a
    /// terminal (hidden otherwise, so that logs stay clean).
    pub fn bar(&self, what: &str, total: u64, bytes: bool) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let pb = indicatif::ProgressBar::new(total);
        let template = if bytes {
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
        } else {
            "{msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})"
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_message(what.to_string());
        pb
    }

    /// A spinner on stderr for a step of unknown length, drawn only on a terminal; finish it
    /// (or drop it) when the step ends.
    pub fn spinner(&self, what: &str) -> indicatif::ProgressBar {
        if !self.progress {
            return indicatif::ProgressBar::hidden();
        }
        let pb = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            pb.set_style(style);
        }
        pb.set_message(what.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(100));
        pb
    }

    /// Print a note for people on stderr (not in quiet or JSON mode).
    pub fn note(&self, msg: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            eprintln!("{msg}");
        }
    }

    /// Print a warning on stderr (also in JSON mode; not when quiet).
    pub fn warn(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// Print the notices of a record (index left to catch up, index rebuilt).
    pub fn notices(&self, r: &audit_ledger::Recorded) {
        for n in &r.notices {
            self.note(n);
        }
    }

    /// Render an error and return its exit code.
    pub fn error(&self, e: &Error) -> i32 {
        let code = e.exit_code();
        let text = render_error(e);
        eprintln!("ledger: {text}");
        if self.json {
            let mut obj = json!({"ok": false, "exit": code, "error": text});
            if let Some((file, failure)) = e.verify_failure() {
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

/// The `what` of a command-line usage error ([`super::usage`]).
pub const ARGUMENTS: &str = "arguments";

/// Library parameters that are flags of the same name here (`undoes` is `--undoes`).
const FLAG_PARAMS: &[&str] = &[
    "actor",
    "at",
    "attach",
    "check",
    "entry",
    "now",
    "percent",
    "repo",
    "sbom_from",
    "scope",
    "since",
    "strategy",
    "target",
    "timeout",
    "to",
    "trigger_type",
    "undoes",
    "version",
    "weeks",
];

/// The library's message, with the CLI's names and advice: a parameter becomes its flag, and
/// errors a person can fix name the command that fixes them.
pub fn render_error(e: &Error) -> String {
    match e {
        Error::Invalid { what, reason } if what == ARGUMENTS => reason.clone(),
        Error::Invalid { what, reason } if FLAG_PARAMS.contains(&what.as_str()) => {
            format!("--{}: {reason}", what.replace('_', "-"))
        }
        Error::TornTail { .. } => format!("{e}; run `ledger repair --torn-tail`"),
        Error::NotALedger(_) => format!("{e}; run `ledger init --origin NAME`"),
        Error::SignatureRequired => {
            format!("{e}: give --key PATH or set LEDGER_SIGNING_KEY")
        }
        Error::UntrustedKey { .. } => format!("{e} (see `ledger keys list`)"),
        Error::AfterAppend {
            first,
            last,
            source,
        } => format!(
            "appended seq {first}..={last}, but the checkpoint was not refreshed: {}",
            render_error(source)
        ),
        _ => e.to_string(),
    }
}
