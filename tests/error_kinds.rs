//! Library calls with bad input return the [`Error`] variant that says what went wrong, so an
//! embedder (an HTTP service, the CLI) maps errors to statuses without matching message text.
//! Each test drives one module with one kind of bad input and asserts the variant, and where
//! it matters the parameter (`what`), file, line or field the error names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use audit_ledger::bundle::{self, artifacts, sbom, CreateOptions, VerifyOptions};
use audit_ledger::checkpoint::Checkpoint;
use audit_ledger::config::Config;
use audit_ledger::drill::{self, Plan, Target};
use audit_ledger::keys::Signer;
use audit_ledger::ledger::Ledger;
use audit_ledger::merkle::{self, Leaves};
use audit_ledger::note::{self, SignerKey, VerifierKey};
use audit_ledger::trust::{self, Facts, Policy};
use audit_ledger::{git, Error};
use ed25519_dalek::SigningKey;

/// A repository with one commit of one file `f`.
fn repo_with_one_commit(at: &Path) -> PathBuf {
    let repo = at.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    run(&["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("f"), "1\n").unwrap();
    run(&["add", "f"]);
    run(&["commit", "-q", "-m", "one"]);
    repo
}

/// The `what` of an [`Error::Invalid`], or a panic naming the error.
fn invalid_what(e: &Error) -> &str {
    match e {
        Error::Invalid { what, .. } => what,
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn bundle_verify_of_a_missing_directory_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let e = bundle::verify(&tmp.path().join("nope"), &VerifyOptions::default()).unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn bundle_create_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = Ledger::init(&tmp.path().join("audit"), "test.example/errors", false).unwrap();
    let signer = Signer::generate().unwrap();
    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    let opts = |version: &str, out: &Path| CreateOptions {
        version: version.into(),
        repo: tmp.path().to_path_buf(),
        out: Some(out.to_path_buf()),
        actor: "ci".into(),
        ..CreateOptions::default()
    };

    // A bundle directory that exists is never overwritten: a conflict with the disk's state.
    let e = bundle::create(
        &audit_ledger::Recorder::new(&ledger, Some(&signer)),
        &opts("1.0.0", &taken),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");

    // A version that cannot name a bundle is a bad parameter, named without its CLI flag.
    let e = bundle::create(
        &audit_ledger::Recorder::new(&ledger, Some(&signer)),
        &opts("../x", &tmp.path().join("b")),
    )
    .unwrap_err();
    assert_eq!(invalid_what(&e), "version");
    assert!(!e.to_string().contains("--"), "{e}");

    // A signer the ledger does not trust is refused with its key id.
    let e = bundle::create(
        &audit_ledger::Recorder::new(&ledger, Some(&signer)),
        &opts("1.0.0", &tmp.path().join("b")),
    )
    .unwrap_err();
    match &e {
        Error::UntrustedKey { key_id, .. } => assert_eq!(key_id, signer.id()),
        other => panic!("expected Error::UntrustedKey, got {other:?}"),
    }
}

#[test]
fn artifact_names_given_twice_are_an_invalid_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
        std::fs::write(tmp.path().join(d).join("app"), d).unwrap();
    }
    let roots = [tmp.path().join("a/app"), tmp.path().join("b/app")];
    let e = artifacts::collect(&roots).unwrap_err();
    assert_eq!(invalid_what(&e), "artifacts");
}

#[test]
fn sboms_that_are_not_cyclonedx_are_malformed() {
    let e = sbom::check(b"not json").unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, .. } if file == "SBOM"),
        "{e:?}"
    );
    let e = sbom::check_named(br#"{"bomFormat":"SPDX"}"#, "imports/x.json").unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, .. } if file == "imports/x.json"),
        "{e:?}"
    );
    let e = sbom::lock_checksums(
        "[[package]]\nname = \"a\"\nversion = \"1\"\nsource = \"s\"\nchecksum = \"XYZ\"\n",
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, field: Some(f), .. } if file == "Cargo.lock" && f == "a 1"),
        "{e:?}"
    );
}

#[test]
fn config_errors_name_file_and_field() {
    // A `[trust]` value out of range: the section and field are named.
    let e = Policy::from_toml("half_life_days = -1\n").unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, field: Some(f), .. }
            if file == "config.toml" && f == "[trust] half_life_days"),
        "{e:?}"
    );
    // A section of the wrong type, read through the config.
    let mut cfg = Config::new("test.example/errors", false).unwrap();
    cfg.rest.insert("trust".into(), toml::Value::Integer(3));
    let e = Policy::from_config(&cfg).unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, field: Some(f), .. }
            if file == "config.toml" && f == "[trust]"),
        "{e:?}"
    );
    // A bad origin is a parameter of `Config::new` but a field of a loaded file.
    let e = Config::new(" padded ", false).unwrap_err();
    assert_eq!(invalid_what(&e), "origin");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.toml"), "origin = \"\"\n").unwrap();
    let e = Config::load(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { field: Some(f), .. } if f == "origin"),
        "{e:?}"
    );
    std::fs::write(tmp.path().join("config.toml"), "origin = [\n").unwrap();
    let e = Config::load(tmp.path()).unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
}

