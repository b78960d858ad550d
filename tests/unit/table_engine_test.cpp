// table_engine, the engine of a disk_index store: the pieces of stores/table/ working as one
// store through flushes, compactions, reopens and power losses.

#include <catch2/catch.hpp>

#include <fcntl.h>

#include <kvforge/durability/buffered.hpp>
#include <kvforge/durability/sync_each.hpp>
#include <kvforge/io/posix.hpp>
#include <kvforge/io/simulated.hpp>
#include <kvforge/stores/table/table_engine.hpp>

#include "../support/temp_dir.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace kd = kvforge::detail;

namespace {

using posix_engine = kd::table_engine<kvforge::posix_io, kvforge::buffered<>::writer<kvforge::posix_io, false>,
                                      kvforge::uncompressed_blocks>;

std::string engine_key(std::uint64_t i) {
    char key[24];
    std::snprintf(key, sizeof key, "e%010llu", static_cast<unsigned long long>(i));
    return key;
}

/// What a store<std::string, std::string, file_log, disk_index> records in its MANIFEST.
kvforge::composition engine_composition() {
    kvforge::composition c;
    c.store = "file_log";
    c.index = "disk_index";
    c.durability = "buffered";
    c.key_codec = c.value_codec = "bytes";
    return c;
}

kd::table_engine_options small_engine() {
    kd::table_engine_options options;
    options.write_buffer_bytes = 256 << 10;
    options.limits.level0_tables = 4;
    options.limits.level1_bytes = 1 << 20;
    options.limits.ratio = 4;
    options.limits.table_bytes = 256 << 10;
    return options;
}

/// The log files of a store's directory, oldest first.
std::vector<std::filesystem::path> log_files(const std::filesystem::path& directory) {
    std::vector<std::filesystem::path> logs;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog") logs.push_back(entry.path());
    }
    std::sort(logs.begin(), logs.end());
    return logs;
}

/// The records an engine's open read back from its logs.
template <class Engine>
std::uint64_t recovered_records(const Engine& engine) {
    kvforge::stats s;
    engine.add_stats(s);
    return s.recovered_records;
}

/// posix_io, but the creation of a table file fails with ENOSPC once refuse is set.
struct table_refusing_io : kvforge::posix_io {
    std::shared_ptr<std::atomic<bool>> refuse = std::make_shared<std::atomic<bool>>(false);

    int open(const char* path, int flags, mode_t mode) noexcept {
        if ((flags & O_CREAT) != 0 && std::string_view(path).ends_with(".kvtable") && refuse->load()) {
            errno = ENOSPC;
            return -1;
        }
        return kvforge::posix_io::open(path, flags, mode);
    }
};

template <class Engine>
void check_engine(Engine& engine, const std::map<std::string, std::string>& model, std::uint64_t keys) {
    std::error_code ec;
    std::string value;
    for (std::uint64_t i = 0; i < keys; ++i) {
        const auto it = model.find(engine_key(i));
        REQUIRE(engine.get(engine_key(i), value, ec) == (it != model.end()));
        REQUIRE_FALSE(ec);
        if (it != model.end()) REQUIRE(value == it->second);
    }
    auto expected = model.begin();
    REQUIRE(engine.scan(
        [&](std::string_view key, std::string_view v) {
            REQUIRE(expected != model.end());
            REQUIRE(key == expected->first);
            REQUIRE(v == expected->second);
            ++expected;
        },
        ec));
    REQUIRE(expected == model.end());
}

}  // namespace

