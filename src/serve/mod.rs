//! `ledger serve` (DESIGN §9): one ledger shared over HTTP by many CI runners and merge bots,
//! and the client that checks what the service tells it.
//!
//! * [`Service`] is the library side, with no HTTP in it: it opens the ledger only after a
//!   full verification, keeps the verified view in memory (line offsets, the Merkle tree by
//!   levels, the submission ids, the key history, the newest signed checkpoint), and writes
//!   through one writer thread that batches concurrent submissions into one lock, one write,
//!   one fsync and one checkpoint signed in memory ([`Appender`]); the files derived from the
//!   ledger are brought up to date about once a second and before the writer stops. Reads never wait for
//!   a write: they take a read lock on the view, which the writer holds only to append the
//!   leaves of a finished batch.
//! * The answer to an append carries the lines the writer has just written and synced. Every
//!   other entry served is re-read from the file and checked against its verified leaf hash;
//!   a mismatch (the file was edited behind the service) is never served: the service marks
//!   itself broken and `/readyz` says so.
//! * [`http`] maps requests to these calls and errors to statuses; [`client`] is the verifying
//!   client of `ledger append --remote` and `ledger trust gate --remote`.

/// The verifying client of `--remote`.
pub mod client;
pub mod http;
pub mod metrics;
mod tree;

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::keys::history::KeyState;
use crate::keys::Signer;
use crate::ledger::entry::Entry;
use crate::ledger::recorder::check_submissions_with;
use crate::ledger::verify::Options;
use crate::ledger::{Appender, Checked, Ledger, Recorder, Submitted};
use crate::merkle::{self, Hash};
use tree::Tree;

/// Most submissions in one request.
pub const MAX_BATCH: usize = 1000;
/// Largest difference between a submission's `ts` and the service's clock (10 minutes): a
/// runner cannot backdate or postdate what it records, while a retry of the same bytes a few
/// minutes later still answers.
pub const MAX_SKEW_MS: i64 = 10 * 60 * 1000;
/// Most submissions the writer puts in one group commit.
pub const MAX_GROUP: usize = 4096;
/// Under load, the derived files (index, client state, checkpoint) are brought up to date at
/// most this often; every answer carries its own signed checkpoint in the meantime.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// ... and after this long without a submission.
pub const FLUSH_IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// The verified state the service answers from.
struct Served {
    /// Byte offset of each line; `offsets[n]` is where entry n starts.
    offsets: Vec<u64>,
    /// Bytes verified (the end of the last verified line).
    end: u64,
    tree: Tree,
    /// Submission id → (seq, digest of what was signed and by whom).
    ids: HashMap<String, (u64, [u8; 32])>,
    /// Shared with the prechecks of submissions, which carry it to the writer.
    keys: Arc<[KeyState]>,
    /// The newest signed checkpoint (note text) and its size.
    checkpoint: Option<(String, u64)>,
}

/// What one submission came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Written now: the entry and its line, as written.
    Created(Arc<Served1>),
    /// Written earlier with the same id and bytes, at this seq.
    Existing(u64),
    /// Refused (a conflict on its id, an untrusted key, a bad signature).
    Refused(Arc<Error>),
}

struct Job {
    subs: Vec<Checked>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Outcome>>>,
}

/// The service: a verified view of one ledger and its writer.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

/// The trust facts of a verified prefix, for gate queries and scores answered in memory.
struct TrustView {
    /// Entries folded.
    size: u64,
    policy: crate::trust::Policy,
    agg: crate::trust::Aggregate,
    status: crate::trust::CacheStatus,
    /// SHA-256 (hex) of the `[trust]` table and the seq of the signed policy it came from
    /// (what a recorded decision names, as `ledger trust gate` does).
    policy_applied: (String, Option<u64>),
    /// Keys the signed policy lets record gate decisions (`[serve].gate_recorders`).
    recorders: Vec<String>,
}

/// A gate query.
#[derive(Debug, Clone)]
pub struct GateAsk {
    /// The change's author.
    pub actor: String,
    /// The paths it changes.
    pub paths: Vec<String>,
    /// What people approve (default: [`crate::flow::gate::default_subject`]).
    pub subject: Option<String>,
    /// The commit the change is, when the asker knows it: approvals bound to it count.
    pub change: crate::trust::gate::ChangeRef,
}

struct Inner {
    ledger: Ledger,
    trust: Mutex<Option<Arc<TrustView>>>,
    /// Held by the one query that rebuilds stale trust facts; the others wait for it.
    rebuild: Mutex<()>,
    view: RwLock<Served>,
    broken: Mutex<Option<String>>,
    writer: Mutex<Option<tokio::sync::mpsc::Sender<Job>>>,
    metrics: metrics::Metrics,
}

