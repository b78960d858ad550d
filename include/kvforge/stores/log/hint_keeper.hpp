#pragma once
/// \file hint_keeper.hpp
/// A log store's hints kept up to date: the entries of the active segment, gathered as
/// its records are appended and written to its hint's .tmp a block at a time as they
/// fill, and the closed segments whose hints are still to be finished, each finished
/// (hint.hpp's format) through segment_files.hpp.
///
/// Finishing a closed segment's hint is left out of the write that closed it: syncing
/// it takes longer than the rest of a rollover, and a segment without one is only read
/// whole at the next open. The engine says when each is finished: after a later write
/// (single_thread), on the compaction thread (thread_safe), at close() when still
/// pending, never for a segment retired first (its .tmp is removed). A hint only speeds
/// up the next open, so failing to write one is no error: that segment goes without.
///
/// Its callers hold the engine's write gate; it takes the engine's exclusive lock to
/// set a segment's hint_bytes and hint_covered, which stats() reads under the shared one.
/// The active segment's full blocks are written after a write, under the gate only.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "hint.hpp"
#include "segment.hpp"
#include "segment_files.hpp"

namespace kvforge::detail {

/// The hints of a log store's segments, written through files; Mutex is the engine's
/// reader-writer lock.
template <class IO, class Counter, class Mutex>
class hint_keeper {
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;
    using write_lock = std::unique_lock<Mutex>;

public:
    /// The hint of one segment on its way to disk: the entries gathered, and the .tmp
    /// their full blocks went to (open once the first did).
    struct gathered_hint {
        std::uint32_t id = 0;
        hint_builder entries;
        data_file<IO> file;
    };

    /// A closed segment waiting for its hint to be finished.
    struct pending_hint {
        segment_pointer in;
        gathered_hint hint;
    };

    hint_keeper(segment_files<IO, Counter>& files, Mutex& mutex) noexcept : files_(files), mutex_(mutex) {}

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, files_.codec_fingerprint(), in.file_id, in.records_start()};
    }

    /// Starts gathering the entries of `active`, the segment the writer now appends to.
    void start_active(const segment_type& active) {
        stop_active();
        active_.emplace(gathered_hint{active.id, hint_builder(identity(active)), {}});
    }
    /// Gathers nothing for the active segment (no options::write_hints, or read-only).
    void stop_active() noexcept {
        if (active_) give_up(*active_);
        active_.reset();
    }
    /// Goes on with the entries recovery gathered for `active`, the recovered active segment.
    void adopt_active(const segment_type& active, std::optional<hint_builder> recovered) {
        stop_active();
        if (recovered) active_.emplace(gathered_hint{active.id, std::move(*recovered), {}});
    }

    /// Lists a record of the active segment.
    void note(const hint_entry& entry) {
        if (active_) active_->entries.add(entry);
    }

    /// Writes the active segment's full blocks of entries to its hint's .tmp, after a
    /// write: a write() of a block into the page cache now and then, rather than the
    /// whole hint in memory until the segment closes. Should one fail, the segment goes
    /// without a hint.
    void write_full_blocks() noexcept {
        if (!active_ || !active_->entries.has_full_block()) return;
        bool written = false;
        try {
            written = write_blocks(*active_);
        } catch (const std::bad_alloc&) {
            // The write that called this succeeded all the same.
        }
        if (!written) stop_active();
    }

    /// Makes room for one more pending hint, so that close_active cannot throw.
    void reserve_pending() { pending_.reserve(pending_.size() + 1); }

    /// The active segment was closed: its entries, if any were gathered, wait for write_pending.
    void close_active(segment_pointer closed) {
        if (!active_) return;
        pending_.push_back({std::move(closed), std::move(*active_)});
        active_.reset();
    }

    /// How many closed segments wait for their hints.
    [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }

    /// Takes the oldest closed segment waiting for its hint (one waits), to write it
    /// with no lock held.
    [[nodiscard]] pending_hint take_oldest() {
        pending_hint taken = std::move(pending_.front());
        pending_.erase(pending_.begin());
        return taken;
    }

    /// Finishes a hint taken by take_oldest (best effort).
    void write_pending(pending_hint& taken) {
        try {
            finish_hint(*taken.in, taken.hint, taken.in->size);
        } catch (const std::bad_alloc&) {
            // Without a hint the segment is read whole at the next open.
            give_up(taken.hint);
        }
    }

    /// Finishes every hint still pending (close()).
    void write_pending_now() {
        for (pending_hint& waiting : pending_) write_pending(waiting);
        pending_.clear();
    }

    /// Forgets the pending hints of segments no longer in `segments` (compaction,
    /// clear): a retired segment gets no hint.
    void drop_retired(const segment_set<IO>& segments) {
        const auto retired = [&](const pending_hint& p) { return segments.find(p.in->id) != p.in.get(); };
        for (pending_hint& p : pending_) {
            if (retired(p)) give_up(p.hint);
        }
        std::erase_if(pending_, retired);
    }

    /// Finishes the hint of `active`, covering it up to end, unless the hint on disk
    /// already does; at close. The gathered entries are used up.
    void write_active(segment_type& active, std::uint64_t end) {
        if (!active_) return;
        gathered_hint hint = std::move(*active_);
        active_.reset();
        if (active.hint_covered == end) {
            give_up(hint);
            return;
        }
        try {
            finish_hint(active, hint, end);
        } catch (const std::bad_alloc&) {
            give_up(hint);
        }
    }

    /// Writes the hint of closed segment `in` from its gathered entries (best effort;
    /// compaction's outputs, whose hints are built in memory).
    void write_hint_of(segment_type& in, hint_builder& hint) {
        const std::vector<std::string_view> pieces = hint.finish(in.size);
        std::error_code ignored;
        if (!files_.write_file(store_file_name::hint(in.id), pieces, ignored)) return;
        const write_lock lock(mutex_);
        in.hint_bytes = total_size(pieces);
        in.hint_covered = in.size;
    }

    /// Forgets every entry gathered and every hint pending, and removes their .tmp files.
    void clear() noexcept {
        stop_active();
        for (pending_hint& p : pending_) give_up(p.hint);
        pending_.clear();
    }

