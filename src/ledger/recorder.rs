//! The one write path: every signed write of the library goes through [`Recorder`].
//!
//! A record is, in this order and under one exclusive lock on `ledger.jsonl`:
//!
//! 1. read the tail (next seq, previous hash) and **re-read `config.toml`**, so a key revoked
//!    or a setting changed by another process after this one opened the ledger is seen;
//! 2. let the caller compute its drafts from that state ([`Recorder::record_with`]: deploy
//!    attribution needs the history as of the lock, a key entry needs the current key list);
//! 3. refuse an unsigned write to a ledger that requires signatures, and a signer the settings
//!    do not trust (the ledger's first key may sign its own `key add` entry: the bootstrap);
//! 4. validate every body with the one body validator, seal, sign, write whole lines, fsync
//!    ([`crate::ledger::store`]);
//! 5. record the new leaves in `ledger.idx` when it is in line with the tail; otherwise leave
//!    it for its next user to catch up (an append never rebuilds it silently);
//! 6. apply the settings change that goes with the entries, if any (a key added or revoked);
//! 7. with a signer, sign a checkpoint of the new tree (refusing a tree that does not extend
//!    the previous checkpoint).
//!
//! Nothing is written when steps 1–4 fail. When a later step fails the entries are durable and
//! the error is [`Error::AfterAppend`], naming the seqs written. The store has no public way to
//! append: this type is the only one.

use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::ledger::body::Kind;
use crate::ledger::entry::Entry;
use crate::ledger::index;
use crate::ledger::store::{Draft, Item, Ledger, Submitted, Tail};
use crate::ledger::tlog::{self, Issued};
use crate::ledger::view::{View, ViewOptions};
use serde_json::Value;

/// What a record wrote.
#[derive(Debug, Default)]
pub struct Recorded {
    /// The entries written, in seq order (empty when there was nothing to write).
    pub entries: Vec<Entry>,
    /// The checkpoint signed over the new tree, when there was a signer.
    pub checkpoint: Option<Issued>,
    /// Things a person may want to know (an index left to catch up, a rebuilt index).
    pub notices: Vec<String>,
}

impl Recorded {
    /// The last entry written.
    pub fn last(&self) -> Option<&Entry> {
        self.entries.last()
    }
}

/// What [`Recorder::record_submissions`] did: the entries written, and the submissions it
/// refused (by their index in the request) with the reason.
#[derive(Debug, Default)]
pub struct SubmissionsRecorded {
    /// The entries written, the checkpoint, the notices.
    pub recorded: Recorded,
    /// `(index, why)` of each submission not written.
    pub refused: Vec<(usize, Error)>,
}

/// The state a record sees under the lock, for callers that compute their drafts from it.
pub struct Session<'a> {
    ledger: &'a Ledger,
    config: Config,
    tail: Tail,
    view: View,
}

impl Session<'_> {
    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        self.ledger
    }
    /// The settings as read under the lock.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The tail as read under the lock: the first new entry gets `tail().next_seq`.
    pub fn tail(&self) -> Tail {
        self.tail
    }
    /// The verified view of the ledger under the lock (keys from the ledger's own history).
    pub fn view(&self) -> &View {
        &self.view
    }
}

/// A settings change that goes with the entries of a record (applied after they are durable,
/// under the same lock).
pub(crate) type ConfigChange = Box<dyn FnOnce(&mut Config, &[Entry])>;

/// The write path of a ledger, for one signer (or none, on ledgers that allow unsigned
/// entries).
#[derive(Clone, Copy)]
pub struct Recorder<'a> {
    ledger: &'a Ledger,
    signer: Option<&'a Signer>,
    checkpoint: bool,
    view: Option<&'a ViewOptions>,
}

impl std::fmt::Debug for Recorder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dir", &self.ledger.dir())
            .field("signer", &self.signer.map(Signer::id))
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

