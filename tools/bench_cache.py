#!/usr/bin/python3
"""Runs kvforge's cache benchmark and writes its section of docs/benchmarks/studies.md.

    tools/bench_cache.py --runs 2

builds bench/kvforge_cache_bench (CMake, Release, in build/bench/) unless --binary names
one, runs it --runs times (each run a process of its own, every benchmark in it), and
writes the figures between the lines <!-- begin: cache --> and <!-- end: cache --> of
--out, replacing what was there (the pair is appended when missing; the rest of the file
is left as it is). Hit ratios are the same in every run (the traces are fixed); for
throughput the median of the runs is shown with their range. Ratios compare figures of
the same run. Needs python3.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = "<!-- begin: cache -->"
END = "<!-- end: cache -->"

TRACES = [
    ("zipf_0.99", "Zipf 0.99"),
    ("zipf_0.8", "Zipf 0.8"),
    ("zipf_0.99_scan", "Zipf 0.99, every third request a one-pass scan"),
    ("zipf_0.8_scan", "Zipf 0.8, every third request a one-pass scan"),
    ("shifting_0.99", "Zipf 0.99, popular keys move ten times"),
]
HIT_ENGINES = [
    ("bounded_s3fifo", "bounded<s3fifo>, single_thread"),
    ("bounded_lru", "bounded<lru>, single_thread"),
    ("memory", "memory (unbounded), single_thread"),
    ("bounded_s3fifo_mt", "bounded<s3fifo>, thread_safe"),
    ("bounded_lru_mt", "bounded<lru>, thread_safe"),
    ("memory_mt", "memory (unbounded), thread_safe"),
    ("absl_flat_hash_map", "absl::flat_hash_map"),
    ("std_list_lru", "std::list + std::unordered_map LRU (mutex with 2 threads)"),
]
READ_CACHE_STORES = [
    ("file_log", "file_log"),
    ("file_log_read_cache", "file_log + read_cache<>"),
    ("mmap_file", "mmap_file (takes no read_cache<>)"),
]


def build(build_dir):
    """Configures and builds the benchmark binary in Release mode; returns its path."""
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DKVFORGE_BUILD_TESTS=OFF",
                    "-DKVFORGE_BUILD_EXAMPLES=OFF", "-DKVFORGE_BUILD_BENCH=ON", "-DKVFORGE_INSTALL=OFF"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "kvforge_cache_bench", "-j", "2"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, "bench", "kvforge_cache_bench")


def run_once(binary, env, pattern):
    """One run of the binary; returns (context, {name: benchmark entry})."""
    command = [binary, "--benchmark_format=json"] + (["--benchmark_filter=" + pattern] if pattern else [])
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if process.returncode != 0:
        sys.exit("bench_cache: %s failed (exit status %d): %s" % (binary, process.returncode, process.stderr[-500:]))
    report = json.loads(process.stdout)
    results = {}
    for entry in report["benchmarks"]:
        name = "/".join(entry["name"].split("/")[:3]).replace("/iterations:1", "").replace("/manual_time", "")
        results[name] = entry
    return report["context"], results


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def cpu_model():
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def values(runs, name, counter):
    """The counter of benchmark name in every run that has it without error."""
    found = []
    for results in runs:
        entry = results.get(name)
        if entry and not entry.get("error_occurred") and counter in entry:
            found.append(entry[counter])
    return found


def median(runs, name, counter):
    found = values(runs, name, counter)
    return statistics.median(found) if found else None


def human(value):
    if value is None:
        return "—"
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return "%.3g%s" % (value / factor, suffix)
    return "%.3g" % value


def mib(value):
    return "—" if value is None else "%.1f MiB" % (value / (1 << 20))


def percent(value):
    return "—" if value is None else "%.1f%%" % (100 * value)


def ratio(value, reference):
    return "—" if value is None or not reference else "%.2fx" % (value / reference)


def spread(runs, name, counter):
    """The median with the range over the runs, e.g. '12.3 M (12.1–12.6 M)'."""
    found = values(runs, name, counter)
    if not found:
        return "—"
    if len(found) == 1:
        return human(found[0])
    return "%s (%s–%s)" % (human(statistics.median(found)), human(min(found)), human(max(found)))


def hit_ratio_table(runs, context):
    first = runs[0]
    lines = [
        "| trace | s3fifo (default) | lru | s3fifo / lru | exact LRU | Belady | s3fifo of Belady | lru of Belady "
        "| entries held: s3fifo / lru |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for trace, description in TRACES:
        s3 = median([first], "hit_ratio/%s/s3fifo" % trace, "hit_ratio")
        lru = median([first], "hit_ratio/%s/lru" % trace, "hit_ratio")
        exact = median([first], "hit_ratio/%s/exact_lru" % trace, "hit_ratio")
        belady = median([first], "hit_ratio/%s/belady" % trace, "hit_ratio")
        held_s3 = median([first], "hit_ratio/%s/s3fifo" % trace, "entries")
        held_lru = median([first], "hit_ratio/%s/lru" % trace, "entries")
        held = "—" if held_s3 is None or held_lru is None else "%s / %s" % (human(held_s3), human(held_lru))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            description, percent(s3), percent(lru), ratio(s3, lru), percent(exact), percent(belady),
            ratio(s3, belady), ratio(lru, belady), held))
    return lines


def speedup(runs, name, reference):
    """How many times faster name is than reference in CPU time per get, within each run;
    the median over the runs."""
    within = [r[reference]["cpu_ns_per_get"] / r[name]["cpu_ns_per_get"] for r in runs
              if name in r and reference in r and not r[name].get("error_occurred")
              and not r[reference].get("error_occurred") and "cpu_ns_per_get" in r[name]]
    return "%.2fx" % statistics.median(within) if within else "—"


def hit_get_table(runs):
    lines = []
    for threads in (1, 2):
        lines += ["", "%d thread%s:" % (threads, "" if threads == 1 else "s"), "",
                  "| engine | gets/s (wall) | CPU ns per get | speed vs memory store (same threading) "
                  "| vs absl::flat_hash_map "
                  "| vs std::list LRU |",
                  "|---|---|---|---|---|---|"]
        for engine, description in HIT_ENGINES:
            name = "hit_get/%s/%d" % (engine, threads)
            if not values(runs, name, "gets_per_second"):
                continue
            # Each kvforge store against the memory store of its threading policy.
            memory = "hit_get/%s/%d" % ("memory_mt" if engine.endswith("_mt") or threads == 2 else "memory", threads)
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                description, spread(runs, name, "gets_per_second"), spread(runs, name, "cpu_ns_per_get"),
                speedup(runs, name, memory), speedup(runs, name, "hit_get/absl_flat_hash_map/%d" % threads),
                speedup(runs, name, "hit_get/std_list_lru/%d" % threads)))
    return lines


def read_cache_table(runs):
    lines = ["| store | gets/s (wall) | CPU ns per get | speed vs file_log | cache hit ratio | memory_bytes |",
             "|---|---|---|---|---|---|"]
    base = "zipf_get/file_log"
    for store, description in READ_CACHE_STORES:
        name = "zipf_get/" + store
        if not values(runs, name, "gets_per_second"):
            continue
        hits = median(runs, name, "hit_ratio") if "read_cache" in name else None
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            description, spread(runs, name, "gets_per_second"), spread(runs, name, "cpu_ns_per_get"),
            speedup(runs, name, base) if name != base else "—", percent(hits),
            mib(median(runs, name, "memory_bytes"))))
    return lines


def section(runs, context, args, date):
    budget = int(context.get("budget", "0"))
    command = "tools/bench_cache.py --runs %d" % args.runs
    for flag, value, default in (("--keys", args.keys, 1000000), ("--requests", args.requests, 5000000),
                                 ("--budget", args.budget, 16 << 20), ("--read-ms", args.read_ms, 500)):
        if value != default:
            command += " %s %d" % (flag, value)
    lines = [
        BEGIN,
        "## Caches: bounded<> and read_cache<>",
        "",
        "Written by `%s` on %s: %d run%s of bench/cache_bench.cpp; %s, %d logical cores, Linux %s; load average %s "
        "when the runs ended." % (command, date, len(runs), "" if len(runs) == 1 else "s", cpu_model(),
                                  os.cpu_count(), platform.release(), load_average()),
        "Keys of %s bytes, values of %s bytes; %s keys, %s requests per trace." % (
            context.get("key_size"), context.get("value_size"), human(float(context.get("keys", 0))),
            human(float(context.get("requests", 0)))),
        "",
        "### Hit ratio at equal memory",
        "",
        "Each request is a get, and a put on a miss, on a bounded memory store with a memory_budget of %s "
        "(every byte counted: keys, values, index, eviction metadata). `lru` is kvforge's LRU with lazy promotion "
        "(CLOCK). Exact LRU (std::list) and Belady's optimum (offline: on a miss it leaves out the entry requested "
        "farthest ahead) hold as many entries as the kvforge store that held more, on average once full." % mib(budget),
        "",
    ]
    lines += hit_ratio_table(runs, context)
    lines += [
        "",
        "### Gets that hit",
        "",
        "Gets of %s keys, all held, in random order, into one reused std::string; a bounded store's budget holds "
        "them all. With two threads, gets/s counts both; kvforge's thread_safe stores take only the shared lock "
        "on a hit, the std::list LRU a mutex (a hit moves its entry). Speed ratios are of the CPU time per get "
        "(all threads' CPU time over all gets), taken within each run: a busy machine moves them less than "
        "it moves wall time." % human(float(context.get("hot_keys", 0))),
    ]
    lines += hit_get_table(runs)
    lines += [
        "",
        "### A persistent store with and without read_cache<>",
        "",
        "Gets with Zipf 0.99 popularity over %s keys held by the store (popular keys spread over the file, "
        "which is in the page cache), with a cache_budget of %s, timed after one pass that warms the cache. "
        "memory_bytes is the store's index plus the cache." % (
            human(float(context.get("keys", 0))), mib(budget)),
        "",
    ]
    lines += read_cache_table(runs)
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(path, text):
    """Replaces the marked section of the file at path with text, or appends it."""
    old = open(path).read() if os.path.exists(path) else ""
    start, end = old.find(BEGIN), old.find(END)
    if start != -1 and end != -1 and end > start:
        new = old[:start] + text + old[end + len(END):].lstrip("\n")
    else:
        new = old + ("\n" if old and not old.endswith("\n\n") else "") + text
    with open(path, "w") as out:
        out.write(new)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="runs of the whole benchmark (default 2)")
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--requests", type=int, default=5000000, help="requests per trace")
    parser.add_argument("--budget", type=int, default=16 << 20, help="memory_budget and cache_budget in bytes")
    parser.add_argument("--read-ms", type=int, default=500, help="least time of each timed read benchmark")
    parser.add_argument("--dir", default="/var/tmp", help="where the persistent stores write")
    parser.add_argument("--binary", help="a built kvforge_cache_bench (default: build it in --build-dir)")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"))
    parser.add_argument("--filter", default="", help="only benchmarks whose name matches this regex")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks", "studies.md"))
    parser.add_argument("--save-json", help="also write the runs' raw results to this file")
    parser.add_argument("--from-json", help="write the section from results saved by --save-json, running nothing")
    args = parser.parse_args()

    date = datetime.date.today().isoformat()
    if args.from_json:
        with open(args.from_json) as saved:
            data = json.load(saved)
        context, runs, date = data["context"], data["runs"], data["date"]
    else:
        binary = args.binary or build(args.build_dir)
        env = dict(os.environ, KVFORGE_CACHE_BENCH_KEYS=str(args.keys), KVFORGE_CACHE_BENCH_REQUESTS=str(args.requests),
                   KVFORGE_CACHE_BENCH_BUDGET=str(args.budget), KVFORGE_CACHE_BENCH_READ_MS=str(args.read_ms),
                   KVFORGE_BENCH_DIR=args.dir)
        runs = []
        for run in range(args.runs):
            print("bench_cache: run %d of %d" % (run + 1, args.runs), file=sys.stderr, flush=True)
            context, results = run_once(binary, env, args.filter)
            runs.append(results)
        if args.save_json:
            with open(args.save_json, "w") as out:
                json.dump({"context": context, "runs": runs, "date": date}, out)
    write_section(args.out, section(runs, context, args, date))
    print("bench_cache: wrote the cache section of " + args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
