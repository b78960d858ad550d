// file_log reads the records of closed segments, and those the active one held at the
// open, through read-only mappings of exactly those bytes; the records appended since
// with pread. The values read back the same every way, stats().mapped_bytes says what
// is mapped, and a mapping outlives compaction for whoever still holds its segment
// (a snapshot, a reader under the lock).

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;
namespace fs = std::filesystem;

namespace {

using log_store_st = kvforge::store<std::string, std::string, kvforge::file_log>;
using log_store_mt = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe>;

kvforge::options mapping_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_dead_ratio = 0;  // compaction only when asked
    return opts;
}

std::string mapping_key(int i) { return "key" + std::to_string(i); }
std::string mapping_value(int i, char fill) { return std::string(100, fill) + std::to_string(i); }

/// The bytes of the store's data files but the newest (the active one's).
std::uint64_t closed_segment_bytes(const fs::path& directory) {
    std::uint64_t total = 0;
    std::uint64_t newest = 0;
    fs::path newest_path;
    for (const auto& entry : fs::directory_iterator(directory)) {
        if (entry.path().extension() != ".kvlog") continue;
        total += entry.file_size();
        if (newest_path.empty() || entry.path().filename() > newest_path.filename()) {
            newest_path = entry.path();
            newest = entry.file_size();
        }
    }
    return total - newest;
}

template <class Store>
void check_values(Store& db, int count, char fill) {
    std::string buffer;
    for (int i = 0; i < count; ++i) {
        const std::string expected = mapping_value(i, fill);
        REQUIRE(db.get(mapping_key(i)) == std::optional<std::string>(expected));
        REQUIRE(db.get(mapping_key(i), buffer));
        REQUIRE(buffer == expected);
        std::string seen;
        REQUIRE(db.visit(mapping_key(i), [&](std::string_view value) { seen.assign(value); }));
        REQUIRE(seen == expected);
    }
}

}  // namespace

TEST_CASE("file_log maps its closed segments and reads them back", "[file_log][mapping]") {
    temp_dir dir;
    log_store_st db(dir / "db", mapping_segments());
    CHECK(db.stats().mapped_bytes == 0);  // only the active segment, empty at the open
    constexpr int count = 2000;           // about 250 KB: three closed segments and more
    for (int i = 0; i < count; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    db.flush();
    const kvforge::stats s = db.stats();
    CHECK(s.segments >= 4);
    CHECK(s.mapped_bytes == closed_segment_bytes(dir / "db"));
    check_values(db, count, 'a');
}

TEST_CASE("file_log maps what the active segment held at the open; appends are read with pread",
          "[file_log][mapping]") {
    temp_dir dir;
    {
        log_store_st db(dir / "db", mapping_segments());
        for (int i = 0; i < 100; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    }
    log_store_st db(dir / "db", mapping_segments());
    const std::uint64_t at_open = fs::file_size(fs::path(dir / "db") / "data-0000000001.kvlog");
    CHECK(db.stats().segments == 1);
    CHECK(db.stats().mapped_bytes == at_open);
    for (int i = 100; i < 200; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    db.flush();
    CHECK(db.stats().mapped_bytes == at_open);  // appended records lie past the mapping
    check_values(db, 200, 'a');
    for (int i = 200; i < 1000; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));  // closes it: mapped whole
    db.flush();
    CHECK(db.stats().mapped_bytes == closed_segment_bytes(dir / "db"));
    check_values(db, 1000, 'a');
}

TEST_CASE("a snapshot reads mapped segments that compaction retired", "[file_log][mapping]") {
    temp_dir dir;
    log_store_st db(dir / "db", mapping_segments());
    constexpr int count = 1500;
    for (int i = 0; i < count; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    const auto snap = db.snapshot();
    for (int i = 0; i < count; ++i) db.put(mapping_key(i), mapping_value(i, 'b'));
    db.compact();  // every segment the snapshot holds is retired and its file removed
    CHECK_FALSE(fs::exists(fs::path(dir / "db") / "data-0000000001.kvlog"));
    check_values(db, count, 'b');
    for (int i = 0; i < count; ++i) {
        REQUIRE(snap.get(mapping_key(i)) == std::optional<std::string>(mapping_value(i, 'a')));
    }
    std::size_t seen = 0;
    snap.for_each([&](const std::string& key, const std::string& value) {
        CHECK(value == mapping_value(std::stoi(key.substr(3)), 'a'));
        ++seen;
    });
    CHECK(seen == count);
}

TEST_CASE("a visit holds its mapped bytes while another thread compacts", "[file_log][mapping][threads]") {
    temp_dir dir;
    log_store_mt db(dir / "db", mapping_segments());
    constexpr int count = 1500;
    for (int i = 0; i < count; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    for (int i = 1; i < count; ++i) db.put(mapping_key(i), mapping_value(i, 'b'));  // key0's record stays in segment 1
    db.flush();

    std::mutex m;
    std::condition_variable changed;
    bool visiting = false;
    std::atomic<bool> compacted{false};
    std::thread compactor([&] {
        {
            std::unique_lock lock(m);
            if (!changed.wait_for(lock, std::chrono::seconds(10), [&] { return visiting; })) return;
        }
        db.compact();  // waits for the visit, then retires segment 1
        compacted = true;
    });
    std::string before;
    std::string after;
    const bool found = db.visit(mapping_key(0), [&](std::string_view value) {
        before.assign(value);
        {
            const std::lock_guard lock(m);
            visiting = true;
        }
        changed.notify_all();
        after.assign(value);  // the view is still good: compaction cannot retire its segment yet
    });
    compactor.join();
    CHECK(found);
    CHECK(compacted);
    CHECK(before == mapping_value(0, 'a'));
    CHECK(after == before);
    CHECK_FALSE(fs::exists(fs::path(dir / "db") / "data-0000000001.kvlog"));
    check_values(db, 1, 'a');
    CHECK(db.get(mapping_key(1)) == std::optional<std::string>(mapping_value(1, 'b')));
}

TEST_CASE("mmap_file reports its mappings, which reach past its files", "[mmap_file][mapping]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::mmap_file> db(dir / "db", mapping_segments());
    for (int i = 0; i < 1000; ++i) db.put(mapping_key(i), mapping_value(i, 'a'));
    db.flush();
    std::uint64_t data_bytes = 0;
    for (const auto& entry : fs::directory_iterator(dir / "db")) {
        if (entry.path().extension() == ".kvlog") data_bytes += entry.file_size();
    }
    CHECK(db.stats().mapped_bytes >= data_bytes);
    check_values(db, 1000, 'a');
}
