//! `ledger report`: one self-contained HTML page.
//!
//! The page has no scripts, no external style sheets, fonts or images, and no URLs at all:
//! charts are inline SVG, styles an inline `<style>`. It is written as polyglot markup (every
//! element closed, attributes quoted, only the entities `&amp; &lt; &gt; &quot; &#39;`), so an
//! XML parser accepts it — the test suite parses it that way. Sections, each with an `id`:
//! `metrics` (DORA metrics against targets), `trends` (weekly charts), `actors` (per actor:
//! merges authored and deploy outcomes recorded), `approvals` (recent gate decisions) and
//! `drills` (recent drills). Every value from the ledger is escaped.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use serde_json::Value;

use crate::ledger::{Entry, Kind};
use crate::metrics::{self, human_ms, Analysis, History, Metrics, Status, Targets, Window, DAY_MS};

/// How many recent approvals and drills the page lists.
pub const RECENT: usize = 20;

/// One row of the recent-items tables.
#[derive(Debug, Clone)]
pub struct Row {
    /// Entry seq.
    pub seq: u64,
    /// Entry time.
    pub ts: String,
    /// Entry actor.
    pub actor: String,
    /// Cells after seq, time and actor.
    pub cells: Vec<String>,
    /// `ok`, `bad` or empty: colours the row.
    pub tone: &'static str,
}

/// Counts per actor.
#[derive(Debug, Clone, Default)]
pub struct ActorRow {
    /// Merges whose body `author` is this actor.
    pub merges: u64,
    /// Deploys recorded with status succeeded.
    pub deploys_succeeded: u64,
    /// Deploys recorded with status failed.
    pub deploys_failed: u64,
    /// Rollbacks recorded.
    pub rollbacks: u64,
    /// Gate decisions recorded (approval entries).
    pub approvals: u64,
}

/// Everything the page shows, collected in one pass over the ledger.
#[derive(Debug, Clone)]
pub struct Data {
    /// Deploys, rollbacks and drills for the metrics.
    pub history: History,
    /// Recent approval entries, newest last.
    pub approvals: VecDeque<Row>,
    /// Recent drill entries, newest last.
    pub drills: VecDeque<Row>,
    /// Recent incident entries (opened and resolved), newest last.
    pub incidents: VecDeque<Row>,
    /// Entries recorded after this time (ms) are left out ("as of"); `None`: none are.
    pub until: Option<i64>,
    /// Per actor.
    pub actors: BTreeMap<String, ActorRow>,
    /// Entries seen.
    pub entries: u64,
    /// Trust scores per merge author, filled by the caller from the trust module; `Err` holds
    /// why they could not be computed (shown on the page instead).
    pub trust: Result<BTreeMap<String, TrustRow>, String>,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            history: History::default(),
            approvals: VecDeque::new(),
            drills: VecDeque::new(),
            incidents: VecDeque::new(),
            until: None,
            actors: BTreeMap::new(),
            entries: 0,
            trust: Ok(BTreeMap::new()),
        }
    }
}

/// A trust score as the page shows it (see `docs/trust.md` for the model).
#[derive(Debug, Clone, PartialEq)]
pub struct TrustRow {
    /// Score in per-mille.
    pub permille: i64,
    /// Merges that succeeded downstream.
    pub successes: u64,
    /// Merges that failed downstream.
    pub failures: u64,
    /// Merges without an outcome yet.
    pub pending: u64,
}

