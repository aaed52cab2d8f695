//! Who wrote a commit, established by its SSH signature: git commits signed with
//! `gpg.format=ssh` (`git commit -S`), verified in-process against the git-signer keys that the
//! ledger's own signed key history binds to identities.
//!
//! A name in a commit (`author`, `committer`) or in a merge request proves nothing. A
//! signature by a key the ledger trusts as `alice@example.org`'s git-signer key does: that is
//! the only way [`verify_commit`] answers [`CommitAuthor::Verified`].
//!
//! # What is checked (git's `gpg-interface.c`, OpenSSH's `PROTOCOL.sshsig`)
//!
//! A signed commit object carries a `gpgsig` header; git signs the commit object *without*
//! that header (libgit2's `git_commit_extract_signature` returns both parts). With
//! `gpg.format=ssh` the signature is an armored SSHSIG blob:
//!
//! ```text
//! -----BEGIN SSH SIGNATURE-----
//! base64( "SSHSIG" ‖ u32 version (1) ‖ string publickey ‖ string namespace ("git")
//!         ‖ string reserved ‖ string hash_algorithm ("sha512" or "sha256")
//!         ‖ string signature )
//! -----END SSH SIGNATURE-----
//! ```
//!
//! and the signed bytes are `"SSHSIG" ‖ string namespace ‖ string reserved (empty) ‖
//! string hash_algorithm ‖ string H(commit without gpgsig)`. [`verify_payload`] requires
//! version 1, the namespace `git` (a signature made for another purpose, e.g. `ssh-keygen -Y
//! sign -n file`, is not a commit signature), an `ssh-ed25519` signing key equal to one of the
//! signers' raw Ed25519 public keys, and a valid signature (`verify_strict`). As OpenSSH does,
//! the `reserved` field of the blob is not part of what is verified (the signed bytes always
//! hold an empty one).
//!
//! # Outcomes
//!
//! Anything wrong with the commit's signature is an outcome, never an error or a panic:
//! [`CommitAuthor`] says which. An [`Error`](crate::Error) means the repository could not be
//! read (no such commit, a damaged object database).
//!
//! The signatures are bounded ([`MAX_SIGNATURE`]) before they are decoded; the commit object
//! itself was already read whole by libgit2.

use ed25519_dalek::VerifyingKey;
use git2::{Oid, Repository};

use crate::error::{Error, Result};
use crate::keys::history::KeyState;

/// The namespace git uses for commit and tag signatures (`ssh-keygen -Y sign -n git`).
pub const GIT_NAMESPACE: &str = "git";

/// The largest signature header decoded. An armored Ed25519 SSHSIG is about 300 bytes; the
/// largest ordinary ones (RSA-16384) stay under 5 KiB.
pub const MAX_SIGNATURE: usize = 16 * 1024;

/// A git-signer key that the ledger binds to an identity, as [`verify_commit`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSigner {
    /// The key id (16 hex, as every key of the ledger).
    pub key_id: String,
    /// The identity its `add-git-signer` entry binds it to, e.g. `alice@example.org`.
    pub identity: String,
    /// The raw Ed25519 public key (the `ssh-ed25519` key's 32 bytes).
    pub public: VerifyingKey,
}

impl GitSigner {
    /// The git-signer keys of a verified key history (a [`crate::ledger::View`]'s `keys`, or a
    /// verification summary's) trusted for entry `seq`: added by an earlier entry and not
    /// revoked by an earlier one. With `seq` = the ledger's size: the keys trusted now.
    pub fn trusted_at(keys: &[KeyState], seq: u64) -> Vec<GitSigner> {
        keys.iter()
            .filter_map(|k| {
                k.git_signer_at(seq).map(|who| GitSigner {
                    key_id: k.id.clone(),
                    identity: who.to_string(),
                    public: k.public,
                })
            })
            .collect()
    }

    /// The git-signer keys the trust fold learned ([`crate::trust::Facts::git_signers_at`]),
    /// for [`verify_commit`].
    pub fn from_facts<'a>(
        keys: impl Iterator<Item = &'a crate::trust::model::GitSignerFact>,
    ) -> Vec<GitSigner> {
        keys.filter_map(|g| {
            VerifyingKey::from_bytes(&g.public_key)
                .ok()
                .map(|public| GitSigner {
                    key_id: g.key_id.clone(),
                    identity: g.identity.clone(),
                    public,
                })
        })
        .collect()
    }
}

