//! Transparency-log commands: checkpoint, prove, verify-proof, witness; and the checkpoint
//! parts of `verify --checkpoint` and `keys show --note`.

use std::path::PathBuf;

use audit_ledger::error::{Error, Result};
use audit_ledger::flow::{
    self, proof::CosignRequest, proof::ProofRequest, proof::Proven, proof::TreeHead,
};
use audit_ledger::keys;
use audit_ledger::ledger::tlog;
use audit_ledger::ledger::Ledger;
use audit_ledger::merkle::{self, Hash};
use audit_ledger::note::{SignerKey, VerifierKey};
use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;

pub fn b64(h: &Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

fn parse_b64_hash(s: &str, what: &str) -> Result<Hash> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|_| super::usage(format!("{what}: not base64")))?;
    raw.try_into()
        .map_err(|_| super::usage(format!("{what}: not a 32-byte hash")))
}

/// `ledger checkpoint`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger checkpoint --key release.key\n  LEDGER_SIGNING_KEY=release.key ledger checkpoint --json\n\nWrites DIR/checkpoints/<size> and DIR/checkpoint (a C2SP checkpoint in a signed note).\nRefuses (exit 1) when the ledger does not extend the previous DIR/checkpoint."
)]
pub struct CheckpointArgs {}

pub fn checkpoint(ctx: &Ctx, _a: &CheckpointArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let signer = ctx.require_signer("checkpoint")?;
    let issued = flow::proof::checkpoint(&ctx.recorder(&ledger, Some(&signer))?)?;
    if let Some(m) = &issued.index_message {
        ctx.note(m);
    }
    let cp = &issued.checkpoint;
    ctx.print(
        format!("checkpoint: {} entries, root {} -> {}", cp.size, b64(&cp.root), issued.path.display()),
        &json!({"ok": true, "origin": cp.origin, "size": cp.size, "root": b64(&cp.root), "root_hex": hex::encode(cp.root),
                "path": issued.path, "note": issued.note}),
    );
    Ok(0)
}

/// `ledger prove ...`.
#[derive(Debug, Subcommand)]
pub enum ProveCmd {
    /// Inclusion proof of entry SEQ in the tree of the first M entries (default: all).
    #[command(
        after_help = "Examples:\n  ledger prove inclusion --seq 41 > proof.json\n  ledger prove inclusion --seq 41 --size 100\n\nPrints {\"leaf_index\",\"tree_size\",\"leaf_hash\",\"hashes\"} (RFC 9162 §2.1.3, hex)."
    )]
    Inclusion {
        /// Entry to prove.
        #[arg(long, value_name = "N")]
        seq: u64,
        /// Tree size (default: the whole ledger).
        #[arg(long, value_name = "M")]
        size: Option<u64>,
    },
    /// Consistency proof from the tree of M entries to the tree of N (default: all).
    #[command(
        after_help = "Examples:\n  ledger prove consistency --from 100 > proof.json\n  ledger prove consistency --from 100 --to 250\n\nPrints {\"old_size\",\"new_size\",\"hashes\"} (RFC 9162 §2.1.4, hex)."
    )]
    Consistency {
        /// Old tree size.
        #[arg(long, value_name = "M")]
        from: u64,
        /// New tree size (default: the whole ledger).
        #[arg(long, value_name = "N")]
        to: Option<u64>,
    },
}

pub fn prove(ctx: &Ctx, cmd: &ProveCmd) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let (out, msg) = match cmd {
        ProveCmd::Inclusion { seq, size } => {
            let (p, _root, msg) = tlog::prove_inclusion(&ledger, *seq, *size)?;
            (serde_json::to_string(&p), msg)
        }
        ProveCmd::Consistency { from, to } => {
            let (p, _old, _new, msg) = tlog::prove_consistency(&ledger, *from, *to)?;
            (serde_json::to_string(&p), msg)
        }
    };
    if let Some(m) = msg {
        ctx.note(m);
    }
    let v = out.map_err(|e| super::usage(format!("cannot encode proof: {e}")))?;
    // The proof is the output in both modes: people redirect it to a file.
    println!("{v}");
    Ok(0)
}

