// The contract of each durability policy, observed from outside: when bytes reach the
// file, what sync() and close() guarantee, group commit, and how failures surface.
// ThreadSanitizer: the group-commit cases' writers are threads of syncs_of_writers
// (support/writers_sharing_syncs.hpp), racing with the sync each one leads.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <kvforge/kvforge.hpp>

#include "../support/file_bytes.hpp"
#include "../support/sync_counting_io.hpp"
#include "../support/temp_dir.hpp"
#include "../support/writers_sharing_syncs.hpp"

using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;
// Unqualified where a TEMPLATE_TEST_CASE names them: Catch names its test cases by the types as written.
using kvforge::file_log;
using kvforge::mmap_file;
namespace fs = std::filesystem;

namespace {

std::uintmax_t data_file_size(const std::string& directory) {
    for (const auto& entry : fs::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog") return entry.file_size();
    }
    return 0;
}

/// POSIX I/O whose fdatasync takes as long as a real disk's (2 ms more) and can be made to fail.
struct slow_disk_io : kvforge_test::slow_flush_io<2> {
    std::shared_ptr<std::atomic<int>> failures_left = std::make_shared<std::atomic<int>>(0);
    int fdatasync(int fd) noexcept {
        if (failures_left->load() > 0) {
            failures_left->fetch_sub(1);
            errno = EIO;
            return -1;
        }
        return slow_flush_io::fdatasync(fd);
    }
};

}  // namespace

TEST_CASE("buffered writes reach the file at the byte threshold and on flush", "[durability][buffered]") {
    using small_buffer = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<1024, 3600000>>;
    temp_dir dir;
    small_buffer db(dir / "db");
    const auto empty = data_file_size(dir / "db");
    db.put("a", std::string(100, 'x'));
    CHECK(data_file_size(dir / "db") == empty);              // still in the buffer
    CHECK(db.get("a") == std::string(100, 'x'));             // and readable from it
    for (int i = 0; i < 9; ++i) db.put("k" + std::to_string(i), std::string(100, 'y'));
    CHECK(data_file_size(dir / "db") > empty + 1000);        // 1 KiB gathered: written out
    db.put("tail", "t");
    const auto before_flush = data_file_size(dir / "db");
    db.flush();
    CHECK(data_file_size(dir / "db") > before_flush);
    CHECK(data_file_size(dir / "db") == db.stats().disk_bytes);
}

TEST_CASE("buffered writes reach the file once the time threshold has passed", "[durability][buffered]") {
    using timed =
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<std::size_t{1} << 30, 1>>;
    temp_dir dir;
    timed db(dir / "db");
    const auto empty = data_file_size(dir / "db");
    db.put("first", "1");
    // The next write that comes a millisecond or more after the oldest buffered one flushes both.
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2)) {
    }
    db.put("second", "2");
    CHECK(data_file_size(dir / "db") > empty);
}

TEST_CASE("a process crash loses at most the unflushed buffer", "[durability][buffered]") {
    temp_dir dir;
    const std::string path = dir / "db";
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>> db(path);
        db.put("flushed", "yes");
        db.flush();
        db.put("buffered only", "lost");
        std::_Exit(0);  // no close, no destructor: as a crash
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>> db(path);
    CHECK(db.get("flushed") == std::optional<std::string>("yes"));
    CHECK_FALSE(db.contains("buffered only"));
}

TEST_CASE("concurrent sync_each writers share fdatasync calls", "[durability][sync_each][group_commit]") {
    using grouped = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each,
                                   kvforge::thread_safe, slow_disk_io>;
    temp_dir dir;
    grouped db(dir / "db");
    constexpr int threads = 4;
    constexpr int writes = 40;
    const std::uint64_t syncs = kvforge_test::syncs_of_writers(db, threads, writes);
    const kvforge::stats s = db.stats();
    INFO(syncs << " syncs for " << s.puts << " acknowledged writes");
    CHECK(s.puts == threads * writes);
    CHECK(syncs < s.puts * 3 / 4);
    CHECK(db.size() == threads * writes);
}

