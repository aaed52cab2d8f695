//! Git access (libgit2 through `git2`): merge previews that never touch the repository,
//! executing an allowed merge, what a deploy ships, and who signed a commit ([`sshsig`]).
//!
//! # No writes on a preview
//!
//! A three-way merge in libgit2 writes merged blobs and trees into the object database even
//! when only an in-memory index is wanted. [`preview_merge`] therefore opens the repository
//! with an extra in-memory object backend (libgit2's *mempack*) at the highest priority: every
//! object the preview creates lands in memory and is dropped with the handle, so the
//! repository's files stay byte-identical (tested). [`execute_merge`] opens the repository
//! afresh and redoes the (deterministic) merge for real.
//!
//! # What a deploy ships
//!
//! [`shipped`] walks the commits reachable from the deployed commit and not from the previous
//! successful deploy's commit (`git log PREV..COMMIT`), newest first.

pub mod refstore;
pub mod sshsig;

use std::path::Path;

use git2::{DiffFormat, DiffOptions, MergeOptions, Oid, Repository, Signature, Sort};

use crate::error::{Error, Result};

/// Committer name used for merge commits when the repository has no `user.name`.
pub const DEFAULT_COMMITTER: (&str, &str) = ("audit-ledger", "ledger@localhost");

fn git_err(what: impl std::fmt::Display, e: git2::Error) -> Error {
    Error::Git(format!("{what}: {}", e.message()))
}

/// Open the repository at `path` (a work tree or a bare repository; no discovery upwards).
pub fn open(path: &Path) -> Result<Repository> {
    Repository::open(path).map_err(|e| match e.code() {
        git2::ErrorCode::NotFound => {
            Error::Git(format!("{}: not a git repository", path.display()))
        }
        _ => git_err(path.display(), e),
    })
}

/// Resolve `rev` (branch, tag, sha, `HEAD~2`, ...) to a commit id. An unknown ref is
/// [`Error::NotFound`]; a revision that is not well formed or does not name a commit is
/// [`Error::Invalid`] (parameter `rev`).
pub fn resolve_commit(repo: &Repository, rev: &str) -> Result<Oid> {
    let obj = repo.revparse_single(rev).map_err(|e| {
        if is_bad_spec(&e) {
            Error::invalid("rev", format!("`{rev}`: {}", e.message()))
        } else {
            Error::NotFound(format!("unknown ref `{rev}`: {}", e.message()))
        }
    })?;
    let commit = obj
        .peel_to_commit()
        .map_err(|e| Error::invalid("rev", format!("`{rev}` is not a commit: {}", e.message())))?;
    Ok(commit.id())
}

/// True when libgit2 refused a revision for its form (bad syntax, an ambiguous short id)
/// rather than because nothing by that name exists.
pub fn is_bad_spec(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        git2::ErrorCode::InvalidSpec | git2::ErrorCode::Ambiguous
    )
}

/// Every file (blob) path in the tree of commit `id`, `/`-separated, sorted. At most
/// `MAX_FILES` (more is an error: a policy check reads every path).
pub fn files_at(repo: &Repository, id: Oid) -> Result<Vec<String>> {
    const MAX_FILES: usize = 2_000_000;
    let tree = repo
        .find_commit(id)
        .and_then(|c| c.tree())
        .map_err(|e| git_err(id, e))?;
    let mut out = Vec::new();
    let mut too_many = false;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            if out.len() >= MAX_FILES {
                too_many = true;
                return git2::TreeWalkResult::Abort;
            }
            if let Ok(name) = entry.name() {
                out.push(format!("{dir}{name}"));
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| git_err(id, e))
    .or_else(|e| if too_many { Ok(()) } else { Err(e) })?;
    if too_many {
        return Err(Error::invalid(
            "repo",
            format!("more than {MAX_FILES} files at {id}"),
        ));
    }
    out.sort();
    Ok(out)
}

/// Seconds since the Unix epoch of a commit's committer time.
pub fn commit_time(repo: &Repository, id: Oid) -> Result<i64> {
    let c = repo
        .find_commit(id)
        .map_err(|e| git_err(format!("commit {id}"), e))?;
    Ok(c.time().seconds())
}

