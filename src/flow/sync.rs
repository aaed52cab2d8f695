//! Many writers without a server: the ledger on a git ref (DESIGN §10). `ledger sync --git`,
//! `ledger append --git` and `ledger export --git`.
//!
//! # The local directory
//!
//! A ledger directory synced with a ref is an ordinary ledger whose `ledger.jsonl` is a
//! verified prefix of the ref's entries, plus `DIR/sync/` (ignored by git):
//!
//! * `sync/state.json` (format `ledger-git-sync-v1`, written atomically): the remote and ref,
//!   the commit and size last verified (`commit`, `size`, `bytes`), the **outbox** (entries this
//!   writer queued and has not seen published: `id`, `ts`, `kind`, `actor`, `body`, and the
//!   writer's `signer` and submission `sig` over them, checked before anything is signed), the
//!   commits pushed whose fate is not yet known (`inflight`: commit, parent, first seq, ids),
//!   and, while remote lines are being added to `ledger.jsonl`, what is being adopted
//!   (`adopting`). The file decides nothing about validity: entries are verified by the
//!   verified view (client state outside the directory, DESIGN §8), the ref's checkpoint by
//!   its signature.
//! * `sync/repo.git`: the private repository network remotes are fetched into.
//!
//! # A sync, under the ledger's append lock
//!
//! 1. Recover from a run that was killed while adopting lines: keep them if they verify and
//!    are all there, else cut them off.
//! 2. Read the ref (fetch). It must extend the last verified state: the last commit verified
//!    is its ancestor, and the entries after the verified size chain onto the verified head
//!    (checked by the verified view, which also checks every signature under the ledger's own
//!    key history). A ref that does not is a verification failure (exit 1) naming both heads;
//!    nothing is adopted or pushed.
//! 3. Adopt the new entries: append them to `ledger.jsonl`, verify them, cut them off again if
//!    they fail. Check the ref's checkpoint: signed by a ledger key, for this origin, of
//!    exactly the entries on the ref.
//! 4. Settle the pushes of earlier runs: a commit of `inflight` that the ref now contains
//!    published its ids (they leave the outbox); one that can no longer land (the ref moved
//!    past its parent without it) is forgotten, its ids stay queued.
//! 5. If anything is queued: seal every queued entry on top of the ref's head (new seq, prev
//!    and hash, the original `ts`, signed with this writer's key), sign a checkpoint of the new
//!    tree, write one commit, record it as in flight, and push it with compare-and-swap. A
//!    refusal means another writer won: back off (jittered, exponential, bounded in attempts and
//!    time) and go to 2. Only after the push succeeded are the entries acknowledged.
//!
//! # Writers on the remote's file system: one commit for all who wait
//!
//! With a path remote, `append --git` does not queue in `state.json`: it signs each entry as a
//! submission (version 2, [`crate::ledger::entry`]) and leaves it in the remote's spool
//! (`<git dir>/ledger-spool/<id>.json`: `id`, `ts`, `kind`, `actor`, `body`, `signer`, `sig` in
//! hex). It then waits for its turn, the queue lock (`<git dir>/ledger-sync.lock`): whoever
//! holds it is about to publish, and its commit is the first that can carry the new entry. With
//! the turn it reads the ref. If the ref moved, it gives the turn back before adopting (its
//! entry may be in that commit; verifying and writing its own directory need no turn, and steps
//! 2–4 run without one) and comes back if its entry is not there. Otherwise it publishes every waiting
//! submission that checks under the ledger's keys in one commit, sealed and signed by its own
//! key; it takes them out of the spool before the push and puts them back if the push does not
//! land. A writer acknowledges its entry when it finds its id on the ref, whoever pushed it; one
//! that finds its submission neither spooled nor on the ref leaves it again. So each
//! submission is published once, and the commits carry as many entries as writers wait.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use git2::Oid;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::error::{Error, Failure, Result};
use crate::git::refstore::{self, Pushed, Remote};
use crate::keys::Signer;
use crate::ledger::entry::{now_ts, Entry};
use crate::ledger::store::{seal_items, Item, Tail};
use crate::ledger::tlog;
use crate::ledger::view::{View, ViewOptions};
use crate::ledger::{Draft, Ledger, Submitted};

/// Directory of the sync files inside a ledger directory.
pub const SYNC_DIR: &str = "sync";
/// The sync state file inside [`SYNC_DIR`].
pub const STATE_FILE: &str = "state.json";
/// Format tag of the state file.
pub const STATE_FORMAT: &str = "ledger-git-sync-v1";
/// Largest state file read.
const MAX_STATE: u64 = 64 << 20;

/// How to sync.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The remote: a URL, a path, or a remote name of the repository around the current
    /// directory.
    pub remote: String,
    /// The ref (default [`refstore::DEFAULT_REF`]).
    pub refname: String,
    /// Most pushes tried before giving up.
    pub attempts: u32,
    /// Longest time spent retrying.
    pub give_up_after: Duration,
}

impl SyncOptions {
    /// Defaults for `remote`: the default ref, 64 attempts, 120 s.
    pub fn new(remote: &str) -> SyncOptions {
        SyncOptions {
            remote: remote.to_string(),
            refname: refstore::DEFAULT_REF.to_string(),
            attempts: 64,
            give_up_after: Duration::from_secs(120),
        }
    }
}

