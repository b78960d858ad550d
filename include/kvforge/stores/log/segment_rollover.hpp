#pragma once
/// \file segment_rollover.hpp
/// A log store's rollover: the active segment closed when full and the next one put in
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
/// Locks (the engine's). make_room, roll_over and discard_spare run with write_gate_
/// held, so no writer appends meanwhile; roll_over takes the exclusive lock only to switch
/// segments, and make_active runs under it. prepare_spare takes the gate only to pick the
/// spare's id and to hand the spare over, and makes and syncs its file with no lock held.
/// It works on the engine's writer, files, segments, hints and reader, which it reaches
/// through the engine it is part of, and owns the spare and when one is wanted.

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include "../../error.hpp"
#include "../../options.hpp"
#include "log_types.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// The rollover part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class segment_rollover {
    using types = log_types<Policies>;
    using writer_type = typename types::writer_type;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_pointer = typename types::segment_pointer;

public:
    explicit segment_rollover(Engine& engine) noexcept : engine_(engine) {}

    /// Back to no spare, as at close(); wanted says whether the active segment, once half
    /// full, wants one (an open that can write).
    void reset(bool wanted = false) noexcept {
        spare_.reset();
        spare_wanted_ = wanted;
        closed_by_this_write_ = false;
        flushed_ahead_ = false;
        segments_closed_ = 0;
    }

    /// Whether segments of segment_bytes can be rolled over, which open() asks first;
    /// else false with ec set.
    [[nodiscard]] static bool accepts(std::uint64_t segment_bytes, std::error_code& ec) {
        if (segment_bytes >= min_segment_bytes && segment_bytes <= max_segment_bytes) return true;
        fail(ec, errc::invalid_argument,
             "options::segment_bytes is " + std::to_string(segment_bytes) + "; it must lie between " +
                 std::to_string(min_segment_bytes) + " (64 KiB) and " + std::to_string(max_segment_bytes) +
                 " bytes (nothing was opened)");
        return false;
    }

    /// Before a write (write_gate_ held): closes the active segment when it is full, and
    /// flushes the writer ahead as it enters its last stretch.
    bool make_room(std::error_code& ec) {
        closed_by_this_write_ = false;
        const std::uint64_t end = engine_.writer_->end();
        const std::uint64_t segment_bytes = engine_.options_.segment_bytes;
        if (end >= segment_bytes) return roll_over(ec);
        if (!flushed_ahead_ && end >= segment_bytes - final_stretch(segment_bytes)) return flush_ahead(ec);
        return true;
    }

    /// Whether the write under way closed a segment (write_gate_ held): that write paid
    /// for the rollover's syncs already, so single_thread runs no step after it (the
    /// segment's hint, a spare, compaction): the next write does.
    [[nodiscard]] bool closed_by_this_write() const noexcept { return closed_by_this_write_; }

    /// How many segments rollovers have closed since the store opened (write_gate_ held).
    [[nodiscard]] std::uint64_t segments_closed() const noexcept { return segments_closed_; }

    /// Closes the active segment and starts the next (write_gate_ held): by a write, or by
    /// a compaction job that would rewrite the active segment. The writer drains first:
    /// the closed segment is durable before any byte of the next reaches the OS. The next
    /// segment is the spare when one is ready (only renamed into place), else made here.
    /// On failure nothing was appended anywhere and the next write tries again. The closed
    /// segment's hint is left to the engine's write_pending_hint, after this write:
    /// building and syncing it takes longer than everything else here, and a segment
    /// without a hint is only read whole at the next open.
    bool roll_over(std::error_code& ec) {
        engine_.call_writer(&writer_type::drain, ec);
        if (ec) return false;
        segment_pointer next = take_spare();
        if (next ? !engine_.files_.place_segment(*next, ec)
                 : !engine_.files_.create_segment(engine_.new_segment_id(), next, ec)) {
            return false;
        }
        engine_.hints_.reserve_pending();  // so that nothing below throws
        const std::uint64_t end = engine_.writer_->end();
        const write_lock lock(engine_.mutex_);
        engine_.active_->size = end;
        engine_.reader_.map_final(*engine_.active_, end);
        engine_.hints_.close_active(engine_.active_);
        closed_by_this_write_ = true;
        ++segments_closed_;
        engine_.segments_.add(next);
        make_active(std::move(next), file_header::size);
        return true;
    }

    /// Makes `next` the active segment, its records starting at end (write_gate_ and the
    /// exclusive lock held): after a rollover, and for the writer segment compact() and
    /// clear() make. It wants a spare once half full.
    void make_active(segment_pointer next, std::uint64_t end) {
        engine_.active_ = std::move(next);
        engine_.writer_->attach(engine_.active_->file, end);
        const kvforge::options& opts = engine_.options_;
        if (opts.write_hints && !opts.read_only) {
            engine_.hints_.start_active(*engine_.active_);
        } else {
            engine_.hints_.stop_active();
        }
        engine_.reader_.cover(*engine_.active_, end);  // mmap_file's mapping
        spare_wanted_ = !opts.read_only;
        flushed_ahead_ = false;
    }

    /// Whether the spare segment is due (write_gate_ held): the active segment wants one
    /// and holds half of segment_bytes. Not sooner, so that a store filled and closed
    /// soon after a rollover does not make, sync and remove a spare it never uses; not
    /// later, so that half a segment of writes lies between the request and the rollover
    /// that needs the spare, which takes one file made and synced.
    [[nodiscard]] bool spare_due() const noexcept {
        return spare_wanted_ && engine_.writer_->end() >= engine_.options_.segment_bytes / 2;
    }

    /// Prepares the spare segment when due: the next segment the writer appends to, made
    /// as a .tmp holding its synced header. Runs with no lock held (the writers go on
    /// meanwhile): on the compaction thread (thread_safe) or as a step after a later write
    /// (single_thread). Best effort, tried once for each active segment: should it fail,
    /// the rollover makes its segment itself. A spare left by a crash is a .tmp, which the
    /// next open removes.
    void prepare_spare() {
        std::uint32_t id = 0;
        {
            const gate_lock gate(engine_.write_gate_);
            if (!engine_.open_ || spare_ || !spare_due()) return;
            spare_wanted_ = false;
            id = engine_.new_segment_id();
        }
        segment_pointer spare;
        std::error_code ec;
        const bool ready = engine_.files_.start_segment(id, id, spare, ec) && engine_.files_.sync_file(spare->file, ec);
        const gate_lock gate(engine_.write_gate_);
        if (!engine_.open_) return;  // closed meanwhile: the next open removes the .tmp
        // A rollover made its own segment meanwhile: this one could no longer follow it.
        if (ready && !spare_ && id > engine_.active_->id) {
            spare_ = std::move(spare);
        } else {
            engine_.files_.remove_unpublished_segment(id);
        }
    }

    /// Removes an unused spare segment's .tmp (write_gate_ held): at close(), and when
    /// compact() or clear() make a writer segment of their own, which the spare may no
    /// longer follow. A failure leaves it to the next open.
    void discard_spare() {
        if (!spare_) return;
        const std::uint32_t id = spare_->id;
        spare_.reset();  // closes its file
        engine_.files_.remove_unpublished_segment(id);
    }

