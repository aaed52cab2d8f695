//! The attribution model (pure): facts extracted from entries, merge outcomes, scores.
//!
//! # Facts
//!
//! Entries are folded, in ledger order, into [`Facts`] by [`Facts::apply`]:
//!
//! * `merge` → a merge (author, `merge_commit`, scope mask of the paths it touched);
//! * `deploy` with status `succeeded` or `failed` → a deploy; every merge in its `merges`
//!   body field (written by `append deploy --repo`) is marked as shipped by it. A merge named
//!   there without a `merge` entry is still counted, with the author the deploy recorded. A
//!   deploy without a `merges` field ships the merge whose `merge_commit` equals its `commit`,
//!   if any. `started` deploys are ignored;
//! * `rollback` → marks the deploy it undoes, by the rule of [`crate::rollback`] that the
//!   metrics share: `undoes_seq`; without it, the newest earlier succeeded deploy of the same
//!   env whose version is `from_version`, or none;
//! * `approval` without a `gate` field (a person's approval) → an approval of its `subject`.
//!   Approvals written by gates are evidence of decisions, not approvals.
//!
//! # Outcomes (at time `now`, window `W`)
//!
//! Entries with `ts > now` are ignored. For each merge, over the deploys that shipped it:
//! a **failure** if one of them failed (evidence: the deploy) or was rolled back at most `W`
//! after it (evidence: the rollback); otherwise a **success** if one of them succeeded at least
//! `W` before `now` (evidence: the deploy); otherwise **pending** (not counted). The earliest
//! evidence decides the evidence time.
//!
//! # Score
//!
//! Each outcome weighs `w = 2^(-(now - t)/H)` (t = evidence time, H = half-life). With
//! `S = Σ w` over successes, `F = Σ w` over failures and the Beta prior (α, β):
//! `score = (α + S) / (α + β + S + F)`, in [0, 1]. Per-mille values are `round(x · 1000)`
//! (half away from zero). An author with no merge scores the prior mean `α / (α + β)`.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::ledger::body::Kind;
use crate::rollback::{self, DeployRef, RollbackRef};
use crate::trust::policy::Policy;

/// Status of a recorded deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployStatus {
    /// `succeeded`.
    Succeeded,
    /// `failed`.
    Failed,
}

/// A merge known to the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeFact {
    /// Seq of its `merge` entry (`None` when only a deploy named it).
    pub seq: Option<u64>,
    /// Time of its entry (ms since the epoch).
    pub ts_ms: i64,
    /// Author (index into [`Facts::actors`]).
    pub author: u32,
    /// Merge commit (as recorded).
    pub commit: String,
    /// Gates (bit i = policy gate i) whose patterns its paths matched.
    pub scope: u64,
    /// Deploys that shipped it (indexes into [`Facts::deploys`]).
    pub ships: Vec<u32>,
    /// Recorded through the gate: its `merge` entry names (`approval_seq`) an allowing gate
    /// decision on the same source commit for the same author. Only gated merges earn
    /// successes (unless `[trust] count_ungated = true`).
    pub gated: bool,
    /// Its author was established (`author_verification`: a signed commit, or an attestor),
    /// so a failure of an ungated merge still counts against them.
    pub verified: bool,
}

/// An allowing gate decision on a source commit: an `approval` entry written by a gate (it has
/// a `gate` field) with `decision` allow, `actor` and `source_commit` (what `ledger merge`
/// records before it merges). A `merge` entry naming its seq is gated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateAllow {
    /// Seq of the approval entry.
    pub seq: u64,
    /// The author the gate let through (index into [`Facts::actors`]).
    pub author: u32,
    /// The source commit decided on.
    pub source_commit: String,
}

/// A deploy with a final status.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployFact {
    /// Seq of the entry.
    pub seq: u64,
    /// Time of the entry (ms).
    pub ts_ms: i64,
    /// Environment (index into [`Facts::envs`]).
    pub env: u32,
    /// Version deployed.
    pub version: String,
    /// Commit deployed.
    pub commit: String,
    /// Final status.
    pub status: DeployStatus,
    /// First rollback that undid it: (seq, ts ms).
    pub rollback: Option<(u64, i64)>,
}

/// An incident opened and not resolved yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIncident {
    /// Seq of its `opened` entry.
    pub seq: u64,
    /// Environment (index into [`Facts::envs`]).
    pub env: u32,
    /// Its id (the body's `incident`).
    pub id: String,
}

/// A person's approval (or denial) of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFact {
    /// Seq of the entry.
    pub seq: u64,
    /// Time of the entry (ms).
    pub ts_ms: i64,
    /// The change it is bound to: one of its [`approval_keys`].
    pub subject: String,
    /// Who approved (index into [`Facts::actors`]).
    pub approver: u32,
    /// `allow` (true) or `deny`.
    pub allow: bool,
}

/// A git-signer key as the fold learned it from the ledger's `key` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSignerFact {
    /// Key id (16 hex).
    pub key_id: String,
    /// The raw Ed25519 public key (the `ssh-ed25519` key's 32 bytes).
    pub public_key: [u8; 32],
    /// The identity the `add-git-signer` entry binds it to.
    pub identity: String,
    /// seq of the `add-git-signer` entry.
    pub added_at: u64,
    /// seq of its `revoke` entry, if any.
    pub revoked_at: Option<u64>,
}

impl GitSignerFact {
    /// Whether the key is trusted for entry `seq`: added by an earlier entry and not revoked
    /// by an earlier one (the rule of [`crate::keys::history::KeyState::git_signer_at`]).
    pub fn trusted_at(&self, seq: u64) -> bool {
        self.added_at < seq && self.revoked_at.is_none_or(|r| seq <= r)
    }
}

/// Everything scoring needs, folded from the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Interned actor names.
    pub actors: Vec<String>,
    /// Interned environment names.
    pub envs: Vec<String>,
    /// Merges, in order of first mention.
    pub merges: Vec<MergeFact>,
    /// Deploys, in seq order.
    pub deploys: Vec<DeployFact>,
    /// Approvals by people, in seq order: only those signed by a key with an identity, under
    /// that identity (free-text `actor` names never count).
    pub approvals: Vec<ApprovalFact>,
    /// (key id, identity) of every `key add` entry that named an identity.
    pub identities: Vec<(String, String)>,
    /// Allowing gate decisions on source commits, in seq order.
    pub gate_allows: Vec<GateAllow>,
    /// Every git-signer key (`add-git-signer` entries) with its identity and the seqs of its
    /// `add` and `revoke` entries, in the order they were added: whose commits a key's SSH
    /// signature establishes, at any point of the log ([`Facts::git_signers_at`]). Kept apart
    /// from `identities` on purpose: a git-signer key signs nothing in the ledger, so it must
    /// never make an approval count.
    pub git_signers: Vec<GitSignerFact>,
    /// Incidents open now (an `incident` entry with status `opened` and no `resolved` one of
    /// the same id and env yet), in the order they were opened: what the append path checks
    /// an incident entry against.
    pub open_incidents: Vec<OpenIncident>,
    index: Option<Index>,
    // Built only when a merge must be found by commit (decoding a cache does not need it).
    commits: Option<HashMap<String, u32>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Index {
    actors: HashMap<String, u32>,
    envs: HashMap<String, u32>,
}