/// Outcome of a merge preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Commit of the source ref.
    pub source_commit: Oid,
    /// Commit of the target ref.
    pub target_commit: Oid,
    /// The target is an ancestor of the source: the merge is a fast-forward.
    pub fast_forward: bool,
    /// The source is already contained in the target: nothing to merge.
    pub up_to_date: bool,
    /// Files with conflicts (sorted, unique); empty when the merge is clean.
    pub conflicts: Vec<String>,
    /// Paths the merge changes on the target (sorted, unique; renames give both names).
    pub paths: Vec<String>,
    /// Unified diff (target tree → merged tree), the bytes archived by `ledger merge`.
    pub diff: Vec<u8>,
}

/// Preview merging `source` into `target` without writing anything to the repository.
pub fn preview_merge(path: &Path, source: &str, target: &str) -> Result<Preview> {
    let repo = open(path)?;
    let odb = repo.odb().map_err(|e| git_err("object database", e))?;
    // Objects created by the preview go to memory only (see the module docs).
    let _mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(|e| git_err("in-memory object backend", e))?;
    let source_commit = resolve_commit(&repo, source)?;
    let target_commit = resolve_commit(&repo, target)?;
    let up_to_date = source_commit == target_commit
        || repo
            .graph_descendant_of(target_commit, source_commit)
            .map_err(|e| git_err("ancestry", e))?;
    let fast_forward = !up_to_date
        && repo
            .graph_descendant_of(source_commit, target_commit)
            .map_err(|e| git_err("ancestry", e))?;
    let mut preview = Preview {
        source_commit,
        target_commit,
        fast_forward,
        up_to_date,
        conflicts: Vec::new(),
        paths: Vec::new(),
        diff: Vec::new(),
    };
    if up_to_date {
        return Ok(preview);
    }
    let target_c = repo
        .find_commit(target_commit)
        .map_err(|e| git_err("target commit", e))?;
    let source_c = repo
        .find_commit(source_commit)
        .map_err(|e| git_err("source commit", e))?;
    let merged_tree = if fast_forward {
        source_c.tree().map_err(|e| git_err("source tree", e))?
    } else {
        let mut index = repo
            .merge_commits(&target_c, &source_c, Some(&MergeOptions::new()))
            .map_err(|e| git_err("merge", e))?;
        if index.has_conflicts() {
            let mut files = std::collections::BTreeSet::new();
            for c in index.conflicts().map_err(|e| git_err("conflicts", e))? {
                let c = c.map_err(|e| git_err("conflicts", e))?;
                for entry in [c.ancestor, c.our, c.their].into_iter().flatten() {
                    files.insert(String::from_utf8_lossy(&entry.path).into_owned());
                }
            }
            preview.conflicts = files.into_iter().collect();
            return Ok(preview);
        }
        let tree_id = index
            .write_tree_to(&repo)
            .map_err(|e| git_err("merged tree", e))?;
        repo.find_tree(tree_id)
            .map_err(|e| git_err("merged tree", e))?
    };
    let base_tree = target_c.tree().map_err(|e| git_err("target tree", e))?;
    let (paths, diff) = diff_trees(&repo, &base_tree, &merged_tree)?;
    preview.paths = paths;
    preview.diff = diff;
    Ok(preview)
}

