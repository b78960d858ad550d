#!/usr/bin/env python3
"""End-to-end test of the kvforge command-line tool: runs the built binary with arguments
and checks its stdout, stderr and exit code, as a user and a script see them.

    kvforge_tool_test.py KVFORGE MAKE_STORES [TEST_NAME...]

KVFORGE is the tool, MAKE_STORES the helper that writes stores of other codecs
(tests/tool/make_stores.cpp). With names, only those tests run. The stores go in a
temporary directory under KVFORGE_TEST_TMPDIR, /dev/shm or the system's, removed after.
"""

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KVFORGE = ""
MAKE_STORES = ""
WORK = Path()


class Result:
    def __init__(self, completed):
        self.code = completed.returncode
        self.out = completed.stdout
        self.err = completed.stderr

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def error(self):
        return self.err.decode("utf-8", "replace")

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.text}\n--- stderr\n{self.error}"


def kvforge(*args, stdin=b""):
    """Runs the tool with args (str or bytes) and stdin, with stdout and stderr piped."""
    completed = subprocess.run([KVFORGE, *args], input=stdin, capture_output=True, cwd=WORK, timeout=300)
    return Result(completed)


def expect(result, code, out=None, err=None):
    """Checks the exit code, and that stdout/stderr contain the given texts."""
    assert result.code == code, f"expected exit {code}, got {result!r}"
    for part in [out] if isinstance(out, str) else out or []:
        assert part in result.text, f"stdout lacks {part!r}: {result!r}"
    for part in [err] if isinstance(err, str) else err or []:
        assert part in result.error, f"stderr lacks {part!r}: {result!r}"
    return result


def fresh(name):
    """A path in the work directory that does not exist yet."""
    path = WORK / name
    shutil.rmtree(path, ignore_errors=True)
    return str(path)


def data_file(store):
    files = sorted(Path(store).glob("data-*.kvlog"))
    assert len(files) == 1, files
    return files[0]


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as the dump's end line carries it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# The codec fingerprint of std::string keys and values ("bytes", "bytes"), as files carry it.
BYTES_FINGERPRINT = b"9df4e39e737e0040"


def dump_of(records, expiry=b"none", version=2):
    """A dump of string keys and values, written as docs/dump-format.md says (no escapes
    needed): records are (key, value) or (key, value, deadline in nanoseconds since the Unix
    epoch). Version 1 has no expiry line and no deadlines."""
    body = b"".join(b"\t".join(record[:2] + tuple(b"%d" % d for d in record[2:])) + b"\n" for record in records)
    count = body.count(b"\n")
    header = b"kvforge-dump %d\nkey_codec bytes\nvalue_codec bytes\ncodec_fingerprint %s\n" % (version, BYTES_FINGERPRINT)
    if version >= 2:
        header += b"expiry " + expiry + b"\n"
    return header + b"records\n" + body + b"end %d %08x\n" % (count, crc32c(body))


def numbered(count):
    """Records k000, k001, ... whose values are their numbers."""
    return [(b"k%03d" % i, b"%d" % i) for i in range(count)]


def deadlines_of(store):
    """{key: deadline in nanoseconds since the Unix epoch, or None} of every key of an expiring
    store, as the library's expiry() gives them (make_stores expiry)."""
    listed = subprocess.run([MAKE_STORES, "expiry", store], capture_output=True, check=True, timeout=300)
    deadlines = {}
    for line in listed.stdout.decode().splitlines():
        key, deadline = line.split("\t")
        deadlines[key] = None if deadline == "none" else int(deadline)
    return deadlines


# --- the tests -------------------------------------------------------------------------------

COMMANDS = ["stat", "get", "put", "del", "scan", "dump", "load", "verify", "compact", "convert", "repair", "backup"]


def test_help_for_every_command():
    overview = expect(kvforge("--help"), 0, ["usage: kvforge COMMAND", "exit status: 0 success, 1 key absent"])
    for command in COMMANDS:
        assert f"  {command} " in overview.text, command
        expect(kvforge(command, "--help"), 0, f"usage: kvforge {command}")
    expect(kvforge(), 2, err="usage: kvforge COMMAND")


def test_usage_errors_exit_2_with_the_usage_line():
    expect(kvforge("frobnicate"), 2, err="unknown command 'frobnicate'")
    expect(kvforge("get", "x"), 2, err=["kvforge get: missing arguments: expected DIR KEY", "usage: kvforge get DIR KEY"])
    expect(kvforge("scan", "x", "--sideways"), 2, err="unknown option --sideways")
    expect(kvforge("scan", "x", "--limit"), 2, err="--limit needs a value")
    expect(kvforge("scan", "x", "--limit", "many"), 2, err="--limit takes a number of records")
    expect(kvforge("scan", "x", "--prefix", "a", "--from", "b"), 2, err="exclude each other")
    expect(kvforge("convert", "a", "b"), 2, err="--as SPEC is needed")
    expect(kvforge("backup", "a"), 2, err="DIR DEST")


def test_put_get_del_and_their_exit_codes():
    store = fresh("users")
    expect(kvforge("put", store, "alice", "admin"), 3, err=[store, "no kvforge store here", "kvforge load"])
    expect(kvforge("put", store, "alice", "admin", "--as", "file_log,sorted"), 0)
    expect(kvforge("put", store, "bob", "-", stdin=b"dev\n"), 0)
    assert kvforge("get", store, "alice").out == b"admin\n"
    assert kvforge("get", store, "bob").out == b"dev\\n\n"  # every byte of stdin, the newline escaped
    assert kvforge("get", store, "bob", "--raw").out == b"dev\n"
    expect(kvforge("get", store, "carol"), 1, err=f"no key 'carol' in {store}")
    assert kvforge("get", store, "carol").out == b""
    expect(kvforge("del", store, "alice"), 0)
    expect(kvforge("del", store, "alice"), 1, err="no key 'alice'")
    expect(kvforge("put", store, "--", "--dashes", "yes"), 0)
    assert kvforge("get", store, "--", "--dashes").out == b"yes\n"
    expect(kvforge("put", store, "k", "v", "--as", "memory"), 2, err="memory has no files")
    expect(kvforge("put", store, "k", "v", "--as", "file_log:elsewhere"), 2, err="spec words only")
    expect(kvforge("stat", fresh("nothing")), 3, err="no kvforge store here")


def test_scan_orders_filters_and_limits():
    store = fresh("scan")
    for key in ["apple", "apricot", "banana", "blueberry", "cherry"]:
        expect(kvforge("put", store, key, key.upper(), "--as", "file_log,hash"), 0)
    # A hash-index store scans too: the tool opens every store with a sorted index.
    assert kvforge("scan", store).text.splitlines() == [
        "apple\tAPPLE", "apricot\tAPRICOT", "banana\tBANANA", "blueberry\tBLUEBERRY", "cherry\tCHERRY"]
    assert kvforge("scan", store, "--prefix", "ap", "--keys-only").text.splitlines() == ["apple", "apricot"]
    assert kvforge("scan", store, "--from", "b", "--to", "c", "--keys-only").text.splitlines() == [
        "banana", "blueberry"]
    assert kvforge("scan", store, "--from", "blue", "--keys-only").text.splitlines() == ["blueberry", "cherry"]
    assert kvforge("scan", store, "--reverse", "--limit", "2", "--keys-only").text.splitlines() == [
        "cherry", "blueberry"]
    assert kvforge("scan", store, "--reverse", "--from", "apricot", "--keys-only").text.splitlines() == [
        "cherry", "blueberry", "banana", "apricot"]
    assert kvforge("scan", store, "--reverse", "--from", "b", "--to", "c", "--keys-only").text.splitlines() == [
        "blueberry", "banana"]
    assert kvforge("scan", store, "--reverse", "--prefix", "ap", "--keys-only").text.splitlines() == [
        "apricot", "apple"]
    assert kvforge("scan", store, "--limit", "1").text == "apple\tAPPLE\n"
    assert kvforge("scan", store, "--prefix", "6368", "--hex").text == "636865727279\t434845525259\n"