/// One entry this writer published: its outbox id and the entry as it is on the ref.
#[derive(Debug, Clone)]
pub struct Published {
    /// The id it was queued under.
    pub id: String,
    /// The entry (its seq on the ref).
    pub entry: Entry,
}

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct Synced {
    /// The remote, for messages (no password).
    pub remote: String,
    /// The ref.
    pub refname: String,
    /// The commit the ref points at afterwards.
    pub commit: Option<String>,
    /// Entries on the ref (and in the local ledger) afterwards.
    pub size: u64,
    /// RFC 6962 root of those entries.
    pub root: String,
    /// Entries other writers published, verified and added to the local ledger.
    pub adopted: u64,
    /// Entries of this writer the ref now holds, found by this run (queued ones, in order).
    pub published: Vec<Published>,
    /// Local entries published that were written to the local ledger directly (a key or
    /// policy entry before the first push).
    pub published_local: u64,
    /// Pushes tried (0 when there was nothing to publish).
    pub attempts: u32,
    /// Pushes refused because another writer had moved the ref.
    pub lost_races: u32,
    /// Whether this run created the ref.
    pub created: bool,
    /// Entries still queued (not published) afterwards.
    pub queued: usize,
    /// Things worth telling.
    pub notices: Vec<String>,
}

/// An entry waiting to be published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Queued {
    id: String,
    ts: String,
    kind: String,
    actor: String,
    body: Value,
    /// The key that queued it, and its submission signature over the five fields above: only
    /// that key publishes it, and only if the signature checks (so an edit of this file cannot
    /// get an entry signed).
    signer: String,
    sig: String,
}

impl Queued {
    /// The record of a signed submission (an outbox row, a spool file).
    fn of(sub: &Submitted) -> Queued {
        Queued {
            id: sub.submission.id.clone(),
            ts: sub.ts.clone(),
            kind: sub.draft.kind.as_str().to_string(),
            actor: sub.draft.actor.clone(),
            body: sub.draft.body.clone(),
            signer: sub.submission.signer.clone(),
            sig: hex::encode(sub.submission.sig),
        }
    }

    /// The queued entry as the submission its writer signed.
    fn submitted(&self) -> Result<Submitted> {
        let bad = |why: &str| Error::malformed("sync state", format!("outbox {}: {why}", self.id));
        let kind = crate::ledger::Kind::parse(&self.kind).ok_or_else(|| bad("unknown kind"))?;
        let sig = hex::decode(&self.sig)
            .ok()
            .and_then(|v| <[u8; 64]>::try_from(v.as_slice()).ok())
            .ok_or_else(|| bad("sig: not 64 bytes of hex"))?;
        Ok(Submitted {
            draft: Draft {
                kind,
                actor: self.actor.clone(),
                body: self.body.clone(),
            },
            ts: self.ts.clone(),
            submission: crate::ledger::entry::Submission {
                id: self.id.clone(),
                signer: self.signer.clone(),
                sig,
            },
        })
    }
}

/// A pushed commit whose fate is not known yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inflight {
    commit: String,
    parent: Option<String>,
    first_seq: u64,
    ids: Vec<String>,
}

/// Lines being added to `ledger.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Adopting {
    commit: String,
    from_len: u64,
    to_seq: u64,
}

/// `sync/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    format: String,
    remote: String,
    #[serde(rename = "ref")]
    refname: String,
    commit: Option<String>,
    size: u64,
    bytes: u64,
    #[serde(default)]
    outbox: Vec<Queued>,
    #[serde(default)]
    inflight: Vec<Inflight>,
    #[serde(default)]
    adopting: Option<Adopting>,
}

/// Largest push (bytes of new segment lines) written as one pack to a path remote.
const PACK_MAX_BYTES: usize = 1 << 20;

fn state_path(ledger: &Ledger) -> PathBuf {
    ledger.dir().join(SYNC_DIR).join(STATE_FILE)
}

fn load_state(ledger: &Ledger) -> Result<Option<State>> {
    let path = state_path(ledger);
    let Some(text) = crate::fsutil::read_text_bounded_if_exists(&path, MAX_STATE, "sync state")?
    else {
        return Ok(None);
    };
    let st: State = serde_json::from_str(&text)
        .map_err(|e| Error::malformed(path.display().to_string(), e.to_string()))?;
    if st.format != STATE_FORMAT {
        return Err(Error::malformed(
            path.display().to_string(),
            format!("format {:?}, expected {STATE_FORMAT:?}", st.format),
        ));
    }
    Ok(Some(st))
}

fn save_state(ledger: &Ledger, st: &State) -> Result<()> {
    let path = state_path(ledger);
    let dir = ledger.dir().join(SYNC_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let bytes = serde_json::to_vec_pretty(st).map_err(Error::internal)?;
    crate::fsutil::write_atomic_mode(&path, &bytes, 0o600)
}

fn oid(s: &str, what: &str) -> Result<Oid> {
    Oid::from_str(s)
        .map_err(|_| Error::malformed("sync state", format!("{what}: {s:?} is not a commit id")))
}

fn fork(code: &'static str, reason: String) -> Error {
    Error::verify(
        "git ref",
        Failure {
            line: None,
            seq: None,
            code,
            reason,
        },
    )
}

/// Queue `drafts` for publication (validated first) and return their ids; the caller holds
/// nothing: [`sync`] does this under its lock when given drafts.
fn queue_into(st: &mut State, drafts: Vec<Draft>, signer: Option<&Signer>) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(drafts.len());
    if drafts.is_empty() {
        return Ok(ids);
    }
    let signer =
        signer.ok_or_else(|| Error::invalid("key", "queueing entries needs a signing key"))?;
    for (i, d) in drafts.into_iter().enumerate() {
        d.check(i)?;
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| Error::internal(format!("random: {e}")))?;
        let id = format!("q-{}", hex::encode(r));
        let sub = Submitted::sign_at(signer, d, &id, now_ts())?;
        st.outbox.push(Queued::of(&sub));
        ids.push(id);
    }
    Ok(ids)
}