fn field(b: &Value, k: &str) -> String {
    match b.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn keep(q: &mut VecDeque<Row>, r: Row) {
    q.push_back(r);
    if q.len() > RECENT {
        q.pop_front();
    }
}

impl Data {
    /// An empty page as of `t` (ms): [`Data::push`] leaves out every entry recorded after it,
    /// so that the page is the one that would have been rendered then.
    pub fn as_of(t: i64) -> Data {
        Data {
            until: Some(t),
            ..Data::default()
        }
    }

    /// Take what the page needs from one entry (in seq order).
    pub fn push(&mut self, e: &Entry) {
        if let (Some(until), Some(ts)) = (self.until, metrics::parse_time(&e.ts)) {
            if ts > until {
                return;
            }
        }
        self.entries += 1;
        self.history.push(e);
        let b = &e.body;
        match e.kind {
            Kind::Merge => self.actors.entry(field(b, "author")).or_default().merges += 1,
            Kind::Deploy => {
                let a = self.actors.entry(e.actor.clone()).or_default();
                match b.get("status").and_then(Value::as_str) {
                    Some("succeeded") => a.deploys_succeeded += 1,
                    Some("failed") => a.deploys_failed += 1,
                    _ => {}
                }
            }
            Kind::Rollback => self.actors.entry(e.actor.clone()).or_default().rollbacks += 1,
            Kind::Approval => {
                self.actors.entry(e.actor.clone()).or_default().approvals += 1;
                let decision = field(b, "decision");
                let reasons = b
                    .get("reasons")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                let tone = if decision == "allow" { "ok" } else { "bad" };
                keep(
                    &mut self.approvals,
                    Row {
                        seq: e.seq,
                        ts: e.ts.clone(),
                        actor: e.actor.clone(),
                        cells: vec![field(b, "subject"), decision, reasons],
                        tone,
                    },
                );
            }
            Kind::Incident => {
                let status = field(b, "status");
                let tone = if status == "resolved" { "ok" } else { "bad" };
                let cause = match b.get("caused_by_seq").and_then(Value::as_u64) {
                    Some(n) => format!("deploy seq {n}"),
                    None => "–".to_string(),
                };
                keep(
                    &mut self.incidents,
                    Row {
                        seq: e.seq,
                        ts: e.ts.clone(),
                        actor: e.actor.clone(),
                        cells: vec![
                            field(b, "incident"),
                            field(b, "env"),
                            status,
                            field(b, "severity"),
                            cause,
                            field(b, "external_id"),
                        ],
                        tone,
                    },
                );
            }
            Kind::Drill => {
                let outcome = field(b, "outcome");
                let tone = if outcome == "pass" { "ok" } else { "bad" };
                let dur = b
                    .get("duration_ms")
                    .and_then(Value::as_i64)
                    .map(human_ms)
                    .unwrap_or_default();
                let target = field(b, "target");
                let target = match b.get("rev").and_then(Value::as_str) {
                    Some(rev) => format!("{rev} ({})", target.get(..12).unwrap_or(&target)),
                    None => target,
                };
                keep(
                    &mut self.drills,
                    Row {
                        seq: e.seq,
                        ts: e.ts.clone(),
                        actor: e.actor.clone(),
                        cells: vec![target, field(b, "env"), field(b, "check"), outcome, dur],
                        tone,
                    },
                );
            }
            _ => {}
        }
    }
}

/// Escape text for HTML/XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0; show them as a replacement.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1d2733;background:#fafbfc}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eef2f6}.met{background:#dafbe1}.missed{background:#ffebe9}.no-data{background:#f3f4f6;color:#57606a}\
tr.ok td:first-child{border-left:4px solid #2da44e}tr.bad td:first-child{border-left:4px solid #cf222e}\
.muted{color:#57606a}.num{font-weight:600}.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{background:#fff;border:1px solid #d0d7de;padding:.5em}";

fn status_cell(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Met => ("met", "met"),
        Status::Missed => ("missed", "missed"),
        Status::NoData => ("no-data", "no data"),
    }
}

/// The metric's name as a table heading: its first letter in upper case.
fn heading(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn metrics_table(out: &mut String, m: &Metrics) {
    out.push_str("<table><tr><th>Metric</th><th>Value</th><th>Based on</th><th>Target</th><th>Status</th></tr>\n");
    for r in metrics::table(m) {
        let (class, label) = status_cell(r.status);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{label}</td></tr>",
            esc(&heading(r.name)),
            esc(&r.value),
            esc(&r.basis),
            esc(&r.target)
        );
    }
    out.push_str("</table>\n");
    let g = &m.merges;
    let _ = writeln!(
        out,
        "<p class=\"merges\">Merges shipped in the window: {}; past the gate (no merge entry, earning no trust): {}.</p>",
        g.shipped, g.ungated
    );
}

/// A bar chart as inline SVG. `None` values are drawn as a grey "–".
fn bar_chart(
    title: &str,
    labels: &[String],
    values: &[Option<f64>],
    fmt: &dyn Fn(f64) -> String,
    target: Option<f64>,
) -> String {
    let (w, h, left, bottom, top) = (560.0_f64, 190.0_f64, 56.0_f64, 28.0_f64, 26.0_f64);
    let max = values
        .iter()
        .flatten()
        .copied()
        .chain(target)
        .fold(0.0_f64, f64::max);
    let max = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let n = values.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let plot_h = h - bottom - top;
    let y = |v: f64| top + plot_h - v / max * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>\
<text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\" fill=\"#1d2733\">{t}</text>\
<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#8c959f\"/><line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#8c959f\"/>\
<text x=\"{lx}\" y=\"{ty}\" font-size=\"10\" text-anchor=\"end\" fill=\"#57606a\">{maxl}</text>\
<text x=\"{lx}\" y=\"{b}\" font-size=\"10\" text-anchor=\"end\" fill=\"#57606a\">0</text>",
        t = esc(title),
        b = top + plot_h,
        r = w - 4.0,
        lx = left - 4.0,
        ty = top + 8.0,
        maxl = esc(&fmt(max)),
    );
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        let x = left + 4.0 + i as f64 * slot;
        let bw = (slot - 6.0).max(2.0);
        match v {
            Some(v) => {
                let top_y = y(*v);
                let _ = write!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{top_y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#3b82c4\"><title>{}: {}</title></rect>",
                    (top + plot_h - top_y).max(0.0),
                    esc(label),
                    esc(&fmt(*v))
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#8c959f\">–</text>",
                    x + bw / 2.0,
                    top + plot_h - 4.0
                );
            }
        }
        if i % 2 == 0 || labels.len() <= 8 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
                x + bw / 2.0,
                h - 10.0,
                esc(label)
            );
        }
    }
    if let Some(t) = target {
        let ty = y(t);
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\" stroke=\"#cf222e\" stroke-dasharray=\"4 3\"/>\
<text x=\"{:.1}\" y=\"16\" font-size=\"10\" text-anchor=\"end\" fill=\"#cf222e\">- - target {}</text>",
            w - 4.0,
            w - 6.0,
            esc(&fmt(t))
        );
    }
    s.push_str("</svg>");
    s
}

