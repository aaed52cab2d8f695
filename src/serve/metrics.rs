//! `/metrics`: the service's counters in the Prometheus text format, kept with the
//! `prometheus-client` crate.

use std::sync::Mutex;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route pattern (`/v1/entries/{seq}`), never the raw path.
    pub route: String,
    /// The HTTP status.
    pub status: u16,
}

/// The service's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    appended: Counter,
    commits: Histogram,
    commit_size: Histogram,
    entries: Gauge,
    flushes: Family<FlushLabels, Counter>,
}

/// Labels of the flush counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlushLabels {
    /// `ok` or `failed`.
    pub outcome: &'static str,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ledger");
        let requests = Family::<RequestLabels, Counter>::default();
        let appended = Counter::default();
        let commits = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        let commit_size = Histogram::new(exponential_buckets(1.0, 2.0, 13));
        let entries = Gauge::default();
        let flushes = Family::<FlushLabels, Counter>::default();
        registry.register(
            "flushes",
            "Times the derived files (index, client state, checkpoint) were brought up to date",
            flushes.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "appended_entries",
            "Entries written by group commits",
            appended.clone(),
        );
        registry.register(
            "commit_seconds",
            "Time of one group commit: lock, write, fsync, signed checkpoint",
            commits.clone(),
        );
        registry.register(
            "commit_submissions",
            "Submissions per group commit",
            commit_size.clone(),
        );
        registry.register("entries", "Entries in the served ledger", entries.clone());
        Metrics {
            registry: Mutex::new(registry),
            requests,
            appended,
            commits,
            commit_size,
            entries,
            flushes,
        }
    }

    /// Count one flush of the derived files.
    pub fn flushed(&self, ok: bool) {
        self.flushes
            .get_or_create(&FlushLabels {
                outcome: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    /// Count one request.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// Record one group commit of `n` submissions, `written` of them new entries, that took
    /// `secs`.
    pub fn observe_commit(&self, n: u64, written: u64, secs: f64) {
        self.appended.inc_by(written);
        self.commits.observe(secs);
        self.commit_size.observe(n as f64);
    }

    /// Set the number of entries served.
    pub fn set_entries(&self, n: u64) {
        self.entries.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            // Writing into a String cannot fail.
            let _ = encode(&mut out, &r);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
