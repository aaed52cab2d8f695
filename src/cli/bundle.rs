//! `ledger bundle create` and `ledger bundle verify`.

use std::path::PathBuf;

use audit_ledger::bundle::{self, CreateOptions, Pin, VerifyOptions};
use audit_ledger::error::{Error, Result};
use audit_ledger::flow;
use clap::{Args, Subcommand};
use serde_json::json;

use super::Ctx;

/// `ledger bundle ...`.
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Write a signed release bundle DIR/bundle-<VERSION>/ and record it in the ledger.
    Create(CreateArgs),
    /// Verify a bundle: manifest, signatures, DSSE, checkpoint, inclusion proofs, SBOM.
    Verify(VerifyArgs),
    /// Print the CycloneDX SBOM `bundle create` would write (no ledger or key needed).
    Sbom(SbomArgs),
}

/// `ledger bundle sbom`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger bundle sbom --repo . > sbom.cdx.json\n  SOURCE_DATE_EPOCH=0 ledger bundle sbom --artifacts dist --name webapp --version 2.0.0"
)]
pub struct SbomArgs {
    /// Repository (a Cargo workspace gives the dependency graph).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
    /// Artifact file or directory to hash (repeatable).
    #[arg(long, value_name = "PATH")]
    pub artifacts: Vec<PathBuf>,
    /// Root component name when the repository is not a Cargo workspace.
    #[arg(long, default_value = "release")]
    pub name: String,
    /// Root component version when the repository is not a Cargo workspace.
    #[arg(long = "version", value_name = "VERSION", default_value = "0.0.0")]
    pub version_: String,
    /// Timestamp in seconds since the epoch (default: now).
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,
}

/// `ledger bundle create`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) ledger bundle create --version 1.4.0 --artifacts target/release/ledger --key release.key\n  ledger bundle create --version 2.0.0 --repo ../webapp --sbom-from ../webapp/bom.json --artifacts ../webapp/dist --attach junit.xml --attach scan.sarif\n\nThe build time comes from SOURCE_DATE_EPOCH, else the HEAD commit time: the same inputs give a\nbyte-identical bundle. The ledger must verify and the key must be trusted by it. Afterwards a\n`bundle` entry (version, manifest_sha256) is appended, signed with the same key."
)]
pub struct CreateArgs {
    /// Release version (A-Z a-z 0-9 . _ + -).
    #[arg(long = "version", value_name = "VERSION")]
    pub version_: String,
    /// Repository of the release's source (git metadata, Cargo.toml for the SBOM).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
    /// Artifact file or directory to hash (repeatable).
    #[arg(long, value_name = "PATH")]
    pub artifacts: Vec<PathBuf>,
    /// Import this CycloneDX JSON SBOM (1.3-1.5) instead of building one from Cargo.
    #[arg(long, value_name = "FILE")]
    pub sbom_from: Option<PathBuf>,
    /// Copy this evidence file into attachments/ (repeatable).
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// Also prove inclusion of the entry with this seq (repeatable).
    #[arg(long = "entry", value_name = "SEQ")]
    pub entries: Vec<u64>,
    /// Write the bundle here instead of DIR/bundle-<VERSION>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Actor recorded in the `bundle` entry.
    #[arg(long, default_value = "ledger/bundle")]
    pub actor: String,
    /// Do not append the `bundle` entry.
    #[arg(long)]
    pub no_record: bool,
    /// Build time in seconds since the epoch.
    #[arg(long, env = "SOURCE_DATE_EPOCH", value_name = "SECONDS")]
    pub source_date_epoch: Option<i64>,
}

/// `ledger bundle verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ledger bundle verify audit/bundle-1.4.0 --pubkey release.key.pub\n  ledger bundle verify audit/bundle-1.4.0 --key-id 1f2e3d4c5b6a7988 --json\n  ledger bundle verify audit/bundle-1.4.0 --trust-embedded-key   # integrity only, loud warning\n\nA pinned signer (--pubkey or --key-id, obtained from the publisher by another channel) is\nrequired: without one the command is a usage error (exit 2), because the bundle's own\nsigner.pub proves only that the bundle is consistent, not who signed it. --trust-embedded-key\nuses the bundle's own key anyway and warns on stderr. Exit 0 valid, 1 invalid (file and reason\nnamed), 2 usage or unreadable. The same checks, minus SBOM schema validation, run offline with\nverify.sh and verify.py: take them from `ledger verifiers export` or the tool's source release,\nnever from the bundle being checked."
)]
pub struct VerifyArgs {
    /// The bundle directory.
    pub dir: PathBuf,
    /// Pin the signer: a .pub file (hex) or PEM public key.
    #[arg(long, value_name = "FILE", conflicts_with = "key_id")]
    pub pubkey: Option<PathBuf>,
    /// Pin the signer by key id (16 hex).
    #[arg(long, value_name = "ID")]
    pub key_id: Option<String>,
    /// Accept the bundle's own signer.pub without a pin (integrity only; warns loudly).
    #[arg(long, conflicts_with_all = ["pubkey", "key_id"])]
    pub trust_embedded_key: bool,
}

