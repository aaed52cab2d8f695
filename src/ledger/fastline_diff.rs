//! Differential test of the verifier's fast path (`ledger::fastline`) against the reference
//! line parser (`Entry::parse_line`, which re-encodes and compares bytes).
//!
//! The rule under test: whenever the fast path accepts a line, the reference accepts it too and
//! reads the same fields. It must never say "valid" alone. It should also accept ordinary
//! entries, or it would be no faster; that is checked too.
//!
//! Lines are generated (every kind but `key`, hostile strings, nested bodies), then mutated
//! hundreds of thousands of times. Most mutations break the leaf hash, which both reject, so
//! each mutation is also tried with its `hash` recomputed over the mutated bytes: then only
//! the canonical-form and schema rules stand between the line and acceptance.
//!
//! Longer runs: `FASTLINE_SCALE=10 FASTLINE_SEED=7 cargo test --release --lib fastline` tries
//! ten times as many lines from another seed.
//!
//! It lives inside the crate because the fast path is internal (`pub(crate)`): it is an
//! optimisation of the verifier, not an API.

use crate::keys::Signer;
use crate::ledger::entry::{leaf_hash, Entry, ZERO_HASH};
use crate::ledger::fastline;
use crate::ledger::Kind;
use serde_json::{json, Map, Value};

/// xorshift64*: a small seeded generator, so a failing case is reproducible (the same one as
/// the integration tests' `common::Rng`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// `Rng::below` as a `usize`.
fn below(r: &mut Rng, n: usize) -> usize {
    r.below(n as u64) as usize
}

const PIECES: &[&str] = &[
    "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{8}", "\u{0}", "\u{1f}", "\u{7f}",
    "\u{85}", "é", "€", "\u{2028}", "😀", "-", "1", "{", "}", "[", "]", ":", ",",
];

fn text(r: &mut Rng, plain: bool) -> String {
    let n = 1 + below(r, 10);
    (0..n)
        .map(|_| {
            if plain {
                *r.pick(&["a", "b", "x", "0", "-", "/", "é", " "])
            } else {
                *r.pick(PIECES)
            }
        })
        .collect()
}

fn value(r: &mut Rng, depth: u32, plain: bool) -> Value {
    match below(r, if depth > 3 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(below(r, 2) == 0),
        2 => {
            let max = (1i64 << 53) - 1;
            json!(match below(r, 5) {
                0 => 0,
                1 => max,
                2 => -max,
                3 => -1,
                _ => (r.next() % 1_000_000) as i64,
            })
        }
        3 => Value::String(text(r, plain)),
        4 => {
            let mut m = Map::new();
            for _ in 0..below(r, 4) {
                let k = if plain {
                    r.pick(&["a", "b", "_x", "Z", "k9", "~"]).to_string()
                } else {
                    r.pick(&["a", "b", "A", "a\"q", "\\", "sp ace", "\u{7f}"])
                        .to_string()
                };
                m.insert(k, value(r, depth + 1, plain));
            }
            Value::Object(m)
        }
        _ => Value::Array(
            (0..below(r, 4))
                .map(|_| value(r, depth + 1, plain))
                .collect(),
        ),
    }
}

fn body(r: &mut Rng, kind: Kind, plain: bool) -> Value {
    let s = |r: &mut Rng| text(r, true);
    let hex = |r: &mut Rng, n: usize| {
        (0..n)
            .map(|_| *r.pick(&["0", "9", "a", "f"]))
            .collect::<String>()
    };
    let mut b = match kind {
        Kind::Merge => json!({"author": s(r), "source": s(r), "target": s(r),
            "source_commit": hex(r, 40), "target_commit": hex(r, 40), "merge_commit": hex(r, 40),
            "paths": [s(r), s(r)]}),
        Kind::Approval => json!({"subject": s(r), "decision": *r.pick(&["allow", "deny"]),
            "reasons": [s(r)]}),
        Kind::Deploy => json!({"env": s(r), "version": s(r), "commit": hex(r, 40),
            "status": *r.pick(&["started", "succeeded", "failed"])}),
        Kind::Rollback => json!({"env": s(r), "from_version": s(r), "to_version": s(r),
            "trigger": s(r)}),
        Kind::Drill => json!({"target": s(r), "check": s(r),
            "outcome": *r.pick(&["pass", "fail", "timeout"]), "duration_ms": below(r, 100000),
            "report_sha256": hex(r, 64)}),
        Kind::Bundle => json!({"version": s(r), "manifest_sha256": hex(r, 64)}),
        Kind::Incident => json!({"incident": s(r), "env": s(r),
            "status": *r.pick(&["opened", "resolved"])}),
        Kind::Event | Kind::Key | Kind::Policy => {
            let mut data = Map::new();
            for k in ["a", "b", "c"].iter().take(below(r, 4)) {
                data.insert(k.to_string(), value(r, 1, plain));
            }
            json!({"type": s(r), "data": data})
        }
    };
    if let Value::Object(m) = &mut b {
        for _ in 0..below(r, 3) {
            m.insert(
                r.pick(&["extra", "note", "data2", "zz"]).to_string(),
                value(r, 1, plain),
            );
        }
    }
    b
}