TEST_CASE("table engine: puts, overwrites and erases through flushes, compactions and reopens", "[table][engine]") {
    kvforge_test::temp_dir dir;
    std::map<std::string, std::string> model;
    std::mt19937_64 random(3);
    const std::uint64_t keys = 20000;
    std::error_code ec;
    for (int round = 0; round < 3; ++round) {
        posix_engine engine;
        REQUIRE(engine.open({}, dir.path().string(), engine_composition(), small_engine(), ec));
        check_engine(engine, model, keys);
        for (int i = 0; i < 40000; ++i) {
            const std::string key = engine_key(random() % keys);
            if (random() % 8 == 0) {
                REQUIRE(engine.erase(key, ec) == (model.erase(key) == 1));
                REQUIRE_FALSE(ec);
            } else {
                const std::string value = std::string(random() % 100, 'v') + std::to_string(i);
                REQUIRE(engine.put(key, value, ec));
                model[key] = value;
            }
        }
        check_engine(engine, model, keys);
        CHECK(engine.levels().table_count() > 0);
        REQUIRE(engine.close(ec));
    }
}

TEST_CASE("table engine: a power loss keeps every write sync_each acknowledged", "[table][engine]") {
    using engine_type = kd::table_engine<kvforge::simulated_io, kvforge::sync_each::writer<kvforge::simulated_io, false>,
                                         kvforge::uncompressed_blocks>;
    kd::table_engine_options options = small_engine();
    options.write_buffer_bytes = 64 << 10;
    for (std::uint64_t stop = 50; stop < 3000; stop += 97) {
        CAPTURE(stop);
        auto fs = std::make_shared<kvforge::simulated_file_system>();
        std::map<std::string, std::string> acknowledged;
        std::string failed_key, failed_value;  // the put that failed may have reached the disk
        {
            engine_type engine;
            std::error_code ec;
            REQUIRE(engine.open(kvforge::simulated_io(fs), "/db", engine_composition(), options, ec));
            fs->freeze_at(fs->calls() + stop);
            for (int i = 0; i < 3000; ++i) {
                const std::string key = engine_key(static_cast<std::uint64_t>(i * 7919 % 1000));
                const std::string value(40, static_cast<char>('a' + i % 26));
                if (!engine.put(key, value, ec)) {
                    failed_key = key;
                    failed_value = value;
                    break;
                }
                acknowledged[key] = value;
            }
        }
        for (const auto tail : {kvforge::crash_tail::dropped, kvforge::crash_tail::torn}) {
            engine_type engine;
            std::error_code ec;
            REQUIRE(engine.open(kvforge::simulated_io(fs->after_crash(tail, stop)), "/db", engine_composition(),
                                options, ec));
            std::string value;
            for (const auto& [key, expected] : acknowledged) {
                REQUIRE(engine.get(key, value, ec));
                REQUIRE((value == expected || (key == failed_key && value == failed_value)));
            }
        }
    }
}

TEST_CASE("table engine: with background jobs, writers are asked to wait once a second buffer is full",
          "[table][engine][memory]") {
    kvforge_test::temp_dir dir;
    std::error_code ec;
    kd::table_engine_options options = small_engine();
    options.background = true;  // the jobs wait for the caller's thread: none runs here until asked
    posix_engine engine;
    REQUIRE(engine.open({}, dir.path().string(), engine_composition(), options, ec));
    // The write buffers' memory: no table holds records yet, and there is no block cache.
    const auto buffers = [&engine] {
        kvforge::stats s;
        engine.add_stats(s);
        return s.memory_bytes;
    };
    const std::string value(200, 'v');
    std::uint64_t puts = 0;
    std::uint64_t largest_step = 0;  // what one put added, at most
    while (!engine.must_wait()) {
        const std::uint64_t before = buffers();
        REQUIRE(engine.put(engine_key(puts++), value, ec));
        largest_step = std::max(largest_step, buffers() - std::min(before, buffers()));
        REQUIRE(puts < 100000);
    }
    // One buffer frozen at the put that filled it, and a second as full: the writers wait
    // with two buffers' worth in memory, and not more.
    INFO(puts << " puts, " << buffers() << " bytes in the buffers, " << largest_step << " at most a put");
    CHECK(engine.take_job_due());
    CHECK(buffers() >= 2 * options.write_buffer_bytes);
    CHECK(buffers() <= 2 * (options.write_buffer_bytes + largest_step));
    // The flush the thread would run lets them go on.
    REQUIRE(engine.run_jobs(false, [] { return 0; }, [] { return true; }, ec));
    CHECK_FALSE(engine.must_wait());
    CHECK(engine.levels().table_count() > 0);
    REQUIRE(engine.close(ec));
}