fn digest_of(sub: &Submitted) -> Result<[u8; 32]> {
    let body_c = crate::canonical::encode(&sub.draft.body)
        .map_err(|e| Error::invalid("body", e.to_string()))?;
    let msg = crate::ledger::entry::submission_message(
        &sub.draft.actor,
        &body_c,
        &sub.submission.id,
        sub.draft.kind,
        &sub.ts,
    );
    let mut h = Sha256::new();
    h.update(msg);
    h.update(sub.submission.signer.as_bytes());
    Ok(h.finalize().into())
}

fn digest_of_entry(e: &Entry) -> Option<(String, [u8; 32])> {
    let sub = e.submission.as_ref()?;
    let msg = e.submission_message()?;
    let mut h = Sha256::new();
    h.update(msg);
    h.update(sub.signer.as_bytes());
    Some((sub.id.clone(), h.finalize().into()))
}

impl Served {
    /// Verify the whole ledger, then index what was verified.
    fn load(ledger: &Ledger) -> Result<Served> {
        let opts = Options {
            collect_leaves: true,
            ..Options::default()
        };
        let out = crate::flow::verify::verify(ledger, &opts, None, &mut |_, _| {})?;
        let summary = out.summary;
        let path = ledger.log_path();
        let mut bytes = Vec::new();
        let f = crate::fsutil::open_regular(&path)?;
        f.take(summary.bytes)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        let mut offsets = Vec::with_capacity(summary.leaves.len());
        let mut ids = HashMap::new();
        let mut at = 0usize;
        let finder = memchr::memmem::Finder::new(b",\"submission\":{");
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let seq = offsets.len() as u64;
            offsets.push(at as u64);
            at += line.len();
            if finder.find(line).is_some() {
                let e = Entry::parse_line(line.strip_suffix(b"\n").unwrap_or(line))
                    .map_err(|le| Error::internal(format!("seq {seq}: {}", le.reason)))?;
                if summary.leaves.get(offsets.len() - 1) != Some(&e.hash) {
                    return Err(changed(&path, seq));
                }
                if let Some((id, d)) = digest_of_entry(&e) {
                    ids.insert(id, (seq, d));
                }
            }
        }
        if offsets.len() != summary.leaves.len() {
            return Err(Error::Conflict(format!(
                "{}: changed while it was being opened; start again",
                path.display()
            )));
        }
        let tree = Tree::new(summary.leaves);
        // Checked again here, against the tree just verified and the key history: the file
        // may have changed since verification looked at it. Anything else is not served (the
        // writer signs a fresh checkpoint instead).
        let checkpoint = read_checkpoint(ledger).filter(|(text, size)| {
            let Ok(n) = crate::note::parse(text.as_bytes()) else {
                return false;
            };
            let root_ok = Checkpoint::parse(&n.text)
                .is_ok_and(|cp| cp.size <= tree.len() && cp.root == tree.root(cp.size));
            let signed = summary
                .keys
                .iter()
                .filter(|k| k.may_sign_tree(*size))
                .any(|k| {
                    let v = crate::note::verifiers_for_public(&n, &k.public);
                    !v.is_empty() && crate::note::open(text.as_bytes(), &v).is_ok()
                });
            root_ok && signed
        });
        Ok(Served {
            offsets,
            end: summary.bytes,
            tree,
            ids,
            keys: summary.keys.into(),
            checkpoint,
        })
    }

    fn size(&self) -> u64 {
        self.tree.len()
    }
}

/// `DIR/checkpoint`, which plain verification has just checked (signed by a key of the
/// ledger's history, consistent with the verified entries).
fn read_checkpoint(ledger: &Ledger) -> Option<(String, u64)> {
    let path = ledger.dir().join(crate::ledger::tlog::CHECKPOINT_FILE);
    let bytes = crate::fsutil::read_bounded(&path, 64 * 1024, "checkpoint").ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let n = crate::note::parse(text.as_bytes()).ok()?;
    let cp = Checkpoint::parse(&n.text).ok()?;
    Some((text, cp.size))
}

fn changed(path: &std::path::Path, seq: u64) -> Error {
    Error::verify_file(
        path,
        "changed-behind-the-service",
        format!("entry {seq} is no longer the entry that was verified: the file was edited"),
    )
}

/// One served entry: the line and its parse.
#[derive(Debug, Clone)]
pub struct Served1 {
    /// The canonical line, without its newline.
    pub line: String,
    /// The entry.
    pub entry: Entry,
}

/// A page of entries.
#[derive(Debug, Clone)]
pub struct Page {
    /// The entries that matched.
    pub entries: Vec<Served1>,
    /// Where the next page starts, if the scan stopped before the end.
    pub next_cursor: Option<u64>,
}

/// A query over the served entries.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only this kind.
    pub kind: Option<crate::ledger::Kind>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only entries at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Start at this seq.
    pub cursor: u64,
    /// At most this many entries (1 to 1000, default 100).
    pub limit: usize,
}

/// Lines one query looks at before it answers with a cursor.
const SCAN_BUDGET: u64 = 50_000;