fn lines(n: usize, plain: bool, seed: u64, signer: &Signer) -> Vec<Vec<u8>> {
    let mut r = Rng(seed);
    let mut prev = ZERO_HASH;
    (0..n as u64)
        .map(|seq| {
            let kinds: Vec<Kind> = Kind::ALL
                .into_iter()
                .filter(|k| !matches!(k, Kind::Key | Kind::Policy))
                .collect();
            let kind = *r.pick(&kinds);
            let signed = seq % 4 != 0;
            let actor = if plain {
                format!("ci/build-{seq}")
            } else {
                text(&mut r, false).replace(|c: char| c.is_control(), "_")
            };
            let mut e = Entry::seal(
                seq * 977,
                "2026-02-28T23:59:59.999Z".into(),
                kind,
                actor,
                signed.then(|| signer.id().to_string()),
                body(&mut r, kind, plain),
                prev,
            )
            .unwrap();
            if signed {
                e.sig = Some(signer.sign(&e.signing_message()));
            }
            prev = e.hash;
            e.to_line()
        })
        .collect()
}

/// The fast path's answer must be the reference's, or no answer at all.
fn agree(line: &[u8]) -> bool {
    let Some(f) = fastline::scan(line) else {
        return false;
    };
    let e = Entry::parse_line(line).unwrap_or_else(|err| {
        panic!(
            "fast path accepted a line the reference rejects ({}: {}):\n{}",
            err.code,
            err.reason,
            String::from_utf8_lossy(line)
        )
    });
    assert_eq!(f.seq, e.seq);
    assert_eq!(f.kind, e.kind);
    assert_eq!(f.prev, e.prev);
    assert_eq!(f.hash, e.hash);
    assert_eq!(f.signer, e.signer.as_deref());
    assert_eq!(f.sig, e.sig);
    true
}

/// Find `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Recompute the `hash` member of a (possibly mutated) line over the line without its `hash`
/// and `sig` members, the way a forger without the key would. `None` if the members are gone.
fn rehash(line: &[u8]) -> Option<Vec<u8>> {
    let h = find(line, b",\"hash\":\"")?;
    let h_end = h + 9 + 64 + 1;
    if line.len() < h_end {
        return None;
    }
    let mut c = Vec::new();
    c.extend_from_slice(&line[..h]);
    let rest = &line[h_end..];
    match find(rest, b",\"sig\":\"") {
        Some(s) if rest.len() > s + 8 + 88 => {
            c.extend_from_slice(&rest[..s]);
            c.extend_from_slice(&rest[s + 8 + 88 + 1..]);
        }
        _ => c.extend_from_slice(rest),
    }
    let mut out = line.to_vec();
    out[h + 9..h + 9 + 64].copy_from_slice(hex::encode(leaf_hash(&c)).as_bytes());
    Some(out)
}

fn mutate(r: &mut Rng, line: &[u8]) -> Vec<u8> {
    let mut m = line.to_vec();
    let at = below(r, m.len());
    const BYTES: &[u8] = b" \"\\,:{}[]0129-+.eEaAfFuntr\t\n\x00\x7f\xc2\x85\xff";
    match below(r, 9) {
        0 => m[at] ^= 1 << below(r, 8),
        1 => m[at] = *r.pick(BYTES),
        2 => m.insert(at, *r.pick(BYTES)),
        3 => {
            m.remove(at);
        }
        4 => {
            // Insert a whole token somewhere.
            const TOKENS: &[&[u8]] = &[
                b"\\u0000",
                b"\\u001F",
                b"\\/",
                b"\\u0041",
                b"\\n",
                b"\\u000a",
                b"-0",
                b"01",
                b"1.0",
                b"1e2",
                b"9007199254740992",
                b"9007199254740991",
                b"\"a\":1,",
                b",\"z\":null",
                b"true",
                b" ",
            ];
            let tok = *r.pick(TOKENS);
            for (k, b) in tok.iter().enumerate() {
                m.insert(at + k, *b);
            }
        }
        5 => {
            // Duplicate a slice of the line.
            let len = 1 + below(r, 24.min(m.len() - at));
            let piece = m[at..at + len].to_vec();
            let to = below(r, m.len());
            for (k, b) in piece.into_iter().enumerate() {
                m.insert(to + k, b);
            }
        }
        6 => {
            // Upper-case a hex digit or change a digit.
            if m[at].is_ascii_lowercase() {
                m[at] = m[at].to_ascii_uppercase();
            } else if m[at].is_ascii_digit() {
                m[at] = b'0' + (below(r, 10) as u8);
            }
        }
        7 => {
            // Swap two bytes.
            let other = below(r, m.len());
            m.swap(at, other);
        }
        _ => {
            // Change a value's type or spelling where the schema or canonical form cares.
            const SWAPS: &[(&[u8], &[u8])] = &[
                (b"\"status\":\"", b"\"status\":\"x"),
                (b"\"decision\":\"allow\"", b"\"decision\":\"Allow\""),
                (b"\"outcome\":\"pass\"", b"\"outcome\":\"passed\""),
                (b"\"duration_ms\":", b"\"duration_ms\":-"),
                (b"\"duration_ms\":", b"\"duration_ms\":\"1\","),
                (b"\"paths\":[\"", b"\"paths\":[1,\""),
                (b"\"reasons\":[", b"\"reasons\":[null,"),
                (b"\"data\":{", b"\"data\":[{"),
                (b"\"env\":\"", b"\"env\":\"\","),
                (b"\"type\":\"", b"\"typ\":\""),
                (b"\"version\":\"", b"\"version\":1,\"x\":\""),
                (b"\"report_sha256\":\"", b"\"report_sha256\":\"A"),
                (b"\"manifest_sha256\":\"", b"\"manifest_sha256\":\"0"),
                (b"\"kind\":\"", b"\"kind\":\"x"),
                (b",\"signer\":\"", b",\"signer\":\"0"),
                (b"\"v\":1}", b"\"v\":2}"),
                (b"\"ts\":\"2026", b"\"ts\":\"2025"),
                (b"\"actor\":\"", b"\"actor\":\"\\u0007"),
                (b"\"body\":{", b"\"body\":{\"a\":1,"),
            ];
            let (from, to) = *r.pick(SWAPS);
            if let Some(p) = find(&m, from) {
                m.splice(p..p + from.len(), to.iter().copied());
            }
        }
    }
    m
}

