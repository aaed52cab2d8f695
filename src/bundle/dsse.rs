//! DSSE envelopes carrying an in-toto Statement v1.
//!
//! # Formats
//!
//! * PAE (DSSE v1, <https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>):
//!   `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, where `LEN` is the byte length in
//!   ASCII decimal without leading zeros and `SP` is one space (0x20). The signature is Ed25519
//!   over the PAE bytes.
//! * Envelope (`attestation.dsse.json`): canonical JSON (sorted keys, no whitespace) and `\n`:
//!   `{"payload":"<base64 std, padded>","payloadType":"application/vnd.in-toto+json",
//!   "signatures":[{"keyid":"<16 hex key id>","sig":"<base64 std of 64 bytes>"}]}`.
//! * Payload: canonical JSON of an in-toto Statement v1
//!   (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>):
//!   `{"_type":"https://in-toto.io/Statement/v1","predicate":{...},
//!   "predicateType":"https://audit-ledger.dev/bundle/v1","subject":[{"digest":{"sha256":"<hex>"},
//!   "name":"<path>"},...]}` with subjects sorted by name.
//!
//! Example: PAE of type `http://example.com/HelloWorld` and body `hello world` is
//! `DSSEv1 29 http://example.com/HelloWorld 11 hello world` (the DSSE spec's test vector).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::canonical;

/// `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of our bundle predicate.
pub const PREDICATE_TYPE: &str = "https://audit-ledger.dev/bundle/v1";
/// Largest envelope accepted by the parser.
pub const MAX_ENVELOPE: usize = 16 << 20;

/// DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

/// A subject of the statement: a bundle path and its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Path in the bundle.
    pub name: String,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
}

/// Canonical payload bytes of a statement with these subjects (sorted here) and predicate.
pub fn statement(subjects: &[Subject], predicate: &Value) -> Result<Vec<u8>, String> {
    let mut subjects: Vec<&Subject> = subjects.iter().collect();
    subjects.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let list: Vec<Value> = subjects
        .iter()
        .map(|s| json!({"name": s.name, "digest": {"sha256": hex::encode(s.sha256)}}))
        .collect();
    let v = json!({"_type": STATEMENT_TYPE, "subject": list, "predicateType": PREDICATE_TYPE, "predicate": predicate});
    canonical::encode(&v).map_err(|e| e.to_string())
}

/// Envelope bytes (canonical JSON and a newline) for `payload` signed with `sign`.
pub fn envelope(
    payload: &[u8],
    key_id: &str,
    sign: impl FnOnce(&[u8]) -> [u8; 64],
) -> Result<Vec<u8>, String> {
    let sig = sign(&pae(PAYLOAD_TYPE, payload));
    let v = json!({
        "payload": B64.encode(payload),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key_id, "sig": B64.encode(sig)}],
    });
    let mut out = canonical::encode(&v).map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

/// A parsed envelope: payload bytes and its (single) signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Decoded payload.
    pub payload: Vec<u8>,
    /// `keyid` of the signature.
    pub key_id: String,
    /// The signature.
    pub sig: [u8; 64],
}

