//! `ledger append`: one entry from flags and `--body`, or a batch (`--batch`), through the
//! append use case.

use std::path::PathBuf;

use audit_ledger::error::{Error, Result};
use audit_ledger::flow::{self, attribution::Attribution};
use audit_ledger::input;
use audit_ledger::ledger::batch;
use audit_ledger::ledger::body::{optional_fields, required_fields, Kind};
use audit_ledger::ledger::{Draft, Entry};
use clap::Args;
use serde_json::{json, Map, Value};

use super::Ctx;

/// `ledger append`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger append deploy --actor ci/build-7 --env production --version v1.2.3 --commit abc123 --status succeeded\n  ledger append deploy --actor ci --env production --version v1.2.3 --commit $(git rev-parse HEAD) --status succeeded --repo . --strategy canary --percent 10\n  ledger append rollback --actor oncall --env production --from-version v1.2.3 --to-version v1.2.2 --trigger error-rate --undoes v1.2.3 --trigger-type manual\n  ledger append incident --actor oncall --env production --incident INC-7 --status opened --severity sev2 --caused-by v1.2.3 --external-id https://pager.example/INC-7\n  ledger append incident --actor oncall --env production --incident INC-7 --status resolved\n  ledger append event --actor ci --body '{\"type\":\"lint\",\"data\":{\"warnings\":0}}'\n  ledger append --batch steps.jsonl      # JSONL of {\"kind\",\"actor\",\"body\"}; one lock, one fsync\n  ledger append event --actor ci/job-9 --type test --git origin --key ci.key   # on the ref refs/audit/ledger (docs/git.md)\n\nFlags set body fields; --body gives the rest (JSON, @FILE or - for stdin). Flags win over --body.\nWith a signing key, DIR/checkpoint is refreshed after the append (unless --no-checkpoint)."
)]
pub struct AppendArgs {
    /// Kind: merge, approval, deploy, rollback, incident, drill, bundle, key, event.
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
    /// With --remote: the submission id (idempotency key; a batch uses ID.1, ID.2, …).
    /// Default: a random one. Resubmitting the same id and content returns the same entry.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    #[command(flatten)]
    pub git: super::sync::GitArgs,
    #[command(flatten)]
    pub fields: FieldFlags,
}

/// Kind-specific flags; each sets the body field of the same name (dashes become underscores).
#[derive(Debug, Args, Default)]
pub struct FieldFlags {
    /// deploy/rollback/incident: environment.
    #[arg(long)]
    pub env: Option<String>,
    /// deploy/bundle: version.
    #[arg(long = "version", value_name = "VERSION")]
    pub version_: Option<String>,
    /// deploy: commit deployed.
    #[arg(long)]
    pub commit: Option<String>,
    /// deploy: started, succeeded or failed; incident: opened or resolved.
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
    /// rollback: the deploy undone, by seq or by version (default: the newest succeeded or
    /// failed deploy of --from-version to --env).
    #[arg(long, value_name = "SEQ|VERSION")]
    pub undoes: Option<String>,
    /// incident: its id (e.g. INC-7), shared by its opened and resolved entries.
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,
    /// incident: severity (e.g. sev2).
    #[arg(long)]
    pub severity: Option<String>,
    /// incident: the deploy that caused it, by seq or by version (the newest succeeded or
    /// failed deploy of that version to --env); recorded as caused_by_seq.
    #[arg(long, value_name = "SEQ|VERSION")]
    pub caused_by: Option<String>,
    /// incident: the pager alert or issue tracking it (an id or URL).
    #[arg(long, value_name = "ID|URL")]
    pub external_id: Option<String>,
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
    /// merge: target ref; approval: the branch the approved commit goes to.
    #[arg(long)]
    pub target: Option<String>,
    /// merge: source commit; approval: the commit approved (full id): the approval counts
    /// for that commit's merge only.
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
    /// approval: a label for people (e.g. PR-42); what counts is the change it names
    /// (--source-commit [--target], --diff-sha256 or --change).
    #[arg(long)]
    pub subject: Option<String>,
    /// approval: the change id a gate printed (`change:<author>:<digest>`), for a change
    /// known by its author and paths only.
    #[arg(long, value_name = "ID")]
    pub change: Option<String>,
    /// approval: SHA-256 of the archived diff approved (DIR/merges/<sha256>.diff).
    #[arg(long, value_name = "HEX")]
    pub diff_sha256: Option<String>,
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
        let strs: [(&'static str, &Option<String>); 23] = [
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
            ("change", &self.change),
            ("diff_sha256", &self.diff_sha256),
            ("decision", &self.decision),
            ("type", &self.type_),
            ("incident", &self.incident),
            ("severity", &self.severity),
            ("external_id", &self.external_id),
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
            // Stored sorted, each once (docs/trust.md).
            let mut paths = self.paths.clone();
            paths.sort();
            paths.dedup();
            out.push(("paths", json!(paths)));
        }
        if !self.reasons.is_empty() {
            out.push(("reasons", json!(self.reasons)));
        }
        if let Some(d) = &self.data {
            let v: Value = serde_json::from_str(d)
                .map_err(|e| super::usage(format!("--data: invalid JSON: {e}")))?;
            out.push(("data", v));
        }
        Ok(out)
    }
}

