//! What a *new* entry's body must satisfy: everything `schemas/body/<kind>.schema.json` says.
//!
//! The table in [`fields`] lists, per kind, every field the schema names, required or optional,
//! with its rule: strings (non-empty where the schema says `minLength: 1`), enums, hex of a fixed
//! length, integers in a range, booleans, `true`, objects, arrays of strings, times, and arrays
//! of objects with their own fields (a deploy's `changes` and `merges`). Fields the table does
//! not name are allowed, as the schemas allow them (`additionalProperties` is not restricted):
//! a body may carry more than the ledger knows about, e.g. an event's own details.
//!
//! A time (`T`, docs/metrics.md) in a new entry is an RFC 3339 string in UTC,
//! `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, as `append deploy --repo` writes it. Only the shape is
//! checked, as the schemas' pattern does; the metrics ignore a time they cannot read. Entries
//! written before this rule (format of 2026-12) may also hold integer seconds or another
//! offset; the metrics still read those.
//!
//! These rules apply to drafts only ([`crate::ledger::entry::Entry::check_draft`]). Stored
//! entries are judged by the older, looser rule of [`super::validate`], forever, so every
//! ledger that verified before still does; `tests/body_schema.rs` checks that this module and
//! the schemas give the same verdict on generated bodies.

use serde_json::Value;

use super::{is_lower_hex, short, BodyError, Kind};
use crate::canonical::MAX_SAFE_INTEGER;
// The tables below read better with bare rule names.
use Rule::*;

/// Largest integer a body may hold, as an `i64` (2^53 - 1 always fits).
const MAX_INT: i64 = MAX_SAFE_INTEGER as i64;

/// What a field's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A string of at least one character.
    Text,
    /// Any string, possibly empty.
    AnyText,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// An array of strings (possibly empty).
    TextArray,
    /// An integer from `min` to `max`, both included.
    Int {
        /// Smallest value accepted.
        min: i64,
        /// Largest value accepted.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// Exactly `true` (a flag that is either set or absent).
    True,
    /// Any JSON object.
    Object,
    /// Lowercase hex of exactly this many characters.
    Hex(usize),
    /// A time: an RFC 3339 string in UTC (see the module doc).
    Time,
    /// An array of at most `max_items` objects, each checked against `fields`.
    Objects {
        /// Rules of each element's fields.
        fields: &'static [Field],
        /// Longest array accepted.
        max_items: usize,
    },
}

/// One field a kind's body may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Name of the member.
    pub name: &'static str,
    /// Whether the body must carry it.
    pub required: bool,
    /// What its value must be.
    pub rule: Rule,
}

const fn req(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: true,
        rule,
    }
}

const fn opt(name: &'static str, rule: Rule) -> Field {
    Field {
        name,
        required: false,
        rule,
    }
}

const UINT: Rule = Int {
    min: 0,
    max: MAX_INT,
};
const SHA256: Rule = Hex(64);

const CHANGE: &[Field] = &[req("commit", Text), req("time", Time)];
const SHIPPED_MERGE: &[Field] = &[
    req("merge_commit", Text),
    req("author", AnyText),
    opt("seq", UINT),
    opt("author_verification", Text),
];

const MERGE: &[Field] = &[
    opt("author_verification", Text),
    req("author", Text),
    req("source", Text),
    req("target", Text),
    req("source_commit", Text),
    req("target_commit", Text),
    req("merge_commit", Text),
    req("paths", TextArray),
    opt("diff_sha256", SHA256),
    opt("approval_seq", UINT),
    opt("fast_forward", Bool),
];

const APPROVAL: &[Field] = &[
    req("subject", Text),
    req("decision", Enum(&["allow", "deny"])),
    req("reasons", TextArray),
    opt("actor", AnyText),
    opt("gate", AnyText),
    opt("gates", TextArray),
    opt("score_permille", Int { min: 0, max: 1000 }),
    opt("breakdown", Object),
    opt("paths", TextArray),
    opt("approvers", TextArray),
    opt("diff_sha256", SHA256),
    opt("policy_sha256", SHA256),
    opt("policy_seq", UINT),
    opt("conflicts", TextArray),
    opt("source", Text),
    opt("target", Text),
    opt("source_commit", Text),
    opt("target_commit", Text),
    opt("fast_forward", Bool),
    opt("change", Text),
    opt("tree_size", UINT),
    opt("author_verification", Text),
];

const DEPLOY: &[Field] = &[
    req("env", Text),
    req("version", Text),
    req("commit", Text),
    req("status", Enum(&["started", "succeeded", "failed"])),
    opt(
        "strategy",
        Enum(&["blue-green", "canary", "rolling", "recreate"]),
    ),
    opt("percent", Int { min: 0, max: 100 }),
    opt("commit_time", Time),
    opt("previous_commit", Text),
    opt("previous_seq", UINT),
    opt(
        "changes",
        Objects {
            fields: CHANGE,
            max_items: 1000,
        },
    ),
    opt("changes_truncated", True),
    opt(
        "merges",
        Objects {
            fields: SHIPPED_MERGE,
            max_items: 5000,
        },
    ),
    opt("merges_truncated", True),
];

