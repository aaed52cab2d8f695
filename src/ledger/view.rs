//! The verified view: what every reader and writer knows of a ledger after checking it, kept
//! as client state outside the ledger directory so that the next run checks only what is new.
//!
//! # Client state (DESIGN §8)
//!
//! `BASE/<hex(SHA-256(origin))[..16]>/<hex(SHA-256(directory))[..16]>/state.json` (one per
//! origin and canonical ledger directory: two checkouts of one ledger may stand at different
//! points; DESIGN §8 keys by origin alone), where `BASE` is `--state DIR`, else
//! `$XDG_STATE_HOME/ledger`, else `$HOME/.local/state/ledger`. The file is written by this
//! tool only, after a successful check (temp file + rename without fsync, mode 0600, in a 0700
//! directory):
//!
//! ```json
//! {"format": "ledger-client-state-v1", "origin": "example.org/app", "root_key": "1f2e…",
//!  "size": 1204, "bytes": 493211, "last_line": 492801, "head": "<64 hex>",
//!  "root": "<64 hex>", "subtrees": ["<64 hex>", …],
//!  "keys": [{"id": "1f2e…", "public_key": "<64 hex>", "added_at": 0, "revoked_at": null},
//!           {"id": "77ab…", "public_key": "<64 hex>", "added_at": 9, "revoked_at": null,
//!            "git_signer": "alice@example.org"}],
//!  "checked_at": "2026-12-02T04:00:00.000Z"}
//! ```
//!
//! `size` entries (`bytes` bytes, the last line starting at byte `last_line`) were verified:
//! hashes, chain, signatures and key history. `head` is the last entry's hash, `root` the
//! RFC 6962 root of the `size` leaves and `subtrees` the hashes of the perfect subtrees that
//! cover them, largest first (the frontier, so the next root costs only the new leaves).
//! `keys` is the key history at the end of the prefix; a key's role, when it has one, is
//! `"writer": true` or `"git_signer": "<identity>"` (absent in older files: false, none).
//!
//! # The check
//!
//! [`View::open`] reads the state, if any, and re-reads the prefix's last line from the ledger:
//! it must still be entry `size - 1` with hash `head`. Since every entry's hash covers the
//! previous one, that line stands for the whole prefix: a ledger that was truncated, rewritten
//! and re-hashed, or forked no longer has it, and the view refuses the ledger (`rollback` or
//! `fork`, exit 1) naming both heads. Then the entries after the prefix are verified (signatures
//! under the recorded key history) and the state is advanced. An edit inside the prefix that
//! keeps the last line (without re-hashing what follows) breaks the chain, which readers that
//! go through the entries check as they read, and which `ledger verify` reports.
//!
//! The state is trusted like a pinned key: it lives outside the ledger directory, where an
//! attacker who can write the ledger is assumed not to reach. A pinned root key (`--root-key`,
//! `LEDGER_ROOT_KEY`) must match the state's and the ledger's root key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Failure, Result};
use crate::keys::history::KeyState;
use crate::ledger::entry::Entry;
use crate::ledger::store::Ledger;
use crate::ledger::verify::{self, Options, Resume, SignedPolicy};
use crate::merkle::{Frontier, Hash};

pub use crate::ledger::state::StateLocation;

/// Format tag of the client state file.
pub const STATE_FORMAT: &str = "ledger-client-state-v1";
/// File name of the client state inside its directory.
pub const STATE_FILE: &str = "state.json";
/// The largest state file read (a few hundred keys fit in far less).
const MAX_STATE: u64 = 4 << 20;

/// How a view is opened.
#[derive(Debug, Clone, Default)]
pub struct ViewOptions {
    /// Where the client state lives.
    pub state: StateLocation,
    /// A root key id the ledger's first key must have (`--root-key`, `LEDGER_ROOT_KEY`).
    pub root_key: Option<String>,
}

