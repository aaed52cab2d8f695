#!/usr/bin/env bash
# Bundle benchmarks (issue 5).
#  1. Artifact hashing: `ledger bundle create` over N files (default 10,000 files, ~1 GiB in all,
#     page cache warm) next to one `openssl dgst -sha256` process and `sha256sum` over the same
#     files in the same run. Target: >= 1.5x one openssl process.
#  2. SBOM generation for this project: `ledger bundle sbom` next to `cargo cyclonedx` when it is
#     installed (time and number of components).
# Figures are medians of REPS runs. BENCH_QUICK=1: 1,000 files (~100 MiB), 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ledger
LEDGER=$PWD/target/release/ledger

if [ "${BENCH_QUICK:-0}" = 1 ]; then FILES=1000; REPS=3; else FILES=${BENCH_FILES:-10000}; REPS=${BENCH_REPS:-5}; fi
SIZE=$((1024 * 1024 * 1024 / 10000))   # ~105 KiB per file: 10,000 files = 1 GiB
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

echo "preparing $FILES files of $SIZE bytes in $W ..."
python3 - "$W/art" "$FILES" "$SIZE" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = os.urandom(size)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(i.to_bytes(8, "little") + block[8:])
PY
TOTAL=$(find "$W/art" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
find "$W/art" -type f -print0 | sort -z > "$W/list"
cat "$W/list" | xargs -0 cat > /dev/null   # warm the page cache

# A small ledger and key for bundle create; an imported SBOM keeps cargo out of the timing.
"$LEDGER" --dir "$W/audit" init --origin bench.invalid/ledger >/dev/null
"$LEDGER" keygen --name bench --out "$W/k.key" >/dev/null
"$LEDGER" --dir "$W/audit" --key "$W/k.key" keys add "$W/k.key.pub" >/dev/null
printf '{"bomFormat":"CycloneDX","specVersion":"1.5","version":1}\n' > "$W/empty.cdx.json"
export SOURCE_DATE_EPOCH=1700000000

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
timeit() {  # timeit REPS cmd... -> median seconds
  local reps=$1; shift
  for _ in $(seq "$reps"); do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null 2>&1; e=$(date +%s.%N)
    echo "$e - $s" | bc -l
  done | median
}
bundle_once() {
  rm -rf "$W/out"
  "$LEDGER" --dir "$W/audit" --key "$W/k.key" bundle create --version 1.0.0 --repo "$W" \
    --artifacts "$W/art" --sbom-from "$W/empty.cdx.json" --out "$W/out" --no-record
}
openssl_once() { xargs -0 openssl dgst -sha256 < "$W/list"; }
sha256sum_once() { xargs -0 sha256sum < "$W/list"; }

t_ledger=$(timeit "$REPS" bundle_once)
t_openssl=$(timeit "$REPS" openssl_once)
t_sum=$(timeit "$REPS" sha256sum_once)
gbs() { echo "$TOTAL / $1 / 1000000000" | bc -l | xargs printf '%.2f'; }
echo
echo "hashing $FILES files, $((TOTAL / 1048576)) MiB, median of $REPS (page cache warm, $(nproc) cores):"
printf '  ledger bundle create        %7.3f s  %s GB/s\n' "$t_ledger" "$(gbs "$t_ledger")"
printf '  openssl dgst -sha256 (1 proc) %5.3f s  %s GB/s\n' "$t_openssl" "$(gbs "$t_openssl")"
printf '  sha256sum (1 proc)          %7.3f s  %s GB/s\n' "$t_sum" "$(gbs "$t_sum")"
printf '  ratio ledger/openssl        %7.2fx  (target >= 1.5x; whole bundle create, incl. manifest, signing, writing)\n' "$(echo "$t_openssl / $t_ledger" | bc -l)"
printf '  ratio ledger/sha256sum      %7.2fx\n' "$(echo "$t_sum / $t_ledger" | bc -l)"

echo
echo "SBOM generation for this project (median of $REPS):"
t_sbom=$(timeit "$REPS" "$LEDGER" bundle sbom --repo .)
n_sbom=$("$LEDGER" bundle sbom --repo . 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("components", [])))')
printf '  ledger bundle sbom          %7.3f s  %s components (+ the root in metadata.component)\n' "$t_sbom" "$n_sbom"
if cargo cyclonedx --version > /dev/null 2>&1; then
  cyclonedx_once() { cargo cyclonedx --format json --spec-version 1.5 --override-filename "$W/cdx" > /dev/null 2>&1 || cargo cyclonedx --format json > /dev/null 2>&1; }
  t_cdx=$(timeit "$REPS" cyclonedx_once)
  f=$(ls "$W"/cdx.json bom.json *.cdx.json 2>/dev/null | head -n 1 || true)
  n_cdx=$( [ -n "$f" ] && python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("components", [])))' "$f" || echo '?')
  printf '  cargo cyclonedx             %7.3f s  %s components\n' "$t_cdx" "$n_cdx"
  printf '  ratio cargo-cyclonedx/ledger %6.2fx\n' "$(echo "$t_cdx / $t_sbom" | bc -l)"
else
  echo "  cargo cyclonedx: not installed here (cargo install cargo-cyclonedx); comparison skipped"
fi