/// Open the ledger in `dir`, or make it from the ref when `dir` is not a ledger yet (a fresh
/// CI runner): the ref's `config.toml` and an empty log, which the first sync fills. Returns
/// the ledger and whether it was made.
pub fn open_or_clone(dir: &Path, opts: &SyncOptions) -> Result<(Ledger, bool)> {
    match Ledger::open(dir) {
        Ok(l) => return Ok((l, false)),
        Err(Error::NotALedger(_)) if !dir.join(crate::config::CONFIG_FILE).exists() => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut remote = Remote::open(&opts.remote, &dir.join(SYNC_DIR).join("repo.git"))?;
    let head = remote.head(&opts.refname, None)?.ok_or_else(|| {
        Error::NotFound(format!(
            "{} has no {}; publish a ledger there first (`ledger sync --git` in a ledger directory)",
            remote.describe(),
            opts.refname
        ))
    })?;
    let h = refstore::read_head(remote.repo(), head)?;
    let config = h.config.ok_or_else(|| {
        fork(
            "bad-layout",
            format!("commit {head} has no config.toml to start a ledger from"),
        )
    })?;
    // config.toml comes last: it is what makes the directory a ledger, so a run killed
    // before it leaves a directory the next run makes again, never a half-made ledger.
    for sub in ["keys", "merges", "rollbacks", "checkpoints"] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    let log = dir.join(crate::ledger::store::LEDGER_FILE);
    crate::fsutil::open_regular_with(&log, std::fs::OpenOptions::new().create(true).append(true))?;
    crate::fsutil::sync_dir(dir)?;
    crate::fsutil::write_atomic(&dir.join(crate::config::CONFIG_FILE), &config)?;
    // Checked as any config.toml is (and only local conveniences are taken from it).
    Config::load(dir)?;
    Ok((Ledger::open(dir)?, true))
}

/// Sync `ledger` with the ref: adopt what others published (verified), publish what this
/// writer queued (`queue` is added to the outbox first, under the same lock). Returns when
/// everything queued is published, or fails: [`Error::Verify`] when the ref does not extend
/// what was verified (nothing adopted on top of it, nothing pushed), [`Error::Conflict`] when
/// the retries ran out (the entries stay queued for the next sync).
pub fn sync(
    ledger: &Ledger,
    view_opts: &ViewOptions,
    signer: Option<&Signer>,
    opts: &SyncOptions,
    queue: Vec<Draft>,
) -> Result<(Synced, Vec<String>)> {
    let started = Instant::now();
    let mut st = match load_state(ledger)? {
        Some(st) => {
            if st.refname != opts.refname {
                return Err(Error::invalid(
                    "--ref",
                    format!(
                        "{} is synced with {}, not {}",
                        ledger.dir().display(),
                        st.refname,
                        opts.refname
                    ),
                ));
            }
            st
        }
        None => State {
            format: STATE_FORMAT.to_string(),
            remote: opts.remote.clone(),
            refname: opts.refname.clone(),
            commit: None,
            size: 0,
            bytes: 0,
            outbox: Vec::new(),
            inflight: Vec::new(),
            adopting: None,
        },
    };
    let mut out = Synced {
        refname: opts.refname.clone(),
        ..Synced::default()
    };
    // 1. A run killed while adopting lines.
    if let Some(a) = st.adopting.clone() {
        match ledger.lock() {
            Err(Error::TornTail { .. }) => ledger.cut_back(a.from_len)?,
            Err(e) => return Err(e),
            Ok(locked) => {
                let tail = locked.tail();
                let kept = tail.next_seq == a.to_seq
                    && View::open_to(
                        ledger,
                        view_opts,
                        Some(tail.len),
                        &mut |_, _| {},
                        &mut |_| {},
                    )
                    .is_ok();
                drop(locked);
                if kept {
                    st.commit = Some(a.commit.clone());
                    st.size = tail.next_seq;
                    st.bytes = tail.len;
                    out.notices.push(format!(
                        "finished adopting the entries up to seq {} that a killed run had written",
                        tail.next_seq.saturating_sub(1)
                    ));
                } else {
                    ledger.cut_back(a.from_len)?;
                    out.notices.push(
                        "cut off entries a killed run had started to adopt; they are fetched again"
                            .to_string(),
                    );
                }
            }
        }
        st.adopting = None;
        save_state(ledger, &st)?;
    }
    let mut locked = ledger.lock()?;
    let mut tail = locked.tail();
    // An empty log (a directory just made from the ref) has nothing to verify yet, and its
    // config.toml may pin a root key no entry names yet: the first adoption verifies.
    let mut view = if tail.next_seq == 0 {
        empty_view()
    } else {
        View::open_to(
            ledger,
            view_opts,
            Some(tail.len),
            &mut |_, _| {},
            &mut |_| {},
        )?
    };
    out.notices.append(&mut view.notices);
    let mut remote = Remote::open(&opts.remote, &ledger.dir().join(SYNC_DIR).join("repo.git"))?;
    // A remote on this file system: entries are signed as submissions and left in its spool,
    // where the writer holding the queue lock publishes every waiting one in one commit.
    let spool = match signer {
        Some(_) => remote.spool_dir(),
        None => None,
    };
    let (ids, mine) = match (&spool, signer) {
        (Some(dir), Some(sg)) if !queue.is_empty() => {
            let mine = spool_new(dir, sg, queue)?;
            (mine.iter().map(|m| m.submission.id.clone()).collect(), mine)
        }
        // Queued in memory: saved with the commit that carries them, before it is pushed. A
        // run killed before that pushed nothing and acknowledged nothing.
        _ => (queue_into(&mut st, queue, signer)?, Vec::new()),
    };
    if tail.next_seq < st.size {
        return Err(fork(
            "rollback",
            format!(
                "{} has {} entries, fewer than the {} last synced from {}",
                ledger.log_path().display(),
                tail.next_seq,
                st.size,
                st.refname
            ),
        ));
    }
    let queued_here = if mine.is_empty() {
        ids.clone()
    } else {
        Vec::new()
    };
    // Whatever fails below, entries queued by this call stay queued (saved) for the next sync.
    let result = (|| -> Result<(Synced, Vec<String>)> {
        out.remote = remote.describe();
        let mut attempt = 0u32;
        let mut adopted_cp: Option<Vec<u8>> = None;
        let mut last_lost: Option<String> = None;
        // A writer that just left entries in the spool waits for its turn first: whoever holds
        // the turn is about to publish, and the commit it pushes is the first that can carry
        // them. Adopting before that would only adopt again after it.
        let mut locked_pass = (spool.is_none() && remote.spool_dir().is_none()) || !mine.is_empty();
        // Submission ids seen on the ref during this run, with their entries.
        let mut seen: std::collections::HashMap<String, Entry> = std::collections::HashMap::new();
        loop {
            // Writers on this machine queue here rather than race (a path remote), but only to
            // publish: reading the ref and adopting what others pushed needs no turn.
            let queue_guard = if locked_pass {
                remote.queue_lock()?
            } else {
                None
            };
            // 2. Read the ref.
            let known = match &st.commit {
                Some(c) => Some(oid(c, "commit")?),
                None => None,
            };
            let head = remote.head(&opts.refname, known)?;
            // Others published while this writer waited for its turn: it gives the turn back
            // and adopts their commit without holding it (their entries may include its own),
            // so that writers waiting on each other never verify and write under the lock.
            let mut queue_guard = queue_guard;
            if queue_guard.is_some() && head.is_some() && head != known {
                queue_guard = None;
            }
            // This pass may claim the spool and publish: the turn is held (a path remote), or
            // there is no turn to take (a network remote, where the push is the only arbiter).
            let turn = locked_pass && (queue_guard.is_some() || remote.spool_dir().is_none());
            let repo = remote.repo();
            match (head, known) {
                (None, Some(k)) => {
                    return Err(fork(
                        "ref-deleted",
                        format!(
                            "{} no longer has {}; the last verified head was commit {k} ({} entries, head {}); nothing was pushed",
                            out.remote,
                            opts.refname,
                            st.size,
                            hex_head(&view)
                        ),
                    ))
                }
                (Some(h), Some(k)) if h != k => {
                    let extends = repo.graph_descendant_of(h, k).unwrap_or(false);
                    if !extends {
                        return Err(fork(
                            "fork",
                            format!(
                                "{} {} at commit {h} does not extend the last verified state, commit {k} ({} entries, head {}): rewritten or force-pushed history; nothing was adopted or pushed",
                                out.remote,
                                opts.refname,
                                st.size,
                                hex_head(&view)
                            ),
                        ));
                    }
                    refstore::check_only_added(repo, k, h)
                        .map_err(|e| refused(e, h, &out.remote, &opts.refname))?;
                }
                _ => {}
            }
            // 3. Adopt what others published.
            if let Some(h) = head {
                if Some(h) != known {
                    let segments = refstore::read_segments(repo, h, st.size)?;
                    let head_files = refstore::read_head(repo, h)?;
                    let mut bytes = Vec::new();
                    for (_, s) in &segments {
                        bytes.extend_from_slice(s);
                    }
                    if tail.next_seq > st.size {
                        // Lines here that the last sync did not see on the ref: this writer's own,
                        // pushed by a run killed before it recorded the push (the ref then starts
                        // with the same bytes), or written locally while another writer pushed.
                        let local = read_range(ledger, st.bytes, tail.len)?;
                        if !bytes.starts_with(&local) {
                            return Err(Error::Conflict(format!(
                                "{} has {} entries (seq {}..) written here that are not on {}, and the ref has moved (commit {h}); publish entries with `--git` so they can be re-chained, or make a new directory from the ref",
                                ledger.log_path().display(),
                                tail.next_seq - st.size,
                                st.size,
                                opts.refname
                            )));
                        }
                        bytes.drain(..local.len());
                        st.size = tail.next_seq;
                        st.bytes = tail.len;
                    }
                    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                    let before = tail;
                    let mut adopted = Vec::new();
                    if lines > 0 {
                        st.adopting = Some(Adopting {
                            commit: h.to_string(),
                            from_len: before.len,
                            to_seq: before.next_seq + lines,
                        });
                        save_state(ledger, &st)?;
                        let after = Tail {
                            next_seq: before.next_seq + lines,
                            prev: before.prev,
                            len: before.len + bytes.len() as u64,
                        };
                        locked.append_raw(&bytes, after)?;
                        match View::open_to(
                            ledger,
                            view_opts,
                            Some(after.len),
                            &mut |_, _| {},
                            &mut |_| {},
                        ) {
                            Ok(v) => view = v,
                            Err(e) => {
                                locked.cut(before)?;
                                st.adopting = None;
                                save_state(ledger, &st)?;
                                return Err(refused(e, h, &out.remote, &opts.refname));
                            }
                        }
                        tail = Tail {
                            next_seq: view.size,
                            prev: view.head.unwrap_or(before.prev),
                            len: after.len,
                        };
                        locked.set_tail(tail);
                        st.size = view.size;
                        st.bytes = tail.len;
                        st.adopting = None;
                        out.adopted += lines;
                        if !st.inflight.is_empty() || spool.is_some() {
                            for line in bytes.split_inclusive(|&b| b == b'\n') {
                                let line = line.strip_suffix(b"\n").unwrap_or(line);
                                if let Ok(e) = Entry::parse_line(line) {
                                    adopted.push(e);
                                }
                            }
                        }
                    }
                    // The ref's checkpoint: this origin, exactly these entries, a ledger key. The
                    // entries verified on their own and stay; the head is not taken as verified.
                    let config = settings(ledger, &view)?;
                    check_ref_checkpoint(&config, &view, &head_files.checkpoint, h)
                        .map_err(|e| refused(e, h, &out.remote, &opts.refname))?;
                    // Kept beside the ledger once this run knows it publishes nothing after it.
                    adopted_cp = Some(head_files.checkpoint);
                    st.commit = Some(h.to_string());
                    // 4. Settle earlier pushes. The state is saved with the next commit, or
                    // below when there is nothing to publish (lines adopted but not recorded
                    // are recognised on the ref by the next run, byte for byte).
                    settle(repo, h, &mut st, &mut out, &adopted)?;
                    for e in adopted {
                        if let Some(sub) = &e.submission {
                            seen.insert(sub.id.clone(), e.clone());
                        }
                    }
                }
            }
            // This writer's spooled entries: published by another writer (acknowledged now),
            // or still to publish; every waiting one goes in this writer's commit.
            let mut spooled: Vec<Submitted> = Vec::new();
            let mut claimed: Vec<PathBuf> = Vec::new();
            let mut mine_waiting = false;
            if let Some(dir) = &spool {
                for m in &mine {
                    if let Some(e) = seen.get(&m.submission.id) {
                        if !out.published.iter().any(|p| p.id == m.submission.id) {
                            out.published.push(Published {
                                id: m.submission.id.clone(),
                                entry: e.clone(),
                            });
                        }
                    }
                }
                let waiting: Vec<&Submitted> = mine
                    .iter()
                    .filter(|m| !seen.contains_key(&m.submission.id))
                    .collect();
                // A plain sync with a key publishes what killed writers left behind.
                let drain = mine.is_empty() && spool_has_entries(dir);
                mine_waiting = !waiting.is_empty() || drain;
                if mine_waiting && turn {
                    // Taken by a writer that did not publish it (killed, or its push failed):
                    // left again.
                    for m in &waiting {
                        if !spool_file(dir, &m.submission.id).exists() {
                            spool_write(dir, m)?;
                        }
                    }
                    for (path, got) in spool_read(dir, refstore::SEGMENT_ENTRIES)? {
                        let own = mine.iter().any(|m| {
                            Some(&m.submission.id) == got.as_ref().ok().map(|g| &g.submission.id)
                        });
                        match got {
                            Ok(sub) if seen.contains_key(&sub.submission.id) => {
                                remove_quietly(&path);
                            }
                            Ok(sub) => {
                                match crate::ledger::recorder::check_submission(&view.keys, &sub) {
                                    Ok(()) => {
                                        spooled.push(sub);
                                        claimed.push(path);
                                    }
                                    Err(e) if own => {
                                        for m in &mine {
                                            remove_quietly(&spool_file(dir, &m.submission.id));
                                        }
                                        return Err(e);
                                    }
                                    // Another writer's entry that cannot be published (its key is
                                    // not trusted): dropped; that writer sees it neither spooled nor
                                    // on the ref, and is refused when it holds the lock itself.
                                    Err(_) => remove_quietly(&path),
                                }
                            }
                            Err(_) => remove_quietly(&path),
                        }
                    }
                }
            }
            // 5. Publish.
            let local_tail = tail.next_seq > st.size;
            let publish =
                !st.outbox.is_empty() || local_tail || !spooled.is_empty() || mine_waiting;
            if publish && !turn {
                // Something to publish: take a turn, then read the ref again.
                locked_pass = true;
                continue;
            }
            if !publish {
                if let Some(cp) = adopted_cp.take() {
                    write_local_checkpoint(ledger, &cp, view.size)?;
                }
                save_state(ledger, &st)?;
                out.commit = st.commit.clone();
                out.size = view.size;
                out.root = hex::encode(view.root);
                out.queued = 0;
                return Ok((out, ids));
            }
            if attempt >= opts.attempts || (attempt > 0 && started.elapsed() >= opts.give_up_after)
            {
                out.queued = st.outbox.len();
                return Err(Error::Conflict(format!(
                    "gave up after {attempt} pushes in {:.1} s ({} refused{}): {} entries stay queued in {}; run `ledger sync` again",
                    started.elapsed().as_secs_f64(),
                    out.lost_races,
                    match &last_lost {
                        Some(why) => format!("; the last because: {why}"),
                        None => String::new(),
                    },
                    st.outbox.len() + mine.len(),
                    match &spool {
                        Some(dir) if !mine.is_empty() => dir.display().to_string(),
                        _ => state_path(ledger).display().to_string(),
                    }
                )));
            }
            let signer = signer
                .ok_or_else(|| Error::invalid("key", "publishing entries needs a signing key"))?;
            let config = settings(ledger, &view)?;
            // Only what this key queued and signed: an entry put in the file by anyone else is
            // dropped, never signed.
            let before_check = st.outbox.len();
            let public = signer.public();
            st.outbox.retain(|q| {
                q.signer == signer.id()
                    && q.submitted().is_ok_and(|sub| {
                        let Ok(body_c) = sub.draft.check(0) else {
                            return false;
                        };
                        let msg = crate::ledger::entry::submission_message(
                            &sub.draft.actor,
                            &body_c,
                            &sub.submission.id,
                            sub.draft.kind,
                            &sub.ts,
                        );
                        let sig = ed25519_dalek::Signature::from_bytes(&sub.submission.sig);
                        public.verify_strict(&msg, &sig).is_ok()
                    })
            });
            if st.outbox.len() < before_check {
                out.notices.push(format!(
                    "dropped {} queued entries of {} whose signature by {} does not check (was the file edited?)",
                    before_check - st.outbox.len(),
                    state_path(ledger).display(),
                    signer.id()
                ));
            }
            let mut items: Vec<Item> = st
                .outbox
                .iter()
                .map(|q| -> Result<Item> {
                    let sub = q.submitted()?;
                    Ok(Item::Timed(sub.draft, sub.ts))
                })
                .collect::<Result<_>>()?;
            if items.is_empty() && spooled.is_empty() && !local_tail {
                // Everything queued was dropped above: nothing to publish.
                save_state(ledger, &st)?;
                out.commit = st.commit.clone();
                out.size = view.size;
                out.root = hex::encode(view.root);
                return Ok((out, ids));
            }
            if let Some(first) = items.first() {
                if let Err(e) =
                    crate::ledger::recorder::check_signer_trusted(&view, signer, first.draft())
                {
                    // What this run queued was never acknowledged and cannot be published with
                    // this key: it leaves the outbox rather than wait for another key to sign it.
                    if !ids.is_empty() {
                        st.outbox.retain(|q| !ids.contains(&q.id));
                        save_state(ledger, &st)?;
                    }
                    return Err(e);
                }
            }
            let spooled_ids: Vec<String> =
                spooled.iter().map(|s| s.submission.id.clone()).collect();
            let spooled_copy = spooled.clone();
            items.extend(spooled.into_iter().map(Item::Submitted));
            let sealed = seal_items(&tail, items, Some(signer))?;
            // Lines already in the local ledger and not on the ref (written here before the first
            // push, or while the ref stood still).
            let mut local = Vec::new();
            if local_tail {
                local = read_range(ledger, st.bytes, tail.len)?;
            }
            let mut segments_src: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut all = local.clone();
            for c in &sealed.chunks {
                all.extend_from_slice(c);
            }
            let mut first = st.size;
            let mut cur = Vec::new();
            let mut n = 0usize;
            for line in all.split_inclusive(|&b| b == b'\n') {
                cur.extend_from_slice(line);
                n += 1;
                if n == refstore::SEGMENT_ENTRIES {
                    segments_src.push((first, std::mem::take(&mut cur)));
                    first += n as u64;
                    n = 0;
                }
            }
            if n > 0 {
                segments_src.push((first, cur));
            }
            let mut frontier = view.frontier.clone();
            for e in &sealed.entries {
                frontier.push(e.hash);
            }
            let size = frontier.size();
            let cp = Checkpoint {
                origin: config.origin.clone(),
                size,
                root: frontier.root(),
                extensions: Vec::new(),
            };
            let note = cp.sign(&tlog::note_signer(&config, signer)?)?;
            let parent = head;
            let cfg_bytes = std::fs::read(ledger.dir().join(crate::config::CONFIG_FILE))
                .map_err(|e| Error::io(ledger.dir().join(crate::config::CONFIG_FILE), e))?;
            let message = format!(
                "ledger: seq {}..={} ({} entries)\n",
                st.size,
                size.saturating_sub(1),
                size - st.size
            );
            // A path remote gets a small push's objects as one pack (two files instead of a
            // dozen); a large one (a first publish, a long backlog) as loose objects, which
            // libgit2 writes without searching for deltas between big segments.
            let new_bytes: usize = segments_src.iter().map(|(_, b)| b.len()).sum();
            let build = if remote.spool_dir().is_some() && new_bytes <= PACK_MAX_BYTES {
                refstore::build_commit_packed
            } else {
                refstore::build_commit
            };
            let built = build(
                remote.repo(),
                parent,
                &segments_src,
                note.as_bytes(),
                &cfg_bytes,
                signer.id(),
                &message,
            )?;
            st.inflight.push(Inflight {
                commit: built.commit.to_string(),
                parent: parent.map(|p| p.to_string()),
                first_seq: tail.next_seq,
                ids: st
                    .outbox
                    .iter()
                    .map(|q| q.id.clone())
                    .chain(spooled_ids.iter().cloned())
                    .collect(),
            });
            save_state(ledger, &st)?;
            attempt += 1;
            out.attempts = attempt;
            // Claimed: the spooled entries leave the spool before the push, so that no other
            // writer publishes them too; if this push does not land they are left again (here,
            // or by their writers, who find them neither spooled nor on the ref).
            for path in &claimed {
                remove_quietly(path);
            }
            if let Some(dir) = spool.as_ref().filter(|_| !claimed.is_empty()) {
                crate::fsutil::sync_dir(dir)?;
            }
            let respool = |spool: &Option<PathBuf>| {
                if let Some(dir) = spool {
                    for sub in &spooled_copy {
                        let _ = spool_write(dir, sub);
                    }
                }
            };
            let pushed = match remote.publish(&opts.refname, parent, &built) {
                Ok(p) => p,
                Err(e) => {
                    respool(&spool);
                    return Err(e);
                }
            };
            drop(queue_guard);
            match pushed {
                Pushed::Done => {
                    out.created = parent.is_none();
                    // The entries are on the ref: adopt them here as they are there.
                    let before = tail;
                    let mut bytes = Vec::new();
                    for c in &sealed.chunks {
                        bytes.extend_from_slice(c);
                    }
                    if !sealed.entries.is_empty() {
                        let after = Tail {
                            next_seq: before.next_seq + sealed.entries.len() as u64,
                            prev: sealed.prev,
                            len: before.len + bytes.len() as u64,
                        };
                        // No marker needed: these lines are valid by construction, and the ref
                        // holds them; a run killed here finds them on the ref, byte for byte.
                        locked.append_raw(&bytes, after)?;
                        View::open_to(
                            ledger,
                            view_opts,
                            Some(after.len),
                            &mut |_, _| {},
                            &mut |_| {},
                        )?;
                        tail = after;
                    }
                    out.published_local = size - st.size - sealed.entries.len() as u64;
                    write_local_checkpoint(ledger, note.as_bytes(), size)?;
                    let published_ids: Vec<String> = st
                        .outbox
                        .iter()
                        .map(|q| q.id.clone())
                        .chain(spooled_ids.iter().cloned())
                        .collect();
                    for (id, e) in published_ids.iter().zip(&sealed.entries) {
                        out.published.push(Published {
                            id: id.clone(),
                            entry: e.clone(),
                        });
                    }
                    st.outbox.clear();
                    st.inflight.retain(|i| i.commit != built.commit.to_string());
                    st.commit = Some(built.commit.to_string());
                    st.size = size;
                    st.bytes = tail.len;
                    st.adopting = None;
                    save_state(ledger, &st)?;
                    out.commit = st.commit.clone();
                    out.size = size;
                    out.root = hex::encode(cp.root);
                    out.queued = 0;
                    return Ok((out, ids));
                }
                Pushed::Lost(why) => {
                    last_lost = Some(why);
                    respool(&spool);
                    out.lost_races += 1;
                    std::thread::sleep(backoff(attempt));
                }
            }
        }
    })();
    if result.is_err() && !queued_here.is_empty() {
        let keep = st.outbox.iter().any(|q| queued_here.contains(&q.id));
        if keep {
            let _ = save_state(ledger, &st);
        }
    }
    result
}

/// A spool file is a [`Queued`] record of a submission: `<spool>/<id>.json`, written
/// atomically. Largest one read:
const MAX_SPOOLED: u64 = 2 << 20;

fn spool_file(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Sign `drafts` as submissions with fresh ids and leave them in the spool.
fn spool_new(dir: &Path, signer: &Signer, drafts: Vec<Draft>) -> Result<Vec<Submitted>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::with_capacity(drafts.len());
    for d in drafts {
        let mut r = [0u8; 12];
        getrandom::fill(&mut r).map_err(|e| Error::internal(format!("random: {e}")))?;
        let sub = Submitted::sign(signer, d, &format!("q-{}", hex::encode(r)))?;
        spool_write(dir, &sub)?;
        out.push(sub);
    }
    Ok(out)
}

fn spool_write(dir: &Path, sub: &Submitted) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let bytes = serde_json::to_vec(&Queued::of(sub)).map_err(Error::internal)?;
    crate::fsutil::write_atomic(&spool_file(dir, &sub.submission.id), &bytes)
}