/// One key of the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRow {
    id: String,
    public_key: String,
    added_at: u64,
    revoked_at: Option<u64>,
    /// A writer key (submissions only); absent means false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    writer: bool,
    /// A git-signer key: the identity it is bound to; absent means not one (state files
    /// written before git-signer keys existed have none, as their ledgers have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    git_signer: Option<String>,
}

/// The newest `policy` entry, as the state file keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyRow {
    seq: u64,
    #[serde(with = "crate::merkle::hex_hash")]
    hash: Hash,
    require_signatures: bool,
    settings: String,
}

/// The state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    origin: String,
    root_key: Option<String>,
    size: u64,
    bytes: u64,
    last_line: u64,
    #[serde(with = "crate::merkle::hex_hash")]
    head: Hash,
    #[serde(with = "crate::merkle::hex_hash")]
    root: Hash,
    subtrees: Vec<String>,
    keys: Vec<KeyRow>,
    #[serde(default)]
    policy: Option<PolicyRow>,
    checked_at: String,
}

/// The verified state of a ledger, as a reader or writer uses it.
#[derive(Debug, Clone)]
pub struct View {
    /// Entries verified (the whole ledger when the view was opened).
    pub size: u64,
    /// Bytes of the verified entries.
    pub bytes: u64,
    /// Offset of the last verified line.
    pub last_line: u64,
    /// Hash of the last entry (`None` for an empty ledger).
    pub head: Option<Hash>,
    /// RFC 6962 root of the verified entries.
    pub root: Hash,
    /// The frontier of the tree, for the next root.
    pub frontier: Frontier,
    /// The key history at the end of the verified entries.
    pub keys: Vec<KeyState>,
    /// The signed settings in force after the verified entries (the newest `policy` entry).
    pub policy: Option<SignedPolicy>,
    /// Entries verified by this opening (all of them on a first run; the new ones after).
    pub checked: u64,
    /// The state file used and advanced, if any.
    pub state_file: Option<PathBuf>,
    /// Things worth telling (a state started, a pin recorded).
    pub notices: Vec<String>,
}

impl View {
    /// The root key id (the first key added), if the ledger has keys.
    pub fn root_key(&self) -> Option<&str> {
        self.keys
            .iter()
            .min_by_key(|k| k.added_at)
            .map(|k| k.id.as_str())
    }

    /// The git-signer keys trusted now (for the next entry), with the identities the key
    /// history binds them to: what [`crate::git::sshsig::verify_commit`] checks a commit
    /// against. For an earlier point of the log, [`crate::git::sshsig::GitSigner::trusted_at`].
    pub fn git_signers(&self) -> Vec<crate::git::sshsig::GitSigner> {
        crate::git::sshsig::GitSigner::trusted_at(&self.keys, self.size)
    }

    /// The key `id` if it is trusted for the next entry.
    pub fn trusted(&self, id: &str) -> Option<&KeyState> {
        self.keys
            .iter()
            .find(|k| k.id == id && k.revoked_at.is_none())
    }

