//! Adding and revoking the ledger's trusted keys (each a signed `key` entry plus the key's
//! record in `config.toml`, both under the append lock: see [`crate::ledger::Recorder::add_key`]).

use ed25519_dalek::VerifyingKey;

use crate::error::Result;
use crate::ledger::{Recorded, Recorder};

/// Trust `public` from now on (named `name` in checkpoint notes); `actor` is recorded.
pub fn add(
    rec: &Recorder<'_>,
    public: &VerifyingKey,
    name: Option<&str>,
    actor: &str,
) -> Result<Recorded> {
    rec.add_key(public, name, actor)
}

/// [`add`], binding the key to `identity`: approvals signed with it count as that identity's
/// (and only such approvals count towards a gate).
pub fn add_for(
    rec: &Recorder<'_>,
    public: &VerifyingKey,
    name: Option<&str>,
    identity: Option<&str>,
    actor: &str,
) -> Result<Recorded> {
    rec.add_key_for(public, name, identity, actor)
}

/// Revoke the trusted key `id`; `actor` is recorded.
pub fn revoke(rec: &Recorder<'_>, id: &str, actor: &str) -> Result<Recorded> {
    rec.revoke_key(id, actor)
}

/// Add a git-signer key bound to `identity` (an `ssh-ed25519` key, read with
/// [`crate::keys::openssh`]): its SSH signatures on git commits establish that a commit is
/// `identity`'s ([`crate::git::sshsig`]); it signs nothing in the ledger.
pub fn add_git_signer(
    rec: &Recorder<'_>,
    public: &VerifyingKey,
    identity: &str,
    actor: &str,
) -> Result<Recorded> {
    rec.add_git_signer_key(public, identity, actor)
}