TEST_CASE("table engine: the newest log, written while the one before waits for its flush, is missed by no open",
          "[table][engine][damage]") {
    namespace fs = std::filesystem;
    kvforge_test::temp_dir dir;
    const fs::path path = dir.path() / "store";
    const fs::path copy = dir.path() / "copy";
    std::error_code ec;
    kd::table_engine_options options = small_engine();
    options.background = true;  // the jobs wait for the caller's thread: none runs here until asked
    posix_engine engine;
    REQUIRE(engine.open({}, path.string(), engine_composition(), options, ec));
    const std::string value(200, 'v');
    std::uint64_t puts = 0;
    while (!engine.take_job_due()) {
        REQUIRE(engine.put(engine_key(puts++), value, ec));
        REQUIRE(puts < 100000);
    }
    const std::uint64_t frozen = puts;  // in the frozen buffer and its log
    for (int i = 0; i < 100; ++i) REQUIRE(engine.put(engine_key(puts++), value, ec));
    engine.sync(ec);
    REQUIRE_FALSE(ec);
    // The store as a power loss now leaves it, its flush not begun: two logs, the newest
    // holding the synced writes after the freeze.
    fs::copy(path, copy);
    const std::vector<fs::path> logs = log_files(copy);
    REQUIRE_FALSE(logs.empty());
    const fs::path newest = logs.back();
    {
        posix_engine whole;
        kd::table_engine_options plain = small_engine();
        REQUIRE(whole.open({}, copy.string(), engine_composition(), plain, ec));
        std::string found;
        CHECK(whole.get(engine_key(puts - 1), found, ec));
        CHECK(whole.size() == puts);
        REQUIRE(whole.close(ec));
    }
    fs::remove_all(copy);
    fs::copy(path, copy);
    fs::remove(newest);
    kd::table_engine_options plain = small_engine();
    {
        posix_engine refused;
        CHECK_FALSE(refused.open({}, copy.string(), engine_composition(), plain, ec));
        CHECK(ec == kvforge::errc::corrupt_header);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(newest.string() + " is missing, though") &&
                                                      Catch::Contains("TABLES names it as the newest log"));
    }
    // Salvage keeps the records of the log before it.
    plain.salvage = true;
    posix_engine salvaged;
    REQUIRE(salvaged.open({}, copy.string(), engine_composition(), plain, ec));
    CHECK(salvaged.size() == frozen);
    REQUIRE(salvaged.close(ec));
    REQUIRE(engine.close(ec));
}

TEST_CASE("table engine: a close writes both buffers into tables, and leaves an empty log for the next open",
          "[table][engine]") {
    namespace fs = std::filesystem;
    kvforge_test::temp_dir dir;
    const fs::path path = dir.path() / "store";
    std::error_code ec;
    kd::table_engine_options options = small_engine();
    options.background = true;      // no job runs before the close: one buffer frozen, one filling
    options.close_flush_bytes = 0;  // whatever the logs hold
    const std::string value(200, 'v');
    std::uint64_t puts = 0;
    {
        posix_engine engine;
        REQUIRE(engine.open({}, path.string(), engine_composition(), options, ec));
        while (!engine.take_job_due()) REQUIRE(engine.put(engine_key(puts++), value, ec));
        for (int i = 0; i < 100; ++i) REQUIRE(engine.put(engine_key(puts++), value, ec));
        CHECK(engine.levels().table_count() == 0);
        REQUIRE(engine.close(ec));
    }
    const std::vector<fs::path> logs = log_files(path);
    REQUIRE(logs.size() == 1);
    CHECK(fs::file_size(logs[0]) == kd::file_header::size);  // a header, and no record
    posix_engine reopened;
    REQUIRE(reopened.open({}, path.string(), engine_composition(), small_engine(), ec));
    CHECK(recovered_records(reopened) == 0);
    CHECK(reopened.levels().table_count() == 2);  // the frozen buffer's, and the last one's
    CHECK(reopened.size() == puts);
    std::string found;
    CHECK(reopened.get(engine_key(puts - 1), found, ec));
    CHECK(found == value);
    REQUIRE(reopened.close(ec));
}

