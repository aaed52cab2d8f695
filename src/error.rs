//! Error kinds of the library.
//!
//! Every fallible function in the crate returns [`Error`]. The binary maps an error to an exit
//! code with [`Error::exit_code`]: `1` when a verification or a gate said no, `2` for usage,
//! input and I/O errors (DESIGN §6). Messages name the file, line and field where they can.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a verification failed: enough for a person to open the file at the right line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line number in the file, when the failure is tied to a line.
    pub line: Option<u64>,
    /// Sequence number of the failing entry, when known.
    pub seq: Option<u64>,
    /// Stable machine-readable reason code (e.g. `bad-signature`, `broken-chain`).
    pub code: &'static str,
    /// Human explanation.
    pub reason: String,
}

impl Failure {
    /// A failure tied to a 1-based line of the ledger file.
    pub fn at_line(
        line: u64,
        seq: Option<u64>,
        code: &'static str,
        reason: impl Into<String>,
    ) -> Failure {
        Failure {
            line: Some(line),
            seq,
            code,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.seq) {
            (Some(l), Some(s)) => write!(f, "line {l} (seq {s}): {}", self.reason),
            (Some(l), None) => write!(f, "line {l}: {}", self.reason),
            (None, Some(s)) => write!(f, "seq {s}: {}", self.reason),
            (None, None) => write!(f, "{}", self.reason),
        }
    }
}

