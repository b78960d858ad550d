#pragma once
// Counts in messages: "1 damaged place", "2 damaged places".

#include <cstdint>
#include <string>
#include <string_view>

namespace kvforge_tool {

/// n and the noun, with an s unless n is 1.
[[nodiscard]] inline std::string count_of(std::uint64_t n, std::string_view noun) {
    return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

}  // namespace kvforge_tool
