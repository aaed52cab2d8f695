//! `sbom.cdx.json`: a CycloneDX 1.5 JSON SBOM built with the `cyclonedx-bom` crate.
//!
//! # What it holds
//!
//! * `metadata.component`: the root package of the Cargo workspace (type `application`).
//! * `components`: every other package of the resolved dependency graph (`cargo metadata
//!   --format-version 1 --locked`), type `library`, with `purl` (`pkg:cargo/NAME@VERSION`),
//!   the registry checksum from `Cargo.lock` as a `SHA-256` hash, the license (an SPDX
//!   expression; old `A/B` spellings become `A OR B`; anything else a named license) and the
//!   description; then every release artifact, type `file`, with its `SHA-256`.
//! * `dependencies`: one entry per package, listing the bom-refs of its resolved dependencies.
//! * `metadata.timestamp`: the bundle's build time (from `SOURCE_DATE_EPOCH`).
//! * `serialNumber`: `urn:uuid:` of a name-based UUID (version 5 layout) made from the
//!   SHA-256 of the document written with a zero serial — the same inputs give the same SBOM,
//!   byte for byte.
//!
//! bom-refs: `pkg:cargo/NAME@VERSION` for packages (suffixed `#2`, `#3`, ... if two sources
//! give the same name and version) and `file:NAME` for artifacts. Paths of local packages are
//! never written (they would differ between checkouts).
//!
//! `cyclonedx-bom`'s own validation accepts badly anchored hash values, so every hash is also
//! checked here ([`check_hashes`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use cyclonedx_bom::models::component::Classification;
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::license::{LicenseChoice, Licenses};
use cyclonedx_bom::models::tool::{Tool, Tools};
use cyclonedx_bom::prelude::*;
use serde_json::Value;

use crate::bundle::artifacts::Artifact;
use crate::error::{Error, Result};

/// How errors name the output of `cargo metadata`, which is not a file.
const METADATA: &str = "cargo metadata";

/// How errors name an SBOM whose path is not known.
const SBOM: &str = "SBOM";

/// The lock file whose registry checksums go into the SBOM.
const LOCK_FILE: &str = "Cargo.lock";

/// Largest SBOM accepted for import or verification.
pub const MAX_SBOM: u64 = 256 << 20;

/// What an SBOM build or import produced.
#[derive(Debug, Clone)]
pub struct Sbom {
    /// The document bytes as written to the bundle.
    pub bytes: Vec<u8>,
    /// `specVersion`.
    pub spec_version: String,
    /// Number of components (including nested ones, excluding `metadata.component`).
    pub components: usize,
}

/// One package of `cargo metadata`.
#[derive(Debug, Clone)]
struct Pkg {
    id: String,
    name: String,
    version: String,
    source: Option<String>,
    license: Option<String>,
    description: Option<String>,
}

/// Run `cargo metadata` for the workspace at `repo` and return its JSON.
pub fn cargo_metadata(repo: &Path) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = repo.join("Cargo.toml");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .map_err(|e| {
            // Not being able to start cargo is a fault of this machine, not of the input.
            let why = std::io::Error::new(e.kind(), format!("cannot run `cargo metadata`: {e}"));
            Error::io(&manifest, why)
        })?;
    if !out.status.success() {
        // Cargo refuses a workspace whose manifest or lock file is broken (or out of date
        // under `--locked`): the repository's data is at fault.
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::malformed(
            manifest.display().to_string(),
            format!("`cargo metadata` failed: {}", err.trim()),
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::malformed(METADATA, format!("printed invalid JSON: {e}")))
}

