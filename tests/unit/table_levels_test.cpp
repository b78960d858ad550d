// Tables by level (stores/table/table_levels.hpp, table_merge.hpp, table_list.hpp): flushes
// into level 0 and the leveled compactions that table_levels chooses, run against a model
// of the keys. Every lookup, scan and seek agrees with the model after each step; each
// level stays within its limits with disjoint tables; a merge into the bottom drops the
// erases; and the list of tables comes back from its bytes, refusing any damage.

#include <catch2/catch.hpp>

#include <kvforge/error.hpp>
#include <kvforge/stores/table/table_levels.hpp>
#include <kvforge/stores/table/table_list.hpp>
#include <kvforge/stores/table/table_merge.hpp>

#include "../support/memory_file.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace kd = kvforge::detail;
using kvforge_test::memory_file;

namespace {

using level_test_codec = kvforge::uncompressed_blocks;
using test_levels = kd::table_levels<level_test_codec, memory_file>;
using test_reader = test_levels::reader_type;
using test_table = test_levels::table_type;

/// A table's file and its reader, which reads through it, kept together.
struct table_file {
    memory_file file;
    test_reader reader;
};

std::string level_key(std::uint64_t i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%06llu", static_cast<unsigned long long>(i));
    return key;
}

/// The tables of a test, by generation, and the model of what the store holds.
class leveled_store {
public:
    explicit leveled_store(kd::level_limits limits) : limits_(limits) {}

    /// Writes the newest value or erase of each key in changes into a level 0 table.
    void flush(const std::map<std::string, std::optional<std::string>>& changes) {
        std::error_code ec;
        memory_file file;
        kd::file_header header;
        header.generation = ++generation_;
        kd::table_builder<level_test_codec, memory_file> builder(codec_, file, header, layout_);
        for (const auto& [key, value] : changes) {
            kd::table_entry entry;
            entry.key = key;
            entry.kind = value ? kd::record_type::put : kd::record_type::erase;
            if (value) entry.value = *value;
            REQUIRE(builder.add(entry, ec));
            if (value) {
                model_[key] = *value;
            } else {
                model_.erase(key);
            }
        }
        REQUIRE(builder.finish(ec));
        levels_ = levels_.with_flushed(open(header.generation, std::move(file)));
    }

    /// Runs the compactions due until none is; returns how many ran.
    int compact() {
        int runs = 0;
        for (kd::table_compaction due = levels_.due_compaction(limits_); !due.empty();
             due = levels_.due_compaction(limits_)) {
            std::vector<std::unique_ptr<kd::entry_cursor>> owned;
            levels_.add_cursors(due, owned);
            std::vector<kd::entry_cursor*> sources;
            for (const auto& source : owned) sources.push_back(source.get());
            kd::merging_cursor input(sources, due.bottom ? kd::erases::skipped : kd::erases::given);
            outputs out(*this);
            kd::merge_totals totals;
            std::error_code ec;
            REQUIRE(kd::merge_into_tables(input, codec_, layout_, limits_.table_bytes, {}, out, totals, ec));
            CHECK(totals.tables == out.tables.size());
            for (const test_table& table : out.tables) {
                if (due.bottom) CHECK(table.reader->erases() == 0);
                written_ += table.file_size;
            }
            test_levels next;
            REQUIRE(levels_.after_compaction(due, std::move(out.tables), next, ec));
            levels_ = std::move(next);
            ++runs;
        }
        return runs;
    }

