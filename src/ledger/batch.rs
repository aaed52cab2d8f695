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

use std::io::BufRead;
use std::path::Path;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::ledger::body::Kind;
use crate::ledger::entry::{Entry, MAX_LINE};
use crate::ledger::store::Draft;

/// Read and parse a batch file. The file must be a regular file (a FIFO or device is refused
/// at once); it is read line by line, and a line longer than an entry line may be
/// ([`MAX_LINE`]) is refused before more is read, so a huge file without newlines costs at most
/// one line's worth of memory.
pub fn read_file(path: &Path) -> Result<Vec<Draft>> {
    let file = crate::fsutil::open_regular(path)?;
    read(std::io::BufReader::new(file), &path.display().to_string())
}

/// Read and parse a batch from a stream (stdin, a request body), line by line with the same
/// per-line bound as [`read_file`]. `source` names the input in errors.
pub fn read(mut input: impl BufRead, source: &str) -> Result<Vec<Draft>> {
    let mut text = String::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        number += 1;
        let mut limited = std::io::Read::take(&mut input, MAX_LINE as u64 + 2);
        let n = limited
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(source, e))?;
        if n == 0 {
            break;
        }
        let body = line.strip_suffix(b"\n").unwrap_or(&line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.len() > MAX_LINE {
            return Err(Error::malformed_at(
                source,
                Some(number),
                None,
                format!("line longer than {} bytes", MAX_LINE),
            ));
        }
        let s = std::str::from_utf8(body)
            .map_err(|_| Error::malformed_at(source, Some(number), None, "not UTF-8"))?;
        text.push_str(s);
        text.push('\n');
    }
    parse(&text, source)
}

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
