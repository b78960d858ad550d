// The write buffer of a store with sorted tables (stores/table/write_buffer.hpp): the
// newest entry of each key, with deadlines, tags and erases, found and walked in both
// directions as a model says, each add() naming the size of the value it replaced; a
// cursor that goes on after the buffer changed; and a flush into a table that reads back
// the same entries, merged newest first with it.

#include <catch2/catch.hpp>

#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_reader.hpp>
#include <kvforge/stores/table/write_buffer.hpp>

#include "../support/memory_file.hpp"

#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace kd = kvforge::detail;

namespace {

/// An entry as the model keeps it.
struct buffered_entry {
    kd::record_type kind = kd::record_type::put;
    unsigned char flags = 0;
    std::int64_t deadline = 0;
    unsigned char tag = 0;
    std::string value;

    [[nodiscard]] bool same_as(const kd::table_entry& entry) const {
        return entry.kind == kind && entry.meta.flags == flags && entry.value == value &&
               ((flags & kd::record_flag::deadline) == 0 || entry.meta.deadline == deadline) &&
               ((flags & kd::record_flag::tag) == 0 || entry.meta.tag == tag);
    }
};

std::string buffer_key(std::uint64_t i) {
    char key[16];
    std::snprintf(key, sizeof key, "b%05llu", static_cast<unsigned long long>(i));
    return key;
}

/// Random puts (some with a deadline or a tag, some empty) and erases over keys, applied
/// to the buffer and the model alike.
void fill_buffer(kd::write_buffer& buffer, std::map<std::string, buffered_entry>& model, int writes, std::uint64_t keys,
                 std::uint32_t seed) {
    std::mt19937_64 random(seed);
    for (int i = 0; i < writes; ++i) {
        const std::string key = buffer_key(random() % keys);
        buffered_entry kept;
        if (random() % 4 == 0) {
            kept.kind = kd::record_type::erase;
        } else {
            kept.value = std::string(random() % 40, static_cast<char>('a' + i % 26));
            if (random() % 3 == 0) {
                kept.flags |= kd::record_flag::deadline;
                kept.deadline = static_cast<std::int64_t>(random() >> 1) - (std::int64_t{1} << 61);
            }
            if (random() % 5 == 0) {
                kept.flags |= kd::record_flag::tag;
                kept.tag = static_cast<unsigned char>(random());
            }
        }
        kd::table_entry entry;
        entry.key = key;
        entry.kind = kept.kind;
        entry.meta.flags = kept.flags;
        entry.meta.deadline = kept.deadline;
        entry.meta.tag = kept.tag;
        entry.value = kept.value;
        // add() counts what it replaced: the older entry's key and value, nothing for a new key.
        kd::table_entry older;
        const bool held = buffer.find(key, older);
        const std::uint64_t replaced_before = buffer.replaced_bytes() + (held ? key.size() + older.value.size() : 0);
        buffer.add(entry);
        REQUIRE(buffer.replaced_bytes() == replaced_before);
        model[key] = kept;
    }
}

}  // namespace

TEST_CASE("write buffer: the newest entry of each key is found and walked both ways, as a model says",
          "[table][write_buffer]") {
    kd::write_buffer buffer;
    std::map<std::string, buffered_entry> model;
    fill_buffer(buffer, model, 5000, 1500, 21);
    REQUIRE(buffer.size() == model.size());
    for (std::uint64_t i = 0; i < 1600; ++i) {
        kd::table_entry entry;
        const auto it = model.find(buffer_key(i));
        REQUIRE(buffer.find(buffer_key(i), entry) == (it != model.end()));
        if (it != model.end()) REQUIRE(it->second.same_as(entry));
    }

    auto expected = model.begin();
    buffer.visit([&](const kd::table_entry& entry) {
        REQUIRE(entry.key == expected->first);
        REQUIRE(expected->second.same_as(entry));
        ++expected;
        return true;
    });
    REQUIRE(expected == model.end());

    kd::write_buffer::cursor cursor(buffer);
    std::error_code ec;
    expected = model.begin();
    for (bool at = cursor.seek_first(ec); at; at = cursor.next(ec), ++expected) {
        REQUIRE(cursor.entry().key == expected->first);
        REQUIRE(expected->second.same_as(cursor.entry()));
    }
    REQUIRE(expected == model.end());
    auto back = model.rbegin();
    for (bool at = cursor.seek_last(ec); at; at = cursor.prev(ec), ++back) {
        REQUIRE(cursor.entry().key == back->first);
    }
    REQUIRE(back == model.rend());
    REQUIRE_FALSE(ec);
    // A seek between keys lands on the next one; past the last there is none.
    REQUIRE(cursor.seek(model.begin()->first + "~", ec));
    REQUIRE(cursor.entry().key == std::next(model.begin())->first);
    REQUIRE_FALSE(cursor.seek("c", ec));
    REQUIRE_FALSE(cursor.valid());
}

TEST_CASE("write buffer: a cursor goes on after the buffer changed, from the last key it gave",
          "[table][write_buffer]") {
    kd::write_buffer buffer;
    std::map<std::string, buffered_entry> model;
    fill_buffer(buffer, model, 200, 100, 4);
    kd::write_buffer::cursor cursor(buffer);
    std::error_code ec;
    REQUIRE(cursor.seek(buffer_key(50), ec));
    const std::string at(cursor.entry().key);
    // Keys added on both sides, and the one after it erased.
    std::map<std::string, buffered_entry> more;
    fill_buffer(buffer, more, 300, 400, 5);
    for (const auto& [key, entry] : more) model[key] = entry;
    REQUIRE(cursor.next(ec));
    REQUIRE(cursor.entry().key == model.upper_bound(at)->first);
    REQUIRE(model.at(std::string(cursor.entry().key)).same_as(cursor.entry()));
}

TEST_CASE("write buffer: a flush writes its entries into a table, and the buffer's win over it in a merge",
          "[table][write_buffer]") {
    kd::write_buffer older;
    std::map<std::string, buffered_entry> model;
    fill_buffer(older, model, 3000, 2000, 8);
    kvforge_test::memory_file file;
    std::error_code ec;
    {
        kd::table_builder<kvforge::uncompressed_blocks, kvforge_test::memory_file> builder(
            kvforge::uncompressed_blocks{}, file, {}, {});
        older.visit([&](const kd::table_entry& entry) { return builder.add(entry, ec); });
        REQUIRE_FALSE(ec);
        REQUIRE(builder.finish(ec));
        REQUIRE(builder.entries() == older.size());
    }
    kd::table_reader<kvforge::uncompressed_blocks, kvforge_test::memory_file> table;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "flushed", ec));
    kd::table_read_buffers reads;
    for (const auto& [key, kept] : model) {
        kd::table_entry entry;
        REQUIRE(table.find(key, reads, entry, ec));
        REQUIRE(kept.same_as(entry));
    }

    kd::write_buffer newer;
    fill_buffer(newer, model, 1000, 2500, 9);
    kd::write_buffer::cursor newest(newer);
    kd::entry_cursor_of<kd::table_cursor<kvforge::uncompressed_blocks, kvforge_test::memory_file>> flushed(table);
    kd::merging_cursor merged({&newest, &flushed}, kd::erases::given);
    auto expected = model.begin();
    for (bool at = merged.seek_first(ec); at; at = merged.next(ec), ++expected) {
        REQUIRE(merged.entry().key == expected->first);
        REQUIRE(expected->second.same_as(merged.entry()));
    }
    REQUIRE_FALSE(ec);
    REQUIRE(expected == model.end());
}