/// Milliseconds since the epoch of an entry timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`).
pub fn ts_ms(ts: &str) -> Option<i64> {
    // A hand-rolled reader of the one fixed layout: chrono's format parser dominated profiles
    // of the cold fold (one call per relevant entry).
    let b = ts.as_bytes();
    if b.len() != 24
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || b.get(19) != Some(&b'.')
        || b.get(23) != Some(&b'Z')
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let time = chrono::NaiveTime::from_hms_milli_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        num(20, 23)?,
    )?;
    Some(date.and_time(time).and_utc().timestamp_millis())
}

/// Entry timestamp of milliseconds since the epoch ([`crate::time::format_ts`]).
pub fn ms_ts(ms: i64) -> String {
    crate::time::format_ts(ms)
}

/// The body fields the model reads. The fold deserializes lines straight into it (borrowing
/// the strings); a body whose fields have other types or escapes falls back to
/// [`BodyView::from_value`], which skips what does not fit.
#[derive(Debug, Default, serde::Deserialize)]
pub struct BodyView<'a> {
    #[serde(default)]
    author: Option<&'a str>,
    #[serde(default)]
    merge_commit: Option<&'a str>,
    #[serde(default)]
    paths: Option<Vec<&'a str>>,
    #[serde(default)]
    env: Option<&'a str>,
    #[serde(default)]
    version: Option<&'a str>,
    #[serde(default)]
    commit: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
    #[serde(default)]
    from_version: Option<&'a str>,
    #[serde(default)]
    subject: Option<&'a str>,
    #[serde(default)]
    decision: Option<&'a str>,
    #[serde(default)]
    merges: Option<Vec<MergeRef<'a>>>,
    #[serde(default)]
    undoes_seq: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    gate: bool,
    #[serde(default)]
    actor: Option<&'a str>,
    #[serde(default)]
    source_commit: Option<&'a str>,
    #[serde(default)]
    approval_seq: Option<u64>,
    #[serde(default)]
    target: Option<&'a str>,
    #[serde(default)]
    diff_sha256: Option<&'a str>,
    #[serde(default)]
    change: Option<&'a str>,
    #[serde(default)]
    author_verification: Option<&'a str>,
    #[serde(default)]
    incident: Option<&'a str>,
}

/// One item of a deploy's `merges`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct MergeRef<'a> {
    #[serde(default)]
    merge_commit: Option<&'a str>,
    #[serde(default)]
    author: Option<&'a str>,
    #[serde(default)]
    author_verification: Option<&'a str>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v: Option<serde::de::IgnoredAny> = serde::Deserialize::deserialize(d)?;
    Ok(v.is_some())
}

impl<'a> BodyView<'a> {
    /// Lenient view of a JSON body: fields of another type count as absent.
    pub fn from_value(v: &'a Value) -> BodyView<'a> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        BodyView {
            author: s("author"),
            merge_commit: s("merge_commit"),
            paths: v
                .get("paths")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect()),
            env: s("env"),
            version: s("version"),
            commit: s("commit"),
            status: s("status"),
            from_version: s("from_version"),
            subject: s("subject"),
            decision: s("decision"),
            merges: v.get("merges").and_then(Value::as_array).map(|a| {
                a.iter()
                    .map(|m| MergeRef {
                        merge_commit: m.get("merge_commit").and_then(Value::as_str),
                        author: m.get("author").and_then(Value::as_str),
                        author_verification: m.get("author_verification").and_then(Value::as_str),
                    })
                    .collect()
            }),
            undoes_seq: v.get("undoes_seq").and_then(Value::as_u64),
            gate: v.get("gate").is_some_and(|g| !g.is_null()),
            actor: s("actor"),
            source_commit: s("source_commit"),
            approval_seq: v.get("approval_seq").and_then(Value::as_u64),
            target: s("target"),
            diff_sha256: s("diff_sha256"),
            change: s("change"),
            author_verification: s("author_verification"),
            incident: s("incident"),
        }
    }

    /// The changes a person's approval with this body is bound to ([`approval_keys`]).
    pub fn approval_keys(&self) -> Vec<String> {
        approval_keys(
            self.source_commit,
            self.target,
            self.diff_sha256,
            self.change,
        )
    }

    /// An `approval` body written by a gate (it has a `gate` field): a decision, not a
    /// person's approval.
    pub fn is_gate(&self) -> bool {
        self.gate
    }

    fn get(&self, k: &str) -> &'a str {
        let f = match k {
            "author" => self.author,
            "merge_commit" => self.merge_commit,
            "env" => self.env,
            "version" => self.version,
            "commit" => self.commit,
            "status" => self.status,
            "from_version" => self.from_version,
            "subject" => self.subject,
            "decision" => self.decision,
            "actor" => self.actor,
            "source_commit" => self.source_commit,
            "target" => self.target,
            "diff_sha256" => self.diff_sha256,
            "change" => self.change,
            "incident" => self.incident,
            _ => None,
        };
        f.unwrap_or("")
    }
}

impl Facts {
    /// Facts from their parts (the lookup tables are built on first use).
    pub fn from_parts(
        actors: Vec<String>,
        envs: Vec<String>,
        merges: Vec<MergeFact>,
        deploys: Vec<DeployFact>,
        approvals: Vec<ApprovalFact>,
        identities: Vec<(String, String)>,
        gate_allows: Vec<GateAllow>,
    ) -> Facts {
        Facts {
            actors,
            envs,
            merges,
            deploys,
            approvals,
            identities,
            gate_allows,
            git_signers: Vec::new(),
            open_incidents: Vec::new(),
            index: None,
            commits: None,
        }
    }

    /// Build the lookup tables (after decoding; before [`Facts::apply`]).
    fn index(&mut self) -> &mut Index {
        if self.index.is_none() {
            let mut ix = Index::default();
            for (i, a) in self.actors.iter().enumerate() {
                ix.actors.insert(a.clone(), i as u32);
            }
            for (i, e) in self.envs.iter().enumerate() {
                ix.envs.insert(e.clone(), i as u32);
            }
            self.index = Some(ix);
        }
        self.index.get_or_insert_with(Index::default)
    }

