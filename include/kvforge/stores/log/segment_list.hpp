#pragma once
/// \file segment_list.hpp
/// The list of a log store's segments, as SEGMENTS holds it: the data files an open must
/// find, so that one lost with its hint (deleted, moved by a tool, dropped by a file
/// system) is an error rather than records gone without a word. docs/format.md describes
/// the same bytes:
///
///     0  magic    8 bytes "kvfslist"
///     8  version  u16: the list's format version, 1
///     10 flags    u16: zero; a reader refuses others
///     12 count    u32: the segments listed
///     16 ids      count times u32: each segment's generation, ascending
///     ...         u32 crc32c over every byte before it
///
/// all little-endian. The list names segments that are in place, never one that is not:
/// a segment is listed only once its name is durable, and taken off the list before its
/// files are removed (segment_files.hpp). It may lack the newest segments (a list is
/// written when a closed segment's hint is, and at open), which an open finds anyway.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../detail/crc32c.hpp"
#include "../../error.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// The generations of a store's segments, ascending.
struct segment_list {
    static constexpr std::string_view magic = "kvfslist";
    static constexpr std::uint16_t version = 1;
    static constexpr std::size_t head_size = 16;

    std::vector<std::uint32_t> ids;

    [[nodiscard]] std::string encode() const {
        std::string out(head_size + ids.size() * 4 + 4, '\0');
        char* p = out.data();
        std::memcpy(p, magic.data(), magic.size());
        file_header::put_le16(p + 8, version);
        file_header::put_le32(p + 12, static_cast<std::uint32_t>(ids.size()));
        p += head_size;
        for (const std::uint32_t id : ids) {
            file_header::put_le32(p, id);
            p += 4;
        }
        file_header::put_le32(p, crc32c({out.data(), out.size() - 4}));
        return out;
    }

    /// Reads a list's bytes from the file at path (named in errors): errc::not_a_store
    /// without the magic, errc::unsupported_version for a newer format, and
    /// errc::corrupt_header for any other damage, with the list left empty.
    bool decode(std::string_view bytes, const std::string& path, std::error_code& ec) {
        ec.clear();
        ids.clear();
        const auto refuse = [&](errc code, const char* why) {
            fail(ec, code, path + ": " + why);
            ids.clear();
            return false;
        };
        if (bytes.size() < head_size + 4 || bytes.substr(0, magic.size()) != magic) {
            return refuse(errc::not_a_store, "is not a kvforge list of segments");
        }
        const char* p = bytes.data();
        if (file_header::get_le16(p + 8) > version) {
            return refuse(errc::unsupported_version, "is a list of segments of a newer format version");
        }
        const std::uint64_t count = file_header::get_le32(p + 12);
        if (bytes.size() != head_size + count * 4 + 4) return refuse(errc::corrupt_header, "is cut short");
        if (file_header::get_le32(p + bytes.size() - 4) != crc32c(bytes.substr(0, bytes.size() - 4))) {
            return refuse(errc::corrupt_header, "fails its checksum");
        }
        if (file_header::get_le16(p + 10) != 0) {
            return refuse(errc::corrupt_header, "has flags this kvforge does not know");
        }
        p += head_size;
        ids.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i, p += 4) {
            const std::uint32_t id = file_header::get_le32(p);
            if (id == 0 || (!ids.empty() && id <= ids.back())) {
                return refuse(errc::corrupt_header, "names its segments out of order");
            }
            ids.push_back(id);
        }
        return true;
    }
};

}  // namespace kvforge::detail
