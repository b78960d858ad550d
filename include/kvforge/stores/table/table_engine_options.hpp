#pragma once
/// \file table_engine_options.hpp
/// What a table_engine (table_engine.hpp) is opened with: its buffers' bounds, when it
/// works for space, where its jobs run, its block cache, when its close flushes, and what
/// the open may create.

#include <cstddef>
#include <cstdint>

#include "../../detail/store_directory.hpp"
#include "table_builder.hpp"
#include "table_levels.hpp"

namespace kvforge::detail {

struct table_engine_options {
    std::size_t write_buffer_bytes = std::size_t{64} << 20;
    /// Automatic work for space: the log is flushed, and the tables merged whole, once they
    /// hold at least min_bytes of which dead_ratio are versions a newer write hid (0: never).
    std::uint64_t min_bytes = 64ull << 20;
    double dead_ratio = 0.5;
    /// Whether the jobs run on the caller's thread of choice (table_backend's, thread_safe)
    /// rather than in the write that froze the buffer.
    bool background = false;
    /// Whether a write leaves its record for the caller to commit (take_uncommitted), once
    /// the caller's lock is released, rather than committing it itself (table_backend's,
    /// thread_safe: so that sync_each writers share syncs).
    bool caller_commits = false;
    /// Writers wait (must_wait) while level 0 holds this many tables, so that reads, which
    /// look in each, stay bounded when writes outrun compaction.
    std::size_t level0_stop_tables = 12;
    /// The block cache's budget (0: none).
    std::uint64_t block_cache_bytes = 0;
    /// A writer's close flushes its buffers into tables once their logs hold more than this
    /// (about 20 ms of an open's replay), so that the next open replays little; below it,
    /// the logs stay, rather than each close of a store of few writes adding a table.
    std::uint64_t close_flush_bytes = std::uint64_t{1} << 20;
    /// What the open may create and must find; a reader changes no file and takes no write.
    directory_mode mode;
    /// Whether an open goes on without the log TABLES names when it is missing (the records
    /// written since the last flush are lost): a reader's verify() names it, a writer's open
    /// starts a new log.
    bool salvage = false;
    table_layout layout;
    level_limits limits;
};

}  // namespace kvforge::detail
