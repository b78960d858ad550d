// A bounded store's population limit recovers after a phase of small entries.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

TEST_CASE("a bounded store fills its budget again after a phase of small entries", "[cache][bounded]") {
    constexpr std::uint64_t budget = 2 << 20;
    kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>> cache{
        kvforge::options{.memory_budget = budget}};
    const std::string value(100, 'v');
    std::uint64_t next = 0;
    const auto put = [&](const std::string& v) { cache.put("key/" + std::to_string(next++), v); };
    for (std::uint64_t i = 0; i < budget / 100; ++i) put(value);
    const std::size_t fresh = cache.size();
    REQUIRE(cache.stats().evictions > 0);

    // Small entries: many more of them fit, and their slots weigh more per byte held.
    for (int i = 0; i < 200000; ++i) put("s");
    // Entries of the first size again: the cache holds about as many as when fresh.
    for (int i = 0; i < 200000; ++i) put(value);
    const kvforge::stats s = cache.stats();
    INFO("fresh " << fresh << ", now " << cache.size() << ", memory " << s.memory_bytes);
    CHECK(s.memory_bytes <= budget);
    CHECK(cache.size() >= fresh * 9 / 10);
    CHECK(s.memory_bytes > budget * 7 / 8);
}
