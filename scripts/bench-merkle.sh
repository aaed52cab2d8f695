#!/usr/bin/env bash
# Merkle / checkpoint benchmarks (issue 3): at 1,000,000 entries, inclusion-proof generation,
# checkpoint refresh after an append, and append latency with vs without checkpoint refresh.
# BENCH_QUICK=1 runs at 100,000 entries.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ledger
exec python3 scripts/bench_merkle.py "$@"
