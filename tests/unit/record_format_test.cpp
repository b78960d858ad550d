// The bytes of format versions 1 and 2: headers, records with and without flags, clear
// records and hints, encoded and parsed by stores/log/record_format.hpp and hint.hpp.

#include <catch2/catch.hpp>

#include <kvforge/limits.hpp>
#include <kvforge/stores/log/hint.hpp>
#include <kvforge/stores/log/record_format.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kd = kvforge::detail;

namespace {

/// A finished hint's pieces, one after another: the file's bytes.
std::string hint_bytes(const std::vector<std::string_view>& pieces) {
    std::string bytes;
    for (const std::string_view piece : pieces) bytes.append(piece);
    return bytes;
}

}  // namespace

TEST_CASE("a format 2 header holds its order and refuses what it does not know", "[record_format]") {
    kd::file_header header;
    header.codec_fingerprint = 0x0102030405060708ULL;
    header.generation = 7;
    header.file_id = 99;
    header.order = 0x1122334455667788ULL;
    char bytes[kd::file_header::size];
    header.encode(bytes);
    const std::string_view view(bytes, sizeof bytes);

    kd::file_header read;
    REQUIRE(kd::file_header::decode(view, kd::file_kind::data, read) == kd::file_header::problem::none);
    CHECK(read.version == 2);
    CHECK(read.bytes() == 64);
    CHECK(read.order == header.order);
    CHECK(read.generation == 7);
    CHECK(read.file_id == 99);
    CHECK(read.codec_fingerprint == header.codec_fingerprint);

    CHECK(kd::file_header::decode(view.substr(0, 40), kd::file_kind::data, read) ==
          kd::file_header::problem::truncated);
    std::string changed(view);
    changed[50] = 1;  // a reserved byte, the checksum made to match
    kd::file_header::put_le32(changed.data() + 60, kd::crc32c(std::string_view(changed).substr(32, 28)));
    CHECK(kd::file_header::decode(changed, kd::file_kind::data, read) == kd::file_header::problem::unknown_flags);
    changed[50] = 0;
    changed[33] ^= 1;  // the order, without a matching checksum
    CHECK(kd::file_header::decode(changed, kd::file_kind::data, read) == kd::file_header::problem::bad_checksum);
}

TEST_CASE("a format 1 header is 32 bytes and its order is its generation", "[record_format]") {
    kd::file_header header;
    header.version = 1;
    header.generation = 3;
    char bytes[kd::file_header::size] = {};
    header.encode(bytes);
    kd::file_header read;
    REQUIRE(kd::file_header::decode({bytes, kd::file_header::v1_size}, kd::file_kind::data, read) ==
            kd::file_header::problem::none);
    CHECK(read.version == 1);
    CHECK(read.bytes() == 32);
    CHECK(read.order == 3);
}

TEST_CASE("a header of a newer version is refused before its second half is read", "[record_format]") {
    kd::file_header header;
    header.version = kd::format_version + 1;
    char bytes[kd::file_header::size] = {};
    header.encode(bytes);
    kd::file_header read;
    CHECK(kd::file_header::decode({bytes, kd::file_header::v1_size}, kd::file_kind::data, read) ==
          kd::file_header::problem::newer_version);
}

TEST_CASE("a put record without flags is the same bytes in both versions", "[record_format]") {
    std::string record;
    kd::append_put_record(record, "key", "value");
    CHECK(record.size() == kd::put_header_size(3, 5) + 8);
    CHECK(static_cast<unsigned char>(record[4]) == 1);
    for (std::uint16_t version : {1, 2}) {
        kd::record_info info;
        REQUIRE(kd::parse_record(record, info, version) == kd::parse_status::ok);
        CHECK(info.flags == 0);
        CHECK(record.substr(info.key_offset, info.key_size) == "key");
        CHECK(record.substr(info.value_offset, info.value_size) == "value");
    }
}

