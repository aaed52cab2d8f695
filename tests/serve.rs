//! `ledger serve` end to end: the real binary on an ephemeral loopback port, real clients
//! (the library's verifying client, the CLI, raw HTTP), a test double in front of the server
//! that lies, and a ledger edited behind it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audit_ledger::keys::Signer;
use audit_ledger::ledger::{Draft, Kind, Submitted};
use audit_ledger::serve::client::{wire_of, Remote};
use common::serve::{served_ledger, sign_gate_recorders, start};
use common::{code, stderr, Env};
use serde_json::{json, Value};

/// A served signed ledger: root (log) key, a writer key, the server process.
pub struct Served {
    pub env: Env,
    pub log_key: PathBuf,
    pub writer_key: PathBuf,
    pub writer: Signer,
    pub child: Child,
    pub url: String,
}

pub fn setup(env: Env, extra: &[&str]) -> Served {
    let (log_key, writer_key) = served_ledger(&env);
    serve(env, log_key, writer_key, extra)
}

/// Serve the ledger of `env` with `log_key`; `writer_key` is the runners' key.
fn serve(env: Env, log_key: PathBuf, writer_key: PathBuf, extra: &[&str]) -> Served {
    let writer = Signer::load(&writer_key).unwrap();
    let (child, url) = start(&env, &log_key, extra);
    Served {
        env,
        log_key,
        writer_key,
        writer,
        child,
        url,
    }
}

impl Served {
    pub fn log_pub(&self) -> PathBuf {
        PathBuf::from(format!("{}.pub", self.log_key.display()))
    }

    pub fn remote(&self, state: Option<PathBuf>) -> Remote {
        let key = audit_ledger::keys::load_public(&self.log_pub()).unwrap();
        Remote::new(&self.url, key, state)
    }

    pub fn stop(&mut self) -> Option<i32> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap().code()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(runner: usize, n: usize) -> Draft {
    Draft {
        kind: Kind::Event,
        actor: format!("ci/runner-{runner}"),
        body: json!({"type": "step", "data": {"n": n}}),
    }
}

/// Raw HTTP: method, path, body → (status, body).
fn http(url: &str, method: &str, path: &str, body: Option<&[u8]>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let u = format!("{url}{path}");
    let mut r = match (method, body) {
        ("POST", Some(b)) => agent
            .post(&u)
            .header("content-type", "application/json")
            .send(b)
            .unwrap(),
        _ => agent.get(&u).call().unwrap(),
    };
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn verify_entries(env: &Env) -> u64 {
    let out = env.ok(&["--json", "--no-state", "verify"]);
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    v["entries"].as_u64().unwrap()
}

#[test]
fn eight_clients_two_hundred_submissions_each_one_chain() {
    let s = setup(Env::new(), &[]);
    let base = verify_entries(&s.env);
    let results = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        for r in 0..8 {
            let remote = s.remote(Some(s.env.path().join(format!("state-{r}.json"))));
            let results = Arc::clone(&results);
            let writer = &s.writer;
            scope.spawn(move || {
                for n in 0..200 {
                    let sub = Submitted::sign(writer, event(r, n), &format!("r{r}.n{n}")).unwrap();
                    let got = remote.append(std::slice::from_ref(&sub)).unwrap();
                    assert!(got[0].created);
                    results
                        .lock()
                        .unwrap()
                        .push((sub.submission.id.clone(), got[0].seq, sub));
                }
            });
        }
    });
    let results = results.lock().unwrap().clone();
    assert_eq!(results.len(), 1600);
    let mut seqs: Vec<u64> = results.iter().map(|r| r.1).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 1600, "every 201 has its own seq");
    assert_eq!(verify_entries(&s.env), base + 1600);

    // The same id and bytes again: the same seq, nothing written.
    let (id, seq, again) = results[0].clone();
    let got = s.remote(None).append(&[again]).unwrap();
    assert_eq!((got[0].seq, got[0].created), (seq, false));
    // The same id with other bytes: 409, nothing written.
    let before = s.env.read_log();
    let other = Submitted::sign(&s.writer, event(0, 1000), &id).unwrap();
    let (status, body) = http(
        &s.url,
        "POST",
        "/v1/entries",
        Some(&serde_json::to_vec(&wire_of(&other)).unwrap()),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(s.env.read_log(), before);
    assert_eq!(verify_entries(&s.env), base + 1600);
}

