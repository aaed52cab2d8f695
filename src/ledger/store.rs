//! The ledger directory on disk: init, open, locked O(1) appends, torn-tail repair.
//!
//! # Appends
//!
//! An append takes an exclusive `flock` on `ledger.jsonl`, reads only the last line (the tail)
//! to learn the next `seq` and `prev`, writes every new line with one `write_all` on a file
//! opened with `O_APPEND`, and `fsync`s before returning. A batch is one lock, one write and
//! one fsync. The cost is independent of the ledger's size.
//!
//! If the file does not end in `\n` (a crash mid-write), appends refuse with
//! [`Error::TornTail`]; only the explicit [`Ledger::repair_torn_tail`] moves those bytes aside.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::config::Config;
use crate::config::SignedPolicy;
use crate::error::{Error, Result};
use crate::keys::Signer;
use crate::ledger::body::Kind;
use crate::ledger::entry::{self, now_ts, Entry, MAX_LINE, ZERO_HASH};
use crate::ledger::state::StateLocation;

/// The `.gitignore` that [`Ledger::init`] writes: files derived from the log or kept for this
/// machine only, which a repository must not hold (they differ between clones and would
/// conflict on every merge). The log, config.toml, keys, checkpoints and archived diffs stay
/// trackable.
pub const GITIGNORE: &str =
    "# Written by `ledger init`: derived or machine-local files, never committed.
ledger.idx
trust.cache
trust.slice
sync/
ledger.jsonl.torn-*
.tmp-*
";

/// File name of the log inside a ledger directory.
pub const LEDGER_FILE: &str = "ledger.jsonl";

/// An entry to be appended: the fields the caller chooses.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Kind of entry.
    pub kind: Kind,
    /// Who records it.
    pub actor: String,
    /// Kind-specific body.
    pub body: Value,
}

impl Draft {
    /// Check the draft as entry `i` (0-based) of a batch and return its body's canonical bytes;
    /// the error names the entry and its kind.
    pub(crate) fn check(&self, i: usize) -> Result<Vec<u8>> {
        Entry::check_draft(self.kind, &self.actor, &self.body).map_err(|le| {
            Error::malformed_at(
                format!("entry {} ({})", i + 1, self.kind),
                None,
                None,
                le.reason,
            )
        })
    }
}

/// A runner's submission to be written as a version-2 entry: its draft, the timestamp it
/// signed and its signature ([`crate::ledger::entry::Submission`]). The write path checks the
/// signature against the ledger's keys before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// Kind, actor and body, as the runner signed them.
    pub draft: Draft,
    /// The timestamp the runner signed (the entry's `ts`).
    pub ts: String,
    /// The runner's id, key and signature.
    pub submission: entry::Submission,
}

impl Submitted {
    /// A runner's side: sign `draft` as submission `id`, timestamped now, with the runner's
    /// (writer) key. Fails on an invalid id or a body that does not fit its kind.
    pub fn sign(signer: &Signer, draft: Draft, id: &str) -> Result<Submitted> {
        Submitted::sign_at(signer, draft, id, now_ts())
    }

    /// [`Submitted::sign`] with a given timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
    pub fn sign_at(signer: &Signer, draft: Draft, id: &str, ts: String) -> Result<Submitted> {
        if !entry::valid_submission_id(id) {
            return Err(Error::invalid(
                "id",
                format!("{id:?}: expected 1 to 128 characters of [A-Za-z0-9._:-]"),
            ));
        }
        if !entry::valid_ts(&ts) {
            return Err(Error::invalid("ts", "expected YYYY-MM-DDTHH:MM:SS.mmmZ"));
        }
        let body_c = Entry::check_draft(draft.kind, &draft.actor, &draft.body)
            .map_err(|le| Error::invalid("body", le.reason))?;
        let msg = entry::submission_message(&draft.actor, &body_c, id, draft.kind, &ts);
        Ok(Submitted {
            submission: entry::Submission {
                id: id.to_string(),
                signer: signer.id().to_string(),
                sig: signer.sign(&msg),
            },
            draft,
            ts,
        })
    }
}

/// One entry to write: a draft (timestamped by the writer) or a runner's submission.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Draft(Draft),
    Submitted(Submitted),
    /// A draft with the timestamp it was first written at (an entry re-chained on top of
    /// entries another writer published first keeps its time: `crate::flow::sync`).
    Timed(Draft, String),
}

