//! Entry kinds and the rules their bodies must satisfy (DESIGN §2), in two strengths:
//!
//! * **What a new entry must satisfy** ([`validate_draft`], module [`draft`]): everything
//!   `schemas/body/<kind>.schema.json` says: required fields and their types, enums, hex
//!   lengths, integer ranges, and the types of the optional fields the schema names (a deploy's
//!   `strategy`, `percent`, `changes`, ...). The write path
//!   ([`Entry::check_draft`](crate::ledger::entry::Entry::check_draft)) applies it;
//!   `tests/body_schema.rs` checks on generated bodies that it and the schemas agree both ways.
//! * **What a stored entry must satisfy, forever** ([`validate`]): the required fields of
//!   [`required_fields`] with their types, nothing about optional fields. Reading and verifying
//!   apply it (the reference line parser and the fast path in
//!   [`fastline`](crate::ledger::fastline), which must agree). It never gets stricter: ledgers
//!   written before the draft rule existed may hold bodies with odd optional fields, and they
//!   verify as they always did.
//!
//! Both rules allow fields they do not name: a body may carry more than the ledger knows.

use serde_json::Value;

pub mod draft;

pub use draft::{optional_fields, validate_draft};

/// Why a body does not satisfy its kind's rules: the path of the offending field
/// (`body.percent`, `body.changes[2].time`, or `body` itself) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BodyError {
    /// Path of the field, starting at `body`.
    pub field: String,
    /// What is wrong, e.g. `500 is not an integer from 0 to 100`.
    pub reason: String,
}

impl BodyError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BodyError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The kinds of entry a ledger accepts. Unknown kinds are rejected.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A merge of a source ref into a target ref.
    Merge,
    /// A gate decision (allow / deny) with its reasons.
    Approval,
    /// A deployment step.
    Deploy,
    /// A rollback of a deployment.
    Rollback,
    /// A rollback drill and its outcome.
    Drill,
    /// A signed release bundle.
    Bundle,
    /// Adding or revoking a signing key.
    Key,
    /// A user-defined step.
    Event,
    /// The signed settings in force from the next entry on (a full snapshot).
    Policy,
    /// An incident opened or resolved, optionally naming the deploy that caused it.
    Incident,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 10] = [
        Kind::Merge,
        Kind::Approval,
        Kind::Deploy,
        Kind::Rollback,
        Kind::Drill,
        Kind::Bundle,
        Kind::Key,
        Kind::Event,
        Kind::Policy,
        Kind::Incident,
    ];

    /// The kind's name as written in entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Merge => "merge",
            Kind::Approval => "approval",
            Kind::Deploy => "deploy",
            Kind::Rollback => "rollback",
            Kind::Drill => "drill",
            Kind::Bundle => "bundle",
            Kind::Key => "key",
            Kind::Event => "event",
            Kind::Policy => "policy",
            Kind::Incident => "incident",
        }
    }

    /// Parse a kind name; `None` for unknown kinds.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The type a required body field must have (the stored rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A non-empty string.
    Str,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// An array of strings (possibly empty).
    StrArray,
    /// A non-negative integer.
    UInt,
    /// A JSON object.
    Object,
    /// Lowercase hex of exactly this many characters.
    Hex(usize),
    /// `true` or `false`.
    Bool,
    /// Any string, possibly empty.
    AnyStr,
}

