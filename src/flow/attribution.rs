//! Record-time attribution: what a deploy ships and which deploy a rollback undoes, computed
//! under the append lock from the history as of that lock and written into the entry's body.
//!
//! * A deploy with a repository gets `commit_time`, `changes` (the commits shipped since the
//!   previous successful deploy of its env, at most [`MAX_CHANGES`]), `merges` (those commits'
//!   merge entries or merge commits, at most [`MAX_MERGES`], newest first), and
//!   `previous_commit`/`previous_seq`.
//! * A rollback gets `undoes_seq`: the deploy named by the caller (by seq or version), or the
//!   newest succeeded deploy of its env whose version is the rollback's `from_version`.
//!
//! Scoring then needs no git: trust and metrics read these fields.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::git;
use crate::trust::model::ms_ts;
use crate::trust::Facts;

/// Options of `append` that need the ledger's history or git.
#[derive(Debug, Default)]
pub struct Attribution {
    /// deploy: git repository to find what the deploy ships.
    pub repo: Option<PathBuf>,
    /// rollback: the deploy undone, by seq (digits) or by version.
    pub undoes: Option<String>,
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

pub(crate) fn attribute_rollback(
    facts: &Facts,
    body: &mut Value,
    attr: &Attribution,
    next_seq: u64,
) -> Result<()> {
    let env = field(body, "env")?.to_string();
    let undone = match attr.undoes.as_deref() {
        Some(u) => {
            let d = match u.parse::<u64>() {
                Ok(seq) => facts.deploy_by_seq(seq).ok_or_else(|| {
                    Error::invalid(
                        "undoes",
                        format!("{seq}: no succeeded or failed deploy entry has seq {seq}"),
                    )
                })?,
                Err(_) => facts.last_success(&env, Some(u), next_seq).ok_or_else(|| {
                    Error::invalid(
                        "undoes",
                        format!("{u}: no succeeded deploy of version `{u}` to `{env}`"),
                    )
                })?,
            };
            if facts.envs.get(d.env as usize).map(String::as_str) != Some(env.as_str()) {
                return Err(Error::invalid(
                    "undoes",
                    format!("{u}: deploy seq {} is not in env `{env}`", d.seq),
                ));
            }
            Some(d.seq)
        }
        None => {
            let from = field(body, "from_version")?;
            facts
                .last_success(&env, Some(from), next_seq)
                .map(|d| d.seq)
        }
    };
    if let (Some(seq), Some(b)) = (undone, body.as_object_mut()) {
        b.insert("undoes_seq".into(), json!(seq));
    }
    Ok(())
}