TEMPLATE_TEST_CASE("two sync_each writers that keep writing share nearly every sync",
                   "[durability][sync_each][group_commit]", file_log, mmap_file) {
    // Without waiting for company, the writer whose record missed a sync leads the next one
    // at once, before the other is back with its next record: the two take turns, a sync each.
    using grouped = kvforge::store<std::string, std::string, TestType, kvforge::sync_each, kvforge::thread_safe,
                                   kvforge_test::slow_flush_io<>>;
    temp_dir dir;
    grouped db(dir / "db");
    constexpr int writes = 80;
    const std::uint64_t syncs = kvforge_test::syncs_of_writers(db, 2, writes / 2);
    INFO(syncs << " syncs for " << writes << " writes");
    CHECK(syncs <= writes * 2 / 3);
    CHECK(db.size() == writes);
}

TEMPLATE_TEST_CASE("stats().syncs counts the sync that makes an open's cut of a torn tail durable",
                   "[durability][stats][recovery]", file_log, mmap_file) {
    using counted = kvforge::store<std::string, std::string, TestType, kvforge::buffered<>, kvforge::single_thread,
                                   kvforge_test::sync_counting_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    {
        counted db(path);
        db.put("kept", "yes");
    }
    const std::string torn_record = "\x01\x02\x03\x04\x05\x06\x07";
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvlog") {
            write_file(entry.path(), read_file(entry.path()) + torn_record);
        }
    }
    kvforge_test::sync_counting_io io;
    counted db(path, kvforge::options{}, io);
    CHECK(db.stats().recovered_bytes_cut == torn_record.size());
    CHECK(db.get("kept") == std::optional<std::string>("yes"));
    CHECK(io.syncs->load() >= 1);
    CHECK(db.stats().syncs == io.syncs->load());
}

TEST_CASE("async_worker: sequence numbers, wait_durable and draining on close", "[durability][async_worker]") {
    using async_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>>;
    temp_dir dir;
    {
        async_store db(dir / "db");
        std::uint64_t last = 0;
        for (int i = 0; i < 1000; ++i) {
            const std::uint64_t sequence = db.put("key" + std::to_string(i), "value");
            CHECK(sequence == last + 1);
            last = sequence;
        }
        db.wait_durable(500);
        CHECK(db.durable_seq() >= 500);
        typename async_store::batch_type batch;
        batch.put("batched", "b");
        CHECK(db.write(batch) == last + 1);
    }  // the destructor drains the queue
    async_store db(dir / "db");
    CHECK(db.size() == 1001);
    CHECK(db.get("key999") == std::optional<std::string>("value"));
}

TEST_CASE("async_worker reports a failure of its thread on the next call", "[durability][async_worker][failure]") {
    using failing = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>, slow_disk_io>;
    temp_dir dir;
    slow_disk_io io;
    failing db(dir / "db", {}, io);
    const std::uint64_t good = db.put("good", "1");
    db.wait_durable(good);
    io.failures_left->store(1000);
    const std::uint64_t doomed = db.put("doomed", "2");
    std::error_code ec;
    db.wait_durable(doomed, ec);
    CHECK(ec == kvforge::errc::store_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("fdatasync"));
    db.put("refused", "3", ec);
    CHECK(ec == kvforge::errc::store_failed);
    CHECK(db.durable_seq() == good);
}

TEST_CASE("open removes an interrupted compaction's .tmp files and replays the segments it left", "[durability][compaction]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        kvforge::store<std::string, std::string, kvforge::file_log> db(path);
        db.put("k", "old");
        db.put("gone", "1");
        db.erase("gone");
    }
    // The segment compaction reads, as a crash after its output was published but before
    // the segment was removed would leave it.
    const std::string input = read_file(fs::path(path) / "data-0000000001.kvlog");
    {
        kvforge::store<std::string, std::string, kvforge::file_log> db(path);
        db.put("k", "v");
        db.compact();  // segments 1 and 2 in, output 3 out, 4 active
    }
    REQUIRE_FALSE(fs::exists(fs::path(path) / "data-0000000001.kvlog"));
    write_file(fs::path(path) / "data-0000000001.kvlog", input);
    // What a crash before the rename leaves.
    fs::copy_file(fs::path(path) / "data-0000000003.kvlog", fs::path(path) / "data-0000000005.kvlog.tmp");
    kvforge::store<std::string, std::string, kvforge::file_log> db(path);
    CHECK(db.get("k") == std::optional<std::string>("v"));
    CHECK_FALSE(db.contains("gone"));
    CHECK(db.size() == 1);
    CHECK_FALSE(fs::exists(fs::path(path) / "data-0000000005.kvlog.tmp"));
    CHECK(db.stats().segments == 3);
}
