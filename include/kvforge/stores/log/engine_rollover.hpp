#pragma once
/// \file engine_rollover.hpp
/// Members of log_backend (engine.hpp): the store's rollover: the active segment closed when full and the next one put in
/// its place, from a spare made ahead of need.
///
/// A write that finds the active segment holding options::segment_bytes or more first
/// closes it (make_room): the writer drains, so that the closed segment is durable before
/// any byte of the next reaches the OS and a power loss leaves a prefix of the writes
/// across segments too; then the next segment, made through a synced .tmp and a rename,
/// becomes the active one. Its .tmp is made ahead of need, once the active segment is
/// half full (the spare segment, prepare_spare), off the writers' path as the closed
/// segment's hint is, so that the rollover only renames it into place and syncs the
/// directory.
///
/// What the rollover still writes and syncs is kept small too: the writer's buffer
/// (buffered) may hold megabytes when the segment fills, whose write and sync would fall
/// on the write that closes it. So once the active segment enters its last stretch
/// (final_stretch), one write flushes that buffer to the OS ahead and asks for its
/// writeback without waiting for it; the rollover then writes and syncs at most the
/// stretch's bytes. Bytes reaching the OS early change no guarantee: they are the active
/// segment's, written in order, and buffered's durability comes only from sync().
///
/// Locks. make_room, roll_over and discard_spare run with write_gate_
/// held, so no writer appends meanwhile; roll_over takes the exclusive lock only to switch
/// segments, and make_active runs under it. prepare_spare takes the gate only to pick the
/// spare's id and to hand the spare over, and makes and syncs its file with no lock held.

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include "../../error.hpp"
#include "../../options.hpp"
#include "engine.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Back to no spare, as at close(); wanted says whether the active segment, once half
/// full, wants one (an open that can write).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_rollover(bool wanted) noexcept {
    spare_.reset();
    spare_wanted_ = wanted;
    closed_by_this_write_ = false;
    flushed_ahead_ = false;
    segments_closed_ = 0;
}

/// Before a write (write_gate_ held): closes the active segment when it is full, and
/// flushes the writer ahead as it enters its last stretch.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::make_room(std::error_code& ec) {
    closed_by_this_write_ = false;
    const std::uint64_t end = writer_->end();
    const std::uint64_t segment_bytes = options_.segment_bytes;
    if (end >= segment_bytes) return roll_over(ec);
    if (!flushed_ahead_ && end >= segment_bytes - final_stretch(segment_bytes)) return flush_ahead(ec);
    return true;
}

/// Closes the active segment and starts the next (write_gate_ held): by a write, or by a
/// compaction job that would rewrite the active segment. The writer drains first: the
/// closed segment is durable before any byte of the next reaches the OS. The next segment
/// is the spare when one is ready (only renamed into place), else made here. On failure
/// nothing was appended anywhere and the next write tries again. The closed segment's
/// hint is left to write_pending_hint, after this write: building and syncing it takes
/// longer than everything else here, and a segment without a hint is only read whole at
/// the next open.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::roll_over(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    segment_pointer next = take_spare();
    if (next ? !files_.place_segment(*next, ec) : !files_.create_segment(new_segment_id(), next, ec)) return false;
    hints_.reserve_pending();  // so that nothing below throws
    const std::uint64_t end = writer_->end();
    const write_lock lock(mutex_);
    active_->size = end;
    // Known from the writes (log_writes.hpp): a sorted store's sorting jobs pass it by.
    active_->in_key_order = writes_.wrote_in_key_order();
    reader_.map_final(*active_, end);
    hints_.close_active(active_);
    closed_by_this_write_ = true;
    ++segments_closed_;
    segments_.add(next);
    make_active(std::move(next), file_header::size);
    return true;
}

/// Makes `next` the active segment, its records starting at end (write_gate_ and the
/// exclusive lock held): after a rollover, and for the writer segment compact() and
/// clear() make. It wants a spare once half full.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::make_active(segment_pointer next, std::uint64_t end) {
    active_ = std::move(next);
    writer_->attach(active_->file, end);
    if (options_.write_hints && !options_.read_only) {
        hints_.start_active(*active_);
    } else {
        hints_.stop_active();
    }
    reader_.cover(*active_, end);  // mmap_file's mapping
    // A segment that holds records already (clear()'s) is not followed: its order is unknown.
    writes_.follow_key_order(ordered_index && options_.sort_closed_segments && end == file_header::size);
    spare_wanted_ = !options_.read_only;
    flushed_ahead_ = false;
}

/// Whether the spare segment is due (write_gate_ held): the active segment wants one and
/// holds half of segment_bytes. Not sooner, so that a store filled and closed soon after
/// a rollover does not make, sync and remove a spare it never uses; not later, so that
/// half a segment of writes lies between the request and the rollover that needs the
/// spare, which takes one file made and synced.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::spare_due() const noexcept {
    return spare_wanted_ && writer_->end() >= options_.segment_bytes / 2;
}

/// Prepares the spare segment when due: the next segment the writer appends to, made as
/// a .tmp holding its synced header. Runs with no lock held (the writers go on
/// meanwhile): on the compaction thread (thread_safe) or as a step after a later write
/// (single_thread). Best effort, tried once for each active segment: should it fail, the
/// rollover makes its segment itself. A spare left by a crash is a .tmp, which the next
/// open removes.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::prepare_spare() {
    std::uint32_t id = 0;
    {
        const gate_lock gate(write_gate_);
        if (!open_ || spare_ || !spare_due()) return;
        spare_wanted_ = false;
        id = new_segment_id();
    }
    segment_pointer spare;
    std::error_code ec;
    const bool ready = files_.start_segment(id, id, spare, ec) && files_.sync_file(spare->file, ec);
    const gate_lock gate(write_gate_);
    if (!open_) return;  // closed meanwhile: the next open removes the .tmp
    // A rollover made its own segment meanwhile: this one could no longer follow it.
    if (ready && !spare_ && id > active_->id) {
        spare_ = std::move(spare);
    } else {
        files_.remove_unpublished_segment(id);
    }
}

/// Removes an unused spare segment's .tmp (write_gate_ held): at close(), and when
/// compact() or clear() make a writer segment of their own, which the spare may no longer
/// follow. A failure leaves it to the next open.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::discard_spare() {
    if (!spare_) return;
    const std::uint32_t id = spare_->id;
    spare_.reset();  // closes its file
    files_.remove_unpublished_segment(id);
}

/// Flushes the writer's buffer to the OS and asks for its writeback, once for each active
/// segment (write_gate_ held), so that the rollover ahead finds those bytes on their way
/// to disk. Only for a writer that holds bytes in a buffer of its own (buffered;
/// sync_each holds none): async_worker's thread writes and syncs its queue ahead already,
/// and its flush would wait for that sync.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::flush_ahead(std::error_code& ec) {
    flushed_ahead_ = true;
    if constexpr (!writer_type::sequenced) {
        if (writer_->end() == writer_->written_end()) return true;
        call_writer(&writer_type::flush, ec);
        if (ec) return false;
        active_->file.start_writeback();
    }
    return true;
}

/// Takes the spare segment for a rollover (write_gate_ held): null when there is none, or
/// when its id is below the active segment's, as the new active segment must replay last
/// (a guard: compact() and clear() discard the spare as they make a writer segment of
/// their own).
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::take_spare() -> segment_pointer {
    if (spare_ && spare_->id < active_->id) discard_spare();
    return std::move(spare_);
}

}  // namespace kvforge::detail
