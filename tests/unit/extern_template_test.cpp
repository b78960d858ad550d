// Stores used through an explicit instantiation declaration (`extern template class`):
// their members come from the explicit instantiation definitions in
// support/instantiated_stores.cpp, which compile for every policy. An optimising compiler
// may still compile a member here to inline it, but never its out-of-line definition: the
// first test calls members through pointers, out of line, so that this file links only
// because that definition is there. The calls check that those members behave as the store's.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../support/instantiated_stores.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;
namespace instantiated = kvforge_test::instantiated;

namespace kvforge_test {
// Members called through pointers that any other file could change: the compiler cannot
// inline these calls, so they need the out-of-line definitions.
using file_log_hash = instantiated::file_log_hash;
void (file_log_hash::*file_log_put)(std::string_view, std::string_view) = &file_log_hash::put;
std::optional<std::string> (file_log_hash::*file_log_get)(std::string_view) const = &file_log_hash::get;
void (file_log_hash::*file_log_close)() = &file_log_hash::close;
}  // namespace kvforge_test

TEST_CASE("a store's members called out of line link to its explicit instantiation", "[extern_template]") {
    temp_dir dir;
    instantiated::file_log_hash db{dir / "db"};
    (db.*kvforge_test::file_log_put)("alice", "admin");
    CHECK((db.*kvforge_test::file_log_get)("alice") == "admin");
    CHECK_FALSE((db.*kvforge_test::file_log_get)("bob"));
    (db.*kvforge_test::file_log_close)();
    CHECK_FALSE(db.is_open());
}

TEST_CASE("a file_log store compiled once reads back what it wrote, after reopening", "[extern_template]") {
    temp_dir dir;
    {
        instantiated::file_log_hash db{dir / "db"};
        db.put("alice", "admin");
        db.put("bob", "dev");
        CHECK(db.erase("bob"));
        db.close();
    }
    instantiated::file_log_hash db{dir / "db"};
    CHECK(db.get("alice") == "admin");
    CHECK_FALSE(db.contains("bob"));
    CHECK(db.size() == 1);
}

TEST_CASE("a memory store compiled once puts, gets and erases", "[extern_template]") {
    instantiated::memory_hash db;
    db.put("k", "v");
    CHECK(db.get("k") == "v");
    CHECK(db.erase("k"));
    CHECK_FALSE(db.get("k"));
}

TEST_CASE("a bounded store compiled once stays within its budget", "[extern_template]") {
    instantiated::memory_bounded cache{kvforge::options{.memory_budget = 64 << 10}};
    for (int i = 0; i < 2000; ++i) cache.put("key" + std::to_string(i), std::string(100, 'x'));
    CHECK(cache.get("key1999") == std::string(100, 'x'));
    CHECK(cache.stats().memory_bytes <= 64 << 10);
    CHECK(cache.stats().evictions > 0);
}

TEST_CASE("an ordered, compressed mmap_file store compiled once scans in key order", "[extern_template]") {
    temp_dir dir;
    instantiated::mmap_sorted_shared_compressed db{dir / "db"};
    db.put("c", std::string(300, 'c'));
    db.put("a", std::string(300, 'a'));
    db.put("b", std::string(300, 'b'));
    std::vector<std::pair<std::string, std::string>> seen;
    for (auto&& [k, v] : db.scan("a", "c")) seen.emplace_back(k, v);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == std::pair<std::string, std::string>("a", std::string(300, 'a')));
    CHECK(seen[1] == std::pair<std::string, std::string>("b", std::string(300, 'b')));
    db.close();
}

TEST_CASE("an expiring, cached async_worker store compiled once keeps deadlines and sequences", "[extern_template]") {
    temp_dir dir;
    instantiated::file_log_async_cached_expiring db{dir / "db"};
    const std::uint64_t first = db.put("session", "alice", std::chrono::hours(1));
    const std::uint64_t second = db.put("forever", "x");
    CHECK(second > first);
    db.wait_durable(second);
    CHECK(db.durable_seq() >= second);
    CHECK(db.expiry("session").has_value());
    CHECK_FALSE(db.expiry("forever").has_value());
    db.put("gone", "y", std::chrono::system_clock::now() - std::chrono::seconds(1));
    CHECK_FALSE(db.get("gone"));
    CHECK(db.get("session") == "alice");
    db.close();
}