def test_binary_keys_and_values_print_safely():
    store = fresh("binary")
    expect(kvforge("put", store, "6b00ff", "1b5b324a0a0d09", "--hex", "--as", "file_log"), 0)
    scanned = kvforge("scan", store)
    assert scanned.out == b"k\\x00\\xff\t\\x1b[2J\\n\\r\\t\n", scanned
    assert all(byte >= 0x20 or byte in (0x09, 0x0A) for byte in scanned.out)
    assert kvforge("get", store, "6b00ff", "--hex").out == b"1b5b324a0a0d09\n"
    assert kvforge("get", store, "6b00ff", "--hex", "--raw").code == 2
    expect(kvforge("get", store, "6b0", "--hex"), 2, err="KEY hex needs two digits per byte, and '6b0' has an odd number")
    expect(kvforge("get", store, "6bzz", "--hex"), 2, err="KEY '6bzz' is not hex (digits 0-9 and a-f)")


def test_dump_and_load_round_trip_every_byte_value():
    store = fresh("bytes")
    records = {}
    for b in range(256):
        key = bytes([b])
        value = bytes((b + i) % 256 for i in range(256))
        records[key] = value
    records[b""] = b""  # the empty key and the empty value
    records[b"\\x41"] = b"a backslash, then x41, not the byte A"
    for key, value in records.items():
        expect(kvforge("put", store, key.hex(), value.hex(), "--hex", "--as", "file_log,sorted"), 0)
    dumped = expect(kvforge("dump", store), 0)
    assert dumped.err == b"", "no progress when stderr is not a terminal"
    lines = dumped.out.split(b"\n")
    assert lines[0] == b"kvforge-dump 2" and lines[4] == b"expiry none" and lines[5] == b"records", lines[:6]
    assert all(line.count(b"\t") == 1 for line in lines[6:-2]) and lines[-2].startswith(b"end 258 "), lines[-2]
    assert all(byte < 0x7F and (byte >= 0x20 or byte in (0x09, 0x0A)) for byte in dumped.out), "dump is ASCII"

    copy = fresh("bytes-copy")
    loaded = expect(kvforge("load", copy, "--as", "mmap_file,hash,sync_each", stdin=dumped.out), 0,
                    "loaded 258 records")
    assert loaded.err == b""
    for key, value in records.items():
        got = kvforge("get", copy, key.hex(), "--hex")
        assert got.code == 0 and bytes.fromhex(got.text.strip()) == value, (key, got)
    got = kvforge("get", copy, "ff", "--hex")
    assert kvforge("get", copy, "ff", "--hex").out.strip() == records[b"\xff"].hex().encode()
    assert kvforge("dump", copy).out == dumped.out, "the dump of the loaded store is the same, byte for byte"


def test_load_refuses_damaged_dumps():
    store = fresh("dumped")
    expect(kvforge("put", store, "a", "1", "--as", "file_log"), 0)
    expect(kvforge("put", store, "b", "2"), 0)
    dump = kvforge("dump", store).out
    cut = dump[: dump.rindex(b"end ")]
    expect(kvforge("load", fresh("cut"), stdin=cut), 3, err=["cut short", "2 records were loaded before it"])
    changed = dump.replace(b"a\t1", b"a\t9")
    expect(kvforge("load", fresh("changed"), stdin=changed), 3, err="changed or cut on the way")
    expect(kvforge("load", fresh("none"), stdin=b"hello\n"), 3, err="not a kvforge dump")
    expect(kvforge("load", fresh("bad-escape"), stdin=dump.replace(b"a\t1", b"a\t\\q")), 3, err="unknown escape \\q")
    expect(kvforge("load", fresh("later"), stdin=dump.replace(b"kvforge-dump 2", b"kvforge-dump 3")), 3,
           err="a kvforge dump of version 3, and this kvforge reads versions 1 to 2")
    no_expiry = dump.replace(b"expiry none\n", b"")
    expect(kvforge("load", fresh("no-expiry"), stdin=no_expiry), 3, err="expected 'expiry'")
    bad_deadline = dump_of([(b"a", b"1", 5)]).replace(b"a\t1\t5", b"a\t1\tsoon")
    expect(kvforge("load", fresh("bad-deadline"), stdin=bad_deadline), 3, err="must be a deadline, in nanoseconds")


def test_a_dump_of_version_1_loads():
    store = fresh("version-1")
    expect(kvforge("load", store, stdin=dump_of([(b"a", b"1"), (b"b", b"2")], version=1)), 0, "loaded 2 records")
    assert kvforge("scan", store).text.splitlines() == ["a\t1", "b\t2"]
    assert "expiry       none\n" in kvforge("stat", store).text


def test_dump_load_and_convert_keep_each_keys_deadline(stores):
    source = fresh("deadlines")
    expect(kvforge("put", source, "token", "alice", "--ttl", "3600", "--as", "file_log,sorted,expiring"), 0)
    expect(kvforge("put", source, "day", "bob", "--ttl", "86400"), 0)
    expect(kvforge("put", source, "forever", "carol"), 0)
    deadlines = deadlines_of(source)
    assert deadlines["forever"] is None and deadlines["token"] < deadlines["day"], deadlines

    dumped = expect(kvforge("dump", source), 0).out
    expiry = kvforge("stat", source).text.split("expiry       ")[1].split("\n")[0].encode()
    assert expiry.startswith(b"system_clock:"), expiry
    assert dumped == dump_of([(b"day", b"bob", deadlines["day"]), (b"forever", b"carol"),
                              (b"token", b"alice", deadlines["token"])], expiry=expiry)

    # A new store is made with expiry, and each key has its deadline again.
    loaded = fresh("deadlines-loaded")
    expect(kvforge("load", loaded, stdin=dumped), 0, "loaded 3 records")
    assert deadlines_of(loaded) == deadlines
    assert kvforge("dump", loaded).out == dumped
    hashed = fresh("deadlines-hash")
    expect(kvforge("load", hashed, "--as", "file_log,hash,expiring", stdin=dumped), 0, "loaded 3 records")
    assert deadlines_of(hashed) == deadlines

    converted = fresh("deadlines-converted")
    expect(kvforge("convert", source, converted, "--as", "file_log,hash"), 0,
           ["converted 3 records", "3 records checked, 0 damaged"])
    assert deadlines_of(converted) == deadlines
    assert "expiry       system_clock:" in kvforge("stat", converted).text

    # A deadline that has passed stores nothing; a store without expiry refuses deadlines.
    past = fresh("deadlines-past")
    expect(kvforge("load", past, stdin=dump_of([(b"old", b"x", 1), (b"new", b"y")], expiry=expiry)), 0)
    assert kvforge("scan", past).text.splitlines() == ["new\ty"]
    plain = fresh("deadlines-plain")
    expect(kvforge("put", plain, "k", "v", "--as", "file_log"), 0)
    expect(kvforge("load", plain, stdin=dumped), 3, err=["a batch's put() with a deadline", "'expiring' in its spec"])
    assert kvforge("scan", plain).text.splitlines() == ["k\tv"], "the refused batch wrote nothing"

    # A key past its deadline is not dumped, nor converted ("expired" in make_stores' sessions).
    sessions = str(stores / "sessions")
    dumped_keys = [line.split(b"\t")[0] for line in kvforge("dump", sessions).out.split(b"\n")[6:-2]]
    assert b"live" in dumped_keys and b"expired" not in dumped_keys, dumped_keys
    sessions_copy = fresh("sessions-copy")
    expect(kvforge("convert", sessions, sessions_copy, "--as", "file_log,sorted"), 0)
    assert deadlines_of(sessions_copy) == deadlines_of(sessions)
    assert "expired" not in deadlines_of(sessions_copy)


