#pragma once
/// \file record_format.hpp
/// The bytes of a log-structured store's files: file headers and records, in format
/// versions 1 and 2. Every size, encoding and parse is here, so that writers, readers,
/// recovery, compaction and hints agree. docs/format.md describes the same layout for
/// readers of the files.
///
/// A data file is a header (32 bytes in version 1, 64 in version 2) followed by
/// records. Each record is
///
///     crc32c   u32 little-endian, over every byte of the record after it
///     type     u8: low 3 bits the kind (1 put, 2 erase, 3 batch, 4 clear); in version 2
///              a put's bit 0x08 says a deadline follows the sizes, bit 0x10 a value tag
///     put:     varint key size, varint value size, [deadline i64], [tag u8], key, value
///     erase:   varint key size, key
///     batch:   varint operation count, varint body size, body
///     clear:   nothing more (version 2): every record before it is dropped
///
/// where a batch body is a sequence of complete put and erase records, each with its
/// own checksum (so that a point read can check the one record it reads), and the
/// batch's checksum covers the whole body (so that recovery takes all of it or none).
/// A record without flag bits is the same bytes in both versions.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../../detail/byte_order.hpp"
#include "../../detail/crc32c.hpp"
#include "../../limits.hpp"

namespace kvforge::detail {

/// The format version this code writes; it reads this one and every earlier one.
inline constexpr std::uint16_t format_version = 2;

/// What a file holds, told by the last byte of its magic.
enum class file_kind : char { data = 'L', hint = 'H', table = 'T' };

/// The fixed header at the start of every data and hint file.
///
///     0  magic     8 bytes: "kvforge" then the file kind
///     8  version   u16: format version of the file
///     10 flags     u16: zero; a reader refuses unknown flags
///     12 file id   u32: a data file's random id, repeated in its hint; 0 in files of
///                  releases before it was written (which readers of those ignore)
///     16 codecs    u64: fingerprint of the key and value codecs
///     24 sequence  u32: the file's generation, also in its name
///     28 crc32c    u32: over bytes 0 to 27
///
/// and from version 2 on (after the first half, so that a version 1 reader, which
/// checks only that, reports a newer version rather than damage):
///
///     32 order     u64: where the file's records stand in replay order
///     40 layers    u64: fingerprint of the store's expiry and compression (layers_fingerprint),
///                  so that a lost MANIFEST can be rebuilt from the data files; 0 in files
///                  written before it was recorded, and in hint files
///     48 reserved  12 bytes: zero; a reader refuses others
///     60 crc32c    u32: over bytes 32 to 59
struct file_header {
    /// The header's size in the version this code writes.
    static constexpr std::size_t size = 64;
    /// The header's size in version 1 files.
    static constexpr std::size_t v1_size = 32;

    file_kind kind = file_kind::data;
    std::uint16_t version = format_version;
    std::uint64_t codec_fingerprint = 0;
    std::uint32_t generation = 0;
    /// Tells a data file from an earlier one of the same generation, so that a hint is
    /// used only for the file it was written for.
    std::uint32_t file_id = 0;
    /// Where the file's records stand in replay order; a version 1 file's is its generation.
    std::uint64_t order = 0;
    /// The store's expiry and compression, as layers_fingerprint gives them; 0 when not recorded.
    std::uint64_t layers = 0;

    /// The size of a header of this version.
    [[nodiscard]] static constexpr std::size_t size_of(std::uint16_t version) noexcept {
        return version < 2 ? v1_size : size;
    }
    /// The size of this header, by its version.
    [[nodiscard]] std::size_t bytes() const noexcept { return size_of(version); }

    /// Writes the header's bytes() bytes at out.
    void encode(char* out) const noexcept {
        std::memcpy(out, "kvforge", 7);
        out[7] = static_cast<char>(kind);
        put_le16(out + 8, version);
        put_le16(out + 10, 0);
        put_le32(out + 12, file_id);
        put_le64(out + 16, codec_fingerprint);
        put_le32(out + 24, generation);
        put_le32(out + 28, crc32c({out, 28}));
        if (version < 2) return;
        put_le64(out + 32, order);
        put_le64(out + 40, layers);
        std::memset(out + 48, 0, 12);
        put_le32(out + 60, crc32c({out + 32, 28}));
    }