/// Parse an envelope written by [`envelope`]; anything else (other payload types, several
/// signatures, non-canonical bytes) is refused.
pub fn parse_envelope(bytes: &[u8]) -> Result<Envelope, String> {
    if bytes.len() > MAX_ENVELOPE {
        return Err("envelope larger than 16 MiB".into());
    }
    let body = bytes
        .strip_suffix(b"\n")
        .ok_or("envelope does not end in a newline")?;
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let again = canonical::encode(&v).map_err(|e| e.to_string())?;
    if again != body {
        return Err("envelope is not in canonical form".into());
    }
    let obj = v.as_object().ok_or("envelope: expected an object")?;
    if obj.len() != 3 {
        return Err("envelope: expected exactly payload, payloadType, signatures".into());
    }
    if obj.get("payloadType").and_then(Value::as_str) != Some(PAYLOAD_TYPE) {
        return Err(format!("payloadType: expected {PAYLOAD_TYPE}"));
    }
    let payload = obj
        .get("payload")
        .and_then(Value::as_str)
        .ok_or("payload: expected a string")?;
    let payload = B64
        .decode(payload)
        .map_err(|e| format!("payload: bad base64: {e}"))?;
    let sigs = obj
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("signatures: expected an array")?;
    let [sig] = sigs.as_slice() else {
        return Err(format!(
            "signatures: expected exactly one, found {}",
            sigs.len()
        ));
    };
    let key_id = sig
        .get("keyid")
        .and_then(Value::as_str)
        .ok_or("signatures[0].keyid: expected a string")?;
    let sig_b64 = sig
        .get("sig")
        .and_then(Value::as_str)
        .ok_or("signatures[0].sig: expected a string")?;
    if sig.as_object().map(|o| o.len()) != Some(2) {
        return Err("signatures[0]: expected exactly keyid and sig".into());
    }
    let raw = B64
        .decode(sig_b64)
        .map_err(|e| format!("signatures[0].sig: bad base64: {e}"))?;
    let sig: [u8; 64] = raw
        .try_into()
        .map_err(|_| "signatures[0].sig: expected 64 bytes".to_string())?;
    Ok(Envelope {
        payload,
        key_id: key_id.to_string(),
        sig,
    })
}

/// Parse a statement payload: returns its subjects (in order) and predicate. Refuses
/// non-canonical bytes, other types and malformed subjects.
pub fn parse_statement(payload: &[u8]) -> Result<(Vec<Subject>, Value), String> {
    let v: Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload: not JSON: {e}"))?;
    if canonical::encode(&v).map_err(|e| e.to_string())? != payload {
        return Err("payload: not in canonical form".into());
    }
    if v.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(format!("payload._type: expected {STATEMENT_TYPE}"));
    }
    if v.get("predicateType").and_then(Value::as_str) != Some(PREDICATE_TYPE) {
        return Err(format!("payload.predicateType: expected {PREDICATE_TYPE}"));
    }
    let list = v
        .get("subject")
        .and_then(Value::as_array)
        .ok_or("payload.subject: expected an array")?;
    let mut subjects = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        // Exactly {"digest":{"sha256":HEX},"name":PATH}: no extra members a verifier might skip.
        if s.as_object().map(|o| o.len()) != Some(2)
            || s.get("digest").and_then(Value::as_object).map(|o| o.len()) != Some(1)
        {
            return Err(format!(
                "payload.subject[{i}]: expected exactly digest.sha256 and name"
            ));
        }
        let name = s
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("payload.subject[{i}].name: expected a string"))?;
        let hexd = s
            .pointer("/digest/sha256")
            .and_then(Value::as_str)
            .ok_or(format!(
                "payload.subject[{i}].digest.sha256: expected a string"
            ))?;
        let mut sha256 = [0u8; 32];
        if hexd.len() != 64
            || hex::decode_to_slice(hexd, &mut sha256).is_err()
            || hexd != hex::encode(sha256)
        {
            return Err(format!(
                "payload.subject[{i}].digest.sha256: expected 64 lowercase hex"
            ));
        }
        subjects.push(Subject {
            name: name.to_string(),
            sha256,
        });
    }
    let predicate = v.get("predicate").cloned().unwrap_or(Value::Null);
    Ok((subjects, predicate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
    }

    #[test]
    fn envelope_round_trips_and_is_strict() {
        let subjects = [
            Subject {
                name: "b".into(),
                sha256: [2; 32],
            },
            Subject {
                name: "a".into(),
                sha256: [1; 32],
            },
        ];
        let payload = statement(&subjects, &json!({"version": "1.0"})).unwrap();
        let env = envelope(&payload, "00112233445566ff", |_| [7u8; 64]).unwrap();
        let parsed = parse_envelope(&env).unwrap();
        assert_eq!(parsed.payload, payload);
        assert_eq!(parsed.sig, [7u8; 64]);
        let (subs, pred) = parse_statement(&parsed.payload).unwrap();
        assert_eq!(
            subs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(pred["version"], "1.0");
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&env).unwrap()).unwrap();
        assert!(parse_envelope(&pretty).is_err());
        assert!(parse_envelope(&env[..env.len() - 1]).is_err());
    }
}
