//! The ledger on a git ref (DESIGN §10): the tree layout, and reading and writing it with
//! libgit2.
//!
//! # Layout (`ledger-git-v1`)
//!
//! The ref (default `refs/audit/ledger`) points at a commit whose tree is:
//!
//! ```text
//! format                              "ledger-git-v1\n"
//! config.toml                         the publisher's settings (origin; untrusted, like any config.toml)
//! checkpoint                          the signed checkpoint of every entry on the ref
//! entries/0/0/0/0/0/0/0/00000000.jsonl  a segment: the entries one push published, seq 0 on
//! entries/0/0/0/0/0/0/1/00000010.jsonl  a segment starting at seq 16 (0x10)
//! …
//! ```
//!
//! A **segment** is an immutable blob of whole entry lines (each ending in `\n`), exactly as
//! `ledger.jsonl` holds them, written by one push; a push of more than [`SEGMENT_ENTRIES`]
//! entries writes several. It is named by the seq of its first entry in 8 lower-case hex
//! digits, `<h>.jsonl`, and lies under `entries/` in one directory per leading hex digit but
//! the last (`entries/h0/h1/…/h6/`). Every directory therefore has at most 16 entries, and a
//! push rewrites one new blob, the 9 small trees on its path, the root tree, the checkpoint
//! blob and the commit: its size depends on the entries it adds, never on how many the ref
//! holds. Concatenating the segments in path order gives `ledger.jsonl` byte for byte
//! (`ledger export`). The layout holds up to 2³² entries.
//!
//! Each commit has the previous head as its only parent; its message says which seqs it added.
//! Nothing on the ref is trusted: a reader verifies the entries (chain, signatures, key
//! history) from its own verified state, and the checkpoint's signature, size and root.
//!
//! # Transports
//!
//! A remote on this file system (`file://…`, a path, or a named remote with such a URL) is
//! opened directly: objects are written into it and the ref is moved with libgit2's
//! compare-and-swap reference update (`git_reference_create_matching`, under git's lock-file
//! protocol), then the new objects and the ref are fsynced. libgit2's own `file://` push is
//! not used: it moves the remote ref with a forced update, so two writers racing from the same
//! parent could both "succeed" and one would lose its entries. Writers on this file system also
//! share a queue lock (`ledger-sync.lock`) and a spool of signed submissions (`ledger-spool/`)
//! in its git directory ([`Remote::queue_lock`], [`Remote::spool_dir`]; `crate::flow::sync`).
//!
//! Other remotes (`ssh://`, `https://`, `http://`, `git://`) are fetched into a private bare
//! repository in the ledger directory (`sync/repo.git`) and pushed to with `git push`'s
//! protocol through libgit2: the receiving side refuses an update whose old value is not the
//! ref's current one, which is the compare-and-swap. Credentials come from the SSH agent, the
//! git credential helpers configured for the URL, `GIT_ASKPASS`, and the
//! `http.<url>.extraHeader` settings of the current repository (what `actions/checkout`
//! leaves behind).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, ObjectType, Oid, Repository, Signature, Tree};

use crate::error::{Error, Result};

/// Default ref.
pub const DEFAULT_REF: &str = "refs/audit/ledger";
/// Content of the `format` file.
pub const FORMAT: &str = "ledger-git-v1\n";
/// Most entries in one segment.
pub const SEGMENT_ENTRIES: usize = 4096;
/// Largest segment blob read (4096 lines of 16 KiB would fit; bigger lines are rare).
pub const MAX_SEGMENT_BYTES: usize = 256 << 20;
/// Largest checkpoint, format or config blob read.
const MAX_SMALL_BLOB: usize = 1 << 20;
/// Hex digits of a segment name.
const DIGITS: usize = 8;

fn git_err(what: impl std::fmt::Display, e: git2::Error) -> Error {
    Error::Git(format!("{what}: {}", e.message()))
}

/// A refusal of what the ref holds: a verification failure (exit 1) naming the commit.
fn bad_ref(commit: Oid, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify(
        format!("commit {commit}"),
        crate::error::Failure {
            line: None,
            seq: None,
            code,
            reason: reason.into(),
        },
    )
}

/// The path of the segment whose first entry has seq `first`, as components under the root.
pub fn segment_path(first: u64) -> Result<Vec<String>> {
    if first >= 1 << (4 * DIGITS) {
        return Err(Error::invalid(
            "seq",
            format!("{first}: the git layout holds seqs below 2^32"),
        ));
    }
    let hex = format!("{first:08x}");
    let mut parts = vec!["entries".to_string()];
    parts.extend(hex[..DIGITS - 1].chars().map(|c| c.to_string()));
    parts.push(format!("{hex}.jsonl"));
    Ok(parts)
}

/// What a commit on the ref holds besides its segments.
#[derive(Debug, Clone)]
pub struct Head {
    /// The commit.
    pub commit: Oid,
    /// The `checkpoint` blob.
    pub checkpoint: Vec<u8>,
    /// The `config.toml` blob, if any.
    pub config: Option<Vec<u8>>,
}

