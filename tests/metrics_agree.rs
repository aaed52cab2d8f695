//! `metrics --json`, the `metrics` text table and the `report` page agree on every figure of the
//! sample ledger (scripts/gen-sample-ledger.py: deploys, failed deploys, rollbacks, incidents,
//! drills), for all envs and per env, with and without a lead-time horizon. The figures are
//! read from the JSON and written out here by the rules docs/metrics.md states (rounding,
//! durations in words), independently of `src/metrics/present.rs`; the text and the page must
//! show exactly those strings, and the page's table the same cells as the text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ledger");
const NOW: &str = "2026-11-23T00:00:00Z";

fn ledger(state: &Path, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("LEDGER_DIR")
        .env("LEDGER_STATE", state)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "ledger {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sample() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    audit_ledger::ledger::Ledger::init(&dir, "sample.example/app", false).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-sample-ledger.py");
    let st = Command::new("python3")
        .arg(&script)
        .arg(dir.join("ledger.jsonl"))
        .args(["600", "84", NOW])
        .status()
        .unwrap();
    assert!(st.success());
    (tmp, dir)
}

/// Durations in words, as docs/metrics.md shows them: `999ms`, `1.2s`, `1m 30s`, `1h 02m`,
/// `2d 3h` (truncated, never rounded up).
fn words(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..=59 => format!("{s}.{}s", (ms % 1000) / 100),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn ms(v: &Value) -> String {
    v.as_i64().map(words).unwrap_or_else(|| "no data".into())
}

fn f(v: &Value, digits: usize, unit: &str) -> String {
    v.as_f64()
        .map(|x| format!("{x:.digits$}{unit}"))
        .unwrap_or_else(|| "no data".into())
}

fn status(v: &Value) -> &'static str {
    match v.as_str().unwrap() {
        "met" => "met",
        "missed" => "MISSED",
        "no-data" => "no data",
        s => panic!("status {s}"),
    }
}

/// (name, value, basis, status) of each row, from the JSON figures.
fn expected(j: &Value) -> Vec<(String, String, String, &'static str)> {
    let df = &j["deployment_frequency"];
    let lt = &j["lead_time"];
    let cfr = &j["change_failure_rate"];
    let tr = &j["time_to_restore"];
    let dr = &j["drills"];
    let spread = |t: &Value| format!("median {}, p90 {}", ms(&t["median_ms"]), ms(&t["p90_ms"]));
    vec![
        (
            "deployment frequency".into(),
            f(&df["per_day"], 2, " / day"),
            format!(
                "{} succeeded deploys / {:.1} days",
                df["count"],
                df["days"].as_f64().unwrap()
            ),
            status(&df["status"]),
        ),
        (
            "lead time for changes".into(),
            spread(lt),
            format!("{} changes", lt["count"]),
            status(&lt["status"]),
        ),
        (
            "change failure rate".into(),
            f(&cfr["percent"], 1, " %"),
            format!(
                "{} failed, rolled back or named by an incident / {} deployments",
                cfr["failures"], cfr["deploys"]
            ),
            status(&cfr["status"]),
        ),
        (
            "recovery time".into(),
            spread(tr),
            format!(
                "{} failed deployments recovered, {} open",
                tr["count"], tr["open"]
            ),
            status(&tr["status"]),
        ),
        (
            "rework rate".into(),
            f(&j["rework"]["percent"], 1, " %"),
            format!(
                "{} deployed while an earlier one was failing / {} deployments",
                j["rework"]["rework"], j["rework"]["deploys"]
            ),
            "",
        ),
        (
            "drill pass rate".into(),
            f(&dr["pass_rate"], 1, " %"),
            format!("{} passed / {} drills", dr["passed"], dr["count"]),
            status(&dr["pass_status"]),
        ),
        (
            "drill duration".into(),
            spread(&dr["duration"]),
            format!("{} drills", dr["duration"]["count"]),
            status(&dr["duration"]["status"]),
        ),
    ]
}

/// The report's escaping (askama's: decimal character references).
fn html_escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn check(scope: &[&str]) {
    let (tmp, dir) = sample();
    let state = tmp.path().join("state");
    let mut base = vec!["metrics", "--now", NOW];
    base.extend_from_slice(scope);
    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&base);
    let j: Value = serde_json::from_slice(&ledger(&state, &dir, &json_args)).unwrap();
    let text = String::from_utf8(ledger(&state, &dir, &base)).unwrap();
    let page = tmp.path().join("report.html");
    let mut report_args = vec!["report", "--out", page.to_str().unwrap(), "--now", NOW];
    report_args.extend_from_slice(scope);
    ledger(&state, &dir, &report_args);
    let html = std::fs::read_to_string(&page).unwrap();

    // The sample has every kind of figure: none of them is "no data" for all envs.
    let rows = expected(&j);
    let all = scope == ["--env", "all"];
    if all {
        assert!(
            rows.iter().all(|r| r.1 != "no data"),
            "the sample should give every figure: {rows:?}"
        );
        assert!(j["incidents"]["opened"].as_u64().unwrap() > 0, "{j}");
        let cfr = &j["change_failure_rate"];
        let want = cfr["failures"].as_f64().unwrap() * 100.0 / cfr["deploys"].as_f64().unwrap();
        assert_eq!(cfr["percent"].as_f64().unwrap(), want);
    }
    for (name, value, basis, st) in &rows {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("no `{name}` line in\n{text}"));
        for part in [value, basis] {
            assert!(
                line.contains(part.as_str()),
                "text `{line}` lacks `{part}` (JSON {j})"
            );
        }
        // The status ends the line, or comes before the DORA level of a key metric.
        let before_level = line.split("  DORA ").next().unwrap_or(line);
        assert!(
            before_level.trim_end().ends_with(st),
            "`{line}` should end with {st}"
        );
        let cells = format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            html_escape(&capitalised(name)),
            html_escape(value),
            html_escape(basis)
        );
        assert!(
            html.contains(&cells),
            "the report lacks {cells}\n(text line: {line})"
        );
    }
    // The DORA level of each key metric: the JSON's, in the text and on the page.
    for (key, name) in [
        ("deployment_frequency", "deployment frequency"),
        ("lead_time", "lead time for changes"),
        ("change_failure_rate", "change failure rate"),
        ("time_to_restore", "recovery time"),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        match j["levels"][key].as_str() {
            Some(level) => {
                assert!(line.ends_with(&format!("DORA {level}")), "{line} / {j}");
                assert!(html.contains(&format!("<td class=\"level {level}\">{level}</td>")));
            }
            None => assert!(!line.contains("DORA"), "{line}"),
        }
    }
    // The report's incidents: the section, and each incident id the sample opened.
    assert!(html.contains("<section id=\"incidents\">"));
    assert!(html.contains("Incidents opened per week"));
    if all {
        assert!(
            html.contains("INC-1"),
            "the incident table should list INC-1"
        );
    }
}

#[test]
fn metrics_json_text_and_report_agree_for_all_envs() {
    check(&["--env", "all"]);
}

#[test]
fn metrics_json_text_and_report_agree_per_env_and_window() {
    check(&["--env", "production", "--since", "30d"]);
    check(&["--env", "staging", "--lead-time-since", "2026-08-01"]);
}
