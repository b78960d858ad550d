// Behaviour every store configuration shares: point operations, limits, batches,
// iteration, statistics.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store_configs.hpp"

using namespace kvforge_test;

TEMPLATE_LIST_TEST_CASE("put, get, contains and erase round-trip", "[conformance]", all_configs) {
    test_store<TestType> db;
    CHECK_FALSE(db->get("alice").has_value());
    CHECK(db->empty());

    db->put("alice", "admin");
    db->put("bob", "dev");
    CHECK(db->get("alice") == std::optional<std::string>("admin"));
    CHECK(db->get("bob") == std::optional<std::string>("dev"));
    CHECK(db->contains("alice"));
    CHECK_FALSE(db->contains("carol"));
    CHECK(db->size() == 2);

    CHECK(db->erase("alice"));
    CHECK_FALSE(db->erase("alice"));
    CHECK_FALSE(db->get("alice").has_value());
    CHECK_FALSE(db->contains("alice"));
    CHECK(db->size() == 1);
}

TEMPLATE_LIST_TEST_CASE("overwrites keep only the latest value, whatever its size", "[conformance]", all_configs) {
    test_store<TestType> db;
    const std::vector<std::string> values = {"medium value", "x", "", std::string(5000, 'L'), "same size!!!",
                                             "other size!!"};
    for (const auto& value : values) {
        db->put("key", value);
        CHECK(db->get("key") == std::optional<std::string>(value));
    }
    CHECK(db->size() == 1);
}

TEMPLATE_LIST_TEST_CASE("empty keys, empty values and arbitrary bytes are stored as given", "[conformance]",
                        all_configs) {
    test_store<TestType> db;
    const std::string binary_key("\0\xff\x80key\0", 7);
    const std::string binary_value("\xff\0\x01\xc3\x28", 5);  // includes invalid UTF-8
    db->put("", "empty key");
    db->put("empty value", "");
    db->put(binary_key, binary_value);
    db->put(std::string("\0", 1), "just a NUL");

    CHECK(db->get("") == std::optional<std::string>("empty key"));
    CHECK(db->get("empty value") == std::optional<std::string>(""));
    CHECK(db->get(binary_key) == std::optional<std::string>(binary_value));
    CHECK(db->get(std::string("\0", 1)) == std::optional<std::string>("just a NUL"));
    CHECK(db->size() == 4);
    CHECK(db->erase(""));
    CHECK_FALSE(db->contains(""));
}

TEMPLATE_LIST_TEST_CASE("keys and values at the size limits are accepted, one byte more is refused",
                        "[conformance][limits]", all_configs) {
    test_store<TestType> db;
    const std::string max_key(kvforge::max_key_size, 'k');
    const std::string long_key(kvforge::max_key_size + 1, 'k');
    db->put(max_key, "fits");
    CHECK(db->get(max_key) == std::optional<std::string>("fits"));

    std::error_code ec;
    db->put(long_key, "refused", ec);
    CHECK(ec == kvforge::errc::key_too_large);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("65537 bytes"));
    CHECK_THROWS_AS(db->put(long_key, "refused"), kvforge::error);
    CHECK_FALSE(db->contains(long_key));
    CHECK_FALSE(db->erase(long_key));

    // The store's own limit: kvforge::max_value_size, less the expiry header when expiring.
    const std::string max_value(TestType::max_value_size, 'v');
    db->put("big", max_value);
    CHECK(db->get("big")->size() == TestType::max_value_size);

    const std::string long_value(TestType::max_value_size + 1, 'v');
    db->put("big", long_value, ec);
    CHECK(ec == kvforge::errc::value_too_large);
    try {
        db->put("big", long_value);
        FAIL("no exception");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::value_too_large);
        CHECK_THAT(e.what(), Catch::Contains("kvforge::max_value_size"));
    }
    // The refused writes changed nothing.
    CHECK(db->get("big")->size() == TestType::max_value_size);
    CHECK(db->size() == 2);
}

