//! The DORA rules by cause (issue 15, /work/notes/dora-spec.md R0-R6): what a rollback undid,
//! incidents, "as of" `--now`, the lead-time baseline, the window, ties and rounding. Hand-made
//! ledgers have chosen timestamps; every expected figure is worked out by hand in the comments.
//! CLI cases run `ledger init` / `ledger append` in a fresh directory (clock timestamps: they
//! check what is recorded and counted, never a duration).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit_ledger::ledger::entry::ZERO_HASH;
use audit_ledger::ledger::{Entry, Kind, Ledger};
use common::{code, stderr, stdout, Env};
use serde_json::{json, Value};

/// 2026-11-01T00:00:00Z; every time below is minutes after it.
const T0: i64 = 1_793_491_200;
/// T0 + 14400 minutes (10 days).
const NOW: &str = "2026-11-11T00:00:00Z";
const MIN: i64 = 60_000;
const PROD: &str = "production";

// ---------------------------------------------------------------------------------------------
// Hand-made ledgers

/// Ledger timestamp `min` minutes after T0.
fn at(min: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + min * 60, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// RFC 3339 (UTC, `Z`) time `min` minutes after T0, for bodies and flags.
fn rfc(min: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + min * 60, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Ms since the epoch of minute `min`.
fn ms(min: i64) -> i64 {
    (T0 + min * 60) * 1000
}

fn deploy_in(env: &str, version: &str, status: &str) -> Value {
    json!({"env": env, "version": version, "commit": format!("{version}-commit"), "status": status})
}

fn deploy(version: &str, status: &str) -> Value {
    deploy_in(PROD, version, status)
}

/// `b` with field `k` set to `v`.
fn with(mut b: Value, k: &str, v: Value) -> Value {
    b[k] = v;
    b
}

/// A `changes` list of (commit, minute).
fn changes(list: &[(&str, i64)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(c, m)| json!({"commit": c, "time": rfc(*m)}))
            .collect(),
    )
}

fn rollback(env: &str, from: &str, to: &str, undoes: Option<u64>) -> Value {
    let mut b =
        json!({"env": env, "from_version": from, "to_version": to, "trigger": "error-rate"});
    if let Some(n) = undoes {
        b["undoes_seq"] = json!(n);
    }
    b
}

/// An incident of production; `cause` is its `caused_by_seq`.
fn incident(id: &str, status: &str, cause: Option<u64>) -> Value {
    let mut b = json!({"incident": id, "status": status, "env": PROD});
    if status == "opened" {
        b["severity"] = json!("sev2");
    }
    if let Some(n) = cause {
        b["caused_by_seq"] = json!(n);
    }
    b
}

fn drill(outcome: &str, duration_ms: u64) -> Value {
    json!({"target": "abc", "check": "make smoke", "outcome": outcome, "duration_ms": duration_ms,
           "report_sha256": "0".repeat(64), "env": PROD})
}

/// (minute, kind, body); the seq is the position.
type Row = (i64, Kind, Value);

/// A fresh unsigned ledger holding `rows` (seq = index). Timestamps need not be monotonic.
fn hand_made(rows: &[Row]) -> Env {
    let env = Env::new();
    Ledger::init(&env.dir(), "test.example/dora", false).unwrap();
    let mut prev = ZERO_HASH;
    let mut text = Vec::new();
    for (seq, (min, kind, body)) in rows.iter().enumerate() {
        let e = Entry::seal(
            seq as u64,
            at(*min),
            *kind,
            "ci".to_string(),
            None,
            body.clone(),
            prev,
        )
        .unwrap_or_else(|e| panic!("row {seq}: {e:?}"));
        prev = e.hash;
        text.extend_from_slice(&e.to_line());
        text.push(b'\n');
    }
    std::fs::write(env.log(), text).unwrap();
    env
}

/// `ledger --json metrics [--now NOW] EXTRA`: exit 0, output valid against its schema.
fn metrics_json(env: &Env, now: Option<&str>, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "metrics"];
    // Every env unless the test names one (the command's default is production).
    if !extra.contains(&"--env") {
        args.extend_from_slice(&["--env", "all"]);
    }
    if let Some(n) = now {
        args.extend_from_slice(&["--now", n]);
    }
    args.extend_from_slice(extra);
    let out = env.run(&args);
    assert_eq!(code(&out), Some(0), "{args:?}: {}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = common::schema_validator("output/metrics.schema.json");
    let errors: Vec<String> = schema.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{v}");
    v
}

/// `metrics --env production --now NOW`.
fn prod(env: &Env) -> Value {
    metrics_json(env, Some(NOW), &["--env", PROD])
}

fn close(v: &Value, want: f64) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, found {v}"));
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

/// (deploys, failures) of the change failure rate.
fn cfr(m: &Value) -> (Value, Value) {
    let c = &m["change_failure_rate"];
    (c["deploys"].clone(), c["failures"].clone())
}

/// (count, open, median_ms, p90_ms) of the recovery time.
fn restore(m: &Value) -> (Value, Value, Value, Value) {
    let r = &m["time_to_restore"];
    (
        r["count"].clone(),
        r["open"].clone(),
        r["median_ms"].clone(),
        r["p90_ms"].clone(),
    )
}

/// (count, median_ms, p90_ms) of the lead time.
fn lead(m: &Value) -> (Value, Value, Value) {
    let l = &m["lead_time"];
    (
        l["count"].clone(),
        l["median_ms"].clone(),
        l["p90_ms"].clone(),
    )
}

// ---------------------------------------------------------------------------------------------
// CLI ledgers

fn cli_ledger() -> Env {
    let env = Env::new();
    env.ok(&["init", "--origin", "test.example/dora-cli"]);
    env
}

/// `ledger --json append ARGS`: exit 0; the entry appended.
fn append(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["--json", "append"];
    all.extend_from_slice(args);
    let text = env.ok(&all);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Append a deploy of `version` to `to`; its seq.
fn cli_deploy(env: &Env, to: &str, version: &str, status: &str) -> u64 {
    let commit = format!("{version}-commit");
    let e = append(
        env,
        &[
            "deploy",
            "--actor",
            "ci",
            "--env",
            to,
            "--version",
            version,
            "--commit",
            &commit,
            "--status",
            status,
        ],
    );
    e["seq"].as_u64().unwrap()
}

/// The last line of ledger.jsonl.
fn last_entry(env: &Env) -> Value {
    let text = String::from_utf8(env.read_log()).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// Run `args` (stdin `input` when given): exit 2, stderr naming `needle` (if any), ledger
/// byte-identical.
fn refused(env: &Env, args: &[&str], input: Option<&str>, needle: Option<&str>) {
    let before = env.read_log();
    let out = match input {
        Some(i) => env.run_stdin(args, i.as_bytes()),
        None => env.run(args),
    };
    let err = stderr(&out);
    assert_eq!(code(&out), Some(2), "{args:?} {input:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    if let Some(n) = needle {
        assert!(
            err.contains(n),
            "{args:?} {input:?}: should name {n}: {err}"
        );
    }
    assert_eq!(
        env.read_log(),
        before,
        "{args:?} {input:?} changed the ledger"
    );
}

// =============================================================================================
// 1a. A rollback from a version that only failed undid that failed deploy (R1), once (R3).

/// prod: v1 ok (0), v2 ok (60), v3 failed (120), rollback v3 -> v2 without undoes_seq (125).
fn rollback_of_failed_v3() -> Vec<Row> {
    vec![
        (0, Kind::Deploy, deploy("v1", "succeeded")),
        (60, Kind::Deploy, deploy("v2", "succeeded")),
        (120, Kind::Deploy, deploy("v3", "failed")),
        (125, Kind::Rollback, rollback(PROD, "v3", "v2", None)),
    ]
}

#[test]
fn rollback_from_a_failed_version_undoes_that_deploy_and_counts_it_once() {
    let env = hand_made(&rollback_of_failed_v3());
    let m = prod(&env);
    // Deployments: seq 0, 1, 2 = 3. The rollback (no undoes_seq) undid the newest
    // succeeded-or-failed deploy of from_version v3: seq 2, which failed anyway -> one failure;
    // v2 (to_version) is not blamed. 1 / 3 = 33.33 %.
    assert_eq!(cfr(&m), (json!(3), json!(1)), "{m}");
    close(&m["change_failure_rate"]["percent"], 100.0 / 3.0);
    // Recovery of seq 2: start = its ts (120), end = the rollback (125): 5 min = 300000 ms.
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(300_000), json!(300_000))
    );
}

#[test]
fn append_rollback_records_the_failed_deploy_it_undid() {
    let env = cli_ledger();
    cli_deploy(&env, PROD, "v1", "succeeded");
    cli_deploy(&env, PROD, "v2", "succeeded");
    let v3 = cli_deploy(&env, PROD, "v3", "failed");
    let rb = [
        "rollback",
        "--actor",
        "ops",
        "--env",
        PROD,
        "--from-version",
        "v3",
        "--to-version",
        "v2",
        "--trigger",
        "errors",
    ];
    append(&env, &rb);
    // No --undoes: the append wrote undoes_seq from R1 = the failed v3 deploy.
    let e = last_entry(&env);
    assert_eq!(e["kind"], "rollback");
    assert_eq!(e["body"]["undoes_seq"], json!(v3), "{e}");
    // Counted: 3 deployments, 1 failure (v3, failed and rolled back), restored, none open.
    let m = metrics_json(&env, None, &["--env", PROD]);
    assert_eq!(cfr(&m), (json!(3), json!(1)), "{m}");
    assert_eq!(m["time_to_restore"]["count"], 1);
    assert_eq!(m["time_to_restore"]["open"], 0);

    // `--undoes v3` names the newest succeeded-or-failed v3 deploy: accepted though it only
    // failed.
    let env = cli_ledger();
    cli_deploy(&env, PROD, "v1", "succeeded");
    cli_deploy(&env, PROD, "v2", "succeeded");
    let v3 = cli_deploy(&env, PROD, "v3", "failed");
    let mut args = rb.to_vec();
    args.extend_from_slice(&["--undoes", "v3"]);
    let e = append(&env, &args);
    assert_eq!(e["body"]["undoes_seq"], json!(v3), "{e}");
    assert_eq!(last_entry(&env)["body"]["undoes_seq"], json!(v3));
}

// =============================================================================================
// 1b. A rollback naming another env's deploy (R1).

#[test]
fn a_staging_rollback_naming_a_production_deploy_is_refused_on_every_path() {
    let env = cli_ledger();
    let p = cli_deploy(&env, PROD, "v1", "succeeded");
    let s = cli_deploy(&env, "staging", "v1", "succeeded");
    let ps = p.to_string();
    let rb = [
        "append",
        "rollback",
        "--actor",
        "ops",
        "--env",
        "staging",
        "--from-version",
        "v1",
        "--to-version",
        "v0",
        "--trigger",
        "x",
    ];
    // --undoes SEQ
    let mut a = rb.to_vec();
    a.extend_from_slice(&["--undoes", &ps]);
    refused(&env, &a, None, Some("undoes_seq"));
    // --body
    let body = format!(r#"{{"undoes_seq":{p}}}"#);
    let mut a = rb.to_vec();
    a.extend_from_slice(&["--body", &body]);
    refused(&env, &a, None, Some("undoes_seq"));
    // --batch: a good line first; the whole batch is refused.
    let batch = format!(
        "{}\n{}\n",
        json!({"kind": "event", "actor": "ci", "body": {"type": "note", "data": {}}}),
        json!({"kind": "rollback", "actor": "ops", "body": {"env": "staging", "from_version": "v1",
               "to_version": "v0", "trigger": "x", "undoes_seq": p}})
    );
    refused(
        &env,
        &["append", "--batch", "-"],
        Some(&batch),
        Some("undoes_seq"),
    );
    // Control: naming the staging deploy is accepted.
    let mut a = rb[1..].to_vec();
    let ss = s.to_string();
    a.extend_from_slice(&["--undoes", &ss]);
    let e = append(&env, &a);
    assert_eq!(e["body"]["undoes_seq"], json!(s));
}

#[test]
fn a_recorded_rollback_naming_another_envs_deploy_undid_nothing() {
    // Written by hand (the append path would refuse it).
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0
        (10, Kind::Deploy, deploy_in("staging", "v1", "succeeded")), // 1
        (20, Kind::Rollback, rollback("staging", "v1", "v0", Some(0))), // 2: names prod's seq 0
    ]);
    // production: 1 deployment, 0 failures (seq 0 is not staging's to undo).
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(1), json!(0)), "{m}");
    assert_eq!(restore(&m), (json!(0), json!(0), Value::Null, Value::Null));
    // staging: undoes_seq is given, so there is no fallback to from_version v1 (which would
    // find seq 1): 1 deployment, 0 failures.
    let s = metrics_json(&env, Some(NOW), &["--env", "staging"]);
    assert_eq!(cfr(&s), (json!(1), json!(0)), "{s}");
    // All envs: 2 deployments, 0 failures.
    let a = metrics_json(&env, Some(NOW), &[]);
    assert_eq!(cfr(&a), (json!(2), json!(0)), "{a}");
}

