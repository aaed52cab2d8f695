//! Release artifacts: walk the given files and directories and hash every file, in parallel.
//!
//! Names: a file given directly is named by its file name; a file found under a directory
//! `D` is named `<basename of D>/<path relative to D>` with `/` separators. Names must be UTF-8
//! and unique. Symbolic links and other special files are refused (a bundle states what was
//! released; a link would say nothing about the bytes it points to at verification time).
//!
//! Hashing reads each file with one reusable 1 MiB buffer per worker thread (rayon) and SHA-256
//! from `sha2` (SHA-NI detected at run time), so throughput scales with cores.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One hashed artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Name as recorded (see the module documentation).
    pub name: String,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
    /// Size in bytes.
    pub size: u64,
}

/// Collect (name, path) pairs under `roots`, sorted by name; errors on duplicates, links and
/// non-UTF-8 names.
pub fn collect(roots: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for root in roots {
        let meta = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
        if meta.is_file() {
            let name = file_name(root)?;
            out.push((name, root.clone()));
            continue;
        }
        if !meta.is_dir() {
            return Err(Error::invalid(
                "artifacts",
                format!("{}: not a regular file or a directory", root.display()),
            ));
        }
        let base = file_name(&root.canonicalize().map_err(|e| Error::io(root, e))?)?;
        for item in walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
        {
            let item = item.map_err(|e| walk_error(root, e))?;
            let ft = item.file_type();
            if ft.is_dir() {
                continue;
            }
            if !ft.is_file() {
                return Err(Error::invalid(
                    "artifacts",
                    format!(
                        "{}: not a regular file (links are not followed)",
                        item.path().display()
                    ),
                ));
            }
            let rel = item
                .path()
                .strip_prefix(root)
                .map_err(|_| Error::internal("walkdir left its root"))?;
            let mut name = base.clone();
            for c in rel.components() {
                let s = c
                    .as_os_str()
                    .to_str()
                    .ok_or_else(|| non_utf8(item.path()))?;
                name.push('/');
                name.push_str(s);
            }
            out.push((name, item.path().to_path_buf()));
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for w in out.windows(2) {
        if let [a, b] = w {
            if a.0 == b.0 {
                return Err(Error::invalid(
                    "artifacts",
                    format!(
                        "artifact name `{}` given twice ({} and {})",
                        a.0,
                        a.1.display(),
                        b.1.display()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn file_name(p: &Path) -> Result<String> {
    let n = p
        .file_name()
        .ok_or_else(|| Error::invalid("artifacts", format!("{}: has no file name", p.display())))?;
    n.to_str().map(str::to_string).ok_or_else(|| non_utf8(p))
}

fn non_utf8(p: &Path) -> Error {
    Error::invalid(
        "artifacts",
        format!("{}: file name is not UTF-8", p.display()),
    )
}

/// A failure while walking a directory is a failure to read it: an I/O error on the entry
/// that could not be read (or on the root, when walkdir does not say which entry), so it maps
/// like any other unreadable file. A loop cannot happen, as links are not followed.
fn walk_error(root: &Path, e: walkdir::Error) -> Error {
    let path = e.path().unwrap_or(root).to_path_buf();
    Error::io(path, e.into())
}

/// Hash one file with `buf` as the read buffer.
pub fn hash_file(path: &Path, buf: &mut [u8]) -> Result<([u8; 32], u64)> {
    let mut f = crate::fsutil::open_regular(path)?;
    let mut h = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = f.read(buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        size += n as u64;
    }
    Ok((h.finalize().into(), size))
}

/// Hash every collected file in parallel; the result keeps the input order.
pub fn hash_all(files: &[(String, PathBuf)]) -> Result<Vec<Artifact>> {
    files
        .par_iter()
        .map_init(
            || vec![0u8; 1 << 20],
            |buf, (name, path)| {
                let (sha256, size) = hash_file(path, buf)?;
                Ok(Artifact {
                    name: name.clone(),
                    sha256,
                    size,
                })
            },
        )
        .collect()
}

/// Collect and hash.
pub fn hash_roots(roots: &[PathBuf]) -> Result<Vec<Artifact>> {
    hash_all(&collect(roots)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_digests() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("dist");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/b"), b"abc").unwrap();
        std::fs::write(d.join("a"), b"").unwrap();
        let f = t.path().join("single.bin");
        std::fs::write(&f, b"x").unwrap();
        let arts = hash_roots(&[d.clone(), f]).unwrap();
        let names: Vec<&str> = arts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["dist/a", "dist/sub/b", "single.bin"]);
        assert_eq!(
            hex::encode(arts[1].sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(arts[1].size, 3);
        assert!(hash_roots(&[d.clone(), d]).is_err());
    }
}
