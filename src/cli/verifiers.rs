//! `ledger verifiers export`: the standalone verifiers this binary embeds, for auditors.

use std::path::PathBuf;

use audit_ledger::bundle::verifiers;
use audit_ledger::error::Result;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;

/// `ledger verifiers ...`.
#[derive(Debug, Subcommand)]
pub enum VerifiersCmd {
    /// Write the verify.sh and verify.py embedded in this binary, and print their SHA-256.
    Export(ExportArgs),
}

/// `ledger verifiers export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger verifiers export --out ~/trusted-verifiers\n  sh ~/trusted-verifiers/verify.sh --pubkey release.key.pub audit/bundle-1.4.0\n  ledger verifiers export --json\n  grep ' verify\\.' audit/bundle-1.4.0/MANIFEST.sha256\n\nNever run the verify.sh or verify.py inside the bundle being checked: whoever altered the\nbundle could have replaced them too. Run these copies (or `ledger bundle verify`) with a pinned\nkey. Without --out nothing is written and only the digests are printed, for comparing with the\nbundle's MANIFEST.sha256 lines. A file that already holds the same bytes is left alone; any\nother file of that name is replaced.\nExit 0 ok, 2 usage or I/O error."
)]
pub struct ExportArgs {
    /// Write the scripts into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, cmd: &VerifiersCmd) -> Result<i32> {
    match cmd {
        VerifiersCmd::Export(a) => export(ctx, a),
    }
}

fn export(ctx: &Ctx, a: &ExportArgs) -> Result<i32> {
    let rows: Vec<(verifiers::Verifier, Option<(PathBuf, bool)>)> = match &a.out {
        Some(dir) => verifiers::export(dir)?
            .into_iter()
            .map(|e| (e.verifier, Some((e.path, e.written))))
            .collect(),
        None => verifiers::embedded()
            .into_iter()
            .map(|v| (v, None))
            .collect(),
    };
    // `sha256sum -c` format on stdout, so the lines compare directly with a bundle's
    // MANIFEST.sha256 (and check the written copies with `sha256sum -c` inside DIR).
    let human: Vec<String> = rows
        .iter()
        .map(|(v, _)| format!("{}  {}", v.sha256_hex(), v.name))
        .collect();
    for (_, w) in &rows {
        if let Some((path, written)) = w {
            let what = if *written { "wrote" } else { "unchanged:" };
            ctx.note(format!("{what} {}", path.display()));
        }
    }
    let list: Vec<_> = rows
        .iter()
        .map(|(v, w)| {
            json!({"name": v.name, "sha256": v.sha256_hex(), "bytes": v.contents.len(),
                   "path": w.as_ref().map(|(p, _)| p.clone()),
                   "written": w.as_ref().map(|(_, x)| *x)})
        })
        .collect();
    ctx.print(
        human.join("\n"),
        &json!({"ok": true, "version": env!("CARGO_PKG_VERSION"), "verifiers": list}),
    );
    Ok(0)
}
