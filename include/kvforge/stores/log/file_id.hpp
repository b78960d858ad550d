#pragma once
/// \file file_id.hpp
/// The random id written into the header of each new data file and repeated in its
/// hint file, so that a hint is used only for the exact file it describes.

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>

#include "../../detail/hash.hpp"

namespace kvforge::detail {

/// A new file id: never 0, which marks files of releases that wrote no id. The id
/// needs to differ from the ids of earlier files of the same store, not to be secret, so
/// it hashes the time, the process and a counter rather than paying for <random>.
[[nodiscard]] inline std::uint32_t new_file_id() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    timespec wall{};
    timespec steady{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    ::clock_gettime(CLOCK_MONOTONIC, &steady);
    const std::uint64_t parts[] = {static_cast<std::uint64_t>(wall.tv_sec), static_cast<std::uint64_t>(wall.tv_nsec),
                                   static_cast<std::uint64_t>(steady.tv_nsec), static_cast<std::uint64_t>(::getpid()),
                                   counter.fetch_add(1, std::memory_order_relaxed)};
    char bytes[sizeof parts];
    std::memcpy(bytes, parts, sizeof parts);
    const std::uint64_t hash = hash_bytes({bytes, sizeof bytes});
    const auto id = static_cast<std::uint32_t>(hash ^ (hash >> 32));
    return id != 0 ? id : 1;
}

}  // namespace kvforge::detail