    /// Why a header could not be read.
    enum class problem { none, truncated, bad_magic, bad_checksum, newer_version, unknown_flags };

    /// Reads a header from the first bytes of a file.
    [[nodiscard]] static problem decode(std::string_view bytes, file_kind expected, file_header& out) noexcept {
        if (bytes.size() < v1_size) return problem::truncated;
        const char* p = bytes.data();
        if (std::memcmp(p, "kvforge", 7) != 0 || p[7] != static_cast<char>(expected)) return problem::bad_magic;
        if (get_le32(p + 28) != crc32c({p, 28})) return problem::bad_checksum;
        out.kind = expected;
        out.version = get_le16(p + 8);
        if (out.version > format_version) return problem::newer_version;
        if (get_le16(p + 10) != 0) return problem::unknown_flags;
        out.file_id = get_le32(p + 12);
        out.codec_fingerprint = get_le64(p + 16);
        out.generation = get_le32(p + 24);
        out.order = out.generation;
        if (out.version < 2) return problem::none;
        if (bytes.size() < size) return problem::truncated;
        if (get_le32(p + 60) != crc32c({p + 32, 28})) return problem::bad_checksum;
        for (std::size_t i = 48; i < 60; ++i) {
            if (p[i] != 0) return problem::unknown_flags;
        }
        out.order = get_le64(p + 32);
        out.layers = get_le64(p + 40);
        return problem::none;
    }

