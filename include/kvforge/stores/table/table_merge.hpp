#pragma once
/// \file table_merge.hpp
/// Writes what a merging cursor gives into new tables of about a size each: the work of a
/// compaction, once table_levels has chosen its inputs. Each key's newest entry is kept
/// and the older ones dropped; erases are kept unless the cursor skips them, which a
/// merge into the bottom of the store does, where no older entry is left for them to hide.

#include <cstdint>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "merging_cursor.hpp"
#include "table_builder.hpp"

namespace kvforge::detail {

/// What a merge wrote.
struct merge_totals {
    std::uint64_t tables = 0;
    std::uint64_t entries = 0;
    std::uint64_t entry_bytes = 0;  ///< keys and values of the entries written
    std::uint64_t bytes = 0;
    std::uint64_t dropped_bytes = 0;  ///< keys and values of the versions and erases left out
};

/// Walks input from its first entry and writes its entries into tables, starting a new one
/// when the one being written reaches table_bytes. Outputs gives the files:
///
///     Sink* begin(file_header& header, std::error_code& ec)  a new table's file, its header
///                                                            (generation, file id) filled in
///     bool end(std::uint64_t file_size, std::error_code& ec) the table written is whole
///
/// Each table records placement. A merge of an input without entries writes no table. On
/// an error it stops, the last table unfinished: its file is the caller's to remove.
template <class Codec, class Outputs>
bool merge_into_tables(merging_cursor& input, const Codec& codec, const table_layout& layout, std::uint64_t table_bytes,
                       const table_placement& placement, Outputs& outputs, merge_totals& totals, std::error_code& ec) {
    using sink_type = std::remove_pointer_t<decltype(outputs.begin(std::declval<file_header&>(), ec))>;
    totals = {};
    std::optional<table_builder<Codec, sink_type>> builder;
    const auto finish = [&] {
        if (!builder->finish(ec)) return false;
        const std::uint64_t size = builder->file_size();
        totals.bytes += size;
        ++totals.tables;
        builder.reset();
        return outputs.end(size, ec);
    };
    for (bool at = input.seek_first(ec); at; at = input.next(ec)) {
        if (!builder) {
            file_header header;
            sink_type* sink = outputs.begin(header, ec);
            if (sink == nullptr) return false;
            builder.emplace(codec, *sink, header, layout, placement);
        }
        if (!builder->add(input.entry(), ec)) return false;
        ++totals.entries;
        totals.entry_bytes += input.entry().key.size() + input.entry().value.size();
        if (builder->file_size() >= table_bytes && !finish()) return false;
    }
    if (ec) return false;
    totals.dropped_bytes = input.passed_bytes();
    return !builder || finish();
}

}  // namespace kvforge::detail
