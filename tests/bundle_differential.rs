//! Differential test of the three bundle verifiers (`ledger bundle verify`, `audit/verify.sh`,
//! `audit/verify.py`): one real bundle, a corpus of mutated copies, and the requirement that
//! all three give the same verdict on every copy (all OK, or all FAIL with exit 1).
//!
//! Most mutations are made as the holder of the signing key would make them: after the edit,
//! the entry hash and signature, the Merkle tree, the checkpoint, the DSSE statement, the
//! manifest and its signature are recomputed and re-signed, so only the verifiers' semantic
//! checks (exact JSON form, exact field paths, cross-file consistency) can tell them apart.
//! Every verifier runs pinned to the real key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_ledger::bundle::{dsse, manifest, tlog};
use audit_ledger::keys::Signer;
use audit_ledger::ledger::entry::{leaf_hash, signing_message};
use base64::Engine as _;
use common::Env;
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What the test knows as the key holder.
struct World {
    env: Env,
    signer: Signer,
    pubkey: PathBuf,
    bundle: PathBuf,
    /// A later bundle of the same ledger (a bigger checkpoint), for swaps.
    other: PathBuf,
    /// Leaf hashes of the whole ledger, by seq.
    leaves: Vec<[u8; 32]>,
}

fn setup() -> World {
    let (env, key, dist) = common::release_ledger(6, 5000);
    let k = key.to_str().unwrap();
    let repo = common::git_repo(env.path());
    let create = |version: &str| {
        let out = env
            .cmd(&[
                "--key",
                k,
                "bundle",
                "create",
                "--version",
                version,
                "--repo",
                repo.to_str().unwrap(),
                "--artifacts",
                dist.to_str().unwrap(),
            ])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
        env.dir().join(format!("bundle-{version}"))
    };
    let bundle = create("1.0.0");
    let other = create("1.0.1");
    let leaves = std::fs::read_to_string(env.log())
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let mut h = [0u8; 32];
            hex::decode_to_slice(v["hash"].as_str().unwrap(), &mut h).unwrap();
            h
        })
        .collect();
    World {
        signer: Signer::load(&key).unwrap(),
        pubkey: PathBuf::from(format!("{}.pub", key.display())),
        env,
        bundle,
        other,
        leaves,
    }
}

// ---------------------------------------------------------------------------------------------
// File helpers and the key holder's tools.

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

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_str().unwrap();
            (rel.to_string(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn read(d: &Path, name: &str) -> Vec<u8> {
    std::fs::read(d.join(name)).unwrap()
}

fn write(d: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    std::fs::write(d.join(name), bytes).unwrap()
}

/// Sorted keys, no whitespace, serde_json's minimal escapes: the canonical spelling, also for
/// values the library refuses to encode (huge integers, non-ASCII keys) that mutations need.
fn canonical(v: &Value) -> Vec<u8> {
    fn enc(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut kv: Vec<_> = m.iter().collect();
                kv.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (k, x)) in kv.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    enc(x, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    enc(x, out);
                }
                out.push(']');
            }
            _ => out.push_str(&serde_json::to_string(v).unwrap()),
        }
    }
    let mut out = String::new();
    enc(v, &mut out);
    out.into_bytes()
}

fn canonical_nl(v: &Value) -> Vec<u8> {
    let mut b = canonical(v);
    b.push(b'\n');
    b
}

fn json_of(d: &Path, name: &str) -> Value {
    serde_json::from_slice(&read(d, name)).unwrap()
}

/// The DSSE statement's predicate.
fn predicate(d: &Path) -> Value {
    let env = dsse::parse_envelope(&read(d, "attestation.dsse.json")).unwrap();
    dsse::parse_statement(&env.payload).unwrap().1
}

/// Write `payload` into a DSSE envelope signed with `signer`.
fn write_envelope(d: &Path, payload: &[u8], signer: &Signer) {
    let env = dsse::envelope(payload, signer.id(), |m| signer.sign(m)).unwrap();
    write(d, "attestation.dsse.json", env);
}

