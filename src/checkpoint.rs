//! C2SP tlog-checkpoint bodies (<https://c2sp.org/tlog-checkpoint>), carried in a signed note
//! ([`crate::note`]).
//!
//! # Format
//!
//! ```text
//! example.org/app/ledger\n                              origin (from config.toml)
//! 1234\n                                                tree size, ASCII decimal, no leading zeros
//! 3q2+7w0Kz7Bd0t1Yh2k5f7n3f8Yq2V1a0b9c8d7e6f4=\n       root hash, standard base64 with padding
//! <extension line>\n                                    zero or more, non-empty, opaque
//! ```
//!
//! Then a blank line and the signature lines of the note. The body is parsed canonically: it
//! must re-encode to the same bytes (no leading zeros, no `+5`, padded base64 of exactly 32
//! bytes, no empty extension line), so one checkpoint has one byte string.

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::merkle::Hash;
use crate::note::{self, OpenError, Opened, SignerKey, VerifierKey};

/// Most extension lines accepted.
pub const MAX_EXTENSIONS: usize = 100;

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin line: the log's name.
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash of the first `size` leaves.
    pub root: Hash,
    /// Extension lines, without their `\n`.
    pub extensions: Vec<String>,
}

fn bad(why: impl std::fmt::Display) -> Error {
    Error::malformed("checkpoint", why.to_string())
}

fn printable(line: &str) -> bool {
    !line.is_empty() && !line.chars().any(char::is_control)
}

impl Checkpoint {
    /// The checkpoint's note text.
    pub fn to_body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            base64::engine::general_purpose::STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse a note text as a checkpoint body (canonical form only).
    pub fn parse(text: &str) -> Result<Checkpoint> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("body does not end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|l| printable(l))
            .ok_or_else(|| bad("empty or invalid origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("missing tree size line"))?;
        let size: u64 = size_line
            .parse()
            .map_err(|_| bad(format!("tree size {size_line:?} is not a decimal number")))?;
        if size.to_string() != size_line {
            return Err(bad(format!(
                "tree size {size_line:?} is not in canonical decimal form"
            )));
        }
        let root_line = lines.next().ok_or_else(|| bad("missing root hash line"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(root_line)
            .map_err(|_| bad("root hash is not base64"))?;
        let root: Hash = raw
            .try_into()
            .map_err(|_| bad("root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for l in lines {
            if extensions.len() == MAX_EXTENSIONS {
                return Err(bad("more than 100 extension lines"));
            }
            if !printable(l) {
                return Err(bad("empty or invalid extension line"));
            }
            extensions.push(l.to_string());
        }
        let cp = Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        };
        if cp.to_body() != text {
            return Err(bad("not in canonical form"));
        }
        Ok(cp)
    }

    /// Sign the body as a note with `signer`.
    pub fn sign(&self, signer: &SignerKey) -> Result<String> {
        note::sign(&self.to_body(), &[signer])
    }
}

/// A checkpoint whose note opened with known keys. Only [`open`] builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Opened,
}

impl SignedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    /// The opened note (verified and unverified signatures).
    pub fn note(&self) -> &Opened {
        &self.note
    }
}

/// Why a signed checkpoint did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note did not open.
    #[error(transparent)]
    Note(#[from] OpenError),
    /// The signed text is not a checkpoint body.
    #[error("{0}")]
    Body(String),
}

/// Open a signed checkpoint with the `known` keys and parse its body.
pub fn open(
    msg: &[u8],
    known: &[VerifierKey],
) -> std::result::Result<SignedCheckpoint, CheckpointError> {
    let note = note::open(msg, known)?;
    let checkpoint =
        Checkpoint::parse(note.text()).map_err(|e| CheckpointError::Body(e.to_string()))?;
    Ok(SignedCheckpoint { checkpoint, note })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trip_and_canonical_form() {
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 12,
            root: [0xab; 32],
            extensions: vec!["ext one".into()],
        };
        let body = cp.to_body();
        assert_eq!(Checkpoint::parse(&body).unwrap(), cp);
        let root64 = base64::engine::general_purpose::STANDARD.encode([0xab; 32]);
        for bad in [
            format!("example.org/log\n012\n{root64}\n"),
            format!("example.org/log\n+12\n{root64}\n"),
            format!("example.org/log\n12\n{root64}"),
            format!("example.org/log\n12\n{}\n", &root64[..root64.len() - 1]),
            format!("\n12\n{root64}\n"),
            format!("example.org/log\n12\n{root64}\n\n"),
            format!("example.org/log\n12\n{root64}\nok\n\n"),
            "example.org/log\n12\n".to_string(),
            format!("example.org/log\n18446744073709551616\n{root64}\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root64}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }
}
