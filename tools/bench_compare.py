#!/usr/bin/python3
"""Runs kvforge's benchmarks against its peers and writes docs/benchmarks.md and docs/benchmarks.png.

    tools/bench_compare.py --keys 1000000

builds bench/kvforge_bench (CMake, Release, in build/bench/) unless --binary names one,
runs it once per engine (each engine in its own process, so its peak memory is its own),
and writes the figures: ops/s per workload with kvforge / peer ratios from the same run,
the targets with their measured ratios, the machine, compiler, versions and every
engine's settings. Engines write under --dir (default /var/tmp), which must be on a real
disk: the sync_each figures and the fdatasync limit are measured there.
Needs python3 and, for the plot, python3-matplotlib.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The kvforge configurations the plot shows beside the peers.
PLOTTED_CONFIGS = ["memory.hash.single", "file_log.hash.buffered.single", "file_log.sorted.buffered.single",
                   "mmap_file.hash.buffered.single", "mmap_file.sorted.buffered.single",
                   "file_log.hash.buffered.thread_safe", "file_log.hash.sync_each.single",
                   "file_log.hash.sync_each.thread_safe"]

WORKLOAD_NOTES = {
    "seq_put": "put of every key in key order into an empty engine, then flush()",
    "random_put": "put of every key in random order into an empty engine, then flush()",
    "random_get": "get of every key in random order into one reused std::string",
    "seq_get": "get of every key in key order",
    "view_get": "get of every key in random order through visit(), a view of the stored bytes (kvforge only)",
    "missing_get": "get of as many keys that were never stored",
    "reopen": "open of the engine holding every key, after closing it (time per open; disk is after close)",
    "overwrite": "put of a tenth of the keys, ten times over with new values, then flush(); "
                 "disk after the engine's own compaction",
    "ordered_scan": "full scan in key order after a full compaction (ordered engines)",
    "batch_put": "atomic batches of 1,000 puts covering every key in random order",
    "two_thread_put": "every key put in random order by two threads at once (concurrent engines)",
    "two_thread_get": "every key got in random order by two threads at once (concurrent engines)",
    "sync_put": "puts each durable when it returns (sync_each), one thread; the fdatasync limit is measured "
                "again just before each engine, since the disk's speed drifts",
    "two_thread_sync_put": "puts each durable when it returns (sync_each), two threads at once",
    "fdatasync_limit": "pwrite of one record and fdatasync, repeated: the disk's limit for durable writes "
                       "(append: each grows the file; preallocated: the file's space was allocated first)",
}

# Targets: (what, metric, kvforge benchmark, reference benchmark or None, comparison, threshold).
# A ratio is kvforge / reference; "max" metrics must stay at or under the threshold.
TARGETS = [
    ("memory+hash random put >= 1.5x absl", "ops", "random_put/memory.hash.single", "random_put/absl_flat_hash_map", ">=", 1.5),
    ("memory+hash random get >= 1.5x absl", "ops", "random_get/memory.hash.single", "random_get/absl_flat_hash_map", ">=", 1.5),
    ("memory+hash get allocates nothing beyond the returned value (allocs/op)", "allocs_per_op", "random_get/memory.hash.single", None, "<=", 0.001),
    ("memory+hash view get allocates nothing (allocs/op)", "allocs_per_op", "view_get/memory.hash.single", None, "<=", 0.0),
    ("file_log+buffered+hash random put >= 3x LevelDB", "ops", "random_put/file_log.hash.buffered.single", "random_put/leveldb", ">=", 3.0),
    ("file_log+buffered+hash random put >= absl", "ops", "random_put/file_log.hash.buffered.single", "random_put/absl_flat_hash_map", ">=", 1.0),
    ("file_log+buffered+hash random get >= 1.5x LMDB", "ops", "random_get/file_log.hash.buffered.single", "random_get/lmdb", ">=", 1.5),
    ("file_log+buffered+hash reopen within 100 ms (ms)", "ms", "reopen/file_log.hash.buffered.single", None, "<=", 100.0),
    ("file_log+buffered+hash peak memory while loading <= LevelDB's", "peak_mem", "random_put/file_log.hash.buffered.single", "random_put/leveldb", "<=", 1.0),
    ("file_log+buffered+hash bytes on disk <= 1.10x LevelDB's", "disk_bytes", "reopen/file_log.hash.buffered.single", "reopen/leveldb", "<=", 1.10),
    ("mmap_file+hash view get >= 2x LMDB get", "ops", "view_get/mmap_file.hash.buffered.single", "random_get/lmdb", ">=", 2.0),
    ("file_log+sorted random put >= 3x LevelDB", "ops", "random_put/file_log.sorted.buffered.single", "random_put/leveldb", ">=", 3.0),
    ("mmap_file+sorted random put >= 3x LevelDB", "ops", "random_put/mmap_file.sorted.buffered.single", "random_put/leveldb", ">=", 3.0),
    ("mmap_file+sorted ordered scan >= 0.5x LMDB", "ops", "ordered_scan/mmap_file.sorted.buffered.single", "ordered_scan/lmdb", ">=", 0.5),
    ("file_log+sorted ordered scan >= LevelDB (both compacted)", "ops", "ordered_scan/file_log.sorted.buffered.single", "ordered_scan/leveldb", ">=", 1.0),
    ("sync_each 1 thread >= 0.9x the fdatasync limit (measured just before)", "of_limit", "sync_put/file_log.hash.sync_each.single", None, ">=", 0.9),
    ("sync_each 2 threads >= 1.2x RocksDB 2 threads", "ops", "two_thread_sync_put/file_log.hash.sync_each.thread_safe", "two_thread_sync_put/rocksdb", ">=", 1.2),
    ("overwrite: bytes on disk after automatic compaction <= 1.1x live bytes", "disk_over_live", "overwrite/file_log.hash.buffered.single", None, "<=", 1.1),
]


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, **kwargs)


def output_of(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def build(build_dir):
    """Configures and builds the benchmark binary in Release mode; returns its path."""
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DKVFORGE_BUILD_TESTS=OFF",
         "-DKVFORGE_BUILD_EXAMPLES=OFF", "-DKVFORGE_BUILD_BENCH=ON", "-DKVFORGE_INSTALL=OFF"],
        stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build_dir, "--target", "kvforge_bench", "-j", "1"], stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, "bench", "kvforge_bench")


def split_name(name):
    """'random_put/leveldb/iterations:1/manual_time' -> ('random_put', 'leveldb')."""
    workload, engine = name.split("/")[:2]
    return workload, engine


def output_of_env(command, env):
    return run(command, env=env, capture_output=True).stdout


def benchmarks_by_engine(binary, env, pattern):
    """The benchmarks matching pattern, grouped by engine in the binary's order."""
    listed = output_of_env([binary, "--benchmark_list_tests", "--benchmark_filter=" + (pattern or ".")], env)
    groups = {}
    for line in listed.splitlines():
        workload, engine = split_name(line)
        groups.setdefault(engine, []).append(workload + "/" + engine)
    return groups


