//! Adding and revoking trusted keys through the write path: a signed `key` entry in the log
//! (the history verifiers replay) plus the key's record in `config.toml` (what appends check
//! in O(1)).
//!
//! Both happen under the append lock, on the settings read under it, so two `keys add` or a
//! `keys revoke` racing an `append` cannot lose an update or let a revoked key write. The entry
//! is written first and the config second: the log is the source of truth, so a crash between
//! the two leaves a log that verifies and a config that lags; adding the key again then reports
//! it as already in the log.

use ed25519_dalek::VerifyingKey;
use serde_json::json;

use crate::config::KeyRecord;
use crate::error::{Error, Result};
use crate::keys::key_id;
use crate::ledger::body::Kind;
use crate::ledger::recorder::{Recorded, Recorder};
use crate::ledger::store::Draft;

impl Recorder<'_> {
    /// Trust `public` from now on. The signer must be trusted already, or — for the ledger's
    /// first key — be that very key (it signs its own entry and becomes the root of trust).
    pub fn add_key(
        &self,
        public: &VerifyingKey,
        name: Option<&str>,
        actor: &str,
    ) -> Result<Recorded> {
        self.add_key_for(public, name, None, actor)
    }

    /// [`Recorder::add_key`], binding the key to `identity` (a person or service, e.g.
    /// `alice@example.org`): approvals signed with it count as that identity's.
    pub fn add_key_for(
        &self,
        public: &VerifyingKey,
        name: Option<&str>,
        identity: Option<&str>,
        actor: &str,
    ) -> Result<Recorded> {
        self.add_key_as(public, name, identity, Role::Ledger, actor)
    }

    /// Add a writer key (`"action": "add-writer"`): a runner's key that signs its submissions
    /// to `ledger serve` and nothing else (never an entry, never a checkpoint). The ledger's
    /// first key cannot be one.
    pub fn add_writer_key(&self, public: &VerifyingKey, actor: &str) -> Result<Recorded> {
        self.add_key_as(public, None, None, Role::Writer, actor)
    }

    /// Add a git-signer key (`"action": "add-git-signer"`) bound to `identity`: a person's SSH
    /// key (`ssh-ed25519`, its raw 32-byte public key) whose signatures on git commits
    /// establish that the commit is `identity`'s ([`crate::git::sshsig`]). It signs nothing
    /// in the ledger (no entry, checkpoint or submission), is revoked like any key, and the
    /// ledger's first key cannot be one.
    pub fn add_git_signer_key(
        &self,
        public: &VerifyingKey,
        identity: &str,
        actor: &str,
    ) -> Result<Recorded> {
        self.add_key_as(public, None, Some(identity), Role::GitSigner, actor)
    }

    fn add_key_as(
        &self,
        public: &VerifyingKey,
        name: Option<&str>,
        identity: Option<&str>,
        role: Role,
        actor: &str,
    ) -> Result<Recorded> {
        if let Some(who) = identity {
            if who.trim().is_empty() || who.trim() != who || who.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "identity",
                    format!("{who:?}: expected a non-empty name without surrounding spaces"),
                ));
            }
        }
        let signer = self
            .signer()
            .ok_or_else(|| Error::invalid("signer", "a key entry must be signed"))?;
        let id = key_id(public);
        let public_hex = hex::encode(public.as_bytes());
        let name = name.map(str::to_string);
        self.run(|s| {
            let keys = &s.view().keys;
            if keys.iter().any(|k| k.id == id) {
                return Err(Error::Conflict(format!(
                    "key {id} is already in the ledger's key history (added or revoked before)"
                )));
            }
            if keys.is_empty() && signer.id() != id {
                return Err(Error::untrusted(
                    signer.id(),
                    format!("the first key of a ledger signs its own entry: sign with the private key of {id}"),
                ));
            }
            if keys.is_empty() && role != Role::Ledger {
                return Err(Error::invalid(
                    "key",
                    format!(
                        "the ledger's first key is its root of trust and cannot be a {} key",
                        role.name()
                    ),
                ));
            }
            let action = role.action();
            let mut body = json!({"action": action, "key_id": id, "public_key": public_hex});
            if let (Some(who), Some(m)) = (identity, body.as_object_mut()) {
                m.insert("identity".into(), json!(who));
            }
            let draft = Draft {
                kind: Kind::Key,
                actor: actor.to_string(),
                body,
            };
            if role != Role::Ledger {
                // config.toml lists the keys that sign for the ledger; a writer or git-signer
                // key does not.
                return Ok((vec![draft], None, ()));
            }
            let (id, public_hex) = (id.clone(), public_hex.clone());
            let change = Box::new(move |c: &mut crate::config::Config, _: &[_]| {
                if c.root_key.is_none() {
                    c.root_key = Some(id.clone());
                }
                c.keys.retain(|k| k.id != id);
                c.keys.push(KeyRecord {
                    id,
                    public_key: public_hex,
                    name,
                    revoked: false,
                });
            });
            Ok((vec![draft], Some(change as _), ()))
        })
        .map(|(r, ())| r)
    }

    /// Revoke the trusted key `id`; the signer must be another (or the same) trusted key. The
    /// last trusted key cannot be revoked, so the ledger never loses its ability to sign.
    pub fn revoke_key(&self, id: &str, actor: &str) -> Result<Recorded> {
        if self.signer().is_none() {
            return Err(Error::invalid("signer", "a key entry must be signed"));
        }
        self.run(|s| {
            let view = s.view();
            let Some(rec) = view.trusted(id).cloned() else {
                return Err(Error::NotFound(format!(
                    "key {id} is not a trusted key of this ledger"
                )));
            };
            // Writer and git-signer keys sign no entry: the last key that does must stay.
            let signing = view
                .keys
                .iter()
                .filter(|k| k.revoked_at.is_none() && k.signs_entries())
                .count();
            if rec.signs_entries() && signing == 1 {
                return Err(Error::Conflict(format!(
                    "key {id} is the last trusted key that signs entries; add another before revoking it"
                )));
            }
            let draft = Draft {
                kind: Kind::Key,
                actor: actor.to_string(),
                body: json!({"action": "revoke", "key_id": id, "public_key": hex::encode(rec.public.as_bytes())}),
            };
            let id = id.to_string();
            let change = Box::new(move |c: &mut crate::config::Config, _: &[_]| {
                for k in c.keys.iter_mut().filter(|k| k.id == id) {
                    k.revoked = true;
                }
            });
            Ok((vec![draft], Some(change as _), ()))
        })
        .map(|(r, ())| r)
    }
}

/// What a key added through [`Recorder`] may sign, and the `action` of its `key` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `add`: entries, checkpoints, bundles.
    Ledger,
    /// `add-writer`: runners' submissions only.
    Writer,
    /// `add-git-signer`: git commits only, nothing in the ledger.
    GitSigner,
}

impl Role {
    fn action(self) -> &'static str {
        match self {
            Role::Ledger => "add",
            Role::Writer => "add-writer",
            Role::GitSigner => "add-git-signer",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Ledger => "ledger",
            Role::Writer => "writer",
            Role::GitSigner => "git-signer",
        }
    }
}
