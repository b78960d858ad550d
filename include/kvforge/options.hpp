#pragma once
/// \file options.hpp
/// kvforge::options: run-time settings of a store, given when it is opened or built.

#include <cstdint>

namespace kvforge {

/// Settings of a store. The defaults suit most uses; each field says which stores read it.
struct options {
    /// Automatic compaction starts after a write once dead bytes (replaced and erased
    /// records) exceed this share of the data file; 0 turns it off (compact() still works).
    double compact_dead_ratio = 0.5;
    /// ...and the data file holds at least this many bytes, so small stores are left alone.
    std::uint64_t compact_min_bytes = std::uint64_t{4} << 20;
    /// Write a hint file (each key with its record's place) at close and compaction, so
    /// that reopening reads the keys without reading the values.
    bool write_hints = true;
    /// Open a store whose log is damaged before its tail: keep every intact record,
    /// drop the damaged ones (reported in stats()), and rewrite the log without them.
    /// Without it such a store fails to open with errc::corrupt_record.
    bool salvage = false;
    /// Bytes a kvforge::bounded memory store may hold, everything counted (keys, values,
    /// index, eviction metadata); it evicts to stay within them. Required by bounded
    /// stores: 0, or less than the store's fixed part, is errc::invalid_argument.
    std::uint64_t memory_budget = 0;
    /// Bytes of values a kvforge::read_cache keeps in memory in front of a persistent
    /// store, counted as memory_budget is; 0 is errc::invalid_argument.
    std::uint64_t cache_budget = std::uint64_t{64} << 20;
};

}  // namespace kvforge
