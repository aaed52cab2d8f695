#!/usr/bin/env bash
# Ledger-on-a-git-ref benchmarks (sync/append/export --git) against a local bare repository:
#   1. aggregate acknowledged entries/s and per-append latency p50/p99 with 1, 4 and 8
#      concurrent writers, N sequential `append --git` each (checked with `export --git`);
#   2. bytes added to the remote per `append --git` on a ref of ~1,000 vs ~100,000 entries;
#   3. a markdown table on stdout, the same as JSON in $OUT (default target/bench-git.json).
# Usage: scripts/bench-git.sh [N=50] [M=100]. Targets (>= 100 entries/s at 8 writers,
# p50 <= 50 ms, bytes ratio <= 1.2) are reported, not enforced; the script fails only when a
# correctness check fails (an append exits non-zero, the ref misses or duplicates entries).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ledger
exec python3 scripts/bench_git.py "$@"
