#!/usr/bin/env bash
# `ledger serve` under load: acknowledged appends/s (201 after fsync) at 1, 16 and 64 clients
# sending one submission a request, and at 16 and 64 clients sending 8, and gate queries/s at
# 16 and 64 clients (examples/serve_load.rs, keep-alive clients, pre-signed
# submissions, answers not verified), against the CLI in the same run: `ledger append --batch`
# of as many entries as the 64-client run acknowledged, timed as a whole process. Then the
# ledger is verified, and must hold every acknowledged entry.
#
#   scripts/bench-serve.sh [SECONDS]      (default 5 per run; BENCH_QUICK=1: 2)
#
# Targets (the serve issue): >= 20,000 acknowledged appends/s with p99 <= 20 ms at 64 clients;
# >= 30,000 gate queries/s with p99 <= 5 ms. The load generator runs on the same machine as
# the server and shares its cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "${BENCH_QUICK:-}" = 1 ]; then secs=${1:-2}; else secs=${1:-5}; fi
ledger=${LEDGER:-$root/target/release/ledger}
if [ ! -x "$ledger" ]; then
  cargo build --release --quiet --bin ledger
fi
cargo build --release --quiet --example serve_load
load=$root/target/release/examples/serve_load

work=$(mktemp -d)
# The client state (rollback protection) of this throw-away ledger stays in the temp dir.
export XDG_STATE_HOME=$work/state
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

L() { "$ledger" --quiet --dir "$work/audit" "$@"; }
field() { jq -r ".$1" <<<"$2"; }

L init --origin bench.example/serve --require-signatures
L keygen --name root --out "$work/root.key" >/dev/null
L keygen --name runner --out "$work/runner.key" >/dev/null
L --key "$work/root.key" keys add "$work/root.key.pub" >/dev/null
L --key "$work/root.key" keys add "$work/runner.key.pub" --writer >/dev/null
initial=$(field entries "$(L --json --no-state verify | tail -n 1)")

# The server; its first stdout line is {"url": ...}.
mkfifo "$work/start"
"$ledger" --dir "$work/audit" --json --key "$work/root.key" serve --listen 127.0.0.1:0 \
  >"$work/start" 2>"$work/serve.log" &
