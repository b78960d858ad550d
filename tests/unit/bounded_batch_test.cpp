// A batch written to a bounded cache is all or nothing: one that could not be held whole
// is refused (errc::value_too_large) with the cache unchanged, and one that can stays
// whole once written, the cache evicting other entries, never the batch's own.

#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include <kvforge/kvforge.hpp>

namespace {

using cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
using lru_cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<kvforge::lru>>;

constexpr std::uint64_t budget = 1 << 20;
const std::string big(100 << 10, 'b');

std::string key_of(const char* prefix, int i) { return prefix + std::to_string(i); }

}  // namespace

TEMPLATE_TEST_CASE("a batch a bounded cache cannot hold whole is refused, the cache unchanged", "[cache][batch]",
                   cache_t, lru_cache_t) {
    TestType cache{kvforge::options{.memory_budget = budget}};
    for (int i = 0; i < 20; ++i) cache.put(key_of("small", i), "value");
    const kvforge::stats before = cache.stats();

    kvforge::batch<std::string, std::string> b;
    for (int i = 0; i < 50; ++i) b.put(key_of("big", i), big);  // 5 MB into 1 MiB
    SECTION("the throwing form") {
        try {
            cache.write(b);
            FAIL("the batch was written");
        } catch (const kvforge::error& e) {
            CHECK(e.code() == kvforge::errc::value_too_large);
        }
    }
    SECTION("the error_code form") {
        std::error_code ec;
        cache.write(b, ec);
        CHECK(ec == kvforge::errc::value_too_large);
    }
    CHECK(cache.size() == 20);
    for (int i = 0; i < 20; ++i) CHECK(cache.get(key_of("small", i)) == "value");
    for (int i = 0; i < 50; ++i) CHECK_FALSE(cache.contains(key_of("big", i)));
    const kvforge::stats after = cache.stats();
    CHECK(after.puts == before.puts);
    CHECK(after.evictions == before.evictions);
    CHECK(after.batches == before.batches);
}

TEMPLATE_TEST_CASE("a batch that fits stays whole after it is written, others evicted", "[cache][batch]", cache_t,
                   lru_cache_t) {
    TestType cache{kvforge::options{.memory_budget = budget}};
    for (int i = 0; i < 8; ++i) cache.put(key_of("old", i), big);  // most of the budget
    kvforge::batch<std::string, std::string> b;
    for (int i = 0; i < 5; ++i) b.put(key_of("new", i), big);
    b.put("erased", "x");
    b.erase("erased");
    b.put(key_of("new", 0), big + "!");  // the last put of a key is what stays
    cache.write(b);
    for (int i = 1; i < 5; ++i) CHECK(cache.get(key_of("new", i)) == big);
    CHECK(cache.get(key_of("new", 0)) == big + "!");
    CHECK_FALSE(cache.contains("erased"));
    const kvforge::stats s = cache.stats();
    CHECK(s.evictions > 0);
    CHECK(s.memory_bytes <= budget);
    // The batch's entries are ordinary entries afterwards: later puts may evict them.
    for (int i = 0; i < 30; ++i) cache.put(key_of("later", i), big);
    CHECK(cache.stats().memory_bytes <= budget);
    CHECK(cache.size() < 12);
}
