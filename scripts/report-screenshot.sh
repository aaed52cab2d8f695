#!/bin/sh
# Render `ledger report` in headless Chromium and check it (scripts/report-check.cjs: no
# console error or warning, no page error, no request but the page, every section, charts
# with ticks), for two ledgers: a generated sample with 12 weeks of history
# (scripts/gen-sample-ledger.py) and an empty one. Writes docs/report-sample.png and
# docs/report-empty.png (the README shows them), or into OUTDIR.
#
#   scripts/report-screenshot.sh [OUTDIR]
#
# Needs: a built ledger (target/release/ledger, target/debug/ledger or $LEDGER), Debian's
# chromium (/usr/bin/chromium or $CHROMIUM) and the npm package playwright-core under
# $CI_TOOLS (default target/ci-tools; `npm install --prefix target/ci-tools playwright-core`).
# Chromium runs with networking features off and a throw-away profile; the pages fetch nothing.
# Exit 0 when both pages pass, 1 when one fails, 2 on setup errors.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/docs}
tools=${CI_TOOLS:-$root/target/ci-tools}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

ledger=${LEDGER:-$root/target/release/ledger}
[ -x "$ledger" ] || ledger=$root/target/debug/ledger
[ -x "$ledger" ] || { echo "no ledger binary: run cargo build first (or set LEDGER)" >&2; exit 2; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "no chromium: apt-get install chromium (or set CHROMIUM)" >&2; exit 2; }
[ -f "$tools/node_modules/playwright-core/package.json" ] ||
    { echo "no playwright-core: npm install --prefix $tools playwright-core" >&2; exit 2; }
mkdir -p "$out"

# The sample: production and staging deploys, failures, rollbacks, incidents, drills, merges.
"$ledger" --quiet --dir "$work/sample" init --origin example.org/sample
python3 "$here/gen-sample-ledger.py" "$work/sample/ledger.jsonl" 600 84 2026-11-23T00:00:00Z
"$ledger" --quiet --no-state --dir "$work/sample" report --out "$work/sample.html" --now 2026-11-23T00:00:00Z
# The empty ledger: every section in words.
"$ledger" --quiet --dir "$work/empty" init --origin example.org/empty
"$ledger" --quiet --no-state --dir "$work/empty" report --out "$work/empty.html" --now 2026-11-23T00:00:00Z

node "$here/report-check.cjs" "$tools/node_modules" \
    "$work/sample.html" "$out/report-sample.png" \
    "$work/empty.html" "$out/report-empty.png"
