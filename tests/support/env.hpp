#pragma once
// Settings the long versions of the tests read from the environment.

#include <cstdint>
#include <cstdlib>

namespace kvforge_test {

/// The number in the environment variable name, or fallback when it is not set.
inline std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* text = std::getenv(name);
    return text != nullptr ? std::strtoull(text, nullptr, 10) : fallback;
}

}  // namespace kvforge_test
