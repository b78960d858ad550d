#pragma once
/// \file options.hpp
/// kvforge::options: run-time settings of a store, given when it is opened or built.

#include <cstdint>

#include "backup_options.hpp"

namespace kvforge {

/// Settings of a store. The defaults suit most uses; each field says which stores read it.
struct options {
    /// Automatic compaction starts after a write once dead bytes (replaced and erased
    /// records) exceed this share of the segments' bytes; 0 turns it off (compact() still
    /// works). Lower keeps the files closer to the live bytes and rewrites more: at 0.3,
    /// an overwrite workload keeps its files within about 1.5x the live bytes and writes
    /// about 2.7x the bytes it put. From 0 to 1 (else errc::invalid_argument at open).
    double compact_dead_ratio = 0.3;
    /// ...and the segments hold at least this many bytes, so small stores are left alone.
    std::uint64_t compact_min_bytes = std::uint64_t{4} << 20;
    /// With single_thread, an automatic compaction job runs in steps, one after a write,
    /// each reading and writing about this many bytes (a record larger than this is one
    /// step), rather than the whole job after one write; ending each new segment (its
    /// sync and hint), publishing them and each chunk of 4096 index entries moved to
    /// them are steps of their own (each scan step sorts what it read, and copying
    /// merges those runs, so that no step sorts the whole job). 0: the whole job after
    /// one write. With thread_safe, jobs run on the store's compaction thread, which
    /// writers only signal: it reads and writes in chunks of this many bytes (0: the
    /// default) with no lock held, and between chunks gives way to compact(), clear()
    /// and close().
    std::uint64_t compaction_step_bytes = std::uint64_t{1} << 20;
    /// With thread_safe, a write waits for the compaction thread, once its record is
    /// written, while dead bytes exceed this many times the live bytes (keys and values),
    /// until the thread has reclaimed enough or has nothing left to do: a burst of writes
    /// then cannot leave compaction arbitrarily far behind. At 1, the files stay within
    /// about twice the live bytes however fast the writes come. 0: writes never wait.
    /// Negative or NaN: errc::invalid_argument at open.
    double compaction_stall_ratio = 1.0;
    /// ...but each write waits at most this many microseconds, so that a burst of
    /// writes is slowed down to the thread's pace rather than stopped until a whole job
    /// ends (hundreds of milliseconds on a store of a million records). 2 ms keeps every
    /// put within a few milliseconds and still holds a writer over the ceiling to some
    /// hundreds of writes a second, well below what the thread reclaims, so the files
    /// stay as close to the live bytes as with no bound. Larger trades the longest put
    /// for space; std::uint64_t's max waits as long as the thread makes progress. 0:
    /// writes never wait.
    std::uint64_t compaction_stall_micros = 2000;
    /// file_log, mmap_file with sorted_index: automatic compaction also rewrites, in key
    /// order, each closed segment whose records are not in key order (once, dead bytes
    /// or not), so that a scan of a store filled in random order reads a few sorted runs
    /// in sequence rather than a different page per record. A segment filled in key
    /// order is only read, not rewritten. It runs as the rest of automatic compaction
    /// does (thread_safe: on the compaction thread after a segment closes; single_thread:
    /// in steps after writes), and close() ends the job under way, then closes the active
    /// segment too when it holds a sixteenth of segment_bytes or more and sorts the
    /// segments left unsorted, so that the next open scans sorted runs only: at most as
    /// many as this open closed, so that close() does work in proportion to what the open
    /// wrote (those of a store written with sorting off are left to the jobs). It is off
    /// when compact_dead_ratio is 0 or the store holds less than
    /// compact_min_bytes; it waits while dead bytes exceed half of compact_dead_ratio of
    /// the data (the jobs that reclaim them write in key order too). It costs a second
    /// write of each record of a closed segment (a random-order fill writes about twice
    /// its bytes) and the CPU to rewrite it: a job walks the index in key order for the
    /// segment's records rather than sort them, copies each record as it is, and moves
    /// the index entries by a second walk, so that a fill of 300,000 or 1,000,000
    /// records in random order takes about 1.5 times the CPU it takes with sorting off.
    /// Off, only dead bytes make segments rewritten; compact() still writes everything
    /// in key order. A hash_index store never sorts.
    bool sort_closed_segments = true;
    /// file_log, mmap_file: a write that finds the active segment (the data file records
    /// are appended to) holding this many bytes or more first closes it, never to be
    /// written again, and starts a new one. Compaction rewrites closed segments, so
    /// smaller segments make its steps shorter; each closing costs a few syncs. With
    /// kvforge::disk_index, the size of the write buffer, flushed into a table when full.
    /// From 64 KiB to a little under 4 GiB (else errc::invalid_argument at open).
    std::uint64_t segment_bytes = std::uint64_t{32} << 20;
    /// Write a hint file (each key with its record's place) at close and compaction, so
    /// that reopening reads the keys without reading the values.
    bool write_hints = true;
    /// Open a store whose log is damaged before its tail: read the whole log (a hint file
    /// is not trusted then), keep every intact record, drop the damaged ones, and rewrite
    /// the log without them (a read-only open only leaves them out). Without it such a
    /// store fails to open with errc::corrupt_record. If the rewrite fails, so does the
    /// open, and the store is left closed. A kvforge::disk_index store whose latest log is
    /// missing opens with its tables' records only (a read-only open's verify() names the
    /// loss); without salvage the open fails with errc::corrupt_header.
    bool salvage = false;
    /// Create the store when the directory is missing or empty (its parent must exist);
    /// false: such an open fails with errc::store_not_found and creates nothing.
    bool create_if_missing = true;
    /// Fail with errc::store_exists, changing nothing, when the directory already holds a store.
    bool error_if_exists = false;
    /// Open for reading only: any number of read-only opens, in any processes, share a
    /// store beside the one writer (or none); they take no lock, and refresh() catches
    /// them up with the writer. A read-only store changes no file at all (it creates
    /// no directory or LOCK, cuts no torn tail, removes no leftover, writes no hint), and
    /// every write, clear and compact fails with errc::read_only; flush and sync do nothing.
    bool read_only = false;
    /// Bytes a kvforge::bounded memory store may hold, everything counted (keys, values,
    /// index, eviction metadata); it evicts to stay within them. Required by bounded
    /// stores: 0, or less than the store's fixed part, is errc::invalid_argument.
    std::uint64_t memory_budget = 0;
    /// Bytes of values a kvforge::read_cache keeps in memory in front of a persistent
    /// store, counted as memory_budget is; 0 is errc::invalid_argument.
    std::uint64_t cache_budget = std::uint64_t{64} << 20;
    /// Bytes of table blocks a kvforge::disk_index store keeps in memory, checked and
    /// decompressed, so that a hot block costs no read, checksum or decompression; counted
    /// as memory_budget is, in stats().memory_bytes, with its hits, misses and evictions.
    /// 0 keeps none: every read of a block goes to the file (and the OS's page cache);
    /// less than 16 KiB is errc::invalid_argument.
    std::uint64_t block_cache_bytes = std::uint64_t{8} << 20;
    /// A kvforge::compressed store keeps values shorter than this as they are, behind
    /// its one flag byte: below some tens of bytes a codec's own framing outweighs what
    /// it saves, and the call costs more than the copy. Longer values are compressed,
    /// and kept as they are too when that does not make them shorter.
    std::uint64_t compress_min_bytes = 64;
    /// kvforge::redis_cluster: how long connecting to a node may take, in milliseconds,
    /// before the call fails with std::errc::timed_out naming the node.
    std::uint64_t remote_connect_millis = 1000;
    /// kvforge::redis_cluster: how long a node may take to answer a command (each reply of
    /// a pipeline), in milliseconds, before the call fails with std::errc::timed_out naming
    /// the node. A command that timed out is not sent again: the node may have applied it.
    std::uint64_t remote_command_millis = 2000;
};

}  // namespace kvforge
