#pragma once
// Reading sorted tables (stores/table/) from arbitrary bytes: the harness behind
// fuzz/table_fuzzer.cpp, also replayed by tests/reliability/fuzz_regression_test.cpp.
//
// The input's first byte chooses a mode; the rest is read by it:
//   0  one block's bytes, walked by a block cursor forward and backward: every value it
//      gives lies inside the bytes. When the bytes are what block_builder writes for the
//      entries the forward walk saw, the backward walk gives them in reverse and a seek of
//      each key finds its entry.
//   1  a table file's bytes, opened and read by find and both scans: nothing may crash.
//   2  entries: pairs of a key size byte (0-15) and a value size byte, then their bytes,
//      kept by key (the last one wins). They are built into a table of 64-byte blocks; the
//      last two bytes of the input name a byte of it to flip. A read of that table must
//      give the entry written or errc::corrupt_record, and a scan the entries written in
//      order until it stops at an error.
//   3  a list of tables' bytes (table_list.hpp): refused with an error, or read into a list
//      whose bytes are the input's, byte for byte (one of an older version: a list that
//      reads back the same).
// A violation aborts.

#include <kvforge/error.hpp>
#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_list.hpp>
#include <kvforge/stores/table/table_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../tests/support/memory_file.hpp"

namespace kvforge_fuzz {

namespace table_detail {

namespace kd = kvforge::detail;
using kvforge_test::memory_file;

using reader = kd::table_reader<kvforge::uncompressed_blocks, memory_file>;
using cursor = kd::table_cursor<kvforge::uncompressed_blocks, memory_file>;

inline void require(bool condition) {
    if (!condition) std::abort();
}

/// An entry as a walk saw it, owning its bytes.
struct seen_entry {
    std::string key;
    kd::record_type kind = kd::record_type::put;
    kd::record_meta meta;
    std::string value;

