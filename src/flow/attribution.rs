//! Record-time attribution: what a deploy ships and which deploy a rollback undoes, computed
//! under the append lock from the history as of that lock and written into the entry's body.
//!
//! * A deploy with a repository gets `commit_time`, `changes` (the commits shipped since the
//!   previous successful deploy of its env, at most [`MAX_CHANGES`]), `merges` (those commits'
//!   merge entries or merge commits, at most [`MAX_MERGES`], newest first), and
//!   `previous_commit`/`previous_seq`.
//! * A rollback gets `undoes_seq` and an incident `caused_by_seq`, checked or written by
//!   [`link`] for every draft of a batch.
//!
//! Scoring then needs no git: trust and metrics read these fields.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::git;
use crate::ledger::body::Kind;
use crate::trust::model::ms_ts;
use crate::trust::Facts;

/// Options of `append` that need the ledger's history or git.
#[derive(Debug, Default)]
pub struct Attribution {
    /// deploy: git repository to find what the deploy ships.
    pub repo: Option<PathBuf>,
    /// rollback: the deploy undone, by seq (digits) or by version.
    pub undoes: Option<String>,
    /// incident: the deploy that caused it, by seq (digits) or by version.
    pub caused_by: Option<String>,
}

/// Maximum number of commits listed in a deploy's `changes`.
pub const MAX_CHANGES: usize = 1000;

/// Maximum number of merges listed in a deploy's `merges` (newest first).
pub const MAX_MERGES: usize = 5000;

fn field<'a>(body: &'a Value, k: &str) -> Result<&'a str> {
    body.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::malformed_at("body", None, Some(k), "missing"))
}

pub(crate) fn attribute_deploy(
    facts: &mut Facts,
    body: &mut Value,
    attr: &Attribution,
) -> Result<()> {
    let Some(repo_path) = &attr.repo else {
        return Ok(());
    };
    let env = field(body, "env")?.to_string();
    let commit_s = field(body, "commit")?.to_string();
    let repo = git::open(repo_path)?;
    let commit = git::resolve_commit(&repo, &commit_s)?;
    let mut extra = serde_json::Map::new();
    extra.insert(
        "commit_time".into(),
        json!(ms_ts(git::commit_time(&repo, commit)? * 1000)),
    );
    let previous = facts
        .last_success(&env, None, u64::MAX)
        .map(|d| (d.seq, d.commit.clone()));
    let prev_oid = match &previous {
        Some((seq, c)) => {
            let oid = git::resolve_commit(&repo, c).map_err(|_| {
                Error::NotFound(format!("previous successful deploy of `{env}` (seq {seq}) has commit `{c}`, which {} does not have", repo_path.display()))
            })?;
            extra.insert("previous_commit".into(), json!(oid.to_string()));
            extra.insert("previous_seq".into(), json!(seq));
            Some(oid)
        }
        None => None,
    };
    let shipped = git::shipped(&repo, commit, prev_oid)?;
    let changes: Vec<Value> = shipped
        .iter()
        .take(MAX_CHANGES)
        .map(|c| json!({"commit": c.id.to_string(), "time": ms_ts(c.time * 1000)}))
        .collect();
    extra.insert("changes".into(), json!(changes));
    if shipped.len() > MAX_CHANGES {
        extra.insert("changes_truncated".into(), json!(true));
    }
    // Merge commits pushed past the gate: their author is who signed them, if a git-signer
    // key trusted now did (then a failure counts against them); else the name git recorded,
    // which proves nothing.
    let signers = crate::git::sshsig::GitSigner::from_facts(facts.git_signers_at(u64::MAX));
    let mut merges = Vec::new();
    for c in &shipped {
        let hex = c.id.to_string();
        if let Some(m) = facts.merge_by_commit(&hex) {
            let (seq, author) = (m.seq, m.author);
            let name = facts
                .actors
                .get(author as usize)
                .cloned()
                .unwrap_or_default();
            let mut v = json!({"merge_commit": hex, "author": name});
            if let Some(s) = seq {
                v["seq"] = json!(s);
            }
            merges.push(v);
        } else if c.parents >= 2 {
            match crate::git::sshsig::verify_commit(&repo, c.id, &signers)? {
                crate::git::sshsig::CommitAuthor::Verified { identity, key_id } => {
                    merges.push(json!({"merge_commit": hex, "author": identity,
                        "author_verification": format!("ssh-signature:{key_id}")}));
                }
                _ if !c.author.is_empty() => {
                    merges.push(json!({"merge_commit": hex, "author": c.author}));
                }
                _ => {}
            }
        }
    }
    // An entry line is at most 1 MiB: keep the newest MAX_MERGES (≈ 100 bytes each).
    if merges.len() > MAX_MERGES {
        merges.truncate(MAX_MERGES);
        extra.insert("merges_truncated".into(), json!(true));
    }
    extra.insert("merges".into(), json!(merges));
    if let Some(b) = body.as_object_mut() {
        b.extend(extra);
    }
    Ok(())
}