#[test]
fn reads_answer_what_the_cli_answers() {
    let s = setup(Env::new(), &[]);
    let subs: Vec<Submitted> = (0..5)
        .map(|n| Submitted::sign(&s.writer, event(1, n), &format!("q{n}")).unwrap())
        .collect();
    s.remote(None).append(&subs).unwrap();
    let show = s.env.ok(&["--json", "show", "3"]);
    let (st, e) = http(&s.url, "GET", "/v1/entries/3", None);
    assert_eq!(st, 200);
    let line: Value = serde_json::from_str(e["entry"].as_str().unwrap()).unwrap();
    let cli: Value = serde_json::from_str(show.trim()).unwrap();
    assert_eq!(line["hash"], cli["hash"], "{cli}");
    let (st, page) = http(
        &s.url,
        "GET",
        "/v1/entries?kind=event&actor=ci/runner-1&limit=3",
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    assert!(page["next_cursor"].as_u64().is_some());
    let (st, cp) = http(&s.url, "GET", "/v1/checkpoint", None);
    assert_eq!(st, 200);
    let cp = cp.as_str().unwrap().to_string();
    // The file beside the ledger is derived: the writer brings it up to date once it has
    // been idle for FLUSH_IDLE (and at least every FLUSH_EVERY under load).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let file = loop {
        let file = std::fs::read_to_string(s.env.dir().join("checkpoint")).unwrap();
        if file == cp || std::time::Instant::now() > deadline {
            break file;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(cp, file);
    let prove = s.env.ok(&["--json", "prove", "inclusion", "--seq", "2"]);
    let (st, proof) = http(&s.url, "GET", "/v1/proof/inclusion?seq=2", None);
    assert_eq!(st, 200);
    let cli: Value = serde_json::from_str(prove.trim()).unwrap();
    assert_eq!(proof["hashes"], cli["hashes"], "{cli}");
    let (st, _) = http(&s.url, "GET", "/v1/proof/consistency?from=2&to=6", None);
    assert_eq!(st, 200);
    let (st, score) = http(&s.url, "GET", "/v1/trust/alice", None);
    assert_eq!(st, 200, "{score}");
    let cli: Value = serde_json::from_str(
        s.env
            .ok(&["--json", "trust", "score", "--actor", "alice"])
            .trim(),
    )
    .unwrap();
    assert_eq!(score["score_permille"], cli["score_permille"]);
    let (st, d) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(br#"{"actor":"alice","paths":["src/a.rs"]}"#),
    );
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["decision"].as_str(), Some("deny"));
    let (st, m) = http(&s.url, "GET", "/metrics", None);
    assert_eq!(st, 200);
    assert!(
        m.as_str().unwrap().contains("ledger_http_requests_total"),
        "{m}"
    );
    let (st, _) = http(&s.url, "GET", "/readyz", None);
    assert_eq!(st, 200);
}

#[test]
fn refused_requests_are_4xx_and_change_nothing() {
    let s = setup(Env::new(), &["--timeout-ms", "700"]);
    let stranger = Signer::generate().unwrap();
    let good = Submitted::sign(&s.writer, event(1, 1), "ok-1").unwrap();
    s.remote(None).append(&[good]).unwrap();
    let before = s.env.read_log();
    let mut forged = wire_of(&Submitted::sign(&s.writer, event(1, 2), "x").unwrap());
    forged["body"]["data"]["n"] = json!(3);
    let mut unknown = wire_of(&Submitted::sign(&s.writer, event(1, 4), "y").unwrap());
    unknown["kind"] = json!("teleport");
    let untrusted = wire_of(&Submitted::sign(&stranger, event(1, 5), "z").unwrap());
    let mut extra = wire_of(&Submitted::sign(&s.writer, event(1, 6), "w").unwrap());
    extra["seq"] = json!(0);
    let key_entry = wire_of(
        &Submitted::sign(
            &s.writer,
            Draft {
                kind: Kind::Key,
                actor: "x".into(),
                body: json!({"action": "add", "key_id": stranger.id(), "public_key": hex::encode(stranger.public().as_bytes())}),
            },
            "k",
        )
        .unwrap(),
    );
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(1 << 20));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", b"{not json".to_vec(), 400),
        ("unknown kind", serde_json::to_vec(&unknown).unwrap(), 400),
        ("bad signature", serde_json::to_vec(&forged).unwrap(), 400),
        (
            "untrusted key",
            serde_json::to_vec(&untrusted).unwrap(),
            403,
        ),
        ("unknown field", serde_json::to_vec(&extra).unwrap(), 400),
        ("a key entry", serde_json::to_vec(&key_entry).unwrap(), 400),
        ("oversize body", big.into_bytes(), 413),
    ];
    for (what, body, want) in cases {
        let (st, v) = http(&s.url, "POST", "/v1/entries", Some(&body));
        assert_eq!(st, want, "{what}: {v}");
        if want != 413 {
            assert!(v["error"]["message"].as_str().is_some(), "{what}: {v}");
        }
    }
    // A slow body: headers and half the body, then nothing.
    let addr: SocketAddr = s.url.trim_start_matches("http://").parse().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"POST /v1/entries HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"kind\":").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut resp = String::new();
    let _ = c.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
    let (st, _) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(br#"{"actor":"a","paths":["p"],"record":true}"#),
    );
    assert_eq!(st, 400, "record: true without a signed submission");
    let (st, _) = http(&s.url, "GET", "/v1/entries/99999", None);
    assert_eq!(st, 404);
    let (st, _) = http(&s.url, "GET", "/v1/entries?limit=0", None);
    assert_eq!(st, 400);
    assert_eq!(s.env.read_log(), before, "the ledger is byte-identical");
}