def test_stores_of_other_codecs_show_decoded_or_hex(stores):
    numbers = str(stores / "numbers")
    stat = expect(kvforge("stat", numbers), 0, ["key codec    uint64.be", "value codec  float64.be",
                                                   "mmap_file,sorted_index,sync_each (as its MANIFEST says)",
                                                   "keys         100"])
    assert kvforge("scan", numbers, "--from", "20", "--to", "50").text.splitlines() == [
        "20\t0.5", "30\t0.75", "40\t1"], stat
    assert kvforge("get", numbers, "1000").out == b"25\n"
    expect(kvforge("put", numbers, "5", "-0.125"), 0)
    assert kvforge("scan", numbers, "--limit", "2").text.splitlines() == ["5\t-0.125", "10\t0.25"]
    expect(kvforge("get", numbers, "ten"), 2, err=["KEY 'ten' is not an unsigned integer of 64 bits", "--hex"])
    expect(kvforge("put", numbers, "7", "seven"), 2, err="VALUE 'seven' is not a number")

    signed = str(stores / "signed")
    expect(kvforge("stat", signed), 0, ["key codec    int32.be", "not recorded: a format 1 store has no MANIFEST"])
    assert kvforge("scan", signed).text.splitlines() == ["-1000\tv-1000", "-5\tv-5", "3\tv3", "70000\tv70000"]

    points = str(stores / "points")
    expect(kvforge("stat", points), 0, ["key codec    ?", "value codec  ?"])
    assert kvforge("scan", points).text.splitlines() == ["00010002\t6f6e652d74776f", "01020000\t666172"]
    dumped = kvforge("dump", points)
    copy = fresh("points-copy")
    expect(kvforge("load", copy, stdin=dumped.out), 0)
    assert kvforge("dump", copy).out == dumped.out