// =============================================================================================
// 1c. A rollback naming a later deploy (R1).

#[test]
fn a_rollback_naming_a_later_deploy_undid_nothing() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0
        (10, Kind::Rollback, rollback(PROD, "v1", "v0", Some(2))), // 1: names seq 2 > 1
        (20, Kind::Deploy, deploy("v2", "succeeded")), // 2
    ]);
    // Neither seq 2 (later) nor seq 0 (from_version v1: no fallback when undoes_seq is given).
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(2), json!(0)), "{m}");
    close(&m["change_failure_rate"]["percent"], 0.0);
    assert_eq!(restore(&m), (json!(0), json!(0), Value::Null, Value::Null));
}

// =============================================================================================
// 1d. A body's own undoes_seq is kept (R1).

#[test]
fn a_body_undoes_seq_is_kept_not_replaced_by_the_lookup() {
    let env = cli_ledger();
    cli_deploy(&env, PROD, "v1", "succeeded");
    let v2 = cli_deploy(&env, PROD, "v2", "succeeded");
    let v3 = cli_deploy(&env, PROD, "v3", "succeeded");
    // from_version v3 would look up seq v3; the body names v2.
    let body = format!(r#"{{"undoes_seq":{v2}}}"#);
    append(
        &env,
        &[
            "rollback",
            "--actor",
            "ops",
            "--env",
            PROD,
            "--from-version",
            "v3",
            "--to-version",
            "v1",
            "--trigger",
            "x",
            "--body",
            &body,
        ],
    );
    let e = last_entry(&env);
    assert_ne!(v2, v3);
    assert_eq!(e["body"]["undoes_seq"], json!(v2), "{e}");
    // 3 deployments; the failure is v2 (rolled back), not v3.
    let m = metrics_json(&env, None, &["--env", PROD]);
    assert_eq!(cfr(&m), (json!(3), json!(1)), "{m}");
}

// =============================================================================================
// 1e. Incidents (R2, R3, R4).

#[test]
fn an_incident_naming_a_deploy_makes_it_a_failure_recovered_at_its_resolution() {
    // Fix-forward world: no rollback.
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")),  // 0
        (60, Kind::Deploy, deploy("v2", "succeeded")), // 1
        (90, Kind::Incident, incident("INC-1", "opened", Some(1))), // 2
        (120, Kind::Deploy, deploy("v3", "succeeded")), // 3
        (150, Kind::Incident, incident("INC-1", "resolved", None)), // 4
    ]);
    // 3 deployments, 1 failure (v2, named by INC-1): 33.33 %.
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(3), json!(1)), "{m}");
    close(&m["change_failure_rate"]["percent"], 100.0 / 3.0);
    // v2 succeeded and was not rolled back: start = INC-1 opened (90), end = resolved (150):
    // 60 min (not 90 from the deploy, not 30 to v3).
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(60 * MIN), json!(60 * MIN))
    );
    // As of minute 100: INC-1 is open, so v2's failure is open; v3 is not recorded yet.
    let early = metrics_json(&env, Some(&rfc(100)), &["--env", PROD]);
    assert_eq!(cfr(&early), (json!(2), json!(1)), "{early}");
    assert_eq!(
        restore(&early),
        (json!(0), json!(1), Value::Null, Value::Null)
    );
}

