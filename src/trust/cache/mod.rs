//! The score cache: [`Facts`] folded from the ledger, keyed by the ledger's head, updated
//! incrementally, never trusted over the ledger.
//!
//! The file `trust.cache` lives in the ledger's client state directory (beside the verified
//! view's `state.json`, outside the ledger directory: see [`crate::ledger::view`]); it is
//! written atomically and safe to delete at any time; its byte format is in [`codec`]. A
//! `trust.cache` left in the ledger directory by an older version is ignored. This module brings an [`Aggregate`] up to the ledger's tail through
//! the crate's one structural reader of the log.
//!
//! # Why it is never trusted over the ledger
//!
//! The cache states the ledger length and head hash it was folded up to. It is used as is only
//! when the ledger's last line (parsed and hashed on every run) has that hash and the file that
//! length; since every entry's hash covers its `prev`, the head hash commits to the whole
//! chain. When the ledger grew, the first new line must chain to the cached head (`prev`) and
//! carry the next seq, and only the new lines are folded in. Anything else — another policy,
//! a checksum mismatch, a shorter or rewritten ledger — discards the cache and folds the
//! whole ledger again. The cache is a speed-up only: deleting it changes no result.
//!
//! Reading is not verifying: the fold checks every line's form, leaf hash, seq and chain, but
//! not signatures (that is `ledger verify`'s job).

mod codec;
pub mod slice;

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ledger::body::Kind;
use crate::ledger::entry::{Entry, LineError, ZERO_HASH};
use crate::ledger::fastline;
use crate::ledger::read::{self, Head, Parse, Position};
use crate::ledger::verify::Tapped;
use crate::ledger::Ledger;
use crate::trust::model::{BodyView, Facts};
use crate::trust::policy::Policy;

pub(crate) use codec::{decode, encode};

/// File name of the cache inside the ledger directory.
pub const CACHE_FILE: &str = "trust.cache";

/// The cache is rewritten after a cold fold, or once an extension folds this many entries.
pub const SAVE_AFTER: u64 = 256;

/// How the aggregate was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// The cache matched the ledger head.
    Warm,
    /// The cache was extended by this many entries.
    Extended(u64),
    /// No usable cache: the whole ledger was folded.
    Cold,
}

impl CacheStatus {
    /// Short name for output (`warm`, `extended`, `cold`).
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Warm => "warm",
            CacheStatus::Extended(_) => "extended",
            CacheStatus::Cold => "cold",
        }
    }
}

/// Facts folded up to a ledger position.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// The facts.
    pub facts: Facts,
    /// Ledger bytes folded.
    pub len: u64,
    /// Entries folded (the next seq).
    pub next_seq: u64,
    /// Hash of the last entry folded (zeros when none).
    pub head: [u8; 32],
    /// Policy scope key the scope masks were computed with.
    pub scope_key: String,
}

impl Aggregate {
    fn empty(policy: &Policy) -> Aggregate {
        Aggregate {
            facts: Facts::default(),
            len: 0,
            next_seq: 0,
            head: ZERO_HASH,
            scope_key: policy.scope_key(),
        }
    }
}

/// Path of the cache file of `ledger`: in its client state directory, never in the ledger
/// directory (whoever can write the ledger could write facts there that its head does not
/// commit to). `None` without a client state: every load folds the whole ledger.
pub fn cache_path(ledger: &Ledger) -> Option<PathBuf> {
    ledger.state_dir().map(|d| d.join(CACHE_FILE))
}

/// The largest trust cache read; a larger one is ignored and rebuilt.
const MAX_CACHE: u64 = 1 << 30;

