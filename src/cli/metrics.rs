//! `ledger metrics` and `ledger report`.

use std::path::PathBuf;

use audit_ledger::error::Result;
use audit_ledger::ledger::Ledger;
use audit_ledger::metrics::{self, History, Metrics, Query, Status, Targets, TargetsConfig};
use audit_ledger::report::{self, Data, Page, TrustRow};
use audit_ledger::{time, trust};
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;

use super::Ctx;

/// `ledger metrics`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger metrics                               # production (the default env)
  ledger metrics --env staging --since 30d
  ledger metrics --env all                     # every env's deploys together
  ledger metrics --since 12h --json
  ledger metrics --since 2026-11-01 --now 2026-12-01
  ledger metrics --env production --lead-time-since 2026-10-01

Definitions (docs/metrics.md): a deployment is a `deploy` entry with
status succeeded or failed; it failed when it failed, a rollback undid it
(the rollback's undoes_seq, or the newest deployment of its from-version)
or an incident names it (caused_by_seq). Change failure rate = failed
deployments / deployments. Recovery runs from the failure (the deploy, or
the incident's opening) to the incident's resolution, the rollback, or
the next succeeded deploy of the env. --now T leaves out every entry
recorded after T. Each env's first deploy is a baseline: its changes
count for lead time only from --lead-time-since. Targets: [metrics] in
config.toml (defaults: >= 2 deploys a day, lead time < 1h, failure rate
< 5 %, recovery < 5m, drills 100 % passing in < 5m). A metric with
nothing to measure says \"no data\" (null in JSON).")]
pub struct MetricsArgs {
    /// The environment measured; `all` mixes every environment's deploys.
    #[arg(long, value_name = "ENV|all", default_value = "production")]
    pub env: String,
    /// Start of the window: a duration back from --now (30d, 12h, 2w) or a time (YYYY-MM-DD or
    /// RFC 3339); default (and 0s): the first deployment.
    #[arg(long, value_name = "DUR|TIME")]
    pub since: Option<String>,
    /// Compute as of this time (YYYY-MM-DD or RFC 3339) instead of now: entries recorded after
    /// it are left out; for reproducible output.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Count the changes of each env's first deploy (its baseline) for lead time only from
    /// this time (a duration back from --now or a time); default: none of them.
    #[arg(long, value_name = "DUR|TIME")]
    pub lead_time_since: Option<String>,
}

/// `ledger report`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  ledger report --out audit-report.html       # production (the default env)
  ledger report --env all --since 90d --weeks 13 --out all.html

One self-contained HTML page (inline SVG, no scripts, no network):
DORA metrics against targets, weekly trends, per-actor merges and
deploy outcomes, recent gate decisions and drills.
scripts/report-screenshot.sh renders it in headless Chromium.")]
pub struct ReportArgs {
    /// Where to write the page (written atomically).
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
    /// The environment shown; `all` mixes every environment's deploys.
    #[arg(long, value_name = "ENV|all", default_value = "production")]
    pub env: String,
    /// Start of the metrics table's window: a duration back from --now (30d) or a time
    /// (YYYY-MM-DD or RFC 3339); default: the first deploy.
    #[arg(long, value_name = "DUR|TIME")]
    pub since: Option<String>,
    /// Number of weeks in the charts.
    #[arg(long, value_name = "N", default_value_t = 12)]
    pub weeks: u32,
    /// Render as of this time (YYYY-MM-DD or RFC 3339) instead of now: entries recorded after
    /// it are left out.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Count the changes of each env's first deploy (its baseline) for lead time only from
    /// this time (a duration back from --now or a time); default: none of them.
    #[arg(long, value_name = "DUR|TIME")]
    pub lead_time_since: Option<String>,
}

/// When `env` has no deploy but others do: which, so that an empty default is not mistaken for
/// an empty ledger.
fn empty_env_note(h: &History, env: &str) -> Option<String> {
    if env == "all" || h.deploys.iter().any(|d| d.env == env) {
        return None;
    }
    let others: std::collections::BTreeSet<&str> =
        h.deploys.iter().map(|d| d.env.as_str()).collect();
    if others.is_empty() {
        return None;
    }
    let list: Vec<&str> = others.into_iter().collect();
    Some(format!(
        "no deploys to {env}; the ledger has deploys to: {} (choose with --env ENV, or --env all)",
        list.join(", ")
    ))
}