/// `ledger verify-proof`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger verify-proof --proof proof.json --checkpoint checkpoint --pubkey release.key.pub\n  ledger verify-proof --proof proof.json --root 3q2+7w0K...= --size 1234\n  ledger verify-proof --proof cons.json --root NEW= --size 250 --old-root OLD= --old-size 100\n  ledger verify-proof --proof cons.json --checkpoint new --old-checkpoint old --pubkey log.vkey\n\nNeeds no ledger. --pubkey is a PATH.pub (hex) or a note verifier key (name+hash+base64).\nExit 0 proven, 1 not proven, 2 bad input."
)]
pub struct VerifyProofArgs {
    /// Proof file (JSON from `ledger prove`).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// Signed checkpoint giving the (new) tree head.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["root", "size"])]
    pub checkpoint: Option<PathBuf>,
    /// Signed checkpoint giving the old tree head (consistency proofs).
    #[arg(long, value_name = "FILE", requires = "checkpoint", conflicts_with_all = ["old_root", "old_size"])]
    pub old_checkpoint: Option<PathBuf>,
    /// Key that signed the checkpoint(s): PATH.pub, or a note verifier key or a file holding one.
    #[arg(long, value_name = "KEY", requires = "checkpoint")]
    pub pubkey: Option<String>,
    /// Root hash (base64) of a bare tree head.
    #[arg(long, value_name = "BASE64", requires = "size")]
    pub root: Option<String>,
    /// Tree size of a bare tree head.
    #[arg(long, value_name = "N", requires = "root")]
    pub size: Option<u64>,
    /// Old root hash (base64), for consistency proofs.
    #[arg(long, value_name = "BASE64")]
    pub old_root: Option<String>,
    /// Old tree size, for consistency proofs (default: the proof's).
    #[arg(long, value_name = "M")]
    pub old_size: Option<u64>,
    /// Require the proven leaf to be this leaf hash (hex; an entry's `hash`).
    #[arg(long, value_name = "HEX")]
    pub leaf: Option<String>,
}

pub fn verify_proof(ctx: &Ctx, a: &VerifyProofArgs) -> Result<i32> {
    let head = match (&a.checkpoint, &a.root, a.size) {
        (Some(cp), _, _) => TreeHead::Checkpoint {
            path: cp.clone(),
            pubkey: a.pubkey.clone().ok_or_else(|| {
                super::usage("--checkpoint needs --pubkey PATH.pub (or a note verifier key)")
            })?,
        },
        (None, Some(r), Some(n)) => TreeHead::Bare {
            size: Some(n),
            root: parse_b64_hash(r, "--root")?,
        },
        _ => {
            return Err(super::usage(
                "give --checkpoint FILE --pubkey KEY, or --root BASE64 --size N",
            ))
        }
    };
    let old_head = match (&a.old_checkpoint, &a.old_root) {
        (Some(path), _) => Some(TreeHead::Checkpoint {
            path: path.clone(),
            pubkey: a.pubkey.clone().ok_or_else(|| {
                super::usage("--old-checkpoint needs --pubkey PATH.pub (or a note verifier key)")
            })?,
        }),
        (None, Some(r)) => Some(TreeHead::Bare {
            size: a.old_size,
            root: parse_b64_hash(r, "--old-root")?,
        }),
        (None, None) => None,
    };
    let leaf = a
        .leaf
        .as_deref()
        .map(|l| {
            merkle::parse_hex_hash(l)
                .ok_or_else(|| super::usage("--leaf: expected 64 lowercase hex characters"))
        })
        .transpose()?;
    let req = ProofRequest {
        proof: a.proof.clone(),
        head,
        old_head,
        leaf,
    };
    let proven = match flow::proof::verify_proof(&req) {
        Err(Error::Invalid { what, .. }) if what == "old_head" => {
            return Err(super::usage("a consistency proof needs the old tree head: --old-checkpoint FILE or --old-root BASE64"))
        }
        other => other?,
    };
    match proven {
        Proven::Inclusion {
            leaf_index,
            tree_size,
            root,
        } => ctx.print(
            format!("OK: entry {leaf_index} is in the tree of size {tree_size} (root {})", b64(&root)),
            &json!({"ok": true, "type": "inclusion", "leaf_index": leaf_index, "tree_size": tree_size, "root": b64(&root)}),
        ),
        Proven::Consistency {
            old_size,
            new_size,
            old_root,
            root,
        } => ctx.print(
            format!("OK: the tree of size {new_size} extends the tree of size {old_size}"),
            &json!({"ok": true, "type": "consistency", "old_size": old_size, "new_size": new_size, "root": b64(&root), "old_root": b64(&old_root)}),
        ),
    }
    Ok(0)
}

