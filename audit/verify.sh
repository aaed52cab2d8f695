#!/bin/sh
# Standalone verifier of an audit-ledger release bundle.
# Needs only a POSIX shell, the POSIX utilities awk, cmp, find, grep and sed, coreutils and
# OpenSSL 3.0 or newer (`pkeyutl -rawin` for Ed25519).
#
# Usage: sh verify.sh (--pubkey FILE | --key-id ID | --trust-embedded-key) BUNDLE_DIR
#
# Do not run the copy inside the bundle you are checking: take this script from the tool's
# source release or from `ledger verifiers export`. --pubkey FILE pins the signer (a .pub file
# of 64 hex, or a PEM public key); --key-id ID pins it by key id (first 16 hex of SHA-256 of the
# raw 32-byte key). One of them is required; --trust-embedded-key instead uses the bundle's own
# signer.pub, which proves integrity only, and warns loudly.
#
# Checks, stopping at the first failure (exit 1, one line "FAIL: <file>: <reason>"):
#   every MANIFEST.sha256 line (format, order, digests), no unlisted files and no links,
#   signer.pub = signer.pem, the pin, the manifest's Ed25519 signature, the DSSE envelope
#   (PAE signature, statement subjects = manifest), the checkpoint note's signature, every
#   entry's canonical form, leaf hash and RFC 9162 inclusion proof into the checkpoint, the
#   runner's submission signature of every version-2 entry (by a key an earlier `key` entry in
#   entries.jsonl added and none revoked; ids unique), no entry and not the bundle signed by a
#   writer key, no entry, submission or bundle signed by a git-signer key (whose key entry
#   names an identity), metadata.json (canonical) against the checkpoint, the attestation and the SBOM's
#   file components. Every JSON file is read by a strict parser (below): duplicate keys, floats,
#   invalid UTF-8 and non-canonical spellings fail. SBOM schema validation needs
#   `ledger bundle verify` or a CycloneDX tool.
# Exit 0 when all hold, 1 on a failure, 2 on usage errors or missing tools.

set -u
LC_ALL=C
export LC_ALL

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
usage() { printf 'verify.sh: %s\nusage: sh verify.sh (--pubkey FILE | --key-id ID | --trust-embedded-key) BUNDLE_DIR\n' "$*" >&2; exit 2; }

PIN_FILE=''
PIN_ID=''
TRUST_EMBEDDED=no
DIR=''
while [ $# -gt 0 ]; do
  case "$1" in
    --pubkey) [ $# -ge 2 ] || usage "--pubkey needs a file"; PIN_FILE=$2; shift 2 ;;
    --key-id) [ $# -ge 2 ] || usage "--key-id needs an id"; PIN_ID=$2; shift 2 ;;
    --trust-embedded-key) TRUST_EMBEDDED=yes; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage "unknown option $1" ;;
    *) [ -z "$DIR" ] || usage "expected at most one bundle directory"; DIR=$1; shift ;;
  esac
done
[ -n "$DIR" ] || usage "expected the bundle directory"
[ -d "$DIR" ] || usage "$DIR: not a directory"
if [ -z "$PIN_FILE" ] && [ -z "$PIN_ID" ]; then
  [ "$TRUST_EMBEDDED" = yes ] || usage "no pinned signer: pass --pubkey FILE or --key-id ID (the publisher's key, obtained apart from the bundle); --trust-embedded-key checks integrity only"
else
  [ "$TRUST_EMBEDDED" = no ] || usage "--trust-embedded-key cannot be combined with --pubkey or --key-id"
  [ -z "$PIN_FILE" ] || [ -z "$PIN_ID" ] || usage "give --pubkey or --key-id, not both"
fi
for tool in openssl sha256sum od tr sed grep sort comm find head tail wc cut mktemp awk cmp; do
  command -v "$tool" >/dev/null 2>&1 || usage "needs $tool"
