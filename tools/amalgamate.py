#!/usr/bin/env python3
"""Generates single_include/kvforge/kvforge.hpp from the headers under include/.

Starting at include/kvforge/kvforge.hpp, every quoted include is replaced by the
file it names, each file once (as #pragma once would), and the files' own
#pragma once lines are dropped. <system> includes are kept where they stand.
The testing I/O policies, which the umbrella header leaves out, become add-ons
beside it (single_include/kvforge/io/*.hpp) that include the single header and
inline only what it lacks. The output depends only on the input files, so it can
be committed and checked.

    python3 tools/amalgamate.py           write the single header
    python3 tools/amalgamate.py --check   fail if the committed one is stale
"""

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "include"
ENTRY = INCLUDE / "kvforge" / "kvforge.hpp"
OUTPUT_DIR = ROOT / "single_include" / "kvforge"
OUTPUT = OUTPUT_DIR / "kvforge.hpp"
ADDONS = ["io/simulated.hpp", "io/fault_injection.hpp"]

QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\b")
PROJECT_VERSION = re.compile(r"project\s*\(\s*kvforge\s+VERSION\s+([0-9.]+)", re.IGNORECASE)


def project_version():
    match = PROJECT_VERSION.search((ROOT / "CMakeLists.txt").read_text(encoding="utf-8"))
    if not match:
        sys.exit("amalgamate: no 'project(kvforge VERSION x.y.z' in CMakeLists.txt")
    return match.group(1)


def resolve(name, including_file):
    """Finds a quoted include beside the including file, then under include/."""
    for base in (including_file.parent, INCLUDE):
        candidate = (base / name).resolve()
        if candidate.is_file() and INCLUDE in candidate.parents:
            return candidate
    return None


def inline(path, seen, out):
    seen.add(path)
    rel = path.relative_to(INCLUDE).as_posix()
    out.append(f"// ---- begin {rel} ----\n")
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if PRAGMA_ONCE.match(line):
            continue
        match = QUOTED_INCLUDE.match(line)
        if not match:
            out.append(line + "\n")
            continue
        target = resolve(match.group(1), path)
        if target is None:
            sys.exit(f'amalgamate: {rel}:{number}: cannot find "{match.group(1)}" '
                     f"beside the file or under include/")
        if target not in seen:
            inline(target, seen, out)
    out.append(f"// ---- end {rel} ----\n")


def banner(source, edition):
    return [
        f"// kvforge {project_version()} -- {edition}.\n",
        f"// Generated from include/kvforge/{source} by tools/amalgamate.py: do not edit;\n",
        "// change the headers under include/ and run `python3 tools/amalgamate.py`.\n",
        "#pragma once\n",
    ]


def generate():
    """Returns {output path: text} for the single header and its add-ons."""
    seen = set()
    out = banner("kvforge.hpp", "single-header edition")
    inline(ENTRY.resolve(), seen, out)
    outputs = {OUTPUT: "".join(out)}
    for addon in ADDONS:
        depth = addon.count("/")
        out = banner(addon, "add-on to the single header")
        out.append(f'#include "{"../" * depth}kvforge.hpp"\n')
        inline((INCLUDE / "kvforge" / addon).resolve(), set(seen), out)
        outputs[OUTPUT_DIR / addon] = "".join(out)
    return outputs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare the committed single header with a fresh generation")
    args = parser.parse_args()

    stale = 0
    for output, fresh in generate().items():
        shown = output.relative_to(ROOT).as_posix()
        if args.check:
            current = output.read_text(encoding="utf-8") if output.is_file() else ""
            if current == fresh:
                print(f"{shown} is up to date")
                continue
            diff = difflib.unified_diff(current.splitlines(True), fresh.splitlines(True),
                                        f"{shown} (committed)", f"{shown} (fresh)")
            sys.stderr.writelines(list(diff)[:40])
            print(f"\n{shown} is stale or missing: the headers under include/ changed.\n"
                  f"Regenerate it with `python3 tools/amalgamate.py` and commit the result.",
                  file=sys.stderr)
            stale += 1
            continue
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8", newline="\n") as f:
            f.write(fresh)
        print(f"wrote {shown}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
