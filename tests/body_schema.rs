//! The draft body validator ([`validate_draft`]) and `schemas/body/*.json` give the same verdict
//! on every body, both ways, and `append --batch` refuses optional fields the schemas reject.
//!
//! Valid bodies are generated from the schema itself (a small interpreter for the part of JSON
//! Schema the body schemas use), so a field the schema names but the library forgot is still
//! exercised; the mutations also use the names of the library's table, so a field only the
//! library knows is exercised too. Numbers are integers only: floats are refused before the
//! body rules by the canonical encoder, which a JSON Schema cannot express.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit_ledger::canonical::MAX_SAFE_INTEGER;
use audit_ledger::ledger::body::{draft, validate_draft, Kind};
use common::{code, schema_validator, stderr, Env, Rng};
use serde_json::{json, Map, Value};

/// Bodies per kind: valid ones and mutations of them.
const BODIES: usize = 3000;

/// A valid value for `node` (a subschema of `root`).
fn valid(node: &Value, root: &Value, rng: &mut Rng) -> Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .expect("only local $defs are used");
        return valid(&root["$defs"][name], root, rng);
    }
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        return valid(rng.pick(any), root, rng);
    }
    if let Some(c) = node.get("const") {
        return c.clone();
    }
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        return rng.pick(e).clone();
    }
    match node.get("type").and_then(Value::as_str) {
        Some("string") => match node.get("pattern").and_then(Value::as_str) {
            None => {
                let min = node.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                let s = rng.pick(&["x", "v1.2.3", "é/ü", "prod", "tab\there", ""]);
                if (s.chars().count() as u64) < min {
                    json!("a")
                } else {
                    json!(s)
                }
            }
            Some(p) if p.starts_with("^[0-9a-f]{") => {
                let n: usize = p["^[0-9a-f]{".len()..p.len() - 2].parse().unwrap();
                json!(hex(rng, n))
            }
            Some(p) if p.starts_with("^[0-9]{4}-") => json!(rng.pick(GOOD_TIMES)),
            Some(p) => panic!("no generator for pattern {p}: teach this test"),
        },
        Some("integer") => {
            let min = node.get("minimum").and_then(Value::as_i64).unwrap_or(-1000);
            let max = node.get("maximum").and_then(Value::as_i64).unwrap_or(1000);
            let v = match rng.below(4) {
                0 => min,
                1 => max,
                _ => min + (rng.below(1000) as i64).min(max - min),
            };
            json!(v)
        }
        Some("boolean") => json!(rng.below(2) == 0),
        Some("array") => {
            let n = rng.below(4) as usize;
            let items = node
                .get("items")
                .cloned()
                .unwrap_or(json!({"type": "string"}));
            Value::Array((0..n).map(|_| valid(&items, root, rng)).collect())
        }
        Some("object") => valid_object(node, root, rng),
        other => panic!("no generator for type {other:?} in {node}"),
    }
}

/// An object with every required property of `node` and about half of the optional ones.
fn valid_object(node: &Value, root: &Value, rng: &mut Rng) -> Value {
    let mut m = Map::new();
    let must = required(node);
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            if must.contains(name) || rng.below(2) == 0 {
                m.insert(name.clone(), valid(sub, root, rng));
            }
        }
    }
    if node.get("properties").is_none() && rng.below(2) == 0 {
        m.insert("n".into(), json!(1));
    }
    // `if`/`then` (key.schema.json: identity with add-git-signer): an object whose members
    // have the `if`'s `const` values also gets the `then`'s required members.
    if let (Some(cond), Some(then)) = (node.get("if"), node.get("then")) {
        let holds = cond["properties"].as_object().is_some_and(|ps| {
            ps.iter()
                .all(|(name, c)| m.get(name).is_some_and(|v| Some(v) == c.get("const")))
        });
        if holds {
            for name in required(then) {
                if !m.contains_key(&name) {
                    m.insert(name.clone(), valid(&node["properties"][&name], root, rng));
                }
            }
        }
    }
    Value::Object(m)
}

fn required(node: &Value) -> Vec<String> {
    node.get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.below(16) as usize]))
        .collect()
}

const GOOD_TIMES: &[&str] = &[
    "2026-11-22T12:00:00Z",
    "2026-11-22T12:00:00.123Z",
    "1999-01-01T00:00:00.000000001Z",
];

