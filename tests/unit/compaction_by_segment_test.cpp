// Compaction by segment: automatic compaction rewrites the closed segments with the
// largest share of dead bytes, keeps the erase records that older segments still need,
// and keeps per-segment dead bytes exact; a job writes a sorted store's records in key
// order and a hash store's in the order they lay in its inputs.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../support/data_file_records.hpp"
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

/// The keys of the puts in a store's data files, each file's in file order, the files in
/// the order of their names (a compaction's outputs are named in the order it wrote them).
std::vector<std::string> keys_in_file_order(const std::string& path) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.path().extension() == ".kvlog") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> keys;
    for (const std::filesystem::path& file : files) {
        for (kvforge_test::data_file_record& record : kvforge_test::data_file_records(file)) {
            REQUIRE(record.type == kvforge::detail::record_type::put);
            keys.push_back(std::move(record.key));
        }
    }
    return keys;
}

}  // namespace

TEMPLATE_TEST_CASE("compact() writes a hash store's records in the order they lay, a sorted store's in key order",
                   "[compaction][segments]", kvforge::file_log, kvforge::mmap_file) {
    temp_dir dir;
    kvforge::options opts = compaction_segments();
    opts.compact_dead_ratio = 0;  // no automatic job moves records before compact()
    // 600 keys put in scattered order over several segments, then every third put again:
    // the newest record of each key lies where its last put went.
    const auto fill = [](auto& db, std::vector<std::string>& last_put_order) {
        for (int pass = 0; pass < 2; ++pass) {
            for (int i = 0; i < 600; ++i) {
                if (pass == 1 && i % 3 != 0) continue;
                const std::string key = "key" + std::to_string((i * 7919) % 600);
                db.put(key, std::to_string(pass) + std::string(200, 'v'));
                last_put_order.erase(std::remove(last_put_order.begin(), last_put_order.end(), key),
                                     last_put_order.end());
                last_put_order.push_back(key);
            }
        }
        REQUIRE(db.stats().segments > 2);
        db.compact();
        CHECK(db.size() == 600);
    };
    SECTION("hash: the order of each key's last put, each input read front to back") {
        const std::string path = dir / "hash";
        kvforge::store<std::string, std::string, TestType, kvforge::hash_index> db(path, opts);
        std::vector<std::string> expected;
        fill(db, expected);
        CHECK(keys_in_file_order(path) == expected);
    }
    SECTION("sorted: key order") {
        const std::string path = dir / "sorted";
        kvforge::store<std::string, std::string, TestType, kvforge::sorted_index> db(path, opts);
        std::vector<std::string> last_put_order;
        fill(db, last_put_order);
        std::vector<std::string> expected = last_put_order;
        std::sort(expected.begin(), expected.end());
        CHECK(keys_in_file_order(path) == expected);
    }
}

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
