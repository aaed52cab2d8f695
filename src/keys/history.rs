//! The key-trust rules of a ledger: which key is trusted at which point of the log.
//!
//! A [`KeyHistory`] is built by replaying the log's `key` entries in seq order with
//! [`KeyHistory::apply`]; it reads no file and prints nothing, so the verifier and the write
//! path (deciding under the append lock whether a signer may append) share the same rules.
//!
//! # Rules (DESIGN §2)
//!
//! * The first `key add` entry must be signed by the key it adds ([`KeyHistory::signer_key`]
//!   accepts that one self-signed entry while no key is known). That key is the ledger's root
//!   of trust ([`KeyHistory::root`]), which `config.toml` may pin as `root_key`.
//! * Every other signed entry, `key` entries included, must be signed by a key trusted at that
//!   point: added by an earlier entry and not revoked by an earlier entry. A key may sign its
//!   own revocation, since the revocation takes effect after the entry that records it.
//! * `body.key_id` must be the id of `body.public_key`; a key is added at most once; only a
//!   trusted key can be revoked, with its own public key; revocation is permanent.
//! * Revoking the last trusted key is accepted here: the log stays valid, but nothing can sign
//!   after it. Refusing to write such an entry is the write path's policy
//!   ([`KeyHistory::trusted_count`] tells it how many keys remain).
//! * Two restricted roles, each its own `action` (so that a verifier that does not know the role
//!   refuses the ledger instead of trusting the key for everything): a **writer** key
//!   (`add-writer`) signs runners' submissions only; a **git-signer** key (`add-git-signer`,
//!   with a required non-empty `identity`) signs git commits outside the ledger and nothing in
//!   it — no entry, no checkpoint, no submission. Neither can be the first key, and neither can
//!   add or revoke keys (that takes an entry). Both are revoked like any other key.
//!
//! Failures carry the entry's seq and no line: the caller, who knows the line, adds it.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::error::Failure;
use crate::keys;

/// The fields of a `key` entry's body: `{"action": "add"|"add-writer"|"add-git-signer"|"revoke",
/// "key_id", "public_key", "identity"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// `true` for `add`, `false` for `revoke`.
    pub add: bool,
    /// `body.key_id`: the id the entry claims for the key.
    pub key_id: String,
    /// `body.public_key`: 64 hex characters.
    pub public_key: String,
    /// `body.action` is `add-writer`: the key signs submissions only. (A new action rather than
    /// a new field, so that verifiers older than writer keys refuse such a ledger instead of
    /// trusting the key for everything.)
    pub writer: bool,
    /// `body.action` is `add-git-signer`: the key signs git commits (SSH signatures checked by
    /// [`crate::git::sshsig`]) and nothing in the ledger.
    pub git_signer: bool,
    /// `body.identity`, empty when absent or not a string. Required (non-empty) for a
    /// git-signer key: whose commits it signs.
    pub identity: String,
}

impl KeyChange {
    /// Read the fields from a `key` entry's body. Missing or mistyped fields become empty
    /// strings, which [`KeyHistory::apply`] then refuses; any `action` other than the three
    /// adds reads as a revocation (the body schema allows only those four).
    pub fn from_body(body: &Value) -> KeyChange {
        let field = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let action = field("action");
        KeyChange {
            add: matches!(action.as_str(), "add" | "add-writer" | "add-git-signer"),
            key_id: field("key_id"),
            public_key: field("public_key"),
            writer: action == "add-writer",
            git_signer: action == "add-git-signer",
            identity: field("identity"),
        }
    }
}

/// A key as known at the end of the replayed log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyState {
    /// Key id.
    pub id: String,
    /// seq of the `key add` entry.
    pub added_at: u64,
    /// seq of the `key revoke` entry, if revoked.
    pub revoked_at: Option<u64>,
    /// The public key the `key add` entry recorded.
    #[serde(skip)]
    pub public: VerifyingKey,
    /// Added with `"action": "add-writer"`: signs runners' submissions, never entries or
    /// checkpoints.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub writer: bool,
    /// Added with `"action": "add-git-signer"`: the identity its `key` entry binds it to. Such a
    /// key signs git commits and nothing in the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_signer: Option<String>,
}