    fn commits(&mut self) -> &mut HashMap<String, u32> {
        if self.commits.is_none() {
            let map = self
                .merges
                .iter()
                .enumerate()
                .map(|(i, m)| (m.commit.clone(), i as u32))
                .collect();
            self.commits = Some(map);
        }
        self.commits.get_or_insert_with(HashMap::new)
    }

    fn intern_actor(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index().actors.get(name) {
            return i;
        }
        let i = self.actors.len() as u32;
        self.actors.push(name.to_string());
        self.index().actors.insert(name.to_string(), i);
        i
    }

    fn intern_env(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index().envs.get(name) {
            return i;
        }
        let i = self.envs.len() as u32;
        self.envs.push(name.to_string());
        self.index().envs.insert(name.to_string(), i);
        i
    }

    /// Index of an actor, if known.
    pub fn actor(&self, name: &str) -> Option<u32> {
        match &self.index {
            Some(ix) => ix.actors.get(name).copied(),
            None => self.actors.iter().position(|a| a == name).map(|i| i as u32),
        }
    }

    /// The merge whose commit is `commit`.
    pub fn merge_by_commit(&mut self, commit: &str) -> Option<&MergeFact> {
        let i = *self.commits().get(commit)?;
        self.merges.get(i as usize)
    }

    /// The deploy entry with this seq.
    pub fn deploy_by_seq(&self, seq: u64) -> Option<&DeployFact> {
        let i = self.deploys.binary_search_by_key(&seq, |d| d.seq).ok()?;
        self.deploys.get(i)
    }

    /// Without a version: the newest succeeded deploy of `env` before `before_seq`. With a
    /// version: the deploy a rollback from that version undoes ([`crate::rollback::undone`]:
    /// the newest succeeded *or failed* deploy of that version), which the append path records.
    pub fn last_success(
        &self,
        env: &str,
        version: Option<&str>,
        before_seq: u64,
    ) -> Option<&DeployFact> {
        if let Some(v) = version {
            let rb = RollbackRef {
                seq: before_seq,
                env,
                from_version: v,
                undoes_seq: None,
            };
            return self.undone(&rb).and_then(|i| self.deploys.get(i));
        }
        let env = self.envs.iter().position(|e| e == env)? as u32;
        self.deploys
            .iter()
            .rev()
            .find(|d| d.seq < before_seq && d.env == env && d.status == DeployStatus::Succeeded)
    }

    /// Index in [`Facts::deploys`] of the deploy rollback `r` undid ([`crate::rollback`]).
    fn undone(&self, r: &RollbackRef<'_>) -> Option<usize> {
        rollback::undone(r, &self.deploys, |d| DeployRef {
            seq: d.seq,
            env: self.envs.get(d.env as usize).map_or("", String::as_str),
            version: &d.version,
            // Only succeeded and failed deploys are folded in.
            terminal: true,
        })
    }

    /// Fold one entry in (entries must come in seq order). `mask` gives the scope mask of a
    /// merge's paths under the current policy. Malformed optional fields are skipped: entries
    /// were validated on append, and scoring never fails on history.
    pub fn apply(
        &mut self,
        seq: u64,
        ts: &str,
        kind: Kind,
        actor: &str,
        body: &Value,
        mask: &dyn Fn(&[&str]) -> u64,
    ) {
        self.apply_view(seq, ts, kind, actor, &BodyView::from_value(body), mask);
    }

    /// [`Facts::apply`] on the fields of a body the model reads (what the fold deserializes).
    pub fn apply_view(
        &mut self,
        seq: u64,
        ts: &str,
        kind: Kind,
        actor: &str,
        body: &BodyView<'_>,
        mask: &dyn Fn(&[&str]) -> u64,
    ) {
        let Some(t) = ts_ms(ts) else { return };
        match kind {
            Kind::Merge => {
                let commit = body.get("merge_commit").to_string();
                // The first record of a merge commit fixes its attribution: a second merge
                // entry, or one written after a deploy named the commit, changes nothing (and
                // `append` refuses both).
                if self.commits().contains_key(&commit) {
                    return;
                }
                let scope = mask(body.paths.as_deref().unwrap_or_default());
                let author = self.intern_actor(body.get("author"));
                let source = body.get("source_commit");
                let gated = match body.approval_seq {
                    Some(a) if !source.is_empty() => self
                        .gate_allows
                        .binary_search_by_key(&a, |g| g.seq)
                        .ok()
                        .and_then(|i| self.gate_allows.get(i))
                        .is_some_and(|g| g.author == author && g.source_commit == source),
                    _ => false,
                };
                self.push_merge(MergeFact {
                    seq: Some(seq),
                    ts_ms: t,
                    author,
                    commit,
                    scope,
                    ships: Vec::new(),
                    gated,
                    verified: body.author_verification.is_some_and(|v| !v.is_empty()),
                });
            }
            Kind::Deploy => {
                let status = match body.get("status") {
                    "succeeded" => DeployStatus::Succeeded,
                    "failed" => DeployStatus::Failed,
                    _ => return,
                };
                let env = self.intern_env(body.get("env"));
                let d = self.deploys.len() as u32;
                let commit = body.get("commit").to_string();
                self.deploys.push(DeployFact {
                    seq,
                    ts_ms: t,
                    env,
                    version: body.get("version").to_string(),
                    commit: commit.clone(),
                    status,
                    rollback: None,
                });
                match body.merges.as_deref() {
                    Some(list) => {
                        for m in list {
                            let c = m.merge_commit.unwrap_or("");
                            if c.is_empty() {
                                continue;
                            }
                            let i = match self.commits().get(c) {
                                Some(&i) => i,
                                None => {
                                    let author = m.author.unwrap_or("");
                                    if author.is_empty() {
                                        continue;
                                    }
                                    let author = self.intern_actor(author);
                                    self.push_merge(MergeFact {
                                        seq: None,
                                        ts_ms: t,
                                        author,
                                        commit: c.to_string(),
                                        scope: 0,
                                        ships: Vec::new(),
                                        gated: false,
                                        verified: m
                                            .author_verification
                                            .is_some_and(|v| !v.is_empty()),
                                    })
                                }
                            };
                            if let Some(mf) = self.merges.get_mut(i as usize) {
                                if !mf.ships.contains(&d) {
                                    mf.ships.push(d);
                                }
                            }
                        }
                    }
                    None => {
                        if let Some(&i) = self.commits().get(&commit) {
                            if let Some(mf) = self.merges.get_mut(i as usize) {
                                mf.ships.push(d);
                            }
                        }
                    }
                }
            }
            Kind::Rollback => {
                let rb = RollbackRef {
                    seq,
                    env: body.get("env"),
                    from_version: body.get("from_version"),
                    undoes_seq: body.undoes_seq,
                };
                let target = self.undone(&rb);
                if let Some(d) = target.and_then(|i| self.deploys.get_mut(i)) {
                    if d.rollback.is_none() {
                        d.rollback = Some((seq, t));
                    }
                }
            }
            Kind::Incident => {
                let id = body.get("incident");
                if id.is_empty() {
                    return;
                }
                let env = self.intern_env(body.get("env"));
                match body.get("status") {
                    "opened" => self.open_incidents.push(OpenIncident {
                        seq,
                        env,
                        id: id.to_string(),
                    }),
                    "resolved" => self
                        .open_incidents
                        .retain(|o| !(o.env == env && o.id == id)),
                    _ => {}
                }
            }
            Kind::Approval => {
                if body.gate {
                    let (who, source) = (body.get("actor"), body.get("source_commit"));
                    if body.get("decision") == "allow" && !who.is_empty() && !source.is_empty() {
                        let author = self.intern_actor(who);
                        self.gate_allows.push(GateAllow {
                            seq,
                            author,
                            source_commit: source.to_string(),
                        });
                    }
                    return;
                }
                // Bound to the change it names; an approval that names none (a bare
                // subject) counts for nothing.
                let allow = body.get("decision") == "allow";
                let keys = body.approval_keys();
                if keys.is_empty() {
                    return;
                }
                let approver = self.intern_actor(&normalize_identity(actor));
                for subject in keys {
                    self.approvals.push(ApprovalFact {
                        seq,
                        ts_ms: t,
                        subject,
                        approver,
                        allow,
                    });
                }
            }
            _ => {}
        }
    }

