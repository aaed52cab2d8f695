//! Cross-checks against implementations nobody here wrote (issue 2 acceptance):
//! * canonical bytes of 1,000 generated entries equal Python's
//!   `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`;
//! * leaf hashes recomputed by Python's hashlib match;
//! * entry signatures made by `ledger` verify with Python `cryptography` and with `openssl pkeyutl`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Rng;

use std::process::{Command, Stdio};

use audit_ledger::keys::Signer;
use audit_ledger::ledger::entry::{Entry, ZERO_HASH};
use audit_ledger::ledger::Kind;
use serde_json::{json, Map, Value};

const ALPHABET: &[&str] = &[
    "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1f}",
    "\u{7f}", "é", "ß", "€", "\u{2028}", "\u{2029}", "😀", "中", "\u{fffd}", "<", "&", "'",
];

fn gen_string(r: &mut Rng) -> String {
    (0..r.below(12))
        .map(|_| ALPHABET[r.below(ALPHABET.len() as u64) as usize])
        .collect()
}

fn gen_key(r: &mut Rng) -> String {
    const KEYS: &[&str] = &[
        "a",
        "b",
        "A",
        "_x",
        "z9",
        "key with space",
        "~",
        "aa",
        "a\"q",
        "\\",
    ];
    KEYS[r.below(KEYS.len() as u64) as usize].to_string()
}

fn gen_value(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 3 { 4 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(r.below(2) == 0),
        2 => {
            let max = (1i64 << 53) - 1;
            let n = match r.below(4) {
                0 => 0,
                1 => max,
                2 => -max,
                _ => (r.next() % (max as u64)) as i64 * if r.below(2) == 0 { 1 } else { -1 },
            };
            json!(n)
        }
        3 => Value::String(gen_string(r)),
        4 | 5 => {
            let mut m = Map::new();
            for _ in 0..r.below(5) {
                m.insert(gen_key(r), gen_value(r, depth + 1));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..r.below(4)).map(|_| gen_value(r, depth + 1)).collect()),
    }
}

fn generated_entries(n: usize, signer: &Signer) -> Vec<Entry> {
    let mut r = Rng(0x5eed_1234_abcd_0001);
    let mut prev = ZERO_HASH;
    let mut out = Vec::new();
    for seq in 0..n as u64 {
        let mut data = Map::new();
        for _ in 0..r.below(6) {
            data.insert(gen_key(&mut r), gen_value(&mut r, 0));
        }
        let body =
            json!({"type": gen_string(&mut r) + "t", "data": data, "note": gen_string(&mut r)});
        let actor = format!(
            "actor-{}",
            gen_string(&mut r).replace(|c: char| c.is_control(), "_")
        );
        let signer_id = (seq % 3 != 0).then(|| signer.id().to_string());
        let mut e = Entry::seal(
            seq,
            "2026-11-22T12:00:00.123Z".into(),
            Kind::Event,
            actor,
            signer_id,
            body,
            prev,
        )
        .unwrap();
        if e.signer.is_some() {
            e.sig = Some(signer.sign(&e.signing_message()));
        }
        prev = e.hash;
        out.push(e);
    }
    out
}

const PY_CHECK: &str = r#"
import sys, json, hashlib, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(sys.argv[1]))
records = json.load(open(sys.argv[2], encoding="utf-8"))
canon = open(sys.argv[3], "rb").read().split(b"\n")
n = sigs = 0
for rec, want in zip(records, canon):
    got = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert got == want, ("line", n, got, want)
    unsigned = {k: v for k, v in rec.items() if k not in ("hash", "sig")}
    c = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert hashlib.sha256(b"\x00" + c).hexdigest() == rec["hash"], ("hash", n)
    if "sig" in rec:
        pub.verify(base64.b64decode(rec["sig"]), b"ledger-entry-v1:" + rec["hash"].encode())
        sigs += 1
    n += 1
print(n, sigs)
"#;

