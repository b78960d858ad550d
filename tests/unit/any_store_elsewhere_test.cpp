// A store used through <kvforge/any_store.hpp> alone, in a file other than the one that
// opens it (support/open_store_once.cpp): the way a program keeps the cost of compiling
// kvforge to one file. The calls behave as they do in the file that opens the store.

#include <catch2/catch.hpp>

#include <kvforge/any_store.hpp>

#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../support/opened_elsewhere.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::open_elsewhere;
using kvforge_test::temp_dir;
using any_strings = kvforge::any_store<std::string, std::string>;
using records = std::vector<std::pair<std::string, std::string>>;

namespace {

records scanned(any_strings::range_type range) {
    records out;
    for (const auto& [key, value] : range) out.emplace_back(key, value);
    return out;
}

}  // namespace

TEST_CASE("a store opened in another file is written, read, scanned, closed and reopened through any_store.hpp",
          "[any_store][any_store_elsewhere]") {
    temp_dir dir;
    const std::string path = dir / "users";
    {
        any_strings db = open_elsewhere("file_log,sorted:" + path);
        REQUIRE(db.is_open());
        CHECK(db.persistent());
        CHECK(db.ordered());
        CHECK(db.composition().store == "file_log");
        db.put("alice", "admin");
        db.put("bob", "guest");
        db.put("carol", "staff");
        db.put("alfred", "butler");
        CHECK(db.get("alice") == "admin");
        CHECK_FALSE(db.get("dave"));
        CHECK(db.erase("bob"));
        CHECK(db.size() == 3);
        CHECK(scanned(db.scan()) == records{{"alfred", "butler"}, {"alice", "admin"}, {"carol", "staff"}});
        CHECK(scanned(db.scan_prefix("al", kvforge::descending)) == records{{"alice", "admin"}, {"alfred", "butler"}});
        db.close();
        CHECK_FALSE(db.is_open());
        std::error_code ec;
        CHECK_FALSE(db.get("alice", ec));
        CHECK(ec == kvforge::errc::store_closed);
    }
    // A bare path opens the store its MANIFEST describes.
    any_strings again = open_elsewhere(path);
    CHECK(again.spec().find("file_log,sorted_index") == 0);
    CHECK(again.get("carol") == "staff");
    CHECK_FALSE(again.contains("bob"));
    CHECK(scanned(again.scan("alice", "carol")) == records{{"alice", "admin"}});
    again.close();
}

TEST_CASE("an any_store that holds no store reports store_closed from every call", "[any_store][any_store_elsewhere]") {
    any_strings empty;
    CHECK_FALSE(empty.is_open());
    CHECK_FALSE(empty.persistent());
    CHECK(empty.spec().empty());
    CHECK(empty.size() == 0);
    std::error_code ec;
    CHECK(empty.put("alice", "admin", ec) == 0);
    CHECK(ec == kvforge::errc::store_closed);
    ec.clear();
    empty.wait_durable(1, ec);
    CHECK(ec == kvforge::errc::store_closed);
    try {
        (void)empty.get("alice");
        FAIL("get() on an empty any_store returned");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::store_closed);
    }
    // A scan of no store fails at its first step, not when it is made.
    auto range = empty.scan();
    CHECK_THROWS_AS(range.begin(), kvforge::error);
    auto quiet = empty.scan(kvforge::ascending, ec);
    CHECK(quiet.begin() == quiet.end());
    CHECK(ec == kvforge::errc::store_closed);
    empty.close(ec);
    CHECK_FALSE(ec);
}

TEST_CASE("moving an any_store moves its store, and assigning over one closes the store it held",
          "[any_store][any_store_elsewhere]") {
    temp_dir dir;
    const std::string path = dir / "users";
    any_strings first = open_elsewhere("file_log:" + path);
    first.put("alice", "admin");
    any_strings moved = std::move(first);
    CHECK(moved.get("alice") == "admin");
    std::error_code ec;
    CHECK_FALSE(first.get("alice", ec));  // NOLINT(bugprone-use-after-move): moved-from holds no store
    CHECK(ec == kvforge::errc::store_closed);
    // Assigning over the open store releases it (its lock with it), so it opens again.
    moved = open_elsewhere("memory");
    CHECK_FALSE(moved.persistent());
    any_strings reopened = open_elsewhere("file_log:" + path);
    CHECK(reopened.get("alice") == "admin");
}
