//! Core commands: init, keygen, keys, append, verify, log, show, repair.

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;

use audit_ledger::error::{Error, Result};
use audit_ledger::keys::{self, Signer};
use audit_ledger::ledger::body::{required_fields, Kind};
use audit_ledger::ledger::verify::{self, Options};
use audit_ledger::ledger::{Draft, Entry, Ledger};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

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

/// `ledger keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Trust a public key (appends a `key add` entry signed with --key).
    #[command(
        after_help = "Example:\n  ledger keys add ci.key.pub --key release.key\n\nThe first key of a ledger signs its own entry: --key is its private key."
    )]
    Add {
        /// Public key file (one line of hex).
        path: PathBuf,
        /// Name for the key (defaults to the ledger's origin).
        #[arg(long)]
        name: Option<String>,
        /// Actor recorded in the entry.
        #[arg(long, default_value = "ledger/keys")]
        actor: String,
    },
    /// List keys in config.toml.
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
    let mut l = ctx.ledger()?;
    match cmd {
        KeysCmd::Show { id, note } => return super::tlog::keys_show(ctx, &l, id.as_deref(), *note),
        KeysCmd::Add { path, name, actor } => {
            let vk = keys::load_public(path)?;
            let signer = ctx.require_signer("keys add")?;
            let e = l.add_key(&vk, name.as_deref(), &signer, actor)?;
            ctx.print(
                format!("key {} trusted (seq {}, signed by {})", keys::key_id(&vk), e.seq, signer.id()),
                &json!({"ok": true, "key_id": keys::key_id(&vk), "seq": e.seq, "hash": e.hash_hex(), "signer": signer.id()}),
            );
        }
        KeysCmd::List => {
            let cfg = l.config();
            let rows: Vec<Value> = cfg
                .keys
                .iter()
                .map(|k| json!({"id": k.id, "public_key": k.public_key, "name": k.name, "revoked": k.revoked,
                                 "root": cfg.root_key.as_deref() == Some(k.id.as_str())}))
                .collect();
            let mut human = String::new();
            for k in &cfg.keys {
                let root = if cfg.root_key.as_deref() == Some(k.id.as_str()) {
                    " (root)"
                } else {
                    ""
                };
                let state = if k.revoked { "revoked" } else { "trusted" };
                human.push_str(&format!(
                    "{}  {state}{root}  {}\n",
                    k.id,
                    k.name.as_deref().unwrap_or(&cfg.origin)
                ));
            }
            if cfg.keys.is_empty() {
                human.push_str("no keys (add one with `ledger keys add KEY.pub --key KEY`)\n");
            }
            ctx.print(human.trim_end(), &json!({"ok": true, "keys": rows}));
        }
        KeysCmd::Revoke { id, actor } => {
            let signer = ctx.require_signer("keys revoke")?;
            let e = l.revoke_key(id, &signer, actor)?;
            ctx.print(
                format!("key {id} revoked (seq {}, signed by {})", e.seq, signer.id()),
                &json!({"ok": true, "key_id": id, "seq": e.seq, "hash": e.hash_hex(), "signer": signer.id()}),
            );
        }
    }
    Ok(0)
}

