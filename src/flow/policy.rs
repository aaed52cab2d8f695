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

/// Where a setting in force comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Source {
    /// The signed `policy` entry in force (verified with the ledger).
    SignedPolicy {
        /// Its seq.
        seq: u64,
    },
    /// `config.toml`, which no signature covers.
    ConfigToml,
    /// Neither: the built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::SignedPolicy { seq } => write!(f, "signed policy (seq {seq})"),
            Source::ConfigToml => f.write_str("config.toml (unsigned)"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One setting in force.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Setting {
    /// `origin`, `require_signatures`, `[trust]`, ...
    pub name: String,
    /// Its value, on one line (a table as inline TOML).
    pub value: String,
    /// Where it comes from.
    pub source: Source,
    /// What else to know (config.toml says otherwise and is ignored, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The ledger's settings in force and where each comes from: `file` is config.toml as read
/// (no policy applied), `policy` the signed policy in force after verification, if any. With
/// a policy, `require_signatures` and the signed tables come from it and config.toml's are
/// ignored (noted where they differ); without one, from config.toml, else the defaults.
pub fn in_force(file: &Config, policy: Option<&SignedPolicy>) -> Result<Vec<Setting>> {
    let signed = match policy {
        Some(p) => Some(parse_settings(&p.settings).map_err(|reason| {
            Error::malformed_at(
                "ledger.jsonl",
                Some(p.seq + 1),
                Some("body.settings"),
                reason,
            )
        })?),
        None => None,
    };
    let mut out = vec![Setting {
        name: "origin".into(),
        value: file.origin.clone(),
        source: Source::ConfigToml,
        note: Some(
            "names the log in checkpoints; a checkpoint for another origin is refused".into(),
        ),
    }];
    out.push(Setting {
        name: "root_key".into(),
        value: file.root_key.clone().unwrap_or_else(|| "(none)".into()),
        source: if file.root_key.is_some() {
            Source::ConfigToml
        } else {
            Source::Default
        },
        note: Some("readers pin the root key in their client state or with --root-key; this copy is a hint".into()),
    });
    let (require, source, note) = match policy {
        Some(p) => (
            p.require_signatures,
            Source::SignedPolicy { seq: p.seq },
            (file.require_signatures != p.require_signatures)
                .then(|| format!("config.toml says {}, ignored", file.require_signatures)),
        ),
        None => (file.require_signatures, Source::ConfigToml, None),
    };
    out.push(Setting {
        name: "require_signatures".into(),
        value: require.to_string(),
        source,
        note,
    });
    for name in crate::config::SIGNED_TABLES {
        let from_file = file.rest.get(name);
        let (value, source, note) = match (policy, &signed) {
            (Some(p), Some(t)) => {
                let v = t.get(name);
                let note = (from_file != v)
                    .then(|| format!("config.toml's [{name}] differs and is ignored"));
                (
                    v.map(one_line).unwrap_or_else(|| "(defaults)".into()),
                    Source::SignedPolicy { seq: p.seq },
                    note,
                )
            }
            _ => match from_file {
                Some(v) => (
                    one_line(v),
                    Source::ConfigToml,
                    Some("not signed: record it with `ledger policy set`".into()),
                ),
                None => ("(defaults)".into(), Source::Default, None),
            },
        };
        out.push(Setting {
            name: format!("[{name}]"),
            value,
            source,
            note,
        });
    }
    out.push(Setting {
        name: "[[keys]]".into(),
        value: format!("{} listed", file.keys.len()),
        source: Source::ConfigToml,
        note: Some(
            "a convenience copy: verification trusts only the key history in the ledger".into(),
        ),
    });
    Ok(out)
}

/// A TOML value on one line.
fn one_line(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) if t.is_empty() => "(empty)".into(),
        other => other.to_string(),
    }
}
