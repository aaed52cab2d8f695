//! Small file-system helpers: opening files that may be hostile, bounded reads, and atomic
//! writes (temp file + fsync + rename + directory fsync).
//!
//! Every file the library reads — a path argument or a file in the ledger directory — is opened
//! with [`open_regular`]: non-blocking, then checked with `fstat` on the open descriptor. A
//! FIFO, device, socket or directory is refused ([`Error::NotAFile`]) before one byte is read,
//! so nothing waits for a writer that never comes or reads a device without end, and the check
//! cannot be raced by swapping the path after it. Symlinks are followed: what counts is the
//! file they lead to, which must be a regular file like any other. Whole-file reads go through
//! [`read_bounded`], which refuses a file larger than its bound before allocating for it.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

use crate::error::{Error, Result};

/// Open `path` for reading; it must be a regular file (or a symlink to one).
pub fn open_regular(path: &Path) -> Result<File> {
    open_regular_with(path, OpenOptions::new().read(true))
}

/// Open `path` with `opts` (read, write, append, create…), refusing anything but a regular
/// file. The open does not block on a FIFO; the type is checked on the open descriptor.
pub fn open_regular_with(path: &Path, opts: &mut OpenOptions) -> Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. It has
        // no effect on reads and writes of a regular file.
        opts.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = opts.open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            found: describe(&meta.file_type()),
        });
    }
    Ok(file)
}

/// Like [`open_regular`], but a missing file is `None`.
pub fn open_regular_if_exists(path: &Path) -> Result<Option<File>> {
    match open_regular(path) {
        Ok(f) => Ok(Some(f)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Fail with [`Error::NotAFile`] when `path` exists and is not a regular file (nor a symlink to
/// one). A missing file is fine. Nothing is opened.
pub fn check_regular_if_exists(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(Error::NotAFile {
            path: path.to_path_buf(),
            found: describe(&m.file_type()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Read all of `path`, a regular file of at most `max` bytes; `what` names it in the error
/// (`checkpoint`, `proof`, `key`…). The bound is checked before allocating, and again while
/// reading (the file may grow meanwhile).
pub fn read_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let file = open_regular(path)?;
    read_file_bounded(file, path, max, what)
}

/// Like [`read_bounded`], but a missing file is `None`.
pub fn read_bounded_if_exists(path: &Path, max: u64, what: &str) -> Result<Option<Vec<u8>>> {
    match open_regular_if_exists(path)? {
        Some(f) => read_file_bounded(f, path, max, what).map(Some),
        None => Ok(None),
    }
}

/// Like [`read_bounded`], as UTF-8 text.
pub fn read_text_bounded(path: &Path, max: u64, what: &str) -> Result<String> {
    text(path, read_bounded(path, max, what)?)
}

/// Like [`read_text_bounded`], but a missing file is `None`.
pub fn read_text_bounded_if_exists(path: &Path, max: u64, what: &str) -> Result<Option<String>> {
    read_bounded_if_exists(path, max, what)?
        .map(|b| text(path, b))
        .transpose()
}

/// Read a stream (stdin, a socket) as UTF-8 text of at most `max` bytes; `what` names it.
pub fn read_stream_text(input: impl std::io::Read, max: u64, what: &str) -> Result<String> {
    let mut buf = Vec::new();
    input
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(what, e))?;
    if buf.len() as u64 > max {
        return Err(Error::malformed(
            what,
            format!("more than {}", human_bytes(max)),
        ));
    }
    text(Path::new(what), buf)
}

fn text(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        Error::malformed(
            path.display().to_string(),
            format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

fn read_file_bounded(file: File, path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let too_big = |len: Option<u64>| {
        let is = len.map(|n| format!(" is {n} bytes,")).unwrap_or_default();
        Error::malformed(
            path.display().to_string(),
            format!("{what}{is} more than {}", human_bytes(max)),
        )
    };
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > max {
        return Err(too_big(Some(len)));
    }
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > max {
        return Err(too_big(None));
    }
    Ok(buf)
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn describe(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Write `data` to `path` atomically: a temp file in the same directory, fsync, rename over
/// `path`, fsync of the directory. Readers see the old or the new file, never a mix.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    write_atomic_mode(path, data, 0o644)
}

/// Like [`write_atomic`], creating the file with `mode` (Unix permission bits).
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(perms(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(data).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(dir)
}

/// Replace `path` by `data` through a temp file and a rename, without fsync: for caches,
/// which check themselves (a checksum) and are rebuilt when a crash left them damaged. Readers
/// see the old or the new file, never a mix.
pub fn write_cache(path: &Path, data: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(perms(0o600))
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(data).map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Create `dir` and its missing parents, each new one with mode 0700 (existing ones are left
/// as they are), as ssh-keygen does for `~/.ssh`.
pub fn create_private_dirs(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir).map_err(|e| Error::io(dir, e))
}

/// fsync a directory so a rename or a new file in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = std::fs::File::open(dir).map_err(|e| Error::io(dir, e))?;
        d.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

#[cfg(unix)]
fn perms(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(mode)
}