/// `--body`: inline JSON, `@FILE` or `-` (stdin), at most one entry line's worth.
fn read_source(spec: &str, what: &str) -> Result<String> {
    let max = audit_ledger::ledger::entry::MAX_LINE as u64;
    if spec == "-" {
        input::read_stream_text(std::io::stdin().lock(), max, "stdin")
    } else if let Some(p) = spec.strip_prefix('@') {
        input::read_text_bounded(std::path::Path::new(p), max, &format!("{what} file"))
    } else {
        Ok(spec.to_string())
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
        super::usage(format!(
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
                Ok(_) => return Err(super::usage("--body: expected a JSON object")),
                Err(e) => return Err(super::usage(format!("--body: invalid JSON: {e}"))),
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
        // Flags for fields the kind does not know are refused, to catch typos such as `--env`
        // on a merge.
        let known = required_fields(kind).iter().any(|(f, _)| *f == name)
            || optional_fields(kind).any(|f| f == name);
        if !known {
            return Err(super::usage(format!(
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

pub fn append(ctx: &Ctx, a: &AppendArgs) -> Result<i32> {
    let git = a.git.git.as_deref().is_some_and(|r| !r.is_empty());
    if git {
        if a.remote.remote.as_deref().is_some_and(|r| !r.is_empty()) {
            return Err(super::usage(
                "--git and --remote are two ways to reach a ledger: give one",
            ));
        }
        if a.fields.repo.is_some() || a.fields.undoes.is_some() || a.fields.caused_by.is_some() {
            return Err(super::usage(
                "--repo, --undoes and --caused-by read the ledger's history as of the append: not available with --git (give the merges or the deploy's seq in the body)",
            ));
        }
    }
    let ledger = if git || a.remote.remote.as_deref().is_some_and(|r| !r.is_empty()) {
        None
    } else {
        Some(ctx.ledger()?)
    };
    let drafts = match (&a.batch, &a.kind, &a.actor) {
        (Some(spec), _, _) => {
            if spec == "-" {
                batch::read(std::io::stdin().lock(), "stdin")?
            } else {
                batch::read_file(std::path::Path::new(spec))?
            }
        }
        (None, Some(kind), Some(actor)) => {
            vec![draft_from_args(kind, actor, a.body.as_deref(), &a.fields)?]
        }
        _ => return Err(super::usage("give KIND and --actor, or --batch FILE")),
    };
    if git {
        return super::sync::append_git(ctx, &a.git, drafts);
    }
    if let Some(remote) = a.remote.client(ctx)? {
        return append_remote(ctx, a, &remote, drafts);
    }
    let signer = ctx.signer()?;
    let ledger = ledger.ok_or_else(|| Error::internal("no ledger"))?;
    let mut rec = ctx.recorder(&ledger, signer.as_ref())?;
    if a.no_checkpoint {
        rec = rec.without_checkpoint();
    }
    let attr = Attribution {
        repo: a.fields.repo.clone(),
        undoes: a.fields.undoes.clone(),
        caused_by: a.fields.caused_by.clone(),
    };
    // A batch of thousands takes a moment (signing, one fsync): say so on a terminal.
    let spin = if drafts.len() > 1000 {
        ctx.spinner(&format!("appending {} entries", drafts.len()))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let r = flow::append::append(&rec, drafts, &attr);
    spin.finish_and_clear();
    let r = r?;
    ctx.notices(&r);
    report_appended(ctx, &r.entries);
    Ok(0)
}

/// `append --remote`: sign each draft as a submission with the writer key, send them in one
/// request, check every answer.
fn append_remote(
    ctx: &Ctx,
    a: &AppendArgs,
    remote: &audit_ledger::serve::client::Remote,
    drafts: Vec<Draft>,
) -> Result<i32> {
    if a.fields.repo.is_some() || a.fields.undoes.is_some() || a.fields.caused_by.is_some() {
        return Err(super::usage(
            "--repo, --undoes and --caused-by need the ledger's history: not available with --remote",
        ));
    }
    let signer = ctx.require_signer("--remote (the writer key that signs each submission)")?;
    let base = match &a.id {
        Some(id) => id.clone(),
        None => fresh_submission_id("sub")?,
    };
    let n = drafts.len();
    let subs = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}.{}", i + 1)
            };
            audit_ledger::ledger::Submitted::sign(&signer, d, &id)
        })
        .collect::<Result<Vec<_>>>()?;
    let receipts = remote.append(&subs)?;
    let rows: Vec<Value> = receipts
        .iter()
        .zip(&subs)
        .map(|(r, s)| json!({"id": s.submission.id, "seq": r.seq, "hash": hex::encode(r.hash), "created": r.created}))
        .collect();
    let (first, last) = match (receipts.first(), receipts.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(Error::internal("no receipt")),
    };
    let human = if n == 1 {
        format!(
            "{} seq {} hash {} (proved in the signed checkpoint of size {})",
            if first.created {
                "appended"
            } else {
                "already recorded:"
            },
            first.seq,
            hex::encode(first.hash),
            first.tree_size
        )
    } else {
        format!(
            "appended {n} submissions, seq {}..={} (proved in the signed checkpoint of size {})",
            first.seq, last.seq, last.tree_size
        )
    };
    ctx.print(
        human,
        &json!({"ok": true, "remote": true, "entries": rows, "tree_size": last.tree_size, "root": hex::encode(last.root)}),
    );
    Ok(0)
}

/// The last entry a record wrote (a single-entry command always writes one).
/// A fresh random submission id, `PREFIX-<24 hex>`.
pub fn fresh_submission_id(prefix: &str) -> Result<String> {
    let mut r = [0u8; 12];
    getrandom::fill(&mut r).map_err(|e| Error::internal(format!("random: {e}")))?;
    Ok(format!("{prefix}-{}", hex::encode(r)))
}

pub fn last_of(r: &audit_ledger::Recorded) -> Result<&Entry> {
    r.last()
        .ok_or_else(|| Error::internal("nothing was appended"))
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