/// `ledger append`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger append deploy --actor ci/build-7 --env production --version v1.2.3 --commit abc123 --status succeeded\n  ledger append deploy --actor ci --env production --version v1.2.3 --commit $(git rev-parse HEAD) --status succeeded --repo . --strategy canary --percent 10\n  ledger append rollback --actor oncall --env production --from-version v1.2.3 --to-version v1.2.2 --trigger error-rate --undoes v1.2.3 --trigger-type manual\n  ledger append event --actor ci --body '{\"type\":\"lint\",\"data\":{\"warnings\":0}}'\n  ledger append --batch steps.jsonl      # JSONL of {\"kind\",\"actor\",\"body\"}; one lock, one fsync\n\nFlags set body fields; --body gives the rest (JSON, @FILE or - for stdin). Flags win over --body.\nWith a signing key, DIR/checkpoint is refreshed after the append (unless --no-checkpoint)."
)]
pub struct AppendArgs {
    /// Kind: merge, approval, deploy, rollback, drill, bundle, key, event.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub kind: Option<String>,
    /// Who records the entry (e.g. `ci/build-7`).
    #[arg(long, required_unless_present = "batch")]
    pub actor: Option<String>,
    /// Body as JSON, @FILE, or - for stdin.
    #[arg(long, value_name = "JSON|@FILE|-")]
    pub body: Option<String>,
    /// Append a JSONL batch of {"kind","actor","body"} objects (FILE or - for stdin).
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["actor", "body"])]
    pub batch: Option<String>,
    /// With --key, do not refresh DIR/checkpoint after appending (run `ledger checkpoint` later).
    #[arg(long)]
    pub no_checkpoint: bool,
    #[command(flatten)]
    pub fields: FieldFlags,
}

/// Kind-specific flags; each sets the body field of the same name (dashes become underscores).
#[derive(Debug, Args, Default)]
pub struct FieldFlags {
    /// deploy/rollback: environment.
    #[arg(long)]
    pub env: Option<String>,
    /// deploy/bundle: version.
    #[arg(long = "version", value_name = "VERSION")]
    pub version_: Option<String>,
    /// deploy: commit deployed.
    #[arg(long)]
    pub commit: Option<String>,
    /// deploy: started, succeeded or failed.
    #[arg(long)]
    pub status: Option<String>,
    /// deploy: strategy (blue-green, canary, rolling, recreate).
    #[arg(long)]
    pub strategy: Option<String>,
    /// deploy: share of traffic for a canary, 0-100.
    #[arg(long, value_name = "N")]
    pub percent: Option<u64>,
    /// deploy: git repository; records what the deploy ships (commits and merges since the
    /// previous successful deploy of the env).
    #[arg(long, value_name = "R")]
    pub repo: Option<PathBuf>,
    /// rollback: the deploy undone, by seq or by version (default: the newest succeeded deploy
    /// of --from-version to --env).
    #[arg(long, value_name = "SEQ|VERSION")]
    pub undoes: Option<String>,
    /// rollback: auto or manual.
    #[arg(long, value_name = "auto|manual")]
    pub trigger_type: Option<String>,
    /// rollback: version rolled back from.
    #[arg(long)]
    pub from_version: Option<String>,
    /// rollback: version rolled back to.
    #[arg(long)]
    pub to_version: Option<String>,
    /// rollback: what triggered it (e.g. error-rate, health-check, manual).
    #[arg(long)]
    pub trigger: Option<String>,
    /// merge: author of the change.
    #[arg(long)]
    pub author: Option<String>,
    /// merge: source ref.
    #[arg(long)]
    pub source: Option<String>,
    /// merge: target ref.
    #[arg(long)]
    pub target: Option<String>,
    /// merge: source commit.
    #[arg(long)]
    pub source_commit: Option<String>,
    /// merge: target commit.
    #[arg(long)]
    pub target_commit: Option<String>,
    /// merge: merge commit.
    #[arg(long)]
    pub merge_commit: Option<String>,
    /// merge: changed path (repeatable).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
    /// approval: what is approved.
    #[arg(long)]
    pub subject: Option<String>,
    /// approval: allow or deny.
    #[arg(long)]
    pub decision: Option<String>,
    /// approval: reason (repeatable).
    #[arg(long = "reason", value_name = "TEXT")]
    pub reasons: Vec<String>,
    /// event: type of the event.
    #[arg(long = "type", value_name = "TYPE")]
    pub type_: Option<String>,
    /// event: data object (JSON).
    #[arg(long, value_name = "JSON")]
    pub data: Option<String>,
}