private:
    /// Segments may be no smaller: below this, rollover's syncs would cost more than the writes.
    static constexpr std::uint64_t min_segment_bytes = std::uint64_t{64} << 10;

    /// The most a rollover writes and syncs of a buffering writer's bytes: a write that
    /// finds the active segment this close to full flushes ahead (a quarter of the
    /// smallest segments).
    static constexpr std::uint64_t final_stretch(std::uint64_t segment_bytes) noexcept {
        return std::min(std::uint64_t{512} << 10, segment_bytes / 4);
    }

    /// Flushes the writer's buffer to the OS and asks for its writeback, once for each
    /// active segment (write_gate_ held), so that the rollover ahead finds those bytes on
    /// their way to disk. Only for a writer that holds bytes in a buffer of its own
    /// (buffered; sync_each holds none): async_worker's thread writes and syncs its queue
    /// ahead already, and its flush would wait for that sync.
    bool flush_ahead(std::error_code& ec) {
        flushed_ahead_ = true;
        if constexpr (!writer_type::sequenced) {
            if (engine_.writer_->end() == engine_.writer_->written_end()) return true;
            engine_.call_writer(&writer_type::flush, ec);
            if (ec) return false;
            engine_.active_->file.start_writeback();
        }
        return true;
    }

    /// Takes the spare segment for a rollover (write_gate_ held): null when there is none,
    /// or when its id is below the active segment's, as the new active segment must
    /// replay last (a guard: compact() and clear() discard the spare as they make a
    /// writer segment of their own).
    segment_pointer take_spare() {
        if (spare_ && spare_->id < engine_.active_->id) discard_spare();
        return std::move(spare_);
    }

    Engine& engine_;
    // The next segment the writer appends to, prepared ahead of need as a synced .tmp,
    // and whether the active segment still wants one; under write_gate_.
    segment_pointer spare_;
    bool spare_wanted_ = false;
    bool closed_by_this_write_ = false;  // under write_gate_
    bool flushed_ahead_ = false;         // for the active segment; under write_gate_
    std::uint64_t segments_closed_ = 0;  // under write_gate_
};

}  // namespace kvforge::detail
