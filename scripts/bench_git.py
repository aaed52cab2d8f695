#!/usr/bin/env python3
"""Benchmarks of the ledger on a git ref (`sync/append/export --git`) against a local bare
repository (file:// remote). Usage: bench_git.py [N] [M]

1. N (default 50) sequential `append --git` processes per writer with 1, 4 and 8 concurrent
   writers (each its own directory and key): aggregate acknowledged entries/s and per-append
   latency p50/p99. Every run starts from a fresh remote; afterwards `export --git` must show
   exactly setup + writers x N entries and every append must have exited 0.
2. M (default 100) single `append --git` from one writer on a ref holding ~1,000 and
   ~100,000 entries: bytes added to the remote's object files (packs and loose objects) per
   append (must be flat).
3. A markdown table on stdout and the same figures as JSON in $OUT (default
   target/bench-git.json).

Targets are reported, never enforced; the script fails only when a correctness check fails.
"""
import datetime, json, os, shutil, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEDGER = os.path.join(ROOT, "target", "release", "ledger")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 50
M = int(sys.argv[2]) if len(sys.argv) > 2 else 100
OUT = os.environ.get("OUT") or os.path.join(ROOT, "target", "bench-git.json")
WRITERS = [1, 4, 8]
SIZES = [1_000, 100_000]
TARGET_RATE = 100.0  # entries/s aggregate at 8 writers
TARGET_P50_MS = 50.0
TARGET_RATIO = 1.2
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the temp dirs (debugging)


def die(msg):
    sys.exit(f"bench-git: FAILED: {msg}")


def ledger_env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_STATE"] = os.path.join(tmp, "state")
    return env


def run(env, args, check=True, stdin=None):
    p = subprocess.run([LEDGER, *args], env=env, capture_output=True, input=stdin)
    if check and p.returncode != 0:
        die(f"`ledger {' '.join(args)}` exited {p.returncode}\nstdout: {p.stdout.decode()}\nstderr: {p.stderr.decode()}")
    return p


def lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def pct(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def object_bytes(repo):
    """Bytes and count of the object files under REPO/objects: loose objects (objects/??/*)
    and packs with their indexes (objects/pack/*.pack, *.idx; a path remote gets one pack per
    push). Returns (bytes, loose objects, pack files)."""
    total = loose = packs = 0
    objs = os.path.join(repo, "objects")
    for d in os.listdir(objs):
        if len(d) == 2:
            for f in os.listdir(os.path.join(objs, d)):
                total += os.path.getsize(os.path.join(objs, d, f))
                loose += 1
    pdir = os.path.join(objs, "pack")
    if os.path.isdir(pdir):
        for f in os.listdir(pdir):
            if f.endswith(".pack") or f.endswith(".idx"):
                total += os.path.getsize(os.path.join(pdir, f))
                packs += f.endswith(".pack")
    return total, loose, packs


def tree_bytes(path):
    total = 0
    for dp, _, fs in os.walk(path):
        for f in fs:
            total += os.path.getsize(os.path.join(dp, f))
    return total


def setup(tmp, writers, fill_to=0):
    """A bare remote, an admin ledger with every writer's key (and batch entries up to
    `fill_to` entries in all, appended before the first sync), published on the ref.
    Returns (env, remote URL, remote path, entries on the ref, seconds of the first sync)."""
    env = ledger_env(tmp)
    remote_path = os.path.join(tmp, "remote.git")
    subprocess.run(["git", "init", "--quiet", "--bare", remote_path], check=True)
    remote = "file://" + remote_path
    admin = os.path.join(tmp, "admin")
    run(env, ["--dir", admin, "init", "--origin", "bench.example/app"])
    for i in range(1, writers + 1):
        key = os.path.join(tmp, f"w{i}.key")
        run(env, ["--dir", admin, "keygen", "--name", f"w{i}", "--out", key])
    w1 = os.path.join(tmp, "w1.key")
    for i in range(1, writers + 1):
        run(env, ["--dir", admin, "keys", "add", os.path.join(tmp, f"w{i}.key.pub"), "--key", w1])
    extra = fill_to - lines(os.path.join(admin, "ledger.jsonl"))
    if extra > 0:
        batch = os.path.join(tmp, "batch.jsonl")
        line = json.dumps({"kind": "event", "actor": "a", "body": {"type": "x", "data": {}}}) + "\n"
        with open(batch, "w") as f:
            f.write(line * extra)
        run(env, ["--dir", admin, "append", "--batch", batch, "--key", w1])
        os.unlink(batch)
    t = time.perf_counter()
    run(env, ["--dir", admin, "sync", "--git", remote, "--key", w1])
    publish_s = time.perf_counter() - t
    size = exported(env, tmp, remote, "setup")
    if size != lines(os.path.join(admin, "ledger.jsonl")):
        die(f"after the first sync the ref holds {size} entries, the admin ledger {lines(os.path.join(admin, 'ledger.jsonl'))}")
    return env, remote, remote_path, size, publish_s


def exported(env, tmp, remote, tag):
    out = os.path.join(tmp, f"export-{tag}")
    run(env, ["export", "--git", remote, "--out", out])
    n = lines(os.path.join(out, "ledger.jsonl"))
    return n


def actors(path):
    c = {}
    with open(path) as f:
        for ln in f:
            a = json.loads(ln).get("actor")
            c[a] = c.get(a, 0) + 1
    return c


def concurrent(writers):
    tmp = tempfile.mkdtemp(prefix=f"bench-git-w{writers}-")
    try:
        env, remote, _, setup_n, _ = setup(tmp, writers)
        dirs = [os.path.join(tmp, f"W{i}") for i in range(1, writers + 1)]
        # Each writer's directory is made from the ref by its first sync (untimed).
        for d in dirs:
            run(env, ["--dir", d, "sync", "--git", remote])
        lat = [[] for _ in dirs]
        fails = [[] for _ in dirs]
        seqs = [[] for _ in dirs]
        races = [0 for _ in dirs]
        barrier = threading.Barrier(writers + 1)

        def worker(i):
            d, key = dirs[i], os.path.join(tmp, f"w{i + 1}.key")
            cmd = [LEDGER, "--json", "--dir", d, "append", "event", "--actor", f"w{i + 1}", "--type", "bench",
                   "--data", "{}", "--git", remote, "--key", key]
            barrier.wait()
            for _ in range(N):
                t = time.perf_counter()
                p = subprocess.run(cmd, env=env, capture_output=True)
                lat[i].append(time.perf_counter() - t)
                if p.returncode != 0:
                    fails[i].append((p.returncode, p.stderr.decode().strip()))
                    continue
                try:
                    r = json.loads(p.stdout)
                    seqs[i].extend(e["seq"] for e in r["entries"])
                    races[i] += r.get("lost_races", 0)
                except (ValueError, KeyError) as e:
                    fails[i].append((0, f"unreadable --json output ({e}): {p.stdout[:200]!r}"))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(writers)]
        for th in threads:
            th.start()
        barrier.wait()
        t0 = time.perf_counter()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0

        problems = []
        for i, f in enumerate(fails):
            for rc, err in f[:3]:
                problems.append(f"writer w{i + 1}: append exited {rc}: {err}")
            if len(f) > 3:
                problems.append(f"writer w{i + 1}: ... {len(f)} failed appends in all")
        want = setup_n + writers * N
        got = exported(env, tmp, remote, "final")
        if got != want:
            problems.append(f"the ref holds {got} entries, expected {want} (setup {setup_n} + {writers} x {N})")
        counts = actors(os.path.join(tmp, "export-final", "ledger.jsonl"))
        for i in range(writers):
            if counts.get(f"w{i + 1}", 0) != N:
                problems.append(f"the ref holds {counts.get(f'w{i + 1}', 0)} entries of actor w{i + 1}, expected {N}")
        allseqs = [s for ss in seqs for s in ss]
        if len(set(allseqs)) != len(allseqs):
            problems.append(f"acknowledged seqs are not unique: {len(allseqs)} acks, {len(set(allseqs))} distinct seqs")
        if allseqs and (min(allseqs) < setup_n or max(allseqs) >= want):
            problems.append(f"acknowledged seqs {min(allseqs)}..{max(allseqs)} outside {setup_n}..{want - 1}")
        if problems:
            die(f"{writers} writer(s), N={N}:\n  " + "\n  ".join(problems))
        flat = [x for l in lat for x in l]
        acked = len(allseqs)
        return {
            "writers": writers,
            "appends": writers * N,
            "acknowledged": acked,
            "wall_s": round(wall, 3),
            "entries_per_s": round(acked / wall, 2),
            "p50_ms": round(pct(flat, 50) * 1e3, 2),
            "p90_ms": round(pct(flat, 90) * 1e3, 2),
            "p99_ms": round(pct(flat, 99) * 1e3, 2),
            "max_ms": round(max(flat) * 1e3, 2),
            "lost_races": sum(races),
            "ref_entries": got,
        }
    finally:
        if not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)