    /// Checks every key of [0, keys) and a scan each way against the model.
    void check(std::uint64_t keys) const {
        std::error_code ec;
        kd::table_read_buffers buffers;
        for (std::uint64_t i = 0; i < keys; ++i) {
            const std::string key = level_key(i);
            kd::table_entry entry;
            const bool found = levels_.find(key, buffers, entry, ec) && entry.kind == kd::record_type::put;
            REQUIRE_FALSE(ec);
            const auto it = model_.find(key);
            REQUIRE(found == (it != model_.end()));
            if (found) REQUIRE(entry.value == it->second);
        }
        std::vector<std::unique_ptr<kd::entry_cursor>> owned;
        levels_.add_cursors(owned);
        std::vector<kd::entry_cursor*> sources;
        for (const auto& source : owned) sources.push_back(source.get());
        kd::merging_cursor scan(sources, kd::erases::skipped);
        auto expected = model_.begin();
        for (bool at = scan.seek_first(ec); at; at = scan.next(ec), ++expected) {
            REQUIRE(expected != model_.end());
            REQUIRE(scan.entry().key == expected->first);
            REQUIRE(scan.entry().value == expected->second);
        }
        REQUIRE_FALSE(ec);
        REQUIRE(expected == model_.end());
        auto back = model_.rbegin();
        for (bool at = scan.seek_last(ec); at; at = scan.prev(ec), ++back) {
            REQUIRE(back != model_.rend());
            REQUIRE(scan.entry().key == back->first);
        }
        REQUIRE_FALSE(ec);
        REQUIRE(back == model_.rend());
    }

    /// Checks that no level holds more than its limits allow, and that tables of a level
    /// >= 1 hold disjoint ranges in key order.
    void check_shape() const {
        REQUIRE(levels_.level(0).size() < limits_.level0_tables);
        for (std::size_t i = 1; i < kd::level_limits::levels; ++i) {
            if (i + 1 < kd::level_limits::levels) REQUIRE(levels_.level_file_bytes(i) <= limits_.level_bytes(i));
            const auto& level = levels_.level(i);
            for (std::size_t j = 1; j < level.size(); ++j) {
                REQUIRE(level[j - 1].reader->last_key() < level[j].reader->first_key());
            }
        }
    }

    [[nodiscard]] const test_levels& levels() const noexcept { return levels_; }
    [[nodiscard]] const std::map<std::string, std::string>& model() const noexcept { return model_; }
    [[nodiscard]] std::uint64_t compaction_bytes() const noexcept { return written_; }
    [[nodiscard]] const memory_file& file_of(std::uint32_t generation) const { return files_.at(generation)->file; }

private:
    /// merge_into_tables's outputs: new memory files, opened as they are finished.
    struct outputs {
        explicit outputs(leveled_store& owner) : store(owner) {}

        leveled_store& store;
        memory_file file;
        kd::file_header header;
        std::vector<test_table> tables;

        memory_file* begin(kd::file_header& h, std::error_code&) {
            file = {};
            h.generation = ++store.generation_;
            header = h;
            return &file;
        }
        bool end(std::uint64_t size, std::error_code&) {
            CHECK(size == file.bytes.size());
            tables.push_back(store.open(header.generation, std::move(file)));
            return true;
        }
    };

    test_table open(std::uint32_t generation, memory_file file) {
        auto owner = std::make_shared<table_file>();
        owner->file = std::move(file);
        std::error_code ec;
        REQUIRE(owner->reader.open(codec_, owner->file, owner->file.bytes.size(), "table-" + std::to_string(generation), ec));
        files_[generation] = owner;
        return {generation, owner->file.bytes.size(), std::shared_ptr<const test_reader>(owner, &owner->reader)};
    }

    level_test_codec codec_;
    kd::table_layout layout_{512, 10};
    kd::level_limits limits_;
    test_levels levels_;
    std::uint32_t generation_ = 0;
    std::uint64_t written_ = 0;
    std::map<std::uint32_t, std::shared_ptr<table_file>> files_;
    std::map<std::string, std::string> model_;
};

kd::level_limits small_limits() {
    kd::level_limits limits;
    limits.level0_tables = 4;
    limits.level1_bytes = 16 << 10;
    limits.ratio = 4;
    limits.table_bytes = 4 << 10;
    return limits;
}

/// Flushes of random puts and erases over keys, compacted after each, checked throughout.
void run_flushes(leveled_store& store, std::uint64_t keys, int flushes, std::uint32_t seed) {
    std::mt19937_64 random(seed);
    for (int f = 0; f < flushes; ++f) {
        std::map<std::string, std::optional<std::string>> changes;
        for (int i = 0; i < 200; ++i) {
            const std::string key = level_key(random() % keys);
            if (random() % 5 == 0) {
                changes[key] = std::nullopt;
            } else {
                changes[key] = std::string(20 + random() % 60, static_cast<char>('a' + f % 26)) + std::to_string(f);
            }
        }
        store.flush(changes);
        store.compact();
        store.check_shape();
        if (f % 10 == 9) store.check(keys);
    }
    store.check(keys);
}

}  // namespace

