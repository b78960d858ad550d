#pragma once
/// \file same_bytes.hpp
/// Equality and order of two byte strings, inline for the short keys an index compares on
/// every hit and a merge of sorted sources on every step.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "byte_order.hpp"
#include "force_inline.hpp"

namespace kvforge::detail {

/// a == b. Strings of 8 to 16 bytes are compared as two words each (overlapping when
/// shorter than 16), with no call to memcmp: a lookup's key comparison is then a few
/// instructions rather than a call with its own dispatch on the size, and the fewer
/// instructions a lookup takes, the more lookups the processor runs ahead while the
/// earlier ones wait for memory.
[[nodiscard]] KVFORGE_FORCE_INLINE bool same_bytes(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8 || n > 16) return a == b;
    const char* x = a.data();
    const char* y = b.data();
    const std::uint64_t head = load_unaligned<std::uint64_t>(x) ^ load_unaligned<std::uint64_t>(y);
    const std::uint64_t tail = load_unaligned<std::uint64_t>(x + n - 8) ^ load_unaligned<std::uint64_t>(y + n - 8);
    return (head | tail) == 0;
}

/// a < b, as std::string_view orders them. Strings of 8 bytes or more that differ in their
/// first 8, as most keys of a merge do, are ordered by those as one big-endian word, with
/// no call to memcmp.
[[nodiscard]] KVFORGE_FORCE_INLINE bool bytes_before(std::string_view a, std::string_view b) noexcept {
    if (a.size() >= 8 && b.size() >= 8) {
        const std::uint64_t x = to_big_endian(load_unaligned<std::uint64_t>(a.data()));
        const std::uint64_t y = to_big_endian(load_unaligned<std::uint64_t>(b.data()));
        if (x != y) return x < y;
    }
    return a < b;
}

}  // namespace kvforge::detail