const ROLLBACK: &[Field] = &[
    req("env", Text),
    req("from_version", Text),
    req("to_version", Text),
    req("trigger", Text),
    opt("undoes_seq", UINT),
    opt("trigger_type", Enum(&["auto", "manual"])),
    opt("reason", AnyText),
];

const DRILL: &[Field] = &[
    req("target", Text),
    req("check", Text),
    req("outcome", Enum(&["pass", "fail", "timeout"])),
    req("duration_ms", UINT),
    req("report_sha256", SHA256),
    opt("rev", Text),
    opt("env", Text),
    opt("timeout_ms", UINT),
    opt(
        "exit_code",
        Int {
            min: -MAX_INT,
            max: MAX_INT,
        },
    ),
    opt("report", Text),
];

const BUNDLE: &[Field] = &[req("version", Text), req("manifest_sha256", SHA256)];

const KEY: &[Field] = &[
    req(
        "action",
        Enum(&["add", "add-writer", "add-git-signer", "revoke"]),
    ),
    req("key_id", Hex(16)),
    req("public_key", Hex(64)),
    opt("identity", Text),
];

const EVENT: &[Field] = &[req("type", Text), req("data", Object)];

const POLICY: &[Field] = &[
    req("require_signatures", Bool),
    req("settings", AnyText),
    opt("reason", AnyText),
];

const INCIDENT: &[Field] = &[
    req("incident", Text),
    req("status", Enum(&["opened", "resolved"])),
    req("env", Text),
    opt("severity", Text),
    opt("caused_by_seq", UINT),
    opt("caused_by_version", Text),
    opt("external_id", Text),
    opt("summary", AnyText),
];

/// Every field the schema of `kind` names, in the schema's order.
pub fn fields(kind: Kind) -> &'static [Field] {
    match kind {
        Kind::Merge => MERGE,
        Kind::Approval => APPROVAL,
        Kind::Deploy => DEPLOY,
        Kind::Rollback => ROLLBACK,
        Kind::Drill => DRILL,
        Kind::Bundle => BUNDLE,
        Kind::Key => KEY,
        Kind::Event => EVENT,
        Kind::Policy => POLICY,
        Kind::Incident => INCIDENT,
    }
}

/// Names of the optional fields `kind` knows (the schema names them but does not require them).
pub fn optional_fields(kind: Kind) -> impl Iterator<Item = &'static str> {
    fields(kind).iter().filter(|f| !f.required).map(|f| f.name)
}

/// Check a new entry's body against every rule of its kind's schema. The error names the
/// field's path (`body.changes[2].time`).
pub fn validate_draft(kind: Kind, body: &Value) -> Result<(), BodyError> {
    if !body.is_object() {
        return Err(BodyError::new(
            "body",
            format!("expected a JSON object for kind `{kind}`"),
        ));
    }
    check_object(body, fields(kind), &Path::Body, Some(kind))?;
    // The one conditional rule of the schemas (key.schema.json's `if`/`then`): a git-signer
    // key is added with the identity whose commits it signs.
    if kind == Kind::Key
        && body.get("action").and_then(Value::as_str) == Some("add-git-signer")
        && body.get("identity").is_none()
    {
        return Err(BodyError::new(
            "body.identity",
            "missing (required with action add-git-signer)",
        ));
    }
    Ok(())
}

