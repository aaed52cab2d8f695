#!/usr/bin/env bash
# `make publish-audit`: record this project's release in its own ledger (audit/), write the signed
# bundle audit/bundle-<version>/ for the version in Cargo.toml, and verify it three ways
# (`ledger bundle verify`, and this source tree's audit/verify.sh and audit/verify.py, never the
# bundle's own copies), pinned to the signing key; then checks that the bundle's copies are
# byte-identical to the verifiers embedded in the binary (`ledger verifiers export`).
#
# Signing key: $LEDGER_SIGNING_KEY (a PKCS#8 PEM file, mode 0600). Without it a local
# DEVELOPMENT key is created under target/ (never committed) and the bundle says nothing about
# who released: a loud warning says so.
# Env: LEDGER_BIN (default target/release/ledger), LEDGER_DIR (default audit),
#      SOURCE_DATE_EPOCH (default: the HEAD commit time), LEDGER_ORIGIN (for a new ledger).
set -euo pipefail
cd "$(dirname "$0")/.."

LEDGER=${LEDGER_BIN:-target/release/ledger}
DIR=${LEDGER_DIR:-audit}
[ -x "$LEDGER" ] || { echo "publish-audit: $LEDGER not built (run make release)" >&2; exit 2; }
VERSION=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
[ -n "$VERSION" ] || { echo "publish-audit: no version in Cargo.toml" >&2; exit 2; }
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

if [ -n "${LEDGER_SIGNING_KEY:-}" ]; then
  KEY=$LEDGER_SIGNING_KEY
  KEY_NAME=release
  [ -f "$KEY" ] || { echo "publish-audit: LEDGER_SIGNING_KEY=$KEY: no such file" >&2; exit 2; }
else
  KEY=target/dev-signing.key
  KEY_NAME=dev
  cat >&2 <<'WARN'
################################################################################
##  WARNING: LEDGER_SIGNING_KEY is not set.                                    ##
##  Signing with a LOCAL DEVELOPMENT KEY (target/dev-signing.key).             ##
##  This bundle proves integrity only: it says NOTHING about who released.     ##
##  Do not publish it. Release jobs must set LEDGER_SIGNING_KEY.               ##
################################################################################
WARN
  if [ ! -f "$KEY" ]; then
    mkdir -p target
    "$LEDGER" keygen --name dev --out "$KEY" >/dev/null
  fi
fi
if [ -f "$KEY.pub" ]; then
  PUB=$KEY.pub
else
  # A key without its .pub beside it: derive the public key with openssl.
  PUB=$(mktemp)
  trap 'rm -f "$PUB"' EXIT
  openssl pkey -in "$KEY" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n' > "$PUB"
  echo >> "$PUB"
fi

L() { "$LEDGER" --dir "$DIR" --key "$KEY" "$@"; }

if [ ! -f "$DIR/config.toml" ]; then
  echo "publish-audit: creating the project's ledger in $DIR/"
  L init --origin "${LEDGER_ORIGIN:-audit-ledger.invalid/audit-ledger}" --require-signatures
  L keys add "$PUB" --name "$KEY_NAME" --actor publish-audit
fi

B="$DIR/bundle-$VERSION"
if [ -e "$B" ]; then
  echo "publish-audit: $B already exists (a bundle is never overwritten; bump the version to publish anew); verifying it" >&2
else
  L append event --actor publish-audit --body "{\"type\":\"release\",\"data\":{\"version\":\"$VERSION\",\"commit\":\"$COMMIT\"}}"
  L bundle create --version "$VERSION" --repo . --artifacts "$LEDGER" --actor publish-audit
fi

echo "== verify 1/3: ledger bundle verify"
"$LEDGER" bundle verify "$B" --pubkey "$PUB"
echo "== verify 2/3: sh audit/verify.sh (this source tree's, not the bundle's copy)"
sh audit/verify.sh --pubkey "$PUB" "$B"
echo "== verify 3/3: python3 audit/verify.py (this source tree's, not the bundle's copy)"
python3 audit/verify.py --pubkey "$PUB" "$B"
echo "== the bundle's verify.sh and verify.py are the binary's (ledger verifiers export)"
"$LEDGER" verifiers export | (cd "$B" && sha256sum -c --strict --quiet -)
echo "publish-audit: $B verified three ways"