impl FieldFlags {
    /// The flags that were given, as (field, value) pairs.
    fn given(&self) -> Result<Vec<(&'static str, Value)>> {
        let mut out: Vec<(&'static str, Value)> = Vec::new();
        let strs: [(&'static str, &Option<String>); 18] = [
            ("env", &self.env),
            ("version", &self.version_),
            ("commit", &self.commit),
            ("status", &self.status),
            ("strategy", &self.strategy),
            ("trigger_type", &self.trigger_type),
            ("from_version", &self.from_version),
            ("to_version", &self.to_version),
            ("trigger", &self.trigger),
            ("author", &self.author),
            ("source", &self.source),
            ("target", &self.target),
            ("source_commit", &self.source_commit),
            ("target_commit", &self.target_commit),
            ("merge_commit", &self.merge_commit),
            ("subject", &self.subject),
            ("decision", &self.decision),
            ("type", &self.type_),
        ];
        for (name, v) in strs {
            if let Some(s) = v {
                out.push((name, Value::from(s.clone())));
            }
        }
        if let Some(p) = self.percent {
            out.push(("percent", json!(p)));
        }
        if !self.paths.is_empty() {
            out.push(("paths", json!(self.paths)));
        }
        if !self.reasons.is_empty() {
            out.push(("reasons", json!(self.reasons)));
        }
        if let Some(d) = &self.data {
            let v: Value = serde_json::from_str(d)
                .map_err(|e| Error::input(format!("--data: invalid JSON: {e}")))?;
            out.push(("data", v));
        }
        Ok(out)
    }
}

/// Optional fields each kind knows besides its required ones (flags for other fields are
/// refused, to catch typos such as `--env` on a merge).
fn optional_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Deploy => &["strategy", "percent"],
        Kind::Rollback => &["trigger_type", "reason"],
        _ => &[],
    }
}

fn read_source(spec: &str, what: &str) -> Result<String> {
    if spec == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::input(format!("{what}: reading stdin: {e}")))?;
        Ok(s)
    } else if let Some(p) = spec.strip_prefix('@') {
        std::fs::read_to_string(p).map_err(|e| Error::input(format!("{what}: {p}: {e}")))
    } else {
        Ok(spec.to_string())
    }
}

fn read_path_or_stdin(spec: &str, what: &str) -> Result<String> {
    if spec == "-" {
        read_source(spec, what)
    } else {
        std::fs::read_to_string(spec).map_err(|e| Error::input(format!("{what}: {spec}: {e}")))
    }
}

/// Build a draft from the single-entry form of `append`.
pub fn draft_from_args(
    kind: &str,
    actor: &str,
    body: Option<&str>,
    fields: &FieldFlags,
) -> Result<Draft> {
    let kind = Kind::parse(kind).ok_or_else(|| {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        Error::input(format!(
            "unknown kind `{kind}` (expected one of {})",
            all.join(", ")
        ))
    })?;
    let mut map = match body {
        None => Map::new(),
        Some(spec) => {
            let text = read_source(spec, "--body")?;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err(Error::input("--body: expected a JSON object")),
                Err(e) => return Err(Error::input(format!("--body: invalid JSON: {e}"))),
            }
        }
    };
    for (name, v) in fields.given()? {
        // A rollback has one free-text `reason`; --reason fills it.
        let (name, v) = match (kind, name, &v) {
            (Kind::Rollback, "reasons", Value::Array(a)) => {
                let parts: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                ("reason", Value::from(parts.join("; ")))
            }
            _ => (name, v),
        };
        let known = required_fields(kind).iter().any(|(f, _)| *f == name)
            || optional_fields(kind).contains(&name);
        if !known {
            return Err(Error::input(format!(
                "--{} does not apply to kind `{kind}` (put extra fields in --body)",
                name.replace('_', "-")
            )));
        }
        map.insert(name.to_string(), v);
    }
    Ok(Draft {
        kind,
        actor: actor.to_string(),
        body: Value::Object(map),
    })
}