#[test]
fn canonical_bytes_hashes_and_signatures_match_python() {
    let signer = Signer::generate().unwrap();
    let entries = generated_entries(1000, &signer);
    let tmp = tempfile::tempdir().unwrap();
    // Python reads a pretty-printed (non-canonical, differently ordered) rendering...
    let values: Vec<Value> = entries.iter().map(Entry::to_value).collect();
    let pretty = tmp.path().join("records.json");
    std::fs::write(&pretty, serde_json::to_string_pretty(&values).unwrap()).unwrap();
    // ...and must reproduce our canonical lines byte for byte.
    let mut canon = Vec::new();
    for e in &entries {
        let line = e.to_line();
        assert_eq!(Entry::parse_line(&line).unwrap(), *e);
        canon.extend_from_slice(&line);
        canon.push(b'\n');
    }
    let canon_path = tmp.path().join("canon.jsonl");
    std::fs::write(&canon_path, &canon).unwrap();
    let out = Command::new("python3")
        .args(["-c", PY_CHECK, &hex::encode(signer.public().as_bytes())])
        .arg(&pretty)
        .arg(&canon_path)
        .output()
        .expect("python3 is required for this test");
    assert!(
        out.status.success(),
        "python check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        counts.trim(),
        "1000 666",
        "entries and signatures checked by Python"
    );
}

#[test]
fn hand_written_escaping_cases() {
    let cases: &[(Value, &str)] = &[
        (
            json!({"b": 1, "a": [true, false, null]}),
            r#"{"a":[true,false,null],"b":1}"#,
        ),
        (json!("\u{0}\u{1f}\u{7f}"), "\"\\u0000\\u001f\u{7f}\""),
        (json!("\"\\/"), r#""\"\\/""#),
        (json!("\u{8}\u{9}\u{a}\u{c}\u{d}"), r#""\b\t\n\f\r""#),
        (json!("é😀\u{2028}"), "\"é😀\u{2028}\""),
        (
            json!({"~": 1, "_": 2, "Z": 3, "a": 4, "0": 5}),
            r#"{"0":5,"Z":3,"_":2,"a":4,"~":1}"#,
        ),
        (json!(-9007199254740991i64), "-9007199254740991"),
        (json!({}), "{}"),
        (json!([]), "[]"),
    ];
    for (v, want) in cases {
        let got = audit_ledger::canonical::encode(v).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), *want);
    }
}

#[test]
fn signatures_verify_with_openssl() {
    let env = common::Env::new();
    let key = env.signed_ledger();
    env.ok(&[
        "--key",
        key.to_str().unwrap(),
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        "prod",
        "--version",
        "v1",
        "--commit",
        "abc",
        "--status",
        "succeeded",
    ]);
    let signer = Signer::load(&key).unwrap();
    let pem = audit_ledger::keys::public_pem(&signer.public());
    let dir = env.path();
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    let log = env.read_log();
    let mut checked = 0;
    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let e = Entry::parse_line(line).unwrap();
        std::fs::write(dir.join("msg"), e.signing_message()).unwrap();
        std::fs::write(dir.join("sig"), e.sig.unwrap()).unwrap();
        let run = |msg: &str| {
            Command::new("openssl")
                .args([
                    "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", msg,
                    "-sigfile", "sig",
                ])
                .current_dir(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl is required for this test")
        };
        assert!(
            run("msg").success(),
            "openssl rejected the signature of seq {}",
            e.seq
        );
        // And it must reject a different message (the check can fail).
        let mut bad = e.signing_message();
        bad[20] ^= 1;
        std::fs::write(dir.join("bad"), bad).unwrap();
        assert!(!run("bad").success());
        checked += 1;
    }
    assert_eq!(checked, 2);
    // The private key file is what openssl itself reads as an Ed25519 PKCS#8 key.
    let st = Command::new("openssl")
        .args(["pkey", "-in"])
        .arg(&key)
        .args(["-noout"])
        .status()
        .unwrap();
    assert!(st.success());
}
