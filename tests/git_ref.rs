//! The ledger on a git ref (docs/git.md): many writers racing over `file://` and over
//! `git daemon` on loopback, writers killed mid-sync, and a remote that lies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use audit_ledger::git::refstore;
use common::{bin, code, stderr, Rng};
use serde_json::Value;

const REF: &str = "refs/audit/ledger";

/// A bare repository, an admin directory that created the ref, and writer keys.
struct Fleet {
    tmp: tempfile::TempDir,
    remote: String,
    keys: Vec<PathBuf>,
    /// Entries the admin published before the writers started.
    setup: u64,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "mallory")
        .env("GIT_AUTHOR_EMAIL", "mallory@example.org")
        .env("GIT_COMMITTER_NAME", "mallory")
        .env("GIT_COMMITTER_EMAIL", "mallory@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Fleet {
    fn new(writers: usize) -> Fleet {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("remote.git");
        git(
            tmp.path(),
            &["init", "-q", "--bare", bare.to_str().unwrap()],
        );
        let mut f = Fleet {
            remote: bare.display().to_string(),
            tmp,
            keys: Vec::new(),
            setup: 0,
        };
        f.ok(
            "admin",
            &[
                "init",
                "--origin",
                "git.example/app",
                "--require-signatures",
            ],
        );
        for i in 0..writers {
            let k = f.path().join(format!("w{i}.key"));
            f.ok(
                "admin",
                &[
                    "keygen",
                    "--name",
                    &format!("w{i}"),
                    "--out",
                    k.to_str().unwrap(),
                ],
            );
            f.keys.push(k);
        }
        for i in 0..writers {
            let pubk = format!("{}.pub", f.keys[i].display());
            f.ok(
                "admin",
                &["--key", f.keys[0].to_str().unwrap(), "keys", "add", &pubk],
            );
        }
        let remote = f.remote.clone();
        f.ok(
            "admin",
            &[
                "--key",
                f.keys[0].to_str().unwrap(),
                "sync",
                "--git",
                &remote,
            ],
        );
        f.setup = writers as u64;
        f
    }

    fn path(&self) -> &Path {
        self.tmp.path()
    }

    fn cmd(&self, who: &str, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(self.path())
            .env_remove("LEDGER_SIGNING_KEY")
            .env_remove("LEDGER_DIR")
            .env_remove("LEDGER_STATE")
            .env_remove("LEDGER_ROOT_KEY")
            .env("XDG_STATE_HOME", self.path().join("state").join(who))
            .arg("--dir")
            .arg(self.path().join(who))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, who: &str, args: &[&str]) -> Output {
        self.cmd(who, args).output().unwrap()
    }

    fn ok(&self, who: &str, args: &[&str]) -> String {
        let out = self.run(who, args);
        assert_eq!(code(&out), Some(0), "{who} {args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `append event --git` by writer `w` (key `w`), data `{"w":w,"n":n}`.
    fn append_args(&self, remote: &str, w: usize, n: usize) -> Vec<String> {
        vec![
            "--json".into(),
            "--key".into(),
            self.keys[w].display().to_string(),
            "append".into(),
            "event".into(),
            "--actor".into(),
            format!("w{w}"),
            "--type".into(),
            "race".into(),
            "--data".into(),
            format!("{{\"w\":{w},\"n\":{n}}}"),
            "--git".into(),
            remote.to_string(),
            "--attempts".into(),
            "10000".into(),
            "--retry-for".into(),
            "600".into(),
        ]
    }

    /// The ref as an ordinary directory (verified by `export`), its entries parsed.
    fn export(&self, name: &str) -> Vec<Value> {
        let out = self.path().join(name);
        let remote = self.remote.clone();
        self.ok(
            "admin",
            &["export", "--git", &remote, "--out", out.to_str().unwrap()],
        );
        let text = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn head(&self) -> String {
        git(self.path(), &["--git-dir", &self.remote, "rev-parse", REF])
    }
}

/// An acknowledged append: who, which, and the seq and hash printed.
#[derive(Debug, Clone)]
struct Ack {
    w: usize,
    n: usize,
    seq: u64,
    hash: String,
}

fn ack_of(out: &Output, w: usize, n: usize) -> Ack {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["entries"][0];
    Ack {
        w,
        n,
        seq: e["seq"].as_u64().unwrap(),
        hash: e["hash"].as_str().unwrap().to_string(),
    }
}

/// Every acknowledged entry is on the ref at its seq with its hash; each (w, n) is there at
/// most once; the seqs are 0..len. Returns the (w, n) present.
fn check_ref(entries: &[Value], acks: &[Ack]) -> BTreeSet<(usize, usize)> {
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"].as_u64(), Some(i as u64));
    }
    let mut seen = BTreeMap::new();
    for e in entries.iter().filter(|e| e["kind"] == "event") {
        let d = &e["body"]["data"];
        let key = (
            d["w"].as_u64().unwrap() as usize,
            d["n"].as_u64().unwrap() as usize,
        );
        if let Some(prev) = seen.insert(key, e["seq"].as_u64().unwrap()) {
            panic!("{key:?} is on the ref twice: seq {prev} and {}", e["seq"]);
        }
    }
    for a in acks {
        let e = &entries[a.seq as usize];
        assert_eq!(
            e["hash"].as_str(),
            Some(a.hash.as_str()),
            "acknowledged {a:?}"
        );
        assert_eq!(seen.get(&(a.w, a.n)), Some(&a.seq), "acknowledged {a:?}");
    }
    seen.into_keys().collect()
}

/// `writers` threads, each running `per` appends one after another against `remote`.
fn race(f: &Arc<Fleet>, remote: &str, writers: usize, per: usize) -> Vec<Ack> {
    let acks = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let f = Arc::clone(f);
            let acks = Arc::clone(&acks);
            let remote = remote.to_string();
            std::thread::spawn(move || {
                for n in 0..per {
                    let args = f.append_args(&remote, w, n);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let out = f.run(&format!("w{w}"), &args);
                    assert_eq!(code(&out), Some(0), "w{w} #{n}: {}", stderr(&out));
                    acks.lock().unwrap().push(ack_of(&out, w, n));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = acks.lock().unwrap().clone();
    v
}

#[test]
fn eight_writers_race_over_file_and_none_is_lost_or_doubled() {
    let f = Arc::new(Fleet::new(8));
    let remote = format!("file://{}", f.remote);
    let acks = race(&f, &remote, 8, 100);
    assert_eq!(acks.len(), 800);
    let entries = f.export("out");
    assert_eq!(entries.len() as u64, f.setup + 800);
    let present = check_ref(&entries, &acks);
    assert_eq!(present.len(), 800);
    // A writer's directory is a verified copy of the ref, and `verify` agrees.
    f.ok("w3", &["sync", "--git", &remote]);
    f.ok("w3", &["verify"]);
    let w3 = std::fs::read(f.path().join("w3/ledger.jsonl")).unwrap();
    assert_eq!(
        w3,
        std::fs::read(f.path().join("out/ledger.jsonl")).unwrap()
    );
    // The export is an ordinary ledger: a release bundle made from it, proving group-committed
    // (version-2) entries, checks with all three verifiers.
    three_verifiers_accept_a_bundle_of(&f, "out", &[f.setup + 1, f.setup + 400, f.setup + 799]);
    // The ref's history is one chain of commits, one per push.
    let commits = git(
        f.path(),
        &["--git-dir", &f.remote, "rev-list", "--count", REF],
    );
    let merges = git(
        f.path(),
        &[
            "--git-dir",
            &f.remote,
            "rev-list",
            "--merges",
            "--count",
            REF,
        ],
    );
    assert_eq!(merges, "0");
    assert!(commits.parse::<u64>().unwrap() <= 801, "{commits} commits");
    // One pack per push, merged as they accumulate: a few dozen at most, not one per push,
    // and git finds every object of the ref intact and connected.
    let packs = std::fs::read_dir(Path::new(&f.remote).join("objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".pack")
        })
        .count();
    assert!(
        packs <= refstore::MAX_PACKS + 20,
        "{packs} packs after {commits} pushes"
    );
    git(
        f.path(),
        &["--git-dir", &f.remote, "fsck", "--strict", "--no-dangling"],
    );
}

/// The pack index names read by `refstore::pack_index_names` are those `git show-index` lists.
#[test]
fn pack_index_names_match_git_show_index() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("r");
    git(tmp.path(), &["init", "-q", repo.to_str().unwrap()]);
    for i in 0..40 {
        std::fs::write(repo.join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "files"]);
    git(&repo, &["repack", "-q", "-a", "-d"]);
    let dir = repo.join(".git/objects/pack");
    let idx = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .unwrap();
    let bytes = std::fs::read(&idx).unwrap();
    let mine: BTreeSet<String> = refstore::pack_index_names(&bytes)
        .unwrap()
        .iter()
        .map(|o| o.to_string())
        .collect();
    let out = Command::new("git")
        .args(["show-index"])
        .stdin(std::fs::File::open(&idx).unwrap())
        .output()
        .unwrap();
    let theirs: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect();
    assert_eq!(mine.len(), 42, "40 blobs, a tree and a commit");
    assert_eq!(mine, theirs);
    // Cut short, or another version: no names rather than wrong ones.
    assert!(refstore::pack_index_names(&bytes[..bytes.len() / 2]).is_none());
    let mut v3 = bytes.clone();
    v3[7] = 3;
    assert!(refstore::pack_index_names(&v3).is_none());
}

/// `git daemon` on a loopback port, serving `base` with pushes enabled.
struct Daemon {
    child: std::process::Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn daemon(base: &Path) -> Daemon {
    for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                &base.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Daemon { child, port };
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("git daemon did not start");
}

#[test]
fn four_writers_race_over_git_daemon_on_loopback() {
    let f = Arc::new(Fleet::new(4));
    let d = daemon(f.path());
    let url = format!("git://127.0.0.1:{}/remote.git", d.port);
    let acks = race(&f, &url, 4, 50);
    assert_eq!(acks.len(), 200);
    let entries = f.export("out");
    assert_eq!(entries.len() as u64, f.setup + 200);
    assert_eq!(check_ref(&entries, &acks).len(), 200);
    // The same ref read over the network exports byte-identical.
    let net = f.path().join("net");
    f.ok(
        "admin",
        &["export", "--git", &url, "--out", net.to_str().unwrap()],
    );
    assert_eq!(
        std::fs::read(net.join("ledger.jsonl")).unwrap(),
        std::fs::read(f.path().join("out/ledger.jsonl")).unwrap()
    );
    drop(d);
}

#[test]
fn writers_killed_mid_sync_lose_nothing_acknowledged_and_double_nothing() {
    let f = Arc::new(Fleet::new(3));
    let remote = format!("file://{}", f.remote);
    let acks = Arc::new(Mutex::new(Vec::new()));
    let kills = Arc::new(Mutex::new(0u32));
    let threads: Vec<_> = (0..3)
        .map(|w| {
            let f = Arc::clone(&f);
            let acks = Arc::clone(&acks);
            let kills = Arc::clone(&kills);
            let remote = remote.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x5eed + w as u64);
                // Every other run is sent SIGKILL at a random moment, until ten runs of this
                // writer died of it (a run that finished first counts as acknowledged).
                let mut died = 0;
                let mut n = 0;
                while died < 10 && n < 200 {
                    let args = f.append_args(&remote, w, n);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let mut child = f
                        .cmd(&format!("w{w}"), &args)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    if n % 2 == 0 {
                        std::thread::sleep(std::time::Duration::from_millis(2 + rng.below(40)));
                        let _ = child.kill();
                    }
                    let out = child.wait_with_output().unwrap();
                    match code(&out) {
                        Some(0) => acks.lock().unwrap().push(ack_of(&out, w, n)),
                        None => {
                            died += 1;
                            *kills.lock().unwrap() += 1;
                        }
                        Some(c) => panic!("w{w} #{n}: exit {c}: {}", stderr(&out)),
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let killed = *kills.lock().unwrap();
    assert_eq!(killed, 30, "runs killed by SIGKILL");
    // The killed writers sync again: what they had queued is published, once.
    for w in 0..3 {
        f.ok(
            &format!("w{w}"),
            &[
                "--key",
                f.keys[w].to_str().unwrap(),
                "sync",
                "--git",
                &remote,
            ],
        );
        f.ok(&format!("w{w}"), &["verify"]);
    }
    let acks = acks.lock().unwrap().clone();
    let entries = f.export("out");
    let present = check_ref(&entries, &acks);
    // Every unkilled run and every killed run that got as far as queueing is there once.
    for a in &acks {
        assert!(present.contains(&(a.w, a.n)));
    }
    // Nothing is left waiting in the remote's spool.
    let spool = Path::new(&f.remote).join("ledger-spool");
    let left: Vec<_> = std::fs::read_dir(&spool)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the spool: {left:?}");
    for w in 0..3 {
        let st: Value = serde_json::from_slice(
            &std::fs::read(f.path().join(format!("w{w}/sync/state.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(st["outbox"].as_array().map(Vec::len), Some(0), "w{w}: {st}");
    }
    eprintln!("{killed} runs killed; {} entries on the ref", entries.len());
}

/// A fleet of one writer that published three entries, for the attacks.
fn attacked() -> (Fleet, String) {
    let f = Fleet::new(2);
    let remote = f.remote.clone();
    for n in 0..3 {
        let args = f.append_args(&remote, 1, n);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        f.ok("w1", &args);
    }
    (f, remote)
}

/// Writer 1 tries to append on top of what the attacker left: exit 1, its directory and the
/// ref unchanged. Returns the message.
fn refused(f: &Fleet, remote: &str) -> String {
    let before_ref = f.head();
    let before_log = std::fs::read(f.path().join("w1/ledger.jsonl")).unwrap();
    let args = f.append_args(remote, 1, 99);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = f.run("w1", &args);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert_eq!(f.head(), before_ref, "something was pushed");
    assert_eq!(
        std::fs::read(f.path().join("w1/ledger.jsonl")).unwrap(),
        before_log
    );
    // And a plain sync says the same.
    let out = f.run("w1", &["sync", "--git", remote]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    stderr(&out)
}

#[test]
fn a_force_pushed_rewrite_is_refused_naming_both_heads() {
    let (f, remote) = attacked();
    let head = f.head();
    // The newest push rewritten: same parent, the tree of the one before.
    let parent = git(
        f.path(),
        &["--git-dir", &remote, "rev-parse", &format!("{head}~1")],
    );
    let grand = git(
        f.path(),
        &["--git-dir", &remote, "rev-parse", &format!("{head}~2")],
    );
    let forged = git(
        f.path(),
        &[
            "--git-dir",
            &remote,
            "commit-tree",
            &format!("{parent}^{{tree}}"),
            "-p",
            &grand,
            "-m",
            "rewritten",
        ],
    );
    git(
        f.path(),
        &["--git-dir", &remote, "update-ref", REF, &forged],
    );
    let msg = refused(&f, &remote);
    assert!(msg.contains(&forged) && msg.contains(&head), "{msg}");
    // Rolled back to an older commit: the same.
    git(
        f.path(),
        &["--git-dir", &remote, "update-ref", REF, &parent],
    );
    let msg = refused(&f, &remote);
    assert!(msg.contains(&parent) && msg.contains(&head), "{msg}");
}

#[test]
fn a_ref_with_an_entry_removed_is_refused() {
    let (f, remote) = attacked();
    let head = f.head();
    // A new commit on top whose tree lacks the newest segment.
    let files = git(
        f.path(),
        &["--git-dir", &remote, "ls-tree", "-r", "--name-only", &head],
    );
    let last = files
        .lines()
        .rfind(|l| l.starts_with("entries/"))
        .unwrap()
        .to_string();
    let index = f.path().join("evil.index");
    let run = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(f.path())
            .env("GIT_INDEX_FILE", &index)
            .env("GIT_AUTHOR_NAME", "mallory")
            .env("GIT_AUTHOR_EMAIL", "mallory@example.org")
            .env("GIT_COMMITTER_NAME", "mallory")
            .env("GIT_COMMITTER_EMAIL", "mallory@example.org")
            .args(["--git-dir", &remote])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    run(&["read-tree", &head]);
    run(&["rm", "--cached", "-q", &last]);
    let tree = run(&["write-tree"]);
    let evil = run(&["commit-tree", &tree, "-p", &head, "-m", "tidy up"]);
    git(f.path(), &["--git-dir", &remote, "update-ref", REF, &evil]);
    let msg = refused(&f, &remote);
    assert!(msg.contains("removed") && msg.contains(&evil), "{msg}");
    // A fresh directory made from that ref does not verify either: the entries no longer
    // match the signed checkpoint.
    let out = f.run("fresh", &["sync", "--git", &remote]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
}

#[test]
fn new_entries_signed_by_an_untrusted_key_are_refused() {
    let (f, remote) = attacked();
    let head = f.head();
    let entries = f.export("before");
    let last = entries.last().unwrap();
    let prev =
        audit_ledger::ledger::entry::decode_hash_hex(last["hash"].as_str().unwrap().as_bytes())
            .unwrap();
    let seq = entries.len() as u64;
    let mallory = audit_ledger::keys::Signer::generate().unwrap();
    let mut e = audit_ledger::ledger::Entry::seal(
        seq,
        audit_ledger::ledger::entry::now_ts(),
        audit_ledger::ledger::Kind::Event,
        "mallory".into(),
        Some(mallory.id().to_string()),
        serde_json::json!({"type": "deploy-approved", "data": {}}),
        prev,
    )
    .unwrap();
    e.sig = Some(mallory.sign(&e.signing_message()));
    let mut line = e.to_line();
    line.push(b'\n');
    let repo = git2::Repository::open_bare(&remote).unwrap();
    let head_oid = git2::Oid::from_str(&head).unwrap();
    let cp = refstore::read_head(&repo, head_oid).unwrap().checkpoint;
    let built = refstore::build_commit(
        &repo,
        Some(head_oid),
        &[(seq, line)],
        &cp,
        b"",
        "mallory",
        "evil",
    )
    .unwrap();
    repo.reference(REF, built.commit, true, "evil").unwrap();
    let msg = refused(&f, &remote);
    assert!(msg.contains(&built.commit.to_string()), "{msg}");
    assert!(
        msg.contains("not trusted") || msg.contains("unknown key") || msg.contains("untrusted"),
        "{msg}"
    );
}

#[test]
fn init_writes_a_gitignore_for_derived_files() {
    let f = Fleet::new(1);
    let text = std::fs::read_to_string(f.path().join("admin/.gitignore")).unwrap();
    for name in ["ledger.idx", "trust.cache", "sync/"] {
        assert!(text.lines().any(|l| l == name), "{name} not in {text}");
    }
    assert!(!text.lines().any(|l| l == "ledger.jsonl"));
}

/// `tests/support/git_http.py`: `git http-backend` behind basic authentication on a loopback
/// port.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_server(root: &Path, user: &str, password: &str) -> HttpServer {
    use std::io::BufRead as _;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/git_http.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([root.to_str().unwrap(), user, password])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().unwrap();
    HttpServer { child, port }
}

fn askpass(dir: &Path, name: &str, password: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("#!/bin/sh\ncase \"$1\" in Username*) echo ci ;; *) echo {password} ;; esac\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn writers_push_over_smart_http_with_credentials_from_git_askpass() {
    let f = Fleet::new(2);
    let srv = http_server(f.path(), "ci", "s3cret");
    let url = format!("http://127.0.0.1:{}/remote.git", srv.port);
    let good = askpass(f.path(), "askpass.sh", "s3cret");
    let mut acks = Vec::new();
    for n in 0..5 {
        for w in 0..2 {
            let args = f.append_args(&url, w, n);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = f
                .cmd(&format!("w{w}"), &args)
                .env("GIT_ASKPASS", &good)
                .output()
                .unwrap();
            assert_eq!(code(&out), Some(0), "w{w} #{n}: {}", stderr(&out));
            acks.push(ack_of(&out, w, n));
        }
    }
    let entries = f.export("out");
    assert_eq!(entries.len() as u64, f.setup + 10);
    assert_eq!(check_ref(&entries, &acks).len(), 10);
    // A wrong password: refused by the server, exit 2, nothing pushed.
    let before = f.head();
    let bad = askpass(f.path(), "bad.sh", "guess");
    let args = f.append_args(&url, 1, 99);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = f
        .cmd("w1", &args)
        .env("GIT_ASKPASS", &bad)
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert_eq!(f.head(), before);
    drop(srv);
}

/// Make a release bundle from the exported directory `name` proving `seqs`, and check it with
/// `ledger bundle verify`, `verify.sh` and `verify.py`, pinned to the root key.
fn three_verifiers_accept_a_bundle_of(f: &Fleet, name: &str, seqs: &[u64]) {
    let repo = common::git_repo(f.path());
    let dist = f.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("app.bin"), b"app").unwrap();
    let bundle = f.path().join("bundle");
    let mut args = vec![
        "--key".to_string(),
        f.keys[0].display().to_string(),
        "bundle".into(),
        "create".into(),
        "--version".into(),
        "1.0.0".into(),
        "--repo".into(),
        repo.display().to_string(),
        "--artifacts".into(),
        dist.display().to_string(),
        "--no-record".into(),
        "--out".into(),
        bundle.display().to_string(),
    ];
    for s in seqs {
        args.push("--entry".into());
        args.push(s.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    f.ok(name, &args);
    let pubkey = format!("{}.pub", f.keys[0].display());
    let here = env!("CARGO_MANIFEST_DIR");
    let runs: [(&str, Vec<String>); 3] = [
        (
            bin(),
            vec![
                "bundle".into(),
                "verify".into(),
                bundle.display().to_string(),
                "--pubkey".into(),
                pubkey.clone(),
            ],
        ),
        (
            "sh",
            vec![
                format!("{here}/audit/verify.sh"),
                "--pubkey".into(),
                pubkey.clone(),
                bundle.display().to_string(),
            ],
        ),
        (
            "python3",
            vec![
                format!("{here}/audit/verify.py"),
                "--pubkey".into(),
                pubkey.clone(),
                bundle.display().to_string(),
            ],
        ),
    ];
    for (prog, args) in runs {
        let out = Command::new(prog).args(&args).output().unwrap();
        assert_eq!(
            code(&out),
            Some(0),
            "{prog}: {}{}",
            stderr(&out),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let proved = std::fs::read_to_string(bundle.join("entries.jsonl")).unwrap();
    assert!(
        proved.lines().any(|l| l.contains("\"v\":2")),
        "no version-2 entry in the bundle"
    );
}

#[test]
fn an_entry_written_into_the_queue_file_is_never_signed() {
    let f = Fleet::new(2);
    let d = daemon(f.path());
    let url = format!("git://127.0.0.1:{}/remote.git", d.port);
    let args = f.append_args(&url, 1, 0);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    f.ok("w1", &args);
    // Someone who can edit the directory queues an entry of their own under w1's key id.
    let path = f.path().join("w1/sync/state.json");
    let mut st: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let w1_id = {
        let pubhex = std::fs::read_to_string(format!("{}.pub", f.keys[1].display())).unwrap();
        let raw = hex::decode(pubhex.trim()).unwrap();
        hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(&raw)[..8])
    };
    st["outbox"] = serde_json::json!([{
        "id": "q-forged", "ts": "2026-12-07T00:00:00.000Z", "kind": "event", "actor": "mallory",
        "body": {"type": "approved", "data": {}}, "signer": w1_id, "sig": "00".repeat(64)
    }]);
    std::fs::write(&path, serde_json::to_vec(&st).unwrap()).unwrap();
    let out = f.run(
        "w1",
        &["--key", f.keys[1].to_str().unwrap(), "sync", "--git", &url],
    );
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dropped 1 queued"),
        "{}",
        stderr(&out)
    );
    let entries = f.export("out");
    assert!(entries.iter().all(|e| e["actor"] != "mallory"));
    assert_eq!(entries.len() as u64, f.setup + 1);
    drop(d);
}

/// `drill rollback --git`: the writer's directory is brought up to the ref, `--to last-good`
/// finds the deploy another writer published there, and the drill entry lands on the ref
/// with the SHA-256 of the report left in the writer's directory.
#[test]
fn a_drill_publishes_its_entry_on_the_ref() {
    let f = Fleet::new(2);
    let remote = format!("file://{}", f.remote);
    // The application: two commits; production runs the first.
    let app = f.path().join("app");
    std::fs::create_dir(&app).unwrap();
    git(&app, &["init", "-q", "-b", "main"]);
    let mut commits = Vec::new();
    for n in ["1", "2"] {
        std::fs::write(app.join("f"), format!("{n}\n")).unwrap();
        git(&app, &["add", "f"]);
        git(&app, &["commit", "-q", "-m", n]);
        commits.push(git(&app, &["rev-parse", "HEAD"]));
    }
    let k0 = f.keys[0].to_str().unwrap().to_string();
    let k1 = f.keys[1].to_str().unwrap().to_string();
    f.ok(
        "deployer",
        &[
            "--key",
            &k0,
            "append",
            "deploy",
            "--actor",
            "ci/deploy",
            "--env",
            "production",
            "--version",
            "v1",
            "--commit",
            &commits[0],
            "--status",
            "succeeded",
            "--git",
            &remote,
        ],
    );
    let app_s = app.to_str().unwrap().to_string();
    let out = f.run(
        "driller",
        &[
            "--json",
            "--key",
            &k1,
            "drill",
            "rollback",
            "--repo",
            &app_s,
            "--env",
            "production",
            "--to",
            "last-good",
            "--check",
            "test \"$(cat f)\" = 1",
            "--git",
            &remote,
        ],
    );
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"], "pass");
    assert_eq!(v["git"], true);
    let entries = f.export("after-drill");
    let last = entries.last().unwrap();
    assert_eq!(last["kind"], "drill");
    assert_eq!(last["seq"], v["seq"]);
    assert_eq!(last["body"]["target"], commits[0].as_str());
    assert_eq!(last["body"]["env"], "production");
    let report = f
        .path()
        .join("driller")
        .join(last["body"]["report"].as_str().unwrap());
    let bytes = std::fs::read(&report).unwrap();
    use sha2::Digest as _;
    assert_eq!(
        last["body"]["report_sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    // Without a key the drill does not run at all.
    let out = f.run(
        "driller2",
        &[
            "drill",
            "rollback",
            "--repo",
            &app_s,
            "--env",
            "production",
            "--to",
            "last-good",
            "--check",
            "true",
            "--git",
            &remote,
        ],
    );
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
}

/// A first sync killed before it wrote config.toml leaves subdirectories and an empty log: the
/// next run makes the directory again (config.toml is written last, so there is never a
/// config.toml without its log).
#[test]
fn a_directory_left_by_a_killed_first_sync_is_made_again() {
    let f = Fleet::new(1);
    let remote = format!("file://{}", f.remote);
    let d = f.path().join("half");
    for sub in ["keys", "merges", "rollbacks", "checkpoints", "sync"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("ledger.jsonl"), b"").unwrap();
    f.ok("half", &["sync", "--git", &remote]);
    assert!(d.join("config.toml").is_file());
    f.ok("half", &["verify"]);
    let n = std::fs::read_to_string(d.join("ledger.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(n, f.setup);
}