// Offsets other than Z were accepted before 2026-12; new entries are in UTC.
const BAD_TIMES: &[&str] = &[
    "2026-11-22T12:00:00.5+02:00",
    "1999-01-01T00:00:00-05:30",
    "2026-11-22",
    "2026-11-22 12:00:00Z",
    "2026-11-22T12:00:00",
    "2026-11-22T12:00:00.Z",
    "2026-11-22T12:00:00+0200",
    "2026-11-22t12:00:00Z",
    "2026-11-22T12:00:00z",
    "2026-11-22T12:00:00.123+02",
    "٢٠٢٦-11-22T12:00:00Z",
    "2026-11-22T12:00:00Z\n",
];

/// Any value, often one that breaks some rule: wrong types, boundary integers, bad hex, bad
/// times, enum members of other fields, nested junk. `names` are field names to reuse.
fn nasty(rng: &mut Rng, names: &[String]) -> Value {
    let max = MAX_SAFE_INTEGER as i64;
    match rng.below(16) {
        0 => json!(""),
        1 => json!(rng.pick(&[
            "x",
            "yolo",
            "sometimes",
            "allow",
            "canary",
            "pass",
            "add",
            "auto",
            "é"
        ])),
        2 => {
            let n = *rng.pick(&[15usize, 16, 17, 63, 64, 65]);
            json!(hex(rng, n))
        }
        3 => {
            let n = *rng.pick(&[16usize, 64]);
            json!(hex(rng, n).to_uppercase())
        }
        4 => json!(format!("{}g", hex(rng, 63))),
        5 => json!(rng.pick(GOOD_TIMES)),
        6 => json!(rng.pick(BAD_TIMES)),
        7 => json!(*rng.pick(&[
            -1i64,
            0,
            1,
            99,
            100,
            101,
            999,
            1000,
            1001,
            max,
            -max,
            max + 1,
            -max - 1,
            i64::MIN
        ])),
        8 => json!(*rng.pick(&[u64::MAX, 1 << 63])),
        9 => json!(rng.below(2) == 0),
        10 => Value::Null,
        11 => json!([]),
        12 => json!(["a", "b"]),
        13 => json!(["a", 1]),
        14 => {
            let mut m = Map::new();
            for _ in 0..rng.below(3) {
                m.insert(rng.pick(names).clone(), nasty(rng, names));
            }
            Value::Object(m)
        }
        _ => Value::Array((0..rng.below(3)).map(|_| nasty(rng, names)).collect()),
    }
}

/// A value at or just past the edge of what `node` allows: integer bounds and one beyond,
/// near-miss enum members, hex one character short or long, the empty string, bad times.
fn boundary(node: &Value, root: &Value, rng: &mut Rng) -> Value {
    if let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/$defs/")
            .expect("only local $defs are used");
        return boundary(&root["$defs"][name], root, rng);
    }
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        return boundary(rng.pick(any), root, rng);
    }
    if node.get("const").is_some() {
        return json!(false);
    }
    if let Some(e) = node.get("enum").and_then(Value::as_array) {
        let m = rng.pick(e).as_str().unwrap_or("x").to_string();
        return json!(match rng.below(3) {
            0 => m.to_uppercase(),
            1 => format!("{m} "),
            _ => m,
        });
    }
    match node.get("type").and_then(Value::as_str) {
        Some("integer") => {
            let max = MAX_SAFE_INTEGER as i64;
            let lo = node
                .get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(-max - 1);
            let hi = node
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(max + 1);
            json!(*rng.pick(&[lo - 1, lo, hi, hi + 1]))
        }
        Some("string") => match node.get("pattern").and_then(Value::as_str) {
            Some(p) if p.starts_with("^[0-9a-f]{") => {
                let n: usize = p["^[0-9a-f]{".len()..p.len() - 2].parse().unwrap();
                let len = *rng.pick(&[n - 1, n, n + 1]);
                json!(hex(rng, len))
            }
            Some(_) => json!(rng.pick(BAD_TIMES)),
            None => json!(*rng.pick(&["", "x"])),
        },
        Some("array") => json!(["a", 1]),
        Some("boolean") => json!("true"),
        _ => json!(1),
    }
}

