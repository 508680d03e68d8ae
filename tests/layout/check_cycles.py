#!/usr/bin/env python3
"""No call cycle between the files of a program (CTest: layout/cycles).

Reads the object files (of source files that still exist) of the library, the CLI, the emulator and the lab from the build tree
with nm: file A depends on file B when A uses a symbol that B defines. A cycle (two files that
reach each other) is reported, except the emulator's $batch, which is a request made of requests
and so calls the router that calls it (on purpose, docs/architecture.md).
"""
import os
import subprocess
import sys

TARGETS = ["smimesync_common", "smimesync_core", "smimesync", "intune-emu", "smimesync-lab"]
ALLOWED = [{"src/emu/emu_batch.c", "src/emu/emu_route.c"}]


def objects(build, src, target):
    d = os.path.join(build, "CMakeFiles", target + ".dir")
    for dirpath, _, names in os.walk(d):
        for n in names:
            if n.endswith(".c.o"):
                full = os.path.join(dirpath, n)
                name = os.path.relpath(full, d)[:-2]
                if os.path.exists(os.path.join(src, name)):  # not a deleted file's stale object
                    yield name, full


def symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True, text=True,
                         check=True).stdout
    defined = {l.split()[-1] for l in out.splitlines() if l.strip()}
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
    used = {l.split()[-1] for l in out.splitlines() if l.strip()}
    return defined, used


def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main(build, src):
    files = {}
    for t in TARGETS:
        for name, path in objects(build, src, t):
            files[name] = symbols(path)
    if not files:
        print(f"cycles: no object files under {build}")
        return 1
    owner = {}
    for f, (defined, _) in files.items():
        for s in defined:
            owner[s] = f
    edges = {f: {owner[s] for s in used if s in owner and owner[s] != f}
             for f, (_, used) in files.items()}
    bad = [c for c in sccs(sorted(files), edges) if len(c) > 1 and c not in ALLOWED]
    for c in bad:
        print("call cycle: " + " <-> ".join(sorted(c)))
    print(f"cycles: {len(bad)} cycle(s) among {len(files)} files" if bad else
          f"cycles: none among {len(files)} files (allowed: emu_batch <-> emu_route)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
