#pragma once
/// \file segment_list_keeper.hpp
/// A writable log store's list of segments between writes of SEGMENTS (segment_list.hpp):
/// the segments in place, and whether the file on disk is out of date.
///
/// The rollover, the compaction thread and hint writes change it, each under a lock of its
/// own, so it takes a lock of its own for its changes (never held over a write), and
/// another that keeps its writes one at a time: each write is of the list as it stands
/// when the write starts, so that none can bring back a segment taken off before it.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "segment_list.hpp"

namespace kvforge::detail {

class segment_list_keeper {
public:
    /// Takes the segments a writable open found as the list; on_disk is what SEGMENTS held
    /// (none: no such file), so that an open whose list is up to date writes none.
    void adopt(std::vector<listed_segment> found, const std::optional<segment_list>& on_disk) {
        sort_by_id(found);
        const std::lock_guard lock(mutex_);
        kept_ = true;
        changes_ += 1;
        written_ = on_disk && on_disk->segments == found ? changes_ : 0;
        list_.segments = std::move(found);
        note_state();
    }

    /// Nothing is kept, or written, until the next adopt (a closed store, a read-only one).
    void stop() {
        const std::lock_guard lock(mutex_);
        kept_ = false;
        list_.segments.clear();
        note_state();
    }

    void add(const listed_segment& added) {
        const std::lock_guard lock(mutex_);
        if (list_.add(added)) changes_ += 1;
        note_state();
    }

    void remove(const std::vector<std::uint32_t>& ids) {
        const std::lock_guard lock(mutex_);
        for (const std::uint32_t id : ids) {
            if (list_.remove(id)) changes_ += 1;
        }
        note_state();
    }

    /// Whether the list changed since its last write that succeeded. Read after every
    /// write of the store's, so it takes no lock.
    [[nodiscard]] bool out_of_date() const noexcept { return out_of_date_.load(std::memory_order_relaxed); }

    /// Writes the list's bytes through write(bytes, ec) when it changed since the last
    /// write that succeeded; true when the file is up to date.
    template <class Write>
    bool write_if_changed(Write&& write, std::error_code& ec) {
        const std::lock_guard writing(writing_);
        std::string bytes;
        std::uint64_t changes = 0;
        {
            const std::lock_guard lock(mutex_);
            if (!kept_ || written_ == changes_) return true;
            bytes = list_.encode();
            changes = changes_;
        }
        if (!write(std::string_view(bytes), ec)) return false;
        const std::lock_guard lock(mutex_);
        written_ = changes;
        note_state();
        return true;
    }

private:
    /// With mutex_ held, after a change.
    void note_state() noexcept { out_of_date_.store(kept_ && written_ != changes_, std::memory_order_relaxed); }

    std::mutex mutex_;
    std::mutex writing_;
    bool kept_ = false;         ///< a writable open adopted the list
    segment_list list_;         ///< the segments in place, as the next write names them
    std::uint64_t changes_ = 0;  ///< changes made to list_
    std::uint64_t written_ = 0;  ///< changes_ as of the last list written
    std::atomic<bool> out_of_date_{false};
};

}  // namespace kvforge::detail
