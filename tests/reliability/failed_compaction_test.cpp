// A write reports its own result. When the automatic compaction a write triggers
// fails (here on a damaged record that point reads never touch), the write, which was
// applied, still succeeds; the failure is counted in stats() with its message, and
// automatic compaction waits for the data file to grow before it tries again. An
// explicit compact() always runs and reports its own error.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/types.h>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

using failing_compaction_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                              kvforge::single_thread>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::buffered<>,
                              kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index,
                              kvforge::async_worker<>, kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index, kvforge::sync_each,
                              kvforge::single_thread>>;

constexpr int compaction_key_count = 100;
constexpr int compaction_put_count = 8000;

kvforge::options compacting_early() {
    kvforge::options opts;
    opts.compact_min_bytes = 64 << 10;
    return opts;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a failed automatic compaction does not fail the write that triggered it",
                        "[failed_compaction]", failing_compaction_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    const std::string rotting = "a value that rots on disk and is never read";
    {
        TestType db(path, compacting_early());
        db.put("rotting", rotting);
        for (int i = 0; i < compaction_key_count; ++i) db.put("key" + std::to_string(i), "first");
    }  // closed: the hint covers the whole log, so reopening reads no record
    const std::string data = path + "/data-0000000001.kvlog";
    std::string bytes = read_file(data);
    const std::size_t damaged = bytes.find(rotting);
    REQUIRE(damaged != std::string::npos);
    bytes[damaged + 5] ^= 0x40;
    write_file(data, bytes);

    TestType db(path, compacting_early());
    int reported_failures = 0;
    const std::string value(100, 'x');
    for (int i = 0; i < compaction_put_count; ++i) {
        std::error_code ec;
        db.put("key" + std::to_string(i % compaction_key_count), value + std::to_string(i), ec);
        if (ec) ++reported_failures;
    }
    CHECK(reported_failures == 0);
    for (int i = compaction_put_count - compaction_key_count; i < compaction_put_count; ++i) {
        REQUIRE(db.get("key" + std::to_string(i % compaction_key_count)) ==
                std::optional<std::string>(value + std::to_string(i)));
    }

    // The failures are visible, and were not retried on every write: the data file grew
    // to about 1 MiB, so at most a few retries fit between doublings from 64 KiB. With
    // thread_safe the jobs run on the compaction thread: the first failure may come
    // after the last put.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (db.stats().compaction_failures == 0) REQUIRE(std::chrono::steady_clock::now() < give_up);
    const kvforge::stats s = db.stats();
    CHECK(s.compaction_failures >= 1);
    CHECK(s.compaction_failures <= 8);
    CHECK(s.compactions == 0);
    CHECK_THAT(s.last_compaction_error, Catch::Contains(data) && Catch::Contains("offset"));

    // An explicit compact() runs and reports its own error (a job of the compaction
    // thread may have failed too meanwhile).
    std::error_code ec;
    db.compact(ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(db.stats().compaction_failures >= s.compaction_failures + 1);

    // The store still takes writes: compaction failed before it switched files.
    db.put("after", "compact", ec);
    CHECK_FALSE(ec);
    db.close();

    // Salvage drops the damaged record, after which compaction works again.
    kvforge::options salvage = compacting_early();
    salvage.salvage = true;
    TestType repaired(path, salvage);
    CHECK_FALSE(repaired.contains("rotting"));
    const std::uint64_t compactions = repaired.stats().compactions;
    repaired.compact();
    const kvforge::stats after = repaired.stats();
    CHECK(after.compactions == compactions + 1);
    CHECK(after.last_compaction_error.empty());
    CHECK(repaired.size() == compaction_key_count + 1);
}

namespace {

template <class Threading>
using faulty_table_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                          kvforge::buffered<>, Threading, kvforge::fault_injecting_io<>>;

/// posix_io, but while `failing` is set no table file can be created (ENOSPC): the log
/// takes writes, every flush fails.
struct table_refusing_io : kvforge::posix_io {
    std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(false);

    int open(const char* path, int flags, mode_t mode) noexcept {
        if (failing->load() && (flags & O_CREAT) != 0 && std::string_view(path).ends_with(".kvtable")) {
            errno = ENOSPC;
            return -1;
        }
        return kvforge::posix_io::open(path, flags, mode);
    }
};

}  // namespace

TEMPLATE_TEST_CASE("disk_index: while every flush fails, writes past the buffers' bound are refused, never held",
                   "[failed_compaction][disk_index]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index,
                                      kvforge::buffered<>, TestType, table_refusing_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    table_refusing_io io;
    store_type db(path, opts, io);
    io.failing->store(true);

    // Before the fix, a thread_safe writer waited here for ever for flushes that fail.
    const std::string value(100, 'v');
    int applied = 0;
    int refused = 0;
    for (int i = 0; i < 3000; ++i) {
        std::error_code ec;
        db.put("key" + std::to_string(i), value, ec);
        if (!ec) {
            REQUIRE(refused == 0);  // a write is refused only once the buffers are full
            ++applied;
            continue;
        }
        CHECK(ec == std::errc::no_space_on_device);
        CHECK_FALSE(db.contains("key" + std::to_string(i)));
        ++refused;
    }
    CHECK(applied > 250);
    CHECK(refused > 0);
    const kvforge::stats failing = db.stats();
    CHECK(failing.compaction_failures > 0);
    // Two buffers' worth at most (a buffer may pass its size by a chunk, an eighth of it).
    CHECK(failing.memory_bytes <= 2 * opts.segment_bytes + opts.segment_bytes / 4);

    // Once tables can be made again, writes go on, and every applied one is kept.
    io.failing->store(false);
    db.put("after", "the disk recovered");
    db.close();
    store_type reopened(path, opts, io);
    CHECK(reopened.size() == static_cast<std::uint64_t>(applied) + 1);
    for (int i = 0; i < applied; ++i) REQUIRE(reopened.get("key" + std::to_string(i)) == value);
    CHECK(reopened.get("after") == "the disk recovered");
}

TEMPLATE_TEST_CASE("disk_index: a freeze or flush that fails does not fail the write that started it",
                   "[failed_compaction][disk_index]", kvforge::single_thread, kvforge::thread_safe) {
    using store_type = faulty_table_store<TestType>;
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;  // the write buffer
    kvforge::fault_injecting_io<> io;
    store_type db(path, opts, io);
    // From here on no file opens: neither the next log a freeze starts nor a flush's table.
    io.inject({.at = 1, .calls = kvforge::io_call::open, .error = ENOSPC, .mode = kvforge::fault_mode::persistent});

    const std::string value(100, 'v');
    constexpr int attempts = 3000;  // about five buffers' worth
    int applied = 0;
    std::error_code refused;
    for (; applied < attempts; ++applied) {
        std::error_code ec;
        db.put("key" + std::to_string(applied), value, ec);
        if (ec) {
            refused = ec;
            break;
        }
    }
    // Each write whose record reached the log succeeded; the failures are counted instead.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (db.stats().compaction_failures == 0) REQUIRE(std::chrono::steady_clock::now() < give_up);
    CHECK_THAT(db.stats().last_compaction_error, Catch::StartsWith("open ") && Catch::Contains(path));
    // The buffer grew to twice its size (with thread_safe, twice the half of segment_bytes
    // each of its two buffers has) while each write, or the store's thread, tried the
    // freeze again; then a write that cannot make room fails, and is not applied.
    CHECK(applied > (TestType::concurrent ? 250 : 500));
    CHECK(applied < attempts);
    CHECK(refused == std::errc::no_space_on_device);
    CHECK_FALSE(db.contains("key" + std::to_string(applied)));
    for (int i = 0; i < applied; i += 97) REQUIRE(db.get("key" + std::to_string(i)) == value);

    // Once files open again, the next write freezes and flushes, and every write is kept.
    io.clear_faults();
    db.put("after", "the disk recovered");
    db.close();
    store_type reopened(path, opts, io);
    CHECK(reopened.size() == static_cast<std::uint64_t>(applied) + 1);
    for (int i = 0; i < applied; ++i) REQUIRE(reopened.get("key" + std::to_string(i)) == value);
    CHECK(reopened.stats().segments > 1);  // tables were made
}