/// Parse a JSONL batch; errors name the batch line (the first bad line, in order). Lines are
/// parsed and checked in parallel.
pub fn parse_batch(text: &str, source: &str) -> Result<Vec<Draft>> {
    use rayon::prelude::*;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(Error::input(format!("{source}: no entries in batch")));
    }
    let parsed: Vec<std::result::Result<Draft, String>> = lines
        .par_iter()
        .map(|(i, l)| parse_batch_line(l).map_err(|e| format!("{source}: line {}: {e}", i + 1)))
        .collect();
    parsed
        .into_iter()
        .map(|r| r.map_err(Error::input))
        .collect()
}

fn parse_batch_line(line: &str) -> std::result::Result<Draft, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut obj) = v else {
        return Err("expected an object".into());
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["kind", "actor", "body"].contains(&k.as_str()))
    {
        return Err(format!("unknown field `{k}` (expected kind, actor, body)"));
    }
    let kind_s = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("kind: expected a string")?;
    let kind = Kind::parse(kind_s).ok_or_else(|| format!("kind: unknown kind `{kind_s}`"))?;
    let actor = obj
        .get("actor")
        .and_then(Value::as_str)
        .ok_or("actor: expected a string")?
        .to_string();
    let body = obj.remove("body").unwrap_or_else(|| json!({}));
    Entry::check_draft(kind, &actor, &body).map_err(|e| e.reason)?;
    Ok(Draft { kind, actor, body })
}

pub fn append(ctx: &Ctx, a: &AppendArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let drafts = match (&a.batch, &a.kind, &a.actor) {
        (Some(spec), _, _) => {
            let text = read_path_or_stdin(spec, "--batch")?;
            parse_batch(&text, if spec == "-" { "stdin" } else { spec })?
        }
        (None, Some(kind), Some(actor)) => {
            vec![draft_from_args(kind, actor, a.body.as_deref(), &a.fields)?]
        }
        _ => return Err(Error::input("give KIND and --actor, or --batch FILE")),
    };
    let signer = ctx.signer()?;
    let attributed = drafts.len() == 1
        && drafts
            .first()
            .is_some_and(|d| matches!(d.kind, Kind::Deploy | Kind::Rollback));
    if a.fields.repo.is_some()
        && !drafts
            .first()
            .is_some_and(|d| d.kind == Kind::Deploy && a.batch.is_none())
    {
        return Err(Error::input("--repo applies to `append deploy` only"));
    }
    if a.fields.undoes.is_some()
        && !drafts
            .first()
            .is_some_and(|d| d.kind == Kind::Rollback && a.batch.is_none())
    {
        return Err(Error::input("--undoes applies to `append rollback` only"));
    }
    if attributed && a.batch.is_none() {
        let attr = super::trust::Attribution {
            repo: a.fields.repo.clone(),
            undoes: a.fields.undoes.clone(),
        };
        let draft = drafts
            .into_iter()
            .next()
            .ok_or_else(|| Error::input("nothing to append"))?;
        let entries = super::trust::append_attributed(
            &ledger,
            draft,
            &attr,
            signer.as_ref(),
            !a.no_checkpoint,
        )?;
        report_appended(ctx, &entries);
        return Ok(0);
    }
    let entries = if a.no_checkpoint {
        ledger.append(drafts, signer.as_ref())?
    } else {
        append_drafts(&ledger, drafts, signer.as_ref())?
    };
    report_appended(ctx, &entries);
    Ok(0)
}

/// Append drafts; the single place the CLI appends, so later features (index, checkpoint
/// refresh) hook in here and in the library.
///
/// With a signer, the checkpoint is refreshed under the same lock; if that fails the entries
/// are still appended, and the error says so.
pub fn append_drafts(
    ledger: &Ledger,
    drafts: Vec<Draft>,
    signer: Option<&Signer>,
) -> Result<Vec<Entry>> {
    let mut locked = ledger.lock()?;
    let entries = locked.append(drafts, signer)?;
    refresh_checkpoint(&locked, signer, &entries)?;
    Ok(entries)
}

