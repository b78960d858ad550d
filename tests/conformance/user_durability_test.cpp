// A durability policy written outside the library, from the concepts alone
// (tests/support/sync_every.hpp), works as the store's: it syncs when it says, and a
// store written through it reopens whole. store_configs.hpp runs the whole conformance
// suite on it besides.

#include <catch2/catch.hpp>

#include <string>

#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

TEMPLATE_LIST_TEST_CASE("a user-written durability policy syncs every third write and keeps every record",
                        "[user_durability]", user_durability_configs) {
    test_store<TestType> db;
    const std::uint64_t syncs_at_open = db->stats().syncs;
    for (int i = 0; i < 9; ++i) db->put(key_of(i), "value " + std::to_string(i));
    CHECK(db->stats().syncs == syncs_at_open + 3);
    db->put(key_of(9), "value 9");
    CHECK(db->stats().syncs == syncs_at_open + 3);
    db->sync();
    CHECK(db->stats().syncs == syncs_at_open + 4);

    db.reopen();
    REQUIRE(db->size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(db->get(key_of(i)) == "value " + std::to_string(i));
}
