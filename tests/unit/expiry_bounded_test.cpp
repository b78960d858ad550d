// A bounded cache with expiry: the cache tells the expiry layer each key it evicts, so the
// deadline index holds only keys the cache holds, counts within the memory budget, and a
// purge never removes a key put again without a deadline; size() never wraps.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <kvforge/kvforge.hpp>

#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::test_clock;

namespace {

using expiring_cache =
    kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>, kvforge::expiring<test_clock>>;

constexpr std::uint64_t cache_budget = 1 << 20;
// 200,000 puts of 24-byte values write 8 MiB of keys and values, eight budgets' worth,
// and a few times that with the deadline index (the 1,000,000 of the report would take
// a few seconds here, and fail the same way).
constexpr int cache_put_count = 200'000;

std::string cache_key(int i) { return "key" + std::to_string(i); }

}  // namespace

TEST_CASE("a bounded expiring cache keeps its deadline index within the budget and in step with evictions",
          "[expiry][cache]") {
    expiring_cache db{kvforge::options{.memory_budget = cache_budget}};
    const std::string value(24, 'v');
    std::uint64_t peak = 0;
    for (int i = 0; i < cache_put_count; ++i) {
        db.put(cache_key(i), value, 1h);
        if (i % 1024 == 0) peak = std::max(peak, db.stats().memory_bytes);
    }
    const kvforge::stats filled = db.stats();
    CHECK(peak <= cache_budget);
    CHECK(filled.memory_bytes <= cache_budget);
    CHECK(filled.evictions > 0);
    const std::size_t held = db.size();
    CHECK(held == filled.live_keys);
    CHECK(held < static_cast<std::size_t>(cache_put_count));

    // Keys the cache evicted long ago, put again without a deadline: no index entry of
    // their old deadline may be left to purge them.
    constexpr int forever_count = 100;
    for (int i = 0; i < forever_count; ++i) db.put(cache_key(i), "forever");
    std::vector<std::string> forever;
    for (int i = 0; i < forever_count; ++i) {
        if (db.contains(cache_key(i))) forever.push_back(cache_key(i));
    }
    CHECK(forever.size() > forever_count / 2);
    const std::size_t held_with_deadline = db.size() - forever.size();

    test_clock::advance(2h);
    CHECK(db.size() == forever.size());
    CHECK(db.stats().live_keys == forever.size());
    CHECK(db.purge_expired() == held_with_deadline);
    CHECK(db.size() == forever.size());
    for (const std::string& key : forever) CHECK(db.get(key) == "forever");
    CHECK(db.stats().memory_bytes <= cache_budget);
}

TEST_CASE("the budget of a bounded expiring cache counts its deadline index once", "[expiry][cache]") {
    expiring_cache db{kvforge::options{.memory_budget = cache_budget}};
    using plain_cache = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
    plain_cache plain{kvforge::options{.memory_budget = cache_budget}};
    for (int i = 0; i < 1000; ++i) {
        db.put(cache_key(i), "value", 1h);
        plain.put(cache_key(i), "value");
    }
    // Nothing was evicted: the expiring cache holds the same entries, 9 bytes longer each,
    // and its deadline index, counted once.
    REQUIRE(db.stats().evictions == 0);
    const std::uint64_t extra = db.stats().memory_bytes - plain.stats().memory_bytes;
    CHECK(extra >= 1000 * (8 + 4));
    CHECK(extra < 1000 * 200);
}