/// Bring the aggregate up to the ledger's current tail (warm, extended or cold) and save it.
/// A cache that cannot be written is not an error (read-only audit directories are fine).
pub fn load(ledger: &Ledger, policy: &Policy) -> Result<(Aggregate, CacheStatus)> {
    let tail = ledger.tail()?;
    let path = cache_path(ledger);
    // A cache that is missing, unreadable, not a regular file or too large is rebuilt.
    let cached = path
        .as_ref()
        .and_then(|p| crate::fsutil::read_bounded_if_exists(p, MAX_CACHE, "trust cache").ok())
        .flatten()
        .and_then(|b| decode(&b));
    let usable = cached.filter(|a| {
        a.scope_key == policy.scope_key() && a.len <= tail.len && a.next_seq <= tail.next_seq
    });
    let (mut agg, status) = match usable {
        Some(a) if a.len == tail.len && a.head == tail.prev && a.next_seq == tail.next_seq => {
            return Ok((a, CacheStatus::Warm))
        }
        Some(mut a) if a.len < tail.len => {
            let before = a.next_seq;
            match fold(ledger, policy, &mut a, tail.len) {
                Ok(()) => {
                    let n = a.next_seq - before;
                    (a, CacheStatus::Extended(n))
                }
                Err(_) => cold(ledger, policy, tail.len)?,
            }
        }
        _ => cold(ledger, policy, tail.len)?,
    };
    if agg.next_seq != tail.next_seq || agg.head != tail.prev || agg.len != tail.len {
        return Err(Error::Conflict(format!(
            "{}: changed while being read (folded {} entries, tail says {}); try again",
            ledger.log_path().display(),
            agg.next_seq,
            tail.next_seq
        )));
    }
    agg.len = tail.len;
    // Rewriting (and fsyncing) a large cache for a handful of new entries would cost more than
    // folding them again next time, so small extensions are folded on every run until they
    // add up to SAVE_AFTER entries.
    let save = match status {
        CacheStatus::Extended(n) => n >= SAVE_AFTER,
        _ => true,
    };
    if save {
        store(ledger, &agg);
    }
    Ok((agg, status))
}

/// The facts one gate query needs (`author`'s merges and their deploys, `subject`'s
/// approvals) from the slice file, without reading the whole cache: when the slice matches
/// the ledger's tail, or the entries after it are none that change merges, deploys,
/// rollbacks or identities (people's approvals after it are folded in). `None`: take the full
/// path ([`load`]).
pub fn query(
    ledger: &Ledger,
    policy: &Policy,
    author: &str,
    keys: &[String],
) -> Result<Option<(Facts, CacheStatus)>> {
    let Some(dir) = ledger.state_dir() else {
        return Ok(None);
    };
    let Some(mut s) = slice::read(
        &dir.join(slice::SLICE_FILE),
        &policy.scope_key(),
        author,
        keys,
    ) else {
        return Ok(None);
    };
    let tail = ledger.tail()?;
    if s.len == tail.len && s.head == tail.prev && s.next_seq == tail.next_seq {
        return Ok(Some((s.facts, CacheStatus::Warm)));
    }
    if s.len > tail.len || s.next_seq > tail.next_seq {
        return Ok(None);
    }
    let from = Position {
        offset: s.len,
        next_seq: s.next_seq,
        prev: s.head,
    };
    let mask = |ps: &[&str]| policy.scope_mask(ps.iter().copied());
    let facts = &mut s.facts;
    let mut usable = true;
    let end = read::scan(ledger, from, tail.len, &FoldLines, |item| {
        let kind = match &item {
            None => return Ok(()),
            Some(Relevant::View(_, kind, _)) => *kind,
            Some(Relevant::Owned(e)) => e.kind,
        };
        if kind == Kind::Approval {
            apply_item(facts, item, &mask);
        } else {
            usable = false;
        }
        Ok(())
    });
    match end {
        Ok(end) if usable && end.offset == tail.len && end.prev == tail.prev => {
            // Approvals of other subjects were folded too: harmless, the gate asks for one.
            let n = tail.next_seq - s.next_seq;
            Ok(Some((s.facts, CacheStatus::Extended(n))))
        }
        _ => Ok(None),
    }
}

fn cold(ledger: &Ledger, policy: &Policy, upto: u64) -> Result<(Aggregate, CacheStatus)> {
    let mut a = Aggregate::empty(policy);
    fold(ledger, policy, &mut a, upto)?;
    Ok((a, CacheStatus::Cold))
}