    /// The latest time (ms) of any fact: a decision made at an earlier time would leave some
    /// out (entries with `ts > now` are ignored), so a recorded decision must not be older.
    pub fn newest_ms(&self) -> Option<i64> {
        let merges = self.merges.iter().map(|m| m.ts_ms);
        let deploys = self
            .deploys
            .iter()
            .flat_map(|d| std::iter::once(d.ts_ms).chain(d.rollback.map(|r| r.1)));
        let approvals = self.approvals.iter().map(|a| a.ts_ms);
        merges.chain(deploys).chain(approvals).max()
    }

    /// Fold the `key` entry `seq` in: the identity a `key add` entry binds to its key, a
    /// git-signer key added (`add-git-signer`, with its identity) or revoked.
    pub fn note_key(&mut self, seq: u64, body: &Value) {
        let field = |k: &str| body.get(k).and_then(Value::as_str);
        match (field("action"), field("key_id"), field("identity")) {
            (Some("add"), Some(id), Some(who))
                if !who.is_empty() && self.identity_of(id).is_none() =>
            {
                self.identities.push((id.to_string(), who.to_string()));
            }
            (Some("add-git-signer"), Some(id), Some(who)) => {
                let mut public_key = [0u8; 32];
                let parsed = field("public_key")
                    .is_some_and(|h| hex::decode_to_slice(h, &mut public_key).is_ok());
                let known = self.git_signers.iter().any(|g| g.key_id == id);
                if parsed && !who.is_empty() && !known {
                    self.git_signers.push(GitSignerFact {
                        key_id: id.to_string(),
                        public_key,
                        identity: who.to_string(),
                        added_at: seq,
                        revoked_at: None,
                    });
                }
            }
            (Some("revoke"), Some(id), _) => {
                if let Some(g) = self
                    .git_signers
                    .iter_mut()
                    .find(|g| g.key_id == id && g.revoked_at.is_none())
                {
                    g.revoked_at = Some(seq);
                }
            }
            _ => {}
        }
    }

    /// The git-signer keys trusted for entry `seq` (added before it, not revoked before it),
    /// with their identities. With `seq` = the number of entries folded: those trusted now.
    pub fn git_signers_at(&self, seq: u64) -> impl Iterator<Item = &GitSignerFact> {
        self.git_signers.iter().filter(move |g| g.trusted_at(seq))
    }

    /// The identity of git-signer key `id` if it is trusted for entry `seq`.
    pub fn git_signer_identity_at(&self, id: &str, seq: u64) -> Option<&str> {
        self.git_signers_at(seq)
            .find(|g| g.key_id == id)
            .map(|g| g.identity.as_str())
    }

    /// The identity of key `id`, if its `key add` entry named one.
    pub fn identity_of(&self, id: &str) -> Option<&str> {
        self.identities
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, who)| who.as_str())
    }

    fn push_merge(&mut self, m: MergeFact) -> u32 {
        let i = self.merges.len() as u32;
        self.commits().insert(m.commit.clone(), i);
        self.merges.push(m);
        i
    }

    /// The people's verdicts on a change known by `keys` ([`change_keys`]) as of `now_ms`:
    /// for each approver whose identity is not `author`'s ([`normalize_identity`]), their
    /// latest approval bound to one of `keys`, not newer than `now_ms` and not older than
    /// `ttl_ms`. Returns the approvers whose latest word is `allow` and those whose latest
    /// word is `deny` (with its seq), each sorted.
    pub fn verdicts(
        &self,
        keys: &[String],
        author: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> (Vec<String>, Vec<(String, u64)>) {
        let author = normalize_identity(author);
        let mut latest: HashMap<u32, &ApprovalFact> = HashMap::new();
        for a in &self.approvals {
            let fresh = a.ts_ms <= now_ms && now_ms.saturating_sub(a.ts_ms) <= ttl_ms;
            if !fresh || !keys.contains(&a.subject) {
                continue;
            }
            let e = latest.entry(a.approver).or_insert(a);
            if a.seq > e.seq {
                *e = a;
            }
        }
        let mut allow = Vec::new();
        let mut deny = Vec::new();
        for (who, a) in latest {
            let Some(name) = self.actors.get(who as usize) else {
                continue;
            };
            if normalize_identity(name) == author {
                continue;
            }
            if a.allow {
                allow.push(name.clone());
            } else {
                deny.push((name.clone(), a.seq));
            }
        }
        allow.sort();
        deny.sort();
        (allow, deny)
    }
}

