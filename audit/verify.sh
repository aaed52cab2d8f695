#!/bin/sh
# Standalone verifier of an audit-ledger release bundle.
# Needs only a POSIX shell, the POSIX utilities find, grep and sed, coreutils and openssl (1.1.1 or
# newer; `pkeyutl -rawin` for Ed25519).
#
# Usage: sh verify.sh [--pubkey FILE | --key-id ID] [BUNDLE_DIR]
#
# BUNDLE_DIR defaults to the directory holding this script (every bundle carries a copy).
# --pubkey FILE pins the signer (a .pub file of 64 hex, or a PEM public key); --key-id ID pins
# it by key id (first 16 hex of SHA-256 of the raw 32-byte key). Without either, the bundle's
# own key is used and a warning says so.
#
# Checks, stopping at the first failure (exit 1, one line "FAIL: <file>: <reason>"):
#   every MANIFEST.sha256 line (format, order, digests), no unlisted files and no links,
#   signer.pub = signer.pem, the pin, the manifest's Ed25519 signature, the DSSE envelope
#   (PAE signature, statement subjects = manifest), the checkpoint note's signature, every
#   entry's leaf hash and its RFC 9162 inclusion proof into the checkpoint, and the checkpoint
#   against metadata.json. SBOM schema validation needs `ledger bundle verify` or a CycloneDX tool.
# Exit 0 when all hold, 1 on a failure, 2 on usage errors or missing tools.

set -u
LC_ALL=C
export LC_ALL

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
usage() { printf 'verify.sh: %s\nusage: sh verify.sh [--pubkey FILE | --key-id ID] [BUNDLE_DIR]\n' "$*" >&2; exit 2; }

PIN_FILE=''
PIN_ID=''
DIR=''
while [ $# -gt 0 ]; do
  case "$1" in
    --pubkey) [ $# -ge 2 ] || usage "--pubkey needs a file"; PIN_FILE=$2; shift 2 ;;
    --key-id) [ $# -ge 2 ] || usage "--key-id needs an id"; PIN_ID=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage "unknown option $1" ;;
    *) [ -z "$DIR" ] || usage "expected at most one bundle directory"; DIR=$1; shift ;;
  esac
done
[ -n "$DIR" ] || DIR=$(dirname -- "$0")
[ -d "$DIR" ] || usage "$DIR: not a directory"
for tool in openssl sha256sum od tr sed grep sort comm find head tail wc cut mktemp dirname; do
  command -v "$tool" >/dev/null 2>&1 || usage "needs $tool"
done
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
last_byte_is_newline() { [ "$(tail -c 1 "$1" | hex_of)" = "0a" ]; }

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
b64d < "$S" > "$T/sig"
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$M" -sigfile "$T/sig" >/dev/null 2>&1 \
  || fail "$S: not a valid signature of $M by $KID"

# 4. DSSE envelope: exact canonical layout, signature over the PAE, subjects = manifest.
D=attestation.dsse.json
[ "$(wc -l < "$D")" -eq 1 ] && last_byte_is_newline "$D" || fail "$D: expected one line of JSON"
re='^{"payload":"\([A-Za-z0-9+/=]*\)","payloadType":"application/vnd.in-toto+json","signatures":\[{"keyid":"\([0-9a-f]\{16\}\)","sig":"\([A-Za-z0-9+/]\{86\}==\)"}\]}$'
sed -n "s|$re|\\1|p" "$D" > "$T/payload.b64"
[ -s "$T/payload.b64" ] || fail "$D: not an envelope in the expected canonical layout"
[ "$(sed -n "s|$re|\\2|p" "$D")" = "$KID" ] || fail "$D: keyid is not the signer $KID"
sed -n "s|$re|\\3|p" "$D" | b64d > "$T/dsse.sig"
b64d < "$T/payload.b64" > "$T/payload"
{ printf 'DSSEv1 28 application/vnd.in-toto+json %s ' "$(wc -c < "$T/payload" | tr -d ' ')"; cat "$T/payload"; } > "$T/pae"
openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$T/pae" -sigfile "$T/dsse.sig" >/dev/null 2>&1 \
  || fail "$D: DSSE signature does not verify over the PAE"
# The payload is canonical JSON: keys sorted, so "subject" is the last member.
P=$(cat "$T/payload")
case "$P" in
  '{"_type":"https://in-toto.io/Statement/v1","predicate":{'*'},"predicateType":"https://audit-ledger.dev/bundle/v1","subject":['*']}') ;;
  *) fail "$D: payload is not an in-toto Statement v1 with our predicate type" ;;
