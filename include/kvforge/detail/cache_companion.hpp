#pragma once
/// \file cache_companion.hpp
/// detail::cache_companion: how a bounded cache keeps a layer above it in step with the
/// entries it evicts (expiring.hpp over bounded.hpp).

#include <cstdint>
#include <string_view>

namespace kvforge::detail {

/// What a layer over a cache keeps for the entries the cache holds (the expiry layer's
/// deadline index), which the cache must keep in step: it is told of each entry the
/// cache evicts, with the entry's value, before the entry goes; its memory counts within
/// the cache's budget; and it gives back its spare memory when the cache reclaims its own.
struct cache_companion {
    void* context = nullptr;
    void (*evicted)(void* context, std::string_view key, std::string_view value) = nullptr;
    std::uint64_t (*memory_usage)(const void* context) noexcept = nullptr;
    void (*shrink_to_fit)(void* context) = nullptr;

    explicit operator bool() const noexcept { return context != nullptr; }
};

}  // namespace kvforge::detail
