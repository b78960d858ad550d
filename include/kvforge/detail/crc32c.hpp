#pragma once
/// \file crc32c.hpp
/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of
/// every record and file header.
///
/// On x86-64 CPUs with SSE 4.2 the crc32 instruction computes it eight bytes at a
/// time; elsewhere a slicing-by-8 table does. Both give the same values; the check
/// value of "123456789" is 0xE3069283.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "byte_order.hpp"

// The compilers' builtins for the crc32 instruction rather than <nmmintrin.h>, which
// brings every SSE header with it into each file that includes kvforge.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KVFORGE_CRC32C_HW 1
#endif

namespace kvforge::detail {

/// Eight 256-entry tables: table[k][b] is the CRC of byte b followed by k zero bytes.
inline constexpr auto crc32c_tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        t[0][b] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k) {
        for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
    return t;
}();

/// Continues a CRC-32C over more bytes with the portable tables.
[[nodiscard]] inline std::uint32_t crc32c_extend_portable(std::uint32_t crc, const unsigned char* p,
                                                          std::size_t n) noexcept {
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        const std::uint64_t word = load_unaligned<std::uint64_t>(p) ^ crc;
        crc = crc32c_tables[7][word & 0xff] ^ crc32c_tables[6][(word >> 8) & 0xff] ^
              crc32c_tables[5][(word >> 16) & 0xff] ^ crc32c_tables[4][(word >> 24) & 0xff] ^
              crc32c_tables[3][(word >> 32) & 0xff] ^ crc32c_tables[2][(word >> 40) & 0xff] ^
              crc32c_tables[1][(word >> 48) & 0xff] ^ crc32c_tables[0][word >> 56];
    }
    while (n-- > 0) crc = (crc >> 8) ^ crc32c_tables[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#ifdef KVFORGE_CRC32C_HW
/// Continues a CRC-32C with the SSE 4.2 crc32 instruction.
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_extend_hardware(std::uint32_t crc, const unsigned char* p,
                                                                      std::size_t n) noexcept {
    std::uint64_t state = ~crc;
    for (; n >= 8; n -= 8, p += 8) state = __builtin_ia32_crc32di(state, load_unaligned<std::uint64_t>(p));
    auto state32 = static_cast<std::uint32_t>(state);
    while (n-- > 0) state32 = __builtin_ia32_crc32qi(state32, *p++);
    return ~state32;
}
#endif

/// Continues crc (the CRC-32C of earlier bytes, 0 for none) over bytes.
[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
#ifdef KVFORGE_CRC32C_HW
    static const bool hardware = __builtin_cpu_supports("sse4.2");
    if (hardware) return crc32c_extend_hardware(crc, p, bytes.size());
#endif
    return crc32c_extend_portable(crc, p, bytes.size());
}

/// The CRC-32C of bytes.
[[nodiscard]] inline std::uint32_t crc32c(std::string_view bytes) noexcept { return crc32c_extend(0, bytes); }

namespace crc32c_polynomials {

/// a times b modulo the CRC's polynomial, both in the reflected order of a CRC (bit 31
/// is the coefficient of x^0, bit 0 that of x^31).
[[nodiscard]] constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t product = 0;
    for (std::uint32_t term = 0x80000000u; term != 0; term >>= 1) {
        if ((a & term) != 0) product ^= b;
        b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1u)));  // b times x, reduced
    }
    return product;
}

/// x^(8 n) modulo the polynomial: what n bytes further on does to a CRC's register.
[[nodiscard]] constexpr std::uint32_t shift_by_bytes(std::uint64_t n) noexcept {
    std::uint32_t result = 0x80000000u;  // x^0
    std::uint32_t power = 0x00800000u;   // x^8
    for (; n != 0; n >>= 1) {
        if ((n & 1u) != 0) result = multiply(result, power);
        power = multiply(power, power);
    }
    return result;
}

}  // namespace crc32c_polynomials

/// The CRC-32C of the bytes of `first` followed by those of `second`, from the CRC of each
/// and the size of the second: for bytes whose start is known only after the rest was
/// checksummed (a hint's counts, written last at the head of its body).
[[nodiscard]] constexpr std::uint32_t crc32c_combine(std::uint32_t first, std::uint32_t second,
                                                     std::uint64_t second_size) noexcept {
    return crc32c_polynomials::multiply(crc32c_polynomials::shift_by_bytes(second_size), first) ^ second;
}

}  // namespace kvforge::detail
