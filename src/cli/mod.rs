//! Argument parsing, dispatch and output. Each area has its own file; this one holds the
//! command tree, the shared context and error rendering.

mod append;
mod bundle;
mod config;
mod core;
mod decision;
mod drill;
mod keys;
mod merge;
mod metrics;
mod output;
mod policy;
mod remote;
mod serve;
mod shell;
mod sync;
mod tlog;
mod trust;
mod verifiers;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use output::{for_flag, Ctx, Tone};

/// Command-line interface.
#[derive(Debug, Parser)]
#[command(
    name = "ledger",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("LEDGER_COMMIT"), ", ", env!("LEDGER_BUILD_DATE"), ")"),
    about = "Tamper-evident, signed record of a codebase's road to production",
    long_about = "Keeps an append-only, hash-chained, Ed25519-signed JSONL ledger of merges, approvals, \
deploys, rollbacks, drills and releases, and turns it into proofs, trust gates, metrics and \
signed release bundles.",
    after_help = "Examples:\n  ledger init --origin example.org/app\n  ledger keygen --name release --out ~/.config/ledger/release.key\n  ledger keys add ~/.config/ledger/release.key.pub --key ~/.config/ledger/release.key\n  ledger append deploy --actor ci/build-7 --env production --version v1.2.3 --commit abc123 --status succeeded\n  ledger verify\n\nExit codes: 0 ok, 1 verification or gate said no, 2 usage, input or I/O error."
)]
pub struct Cli {
    /// Ledger directory.
    #[arg(
        long,
        global = true,
        env = "LEDGER_DIR",
        default_value = "audit",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// Machine-readable JSON output on stdout (schemas in `schemas/`).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Signing key (PKCS#8 PEM, mode 0600).
    #[arg(long, global = true, env = "LEDGER_SIGNING_KEY", value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// Client state directory: the verified state of each ledger seen, so later runs check
    /// only new entries and refuse a ledger that no longer extends it [default:
    /// $XDG_STATE_HOME/ledger, else ~/.local/state/ledger].
    #[arg(long, global = true, env = "LEDGER_STATE", value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Keep no client state: verify from the first entry, record nothing (wins over --state).
    #[arg(long, global = true)]
    pub no_state: bool,
    /// Pinned root key: the key id (16 hex) or a .pub file of the ledger's first key.
    #[arg(long, global = true, env = "LEDGER_ROOT_KEY", value_name = "ID|PATH")]
    pub root_key: Option<String>,
    /// Colour: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    // No doc comments on the variants: clap would then print every option's help on its own
    // lines. The option's help says what they mean.
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether to colour a stream that is (`tty`) or is not a terminal.
    pub fn enabled(self, tty: bool) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

/// `--color` as given on the command line, read before clap parses (so that clap's own help
/// and errors follow it too).
fn color_from_args() -> ColorWhen {
    // args_os: an argument that is not UTF-8 is clap's to report, not a reason to panic here.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut when = ColorWhen::Auto;
    for (i, a) in args.iter().enumerate() {
        let a = a.to_str().unwrap_or("");
        let v = if let Some(v) = a.strip_prefix("--color=") {
            Some(v)
        } else if a == "--color" {
            args.get(i + 1).and_then(|n| n.to_str())
        } else {
            None
        };
        when = match v {
            Some("always") => ColorWhen::Always,
            Some("never") => ColorWhen::Never,
            Some(_) => ColorWhen::Auto,
            None => when,
        };
    }
    when
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create DIR/config.toml and an empty ledger.
    Init(core::InitArgs),
    /// Generate an Ed25519 key pair: PATH (private, 0600) and PATH.pub.
    Keygen(core::KeygenArgs),
    /// Manage trusted keys (add and revoke also append a `key` entry).
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Append one entry, or a batch of entries.
    Append(Box<append::AppendArgs>),
    /// Verify the whole ledger: canonical bytes, hashes, chain, signatures, key trust.
    Verify(core::VerifyArgs),
    /// List entries, optionally filtered.
    Log(core::LogArgs),
    /// Show one entry.
    Show(core::ShowArgs),
    /// Explicit repairs (never automatic).
    Repair(core::RepairArgs),
    /// Sign and write DIR/checkpoint and DIR/checkpoints/<size>.
    Checkpoint(tlog::CheckpointArgs),
    /// Inclusion and consistency proofs (RFC 9162) as JSON.
    #[command(subcommand)]
    Prove(tlog::ProveCmd),
    /// Check a proof against a signed checkpoint or a bare tree head, without a ledger.
    VerifyProof(tlog::VerifyProofArgs),
    /// Witness: cosign checkpoints that extend the last one cosigned.
    #[command(subcommand)]
    Witness(tlog::WitnessCmd),
    /// Trust scores from recorded outcomes, and the policy gate.
    #[command(subcommand)]
    Trust(trust::TrustCmd),
    /// Trust-gated merge: preview in memory, gate, archive the diff, optionally execute.
    Merge(merge::MergeArgs),
    /// Rollback drills in temporary git worktrees.
    #[command(subcommand)]
    Drill(drill::DrillCmd),
    /// DORA metrics and drill statistics, against the targets in config.toml.
    Metrics(metrics::MetricsArgs),
    /// Write a self-contained HTML report (metrics over time, actors, gate decisions, drills).
    Report(metrics::ReportArgs),
    /// Signed settings: record a `policy` entry, show the settings in force.
    #[command(subcommand)]
    Policy(policy::PolicyCmd),
    /// Signed release bundles: create and verify.
    #[command(subcommand)]
    Bundle(bundle::BundleCmd),
    /// Serve the ledger over HTTP to CI runners and merge bots (DESIGN §9).
    Serve(serve::ServeArgs),
    /// Sync with the ledger on a git ref: verify what others pushed, push what is queued.
    Sync(sync::SyncArgs),
    /// Write the ledger on a git ref as an ordinary ledger directory, and verify it.
    Export(sync::ExportArgs),
    /// The standalone verifiers embedded in this binary: export them, print their SHA-256.
    #[command(subcommand)]
    Verifiers(verifiers::VerifiersCmd),
    /// The settings in force and where each comes from (signed policy, config.toml, env, flag).
    Config(config::ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(shell::CompletionsArgs),
    /// Write man pages (ledger.1 and one per subcommand) into a directory.
    Man(shell::ManArgs),
}

/// A usage error of the command line (exit 2), rendered as its message alone.
pub fn usage(msg: impl Into<String>) -> audit_ledger::Error {
    audit_ledger::Error::invalid(output::ARGUMENTS, msg)
}

/// The exit code of a use case's verdict: 0 yes, 1 no. The one place a "no" becomes exit 1.
pub fn verdict_exit(v: &impl audit_ledger::flow::Verdict) -> i32 {
    if v.passed() {
        0
    } else {
        1
    }
}

/// Parse arguments, run, and return the process exit code.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let when = color_from_args();
    let choice = if when.enabled(std::io::IsTerminal::is_terminal(&std::io::stderr())) {
        clap::ColorChoice::Always
    } else {
        clap::ColorChoice::Never
    };
    let parsed = Cli::command()
        .color(choice)
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 2,
            };
            let _ = e.print();
            // Under --json a usage error is also a JSON object on stdout, as other errors are.
            if code == 2 && std::env::args_os().skip(1).any(|a| a == "--json") {
                // The error's paragraph, on one line (without the usage and the hint).
                let text = e.render().to_string();
                let head = text.split("\n\n").next().unwrap_or_default();
                let msg = head
                    .trim_start_matches("error: ")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "exit": 2, "error": msg, "usage": true})
                );
            }
            return code;
        }
    };
    let ctx = Ctx::new(&cli);
    let result = match &cli.command {
        Command::Init(a) => core::init(&ctx, a),
        Command::Keygen(a) => core::keygen(&ctx, a),
        Command::Keys(a) => keys::keys(&ctx, a),
        Command::Append(a) => append::append(&ctx, a),
        Command::Verify(a) => core::verify(&ctx, a),
        Command::Log(a) => core::log(&ctx, a),
        Command::Show(a) => core::show(&ctx, a),
        Command::Repair(a) => core::repair(&ctx, a),
        Command::Checkpoint(a) => tlog::checkpoint(&ctx, a),
        Command::Prove(a) => tlog::prove(&ctx, a),
        Command::VerifyProof(a) => tlog::verify_proof(&ctx, a),
        Command::Witness(a) => tlog::witness(&ctx, a),
        Command::Trust(a) => trust::run(&ctx, a),
        Command::Merge(a) => merge::run(&ctx, a),
        Command::Drill(a) => drill::run(&ctx, a),
        Command::Metrics(a) => metrics::metrics(&ctx, a),
        Command::Report(a) => metrics::report(&ctx, a),
        Command::Bundle(a) => bundle::bundle(&ctx, a),
        Command::Policy(a) => policy::policy(&ctx, a),
        Command::Verifiers(a) => verifiers::run(&ctx, a),
        Command::Serve(a) => serve::serve(&ctx, a),
        Command::Sync(a) => sync::sync_cmd(&ctx, a),
        Command::Export(a) => sync::export(&ctx, a),
        Command::Config(a) => config::config(&ctx, a),
        Command::Completions(a) => shell::completions(&ctx, a),
        Command::Man(a) => shell::man(&ctx, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => ctx.error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command path, e.g. `keys add`, with `--help` snapshots in tests/cmd/help.md.
    fn paths(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let p = format!("{prefix}{}", sub.get_name());
            out.push(p.clone());
            paths(sub, &format!("{p} "), out);
        }
    }

    #[test]
    fn every_command_has_a_help_snapshot() {
        let mut all = vec![String::new()];
        paths(&Cli::command(), "", &mut all);
        let md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cmd/help.md"))
            .unwrap_or_default();
        let missing: Vec<String> = all
            .iter()
            .map(|p| format!("$ ledger {p}{}--help", if p.is_empty() { "" } else { " " }))
            .filter(|line| !md.lines().any(|l| l == line))
            .collect();
        assert!(
            missing.is_empty(),
            "tests/cmd/help.md lacks (add them, then TRYCMD=overwrite cargo test --test cli_snapshots):\n{}",
            missing.join("\n")
        );
    }
}