/// Registry checksums from `Cargo.lock` text: (name, version, source) → hex SHA-256.
pub fn lock_checksums(lock: &str) -> Result<HashMap<(String, String, String), String>> {
    let doc: toml::Table =
        toml::from_str(lock).map_err(|e| Error::malformed(LOCK_FILE, e.to_string()))?;
    let mut out = HashMap::new();
    let pkgs = doc
        .get("package")
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for p in pkgs {
        let get = |k: &str| p.get(k).and_then(toml::Value::as_str).map(str::to_string);
        if let (Some(n), Some(v), Some(s), Some(c)) =
            (get("name"), get("version"), get("source"), get("checksum"))
        {
            if !is_hex64(&c) {
                return Err(Error::malformed_at(
                    LOCK_FILE,
                    None,
                    Some(&format!("{n} {v}")),
                    "checksum is not 64 lowercase hex",
                ));
            }
            out.insert((n, v, s), c);
        }
    }
    Ok(out)
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn sha256_hash(hexd: &str) -> Hash {
    Hash {
        alg: HashAlgorithm::SHA_256,
        content: HashValue(hexd.to_string()),
    }
}

/// A license choice for a Cargo `license` field.
fn license_of(expr: &str) -> LicenseChoice {
    let valid = |e: &str| {
        LicenseChoice::expression(e)
            .validate_version(SpecVersion::V1_5)
            .passed()
    };
    if valid(expr) {
        return LicenseChoice::expression(expr);
    }
    let fixed = expr
        .split('/')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" OR ");
    if valid(&fixed) {
        return LicenseChoice::expression(&fixed);
    }
    LicenseChoice::license(expr)
}

fn parse_packages(meta: &Value) -> Result<Vec<Pkg>> {
    let pkgs = meta
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::malformed(METADATA, "no packages"))?;
    let s = |p: &Value, k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
    pkgs.iter()
        .map(|p| {
            Ok(Pkg {
                id: s(p, "id").ok_or_else(|| Error::malformed(METADATA, "package without id"))?,
                name: s(p, "name")
                    .ok_or_else(|| Error::malformed(METADATA, "package without name"))?,
                version: s(p, "version")
                    .ok_or_else(|| Error::malformed(METADATA, "package without version"))?,
                source: s(p, "source"),
                license: s(p, "license"),
                description: s(p, "description"),
            })
        })
        .collect()
}

