#!/usr/bin/python3
"""Runs kvforge's benchmarks against its peers; writes docs/benchmarks.md, its plot and docs/benchmarks/<date>.md.

    tools/bench_compare.py --keys 300000,1000000

builds bench/kvforge_bench (CMake, Release, in build/bench/) unless --binary names one and
runs it at each number of keys: the workloads as users run stores (fresh_*: each workload
of each engine in a process of its own, which opens the store the previous one left) and
the others once per engine (each engine in its own process, so its peak memory is its own).
It also times the include cost (tools/include_cost.sh). It writes the figures: a plot of
each kvforge configuration's ratio to the best peer of its kind per workload, the targets with their
measured ratios, the include cost, the machine, compiler, versions and every engine's
settings to --out (docs/benchmarks.md), and ops/s per workload with kvforge / peer ratios
from the same run to a file of that run's date in --runs-dir (docs/benchmarks/<date>.md),
which --out links to. Sections of --out between a line `<!-- begin: NAME -->` and a line
`<!-- end: NAME -->` are written by hand or by other scripts: they are kept as they are,
after the generated report.
Engines write under --dir (default /var/tmp), which must be on a real disk: the sync_each
figures and the fdatasync limit are measured there.
Needs python3 and, for the plot, python3-matplotlib.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The kvforge configurations the plot shows beside the peers.
PLOTTED_CONFIGS = ["memory.hash.single", "file_log.hash.buffered.single", "file_log.sorted.buffered.single",
                   "mmap_file.hash.buffered.single", "mmap_file.sorted.buffered.single",
                   "file_log.hash.buffered.thread_safe", "file_log.hash.sync_each.single",
                   "file_log.hash.sync_each.thread_safe"]

WORKLOAD_NOTES = {
    "fresh_load": "as users run it, in a fresh process: put of every key in random order into a new engine, then "
                  "flush() and close, all timed; peak mem is the load's, disk the files' size after closing",
    "fresh_get": "in a fresh process that opens the store fresh_load left (engines in memory only load it "
                 "first, untimed): get of every key in random order through the plain form, a new "
                 "std::optional<std::string> per get",
    "fresh_get_buffer": "as fresh_get, through get(key, buffer) into one reused std::string",
    "fresh_get_hot": "as fresh_get_buffer, over a hot range: gets of a hundredth of the keys, adjacent in key "
                     "order, as many gets as keys in random order (what a block cache serves)",
    "fresh_get_view": "as fresh_get, through a view of the stored bytes (visit(key, fn)), copying nothing",
    "fresh_get_many": "as fresh_get, through get_many(keys, out) with 32 keys a call into reused outputs "
                      "(kvforge only: compare with fresh_get_buffer, a loop of get into a buffer)",
    "fresh_scan": "in a fresh process that opens the store fresh_load filled in random key order, with no "
                  "compaction since: full scans in key order through the plain loop (ordered engines)",
    "fresh_scan_descending": "as fresh_scan, largest key first (kvforge only: compare with fresh_scan)",
    "fresh_overwrite": "in a fresh process: put of a tenth of the keys, ten times over with new values, then "
                       "flush() (timed); then compact() and close; disk is the files' size after closing",
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
    "ordered_scan_descending": "as ordered_scan, largest key first (kvforge only: compare with ordered_scan)",
    "batch_put": "atomic batches of 1,000 puts covering every key in random order",
    "two_thread_put": "every key put in random order by two threads at once (concurrent engines)",
    "two_thread_get": "every key got in random order by two threads at once (concurrent engines)",
    "sync_put": "puts each durable when it returns (sync_each), one thread; the fdatasync limit is measured "
                "again just before each engine, since the disk's speed drifts",
    "two_thread_sync_put": "puts each durable when it returns (sync_each), two threads at once",
    "fdatasync_limit": "pwrite of one record and fdatasync, repeated: the disk's limit for durable writes "
                       "(append: each grows the file; preallocated: the file's space was allocated first)",
}

# A target's reference "WORKLOAD/best of its kind" is the best peer of the kvforge
# configuration's kind in that workload (kind_of).
BEST_OF_KIND = "best of its kind"

# Targets: (what, metric, kvforge benchmark, reference benchmark or None, comparison, threshold).
# A ratio is kvforge / reference; "<=" targets must stay at or under the threshold. The first
# ones are measured as users run stores (fresh_* workloads); "include_cost" is the compile time
# of (d) over (s) of tools/include_cost.sh, the same at every size.
TARGETS = [
    ("memory+hash random get >= 1.5x absl (plain get)", "ops", "fresh_get/memory.hash.single",
     "fresh_get/absl_flat_hash_map", ">=", 1.5),
    ("memory+hash random get >= 1.5x absl (into a buffer)", "ops", "fresh_get_buffer/memory.hash.single",
     "fresh_get_buffer/absl_flat_hash_map", ">=", 1.5),
    ("memory+hash random get >= 1.5x absl (view)", "ops", "fresh_get_view/memory.hash.single",
     "fresh_get_view/absl_flat_hash_map", ">=", 1.5),
    ("memory+hash get_many >= 1.2x its own loop of get into a buffer", "ops", "fresh_get_many/memory.hash.single",
     "fresh_get_buffer/memory.hash.single", ">=", 1.2),
    ("file_log+hash load (puts, flush, close) >= absl", "ops", "fresh_load/file_log.hash.buffered.single",
     "fresh_load/absl_flat_hash_map", ">=", 1.0),
    ("file_log+hash random get >= 1.5x LMDB (plain get)", "ops", "fresh_get/file_log.hash.buffered.single",
     "fresh_get/lmdb", ">=", 1.5),
    ("file_log+hash random get >= 1.5x LMDB (into a buffer)", "ops", "fresh_get_buffer/file_log.hash.buffered.single",
     "fresh_get_buffer/lmdb", ">=", 1.5),
    ("mmap_file+hash random get >= 2x LMDB (plain get)", "ops", "fresh_get/mmap_file.hash.buffered.single",
     "fresh_get/lmdb", ">=", 2.0),
    ("mmap_file+hash random get >= 2x LMDB (view)", "ops", "fresh_get_view/mmap_file.hash.buffered.single",
     "fresh_get_view/lmdb", ">=", 2.0),
    ("mmap_file+sorted full scan of a randomly filled store >= LMDB", "ops", "fresh_scan/mmap_file.sorted.buffered.single",
     "fresh_scan/lmdb", ">=", 1.0),
    ("file_log+hash peak memory of a load <= LevelDB's", "peak_mem", "fresh_load/file_log.hash.buffered.single",
     "fresh_load/leveldb", "<=", 1.0),
    ("file_log+hash bytes on disk after overwrites and compact() <= 1.2x live bytes", "disk_over_live",
     "fresh_overwrite/file_log.hash.buffered.single", None, "<=", 1.2),
    ("include + one file_log store, g++ -O0 <= 2x <string>, <optional>, <vector>, <map> alone", "include_cost",
     "(d) over (s)", None, "<=", 2.0),
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
    ("overwrite file_log+hash >= 1.2x the best file-backed hash", "ops", "overwrite/file_log.hash.buffered.single",
     "overwrite/" + BEST_OF_KIND, ">=", 1.2),
    ("overwrite file_log+hash thread_safe >= 1.2x the best file-backed hash", "ops",
     "overwrite/file_log.hash.buffered.thread_safe", "overwrite/" + BEST_OF_KIND, ">=", 1.2),
    ("overwrite file_log+sorted >= 1.2x the best ordered file-backed peer", "ops",
     "overwrite/file_log.sorted.buffered.single", "overwrite/" + BEST_OF_KIND, ">=", 1.2),
    ("overwrite file_log+sorted thread_safe >= 1.2x the best ordered file-backed peer", "ops",
     "overwrite/file_log.sorted.buffered.thread_safe", "overwrite/" + BEST_OF_KIND, ">=", 1.2),
    ("overwrite file_log+sorted: bytes on disk after automatic compaction <= 1.2x live bytes", "disk_over_live",
     "overwrite/file_log.sorted.buffered.single", None, "<=", 1.2),
    ("sequential load file_log+hash >= LMDB", "ops", "seq_put/file_log.hash.buffered.single", "seq_put/lmdb", ">=", 1.0),
    ("sequential load file_log+sorted >= LMDB", "ops", "seq_put/file_log.sorted.buffered.single", "seq_put/lmdb", ">=", 1.0),
    ("mmap_file+hash thread_safe random get >= 2x LMDB", "ops", "random_get/mmap_file.hash.buffered.thread_safe",
     "random_get/lmdb", ">=", 2.0),
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
    """The benchmarks matching pattern, grouped by engine in the binary's order, as two maps:
    the fresh_* ones (one process each) and the others (one process per engine)."""
    listed = output_of_env([binary, "--benchmark_list_tests", "--benchmark_filter=" + (pattern or ".")], env)
    fresh, shared = {}, {}
    for line in listed.splitlines():
        workload, engine = split_name(line)
        groups = fresh if workload.startswith("fresh_") else shared
        groups.setdefault(engine, []).append(workload + "/" + engine)
    return fresh, shared


def run_process(binary, env, names, results, context):
    """Runs the named benchmarks in one process, adding their entries to results; returns
    whether the process ran to its end."""
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
        print("bench_compare: %s %s" % (" ".join(names), reason), file=sys.stderr)
        return False
    context.update(report["context"])
    for entry in report["benchmarks"]:
        results["/".join(split_name(entry["name"]))] = entry
    return True


def run_benchmarks(binary, env, pattern, bench_dir):
    """Runs each engine's benchmarks in a process of its own, and each fresh_* benchmark in a
    process of its own, in the binary's order, on a directory the engine's fresh_* benchmarks
    share; returns (context, results by name)."""
    context, results = {}, {}
    fresh, shared = benchmarks_by_engine(binary, env, pattern)
    for engine, names in fresh.items():
        print("bench_compare: %s (fresh processes)" % engine, file=sys.stderr, flush=True)
        store_root = tempfile.mkdtemp(prefix="kvforge-fresh-", dir=bench_dir)
        try:
            for name in names:
                run_process(binary, dict(env, KVFORGE_BENCH_STORE_DIR=store_root), [name], results, context)
        finally:
            shutil.rmtree(store_root, ignore_errors=True)
    for engine, names in shared.items():
        print("bench_compare: " + engine, file=sys.stderr, flush=True)
        run_process(binary, env, names, results, context)
    return context, results


def include_cost():
    """Runs tools/include_cost.sh with g++: {"title": its first line, "rows": [(label, ms)]}."""
    process = subprocess.run([os.path.join(ROOT, "tools", "include_cost.sh"), "g++"], capture_output=True, text=True,
                             check=False)
    if process.returncode != 0:
        print("bench_compare: include_cost.sh failed: " + process.stderr.strip()[-300:], file=sys.stderr)
        return None
    lines = process.stdout.splitlines()
    rows = [(cells[1].strip(), int(cells[2])) for cells in (line.split("|") for line in lines)
            if len(cells) > 3 and cells[2].strip().isdigit()]
    return {"title": lines[0], "rows": rows}


def include_ratio(cost):
    """The compile time of (d), the include and one file_log store, over (s), four common headers."""
    if not cost:
        return None
    by_letter = {label[1]: ms for label, ms in cost["rows"] if label.startswith("(")}
    return by_letter["d"] / by_letter["s"] if by_letter.get("s") and "d" in by_letter else None


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

# What kind of store each peer is. A kvforge configuration is held against the best peer of
# its own kind: a file-backed hash against tkrzw's HashDBM, an ordered file-backed store
# against the ordered file-backed peers, an in-memory store against absl's hash map.
PEER_KINDS = {"absl_flat_hash_map": "in memory", "tkrzw_hash": "file-backed hash",
              "leveldb": "ordered, file-backed", "rocksdb": "ordered, file-backed", "lmdb": "ordered, file-backed",
              "sqlite": "ordered, file-backed", "tkrzw_tree": "ordered, file-backed"}


def is_peer(engine):
    return not re.match(r"^(memory|file_log|mmap_file)\.", engine) and engine not in DISK_BASELINES


def kind_of(engine):
    """The kind of store an engine is (PEER_KINDS), or None for a baseline of no kind."""
    if is_peer(engine):
        return PEER_KINDS.get(engine)
    parts = engine.split(".")
    if len(parts) < 2:
        return None
    if parts[0] == "memory":
        return "in memory"
    return "file-backed hash" if parts[1] == "hash" else "ordered, file-backed"


def best_of_kind(entries, engine, name, lower_is_better=False):
    """(peer, value) of the best peer of engine's kind among entries ({engine: entry}) by the
    metric name, or (None, None) when no peer of that kind ran the workload."""
    kind = kind_of(engine)
    found = [(peer, metric(entry, name)) for peer, entry in entries.items()
             if is_peer(peer) and kind is not None and kind_of(peer) == kind]
    found = [(peer, value) for peer, value in found if value]
    if not found:
        return None, None
    pick = min if lower_is_better else max
    return pick(found, key=lambda pair: pair[1])


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
        header = ["engine", "ops/s", "time", "cpu/wall", "allocs/op", "peak mem", "disk"]
        if workload in ("overwrite", "fresh_overwrite"):
            header.append("disk / live")
        if "sync_put" in workload:
            header += ["fdatasync limit", "of limit"]
        header += ["vs best of its kind"] + ["vs " + peer for peer, _ in peers]
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
                     "%.2f" % entry["cpu_per_wall"] if "cpu_per_wall" in entry else "—",
                     "%.3g" % entry["allocs_per_op"] if "allocs_per_op" in entry else "—",
                     human_bytes(entry.get("peak_mem")), human_bytes(entry.get("disk_bytes"))]
            if workload in ("overwrite", "fresh_overwrite"):
                cells.append("%.2f" % entry["disk_over_live"] if "disk_over_live" in entry else "—")
            if "sync_put" in workload:
                cells += [human(entry.get("fdatasync_limit")), "%.2fx" % entry.get("of_limit", 0)]
            best_peer, best_ops = best_of_kind(dict(rows), engine, "ops")
            cells.append("—" if is_peer(engine) or best_peer is None
                         else "%s %s" % (ratio_text(ops, best_ops), best_peer))
            for _, peer_ops in peers:
                cells.append("—" if is_peer(engine) else ratio_text(ops, peer_ops))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def measure_target(target, results, cost):
    """(measured value or None, met or None) of one target in one size's results."""
    what, name, ours, theirs, comparison, threshold = target
    if name == "include_cost":
        measured = include_ratio(cost)
    else:
        value = metric(results.get(ours), name)
        if theirs is not None and theirs.endswith("/" + BEST_OF_KIND):
            workload = theirs.split("/")[0]
            entries = {n.split("/")[1]: e for n, e in results.items() if n.split("/")[0] == workload}
            _, reference = best_of_kind(entries, ours.split("/")[1], name, comparison == "<=")
            measured = value / reference if value is not None and reference else None
        elif theirs is not None:
            reference = metric(results.get(theirs), name)
            measured = value / reference if value is not None and reference else None
        else:
            measured = value
    if measured is None:
        return None, None
    return measured, (measured >= threshold if comparison == ">=" else measured <= threshold)