/// The fields the fold reads from a line, borrowed from it; serde skips the rest.
#[derive(Deserialize)]
struct LightView<'a> {
    ts: &'a str,
    actor: &'a str,
    #[serde(default)]
    signer: Option<&'a str>,
    #[serde(default, borrow)]
    submission: Option<SubView<'a>>,
    #[serde(borrow)]
    body: BodyView<'a>,
}

/// The runner's signer of a version-2 entry.
#[derive(Deserialize, Clone, Copy)]
struct SubView<'a> {
    signer: &'a str,
}

impl LightView<'_> {
    /// Who said it: the runner of a version-2 entry, the entry's signer otherwise.
    fn author(&self) -> Option<&str> {
        self.submission.map(|s| s.signer).or(self.signer)
    }
}

/// What the fold takes from a relevant line: a borrowed view, or the whole entry when the
/// line took the reference parser or its strings have escapes (read leniently through
/// [`BodyView::from_value`]).
enum Relevant<'a> {
    View(u64, Kind, LightView<'a>),
    Owned(Entry),
}

fn relevant(k: Kind) -> bool {
    matches!(
        k,
        Kind::Merge | Kind::Deploy | Kind::Rollback | Kind::Approval | Kind::Key | Kind::Incident
    )
}

/// The fold's line parser: the structural checks of the fast path (or the reference parser
/// when it declines), then a light parse of the lines the facts are made of.
struct FoldLines;

impl Parse for FoldLines {
    type Item<'a> = Option<Relevant<'a>>;

    fn parse<'a>(
        &self,
        line: &'a [u8],
    ) -> std::result::Result<(Head, Option<Relevant<'a>>), LineError> {
        if let Some(f) = fastline::scan(line) {
            let head = Head {
                seq: f.seq,
                prev: f.prev,
                hash: f.hash,
            };
            if !relevant(f.kind) {
                return Ok((head, None));
            }
            if let Ok(v) = serde_json::from_slice::<LightView<'_>>(line) {
                return Ok((head, Some(Relevant::View(f.seq, f.kind, v))));
            }
        }
        let e = Entry::parse_line(line)?;
        let head = Head {
            seq: e.seq,
            prev: e.prev,
            hash: e.hash,
        };
        Ok((head, relevant(e.kind).then_some(Relevant::Owned(e))))
    }
}

/// Fold the ledger bytes `[agg.len, upto)` into `agg`.
fn fold(ledger: &Ledger, policy: &Policy, agg: &mut Aggregate, upto: u64) -> Result<()> {
    let mask = |ps: &[&str]| policy.scope_mask(ps.iter().copied());
    let from = Position {
        offset: agg.len,
        next_seq: agg.next_seq,
        prev: agg.head,
    };
    let facts = &mut agg.facts;
    let end = read::scan(ledger, from, upto, &FoldLines, |item| {
        apply_item(facts, item, &mask);
        Ok(())
    })?;
    agg.len = end.offset;
    agg.next_seq = end.next_seq;
    agg.head = end.prev;
    Ok(())
}

