//! `config.toml`: the ledger's origin, signature policy, trusted keys and per-feature sections.
//!
//! ```toml
//! origin = "example.org/app/ledger"   # checkpoint origin line (C2SP tlog-checkpoint)
//! require_signatures = true          # unsigned entries are invalid
//! root_key = "1f2e3d4c5b6a7988"       # pinned id of the key that signs its own first `key` entry
//!
//! [[keys]]                           # keys trusted now (the ledger's `key` entries are the history)
//! id = "1f2e3d4c5b6a7988"
//! public_key = "<64 hex>"
//! name = "release"                   # signer name in checkpoint notes
//! revoked = false
//!
//! [trust]      # policy for trust scores and gates (see `trust`)
//! [metrics]    # DORA targets (see `metrics`)
//! [witness]    # witness keys and required cosignatures (see `note`)
//! [serve]      # who may record gate decisions through `ledger serve` (see [`ServeSettings`])
//! ```
//!
//! Sections other than the core fields are kept as raw TOML and read by their feature with
//! [`Config::section`], so each feature owns its own schema and error messages. Rewriting the
//! file (on `keys add`) keeps every section but not comments.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

/// The largest `config.toml` read (far above any real one).
pub const MAX_CONFIG: u64 = 1 << 20;
/// One trusted key as recorded in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    /// Key id (16 hex).
    pub id: String,
    /// Public key (64 hex).
    pub public_key: String,
    /// Name used in signed notes; defaults to the origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// True once revoked (kept so the history stays readable).
    #[serde(default)]
    pub revoked: bool,
}

/// The parsed `config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Origin line of checkpoints; also the default key name.
    pub origin: String,
    /// When true, unsigned entries are invalid.
    #[serde(default)]
    pub require_signatures: bool,
    /// Pinned id of the root key (the first key added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_key: Option<String>,
    /// Keys, trusted or revoked.
    #[serde(default)]
    pub keys: Vec<KeyRecord>,
    /// Every other section, owned by its feature.
    #[serde(flatten)]
    pub rest: toml::Table,
}

/// File name of the config inside a ledger directory.
pub const CONFIG_FILE: &str = "config.toml";

impl Config {
    /// A fresh config.
    pub fn new(origin: &str, require_signatures: bool) -> Result<Config> {
        check_origin(origin).map_err(|reason| Error::invalid("origin", reason))?;
        Ok(Config {
            origin: origin.to_string(),
            require_signatures,
            root_key: None,
            keys: Vec::new(),
            rest: toml::Table::new(),
        })
    }

    /// Read `DIR/config.toml` (a regular file of at most [`MAX_CONFIG`] bytes).
    pub fn load(dir: &Path) -> Result<Config> {
        let path = dir.join(CONFIG_FILE);
        let Some(text) = crate::fsutil::read_text_bounded_if_exists(&path, MAX_CONFIG, "config")?
        else {
            return Err(Error::NotALedger(dir.to_path_buf()));
        };
        let file = path.display().to_string();
        let cfg: Config =
            toml::from_str(&text).map_err(|e| Error::malformed(&file, e.to_string()))?;
        check_origin(&cfg.origin)
            .map_err(|reason| Error::malformed_at(&file, None, Some("origin"), reason))?;
        for k in &cfg.keys {
            crate::keys::parse_public_hex(&k.public_key).map_err(|reason| {
                let field = format!("key {}: public_key", k.id);
                Error::malformed_at(&file, None, Some(&field), reason)
            })?;
        }
        Ok(cfg)
    }