server=$!
exec 3<"$work/start"
read -r -t 60 start_line <&3 || { echo "the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
url=$(field url "$start_line")

# Sum and count of the commit histograms, from /metrics.
commits() {
  curl -fsS "$url/metrics" | awk '
    /^ledger_commit_seconds_sum/ {s=$2} /^ledger_commit_seconds_count/ {c=$2}
    /^ledger_commit_submissions_sum/ {n=$2}
    END {printf "%s %s %s\n", s+0, c+0, n+0}'
}

declare -A res
acked=0
# Runs: "clients" or "clients x batch" (submissions per request).
runs="1 16 64 16x8 64x8"
for run in $runs; do
  n=${run%x*}
  b=1
  [ "$run" = "$n" ] || b=${run#*x}
  read -r s0 c0 n0 < <(commits)
  res[append$run]=$("$load" --url "$url" --writer-key "$work/runner.key" --clients "$n" --batch "$b" --seconds "$secs" --mode append)
  read -r s1 c1 n1 < <(commits)
  res[commit$run]=$(awk -v s="$s1" -v t="$s0" -v c="$c1" -v d="$c0" -v n="$n1" -v m="$n0" 'BEGIN {
    k = c - d; if (k < 1) k = 1
    printf "%d group commits, %.2f ms and %.1f submissions each", c - d, 1000 * (s - t) / k, (n - m) / k }')
  acked=$((acked + $(field acknowledged "${res[append$run]}")))
  echo "append, $run clients: ${res[append$run]}" >&2
done
for n in 16 64; do
  res[gate$n]=$("$load" --url "$url" --clients "$n" --seconds "$secs" --mode gate)
  echo "gate, $n clients: ${res[gate$n]}" >&2
done
kill -TERM "$server"
serve_status=0
wait "$server" || serve_status=$?
server=
[ "$serve_status" = 0 ] || { echo "the server exited $serve_status:" >&2; cat "$work/serve.log" >&2; exit 1; }

# Baseline: the CLI, one process, one batch of the same size.
base_n=$(field acknowledged "${res[append64]}")
[ "$base_n" -gt 0 ] || base_n=20000
awk -v n="$base_n" 'BEGIN {for (i = 0; i < n; i++)
  printf "{\"kind\":\"event\",\"actor\":\"ci/cli\",\"body\":{\"type\":\"step\",\"data\":{\"n\":%d}}}\n", i}' >"$work/batch.jsonl"
t0=$(date +%s.%N)
L --key "$work/root.key" append --batch "$work/batch.jsonl" >/dev/null
t1=$(date +%s.%N)
cli_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
cli_rate=$(awk -v n="$base_n" -v s="$cli_s" 'BEGIN {printf "%.0f", n / s}')

v=$(L --json --no-state verify | tail -n 1)
entries=$(field entries "$v")
expect=$((initial + acked + base_n))

printf '\n%s cores, %s s per run, %s\n' "$(nproc)" "$secs" "$url"
printf '%-22s %10s %12s %9s %9s %7s\n' run acked/ok "rate/s" p50_ms p99_ms errors
for k in append1 append16 append64 append16x8 append64x8 gate16 gate64; do
  r=${res[$k]}
  label="$(field mode "$r"), clients $(field clients "$r")"
  [ "$(field batch "$r")" -le 1 ] || label="$label x$(field batch "$r")"
  printf '%-22s %10s %12s %9s %9s %7s\n' "$label" \
    "$(jq -r 'if .mode == "append" then .acknowledged else .ok end' <<<"$r")" \
    "$(field rate_per_s "$r")" "$(field p50_ms "$r")" "$(field p99_ms "$r")" "$(field errors "$r")"
done
printf '%-22s %10s %12s %9s %9s %7s\n' "CLI append --batch" "$base_n" "$cli_rate" - - -
for run in $runs; do printf 'append, clients %5s: %s\n' "$run" "${res[commit$run]}"; done
for run in $runs; do
  awk -v r="$(field rate_per_s "${res[append$run]}")" -v b="$cli_rate" -v n="$run" \
    'BEGIN {printf "serve appends/s / CLI batch appends/s, clients %5s: %.3f\n", n, r / b}'
done
printf 'verify: %s entries (expected %s = %s initial + %s served + %s CLI)\n' \
  "$entries" "$expect" "$initial" "$acked" "$base_n"

status=0
[ "$entries" = "$expect" ] || { echo "FAIL: the ledger does not hold every acknowledged entry" >&2; status=1; }
a=${res[append64]}
ab=${res[append64x8]}
g=${res[gate64]}
awk -v r="$(field rate_per_s "$a")" -v p="$(field p99_ms "$a")" -v e="$(field errors "$a")" \
  -v gr="$(field rate_per_s "$g")" -v gp="$(field p99_ms "$g")" -v ge="$(field errors "$g")" 'BEGIN {
  ok1 = r >= 20000 && p <= 20 && e == 0; ok2 = gr >= 30000 && gp <= 5 && ge == 0
  printf "target append, 64 clients: >= 20000/s, p99 <= 20 ms: %.0f/s, p99 %.1f ms: %s\n", r, p, ok1 ? "holds" : "MISSED"
  printf "target gate, 64 clients:   >= 30000/s, p99 <= 5 ms:  %.0f/s, p99 %.1f ms: %s\n", gr, gp, ok2 ? "holds" : "MISSED"
}'
awk -v r="$(field rate_per_s "$ab")" -v p="$(field p99_ms "$ab")" 'BEGIN {
  printf "same target, 64 clients sending 8 submissions a request: %.0f/s, p99 %.1f ms: %s\n", r, p, (r >= 20000 && p <= 20) ? "holds" : "MISSED"
}'
exit $status