impl Service {
    /// Open `ledger` for serving: verify it whole, then start the writer with `signer`, the
    /// log key (which must be trusted by the ledger and not a writer key).
    pub fn open(ledger: Ledger, signer: Signer) -> Result<Service> {
        let served = Served::load(&ledger)?;
        match served.keys.iter().find(|k| k.id == signer.id()) {
            Some(k) if !k.signs_entries() => {
                return Err(Error::untrusted(
                    signer.id(),
                    "a writer or git-signer key cannot be the log key of a service",
                ))
            }
            Some(k) if k.revoked_at.is_none() => {}
            _ => {
                return Err(Error::untrusted(
                    signer.id(),
                    "not trusted by this ledger: the service signs with a key of its key history",
                ))
            }
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Job>(1024);
        let svc = Service {
            inner: Arc::new(Inner {
                ledger,
                trust: Mutex::new(None),
                rebuild: Mutex::new(()),
                view: RwLock::new(served),
                broken: Mutex::new(None),
                writer: Mutex::new(Some(tx)),
                metrics: metrics::Metrics::new(),
            }),
        };
        let worker = svc.clone();
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || worker.write_loop(rx, signer))
            .map_err(|e| Error::internal(format!("cannot start the writer thread: {e}")))?;
        Ok(svc)
    }

