#pragma once
/// \file engine_compaction_choice.hpp
/// What an automatic compaction job takes: whether one is due (dead bytes to reclaim, or
/// a closed segment to sort), the closed segments it rewrites (compactor.hpp picks them)
/// or the one it sorts, and the job started on them. Members of log_backend
/// (engine.hpp), part of its compaction (engine_compaction.hpp), called with the write gate held.

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <utility>
#include <vector>

#include "../../options.hpp"
#include "compactor.hpp"
#include "engine.hpp"

namespace kvforge::detail {

/// Whether automatic compaction is due: dead bytes past compact_dead_ratio of the
/// data, which holds at least compact_min_bytes and, after a failure, has grown past
/// where the retry waits; never while a backup runs.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::wants_compaction() const {
    if (options_.compact_dead_ratio <= 0) return false;
    // A backup copies the segments compaction would retire: the trigger waits for it.
    if (backups_.running()) return false;
    const std::uint64_t data = data_bytes();
    return data >= options_.compact_min_bytes && data >= compaction_retry_end_ &&
           static_cast<double>(index_.dead_bytes()) >
               options_.compact_dead_ratio * static_cast<double>(data);
}

/// Whether a closed segment waits to be rewritten in key order, with write_gate_ held
/// (options::sort_closed_segments): a sorted store's, holding at least
/// compact_min_bytes, unless automatic compaction is off, a backup runs, or a failure
/// makes it wait as wants_compaction says. It waits too while dead bytes exceed half
/// of compact_dead_ratio of the data: a store being overwritten has its segments
/// rewritten, in key order, by the jobs that reclaim them, and sorting them ahead of
/// those would write them once more.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::wants_sorting() {
    return sorting_allowed() && unsorted_segment();
}

/// wants_sorting() but for the segment to sort: whether sorting jobs may run now.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::sorting_allowed() const {
    if constexpr (!ordered_index) {
        return false;
    } else {
        const kvforge::options& o = options_;
        if (!o.sort_closed_segments || o.compact_dead_ratio <= 0 || o.read_only) return false;
        if (backups_.running()) return false;
        const std::uint64_t data = data_bytes();
        return data >= o.compact_min_bytes && data >= compaction_retry_end_ &&
               static_cast<double>(index_.dead_bytes()) <= o.compact_dead_ratio / 2 * static_cast<double>(data);
    }
}

/// At close, with write_gate_ held (options::sort_closed_segments): closes the active
/// segment when it holds records of at least 1/active_share_at_close of segment_bytes,
/// then ends the job under way and sorts closed segments not in key order, so that the
/// next open finds each segment in key order and a scan reads each front to back (the
/// active segment of a store filled in random order holds up to a segment of scattered
/// records). It sorts at most as many segments as rollovers closed since the store
/// opened, so that close() does work in proportion to what this open wrote: the
/// unsorted segments of a store written before sorting was on are left to the jobs
/// that follow writes. A smaller active segment stays as it is: a store written a
/// little between closes would otherwise gain a segment at each. A rollover or job that
/// fails counts as a failed compaction and leaves the segments as they are (what a
/// failed write left unwritten, the close reports).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::sort_before_close() {
    if constexpr (ordered_index) {
        constexpr std::uint64_t active_share_at_close = 16;
        std::error_code ec;
        if (!writable(ec) || !sorting_allowed()) return;
        const std::uint64_t records = writer_->end() - active_->records_start();
        if (records != 0 && records >= options_.segment_bytes / active_share_at_close &&
            !roll_over(ec)) {
            compaction_failed();
            return;
        }
        std::uint64_t sorts_left = segments_closed();
        while ((job_ || (sorts_left != 0 && wants_sorting())) && !backups_.running()) {
            if (!job_) {
                start_sorting_job();
                --sorts_left;
            }
            if (!advance_job(ec, options_.compaction_step_bytes)) {
                compaction_failed();
                return;
            }
        }
    }
}

