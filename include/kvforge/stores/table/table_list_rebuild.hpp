#pragma once
/// \file table_list_rebuild.hpp
/// What a lost TABLES said, found again from the tables (table format 2), which record
/// their placement: their level, the oldest log to replay, and the tables the merge that
/// wrote them replaced (table_placement.hpp). table_files::rebuild_list opens the tables
/// and uses these.
///
/// A merge is undone or done as a whole. The tables it replaced are removed only after a
/// TABLES names its outputs, so a merge whose replaced tables are all still there may
/// never have been listed, and its outputs may be cut short by a crash: it is taken as not
/// done, its outputs left out and its inputs kept, which hold the same records. A merge
/// some of whose replaced tables are gone was listed: those still there are leftovers of
/// an unfinished removal, and are left out. So is a merge whose outputs a listed merge
/// replaced.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "table_levels.hpp"
#include "table_list.hpp"
#include "table_placement.hpp"

namespace kvforge::detail {

/// Which tables, of those found with generations and placements (one each, in the same
/// order), a rebuilt TABLES lists: true for each one kept.
[[nodiscard]] inline std::vector<bool> tables_kept(const std::vector<std::uint32_t>& generations,
                                                   const std::vector<table_placement>& placements) {
    std::vector<bool> kept(generations.size(), true);
    const auto index_of = [&](std::uint32_t generation) {
        return static_cast<std::size_t>(std::find(generations.begin(), generations.end(), generation) -
                                        generations.begin());
    };
    // The outputs of each merge, by the tables it replaced; newest merge first, so that a
    // merge is judged once every merge that could have replaced its outputs has been.
    std::map<std::vector<std::uint32_t>, std::vector<std::size_t>> merges;
    for (std::size_t i = 0; i < placements.size(); ++i) {
        if (!placements[i].replaced.empty()) merges[placements[i].replaced].push_back(i);
    }
    std::vector<const std::pair<const std::vector<std::uint32_t>, std::vector<std::size_t>>*> newest_first;
    for (const auto& merge : merges) newest_first.push_back(&merge);
    const auto newest_output = [&](const auto* merge) {
        std::uint32_t newest = 0;
        for (const std::size_t i : merge->second) newest = std::max(newest, generations[i]);
        return newest;
    };
    std::sort(newest_first.begin(), newest_first.end(),
              [&](const auto* a, const auto* b) { return newest_output(a) > newest_output(b); });
    std::set<std::uint32_t> replaced_by_listed;
    for (const auto* merge : newest_first) {
        const std::vector<std::uint32_t>& inputs = merge->first;
        const bool input_gone = std::any_of(inputs.begin(), inputs.end(),
                                            [&](std::uint32_t g) { return index_of(g) == generations.size(); });
        const bool output_replaced = std::any_of(merge->second.begin(), merge->second.end(), [&](std::size_t i) {
            return replaced_by_listed.count(generations[i]) != 0;
        });
        if (input_gone || output_replaced) {
            for (const std::uint32_t input : inputs) {
                if (index_of(input) != generations.size()) kept[index_of(input)] = false;
            }
            replaced_by_listed.insert(inputs.begin(), inputs.end());
        } else {
            for (const std::size_t i : merge->second) kept[i] = false;
        }
    }
    return kept;
}

/// The counts TABLES records, found by a walk of every entry of levels: the live keys and
/// their bytes from the newest entry of each key, the dead bytes from the others and the
/// erases.
template <class Codec, class Source>
bool count_table_entries(const table_levels<Codec, Source>& levels, store_counts& counts, std::error_code& ec) {
    counts = {};
    std::uint64_t all_bytes = 0;
    for (std::size_t level = 0; level < level_limits::levels; ++level) {
        for (const auto& table : levels.level(level)) {
            table_cursor<Codec, Source> cursor(*table.reader);
            for (bool at = cursor.seek_first(ec); at; at = cursor.next(ec)) {
                all_bytes += cursor.entry().key.size() + cursor.entry().value.size();
            }
            if (ec) return false;
        }
    }
    const bool walked = levels.visit_newest(
        [&](const table_entry& entry) {
            ++counts.live_keys;
            counts.live_bytes += entry.key.size() + entry.value.size();
        },
        ec);
    if (!walked) return false;
    counts.dead_bytes = all_bytes - std::min(all_bytes, counts.live_bytes);
    return true;
}

}  // namespace kvforge::detail
