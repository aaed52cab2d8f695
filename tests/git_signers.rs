//! Git-signer keys: SSH keys made by `ssh-keygen`, bound to identities by the ledger's signed
//! key history (`ledger keys add --git-signer`), and commits signed by real `git commit -S`
//! (`gpg.format=ssh`) verified in-process by `git::sshsig`, with `git verify-commit` (an
//! `allowed_signers` file written from the ledger's key history) as the independent referee.
//! A git-signer key signs nothing in the ledger: every write path refuses it and every
//! verifier refuses a ledger or bundle where it signed something.
//!
//! Needs `git` (2.34 or newer) and `ssh-keygen` (openssh-client); `.ci/run` installs both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use audit_ledger::git::sshsig::{self, CommitAuthor, GitSigner};
use audit_ledger::keys::{self, openssh};
use audit_ledger::ledger::entry::{self, Entry};
use audit_ledger::ledger::view::{StateLocation, View, ViewOptions};
use audit_ledger::ledger::Submitted;
use audit_ledger::{flow, Draft, Error, Kind, Ledger, Recorder, Signer};
use common::ssh::SshKey;
use common::{code, stderr, Env};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// SSH keys and git, as a person uses them.

impl SshKey {
    /// The key as the ledger stores it (the raw Ed25519 key of the `.pub` line).
    fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        openssh::load_public_any(&self.public).unwrap()
    }

    /// The same key as a ledger signer: the Ed25519 seed out of the OpenSSH private key file,
    /// as someone trying to sign ledger entries with their git-signer key would do.
    fn as_ledger_signer(&self) -> Signer {
        let text = std::fs::read_to_string(&self.private).unwrap();
        let key = ssh_key::PrivateKey::from_openssh(text).unwrap();
        let seed = key.key_data().ed25519().unwrap().private.to_bytes();
        Signer::new(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
}

/// `git` in `repo`, with no user or system configuration.
fn git(repo: &Path, args: &[&str]) -> Output {
    git_stdin(repo, args, &[])
}

fn git_stdin(repo: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new("git")
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", repo)
        .env_remove("GIT_DIR")
        .args([
            "-c",
            "user.name=Alice",
            "-c",
            "user.email=alice@example.org",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git must be installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn git_ok(repo: &Path, args: &[&str]) -> String {
    let out = git(repo, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A commit on HEAD, signed with `key` (`git commit -S`, gpg.format=ssh) or unsigned.
fn commit(repo: &Path, msg: &str, key: Option<&SshKey>) -> git2::Oid {
    let mut args: Vec<String> = Vec::new();
    if let Some(k) = key {
        args.extend([
            "-c".into(),
            "gpg.format=ssh".into(),
            "-c".into(),
            format!("user.signingkey={}", k.private.display()),
        ]);
    }
    args.extend([
        "commit".into(),
        "--allow-empty".into(),
        "-m".into(),
        msg.into(),
    ]);
    if key.is_some() {
        args.push("-S".into());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    git_ok(repo, &argv);
    git2::Oid::from_str(&git_ok(repo, &["rev-parse", "HEAD"])).unwrap()
}

/// The raw commit object.
fn raw(repo: &Path, oid: git2::Oid) -> String {
    git_ok(repo, &["cat-file", "commit", &oid.to_string()]) + "\n"
}

/// Write `object` as a commit object; its id.
fn write_commit(repo: &Path, object: &str) -> git2::Oid {
    let out = git_stdin(
        repo,
        &["hash-object", "-t", "commit", "-w", "--stdin"],
        object.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git2::Oid::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap()
}

/// `object` (an unsigned commit) with a `gpgsig` header holding `armor`.
fn with_gpgsig(object: &str, armor: &str) -> String {
    let (headers, message) = object.split_once("\n\n").unwrap();
    let folded = armor.trim_end().replace('\n', "\n ");
    format!("{headers}\ngpgsig {folded}\n\n{message}")
}

/// What `git verify-commit` says with an allowed_signers file of `signers`: its exit status
/// and stderr.
fn git_verify(repo: &Path, oid: git2::Oid, signers: &[GitSigner]) -> (bool, String) {
    let file = repo.join("..").join("allowed_signers");
    let lines: String = signers
        .iter()
        .map(|g| {
            format!(
                "{} namespaces=\"git\" {}\n",
                g.identity,
                openssh::openssh_line(&g.public)
            )
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    let out = git(
        repo,
        &[
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", file.display()),
            "verify-commit",
            &oid.to_string(),
        ],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The ledger side.

/// The verified view of the ledger in `env` (its own client state directory).
fn view(env: &Env, state: &str) -> View {
    let l = Ledger::open(&env.dir()).unwrap();
    let opts = ViewOptions {
        state: StateLocation::Dir(env.path().join(state)),
        root_key: None,
    };
    View::open(&l, &opts, &mut |_, _| {}).unwrap()
}

/// `ledger keys add PUB --git-signer --identity WHO`, signed by `root`; the JSON answer.
fn add_git_signer(env: &Env, root: &Path, public: &Path, who: &str) -> Value {
    let out = env.ok(&[
        "--json",
        "--key",
        root.to_str().unwrap(),
        "keys",
        "add",
        public.to_str().unwrap(),
        "--git-signer",
        "--identity",
        who,
    ]);
    serde_json::from_str(&out).unwrap()
}

fn verify_code(l: &Ledger) -> String {
    match flow::verify::verify(l, &Default::default(), None, &mut |_, _| {}) {
        Ok(_) => "ok".into(),
        Err(Error::Verify { failure, .. }) => failure.code.to_string(),
        Err(other) => format!("{other:?}"),
    }
}

/// Append `e` as a raw line, hash and signature by `by`: what someone holding that key could
/// write into the file, bypassing `ledger`.
fn append_raw(l: &Ledger, mut e: Entry, by: &Signer) {
    e.signer = Some(by.id().to_string());
    e.hash = entry::leaf_hash(&e.unsigned_bytes());
    e.sig = Some(by.sign(&e.signing_message()));
    let mut line = e.to_line();
    line.push(b'\n');
    std::fs::OpenOptions::new()
        .append(true)
        .open(l.log_path())
        .unwrap()
        .write_all(&line)
        .unwrap();
}

fn tail_entry(l: &Ledger) -> Entry {
    let log = std::fs::read(l.log_path()).unwrap();
    let last = log[..log.len() - 1].rsplit(|&b| b == b'\n').next().unwrap();
    Entry::parse_line(last).unwrap()
}

fn event(n: u64) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: "ci".into(),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

// ---------------------------------------------------------------------------------------------

/// The whole path: keys from ssh-keygen bound in the ledger, commits from `git commit -S`,
/// in-process verification, and `git verify-commit` agreeing on every case.
#[test]
fn signed_commits_verify_in_process_as_the_bound_identity_and_git_agrees() {
    let env = Env::new();
    let root = env.signed_ledger();
    let keys_dir = env.path().join("ssh");
    std::fs::create_dir_all(&keys_dir).unwrap();
    let alice = SshKey::new(&keys_dir, "alice");
    let bob = SshKey::new(&keys_dir, "bob");
    let carol = SshKey::new(&keys_dir, "carol");

    let added = add_git_signer(&env, &root, &alice.public, "alice@example.org");
    assert_eq!(added["role"], "git-signer");
    assert_eq!(added["identity"], "alice@example.org");
    assert_eq!(added["key_id"], keys::key_id(&alice.verifying_key()));
    assert_eq!(
        added["fingerprint"],
        alice.fingerprint(),
        "ssh-keygen -l agrees"
    );
    add_git_signer(&env, &root, &bob.public, "bob@example.org");
    let verified: Value = serde_json::from_str(&env.ok(&["--json", "verify"])).unwrap();
    let schema = common::schema_validator("output/verify.schema.json");
    assert!(schema.is_valid(&verified), "{verified}");
    assert_eq!(verified["keys"][1]["git_signer"], "alice@example.org");
    let listed: Value = serde_json::from_str(&env.ok(&["--json", "keys", "list"])).unwrap();
    let rows = listed["keys"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["role"], "git-signer");
    assert_eq!(rows[1]["identity"], "alice@example.org");
    assert_eq!(rows[0]["role"], "ledger");

    let v = view(&env, "state-a");
    let signers = v.git_signers();
    assert_eq!(signers.len(), 2);
    assert_eq!(signers[0].identity, "alice@example.org");
    assert_eq!(signers[0].public, alice.verifying_key());

    let repo = env.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git_ok(&repo, &["init", "-q"]);
    let r = git2::Repository::open(&repo).unwrap();
    let by_alice = commit(&repo, "alice's change", Some(&alice));
    let unsigned = commit(&repo, "nobody's change", None);
    let by_carol = commit(&repo, "carol's change", Some(&carol));
    let by_bob = commit(&repo, "bob's change", Some(&bob));

    // A commit rewritten after signing: the old gpgsig header over a changed message.
    let tampered = write_commit(
        &repo,
        &raw(&repo, by_alice).replace("alice's change", "alice's change, and a backdoor"),
    );
    // The signature itself damaged: one base64 character of the Ed25519 signature changed.
    let mut lines: Vec<String> = raw(&repo, by_alice).lines().map(str::to_string).collect();
    let end = lines
        .iter()
        .position(|l| l == " -----END SSH SIGNATURE-----")
        .unwrap();
    let last = &mut lines[end - 1];
    let c = if last.as_bytes()[6] == b'A' { "B" } else { "A" };
    last.replace_range(6..7, c);
    let bad_sig = write_commit(&repo, &(lines.join("\n") + "\n"));
    // A valid SSH signature of alice over the very same bytes, made for another namespace.
    let plain = raw(&repo, unsigned);
    let msg_file = env.path().join("payload");
    std::fs::write(&msg_file, &plain).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "file", "-f"])
        .arg(&alice.private)
        .arg(&msg_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let armor = std::fs::read_to_string(format!("{}.sig", msg_file.display())).unwrap();
    let other_namespace = write_commit(&repo, &with_gpgsig(&plain, &armor));
    // The same signature made for namespace git over those bytes verifies: the construction of
    // `with_gpgsig` is sound, so the case above fails for its namespace only.
    std::fs::remove_file(format!("{}.sig", msg_file.display())).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "git", "-f"])
        .arg(&alice.private)
        .arg(&msg_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let armor = std::fs::read_to_string(format!("{}.sig", msg_file.display())).unwrap();
    let hand_signed = write_commit(&repo, &with_gpgsig(&plain, &armor));
    // An OpenPGP signature header.
    let pgp = write_commit(
        &repo,
        &with_gpgsig(
            &plain,
            "-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEE\n-----END PGP SIGNATURE-----\n",
        ),
    );

    let alice_ok = CommitAuthor::Verified {
        identity: "alice@example.org".into(),
        key_id: keys::key_id(&alice.verifying_key()),
    };
    let check = |oid| sshsig::verify_commit(&r, oid, &signers).unwrap();
    assert_eq!(check(by_alice), alice_ok);
    assert_eq!(check(hand_signed), alice_ok);
    assert_eq!(check(unsigned), CommitAuthor::Unsigned);
    assert_eq!(
        check(by_carol),
        CommitAuthor::UnknownKey {
            fingerprint: carol.fingerprint()
        }
    );
    match check(by_bob) {
        CommitAuthor::Verified { identity, .. } => assert_eq!(identity, "bob@example.org"),
        other => panic!("{other:?}"),
    }
    for (name, oid, why) in [
        ("tampered commit", tampered, "does not verify"),
        ("tampered signature", bad_sig, ""),
        ("other namespace", other_namespace, "namespace"),
    ] {
        match check(oid) {
            CommitAuthor::BadSignature(r) => assert!(r.contains(why), "{name}: {r}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(check(pgp), CommitAuthor::NotSsh);
    // A commit that is not in the repository is an error, not an outcome.
    assert!(sshsig::verify_commit(&r, git2::Oid::from_bytes(&[9; 20]).unwrap(), &signers).is_err());

    // git itself, with an allowed_signers file written from the ledger's key history, agrees.
    for (oid, good) in [
        (by_alice, true),
        (hand_signed, true),
        (by_bob, true),
        (unsigned, false),
        (by_carol, false),
        (tampered, false),
        (bad_sig, false),
        (other_namespace, false),
    ] {
        let (ok, said) = git_verify(&repo, oid, &signers);
        let ours = check(oid);
        assert_eq!(ok, good, "git verify-commit {oid}: {said}");
        assert_eq!(
            matches!(ours, CommitAuthor::Verified { .. }),
            ok,
            "{oid}: {ours:?} / {said}"
        );
        if let CommitAuthor::Verified { identity, .. } = ours {
            assert!(
                said.contains(&format!("signature for {identity}")),
                "{said}"
            );
        }
    }

    // Bob's key revoked: his commits speak for nobody from then on; before, they did.
    let bob_id = keys::key_id(&bob.verifying_key());
    env.ok(&["--key", root.to_str().unwrap(), "keys", "revoke", &bob_id]);
    env.ok(&["verify"]);
    let v2 = view(&env, "state-a");
    let now = v2.git_signers();
    assert_eq!(now.len(), 1);
    assert!(matches!(
        sshsig::verify_commit(&r, by_bob, &now).unwrap(),
        CommitAuthor::UnknownKey { .. }
    ));
    assert!(!git_verify(&repo, by_bob, &now).0);
    let before = GitSigner::trusted_at(&v2.keys, v2.size - 1);
    assert_eq!(before.len(), 2, "trusted up to its revocation");
    // The trust fold learned the same.
    let l = Ledger::open(&env.dir()).unwrap();
    let (_, agg, _) = audit_ledger::trust::load(&l).unwrap();
    let facts = &agg.facts;
    assert_eq!(facts.git_signers.len(), 2);
    assert_eq!(
        facts.git_signer_identity_at(&bob_id, 3),
        Some("bob@example.org")
    );
    assert_eq!(facts.git_signer_identity_at(&bob_id, v2.size), None);
    assert_eq!(
        facts
            .git_signers_at(v2.size)
            .map(|g| g.identity.as_str())
            .collect::<Vec<_>>(),
        ["alice@example.org"]
    );
    assert_eq!(
        facts.identity_of(&keys::key_id(&alice.verifying_key())),
        None
    );
}

/// `keys add --git-signer`: what it accepts and refuses.
#[test]
fn keys_add_git_signer_takes_ed25519_ssh_keys_only() {
    let env = Env::new();
    let root = env.signed_ledger();
    let k = root.to_str().unwrap();
    let dir = env.path().join("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let before = env.read_log();
    for (name, kind, named) in [
        ("ec", &["-t", "ecdsa"][..], "ecdsa-sha2-nistp256"),
        ("rsa", &["-t", "rsa", "-b", "2048"][..], "ssh-rsa"),
    ] {
        let key = SshKey::of_type(&dir, name, kind);
        let out = env.run(&[
            "--key",
            k,
            "keys",
            "add",
            key.public.to_str().unwrap(),
            "--git-signer",
            "--identity",
            "x@example.org",
        ]);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{err}");
        assert!(err.contains(named) && err.contains("ssh-ed25519"), "{err}");
    }
    let alice = SshKey::new(&dir, "alice");
    let p = alice.public.to_str().unwrap();
    // --identity is required; an identity with surrounding spaces is refused.
    let out = env.run(&["--key", k, "keys", "add", p, "--git-signer"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    let out = env.run(&[
        "--key",
        k,
        "keys",
        "add",
        p,
        "--git-signer",
        "--identity",
        " a ",
    ]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert_eq!(env.read_log(), before, "nothing written");
    // The project's own hex .pub works too, and the entry is what the format says.
    let hex_pub = env.path().join("alice.hex.pub");
    std::fs::write(
        &hex_pub,
        format!("{}\n", hex::encode(alice.verifying_key().as_bytes())),
    )
    .unwrap();
    let human = env.ok(&[
        "--key",
        k,
        "keys",
        "add",
        hex_pub.to_str().unwrap(),
        "--git-signer",
        "--identity",
        "alice@example.org",
    ]);
    assert!(
        human.contains("git-signer key") && human.contains("alice@example.org"),
        "{human}"
    );
    let l = Ledger::open(&env.dir()).unwrap();
    let e = tail_entry(&l);
    assert_eq!(
        e.body,
        json!({"action": "add-git-signer", "identity": "alice@example.org",
               "key_id": keys::key_id(&alice.verifying_key()),
               "public_key": hex::encode(alice.verifying_key().as_bytes())})
    );
    // Added once; config.toml does not list it (it signs nothing for the ledger).
    let out = env.run(&[
        "--key",
        k,
        "keys",
        "add",
        p,
        "--git-signer",
        "--identity",
        "a@b",
    ]);
    assert_ne!(code(&out), Some(0));
    let config = std::fs::read_to_string(env.dir().join("config.toml")).unwrap();
    assert!(
        !config.contains(&keys::key_id(&alice.verifying_key())),
        "{config}"
    );
    env.ok(&["verify"]);

    // The first key of a ledger cannot be a git-signer key.
    let fresh = tempfile::tempdir().unwrap();
    Ledger::init(fresh.path(), "example.org/first", true).unwrap();
    let l = Ledger::open(fresh.path()).unwrap();
    let as_signer = alice.as_ledger_signer();
    let err = Recorder::new(&l, Some(&as_signer))
        .add_git_signer_key(&as_signer.public(), "alice@example.org", "t")
        .unwrap_err();
    assert!(err.to_string().contains("root of trust"), "{err}");
}

/// A git-signer key signs nothing in the ledger: the write paths refuse it, and a line it
/// signed anyway (written into the file by hand) fails `ledger verify`.
#[test]
fn a_git_signer_key_signs_nothing_in_the_ledger() {
    let env = Env::new();
    let root = env.signed_ledger();
    env.fill(&root, 3);
    let dir = env.path().join("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let alice = SshKey::new(&dir, "alice");
    add_git_signer(&env, &root, &alice.public, "alice@example.org");
    // Alice's SSH key, converted to the ledger's key file format.
    let alice_key = env.path().join("alice-as-ledger.key");
    let signer = alice.as_ledger_signer();
    assert_eq!(signer.public(), alice.verifying_key());
    signer.write(&alice_key).unwrap();
    let ak = alice_key.to_str().unwrap();
    let other = env.keygen("other");
    let before = env.read_log();
    for args in [
        &[
            "append",
            "event",
            "--actor",
            "alice",
            "--body",
            r#"{"type":"t","data":{}}"#,
        ][..],
        &["checkpoint"][..],
        &["keys", "add", &format!("{}.pub", other.display())][..],
    ] {
        let mut all = vec!["--key", ak];
        all.extend_from_slice(args);
        let out = env.run(&all);
        let err = stderr(&out);
        assert_ne!(code(&out), Some(0), "{args:?}");
        assert!(err.contains("git-signer"), "{args:?}: {err}");
    }
    assert_eq!(env.read_log(), before, "nothing written");
    // A runner's submission signed with it is refused by the write path.
    let l = Ledger::open(&env.dir()).unwrap();
    let root_signer = Signer::load(&root).unwrap();
    let sub = Submitted::sign(&signer, event(1), "alice-1").unwrap();
    let r = Recorder::new(&l, Some(&root_signer))
        .record_submissions(vec![sub.clone()])
        .unwrap();
    assert!(r.recorded.entries.is_empty());
    let (_, why) = &r.refused[0];
    assert!(why.to_string().contains("git-signer"), "{why}");
    assert_eq!(verify_code(&l), "ok");

    // By hand: an entry signed with the git-signer key.
    let mut e = tail_entry(&l);
    e.seq += 1;
    e.prev = e.hash;
    e.kind = Kind::Event;
    e.body = json!({"type": "t", "data": {}});
    append_raw(&l, e.clone(), &signer);
    assert_eq!(verify_code(&l), "git-signer-signed-entry");
    let out = env.run(&["verify"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("git-signer"), "{}", stderr(&out));
    std::fs::write(l.log_path(), &before).unwrap();
    // By hand: a version-2 entry carrying a submission the git-signer key signed.
    let mut e = tail_entry(&l);
    e.seq += 1;
    e.prev = e.hash;
    e.kind = Kind::Event;
    e.actor = sub.draft.actor.clone();
    e.body = sub.draft.body.clone();
    e.ts = sub.ts.clone();
    e.submission = Some(sub.submission.clone());
    append_raw(&l, e, &root_signer);
    assert_eq!(verify_code(&l), "git-signer-signed-submission");
    std::fs::write(l.log_path(), &before).unwrap();
    assert_eq!(verify_code(&l), "ok");
}

/// A release bundle proving a git-signer key entry verifies with all three verifiers; one
/// signed with the git-signer key is refused by all three.
#[test]
fn bundles_with_git_signer_keys_verify_three_ways() {
    let (env, key, dist) = common::release_ledger(3, 100);
    let k = key.to_str().unwrap();
    let dir = env.path().join("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    let alice = SshKey::new(&dir, "alice");
    let added = add_git_signer(&env, &key, &alice.public, "alice@example.org");
    let seq = added["seq"].as_u64().unwrap().to_string();
    let repo = common::git_repo(env.path());
    let create = |signer: &str, out: &Path| {
        env.run(&[
            "--key",
            signer,
            "bundle",
            "create",
            "--version",
            "1.0.0",
            "--repo",
            repo.to_str().unwrap(),
            "--artifacts",
            dist.to_str().unwrap(),
            "--entry",
            &seq,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let bundle = env.path().join("bundle");
    let out = create(k, &bundle);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let entries = std::fs::read_to_string(bundle.join("entries.jsonl")).unwrap();
    assert!(entries.contains("add-git-signer"), "{entries}");
    let pin = format!("{}.pub", key.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let verdicts = |b: &Path, pin: &str| -> Vec<Option<i32>> {
        let mut runs = [
            {
                let mut c = Command::new(common::bin());
                c.args(["bundle", "verify"]).arg(b).args(["--pubkey", pin]);
                c
            },
            {
                let mut c = Command::new("python3");
                c.arg(root.join("audit/verify.py"))
                    .args(["--pubkey", pin])
                    .arg(b);
                c
            },
            {
                let mut c = Command::new("sh");
                c.arg(root.join("audit/verify.sh"))
                    .args(["--pubkey", pin])
                    .arg(b);
                c
            },
        ];
        runs.iter_mut()
            .map(|c| c.stdin(Stdio::null()).output().unwrap().status.code())
            .collect()
    };
    assert_eq!(verdicts(&bundle, &pin), [Some(0); 3]);
    // The git-signer key as the bundle's signer: `bundle create` refuses it...
    let alice_key = env.path().join("alice-as-ledger.key");
    alice.as_ledger_signer().write(&alice_key).unwrap();
    let out = create(
        alice_key.to_str().unwrap(),
        &env.path().join("bundle-by-alice"),
    );
    assert_ne!(code(&out), Some(0));
    assert!(stderr(&out).contains("git-signer"), "{}", stderr(&out));
    // ...and a bundle re-signed with it by hand is refused by all three verifiers.
    let forged = env.path().join("forged");
    copy_dir(&bundle, &forged);
    resign(
        &forged,
        &Signer::load(&key).unwrap().public(),
        &alice.as_ledger_signer(),
    );
    let alice_pin = env.path().join("alice.hex.pub");
    std::fs::write(
        &alice_pin,
        format!("{}\n", hex::encode(alice.verifying_key().as_bytes())),
    )
    .unwrap();
    assert_eq!(verdicts(&forged, alice_pin.to_str().unwrap()), [Some(1); 3]);
}

fn copy_dir(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dst = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Re-sign a bundle with `s` as its publisher would: signer.pub/.pem, the checkpoint note,
/// the DSSE statement, the manifest and its signature (`old` signed it before).
fn resign(b: &Path, old: &ed25519_dalek::VerifyingKey, s: &Signer) {
    use audit_ledger::bundle::{dsse, manifest, tlog};
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let put = |name: &str, bytes: &[u8]| std::fs::write(b.join(name), bytes).unwrap();
    put(
        "signer.pub",
        format!("{}\n", hex::encode(s.public().as_bytes())).as_bytes(),
    );
    put("signer.pem", keys::public_pem(&s.public()).as_bytes());
    let cp = tlog::verify_checkpoint(&std::fs::read(b.join("checkpoint")).unwrap(), old).unwrap();
    let note = tlog::sign_checkpoint(&cp.origin, cp.size, &cp.root, &cp.name, s).unwrap();
    put("checkpoint", note.as_ref());
    let env =
        dsse::parse_envelope(&std::fs::read(b.join("attestation.dsse.json")).unwrap()).unwrap();
    let pred = dsse::parse_statement(&env.payload).unwrap().1;
    let files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(b)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(b)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .filter(|(n, _)| n != manifest::MANIFEST && n != manifest::MANIFEST_SIG)
        .collect();
    let subjects: Vec<dsse::Subject> = files
        .iter()
        .filter(|(n, _)| n != "attestation.dsse.json")
        .map(|(n, bytes)| dsse::Subject {
            name: n.clone(),
            sha256: manifest::sha256(bytes),
        })
        .collect();
    let statement = dsse::statement(&subjects, &pred).unwrap();
    let env = dsse::envelope(&statement, s.id(), |m| s.sign(m)).unwrap();
    put("attestation.dsse.json", env.as_ref());
    let mut lines: Vec<manifest::Line> = files
        .iter()
        .map(|(p, bytes)| manifest::Line {
            path: p.clone(),
            sha256: manifest::sha256(if p == "attestation.dsse.json" {
                env.as_ref()
            } else {
                bytes
            }),
        })
        .collect();
    lines.sort_by(|x, y| x.path.cmp(&y.path));
    let m = manifest::encode(&lines).unwrap();
    put(manifest::MANIFEST, m.as_ref());
    put(
        manifest::MANIFEST_SIG,
        format!("{}\n", b64.encode(s.sign(m.as_ref()))).as_bytes(),
    );
}
