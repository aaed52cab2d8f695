//! The source state of a release, read with libgit2: commit, tree, tags at HEAD, dirty flag and
//! the commit time (the fallback for `SOURCE_DATE_EPOCH`).

use std::path::Path;

use crate::error::{Error, Result};

/// What the repository says about the release's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// HEAD commit id (hex), if the directory is in a git repository with commits.
    pub commit: Option<String>,
    /// Tree id of HEAD.
    pub tree: Option<String>,
    /// Tags pointing at HEAD, sorted.
    pub tags: Vec<String>,
    /// True when tracked files differ from HEAD (untracked files and `exclude` are ignored).
    pub dirty: Option<bool>,
    /// Commit time of HEAD (seconds since the epoch).
    pub commit_time: Option<i64>,
}

/// Read the source state of the repository containing `repo`. `exclude` is a path (e.g. the
/// ledger directory) whose changes do not make the tree dirty: recording a release changes it.
/// A directory outside any git repository gives an empty [`Source`].
pub fn read(repo: &Path, exclude: Option<&Path>) -> Result<Source> {
    let r = match git2::Repository::discover(repo) {
        Ok(r) => r,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(Source::default()),
        Err(e) => return Err(Error::Git(format!("{}: {}", repo.display(), e.message()))),
    };
    let head = match r.head().and_then(|h| h.peel_to_commit()) {
        Ok(c) => c,
        Err(_) => return Ok(Source::default()),
    };
    let commit_id = head.id();
    let mut tags = Vec::new();
    let names = r
        .tag_names(None)
        .map_err(|e| Error::Git(e.message().to_string()))?;
    for name in names.iter().flatten() {
        let Some(name) = name else { continue };
        let target = r
            .revparse_single(&format!("refs/tags/{name}"))
            .and_then(|o| o.peel_to_commit());
        if target.is_ok_and(|c| c.id() == commit_id) {
            tags.push(name.to_string());
        }
    }
    tags.sort();
    let workdir = r
        .workdir()
        .map(|w| w.canonicalize().unwrap_or_else(|_| w.to_path_buf()));
    let exclude_rel = match (exclude, &workdir) {
        (Some(x), Some(w)) => x
            .canonicalize()
            .ok()
            .and_then(|x| x.strip_prefix(w).ok().map(|p| p.to_path_buf())),
        _ => None,
    };
    let dirty = if r.is_bare() {
        None
    } else {
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(false).include_ignored(false);
        let statuses = r
            .statuses(Some(&mut opts))
            .map_err(|e| Error::Git(e.message().to_string()))?;
        let changed = statuses.iter().any(|s| {
            let p = s.path().ok().map(Path::new);
            match (&exclude_rel, p) {
                (Some(x), Some(p)) if !x.as_os_str().is_empty() => !p.starts_with(x),
                _ => true,
            }
        });
        Some(changed)
    };
    Ok(Source {
        commit: Some(commit_id.to_string()),
        tree: Some(head.tree_id().to_string()),
        tags,
        dirty,
        commit_time: Some(head.time().seconds()),
    })
}
