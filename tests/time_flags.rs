//! The time flags of every command speak one grammar (`audit_ledger::time`): `--since` takes a
//! duration back from now or an instant, `--at` and `--now` an instant (`YYYY-MM-DD` or
//! RFC 3339), and a bad value exits 2 naming the flag.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use audit_ledger::ledger::entry::ZERO_HASH;
use audit_ledger::ledger::{Entry, Kind, Ledger};
use audit_ledger::time::format_ts;
use common::Env;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;

/// RFC 3339 without fractions, as people type it.
fn rfc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

/// A ledger whose entries lie 90, 90, 45 and 1 days before `now` (whole seconds).
fn setup() -> (Env, i64) {
    let env = Env::new();
    let now = chrono::Utc::now().timestamp() * 1000;
    Ledger::init(&env.dir(), "test.example/time", false).unwrap();
    let deploy = |v: &str, merges: Value| json!({"env": "prod", "version": v, "commit": format!("{v}-commit"), "status": "succeeded", "merges": merges});
    let entries = [
        (
            now - 90 * DAY,
            Kind::Merge,
            json!({"author": "alice", "source": "f", "target": "main", "source_commit": "a", "target_commit": "b", "merge_commit": "m1", "paths": ["src/x.rs"]}),
        ),
        (
            now - 90 * DAY + 60_000,
            Kind::Deploy,
            deploy("v1", json!([{"merge_commit": "m1", "author": "alice"}])),
        ),
        (now - 45 * DAY, Kind::Deploy, deploy("v2", json!([]))),
        (now - DAY, Kind::Deploy, deploy("v3", json!([]))),
    ];
    let mut prev = ZERO_HASH;
    let mut text = Vec::new();
    for (seq, (ts, kind, body)) in entries.into_iter().enumerate() {
        let e = Entry::seal(
            seq as u64,
            format_ts(ts),
            kind,
            "ci".into(),
            None,
            body,
            prev,
        )
        .unwrap();
        prev = e.hash;
        text.extend_from_slice(&e.to_line());
        text.push(b'\n');
    }
    std::fs::write(env.log(), text).unwrap();
    (env, now)
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    if args.first() == Some(&"metrics") {
        // The deploys here are to `prod` (the default env is production).
        all.extend_from_slice(&["--env", "prod"]);
    }
    serde_json::from_str(&env.ok(&all)).unwrap()
}

#[test]
fn since_takes_a_duration_or_an_instant() {
    let (env, now) = setup();
    // log: a duration back from the clock, or a date.
    assert_eq!(env.ok(&["log", "--since", "30d"]).lines().count(), 1);
    assert_eq!(env.ok(&["log", "--since", "8w"]).lines().count(), 2);
    assert_eq!(env.ok(&["log", "--since", "1h 30m"]).lines().count(), 0);
    let d50 = date(now - 50 * DAY);
    assert_eq!(env.ok(&["log", "--since", &d50]).lines().count(), 2);

    // metrics: a date, with --now as a date or RFC 3339.
    let at = rfc(now);
    let m = json_of(&env, &["metrics", "--now", &at, "--since", &d50]);
    assert_eq!(m["deployment_frequency"]["count"], 2);
    let all = json_of(&env, &["metrics", "--now", &at]);
    assert_eq!(all["deployment_frequency"]["count"], 3);
    let tomorrow = date(now + DAY);
    let m = json_of(&env, &["metrics", "--now", &tomorrow, "--since", "30d"]);
    assert_eq!(m["deployment_frequency"]["count"], 1);

    // report: an RFC 3339 instant with an offset.
    let since = chrono::DateTime::from_timestamp_millis(now - 50 * DAY)
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    let out = env.path().join("r.html");
    env.ok(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--now",
        &at,
        "--since",
        &since,
        "--env",
        "prod",
    ]);
    let html = std::fs::read_to_string(&out).unwrap();
    let from = chrono::DateTime::from_timestamp_millis(now - 50 * DAY)
        .unwrap()
        .format("metrics window %Y-%m-%d %H:%M UTC to ")
        .to_string();
    assert!(html.contains(&from), "{from}");
}

#[test]
fn at_takes_an_instant() {
    let (env, now) = setup();
    let s = json_of(
        &env,
        &[
            "trust",
            "score",
            "--actor",
            "alice",
            "--at",
            "2026-12-01T00:00:00Z",
        ],
    );
    assert_eq!(s["breakdown"]["as_of"], "2026-12-01T00:00:00.000Z");
    // As of a day before the merge, alice is unknown; a day after it she is known.
    let before = date(now - 91 * DAY);
    let s = json_of(
        &env,
        &["trust", "score", "--actor", "alice", "--at", &before],
    );
    assert_eq!(s["known"], false);
    let after = rfc(now - 89 * DAY);
    let s = json_of(&env, &["trust", "summary", "--at", &after]);
    assert_eq!(s["actors"][0]["actor"], "alice");
    assert_eq!(s["actors"][0]["known"], true);
}

#[test]
fn a_bad_value_exits_2_naming_the_flag() {
    let (env, _) = setup();
    let out = env.path().join("r.html");
    let out = out.to_str().unwrap();
    for (args, flag, says) in [
        (
            vec!["log", "--since", "30x"],
            "--since",
            "neither a duration nor a time",
        ),
        (
            vec!["log", "--since", "2026-13-01"],
            "--since",
            "YYYY-MM-DD",
        ),
        (
            vec!["metrics", "--since", "1.5d"],
            "--since",
            "has a fraction",
        ),
        // (`metrics --since 0d` means "no window": tests/metrics.rs; a log has no window.)
        (vec!["log", "--since", "0d"], "--since", "is not positive"),
        (vec!["metrics", "--now", "30d"], "--now", "is not a time"),
        (
            vec!["report", "--out", out, "--since", "2y"],
            "--since",
            "no fixed length",
        ),
        (
            vec!["report", "--out", out, "--now", "2026-02-29"],
            "--now",
            "RFC 3339",
        ),
        (
            vec!["trust", "score", "--actor", "a", "--at", "yesterday"],
            "--at",
            "is not a time",
        ),
        (
            vec!["trust", "summary", "--at", "2026-11-01T25:00:00Z"],
            "--at",
            "is not a time",
        ),
    ] {
        let o = env.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("ledger: {flag}: ")) && err.contains(says),
            "{args:?}: {err}"
        );
    }
}