/// Up to `max` spooled submissions, oldest first (by their `ts`, then id); a file that does
/// not parse comes back as an error (its path with it, to be removed).
fn spool_read(dir: &Path, max: usize) -> Result<Vec<(PathBuf, Result<Submitted>)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let path = ent.path();
        let name = ent.file_name().to_string_lossy().to_string();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let parsed = crate::fsutil::read_text_bounded(&path, MAX_SPOOLED, "spooled entry")
            .and_then(|t| {
                let sp: Queued = serde_json::from_str(&t)
                    .map_err(|e| Error::malformed(path.display().to_string(), e.to_string()))?;
                if format!("{}.json", sp.id) != name
                    || !crate::ledger::entry::valid_submission_id(&sp.id)
                {
                    return Err(Error::malformed(
                        path.display().to_string(),
                        "id does not match the file name",
                    ));
                }
                sp.submitted()
            });
        out.push((path, parsed));
    }
    out.sort_by(|a, b| {
        let key = |x: &(PathBuf, Result<Submitted>)| match &x.1 {
            Ok(s) => (s.ts.clone(), s.submission.id.clone()),
            Err(_) => (String::new(), x.0.display().to_string()),
        };
        key(a).cmp(&key(b))
    });
    out.truncate(max);
    Ok(out)
}

