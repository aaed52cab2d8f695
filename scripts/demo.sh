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
step "$LEDGER" append incident --actor oncall/bob --env staging --incident INC-1 --status opened --severity sev3 --caused-by v1.4.0
step "$LEDGER" append incident --actor oncall/bob --env staging --incident INC-1 --status resolved
step "$LEDGER" log
step "$LEDGER" verify
step "$LEDGER" checkpoint
step "$LEDGER" prove inclusion --seq 3
step "$LEDGER" trust score --actor alice
step "$LEDGER" metrics --env production
step "$LEDGER" metrics --env staging

echo
echo "Now an attacker edits the failed deploy into a success (without the signing key):"
sed -i '4s/"status":"failed"/"status":"succeeded"/' "$LEDGER_DIR/ledger.jsonl"
printf '\033[1m$ %s verify\033[0m\n' "$LEDGER"
if "$LEDGER" verify; then echo "!! tampering not detected"; exit 1; else echo "(exit $? — detected)"; fi
sed -i '4s/"status":"succeeded"/"status":"failed"/' "$LEDGER_DIR/ledger.jsonl"
"$LEDGER" --quiet verify && echo "restored: verify OK again"

echo
echo "The same ledger shared over HTTP: \`ledger serve\` signs with the log key; three CI runners"
echo "write with their own writer keys, concurrently; a merge bot asks for a gate decision."
for r in 1 2 3; do
  "$LEDGER" --quiet keygen --name "runner-$r" --out "$work/runner-$r.key"
  step "$LEDGER" keys add "$work/runner-$r.key.pub" --writer
done
"$LEDGER" --quiet keygen --name merge-bot --out "$work/merge-bot.key"
bot=$("$LEDGER" --json keys add "$work/merge-bot.key.pub" --writer | sed -n 's/.*"key_id":"\([0-9a-f]*\)".*/\1/p')
echo "The merge bot's key ($bot) may have gate decisions recorded: that is signed policy."
printf '[serve]\ngate_recorders = ["%s"]\n' "$bot" > "$work/policy.toml"
step "$LEDGER" policy set --settings "$work/policy.toml" --reason "the merge bot records its gate decisions"
"$LEDGER" --json serve --listen 127.0.0.1:0 --log json > "$work/serve.out" 2> "$work/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q '"url"' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$work/serve.out")
echo "serving on $url"
export LEDGER_REMOTE="$url" LEDGER_LOG_KEY="$work/release.key.pub"
writers=()
for r in 1 2 3; do
  (
    for n in 1 2 3 4; do
      LEDGER_SIGNING_KEY="$work/runner-$r.key" "$LEDGER" append event --actor "ci/runner-$r" \
        --type test-shard --data "{\"shard\":$n}" --id "run-$r.shard-$n"
    done
  ) &
  writers+=("$!")
done
for p in "${writers[@]}"; do wait "$p"; done
step "$LEDGER" trust gate --actor alice --paths src/auth.rs || echo "(exit $?: the gate said no)"
echo "The merge bot has its decision recorded (signed by its own key, ordered by the log):"
LEDGER_SIGNING_KEY="$work/merge-bot.key" step "$LEDGER" trust gate --record --actor alice --paths src/auth.rs --id pr-7.gate \
  || echo "(exit $?: the gate said no, and that is now on record)"
if command -v curl >/dev/null; then step curl -s "$url/v1/entries?kind=event&actor=ci/runner-2&limit=2"; echo; fi
kill -TERM "$server"; wait "$server" || true
trap - EXIT
unset LEDGER_REMOTE LEDGER_LOG_KEY
step "$LEDGER" verify
echo "request log of the service: $work/serve.log ($(wc -l < "$work/serve.log") lines)"
echo
echo "demo ledger kept in $work"
