// The merging cursor (stores/table/merging_cursor.hpp) over sorted tables that hold the same
// keys: each key's newest entry, erases skipped or given, in both directions and across
// changes of direction, checked against a model; and a merge of tables into one, as
// compaction will make it.

#include <catch2/catch.hpp>

#include <kvforge/stores/table/merging_cursor.hpp>
#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_reader.hpp>

#include "../support/memory_file.hpp"

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace kd = kvforge::detail;
using kvforge_test::memory_file;

namespace {

using table_reader = kd::table_reader<kvforge::uncompressed_blocks, memory_file>;
using table_source = kd::entry_cursor_of<kd::table_cursor<kvforge::uncompressed_blocks, memory_file>>;

/// A key's entry in one table: its value, or nullopt for an erase.
using table_contents = std::map<std::string, std::optional<std::string>>;

// Nine bytes: keys that differ in their first eight and keys that share them (the ten
// from "key:00000" on), so that both ways the cursor orders keys are taken.
std::string key_of(unsigned i) {
    char key[16];
    std::snprintf(key, sizeof key, "key:%05u", i);
    return key;
}

memory_file build(const table_contents& contents) {
    memory_file file;
    kd::table_layout layout;
    layout.block_size = 256;
    kd::table_builder<kvforge::uncompressed_blocks, memory_file> builder(kvforge::uncompressed_blocks{}, file, {},
                                                                        layout);
    std::error_code ec;
    for (const auto& [key, value] : contents) {
        kd::table_entry entry;
        entry.key = key;
        entry.kind = value ? kd::record_type::put : kd::record_type::erase;
        if (value) entry.value = *value;
        REQUIRE(builder.add(entry, ec));
    }
    REQUIRE(builder.finish(ec));
    return file;
}

/// Tables of random puts and erases over the same 600 keys, newest first, and the model:
/// each key's newest entry.
struct layered_tables {
    std::vector<memory_file> files;
    std::vector<std::unique_ptr<table_reader>> readers;
    std::vector<std::unique_ptr<table_source>> sources;
    table_contents newest;

    explicit layered_tables(unsigned seed, std::size_t count = 4) {
        std::mt19937 random(seed);
        std::vector<table_contents> layers(count);
        for (std::size_t layer = 0; layer < count; ++layer) {
            for (unsigned i = 0; i < 600; ++i) {
                const unsigned roll = random() % 10;
                if (roll < 4) continue;  // not in this table
                layers[layer][key_of(i)] =
                    roll < 7 ? std::optional<std::string>("v" + std::to_string(layer) + "-" + std::to_string(i))
                             : std::nullopt;
            }
        }
        for (const table_contents& layer : layers) {
            for (const auto& [key, value] : layer) newest.emplace(key, value);  // the first, newest, wins
        }
        files.reserve(count);
        std::error_code ec;
        for (const table_contents& layer : layers) {
            files.push_back(build(layer));
            readers.push_back(std::make_unique<table_reader>());
            REQUIRE(readers.back()->open(kvforge::uncompressed_blocks{}, files.back(), files.back().bytes.size(), "t",
                                         ec));
            sources.push_back(std::make_unique<table_source>(*readers.back()));
        }
    }

    [[nodiscard]] std::vector<kd::entry_cursor*> cursors() const {
        std::vector<kd::entry_cursor*> all;
        for (const auto& source : sources) all.push_back(source.get());
        return all;
    }
};

/// The model's entries that a cursor gives: all, or only the puts.
table_contents visible(const table_contents& newest, kd::erases shown) {
    table_contents out;
    for (const auto& [key, value] : newest) {
        if (value || shown == kd::erases::given) out.emplace(key, value);
    }
    return out;
}

bool matches(const kd::merging_cursor& cursor, const table_contents::const_iterator& expected) {
    const kd::table_entry& entry = cursor.entry();
    if (entry.key != expected->first) return false;
    if (!expected->second) return entry.kind == kd::record_type::erase;
    return entry.kind == kd::record_type::put && entry.value == *expected->second;
}

}  // namespace

