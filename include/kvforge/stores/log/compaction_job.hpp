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
///    so only the look-ups in the index lock (shared). A sorting job on a sorted index
///    whose input holds a fair share of the store walks the index in key order instead
///    (phase walk), noting the entries that point into its input, already in key order
///    and with no look-up; it scans its input then only when the input may hold erases
///    to keep (bytes the walk did not note), noting those alone;
/// 2. copy: copies the records (read from the inputs by place, checked, and written as
///    they are) into output segments, which stay .tmp files. A sorted store's go in key
///    order: each scan step sorts the notes it made, a run (a walk's notes are one run,
///    sorted already), and the copy merges the runs, so that no step sorts the whole
///    job. A hash store's puts go in the order the scan found them, so the copy reads
///    each input front to back, and its erases after them (end_scan);
/// 3. publish (one step; thread_safe: no gate but to add the outputs): writes and syncs
///    the last output and its hint, renames the outputs into place, syncs the
///    directory, and adds the outputs to the store's segments. Inputs and outputs now
///    replay to the same contents, so from here on the job is never dropped unfinished
///    with its outputs removed;
/// 4. move (a step, or the gate held, for each chunk of entries): moves to its copy each
///    index entry that still points where the copy was read from (a key written or
///    erased since the scan leaves its copy dead), by a look-up per note, or, after a
///    walk, by a walk over the same keys in key order; then makes the writer's records
///    durable and retires the inputs, once no backup runs (their files removed last).
///
/// The scan goes on past a damaged record when no index entry points into its bytes
/// (they hold no key's newest record) and no erase of the input must be kept: the
/// damaged bytes go with the input, counted (stats().damaged_bytes_dropped). Damage to
/// a live record fails the job, as does damage where an erase may have to be kept.
///
/// Aborting a job before it publishes (clear, compact, close, a failed step) removes its
/// .tmp outputs: nothing was published, and the inputs stay as they were. Aborting it
/// while it moves entries leaves inputs and outputs both in the store.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "key_order.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

template <class Segment, class Outputs>
struct compaction_job {
    enum class phase { walk, scan, copy, publish, move, remove };

    /// A record the job copies: a put (found at `from` in an input) or an erase of the
    /// key key_size bytes at key_at in keys.
    struct note {
        std::size_t key_at;
        std::size_t key_size;
        record_location from;
        bool erase = false;
    };

    std::vector<std::shared_ptr<Segment>> inputs;  ///< in replay order
    /// Per input: 1 when its needed erases are copied, else 0. Words, as in vectors the
    /// engine compiles anyway: std::vector<bool> would compile some 80 functions more.
    std::vector<std::uint64_t> keep_erases;
    /// A job that rewrites one closed segment in key order (options::sort_closed_segments)
    /// rather than reclaiming dead bytes: its scan follows the input's keys, and when
    /// they turn out to be in key order already the job ends there, the input kept.
    bool sorting = false;
    key_order_check input_order;
    phase at = phase::scan;
    /// A walk of the index in key order takes the place of the scan's puts (phase walk).
    bool walks_index = false;
    std::string walk_from;             ///< the key the walk goes on at
    std::uint64_t walked_bytes = 0;    ///< of the input's records the walk noted
    std::uint64_t walked_end = 0;      ///< where the record the walk noted last ends
    bool walked_in_file_order = true;  ///< each record the walk noted lies after the one before
    std::size_t walked_notes = 0;      ///< the walk's notes come first, an erase scan's after
    std::size_t scanning = 0;          ///< the input the scan is in
    std::uint64_t scan_offset = 0;     ///< where the scan goes on in it
    /// Notes of one scan step, sorted by key (a hash store's job: every note, one run, as
    /// end_scan orders them): those from next to end are still to copy.
    struct run {
        std::size_t next;
        std::size_t end;
    };

    std::vector<note> notes;             ///< in runs, in the order the scan made them (but see end_scan)
    std::string keys;                    ///< the notes' keys, one after another (no allocation per note)
    std::vector<run> runs;               ///< a heap (the run with the least next key first) once the scan ended
    std::vector<record_location> moved;  ///< where each note's copy went
    std::optional<std::size_t> copied;   ///< the note copied last
    std::size_t moved_entries = 0;       ///< notes whose index entries have moved
    /// Bytes of damaged dead records the scan passed over, dropped with the inputs.
    std::uint64_t damaged_bytes = 0;
    std::optional<Outputs> outputs;
    /// The inputs, once taken out of the store, whose files are still to remove (phase
    /// remove, one a step with single_thread), in replay order.
    std::vector<std::shared_ptr<Segment>> retired;
    bool retired_unlisted = false;  ///< the list of segments no longer names them (the first remove step)

    [[nodiscard]] std::string_view key_of(const note& n) const noexcept {
        return std::string_view(keys).substr(n.key_at, n.key_size);
    }

    /// Notes a put of key at from, or an erase of key.
    void add_note(std::string_view key, const record_location& from, bool erase) {
        notes.push_back({keys.size(), key.size(), from, erase});
        keys.append(key);
    }

    /// Keeps, of the notes from `from` on, those for which keep(i) is true, in order, with
    /// their keys; keep is called once for each, in order.
    template <class Keep>
    void keep_notes_from(std::size_t from, Keep&& keep) {
        if (from == notes.size()) return;
        std::size_t kept = from;
        std::size_t key_end = notes[from].key_at;
        for (std::size_t i = from; i < notes.size(); ++i) {
            if (!keep(i)) continue;
            note n = notes[i];
            if (key_end != n.key_at) std::memmove(keys.data() + key_end, keys.data() + n.key_at, n.key_size);
            n.key_at = key_end;
            key_end += n.key_size;
            notes[kept++] = n;
        }
        notes.resize(kept);
        keys.resize(key_end);
    }

    /// Whether the scan or walk has ended and found a sorting job's input in key order:
    /// the scan read its keys ascending; the walk noted every byte of it (no erase, no
    /// dead record, no batch), each record after the one before.
    [[nodiscard]] bool input_in_key_order(std::uint64_t records_bytes) const noexcept {
        if (!sorting || at == phase::walk || at == phase::scan) return false;
        return walks_index ? walked_in_file_order && walked_bytes == records_bytes : input_order.ordered();
    }
};

}  // namespace kvforge::detail