    /// The ledger served.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    fn view(&self) -> Result<std::sync::RwLockReadGuard<'_, Served>> {
        self.inner
            .view
            .read()
            .map_err(|_| Error::internal("the served view is poisoned"))
    }

    /// Why the service no longer answers, if it stopped trusting its file.
    pub fn broken(&self) -> Option<String> {
        self.inner.broken.lock().ok().and_then(|b| b.clone())
    }

    fn mark_broken(&self, why: &Error) {
        tracing::error!(reason = %why, "the ledger changed behind the service: it stops answering from it");
        if let Ok(mut b) = self.inner.broken.lock() {
            b.get_or_insert_with(|| why.to_string());
        }
    }

    /// Entries in the verified view.
    pub fn size(&self) -> Result<u64> {
        Ok(self.view()?.size())
    }

    /// The newest signed checkpoint (a signed note) and its size.
    pub fn checkpoint(&self) -> Result<(String, u64)> {
        self.view()?
            .checkpoint
            .clone()
            .ok_or_else(|| Error::NotFound("no checkpoint yet: the ledger is empty".into()))
    }

    /// Entry `seq`, re-read from the file and checked against its verified leaf hash.
    pub fn entry(&self, seq: u64) -> Result<Served1> {
        let v = self.view()?;
        self.read_entry(&v, seq)
    }

    fn read_entry(&self, v: &Served, seq: u64) -> Result<Served1> {
        let (Some(&start), Some(leaf)) = (
            usize::try_from(seq).ok().and_then(|i| v.offsets.get(i)),
            v.tree.leaf(seq),
        ) else {
            return Err(Error::NotFound(format!(
                "seq {seq}: the ledger has {} entries",
                v.size()
            )));
        };
        let end = usize::try_from(seq + 1)
            .ok()
            .and_then(|i| v.offsets.get(i).copied())
            .unwrap_or(v.end);
        let path = self.inner.ledger.log_path();
        let mut buf = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        let read = crate::fsutil::open_regular(&path).and_then(|mut f| {
            f.seek(SeekFrom::Start(start))
                .and_then(|_| f.read_exact(&mut buf))
                .map_err(|e| Error::io(&path, e))
        });
        let checked = read.and_then(|()| {
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match Entry::parse_line(line) {
                Ok(e) if e.hash == *leaf && e.seq == seq => Ok(e),
                _ => Err(changed(&path, seq)),
            }
        });
        match checked {
            Ok(entry) => {
                buf.pop();
                let line = String::from_utf8(buf).map_err(|_| changed(&path, seq))?;
                Ok(Served1 { line, entry })
            }
            Err(e) => {
                self.mark_broken(&e);
                Err(e)
            }
        }
    }

    /// A page of entries matching `q`.
    pub fn query(&self, q: &Query) -> Result<Page> {
        let v = self.view()?;
        let limit = if q.limit == 0 { 100 } else { q.limit.min(1000) };
        let size = v.size();
        let mut entries = Vec::new();
        let mut seq = q.cursor;
        let stop = q.cursor.saturating_add(SCAN_BUDGET).min(size);
        while seq < stop && entries.len() < limit {
            let s = self.read_entry(&v, seq)?;
            seq += 1;
            let e = &s.entry;
            if q.kind.is_some_and(|k| k != e.kind)
                || q.actor.as_ref().is_some_and(|a| *a != e.actor)
            {
                continue;
            }
            if let Some(since) = q.since_ms {
                let ms = crate::time::parse_instant(&e.ts).unwrap_or(i64::MIN);
                if ms < since {
                    continue;
                }
            }
            entries.push(s);
        }
        Ok(Page {
            entries,
            next_cursor: (seq < size).then_some(seq),
        })
    }

    /// An inclusion proof of `seq` in the tree of `size` entries (default: the checkpoint's).
    pub fn inclusion(&self, seq: u64, size: Option<u64>) -> Result<merkle::InclusionProof> {
        let v = self.view()?;
        let size = size
            .or(v.checkpoint.as_ref().map(|c| c.1))
            .unwrap_or(v.size());
        if seq >= size || size > v.size() {
            return Err(Error::NotFound(format!(
                "no entry {seq} in a tree of {size} (the ledger has {})",
                v.size()
            )));
        }
        let mut t = tree::TreeRef(&v.tree);
        merkle::inclusion_proof(&mut t, seq, size)
    }

    /// A consistency proof between two tree sizes.
    pub fn consistency(&self, from: u64, to: Option<u64>) -> Result<merkle::ConsistencyProof> {
        let v = self.view()?;
        let to = to
            .or(v.checkpoint.as_ref().map(|c| c.1))
            .unwrap_or(v.size());
        if to > v.size() {
            return Err(Error::NotFound(format!(
                "no tree of size {to}: the ledger has {} entries",
                v.size()
            )));
        }
        if from > to || from == 0 {
            return Err(Error::invalid(
                "from",
                format!(
                    "expected 0 < from <= to <= {} (from {from}, to {to})",
                    v.size()
                ),
            ));
        }
        let mut t = tree::TreeRef(&v.tree);
        merkle::consistency_proof(&mut t, from, to)
    }

    /// The root of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash> {
        Ok(self.view()?.tree.root(size))
    }

    /// Check submissions against the served key history before they are queued: valid ids,
    /// bodies and signatures by trusted keys. All or nothing: the first bad one is the error,
    /// named by its index.
    pub fn precheck(&self, subs: Vec<Submitted>) -> Result<Vec<Checked>> {
        if subs.is_empty() || subs.len() > MAX_BATCH {
            return Err(Error::invalid(
                "submissions",
                format!(
                    "expected 1 to {MAX_BATCH} submissions, found {}",
                    subs.len()
                ),
            ));
        }
        let now = chrono::Utc::now().timestamp_millis();
        // The keys are copied out: the signatures are checked without holding the view.
        let keys = Arc::clone(&self.view()?.keys);
        let checked = check_submissions_with(&keys, subs);
        let mut out = Vec::with_capacity(checked.len());
        for (i, ok) in checked.into_iter().enumerate() {
            let c = ok.map_err(|e| at_index(i, e))?;
            let s = c.submission();
            let ts = crate::time::parse_instant(&s.ts).unwrap_or(i64::MIN);
            if ts.saturating_sub(now).abs() > MAX_SKEW_MS {
                return Err(Error::invalid(
                    format!("submissions[{i}].ts"),
                    format!(
                        "{} is more than {} minutes from the service's clock ({})",
                        s.ts,
                        MAX_SKEW_MS / 60_000,
                        crate::ledger::entry::now_ts()
                    ),
                ));
            }
            self.check_link(s).map_err(|e| at_index(i, e))?;
            out.push(c);
        }
        Ok(out)
    }

    /// A rollback's `undoes_seq` or an incident's `caused_by_seq` must name a succeeded or
    /// failed deploy of the same env that the ledger already holds (the rule of
    /// [`crate::rollback`]; the local append path checks the same with
    /// [`crate::flow::attribution::link`]). A submission is signed as it came, so nothing is
    /// filled in here: a link left out is decided by the read-time rule.
    fn check_link(&self, s: &Submitted) -> Result<()> {
        use crate::ledger::body::Kind;
        let field = match s.draft.kind {
            Kind::Rollback => "undoes_seq",
            Kind::Incident => "caused_by_seq",
            _ => return Ok(()),
        };
        let Some(v) = s.draft.body.get(field) else {
            return Ok(());
        };
        let bad = |why: String| Error::invalid(field, why);
        let n = v
            .as_u64()
            .ok_or_else(|| bad(format!("expected the seq of a deploy entry, found {v}")))?;
        let env = s.draft.body.get("env").and_then(serde_json::Value::as_str);
        let named = match self.entry(n) {
            Ok(e) => e.entry,
            Err(Error::NotFound(_)) => {
                return Err(bad(format!(
                    "{n}: not recorded yet; a rollback or incident names an earlier deploy"
                )))
            }
            Err(e) => return Err(e),
        };
        let status = named.body.get("status").and_then(serde_json::Value::as_str);
        if named.kind != Kind::Deploy || !matches!(status, Some("succeeded" | "failed")) {
            return Err(bad(format!(
                "{n}: no succeeded or failed deploy entry has seq {n}"
            )));
        }
        let their = named.body.get("env").and_then(serde_json::Value::as_str);
        if their != env {
            return Err(bad(format!(
                "{n}: deploy seq {n} is in env `{}`, not `{}`",
                their.unwrap_or(""),
                env.unwrap_or("")
            )));
        }
        Ok(())
    }

    /// Submit a batch: checked, queued to the writer, answered once the group commit that
    /// holds them is durable (fsync) and covered by a signed checkpoint.
    pub async fn submit(&self, subs: Vec<Submitted>) -> Result<Vec<Outcome>> {
        let subs = self.precheck(subs)?;
        self.submit_checked(subs).await
    }

    /// [`Service::submit`] of submissions [`Service::precheck`] passed.
    pub async fn submit_checked(&self, subs: Vec<Checked>) -> Result<Vec<Outcome>> {
        let tx = self
            .inner
            .writer
            .lock()
            .ok()
            .and_then(|w| w.clone())
            .ok_or_else(|| Error::Interrupted("the service is shutting down".into()))?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        tx.send(Job { subs, reply })
            .await
            .map_err(|_| Error::Interrupted("the service is shutting down".into()))?;
        rx.await
            .map_err(|_| Error::Interrupted("the writer stopped".into()))?
    }

    /// Stop taking submissions; the writer finishes what is queued, then exits.
    pub fn close(&self) {
        if let Ok(mut w) = self.inner.writer.lock() {
            w.take();
        }
    }

    /// The writer thread: take a job, then whatever else is queued (up to [`MAX_GROUP`]
    /// submissions), and write them as one group commit through one [`Appender`]. The files
    /// derived from the ledger (index, client state, checkpoint) are brought up to date at
    /// most every [`FLUSH_EVERY`] under load, after [`FLUSH_IDLE`] without submissions, and
    /// before the thread ends.
    fn write_loop(&self, mut rx: tokio::sync::mpsc::Receiver<Job>, signer: Signer) {
        let recorder = Recorder::new(&self.inner.ledger, Some(&signer));
        let lagging = self
            .view()
            .map(|v| v.size() > 0 && v.checkpoint.as_ref().map(|c| c.1) != Some(v.size()))
            .unwrap_or(false);
        if lagging {
            if let Ok(issued) = recorder.checkpoint() {
                if let Ok(mut v) = self.inner.view.write() {
                    if issued.checkpoint.size == v.size() {
                        v.checkpoint = Some((issued.note, issued.checkpoint.size));
                    }
                }
            }
        }
        // Only for timed waits on the queue.
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .ok();
        let mut appender: Option<Appender<'_>> = None;
        let mut last_flush = std::time::Instant::now();
        loop {
            let dirty = appender.as_ref().is_some_and(Appender::dirty);
            let first = match (&timer, dirty) {
                (Some(t), true) => {
                    // The timer is made inside the runtime it belongs to.
                    match t.block_on(async { tokio::time::timeout(FLUSH_IDLE, rx.recv()).await }) {
                        Ok(Some(job)) => job,
                        Ok(None) => break,
                        Err(_) => {
                            self.flush(appender.as_mut());
                            last_flush = std::time::Instant::now();
                            continue;
                        }
                    }
                }
                _ => match rx.blocking_recv() {
                    Some(job) => job,
                    None => break,
                },
            };
            let mut jobs = vec![first];
            let mut n = jobs[0].subs.len();
            while n < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => {
                        n += j.subs.len();
                        jobs.push(j);
                    }
                    Err(_) => break,
                }
            }
            let started = std::time::Instant::now();
            if appender.is_none() {
                match Appender::open(&self.inner.ledger, &signer) {
                    Ok(a) => appender = Some(a),
                    Err(e) => {
                        let e = Arc::new(e);
                        for job in jobs {
                            let _ = job.reply.send(Err(shared_error(&e)));
                        }
                        continue;
                    }
                }
            }
            let Some(app) = appender.as_mut() else {
                continue;
            };
            let before = self.size().unwrap_or(0);
            let results = self.commit(app, &mut jobs);
            let written = self.size().unwrap_or(0).saturating_sub(before);
            self.inner
                .metrics
                .observe_commit(n as u64, written, started.elapsed().as_secs_f64());
            match results {
                Ok(per_job) => {
                    for (job, out) in jobs.into_iter().zip(per_job) {
                        let _ = job.reply.send(Ok(out));
                    }
                }
                Err(e) => {
                    // The appender's state is no longer known to match the file.
                    appender = None;
                    let e = Arc::new(e);
                    for job in jobs {
                        let _ = job.reply.send(Err(shared_error(&e)));
                    }
                }
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                self.flush(appender.as_mut());
                last_flush = std::time::Instant::now();
            }
        }
        self.flush(appender.as_mut());
    }

    /// Bring the derived files up to date. A refusal to sign (the ledger no longer extends
    /// the checkpoint beside it) means the file was changed behind the service: it stops
    /// answering from it. Other failures (a full disk) are tried again at the next flush.
    fn flush(&self, appender: Option<&mut Appender<'_>>) {
        let Some(app) = appender else {
            return;
        };
        match app.flush() {
            Ok(_) => self.inner.metrics.flushed(true),
            Err(e @ Error::Verify { .. }) => {
                self.inner.metrics.flushed(false);
                self.mark_broken(&e);
            }
            Err(_) => self.inner.metrics.flushed(false),
        }
    }

    /// One group commit. Ids already written (or earlier in the same group) answer with
    /// their seq when the bytes are the same and are refused (409) when they differ.
    fn commit(&self, appender: &mut Appender<'_>, jobs: &mut [Job]) -> Result<Vec<Vec<Outcome>>> {
        enum Slot {
            Done(Outcome),
            /// Index in the batch written; `true` for the submission that brought it.
            Batch(usize, bool),
        }
        let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(jobs.len());
        let mut batch: Vec<Checked> = Vec::new();
        let mut digests: Vec<(String, [u8; 32])> = Vec::new();
        let mut pending: HashMap<String, ([u8; 32], usize)> = HashMap::new();
        {
            let v = self.view()?;
            for job in jobs.iter_mut() {
                let mut mine = Vec::with_capacity(job.subs.len());
                for c in std::mem::take(&mut job.subs) {
                    let d = digest_of(c.submission())?;
                    let id = c.submission().submission.id.clone();
                    let conflict = || {
                        Slot::Done(Outcome::Refused(Arc::new(Error::Conflict(format!(
                            "submission id {id:?} was already used for other content"
                        )))))
                    };
                    let slot = match (v.ids.get(&id), pending.get(&id)) {
                        (Some(&(seq, d0)), _) if d0 == d => Slot::Done(Outcome::Existing(seq)),
                        (Some(_), _) => conflict(),
                        (None, Some(&(d0, b))) if d0 == d => Slot::Batch(b, false),
                        (None, Some(_)) => conflict(),
                        (None, None) => {
                            pending.insert(id.clone(), (d, batch.len()));
                            digests.push((id, d));
                            batch.push(c);
                            Slot::Batch(batch.len() - 1, true)
                        }
                    };
                    mine.push(slot);
                }
                slots.push(mine);
            }
        }
        let mut made: Vec<std::result::Result<Arc<Served1>, Arc<Error>>> = Vec::new();
        if !batch.is_empty() {
            let n = batch.len();
            let written = appender.append(batch)?;
            let mut refused: HashMap<usize, Arc<Error>> = written
                .refused
                .into_iter()
                .map(|(i, e)| (i, Arc::new(e)))
                .collect();
            let mut ids = Vec::with_capacity(written.entries.len());
            let mut rows = written.entries.into_iter().zip(written.lines);
            for (b, (id, d)) in digests.into_iter().enumerate().take(n) {
                made.push(match refused.remove(&b) {
                    Some(e) => Err(e),
                    None => match rows.next() {
                        Some((entry, line)) => {
                            ids.push((id, (entry.seq, d)));
                            Ok(Arc::new(Served1 { line, entry }))
                        }
                        None => Err(Arc::new(Error::internal("entry not written"))),
                    },
                });
            }
            let written_now: Vec<&Served1> = made
                .iter()
                .filter_map(|m| m.as_ref().ok().map(|s| &**s))
                .collect();
            self.advance(&written_now, ids, written.checkpoint.as_ref())?;
        }
        Ok(slots
            .into_iter()
            .map(|mine| {
                mine.into_iter()
                    .map(|slot| match slot {
                        Slot::Done(o) => o,
                        Slot::Batch(b, created) => match made.get(b) {
                            Some(Ok(s)) if created => Outcome::Created(Arc::clone(s)),
                            Some(Ok(s)) => Outcome::Existing(s.entry.seq),
                            Some(Err(e)) => Outcome::Refused(e.clone()),
                            None => {
                                Outcome::Refused(Arc::new(Error::internal("entry not written")))
                            }
                        },
                    })
                    .collect()
            })
            .collect())
    }

    /// Add a finished group commit to the view. Entries written by another process in the
    /// meantime (a CLI append) make the view reload from a full verification.
    fn advance(
        &self,
        written: &[&Served1],
        ids: Vec<(String, (u64, [u8; 32]))>,
        checkpoint: Option<&(String, Checkpoint)>,
    ) -> Result<()> {
        let mut v = self
            .inner
            .view
            .write()
            .map_err(|_| Error::internal("the served view is poisoned"))?;
        let in_line = written.first().is_some_and(|s| s.entry.seq == v.size());
        if !in_line {
            drop(v);
            let fresh = Served::load(&self.inner.ledger)?;
            let mut v = self
                .inner
                .view
                .write()
                .map_err(|_| Error::internal("the served view is poisoned"))?;
            *v = fresh;
            if let Some((note, cp)) = checkpoint {
                if cp.size == v.size() {
                    v.checkpoint = Some((note.clone(), cp.size));
                }
            }
            return Ok(());
        }
        for s in written {
            let len = s.line.len() as u64 + 1;
            let at = v.end;
            v.offsets.push(at);
            v.end = at + len;
            v.tree.push(s.entry.hash);
        }
        v.ids.extend(ids);
        if let Some((note, cp)) = checkpoint {
            v.checkpoint = Some((note.clone(), cp.size));
        }
        Ok(())
    }

    /// The trust facts of the served prefix: reloaded (verified view, then the trust cache)
    /// when the ledger has grown since they were folded. The facts must end at an entry of the
    /// verified view, with its hash: a decision is never made on history the service did not
    /// verify.
    fn trust_view(&self) -> Result<Arc<TrustView>> {
        if let Some(why) = self.broken() {
            return Err(Error::Interrupted(format!(
                "the service stopped answering from this ledger: {why}"
            )));
        }
        if let Some(t) = self.fresh_trust()? {
            return Ok(t);
        }
        let _one = self
            .inner
            .rebuild
            .lock()
            .map_err(|_| Error::internal("the trust rebuild lock is poisoned"))?;
        if let Some(t) = self.fresh_trust()? {
            return Ok(t);
        }
        let size = self.size()?;
        let (ledger, _view) = crate::flow::gate::open_verified(self.inner.ledger.clone())?;
        let (policy, agg, status) = crate::trust::load(&ledger)?;
        let n = agg.next_seq;
        let matches = {
            let v = self.view()?;
            n <= v.size() && (n == 0 || v.tree.leaf(n - 1) == Some(&agg.head))
        };
        if !matches {
            return Err(Error::Interrupted(format!(
                "the trust facts cover {n} entries, not a prefix the service verified ({size}); try again"
            )));
        }
        let recorders = crate::config::ServeSettings::in_force(
            ledger.config(),
            ledger.signed_policy().is_some(),
        )?
        .gate_recorders;
        let t = Arc::new(TrustView {
            size: n,
            policy,
            agg,
            status,
            policy_applied: crate::flow::gate::policy_applied(&ledger),
            recorders,
        });
        if let Ok(mut slot) = self.inner.trust.lock() {
            *slot = Some(Arc::clone(&t));
        }
        Ok(t)
    }

    /// The trust facts if they cover the whole served ledger.
    fn fresh_trust(&self) -> Result<Option<Arc<TrustView>>> {
        let size = self.size()?;
        Ok(self
            .inner
            .trust
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .filter(|t| t.size == size))
    }

    /// The score of `actor` now (JSON of [`crate::trust::json::score_json`]).
    pub fn score(&self, actor: &str) -> Result<Value> {
        Ok(score_with(&*self.trust_view()?, actor))
    }

    /// [`Service::score`] when the facts in memory are current, without reading any file;
    /// `None` when they need a rebuild.
    pub fn score_now(&self, actor: &str) -> Result<Option<Value>> {
        Ok(self.fresh_now()?.map(|t| score_with(&t, actor)))
    }

    /// [`Service::gate`] when the facts in memory are current; `None` when they need a
    /// rebuild.
    pub fn gate_now(&self, q: &GateAsk) -> Result<Option<Value>> {
        let now = chrono::Utc::now().timestamp_millis();
        self.fresh_now()?
            .map(|t| gate_with(&t, q, now).map(|(j, _)| j))
            .transpose()
    }

    fn fresh_now(&self) -> Result<Option<Arc<TrustView>>> {
        if self.broken().is_some() {
            return Ok(None);
        }
        self.fresh_trust()
    }

    /// A gate query, not recorded (JSON of [`crate::trust::json::decision_json`], with the
    /// tree size decided on, the time of the decision and the `approval` entry that would
    /// record it: what a gate recorder signs to have it recorded, see [`Service::record_gate`]).
    pub fn gate(&self, q: &GateAsk) -> Result<Value> {
        let now = chrono::Utc::now().timestamp_millis();
        gate_with(&*self.trust_view()?, q, now).map(|(j, _)| j)
    }

    /// Check a request to record the decision on `q`: `sub` is an `approval` submission
    /// signed by a key of the signed policy's `[serve].gate_recorders`, whose body is the
    /// decision the service reaches now at the submission's `ts` on every entry it has (no
    /// fact newer than `ts`): exactly the `record` a query answered. Blocking (it may fold
    /// new entries into the trust facts); returns the decision and the submission, checked,
    /// for [`Service::submit_checked`].
    pub fn check_gate_record(&self, q: &GateAsk, sub: Submitted) -> Result<(Value, Checked)> {
        if sub.draft.kind != crate::ledger::Kind::Approval {
            return Err(Error::invalid(
                "submission.kind",
                format!(
                    "a gate decision is recorded as an `approval`, not {:?}",
                    sub.draft.kind.as_str()
                ),
            ));
        }
        let t = self.trust_view()?;
        let signer = sub.submission.signer.clone();
        if !t.recorders.contains(&signer) {
            return Err(Error::untrusted(
                signer,
                "may not record gate decisions: the signed policy's [serve].gate_recorders does not name it",
            ));
        }
        let at = crate::trust::model::ts_ms(&sub.ts)
            .ok_or_else(|| Error::invalid("submission.ts", "expected YYYY-MM-DDTHH:MM:SS.mmmZ"))?;
        // A replay of a record already written (same id, same bytes) answers with it, like
        // any submission: the history has moved on since, by that entry at least.
        let digest = digest_of(&sub)?;
        let known = self.view()?.ids.get(&sub.submission.id).map(|&(_, d)| d);
        if known.is_some_and(|d| d != digest) {
            return Err(Error::Conflict(format!(
                "submission id {:?} was already used for other content",
                sub.submission.id
            )));
        }
        if known.is_some() {
            let (decision, _) = gate_with(&t, q, chrono::Utc::now().timestamp_millis())?;
            let c = self.precheck_one(sub)?;
            return Ok((decision, c));
        }
        // Made at the present time (a minute's leeway for the round trip), never as of
        // another: ask again for a fresh one.
        crate::flow::gate::require_present(at).map_err(|_| {
            Error::Stale(format!(
                "the decision's time {} is not the present: ask again",
                sub.ts
            ))
        })?;
        if let Some(newest) = t.agg.facts.newest_ms().filter(|&n| n > at) {
            return Err(Error::Stale(format!(
                "the ledger has entries newer ({}) than the decision's time ({}): ask again",
                crate::time::format_ts(newest),
                sub.ts
            )));
        }
        let (decision, record) = gate_with(&t, q, at)?;
        if sub.draft.body != record["body"] {
            return Err(Error::Stale(format!(
                "the decision signed is not the one the service reaches now (tree size {}): ask again",
                t.size
            )));
        }
        let c = self.precheck_one(sub)?;
        Ok((decision, c))
    }

    /// [`Service::precheck`] of one submission, named `submission` in errors.
    fn precheck_one(&self, sub: Submitted) -> Result<Checked> {
        let mut checked = self.precheck(vec![sub]).map_err(|e| match e {
            Error::Invalid { what, reason } => {
                Error::invalid(what.replacen("submissions[0]", "submission", 1), reason)
            }
            other => other,
        })?;
        checked
            .pop()
            .ok_or_else(|| Error::internal("the checked submission went missing"))
    }
}

