//! Canonical JSON: RFC 8785 (JCS) for the subset of JSON that signed entries may contain.
//!
//! Entries contain no floating-point numbers (integers only, with `|n| < 2^53`) and only ASCII
//! object keys (DESIGN §2). Under those two rules JCS is exactly:
//!
//! * object members sorted by key (byte order equals UTF-16 order for ASCII keys);
//! * no whitespace between tokens;
//! * strings escaped minimally: `"` → `\"`, `\` → `\\`, U+0008/0009/000A/000C/000D → `\b \t \n
//!   \f \r`, every other code point below U+0020 → `\u00xx` (lowercase hex), everything else
//!   (including non-ASCII, U+007F and U+2028) written as raw UTF-8;
//! * integers in plain decimal, `-` only for negatives, no leading zeros.
//!
//! This equals Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)`, which is how the standalone verifiers reproduce it. Example:
//! `{"b":[1,"é\n"],"a":-2}` becomes `{"a":-2,"b":[1,"é\n"]}` (with a real escaped newline).
//!
//! The encoder sorts keys itself rather than trusting `serde_json::Map` iteration order, so a
//! dependency that turns on serde_json's `preserve_order` cannot change our bytes.

use serde_json::Value;

/// Largest magnitude an integer may have in a signed entry: 2^53 - 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonError {
    /// A number with a fraction or exponent.
    #[error("{path}: floating-point numbers are not allowed (use integers, e.g. per-mille)")]
    Float {
        /// JSON path of the value (e.g. `body.score`).
        path: String,
    },
    /// An integer outside ±(2^53-1).
    #[error("{path}: integer out of range (|n| must be below 2^53)")]
    Range {
        /// JSON path of the value.
        path: String,
    },
    /// An object key with a non-ASCII character.
    #[error("{path}: object keys must be ASCII")]
    Key {
        /// JSON path of the object.
        path: String,
    },
}

/// Encode `value` canonically, appending to `out`.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonError> {
    write_value(value, out, &mut String::new())
}

/// Encode `value` canonically.
pub fn encode(value: &Value) -> Result<Vec<u8>, CanonError> {
    let mut out = Vec::with_capacity(256);
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Check that `value` has a canonical form (no floats, safe integers, ASCII keys).
pub fn check(value: &Value) -> Result<(), CanonError> {
    encode(value).map(|_| ())
}

fn write_value(value: &Value, out: &mut Vec<u8>, path: &mut String) -> Result<(), CanonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                if u > MAX_SAFE_INTEGER {
                    return Err(CanonError::Range {
                        path: display_path(path),
                    });
                }
                out.extend_from_slice(u.to_string().as_bytes());
            } else if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > MAX_SAFE_INTEGER {
                    return Err(CanonError::Range {
                        path: display_path(path),
                    });
                }
                out.extend_from_slice(i.to_string().as_bytes());
            } else {
                return Err(CanonError::Float {
                    path: display_path(path),
                });
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                write_value(item, out, path)?;
                path.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, val)) in members.into_iter().enumerate() {
                if !key.is_ascii() {
                    return Err(CanonError::Key {
                        path: display_path(path),
                    });
                }
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                write_value(val, out, path)?;
                path.truncate(len);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.to_string()
    }
}

/// Write `s` as a JSON string with JCS escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape at all: one scan, one copy.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: Value) -> String {
        String::from_utf8(encode(&v).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        assert_eq!(
            enc(json!({"b": [1, "x"], "a": -2, "A": null})),
            r#"{"A":null,"a":-2,"b":[1,"x"]}"#
        );
    }

    #[test]
    fn escapes_minimally() {
        let s = "q\"b\\\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}é\u{2028}😀/";
        assert_eq!(
            enc(json!(s)),
            "\"q\\\"b\\\\\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}é\u{2028}😀/\""
        );
    }

    #[test]
    fn rejects_floats_big_integers_and_non_ascii_keys() {
        assert!(
            matches!(encode(&json!({"a": {"b": 1.5}})), Err(CanonError::Float { path }) if path == "a.b")
        );
        assert!(matches!(
            encode(&json!([1u64 << 53])),
            Err(CanonError::Range { .. })
        ));
        assert!(matches!(
            encode(&json!(-(1i64 << 53))),
            Err(CanonError::Range { .. })
        ));
        assert_eq!(enc(json!(MAX_SAFE_INTEGER)), "9007199254740991");
        assert_eq!(enc(json!(-(MAX_SAFE_INTEGER as i64))), "-9007199254740991");
        assert!(matches!(
            encode(&json!({"é": 1})),
            Err(CanonError::Key { .. })
        ));
    }
}