/// Fold one relevant line into `facts`. A person's approval counts under the identity its
/// signing key was added with, never under its free-text actor: unsigned approvals and keys
/// without an identity count for nobody (DESIGN §8). The key of a version-2 entry's
/// approval is the runner's (`submission.signer`), never the log key that ordered it.
fn apply_item(facts: &mut Facts, item: Option<Relevant<'_>>, mask: &dyn Fn(&[&str]) -> u64) {
    match item {
        Some(Relevant::View(seq, Kind::Approval, l)) if l.body.is_gate() => {
            facts.apply_view(seq, l.ts, Kind::Approval, l.actor, &l.body, mask)
        }
        Some(Relevant::View(seq, Kind::Approval, l)) => {
            let who = l
                .author()
                .and_then(|s| facts.identity_of(s))
                .map(str::to_string);
            if let Some(who) = who {
                facts.apply_view(seq, l.ts, Kind::Approval, &who, &l.body, mask);
            }
        }
        Some(Relevant::View(seq, kind, l)) => {
            facts.apply_view(seq, l.ts, kind, l.actor, &l.body, mask)
        }
        Some(Relevant::Owned(e)) if e.kind == Kind::Key => facts.note_key(e.seq, &e.body),
        Some(Relevant::Owned(e))
            if e.kind == Kind::Approval && e.body.get("gate").is_some_and(|g| !g.is_null()) =>
        {
            facts.apply(e.seq, &e.ts, e.kind, &e.actor, &e.body, mask)
        }
        Some(Relevant::Owned(e)) if e.kind == Kind::Approval => {
            let who = e
                .submission
                .as_ref()
                .map(|s| s.signer.as_str())
                .or(e.signer.as_deref())
                .and_then(|s| facts.identity_of(s))
                .map(str::to_string);
            if let Some(who) = who {
                facts.apply(e.seq, &e.ts, e.kind, &who, &e.body, mask);
            }
        }
        Some(Relevant::Owned(e)) => facts.apply(e.seq, &e.ts, e.kind, &e.actor, &e.body, mask),
        None => {}
    }
}

/// The fold of a first run, fed by the verified view with the very lines it verifies (see
/// [`crate::ledger::view::View::open_tapped`]): the facts come out of the same pass over the
/// file, instead of a second read that re-hashes every line.
pub struct Tap<'p> {
    policy: &'p Policy,
    facts: Facts,
    lines: u64,
}

#[derive(Deserialize)]
struct TapView<'a> {
    seq: u64,
    ts: &'a str,
    actor: &'a str,
    #[serde(default)]
    signer: Option<&'a str>,
    #[serde(default, borrow)]
    submission: Option<SubView<'a>>,
    #[serde(borrow)]
    body: BodyView<'a>,
}

impl<'p> Tap<'p> {
    /// A fold from the first entry, with `policy`'s scope masks.
    pub fn new(policy: &'p Policy) -> Tap<'p> {
        Tap {
            policy,
            facts: Facts::default(),
            lines: 0,
        }
    }

    /// Fold one verified line. Its kind and signer come from the checks, so lines that
    /// change no fact (events, and approvals whose signer has no identity, which count for
    /// nobody) are passed over unread.
    pub fn line(&mut self, t: &Tapped<'_>) {
        self.lines += 1;
        let (kind, line) = (t.kind, t.line);
        if !relevant(kind) {
            return;
        }
        // A person's approval by a key without an identity counts for nobody; a gate's
        // decision (it has a `gate` field) is read whoever signed it.
        if kind == Kind::Approval
            && t.author.and_then(|s| self.facts.identity_of(s)).is_none()
            && memchr::memmem::find(line, b"\"gate\":").is_none()
        {
            return;
        }
        let policy = self.policy;
        let mask = |ps: &[&str]| policy.scope_mask(ps.iter().copied());
        if kind != Kind::Key {
            if let Ok(v) = serde_json::from_slice::<TapView<'_>>(line) {
                let light = LightView {
                    ts: v.ts,
                    actor: v.actor,
                    signer: v.signer,
                    submission: v.submission,
                    body: v.body,
                };
                apply_item(
                    &mut self.facts,
                    Some(Relevant::View(v.seq, kind, light)),
                    &mask,
                );
                return;
            }
        }
        if let Ok(e) = Entry::parse_line(line) {
            apply_item(&mut self.facts, Some(Relevant::Owned(e)), &mask);
        }
    }

    /// The aggregate of a fold that saw every line of a verified ledger of `size` entries,
    /// `bytes` long, ending at `head`; `None` when it saw another number of lines.
    pub fn finish(self, size: u64, bytes: u64, head: [u8; 32]) -> Option<Aggregate> {
        (self.lines == size).then(|| Aggregate {
            facts: self.facts,
            len: bytes,
            next_seq: size,
            head,
            scope_key: self.policy.scope_key(),
        })
    }
}