private:
    [[nodiscard]] static std::uint64_t total_size(std::span<const std::string_view> pieces) noexcept {
        std::uint64_t total = 0;
        for (const std::string_view piece : pieces) total += piece.size();
        return total;
    }

    /// Writes the full blocks of hint's entries to its .tmp, which the first opens.
    bool write_blocks(gathered_hint& hint) {
        std::error_code ignored;
        if (!hint.file.is_open() && !files_.start_file(store_file_name::hint(hint.id), hint.file, ignored)) {
            return false;
        }
        while (hint.entries.has_full_block()) {
            if (!files_.write_counted(hint.file, hint.entries.handed_out(), hint.entries.full_block(), ignored)) {
                return false;
            }
            hint.entries.release_full_block();
        }
        return true;
    }

    /// Writes the rest of the hint of `in`, covering it up to end: its last blocks, the
    /// counts at the head of its body (its first block went out without them), then
    /// sync and rename. On failure its .tmp is removed.
    void finish_hint(segment_type& in, gathered_hint& hint, std::uint64_t end) {
        const std::vector<std::string_view> rest = hint.entries.finish(end);
        std::error_code ignored;
        const store_file_name name = store_file_name::hint(hint.id);
        std::uint64_t at = hint.entries.handed_out();
        bool written = (hint.file.is_open() || files_.start_file(name, hint.file, ignored)) &&
                       files_.write_pieces(hint.file, at, rest, ignored);
        if (hint.entries.handed_out() > 0) {
            written = written && files_.write_counted(hint.file, file_header::size, hint.entries.counts(), ignored);
        }
        written = written && files_.finish_file(name, hint.file, ignored);
        if (!written) {
            give_up(hint);
            return;
        }
        hint.file.close();
        const write_lock lock(mutex_);
        in.hint_bytes = at;
        in.hint_covered = end;
    }

    /// Closes and removes the .tmp of a hint given up, if one was started.
    void give_up(gathered_hint& hint) noexcept {
        if (!hint.file.is_open()) return;
        hint.file.close();
        try {
            files_.remove_unfinished(store_file_name::hint(hint.id));
        } catch (const std::bad_alloc&) {
            // Its name could not be made: the next open removes it, as every .tmp.
        }
    }

    segment_files<IO, Counter>& files_;
    Mutex& mutex_;
    // Empty without options::write_hints (and once the hint was written from them).
    std::optional<gathered_hint> active_;
    std::vector<pending_hint> pending_;  // oldest first
};

}  // namespace kvforge::detail
