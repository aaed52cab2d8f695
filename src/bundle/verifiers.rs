//! The standalone verifiers embedded in this binary, for auditors who must not run the copies
//! inside the bundle they are checking (whoever altered a bundle can also have replaced its
//! `verify.sh` and `verify.py` by scripts that print `OK`).
//!
//! [`embedded`] lists the two scripts with their SHA-256 digests; [`export`] writes them to a
//! directory. Both print nothing: the command line renders the result.

use std::path::{Path, PathBuf};

use crate::bundle::{files, manifest};
use crate::error::{Error, Result};

/// One standalone verifier compiled into this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    /// File name, as in a bundle (`verify.sh`, `verify.py`).
    pub name: &'static str,
    /// The script's bytes.
    pub contents: &'static str,
    /// SHA-256 of `contents`.
    pub sha256: [u8; 32],
}

impl Verifier {
    /// Lowercase hex of [`Verifier::sha256`].
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// A verifier written to disk by [`export`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The verifier.
    pub verifier: Verifier,
    /// Where it was written.
    pub path: PathBuf,
    /// False when the file already held exactly these bytes and was left alone.
    pub written: bool,
}

/// The verifiers embedded in this binary, in bundle order (`verify.py`, `verify.sh`).
pub fn embedded() -> Vec<Verifier> {
    [
        (files::VERIFY_PY, super::VERIFY_PY),
        (files::VERIFY_SH, super::VERIFY_SH),
    ]
    .into_iter()
    .map(|(name, contents)| Verifier {
        name,
        contents,
        sha256: manifest::sha256(contents.as_bytes()),
    })
    .collect()
}

/// Write every embedded verifier into `dir` (created if missing), mode 0755, atomically.
/// A file that already holds the same bytes is left as it is; any other file of that name is
/// replaced. `dir` itself must not be a file or a link to one.
pub fn export(dir: &Path) -> Result<Vec<Exported>> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Error::invalid(dir.display().to_string(), "not a directory")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Err(e) => return Err(Error::io(dir, e)),
    }
    let mut out = Vec::new();
    for v in embedded() {
        let path = dir.join(v.name);
        // Anything unreadable as a small regular file (a link, a huge file) is replaced.
        let same = crate::fsutil::read_bounded_if_exists(&path, 1 << 20, "verifier")
            .ok()
            .flatten()
            .is_some_and(|old| old == v.contents.as_bytes());
        if !same {
            crate::fsutil::write_atomic_mode(&path, v.contents.as_bytes(), 0o755)?;
        }
        out.push(Exported {
            verifier: v,
            path,
            written: !same,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_of_the_embedded_bytes() {
        let v = embedded();
        assert_eq!(v.len(), 2);
        for x in &v {
            assert_eq!(x.sha256, manifest::sha256(x.contents.as_bytes()));
            assert_eq!(x.sha256_hex().len(), 64);
        }
        assert_eq!(v[0].name, "verify.py");
        assert_eq!(v[1].name, "verify.sh");
    }

    #[test]
    fn export_writes_and_then_leaves_identical_files() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| Error::io("tmp", e))?;
        let dir = tmp.path().join("trusted");
        let first = export(&dir)?;
        assert!(first.iter().all(|e| e.written));
        for e in &first {
            let bytes = std::fs::read(&e.path).map_err(|err| Error::io(&e.path, err))?;
            assert_eq!(bytes, e.verifier.contents.as_bytes());
        }
        let second = export(&dir)?;
        assert!(second.iter().all(|e| !e.written));
        std::fs::write(dir.join("verify.sh"), "echo OK\n").map_err(|e| Error::io("w", e))?;
        let third = export(&dir)?;
        assert!(third[1].written && !third[0].written);
        Ok(())
    }
}
