#pragma once
/// \file hash.hpp
/// A fast 64-bit hash of byte strings for the in-memory indexes.
///
/// Built on the multiply-fold step (the 128-bit product of two words, high half
/// xored into the low half), which mixes every input bit into every output bit in
/// one multiplication. Not a cryptographic hash: it needs only to spread keys well.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "byte_order.hpp"
#include "force_inline.hpp"

namespace kvforge::detail {

__extension__ using uint128 = unsigned __int128;

/// Multiplies two words and folds the 128-bit product back into 64 bits.
[[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
    const uint128 product = static_cast<uint128>(a) * b;
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

/// Hashes a byte string to 64 well-mixed bits. Each seed gives another hash function,
/// whose bits are unrelated to those of the others.
[[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) noexcept {
    // Odd constants with roughly half their bits set, taken from the digits of pi.
    constexpr std::uint64_t k0 = 0x243f6a8885a308d3ULL;
    constexpr std::uint64_t k1 = 0x13198a2e03707345ULL;
    constexpr std::uint64_t k2 = 0xa4093822299f31d1ULL;

    const char* p = bytes.data();
    std::size_t n = bytes.size();
    // The seed enters the state that every later step multiplies, so it changes every bit.
    std::uint64_t h = k0 ^ seed ^ fold_multiply(n ^ k1, k2);

    while (n > 16) {
        h = fold_multiply(load_unaligned<std::uint64_t>(p) ^ k1, load_unaligned<std::uint64_t>(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    // The last 1..16 bytes, read as two possibly overlapping words so no byte loop is needed.
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n >= 8) {
        a = load_unaligned<std::uint64_t>(p);
        b = load_unaligned<std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
        a = load_unaligned<std::uint32_t>(p);
        b = load_unaligned<std::uint32_t>(p + n - 4);
    } else if (n > 0) {
        const auto c0 = static_cast<unsigned char>(p[0]);
        const auto c1 = static_cast<unsigned char>(p[n / 2]);
        const auto c2 = static_cast<unsigned char>(p[n - 1]);
        a = (std::uint64_t{c0} << 16) | (std::uint64_t{c1} << 8) | c2;
    }
    return fold_multiply(h ^ a ^ k2, fold_multiply(b ^ k1, h ^ k0));
}

}  // namespace kvforge::detail