fn rows_table(out: &mut String, head: &[&str], rows: &VecDeque<Row>, empty: &str) {
    if rows.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", esc(empty));
        return;
    }
    out.push_str("<table><tr><th>seq</th><th>time</th><th>actor</th>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for r in rows.iter().rev() {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td>",
            r.tone,
            r.seq,
            esc(&r.ts),
            esc(&r.actor)
        );
        for c in &r.cells {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// Options of the page.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Title (the ledger's origin).
    pub title: &'a str,
    /// "Now", ms since the epoch.
    pub now_ms: i64,
    /// Metrics window start (`None` = all history).
    pub since_ms: Option<i64>,
    /// Env filter.
    pub env: Option<&'a str>,
    /// Targets.
    pub targets: Targets,
    /// Number of weekly buckets in the charts.
    pub weeks: u32,
    /// Lead-time horizon for each env's baseline deploy (ms), see
    /// [`metrics::Options::lead_time_since`].
    pub lead_time_since_ms: Option<i64>,
}

/// Render the page.
pub fn render(d: &Data, p: &Page<'_>) -> String {
    // Entries after "now" are left out of the history too (an empty page's `until`, or here).
    let history = d.history.as_of(p.now_ms);
    let a = Analysis::with(
        &history,
        metrics::Options {
            lead_time_since: p.lead_time_since_ms,
        },
    );
    let m = metrics::compute(
        &a,
        p.env,
        Window {
            from: p.since_ms,
            to: p.now_ms,
        },
        &p.targets,
    );
    let weeks = metrics::series(&a, p.env, p.now_ms, 7 * DAY_MS, p.weeks.max(1), &p.targets);
    let labels: Vec<String> = weeks
        .iter()
        .map(|w| {
            chrono::DateTime::from_timestamp_millis(w.from_ms.unwrap_or(w.to_ms))
                .map(|t| t.format("%m-%d").to_string())
                .unwrap_or_default()
        })
        .collect();
    let now = chrono::DateTime::from_timestamp_millis(p.now_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    let _ = writeln!(out, "<title>Delivery report — {}</title>", esc(p.title));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>Delivery report — {}</h1>", esc(p.title));
    let scope = match p.env {
        Some(e) => format!("environment {e}"),
        None => "all environments".to_string(),
    };
    let window = match m.from_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(f) => format!("from {}", f.format("%Y-%m-%d %H:%M UTC")),
        None => "no deploys yet".to_string(),
    };
    let _ = writeln!(
        out,
        "<p class=\"muted\">As of {} · {} ledger entries · {} · metrics window {} to then. Definitions: docs/metrics.md.</p>",
        esc(&now),
        d.entries,
        esc(&scope),
        esc(&window)
    );
    out.push_str("<section id=\"metrics\">\n<h2>DORA metrics</h2>\n");
    metrics_table(&mut out, &m);
    out.push_str("</section>\n<section id=\"trends\">\n<h2>Metrics over time (weekly)</h2>\n<div class=\"charts\">\n");
    let per_week: Vec<Option<f64>> = weeks
        .iter()
        .map(|w| Some(w.deployment_frequency.count as f64))
        .collect();
    let cfr: Vec<Option<f64>> = weeks
        .iter()
        .map(|w| w.change_failure_rate.percent)
        .collect();
    let lead: Vec<Option<f64>> = weeks
        .iter()
        .map(|w| {
            w.lead_time
                .timing
                .spread
                .median_ms
                .map(|x| x as f64 / 60_000.0)
        })
        .collect();
    let restore: Vec<Option<f64>> = weeks
        .iter()
        .map(|w| {
            w.time_to_restore
                .timing
                .spread
                .median_ms
                .map(|x| x as f64 / 60_000.0)
        })
        .collect();
    let count = |v: f64| format!("{v:.0}");
    let pct = |v: f64| format!("{v:.1} %");
    let mins = |v: f64| format!("{v:.1} min");
    out.push_str(&bar_chart(
        "Succeeded deploys per week",
        &labels,
        &per_week,
        &count,
        Some(p.targets.min_deploys_per_day * 7.0),
    ));
    out.push('\n');
    out.push_str(&bar_chart(
        "Change failure rate",
        &labels,
        &cfr,
        &pct,
        Some(p.targets.max_change_failure_rate),
    ));
    out.push('\n');
    out.push_str(&bar_chart(
        "Lead time for changes (median, minutes)",
        &labels,
        &lead,
        &mins,
        Some(p.targets.max_lead_time_ms as f64 / 60_000.0),
    ));
    out.push('\n');
    out.push_str(&bar_chart(
        "Failed deployment recovery time (median, minutes; rollbacks, fix deploys, incident resolutions)",
        &labels,
        &restore,
        &mins,
        Some(p.targets.max_time_to_restore_ms as f64 / 60_000.0),
    ));
    out.push('\n');
    let incidents: Vec<Option<f64>> = weeks
        .iter()
        .map(|w| Some(w.incidents.opened as f64))
        .collect();
    out.push_str(&bar_chart(
        "Incidents opened per week",
        &labels,
        &incidents,
        &count,
        None,
    ));
    out.push_str("\n</div>\n</section>\n");
    out.push_str("<section id=\"actors\">\n<h2>Per actor</h2>\n");
    out.push_str("<p class=\"muted\">Whole ledger, all environments. Trust: the author's score \
(docs/trust.md) with merges that succeeded / failed / are pending downstream. Merges are counted by \
their author; deploys, rollbacks and gate decisions by the actor that recorded them.</p>\n");
    if let Err(why) = &d.trust {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Trust scores unavailable: {}</p>",
            esc(why)
        );
    }
    let no_trust = BTreeMap::new();
    let trust = d.trust.as_ref().unwrap_or(&no_trust);
    if d.actors.is_empty() {
        out.push_str("<p class=\"muted\">No actors yet.</p>\n");
    } else {
        out.push_str("<table><tr><th>actor</th><th>trust</th><th>merges ok / failed / pending</th>\
<th>merges authored</th><th>deploys succeeded</th><th>deploys failed</th><th>rollbacks</th><th>gate decisions</th></tr>\n");
        for (name, r) in &d.actors {
            let (score, outcomes, class) = match trust.get(name) {
                Some(t) => (
                    format!("{}.{:03}", t.permille / 1000, t.permille % 1000),
                    format!("{} / {} / {}", t.successes, t.failures, t.pending),
                    "num",
                ),
                None => ("–".to_string(), "–".to_string(), "no-data"),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(&score),
                esc(&outcomes),
                r.merges,
                r.deploys_succeeded,
                r.deploys_failed,
                r.rollbacks,
                r.approvals
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</section>\n<section id=\"approvals\">\n<h2>Recent gate decisions</h2>\n");
    rows_table(
        &mut out,
        &["subject", "decision", "reasons"],
        &d.approvals,
        "No gate decisions recorded.",
    );
    out.push_str("</section>\n<section id=\"incidents\">\n<h2>Incidents</h2>\n");
    rows_table(
        &mut out,
        &[
            "incident",
            "env",
            "status",
            "severity",
            "caused by",
            "tracked at",
        ],
        &d.incidents,
        "No incidents recorded.",
    );
    out.push_str("</section>\n<section id=\"drills\">\n<h2>Recent rollback drills</h2>\n");
    rows_table(
        &mut out,
        &["target", "env", "check", "outcome", "duration"],
        &d.drills,
        "No drills recorded.",
    );
    out.push_str("</section>\n</body>\n</html>\n");
    out
}

/// Write a rendered page to `out` atomically (a reader never sees half a page).
pub fn save(out: &std::path::Path, html: &str) -> crate::Result<()> {
    crate::fsutil::write_atomic(out, html.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc("<a href='x'>&\"</a>\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;\u{FFFD}"
        );
    }
}
