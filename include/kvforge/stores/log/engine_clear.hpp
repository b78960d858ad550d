#pragma once
/// \file engine_clear.hpp
/// Members of log_backend (engine.hpp): clear(), a new active segment whose first record
/// is a clear record, published, and then every other segment retired.
///
/// Should a crash come before all are removed, the clear record drops what they hold
/// when they replay. Like compact(), it keeps automatic compaction off, waits until no
/// backup copies the segments (backups_running.hpp) and holds write_gate_ while it
/// works, so no writer runs, but readers go on; it takes the exclusive lock only to
/// switch segments. A snapshot still reads the retired segments through its hold on them.

#include <mutex>
#include <system_error>
#include <vector>

#include "engine.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Removes every key: a new active segment starting with a clear record, then the
/// others retired.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::clear(std::error_code& ec) {
    const auto whole = lock_whole();  // after a compact() under way
    const auto no_compaction = hold_compaction();
    const gate_lock gate = gate_without_backups();
    if (!writable(ec)) return;
    abort_job();
    clear_segments(ec);
}

/// clear(), with write_gate_ held: a new active segment whose first record is a clear
/// record, published, and then every other segment retired. Should a crash come before
/// all are removed, the clear record drops what they hold when they replay.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::clear_segments(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    discard_spare();  // it would replay before the segment made here
    segment_pointer next;
    if (!files_.publish_cleared_segment(new_segment_id(), next, ec)) return false;
    const std::vector<segment_pointer> retired = segments_.in_replay_order();
    {
        const write_lock lock(mutex_);
        table_.clear();
        segments_.clear();
        segments_.add(next);
        hints_.drop_retired(segments_);
        make_active(next, next->size);
        hints_.note({record_type::clear, 0, {}, 0, 0, 0, file_header::size, 0});
        index_.set_counts(0, 0);
        index_.add_dead(*next, next->size - file_header::size);  // the clear record
        finish_compaction();
    }
    files_.remove_segments(retired);
    return true;
}

}  // namespace kvforge::detail
