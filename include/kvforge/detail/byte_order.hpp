#pragma once
/// \file byte_order.hpp
/// Unaligned loads and stores, big-endian encodings and LEB128 varints.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvforge::detail {

/// Reads a T from possibly unaligned memory.
template <class T>
[[nodiscard]] inline T load_unaligned(const void* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

/// Writes a T to possibly unaligned memory.
template <class T>
inline void store_unaligned(void* p, T v) noexcept {
    std::memcpy(p, &v, sizeof(T));
}

/// Reverses the bytes of a 1, 2, 4 or 8 byte unsigned integer; one instruction.
template <class U>
[[nodiscard]] constexpr U byteswap(U v) noexcept {
    if constexpr (sizeof(U) == 1) {
        return v;
    } else if constexpr (sizeof(U) == 2) {
        return __builtin_bswap16(v);
    } else if constexpr (sizeof(U) == 4) {
        return __builtin_bswap32(v);
    } else {
        static_assert(sizeof(U) == 8);
        return __builtin_bswap64(v);
    }
}

/// Converts between host order and big-endian (memcmp order).
template <class U>
[[nodiscard]] constexpr U to_big_endian(U v) noexcept {
    if constexpr (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
        return v;
    } else {
        return byteswap(v);
    }
}

/// Converts between host order and little-endian, the byte order of kvforge's files.
template <class U>
[[nodiscard]] constexpr U to_little_endian(U v) noexcept {
    if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        return v;
    } else {
        return byteswap(v);
    }
}

/// Reads up to 8 bytes as a big-endian number, padding short input with zero bytes,
/// so that comparing the results orders byte strings as memcmp does on their first 8 bytes.
[[nodiscard]] inline std::uint64_t load_prefix_be(const char* p, std::size_t n) noexcept {
    unsigned char buf[8] = {};
    if (n > 0) std::memcpy(buf, p, n < 8 ? n : 8);
    return to_big_endian(load_unaligned<std::uint64_t>(buf));
}

/// The largest encoding of a 64-bit varint.
inline constexpr std::size_t max_varint_size = 10;

/// Writes v as an LEB128 varint; returns the byte past the last one written.
inline char* put_varint(char* out, std::uint64_t v) noexcept {
    while (v >= 0x80) {
        *out++ = static_cast<char>(v | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<char>(v);
    return out;
}

/// The number of bytes put_varint writes for v.
[[nodiscard]] constexpr std::size_t varint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

/// Reads an LEB128 varint from [p, end); returns nullptr when it is truncated or overlong.
inline const char* get_varint(const char* p, const char* end, std::uint64_t& v) noexcept {
    std::uint64_t result = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
        const auto byte = static_cast<unsigned char>(*p++);
        result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            v = result;
            return p;
        }
    }
    return nullptr;
}

}  // namespace kvforge::detail
