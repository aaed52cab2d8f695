//! `ledger config`: the settings in force and where each comes from — the signed policy,
//! config.toml, the environment, a flag, or the default.

use audit_ledger::error::Result;
use audit_ledger::flow::policy::{self, Setting, Source};
use clap::parser::ValueSource;
use clap::{Args, CommandFactory};
use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use serde_json::json;

use super::{Cli, Ctx};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger config
  ledger --dir audit --json config
  LEDGER_SIGNING_KEY=ci.key ledger config      # shows where the key comes from

The ledger's settings come from the signed policy in force (verified with
the ledger) when there is one, else from config.toml, which no signature
covers; the command's own from a flag, an environment variable or the
default. The ledger is verified first (exit 1 if it does not verify).")]
pub struct ConfigArgs {}

/// Where a global option's value came from.
fn origin_of(name: &str, env: &str) -> String {
    let m = Cli::command()
        .try_get_matches_from(std::env::args_os())
        .ok();
    let source = m.as_ref().and_then(|m| {
        // A global option given after the subcommand is recorded there.
        let sub = m.subcommand().map(|(_, s)| s);
        sub.and_then(|s| s.value_source(name))
            .filter(|v| *v != ValueSource::DefaultValue)
            .or_else(|| m.value_source(name))
    });
    match source {
        Some(ValueSource::CommandLine) => format!("flag --{}", name.replace('_', "-")),
        Some(ValueSource::EnvVariable) => format!("environment {env}"),
        _ => "default".into(),
    }
}

pub fn config(ctx: &Ctx, _a: &ConfigArgs) -> Result<i32> {
    let (ledger, view) = ctx.verified()?;
    let file = audit_ledger::config::Config::load(ledger.dir())?;
    let mut rows: Vec<(String, String, String, String)> = Vec::new();
    let dir = ctx.dir.display().to_string();
    rows.push((
        "dir".into(),
        dir,
        origin_of("dir", "LEDGER_DIR"),
        String::new(),
    ));
    let key = match &ctx.key {
        Some(k) if !k.as_os_str().is_empty() => match ctx.signer() {
            Ok(Some(s)) => format!("{} (key {})", k.display(), s.id()),
            Ok(None) => k.display().to_string(),
            Err(e) => format!("{} (unusable: {e})", k.display()),
        },
        _ => "(none: entries are appended unsigned)".into(),
    };
    rows.push((
        "signing key".into(),
        key,
        origin_of("key", "LEDGER_SIGNING_KEY"),
        String::new(),
    ));
    let state = match view.state_file.as_ref() {
        Some(f) => f.display().to_string(),
        None => "(none: every run verifies from the first entry)".into(),
    };
    let state_from = if ctx.state == audit_ledger::ledger::view::StateLocation::Off {
        "flag --no-state".to_string()
    } else {
        origin_of("state", "LEDGER_STATE")
    };
    rows.push(("client state".into(), state, state_from, String::new()));
    let pin = view.root_key().unwrap_or("(no keys yet)").to_string();
    let pin_from = match &ctx.root_key {
        Some(_) => origin_of("root_key", "LEDGER_ROOT_KEY"),
        None if view.state_file.is_some() => "client state (pinned on first use)".into(),
        None => "the ledger's first key (not pinned)".into(),
    };
    rows.push(("root key".into(), pin, pin_from, String::new()));
    let settings: Vec<Setting> = policy::in_force(&file, view.policy.as_ref())?;
    for s in &settings {
        rows.push((
            s.name.clone(),
            s.value.clone(),
            s.source.to_string(),
            s.note.clone().unwrap_or_default(),
        ));
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["setting", "value", "from", "note"]);
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(120);
    }
    for (a, b, c, d) in &rows {
        t.add_row([a, b, c, d]);
    }
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(a, b, c, d)| json!({"name": a, "value": b, "from": c, "note": d}))
        .collect();
    let signed = settings
        .iter()
        .any(|s| matches!(s.source, Source::SignedPolicy { .. }));
    ctx.print(
        t.to_string(),
        &json!({"ok": true, "signed_policy": signed, "settings": json_rows}),
    );
    Ok(0)
}