/// `--env`: one environment, or `all` (no filter).
fn env_filter(env: &str) -> Option<&str> {
    (env != "all").then_some(env)
}

fn now_ms(now: Option<&str>) -> Result<i64> {
    match now {
        None => Ok(chrono::Utc::now().timestamp_millis()),
        Some(s) => time::parse_instant(s).map_err(super::for_flag("--now")),
    }
}

fn since_ms(since: Option<&str>, now: i64) -> Result<Option<i64>> {
    match since {
        None => Ok(None),
        Some(s) => time::parse_window_start(s, now).map_err(super::for_flag("--since")),
    }
}

fn horizon_ms(h: Option<&str>, now: i64) -> Result<Option<i64>> {
    h.map(|s| time::parse_since(s, now).map_err(super::for_flag("--lead-time-since")))
        .transpose()
}

fn targets(ledger: &Ledger) -> Result<Targets> {
    ledger
        .config()
        .section::<TargetsConfig>("metrics")?
        .resolve()
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "(no deploys)".into())
}

fn human(ctx: &Ctx, m: &Metrics) -> String {
    let scope = m
        .env
        .as_deref()
        .map(|e| format!("env {e}"))
        .unwrap_or_else(|| "all envs".into());
    let mut out = format!(
        "DORA metrics, {scope}, {} → {}\n",
        when(m.from_ms),
        when(Some(m.to_ms))
    );
    // A table that fits the terminal (wrapping long cells) and is one line per metric when
    // piped; colour only when asked for.
    use comfy_table::{Cell, Color, ContentArrangement, Table};
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["metric", "value", "based on", "target", "status", "level"]);
    if ctx.color {
        t.enforce_styling();
    }
    let tint = |text: String, c: Option<Color>| match (ctx.color, c) {
        (true, Some(c)) => Cell::new(text).fg(c),
        _ => Cell::new(text),
    };
    for r in metrics::table(m) {
        let (status, colour) = match r.status {
            Status::Met => ("met", Some(Color::Green)),
            Status::Missed => ("MISSED", Some(Color::Red)),
            Status::NoData => ("no data", None),
            Status::NoTarget => ("", None),
        };
        let level = r.level.map(|l| {
            let c = match l {
                metrics::Level::Elite | metrics::Level::High => Color::Green,
                metrics::Level::Medium => Color::Yellow,
                metrics::Level::Low => Color::Red,
            };
            (format!("DORA {l}"), c)
        });
        t.add_row(vec![
            Cell::new(r.name),
            Cell::new(&r.value),
            Cell::new(&r.basis),
            Cell::new(format!("target {}", r.target)),
            tint(status.to_string(), colour),
            match level {
                Some((text, c)) => tint(text, Some(c)),
                None => Cell::new(""),
            },
        ]);
    }
    for line in t.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str("  (DORA: the 2024 State of DevOps performance cluster of each key metric; docs/metrics.md)\n");
    let lt = &m.lead_time;
    if !lt.baselines.is_empty() {
        let list: Vec<String> = lt
            .baselines
            .iter()
            .map(|b| format!("{} (seq {}, {} left out)", b.env, b.seq, b.excluded))
            .collect();
        let horizon = match lt.horizon_ms {
            Some(h) => format!("count from {}", when(Some(h))),
            None => "do not count (no --lead-time-since)".to_string(),
        };
        out.push_str(&format!(
            "  lead time baselines, the first deploy of each env, whose changes {horizon}: {}\n",
            list.join(", ")
        ));
    }
    let inc = &m.incidents;
    if inc.opened > 0 {
        out.push_str(&format!(
            "  incidents opened: {} ({} resolved, {} open; {} name no deploy and count in no figure)\n",
            inc.opened, inc.resolved, inc.open, inc.without_cause
        ));
    }
    if m.merges.ungated > 0 {
        out.push_str(&format!(
            "  {} of {} merges shipped went past the gate (no merge entry): they earn no trust\n",
            m.merges.ungated, m.merges.shipped
        ));
    }
    out.trim_end().to_string()
}

