// Sorted tables (stores/table/): entries written by table_builder and read back by
// table_reader and table_cursor, with and without block compression; the Bloom filter's
// false positives; and damage of every kind reported, never served.

#include <catch2/catch.hpp>

#include <kvforge/error.hpp>
#include <kvforge/stores/table/block_cache.hpp>
#include <kvforge/stores/table/table_builder.hpp>
#include <kvforge/stores/table/table_reader.hpp>

#include "../support/memory_file.hpp"
#include "../support/run_length_codec.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

namespace kd = kvforge::detail;
using kvforge_test::memory_file;

namespace {

/// A table file whose reads are counted.
struct counted_file {
    memory_file file;
    mutable std::atomic<std::uint64_t> reads{0};

    bool read(std::uint64_t offset, char* into, std::size_t size, std::error_code& ec) const {
        reads.fetch_add(1);
        return file.read(offset, into, size, ec);
    }
};

/// An entry as the test keeps it: owning its key and value.
struct kept_entry {
    std::string key;
    kd::record_type kind = kd::record_type::put;
    kd::record_meta meta;
    std::string value;
};

std::string key_of(std::uint64_t i) {
    char key[24];
    std::snprintf(key, sizeof key, "user:%012llu", static_cast<unsigned long long>(i));
    return key;
}

/// Puts of even numbers below 2 * count, with a deadline on every third and a tag on
/// every fifth, and an erase on every seventh.
std::vector<kept_entry> sample_entries(std::uint64_t count, std::size_t value_size) {
    std::vector<kept_entry> entries;
    for (std::uint64_t i = 0; i < count; ++i) {
        kept_entry entry;
        entry.key = key_of(2 * i);
        if (i % 7 == 6) {
            entry.kind = kd::record_type::erase;
        } else {
            entry.value = std::string(value_size, static_cast<char>('a' + i % 26)) + std::to_string(i);
            if (i % 3 == 0) {
                entry.meta.flags |= kd::record_flag::deadline;
                entry.meta.deadline = static_cast<std::int64_t>(1'000'000 + i);
            }
            if (i % 5 == 0) {
                entry.meta.flags |= kd::record_flag::tag;
                entry.meta.tag = static_cast<unsigned char>(i % 256);
            }
        }
        entries.push_back(entry);
    }
    return entries;
}

kd::table_entry view_of(const kept_entry& kept) {
    kd::table_entry entry;
    entry.key = kept.key;
    entry.kind = kept.kind;
    entry.meta = kept.meta;
    entry.value = kept.value;
    return entry;
}

bool same_entry(const kd::table_entry& read, const kept_entry& kept) {
    return read.key == kept.key && read.kind == kept.kind && read.value == kept.value &&
           read.meta.flags == kept.meta.flags && read.meta.deadline == kept.meta.deadline &&
           read.meta.tag == kept.meta.tag;
}

template <class Codec>
memory_file build_table(const Codec& codec, const std::vector<kept_entry>& entries, kd::table_layout layout = {}) {
    memory_file file;
    kd::file_header header;
    header.generation = 3;
    header.order = 42;
    kd::table_builder<Codec, memory_file> builder(codec, file, header, layout);
    std::error_code ec;
    for (const kept_entry& entry : entries) REQUIRE(builder.add(view_of(entry), ec));
    REQUIRE(builder.finish(ec));
    REQUIRE(builder.file_size() == file.bytes.size());
    REQUIRE(builder.entries() == entries.size());
    return file;
}

/// Reads every entry of a table through find and both scan directions, and checks each
/// against entries.
template <class Codec>
void check_table_holds(const Codec& codec, const memory_file& file, const std::vector<kept_entry>& entries) {
    kd::table_reader<Codec, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(codec, file, file.bytes.size(), "table", ec));
    CHECK(table.entries() == entries.size());
    CHECK(table.header().generation == 3);
    CHECK(table.header().order == 42);

    kd::table_read_buffers buffers;
    kd::table_entry found;
    for (const kept_entry& entry : entries) {
        REQUIRE(table.find(entry.key, buffers, found, ec));
        REQUIRE(same_entry(found, entry));
    }
    // Odd numbers sit between the keys written; none is found.
    for (std::uint64_t i = 0; i < entries.size(); i += 97) {
        CHECK_FALSE(table.find(key_of(2 * i + 1), buffers, found, ec));
        CHECK_FALSE(ec);
    }

