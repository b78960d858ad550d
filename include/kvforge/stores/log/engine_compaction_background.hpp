#pragma once
/// \file engine_compaction_background.hpp
/// Automatic compaction on the compaction thread (thread_safe): the thread's work (the
/// pending hints, the spare segment, then jobs one after another while compaction is
/// due), each job holding the gate in short spells only, and the wait of writers that
/// leave too many dead bytes for it. Members of log_backend
/// (engine.hpp), part of its compaction (engine_compaction.hpp); each says what lock it takes.

#include <algorithm>
#include <cstdint>
#include <new>
#include <system_error>
#include <vector>

#include "../../detail/clocks.hpp"
#include "../../error.hpp"
#include "../../options.hpp"
#include "engine.hpp"

namespace kvforge::detail {

/// With thread_safe, after a write, holding no lock: while dead bytes stay above
/// options::compaction_stall_ratio times the live bytes, waits for the compaction
/// thread to reclaim some, for at most options::compaction_stall_micros, so that a
/// burst of writes is slowed down to what the thread keeps up with while no single
/// write waits for a whole job (as LSM stores delay writes on a compaction backlog
/// rather than stop them). The wait also ends as soon as the thread has no job
/// left, fails, or is stopped: it never outlasts the thread's own work.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::wait_for_compaction() {
    if (options_.compaction_stall_ratio <= 0 || options_.compaction_stall_micros == 0) return;
    // compact() reclaims every closed segment's dead bytes, with the thread held.
    if (whole_under_way_.load(std::memory_order_relaxed)) return;
    // Past about twelve days, the deadline would overflow the clock: no wait that long ends by time.
    const std::chrono::microseconds longest(std::min(options_.compaction_stall_micros, std::uint64_t{1} << 40));
    const auto deadline = std::chrono::steady_clock::now() + longest;
    for (;;) {
        const std::uint64_t seen = compactor_.progress();
        if (!over_stall_ceiling() || !compactor_.wait_for_progress(seen, deadline)) return;
    }
}

/// Whether the dead bytes the thread can reclaim, those in closed segments, exceed
/// the ceiling. The active segment's are left out: no job can take them, and a store
/// smaller than a segment would otherwise wait on every write.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::over_stall_ceiling() const {
    const read_lock lock(mutex_);
    if (!open_) return false;
    const std::uint64_t reclaimable = index_.dead_bytes() - active_->dead_bytes;
    return static_cast<double>(reclaimable) >
           options_.compaction_stall_ratio * static_cast<double>(index_.live_bytes());
}

/// The compaction thread's work (thread_safe): the hints of closed segments still
/// waiting for one, then jobs one after another while compaction is still due and each
/// job reclaims dead bytes or sorts a segment, and before each the spare segment once
/// the active one is half full (the writers go on meanwhile, and may need it before
/// the jobs end). A job takes about one segment's live records, so the writes that
/// made compaction due may have ended long before the store is back under
/// compact_dead_ratio: the thread goes on without them. Failures count as the steps' do.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::run_background_job() {
    while (!compactor_.interrupted() && write_pending_hint()) {
    }
    if (!compactor_.interrupted()) {
        // The new segments join the list (a failure leaves it to the next request).
        std::error_code unlisted;
        files_.write_list(unlisted);
    }
    for (;;) {
        if (!compactor_.interrupted()) prepare_spare();
        const std::uint64_t dead_before = dead_bytes_under_lock();
        std::error_code ec;
        bool done = false;
        bool sorted = false;
        try {
            done = background_job(sorted, ec);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while compacting " + files_.directory().path());
        }
        if (!done) {
            const gate_lock gate = gate_after_writers();
            compaction_failed();
            return;
        }
        if (compactor_.interrupted() || (!sorted && dead_bytes_under_lock() >= dead_before)) return;
        const gate_lock gate = gate_after_writers();
        std::error_code closed;
        if (!writable(closed) || !compaction_due()) return;
    }
}

/// An automatic job on the compaction thread: started with write_gate_ held, then run
/// (run_job), a hold or stop() dropping it between its chunks until it publishes. False
/// with ec set when it failed; sorted tells whether the job was a sorting job that
/// ended (its input rewritten, or found in key order).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::background_job(bool& sorted, std::error_code& ec) {
    {
        const gate_lock gate = gate_after_writers();
        std::error_code closed;
        if (!writable(closed) || !compaction_due()) return true;
        if (!start_job(ec)) return false;
        if (!job_) return true;
    }
    return run_job(true, sorted, ec);
}

/// Runs the job started (an automatic one on the compaction thread, compact()'s on its
/// caller's): scanned, sorted and copied with no gate, in chunks of
/// compaction_step_bytes between which, when interruptible, a hold or stop() drops it;
/// published with no gate; its index entries moved in chunks that each hold the gate
/// briefly; its inputs retired under the gate once no backup runs. False with ec set
/// when it failed; sorted as background_job says.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::run_job(bool interruptible, bool& sorted, std::error_code& ec) {
    const bool sorting = job_->sorting;
    const std::uint64_t chunk = options_.compaction_step_bytes != 0 ? options_.compaction_step_bytes
                                                                            : kvforge::options{}.compaction_step_bytes;
    while (job_->at != job_type::phase::publish) {
        if (interruptible && compactor_.interrupted()) {
            abort_job();
            return true;
        }
        std::uint64_t budget = chunk;
        if (job_->at == job_type::phase::walk) {
            walk_index(*job_, budget);
        } else if (!(job_->at == job_type::phase::scan ? scan_inputs(*job_, budget, ec)
                                                       : copy_notes(*job_, budget, ec))) {
            return false;
        }
        if (input_found_sorted(*job_)) {
            const gate_lock gate = gate_after_writers();
            keep_sorted_input();
            sorted = true;
            return true;
        }
    }
    if (interruptible && compactor_.interrupted()) {
        abort_job();
        return true;
    }
    if (!publish_outputs(ec)) return false;
    {
        const gate_lock gate = gate_after_writers();
        install_outputs();
        job_->at = job_type::phase::move;
    }
    while (job_->moved_entries < job_->notes.size()) {
        const gate_lock gate = gate_after_writers();
        move_entries(*job_, entries_moved_at_once);
    }
    // As in retire_job: the newer records that left older ones behind are durable
    // before the inputs go. They are handed to the OS under the gate, and synced
    // with none held; segments closed meanwhile were drained as they closed.
    segment_pointer written;
    {
        const gate_lock gate = gate_after_writers();
        call_writer(&writer_type::flush, ec);
        if (ec) return false;
        written = active_;
    }
    if (!files_.sync_file(written->file, ec)) {
        failure_.record(ec);  // a failed sync is never retried
        return false;
    }
    std::vector<segment_pointer> retired;
    {
        const gate_lock gate = gate_without_backups();
        retired = retire_inputs();
    }
    compactor_.progressed();
    job_.reset();  // its notes are freed with no gate held
    files_.remove_segments(retired);
    sorted = sorting;
    return true;
}

}  // namespace kvforge::detail
