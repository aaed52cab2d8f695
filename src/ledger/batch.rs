//! The batch format of `ledger append --batch` (and of any embedder that submits several
//! entries at once): JSON Lines, one draft per line.
//!
//! ```text
//! {"kind":"deploy","actor":"ci/build-7","body":{"env":"prod","version":"v1","commit":"abc","status":"succeeded"}}
//! {"kind":"event","actor":"ci","body":{"type":"lint","data":{"warnings":0}}}
//! ```
//!
//! Each non-blank line is an object with exactly the members `kind` (one of the entry kinds),
//! `actor` (string) and optionally `body` (object, default `{}`); the body must satisfy the
//! rules for new entries of its kind ([`crate::ledger::Entry::check_draft`]). Blank lines are
//! skipped; an input without any line is refused. A bad line is reported by its 1-based line
//! number and field, and the first bad line (in file order) wins, so the report does not
//! depend on how lines were spread over threads.

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::ledger::body::Kind;
use crate::ledger::entry::Entry;
use crate::ledger::store::Draft;

/// Parse a batch. `source` names the input in errors (a path, or `stdin`).
pub fn parse(text: &str, source: &str) -> Result<Vec<Draft>> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(Error::malformed(source, "no entries in batch"));
    }
    let parsed: Vec<std::result::Result<Draft, (Option<&'static str>, String)>> =
        lines.par_iter().map(|(_, l)| parse_line(l)).collect();
    lines
        .iter()
        .zip(parsed)
        .map(|((i, _), r)| {
            r.map_err(|(field, reason)| {
                Error::malformed_at(source, Some(*i as u64 + 1), field, reason)
            })
        })
        .collect()
}

/// One line: the draft, or the field at fault and why.
fn parse_line(line: &str) -> std::result::Result<Draft, (Option<&'static str>, String)> {
    let v: Value = serde_json::from_str(line).map_err(|e| (None, format!("invalid JSON: {e}")))?;
    let Value::Object(mut obj) = v else {
        return Err((None, "expected an object".into()));
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["kind", "actor", "body"].contains(&k.as_str()))
    {
        return Err((
            None,
            format!("unknown field `{k}` (expected kind, actor, body)"),
        ));
    }
    let kind_s = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or((Some("kind"), "expected a string".to_string()))?;
    let kind =
        Kind::parse(kind_s).ok_or_else(|| (Some("kind"), format!("unknown kind `{kind_s}`")))?;
    let actor = obj
        .get("actor")
        .and_then(Value::as_str)
        .ok_or((Some("actor"), "expected a string".to_string()))?
        .to_string();
    let body = obj.remove("body").unwrap_or_else(|| json!({}));
    Entry::check_draft(kind, &actor, &body).map_err(|e| (None, e.reason))?;
    Ok(Draft { kind, actor, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_bad_line_and_field() {
        let text = "{\"kind\":\"event\",\"actor\":\"a\",\"body\":{\"type\":\"t\",\"data\":{}}}\n\n{\"kind\":7,\"actor\":\"a\"}\n{\"kind\":\"nope\",\"actor\":\"a\"}\n";
        let e = parse(text, "b.jsonl").unwrap_err().to_string();
        assert_eq!(e, "b.jsonl: line 3: kind: expected a string");
        assert!(parse("\n  \n", "b.jsonl").is_err());
        let ok = parse(
            "{\"kind\":\"event\",\"actor\":\"a\",\"body\":{\"type\":\"t\",\"data\":{}}}",
            "x",
        )
        .unwrap();
        assert_eq!(ok.len(), 1);
    }
}