/// The closed segment a sorting job takes next, with write_gate_ held: the one
/// replaying first of those not known to be in key order, leaving out one that holds
/// a clear record unless nothing replays before it (as pick_inputs does); null when
/// there is none. Remembers that there is none until a segment closes (the active
/// one changes) or a job ends.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::unsorted_segment() -> segment_pointer {
    if (all_sorted_at_ != 0 && all_sorted_at_ == active_->id) return nullptr;
    const std::vector<segment_pointer>& segments = segments_.by_id();
    segment_pointer oldest;
    segment_pointer picked;
    for (const segment_pointer& in : segments) {
        if (!oldest || in->replays_before(*oldest)) oldest = in;
    }
    for (const segment_pointer& in : segments) {
        if (in == active_ || in->in_key_order || (in->holds_clear && in != oldest)) continue;
        if (!picked || in->replays_before(*picked)) picked = in;
    }
    if (!picked) all_sorted_at_ = active_->id;
    return picked;
}

/// Starts an automatic compaction job, with write_gate_ held: the closed segments
/// with the largest share of dead bytes, as many as hold about one segment of live
/// records. When the active segment has a larger share than any closed one, it is
/// closed first, to be one of them. With nothing to gain, automatic compaction waits
/// for the store to grow by compact_min_bytes (and no job starts). When no dead bytes
/// make compaction due, a sorting job on one closed segment starts instead, if one
/// is wanted.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::start_job(std::error_code& ec) {
    if (!wants_compaction()) {
        if (wants_sorting()) start_sorting_job();
        return true;
    }
    double closed_share = 0;
    for (const segment_pointer& in : segments_.by_id()) {
        if (in != active_) closed_share = std::max(closed_share, dead_share(*in));
    }
    const std::uint64_t active_records = writer_->end() - active_->records_start();
    const double active_share =
        active_records == 0 ? 0.0
                            : static_cast<double>(active_->dead_bytes) / static_cast<double>(active_records);
    if (active_share > closed_share && !roll_over(ec)) return false;
    std::vector<segment_pointer> inputs =
        pick_inputs(segments_, active_.get(), options_.segment_bytes);
    if (inputs.empty()) {
        const write_lock lock(mutex_);
        compaction_retry_end_ = data_bytes() + options_.compact_min_bytes;
        return true;
    }
    sort_segments(inputs, &segment_type::in_replay_order);
    job_type& job = job_.emplace();
    std::uint64_t order = 0;
    for (const segment_pointer& in : inputs) {
        job.keep_erases.push_back(older_segment_outside(segments_, *in, inputs));
        order = std::max(order, in->order);
    }
    job.scan_offset = inputs.front()->records_start();
    job.inputs = std::move(inputs);
    // The copy merges the scan's sorted runs.
    job.outputs.emplace(*this, order, true, options_.segment_bytes);
    return true;
}

/// Starts a job that rewrites the closed segment unsorted_segment() gives in key
/// order, with write_gate_ held. It walks the index rather than scan the segment when
/// the segment holds at least 1/walk_share_limit of the store's live bytes: a walk
/// visits every entry of the index, at a small fraction of the cost of a look-up, sort
/// and merge per record of the input, so with a store of many segments it would cost
/// more than it saves (and jobs over all of them would cost the square of its size).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::start_sorting_job() {
    segment_pointer in = unsorted_segment();
    if (!in) return;
    job_type& job = job_.emplace();
    job.sorting = true;
    if constexpr (walkable_index) {
        constexpr std::uint64_t walk_share_limit = 32;
        const std::uint64_t records = in->size - in->records_start();
        const std::uint64_t held = records - std::min(in->dead_bytes, records);
        if (index_.live_bytes() <= walk_share_limit * held) {
            job.walks_index = true;
            job.at = job_type::phase::walk;
        }
    }
    job.keep_erases.push_back(older_segment_outside(segments_, *in, {in}));
    job.scan_offset = in->records_start();
    job.outputs.emplace(*this, in->order, true, std::max(options_.segment_bytes, in->size));
    job.inputs.push_back(std::move(in));
}

}  // namespace kvforge::detail
