#pragma once
/// \file hash_group.hpp
/// One group of hash_table: the probe metadata of 7 slots and the slots, in one cache line.
///
///   bytes 0..6    tags: 0 for an empty slot, else the top byte of the key's hash (0 taken as 1)
///   byte 7        overflow bits: bit (tag % 8) set once a key with such a tag went on past
///                 this group because it was full
///   bytes 8..63   7 slot words (see hash_table.hpp)
///
/// The metadata and the slots share one line so that one memory access brings both: a
/// lookup waits for the group, then for the record. (Groups of 14 slots in two lines,
/// with both lines requested at once, measured a third slower at a million keys: the
/// matching slot is in the second line half the time, and the extra line per lookup
/// costs more than the longer groups save.)
///
/// The tags are compared as one 64-bit word (SIMD within a register): portable, and
/// measured faster than an SSE2 compare, whose broadcast of the tag GCC builds through a
/// byte store and a wider load from the stack; that failed store forwarding stalled
/// each lookup long enough to halve how many run ahead at once.

#include <bit>
#include <cstdint>
#include <cstring>

namespace kvforge::detail {

struct alignas(64) hash_group {
    static constexpr unsigned width = 7;
    static constexpr std::uint8_t empty = 0;

    std::uint8_t tags[width];
    std::uint8_t overflow;
    std::uint64_t slots[width];

    /// The bit of `overflow` that stands for keys with this tag.
    [[nodiscard]] static std::uint8_t overflow_bit(std::uint8_t tag) noexcept {
        return static_cast<std::uint8_t>(1U << (tag & 7U));
    }

    /// A mask with bit 8i+7 set for each slot i whose tag equals tag (tag 0: the empty
    /// slots); take slots from it with first_slot() and drop_first().
    [[nodiscard]] std::uint64_t match(std::uint8_t tag) const noexcept {
        // The 8 metadata bytes as one word, compared with tag in every byte at once: a
        // byte of x is zero where they are equal, and the usual carry-free test turns
        // exactly those bytes into 0x80 (no false matches, unlike the shorter test).
        constexpr std::uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
        constexpr std::uint64_t tag_bytes = 0x00ffffffffffffffULL;  // the overflow byte is not a tag
        std::uint64_t word = 0;
        std::memcpy(&word, tags, sizeof word);
        const std::uint64_t x = word ^ (0x0101010101010101ULL * tag);
        return ~(((x & low7) + low7) | x | low7) & tag_bytes & 0x8080808080808080ULL;
    }
    /// The slot of the lowest bit of a match() mask (the mask must not be 0).
    [[nodiscard]] static unsigned first_slot(std::uint64_t matches) noexcept {
        return static_cast<unsigned>(std::countr_zero(matches)) / 8;
    }
    /// The mask without its lowest slot.
    [[nodiscard]] static std::uint64_t drop_first(std::uint64_t matches) noexcept { return matches & (matches - 1); }

    /// Asks the processor to start loading the group.
    void prefetch() const noexcept { __builtin_prefetch(this); }
};

static_assert(sizeof(hash_group) == 64, "a group is one cache line");

}  // namespace kvforge::detail
