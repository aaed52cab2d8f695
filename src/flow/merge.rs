//! The trust-gated merge: preview the merge in memory, gate the changed paths, archive the
//! diff, record the decision, and — when asked and allowed — create the merge on the target
//! branch and record a `merge` entry.
//!
//! Order matters for what a failure leaves behind: a target branch that could not be updated
//! is refused before anything is recorded; the diff is archived (content-addressed, so a retry
//! writes nothing new) before the approval entry that names its digest; the merge entry is
//! appended only after the branch moved.

use std::path::{Path, PathBuf};

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::flow::gate;
use crate::flow::Verdict;
use crate::git;
use crate::ledger::body::Kind;
use crate::ledger::{Draft, Entry, Ledger, Recorder};
use crate::trust::{self, CacheStatus, Decision};

/// Everything a gated merge needs.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    /// Repository (work tree or bare).
    pub repo: PathBuf,
    /// Ref to merge.
    pub source: String,
    /// Branch to merge into.
    pub target: String,
    /// The change's author, named by the caller. The author is established by the source
    /// commit's SSH signature when it has one by a git-signer key (naming another person is
    /// then refused), else by the recording key when its identity is a policy attestor; a
    /// name alone (this, or the commit's author name) establishes nothing.
    pub actor: Option<String>,
    /// What people approve (default: `merge:<source commit>`).
    pub subject: Option<String>,
    /// Actor recorded on the approval and merge entries.
    pub recorder: String,
    /// Create the merge on the target branch when the gate allows.
    pub execute: bool,
    /// Evaluation time, ms since the epoch: the present (a gated merge records its decision,
    /// see [`gate::require_present`]).
    pub now_ms: i64,
}

/// The diff of a previewed merge, archived as `DIR/merges/<sha256>.diff`.
#[derive(Debug, Clone)]
pub struct ArchivedDiff {
    /// SHA-256 of the diff (hex).
    pub sha256: String,
    /// Where it is.
    pub path: PathBuf,
}

/// The merge made on the target branch.
#[derive(Debug)]
pub struct Merged {
    /// The target branch's full ref name.
    pub target_ref: String,
    /// Its new tip.
    pub tip: String,
    /// The `merge` entry.
    pub entry: Entry,
}

/// A merge that was gated.
#[derive(Debug)]
pub struct GatedMerge {
    /// The decision.
    pub decision: Decision,
    /// The approval entry recording it.
    pub approval: Entry,
    /// How the trust aggregate was obtained.
    pub cache: CacheStatus,
    /// The archived diff (none when the merge conflicts).
    pub diff: Option<ArchivedDiff>,
    /// Conflicting paths.
    pub conflicts: Vec<String>,
    /// Whether the target can be fast-forwarded.
    pub fast_forward: bool,
    /// Source commit id.
    pub source_commit: String,
    /// Target commit id.
    pub target_commit: String,
    /// The merge, when executed.
    pub merged: Option<Merged>,
}

/// What [`gated_merge`] did.
#[derive(Debug)]
pub enum MergeOutcome {
    /// The source is already contained in the target: nothing gated or recorded.
    UpToDate {
        /// Source commit id.
        source_commit: String,
        /// Target commit id.
        target_commit: String,
    },
    /// The merge went through the gate.
    Gated(Box<GatedMerge>),
}

impl Verdict for MergeOutcome {
    fn passed(&self) -> bool {
        match self {
            MergeOutcome::UpToDate { .. } => true,
            MergeOutcome::Gated(g) => g.decision.allow,
        }
    }
}

/// Write `diff` to `DIR/merges/<sha256>.diff` (content-addressed: an existing file with that
/// name already holds these bytes).
fn archive_diff(ledger_dir: &Path, diff: &[u8]) -> Result<ArchivedDiff> {
    let sha256 = hex::encode(Sha256::digest(diff));
    let dir = ledger_dir.join("merges");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(format!("{sha256}.diff"));
    if !path.is_file() {
        crate::fsutil::write_atomic(&path, diff)?;
    }
    Ok(ArchivedDiff { sha256, path })
}

/// Who the author of the merge is, and what establishes it: the source commit's SSH signature
/// by a git-signer key the ledger binds to an identity (naming someone else is refused), else
/// the recording key when the policy names its identity an attestor, else nothing (the
/// caller's name, or the commit's author name, unverified).
fn author_of(
    rec: &Recorder<'_>,
    facts: &trust::Facts,
    policy: &trust::Policy,
    repo: &git2::Repository,
    preview: &git::Preview,
    req: &MergeRequest,
) -> Result<(String, trust::gate::Authorship)> {
    use crate::git::sshsig::{verify_commit, CommitAuthor, GitSigner};
    use trust::gate::Authorship;
    let now = rec.ledger().tail()?.next_seq;
    let signers = GitSigner::from_facts(facts.git_signers_at(now));
    let why = match verify_commit(repo, preview.source_commit, &signers)? {
        CommitAuthor::Verified { identity, key_id } => {
            if let Some(named) = &req.actor {
                if trust::model::normalize_identity(named)
                    != trust::model::normalize_identity(&identity)
                {
                    return Err(Error::invalid(
                        "actor",
                        format!(
                            "{named}: the source commit is signed by git-signer key {key_id} of {identity}, so its author is {identity}"
                        ),
                    ));
                }
            }
            return Ok((identity, Authorship::Signed { key_id }));
        }
        CommitAuthor::Unsigned => "the source commit is not signed".to_string(),
        CommitAuthor::BadSignature(r) => format!("the source commit's signature is bad: {r}"),
        CommitAuthor::UnknownKey { fingerprint } => format!(
            "the source commit is signed by key {fingerprint}, which no git-signer key of the ledger is"
        ),
        CommitAuthor::NotSsh => {
            "the source commit is signed, but not with SSH (only SSH signatures are checked)"
                .to_string()
        }
    };
    match &req.actor {
        Some(named) => {
            let a = match trust::gate::Authorship::of_recorder(
                facts,
                policy,
                rec.signer().map(|s| s.id()),
            ) {
                Authorship::Unverified { why: recorder } => Authorship::Unverified {
                    why: format!("{why}, and {recorder}"),
                },
                a => a,
            };
            Ok((named.clone(), a))
        }
        None => {
            let name = repo
                .find_commit(preview.source_commit)
                .ok()
                .and_then(|c| c.author().name().ok().map(str::to_string))
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    Error::invalid(
                        "actor",
                        format!("{why}, and it has no author name: name the author"),
                    )
                })?;
            Ok((
                name,
                Authorship::Unverified {
                    why: format!("{why}; the commit's author name proves nothing"),
                },
            ))
        }
    }
}