impl KeyState {
    /// Whether this key may sign a checkpoint of `size` entries: it signs for the ledger (not a
    /// writer or git-signer key), its `key add` entry is inside the tree, and a revocation, if
    /// any, is not (a key that revoked itself no longer speaks for the ledger after that entry).
    pub fn may_sign_tree(&self, size: u64) -> bool {
        self.signs_entries() && self.added_at < size && self.revoked_at.is_none_or(|r| size <= r)
    }

    /// Whether this key's role lets it sign entries, checkpoints and bundles: neither a writer
    /// nor a git-signer key. (Whether it is trusted at some point is another question.)
    pub fn signs_entries(&self) -> bool {
        !self.writer && self.git_signer.is_none()
    }

    /// Whether this key's role lets it sign a runner's submission: any key but a git-signer.
    pub fn signs_submissions(&self) -> bool {
        self.git_signer.is_none()
    }

    /// The identity of a git-signer key trusted for entry `seq` of the log: added by an earlier
    /// entry and not revoked by an earlier one. `None` for any other key, or at any other point.
    /// With `seq` = the log's size, the git-signer keys trusted now (for the next entry).
    pub fn git_signer_at(&self, seq: u64) -> Option<&str> {
        let trusted = self.added_at < seq && self.revoked_at.is_none_or(|r| seq <= r);
        self.git_signer.as_deref().filter(|_| trusted)
    }
}

struct Record {
    vk: VerifyingKey,
    added_at: u64,
    revoked_at: Option<u64>,
    writer: bool,
    git_signer: Option<String>,
}

/// The keys of a log replayed up to some entry: who is trusted for the next one.
#[derive(Default)]
pub struct KeyHistory {
    keys: HashMap<String, Record>,
    root: Option<(String, u64)>,
}

fn failure(seq: u64, code: &'static str, reason: impl Into<String>) -> Failure {
    Failure {
        line: None,
        seq: Some(seq),
        code,
        reason: reason.into(),
    }
}

fn parse_key(seq: u64, public_hex: &str) -> Result<VerifyingKey, Failure> {
    keys::parse_public_hex(public_hex)
        .map_err(|r| failure(seq, "bad-key", format!("body.public_key: {r}")))
}

impl KeyHistory {
    /// An empty history: no key is trusted, the next `key add` may bootstrap itself.
    pub fn new() -> KeyHistory {
        KeyHistory::default()
    }

    /// The key that the signature of entry `seq`, signed by key id `signer`, must verify with.
    /// `change` is the entry's body when it is a `key` entry: while no key is known, a `key
    /// add` signed by the key it adds is accepted (the bootstrap of the root of trust).
    ///
    /// Failures: `revoked-signer`, `untrusted-signer`, or `bad-key` for a bootstrap entry whose
    /// public key does not parse.
    #[inline]
    pub fn signer_key(
        &self,
        seq: u64,
        signer: &str,
        change: Option<&KeyChange>,
    ) -> Result<VerifyingKey, Failure> {
        match self.keys.get(signer) {
            Some(k) if k.writer => Err(failure(
                seq,
                "writer-signed-entry",
                format!("signed by writer key {signer}, which may sign submissions only"),
            )),
            Some(k) if k.git_signer.is_some() => Err(failure(
                seq,
                "git-signer-signed-entry",
                format!("signed by git-signer key {signer}, which signs git commits only"),
            )),
            Some(k) => match k.revoked_at {
                None => Ok(k.vk),
                Some(at) => Err(failure(
                    seq,
                    "revoked-signer",
                    format!("signed by key {signer} after its revocation at seq {at}"),
                )),
            },
            None => self.bootstrap_key(seq, signer, change),
        }
    }