def bytes_per_append(size):
    tmp = tempfile.mkdtemp(prefix=f"bench-git-b{size}-")
    try:
        env, remote, remote_path, setup_n, publish_s = setup(tmp, 1, fill_to=size)
        d = os.path.join(tmp, "W1")
        key = os.path.join(tmp, "w1.key")
        t = time.perf_counter()
        run(env, ["--dir", d, "sync", "--git", remote])
        clone_s = time.perf_counter() - t
        b0, c0, p0 = object_bytes(remote_path)
        all0 = tree_bytes(remote_path)
        lat = []
        for j in range(M):
            t = time.perf_counter()
            run(env, ["--dir", d, "append", "event", "--actor", "w1", "--type", "bench", "--data", "{}",
                      "--git", remote, "--key", key, "--quiet"])
            lat.append(time.perf_counter() - t)
        b1, c1, p1 = object_bytes(remote_path)
        all1 = tree_bytes(remote_path)
        got = exported(env, tmp, remote, "final")
        if got != setup_n + M:
            die(f"bytes run at {size}: the ref holds {got} entries, expected {setup_n} + {M}")
        return {
            "ref_entries_before": setup_n,
            "appends": M,
            "bytes_per_append": round((b1 - b0) / M, 1),
            "loose_objects_per_append": round((c1 - c0) / M, 2),
            "packs_per_append": round((p1 - p0) / M, 2),
            "remote_dir_bytes_per_append": round((all1 - all0) / M, 1),
            "p50_ms": round(pct(lat, 50) * 1e3, 2),
            "p99_ms": round(pct(lat, 99) * 1e3, 2),
            "first_publish_s": round(publish_s, 2),
            "first_clone_s": round(clone_s, 2),
        }
    finally:
        if not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)


def baseline():
    """Context for the latencies: a `sync --git` with nothing to do (process start, libgit2
    and OpenSSL init, fetch and verify of an unchanged ref) and one fsync in the temp dir."""
    tmp = tempfile.mkdtemp(prefix="bench-git-base-")
    try:
        env, remote, _, _, _ = setup(tmp, 1)
        d = os.path.join(tmp, "W1")
        run(env, ["--dir", d, "sync", "--git", remote])
        xs = []
        for _ in range(21):
            t = time.perf_counter()
            run(env, ["--dir", d, "sync", "--git", remote, "--quiet"])
            xs.append(time.perf_counter() - t)
        fs = []
        fd = os.open(os.path.join(tmp, "fsync-probe"), os.O_WRONLY | os.O_CREAT, 0o600)
        for _ in range(101):
            os.write(fd, b"x" * 256)
            t = time.perf_counter()
            os.fsync(fd)
            fs.append(time.perf_counter() - t)
        os.close(fd)
        return {"noop_sync_p50_ms": round(pct(xs, 50) * 1e3, 2), "fsync_p50_ms": round(pct(fs, 50) * 1e3, 3)}
    finally:
        if not KEEP:
            shutil.rmtree(tmp, ignore_errors=True)


def mark(ok):
    return "yes" if ok else "**MISSED**"