/// Re-sign as the key holder: a new statement (subjects = every file but the envelope and the
/// manifest files; `pred` as predicate), then the manifest and its signature.
fn reseal_with(d: &Path, signer: &Signer, pred: &Value) {
    let mut files = files_of(d);
    files.remove(manifest::MANIFEST);
    files.remove(manifest::MANIFEST_SIG);
    let subjects: Vec<dsse::Subject> = files
        .iter()
        .filter(|(n, _)| n.as_str() != "attestation.dsse.json")
        .map(|(n, b)| dsse::Subject {
            name: n.clone(),
            sha256: manifest::sha256(b),
        })
        .collect();
    write_envelope(d, &dsse::statement(&subjects, pred).unwrap(), signer);
    reseal_manifest(d, signer);
}

fn reseal(d: &Path, signer: &Signer) {
    let p = predicate(d);
    reseal_with(d, signer, &p);
}

/// Only the manifest and its signature (the envelope is left as it is).
fn reseal_manifest(d: &Path, signer: &Signer) {
    let mut files = files_of(d);
    files.remove(manifest::MANIFEST);
    files.remove(manifest::MANIFEST_SIG);
    let lines: Vec<manifest::Line> = files
        .iter()
        .map(|(p, b)| manifest::Line {
            path: p.clone(),
            sha256: manifest::sha256(b),
        })
        .collect();
    let m = manifest::encode(&lines).unwrap();
    write(d, manifest::MANIFEST, &m);
    write(
        d,
        manifest::MANIFEST_SIG,
        format!("{}\n", B64.encode(signer.sign(&m))),
    );
}

/// Give the entry `e` (an object) its hash and signature back, as the ledger would.
fn seal_entry(e: &mut Value, signer: &Signer) -> [u8; 32] {
    let o = e.as_object_mut().unwrap();
    o.remove("hash");
    o.remove("sig");
    let h = leaf_hash(&canonical(e));
    let sig = B64.encode(signer.sign(&signing_message(&h)));
    let o = e.as_object_mut().unwrap();
    o.insert("hash".into(), hex::encode(h).into());
    o.insert("sig".into(), sig.into());
    h
}