/// Who signed a commit, as far as its SSH signature and the given signers tell.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitAuthor {
    /// A valid SSH signature (namespace `git`) over the commit by the git-signer key `key_id`,
    /// which the ledger binds to `identity`.
    Verified {
        /// The identity of the signing key.
        identity: String,
        /// The id of the signing key.
        key_id: String,
    },
    /// The commit has no signature.
    Unsigned,
    /// An SSH signature that is malformed, made for another namespace, or does not verify over
    /// the commit (a commit rewritten after signing, a damaged signature). The reason says which.
    BadSignature(String),
    /// A well-formed SSH signature by a key that is none of the signers (not bound, revoked, or
    /// not an Ed25519 key); `fingerprint` as `ssh-keygen -l` prints it (`SHA256:…`). Whether
    /// the signature itself would verify is not checked: the key speaks for nobody.
    UnknownKey {
        /// The signing key's SHA-256 fingerprint.
        fingerprint: String,
    },
    /// Signed, but not with SSH (an OpenPGP or X.509 signature): not checked here.
    NotSsh,
}

/// Check the SSH signature of `commit` in `repo` against `signers`. See the module
/// documentation for what is checked; an error only when the repository cannot be read.
pub fn verify_commit(
    repo: &Repository,
    commit: Oid,
    signers: &[GitSigner],
) -> Result<CommitAuthor> {
    repo.find_commit(commit)
        .map_err(|e| Error::Git(format!("commit {commit}: {}", e.message())))?;
    match repo.extract_signature(&commit, None) {
        Ok((sig, payload)) => Ok(verify_payload(&sig, &payload, signers)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(CommitAuthor::Unsigned),
        Err(e) => Err(Error::Git(format!(
            "commit {commit}: cannot read its signature: {}",
            e.message()
        ))),
    }
}

/// Check an armored signature over `payload` (what git signed: the commit object without its
/// `gpgsig` header) against `signers`. Pure: no I/O.
pub fn verify_payload(signature: &[u8], payload: &[u8], signers: &[GitSigner]) -> CommitAuthor {
    let bad = |why: String| CommitAuthor::BadSignature(why);
    if signature.len() > MAX_SIGNATURE {
        return bad(format!(
            "signature of {} bytes, more than the {MAX_SIGNATURE} read",
            signature.len()
        ));
    }
    let Ok(text) = std::str::from_utf8(signature) else {
        return bad("signature is not text".into());
    };
    let text = text.trim_start();
    if !text.starts_with("-----BEGIN SSH SIGNATURE-----") {
        // git's other formats (gpg-interface.c): signed, but not something this checks.
        let other = [
            "-----BEGIN PGP SIGNATURE-----",
            "-----BEGIN PGP MESSAGE-----",
            "-----BEGIN SIGNED MESSAGE-----",
        ];
        return if other.iter().any(|p| text.starts_with(p)) {
            CommitAuthor::NotSsh
        } else {
            bad("not an SSH, OpenPGP or X.509 armored signature".into())
        };
    }
    let sig = match ssh_key::SshSig::from_pem(text.trim_end()) {
        Ok(s) => s,
        Err(e) => return bad(format!("not a valid SSH signature: {e}")),
    };
    if sig.version() != ssh_key::SshSig::VERSION {
        return bad(format!("SSHSIG version {}, expected 1", sig.version()));
    }
    if sig.namespace() != GIT_NAMESPACE {
        return bad(format!(
            "signed for namespace {:?}, not {GIT_NAMESPACE:?}",
            sig.namespace().chars().take(64).collect::<String>()
        ));
    }
    let fingerprint = || {
        sig.public_key()
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string()
    };
    let Some(raw) = sig.public_key().ed25519().map(|k| k.0) else {
        return CommitAuthor::UnknownKey {
            fingerprint: fingerprint(),
        };
    };
    let Some(signer) = signers.iter().find(|s| s.public.as_bytes() == &raw) else {
        return CommitAuthor::UnknownKey {
            fingerprint: fingerprint(),
        };
    };
    if sig.algorithm() != ssh_key::Algorithm::Ed25519 {
        return bad(format!(
            "an {} signature by the ssh-ed25519 key {}",
            sig.algorithm().as_str(),
            signer.key_id
        ));
    }
    let Ok(bytes) = <[u8; 64]>::try_from(sig.signature_bytes()) else {
        return bad(format!(
            "an Ed25519 signature of {} bytes, not 64",
            sig.signature_bytes().len()
        ));
    };
    let signed = match ssh_key::SshSig::signed_data(GIT_NAMESPACE, sig.hash_alg(), payload) {
        Ok(d) => d,
        Err(e) => return bad(format!("cannot form the signed data: {e}")),
    };
    if !crate::keys::verify_strict(&signer.public, &signed, &bytes) {
        return bad(format!(
            "the signature by git-signer key {} ({}) does not verify over the commit",
            signer.key_id, signer.identity
        ));
    }
    CommitAuthor::Verified {
        identity: signer.identity.clone(),
        key_id: signer.key_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Signer;
    use ed25519_dalek::SigningKey;
    use ssh_key::{HashAlg, SshSig};

    /// An SSHSIG over `payload` made with ssh-key's own encoder and ed25519-dalek's signature:
    /// the signed-data layout comes from the crate, the signature from the key.
    fn sign(key: &Signer, namespace: &str, hash: HashAlg, payload: &[u8]) -> Vec<u8> {
        let data = SshSig::signed_data(namespace, hash, payload).unwrap();
        let sig =
            ssh_key::Signature::new(ssh_key::Algorithm::Ed25519, key.sign(&data).to_vec()).unwrap();
        let pk = ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(
            key.public().to_bytes(),
        ));
        SshSig::new(pk, namespace, hash, sig)
            .unwrap()
            .to_pem(ssh_key::LineEnding::LF)
            .unwrap()
            .into_bytes()
    }

    fn signer(n: u8, who: &str) -> (Signer, GitSigner) {
        let s = Signer::new(SigningKey::from_bytes(&[n; 32]));
        let g = GitSigner {
            key_id: s.id().to_string(),
            identity: who.to_string(),
            public: s.public(),
        };
        (s, g)
    }

    #[test]
    fn outcomes() {
        let (alice, ga) = signer(1, "alice@example.org");
        let (bob, _) = signer(2, "bob@example.org");
        let payload = b"tree 0000\nauthor a <a> 0 +0000\n\nmsg\n";
        let signers = [ga.clone()];
        for hash in [HashAlg::Sha512, HashAlg::Sha256] {
            assert_eq!(
                verify_payload(&sign(&alice, "git", hash, payload), payload, &signers),
                CommitAuthor::Verified {
                    identity: ga.identity.clone(),
                    key_id: ga.key_id.clone()
                }
            );
        }
        let good = sign(&alice, "git", HashAlg::Sha512, payload);
        assert!(matches!(
            verify_payload(&good, b"tree 0000\nother\n", &signers),
            CommitAuthor::BadSignature(r) if r.contains("does not verify")
        ));
        assert!(matches!(
            verify_payload(&sign(&alice, "file", HashAlg::Sha512, payload), payload, &signers),
            CommitAuthor::BadSignature(r) if r.contains("namespace")
        ));
        assert!(matches!(
            verify_payload(&sign(&bob, "git", HashAlg::Sha512, payload), payload, &signers),
            CommitAuthor::UnknownKey { fingerprint } if fingerprint.starts_with("SHA256:")
        ));
        assert_eq!(verify_payload(&good, payload, &[]), {
            let fp = crate::keys::openssh::fingerprint(&alice.public());
            CommitAuthor::UnknownKey { fingerprint: fp }
        });
        let pgp = b"-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n";
        assert_eq!(verify_payload(pgp, payload, &signers), CommitAuthor::NotSsh);
        assert!(matches!(
            verify_payload(&[0xff, 0xfe], payload, &signers),
            CommitAuthor::BadSignature(_)
        ));
        assert!(matches!(
            verify_payload(&vec![b'a'; MAX_SIGNATURE + 1], payload, &signers),
            CommitAuthor::BadSignature(r) if r.contains("bytes")
        ));
    }

    /// Every byte of a valid armored signature changed, and every cut into its text: never a
    /// panic, never `Verified`.
    #[test]
    fn mangled_signatures_never_verify() {
        let (alice, ga) = signer(1, "alice@example.org");
        let payload = b"tree 0000\n\nmsg\n";
        let good = sign(&alice, "git", HashAlg::Sha512, payload);
        let signers = [ga];
        for i in 0..good.len() {
            for flip in [0x01u8, 0x20, 0x80] {
                let mut m = good.clone();
                m[i] ^= flip;
                if let CommitAuthor::Verified { .. } = verify_payload(&m, payload, &signers) {
                    // Base64 letters that decode to the same bits (padding bits) are harmless
                    // only if the decoded blob is unchanged; anything else must fail.
                    let a = SshSig::from_pem(std::str::from_utf8(&m).unwrap().trim()).unwrap();
                    let b = SshSig::from_pem(std::str::from_utf8(&good).unwrap().trim()).unwrap();
                    assert_eq!(a, b, "byte {i} ^ {flip:#x} verified");
                }
            }
        }
        // Cuts into the text (a trailing newline is not part of the armor).
        let text_len = good.trim_ascii_end().len();
        for n in 0..text_len {
            assert!(!matches!(
                verify_payload(&good[..n], payload, &signers),
                CommitAuthor::Verified { .. }
            ));
        }
    }
}