def run_benchmarks(binary, env, pattern):
    """Runs each engine's benchmarks in a process of its own; returns (context, results by name)."""
    context, results = {}, {}
    for engine, names in benchmarks_by_engine(binary, env, pattern).items():
        print("bench_compare: " + engine, file=sys.stderr, flush=True)
        regex = "^(" + "|".join(re.escape(name) for name in names) + ")/"
        process = subprocess.run([binary, "--benchmark_format=json", "--benchmark_filter=" + regex], env=env,
                                 capture_output=True, text=True, check=False)
        try:
            report = json.loads(process.stdout)
        except json.JSONDecodeError:
            # The process died mid-run: record its benchmarks as failed rather than lose the others.
            reason = "crashed (exit status %d): %s" % (process.returncode, process.stderr.strip()[-200:])
            for name in names:
                results[name] = {"name": name, "error_occurred": True, "error_message": reason}
            print("bench_compare: " + engine + " " + reason, file=sys.stderr)
            continue
        context.update(report["context"])
        for entry in report["benchmarks"]:
            results["/".join(split_name(entry["name"]))] = entry
    return context, results


def metric(entry, name):
    if entry is None or entry.get("error_occurred"):
        return None
    if name == "ops":
        return entry.get("items_per_second")
    if name == "ms":
        return to_ms(entry["real_time"], entry["time_unit"])
    return entry.get(name)


