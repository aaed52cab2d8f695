#!/usr/bin/env bash
# The built-in example: a signed ledger in a throwaway directory, with merges, deploys, a failed
# deploy and a rollback, then verification, a tamper attempt and its detection.
# Usage: scripts/demo.sh [DIR]   (default: a new temp dir; kept so you can look around)
set -euo pipefail
cd "$(dirname "$0")/.."
LEDGER=${LEDGER:-$PWD/target/release/ledger}
[ -x "$LEDGER" ] || cargo build --release --quiet --bin ledger
work=${1:-$(mktemp -d -t ledger-demo.XXXXXX)}
mkdir -p "$work"
cd "$work"
export LEDGER_DIR="$work/audit"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$LEDGER" init --origin demo.example/app --require-signatures
step "$LEDGER" keygen --name release --out "$work/release.key"
export LEDGER_SIGNING_KEY="$work/release.key"
step "$LEDGER" keys add "$work/release.key.pub" --name release
step "$LEDGER" append merge --actor bot/merge --author alice --source feature/login --target main \
  --source-commit 1111111 --target-commit 2222222 --merge-commit 3333333 --path src/auth.rs --path src/main.rs
step "$LEDGER" append deploy --actor ci/build-41 --env staging --version v1.4.0 --commit 3333333 --status succeeded
step "$LEDGER" append deploy --actor ci/build-42 --env production --version v1.4.0 --commit 3333333 --status failed
step "$LEDGER" append rollback --actor oncall/bob --env production --from-version v1.4.0 --to-version v1.3.9 --trigger error-rate
step "$LEDGER" append event --actor ci/build-43 --type sast --data '{"findings":0}'
step "$LEDGER" log
step "$LEDGER" verify
step "$LEDGER" checkpoint
step "$LEDGER" prove inclusion --seq 3
step "$LEDGER" trust score --actor alice
step "$LEDGER" metrics --env production

echo
echo "Now an attacker edits the failed deploy into a success (without the signing key):"
sed -i '4s/"status":"failed"/"status":"succeeded"/' "$LEDGER_DIR/ledger.jsonl"
printf '\033[1m$ %s verify\033[0m\n' "$LEDGER"
if "$LEDGER" verify; then echo "!! tampering not detected"; exit 1; else echo "(exit $? — detected)"; fi
sed -i '4s/"status":"succeeded"/"status":"failed"/' "$LEDGER_DIR/ledger.jsonl"
"$LEDGER" --quiet verify && echo "restored: verify OK again"
echo
echo "demo ledger kept in $work"