    /// The self-signed first `key add`, or an untrusted signer.
    fn bootstrap_key(
        &self,
        seq: u64,
        signer: &str,
        change: Option<&KeyChange>,
    ) -> Result<VerifyingKey, Failure> {
        let self_add = change
            .filter(|_| self.keys.is_empty())
            .filter(|k| k.add && k.key_id == signer);
        match self_add {
            Some(k) => parse_key(seq, &k.public_key),
            None => Err(failure(
                seq,
                "untrusted-signer",
                format!("signed by key {signer}, which is not trusted at this point of the log"),
            )),
        }
    }

    /// Replay the `key` entry `seq` (whose signer was already accepted by
    /// [`KeyHistory::signer_key`]). On failure the history is unchanged.
    pub fn apply(&mut self, seq: u64, change: &KeyChange) -> Result<(), Failure> {
        let id = &change.key_id;
        let vk = parse_key(seq, &change.public_key)?;
        if change.add && change.writer && self.keys.is_empty() {
            return Err(failure(
                seq,
                "bad-key",
                "the first key is the ledger's root of trust and cannot be a writer key",
            ));
        }
        if change.add && change.git_signer {
            if self.keys.is_empty() {
                return Err(failure(
                    seq,
                    "bad-key",
                    "the first key is the ledger's root of trust and cannot be a git-signer key",
                ));
            }
            if change.identity.is_empty() {
                return Err(failure(
                    seq,
                    "bad-key",
                    "body.identity: required with action add-git-signer (a non-empty string)",
                ));
            }
        }
        if keys::key_id(&vk) != *id {
            return Err(failure(
                seq,
                "bad-key",
                "body.key_id does not match body.public_key",
            ));
        }
        if change.add {
            if self.keys.contains_key(id) {
                return Err(failure(
                    seq,
                    "bad-key",
                    format!("key {id} was already added"),
                ));
            }
            if self.root.is_none() {
                self.root = Some((id.clone(), seq));
            }
            self.keys.insert(
                id.clone(),
                Record {
                    vk,
                    added_at: seq,
                    revoked_at: None,
                    writer: change.writer,
                    git_signer: change.git_signer.then(|| change.identity.clone()),
                },
            );
            return Ok(());
        }
        match self.keys.get_mut(id) {
            Some(k) if k.revoked_at.is_none() && k.vk == vk => {
                k.revoked_at = Some(seq);
                Ok(())
            }
            Some(k) if k.revoked_at.is_some() => Err(failure(
                seq,
                "bad-key",
                format!("key {id} is already revoked"),
            )),
            _ => Err(failure(
                seq,
                "bad-key",
                format!("revokes key {id}, which is not trusted here"),
            )),
        }
    }

    /// The key with id `id` if it is trusted for the next entry (added, not revoked).
    #[inline]
    pub fn trusted(&self, id: &str) -> Option<&VerifyingKey> {
        self.keys
            .get(id)
            .filter(|k| k.revoked_at.is_none())
            .map(|k| &k.vk)
    }

    /// The key with id `id` if it was ever added, revoked or not.
    #[inline]
    pub fn known(&self, id: &str) -> Option<&VerifyingKey> {
        self.keys.get(id).map(|k| &k.vk)
    }

    /// The identity of key `id` if it was added as a git-signer key (revoked or not): such a
    /// key signs nothing in the ledger.
    pub fn git_signer(&self, id: &str) -> Option<&str> {
        self.keys.get(id).and_then(|k| k.git_signer.as_deref())
    }

    /// The key with id `id` if it was trusted to sign entry `seq` of the replayed part of the
    /// log: added before `seq` and not revoked before `seq`, or the root key's own `add`
    /// entry. Answers about entries after the replayed part as [`KeyHistory::trusted`] does.
    pub fn trusted_at(&self, id: &str, seq: u64) -> Option<&VerifyingKey> {
        let k = self.keys.get(id)?;
        let is_root_add = self
            .root
            .as_ref()
            .is_some_and(|(root, at)| root == id && *at == seq);
        let added = k.added_at < seq || is_root_add;
        let not_revoked = k.revoked_at.is_none_or(|r| seq <= r);
        (added && not_revoked).then_some(&k.vk)
    }

