// A batch written to a bounded cache is all or nothing: one that could not be held whole
// is refused (errc::value_too_large) with the cache unchanged, and one that can stays
// whole once written, the cache evicting other entries, never the batch's own.

#include <catch2/catch.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <system_error>

#include <kvforge/kvforge.hpp>

#include "../support/fifo_eviction.hpp"

namespace {

using cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
using lru_cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<kvforge::lru>>;
using fifo_cache_t =
    kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<kvforge_test::fifo_eviction>>;

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

// A batch that puts the entries the policy would evict first has the policy pick them while
// they are protected; they are admitted again when the batch ends, and the memory of the
// policy's new records must be within the budget too.
TEMPLATE_TEST_CASE("a batch over the entries held longest leaves the memory within the budget", "[cache][batch]",
                   cache_t, lru_cache_t, fifo_cache_t) {
    constexpr std::uint64_t small_budget = 64 << 10;
    TestType cache{kvforge::options{.memory_budget = small_budget}};
    std::deque<std::string> written;  // keys in the order they were first put
    int next = 0;
    for (; next < 2000; ++next) {
        written.push_back(key_of("k", next));
        cache.put(written.back(), std::string(40, 'v'));
    }
    REQUIRE(cache.stats().evictions > 0);
    for (int round = 0; round < 300; ++round) {
        INFO("round " << round);
        kvforge::batch<std::string, std::string> b;
        int overwritten = 0;
        for (auto it = written.begin(); it != written.end() && overwritten < 20;) {
            if (!cache.contains(*it)) {
                it = written.erase(it);
                continue;
            }
            b.put(*it, std::string(40 + round % 60, 'o'));
            ++overwritten;
            ++it;
        }
        for (int i = 0; i < 5; ++i, ++next) {
            written.push_back(key_of("k", next));
            b.put(written.back(), std::string(40, 'n'));
        }
        cache.write(b);
        REQUIRE(cache.stats().memory_bytes <= small_budget);
    }
}