    static void put_le16(char* p, std::uint16_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le32(char* p, std::uint32_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le64(char* p, std::uint64_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static std::uint16_t get_le16(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint16_t>(p)); }
    static std::uint32_t get_le32(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint32_t>(p)); }
    static std::uint64_t get_le64(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint64_t>(p)); }
};

/// The kinds of record in a data file: the low 3 bits of a record's type byte.
enum class record_type : unsigned char { put = 1, erase = 2, batch = 3, clear = 4 };

/// The flag bits of a put record's type byte (version 2).
namespace record_flag {
/// A deadline (i64 little-endian) follows the sizes.
inline constexpr unsigned char deadline = 0x08;
/// A tag byte about the value's encoding follows the sizes (and the deadline).
inline constexpr unsigned char tag = 0x10;
/// Every flag bit this code knows.
inline constexpr unsigned char known = deadline | tag;
}  // namespace record_flag

/// The bytes the flags add to a put record's header.
[[nodiscard]] constexpr std::size_t flag_fields_size(unsigned char flags) noexcept {
    return ((flags & record_flag::deadline) != 0 ? 8 : 0) + ((flags & record_flag::tag) != 0 ? 1 : 0);
}

/// The largest record header: crc, type, two 10-byte varints, a deadline and a tag.
inline constexpr std::size_t max_record_header = 4 + 1 + 2 * max_varint_size + 9;

/// The size of a put record's header for these sizes and flags.
[[nodiscard]] constexpr std::size_t put_header_size(std::size_t key_size, std::size_t value_size,
                                                    unsigned char flags = 0) noexcept {
    return 4 + 1 + varint_size(key_size) + varint_size(value_size) + flag_fields_size(flags);
}

/// The size of an erase record (a tombstone) for a key of this size.
[[nodiscard]] constexpr std::size_t erase_record_size(std::size_t key_size) noexcept {
    return 4 + 1 + varint_size(key_size) + key_size;
}

/// What a put record carries beside its key and value (format 2): flags say which of
/// the deadline and the tag are there. With no flags the record is format 1's.
struct record_meta {
    unsigned char flags = 0;    ///< record_flag bits
    std::int64_t deadline = 0;  ///< with record_flag::deadline
    unsigned char tag = 0;      ///< with record_flag::tag
};

/// Appends a put record to out.
inline void append_put_record(std::string& out, std::string_view key, std::string_view value,
                              const record_meta& meta = {}) {
    const std::size_t start = out.size();
    out.resize(start + put_header_size(key.size(), value.size(), meta.flags));
    char* p = out.data() + start + 4;
    *p++ = static_cast<char>(static_cast<unsigned char>(record_type::put) | meta.flags);
    p = put_varint(p, key.size());
    p = put_varint(p, value.size());
    if ((meta.flags & record_flag::deadline) != 0) {
        file_header::put_le64(p, static_cast<std::uint64_t>(meta.deadline));
        p += 8;
    }
    if ((meta.flags & record_flag::tag) != 0) *p = static_cast<char>(meta.tag);
    out.append(key).append(value);
    const std::uint32_t crc = crc32c({out.data() + start + 4, out.size() - start - 4});
    file_header::put_le32(out.data() + start, crc);
}

/// Appends an erase record (a tombstone) to out.
inline void append_erase_record(std::string& out, std::string_view key) {
    const std::size_t start = out.size();
    char header[4 + 1 + max_varint_size];
    char* p = header + 4;
    *p++ = static_cast<char>(record_type::erase);
    p = put_varint(p, key.size());
    out.append(header, static_cast<std::size_t>(p - header)).append(key);
    const std::uint32_t crc = crc32c({out.data() + start + 4, out.size() - start - 4});
    file_header::put_le32(out.data() + start, crc);
}

/// Appends a clear record (format 2): replay drops every record before it.
inline void append_clear_record(std::string& out) {
    const std::size_t start = out.size();
    out.append(4, '\0');
    out.push_back(static_cast<char>(record_type::clear));
    file_header::put_le32(out.data() + start, crc32c({out.data() + start + 4, 1}));
}

/// Starts a batch record in out; returns where it starts, for finish_batch_record.
/// The caller appends the operations' records and then calls finish_batch_record.
[[nodiscard]] inline std::size_t begin_batch_record(std::string& out) {
    const std::size_t start = out.size();
    out.append(4 + 1 + 2 * max_varint_size, '\0');  // room for the widest header; compacted on finish
    return start;
}

/// Writes the header of a batch record begun at start, holding count operations;
/// returns the header's size, where the operations' records start.
inline std::size_t finish_batch_record(std::string& out, std::size_t start, std::size_t count) {
    const std::size_t reserved = 4 + 1 + 2 * max_varint_size;
    const std::size_t body_size = out.size() - start - reserved;
    char header[4 + 1 + 2 * max_varint_size];
    char* p = header + 4;
    *p++ = static_cast<char>(record_type::batch);
    p = put_varint(p, count);
    p = put_varint(p, body_size);
    const auto header_size = static_cast<std::size_t>(p - header);
    // Slide the body back against the real header, then checksum header and body.
    out.replace(start, reserved, header, header_size);
    const std::uint32_t crc = crc32c({out.data() + start + 4, header_size - 4 + body_size});
    file_header::put_le32(out.data() + start, crc);
    return header_size;
}

/// A record read from bytes: where its parts are, as offsets from the record's start.
struct record_info {
    record_type type = record_type::put;
    unsigned char flags = 0;       ///< put: its record_flag bits
    std::int64_t deadline = 0;     ///< put with record_flag::deadline
    unsigned char tag = 0;         ///< put with record_flag::tag
    std::size_t size = 0;          ///< bytes of the whole record (claimed, when parse_record finds it incomplete)
    std::size_t key_offset = 0;    ///< put, erase
    std::size_t key_size = 0;      ///< put, erase
    std::size_t value_offset = 0;  ///< put: the value; batch: the body
    std::size_t value_size = 0;    ///< put: the value; batch: the body
    std::size_t count = 0;         ///< batch: operations in the body
};

/// What parse_record found.
enum class parse_status {
    ok,          ///< a whole record with a good checksum
    incomplete,  ///< the bytes end inside the record's header or body
    bad,         ///< not a valid record: unknown type or flags, impossible sizes or a checksum mismatch
};

/// Reads a put record's deadline and tag, as its flags say, from p on; returns the end of them.
inline const char* parse_flag_fields(const char* p, record_info& info) noexcept {
    info.deadline = 0;
    info.tag = 0;
    if ((info.flags & record_flag::deadline) != 0) {
        info.deadline = static_cast<std::int64_t>(file_header::get_le64(p));
        p += 8;
    }
    if ((info.flags & record_flag::tag) != 0) info.tag = static_cast<unsigned char>(*p++);
    return p;
}

/// Reads the record at the start of bytes, checking its sizes and checksum, by the rules
/// of a file of this format version (version 1 has no flags and no clear records).
[[nodiscard]] inline parse_status parse_record(std::string_view bytes, record_info& info,
                                               std::uint16_t version = format_version) noexcept {
    const char* const begin = bytes.data();
    const char* const end = begin + bytes.size();
    if (bytes.size() < 5) return parse_status::incomplete;
    const auto type_byte = static_cast<unsigned char>(begin[4]);
    info.type = static_cast<record_type>(type_byte & 0x07);
    info.flags = static_cast<unsigned char>(type_byte & ~0x07);
    if ((info.flags & ~record_flag::known) != 0 || (info.flags != 0 && info.type != record_type::put)) {
        return parse_status::bad;
    }
    if (version < 2 && (info.flags != 0 || info.type == record_type::clear)) return parse_status::bad;
    const char* p = begin + 5;
    std::uint64_t first = 0;
    std::uint64_t second = 0;
    // A varint cut off by the end of the bytes is incomplete; an overlong one is bad.
    auto read_varint = [&](std::uint64_t& v) {
        const char* next = get_varint(p, end, v);
        if (next == nullptr) return end - p < static_cast<std::ptrdiff_t>(max_varint_size) ? parse_status::incomplete
                                                                                           : parse_status::bad;
        p = next;
        return parse_status::ok;
    };
    std::size_t shortest = 5;
    switch (info.type) {
        case record_type::put:
        case record_type::batch:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            if (auto s = read_varint(second); s != parse_status::ok) return s;
            shortest += varint_size(first) + varint_size(second);
            break;
        case record_type::erase:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            shortest += varint_size(first);
            break;
        case record_type::clear:
            break;
        default:
            return parse_status::bad;
    }
    // Sizes are written in their shortest form; a longer one is no record of ours, and
    // point reads, which work the record's size out from the sizes, would disagree on it.
    if (static_cast<std::size_t>(p - begin) != shortest) return parse_status::bad;
    if (static_cast<std::size_t>(end - p) < flag_fields_size(info.flags)) return parse_status::incomplete;
    p = parse_flag_fields(p, info);
    const auto header_size = static_cast<std::size_t>(p - begin);
    std::uint64_t body_size = 0;
    info.key_offset = header_size;
    info.key_size = 0;
    info.value_offset = header_size;
    info.value_size = 0;
    if (info.type == record_type::batch) {
        // A batch body holds at least one 6-byte record per operation, and no more than the files can.
        if (second > (std::uint64_t{1} << 40) || first == 0 || first > second / 6) return parse_status::bad;
        info.count = first;
        body_size = second;
        info.value_size = second;
    } else if (info.type != record_type::clear) {
        if (first > max_key_size || second > max_value_size) return parse_status::bad;
        info.key_size = first;
        info.value_offset = header_size + first;
        info.value_size = info.type == record_type::put ? second : 0;
        body_size = first + info.value_size;
    }
    // Set before the bytes are known to hold it all: an incomplete record says how long it claims to be.
    info.size = header_size + body_size;
    if (body_size > bytes.size() - header_size) return parse_status::incomplete;
    if (file_header::get_le32(begin) != crc32c({begin + 4, info.size - 4})) return parse_status::bad;
    return parse_status::ok;
}

/// Checks the header and key of a put record whose value (value_size bytes) is held
/// elsewhere: head holds exactly the header and the key.
[[nodiscard]] inline bool parse_record_header(std::string_view head, std::size_t value_size,
                                              record_info& info) noexcept {
    if (head.size() < 5) return false;
    const auto type_byte = static_cast<unsigned char>(head[4]);
    info.type = static_cast<record_type>(type_byte & 0x07);
    info.flags = static_cast<unsigned char>(type_byte & ~0x07);
    if (info.type != record_type::put || (info.flags & ~record_flag::known) != 0) return false;
    const char* const end = head.data() + head.size();
    std::uint64_t key_size = 0;
    std::uint64_t stored_value_size = 0;
    const char* p = get_varint(head.data() + 5, end, key_size);
    if (p != nullptr) p = get_varint(p, end, stored_value_size);
    if (p == nullptr || stored_value_size != value_size ||
        static_cast<std::size_t>(end - p) < flag_fields_size(info.flags)) {
        return false;
    }
    p = parse_flag_fields(p, info);
    info.key_offset = static_cast<std::size_t>(p - head.data());
    info.key_size = key_size;
    info.value_size = value_size;
    return info.key_offset + key_size == head.size();
}

/// Where a key's record is: the index payload of a log-structured store, as three
/// varints: the segment's id, the record's offset in it (segments stay below 4 GiB: see
/// max_segment_bytes), and the value's size shifted left by 5 with the record's flag
/// bits (bits 3 to 7 of the type byte, which tell the record's size with the sizes) in
/// the low 5 bits. Usually 7 bytes (a 100-byte value in a 32 MiB segment): the index
/// keeps one per key in memory, so every byte counts a megabyte per million keys.
struct record_location {
    std::uint32_t segment = 0;     ///< the id of the segment holding the record
    std::uint32_t offset = 0;      ///< the record's start in that segment
    std::uint32_t value_size = 0;  ///< the value's size
    unsigned char flags = 0;       ///< the record's record_flag bits

