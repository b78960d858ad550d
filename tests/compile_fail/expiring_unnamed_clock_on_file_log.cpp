// expect: this clock has no name
#include <kvforge/kvforge.hpp>
struct unnamed_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<unnamed_clock>;
    static constexpr bool is_steady = false;
    static time_point now() noexcept { return time_point(duration(0)); }
};
int main() {
    kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::expiring<unnamed_clock>> db("unused");
}
