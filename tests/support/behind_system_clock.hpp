#pragma once
// std::chrono::system_clock an hour behind, under system_clock's name and tick: a store
// written with expiring<behind_system_clock> opens as one written with expiring<>, and a
// deadline it sets less than an hour ahead has already passed for system_clock. How a
// test makes expired keys of an `expiring` store without waiting for a deadline.

#include <chrono>
#include <string_view>

namespace kvforge_test {

struct behind_system_clock {
    using rep = std::chrono::system_clock::rep;
    using period = std::chrono::system_clock::period;
    using duration = std::chrono::system_clock::duration;
    using time_point = std::chrono::time_point<behind_system_clock>;
    static constexpr bool is_steady = false;
    static constexpr std::string_view name = "system_clock";
    static constexpr std::chrono::hours behind{1};

    static time_point now() noexcept {
        return time_point(std::chrono::system_clock::now().time_since_epoch() - behind);
    }
};

}  // namespace kvforge_test
