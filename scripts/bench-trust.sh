#!/usr/bin/env bash
# Trust benchmarks (issue 4): whole-process latency of `ledger trust gate` on a 1,000,000-entry
# ledger with a cold cache (no DIR/trust.cache) and a warm one. BENCH_QUICK=1 → 100,000 entries.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ledger
exec python3 scripts/bench_trust.py "$@"