#[test]
fn an_unresolved_incident_is_open_and_not_in_the_statistics() {
    let env = hand_made(&unresolved_incident());
    // 3 deployments; failures: v2 (INC-2), v3 (INC-3) = 2.
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(3), json!(2)), "{m}");
    close(&m["change_failure_rate"]["percent"], 200.0 / 3.0);
    // v3: 130 -> 140 = 10 min; v2: INC-2 never resolved -> open, not in median/p90.
    assert_eq!(
        restore(&m),
        (json!(1), json!(1), json!(10 * MIN), json!(10 * MIN))
    );
}

fn unresolved_incident() -> Vec<Row> {
    vec![
        (0, Kind::Deploy, deploy("v1", "succeeded")),  // 0
        (60, Kind::Deploy, deploy("v2", "succeeded")), // 1
        (90, Kind::Incident, incident("INC-2", "opened", Some(1))), // 2: never resolved
        (120, Kind::Deploy, deploy("v3", "succeeded")), // 3
        (130, Kind::Incident, incident("INC-3", "opened", Some(3))), // 4
        (140, Kind::Incident, incident("INC-3", "resolved", None)), // 5
    ]
}

#[test]
fn append_incident_names_its_cause_and_checks_opened_and_resolved() {
    let env = cli_ledger();
    let v1 = cli_deploy(&env, PROD, "v1", "succeeded");
    let v2 = cli_deploy(&env, PROD, "v2", "succeeded");
    let inc = |id: &str, status: &str| -> Vec<String> {
        [
            "append",
            "incident",
            "--actor",
            "a",
            "--env",
            PROD,
            "--incident",
            id,
            "--status",
            status,
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |v: Vec<String>| {
        let args: Vec<&str> = v.iter().map(String::as_str).collect();
        env.run(&args)
    };
    let mut open1 = inc("INC-1", "opened");
    open1.extend(["--severity", "sev2", "--caused-by", "v2"].map(String::from));
    let out = run(open1.clone());
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let e = last_entry(&env);
    assert_eq!(e["kind"], "incident");
    assert_eq!(e["body"]["incident"], "INC-1");
    assert_eq!(e["body"]["status"], "opened");
    assert_eq!(e["body"]["caused_by_seq"], json!(v2), "{e}");
    // Opening the same id again in the env: refused, nothing written.
    let before = env.read_log();
    let out = run(open1);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert_eq!(env.read_log(), before);
    // Resolving it: accepted.
    let out = run(inc("INC-1", "resolved"));
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(last_entry(&env)["body"]["status"], "resolved");
    // Resolving what is not open (any more, or ever): refused, nothing written.
    let before = env.read_log();
    for id in ["INC-1", "INC-9"] {
        let out = run(inc(id, "resolved"));
        assert_eq!(code(&out), Some(2), "{id}: {}", stderr(&out));
        assert_eq!(env.read_log(), before, "{id}");
    }
    // --caused-by takes a seq too.
    let mut open2 = inc("INC-2", "opened");
    open2.extend(["--caused-by".to_string(), v1.to_string()]);
    let out = run(open2);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(last_entry(&env)["body"]["caused_by_seq"], json!(v1));
    // 2 deployments, both named: 2 failures; v2 restored (INC-1 resolved), v1 open (INC-2).
    let m = metrics_json(&env, None, &["--env", PROD]);
    assert_eq!(cfr(&m), (json!(2), json!(2)), "{m}");
    assert_eq!(m["time_to_restore"]["count"], 1);
    assert_eq!(m["time_to_restore"]["open"], 1);
}

#[test]
fn several_incidents_of_one_deploy_count_it_once_until_the_last_is_resolved() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")),  // 0
        (60, Kind::Deploy, deploy("v2", "succeeded")), // 1
        (70, Kind::Incident, incident("INC-1", "opened", Some(1))), // 2
        (80, Kind::Incident, incident("INC-2", "opened", Some(1))), // 3
        (100, Kind::Incident, incident("INC-2", "resolved", None)), // 4
        (130, Kind::Incident, incident("INC-1", "resolved", None)), // 5
    ]);
    // 2 deployments, 1 failure (v2, named twice). Start = earliest opening (70), end = the
    // last resolution (130): 60 min.
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(2), json!(1)), "{m}");
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(60 * MIN), json!(60 * MIN))
    );
    // As of minute 110, INC-2 is resolved but INC-1 is not: the failure is open.
    let mid = metrics_json(&env, Some(&rfc(110)), &["--env", PROD]);
    assert_eq!(cfr(&mid), (json!(2), json!(1)), "{mid}");
    assert_eq!(
        restore(&mid),
        (json!(0), json!(1), Value::Null, Value::Null)
    );
}