/// Save `agg` as the cache and the slice of `ledger` (in its client state directory; nothing
/// without one). Best effort, like every cache write.
pub fn store(ledger: &Ledger, agg: &Aggregate) {
    let Some(path) = cache_path(ledger) else {
        return;
    };
    if let Some(dir) = path.parent().filter(|d| d.is_dir()) {
        // Two files, two threads: a first run writes both right after the whole ledger was
        // verified, when the cores are free again. Their order does not matter: each names
        // the ledger position it folded and is checked against the ledger before use, so a
        // crash that leaves one older than the other costs a catch-up, never a wrong answer.
        // No fsync: both are rebuilt when damaged.
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ =
                    crate::fsutil::write_cache(&dir.join(slice::SLICE_FILE), &slice::encode(agg));
            });
            let _ = crate::fsutil::write_cache(&path, &encode(agg));
        });
    }
}

/// Remove the cache file of `ledger` if present (for benchmarks and tests).
pub fn clear(ledger: &Ledger) -> Result<()> {
    let Some(p) = cache_path(ledger) else {
        return Ok(());
    };
    match std::fs::remove_file(&p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&p, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Draft;
    use serde_json::json;

    fn draft(i: u64) -> Draft {
        let (kind, body) = match i % 3 {
            0 => (
                Kind::Merge,
                json!({"author": format!("dev{}", i % 2), "source": "f", "target": "main",
                    "source_commit": "a", "target_commit": "b",
                    "merge_commit": format!("m{i}"), "paths": ["src/x.rs"]}),
            ),
            1 => (
                Kind::Deploy,
                json!({"env": "prod", "version": format!("v{i}"), "commit": format!("m{}", i - 1),
                    "status": "succeeded"}),
            ),
            _ => (Kind::Event, json!({"type": "test", "data": {"i": i}})),
        };
        Draft {
            kind,
            actor: "ci".into(),
            body,
        }
    }

    fn ledger(n: u64) -> (tempfile::TempDir, Ledger, Policy) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "test.example/trust", false)
            .unwrap()
            .with_state(crate::ledger::view::StateLocation::Dir(
                dir.path().join("state"),
            ));
        crate::ledger::Recorder::new(&l, None)
            .record((0..n).map(draft).collect())
            .unwrap();
        let p = Policy::from_toml("").unwrap();
        (dir, l, p)
    }

    /// A gate answered from the slice decides exactly as one answered from the whole facts:
    /// warm, after approvals (folded in), and never after a merge or deploy (full path).
    #[test]
    fn the_slice_decides_as_the_whole_facts_do() {
        use crate::keys::Signer;
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "test.example/slice", false)
            .unwrap()
            .with_state(crate::ledger::view::StateLocation::Dir(
                dir.path().join("state"),
            ));
        let root = Signer::generate().unwrap();
        let rev = Signer::generate().unwrap();
        let rec = crate::ledger::Recorder::new(&l, Some(&root));
        rec.add_key_for(&root.public(), None, Some("dev0"), "k")
            .unwrap();
        rec.add_key_for(&rev.public(), None, Some("rev"), "k")
            .unwrap();
        let git = Signer::generate().unwrap();
        rec.add_git_signer_key(&git.public(), "dev0", "k").unwrap();
        rec.record((0..60).map(draft).collect()).unwrap();
        let approve = |signer: &Signer, subject: &str| {
            crate::ledger::Recorder::new(&l, Some(signer))
                .record(vec![Draft {
                    kind: Kind::Approval,
                    actor: "whoever".into(),
                    body: json!({"subject": subject, "source_commit": subject, "decision": "allow", "reasons": ["ok"]}),
                }])
                .unwrap();
        };
        approve(&rev, "S1");
        approve(&root, "S1");
        let p = Policy::from_toml(
            "window_hours = 0\n[default]\nmin_score = 0.4\napprovals = 1\n[[gates]]\nname = \"x\"\npaths = [\"src/**\"]\nscope = \"paths\"\nmin_score = 0.3",
        )
        .unwrap();
        let now = crate::trust::model::ts_ms(&crate::ledger::entry::now_ts()).unwrap() + 1000;
        let check = |want: CacheStatus| {
            for author in ["dev0", "dev1", "rev", "nobody"] {
                for subject in ["S1", "S2"] {
                    let paths = vec!["src/x.rs".to_string(), "README".to_string()];
                    let (full, _) = load(&l, &p).unwrap();
                    let change = crate::trust::gate::ChangeRef {
                        source_commit: Some(subject.to_string()),
                        ..Default::default()
                    };
                    let keys =
                        crate::trust::model::change_keys(author, &paths, Some(subject), None, None);
                    let a = crate::trust::evaluate(
                        &full.facts,
                        &p,
                        author,
                        &paths,
                        subject,
                        &change,
                        now,
                    )
                    .unwrap();
                    let (facts, status) = query(&l, &p, author, &keys).unwrap().unwrap();
                    assert_eq!(status, want, "{author} {subject}");
                    assert_eq!(facts.git_signers, full.facts.git_signers);
                    assert_eq!(full.facts.git_signer_identity_at(git.id(), 3), Some("dev0"));
                    let b =
                        crate::trust::evaluate(&facts, &p, author, &paths, subject, &change, now)
                            .unwrap();
                    assert_eq!(a, b, "{author} {subject}");
                }
            }
        };
        assert_eq!(load(&l, &p).unwrap().1, CacheStatus::Cold);
        check(CacheStatus::Warm);
        // New approvals (one counts, one is unsigned and counts for nobody) are folded in.
        approve(&rev, "S2");
        crate::ledger::Recorder::new(&l, None)
            .record(vec![Draft {
                kind: Kind::Approval,
                actor: "rev".into(),
                body: json!({"subject": "S2", "source_commit": "S2", "decision": "allow", "reasons": []}),
            }])
            .unwrap();
        check(CacheStatus::Extended(2));
        // A merge after the slice: the full path answers.
        crate::ledger::Recorder::new(&l, None)
            .record(vec![draft(60)])
            .unwrap();
        assert!(query(&l, &p, "dev0", &["commit:S1".to_string()])
            .unwrap()
            .is_none());
    }

    /// The fold fed by the verified view (a first run) gives the cold fold's aggregate.
    #[test]
    fn the_tapped_fold_is_the_cold_fold() {
        let (d, l, p) = ledger(90);
        let state = crate::ledger::view::ViewOptions {
            state: crate::ledger::view::StateLocation::Dir(d.path().join("tap-state")),
            root_key: None,
        };
        let mut tap = Tap::new(&p);
        let view = crate::ledger::view::View::open_tapped(&l, &state, &mut |_, _| {}, &mut |t| {
            tap.line(t)
        })
        .unwrap();
        assert_eq!(view.checked, 90);
        let tapped = tap
            .finish(view.size, view.bytes, view.head.unwrap())
            .unwrap();
        let (cold, _) = cold(&l, &p, view.bytes).unwrap();
        assert_eq!(tapped, cold);
    }

    /// On a signed ledger the tap passes over approvals whose signer has no identity without
    /// reading them: the fold still equals the cold one, which reads every line.
    #[test]
    fn the_tapped_fold_counts_approvals_as_the_cold_fold_does() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "test.example/trust", false)
            .unwrap()
            .with_state(crate::ledger::view::StateLocation::Dir(
                dir.path().join("state"),
            ));
        let root = crate::keys::Signer::generate().unwrap();
        let alice = crate::keys::Signer::generate().unwrap();
        let by_root = crate::ledger::Recorder::new(&l, Some(&root));
        by_root
            .add_key_for(&root.public(), Some("root"), None, "admin")
            .unwrap();
        let approval = |who: &str, subject: &str| Draft {
            kind: Kind::Approval,
            actor: who.into(),
            body: json!({"subject": subject, "change": subject, "decision": "allow", "reasons": ["ok"]}),
        };
        // Before alice's key names her, after it, and by the root key (no identity).
        by_root.record((0..30).map(draft).collect()).unwrap();
        by_root.record(vec![approval("alice", "S1")]).unwrap();
        by_root
            .add_key_for(
                &alice.public(),
                Some("alice"),
                Some("alice@example.org"),
                "admin",
            )
            .unwrap();
        let by_alice = crate::ledger::Recorder::new(&l, Some(&alice));
        by_alice
            .record(vec![approval("alice", "S1"), approval("bob", "S2")])
            .unwrap();
        by_root.record(vec![approval("alice", "S3")]).unwrap();
        by_root.record((30..45).map(draft).collect()).unwrap();
        let p = Policy::from_toml("").unwrap();
        let state = crate::ledger::view::ViewOptions {
            state: crate::ledger::view::StateLocation::Dir(dir.path().join("tap-state")),
            root_key: None,
        };
        let mut tap = Tap::new(&p);
        let view = crate::ledger::view::View::open_tapped(&l, &state, &mut |_, _| {}, &mut |t| {
            tap.line(t)
        })
        .unwrap();
        let tapped = tap
            .finish(view.size, view.bytes, view.head.unwrap())
            .unwrap();
        let (cold, _) = cold(&l, &p, view.bytes).unwrap();
        assert_eq!(tapped, cold);
        let subjects: Vec<&str> = tapped
            .facts
            .approvals
            .iter()
            .map(|a| a.subject.as_str())
            .collect();
        assert_eq!(
            subjects,
            ["S1", "S2"],
            "only alice's signed approvals count"
        );
    }

    #[test]
    fn extension_agrees_with_a_cold_fold() {
        let (_d, l, p) = ledger(40);
        assert_eq!(load(&l, &p).unwrap().1, CacheStatus::Cold);
        assert_eq!(load(&l, &p).unwrap().1, CacheStatus::Warm);
        crate::ledger::Recorder::new(&l, None)
            .record((40..50).map(draft).collect())
            .unwrap();
        let (ext, status) = load(&l, &p).unwrap();
        assert_eq!(status, CacheStatus::Extended(10));
        clear(&l).unwrap();
        let (cold, status) = load(&l, &p).unwrap();
        assert_eq!(status, CacheStatus::Cold);
        assert_eq!(ext, cold);
        assert_eq!(cold.next_seq, 50);
        assert_eq!(cold.len, std::fs::metadata(l.log_path()).unwrap().len());
    }

    /// A cache whose head is not the entry before its offset is discarded, not extended.
    #[test]
    fn extension_must_chain_to_the_cached_head() {
        let (_d, l, p) = ledger(20);
        let (mut a, _) = load(&l, &p).unwrap();
        crate::ledger::Recorder::new(&l, None)
            .record((20..25).map(draft).collect())
            .unwrap();
        a.head = [7; 32];
        let path = cache_path(&l).unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        crate::fsutil::write_atomic(&path, &encode(&a)).unwrap();
        let (b, status) = load(&l, &p).unwrap();
        assert_eq!(status, CacheStatus::Cold);
        assert_eq!(b.next_seq, 25);
    }

    /// The fold checks every line, not only those the facts are made of: an event line whose
    /// data was changed after it was hashed fails the load, at its line.
    #[test]
    fn fold_checks_lines_it_does_not_use() {
        let (_d, l, p) = ledger(9);
        let path = l.log_path();
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = text.replacen("\"data\":{\"i\":5}", "\"data\":{\"i\":6}", 1);
        assert_ne!(bad, text);
        std::fs::write(&path, bad).unwrap();
        let err = load(&l, &p).unwrap_err();
        let (_, f) = err.verify_failure().expect("a verification failure");
        assert_eq!(
            (f.line, f.seq, f.code),
            (Some(6), Some(5), "bad-hash"),
            "{err}"
        );
    }
}
