#!/usr/bin/env bash
# `cargo install --locked --path .` into a temporary root, then the README's quick start
# (tests/readme.rs) run with that installed binary, and its --version. A release build: a few
# minutes on two cores (it reuses ./target/release when that is up to date).
# Usage: scripts/install-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
cargo install --locked --quiet --path . --root "$root"
"$root/bin/ledger" --version
LEDGER_BIN="$root/bin/ledger" cargo test --quiet --test readme
echo "install-check: cargo install and the README quick start work ($root/bin/ledger)"
