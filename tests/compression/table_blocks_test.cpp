// Sorted tables whose blocks zstd and lz4 compress: JSON events of 110 bytes, the values
// that compress poorly one at a time, take a fraction of their bytes in a table and read
// back exactly, and a block of another codec's bytes is an error.

#include <catch2/catch.hpp>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/error.hpp>
#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_reader.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../support/memory_file.hpp"
#include "../support/sample_values.hpp"

namespace kd = kvforge::detail;
using kvforge_test::memory_file;

namespace {

/// An event's key: its timestamp, big-endian, so that keys sort as the times do.
std::string timestamp_key(std::uint64_t i) {
    const std::uint64_t time = kd::to_big_endian(std::uint64_t{1'700'000'000'000'000} + 1'000 * i);
    return std::string(reinterpret_cast<const char*>(&time), sizeof time);
}

constexpr std::uint64_t events = 20'000;

template <class Codec>
memory_file event_table(const Codec& codec) {
    memory_file file;
    kd::table_builder<Codec, memory_file> builder(codec, file, {}, {});
    std::error_code ec;
    for (std::uint64_t i = 0; i < events; ++i) {
        const std::string key = timestamp_key(i);
        const std::string value = kvforge_test::json_like_value(i, 110);
        kd::table_entry entry;
        entry.key = key;
        entry.value = value;
        REQUIRE(builder.add(entry, ec));
    }
    REQUIRE(builder.finish(ec));
    return file;
}

}  // namespace

TEMPLATE_TEST_CASE("a table of JSON events compressed by block is a fraction of its bytes and reads back",
                   "[compression][table]", kvforge::zstd<3>, kvforge::lz4) {
    const TestType codec;
    const memory_file compressed = event_table(codec);
    const memory_file plain = event_table(kvforge::uncompressed_blocks{});
    INFO("compressed " << compressed.bytes.size() << " bytes, plain " << plain.bytes.size());
    // One value at a time, these events shrink by a few percent; a block of 37 of them by
    // more than half.
    CHECK(compressed.bytes.size() * 2 < plain.bytes.size());

    kd::table_reader<TestType, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(codec, compressed, compressed.bytes.size(), "events", ec));
    kd::table_read_buffers buffers;
    kd::table_entry found;
    for (std::uint64_t i = 0; i < events; i += 7) {
        REQUIRE(table.find(timestamp_key(i), buffers, found, ec));
        REQUIRE(found.value == kvforge_test::json_like_value(i, 110));
    }
    kd::table_cursor<TestType, memory_file> cursor(table);
    std::uint64_t seen = 0;
    for (bool more = cursor.seek_last(ec); more; more = cursor.prev(ec)) {
        ++seen;
        REQUIRE(cursor.entry().key == timestamp_key(events - seen));
    }
    CHECK_FALSE(ec);
    CHECK(seen == events);
}

TEST_CASE("a table's blocks read with another codec are an error, not a value", "[compression][table]") {
    const memory_file compressed = event_table(kvforge::zstd<3>{});
    kd::table_reader<kvforge::lz4, memory_file> table;
    std::error_code ec;
    const kvforge::lz4 other;
    if (!table.open(other, compressed, compressed.bytes.size(), "events", ec)) {
        CHECK(ec == kvforge::errc::corrupt_record);
        return;
    }
    kd::table_read_buffers buffers;
    kd::table_entry found;
    CHECK_FALSE(table.find(timestamp_key(5), buffers, found, ec));
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("does not decompress"));
}