    /// Every key trusted for the next entry, by id.
    pub fn trusted_keys(&self) -> impl Iterator<Item = (&str, &VerifyingKey)> {
        self.keys
            .iter()
            .filter(|(_, k)| k.revoked_at.is_none())
            .map(|(id, k)| (id.as_str(), &k.vk))
    }

    /// How many keys are trusted for the next entry.
    pub fn trusted_count(&self) -> usize {
        self.keys
            .values()
            .filter(|k| k.revoked_at.is_none())
            .count()
    }

    /// Whether no key entry has been replayed yet (the next `key add` may bootstrap).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The history that [`KeyHistory::states`] described: for resuming a verification from a
    /// verified prefix. The root is the key added first.
    pub fn restore(states: &[KeyState]) -> KeyHistory {
        let mut h = KeyHistory::new();
        for s in states {
            h.keys.insert(
                s.id.clone(),
                Record {
                    vk: s.public,
                    added_at: s.added_at,
                    revoked_at: s.revoked_at,
                    writer: s.writer,
                    git_signer: s.git_signer.clone(),
                },
            );
        }
        h.root = states
            .iter()
            .min_by_key(|s| s.added_at)
            .map(|s| (s.id.clone(), s.added_at));
        h
    }

    /// The root of trust: the first key added, and the seq of its `add` entry.
    pub fn root(&self) -> Option<(&str, u64)> {
        self.root.as_ref().map(|(id, at)| (id.as_str(), *at))
    }

