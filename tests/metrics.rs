//! `ledger metrics` and `ledger report` on a hand-made ledger whose timestamps are chosen, with
//! every expected number worked out by hand in the comments.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_ledger::ledger::entry::ZERO_HASH;
use audit_ledger::ledger::{Entry, Kind, Ledger};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ledger");
/// 2026-11-01T00:00:00Z; every time below is minutes after it.
const T0: i64 = 1_793_491_200;
const NOW: &str = "2026-11-11T00:00:00Z"; // T0 + 14400 minutes
const MIN: i64 = 60_000;

fn at(min: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + min * 60, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn rfc(min: i64) -> String {
    chrono::DateTime::from_timestamp(T0 + min * 60, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn deploy(env: &str, version: &str, status: &str) -> Value {
    json!({"env": env, "version": version, "commit": format!("{version}-commit"), "status": status})
}

/// (minute, kind, actor, body), in seq order.
fn scenario() -> Vec<(i64, Kind, &'static str, Value)> {
    let mut v = vec![
        // prod
        (0, Kind::Deploy, "ci/prod", deploy("prod", "v1", "started")), // 0: not counted
        (10, Kind::Deploy, "ci/prod", {
            // 1: lead 30 and 60 minutes
            let mut b = deploy("prod", "v1", "succeeded");
            b["changes"] =
                json!([{"commit": "c1", "time": rfc(-20)}, {"commit": "c2", "time": rfc(-50)}]);
            b["strategy"] = json!("blue-green");
            b
        }),
        (1440, Kind::Deploy, "ci/prod", {
            // 2: no `changes`: commit_time gives lead 10 minutes
            let mut b = deploy("prod", "v2", "succeeded");
            b["commit_time"] = json!(rfc(1430));
            b
        }),
        (2880, Kind::Deploy, "ci/prod", {
            // 3: failed; its change does not count for lead time here
            let mut b = deploy("prod", "v3", "failed");
            b["changes"] = json!([{"commit": "c3", "time": rfc(2870)}]);
            b
        }),
        (2884, Kind::Deploy, "ci/prod", {
            // 4: restores 3 after 4 minutes; lead of c3 = 14 minutes
            let mut b = deploy("prod", "v3", "succeeded");
            b["changes"] = json!([{"commit": "c3", "time": rfc(2870)}]);
            b["strategy"] = json!("canary");
            b["percent"] = json!(10);
            b
        }),
        (7200, Kind::Deploy, "ci/prod", {
            // 5: lead of c4 = 120 minutes; c1 shipped before, not counted again
            let mut b = deploy("prod", "v4", "succeeded");
            b["changes"] =
                json!([{"commit": "c4", "time": rfc(7080)}, {"commit": "c1", "time": rfc(-20)}]);
            b
        }),
        // 6: undoes 5 after 3 minutes
        (
            7203,
            Kind::Rollback,
            "ci/prod",
            json!({"env": "prod", "from_version": "v4", "to_version": "v3", "trigger": "error rate", "trigger_type": "auto", "undoes_seq": 5}),
        ),
        (
            12960,
            Kind::Deploy,
            "ci/prod",
            deploy("prod", "v5", "succeeded"),
        ), // 7: no change times
        (
            13020,
            Kind::Deploy,
            "ci/prod",
            deploy("prod", "v6", "failed"),
        ), // 8: never restored
        // staging: no failures
        (4320, Kind::Deploy, "ci/staging", {
            // 9: lead 5 minutes
            let mut b = deploy("staging", "v1", "succeeded");
            b["commit_time"] = json!(rfc(4315));
            b
        }),
        (11520, Kind::Deploy, "ci/staging", {
            // 10: lead 45 minutes
            let mut b = deploy("staging", "v2", "succeeded");
            b["changes"] = json!([{"commit": "c9", "time": rfc(11475)}]);
            b
        }),
    ];
    let drill = |env: Option<&str>, outcome: &str, ms: u64| {
        let mut b = json!({"target": "abc", "check": "make smoke", "outcome": outcome, "duration_ms": ms, "report_sha256": "0".repeat(64)});
        if let Some(e) = env {
            b["env"] = json!(e);
        }
        b
    };
    v.push((
        13080,
        Kind::Drill,
        "ops",
        drill(Some("prod"), "pass", 60_000),
    )); // 11
    v.push((
        13140,
        Kind::Drill,
        "ops",
        drill(Some("prod"), "fail", 120_000),
    )); // 12
    v.push((
        5760,
        Kind::Drill,
        "ops",
        drill(Some("prod"), "timeout", 300_000),
    )); // 13
    v.push((13200, Kind::Drill, "ops", drill(None, "pass", 1_000))); // 14
    v.push((
        100,
        Kind::Merge,
        "bot",
        json!({"author": "<script>alert(1)</script>", "source": "f", "target": "main", "source_commit": "a", "target_commit": "b", "merge_commit": "c", "paths": ["src/x.rs"]}),
    ));
    v.push((101, Kind::Approval, "gate", json!({"subject": "merge c", "decision": "deny", "reasons": ["score 0.41 < 0.8 for src/db/**", "see https://example.org/x"]})));
    v
}

/// Write the scenario as a valid (unsigned) ledger. Timestamps need not be monotonic in a
/// ledger; the metrics do not assume they are.
fn make_ledger() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "test.example/metrics", false).unwrap();
    let mut prev = ZERO_HASH;
    let mut text = Vec::new();
    for (seq, (min, kind, actor, body)) in scenario().into_iter().enumerate() {
        let e = Entry::seal(
            seq as u64,
            at(min),
            kind,
            actor.to_string(),
            None,
            body,
            prev,
        )
        .unwrap();
        prev = e.hash;
        text.extend_from_slice(&e.to_line());
        text.push(b'\n');
    }
    std::fs::write(dir.join("ledger.jsonl"), text).unwrap();
    (tmp, dir)
}

fn ledger(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("LEDGER_DIR")
        .output()
        .unwrap()
}

fn metrics(dir: &Path, extra: &[&str]) -> Value {
    // The baselines (prod's seq 1, staging's seq 9) count from a horizon before every change
    // time here, so that the worked example's lead times stay as in docs/metrics.md;
    // `baselines_leave_their_changes_out_without_a_horizon` shows the default.
    let mut args = vec![
        "--json",
        "metrics",
        "--now",
        NOW,
        "--lead-time-since",
        "2026-10-01",
    ];
    // Every env unless the test names one (the command's default is production).
    if !extra.contains(&"--env") {
        args.extend_from_slice(&["--env", "all"]);
    }
    args.extend_from_slice(extra);
    let out = ledger(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/output/metrics.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(jsonschema::is_valid(&schema, &v), "{v}");
    v
}

fn close(v: &Value, want: f64) {
    let got = v
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, found {v}"));
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

#[test]
fn the_hand_made_ledger_is_valid() {
    let (_t, dir) = make_ledger();
    assert_eq!(ledger(&dir, &["verify"]).status.code(), Some(0));
}

#[test]
fn prod_all_time() {
    let (_t, dir) = make_ledger();
    let m = metrics(&dir, &["--env", "prod"]);
    // Window: first prod deploy (minute 10) to now (minute 14400): 14390 / 1440 days.
    // Succeeded: seq 1, 2, 4, 5, 7 = 5.
    let f = &m["deployment_frequency"];
    assert_eq!(f["count"], 5);
    close(&f["days"], 14390.0 / 1440.0);
    close(&f["per_day"], 5.0 * 1440.0 / 14390.0);
    assert_eq!(f["status"], "missed"); // 0.5 < 2
                                       // Lead times: 30, 60 (seq 1), 10 (seq 2), 14 (seq 4), 120 (seq 5) minutes.
                                       // Sorted 10 14 30 60 120: median 30, p90 rank ceil(4.5) = 5 -> 120.
    let l = &m["lead_time"];
    assert_eq!(l["count"], 5);
    assert_eq!(l["median_ms"], 30 * MIN);
    assert_eq!(l["p90_ms"], 120 * MIN);
    assert_eq!(l["status"], "met");
    // Deploys: 1 2 3 4 5 7 8 = 7; failures: 3 (failed), 5 (rolled back), 8 (failed) = 3.
    let c = &m["change_failure_rate"];
    assert_eq!(c["deploys"], 7);
    assert_eq!(c["failures"], 3);
    close(&c["percent"], 300.0 / 7.0);
    assert_eq!(c["status"], "missed");
    // Restore: 3 -> 4 at +4 min, 5 -> rollback at +3 min; 8 open.
    // Median (3 + 4) / 2 = 3.5 min, p90 rank ceil(1.8) = 2 -> 4 min.
    let r = &m["time_to_restore"];
    assert_eq!(r["count"], 2);
    assert_eq!(r["open"], 1);
    assert_eq!(r["median_ms"], 210_000);
    assert_eq!(r["p90_ms"], 4 * MIN);
    assert_eq!(r["status"], "met");
    // Drills with env prod: pass, fail, timeout: 1 of 3; durations 60 s, 120 s, 300 s.
    let d = &m["drills"];
    assert_eq!(d["count"], 3);
    assert_eq!(d["passed"], 1);
    close(&d["pass_rate"], 100.0 / 3.0);
    assert_eq!(d["pass_status"], "missed");
    assert_eq!(d["duration"]["median_ms"], 120_000);
    assert_eq!(d["duration"]["p90_ms"], 300_000);
    assert_eq!(d["duration"]["status"], "met"); // 2 min < 5 min
}

#[test]
fn env_without_failures() {
    let (_t, dir) = make_ledger();
    let m = metrics(&dir, &["--env", "staging"]);
    // Window: minute 4320 to 14400 = 7 days; 2 succeeded deploys.
    close(&m["deployment_frequency"]["days"], 7.0);
    close(&m["deployment_frequency"]["per_day"], 2.0 / 7.0);
    let c = &m["change_failure_rate"];
    assert_eq!(
        (c["deploys"].clone(), c["failures"].clone()),
        (json!(2), json!(0))
    );
    close(&c["percent"], 0.0);
    assert_eq!(c["status"], "met");
    // No failure: nothing to restore, nothing open.
    let r = &m["time_to_restore"];
    assert_eq!(
        (
            r["count"].clone(),
            r["open"].clone(),
            r["median_ms"].clone()
        ),
        (json!(0), json!(0), Value::Null)
    );
    assert_eq!(r["status"], "no-data");
    // Lead 5 and 45 min: median 25 min, p90 rank 2 -> 45 min.
    assert_eq!(m["lead_time"]["median_ms"], 25 * MIN);
    assert_eq!(m["lead_time"]["p90_ms"], 45 * MIN);
    assert_eq!(m["drills"]["count"], 0);
    assert_eq!(m["drills"]["pass_rate"], Value::Null);
}

#[test]
fn env_without_deploys_says_no_data() {
    let (_t, dir) = make_ledger();
    let m = metrics(&dir, &["--env", "qa"]);
    assert_eq!(m["from_ms"], Value::Null);
    assert_eq!(m["deployment_frequency"]["per_day"], Value::Null);
    assert_eq!(m["deployment_frequency"]["count"], 0);
    assert_eq!(m["change_failure_rate"]["percent"], Value::Null);
    for k in [
        "deployment_frequency",
        "lead_time",
        "change_failure_rate",
        "time_to_restore",
    ] {
        assert_eq!(m[k]["status"], "no-data", "{k}");
    }
    assert_eq!(m["drills"]["pass_status"], "no-data");
    let out = ledger(&dir, &["metrics", "--env", "qa", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("no data"), "{text}");
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
}

#[test]
fn time_windows() {
    let (_t, dir) = make_ledger();
    // Last 2 days: minute 11520 (inclusive) to 14400.
    let m = metrics(&dir, &["--env", "prod", "--since", "2d"]);
    assert_eq!(m["from_ms"], (T0 + 11520 * 60) * 1000);
    // prod: seq 7 succeeded, seq 8 failed (open).
    close(&m["deployment_frequency"]["days"], 2.0);
    close(&m["deployment_frequency"]["per_day"], 0.5);
    assert_eq!(m["change_failure_rate"]["deploys"], 2);
    close(&m["change_failure_rate"]["percent"], 50.0);
    assert_eq!(m["lead_time"]["count"], 0); // seq 7 has no change times
    assert_eq!(m["lead_time"]["status"], "no-data");
    assert_eq!(m["time_to_restore"]["count"], 0);
    assert_eq!(m["time_to_restore"]["open"], 1);
    // Drills 11 (pass, 60 s) and 12 (fail, 120 s): median 90 s.
    close(&m["drills"]["pass_rate"], 50.0);
    assert_eq!(m["drills"]["duration"]["median_ms"], 90_000);
    assert_eq!(m["drills"]["duration"]["p90_ms"], 120_000);

    // Staging's seq 10 sits exactly on the window start: included.
    let s = metrics(&dir, &["--env", "staging", "--since", "48h"]);
    assert_eq!(s["deployment_frequency"]["count"], 1);
    assert_eq!(s["lead_time"]["median_ms"], 45 * MIN);

    // All envs, 2 days: seq 7, 8, 10 -> 1 failure of 3; drills 11, 12, 14 -> 2 of 3 pass.
    let a = metrics(&dir, &["--since", "2d"]);
    assert_eq!(a["env"], Value::Null);
    close(&a["change_failure_rate"]["percent"], 100.0 / 3.0);
    close(&a["drills"]["pass_rate"], 200.0 / 3.0);

    // Last 12 hours: nothing deployed; the window counts as one day, never zero.
    let n = metrics(&dir, &["--env", "prod", "--since", "12h"]);
    assert_eq!(n["deployment_frequency"]["per_day"], Value::Null);
    close(&n["deployment_frequency"]["days"], 1.0);
    assert_eq!(n["change_failure_rate"]["percent"], Value::Null);

    // A zero duration means no window: the same figures as without --since.
    let zero = metrics(&dir, &["--since", "0h"]);
    let all = metrics(&dir, &[]);
    assert_eq!(zero, all);

    // Bad durations are usage errors.
    for bad in ["2", "2y", "-1d", "1.5d"] {
        assert_eq!(
            ledger(&dir, &["metrics", "--since", bad]).status.code(),
            Some(2),
            "{bad}"
        );
    }
}

#[test]
fn targets_come_from_config() {
    let (_t, dir) = make_ledger();
    let mut cfg = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    cfg.push_str("\n[metrics]\nmin_deploys_per_day = 0.5\nmax_lead_time = \"30m\"\nmax_change_failure_rate = 50\nmax_time_to_restore = \"3m\"\n");
    std::fs::write(dir.join("config.toml"), &cfg).unwrap();
    let m = metrics(&dir, &["--env", "prod"]);
    assert_eq!(m["deployment_frequency"]["status"], "met"); // 0.5003 >= 0.5
    assert_eq!(m["lead_time"]["target_ms"], 30 * MIN);
    assert_eq!(m["lead_time"]["status"], "missed"); // median 30 min is not under 30 min
    assert_eq!(m["change_failure_rate"]["status"], "met"); // 42.9 % < 50 %
    assert_eq!(m["time_to_restore"]["status"], "missed"); // 3.5 min
    std::fs::write(
        dir.join("config.toml"),
        cfg.replace("\"3m\"", "\"3 moons\""),
    )
    .unwrap();
    let out = ledger(&dir, &["metrics"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[metrics].max_time_to_restore"));
}

#[test]
fn report_is_self_contained_well_formed_html() {
    let (t, dir) = make_ledger();
    let out_path = t.path().join("report.html");
    let out = ledger(
        &dir,
        &[
            "--json",
            "report",
            "--env",
            "prod",
            "--out",
            out_path.to_str().unwrap(),
            "--now",
            NOW,
            "--lead-time-since",
            "2026-10-01",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/output/report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(jsonschema::is_valid(&schema, &res), "{res}");
    assert_eq!(res["entries"], 17);
    let html = std::fs::read_to_string(&out_path).unwrap();
    // Polyglot markup: an XML parser must accept the whole page.
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");
    let ids: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("section"))
        .filter_map(|n| n.attribute("id"))
        .collect();
    assert_eq!(
        ids,
        [
            "integrity",
            "metrics",
            "trends",
            "actors",
            "approvals",
            "incidents",
            "drills"
        ]
    );
    assert!(doc.descendants().filter(|n| n.has_tag_name("svg")).count() >= 4);
    // The integrity section states what verification established.
    assert!(
        html.contains("Verified: all 17 entries"),
        "integrity verdict"
    );
    let head = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap();
    let last: Value = serde_json::from_str(head.lines().last().unwrap()).unwrap();
    assert!(
        html.contains(&format!("seq 16: {}", last["hash"].as_str().unwrap())),
        "head"
    );
    // Charts have axes with ticks and gridlines, a dashed target line, and a legend.
    let ticks = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some("tick"))
        .count();
    assert!(ticks >= 20, "{ticks} tick labels");
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("line") && n.attribute("class") == Some("target")),
        "target line"
    );
    assert!(html.contains("class=\"legend\""));
    // DORA levels beside the key metrics, and the rework rate row.
    assert!(
        html.contains("<td class=\"level low\">low</td>"),
        "a level cell"
    );
    assert!(html.contains("<td>Rework rate</td>"));
    // Nothing loaded from elsewhere, nothing executed.
    for n in doc.descendants().filter(|n| n.is_element()) {
        let tag = n.tag_name().name();
        assert!(
            !["script", "link", "img", "iframe", "object", "embed", "base"].contains(&tag),
            "<{tag}>"
        );
        for a in n.attributes() {
            assert!(
                !["src", "href", "xlink:href", "srcset", "action"].contains(&a.name()),
                "{tag} @{}",
                a.name()
            );
            assert!(!a.name().starts_with("on"), "event handler {}", a.name());
        }
        if tag == "style" {
            let css = n.text().unwrap_or("");
            assert!(!css.contains("url(") && !css.contains("@import"), "{css}");
        }
    }
    // The only URL on the page is the one a ledger entry contains, shown as text.
    let urls: Vec<&str> = html
        .match_indices("://")
        .map(|(i, _)| &html[i.saturating_sub(5)..i + 3])
        .collect();
    assert_eq!(urls, ["https://"]);
    assert!(html.contains("see https://example.org/x"));
    // Ledger text is escaped: the XML parser reads it back as text, never as an element.
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("td"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect();
    assert!(
        texts.iter().any(|t| t == "<script>alert(1)</script>"),
        "the author's name as text"
    );
    assert!(!html.contains("<script"));
    // The metrics table shows the hand-computed change failure rate and the prod deny.
    // The rows are `metrics::table`'s, the same words as `ledger metrics` prints.
    assert!(
        html.contains(
            "<td>42.9 %</td><td>3 failed, rolled back or named by an incident / 7 deployments</td>"
        ),
        "change failure rate"
    );
    assert!(texts
        .iter()
        .any(|t| t.contains("score 0.41 < 0.8 for src/db/**")));
    // Trust per actor: the one merge has not shipped, so its author has the prior, 0.500.
    assert!(html.contains("<th>trust</th>"));
    assert!(
        html.contains("<td class=\"num\">0.500</td><td>0 / 0 / 1</td>"),
        "trust row"
    );
    // An empty ledger renders too, saying so.
    let empty = t.path().join("empty");
    assert!(ledger(&empty, &["init", "--origin", "empty"])
        .status
        .success());
    let out_path2 = t.path().join("empty.html");
    assert!(
        ledger(&empty, &["report", "--out", out_path2.to_str().unwrap()])
            .status
            .success()
    );
    let html2 = std::fs::read_to_string(&out_path2).unwrap();
    roxmltree::Document::parse_with_options(
        &html2,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(html2.contains("No drills recorded.") && html2.contains("no data"));
    assert!(html2.contains("No deployments to environment production in this window"));
    assert!(html2.contains("No data in these weeks."));
}

#[test]
fn a_damaged_ledger_is_refused_naming_the_line() {
    let (t, dir) = make_ledger();
    let path = dir.join("ledger.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    // Change one deploy's version on line 3: its hash no longer matches.
    let damaged: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                l.replace("\"v2\"", "\"v9\"")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, damaged.join("\n") + "\n").unwrap();
    let out = ledger(&dir, &["metrics"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = t.path().join("r.html");
    assert_eq!(
        ledger(&dir, &["report", "--out", html.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    assert!(!html.exists());
    // A torn tail is refused too.
    std::fs::write(&path, text.clone() + "{\"v\":1").unwrap();
    let out = ledger(&dir, &["metrics"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("torn"));
}

/// The parallel reader visits every entry once, in order, across batch boundaries, and agrees
/// with the sequential `Ledger::scan`.
#[test]
fn parallel_history_scan_matches_the_sequential_scan() {
    for n in [0usize, 1, 16_384, 2 * 16_384 + 3] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let l = Ledger::init(&dir, "test.example/scan", false).unwrap();
        let mut prev = ZERO_HASH;
        let mut text = Vec::new();
        for seq in 0..n {
            let body = json!({"type": "tick", "data": {"n": seq}});
            let e = Entry::seal(
                seq as u64,
                at(seq as i64),
                Kind::Event,
                "a".into(),
                None,
                body,
                prev,
            )
            .unwrap();
            prev = e.hash;
            text.extend_from_slice(&e.to_line());
            text.push(b'\n');
        }
        std::fs::write(dir.join("ledger.jsonl"), text).unwrap();
        let mut seen = Vec::new();
        audit_ledger::history::scan(&l, |e| seen.push((e.seq, e.hash))).unwrap();
        let mut want = Vec::new();
        l.scan(|e| {
            want.push((e.seq, e.hash));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), n);
        assert_eq!(seen, want);
    }
}

/// Deploy seqs each side counts as rolled back: (metrics, trust), for entries in seq order.
fn rolled_back_by_metrics_and_trust(entries: &[(Kind, Value)]) -> (Vec<u64>, Vec<u64>) {
    use audit_ledger::metrics::History;
    use audit_ledger::trust::Facts;
    let mut h = History::default();
    let mut f = Facts::default();
    for (seq, (kind, body)) in entries.iter().enumerate() {
        let e = Entry::seal(
            seq as u64,
            at(seq as i64),
            *kind,
            "ci".into(),
            None,
            body.clone(),
            ZERO_HASH,
        )
        .unwrap();
        h.push(&e);
        f.apply(e.seq, &e.ts, e.kind, &e.actor, &e.body, &|_| 0);
    }
    let mut m: Vec<u64> = h.rolled_back().into_keys().collect();
    m.sort_unstable();
    let t = f
        .deploys
        .iter()
        .filter(|d| d.rollback.is_some())
        .map(|d| d.seq)
        .collect();
    (m, t)
}

#[test]
fn metrics_and_trust_agree_on_what_a_rollback_undid() {
    let rb = |env: &str, from: &str, undoes: Option<u64>| {
        let mut b = json!({"env": env, "from_version": from, "to_version": "v0", "trigger": "x"});
        if let Some(u) = undoes {
            b["undoes_seq"] = json!(u);
        }
        (Kind::Rollback, b)
    };
    let d = |env: &str, v: &str, status: &str| (Kind::Deploy, deploy(env, v, status));
    // (entries, deploy seqs rolled back)
    type Case = (Vec<(Kind, Value)>, Vec<u64>);
    let cases: Vec<Case> = vec![
        // Rolled back from the version that failed: the failed v3 is what was undone (one
        // failure, counted once), never v2, the version rolled back *to*.
        (
            vec![
                d("prod", "v1", "succeeded"),
                d("prod", "v2", "succeeded"),
                d("prod", "v3", "failed"),
                rb("prod", "v3", None),
            ],
            vec![2],
        ),
        // From an older version than the newest: the newest deploy of that version.
        (
            vec![
                d("prod", "v1", "succeeded"),
                d("prod", "v2", "succeeded"),
                rb("prod", "v1", None),
            ],
            vec![0],
        ),
        // A version never deployed to that env.
        (
            vec![
                d("prod", "v1", "succeeded"),
                d("staging", "v2", "succeeded"),
                rb("prod", "v2", None),
            ],
            vec![],
        ),
        // `undoes_seq` decides, but only for a deploy recorded before the rollback.
        (
            vec![
                d("prod", "v1", "succeeded"),
                rb("prod", "v1", Some(2)),
                d("prod", "v2", "succeeded"),
                rb("prod", "v2", Some(0)),
            ],
            vec![0],
        ),
    ];
    for (i, (entries, want)) in cases.iter().enumerate() {
        let (m, t) = rolled_back_by_metrics_and_trust(entries);
        assert_eq!(m, t, "case {i}: metrics and trust disagree");
        assert_eq!(&m, want, "case {i}");
    }

    // Through the CLI: `append rollback` without --undoes finds no succeeded v3 either, so the
    // failure rate counts the failed deploy once, not also a rollback of v2.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    Ledger::init(&dir, "test.example/rollback", false).unwrap();
    for (v, status) in [("v1", "succeeded"), ("v2", "succeeded"), ("v3", "failed")] {
        let out = ledger(
            &dir,
            &[
                "append",
                "deploy",
                "--actor",
                "ci",
                "--env",
                "prod",
                "--version",
                v,
                "--commit",
                v,
                "--status",
                status,
            ],
        );
        assert_eq!(out.status.code(), Some(0));
    }
    let out = ledger(
        &dir,
        &[
            "append",
            "rollback",
            "--actor",
            "ops",
            "--env",
            "prod",
            "--from-version",
            "v3",
            "--to-version",
            "v2",
            "--trigger",
            "errors",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ledger(&dir, &["--json", "metrics", "--env", "prod"]);
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["change_failure_rate"]["failures"], 1, "{m}");
    assert_eq!(m["change_failure_rate"]["deploys"], 3);
}

#[test]
fn baselines_leave_their_changes_out_without_a_horizon() {
    let (_tmp, dir) = make_ledger();
    let out = ledger(&dir, &["--json", "metrics", "--now", NOW, "--env", "prod"]);
    assert_eq!(out.status.code(), Some(0));
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    // prod's baseline is seq 1 (c1, c2 left out): 10, 14 and 120 minutes remain.
    assert_eq!(m["lead_time"]["count"], 3, "{m}");
    assert_eq!(m["lead_time"]["median_ms"], 14 * MIN);
    assert_eq!(m["lead_time"]["horizon_ms"], Value::Null);
    assert_eq!(
        m["lead_time"]["baselines"],
        json!([{"env": "prod", "seq": 1, "excluded": 2}])
    );
    // A horizon between c2 (-50) and c1 (-20) lets c1 in: lead 30 joins.
    let out = ledger(
        &dir,
        &[
            "--json",
            "metrics",
            "--now",
            NOW,
            "--env",
            "prod",
            "--lead-time-since",
            &rfc(-30),
        ],
    );
    let m: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m["lead_time"]["count"], 4, "{m}");
    assert_eq!(m["lead_time"]["baselines"][0]["excluded"], 1);
    assert_eq!(m["lead_time"]["horizon_ms"], (T0 - 30 * 60) * 1000);
}
