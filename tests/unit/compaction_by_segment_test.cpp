// Compaction by segment: automatic compaction rewrites the closed segments with the
// largest share of dead bytes, keeps the erase records that older segments still need,
// and keeps per-segment dead bytes exact.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;

namespace {

kvforge::options compaction_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_min_bytes = std::uint64_t{64} << 10;
    return opts;
}

std::size_t data_file_count(const std::string& path) {
    std::size_t count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) count += entry.path().extension() == ".kvlog";
    return count;
}

}  // namespace

TEMPLATE_TEST_CASE("automatic compaction rewrites the most dead segments and keeps the store small",
                   "[compaction][segments]", kvforge::file_log, kvforge::mmap_file) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::uint64_t dead = 0;
    {
        store_type db(path, compaction_segments());
        // 500 keys of about 130 bytes each (65 KB live), overwritten 40 times: 2.6 MB written.
        for (int round = 0; round < 40; ++round) {
            for (int i = 0; i < 500; ++i) {
                const std::string key = "key" + std::to_string((i * 7919 + round) % 500);
                const std::string value = std::to_string(round) + std::string(120, 'v');
                db.put(key, value);
                model[key] = value;
            }
        }
        const kvforge::stats s = db.stats();
        CHECK(s.compactions > 5);
        CHECK(s.compaction_failures == 0);
        CHECK(s.segments == data_file_count(path));
        // The files stay within a few segments of the live bytes, not the 2.6 MB written.
        CHECK(s.disk_bytes < 4 * s.live_bytes);
        dead = s.dead_bytes;
    }
    store_type db(path, compaction_segments());
    // Dead bytes are kept exactly: the reopened store counts the same.
    CHECK(db.stats().dead_bytes == dead);
    CHECK(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    CHECK(db.verify().ok());
}

TEMPLATE_TEST_CASE("a job keeps an erase record while an older segment it did not read holds the key",
                   "[compaction][segments]", kvforge::file_log, kvforge::mmap_file) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::hash_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts = compaction_segments();
    {
        store_type db(path, opts);
        // Two segments of records that stay live (too many for one job to read), with
        // "erased" among the first.
        db.put("erased", "an old value");
        for (int i = 0; db.stats().segments < 3; ++i) {
            db.put("kept" + std::to_string(i), std::string(200, 'k'));
        }
        // The next segment: the erase, then overwrites of one key (a large dead share).
        db.erase("erased");
        const std::uint64_t compactions = db.stats().compactions;
        for (int i = 0; db.stats().compactions == compactions; ++i) {
            REQUIRE(i < 100000);
            db.put("hot", std::to_string(i) + std::string(200, 'h'));
        }
        CHECK_FALSE(db.contains("erased"));
    }
    // The first segment, which holds the old put, is still there; the erase must be too.
    store_type db(path, opts);
    CHECK_FALSE(db.contains("erased"));
    CHECK(db.contains("kept0"));
    CHECK(db.verify().ok());
}