fn spool_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut rd| {
        rd.any(|e| {
            e.is_ok_and(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(".json") && !n.starts_with('.')
            })
        })
    })
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// The view of an empty log.
fn empty_view() -> View {
    let frontier = crate::merkle::Frontier::default();
    View {
        size: 0,
        bytes: 0,
        last_line: 0,
        head: None,
        root: frontier.root(),
        frontier,
        keys: Vec::new(),
        policy: None,
        checked: 0,
        state_file: None,
        notices: Vec::new(),
    }
}

/// The settings in force: config.toml with the signed policy overlaid.
fn settings(ledger: &Ledger, view: &View) -> Result<Config> {
    let config = Config::load(ledger.dir())?;
    Ok(match &view.policy {
        Some(p) => config.overlay(p)?.0,
        None => config,
    })
}

fn hex_head(view: &View) -> String {
    view.head
        .map(hex::encode)
        .unwrap_or_else(|| "none".to_string())
}

/// A verification failure of what the ref holds, naming the commit.
fn refused(e: Error, commit: Oid, remote: &str, refname: &str) -> Error {
    match e {
        Error::Verify { file, failure } => Error::Verify {
            file: format!("{remote} {refname} at commit {commit} ({file})"),
            failure,
        },
        other => other,
    }
}