def test_verify_and_repair_a_damaged_store():
    for with_hint in (True, False):
        store = fresh(f"damaged-{with_hint}")
        expect(kvforge("put", store, "first", "1", "--as", "file_log"), 0)
        for i in range(40):
            expect(kvforge("put", store, f"key{i:02}", f"value {i}" * 3), 0)
        expect(kvforge("verify", store), 0, f"{store}: 41 records checked, 0 damaged")
        log = data_file(store)
        if not with_hint:
            # Without a hint the open reads the whole log and refuses the damage: verify
            # and repair read the files themselves.
            for hint in Path(store).glob("*.kvhint"):
                hint.unlink()
        flip_byte(log, log.stat().st_size // 2)
        verified = expect(kvforge("verify", store), 3, ["damaged: ", str(log), " at offset ", "1 damaged"],
                          ["is damaged", f"kvforge repair {store}"])
        if not with_hint:
            expect(kvforge("get", store, "first"), 3, err=["damaged record at offset", f"kvforge repair {store}"])
        repaired = expect(kvforge("repair", store), 0,
                          ["found 1 damaged place; every intact record is kept:", str(log), "kept 40 keys"])
        expect(kvforge("verify", store), 0, "40 records checked, 0 damaged")
        assert kvforge("get", store, "first").out == b"1\n", (verified, repaired)
        expect(kvforge("repair", store), 0, "nothing to repair")


def test_compact_reclaims_dead_space():
    store = fresh("compact")
    for _ in range(20):
        expect(kvforge("put", store, "same-key", "x" * 1000, "--as", "file_log"), 0)
    before = kvforge("stat", store).text
    assert "dead bytes   0 " not in before, before
    expect(kvforge("compact", store), 0, "compacted")
    after = kvforge("stat", store).text
    assert "dead bytes   0 (0 B)" in after and "keys         1" in after, after


def test_convert_makes_a_new_store_of_another_composition():
    source = fresh("convert-source")
    expect(kvforge("load", source, "--as", "file_log,hash", stdin=dump_of(numbered(100))), 0)
    target = fresh("convert-target")
    expect(kvforge("convert", source, target, "--as", "mmap_file,sorted,sync_each"), 0,
           ["converted 100 records", "(mmap_file,sorted_index,sync_each)", "100 records checked, 0 damaged"])
    assert kvforge("dump", target).out == kvforge("dump", source).out
    expect(kvforge("convert", source, target, "--as", "file_log"), 3, err="exists and is not empty")
    expect(kvforge("convert", source, fresh("t2"), "--as", "memory"), 2, err="memory has no files")
    expect(kvforge("convert", source, fresh("t3"), "--as", "file_log,sortd"), 2, err="unknown word 'sortd'")


def test_convert_into_a_store_over_tables_and_back():
    source = fresh("tables-source")
    records = [(b"k%03d" % i, b"v" * (i % 40)) for i in range(300)]
    expect(kvforge("load", source, "--as", "file_log,sorted", stdin=dump_of(records)), 0)
    tables = fresh("tables")
    expect(kvforge("convert", source, tables, "--as", "file_log,disk_index,zstd"), 0,
           ["converted 300 records", "(file_log,disk_index,buffered)", "300 records checked, 0 damaged"])
    stat = expect(kvforge("stat", tables), 0, ["composition  file_log,disk_index,buffered (as its MANIFEST says)",
                                                "format       3", "keys         300"])
    # The writer's next open flushes its log into a table, and compact merges the tables
    # into one of the deepest level.
    expect(kvforge("compact", tables), 0, "compacted")
    expect(kvforge("stat", tables), 0, ["tables       1 (level ", "keys         300"])
    assert kvforge("dump", tables).out == kvforge("dump", source).out, stat.text
    expect(kvforge("get", tables, "k007"), 0, "vvvvvvv")
    expect(kvforge("scan", tables, "--from", "k290", "--keys-only", "--reverse", "--limit", "2"), 0,
           out="k299\nk298\n")
    expect(kvforge("verify", tables), 0, "300 records checked")
    back = fresh("tables-back")
    expect(kvforge("convert", tables, back, "--as", "mmap_file,hash"), 0, "converted 300 records")
    assert kvforge("dump", back).out == kvforge("dump", source).out


def tables_with_a_damaged_block(name):
    """A store over tables of 3,000 records in one table, a byte of one of its blocks
    flipped; the store and the table."""
    store = fresh(name)
    expect(kvforge("load", store, "--as", "file_log,disk_index", stdin=dump_of(numbered(3000))), 0)
    expect(kvforge("compact", store), 0, "compacted")
    tables = sorted(Path(store).glob("data-*.kvtable"))
    assert len(tables) == 1, tables
    flip_byte(tables[0], tables[0].stat().st_size // 2)
    return store, tables[0]


def test_a_damaged_block_of_a_store_over_tables_is_listed_and_repaired():
    store, table = tables_with_a_damaged_block("damaged-block")
    expect(kvforge("verify", store), 3, ["damaged: ", str(table), "fails its checksum", "1 damaged"])
    # dump --skip-damaged goes on past the block: every record but the block's.
    skipped = expect(kvforge("dump", store, "--skip-damaged"), 3, err=["skipped 1 damaged place", str(table)])
    dumped = skipped.out.count(b"\n")
    repaired = expect(kvforge("repair", store), 0, ["found 1 damaged place", str(table)])
    kept = int(re.search(rb"kept (\d+) keys", repaired.out).group(1))
    assert 2500 < kept < 3000, repaired
    expect(kvforge("verify", store), 0, f"{kept} records checked, 0 damaged")
    expect(kvforge("stat", store), 0, f"keys         {kept}")
    assert kvforge("dump", store).out.count(b"\n") == dumped


def test_repair_says_what_is_left_when_salvage_cannot_get_past_the_damage():
    # Tables of table format 1 do not record their levels: a lost TABLES cannot be rebuilt.
    store = fresh("format1-tables-without-list")
    shutil.copytree(Path(__file__).resolve().parent.parent / "fixtures" / "table_format1" / "disk_index-levels",
                    store)
    (Path(store) / "TABLES").unlink()
    failed = expect(kvforge("repair", store), 3, err=["a table of format 1", "a salvage cannot get past this damage"])
    assert "kvforge repair" not in failed.error, failed


def test_convert_that_fails_part_way_removes_what_it_wrote():
    source, _ = tables_with_a_damaged_block("damaged-tables-source")  # the open succeeds, the scan fails
    target = fresh("damaged-tables-target")
    # DEST would have held the records before the damage, and verified as a whole store.
    expect(kvforge("convert", source, target, "--as", "file_log,hash"), 3,
           err=["fails its checksum", target + ", left incomplete, was removed"])
    assert not Path(target).exists() or not any(Path(target).iterdir())
    expect(kvforge("convert", source, target, "--as", "file_log,hash"), 3, err="was removed")


def test_an_expiring_store_over_tables_keeps_each_keys_deadline():
    source = fresh("tables-deadlines-source")
    expect(kvforge("put", source, "token", "alice", "--ttl", "3600", "--as", "file_log,sorted,expiring"), 0)
    expect(kvforge("put", source, "day", "bob", "--ttl", "86400"), 0)
    expect(kvforge("put", source, "forever", "carol"), 0)
    dumped = expect(kvforge("dump", source), 0).out
    # convert makes the new store with `expiring` too, and each key keeps its deadline, in
    # the log and, once compact has merged them, in the tables.
    tables = fresh("tables-deadlines")
    expect(kvforge("convert", source, tables, "--as", "file_log,disk_index"), 0,
           ["converted 3 records", "3 records checked, 0 damaged"])
    expect(kvforge("stat", tables), 0,
           ["composition  file_log,disk_index", "expiry       system_clock:", "keys         3"])
    assert kvforge("dump", tables).out == dumped
    expect(kvforge("compact", tables), 0, "compacted")
    expect(kvforge("stat", tables), 0, ["tables       1 (level ", "keys         3"])
    assert kvforge("dump", tables).out == dumped
    expect(kvforge("put", tables, "new", "dave", "--ttl", "60"), 0)
    assert kvforge("get", tables, "new").out == b"dave\n"
    expect(kvforge("put", tables, "now", "x", "--ttl", "0"), 0)  # a deadline that has come stores nothing
    expect(kvforge("get", tables, "now"), 1)
    made = fresh("tables-made-expiring")
    expect(kvforge("put", made, "k", "v", "--ttl", "60", "--as", "file_log,disk_index,expiring"), 0)
    expect(kvforge("stat", made), 0, ["composition  file_log,disk_index", "expiry       system_clock:"])
    # Over tables with a codec, each key keeps its deadline too, before and after compact.
    for codec in ("zstd", "lz4", "zstd-trained"):
        packed = fresh("tables-deadlines-" + codec)
        expect(kvforge("convert", source, packed, "--as", "file_log,disk_index," + codec), 0,
               ["converted 3 records", "3 records checked, 0 damaged"])
        expect(kvforge("stat", packed), 0, ["composition  file_log,disk_index", "expiry       system_clock:"])
        assert kvforge("dump", packed).out == dumped
        expect(kvforge("compact", packed), 0, "compacted")
        assert kvforge("dump", packed).out == dumped
        expect(kvforge("verify", packed), 0, "3 records checked")
    # The tool has no expiring mmap_file store, and says what it has.
    expect(kvforge("convert", source, fresh("tables-deadlines-mmap"), "--as", "mmap_file,sorted"), 2,
           err=["has expiry", "with file_log only"])


def test_backup_makes_a_verified_copy_and_refuses_a_used_destination():
    source = fresh("backup-source")
    expect(kvforge("load", source, "--as", "mmap_file,sorted,sync_each", stdin=dump_of(numbered(100))), 0)
    expect(kvforge("del", source, "k050"), 0)
    files_before = files_of(source)
    target = fresh("backup-target")
    expect(kvforge("backup", source, target), 0,
           [f"backed up {source} to {target}: 99 keys", "the copy was verified"])
    assert files_of(source) == files_before
    assert kvforge("dump", target).out == kvforge("dump", source).out
    expect(kvforge("stat", target), 0, "mmap_file")
    expect(kvforge("verify", target), 0, "0 damaged")
    # A destination that holds anything is refused, and left as it was.
    expect(kvforge("backup", source, target), 3, err=[f"{target} is not empty", "new or empty directory"])
    assert kvforge("dump", target).out == kvforge("dump", source).out
    expect(kvforge("backup", fresh("no-such-store"), fresh("backup-t2")), 3, err="no kvforge store here")
    expect(kvforge("backup", source, str(WORK / "no-such-parent" / "dest")), 3, err="parent directory does not exist")


def test_progress_shows_on_a_terminal_only():
    store = fresh("progress")
    expect(kvforge("load", store, stdin=dump_of((b"key%06d" % i, b"value") for i in range(20000))), 0)
    dumped = kvforge("dump", store)
    assert dumped.err == b""
    for args in (["dump", store], ["verify", store], ["compact", store], ["backup", store, fresh("progress-copy")]):
        assert kvforge(*args).err == b"", args
    # On a terminal, stderr gets a bar, a share, a rate; stdout (a pipe) is unchanged.
    controller, terminal = pty.openpty()
    # stdout to a file, so that a full pipe cannot stop the tool while stderr is read here.
    out_path = WORK / "progress.dump"
    with open(out_path, "wb") as out_file:
        process = subprocess.Popen([KVFORGE, "dump", store], stdout=out_file, stderr=terminal, cwd=WORK)
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(timeout=60)
    os.close(controller)
    assert process.returncode == 0
    assert out_path.read_bytes() == dumped.out
    assert b"dump " in shown and b"[" in shown and b"%" in shown and b"records/s" in shown, shown


def test_a_store_open_elsewhere_is_named_with_what_to_do():
    store = fresh("held")
    expect(kvforge("put", store, "k", "v", "--as", "file_log"), 0)
    holder = subprocess.Popen([MAKE_STORES, "hold", store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == b"open\n"
        # Reading commands run beside the writer; a writing one is refused.
        assert kvforge("get", store, "k").out == b"v\n"
        expect(kvforge("stat", store), 0, "keys         1")
        expect(kvforge("scan", store), 0, "k\tv")
        expect(kvforge("dump", store), 0, "records")
        expect(kvforge("verify", store), 0, "1 record checked, 0 damaged")
        expect(kvforge("backup", store, fresh("held-backup")), 0)
        expect(kvforge("put", store, "k", "w"), 3, err=["already open", "close the program that has the store open"])
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert kvforge("get", store, "k").out == b"v\n"


def files_of(store):
    return {path.name: path.read_bytes() for path in Path(store).iterdir()}


def test_read_commands_change_no_file_and_a_write_records_the_manifest(stores):
    store = fresh("format1-copy")
    shutil.copytree(stores / "signed", store)  # a store without a MANIFEST, as kvforge 0.1.0 wrote them
    before = files_of(store)
    assert "MANIFEST" not in before
    expect(kvforge("stat", store), 0, "not recorded: a format 1 store has no MANIFEST")
    expect(kvforge("get", store, "-5"), 0, "v-5")
    expect(kvforge("scan", store), 0, "70000\tv70000")
    expect(kvforge("dump", store), 0, "records")
    expect(kvforge("verify", store), 0, "4 records checked, 0 damaged")
    expect(kvforge("convert", store, fresh("format1-converted"), "--as", "mmap_file,sorted"), 0, "converted 4 records")
    assert files_of(store) == before
    # The first command that writes records the composition it opened the store with.
    expect(kvforge("put", store, "9", "v9"), 0)
    expect(kvforge("stat", store), 0, ["composition  file_log,hash_index,buffered (as its MANIFEST says)",
                                       "key codec    int32.be", "value codec  bytes", "keys         5"])
    manifest = (Path(store) / "MANIFEST").read_text()
    assert "key_codec int32.be\nvalue_codec bytes\n" in manifest, manifest


def test_verify_names_a_torn_tail_and_leaves_it():
    store = fresh("torn")
    expect(kvforge("put", store, "k", "v", "--as", "file_log"), 0)
    log = data_file(store)
    whole = log.read_bytes()
    log.write_bytes(whole + b"\x01\x02\x03")  # the start of a record a crash cut short
    expect(kvforge("verify", store), 0, [f"{log} ends at offset {len(whole)} in an incomplete record",
                                         "1 record checked, 0 damaged"])
    assert log.read_bytes() == whole + b"\x01\x02\x03"
    expect(kvforge("put", store, "k2", "v2"), 0)  # a writable open cuts it off
    verified = expect(kvforge("verify", store), 0, "2 records checked, 0 damaged")
    assert "incomplete" not in verified.text, verified


def read_until(stream, wanted, seconds=60):
    """Reads stream (a pipe) until its bytes hold every line in wanted, or fails after seconds."""
    seen = b""
    deadline = time.monotonic() + seconds
    while not all(line in seen for line in wanted):
        left = deadline - time.monotonic()
        assert left > 0, f"waited {seconds} s for {wanted!r}; read {seen!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the stream ended before {wanted!r}; read {seen!r}"
            seen += chunk
    return seen


def test_scan_follow_prints_what_a_writer_adds():
    store = fresh("followed")
    expect(kvforge("put", store, "a", "1", "--as", "file_log"), 0)
    expect(kvforge("scan", store, "--interval", "10"), 2, err="--interval goes with --follow")
    expect(kvforge("scan", store, "--follow", "--limit", "1"), 2, err="--follow")
    follower = subprocess.Popen([KVFORGE, "scan", store, "--follow", "--interval", "10", "--prefix", "a"],
                                stdout=subprocess.PIPE, cwd=WORK)
    try:
        assert read_until(follower.stdout, [b"a\t1\n"]) == b"a\t1\n"
        # Writers open beside it: each new or changed record in its range is printed once.
        expect(kvforge("put", store, "ab", "2"), 0)
        expect(kvforge("put", store, "b", "outside the prefix"), 0)
        expect(kvforge("put", store, "a", "3"), 0)
        seen = read_until(follower.stdout, [b"ab\t2\n", b"a\t3\n"])
        assert b"outside" not in seen, seen
        assert seen.count(b"ab\t2\n") == 1, seen
    finally:
        follower.kill()
        follower.wait(timeout=60)


def test_read_commands_run_beside_other_readers():
    store = fresh("shared")
    expect(kvforge("put", store, "k", "v", "--as", "file_log"), 0)
    reader = subprocess.Popen([MAKE_STORES, "hold-read", store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert reader.stdout.readline() == b"open\n"
        assert kvforge("get", store, "k").out == b"v\n"
        expect(kvforge("stat", store), 0, "keys         1")
        expect(kvforge("put", store, "k", "w"), 0)  # a writer opens beside a reader
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    assert kvforge("get", store, "k").out == b"w\n"


def test_a_compressed_store_is_refused_unchanged(stores):
    packed = stores / "packed"
    before = {path: path.read_bytes() for path in packed.iterdir()}
    for args in (["stat", str(packed)], ["get", str(packed), "k"], ["scan", str(packed)], ["dump", str(packed)],
                 ["put", str(packed), "k", "v"]):
        expect(kvforge(*args), 3, err=["compressed by 'run-length', a codec of the program that wrote the store",
                                       "zstd, zstd-trained and lz4"])
    assert {path: path.read_bytes() for path in packed.iterdir()} == before


def test_an_expiring_store_hides_expired_keys_and_takes_ttls(stores):
    sessions = str(stores / "sessions")
    stat = expect(kvforge("stat", sessions), 0).text
    assert "expiry       system_clock:" in stat
    assert "keys         2\n" in stat  # "expired" is past its deadline
    expect(kvforge("get", sessions, "expired"), 1, err="no key 'expired'")
    assert kvforge("get", sessions, "live").out == b"here\n"
    assert kvforge("scan", sessions, "--keys-only").text.splitlines() == ["forever", "live"]
    live = deadlines_of(sessions)["live"]
    expiry = kvforge("stat", sessions).text.split("expiry       ")[1].split("\n")[0].encode()
    assert kvforge("dump", sessions).out == dump_of([(b"forever", b"always"), (b"live", b"here", live)], expiry=expiry)
    expect(kvforge("put", sessions, "token", "alice", "--ttl", "3600"), 0)
    assert kvforge("get", sessions, "token").out == b"alice\n"
    expect(kvforge("put", sessions, "now", "x", "--ttl", "0"), 0)  # a deadline that has come stores nothing
    expect(kvforge("get", sessions, "now"), 1)
    expect(kvforge("put", sessions, "k", "v", "--ttl", "soon"), 2, err="--ttl takes a number of seconds")

    made = fresh("made_expiring")
    expect(kvforge("put", made, "k", "v", "--ttl", "60", "--as", "file_log,hash,expiring"), 0)
    assert "expiry       system_clock:" in kvforge("stat", made).text
    plain = fresh("plain_ttl")
    expect(kvforge("put", plain, "k", "v", "--as", "file_log"), 0)
    assert "expiry       none\n" in kvforge("stat", plain).text
    expect(kvforge("put", plain, "k", "w", "--ttl", "60"), 3, err="'expiring' in its spec")
    assert kvforge("get", plain, "k").out == b"v\n"


def test_a_damaged_manifest_is_named():
    store = fresh("manifest")
    expect(kvforge("put", store, "k", "v", "--as", "file_log"), 0)
    (Path(store) / "MANIFEST").write_bytes(b"kvforge-manifest 1\nformat 1\n")
    expect(kvforge("stat", store), 3, err=[str(Path(store) / "MANIFEST"), "crc32c line"])


def loaded_store(name, count, words="file_log"):
    """A store of count keys loaded from a dump, closed cleanly (its hint covers its log)."""
    store = fresh(name)
    records = [(b"key%05d" % i, b"value %05d " % i + b"." * 40) for i in range(count)]
    expect(kvforge("load", store, "--as", words, stdin=dump_of(records)), 0)
    return store


def segment_files(store):
    """{id: path} of the store's data files."""
    return {int(path.name[5:15]): path for path in Path(store).glob("data-*.kvlog")}


def largest_segment(store):
    """The store's largest data file: after a compaction, its output (whatever its id)."""
    return max(Path(store).glob("data-*.kvlog"), key=lambda path: path.stat().st_size)


def test_verify_fails_a_data_file_cut_below_its_hint():
    store = loaded_store("cut-below-hint", 9000)  # three batches: the first stays whole
    log = data_file(store)
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) // 2])
    # Not a torn write: the hint proves every record was durable.
    verified = expect(kvforge("verify", store), 3, ["damaged: ", str(log), "proves"], "is damaged")
    assert "a crash cut short" not in verified.text, verified
    expect(kvforge("get", store, "key00001"), 3, err=[str(log), "records the hint lists past its end are lost"])
    assert log.read_bytes() == whole[: len(whole) // 2]  # nothing was cut
    repaired = expect(kvforge("repair", store), 0, ["found ", "proves"])
    expect(kvforge("verify", store), 0, "0 damaged")
    assert b"key00001\t" in kvforge("scan", store).out, repaired
    expect(kvforge("get", store, "key08999"), 1)


def test_verify_lists_a_cut_closed_segment():
    store = loaded_store("cut-closed", 300)
    expect(kvforge("compact", store), 0)
    expect(kvforge("put", store, "after", "the compaction"), 0)
    segments = segment_files(store)
    assert len(segments) == 2, segments
    closed = largest_segment(store)
    for hint in Path(store).glob("*.kvhint"):
        hint.unlink()
    closed.write_bytes(closed.read_bytes()[:-10])
    verified = expect(kvforge("verify", store), 3, ["damaged: ", str(closed), "closed segment", "1 damaged"])
    assert "a crash cut short" not in verified.text, verified


def test_verify_names_a_deleted_segment():
    store = loaded_store("deleted-segment", 300)
    expect(kvforge("compact", store), 0)
    expect(kvforge("put", store, "after", "the compaction"), 0)
    lost = largest_segment(store)  # compact()'s output, holding the 300 loaded keys
    assert lost.with_suffix(".kvhint").exists()
    lost.unlink()
    expect(kvforge("verify", store), 3, ["damaged: ", str(lost), "is missing"])
    expect(kvforge("get", store, "after"), 3, err=[str(lost), "is missing"])
    assert lost.with_suffix(".kvhint").exists()  # not removed as a leftover
    expect(kvforge("repair", store), 0, ["found ", str(lost), "kept 1 key;"])
    expect(kvforge("verify", store), 0, "0 damaged")


def test_verify_names_a_segment_deleted_with_its_hint():
    store = loaded_store("deleted-with-hint", 300)
    expect(kvforge("compact", store), 0)
    expect(kvforge("put", store, "after", "the compaction"), 0)
    lost = largest_segment(store)  # compact()'s output, holding the 300 loaded keys
    lost.unlink()
    lost.with_suffix(".kvhint").unlink()
    expect(kvforge("verify", store), 3, ["damaged: ", str(lost), "is missing, though SEGMENTS lists it"])
    expect(kvforge("get", store, "after"), 3, err=[str(lost), "is missing"])
    expect(kvforge("repair", store), 0, ["found ", str(lost), "kept 1 key;"])
    expect(kvforge("verify", store), 0, "0 damaged")


def test_repair_keeps_the_records_of_a_segment_with_a_damaged_header():
    store = loaded_store("damaged-header", 300)
    expect(kvforge("compact", store), 0)
    expect(kvforge("put", store, "after", "the compaction"), 0)
    segments = segment_files(store)
    damaged = segments[min(segments)]
    flip_byte(damaged, 20)
    expect(kvforge("get", store, "key00001"), 3, err=[str(damaged), f"kvforge repair {store}"])
    expect(kvforge("verify", store), 3, ["damaged: ", str(damaged), "the file header is damaged"])
    expect(kvforge("repair", store), 0, ["found 1 damaged place", "kept 301 keys"])
    expect(kvforge("verify", store), 0, "301 records checked, 0 damaged")
    expect(kvforge("get", store, "key00299"), 0, "value 00299")
    # A stray empty data file is a leftover, not damage.
    stray = Path(store) / "data-0000000099.kvlog"
    stray.write_bytes(b"")
    expect(kvforge("verify", store), 0, "301 records checked, 0 damaged")
    expect(kvforge("put", store, "k", "v"), 0)
    assert not stray.exists()


def test_scan_and_dump_skip_damaged_records_and_say_so():
    store = loaded_store("skip-damaged", 50, "file_log,sorted")
    for hint in Path(store).glob("*.kvhint"):
        hint.unlink()
    log = data_file(store)
    at = log.read_bytes().index(b"value 00020")
    flip_byte(log, at)
    before = files_of(store)
    expect(kvforge("scan", store), 3, err="damaged record")
    # load wrote batches: the damaged one's inner records, each with its own checksum, are kept,
    # and the flipped byte is one damaged place, the batch, though the inner record it hit fails too.
    scanned = expect(kvforge("scan", store, "--skip-damaged"), 3, "key00049\t",
                     ["skipped 1 damaged place (", f"{log} at offset "])
    assert scanned.text.count("\n") == 49 and "key00020" not in scanned.text, scanned
    dumped = expect(kvforge("dump", store, "--skip-damaged"), 3, err=["skipped 1 damaged place (", str(log)])
    copy = fresh("skip-damaged-copy")
    expect(kvforge("load", copy, "--as", "file_log,sorted", stdin=dumped.out), 0)
    expect(kvforge("verify", copy), 0, "49 records checked, 0 damaged")
    assert files_of(store) == before  # read past, not repaired
    intact = loaded_store("skip-nothing", 5)
    expect(kvforge("scan", intact, "--skip-damaged"), 0, "key00004")


# --- a store's files: a lost MANIFEST, compressed stores, backups that copy (issue 35) ----------


def lose_manifest(store):
    (Path(store) / "MANIFEST").unlink()
    return files_of(store)


def test_a_lost_manifest_is_refused_then_rebuilt_by_repair():
    big = "x" * 300
    for words, value in (("file_log,expiring", "hello"), ("file_log,zstd", big), ("file_log,lz4,expiring", big)):
        store = fresh("lost-" + words.replace(",", "-"))
        expect(kvforge("put", store, "k", value, "--as", words), 0)
        before = lose_manifest(store)
        # Never read under a guess: no value on stdout, and nothing written.
        for args in (["get", store, "k"], ["stat", store], ["scan", store], ["verify", store], ["put", store, "j", "v"]):
            result = expect(kvforge(*args), 3, err=["MANIFEST is missing", f"kvforge repair {store}"])
            assert result.out == b"", result
        assert files_of(store) == before
        rebuilt = expect(kvforge("repair", store), 0, f"{store}/MANIFEST was lost; rebuilt from the data files")
        assert ("expiry system_clock" in rebuilt.text) == ("expiring" in words), rebuilt
        assert kvforge("get", store, "k").text == value + "\n"


def test_a_lost_manifest_of_a_store_over_tables_is_rebuilt_by_repair():
    records = [(b"k%03d" % i, b"value %d" % i) for i in range(200)]
    for words, compact in (("file_log,disk_index", True), ("file_log,disk_index,expiring", False),
                           ("file_log,disk_index,zstd", True)):
        store = fresh("lost-tables-" + words.replace(",", "-"))
        expect(kvforge("load", store, "--as", words, stdin=dump_of(records)), 0)
        if compact:  # the records in a table; else in the log, beside an empty TABLES
            expect(kvforge("compact", store), 0, "compacted")
        dumped = expect(kvforge("dump", store), 0).out
        before = lose_manifest(store)
        for args in (["get", store, "k001"], ["scan", store]):
            result = expect(kvforge(*args), 3, err=["MANIFEST is missing", f"kvforge repair {store}"])
            assert result.out == b"", result
        # --as naming an index that does not read tables is refused, and changes nothing.
        expect(kvforge("repair", store, "--as", words.replace("disk_index", "sorted")), 3,
               err="the store holds sorted tables, which only disk_index reads")
        assert files_of(store) == before
        expect(kvforge("repair", store), 0,
               f"{store}/MANIFEST was lost; rebuilt from the data files: a store over sorted tables")
        expect(kvforge("stat", store), 0, ["composition  file_log,disk_index", "format       3", "keys         200"])
        assert kvforge("dump", store).out == dumped
    # Tables and logs whose headers record no fingerprints (as a store over tables wrote them
    # before they did): nothing to rebuild from, and the tool says so.
    manifest = (Path(store) / "MANIFEST").read_bytes()
    lose_manifest(store)
    for path in Path(store).iterdir():
        if path.suffix in (".kvtable", ".kvlog"):
            data = bytearray(path.read_bytes())
            data[16:24] = bytes(8)
            data[28:32] = crc32c(bytes(data[0:28])).to_bytes(4, "little")
            path.write_bytes(bytes(data))
            rewrite_layers(path, 0)
    before = files_of(store)
    expect(kvforge("repair", store), 3, err="record no codecs (it was written before kvforge recorded them there)")
    assert files_of(store) == before
    # Once a writer of this release has started a log in it, the repair rebuilds from that.
    (Path(store) / "MANIFEST").write_bytes(manifest)
    expect(kvforge("put", store, "new", "value"), 0)
    lose_manifest(store)
    expect(kvforge("repair", store), 0, "rebuilt from the data files: a store over sorted tables")
    assert kvforge("get", store, "k007").text == "value 7\n"
    assert kvforge("get", store, "new").text == "value\n"


def test_a_lost_log_or_list_of_a_store_over_tables_is_named_and_repaired():
    store = fresh("lost-tables-log")
    records = [(b"k%03d" % i, b"value %d" % i) for i in range(200)]
    expect(kvforge("load", store, "--as", "file_log,disk_index", stdin=dump_of(records)), 0)
    expect(kvforge("compact", store), 0, "200 keys")
    expect(kvforge("put", store, "after", "the compaction"), 0)  # in the log TABLES names
    (log,) = [path for path in Path(store).iterdir() if path.suffix == ".kvlog"]
    log.unlink()
    before = files_of(store)
    expect(kvforge("get", store, "k001"), 3, err=[str(log), "is missing, though", "TABLES names it",
                                                  f"kvforge repair {store}"])
    expect(kvforge("verify", store), 3, ["damaged: ", str(log), "records written since the tables were last flushed"])
    assert files_of(store) == before
    expect(kvforge("repair", store), 0, ["found 1 damaged place", str(log), "kept 200 keys"])
    expect(kvforge("verify", store), 0, "200 records checked, 0 damaged")
    assert kvforge("get", store, "k007").text == "value 7\n"
    # A lost TABLES is named, and repair rebuilds it from the tables, which record their levels.
    (Path(store) / "TABLES").unlink()
    before = files_of(store)
    expect(kvforge("get", store, "k001"), 3, err=["TABLES is missing", ".kvtable is a sorted table",
                                                  "`kvforge repair`", "rebuild it from the tables"])
    expect(kvforge("verify", store), 3, ["damaged: ", "TABLES", "rebuilt from the tables"])
    assert files_of(store) == before
    repaired = expect(kvforge("repair", store), 0, ["found 1 damaged place; every intact record is kept:", "TABLES",
                                                    "rebuilt from the tables", "kept 200 keys"])
    assert "dropped" not in repaired.text, repaired  # a rebuilt list loses nothing
    expect(kvforge("verify", store), 0, "200 records checked, 0 damaged")
    assert kvforge("get", store, "k199").text == "value 199\n"


def test_a_log_of_a_store_over_tables_cut_after_its_close_is_named_and_repaired():
    store = fresh("cut-tables-log")
    records = [(b"k%03d" % i, b"value %d" % i) for i in range(200)]
    expect(kvforge("load", store, "--as", "file_log,disk_index", stdin=dump_of(records)), 0)
    expect(kvforge("compact", store), 0, "200 keys")
    expect(kvforge("put", store, "after", "the compaction"), 0)  # the log's one record
    (log,) = [path for path in Path(store).iterdir() if path.suffix == ".kvlog"]
    size = log.stat().st_size
    os.truncate(log, size - (4 + 1 + 1 + 1 + len("after") + len("the compaction")))  # at a record boundary
    before = files_of(store)
    expect(kvforge("get", store, "k001"), 3, err=[str(log), "is cut short", f"records {size} at the store's last close"])
    expect(kvforge("verify", store), 3, ["damaged: ", str(log), "records written past its end are lost"])
    assert files_of(store) == before
    expect(kvforge("repair", store), 0, ["found 1 damaged place", str(log), "kept 200 keys"])
    expect(kvforge("verify", store), 0, "200 records checked, 0 damaged")
    assert kvforge("get", store, "k007").text == "value 7\n"


def rewrite_layers(data_path, layers):
    """Sets a data file's recorded expiry and compression (header bytes 40-47) and its CRC."""
    data = bytearray(data_path.read_bytes())
    data[40:48] = layers.to_bytes(8, "little")
    data[60:64] = crc32c(bytes(data[32:60])).to_bytes(4, "little")
    data_path.write_bytes(bytes(data))


def test_repair_asks_for_as_when_the_data_files_do_not_record_enough():
    store = fresh("lost-unrecorded")
    expect(kvforge("put", store, "k", "hello", "--as", "file_log,expiring"), 0)
    lose_manifest(store)
    rewrite_layers(data_file(store), 0)  # as a store written before kvforge recorded them
    before = files_of(store)
    expect(kvforge("repair", store), 3, err=["does not record whether the store has expiry or compression", "--as"])
    assert files_of(store) == before
    expect(kvforge("repair", store, "--as", "file_log,expiring"), 0, "rebuilt from the data files and --as")
    assert kvforge("get", store, "k").text == "hello\n"
    # --as that contradicts what the data files record is refused.
    other = fresh("lost-contradicted")
    expect(kvforge("put", other, "k", "hello", "--as", "file_log,expiring"), 0)
    before = lose_manifest(other)
    expect(kvforge("repair", other, "--as", "file_log,zstd"), 3, err="records expiry 'system_clock")
    assert files_of(other) == before


def test_compressed_stores_open_for_every_command():
    values = {f"k{i:03}": ("value %d " % i) * 40 for i in range(50)}
    dump = dump_of([(k.encode(), v.encode()) for k, v in values.items()])
    for codec in ("zstd", "lz4", "zstd-trained"):
        store = fresh("packed-" + codec)
        expect(kvforge("load", store, "--as", "file_log," + codec, stdin=dump), 0)
        expect(kvforge("stat", store), 0, ["keys         50"])
        assert kvforge("get", store, "k007").text == values["k007"] + "\n"
        assert len(expect(kvforge("scan", store), 0).text.splitlines()) == 50
        expect(kvforge("verify", store), 0)
        expect(kvforge("put", store, "new", "v" * 200), 0)
        expect(kvforge("del", store, "k000"), 0)
        expect(kvforge("compact", store), 0)
        dumped = expect(kvforge("dump", store), 0)
        copy = fresh("packed-copy-" + codec)
        expect(kvforge("load", copy, stdin=dumped.out), 0)
        assert kvforge("get", copy, "new").text == "v" * 200 + "\n"
        backup = fresh("packed-backup-" + codec)
        expect(kvforge("backup", store, backup), 0)
        assert kvforge("get", backup, "k049").text == values["k049"] + "\n"
        converted = fresh("packed-converted-" + codec)
        expect(kvforge("convert", store, converted, "--as", "mmap_file,sorted"), 0)
        assert kvforge("get", converted, "k001").text == values["k001"] + "\n"
    # A trained store's values, once compact() has trained a dictionary, read back.
    trained = fresh("trained")
    many = [(b"user:%d" % i, (b'{"id":%d,"name":"user %d","plan":"pro","tags":["a","b"]}' % (i, i)) * 4)
            for i in range(6000)]
    expect(kvforge("load", trained, "--as", "file_log,zstd-trained", stdin=dump_of(many)), 0)
    expect(kvforge("compact", trained), 0)
    assert list(Path(trained).glob("dictionary-*.zstd")), "compact trained no dictionary"
    assert kvforge("get", trained, "user:4321").out == many[4321][1] + b"\n"
    expect(kvforge("verify", trained), 0)
    # So do a store over tables whose blocks compact() compresses with a trained dictionary.
    tables = fresh("trained-tables")
    expect(kvforge("load", tables, "--as", "file_log,disk_index,zstd-trained", stdin=dump_of(many)), 0)
    expect(kvforge("compact", tables), 0, "compacted")
    assert list(Path(tables).glob("dictionary-*.zstd")), "compact trained no dictionary for the tables"
    expect(kvforge("stat", tables), 0, ["composition  file_log,disk_index", "tables       1 (level ", "keys         6000"])
    assert kvforge("get", tables, "user:4321").out == many[4321][1] + b"\n"
    expect(kvforge("verify", tables), 0, "6000 records checked")
    assert kvforge("dump", tables).out == kvforge("dump", trained).out


def test_backup_copies_so_the_copy_survives_damage_to_the_source():
    for link in (False, True):
        store = fresh("source-link" if link else "source")
        dump = dump_of([(b"k%04d" % i, b"v" * 100) for i in range(500)])
        expect(kvforge("load", store, "--as", "file_log", stdin=dump), 0)
        expect(kvforge("compact", store), 0)  # its output is a closed segment
        backup = fresh("backup-link" if link else "backup")
        expect(kvforge("backup", store, backup, *(["--link"] if link else [])), 0)
        closed = largest_segment(store)
        assert closed.stat().st_size > 20000, closed
        with open(closed, "r+b") as f:  # in place, as damage on the disk is
            f.seek(closed.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0x40]))
        expect(kvforge("verify", store), 3)
        if link:
            expect(kvforge("verify", backup), 3)  # what --link risks
        else:
            expect(kvforge("verify", backup), 0)
            assert len(kvforge("scan", backup).text.splitlines()) == 500


def test_get_takes_the_escaped_form_scan_prints():
    store = fresh("escaped")
    expect(kvforge("put", store, "a\\xff\\xfe", "v1", "--as", "file_log"), 0)
    expect(kvforge("put", store, "back\\\\slash", "tab\\there"), 0)
    scanned = kvforge("scan", store).text.splitlines()
    assert scanned == ["a\\xff\\xfe\tv1", "back\\\\slash\ttab\\there"], scanned
    for line in scanned:
        key, value = line.split("\t")
        assert kvforge("get", store, key).text == value + "\n"
    assert kvforge("get", store, "a\\xff\\xfe", "--raw").out == b"v1"
    expect(kvforge("get", store, "a\\q"), 2, err="unknown escape")
    expect(kvforge("del", store, "a\\xff\\xfe"), 0)


def test_no_store_errors_give_the_advice_of_each_case():
    a_file = WORK / "a-file"
    a_file.write_text("not a store")
    expect(kvforge("get", str(a_file), "k"), 3, err="is a file, not a store")
    assert "kvforge load" not in kvforge("get", str(a_file), "k").error
    result = expect(kvforge("get", "", "k"), 3, err="an empty path names no store")
    assert "kvforge load" not in result.error
    new = fresh("not-yet")
    expect(kvforge("get", new, "k"), 3, err=["no such directory", f"kvforge put {new} KEY VALUE --as file_log"])
    others = Path(fresh("others"))
    others.mkdir()
    (others / "notes.txt").write_text("mine")
    result = expect(kvforge("get", str(others), "k"), 3, err="only other files")
    assert "kvforge load" not in result.error


def test_load_says_what_is_durable_when_stopped():
    import resource
    import signal
    records = [(b"key%06d" % i, b"v" * 200) for i in range(20000)]
    dump = dump_of(records)
    # A file size limit stands in for a full disk: the write fails mid-batch.
    store = fresh("full")
    expect(kvforge("put", store, "first", "v", "--as", "file_log"), 0)

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    completed = subprocess.run([KVFORGE, "load", store], input=dump, capture_output=True, cwd=WORK, timeout=300,
                               preexec_fn=limited)
    result = Result(completed)
    expect(result, 3, err=["stopped at record", "the store keeps those of them that reached the disk",
                           f"kvforge stat {store}"])
    assert "after 0 records" not in result.error
    # Ctrl-C: what was read is written and synced, and the message says how many records.
    store = fresh("interrupted")
    loader = subprocess.Popen([KVFORGE, "load", store, "--as", "file_log"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=WORK)
    # More than a pipe holds: once written, the loader has read some, so its handler is set.
    loader.stdin.write(dump[: len(dump) // 2])
    loader.stdin.flush()
    loader.send_signal(signal.SIGINT)
    _, err = loader.communicate(timeout=300)
    assert loader.returncode == 130, (loader.returncode, err)
    text = err.decode()
    assert "interrupted: the first " in text and "synced to disk" in text, text
    loaded = int(text.split("the first ")[1].split(" ")[0])
    assert loaded > 0
    expect(kvforge("stat", store), 0, f"keys         {loaded}\n")


def test_convert_names_the_word_that_does_not_fit(stores):
    target = fresh("converted-sessions")
    result = expect(kvforge("convert", str(stores / "sessions"), target, "--as", "mmap,hash"), 2,
                    err=["has store 'mmap_file'", "drop 'mmap_file'", "has expiry"])
    assert len(result.error) < 900, result


def main():
    global KVFORGE, MAKE_STORES, WORK
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    KVFORGE = os.path.abspath(sys.argv[1])
    MAKE_STORES = os.path.abspath(sys.argv[2])
    wanted = set(sys.argv[3:])
    base = os.environ.get("KVFORGE_TEST_TMPDIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    with tempfile.TemporaryDirectory(prefix="kvforge-tool-test-", dir=base) as work:
        WORK = Path(work)
        stores = WORK / "made"
        stores.mkdir()
        subprocess.run([MAKE_STORES, str(stores)], check=True, stdout=subprocess.DEVNULL)
        tests = [(name, f) for name, f in globals().items() if name.startswith("test_") and callable(f)]
        failed = 0
        for name, test in tests:
            if wanted and name not in wanted:
                continue
            try:
                test(stores) if test.__code__.co_argcount == 1 else test()
                print(f"ok    {name}")
            except Exception as e:  # an assertion, or a test that could not go on (a missing file, a timeout)
                failed += 1
                print(f"FAIL  {name}: {type(e).__name__}: {e}")
        ran = len(wanted) if wanted else len(tests)
        print(f"kvforge_tool_test.py: {ran - failed} passed, {failed} failed")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
