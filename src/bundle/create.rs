//! `ledger bundle create`: gather, sign and write a bundle, then record it in the ledger.
//!
//! The bundle is written to a temporary directory beside its final place and renamed into
//! place only when complete, so a crash never leaves a half bundle under the final name. The
//! `bundle` entry (version, manifest digest) is appended afterwards, signed with the same key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::bundle::{
    artifacts, dsse, files, json_file, manifest, sbom, source, summary, tlog, valid_version,
};
use crate::error::{Error, Result};
use crate::keys;
use crate::ledger::body::Kind;
use crate::ledger::tlog as ledger_tlog;
use crate::ledger::verify::{self, Options};
use crate::ledger::{Draft, Entry, Recorder};

/// What to put in a bundle.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Release version (see [`valid_version`]).
    pub version: String,
    /// Repository of the release's source (git metadata; `Cargo.toml` for the SBOM).
    pub repo: PathBuf,
    /// Artifact files or directories to hash.
    pub artifacts: Vec<PathBuf>,
    /// Import this SBOM instead of building one.
    pub sbom_from: Option<PathBuf>,
    /// Evidence files to copy into `attachments/`.
    pub attach: Vec<PathBuf>,
    /// More entries (by seq) to prove inclusion of.
    pub entries: Vec<u64>,
    /// Build time (seconds since the epoch); `None` takes the HEAD commit time.
    pub source_date_epoch: Option<i64>,
    /// Output directory; `None` means `<ledger dir>/bundle-<version>`.
    pub out: Option<PathBuf>,
    /// Actor of the `bundle` entry.
    pub actor: String,
    /// Do not append the `bundle` entry (for dry runs and reproducibility checks).
    pub no_record: bool,
}

/// What [`create`] did.
#[derive(Debug, Clone)]
pub struct Created {
    /// The bundle directory.
    pub dir: PathBuf,
    /// SHA-256 of `MANIFEST.sha256`.
    pub manifest_sha256: [u8; 32],
    /// Number of files in the bundle.
    pub files: usize,
    /// Number of artifacts hashed.
    pub artifacts: usize,
    /// Number of SBOM components.
    pub sbom_components: usize,
    /// Checkpoint tree size.
    pub tree_size: u64,
    /// Seqs whose inclusion is proved.
    pub proved: Vec<u64>,
    /// The `bundle` entry appended, if any.
    pub entry: Option<Entry>,
    /// Signer key id.
    pub key_id: String,
    /// True when the build time came from neither `SOURCE_DATE_EPOCH` nor a commit.
    pub time_from_clock: bool,
}

/// The version string an entry names, in any of the fields that can carry one.
fn names_version(e: &Entry, version: &str) -> bool {
    let b = &e.body;
    ["version", "from_version", "to_version"]
        .iter()
        .any(|k| b.get(*k).and_then(Value::as_str) == Some(version))
        || b.pointer("/data/version").and_then(Value::as_str) == Some(version)
}

/// The ledger moved on between verifying it and issuing the checkpoint under the lock.
fn changed_meanwhile() -> Error {
    Error::Conflict("the ledger changed while the bundle was being made; try again".into())
}

