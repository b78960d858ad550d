#pragma once
/// \file record_format.hpp
/// The bytes of a log-structured store's files: file headers and records.
/// docs/format.md describes the same layout for readers of the files.
///
/// A data file is a 32-byte header followed by records. Each record is
///
///     crc32c   u32 little-endian, over every byte of the record after it
///     type     u8: 1 put, 2 erase, 3 batch
///     put:     varint key size, varint value size, key, value
///     erase:   varint key size, key
///     batch:   varint operation count, varint body size, body
///
/// where a batch body is a sequence of complete put and erase records, each with its
/// own checksum (so that a point read can check the one record it reads), and the
/// batch's checksum covers the whole body (so that recovery takes all of it or none).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../../limits.hpp"
#include "../../detail/byte_order.hpp"
#include "../../detail/crc32c.hpp"

namespace kvforge::detail {

/// The format version this code writes; it reads this one and every earlier one.
inline constexpr std::uint16_t format_version = 1;

/// What a file holds, told by the last byte of its magic.
enum class file_kind : char { data = 'L', hint = 'H' };

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
struct file_header {
    static constexpr std::size_t size = 32;

    file_kind kind = file_kind::data;
    std::uint16_t version = format_version;
    std::uint64_t codec_fingerprint = 0;
    std::uint32_t generation = 0;
    /// Tells a data file from an earlier one of the same generation, so that a hint is
    /// used only for the file it was written for.
    std::uint32_t file_id = 0;

    void encode(char* out) const noexcept {
        std::memcpy(out, "kvforge", 7);
        out[7] = static_cast<char>(kind);
        put_le16(out + 8, version);
        put_le16(out + 10, 0);
        put_le32(out + 12, file_id);
        put_le64(out + 16, codec_fingerprint);
        put_le32(out + 24, generation);
        put_le32(out + 28, crc32c({out, 28}));
    }

    /// Why a header could not be read.
    enum class problem { none, truncated, bad_magic, bad_checksum, newer_version, unknown_flags };

    /// Reads a header from the first bytes of a file.
    [[nodiscard]] static problem decode(std::string_view bytes, file_kind expected, file_header& out) noexcept {
        if (bytes.size() < size) return problem::truncated;
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
        return problem::none;
    }

    static void put_le16(char* p, std::uint16_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le32(char* p, std::uint32_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le64(char* p, std::uint64_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static std::uint16_t get_le16(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint16_t>(p)); }
    static std::uint32_t get_le32(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint32_t>(p)); }
    static std::uint64_t get_le64(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint64_t>(p)); }
};

/// The kinds of record in a data file.
enum class record_type : unsigned char { put = 1, erase = 2, batch = 3 };

/// The largest record header: crc, type and two 10-byte varints.
inline constexpr std::size_t max_record_header = 4 + 1 + 2 * max_varint_size;

/// The size of a put record's header for these sizes.
[[nodiscard]] constexpr std::size_t put_header_size(std::size_t key_size, std::size_t value_size) noexcept {
    return 4 + 1 + varint_size(key_size) + varint_size(value_size);
}

/// Appends a put record to out.
inline void append_put_record(std::string& out, std::string_view key, std::string_view value) {
    const std::size_t start = out.size();
    out.resize(start + put_header_size(key.size(), value.size()));
    char* p = out.data() + start + 4;
    *p++ = static_cast<char>(record_type::put);
    p = put_varint(p, key.size());
    put_varint(p, value.size());
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

/// Starts a batch record in out; returns where it starts, for finish_batch_record.
/// The caller appends the operations' records and then calls finish_batch_record.
[[nodiscard]] inline std::size_t begin_batch_record(std::string& out) {
    const std::size_t start = out.size();
    out.append(4 + 1 + 2 * max_varint_size, '\0');  // room for the widest header; compacted on finish
    return start;
}

/// Writes the header of a batch record begun at start, holding count operations.
inline void finish_batch_record(std::string& out, std::size_t start, std::size_t count) {
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
}

/// A record read from bytes: where its parts are, as offsets from the record's start.
struct record_info {
    record_type type = record_type::put;
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
    bad,         ///< not a valid record: unknown type, impossible sizes or a checksum mismatch
};

/// Reads the record at the start of bytes, checking its sizes and checksum.
[[nodiscard]] inline parse_status parse_record(std::string_view bytes, record_info& info) noexcept {
    const char* const begin = bytes.data();
    const char* const end = begin + bytes.size();
    if (bytes.size() < 5) return parse_status::incomplete;
    info.type = static_cast<record_type>(begin[4]);
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
    switch (info.type) {
        case record_type::put:
        case record_type::batch:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            if (auto s = read_varint(second); s != parse_status::ok) return s;
            break;
        case record_type::erase:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            break;
        default:
            return parse_status::bad;
    }
    const auto header_size = static_cast<std::size_t>(p - begin);
    // Sizes are written in their shortest form; a longer one is no record of ours, and
    // point reads, which work the record's size out from the sizes, would disagree on it.
    const std::size_t shortest = 5 + varint_size(first) + (info.type == record_type::erase ? 0 : varint_size(second));
    if (header_size != shortest) return parse_status::bad;
    std::uint64_t body_size = 0;
    if (info.type == record_type::batch) {
        // A batch body holds at least one 6-byte record per operation, and no more than the files can.
        if (second > (std::uint64_t{1} << 40) || first == 0 || first > second / 6) return parse_status::bad;
        info.count = first;
        body_size = second;
        info.value_offset = header_size;
        info.value_size = second;
    } else {
        if (first > max_key_size || second > max_value_size) return parse_status::bad;
        info.key_offset = header_size;
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
    if (head.size() < 5 || head[4] != static_cast<char>(record_type::put)) return false;
    const char* const end = head.data() + head.size();
    std::uint64_t key_size = 0;
    std::uint64_t stored_value_size = 0;
    const char* p = get_varint(head.data() + 5, end, key_size);
    if (p != nullptr) p = get_varint(p, end, stored_value_size);
    if (p == nullptr || stored_value_size != value_size) return false;
    info.type = record_type::put;
    info.key_offset = static_cast<std::size_t>(p - head.data());
    info.key_size = key_size;
    info.value_size = value_size;
    return info.key_offset + key_size == head.size();
}

/// Where a key's record is: the index payload of a log-structured store, 12 bytes.
struct record_location {
    std::uint64_t offset = 0;      ///< the record's start in the data file
    std::uint32_t value_size = 0;  ///< the value's size, which with the key's gives the record's

    static constexpr std::size_t encoded_size = 12;

    void encode(char* out) const noexcept {
        store_unaligned(out, offset);
        store_unaligned(out + 8, value_size);
    }
    [[nodiscard]] static record_location decode(std::string_view bytes) noexcept {
        return {load_unaligned<std::uint64_t>(bytes.data()), load_unaligned<std::uint32_t>(bytes.data() + 8)};
    }
    [[nodiscard]] std::uint64_t record_size(std::size_t key_size) const noexcept {
        return put_header_size(key_size, value_size) + key_size + value_size;
    }
};

/// The fingerprint of a key codec and a value codec, as data files record it.
[[nodiscard]] inline std::uint64_t codec_fingerprint(const std::string& key_codec, const std::string& value_codec) {
    std::string both = key_codec;
    both.push_back('\0');
    both += value_codec;
    const std::uint64_t low = crc32c(both);
    const std::uint64_t high = crc32c_extend(0x6b76666fU, both);  // a second, independent CRC
    return (high << 32) | low;
}

}  // namespace kvforge::detail
