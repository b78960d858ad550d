#pragma once
/// \file compaction_job.hpp
/// The state of an automatic compaction job between its steps. With single_thread, the
/// engine advances a job a bounded number of bytes at a time
/// (options::compaction_step_bytes), with its write gate held for one step only, so that
/// writers go on between steps; with thread_safe, the compaction thread runs the job,
/// taking the gate only where this says (compaction_thread.hpp, engine.hpp):
///
/// 1. scan: reads the inputs, noting each live put's key and place (not its value) and
///    the erases still needed (compactor.hpp says which); closed segments do not change,
///    so only the look-ups in the index lock (shared);
/// 2. copy: copies the records (values read from the inputs by place) into output
///    segments, which stay .tmp files, in key order: each scan step sorts the notes it
///    made, a run, and the copy merges the runs, so that no step sorts the whole job;
/// 3. publish (one step; thread_safe: no gate but to add the outputs): writes and syncs
///    the last output and its hint, renames the outputs into place, syncs the
///    directory, and adds the outputs to the store's segments. Inputs and outputs now
///    replay to the same contents, so from here on the job is never dropped unfinished
///    with its outputs removed;
/// 4. move (a step, or the gate held, for each chunk of entries): moves to its copy each
///    index entry that still points where the copy was read from (a key written or
///    erased since the scan leaves its copy dead); then makes the writer's records
///    durable and retires the inputs, once no backup runs (their files removed last).
///
/// Aborting a job before it publishes (clear, compact, close, a failed step) removes its
/// .tmp outputs: nothing was published, and the inputs stay as they were. Aborting it
/// while it moves entries leaves inputs and outputs both in the store.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "key_order.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

template <class Segment, class Outputs>
struct compaction_job {
    enum class phase { scan, copy, publish, move, remove };

    /// A record the job copies: a put (found at `from` in an input) or an erase.
    struct note {
        std::string key;
        record_location from;
        record_meta meta;
        bool erase = false;
    };

    std::vector<std::shared_ptr<Segment>> inputs;  ///< in replay order
    std::vector<bool> keep_erases;                 ///< per input: whether its needed erases are copied
    /// A job that rewrites one closed segment in key order (options::sort_closed_segments)
    /// rather than reclaiming dead bytes: its scan follows the input's keys, and when
    /// they turn out to be in key order already the job ends there, the input kept.
    bool sorting = false;
    key_order_check input_order;
    phase at = phase::scan;
    std::size_t scanning = 0;       ///< the input the scan is in
    std::uint64_t scan_offset = 0;  ///< where the scan goes on in it
    /// Notes of one scan step, sorted by key: those from next to end are still to copy.
    struct run {
        std::size_t next;
        std::size_t end;
    };

    std::vector<note> notes;             ///< in runs, in the order the scan made them
    std::vector<run> runs;               ///< a heap (the run with the least next key first) once the scan ended
    std::vector<record_location> moved;  ///< where each note's copy went
    std::optional<std::size_t> copied;   ///< the note copied last
    std::size_t moved_entries = 0;       ///< notes whose index entries have moved
    std::optional<Outputs> outputs;
    /// The inputs, once taken out of the store, whose files are still to remove (phase
    /// remove, one a step with single_thread), in replay order.
    std::vector<std::shared_ptr<Segment>> retired;
};

}  // namespace kvforge::detail