/// Preview, gate, record, and (on request and allow) execute a merge.
pub fn gated_merge(rec: &Recorder<'_>, req: &MergeRequest) -> Result<MergeOutcome> {
    gate::require_present(req.now_ms)?;
    let ledger: &Ledger = rec.ledger();
    let (policy, agg, cache) = trust::load(ledger)?;
    let preview = git::preview_merge(&req.repo, &req.source, &req.target)?;
    let repo = git::open(&req.repo)?;
    // Refuse a target we could not update before recording anything.
    let target_ref = if req.execute {
        Some(git::target_branch(&repo, &req.target)?)
    } else {
        None
    };
    let source_commit = preview.source_commit.to_string();
    let target_commit = preview.target_commit.to_string();
    if preview.up_to_date {
        return Ok(MergeOutcome::UpToDate {
            source_commit,
            target_commit,
        });
    }
    let (actor, authorship) = author_of(rec, &agg.facts, &policy, &repo, &preview, req)?;
    let subject = req
        .subject
        .clone()
        .unwrap_or_else(|| format!("merge:{source_commit}"));
    let mut extra = json!({
        "source": req.source, "target": req.target,
        "source_commit": source_commit, "target_commit": target_commit,
        "fast_forward": preview.fast_forward,
    });
    let (decision, diff) = if preview.conflicts.is_empty() {
        let diff = archive_diff(ledger.dir(), &preview.diff)?;
        extra["diff_sha256"] = json!(diff.sha256);
        let change = trust::gate::ChangeRef {
            source_commit: Some(source_commit.clone()),
            target: Some(req.target.clone()),
            diff_sha256: Some(diff.sha256.clone()),
        };
        let mut d = trust::evaluate(
            &agg.facts,
            &policy,
            &actor,
            &preview.paths,
            &subject,
            &change,
            req.now_ms,
        )?;
        d.apply_authorship(&policy, &authorship);
        (d, Some(diff))
    } else {
        extra["conflicts"] = json!(preview.conflicts);
        let d = Decision {
            allow: false,
            actor: actor.clone(),
            change: format!("commit:{source_commit}@{}", req.target),
            subject,
            paths: preview.conflicts.clone(),
            reasons: vec![format!(
                "merge conflicts in: {}",
                preview.conflicts.join(", ")
            )],
            checks: Vec::new(),
            author_verification: authorship.label(),
        };
        (d, None)
    };
    let (approval, _) = gate::record(rec, &decision, &extra, &req.recorder)?;
    let mut merged = None;
    if let (true, Some(target_ref)) = (decision.allow, target_ref) {
        let msg = format!(
            "Merge {} into {}\n\nTrust gate: allow ({}, approval seq {})\n",
            req.source, req.target, actor, approval.seq
        );
        let tip = git::execute_merge(&req.repo, &preview, &target_ref, &msg)?.to_string();
        let mut body = json!({
            "author": actor, "source": req.source, "target": req.target,
            "source_commit": source_commit, "target_commit": target_commit,
            "merge_commit": tip, "paths": preview.paths, "approval_seq": approval.seq,
            "fast_forward": preview.fast_forward,
        });
        if let Some(d) = &diff {
            body["diff_sha256"] = json!(d.sha256);
        }
        if let Some(v) = &decision.author_verification {
            body["author_verification"] = json!(v);
        }
        let draft = Draft {
            kind: Kind::Merge,
            actor: req.recorder.clone(),
            body,
        };
        // Through `append`: a merge commit the ledger already knows is refused.
        let entry = crate::flow::append::append(
            rec,
            vec![draft],
            &crate::flow::attribution::Attribution::default(),
        )?
        .entries
        .pop()
        .ok_or_else(|| Error::internal("the merge entry was not written"))?;
        merged = Some(Merged {
            target_ref,
            tip,
            entry,
        });
    }
    Ok(MergeOutcome::Gated(Box::new(GatedMerge {
        decision,
        approval,
        cache,
        diff,
        conflicts: preview.conflicts.clone(),
        fast_forward: preview.fast_forward,
        source_commit,
        target_commit,
        merged,
    })))
}
