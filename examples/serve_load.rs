//! Load generator for `ledger serve` (`scripts/bench-serve.sh`).
//!
//! ```text
//! serve_load --url URL --writer-key PATH --clients N --seconds S --mode append|gate
//!            [--batch K] [--presign TOTAL] [--id-prefix P]
//! ```
//!
//! * `append`: N clients, each on its own keep-alive HTTP/1.1 connection (hyper), post
//!   submissions signed before the timed part (unique ids, K per request, default 1) to
//!   `POST /v1/entries`. Only 201 answers count as acknowledged (K entries each).
//! * `gate`: N clients post `{"actor":"alice","paths":["src/a.rs"]}` to `POST /v1/gate`.
//!
//! Answers are not verified (that is the verifying client's job; the generator stays cheap),
//! but every answer that is not 2xx, and every transport failure, is an error. Each request's
//! latency is recorded. All clients are tasks on one thread (a tokio current-thread runtime),
//! so that the generator uses at most one of the cores it shares with the server. Prints one JSON line: mode, clients, batch, requests, ok,
//! acknowledged, errors, seconds, rate_per_s (entries/s for append, queries/s for gate),
//! requests_per_s, p50_ms, p99_ms, max_ms, exhausted (threads that ran out of pre-signed
//! submissions before the end) and client_cpu_s (CPU seconds the generator itself used in the
//! timed part: it shares the machine with the server).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::exit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audit_ledger::keys::Signer;
use audit_ledger::ledger::{Draft, Kind, Submitted};
use audit_ledger::serve::client::wire_of;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rayon::prelude::*;
use serde_json::json;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Append,
    Gate,
}

struct Args {
    url: String,
    writer_key: Option<PathBuf>,
    clients: usize,
    seconds: f64,
    mode: Mode,
    batch: usize,
    presign: Option<usize>,
    id_prefix: String,
}

fn usage(msg: &str) -> ! {
    eprintln!("serve_load: {msg}");
    eprintln!(
        "usage: serve_load --url URL --writer-key PATH --clients N --seconds S --mode append|gate [--batch K] [--presign TOTAL] [--id-prefix P]"
    );
    exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut a = Args {
        url: String::new(),
        writer_key: None,
        clients: 1,
        seconds: 5.0,
        mode: Mode::Append,
        batch: 1,
        presign: None,
        id_prefix: format!("load.{}.{nanos:x}", std::process::id()),
    };
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |s: String, what: &str| -> usize {
            s.parse()
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or_else(|| usage(&format!("{what}: expected a positive integer")))
        };
        match flag.as_str() {
            "--url" => a.url = val().trim_end_matches('/').to_string(),
            "--writer-key" => a.writer_key = Some(PathBuf::from(val())),
            "--clients" => a.clients = num(val(), "--clients"),
            "--seconds" => {
                a.seconds = val()
                    .parse()
                    .ok()
                    .filter(|&s: &f64| s > 0.0)
                    .unwrap_or_else(|| usage("--seconds: expected a positive number"))
            }
            "--mode" => {
                a.mode = match val().as_str() {
                    "append" => Mode::Append,
                    "gate" => Mode::Gate,
                    m => usage(&format!("--mode: expected append or gate, found {m:?}")),
                }
            }
            "--batch" => a.batch = num(val(), "--batch"),
            "--presign" => a.presign = Some(num(val(), "--presign")),
            "--id-prefix" => a.id_prefix = val(),
            "-h" | "--help" => usage("load generator for `ledger serve`"),
            f => usage(&format!("unknown argument {f:?}")),
        }
    }
    if a.url.is_empty() {
        usage("--url is required");
    }
    if a.mode == Mode::Append && a.writer_key.is_none() {
        usage("--writer-key is required in append mode");
    }
    a
}

/// What one client thread did in the timed part.
#[derive(Default)]
struct Tally {
    requests: u64,
    ok: u64,
    acknowledged: u64,
    errors: u64,
    exhausted: bool,
    /// Latency of every request, in microseconds.
    latencies: Vec<u32>,
}

/// Request bodies, serialised before the timed part.
fn append_bodies(
    signer: &Signer,
    prefix: &str,
    client: usize,
    requests: usize,
    batch: usize,
) -> Vec<Vec<u8>> {
    (0..requests)
        .map(|r| {
            let wire: Vec<_> = (0..batch)
                .map(|k| {
                    let n = r * batch + k;
                    let draft = Draft {
                        kind: Kind::Event,
                        actor: format!("ci/load-{client}"),
                        body: json!({"type": "step", "data": {"n": n}}),
                    };
                    let id = format!("{prefix}.c{client}.{n}");
                    let sub = Submitted::sign(signer, draft, &id)
                        .unwrap_or_else(|e| panic!("cannot sign submission {id}: {e}"));
                    wire_of(&sub)
                })
                .collect();
            serde_json::to_vec(&json!({ "submissions": wire })).expect("JSON")
        })
        .collect()
}

/// One keep-alive HTTP/1.1 connection to the server (hyper's connection-level client: no pool,
/// no extra threads).
async fn connect(addr: &str) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(sender)
}

