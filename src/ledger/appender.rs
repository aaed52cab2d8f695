//! The write path of a long-running writer (`ledger serve`): [`Appender`].
//!
//! [`Recorder::record_submissions`] verifies the ledger's new part, writes, updates the index,
//! the client state and the checkpoint files, every time: right for one process that appends
//! and exits, too much for a writer that commits a few hundred times a second. An appender is
//! the same write path split in two:
//!
//! * [`Appender::append`], per group commit: the append lock; the file must still end exactly
//!   where this appender's last verified state does (same length, same last hash, same size),
//!   otherwise the new part is verified first, as the recorder would; the submissions checked
//!   against the ledger's own key history; one write, one `fdatasync`; a checkpoint of the new
//!   tree signed in memory (the root from the frontier of verified leaves) and handed back.
//! * [`Appender::flush`], now and then and before the writer stops: the derived files brought
//!   in line with what was written — `ledger.idx`, the client state, `checkpoint` and
//!   `checkpoints/<size>` — through the same checked code as the recorder's
//!   (`tlog::write_checkpoint` recomputes the root it signs from checked data).
//!
//! What a client is told is durable before it is told: entries are synced before the
//! checkpoint over them is signed. A crash between flushes loses no entry; the files beside
//! the ledger lag, and are derived files: the next writer (or `ledger serve` on restart)
//! brings them up to date.

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::ledger::entry::Entry;
use crate::ledger::index;
use crate::ledger::recorder::{check_signer_trusted, check_submissions, Checked, Recorder};
use crate::ledger::store::{Item, Ledger, Submitted, Tail};
use crate::ledger::tlog;
use crate::ledger::view::View;
use crate::merkle::{Frontier, Hash};

/// What one [`Appender::append`] did.
#[derive(Debug, Default)]
pub struct Appended {
    /// The entries written, in seq order.
    pub entries: Vec<Entry>,
    /// Their lines as written (without the newline).
    pub lines: Vec<String>,
    /// The signed checkpoint over the tree that ends with them (note text), and its body;
    /// `None` when nothing was written.
    pub checkpoint: Option<(String, Checkpoint)>,
    /// Submissions refused (index in the batch, why); the others were written in order.
    pub refused: Vec<(usize, Error)>,
    /// `true` when the file had grown behind this appender (another writer) and its new part
    /// was verified before this write.
    pub caught_up: bool,
}

/// A writer that keeps what it verified between appends. See the module documentation.
#[derive(Debug)]
pub struct Appender<'a> {
    recorder: Recorder<'a>,
    signer: &'a Signer,
    /// The settings in force (config.toml with the signed policy overlaid).
    config: Config,
    /// The verified view as of the last flush (or opening).
    view: View,
    /// The tail `view` ends at.
    flushed: Tail,
    /// The tail of this appender's last write (or of the view).
    tail: Tail,
    /// The live tree: the view's frontier plus every leaf written since.
    frontier: Frontier,
    /// `(offset, leaf)` of each line written since the last flush.
    pending: Vec<(u64, Hash)>,
}

