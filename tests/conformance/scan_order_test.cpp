// scan_from() and descending scans on every ordered configuration: the same keys as
// the ascending forms, largest first, with the same bounds; across chunk and leaf
// boundaries; and the scan contract (writes ahead are seen, writes behind are not)
// in the descending direction.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// The keys a range hands out, checking each value is the key with "!" appended.
template <class Range>
std::vector<std::string> keys_of(Range&& range) {
    std::vector<std::string> keys;
    for (auto&& [key, value] : range) {
        CHECK(value == key + "!");
        keys.push_back(key);
    }
    return keys;
}

std::vector<std::string> reversed(std::vector<std::string> keys) {
    std::reverse(keys.begin(), keys.end());
    return keys;
}

using strings = std::vector<std::string>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("descending scans hand out the ascending scan's keys, largest first", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        for (const char* key : {"", "apple", "banana", "cherry", "date", "m", "ma", "mb", "n"}) {
            db->put(key, std::string(key) + "!");
        }
        const strings all{"", "apple", "banana", "cherry", "date", "m", "ma", "mb", "n"};

        CHECK(keys_of(db->scan()) == all);
        CHECK(keys_of(db->scan(kvforge::ascending)) == all);
        CHECK(keys_of(db->scan(kvforge::descending)) == reversed(all));

        // [from, to): from included, to left out, in both orders.
        CHECK(keys_of(db->scan("banana", "m")) == strings{"banana", "cherry", "date"});
        CHECK(keys_of(db->scan("banana", "m", kvforge::descending)) == strings{"date", "cherry", "banana"});
        // Bounds between stored keys.
        CHECK(keys_of(db->scan("b", "d", kvforge::descending)) == strings{"cherry", "banana"});
        CHECK(keys_of(db->scan("", "apple", kvforge::descending)) == strings{""});
        CHECK(keys_of(db->scan("mb", "zzz", kvforge::descending)) == strings{"n", "mb"});

        // Empty ranges: from == to, from > to, nothing stored between.
        CHECK(keys_of(db->scan("m", "m", kvforge::descending)).empty());
        CHECK(keys_of(db->scan("n", "a", kvforge::descending)).empty());
        CHECK(keys_of(db->scan("n", "a")).empty());
        CHECK(keys_of(db->scan("x", "z", kvforge::descending)).empty());
        CHECK(keys_of(db->scan("dz", "m", kvforge::descending)).empty());

        // scan_from: to the largest key ascending, to the smallest descending, from included.
        CHECK(keys_of(db->scan_from("m")) == strings{"m", "ma", "mb", "n"});
        CHECK(keys_of(db->scan_from("m", kvforge::descending)) == strings{"m", "date", "cherry", "banana", "apple", ""});
        CHECK(keys_of(db->scan_from("lemon")) == strings{"m", "ma", "mb", "n"});
        CHECK(keys_of(db->scan_from("lemon", kvforge::descending)) ==
              strings{"date", "cherry", "banana", "apple", ""});
        CHECK(keys_of(db->scan_from("zzz")).empty());
        CHECK(keys_of(db->scan_from("zzz", kvforge::descending)) == reversed(all));
        CHECK(keys_of(db->scan_from("")) == all);
        CHECK(keys_of(db->scan_from("", kvforge::descending)) == strings{""});

        CHECK(keys_of(db->scan_prefix("m", kvforge::descending)) == strings{"mb", "ma", "m"});
        CHECK(keys_of(db->scan_prefix("", kvforge::descending)) == reversed(all));
        CHECK(keys_of(db->scan_prefix("q", kvforge::descending)).empty());
    }
}

TEMPLATE_LIST_TEST_CASE("a descending prefix scan handles 0xff bytes at the end of the prefix", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        const std::string ff("\xff", 1);
        for (const std::string& key : {"a" + ff, "a" + ff + ff, "a" + ff + "z", std::string("b"), ff + ff}) {
            db->put(key, key + "!");
        }
        CHECK(keys_of(db->scan_prefix("a" + ff, kvforge::descending)) == strings{"a" + ff + ff, "a" + ff + "z", "a" + ff});
        // No key bounds the keys starting with 0xff bytes: the scan starts at the last key.
        CHECK(keys_of(db->scan_prefix(ff, kvforge::descending)) == strings{ff + ff});
        CHECK(keys_of(db->scan_prefix(ff + ff, kvforge::descending)) == strings{ff + ff});
    }
}