/// The bundle's entries, as (seq, value) in file order.
fn entries(d: &Path) -> Vec<Value> {
    String::from_utf8(read(d, "entries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Rebuild the tree over `leaves` (the ledger's, with the bundle's entries as given), then the
/// proofs of `seqs`, the checkpoint, metadata.json's ledger fields, and reseal everything.
fn retree(w: &World, d: &Path, leaves: &[[u8; 32]], seqs: &[u64]) {
    let cp = tlog::verify_checkpoint(&read(d, "checkpoint"), &w.signer.public()).unwrap();
    let leaves = &leaves[..cp.size as usize];
    let root = tlog::root(leaves);
    for e in std::fs::read_dir(d.join("proofs")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    for s in seqs {
        let p = tlog::prove(*s, leaves).unwrap();
        write(
            d,
            &format!("proofs/inclusion-{s}.json"),
            tlog::proof_bytes(&p).unwrap(),
        );
    }
    write(
        d,
        "checkpoint",
        tlog::sign_checkpoint(&cp.origin, cp.size, &root, &cp.name, &w.signer).unwrap(),
    );
    let mut meta = json_of(d, "metadata.json");
    meta["ledger"]["root_hash"] = hex::encode(root).into();
    meta["ledger"]["proved"] = json!(seqs);
    write(d, "metadata.json", canonical_nl(&meta));
    reseal(d, &w.signer);
}

/// Edit the bundle's entry at `index` (file order) with `f`, re-seal it, write the entries with
/// `spell` (the canonical form unless a mutation says otherwise), and rebuild everything.
fn edit_entry(
    w: &World,
    d: &Path,
    index: usize,
    f: &dyn Fn(&mut Value),
    spell: &dyn Fn(&Value) -> Vec<u8>,
) {
    let mut es = entries(d);
    f(&mut es[index]);
    let h = seal_entry(&mut es[index], &w.signer);
    let mut leaves = w.leaves.clone();
    let seq = es[index]["seq"].as_u64().unwrap() as usize;
    leaves[seq] = h;
    let mut out = Vec::new();
    for (i, e) in es.iter().enumerate() {
        out.extend(if i == index { spell(e) } else { canonical(e) });
        out.push(b'\n');
    }
    write(d, "entries.jsonl", out);
    let seqs: Vec<u64> = es.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    retree(w, d, &leaves, &seqs);
}

/// Edit metadata.json's value and write it back with `spell`, then reseal.
fn edit_meta(w: &World, d: &Path, f: &dyn Fn(&mut Value), spell: &dyn Fn(&Value) -> Vec<u8>) {
    let mut m = json_of(d, "metadata.json");
    f(&mut m);
    write(d, "metadata.json", spell(&m));
    reseal(d, &w.signer);
}

/// Write metadata.json's bytes as given (text built by the mutation), then reseal.
fn meta_text(w: &World, d: &Path, f: &dyn Fn(String) -> String) {
    let t = String::from_utf8(read(d, "metadata.json")).unwrap();
    write(d, "metadata.json", f(t));
    reseal(d, &w.signer);
}

/// Set a stray bit in the last digit of padded base64 (same bytes, non-canonical text).
fn stray_bits(b64: &str) -> String {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = b64.trim_end_matches('=');
    let (head, last) = data.split_at(data.len() - 1);
    let v = ALPHA.iter().position(|c| *c == last.as_bytes()[0]).unwrap();
    let pad = b64.len() - data.len();
    format!("{head}{}{}", ALPHA[v | 1] as char, "=".repeat(pad))
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap();
    b.push(b'\n');
    b
}

// ---------------------------------------------------------------------------------------------
// Running the verifiers.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    Fail,
    /// Anything else: another exit code, or exit 1 without a clear failure line.
    Odd(i32),
}

fn verdict(out: &Output) -> Verdict {
    let err = String::from_utf8_lossy(&out.stderr);
    let clear = err
        .lines()
        .any(|l| l.starts_with("FAIL: ") || l.starts_with("ledger: "));
    let traceback = err.contains("Traceback");
    match out.status.code() {
        Some(0) if String::from_utf8_lossy(&out.stdout).starts_with("OK: bundle") => Verdict::Ok,
        Some(1) if clear && !traceback => Verdict::Fail,
        c => Verdict::Odd(c.unwrap_or(-1)),
    }
}

fn first_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let s = err
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    s.chars().take(110).collect()
}

fn run_all(dir: &Path, pubkey: &Path) -> [(Verdict, String); 3] {
    let root = env!("CARGO_MANIFEST_DIR");
    let ledger = || {
        Command::new(common::bin())
            .args(["bundle", "verify"])
            .arg(dir)
            .arg("--pubkey")
            .arg(pubkey)
            .output()
            .unwrap()
    };
    let script = |prog: &str, path: String| {
        Command::new(prog)
            .arg(path)
            .arg("--pubkey")
            .arg(pubkey)
            .arg(dir)
            .output()
            .unwrap()
    };
    let (a, b, c) = std::thread::scope(|s| {
        let a = s.spawn(ledger);
        let b = s.spawn(|| script("sh", format!("{root}/audit/verify.sh")));
        let c = script("python3", format!("{root}/audit/verify.py"));
        (a.join().unwrap(), b.join().unwrap(), c)
    });
    [a, b, c].map(|o| (verdict(&o), first_line(&o)))
}

type Mutation<'a> = Box<dyn Fn(&Path) + Sync + 'a>;

fn add<'a>(corpus: &mut Vec<(String, Mutation<'a>)>, name: &str, f: Mutation<'a>) {
    corpus.push((name.to_string(), f));
}