/// Apply one random mutation to `body`, checked by `schema` (a subschema of `root` when `body`
/// is nested, e.g. an element of a deploy's `changes`).
fn mutate(body: &mut Value, schema: &Value, root: &Value, names: &[String], rng: &mut Rng) {
    let Some(m) = body.as_object_mut() else {
        return;
    };
    match rng.below(10) {
        // Drop a required field.
        0 => {
            let req = required(schema);
            if !req.is_empty() {
                m.remove(rng.pick(&req));
            }
        }
        // A known field (schema's or library's) gets any value.
        1 | 2 => {
            let name = rng.pick(names).clone();
            m.insert(name, nasty(rng, names));
        }
        // A field the schema constrains gets a value at the edge of its constraint.
        3 | 4 => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            let keys: Vec<&String> = props.keys().collect();
            let name = (*rng.pick(&keys)).clone();
            let v = boundary(&props[&name], root, rng);
            m.insert(name, v);
        }
        // An unknown field: allowed by both.
        5 => {
            m.insert(format!("extra_{}", rng.below(5)), nasty(rng, names));
        }
        // Nested: mutate an element of an array of objects, or the array itself.
        6..=8 => {
            let arrays: Vec<String> = m
                .iter()
                .filter(|(_, v)| v.as_array().is_some_and(|a| a.iter().any(Value::is_object)))
                .map(|(k, _)| k.clone())
                .collect();
            if arrays.is_empty() {
                return;
            }
            let key = rng.pick(&arrays).clone();
            let items_schema = &schema["properties"][&key]["items"];
            let inner_names: Vec<String> = items_schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            let Some(list) = m.get_mut(&key).and_then(Value::as_array_mut) else {
                return;
            };
            let i = rng.below(list.len() as u64) as usize;
            match rng.below(6) {
                0 => list[i] = nasty(rng, names),
                1 if !inner_names.is_empty() => {
                    let max = schema["properties"][&key]["maxItems"]
                        .as_u64()
                        .unwrap_or(10);
                    let item = list[i].clone();
                    list.resize(max as usize + rng.below(2) as usize, item);
                }
                _ if !inner_names.is_empty() => {
                    mutate(&mut list[i], items_schema, root, &inner_names, rng)
                }
                _ => {}
            }
        }
        // The body itself is not an object.
        _ if rng.below(20) == 0 => *body = nasty(rng, names),
        _ => {}
    }
}

/// `s`, shortened to about 3000 bytes (a body may list 5000 merges).
fn cut(s: &str) -> String {
    match (0..=3000).rev().find(|&i| s.is_char_boundary(i)) {
        Some(end) if end < s.len() => format!("{} …(cut)", &s[..end]),
        _ => s.to_string(),
    }
}