    /// Every key ever added, in the order they were added.
    pub fn states(&self) -> Vec<KeyState> {
        let mut out: Vec<KeyState> = self
            .keys
            .iter()
            .map(|(id, k)| KeyState {
                id: id.clone(),
                added_at: k.added_at,
                revoked_at: k.revoked_at,
                public: k.vk,
                writer: k.writer,
                git_signer: k.git_signer.clone(),
            })
            .collect();
        out.sort_by_key(|k| k.added_at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Signer;
    use ed25519_dalek::SigningKey;

    fn key(n: u8) -> (String, VerifyingKey) {
        let s = Signer::new(SigningKey::from_bytes(&[n; 32]));
        (s.id().to_string(), s.public())
    }

    fn change(add: bool, n: u8) -> KeyChange {
        let (id, vk) = key(n);
        KeyChange {
            add,
            key_id: id,
            public_key: hex::encode(vk.as_bytes()),
            writer: false,
            git_signer: false,
            identity: String::new(),
        }
    }

    /// Replay `change` at `seq` signed by key `by`, as the verifier does: signer first.
    fn replay(h: &mut KeyHistory, seq: u64, by: u8, c: &KeyChange) -> Result<(), Failure> {
        h.signer_key(seq, &key(by).0, Some(c))?;
        h.apply(seq, c)
    }

    #[test]
    fn first_key_bootstraps_itself_and_becomes_root() {
        let mut h = KeyHistory::new();
        let (a, va) = key(1);
        assert!(h.is_empty());
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        assert_eq!(h.root(), Some((a.as_str(), 0)));
        assert_eq!(h.trusted(&a), Some(&va));
        assert_eq!(h.trusted_at(&a, 0), Some(&va));
        assert_eq!(h.trusted_count(), 1);
    }

    #[test]
    fn bootstrap_only_for_the_first_key_and_its_own_entry() {
        let h = KeyHistory::new();
        // Key 2 signs the add of key 1: not a self-add.
        let f = h
            .signer_key(0, &key(2).0, Some(&change(true, 1)))
            .unwrap_err();
        assert_eq!(f.code, "untrusted-signer");
        // A self-signed revoke, or no key entry at all, bootstraps nothing.
        assert!(h.signer_key(0, &key(1).0, Some(&change(false, 1))).is_err());
        assert!(h.signer_key(0, &key(1).0, None).is_err());
        // Once a key exists, a second key cannot sign its own add.
        let mut h = KeyHistory::new();
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        let f = replay(&mut h, 1, 2, &change(true, 2)).unwrap_err();
        assert_eq!((f.code, f.seq, f.line), ("untrusted-signer", Some(1), None));
    }

    #[test]
    fn add_then_revoke() {
        let mut h = KeyHistory::new();
        let (b, vb) = key(2);
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        replay(&mut h, 1, 1, &change(true, 2)).unwrap();
        assert_eq!(h.signer_key(2, &b, None).unwrap(), vb);
        // Key 2 may sign its own revocation: it is trusted up to and including that entry.
        replay(&mut h, 3, 2, &change(false, 2)).unwrap();
        assert_eq!(h.trusted(&b), None);
        assert_eq!(h.trusted_at(&b, 1), None, "not yet added");
        assert_eq!(h.trusted_at(&b, 2), Some(&vb));
        assert_eq!(h.trusted_at(&b, 3), Some(&vb));
        assert_eq!(h.trusted_at(&b, 4), None);
        assert_eq!(
            h.states(),
            vec![
                KeyState {
                    id: key(1).0,
                    added_at: 0,
                    revoked_at: None,
                    public: key(1).1,
                    writer: false,
                    git_signer: None,
                },
                KeyState {
                    id: b,
                    added_at: 1,
                    revoked_at: Some(3),
                    public: vb,
                    writer: false,
                    git_signer: None,
                },
            ]
        );
    }

    #[test]
    fn revoked_signer_is_refused() {
        let mut h = KeyHistory::new();
        let (b, _) = key(2);
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        replay(&mut h, 1, 1, &change(true, 2)).unwrap();
        replay(&mut h, 2, 1, &change(false, 2)).unwrap();
        let f = h.signer_key(3, &b, None).unwrap_err();
        assert_eq!(f.code, "revoked-signer");
        assert!(f.reason.contains("revocation at seq 2"), "{}", f.reason);
        // A key entry signed by the revoked key is refused before it changes anything.
        let f = replay(&mut h, 3, 2, &change(true, 3)).unwrap_err();
        assert_eq!(f.code, "revoked-signer");
        assert_eq!(h.trusted(&key(3).0), None);
        // Revocation is permanent.
        let f = replay(&mut h, 3, 1, &change(false, 2)).unwrap_err();
        assert_eq!(f.code, "bad-key");
        assert!(f.reason.contains("already revoked"), "{}", f.reason);
        let f = replay(&mut h, 3, 1, &change(true, 2)).unwrap_err();
        assert!(f.reason.contains("already added"), "{}", f.reason);
    }

    #[test]
    fn unknown_signer_is_refused() {
        let mut h = KeyHistory::new();
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        let f = h.signer_key(1, &key(9).0, None).unwrap_err();
        assert_eq!(f.code, "untrusted-signer");
        assert_eq!(h.trusted_at(&key(9).0, 1), None);
        // Revoking a key that was never added.
        let f = replay(&mut h, 1, 1, &change(false, 9)).unwrap_err();
        assert!(f.reason.contains("not trusted here"), "{}", f.reason);
    }

    #[test]
    fn key_id_must_match_public_key() {
        let mut h = KeyHistory::new();
        let mut c = change(true, 1);
        c.public_key = change(true, 2).public_key;
        let f = replay(&mut h, 0, 1, &c).unwrap_err();
        assert_eq!(f.code, "bad-key");
        assert!(h.is_empty() && h.root().is_none());
        c.public_key = "zz".into();
        let f = replay(&mut h, 0, 1, &c).unwrap_err();
        assert!(f.reason.starts_with("body.public_key:"), "{}", f.reason);
        // A revocation must name the key's own public key.
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        replay(&mut h, 1, 1, &change(true, 2)).unwrap();
        let mut r = change(false, 2);
        r.public_key = change(true, 1).public_key;
        assert_eq!(replay(&mut h, 2, 1, &r).unwrap_err().code, "bad-key");
    }

    #[test]
    fn revoking_the_last_key_is_accepted_and_leaves_no_signer() {
        let mut h = KeyHistory::new();
        let (a, _) = key(1);
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        assert_eq!(h.trusted_count(), 1);
        replay(&mut h, 1, 1, &change(false, 1)).unwrap();
        assert_eq!(h.trusted_count(), 0);
        assert_eq!(
            h.signer_key(2, &a, None).unwrap_err().code,
            "revoked-signer"
        );
        // The history is not empty, so no new key can bootstrap itself.
        assert!(replay(&mut h, 2, 3, &change(true, 3)).is_err());
    }

    fn git_signer(n: u8, who: &str) -> KeyChange {
        KeyChange {
            git_signer: true,
            identity: who.into(),
            ..change(true, n)
        }
    }

    #[test]
    fn git_signer_keys_sign_nothing_in_the_ledger() {
        let mut h = KeyHistory::new();
        let (g, vg) = key(3);
        // Not the first key, and not without an identity.
        let f = replay(&mut h, 0, 3, &git_signer(3, "alice@example.org")).unwrap_err();
        assert_eq!(f.code, "bad-key");
        assert!(f.reason.contains("root of trust"), "{}", f.reason);
        replay(&mut h, 0, 1, &change(true, 1)).unwrap();
        let f = replay(&mut h, 1, 1, &git_signer(3, "")).unwrap_err();
        assert!(f.reason.contains("body.identity"), "{}", f.reason);
        replay(&mut h, 1, 1, &git_signer(3, "alice@example.org")).unwrap();
        assert_eq!(h.git_signer(&g), Some("alice@example.org"));
        assert_eq!(h.trusted(&g), Some(&vg), "trusted, in its role");
        // It signs no entry, key entries included.
        let f = h.signer_key(2, &g, None).unwrap_err();
        assert_eq!(f.code, "git-signer-signed-entry");
        let f = replay(&mut h, 2, 3, &change(true, 4)).unwrap_err();
        assert_eq!(f.code, "git-signer-signed-entry");
        // Its identity, at each point of the log; revoked like any key.
        replay(&mut h, 2, 1, &change(false, 3)).unwrap();
        let st = h.states().into_iter().find(|k| k.id == g).unwrap();
        assert!(!st.signs_entries() && !st.signs_submissions());
        assert!(!st.may_sign_tree(10));
        assert_eq!(st.git_signer_at(1), None, "not yet added");
        assert_eq!(st.git_signer_at(2), Some("alice@example.org"));
        assert_eq!(st.git_signer_at(3), None, "revoked at seq 2");
        let root = h.states().into_iter().next().unwrap();
        assert_eq!(root.git_signer_at(5), None, "not a git-signer key");
        // A history restored from its states keeps the role.
        let r = KeyHistory::restore(&h.states());
        assert_eq!(r.git_signer(&g), Some("alice@example.org"));
        assert_eq!(
            r.signer_key(3, &g, None).unwrap_err().code,
            "git-signer-signed-entry"
        );
    }

    #[test]
    fn change_from_body() {
        let body = serde_json::json!({"action": "add", "key_id": "ab", "public_key": "cd"});
        assert_eq!(
            KeyChange::from_body(&body),
            KeyChange {
                add: true,
                key_id: "ab".into(),
                public_key: "cd".into(),
                writer: false,
                git_signer: false,
                identity: String::new(),
            }
        );
        assert!(!KeyChange::from_body(&serde_json::json!({})).add);
        let w = KeyChange::from_body(
            &serde_json::json!({"action": "add-writer", "key_id": "ab", "public_key": "cd"}),
        );
        assert!(w.add && w.writer);
        let g = KeyChange::from_body(&serde_json::json!({"action": "add-git-signer",
            "key_id": "ab", "public_key": "cd", "identity": "alice@example.org"}));
        assert!(g.add && g.git_signer && !g.writer);
        assert_eq!(g.identity, "alice@example.org");
    }
}