/// Read the head commit's fixed files: `format` must say [`FORMAT`].
pub fn read_head(repo: &Repository, commit: Oid) -> Result<Head> {
    let tree = commit_tree(repo, commit)?;
    let format = small_blob(repo, &tree, "format", commit)?
        .ok_or_else(|| bad_ref(commit, "bad-layout", "no `format` file: not a ledger ref"))?;
    if format != FORMAT.as_bytes() {
        return Err(bad_ref(
            commit,
            "bad-layout",
            format!(
                "`format` says {:?}; this ledger reads {:?}",
                String::from_utf8_lossy(&format[..format.len().min(64)]),
                FORMAT.trim_end()
            ),
        ));
    }
    let checkpoint = small_blob(repo, &tree, "checkpoint", commit)?
        .ok_or_else(|| bad_ref(commit, "bad-layout", "no `checkpoint` file"))?;
    let config = small_blob(repo, &tree, "config.toml", commit)?;
    Ok(Head {
        commit,
        checkpoint,
        config,
    })
}

fn commit_tree(repo: &Repository, commit: Oid) -> Result<Tree<'_>> {
    let c = repo
        .find_commit(commit)
        .map_err(|e| git_err(format!("commit {commit}"), e))?;
    c.tree()
        .map_err(|e| git_err(format!("tree of {commit}"), e))
}

fn small_blob(
    repo: &Repository,
    tree: &Tree<'_>,
    name: &str,
    commit: Oid,
) -> Result<Option<Vec<u8>>> {
    let Some(entry) = tree.get_name(name) else {
        return Ok(None);
    };
    if entry.kind() != Some(ObjectType::Blob) {
        return Err(bad_ref(
            commit,
            "bad-layout",
            format!("`{name}` is not a file"),
        ));
    }
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| git_err(format!("{name} in {commit}"), e))?;
    if blob.size() > MAX_SMALL_BLOB {
        return Err(bad_ref(
            commit,
            "bad-layout",
            format!(
                "`{name}` is {} bytes, more than {MAX_SMALL_BLOB}",
                blob.size()
            ),
        ));
    }
    Ok(Some(blob.content().to_vec()))
}

/// The entry lines on the ref at `commit` from seq `from` on, as `(first seq, segment bytes)`
/// in seq order. `from` must be where a segment starts (a size the ref had at some commit);
/// the segments must follow each other without gap or overlap (each line's seq is checked by
/// the verifier that reads them). Names that do not fit the layout are refused.
pub fn read_segments(repo: &Repository, commit: Oid, from: u64) -> Result<Vec<(u64, Vec<u8>)>> {
    let tree = commit_tree(repo, commit)?;
    let Some(entry) = tree.get_name("entries") else {
        return if from == 0 {
            Ok(Vec::new())
        } else {
            Err(bad_ref(
                commit,
                "dropped-entries",
                format!("no entries on the ref, but {from} were verified before"),
            ))
        };
    };
    let mut found: BTreeMap<u64, Oid> = BTreeMap::new();
    let sub = repo
        .find_tree(entry.id())
        .map_err(|_| bad_ref(commit, "bad-layout", "`entries` is not a directory"))?;
    walk(repo, &sub, commit, 0, 0, from, &mut found)?;
    let mut out = Vec::with_capacity(found.len());
    for (first, oid) in found {
        let blob = repo
            .find_blob(oid)
            .map_err(|e| git_err(format!("segment {first:08x} of {commit}"), e))?;
        if blob.size() > MAX_SEGMENT_BYTES {
            return Err(bad_ref(
                commit,
                "bad-layout",
                format!(
                    "segment {first:08x} is {} bytes, more than {MAX_SEGMENT_BYTES}",
                    blob.size()
                ),
            ));
        }
        let bytes = blob.content().to_vec();
        if bytes.is_empty() || bytes.last() != Some(&b'\n') {
            return Err(bad_ref(
                commit,
                "bad-layout",
                format!("segment {first:08x} is empty or does not end with a newline"),
            ));
        }
        out.push((first, bytes));
    }
    match out.first() {
        Some((first, _)) if *first != from => Err(bad_ref(
            commit,
            "dropped-entries",
            format!("the entries from seq {from} on are missing: the next segment starts at seq {first}"),
        )),
        _ => Ok(out),
    }
}

/// Walk `tree` (the directory for hex prefix `prefix` of `depth` digits), collecting the
/// segments that start at `from` or later.
fn walk(
    repo: &Repository,
    tree: &Tree<'_>,
    commit: Oid,
    depth: usize,
    prefix: u64,
    from: u64,
    found: &mut BTreeMap<u64, Oid>,
) -> Result<()> {
    if tree.len() > 16 {
        return Err(bad_ref(
            commit,
            "bad-layout",
            format!(
                "a directory of `entries` has {} names, more than 16",
                tree.len()
            ),
        ));
    }
    for e in tree.iter() {
        let name = e.name().unwrap_or("");
        if depth < DIGITS - 1 {
            let digit = single_hex(name).ok_or_else(|| {
                bad_ref(
                    commit,
                    "bad-layout",
                    format!("unexpected name {name:?} under `entries`"),
                )
            })?;
            let p = (prefix << 4) | digit;
            // The largest seq under this directory.
            let span = 4 * (DIGITS - depth - 1);
            let last = ((p + 1) << span) - 1;
            if last < from {
                continue;
            }
            let sub = repo.find_tree(e.id()).map_err(|_| {
                bad_ref(
                    commit,
                    "bad-layout",
                    format!("`{name}` under `entries` is not a directory"),
                )
            })?;
            walk(repo, &sub, commit, depth + 1, p, from, found)?;
        } else {
            let first = name
                .strip_suffix(".jsonl")
                .filter(|h| {
                    h.len() == DIGITS
                        && h.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                })
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .filter(|f| f >> 4 == prefix)
                .ok_or_else(|| {
                    bad_ref(
                        commit,
                        "bad-layout",
                        format!("unexpected segment name {name:?}"),
                    )
                })?;
            if e.kind() != Some(ObjectType::Blob) {
                return Err(bad_ref(
                    commit,
                    "bad-layout",
                    format!("segment {name} is not a file"),
                ));
            }
            if first >= from {
                found.insert(first, e.id());
            }
        }
    }
    Ok(())
}

