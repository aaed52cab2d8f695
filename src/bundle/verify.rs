//! `ledger bundle verify`: every check of `verify.sh` and `verify.py`, and more.
//!
//! In order, stopping at the first failure (reported as [`Error::Verify`] naming the file):
//! 1. the directory holds only regular files and directories (no links);
//! 2. `MANIFEST.sha256` parses canonically, every listed file exists with that SHA-256, and no
//!    file is unlisted (besides the manifest and its signature);
//! 3. `signer.pub` is a valid key, `signer.pem` is the same key, it matches the pinned key if
//!    one was given, and `MANIFEST.sha256.sig` is its signature over the manifest;
//! 4. `attestation.dsse.json`: canonical envelope, key id of the signer, signature over the PAE,
//!    statement subjects equal to the manifest minus the envelope itself;
//! 5. `checkpoint` is signed by the signer; every `proofs/inclusion-<seq>.json` proves the
//!    matching line of `entries.jsonl` (whose leaf hash is recomputed) into that checkpoint;
//!    `metadata.json` is canonical JSON and names the same tree size and root;
//! 6. `sbom.cdx.json` is valid CycloneDX (1.3–1.5) with well-formed hashes, and when the tool
//!    built it, its `file` components equal `metadata.json`'s artifacts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use crate::bundle::{dsse, files, manifest, sbom, tlog};
use crate::error::{Error, Failure, Result};
use crate::keys;
use crate::ledger::entry::Entry;

/// A pinned signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// The exact public key.
    Key(VerifyingKey),
    /// A key id (16 hex).
    KeyId(String),
}

impl Pin {
    /// Read a pinned key from a file: an Ed25519 PEM public key (`-----BEGIN PUBLIC KEY-----`)
    /// or the one-line hex `PATH.pub` that `ledger keygen` writes. The file must be a regular
    /// file of at most 64 KiB.
    pub fn from_file(p: &Path) -> Result<Pin> {
        let text =
            crate::fsutil::read_text_bounded(p, 64 * 1024, "public key file").map_err(|e| {
                Error::Key {
                    path: p.to_path_buf(),
                    reason: crate::keys::reason_of(e),
                }
            })?;
        let t = text.trim();
        if t.starts_with("-----BEGIN PUBLIC KEY-----") {
            use ed25519_dalek::pkcs8::DecodePublicKey as _;
            let vk = VerifyingKey::from_public_key_pem(t).map_err(|_| Error::Key {
                path: p.to_path_buf(),
                reason: "not an Ed25519 PEM public key".into(),
            })?;
            return Ok(Pin::Key(vk));
        }
        Ok(Pin::Key(crate::keys::parse_public_hex(t).map_err(
            |reason| Error::Key {
                path: p.to_path_buf(),
                reason,
            },
        )?))
    }
}

/// Options of a bundle verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Expected signer; without it the bundle's own key is used (and the caller should warn).
    pub pin: Option<Pin>,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Release version.
    pub version: String,
    /// Signer key id.
    pub key_id: String,
    /// True when the signer matched a pinned key.
    pub pinned: bool,
    /// Number of files checked.
    pub files: usize,
    /// Checkpoint origin.
    pub origin: String,
    /// Checkpoint tree size.
    pub tree_size: u64,
    /// Seqs whose inclusion was proved.
    pub proved: Vec<u64>,
    /// SBOM spec version.
    pub sbom_spec: String,
    /// SBOM component count.
    pub sbom_components: usize,
}

fn fail(file: &str, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify(
        file.to_string(),
        Failure {
            line: None,
            seq: None,
            code,
            reason: reason.into(),
        },
    )
}

fn fail_line(file: &str, line: u64, code: &'static str, reason: impl Into<String>) -> Error {
    Error::verify(
        file.to_string(),
        Failure {
            line: Some(line),
            seq: None,
            code,
            reason: reason.into(),
        },
    )
}