/// Refuse `merge` drafts whose merge commit the ledger already knows: a second `merge` entry
/// for a commit, or one for a commit a deploy already shipped, would contest the attribution
/// the first record fixed (the trust fold keeps the first). Also refuses one commit twice in
/// the same batch.
pub fn check_new_merges(facts: &mut Facts, drafts: &[crate::ledger::Draft]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        if d.kind != crate::ledger::body::Kind::Merge {
            continue;
        }
        let at = |why: String| {
            let what = if drafts.len() == 1 {
                "merge_commit".to_string()
            } else {
                format!("entries[{i}].merge_commit")
            };
            Error::Conflict(format!("{what}: {why}"))
        };
        let commit = d
            .body
            .get("merge_commit")
            .and_then(Value::as_str)
            .unwrap_or("");
        if commit.is_empty() {
            continue;
        }
        if seen.contains(&commit) {
            return Err(at(format!("{commit} appears twice in this batch")));
        }
        seen.push(commit);
        if let Some(m) = facts.merge_by_commit(commit) {
            let why = match m.seq {
                Some(seq) => format!("{commit} is already recorded by the merge entry at seq {seq}; the first record of a merge commit fixes who made it"),
                None => format!("{commit} was already shipped by a deploy, which attributed it; a later merge entry cannot take it over"),
            };
            return Err(at(why));
        }
    }
    Ok(())
}

/// A deployment the links below may name: a succeeded or failed deploy in the ledger, or an
/// earlier draft of the same batch.
#[derive(Debug, Clone)]
struct Deployment {
    seq: u64,
    env: String,
    version: String,
}

/// The ledger's deployments (from `facts`) and the batch's, as the drafts are checked in order.
struct Known<'a> {
    facts: &'a Facts,
    batch: Vec<Deployment>,
    /// Incidents opened (true) or resolved (false) by earlier drafts: (env, id) → state.
    incidents: Vec<((String, String), bool)>,
}

impl Known<'_> {
    fn by_seq(&self, seq: u64) -> Option<Deployment> {
        if let Some(d) = self.batch.iter().find(|d| d.seq == seq) {
            return Some(d.clone());
        }
        self.facts.deploy_by_seq(seq).map(|d| Deployment {
            seq: d.seq,
            env: self
                .facts
                .envs
                .get(d.env as usize)
                .cloned()
                .unwrap_or_default(),
            version: d.version.clone(),
        })
    }

    /// The newest deployment of `version` to `env` before `before`: what a rollback from that
    /// version undoes ([`crate::rollback::undone`]) and what an incident naming it blames.
    fn by_version(&self, env: &str, version: &str, before: u64) -> Option<u64> {
        if let Some(d) = self
            .batch
            .iter()
            .rev()
            .find(|d| d.seq < before && d.env == env && d.version == version)
        {
            return Some(d.seq);
        }
        self.facts
            .last_success(env, Some(version), before)
            .map(|d| d.seq)
    }

    fn is_open(&self, env: &str, id: &str) -> bool {
        if let Some((_, open)) = self
            .incidents
            .iter()
            .rev()
            .find(|((e, i), _)| e == env && i == id)
        {
            return *open;
        }
        self.facts.open_incidents.iter().any(|o| {
            o.id == id && self.facts.envs.get(o.env as usize).map(String::as_str) == Some(env)
        })
    }
}

