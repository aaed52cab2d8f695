//! OpenSSH public keys, read as the Ed25519 keys they are.
//!
//! A git-signer key (see [`crate::keys::history`]) is a person's SSH signing key. An
//! `ssh-ed25519` key *is* an Ed25519 key: the ledger stores its raw 32-byte public key in
//! `body.public_key`, and its key id is computed like any other key's
//! ([`crate::keys::key_id`]), so nothing about SSH is needed to verify the ledger.
//!
//! # Format
//!
//! One line, as `ssh-keygen` writes `id_ed25519.pub` (OpenSSH's `sshkey.c`, RFC 4253 §6.6):
//!
//! ```text
//! ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI…(base64)… alice@laptop
//! ```
//!
//! `<type> SP base64(string "ssh-ed25519" ‖ string(32-byte key)) [SP comment]`, where `string`
//! is a big-endian u32 length and the bytes. The type must be `ssh-ed25519` and agree with the
//! type inside the base64; the comment is ignored. Other types (`ssh-rsa`, `ecdsa-sha2-*`,
//! `sk-*@openssh.com` security keys, certificates) are refused by name: only plain Ed25519 keys
//! can be checked with the ledger's own Ed25519 code. Parsing is done by the `ssh-key` crate.
//!
//! [`parse_public_text`] also accepts the project's own `.pub` format (one line of 64 hex).

use std::path::Path;

use ed25519_dalek::VerifyingKey;

use crate::error::{Error, Result};

/// The largest public key file read (an ssh-ed25519 line is about 100 bytes plus a comment).
pub const MAX_PUBLIC_FILE: u64 = 16 * 1024;

/// The only OpenSSH key type accepted.
pub const ED25519: &str = "ssh-ed25519";

/// Parse one OpenSSH public key line (`ssh-ed25519 AAAA… comment`). A key of another type is
/// refused with a message naming the type; a weak (small-order) key is refused.
pub fn parse_openssh_public(line: &str) -> std::result::Result<VerifyingKey, String> {
    let line = line.trim();
    let kind = line.split_ascii_whitespace().next().unwrap_or_default();
    if kind != ED25519 {
        return Err(format!(
            "an SSH key of type {}: only {ED25519} keys are accepted",
            shown(kind)
        ));
    }
    let key = ssh_key::PublicKey::from_openssh(line)
        .map_err(|e| format!("not a valid OpenSSH public key line: {e}"))?;
    let Some(ed) = key.key_data().ed25519() else {
        return Err(format!(
            "an SSH key of type {}: only {ED25519} keys are accepted",
            key.algorithm().as_str()
        ));
    };
    public_from_raw(&ed.0)
}

/// A public key given as text: an OpenSSH public key line, or one line of 64 hex (the
/// project's `.pub` format). Exactly one key: blank lines around it are ignored.
pub fn parse_public_text(text: &str) -> std::result::Result<VerifyingKey, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return Err(
            "expected one public key: a line of 64 hex or an OpenSSH public key line".into(),
        );
    };
    if line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
        return crate::keys::parse_public_hex(line);
    }
    parse_openssh_public(line)
}

/// Load a public key file in either format of [`parse_public_text`].
pub fn load_public_any(path: &Path) -> Result<VerifyingKey> {
    let key_err = |reason: String| Error::Key {
        path: path.to_path_buf(),
        reason,
    };
    let text = crate::fsutil::read_text_bounded(path, MAX_PUBLIC_FILE, "public key file")
        .map_err(|e| key_err(format!("cannot read: {}", crate::keys::reason_of(e))))?;
    parse_public_text(&text).map_err(key_err)
}

/// The OpenSSH public key line of an Ed25519 key (`ssh-ed25519 AAAA…`, no comment): what an
/// `allowed_signers` file or `authorized_keys` holds.
pub fn openssh_line(public: &VerifyingKey) -> String {
    let data =
        ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(public.to_bytes()));
    // Encoding an Ed25519 key cannot fail; an empty string would be refused by any reader.
    ssh_key::PublicKey::from(data)
        .to_openssh()
        .unwrap_or_default()
}

/// The SHA-256 fingerprint of an Ed25519 key as `ssh-keygen -l` prints it (`SHA256:…`).
pub fn fingerprint(public: &VerifyingKey) -> String {
    ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(public.to_bytes()))
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string()
}

/// A valid, non-weak Ed25519 public key from its 32 bytes.
fn public_from_raw(raw: &[u8; 32]) -> std::result::Result<VerifyingKey, String> {
    let vk =
        VerifyingKey::from_bytes(raw).map_err(|_| "not a valid Ed25519 public key".to_string())?;
    if vk.is_weak() {
        return Err("weak (small-order) Ed25519 public key".into());
    }
    Ok(vk)
}

/// A key type token as shown in a message: quoted, at most 64 characters.
fn shown(kind: &str) -> String {
    let cut: String = kind.chars().take(64).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Signer;
    use ed25519_dalek::SigningKey;

    #[test]
    fn round_trip_and_both_formats() {
        let s = Signer::new(SigningKey::from_bytes(&[7u8; 32]));
        let line = openssh_line(&s.public());
        assert!(
            line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
            "{line}"
        );
        assert_eq!(parse_openssh_public(&line).unwrap(), s.public());
        let with_comment = format!("{line} alice@laptop\n");
        assert_eq!(parse_public_text(&with_comment).unwrap(), s.public());
        let hex_line = format!("{}\n", hex::encode(s.public().as_bytes()));
        assert_eq!(parse_public_text(&hex_line).unwrap(), s.public());
        assert!(fingerprint(&s.public()).starts_with("SHA256:"));
    }

    #[test]
    fn other_types_are_refused_by_name() {
        for (line, name) in [
            ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ x", "ssh-rsa"),
            ("ecdsa-sha2-nistp256 AAAAE2VjZHNh x", "ecdsa-sha2-nistp256"),
            (
                "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t x",
                "sk-ssh-ed25519@openssh.com",
            ),
        ] {
            let e = parse_public_text(line).unwrap_err();
            assert!(e.contains(name) && e.contains("only ssh-ed25519"), "{e}");
        }
        // The type inside the base64 must be the one named in front.
        let s = Signer::new(SigningKey::from_bytes(&[7u8; 32]));
        let line = openssh_line(&s.public());
        let b64 = line.split(' ').nth(1).unwrap();
        assert!(parse_openssh_public(&format!("ssh-ed25519 {}", &b64[..b64.len() - 4])).is_err());
        assert!(parse_public_text(&format!("{line}\n{line}\n")).is_err());
        assert!(parse_public_text("").is_err());
        assert!(parse_public_text("ssh-ed25519").is_err());
        assert!(parse_public_text("ssh-ed25519 !!!!").is_err());
    }
}