TEST_CASE("a put record's deadline and tag follow its sizes, in version 2 only", "[record_format]") {
    const kd::record_meta meta{kd::record_flag::deadline | kd::record_flag::tag, -12345678901234LL, 0x7f};
    std::string record;
    kd::append_put_record(record, "key", "value", meta);
    CHECK(record.size() == kd::put_header_size(3, 5, meta.flags) + 8);
    CHECK(record.size() == kd::put_header_size(3, 5) + 9 + 8);
    kd::record_info info;
    REQUIRE(kd::parse_record(record, info, 2) == kd::parse_status::ok);
    CHECK(info.type == kd::record_type::put);
    CHECK(info.flags == meta.flags);
    CHECK(info.deadline == meta.deadline);
    CHECK(info.tag == meta.tag);
    CHECK(record.substr(info.key_offset, info.key_size) == "key");
    CHECK(record.substr(info.value_offset, info.value_size) == "value");
    CHECK(kd::parse_record(record, info, 1) == kd::parse_status::bad);

    // The header alone, as a point read checks it with the value elsewhere.
    kd::record_info head;
    REQUIRE(kd::parse_record_header(std::string_view(record).substr(0, info.value_offset), 5, head));
    CHECK(head.deadline == meta.deadline);
    CHECK(head.key_offset == info.key_offset);

    // Only the tag: one byte more than no flags.
    std::string tagged;
    kd::append_put_record(tagged, "key", "value", {kd::record_flag::tag, 0, 1});
    CHECK(tagged.size() == record.size() - 8);
    REQUIRE(kd::parse_record(tagged, info) == kd::parse_status::ok);
    CHECK(info.tag == 1);

    // The index payload keeps the flags, so that the record's size is known.
    const kd::record_location where{7, 1000, 5, meta.flags};
    char payload[kd::record_location::max_encoded_size];
    const std::size_t length = where.encode(payload);
    CHECK(length == 5);  // three varints: 7 (1 byte), 1000 (2) and 5 << 5 with the flags (2)
    const kd::record_location back = kd::record_location::decode({payload, length});
    CHECK(back.segment == 7);
    CHECK(back.offset == 1000);
    CHECK(back.value_size == 5);
    CHECK(back.flags == meta.flags);
    CHECK(back.record_size(3) == record.size());
}

TEST_CASE("an index location keeps the largest segment id, offset and value size with every flag",
          "[record_format]") {
    const kd::record_location where{0xffffffffU, static_cast<std::uint32_t>(kd::max_segment_bytes - 1),
                                    static_cast<std::uint32_t>(kvforge::max_value_size), kd::record_flag::known};
    char payload[kd::record_location::max_encoded_size];
    const std::size_t length = where.encode(payload);
    CHECK(length == kd::record_location::max_encoded_size);
    const kd::record_location back = kd::record_location::decode({payload, length});
    CHECK(back.segment == where.segment);
    CHECK(back.offset == where.offset);
    CHECK(back.value_size == where.value_size);
    CHECK(back.flags == where.flags);

    // The usual case: a 100-byte value in a 32 MiB segment takes 7 bytes rather than 12.
    CHECK(kd::record_location{12, 30'000'000, 100, 0}.encode(payload) == 7);
}

TEST_CASE("unknown flag bits, and flags on other kinds than put, make a record bad", "[record_format]") {
    std::string record;
    kd::append_put_record(record, "key", "value");
    kd::record_info info;
    for (unsigned char bits : {0x20, 0x40, 0x80}) {
        std::string changed = record;
        changed[4] = static_cast<char>(1 | bits);
        kd::file_header::put_le32(changed.data(), kd::crc32c(std::string_view(changed).substr(4)));
        CHECK(kd::parse_record(changed, info) == kd::parse_status::bad);
    }
    std::string erase;
    kd::append_erase_record(erase, "key");
    erase[4] = static_cast<char>(2 | kd::record_flag::tag);
    kd::file_header::put_le32(erase.data(), kd::crc32c(std::string_view(erase).substr(4)));
    CHECK(kd::parse_record(erase, info) == kd::parse_status::bad);
}

