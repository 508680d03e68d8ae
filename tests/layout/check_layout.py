#!/usr/bin/env python3
"""The dependency rule of docs/architecture.md, checked on the tree (CTest: layout/rules).

- src/lib/<stage>/ and include/smimesync/<stage>/ (the stage's public headers) include only headers
  of their own stage or of stages below it;
- no library file (.c or .h) over 600 lines;
- src/emu and src/lab include, of the library, only common/ (they link smimesync_common alone);
- src/cli includes only the public headers (include/smimesync/) and its own.
Prints one line per violation and exits 1 if there is any.
"""
import os
import re
import sys

# Bottom (0) to top. A folder may include its own headers and those of folders with a lower rank.
RANK = {
    "common": 0,
    "pki": 1, "journal": 1, "edb": 1, "connector": 1, "pfx": 1, "graph": 1, "audit": 1,
    "recover": 2,
    "record": 3,
    "source": 4,
    "sync": 5,
}
MAX_LINES = 600
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def files(root, exts=(".c", ".h")):
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith(exts):
                yield os.path.join(dirpath, n)


def main(src):
    bad = []
    roots = [os.path.join(src, "src", "lib"), os.path.join(src, "include", "smimesync")]
    for root in roots:
        for path in files(root):
            rel = os.path.relpath(path, root)
            shown = os.path.relpath(path, src)
            stage = rel.split(os.sep)[0]
            if stage not in RANK:
                bad.append(f"{shown}: not in a stage folder ({', '.join(RANK)})")
                continue
            text = open(path, encoding="utf-8").read()
            lines = text.count("\n")
            if lines > MAX_LINES:
                bad.append(f"{shown}: {lines} lines (at most {MAX_LINES})")
            for inc in INCLUDE.findall(text):
                if "/" not in inc:
                    if not os.path.exists(os.path.join(os.path.dirname(path), inc)):
                        bad.append(f"{shown}: includes \"{inc}\", not folder-qualified")
                    continue
                other = inc.split("/")[0]
                if not any(os.path.exists(os.path.join(r, inc)) for r in roots):
                    bad.append(f"{shown}: includes \"{inc}\", which is no library header")
                elif other != stage and RANK[other] >= RANK[stage]:
                    bad.append(f"{shown}: {stage}/ includes \"{inc}\" ({other}/ is not below it)")
    for side in ("emu", "lab"):
        for path in files(os.path.join(src, "src", side)):
            for inc in INCLUDE.findall(open(path, encoding="utf-8").read()):
                if "/" in inc and not inc.startswith("common/"):
                    bad.append(f"{os.path.relpath(path, src)}: includes \"{inc}\" "
                               "(the emulator and the lab link only smimesync_common)")
    public = os.path.join(src, "include", "smimesync")
    cli = os.path.join(src, "src", "cli")
    for path in files(cli):
        for inc in INCLUDE.findall(open(path, encoding="utf-8").read()):
            if os.path.exists(os.path.join(cli, inc)) or os.path.exists(os.path.join(public, inc)):
                continue
            bad.append(f"{os.path.relpath(path, src)}: includes \"{inc}\" "
                       "(the CLI sees only include/smimesync/ and its own headers)")
    for b in bad:
        print(b)
    print(f"layout: {len(bad)} violation(s)" if bad else "layout: the dependency rule holds")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
