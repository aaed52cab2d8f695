//! C2SP signed-note vectors (`tests/vectors/signed-note.json`, facts from the tests of
//! golang.org/x/mod/sumdb/note, BSD-style licence): the signer key reproduces the note byte for
//! byte, the verifier key opens it, every must_reject case is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use audit_ledger::checkpoint::{self, Checkpoint};
use audit_ledger::note::{self, SignerKey, VerifierKey};
use serde_json::Value;

fn vectors() -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/signed-note.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap()
}

#[test]
fn signer_reproduces_the_note_byte_for_byte() {
    let v = vectors();
    let signer = SignerKey::parse(s(&v, "signer_key")).unwrap();
    assert_eq!(signer.verifier().to_string(), s(&v, "verifier_key"));
    assert_eq!(
        note::sign(s(&v, "text"), &[&signer]).unwrap(),
        s(&v, "signed_note")
    );
}

#[test]
fn verifier_opens_the_note() {
    let v = vectors();
    let vk = VerifierKey::parse(s(&v, "verifier_key")).unwrap();
    assert_eq!(vk.to_string(), s(&v, "verifier_key"));
    let opened = note::open(s(&v, "signed_note").as_bytes(), std::slice::from_ref(&vk)).unwrap();
    assert_eq!(opened.text(), s(&v, "text"));
    assert_eq!(opened.verified(), std::slice::from_ref(&vk));
    // With a second (unknown) signature appended the note still opens; with both keys known,
    // both signatures verify.
    let two = format!("{}{}", s(&v, "signed_note"), s(&v, "second_signature_line"));
    let opened = note::open(two.as_bytes(), std::slice::from_ref(&vk)).unwrap();
    assert_eq!(opened.unverified().len(), 1);
    let vk2 = VerifierKey::parse(s(&v, "second_verifier_key")).unwrap();
    assert_eq!(
        note::open(two.as_bytes(), &[vk.clone(), vk2.clone()])
            .unwrap()
            .verified()
            .len(),
        2
    );
    // Only the second key known: opens with that one.
    assert_eq!(
        note::open(two.as_bytes(), std::slice::from_ref(&vk2))
            .unwrap()
            .verified(),
        &[vk2]
    );
}

#[test]
fn must_reject_cases_are_rejected() {
    let v = vectors();
    let vk = VerifierKey::parse(s(&v, "verifier_key")).unwrap();
    let cases = v["must_reject"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for c in cases {
        assert!(
            note::open(s(c, "note").as_bytes(), std::slice::from_ref(&vk)).is_err(),
            "{}",
            s(c, "why")
        );
    }
    // Unknown key only, wrong key hash, tampered text.
    let other = SignerKey::new(
        "PeterNeumann",
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    assert!(note::open(s(&v, "signed_note").as_bytes(), &[other.verifier()]).is_err());
    let tampered = s(&v, "signed_note").replacen("cryptography", "cryptograph!", 1);
    assert!(note::open(tampered.as_bytes(), std::slice::from_ref(&vk)).is_err());
}

#[test]
fn mangled_keys_are_rejected() {
    let v = vectors();
    for key in [s(&v, "verifier_key"), s(&v, "signer_key")] {
        for i in 0..key.len() {
            let mut b = key.as_bytes().to_vec();
            b[i] ^= 0x01;
            let Ok(m) = String::from_utf8(b) else {
                continue;
            };
            let ok = if key.starts_with("PRIVATE") {
                SignerKey::parse(&m).is_ok()
            } else {
                VerifierKey::parse(&m).is_ok()
            };
            assert!(!ok, "mangled byte {i} accepted: {m}");
        }
    }
}

#[test]
fn checkpoint_notes_follow_the_key_hash_rule() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let signer = SignerKey::new("example.org/app", key.clone()).unwrap();
    let cp = Checkpoint {
        origin: "example.org/app".into(),
        size: 3,
        root: [1; 32],
        extensions: vec![],
    };
    let msg = cp.sign(&signer).unwrap();
    // key hash = SHA-256(name || 0x0A || 0x01 || pubkey)[:4], spelled out independently.
    use sha2::Digest as _;
    let mut pre = b"example.org/app\n\x01".to_vec();
    pre.extend_from_slice(key.verifying_key().as_bytes());
    let want = &sha2::Sha256::digest(&pre)[..4];
    let line = msg.lines().last().unwrap();
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        line.rsplit(' ').next().unwrap(),
    )
    .unwrap();
    assert_eq!(&raw[..4], want);
    assert!(line.starts_with("\u{2014} example.org/app "));
    let opened = checkpoint::open(msg.as_bytes(), &[signer.verifier()]).unwrap();
    assert_eq!(opened.checkpoint(), &cp);
    let parsed = VerifierKey::parse(&signer.verifier().to_string()).unwrap();
    assert!(checkpoint::open(msg.as_bytes(), &[parsed]).is_ok());
}