/// `ledger witness ...`.
#[derive(Debug, Subcommand)]
pub enum WitnessCmd {
    /// Cosign a checkpoint if it extends the last one cosigned for its origin.
    #[command(
        after_help = "Examples:\n  ledger witness cosign --checkpoint audit/checkpoint --witness-state witness-state --key witness.key --name w1 --proof cons.json\n  ledger witness cosign --checkpoint cp --witness-state st --key witness.note-key --log-key example.org/app+1a2b3c4d+AQ...\n\nThe witness key (--key) is a PKCS#8 PEM private key (name from --name) or a note signer key\n(PRIVATE+KEY+name+hash+base64). The log's key comes from --log-key, or from DIR/config.toml.\nWhen the tree grew since the last cosigned checkpoint, --proof is the consistency proof\n(`ledger prove consistency --from OLD --to NEW`). Exit 1 on a smaller tree or a fork."
    )]
    Cosign {
        /// Checkpoint to cosign (signed note).
        #[arg(long, value_name = "FILE")]
        checkpoint: PathBuf,
        /// Witness state directory (last cosigned checkpoint per origin; not the client state
        /// of `--state`).
        #[arg(id = "witness_state", long = "witness-state", value_name = "DIR")]
        state: PathBuf,
        /// Consistency proof from the last cosigned tree to this one.
        #[arg(long, value_name = "P")]
        proof: Option<PathBuf>,
        /// Witness name for a PEM key (default: its key id).
        #[arg(long)]
        name: Option<String>,
        /// The log's key: note verifier key (or a file holding it) or PATH.pub.
        #[arg(long, value_name = "KEY")]
        log_key: Option<String>,
        /// Write the cosigned note here (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the witness's verifier key (for `[witness] keys` in config.toml).
    #[command(after_help = "Example:\n  ledger witness key --key witness.key --name w1")]
    Key {
        /// Witness name for a PEM key (default: its key id).
        #[arg(long)]
        name: Option<String>,
    },
}

fn witness_signer(ctx: &Ctx, name: Option<&str>) -> Result<SignerKey> {
    let path = ctx
        .key
        .clone()
        .ok_or_else(|| super::usage("the witness needs its key: --key WITNESS_KEY"))?;
    flow::proof::witness_key(&path, name)
}

pub fn witness(ctx: &Ctx, cmd: &WitnessCmd) -> Result<i32> {
    match cmd {
        WitnessCmd::Key { name } => {
            let w = witness_signer(ctx, name.as_deref())?;
            let v = w.verifier().to_string();
            ctx.print(&v, &json!({"ok": true, "verifier_key": v}));
        }
        WitnessCmd::Cosign {
            checkpoint,
            state,
            proof,
            name,
            log_key,
            out,
        } => {
            let w = witness_signer(ctx, name.as_deref())?;
            let log_keys = match log_key {
                Some(spec) => flow::proof::log_keys_from(spec, checkpoint)?,
                None => {
                    if Ledger::open(&ctx.dir).is_err() {
                        return Err(super::usage(
                            "give the log's key with --log-key (no ledger at --dir to take it from)",
                        ));
                    }
                    // The keys of the ledger's verified key history, never config.toml's list.
                    let (ledger, view) = ctx.verified()?;
                    tlog::log_verifiers(ledger.config(), &view.keys)
                }
            };
            let req = CosignRequest {
                checkpoint: checkpoint.clone(),
                state: state.clone(),
                proof: proof.clone(),
                log_keys,
                out: out.clone(),
            };
            let cosigned = flow::proof::cosign(&req, &w)?;
            if out.is_none() && !ctx.json {
                print!("{cosigned}");
            }
            if ctx.json {
                ctx.print(
                    "",
                    &json!({"ok": true, "witness": w.verifier().to_string(), "note": cosigned}),
                );
            } else {
                ctx.note(format!("cosigned by {}", w.verifier()));
            }
        }
    }
    Ok(0)
}

/// `keys show [ID] --note`: a ledger key as a note verifier key.
pub fn keys_show(ctx: &Ctx, ledger: &Ledger, id: Option<&str>, as_note: bool) -> Result<i32> {
    let cfg = ledger.config();
    let rec = match id {
        Some(id) => cfg
            .keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| super::usage(format!("no key {id} in config.toml")))?,
        None => {
            let signer_id = ctx.signer()?.map(|s| s.id().to_string());
            let trusted: Vec<_> = cfg.keys.iter().filter(|k| !k.revoked).collect();
            match (signer_id, trusted.as_slice()) {
                (Some(sid), _) => cfg
                    .keys
                    .iter()
                    .find(|k| k.id == sid)
                    .ok_or_else(|| super::usage(format!("key {sid} is not in config.toml")))?,
                (None, [one]) => one,
                _ => {
                    return Err(super::usage(
                        "several keys: name one (ledger keys show ID --note)",
                    ))
                }
            }
        }
    };
    let vk = keys::parse_public_hex(&rec.public_key)
        .map_err(|e| super::usage(format!("key {}: {e}", rec.id)))?;
    let nv = VerifierKey::new(&tlog::note_name(cfg, &rec.id), vk)?;
    let human = if as_note {
        nv.to_string()
    } else {
        format!("{}  {}  {}", rec.id, rec.public_key, nv)
    };
    ctx.print(human, &json!({"ok": true, "id": rec.id, "public_key": rec.public_key, "note_key": nv.to_string(), "revoked": rec.revoked}));
    Ok(0)
}