/// Check and complete the links new entries make to earlier ones, under the append lock, for
/// every way entries come in (flags, `--body`, `--batch`, the library): the drafts get seqs
/// `next_seq`, `next_seq + 1`, … in order.
///
/// * A rollback's `undoes_seq`, when given, must name a succeeded or failed deploy of the
///   rollback's env recorded before it (in the ledger or earlier in the batch); a body's own
///   value is kept. Without one it is written from [`crate::rollback::undone`]'s rule (the
///   newest deployment of `from_version` to the env), or from `attr.undoes` (a seq or a
///   version) for a single rollback.
/// * An incident's `caused_by_seq` likewise; `caused_by_version` without it (or
///   `attr.caused_by`) is resolved to the newest deployment of that version to the env, and
///   refused when there is none. An `opened` incident must not be open already in its env; a
///   `resolved` one must be.
///
/// An error names the field (`entries[2].undoes_seq` in a batch) and changes nothing.
pub fn link(
    facts: &Facts,
    drafts: &mut [crate::ledger::Draft],
    attr: &Attribution,
    next_seq: u64,
) -> Result<()> {
    let mut known = Known {
        facts,
        batch: Vec::new(),
        incidents: Vec::new(),
    };
    let many = drafts.len() > 1;
    for (i, d) in drafts.iter_mut().enumerate() {
        let seq = next_seq + i as u64;
        let name = |f: &str| {
            if many {
                format!("entries[{i}].{f}")
            } else {
                f.to_string()
            }
        };
        let text = |body: &Value, f: &str| -> Result<String> {
            match body.get(f).and_then(Value::as_str) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(Error::invalid(
                    name(f),
                    "missing: a non-empty string is required",
                )),
            }
        };
        // A seq given in the body: an unsigned integer naming an earlier deployment of `env`.
        let named = |body: &Value, f: &str, env: &str, known: &Known<'_>| -> Result<Option<u64>> {
            let Some(v) = body.get(f) else {
                return Ok(None);
            };
            let Some(n) = v.as_u64() else {
                return Err(Error::invalid(
                    name(f),
                    format!("expected the seq of a deploy entry, found {v}"),
                ));
            };
            check_deployment(known, n, seq, env).map_err(|why| Error::invalid(name(f), why))?;
            Ok(Some(n))
        };
        match d.kind {
            Kind::Deploy => {
                let status = d.body.get("status").and_then(Value::as_str);
                if matches!(status, Some("succeeded" | "failed")) {
                    if let (Some(env), Some(version)) = (
                        d.body.get("env").and_then(Value::as_str),
                        d.body.get("version").and_then(Value::as_str),
                    ) {
                        known.batch.push(Deployment {
                            seq,
                            env: env.to_string(),
                            version: version.to_string(),
                        });
                    }
                }
            }
            Kind::Rollback => {
                let env = text(&d.body, "env")?;
                let flag = if many { None } else { attr.undoes.as_deref() };
                let undone = match flag {
                    // Flags win over the body.
                    Some(u) => Some(match u.parse::<u64>() {
                        Ok(n) => {
                            check_deployment(&known, n, seq, &env).map_err(|why| {
                                Error::invalid("undoes", format!("{why} (undoes_seq names the deploy a rollback undid)"))
                            })?;
                            n
                        }
                        Err(_) => known.by_version(&env, u, seq).ok_or_else(|| {
                            Error::invalid(
                                "undoes",
                                format!("{u}: no succeeded or failed deploy of version `{u}` to `{env}` before this rollback"),
                            )
                        })?,
                    }),
                    None => match named(&d.body, "undoes_seq", &env, &known)? {
                        Some(n) => Some(n),
                        None => {
                            let from = text(&d.body, "from_version")?;
                            known.by_version(&env, &from, seq)
                        }
                    },
                };
                if let (Some(n), Some(b)) = (undone, d.body.as_object_mut()) {
                    b.insert("undoes_seq".into(), json!(n));
                }
            }
            Kind::Incident => {
                let env = text(&d.body, "env")?;
                let id = text(&d.body, "incident")?;
                let flag = if many {
                    None
                } else {
                    attr.caused_by.as_deref()
                };
                let cause = match flag {
                    Some(c) => Some(match c.parse::<u64>() {
                        Ok(n) => {
                            check_deployment(&known, n, seq, &env).map_err(|why| {
                                Error::invalid("caused-by", format!("{why} (caused_by_seq names the deploy that caused an incident)"))
                            })?;
                            (n, None)
                        }
                        Err(_) => (
                            known.by_version(&env, c, seq).ok_or_else(|| {
                                Error::invalid(
                                    "caused-by",
                                    format!("{c}: no succeeded or failed deploy of version `{c}` to `{env}` before this incident"),
                                )
                            })?,
                            Some(c.to_string()),
                        ),
                    }),
                    None => match named(&d.body, "caused_by_seq", &env, &known)? {
                        Some(n) => Some((n, None)),
                        None => match d.body.get("caused_by_version") {
                            None => None,
                            Some(v) => {
                                let v = v.as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
                                    Error::invalid(
                                        name("caused_by_version"),
                                        "expected a non-empty string",
                                    )
                                })?;
                                let n = known.by_version(&env, v, seq).ok_or_else(|| {
                                    Error::invalid(
                                        name("caused_by_version"),
                                        format!("{v}: no succeeded or failed deploy of version `{v}` to `{env}` before this incident"),
                                    )
                                })?;
                                Some((n, None))
                            }
                        },
                    },
                };
                if let (Some((n, version)), Some(b)) = (cause, d.body.as_object_mut()) {
                    b.insert("caused_by_seq".into(), json!(n));
                    if let Some(v) = version {
                        b.insert("caused_by_version".into(), json!(v));
                    }
                }
                let open = known.is_open(&env, &id);
                match d.body.get("status").and_then(Value::as_str) {
                    Some("opened") if open => {
                        return Err(Error::Conflict(format!(
                            "{}: incident `{id}` is already open in `{env}`; resolve it first, or give the new one another id",
                            name("incident")
                        )))
                    }
                    Some("resolved") if !open => {
                        return Err(Error::Conflict(format!(
                            "{}: no open incident `{id}` in `{env}` to resolve",
                            name("incident")
                        )))
                    }
                    Some("opened") => known.incidents.push(((env, id), true)),
                    Some("resolved") => known.incidents.push(((env, id), false)),
                    // The body check names the bad status.
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why seq `n` cannot be named by an entry at `seq` of `env`, if it cannot.
fn check_deployment(
    known: &Known<'_>,
    n: u64,
    seq: u64,
    env: &str,
) -> std::result::Result<(), String> {
    if n >= seq {
        return Err(format!(
            "{n}: not recorded before this entry (seq {seq}); a rollback or incident names an earlier deploy"
        ));
    }
    match known.by_seq(n) {
        None => Err(format!(
            "{n}: no succeeded or failed deploy entry has seq {n}"
        )),
        Some(d) if d.env != env => Err(format!(
            "{n}: deploy seq {n} is in env `{}`, not `{env}`",
            d.env
        )),
        Some(_) => Ok(()),
    }
}
