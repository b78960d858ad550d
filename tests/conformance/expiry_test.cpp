// Expiry on every expiring configuration: deadlines hide keys from every read once they
// come, size() and stats() agree with get(), a plain put clears a deadline, and
// purge_expired() removes exactly the expired keys. Time moves by test_clock, by hand.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "../support/test_clock.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
using namespace std::chrono_literals;

namespace {

template <class Store>
std::vector<std::string> keys_of(const Store& db) {
    std::vector<std::string> keys;
    db.for_each([&](const std::string& k, const std::string&) { keys.push_back(k); });
    std::sort(keys.begin(), keys.end());
    return keys;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a key is there until its deadline and absent from then on", "[expiry]", expiring_configs) {
    test_store<TestType> db;
    db->put("short", "1", 10s);
    db->put("long", "2", test_clock::now() + 1h);
    db->put("forever", "3");
    REQUIRE(db->expiry("short") == test_clock::now() + 10s);
    REQUIRE_FALSE(db->expiry("forever").has_value());
    REQUIRE(db->size() == 3);

    test_clock::advance(9999ms);
    REQUIRE(db->get("short") == "1");
    test_clock::advance(1ms);  // at the deadline itself the key is gone
    CHECK_FALSE(db->get("short").has_value());
    CHECK_FALSE(db->contains("short"));
    CHECK_FALSE(db->visit("short", [](std::string_view) {}));
    CHECK_FALSE(db->expiry("short").has_value());
    std::string out = "unchanged";
    CHECK_FALSE(db->get("short", out));
    CHECK(db->size() == 2);
    CHECK(db->stats().live_keys == 2);
    CHECK(db->stats().live_bytes == std::string("long2forever3").size());
    CHECK(keys_of(*db) == std::vector<std::string>{"forever", "long"});
    CHECK(db->get("long") == "2");
    CHECK_FALSE(db->erase("short"));  // it was not there to erase
}

TEMPLATE_LIST_TEST_CASE("scans in both directions skip expired keys", "[expiry]", expiring_ordered_configs) {
    test_store<TestType> db;
    for (char c = 'a'; c <= 'j'; ++c) {
        const std::string key(1, c);
        if ((c - 'a') % 2 == 0) {
            db->put("p" + key, key, 5s);
        } else {
            db->put("p" + key, key);
        }
    }
    test_clock::advance(5s);
    const std::vector<std::string> odd = {"pb", "pd", "pf", "ph", "pj"};
    std::vector<std::string> seen;
    for (const auto& [k, v] : db->scan("pa", "pz")) seen.push_back(k);
    CHECK(seen == odd);
    seen.clear();
    for (const auto& [k, v] : db->scan_prefix("p", kvforge::descending)) seen.push_back(k);
    CHECK(seen == std::vector<std::string>(odd.rbegin(), odd.rend()));
    seen.clear();
    for (const auto& [k, v] : db->scan_from("pc")) seen.push_back(k);
    CHECK(seen == std::vector<std::string>{"pd", "pf", "ph", "pj"});
    seen.clear();
    for (const auto& [k, v] : db->scan(kvforge::descending)) seen.push_back(k);
    CHECK(seen.size() == 5);
}

TEMPLATE_LIST_TEST_CASE("a plain put clears a deadline, a put with another moves it", "[expiry]", expiring_configs) {
    test_store<TestType> db;
    db->put("k", "v1", 1s);
    db->put("k", "v2");
    REQUIRE_FALSE(db->expiry("k").has_value());
    test_clock::advance(2s);
    CHECK(db->get("k") == "v2");

    db->put("k", "v3", 1s);
    db->put("k", "v4", 1h);
    test_clock::advance(2s);
    CHECK(db->get("k") == "v4");
    CHECK(db->purge_expired() == 0);
    CHECK(db->get("k") == "v4");

    kvforge::batch<std::string, std::string> b;
    db->put("j", "w", 1s);
    b.put("j", "w2");
    db->write(b);
    test_clock::advance(2s);
    CHECK(db->get("j") == "w2");
    CHECK(db->purge_expired() == 0);
}

TEMPLATE_LIST_TEST_CASE("a deadline in the past stores nothing and removes the key", "[expiry]", expiring_configs) {
    test_store<TestType> db;
    db->put("k", "old");
    db->put("k", "new", test_clock::now() - 1s);
    CHECK_FALSE(db->get("k").has_value());
    CHECK(db->size() == 0);
    db->put("z", "zero", 0s);
    CHECK_FALSE(db->contains("z"));
    CHECK(db->purge_expired() == 0);
    CHECK(db->stats().live_bytes == 0);
}

TEMPLATE_LIST_TEST_CASE("purge_expired removes exactly the expired keys", "[expiry]", expiring_configs) {
    test_store<TestType> db;
    for (int i = 0; i < 1000; ++i) {
        const std::string key = "k" + std::to_string(i);
        if (i % 3 == 0) {
            db->put(key, "v", std::chrono::seconds(1 + i % 2));
        } else {
            db->put(key, "v");
        }
    }
    const std::size_t with_deadline = 334;
    test_clock::advance(1s);  // the even multiples of 3 (deadline 1s) expire
    const std::size_t first = db->purge_expired();
    CHECK(first == 167);
    CHECK(db->size() == 1000 - first);
    test_clock::advance(1s);
    CHECK(db->purge_expired() == with_deadline - first);
    CHECK(db->size() == 1000 - with_deadline);
    CHECK(db->purge_expired() == 0);
    CHECK(db->stats().erases == with_deadline);
    for (int i = 0; i < 1000; ++i) CHECK(db->contains("k" + std::to_string(i)) == (i % 3 != 0));
}

TEMPLATE_LIST_TEST_CASE("get_many does not hand out expired values", "[expiry]", expiring_configs) {
    test_store<TestType> db;
    db->put("a", "1", 1s);
    db->put("b", "2");
    test_clock::advance(1s);
    const std::vector<std::string> keys = {"a", "b"};
    std::vector<std::optional<std::string>> out(2);
    CHECK(db->get_many(keys, std::span<std::optional<std::string>>(out)) == 1);
    CHECK_FALSE(out[0].has_value());
    CHECK(out[1] == "2");
}

TEST_CASE("a bounded expiring store never serves an expired value from its cache", "[expiry]") {
    using cache_t = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>,
                                   kvforge::expiring<test_clock>>;
    cache_t cache{kvforge::options{.memory_budget = 1 << 20}};
    cache.put("k", "v", 1s);
    REQUIRE(cache.get("k") == "v");
    test_clock::advance(1s);
    CHECK_FALSE(cache.get("k").has_value());
    CHECK(cache.size() == 0);
    CHECK(cache.purge_expired() == 1);
}
