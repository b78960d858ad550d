#pragma once
/// \file table_engine_codec.hpp
/// Members of table_engine (table_engine.hpp): compact()'s part for a codec kept in the
/// store (zstd_trained<>), right after the merge of every table, with no job run since.
///
/// A table's blocks are compressed with the dictionary that is newest when the table is
/// written, and the merge rewrote every table, so no table needs an older one: the codec
/// retires them (keeping them in memory for snapshots). It then trains a new one from
/// samples the size of a block, each the keys and values of entries in a row, so that the
/// dictionary is kept only when it makes such blocks smaller. Reads the tables only, so
/// writers may go on meanwhile.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "table_engine.hpp"

namespace kvforge::detail {

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::tend_codec(const levels_type& tables, std::error_code& ec)
    requires codec_kept_in_store<Codec>
{
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < level_limits::levels; ++i) bytes += tables.level_file_bytes(i);
    const std::size_t block_size = std::max<std::size_t>(options_.layout.block_size, 1);
    const auto walk = [&](auto&& visitor, std::error_code& walk_ec) {
        std::string block;
        // No block names a dictionary of its own: the empty view stands for "none".
        const auto give = [&] { visitor(std::string_view{}, [&block]() -> std::string_view { return block; }); };
        const bool walked = tables.visit_newest(
            [&](const table_entry& entry) {
                block.append(entry.key).append(entry.value);
                if (block.size() < block_size) return;
                give();
                block.clear();
            },
            walk_ec);
        if (walked && !block.empty()) give();
    };
    // The tables are synced and listed before the merge ends: no write is left to sync.
    codec_.maintain(io_, static_cast<std::size_t>(bytes / block_size), walk, [](std::error_code&) {}, ec);
}

}  // namespace kvforge::detail
