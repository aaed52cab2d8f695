//! Core commands: init, keygen, verify, log, show, repair.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::flow::{self, verify::CheckpointCheck};
use audit_ledger::keys::Signer;
use audit_ledger::ledger::body::Kind;
use audit_ledger::ledger::verify::Options;
use audit_ledger::ledger::{Entry, Ledger};
use clap::Args;
use serde_json::{json, Value};

use super::Ctx;

/// `ledger init`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ledger init --origin example.org/app --require-signatures")]
pub struct InitArgs {
    /// Origin name of the log (first line of its checkpoints), e.g. `example.org/app`.
    #[arg(long)]
    pub origin: String,
    /// Make unsigned entries invalid.
    #[arg(long)]
    pub require_signatures: bool,
}

pub fn init(ctx: &Ctx, a: &InitArgs) -> Result<i32> {
    let l = Ledger::init(&ctx.dir, &a.origin, a.require_signatures)?;
    ctx.print(
        format!("initialised ledger in {} (origin {})", l.dir().display(), a.origin),
        &json!({"ok": true, "dir": l.dir(), "origin": a.origin, "require_signatures": a.require_signatures}),
    );
    Ok(0)
}

/// `ledger keygen`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ledger keygen --name release --out ~/.config/ledger/release.key\n\nWrites PATH (PKCS#8 PEM, mode 0600) and PATH.pub (hex). Refuses to overwrite."
)]
pub struct KeygenArgs {
    /// Name of the key (used as the signer name in checkpoint notes).
    #[arg(long)]
    pub name: String,
    /// Where to write the private key; the public key goes to PATH.pub.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
}

pub fn keygen(ctx: &Ctx, a: &KeygenArgs) -> Result<i32> {
    let s = Signer::generate()?;
    let pub_path = s.write(&a.out)?;
    ctx.print(
        format!(
            "key {} ({}) written: private {} (0600), public {}",
            s.id(),
            a.name,
            a.out.display(),
            pub_path.display()
        ),
        &json!({"ok": true, "key_id": s.id(), "name": a.name, "private": a.out, "public": pub_path,
                "public_key": hex::encode(s.public().as_bytes())}),
    );
    Ok(0)
}

/// `ledger verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger verify\n  ledger verify --json\n  ledger --dir /srv/audit verify --from 100000\n  ledger verify --checkpoint trusted/checkpoint          # must extend a checkpoint saved elsewhere\n  ledger verify --checkpoint cosigned --witnesses 2     # and carry 2 trusted witness cosignatures\n\nExit 0 when valid; 1 with the first bad line, seq and reason; 2 when the ledger cannot be read."
)]
pub struct VerifyArgs {
    /// Check signatures only from this seq on (hashes and chain are still checked throughout).
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub from: u64,
    /// Treat unsigned entries as invalid even if config.toml does not require signatures.
    #[arg(long)]
    pub require_signatures: bool,
    /// A trusted checkpoint (from a bundle, a tag, a witness): the ledger must extend it.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Extra key for the checkpoint's signature: PATH.pub or a note verifier key.
    #[arg(long, value_name = "KEY", requires = "checkpoint")]
    pub pubkey: Option<String>,
    /// Require N cosignatures by trusted witnesses (`[witness]` keys in config.toml).
    #[arg(long, value_name = "N", requires = "checkpoint")]
    pub witnesses: Option<usize>,
}

pub fn verify(ctx: &Ctx, a: &VerifyArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let opts = Options {
        require_signatures: a.require_signatures,
        signatures_from: a.from,
        collect_leaves: true,
        end: None,
    };
    // A bar for ledgers large enough to take a while (a few MiB verify in a blink).
    let bar = std::cell::OnceCell::new();
    let mut progress = |done: u64, total: u64| {
        if total > 8 << 20 {
            bar.get_or_init(|| ctx.bar("verifying", total, true))
                .set_position(done);
        }
    };
    let started = std::time::Instant::now();
    let check = a.checkpoint.as_ref().map(|path| CheckpointCheck {
        path: path.clone(),
        pubkey: a.pubkey.clone(),
        witnesses: a.witnesses,
    });
    let view = ctx.view_options()?;
    let result = flow::verify::verify_with(&ledger, &opts, check.as_ref(), &view, &mut progress);
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    let o = result?;
    if let Some(m) = &o.index_notice {
        ctx.note(m);
    }
    for m in &o.state_notices {
        ctx.note(m);
    }
    let s = &o.summary;
    let (against, against_human) = match &o.against {
        Some(c) => (
            Some(
                json!({"path": c.path, "size": c.size, "root": super::tlog::b64(&c.root),
                        "witnesses": c.witnesses, "ledger_root": super::tlog::b64(&c.ledger_root)}),
            ),
            format!(
                "; extends checkpoint {} (size {}, root {}, {} witness cosignature(s))",
                c.path.display(),
                c.size,
                super::tlog::b64(&c.root),
                c.witnesses
            ),
        ),
        None => (None, String::new()),
    };
    let secs = started.elapsed().as_secs_f64();
    let head = s.head.map(hex::encode);
    ctx.print(
        format!(
            "{}: {} entries, {} signatures checked{}, {} unsigned; head {}; root key {}{}{} ({:.2} s)",
            ctx.paint("OK", super::Tone::Good),
            s.entries,
            s.signatures_checked,
            match s.submissions {
                0 => String::new(),
                n => format!(" (and {n} runners' submission signatures)"),
            },
            s.unsigned,
            head.as_deref().unwrap_or("(empty)"),
            s.root_key.as_deref().unwrap_or("(none)"),
            match o.beside.len() {
                0 => String::new(),
                1 => "; 1 signed checkpoint beside it".to_string(),
                n => format!("; {n} signed checkpoints beside it"),
            },
            against_human,
            secs
        ),
        &json!({"ok": true, "entries": s.entries, "signatures_checked": s.signatures_checked, "submissions_checked": s.submissions, "unsigned": s.unsigned,
                "head": head, "root_key": s.root_key, "keys": s.keys, "bytes": s.bytes, "checkpoint": against,
                "checkpoints_beside": o.beside.iter().map(|b| json!({"path": b.path, "size": b.size})).collect::<Vec<_>>(),
                "state": o.state_file}),
    );
    Ok(0)
}

