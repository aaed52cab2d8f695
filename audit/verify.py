#!/usr/bin/env python3
"""Standalone verifier of an audit-ledger release bundle (Python 3 standard library only).

Usage: python3 verify.py (--pubkey FILE | --key-id ID | --trust-embedded-key) BUNDLE_DIR

Do not run the copy inside the bundle you are checking: take this script from the tool's source
release or from `ledger verifiers export`. --pubkey FILE pins the signer: a `.pub` file (64 hex)
or a PEM public key. --key-id ID pins it by key id (first 16 hex of SHA-256 of the raw public
key). One of them is required; --trust-embedded-key instead uses the bundle's own signer.pub,
which proves integrity only, and warns loudly.

Checks: every MANIFEST.sha256 line, no unlisted or linked files, the manifest's Ed25519
signature, the DSSE envelope (PAE, signature, statement subjects = manifest), the C2SP
checkpoint note's signature, every entry in entries.jsonl (canonical form, fields, leaf hash)
and its RFC 9162 inclusion proof into the checkpoint, the runner's submission signature of every
version-2 entry (by a key that an earlier `key` entry in entries.jsonl added and no earlier one
revoked; submission ids unique), no entry and not the bundle signed by a writer key, no
entry, submission or bundle signed by a git-signer key (whose key entry names an identity),
metadata.json (canonical) against the checkpoint and the SBOM. JSON with duplicate keys or
floats, and non-canonical base64, fail.
Exit 0 when everything holds, 1 on the first failure (one line naming the file), 2 on usage.

This file is an independent implementation of the formats in the project's DESIGN.md and
docs/bundle.md, written without the Rust code: Ed25519 verification follows RFC 8032 §5.1.7.
"""

import base64
import hashlib
import json
import os
import re
import stat
import sys