/// Build the SBOM of the Cargo workspace at `repo` (its `cargo metadata` JSON and `Cargo.lock`
/// text given) plus `artifacts`, with `timestamp` (RFC 3339, `...Z`).
pub fn build(
    meta: &Value,
    lock: &str,
    artifacts: &[Artifact],
    timestamp: &str,
    tool_version: &str,
) -> Result<Sbom> {
    let pkgs = parse_packages(meta)?;
    let checksums = lock_checksums(lock)?;
    let resolve = meta
        .get("resolve")
        .ok_or_else(|| Error::malformed(METADATA, "no resolve graph (run with dependencies)"))?;
    let root_id = resolve
        .get("root")
        .and_then(Value::as_str)
        .or_else(|| meta.pointer("/workspace_members/0").and_then(Value::as_str))
        .ok_or_else(|| Error::malformed(METADATA, "no root package"))?
        .to_string();

    // Stable bom-refs, independent of where the checkout lives.
    let mut sorted: Vec<&Pkg> = pkgs.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.version, &a.source).cmp(&(&b.name, &b.version, &b.source)));
    let mut refs: HashMap<&str, String> = HashMap::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for p in &sorted {
        let base = format!("pkg:cargo/{}@{}", p.name, p.version);
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let r = if *n == 1 { base } else { format!("{base}#{n}") };
        refs.insert(p.id.as_str(), r);
    }

    let mut root_component = None;
    let mut components = Vec::new();
    for p in &sorted {
        let bom_ref = refs.get(p.id.as_str()).cloned().unwrap_or_default();
        let is_root = p.id == root_id;
        let class = if is_root {
            Classification::Application
        } else {
            Classification::Library
        };
        let mut c = Component::new(class, &p.name, &p.version, Some(bom_ref));
        c.purl = Some(Purl::new("cargo", &p.name, &p.version).map_err(|e| {
            Error::malformed(METADATA, format!("purl of {} {}: {e}", p.name, p.version))
        })?);
        if let Some(l) = &p.license {
            c.licenses = Some(Licenses(vec![license_of(l)]));
        }
        if let Some(d) = &p.description {
            c.description = Some(NormalizedString::new(d));
        }
        if let Some(src) = &p.source {
            if let Some(sum) = checksums.get(&(p.name.clone(), p.version.clone(), src.clone())) {
                c.hashes = Some(Hashes(vec![sha256_hash(sum)]));
            }
        }
        if is_root {
            root_component = Some(c);
        } else {
            components.push(c);
        }
    }
    for a in artifacts {
        let mut c = Component::new(
            Classification::File,
            &a.name,
            "",
            Some(format!("file:{}", a.name)),
        );
        c.version = None;
        c.hashes = Some(Hashes(vec![sha256_hash(&hex::encode(a.sha256))]));
        components.push(c);
    }

    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for node in resolve
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let Some(id) = node.get("id").and_then(Value::as_str) else {
            continue;
        };
        let Some(from) = refs.get(id) else { continue };
        let mut to: Vec<String> = node
            .get("deps")
            .and_then(Value::as_array)
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| d.get("pkg").and_then(Value::as_str))
                    .filter_map(|p| refs.get(p).cloned())
                    .collect()
            })
            .unwrap_or_default();
        to.sort();
        to.dedup();
        deps.insert(from.clone(), to);
    }

    let timestamp = DateTime::try_from(timestamp.to_string())
        .map_err(|e| Error::invalid("timestamp", e.to_string()))?;
    let mut metadata = Metadata {
        timestamp: Some(timestamp),
        ..Metadata::default()
    };
    metadata.tools = Some(Tools::List(vec![Tool::new(
        "audit-ledger",
        "ledger",
        tool_version,
    )]));
    metadata.component = root_component;
    let mut bom = Bom {
        version: 1,
        serial_number: Some(UrnUuid(format!("urn:uuid:{}", uuid_from(&[0u8; 32])))),
        metadata: Some(metadata),
        components: Some(Components(components)),
        dependencies: Some(Dependencies(
            deps.into_iter()
                .map(|(dependency_ref, dependencies)| Dependency {
                    dependency_ref,
                    dependencies,
                })
                .collect(),
        )),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let first = write(bom.clone())?;
    bom.serial_number = Some(UrnUuid(format!(
        "urn:uuid:{}",
        uuid_from(&crate::bundle::manifest::sha256(&first))
    )));
    let result = bom.validate_version(SpecVersion::V1_5);
    if !result.passed() {
        // Every value was normalised on the way in (licenses, purls, hashes), so a document
        // that does not validate is a fault of this builder.
        return Err(Error::internal(format!(
            "generated SBOM does not validate: {:?}",
            result.errors().collect::<Vec<_>>()
        )));
    }
    let bytes = write(bom)?;
    check(&bytes)
}

/// Build the SBOM for `repo`: from Cargo when it has a `Cargo.toml`, else of the artifacts only
/// (root component `name`@`version`). Returns the SBOM and its source (`cargo` or `artifacts`).
pub fn for_repo(
    repo: &Path,
    name: &str,
    version: &str,
    artifacts: &[Artifact],
    timestamp: &str,
) -> Result<(Sbom, &'static str)> {
    let tool_version = env!("CARGO_PKG_VERSION");
    if repo.join("Cargo.toml").is_file() {
        let meta = cargo_metadata(repo)?;
        let lock_path = repo.join("Cargo.lock");
        let lock = crate::fsutil::read_text_bounded(&lock_path, MAX_SBOM, "Cargo.lock")?;
        Ok((
            build(&meta, &lock, artifacts, timestamp, tool_version)?,
            "cargo",
        ))
    } else {
        Ok((
            build_artifacts_only(name, version, artifacts, timestamp, tool_version)?,
            "artifacts",
        ))
    }
}

/// SBOM of artifacts only (for a repository that is not a Cargo workspace).
pub fn build_artifacts_only(
    name: &str,
    version: &str,
    artifacts: &[Artifact],
    timestamp: &str,
    tool_version: &str,
) -> Result<Sbom> {
    let meta = serde_json::json!({
        "packages": [{"id": "root", "name": name, "version": version}],
        "resolve": {"root": "root", "nodes": [{"id": "root", "deps": []}]},
    });
    build(&meta, "", artifacts, timestamp, tool_version)
}