// =============================================================================================
// 1f. `--now T`: every entry recorded after T is left out, whatever its seq (R0).

/// Minute of T.
const AS_OF: i64 = 1000;

fn as_of_ledger() -> Vec<Row> {
    vec![
        (
            0,
            Kind::Deploy,
            with(
                deploy("v1", "succeeded"),
                "changes",
                changes(&[("c0", -60)]),
            ),
        ), // 0: baseline
        (1050, Kind::Deploy, deploy("v9", "failed")), // 1: recorded after T, early seq
        (
            100,
            Kind::Deploy,
            with(deploy("v2", "succeeded"), "changes", changes(&[("c2", 80)])),
        ), // 2
        (200, Kind::Incident, incident("INC-1", "opened", Some(2))), // 3
        (
            300,
            Kind::Deploy,
            with(
                deploy("v3", "succeeded"),
                "changes",
                changes(&[("c3", 290)]),
            ),
        ), // 4
        (400, Kind::Drill, drill("pass", 60_000)),    // 5
        // After T:
        (1100, Kind::Rollback, rollback(PROD, "v3", "v2", Some(4))), // 6
        (1200, Kind::Incident, incident("INC-1", "resolved", None)), // 7
        (
            1300,
            Kind::Deploy,
            with(
                deploy("v4", "succeeded"),
                "changes",
                changes(&[("c4", 1250)]),
            ),
        ), // 8
        (1400, Kind::Drill, drill("fail", 120_000)),                 // 9
        (1500, Kind::Incident, incident("INC-2", "opened", Some(4))), // 10
    ]
}

/// `rows` recorded at or before minute `t`, renumbered (undoes_seq / caused_by_seq follow).
fn cut(rows: &[Row], t: i64) -> Vec<Row> {
    let kept: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].0 <= t).collect();
    let renumber = |old: u64| kept.iter().position(|&i| i as u64 == old).unwrap() as u64;
    kept.iter()
        .map(|&i| {
            let (m, k, mut b) = rows[i].clone();
            for f in ["undoes_seq", "caused_by_seq"] {
                if let Some(n) = b.get(f).and_then(Value::as_u64) {
                    b[f] = json!(renumber(n));
                }
            }
            (m, k, b)
        })
        .collect()
}

#[test]
fn now_leaves_out_every_entry_recorded_after_it() {
    let full = hand_made(&as_of_ledger());
    let short = hand_made(&cut(&as_of_ledger(), AS_OF));
    let t = rfc(AS_OF);
    // By hand, as of T = minute 1000, production:
    let m = metrics_json(&short, Some(&t), &["--env", PROD]);
    assert_eq!(m["from_ms"], ms(0));
    assert_eq!(m["to_ms"], ms(AS_OF));
    // v1, v2, v3 succeeded; window 1000 min < 1 day counts as 1 day: 3 / day.
    assert_eq!(m["deployment_frequency"]["count"], 3);
    close(&m["deployment_frequency"]["per_day"], 3.0);
    // Lead: v1 is the baseline (c0 left out); c2 20 min, c3 10 min: median 15, p90 rank 2 -> 20.
    assert_eq!(lead(&m), (json!(2), json!(15 * MIN), json!(20 * MIN)));
    assert_eq!(m["lead_time"]["horizon_ms"], Value::Null);
    assert_eq!(
        m["lead_time"]["baselines"],
        json!([{"env": PROD, "seq": 0, "excluded": 1}])
    );
    // 3 deployments, 1 failure (v2: INC-1); INC-1 unresolved at T: open.
    assert_eq!(cfr(&m), (json!(3), json!(1)));
    assert_eq!(restore(&m), (json!(0), json!(1), Value::Null, Value::Null));
    // One drill, passed.
    assert_eq!(m["drills"]["count"], 1);
    close(&m["drills"]["pass_rate"], 100.0);

    // The full ledger as of T gives the same figures, with and without the env filter.
    for extra in [&["--env", PROD][..], &[]] {
        let a = metrics_json(&full, Some(&t), extra);
        let b = metrics_json(&short, Some(&t), extra);
        for k in [
            "from_ms",
            "to_ms",
            "deployment_frequency",
            "lead_time",
            "change_failure_rate",
            "time_to_restore",
            "drills",
        ] {
            assert_eq!(a[k], b[k], "{k} {extra:?}");
        }
    }
    // Control: the entries after T do change the figures at NOW. Deployments v1, v9, v2, v3,
    // v4 = 5; failures v9 (failed), v2 (INC-1), v3 (rollback, INC-2) = 3.
    let later = metrics_json(&full, Some(NOW), &["--env", PROD]);
    assert_eq!(cfr(&later), (json!(5), json!(3)), "{later}");
}

