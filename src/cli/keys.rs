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
        after_help = "Examples:\n  ledger keys add ci.key.pub --key release.key\n  ledger keys add bob.key.pub --identity bob@example.org --key release.key\n  ledger keys add runner.key.pub --writer --key release.key   # a CI runner's key for `ledger serve`\n  ledger keys add ~/.ssh/id_ed25519.pub --git-signer --identity alice@example.org --key release.key\n\nThe first key of a ledger signs its own entry: --key is its private key.\nA git-signer key is a person's SSH key (ssh-ed25519) that signs their git commits\n(git -c gpg.format=ssh commit -S); it signs nothing in the ledger."
    )]
    Add {
        /// Public key file: one line of hex, or (with --git-signer) an OpenSSH public key line
        /// (`ssh-ed25519 AAAA… comment`, as in id_ed25519.pub).
        path: PathBuf,
        /// Name for the key (defaults to the ledger's origin).
        #[arg(long)]
        name: Option<String>,
        /// Whose key it is (e.g. alice@example.org): approvals signed with it count as that
        /// identity's, and only such approvals count towards a gate. With --git-signer
        /// (required): whose git commits its signatures establish.
        #[arg(long, value_name = "ID", conflicts_with = "writer")]
        identity: Option<String>,
        /// A writer key (`add-writer`): it signs a runner's submissions to `ledger serve` and
        /// never an entry or a checkpoint.
        #[arg(long)]
        writer: bool,
        /// A git-signer key (`add-git-signer`, needs --identity): an SSH key whose signatures
        /// on git commits establish that they are the identity's. It signs nothing in the
        /// ledger. Only ssh-ed25519 keys.
        #[arg(long, requires = "identity", conflicts_with_all = ["writer", "name"])]
        git_signer: bool,
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
            git_signer,
            actor,
        } => {
            let vk = if *git_signer {
                keys::openssh::load_public_any(path)?
            } else {
                keys::load_public(path)?
            };
            let signer = ctx.require_signer("keys add")?;
            let rec = ctx.recorder(&l, Some(&signer))?;
            let r = match (identity.as_deref(), *writer, *git_signer) {
                (_, true, _) => rec.add_writer_key(&vk, actor)?,
                (Some(who), _, true) => flow::keys::add_git_signer(&rec, &vk, who, actor)?,
                (who, _, _) => flow::keys::add_for(&rec, &vk, name.as_deref(), who, actor)?,
            };
            ctx.notices(&r);
            let e = last_of(&r)?;
            let id = keys::key_id(&vk);
            let role = match (*writer, *git_signer) {
                (true, _) => "writer",
                (_, true) => "git-signer",
                _ => "ledger",
            };
            let human = match identity.as_deref().filter(|_| *git_signer) {
                Some(who) => format!(
                    "git-signer key {id} ({}) trusted for {who}'s commits (seq {}, signed by {})",
                    keys::openssh::fingerprint(&vk),
                    e.seq,
                    signer.id()
                ),
                None => format!(
                    "key {id} trusted (seq {}, signed by {})",
                    e.seq,
                    signer.id()
                ),
            };
            let mut out = json!({"ok": true, "key_id": id, "seq": e.seq, "hash": e.hash_hex(), "signer": signer.id(), "role": role});
            if let (Some(who), Some(m)) = (identity.as_deref(), out.as_object_mut()) {
                m.insert("identity".into(), json!(who));
            }
            if let (true, Some(m)) = (*git_signer, out.as_object_mut()) {
                m.insert("fingerprint".into(), json!(keys::openssh::fingerprint(&vk)));
            }
            ctx.print(human, &out);
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
                .map(|k| {
                    let mut row = json!({"id": k.id, "public_key": hex::encode(k.public.as_bytes()), "name": name_of(&k.id),
                                         "revoked": k.revoked_at.is_some(), "added_at": k.added_at, "revoked_at": k.revoked_at,
                                         "root": root.as_deref() == Some(k.id.as_str()), "role": role_of(k)});
                    if let (Some(who), Some(m)) = (&k.git_signer, row.as_object_mut()) {
                        m.insert("identity".into(), json!(who));
                    }
                    row
                })
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
                let label = match &k.git_signer {
                    Some(who) => format!("git-signer for {who}"),
                    None if k.writer => format!("writer ({})", name_of(&k.id)),
                    None => name_of(&k.id),
                };
                human.push_str(&format!("{}  {state}{is_root}  {label}\n", k.id));
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

/// The role of a key as `keys list` and `keys add` name it.
fn role_of(k: &keys::history::KeyState) -> &'static str {
    if k.writer {
        "writer"
    } else if k.git_signer.is_some() {
        "git-signer"
    } else {
        "ledger"
    }
}