TEST_CASE("table levels: flushes and leveled compactions agree with a model in every lookup and scan",
          "[table][levels]") {
    leveled_store store(small_limits());
    run_flushes(store, 3000, 120, 7);
    // The data went below level 1 and the levels hold what the model holds, with room to spare.
    std::size_t deepest = 0;
    for (std::size_t i = 0; i < kd::level_limits::levels; ++i) {
        if (!store.levels().level(i).empty()) deepest = i;
    }
    CHECK(deepest >= 2);
    CHECK_FALSE(store.model().empty());
}

TEST_CASE("table levels: a merge into the bottom drops erases, and the keys it erased stay gone", "[table][levels]") {
    kd::level_limits limits = small_limits();
    leveled_store store(limits);
    std::map<std::string, std::optional<std::string>> puts;
    for (std::uint64_t i = 0; i < 400; ++i) puts[level_key(i)] = "value-" + std::to_string(i);
    store.flush(puts);
    std::map<std::string, std::optional<std::string>> erases;
    for (std::uint64_t i = 0; i < 400; i += 2) erases[level_key(i)] = std::nullopt;
    store.flush(erases);
    store.flush({{level_key(1), "again"}});
    store.flush({{level_key(3), "again"}});
    REQUIRE(store.compact() == 1);
    // Level 1 was empty and nothing lies below it: the bottom, where no erase is kept.
    REQUIRE(store.levels().level(0).empty());
    std::uint64_t entries = 0;
    for (const auto& table : store.levels().level(1)) {
        CHECK(table.reader->erases() == 0);
        entries += table.reader->entries();
    }
    CHECK(entries == 200);
    store.check(400);
}

TEST_CASE("table levels: a compaction above a level that holds the range keeps its erases", "[table][levels]") {
    leveled_store store(small_limits());
    run_flushes(store, 3000, 60, 11);
    // Erase keys whose puts lie in the deeper levels, then compact level 0 into level 1.
    std::map<std::string, std::optional<std::string>> erases;
    for (const auto& [key, value] : store.model()) {
        if (erases.size() < 50) erases[key] = std::nullopt;
    }
    for (int i = 0; i < 4; ++i) store.flush(erases);
    const kd::table_compaction due = store.levels().due_compaction(small_limits());
    REQUIRE(due.level == 0);
    store.compact();
    store.check(3000);
}

TEST_CASE("table levels: a level's cursor walks its tables as one, and turns at any key", "[table][levels]") {
    leveled_store store(small_limits());
    run_flushes(store, 2000, 40, 3);
    const auto& level = store.levels().level(1).empty() ? store.levels().level(2) : store.levels().level(1);
    REQUIRE(level.size() >= 2);
    kd::level_cursor<level_test_codec, memory_file> cursor(level);
    std::error_code ec;
    std::vector<std::string> keys;
    for (bool at = cursor.seek_first(ec); at; at = cursor.next(ec)) keys.emplace_back(cursor.entry().key);
    REQUIRE_FALSE(ec);
    std::uint64_t entries = 0;
    for (const auto& table : level) entries += table.reader->entries();
    REQUIRE(keys.size() == entries);
    REQUIRE(std::is_sorted(keys.begin(), keys.end()));
    // Where one table ends and the next begins, a step each way crosses between them.
    const std::string last_of_first(level[0].reader->last_key());
    REQUIRE(cursor.seek(last_of_first, ec));
    REQUIRE(cursor.next(ec));
    REQUIRE(cursor.entry().key == level[1].reader->first_key());
    REQUIRE(cursor.prev(ec));
    REQUIRE(cursor.entry().key == last_of_first);
    // A seek between keys lands on the next; past the last key there is none.
    REQUIRE(cursor.seek(keys[5] + "~", ec));
    REQUIRE(cursor.entry().key == keys[6]);
    REQUIRE_FALSE(cursor.seek(keys.back() + "~", ec));
    REQUIRE_FALSE(ec);
    REQUIRE(cursor.seek_last(ec));
    REQUIRE(cursor.entry().key == keys.back());
    REQUIRE(cursor.seek_first(ec));
    REQUIRE_FALSE(cursor.prev(ec));
    REQUIRE_FALSE(ec);
}