TEST_CASE("a merging cursor gives each key's newest entry in both directions", "[table][merge]") {
    for (const kd::erases shown : {kd::erases::skipped, kd::erases::given}) {
        layered_tables tables(7);
        const table_contents model = visible(tables.newest, shown);
        kd::merging_cursor cursor(tables.cursors(), shown);
        std::error_code ec;

        auto expected = model.begin();
        for (bool more = cursor.seek_first(ec); more; more = cursor.next(ec), ++expected) {
            REQUIRE(expected != model.end());
            REQUIRE(matches(cursor, expected));
        }
        CHECK_FALSE(ec);
        CHECK(expected == model.end());

        auto back = model.rbegin();
        for (bool more = cursor.seek_last(ec); more; more = cursor.prev(ec), ++back) {
            REQUIRE(back != model.rend());
            REQUIRE(matches(cursor, std::prev(back.base())));
        }
        CHECK_FALSE(ec);
        CHECK(back == model.rend());
    }
}

TEST_CASE("a merging cursor turns around and seeks as the model does", "[table][merge]") {
    for (unsigned seed = 1; seed <= 20; ++seed) {
        layered_tables tables(seed, 1 + seed % 5);
        const table_contents model = visible(tables.newest, kd::erases::skipped);
        kd::merging_cursor cursor(tables.cursors(), kd::erases::skipped);
        std::mt19937 random(seed * 31);
        std::error_code ec;
        auto expected = model.end();
        for (int step = 0; step < 400; ++step) {
            const unsigned move = random() % 8;
            if (move == 0 || expected == model.end()) {
                const std::string key = key_of(static_cast<unsigned>(random() % 620));
                cursor.seek(key, ec);
                expected = model.lower_bound(key);
            } else if (move < 5) {
                cursor.next(ec);
                ++expected;
            } else {
                cursor.prev(ec);
                expected = expected == model.begin() ? model.end() : std::prev(expected);
            }
            REQUIRE_FALSE(ec);
            INFO("seed " << seed << ", step " << step);
            REQUIRE(cursor.valid() == (expected != model.end()));
            if (cursor.valid()) REQUIRE(matches(cursor, expected));
        }
    }
}

TEST_CASE("tables merged into one hold each key's newest entry, without the erases at the bottom", "[table][merge]") {
    layered_tables tables(11);
    for (const kd::erases kept : {kd::erases::given, kd::erases::skipped}) {
        memory_file merged_file;
        kd::table_builder<kvforge::uncompressed_blocks, memory_file> builder(kvforge::uncompressed_blocks{},
                                                                            merged_file, {}, {});
        kd::merging_cursor merged(tables.cursors(), kept);
        std::error_code ec;
        for (bool more = merged.seek_first(ec); more; more = merged.next(ec)) REQUIRE(builder.add(merged.entry(), ec));
        REQUIRE_FALSE(ec);
        REQUIRE(builder.finish(ec));

        table_reader reader;
        REQUIRE(reader.open(kvforge::uncompressed_blocks{}, merged_file, merged_file.bytes.size(), "merged", ec));
        const table_contents model = visible(tables.newest, kept);
        CHECK(reader.entries() == model.size());
        kd::table_read_buffers buffers;
        kd::table_entry found;
        for (unsigned i = 0; i < 600; ++i) {
            const auto in_model = model.find(key_of(i));
            const bool has = reader.find(key_of(i), buffers, found, ec);
            REQUIRE_FALSE(ec);
            REQUIRE(has == (in_model != model.end()));
            if (has) {
                REQUIRE(found.kind == (in_model->second ? kd::record_type::put : kd::record_type::erase));
                if (in_model->second) REQUIRE(found.value == *in_model->second);
            }
        }
    }
}

TEST_CASE("a merging cursor stops at a damaged table with its error", "[table][merge]") {
    layered_tables tables(3, 2);
    tables.files[1].bytes[kd::file_header::size + 5] ^= 0x10;  // the older table's first block
    kd::merging_cursor cursor(tables.cursors(), kd::erases::given);
    std::error_code ec;
    CHECK_FALSE(cursor.seek_first(ec));
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_FALSE(cursor.valid());
}