    /// Write `DIR/config.toml` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| Error::internal(format!("cannot encode config: {e}")))?;
        fsutil::write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())
    }

    /// Read the section `name` into `T` (its default when absent). Errors name the section.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        match self.rest.get(name) {
            None => Ok(T::default()),
            Some(v) => v.clone().try_into().map_err(|e| {
                let field = format!("[{name}]");
                Error::malformed_at(CONFIG_FILE, None, Some(&field), e.to_string())
            }),
        }
    }

    /// These settings with the signed ones of `policy` in their place: `require_signatures`
    /// and the `[trust]`, `[witness]` and `[metrics]` tables (a table the policy lacks is
    /// dropped: a snapshot is complete). The notices say where config.toml disagreed.
    pub fn overlay(&self, policy: &SignedPolicy) -> Result<(Config, Vec<String>)> {
        let signed = parse_settings(&policy.settings).map_err(|reason| {
            Error::malformed_at(
                "ledger.jsonl",
                Some(policy.seq + 1),
                Some("body.settings"),
                reason,
            )
        })?;
        let mut out = self.clone();
        let mut notices = Vec::new();
        if out.require_signatures != policy.require_signatures {
            notices.push(format!(
                "config.toml: require_signatures = {} differs from the signed policy (seq {}), which says {}; the signed policy applies",
                out.require_signatures, policy.seq, policy.require_signatures
            ));
            out.require_signatures = policy.require_signatures;
        }
        for name in SIGNED_TABLES {
            let file = out.rest.remove(name);
            let sig = signed.get(name).cloned();
            if file != sig {
                notices.push(format!(
                    "config.toml: [{name}] differs from the signed policy (seq {}); the signed policy applies (`ledger policy show`)",
                    policy.seq
                ));
            }
            if let Some(v) = sig {
                out.rest.insert(name.to_string(), v);
            }
        }
        Ok((out, notices))
    }

    /// The tables of these settings that a `policy` entry carries, as TOML text.
    pub fn signed_tables_toml(&self) -> Result<String> {
        let mut t = toml::Table::new();
        for name in SIGNED_TABLES {
            if let Some(v) = self.rest.get(name) {
                t.insert(name.to_string(), v.clone());
            }
        }
        toml::to_string(&t).map_err(|e| Error::internal(format!("cannot encode settings: {e}")))
    }

    /// The trusted (not revoked) key with this id.
    pub fn trusted_key(&self, id: &str) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| k.id == id && !k.revoked)
    }
}

/// A `policy` entry as verified: signed by a key trusted at its seq; in force from the next
/// entry on, until the next `policy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    /// seq of the entry.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// `body.require_signatures`: unsigned entries after it are invalid.
    pub require_signatures: bool,
    /// `body.settings`: the `[trust]`, `[witness]`, `[metrics]` and `[serve]` tables, as TOML.
    pub settings: String,
}

/// The tables of config.toml that only a signed `policy` entry may set (DESIGN §8).
pub const SIGNED_TABLES: [&str; 4] = ["trust", "witness", "metrics", "serve"];

/// The `[serve]` table of a signed policy: what `ledger serve` lets runners do beyond
/// submitting entries.
///
/// ```toml
/// [serve]
/// gate_recorders = ["1f2e3d4c5b6a7988"]   # writer keys that may record gate decisions
/// ```
///
/// It changes who may write, so it is read from the signed policy only: in `config.toml`
/// without a `policy` entry it grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Key ids (16 lowercase hex) whose holders may ask the service to record a gate
    /// decision (`POST /v1/gate` with `"record": true`), signed with that key.
    #[serde(default)]
    pub gate_recorders: Vec<String>,
}

impl ServeSettings {
    /// The `[serve]` table in force for `cfg`: the signed policy's when `signed` (the ledger
    /// has a `policy` entry), nothing otherwise.
    pub fn in_force(cfg: &Config, signed: bool) -> Result<ServeSettings> {
        if !signed {
            return Ok(ServeSettings::default());
        }
        let s: ServeSettings = cfg.section("serve")?;
        s.check()?;
        Ok(s)
    }

    /// Every key id is 16 lowercase hex characters.
    pub fn check(&self) -> Result<()> {
        for (i, id) in self.gate_recorders.iter().enumerate() {
            if !crate::ledger::body::is_lower_hex(id, 16) {
                return Err(Error::invalid(
                    format!("[serve].gate_recorders[{i}]"),
                    format!("{id:?}: expected a key id, 16 lowercase hex characters"),
                ));
            }
        }
        Ok(())
    }
}

/// Parse a `policy` entry's settings: TOML with at most the tables of [`SIGNED_TABLES`].
pub fn parse_settings(text: &str) -> std::result::Result<toml::Table, String> {
    let t: toml::Table = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
    for (k, v) in &t {
        if !SIGNED_TABLES.contains(&k.as_str()) {
            return Err(format!(
                "`{k}`: a policy carries only the tables {}",
                SIGNED_TABLES.join(", ")
            ));
        }
        if !v.is_table() {
            return Err(format!("`{k}`: expected a table"));
        }
    }
    Ok(t)
}

/// Why `origin` cannot be an origin line, if it cannot. The caller knows whether the origin
/// was a parameter ([`Config::new`]) or a field of a file ([`Config::load`]).
fn check_origin(origin: &str) -> std::result::Result<(), &'static str> {
    // A checkpoint's origin is its first line: non-empty, no newline, printable.
    if origin.is_empty()
        || origin.len() > 256
        || origin.chars().any(char::is_control)
        || origin.trim() != origin
    {
        return Err("expected 1 to 256 printable characters without leading/trailing spaces");
    }
    Ok(())
}
