// stats().bytes_written and stats().segments on every configuration: the bytes a store
// writes are those its files grow by, compaction's output included; stores without files
// (memory, redis_cluster) write none.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// The bytes of the data files (segments) in directory; fails the test when there is none.
/// (This and the next are unused where no configuration has files.)
[[maybe_unused]] std::uint64_t data_file_size(const std::string& directory) {
    std::uint64_t size = 0;
    int found = 0;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvlog") {
            size += entry.file_size();
            ++found;
        }
    }
    REQUIRE(found >= 1);
    return size;
}

/// The bytes of the hint files in directory, 0 when there is none.
[[maybe_unused]] std::uint64_t hint_file_size(const std::string& directory) {
    std::uint64_t size = 0;
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
        if (entry.path().extension() == ".kvhint") size += entry.file_size();
    }
    return size;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("bytes_written counts every byte written to the store's files", "[conformance][stats]",
                        all_configs) {
    test_store<TestType> db;
    if constexpr (!has_files<TestType>) {
        for (int i = 0; i < 100; ++i) db->put("key" + std::to_string(i), std::string(50, 'v'));
        const kvforge::stats s = db->stats();
        CHECK(s.bytes_written == 0);
        CHECK(s.segments == 0);
        CHECK(s.disk_bytes == 0);
    } else {
        const std::string path = db.path();
        const kvforge::stats opened = db->stats();
        CHECK(opened.segments == 1);
        // A new store wrote its data file's header and its MANIFEST.
        CHECK(opened.bytes_written == data_file_size(path) + std::filesystem::file_size(path + "/MANIFEST"));

        const std::uint64_t size_before = data_file_size(path);
        typename TestType::batch_type batch;
        for (int i = 0; i < 100; ++i) {
            db->put("key" + std::to_string(i), std::string(50, 'v'));
            if (i % 10 == 0) batch.put("batch" + std::to_string(i), "b");
            if (i % 20 == 0) db->erase("key" + std::to_string(i));
        }
        db->write(batch);
        db->sync();
        const kvforge::stats written = db->stats();
        REQUIRE(written.compactions == 0);  // too few bytes for the suite's automatic compaction
        CHECK(written.bytes_written - opened.bytes_written == data_file_size(path) - size_before);
        CHECK(written.segments == 1);

        db->compact();
        const kvforge::stats compacted = db->stats();
        REQUIRE(compacted.compactions == 1);
        // The output segment and its hint (when one was written), and the new active segment.
        CHECK(compacted.bytes_written - written.bytes_written == data_file_size(path) + hint_file_size(path));
        CHECK(compacted.segments == 2);

        db.reopen();
        CHECK(db->stats().bytes_written == 0);  // counted from the open on; nothing written since
        CHECK(db->stats().segments == 2);
    }
}