TEST_CASE("table list: the levels come back from its bytes and open as they were", "[table][levels]") {
    leveled_store store(small_limits());
    run_flushes(store, 2000, 50, 5);
    const kd::store_counts counts{2000, 123456, 789};
    const kd::table_list list = kd::table_list::of(store.levels(), 42, counts);
    std::error_code ec;
    kd::table_list read;
    REQUIRE(read.decode(list.encode(), "TABLES", ec));
    REQUIRE(read.oldest_log == 42);
    REQUIRE(read.counts == counts);
    REQUIRE(read.tables == list.tables);
    REQUIRE(read.tables.size() == store.levels().table_count());

    // Open the tables the list names, in an order of its own, and they read as before.
    test_levels loaded;
    for (auto it = read.tables.rbegin(); it != read.tables.rend(); ++it) {
        auto owner = std::make_shared<table_file>();
        owner->file = store.file_of(it->generation);
        REQUIRE(owner->file.bytes.size() == it->file_size);
        REQUIRE(owner->reader.open(level_test_codec{}, owner->file, it->file_size, "t", ec));
        loaded.load(it->level, {it->generation, it->file_size, std::shared_ptr<const test_reader>(owner, &owner->reader)});
    }
    REQUIRE(loaded.finish_loading(ec));
    kd::table_read_buffers buffers;
    for (std::uint64_t i = 0; i < 2000; ++i) {
        kd::table_entry entry;
        const bool found = loaded.find(level_key(i), buffers, entry, ec) && entry.kind == kd::record_type::put;
        const auto it = store.model().find(level_key(i));
        REQUIRE(found == (it != store.model().end()));
        if (found) REQUIRE(entry.value == it->second);
    }
}

TEST_CASE("table list: damage of any byte, a cut and a newer version are refused", "[table][levels]") {
    kd::table_list list;
    list.oldest_log = 9;
    list.tables = {{0, 12, 4096}, {1, 7, 8192}, {3, 2, 1 << 20}};
    const std::string bytes = list.encode();
    REQUIRE(bytes.size() == kd::table_list::head_size + 3 * kd::table_list::table_size + 4);
    std::error_code ec;
    kd::table_list read;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string damaged = bytes;
        damaged[i] = static_cast<char>(damaged[i] ^ 0x10);
        REQUIRE_FALSE(read.decode(damaged, "TABLES", ec));
        REQUIRE(ec);
        REQUIRE(read.tables.empty());
    }
    for (std::size_t size = 0; size < bytes.size(); ++size) {
        REQUIRE_FALSE(read.decode(bytes.substr(0, size), "TABLES", ec));
        REQUIRE(ec);
    }
    std::string newer = bytes;
    kd::file_header::put_le16(newer.data() + 8, kd::table_list::version + 1);
    REQUIRE_FALSE(read.decode(newer, "TABLES", ec));
    REQUIRE(ec == kvforge::errc::unsupported_version);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("TABLES"));
    // A level this kvforge does not know, with its checksum right, is refused too.
    kd::table_list deep = list;
    deep.tables[0].level = static_cast<std::uint8_t>(kd::level_limits::levels);
    REQUIRE_FALSE(read.decode(deep.encode(), "TABLES", ec));
    REQUIRE(ec == kvforge::errc::corrupt_header);
}

TEST_CASE("table levels: tables of one level whose ranges overlap are refused on loading", "[table][levels]") {
    leveled_store store(small_limits());
    store.flush({{level_key(1), "a"}, {level_key(5), "b"}});
    store.flush({{level_key(3), "c"}, {level_key(9), "d"}});
    test_levels loaded;
    for (const auto& table : store.levels().level(0)) loaded.load(1, table);
    std::error_code ec;
    REQUIRE_FALSE(loaded.finish_loading(ec));
    REQUIRE(ec == kvforge::errc::corrupt_header);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("overlap"));
}
