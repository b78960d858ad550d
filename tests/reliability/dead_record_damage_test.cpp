// Damage in dead records is compacted away (LevelDB's corruption test
// "CompactionInputError"): a record is damaged on disk, then every key is written
// again. Compaction knows which records are live (the index points at them): it copies
// those, drops the damaged dead bytes with their segment and counts them in
// stats().damaged_bytes_dropped; verify() is clean afterwards and every value is right.
// Damage to a live record still fails compaction, and loses nothing.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

using damage_configs = std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                                 kvforge::sync_each, kvforge::single_thread>,
                                  kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index,
                                                 kvforge::buffered<>, kvforge::thread_safe>,
                                  kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index,
                                                 kvforge::async_worker<>, kvforge::thread_safe>,
                                  kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                                 kvforge::sync_each, kvforge::single_thread>>;

constexpr int record_key_count = 100;
const std::string rotting = "the first value of key37, which rots on disk";

std::string record_key(int i) { return "key" + std::to_string(i); }
std::string first(int i) { return i == 37 ? rotting : "first-" + std::to_string(i); }
std::string second(int i) { return "second-" + std::to_string(i); }

/// Writes every key once and closes the store (its hint then covers the whole log, so
/// reopening reads no record); flips a byte in the value of the record holding `value`.
template <class Store>
void write_and_damage(const std::string& path, const kvforge::options& opts, const std::string& value) {
    {
        Store db(path, opts);
        for (int i = 0; i < record_key_count; ++i) db.put(record_key(i), first(i));
    }
    const std::string data = path + "/data-0000000001.kvlog";
    std::string bytes = read_file(data);
    const std::size_t at = bytes.find(value);
    REQUIRE(at != std::string::npos);
    bytes[at + 5] ^= 0x40;
    write_file(data, bytes);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("compact() drops damage in dead records and counts it", "[dead_record_damage]",
                        damage_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.compact_dead_ratio = 0;  // only the explicit compact()
    write_and_damage<TestType>(path, opts, rotting);
    std::optional<TestType> db(std::in_place, path, opts);
    for (int i = 0; i < record_key_count; ++i) db->put(record_key(i), second(i));
    CHECK_FALSE(db->verify().ok());

    std::error_code ec;
    db->compact(ec);
    REQUIRE_FALSE(ec);
    const kvforge::stats s = db->stats();
    CHECK(s.compaction_failures == 0);
    // The damaged record's bytes: its value and the key and header around it.
    CHECK(s.damaged_bytes_dropped >= rotting.size() + 5);
    CHECK(s.damaged_bytes_dropped <= rotting.size() + 64);
    CHECK(s.dead_bytes == 0);
    CHECK(db->verify().ok());
    for (int i = 0; i < record_key_count; ++i) REQUIRE(db->get(record_key(i)) == second(i));

    db.reset();
    db.emplace(path, opts);
    CHECK(db->verify().ok());
    CHECK(db->size() == static_cast<std::size_t>(record_key_count));
    for (int i = 0; i < record_key_count; ++i) REQUIRE(db->get(record_key(i)) == second(i));
}

TEMPLATE_LIST_TEST_CASE("automatic compaction drops damage in dead records", "[dead_record_damage]",
                        damage_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.compact_min_bytes = 64 << 10;
    opts.segment_bytes = 64 << 10;
    write_and_damage<TestType>(path, opts, rotting);
    TestType db(path, opts);
    const std::string padding(200, 'x');
    for (int round = 0; round < 20; ++round) {
        for (int i = 0; i < record_key_count; ++i) db.put(record_key(i), second(i) + padding);
    }
    // With thread_safe the jobs run on the compaction thread: wait for the one that
    // retires the damaged segment.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (db.stats().damaged_bytes_dropped == 0 && db.stats().compaction_failures == 0) {
        REQUIRE(std::chrono::steady_clock::now() < give_up);
    }
    const kvforge::stats s = db.stats();
    CHECK(s.compaction_failures == 0);
    CHECK(s.last_compaction_error.empty());
    CHECK(s.damaged_bytes_dropped >= rotting.size() + 5);
    CHECK(db.verify().ok());
    for (int i = 0; i < record_key_count; ++i) REQUIRE(db.get(record_key(i)) == second(i) + padding);
}

TEMPLATE_LIST_TEST_CASE("compaction still fails on damage to a live record", "[dead_record_damage]",
                        damage_configs) {
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.compact_dead_ratio = 0;
    write_and_damage<TestType>(path, opts, rotting);
    TestType db(path, opts);
    // Every key but the damaged one is written again: its damaged record stays live.
    for (int i = 0; i < record_key_count; ++i) {
        if (i != 37) db.put(record_key(i), second(i));
    }
    std::error_code ec;
    db.compact(ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("data-0000000001.kvlog"));
    const kvforge::stats s = db.stats();
    CHECK(s.compaction_failures == 1);
    CHECK(s.damaged_bytes_dropped == 0);
    CHECK_FALSE(db.verify().ok());
    // Nothing was lost: the others read back, and the damaged value is an error, never a wrong value.
    for (int i = 0; i < record_key_count; ++i) {
        if (i != 37) REQUIRE(db.get(record_key(i)) == second(i));
    }
    std::error_code read_error;
    CHECK_FALSE(db.get(record_key(37), read_error).has_value());
    CHECK(read_error == kvforge::errc::corrupt_record);
}
