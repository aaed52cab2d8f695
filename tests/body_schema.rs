//! The draft body validator and `schemas/body/*.json` agree, and `append --batch` refuses
//! optional fields the schemas reject.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{code, stderr, Env};

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

#[test]
fn batch_refuses_optional_fields_the_schemas_reject() {
    let env = Env::new();
    let key = env.signed_ledger();
    env.fill(&key, 3);
    let k = key.to_str().unwrap();
    let ok = r#"{"kind":"event","actor":"ci","body":{"type":"t","data":{}}}"#;
    let deploy = |extra: &str| {
        format!(
            r#"{{"kind":"deploy","actor":"ci","body":{{"env":"prod","version":"v1","commit":"c1","status":"succeeded",{extra}}}}}"#
        )
    };
    batch_refused(
        &env,
        k,
        &format!("{ok}\n{}\n", deploy(r#""strategy":"yolo""#)),
        2,
        "body.strategy",
    );
    batch_refused(
        &env,
        k,
        &format!("{}\n", deploy(r#""percent":500"#)),
        1,
        "body.percent",
    );
    let rollback = r#"{"kind":"rollback","actor":"oncall","body":{"env":"prod","from_version":"v2","to_version":"v1","trigger":"errors","trigger_type":"sometimes"}}"#;
    batch_refused(
        &env,
        k,
        &format!("{ok}\n{ok}\n{rollback}\n"),
        3,
        "body.trigger_type",
    );
}
