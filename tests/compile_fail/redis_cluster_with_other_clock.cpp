// expect: kvforge::redis_cluster keeps deadlines as the keys' own expiry
#include <chrono>
#include <cstdint>
#include <string_view>
#include <kvforge/kvforge.hpp>
#include <kvforge/stores/redis_cluster.hpp>
struct tick_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::milliseconds;
    using time_point = std::chrono::time_point<tick_clock>;
    static constexpr bool is_steady = false;
    static constexpr std::string_view name = "tick_clock";
    static time_point now() noexcept { return time_point{}; }
};
kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::expiring<tick_clock>> db;