/// Every regular file under `dir`, by bundle path. Links and special files are failures.
fn list_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for item in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item =
            item.map_err(|e| fail(&dir.display().to_string(), "unreadable", e.to_string()))?;
        let ft = item.file_type();
        if ft.is_dir() {
            continue;
        }
        let rel = item
            .path()
            .strip_prefix(dir)
            .map_err(|_| fail("bundle", "unreadable", "walk left the bundle"))?;
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|v| v.join("/"))
            .ok_or_else(|| {
                fail(
                    &rel.display().to_string(),
                    "bad-name",
                    "file name is not UTF-8",
                )
            })?;
        if !ft.is_file() {
            return Err(fail(
                &name,
                "not-a-file",
                "not a regular file (links are not allowed in a bundle)",
            ));
        }
        out.insert(name, item.path().to_path_buf());
    }
    Ok(out)
}

/// The largest file a bundle may hold (the ledger slice of a very long history included).
const MAX_FILE: u64 = 4 << 30;

fn read(path: &Path, name: &str) -> Result<Vec<u8>> {
    // The walk above checked the type with lstat; the open checks it again on the descriptor,
    // so a file swapped for a FIFO meanwhile is refused rather than waited on.
    crate::fsutil::read_bounded(path, MAX_FILE, "bundle file")
        .map_err(|e| fail(name, "unreadable", e.to_string()))
}