    kd::table_cursor<Codec, memory_file> cursor(table);
    std::size_t seen = 0;
    for (bool more = cursor.seek_first(ec); more; more = cursor.next(ec)) {
        REQUIRE(same_entry(cursor.entry(), entries[seen]));
        ++seen;
    }
    CHECK_FALSE(ec);
    CHECK(seen == entries.size());
    for (bool more = cursor.seek_last(ec); more; more = cursor.prev(ec)) {
        REQUIRE(seen > 0);
        REQUIRE(same_entry(cursor.entry(), entries[--seen]));
    }
    CHECK_FALSE(ec);
    CHECK(seen == 0);
}

}  // namespace

TEST_CASE("a sorted table gives back every entry by key and in both directions", "[table]") {
    const std::vector<kept_entry> entries = sample_entries(5'000, 100);
    const memory_file file = build_table(kvforge::uncompressed_blocks{}, entries);
    check_table_holds(kvforge::uncompressed_blocks{}, file, entries);

    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    CHECK(table.erases() == 5'000 / 7);
    CHECK(table.first_key() == entries.front().key);
    CHECK(table.last_key() == entries.back().key);
    // About 43 entries fill a 4 KiB block: a seventh are erases without a value, the rest
    // put about 110 bytes, and keys share their first 12 bytes with the key before.
    CHECK(table.blocks() > 5'000 / 50);
    CHECK(table.blocks() < 5'000 / 35);

    SECTION("a seek lands on the first key not less than the one sought") {
        kd::table_cursor<kvforge::uncompressed_blocks, memory_file> cursor(table);
        REQUIRE(cursor.seek(key_of(2 * 1234 + 1), ec));
        CHECK(cursor.entry().key == key_of(2 * 1235));
        REQUIRE(cursor.seek("a", ec));
        CHECK(cursor.entry().key == entries.front().key);
        CHECK_FALSE(cursor.seek("z", ec));
        CHECK_FALSE(ec);
        REQUIRE(cursor.seek(entries.back().key, ec));
        CHECK_FALSE(cursor.next(ec));
        CHECK_FALSE(ec);
    }
}

TEST_CASE("a table of one-entry blocks and a table of one block both read back", "[table]") {
    const std::vector<kept_entry> entries = sample_entries(300, 20);
    kd::table_layout tiny;
    tiny.block_size = 1;
    check_table_holds(kvforge::uncompressed_blocks{}, build_table(kvforge::uncompressed_blocks{}, entries, tiny), entries);
    kd::table_layout huge;
    huge.block_size = 1 << 20;
    check_table_holds(kvforge::uncompressed_blocks{}, build_table(kvforge::uncompressed_blocks{}, entries, huge), entries);
}

TEST_CASE("a table with no entries opens and holds nothing", "[table]") {
    const memory_file file = build_table(kvforge::uncompressed_blocks{}, {});
    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    CHECK(table.entries() == 0);
    kd::table_read_buffers buffers;
    kd::table_entry found;
    CHECK_FALSE(table.find("", buffers, found, ec));
    CHECK_FALSE(ec);
    kd::table_cursor<kvforge::uncompressed_blocks, memory_file> cursor(table);
    CHECK_FALSE(cursor.seek_first(ec));
    CHECK_FALSE(cursor.seek_last(ec));
    CHECK_FALSE(ec);
}

TEST_CASE("a table's blocks are compressed by the codec when that saves an eighth", "[table]") {
    // Values of one repeated byte: run-length encoding shrinks them about 60-fold.
    const std::vector<kept_entry> entries = sample_entries(2'000, 200);
    const kvforge_test::run_length<> codec;
    const memory_file compressed = build_table(codec, entries);
    const memory_file plain = build_table(kvforge::uncompressed_blocks{}, entries);
    CHECK(compressed.bytes.size() * 2 < plain.bytes.size());
    check_table_holds(codec, compressed, entries);

    SECTION("a store that names no codec refuses a compressed block") {
        kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
        std::error_code ec;
        // The index and filter blocks are of keys and offsets, which do not shrink by
        // run-length encoding, so they are stored as they are and the table opens.
        REQUIRE(table.open(kvforge::uncompressed_blocks{}, compressed, compressed.bytes.size(), "table", ec));
        kd::table_read_buffers buffers;
        kd::table_entry found;
        CHECK_FALSE(table.find(entries[10].key, buffers, found, ec));
        CHECK(ec == kvforge::errc::corrupt_record);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("is compressed, and the store names no codec"));
    }
}

TEST_CASE("a table takes keys in increasing order only", "[table]") {
    memory_file file;
    kd::table_builder<kvforge::uncompressed_blocks, memory_file> builder(kvforge::uncompressed_blocks{}, file, {}, {});
    std::error_code ec;
    kept_entry entry;
    entry.key = "b";
    REQUIRE(builder.add(view_of(entry), ec));
    CHECK_FALSE(builder.add(view_of(entry), ec));
    CHECK(ec == kvforge::errc::invalid_argument);
    entry.key = "a";
    CHECK_FALSE(builder.add(view_of(entry), ec));
    CHECK(ec == kvforge::errc::invalid_argument);
}

TEST_CASE("a table records its placement, which its reader reads back from the meta block", "[table]") {
    memory_file file;
    kd::table_placement placement;
    placement.level = 2;
    placement.oldest_log = 70000;
    placement.replaced = {5, 300, 70001};
    kd::table_builder<kvforge::uncompressed_blocks, memory_file> builder(kvforge::uncompressed_blocks{}, file, {}, {},
                                                                         placement);
    std::error_code ec;
    kept_entry entry;
    entry.key = "a key";
    entry.value = "a value";
    REQUIRE(builder.add(view_of(entry), ec));
    REQUIRE(builder.finish(ec));
    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    CHECK(table.last_key() == "a key");
    kd::table_placement read;
    REQUIRE(table.read_placement(read, ec));
    CHECK(read.level == 2);
    CHECK(read.oldest_log == 70000);
    CHECK(read.replaced == placement.replaced);
    // Bytes past the placement are damage, not a newer field.
    std::string bytes;
    placement.append_to(bytes);
    CHECK(kd::table_placement().parse(bytes.data(), bytes.data() + bytes.size()));
    bytes.push_back('\0');
    CHECK_FALSE(kd::table_placement().parse(bytes.data(), bytes.data() + bytes.size()));
}

TEST_CASE("a Bloom filter of 10 bits a key admits about 1% of absent keys and every present one", "[table][bloom]") {
    kd::bloom_filter_builder builder(10);
    constexpr std::uint64_t keys = 100'000;
    for (std::uint64_t i = 0; i < keys; ++i) builder.add(key_of(2 * i));
    std::string bytes;
    builder.finish(bytes);
    CHECK(bytes.size() == keys * 10 / 8 + 1);
    kd::bloom_filter filter;
    REQUIRE(filter.assign(bytes));
    CHECK(filter.probes() == 7);
    for (std::uint64_t i = 0; i < keys; ++i) REQUIRE(filter.may_contain(key_of(2 * i)));
    std::uint64_t admitted = 0;
    for (std::uint64_t i = 0; i < keys; ++i) admitted += filter.may_contain(key_of(2 * i + 1)) ? 1 : 0;
    // The theory gives 0.82% at 7 probes; a filter that mapped bits badly would give more.
    CHECK(admitted < keys / 100);
    CHECK(admitted > keys / 1000);

    CHECK_FALSE(filter.assign(std::string_view(bytes).substr(0, 8)));
    std::string no_probes = bytes;
    no_probes.back() = 0;
    CHECK_FALSE(filter.assign(no_probes));
}

TEST_CASE("a table holds its index and filter in under 3 bytes of memory a key", "[table]") {
    // 16-byte keys and 100-byte values, the layout of issue 37's 100,000,000-key run.
    std::vector<kept_entry> entries;
    for (std::uint64_t i = 0; i < 100'000; ++i) {
        char key[17];
        std::snprintf(key, sizeof key, "%016llu", static_cast<unsigned long long>(i * 7919));
        entries.push_back({key, kd::record_type::put, {}, std::string(100, 'v')});
    }
    const memory_file file = build_table(kvforge::uncompressed_blocks{}, entries);
    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    INFO("memory " << table.memory_bytes() << " bytes for " << entries.size() << " keys");
    CHECK(table.memory_bytes() < 3 * entries.size());
}

TEST_CASE("a damaged table is an error, never a wrong entry", "[table][damage]") {
    const std::vector<kept_entry> entries = sample_entries(150, 30);
    kd::table_layout layout;
    layout.block_size = 512;
    const kvforge_test::run_length<> codec;
    const memory_file good = build_table(codec, entries, layout);

    // Every byte of the file flipped in turn: the table refuses to open, or each read gives
    // the entry written or an error.
    std::size_t refused = 0;
    std::size_t read_errors = 0;
    for (std::size_t at = 0; at < good.bytes.size(); ++at) {
        memory_file bad = good;
        bad.bytes[at] = static_cast<char>(bad.bytes[at] ^ 0x20);
        kd::table_reader<kvforge_test::run_length<>, memory_file> table;
        std::error_code ec;
        if (!table.open(codec, bad, bad.bytes.size(), "table", ec)) {
            REQUIRE(ec);
            ++refused;
            continue;
        }
        kd::table_read_buffers buffers;
        kd::table_entry found;
        bool failed = false;
        for (const kept_entry& entry : entries) {
            if (table.find(entry.key, buffers, found, ec)) {
                REQUIRE(same_entry(found, entry));
            } else {
                REQUIRE(ec == kvforge::errc::corrupt_record);
                failed = true;
            }
        }
        kd::table_cursor<kvforge_test::run_length<>, memory_file> cursor(table);
        std::size_t seen = 0;
        for (bool more = cursor.seek_first(ec); more; more = cursor.next(ec)) {
            REQUIRE(seen < entries.size());
            REQUIRE(same_entry(cursor.entry(), entries[seen++]));
        }
        if (seen != entries.size()) {
            REQUIRE(ec == kvforge::errc::corrupt_record);
            failed = true;
        }
        read_errors += failed ? 1 : 0;
        // A flipped byte outside the blocks' checked bytes can only be in the header's
        // reserved span or the footer's, both checksummed: nothing read may pass unnoticed.
        REQUIRE(failed);
    }
    CHECK(refused > 0);
    CHECK(read_errors > 0);

    SECTION("a table cut anywhere does not open") {
        for (std::size_t size = 0; size < good.bytes.size(); size += 7) {
            memory_file cut = good;
            cut.bytes.resize(size);
            kd::table_reader<kvforge_test::run_length<>, memory_file> table;
            std::error_code ec;
            REQUIRE_FALSE(table.open(codec, cut, cut.bytes.size(), "table", ec));
            CHECK((ec == kvforge::errc::corrupt_header || ec == kvforge::errc::not_a_store));
        }
    }
}

TEST_CASE("a table of a newer format version is refused as such", "[table]") {
    memory_file file = build_table(kvforge::uncompressed_blocks{}, sample_entries(10, 10));
    char* footer = file.bytes.data() + file.bytes.size() - kd::table_footer::size;
    kd::file_header::put_le16(footer + 48, kd::table_format_version + 1);
    kd::file_header::put_le32(footer + 52, kd::crc32c({footer, 52}));
    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    std::error_code ec;
    CHECK_FALSE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    CHECK(ec == kvforge::errc::unsupported_version);
}

TEST_CASE("a block cache serves hot blocks without reading the file, within its budget", "[table][cache]") {
    const std::vector<kept_entry> entries = sample_entries(3'000, 100);
    counted_file counted{build_table(kvforge::uncompressed_blocks{}, entries), {}};
    kd::table_reader<kvforge::uncompressed_blocks, counted_file> table;
    std::error_code ec;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, counted, counted.file.bytes.size(), "table", ec));
    kd::block_cache cache;
    table.use_cache(&cache);
    kd::table_read_buffers buffers;
    kd::table_entry found;

    SECTION("a budget that holds the table: each block is read once") {
        REQUIRE(cache.set_budget(std::uint64_t{8} << 20, "block_cache_bytes", ec));
        counted.reads = 0;
        for (int round = 0; round < 3; ++round) {
            for (const kept_entry& entry : entries) {
                REQUIRE(table.find(entry.key, buffers, found, ec));
                REQUIRE(same_entry(found, entry));
            }
        }
        CHECK(counted.reads == table.blocks());
        CHECK(cache.blocks() == table.blocks());
        CHECK(cache.misses() == table.blocks());
        CHECK(cache.hits() == 3 * entries.size() - table.blocks());
    }

    SECTION("a budget of a few blocks holds, and the gets stay right") {
        constexpr std::uint64_t budget = 64 << 10;
        REQUIRE(cache.set_budget(budget, "block_cache_bytes", ec));
        for (std::size_t i = 0; i < entries.size(); i += 3) {
            REQUIRE(table.find(entries[(i * 7919) % entries.size()].key, buffers, found, ec));
            REQUIRE(same_entry(found, entries[(i * 7919) % entries.size()]));
            REQUIRE(cache.memory_usage() <= budget);
        }
        CHECK(cache.blocks() > 0);
        CHECK(cache.blocks() < table.blocks());
    }

    SECTION("a block the cache evicts stays whole for a reader that holds it") {
        constexpr std::uint64_t budget = 64 << 10;
        REQUIRE(cache.set_budget(budget, "block_cache_bytes", ec));
        REQUIRE(table.find(entries.front().key, buffers, found, ec));
        const kd::shared_block held = buffers.shared;  // the block the entry found lies in
        REQUIRE(held);
        const std::string before = *held;
        kd::table_read_buffers others;
        for (const kept_entry& entry : entries) REQUIRE(table.find(entry.key, others, found, ec));
        CHECK(cache.evictions() > 0);
        CHECK(cache.memory_usage() <= budget);
        CHECK(*held == before);  // AddressSanitizer checks it was not freed
    }

    SECTION("forgetting a table drops its blocks alone, and a block a reader holds stays whole") {
        REQUIRE(cache.set_budget(std::uint64_t{8} << 20, "block_cache_bytes", ec));
        for (const kept_entry& entry : entries) REQUIRE(table.find(entry.key, buffers, found, ec));
        const kd::shared_block held = buffers.shared;
        REQUIRE(held);
        const std::string before = *held;
        // Blocks of another table, at the same offsets.
        const std::uint64_t other = table.cache_identity() + 1;
        cache.put(other, 0, std::make_shared<const std::string>(4096, 'x'));
        cache.put(other, 4096, std::make_shared<const std::string>(4096, 'y'));
        REQUIRE(cache.blocks() == table.blocks() + 2);
        const std::uint64_t memory = cache.memory_usage();
        cache.forget({table.cache_identity(), table.cache_identity() + 2});  // the second holds none
        CHECK(cache.blocks() == 2);
        CHECK(cache.memory_usage() < memory);
        CHECK(cache.evictions() == 0);  // let go of, not evicted for room
        CHECK(cache.read(table.cache_identity(), 0) == nullptr);
        REQUIRE(cache.read(other, 4096) != nullptr);
        CHECK(*cache.read(other, 4096) == std::string(4096, 'y'));
        CHECK(*held == before);  // AddressSanitizer checks it was not freed
        counted.reads = 0;
        REQUIRE(table.find(entries.front().key, buffers, found, ec));  // read from the file again
        CHECK(same_entry(found, entries.front()));
        CHECK(counted.reads == 1);
    }

    SECTION("a scan takes no room in the cache") {
        REQUIRE(cache.set_budget(std::uint64_t{8} << 20, "block_cache_bytes", ec));
        kd::table_cursor<kvforge::uncompressed_blocks, counted_file> cursor(table);
        std::size_t seen = 0;
        for (bool more = cursor.seek_first(ec); more; more = cursor.next(ec)) ++seen;
        CHECK(seen == entries.size());
        CHECK(cache.blocks() == 0);
    }

    SECTION("threads that share a cache read the entries written") {
        REQUIRE(cache.set_budget(256 << 10, "block_cache_bytes", ec));
        std::atomic<std::size_t> wrong{0};
        const auto reader = [&](std::size_t start) {
            kd::table_read_buffers own;
            kd::table_entry got;
            std::error_code got_ec;
            for (std::size_t i = start; i < entries.size(); i += 2) {
                if (!table.find(entries[i].key, own, got, got_ec) || !same_entry(got, entries[i])) ++wrong;
            }
        };
        std::thread other(reader, 1);
        reader(0);
        other.join();
        CHECK(wrong == 0);
    }
}

TEST_CASE("a block cache keeps no damaged block", "[table][cache]") {
    const std::vector<kept_entry> entries = sample_entries(500, 100);
    memory_file file = build_table(kvforge::uncompressed_blocks{}, entries);
    file.bytes[kd::file_header::size + 10] ^= 0x04;  // in the first data block
    kd::table_reader<kvforge::uncompressed_blocks, memory_file> table;
    std::error_code ec;
    REQUIRE(table.open(kvforge::uncompressed_blocks{}, file, file.bytes.size(), "table", ec));
    kd::block_cache cache;
    REQUIRE(cache.set_budget(std::uint64_t{1} << 20, "block_cache_bytes", ec));
    table.use_cache(&cache);
    kd::table_read_buffers buffers;
    kd::table_entry found;
    for (int round = 0; round < 2; ++round) {
        CHECK_FALSE(table.find(entries.front().key, buffers, found, ec));
        CHECK(ec == kvforge::errc::corrupt_record);
    }
    CHECK(cache.blocks() == 0);
    REQUIRE(table.find(entries.back().key, buffers, found, ec));
    CHECK(cache.blocks() == 1);
}
