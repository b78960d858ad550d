// A segment rollover leaves the closed segment's hint to be written after the write
// that closed it: by the next write (single_thread) or on the compaction thread
// (thread_safe). close() writes the hints still pending, and the next open reads the
// segment from its hint; a segment retired before its hint was written gets none.
// A store reopened onto its last segment carries that segment's hint on into its next one.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/log/hint.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

constexpr const char* first_segment_data = "data-0000000001.kvlog";
constexpr const char* first_segment_hint = "data-0000000001.kvhint";

kvforge::options deferred_hint_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_dead_ratio = 0;  // no automatic compaction: the segments stay as written
    return opts;
}

std::string deferred_value(int i) { return "value" + std::to_string(i) + std::string(100, 'v'); }

/// Puts distinct keys until a put closes the first segment; returns how many were put.
template <class Store>
int put_until_rollover(Store& db) {
    int count = 0;
    while (db.stats().segments < 2) {
        REQUIRE(count < 10000);
        db.put("key" + std::to_string(count), deferred_value(count));
        ++count;
    }
    return count;
}

bool has_temporary_files(const fs::path& path) {
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().filename().string().find(".tmp") != std::string::npos) return true;
    }
    return false;
}

/// Damages a value in the first segment, whose records an open that reads them rejects;
/// an open served by its hint never reads them.
void damage_first_segment(const fs::path& path) {
    std::string bytes = read_file(path / first_segment_data);
    const std::size_t at = bytes.find("value3v");
    REQUIRE(at != std::string::npos);
    bytes[at] ^= 0x01;
    write_file(path / first_segment_data, bytes);
}

}  // namespace

TEMPLATE_TEST_CASE("a rollover leaves the closed segment's hint for later, and close writes it", "[hint][segments]",
                   kvforge::single_thread, kvforge::thread_safe) {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, TestType>;
    temp_dir dir;
    const fs::path path = dir / "db";
    int count = 0;
    {
        store_type db(path.string(), deferred_hint_segments());
        count = put_until_rollover(db);
        if constexpr (std::is_same_v<TestType, kvforge::single_thread>) {
            // The put that closed the segment did not write its hint.
            CHECK_FALSE(fs::exists(path / first_segment_hint));
        }
        db.close();
    }
    REQUIRE(fs::exists(path / first_segment_hint));
    CHECK_FALSE(has_temporary_files(path));

    damage_first_segment(path);
    store_type db(path.string(), deferred_hint_segments());
    CHECK(db.size() == static_cast<std::size_t>(count));
    CHECK(db.get("key0") == std::optional<std::string>(deferred_value(0)));
    CHECK(db.get("key" + std::to_string(count - 1)) == std::optional<std::string>(deferred_value(count - 1)));
    std::error_code ec;
    CHECK_FALSE(db.get("key3", ec));
    CHECK(ec == kvforge::errc::corrupt_record);
}

TEST_CASE("with single_thread, the write after a rollover writes the closed segment's hint", "[hint][segments]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::single_thread>;
    temp_dir dir;
    const fs::path path = dir / "db";
    store_type db(path.string(), deferred_hint_segments());
    const int count = put_until_rollover(db);
    const std::uint64_t disk_before = db.stats().disk_bytes;
    REQUIRE_FALSE(fs::exists(path / first_segment_hint));

    db.put("one more", "value");
    REQUIRE(fs::exists(path / first_segment_hint));
    CHECK_FALSE(has_temporary_files(path));
    // stats() counts the hint's bytes once it is on disk.
    CHECK(db.stats().disk_bytes >= disk_before + fs::file_size(path / first_segment_hint));
    CHECK(db.size() == static_cast<std::size_t>(count) + 1);
}

TEST_CASE("a segment retired before its hint was written gets none", "[hint][segments]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::single_thread>;
    temp_dir dir;
    const fs::path path = dir / "db";
    int count = 0;
    {
        store_type db(path.string(), deferred_hint_segments());
        count = put_until_rollover(db);
        REQUIRE_FALSE(fs::exists(path / first_segment_hint));
        db.compact();  // retires the first segment, its hint still pending
        CHECK_FALSE(fs::exists(path / first_segment_data));
        db.put("after", "compaction");
        db.close();
    }
    CHECK_FALSE(fs::exists(path / first_segment_data));
    CHECK_FALSE(fs::exists(path / first_segment_hint));
    CHECK_FALSE(has_temporary_files(path));
    store_type db(path.string(), deferred_hint_segments());
    CHECK(db.size() == static_cast<std::size_t>(count) + 1);
    CHECK(db.get("key3") == std::optional<std::string>(deferred_value(3)));
}

TEST_CASE("a store reopened onto its last segment lists that segment's earlier records and its new ones in its hint",
          "[hint][segments]") {
    namespace kd = kvforge::detail;
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::single_thread>;
    temp_dir dir;
    const fs::path path = dir / "db";
    std::vector<std::pair<kd::record_type, std::string>> expected;
    const auto put = [&](store_type& db, int i, int round) {
        db.put("key" + std::to_string(i), deferred_value(i + round));
        expected.emplace_back(kd::record_type::put, "key" + std::to_string(i));
    };
    const auto erase = [&](store_type& db, int i) {
        REQUIRE(db.erase("key" + std::to_string(i)));
        expected.emplace_back(kd::record_type::erase, "key" + std::to_string(i));
    };
    {
        store_type db(path.string());
        for (int i = 0; i < 100; ++i) put(db, i, 0);
        erase(db, 5);
    }
    {
        // Appends to the same segment, whose hint so far was read at open.
        store_type db(path.string());
        for (int i = 100; i < 150; ++i) put(db, i, 0);
        put(db, 1, 7);
        erase(db, 7);
        CHECK(db.stats().segments == 1);
    }

    const std::string data = read_file(path / first_segment_data);
    kd::file_header header;
    REQUIRE(kd::file_header::decode(data, kd::file_kind::data, header) == kd::file_header::problem::none);
    const kd::hint_identity identity{header.generation, header.codec_fingerprint, header.file_id,
                                     kd::file_header::size_of(header.version)};
    std::vector<std::pair<kd::record_type, std::string>> listed;
    const std::uint64_t covered = kd::read_hint(
        read_file(path / first_segment_hint), identity, data.size(), [](std::uint64_t, std::uint64_t) {},
        [&](const kd::hint_entry& entry) { listed.emplace_back(entry.type, std::string(entry.key)); });
    CHECK(covered == data.size());
    CHECK(listed == expected);

    // The next open reads that hint, and finds what was written.
    store_type db(path.string());
    CHECK(db.size() == 148);
    CHECK(db.get("key1") == std::optional<std::string>(deferred_value(8)));
    CHECK(db.get("key149") == std::optional<std::string>(deferred_value(149)));
    CHECK_FALSE(db.get("key5"));
    CHECK_FALSE(db.get("key7"));
}