/// Changed paths and the unified diff between two trees.
fn diff_trees(
    repo: &Repository,
    old: &git2::Tree<'_>,
    new: &git2::Tree<'_>,
) -> Result<(Vec<String>, Vec<u8>)> {
    let mut opts = DiffOptions::new();
    opts.context_lines(3).id_abbrev(40);
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), Some(&mut opts))
        .map_err(|e| git_err("diff", e))?;
    let mut paths = std::collections::BTreeSet::new();
    for d in diff.deltas() {
        for f in [d.old_file(), d.new_file()] {
            if let Some(p) = f.path() {
                paths.insert(p.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    diff.print(DiffFormat::Patch, |_, _, line| {
        // Content lines come without their marker; headers carry their full text.
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin() as u8);
        }
        out.extend_from_slice(line.content());
        true
    })
    .map_err(|e| git_err("diff", e))?;
    Ok((paths.into_iter().collect(), out))
}

/// The full name of the branch `target` names (`main` → `refs/heads/main`). Refuses anything
/// that is not a local branch, and the branch checked out in a work tree (we never touch work
/// trees: run merges in a bare clone or with another branch checked out).
pub fn target_branch(repo: &Repository, target: &str) -> Result<String> {
    let r = repo
        .resolve_reference_from_short_name(target)
        .map_err(|e| {
            if e.code() == git2::ErrorCode::NotFound {
                Error::NotFound(format!("target `{target}`: not a branch: {}", e.message()))
            } else {
                Error::invalid(
                    "target",
                    format!("`{target}`: not a branch: {}", e.message()),
                )
            }
        })?;
    let name = r
        .name()
        .map_err(|_| Error::invalid("target", format!("`{target}`: branch name is not UTF-8")))?
        .to_string();
    if !r.is_branch() {
        return Err(Error::invalid(
            "target",
            format!("`{target}` resolves to {name}, not a local branch (refs/heads/...)"),
        ));
    }
    if !repo.is_bare() {
        if let Ok(head) = repo.head() {
            if head.name().ok() == Some(name.as_str()) {
                return Err(Error::Conflict(format!(
                    "target `{target}` is checked out in the work tree; merges never touch work trees: run it in a bare clone or check out another branch"
                )));
            }
        }
    }
    Ok(name)
}

/// Create the merge commit (or fast-forward) of `preview` on branch `target_ref`. The branch
/// must still point at `preview.target_commit` (compare-and-swap). Returns the new tip.
pub fn execute_merge(
    path: &Path,
    preview: &Preview,
    target_ref: &str,
    message: &str,
) -> Result<Oid> {
    if preview.up_to_date || !preview.conflicts.is_empty() {
        return Err(Error::Conflict(
            "nothing to execute: the merge is up to date or has conflicts".into(),
        ));
    }
    let repo = open(path)?;
    let new_tip = if preview.fast_forward {
        preview.source_commit
    } else {
        let target_c = repo
            .find_commit(preview.target_commit)
            .map_err(|e| git_err("target commit", e))?;
        let source_c = repo
            .find_commit(preview.source_commit)
            .map_err(|e| git_err("source commit", e))?;
        let mut index = repo
            .merge_commits(&target_c, &source_c, None)
            .map_err(|e| git_err("merge", e))?;
        if index.has_conflicts() {
            return Err(Error::Git("merge has conflicts".into()));
        }
        let tree_id = index
            .write_tree_to(&repo)
            .map_err(|e| git_err("merged tree", e))?;
        let tree = repo
            .find_tree(tree_id)
            .map_err(|e| git_err("merged tree", e))?;
        let sig = match repo.signature() {
            Ok(s) => s,
            Err(_) => Signature::now(DEFAULT_COMMITTER.0, DEFAULT_COMMITTER.1)
                .map_err(|e| git_err("signature", e))?,
        };
        repo.commit(None, &sig, &sig, message, &tree, &[&target_c, &source_c])
            .map_err(|e| git_err("merge commit", e))?
    };
    repo.reference_matching(target_ref, new_tip, true, preview.target_commit, message)
        .map_err(|e| {
            git_err(
                format!("update {target_ref} (did it move since the preview?)"),
                e,
            )
        })?;
    Ok(new_tip)
}

/// One commit shipped by a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// Commit id.
    pub id: Oid,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// Number of parents (2+ = a merge commit).
    pub parents: usize,
    /// Author name of the commit.
    pub author: String,
}

/// Commits reachable from `commit` and not from `previous` (`git log previous..commit`),
/// newest first (topological, then time).
pub fn shipped(repo: &Repository, commit: Oid, previous: Option<Oid>) -> Result<Vec<Shipped>> {
    let mut walk = repo.revwalk().map_err(|e| git_err("revwalk", e))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(|e| git_err("revwalk", e))?;
    walk.push(commit)
        .map_err(|e| git_err(format!("commit {commit}"), e))?;
    if let Some(p) = previous {
        walk.hide(p)
            .map_err(|e| git_err(format!("previous deploy's commit {p}"), e))?;
    }
    let mut out = Vec::new();
    for id in walk {
        let id = id.map_err(|e| git_err("revwalk", e))?;
        let c = repo
            .find_commit(id)
            .map_err(|e| git_err(format!("commit {id}"), e))?;
        out.push(Shipped {
            id,
            time: c.time().seconds(),
            parents: c.parent_count(),
            author: c.author().name().unwrap_or_default().to_string(),
        });
    }
    Ok(out)
}