pub fn bundle(ctx: &Ctx, cmd: &BundleCmd) -> Result<i32> {
    match cmd {
        BundleCmd::Create(a) => create(ctx, a),
        BundleCmd::Verify(a) => verify(ctx, a),
        BundleCmd::Sbom(a) => sbom(a),
    }
}

fn sbom(a: &SbomArgs) -> Result<i32> {
    let epoch = a
        .source_date_epoch
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    let ts = chrono::DateTime::from_timestamp(epoch, 0)
        .ok_or_else(|| super::usage("SOURCE_DATE_EPOCH: out of range"))?
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let arts = bundle::artifacts::hash_roots(&a.artifacts)?;
    let (s, _) = bundle::sbom::for_repo(&a.repo, &a.name, &a.version_, &arts, &ts)?;
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(&s.bytes)
        .map_err(|e| Error::io("stdout", e))?;
    eprintln!("{} components (CycloneDX {})", s.components, s.spec_version);
    Ok(0)
}

fn create(ctx: &Ctx, a: &CreateArgs) -> Result<i32> {
    let ledger = ctx.ledger()?;
    let signer = ctx.require_signer("bundle create")?;
    let opts = CreateOptions {
        version: a.version_.clone(),
        repo: a.repo.clone(),
        artifacts: a.artifacts.clone(),
        sbom_from: a.sbom_from.clone(),
        attach: a.attach.clone(),
        entries: a.entries.clone(),
        source_date_epoch: a.source_date_epoch,
        out: a.out.clone(),
        actor: a.actor.clone(),
        no_record: a.no_record,
    };
    let spin = ctx.spinner("creating the bundle");
    let c = flow::bundle::create(&ctx.recorder(&ledger, Some(&signer))?, &opts)?;
    spin.finish_and_clear();
    if c.time_from_clock {
        ctx.warn("no SOURCE_DATE_EPOCH and no git commit: the build time is the clock's, so this bundle is not reproducible");
    }
    let manifest = hex::encode(c.manifest_sha256);
    let entry = c
        .entry
        .as_ref()
        .map(|e| json!({"seq": e.seq, "hash": e.hash_hex()}));
    ctx.print(
        format!(
            "bundle {} written: {} files, {} artifacts, {} SBOM components, checkpoint size {}, {} entries proved; manifest {}; signer {}{}",
            c.dir.display(),
            c.files,
            c.artifacts,
            c.sbom_components,
            c.tree_size,
            c.proved.len(),
            manifest,
            c.key_id,
            c.entry.as_ref().map(|e| format!("; recorded as seq {}", e.seq)).unwrap_or_default()
        ),
        &json!({"ok": true, "dir": c.dir, "version": a.version_, "manifest_sha256": manifest, "files": c.files,
                "artifacts": c.artifacts, "sbom_components": c.sbom_components, "tree_size": c.tree_size,
                "proved": c.proved, "key_id": c.key_id, "entry": entry}),
    );
    Ok(0)
}

fn verify(ctx: &Ctx, a: &VerifyArgs) -> Result<i32> {
    let pin = match (&a.pubkey, &a.key_id) {
        (Some(p), _) => Some(Pin::from_file(p)?),
        (None, Some(id)) => {
            if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(super::usage("--key-id: expected 16 hex characters"));
            }
            Some(Pin::KeyId(id.to_ascii_lowercase()))
        }
        (None, None) if a.trust_embedded_key => None,
        (None, None) => return Err(super::usage(
            "no pinned signer: pass --pubkey FILE or --key-id ID (the publisher's key, obtained \
                 apart from the bundle); --trust-embedded-key checks integrity only",
        )),
    };
    let r = flow::bundle::verify(&a.dir, &VerifyOptions { pin })?;
    if !r.pinned {
        // Not silenced by --quiet: whoever chose to trust the embedded key must see this.
        eprintln!(
            "WARNING: --trust-embedded-key: signer {} was not pinned: this proves the bundle is \
             consistent, not who signed it (anyone can sign a bundle with a key of their own); \
             pin the publisher's key with --pubkey FILE or --key-id ID",
            r.key_id
        );
    }
    ctx.print(
        format!(
            "OK: bundle {}: {} files, signer {}{}, checkpoint {} size {}, {} entries proved, SBOM CycloneDX {} ({} components)",
            r.version,
            r.files,
            r.key_id,
            if r.pinned { " (pinned)" } else { "" },
            r.origin,
            r.tree_size,
            r.proved.len(),
            r.sbom_spec,
            r.sbom_components
        ),
        &json!({"ok": true, "version": r.version, "files": r.files, "key_id": r.key_id, "pinned": r.pinned,
                "origin": r.origin, "tree_size": r.tree_size, "proved": r.proved, "sbom_spec": r.sbom_spec,
                "sbom_components": r.sbom_components}),
    );
    Ok(0)
}
