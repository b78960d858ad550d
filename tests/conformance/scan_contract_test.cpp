// The contract of scan(): a key written while the scan runs is seen if it sorts after
// the scan's position, and every record the scan hands out holds the value its key had
// at some moment after the scan reached it (an erased key is not handed out). The scan
// reads ahead in chunks; these tests write inside the chunk being handed out, from the
// loop body and, on thread_safe stores, from another thread, in every ordered
// configuration.

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

template <class Store>
void fill(Store& db, int count) {
    for (int i = 0; i < count; i += 2) db.put(key_of(i), "before");
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a key inserted just ahead of the scan, inside its chunk, is seen", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        fill(*db, 200);
        std::vector<std::string> seen;
        for (auto&& [key, value] : db->scan()) {
            seen.push_back(key);
            if (key == key_of(10)) write_during_scan<TestType>([&] { db->put(key_of(13), "inserted"); });
            if (key == key_of(13)) CHECK(value == "inserted");
            // A key sorting before the position is not seen.
            if (key == key_of(20)) write_during_scan<TestType>([&] { db->put(key_of(15), "behind"); });
        }
        std::vector<std::string> expected;
        for (int i = 0; i < 200; i += 2) {
            expected.push_back(key_of(i));
            if (i == 12) expected.push_back(key_of(13));
        }
        CHECK(seen == expected);
    }
}

TEMPLATE_LIST_TEST_CASE("a value changed just ahead of the scan, inside its chunk, comes back fresh",
                        "[conformance][scan]", all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        fill(*db, 200);
        int handed_out = 0;
        for (auto&& [key, value] : db->scan()) {
            ++handed_out;
            if (key == key_of(10)) {
                write_during_scan<TestType>([&] {
                    db->put(key_of(12), "changed");
                    db->put(key_of(14), "changed");
                    db->erase(key_of(16));
                });
            }
            if (key == key_of(12) || key == key_of(14)) {
                CHECK(value == "changed");
            } else {
                CHECK(key != key_of(16));  // erased before the scan reached it
                CHECK(value == "before");
            }
        }
        CHECK(handed_out == 99);
    }
}

TEMPLATE_LIST_TEST_CASE("a scan sees every write of its loop body that sorts after it, across chunks",
                        "[conformance][scan]", all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        fill(*db, 2000);
        // Each step changes the next key and inserts one between it and the one after:
        // every change lands inside the chunk read ahead, or just past its end.
        int handed_out = 0;
        for (auto&& [key, value] : db->scan()) {
            ++handed_out;
            const int i = std::stoi(key.substr(3));
            if (i % 2 == 0) {
                CHECK(value == (i == 0 ? "before" : "changed"));
                write_during_scan<TestType>([&] {
                    db->put(key_of(i + 1), "inserted");
                    if (i + 2 < 2000) db->put(key_of(i + 2), "changed");
                });
            } else {
                CHECK(value == "inserted");
            }
        }
        CHECK(handed_out == 2000);
    }
}

TEMPLATE_LIST_TEST_CASE("a scan whose loop body clears or compacts the store stays consistent", "[conformance][scan]",
                        all_configs) {
    if constexpr (is_ordered<TestType>) {
        test_store<TestType> db;
        fill(*db, 200);
        SECTION("clear ends it") {
            int handed_out = 0;
            for (auto&& [key, value] : db->scan()) {
                ++handed_out;
                if (key == key_of(10)) write_during_scan<TestType>([&] { db->clear(); });
            }
            CHECK(handed_out == 6);
        }
        SECTION("compaction changes no value") {
            int handed_out = 0;
            for (auto&& [key, value] : db->scan()) {
                ++handed_out;
                if (key == key_of(10)) {
                    write_during_scan<TestType>([&] {
                        for (int i = 0; i < 200; i += 2) db->put(key_of(i), "after");
                        db->compact();
                    });
                }
                const int i = std::stoi(key.substr(3));
                CHECK(value == (i <= 10 ? "before" : "after"));
            }
            CHECK(handed_out == 100);
        }
    }
}