/// With a signer and new entries, refresh DIR/checkpoint under the append lock. The entries
/// are appended whatever happens here, so a failure says so.
pub fn refresh_checkpoint(
    locked: &audit_ledger::ledger::store::Locked<'_>,
    signer: Option<&Signer>,
    entries: &[Entry],
) -> Result<()> {
    if let (Some(s), Some(first), Some(last)) = (signer, entries.first(), entries.last()) {
        let done = format!(
            "appended seq {}..={}, but the checkpoint was not refreshed",
            first.seq, last.seq
        );
        super::tlog::refresh_after_append(locked, s).map_err(|e| match e {
            Error::Verify { file, mut failure } => {
                failure.reason = format!("{done}: {}", failure.reason);
                Error::Verify { file, failure }
            }
            other => Error::input(format!("{done}: {other}")),
        })?;
    }
    Ok(())
}

/// Print what was appended: the entry for one, a summary for a batch.
pub fn report_appended(ctx: &Ctx, entries: &[Entry]) {
    match entries {
        [] => {}
        [e] => ctx.print(format!("appended seq {} ({}) hash {}", e.seq, e.kind, e.hash_hex()), &e.to_value()),
        [first, .., last] => ctx.print(
            format!("appended {} entries, seq {}..={}, head {}", entries.len(), first.seq, last.seq, last.hash_hex()),
            &json!({"ok": true, "appended": entries.len(), "first_seq": first.seq, "last_seq": last.seq, "head": last.hash_hex()}),
        ),
    }
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
    };
    let show = !ctx.quiet && !ctx.json && std::io::stderr().is_terminal();
    let mut last_pct = u64::MAX;
    let mut progress = |done: u64, total: u64| {
        if show && total > 64 << 20 {
            let pct = done * 100 / total.max(1);
            if pct != last_pct {
                eprint!(
                    "\rverifying… {pct}% ({} MiB of {} MiB)",
                    done >> 20,
                    total >> 20
                );
                last_pct = pct;
            }
        }
    };
    let started = std::time::Instant::now();
    let result = verify::verify(&ledger, &opts, &mut progress);
    if show && last_pct != u64::MAX {
        eprintln!();
    }
    let s = result?;
    let (against, against_human) = match &a.checkpoint {
        Some(cp) => {
            let (v, h) = super::tlog::verify_against_checkpoint(
                &ledger,
                &s.leaves,
                cp,
                a.pubkey.as_deref(),
                a.witnesses,
            )?;
            (Some(v), format!("; {h}"))
        }
        None => (None, String::new()),
    };
    // ledger.idx is derived and never trusted: compare every stored hash with the ledger's.
    // Best effort: a read-only copy of a ledger still verifies.
    match audit_ledger::ledger::tlog::check_index(&ledger, &s.leaves) {
        Ok(Some(m)) => ctx.note(m),
        Ok(None) => {}
        Err(e) => ctx.note(format!("ledger.idx not checked: {e}")),
    }
    let secs = started.elapsed().as_secs_f64();
    let head = s.head.map(hex::encode);
    ctx.print(
        format!(
            "OK: {} entries, {} signatures checked, {} unsigned; head {}; root key {}{} ({:.2} s)",
            s.entries,
            s.signatures_checked,
            s.unsigned,
            head.as_deref().unwrap_or("(empty)"),
            s.root_key.as_deref().unwrap_or("(none)"),
            against_human,
            secs
        ),
        &json!({"ok": true, "entries": s.entries, "signatures_checked": s.signatures_checked, "unsigned": s.unsigned,
                "head": head, "root_key": s.root_key, "keys": s.keys, "bytes": s.bytes, "checkpoint": against}),
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
    }
}

pub fn log(ctx: &Ctx, a: &LogArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let kind = match &a.kind {
        Some(k) => Some(
            Kind::parse(k).ok_or_else(|| Error::input(format!("--kind: unknown kind `{k}`")))?,
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
    let ledger = ctx.ledger()?;
    let mut found = None;
    ledger.scan(|e| {
        if e.seq == a.seq {
            found = Some(e);
        }
        Ok(())
    })?;
    let e = found.ok_or_else(|| Error::input(format!("no entry with seq {}", a.seq)))?;
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
