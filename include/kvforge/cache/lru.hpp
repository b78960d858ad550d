#pragma once
/// \file lru.hpp
/// kvforge::lru: least recently used eviction with lazy promotion (CLOCK).

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

#include "../concepts.hpp"
#include "key_queue.hpp"

namespace kvforge {

/// Eviction policy: LRU with lazy promotion, as CLOCK does it. Entries wait in one queue
/// in the order they came; a read only sets the entry's mark to 1 (one relaxed store, no
/// lock, no list surgery). When room is needed the oldest entry is looked at: if it was
/// read since it was last looked at, its mark is cleared and it goes to the back of the
/// queue; otherwise it is evicted. So an entry read once in a full turn of the queue
/// stays, and the evicted entry is one not read for a whole turn: the classic
/// approximation of LRU, which reorders entries only when evicting.
///
/// Metadata per entry: the mark and a 4-byte ticket in the index (5 bytes, which every
/// eviction policy pays), and a queue record of 8 bytes plus a copy of the key, since the
/// queue must name the entry it evicts. This is also the reference for writing an
/// eviction policy (see kvforge::eviction_policy).
class lru {
public:
    static constexpr std::string_view name = "lru";

    /// A read marks the entry as read since it was last looked at.
    [[nodiscard]] static constexpr std::uint8_t touch(std::uint8_t) noexcept { return 1; }

    /// A new entry goes to the back of the queue, not yet read.
    std::uint8_t admit(std::string_view key, entry_ticket ticket) {
        queue_.push(ticket, key);
        ++live_;
        return 0;
    }

    /// An erased entry's record stays queued until it reaches the front (or
    /// shrink_to_fit), where it is recognised as gone and dropped.
    void forget(std::uint8_t) noexcept { --live_; }

    /// Gives a second chance to the front entries read since they were last looked at,
    /// and evicts the first that was not. Ends within one turn of the queue, since every
    /// entry it passes over has its mark cleared.
    std::string_view evict(const cache_entries& entries) {
        for (;;) {
            const detail::key_queue::record front = queue_.pop();
            std::uint8_t* mark = entries.mark(front.key, front.ticket);
            if (mark == nullptr) continue;  // erased since it was queued
            if (*mark != 0 && requeue(front)) {
                *mark = 0;
                continue;
            }
            --live_;
            return front.key;
        }
    }

    /// Drops the records of erased entries, if any, and packs the queue.
    void shrink_to_fit(const cache_entries& entries) {
        if (queue_.size() > live_) {
            queue_.retain([&](entry_ticket ticket, std::string_view key) { return entries.mark(key, ticket) != nullptr; });
        } else {
            queue_.shrink_to_fit();
        }
    }

    [[nodiscard]] std::size_t memory_usage() const noexcept { return queue_.memory_usage(); }

    void clear() noexcept {
        queue_.clear();
        live_ = 0;
    }

private:
    /// Moves a popped record to the back; false when there is no memory for it, and the
    /// entry is evicted instead, which keeps every entry held queued.
    bool requeue(const detail::key_queue::record& r) noexcept {
        try {
            queue_.push(r.ticket, r.key);
            return true;
        } catch (const std::bad_alloc&) {
            return false;
        }
    }

    detail::key_queue queue_;
    std::size_t live_ = 0;  ///< entries admitted and not yet gone; the queue may hold more records
};

static_assert(eviction_policy<lru>);

}  // namespace kvforge
