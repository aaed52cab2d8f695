#!/usr/bin/env python3
"""Test vectors for version-2 entries (an entry that keeps a runner's submission signature).

Usage:
  python3 make.py                     write vectors.json next to this script
  python3 make.py --bundle DIR [CASE] write a minimal signed bundle of CASE (default: valid) to
                                      DIR (new directory); its signer.pub is the key to pin
  python3 make.py --check             build every case's bundle in a temporary directory and
                                      run audit/verify.py and audit/verify.sh on it

Needs Python 3 and the `cryptography` package: every signature here comes from its Ed25519,
an implementation independent of both the Rust code and audit/verify.py. Keys come from fixed
seeds (seed = SHA-256 of "audit-ledger/tests/vectors/submission: " + name), Ed25519 signing is
deterministic, so the output is the same on every run.

vectors.json:
  "keys": [{"name", "seed", "public_key", "key_id"}]: seeds and public keys in hex. "log" signs
      entries, checkpoints and bundles; "writer" is a writer key (signs submissions only);
      "other" is in no key entry; "git-signer" is added as a git-signer key (action
      "add-git-signer", signs git commits only, nothing in the ledger) by the cases about it.
  "entries": the valid ledger, one canonical entry line each (no newline), seq 0 to 4:
      0 key add of "log", self-signed; 1 key add of "writer" with "action":"add-writer", signed by
      "log"; 2 v2 event, submission by "writer"; 3 v1 deploy; 4 v2 deploy, submission by
      "writer". prev chains from 64 zeros; every entry is signed by "log".
  "messages": {seq as a string: the submission message, the ASCII text "ledger-submission-v1:"
      + lowercase hex SHA-256 of S} for every v2 entry (the same as submissions[].message).
  "submissions": one per v2 line: {"seq", "id", "signer", "sig" (base64, as in the line),
      "s" (the canonical JSON S = {actor, body, id, kind, ts}, as a string), "s_sha256",
      "message" (the signed ASCII text "ledger-submission-v1:" + s_sha256) and "message_hex"
      (its bytes in hex)}.
  "cases": {"name", "replace" ({seq as a string: line}, lines that replace the valid ones),
      "omit" (seqs left out of the bundle's entries.jsonl; the tree still holds them),
      "bundle_signer" (the key that signs the bundle: manifest, attestation, checkpoint),
      "expect" (null for a case that verifies, else a fragment of the failure line of both
      audit verifiers)}. A replaced line has its own hash and entry signature (by "log" unless
      the case is about the signer), but the lines after it keep their prev: the bundle
      verifiers do not check the chain.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIT = os.path.normpath(os.path.join(HERE, "..", "..", "..", "audit"))
ZERO = "0" * 64
ORIGIN = "example.test/ledger"
VERSION = "0.0.1-test"


def canonical(value):
    """JCS for the subset the ledger uses: sorted keys, no whitespace, raw UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256(data):
    return hashlib.sha256(data).digest()


def b64(data):
    return base64.b64encode(data).decode("ascii")


class Key:
    def __init__(self, name):
        self.name = name
        self.seed = sha256(("audit-ledger/tests/vectors/submission: " + name).encode())
        self.sk = Ed25519PrivateKey.from_private_bytes(self.seed)
        self.public = self.sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.id = hashlib.sha256(self.public).hexdigest()[:16]

    def sign(self, msg):
        return self.sk.sign(msg)


LOG, WRITER, OTHER, GIT = Key("log"), Key("writer"), Key("other"), Key("git-signer")
KEYS = {k.name: k for k in (LOG, WRITER, OTHER, GIT)}


def submission_s(e, sub_id):
    return canonical({"actor": e["actor"], "body": e["body"], "id": sub_id, "kind": e["kind"], "ts": e["ts"]})


def submission_message(e, sub_id):
    return b"ledger-submission-v1:" + hashlib.sha256(submission_s(e, sub_id)).hexdigest().encode("ascii")


def submit(e, sub_id, key):
    """Make e a v2 entry carrying key's submission signature over its current content."""
    e["v"] = 2
    e["submission"] = {"id": sub_id, "sig": b64(key.sign(submission_message(e, sub_id))), "signer": key.id}
    return e


