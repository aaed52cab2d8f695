//! `MANIFEST.sha256`: the list of a bundle's files and their SHA-256 digests.
//!
//! # Format
//!
//! Exactly what `sha256sum` writes in text mode, so `sha256sum -c --strict MANIFEST.sha256`
//! checks it:
//!
//! ```text
//! <64 lowercase hex>  <path>\n
//! ```
//!
//! * one line per file, two spaces between digest and path, every line ends in `\n`;
//! * paths are relative to the bundle directory, `/`-separated, and sorted by their bytes
//!   (what `LC_ALL=C sort` gives); no duplicates;
//! * paths use only `A-Z a-z 0-9 . _ - /`, have no empty, `.` or `..` component and do not start
//!   with `/` or `-` — so no escaping is ever needed and no verifier can be led outside the
//!   bundle;
//! * every file of the bundle is listed except `MANIFEST.sha256` itself and its signature
//!   `MANIFEST.sha256.sig`.
//!
//! Parsing is canonical: a manifest is accepted only if re-encoding what was parsed gives the
//! same bytes.

use sha2::{Digest, Sha256};

/// File name of the manifest inside a bundle.
pub const MANIFEST: &str = "MANIFEST.sha256";
/// File name of the manifest's signature inside a bundle.
pub const MANIFEST_SIG: &str = "MANIFEST.sha256.sig";
/// Most lines a manifest may have (a bound for parsers).
pub const MAX_LINES: usize = 100_000;

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Line {
    /// Path relative to the bundle directory.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
}

/// True when `path` is acceptable as a bundle path (see the module documentation).
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 255
        && !path.starts_with('-')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'))
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Encode lines (sorted and checked here) as manifest bytes.
pub fn encode(lines: &[Line]) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&Line> = lines.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut out = Vec::with_capacity(sorted.len() * 100);
    for (i, l) in sorted.iter().enumerate() {
        if !valid_path(&l.path) {
            return Err(format!("{}: not an acceptable bundle path", l.path));
        }
        if i > 0 && sorted.get(i - 1).is_some_and(|p| p.path == l.path) {
            return Err(format!("{}: listed twice", l.path));
        }
        if l.path == MANIFEST || l.path == MANIFEST_SIG {
            return Err(format!("{}: the manifest does not list itself", l.path));
        }
        out.extend_from_slice(hex::encode(l.sha256).as_bytes());
        out.extend_from_slice(b"  ");
        out.extend_from_slice(l.path.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// Parse manifest bytes. The error names the 1-based line.
pub fn parse(bytes: &[u8]) -> Result<Vec<Line>, (u64, String)> {
    let text = std::str::from_utf8(bytes).map_err(|_| (0, "not UTF-8".to_string()))?;
    if text.is_empty() {
        return Err((0, "empty manifest".into()));
    }
    if !text.ends_with('\n') {
        return Err((0, "last line does not end in a newline".into()));
    }
    let mut lines = Vec::new();
    for (i, raw) in text.split_terminator('\n').enumerate() {
        let n = i as u64 + 1;
        if lines.len() >= MAX_LINES {
            return Err((n, format!("more than {MAX_LINES} lines")));
        }
        let (digest, path) = raw
            .split_once("  ")
            .ok_or((n, "expected `<sha256>  <path>`".to_string()))?;
        let mut sha256 = [0u8; 32];
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err((n, "digest: expected 64 lowercase hex characters".into()));
        }
        hex::decode_to_slice(digest, &mut sha256).map_err(|e| (n, format!("digest: {e}")))?;
        if !valid_path(path) {
            return Err((
                n,
                format!(
                    "path `{}`: not an acceptable bundle path",
                    path.escape_debug()
                ),
            ));
        }
        lines.push(Line {
            path: path.to_string(),
            sha256,
        });
    }
    match encode(&lines) {
        Ok(again) if again == bytes => Ok(lines),
        Ok(_) => Err((0, "lines are not sorted by path (LC_ALL=C order)".into())),
        Err(e) => Err((0, e)),
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str, b: u8) -> Line {
        Line {
            path: path.into(),
            sha256: [b; 32],
        }
    }

    #[test]
    fn round_trip_sorted() {
        let bytes = encode(&[line("b", 1), line("a/x", 2), line("Z", 3)]).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(
            text.lines().map(|l| &l[66..]).collect::<Vec<_>>(),
            ["Z", "a/x", "b"]
        );
        assert_eq!(parse(&bytes).unwrap().len(), 3);
    }

    #[test]
    fn matches_sha256sum_format() {
        // `printf abc > f && sha256sum f` prints exactly this line (coreutils, text mode).
        let l = Line {
            path: "f".into(),
            sha256: sha256(b"abc"),
        };
        assert_eq!(
            encode(&[l]).unwrap(),
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  f\n".to_vec()
        );
    }

    #[test]
    fn rejects_bad_manifests() {
        let good = encode(&[line("a", 1), line("b", 2)]).unwrap();
        let mut unsorted = good[67..].to_vec();
        unsorted.extend_from_slice(&good[..67]);
        assert!(parse(&unsorted).is_err());
        assert!(parse(&good[..good.len() - 1]).is_err());
        let upper = format!("{}  a\n", hex::encode_upper([0xabu8; 32]));
        assert!(parse(upper.as_bytes()).is_err());
        for bad in ["../x", "/x", "a//b", "a/./b", "-x", "a b", "a\\b", ""] {
            assert!(!valid_path(bad), "{bad}");
        }
        let one_space = format!("{}  a\n", hex::encode([1u8; 32])).replace("  ", " ");
        assert!(parse(one_space.as_bytes()).is_err());
        let dup = format!("{0}  a\n{0}  a\n", hex::encode([1u8; 32]));
        assert!(parse(dup.as_bytes()).is_err());
        assert!(parse(b"").is_err());
    }
}