TEMPLATE_LIST_TEST_CASE("get_many reads what get reads, key by key, over many batches", "[conformance][get_many]",
                        all_configs) {
    test_store<TestType> db;
    std::vector<std::string> keys;
    for (int i = 0; i < 300; ++i) {
        keys.push_back("key" + std::to_string(i));
        db->put(keys.back(), std::string(static_cast<std::size_t>(i % 7) * 20, static_cast<char>('a' + i % 26)));
    }
    for (int i = 0; i < 300; i += 3) db->erase(keys[static_cast<std::size_t>(i)]);
    keys.push_back("never stored");
    keys.push_back("");
    keys.push_back(std::string(kvforge::max_key_size + 1, 'k'));  // too long to have been stored
    keys.push_back("key1");                                        // twice in one call

    const auto check_all = [&] {
        // Earlier contents of out are replaced: a stale value, or nothing.
        std::vector<std::optional<std::string>> out(keys.size(), std::optional<std::string>("stale"));
        out[1].reset();
        const std::size_t found = db->get_many(keys, out);
        std::size_t expected = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            INFO("key " << i);
            CHECK(out[i] == db->get(keys[i]));
            expected += out[i].has_value() ? 1 : 0;
        }
        CHECK(found == expected);
        CHECK(found == 201);
    };
    check_all();
    if constexpr (TestType::persistent) {
        db.reopen();
        check_all();
    }

    std::vector<std::string_view> views{"key1", "key3", "key4"};
    std::vector<std::optional<std::string>> three(3);
    CHECK(db->get_many(std::span<const std::string_view>(views), three) == 2);
    CHECK(three[0] == db->get("key1"));
    CHECK_FALSE(three[1].has_value());
    CHECK(three[2] == db->get("key4"));
}

TEMPLATE_LIST_TEST_CASE("get_many refuses an output that does not match the keys", "[conformance][get_many]",
                        all_configs) {
    test_store<TestType> db;
    db->put("a", "1");
    const std::vector<std::string> keys{"a", "b"};
    std::vector<std::optional<std::string>> out(1);
    std::error_code ec;
    CHECK(db->get_many(keys, out, ec) == 0);
    CHECK(ec == std::errc::invalid_argument);
    CHECK_THROWS_AS(db->get_many(keys, out), kvforge::error);
    out.resize(2);
    CHECK(db->get_many(keys, out, ec) == 1);
    CHECK_FALSE(ec);
    CHECK(out[0] == std::optional<std::string>("1"));
    CHECK_FALSE(out[1].has_value());
}

TEMPLATE_LIST_TEST_CASE("a batch applies all its operations in order", "[conformance][batch]", all_configs) {
    // Its keys hash to several slots, which a redis_cluster batch refuses (redis_cluster_test.cpp).
    if constexpr (!takes_any_batch<TestType>) return;
    test_store<TestType> db;
    db->put("carol", "ops");
    db->put("dave", "qa");

    typename TestType::batch_type b;
    b.put("bob", "dev");
    b.erase("carol");
    b.put("erin", "first");
    b.put("erin", "second");
    b.put("frank", "gone");
    b.erase("frank");
    CHECK(b.size() == 6);
    db->write(b);

    CHECK(db->get("bob") == std::optional<std::string>("dev"));
    CHECK_FALSE(db->contains("carol"));
    CHECK(db->get("dave") == std::optional<std::string>("qa"));
    CHECK(db->get("erin") == std::optional<std::string>("second"));
    CHECK_FALSE(db->contains("frank"));
    CHECK(db->size() == 3);

    b.clear();
    CHECK(b.empty());
    db->write(b);
    CHECK(db->size() == 3);
}

TEMPLATE_LIST_TEST_CASE("a batch refuses an oversized operation and keeps the others", "[conformance][batch]",
                        all_configs) {
    test_store<TestType> db;
    typename TestType::batch_type b;
    b.put("ok", "1");
    std::error_code ec;
    b.put(std::string(kvforge::max_key_size + 1, 'k'), "x", ec);
    CHECK(ec == kvforge::errc::key_too_large);
    CHECK_THROWS_AS(b.put("v", std::string(kvforge::max_value_size + 1, 'v')), kvforge::error);
    CHECK_THROWS_AS(b.erase(std::string(kvforge::max_key_size + 1, 'k')), kvforge::error);
    CHECK(b.size() == 1);
    db->write(b);
    CHECK(db->size() == 1);
    CHECK(db->get("ok") == std::optional<std::string>("1"));
}