/// Read the ledger's history (structure checked, signatures not: use `ledger verify` for that).
fn history(ledger: &Ledger) -> Result<History> {
    let mut h = History::default();
    audit_ledger::history::scan(ledger, |e| h.push(e))?;
    Ok(h)
}

pub fn metrics(ctx: &Ctx, a: &MetricsArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    let t = targets(&ledger)?;
    let now = now_ms(a.now.as_deref())?;
    let q = Query {
        env: env_filter(&a.env),
        since_ms: since_ms(a.since.as_deref(), now)?,
        now_ms: now,
        lead_time_since_ms: horizon_ms(a.lead_time_since.as_deref(), now)?,
    };
    let h = history(&ledger)?;
    if let Some(note) = empty_env_note(&h, &a.env) {
        ctx.note(note);
    }
    let m = metrics::of_history(&h, &q, &t);
    let mut v = serde_json::to_value(&m).map_err(|e| super::usage(format!("metrics: {e}")))?;
    v["ok"] = json!(true);
    v["definitions"] = json!("docs/metrics.md");
    ctx.print(human(ctx, &m), &v);
    Ok(0)
}

/// Trust scores of every merge author, as of `now`, from the trust module.
fn trust_rows(
    ledger: &Ledger,
    now: i64,
) -> std::result::Result<BTreeMap<String, TrustRow>, String> {
    let (policy, agg, _) = trust::load(ledger).map_err(|e| e.to_string())?;
    let rows = trust::scores_of_authors(&agg.facts, &policy, now)
        .into_iter()
        .map(|s| {
            let row = TrustRow {
                permille: s.permille(),
                successes: s.successes,
                failures: s.failures,
                pending: s.pending,
            };
            (s.actor, row)
        })
        .collect();
    Ok(rows)
}

pub fn report(ctx: &Ctx, a: &ReportArgs) -> Result<i32> {
    let (ledger, _view) = ctx.verified()?;
    // The integrity section: a whole verification (the view above may have checked only the
    // entries new since the last run), its figures as the page shows them.
    let opts = audit_ledger::ledger::verify::Options {
        require_signatures: ledger.config().require_signatures,
        signatures_from: 0,
        collect_leaves: true,
        end: None,
    };
    let bar = std::cell::OnceCell::new();
    let checked = audit_ledger::flow::verify::verify(&ledger, &opts, None, &mut |done, total| {
        if total > 8 << 20 {
            bar.get_or_init(|| ctx.bar("verifying", total, true))
                .set_position(done);
        }
    })?;
    if let Some(b) = bar.get() {
        b.finish_and_clear();
    }
    let spin = ctx.spinner("rendering the report");
    let integrity = report::Integrity::of(&checked, ledger.config().require_signatures);
    let t = targets(&ledger)?;
    let now = now_ms(a.now.as_deref())?;
    let since = since_ms(a.since.as_deref(), now)?;
    if a.weeks == 0 || a.weeks > 520 {
        return Err(super::usage("--weeks: expected 1 to 520"));
    }
    let mut d = Data::as_of(now);
    audit_ledger::history::scan(&ledger, |e| d.push(e))?;
    d.trust = trust_rows(&ledger, now);
    let origin = ledger.config().origin.clone();
    let page = Page {
        title: &origin,
        now_ms: now,
        since_ms: since,
        env: env_filter(&a.env),
        targets: t,
        weeks: a.weeks,
        lead_time_since_ms: horizon_ms(a.lead_time_since.as_deref(), now)?,
        integrity: Some(integrity),
    };
    let html = report::render(&d, &page);
    report::save(&a.out, &html)?;
    spin.finish_and_clear();
    ctx.print(
        format!(
            "report written to {} ({} bytes, {} entries)",
            a.out.display(),
            html.len(),
            d.entries
        ),
        &json!({"ok": true, "out": a.out, "bytes": html.len(), "entries": d.entries}),
    );
    Ok(0)
}