fn single_hex(name: &str) -> Option<u64> {
    match name.as_bytes() {
        [b @ (b'0'..=b'9' | b'a'..=b'f')] => {
            u64::from_str_radix(std::str::from_utf8(&[*b]).ok()?, 16).ok()
        }
        _ => None,
    }
}

/// Between two commits of the ref (`new` descending from `old`), segments may only be added:
/// a segment changed or removed, or a changed `format`, is history rewritten on top of a
/// valid-looking commit (an entry dropped), refused naming the path. Only the subtrees that
/// differ are compared, so the cost follows the change, not the ref.
pub fn check_only_added(repo: &Repository, old: Oid, new: Oid) -> Result<()> {
    let a = commit_tree(repo, old)?;
    let b = commit_tree(repo, new)?;
    let diff = repo
        .diff_tree_to_tree(Some(&a), Some(&b), None)
        .map_err(|e| git_err(format!("comparing {old} with {new}"), e))?;
    for d in diff.deltas() {
        let path = d
            .old_file()
            .path()
            .or_else(|| d.new_file().path())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let guarded = path.starts_with("entries/") || path == "format";
        if guarded && d.status() != git2::Delta::Added {
            return Err(bad_ref(
                new,
                "dropped-entries",
                format!(
                    "{path} was {} after commit {old}, which was verified: segments are never changed or removed",
                    match d.status() {
                        git2::Delta::Deleted => "removed",
                        _ => "changed",
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// A commit to be published: the objects written for it, for the transports that must sync
/// them.
#[derive(Debug, Clone)]
pub struct Built {
    /// The new commit.
    pub commit: Oid,
    /// Every object written for it (blobs, trees, the commit).
    pub objects: Vec<Oid>,
    /// The pack that holds them, when [`build_commit_packed`] wrote one (its name's hex).
    pub pack: Option<String>,
}

/// [`build_commit`] into a repository on this file system, with every new object in one pack
/// file (`objects/pack/pack-<hash>.pack` and its `.idx`) instead of a loose file each: a
/// push then creates two files, not a dozen, and [`Remote::publish`] syncs two. The objects
/// are gathered in memory (a libgit2 mempack, on a handle of the repository opened for this
/// commit alone), packed (only those the repository lacks) and indexed into the repository by
/// libgit2's pack writer, as a fetch would.
/// After the push, [`Remote::publish`] merges small packs ([`merge_small_packs`]), so that
/// their number stays small however many pushes the ref has seen.
#[allow(clippy::too_many_arguments)]
pub fn build_commit_packed(
    repo: &Repository,
    parent: Option<Oid>,
    segments: &[(u64, Vec<u8>)],
    checkpoint: &[u8],
    config: &[u8],
    author: &str,
    message: &str,
) -> Result<Built> {
    let own = Repository::open_bare(repo.path())
        .map_err(|e| git_err(format!("{}: opening", repo.path().display()), e))?;
    let odb = own.odb().map_err(|e| git_err("object database", e))?;
    let mempack = odb
        .add_new_mempack_backend(1000)
        .map_err(|e| git_err("object database (in memory)", e))?;
    let mut built = build_commit(&own, parent, segments, checkpoint, config, author, message)?;
    // Exactly the objects the repository does not have yet (libgit2's mempack dump would add
    // every object a new commit reaches, the whole ledger).
    // One look at the pack directory, then no more: libgit2 reads it again on every object it
    // does not find, and all of these are new. A pack that appears meanwhile only means an
    // object is written twice.
    let disk = repo.odb().map_err(|e| git_err("object database", e))?;
    disk.refresh().map_err(|e| git_err("object database", e))?;
    let mut pb = own
        .packbuilder()
        .map_err(|e| git_err("packing the new objects", e))?;
    pb.set_threads(1);
    for oid in &built.objects {
        if !disk.exists_ext(*oid, git2::OdbLookupFlags::NO_REFRESH) {
            pb.insert_object(*oid, None)
                .map_err(|e| git_err(format!("packing object {oid}"), e))?;
        }
    }
    let mut buf = git2::Buf::new();
    pb.write_buf(&mut buf)
        .map_err(|e| git_err("packing the new objects", e))?;
    drop(pb);
    let _ = mempack.reset();
    let name = write_pack(&odb, repo, &buf)?;
    let dir = repo.path().join("objects").join("pack");
    for ext in ["pack", "idx"] {
        let f = dir.join(format!("pack-{name}.{ext}"));
        if !f.is_file() {
            return Err(Error::internal(format!(
                "{}: the pack just written is not there",
                f.display()
            )));
        }
    }
    built.pack = Some(name);
    Ok(built)
}

/// Write a commit on top of `parent` (none for the first) that adds `segments` (first seq,
/// lines), replaces `checkpoint`, and writes `format` and `config.toml` when the parent has
/// none.
pub fn build_commit(
    repo: &Repository,
    parent: Option<Oid>,
    segments: &[(u64, Vec<u8>)],
    checkpoint: &[u8],
    config: &[u8],
    author: &str,
    message: &str,
) -> Result<Built> {
    let mut objects = Vec::new();
    let parent_commit = match parent {
        Some(p) => Some(
            repo.find_commit(p)
                .map_err(|e| git_err(format!("commit {p}"), e))?,
        ),
        None => None,
    };
    let mut root = match &parent_commit {
        Some(c) => Some(c.tree().map_err(|e| git_err("parent tree", e))?.id()),
        None => None,
    };
    let blob = |bytes: &[u8], objects: &mut Vec<Oid>| -> Result<Oid> {
        let oid = repo.blob(bytes).map_err(|e| git_err("writing a blob", e))?;
        objects.push(oid);
        Ok(oid)
    };
    for (first, bytes) in segments {
        let path = segment_path(*first)?;
        let oid = blob(bytes, &mut objects)?;
        root = Some(insert(repo, root, &path, oid, &mut objects)?);
    }
    let cp = blob(checkpoint, &mut objects)?;
    root = Some(insert(
        repo,
        root,
        &["checkpoint".to_string()],
        cp,
        &mut objects,
    )?);
    let has = |root: Option<Oid>, name: &str| -> Result<bool> {
        Ok(match root {
            Some(r) => repo
                .find_tree(r)
                .map_err(|e| git_err("tree", e))?
                .get_name(name)
                .is_some(),
            None => false,
        })
    };
    for (name, bytes) in [("format", FORMAT.as_bytes()), ("config.toml", config)] {
        if !has(root, name)? {
            let b = blob(bytes, &mut objects)?;
            root = Some(insert(repo, root, &[name.to_string()], b, &mut objects)?);
        }
    }
    let root = root.ok_or_else(|| Error::internal("no tree"))?;
    let tree = repo.find_tree(root).map_err(|e| git_err("tree", e))?;
    let sig = Signature::now("audit-ledger", &format!("{author}@ledger.invalid"))
        .map_err(|e| git_err("signature", e))?;
    let parents: Vec<&git2::Commit<'_>> = parent_commit.iter().collect();
    let commit = repo
        .commit(None, &sig, &sig, message, &tree, &parents)
        .map_err(|e| git_err("writing the commit", e))?;
    objects.push(commit);
    Ok(Built {
        commit,
        objects,
        pack: None,
    })
}

/// Insert `blob` at `path` under the tree `root` (none: an empty tree), writing the new trees.
fn insert(
    repo: &Repository,
    root: Option<Oid>,
    path: &[String],
    blob: Oid,
    objects: &mut Vec<Oid>,
) -> Result<Oid> {
    let tree = match root {
        Some(r) => Some(repo.find_tree(r).map_err(|e| git_err("tree", e))?),
        None => None,
    };
    let mut b = repo
        .treebuilder(tree.as_ref())
        .map_err(|e| git_err("tree builder", e))?;
    let (name, rest) = match path.split_first() {
        Some(x) => x,
        None => return Err(Error::internal("empty path")),
    };
    if rest.is_empty() {
        b.insert(name, blob, 0o100644)
            .map_err(|e| git_err(format!("inserting {name}"), e))?;
    } else {
        let sub = match tree.as_ref().and_then(|t| t.get_name(name)) {
            Some(e) if e.kind() == Some(ObjectType::Tree) => Some(e.id()),
            _ => None,
        };
        let sub = insert(repo, sub, rest, blob, objects)?;
        b.insert(name, sub, 0o040000)
            .map_err(|e| git_err(format!("inserting {name}/"), e))?;
    }
    let oid = b.write().map_err(|e| git_err("writing a tree", e))?;
    objects.push(oid);
    Ok(oid)
}

/// Where the ref lives and how it is reached.
pub enum Remote {
    /// A repository on this file system, written directly.
    Local {
        /// The repository.
        repo: Repository,
        /// Its path, for messages.
        path: PathBuf,
    },
    /// A repository over the network, through a private fetch repository.
    Network {
        /// The private repository (`sync/repo.git`).
        repo: Repository,
        /// The URL.
        url: String,
        /// Extra HTTP headers (`http.extraHeader`).
        headers: Vec<String>,
        /// The configuration credential helpers are read from.
        config: Option<git2::Config>,
    },
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What a push came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The ref now points at the new commit.
    Done,
    /// The ref had moved (or was created) since it was read: the compare-and-swap failed.
    Lost(String),
}

const REMOTE_TRACKING: &str = "refs/ledger-sync/remote";
const BASE_REF: &str = "refs/ledger-sync/base";
const OUTGOING: &str = "refs/ledger-sync/outgoing";

impl Remote {
    /// Open `spec` (a URL, a path, or the name of a remote of the repository around the
    /// current directory), with `private` the directory of the private fetch repository.
    pub fn open(spec: &str, private: &Path) -> Result<Remote> {
        let (url, from_repo) = resolve(spec)?;
        if let Some(path) = local_path(&url) {
            let repo = Repository::open_bare(&path)
                .or_else(|_| Repository::open(&path))
                .map_err(|e| git_err(format!("{}: not a git repository", path.display()), e))?;
            return Ok(Remote::Local { repo, path });
        }
        let repo = match Repository::open_bare(private) {
            Ok(r) => r,
            Err(_) => {
                std::fs::create_dir_all(private).map_err(|e| Error::io(private, e))?;
                Repository::init_bare(private).map_err(|e| git_err(private.display(), e))?
            }
        };
        let config = match &from_repo {
            Some(r) => r.config().ok(),
            None => git2::Config::open_default().ok(),
        };
        let headers = config
            .as_ref()
            .map(|c| extra_headers(c, &url))
            .unwrap_or_default();
        Ok(Remote::Network {
            repo,
            url,
            headers,
            config,
        })
    }

    /// For a repository on this file system: an exclusive lock (`ledger-sync.lock` in its git
    /// directory) that writers on this machine take from reading the ref to moving it, so
    /// that they queue instead of racing and redoing their work (the compare-and-swap still
    /// decides; the lock only saves the lost attempts). `None` for network remotes, where the
    /// remote's refusal and a backoff order the writers. Released when the handle drops
    /// (also when the process dies).
    pub fn queue_lock(&self) -> Result<Option<std::fs::File>> {
        match self {
            Remote::Local { repo, .. } => {
                let path = repo.path().join("ledger-sync.lock");
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                f.lock().map_err(|e| Error::io(&path, e))?;
                Ok(Some(f))
            }
            Remote::Network { .. } => Ok(None),
        }
    }

    /// For a repository on this file system: the spool directory (`ledger-spool/` in its git
    /// directory) where writers leave signed submissions for whichever writer holds the queue
    /// lock next to publish, many in one commit. `None` for network remotes.
    pub fn spool_dir(&self) -> Option<PathBuf> {
        match self {
            Remote::Local { repo, .. } => Some(repo.path().join("ledger-spool")),
            Remote::Network { .. } => None,
        }
    }

    /// The repository objects are read from and written to.
    pub fn repo(&self) -> &Repository {
        match self {
            Remote::Local { repo, .. } | Remote::Network { repo, .. } => repo,
        }
    }

    /// The remote, for messages.
    pub fn describe(&self) -> String {
        match self {
            Remote::Local { path, .. } => path.display().to_string(),
            Remote::Network { url, .. } => redact(url),
        }
    }

    /// Read the ref as the remote has it now (fetching its objects): `None` when it does not
    /// exist. `base` is the last commit verified, which the fetch tells the remote it has.
    pub fn head(&mut self, refname: &str, base: Option<Oid>) -> Result<Option<Oid>> {
        match self {
            Remote::Local { repo, path } => match repo.refname_to_id(refname) {
                Ok(oid) => Ok(Some(oid)),
                Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
                Err(e) => Err(git_err(format!("{}: {refname}", path.display()), e)),
            },
            Remote::Network {
                repo,
                url,
                headers,
                config,
            } => {
                if let Some(b) = base {
                    if repo.find_commit(b).is_ok() {
                        repo.reference(BASE_REF, b, true, "ledger sync: base")
                            .map_err(|e| git_err("base ref", e))?;
                    }
                }
                if let Ok(mut r) = repo.find_reference(REMOTE_TRACKING) {
                    r.delete().map_err(|e| git_err("tracking ref", e))?;
                }
                let mut remote = repo
                    .remote_anonymous(url)
                    .map_err(|e| git_err(redact(url), e))?;
                let mut fo = git2::FetchOptions::new();
                fo.remote_callbacks(callbacks(config.as_ref(), url, None));
                fo.download_tags(git2::AutotagOption::None);
                fo.update_fetchhead(false);
                let h: Vec<&str> = headers.iter().map(String::as_str).collect();
                fo.custom_headers(&h);
                let spec = format!("+{refname}:{REMOTE_TRACKING}");
                remote
                    .fetch(&[spec.as_str()], Some(&mut fo), None)
                    .map_err(|e| git_err(format!("fetching {refname} from {}", redact(url)), e))?;
                match repo.refname_to_id(REMOTE_TRACKING) {
                    Ok(oid) => Ok(Some(oid)),
                    Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
                    Err(e) => Err(git_err("tracking ref", e)),
                }
            }
        }
    }

    /// Move the ref from `old` (none: it must not exist) to `new`, whose objects `built`
    /// lists: the compare-and-swap.
    pub fn publish(&mut self, refname: &str, old: Option<Oid>, built: &Built) -> Result<Pushed> {
        match self {
            Remote::Local { repo, path } => {
                match &built.pack {
                    Some(name) => sync_pack(repo, name)?,
                    None => sync_objects(repo, &built.objects)?,
                }
                let msg = "ledger sync";
                let r = match old {
                    Some(o) => repo.reference_matching(refname, built.commit, true, o, msg),
                    None => repo.reference(refname, built.commit, false, msg),
                };
                match r {
                    Ok(_) => {
                        sync_ref(repo, refname)?;
                        if built.pack.is_some() {
                            // Upkeep, not part of the push: the ref has moved and is durable,
                            // and a merge that fails leaves the packs as they were.
                            let _ = merge_small_packs(repo, MAX_PACKS);
                        }
                        Ok(Pushed::Done)
                    }
                    Err(e)
                        if matches!(
                            e.code(),
                            ErrorCode::Modified | ErrorCode::Exists | ErrorCode::Locked
                        ) || e.message().contains("lock") =>
                    {
                        Ok(Pushed::Lost(e.message().to_string()))
                    }
                    Err(e) => Err(git_err(
                        format!("{}: updating {refname}", path.display()),
                        e,
                    )),
                }
            }
            Remote::Network {
                repo,
                url,
                headers,
                config,
            } => {
                repo.reference(OUTGOING, built.commit, true, "ledger sync: outgoing")
                    .map_err(|e| git_err("outgoing ref", e))?;
                let mut remote = repo
                    .remote_anonymous(url)
                    .map_err(|e| git_err(redact(url), e))?;
                let status = std::cell::RefCell::new(None::<String>);
                let mut po = git2::PushOptions::new();
                po.remote_callbacks(callbacks(config.as_ref(), url, Some(&status)));
                let h: Vec<&str> = headers.iter().map(String::as_str).collect();
                po.custom_headers(&h);
                let _ = old;
                let spec = format!("{OUTGOING}:{refname}");
                match remote.push(&[spec.as_str()], Some(&mut po)) {
                    Ok(()) => {}
                    Err(e)
                        if e.code() == ErrorCode::NotFastForward
                            || e.message().contains("non-fast")
                            || e.message().contains("fetch first") =>
                    {
                        return Ok(Pushed::Lost(e.message().to_string()));
                    }
                    Err(e) => {
                        return Err(git_err(format!("pushing {refname} to {}", redact(url)), e))
                    }
                }
                drop(po);
                match status.into_inner() {
                    None => Ok(Pushed::Done),
                    Some(why) => Ok(Pushed::Lost(why)),
                }
            }
        }
    }
}

/// The URL of `spec`, and the repository around the current directory when `spec` named one
/// of its remotes.
fn resolve(spec: &str) -> Result<(String, Option<Repository>)> {
    if spec.is_empty() {
        return Err(Error::invalid("--git", "empty remote"));
    }
    let looks_like_url = spec.contains("://") || spec.contains(':') && spec.contains('@');
    let looks_like_path = spec.starts_with('/') || spec.starts_with('.') || spec.starts_with('~');
    let around = Repository::open_from_env().ok();
    if looks_like_url || looks_like_path || Path::new(spec).is_dir() {
        return Ok((spec.to_string(), around));
    }
    let repo = around.ok_or_else(|| {
        Error::invalid(
            "--git",
            format!("{spec:?} is not a URL or a path, and there is no git repository here to have a remote of that name"),
        )
    })?;
    let url = {
        let remote = repo.find_remote(spec).map_err(|_| {
            Error::invalid(
                "--git",
                format!("no remote named {spec:?} in this repository"),
            )
        })?;
        match remote.pushurl() {
            Ok(Some(u)) => u.to_string(),
            _ => remote
                .url()
                .map(str::to_string)
                .map_err(|_| Error::invalid("--git", format!("remote {spec:?} has no URL")))?,
        }
    };
    Ok((url, Some(repo)))
}

/// The path of a remote on this file system.
fn local_path(url: &str) -> Option<PathBuf> {
    if let Some(rest) = url.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    if url.contains("://") || (url.contains(':') && url.contains('@')) {
        return None;
    }
    Some(PathBuf::from(url))
}

/// A URL without a password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &userinfo[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// `http.extraHeader` values that apply to `url` (`http.<prefix>.extraHeader` with a prefix
/// of the URL, and the plain one).
fn extra_headers(config: &git2::Config, url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(mut entries) = config.entries(Some("http.*extraheader")) {
        while let Some(Ok(e)) = entries.next() {
            let name = e.name().unwrap_or("").to_string();
            let Ok(value) = e.value() else { continue };
            let lower = name.to_ascii_lowercase();
            let applies = if lower == "http.extraheader" {
                true
            } else {
                let mid = &name["http.".len()..name.len() - ".extraheader".len()];
                url.starts_with(mid)
            };
            if applies && !value.is_empty() {
                out.push(value.to_string());
            }
        }
    }
    out
}

/// Callbacks: credentials (SSH agent, credential helpers, `GIT_ASKPASS`) and the push status.
fn callbacks<'a>(
    config: Option<&'a git2::Config>,
    url: &'a str,
    status: Option<&'a std::cell::RefCell<Option<String>>>,
) -> git2::RemoteCallbacks<'a> {
    let mut cb = git2::RemoteCallbacks::new();
    let mut tries = 0u32;
    cb.credentials(move |u, username, allowed| {
        tries += 1;
        if tries > 4 {
            return Err(git2::Error::from_str(
                "authentication failed (credentials refused)",
            ));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            if tries <= 2 {
                if let Some(c) = config {
                    if let Ok(cred) = git2::Cred::credential_helper(c, u, username) {
                        return Ok(cred);
                    }
                }
            }
            if let Some(cred) = askpass(url, username) {
                return Ok(cred);
            }
        }
        if allowed.contains(git2::CredentialType::DEFAULT) {
            return git2::Cred::default();
        }
        Err(git2::Error::from_str("no credentials for this remote"))
    });
    if let Some(status) = status {
        cb.push_update_reference(move |_, s| {
            if let Some(s) = s {
                *status.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
    }
    cb
}

/// Ask `GIT_ASKPASS` for a user name (unless the URL has one) and a password, as git does.
fn askpass(url: &str, username: Option<&str>) -> Option<git2::Cred> {
    let prog = std::env::var_os("GIT_ASKPASS").filter(|p| !p.is_empty())?;
    let ask = |prompt: String| -> Option<String> {
        let out = std::process::Command::new(&prog)
            .arg(prompt)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status.success().then(|| {
            String::from_utf8_lossy(&out.stdout)
                .trim_end_matches(['\r', '\n'])
                .to_string()
        })
    };
    let shown = redact(url);
    let user = match username {
        Some(u) => u.to_string(),
        None => ask(format!("Username for '{shown}': "))?,
    };
    let pass = ask(format!("Password for '{shown}': "))?;
    git2::Cred::userpass_plaintext(&user, &pass).ok()
}

/// fsync the loose objects just written (libgit2 does not by default), and their directories.
fn sync_objects(repo: &Repository, objects: &[Oid]) -> Result<()> {
    let base = repo.path().join("objects");
    let mut files = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    for oid in objects {
        let hex = oid.to_string();
        let dir = base.join(&hex[..2]);
        let file = dir.join(&hex[2..]);
        if file.exists() {
            files.push(file);
            dirs.insert(dir);
        }
    }
    // The files first, then their directories; each group at once (one thread per file), so
    // that the disk sees a queue of writes rather than one round trip after another.
    parallel_sync(&files, |f| {
        std::fs::File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(f, e))
    })?;
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    parallel_sync(&dirs, crate::fsutil::sync_dir)
}

/// fsync a pack and its index (on two threads), then `objects/pack`.
fn sync_pack(repo: &Repository, name: &str) -> Result<()> {
    let dir = repo.path().join("objects").join("pack");
    let files: Vec<PathBuf> = ["pack", "idx"]
        .iter()
        .map(|ext| dir.join(format!("pack-{name}.{ext}")))
        .collect();
    parallel_sync(&files, |f| {
        std::fs::File::open(f)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(f, e))
    })?;
    crate::fsutil::sync_dir(&dir)
}

/// Index the pack `buf` into `repo` through libgit2's pack writer (as a fetch would): it
/// writes `objects/pack/pack-<name>.pack` and `.idx`. Returns the name, the SHA-1 trailer
/// that ends every pack.
fn write_pack(odb: &git2::Odb<'_>, repo: &Repository, buf: &git2::Buf) -> Result<String> {
    use std::io::Write as _;
    let name = buf
        .len()
        .checked_sub(20)
        .and_then(|at| buf.get(at..))
        .map(hex::encode)
        .ok_or_else(|| Error::internal("libgit2 wrote an empty pack"))?;
    let mut w = odb
        .packwriter()
        .map_err(|e| git_err("writing the pack", e))?;
    w.write_all(buf)
        .map_err(|e| Error::io(repo.path().join("objects/pack"), e))?;
    w.commit().map_err(|e| git_err("indexing the pack", e))?;
    Ok(name)
}

/// Most packs a path remote keeps before [`merge_small_packs`] merges some.
pub const MAX_PACKS: usize = 16;

/// The object names a pack index (`.idx`, version 2) lists.
///
/// Format (git's `Documentation/gitformat-pack.txt`): the magic `\xfftOc`, the version (4 bytes,
/// big-endian, 2), a fan-out table of 256 big-endian counts whose last is the number of
/// objects N, then the N object names (20 bytes each, sorted), then CRCs, offsets and two
/// checksums, which are not read here. `None` for anything else (version 1, SHA-256, short).
pub fn pack_index_names(idx: &[u8]) -> Option<Vec<Oid>> {
    const HEAD: usize = 8 + 256 * 4;
    if idx.get(..8)? != b"\xfftOc\x00\x00\x00\x02" {
        return None;
    }
    let at = 8 + 255 * 4;
    let n = u32::from_be_bytes(idx.get(at..at + 4)?.try_into().ok()?) as usize;
    let names = idx.get(HEAD..HEAD.checked_add(n.checked_mul(20)?)?)?;
    // The smallest valid index has, per object, a name, a CRC and an offset, then 40 bytes.
    if idx.len() < HEAD + n * 28 + 40 {
        return None;
    }
    names
        .chunks_exact(20)
        .map(|c| Oid::from_bytes(c).ok())
        .collect()
}

/// Merge the small packs of `repo` when it has more than `max`: the packs, smallest first,
/// are merged while each is at most twice the objects of those before it (git's geometric
/// repack, factor 2), so sizes grow geometrically and the count stays near `max` plus the log of
/// the objects, and each object is rewritten a logarithmic number of times. The merged pack
/// (every object the merged indexes list) is written and fsynced before any old pack is
/// removed, and a pack with a `.keep` file is never touched, so every object stays readable
/// throughout; readers with an old pack open keep reading it (POSIX), and libgit2 finds the
/// new one when an object is missing. Two writers merging at once both write a pack holding
/// the objects and remove the same files. Returns the number of packs removed.
pub fn merge_small_packs(repo: &Repository, max: usize) -> Result<usize> {
    let dir = repo.path().join("objects").join("pack");
    let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut packs = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(&dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".idx") {
            if stem.starts_with("pack-") && !dir.join(format!("{stem}.keep")).exists() {
                packs.push(stem.to_string());
            }
        }
    }
    if packs.len() <= max {
        return Ok(0);
    }
    let mut sized = Vec::new();
    for stem in packs {
        let path = dir.join(format!("{stem}.idx"));
        // Index files are a few bytes per object; a huge one is a big pack, never merged. Only
        // regular files are read: a FIFO or device named like an index would block the read.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() <= 64 << 20 => {}
            _ => continue,
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        if let Some(names) = pack_index_names(&bytes) {
            sized.push((names.len(), stem, names));
        }
    }
    sized.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut take = 0;
    let mut sum = 0usize;
    for (n, _, _) in &sized {
        if take >= 2 && *n > 2 * sum {
            break;
        }
        sum += n;
        take += 1;
    }
    if take < 2 {
        return Ok(0);
    }
    let merged = &sized[..take];
    let odb = repo.odb().map_err(|e| git_err("object database", e))?;
    let mut pb = repo
        .packbuilder()
        .map_err(|e| git_err("merging packs", e))?;
    pb.set_threads(1);
    for (_, _, names) in merged {
        for oid in names {
            pb.insert_object(*oid, None)
                .map_err(|e| git_err(format!("merging packs: object {oid}"), e))?;
        }
    }
    let mut buf = git2::Buf::new();
    pb.write_buf(&mut buf)
        .map_err(|e| git_err("merging packs", e))?;
    drop(pb);
    let name = write_pack(&odb, repo, &buf)?;
    sync_pack(repo, &name)?;
    let mut removed = 0;
    for (_, stem, _) in merged {
        if *stem == format!("pack-{name}") {
            continue;
        }
        // The index first: without it the pack is not used, and a pack left behind is only
        // bytes (git gc removes it).
        for ext in ["idx", "pack", "rev", "bitmap", "mtimes"] {
            match std::fs::remove_file(dir.join(format!("{stem}.{ext}"))) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(dir.join(format!("{stem}.{ext}")), e)),
            }
        }
        removed += 1;
    }
    crate::fsutil::sync_dir(&dir)?;
    Ok(removed)
}

/// Run `f` on every path, each on its own thread; the first error wins.
fn parallel_sync(paths: &[PathBuf], f: impl Fn(&Path) -> Result<()> + Sync) -> Result<()> {
    if paths.len() < 2 {
        return paths.iter().try_for_each(|p| f(p));
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = paths.iter().map(|p| s.spawn(|| f(p))).collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::internal("an fsync thread panicked")));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

/// fsync the ref file just moved, and its directory.
fn sync_ref(repo: &Repository, refname: &str) -> Result<()> {
    let file = repo.path().join(refname);
    if let Ok(f) = std::fs::File::open(&file) {
        f.sync_all().map_err(|e| Error::io(&file, e))?;
        if let Some(d) = file.parent() {
            crate::fsutil::sync_dir(d)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_paths_have_one_directory_per_leading_hex_digit() {
        assert_eq!(
            segment_path(0x3e8).unwrap().join("/"),
            "entries/0/0/0/0/0/3/e/000003e8.jsonl"
        );
        assert_eq!(
            segment_path(0xfedcba98).unwrap().join("/"),
            "entries/f/e/d/c/b/a/9/fedcba98.jsonl"
        );
        assert!(segment_path(1 << 32).is_err());
    }

    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(redact("https://x:secret@h/r.git"), "https://x:***@h/r.git");
        assert_eq!(redact("https://h/r.git"), "https://h/r.git");
        assert_eq!(redact("ssh://git@h/r.git"), "ssh://git@h/r.git");
    }

    #[test]
    fn segments_round_trip_through_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let a = build_commit(
            &repo,
            None,
            &[(0, b"a\nb\n".to_vec())],
            b"cp1",
            b"c",
            "k",
            "m",
        )
        .unwrap();
        let b = build_commit(
            &repo,
            Some(a.commit),
            &[(2, b"c\n".to_vec()), (3, b"d\n".to_vec())],
            b"cp2",
            b"c",
            "k",
            "m",
        )
        .unwrap();
        let all = read_segments(&repo, b.commit, 0).unwrap();
        assert_eq!(
            all.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        let tail = read_segments(&repo, b.commit, 2).unwrap();
        assert_eq!(tail.len(), 2);
        assert!(read_segments(&repo, b.commit, 1).is_err());
        let head = read_head(&repo, b.commit).unwrap();
        assert_eq!(head.checkpoint, b"cp2");
    }
}