fn rfc3339(epoch: i64) -> Result<String> {
    let t = chrono::DateTime::from_timestamp(epoch, 0)
        .ok_or_else(|| Error::invalid("source_date_epoch", format!("{epoch}: out of range")))?;
    Ok(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Create the bundle for `opts.version` from the recorder's ledger, signed with its signer;
/// the checkpoint it contains and the `bundle` entry are written through the recorder.
pub fn create(rec: &Recorder<'_>, opts: &CreateOptions) -> Result<Created> {
    let ledger = rec.ledger();
    let signer = rec
        .signer()
        .ok_or_else(|| Error::invalid("signer", "a bundle is signed: a signing key is needed"))?;
    let version = opts.version.as_str();
    if !valid_version(version) {
        return Err(Error::invalid(
            "version",
            format!("`{version}`: use 1-128 of A-Z a-z 0-9 . _ + - (not starting with . or -)"),
        ));
    }
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| ledger.dir().join(format!("bundle-{version}")));
    if out.exists() {
        return Err(Error::Conflict(format!(
            "{}: already exists; a bundle is never overwritten",
            out.display()
        )));
    }
    let config = ledger.config();

    // The ledger must verify before anything is said about it. The checkpoint is then issued
    // under the append lock (and written to DIR/checkpoint and DIR/checkpoints/, refusing a
    // ledger that does not extend the previous checkpoint); the lock's tail must still be the
    // verified head, so the checkpoint names exactly the verified entries.
    let verified = verify::verify(
        ledger,
        &Options {
            collect_leaves: true,
            ..Options::default()
        },
        &mut |_, _| {},
    )?
    .into_inner();
    // Trusted through the ledger's own key history, never config.toml's list.
    let trusted = verified
        .keys
        .iter()
        .any(|k| k.id == signer.id() && k.revoked_at.is_none() && k.signs_entries());
    if !trusted {
        return Err(Error::untrusted(
            signer.id(),
            format!(
                "not trusted by the ledger in {} to sign (a writer or git-signer key signs no bundle)",
                ledger.dir().display()
            ),
        ));
    }
    let entries = ledger.read_entries()?;
    if verified.leaves.len() != entries.len() {
        return Err(changed_meanwhile());
    }
    if entries.is_empty() {
        return Err(Error::Conflict(format!(
            "{}: the ledger is empty; record the release first",
            ledger.dir().display()
        )));
    }
    let head = verified.head.ok_or_else(changed_meanwhile)?;
    let issued = rec.checkpoint_at(entries.len() as u64, head)?;
    let leaves = &verified.leaves;
    let root = tlog::root(leaves);
    let size = leaves.len() as u64;
    if issued.checkpoint.size != size || issued.checkpoint.root != root {
        return Err(changed_meanwhile());
    }
    let key_name = ledger_tlog::note_name(config, signer.id());
    let checkpoint = issued.note.into_bytes();

    let src = source::read(&opts.repo, Some(ledger.dir()))?;
    let (epoch, time_from_clock) = match (opts.source_date_epoch, src.commit_time) {
        (Some(e), _) => (e, false),
        (None, Some(c)) => (c, false),
        (None, None) => (chrono::Utc::now().timestamp(), true),
    };
    let built = rfc3339(epoch)?;
    let (policy, agg, _) = crate::trust::load(ledger)?;
    let scores = summary::scores_json(&agg.facts, &policy, epoch.saturating_mul(1000));

    let arts = artifacts::hash_roots(&opts.artifacts)?;
    let tool_version = env!("CARGO_PKG_VERSION");
    let (sbom, sbom_source) = match &opts.sbom_from {
        Some(p) => {
            let bytes = crate::fsutil::read_bounded(p, sbom::MAX_SBOM, "SBOM")?;
            let s = sbom::check_named(&bytes, &p.display().to_string())?;
            (s, "imported")
        }
        None => sbom::for_repo(&opts.repo, &config.origin, version, &arts, &built)?,
    };

    // The release's entries, their proofs, and the checkpoint they are proved against.
    let mut seqs: Vec<u64> = entries
        .iter()
        .filter(|e| names_version(e, version))
        .map(|e| e.seq)
        .collect();
    for s in &opts.entries {
        if *s >= entries.len() as u64 {
            return Err(Error::NotFound(format!(
                "seq {s}: the ledger has {} entries",
                entries.len()
            )));
        }
        seqs.push(*s);
    }
    seqs.push(entries.len() as u64 - 1);
    // A runner's submission is checked offline with the key its `key` entry added: that entry
    // (and a revocation of the key, if any) is proved too.
    let submitters: std::collections::HashSet<&str> = seqs
        .iter()
        .filter_map(|s| usize::try_from(*s).ok().and_then(|i| entries.get(i)))
        .filter_map(|e| e.submission.as_ref().map(|s| s.signer.as_str()))
        .collect();
    if !submitters.is_empty() {
        seqs.extend(
            entries
                .iter()
                .filter(|e| e.kind == crate::ledger::Kind::Key)
                .filter(|e| {
                    e.body
                        .get("key_id")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|id| submitters.contains(id))
                })
                .map(|e| e.seq),
        );
    }
    seqs.sort_unstable();
    seqs.dedup();

    let mut out_files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut lines = Vec::new();
    for s in &seqs {
        // Every seq was checked against the ledger above, so a miss here is a bug.
        let e = usize::try_from(*s)
            .ok()
            .and_then(|i| entries.get(i))
            .ok_or_else(|| Error::internal(format!("seq {s} out of range")))?;
        let p = tlog::prove(*s, leaves)?;
        out_files.insert(
            format!("{}{s}.json", files::PROOF_PREFIX),
            tlog::proof_bytes(&p)?,
        );
        lines.extend_from_slice(&e.to_line());
        lines.push(b'\n');
    }
    out_files.insert(files::ENTRIES.into(), lines);
    out_files.insert(files::CHECKPOINT.into(), checkpoint);

    for p in &opts.attach {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let path = format!("{}{name}", files::ATTACH_PREFIX);
        if !manifest::valid_path(&path) || name.contains('/') {
            return Err(Error::invalid(
                "attach",
                format!("{}: file names may use only A-Z a-z 0-9 . _ -", p.display()),
            ));
        }
        let bytes = crate::fsutil::read_bounded(p, sbom::MAX_SBOM, "attachment")?;
        if out_files.insert(path.clone(), bytes).is_some() {
            return Err(Error::invalid("attach", format!("two files named {name}")));
        }
    }

    let public = signer.public();
    let head = entries
        .last()
        .map(|e| (e.seq, e.hash_hex()))
        .unwrap_or_default();
    let metadata = json!({
        "format": 1,
        "version": version,
        "build_time": built,
        "source_date_epoch": epoch,
        "source": {"commit": src.commit, "tree": src.tree, "tags": src.tags, "dirty": src.dirty},
        "artifacts": arts.iter().map(|a| json!({"name": a.name, "sha256": hex::encode(a.sha256), "size": a.size})).collect::<Vec<_>>(),
        "sbom": {"file": files::SBOM, "spec_version": sbom.spec_version, "components": sbom.components, "source": sbom_source},
        "ledger": {"origin": config.origin, "head_seq": head.0, "head_hash": head.1, "tree_size": size,
                   "root_hash": hex::encode(root), "checkpoint": files::CHECKPOINT, "proved": seqs},
        "signer": {"key_id": signer.id(), "name": key_name},
        "attachments": opts.attach.iter().filter_map(|p| p.file_name().and_then(|n| n.to_str())).collect::<Vec<_>>(),
        "tool": {"name": "audit-ledger", "version": tool_version},
    });
    out_files.insert(files::METADATA.into(), json_file(&metadata)?);
    out_files.insert(
        files::TRUST.into(),
        json_file(&summary::trust_summary(
            &entries, &verified, version, scores,
        ))?,
    );
    out_files.insert(files::SBOM.into(), sbom.bytes.clone());
    out_files.insert(
        files::SIGNER_PUB.into(),
        format!("{}\n", hex::encode(public.as_bytes())).into_bytes(),
    );
    out_files.insert(
        files::SIGNER_PEM.into(),
        keys::public_pem(&public).into_bytes(),
    );
    out_files.insert(
        files::VERIFY_SH.into(),
        crate::bundle::VERIFY_SH.as_bytes().to_vec(),
    );
    out_files.insert(
        files::VERIFY_PY.into(),
        crate::bundle::VERIFY_PY.as_bytes().to_vec(),
    );

    let subjects: Vec<dsse::Subject> = out_files
        .iter()
        .map(|(name, b)| dsse::Subject {
            name: name.clone(),
            sha256: manifest::sha256(b),
        })
        .collect();
    let predicate = json!({"version": version, "commit": src.commit, "build_time": built,
                           "ledger": {"origin": config.origin, "tree_size": size, "root_hash": hex::encode(root)}});
    // The statement, the envelope and the manifest are made from names and digests this
    // function built itself, so a failure to encode them is a bug, not bad input.
    let payload = dsse::statement(&subjects, &predicate).map_err(Error::internal)?;
    let envelope =
        dsse::envelope(&payload, signer.id(), |m| signer.sign(m)).map_err(Error::internal)?;
    out_files.insert(files::DSSE.into(), envelope);

    let lines: Vec<manifest::Line> = out_files
        .iter()
        .map(|(path, b)| manifest::Line {
            path: path.clone(),
            sha256: manifest::sha256(b),
        })
        .collect();
    let manifest_bytes = manifest::encode(&lines).map_err(Error::internal)?;
    let manifest_sha256 = manifest::sha256(&manifest_bytes);
    use base64::Engine as _;
    let sig = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(signer.sign(&manifest_bytes))
    );
    out_files.insert(manifest::MANIFEST.into(), manifest_bytes);
    out_files.insert(manifest::MANIFEST_SIG.into(), sig.into_bytes());

    write_dir(&out, &out_files)?;

    let entry = if opts.no_record {
        None
    } else {
        let draft = Draft {
            kind: Kind::Bundle,
            actor: opts.actor.clone(),
            body: json!({"version": version, "manifest_sha256": hex::encode(manifest_sha256)}),
        };
        rec.record(vec![draft])?.entries.pop()
    };
    Ok(Created {
        dir: out,
        manifest_sha256,
        files: out_files.len(),
        artifacts: arts.len(),
        sbom_components: sbom.components,
        tree_size: size,
        proved: seqs,
        entry,
        key_id: signer.id().to_string(),
        time_from_clock,
    })
}

/// Write every file under a temporary sibling of `out`, then rename it to `out`.
fn write_dir(out: &Path, contents: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let base = out.file_name().and_then(|n| n.to_str()).unwrap_or("bundle");
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    let result = (|| {
        for (name, bytes) in contents {
            let path = tmp.join(name);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            let mode = if name.ends_with(".sh") || name.ends_with(".py") {
                0o755
            } else {
                0o644
            };
            crate::fsutil::write_atomic_mode(&path, bytes, mode)?;
        }
        std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
        crate::fsutil::sync_dir(&parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}
