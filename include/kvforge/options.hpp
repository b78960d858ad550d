#pragma once
/// \file options.hpp
/// kvforge::options: run-time settings of a persistent store, given when it is opened.

#include <cstdint>

namespace kvforge {

/// Settings of a persistent store. The defaults suit most uses.
struct options {
    /// Automatic compaction starts after a write once dead bytes (replaced and erased
    /// records) exceed this share of the data file; 0 turns it off (compact() still works).
    double compact_dead_ratio = 0.5;
    /// ...and the data file holds at least this many bytes, so small stores are left alone.
    std::uint64_t compact_min_bytes = std::uint64_t{4} << 20;
    /// Write a hint file (each key with its record's place) at close and compaction, so
    /// that reopening reads the keys without reading the values.
    bool write_hints = true;
    /// Open a store whose log is damaged before its tail: read the whole log (a hint file
    /// is not trusted then), keep every intact record, drop the damaged ones, and rewrite
    /// the log without them. Without it such a store fails to open with
    /// errc::corrupt_record. If the rewrite fails, so does the open, and the store is
    /// left closed.
    bool salvage = false;
};

}  // namespace kvforge