    explicit seen_entry(const kd::table_entry& entry)
        : key(entry.key), kind(entry.kind), meta(entry.meta), value(entry.value) {}
    bool operator==(const seen_entry& other) const {
        return key == other.key && kind == other.kind && value == other.value && meta.flags == other.meta.flags &&
               meta.deadline == other.meta.deadline && meta.tag == other.meta.tag;
    }
};

inline void walk_block(std::string_view bytes) {
    kd::block_cursor block;
    if (!block.parse(bytes)) return;
    const auto inside = [bytes](std::string_view part) {
        return part.empty() || (part.data() >= bytes.data() && part.data() + part.size() <= bytes.data() + bytes.size());
    };
    std::vector<seen_entry> forward;
    for (bool more = block.seek_first(); more; more = block.next()) {
        require(inside(block.entry().value));
        forward.emplace_back(block.entry());
    }
    const bool damaged = block.damaged();
    require(block.parse(bytes));
    std::vector<seen_entry> backward;
    for (bool more = block.seek_last(); more; more = block.prev()) {
        require(inside(block.entry().value));
        backward.emplace_back(block.entry());
    }
    // Bytes that block_builder writes for the entries the forward walk saw, in increasing
    // key order, are a well-formed block: there both walks and every seek must agree.
    bool increasing = !damaged && !forward.empty();
    for (std::size_t i = 1; i < forward.size() && increasing; ++i) increasing = forward[i - 1].key < forward[i].key;
    if (!increasing) return;
    kd::block_builder rebuilt;
    for (const seen_entry& entry : forward) {
        kd::table_entry view;
        view.key = entry.key;
        view.kind = entry.kind;
        view.meta = entry.meta;
        view.value = entry.value;
        rebuilt.add(view);
    }
    if (rebuilt.finish() != bytes) return;
    require(!block.damaged() && backward.size() == forward.size());
    for (std::size_t i = 0; i < forward.size(); ++i) require(backward[i] == forward[forward.size() - 1 - i]);
    for (const seen_entry& entry : forward) {
        require(block.seek(entry.key) && seen_entry(block.entry()) == entry);
    }
}

inline void read_table_bytes(std::string bytes) {
    memory_file file{std::move(bytes)};
    reader table;
    std::error_code ec;
    if (!table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "fuzz", ec)) return;
    cursor walk(table);
    std::vector<std::string> keys;
    for (bool more = walk.seek_first(ec); more && keys.size() < 10'000; more = walk.next(ec)) {
        keys.emplace_back(walk.entry().key);
    }
    for (bool more = walk.seek_last(ec); more && keys.size() < 20'000; more = walk.prev(ec)) {
        keys.emplace_back(walk.entry().key);
    }
    kd::table_read_buffers buffers;
    kd::table_entry found;
    for (const std::string& key : keys) {
        (void)table.find(key, buffers, found, ec);
        (void)walk.seek(key, ec);
    }
}

inline void build_and_damage(std::string_view input) {
    if (input.size() < 2) return;
    const std::size_t flip = static_cast<unsigned char>(input[input.size() - 2]) |
                             static_cast<std::size_t>(static_cast<unsigned char>(input.back())) << 8;
    input.remove_suffix(2);
    std::map<std::string, std::string> entries;
    while (input.size() >= 2) {
        const std::size_t key_size = static_cast<unsigned char>(input[0]) % 16;
        const std::size_t value_size = static_cast<unsigned char>(input[1]);
        input.remove_prefix(2);
        if (input.size() < key_size + value_size) break;
        entries[std::string(input.substr(0, key_size))] = std::string(input.substr(key_size, value_size));
        input.remove_prefix(key_size + value_size);
    }
    memory_file file;
    kd::table_layout layout;
    layout.block_size = 64;
    kd::table_builder<kvforge::uncompressed_blocks, memory_file> builder(kvforge::uncompressed_blocks{}, file, {},
                                                                        layout);
    std::error_code ec;
    for (const auto& [key, value] : entries) {
        kd::table_entry entry;
        entry.key = key;
        entry.value = value;
        require(builder.add(entry, ec));
    }
    require(builder.finish(ec));
    file.bytes[flip % file.bytes.size()] ^= 0x01;

    reader table;
    if (!table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "fuzz", ec)) {
        require(static_cast<bool>(ec));
        return;
    }
    kd::table_read_buffers buffers;
    kd::table_entry found;
    for (const auto& [key, value] : entries) {
        if (table.find(key, buffers, found, ec)) {
            require(found.key == key && found.value == value && found.kind == kd::record_type::put);
        } else {
            require(ec == kvforge::errc::corrupt_record);
        }
    }
    cursor walk(table);
    auto expected = entries.begin();
    bool more = walk.seek_first(ec);
    for (; more; more = walk.next(ec), ++expected) {
        require(expected != entries.end() && walk.entry().key == expected->first &&
                walk.entry().value == expected->second);
    }
    require(expected == entries.end() || ec == kvforge::errc::corrupt_record);
}

inline void read_table_list(std::string_view bytes) {
    kd::table_list list;
    std::error_code ec;
    if (!list.decode(bytes, "fuzz", ec)) {
        require(static_cast<bool>(ec) && list.tables.empty());
        return;
    }
    // A list of this version encodes to its own bytes; an older one to a list of this
    // version that reads back the same.
    const std::string encoded = list.encode();
    if (kd::file_header::get_le16(bytes.data() + 8) == kd::table_list::version) {
        require(encoded == bytes);
    } else {
        kd::table_list again;
        require(again.decode(encoded, "fuzz", ec) && again.encode() == encoded);
    }
}

}  // namespace table_detail

/// Runs one fuzzer input through the mode its first byte names.
inline void run_table_input(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 4) {
        case 0: table_detail::walk_block(rest); break;
        case 1: table_detail::read_table_bytes(std::string(rest)); break;
        case 2: table_detail::build_and_damage(rest); break;
        default: table_detail::read_table_list(rest); break;
    }
}

}  // namespace kvforge_fuzz