    /// The longest encoding: three varints of 32 bits.
    static constexpr std::size_t max_encoded_size = 15;
    static constexpr unsigned flag_shift = 3;  // record_flag bits 3 to 7 are the low 5 bits of the last varint
    static_assert(max_value_size <= (std::uint64_t{1} << 26), "a value's size and the flags must fit 32 bits");

    /// Writes the location to out (max_encoded_size bytes of room); returns its length.
    std::size_t encode(char* out) const noexcept {
        char* p = put_varint(out, segment);
        p = put_varint(p, offset);
        p = put_varint(p, (std::uint64_t{value_size} << 5) | (flags >> flag_shift));
        return static_cast<std::size_t>(p - out);
    }
    /// Reads a location encode() wrote (index payloads only: the bytes are trusted).
    [[nodiscard]] static record_location decode(std::string_view bytes) noexcept {
        const char* p = bytes.data();
        const char* const end = p + bytes.size();
        std::uint64_t segment = 0;
        std::uint64_t offset = 0;
        std::uint64_t sized = 0;
        p = get_varint(p, end, segment);
        p = get_varint(p, end, offset);
        get_varint(p, end, sized);
        return {static_cast<std::uint32_t>(segment), static_cast<std::uint32_t>(offset),
                static_cast<std::uint32_t>(sized >> 5), static_cast<unsigned char>((sized & 0x1f) << flag_shift)};
    }
    [[nodiscard]] std::uint64_t record_size(std::size_t key_size) const noexcept {
        return put_header_size(key_size, value_size, flags) + key_size + value_size;
    }
};

/// The largest a segment may grow: its offsets must fit the 32 bits of a record_location,
/// with room for one more record of the largest size after the threshold is reached.
inline constexpr std::uint64_t max_segment_bytes = (std::uint64_t{1} << 32) - (std::uint64_t{1} << 28);

/// The fingerprint of a key codec and a value codec, as data files record it.
[[nodiscard]] inline std::uint64_t codec_fingerprint(const std::string& key_codec, const std::string& value_codec) {
    std::string both = key_codec;
    both.push_back('\0');
    both += value_codec;
    const std::uint64_t low = crc32c(both);
    const std::uint64_t high = crc32c_extend(0x6b76666fU, both);  // a second, independent CRC
    return (high << 32) | low;
}

/// The fingerprint of a store's expiry and compression (the MANIFEST's `expiry` and
/// `compression` fields), as data file headers record it: never 0, which stands for
/// "not recorded". Together with the codec fingerprint it says how a data file's values
/// are read, so that a MANIFEST lost from a store can be rebuilt from its data files.
[[nodiscard]] inline std::uint64_t layers_fingerprint(const std::string& expiry, const std::string& compression) {
    const std::uint64_t fingerprint = codec_fingerprint("expiry " + expiry, "compression " + compression);
    return fingerprint == 0 ? 1 : fingerprint;
}

}  // namespace kvforge::detail
