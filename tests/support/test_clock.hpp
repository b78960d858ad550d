#pragma once
// A clock that tests move by hand, for expiring stores: time stands still until
// advance() or set() moves it, so no test waits for a deadline.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kvforge_test {

struct test_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<test_clock>;
    static constexpr bool is_steady = false;

    static time_point now() noexcept { return time_point(duration(ticks().load(std::memory_order_relaxed))); }
    static void advance(duration by) noexcept { ticks().fetch_add(by.count(), std::memory_order_relaxed); }
    static void set(time_point at) noexcept { ticks().store(at.time_since_epoch().count(), std::memory_order_relaxed); }

private:
    static std::atomic<rep>& ticks() noexcept {
        static std::atomic<rep> value{1'000'000};
        return value;
    }
};

}  // namespace kvforge_test