fn write(bom: Bom) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    bom.output_as_json_v1_5(&mut out)
        .map_err(|e| Error::internal(format!("cannot write SBOM: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// A UUID string with the version-5 layout from the first 16 bytes of `digest`.
fn uuid_from(digest: &[u8; 32]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Check SBOM bytes: JSON, a CycloneDX version this crate reads (1.3–1.5), the crate's
/// validation for that version, and every hash value well-formed for its algorithm. Errors
/// are [`Error::Malformed`] in a file named `SBOM`.
pub fn check(bytes: &[u8]) -> Result<Sbom> {
    check_named(bytes, SBOM)
}

/// [`check`], with errors naming `file` (e.g. the path of an imported SBOM).
pub fn check_named(bytes: &[u8], file: &str) -> Result<Sbom> {
    let bad = |reason: String| Error::malformed(file, reason);
    let v: Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    // serde_json keeps the last of two equal keys; verify.sh and verify.py refuse them, and so
    // does this, so that no verifier reads a field another one skipped.
    serde_json::from_slice::<NoDuplicateKeys>(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    if v.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(bad("bomFormat is not \"CycloneDX\"".into()));
    }
    let spec = v
        .get("specVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let version = match spec.as_str() {
        "1.3" => SpecVersion::V1_3,
        "1.4" => SpecVersion::V1_4,
        "1.5" => SpecVersion::V1_5,
        other => {
            return Err(bad(format!(
                "specVersion `{other}` is not supported (1.3, 1.4, 1.5)"
            )))
        }
    };
    let bom =
        Bom::parse_json_value(v.clone()).map_err(|e| bad(format!("not CycloneDX {spec}: {e}")))?;
    let result = bom.validate_version(version);
    if !result.passed() {
        return Err(bad(format!(
            "invalid CycloneDX {spec}: {:?}",
            result.errors().collect::<Vec<_>>()
        )));
    }
    hashes_in(&v, file, "")?;
    let components = count_components(v.get("components"));
    Ok(Sbom {
        bytes: bytes.to_vec(),
        spec_version: spec,
        components,
    })
}

/// Deserializes any JSON value, failing on an object with two equal keys.
struct NoDuplicateKeys;

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(NoDuplicateKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(NoDuplicateKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key `{k}`")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(NoDuplicateKeys)
    }
}

fn count_components(v: Option<&Value>) -> usize {
    v.and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| 1 + count_components(c.get("components")))
                .sum()
        })
        .unwrap_or(0)
}

/// Every `{"alg","content"}` object anywhere in `v` must have a content of the right length in
/// lowercase or uppercase hex (what the CycloneDX schema's patterns say). `path` is the JSON
/// path of `v` in the document (`""` for the root); errors name a file `SBOM` and that path.
pub fn check_hashes(v: &Value, path: &str) -> Result<()> {
    hashes_in(v, SBOM, path)
}

/// [`check_hashes`] with errors naming `file`.
fn hashes_in(v: &Value, file: &str, path: &str) -> Result<()> {
    match v {
        Value::Object(m) => {
            if let (Some(alg), Some(content)) = (
                m.get("alg").and_then(Value::as_str),
                m.get("content").and_then(Value::as_str),
            ) {
                let len = match alg {
                    "MD5" => Some(32),
                    "SHA-1" => Some(40),
                    "SHA-256" | "SHA3-256" | "BLAKE2b-256" => Some(64),
                    "SHA-384" | "SHA3-384" | "BLAKE2b-384" => Some(96),
                    "SHA-512" | "SHA3-512" | "BLAKE2b-512" => Some(128),
                    _ => None,
                };
                let ok = content.bytes().all(|b| b.is_ascii_hexdigit())
                    && len.is_none_or(|n| content.len() == n);
                if !ok {
                    let field = Some(path).filter(|p| !p.is_empty());
                    return Err(Error::malformed_at(
                        file,
                        None,
                        field,
                        format!("hash content is not {alg} hex"),
                    ));
                }
            }
            for (k, x) in m {
                hashes_in(x, file, &format!("{path}.{k}"))?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                hashes_in(x, file, &format!("{path}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// SHA-256 digests of the `file` components, by name (for cross-checks with metadata.json).
pub fn file_digests(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return out;
    };
    for c in v
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        if c.get("type").and_then(Value::as_str) != Some("file") {
            continue;
        }
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let digest = c
            .get("hashes")
            .and_then(Value::as_array)
            .and_then(|hs| {
                hs.iter()
                    .find(|h| h.get("alg").and_then(Value::as_str) == Some("SHA-256"))
            })
            .and_then(|h| h.get("content").and_then(Value::as_str))
            .unwrap_or_default()
            .to_string();
        out.insert(name, digest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta() -> Value {
        json!({
            "packages": [
                {"id": "path+file:///x#app@1.0.0", "name": "app", "version": "1.0.0", "source": null, "license": "Apache-2.0"},
                {"id": "registry+https://github.com/rust-lang/crates.io-index#dep@0.2.0", "name": "dep", "version": "0.2.0",
                 "source": "registry+https://github.com/rust-lang/crates.io-index", "license": "MIT/Apache-2.0"}
            ],
            "resolve": {"root": "path+file:///x#app@1.0.0", "nodes": [
                {"id": "path+file:///x#app@1.0.0", "deps": [{"pkg": "registry+https://github.com/rust-lang/crates.io-index#dep@0.2.0"}]},
                {"id": "registry+https://github.com/rust-lang/crates.io-index#dep@0.2.0", "deps": []}
            ]}
        })
    }

    const LOCK: &str = "version = 4\n[[package]]\nname = \"dep\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"0000000000000000000000000000000000000000000000000000000000000001\"\n";

    #[test]
    fn builds_a_deterministic_valid_sbom() {
        let arts = [Artifact {
            name: "bin/app".into(),
            sha256: [9; 32],
            size: 1,
        }];
        let a = build(&meta(), LOCK, &arts, "2026-01-01T00:00:00Z", "0.1.0").unwrap();
        let b = build(&meta(), LOCK, &arts, "2026-01-01T00:00:00Z", "0.1.0").unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.spec_version, "1.5");
        assert_eq!(a.components, 2);
        let v: Value = serde_json::from_slice(&a.bytes).unwrap();
        assert_eq!(v["metadata"]["component"]["name"], "app");
        assert_eq!(v["components"][0]["purl"], "pkg:cargo/dep@0.2.0");
        assert_eq!(
            v["components"][0]["licenses"][0]["expression"],
            "MIT OR Apache-2.0"
        );
        assert_eq!(
            v["components"][0]["hashes"][0]["content"],
            "0000000000000000000000000000000000000000000000000000000000000001"
        );
        assert_eq!(v["dependencies"][0]["dependsOn"][0], "pkg:cargo/dep@0.2.0");
        assert!(!String::from_utf8(a.bytes.clone())
            .unwrap()
            .contains("file:///x"));
        assert_eq!(
            file_digests(&a.bytes).get("bin/app").map(String::as_str),
            Some(hex::encode([9u8; 32]).as_str())
        );
        let serial = v["serialNumber"].as_str().unwrap();
        assert!(
            serial.starts_with("urn:uuid:") && &serial[23..24] == "5",
            "{serial}"
        );
    }

    #[test]
    fn rejects_bad_hashes_the_crate_accepts() {
        let arts = [Artifact {
            name: "f".into(),
            sha256: [9; 32],
            size: 1,
        }];
        let a = build(&meta(), LOCK, &arts, "2026-01-01T00:00:00Z", "0.1.0").unwrap();
        let text = String::from_utf8(a.bytes).unwrap().replace(
            &hex::encode([9u8; 32]),
            &format!("{}ZZ", hex::encode([9u8; 32])),
        );
        assert!(check(text.as_bytes()).is_err());
    }
}
