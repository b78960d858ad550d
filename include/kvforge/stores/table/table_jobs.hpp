#pragma once
/// \file table_jobs.hpp
/// The jobs that make a store's tables, each writing its tables whole and giving the
/// levels they make, which the caller publishes (table_files::publish) when it is ready:
/// a flush writes a write buffer into a level 0 table; a compaction merges the tables
/// table_levels chose into new tables of the level below; a full compaction merges every
/// table into the deepest level. Neither changes what the store
/// reads until it is published; a job that fails leaves tables no list names, which
/// table_files::remove_unlisted removes.

#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/function_ref.hpp"
#include "table_files.hpp"
#include "table_levels.hpp"
#include "table_merge.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

/// How a store's jobs write tables: their blocks and filters, their size, where they are
/// cached, and the generations they take.
template <class IO, class Codec>
struct table_job_context {
    const table_files<IO, Codec>& files;
    const Codec& codec;
    table_layout layout;
    level_limits limits;
    block_cache* cache = nullptr;
    /// Gives each new table its generation: std::uint32_t(), from the store's one counter.
    function_ref<std::uint32_t()> next_generation;
    /// The header each new table starts from: the store's fingerprints (table_engine::header_).
    file_header header;
};

/// Writes buffer (not empty) into a new table and gives current with it as level 0's newest;
/// the logs before oldest_log hold no record that is not in the tables then.
template <class IO, class Codec>
bool flush_write_buffer(const write_buffer& buffer, const table_levels<Codec, data_file<IO>>& current,
                        std::uint32_t oldest_log, const table_job_context<IO, Codec>& context,
                        table_levels<Codec, data_file<IO>>& next, std::error_code& ec) {
    using table_type = typename table_levels<Codec, data_file<IO>>::table_type;
    file_header header = context.header;
    header.generation = context.next_generation();
    data_file<IO> file;
    if (!context.files.create(header.generation, file, ec)) return false;
    table_placement placement;
    placement.oldest_log = oldest_log;
    table_builder<Codec, data_file<IO>> builder(context.codec, file, header, context.layout, std::move(placement));
    buffer.visit([&](const table_entry& entry) { return builder.add(entry, ec); });
    if (ec || !builder.finish(ec)) return false;
    table_type table;
    if (!context.files.finish(header.generation, std::move(file), builder.file_size(), context.cache, table, ec)) {
        return false;
    }
    next = current.with_flushed(std::move(table));
    return true;
}

/// Merges sources into new tables of about the context's table size, in key order, each
/// recording placement.
template <class IO, class Codec>
bool merge_into_new_tables(std::vector<std::unique_ptr<entry_cursor>> sources, erases on_erase,
                           const table_placement& placement, const table_job_context<IO, Codec>& context,
                           std::vector<typename table_levels<Codec, data_file<IO>>::table_type>& tables,
                           merge_totals& totals, std::error_code& ec) {
    using table_type = typename table_levels<Codec, data_file<IO>>::table_type;
    std::vector<entry_cursor*> inputs;
    for (const auto& source : sources) inputs.push_back(source.get());
    merging_cursor input(std::move(inputs), on_erase);

    /// merge_into_tables's outputs: files of new generations, opened as they are finished.
    struct outputs {
        const table_job_context<IO, Codec>& context;
        std::vector<table_type>& tables;
        data_file<IO> file;
        std::uint32_t generation = 0;

        data_file<IO>* begin(file_header& header, std::error_code& ec) {
            header = context.header;
            generation = header.generation = context.next_generation();
            return context.files.create(generation, file, ec) ? &file : nullptr;
        }
        bool end(std::uint64_t size, std::error_code& ec) {
            table_type table;
            if (!context.files.finish(generation, std::move(file), size, context.cache, table, ec)) return false;
            tables.push_back(std::move(table));
            return true;
        }
    } written{context, tables, {}, 0};
    return merge_into_tables(input, context.codec, context.layout, context.limits.table_bytes, placement, written,
                             totals, ec);
}

/// Runs compaction (from current.due_compaction) and gives the levels after it; totals
/// says what it wrote. Erases are dropped at the bottom only. oldest_log is as
/// flush_write_buffer's.
template <class IO, class Codec>
bool run_table_compaction(const table_levels<Codec, data_file<IO>>& current, const table_compaction& compaction,
                          std::uint32_t oldest_log, const table_job_context<IO, Codec>& context,
                          table_levels<Codec, data_file<IO>>& next, merge_totals& totals, std::error_code& ec) {
    std::vector<std::unique_ptr<entry_cursor>> sources;
    current.add_cursors(compaction, sources);
    table_placement placement;
    placement.level = static_cast<std::uint32_t>(compaction.level + 1);
    placement.oldest_log = oldest_log;
    placement.replaced = compaction.inputs_above;
    placement.replaced.insert(placement.replaced.end(), compaction.inputs_below.begin(), compaction.inputs_below.end());
    std::vector<typename table_levels<Codec, data_file<IO>>::table_type> tables;
    return merge_into_new_tables(std::move(sources), compaction.bottom ? erases::skipped : erases::given, placement,
                                 context, tables, totals, ec) &&
           current.after_compaction(compaction, std::move(tables), next, ec);
}

/// Merges every table of current into new tables of its deepest level, dropping erases
/// and every version a newer one hides: what compact() asks for. Given skipped (a salvage),
/// damaged blocks are left out and listed there, so that a key whose newest entry was in
/// one keeps the version before it, if one is intact.
template <class IO, class Codec>
bool run_full_compaction(const table_levels<Codec, data_file<IO>>& current, std::uint32_t oldest_log,
                         const table_job_context<IO, Codec>& context, table_levels<Codec, data_file<IO>>& next,
                         merge_totals& totals, std::error_code& ec, std::vector<damaged_record>* skipped = nullptr) {
    std::vector<std::unique_ptr<entry_cursor>> sources;
    current.add_cursors(sources, skipped);
    table_placement placement;
    placement.level = static_cast<std::uint32_t>(level_limits::levels - 1);
    placement.oldest_log = oldest_log;
    for (std::size_t level = 0; level < level_limits::levels; ++level) {
        for (const auto& table : current.level(level)) placement.replaced.push_back(table.generation);
    }
    std::vector<typename table_levels<Codec, data_file<IO>>::table_type> tables;
    if (!merge_into_new_tables(std::move(sources), erases::skipped, placement, context, tables, totals, ec)) {
        return false;
    }
    next = current.after_full_compaction(std::move(tables));
    return true;
}

}  // namespace kvforge::detail