# ---------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032), pure Python. Strict like ed25519-dalek's verify_strict:
# canonical encodings, S < L, and no small-order public key or R.

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _inv(x):
    return pow(x, _P - 2, _P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * 2 * _D * t2 % _P
    d = z1 * 2 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(k, pt):
    acc = (0, 1, 1, 0)
    while k:
        if k & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        k >>= 1
    return acc


def _equal(p1, p2):
    x1, y1, z1, _ = p1
    x2, y2, z2, _ = p2
    return (x1 * z2 - x2 * z1) % _P == 0 and (y1 * z2 - y2 * z1) % _P == 0


def _decode_point(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * _inv(_D * y * y + 1) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return (x, y, 1, x * y % _P)


_BY = 4 * _inv(5) % _P
_B = _decode_point(_BY.to_bytes(32, "little"))
_IDENTITY = (0, 1, 1, 0)


def ed25519_verify(public, msg, sig):
    """True when sig (64 bytes) is a valid Ed25519 signature of msg by public (32 bytes)."""
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decode_point(public)
    r = _decode_point(sig[:32])
    if a is None or r is None:
        return False
    if _equal(_mul(8, a), _IDENTITY) or _equal(_mul(8, r), _IDENTITY):
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % _L
    return _equal(_mul(s, _B), _add(r, _mul(k, a)))


# ---------------------------------------------------------------------------------------------
# Formats.


class Fail(Exception):
    """A verification failure: (file, reason)."""


def fail(name, reason):
    raise Fail("%s: %s" % (name, reason))


def canonical(value):
    """JCS for our subset (integers only, ASCII keys): sorted keys, no whitespace, raw UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


MAX_SAFE_INTEGER = 2**53 - 1


def in_subset(value):
    """True when value has a canonical form: ASCII keys, integers below 2^53 in magnitude."""
    if isinstance(value, dict):
        return all(k.isascii() and in_subset(v) for k, v in value.items())
    if isinstance(value, list):
        return all(in_subset(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) <= MAX_SAFE_INTEGER
    return True


def is_canonical(value, raw):
    """True when raw is exactly the canonical JSON of value (which has a canonical form)."""
    try:
        return in_subset(value) and canonical(value) == raw
    except (UnicodeEncodeError, ValueError):
        return False


def no_dups(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("duplicate key %r" % k)
        out[k] = v
    return out


def no_floats(text):
    """Strict JSON: no floats, NaN or Infinity, no duplicate keys."""

    def bad(_):
        raise ValueError("floating-point number")

    try:
        return json.loads(text, parse_float=bad, parse_constant=bad, object_pairs_hook=no_dups)
    except RecursionError:
        raise ValueError("nested too deeply")


def valid_version(v):
    return isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,127}", v) is not None


def sha256(data):
    return hashlib.sha256(data).digest()


def key_id(public):
    return hashlib.sha256(public).hexdigest()[:16]


PEM_PREFIX = bytes.fromhex("302a300506032b6570032100")


def public_pem(public):
    b64 = base64.b64encode(PEM_PREFIX + public).decode()
    return ("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n" % b64).encode()


def b64decode(text, name, what):
    """Standard padded base64 in its one canonical spelling (no stray bits in the last digit)."""
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) or len(text) % 4:
        fail(name, "%s: not standard base64" % what)
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        fail(name, "%s: not canonical base64" % what)
    return raw


PATH_RE = re.compile(r"[A-Za-z0-9._/-]{1,255}")
MANIFEST = "MANIFEST.sha256"
MANIFEST_SIG = "MANIFEST.sha256.sig"
DSSE = "attestation.dsse.json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://audit-ledger.dev/bundle/v1"


def valid_path(p):
    return (
        PATH_RE.fullmatch(p) is not None
        and not p.startswith("-")
        and all(c not in ("", ".", "..") for c in p.split("/"))
    )


def list_files(root):
    """Every regular file under root (bundle paths). Links and special files fail."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                fail(rel, "is a symbolic link (not allowed in a bundle)")
            if n in filenames:
                if not stat.S_ISREG(st.st_mode):
                    fail(rel, "not a regular file")
                out.add(rel)
    return out


def parse_manifest(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(MANIFEST, "not UTF-8")
    if not text.endswith("\n"):
        fail(MANIFEST, "last line does not end in a newline")
    lines = []
    for i, line in enumerate(text[:-1].split("\n"), 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not m:
            fail(MANIFEST, "line %d: expected `<sha256>  <path>`" % i)
        if not valid_path(m.group(2)) or m.group(2) in (MANIFEST, MANIFEST_SIG):
            fail(MANIFEST, "line %d: unacceptable path %r" % (i, m.group(2)))
        lines.append((m.group(2), m.group(1)))
    paths = [p.encode() for p, _ in lines]
    if paths != sorted(set(paths)) or len(paths) != len(set(paths)):
        fail(MANIFEST, "lines are not sorted by path or a path is listed twice")
    return lines


def node(left, right):
    return sha256(b"\x01" + left + right)


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def note_key_hash(name, public):
    return sha256(name.encode() + b"\n\x01" + public)[:4]


def verify_checkpoint(data, public):
    """C2SP signed note holding a C2SP tlog-checkpoint; one signature must be by `public`."""
    name = "checkpoint"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(name, "not UTF-8")
    if any(ord(c) < 0x20 and c != "\n" or ord(c) == 0x7F for c in text):
        fail(name, "contains control characters")
    if "\n\n" not in text:
        fail(name, "no blank line before the signatures")
    body, sigs = text.split("\n\n", 1)
    body += "\n"
    if not sigs.endswith("\n"):
        fail(name, "last signature line does not end in a newline")
    found = None
    sig_lines = sigs[:-1].split("\n")
    if len(sig_lines) > 100:
        fail(name, "more than 100 signatures")
    for i, line in enumerate(sig_lines, 1):
        m = re.fullmatch("\u2014 ([^ +]+) ([A-Za-z0-9+/=]+)", line)
        if not m:
            fail(name, "signature line %d: expected `\u2014 name signature`" % i)
        blob = b64decode(m.group(2), name, "signature line %d" % i)
        if len(blob) == 68 and blob[:4] == note_key_hash(m.group(1), public):
            if not ed25519_verify(public, body.encode("utf-8"), blob[4:]):
                fail(name, "signature line %d (%s): bad signature" % (i, m.group(1)))
            found = m.group(1)
    if found is None:
        fail(name, "no signature by the bundle's key")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        fail(name, "expected origin, tree size and root hash lines")
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", lines[1]):
        fail(name, "tree size: expected a decimal number")
    root = b64decode(lines[2], name, "root hash")
    if len(root) != 32:
        fail(name, "root hash: expected 32 bytes")
    return lines[0], int(lines[1]), root


ENTRY_FIELDS = {"actor", "body", "hash", "kind", "prev", "seq", "sig", "signer", "submission", "ts", "v"}
SUBMISSION_FIELDS = ("id", "sig", "signer")
SUBMISSION_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
KEY_ID_RE = re.compile(r"[0-9a-f]{16}")
SUBMISSION_CONTEXT = b"ledger-submission-v1:"


def entry_leaf(line, n):
    """Check one ledger line (canonical, hash) and return (entry, leaf hash)."""
    name = "entries.jsonl"
    try:
        e = no_floats(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        fail(name, "line %d: not JSON: %s" % (n, err))
    if not isinstance(e, dict) or not is_canonical(e, line):
        fail(name, "line %d: not a canonical entry" % n)
    unknown = sorted(set(e) - ENTRY_FIELDS)
    if unknown:
        fail(name, "line %d: unknown field %r" % (n, unknown[0]))
    if e.get("v") not in (1, 2) or isinstance(e.get("v"), bool):
        fail(name, "line %d: v: expected 1 or 2" % n)
    if e["v"] == 2:
        check_v2_form(e, n)
    elif "submission" in e:
        fail(name, "line %d: submission: only allowed with v 2" % n)
    unsigned = {k: v for k, v in e.items() if k not in ("hash", "sig")}
    leaf = sha256(b"\x00" + canonical(unsigned))
    if e.get("hash") != leaf.hex():
        fail(name, "line %d: hash does not match the entry's canonical bytes" % n)
    if not isinstance(e.get("seq"), int) or isinstance(e.get("seq"), bool) or e["seq"] < 0:
        fail(name, "line %d: seq: expected a non-negative integer" % n)
    return e, leaf


def check_v2_form(e, n):
    """A version-2 entry: signed (signer, sig) and a well-formed submission {id, sig, signer}."""
    name = "entries.jsonl"
    for field in ("actor", "body", "kind", "ts"):
        if field not in e:
            fail(name, "line %d: %s: required with v 2" % (n, field))
    if not isinstance(e.get("signer"), str) or not KEY_ID_RE.fullmatch(e["signer"]):
        fail(name, "line %d: signer: a v 2 entry must be signed (16 lowercase hex)" % n)
    if not isinstance(e.get("sig"), str):
        fail(name, "line %d: sig: a v 2 entry must be signed" % n)
    if len(b64decode(e["sig"], name, "line %d: sig" % n)) != 64:
        fail(name, "line %d: sig: expected 64 bytes" % n)
    if e["kind"] in ("key", "policy"):
        fail(name, "line %d: kind: a submission cannot be a key or policy entry" % n)
    if "submission" not in e:
        fail(name, "line %d: submission: required with v 2" % n)
    sub = e["submission"]
    if not isinstance(sub, dict):
        fail(name, "line %d: submission: expected an object {id, sig, signer}" % n)
    unknown = sorted(set(sub) - set(SUBMISSION_FIELDS))
    if unknown:
        fail(name, "line %d: submission: unknown field %r" % (n, unknown[0]))
    for field in SUBMISSION_FIELDS:
        if field not in sub:
            fail(name, "line %d: submission.%s: missing" % (n, field))
    if not isinstance(sub["id"], str) or not SUBMISSION_ID_RE.fullmatch(sub["id"]):
        fail(name, "line %d: submission.id: expected 1 to 128 characters of [A-Za-z0-9._:-]" % n)
    if not isinstance(sub["signer"], str) or not KEY_ID_RE.fullmatch(sub["signer"]):
        fail(name, "line %d: submission.signer: expected 16 lowercase hex" % n)
    if not isinstance(sub["sig"], str):
        fail(name, "line %d: submission.sig: expected base64 of 64 bytes" % n)
    if len(b64decode(sub["sig"], name, "line %d: submission.sig" % n)) != 64:
        fail(name, "line %d: submission.sig: expected 64 bytes" % n)


def submission_message(e):
    """What the runner signed: the context and lowercase hex(SHA-256(S)), S the canonical JSON
    of {actor, body, id, kind, ts} (the entry's own actor, body, kind, ts)."""
    s = {"actor": e["actor"], "body": e["body"], "id": e["submission"]["id"], "kind": e["kind"], "ts": e["ts"]}
    return SUBMISSION_CONTEXT + hashlib.sha256(canonical(s)).hexdigest().encode("ascii")


class Submissions:
    """The bundle's own `key` entries, read in seq order, and the checks that need them: each
    submission is signed by a key added (and not revoked) by an earlier line, ids are unique,
    no writer key (added with the action `add-writer`) signs an entry, and no git-signer key
    (action `add-git-signer`, which signs git commits outside the ledger) signs anything."""

    def __init__(self):
        self.adds = {}  # key id -> (line, public_key) of its first add
        self.writers = {}  # key id -> line of the entry that added it as a writer key
        self.git_signers = {}  # key id -> line of the entry that added it as a git-signer key
        self.revoked = {}  # key id -> seq of its first revoke
        self.ids = {}  # submission id -> line
        self.signers = []  # (line, signer) of every signed entry

    def entry(self, e, n):
        """Check the entry on line n (already checked by entry_leaf, seq above the last)."""
        name = "entries.jsonl"
        if isinstance(e.get("signer"), str):
            self.signers.append((n, e["signer"]))
        if e["v"] == 2:
            sub = e["submission"]
            kid = sub["signer"]
            if sub["id"] in self.ids:
                fail(name, "line %d: submission.id: duplicate submission id %r (also on line %d)" % (n, sub["id"], self.ids[sub["id"]]))
            self.ids[sub["id"]] = n
            if kid not in self.adds:
                fail(name, "line %d: submission signer %s: no key entry for it in the bundle" % (n, kid))
            if kid in self.git_signers:
                fail(name, "line %d: submission signer %s: a git-signer key, which signs git commits only" % (n, kid))
            kline, pub = self.adds[kid]
            if not isinstance(pub, str) or not re.fullmatch(r"[0-9a-f]{64}", pub):
                fail(name, "line %d: body.public_key: expected 64 lowercase hex" % kline)
            public = bytes.fromhex(pub)
            if key_id(public) != kid:
                fail(name, "line %d: body.key_id: %s is not the key id of body.public_key (%s)" % (kline, kid, key_id(public)))
            if kid in self.revoked:
                fail(name, "line %d: submission signer %s: revoked at seq %d" % (n, kid, self.revoked[kid]))
            sig = b64decode(sub["sig"], name, "line %d: submission.sig" % n)
            if not ed25519_verify(public, submission_message(e), sig):
                fail(name, "line %d: submission.sig: not a valid signature by %s" % (n, kid))
        body = e.get("body")
        if e.get("kind") != "key" or not isinstance(body, dict):
            return
        kid = body.get("key_id")
        if not isinstance(kid, str) or not KEY_ID_RE.fullmatch(kid):
            return
        if body.get("action") in ("add", "add-writer", "add-git-signer"):
            if body["action"] == "add-writer":
                self.writers.setdefault(kid, n)
            if body["action"] == "add-git-signer":
                who = body.get("identity")
                if not isinstance(who, str) or who == "":
                    fail(name, "line %d: body.identity: required with action add-git-signer (a non-empty string)" % n)
                self.git_signers.setdefault(kid, n)
            self.adds.setdefault(kid, (n, body.get("public_key")))
        elif body.get("action") == "revoke":
            self.revoked.setdefault(kid, e["seq"])

    def finish(self, bundle_kid):
        """After the last line: no entry, and not the bundle, signed by a writer or git-signer key."""
        for n, signer in self.signers:
            if signer in self.writers:
                fail("entries.jsonl", "line %d: signer: signed by writer key %s, which may sign submissions only" % (n, signer))
            if signer in self.git_signers:
                fail("entries.jsonl", "line %d: signer: signed by git-signer key %s, which signs git commits only" % (n, signer))
        if bundle_kid in self.writers:
            fail("signer.pub", "signer %s is a writer key (entries.jsonl line %d), which may sign submissions only" % (bundle_kid, self.writers[bundle_kid]))
        if bundle_kid in self.git_signers:
            fail("signer.pub", "signer %s is a git-signer key (entries.jsonl line %d), which signs git commits only" % (bundle_kid, self.git_signers[bundle_kid]))


# ---------------------------------------------------------------------------------------------


def load_pin(args):
    pin_key, pin_id, trust = None, None, False
    i = 0
    rest = []
    while i < len(args):
        a = args[i]
        if a in ("-h", "--help"):
            print(__doc__.strip())
            sys.exit(0)
        if a in ("--pubkey", "--key-id"):
            if i + 1 >= len(args):
                usage("%s needs a value" % a)
            if a == "--pubkey":
                pin_key = read_pubkey(args[i + 1])
            else:
                pin_id = args[i + 1].lower()
                if not re.fullmatch(r"[0-9a-f]{16}", pin_id):
                    usage("--key-id: expected 16 hex characters")
            i += 2
            continue
        if a == "--trust-embedded-key":
            trust = True
            i += 1
            continue
        if a.startswith("-"):
            usage("unknown option %s" % a)
        rest.append(a)
        i += 1
    if len(rest) != 1:
        usage("expected one bundle directory")
    if pin_key is not None and pin_id is not None:
        usage("give --pubkey or --key-id, not both")
    if (pin_key is not None or pin_id is not None) and trust:
        usage("--trust-embedded-key cannot be combined with --pubkey or --key-id")
    if pin_key is None and pin_id is None and not trust:
        usage(
            "no pinned signer: pass --pubkey FILE or --key-id ID (the publisher's key, obtained "
            "apart from the bundle); --trust-embedded-key checks integrity only"
        )
    return pin_key, pin_id, rest


def usage(msg):
    sys.stderr.write("verify.py: %s\nusage: python3 verify.py (--pubkey FILE | --key-id ID | --trust-embedded-key) BUNDLE_DIR\n" % msg)
    sys.exit(2)


def read_pubkey(path):
    try:
        text = open(path, "rb").read(8192).decode("ascii").strip()
    except (OSError, UnicodeDecodeError) as err:
        usage("--pubkey %s: %s" % (path, err))
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    m = re.fullmatch(r"-----BEGIN PUBLIC KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----", text)
    if m:
        der = base64.b64decode("".join(m.group(1).split()))
        if len(der) == 44 and der[:12] == PEM_PREFIX:
            return der[12:]
    usage("--pubkey %s: expected 64 hex characters or an Ed25519 PEM public key" % path)


def verify(root, pin_key, pin_id):
    on_disk = list_files(root)

    def read(name):
        if name not in on_disk:
            fail(name, "file missing from the bundle")
        with open(os.path.join(root, name), "rb") as f:
            return f.read()

    manifest = read(MANIFEST)
    lines = parse_manifest(manifest)
    contents = {}
    for i, (path, digest) in enumerate(lines, 1):
        data = read(path)
        if sha256(data).hex() != digest:
            fail(MANIFEST, "line %d: %s: SHA-256 does not match" % (i, path))
        contents[path] = data
    for name in sorted(on_disk):
        if name not in contents and name not in (MANIFEST, MANIFEST_SIG):
            fail(name, "file not listed in MANIFEST.sha256")

    def get(name):
        if name not in contents:
            fail(name, "required file not listed in MANIFEST.sha256")
        return contents[name]

    # Key, pin, manifest signature.
    pub_text = get("signer.pub")
    if not re.fullmatch(rb"[0-9a-f]{64}\n", pub_text):
        fail("signer.pub", "expected 64 lowercase hex and a newline")
    public = bytes.fromhex(pub_text[:64].decode())
    if get("signer.pem") != public_pem(public):
        fail("signer.pem", "not the PEM form of signer.pub")
    kid = key_id(public)
    if pin_key is not None and pin_key != public:
        fail("signer.pub", "signer %s is not the pinned key %s" % (kid, key_id(pin_key)))
    if pin_id is not None and pin_id != kid:
        fail("signer.pub", "signer %s is not the pinned key id %s" % (kid, pin_id))
    sig_text = read(MANIFEST_SIG)
    if not sig_text.endswith(b"\n"):
        fail(MANIFEST_SIG, "expected base64 and a newline")
    sig = b64decode(sig_text[:-1].decode("ascii", "replace"), MANIFEST_SIG, "signature")
    if not ed25519_verify(public, manifest, sig):
        fail(MANIFEST_SIG, "not a valid signature of MANIFEST.sha256 by %s" % kid)

    # DSSE envelope and statement.
    env_bytes = get(DSSE)
    try:
        env = no_floats(env_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        fail(DSSE, "not JSON: %s" % err)
    if not isinstance(env, dict) or not is_canonical(env, env_bytes[:-1]) or not env_bytes.endswith(b"\n"):
        fail(DSSE, "envelope is not canonical JSON and a newline")
    if sorted(env) != ["payload", "payloadType", "signatures"] or env["payloadType"] != PAYLOAD_TYPE:
        fail(DSSE, "expected payload, payloadType %s and signatures" % PAYLOAD_TYPE)
    sigs = env["signatures"]
    if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict) or sorted(sigs[0]) != ["keyid", "sig"]:
        fail(DSSE, "expected exactly one signature {keyid, sig}")
    if sigs[0]["keyid"] != kid:
        fail(DSSE, "keyid %r is not the signer %s" % (sigs[0]["keyid"], kid))
    if not isinstance(env["payload"], str) or not isinstance(sigs[0]["sig"], str):
        fail(DSSE, "payload and sig must be strings")
    payload = b64decode(env["payload"], DSSE, "payload")
    pae = b"DSSEv1 %d %s %d " % (len(PAYLOAD_TYPE), PAYLOAD_TYPE.encode(), len(payload)) + payload
    if not ed25519_verify(public, pae, b64decode(sigs[0]["sig"], DSSE, "sig")):
        fail(DSSE, "DSSE signature does not verify over the PAE")
    try:
        st = no_floats(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        fail(DSSE, "payload: not JSON: %s" % err)
    if not isinstance(st, dict) or not is_canonical(st, payload):
        fail(DSSE, "payload: not canonical JSON")
    if st.get("_type") != STATEMENT_TYPE or st.get("predicateType") != PREDICATE_TYPE:
        fail(DSSE, "payload: not an in-toto Statement v1 with our predicate type")
    subjects = st.get("subject")
    if not isinstance(subjects, list):
        fail(DSSE, "payload.subject: expected an array")
    got = []
    for s in subjects:
        # Exactly {"digest": {"sha256": HEX}, "name": PATH}, as the tool writes it.
        if not isinstance(s, dict) or sorted(s) != ["digest", "name"] or not isinstance(s["digest"], dict) or sorted(s["digest"]) != ["sha256"]:
            fail(DSSE, "payload.subject: malformed subject")
        got.append((s.get("name"), s["digest"].get("sha256")))
    want = [(p, d) for p, d in lines if p != DSSE]
    if got != want:
        fail(DSSE, "statement subjects differ from the manifest")
    predicate = st.get("predicate") if isinstance(st.get("predicate"), dict) else {}

    # Checkpoint, metadata, entries and proofs.
    origin, size, cp_root = verify_checkpoint(get("checkpoint"), public)
    meta_bytes = get("metadata.json")
    try:
        meta = no_floats(meta_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        fail("metadata.json", "not JSON: %s" % err)
    if not isinstance(meta, dict) or not meta_bytes.endswith(b"\n") or not is_canonical(meta, meta_bytes[:-1]):
        fail("metadata.json", "not canonical JSON and a newline")
    version = meta.get("version")
    if not valid_version(version) or version != predicate.get("version"):
        fail("metadata.json", "version missing or different from the attestation's")
    ml = meta.get("ledger") if isinstance(meta.get("ledger"), dict) else {}
    if ml.get("tree_size") != size or ml.get("root_hash") != cp_root.hex() or ml.get("origin") != origin:
        fail("checkpoint", "checkpoint differs from metadata.json's ledger (origin, tree size, root)")
    entries = get("entries.jsonl")
    if entries and not entries.endswith(b"\n"):
        fail("entries.jsonl", "last line does not end in a newline")
    proved = []
    submissions = Submissions()
    for n, line in enumerate(entries.split(b"\n")[:-1], 1):
        e, leaf = entry_leaf(line, n)
        seq = e["seq"]
        if proved and proved[-1] >= seq:
            fail("entries.jsonl", "line %d: entries are not in increasing seq order" % n)
        submissions.entry(e, n)
        pname = "proofs/inclusion-%d.json" % seq
        try:
            proof = no_floats(get(pname).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            fail(pname, "not JSON: %s" % err)
        if not isinstance(proof, dict) or not get(pname).endswith(b"\n") or not is_canonical(proof, get(pname)[:-1]):
            fail(pname, "not canonical JSON and a newline")
        if sorted(proof) != ["hashes", "leaf_hash", "leaf_index", "tree_size"]:
            fail(pname, "expected leaf_index, tree_size, leaf_hash, hashes")
        if proof["leaf_index"] != seq or proof["leaf_hash"] != leaf.hex():
            fail(pname, "proof is not for the entry with seq %d" % seq)
        if proof["tree_size"] != size:
            fail(pname, "proof is for tree size %r, checkpoint has %d" % (proof["tree_size"], size))
        hashes = proof["hashes"]
        if not isinstance(hashes, list) or len(hashes) > 64 or not all(
            isinstance(h, str) and re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes
        ):
            fail(pname, "hashes: expected an array of 64-hex strings")
        if not verify_inclusion(seq, size, leaf, [bytes.fromhex(h) for h in hashes], cp_root):
            fail(pname, "entry %d is not included in the checkpoint's tree" % seq)
        proved.append(seq)
    submissions.finish(kid)
    if len([p for p in contents if p.startswith("proofs/inclusion-")]) != len(proved):
        fail("entries.jsonl", "a proof has no matching line in entries.jsonl")
    if not proved:
        fail("entries.jsonl", "no entries: the checkpoint is not tied to any entry")
    if ml.get("proved") != proved:
        fail("metadata.json", "ledger.proved differs from the proofs in the bundle")

    # SBOM: well-formed CycloneDX JSON; artifact digests equal metadata's (schema validation
    # needs a JSON Schema implementation: `ledger bundle verify` or a CycloneDX tool does it).
    try:
        sbom = no_floats(get("sbom.cdx.json").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        fail("sbom.cdx.json", "not JSON: %s" % err)
    if not isinstance(sbom, dict) or sbom.get("bomFormat") != "CycloneDX":
        fail("sbom.cdx.json", "not a CycloneDX JSON document")
    if sbom.get("specVersion") not in ("1.3", "1.4", "1.5"):
        fail("sbom.cdx.json", "specVersion is not supported (1.3, 1.4, 1.5)")
    if (meta.get("sbom") or {}).get("source") != "imported":
        files = {}
        for c in sbom.get("components") or []:
            if isinstance(c, dict) and c.get("type") == "file":
                digest = [h.get("content") for h in c.get("hashes") or [] if isinstance(h, dict) and h.get("alg") == "SHA-256"]
                files[c.get("name")] = digest[0] if digest else ""
        arts = {a.get("name"): a.get("sha256") for a in meta.get("artifacts") or [] if isinstance(a, dict)}
        if files != arts:
            fail("sbom.cdx.json", "file components differ from metadata.json's artifacts")
    return version, kid, size, proved, len(on_disk)


def main(argv):
    pin_key, pin_id, rest = load_pin(argv)
    root = rest[0]
    if not os.path.isdir(root):
        usage("%s: not a directory" % root)
    try:
        version, kid, size, proved, nfiles = verify(root, pin_key, pin_id)
    except Fail as err:
        sys.stderr.write("FAIL: %s\n" % err)
        return 1
    except OSError as err:
        sys.stderr.write("FAIL: %s\n" % err)
        return 1
    pinned = pin_key is not None or pin_id is not None
    print(
        "OK: bundle %s: %d files, signer %s%s, checkpoint size %d, %d entries proved"
        % (version, nfiles, kid, " (pinned)" if pinned else "", size, len(proved))
    )
    if not pinned:
        sys.stderr.write(
            "WARNING: --trust-embedded-key: signer %s was not pinned: this proves the bundle is "
            "consistent, not who signed it (anyone can sign a bundle with a key of their own); "
            "pin the publisher's key with --pubkey FILE or --key-id ID\n" % kid
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