/// An identity as compared: surrounding white space removed and lower-cased (`" Alice "`,
/// `"ALICE"` and `"alice"` are one person). Key identities and authors are compared in this
/// form, never as typed.
pub fn normalize_identity(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The changes an approval body is bound to: `commit:<source_commit>@<target>` (or
/// `commit:<source_commit>` without a target) when it names `source_commit`;
/// `diff:<diff_sha256>` when it names the archived diff; `change` as given when it names a
/// change id ([`change_id`]). Empty for an approval that names none of them: it counts for
/// nothing.
pub fn approval_keys(
    source_commit: Option<&str>,
    target: Option<&str>,
    diff_sha256: Option<&str>,
    change: Option<&str>,
) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(sc) = source_commit.filter(|s| !s.is_empty()) {
        keys.push(match target.filter(|t| !t.is_empty()) {
            Some(t) => format!("commit:{sc}@{t}"),
            None => format!("commit:{sc}"),
        });
    }
    if let Some(d) = diff_sha256.filter(|s| !s.is_empty()) {
        keys.push(format!("diff:{d}"));
    }
    if let Some(c) = change.filter(|s| !s.is_empty()) {
        keys.push(c.to_string());
    }
    keys
}

/// The id of `author`'s change to `paths` (normalised, in any order): `change:<author>:<first
/// 16 hex of SHA-256 of the sorted paths joined by newlines>`. What an approval names with
/// `change` when there is no commit to name.
pub fn change_id(author: &str, paths: &[String]) -> String {
    use sha2::Digest as _;
    let mut sorted: Vec<&str> = paths.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let digest = sha2::Sha256::digest(sorted.join("\n").as_bytes());
    format!(
        "change:{author}:{}",
        hex::encode(digest.get(..8).unwrap_or_default())
    )
}

/// The keys a gate looks approvals up by, for `author`'s change to `paths`: the change id,
/// and, when the change is a commit, `commit:<source>` and `commit:<source>@<target>`, and
/// `diff:<sha256>` of its archived diff.
pub fn change_keys(
    author: &str,
    paths: &[String],
    source_commit: Option<&str>,
    target: Option<&str>,
    diff_sha256: Option<&str>,
) -> Vec<String> {
    let mut keys = vec![change_id(author, paths)];
    if let Some(sc) = source_commit.filter(|s| !s.is_empty()) {
        keys.push(format!("commit:{sc}"));
        if let Some(t) = target.filter(|t| !t.is_empty()) {
            keys.push(format!("commit:{sc}@{t}"));
        }
    }
    if let Some(d) = diff_sha256.filter(|s| !s.is_empty()) {
        keys.push(format!("diff:{d}"));
    }
    keys
}

/// What became of a merge, as of some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Shipped and not rolled back within the window.
    Success {
        /// Evidence entry (the deploy).
        seq: u64,
        /// Evidence time (ms).
        ts_ms: i64,
    },
    /// Its deploy failed or was rolled back within the window.
    Failure {
        /// Evidence entry (the failed deploy or the rollback).
        seq: u64,
        /// Evidence time (ms).
        ts_ms: i64,
    },
    /// Not shipped yet, or still inside the window.
    Pending,
}

/// The outcome of `m` at `now_ms` under window `window_ms` (see the module docs).
pub fn outcome(facts: &Facts, m: &MergeFact, window_ms: i64, now_ms: i64) -> Outcome {
    let mut fail: Option<(u64, i64)> = None;
    let mut ok: Option<(u64, i64)> = None;
    let earliest = |cur: Option<(u64, i64)>, new: (u64, i64)| match cur {
        Some(c) if c.0 <= new.0 => Some(c),
        _ => Some(new),
    };
    for &d in &m.ships {
        let Some(d) = facts.deploys.get(d as usize) else {
            continue;
        };
        if d.ts_ms > now_ms {
            continue;
        }
        match d.status {
            DeployStatus::Failed => fail = earliest(fail, (d.seq, d.ts_ms)),
            DeployStatus::Succeeded => match d.rollback {
                Some((rs, rt)) if rt <= now_ms && rt.saturating_sub(d.ts_ms) <= window_ms => {
                    fail = earliest(fail, (rs, rt))
                }
                _ if now_ms.saturating_sub(d.ts_ms) >= window_ms => {
                    ok = earliest(ok, (d.seq, d.ts_ms))
                }
                _ => {}
            },
        }
    }
    match (fail, ok) {
        (Some((seq, ts_ms)), _) => Outcome::Failure { seq, ts_ms },
        (None, Some((seq, ts_ms))) => Outcome::Success { seq, ts_ms },
        (None, None) => Outcome::Pending,
    }
}

/// How many newest evidence seqs a breakdown lists.
pub const NEWEST: usize = 5;

/// A score with its breakdown: never a bare number.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// The author scored.
    pub actor: String,
    /// False when the ledger has no merge by this author: the score is the prior.
    pub known: bool,
    /// Gate whose paths limit the merges counted (`None`: all merges).
    pub scope: Option<String>,
    /// Merges that succeeded.
    pub successes: u64,
    /// Merges that failed.
    pub failures: u64,
    /// Merges without an outcome yet.
    pub pending: u64,
    /// Shipped merges that did not count because they were not gated (a success, or a failure
    /// of an ungated merge): see `[trust] count_ungated`.
    pub ungated: u64,
    /// Σ decayed weights of successes.
    pub success_weight: f64,
    /// Σ decayed weights of failures.
    pub failure_weight: f64,
    /// The score in [0, 1].
    pub score: f64,
    /// Seqs of the newest evidence entries (newest first, at most [`NEWEST`]).
    pub newest: Vec<u64>,
    /// Prior α and β used.
    pub prior: (f64, f64),
    /// Time evaluated at (ms).
    pub as_of_ms: i64,
}

