#pragma once
/// \file hash_table.hpp
/// The open-addressing table behind kvforge::hash_index.
///
/// Each slot is one 64-bit word: probe distance + 1 in the top 8 bits (0 marks an
/// empty slot), 16 bits of the key's hash as a tag, and the 40-bit arena reference
/// of the (key, payload) record. Collisions are resolved by Robin Hood linear
/// probing, which keeps probe sequences short at a 0.8 load factor, and erase
/// shifts the following run back by one instead of leaving a tombstone, so erases
/// never degrade later lookups. A lookup touches the slot array and, when the tag
/// matches, one record in the arena: two cache misses for a hit, usually one for a miss.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "hash.hpp"
#include "record_arena.hpp"

namespace kvforge::detail {

/// An unordered map from byte-string keys to byte-string payloads.
class hash_table {
public:
    hash_table() = default;
    hash_table(hash_table&&) noexcept = default;
    hash_table& operator=(hash_table&&) noexcept = default;

    /// The payload stored for key, or nullopt. Never allocates.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (size_ == 0) return std::nullopt;
        const std::size_t pos = locate(key, hash_bytes(key));
        if (pos == npos) return std::nullopt;
        return arena_.view(slot_ref(slots_[pos])).payload;
    }

    /// Inserts key or replaces its payload, calling on_replace(old_payload) first when it
    /// existed. Returns true when the key is new.
    template <class OnReplace>
    bool upsert(std::string_view key, std::string_view payload, OnReplace&& on_replace) {
        const std::uint64_t hash = hash_bytes(key);
        if (size_ != 0) {
            const std::size_t pos = locate(key, hash);
            if (pos != npos) {
                const record_arena::ref old = slot_ref(slots_[pos]);
                on_replace(arena_.view(old).payload);
                if (!arena_.overwrite_payload(old, payload)) {
                    const record_arena::ref fresh = arena_.append(key, payload);
                    arena_.release(old);
                    slots_[pos] = (slots_[pos] & ~ref_mask) | fresh;
                    compact_arena_if_worthwhile();
                }
                return false;
            }
        }
        if (size_ + 1 > max_load()) grow();
        place(make_slot(1, hash, arena_.append(key, payload)));
        ++size_;
        return true;
    }