TEST_CASE("a clear record is five bytes, and only in version 2", "[record_format]") {
    std::string record;
    kd::append_clear_record(record);
    CHECK(record.size() == 5);
    kd::record_info info;
    REQUIRE(kd::parse_record(record, info) == kd::parse_status::ok);
    CHECK(info.type == kd::record_type::clear);
    CHECK(info.size == 5);
    CHECK(kd::parse_record(record, info, 1) == kd::parse_status::bad);
}

TEST_CASE("a hint lists records with shared key prefixes and gaps, and is refused when it does not fit",
          "[record_format]") {
    const kd::hint_identity data{4, 0xabcdef, 77, kd::file_header::size};
    std::vector<kd::hint_entry> entries;
    const std::vector<std::string> keys{"apple", "applesauce", "banana", "band"};
    std::uint64_t at = kd::file_header::size + 10;  // a batch header, say, before the first
    for (std::size_t i = 0; i < keys.size(); ++i) {
        kd::hint_entry entry;
        entry.type = i == 2 ? kd::record_type::erase : kd::record_type::put;
        entry.key = keys[i];
        entry.value_size = static_cast<std::uint32_t>(i * 100);
        if (i == 3) {
            entry.flags = kd::record_flag::deadline;
            entry.deadline = 42;
        }
        entry.offset = at;
        at += entry.record_size() + (i == 1 ? 30 : 0);  // 30 bytes of records the hint leaves out
        entries.push_back(entry);
    }
    kd::hint_builder builder(data);
    for (const kd::hint_entry& entry : entries) builder.add(entry);
    const std::string bytes = hint_bytes(builder.finish(at));

    std::vector<kd::hint_entry> read;
    std::vector<std::string> read_keys;
    std::uint64_t announced = 0;
    const std::uint64_t covered = kd::read_hint(
        bytes, data, at, [&](std::uint64_t count, std::uint64_t) { announced = count; },
        [&](const kd::hint_entry& entry) {
            read.push_back(entry);
            read_keys.emplace_back(entry.key);
        });
    REQUIRE(covered == at);
    CHECK(announced == entries.size());
    REQUIRE(read.size() == entries.size());
    CHECK(read_keys == keys);
    for (std::size_t i = 0; i < entries.size(); ++i) {
        CHECK(read[i].type == entries[i].type);
        CHECK(read[i].offset == entries[i].offset);
        CHECK(read[i].value_size == (entries[i].type == kd::record_type::put ? entries[i].value_size : 0));
        CHECK(read[i].flags == entries[i].flags);
        CHECK(read[i].deadline == entries[i].deadline);
    }
    CHECK(read[0].gap == 10);
    CHECK(read[2].gap == 30);

    int calls = 0;
    const auto count = [&](auto&&...) { ++calls; };
    CHECK(kd::read_hint(bytes, data, at - 1, count, count) == 0);  // the data file is shorter than it covers
    kd::hint_identity other = data;
    other.file_id = 78;
    CHECK(kd::read_hint(bytes, other, at, count, count) == 0);
    std::string damaged = bytes;
    damaged[kd::file_header::size + 20] ^= 1;
    CHECK(kd::read_hint(damaged, data, at, count, count) == 0);
    CHECK(calls == 0);

    // The same in two steps, as an open takes them (the check on another thread).
    const kd::hint_check checked = kd::check_hint(bytes, data, at);
    REQUIRE(checked.passed());
    CHECK(checked.covered == at);
    CHECK(checked.entries == entries.size());
    std::vector<std::string> delivered_keys;
    std::vector<std::uint64_t> delivered_offsets;
    kd::read_checked_hint(bytes, data, checked, [&](const kd::hint_entry& entry) {
        delivered_keys.emplace_back(entry.key);
        delivered_offsets.push_back(entry.offset);
    });
    CHECK(delivered_keys == keys);
    for (std::size_t i = 0; i < entries.size(); ++i) CHECK(delivered_offsets[i] == entries[i].offset);
    CHECK_FALSE(kd::check_hint(bytes, data, at - 1).passed());
    CHECK_FALSE(kd::check_hint(bytes, other, at).passed());
    CHECK_FALSE(kd::check_hint(damaged, data, at).passed());
    CHECK_FALSE(kd::check_hint(bytes.substr(0, bytes.size() - 1), data, at).passed());
}