/// What the lying double does to a response body (given the request path).
type Mutate = fn(&str, String) -> String;

/// Forwards each request to `upstream` and hands the response to `mutate` before returning
/// it: the test double of a lying server.
fn proxy(upstream: Arc<Mutex<String>>, mutate: Mutate) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let up = upstream.lock().unwrap().clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0usize;
                let mut first = String::new();
                r.read_line(&mut first).unwrap();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    head.push_str(&h);
                }
                let mut body = vec![0u8; len];
                r.read_exact(&mut body).unwrap();
                let path = first.split(' ').nth(1).unwrap_or("/").to_string();
                let method = first.split(' ').next().unwrap_or("GET").to_string();
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let u = format!("{up}{path}");
                let mut resp = if method == "POST" {
                    agent
                        .post(&u)
                        .header("content-type", "application/json")
                        .send(&body[..])
                        .unwrap()
                } else {
                    agent.get(&u).call().unwrap()
                };
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap();
                let text = mutate(&path, text);
                let out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = c.write_all(out.as_bytes());
            });
        }
    });
    url
}

fn append_cli(s: &Served, url: &str, id: &str, n: usize) -> std::process::Output {
    s.env.run(&[
        "--json",
        "--key",
        s.writer_key.to_str().unwrap(),
        "append",
        "event",
        "--actor",
        "ci/runner-9",
        "--type",
        "step",
        "--data",
        &format!(r#"{{"n":{n}}}"#),
        "--id",
        id,
        "--remote",
        url,
        "--log-key",
        s.log_pub().to_str().unwrap(),
    ])
}

#[test]
fn a_lying_server_is_exit_1_naming_the_lie() {
    let s = setup(Env::new(), &[]);
    let honest = Arc::new(Mutex::new(s.url.clone()));
    // Honest through the double first.
    let url = proxy(Arc::clone(&honest), |_, t| t);
    let out = append_cli(&s, &url, "honest-1", 1);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let cases: [(&str, Mutate, &str); 3] = [
        (
            "another entry",
            |_, t| t.replace(r#"\"n\":2"#, r#"\"n\":3"#),
            "entry returned is not valid",
        ),
        (
            "a wrong proof",
            |_, t| {
                let v: Value = serde_json::from_str(&t).unwrap();
                let mut v = v;
                if let Some(h) = v["results"][0]["inclusion"]["hashes"].get_mut(0) {
                    *h = json!("00".repeat(32));
                }
                v.to_string()
            },
            "not proved included",
        ),
        (
            "an unsigned checkpoint",
            |_, t| {
                let mut v: Value = serde_json::from_str(&t).unwrap();
                let cp = v["checkpoint"].as_str().unwrap().to_string();
                let cut = cp.find("\n\n").unwrap();
                v["checkpoint"] = json!(format!("{}\n\n— other.example/log AAAA\n", &cp[..cut]));
                v.to_string()
            },
            "checkpoint",
        ),
    ];
    for (i, (what, mutate, want)) in cases.into_iter().enumerate() {
        let url = proxy(Arc::clone(&honest), mutate);
        let before = s.env.read_log().len();
        let out = append_cli(&s, &url, &format!("lie-{i}"), 2);
        assert_eq!(code(&out), Some(1), "{what}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{what}: {}", stderr(&out));
        assert!(
            s.env.read_log().len() > before,
            "the honest server behind wrote it"
        );
    }

    // A rolled-back server: a copy of the ledger from before, served under the same URL.
    let old = Env::new();
    copy_dir(&s.env.dir(), &old.dir());
    let via = proxy(Arc::clone(&honest), |_, t| t);
    for n in 0..3 {
        let out = append_cli(&s, &via, &format!("more-{n}"), 10 + n);
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    }
    let (mut old_child, old_url) = start(&old, &s.log_key, &[]);
    *honest.lock().unwrap() = old_url;
    let out = append_cli(&s, &via, "after-rollback", 99);
    let _ = old_child.kill();
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rolled-back") || stderr(&out).contains("fewer"),
        "{}",
        stderr(&out)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn an_entry_edited_behind_the_server_is_never_served() {
    let s = setup(Env::new(), &[]);
    let subs: Vec<Submitted> = (0..3)
        .map(|n| Submitted::sign(&s.writer, event(2, n), &format!("e{n}")).unwrap())
        .collect();
    s.remote(None).append(&subs).unwrap();
    let log = String::from_utf8(s.env.read_log()).unwrap();
    std::fs::write(s.env.log(), log.replacen(r#""n":1"#, r#""n":7"#, 1)).unwrap();
    let (st, v) = http(&s.url, "GET", "/v1/entries/3", None);
    assert!(st >= 400, "{v}");
    assert!(!v.to_string().contains(r#"\"n\":7"#), "{v}");
    let (st, _) = http(&s.url, "GET", "/readyz", None);
    assert_eq!(st, 503);
}

#[test]
fn sigterm_finishes_and_exits_0_and_an_invalid_ledger_is_not_served() {
    let mut s = setup(Env::new(), &[]);
    let sub = Submitted::sign(&s.writer, event(3, 0), "t0").unwrap();
    s.remote(None).append(&[sub]).unwrap();
    assert_eq!(s.stop(), Some(0));
    let n = verify_entries(&s.env);
    assert_eq!(n, 3);
    let log = String::from_utf8(s.env.read_log()).unwrap();
    std::fs::write(s.env.log(), log.replacen(r#""n":0"#, r#""n":5"#, 1)).unwrap();
    let out = s.env.run(&[
        "--key",
        s.log_key.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
}

/// Clients running, the server SIGKILLed at random moments 20 times and restarted: every
/// submission that got a 201 is in the ledger exactly once, at the seq it was told, and the
/// ledger verifies (a torn tail is repaired only explicitly, and counted).
#[test]
fn twenty_sigkills_lose_and_duplicate_nothing_acknowledged() {
    let mut s = setup(Env::new(), &[]);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = common::Rng(seed);
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut torn = 0;
    for round in 0..20 {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let key = audit_ledger::keys::load_public(&s.log_pub()).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let remote = Remote::new(&s.url, key, None).with_limits(Duration::from_secs(2), 0);
                let acked = Arc::clone(&acked);
                let stop = Arc::clone(&stop);
                let writer = Signer::load(&s.writer_key).unwrap();
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let id = format!("k{round}.{t}.{n}");
                        let sub = Submitted::sign(&writer, event(t, n), &id).unwrap();
                        n += 1;
                        match remote.append(&[sub]) {
                            Ok(r) => acked.lock().unwrap().push((id, r[0].seq)),
                            Err(_) => break,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30 + rng.below(250)));
        s.child.kill().unwrap();
        s.child.wait().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for h in handles {
            h.join().unwrap();
        }
        let v = s.env.run(&["--no-state", "verify"]);
        if code(&v) != Some(0) {
            assert!(
                stderr(&v).contains("torn"),
                "round {round} (seed {seed}): {}",
                stderr(&v)
            );
            s.env.ok(&["repair", "--torn-tail"]);
            torn += 1;
        }
        let (child, url) = start(&s.env, &s.log_key, &[]);
        s.child = child;
        s.url = url;
    }
    assert_eq!(s.stop(), Some(0));
    let log = String::from_utf8(s.env.read_log()).unwrap();
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for line in log.lines() {
        let e = audit_ledger::ledger::Entry::parse_line(line.as_bytes()).unwrap();
        if let Some(sub) = e.submission {
            assert!(
                seen.insert(sub.id.clone(), e.seq).is_none(),
                "{} twice",
                sub.id
            );
        }
    }
    let acked = acked.lock().unwrap();
    assert!(acked.len() > 20, "clients made progress: {}", acked.len());
    for (id, seq) in acked.iter() {
        assert_eq!(
            seen.get(id),
            Some(seq),
            "acknowledged {id} at seq {seq} (seed {seed})"
        );
    }
    verify_entries(&s.env);
    eprintln!(
        "kill test: {} acknowledged, {} in the ledger, {torn} torn tails repaired",
        acked.len(),
        seen.len()
    );
}

#[test]
fn read_tokens_are_checked_and_a_readable_key_is_refused() {
    let env = Env::new();
    let tokens = env.path().join("read-tokens");
    let token = "s3cret-token-for-the-merge-bot";
    let h = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    std::fs::write(&tokens, format!("# merge bot\n{h}\n")).unwrap();
    let mut s = setup(
        env,
        &["--read-tokens", tokens.to_str().unwrap(), "--log", "json"],
    );
    let (st, _) = http(&s.url, "GET", "/v1/checkpoint", None);
    assert_eq!(st, 401);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let ok = agent
        .get(format!("{}/v1/checkpoint", s.url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let bad = agent
        .get(format!("{}/v1/checkpoint", s.url))
        .header("authorization", "Bearer s3cret-token-for-the-merge-boT")
        .call()
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    // Writers authenticate by their signature, not by a token.
    let sub = Submitted::sign(&s.writer, event(4, 0), "tok-0").unwrap();
    let (st, v) = http(
        &s.url,
        "POST",
        "/v1/entries",
        Some(&serde_json::to_vec(&wire_of(&sub)).unwrap()),
    );
    assert_eq!(st, 201, "{v}");
    let (st, _) = http(&s.url, "GET", "/healthz", None);
    assert_eq!(st, 200);
    // The verifying client sends the token (LEDGER_TOKEN) for the reads it makes.
    for n in 0..2 {
        let out = s
            .env
            .cmd(&[
                "--key",
                s.writer_key.to_str().unwrap(),
                "append",
                "event",
                "--actor",
                "ci/t",
                "--type",
                "t",
                "--data",
                "{}",
                "--remote",
                &s.url,
                "--log-key",
                s.log_pub().to_str().unwrap(),
                "--id",
                &format!("tok-cli-{n}"),
            ])
            .env("LEDGER_TOKEN", token)
            .output()
            .unwrap();
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
        assert!(!stderr(&out).contains(token));
    }
    // The request log (--log json): a JSON line per request, and never the token.
    assert_eq!(s.stop(), Some(0));
    let mut log = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!log.contains(token), "{log}");
    assert!(!log.contains("merge-boT"), "{log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let seen = |route: &str, status: u64| {
        lines
            .iter()
            .any(|l| l["route"] == route && l["status"] == status && l["ms"].is_u64())
    };
    assert!(seen("/v1/checkpoint", 401), "{log}");
    assert!(seen("/v1/checkpoint", 200), "{log}");
    assert!(seen("/v1/entries", 201), "{log}");
    assert!(lines.iter().any(|l| l["message"] == "serving"), "{log}");

    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&s.log_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.env.run(&[
        "--key",
        s.log_key.to_str().unwrap(),
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("readable"), "{}", stderr(&out));
}

fn gate_cli(s: &Served, key: &Path, extra: &[&str]) -> std::process::Output {
    let log_pub = s.log_pub();
    let mut args = vec![
        "--json",
        "--key",
        key.to_str().unwrap(),
        "trust",
        "gate",
        "--remote",
        &s.url,
        "--log-key",
        log_pub.to_str().unwrap(),
        "--actor",
        "alice",
        "--paths",
        "src/a.rs",
    ];
    args.extend_from_slice(extra);
    s.env.run(&args)
}

#[test]
fn gate_decisions_are_recorded_for_the_recorders_the_signed_policy_names() {
    let env = Env::new();
    let (log_key, writer_key) = served_ledger(&env);
    let bot_key = env.keygen("bot");
    let bot = Signer::load(&bot_key).unwrap();
    let bot_pub = format!("{}.pub", bot_key.display());
    env.ok(&[
        "--key",
        log_key.to_str().unwrap(),
        "keys",
        "add",
        &bot_pub,
        "--writer",
    ]);
    sign_gate_recorders(&env, &log_key, &[bot.id()]);
    let s = serve(env, log_key, writer_key, &[]);

    // A writer key the policy does not name: refused (exit 2), nothing written.
    let before = s.env.read_log();
    let out = gate_cli(&s, &s.writer_key, &["--record"]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("gate_recorders"), "{}", stderr(&out));
    assert_eq!(s.env.read_log(), before);

    // The bot: the decision (deny: alice has no history) is recorded, signed by the bot.
    let out = gate_cli(&s, &bot_key, &["--record", "--id", "pr-7.gate"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let j: Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(j["decision"], "deny");
    assert_eq!(j["recorded"], true);
    let seq = j["approval_seq"].as_u64().unwrap();
    let (st, e) = http(&s.url, "GET", &format!("/v1/entries/{seq}"), None);
    assert_eq!(st, 200);
    let line: Value = serde_json::from_str(e["entry"].as_str().unwrap()).unwrap();
    assert_eq!(line["kind"], "approval");
    assert_eq!(line["submission"]["signer"], bot.id());
    assert_eq!(line["submission"]["id"], "pr-7.gate");
    assert_eq!(line["body"]["decision"], "deny");
    assert_eq!(line["body"]["actor"], "alice");
    assert_eq!(line["body"]["tree_size"], seq);
    assert!(line["body"]["policy_seq"].is_u64(), "{line}");
    assert_eq!(verify_entries(&s.env), seq + 1);

    // Raw requests: no submission, another kind, a decision the service does not reach, a
    // decision older than the history.
    let q = json!({"actor": "alice", "paths": ["src/a.rs"]});
    let (st, answer) = http(&s.url, "POST", "/v1/gate", Some(q.to_string().as_bytes()));
    assert_eq!(st, 200, "{answer}");
    let rec = answer["record"].clone();
    assert_eq!(rec["body"]["tree_size"], seq + 1);
    let signed = |body: Value, ts: &str, kind: Kind| {
        let d = Draft {
            kind,
            actor: "merge-bot".into(),
            body,
        };
        let sub = Submitted::sign_at(&bot, d, "raw-1", ts.to_string()).unwrap();
        let mut r = q.clone();
        r["record"] = json!(true);
        r["submission"] = wire_of(&sub);
        r.to_string().into_bytes()
    };
    let ts = rec["ts"].as_str().unwrap();
    let before = s.env.read_log();
    let mut no_sub = q.clone();
    no_sub["record"] = json!(true);
    let (st, v) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(no_sub.to_string().as_bytes()),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{v}"
    );
    let (st, v) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(&signed(json!({"type": "x", "data": {}}), ts, Kind::Event)),
    );
    assert_eq!(st, 400, "{v}");
    let mut flipped = rec["body"].clone();
    flipped["decision"] = json!("allow");
    let (st, v) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(&signed(flipped, ts, Kind::Approval)),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale")),
        "{v}"
    );
    let old = audit_ledger::time::format_ts(
        audit_ledger::trust::model::ts_ms(ts).unwrap() - 5 * 60 * 1000,
    );
    let (st, v) = http(
        &s.url,
        "POST",
        "/v1/gate",
        Some(&signed(rec["body"].clone(), &old, Kind::Approval)),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (409, Some("stale")),
        "{v}"
    );
    assert_eq!(s.env.read_log(), before, "a refused record wrote something");

    // The proposal itself, signed as is: recorded (201), and once only (200 on replay).
    let body = signed(rec["body"].clone(), ts, Kind::Approval);
    let (st, v) = http(&s.url, "POST", "/v1/gate", Some(&body));
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["approval_seq"], seq + 1);
    let (st, v) = http(&s.url, "POST", "/v1/gate", Some(&body));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["results"][0]["status"], "existing");
}

#[test]
fn a_runners_approval_never_counts_as_the_log_keys_identity() {
    // The log key has an identity; a runner's approval of alice's change, ordered and signed
    // by the log key, must not count as that identity's approval.
    let env = Env::new();
    env.ok(&[
        "init",
        "--origin",
        "test.example/ledger",
        "--require-signatures",
    ]);
    let log_key = env.keygen("log");
    let log_pub = format!("{}.pub", log_key.display());
    let k = log_key.to_str().unwrap();
    env.ok(&["--key", k, "keys", "add", &log_pub, "--identity", "ci/log"]);
    let writer_key = env.keygen("runner");
    let wpub = format!("{}.pub", writer_key.display());
    env.ok(&["--key", k, "keys", "add", &wpub, "--writer"]);
    let s = serve(env, log_key, writer_key, &[]);
    let approval = Draft {
        kind: Kind::Approval,
        actor: "bob".into(),
        body: json!({"subject": "PR-1", "decision": "allow", "reasons": ["looks good"]}),
    };
    let sub = Submitted::sign(&s.writer, approval, "approve-pr-1").unwrap();
    s.remote(None).append(&[sub]).unwrap();
    let q = br#"{"actor":"alice","paths":["src/a.rs"],"subject":"PR-1"}"#;
    let (st, d) = http(&s.url, "POST", "/v1/gate", Some(q));
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["decision"], "deny", "{d}");
    assert!(
        !d.to_string().contains("ci/log"),
        "the log key's identity was counted: {d}"
    );
    // The CLI's own fold agrees.
    let out = s.env.run(&[
        "--json",
        "trust",
        "gate",
        "--dry-run",
        "--actor",
        "alice",
        "--paths",
        "src/a.rs",
        "--subject",
        "PR-1",
    ]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(!common::stdout(&out).contains("ci/log"));
}

/// A runner's rollback or incident names the deploy it undid or that caused it by seq: the
/// service holds it to the rule of the local append path (an earlier succeeded or failed
/// deploy of the same env) and refuses anything else with 400, writing nothing.
#[test]
fn a_rollback_or_incident_naming_no_deploy_of_its_env_is_refused() {
    let s = setup(Env::new(), &[]);
    let d = |env: &str, v: &str| Draft {
        kind: Kind::Deploy,
        actor: "ci".into(),
        body: json!({"env": env, "version": v, "commit": "c", "status": "succeeded"}),
    };
    let r = s.remote(None);
    r.append(&[
        Submitted::sign(&s.writer, d("production", "v1"), "d-1").unwrap(),
        Submitted::sign(&s.writer, d("staging", "v1"), "d-2").unwrap(),
    ])
    .unwrap();
    let size = verify_entries(&s.env);
    let (prod, stage) = (size - 2, size - 1);
    let rb = |n: u64| Draft {
        kind: Kind::Rollback,
        actor: "ops".into(),
        body: json!({"env": "staging", "from_version": "v1", "to_version": "v0", "trigger": "x", "undoes_seq": n}),
    };
    let inc = |n: Value| Draft {
        kind: Kind::Incident,
        actor: "ops".into(),
        body: json!({"env": "staging", "incident": "INC-1", "status": "opened", "caused_by_seq": n}),
    };
    let before = s.env.read_log();
    for (what, draft) in [
        ("another env's deploy", rb(prod)),
        ("a seq not recorded yet", rb(size + 5)),
        ("not a deploy (the first key entry)", rb(0)),
        ("an incident blaming another env", inc(json!(prod))),
    ] {
        let wire = wire_of(&Submitted::sign(&s.writer, draft, "bad").unwrap());
        let (st, v) = http(
            &s.url,
            "POST",
            "/v1/entries",
            Some(&serde_json::to_vec(&wire).unwrap()),
        );
        assert_eq!(st, 400, "{what}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("undoes_seq") || msg.contains("caused_by_seq"),
            "{what}: {msg}"
        );
    }
    assert_eq!(s.env.read_log(), before, "nothing written");
    // The same env's deploy is accepted.
    r.append(&[Submitted::sign(&s.writer, rb(stage), "ok-rb").unwrap()])
        .unwrap();
    r.append(&[Submitted::sign(&s.writer, inc(json!(stage)), "ok-inc").unwrap()])
        .unwrap();
    assert_eq!(verify_entries(&s.env), size + 2);
}
