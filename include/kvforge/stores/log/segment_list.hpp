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
///     16 segments count times 8 bytes: u32 generation (ascending), u32 file id
///     ...         u32 crc32c over every byte before it
///
/// all little-endian. The file id is the one in the segment's header (random, given when
/// the file is made), so that another file put in a listed segment's place (another
/// store's, an older one of this store) is found too. The list names segments that are
/// in place, never one that is not:
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

/// A segment as the list names it.
struct listed_segment {
    std::uint32_t id = 0;       ///< its generation
    std::uint32_t file_id = 0;  ///< its header's file id

    friend bool operator==(const listed_segment&, const listed_segment&) = default;
};

/// Puts segments in the list's order, ascending by generation.
inline void sort_by_id(std::vector<listed_segment>& segments) {
    std::sort(segments.begin(), segments.end(),
              [](const listed_segment& a, const listed_segment& b) { return a.id < b.id; });
}

/// A store's segments, ascending by generation.
struct segment_list {
    static constexpr std::string_view magic = "kvfslist";
    static constexpr std::uint16_t version = 1;
    static constexpr std::size_t head_size = 16;
    static constexpr std::size_t entry_size = 8;

    std::vector<listed_segment> segments;

    [[nodiscard]] std::string encode() const {
        std::string out(head_size + segments.size() * entry_size + 4, '\0');
        char* p = out.data();
        std::memcpy(p, magic.data(), magic.size());
        file_header::put_le16(p + 8, version);
        file_header::put_le32(p + 12, static_cast<std::uint32_t>(segments.size()));
        p += head_size;
        for (const listed_segment& in : segments) {
            file_header::put_le32(p, in.id);
            file_header::put_le32(p + 4, in.file_id);
            p += entry_size;
        }
        file_header::put_le32(p, crc32c({out.data(), out.size() - 4}));
        return out;
    }

    /// Reads a list's bytes from the file at path (named in errors): errc::not_a_store
    /// without the magic, errc::unsupported_version for a newer format, and
    /// errc::corrupt_header for any other damage, with the list left empty.
    bool decode(std::string_view bytes, const std::string& path, std::error_code& ec) {
        ec.clear();
        segments.clear();
        const auto refuse = [&](errc code, const char* why) {
            fail(ec, code, path + ": " + why);
            segments.clear();
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
        if (bytes.size() != head_size + count * entry_size + 4) return refuse(errc::corrupt_header, "is cut short");
        if (file_header::get_le32(p + bytes.size() - 4) != crc32c(bytes.substr(0, bytes.size() - 4))) {
            return refuse(errc::corrupt_header, "fails its checksum");
        }
        if (file_header::get_le16(p + 10) != 0) {
            return refuse(errc::corrupt_header, "has flags this kvforge does not know");
        }
        p += head_size;
        segments.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i, p += entry_size) {
            const listed_segment in{file_header::get_le32(p), file_header::get_le32(p + 4)};
            if (in.id == 0 || (!segments.empty() && in.id <= segments.back().id)) {
                return refuse(errc::corrupt_header, "names its segments out of order");
            }
            segments.push_back(in);
        }
        return true;
    }

    /// The entry of segment id, or null when the list does not name it.
    [[nodiscard]] const listed_segment* find(std::uint32_t id) const noexcept {
        const auto at = lower_bound(id);
        return at != segments.end() && at->id == id ? &*at : nullptr;
    }

    /// Adds a segment; false when the list names its generation already.
    bool add(const listed_segment& added) {
        const auto at = lower_bound(added.id);
        if (at != segments.end() && at->id == added.id) return false;
        segments.insert(at, added);
        return true;
    }

    /// Removes segment id; false when the list does not name it.
    bool remove(std::uint32_t id) {
        const auto at = lower_bound(id);
        if (at == segments.end() || at->id != id) return false;
        segments.erase(at);
        return true;
    }

private:
    [[nodiscard]] std::vector<listed_segment>::const_iterator lower_bound(std::uint32_t id) const noexcept {
        return std::lower_bound(segments.begin(), segments.end(), id,
                                [](const listed_segment& in, std::uint32_t wanted) { return in.id < wanted; });
    }
};

}  // namespace kvforge::detail
