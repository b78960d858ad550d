#pragma once
/// \file hash_slot.hpp
/// The Redis Cluster hash slot of a key, as the cluster specification defines it: CRC16
/// (the XMODEM variant) of the key's hash tag, or of the whole key, modulo 16384.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kvforge::detail::redis {

/// The number of hash slots a Redis Cluster divides its keys into.
inline constexpr std::uint16_t slot_count = 16384;

/// CRC16 by table, a byte at a time: polynomial 0x1021, initial value 0, bits not
/// reflected, no final xor (CRC-16/XMODEM, the variant the cluster specification names).
inline constexpr std::array<std::uint16_t, 256> crc16_table = [] {
    std::array<std::uint16_t, 256> table{};
    for (std::size_t byte = 0; byte < table.size(); ++byte) {
        auto crc = static_cast<std::uint16_t>(byte << 8);
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000U) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021U)
                                       : static_cast<std::uint16_t>(crc << 1);
        }
        table[byte] = crc;
    }
    return table;
}();

/// CRC-16/XMODEM of bytes ("123456789" gives 0x31C3).
[[nodiscard]] constexpr std::uint16_t crc16(std::string_view bytes) noexcept {
    std::uint16_t crc = 0;
    for (const char c : bytes) {
        const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
        crc = static_cast<std::uint16_t>((crc << 8) ^ crc16_table[index]);
    }
    return crc;
}

/// The bytes of key that choose its slot: those between the first '{' and the first '}'
/// after it when there are any, else the whole key ("{user1}.a" and "{user1}.b" share
/// "user1"; "{}x" has an empty tag, so the whole key counts).
[[nodiscard]] constexpr std::string_view hashed_part(std::string_view key) noexcept {
    const std::size_t open = key.find('{');
    if (open == std::string_view::npos) return key;
    const std::size_t close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

/// The hash slot of key, 0 to 16383.
[[nodiscard]] constexpr std::uint16_t hash_slot(std::string_view key) noexcept {
    return static_cast<std::uint16_t>(crc16(hashed_part(key)) % slot_count);
}

}  // namespace kvforge::detail::redis
