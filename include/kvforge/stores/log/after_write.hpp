#pragma once
/// \file after_write.hpp
/// What runs after a log store's write: the gate released, the wait for durability the
/// policy asks for, and then the work the write left due, one step of it run by the
/// writer (single_thread) or asked of the compaction thread (thread_safe).
///
/// The work due is, in that order: the hint of a closed segment (hint_keeper.hpp), handed
/// over here (write_pending_hint) to the writer's step or to the compaction thread; the
/// spare segment (segment_rollover.hpp); an automatic compaction job
/// (segment_compaction.hpp). A writer waits for its sync after releasing the gate, so
/// that writers can share one sync, and with thread_safe it then waits, with no lock
/// held and a bounded time, while the dead bytes stay past the stall ceiling
/// (segment_compaction.hpp, wait_for_compaction).
/// It works on the engine's gate, writer, hints, rollover and compaction, which it
/// reaches through the engine it is part of, and owns nothing.

#include <cstdint>
#include <optional>
#include <system_error>

#include "../../detail/active_calls.hpp"
#include "../../error.hpp"
#include "hint_keeper.hpp"
#include "log_types.hpp"

namespace kvforge::detail {

/// The part of log_backend (engine.hpp) that runs after its writes, which it is a friend of.
template <class Policies, class Engine>
class after_write {
    using types = log_types<Policies>;
    using threading = typename types::threading;
    using gate_lock = typename types::gate_lock;
    using hint_keeper_type =
        hint_keeper<typename types::io_type, typename types::counter_type, typename types::mutex_type>;

public:
    explicit after_write(Engine& engine) noexcept : engine_(engine) {}

    /// After a write: releases the gate, waits for durability as the policy says, and,
    /// when a closed segment waits for its hint, the spare segment is due (the active one
    /// half full: segment_rollover.hpp), a job is under way or one is due (dead bytes past
    /// the configured share, or a closed segment to sort: segment_compaction.hpp), runs a
    /// step (single_thread: the hint's, else the spare's, else automatic compaction's;
    /// none after a write that closed a segment) or asks the compaction thread for a job
    /// (thread_safe).
    /// The write's result is its own: a failed compaction shows in stats() and is not
    /// retried before the store has grown (segment_compaction.hpp, compaction_failed).
    std::uint64_t finish_write(gate_lock& gate, std::uint64_t sequence, std::error_code& ec) {
        bool compaction_due = false;
        bool hint_due = false;
        bool spare_due = false;
        if constexpr (threading::concurrent) {
            if (engine_.hints_.pending() > 0 || engine_.rollover_.spare_due() || engine_.compaction_.due()) {
                engine_.compaction_.request();
            }
        } else {
            // No step after a write that closed a segment: it paid for the rollover's syncs.
            const bool closed = engine_.rollover_.closed_by_this_write();
            hint_due = !closed && engine_.hints_.pending() > 0;
            spare_due = !closed && !hint_due && engine_.rollover_.spare_due();
            compaction_due = !closed && !hint_due && !spare_due &&
                             (engine_.compaction_.job_under_way() || engine_.compaction_.due());
        }
        {
            const active_call<threading::concurrent> call(engine_.active_calls_);
            gate.unlock();
            engine_.writer_->commit(sequence, ec);
            if constexpr (threading::concurrent) {
                if (!ec) engine_.compaction_.wait_for_compaction();
            }
        }
        if (!ec && hint_due) write_pending_hint();
        if (!ec && spare_due) engine_.rollover_.prepare_spare();
        if (!ec && compaction_due) {
            const gate_lock again(engine_.write_gate_);
            std::error_code compaction_error;
            // Another thread may have closed the store, or compacted it, meanwhile.
            if (engine_.writable(compaction_error) &&
                (engine_.compaction_.job_under_way() || engine_.compaction_.due())) {
                // The caller's last error message describes its own calls, not this one.
                const last_error saved = this_thread_last_error();
                engine_.compaction_.compact_now(compaction_error);
                this_thread_last_error() = saved;
            }
        }
        return sequence;
    }

    /// Writes the hint of the oldest closed segment still waiting for one, taken under
    /// write_gate_ and written with no lock held (the writers go on meanwhile); false when
    /// none waits. Only the compaction thread, or a caller holding it off, retires
    /// segments, so the segment taken stays in the store until its hint is in place.
    bool write_pending_hint() {
        std::optional<typename hint_keeper_type::pending_hint> taken;
        {
            const gate_lock gate(engine_.write_gate_);
            if (!engine_.open_ || engine_.hints_.pending() == 0) return false;
            taken.emplace(engine_.hints_.take_oldest());
        }
        engine_.hints_.write_pending(*taken);
        return true;
    }

private:
    Engine& engine_;
};

}  // namespace kvforge::detail