impl<'a> Recorder<'a> {
    /// The write path of `ledger`; with a signer, every record also refreshes the checkpoint.
    pub fn new(ledger: &'a Ledger, signer: Option<&'a Signer>) -> Recorder<'a> {
        Recorder {
            ledger,
            signer,
            checkpoint: true,
            view: None,
        }
    }

    /// Open the verified view with these options (client state, pinned root key) instead of
    /// the default client state.
    pub fn with_view(mut self, view: &'a ViewOptions) -> Recorder<'a> {
        self.view = Some(view);
        self
    }

    /// The view options: those given, or the ledger handle's client state.
    fn view_options(&self) -> ViewOptions {
        match self.view {
            Some(v) => v.clone(),
            None => ViewOptions {
                state: self.ledger.state_location().clone(),
                root_key: None,
            },
        }
    }

    /// Do not sign a checkpoint after each record (sign one later with
    /// [`Recorder::checkpoint`]).
    pub fn without_checkpoint(mut self) -> Recorder<'a> {
        self.checkpoint = false;
        self
    }

    /// The ledger written to.
    pub fn ledger(&self) -> &'a Ledger {
        self.ledger
    }

    /// The signer, if any.
    pub fn signer(&self) -> Option<&'a Signer> {
        self.signer
    }

    /// Append `drafts` as one batch: one lock, one write, one fsync.
    pub fn record(&self, drafts: Vec<Draft>) -> Result<Recorded> {
        self.record_with(|_| Ok((drafts, ()))).map(|(r, ())| r)
    }

    /// Append the drafts `plan` computes from the state under the lock; `plan`'s second value
    /// is handed back with the result. `plan` returning no drafts writes nothing.
    pub fn record_with<T>(
        &self,
        plan: impl FnOnce(&Session<'_>) -> Result<(Vec<Draft>, T)>,
    ) -> Result<(Recorded, T)> {
        self.run(|s| plan(s).map(|(d, t)| (d, None, t)))
    }

    /// Sign a checkpoint of the whole ledger now, under the lock.
    pub fn checkpoint(&self) -> Result<Issued> {
        self.checkpoint_of(None)
    }

    /// Sign a checkpoint of the whole ledger, which must still end at `head` (the hash of the
    /// last entry) with `size` entries: for callers that verified the ledger first and must
    /// sign exactly what they verified.
    pub fn checkpoint_at(&self, size: u64, head: [u8; 32]) -> Result<Issued> {
        self.checkpoint_of(Some((size, head)))
    }

    fn checkpoint_of(&self, expect: Option<(u64, [u8; 32])>) -> Result<Issued> {
        let signer = self
            .signer
            .ok_or_else(|| Error::invalid("signer", "signing a checkpoint needs a signing key"))?;
        let locked = self.ledger.lock()?;
        let tail = locked.tail();
        if let Some((size, head)) = expect {
            if tail.next_seq != size || tail.prev != head {
                return Err(Error::Conflict(format!(
                    "{}: the ledger changed since it was verified ({} entries now, {size} verified); try again",
                    self.ledger.log_path().display(),
                    tail.next_seq
                )));
            }
        }
        let (config, view) = self.verified_under_lock(&tail)?;
        tlog::write_checkpoint(self.ledger, &config, &view, &tail, signer, None)
    }

    /// Under the append lock: the verified view up to the lock's tail, and the settings in
    /// force (config.toml's, with the signed policy's in their place once there is one).
    /// Nothing is appended or signed on top of a ledger that does not verify, and signers are
    /// checked against the keys the ledger itself records (never config.toml's list).
    pub(super) fn verified_under_lock(&self, tail: &Tail) -> Result<(Config, View)> {
        let config = Config::load(self.ledger.dir())?;
        let opts = self.view_options();
        let view = View::open_to(
            self.ledger,
            &opts,
            Some(tail.len),
            &mut |_, _| {},
            &mut |_| {},
        )?;
        let config = match &view.policy {
            Some(p) => config.overlay(p)?.0,
            None => config,
        };
        Ok((config, view))
    }

    /// The whole record, for [`Recorder::record_with`] and the key entries (which change the
    /// settings too).
    pub(crate) fn run<T>(
        &self,
        plan: impl FnOnce(&Session<'_>) -> Result<(Vec<Draft>, Option<ConfigChange>, T)>,
    ) -> Result<(Recorded, T)> {
        self.run_items(|s| {
            plan(s).map(|(d, c, t)| (d.into_iter().map(Item::Draft).collect(), c, t))
        })
    }

    /// Append runners' submissions as version-2 entries, signed by this recorder's key (the
    /// log key), in one lock, one write, one fsync and one checkpoint. Under the lock each
    /// submission's signature is checked against the ledger's own key history: its key must
    /// be trusted now (any role but a git-signer key's). Those that fail are refused and
    /// reported; the rest are written in order.
    pub fn record_submissions(&self, subs: Vec<Submitted>) -> Result<SubmissionsRecorded> {
        if self.signer.is_none() {
            return Err(Error::invalid(
                "signer",
                "writing submissions needs the log's signing key",
            ));
        }
        let (recorded, refused) = self.run_items(|s| {
            let checked = check_submissions(&s.view().keys, &subs);
            let mut items = Vec::with_capacity(subs.len());
            let mut refused = Vec::new();
            for (i, (sub, ok)) in subs.into_iter().zip(checked).enumerate() {
                match ok {
                    Ok(()) => items.push(Item::Submitted(sub)),
                    Err(e) => refused.push((i, e)),
                }
            }
            Ok((items, None, refused))
        })?;
        Ok(SubmissionsRecorded { recorded, refused })
    }

    fn run_items<T>(
        &self,
        plan: impl FnOnce(&Session<'_>) -> Result<(Vec<Item>, Option<ConfigChange>, T)>,
    ) -> Result<(Recorded, T)> {
        let mut locked = self.ledger.lock()?;
        let tail = locked.tail();
        let (config, view) = self.verified_under_lock(&tail)?;
        let session = Session {
            ledger: self.ledger,
            config,
            tail,
            view,
        };
        let (drafts, change, extra) = plan(&session)?;
        let Some(first) = drafts.first() else {
            return Ok((Recorded::default(), extra));
        };
        let Session {
            mut config,
            mut view,
            ..
        } = session;
        match self.signer {
            None if config.require_signatures => return Err(Error::SignatureRequired),
            None => {}
            Some(s) => check_signer_trusted(&view, s, first.draft())?,
        }
        // Files written after the entries must be writable as files: a FIFO or directory in
        // their place is refused now, before anything is appended.
        for name in [index::INDEX_FILE, tlog::CHECKPOINT_FILE] {
            crate::fsutil::check_regular_if_exists(&self.ledger.dir().join(name))?;
        }
        let written = locked.write(drafts, self.signer)?;
        let mut out = Recorded {
            entries: written.entries,
            checkpoint: None,
            notices: view.notices.clone(),
        };
        let (first, last) = match (out.entries.first(), out.entries.last()) {
            (Some(f), Some(l)) => (f.seq, l.seq),
            _ => return Ok((out, extra)),
        };
        let after = |source: Error| Error::AfterAppend {
            first,
            last,
            source: Box::new(source),
        };
        // The entries are durable from here on: what follows cannot undo them.
        let indexed = index::after_append(self.ledger, &written.before, &written.leaves)
            .map_err(|e| format!("not updated ({e})"));
        view.advance(self.ledger, &out.entries, locked.tail().len)
            .map_err(after)?;
        if let Some(change) = change {
            // The file's own settings, not the signed ones overlaid on them.
            let mut file = Config::load(self.ledger.dir()).map_err(after)?;
            change(&mut file, &out.entries);
            file.save(self.ledger.dir()).map_err(after)?;
            change_applied(&mut config, &file);
        }
        let signer = self.signer.filter(|s| {
            // A key that just revoked itself no longer speaks for the ledger.
            self.checkpoint && view.trusted(s.id()).is_some()
        });
        match (signer, indexed) {
            (Some(s), _) => {
                let fresh = tlog::Fresh {
                    before: &written.before,
                    leaves: &written.leaves,
                };
                let issued = tlog::write_checkpoint(
                    self.ledger,
                    &config,
                    &view,
                    &locked.tail(),
                    s,
                    Some(fresh),
                )
                .map_err(after)?;
                out.notices.extend(issued.index_message.clone());
                out.checkpoint = Some(issued);
            }
            (None, Ok(true)) => {}
            (None, Ok(false)) => out.notices.push(format!(
                "{}: not in line with the ledger; it is caught up or rebuilt on its next use",
                self.ledger.dir().join(index::INDEX_FILE).display()
            )),
            (None, Err(why)) => out.notices.push(format!(
                "{}: {why}; it is caught up or rebuilt on its next use",
                self.ledger.dir().join(index::INDEX_FILE).display()
            )),
        }
        Ok((out, extra))
    }
}

/// A submission whose form and signature were checked against one key history (the one it
/// holds). [`crate::ledger::Appender::append`] checks it again only when the ledger's key
/// history is no longer that one; it cannot be made any other way than by
/// [`check_submissions_with`].
#[derive(Debug, Clone)]
pub struct Checked {
    sub: Submitted,
    keys: std::sync::Arc<[crate::keys::history::KeyState]>,
}

impl Checked {
    /// The submission.
    pub fn submission(&self) -> &Submitted {
        &self.sub
    }

    /// The key history it was checked against.
    pub(crate) fn keys(&self) -> &[crate::keys::history::KeyState] {
        &self.keys
    }

    /// The submission, unwrapped.
    pub fn into_submission(self) -> Submitted {
        self.sub
    }
}

/// [`check_submissions`], keeping what passed as [`Checked`] (with the key history used).
pub fn check_submissions_with(
    keys: &std::sync::Arc<[crate::keys::history::KeyState]>,
    subs: Vec<Submitted>,
) -> Vec<Result<Checked>> {
    let results = check_submissions(keys, &subs);
    subs.into_iter()
        .zip(results)
        .map(|(sub, r)| {
            r.map(|()| Checked {
                sub,
                keys: std::sync::Arc::clone(keys),
            })
        })
        .collect()
}

/// A runner's submission: a valid id and timestamp, a body that fits its kind, and a
/// signature by a key the ledger trusts now.
pub fn check_submission(keys: &[crate::keys::history::KeyState], sub: &Submitted) -> Result<()> {
    check_submissions(keys, std::slice::from_ref(sub))
        .pop()
        .unwrap_or_else(|| Err(Error::internal("no result")))
}

/// [`check_submission`] for many: the form of each, then one batch verification of all the
/// signatures (each checked on its own, strictly, when the batch fails or is of one or two). One result per
/// submission, in order.
pub fn check_submissions(
    keys: &[crate::keys::history::KeyState],
    subs: &[Submitted],
) -> Vec<Result<()>> {
    let mut out: Vec<Result<()>> = Vec::with_capacity(subs.len());
    let mut idx = Vec::with_capacity(subs.len());
    let mut msgs = Vec::with_capacity(subs.len());
    let mut sigs = Vec::with_capacity(subs.len());
    let mut vks = Vec::with_capacity(subs.len());
    for (i, sub) in subs.iter().enumerate() {
        match submission_form(keys, sub) {
            Ok((vk, msg)) => {
                idx.push(i);
                msgs.push(msg);
                sigs.push(ed25519_dalek::Signature::from_bytes(&sub.submission.sig));
                vks.push(vk);
                out.push(Ok(()));
            }
            Err(e) => out.push(Err(e)),
        }
    }
    if idx.is_empty() {
        return out;
    }
    // A batch of one or two costs more than checking each: the batch pays for its random
    // coefficients and decompressing every R.
    let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
    if idx.len() > 2 && ed25519_dalek::verify_batch(&refs, &sigs, &vks).is_ok() {
        return out;
    }
    for (k, &i) in idx.iter().enumerate() {
        if !crate::keys::verify_strict(&vks[k], &msgs[k], &sigs[k].to_bytes()) {
            out[i] = Err(Error::invalid(
                "submission.sig",
                format!(
                    "not a valid signature by key {} over the submission",
                    subs[i].submission.signer
                ),
            ));
        }
    }
    out
}

/// Everything of a submission but its signature; the key and message to verify it with.
fn submission_form(
    keys: &[crate::keys::history::KeyState],
    sub: &Submitted,
) -> Result<(ed25519_dalek::VerifyingKey, [u8; 85])> {
    let s = &sub.submission;
    if !crate::ledger::entry::valid_submission_id(&s.id) {
        return Err(Error::invalid(
            "submission.id",
            "expected 1 to 128 characters of [A-Za-z0-9._:-]",
        ));
    }
    if !crate::ledger::entry::valid_ts(&sub.ts) {
        return Err(Error::invalid(
            "ts",
            "expected YYYY-MM-DDTHH:MM:SS.mmmZ (UTC)",
        ));
    }
    let d = &sub.draft;
    if matches!(d.kind, Kind::Key | Kind::Policy) {
        return Err(Error::invalid(
            "kind",
            "a submission cannot be a key or policy entry (only the log's own key changes who is trusted)",
        ));
    }
    let body_c = Entry::check_draft(d.kind, &d.actor, &d.body)
        .map_err(|le| Error::invalid("body", le.reason))?;
    let Some(key) = keys
        .iter()
        .find(|k| k.id == s.signer && k.revoked_at.is_none())
    else {
        return Err(Error::untrusted(
            &s.signer,
            "not trusted by this ledger to submit entries",
        ));
    };
    if !key.signs_submissions() {
        return Err(Error::untrusted(
            &s.signer,
            "a git-signer key: it signs git commits, never submissions",
        ));
    }
    let msg = crate::ledger::entry::submission_message(&d.actor, &body_c, &s.id, d.kind, &sub.ts);
    Ok((key.public, msg))
}

/// Carry the key list a settings change wrote to the file over to the settings in use.
fn change_applied(config: &mut Config, file: &Config) {
    config.keys = file.keys.clone();
    config.root_key = file.root_key.clone();
}

/// The signer must be trusted by the ledger's own key history (verified under the lock), or
/// be bootstrapping the ledger's first key with its own `key add` entry.
pub(crate) fn check_signer_trusted(view: &View, signer: &Signer, first: &Draft) -> Result<()> {
    match view.trusted(signer.id()) {
        Some(k) if k.writer => {
            return Err(Error::untrusted(
                signer.id(),
                "a writer key: it signs submissions, never entries or checkpoints",
            ))
        }
        Some(k) if k.git_signer.is_some() => {
            return Err(Error::untrusted(
                signer.id(),
                "a git-signer key: it signs git commits, never entries, checkpoints or submissions",
            ))
        }
        Some(_) => return Ok(()),
        None => {}
    }
    let bootstrap = view.keys.is_empty()
        && first.kind == Kind::Key
        && first.body.get("action").and_then(Value::as_str) == Some("add")
        && first.body.get("key_id").and_then(Value::as_str) == Some(signer.id());
    if bootstrap {
        return Ok(());
    }
    let why = if view.keys.is_empty() {
        "not trusted by this ledger, which has no keys yet (its first key must sign its own key entry)"
    } else if view.keys.iter().any(|k| k.id == signer.id()) {
        "revoked: it no longer signs for this ledger"
    } else {
        "not trusted by this ledger"
    };
    Err(Error::untrusted(signer.id(), why))
}
