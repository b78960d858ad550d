#pragma once
/// \file thread_safe.hpp
/// kvforge::thread_safe: concurrent readers and writers on one store.

#include <atomic>
#include <cstddef>
#include <shared_mutex>

#include "../concepts.hpp"

namespace kvforge {

namespace detail {

/// A counter that concurrent readers bump; relaxed, since statistics order nothing.
class atomic_counter {
public:
    void add(std::size_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    [[nodiscard]] std::size_t load() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::size_t> value_{0};
};

}  // namespace detail

/// Threading policy: readers share the lock and run in parallel; writers take it alone.
struct thread_safe {
    using policy_kind = kvforge::policy_kind::threading;
    using mutex_type = std::shared_mutex;
    using counter_type = detail::atomic_counter;
    static constexpr bool concurrent = true;
};

static_assert(threading_policy<thread_safe>);

}  // namespace kvforge