/// Verify the bundle in `dir`.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> Result<VerifyReport> {
    if !dir.is_dir() {
        return Err(Error::NotFound(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    let on_disk = list_files(dir)?;
    let get = |name: &str| -> Result<Vec<u8>> {
        let p = on_disk
            .get(name)
            .ok_or_else(|| fail(name, "missing", "file missing from the bundle"))?;
        read(p, name)
    };

    // 2. Manifest.
    let m_bytes = get(manifest::MANIFEST)?;
    let lines = manifest::parse(&m_bytes).map_err(|(n, why)| {
        if n == 0 {
            fail(manifest::MANIFEST, "bad-manifest", why)
        } else {
            fail_line(manifest::MANIFEST, n, "bad-manifest", why)
        }
    })?;
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let bytes = get(&l.path)?;
        if manifest::sha256(&bytes) != l.sha256 {
            return Err(fail_line(
                manifest::MANIFEST,
                i as u64 + 1,
                "digest-mismatch",
                format!("{}: SHA-256 does not match", l.path),
            ));
        }
        contents.insert(l.path.clone(), bytes);
    }
    for name in on_disk.keys() {
        if !contents.contains_key(name)
            && name != manifest::MANIFEST
            && name != manifest::MANIFEST_SIG
        {
            return Err(fail(
                name,
                "unlisted-file",
                "file not listed in MANIFEST.sha256",
            ));
        }
    }
    let file = |name: &str| -> Result<&Vec<u8>> {
        contents.get(name).ok_or_else(|| {
            fail(
                name,
                "missing",
                "required file not listed in MANIFEST.sha256",
            )
        })
    };

    // 3. Key and manifest signature.
    let pub_text = std::str::from_utf8(file(files::SIGNER_PUB)?)
        .map_err(|_| fail(files::SIGNER_PUB, "bad-key", "not UTF-8"))?;
    let key_hex = pub_text.strip_suffix('\n').ok_or_else(|| {
        fail(
            files::SIGNER_PUB,
            "bad-key",
            "expected 64 hex and a newline",
        )
    })?;
    let public =
        keys::parse_public_hex(key_hex).map_err(|e| fail(files::SIGNER_PUB, "bad-key", e))?;
    if hex::encode(public.as_bytes()) != key_hex {
        return Err(fail(files::SIGNER_PUB, "bad-key", "expected lowercase hex"));
    }
    if file(files::SIGNER_PEM)?.as_slice() != keys::public_pem(&public).as_bytes() {
        return Err(fail(
            files::SIGNER_PEM,
            "key-mismatch",
            "not the PEM form of signer.pub",
        ));
    }
    let key_id = keys::key_id(&public);
    let pinned = match &opts.pin {
        None => false,
        Some(Pin::Key(k)) if k == &public => true,
        Some(Pin::KeyId(id)) if id.eq_ignore_ascii_case(&key_id) => true,
        Some(_) => {
            return Err(fail(
                files::SIGNER_PUB,
                "key-not-pinned",
                format!("signer {key_id} is not the pinned key"),
            ))
        }
    };
    let sig_bytes = get(manifest::MANIFEST_SIG)?;
    let sig = decode_sig_file(&sig_bytes).ok_or_else(|| {
        fail(
            manifest::MANIFEST_SIG,
            "bad-signature",
            "expected base64 of 64 bytes and a newline",
        )
    })?;
    if !keys::verify_strict(&public, &m_bytes, &sig) {
        return Err(fail(
            manifest::MANIFEST_SIG,
            "bad-signature",
            format!("not a valid signature of MANIFEST.sha256 by {key_id}"),
        ));
    }

    // 4. DSSE.
    let env = dsse::parse_envelope(file(files::DSSE)?)
        .map_err(|e| fail(files::DSSE, "bad-envelope", e))?;
    if env.key_id != key_id {
        return Err(fail(
            files::DSSE,
            "bad-envelope",
            format!("keyid {} is not the signer {key_id}", env.key_id),
        ));
    }
    if !keys::verify_strict(
        &public,
        &dsse::pae(dsse::PAYLOAD_TYPE, &env.payload),
        &env.sig,
    ) {
        return Err(fail(
            files::DSSE,
            "bad-signature",
            "DSSE signature does not verify over the PAE",
        ));
    }
    let (subjects, predicate) =
        dsse::parse_statement(&env.payload).map_err(|e| fail(files::DSSE, "bad-statement", e))?;
    let expected: Vec<(&str, [u8; 32])> = lines
        .iter()
        .filter(|l| l.path != files::DSSE)
        .map(|l| (l.path.as_str(), l.sha256))
        .collect();
    let got: Vec<(&str, [u8; 32])> = subjects
        .iter()
        .map(|s| (s.name.as_str(), s.sha256))
        .collect();
    if expected != got {
        return Err(fail(
            files::DSSE,
            "subject-mismatch",
            "statement subjects differ from the manifest",
        ));
    }

    // 5. Checkpoint, entries, proofs, metadata.
    let cp = tlog::verify_checkpoint(file(files::CHECKPOINT)?, &public)
        .map_err(|e| fail(files::CHECKPOINT, "bad-checkpoint", e))?;
    let meta_bytes = file(files::METADATA)?;
    let meta: Value = serde_json::from_slice(meta_bytes)
        .map_err(|e| fail(files::METADATA, "bad-metadata", e.to_string()))?;
    // The one spelling the tool writes: a duplicate key or any other re-encoding is refused,
    // so every verifier reads the same fields (DESIGN §5; docs/bundle.md).
    if crate::bundle::json_file(&meta).ok().as_deref() != Some(meta_bytes.as_slice()) {
        return Err(fail(
            files::METADATA,
            "bad-metadata",
            "not canonical JSON and a newline",
        ));
    }
    let version = meta
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if predicate.get("version").and_then(Value::as_str) != Some(version.as_str())
        || !crate::bundle::valid_version(&version)
    {
        return Err(fail(
            files::METADATA,
            "bad-metadata",
            "version missing or different from the attestation's",
        ));
    }
    let ml = meta.get("ledger").cloned().unwrap_or(Value::Null);
    if ml.get("tree_size").and_then(Value::as_u64) != Some(cp.size)
        || ml.get("root_hash").and_then(Value::as_str) != Some(hex::encode(cp.root).as_str())
        || ml.get("origin").and_then(Value::as_str) != Some(cp.origin.as_str())
    {
        return Err(fail(
            files::CHECKPOINT,
            "checkpoint-mismatch",
            "checkpoint differs from metadata.json's ledger (origin, tree size, root)",
        ));
    }
    let proved = verify_entries(&contents, &cp, &crate::keys::key_id(&public))?;
    let want: Vec<u64> = ml
        .get("proved")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    if want != proved {
        return Err(fail(
            files::METADATA,
            "bad-metadata",
            "ledger.proved differs from the proofs in the bundle",
        ));
    }

    // 6. SBOM.
    let sbom_bytes = file(files::SBOM)?;
    let s = sbom::check(sbom_bytes).map_err(|e| fail(files::SBOM, "bad-sbom", e.to_string()))?;
    if meta.pointer("/sbom/source").and_then(Value::as_str) != Some("imported") {
        let in_sbom = sbom::file_digests(sbom_bytes);
        let in_meta: BTreeMap<String, String> = meta
            .get("artifacts")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|x| {
                        let s = |k: &str| {
                            x.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        (s("name"), s("sha256"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if in_sbom != in_meta {
            return Err(fail(
                files::SBOM,
                "artifact-mismatch",
                "file components differ from metadata.json's artifacts",
            ));
        }
    }
    Ok(VerifyReport {
        version,
        key_id,
        pinned,
        files: on_disk.len(),
        origin: cp.origin,
        tree_size: cp.size,
        proved,
        sbom_spec: s.spec_version,
        sbom_components: s.components,
    })
}

/// Decode `MANIFEST.sha256.sig`: base64 (standard, padded) of 64 bytes, then `\n`.
pub fn decode_sig_file(bytes: &[u8]) -> Option<[u8; 64]> {
    use base64::Engine as _;
    let b64 = bytes.strip_suffix(b"\n")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    raw.try_into().ok()
}

/// The runners' submissions of version-2 entries, with the bundle's own `key` entries: each
/// is signed by a key added by an earlier line of the bundle and not revoked before its entry,
/// ids are unique, no writer key signs an entry or the bundle, and no git-signer key signs
/// anything (entry, submission, bundle); a git-signer key's entry names its identity.
fn check_submissions(lines: &[(u64, Entry)], bundle_key: &str) -> Result<()> {
    use std::collections::HashMap;
    let f = files::ENTRIES;
    // key id → its first add; key id → seq of its revocation.
    let mut adds: HashMap<String, Added> = HashMap::new();
    let mut revoked: HashMap<String, u64> = HashMap::new();
    for (n, e) in lines {
        if e.kind != crate::ledger::Kind::Key {
            continue;
        }
        let c = crate::keys::history::KeyChange::from_body(&e.body);
        if c.add && c.git_signer && c.identity.is_empty() {
            return Err(fail_line(
                f,
                *n,
                "bad-key",
                "body.identity: required with action add-git-signer (a non-empty string)",
            ));
        }
        if c.add {
            let vk = crate::keys::parse_public_hex(&c.public_key)
                .ok()
                .filter(|vk| crate::keys::key_id(vk) == c.key_id);
            adds.entry(c.key_id).or_insert(Added {
                line: *n,
                seq: e.seq,
                vk,
                writer: c.writer,
                git_signer: c.git_signer,
            });
        } else {
            revoked.entry(c.key_id).or_insert(e.seq);
        }
    }
    if let Some(a) = adds.get(bundle_key).filter(|a| a.writer) {
        return Err(fail(
            files::SIGNER_PUB,
            "writer-key",
            format!("signer {bundle_key} is a writer key (entries.jsonl line {}), which may sign submissions only", a.line),
        ));
    }
    if let Some(a) = adds.get(bundle_key).filter(|a| a.git_signer) {
        return Err(fail(
            files::SIGNER_PUB,
            "git-signer-key",
            format!("signer {bundle_key} is a git-signer key (entries.jsonl line {}), which signs git commits only", a.line),
        ));
    }
    for (n, e) in lines {
        let Some(id) = &e.signer else { continue };
        if adds.get(id).is_some_and(|a| a.writer) {
            return Err(fail_line(
                f,
                *n,
                "writer-signed-entry",
                format!("signer: signed by writer key {id}, which may sign submissions only"),
            ));
        }
        if adds.get(id).is_some_and(|a| a.git_signer) {
            return Err(fail_line(
                f,
                *n,
                "git-signer-signed-entry",
                format!("signer: signed by git-signer key {id}, which signs git commits only"),
            ));
        }
    }
    let mut ids: HashMap<&str, u64> = HashMap::new();
    for (n, e) in lines {
        let (Some(sub), Some(msg)) = (&e.submission, e.submission_message()) else {
            continue;
        };
        if let Some(first) = ids.insert(sub.id.as_str(), *n) {
            return Err(fail_line(
                f,
                *n,
                "duplicate-submission",
                format!(
                    "duplicate submission id {:?} (also on line {first})",
                    sub.id
                ),
            ));
        }
        let key = match adds.get(&sub.signer) {
            Some(Added { line, vk: None, .. }) => {
                return Err(fail_line(
                    f,
                    *line,
                    "bad-key",
                    format!(
                        "body.key_id: {} is not the key id of body.public_key",
                        sub.signer
                    ),
                ))
            }
            Some(Added {
                git_signer: true, ..
            }) => {
                return Err(fail_line(
                    f,
                    *n,
                    "git-signer-signed-submission",
                    format!(
                        "submission signer {}: a git-signer key, which signs git commits only",
                        sub.signer
                    ),
                ))
            }
            Some(Added {
                seq: at,
                vk: Some(vk),
                ..
            }) if *at < e.seq => vk,
            _ => {
                return Err(fail_line(
                    f,
                    *n,
                    "untrusted-submitter",
                    format!(
                        "submission signer {}: no key entry for it in the bundle",
                        sub.signer
                    ),
                ))
            }
        };
        if revoked.get(&sub.signer).is_some_and(|r| *r < e.seq) {
            return Err(fail_line(
                f,
                *n,
                "untrusted-submitter",
                format!(
                    "submission signer {}: revoked before this entry",
                    sub.signer
                ),
            ));
        }
        if !crate::keys::verify_strict(key, &msg, &sub.sig) {
            return Err(fail_line(
                f,
                *n,
                "bad-submission-signature",
                format!("submission.sig: not a valid signature by {}", sub.signer),
            ));
        }
    }
    Ok(())
}

/// The first `key` entry of the bundle that added a key.
struct Added {
    /// Line of `entries.jsonl`.
    line: u64,
    seq: u64,
    /// The public key, when it parses and its id is `body.key_id`.
    vk: Option<ed25519_dalek::VerifyingKey>,
    writer: bool,
    git_signer: bool,
}

/// Check `entries.jsonl` against the proofs and the checkpoint; returns the seqs proved.
fn verify_entries(
    contents: &BTreeMap<String, Vec<u8>>,
    cp: &tlog::Checkpoint,
    bundle_key: &str,
) -> Result<Vec<u64>> {
    let text = contents.get(files::ENTRIES).ok_or_else(|| {
        fail(
            files::ENTRIES,
            "missing",
            "required file not listed in MANIFEST.sha256",
        )
    })?;
    let mut seqs = Vec::new();
    let mut lines: Vec<(u64, Entry)> = Vec::new();
    let mut body = text.as_slice();
    if !body.is_empty() {
        body = body.strip_suffix(b"\n").ok_or_else(|| {
            fail(
                files::ENTRIES,
                "bad-entry",
                "last line does not end in a newline",
            )
        })?;
    }
    for (i, line) in body
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|_| !text.is_empty())
    {
        let n = i as u64 + 1;
        let e = Entry::parse_line(line)
            .map_err(|le| fail_line(files::ENTRIES, n, le.code, le.reason))?;
        if seqs.last().is_some_and(|last| *last >= e.seq) {
            return Err(fail_line(
                files::ENTRIES,
                n,
                "bad-entry",
                "entries are not in increasing seq order",
            ));
        }
        let name = format!("{}{}.json", files::PROOF_PREFIX, e.seq);
        let p_bytes = contents.get(&name).ok_or_else(|| {
            fail(
                &name,
                "missing",
                format!("no inclusion proof for seq {}", e.seq),
            )
        })?;
        let p = tlog::parse_proof(p_bytes).map_err(|why| fail(&name, "bad-proof", why))?;
        if p.leaf_index != e.seq || p.leaf_hash != e.hash {
            return Err(fail(
                &name,
                "bad-proof",
                format!("proof is not for the entry with seq {}", e.seq),
            ));
        }
        if p.tree_size != cp.size {
            return Err(fail(
                &name,
                "bad-proof",
                format!(
                    "proof is for tree size {}, checkpoint has {}",
                    p.tree_size, cp.size
                ),
            ));
        }
        if p.verify(&cp.root).is_err() {
            return Err(fail(
                &name,
                "bad-proof",
                format!("entry {} is not included in the checkpoint's tree", e.seq),
            ));
        }
        seqs.push(e.seq);
        lines.push((n, e));
    }
    check_submissions(&lines, bundle_key)?;
    let proofs = contents
        .keys()
        .filter(|k| k.starts_with(files::PROOF_PREFIX))
        .count();
    if proofs != seqs.len() {
        return Err(fail(
            files::ENTRIES,
            "bad-entry",
            "a proof has no matching line in entries.jsonl",
        ));
    }
    if seqs.is_empty() {
        return Err(fail(
            files::ENTRIES,
            "bad-entry",
            "no entries: the checkpoint is not tied to any entry",
        ));
    }
    Ok(seqs)
}