def targets_table(runs, cost):
    """The targets with their measured ratios, a column per number of keys; and how many were met."""
    sizes = list(runs)
    lines = ["| target | kvforge | reference | " + " | ".join("%s keys" % thousands(k) for k in sizes) + " |",
             "|---|---|---|" + "---|" * len(sizes)]
    met_count, measured_count = 0, 0
    for target in TARGETS:
        what, name, ours, theirs, _, _ = target
        cells = []
        for size in sizes:
            measured, met = measure_target(target, runs[size]["results"], cost)
            if measured is None:
                cells.append("not measured")
                continue
            measured_count += 1
            met_count += met
            shown = ("%.2fx" % measured) if theirs is not None or name in ("include_cost", "disk_over_live") \
                else "%.4g" % measured
            cells.append(shown + ("" if met else " **missed**"))
        engine = ours.split("/")[1] if "/" in ours else "—"
        lines.append("| %s | %s | %s | %s |" % (what, engine, theirs or "—", " | ".join(cells)))
    return lines, met_count, measured_count


def thousands(keys):
    return "{:,}".format(int(keys))


# Workloads where less is better, plotted as the best peer's figure over kvforge's so that,
# as for speed, right of 1 is better than every peer: (label, workload, metric).
LOWER_IS_BETTER = [("fresh_load peak memory", "fresh_load", "peak_mem"),
                   ("fresh_overwrite disk after compact", "fresh_overwrite", "disk_over_live")]