// =============================================================================================
// 1g. Lead-time baseline (R5).

fn baseline_ledger() -> Vec<Row> {
    vec![
        // 0: production's first succeeded deploy ships a change from a year earlier and one
        // from 30 minutes before.
        (
            0,
            Kind::Deploy,
            with(
                deploy("v1", "succeeded"),
                "changes",
                changes(&[("old", -525_600), ("recent", -30)]),
            ),
        ),
        // 1: lead 60 min.
        (
            1440,
            Kind::Deploy,
            with(
                deploy("v2", "succeeded"),
                "changes",
                changes(&[("c2", 1380)]),
            ),
        ),
        // 2: staging's first succeeded deploy: commit_time is its one change (10 min).
        (
            2000,
            Kind::Deploy,
            with(
                deploy_in("staging", "v1", "succeeded"),
                "commit_time",
                json!(rfc(1990)),
            ),
        ),
        // 3: lead 20 min.
        (
            3000,
            Kind::Deploy,
            with(
                deploy_in("staging", "v2", "succeeded"),
                "changes",
                changes(&[("s2", 2980)]),
            ),
        ),
    ]
}

#[test]
fn the_first_deploy_of_an_env_is_a_baseline_counted_only_from_the_horizon() {
    let env = hand_made(&baseline_ledger());
    // No --lead-time-since: none of seq 0's changes count; only c2 (60 min).
    let m = prod(&env);
    assert_eq!(lead(&m), (json!(1), json!(60 * MIN), json!(60 * MIN)));
    assert_eq!(m["lead_time"]["horizon_ms"], Value::Null);
    assert_eq!(
        m["lead_time"]["baselines"],
        json!([{"env": PROD, "seq": 0, "excluded": 2}])
    );

    // Horizon exactly at `recent` (minute -30): `recent` counts (at the horizon, 30 min),
    // `old` does not. 30, 60: median 45 min, p90 rank ceil(1.8) = 2 -> 60 min.
    let h = "2026-10-31T23:30:00Z";
    assert_eq!(h, rfc(-30));
    let m = metrics_json(&env, Some(NOW), &["--env", PROD, "--lead-time-since", h]);
    assert_eq!(lead(&m), (json!(2), json!(45 * MIN), json!(60 * MIN)));
    assert_eq!(m["lead_time"]["horizon_ms"], ms(-30));
    assert_eq!(
        m["lead_time"]["baselines"],
        json!([{"env": PROD, "seq": 0, "excluded": 1}])
    );

    // A duration back from --now: 400 days before minute 14400 is before `old`: both count.
    // old: 0 - (-525600) = 525600 min; recent 30; c2 60. Sorted 30, 60, 525600: median 60,
    // p90 rank 3 -> 525600 min.
    let m = metrics_json(
        &env,
        Some(NOW),
        &["--env", PROD, "--lead-time-since", "400d"],
    );
    assert_eq!(lead(&m), (json!(3), json!(60 * MIN), json!(525_600 * MIN)));
    assert_eq!(m["lead_time"]["horizon_ms"], ms(14_400 - 400 * 1440));
    assert_eq!(
        m["lead_time"]["baselines"],
        json!([{"env": PROD, "seq": 0, "excluded": 0}])
    );

    // All envs, no flag: each env has its baseline. Counted: c2 60, s2 20: median 40 min.
    let m = metrics_json(&env, Some(NOW), &[]);
    assert_eq!(lead(&m), (json!(2), json!(40 * MIN), json!(60 * MIN)));
    let mut b = m["lead_time"]["baselines"].as_array().unwrap().clone();
    b.sort_by_key(|x| x["seq"].as_u64());
    assert_eq!(
        Value::Array(b),
        json!([{"env": PROD, "seq": 0, "excluded": 2}, {"env": "staging", "seq": 2, "excluded": 1}])
    );

    // All envs, horizon at minute 1990 (staging's commit_time): production's two are older,
    // staging's one counts (10 min). 10, 20, 60: median 20, p90 rank 3 -> 60.
    let m = metrics_json(&env, Some(NOW), &["--lead-time-since", &rfc(1990)]);
    assert_eq!(lead(&m), (json!(3), json!(20 * MIN), json!(60 * MIN)));
    let mut b = m["lead_time"]["baselines"].as_array().unwrap().clone();
    b.sort_by_key(|x| x["seq"].as_u64());
    assert_eq!(
        Value::Array(b),
        json!([{"env": PROD, "seq": 0, "excluded": 2}, {"env": "staging", "seq": 2, "excluded": 0}])
    );

    // The text names the baselines on a line of its own.
    let out = env.run(&["metrics", "--env", PROD, "--now", NOW]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.contains("baseline") && l.contains(PROD)),
        "{text}"
    );
    // `report` takes the flag too.
    let html = env.path().join("r.html");
    let out = env.run(&[
        "report",
        "--env",
        PROD,
        "--now",
        NOW,
        "--lead-time-since",
        h,
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
}

// =============================================================================================
// 1h. Body times are UTC strings on every append path; `--since 0s`.

#[test]
fn new_commit_times_are_utc_strings_on_every_append_path() {
    let env = cli_ledger();
    let dep = [
        "append",
        "deploy",
        "--actor",
        "ci",
        "--env",
        PROD,
        "--version",
        "v1",
        "--commit",
        "c1",
        "--status",
        "succeeded",
    ];
    for bad in [json!(1_700_000_000), json!("2026-11-01T10:00:00+02:00")] {
        let body = json!({"commit_time": bad}).to_string();
        let mut a = dep.to_vec();
        a.extend_from_slice(&["--body", &body]);
        refused(&env, &a, None, Some("commit_time"));
        let line = json!({"kind": "deploy", "actor": "ci", "body": {"env": PROD, "version": "v1",
            "commit": "c1", "status": "succeeded", "commit_time": bad}});
        refused(
            &env,
            &["append", "--batch", "-"],
            Some(&format!("{line}\n")),
            Some("commit_time"),
        );
    }
    // A `Z` time is accepted and stored as given, by --body and by --batch.
    let body = json!({"commit_time": "2026-11-01T08:00:00Z"}).to_string();
    let mut a = dep[1..].to_vec();
    a.extend_from_slice(&["--body", &body]);
    append(&env, &a);
    assert_eq!(
        last_entry(&env)["body"]["commit_time"],
        "2026-11-01T08:00:00Z"
    );
    let line = json!({"kind": "deploy", "actor": "ci", "body": {"env": PROD, "version": "v2",
        "commit": "c2", "status": "succeeded", "commit_time": "2026-11-01T09:00:00.123Z"}});
    let out = env.run_stdin(&["append", "--batch", "-"], format!("{line}\n").as_bytes());
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(
        last_entry(&env)["body"]["commit_time"],
        "2026-11-01T09:00:00.123Z"
    );
}

/// Window ledger: a staging deploy, a drill and a `started` step before production's first
/// deployment (a failed one).
fn window_ledger() -> Vec<Row> {
    vec![
        (-500, Kind::Deploy, deploy_in("staging", "v1", "succeeded")), // 0
        (-200, Kind::Drill, drill("pass", 1_000)), // 1: production, before its first deployment
        (-50, Kind::Deploy, deploy("v1", "started")), // 2: not a deployment
        (0, Kind::Deploy, deploy("v1", "failed")), // 3: first production deployment
        (10, Kind::Deploy, deploy("v1", "succeeded")), // 4: restores 3 after 10 min
        (3000, Kind::Drill, drill("fail", 2_000)), // 5
    ]
}

#[test]
fn without_since_the_window_starts_at_the_first_deployment_in_scope() {
    let env = hand_made(&window_ledger());
    // production: from = minute 0 (not the started step at -50, the drill at -200 or staging's
    // deploy at -500). 14400 min = 10 days; 1 succeeded: 0.1 / day.
    let m = prod(&env);
    assert_eq!(m["from_ms"], ms(0));
    close(&m["deployment_frequency"]["days"], 10.0);
    close(&m["deployment_frequency"]["per_day"], 0.1);
    assert_eq!(cfr(&m), (json!(2), json!(1)), "{m}");
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(10 * MIN), json!(10 * MIN))
    );
    // Drills from minute 0: only seq 5 (fail).
    assert_eq!(m["drills"]["count"], 1);
    assert_eq!(m["drills"]["passed"], 0);
    // All envs: from = staging's deploy at -500: 14900 min; both drills.
    let a = metrics_json(&env, Some(NOW), &[]);
    assert_eq!(a["from_ms"], ms(-500));
    close(&a["deployment_frequency"]["days"], 14_900.0 / 1440.0);
    assert_eq!(a["drills"]["count"], 2);
    assert_eq!(a["drills"]["passed"], 1);
}

