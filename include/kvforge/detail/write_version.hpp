#pragma once
/// \file write_version.hpp
/// A store's write version: a number that every change of its contents moves on, so
/// that a scan can tell whether the records it read ahead may be stale.

#include <atomic>
#include <cstdint>

namespace kvforge::detail {

/// The write version of a store; bumped under the store's exclusive lock, read without
/// any lock. Concurrent stores publish it with release and read it with acquire, so a
/// reader that sees an unchanged version read its records after the last change before it.
template <bool Concurrent>
class write_version {
public:
    void bump() noexcept { value_.fetch_add(1, std::memory_order_release); }
    [[nodiscard]] std::uint64_t load() const noexcept { return value_.load(std::memory_order_acquire); }

private:
    std::atomic<std::uint64_t> value_{0};
};

/// A store used by one thread at a time needs no atomic.
template <>
class write_version<false> {
public:
    void bump() noexcept { ++value_; }
    [[nodiscard]] std::uint64_t load() const noexcept { return value_; }

private:
    std::uint64_t value_ = 0;
};

}  // namespace kvforge::detail
