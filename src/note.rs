//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, as written and read by
//! golang.org/x/mod/sumdb/note.
//!
//! # Format
//!
//! ```text
//! <text: UTF-8, no ASCII control characters but \n, ends with \n>
//! \n
//! — <name> <base64(key hash (4 bytes) ‖ signature (64 bytes))>\n      (1 to 100 lines)
//! ```
//!
//! * The dash is U+2014 (`e2 80 94`) followed by one space. The text is what is signed.
//! * Key name: non-empty UTF-8 without Unicode white space and without `+`.
//! * Key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key) (0x01 is
//!   the Ed25519 signature type).
//! * Verifier key: `name+hash+base64(0x01 ‖ public key)`, hash as 8 lowercase hex digits, e.g.
//!   `PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW`.
//! * Signer key: `PRIVATE+KEY+name+hash+base64(0x01 ‖ 32-byte seed)`.
//!
//! # Reading
//!
//! The signature block starts after the last blank line (`\n\n`). Parsing is bounded and strict:
//! a note with no signature, more than 100 signatures, a line that is not a signature line, a bad
//! name or base64, or a final line without `\n` is malformed. Opening follows Go's `note.Open`:
//! signatures by keys we do not know are kept as unverified and ignored; a signature by a known
//! key (same name and key hash) that does not verify fails the whole note; a note with no
//! signature by a known key fails. Repeated signature lines of one key count once.

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Most signature lines a note may carry (as Go's `note.Open`).
pub const MAX_SIGNATURES: usize = 100;

/// Signature type byte of Ed25519 keys.
pub const ALG_ED25519: u8 = 0x01;

/// Longest note accepted: far above any checkpoint, small enough to read into memory.
pub const MAX_NOTE: usize = 1 << 20;

const DASH: &str = "\u{2014} ";

fn b64() -> base64::engine::general_purpose::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Key hash of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[..4].
pub fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// True when `name` can be a key name: non-empty, no Unicode white space, no `+`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// True when `text` can be a note's text: ends with `\n`, no ASCII control byte but `\n`.
pub fn valid_text(text: &str) -> bool {
    text.ends_with('\n') && !text.chars().any(|c| c < ' ' && c != '\n')
}

/// How errors name a note whose file is not known (see [`parse_named`]).
const NOTE: &str = "signed note";

fn bad_name(name: &str) -> Error {
    Error::invalid(
        "name",
        format!("{name:?}: not a valid note key name (no spaces, no '+')"),
    )
}

/// A note verifier key: name, key hash and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    hash: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key of `public` under `name`.
    pub fn new(name: &str, public: VerifyingKey) -> Result<VerifierKey> {
        if !valid_name(name) {
            return Err(bad_name(name));
        }
        Ok(VerifierKey {
            name: name.to_string(),
            hash: key_hash(name, public.as_bytes()),
            key: public,
        })
    }

    /// Parse `name+hash+base64(0x01 ‖ key)`, checking the hash.
    pub fn parse(s: &str) -> Result<VerifierKey> {
        let bad = |why: &str| {
            Error::malformed("verifier key", format!("{why} (expected name+hash+base64)"))
        };
        let mut parts = s.trim_end_matches('\n').splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(bad("not three '+'-separated fields")),
        };
        if !valid_name(name) {
            return Err(bad("invalid key name"));
        }
        let raw = b64().decode(key).map_err(|_| bad("key is not base64"))?;
        let public = match raw.split_first() {
            Some((&ALG_ED25519, pk)) => {
                let pk: [u8; 32] = pk
                    .try_into()
                    .map_err(|_| bad("Ed25519 key is not 32 bytes"))?;
                VerifyingKey::from_bytes(&pk).map_err(|_| bad("not an Ed25519 public key"))?
            }
            _ => return Err(bad("unknown signature type (only Ed25519, 0x01)")),
        };
        let v = VerifierKey::new(name, public)?;
        if hash != hex::encode(v.hash) {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(v)
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key hash.
    pub fn key_hash(&self) -> [u8; 4] {
        self.hash
    }

    /// Public key.
    pub fn public(&self) -> &VerifyingKey {
        &self.key
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.hash),
            b64().encode(raw)
        )
    }
}

/// A note signer key. Debug output never shows the secret.
pub struct SignerKey {
    name: String,
    hash: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({}+{})", self.name, hex::encode(self.hash))
    }
}

