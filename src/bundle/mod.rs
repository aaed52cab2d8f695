//! Signed release bundles (DESIGN §5): what was released, from what, by whom, in what state of
//! trust — checkable offline by `ledger bundle verify`, by `verify.sh` (POSIX sh, awk,
//! coreutils, openssl) and by `verify.py` (Python 3 standard library only). Auditors take those
//! two from the tool ([`verifiers`], `ledger verifiers export`), not from the bundle.
//!
//! # Layout of `audit/bundle-<version>/`
//!
//! | file | content |
//! |---|---|
//! | `MANIFEST.sha256` | every other file but the signature, `sha256sum` format ([`manifest`]) |
//! | `MANIFEST.sha256.sig` | base64 (standard, padded) of the Ed25519 signature over the manifest's bytes, and `\n` |
//! | `signer.pub` | the signing key: 64 lowercase hex and `\n` (the `.pub` key-file format) |
//! | `signer.pem` | the same key as a PEM SubjectPublicKeyInfo (for openssl) |
//! | `attestation.dsse.json` | in-toto Statement v1 in a DSSE envelope ([`dsse`]); subjects: every file except itself and the two manifest files |
//! | `sbom.cdx.json` | CycloneDX 1.5 JSON ([`sbom`]), or an imported SBOM kept as is |
//! | `metadata.json` | version, source commit/tree/tags/dirty, build time, artifacts, ledger head and checkpoint |
//! | `trust-summary.json` | [`summary`] |
//! | `checkpoint`, `entries.jsonl`, `proofs/inclusion-<seq>.json` | [`tlog`] |
//! | `attachments/<name>` | evidence given with `--attach` |
//! | `verify.sh`, `verify.py` | the standalone verifiers |
//!
//! JSON files written by the tool (all but the SBOM) are canonical JSON (sorted keys, no
//! whitespace) followed by `\n`. Every byte depends only on the inputs (ledger, repository,
//! artifacts, SBOM, attachments, key, `SOURCE_DATE_EPOCH`): bundles are reproducible.
//!
//! # The release's entries
//!
//! Inclusion proofs are given for the entries that name the version — `body.version`,
//! `body.from_version`, `body.to_version` or `body.data.version` equal to it — plus entries
//! asked for by seq, plus the ledger's last entry, so the checkpoint is always tied to at least
//! one entry an auditor can read.

pub mod artifacts;
pub mod create;
pub mod dsse;
pub mod manifest;
pub mod sbom;
pub mod source;
pub mod summary;
pub mod tlog;
pub mod verifiers;
pub mod verify;

pub use create::{create, CreateOptions, Created};
pub use verify::{verify, Pin, VerifyOptions, VerifyReport};

/// The standalone shell verifier, copied into every bundle.
pub const VERIFY_SH: &str = include_str!("../../audit/verify.sh");
/// The standalone Python verifier, copied into every bundle.
pub const VERIFY_PY: &str = include_str!("../../audit/verify.py");

/// File names inside a bundle.
pub mod files {
    /// Signer public key, hex.
    pub const SIGNER_PUB: &str = "signer.pub";
    /// Signer public key, PEM.
    pub const SIGNER_PEM: &str = "signer.pem";
    /// DSSE envelope.
    pub const DSSE: &str = "attestation.dsse.json";
    /// SBOM.
    pub const SBOM: &str = "sbom.cdx.json";
    /// Metadata.
    pub const METADATA: &str = "metadata.json";
    /// Trust summary.
    pub const TRUST: &str = "trust-summary.json";
    /// Checkpoint note.
    pub const CHECKPOINT: &str = "checkpoint";
    /// The release's ledger lines.
    pub const ENTRIES: &str = "entries.jsonl";
    /// Prefix of inclusion proofs.
    pub const PROOF_PREFIX: &str = "proofs/inclusion-";
    /// Prefix of attachments.
    pub const ATTACH_PREFIX: &str = "attachments/";
    /// Shell verifier.
    pub const VERIFY_SH: &str = "verify.sh";
    /// Python verifier.
    pub const VERIFY_PY: &str = "verify.py";
}

/// True when `v` is acceptable as a release version: 1 to 128 of `A-Z a-z 0-9 . _ + -`, not
/// starting with `.` or `-` (it becomes a directory name and appears in shell output).
pub fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && !v.starts_with(['.', '-'])
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

/// Canonical JSON bytes of `v` followed by `\n`.
pub(crate) fn json_file(v: &serde_json::Value) -> crate::Result<Vec<u8>> {
    let mut out =
        crate::canonical::encode(v).map_err(|e| crate::Error::internal(format!("JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}