def ratios_to_best_of_kind(results):
    """{row label: {kvforge configuration: ratio to the best peer of its kind}}, fresh workloads first."""
    workloads = []
    for name in results:
        workload = name.split("/")[0]
        if workload not in workloads and workload not in ("fdatasync_limit", "reopen"):
            workloads.append(workload)
    workloads.sort(key=lambda w: not w.startswith("fresh_"))
    rows = {}
    for workload in workloads:
        entries = {name.split("/")[1]: entry for name, entry in results.items() if name.split("/")[0] == workload}
        row = {}
        for engine, entry in entries.items():
            _, best = best_of_kind(entries, engine, "ops")
            if engine in PLOTTED_CONFIGS and best and metric(entry, "ops"):
                row[engine] = metric(entry, "ops") / best
        if row:
            rows[workload] = row
    for label, workload, name in LOWER_IS_BETTER:
        entries = {n.split("/")[1]: e for n, e in results.items() if n.split("/")[0] == workload}
        row = {}
        for engine, entry in entries.items():
            _, best = best_of_kind(entries, engine, name, lower_is_better=True)
            if engine in PLOTTED_CONFIGS and best and metric(entry, name):
                row[engine] = best / metric(entry, name)
        if row:
            rows[label] = row
    return rows


def plot(runs, path):
    """One panel per number of keys: for each workload, each plotted kvforge configuration's
    figure over the best peer's of its kind (log scale; right of 1 beats every peer of its kind)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError:
        print("bench_compare: matplotlib missing (apt-get install python3-matplotlib); no plot", file=sys.stderr)
        return False
    panels = [(size, ratios_to_best_of_kind(run["results"])) for size, run in runs.items()]
    labels = []
    for _, rows in panels:
        labels += [label for label in rows if label not in labels]
    if not labels:
        return False
    engines = [e for e in PLOTTED_CONFIGS if any(e in row for _, rows in panels for row in rows.values())]
    colors = {engine: plt.get_cmap("tab10")(index % 10) for index, engine in enumerate(engines)}
    markers = "os^Dv<>px*"
    figure, axes_list = plt.subplots(1, len(panels), figsize=(7 * len(panels) + 3, 0.32 * len(labels) + 1.6),
                                     sharey=True, squeeze=False)
    for axes, (size, rows) in zip(axes_list[0], panels):
        for y, label in enumerate(labels):
            if y % 2 == 0:
                axes.axhspan(y - 0.5, y + 0.5, color="0.95", zorder=0)
            for index, engine in enumerate(engines):
                ratio = rows.get(label, {}).get(engine)
                if ratio:
                    axes.plot(ratio, y + (index - len(engines) / 2 + 0.5) * 0.08, markers[index % len(markers)],
                              color=colors[engine], markersize=6, zorder=3)
        axes.axvline(1.0, color="black", linewidth=0.8)
        axes.set_xscale("log")
        axes.set_title("%s keys" % thousands(size))
        axes.set_xlabel("kvforge / best peer of its kind (right of 1: ahead of every such peer)")
        axes.grid(axis="x", which="both", alpha=0.3)
        axes.set_ylim(len(labels) - 0.5, -0.5)
    axes_list[0][0].set_yticks(range(len(labels)))
    axes_list[0][0].set_yticklabels(labels, fontsize=8)
    handles = [Line2D([], [], linestyle="", marker=markers[i % len(markers)], color=colors[e], label=e)
               for i, e in enumerate(engines)]
    figure.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    figure.tight_layout()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    return True


BEGIN_MARK = re.compile(r"^<!-- begin: ([\w.-]+) -->$")


def kept_sections(path):
    """The sections of an existing report that other scripts write: each from a line
    `<!-- begin: NAME -->` to its line `<!-- end: NAME -->`, in order, as text."""
    try:
        with open(path) as old:
            lines = old.read().splitlines()
    except OSError:
        return []
    sections, at = [], 0
    while at < len(lines):
        begin = BEGIN_MARK.match(lines[at])
        if begin:
            end_line = "<!-- end: %s -->" % begin.group(1)
            if end_line in lines[at + 1:]:
                end = lines.index(end_line, at + 1)
                sections.append("\n".join(lines[at:end + 1]))
                at = end + 1
                continue
            print("bench_compare: %s: no %s; that section is dropped" % (path, end_line), file=sys.stderr)
        at += 1
    return sections


def parse_sizes(text):
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of key counts, e.g. 300000,1000000")
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=parse_sizes, default=[300000, 1000000],
                        help="keys per engine, a comma-separated list (default 300000,1000000)")
    parser.add_argument("--key-size", type=int, default=16)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--sync-puts", type=int, default=1000, help="puts of the sync_each workloads (default 1000)")
    parser.add_argument("--read-ms", type=int, default=500,
                        help="least time each read workload is timed for, in whole passes (default 500)")
    parser.add_argument("--dir", default="/var/tmp", help="where engines write; a real disk (default /var/tmp)")
    parser.add_argument("--binary", help="a built kvforge_bench (default: build it in --build-dir)")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench"))
    parser.add_argument("--filter", default="", help="only benchmarks whose name matches this regex")
    parser.add_argument("--no-include-cost", action="store_true", help="do not time the include cost")
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    parser.add_argument("--runs-dir", default=os.path.join(ROOT, "docs", "benchmarks"),
                        help="where the run's per-workload tables go, as <date>.md (default docs/benchmarks)")
    parser.add_argument("--save-json", help="also write the run's raw results to this file")
    parser.add_argument("--from-json", help="write the report from results saved by --save-json, running nothing")
    args = parser.parse_args()

    if args.from_json:
        with open(args.from_json) as saved:
            run_record = json.load(saved)
        write_report(args, **run_record)
        return
    binary = args.binary or build(args.build_dir)
    started = time.monotonic()
    runs = {}
    for keys in args.keys:
        print("bench_compare: %d keys" % keys, file=sys.stderr, flush=True)
        env = dict(os.environ, KVFORGE_BENCH_KEYS=str(keys), KVFORGE_BENCH_KEY_SIZE=str(args.key_size),
                   KVFORGE_BENCH_VALUE_SIZE=str(args.value_size), KVFORGE_BENCH_SYNC_PUTS=str(args.sync_puts),
                   KVFORGE_BENCH_READ_MS=str(args.read_ms), KVFORGE_BENCH_DIR=args.dir)
        env.pop("KVFORGE_BENCH_STORE_DIR", None)
        context, results = run_benchmarks(binary, env, args.filter, args.dir)
        runs[str(keys)] = {"context": context, "results": results, "load": load_average()}
    cost = None if args.no_include_cost else include_cost()
    context = next(iter(runs.values()))["context"]
    run_record = {"runs": runs, "include_cost": cost, "date": datetime.date.today().isoformat(),
                  "minutes": (time.monotonic() - started) / 60, "machine_rows": machine(args.dir, binary, context)}
    if args.save_json:
        with open(args.save_json, "w") as out:
            json.dump(run_record, out, indent=1)
    write_report(args, **run_record)


def write_report(args, runs, include_cost, date, minutes, machine_rows):
    """Writes the summary (--out) and its plot, keeping the sections marked in it, and the
    run's per-workload tables to --runs-dir/<date>.md."""
    first = next(iter(runs.values()))["context"]
    sizes = ",".join(runs)
    key_size, value_size = int(first["key_size"]), int(first["value_size"])
    command = "tools/bench_compare.py --keys %s" % sizes
    if (key_size, value_size) != (16, 100):
        command += " --key-size %d --value-size %d" % (key_size, value_size)
    kept = kept_sections(args.out)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    runs_dir = os.path.abspath(getattr(args, "runs_dir", None) or os.path.join(out_dir, "benchmarks"))
    tables_path = os.path.join(runs_dir, "%s.md" % date)
    tables_link = os.path.relpath(tables_path, out_dir)
    summary_link = os.path.relpath(os.path.abspath(args.out), runs_dir)
    workload_set = "%s keys of %d bytes, values of %d bytes (random letters, so block compression finds nothing), " \
        "%s puts in the sync_each workloads." % (" and ".join(thousands(k) for k in runs), key_size, value_size,
                                                 first.get("sync_puts"))
    lines = [
        "# Benchmarks",
        "",
        "Generated by `%s` (%s, %.1f minutes). Every figure below comes from that one run." %
        (command, date, minutes),
        "Each engine ran in a process of its own.",
        "Each workload as users run it (fresh_*) ran in a process of its own that opened the store the previous one "
        "left.",
        "On a shared virtual machine the ratios move from run to run, some by a third or more.",
        "A target just met or just missed here may flip in the next run.",
        "",
        workload_set,
        "The tables of every workload, with each engine's figures, are in [%s](%s)." % (tables_link, tables_link),
        "",
    ]
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.splitext(args.out)[0] + ".png"
    if plot(runs, png):
        lines += ["![each kvforge configuration over the best peer of its kind, per workload](%s)" %
                  os.path.basename(png), "",
                  "Each row is a workload, each marker a kvforge configuration's figure over that of the best peer "
                  "of its kind in that workload: operations per second, or for peak memory and disk the peer's "
                  "bytes over kvforge's. Kinds: file-backed hash stores against tkrzw's HashDBM; ordered "
                  "file-backed stores against LevelDB, RocksDB, LMDB, SQLite and tkrzw's TreeDBM; in-memory "
                  "stores against absl's flat_hash_map. The scale is logarithmic: left of the line at 1, a user "
                  "of that kind of store would do better with that peer.", ""]
    target_lines, met, measured = targets_table(runs, include_cost)
    lines += ["## Targets", "", "Ratios are kvforge / reference, both measured in this run. %d of %d met." %
              (met, measured), ""] + target_lines
    if include_cost:
        lines += ["", "## Include cost", "", include_cost["title"], "", "| translation unit | g++ -O0 ms |", "|---|---:|"]
        lines += ["| %s | %d |" % tuple(row) for row in include_cost["rows"]]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += ["| %s | %s |" % tuple(row) for row in machine_rows]
    lines += ["| load at each size's end | %s |" % "; ".join("%s keys: %s" % (thousands(k), run.get("load", "?"))
                                                           for k, run in runs.items())]
    lines += ["", "## Engines, versions and settings", "",
              "Every peer runs at its defaults except its durability settings and what it needs to run "
              "at all. *buffered* is each engine's non-syncing mode, *sync_each* makes every put durable "
              "before it returns. Bulk loads into SQLite and LMDB commit one transaction per 1,000 puts "
              "in buffered mode and one per put in sync_each mode.", "",
              "| engine | version | settings |", "|---|---|---|"]
    seen_kvforge = False
    for key in sorted(first):
        if not key.startswith("version."):
            continue
        engine = key[len("version."):]
        settings = first.get("settings." + engine, "")
        if not is_peer(engine):
            if seen_kvforge:
                continue
            seen_kvforge, engine = True, "kvforge (every configuration)"
        lines.append("| %s | %s | %s |" % (engine, first[key], settings.replace("|", "\\|")))
    lines += ["", "## Regenerating", "",
              "`%s` builds `bench/kvforge_bench` (CMake, Release, in `build/bench/`) and runs it at each number "
              "of keys." % command,
              "It rewrites this file and `benchmarks.png`, and writes the tables of every workload to "
              "`docs/benchmarks/<date>.md`.",
              "It keeps the sections of this file marked `<!-- begin: NAME -->` ... `<!-- end: NAME -->`.",
              "Engines write under `--dir` (default `/var/tmp`), which must be on a real disk.",
              "`--save-json FILE` keeps the raw results, and `--from-json FILE` writes the report from them "
              "without running anything."]

    tables = ["# Benchmarks of %s: every workload" % date, "",
              "Generated by `%s` (%s, %.1f minutes), the run that [%s](%s) summarises." %
              (command, date, minutes, summary_link, summary_link),
              "Its machine, engines and settings are listed there.", "", workload_set]
    for keys, run in runs.items():
        results = run["results"]
        limit = metric(results.get("fdatasync_limit/append"), "ops")
        tables += ["", "## Workloads at %s keys" % thousands(keys), ""]
        if limit:
            tables += ["**The disk's limit for durable appends** (pwrite of one record after the last, then "
                       "fdatasync, repeated): **%s appends/s**; into a preallocated file, where fdatasync has no "
                       "size to commit: %s writes/s." %
                       (human(limit), human(metric(results.get("fdatasync_limit/preallocated"), "ops"))), ""]
        tables += ["ops/s is operations per second of wall time; cpu/wall is the process's CPU time over the "
                   "wall time of the timed part (below 1 for a workload of one thread in memory, it waited for a "
                   "core that other processes held, and its ops/s is low by about that factor); "
                   "allocs/op counts heap allocations (malloc "
                   "and friends, so C++ and C engines alike) during the timed part; peak mem is the peak "
                   "resident memory above that at the start of the benchmark, up to the end of its last timed "
                   "part (the untimed read-back of a sample of keys after a load is left out); disk is the space the "
                   "engine's files take after flush() (reopen and the fresh_ workloads: after closing). "
                   "Ratios are the kvforge configuration's ops/s over each peer's; \"vs best of its kind\" "
                   "is over the best peer of the same kind (file-backed hash, ordered and file-backed, in "
                   "memory), named after the ratio.", ""]
        tables += workload_tables(results)

    text = "\n".join(lines).rstrip() + "\n"
    if kept:
        text += "\n" + "\n\n".join(kept) + "\n"
    with open(args.out, "w") as out:
        out.write(text)
    os.makedirs(runs_dir, exist_ok=True)
    with open(tables_path, "w") as out:
        out.write("\n".join(tables).rstrip() + "\n")
    print("bench_compare: wrote %s and %s (%.1f minutes)" % (args.out, tables_path, minutes), file=sys.stderr)


if __name__ == "__main__":
    main()
