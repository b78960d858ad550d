#pragma once
/// \file single_thread.hpp
/// kvforge::single_thread: no locks at all, for stores used by one thread at a time.

#include <cstddef>
#include <string_view>

#include "../concepts.hpp"

namespace kvforge {

namespace detail {

/// A mutex that does nothing; every call compiles away.
struct null_shared_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
    void lock_shared() noexcept {}
    void unlock_shared() noexcept {}
};

/// A plain counter for a store that only one thread touches.
class plain_counter {
public:
    void add(std::size_t n) noexcept { value_ += n; }
    [[nodiscard]] std::size_t load() const noexcept { return value_; }

private:
    std::size_t value_ = 0;
};

}  // namespace detail

/// Threading policy: no synchronisation. The reference for writing a threading policy.
struct single_thread {
    using policy_kind = kvforge::policy_kind::threading;
    static constexpr std::string_view name = "single_thread";
    static constexpr std::string_view short_name = "st";  ///< also accepted in a store spec
    using mutex_type = detail::null_shared_mutex;
    using counter_type = detail::plain_counter;
    static constexpr bool concurrent = false;
};

static_assert(threading_policy<single_thread>);

}  // namespace kvforge