#[test]
fn since_0s_is_the_same_as_no_since() {
    let env = hand_made(&window_ledger());
    for extra in [&["--env", PROD][..], &["--env", "staging"], &[]] {
        let plain = metrics_json(&env, Some(NOW), extra);
        let mut args = extra.to_vec();
        args.extend_from_slice(&["--since", "0s"]);
        let zero = metrics_json(&env, Some(NOW), &args);
        assert_eq!(zero, plain, "{extra:?}");
        // The text too.
        let mut t1 = vec!["metrics", "--now", NOW];
        t1.extend_from_slice(extra);
        let mut t2 = t1.clone();
        t2.extend_from_slice(&["--since", "0s"]);
        let (o1, o2) = (env.run(&t1), env.run(&t2));
        assert_eq!(code(&o2), Some(0), "{}", stderr(&o2));
        assert_eq!(stdout(&o1), stdout(&o2));
    }
    assert_eq!(prod(&env)["from_ms"], ms(0));
}

// =============================================================================================
// 2. The ambiguities, pinned.

#[test]
fn negative_durations_count_as_zero() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0: baseline, no changes
        // 1: its change is dated 30 min after the deploy (clock skew): lead 0, not -30.
        (
            100,
            Kind::Deploy,
            with(
                deploy("v2", "succeeded"),
                "changes",
                changes(&[("c2", 130)]),
            ),
        ),
        (200, Kind::Incident, incident("INC-1", "opened", Some(1))), // 2
        (190, Kind::Incident, incident("INC-1", "resolved", None)),  // 3: "before" it opened
    ]);
    let m = prod(&env);
    assert_eq!(lead(&m), (json!(1), json!(0), json!(0)));
    // v2 failed by INC-1: start 200 (opened), end 190 (resolved): -10 min -> 0.
    assert_eq!(cfr(&m), (json!(2), json!(1)));
    assert_eq!(restore(&m), (json!(1), json!(0), json!(0), json!(0)));
}

#[test]
fn empty_changes_means_no_lead_time_even_with_commit_time() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0: baseline
        // 1: `changes: []` ships nothing; its commit_time (10 min before) is not used.
        (
            100,
            Kind::Deploy,
            with(
                with(deploy("v2", "succeeded"), "changes", json!([])),
                "commit_time",
                json!(rfc(90)),
            ),
        ),
        // 2: no `changes`: commit_time is one change, 50 min.
        (
            200,
            Kind::Deploy,
            with(deploy("v3", "succeeded"), "commit_time", json!(rfc(150))),
        ),
    ]);
    let m = prod(&env);
    assert_eq!(lead(&m), (json!(1), json!(50 * MIN), json!(50 * MIN)));
}