/// The ref's checkpoint must open with a ledger key and cover exactly the verified entries.
fn check_ref_checkpoint(config: &Config, view: &View, bytes: &[u8], commit: Oid) -> Result<()> {
    let file = PathBuf::from(format!("checkpoint of commit {commit}"));
    let keys = tlog::log_verifiers(config, &view.keys);
    let signed = tlog::open_checkpoint(bytes, &keys, &file)?;
    let cp = signed.checkpoint();
    tlog::check_origin(config, cp, &file)?;
    if cp.size != view.size || cp.root != view.root {
        return Err(Error::verify_file(
            &file,
            "checkpoint-mismatch",
            format!(
                "the checkpoint is of {} entries with root {}, the ref holds {} entries with root {}",
                cp.size,
                hex::encode(cp.root),
                view.size,
                hex::encode(view.root)
            ),
        ));
    }
    Ok(())
}

/// Keep the ref's (verified) checkpoint beside the local ledger as `checkpoint` (one file per
/// size in `checkpoints/` would grow by one file a push).
fn write_local_checkpoint(ledger: &Ledger, note: &[u8], _size: u64) -> Result<()> {
    crate::fsutil::write_atomic(&ledger.dir().join(tlog::CHECKPOINT_FILE), note)
}

/// Settle the pushes of earlier runs against the ref's head `h` (already adopted).
fn settle(
    repo: &git2::Repository,
    h: Oid,
    st: &mut State,
    out: &mut Synced,
    adopted: &[Entry],
) -> Result<()> {
    let mut keep = Vec::new();
    for inf in std::mem::take(&mut st.inflight) {
        let c = oid(&inf.commit, "inflight commit")?;
        let landed = c == h || repo.graph_descendant_of(h, c).unwrap_or(false);
        if landed {
            for (i, id) in inf.ids.iter().enumerate() {
                let seq = inf.first_seq + i as u64;
                if let Some(e) = adopted.iter().find(|e| e.seq == seq) {
                    out.published.push(Published {
                        id: id.clone(),
                        entry: e.clone(),
                    });
                }
            }
            st.outbox.retain(|q| !inf.ids.contains(&q.id));
            continue;
        }
        let parent_is_head = inf.parent.as_deref() == Some(h.to_string().as_str());
        if parent_is_head {
            keep.push(inf);
        }
    }
    st.inflight = keep;
    Ok(())
}

