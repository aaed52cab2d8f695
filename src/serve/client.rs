//! The client of `ledger serve` that trusts nothing it is told (DESIGN §9): used by
//! `ledger append --remote URL` and `ledger trust gate --remote URL`.
//!
//! For every submission written it checks that the entry returned is the one submitted (the
//! line parses, its hash is its canonical bytes', and its actor, kind, body, ts and submission
//! are the ones the runner signed), that the inclusion proof leads from that entry to the
//! returned checkpoint's root, that the checkpoint is signed by the pinned log key, and that
//! the checkpoint extends the last one this client accepted from the same log (a consistency
//! proof fetched from the service; a smaller tree is a rollback, another root at the same size
//! a fork). The newest accepted checkpoint (size and root) is kept in a small state file. A
//! service that lies about any of it is an [`Error::Verify`] (exit 1) naming what it lied about.
//! Server errors (5xx) and timeouts are retried with exponential backoff; submissions are
//! idempotent by id, so a retry never writes twice.

use std::path::PathBuf;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::ledger::entry::Entry;
use crate::ledger::Submitted;
use crate::merkle::{self, ConsistencyProof, Hash, InclusionProof};
use crate::note;

/// Largest response read.
const MAX_RESPONSE: u64 = 64 << 20;

/// A service and the log key it must sign with.
#[derive(Clone)]
pub struct Remote {
    base: String,
    log_key: VerifyingKey,
    state: Option<PathBuf>,
    timeout: Duration,
    retries: u32,
    token: Option<String>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in a debug print.
        f.debug_struct("Remote")
            .field("base", &self.base)
            .field("state", &self.state)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What the client accepted for one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's seq.
    pub seq: u64,
    /// Its leaf hash.
    pub hash: Hash,
    /// `true` when the service wrote it now, `false` when it had it already.
    pub created: bool,
    /// The checkpoint it was proved against: size.
    pub tree_size: u64,
    /// And root.
    pub root: Hash,
}

/// The newest checkpoint this client accepted from a log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Seen {
    format: String,
    origin: String,
    size: u64,
    #[serde(with = "crate::merkle::hex_hash")]
    root: Hash,
}

const SEEN_FORMAT: &str = "ledger-remote-state-v1";

fn lie(url: &str, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify_file(std::path::Path::new(url), code, reason)
}

impl Remote {
    /// A client of the service at `base` (`http://host:port`), pinned to `log_key`; `state`
    /// is the file that keeps the newest accepted checkpoint (none: no rollback check across
    /// runs).
    pub fn new(base: &str, log_key: VerifyingKey, state: Option<PathBuf>) -> Remote {
        Remote {
            base: base.trim_end_matches('/').to_string(),
            log_key,
            state,
            timeout: Duration::from_secs(20),
            retries: 5,
            token: None,
        }
    }