TEMPLATE_LIST_TEST_CASE("descending scans cross chunks and leaves", "[conformance][scan]", all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        // Enough records for several chunks of the scan and several levels of a sorted index.
        constexpr int count = 5000;
        for (int i = 0; i < count; ++i) db->put(key_of(i), key_of(i) + "!");
        int expected = count;
        for (auto&& [key, value] : db->scan(kvforge::descending)) {
            --expected;
            REQUIRE(key == key_of(expected));
            CHECK(value == key + "!");
        }
        CHECK(expected == 0);

        strings keys = keys_of(db->scan(key_of(1234), key_of(4321), kvforge::descending));
        REQUIRE(keys.size() == 4321 - 1234);
        CHECK(keys.front() == key_of(4320));
        CHECK(keys.back() == key_of(1234));
        CHECK(std::is_sorted(keys.rbegin(), keys.rend()));

        keys = keys_of(db->scan_from(key_of(2999), kvforge::descending));
        REQUIRE(keys.size() == 3000);
        CHECK(keys.front() == key_of(2999));
        CHECK(keys.back() == key_of(0));
    }
}

TEMPLATE_LIST_TEST_CASE("scans of a store filled in scattered key order, overwritten and erased in part",
                        "[conformance][scan]", all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        // Records lie in the files in the order they were put, far from their neighbours in
        // key order, with values of sizes that start them anywhere in a cache line; a scan
        // loads the records ahead of the one it hands out, and must hand out the right ones.
        // The fill is flushed, the overwrites are not: a scan reads records from the file
        // and from the writer's buffer side by side, and loads ahead only the former.
        constexpr int count = 3000;
        std::map<std::string, std::string> model;
        const auto value_of = [](int i, int round) {
            return std::string(static_cast<std::size_t>(i % 37) * 5, 'v') + std::to_string(i + round);
        };
        for (int n = 0; n < count; ++n) {
            const int i = (n * 7919) % count;
            db->put(key_of(i), value_of(i, 0));
            model[key_of(i)] = value_of(i, 0);
        }
        db->flush();
        for (int i = 0; i < count; i += 3) {
            db->put(key_of(i), value_of(i, 1));
            model[key_of(i)] = value_of(i, 1);
        }
        for (int i = 1; i < count; i += 10) {
            db->erase(key_of(i));
            model.erase(key_of(i));
        }

        std::vector<std::pair<std::string, std::string>> expected(model.begin(), model.end());
        std::vector<std::pair<std::string, std::string>> seen;
        for (auto&& [key, value] : db->scan()) seen.emplace_back(key, value);
        CHECK(seen == expected);

        seen.clear();
        for (auto&& [key, value] : db->scan(kvforge::descending)) seen.emplace_back(key, value);
        std::reverse(seen.begin(), seen.end());
        CHECK(seen == expected);

        seen.clear();
        for (auto&& [key, value] : db->scan_from(key_of(1500))) seen.emplace_back(key, value);
        CHECK(seen == std::vector<std::pair<std::string, std::string>>(model.lower_bound(key_of(1500)), model.end()));
    }
}

TEMPLATE_LIST_TEST_CASE("a descending scan sees writes ahead of it and not behind it", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        for (int i = 0; i < 2000; i += 2) db->put(key_of(i), "before");
        SECTION("inserts, changes and erasures ahead, inside the chunk read ahead") {
            strings seen;
            for (auto&& [key, value] : db->scan(kvforge::descending)) {
                seen.push_back(key);
                if (key == key_of(1990)) {
                    write_during_scan<TestType>([&] {
                        db->put(key_of(1987), "inserted");  // ahead: seen
                        db->put(key_of(1995), "behind");    // behind: not seen
                        db->put(key_of(1986), "changed");
                        db->erase(key_of(1984));
                    });
                }
                if (key == key_of(1987)) CHECK(value == "inserted");
                if (key == key_of(1986)) CHECK(value == "changed");
                CHECK(key != key_of(1984));
            }
            strings expected;
            for (int i = 1998; i >= 0; i -= 2) {
                if (i == 1984) continue;
                expected.push_back(key_of(i));
                if (i == 1988) expected.push_back(key_of(1987));
            }
            CHECK(seen == expected);
        }
        SECTION("every step erases the next key and inserts one below it, across chunks") {
            int handed_out = 0;
            for (auto&& [key, value] : db->scan_from(key_of(1996), kvforge::descending)) {
                ++handed_out;
                const int i = std::stoi(key.substr(3));
                REQUIRE(i % 4 != 2);  // erased before the scan reached it
                if (i % 4 == 0) {
                    CHECK(value == "before");
                    write_during_scan<TestType>([&] {
                        if (i >= 2) db->erase(key_of(i - 2));
                        if (i >= 3) db->put(key_of(i - 3), "inserted");
                    });
                } else {
                    CHECK(value == "inserted");
                }
            }
            // 500 keys divisible by four, one inserted below each but key 0.
            CHECK(handed_out == 500 + 499);
        }
        SECTION("clear ends it") {
            int handed_out = 0;
            for (auto&& [key, value] : db->scan_from(key_of(100), kvforge::descending)) {
                ++handed_out;
                if (key == key_of(90)) write_during_scan<TestType>([&] { db->clear(); });
            }
            CHECK(handed_out == 6);
        }
    }
}