def main():
    if not os.access(LEDGER, os.X_OK):
        die(f"{LEDGER} missing: cargo build --release")
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print("# baseline: no-op sync --git, fsync ...", file=sys.stderr, flush=True)
    base = baseline()
    conc = []
    for w in WRITERS:
        print(f"# {w} writer(s) x {N} appends ...", file=sys.stderr, flush=True)
        conc.append(concurrent(w))
    byt = {}
    for s in SIZES:
        print(f"# bytes per append at ~{s} entries ({M} appends) ...", file=sys.stderr, flush=True)
        byt[s] = bytes_per_append(s)
    ratio = byt[SIZES[1]]["bytes_per_append"] / byt[SIZES[0]]["bytes_per_append"]
    at8 = next(r for r in conc if r["writers"] == 8)
    git = lambda *a: subprocess.run(["git", "-C", ROOT, *a], capture_output=True, text=True).stdout.rstrip("\n")
    result = {
        "date": started,
        "commit": git("rev-parse", "HEAD"),
        # The binary is built from the working tree: name what differed from the commit.
        "dirty": [l[3:] for l in git("status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml", "Cargo.lock").splitlines()],
        "nproc": int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()),
        "binary": LEDGER,
        "n_per_writer": N,
        "m_appends": M,
        "baseline": base,
        "concurrent": conc,
        "bytes": {str(k): v for k, v in byt.items()},
        "bytes_ratio": round(ratio, 3),
        "targets": {
            "entries_per_s_at_8": {"target": f">= {TARGET_RATE}", "value": at8["entries_per_s"], "met": at8["entries_per_s"] >= TARGET_RATE},
            "p50_ms": {"target": f"<= {TARGET_P50_MS}", "value": {str(r["writers"]): r["p50_ms"] for r in conc},
                       "met": all(r["p50_ms"] <= TARGET_P50_MS for r in conc)},
            "bytes_ratio": {"target": f"<= {TARGET_RATIO}", "value": round(ratio, 3), "met": ratio <= TARGET_RATIO},
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(OUT)), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    print(f"## ledger on a git ref (file:// remote): {started}, nproc {result['nproc']}, N={N} per writer, M={M}")
    print(f"built from {result['commit'][:12]}" + (f" + uncommitted changes in {', '.join(result['dirty'])}" if result["dirty"] else "") + "\n")
    print("| writers | acked | wall s | entries/s | p50 ms | p90 ms | p99 ms | max ms | lost races | target |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in conc:
        tgt = f"p50 <= {TARGET_P50_MS:g}: {mark(r['p50_ms'] <= TARGET_P50_MS)}"
        if r["writers"] == 8:
            tgt += f"; >= {TARGET_RATE:g}/s: {mark(r['entries_per_s'] >= TARGET_RATE)}"
        print(f"| {r['writers']} | {r['acknowledged']} | {r['wall_s']} | {r['entries_per_s']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | {r['max_ms']} | {r['lost_races']} | {tgt} |")
    print()
    print("| ref entries | object bytes/append (packs + loose) | packs/append | loose objects/append | remote dir bytes/append | append p50 ms | p99 ms | first publish s | first clone s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in SIZES:
        b = byt[s]
        print(f"| {b['ref_entries_before']} | {b['bytes_per_append']} | {b['packs_per_append']} | {b['loose_objects_per_append']} | {b['remote_dir_bytes_per_append']} | {b['p50_ms']} | {b['p99_ms']} | {b['first_publish_s']} | {b['first_clone_s']} |")
    print(f"\nbytes/append ratio {byt[SIZES[1]]['ref_entries_before']} vs {byt[SIZES[0]]['ref_entries_before']} entries: "
          f"{ratio:.3f} (target <= {TARGET_RATIO}: {mark(ratio <= TARGET_RATIO)})")
    print(f"\ncontext: a no-op `sync --git` takes {base['noop_sync_p50_ms']} ms (p50); one fsync in the temp dir {base['fsync_p50_ms']} ms (p50)")
    print(f"\nJSON: {OUT}", flush=True)


if __name__ == "__main__":
    main()