TEST_CASE("table engine: a close whose flush fails records both logs' sizes; a cut in either is found",
          "[table][engine][damage]") {
    namespace fs = std::filesystem;
    using refusing_engine = kd::table_engine<table_refusing_io, kvforge::buffered<>::writer<table_refusing_io, false>,
                                             kvforge::uncompressed_blocks>;
    kvforge_test::temp_dir dir;
    const fs::path path = dir.path() / "store";
    std::error_code ec;
    kd::table_engine_options options = small_engine();
    options.background = true;  // no job runs: the frozen buffer waits for the close's flush
    options.close_flush_bytes = 0;
    const std::string value(200, 'v');
    std::uint64_t puts = 0;
    {
        table_refusing_io io;
        refusing_engine engine;
        REQUIRE(engine.open(io, path.string(), engine_composition(), options, ec));
        while (!engine.take_job_due()) REQUIRE(engine.put(engine_key(puts++), value, ec));
        for (int i = 0; i < 100; ++i) REQUIRE(engine.put(engine_key(puts++), value, ec));
        io.refuse->store(true);
        CHECK_FALSE(engine.close(ec));
        CHECK(ec == std::errc::no_space_on_device);
    }
    const std::vector<fs::path> logs = log_files(path);
    REQUIRE(logs.size() == 2);
    // Each log's last record: a checksum, a type, the key's size, the value's (two bytes),
    // the key, the value.
    const std::uint64_t record = 4 + 1 + 1 + 2 + engine_key(0).size() + value.size();
    for (const fs::path& log : logs) {
        INFO(log);
        const fs::path copy = dir.path() / "copy";
        fs::remove_all(copy);
        fs::copy(path, copy);
        const fs::path cut = copy / log.filename();
        fs::resize_file(cut, fs::file_size(cut) - record);
        posix_engine refused;
        CHECK_FALSE(refused.open({}, copy.string(), engine_composition(), small_engine(), ec));
        CHECK(ec == kvforge::errc::corrupt_record);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(cut.string() + " is cut short"));
    }
    // Whole, the store opens with every record of both logs.
    posix_engine whole;
    REQUIRE(whole.open({}, path.string(), engine_composition(), small_engine(), ec));
    CHECK(whole.size() == puts);
    CHECK(recovered_records(whole) == puts);
    REQUIRE(whole.close(ec));
}

TEST_CASE("table engine: an open that is refused leaves the store unlocked", "[table][engine]") {
    kvforge_test::temp_dir dir;
    const std::string path = (dir.path() / "store").string();
    std::error_code ec;
    {
        posix_engine made;
        REQUIRE(made.open({}, path, engine_composition(), small_engine(), ec));
        REQUIRE(made.put("kept", "value", ec));
        REQUIRE(made.close(ec));
    }
    kvforge::composition other = engine_composition();
    other.value_codec = "u64";
    posix_engine refused;  // alive while the next open runs, as an engine a caller keeps
    REQUIRE_FALSE(refused.open({}, path, other, small_engine(), ec));
    REQUIRE(ec == kvforge::errc::codec_mismatch);
    posix_engine reopened;
    REQUIRE(reopened.open({}, path, engine_composition(), small_engine(), ec));
    std::string value;
    CHECK(reopened.get("kept", value, ec));
    CHECK(value == "value");
    REQUIRE(reopened.close(ec));
}