def seal(e, key, prev=None):
    """Set prev (if given), signer, hash and sig (by key); return the canonical line."""
    if prev is not None:
        e["prev"] = prev
    e["signer"] = key.id
    e.pop("hash", None)
    e.pop("sig", None)
    h = sha256(b"\x00" + canonical(e)).hex()
    e["hash"] = h
    e["sig"] = b64(key.sign(b"ledger-entry-v1:" + h.encode("ascii")))
    return canonical(e).decode("utf-8")


def base(seq, kind, actor, body, ts):
    return {"actor": actor, "body": body, "kind": kind, "seq": seq, "ts": ts, "v": 1}


def key_add(seq, key, writer):
    body = {"action": "add", "key_id": key.id, "public_key": key.public.hex()}
    if writer == "role":
        body["role"] = "writer"
    elif writer == "action":
        body["action"] = "add-writer"
    return base(seq, "key", "admin", body, "2024-05-01T12:00:0%d.000Z" % seq)


def valid_entries(writer="action"):
    """The valid ledger as dicts, unsealed (seal them in order)."""
    return [
        key_add(0, LOG, None),
        key_add(1, WRITER, writer),
        submit(
            base(2, "event", "ci/runner-1", {"data": {"note": "h\u00e9llo \"ok\"\n\u2713", "n": 3}, "type": "build"},
                 "2024-05-01T12:00:02.000Z"),
            "run-1001:build.1", WRITER),
        base(3, "deploy", "release", {"commit": "0123abcd", "env": "prod", "status": "started", "version": "1.2.3"},
             "2024-05-01T12:00:03.000Z"),
        submit(
            base(4, "deploy", "ci/runner-1", {"commit": "0123abcd", "env": "prod", "status": "succeeded", "version": "1.2.3"},
                 "2024-05-01T12:00:04.000Z"),
            "run-1001:deploy_prod", WRITER),
    ]


def sealed(entries):
    lines, prev = [], ZERO
    for e in entries:
        lines.append(seal(e, LOG, prev))
        prev = e["hash"]
    return lines


VALID = sealed(valid_entries())


def entry(seq):
    return json.loads(VALID[seq])


def reseal(e, key=LOG):
    return seal(e, key)


def c_flipped_sig():
    e = entry(2)
    sig = bytearray(base64.b64decode(e["submission"]["sig"]))
    sig[40] ^= 0x01
    e["submission"]["sig"] = b64(bytes(sig))
    return {"2": reseal(e)}


def c_body_altered():
    e = entry(2)
    e["body"]["data"]["n"] = 4
    return {"2": reseal(e)}


def c_writer_signed():
    return {"3": reseal(entry(3), WRITER)}


def c_duplicate_id():
    e = entry(4)
    return {"4": reseal(submit(e, entry(2)["submission"]["id"], WRITER))}


def c_v2_without_submission():
    e = entry(4)
    del e["submission"]
    return {"4": reseal(e)}


def c_submission_in_v1():
    e = entry(4)
    e["v"] = 1
    return {"4": reseal(e)}


def c_unknown_member():
    e = entry(4)
    e["submission"]["note"] = "x"
    return {"4": reseal(e)}


def c_revoked():
    body = {"action": "revoke", "key_id": WRITER.id, "public_key": WRITER.public.hex()}
    return {"3": seal(base(3, "key", "admin", body, "2024-05-01T12:00:03.000Z"), LOG, entry(3)["prev"])}


def c_wrong_key_id():
    e = entry(1)
    e["body"]["public_key"] = OTHER.public.hex()
    return {"1": reseal(e)}


def c_unknown_signer():
    return {"4": reseal(submit(entry(4), "run-1001:deploy_prod", OTHER))}


def c_add_writer_valid():
    return {"1": seal(key_add(1, WRITER, "action"), LOG, entry(1)["prev"])}


def c_add_writer_signed():
    return {"1": c_add_writer_valid()["1"], "3": reseal(entry(3), WRITER)}


def git_signer_add(identity="alice@example.org"):
    """Seq 3 replaced by a key entry adding GIT as a git-signer key (signed by "log")."""
    body = {"action": "add-git-signer", "key_id": GIT.id, "public_key": GIT.public.hex()}
    if identity is not None:
        body["identity"] = identity
    return seal(base(3, "key", "admin", body, "2024-05-01T12:00:03.000Z"), LOG, entry(3)["prev"])


def c_git_signer_valid():
    return {"3": git_signer_add()}


