#!/usr/bin/env python3
"""Merkle / checkpoint benchmarks. N entries (default 1,000,000; BENCH_QUICK=1 or argv[1]).

Every figure is a median of whole `ledger` process runs (process start, lock, index, fsyncs),
measured in this one run, interleaved so machine noise hits both sides of a ratio alike.
"""
import json, os, random, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = os.path.join(ROOT, "target", "release", "ledger")
QUICK = os.environ.get("BENCH_QUICK") == "1"
N = int(sys.argv[1]) if len(sys.argv) > 1 else (100_000 if QUICK else 1_000_000)
CHUNK = 100_000
REPS = 31


def run(args, d, key=None, stdin=None):
    cmd = [LEDGER, "--dir", d] + (["--key", key] if key else []) + args
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return p


def timed(args, d, key=None):
    t = time.perf_counter()
    p = run(args, d, key)
    return time.perf_counter() - t, p


def batch(n, salt):
    return "".join(
        json.dumps({"kind": "event", "actor": "ci", "body": {"type": "test", "data": {"i": i + salt}}}) + "\n"
        for i in range(n)
    ).encode()


def make_ledger(n, tmp, name):
    d = os.path.join(tmp, name)
    key = os.path.join(tmp, name + ".key")
    run(["init", "--origin", "bench.example/" + name, "--require-signatures"], d)
    run(["keygen", "--name", name, "--out", key], d)
    run(["keys", "add", key + ".pub"], d, key)
    done = 1
    while done < n:
        k = min(CHUNK, n - done)
        run(["append", "--batch", "-"], d, key, stdin=batch(k, done))
        done += k
    return d, key


def ms(x):
    return f"{x * 1e3:.2f} ms"


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        t = time.perf_counter()
        small, skey = make_ledger(1_000, tmp, "small")
        big, key = make_ledger(N, tmp, "big")
        print(f"built signed ledgers of 1,000 and {N:,} entries with `append --batch` in {time.perf_counter() - t:.1f} s")
        idx_mb = os.path.getsize(os.path.join(big, "ledger.idx")) / 1e6
        print(f"ledger.idx at {N:,} entries: {idx_mb:.1f} MB")

        rnd = random.Random(7)
        base, proof_big, proof_small = [], [], []
        for _ in range(REPS):
            base.append(timed(["keys", "list"], big)[0])
            proof_big.append(timed(["prove", "inclusion", "--seq", str(rnd.randrange(N))], big)[0])
            proof_small.append(timed(["prove", "inclusion", "--seq", str(rnd.randrange(1_000))], small)[0])
        b, pb, ps = map(statistics.median, (base, proof_big, proof_small))
        print(f"process baseline (`keys list`): median {ms(b)}")
        print(f"inclusion proof: median {ms(pb)} at {N:,} entries, {ms(ps)} at 1,000; "
              f"ratio {pb / ps:.2f}; over baseline {pb / b:.2f}x")

        with_cp, without_cp, refresh = [], [], []
        for i in range(REPS):
            body = ["append", "event", "--actor", "bench", "--body", json.dumps({"type": "t", "data": {"i": i}})]
            with_cp.append(timed(body, big, key)[0])
            without_cp.append(timed(body + ["--no-checkpoint"], big, key)[0])
            refresh.append(timed(["checkpoint"], big, key)[0])
        w, wo, r = map(statistics.median, (with_cp, without_cp, refresh))
        print(f"checkpoint refresh after an append (`ledger checkpoint`): median {ms(r)}")
        print(f"append latency at {N:,}: median {ms(w)} with checkpoint refresh, {ms(wo)} without; ratio {w / wo:.2f}")
        t = time.perf_counter()
        run(["verify", "--checkpoint", os.path.join(big, "checkpoint")], big)
        print(f"verify --checkpoint at {N:,}: {time.perf_counter() - t:.2f} s (full verification + tree + index check)")


if __name__ == "__main__":
    main()
