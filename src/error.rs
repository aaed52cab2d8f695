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
    /// Input given by the user (argument, file, body, config) is not acceptable.
    #[error("{0}")]
    Input(String),
    /// A key file is missing, malformed, or too open.
    #[error("key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory is not a ledger directory.
    #[error("{0}: not a ledger directory (no config.toml; run `ledger init --origin NAME`)")]
    NotALedger(PathBuf),
    /// The ledger ends in an incomplete line; appends refuse until it is repaired explicitly.
    #[error("{path}: torn tail at byte {offset} ({len} bytes after the last complete line); run `ledger repair --torn-tail`")]
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
    /// A gate or policy decision said no (exit 1).
    #[error("denied: {0}")]
    Denied(String),
    /// A git operation failed.
    #[error("git: {0}")]
    Git(String),
    /// The run was interrupted (SIGINT, SIGTERM or SIGHUP) after cleaning up; nothing was
    /// recorded (exit 2).
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl Error {
    /// Exit code for the CLI: 1 when a verification or gate said no, 2 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Verify { .. } | Error::Denied(_) => 1,
            _ => 2,
        }
    }

    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Build an [`Error::Input`] from anything printable.
    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
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
