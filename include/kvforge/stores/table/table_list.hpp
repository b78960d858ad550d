#pragma once
/// \file table_list.hpp
/// The list of a store's tables by level, as a store keeps it on disk: written whole into
/// a new file and renamed over the old after each flush and compaction, so that an open
/// finds either the list before a change or the one after. docs/format.md describes the
/// same bytes:
///
///     0  magic    8 bytes "kvftlist"
///     8  version  u16: the list's format version, 3
///     10 flags    u16: zero; a reader refuses others
///     12 count    u32: the tables listed
///     16 log      u32: the generation of the oldest log file whose records are in no table
///     20 keys     u64: the live keys of the store as of that log (the tables' view)
///     28 bytes    u64: their keys' and values' bytes
///     36 dead     u64: the bytes of versions a newer one hides, not yet merged away
///     44 newest   u32: the generation of the newest log the writer started (0: not
///                 recorded); version 1 has no such field, and its tables start at 44
///     48 closed   u64: the oldest log's size when the writer closed the store, 0 while a
///                 writer has it open or after a crash (not recorded)
///     56 closed   u64: the newest log's size then, 0 when not recorded or the same log;
///                 version 2 has neither, and its tables start at 48
///     64 tables   count times 16 bytes: u8 level, 3 zero bytes, u32 generation, u64 file size
///     ...         u32 crc32c over every byte before it
///
/// all little-endian. The size of each table lets an open tell a table cut short from a
/// whole one before it reads a byte of it, and the logs' sizes at a close a log cut short,
/// even at a record boundary, from one a crash ended; the counts spare an open a scan of
/// the store: it takes them, and counts what the logs it replays change.

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
#include "../log/record_format.hpp"
#include "table_levels.hpp"

namespace kvforge::detail {

/// A table as the list names it.
struct listed_table {
    std::uint8_t level = 0;
    std::uint32_t generation = 0;
    std::uint64_t file_size = 0;

    friend bool operator==(const listed_table&, const listed_table&) = default;
};

/// What a store holds as of a point in its log.
struct store_counts {
    std::uint64_t live_keys = 0;
    std::uint64_t live_bytes = 0;
    std::uint64_t dead_bytes = 0;
    /// A merge dropped bytes of hidden versions.
    void drop_dead(std::uint64_t bytes) noexcept { dead_bytes -= std::min(dead_bytes, bytes); }
    friend bool operator==(const store_counts&, const store_counts&) = default;
};

/// A store's tables, the oldest log file that recovery replays, and the counts as of it.
struct table_list {
    static constexpr std::string_view magic = "kvftlist";
    static constexpr std::uint16_t version = 3;
    /// The bytes before the tables: 48 in version 2, which records no log sizes, and 44 in
    /// version 1, which has no newest log either.
    static constexpr std::size_t head_size = 64;
    static constexpr std::size_t table_size = 16;
    static constexpr std::size_t version2_head_size = 48;
    static constexpr std::size_t version1_head_size = 44;

    std::uint32_t oldest_log = 0;
    /// The newest log the writer had started when the list was written (0: not recorded):
    /// a log after oldest_log while a flush of the one before is under way. An open
    /// requires it to be there, as it does oldest_log.
    std::uint32_t newest_log = 0;
    /// The sizes of oldest_log and newest_log when the writer closed the store (0: not
    /// recorded), so that an open tells a log cut short from one a crash ended. A writer's
    /// open publishes a list without them before it writes.
    std::uint64_t oldest_log_end = 0;
    std::uint64_t newest_log_end = 0;
    store_counts counts;
    std::vector<listed_table> tables;

    /// The logs the list names for recovery: oldest_log, and newest_log when it is a later one.
    [[nodiscard]] std::vector<std::uint32_t> named_logs() const {
        std::vector<std::uint32_t> logs{oldest_log};
        if (newest_log > oldest_log) logs.push_back(newest_log);
        return logs;
    }

    /// The size recorded for log generation at the writer's close (0: none recorded).
    [[nodiscard]] std::uint64_t closed_end_of(std::uint32_t generation) const {
        return generation == oldest_log ? oldest_log_end : generation == newest_log ? newest_log_end : 0;
    }

    /// Records end as the size of log generation at close; a log the list does not name is
    /// left out.
    void record_closed_end(std::uint32_t generation, std::uint64_t end) {
        if (generation == oldest_log) {
            oldest_log_end = end;
        } else if (generation == newest_log) {
            newest_log_end = end;
        }
    }

