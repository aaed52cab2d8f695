#!/usr/bin/env python3
"""Write a synthetic, valid (unsigned) ledger.jsonl with back-dated timestamps.

Usage: gen-sample-ledger.py OUT.jsonl [ENTRIES] [DAYS] [NOW]

Entries: merges, deploys (some failed), rollbacks naming the deploy they undo, gate
decisions, incidents (opened naming the env's live deploy, then resolved) and drills.

`ledger append` always stamps entries with the current time, so a history spread over weeks
(for the report's charts and the metrics benchmark) is written here directly, following
DESIGN §2: canonical JSON (sorted keys, no whitespace; ASCII keys, integers only),
hash = SHA-256(0x00 || entry without hash/sig), prev = previous hash. `ledger verify`
accepts the result. Deterministic: the same arguments give the same bytes.
"""
import datetime
import hashlib
import json
import random
import sys


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    days = int(sys.argv[3]) if len(sys.argv) > 3 else 84
    now = (datetime.datetime.fromisoformat(sys.argv[4].replace("Z", "+00:00")) if len(sys.argv) > 4
           else datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc))
    rng = random.Random(6)
    start = now - datetime.timedelta(days=days)
    step = (now - start) / n
    prev = "0" * 64
    envs = ["production", "staging"]
    authors = ["alice", "bob", "carol", "dependabot"]
    live = {}  # env -> (seq, version) of the last succeeded deploy
    pending = {e: [] for e in envs}  # env -> merges not shipped there yet: (commit, author, time)
    version = 0
    incidents = {}  # env -> id of the open incident
    n_incidents = 0
    with open(out, "w", encoding="utf-8") as f:
        for seq in range(n):
            t = start + step * seq
            ts = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
            r = rng.random()
            env = envs[seq % 2]
            commit = hashlib.sha1(str(seq).encode()).hexdigest()
            if r < 0.35:
                kind, actor = "merge", "merge-bot"
                author = rng.choice(authors)
                for e in envs:
                    pending[e].append((commit, author, t.strftime("%Y-%m-%dT%H:%M:%SZ")))
                body = {"author": author, "source": "feature/%d" % seq, "target": "main",
                        "source_commit": commit, "target_commit": commit, "merge_commit": commit,
                        "paths": ["src/lib.rs"]}
            elif r < 0.80:
                kind, actor = "deploy", "ci/deploy-%s" % env
                version += 1
                status = "failed" if rng.random() < 0.06 else "succeeded"
                lag = rng.randint(5 * 60, 3 * 3600)
                ct = (t - datetime.timedelta(seconds=lag)).strftime("%Y-%m-%dT%H:%M:%SZ")
                shipped = pending[env][-3:] if status == "succeeded" else []
                if status == "succeeded":
                    pending[env] = []
                body = {"env": env, "version": "v%d" % version, "commit": commit, "status": status,
                        "strategy": rng.choice(["blue-green", "canary", "rolling"]),
                        "changes": [{"commit": commit, "time": ct}],
                        "merges": [{"merge_commit": c, "author": a} for c, a, _ in shipped]}
                if status == "succeeded":
                    live[env] = (seq, "v%d" % version)
            elif r < 0.84 and env in live:
                kind, actor = "rollback", "ci/deploy-%s" % env
                undone, from_v = live.pop(env)
                body = {"env": env, "from_version": from_v, "to_version": "previous", "trigger": "error rate",
                        "trigger_type": rng.choice(["auto", "manual"]), "undoes_seq": undone}
            elif r < 0.92:
                kind, actor = "approval", "trust-gate"
                decision = "allow" if rng.random() < 0.8 else "deny"
                body = {"subject": "merge %s" % commit[:12], "decision": decision,
                        "reasons": ["score 912 per mille >= 800 for src/**" if decision == "allow"
                                    else "score 410 per mille < 800 for src/db/**"]}
            elif r < 0.95 and (env in incidents or env in live):
                kind, actor = "incident", "oncall"
                if env in incidents:
                    body = {"incident": incidents.pop(env), "status": "resolved", "env": env}
                else:
                    n_incidents += 1
                    incidents[env] = "INC-%d" % n_incidents
                    body = {"incident": incidents[env], "status": "opened", "env": env,
                            "severity": rng.choice(["sev2", "sev3"]), "caused_by_seq": live[env][0],
                            "external_id": "https://pager.example/incidents/%d" % n_incidents}
            else:
                kind, actor = "drill", "ops/drill"
                outcome = "pass" if rng.random() < 0.9 else rng.choice(["fail", "timeout"])
                body = {"target": commit, "rev": "last-good", "env": env, "check": "make smoke", "outcome": outcome,
                        "duration_ms": rng.randint(20_000, 240_000), "report_sha256": hashlib.sha256(commit.encode()).hexdigest()}
            e = {"v": 1, "seq": seq, "ts": ts, "kind": kind, "actor": actor, "body": body, "prev": prev}
            h = hashlib.sha256(b"\x00" + canon(e)).hexdigest()
            e["hash"] = h
            f.write(canon(e).decode() + "\n")
            prev = h


if __name__ == "__main__":
    main()
