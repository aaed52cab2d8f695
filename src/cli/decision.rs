//! What the trust and merge commands share: the evaluation time flag and the rendering of a
//! gate decision.

use audit_ledger::error::Result;
use audit_ledger::ledger::Entry;
use audit_ledger::trust::Decision;
use clap::Args;

/// Evaluation time shared by the trust commands.
#[derive(Debug, Args)]
pub struct AtArg {
    /// Evaluate as of this time (YYYY-MM-DD or RFC 3339; default now). Later entries are ignored.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

impl AtArg {
    /// `--at` in ms since the epoch, or now.
    pub fn now_ms(&self) -> Result<i64> {
        match &self.at {
            None => Ok(chrono::Utc::now().timestamp_millis()),
            Some(s) => audit_ledger::time::parse_instant(s).map_err(super::for_flag("--at")),
        }
    }
}

pub use audit_ledger::trust::json::decision_json;

/// Human rendering of a decision.
pub fn decision_text(ctx: &super::Ctx, d: &Decision, entry: Option<&Entry>) -> String {
    let recorded = match entry {
        Some(e) => format!("approval entry seq {}", e.seq),
        None => "dry run: nothing recorded".to_string(),
    };
    let mut s = format!(
        "{} {}'s change to {} path(s) ({recorded})\n",
        if d.allow {
            ctx.paint("ALLOW", super::Tone::Good)
        } else {
            ctx.paint("DENY", super::Tone::Bad)
        },
        d.actor,
        d.paths.len(),
    );
    for r in &d.reasons {
        s.push_str(&format!("  - {r}\n"));
    }
    s.trim_end().to_string()
}
