#pragma once
// A clock that tests move by hand, for expiring stores: time stands still until
// advance() or set() moves it, so no test waits for a deadline. Its time belongs to the
// process, not to a store: a store closed and reopened (or a child process forked) sees
// the time where the test left it. Its name lets file stores record it in their MANIFEST.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace kvforge_test {

struct test_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<test_clock>;
    static constexpr bool is_steady = false;
    static constexpr std::string_view name = "test_clock";

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