#[test]
fn a_change_first_shipped_before_the_window_is_not_counted_in_it() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0: production baseline
        // 1: ships cA first (60 min).
        (
            100,
            Kind::Deploy,
            with(deploy("v2", "succeeded"), "changes", changes(&[("cA", 40)])),
        ),
        (2500, Kind::Deploy, deploy_in("staging", "v0", "succeeded")), // 2: staging baseline
        // 3: cA again (shipped at seq 1, before the window: not at all) and cB (10 min).
        (
            3000,
            Kind::Deploy,
            with(
                deploy("v3", "succeeded"),
                "changes",
                changes(&[("cA", 40), ("cB", 2990)]),
            ),
        ),
        // 4: cA reaches staging for the first time: 3100 - 40 = 3060 min.
        (
            3100,
            Kind::Deploy,
            with(
                deploy_in("staging", "v3", "succeeded"),
                "changes",
                changes(&[("cA", 40)]),
            ),
        ),
    ]);
    // Window from minute 2000.
    let since = rfc(2000);
    let m = metrics_json(&env, Some(NOW), &["--env", PROD, "--since", &since]);
    assert_eq!(m["from_ms"], ms(2000));
    assert_eq!(lead(&m), (json!(1), json!(10 * MIN), json!(10 * MIN)));
    // All envs: 10 and 3060 (once per env): median 1535 min, p90 rank 2 -> 3060 min.
    let a = metrics_json(&env, Some(NOW), &["--since", &since]);
    assert_eq!(lead(&a), (json!(2), json!(1535 * MIN), json!(3060 * MIN)));
    // Whole history, production: cA 60 at seq 1, cB 10: median 35, p90 60.
    let w = prod(&env);
    assert_eq!(lead(&w), (json!(2), json!(35 * MIN), json!(60 * MIN)));
}

#[test]
fn several_rollbacks_of_one_deploy_count_it_once_and_recovery_ends_at_the_first() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")),   // 0
        (100, Kind::Deploy, deploy("v2", "succeeded")), // 1
        (107, Kind::Rollback, rollback(PROD, "v2", "v1", None)), // 2: undoes seq 1
        (130, Kind::Rollback, rollback(PROD, "v2", "v1", Some(1))), // 3: seq 1 again
    ]);
    // 2 deployments, 1 failure; recovery 100 -> 107 = 7 min.
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(2), json!(1)), "{m}");
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(7 * MIN), json!(7 * MIN))
    );
}

#[test]
fn a_rolled_back_failed_deploy_is_one_failure_restored_by_the_rollback() {
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0
        (100, Kind::Deploy, deploy("v2", "failed")),  // 1
        (106, Kind::Rollback, rollback(PROD, "v2", "v1", None)), // 2: undoes seq 1 (failed)
    ]);
    // 2 deployments, 1 failure (failed and rolled back: once); 100 -> 106 = 6 min.
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(2), json!(1)), "{m}");
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(6 * MIN), json!(6 * MIN))
    );
    // R4 takes "a rollback undid it" before "the next succeeded deploy": with a succeeded
    // redeploy of v1 at 103 and the rollback at 110, recovery is 10 min, not 3.
    let env = hand_made(&[
        (0, Kind::Deploy, deploy("v1", "succeeded")),   // 0
        (100, Kind::Deploy, deploy("v2", "failed")),    // 1
        (103, Kind::Deploy, deploy("v1", "succeeded")), // 2
        (110, Kind::Rollback, rollback(PROD, "v2", "v1", Some(1))), // 3
    ]);
    let m = prod(&env);
    assert_eq!(cfr(&m), (json!(3), json!(1)), "{m}");
    assert_eq!(
        restore(&m),
        (json!(1), json!(0), json!(10 * MIN), json!(10 * MIN))
    );
}

#[test]
fn a_tie_misses_an_under_target_and_meets_an_at_least_target() {
    let env = hand_made(&[
        // 0: baseline; its commit_time is left out.
        (
            0,
            Kind::Deploy,
            with(deploy("v1", "succeeded"), "commit_time", json!(rfc(-10))),
        ),
        (100, Kind::Deploy, deploy("v2", "failed")), // 1: restored by seq 2 after 5 min
        // 2: lead 20 min.
        (
            105,
            Kind::Deploy,
            with(deploy("v3", "succeeded"), "changes", changes(&[("c3", 85)])),
        ),
        (200, Kind::Deploy, deploy("v4", "failed")), // 3: open
        (300, Kind::Drill, drill("pass", 60_000)),   // 4
        (400, Kind::Drill, drill("fail", 60_000)),   // 5
    ]);
    // As of minute 1440: window exactly 1 day.
    let now = rfc(1440);
    let cfg_path = env.dir().join("config.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let run = |targets: &str| {
        std::fs::write(&cfg_path, format!("{cfg}\n[metrics]\n{targets}")).unwrap();
        metrics_json(&env, Some(&now), &["--env", PROD])
    };
    // Values: 2 succeeded / 1 day = 2 / day; lead median 20 min; 2 failures / 4 = 50 %;
    // recovery median 5 min (1 restored, 1 open); drills 1 / 2 = 50 %, duration median 1 min.
    let tie = run("min_deploys_per_day = 2\nmax_lead_time = \"20m\"\nmax_change_failure_rate = 50\nmax_time_to_restore = \"5m\"\nmin_drill_pass_rate = 50\nmax_drill_duration = \"1m\"\n");
    close(&tie["deployment_frequency"]["per_day"], 2.0);
    assert_eq!(lead(&tie).1, json!(20 * MIN));
    close(&tie["change_failure_rate"]["percent"], 50.0);
    assert_eq!(
        restore(&tie),
        (json!(1), json!(1), json!(5 * MIN), json!(5 * MIN))
    );
    close(&tie["drills"]["pass_rate"], 50.0);
    assert_eq!(tie["drills"]["duration"]["median_ms"], 60_000);
    assert_eq!(tie["lead_time"]["target_ms"], 20 * MIN);
    assert_eq!(tie["time_to_restore"]["target_ms"], 5 * MIN);
    // "at least" targets meet on a tie; "under" targets miss.
    assert_eq!(tie["deployment_frequency"]["status"], "met");
    assert_eq!(tie["drills"]["pass_status"], "met");
    assert_eq!(tie["lead_time"]["status"], "missed");
    assert_eq!(tie["change_failure_rate"]["status"], "missed");
    assert_eq!(tie["time_to_restore"]["status"], "missed");
    assert_eq!(tie["drills"]["duration"]["status"], "missed");
    // Control: targets just past the values flip every status.
    let off = run("min_deploys_per_day = 2.5\nmax_lead_time = \"21m\"\nmax_change_failure_rate = 51\nmax_time_to_restore = \"6m\"\nmin_drill_pass_rate = 51\nmax_drill_duration = \"2m\"\n");
    assert_eq!(off["deployment_frequency"]["status"], "missed");
    assert_eq!(off["drills"]["pass_status"], "missed");
    assert_eq!(off["lead_time"]["status"], "met");
    assert_eq!(off["change_failure_rate"]["status"], "met");
    assert_eq!(off["time_to_restore"]["status"], "met");
    assert_eq!(off["drills"]["duration"]["status"], "met");
}

