#!/usr/bin/env bash
# Runs every benchmark script (scripts/bench-*.sh). Each prints its figures as medians and as
# ratios against a baseline measured in the same run. BENCH_QUICK=1 runs reduced sizes.
# bench-serve.sh loads `ledger serve` on a loopback port (examples/serve_load.rs) against `append --batch`.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for s in scripts/bench-*.sh; do
  echo "== $s"
  bash "$s" || { echo "!! $s failed"; status=1; }
done
exit $status