    /// The list's bytes.
    [[nodiscard]] std::string encode() const {
        std::string out(head_size + tables.size() * table_size + 4, '\0');
        char* p = out.data();
        std::memcpy(p, magic.data(), magic.size());
        file_header::put_le16(p + 8, version);
        file_header::put_le32(p + 12, static_cast<std::uint32_t>(tables.size()));
        file_header::put_le32(p + 16, oldest_log);
        file_header::put_le64(p + 20, counts.live_keys);
        file_header::put_le64(p + 28, counts.live_bytes);
        file_header::put_le64(p + 36, counts.dead_bytes);
        file_header::put_le32(p + 44, newest_log);
        file_header::put_le64(p + 48, oldest_log_end);
        file_header::put_le64(p + 56, newest_log_end);
        p += head_size;
        for (const listed_table& table : tables) {
            p[0] = static_cast<char>(table.level);
            file_header::put_le32(p + 4, table.generation);
            file_header::put_le64(p + 8, table.file_size);
            p += table_size;
        }
        file_header::put_le32(p, crc32c({out.data(), out.size() - 4}));
        return out;
    }

    /// Reads a list's bytes from the file at path (named in errors): errc::not_a_store
    /// without the magic, errc::unsupported_version for a newer format, and
    /// errc::corrupt_header for any other damage, with the list left empty.
    bool decode(std::string_view bytes, const std::string& path, std::error_code& ec) {
        ec.clear();
        tables.clear();
        oldest_log = newest_log = 0;
        oldest_log_end = newest_log_end = 0;
        counts = {};
        const auto refuse = [&](errc code, const char* why) {
            fail(ec, code, path + ": " + why);
            tables.clear();
            return false;
        };
        if (bytes.size() < version1_head_size + 4 || bytes.substr(0, magic.size()) != magic) {
            return refuse(errc::not_a_store, "is not a kvforge list of tables");
        }
        const char* p = bytes.data();
        const std::uint16_t written_version = file_header::get_le16(p + 8);
        if (written_version > version) {
            return refuse(errc::unsupported_version, "is a list of tables of a newer format version");
        }
        const std::size_t head = written_version < 2   ? version1_head_size
                                 : written_version < 3 ? version2_head_size
                                                       : head_size;
        const std::uint64_t count = file_header::get_le32(p + 12);
        if (bytes.size() != head + count * table_size + 4) return refuse(errc::corrupt_header, "is cut short");
        if (file_header::get_le32(p + bytes.size() - 4) != crc32c(bytes.substr(0, bytes.size() - 4))) {
            return refuse(errc::corrupt_header, "fails its checksum");
        }
        if (file_header::get_le16(p + 10) != 0) return refuse(errc::corrupt_header, "has flags this kvforge does not know");
        oldest_log = file_header::get_le32(p + 16);
        counts.live_keys = file_header::get_le64(p + 20);
        counts.live_bytes = file_header::get_le64(p + 28);
        counts.dead_bytes = file_header::get_le64(p + 36);
        if (head >= version2_head_size) newest_log = file_header::get_le32(p + 44);
        if (head == head_size) {
            oldest_log_end = file_header::get_le64(p + 48);
            newest_log_end = file_header::get_le64(p + 56);
        }
        p += head;
        for (std::uint64_t i = 0; i < count; ++i, p += table_size) {
            listed_table table;
            table.level = static_cast<std::uint8_t>(p[0]);
            table.generation = file_header::get_le32(p + 4);
            table.file_size = file_header::get_le64(p + 8);
            if (table.level >= level_limits::levels || p[1] != 0 || p[2] != 0 || p[3] != 0) {
                return refuse(errc::corrupt_header, "names a table of a level this kvforge does not know");
            }
            tables.push_back(table);
        }
        return true;
    }

    /// The list of what levels hold, with the oldest log and the counts as of it, and the
    /// newest log.
    template <class Codec, class Source>
    [[nodiscard]] static table_list of(const table_levels<Codec, Source>& levels, std::uint32_t oldest_log,
                                       const store_counts& counts = {}, std::uint32_t newest_log = 0) {
        table_list list;
        list.oldest_log = oldest_log;
        list.newest_log = newest_log;
        list.counts = counts;
        for (std::size_t i = 0; i < level_limits::levels; ++i) {
            for (const auto& table : levels.level(i)) {
                list.tables.push_back({static_cast<std::uint8_t>(i), table.generation, table.file_size});
            }
        }
        return list;
    }
};

}  // namespace kvforge::detail