/// Per-mille of a value in [0, ∞): `round(x · 1000)`.
pub fn permille(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

impl Score {
    /// Merges with a known outcome (what `min_history` counts).
    pub fn history(&self) -> u64 {
        self.successes + self.failures
    }

    /// The score in per-mille.
    pub fn permille(&self) -> i64 {
        permille(self.score)
    }

    /// The breakdown as JSON with integers only (what entries store).
    pub fn breakdown(&self) -> Value {
        json!({
            "known": self.known,
            "scope": self.scope.clone().unwrap_or_else(|| "all".into()),
            "successes": self.successes,
            "failures": self.failures,
            "pending": self.pending,
            "ungated": self.ungated,
            "success_weight_permille": permille(self.success_weight),
            "failure_weight_permille": permille(self.failure_weight),
            "prior_successes_permille": permille(self.prior.0),
            "prior_failures_permille": permille(self.prior.1),
            "newest_evidence": self.newest,
            "as_of": ms_ts(self.as_of_ms),
        })
    }
}

/// Score `actor` at `now_ms`; with `scope = Some(i)` only merges whose paths matched gate `i`.
pub fn score(
    facts: &Facts,
    policy: &Policy,
    actor: &str,
    scope: Option<usize>,
    now_ms: i64,
) -> Score {
    let (a, b) = (policy.prior_successes, policy.prior_failures);
    let mut sc = Score {
        actor: actor.to_string(),
        known: false,
        scope: scope
            .and_then(|i| policy.gates.get(i))
            .map(|g| g.name.clone()),
        successes: 0,
        failures: 0,
        pending: 0,
        ungated: 0,
        success_weight: 0.0,
        failure_weight: 0.0,
        score: a / (a + b),
        newest: Vec::new(),
        prior: (a, b),
        as_of_ms: now_ms,
    };
    let Some(who) = facts.actor(actor) else {
        return sc;
    };
    let mut evidence: Vec<u64> = Vec::new();
    for m in facts.merges.iter().filter(|m| m.author == who) {
        // Not yet recorded at `now_ms`: a merge entry after it, or a merge that only a deploy
        // after it names (its time is that deploy's).
        if m.ts_ms > now_ms {
            continue;
        }
        sc.known = true;
        if let Some(i) = scope {
            if m.scope & (1u64 << i) == 0 {
                continue;
            }
        }
        let weight =
            |t: i64| 0.5f64.powf(now_ms.saturating_sub(t).max(0) as f64 / policy.half_life_ms);
        // Gated merges count both ways; an ungated one never earns a success, and its failure
        // counts only against an established author (count_ungated: wave 1, all count).
        let counts = m.gated || policy.count_ungated;
        match outcome(facts, m, policy.window_ms, now_ms) {
            Outcome::Success { .. } if !counts => sc.ungated += 1,
            Outcome::Failure { .. } if !counts && !m.verified => sc.ungated += 1,
            Outcome::Success { seq, ts_ms } => {
                sc.successes += 1;
                sc.success_weight += weight(ts_ms);
                evidence.push(seq);
            }
            Outcome::Failure { seq, ts_ms } => {
                sc.failures += 1;
                sc.failure_weight += weight(ts_ms);
                evidence.push(seq);
            }
            Outcome::Pending => sc.pending += 1,
        }
    }
    evidence.sort_unstable_by(|x, y| y.cmp(x));
    evidence.dedup();
    evidence.truncate(NEWEST);
    sc.newest = evidence;
    sc.score = (a + sc.success_weight) / (a + b + sc.success_weight + sc.failure_weight);
    sc
}

/// The score of every author with a merge in `facts`, over all their merges (no scope), at
/// `now_ms`, sorted by author name. Authors whose merges all come after `now_ms` are listed with
/// the prior (`known` false), like any author [`score`] does not know yet.
pub fn scores_of_authors(facts: &Facts, policy: &Policy, now_ms: i64) -> Vec<Score> {
    let mut authors: Vec<&String> = facts
        .merges
        .iter()
        .filter_map(|m| facts.actors.get(m.author as usize))
        .collect();
    authors.sort();
    authors.dedup();
    authors
        .into_iter()
        .map(|a| score(facts, policy, a, None, now_ms))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn ts(day: i64) -> String {
        ms_ts(1_700_000_000_000 + day * DAY)
    }

    /// The score arithmetic is tested on plain merge entries: every merge counts.
    fn policy(extra: &str) -> Policy {
        Policy::from_toml(&format!(
            "half_life_days = 10\nwindow_hours = 24\ncount_ungated = true\n{extra}"
        ))
        .unwrap()
    }

    fn gate_allow(f: &mut Facts, seq: u64, author: &str, source: &str) {
        let body = json!({"subject": "s", "decision": "allow", "reasons": ["ok"], "gate": "default", "actor": author, "source_commit": source});
        f.apply(
            seq,
            &ts(0),
            Kind::Approval,
            "ledger/trust-gate",
            &body,
            &|_| 0,
        );
    }

    fn gated_merge(
        f: &mut Facts,
        seq: u64,
        author: &str,
        commit: &str,
        source: &str,
        approval: u64,
    ) {
        let body = json!({"author": author, "merge_commit": commit, "source_commit": source, "approval_seq": approval, "paths": ["a"]});
        f.apply(seq, &ts(0), Kind::Merge, "bot", &body, &|_| 0);
    }

    #[test]
    fn window_boundaries_to_the_millisecond_and_merges_a_later_deploy_names() {
        // W = 24 h, rounded to whole milliseconds (24.0000000001 h is 86,400,000 ms).
        let p = policy("");
        let q = Policy::from_toml("window_hours = 24.0000000001").unwrap();
        assert_eq!((p.window_ms, q.window_ms), (DAY, DAY));
        let mut f = Facts::default();
        merge(&mut f, 0, 0, "ann", "m1", &[], &p);
        deploy(&mut f, 1, 0, "v1", "succeeded", &["m1"]);
        let t0 = 1_700_000_000_000;
        // One millisecond short of W: pending; exactly W after the deploy: a success.
        let s = score(&f, &p, "ann", None, t0 + DAY - 1);
        assert_eq!((s.successes, s.pending), (0, 1));
        let s = score(&f, &p, "ann", None, t0 + DAY);
        assert_eq!((s.successes, s.pending), (1, 0));
        // A rollback exactly W after its deploy still undoes it (a failure); 1 ms later not.
        let rollback = |f: &mut Facts, seq: u64, at: i64, version: &str| {
            f.apply(
                seq,
                &ms_ts(at),
                Kind::Rollback,
                "ops",
                &json!({"env": "prod", "from_version": version, "to_version": "v0", "trigger": "x"}),
                &|_| 0,
            );
        };
        let mut g = f.clone();
        rollback(&mut g, 2, t0 + DAY, "v1");
        assert_eq!(score(&g, &p, "ann", None, t0 + 2 * DAY).failures, 1);
        let mut h = f.clone();
        rollback(&mut h, 2, t0 + DAY + 1, "v1");
        assert_eq!(score(&h, &p, "ann", None, t0 + 2 * DAY).successes, 1);
        // A merge that only a deploy on day 5 names does not exist before day 5.
        let list = vec![json!({"merge_commit": "m9", "author": "eve"})];
        let body = json!({"env": "prod", "version": "v9", "commit": "x", "status": "succeeded", "merges": list});
        f.apply(3, &ts(5), Kind::Deploy, "ci", &body, &|_| 0);
        let before = score(&f, &p, "eve", None, t0 + 3 * DAY);
        assert!(!before.known && before.pending == 0, "{before:?}");
        assert!(score(&f, &p, "eve", None, t0 + 5 * DAY).known);
    }

    #[test]
    fn only_gated_merges_earn_trust_and_the_first_record_of_a_commit_fixes_it() {
        let p = Policy::from_toml("window_hours = 24").unwrap();
        let mut f = Facts::default();
        gate_allow(&mut f, 0, "ann", "s1");
        gated_merge(&mut f, 1, "ann", "m1", "s1", 0); // gated
        merge(&mut f, 2, 0, "ann", "m2", &["a"], &p); // no approval: ungated
        gated_merge(&mut f, 3, "mal", "m3", "s1", 0); // ann's decision: not mal's
        gated_merge(&mut f, 4, "ann", "m4", "s9", 0); // another source commit
        gated_merge(&mut f, 5, "ann", "m1", "s1", 0); // a second record of m1: ignored
        assert_eq!(
            f.merges.iter().map(|m| m.gated).collect::<Vec<_>>(),
            [true, false, false, false]
        );
        deploy(&mut f, 6, 0, "v1", "succeeded", &["m1", "m2", "m3", "m4"]);
        let day2 = 1_700_000_000_000 + 2 * DAY;
        let s = score(&f, &p, "ann", None, day2);
        assert_eq!((s.successes, s.failures, s.ungated), (1, 0, 2));
        let m = score(&f, &p, "mal", None, day2);
        assert_eq!((m.successes, m.ungated, m.permille()), (0, 1, 500));
        // A commit a deploy named first keeps the deploy's attribution: a later merge entry,
        // gated or not, does not take it over.
        let list = vec![json!({"merge_commit": "m5", "author": "eve"})];
        let body = json!({"env": "prod", "version": "v2", "commit": "x", "status": "failed", "merges": list});
        f.apply(7, &ts(1), Kind::Deploy, "ci", &body, &|_| 0);
        gate_allow(&mut f, 8, "ann", "s5");
        gated_merge(&mut f, 9, "ann", "m5", "s5", 8);
        let m5 = f.merges.iter().find(|m| m.commit == "m5").unwrap();
        assert_eq!((m5.seq, m5.gated), (None, false));
        assert_eq!(
            f.actors.get(m5.author as usize).map(String::as_str),
            Some("eve")
        );
        // Its failure is ungated: it counts for nobody.
        let e = score(&f, &p, "eve", None, day2);
        assert_eq!((e.failures, e.ungated), (0, 1));
        // An ungated merge whose author was established (the deploy found its merge commit
        // signed by her git-signer key): its failure counts against her, a success would not.
        let list = vec![
            json!({"merge_commit": "m6", "author": "mal", "author_verification": "ssh-signature:0123456789abcdef"}),
        ];
        let body = json!({"env": "prod", "version": "v3", "commit": "y", "status": "failed", "merges": list});
        f.apply(10, &ts(1), Kind::Deploy, "ci", &body, &|_| 0);
        let m = score(&f, &p, "mal", None, day2);
        assert_eq!((m.successes, m.failures, m.ungated), (0, 1, 1));
        // With count_ungated (wave 1's rule) every merge counts.
        let w1 = Policy::from_toml("window_hours = 24\ncount_ungated = true").unwrap();
        let s = score(&f, &w1, "ann", None, day2);
        assert_eq!((s.successes, s.ungated), (3, 0));
        assert_eq!(score(&f, &w1, "eve", None, day2).failures, 1);
    }

    fn merge(
        f: &mut Facts,
        seq: u64,
        day: i64,
        author: &str,
        commit: &str,
        paths: &[&str],
        p: &Policy,
    ) {
        let body = json!({"author": author, "merge_commit": commit, "paths": paths});
        f.apply(seq, &ts(day), Kind::Merge, "bot", &body, &|ps| {
            p.scope_mask(ps.iter().copied())
        });
    }

    fn deploy(f: &mut Facts, seq: u64, day: i64, version: &str, status: &str, merges: &[&str]) {
        let list: Vec<Value> = merges
            .iter()
            .map(|c| json!({"merge_commit": c, "author": "?"}))
            .collect();
        let body = json!({"env": "prod", "version": version, "commit": "x", "status": status, "merges": list});
        f.apply(seq, &ts(day), Kind::Deploy, "ci", &body, &|_| 0);
    }

    #[test]
    fn timestamps_round_trip() {
        for ms in [0i64, 1_700_000_000_123, 1_767_225_599_999, 951_782_400_000] {
            assert_eq!(ts_ms(&ms_ts(ms)), Some(ms));
        }
        assert_eq!(ts_ms("2026-11-22T12:00:00.123Z"), Some(1_795_348_800_123));
        for bad in [
            "2026-11-22T12:00:00Z",
            "2026-13-22T12:00:00.123Z",
            "2026-11-22T12:00:60.123Z",
            "2026-11-22 12:00:00.123Z",
            "2026-11-22T12:00:00.12xZ",
        ] {
            assert_eq!(ts_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn decayed_beta_score_by_hand() {
        let p = policy("");
        let mut f = Facts::default();
        merge(&mut f, 0, 0, "ann", "m1", &["a"], &p);
        merge(&mut f, 1, 0, "ann", "m2", &["a"], &p);
        merge(&mut f, 2, 10, "ann", "m3", &["a"], &p);
        deploy(&mut f, 3, 0, "v1", "succeeded", &["m1", "m2"]); // day 0
        deploy(&mut f, 4, 10, "v2", "succeeded", &["m3"]); // day 10
        f.apply(5, &ts(10), Kind::Rollback, "ops", &json!({"env": "prod", "from_version": "v2", "to_version": "v1", "trigger": "x", "undoes_seq": 4}), &|_| 0);
        // At day 20: m1, m2 succeeded on day 0 (age 20 d = 2 half-lives → weight 0.25 each);
        // m3 was rolled back on day 10 (same day, inside the 24 h window; age 10 d → 0.5).
        // score = (1 + 0.5) / (2 + 0.5 + 0.5) = 0.5 → 500 ‰.
        let now = 1_700_000_000_000 + 20 * DAY;
        let s = score(&f, &p, "ann", None, now);
        assert_eq!((s.successes, s.failures, s.pending), (2, 1, 0));
        assert!((s.success_weight - 0.5).abs() < 1e-12 && (s.failure_weight - 0.5).abs() < 1e-12);
        assert_eq!(s.permille(), 500);
        assert_eq!(s.newest, vec![5, 3]);
        // At day 10: v1's successes are one half-life old (0.5 each); v2 was rolled back at
        // once (inside the window), a failure of age 0 (weight 1).
        let s = score(&f, &p, "ann", None, 1_700_000_000_000 + 10 * DAY);
        assert_eq!((s.successes, s.failures), (2, 1));
        // (1 + 2·0.5) / (2 + 1 + 1) = 0.5
        assert_eq!(s.permille(), 500);
        // Unknown author: the prior mean.
        let u = score(&f, &p, "zed", None, now);
        assert!(!u.known);
        assert_eq!(u.permille(), 500);
    }

    #[test]
    fn window_failed_deploys_and_as_of() {
        let p = policy("");
        let mut f = Facts::default();
        merge(&mut f, 0, 0, "bo", "m1", &[], &p);
        deploy(&mut f, 1, 0, "v1", "succeeded", &["m1"]);
        // Half a day later: still inside the 24 h window → pending.
        let s = score(&f, &p, "bo", None, 1_700_000_000_000 + DAY / 2);
        assert_eq!((s.successes, s.failures, s.pending), (0, 0, 1));
        // A rollback after the window does not count.
        f.apply(
            2,
            &ts(3),
            Kind::Rollback,
            "ops",
            &json!({"env": "prod", "from_version": "v1", "to_version": "v0", "trigger": "x"}),
            &|_| 0,
        );
        let s = score(&f, &p, "bo", None, 1_700_000_000_000 + 3 * DAY);
        assert_eq!((s.successes, s.failures), (1, 0));
        // A failed deploy is a failure at once; prior α = β = 1, weight 1 (age 0):
        // cy (1 failure only) scores 1 / (2 + 1) = 0.333… → 333 ‰.
        merge(&mut f, 3, 4, "cy", "m2", &[], &p);
        deploy(&mut f, 4, 4, "v2", "failed", &["m2"]);
        let s = score(&f, &p, "cy", None, 1_700_000_000_000 + 4 * DAY);
        assert_eq!((s.failures, s.permille()), (1, 333));
        // As of day 2 nothing of cy's exists yet.
        assert!(!score(&f, &p, "cy", None, 1_700_000_000_000 + 2 * DAY).known);
    }

    #[test]
    fn scores_of_all_authors_sorted_once_each() {
        let p = policy("");
        let mut f = Facts::default();
        merge(&mut f, 0, 0, "zed", "m1", &[], &p);
        merge(&mut f, 1, 0, "ann", "m2", &[], &p);
        merge(&mut f, 2, 0, "zed", "m3", &[], &p);
        deploy(&mut f, 3, 0, "v1", "failed", &["m1"]);
        let now = 1_700_000_000_000 + DAY;
        let all = scores_of_authors(&f, &p, now);
        let names: Vec<&str> = all.iter().map(|s| s.actor.as_str()).collect();
        assert_eq!(names, ["ann", "zed"]);
        assert_eq!(all[1], score(&f, &p, "zed", None, now));
        assert_eq!((all[1].failures, all[1].pending), (1, 1));
        assert!(scores_of_authors(&Facts::default(), &p, now).is_empty());
    }

    #[test]
    fn scope_and_approvals() {
        let p = policy("[[gates]]\nname = \"db\"\npaths = [\"db/**\"]\nscope = \"paths\"");
        let mut f = Facts::default();
        merge(&mut f, 0, 0, "ann", "m1", &["db/x.sql"], &p);
        merge(&mut f, 1, 0, "ann", "m2", &["src/y.rs"], &p);
        deploy(&mut f, 2, 0, "v1", "succeeded", &["m1"]);
        deploy(&mut f, 3, 0, "v2", "failed", &["m2"]);
        let now = 1_700_000_000_000 + 2 * DAY;
        let db = score(&f, &p, "ann", Some(0), now);
        assert_eq!((db.successes, db.failures), (1, 0));
        let all = score(&f, &p, "ann", None, now);
        assert_eq!((all.successes, all.failures), (1, 1));
        let keys = change_keys(
            "ann",
            &["db/x.sql".to_string()],
            Some("c1"),
            Some("main"),
            None,
        );
        let approve = |f: &mut Facts, seq: u64, day: i64, who: &str, dec: &str, bind: Value| {
            let mut body = json!({"subject": "S", "decision": dec, "reasons": []});
            if let (Some(b), Some(x)) = (body.as_object_mut(), bind.as_object()) {
                b.extend(x.clone());
            }
            f.apply(seq, &ts(day), Kind::Approval, who, &body, &|_| 0);
        };
        let c1 = json!({"source_commit": "c1", "target": "main"});
        approve(&mut f, 4, 1, "ann", "allow", c1.clone()); // the author herself
        approve(&mut f, 5, 1, " ANN ", "allow", c1.clone()); // herself, spelled otherwise
        approve(&mut f, 6, 1, "cat", "allow", c1.clone());
        approve(&mut f, 7, 1, "cat", "allow", json!({"source_commit": "c1"})); // any target
        approve(&mut f, 8, 1, "dan", "allow", json!({"source_commit": "c2"})); // another change
        approve(&mut f, 9, 1, "eve", "allow", json!({})); // a bare subject: bound to nothing
        approve(
            &mut f,
            10,
            1,
            "fay",
            "allow",
            json!({"source_commit": "c1", "target": "dev"}),
        );
        f.apply(
            11,
            &ts(1),
            Kind::Approval,
            "gate",
            &json!({"subject": "S", "decision": "allow", "reasons": [], "gate": "db", "source_commit": "c1"}),
            &|_| 0,
        );
        let day = 86_400_000;
        assert_eq!(
            f.verdicts(&keys, "ann", now, 7 * day),
            (vec!["cat".to_string()], vec![])
        );
        // Expired: older than the TTL.
        assert_eq!(f.verdicts(&keys, "ann", now, day / 2), (vec![], vec![]));
        // Not yet: after `now`.
        assert_eq!(
            f.verdicts(&keys, "ann", now - 2 * day, 7 * day),
            (vec![], vec![])
        );
        // A person's latest word counts: bob denies, then cat changes her mind.
        approve(&mut f, 12, 1, "bob", "deny", c1.clone());
        approve(&mut f, 13, 1, "cat", "deny", c1.clone());
        assert_eq!(
            f.verdicts(&keys, "ann", now, 7 * day),
            (
                vec![],
                vec![("bob".to_string(), 12), ("cat".to_string(), 13)]
            )
        );
        approve(&mut f, 14, 1, "cat", "allow", c1);
        assert_eq!(
            f.verdicts(&keys, "ann", now, 7 * day),
            (vec!["cat".to_string()], vec![("bob".to_string(), 12)])
        );
    }
}
