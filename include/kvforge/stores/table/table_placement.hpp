#pragma once
/// \file table_placement.hpp
/// Where a table belongs in its store, as the table itself records it (table format 2, in
/// its meta block): what TABLES says of it, so that a lost TABLES can be rebuilt from the
/// tables (table_list_rebuild.hpp). A table's level never changes: a flush writes level
/// 0, a compaction of level n writes level n + 1, a merge of the whole store the deepest.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../../detail/byte_order.hpp"

namespace kvforge::detail {

struct table_placement {
    std::uint32_t level = 0;
    /// The oldest log whose records were in no table when the table was written: an open
    /// replays that one and those after.
    std::uint32_t oldest_log = 0;
    /// The generations of the tables the merge that wrote this one replaced (none for a
    /// flush); every table the merge wrote names the same ones.
    std::vector<std::uint32_t> replaced;

    /// Appends the fields as varints: level, oldest log, count, the generations.
    void append_to(std::string& out) const {
        char bytes[max_varint_size];
        const auto put = [&](std::uint64_t value) {
            out.append(bytes, static_cast<std::size_t>(put_varint(bytes, value) - bytes));
        };
        put(level);
        put(oldest_log);
        put(replaced.size());
        for (const std::uint32_t generation : replaced) put(generation);
    }

    /// Reads what append_to wrote, from p up to exactly end; false when the bytes do not
    /// hold one.
    [[nodiscard]] bool parse(const char* p, const char* end) {
        std::uint64_t fields[3] = {};
        for (std::uint64_t& field : fields) {
            if ((p = get_varint(p, end, field)) == nullptr) return false;
        }
        if (fields[0] > 0xffff || fields[1] > 0xffffffffu || fields[2] > static_cast<std::uint64_t>(end - p)) {
            return false;
        }
        level = static_cast<std::uint32_t>(fields[0]);
        oldest_log = static_cast<std::uint32_t>(fields[1]);
        replaced.clear();
        for (std::uint64_t i = 0; i < fields[2]; ++i) {
            std::uint64_t generation = 0;
            if ((p = get_varint(p, end, generation)) == nullptr || generation > 0xffffffffu) return false;
            replaced.push_back(static_cast<std::uint32_t>(generation));
        }
        return p == end;
    }
};

}  // namespace kvforge::detail
