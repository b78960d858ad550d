#pragma once
/// \file store_clear.hpp
/// A log store's clear(): a new active segment whose first record is a clear record,
/// published, and then every other segment retired.
///
/// Should a crash come before all are removed, the clear record drops what they hold
/// when they replay. Like compact(), it keeps automatic compaction off, waits until no
/// backup copies the segments (backups_running.hpp) and holds write_gate_ while it
/// works, so no writer runs, but readers go on; it takes the exclusive lock only to
/// switch segments. A snapshot still reads the retired segments through its hold on them.
/// It works on the engine's writer, files, segments, index, hints, rollover and
/// compaction, which it reaches through the engine it is part of, and owns nothing.

#include <mutex>
#include <system_error>
#include <vector>

#include "log_types.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// The clear() part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class store_clear {
    using types = log_types<Policies>;
    using writer_type = typename types::writer_type;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_pointer = typename types::segment_pointer;

public:
    explicit store_clear(Engine& engine) noexcept : engine_(engine) {}

    /// Removes every key: a new active segment starting with a clear record, then the
    /// others retired.
    void clear(std::error_code& ec) {
        const auto whole = engine_.compaction_.lock_whole();  // after a compact() under way
        const auto no_compaction = engine_.compaction_.hold();
        const gate_lock gate = engine_.gate_without_backups();
        if (!engine_.writable(ec)) return;
        engine_.compaction_.abort_job();
        clear_segments(ec);
    }

private:
    /// clear(), with write_gate_ held: a new active segment whose first record is a
    /// clear record, published, and then every other segment retired. Should a crash come
    /// before all are removed, the clear record drops what they hold when they replay.
    bool clear_segments(std::error_code& ec) {
        engine_.call_writer(&writer_type::drain, ec);
        if (ec) return false;
        engine_.rollover_.discard_spare();  // it would replay before the segment made here
        segment_pointer next;
        if (!engine_.files_.publish_cleared_segment(engine_.new_segment_id(), next, ec)) return false;
        const std::vector<segment_pointer> retired = engine_.segments_.in_replay_order();
        {
            const write_lock lock(engine_.mutex_);
            engine_.table_.clear();
            engine_.segments_.clear();
            engine_.segments_.add(next);
            engine_.hints_.drop_retired(engine_.segments_);
            engine_.rollover_.make_active(next, next->size);
            engine_.hints_.note({record_type::clear, 0, {}, 0, 0, 0, file_header::size, 0});
            engine_.index_.set_counts(0, 0);
            engine_.index_.add_dead(*next, next->size - file_header::size);  // the clear record
            engine_.compaction_.finish_compaction();
        }
        engine_.files_.remove_segments(retired);
        return true;
    }

    Engine& engine_;
};

}  // namespace kvforge::detail