impl Item {
    pub(crate) fn draft(&self) -> &Draft {
        match self {
            Item::Draft(d) | Item::Timed(d, _) => d,
            Item::Submitted(s) => &s.draft,
        }
    }
}

/// The end of the log as read from its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// `seq` the next entry gets.
    pub next_seq: u64,
    /// `hash` of the last entry (zeros when empty).
    pub prev: [u8; 32],
    /// File length.
    pub len: u64,
}

/// What [`Ledger::repair_torn_tail`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Offset where the torn bytes started (the new file length).
    pub offset: u64,
    /// How many bytes were moved aside.
    pub len: u64,
    /// Where they were saved.
    pub saved_to: PathBuf,
}

/// A ledger directory.
#[derive(Debug, Clone)]
pub struct Ledger {
    dir: PathBuf,
    config: Config,
    state: StateLocation,
    /// seq and hash of the signed policy overlaid on `config`, if one was.
    signed: Option<(u64, [u8; 32])>,
}

/// The client state location of a ledger handle that was given none: the default (none in
/// this crate's unit tests, which run many ledgers side by side).
fn default_state() -> StateLocation {
    if cfg!(test) {
        StateLocation::Off
    } else {
        StateLocation::Default
    }
}

/// An exclusive lock on the ledger file, held while appending.
pub(crate) struct Locked<'a> {
    ledger: &'a Ledger,
    file: File,
    tail: Tail,
}

impl Ledger {
    /// Create a ledger in `dir` (created if missing). Refuses a directory that already has a
    /// `config.toml`.
    pub fn init(dir: &Path, origin: &str, require_signatures: bool) -> Result<Ledger> {
        let config = Config::new(origin, require_signatures)?;
        if dir.join(crate::config::CONFIG_FILE).exists() {
            return Err(Error::Conflict(format!(
                "{}: already a ledger (config.toml exists)",
                dir.display()
            )));
        }
        for sub in ["", "keys", "merges", "rollbacks", "checkpoints"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        let log = dir.join(LEDGER_FILE);
        crate::fsutil::open_regular_with(&log, OpenOptions::new().create(true).append(true))?;
        config.save(dir)?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            crate::fsutil::write_atomic(&ignore, GITIGNORE.as_bytes())?;
        }
        crate::fsutil::sync_dir(dir)?;
        Ok(Ledger {
            dir: dir.to_path_buf(),
            config,
            state: default_state(),
            signed: None,
        })
    }

    /// Open an existing ledger directory.
    pub fn open(dir: &Path) -> Result<Ledger> {
        if !dir.is_dir() {
            return Err(Error::NotALedger(dir.to_path_buf()));
        }
        let config = Config::load(dir)?;
        // A FIFO or device in place of the log is refused by name, not taken for a missing file.
        if crate::fsutil::open_regular_if_exists(&dir.join(LEDGER_FILE))?.is_none() {
            return Err(Error::NotALedger(dir.to_path_buf()));
        }
        Ok(Ledger {
            dir: dir.to_path_buf(),
            config,
            state: default_state(),
            signed: None,
        })
    }

    /// Keep this handle's client state (the verified view, the trust cache) at `state`
    /// instead of the default (`$XDG_STATE_HOME/ledger`).
    pub fn with_state(mut self, state: StateLocation) -> Ledger {
        self.state = state;
        self
    }

    /// This handle with the signed settings of `policy` in place of config.toml's (what a
    /// verified view found in force); notices say where config.toml disagreed. `None` leaves
    /// config.toml's settings (a ledger with no `policy` entry yet).
    pub fn with_signed_policy(
        mut self,
        policy: Option<&SignedPolicy>,
    ) -> Result<(Ledger, Vec<String>)> {
        let Some(p) = policy else {
            return Ok((self, Vec::new()));
        };
        let (config, notices) = self.config.overlay(p)?;
        self.config = config;
        self.signed = Some((p.seq, p.hash));
        Ok((self, notices))
    }

    /// seq and hash of the signed policy whose settings this handle uses, if any.
    pub fn signed_policy(&self) -> Option<(u64, [u8; 32])> {
        self.signed
    }

    /// Where this handle keeps its client state.
    pub fn state_location(&self) -> &StateLocation {
        &self.state
    }