    /// Removes key, calling on_erase(old_payload) first. Returns whether it existed.
    template <class OnErase>
    bool erase(std::string_view key, OnErase&& on_erase) {
        if (size_ == 0) return false;
        std::size_t pos = locate(key, hash_bytes(key));
        if (pos == npos) return false;
        const record_arena::ref old = slot_ref(slots_[pos]);
        on_erase(arena_.view(old).payload);
        arena_.release(old);
        // Backward-shift deletion: pull each following displaced slot one step closer home.
        for (std::size_t next = (pos + 1) & mask_; slot_distance(slots_[next]) > 1; next = (next + 1) & mask_) {
            slots_[pos] = slots_[next] - distance_one;
            pos = next;
        }
        slots_[pos] = 0;
        --size_;
        if (size_ < capacity() / 8 && capacity() > min_capacity) rehash(capacity() / 4);
        compact_arena_if_worthwhile();
        return true;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// The number of slots; grows only when size() passes 80% of it.
    [[nodiscard]] std::size_t capacity() const noexcept { return slots_ ? mask_ + 1 : 0; }

    /// Makes room for count records without growing, e.g. before loading a known number.
    void reserve(std::size_t count) {
        std::size_t wanted = min_capacity;
        while (load_limit(wanted) < count) wanted *= 2;
        if (wanted > capacity()) rehash(wanted);
    }

    /// Drops every record and releases the memory.
    void clear() noexcept { *this = hash_table{}; }

    /// Gives back the memory of erased and replaced records now, rather than once they
    /// outweigh the live ones. If an allocation throws, the table is unchanged.
    void shrink_to_fit() {
        if (arena_.garbage_bytes() != 0) compact_arena();
    }

    /// Calls f(key, payload) for every record, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t i = 0; i < capacity(); ++i) {
            if (slots_[i] != 0) {
                const record_view v = arena_.view(slot_ref(slots_[i]));
                f(v.key, v.payload);
            }
        }
    }

    /// Bytes of heap memory held by the slots and the arena.
    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return capacity() * sizeof(std::uint64_t) + arena_.memory_usage();
    }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    static constexpr std::size_t min_capacity = 16;
    static constexpr unsigned distance_shift = 56;
    static constexpr std::uint64_t distance_one = std::uint64_t{1} << distance_shift;
    static constexpr std::uint64_t max_distance = 255;
    static constexpr std::uint64_t ref_mask = (std::uint64_t{1} << record_arena::ref_bits) - 1;
    static constexpr std::uint64_t tag_mask = 0xffffULL << record_arena::ref_bits;

    // The tag comes from the hash's top bits, the home slot from its low bits, so the two are independent.
    [[nodiscard]] static std::uint64_t tag_bits(std::uint64_t hash) noexcept {
        return (hash >> 48) << record_arena::ref_bits;
    }
    [[nodiscard]] static std::uint64_t make_slot(std::uint64_t distance, std::uint64_t hash,
                                                 record_arena::ref r) noexcept {
        return (distance << distance_shift) | tag_bits(hash) | r;
    }
    [[nodiscard]] static std::uint64_t slot_distance(std::uint64_t slot) noexcept { return slot >> distance_shift; }
    [[nodiscard]] static record_arena::ref slot_ref(std::uint64_t slot) noexcept { return slot & ref_mask; }

    /// The most records a table of capacity slots holds before it grows: 80%.
    [[nodiscard]] static std::size_t load_limit(std::size_t capacity) noexcept { return capacity / 5 * 4; }
    [[nodiscard]] std::size_t max_load() const noexcept { return load_limit(capacity()); }

    /// The slot holding key, or npos.
    [[nodiscard]] std::size_t locate(std::string_view key, std::uint64_t hash) const noexcept {
        const std::uint64_t tag = tag_bits(hash);
        std::size_t pos = hash & mask_;
        for (std::uint64_t distance = 1;; ++distance, pos = (pos + 1) & mask_) {
            const std::uint64_t slot = slots_[pos];
            // Robin Hood invariant: once a slot is closer to its home than we are to
            // ours (an empty slot has distance 0), the key cannot be further on.
            if (slot_distance(slot) < distance) return npos;
            if ((slot & tag_mask) == tag && arena_.view(slot_ref(slot)).key == key) return pos;
        }
    }

    /// Inserts a slot for a key known to be absent, displacing richer slots as it goes.
    void place(std::uint64_t slot) {
        std::size_t pos = hash_of(slot) & mask_;
        for (;;) {
            std::uint64_t& here = slots_[pos];
            if (here == 0) {
                here = slot;
                return;
            }
            if (slot_distance(here) < slot_distance(slot)) std::swap(here, slot);
            if (slot_distance(slot) == max_distance) {
                // A pathological cluster: grow, which re-derives every distance, then retry.
                grow();
                place(make_slot(1, hash_of(slot), slot_ref(slot)));
                return;
            }
            slot += distance_one;
            pos = (pos + 1) & mask_;
        }
    }

    [[nodiscard]] std::uint64_t hash_of(std::uint64_t slot) const noexcept {
        return hash_bytes(arena_.view(slot_ref(slot)).key);
    }

    void grow() { rehash(capacity() == 0 ? min_capacity : capacity() * 2); }

    /// Moves every slot into a table of new_capacity slots (a power of two); shrinking
    /// to a quarter when the table is an eighth full gives memory back after mass
    /// erases while leaving room for the table to grow again without thrashing.
    void rehash(std::size_t new_capacity) {
        const std::size_t old_capacity = capacity();
        std::unique_ptr<std::uint64_t[]> old = std::move(slots_);
        slots_ = std::make_unique<std::uint64_t[]>(new_capacity);
        mask_ = new_capacity - 1;
        // Each slot's home in the new table needs its key's hash, so every record is read
        // once, in slot order, which is random order in the arena. Prefetching a stretch
        // ahead overlaps those cache misses instead of taking them one at a time.
        constexpr std::size_t prefetch_distance = 16;
        for (std::size_t i = 0; i < old_capacity; ++i) {
            if (i + prefetch_distance < old_capacity && old[i + prefetch_distance] != 0) {
                arena_.prefetch(slot_ref(old[i + prefetch_distance]));
            }
            if (old[i] != 0) place(make_slot(1, hash_of(old[i]), slot_ref(old[i])));
        }
    }

    void compact_arena_if_worthwhile() {
        if (arena_.wants_compaction()) compact_arena();
    }

    void compact_arena() {
        arena_.compact([this](auto&& update) {
            for (std::size_t i = 0; i < capacity(); ++i) {
                if (slots_[i] == 0) continue;
                record_arena::ref r = slot_ref(slots_[i]);
                update(r);
                slots_[i] = (slots_[i] & ~ref_mask) | r;
            }
        });
    }

    std::unique_ptr<std::uint64_t[]> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
    record_arena arena_;
};

}  // namespace kvforge::detail
