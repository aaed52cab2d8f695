#!/usr/bin/env python3
"""Core ledger benchmarks. Sizes: N (default 1,000,000; BENCH_QUICK=1 → 100,000).

Prints medians and ratios; everything is measured in this one run on this machine.
"""
import json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = os.path.join(ROOT, "target", "release", "ledger")
SIGRATE = os.path.join(ROOT, "target", "release", "examples", "sigrate")
QUICK = os.environ.get("BENCH_QUICK") == "1"
N = 100_000 if QUICK else 1_000_000
CHUNK = 100_000


def run(args, env_dir, key=None, stdin=None, check=True):
    cmd = [LEDGER, "--dir", env_dir] + (["--key", key] if key else []) + args
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if check and p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return p


def batch(n, salt):
    kinds = [
        lambda i: {"kind": "deploy", "actor": f"ci/build-{i}", "body": {"env": "production", "version": f"v1.{i}.0", "commit": f"{i:040x}", "status": "succeeded"}},
        lambda i: {"kind": "merge", "actor": "bot", "body": {"author": f"dev{i % 7}", "source": "feature", "target": "main", "source_commit": f"{i:040x}", "target_commit": f"{i+1:040x}", "merge_commit": f"{i+2:040x}", "paths": ["src/lib.rs", "README.md"]}},
        lambda i: {"kind": "approval", "actor": "gate", "body": {"subject": f"merge {i}", "decision": "allow", "reasons": ["score 912 >= 700"]}},
        lambda i: {"kind": "event", "actor": "ci", "body": {"type": "test", "data": {"passed": i, "failed": 0}}},
    ]
    return "".join(json.dumps(kinds[(i + salt) % 4](i + salt)) + "\n" for i in range(n)).encode()


def make_ledger(n, tmp, name):
    d = os.path.join(tmp, name)
    key = os.path.join(tmp, name + ".key")
    run(["init", "--origin", "bench.example/" + name, "--require-signatures"], d)
    run(["keygen", "--name", name, "--out", key], d)
    run(["keys", "add", key + ".pub"], d, key)
    rates = []
    done = 1
    while done < n:
        k = min(CHUNK, n - done)
        data = batch(k, done)
        t = time.perf_counter()
        run(["append", "--batch", "-"], d, key, stdin=data)
        rates.append(k / (time.perf_counter() - t))
        done += k
    return d, key, rates


def append_latency(d, key, reps=41, extra=()):
    times = []
    for i in range(reps):
        t = time.perf_counter()
        run(["append", *extra, "event", "--actor", "bench", "--type", "t", "--data", json.dumps({"i": i})], d, key)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        small, skey, _ = make_ledger(1_000, tmp, "small")
        big, bkey, rates = make_ledger(N, tmp, "big")
        size_mb = os.path.getsize(os.path.join(big, "ledger.jsonl")) / 1e6
        print(f"ledger of {N:,} signed entries: {size_mb:.0f} MB")
        append_rate = statistics.median(rates)
        print(f"signed batch append: median {append_rate:,.0f} entries/s over {len(rates)} batches of {CHUNK:,} (min {min(rates):,.0f}, max {max(rates):,.0f}; target >= 50,000)")

        # Interleave the two ledgers so machine noise hits both alike. A signed append also
        # updates ledger.idx and refreshes the signed checkpoint; --no-checkpoint skips the latter.
        for label, extra in (("signed, with checkpoint refresh", ()), ("signed, --no-checkpoint", ("--no-checkpoint",))):
            lat_small, lat_big = [], []
            for _ in range(3):
                lat_small.append(append_latency(small, skey, 15, extra))
                lat_big.append(append_latency(big, bkey, 15, extra))
            ls, lb = statistics.median(lat_small), statistics.median(lat_big)
            print(f"append latency ({label}; whole process incl. fsyncs): median {ls*1e3:.2f} ms at 1,000 entries, {lb*1e3:.2f} ms at {N:,}; ratio {lb/ls:.2f} (target <= 1.2)")

        # The baseline and verify alternate, three times each, so machine noise (this is a
        # shared VM) hits both alike; medians of each.
        bases, singles, signs, secs_list = [], [], [], []
        entries = 0
        for _ in range(3):
            b = json.loads(subprocess.run([SIGRATE], capture_output=True, check=True).stdout)
            bases.append(b["batch_verify_per_s"])
            singles.append(b["single_verify_per_s"])
            signs.append(b["sign_per_s"])
            t = time.perf_counter()
            p = run(["--json", "verify"], big)
            secs_list.append(time.perf_counter() - t)
            entries = json.loads(p.stdout)["entries"]
        base = statistics.median(bases)
        limit = 2 * base
        secs = statistics.median(secs_list)
        rate = entries / secs
        print(f"(load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
        print(f"single-core batch verify (sigrate, batches of 8,192, median of 3): {base:,.0f} sig/s (runs: {', '.join(f'{x:,.0f}' for x in bases)}; strict single: {statistics.median(singles):,.0f}/s)")
        sign = statistics.median(signs)
        print(f"single-core signing (sigrate, median of 3): {sign:,.0f} sig/s; batch append above = {append_rate / (2 * sign):.0%} of the 2-core signing limit {2 * sign:,.0f}/s")
        print(f"verify: {entries:,} entries, median {secs:.2f} s of 3 (runs: {', '.join(f'{x:.2f}' for x in secs_list)}) = {rate:,.0f} entries/s = {rate/limit:.0%} of the 2-core limit {limit:,.0f}/s (target >= 70%)")

if __name__ == "__main__":
    main()
