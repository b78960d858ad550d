#pragma once
/// \file stats.hpp
/// What a store reports about itself: kvforge::stats and kvforge::verify_report.

#include <cstdint>
#include <string>
#include <vector>

namespace kvforge {

/// A snapshot of a store's size and activity. Fields that do not apply to a store
/// policy (disk figures for memory) are zero.
struct stats {
    std::uint64_t live_keys = 0;     ///< keys present
    std::uint64_t live_bytes = 0;    ///< encoded bytes of the present keys and values
    std::uint64_t dead_bytes = 0;    ///< bytes of replaced or erased records not yet compacted away
    std::uint64_t disk_bytes = 0;    ///< bytes of the store's segments and hint files
    std::uint64_t memory_bytes = 0;  ///< heap bytes held in memory: the index, and a cache's values and metadata
    std::uint64_t segments = 0;      ///< data files (segments) of an open log-structured store, the active one included
    /// Bytes of the segments mapped for reads: address space, not heap; the pages are
    /// the OS's page cache, shared with every other reader of the files. file_log maps
    /// its closed segments (and what the active one held at the open), mmap_file every
    /// segment with room to grow.
    std::uint64_t mapped_bytes = 0;

    std::uint64_t puts = 0;         ///< keys written, counting each put of a batch
    std::uint64_t gets = 0;         ///< point lookups (get, visit, contains)
    std::uint64_t erases = 0;       ///< erases that removed a key, counting each of a batch
    std::uint64_t batches = 0;      ///< batches written
    std::uint64_t syncs = 0;        ///< fdatasync/fsync calls made
    /// Bytes written to the store's files since it was opened: records appended to the
    /// log (once they reach the file: buffered bytes count when flushed), file headers,
    /// compaction's output, hint files and the MANIFEST. Against the bytes of the keys
    /// and values put, it gives the write amplification.
    std::uint64_t bytes_written = 0;
    std::uint64_t compactions = 0;  ///< compactions completed
    /// Compactions that failed, automatic or explicit. An automatic one that fails does
    /// not fail the write that started it; it is tried again once the segments have grown
    /// by as much as it held (at least options::compact_min_bytes).
    std::uint64_t compaction_failures = 0;
    std::string last_compaction_error;  ///< why the last compaction failed; empty once one succeeds
    /// Times a writer waited for the store's thread to catch up since the store was opened
    /// (thread_safe): on a compaction backlog (options::compaction_stall_ratio), or, with
    /// disk_index, while both write buffers are full or level 0 holds 12 tables.
    std::uint64_t write_stalls = 0;
    /// Bytes of damaged records that compaction dropped with the segments it retired:
    /// records that were no key's newest (dead), so no value was lost. Damage to a live
    /// record fails the compaction instead.
    std::uint64_t damaged_bytes_dropped = 0;

    std::uint64_t hits = 0;       ///< reads of a value a cache held (bounded, read_cache)
    std::uint64_t misses = 0;     ///< reads of a value a cache did not hold
    std::uint64_t evictions = 0;  ///< entries a cache dropped to stay within its budget

    std::uint64_t recovered_records = 0;  ///< records read back at the last open
    std::uint64_t recovered_bytes_cut = 0;  ///< bytes of torn tail cut off at the last open
};

/// One record verify() found damaged.
struct damaged_record {
    std::string file;          ///< the file holding it
    std::uint64_t offset = 0;  ///< where the record starts in that file
    std::string problem;       ///< what is wrong, e.g. "checksum mismatch"
};

/// The result of store::verify(): every record read and checked, nothing changed.
struct verify_report {
    std::uint64_t records_checked = 0;
    std::vector<damaged_record> damaged;

    /// True when no damage was found.
    [[nodiscard]] bool ok() const noexcept { return damaged.empty(); }
};

}  // namespace kvforge