/// Where a value sits in the body; only spelled out when a check fails, so the append path
/// does not build a string per field.
enum Path<'a> {
    /// The body itself.
    Body,
    /// A member of an object.
    Member(&'a Path<'a>, &'static str),
    /// An element of an array.
    Index(&'a Path<'a>, usize),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Body => f.write_str("body"),
            Path::Member(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Check the members of `obj` (an object) named in `fields`. `kind` is set for the body
/// itself, so a missing field says which kind requires it.
fn check_object(
    obj: &Value,
    fields: &[Field],
    path: &Path<'_>,
    kind: Option<Kind>,
) -> Result<(), BodyError> {
    for f in fields {
        let here = Path::Member(path, f.name);
        match obj.get(f.name) {
            None if f.required => {
                let reason = match kind {
                    Some(k) => format!("missing (required for kind `{k}`)"),
                    None => "missing (required)".to_string(),
                };
                return Err(BodyError::new(here.to_string(), reason));
            }
            None => {}
            Some(v) => check_value(v, f.rule, &here)?,
        }
    }
    Ok(())
}

fn check_value(v: &Value, rule: Rule, path: &Path<'_>) -> Result<(), BodyError> {
    let fail = |reason: String| Err(BodyError::new(path.to_string(), reason));
    let expected = |want: &str| fail(format!("expected {want}, found {}", short(v)));
    match rule {
        Rule::Text if v.as_str().is_some_and(|s| !s.is_empty()) => Ok(()),
        Rule::Text => expected("a non-empty string"),
        Rule::AnyText if v.is_string() => Ok(()),
        Rule::AnyText => expected("a string"),
        Rule::Enum(allowed) if v.as_str().is_some_and(|s| allowed.contains(&s)) => Ok(()),
        Rule::Enum(allowed) => expected(&format!("one of {}", allowed.join(", "))),
        Rule::TextArray if v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => Ok(()),
        Rule::TextArray => expected("an array of strings"),
        Rule::Int { min, max } => match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => fail(format!(
                "{} is not an integer from {min} to {max}",
                short(v)
            )),
        },
        Rule::Bool if v.is_boolean() => Ok(()),
        Rule::Bool => expected("true or false"),
        Rule::True if v.as_bool() == Some(true) => Ok(()),
        Rule::True => expected("true (or no field)"),
        Rule::Object if v.is_object() => Ok(()),
        Rule::Object => expected("an object"),
        Rule::Hex(n) if v.as_str().is_some_and(|s| is_lower_hex(s, n)) => Ok(()),
        Rule::Hex(n) => expected(&format!("{n} lowercase hex characters")),
        Rule::Time => match v {
            Value::String(s) if is_time_shape(s) => Ok(()),
            _ => expected("an RFC 3339 time in UTC (YYYY-MM-DDTHH:MM:SS[.fff]Z)"),
        },
        Rule::Objects { fields, max_items } => {
            let Some(items) = v.as_array() else {
                return expected("an array of objects");
            };
            if items.len() > max_items {
                return fail(format!("{} elements, more than {max_items}", items.len()));
            }
            for (i, item) in items.iter().enumerate() {
                let here = Path::Index(path, i);
                if !item.is_object() {
                    return Err(BodyError::new(
                        here.to_string(),
                        format!("expected an object, found {}", short(item)),
                    ));
                }
                check_object(item, fields, &here, None)?;
            }
            Ok(())
        }
    }
}

/// True when `s` has the shape `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, ASCII digits only (the
/// pattern of the schemas' `time`; the calendar is not checked).
fn is_time_shape(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let head_ok = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !head_ok {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == b"Z"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(extra: Value) -> Value {
        let mut b = json!({"env": "prod", "version": "v1", "commit": "c", "status": "succeeded"});
        if let (Some(m), Some(x)) = (b.as_object_mut(), extra.as_object()) {
            m.extend(x.clone());
        }
        b
    }

    fn err(kind: Kind, body: &Value) -> String {
        validate_draft(kind, body)
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn names_the_failing_field_and_path() {
        assert_eq!(
            err(Kind::Deploy, &deploy(json!({"percent": 500}))),
            "body.percent: 500 is not an integer from 0 to 100"
        );
        assert_eq!(
            err(Kind::Deploy, &deploy(json!({"strategy": "yolo"}))),
            "body.strategy: expected one of blue-green, canary, rolling, recreate, found \"yolo\""
        );
        assert_eq!(
            err(
                Kind::Deploy,
                &deploy(
                    json!({"changes": [{"commit": "a", "time": "2026-11-22T12:00:00Z"}, {"commit": "b"}]})
                )
            ),
            "body.changes[1].time: missing (required)"
        );
        // Integer seconds and other offsets: read in old entries, refused in new ones.
        for t in [json!(1_700_000_000), json!("2026-11-01T10:00:00+02:00")] {
            assert_eq!(
                err(Kind::Deploy, &deploy(json!({"commit_time": t}))),
                format!("body.commit_time: expected an RFC 3339 time in UTC (YYYY-MM-DDTHH:MM:SS[.fff]Z), found {}", super::short(&t))
            );
        }
        assert_eq!(
            err(Kind::Deploy, &json!({"version": "1"})),
            "body.env: missing (required for kind `deploy`)"
        );
        assert!(validate_draft(Kind::Deploy, &deploy(json!({"extra": [1.5]}))).is_ok());
    }

    #[test]
    fn times_have_one_shape() {
        for ok in ["2026-11-22T12:00:00Z", "2026-11-22T12:00:00.123Z"] {
            assert!(is_time_shape(ok), "{ok}");
        }
        for bad in [
            "2026-11-22 12:00:00Z",
            "2026-11-22T12:00:00",
            "2026-11-22T12:00:00.Z",
            "2026-11-22T12:00:00+0200",
            "2026-11-22T12:00:00.1+02:00",
            "2026-11-22T12:00:00-05:30",
            "٢٠٢٦-11-22T12:00:00Z",
            "2026-11-22T12:00:00z",
            "",
        ] {
            assert!(!is_time_shape(bad), "{bad}");
        }
    }

    #[test]
    fn the_draft_rule_requires_what_the_stored_rule_requires() {
        for kind in Kind::ALL {
            let draft: Vec<&str> = fields(kind)
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name)
                .collect();
            let stored: Vec<&str> = super::super::required_fields(kind)
                .iter()
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(draft, stored, "{kind}");
        }
        assert_eq!(
            optional_fields(Kind::Rollback).collect::<Vec<_>>(),
            ["undoes_seq", "trigger_type", "reason"]
        );
    }
}