#[test]
fn fast_path_accepts_ordinary_entries() {
    let signer = Signer::generate().unwrap();
    let plain = lines(400, true, 0x0fa5_7000_0000_0001, &signer);
    for l in &plain {
        assert!(
            agree(l),
            "fast path declined an ordinary entry:\n{}",
            String::from_utf8_lossy(l)
        );
    }
}

#[test]
fn fast_path_never_accepts_what_the_reference_rejects() {
    let signer = Signer::generate().unwrap();
    let knob = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let seed = knob("FASTLINE_SEED", 2);
    let scale = knob("FASTLINE_SCALE", 1).max(1) as usize;
    let mut r = Rng(0xd1ff_0000_5eed_0000 ^ seed);
    let mut base = lines(150 * scale, true, 0x0fa5_7000_0000_0003 ^ seed, &signer);
    base.extend(lines(
        150 * scale,
        false,
        0x0fa5_7000_0000_0004 ^ seed,
        &signer,
    ));
    let (mut tried, mut fast_yes, mut rehashed_yes) = (0u64, 0u64, 0u64);
    for line in &base {
        agree(line);
        for _ in 0..400 {
            let mut m = mutate(&mut r, line);
            if below(&mut r, 3) == 0 {
                m = mutate(&mut r, &m);
            }
            tried += 1;
            fast_yes += u64::from(agree(&m));
            if let Some(h) = rehash(&m) {
                tried += 1;
                rehashed_yes += u64::from(agree(&h));
            }
        }
    }
    eprintln!("{tried} lines tried; accepted by the fast path: {fast_yes} as mutated, {rehashed_yes} re-hashed");
    // The mutations must reach acceptance sometimes (digit changes, moved optional members),
    // or the test exercises nothing but early exits.
    assert!(tried > 200_000, "{tried}");
    assert!(
        rehashed_yes > 1_000,
        "only {rehashed_yes} re-hashed mutations were accepted (fast path: {fast_yes})"
    );
}

#[test]
fn hand_picked_spellings() {
    let signer = Signer::generate().unwrap();
    let mut e = Entry::seal(
        7,
        "2026-11-22T12:00:00.123Z".into(),
        Kind::Event,
        "ci".into(),
        Some(signer.id().to_string()),
        json!({"type": "t", "data": {"s": "q\"b\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é😀/", "n": -5, "z": [1, "x", null, true, false, {}, []]}}),
        [9; 32],
    )
    .unwrap();
    e.sig = Some(signer.sign(&e.signing_message()));
    let line = e.to_line();
    assert!(agree(&line), "{}", String::from_utf8_lossy(&line));
    // Each of these spellings means the same entry (or none) and must not pass the fast path.
    let text = String::from_utf8(line.clone()).unwrap();
    let variants = [
        text.replace("\"n\":-5", "\"n\":-5e0"),
        text.replace("[1,", "[1 ,"),
        text.replace("\\u001f", "\\u001F"),
        text.replace("\\n", "\\u000a"),
        text.replace("/\"", "\\/\""),
        text.replace("\"n\":-5", "\"n\":-5.0"),
        text.replace("\"n\":-5", "\"n\":-05"),
        text.replace("{\"actor\"", "{ \"actor\""),
        text.replace("\"v\":1}", "\"v\":1 }"),
        text.replace("\"v\":1}", "\"v\":1,\"v\":1}"),
        text.replace("\"data\":{", "\"data\":{\"n\":1,"),
    ];
    for v in variants {
        if v == text {
            continue;
        }
        let v = rehash(v.as_bytes()).unwrap();
        assert!(
            fastline::scan(&v).is_none(),
            "{}",
            String::from_utf8_lossy(&v)
        );
        assert!(Entry::parse_line(&v).is_err());
    }
}
