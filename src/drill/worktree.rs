//! A throw-away git worktree at one commit, outside the user's working tree.
//!
//! libgit2's `git_worktree_add` checks out a *branch*, so a drill worktree is made in four
//! steps: a temporary branch `ledger-drill-<id>` at the target commit, the worktree on that
//! branch in a fresh temporary directory (`$TMPDIR/ledger-drill-*/wt`), HEAD of the worktree
//! detached at the same commit, and the temporary branch deleted again. The user's checkout,
//! index and HEAD are never touched, and while the check runs the only traces in the repository
//! are the worktree's admin directory `.git/worktrees/<name>` (and its entry in `git worktree
//! list`).
//!
//! [`DrillWorktree::remove`] deletes the directory, prunes the admin directory and deletes the
//! branch if it still exists; `Drop` does the same as a fallback, so every exit path (an
//! error, a timeout, an interrupt turned into an error, a panic that unwinds) leaves the
//! repository as it was.

use std::path::{Path, PathBuf};

use git2::{BranchType, Oid, Repository, WorktreeAddOptions, WorktreePruneOptions};

use crate::error::{Error, Result};

/// A worktree checked out at one commit; removed on [`DrillWorktree::remove`] or drop.
pub struct DrillWorktree {
    repo: Repository,
    name: String,
    /// Holds the temporary parent directory; `None` once removed.
    tmp: Option<tempfile::TempDir>,
    path: PathBuf,
}

fn git(what: &str, e: git2::Error) -> Error {
    Error::Git(format!("{what}: {}", e.message()))
}

impl DrillWorktree {
    /// Check out `commit` of the repository at `repo_path` in a new temporary worktree.
    pub fn create(repo_path: &Path, commit: Oid) -> Result<DrillWorktree> {
        let repo = Repository::open(repo_path)
            .map_err(|e| git(&format!("open {}", repo_path.display()), e))?;
        let tmp = tempfile::Builder::new()
            .prefix("ledger-drill-")
            .tempdir()
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("ledger-drill-{}-{stamp}", std::process::id());
        let path = tmp.path().join("wt");
        // From here on the guard owns cleanup, even if a later step fails.
        let mut wt = DrillWorktree {
            repo,
            name,
            tmp: Some(tmp),
            path,
        };
        wt.checkout(commit)?;
        Ok(wt)
    }

    fn checkout(&mut self, commit: Oid) -> Result<()> {
        let c = self
            .repo
            .find_commit(commit)
            .map_err(|e| git("find commit", e))?;
        let mut branch = self
            .repo
            .branch(&self.name, &c, false)
            .map_err(|e| git("create temporary branch", e))?;
        let added = {
            let mut opts = WorktreeAddOptions::new();
            opts.reference(Some(branch.get()));
            self.repo.worktree(&self.name, &self.path, Some(&opts))
        };
        let wt = added.map_err(|e| git("add worktree", e))?;
        let wrepo = Repository::open_from_worktree(&wt).map_err(|e| git("open worktree", e))?;
        wrepo
            .set_head_detached(commit)
            .map_err(|e| git("detach worktree HEAD", e))?;
        branch
            .delete()
            .map_err(|e| git("delete temporary branch", e))?;
        Ok(())
    }

    /// The worktree's directory (where the check runs).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The worktree's name in `git worktree list` / `.git/worktrees/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Remove the directory, its admin files and the temporary branch. Idempotent.
    pub fn remove(&mut self) -> Result<()> {
        let mut first_err: Option<Error> = None;
        if let Some(tmp) = self.tmp.take() {
            let p = tmp.path().to_path_buf();
            if let Err(e) = tmp.close() {
                first_err = Some(Error::io(p, e));
            }
        }
        // Prune even a "valid" or locked worktree: the directory is gone or going, and the
        // admin directory must not outlive the drill.
        match self.repo.find_worktree(&self.name) {
            Ok(wt) => {
                let mut opts = WorktreePruneOptions::new();
                opts.valid(true).locked(true).working_tree(true);
                if let Err(e) = wt.prune(Some(&mut opts)) {
                    first_err.get_or_insert(git("prune worktree", e));
                }
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => {}
            Err(e) => {
                first_err.get_or_insert(git("find worktree", e));
            }
        }
        if let Ok(mut b) = self.repo.find_branch(&self.name, BranchType::Local) {
            if let Err(e) = b.delete() {
                first_err.get_or_insert(git("delete temporary branch", e));
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for DrillWorktree {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; `remove` was called already on the normal path.
        let _ = self.remove();
    }
}
