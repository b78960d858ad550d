#!/usr/bin/env python3
"""Compile-time checks that a normal build cannot express, shared by CMake and meson.

    compile_check.py fail --include DIR CASE... -- CXX [FLAGS...]
        Each CASE (a .cpp file, or a directory of them) must FAIL to compile, and the
        compiler output must contain the text on the file's first line,
        `// expect: <text>`. A case that compiles, or fails for another reason, fails.

    compile_check.py pass --include DIR CASE... -- CXX [FLAGS...]
        Each CASE (a .cpp file, or a directory of them) must compile: tests/policy_headers/
        shows that the headers it names are enough for the stores it instantiates.

    compile_check.py headers --include DIR -- CXX [FLAGS...]
        Every header under DIR/kvforge must compile on its own: a translation unit
        holding only `#include <kvforge/...>` is checked for each.

    compile_check.py precompile --include DIR --pch OUT -- CXX [FLAGS...]
        With g++, precompiles <kvforge/kvforge.hpp> into OUT/kvforge/kvforge.hpp.gch; with
        another compiler, does nothing. `fail --pch OUT` then puts OUT first on the include
        path, where g++ takes the precompiled umbrella for a case that includes it first: a
        case then costs the instantiation that fails rather than the parse of every header.

Each runs `CXX [FLAGS...] -std=c++20 -fsyntax-only -I DIR`, two compilations at a time.
`--without NAME` (repeatable) leaves out the headers and cases whose file name contains NAME: the
build gives `--without zstd` when libzstd's headers are not installed, and so on.
"""

import argparse
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

EXPECT = re.compile(r"^\s*//\s*expect:\s*(.+?)\s*$")


def run_compiler(arguments, stdin=None):
    """Runs the compiler; returns (exit code, its output)."""
    # LC_ALL=C keeps the compiler's quotes plain ASCII, as the expectations are written.
    result = subprocess.run(arguments, input=stdin, capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"})
    return result.returncode, result.stdout + result.stderr


def compile_source(command, include, source, stdin=None, pch=None):
    """Compiles source (a path, or "-" to read stdin); returns (exit code, compiler output)."""
    first = ["-I", str(pch)] if pch is not None and umbrella_pch(pch).is_file() else []
    return run_compiler([*command, "-std=c++20", "-fsyntax-only", *first, "-I", str(include),
                         "-x", "c++", str(source)], stdin)


def umbrella_pch(pch):
    return pch / "kvforge" / "kvforge.hpp.gch"


def precompile(command, include, pch):
    """Precompiles the umbrella header with g++ (which looks for NAME.gch beside each header it
    includes); other compilers take a precompiled header only through options of their own."""
    code, version = run_compiler([*command, "--version"])
    if code != 0 or "Free Software Foundation" not in version:
        print("compile_check.py precompile: not g++, so the cases parse the umbrella themselves")
        return 0
    umbrella_pch(pch).parent.mkdir(parents=True, exist_ok=True)
    # Compiled from a one-line header that includes it: the umbrella itself as the main file
    # draws a warning about its #pragma once.
    source = pch / "umbrella.hpp"
    source.write_text("#include <kvforge/kvforge.hpp>\n", encoding="utf-8")
    code, output = run_compiler([*command, "-std=c++20", "-I", str(include), "-x", "c++-header", str(source),
                                 "-o", str(umbrella_pch(pch))])
    if code != 0:
        print(f"compile_check.py precompile: the umbrella does not precompile:\n{first_lines(output)}")
        return 1
    print(f"compile_check.py precompile: wrote {umbrella_pch(pch)}")
    return 0


def first_lines(output, limit=40):
    """The start of a compiler's output; the first error matters, the cascade after it rarely."""
    lines = output.splitlines()
    more = f"\n... ({len(lines) - limit} more lines)" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def check_fail(case, command, include, pch=None):
    text = case.read_text(encoding="utf-8")
    first_line = text.splitlines()[0] if text else ""
    match = EXPECT.match(first_line)
    if not match:
        return False, f"{case}: the first line must be `// expect: <part of the compiler error>`"
    expected = match.group(1)
    code, output = compile_source(command, include, case, pch=pch)
    if code == 0:
        return False, f"{case}: compiled, but it must fail with an error containing: {expected}"
    if expected not in output:
        return False, (f"{case}: failed to compile, but the output lacks the expected text: "
                       f"{expected}\n{first_lines(output)}")
    return True, f"{case}: fails as expected ({expected})"


def check_pass(case, command, include):
    code, output = compile_source(command, include, case)
    if code != 0:
        return False, f"{case}: does not compile:\n{first_lines(output)}"
    return True, f"{case}: compiles"


def check_header(header, command, include):
    rel = header.relative_to(include).as_posix()
    code, output = compile_source(command, include, "-", stdin=f"#include <{rel}>\n")
    if code != 0:
        return False, f"{rel} does not compile on its own:\n{first_lines(output)}"
    return True, f"{rel} is self-contained"


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("compile_check.py: give the compiler command after `--`")
    split = argv.index("--")
    command = argv[split + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["fail", "pass", "headers", "precompile"])
    parser.add_argument("--include", required=True, type=Path)
    parser.add_argument("--pch", type=Path, metavar="OUT",
                        help="where precompile writes the precompiled umbrella, and fail takes it from")
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="leave out headers and cases whose file name contains NAME")
    parser.add_argument("cases", nargs="*", type=Path)
    args = parser.parse_intermixed_args(argv[:split])
    if not command:
        sys.exit("compile_check.py: the compiler command after `--` is empty")

    if args.mode == "precompile":
        if args.pch is None:
            sys.exit("compile_check.py precompile: give --pch OUT")
        return precompile(command, args.include, args.pch)
    if args.mode in ("fail", "pass"):
        jobs = sorted(f for c in args.cases for f in ([c] if c.is_file() else c.glob("*.cpp")))
        check = partial(check_fail, pch=args.pch) if args.mode == "fail" else check_pass
    else:
        jobs = sorted((args.include / "kvforge").rglob("*.hpp"))
        check = check_header
    jobs = [job for job in jobs if not any(name in job.name for name in args.without)]
    if not jobs:
        print("compile_check.py: nothing to check")
        return 0

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda job: check(job, command, args.include), jobs))
    for ok, message in results:
        print(("ok    " if ok else "FAIL  ") + message)
    failed = sum(not ok for ok, _ in results)
    print(f"compile_check.py {args.mode}: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
