//! Adding and revoking trusted keys: a signed `key` entry in the log (the history verifiers
//! replay) plus the key's record in `config.toml` (what appends check in O(1)).
//!
//! The entry is written first, under the append lock, and the config second: the log is the
//! source of truth, so a crash between the two leaves a log that verifies and a config that
//! lags; `ledger keys add` again reports the key as already in the log.

use ed25519_dalek::VerifyingKey;
use serde_json::json;

use crate::config::KeyRecord;
use crate::error::{Error, Result};
use crate::keys::{key_id, Signer};
use crate::ledger::body::Kind;
use crate::ledger::entry::Entry;
use crate::ledger::store::{Draft, Ledger};

impl Ledger {
    /// Trust `public` from now on. `signer` must be trusted already, or — for the ledger's
    /// first key — be that very key (it signs its own entry and becomes the root of trust).
    pub fn add_key(
        &mut self,
        public: &VerifyingKey,
        name: Option<&str>,
        signer: &Signer,
        actor: &str,
    ) -> Result<Entry> {
        let id = key_id(public);
        let mut config = self.config().clone();
        if config.keys.iter().any(|k| k.id == id) {
            return Err(Error::input(format!(
                "key {id} is already in config.toml (added or revoked before)"
            )));
        }
        if config.keys.is_empty() && signer.id() != id {
            return Err(Error::input(format!(
                "the first key of a ledger signs its own entry: give --key with the private key of {id} (got {})",
                signer.id()
            )));
        }
        let draft = Draft {
            kind: Kind::Key,
            actor: actor.to_string(),
            body: json!({"action": "add", "key_id": id, "public_key": hex::encode(public.as_bytes())}),
        };
        let entry = self
            .append(vec![draft], Some(signer))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::input("nothing appended"))?;
        if config.root_key.is_none() {
            config.root_key = Some(id.clone());
        }
        config.keys.push(KeyRecord {
            id,
            public_key: hex::encode(public.as_bytes()),
            name: name.map(str::to_string),
            revoked: false,
        });
        self.save_config(config)?;
        Ok(entry)
    }

    /// Revoke the trusted key `id`; `signer` must be another (or the same) trusted key. The
    /// last trusted key cannot be revoked, so the ledger never loses its ability to sign.
    pub fn revoke_key(&mut self, id: &str, signer: &Signer, actor: &str) -> Result<Entry> {
        let mut config = self.config().clone();
        let Some(rec) = config.trusted_key(id).cloned() else {
            return Err(Error::input(format!(
                "key {id} is not a trusted key of this ledger (see `ledger keys list`)"
            )));
        };
        if config.keys.iter().filter(|k| !k.revoked).count() == 1 {
            return Err(Error::input(format!(
                "key {id} is the last trusted key; add another before revoking it"
            )));
        }
        let draft = Draft {
            kind: Kind::Key,
            actor: actor.to_string(),
            body: json!({"action": "revoke", "key_id": id, "public_key": rec.public_key}),
        };
        let entry = self
            .append(vec![draft], Some(signer))?
            .into_iter()
            .next()
            .ok_or_else(|| Error::input("nothing appended"))?;
        for k in config.keys.iter_mut().filter(|k| k.id == id) {
            k.revoked = true;
        }
        self.save_config(config)?;
        Ok(entry)
    }
}