/// Everything that can go wrong in the library.
///
/// The variants say *what kind* of thing went wrong, so an embedder (the CLI, `ledger serve`)
/// maps them to exit codes or HTTP statuses without matching on message text:
///
/// | variant | CLI exit | HTTP |
/// |---|---|---|
/// | [`Error::Verify`] | 1 | 422 |
/// | [`Error::Invalid`], [`Error::Malformed`], [`Error::NotAFile`] | 2 | 400 |
/// | [`Error::NotFound`], [`Error::NotALedger`] | 2 | 404 |
/// | [`Error::Conflict`], [`Error::TornTail`] | 2 | 409 |
/// | [`Error::UntrustedKey`], [`Error::SignatureRequired`] | 2 | 403 |
/// | [`Error::Key`], [`Error::Io`], [`Error::Git`], [`Error::Interrupted`], [`Error::Internal`] | 2 | 500 |
///
/// Messages name the file, line and field where they can, and carry no CLI flags: advice such
/// as "run `ledger repair --torn-tail`" is the binary's to add.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A parameter of a call is not acceptable (an empty command, a version with a space, a
    /// time that does not parse). `what` names the parameter.
    #[error("{what}: {reason}")]
    Invalid {
        /// The parameter, e.g. `version` or `since`.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Input data (a file, a body, a batch line, a config section) is malformed.
    #[error("{}", malformed_text(.file, *.line, .field.as_deref(), .reason))]
    Malformed {
        /// The file or stream, e.g. `steps.jsonl` or `config.toml`.
        file: String,
        /// 1-based line, when the data has lines.
        line: Option<u64>,
        /// The field, e.g. `body.status` or `[trust] half_life_days`.
        field: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A path that should name a regular file names a FIFO, a device, a socket or a directory.
    /// Such files are refused before anything is read from them, so a FIFO cannot make a
    /// command wait for a writer and a device cannot feed it without end.
    #[error("{path}: is {found}, not a regular file")]
    NotAFile {
        /// The path given or found in the ledger directory.
        path: PathBuf,
        /// What it is instead: `a FIFO`, `a directory`, `a character device`, …
        found: &'static str,
    },
    /// Something asked for does not exist (an entry, a key, a revision, a gate).
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (already exists, changed meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// An answer computed from the history no longer holds: the history moved on since (a gate
    /// decision asked to be recorded after new entries arrived). Ask again.
    #[error("{0}")]
    Stale(String),
    /// A key is not trusted for what it was asked to do (not in the key history, revoked).
    #[error("key {key_id}: {reason}")]
    UntrustedKey {
        /// The key id (16 hex).
        key_id: String,
        /// Why it is not trusted here.
        reason: String,
    },
    /// The ledger requires signatures and no signing key was given.
    #[error("this ledger requires signatures and no signing key was given")]
    SignatureRequired,
    /// A key file is missing, malformed, or too open.
    #[error("key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory is not a ledger directory.
    #[error("{0}: not a ledger directory (no config.toml)")]
    NotALedger(PathBuf),
    /// The ledger ends in an incomplete line; appends refuse until it is repaired explicitly.
    #[error("{path}: torn tail at byte {offset} ({len} bytes after the last complete line)")]
    TornTail {
        /// The ledger file.
        path: PathBuf,
        /// Byte offset where the incomplete line starts.
        offset: u64,
        /// Number of bytes in the incomplete line.
        len: u64,
    },
    /// A verification failed (exit 1).
    #[error("{file}: {failure}")]
    Verify {
        /// The file being verified.
        file: String,
        /// The first failure found.
        failure: Failure,
    },
    /// Entries were written, but a step after the write (the checkpoint refresh) failed. The
    /// entries are durable; the exit code is the inner error's.
    #[error("appended seq {first}..={last}, but the checkpoint was not refreshed: {source}")]
    AfterAppend {
        /// First seq written.
        first: u64,
        /// Last seq written.
        last: u64,
        /// What failed afterwards.
        source: Box<Error>,
    },
    /// A git operation failed.
    #[error("git: {0}")]
    Git(String),
    /// The run was interrupted (SIGINT, SIGTERM or SIGHUP) after cleaning up; nothing was
    /// recorded (exit 2).
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// An internal encoding step failed (a bug, not bad input).
    #[error("internal error: {0}")]
    Internal(String),
}

fn malformed_text(file: &str, line: Option<u64>, field: Option<&str>, reason: &str) -> String {
    let mut s = file.to_string();
    if let Some(l) = line {
        s.push_str(&format!(": line {l}"));
    }
    if let Some(f) = field {
        s.push_str(&format!(": {f}"));
    }
    s.push_str(": ");
    s.push_str(reason);
    s
}

impl Error {
    /// Exit code for the CLI: 1 when a verification said no, 2 otherwise (DESIGN §6). Gate
    /// and drill verdicts are outcomes, not errors: see the use cases in [`crate::flow`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify { .. } => 1,
            Error::AfterAppend { source, .. } => source.exit_code(),
            _ => 2,
        }
    }

    /// The HTTP status of the table above (`ledger serve`).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Verify { .. } => 422,
            Error::Invalid { .. } | Error::Malformed { .. } | Error::NotAFile { .. } => 400,
            Error::NotFound(_) | Error::NotALedger(_) => 404,
            Error::Conflict(_) | Error::Stale(_) | Error::TornTail { .. } => 409,
            Error::UntrustedKey { .. } | Error::SignatureRequired => 403,
            Error::Interrupted(_) => 503,
            Error::AfterAppend { source, .. } => source.http_status(),
            _ => 500,
        }
    }

    /// A stable code naming the kind of error (the `code` of an HTTP error body): the
    /// verification failure's own code for [`Error::Verify`].
    pub fn kind_code(&self) -> &'static str {
        match self {
            Error::Verify { failure, .. } => failure.code,
            Error::Invalid { .. } => "invalid",
            Error::Malformed { .. } => "malformed",
            Error::NotAFile { .. } => "not-a-file",
            Error::NotFound(_) | Error::NotALedger(_) => "not-found",
            Error::Conflict(_) => "conflict",
            Error::Stale(_) => "stale",
            Error::TornTail { .. } => "torn-tail",
            Error::UntrustedKey { .. } => "untrusted-key",
            Error::SignatureRequired => "signature-required",
            Error::Interrupted(_) => "unavailable",
            Error::AfterAppend { source, .. } => source.kind_code(),
            _ => "internal",
        }
    }

    /// The verification failure inside this error, if it is one (also behind
    /// [`Error::AfterAppend`]).
    pub fn verify_failure(&self) -> Option<(&str, &Failure)> {
        match self {
            Error::Verify { file, failure } => Some((file, failure)),
            Error::AfterAppend { source, .. } => source.verify_failure(),
            _ => None,
        }
    }

    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Invalid`]: parameter `what` is not acceptable.
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Build an [`Error::Malformed`] for a whole file or stream (no line, no field).
    pub fn malformed(file: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Malformed {
            file: file.into(),
            line: None,
            field: None,
            reason: reason.into(),
        }
    }

    /// Build an [`Error::Malformed`] naming the line and field.
    pub fn malformed_at(
        file: impl Into<String>,
        line: Option<u64>,
        field: Option<&str>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Malformed {
            file: file.into(),
            line,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Build an [`Error::UntrustedKey`].
    pub fn untrusted(key_id: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::UntrustedKey {
            key_id: key_id.into(),
            reason: reason.into(),
        }
    }

    /// An internal encoding failure.
    pub fn internal(what: impl std::fmt::Display) -> Error {
        Error::Internal(what.to_string())
    }

    /// A verification failure of a whole file (no line), e.g. a proof or a checkpoint.
    pub fn verify_file(
        file: &std::path::Path,
        code: &'static str,
        reason: impl Into<String>,
    ) -> Error {
        Error::verify(
            file.display().to_string(),
            Failure {
                line: None,
                seq: None,
                code,
                reason: reason.into(),
            },
        )
    }

    /// Build a verification failure.
    pub fn verify(file: impl Into<String>, failure: Failure) -> Error {
        Error::Verify {
            file: file.into(),
            failure,
        }
    }
}
