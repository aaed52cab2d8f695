//! Signed settings as a use case: record a `policy` entry (a full snapshot of the settings
//! that change what is valid or what is decided: `require_signatures`, the trust policy, the
//! witness policy and the metrics targets), and say which settings are in force.
//!
//! A `policy` entry takes effect from the next entry on; verify applies the one in force at
//! each seq, and every reader and writer uses its settings in place of config.toml's (which
//! then keeps local conveniences only). See docs/ledger.md, "Signed settings".

use serde_json::json;

use crate::config::{parse_settings, Config};
use crate::error::{Error, Result};
use crate::ledger::body::Kind;
use crate::ledger::verify::SignedPolicy;
use crate::ledger::{Draft, Recorded, Recorder};

/// A policy to record.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    /// Unsigned entries after this one are invalid.
    pub require_signatures: bool,
    /// The `[trust]`, `[witness]` and `[metrics]` tables as TOML (a complete snapshot: a table
    /// left out means its defaults).
    pub settings: String,
    /// Why (recorded as `body.reason`).
    pub reason: Option<String>,
    /// Who records it.
    pub actor: String,
}

/// The largest settings text (far above any real policy).
pub const MAX_SETTINGS: usize = 256 << 10;

/// Check `settings` the way each feature reads its table: an invalid policy is refused
/// before it is signed (exit 2), naming the table and field.
pub fn check_settings(base: &Config, require_signatures: bool, settings: &str) -> Result<()> {
    if settings.len() > MAX_SETTINGS {
        return Err(Error::invalid(
            "settings",
            format!("{} bytes, more than {MAX_SETTINGS}", settings.len()),
        ));
    }
    parse_settings(settings).map_err(|r| Error::invalid("settings", r))?;
    let probe = SignedPolicy {
        seq: 0,
        hash: [0; 32],
        require_signatures,
        settings: settings.to_string(),
    };
    let (cfg, _) = base.overlay(&probe)?;
    crate::trust::policy::Policy::from_config(&cfg)?;
    crate::ledger::tlog::WitnessConfig::load(&cfg)?;
    cfg.section::<crate::metrics::TargetsConfig>("metrics")?
        .resolve()?;
    crate::config::ServeSettings::in_force(&cfg, true)?;
    Ok(())
}

/// Record `req` as a signed `policy` entry. Needs a signer (a policy is never unsigned).
pub fn set(rec: &Recorder<'_>, req: &PolicyRequest) -> Result<Recorded> {
    if rec.signer().is_none() {
        return Err(Error::invalid(
            "signer",
            "a policy entry must be signed by a key of the ledger",
        ));
    }
    check_settings(rec.ledger().config(), req.require_signatures, &req.settings)?;
    let mut body = json!({
        "require_signatures": req.require_signatures,
        "settings": req.settings,
    });
    if let (Some(r), Some(m)) = (&req.reason, body.as_object_mut()) {
        m.insert("reason".into(), json!(r));
    }
    let draft = Draft {
        kind: Kind::Policy,
        actor: req.actor.clone(),
        body,
    };
    // config.toml is brought in line with what was signed (under the same lock), so that it
    // does not disagree with the policy on every later run.
    let (require, settings) = (req.require_signatures, req.settings.clone());
    let change = Box::new(move |c: &mut Config, _: &[crate::ledger::Entry]| {
        c.require_signatures = require;
        if let Ok(t) = parse_settings(&settings) {
            for name in crate::config::SIGNED_TABLES {
                c.rest.remove(name);
            }
            c.rest.extend(t);
        }
    });
    rec.run(|_| Ok((vec![draft], Some(change as _), ())))
        .map(|(r, ())| r)
}