TEMPLATE_LIST_TEST_CASE("get fills a caller's buffer and visit hands out the stored bytes", "[conformance]",
                        all_configs) {
    test_store<TestType> db;
    db->put("k", "a value long enough to need the heap");
    std::string buffer;
    buffer.reserve(128);
    const char* storage = buffer.data();
    CHECK(db->get("k", buffer));
    CHECK(buffer == "a value long enough to need the heap");
    CHECK(buffer.data() == storage);  // reused, not reallocated
    CHECK_FALSE(db->get("missing", buffer));

    std::string seen;
    CHECK(db->visit("k", [&](std::string_view bytes) { seen = bytes; }));
    CHECK(seen == "a value long enough to need the heap");
    CHECK_FALSE(db->visit("missing", [&](std::string_view) { FAIL("called for a missing key"); }));
}

TEMPLATE_LIST_TEST_CASE("for_each visits every record once", "[conformance]", all_configs) {
    test_store<TestType> db;
    std::map<std::string, std::string> expected;
    for (int i = 0; i < 1000; ++i) {
        const std::string key = "key" + std::to_string(i * 7919 % 1000);
        expected[key] = "value" + std::to_string(i);
        db->put(key, expected[key]);
    }
    std::map<std::string, std::string> seen;
    std::vector<std::string> order;
    db->for_each([&](const std::string& key, const std::string& value) {
        CHECK(seen.emplace(key, value).second);
        order.push_back(key);
    });
    CHECK(seen == expected);
    if constexpr (is_ordered<TestType>) CHECK(std::is_sorted(order.begin(), order.end()));
}

TEMPLATE_LIST_TEST_CASE("clear removes everything and the store stays usable", "[conformance]", all_configs) {
    test_store<TestType> db;
    for (int i = 0; i < 5000; ++i) db->put("key" + std::to_string(i), "value");
    db->clear();
    CHECK(db->empty());
    CHECK_FALSE(db->contains("key1"));
    db->put("key1", "again");
    CHECK(db->get("key1") == std::optional<std::string>("again"));
    CHECK(db->size() == 1);
}

TEMPLATE_LIST_TEST_CASE("memory is given back when keys are erased", "[conformance]", all_configs) {
    if constexpr (!has_index_in_process<TestType>) return;  // no memory of this process to give back
    test_store<TestType> db;
    for (int i = 0; i < 100000; ++i) db->put("key" + std::to_string(i), std::string(64, 'v'));
    const auto full = db->stats().memory_bytes;
    for (int i = 0; i < 100000; ++i) REQUIRE(db->erase("key" + std::to_string(i)));
    // Garbage is reclaimed as it grows: the records' bytes must not stay held.
    for (int i = 0; i < 1000; ++i) db->put("small" + std::to_string(i), "v");
    CHECK(db->stats().memory_bytes < full / 2);
    CHECK(db->size() == 1000);
}

TEMPLATE_LIST_TEST_CASE("stats count operations and live data", "[conformance][stats]", all_configs) {
    test_store<TestType> db;
    db->put("a", "12345");
    db->put("b", "1");
    db->put("a", "123");
    (void)db->get("a");
    (void)db->get("zz");
    (void)db->contains("b");
    db->erase("b");
    db->erase("b");
    typename TestType::batch_type b;
    b.put("c", "xy");
    db->write(b);

    const kvforge::stats s = db->stats();
    CHECK(s.live_keys == 2);
    CHECK(s.live_bytes == (1 + 3) + (1 + 2));
    CHECK(s.puts == 4);
    CHECK(s.gets == 3);
    CHECK(s.erases == 1);
    CHECK(s.batches == 1);
    if constexpr (has_index_in_process<TestType>) CHECK(s.memory_bytes > 0);
}

