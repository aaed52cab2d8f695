#!/bin/sh
# Benchmark: `ledger metrics` on a 1,000,000-entry ledger, whole process (read + parse + check
# hashes and chain + metrics), median of RUNS runs. Baseline measured in the same run: `wc -l`
# over the same file (the cost of merely reading it), and `ledger verify` for comparison.
#
#   scripts/bench-metrics.sh [ENTRIES] [RUNS]      (defaults 1000000 and 5; BENCH_QUICK=1: 100000 and 3)
#
# The ledger is synthetic and unsigned (scripts/gen-sample-ledger.py: merges, deploys with
# change times, rollbacks, approvals, drills over 84 days), generated once per run in a temp dir.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ "${BENCH_QUICK:-}" = 1 ]; then n=${1:-100000} runs=${2:-3}; else n=${1:-1000000} runs=${2:-5}; fi
if [ -z "${LEDGER:-}" ]; then
    (cd "$root" && cargo build --release --quiet --bin ledger)
fi
ledger=${LEDGER:-$root/target/release/ledger}
[ -x "$ledger" ] || { echo "no ledger binary at $ledger" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

"$ledger" --quiet --dir "$work/audit" init --origin bench.example/metrics
echo "generating $n entries..." >&2
python3 "$here/gen-sample-ledger.py" "$work/audit/ledger.jsonl" "$n" 84 2026-11-23T00:00:00Z
size=$(wc -c <"$work/audit/ledger.jsonl")

# median of the wall-clock seconds of a command over $runs runs
median() {
    i=0
    : >"$work/times"
    while [ "$i" -lt "$runs" ]; do
        s=$(date +%s.%N)
        "$@" >/dev/null
        e=$(date +%s.%N)
        awk -v e="$e" -v s="$s" 'BEGIN {print e - s}' >>"$work/times"
        i=$((i + 1))
    done
    sort -n "$work/times" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

base=$(median wc -l "$work/audit/ledger.jsonl")
m=$(median "$ledger" --dir "$work/audit" --json metrics --env all --now 2026-11-23T00:00:00Z)
m_env=$(median "$ledger" --dir "$work/audit" --json metrics --env production --since 30d --now 2026-11-23T00:00:00Z)
v=$(median "$ledger" --dir "$work/audit" verify)
"$ledger" --dir "$work/audit" metrics --env all --now 2026-11-23T00:00:00Z >&2
printf 'entries %s, %s bytes, median of %s runs, %s cores\n' "$n" "$size" "$runs" "$(nproc)"
awk -v n="$n" -v b="$base" -v m="$m" -v me="$m_env" -v v="$v" 'BEGIN {
    printf "%-44s %8.3f s  (baseline)\n", "wc -l (read the file)", b
    printf "%-44s %8.3f s  (%.1fx baseline, %.0f entries/s)\n", "ledger metrics --env all", m, m / b, n / m
    printf "%-44s %8.3f s  (%.1fx baseline)\n", "ledger metrics --env production --since 30d", me, me / b
    printf "%-44s %8.3f s  (%.1fx baseline)\n", "ledger verify (unsigned entries)", v, v / b
}' 