#[test]
fn three_verifiers_agree_on_every_mutation() {
    let world = setup();
    let w = &world;
    let signer = &w.signer;
    let mut corpus: Vec<(String, Mutation)> = Vec::new();

    add(&mut corpus, "intact", Box::new(|_| {}));
    // Without the key: byte flips, truncations, removed and added files.
    for name in files_of(&w.bundle).into_keys() {
        let n = name.clone();
        add(
            &mut corpus,
            &format!("byte flipped in {name}"),
            Box::new(move |d| {
                let mut b = read(d, &n);
                let i = b.len() / 3;
                b[i] ^= 0x20;
                write(d, &n, b);
            }),
        );
    }
    for name in [
        "metadata.json",
        "entries.jsonl",
        "checkpoint",
        "attestation.dsse.json",
        "MANIFEST.sha256",
    ] {
        add(
            &mut corpus,
            &format!("{name} truncated"),
            Box::new(move |d| {
                let b = read(d, name);
                write(d, name, &b[..b.len() - 2]);
            }),
        );
    }
    for name in [
        "signer.pem",
        "sbom.cdx.json",
        "proofs/inclusion-8.json",
        "MANIFEST.sha256.sig",
        "trust-summary.json",
    ] {
        add(
            &mut corpus,
            &format!("{name} removed"),
            Box::new(move |d| std::fs::remove_file(d.join(name)).unwrap()),
        );
    }
    add(
        &mut corpus,
        "file added",
        Box::new(|d| write(d, "extra.txt", "x")),
    );
    add(
        &mut corpus,
        "proof added for an entry not in the bundle",
        Box::new(|d| {
            let p = read(d, "proofs/inclusion-8.json");
            write(d, "proofs/inclusion-3.json", p);
        }),
    );
    add(
        &mut corpus,
        "manifest signature with stray base64 bits",
        Box::new(|d| {
            let s = String::from_utf8(read(d, manifest::MANIFEST_SIG)).unwrap();
            write(
                d,
                manifest::MANIFEST_SIG,
                format!("{}\n", stray_bits(s.trim_end())),
            );
        }),
    );
    add(
        &mut corpus,
        "DSSE signature with stray base64 bits",
        Box::new(|d| {
            let mut v = json_of(d, "attestation.dsse.json");
            let s = v["signatures"][0]["sig"].as_str().unwrap().to_string();
            v["signatures"][0]["sig"] = stray_bits(&s).into();
            write(d, "attestation.dsse.json", canonical_nl(&v));
        }),
    );
    add(
        &mut corpus,
        "checkpoint swapped for a later bundle's",
        Box::new(|d| write(d, "checkpoint", read(&w.other, "checkpoint"))),
    );
    add(
        &mut corpus,
        "checkpoint swapped for a later bundle's, resealed",
        Box::new(|d| {
            write(d, "checkpoint", read(&w.other, "checkpoint"));
            reseal(d, signer);
        }),
    );

    // With the key: metadata.json.
    add(
        &mut corpus,
        "metadata: duplicate key version (decoy first)",
        Box::new(|d| {
            meta_text(w, d, &|t| {
                t.replacen("{", "{\"version\":\"1.0.0\",", 1)
                    .replace("\"version\":\"1.0.0\"}", "\"version\":\"6.6.6\"}")
            })
        }),
    );
    add(
        &mut corpus,
        "metadata: duplicate key ledger (decoy last)",
        Box::new(|d| {
            meta_text(w, d, &|t| {
                let m: Value = serde_json::from_str(&t).unwrap();
                let mut fake = m["ledger"].clone();
                fake["tree_size"] = json!(99);
                let real = String::from_utf8(canonical(&m["ledger"])).unwrap();
                let fake = String::from_utf8(canonical(&fake)).unwrap();
                t.replace(
                    &format!("\"ledger\":{real}"),
                    &format!("\"ledger\":{fake},\"ledger\":{real}"),
                )
            })
        }),
    );
    add(
        &mut corpus,
        "metadata: decoy nested object holds the checkpoint's fields, the real ones differ",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    let real = m["ledger"].clone();
                    m["ledger"]["tree_size"] = json!(3);
                    m["source"]["decoy"] = json!({ "ledger": real });
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: decoy top-level key containing a slash",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    let real = m["ledger"]["root_hash"].clone();
                    m["ledger"]["root_hash"] = json!("00".repeat(32));
                    m["ledger/root_hash"] = real;
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: version in a nested decoy, the real one altered",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    m["artifacts"][0]["version"] = m["version"].clone();
                    m["version"] = json!("1.0.0x");
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: extra field (canonical, consistent)",
        Box::new(|d| edit_meta(w, d, &|m| m["zz_note"] = json!("hello"), &canonical_nl)),
    );
    add(
        &mut corpus,
        "metadata: pretty-printed",
        Box::new(|d| edit_meta(w, d, &|_| {}, &pretty)),
    );
    add(
        &mut corpus,
        "metadata: keys reordered",
        Box::new(|d| {
            meta_text(w, d, &|t| {
                let m: Value = serde_json::from_str(&t).unwrap();
                let o = m.as_object().unwrap();
                let mut parts: Vec<String> = o
                    .iter()
                    .map(|(k, v)| {
                        format!("{}:{}", json!(k), String::from_utf8(canonical(v)).unwrap())
                    })
                    .collect();
                parts.reverse();
                format!("{{{}}}\n", parts.join(","))
            })
        }),
    );
    add(
        &mut corpus,
        "metadata: a space after a colon",
        Box::new(|d| meta_text(w, d, &|t| t.replacen("\"version\":", "\"version\": ", 1))),
    );
    add(
        &mut corpus,
        "metadata: escaped spelling of a plain character",
        Box::new(|d| {
            meta_text(w, d, &|t| {
                t.replacen("\"version\":\"1", "\"version\":\"\\u0031", 1)
            })
        }),
    );
    add(
        &mut corpus,
        "metadata: no final newline",
        Box::new(|d| meta_text(w, d, &|t| t.trim_end().to_string())),
    );
    add(
        &mut corpus,
        "metadata: version changed here only",
        Box::new(|d| edit_meta(w, d, &|m| m["version"] = json!("1.0.9"), &canonical_nl)),
    );
    add(
        &mut corpus,
        "metadata and attestation: version changed in both",
        Box::new(|d| {
            let mut m = json_of(d, "metadata.json");
            m["version"] = json!("1.0.9");
            write(d, "metadata.json", canonical_nl(&m));
            let mut p = predicate(d);
            p["version"] = json!("1.0.9");
            reseal_with(d, signer, &p);
        }),
    );
    add(
        &mut corpus,
        "metadata and attestation: an invalid version in both",
        Box::new(|d| {
            let mut m = json_of(d, "metadata.json");
            m["version"] = json!("-1.0 x");
            write(d, "metadata.json", canonical_nl(&m));
            let mut p = predicate(d);
            p["version"] = json!("-1.0 x");
            reseal_with(d, signer, &p);
        }),
    );
    add(
        &mut corpus,
        "metadata: ledger.proved altered",
        Box::new(|d| edit_meta(w, d, &|m| m["ledger"]["proved"] = json!([8]), &canonical_nl)),
    );
    add(
        &mut corpus,
        "metadata: ledger.tree_size as a string",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    let s = m["ledger"]["tree_size"].to_string();
                    m["ledger"]["tree_size"] = json!(s);
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: an artifact digest altered",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| m["artifacts"][0]["sha256"] = json!("ab".repeat(32)),
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: artifact digest altered, SBOM marked imported",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    m["artifacts"][0]["sha256"] = json!("ab".repeat(32));
                    m["sbom"]["source"] = json!("imported");
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: an artifact listed twice",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| {
                    let a = m["artifacts"][0].clone();
                    m["artifacts"].as_array_mut().unwrap().push(a);
                },
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: an integer beyond 2^53",
        Box::new(|d| {
            edit_meta(
                w,
                d,
                &|m| m["zz"] = json!(9_007_199_254_740_993u64),
                &canonical_nl,
            )
        }),
    );
    add(
        &mut corpus,
        "metadata: a float",
        Box::new(|d| meta_text(w, d, &|t| t.replacen("{", "{\"a\":1.5,", 1))),
    );

    // With the key: the SBOM.
    let sbom_edit = |f: &'static (dyn Fn(&mut Value) + Sync)| -> Mutation {
        Box::new(move |d| {
            let mut s = json_of(d, "sbom.cdx.json");
            f(&mut s);
            write(d, "sbom.cdx.json", pretty(&s));
            reseal(d, &w.signer);
        })
    };
    fn file_component(s: &mut Value) -> &mut Value {
        s["components"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["type"] == "file")
            .unwrap()
    }
    add(&mut corpus, "sbom: reformatted", sbom_edit(&|_| {}));
    add(
        &mut corpus,
        "sbom: a file component's digest altered",
        sbom_edit(&|s| file_component(s)["hashes"][0]["content"] = json!("cd".repeat(32))),
    );
    add(
        &mut corpus,
        "sbom: a file component renamed",
        sbom_edit(&|s| file_component(s)["name"] = json!("other.bin")),
    );
    add(
        &mut corpus,
        "sbom: specVersion 1.6",
        sbom_edit(&|s| s["specVersion"] = json!("1.6")),
    );
    add(
        &mut corpus,
        "sbom: duplicate key bomFormat",
        Box::new(|d| {
            let t = String::from_utf8(read(d, "sbom.cdx.json")).unwrap();
            write(
                d,
                "sbom.cdx.json",
                t.replacen("{", "{\"bomFormat\":\"Other\",", 1),
            );
            reseal(d, signer);
        }),
    );

    // With the key: entries.
    fn canon_spell(e: &Value) -> Vec<u8> {
        canonical(e)
    }
    add(
        &mut corpus,
        "entry: actor changed, everything re-signed",
        Box::new(|d| edit_entry(w, d, 0, &|e| e["actor"] = json!("mallory"), &canon_spell)),
    );
    add(
        &mut corpus,
        "entry: changed, hash left as it was",
        Box::new(|d| {
            let t = String::from_utf8(read(d, "entries.jsonl")).unwrap();
            write(
                d,
                "entries.jsonl",
                t.replacen("\"actor\":\"release\"", "\"actor\":\"mallory\"", 1),
            );
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "entry: whitespace between tokens (hash of the canonical form)",
        Box::new(|d| {
            edit_entry(w, d, 1, &|_| {}, &|e| {
                serde_json::to_vec_pretty(e)
                    .unwrap()
                    .into_iter()
                    .filter(|b| *b != b'\n')
                    .collect()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: keys reordered",
        Box::new(|d| {
            edit_entry(w, d, 1, &|_| {}, &|e| {
                let parts: Vec<String> = e
                    .as_object()
                    .unwrap()
                    .iter()
                    .rev()
                    .map(|(k, v)| {
                        format!("{}:{}", json!(k), String::from_utf8(canonical(v)).unwrap())
                    })
                    .collect();
                format!("{{{}}}", parts.join(",")).into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: duplicate key actor (decoy first)",
        Box::new(|d| {
            edit_entry(w, d, 1, &|_| {}, &|e| {
                let c = String::from_utf8(canonical(e)).unwrap();
                c.replacen("{", "{\"actor\":\"mallory\",", 1).into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: duplicate key inside the body",
        Box::new(|d| {
            edit_entry(w, d, 1, &|_| {}, &|e| {
                let c = String::from_utf8(canonical(e)).unwrap();
                c.replacen("\"body\":{", "\"body\":{\"commit\":\"zzz\",", 1)
                    .into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: escaped spelling of a plain character",
        Box::new(|d| {
            edit_entry(w, d, 1, &|_| {}, &|e| {
                let c = String::from_utf8(canonical(e)).unwrap();
                c.replacen("\"actor\":\"c", "\"actor\":\"\\u0063", 1)
                    .into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: escaped slash",
        Box::new(|d| {
            edit_entry(w, d, 1, &|e| e["actor"] = json!("ci/x"), &|e| {
                let c = String::from_utf8(canonical(e)).unwrap();
                c.replacen("ci/x", "ci\\/x", 1).into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: non-ASCII actor (canonical, raw UTF-8)",
        Box::new(|d| edit_entry(w, d, 0, &|e| e["actor"] = json!("rélease ✓"), &canon_spell)),
    );
    add(
        &mut corpus,
        "entry: non-ASCII written as \\u escape",
        Box::new(|d| {
            edit_entry(w, d, 0, &|e| e["actor"] = json!("é"), &|e| {
                String::from_utf8(canonical(e))
                    .unwrap()
                    .replacen("é", "\\u00e9", 1)
                    .into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: unknown top-level field",
        Box::new(|d| edit_entry(w, d, 0, &|e| e["zz"] = json!(1), &canon_spell)),
    );
    add(
        &mut corpus,
        "entry: v is 2",
        Box::new(|d| edit_entry(w, d, 0, &|e| e["v"] = json!(2), &canon_spell)),
    );
    add(
        &mut corpus,
        "entry: an integer beyond 2^53 in the body",
        Box::new(|d| {
            edit_entry(
                w,
                d,
                0,
                &|e| e["body"]["n"] = json!(9_007_199_254_740_993u64),
                &canon_spell,
            )
        }),
    );
    add(
        &mut corpus,
        "entry: a float in the body",
        Box::new(|d| {
            edit_entry(w, d, 0, &|_| {}, &|e| {
                String::from_utf8(canonical(e))
                    .unwrap()
                    .replacen("\"body\":{", "\"body\":{\"f\":1.5,", 1)
                    .into_bytes()
            })
        }),
    );
    add(
        &mut corpus,
        "entry: a non-ASCII key in the body",
        Box::new(|d| edit_entry(w, d, 0, &|e| e["body"]["clé"] = json!(1), &canon_spell)),
    );
    add(
        &mut corpus,
        "entry: removed with its proof, metadata updated",
        Box::new(|d| {
            let es = entries(d);
            write(
                d,
                "entries.jsonl",
                [canonical(&es[1]), b"\n".to_vec()].concat(),
            );
            let seq = es[1]["seq"].as_u64().unwrap();
            retree(w, d, &w.leaves, &[seq]);
        }),
    );
    add(
        &mut corpus,
        "entries: two lines swapped",
        Box::new(|d| {
            let es = entries(d);
            let out = [
                canonical(&es[1]),
                b"\n".to_vec(),
                canonical(&es[0]),
                b"\n".to_vec(),
            ]
            .concat();
            write(d, "entries.jsonl", out);
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "entry: CRLF line ending",
        Box::new(|d| {
            let t = String::from_utf8(read(d, "entries.jsonl")).unwrap();
            write(d, "entries.jsonl", t.replace('\n', "\r\n"));
            reseal(d, signer);
        }),
    );

    // With the key: proofs, attestation, checkpoint, manifest.
    add(
        &mut corpus,
        "proof: a space after a comma",
        Box::new(|d| {
            let t = String::from_utf8(read(d, "proofs/inclusion-8.json")).unwrap();
            write(d, "proofs/inclusion-8.json", t.replacen(",", ", ", 1));
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "proof: a path hash altered",
        Box::new(|d| {
            let mut p = json_of(d, "proofs/inclusion-8.json");
            p["hashes"][0] = json!("00".repeat(32));
            write(d, "proofs/inclusion-8.json", canonical_nl(&p));
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "attestation: a subject with an extra member",
        Box::new(|d| {
            let env = dsse::parse_envelope(&read(d, "attestation.dsse.json")).unwrap();
            let mut st: Value = serde_json::from_slice(&env.payload).unwrap();
            st["subject"][0]["zz"] = json!(1);
            write_envelope(d, &canonical(&st), signer);
            reseal_manifest(d, signer);
        }),
    );
    add(
        &mut corpus,
        "attestation: payload keys reordered",
        Box::new(|d| {
            let env = dsse::parse_envelope(&read(d, "attestation.dsse.json")).unwrap();
            let t = String::from_utf8(env.payload).unwrap();
            let st: Value = serde_json::from_str(&t).unwrap();
            let o = st.as_object().unwrap();
            let parts: Vec<String> = o
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", json!(k), String::from_utf8(canonical(v)).unwrap()))
                .collect();
            write_envelope(d, format!("{{{}}}", parts.join(",")).as_bytes(), signer);
            reseal_manifest(d, signer);
        }),
    );
    add(
        &mut corpus,
        "attestation: predicate with a nested decoy version",
        Box::new(|d| {
            let mut p = predicate(d);
            p["zz"] = json!({"version": "9.9.9"});
            reseal_with(d, signer, &p);
        }),
    );
    add(
        &mut corpus,
        "attestation: predicate version in a decoy only",
        Box::new(|d| {
            let mut p = predicate(d);
            let v = p["version"].clone();
            p.as_object_mut().unwrap().remove("version");
            p["zz"] = json!({ "version": v });
            reseal_with(d, signer, &p);
        }),
    );
    add(
        &mut corpus,
        "checkpoint: re-signed for another origin, metadata updated",
        Box::new(|d| {
            let cp = tlog::verify_checkpoint(&read(d, "checkpoint"), &w.signer.public()).unwrap();
            let origin = "elsewhere.example/log";
            write(
                d,
                "checkpoint",
                tlog::sign_checkpoint(origin, cp.size, &cp.root, &cp.name, signer).unwrap(),
            );
            let mut m = json_of(d, "metadata.json");
            m["ledger"]["origin"] = json!(origin);
            write(d, "metadata.json", canonical_nl(&m));
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "checkpoint: re-signed for another origin, metadata not updated",
        Box::new(|d| {
            let cp = tlog::verify_checkpoint(&read(d, "checkpoint"), &w.signer.public()).unwrap();
            write(
                d,
                "checkpoint",
                tlog::sign_checkpoint("elsewhere.example/log", cp.size, &cp.root, &cp.name, signer)
                    .unwrap(),
            );
            reseal(d, signer);
        }),
    );
    add(
        &mut corpus,
        "manifest: lines reordered, re-signed",
        Box::new(|d| {
            let t = String::from_utf8(read(d, manifest::MANIFEST)).unwrap();
            let mut lines: Vec<&str> = t.lines().collect();
            lines.swap(0, 1);
            let m = format!("{}\n", lines.join("\n"));
            write(d, manifest::MANIFEST, &m);
            write(
                d,
                manifest::MANIFEST_SIG,
                format!("{}\n", B64.encode(signer.sign(m.as_bytes()))),
            );
        }),
    );
    add(
        &mut corpus,
        "manifest: a line for a file that is not there, re-signed",
        Box::new(|d| {
            let mut t = String::from_utf8(read(d, manifest::MANIFEST)).unwrap();
            t.push_str(&format!("{}  zzz.txt\n", "00".repeat(32)));
            write(d, manifest::MANIFEST, &t);
            write(
                d,
                manifest::MANIFEST_SIG,
                format!("{}\n", B64.encode(signer.sign(t.as_bytes()))),
            );
        }),
    );
    add(
        &mut corpus,
        "trust-summary edited, resealed",
        Box::new(|d| {
            let mut t = json_of(d, "trust-summary.json");
            t["zz"] = json!(true);
            write(d, "trust-summary.json", canonical_nl(&t));
            reseal(d, signer);
        }),
    );

    // Run the corpus on a few threads: each case runs its three verifiers at once.
    let work = w.env.path().join("cases");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((name, f)) = corpus.get(i) else {
                    break;
                };
                let d = work.join(format!("case-{i:03}"));
                copy_dir(&w.bundle, &d);
                f(&d);
                let r = run_all(&d, &w.pubkey);
                results.lock().unwrap().push((i, name.clone(), r));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|r| r.0);

    let mut table = String::new();
    let mut bad = 0;
    let (mut oks, mut fails) = (0, 0);
    for (_, name, r) in &results {
        let v: Vec<Verdict> = r.iter().map(|x| x.0).collect();
        let agree = v.iter().all(|x| *x == Verdict::Ok) || v.iter().all(|x| *x == Verdict::Fail);
        match v[0] {
            Verdict::Ok if agree => oks += 1,
            Verdict::Fail if agree => fails += 1,
            _ => {}
        }
        eprintln!(
            "{:<4} {:<4} {:<4}  {name}",
            format!("{:?}", v[0]),
            format!("{:?}", v[1]),
            format!("{:?}", v[2])
        );
        if !agree {
            bad += 1;
            table.push_str(&format!("\n{name}\n"));
            for (who, (verdict, line)) in ["ledger", "verify.sh", "verify.py"].iter().zip(r) {
                table.push_str(&format!("    {who:<10} {verdict:?}  {line}\n"));
            }
        }
    }
    eprintln!(
        "{} mutations: {oks} OK, {fails} FAIL by all three, {bad} disagreements",
        results.len()
    );
    assert!(results.len() >= 40, "{} mutations", results.len());
    assert_eq!(
        results[0].2[0].0,
        Verdict::Ok,
        "the intact bundle must verify"
    );
    assert_eq!(bad, 0, "verifiers disagree on {bad} mutations:{table}");
}