#[test]
fn git_revisions_unknown_are_not_found_and_non_commits_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let path = repo_with_one_commit(tmp.path());
    let repo = git::open(&path).unwrap();
    for rev in ["nope", "HEAD~9", "0000000000000000000000000000000000000000"] {
        let e = git::resolve_commit(&repo, rev).unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{rev}: {e:?}");
        let e = drill::resolve(&path, rev).unwrap_err();
        assert!(matches!(e, Error::NotFound(_)), "{rev}: {e:?}");
    }
    // A range is not a revision at all: a bad parameter, not a missing ref.
    let e = git::resolve_commit(&repo, "main..HEAD").unwrap_err();
    assert_eq!(invalid_what(&e), "rev");
    // `HEAD:f` names a blob, not a commit.
    let e = git::resolve_commit(&repo, "HEAD:f").unwrap_err();
    assert_eq!(invalid_what(&e), "rev");
    let e = drill::resolve(&path, "HEAD:f").unwrap_err();
    assert_eq!(invalid_what(&e), "rev");
    // The branch checked out in the work tree is never a merge target.
    let e = git::target_branch(&repo, "main").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    let e = git::target_branch(&repo, "nope").unwrap_err();
    assert!(matches!(e, Error::NotFound(_)), "{e:?}");
}

#[test]
fn drill_plans_with_bad_parameters_are_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = |check: &str, timeout: u64| Plan {
        repo: tmp.path().to_path_buf(),
        target: Target {
            rev: "HEAD".into(),
            commit: git2::Oid::ZERO_SHA1,
            commit_time: String::new(),
            env: None,
            deploy_seq: None,
        },
        check: check.into(),
        timeout: Duration::from_secs(timeout),
    };
    let cancel = AtomicBool::new(false);
    let e = drill::run(&plan("true", 0), &cancel).unwrap_err();
    assert_eq!(invalid_what(&e), "timeout");
    assert_eq!(e.to_string(), "timeout: must be at least 1 second");
    let e = drill::run(&plan("  ", 5), &cancel).unwrap_err();
    assert_eq!(invalid_what(&e), "check");
}

#[test]
fn notes_with_too_many_signatures() {
    let k = SignerKey::new("log.example", SigningKey::from_bytes(&[7; 32])).unwrap();
    let hundred = note::sign("x\n", &vec![&k; 100]).unwrap();
    // A 101st signature line: malformed, at line 103 (text line 1, blank line 2, then 3..=102).
    let last = hundred.lines().last().unwrap();
    let over = format!("{hundred}{last}\n");
    let e = note::parse(over.as_bytes()).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Malformed {
                line: Some(103),
                ..
            }
        ),
        "{e:?}"
    );
    let e = note::parse_named(over.as_bytes(), "audit/checkpoint").unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, .. } if file == "audit/checkpoint"),
        "{e:?}"
    );
    // Signing with 101 keys is a bad parameter; adding to a full note conflicts with it.
    let e = note::sign("x\n", &vec![&k; 101]).unwrap_err();
    assert_eq!(invalid_what(&e), "signers");
    let other = SignerKey::new("witness.example", SigningKey::from_bytes(&[8; 32])).unwrap();
    let e = note::add_signature(hundred.as_bytes(), &other).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
    // Key names and key strings.
    let e = SignerKey::new("a b", SigningKey::from_bytes(&[7; 32])).unwrap_err();
    assert_eq!(invalid_what(&e), "name");
    let e = VerifierKey::parse("no-plus-signs").unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
}

#[test]
fn checkpoint_bodies_and_proof_parameters() {
    let e = Checkpoint::parse("origin\n012\n").unwrap_err();
    assert!(
        matches!(&e, Error::Malformed { file, .. } if file == "checkpoint"),
        "{e:?}"
    );
    let leaves = [[1u8; 32], [2u8; 32]];
    let e = merkle::inclusion_proof(&mut Leaves(&leaves), 2, 2).unwrap_err();
    assert_eq!(invalid_what(&e), "index");
    let e = merkle::consistency_proof(&mut Leaves(&leaves), 1, 3).unwrap_err();
    assert_eq!(invalid_what(&e), "new");
    let e = merkle::root_from(&mut Leaves(&leaves), 3).unwrap_err();
    assert_eq!(invalid_what(&e), "size");
}

#[test]
fn key_files_are_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("k.pem");
    let s = Signer::generate().unwrap();
    s.write(&path).unwrap();
    let e = Signer::generate().unwrap().write(&path).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e:?}");
}

#[test]
fn gates_need_an_actor_and_paths() {
    let policy = Policy::from_toml("").unwrap();
    let facts = Facts::default();
    let paths = vec!["src/lib.rs".to_string()];
    let e = trust::evaluate(
        &facts,
        &policy,
        " ",
        &paths,
        "change",
        &Default::default(),
        0,
    )
    .unwrap_err();
    assert_eq!(invalid_what(&e), "actor");
    let e = trust::evaluate(
        &facts,
        &policy,
        "alice",
        &[],
        "change",
        &Default::default(),
        0,
    )
    .unwrap_err();
    assert_eq!(invalid_what(&e), "paths");
}
