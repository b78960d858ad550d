#!/usr/bin/env python3
"""End-to-end test of the kvforge tool on stores in a Redis Cluster: runs the built binary
with redis_cluster:SEEDS/NAME in place of a directory and checks stdout, stderr and exit
codes.

    kvforge_tool_cluster_test.py KVFORGE

The cluster is the one KVFORGE_REDIS_SEEDS names (tools/test.sh redis starts it with
tools/redis_cluster.sh). Each test uses store names of its own, with this process's id.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kvforge_tool_test import dump_of

KVFORGE = ""
SEEDS = ""
WORK = Path()


def kvforge(*args, stdin=b""):
    """Runs the tool; returns (exit code, stdout bytes, stderr text)."""
    done = subprocess.run([KVFORGE, *args], input=stdin, capture_output=True, cwd=WORK, timeout=300)
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")


def expect(result, code, out=None, err=None):
    got, stdout, stderr = result
    shown = f"exit {got}\n--- stdout\n{stdout!r}\n--- stderr\n{stderr}"
    assert got == code, f"expected exit {code}, got {shown}"
    for part in [out] if isinstance(out, str) else out or []:
        assert part.encode() in stdout, f"stdout lacks {part!r}: {shown}"
    for part in [err] if isinstance(err, str) else err or []:
        assert part in stderr, f"stderr lacks {part!r}: {shown}"
    return stdout


def cluster_store(name):
    return f"redis_cluster:{SEEDS}/tool-{os.getpid()}-{name}"


def records_of(dump):
    """The records of a dump, sorted (a cluster gives them in no order), each deadline in whole
    milliseconds (what a cluster keeps of it)."""
    records = []
    for line in dump.split(b"\n"):
        fields = line.split(b"\t")
        if len(fields) == 3:
            fields[2] = int(fields[2]) // 1_000_000
        if len(fields) > 1:
            records.append(tuple(fields))
    return sorted(records)


def test_put_get_del_stat_on_a_cluster_store():
    store = cluster_store("points")
    expect(kvforge("put", store, "alice", "admin"), 0)
    expect(kvforge("put", store, "bob", "dev", "--as", "sync_each"), 0)
    assert expect(kvforge("get", store, "alice"), 0) == b"admin\n"
    expect(kvforge("get", store, "carol"), 1, err="no key 'carol'")
    expect(kvforge("stat", store), 0, ["composition  redis_cluster,hash_index", "keys         2\n"])
    expect(kvforge("verify", store), 0, "2 records checked, 0 damaged")
    expect(kvforge("compact", store), 0, "nothing to compact")
    expect(kvforge("del", store, "alice"), 0)
    expect(kvforge("get", store, "alice"), 1)
    expect(kvforge("del", store, "alice"), 1)
    expect(kvforge("scan", store), 3, err=["no order across keys", "kvforge dump"])
    expect(kvforge("del", store, "bob"), 0)


def test_dump_load_and_convert_between_a_directory_and_the_cluster():
    source = str(WORK / "source")
    expect(kvforge("put", source, "token", "alice", "--ttl", "3600", "--as", "file_log,sorted,expiring"), 0)
    expiry = kvforge("stat", source)[1].split(b"expiry       ")[1].split(b"\n")[0]
    # 2,000 keys of many hash slots, more than one batch of the tool's could hold in one slot.
    many = [(b"key %05d" % i, b"value %d" % i) for i in range(2000)]
    expect(kvforge("load", source, stdin=dump_of(many, expiry=expiry)), 0, "loaded 2000 records")
    dumped = expect(kvforge("dump", source), 0)

    store = cluster_store("loaded")
    expect(kvforge("load", store, stdin=dumped), 0, "loaded 2001 records")
    assert records_of(expect(kvforge("dump", store), 0)) == records_of(dumped)

    converted = cluster_store("converted")
    expect(kvforge("convert", source, converted, "--as", "buffered"), 0,
           ["converted 2001 records", "2001 records checked, 0 damaged"])
    assert records_of(expect(kvforge("dump", converted), 0)) == records_of(dumped)
    expect(kvforge("convert", source, converted, "--as", "buffered"), 3, err="holds records already")

    back = str(WORK / "back")
    expect(kvforge("convert", converted, back, "--as", "file_log,sorted"), 0, "converted 2001 records")
    assert records_of(expect(kvforge("dump", back), 0)) == records_of(dumped), "every record and its deadline"
    assert len(records_of(dumped)) == 2001 and sum(len(r) == 3 for r in records_of(dumped)) == 1


def test_cluster_stores_refuse_what_they_cannot_do():
    store = cluster_store("refusals")
    expect(kvforge("put", store, "k", "v"), 0)
    expect(kvforge("backup", store, str(WORK / "backup")), 3, err="no files to back up")
    expect(kvforge("repair", store), 0, "nothing to repair: 1 record checked")
    expect(kvforge("dump", store, "--skip-damaged"), 3, err="no files to read past damage in")
    expect(kvforge("put", store, "k", "v", "--as", "file_log"), 2, err="file_log")
    expect(kvforge("get", "redis_cluster:127.0.0.1:1/x", "k"), 3, err="127.0.0.1:1")
    expect(kvforge("del", store, "k"), 0)


def main():
    global KVFORGE, SEEDS, WORK
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    KVFORGE = os.path.abspath(sys.argv[1])
    SEEDS = os.environ.get("KVFORGE_REDIS_SEEDS", "")
    if not SEEDS:
        sys.exit("KVFORGE_REDIS_SEEDS is not set: start a cluster with tools/redis_cluster.sh (tools/test.sh redis)")
    with tempfile.TemporaryDirectory(prefix="kvforge-tool-cluster-") as work:
        WORK = Path(work)
        tests = [(name, f) for name, f in globals().items() if name.startswith("test_") and callable(f)]
        failed = 0
        for name, test in tests:
            started = time.monotonic()
            try:
                test()
                print(f"ok    {name} ({time.monotonic() - started:.1f} s)")
            except Exception as e:  # an assertion, or a test that could not go on
                failed += 1
                print(f"FAIL  {name}: {type(e).__name__}: {e}")
        print(f"kvforge_tool_cluster_test.py: {len(tests) - failed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