impl<'a> Appender<'a> {
    /// Verify the ledger (its new part, against the client state) under the append lock and
    /// keep that state. `signer` is the log key: it must be trusted by the ledger's key
    /// history and not be a writer key.
    pub fn open(ledger: &'a Ledger, signer: &'a Signer) -> Result<Appender<'a>> {
        let recorder = Recorder::new(ledger, Some(signer));
        let locked = ledger.lock()?;
        let tail = locked.tail();
        let (config, view) = recorder.verified_under_lock(&tail)?;
        drop(locked);
        Ok(Appender {
            recorder,
            signer,
            config,
            frontier: view.frontier.clone(),
            view,
            flushed: tail,
            tail,
            pending: Vec::new(),
        })
    }

    /// Entries in the ledger as this appender knows it.
    pub fn size(&self) -> u64 {
        self.tail.next_seq
    }

    /// `true` when lines were written since the last [`Appender::flush`].
    pub fn dirty(&self) -> bool {
        !self.pending.is_empty() || self.view.size != self.tail.next_seq
    }

    /// Write `subs` as version-2 entries signed by the log key: one lock, one write, one
    /// fsync; then a checkpoint over the new tree, signed in memory. A submission checked
    /// against another key history than the ledger's now is checked again; those whose
    /// signature, signer or form fail are refused (and listed); nothing is written when every
    /// one is refused.
    pub fn append(&mut self, subs: Vec<Checked>) -> Result<Appended> {
        let ledger = self.recorder.ledger();
        let mut locked = ledger.lock()?;
        let now = locked.tail();
        let mut caught_up = false;
        if now != self.tail {
            // Another process wrote (or the file changed): verify from the client state, as
            // the recorder does, before writing on top of it.
            let (config, view) = self.recorder.verified_under_lock(&now)?;
            self.config = config;
            self.frontier = view.frontier.clone();
            self.view = view;
            self.flushed = now;
            self.tail = now;
            self.pending.clear();
            caught_up = true;
        }
        let keys = &self.view.keys;
        let again: Vec<usize> = subs
            .iter()
            .enumerate()
            .filter(|(_, c)| c.keys() != keys.as_slice())
            .map(|(i, _)| i)
            .collect();
        let mut verdicts: Vec<Option<Error>> = (0..subs.len()).map(|_| None).collect();
        if !again.is_empty() {
            let those: Vec<Submitted> = again
                .iter()
                .map(|&i| subs[i].submission().clone())
                .collect();
            for (&i, r) in again.iter().zip(check_submissions(keys, &those)) {
                verdicts[i] = r.err();
            }
        }
        let mut items = Vec::with_capacity(subs.len());
        let mut refused = Vec::new();
        for (i, (c, bad)) in subs.into_iter().zip(verdicts).enumerate() {
            match bad {
                None => items.push(Item::Submitted(c.into_submission())),
                Some(e) => refused.push((i, e)),
            }
        }
        let Some(first) = items.first() else {
            return Ok(Appended {
                refused,
                caught_up,
                ..Appended::default()
            });
        };
        check_signer_trusted(&self.view, self.signer, first.draft())?;
        let written = locked.write(items, Some(self.signer))?;
        // Durable from here on.
        for &(at, leaf) in &written.leaves {
            self.frontier.push(leaf);
            self.pending.push((at, leaf));
        }
        self.tail = locked.tail();
        drop(locked);
        let (first, last) = match (written.entries.first(), written.entries.last()) {
            (Some(f), Some(l)) => (f.seq, l.seq),
            _ => (0, 0),
        };
        let after = |e: Error| Error::AfterAppend {
            first,
            last,
            source: Box::new(e),
        };
        let mut lines = Vec::with_capacity(written.entries.len());
        for chunk in &written.chunks {
            for line in chunk.split_inclusive(|&b| b == b'\n') {
                let text = std::str::from_utf8(line.strip_suffix(b"\n").unwrap_or(line))
                    .map_err(|_| after(Error::internal("an encoded line is not UTF-8")))?;
                lines.push(text.to_string());
            }
        }
        if lines.len() != written.entries.len() {
            return Err(after(Error::internal("lines and entries differ in number")));
        }
        let cp = Checkpoint {
            origin: self.config.origin.clone(),
            size: self.frontier.size(),
            root: self.frontier.root(),
            extensions: Vec::new(),
        };
        let note = tlog::note_signer(&self.config, self.signer)
            .and_then(|k| cp.sign(&k))
            .map_err(after)?;
        Ok(Appended {
            entries: written.entries,
            lines,
            checkpoint: Some((note, cp)),
            refused,
            caught_up,
        })
    }

    /// Bring the derived files in line with what was written: the index, the client state,
    /// `checkpoint` and `checkpoints/<size>` (the checkpoint recomputed from checked data and
    /// signed again: the same note as the one [`Appender::append`] returned, Ed25519 being
    /// deterministic). Returns the checkpoint written, `None` when there was nothing to do.
    pub fn flush(&mut self) -> Result<Option<tlog::Issued>> {
        if !self.dirty() {
            return Ok(None);
        }
        let ledger = self.recorder.ledger();
        let locked = ledger.lock()?;
        let now = locked.tail();
        if now != self.tail {
            // Someone else wrote: the next append verifies and catches up; the recorder's own
            // checkpoint after that write already covers the files.
            return Ok(None);
        }
        for name in [index::INDEX_FILE, tlog::CHECKPOINT_FILE] {
            crate::fsutil::check_regular_if_exists(&ledger.dir().join(name))?;
        }
        let leaves: Vec<Hash> = self.pending.iter().map(|&(_, h)| h).collect();
        // The index is derived: when it is not in line it is caught up by its next user.
        let _ = index::after_append(ledger, &self.flushed, &self.pending);
        self.view.advance_leaves(ledger, &leaves, now.len)?;
        let issued = tlog::write_checkpoint(
            ledger,
            &self.config,
            &self.view,
            &now,
            self.signer,
            Some(tlog::Fresh {
                before: &self.flushed,
                leaves: &self.pending,
            }),
        )?;
        drop(locked);
        self.flushed = now;
        self.pending.clear();
        Ok(Some(issued))
    }
}