TEST_CASE("a hint built in blocks reads back whole, entries across block boundaries included", "[record_format]") {
    const kd::hint_identity data{9, 0x1234, 5, kd::file_header::size};
    // Keys of every length from 1 to 40, so entries end at every place in a block, and
    // one key of the largest size, longer than a block, which spans two or three.
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < 20000; ++i) keys.push_back(std::to_string(i * 7919) + std::string(i % 33, 'k'));
    keys.insert(keys.begin() + 10000, std::string(kvforge::max_key_size, 'z'));
    kd::hint_builder builder(data);
    std::uint64_t at = kd::file_header::size;
    std::vector<std::uint64_t> offsets;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        kd::hint_entry entry;
        entry.key = keys[i];
        entry.value_size = static_cast<std::uint32_t>(i % 300);
        entry.offset = at + i % 5;  // gaps of 0 to 4 bytes
        offsets.push_back(entry.offset);
        at = entry.offset + entry.record_size();
        builder.add(entry);
    }
    const std::vector<std::string_view> pieces = builder.finish(at);
    REQUIRE(pieces.size() > 3);
    for (std::size_t i = 0; i + 1 < pieces.size(); ++i) CHECK(pieces[i].size() == kd::hint_builder::block_size);
    CHECK(pieces.back().size() <= kd::hint_builder::block_size);

    const std::string bytes = hint_bytes(pieces);
    CHECK(kd::hint_entry_count(bytes, bytes.size(), data) == keys.size());
    std::size_t next = 0;
    bool all_match = true;
    const std::uint64_t covered = kd::read_hint(
        bytes, data, at, [](std::uint64_t, std::uint64_t) {},
        [&](const kd::hint_entry& entry) {
            all_match = all_match && next < keys.size() && entry.key == keys[next] && entry.offset == offsets[next] &&
                        entry.value_size == next % 300;
            ++next;
        });
    CHECK(covered == at);
    CHECK(next == keys.size());
    CHECK(all_match);
}

TEST_CASE("a hint's entries taken over as bytes, then added to, make the hint adding them all makes",
          "[record_format]") {
    const kd::hint_identity data{3, 0x77, 12, kd::file_header::size};
    // Keys sharing prefixes, a tombstone and puts with a deadline and a tag, so that the
    // entries added after the copied ones depend on the last copied key and record end.
    std::vector<std::string> keys;
    for (int i = 0; i < 3000; ++i) keys.push_back("user:" + std::to_string(i * 31 % 1000) + std::string(i % 7, 'x'));
    std::vector<kd::hint_entry> entries;
    std::uint64_t at = kd::file_header::size;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        kd::hint_entry entry;
        entry.key = keys[i];
        if (i % 97 == 5) {
            entry.type = kd::record_type::erase;
        } else {
            entry.value_size = static_cast<std::uint32_t>(i % 200);
            if (i % 11 == 0) {
                entry.flags = kd::record_flag::deadline | kd::record_flag::tag;
                entry.deadline = static_cast<std::int64_t>(i) * 1000;
                entry.tag = static_cast<unsigned char>(i);
            }
        }
        entry.offset = at + i % 3;
        at = entry.offset + entry.record_size();
        entries.push_back(entry);
    }
    for (const std::size_t split : {std::size_t{0}, std::size_t{1}, std::size_t{1500}, entries.size()}) {
        kd::hint_builder first(data);
        std::uint64_t first_end = kd::file_header::size;
        for (std::size_t i = 0; i < split; ++i) {
            first.add(entries[i]);
            first_end = entries[i].offset + entries[i].record_size();
        }
        const std::string first_bytes = hint_bytes(first.finish(first_end));
        std::uint64_t listed = 0;
        REQUIRE(kd::read_hint(
                    first_bytes, data, first_end, [&](std::uint64_t count, std::uint64_t) { listed = count; },
                    [](const kd::hint_entry&) {}) == first_end);
        REQUIRE(listed == split);

        kd::hint_builder continued(data);
        continued.add_encoded(kd::hint_encoded_entries(first_bytes), listed,
                              split == 0 ? kd::hint_entry{} : entries[split - 1]);
        kd::hint_builder whole(data);
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (i >= split) continued.add(entries[i]);
            whole.add(entries[i]);
        }
        CHECK(hint_bytes(continued.finish(at)) == hint_bytes(whole.finish(at)));
    }
}

