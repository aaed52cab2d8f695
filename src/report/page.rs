//! The page's view model and its template (`templates/report.html`, askama: compiled with the
//! crate, every `{{ value }}` HTML-escaped unless marked `safe`, which only the constant style
//! sheet is). Values from the ledger are also cleaned of control characters first, which
//! XML (the page is polyglot markup) does not allow.

use askama::Template;

use super::chart::Chart;
use super::Row;

/// The integrity section, as the page shows it.
#[derive(Debug, Clone)]
pub struct IntegrityView {
    /// `ok` or `bad`: colours the verdict.
    pub tone: &'static str,
    /// One sentence.
    pub verdict: String,
    pub entries: u64,
    pub signatures: u64,
    pub submissions: u64,
    pub head: String,
    pub root: String,
    pub checkpoint: String,
    pub root_key: String,
    pub policy: String,
    pub unsigned: u64,
    /// `missed` when unsigned entries exist, else empty.
    pub unsigned_tone: &'static str,
    pub keys: Vec<KeyView>,
}

/// A key of the ledger's key history.
#[derive(Debug, Clone)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub added_at: u64,
    /// Seq, or `–`.
    pub revoked_at: String,
    pub signed: u64,
}

/// A row of the metrics table.
#[derive(Debug, Clone)]
pub struct MetricView {
    pub name: String,
    pub value: String,
    pub basis: String,
    pub target: String,
    pub status: &'static str,
    pub status_class: &'static str,
    /// `elite`, `high`, `medium`, `low`, or empty.
    pub level: &'static str,
}

/// A row of the per-actor table.
#[derive(Debug, Clone)]
pub struct ActorView {
    pub name: String,
    pub score: String,
    pub outcomes: String,
    /// `num` or `no-data`.
    pub class: &'static str,
    pub counts: super::ActorRow,
}

/// One of the recent-items tables (gate decisions, incidents, drills).
#[derive(Debug, Clone)]
pub struct TableView {
    pub id: &'static str,
    pub title: &'static str,
    pub head: Vec<&'static str>,
    /// Newest first.
    pub rows: Vec<Row>,
    pub empty: &'static str,
}

/// The whole page.
#[derive(Template)]
#[template(path = "report.html", escape = "html")]
pub struct PageView {
    pub style: &'static str,
    pub title: String,
    pub as_of: String,
    pub scope: String,
    pub window: String,
    pub entries: u64,
    pub integrity: Option<IntegrityView>,
    pub no_deploys: bool,
    pub rows: Vec<MetricView>,
    pub notes: Vec<String>,
    pub charts: Vec<Chart>,
    pub trust_error: Option<String>,
    pub actors: Vec<ActorView>,
    pub tables: Vec<TableView>,
}

/// Text safe for XML 1.0: control characters other than tab and newline become U+FFFD.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}