/// Required body fields of `kind`, with their types (the stored rule; the fast path checks
/// the same table on tokens).
pub fn required_fields(kind: Kind) -> &'static [(&'static str, FieldType)] {
    use FieldType::*;
    match kind {
        Kind::Merge => &[
            ("author", Str),
            ("source", Str),
            ("target", Str),
            ("source_commit", Str),
            ("target_commit", Str),
            ("merge_commit", Str),
            ("paths", StrArray),
        ],
        Kind::Approval => &[
            ("subject", Str),
            ("decision", Enum(&["allow", "deny"])),
            ("reasons", StrArray),
        ],
        Kind::Deploy => &[
            ("env", Str),
            ("version", Str),
            ("commit", Str),
            ("status", Enum(&["started", "succeeded", "failed"])),
        ],
        Kind::Rollback => &[
            ("env", Str),
            ("from_version", Str),
            ("to_version", Str),
            ("trigger", Str),
        ],
        Kind::Drill => &[
            ("target", Str),
            ("check", Str),
            ("outcome", Enum(&["pass", "fail", "timeout"])),
            ("duration_ms", UInt),
            ("report_sha256", Hex(64)),
        ],
        Kind::Bundle => &[("version", Str), ("manifest_sha256", Hex(64))],
        Kind::Key => &[
            (
                "action",
                Enum(&["add", "add-writer", "add-git-signer", "revoke"]),
            ),
            ("key_id", Hex(16)),
            ("public_key", Hex(64)),
        ],
        Kind::Event => &[("type", Str), ("data", Object)],
        Kind::Policy => &[("require_signatures", Bool), ("settings", AnyStr)],
        Kind::Incident => &[
            ("incident", Str),
            ("status", Enum(&["opened", "resolved"])),
            ("env", Str),
        ],
    }
}

/// True when `s` is lowercase hex of length `len`.
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Check a stored `body` against the required fields of `kind` (the rule for entries already
/// in a ledger; new entries use [`validate_draft`]). The error names the field
/// (`body.env: expected a non-empty string`).
pub fn validate(kind: Kind, body: &Value) -> Result<(), BodyError> {
    let Some(map) = body.as_object() else {
        return Err(BodyError::new(
            "body",
            format!("expected a JSON object for kind `{kind}`"),
        ));
    };
    for (name, ty) in required_fields(kind) {
        let Some(v) = map.get(*name) else {
            return Err(BodyError::new(
                format!("body.{name}"),
                format!("missing (required for kind `{kind}`)"),
            ));
        };
        let ok = match ty {
            FieldType::Str => v.as_str().is_some_and(|s| !s.is_empty()),
            FieldType::Enum(allowed) => v.as_str().is_some_and(|s| allowed.contains(&s)),
            FieldType::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            FieldType::UInt => v.as_u64().is_some(),
            FieldType::Object => v.is_object(),
            FieldType::Hex(n) => v.as_str().is_some_and(|s| is_lower_hex(s, *n)),
            FieldType::Bool => v.is_boolean(),
            FieldType::AnyStr => v.is_string(),
        };
        if !ok {
            let want = match ty {
                FieldType::Str => "a non-empty string".to_string(),
                FieldType::Enum(allowed) => format!("one of {}", allowed.join(", ")),
                FieldType::StrArray => "an array of strings".to_string(),
                FieldType::UInt => "a non-negative integer".to_string(),
                FieldType::Object => "an object".to_string(),
                FieldType::Hex(n) => format!("{n} lowercase hex characters"),
                FieldType::Bool => "true or false".to_string(),
                FieldType::AnyStr => "a string".to_string(),
            };
            return Err(BodyError::new(
                format!("body.{name}"),
                format!("expected {want}, found {}", short(v)),
            ));
        }
    }
    Ok(())
}

/// `v` as JSON, cut to about 40 bytes for an error message.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        let mut cut = 40;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}…", &s[..cut])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_failing_field() {
        let err = validate(
            Kind::Deploy,
            &json!({"env": "prod", "version": "1", "commit": "a", "status": "ok"}),
        )
        .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("body.status: expected one of started, succeeded, failed, found \"ok\"".into())
        );
        let err = validate(Kind::Deploy, &json!({"version": "1"})).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("body.env: missing (required for kind `deploy`)".into())
        );
        assert!(validate(
            Kind::Event,
            &json!({"type": "lint", "data": {}, "extra": 1})
        )
        .is_ok());
        assert!(validate(Kind::Event, &json!([])).is_err());
        // The stored rule ignores optional fields: old ledgers may hold such bodies.
        let odd = json!({"env": "p", "version": "1", "commit": "a", "status": "failed",
            "strategy": "yolo", "percent": 500});
        assert!(validate(Kind::Deploy, &odd).is_ok());
        assert!(validate_draft(Kind::Deploy, &odd).is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("deploys"), None);
    }
}
