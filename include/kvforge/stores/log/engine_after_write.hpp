#pragma once
/// \file engine_after_write.hpp
/// Members of log_backend (engine.hpp): what runs after the store's writes: the gate
/// released, the wait for durability the policy asks for, and then the work the write
/// left due, one step of it run by the writer (single_thread) or asked of the compaction
/// thread (thread_safe).
///
/// The work due is, in that order: the hint of a closed segment (hint_keeper.hpp), handed
/// over here (write_pending_hint) to the writer's step or to the compaction thread; the
/// list of segments, once a new one is in place (segment_files.hpp); the spare segment
/// (engine_rollover.hpp); an automatic compaction job
/// (engine_compaction.hpp). A writer waits for its sync after releasing the gate, so
/// that writers can share one sync, and with thread_safe it then waits, with no lock
/// held and a bounded time, while the dead bytes stay past the stall ceiling
/// (engine_compaction.hpp, wait_for_compaction).

#include <cstdint>
#include <optional>
#include <system_error>

#include "../../error.hpp"
#include "active_calls.hpp"
#include "engine.hpp"
#include "hint_keeper.hpp"

namespace kvforge::detail {

/// After a write: releases the gate, waits for durability as the policy says, and, when
/// a closed segment waits for its hint, the spare segment is due (the active one half
/// full: engine_rollover.hpp), a job is under way or one is due (dead bytes past the
/// configured share, or a closed segment to sort: engine_compaction.hpp), runs a step
/// (single_thread: the hint's, else the list's, else the spare's, else automatic
/// compaction's; none after a write that closed a segment) or asks the compaction thread
/// for a job (thread_safe).
/// The write's result is its own: a failed compaction shows in stats() and is not
/// retried before the store has grown (engine_compaction.hpp, compaction_failed).
template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::finish_write(gate_lock& gate, std::uint64_t sequence,
                                                          std::error_code& ec) {
    bool compaction_step = false;
    bool hint_step = false;
    bool list_step = false;
    bool spare_step = false;
    if constexpr (threading::concurrent) {
        if (hints_.pending() > 0 || files_.list_out_of_date() || spare_due() || compaction_due()) {
            request_compaction();
        }
    } else {
        // No step after a write that closed a segment: it paid for the rollover's syncs.
        const bool closed = closed_by_this_write();
        hint_step = !closed && hints_.pending() > 0;
        // A job under way writes the list as it retires its inputs.
        list_step = !closed && !hint_step && files_.list_out_of_date() && !compaction_job_under_way();
        spare_step = !closed && !hint_step && !list_step && spare_due();
        compaction_step = !closed && !hint_step && !list_step && !spare_step &&
                          (compaction_job_under_way() || compaction_due());
    }
    {
        const active_call<threading::concurrent> call(active_calls_);
        gate.unlock();
        writer_->commit(sequence, ec);
        if constexpr (threading::concurrent) {
            if (!ec) wait_for_compaction();
        }
    }
    if (!ec && hint_step) write_pending_hint();
    if (!ec && list_step) {
        // A list that cannot be written only lacks the newest segments; a later step tries again.
        std::error_code unlisted;
        files_.write_list(unlisted);
    }
    if (!ec && spare_step) prepare_spare();
    if (!ec && compaction_step) {
        const gate_lock again(write_gate_);
        std::error_code compaction_error;
        // Another thread may have closed the store, or compacted it, meanwhile.
        if (writable(compaction_error) && (compaction_job_under_way() || compaction_due())) {
            // The caller's last error message describes its own calls, not this one.
            const last_error saved = this_thread_last_error();
            compact_now(compaction_error);
            this_thread_last_error() = saved;
        }
    }
    return sequence;
}

/// Writes the hint of the oldest closed segment still waiting for one, taken under
/// write_gate_ and written with no lock held (the writers go on meanwhile); false when
/// none waits. Only the compaction thread, or a caller holding it off, retires segments,
/// so the segment taken stays in the store until its hint is in place.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::write_pending_hint() {
    std::optional<typename hint_keeper_type::pending_hint> taken;
    {
        const gate_lock gate(write_gate_);
        if (!open_ || hints_.pending() == 0) return false;
        taken.emplace(hints_.take_oldest());
    }
    hints_.write_pending(*taken);
    return true;
}

}  // namespace kvforge::detail
