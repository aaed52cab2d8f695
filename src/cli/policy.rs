//! `ledger policy set|show`: the signed settings.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::flow;
use audit_ledger::flow::policy::PolicyRequest;
use clap::Subcommand;
use serde_json::json;

use super::append::last_of;
use super::Ctx;

/// `ledger policy ...`.
#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Record the signed settings: require_signatures and the [trust], [witness], [metrics] and [serve]
    /// tables, as a `policy` entry signed with --key (in force from the next entry on).
    #[command(
        after_help = "Examples:\n  ledger policy set --key release.key                       # snapshot config.toml's settings\n  ledger policy set --key release.key --require-signatures true --settings policy.toml\n  ledger policy set --key release.key --reason \"stricter db gate\" --json\n\nA policy is a full snapshot: a table it leaves out takes its defaults. Once a ledger has a\npolicy entry, config.toml's require_signatures, [trust], [witness], [metrics] and [serve] no longer\ncount (where they differ, the signed policy wins and commands say so). The first `policy\nset` migrates a ledger of an earlier version; until then config.toml's settings apply."
    )]
    Set {
        /// Unsigned entries are invalid from the next entry on [default: config.toml's setting].
        #[arg(long, value_name = "BOOL")]
        require_signatures: Option<bool>,
        /// A TOML file with the [trust], [witness], [metrics] and [serve] tables [default: those of
        /// config.toml].
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Why (recorded in the entry).
        #[arg(long)]
        reason: Option<String>,
        /// Actor recorded in the entry.
        #[arg(long, default_value = "ledger/policy")]
        actor: String,
    },
    /// Show the settings in force: the newest signed policy, or config.toml's if there is none.
    #[command(after_help = "Examples:\n  ledger policy show\n  ledger policy show --json")]
    Show,
    /// Check the trust policy in force against a repository's files: gates that match no
    /// file, gates an earlier gate shadows, overlapping gates whose order decides, and a
    /// default gate that lets new authors through on the prior alone.
    #[command(
        after_help = "Examples:\n  ledger policy check --repo .\n  ledger policy check --repo /srv/git/app.git --rev main --json\n  ledger policy check --repo . --settings new-policy.toml    # before signing it\n\nExit 0: nothing found; 1: findings (each names the gate, with example files); 2: bad input."
    )]
    Check {
        /// The repository (work tree or bare).
        #[arg(long, value_name = "R")]
        repo: PathBuf,
        /// The revision whose files are matched.
        #[arg(long, default_value = "HEAD", value_name = "REV")]
        rev: String,
        /// Check the [trust] table of this TOML file instead of the policy in force.
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
    },
}

pub fn policy(ctx: &Ctx, cmd: &PolicyCmd) -> Result<i32> {
    match cmd {
        PolicyCmd::Set {
            require_signatures,
            settings,
            reason,
            actor,
        } => {
            let signer = ctx.require_signer("policy set")?;
            let (ledger, view) = ctx.verified()?;
            let require = require_signatures.unwrap_or(ledger.config().require_signatures);
            let text = match settings {
                Some(p) => audit_ledger::input::read_text_bounded(
                    p,
                    flow::policy::MAX_SETTINGS as u64,
                    "settings",
                )?,
                // config.toml's own tables, not those of a signed policy already in force.
                None => audit_ledger::config::Config::load(ledger.dir())?.signed_tables_toml()?,
            };
            let req = PolicyRequest {
                require_signatures: require,
                settings: text,
                reason: reason.clone(),
                actor: actor.clone(),
            };
            let r = flow::policy::set(&ctx.recorder(&ledger, Some(&signer))?, &req)?;
            ctx.notices(&r);
            let e = last_of(&r)?;
            let replaced = view.policy.as_ref().map(|p| p.seq);
            ctx.print(
                format!(
                    "policy recorded at seq {} (require_signatures {require}; in force from seq {}){}",
                    e.seq,
                    e.seq + 1,
                    replaced.map(|s| format!("; replaces the policy of seq {s}")).unwrap_or_default()
                ),
                &json!({"ok": true, "seq": e.seq, "hash": e.hash_hex(), "require_signatures": require,
                        "replaces_seq": replaced, "signer": signer.id()}),
            );
        }
        PolicyCmd::Show => {
            let (ledger, view) = ctx.verified()?;
            let cfg = ledger.config();
            let settings = cfg.signed_tables_toml()?;
            let (gate_sha, _) = flow::gate::policy_applied(&ledger);
            let human = match &view.policy {
                Some(p) => format!(
                    "signed policy of seq {} (hash {}): require_signatures {}\n{}",
                    p.seq,
                    hex::encode(p.hash),
                    p.require_signatures,
                    p.settings.trim_end()
                ),
                None => format!(
                    "no signed policy: config.toml's settings apply (record them with `ledger policy set --key KEY`): require_signatures {}\n{}",
                    cfg.require_signatures,
                    settings.trim_end()
                ),
            };
            ctx.print(
                human.trim_end(),
                &json!({"ok": true, "signed": view.policy.is_some(),
                        "seq": view.policy.as_ref().map(|p| p.seq),
                        "hash": view.policy.as_ref().map(|p| hex::encode(p.hash)),
                        "require_signatures": cfg.require_signatures, "settings": settings,
                        "trust_sha256": gate_sha}),
            );
        }
        PolicyCmd::Check {
            repo,
            rev,
            settings,
        } => {
            let policy = match settings {
                Some(p) => {
                    let text = audit_ledger::input::read_text_bounded(
                        p,
                        flow::policy::MAX_SETTINGS as u64,
                        "settings",
                    )?;
                    let table = audit_ledger::config::parse_settings(&text).map_err(|r| {
                        audit_ledger::error::Error::malformed(p.display().to_string(), r)
                    })?;
                    let trust = table
                        .get("trust")
                        .map(toml::to_string)
                        .transpose()
                        .map_err(|e| audit_ledger::error::Error::internal(e.to_string()))?
                        .unwrap_or_default();
                    audit_ledger::trust::Policy::from_toml(&trust)?
                }
                None => {
                    let (ledger, _view) = ctx.verified()?;
                    audit_ledger::trust::Policy::from_config(ledger.config())?
                }
            };
            let c = flow::policy_check::check(&policy, repo, rev)?;
            let mut human = format!(
                "{} finding(s) for {} file(s) at {}",
                c.findings.len(),
                c.files,
                c.commit
            );
            for f in &c.findings {
                human.push_str(&format!("\n  {}: {}", f.code, f.message));
                if !f.examples.is_empty() {
                    human.push_str(&format!(" (e.g. {})", f.examples.join(", ")));
                }
            }
            let list: Vec<_> = c
                .findings
                .iter()
                .map(|f| json!({"code": f.code, "gate": f.gate, "message": f.message, "examples": f.examples}))
                .collect();
            ctx.print(
                human,
                &json!({"ok": c.findings.is_empty(), "commit": c.commit, "files": c.files, "findings": list}),
            );
            return Ok(if c.findings.is_empty() { 0 } else { 1 });
        }
    }
    Ok(0)
}
