//! `ledger keys add|list|show|revoke`.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::flow;
use audit_ledger::keys;
use clap::Subcommand;
use serde_json::{json, Value};

use super::append::last_of;
use super::Ctx;

/// `ledger keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Trust a public key (appends a `key add` entry signed with --key).
    #[command(
        after_help = "Examples:\n  ledger keys add ci.key.pub --key release.key\n  ledger keys add bob.key.pub --identity bob@example.org --key release.key\n  ledger keys add runner.key.pub --writer --key release.key   # a CI runner's key for `ledger serve`\n\nThe first key of a ledger signs its own entry: --key is its private key."
    )]
    Add {
        /// Public key file (one line of hex).
        path: PathBuf,
        /// Name for the key (defaults to the ledger's origin).
        #[arg(long)]
        name: Option<String>,
        /// Whose key it is (e.g. alice@example.org): approvals signed with it count as that
        /// identity's, and only such approvals count towards a gate.
        #[arg(long, value_name = "ID", conflicts_with = "writer")]
        identity: Option<String>,
        /// A writer key (`add-writer`): it signs a runner's submissions to `ledger serve` and
        /// never an entry or a checkpoint.
        #[arg(long)]
        writer: bool,
        /// Actor recorded in the entry.
        #[arg(long, default_value = "ledger/keys")]
        actor: String,
    },
    /// List the keys of the ledger's verified key history.
    List,
    /// Show one key; with --note, as a C2SP note verifier key (name+hash+base64).
    #[command(
        after_help = "Examples:\n  ledger keys show --note            # the only key, or the one given by --key\n  ledger keys show 1f2e3d4c5b6a7988 --note > log.vkey\n\nThe note name is the key's `name` in config.toml, or the origin."
    )]
    Show {
        /// Key id (default: the --key signer's, or the only trusted key).
        id: Option<String>,
        /// Print only the note verifier key.
        #[arg(long)]
        note: bool,
    },
    /// Revoke a key (appends a `key revoke` entry signed with --key).
    Revoke {
        /// Key id (16 hex).
        id: String,
        /// Actor recorded in the entry.
        #[arg(long, default_value = "ledger/keys")]
        actor: String,
    },
}

pub fn keys(ctx: &Ctx, cmd: &KeysCmd) -> Result<i32> {
    let l = ctx.ledger()?;
    match cmd {
        KeysCmd::Show { id, note } => return super::tlog::keys_show(ctx, &l, id.as_deref(), *note),
        KeysCmd::Add {
            path,
            name,
            identity,
            writer,
            actor,
        } => {
            let vk = keys::load_public(path)?;
            let signer = ctx.require_signer("keys add")?;
            let rec = ctx.recorder(&l, Some(&signer))?;
            let r = if *writer {
                rec.add_writer_key(&vk, actor)?
            } else {
                flow::keys::add_for(&rec, &vk, name.as_deref(), identity.as_deref(), actor)?
            };
            ctx.notices(&r);
            let e = last_of(&r)?;
            ctx.print(
                format!("key {} trusted (seq {}, signed by {})", keys::key_id(&vk), e.seq, signer.id()),
                &json!({"ok": true, "key_id": keys::key_id(&vk), "seq": e.seq, "hash": e.hash_hex(), "signer": signer.id()}),
            );
        }
        KeysCmd::List => {
            // The verified key history, not config.toml's list (which only names the keys).
            let (l, view) = ctx.verified()?;
            let cfg = l.config();
            let root = view.root_key().map(str::to_string);
            let name_of = |id: &str| {
                cfg.keys
                    .iter()
                    .find(|k| k.id == id)
                    .and_then(|k| k.name.clone())
                    .unwrap_or_else(|| cfg.origin.clone())
            };
            let rows: Vec<Value> = view
                .keys
                .iter()
                .map(|k| json!({"id": k.id, "public_key": hex::encode(k.public.as_bytes()), "name": name_of(&k.id),
                                 "revoked": k.revoked_at.is_some(), "added_at": k.added_at, "revoked_at": k.revoked_at,
                                 "root": root.as_deref() == Some(k.id.as_str())}))
                .collect();
            let mut human = String::new();
            for k in &view.keys {
                let is_root = if root.as_deref() == Some(k.id.as_str()) {
                    " (root)"
                } else {
                    ""
                };
                let state = match k.revoked_at {
                    Some(at) => format!("revoked at seq {at}"),
                    None => format!("trusted since seq {}", k.added_at),
                };
                human.push_str(&format!("{}  {state}{is_root}  {}\n", k.id, name_of(&k.id)));
            }
            if view.keys.is_empty() {
                human.push_str("no keys (add one with `ledger keys add KEY.pub --key KEY`)\n");
            }
            for k in cfg
                .keys
                .iter()
                .filter(|k| view.keys.iter().all(|v| v.id != k.id))
            {
                ctx.note(format!(
                    "config.toml lists key {}, which the ledger's key history does not have: it is not trusted",
                    k.id
                ));
            }
            ctx.print(human.trim_end(), &json!({"ok": true, "keys": rows}));
        }
        KeysCmd::Revoke { id, actor } => {
            let signer = ctx.require_signer("keys revoke")?;
            let r = flow::keys::revoke(&ctx.recorder(&l, Some(&signer))?, id, actor)?;
            ctx.notices(&r);
            let e = last_of(&r)?;
            ctx.print(
                format!("key {id} revoked (seq {}, signed by {})", e.seq, signer.id()),
                &json!({"ok": true, "key_id": id, "seq": e.seq, "hash": e.hash_hex(), "signer": signer.id()}),
            );
        }
    }
    Ok(0)
}