TEST_CASE("a hint's head gives its entry count, bounded by what the file can list", "[record_format]") {
    const kd::hint_identity data{4, 0xabcdef, 77, kd::file_header::size};
    kd::hint_builder builder(data);
    std::uint64_t at = kd::file_header::size;
    for (const char* key : {"a", "b", "c"}) {
        kd::hint_entry entry;
        entry.key = key;
        entry.value_size = 10;
        entry.offset = at;
        at += entry.record_size();
        builder.add(entry);
    }
    std::string bytes = hint_bytes(builder.finish(at));
    CHECK(kd::hint_entry_count(bytes, bytes.size(), data) == 3);
    kd::hint_identity other = data;
    other.file_id = 78;
    CHECK(kd::hint_entry_count(bytes, bytes.size(), other) == 0);
    CHECK(kd::hint_entry_count(std::string_view(bytes).substr(0, kd::file_header::size + 8), bytes.size(), data) == 0);
    kd::file_header::put_le64(bytes.data() + kd::file_header::size + 8, std::uint64_t{1} << 62);
    CHECK(kd::hint_entry_count(bytes, bytes.size(), data) == (bytes.size() - kd::file_header::size - 20) / 4);
}

TEST_CASE("hint puts come in runs of their own keys, in order, each other entry alone after its run", "[record_format]") {
    kd::hint_put_batch batch;
    std::vector<std::string> order;  // "p<offset>" per put, "e<offset>" per erase, "|" after each run
    const auto apply_puts = [&](std::span<const kd::hint_entry> run) {
        CHECK(!run.empty());
        CHECK(run.size() <= kd::hint_put_batch::capacity);
        for (const kd::hint_entry& entry : run) {
            CHECK(entry.type == kd::record_type::put);
            CHECK(entry.key == "key" + std::to_string(entry.offset));
            order.push_back("p" + std::to_string(entry.offset));
        }
        order.emplace_back("|");
    };
    const auto apply_other = [&](const kd::hint_entry& entry) {
        CHECK(entry.key == "key" + std::to_string(entry.offset));
        order.push_back("e" + std::to_string(entry.offset));
    };
    const std::size_t total = kd::hint_put_batch::capacity * 2 + 10;
    std::vector<std::string> expected;
    std::size_t run = 0;
    for (std::size_t i = 0; i < total; ++i) {
        std::string key = "key" + std::to_string(i);  // gone once pushed: the batch keeps a copy
        kd::hint_entry entry;
        entry.key = key;
        entry.offset = i;
        entry.type = i == 5 || i == 6 || i == 40 ? kd::record_type::erase : kd::record_type::put;
        batch.push(entry, apply_puts, apply_other);
        key.assign(key.size(), '?');
        if (entry.type == kd::record_type::put) {
            expected.push_back("p" + std::to_string(i));
            if (++run == kd::hint_put_batch::capacity) {
                expected.emplace_back("|");
                run = 0;
            }
        } else {
            if (run != 0) expected.emplace_back("|");
            run = 0;
            expected.push_back("e" + std::to_string(i));
        }
    }
    batch.flush(apply_puts);
    if (run != 0) expected.emplace_back("|");
    CHECK(order == expected);
    batch.flush(apply_puts);  // nothing is held twice
    CHECK(order == expected);
}