esac
SUBJ=${P##*'"predicateType":"https://audit-ledger.dev/bundle/v1","subject":['}
SUBJ=${SUBJ%']}'}
printf '%s\n' "$SUBJ" | tr '{' '\n' \
  | sed -n 's|^"sha256":"\([0-9a-f]\{64\}\)"},"name":"\([A-Za-z0-9._/-]*\)"},\{0,1\}$|\1  \2|p' > "$T/subjects"
rebuilt=$(sed 's|^\([0-9a-f]*\)  \(.*\)$|{"digest":{"sha256":"\1"},"name":"\2"}|' "$T/subjects" | tr '\n' ',' | sed 's/,$//')
[ "$rebuilt" = "$SUBJ" ] || fail "$D: malformed statement subjects"
grep -v '  attestation\.dsse\.json$' "$M" > "$T/want"
[ "$(sha256sum < "$T/subjects")" = "$(sha256sum < "$T/want")" ] || fail "$D: statement subjects differ from the manifest"
VERSION=$(printf '%s' "$P" | sed -n 's|^{"_type":"https://in-toto.io/Statement/v1","predicate":{.*"version":"\([A-Za-z0-9._+-]*\)"},"predicateType":.*|\1|p')

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
ROOTHEX=$(sed -n '3p' "$T/cpbody" | b64d | hex_of)
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
  printf '%s' "$b64" | b64d > "$T/blob" 2>/dev/null
  [ "$(wc -c < "$T/blob")" -eq 68 ] || continue
  kh=$({ printf '%s\n\001' "$name"; cat "$T/rawpub"; } | sha256sum | cut -c1-8)
  [ "$(head -c 4 "$T/blob" | hex_of)" = "$kh" ] || continue
  tail -c 64 "$T/blob" > "$T/cpsig"
  openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in "$T/cpbody" -sigfile "$T/cpsig" >/dev/null 2>&1 \
    || fail "$C: signature line $i ($name): bad signature"
  found=yes
done < "$T/cpsigs"
[ "$found" = yes ] || fail "$C: no signature by the bundle's key"
grep -q "\"origin\":\"[^\"]*\",\"proved\":\[[0-9,]*\],\"root_hash\":\"$ROOTHEX\",\"tree_size\":$SIZE}" metadata.json \
  && grep -qF "\"origin\":\"$ORIGIN\"," metadata.json \
  || fail "$C: checkpoint differs from metadata.json's ledger (origin, tree size, root)"

# 6. Entries and inclusion proofs (RFC 9162 2.1.3.2).
node() { { printf '\001'; hex2bin "$1"; hex2bin "$2"; } | sha256sum | cut -c1-64; }
E=entries.jsonl
[ ! -s "$E" ] || last_byte_is_newline "$E" || fail "$E: last line does not end in a newline"
tail_re=',"hash":"\([0-9a-f]\{64\}\)","kind":"[a-z]*","prev":"[0-9a-f]\{64\}","seq":\([0-9]\{1,16\}\),\("sig":"[A-Za-z0-9+/=]*",\)\{0,1\}\("signer":"[0-9a-f]\{16\}",\)\{0,1\}"ts":"[0-9:.TZ-]*","v":1}$'
proved=''
count=0
lastseq=-1
n=0
while IFS= read -r line; do
  n=$((n + 1))
  hash=$(printf '%s\n' "$line" | sed -n "s|^{.*$tail_re|\\1|p")
  seq=$(printf '%s\n' "$line" | sed -n "s|^{.*$tail_re|\\2|p")
  [ -n "$hash" ] && [ -n "$seq" ] || fail "$E: line $n: not an entry line"
  case "$seq" in 0?*) fail "$E: line $n: seq: not canonical" ;; esac
  [ "$seq" -gt "$lastseq" ] || fail "$E: line $n: entries are not in increasing seq order"
  lastseq=$seq
  unsigned=$(printf '%s\n' "$line" | sed 's|,"hash":"[0-9a-f]\{64\}"\(,"kind":"[a-z]*","prev":"[0-9a-f]\{64\}","seq":[0-9]*,\)\("sig":"[A-Za-z0-9+/=]*",\)\{0,1\}\(\("signer":"[0-9a-f]\{16\}",\)\{0,1\}"ts":"[0-9:.TZ-]*","v":1}\)$|\1\3|')
  leaf=$({ printf '\000'; printf '%s' "$unsigned"; } | sha256sum | cut -c1-64)
  [ "$leaf" = "$hash" ] || fail "$E: line $n: hash does not match the entry's canonical bytes"
  PF="proofs/inclusion-$seq.json"
  [ -f "$PF" ] || fail "$PF: file missing from the bundle"
  last_byte_is_newline "$PF" && [ "$(wc -l < "$PF")" -eq 1 ] || fail "$PF: expected one line of JSON"
  pre='^{"hashes":\[\(\("[0-9a-f]\{64\}",\)*"[0-9a-f]\{64\}"\)\{0,1\}\],"leaf_hash":"\([0-9a-f]\{64\}\)","leaf_index":\([0-9]\{1,16\}\),"tree_size":\([0-9]\{1,16\}\)}$'
  phashes=$(sed -n "s|$pre|\\1|p" "$PF")
  pleaf=$(sed -n "s|$pre|\\3|p" "$PF")
  pindex=$(sed -n "s|$pre|\\4|p" "$PF")
  psize=$(sed -n "s|$pre|\\5|p" "$PF")
  [ -n "$pleaf" ] || fail "$PF: not an inclusion proof in the expected canonical layout"
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
[ "$count" -gt 0 ] || fail "$E: no entries: the checkpoint is not tied to any entry"
nproofs=$(grep -c '  proofs/inclusion-' "$M")
[ "$nproofs" -eq "$count" ] || fail "$E: a proof has no matching line in $E"
grep -qF "\"proved\":[$proved]," metadata.json || fail "metadata.json: ledger.proved differs from the proofs in the bundle"
grep -q "\"version\":\"$VERSION\"}\$" metadata.json && [ -n "$VERSION" ] \
  || fail "metadata.json: version missing or different from the attestation's"

NFILES=$(wc -l < "$T/ondisk" | tr -d ' ')
if [ "$PINNED" = yes ]; then pin=' (pinned)'; else pin=''; fi
printf 'OK: bundle %s: %s files, signer %s%s, checkpoint size %s, %s entries proved\n' "$VERSION" "$NFILES" "$KID" "$pin" "$SIZE" "$count"
if [ "$PINNED" = no ]; then
  printf 'warning: signer %s was not pinned: this proves integrity, not who signed; pass --pubkey FILE or --key-id ID\n' "$KID" >&2
fi
exit 0