impl SignerKey {
    /// A signer for `key` under `name`.
    pub fn new(name: &str, key: SigningKey) -> Result<SignerKey> {
        if !valid_name(name) {
            return Err(bad_name(name));
        }
        let hash = key_hash(name, key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_string(),
            hash,
            key,
        })
    }

    /// Parse `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`, checking the hash. Errors never
    /// repeat the input.
    pub fn parse(s: &str) -> Result<SignerKey> {
        let bad = |why: &str| {
            Error::malformed(
                "signer key",
                format!("{why} (expected PRIVATE+KEY+name+hash+base64)"),
            )
        };
        let rest = s
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(bad("not three '+'-separated fields")),
        };
        let raw = b64().decode(key).map_err(|_| bad("key is not base64"))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, seed)) => seed
                .try_into()
                .map_err(|_| bad("Ed25519 seed is not 32 bytes"))?,
            _ => return Err(bad("unknown signature type (only Ed25519, 0x01)")),
        };
        let k = SignerKey::new(name, SigningKey::from_bytes(&seed))
            .map_err(|_| bad("invalid key name"))?;
        if hash != hex::encode(k.hash) {
            return Err(bad("key hash does not match name and key"));
        }
        Ok(k)
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// Key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature line for `text` (without checking the text).
    fn signature_line(&self, text: &str) -> String {
        use ed25519_dalek::Signer as _;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.hash.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{DASH}{} {}\n", self.name, b64().encode(raw))
    }
}

/// One signature line of a note, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Key name.
    pub name: String,
    /// Key hash.
    pub key_hash: [u8; 4],
    /// Signature bytes after the key hash.
    pub sig: Vec<u8>,
    /// The whole line, `\n` excluded.
    pub line: String,
}

/// A note split into text and signature lines, none verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text (ends with `\n`).
    pub text: String,
    /// Signature lines in order.
    pub sigs: Vec<Signature>,
}

/// Split and check the structure of a signed note. Errors are [`Error::Malformed`] in a file
/// named `signed note`; use [`parse_named`] when the note's path is known.
pub fn parse(msg: &[u8]) -> Result<Note> {
    parse_named(msg, NOTE)
}

/// [`parse`], with errors naming `file` (e.g. the path the note was read from).
pub fn parse_named(msg: &[u8], file: &str) -> Result<Note> {
    let malformed = |why: &str| Error::malformed(file, why);
    if msg.len() > MAX_NOTE {
        return Err(malformed("larger than 1 MiB"));
    }
    let s = std::str::from_utf8(msg).map_err(|_| malformed("not UTF-8"))?;
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(malformed("control character"));
    }
    let split = s
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line before the signatures"))?;
    let (text, block) = (&s[..split + 1], &s[split + 2..]);
    if block.is_empty() {
        return Err(malformed("no signature"));
    }
    if !block.ends_with('\n') {
        return Err(malformed("last signature line does not end with a newline"));
    }
    // The text has one line per `\n`, then comes the blank line: the first signature line is
    // the text's line count plus 2 (1-based), which is what errors in the block name.
    let first_sig_line = text.matches('\n').count() as u64 + 2;
    let mut sigs = Vec::new();
    for (n, line) in (first_sig_line..).zip(block[..block.len() - 1].split('\n')) {
        let malformed = |why: &str| Error::malformed_at(file, Some(n), None, why);
        if sigs.len() == MAX_SIGNATURES {
            return Err(malformed("more than 100 signatures"));
        }
        let rest = line
            .strip_prefix(DASH)
            .ok_or_else(|| malformed("a line after the blank line is not a signature line"))?;
        let (name, sig64) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("signature line without a space"))?;
        if !valid_name(name) {
            return Err(malformed("invalid key name in a signature line"));
        }
        let raw = b64()
            .decode(sig64)
            .map_err(|_| malformed("signature is not base64"))?;
        if raw.len() < 5 {
            return Err(malformed("signature too short"));
        }
        let (h, sig) = raw.split_at(4);
        let key_hash = [h[0], h[1], h[2], h[3]];
        sigs.push(Signature {
            name: name.to_string(),
            key_hash,
            sig: sig.to_vec(),
            line: line.to_string(),
        });
    }
    Ok(Note {
        text: text.to_string(),
        sigs,
    })
}

/// Sign `text` with every key in order.
pub fn sign(text: &str, signers: &[&SignerKey]) -> Result<String> {
    if !valid_text(text) {
        return Err(Error::invalid(
            "text",
            "must end with a newline and contain no control characters",
        ));
    }
    if signers.is_empty() || signers.len() > MAX_SIGNATURES {
        return Err(Error::invalid(
            "signers",
            "a note needs 1 to 100 signatures",
        ));
    }
    let mut out = format!("{text}\n");
    for s in signers {
        out.push_str(&s.signature_line(text));
    }
    Ok(out)
}

/// Add a signature by `signer` to an already signed note (as a witness does). The note must
/// parse, and must not already carry a signature of this key.
pub fn add_signature(msg: &[u8], signer: &SignerKey) -> Result<String> {
    let note = parse(msg)?;
    if note.sigs.len() >= MAX_SIGNATURES {
        // The note is well formed; it is full, so this request cannot be met.
        return Err(Error::Conflict(format!(
            "{NOTE}: already {MAX_SIGNATURES} signatures; no room for another"
        )));
    }
    let mut out = String::from_utf8_lossy(msg).into_owned();
    if !note
        .sigs
        .iter()
        .any(|s| s.name == signer.name && s.key_hash == signer.hash)
    {
        out.push_str(&signer.signature_line(&note.text));
    }
    Ok(out)
}

