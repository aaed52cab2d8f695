//! The JSON Schemas in `schemas/` agree with the library's own checks, and the CLI's `--json`
//! outputs match their schemas (checked with the `jsonschema` crate, an independent validator).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit_ledger::ledger::body::{required_fields, validate, FieldType, Kind};
use common::schema_validator;
use serde_json::{json, Value};

fn sample(ty: FieldType) -> Value {
    match ty {
        FieldType::Str => json!("x"),
        FieldType::Enum(v) => json!(v[0]),
        FieldType::StrArray => json!(["a", "b"]),
        FieldType::UInt => json!(12),
        FieldType::Object => json!({"k": 1}),
        FieldType::Hex(n) => json!("a".repeat(n)),
        FieldType::Bool => json!(true),
        FieldType::AnyStr => json!(""),
    }
}

fn wrong(ty: FieldType) -> Value {
    match ty {
        FieldType::Str => json!(""),
        FieldType::Enum(_) => json!("not-a-member"),
        FieldType::StrArray => json!([1]),
        FieldType::UInt => json!(-1),
        FieldType::Object => json!([]),
        FieldType::Hex(n) => json!("A".repeat(n)),
        FieldType::Bool => json!("true"),
        FieldType::AnyStr => json!(1),
    }
}

#[test]
fn body_schemas_agree_with_the_required_field_table() {
    for kind in Kind::ALL {
        let v = schema_validator(&format!("body/{kind}.schema.json"));
        let mut good = serde_json::Map::new();
        for (name, ty) in required_fields(kind) {
            good.insert(name.to_string(), sample(*ty));
        }
        good.insert("extra_optional".into(), json!("allowed"));
        let good = Value::Object(good);
        assert!(validate(kind, &good).is_ok(), "{kind}: {good}");
        assert!(v.is_valid(&good), "{kind}: schema rejects {good}");
        for (name, ty) in required_fields(kind) {
            let mut missing = good.clone();
            missing.as_object_mut().unwrap().remove(*name);
            assert!(
                validate(kind, &missing).is_err() && !v.is_valid(&missing),
                "{kind}.{name} missing accepted"
            );
            let mut bad = good.clone();
            bad[*name] = wrong(*ty);
            assert!(
                validate(kind, &bad).is_err(),
                "{kind}.{name}: library accepts {bad}"
            );
            assert!(!v.is_valid(&bad), "{kind}.{name}: schema accepts {bad}");
        }
    }
}

#[test]
fn entry_schema_accepts_real_lines_and_cli_outputs_match_their_schemas() {
    let env = common::Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 20);
    let entry = schema_validator("entry.schema.json");
    let log = String::from_utf8(env.read_log()).unwrap();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(entry.is_valid(&v), "entry schema rejects {line}");
        let mut bad = v.clone();
        bad["kind"] = json!("deploys");
        assert!(!entry.is_valid(&bad));
        let mut extra = v.clone();
        extra["surprise"] = json!(1);
        assert!(!entry.is_valid(&extra));
    }

    let verify = schema_validator("output/verify.schema.json");
    let (code, out) = common::verify_json(&env);
    assert_eq!(code, Some(0));
    assert!(verify.is_valid(&out), "{out}");

    let append = schema_validator("output/append.schema.json");
    let k = key.to_str().unwrap();
    let single: Value = serde_json::from_str(&env.ok(&[
        "--json", "--key", k, "append", "event", "--actor", "a", "--type", "t", "--data", "{}",
    ]))
    .unwrap();
    assert!(append.is_valid(&single), "{single}");
    let batch = common::batch_lines(3, 7);
    let out = env.run_stdin(
        &["--json", "--key", k, "append", "--batch", "-"],
        batch.as_bytes(),
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(append.is_valid(&summary), "{summary}");

    let error = schema_validator("output/error.schema.json");
    std::fs::write(env.log(), b"{}\n").unwrap();
    let (code, out) = common::verify_json(&env);
    assert_eq!(code, Some(1));
    assert!(error.is_valid(&out), "{out}");
    assert!(verify.is_valid(&out), "{out}");
}

#[test]
fn batch_line_schema_matches_the_batch_parser() {
    let v = schema_validator("batch-line.schema.json");
    for line in common::batch_lines(10, 0).lines() {
        assert!(v.is_valid(&serde_json::from_str(line).unwrap()));
    }
    assert!(!v.is_valid(&json!({"kind": "event", "actor": "a", "extra": 1})));
}