    /// Open the verified view of `ledger`: check the client state still stands for the
    /// ledger's prefix, verify what follows it, advance the state. `progress(done, total)`
    /// reports bytes.
    pub fn open(
        ledger: &Ledger,
        opts: &ViewOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<View> {
        View::open_to(ledger, opts, None, progress, &mut |_| {})
    }

    /// [`View::open`], handing `tap` every entry line this opening verifies, in log order,
    /// once it is verified (see [`verify::verify_tapped`]): all of them on a first run
    /// (`checked == size` afterwards), the new ones after.
    pub fn open_tapped(
        ledger: &Ledger,
        opts: &ViewOptions,
        progress: &mut dyn FnMut(u64, u64),
        tap: &mut dyn FnMut(&verify::Tapped<'_>),
    ) -> Result<View> {
        View::open_to(ledger, opts, None, progress, tap)
    }

    /// [`View::open`] up to byte `end` when given: for the write path, which holds the append
    /// lock and read the tail under it.
    pub(crate) fn open_to(
        ledger: &Ledger,
        opts: &ViewOptions,
        end: Option<u64>,
        progress: &mut dyn FnMut(u64, u64),
        tap: &mut dyn FnMut(&verify::Tapped<'_>),
    ) -> Result<View> {
        let origin = ledger.config().origin.clone();
        let state_dir = opts.state.dir_for_ledger(&origin, ledger.dir());
        let state_path = state_dir.as_ref().map(|d| d.join(STATE_FILE));
        let prior = match &state_path {
            Some(p) => load_state(p)?,
            None => None,
        };
        let file = ledger.log_path().display().to_string();
        if let Some(s) = &prior {
            if let (Some(pin), Some(had)) = (&opts.root_key, &s.root_key) {
                if pin != had {
                    return Err(Error::verify(
                        file,
                        unpositioned(
                            "root-key-mismatch",
                            format!(
                                "root key {pin} was pinned, but the client state {} records root key {had}",
                                state_path_text(&state_path)
                            ),
                        ),
                    ));
                }
            }
            check_prefix(ledger, s, &state_path, end)?;
        }
        let resume = match &prior {
            Some(s) => Some(resume_of(s, &state_path)?),
            None => None,
        };
        let mut frontier = match &prior {
            Some(s) => frontier_of(s, &state_path)?,
            None => Frontier::default(),
        };
        let vopts = Options {
            collect_leaves: true,
            end,
            ..Options::default()
        };
        let summary =
            verify::verify_tapped(ledger, resume.as_ref(), &vopts, progress, tap)?.into_inner();
        for leaf in &summary.leaves {
            frontier.push(*leaf);
        }
        let size = frontier.size();
        check_pin(&file, opts.root_key.as_deref(), summary.root_key.as_deref())?;
        let last_line = match (&prior, summary.entries) {
            (Some(s), 0) => s.last_line,
            (_, 0) => 0,
            _ => last_line_offset(ledger, summary.bytes)?,
        };
        let bytes = match (&prior, summary.entries) {
            (Some(s), 0) => s.bytes,
            _ => summary.bytes,
        };
        let view = View {
            size,
            bytes,
            last_line,
            head: summary.head,
            root: frontier.root(),
            keys: summary.keys,
            policy: summary.policy,
            checked: summary.entries,
            state_file: state_path.clone(),
            notices: no_state_notice(opts, &state_path),
            frontier,
        };
        let mut view = view;
        if summary.entries > 0 || prior.is_none() {
            record(&mut view, &origin, prior.is_none())?;
        }
        Ok(view)
    }

    /// The view of a ledger that was just verified in full (`summary` with every leaf): the
    /// client state, if any, must be extended by it and the pinned root key must match; then
    /// the state is recorded. For `ledger verify`, which checks everything every time.
    pub fn from_verified(
        ledger: &Ledger,
        opts: &ViewOptions,
        summary: &verify::Summary,
    ) -> Result<View> {
        let origin = ledger.config().origin.clone();
        let state_path = opts
            .state
            .dir_for_ledger(&origin, ledger.dir())
            .map(|d| d.join(STATE_FILE));
        let prior = match &state_path {
            Some(p) => load_state(p)?,
            None => None,
        };
        let file = ledger.log_path().display().to_string();
        let root = summary.root_key.as_deref();
        check_pin(&file, opts.root_key.as_deref(), root)?;
        if let Some(s) = &prior {
            if let (Some(had), Some(now)) = (&s.root_key, root) {
                if had != now {
                    return Err(Error::verify(
                        file,
                        unpositioned(
                            "root-key-mismatch",
                            format!(
                                "the ledger's first key is {now}, but the client state {} records root key {had}",
                                state_path_text(&state_path)
                            ),
                        ),
                    ));
                }
            }
            check_prefix(ledger, s, &state_path, Some(summary.bytes))?;
        }
        let mut frontier = Frontier::default();
        for leaf in &summary.leaves {
            frontier.push(*leaf);
        }
        let last_line = if summary.entries == 0 {
            0
        } else {
            last_line_offset(ledger, summary.bytes)?
        };
        let mut view = View {
            size: frontier.size(),
            bytes: summary.bytes,
            last_line,
            head: summary.head,
            root: frontier.root(),
            frontier,
            keys: summary.keys.clone(),
            policy: summary.policy.clone(),
            checked: summary.entries,
            state_file: state_path.clone(),
            notices: Vec::new(),
        };
        record(&mut view, &origin, prior.is_none())?;
        Ok(view)
    }

    /// Advance the view by entries just written after it (by this process, under the lock),
    /// and record the new state.
    pub fn advance(&mut self, ledger: &Ledger, entries: &[Entry], end: u64) -> Result<()> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        for e in entries {
            self.frontier.push(e.hash);
            if e.kind == crate::ledger::Kind::Policy {
                self.policy = Some(SignedPolicy {
                    seq: e.seq,
                    hash: e.hash,
                    require_signatures: e
                        .body
                        .get("require_signatures")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true),
                    settings: e
                        .body
                        .get("settings")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            if e.kind == crate::ledger::Kind::Key {
                let change = crate::keys::history::KeyChange::from_body(&e.body);
                let mut h = crate::keys::history::KeyHistory::restore(&self.keys);
                if h.apply(e.seq, &change).is_ok() {
                    self.keys = h.states();
                }
            }
        }
        self.finish_advance(ledger, last.hash, end)
    }

    /// Advance the view by the leaves of entries just written after it that change neither
    /// keys nor policy (runners' submissions, which can be neither), and record the new state.
    pub fn advance_leaves(&mut self, ledger: &Ledger, leaves: &[Hash], end: u64) -> Result<()> {
        let Some(&last) = leaves.last() else {
            return Ok(());
        };
        for leaf in leaves {
            self.frontier.push(*leaf);
        }
        self.finish_advance(ledger, last, end)
    }

    fn finish_advance(&mut self, ledger: &Ledger, head: Hash, end: u64) -> Result<()> {
        self.size = self.frontier.size();
        self.root = self.frontier.root();
        self.head = Some(head);
        self.last_line = last_line_offset(ledger, end)?;
        self.bytes = end;
        if let Some(path) = &self.state_file {
            save_state(path, &ledger.config().origin, self)?;
        }
        Ok(())
    }
}

/// Why a run has no client state although none was refused: neither `$XDG_STATE_HOME` nor
/// `$HOME` is set, so every run verifies the whole ledger.
fn no_state_notice(opts: &ViewOptions, path: &Option<PathBuf>) -> Vec<String> {
    if opts.state == StateLocation::Default && path.is_none() {
        return vec![
            "no client state: neither XDG_STATE_HOME nor HOME is set, so every run verifies the whole ledger and no rollback is caught; give --state DIR (or LEDGER_STATE)"
                .to_string(),
        ];
    }
    Vec::new()
}

/// Save the state of a non-empty `view` to its state file, if it has one; say so the first
/// time.
fn record(view: &mut View, origin: &str, first: bool) -> Result<()> {
    let Some(path) = view.state_file.clone() else {
        return Ok(());
    };
    if view.size == 0 {
        return Ok(());
    }
    save_state(&path, origin, view)?;
    if first {
        view.notices.push(format!(
            "recorded the verified state (size {}) in {}; later runs must extend it",
            view.size,
            path.display()
        ));
    }
    Ok(())
}

/// The ledger's first key must be the pinned one, if a key was pinned.
fn check_pin(file: &str, pin: Option<&str>, root: Option<&str>) -> Result<()> {
    match pin {
        Some(pin) if root != Some(pin) => Err(Error::verify(
            file,
            unpositioned(
                "root-key-mismatch",
                format!(
                    "root key {pin} was pinned, but the ledger's first key is {}",
                    root.unwrap_or("missing (the ledger has no key entries)")
                ),
            ),
        )),
        _ => Ok(()),
    }
}

fn unpositioned(code: &'static str, reason: String) -> Failure {
    Failure {
        line: None,
        seq: None,
        code,
        reason,
    }
}

fn state_path_text(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn load_state(path: &Path) -> Result<Option<StateFile>> {
    let Some(text) = crate::fsutil::read_text_bounded_if_exists(path, MAX_STATE, "client state")?
    else {
        return Ok(None);
    };
    let file = path.display().to_string();
    let s: StateFile = serde_json::from_str(&text).map_err(|e| {
        Error::malformed(
            &file,
            format!("{e} (remove the file to verify the ledger from its first entry again)"),
        )
    })?;
    if s.format != STATE_FORMAT {
        return Err(Error::malformed_at(
            &file,
            None,
            Some("format"),
            format!("expected {STATE_FORMAT}, found {:?}", s.format),
        ));
    }
    Ok(Some(s))
}

fn resume_of(s: &StateFile, path: &Option<PathBuf>) -> Result<Resume> {
    let file = state_path_text(path);
    let mut keys = Vec::with_capacity(s.keys.len());
    for k in &s.keys {
        let public = crate::keys::parse_public_hex(&k.public_key).map_err(|r| {
            Error::malformed_at(&file, None, Some(&format!("keys.{}.public_key", k.id)), r)
        })?;
        keys.push(KeyState {
            id: k.id.clone(),
            added_at: k.added_at,
            revoked_at: k.revoked_at,
            public,
            writer: k.writer,
            git_signer: k.git_signer.clone(),
        });
    }
    Ok(Resume {
        size: s.size,
        bytes: s.bytes,
        head: s.head,
        keys,
        policy: s.policy.as_ref().map(|p| SignedPolicy {
            seq: p.seq,
            hash: p.hash,
            require_signatures: p.require_signatures,
            settings: p.settings.clone(),
        }),
    })
}

fn frontier_of(s: &StateFile, path: &Option<PathBuf>) -> Result<Frontier> {
    let file = state_path_text(path);
    let hashes: Option<Vec<Hash>> = s
        .subtrees
        .iter()
        .map(|h| crate::merkle::parse_hex_hash(h))
        .collect();
    let f = hashes
        .and_then(|h| Frontier::from_subtrees(s.size, &h))
        .ok_or_else(|| {
            Error::malformed_at(
                &file,
                None,
                Some("subtrees"),
                format!("not the subtree hashes of a tree of {} leaves", s.size),
            )
        })?;
    if f.root() != s.root {
        return Err(Error::malformed_at(
            &file,
            None,
            Some("root"),
            "does not match the subtrees",
        ));
    }
    Ok(f)
}

/// The ledger must still hold the state's last entry where the state saw it.
fn check_prefix(
    ledger: &Ledger,
    s: &StateFile,
    path: &Option<PathBuf>,
    end: Option<u64>,
) -> Result<()> {
    if s.size == 0 {
        return Ok(());
    }
    let log = ledger.log_path();
    let file = log.display().to_string();
    let state = state_path_text(path);
    let was = format!(
        "the client state {state} records {} entries with head {}",
        s.size,
        hex::encode(s.head)
    );
    let total = match end {
        Some(e) => e,
        None => crate::ledger::reader::stable_len(&log)?,
    };
    if total < s.bytes {
        return Err(Error::verify(
            file,
            unpositioned(
                "rollback",
                format!(
                    "{total} bytes, fewer than the {} bytes verified before: {was}; the ledger was truncated or rolled back (if that was deliberate, e.g. a restored backup, remove that file)",
                    s.bytes
                ),
            ),
        ));
    }
    let line = read_line_at(&log, s.last_line, s.bytes)?;
    let found = line.as_deref().and_then(|l| Entry::parse_line(l).ok());
    match found {
        Some(e) if e.seq + 1 == s.size && e.hash == s.head => Ok(()),
        Some(e) => Err(Error::verify(
            file,
            Failure {
                line: Some(s.size),
                seq: Some(e.seq),
                code: "fork",
                reason: format!(
                    "{was}, but line {} now holds entry {} with hash {}: the history was rewritten (fork)",
                    s.size,
                    e.seq,
                    hex::encode(e.hash)
                ),
            },
        )),
        None => Err(Error::verify(
            file,
            Failure {
                line: Some(s.size),
                seq: None,
                code: "fork",
                reason: format!(
                    "{was}, but line {} is no longer that entry: the history was rewritten (fork)",
                    s.size
                ),
            },
        )),
    }
}

/// The line that starts at `offset` and ends with the newline just before `end`.
fn read_line_at(path: &Path, offset: u64, end: u64) -> Result<Option<Vec<u8>>> {
    use std::io::{Read as _, Seek as _};
    let len = end.saturating_sub(offset);
    if end <= offset || len > crate::ledger::entry::MAX_LINE as u64 + 1 {
        return Ok(None);
    }
    let mut f = crate::fsutil::open_regular(path)?;
    f.seek(std::io::SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    f.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
    if buf.pop() != Some(b'\n') || buf.contains(&b'\n') {
        return Ok(None);
    }
    if offset > 0 {
        let mut before = [0u8; 1];
        f.seek(std::io::SeekFrom::Start(offset - 1))
            .map_err(|e| Error::io(path, e))?;
        f.read_exact(&mut before).map_err(|e| Error::io(path, e))?;
        if before[0] != b'\n' {
            return Ok(None);
        }
    }
    Ok(Some(buf))
}

/// The offset of the line that ends just before `end` (which follows a newline).
fn last_line_offset(ledger: &Ledger, end: u64) -> Result<u64> {
    use std::io::{Read as _, Seek as _};
    let path = ledger.log_path();
    let mut f = crate::fsutil::open_regular(&path)?;
    let mut pos = end.saturating_sub(1);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        if pos == 0 {
            return Ok(0);
        }
        let from = pos.saturating_sub(buf.len() as u64);
        let n = usize::try_from(pos - from).unwrap_or(0);
        f.seek(std::io::SeekFrom::Start(from))
            .map_err(|e| Error::io(&path, e))?;
        let chunk = buf.get_mut(..n).unwrap_or_default();
        f.read_exact(chunk).map_err(|e| Error::io(&path, e))?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        pos = from;
    }
}

fn save_state(path: &Path, origin: &str, v: &View) -> Result<()> {
    let s = StateFile {
        format: STATE_FORMAT.to_string(),
        origin: origin.to_string(),
        root_key: v.root_key().map(str::to_string),
        size: v.size,
        bytes: v.bytes,
        last_line: v.last_line,
        head: v.head.unwrap_or(crate::ledger::entry::ZERO_HASH),
        root: v.root,
        subtrees: v.frontier.hashes().iter().map(hex::encode).collect(),
        keys: v
            .keys
            .iter()
            .map(|k| KeyRow {
                id: k.id.clone(),
                public_key: hex::encode(k.public.as_bytes()),
                added_at: k.added_at,
                revoked_at: k.revoked_at,
                writer: k.writer,
                git_signer: k.git_signer.clone(),
            })
            .collect(),
        policy: v.policy.as_ref().map(|p| PolicyRow {
            seq: p.seq,
            hash: p.hash,
            require_signatures: p.require_signatures,
            settings: p.settings.clone(),
        }),
        checked_at: crate::ledger::entry::now_ts(),
    };
    let mut text = serde_json::to_vec_pretty(&s)
        .map_err(|e| Error::internal(format!("cannot encode the client state: {e}")))?;
    text.push(b'\n');
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    // Temp file and rename, no fsync: a crash can only leave the previous state (an older
    // anchor, still one the ledger must extend) or none; a damaged file is refused by name.
    crate::fsutil::write_cache(path, &text)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(dir, e))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
    }
}