#[test]
fn draft_validator_and_schemas_agree_on_generated_bodies() {
    let mut rng = Rng(0x5eed_b0d1_e5c4_e3a1);
    for kind in Kind::ALL {
        let rel = format!("body/{kind}.schema.json");
        let validator = schema_validator(&rel);
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(common::schemas_dir().join(&rel)).unwrap(),
        )
        .unwrap();
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.extend(draft::fields(kind).iter().map(|f| f.name.to_string()));
        names.sort();
        names.dedup();
        let (mut accepted, mut refused) = (0, 0);
        for i in 0..BODIES {
            let mut body = valid_object(&schema, &schema, &mut rng);
            if i % 4 != 0 {
                for _ in 0..=rng.below(3) {
                    mutate(&mut body, &schema, &schema, &names, &mut rng);
                }
            }
            let by_schema: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            let by_library = validate_draft(kind, &body);
            if by_schema.is_empty() != by_library.is_ok() {
                let schema_says = if by_schema.is_empty() {
                    "valid".to_string()
                } else {
                    by_schema.join("; ")
                };
                panic!(
                    "{kind}: the schema and the library disagree on\n  {}\n  schema: {}\n  library: {}",
                    cut(&body.to_string()),
                    cut(&schema_says),
                    match &by_library {
                        Ok(()) => "valid".to_string(),
                        Err(e) => e.to_string(),
                    }
                );
            }
            if i % 4 == 0 {
                assert!(
                    by_library.is_ok(),
                    "{kind}: generated valid body refused: {body}"
                );
            }
            if by_library.is_ok() {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
        // Both verdicts must be well represented, or the comparison proves little.
        assert!(
            accepted > BODIES / 5 && refused > BODIES / 5,
            "{kind}: {accepted} accepted, {refused} refused"
        );
    }
}

/// `append --batch -` with `batch` must exit 2, name line `line` and `field`, and leave the
/// ledger byte-identical.
fn batch_refused(env: &Env, key: &str, batch: &str, line: usize, field: &str) {
    let before = env.read_log();
    let out = env.run_stdin(&["--key", key, "append", "--batch", "-"], batch.as_bytes());
    let err = stderr(&out);
    assert_eq!(code(&out), Some(2), "{batch}: {err}");
    assert!(err.contains(&format!("line {line}")), "{batch}: {err}");
    assert!(err.contains(field), "{batch}: should name {field}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(env.read_log(), before, "{batch} changed the ledger");
}

/// A signed ledger with a few entries, and its key's path.
fn ledger() -> (Env, String) {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 3);
    let k = key.to_str().unwrap().to_string();
    (env, k)
}

const EVENT: &str = r#"{"kind":"event","actor":"ci","body":{"type":"t","data":{}}}"#;

fn deploy_with(extra: &str) -> String {
    format!(
        r#"{{"kind":"deploy","actor":"ci","body":{{"env":"prod","version":"v1","commit":"c1","status":"succeeded",{extra}}}}}"#
    )
}

#[test]
fn batch_refuses_an_unknown_deploy_strategy() {
    let (env, k) = ledger();
    let batch = format!("{EVENT}\n{}\n", deploy_with(r#""strategy":"yolo""#));
    batch_refused(&env, &k, &batch, 2, "body.strategy");
}

#[test]
fn batch_refuses_a_percent_over_100() {
    let (env, k) = ledger();
    let batch = format!("{}\n{EVENT}\n", deploy_with(r#""percent":500"#));
    batch_refused(
        &env,
        &k,
        &batch,
        1,
        "body.percent: 500 is not an integer from 0 to 100",
    );
}

#[test]
fn batch_refuses_an_unknown_rollback_trigger_type() {
    let (env, k) = ledger();
    let rollback = r#"{"kind":"rollback","actor":"oncall","body":{"env":"prod","from_version":"v2","to_version":"v1","trigger":"errors","trigger_type":"sometimes"}}"#;
    batch_refused(
        &env,
        &k,
        &format!("{EVENT}\n{EVENT}\n{rollback}\n"),
        3,
        "body.trigger_type",
    );
}

/// Entries written before the draft rule (wave 1, `append --batch`) may hold optional fields the
/// schemas reject; reading and verifying keep accepting them (the verifier's fast path agrees
/// with the reference parser on such lines: see the differential test in `ledger::fastline`).
#[test]
fn stored_bodies_with_odd_optional_fields_still_verify() {
    use audit_ledger::ledger::entry::{leaf_hash, Entry, ZERO_HASH};
    use audit_ledger::ledger::Ledger;
    let env = Env::new();
    Ledger::init(&env.dir(), "test.example/wave1", false).unwrap();
    let bodies = [
        (
            Kind::Deploy,
            json!({"env": "prod", "version": "v1", "commit": "c", "status": "succeeded", "strategy": "yolo", "percent": 500, "changes": [{"time": false}]}),
        ),
        (
            Kind::Rollback,
            json!({"env": "prod", "from_version": "v1", "to_version": "v0", "trigger": "t", "trigger_type": "sometimes", "undoes_seq": -1}),
        ),
    ];
    let mut prev = ZERO_HASH;
    let mut log = Vec::new();
    for (seq, (kind, body)) in bodies.into_iter().enumerate() {
        assert!(validate_draft(kind, &body).is_err(), "{body}");
        // Sealed by hand: the write path would refuse this body now.
        let mut e = Entry {
            seq: seq as u64,
            ts: "2026-01-02T03:04:05.678Z".into(),
            kind,
            actor: "ci".into(),
            signer: None,
            body,
            prev,
            hash: [0; 32],
            sig: None,
            submission: None,
        };
        e.hash = leaf_hash(&e.unsigned_bytes());
        prev = e.hash;
        let line = e.to_line();
        assert_eq!(Entry::parse_line(&line).unwrap(), e);
        log.extend_from_slice(&line);
        log.push(b'\n');
    }
    std::fs::write(env.log(), log).unwrap();
    let (code, out) = common::verify_json(&env);
    assert_eq!(code, Some(0), "{out}");
}
