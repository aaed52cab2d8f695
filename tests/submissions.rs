//! Version-2 entries: a runner's submission signed with a writer key, kept in the entry the
//! log key signs. The verifier checks the runner's signature, the writer key's trust at that
//! point of the log and the uniqueness of submission ids; a writer key can never sign an
//! entry or a checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use audit_ledger::flow;
use audit_ledger::ledger::entry::{self, Entry};
use audit_ledger::ledger::verify::Options;
use audit_ledger::ledger::Submitted;
use audit_ledger::{Draft, Error, Kind, Ledger, Recorder, Signer};
use serde_json::json;

fn event(n: u64) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: "ci/runner-1".into(),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

/// A signed ledger: a root (log) key and a writer key.
fn ledger() -> (tempfile::TempDir, Ledger, Signer, Signer) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "example.org/sub", true).unwrap();
    let root = Signer::generate().unwrap();
    let writer = Signer::generate().unwrap();
    let l = Ledger::open(&dir).unwrap();
    flow::keys::add(&Recorder::new(&l, Some(&root)), &root.public(), None, "t").unwrap();
    let l = Ledger::open(&dir).unwrap();
    Recorder::new(&l, Some(&root))
        .add_writer_key(&writer.public(), "t")
        .unwrap();
    let l = Ledger::open(&dir).unwrap();
    (tmp, l, root, writer)
}

fn verify(l: &Ledger) -> audit_ledger::Result<audit_ledger::ledger::verify::Summary> {
    flow::verify::verify(l, &Options::default(), None, &mut |_, _| {}).map(|o| o.summary)
}

fn code(e: &Error) -> String {
    match e {
        Error::Verify { failure, .. } => failure.code.to_string(),
        other => format!("{other:?}"),
    }
}

/// Append `e` signed by `log` as a raw line, as a dishonest log operator could.
fn append_raw(l: &Ledger, mut e: Entry, log: &Signer) {
    e.signer = Some(log.id().to_string());
    e.hash = entry::leaf_hash(&e.unsigned_bytes());
    e.sig = Some(log.sign(&e.signing_message()));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(l.log_path())
        .unwrap();
    let mut line = e.to_line();
    line.push(b'\n');
    f.write_all(&line).unwrap();
}