TEMPLATE_LIST_TEST_CASE("flush, sync, compact and verify succeed on a healthy store", "[conformance]",
                        all_configs) {
    test_store<TestType> db;
    for (int i = 0; i < 100; ++i) db->put("key" + std::to_string(i), "value" + std::to_string(i));
    std::error_code ec;
    db->flush(ec);
    CHECK_FALSE(ec);
    db->sync(ec);
    CHECK_FALSE(ec);
    db->compact(ec);
    CHECK_FALSE(ec);
    const kvforge::verify_report report = db->verify();
    CHECK(report.ok());
    CHECK(report.records_checked == 100);
    CHECK(db->get("key42") == std::optional<std::string>("value42"));
}

TEMPLATE_LIST_TEST_CASE("scan returns the half-open range in key order", "[conformance][scan]", all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        for (const char* key : {"apple", "banana", "cherry", "date", "elderberry", "fig", "m", "ma", "n"}) {
            db->put(key, std::string(key) + "!");
        }
        std::vector<std::string> keys;
        for (auto&& [key, value] : db->scan("b", "m")) {
            CHECK(value == key + "!");
            keys.push_back(key);
        }
        CHECK(keys == std::vector<std::string>{"banana", "cherry", "date", "elderberry", "fig"});

        keys.clear();
        for (auto&& [key, value] : db->scan_prefix("m")) keys.push_back(key);
        CHECK(keys == std::vector<std::string>{"m", "ma"});

        keys.clear();
        for (auto&& [key, value] : db->scan()) keys.push_back(key);
        CHECK(keys.size() == 9);
        CHECK(std::is_sorted(keys.begin(), keys.end()));

        CHECK(db->scan("x", "z").begin() == std::default_sentinel);
        CHECK(db->scan("m", "m").begin() == std::default_sentinel);
    }
}

TEMPLATE_LIST_TEST_CASE("scan crosses chunk boundaries and sees its own writes", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        char key[8];
        for (int i = 0; i < 3000; ++i) {
            std::snprintf(key, sizeof key, "k%05d", i);
            db->put(key, std::to_string(i));
        }
        int expected = 0;
        for (auto&& [k, v] : db->scan()) {
            CHECK(v == std::to_string(expected));
            // Writing from the loop body is allowed: the read lock is not held here.
            if (expected % 500 == 0) db->put(k, v);
            ++expected;
        }
        CHECK(expected == 3000);
    }
}

TEMPLATE_LIST_TEST_CASE("scan_prefix handles 0xff bytes at the end of the prefix", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        const std::string ff("\xff", 1);
        db->put("a" + ff, "1");
        db->put("a" + ff + ff, "2");
        db->put("a" + ff + "z", "3");
        db->put("b", "4");
        db->put(ff + ff, "5");
        std::vector<std::string> values;
        for (auto&& [k, v] : db->scan_prefix("a" + ff)) values.push_back(v);
        CHECK(values == std::vector<std::string>{"1", "3", "2"});  // 'z' sorts before 0xff
        values.clear();
        for (auto&& [k, v] : db->scan_prefix(ff)) values.push_back(v);
        CHECK(values == std::vector<std::string>{"5"});
        values.clear();
        for (auto&& [k, v] : db->scan_prefix("")) values.push_back(v);
        CHECK(values.size() == 5);
    }
}

TEST_CASE("get_many encodes keys and decodes values through their codecs", "[get_many]") {
    kvforge::store<std::uint64_t, double> db;
    for (std::uint64_t i = 0; i < 100; ++i) db.put(i, static_cast<double>(i) * 0.5);
    const std::vector<std::uint64_t> keys{3, 500, 99};
    std::vector<std::optional<double>> out(keys.size());
    CHECK(db.get_many(keys, out) == 2);
    CHECK(out[0] == std::optional<double>(1.5));
    CHECK_FALSE(out[1].has_value());
    CHECK(out[2] == std::optional<double>(49.5));
}
