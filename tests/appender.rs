//! The long-running writer (`ledger::Appender`, the service's write path): checkpoints signed
//! in memory over the tree that was just synced, derived files brought up to date by `flush`,
//! a file that grew behind it verified before it writes, submissions checked against an older
//! key history checked again, and nothing lost when it stops without a flush.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use audit_ledger::checkpoint::Checkpoint;
use audit_ledger::flow;
use audit_ledger::ledger::recorder::check_submissions_with;
use audit_ledger::ledger::verify::Options;
use audit_ledger::ledger::{Appender, Checked, Submitted};
use audit_ledger::{Draft, Kind, Ledger, Recorder, Signer};
use serde_json::json;

fn event(n: u64) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: "ci/runner-1".into(),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

fn ledger() -> (tempfile::TempDir, Ledger, Signer, Signer) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "example.org/appender", true).unwrap();
    let root = Signer::generate().unwrap();
    let writer = Signer::generate().unwrap();
    let l = Ledger::open(&dir).unwrap();
    flow::keys::add(&Recorder::new(&l, Some(&root)), &root.public(), None, "t").unwrap();
    let l = Ledger::open(&dir).unwrap();
    Recorder::new(&l, Some(&root))
        .add_writer_key(&writer.public(), "t")
        .unwrap();
    (tmp, Ledger::open(&dir).unwrap(), root, writer)
}

fn summary(l: &Ledger) -> audit_ledger::ledger::verify::Summary {
    let opts = Options {
        collect_leaves: true,
        ..Options::default()
    };
    flow::verify::verify(l, &opts, None, &mut |_, _| {})
        .unwrap()
        .summary
}

/// Submissions checked against the ledger's key history as it is now.
fn checked(l: &Ledger, writer: &Signer, from: u64, n: u64) -> Vec<Checked> {
    let keys: std::sync::Arc<[_]> = summary(l).keys.into();
    let subs: Vec<Submitted> = (from..from + n)
        .map(|i| Submitted::sign(writer, event(i), &format!("run.{i}")).unwrap())
        .collect();
    check_submissions_with(&keys, subs)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// The note opens with the log key and its root is the root of the verified entries.
fn check_note(l: &Ledger, note: &str, log: &Signer, size: u64) {
    let parsed = audit_ledger::note::parse(note.as_bytes()).unwrap();
    let v = audit_ledger::note::verifiers_for_public(&parsed, &log.public());
    assert!(!v.is_empty(), "the note is not signed by the log key");
    let opened = audit_ledger::checkpoint::open(note.as_bytes(), &v).unwrap();
    let s = summary(l);
    assert_eq!(opened.checkpoint().size, size);
    assert_eq!(s.entries, size);
    assert_eq!(
        opened.checkpoint().root,
        audit_ledger::merkle::root(&s.leaves),
        "the signed root is not the root of the ledger's entries"
    );
}

#[test]
fn appends_are_durable_and_the_checkpoint_in_memory_is_the_one_flushed() {
    let (_tmp, l, root, writer) = ledger();
    let before = std::fs::read(l.dir().join("checkpoint")).unwrap();
    let mut app = Appender::open(&l, &root).unwrap();
    let mut last = None;
    for round in 0..3 {
        let out = app.append(checked(&l, &writer, round * 10, 10)).unwrap();
        assert!(out.refused.is_empty());
        assert_eq!(out.entries.len(), 10);
        assert_eq!(out.lines.len(), 10);
        // The lines handed back are the bytes in the file.
        let file = std::fs::read_to_string(l.log_path()).unwrap();
        for line in &out.lines {
            assert!(file.contains(&format!("{line}\n")));
        }
        let (note, cp) = out.checkpoint.unwrap();
        check_note(&l, &note, &root, 2 + (round + 1) * 10);
        last = Some((note, cp));
    }
    // Nothing derived was written yet: the checkpoint beside the ledger lags.
    assert_eq!(std::fs::read(l.dir().join("checkpoint")).unwrap(), before);
    assert!(app.dirty());
    let issued = app.flush().unwrap().expect("a checkpoint written");
    let (note, cp): (String, Checkpoint) = last.unwrap();
    assert_eq!(issued.checkpoint, cp);
    assert_eq!(issued.note, note, "Ed25519 is deterministic: the same note");
    assert_eq!(
        std::fs::read_to_string(l.dir().join("checkpoint")).unwrap(),
        note
    );
    assert!(!app.dirty());
    assert!(app.flush().unwrap().is_none());
    // The CLI path writes on top of it as usual.
    Recorder::new(&l, Some(&root))
        .record(vec![event(99)])
        .unwrap();
    assert_eq!(summary(&l).entries, 33);
}

#[test]
fn a_file_grown_behind_the_appender_is_verified_before_it_writes() {
    let (_tmp, l, root, writer) = ledger();
    let mut app = Appender::open(&l, &root).unwrap();
    let first = app.append(checked(&l, &writer, 0, 2)).unwrap();
    assert!(!first.caught_up);
    // Another process appends in between.
    Recorder::new(&l, Some(&root))
        .record(vec![event(50)])
        .unwrap();
    let out = app.append(checked(&l, &writer, 2, 2)).unwrap();
    assert!(out.caught_up);
    assert_eq!(out.entries[0].seq, 5);
    let (note, _) = out.checkpoint.unwrap();
    check_note(&l, &note, &root, 7);
}

#[test]
fn a_submission_checked_against_an_older_key_history_is_checked_again() {
    let (_tmp, l, root, writer) = ledger();
    let stale = checked(&l, &writer, 0, 3);
    let mut app = Appender::open(&l, &root).unwrap();
    // The writer key is revoked after the submissions were checked, before they are written.
    flow::keys::revoke(&Recorder::new(&l, Some(&root)), writer.id(), "t").unwrap();
    let out = app.append(stale).unwrap();
    assert!(out.caught_up);
    assert!(out.entries.is_empty(), "nothing written by a revoked key");
    assert_eq!(out.refused.len(), 3);
    for (_, e) in &out.refused {
        assert!(e.to_string().contains("not trusted"), "{e}");
    }
    assert_eq!(summary(&l).submissions, 0);
}

#[test]
fn stopping_without_a_flush_loses_no_entry() {
    let (_tmp, l, root, writer) = ledger();
    {
        let mut app = Appender::open(&l, &root).unwrap();
        app.append(checked(&l, &writer, 0, 5)).unwrap();
        app.append(checked(&l, &writer, 5, 5)).unwrap();
        // Dropped here as a killed process would leave it: no flush.
    }
    let s = summary(&l);
    assert_eq!(s.entries, 12);
    assert_eq!(s.submissions, 10);
    // The next writer signs a checkpoint of everything.
    let mut app = Appender::open(&l, &root).unwrap();
    let out = app.append(checked(&l, &writer, 10, 1)).unwrap();
    check_note(&l, &out.checkpoint.unwrap().0, &root, 13);
    app.flush().unwrap();
    let cp = std::fs::read_to_string(l.dir().join("checkpoint")).unwrap();
    check_note(&l, &cp, &root, 13);
}