/// A score from facts in memory.
fn score_with(t: &TrustView, actor: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis();
    let s = crate::trust::score(&t.agg.facts, &t.policy, actor, None, now);
    let mut j = crate::trust::json::score_json(&s);
    j["cache"] = json!(t.status.as_str());
    j["tree_size"] = json!(t.size);
    j
}

/// A gate decision from facts in memory, made at `now_ms`: the answer, and the `record` part
/// of it (kind, actor, body and ts of the `approval` entry that records it). The body is what
/// `ledger trust gate` records (the decision, the policy applied) and the tree size the facts
/// cover.
fn gate_with(t: &TrustView, q: &GateAsk, now_ms: i64) -> Result<(Value, Value)> {
    let paths = crate::trust::gate::normalize_paths(&q.paths)?;
    let subject = q
        .subject
        .clone()
        .unwrap_or_else(|| crate::flow::gate::default_subject(&q.actor, &paths));
    let d = crate::trust::evaluate(
        &t.agg.facts,
        &t.policy,
        &q.actor,
        &paths,
        &subject,
        &q.change,
        now_ms,
    )?;
    // Recorded, the decision is vouched for by the gate recorder the signed policy names.
    let mut recorded = d.clone();
    recorded.apply_authorship(
        &t.policy,
        &crate::trust::gate::Authorship::Attested {
            by: "gate-recorder".into(),
        },
    );
    let mut body = recorded.entry_body();
    if let Some(b) = body.as_object_mut() {
        b.insert("policy_sha256".into(), json!(t.policy_applied.0));
        if let Some(seq) = t.policy_applied.1 {
            b.insert("policy_seq".into(), json!(seq));
        }
        b.insert("tree_size".into(), json!(t.size));
    }
    let record = json!({
        "kind": "approval",
        "actor": crate::flow::gate::GATE_RECORDER,
        "body": body,
        "ts": crate::time::format_ts(now_ms),
    });
    let mut j = crate::trust::json::decision_json(&d, None, t.status);
    j["tree_size"] = json!(t.size);
    j["record"] = record.clone();
    Ok((j, record))
}

/// An error shared by every job of a failed group commit, as an owned error of the same kind.
fn shared_error(e: &Error) -> Error {
    match e {
        Error::Conflict(m) => Error::Conflict(m.clone()),
        Error::Invalid { what, reason } => Error::invalid(what.clone(), reason.clone()),
        Error::UntrustedKey { key_id, reason } => Error::untrusted(key_id.clone(), reason.clone()),
        other => Error::internal(other.to_string()),
    }
}

/// Name the submission an error is about.
fn at_index(i: usize, e: Error) -> Error {
    match e {
        Error::Invalid { what, reason } => {
            Error::invalid(format!("submissions[{i}].{what}"), reason)
        }
        Error::UntrustedKey { key_id, reason } => {
            Error::untrusted(key_id, format!("submissions[{i}]: {reason}"))
        }
        other => other,
    }
}
