#pragma once
/// \file hint_keeper.hpp
/// A log store's hints kept up to date: the entries of the active segment, gathered as
/// its records are appended, and the closed segments whose hints are still to be
/// written, each written (hint.hpp's format) through segment_files.hpp.
///
/// Writing a closed segment's hint is left out of the write that closed it: building
/// and syncing it takes longer than the rest of a rollover, and a segment without one
/// is only read whole at the next open. The engine says when each is written: after a
/// later write (single_thread), on the compaction thread (thread_safe), at close() when
/// still pending, never for a segment retired first. A hint only speeds up the next
/// open, so failing to write one is no error.
///
/// Its callers hold the engine's write gate; it takes the engine's exclusive lock to
/// set a segment's hint_bytes and hint_covered, which stats() reads under the shared one.

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
    /// A closed segment waiting for its hint, with the entries gathered for it.
    struct pending_hint {
        segment_pointer in;
        hint_builder entries;
    };

    hint_keeper(segment_files<IO, Counter>& files, Mutex& mutex) noexcept : files_(files), mutex_(mutex) {}

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, files_.codec_fingerprint(), in.file_id, in.records_start()};
    }

    /// Starts gathering the entries of `active`, the segment the writer now appends to.
    void start_active(const segment_type& active) { active_.emplace(identity(active)); }
    /// Gathers nothing for the active segment (no options::write_hints, or read-only).
    void stop_active() noexcept { active_.reset(); }
    /// Goes on with the entries recovery gathered for the active segment.
    void adopt_active(std::optional<hint_builder> recovered) { active_ = std::move(recovered); }

    /// Lists a record of the active segment.
    void note(const hint_entry& entry) {
        if (active_) active_->add(entry);
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

    /// Writes a hint taken by take_oldest (best effort).
    void write_pending(pending_hint& taken) {
        try {
            write_hint_of(*taken.in, taken.entries);
        } catch (const std::bad_alloc&) {
            // Without a hint the segment is read whole at the next open.
        }
    }

    /// Writes every hint still pending (close()).
    void write_pending_now() {
        for (pending_hint& waiting : pending_) write_hint_of(*waiting.in, waiting.entries);
        pending_.clear();
    }

    /// Forgets the pending hints of segments no longer in `segments` (compaction,
    /// clear): a retired segment gets no hint.
    void drop_retired(const segment_set<IO>& segments) {
        std::erase_if(pending_, [&](const pending_hint& p) { return segments.find(p.in->id) != p.in.get(); });
    }

    /// Writes the hint of `active`, covering it up to end, unless the hint on disk
    /// already does; at close. The gathered entries are used up.
    void write_active(segment_type& active, std::uint64_t end) {
        if (active.hint_covered == end || !active_) return;
        const std::vector<std::string_view> pieces = active_->finish(end);
        std::error_code ignored;
        const bool written = files_.write_file(store_file_name::hint(active.id), pieces, ignored);
        active_.reset();
        if (!written) return;
        const write_lock lock(mutex_);
        active.hint_bytes = total_size(pieces);
        active.hint_covered = end;
    }

    /// Writes the hint of closed segment `in` from its gathered entries (best effort).
    void write_hint_of(segment_type& in, hint_builder& hint) {
        const std::vector<std::string_view> pieces = hint.finish(in.size);
        std::error_code ignored;
        if (!files_.write_file(store_file_name::hint(in.id), pieces, ignored)) return;
        const write_lock lock(mutex_);
        in.hint_bytes = total_size(pieces);
        in.hint_covered = in.size;
    }

    /// Forgets every entry gathered and every hint pending.
    void clear() noexcept {
        active_.reset();
        pending_.clear();
    }

private:
    [[nodiscard]] static std::uint64_t total_size(std::span<const std::string_view> pieces) noexcept {
        std::uint64_t total = 0;
        for (const std::string_view piece : pieces) total += piece.size();
        return total;
    }

    segment_files<IO, Counter>& files_;
    Mutex& mutex_;
    // Empty without options::write_hints (and once the hint was written from them).
    std::optional<hint_builder> active_;
    std::vector<pending_hint> pending_;  // oldest first
};

}  // namespace kvforge::detail
