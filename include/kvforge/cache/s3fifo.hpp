#pragma once
/// \file s3fifo.hpp
/// kvforge::s3fifo: the scan-resistant eviction policy of "FIFO queues are all you need
/// for cache eviction" (Yang et al., SOSP 2023), kvforge's default.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>
#include <utility>

#include "../concepts.hpp"
#include "../detail/hash.hpp"
#include "key_queue.hpp"

namespace kvforge {

/// Eviction policy: S3-FIFO. Most entries of a skewed workload are read once, if ever,
/// after they come in; S3-FIFO drops those quickly and keeps the others long:
///
/// - a new entry goes to a small queue (a tenth of the entries), or straight to the
///   main queue when its key is in the ghost history (evicted from the small queue
///   recently, so it came back soon);
/// - a read raises the entry's mark, a frequency counter that stops at 3 (one relaxed
///   store, no lock);
/// - evicting from the small queue, while it holds a tenth of the entries or more: its
///   oldest entry moves to the main queue if it was read there, else it is evicted and
///   its key's fingerprint goes into the ghost history;
/// - evicting from the main queue: its oldest entry goes to the back with its counter
///   lowered by one if it was read, else it is evicted.
///
/// A one-pass scan thus passes through the small queue without displacing the main
/// queue's entries, which LRU would all evict in turn.
///
/// Metadata per entry: the mark and a 4-byte ticket in the index (5 bytes, which every
/// eviction policy pays), a queue record of 8 bytes plus a copy of the key, and the
/// ghost history: 2-byte fingerprints in a table of at least as many slots as entries
/// and at most twice as many (2 to 4 bytes per entry). The history is direct-mapped: a
/// fingerprint stays until another lands on its slot, so it remembers about as many
/// keys as the cache holds entries, the paper's size for it.
class s3fifo {
public:
    static constexpr std::string_view name = "s3fifo";

    /// A read raises the frequency, up to 3; the bit for "in the main queue" is kept.
    [[nodiscard]] static constexpr std::uint8_t touch(std::uint8_t mark) noexcept {
        return (mark & frequency_mask) == frequency_mask ? mark : static_cast<std::uint8_t>(mark + 1);
    }

    /// A new entry goes to the main queue when the ghost history remembers its key, else
    /// to the small queue.
    std::uint8_t admit(std::string_view key, entry_ticket ticket) {
        fit_ghost(small_count_ + main_count_ + 1);
        const std::uint64_t hash = detail::hash_bytes(key);
        if (ghost_remove(hash)) {
            main_.push(ticket, key);
            ++main_count_;
            return in_main;
        }
        small_.push(ticket, key);
        ++small_count_;
        return 0;
    }

    /// An erased entry leaves its queue's count now, and its record when it reaches the front.
    void forget(std::uint8_t mark) noexcept { --((mark & in_main) != 0 ? main_count_ : small_count_); }

    std::string_view evict(const cache_entries& entries) {
        for (;;) {
            // Each pass either evicts, moves an entry from the small queue to the main
            // one, or lowers a main entry's counter: it ends within four turns of the queues.
            const bool from_small = small_count_ > 0 && (main_count_ == 0 || small_count_ * 10 >= small_count_ + main_count_);
            detail::key_queue& queue = from_small ? small_ : main_;
            const detail::key_queue::record front = queue.pop();
            std::uint8_t* mark = entries.mark(front.key, front.ticket);
            if (mark == nullptr) continue;  // erased since it was queued
            const std::uint8_t frequency = *mark & frequency_mask;
            if (from_small) {
                if (frequency == 0) {
                    --small_count_;
                    ghost_add(detail::hash_bytes(front.key));
                    return front.key;
                }
                if (!requeue(main_, front)) {
                    --small_count_;
                    return front.key;
                }
                --small_count_;
                ++main_count_;
                *mark = static_cast<std::uint8_t>(in_main | (frequency - 1));
            } else {
                if (frequency == 0 || !requeue(main_, front)) {
                    --main_count_;
                    return front.key;
                }
                *mark = static_cast<std::uint8_t>(in_main | (frequency - 1));
            }
        }
    }

    /// Drops the records of erased entries, packs the queues and sizes the ghost history
    /// to the entries held.
    void shrink_to_fit(const cache_entries& entries) {
        const auto live = [&](entry_ticket ticket, std::string_view key) { return entries.mark(key, ticket) != nullptr; };
        for (auto [queue, count] : {std::pair{&small_, small_count_}, std::pair{&main_, main_count_}}) {
            if (queue->size() > count) {
                queue->retain(live);
            } else {
                queue->shrink_to_fit();
            }
        }
        const std::size_t wanted = ghost_slots_for(small_count_ + main_count_);
        if (wanted < ghost_slots_) resize_ghost(wanted);
    }

    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return small_.memory_usage() + main_.memory_usage() + ghost_slots_ * sizeof(std::uint16_t);
    }

    void clear() noexcept { *this = s3fifo{}; }

private:
    static constexpr std::uint8_t frequency_mask = 3;
    static constexpr std::uint8_t in_main = 0x80;
    static constexpr std::size_t min_ghost_slots = 64;

    /// Moves a popped record to the back of queue; false when there is no memory for it.
    static bool requeue(detail::key_queue& queue, const detail::key_queue::record& r) noexcept {
        try {
            queue.push(r.ticket, r.key);
            return true;
        } catch (const std::bad_alloc&) {
            return false;
        }
    }

    // The ghost history: a direct-mapped table of 16-bit fingerprints, 0 for an empty
    // slot. The slot comes from bits 16..47 of the key's hash and the fingerprint from
    // its top 16 bits, so the two are independent (the index tables use the low bits).
    [[nodiscard]] std::size_t ghost_slot(std::uint64_t hash) const noexcept { return (hash >> 16) & (ghost_slots_ - 1); }
    [[nodiscard]] static std::uint16_t fingerprint(std::uint64_t hash) noexcept {
        const auto f = static_cast<std::uint16_t>(hash >> 48);
        return f == 0 ? 1 : f;
    }

    void ghost_add(std::uint64_t hash) noexcept {
        if (ghost_slots_ != 0) ghost_[ghost_slot(hash)] = fingerprint(hash);
    }

    /// Whether the history remembers hash; forgets it if so.
    bool ghost_remove(std::uint64_t hash) noexcept {
        if (ghost_slots_ == 0) return false;
        std::uint16_t& slot = ghost_[ghost_slot(hash)];
        if (slot != fingerprint(hash)) return false;
        slot = 0;
        return true;
    }

    [[nodiscard]] static std::size_t ghost_slots_for(std::size_t entries) noexcept {
        std::size_t slots = min_ghost_slots;
        while (slots < entries) slots *= 2;
        return slots;
    }

    /// Grows the history (forgetting it: a slot's place depends on the table's size)
    /// when the cache holds more entries than it has slots.
    void fit_ghost(std::size_t entries) {
        if (entries > ghost_slots_) resize_ghost(ghost_slots_for(entries));
    }

    void resize_ghost(std::size_t slots) {
        ghost_ = std::make_unique<std::uint16_t[]>(slots);
        ghost_slots_ = slots;
    }

    detail::key_queue small_;
    detail::key_queue main_;
    std::size_t small_count_ = 0;  ///< entries in the small queue that have not gone
    std::size_t main_count_ = 0;   ///< entries in the main queue that have not gone
    std::unique_ptr<std::uint16_t[]> ghost_;
    std::size_t ghost_slots_ = 0;
};

static_assert(eviction_policy<s3fifo>);

}  // namespace kvforge
