#!/usr/bin/env bash
# Core ledger benchmarks (issue 2): append latency at 1k vs 1M entries, signed batch append
# throughput, and verify throughput against 2 × the single-core batch-verify rate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ledger --example sigrate
exec python3 scripts/bench_ledger.py "$@"