#[test]
fn percent_is_exact_in_json_and_one_decimal_in_text_and_report() {
    for (rows, failures, exact, shown) in [
        (rollback_of_failed_v3(), 1, 100.0 / 3.0, "33.3 %"),
        (unresolved_incident(), 2, 200.0 / 3.0, "66.7 %"),
    ] {
        let env = hand_made(&rows);
        // JSON: failures / deploys * 100, not rounded.
        let m = prod(&env);
        assert_eq!(cfr(&m), (json!(3), json!(failures)));
        let p = m["change_failure_rate"]["percent"].as_f64().unwrap();
        assert!((p - exact).abs() < 1e-9, "{p}");
        assert!((p * 10.0).fract().abs() > 1e-6, "rounded in JSON: {p}");
        // Text: one decimal, rounded (66.67 -> 66.7).
        let out = env.run(&["metrics", "--env", PROD, "--now", NOW]);
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
        let text = stdout(&out);
        let row = text
            .lines()
            .find(|l| l.contains("change failure rate"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(row.contains(shown), "{row}");
        assert!(!row.contains(&format!("{exact:.2}")), "{row}");
        // The report shows the same string.
        let html_path = env.path().join("r.html");
        let out = env.run(&[
            "report",
            "--env",
            PROD,
            "--now",
            NOW,
            "--out",
            html_path.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), Some(0), "{}", stderr(&out));
        let html = std::fs::read_to_string(&html_path).unwrap();
        assert!(html.contains(&format!("<td>{shown}</td>")), "{shown}");
    }
    // Durations in the text go through human_ms: the 5-minute recovery of the first ledger.
    let env = hand_made(&rollback_of_failed_v3());
    let out = env.run(&["metrics", "--env", PROD, "--now", NOW]);
    let text = stdout(&out);
    let row = text
        .lines()
        .find(|l| l.contains("recovery time"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains("median 5m 00s, p90 5m 00s"), "{row}");
}

#[test]
fn metrics_measure_production_unless_told_otherwise() {
    let env = hand_made(&window_ledger());
    let default = metrics_json(&env, Some(NOW), &["--env", PROD]);
    let out = env.run(&["--json", "metrics", "--now", NOW]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, default);
    assert_eq!(v["env"], PROD);
    let all = metrics_json(&env, Some(NOW), &["--env", "all"]);
    assert_eq!(all["env"], Value::Null);
    assert_ne!(
        all["deployment_frequency"]["count"], v["deployment_frequency"]["count"],
        "the window ledger deploys to staging too"
    );
    // An env without deploys says which envs have some.
    let out = env.run(&["metrics", "--now", NOW, "--env", "qa"]);
    assert_eq!(code(&out), Some(0));
    assert!(
        stderr(&out).contains("no deploys to qa") && stderr(&out).contains("staging"),
        "{}",
        stderr(&out)
    );
}

/// Rework rate: deployments made while an earlier one of their env was failing, from the
/// failure's start to its end (both included); and the DORA levels beside the key metrics.
#[test]
fn rework_counts_the_deploys_made_while_an_earlier_one_was_failing() {
    let rows: Vec<Row> = vec![
        (0, Kind::Deploy, deploy("v1", "succeeded")), // 0: planned
        (10, Kind::Deploy, deploy("v2", "failed")),   // 1: fails, open until seq 3
        (20, Kind::Deploy, deploy("v3", "failed")),   // 2: a failed fix: rework
        (30, Kind::Deploy, deploy("v4", "succeeded")), // 3: fixes forward: rework
        (40, Kind::Deploy, deploy("v5", "succeeded")), // 4: planned
        (50, Kind::Deploy, deploy_in("staging", "v6", "failed")), // 5: another env
        (60, Kind::Deploy, deploy("v6", "succeeded")), // 6: planned (staging's failure is not ours)
        (70, Kind::Incident, incident("INC-1", "opened", Some(6))), // 7: names seq 6 from min 70
        (65, Kind::Deploy, deploy("v7", "succeeded")), // 8: before the incident opened: planned
        (80, Kind::Deploy, deploy("v8", "succeeded")), // 9: during the incident: rework
        (90, Kind::Incident, incident("INC-1", "resolved", None)), // 10
        (100, Kind::Deploy, deploy("v9", "succeeded")), // 11: after the resolution: planned
    ];
    let env = hand_made(&rows);
    let m = metrics_json(&env, Some(NOW), &["--env", PROD]);
    // Production deployments: seqs 0, 1, 2, 3, 4, 6, 8, 9, 11 = 9; rework: 2, 3, 9.
    assert_eq!(m["rework"]["deploys"], 9, "{m}");
    assert_eq!(m["rework"]["rework"], 3, "{m}");
    let p = m["rework"]["percent"].as_f64().unwrap();
    assert!((p - 100.0 / 3.0).abs() < 1e-9, "{p}");
    // Levels: 7 succeeded over the 10 days from the first deploy to NOW: 0.7 a day, high
    // (at least weekly, not more than daily); failures 1, 2, 6 of 9 = 33.3 %: low; recovery
    // of seq 1 (20 min, to seq 3), seq 2 (10 min), seq 6 (70 -> 90: 20 min): median 20 min,
    // elite; no lead time data.
    assert_eq!(m["levels"]["deployment_frequency"], "high", "{m}");
    assert_eq!(m["levels"]["change_failure_rate"], "low", "{m}");
    assert_eq!(m["levels"]["time_to_restore"], "elite", "{m}");
    assert_eq!(m["levels"]["lead_time"], Value::Null);
    // The text shows the rework row and the levels.
    let out = env.run(&["metrics", "--now", NOW]);
    let text = stdout(&out);
    assert!(
        text.contains("rework rate") && text.contains("33.3 %"),
        "{text}"
    );
    assert!(
        text.contains("DORA high") && text.contains("DORA low"),
        "{text}"
    );
    // Staging alone: one failed deploy, nothing after it: no rework.
    let s = metrics_json(&env, Some(NOW), &["--env", "staging"]);
    assert_eq!(s["rework"]["rework"], 0);
}