def c_git_signer_signed():
    return {"3": git_signer_add(), "4": reseal(entry(4), GIT)}


def c_git_signer_submitted():
    return {"3": git_signer_add(), "4": reseal(submit(entry(4), "run-1001:deploy_prod", GIT))}


def case(name, replace, expect, omit=(), signer="log"):
    return {"name": name, "replace": replace, "omit": list(omit), "bundle_signer": signer, "expect": expect}


def cases():
    return [
        case("valid", {}, None),
        case("valid, writer key added with action add-writer", c_add_writer_valid(), None),
        case("valid, only the v2 entries and their key entry", {}, None, omit=(0, 3)),
        case("submission sig: one bit flipped", c_flipped_sig(), "submission.sig: not a valid signature by " + WRITER.id),
        case("body altered after the runner signed", c_body_altered(), "submission.sig: not a valid signature by " + WRITER.id),
        case("entry signed by the writer key", c_writer_signed(), "signed by writer key %s, which may sign submissions only" % WRITER.id),
        case("entry signed by a writer key added with action add-writer", c_add_writer_signed(),
             "signed by writer key %s, which may sign submissions only" % WRITER.id),
        case("writer key entry left out of the bundle", {}, "submission signer %s: no key entry for it in the bundle" % WRITER.id, omit=(1,)),
        case("submission signer in no key entry", c_unknown_signer(), "submission signer %s: no key entry for it in the bundle" % OTHER.id),
        case("duplicate submission id", c_duplicate_id(), "duplicate submission id"),
        case("v 2 without submission", c_v2_without_submission(), "submission: required with v 2"),
        case("submission in a v 1 line", c_submission_in_v1(), "submission: only allowed with v 2"),
        case("unknown member in submission", c_unknown_member(), "submission: unknown field"),
        case("writer key revoked before the submission", c_revoked(), "submission signer %s: revoked at seq 3" % WRITER.id),
        case("key_id of the writer key entry is not its public key's", c_wrong_key_id(), "is not the key id of body.public_key"),
        case("bundle signed by the writer key", {}, "signer %s is a writer key" % WRITER.id, signer="writer"),
        case("valid, git-signer key added with action add-git-signer", c_git_signer_valid(), None),
        case("entry signed by a git-signer key", c_git_signer_signed(),
             "signed by git-signer key %s, which signs git commits only" % GIT.id),
        case("submission signed by a git-signer key", c_git_signer_submitted(),
             "submission signer %s: a git-signer key, which signs git commits only" % GIT.id),
        case("bundle signed by a git-signer key", c_git_signer_valid(), "signer %s is a git-signer key" % GIT.id,
             signer="git-signer"),
        case("git-signer key added without an identity", {"3": git_signer_add(None)},
             "body.identity: required with action add-git-signer"),
        case("git-signer key added with an empty identity", {"3": git_signer_add("")},
             "body.identity: required with action add-git-signer"),
    ]


def vectors():
    subs = []
    for seq, line in enumerate(VALID):
        e = json.loads(line)
        if e["v"] != 2:
            continue
        sub = e["submission"]
        s = submission_s(e, sub["id"])
        msg = submission_message(e, sub["id"])
        subs.append({
            "seq": seq, "id": sub["id"], "signer": sub["signer"], "sig": sub["sig"],
            "s": s.decode("utf-8"), "s_sha256": hashlib.sha256(s).hexdigest(),
            "message": msg.decode("ascii"), "message_hex": msg.hex(),
        })
    keys = [{"name": k.name, "seed": k.seed.hex(), "public_key": k.public.hex(), "key_id": k.id} for k in (LOG, WRITER, OTHER, GIT)]
    messages = {str(x["seq"]): x["message"] for x in subs}
    return {"keys": keys, "entries": VALID, "messages": messages, "submissions": subs, "cases": cases()}


# ---------------------------------------------------------------------------------------------
# A minimal bundle, in the layout audit/verify.py reads (see docs/bundle.md).