def to_ms(value, unit):
    return value * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def human(value, unit=""):
    if value is None:
        return "—"
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return "%.3g %s%s" % (value / limit, suffix, unit)
    return "%.3g %s" % (value, unit) if unit else "%.3g" % value


def human_bytes(value):
    if value is None:
        return "—"
    for limit, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= limit:
            return "%.1f %s" % (value / limit, suffix)
    return "%d B" % value


DISK_BASELINES = ("append", "preallocated")


def is_peer(engine):
    return not re.match(r"^(memory|file_log|mmap_file)\.", engine) and engine not in DISK_BASELINES


def disk_of(directory):
    """The device and file system holding directory, and whether the device rotates."""
    df = output_of(["df", "--output=source,fstype", directory]).splitlines()
    if len(df) < 2:
        return "unknown"
    source, fstype = df[-1].split()
    device = os.path.basename(os.path.realpath(source))
    kind = "unknown kind"
    for name in (device, re.sub(r"p?\d+$", "", device)):
        try:
            with open("/sys/block/%s/queue/rotational" % name) as rotational:
                kind = "rotating disk" if rotational.read().strip() == "1" else "solid state or virtual disk"
            break
        except OSError:
            continue
    return "%s, %s (%s)" % (fstype, source, kind)


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def machine(bench_dir, binary, context):
    cpu = ""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kib = int(info.readline().split()[1])
    flags = "unknown (the binary was not built by this script's CMake build)"
    cache = os.path.join(os.path.dirname(os.path.dirname(binary)), "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as text:
            values = dict(re.findall(r"^(CMAKE_BUILD_TYPE|CMAKE_CXX_FLAGS_RELEASE|CMAKE_CXX_FLAGS):\w+=(.*)$",
                                     text.read(), re.M))
        flags = "%s build: %s %s" % (values.get("CMAKE_BUILD_TYPE", "?"), values.get("CMAKE_CXX_FLAGS", ""),
                                     values.get("CMAKE_CXX_FLAGS_RELEASE", ""))
    return [
        ("CPU", "%s, %d logical cores" % (cpu, os.cpu_count())),
        ("memory", "%.1f GiB" % (memory_kib / (1 << 20))),
        ("kernel", "Linux " + platform.release()),
        ("bench directory", "%s: %s" % (bench_dir, disk_of(bench_dir))),
        ("compiler", context.get("compiler", "unknown")),
        ("flags", " ".join(flags.split())),
        ("load", "load average %s when the run ended" % load_average()),
    ]


def ratio_text(value, reference):
    if value is None or not reference:
        return "—"
    return "%.2fx" % (value / reference)


def workload_tables(results):
    """A markdown table per workload: every engine's figures, kvforge rows with ratios to each peer."""
    lines = []
    workloads = []
    for name in results:
        workload = name.split("/")[0]
        if workload not in workloads:
            workloads.append(workload)
    for workload in workloads:
        rows = [(name.split("/")[1], entry) for name, entry in results.items() if name.split("/")[0] == workload]
        peers = [(engine, metric(entry, "ops")) for engine, entry in rows if is_peer(engine)]
        lines += ["### " + workload, "", WORKLOAD_NOTES.get(workload, ""), ""]
        header = ["engine", "ops/s", "time", "allocs/op", "peak mem", "disk"]
        if workload == "overwrite":
            header.append("disk / live")
        if "sync_put" in workload:
            header += ["fdatasync limit", "of limit"]
        header += ["vs " + peer for peer, _ in peers]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for engine, entry in rows:
            if entry.get("error_occurred"):
                cells = [engine, "failed: " + entry.get("error_message", "")] + [""] * (len(header) - 2)
                lines.append("| " + " | ".join(cells) + " |")
                continue
            ops = metric(entry, "ops")
            cells = [engine if is_peer(engine) else "**%s**" % engine, human(ops),
                     "%.1f ms" % to_ms(entry["real_time"], entry["time_unit"]),
                     "%.3g" % entry["allocs_per_op"] if "allocs_per_op" in entry else "—",
                     human_bytes(entry.get("peak_mem")), human_bytes(entry.get("disk_bytes"))]
            if workload == "overwrite":
                cells.append("%.2f" % entry["disk_over_live"] if "disk_over_live" in entry else "—")
            if "sync_put" in workload:
                cells += [human(entry.get("fdatasync_limit")), "%.2fx" % entry.get("of_limit", 0)]
            for _, peer_ops in peers:
                cells.append("—" if is_peer(engine) else ratio_text(ops, peer_ops))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def targets_table(results):
    lines = ["| target | kvforge | reference | measured | met |", "|---|---|---|---|---|"]
    met_count = 0
    for what, name, ours, theirs, comparison, threshold in TARGETS:
        value = metric(results.get(ours), name)
        if theirs is not None:
            reference = metric(results.get(theirs), name)
            measured = value / reference if value is not None and reference else None
        else:
            reference = None
            measured = value
        if measured is None:
            verdict, shown = "not measured", "—"
        else:
            met = measured >= threshold if comparison == ">=" else measured <= threshold
            met_count += met
            verdict = "met" if met else "**missed**"
            shown = ("%.2fx" % measured) if theirs is not None else "%.4g" % measured
        lines.append("| %s | %s | %s | %s | %s |" % (what, ours.split("/")[1], theirs or "—", shown, verdict))
    return lines, met_count


def plot(results, path):
    """A grouped bar chart of ops/s per workload, log scale: the plotted kvforge configurations
    and every peer, with the disk's fdatasync limit as a line."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        print("bench_compare: matplotlib missing (apt-get install python3-matplotlib); no plot", file=sys.stderr)
        return False
    groups = {}
    for name, entry in results.items():
        workload, engine = name.split("/")
        ops = metric(entry, "ops")
        if workload in ("fdatasync_limit", "reopen") or ops is None:
            continue
        if engine in PLOTTED_CONFIGS or is_peer(engine):
            groups.setdefault(workload, []).append((engine, ops))
    engines = [e for e in PLOTTED_CONFIGS if any(e == g for bars in groups.values() for g, _ in bars)]
    engines += sorted({e for bars in groups.values() for e, _ in bars if e not in engines})
    colors = {engine: plt.get_cmap("tab20")(index % 20) for index, engine in enumerate(engines)}
    figure, axes = plt.subplots(figsize=(16, 7))
    width = 0.8 / max(len(bars) for bars in groups.values())
    for position, (workload, bars) in enumerate(groups.items()):
        bars.sort(key=lambda bar: engines.index(bar[0]))
        for index, (engine, ops) in enumerate(bars):
            axes.bar(position + (index - len(bars) / 2 + 0.5) * width, ops, width, color=colors[engine],
                     hatch="//" if is_peer(engine) else "", edgecolor="white", linewidth=0)
    limit = metric(results.get("fdatasync_limit/append"), "ops")
    if limit:
        axes.axhline(limit, color="black", linestyle="--", linewidth=0.8)
        axes.text(len(groups) - 0.5, limit * 1.15, "fdatasync limit", ha="right", fontsize=8)
    axes.set_yscale("log")
    axes.set_ylabel("operations per second (log scale)")
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(list(groups), rotation=30, ha="right")
    axes.legend(handles=[Patch(facecolor=colors[e], hatch="//" if is_peer(e) else "", label=e) for e in engines],
                fontsize=8, ncol=1, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    axes.grid(axis="y", which="major", alpha=0.3)
    axes.set_title("kvforge (plain) and peers (hatched), one run")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000000, help="keys per engine (default 1,000,000)")
    parser.add_argument("--key-size", type=int, default=16)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--sync-puts", type=int, default=1000, help="puts of the sync_each workloads (default 1000)")
    parser.add_argument("--read-ms", type=int, default=500,
                        help="least time each read workload is timed for, in whole passes (default 500)")
    parser.add_argument("--dir", default="/var/tmp", help="where engines write; a real disk (default /var/tmp)")
    parser.add_argument("--binary", help="a built kvforge_bench (default: build it in --build-dir)")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"))
    parser.add_argument("--filter", default="", help="only benchmarks whose name matches this regex")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--save-json", help="also write the run's raw results to this file")
    parser.add_argument("--from-json", help="write the report from results saved by --save-json, running nothing")
    args = parser.parse_args()

    if args.from_json:
        with open(args.from_json) as saved:
            run_record = json.load(saved)
        write_report(args, **run_record)
        return
    binary = args.binary or build(args.build_dir)
    env = dict(os.environ, KVFORGE_BENCH_KEYS=str(args.keys), KVFORGE_BENCH_KEY_SIZE=str(args.key_size),
               KVFORGE_BENCH_VALUE_SIZE=str(args.value_size), KVFORGE_BENCH_SYNC_PUTS=str(args.sync_puts),
               KVFORGE_BENCH_READ_MS=str(args.read_ms),
               KVFORGE_BENCH_DIR=args.dir)
    started = time.monotonic()
    context, results = run_benchmarks(binary, env, args.filter)
    run_record = {"context": context, "results": results, "date": datetime.date.today().isoformat(),
                  "minutes": (time.monotonic() - started) / 60, "machine_rows": machine(args.dir, binary, context)}
    if args.save_json:
        with open(args.save_json, "w") as out:
            json.dump(run_record, out, indent=1)
    write_report(args, **run_record)


def write_report(args, context, results, date, minutes, machine_rows):
    """Writes the markdown report and the plot."""
    keys, key_size, value_size = (int(context[k]) for k in ("keys", "key_size", "value_size"))
    command = "tools/bench_compare.py --keys %d" % keys
    if (key_size, value_size) != (16, 100):
        command += " --key-size %d --value-size %d" % (key_size, value_size)
    limit = metric(results.get("fdatasync_limit/append"), "ops")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `%s` (%s, %.1f minutes). Every figure below comes from that one run;" %
        (command, date, minutes),
        "each engine ran in a process of its own. Regenerate with the same command. On a shared virtual",
        "machine the ratios move from run to run, some by a third or more (the neighbours' load, and the",
        "disk's sync rate, change by the minute): a target just met or just missed here may flip in the next run.",
        "",
        "%d keys of %d bytes, values of %d bytes (random letters, so block compression finds nothing), "
        "%s puts in the sync_each workloads." % (keys, key_size, value_size, context.get("sync_puts")),
        "",
        "**The disk's limit for durable appends** (pwrite of one record after the last, then "
        "fdatasync, repeated): **%s appends/s**; into a preallocated file, where fdatasync has no "
        "size to commit: %s writes/s." % (human(limit), human(metric(results.get("fdatasync_limit/preallocated"), "ops"))),
        "",
        "## Machine", "",
        "| | |", "|---|---|",
    ]
    lines += ["| %s | %s |" % tuple(row) for row in machine_rows]
    lines += ["", "## Engines, versions and settings", "",
              "Every peer runs at its defaults except its durability settings and what it needs to run "
              "at all. *buffered* is each engine's non-syncing mode, *sync_each* makes every put durable "
              "before it returns. Bulk loads into SQLite and LMDB commit one transaction per 1,000 puts "
              "in buffered mode and one per put in sync_each mode.", "",
              "| engine | version | settings |", "|---|---|---|"]
    seen_kvforge = False
    for key in sorted(context):
        if not key.startswith("version."):
            continue
        engine = key[len("version."):]
        settings = context.get("settings." + engine, "")
        if not is_peer(engine):
            if seen_kvforge:
                continue
            seen_kvforge, engine = True, "kvforge (every configuration)"
        lines.append("| %s | %s | %s |" % (engine, context[key], settings.replace("|", "\\|")))
    target_lines, met = targets_table(results)
    lines += ["", "## Targets", "", "Ratios are kvforge / reference, both measured in this run. "
              "%d of %d met." % (met, len(TARGETS)), ""] + target_lines
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    png = os.path.splitext(args.out)[0] + ".png"
    if plot(results, png):
        lines += ["", "## Plot", "", "![operations per second](%s)" % os.path.basename(png)]
    lines += ["", "## Workloads", "",
              "ops/s is operations per second of wall time; allocs/op counts heap allocations (malloc "
              "and friends, so C++ and C engines alike) during the timed part; peak mem is the peak "
              "resident memory above that at the start of the benchmark; disk is the space the "
              "engine's files take after flush() (reopen: after closing). Ratios are the kvforge "
              "configuration's ops/s over each peer's.", ""]
    lines += workload_tables(results)
    with open(args.out, "w") as out:
        out.write("\n".join(lines).rstrip() + "\n")
    print("bench_compare: wrote %s (%.1f minutes)" % (args.out, minutes), file=sys.stderr)


if __name__ == "__main__":
    main()