/// `ledger log`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger log --kind deploy --since 2026-11-01\n  ledger log --since 12h\n  ledger log --actor ci/build-7 --json   # one JSON entry per line"
)]
pub struct LogArgs {
    /// Only this kind.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only entries at or after this time: a duration back from now (30d, 12h, 2w) or a time
    /// (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DUR|TIME")]
    pub since: Option<String>,
    /// At most this many entries (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `--since` as an entry timestamp, which compares as text with entries' `ts`.
fn since_ts(s: &str) -> Result<String> {
    let now = chrono::Utc::now().timestamp_millis();
    let t = audit_ledger::time::parse_since(s, now).map_err(super::for_flag("--since"))?;
    Ok(audit_ledger::time::format_ts(t))
}

fn summary_of(e: &Entry) -> String {
    let f = |k: &str| {
        e.body
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    match e.kind {
        Kind::Merge => format!(
            "{} {} → {} by {}",
            f("merge_commit"),
            f("source"),
            f("target"),
            f("author")
        ),
        Kind::Approval => format!("{} {}", f("decision"), f("subject")),
        Kind::Deploy => format!(
            "{} {} to {} ({})",
            f("status"),
            f("version"),
            f("env"),
            f("commit")
        ),
        Kind::Rollback => format!(
            "{} {} → {} ({})",
            f("env"),
            f("from_version"),
            f("to_version"),
            f("trigger")
        ),
        Kind::Drill => format!("{} {} ({})", f("outcome"), f("target"), f("check")),
        Kind::Bundle => format!("{} manifest {}", f("version"), f("manifest_sha256")),
        Kind::Key => format!("{} {}", f("action"), f("key_id")),
        Kind::Event => f("type"),
        Kind::Incident => {
            let cause = match e.body.get("caused_by_seq").and_then(Value::as_u64) {
                Some(n) => format!(", caused by seq {n}"),
                None => String::new(),
            };
            format!("{} {} in {}{cause}", f("status"), f("incident"), f("env"))
        }
        Kind::Policy => format!(
            "require_signatures {}",
            e.body
                .get("require_signatures")
                .map(|v| v.to_string())
                .unwrap_or_default()
        ),
    }
}

pub fn log(ctx: &Ctx, a: &LogArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let kind = match &a.kind {
        Some(k) => Some(
            Kind::parse(k).ok_or_else(|| super::usage(format!("--kind: unknown kind `{k}`")))?,
        ),
        None => None,
    };
    let since = a.since.as_deref().map(since_ts).transpose()?;
    let mut selected: std::collections::VecDeque<Entry> = std::collections::VecDeque::new();
    ledger.scan(|e| {
        let keep = kind.is_none_or(|k| e.kind == k)
            && a.actor.as_ref().is_none_or(|act| &e.actor == act)
            && since.as_ref().is_none_or(|s| e.ts.as_str() >= s.as_str());
        if keep {
            selected.push_back(e);
            if a.limit.is_some_and(|n| selected.len() > n) {
                selected.pop_front();
            }
        }
        Ok(())
    })?;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for e in &selected {
        let r = if ctx.json {
            writeln!(out, "{}", e.to_value())
        } else if ctx.quiet {
            Ok(())
        } else {
            writeln!(
                out,
                "{:>6}  {}  {:<8}  {:<16}  {}",
                e.seq,
                e.ts,
                e.kind.as_str(),
                e.actor,
                summary_of(e)
            )
        };
        if r.is_err() {
            break; // stdout closed (e.g. piped into head): stop quietly.
        }
    }
    let _ = out.flush();
    Ok(0)
}

/// `ledger show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Sequence number.
    pub seq: u64,
}

pub fn show(ctx: &Ctx, a: &ShowArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let mut found = None;
    ledger.scan(|e| {
        if e.seq == a.seq {
            found = Some(e);
        }
        Ok(())
    })?;
    let e = found.ok_or_else(|| super::usage(format!("no entry with seq {}", a.seq)))?;
    let v = e.to_value();
    ctx.print(serde_json::to_string_pretty(&v).unwrap_or_default(), &v);
    Ok(0)
}

/// `ledger repair`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  ledger repair --torn-tail\n\nMoves the bytes after the last newline (an interrupted append) to ledger.jsonl.torn-<time>-<offset>.\nComplete entries are never touched."
)]
pub struct RepairArgs {
    /// Move an incomplete last line aside.
    #[arg(long, required = true)]
    pub torn_tail: bool,
}

pub fn repair(ctx: &Ctx, _a: &RepairArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    match ledger.repair_torn_tail()? {
        None => ctx.print("nothing to repair: the ledger ends with a complete line", &json!({"ok": true, "repaired": false})),
        Some(r) => ctx.print(
            format!("moved {} torn bytes at offset {} to {}", r.len, r.offset, r.saved_to.display()),
            &json!({"ok": true, "repaired": true, "offset": r.offset, "len": r.len, "saved_to": r.saved_to}),
        ),
    }
    Ok(0)
}