    /// Send `token` as a bearer token (for a service whose reads need one).
    pub fn with_token(mut self, token: Option<String>) -> Remote {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// Per-request timeout (default 20 s) and retries on 5xx or timeouts (default 5).
    pub fn with_limits(mut self, timeout: Duration, retries: u32) -> Remote {
        self.timeout = timeout;
        self.retries = retries;
        self
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// One request with retries: `body` `Some` for a POST of JSON.
    fn call(&self, path: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let agent = self.agent();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
            let sent = match body {
                Some(b) => {
                    let mut r = agent.post(&url).header("content-type", "application/json");
                    if let Some(a) = &auth {
                        r = r.header("authorization", a);
                    }
                    r.send(b)
                }
                None => {
                    let mut r = agent.get(&url);
                    if let Some(a) = &auth {
                        r = r.header("authorization", a);
                    }
                    r.call()
                }
            };
            let outcome = sent.and_then(|mut r| {
                let status = r.status().as_u16();
                r.body_mut()
                    .with_config()
                    .limit(MAX_RESPONSE)
                    .read_to_vec()
                    .map(|b| (status, b))
            });
            let retry = match &outcome {
                Ok((status, _)) => *status >= 500,
                Err(_) => true,
            };
            if !retry || attempt >= self.retries {
                return outcome.map_err(|e| Error::Io {
                    path: PathBuf::from(&url),
                    source: std::io::Error::other(e.to_string()),
                });
            }
            attempt += 1;
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    fn json_ok(&self, path: &str, status: u16, bytes: &[u8]) -> Result<Value> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            Error::malformed(format!("{}{path}", self.base), format!("not JSON: {e}"))
        })?;
        if !(200..300).contains(&status) {
            let msg = v["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_string();
            let code = v["error"]["code"].as_str().unwrap_or("error").to_string();
            return Err(match status {
                409 if code == "stale" => Error::Stale(format!("{}{path}: {msg}", self.base)),
                409 => Error::Conflict(format!("{}{path}: {msg}", self.base)),
                403 => Error::untrusted("-", format!("{}{path}: {code}: {msg}", self.base)),
                404 => Error::NotFound(format!("{}{path}: {msg}", self.base)),
                s if s < 500 => Error::invalid(
                    format!("{}{path}", self.base),
                    format!("{status} {code}: {msg}"),
                ),
                _ => Error::internal(format!("{}{path}: {status} {code}: {msg}", self.base)),
            });
        }
        Ok(v)
    }

    /// Open a checkpoint note: signed by the pinned log key, and a checkpoint.
    fn open_checkpoint(&self, text: &str) -> Result<Checkpoint> {
        let url = format!("{}/v1/checkpoint", self.base);
        let n = note::parse(text.as_bytes())
            .map_err(|e| lie(&url, "bad-checkpoint", format!("not a signed note: {e}")))?;
        let verifiers = note::verifiers_for_public(&n, &self.log_key);
        if verifiers.is_empty() {
            return Err(lie(
                &url,
                "untrusted-checkpoint-signer",
                "the checkpoint carries no signature by the pinned log key",
            ));
        }
        let opened = note::open(text.as_bytes(), &verifiers).map_err(|e| {
            lie(
                &url,
                "bad-checkpoint-signature",
                format!("the log key's signature does not verify: {e}"),
            )
        })?;
        Checkpoint::parse(opened.text()).map_err(|e| lie(&url, "bad-checkpoint", e.to_string()))
    }

    /// The checkpoint must extend the newest one accepted before (fetching a consistency
    /// proof); then it becomes the newest.
    fn check_extends(&self, cp: &Checkpoint) -> Result<()> {
        let url = self.base.clone();
        let Some(path) = &self.state else {
            return Ok(());
        };
        // A regular file of at most 64 KiB (a FIFO or device is refused at once).
        let seen: Option<Seen> =
            match crate::fsutil::read_bounded_if_exists(path, 64 * 1024, "remote client state")? {
                Some(b) => Some(serde_json::from_slice(&b).map_err(|e| {
                    Error::malformed_at(path.display().to_string(), None, None, e.to_string())
                })?),
                None => None,
            };
        if let Some(s) = &seen {
            if s.origin != cp.origin {
                return Err(lie(
                    &url,
                    "wrong-origin",
                    format!(
                        "the checkpoint is for log {:?}, this client follows {:?}",
                        cp.origin, s.origin
                    ),
                ));
            }
            if cp.size < s.size {
                return Err(lie(&url, "rolled-back", format!("the checkpoint has {} entries, fewer than the {} this client saw signed before", cp.size, s.size)));
            }
            if cp.size == s.size && cp.root != s.root {
                return Err(lie(
                    &url,
                    "forked",
                    format!(
                        "two signed checkpoints of size {} with different roots",
                        cp.size
                    ),
                ));
            }
            if cp.size > s.size && s.size > 0 {
                let p = format!("/v1/proof/consistency?from={}&to={}", s.size, cp.size);
                let (status, bytes) = self.call(&p, None)?;
                let v = self.json_ok(&p, status, &bytes)?;
                let proof: ConsistencyProof = serde_json::from_value(v)
                    .map_err(|e| lie(&url, "bad-proof", format!("consistency proof: {e}")))?;
                if proof.old_size != s.size
                    || proof.new_size != cp.size
                    || proof.verify(&s.root, &cp.root).is_err()
                {
                    return Err(lie(&url, "forked", format!("the checkpoint of size {} does not extend the one of size {} this client saw before (consistency proof fails)", cp.size, s.size)));
                }
            }
        }
        let new = Seen {
            format: SEEN_FORMAT.into(),
            origin: cp.origin.clone(),
            size: cp.size,
            root: cp.root,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let bytes = serde_json::to_vec(&new).map_err(|e| Error::internal(e.to_string()))?;
        crate::fsutil::write_atomic_mode(path, &bytes, 0o600)
    }

    /// The newest checkpoint, checked (signature, extension of what was seen before).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let (status, bytes) = self.call("/v1/checkpoint", None)?;
        if status != 200 {
            self.json_ok("/v1/checkpoint", status, &bytes)?;
        }
        let text =
            String::from_utf8(bytes).map_err(|_| lie(&self.base, "bad-checkpoint", "not UTF-8"))?;
        let cp = self.open_checkpoint(&text)?;
        self.check_extends(&cp)?;
        Ok(cp)
    }

    /// Submit signed submissions and check every answer.
    pub fn append(&self, subs: &[Submitted]) -> Result<Vec<Receipt>> {
        let wire: Vec<Value> = subs.iter().map(wire_of).collect();
        let body = serde_json::to_vec(&json!({"submissions": wire}))
            .map_err(|e| Error::internal(e.to_string()))?;
        let (status, bytes) = self.call("/v1/entries", Some(&body))?;
        let v = self.json_ok("/v1/entries", status, &bytes)?;
        let url = format!("{}/v1/entries", self.base);
        let note_text = v["checkpoint"]
            .as_str()
            .ok_or_else(|| lie(&url, "bad-answer", "no checkpoint in the answer"))?;
        let cp = self.open_checkpoint(note_text)?;
        let results = v["results"]
            .as_array()
            .filter(|r| r.len() == subs.len())
            .ok_or_else(|| lie(&url, "bad-answer", "not one result per submission"))?;
        let mut out = Vec::with_capacity(subs.len());
        for (i, (sub, r)) in subs.iter().zip(results).enumerate() {
            out.push(check_result(&url, i, sub, r, &cp)?);
        }
        self.check_extends(&cp)?;
        Ok(out)
    }

    /// A gate query (not recorded), answered from the service's verified view.
    pub fn gate(&self, actor: &str, paths: &[String], subject: Option<&str>) -> Result<Value> {
        let body = serde_json::to_vec(&json!({"actor": actor, "paths": paths, "subject": subject}))
            .map_err(|e| Error::internal(e.to_string()))?;
        // The log must still stand as seen before: the answer comes from its verified view.
        self.checkpoint()?;
        let (status, bytes) = self.call("/v1/gate", Some(&body))?;
        self.json_ok("/v1/gate", status, &bytes)
    }

    /// Ask for a gate decision and have the service record it: the `approval` the answer
    /// proposes (the decision, the policy applied, the tree size decided on) is signed with
    /// `signer` (a key the signed policy names in `[serve].gate_recorders`) as submission
    /// `id` by `recorder`, sent back, and its entry checked like an append's (the entry is the
    /// one signed, proved included in a checkpoint signed by the log key that extends what
    /// this client saw). When new entries arrive between the question and the record (409
    /// `stale`), it asks again, up to 3 times. Returns the decision and the receipt.
    pub fn record_gate(
        &self,
        signer: &crate::keys::Signer,
        q: &GateRequest<'_>,
    ) -> Result<(Value, Receipt)> {
        let url = format!("{}/v1/gate", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = self.gate(q.actor, q.paths, q.subject)?;
            let rec = &answer["record"];
            let body = rec["body"].clone();
            let consistent = rec["kind"] == "approval"
                && body["actor"] == q.actor
                && body["decision"] == answer["decision"]
                && body["subject"] == answer["subject"];
            let ts = rec["ts"].as_str().filter(|_| consistent).ok_or_else(|| {
                lie(
                    &url,
                    "bad-answer",
                    "the record proposed is not the decision answered",
                )
            })?;
            let draft = crate::ledger::Draft {
                kind: crate::ledger::Kind::Approval,
                actor: q.recorder.to_string(),
                body,
            };
            let sub = Submitted::sign_at(signer, draft, q.id, ts.to_string())?;
            let req = serde_json::to_vec(&json!({
                "actor": q.actor,
                "paths": q.paths,
                "subject": q.subject,
                "record": true,
                "submission": wire_of(&sub),
            }))
            .map_err(|e| Error::internal(e.to_string()))?;
            let (status, bytes) = self.call("/v1/gate", Some(&req))?;
            let v = match self.json_ok("/v1/gate", status, &bytes) {
                Err(Error::Stale(_)) if attempt < 3 => continue,
                other => other?,
            };
            let note_text = v["checkpoint"]
                .as_str()
                .ok_or_else(|| lie(&url, "bad-answer", "no checkpoint in the answer"))?;
            let cp = self.open_checkpoint(note_text)?;
            let r = v["results"]
                .as_array()
                .and_then(|r| r.first())
                .filter(|_| v["results"].as_array().map(Vec::len) == Some(1))
                .ok_or_else(|| lie(&url, "bad-answer", "not one result for the record"))?;
            let receipt = check_result(&url, 0, &sub, r, &cp)?;
            self.check_extends(&cp)?;
            return Ok((v, receipt));
        }
    }
}

/// A gate decision to record through the service (see [`Remote::record_gate`]).
#[derive(Debug, Clone, Copy)]
pub struct GateRequest<'a> {
    /// The change's author.
    pub actor: &'a str,
    /// The paths it changes.
    pub paths: &'a [String],
    /// What people approve (default: the service's).
    pub subject: Option<&'a str>,
    /// Submission id (idempotency).
    pub id: &'a str,
    /// Actor of the `approval` entry.
    pub recorder: &'a str,
}

