#pragma once
/// \file table_format.hpp
/// The bytes of a sorted table file around its blocks: how a block is sealed on disk
/// (compressed or not, checksummed) and the footer that finds the table's parts.
/// docs/format.md describes the same layout for readers of the files.
///
/// A table file is
///
///     header        64 bytes, a data file's header (record_format.hpp) of kind 'T'
///     data blocks   each sealed: entries in key order (table_block.hpp)
///     filter block  sealed: the Bloom filter of every key (bloom_filter.hpp)
///     index block   sealed: a block whose entries are the first key of each data block,
///                   its value the block's offset and size as two varints
///     meta block    sealed: varint entries, varint erases, varint last key size, last key,
///                   and since version 2 the table's placement (table_placement.hpp)
///     footer        64 bytes, below
///
/// A sealed block is its stored bytes, then a type byte (0 as they are, 1 compressed by
/// the store's codec as compress_value writes it: the size as a varint, then the codec's
/// bytes), then a CRC-32C of the stored bytes and the type byte. The footer is
///
///     0  index   u64 offset, u64 size (of the stored bytes, without type and checksum)
///     16 filter  u64 offset, u64 size
///     32 meta    u64 offset, u64 size
///     48 version u16: the table format's version, 2 (1 has no placement)
///     50 flags   u16: zero; a reader refuses others
///     52 crc32c  u32 over bytes 0 to 51
///     56 magic   8 bytes "kvftable"
///
/// all little-endian.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "../../compression/codec.hpp"
#include "../../detail/crc32c.hpp"
#include "../../error.hpp"
#include "../log/record_format.hpp"

namespace kvforge {

/// The codec of a table whose blocks are stored as they are.
struct uncompressed_blocks {};

namespace detail {

/// The table format version this code writes; it reads this one and version 1, whose
/// tables do not record their placement.
inline constexpr std::uint16_t table_format_version = 2;

/// Where a sealed block's stored bytes are in its file, and how many there are.
struct block_handle {
    std::uint64_t offset = 0;
    std::uint64_t size = 0;
};

/// What follows a block's stored bytes: the type byte and the checksum.
inline constexpr std::size_t block_trailer_size = 5;

/// A block's type byte.
enum class block_type : unsigned char { raw = 0, compressed = 1 };

/// Appends block to out, sealed: compressed with codec when that saves at least an eighth,
/// then the type byte and the checksum. Returns the handle of the block written at offset
/// (where out's new bytes will be in the file), or an error when the codec failed.
template <class Codec>
block_handle seal_block(const Codec& codec, std::string_view block, std::uint64_t offset, std::string& out,
                        std::string& scratch, std::error_code& ec) {
    ec.clear();
    std::string_view stored = block;
    auto type = block_type::raw;
    if constexpr (!std::is_same_v<Codec, uncompressed_blocks>) {
        compress_value(codec, block, scratch, ec);
        if (ec) return {};
        if (scratch.size() <= block.size() - block.size() / 8) {
            stored = scratch;
            type = block_type::compressed;
        }
    }
    const std::size_t start = out.size();
    out.append(stored);
    out.push_back(static_cast<char>(type));
    char crc[4];
    file_header::put_le32(crc, crc32c(std::string_view(out).substr(start)));
    out.append(crc, 4);
    return {offset, stored.size()};
}

/// Checks a sealed block's bytes (stored bytes and trailer, as read from handle) and gives
/// back its block: a view of sealed, or of out when it was decompressed. A failed checksum,
/// an unknown type or a failed decompression is errc::corrupt_record, naming what.
template <class Codec>
std::string_view unseal_block(const Codec& codec, std::string_view sealed, std::string& out, const std::string& path,
                              const block_handle& handle, std::error_code& ec) {
    ec.clear();
    const auto damaged = [&](const char* why) {
        fail(ec, errc::corrupt_record,
             path + ": the table block of " + std::to_string(handle.size) + " bytes at offset " +
                 std::to_string(handle.offset) + " " + why);
        return std::string_view{};
    };
    if (sealed.size() != handle.size + block_trailer_size) return damaged("is cut short");
    const std::string_view checked = sealed.substr(0, handle.size + 1);
    if (file_header::get_le32(sealed.data() + handle.size + 1) != crc32c(checked)) {
        return damaged("fails its checksum");
    }
    const std::string_view stored = sealed.substr(0, handle.size);
    switch (static_cast<block_type>(sealed[handle.size])) {
        case block_type::raw: return stored;
        case block_type::compressed:
            if constexpr (std::is_same_v<Codec, uncompressed_blocks>) {
                return damaged("is compressed, and the store names no codec");
            } else {
                decompress_value(codec, stored, out, ec);
                if (!ec) return out;
                if constexpr (codec_kept_in_store<Codec>) {
                    // A block whose dictionary is missing: the error names the dictionary's file.
                    codec.explain_failure(stored, ec);
                    if (ec == errc::corrupt_record) return std::string_view{};
                }
                return damaged("does not decompress");
            }
    }
    return damaged("has an unknown type");
}

/// The footer at the end of every table file.
struct table_footer {
    static constexpr std::size_t size = 64;
    static constexpr std::string_view magic = "kvftable";

    block_handle index;
    block_handle filter;
    block_handle meta;
    std::uint16_t version = table_format_version;

    void encode(char* out) const noexcept {
        std::memset(out, 0, size);
        const block_handle* handles[] = {&index, &filter, &meta};
        for (std::size_t i = 0; i < 3; ++i) {
            file_header::put_le64(out + 16 * i, handles[i]->offset);
            file_header::put_le64(out + 16 * i + 8, handles[i]->size);
        }
        file_header::put_le16(out + 48, version);
        file_header::put_le32(out + 52, crc32c({out, 52}));
        std::memcpy(out + 56, magic.data(), magic.size());
    }

    enum class problem { none, bad_magic, bad_checksum, newer_version, unknown_flags, out_of_file };

    /// Reads the footer of a file of file_size bytes from its last size bytes.
    [[nodiscard]] static problem decode(std::string_view bytes, std::uint64_t file_size, table_footer& out) noexcept {
        const char* p = bytes.data();
        if (bytes.size() != size || std::memcmp(p + 56, magic.data(), magic.size()) != 0) return problem::bad_magic;
        if (file_header::get_le32(p + 52) != crc32c({p, 52})) return problem::bad_checksum;
        out.version = file_header::get_le16(p + 48);
        if (out.version > table_format_version) return problem::newer_version;
        if (file_header::get_le16(p + 50) != 0) return problem::unknown_flags;
        block_handle* handles[] = {&out.index, &out.filter, &out.meta};
        for (std::size_t i = 0; i < 3; ++i) {
            handles[i]->offset = file_header::get_le64(p + 16 * i);
            handles[i]->size = file_header::get_le64(p + 16 * i + 8);
            const std::uint64_t limit = file_size - size;
            if (handles[i]->offset < file_header::size || handles[i]->offset > limit ||
                handles[i]->size + block_trailer_size > limit - handles[i]->offset) {
                return problem::out_of_file;
            }
        }
        return problem::none;
    }
};

}  // namespace detail
}  // namespace kvforge