/// A note whose signatures by known keys all verified, with at least one such signature.
/// Only [`open`] builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    text: String,
    verified: Vec<VerifierKey>,
    unverified: Vec<Signature>,
}

impl Opened {
    /// The signed text.
    pub fn text(&self) -> &str {
        &self.text
    }
    /// Keys whose signatures verified (each once).
    pub fn verified(&self) -> &[VerifierKey] {
        &self.verified
    }
    /// Signatures by keys not in the known set.
    pub fn unverified(&self) -> &[Signature] {
        &self.unverified
    }
}

/// Why a note did not open. Malformed notes are [`Error::Malformed`] from [`parse`]; these
/// are verification outcomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The note is malformed.
    #[error("{0}")]
    Malformed(String),
    /// A signature by a known key does not verify.
    #[error("invalid signature by key {0}")]
    InvalidSignature(String),
    /// No signature by any known key.
    #[error("no signature by a known key (signed by: {0})")]
    NoKnownSignature(String),
}

/// Open a note with the `known` verifier keys (Go `note.Open` semantics, see the module doc).
pub fn open(msg: &[u8], known: &[VerifierKey]) -> std::result::Result<Opened, OpenError> {
    let note = parse(msg).map_err(|e| OpenError::Malformed(e.to_string()))?;
    let mut verified: Vec<VerifierKey> = Vec::new();
    let mut unverified: Vec<Signature> = Vec::new();
    for s in note.sigs {
        match known
            .iter()
            .find(|k| k.name == s.name && k.hash == s.key_hash)
        {
            None => {
                if !unverified.iter().any(|u| u.line == s.line) {
                    unverified.push(s);
                }
            }
            Some(k) => {
                if verified.iter().any(|v| v == k) {
                    continue;
                }
                let sig: [u8; 64] = s
                    .sig
                    .as_slice()
                    .try_into()
                    .map_err(|_| OpenError::InvalidSignature(k.to_string()))?;
                if !crate::keys::verify_strict(&k.key, note.text.as_bytes(), &sig) {
                    return Err(OpenError::InvalidSignature(k.to_string()));
                }
                verified.push(k.clone());
            }
        }
    }
    if verified.is_empty() {
        let names: Vec<String> = unverified
            .iter()
            .map(|s| format!("{}+{}", s.name, hex::encode(s.key_hash)))
            .collect();
        return Err(OpenError::NoKnownSignature(names.join(", ")));
    }
    Ok(Opened {
        text: note.text,
        verified,
        unverified,
    })
}

/// The verifier keys a raw public key stands for in `note`: one per distinct signature name
/// whose key hash matches the key under that name. Lets a bare `PATH.pub` check a note.
pub fn verifiers_for_public(note: &Note, public: &VerifyingKey) -> Vec<VerifierKey> {
    let mut out: Vec<VerifierKey> = Vec::new();
    for s in &note.sigs {
        if key_hash(&s.name, public.as_bytes()) == s.key_hash
            && !out.iter().any(|v| v.name == s.name)
        {
            if let Ok(v) = VerifierKey::new(&s.name, *public) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_text() {
        assert!(valid_name("example.org/log"));
        assert!(
            !valid_name("a b") && !valid_name("a+b") && !valid_name("") && !valid_name("a\u{a0}b")
        );
        assert!(valid_text("x\n") && !valid_text("x") && !valid_text("\tx\n"));
    }

    #[test]
    fn round_trip_and_mangling() {
        let k = SignerKey::new("log.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let v = k.verifier();
        assert_eq!(VerifierKey::parse(&v.to_string()).unwrap(), v);
        let n = sign("hello\n", &[&k]).unwrap();
        assert_eq!(
            open(n.as_bytes(), std::slice::from_ref(&v)).unwrap().text(),
            "hello\n"
        );
        // Every single-byte change of the note either fails to open or changes nothing signed.
        let bytes = n.as_bytes();
        for i in 0..bytes.len() {
            let mut m = bytes.to_vec();
            m[i] ^= 0x01;
            assert!(open(&m, std::slice::from_ref(&v)).is_err(), "byte {i}");
        }
        // Every byte of the verifier key matters too.
        let s = v.to_string();
        for i in 0..s.len() {
            let mut m = s.clone().into_bytes();
            m[i] ^= 0x01;
            if let Ok(m) = String::from_utf8(m) {
                assert!(VerifierKey::parse(&m).is_err(), "mangled byte {i} accepted");
            }
        }
        let too_many: Vec<&SignerKey> = vec![&k; 101];
        assert!(sign("x\n", &too_many).is_err());
        let hundred = sign("x\n", &vec![&k; 100]).unwrap();
        assert!(parse(hundred.as_bytes()).is_ok());
        let mut over = hundred.clone();
        over.push_str(&k.signature_line("x\n"));
        assert!(parse(over.as_bytes()).is_err());
    }
}