async fn run_client(
    addr: String,
    path: String,
    bodies: Vec<Bytes>,
    gate: Option<Bytes>,
    per_request: u64,
    deadline: Instant,
) -> Tally {
    let mut t = Tally {
        latencies: Vec::with_capacity(bodies.len().max(4096)),
        ..Tally::default()
    };
    let mut next = 0usize;
    let mut sender = None;
    while Instant::now() < deadline {
        let body = match &gate {
            Some(g) => g.clone(),
            None => match bodies.get(next) {
                Some(b) => {
                    next += 1;
                    b.clone()
                }
                None => {
                    t.exhausted = true;
                    break;
                }
            },
        };
        let started = Instant::now();
        if sender.is_none() {
            sender = connect(&addr).await;
        }
        let status = match sender.as_mut() {
            Some(s) => {
                let req = hyper::Request::post(path.as_str())
                    .header(hyper::header::HOST, addr.as_str())
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(body))
                    .expect("request");
                match s.send_request(req).await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        // Read the whole answer, as a client would.
                        match resp.into_body().collect().await {
                            Ok(_) => Some(status),
                            Err(_) => None,
                        }
                    }
                    Err(_) => None,
                }
            }
            None => None,
        };
        let us = started.elapsed().as_micros();
        t.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
        t.requests += 1;
        match status {
            Some(s) if (200..300).contains(&s) => {
                t.ok += 1;
                if gate.is_none() && s == 201 {
                    t.acknowledged += per_request;
                }
            }
            Some(_) => t.errors += 1,
            None => {
                t.errors += 1;
                sender = None;
                // A refused connection fails at once: do not spin on it.
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    t
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat` (Linux; clock
/// ticks of 1/100 s); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

fn main() {
    let a = parse_args();
    let signer = a.writer_key.as_ref().map(|p| {
        Arc::new(
            Signer::load(p)
                .unwrap_or_else(|e| usage(&format!("{}: cannot load key: {e}", p.display()))),
        )
    });
    // Enough pre-signed requests for 40,000 entries/s over the whole run (split evenly);
    // a thread that runs out stops and is reported as exhausted.
    let total = a
        .presign
        .unwrap_or_else(|| ((a.seconds * 40_000.0).ceil() as usize).max(1000));
    let per_client_requests = total.div_ceil(a.batch).div_ceil(a.clients).max(1);
    let (path, gate_body) = match a.mode {
        Mode::Append => ("/v1/entries", None),
        Mode::Gate => (
            "/v1/gate",
            Some(
                serde_json::to_vec(&json!({"actor": "alice", "paths": ["src/a.rs"]}))
                    .expect("JSON"),
            ),
        ),
    };
    let addr = a
        .url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("--url: expected http://HOST:PORT"))
        .to_string();
    let batch = a.batch;
    // Every client's bodies are signed before the timed part (on all cores).
    let bodies: Vec<Vec<Bytes>> = (0..a.clients)
        .into_par_iter()
        .map(|c| match (&gate_body, &signer) {
            (None, Some(s)) => append_bodies(s, &a.id_prefix, c, per_client_requests, batch)
                .into_iter()
                .map(Bytes::from)
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    // All clients are tasks on one thread: the generator takes one core at most and leaves
    // the other to the server.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let tallies: Vec<Tally> = rt.block_on(async {
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                tokio::spawn(run_client(
                    addr.clone(),
                    path.to_string(),
                    b,
                    gate_body.clone().map(Bytes::from),
                    batch as u64,
                    deadline,
                ))
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            out.push(t.await.expect("client task panicked"));
        }
        out
    });
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| b - a);

    let mut all: Vec<u32> = Vec::new();
    let (mut requests, mut ok, mut acknowledged, mut errors, mut exhausted) = (0, 0, 0, 0, 0);
    for t in tallies {
        requests += t.requests;
        ok += t.ok;
        acknowledged += t.acknowledged;
        errors += t.errors;
        exhausted += u64::from(t.exhausted);
        all.extend(t.latencies);
    }
    all.sort_unstable();
    let counted = match a.mode {
        Mode::Append => acknowledged,
        Mode::Gate => ok,
    };
    let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
    let out = json!({
        "mode": match a.mode { Mode::Append => "append", Mode::Gate => "gate" },
        "clients": a.clients,
        "batch": if a.mode == Mode::Append { batch } else { 0 },
        "requests": requests,
        "ok": ok,
        "acknowledged": acknowledged,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rate_per_s": round(counted as f64 / elapsed, 1),
        "requests_per_s": round(requests as f64 / elapsed, 1),
        "p50_ms": round(percentile_ms(&all, 50.0), 3),
        "p99_ms": round(percentile_ms(&all, 99.0), 3),
        "max_ms": round(all.last().map_or(0.0, |&m| f64::from(m) / 1000.0), 3),
        "exhausted": exhausted,
        "client_cpu_s": cpu.map(|c| round(c, 2)),
    });
    println!("{out}");
}
