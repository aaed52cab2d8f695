//! Ed25519 keys: generation, key ids, key files; [`history`] holds the rules of which key is
//! trusted at which point of a log, and [`openssh`] reads OpenSSH public keys (`ssh-ed25519`,
//! the git-signer keys' format).
//!
//! # Formats (DESIGN §2)
//!
//! * Key id: the first 16 lowercase hex characters of SHA-256(32-byte public key).
//! * Private key file: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), exactly what
//!   `openssl genpkey -algorithm ed25519` writes. Mode 0600; a file readable by group or others
//!   is refused. Its contents never appear in a message.
//! * Public key file (`PATH.pub`): one line, the 32-byte public key in lowercase hex, then `\n`.

pub mod history;
pub mod openssh;

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::fsutil;

/// Key id of a public key: hex(SHA-256(pk))[..16].
pub fn key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    hex::encode(&digest[..8])
}

/// A private key loaded for signing, with its id. Debug output never shows the secret.
pub struct Signer {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.id)
    }
}

impl Signer {
    /// Wrap a signing key.
    pub fn new(key: SigningKey) -> Signer {
        let id = key_id(&key.verifying_key());
        Signer { key, id }
    }

    /// Generate a fresh key from the operating system's random source.
    pub fn generate() -> Result<Signer> {
        let mut seed = [0u8; 32];
        // A failing random source is no fault of the caller's input; it is reported like
        // other faults of this machine that an embedder shows as a server error.
        getrandom::fill(&mut seed)
            .map_err(|e| Error::internal(format!("random source failed: {e}")))?;
        let s = Signer::new(SigningKey::from_bytes(&seed));
        seed.fill(0);
        Ok(s)
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Sign `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// Borrow the underlying signing key (for formats that sign on their own, e.g. notes).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Load a private key file, refusing files readable by group or others.
    pub fn load(path: &Path) -> Result<Signer> {
        let key_err = |reason: String| Error::Key {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| key_err(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            // Said before the mode: a FIFO's mode is not what is wrong with it.
            let e = crate::fsutil::check_regular_if_exists(path).err();
            return Err(key_err(match e {
                Some(e) => reason_of(e),
                None => "not a regular file".into(),
            }));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(key_err(format!(
                    "private key file has mode {mode:04o}, readable by group or others; run `chmod 600 {}`",
                    path.display()
                )));
            }
        }
        if !meta.is_file() || meta.len() > 64 * 1024 {
            return Err(key_err("not a PKCS#8 PEM private key file".into()));
        }
        let text = crate::fsutil::read_text_bounded(path, 64 * 1024, "private key")
            .map_err(|e| key_err(format!("cannot read: {}", reason_of(e))))?;
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|_| {
            key_err("not an Ed25519 PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)".into())
        })?;
        Ok(Signer::new(key))
    }

    /// Write the private key to `path` (mode 0600, refusing to overwrite) and the public key to
    /// `path.pub`, creating missing parent directories with mode 0700. Returns the path of the
    /// public key file.
    pub fn write(&self, path: &Path) -> Result<PathBuf> {
        let pub_path = pub_path_for(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fsutil::create_private_dirs(dir)?;
        }
        for p in [path, pub_path.as_path()] {
            if p.exists() {
                return Err(Error::Conflict(format!(
                    "{}: already exists; refusing to overwrite a key",
                    p.display()
                )));
            }
        }
        let pem = private_pem(&self.key);
        fsutil::write_atomic_mode(path, pem.as_bytes(), 0o600)?;
        fsutil::write_atomic_mode(
            &pub_path,
            format!("{}\n", hex::encode(self.public().as_bytes())).as_bytes(),
            0o644,
        )?;
        Ok(pub_path)
    }
}

/// PKCS#8 v1 PEM of an Ed25519 private key (RFC 8410 §7): the 48-byte DER
/// `302e020100300506032b657004220420 ‖ seed`, exactly what `openssl genpkey -algorithm ed25519`
/// writes. (PKCS#8 v2 with the public key embedded is not readable by OpenSSL 3.0.)
fn private_pem(key: &SigningKey) -> zeroize::Zeroizing<String> {
    use base64::Engine as _;
    let mut der = zeroize::Zeroizing::new(Vec::with_capacity(48));
    der.extend_from_slice(&[
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ]);
    der.extend_from_slice(key.as_bytes());
    let b64 =
        zeroize::Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der.as_slice()));
    zeroize::Zeroizing::new(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        b64.as_str()
    ))
}

/// `PATH.pub` for a private key at `PATH`.
pub fn pub_path_for(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Parse a public key from lowercase (or uppercase) hex; refuses weak (small-order) keys.
pub fn parse_public_hex(s: &str) -> std::result::Result<VerifyingKey, String> {
    let s = s.trim();
    if s.len() != 64 {
        return Err(format!("expected 64 hex characters, found {}", s.len()));
    }
    let mut raw = [0u8; 32];
    hex::decode_to_slice(s, &mut raw).map_err(|e| format!("not hex: {e}"))?;
    let vk =
        VerifyingKey::from_bytes(&raw).map_err(|_| "not a valid Ed25519 public key".to_string())?;
    if vk.is_weak() {
        return Err("weak (small-order) Ed25519 public key".into());
    }
    Ok(vk)
}

/// Load a public key file (one line of hex).
pub fn load_public(path: &Path) -> Result<VerifyingKey> {
    let key_err = |reason: String| Error::Key {
        path: path.to_path_buf(),
        reason,
    };
    let text = crate::fsutil::read_text_bounded(path, 4096, "public key file")
        .map_err(|e| key_err(format!("cannot read: {}", reason_of(e))))?;
    parse_public_hex(&text).map_err(key_err)
}

/// The reason of a file error without the path (the key error names the path itself).
pub(crate) fn reason_of(e: Error) -> String {
    match e {
        Error::Io { source, .. } => source.to_string(),
        Error::NotAFile { found, .. } => format!("is {found}, not a regular file"),
        Error::Malformed { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Strict single verification (rejects non-canonical signatures and weak keys).
pub fn verify_strict(public: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    public
        .verify_strict(msg, &Signature::from_bytes(sig))
        .is_ok()
}

/// Write the raw public key as PEM (SubjectPublicKeyInfo), for openssl and friends.
pub fn public_pem(public: &VerifyingKey) -> String {
    use base64::Engine as _;
    let mut der = hex::decode("302a300506032b6570032100").unwrap_or_default();
    der.extend_from_slice(public.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_sha256_prefix() {
        let s = Signer::new(SigningKey::from_bytes(&[1u8; 32]));
        let full = hex::encode(Sha256::digest(s.public().as_bytes()));
        assert_eq!(s.id(), &full[..16]);
    }

    #[test]
    fn weak_keys_refused() {
        // The identity point encodes as 01 followed by zeros: small order.
        let mut raw = [0u8; 32];
        raw[0] = 1;
        assert!(parse_public_hex(&hex::encode(raw)).is_err());
        assert!(parse_public_hex("zz").is_err());
    }
}
