#!/bin/sh
# Screenshot `ledger report` in headless Chromium (Debian's `chromium`) and check that the
# picture is not blank.
#
#   scripts/report-screenshot.sh [REPORT.html [OUT.png]]
#
# Without REPORT.html, a sample ledger with 12 weeks of history is generated
# (scripts/gen-sample-ledger.py), verified and rendered with target/release/ledger (or
# $LEDGER). Chromium runs with networking features off and a throw-away profile; the page has
# no external resources, so nothing is fetched. Installs chromium with apt-get when missing
# (needs root). Exit 0 when the PNG exists and is not blank, 1 when blank, 2 on setup errors.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

html=${1:-}
out=${2:-report.png}
if [ -z "$html" ]; then
    ledger=${LEDGER:-$root/target/release/ledger}
    [ -x "$ledger" ] || ledger=$root/target/debug/ledger
    [ -x "$ledger" ] || { echo "no ledger binary: run cargo build first (or set LEDGER)" >&2; exit 2; }
    "$ledger" --quiet --dir "$work/audit" init --origin example.org/sample
    python3 "$here/gen-sample-ledger.py" "$work/audit/ledger.jsonl" 600 84 2026-11-23T00:00:00Z
    "$ledger" --quiet --dir "$work/audit" verify
    html=$work/report.html
    "$ledger" --quiet --dir "$work/audit" report --out "$html" --now 2026-11-23T00:00:00Z
fi
[ -f "$html" ] || { echo "$html: no such file" >&2; exit 2; }

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (apt-get)..." >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 ||
        { echo "cannot install chromium" >&2; exit 2; }
fi

abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case "$out" in /*) png=$out ;; *) png=$(pwd)/$out ;; esac
rm -f "$png"
# --virtual-time-budget lets the page settle; timeout guards a hung browser.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-default-apps \
    --user-data-dir="$work/profile" --hide-scrollbars --window-size=1280,2000 \
    --virtual-time-budget=2000 --screenshot="$png" "file://$abs" >"$work/chromium.log" 2>&1 || true
[ -s "$png" ] || { echo "chromium wrote no screenshot; its log:" >&2; cat "$work/chromium.log" >&2; exit 2; }

# Not blank: decode the PNG (standard library only) and require enough pixels that differ
# from the background (the top-left pixel) and enough distinct colours.
python3 - "$png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("not a PNG")
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", chunk)
    elif typ == b"IDAT":
        idat += chunk
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
if depth != 8 or ctype not in (2, 6) or interlace:
    sys.exit("unsupported PNG layout %r" % (hdr,))
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
bg = rows[0][:3]
diff, colours = 0, set()
for r in rows[::4]:
    for x in range(0, stride, bpp * 4):
        px = r[x:x + 3]
        colours.add(px)
        diff += px != bg
total = len(rows[::4]) * len(range(0, stride, bpp * 4))
share = diff / total
print("%s: %dx%d, %.1f%% of sampled pixels differ from the background, %d colours" % (sys.argv[1], w, h, 100 * share, len(colours)))
if share < 0.01 or len(colours) < 8:
    print("BLANK: the page did not render", file=sys.stderr)
    sys.exit(1)
PY
