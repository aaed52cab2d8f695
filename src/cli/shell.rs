//! `ledger completions SHELL` and `ledger man --out DIR`: generated from the command
//! definition itself (clap_complete, clap_mangen), so they never disagree with `--help`.

use std::path::PathBuf;

use audit_ledger::{Error, Result};
use clap::{Args, CommandFactory};
use serde_json::json;

use super::{Cli, Ctx};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger completions bash > ~/.local/share/bash-completion/completions/ledger
  ledger completions zsh > \"${fpath[1]}/_ledger\"
  ledger completions fish > ~/.config/fish/completions/ledger.fish
  source <(ledger completions bash)          # this shell only")]
pub struct CompletionsArgs {
    /// The shell to write a completion script for (on stdout).
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger man --out target/man && man -l target/man/ledger-append.1
  sudo ledger man --out /usr/local/share/man/man1

Writes ledger.1 and one page per subcommand (ledger-append.1, ledger-keys-add.1, ...).")]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn completions(_ctx: &Ctx, a: &CompletionsArgs) -> Result<i32> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut cmd, "ledger", &mut out);
    Ok(0)
}

pub fn man(ctx: &Ctx, a: &ManArgs) -> Result<i32> {
    std::fs::create_dir_all(&a.out).map_err(|e| Error::io(&a.out, e))?;
    let mut cmd = Cli::command();
    // Global options (--dir, --json, --key, ...) are copied into each subcommand's page.
    cmd.build();
    let mut pages = Vec::new();
    write_pages(cmd, "ledger", &a.out, &mut pages)?;
    ctx.print(
        format!("wrote {} man pages into {}", pages.len(), a.out.display()),
        &json!({"ok": true, "dir": a.out, "pages": pages}),
    );
    Ok(0)
}

/// One page for `cmd` (named `name`, e.g. `ledger-keys-add`), then one for each subcommand.
fn write_pages(
    cmd: clap::Command,
    name: &str,
    dir: &std::path::Path,
    pages: &mut Vec<String>,
) -> Result<()> {
    let cmd = cmd.name(name.to_string()).bin_name(name.replace('-', " "));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|e| Error::io(dir, e))?;
    let file = format!("{name}.1");
    let path = dir.join(&file);
    // Whole pages or none: a temp file beside it, then a rename.
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, &buf).map_err(|e| Error::io(&path, e))?;
    tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    pages.push(file);
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let sub_name = format!("{name}-{}", sub.get_name());
        write_pages(sub.clone(), &sub_name, dir, pages)?;
    }
    Ok(())
}