def node(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m, leaves):
    """RFC 9162 section 2.1.3.1."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def write_bundle(out, c):
    lines = list(VALID)
    for seq, line in c["replace"].items():
        lines[int(seq)] = line
    key = KEYS[c["bundle_signer"]]
    leaves = [bytes.fromhex(json.loads(line)["hash"]) for line in lines]
    root = mth(leaves)
    size = len(leaves)
    proved = [i for i in range(size) if i not in c["omit"]]
    files = {}
    files["entries.jsonl"] = "".join(lines[i] + "\n" for i in proved).encode("utf-8")
    for i in proved:
        proof = {"hashes": [h.hex() for h in inclusion_path(i, leaves)], "leaf_hash": leaves[i].hex(), "leaf_index": i, "tree_size": size}
        files["proofs/inclusion-%d.json" % i] = canonical(proof) + b"\n"
    body = "%s\n%d\n%s\n" % (ORIGIN, size, b64(root))
    keyhash = sha256(ORIGIN.encode() + b"\n\x01" + key.public)[:4]
    files["checkpoint"] = (body + "\n\u2014 %s %s\n" % (ORIGIN, b64(keyhash + key.sign(body.encode())))).encode("utf-8")
    meta = {"artifacts": [], "ledger": {"origin": ORIGIN, "proved": proved, "root_hash": root.hex(), "tree_size": size},
            "sbom": {"source": "generated"}, "version": VERSION}
    files["metadata.json"] = canonical(meta) + b"\n"
    files["sbom.cdx.json"] = canonical({"bomFormat": "CycloneDX", "components": [], "specVersion": "1.5", "version": 1}) + b"\n"
    files["signer.pub"] = (key.public.hex() + "\n").encode()
    pem = b64(bytes.fromhex("302a300506032b6570032100") + key.public)
    files["signer.pem"] = ("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % pem).encode()
    subjects = [{"digest": {"sha256": hashlib.sha256(files[p]).hexdigest()}, "name": p} for p in sorted(files)]
    statement = canonical({"_type": "https://in-toto.io/Statement/v1", "predicate": {"version": VERSION},
                           "predicateType": "https://audit-ledger.dev/bundle/v1", "subject": subjects})
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d " % (len(ptype), ptype.encode(), len(statement)) + statement
    env = {"payload": b64(statement), "payloadType": ptype, "signatures": [{"keyid": key.id, "sig": b64(key.sign(pae))}]}
    files["attestation.dsse.json"] = canonical(env) + b"\n"
    manifest = "".join("%s  %s\n" % (hashlib.sha256(files[p]).hexdigest(), p) for p in sorted(files)).encode()
    files["MANIFEST.sha256"] = manifest
    files["MANIFEST.sha256.sig"] = (b64(key.sign(manifest)) + "\n").encode()
    os.makedirs(os.path.join(out, "proofs"))
    for p, data in files.items():
        with open(os.path.join(out, p), "wb") as f:
            f.write(data)


def check():
    """Every case's bundle through both audit verifiers, pinned to its bundle signer."""
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(cases()):
            d = os.path.join(tmp, "case-%02d" % i)
            write_bundle(d, c)
            pub = os.path.join(tmp, "case-%02d.pub" % i)
            with open(pub, "w") as f:
                f.write(KEYS[c["bundle_signer"]].public.hex() + "\n")
            for prog, script in (("python3", "verify.py"), ("sh", "verify.sh")):
                r = subprocess.run([prog, os.path.join(AUDIT, script), "--pubkey", pub, d], capture_output=True, text=True)
                line = (r.stdout if r.returncode == 0 else r.stderr).strip().split("\n")[0]
                if c["expect"] is None:
                    ok = r.returncode == 0 and line.startswith("OK: bundle")
                else:
                    ok = r.returncode == 1 and line.startswith("FAIL: ") and c["expect"] in line
                bad += not ok
                print("%-4s %-9s %-55s %s" % ("ok" if ok else "BAD", script, c["name"][:55], line))
    print("%d mismatches" % bad)
    return 1 if bad else 0


def main(argv):
    if argv[:1] == ["--check"] and len(argv) == 1:
        return check()
    if argv[:1] == ["--bundle"] and len(argv) in (2, 3):
        name = argv[2] if len(argv) == 3 else "valid"
        found = [c for c in cases() if c["name"] == name]
        if not found:
            sys.stderr.write("make.py: no case %r; cases:\n%s\n" % (name, "\n".join(c["name"] for c in cases())))
            return 2
        write_bundle(argv[1], found[0])
        print("expect: %s" % (found[0]["expect"] or "OK"))
        return 0
    if argv:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    with open(os.path.join(HERE, "vectors.json"), "w", encoding="utf-8") as f:
        json.dump(vectors(), f, indent=1, ensure_ascii=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