done
openssl pkeyutl -help 2>&1 | grep -q -- '-rawin' || usage "needs OpenSSL 3.0 or newer (openssl pkeyutl -rawin)"
if [ -n "$PIN_FILE" ]; then
  [ -r "$PIN_FILE" ] || usage "--pubkey $PIN_FILE: cannot read"
  case "$PIN_FILE" in /*) ;; *) PIN_FILE="$(pwd)/$PIN_FILE" ;; esac
fi
if [ -n "$PIN_ID" ]; then
  PIN_ID=$(printf '%s' "$PIN_ID" | tr 'A-F' 'a-f')
  case "$PIN_ID" in *[!0-9a-f]*) usage "--key-id: expected 16 hex characters" ;; esac
  [ ${#PIN_ID} -eq 16 ] || usage "--key-id: expected 16 hex characters"
fi

T=$(mktemp -d) || usage "mktemp failed"
trap 'rm -rf "$T"' EXIT
trap 'exit 2' HUP INT TERM
cd "$DIR" || usage "$DIR: cannot enter"

hex_of() { od -An -v -tx1 | tr -d ' \n'; }
# Bytes from hex on stdout (octal escapes: POSIX printf has no \x).
hex2bin() {
  h=$1; esc=''
  while [ -n "$h" ]; do
    b=${h%"${h#??}"}; h=${h#??}
    esc="$esc\\$(printf '%03o' "$((0x$b))")"
  done
  printf "$esc"
}
b64d() { tr -d '\n' | openssl base64 -d -A; }
# b64c IN OUT: decode the base64 text in file IN (no newline) into OUT; false unless IN is the
# canonical standard padded encoding of OUT (no stray bits, no missing padding).
b64c() {
  [ -z "$(tr -d 'A-Za-z0-9+/=' < "$1")" ] || return 1
  openssl base64 -d -A < "$1" > "$2" 2>/dev/null || return 1
  openssl base64 -A < "$2" | tr -d '\n' > "$T/b64again"
  cmp -s "$1" "$T/b64again"
}
last_byte_is_newline() { [ "$(tail -c 1 "$1" | hex_of)" = "0a" ]; }
no_nul() { [ "$(tr -d '\000' < "$1" | wc -c)" -eq "$(wc -c < "$1")" ]; }

JSON_AWK=$(cat <<'AWK'
# JSON reader (RFC 8259, strict): MODE=canon requires the exact canonical form (JCS subset:
# sorted ASCII keys, no whitespace, minimal escapes, integers below 2^53); MODE=loose allows
# whitespace and any escapes. Both refuse duplicate keys, floats, invalid UTF-8 and nesting
# deeper than 100. Output, one line per value: PATH TAB TEXT, PATH being /"key" and /index
# segments (keys in canonical spelling), TEXT the value's canonical text (canon mode; a
# container's whole text) or, in loose mode, a scalar's canonical text or { or [.
BEGIN {
  for (i = 1; i < 256; i++) { c = sprintf("%c", i); ORD[c] = i; CHR[i] = c }
  HEXD = "0123456789abcdef"
  canon = (MODE == "canon")
}
{ text = (NR == 1) ? $0 : text "\n" $0 }
END {
  s = text; n = length(s); pos = 1; err = ""
  ws()
  value("", 0)
  ws()
  if (err == "" && pos <= n) err = "trailing characters at byte " pos
  if (err != "") { printf "%s\n", err > "/dev/stderr"; exit 1 }
  exit 0
}
function bad(why) { if (err == "") err = why " at byte " pos; pos = n + 2; return 0 }
function ws(  c) {
  if (canon) return
  while (pos <= n) {
    c = substr(s, pos, 1)
    if (c != " " && c != "\t" && c != "\n" && c != "\r") return
    pos++
  }
}
function emit(path, t) { if (err == "") printf "%s\t%s\n", path, t }
function value(path, depth,   c, start) {
  if (err != "") return 0
  if (depth > 100) return bad("nested too deeply")
  c = substr(s, pos, 1); start = pos
  if (c == "{") { if (!object(path, depth)) return 0 }
  else if (c == "[") { if (!array(path, depth)) return 0 }
  else if (c == "\"") { if (!str(0)) return 0; emit(path, tok); return 1 }
  else if (c == "-" || (c >= "0" && c <= "9")) { if (!num()) return 0; emit(path, tok); return 1 }
  else if (substr(s, pos, 4) == "true") { pos += 4; emit(path, "true"); return 1 }
  else if (substr(s, pos, 5) == "false") { pos += 5; emit(path, "false"); return 1 }
  else if (substr(s, pos, 4) == "null") { pos += 4; emit(path, "null"); return 1 }
  else return bad("expected a JSON value")
  if (canon) emit(path, substr(s, start, pos - start))
  else emit(path, c)
  return 1
}
function object(path, depth,   first, key, prevkey, c) {
  pos++; ws(); first = 1; prevkey = ""
  if (substr(s, pos, 1) == "}") { pos++; return 1 }
  while (1) {
    if (substr(s, pos, 1) != "\"") return bad("expected a key")
    if (!str(1)) return 0
    key = tok
    if ((path SUBSEP key) in SEEN) return bad("duplicate key " key)
    SEEN[path SUBSEP key] = 1
    if (canon && !first && !(dec > prevkey)) return bad("keys not in sorted order")
    prevkey = dec; first = 0
    ws()
    if (substr(s, pos, 1) != ":") return bad("expected :")
    pos++; ws()
    if (!value(path "/" key, depth + 1)) return 0
    ws(); c = substr(s, pos, 1); pos++
    if (c == "}") return 1
    if (c != ",") return bad("expected , or }")
    ws()
  }
}
function array(path, depth,   i, c) {
  pos++; ws(); i = 0
  if (substr(s, pos, 1) == "]") { pos++; return 1 }
  while (1) {
    if (!value(path "/" i, depth + 1)) return 0
    i++
    ws(); c = substr(s, pos, 1); pos++
    if (c == "]") return 1
    if (c != ",") return bad("expected , or ]")
    ws()
  }
}
function num(  start, m) {
  start = pos
  if (substr(s, pos, 1) == "-") pos++
  c = substr(s, pos, 1)
  if (c == "0") pos++
  else if (c >= "1" && c <= "9") { while (pos <= n && (c = substr(s, pos, 1)) >= "0" && c <= "9") pos++ }
  else return bad("bad number")
  c = substr(s, pos, 1)
  if (c == "." || c == "e" || c == "E") return bad("floating-point number")
  tok = substr(s, start, pos - start)
  if (tok == "-0") { if (canon) return bad("-0 is not canonical"); tok = "0" }
  m = tok; sub(/^-/, "", m)
  if (canon && (length(m) > 16 || (length(m) == 16 && m > "9007199254740991"))) return bad("integer out of range")
  return 1
}
function hexval(h,   i, v) {
  v = 0; h = tolower(h)
  for (i = 1; i <= 4; i++) v = v * 16 + index(HEXD, substr(h, i, 1)) - 1
  return v
}
# The canonical text of code point cp (inside a string).
function enc(cp) {
  if (cp == 8) return "\\b"
  if (cp == 9) return "\\t"
  if (cp == 10) return "\\n"
  if (cp == 12) return "\\f"
  if (cp == 13) return "\\r"
  if (cp < 32) return sprintf("\\u%04x", cp)
  if (cp == 34) return "\\\""
  if (cp == 92) return "\\\\"
  if (cp < 128) return CHR[cp]
  if (cp < 2048) return CHR[192 + int(cp / 64)] CHR[128 + cp % 64]
  if (cp < 65536) return CHR[224 + int(cp / 4096)] CHR[128 + int(cp / 64) % 64] CHR[128 + cp % 64]
  return CHR[240 + int(cp / 262144)] CHR[128 + int(cp / 4096) % 64] CHR[128 + int(cp / 64) % 64] CHR[128 + cp % 64]
}
function cont(k, lo, hi,   o) {
  o = ORD[substr(s, pos + k, 1)]
  return o >= lo && o <= hi
}
# A string at pos: tok = its canonical text; when iskey, dec = its decoded bytes (keys must be
# ASCII in canon mode, and never hold U+0000).
function str(iskey,   start, c, o, e, cp, lo, out, d, len) {
  start = pos; pos++; out = "\""; d = ""
  while (1) {
    if (pos > n) return bad("unterminated string")
    c = substr(s, pos, 1); o = ORD[c]
    if (c == "\"") { pos++; break }
    if (o < 32) return bad("control character in a string")
    if (c == "\\") {
      e = substr(s, pos + 1, 1)
      if (e == "u") {
        if (substr(s, pos + 2, 4) !~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/) return bad("bad \\u escape")
        cp = hexval(substr(s, pos + 2, 4)); pos += 6
        if (cp >= 55296 && cp <= 56319) {
          if (substr(s, pos, 2) != "\\u" || substr(s, pos + 2, 4) !~ /^[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]$/) return bad("lone surrogate")
          lo = hexval(substr(s, pos + 2, 4))
          if (lo < 56320 || lo > 57343) return bad("lone surrogate")
          cp = 65536 + (cp - 55296) * 1024 + (lo - 56320); pos += 6
        } else if (cp >= 56320 && cp <= 57343) return bad("lone surrogate")
        if (iskey && cp == 0) return bad("U+0000 in a key")
        out = out enc(cp); if (iskey) d = d (cp < 128 ? CHR[cp] : "\377")
      } else if (e == "\"" || e == "\\" || e == "/") { out = out enc(ORD[e]); d = d e; pos += 2 }
      else if (e == "b") { out = out "\\b"; d = d CHR[8]; pos += 2 }
      else if (e == "f") { out = out "\\f"; d = d CHR[12]; pos += 2 }
      else if (e == "n") { out = out "\\n"; d = d CHR[10]; pos += 2 }
      else if (e == "r") { out = out "\\r"; d = d CHR[13]; pos += 2 }
      else if (e == "t") { out = out "\\t"; d = d CHR[9]; pos += 2 }
      else return bad("bad escape")
      continue
    }
    if (o < 128) { out = out c; d = d c; pos++; continue }
    # UTF-8: the shortest form of a scalar value (no surrogates), as Python and Rust require.
    if (o >= 194 && o <= 223) len = cont(1, 128, 191) ? 2 : 0
    else if (o == 224) len = (cont(1, 160, 191) && cont(2, 128, 191)) ? 3 : 0
    else if ((o >= 225 && o <= 236) || o == 238 || o == 239) len = (cont(1, 128, 191) && cont(2, 128, 191)) ? 3 : 0
    else if (o == 237) len = (cont(1, 128, 159) && cont(2, 128, 191)) ? 3 : 0
    else if (o == 240) len = (cont(1, 144, 191) && cont(2, 128, 191) && cont(3, 128, 191)) ? 4 : 0
    else if (o >= 241 && o <= 243) len = (cont(1, 128, 191) && cont(2, 128, 191) && cont(3, 128, 191)) ? 4 : 0
    else if (o == 244) len = (cont(1, 128, 143) && cont(2, 128, 191) && cont(3, 128, 191)) ? 4 : 0
    else len = 0
    if (len == 0) return bad("invalid UTF-8")
    out = out substr(s, pos, len); d = d "\377"; pos += len
  }
  tok = out "\""
  if (iskey) {
    dec = d
    if (canon && index(d, "\377")) return bad("non-ASCII key")
  }
  if (canon && substr(s, start, pos - start) != tok) return bad("string not in canonical form")
  return 1
}
AWK
)
# jflat MODE FILE OUT: read FILE with the strict JSON reader; OUT gets PATH<TAB>TEXT lines. A
# canonical file is exactly one line of canonical JSON and a newline.
jflat() {
  no_nul "$2" || return 1
  if [ "$1" = canon ]; then
    [ "$(wc -l < "$2")" -eq 1 ] && last_byte_is_newline "$2" || return 1
  fi
  awk -v MODE="$1" "$JSON_AWK" "$2" > "$3" 2>/dev/null
}
# jget FLAT PATH: the text of the value at PATH (empty when absent).
jget() { awk -F '	' -v p="$2" '$1 == p { print substr($0, length(p) + 2); exit }' "$1"; }

# 1. Files: only regular files and directories; no newlines in names.
bad=$(find . \( -type l -o \( ! -type f ! -type d \) \) -print | head -n 1)
[ -z "$bad" ] || fail "${bad#./}: not a regular file (links are not allowed in a bundle)"
nl='
'
bad=$(find . -name "*$nl*" -print | head -n 1)
[ -z "$bad" ] || fail "a file name contains a newline"

# 2. Manifest: format, order, digests, nothing unlisted.
M=MANIFEST.sha256
[ -f "$M" ] || fail "$M: file missing from the bundle"
[ -s "$M" ] || fail "$M: empty"
last_byte_is_newline "$M" || fail "$M: last line does not end in a newline"
n=$(sed -n '/^[0-9a-f]\{64\}  [A-Za-z0-9._/-]\{1,255\}$/!=' "$M" | head -n 1)
[ -z "$n" ] || fail "$M: line $n: expected \`<sha256>  <path>\` with a safe path"
n=$(cut -c67- "$M" | sed -n '/^-/=;/^\//=;/\/\//=;/\/$/=;/^\.\{1,2\}\//=;/\/\.\{1,2\}\//=;/\/\.\{1,2\}$/=;/^\.\{1,2\}$/=;/^MANIFEST\.sha256$/=;/^MANIFEST\.sha256\.sig$/=' | head -n 1)
[ -z "$n" ] || fail "$M: line $n: unacceptable path"
cut -c67- "$M" | sort -c -u 2>/dev/null || fail "$M: lines are not sorted by path or a path is listed twice"
out=$(sha256sum -c --strict --quiet "$M" 2>&1) || fail "$M: $(printf '%s\n' "$out" | head -n 1)"
find . -type f -print | sed 's|^\./||' | sort > "$T/ondisk"
{ cut -c67- "$M"; printf '%s\n' "$M" "$M.sig"; } | sort > "$T/listed"
extra=$(comm -23 "$T/ondisk" "$T/listed" | head -n 1)
[ -z "$extra" ] || fail "$extra: file not listed in $M"
missing=$(comm -13 "$T/ondisk" "$T/listed" | head -n 1)
[ -z "$missing" ] || fail "$missing: file missing from the bundle"
for f in signer.pub signer.pem attestation.dsse.json checkpoint entries.jsonl metadata.json sbom.cdx.json; do
  grep -q "^[0-9a-f]\{64\}  $f\$" "$M" || fail "$f: required file not listed in $M"
done

# 3. Signer key, pin, manifest signature.
[ "$(wc -c < signer.pub)" -eq 65 ] && sed -n '1p' signer.pub | grep -q '^[0-9a-f]\{64\}$' \
  || fail "signer.pub: expected 64 lowercase hex and a newline"
PUBHEX=$(sed -n '1p' signer.pub)
openssl pkey -pubin -in signer.pem -outform DER > "$T/der" 2>/dev/null || fail "signer.pem: not a PEM public key"
[ "$(hex_of < "$T/der")" = "302a300506032b6570032100$PUBHEX" ] || fail "signer.pem: not the PEM form of signer.pub"
tail -c 32 "$T/der" > "$T/rawpub"
KID=$(sha256sum < "$T/rawpub" | cut -c1-16)
PINNED=no
if [ -n "$PIN_FILE" ]; then
  if grep -q 'BEGIN PUBLIC KEY' "$PIN_FILE"; then
    PINHEX=$(openssl pkey -pubin -in "$PIN_FILE" -outform DER 2>/dev/null | tail -c 32 | hex_of)
  else
    PINHEX=$(tr -d ' \n\r' < "$PIN_FILE" | tr 'A-F' 'a-f')
  fi
  [ ${#PINHEX} -eq 64 ] || usage "--pubkey $PIN_FILE: expected 64 hex characters or an Ed25519 PEM public key"
  [ "$PINHEX" = "$PUBHEX" ] || fail "signer.pub: signer $KID is not the pinned key"
  PINNED=yes
fi
if [ -n "$PIN_ID" ]; then
  [ "$PIN_ID" = "$KID" ] || fail "signer.pub: signer $KID is not the pinned key id $PIN_ID"
  PINNED=yes
fi
S=MANIFEST.sha256.sig
[ -f "$S" ] || fail "$S: file missing from the bundle"
[ "$(wc -l < "$S")" -eq 1 ] && last_byte_is_newline "$S" && sed -n '1p' "$S" | grep -q '^[A-Za-z0-9+/]\{86\}==$' \
  || fail "$S: expected base64 of 64 bytes and a newline"
tr -d '\n' < "$S" > "$T/sig.b64"
b64c "$T/sig.b64" "$T/sig" || fail "$S: expected canonical base64 of 64 bytes and a newline"
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$M" -sigfile "$T/sig" >/dev/null 2>&1 \
  || fail "$S: not a valid signature of $M by $KID"

# 4. DSSE envelope: canonical JSON of exactly this shape, signature over the PAE, a canonical
# in-toto Statement whose subjects are the manifest's lines.
D=attestation.dsse.json
jflat canon "$D" "$T/env" || fail "$D: envelope is not canonical JSON and a newline"
re='^{"payload":"\([A-Za-z0-9+/=]*\)","payloadType":"application/vnd.in-toto+json","signatures":\[{"keyid":"\([0-9a-f]\{16\}\)","sig":"\([A-Za-z0-9+/]\{86\}==\)"}\]}$'
sed -n "s|$re|\\1|p" "$D" > "$T/payload.b64"
[ -s "$T/payload.b64" ] || fail "$D: expected payload, payloadType application/vnd.in-toto+json and one signature {keyid, sig}"
[ "$(sed -n "s|$re|\\2|p" "$D")" = "$KID" ] || fail "$D: keyid is not the signer $KID"
sed -n "s|$re|\\3|p" "$D" | tr -d '\n' > "$T/dsse.sig.b64"
b64c "$T/dsse.sig.b64" "$T/dsse.sig" || fail "$D: sig: not canonical base64"
tr -d '\n' < "$T/payload.b64" > "$T/payload.b64n"
b64c "$T/payload.b64n" "$T/payload" || fail "$D: payload: not canonical base64"
{ printf 'DSSEv1 28 application/vnd.in-toto+json %s ' "$(wc -c < "$T/payload" | tr -d ' ')"; cat "$T/payload"; } > "$T/pae"
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$T/pae" -sigfile "$T/dsse.sig" >/dev/null 2>&1 \
  || fail "$D: DSSE signature does not verify over the PAE"
# The payload has no newline of its own: give the reader one line.
{ cat "$T/payload"; printf '\n'; } > "$T/payload.nl"
jflat canon "$T/payload.nl" "$T/st" || fail "$D: payload: not canonical JSON"
[ "$(jget "$T/st" '/"_type"')" = '"https://in-toto.io/Statement/v1"' ] \
  && [ "$(jget "$T/st" '/"predicateType"')" = '"https://audit-ledger.dev/bundle/v1"' ] \
  || fail "$D: payload: not an in-toto Statement v1 with our predicate type"
grep -v '  attestation\.dsse\.json$' "$M" \
  | sed 's|^\([0-9a-f]*\)  \(.*\)$|{"digest":{"sha256":"\1"},"name":"\2"}|' | tr '\n' ',' | sed 's/,$//' > "$T/want"
[ "$(jget "$T/st" '/"subject"')" = "[$(cat "$T/want")]" ] || fail "$D: statement subjects differ from the manifest"
VTOK=$(jget "$T/st" '/"predicate"/"version"')
VERSION=$(printf '%s\n' "$VTOK" | sed -n 's|^"\([A-Za-z0-9_+][A-Za-z0-9._+-]\{0,127\}\)"$|\1|p')

# 5. Checkpoint: C2SP signed note with a signature by the signer.
C=checkpoint
last_byte_is_newline "$C" || fail "$C: last line does not end in a newline"
grep -q '^$' "$C" || fail "$C: no blank line before the signatures"
sed '/^$/,$d' "$C" > "$T/cpbody"
sed '1,/^$/d' "$C" > "$T/cpsigs"
[ -s "$T/cpsigs" ] || fail "$C: no signature lines"
[ "$(wc -l < "$T/cpbody")" -ge 3 ] || fail "$C: expected origin, tree size and root hash lines"
ORIGIN=$(sed -n '1p' "$T/cpbody")
SIZE=$(sed -n '2p' "$T/cpbody")
case "$SIZE" in ''|*[!0-9]*|0?*) fail "$C: tree size: expected a decimal number" ;; esac
sed -n '3p' "$T/cpbody" | tr -d '\n' > "$T/root.b64"
b64c "$T/root.b64" "$T/root" || fail "$C: root hash: expected base64 of 32 bytes"
ROOTHEX=$(hex_of < "$T/root")
[ ${#ROOTHEX} -eq 64 ] || fail "$C: root hash: expected base64 of 32 bytes"
found=no
i=0
while IFS= read -r line; do
  i=$((i + 1))
  [ $i -le 100 ] || fail "$C: more than 100 signatures"
  case "$line" in "— "*) ;; *) fail "$C: signature line $i: expected \`— name signature\`" ;; esac
  rest=${line#"— "}
  name=${rest%% *}
  b64=${rest#* }
  case "$name$b64" in *' '*|*'+'*' '*) fail "$C: signature line $i: malformed" ;; esac
  printf '%s' "$b64" > "$T/blob.b64"
  b64c "$T/blob.b64" "$T/blob" || fail "$C: signature line $i: not canonical base64"
  [ "$(wc -c < "$T/blob")" -eq 68 ] || continue
  kh=$({ printf '%s\n\001' "$name"; cat "$T/rawpub"; } | sha256sum | cut -c1-8)
  [ "$(head -c 4 "$T/blob" | hex_of)" = "$kh" ] || continue
  tail -c 64 "$T/blob" > "$T/cpsig"
  openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$T/cpbody" -sigfile "$T/cpsig" >/dev/null 2>&1 \
    || fail "$C: signature line $i ($name): bad signature"
  found=yes
done < "$T/cpsigs"
[ "$found" = yes ] || fail "$C: no signature by the bundle's key"

# metadata.json: canonical JSON; the fields below are read at their exact paths, so a nested
# or duplicated look-alike cannot stand in for them.
MD=metadata.json
jflat canon "$MD" "$T/meta" || fail "$MD: not canonical JSON and a newline"
[ -n "$VERSION" ] && [ "$(jget "$T/meta" '/"version"')" = "$VTOK" ] \
  || fail "$MD: version missing or different from the attestation's"
case "$ORIGIN" in *'"'*|*'\'*) fail "$C: origin: quotes and backslashes are not supported" ;; esac
[ "$(jget "$T/meta" '/"ledger"/"origin"')" = "\"$ORIGIN\"" ] \
  && [ "$(jget "$T/meta" '/"ledger"/"tree_size"')" = "$SIZE" ] \
  && [ "$(jget "$T/meta" '/"ledger"/"root_hash"')" = "\"$ROOTHEX\"" ] \
  || fail "$C: checkpoint differs from metadata.json's ledger (origin, tree size, root)"

# 6. Entries and inclusion proofs (RFC 9162 2.1.3.2). Each line must be the canonical JSON of
# an entry; its leaf hash covers the same bytes without the top-level hash and sig members.
# A version-2 line also carries submission {id, sig, signer}: the runner's Ed25519 signature
# over "ledger-submission-v1:" and hex SHA-256 of the canonical {actor, body, id, kind, ts},
# by a key that an earlier key entry of this file added ($T/keys: "add KID LINE PUBLIC_KEY",
# "writer KID LINE", "gitsigner KID LINE", "revoke KID SEQ"); $T/sids holds "ID LINE",
# $T/signers "LINE SIGNER".
node() { { printf '\001'; hex2bin "$1"; hex2bin "$2"; } | sha256sum | cut -c1-64; }
E=entries.jsonl
[ ! -s "$E" ] || last_byte_is_newline "$E" || fail "$E: last line does not end in a newline"
no_nul "$E" || fail "$E: contains a NUL byte"
: > "$T/keys"
: > "$T/sids"
: > "$T/signers"
proved=''
count=0
lastseq=-1
n=0
while IFS= read -r line; do
  n=$((n + 1))
  printf '%s\n' "$line" > "$T/line"
  jflat canon "$T/line" "$T/e" || fail "$E: line $n: not a canonical entry (JSON, sorted keys, no whitespace, minimal escapes)"
  # Top-level members in order (keys are checked against the entry's fields first).
  grep '^/"[^"/]*"	' "$T/e" > "$T/top"
  bad=$(cut -f1 "$T/top" | grep -v -x -e '/"actor"' -e '/"body"' -e '/"hash"' -e '/"kind"' -e '/"prev"' \
    -e '/"seq"' -e '/"sig"' -e '/"signer"' -e '/"submission"' -e '/"ts"' -e '/"v"' | head -n 1)
  [ -z "$bad" ] || fail "$E: line $n: unknown field ${bad#/}"
  [ "$(grep -c '^/"[^/]*	' "$T/e")" -eq "$(wc -l < "$T/top")" ] || fail "$E: line $n: unknown field"
  hash=$(jget "$T/e" '/"hash"' | sed -n 's|^"\([0-9a-f]\{64\}\)"$|\1|p')
  seq=$(jget "$T/e" '/"seq"')
  [ -n "$hash" ] || fail "$E: line $n: hash: expected 64 lowercase hex characters"
  case "$seq" in ''|-*|*[!0-9]*) fail "$E: line $n: seq: expected a non-negative integer" ;; esac
  v=$(jget "$T/e" '/"v"')
  case "$v" in 1|2) ;; *) fail "$E: line $n: v: expected 1 or 2" ;; esac
  [ "$seq" -gt "$lastseq" ] || fail "$E: line $n: entries are not in increasing seq order"
  lastseq=$seq
  unsigned=$(grep -v -e '^/"hash"	' -e '^/"sig"	' "$T/top" | sed 's|^/\("[^"]*"\)	|\1:|' | tr '\n' ',' | sed 's/,$//')
  leaf=$({ printf '\000'; printf '{%s}' "$unsigned"; } | sha256sum | cut -c1-64)
  [ "$leaf" = "$hash" ] || fail "$E: line $n: hash does not match the entry's canonical bytes"
  if [ "$v" = 2 ]; then
    for f in actor body kind ts; do
      grep -q "^/\"$f\"	" "$T/top" || fail "$E: line $n: $f: required with v 2"
    done
    jget "$T/e" '/"signer"' | grep -q '^"[0-9a-f]\{16\}"$' || fail "$E: line $n: signer: a v 2 entry must be signed (16 lowercase hex)"
    esig=$(jget "$T/e" '/"sig"')
    printf '%s\n' "$esig" | grep -q '^"[A-Za-z0-9+/]\{86\}=="$' || fail "$E: line $n: sig: a v 2 entry must be signed (base64 of 64 bytes)"
    printf '%s' "$esig" | tr -d '"' > "$T/esig.b64"
    b64c "$T/esig.b64" "$T/esig" || fail "$E: line $n: sig: not canonical base64"
    case "$(jget "$T/e" '/"kind"')" in '"key"'|'"policy"') fail "$E: line $n: kind: a submission cannot be a key or policy entry" ;; esac
    sub=$(jget "$T/e" '/"submission"')
    [ -n "$sub" ] || fail "$E: line $n: submission: required with v 2"
    case "$sub" in '{'*) ;; *) fail "$E: line $n: submission: expected an object {id, sig, signer}" ;; esac
    bad=$(grep '^/"submission"/"[^/]*"	' "$T/e" | cut -f1 | grep -v -x -e '/"submission"/"id"' \
      -e '/"submission"/"sig"' -e '/"submission"/"signer"' | head -n 1)
    [ -z "$bad" ] || fail "$E: line $n: submission: unknown field ${bad#/\"submission\"/}"
    sid=$(jget "$T/e" '/"submission"/"id"')
    ssig=$(jget "$T/e" '/"submission"/"sig"')
    skid=$(jget "$T/e" '/"submission"/"signer"')
    [ -n "$sid" ] || fail "$E: line $n: submission.id: missing"
    [ -n "$ssig" ] || fail "$E: line $n: submission.sig: missing"
    [ -n "$skid" ] || fail "$E: line $n: submission.signer: missing"
    # Exactly these three members (a key the paths above cannot name is caught here).
    [ "$sub" = "{\"id\":$sid,\"sig\":$ssig,\"signer\":$skid}" ] || fail "$E: line $n: submission: unknown field"
    printf '%s\n' "$sid" | grep -q '^"[A-Za-z0-9._:-]\{1,128\}"$' \
      || fail "$E: line $n: submission.id: expected 1 to 128 characters of [A-Za-z0-9._:-]"
    printf '%s\n' "$skid" | grep -q '^"[0-9a-f]\{16\}"$' || fail "$E: line $n: submission.signer: expected 16 lowercase hex"
    printf '%s\n' "$ssig" | grep -q '^"[A-Za-z0-9+/]\{86\}=="$' || fail "$E: line $n: submission.sig: expected base64 of 64 bytes"
    printf '%s' "$ssig" | tr -d '"' > "$T/ssig.b64"
    b64c "$T/ssig.b64" "$T/ssig" || fail "$E: line $n: submission.sig: not canonical base64"
    sid=${sid#\"}; sid=${sid%\"}
    skid=${skid#\"}; skid=${skid%\"}
    dup=$(awk -v id="$sid" '$1 == id { print $2; exit }' "$T/sids")
    [ -z "$dup" ] || fail "$E: line $n: submission.id: duplicate submission id '$sid' (also on line $dup)"
    printf '%s %s\n' "$sid" "$n" >> "$T/sids"
    kadd=$(awk -v k="$skid" '$1 == "add" && $2 == k { print; exit }' "$T/keys")
    [ -n "$kadd" ] || fail "$E: line $n: submission signer $skid: no key entry for it in the bundle"
    kgs=$(awk -v k="$skid" '$1 == "gitsigner" && $2 == k { print; exit }' "$T/keys")
    [ -z "$kgs" ] || fail "$E: line $n: submission signer $skid: a git-signer key, which signs git commits only"
    kline=$(printf '%s\n' "$kadd" | cut -d ' ' -f3)
    kpub=$(printf '%s\n' "$kadd" | cut -d ' ' -f4- | sed -n 's|^"\([0-9a-f]\{64\}\)"$|\1|p')
    [ -n "$kpub" ] || fail "$E: line $kline: body.public_key: expected 64 lowercase hex"
    hex2bin "$kpub" > "$T/spub"
    kpid=$(sha256sum < "$T/spub" | cut -c1-16)
    [ "$kpid" = "$skid" ] || fail "$E: line $kline: body.key_id: $skid is not the key id of body.public_key ($kpid)"
    krev=$(awk -v k="$skid" '$1 == "revoke" && $2 == k { print $3; exit }' "$T/keys")
    [ -z "$krev" ] || fail "$E: line $n: submission signer $skid: revoked at seq $krev"
    { hex2bin 302a300506032b6570032100; cat "$T/spub"; } > "$T/spub.der"
    # S from the line's own canonical bytes of actor, body, kind and ts (keys in sorted order).
    shash=$(awk -F '	' -v id="\"$sid\"" '
      { v[$1] = substr($0, length($1) + 2) }
      END { printf "{\"actor\":%s,\"body\":%s,\"id\":%s,\"kind\":%s,\"ts\":%s}", v["/\"actor\""], v["/\"body\""], id, v["/\"kind\""], v["/\"ts\""] }' "$T/top" \
      | sha256sum | cut -c1-64)
    printf 'ledger-submission-v1:%s' "$shash" > "$T/smsg"
    openssl pkeyutl -verify -pubin -inkey "$T/spub.der" -keyform DER -rawin -in "$T/smsg" -sigfile "$T/ssig" >/dev/null 2>&1 \
      || fail "$E: line $n: submission.sig: not a valid signature by $skid"
  elif grep -q '^/"submission"	' "$T/top"; then
    fail "$E: line $n: submission: only allowed with v 2"
  fi
  esigner=$(jget "$T/e" '/"signer"')
  [ -z "$esigner" ] || printf '%s %s\n' "$n" "$esigner" >> "$T/signers"
  if [ "$(jget "$T/e" '/"kind"')" = '"key"' ]; then
    kact=$(jget "$T/e" '/"body"/"action"')
    kkid=$(jget "$T/e" '/"body"/"key_id"' | sed -n 's|^"\([0-9a-f]\{16\}\)"$|\1|p')
    if [ -n "$kkid" ]; then
      case "$kact" in
        '"add"'|'"add-writer"'|'"add-git-signer"')
          if [ "$kact" = '"add-writer"' ]; then
            printf 'writer %s %s\n' "$kkid" "$n" >> "$T/keys"
          fi
          if [ "$kact" = '"add-git-signer"' ]; then
            # A non-empty JSON string (the line is canonical: a string token is "…").
            jget "$T/e" '/"body"/"identity"' | grep -q '^"..*"$' \
              || fail "$E: line $n: body.identity: required with action add-git-signer (a non-empty string)"
            printf 'gitsigner %s %s\n' "$kkid" "$n" >> "$T/keys"
          fi
          printf 'add %s %s %s\n' "$kkid" "$n" "$(jget "$T/e" '/"body"/"public_key"')" >> "$T/keys" ;;
        '"revoke"') printf 'revoke %s %s\n' "$kkid" "$seq" >> "$T/keys" ;;
      esac
    fi
  fi
  PF="proofs/inclusion-$seq.json"
  [ -f "$PF" ] || fail "$PF: file missing from the bundle"
  jflat canon "$PF" "$T/p" || fail "$PF: not canonical JSON and a newline"
  pre='^{"hashes":\[\(\("[0-9a-f]\{64\}",\)*"[0-9a-f]\{64\}"\)\{0,1\}\],"leaf_hash":"\([0-9a-f]\{64\}\)","leaf_index":\([0-9]\{1,16\}\),"tree_size":\([0-9]\{1,16\}\)}$'
  phashes=$(sed -n "s|$pre|\\1|p" "$PF")
  pleaf=$(sed -n "s|$pre|\\3|p" "$PF")
  pindex=$(sed -n "s|$pre|\\4|p" "$PF")
  psize=$(sed -n "s|$pre|\\5|p" "$PF")
  [ -n "$pleaf" ] || fail "$PF: expected leaf_index, tree_size, leaf_hash, hashes"
  [ "$pindex" = "$seq" ] && [ "$pleaf" = "$leaf" ] || fail "$PF: proof is not for the entry with seq $seq"
  [ "$psize" = "$SIZE" ] || fail "$PF: proof is for tree size $psize, checkpoint has $SIZE"
  [ "$seq" -lt "$SIZE" ] || fail "$PF: entry $seq is not included in the checkpoint's tree"
  fn=$seq; sn=$((SIZE - 1)); r=$leaf
  for p in $(printf '%s' "$phashes" | tr -d '"' | tr ',' ' '); do
    [ "$sn" -ne 0 ] || fail "$PF: entry $seq is not included in the checkpoint's tree"
    if [ $((fn % 2)) -eq 1 ] || [ "$fn" -eq "$sn" ]; then
      r=$(node "$p" "$r")
      if [ $((fn % 2)) -eq 0 ]; then
        while [ $((fn % 2)) -eq 0 ] && [ "$fn" -ne 0 ]; do fn=$((fn / 2)); sn=$((sn / 2)); done
      fi
    else
      r=$(node "$r" "$p")
    fi
    fn=$((fn / 2)); sn=$((sn / 2))
  done
  [ "$sn" -eq 0 ] && [ "$r" = "$ROOTHEX" ] || fail "$PF: entry $seq is not included in the checkpoint's tree"
  proved="$proved${proved:+,}$seq"
  count=$((count + 1))
done < "$E"
# No entry signed by a writer key (one that signs submissions only) or a git-signer key (one
# that signs git commits only), nor the bundle.
w=$(awk 'FILENAME == ARGV[1] { if ($1 == "writer" || $1 == "gitsigner") role[$2] = $1; next }
  { t = substr($0, length($1) + 2); k = substr(t, 2, length(t) - 2); if (t ~ /^"[0-9a-f]+"$/ && (k in role)) { print $1, k, role[k]; exit } }' "$T/keys" "$T/signers")
case "$w" in
  '') ;;
  *' writer') w=${w% writer}; fail "$E: line ${w%% *}: signer: signed by writer key ${w#* }, which may sign submissions only" ;;
  *) w=${w% gitsigner}; fail "$E: line ${w%% *}: signer: signed by git-signer key ${w#* }, which signs git commits only" ;;
esac
wl=$(awk -v k="$KID" '$1 == "writer" && $2 == k { print $3; exit }' "$T/keys")
[ -z "$wl" ] || fail "signer.pub: signer $KID is a writer key ($E line $wl), which may sign submissions only"
gl=$(awk -v k="$KID" '$1 == "gitsigner" && $2 == k { print $3; exit }' "$T/keys")
[ -z "$gl" ] || fail "signer.pub: signer $KID is a git-signer key ($E line $gl), which signs git commits only"
nproofs=$(grep -c '  proofs/inclusion-' "$M")
[ "$nproofs" -eq "$count" ] || fail "$E: a proof has no matching line in $E"
[ "$count" -gt 0 ] || fail "$E: no entries: the checkpoint is not tied to any entry"
[ "$(jget "$T/meta" '/"ledger"/"proved"')" = "[$proved]" ] || fail "$MD: ledger.proved differs from the proofs in the bundle"

# 7. SBOM: strict JSON, CycloneDX 1.3-1.5; unless imported, its file components (name and first
# SHA-256, the last component of a name winning) equal metadata.json's artifacts.
B=sbom.cdx.json
jflat loose "$B" "$T/sbom" || fail "$B: not JSON (or duplicate keys, floats, invalid UTF-8)"
[ "$(jget "$T/sbom" '/"bomFormat"')" = '"CycloneDX"' ] || fail "$B: not a CycloneDX JSON document"
case "$(jget "$T/sbom" '/"specVersion"')" in '"1.3"'|'"1.4"'|'"1.5"') ;; *) fail "$B: specVersion is not supported (1.3, 1.4, 1.5)" ;; esac
if [ "$(jget "$T/meta" '/"sbom"/"source"')" != '"imported"' ]; then
  # Component i: /"components"/i/"type", /"name", /"hashes"/j/"alg" and /"content".
  awk -F '	' '
    $1 ~ /^\/"components"\/[0-9]+\/"type"$/ { split($1, a, "/"); type[a[3]] = $2; if (!(a[3] in seen)) { seen[a[3]] = 1; order[++n] = a[3] } }
    $1 ~ /^\/"components"\/[0-9]+\/"name"$/ { split($1, a, "/"); name[a[3]] = $2 }
    $1 ~ /^\/"components"\/[0-9]+\/"hashes"\/[0-9]+\/"alg"$/ { split($1, a, "/"); alg[a[3], a[5]] = $2 }
    $1 ~ /^\/"components"\/[0-9]+\/"hashes"\/[0-9]+\/"content"$/ { split($1, a, "/"); content[a[3], a[5]] = $2 }
    END {
      for (k = 1; k <= n; k++) {
        c = order[k]
        if (type[c] != "\"file\"") continue
        d = "\"\""
        for (j = 0; (c, j) in alg || (c, j) in content; j++) if (alg[c, j] == "\"SHA-256\"") { d = ((c, j) in content) ? content[c, j] : "null"; break }
        nm = (c in name) ? name[c] : "null"
        if (!(nm in got)) names[++m] = nm
        got[nm] = d
      }
      for (k = 1; k <= m; k++) print names[k] "\t" got[names[k]]
    }' "$T/sbom" | sort > "$T/sbomfiles"
  awk -F '	' '
    $1 ~ /^\/"artifacts"\/[0-9]+\/"name"$/ { split($1, a, "/"); name[a[3]] = $2; if (!(a[3] in seen)) { seen[a[3]] = 1; order[++n] = a[3] } }
    $1 ~ /^\/"artifacts"\/[0-9]+\/"sha256"$/ { split($1, a, "/"); sha[a[3]] = $2; if (!(a[3] in seen)) { seen[a[3]] = 1; order[++n] = a[3] } }
    END {
      for (k = 1; k <= n; k++) {
        c = order[k]; nm = (c in name) ? name[c] : "null"; d = (c in sha) ? sha[c] : "null"
        if (!(nm in got)) names[++m] = nm
        got[nm] = d
      }
      for (k = 1; k <= m; k++) print names[k] "\t" got[names[k]]
    }' "$T/meta" | sort > "$T/metafiles"
  cmp -s "$T/sbomfiles" "$T/metafiles" || fail "$B: file components differ from metadata.json's artifacts"
fi

NFILES=$(wc -l < "$T/ondisk" | tr -d ' ')
if [ "$PINNED" = yes ]; then pin=' (pinned)'; else pin=''; fi
printf 'OK: bundle %s: %s files, signer %s%s, checkpoint size %s, %s entries proved\n' "$VERSION" "$NFILES" "$KID" "$pin" "$SIZE" "$count"
if [ "$PINNED" = no ]; then
  printf "WARNING: --trust-embedded-key: signer %s was not pinned: this proves the bundle is consistent, not who signed it (anyone can sign a bundle with a key of their own); pin the publisher's key with --pubkey FILE or --key-id ID\n" "$KID" >&2
fi
exit 0