/// Bytes `[from, to)` of the log.
fn read_range(ledger: &Ledger, from: u64, to: u64) -> Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let path = ledger.log_path();
    let mut f = crate::fsutil::open_regular(&path)?;
    f.seek(SeekFrom::Start(from))
        .map_err(|e| Error::io(&path, e))?;
    let mut buf = Vec::with_capacity((to - from) as usize);
    f.take(to - from)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(&path, e))?;
    Ok(buf)
}

/// Full jitter: a random wait up to 5 ms × 2^attempt, at most 1 s.
fn backoff(attempt: u32) -> Duration {
    let cap = (5u64 << attempt.min(8)).min(1000);
    let mut r = [0u8; 8];
    let x = match getrandom::fill(&mut r) {
        Ok(()) => u64::from_le_bytes(r),
        Err(_) => u64::from(std::process::id()),
    };
    Duration::from_millis(1 + x % cap)
}

/// What [`export`] wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The directory.
    pub dir: PathBuf,
    /// The commit exported.
    pub commit: String,
    /// Entries.
    pub size: u64,
    /// Bytes of `ledger.jsonl`.
    pub bytes: u64,
    /// RFC 6962 root.
    pub root: String,
}

/// Write the ref's ledger as an ordinary ledger directory `out` (which must not exist or be
/// empty): `ledger.jsonl` (the segments in order, byte for byte), `config.toml`, `checkpoint`.
/// Then verify it in full (with `view_opts`' pinned root key, no client state) and check the
/// checkpoint against it: a ref that does not verify is exit 1, and `out` is left for
/// inspection.
pub fn export(spec: &str, refname: &str, out: &Path, root_key: Option<String>) -> Result<Exported> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| Error::io(out, e))?
            .next()
            .is_some()
    {
        return Err(Error::Conflict(format!(
            "{}: exists and is not empty",
            out.display()
        )));
    }
    let scratch = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut remote = Remote::open(spec, &scratch.path().join("repo.git"))?;
    let head = remote
        .head(refname, None)?
        .ok_or_else(|| Error::NotFound(format!("{} has no {refname}", remote.describe())))?;
    let repo = remote.repo();
    let files = refstore::read_head(repo, head)?;
    let segments = refstore::read_segments(repo, head, 0)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let config = files
        .config
        .ok_or_else(|| fork("bad-layout", format!("commit {head} has no config.toml")))?;
    crate::fsutil::write_atomic(&out.join(crate::config::CONFIG_FILE), &config)?;
    let log = out.join(crate::ledger::store::LEDGER_FILE);
    let mut all = Vec::new();
    for (_, s) in &segments {
        all.extend_from_slice(s);
    }
    crate::fsutil::write_atomic(&log, &all)?;
    crate::fsutil::write_atomic(&out.join(tlog::CHECKPOINT_FILE), &files.checkpoint)?;
    let ledger = Ledger::open(out)?.with_state(crate::ledger::state::StateLocation::Off);
    let opts = ViewOptions {
        state: crate::ledger::state::StateLocation::Off,
        root_key,
    };
    let view = View::open(&ledger, &opts, &mut |_, _| {})?;
    let config = settings(&ledger, &view)?;
    check_ref_checkpoint(&config, &view, &files.checkpoint, head)?;
    Ok(Exported {
        dir: out.to_path_buf(),
        commit: head.to_string(),
        size: view.size,
        bytes: all.len() as u64,
        root: hex::encode(view.root),
    })
}