    /// This ledger's client state directory, if it has one: outside the ledger directory,
    /// so an attacker who can write the ledger cannot write it (DESIGN §8).
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.state.dir_for_ledger(&self.config.origin, &self.dir)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config as loaded.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Path of `ledger.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LEDGER_FILE)
    }

    /// Take the exclusive append lock and read the tail. Writing under it is the
    /// [`crate::ledger::Recorder`]'s job; other holders (index checks) only read.
    pub(crate) fn lock(&self) -> Result<Locked<'_>> {
        let path = self.log_path();
        let mut file =
            crate::fsutil::open_regular_with(&path, OpenOptions::new().read(true).append(true))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        let tail = read_tail(&mut file, &path)?;
        Ok(Locked {
            ledger: self,
            file,
            tail,
        })
    }

    /// Cut the log back to `len` bytes under the append lock, whatever its tail looks like: for
    /// the git sync's recovery of lines it was adopting when it was killed (a torn line
    /// included). Lines before `len` are never touched.
    pub(crate) fn cut_back(&self, len: u64) -> Result<()> {
        let path = self.log_path();
        let file =
            crate::fsutil::open_regular_with(&path, OpenOptions::new().read(true).write(true))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        let now = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        if now > len {
            file.set_len(len).map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Read the tail without locking (a snapshot; may be stale a moment later).
    pub fn tail(&self) -> Result<Tail> {
        let path = self.log_path();
        let mut file = crate::fsutil::open_regular(&path)?;
        read_tail(&mut file, &path)
    }

    /// Move a torn tail (bytes after the last newline) to a side file and cut the log there.
    /// Returns `None` when the log ends cleanly. Complete entries are never touched.
    pub fn repair_torn_tail(&self) -> Result<Option<Repair>> {
        let path = self.log_path();
        let mut file =
            crate::fsutil::open_regular_with(&path, OpenOptions::new().read(true).write(true))?;
        file.lock().map_err(|e| Error::io(&path, e))?;
        match read_tail(&mut file, &path) {
            Ok(_) => Ok(None),
            Err(Error::TornTail { offset, len, .. }) => {
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io(&path, e))?;
                let mut torn = Vec::with_capacity(len as usize);
                (&mut file)
                    .take(len)
                    .read_to_end(&mut torn)
                    .map_err(|e| Error::io(&path, e))?;
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
                let saved_to = self
                    .dir
                    .join(format!("{LEDGER_FILE}.torn-{stamp}-{offset}"));
                crate::fsutil::write_atomic(&saved_to, &torn)?;
                file.set_len(offset).map_err(|e| Error::io(&path, e))?;
                file.sync_all().map_err(|e| Error::io(&path, e))?;
                Ok(Some(Repair {
                    offset,
                    len,
                    saved_to,
                }))
            }
            Err(e) => Err(e),
        }
    }
}

/// Entries signed and encoded per unit of parallel work in a batch append.
const APPEND_CHUNK: usize = 512;

impl Locked<'_> {
    /// The tail read under the lock.
    pub fn tail(&self) -> Tail {
        self.tail
    }

    /// Set the tail after lines this process appended and verified.
    pub(crate) fn set_tail(&mut self, tail: Tail) {
        self.tail = tail;
    }

    /// Append whole lines sealed elsewhere (entries published on a git ref) with one write
    /// and one fsync; the tail becomes `after`. The caller verifies them under this lock and
    /// cuts them off with [`Locked::cut`] when they fail.
    pub(crate) fn append_raw(&mut self, bytes: &[u8], after: Tail) -> Result<()> {
        let path = self.ledger.log_path();
        self.file
            .write_all(bytes)
            .map_err(|e| Error::io(&path, e))?;
        self.file.sync_data().map_err(|e| Error::io(&path, e))?;
        self.tail = after;
        Ok(())
    }

    /// Cut the log back to `to` (a tail this lock saw), and fsync: only for lines
    /// [`Locked::append_raw`] wrote that did not verify.
    pub(crate) fn cut(&mut self, to: Tail) -> Result<()> {
        let path = self.ledger.log_path();
        self.file.set_len(to.len).map_err(|e| Error::io(&path, e))?;
        self.file.sync_all().map_err(|e| Error::io(&path, e))?;
        self.tail = to;
        Ok(())
    }

    /// Seal, sign and write `drafts` while holding the lock. Only the write path
    /// ([`crate::ledger::Recorder`]) calls this, after it has checked the signer against the
    /// settings read under this lock.
    ///
    /// Everything that does not depend on the chain runs in parallel for larger batches: body
    /// checks and canonical encoding, hashing of each entry up to its `prev`, signing and line
    /// encoding. Only finishing each hash (prev, seq, signer, ts) is sequential. Nothing is
    /// written unless every entry is valid; then whole lines are written and synced once.
    pub(super) fn write(&mut self, drafts: Vec<Item>, signer: Option<&Signer>) -> Result<Written> {
        let before = self.tail;
        let Sealed {
            entries,
            chunks,
            lens,
            prev,
        } = seal_items(&before, drafts, signer)?;
        if entries.is_empty() {
            return Ok(Written {
                entries,
                leaves: Vec::new(),
                before,
                chunks,
            });
        }
        let path = self.ledger.log_path();
        for buf in &chunks {
            self.file.write_all(buf).map_err(|e| Error::io(&path, e))?;
        }
        self.file.sync_data().map_err(|e| Error::io(&path, e))?;
        let written: u64 = lens.iter().map(|&n| n as u64).sum();
        self.tail = Tail {
            next_seq: self.tail.next_seq + entries.len() as u64,
            prev,
            len: self.tail.len + written,
        };
        let mut offset = before.len;
        let leaves: Vec<(u64, [u8; 32])> = entries
            .iter()
            .zip(&lens)
            .map(|(e, &n)| {
                let at = offset;
                offset += n as u64;
                (at, e.hash)
            })
            .collect();
        Ok(Written {
            entries,
            leaves,
            before,
            chunks,
        })
    }
}

/// Entries sealed and signed in memory, on top of a tail: what [`seal_items`] makes.
#[derive(Debug)]
pub(crate) struct Sealed {
    /// The entries, in seq order.
    pub entries: Vec<Entry>,
    /// Their lines, with newlines, in one or more buffers (in order).
    pub chunks: Vec<Vec<u8>>,
    /// Each line's length, newline included.
    pub lens: Vec<usize>,
    /// The hash of the last entry (the tail's `prev` when there are none).
    pub prev: [u8; 32],
}

/// Seal, sign and encode `drafts` as the entries that follow `tail`, in memory: the one way
/// entries are made, whether they are written here ([`Locked::write`]) or published first
/// (`crate::flow::sync`). Nothing is made unless every entry is valid.
///
/// Everything that does not depend on the chain runs in parallel for larger batches: body
/// checks and canonical encoding, hashing of each entry up to its `prev`, signing and line
/// encoding. Only finishing each hash (prev, seq, signer, ts) is sequential.
pub(crate) fn seal_items(
    tail: &Tail,
    drafts: Vec<Item>,
    signer: Option<&Signer>,
) -> Result<Sealed> {
    if drafts.is_empty() {
        return Ok(Sealed {
            entries: Vec::new(),
            chunks: Vec::new(),
            lens: Vec::new(),
            prev: tail.prev,
        });
    }
    let ts = now_ts();
    let signer_id = signer.map(|s| s.id().to_string());
    let par = drafts.len() >= 64;
    let prepare = |(i, d): (usize, &Item)| {
        let d = d.draft();
        let body_c = d.check(i)?;
        let head = entry::begin_seal(&d.actor, &body_c, d.kind);
        Ok((body_c, head))
    };
    let prepared: Vec<(Vec<u8>, sha2::Sha256)> = if par {
        drafts
            .par_iter()
            .enumerate()
            .map(prepare)
            .collect::<Result<_>>()?
    } else {
        drafts
            .iter()
            .enumerate()
            .map(prepare)
            .collect::<Result<_>>()?
    };
    // The chain: the only sequential step.
    let mut prev = tail.prev;
    let mut entries = Vec::with_capacity(drafts.len());
    for (i, (item, (_, head))) in drafts.into_iter().zip(&prepared).enumerate() {
        let seq = tail.next_seq + i as u64;
        let (d, ts, submission) = match item {
            Item::Draft(d) => (d, ts.clone(), None),
            Item::Timed(d, at) => (d, at, None),
            Item::Submitted(s) => (s.draft, s.ts, Some(s.submission)),
        };
        let hash = entry::finish_seal(
            head,
            &prev,
            seq,
            signer_id.as_deref(),
            submission.as_ref(),
            &ts,
        );
        entries.push(Entry {
            seq,
            ts,
            kind: d.kind,
            actor: d.actor,
            signer: signer_id.clone(),
            body: d.body,
            prev,
            hash,
            sig: None,
            submission,
        });
        prev = hash;
    }
    // Sign and encode, a chunk of lines per buffer.
    let encode = |(es, ps): (&mut [Entry], &[(Vec<u8>, sha2::Sha256)])| {
        let mut buf = Vec::with_capacity(ps.iter().map(|(b, _)| b.len() + 400).sum());
        let mut lens = Vec::with_capacity(es.len());
        for (e, (body_c, _)) in es.iter_mut().zip(ps) {
            if let Some(s) = signer {
                e.sig = Some(s.sign(&e.signing_message()));
            }
            let start = buf.len();
            e.write_line(body_c, &mut buf);
            buf.push(b'\n');
            lens.push(buf.len() - start);
        }
        (buf, lens)
    };
    let chunks: Vec<(Vec<u8>, Vec<usize>)> = if par {
        entries
            .par_chunks_mut(APPEND_CHUNK)
            .zip(prepared.par_chunks(APPEND_CHUNK))
            .map(encode)
            .collect()
    } else {
        vec![encode((&mut entries[..], &prepared[..]))]
    };
    drop(prepared);
    let (chunks, lens): (Vec<Vec<u8>>, Vec<Vec<usize>>) = chunks.into_iter().unzip();
    let lens: Vec<usize> = lens.into_iter().flatten().collect();
    if let Some(i) = lens.iter().position(|&n| n - 1 > MAX_LINE) {
        return Err(Error::malformed(
            format!("entry {}", i + 1),
            format!("line would be {} bytes, more than 1 MiB", lens[i] - 1),
        ));
    }
    Ok(Sealed {
        entries,
        chunks,
        lens,
        prev,
    })
}

/// What [`Locked::write`] wrote: the entries, and for the layer above (the index) each new
/// line's byte offset and leaf hash, plus the tail before the write.
#[derive(Debug)]
pub(super) struct Written {
    /// The entries, in seq order.
    pub entries: Vec<Entry>,
    /// `(offset, leaf hash)` of each new line.
    pub leaves: Vec<(u64, [u8; 32])>,
    /// The tail before the write.
    pub before: Tail,
    /// The bytes written (whole lines with their newlines, in order, in one or more buffers).
    pub chunks: Vec<Vec<u8>>,
}

/// Read the tail of the log: the last complete line, without reading the rest of the file.
fn read_tail(file: &mut File, path: &Path) -> Result<Tail> {
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| Error::io(path, e))?;
    if len == 0 {
        return Ok(Tail {
            next_seq: 0,
            prev: ZERO_HASH,
            len: 0,
        });
    }
    // Read backwards in growing windows until the window holds a newline before the last
    // byte (or the file start). A line is at most MAX_LINE bytes, so this is bounded.
    let max_window = (MAX_LINE as u64 + 2).min(len);
    let mut window = 8192u64.min(len);
    loop {
        let start = len - window;
        file.seek(SeekFrom::Start(start))
            .map_err(|e| Error::io(path, e))?;
        let mut buf = vec![0u8; window as usize];
        file.read_exact(&mut buf).map_err(|e| Error::io(path, e))?;
        let last_nl = buf.iter().rposition(|&b| b == b'\n');
        if buf.last() != Some(&b'\n') {
            // Torn tail: find where the incomplete line starts.
            match last_nl {
                Some(p) => {
                    let offset = start + p as u64 + 1;
                    return Err(Error::TornTail {
                        path: path.to_path_buf(),
                        offset,
                        len: len - offset,
                    });
                }
                None if start == 0 => {
                    return Err(Error::TornTail {
                        path: path.to_path_buf(),
                        offset: 0,
                        len,
                    })
                }
                None if window >= max_window => {
                    let offset = start;
                    return Err(Error::TornTail {
                        path: path.to_path_buf(),
                        offset,
                        len: len - offset,
                    });
                }
                None => {
                    window = (window * 8).min(max_window);
                    continue;
                }
            }
        }
        let body = &buf[..buf.len() - 1];
        let line_start = match body.iter().rposition(|&b| b == b'\n') {
            Some(p) => p + 1,
            None if start == 0 => 0,
            None if window >= max_window => {
                return Err(Error::malformed(
                    path.display().to_string(),
                    "last line is longer than 1 MiB (verify the ledger)",
                ))
            }
            None => {
                window = (window * 8).min(max_window);
                continue;
            }
        };
        let line = &body[line_start..];
        let e = Entry::parse_line(line).map_err(|le| {
            Error::malformed(
                path.display().to_string(),
                format!("last entry is invalid ({}; verify the ledger)", le.reason),
            )
        })?;
        return Ok(Tail {
            next_seq: e.seq + 1,
            prev: e.hash,
            len,
        });
    }
}
