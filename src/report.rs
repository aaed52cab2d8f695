//! `ledger report`: one self-contained HTML page.
//!
//! The page has no scripts, no external style sheets, fonts or images, and no URLs at all:
//! charts are inline SVG, styles an inline `<style>`. It comes from the askama template
//! `templates/report.html` ([`page`]), which escapes every value it prints, and is written as
//! polyglot markup (every element closed, attributes quoted, character references only), so
//! an XML parser accepts it — the test suite parses it that way. Sections, each with an `id`:
//! `integrity` (what verification established: entries, head, tree root, signed checkpoint,
//! keys and what each signed, unsigned entries, signed policy), `metrics` (DORA metrics against
//! targets, with their DORA 2024 levels, and rework rate), `trends` (weekly charts with axes,
//! ticks, gridlines, target lines and legends: [`chart`]), `actors` (per actor: merges authored
//! and deploy outcomes recorded), `approvals` (recent gate decisions), `incidents` and `drills`
//! (recent drills). Empty sections say so in words.

use std::collections::{BTreeMap, VecDeque};

mod chart;
mod page;

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
    /// Entries signed, per signing key id.
    pub signed_by: BTreeMap<String, u64>,
    /// Key names given by `key` entries (`name`), per key id.
    pub key_names: BTreeMap<String, String>,
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
            signed_by: BTreeMap::new(),
            key_names: BTreeMap::new(),
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
        if let (Some(id), Some(_)) = (&e.signer, &e.sig) {
            *self.signed_by.entry(id.clone()).or_default() += 1;
        }
        let b = &e.body;
        match e.kind {
            Kind::Key => {
                if let (Some(id), Some(name)) = (
                    b.get("key_id").and_then(Value::as_str),
                    b.get("name").and_then(Value::as_str),
                ) {
                    self.key_names.insert(id.to_string(), name.to_string());
                }
            }
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

/// Escape text for HTML/XML content and attribute values (for callers that write markup
/// themselves; the page uses its template's escaping).
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

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1d2733;background:#fafbfc;max-width:1280px}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}\
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eef2f6}table.facts th{width:14em}.met{background:#dafbe1}.missed{background:#ffebe9}.no-data{background:#f3f4f6;color:#57606a}\
tr.ok td:first-child{border-left:4px solid #2da44e}tr.bad td:first-child{border-left:4px solid #cf222e}\
.muted{color:#57606a}.num{font-weight:600}.empty{color:#57606a;font-style:italic}.note{margin:.3em 0}\
.verdict{font-weight:600;padding:.4em .6em;border-radius:4px;display:inline-block}.verdict.ok{background:#dafbe1}.verdict.bad{background:#ffebe9}\
.level{font-weight:600;text-transform:capitalize}.level.elite{background:#dafbe1}.level.high{background:#eaf5ff}.level.medium{background:#fff8c5}.level.low{background:#ffebe9}\
.charts{display:flex;flex-wrap:wrap;gap:1em}.chart{background:#fff;border:1px solid #d0d7de;padding:.5em;margin:0;width:560px}\
figcaption{font-weight:600;font-size:.95em;margin-bottom:.3em}\
svg .grid{stroke:#eaeef2}svg .axis{stroke:#8c959f}svg .tick,svg .unit{font-size:10px;fill:#57606a}\
svg .bar{fill:#3b82c4}svg .bar.over{fill:#d4a72c}svg .target{stroke:#cf222e;stroke-dasharray:5 3;stroke-width:1.5}svg .nodata{font-size:10px;fill:#8c959f}\
.legend{font-size:.8em;color:#57606a;margin:.2em 0 0}.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:middle;margin-left:.6em}\
.swatch.bar{background:#3b82c4}.swatch.over{background:#d4a72c}.swatch.target{height:0;border-top:2px dashed #cf222e}.legend .mark{margin-left:.6em;color:#8c959f}";

fn status_cell(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Met => ("met", "met"),
        Status::Missed => ("missed", "missed"),
        Status::NoData => ("no-data", "no data"),
        Status::NoTarget => ("no-data", "–"),
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

/// What the verification before the page established, for its integrity section.
#[derive(Debug, Clone, Default)]
pub struct Integrity {
    /// Entries verified: canonical bytes, hashes, chain, signatures, key history.
    pub entries: u64,
    /// Entry signatures checked.
    pub signatures: u64,
    /// Entries without a signature.
    pub unsigned: u64,
    /// Entries written from runners' signed submissions.
    pub submissions: u64,
    /// Hash of the newest entry (hex), `None` for an empty ledger.
    pub head: Option<String>,
    /// RFC 6962 root of the verified entries (hex).
    pub root: String,
    /// The root key id (the ledger's first key), when it has keys.
    pub root_key: Option<String>,
    /// Size of the newest signed checkpoint beside the ledger that verify found signed by a
    /// ledger key and consistent with the entries (`DIR/checkpoint` or `checkpoints/<N>`).
    pub checkpoint: Option<u64>,
    /// The key history: id, added at, revoked at, role.
    pub keys: Vec<crate::keys::history::KeyState>,
    /// The signed policy in force: its seq and entry hash (hex).
    pub policy: Option<(u64, String)>,
    /// Whether the settings in force require every entry to be signed.
    pub require_signatures: bool,
}

impl Integrity {
    /// From a verification of the whole ledger (`flow::verify::verify`).
    pub fn of(o: &crate::flow::verify::VerifyOutcome, require_signatures: bool) -> Integrity {
        let s = &o.summary;
        Integrity {
            entries: s.entries,
            signatures: s.signatures_checked,
            unsigned: s.unsigned,
            submissions: s.submissions,
            head: s.head.map(hex::encode),
            root: hex::encode(crate::merkle::root(&s.leaves)),
            root_key: s.root_key.clone(),
            checkpoint: o.beside.iter().map(|b| b.size).max(),
            keys: s.keys.clone(),
            policy: s.policy.as_ref().map(|p| (p.seq, hex::encode(p.hash))),
            require_signatures: s
                .policy
                .as_ref()
                .map_or(require_signatures, |p| p.require_signatures),
        }
    }
}

fn integrity_view(i: &Integrity, d: &Data) -> page::IntegrityView {
    let short = |h: &str| h.get(..16).unwrap_or(h).to_string();
    let keys = i
        .keys
        .iter()
        .map(|k| page::KeyView {
            id: page::clean(&k.id),
            name: page::clean(d.key_names.get(&k.id).map(String::as_str).unwrap_or("")),
            role: if k.git_signer.is_some() {
                "git commit signer"
            } else if k.writer {
                "runner (submissions)"
            } else {
                "ledger (entries, checkpoints)"
            },
            added_at: k.added_at,
            revoked_at: k
                .revoked_at
                .map(|r| r.to_string())
                .unwrap_or_else(|| "–".into()),
            signed: d.signed_by.get(&k.id).copied().unwrap_or(0),
        })
        .collect();
    let checkpoint = match i.checkpoint {
        Some(n) if n == i.entries => format!("size {n}: signed by a ledger key, covers every entry"),
        Some(n) => format!(
            "size {n}: signed by a ledger key, consistent with the entries; the {} newer entries are in no checkpoint yet (sign one with: ledger checkpoint)",
            i.entries.saturating_sub(n)
        ),
        None => "none beside the ledger (sign one with: ledger checkpoint)".to_string(),
    };
    let (tone, verdict) = if i.unsigned > 0 && i.require_signatures {
        (
            "bad",
            format!(
                "Verified, but {} entries are unsigned although the settings require signatures.",
                i.unsigned
            ),
        )
    } else if i.entries == 0 {
        (
            "ok",
            "Verified: the ledger is empty (nothing recorded yet).".to_string(),
        )
    } else if i.signatures == 0 {
        ("ok", format!("Verified: all {} entries — canonical bytes, hashes and the chain. None is signed: the history is intact, but nothing shows who wrote it.", i.entries))
    } else if i.unsigned > 0 {
        ("ok", format!("Verified: all {} entries — canonical bytes, hashes, the chain and {} signatures under the key history; {} entries are unsigned.", i.entries, i.signatures, i.unsigned))
    } else {
        ("ok", format!("Verified: all {} entries — canonical bytes, hashes, the chain and every signature under the key history.", i.entries))
    };
    page::IntegrityView {
        tone,
        verdict,
        entries: i.entries,
        signatures: i.signatures,
        submissions: i.submissions,
        head: i
            .head
            .as_deref()
            .map(|h| format!("seq {}: {}", i.entries.saturating_sub(1), h))
            .unwrap_or_else(|| "(empty ledger)".into()),
        root: i.root.clone(),
        checkpoint,
        root_key: i.root_key.clone().unwrap_or_else(|| "(no keys)".into()),
        policy: match &i.policy {
            Some((seq, h)) => format!(
                "seq {seq}, entry {}…; signatures {}",
                short(h),
                if i.require_signatures {
                    "required"
                } else {
                    "optional"
                }
            ),
            None => format!(
                "none (config.toml's defaults; signatures {})",
                if i.require_signatures {
                    "required"
                } else {
                    "optional"
                }
            ),
        },
        unsigned: i.unsigned,
        unsigned_tone: if i.unsigned > 0 && i.require_signatures {
            "missed"
        } else {
            ""
        },
        keys,
    }
}

fn table_view(
    id: &'static str,
    title: &'static str,
    head: &[&'static str],
    rows: &VecDeque<Row>,
    empty: &'static str,
) -> page::TableView {
    page::TableView {
        id,
        title,
        head: head.to_vec(),
        rows: rows
            .iter()
            .rev()
            .map(|r| Row {
                seq: r.seq,
                ts: page::clean(&r.ts),
                actor: page::clean(&r.actor),
                cells: r.cells.iter().map(|c| page::clean(c)).collect(),
                tone: r.tone,
            })
            .collect(),
        empty,
    }
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
    /// What verification established (`None`: the page says it was not checked).
    pub integrity: Option<Integrity>,
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
    let as_of = chrono::DateTime::from_timestamp_millis(p.now_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let scope = match p.env {
        Some(e) => format!("environment {e}"),
        None => "all environments".to_string(),
    };
    let window = match m.from_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        Some(f) => format!("{} to {as_of}", f.format("%Y-%m-%d %H:%M UTC")),
        None => "empty (no deploys yet)".to_string(),
    };
    let rows = metrics::table(&m)
        .into_iter()
        .map(|r| {
            let (status_class, status) = status_cell(r.status);
            page::MetricView {
                name: heading(r.name),
                value: r.value,
                basis: r.basis,
                target: r.target,
                status,
                status_class,
                level: r.level.map(metrics::Level::as_str).unwrap_or(""),
            }
        })
        .collect();
    let mut notes = Vec::new();
    let g = &m.merges;
    notes.push(format!(
        "Merges shipped in the window: {}; past the gate (no merge entry, earning no trust): {}.",
        g.shipped, g.ungated
    ));
    let inc = &m.incidents;
    if inc.opened > 0 {
        notes.push(format!(
            "Incidents opened in the window: {} ({} resolved, {} open; {} name no deployment and count in no figure).",
            inc.opened, inc.resolved, inc.open, inc.without_cause
        ));
    }
    let count = |v: f64| format!("{v:.0}");
    let pct = |v: f64| format!("{v:.0} %");
    let series =
        |f: &dyn Fn(&Metrics) -> Option<f64>| -> Vec<Option<f64>> { weeks.iter().map(f).collect() };
    let t = &p.targets;
    // Durations in minutes, or in hours when a week's median passes three hours.
    let duration_chart = |title: &str, ms: &dyn Fn(&Metrics) -> Option<i64>, target_ms: i64| {
        let raw: Vec<Option<i64>> = weeks.iter().map(ms).collect();
        let peak = raw
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0)
            .max(target_ms);
        let (div, unit, fmt): (f64, &str, &dyn Fn(f64) -> String) = if peak > 3 * 3_600_000 {
            (3_600_000.0, "hours", &|v: f64| format!("{v:.0} h"))
        } else {
            (60_000.0, "minutes", &|v: f64| format!("{v:.0} min"))
        };
        let values: Vec<Option<f64>> = raw.iter().map(|v| v.map(|x| x as f64 / div)).collect();
        let mut c = chart::bars(
            title,
            unit,
            &labels,
            &values,
            fmt,
            Some(target_ms as f64 / div),
            chart::Better::Lower,
        );
        c.series = "median of the week".to_string();
        if let Some(t) = &mut c.target {
            t.label = format!("target {}", human_ms(target_ms));
        }
        c
    };
    let charts = vec![
        chart::bars(
            "Succeeded deploys per week",
            "deploys",
            &labels,
            &series(&|w| Some(w.deployment_frequency.count as f64)),
            &count,
            Some(t.min_deploys_per_day * 7.0),
            chart::Better::Higher,
        ),
        chart::bars(
            "Change failure rate",
            "% failed",
            &labels,
            &series(&|w| w.change_failure_rate.percent),
            &pct,
            Some(t.max_change_failure_rate),
            chart::Better::Lower,
        ),
        duration_chart(
            "Lead time for changes (median)",
            &|w| w.lead_time.timing.spread.median_ms,
            t.max_lead_time_ms,
        ),
        duration_chart(
            "Failed deployment recovery time (median)",
            &|w| w.time_to_restore.timing.spread.median_ms,
            t.max_time_to_restore_ms,
        ),
        chart::bars(
            "Rework rate",
            "% rework",
            &labels,
            &series(&|w| w.rework.percent),
            &pct,
            None,
            chart::Better::Neither,
        ),
        chart::bars(
            "Incidents opened per week",
            "incidents",
            &labels,
            &series(&|w| Some(w.incidents.opened as f64)),
            &count,
            None,
            chart::Better::Neither,
        ),
    ];
    let no_trust = BTreeMap::new();
    let trust = d.trust.as_ref().unwrap_or(&no_trust);
    let actors = d
        .actors
        .iter()
        .map(|(name, r)| {
            let (score, outcomes, class) = match trust.get(name) {
                Some(t) => (
                    format!("{}.{:03}", t.permille / 1000, t.permille % 1000),
                    format!("{} / {} / {}", t.successes, t.failures, t.pending),
                    "num",
                ),
                None => ("–".to_string(), "–".to_string(), "no-data"),
            };
            page::ActorView {
                name: page::clean(name),
                score,
                outcomes,
                class,
                counts: r.clone(),
            }
        })
        .collect();
    let tables = vec![
        table_view(
            "approvals",
            "Recent gate decisions",
            &["subject", "decision", "reasons"],
            &d.approvals,
            "No gate decisions recorded.",
        ),
        table_view(
            "incidents",
            "Incidents",
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
        ),
        table_view(
            "drills",
            "Recent rollback drills",
            &["target", "env", "check", "outcome", "duration"],
            &d.drills,
            "No drills recorded.",
        ),
    ];
    let view = page::PageView {
        style: STYLE,
        title: page::clean(p.title),
        as_of,
        scope: page::clean(&scope),
        window,
        entries: d.entries,
        integrity: p.integrity.as_ref().map(|i| integrity_view(i, d)),
        no_deploys: m.change_failure_rate.deploys == 0,
        rows,
        notes,
        charts,
        trust_error: d.trust.as_ref().err().map(|e| page::clean(e)),
        actors,
        tables,
    };
    // Rendering writes into a String: it fails only on a formatting error of a value, which
    // these plain strings and numbers do not have; say so on the page if it ever happens.
    askama::Template::render(&view).unwrap_or_else(|e| {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>report</title></head><body><p>The report could not be rendered: {}</p></body></html>\n",
            esc(&e.to_string())
        )
    })
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
