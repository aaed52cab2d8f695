//! The one write path ([`audit_ledger::Recorder`]): settings are read under the append lock,
//! so a handle opened earlier cannot write with a key revoked since, nor lose a key added
//! since; and every signed write refreshes the checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use audit_ledger::flow;
use audit_ledger::ledger::verify::Options;
use audit_ledger::{Draft, Error, Kind, Ledger, Recorder, Signer};
use serde_json::json;

fn event(n: u64) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: "ci".into(),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

/// A signed ledger with a root key and a second trusted key.
fn two_keys() -> (tempfile::TempDir, Signer, Signer) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "example.org/wp", true).unwrap();
    let root = Signer::generate().unwrap();
    let ci = Signer::generate().unwrap();
    for k in [&root, &ci] {
        let l = Ledger::open(&dir).unwrap();
        flow::keys::add(&Recorder::new(&l, Some(&root)), &k.public(), None, "t").unwrap();
    }
    (tmp, root, ci)
}

fn verify_ok(l: &Ledger) -> u64 {
    flow::verify::verify(l, &Options::default(), None, &mut |_, _| {})
        .unwrap()
        .summary
        .entries
}

/// Regression: the signer's trust was checked against the config read when the ledger was
/// opened, so a key revoked by another process meanwhile could still append, after which the
/// ledger was invalid for good.
#[test]
fn a_key_revoked_after_open_cannot_append() {
    let (tmp, root, ci) = two_keys();
    let dir = tmp.path().join("audit");
    let stale = Ledger::open(&dir).unwrap(); // still trusts `ci`
    let other = Ledger::open(&dir).unwrap();
    flow::keys::revoke(&Recorder::new(&other, Some(&root)), ci.id(), "t").unwrap();
    let before = std::fs::read(stale.log_path()).unwrap();
    let err = Recorder::new(&stale, Some(&ci))
        .record(vec![event(1)])
        .unwrap_err();
    assert!(
        matches!(&err, Error::UntrustedKey { key_id, .. } if key_id == ci.id()),
        "{err:?}"
    );
    assert!(err.to_string().contains("revoked"), "{err}");
    assert_eq!(std::fs::read(stale.log_path()).unwrap(), before);
    assert_eq!(verify_ok(&stale), 3);
}

/// Regression: `keys add` did its read-modify-write of config.toml outside the lock, so two
/// handles adding keys lost one of them (its entry was in the log, its record not in the
/// config, and appends with it were refused).
#[test]
fn keys_added_through_two_handles_are_both_kept() {
    let (tmp, root, _) = two_keys();
    let dir = tmp.path().join("audit");
    let a = Ledger::open(&dir).unwrap();
    let b = Ledger::open(&dir).unwrap();
    let (k1, k2) = (Signer::generate().unwrap(), Signer::generate().unwrap());
    flow::keys::add(&Recorder::new(&a, Some(&root)), &k1.public(), None, "t").unwrap();
    flow::keys::add(&Recorder::new(&b, Some(&root)), &k2.public(), None, "t").unwrap();
    let now = Ledger::open(&dir).unwrap();
    for k in [&k1, &k2] {
        assert!(
            now.config().trusted_key(k.id()).is_some(),
            "{} lost",
            k.id()
        );
        Recorder::new(&now, Some(k)).record(vec![event(2)]).unwrap();
    }
    assert_eq!(verify_ok(&now), 6);
}

/// Regression: `keys add`, `keys revoke` and `bundle create` appended without refreshing the
/// checkpoint, so DIR/checkpoint lagged behind the ledger.
#[test]
fn key_entries_refresh_the_checkpoint() {
    let (tmp, root, ci) = two_keys();
    let dir = tmp.path().join("audit");
    let size = || {
        let cp = std::fs::read_to_string(dir.join("checkpoint")).unwrap();
        cp.lines().nth(1).unwrap().parse::<u64>().unwrap()
    };
    assert_eq!(size(), 2);
    let l = Ledger::open(&dir).unwrap();
    let r = flow::keys::revoke(&Recorder::new(&l, Some(&root)), ci.id(), "t").unwrap();
    assert_eq!(r.checkpoint.unwrap().checkpoint.size, 3);
    assert_eq!(size(), 3);
}

/// A key that revokes itself writes its entry, but no longer signs the checkpoint.
#[test]
fn a_key_revoking_itself_does_not_sign_the_checkpoint() {
    let (tmp, _root, ci) = two_keys();
    let dir = tmp.path().join("audit");
    let l = Ledger::open(&dir).unwrap();
    let r = flow::keys::revoke(&Recorder::new(&l, Some(&ci)), ci.id(), "t").unwrap();
    assert_eq!(r.entries.len(), 1);
    assert!(r.checkpoint.is_none());
    assert_eq!(verify_ok(&l), 3);
}

/// Nothing is written when the body is invalid or the signature requirement is not met.
#[test]
fn refused_writes_change_nothing() {
    let (tmp, _root, ci) = two_keys();
    let l = Ledger::open(&tmp.path().join("audit")).unwrap();
    let before = std::fs::read(l.log_path()).unwrap();
    let err = Recorder::new(&l, None).record(vec![event(1)]).unwrap_err();
    assert!(matches!(err, Error::SignatureRequired), "{err:?}");
    let bad = Draft {
        kind: Kind::Deploy,
        actor: "ci".into(),
        body: json!({"env": "prod"}),
    };
    let err = Recorder::new(&l, Some(&ci))
        .record(vec![event(1), bad])
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert_eq!(std::fs::read(l.log_path()).unwrap(), before);
}
