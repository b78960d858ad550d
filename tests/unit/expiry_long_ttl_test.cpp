// A time to live or a deadline past the end of the clock's range: the deadline is the
// clock's last time_point, so the key is stored with its new value and does not expire,
// instead of the sum wrapping round to a time long past and the put erasing the key.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <ratio>
#include <string>

#include <kvforge/kvforge.hpp>

#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using kvforge_test::temp_dir;
using kvforge_test::test_clock;

namespace {

using system_memory_store = kvforge::store<std::string, std::string, kvforge::expiring<>>;
using test_clock_memory_store = kvforge::store<std::string, std::string, kvforge::expiring<test_clock>>;
using system_log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<>>;
using years = std::chrono::duration<std::int64_t, std::ratio<31'556'952>>;

/// Puts "old" under k, then "new" with ttl; k must hold "new" with the clock's last deadline.
template <class Store, class Ttl>
void check_long_ttl(Store& db, Ttl ttl) {
    db.put("k", "old");
    db.put("k", "new", ttl);
    CHECK(db.get("k") == std::optional<std::string>("new"));
    CHECK(db.expiry("k") == std::optional(Store::time_point::max()));
    CHECK(db.size() == 1);
    CHECK(db.purge_expired() == 0);
    CHECK(db.get("k") == std::optional<std::string>("new"));
}

}  // namespace

TEST_CASE("a time to live past the clock's range keeps the key, with the clock's last deadline", "[expiry][ttl]") {
    SECTION("years(300) on system_clock") {
        system_memory_store db;
        check_long_ttl(db, years(300));
    }
    SECTION("hours::max() on system_clock") {
        system_memory_store db;
        check_long_ttl(db, std::chrono::hours::max());
    }
    SECTION("hours::max() on a millisecond clock") {
        test_clock_memory_store db;
        check_long_ttl(db, std::chrono::hours::max());
    }
    SECTION("a floating-point duration far past the range") {
        system_memory_store db;
        check_long_ttl(db, std::chrono::duration<double>(1e30));
    }
    SECTION("a deadline whose own duration is past the clock's range") {
        system_memory_store db;
        db.put("k", "old");
        db.put("k", "new", std::chrono::time_point<std::chrono::system_clock, std::chrono::hours>::max());
        CHECK(db.get("k") == std::optional<std::string>("new"));
        CHECK(db.expiry("k") == std::optional(system_memory_store::time_point::max()));
    }
    SECTION("the error_code form") {
        system_memory_store db;
        std::error_code ec;
        db.put("k", "old", ec);
        db.put("k", "new", years(300), ec);
        CHECK_FALSE(ec);
        CHECK(db.get("k") == std::optional<std::string>("new"));
    }
}

TEST_CASE("a time to live before the clock's range removes the key, as a past deadline does", "[expiry][ttl]") {
    system_memory_store db;
    db.put("k", "old");
    db.put("k", "new", std::chrono::hours::min());
    CHECK_FALSE(db.contains("k"));
    CHECK(db.size() == 0);
}

TEST_CASE("a batch's time to live past the clock's range keeps the key", "[expiry][ttl][batch]") {
    system_memory_store db;
    db.put("k", "old");
    system_memory_store::batch_type b;
    b.put("k", "new", years(300));
    b.put("j", "other", std::chrono::time_point<std::chrono::system_clock, std::chrono::hours>::max());
    db.write(b);
    CHECK(db.get("k") == std::optional<std::string>("new"));
    CHECK(db.get("j") == std::optional<std::string>("other"));
    CHECK(db.expiry("k") == std::optional(system_memory_store::time_point::max()));
    CHECK(db.purge_expired() == 0);
    CHECK(db.size() == 2);
}

TEST_CASE("a file store keeps the clock's last deadline across a reopen", "[expiry][ttl][persistence]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        system_log_store db(path);
        db.put("k", "old");
        db.put("k", "new", years(300));
        db.close();
    }
    system_log_store db(path);
    CHECK(db.get("k") == std::optional<std::string>("new"));
    CHECK(db.expiry("k") == std::optional(system_log_store::time_point::max()));
}

TEST_CASE("saturating_duration_cast clamps where duration_cast would overflow", "[expiry][ttl]") {
    using ns = std::chrono::nanoseconds;
    using kvforge::detail::saturating_duration_cast;
    CHECK(saturating_duration_cast<ns>(std::chrono::hours::max()) == ns::max());
    CHECK(saturating_duration_cast<ns>(std::chrono::hours::min()) == ns::min());
    CHECK(saturating_duration_cast<ns>(std::chrono::hours(5)) == std::chrono::hours(5));
    CHECK(saturating_duration_cast<ns>(std::chrono::hours(-5)) == std::chrono::hours(-5));
    CHECK(saturating_duration_cast<std::chrono::seconds>(ns(-1'500'000'000)) == std::chrono::seconds(-1));
    CHECK(saturating_duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(2.5)) ==
          std::chrono::milliseconds(2500));
    CHECK(saturating_duration_cast<ns>(std::chrono::duration<double>(-1e30)) == ns::min());
    CHECK(saturating_duration_cast<ns>(std::chrono::duration<std::uint64_t>(~std::uint64_t{0})) == ns::max());
    // Thirds of a second into halves: both parts of the ratio above 1.
    using thirds = std::chrono::duration<std::int64_t, std::ratio<1, 3>>;
    using halves = std::chrono::duration<std::int64_t, std::ratio<1, 2>>;
    CHECK(saturating_duration_cast<halves>(thirds(7)).count() == std::chrono::duration_cast<halves>(thirds(7)).count());
    CHECK(saturating_duration_cast<halves>(thirds::max()) == halves(thirds::max().count() / 3 * 2));
}