/// The wire form of a submission.
pub fn wire_of(s: &Submitted) -> Value {
    use base64::Engine as _;
    json!({
        "kind": s.draft.kind.as_str(),
        "actor": s.draft.actor,
        "body": s.draft.body,
        "ts": s.ts,
        "id": s.submission.id,
        "signer": s.submission.signer,
        "sig": base64::engine::general_purpose::STANDARD.encode(s.submission.sig),
    })
}

fn check_result(
    url: &str,
    i: usize,
    sub: &Submitted,
    r: &Value,
    cp: &Checkpoint,
) -> Result<Receipt> {
    let at = |what: &str| format!("results[{i}]: {what}");
    let created = match r["status"].as_str() {
        Some("created") => true,
        Some("existing") => false,
        _ => {
            let msg = r["error"]["message"].as_str().unwrap_or("refused");
            return Err(Error::invalid(format!("submissions[{i}]"), msg.to_string()));
        }
    };
    let line = r["entry"]
        .as_str()
        .ok_or_else(|| lie(url, "bad-answer", at("no entry")))?;
    let e = Entry::parse_line(line.as_bytes()).map_err(|le| {
        lie(
            url,
            "bad-entry",
            at(&format!("the entry returned is not valid: {}", le.reason)),
        )
    })?;
    let same = e.kind == sub.draft.kind
        && e.actor == sub.draft.actor
        && e.body == sub.draft.body
        && e.ts == sub.ts
        && e.submission.as_ref() == Some(&sub.submission);
    if !same {
        return Err(lie(
            url,
            "not-what-was-submitted",
            at(&format!(
                "entry {} is not the submission {:?} this client signed",
                e.seq, sub.submission.id
            )),
        ));
    }
    if r["seq"].as_u64() != Some(e.seq) || r["hash"].as_str() != Some(e.hash_hex().as_str()) {
        return Err(lie(
            url,
            "bad-answer",
            at("seq or hash differ from the entry returned"),
        ));
    }
    let proof: InclusionProof = serde_json::from_value(r["inclusion"].clone())
        .map_err(|err| lie(url, "bad-proof", at(&format!("inclusion proof: {err}"))))?;
    let ok = proof.leaf_index == e.seq
        && proof.leaf_hash == e.hash
        && proof.tree_size == cp.size
        && merkle::verify_inclusion(&e.hash, e.seq, cp.size, &proof.hashes, &cp.root).is_ok();
    if !ok {
        return Err(lie(
            url,
            "bad-inclusion-proof",
            at(&format!(
                "entry {} is not proved included in the signed checkpoint of size {}",
                e.seq, cp.size
            )),
        ));
    }
    Ok(Receipt {
        seq: e.seq,
        hash: e.hash,
        created,
        tree_size: cp.size,
        root: cp.root,
    })
}
