//! Entry kinds and the required fields of each kind's body (DESIGN §2).
//!
//! The table in [`required_fields`] is the single source of truth for body validation; the JSON
//! Schemas in `schemas/` state the same rules and a test checks that the two agree. Bodies may
//! carry more (optional) fields than the ones required here.

use serde_json::Value;

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
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 8] = [
        Kind::Merge,
        Kind::Approval,
        Kind::Deploy,
        Kind::Rollback,
        Kind::Drill,
        Kind::Bundle,
        Kind::Key,
        Kind::Event,
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

/// The type a required body field must have.
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
}

/// Required body fields of `kind`, with their types.
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
            ("action", Enum(&["add", "revoke"])),
            ("key_id", Hex(16)),
            ("public_key", Hex(64)),
        ],
        Kind::Event => &[("type", Str), ("data", Object)],
    }
}

/// True when `s` is lowercase hex of length `len`.
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Check `body` against the required fields of `kind`. The error names the field
/// (`body.env: expected a non-empty string`).
pub fn validate(kind: Kind, body: &Value) -> Result<(), String> {
    let Some(map) = body.as_object() else {
        return Err(format!("body: expected a JSON object for kind `{kind}`"));
    };
    for (name, ty) in required_fields(kind) {
        let Some(v) = map.get(*name) else {
            return Err(format!("body.{name}: missing (required for kind `{kind}`)"));
        };
        let ok = match ty {
            FieldType::Str => v.as_str().is_some_and(|s| !s.is_empty()),
            FieldType::Enum(allowed) => v.as_str().is_some_and(|s| allowed.contains(&s)),
            FieldType::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            FieldType::UInt => v.as_u64().is_some(),
            FieldType::Object => v.is_object(),
            FieldType::Hex(n) => v.as_str().is_some_and(|s| is_lower_hex(s, *n)),
        };
        if !ok {
            let want = match ty {
                FieldType::Str => "a non-empty string".to_string(),
                FieldType::Enum(allowed) => format!("one of {}", allowed.join(", ")),
                FieldType::StrArray => "an array of strings".to_string(),
                FieldType::UInt => "a non-negative integer".to_string(),
                FieldType::Object => "an object".to_string(),
                FieldType::Hex(n) => format!("{n} lowercase hex characters"),
            };
            return Err(format!("body.{name}: expected {want}, found {}", short(v)));
        }
    }
    Ok(())
}

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
        );
        assert_eq!(
            err,
            Err("body.status: expected one of started, succeeded, failed, found \"ok\"".into())
        );
        let err = validate(Kind::Deploy, &json!({"version": "1"}));
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
    }

    #[test]
    fn kinds_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("deploys"), None);
    }
}