fn tail_entry(l: &Ledger) -> Entry {
    let log = std::fs::read(l.log_path()).unwrap();
    let last = log[..log.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap()
        .to_vec();
    Entry::parse_line(&last).unwrap()
}

#[test]
fn submissions_are_written_as_v2_entries_and_verify() {
    let (_tmp, l, root, writer) = ledger();
    let subs: Vec<Submitted> = (0..3)
        .map(|n| Submitted::sign(&writer, event(n), &format!("run-1.step-{n}")).unwrap())
        .collect();
    let out = Recorder::new(&l, Some(&root))
        .record_submissions(subs)
        .unwrap();
    assert!(out.refused.is_empty());
    assert_eq!(out.recorded.entries.len(), 3);
    assert!(out.recorded.checkpoint.is_some());
    let e = tail_entry(&l);
    let line = String::from_utf8(e.to_line()).unwrap();
    assert!(
        line.contains(r#","submission":{"id":"run-1.step-2","sig":""#),
        "{line}"
    );
    assert!(line.ends_with(r#","v":2}"#), "{line}");
    assert_eq!(e.signer.as_deref(), Some(root.id()));
    let s = verify(&l).unwrap();
    assert_eq!((s.entries, s.submissions), (5, 3));
}

#[test]
fn bad_submissions_are_refused_and_nothing_else_is_lost() {
    let (_tmp, l, root, writer) = ledger();
    let stranger = Signer::generate().unwrap();
    let good = Submitted::sign(&writer, event(1), "a").unwrap();
    let mut forged = Submitted::sign(&writer, event(2), "b").unwrap();
    forged.draft.body = json!({"type": "step", "data": {"n": 3}});
    let untrusted = Submitted::sign(&stranger, event(4), "c").unwrap();
    let as_key = Submitted::sign(
        &writer,
        Draft {
            kind: Kind::Key,
            actor: "x".into(),
            body: json!({"action": "add", "key_id": stranger.id(), "public_key": hex::encode(stranger.public().as_bytes())}),
        },
        "d",
    )
    .unwrap();
    let out = Recorder::new(&l, Some(&root))
        .record_submissions(vec![good, forged, untrusted, as_key])
        .unwrap();
    let refused: Vec<usize> = out.refused.iter().map(|(i, _)| *i).collect();
    assert_eq!(refused, vec![1, 2, 3], "{:?}", out.refused);
    assert_eq!(out.recorded.entries.len(), 1);
    assert_eq!(verify(&l).unwrap().submissions, 1);
}

#[test]
fn a_writer_key_signs_no_entry_and_is_never_the_first_key() {
    let (_tmp, l, _root, writer) = ledger();
    let err = Recorder::new(&l, Some(&writer))
        .record(vec![event(1)])
        .unwrap_err();
    assert!(err.to_string().contains("writer key"), "{err}");
    // Written behind the tool's back, the verifier refuses it.
    let e = Entry::seal(
        2,
        entry::now_ts(),
        Kind::Event,
        "x".into(),
        None,
        json!({"type": "t", "data": {}}),
        tail_entry(&l).hash,
    )
    .unwrap();
    append_raw(&l, e, &writer);
    assert_eq!(code(&verify(&l).unwrap_err()), "writer-signed-entry");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "example.org/w", true).unwrap();
    let l = Ledger::open(&dir).unwrap();
    let err = Recorder::new(&l, Some(&writer))
        .add_writer_key(&writer.public(), "t")
        .unwrap_err();
    assert!(err.to_string().contains("root of trust"), "{err}");
}

/// How a case alters an entry (given the writer key).
type Tamper = fn(&mut Entry, &Signer);

/// A log operator holding the log key cannot invent, alter or replay what a runner said.
#[test]
fn the_verifier_checks_what_the_runner_signed() {
    let cases: [(&str, Tamper); 4] = [
        ("bad-submission-signature", |e, _| {
            e.body = json!({"type": "step", "data": {"n": 99}});
        }),
        ("bad-submission-signature", |e, _| {
            e.ts = "2001-01-01T00:00:00.000Z".into();
        }),
        ("untrusted-submitter", |e, _| {
            let stranger = Signer::generate().unwrap();
            let s = Submitted::sign(&stranger, event(7), "z").unwrap();
            e.submission = Some(s.submission);
            e.ts = s.ts;
        }),
        ("duplicate-submission", |e, w| {
            let s = Submitted::sign(w, event(0), "first").unwrap();
            e.body = s.draft.body;
            e.ts = s.ts;
            e.submission = Some(s.submission);
        }),
    ];
    for (want, tamper) in cases {
        let (_tmp, l, root, writer) = ledger();
        let s = Submitted::sign(&writer, event(0), "first").unwrap();
        Recorder::new(&l, Some(&root))
            .record_submissions(vec![s])
            .unwrap();
        let mut e = tail_entry(&l);
        e.seq += 1;
        e.prev = e.hash;
        tamper(&mut e, &writer);
        append_raw(&l, e, &root);
        assert_eq!(code(&verify(&l).unwrap_err()), want);
    }
}

/// The submission message against vectors signed by Python's `cryptography`
/// (`tests/vectors/submission/make.py`).
#[test]
fn submission_vectors_from_an_independent_implementation() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/submission/vectors.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!("{} missing", path.display());
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let lines = v["entries"].as_array().unwrap();
    let mut n = 0;
    for line in lines {
        let line = line.as_str().unwrap();
        let e = Entry::parse_line(line.as_bytes()).unwrap_or_else(|err| panic!("{err:?}: {line}"));
        assert_eq!(e.to_line(), line.as_bytes());
        let Some(msg) = e.submission_message() else {
            continue;
        };
        n += 1;
        let want = v["messages"][e.seq.to_string()].as_str().unwrap();
        assert_eq!(std::str::from_utf8(&msg).unwrap(), want);
    }
    assert!(n >= 2);
}

/// Every case of `tests/vectors/submission/make.py` (bundles built and signed by Python's
/// `cryptography`) gets the same verdict from `ledger bundle verify`, `verify.py` and
/// `verify.sh`: the valid ones pass, each tampered one fails with exit 1.
#[test]
fn submission_cases_agree_across_the_three_bundle_verifiers() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let make = root.join("tests/vectors/submission/make.py");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/vectors/submission/vectors.json")).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (i, case) in v["cases"].as_array().unwrap().iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let dir = tmp.path().join(format!("case-{i}"));
        let out = std::process::Command::new("python3")
            .arg(&make)
            .arg("--bundle")
            .arg(&dir)
            .arg(name)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin = dir.join("signer.pub");
        let want = if case["expect"].is_null() { 0 } else { 1 };
        let runs: [(&str, std::process::Command); 3] = [
            ("ledger", {
                let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_ledger"));
                c.args(["bundle", "verify"])
                    .arg(&dir)
                    .arg("--pubkey")
                    .arg(&pin);
                c
            }),
            ("verify.py", {
                let mut c = std::process::Command::new("python3");
                c.arg(root.join("audit/verify.py"))
                    .arg("--pubkey")
                    .arg(&pin)
                    .arg(&dir);
                c
            }),
            ("verify.sh", {
                let mut c = std::process::Command::new("sh");
                c.arg(root.join("audit/verify.sh"))
                    .arg("--pubkey")
                    .arg(&pin)
                    .arg(&dir);
                c
            }),
        ];
        for (who, mut c) in runs {
            let out = c.output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(want),
                "{name}: {who}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
