#!/usr/bin/env python3
"""Report import cycles between the source files of src/ (exit 1 if there is one).

Each file is a node. A path such as `crate::ledger::store::Draft`, `audit_ledger::flow::gate`
or `super::trust::decision_json` in a file is an edge to the file that defines that module;
a name a `mod.rs` only re-exports (`pub use store::Draft`) is followed to the file it comes
from, so re-exports do not count as imports of the parent. `#[cfg(test)]` modules at the end
of a file and comments (doc links) are ignored.

Usage: python3 scripts/module-cycles.py [SRC_DIR]
"""
import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "src")


def module_of(path: Path) -> tuple:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if path.name == "main.rs" or (parts and parts[0] == "cli"):
        return ("bin",) + tuple(parts)
    return tuple(parts)


files = {}
for p in sorted(SRC.rglob("*.rs")):
    text = p.read_text()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+\s*\{", text, re.M)
    if cut:
        text = text[: cut.start()]
    # Comments (doc links included) are not imports.
    text = re.sub(r"//[^\n]*", "", text)
    files[module_of(p)] = (p, text)

# Re-exports of each module: name -> module path it comes from.
reexports = {}
for mod, (_, text) in files.items():
    for m in re.finditer(r"pub use (?:self::)?([\w:]+)::(\{[^}]*\}|\w+)\s*;", text):
        base = tuple(m.group(1).split("::"))
        names = re.findall(r"\w+", m.group(2))
        for n in names:
            if n != "self":
                reexports.setdefault(mod, {})[n] = mod + base


def resolve(parts: tuple) -> tuple:
    """The file module a path lands in, following re-exports one step at a time."""
    for _ in range(8):
        best = ()
        for i in range(len(parts), 0, -1):
            if parts[:i] in files:
                best = parts[:i]
                break
        rest = parts[len(best):]
        if rest and best in reexports and rest[0] in reexports[best]:
            parts = reexports[best][rest[0]] + rest[1:]
            continue
        return best
    return best


edges = {m: set() for m in files}
path_re = re.compile(r"\b(crate|audit_ledger|super)((?:::\w+)+)(?:::\{([^}]*)\})?")
for mod, (p, text) in files.items():
    for m in path_re.finditer(text):
        head, tail, group = m.group(1), m.group(2), m.group(3)
        parts = tuple(tail.strip(":").split("::"))
        if head == "super":
            base = mod[:-1] + parts
        elif head == "audit_ledger" or (head == "crate" and mod[:1] != ("bin",)):
            base = parts
        else:  # `crate::` inside the binary
            base = ("bin",) + parts
        targets = [base + (g.strip().split("::")[0],) for g in (group or "").split(",") if g.strip()] or [base]
        for t in targets:
            r = resolve(t)
            if r and r != mod:
                edges[mod].add(r)

# Tarjan's strongly connected components.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]


def strong(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            strong(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(comp)


sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        strong(v)


def name(m):
    return str(files[m][0])


print(f"{len(files)} files, {sum(len(e) for e in edges.values())} imports between them")
for comp in sccs:
    print("cycle: " + " <-> ".join(sorted(name(m) for m in comp)))
    for a in comp:
        for b in sorted(edges[a] & set(comp)):
            print(f"  {name(a)} -> {name(b)}")
if sccs:
    sys.exit(1)
print("no cycles")
