// Error codes, their category and the two forms of every fallible call.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cerrno>
#include <string>
#include <system_error>

#include "../support/temp_dir.hpp"

TEST_CASE("kvforge errors have a category and readable messages", "[error]") {
    const std::error_code ec = kvforge::errc::key_too_large;
    CHECK(std::string(ec.category().name()) == "kvforge");
    CHECK(ec.message() == "key too large");
    CHECK(std::error_code(kvforge::errc::value_decode_failed).message().find("decoded") != std::string::npos);
}

TEST_CASE("the error_code form reports and clears, the throwing form throws kvforge::error", "[error]") {
    kvforge::store<std::string, std::string> db;
    std::error_code ec = std::make_error_code(std::errc::io_error);
    db.put("k", "v", ec);
    CHECK_FALSE(ec);  // a successful call clears a stale error

    db.put(std::string(kvforge::max_key_size + 1, 'k'), "v", ec);
    CHECK(ec == kvforge::errc::key_too_large);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("nothing was written"));

    try {
        db.put(std::string(kvforge::max_key_size + 1, 'k'), "v");
        FAIL("no exception");
    } catch (const std::system_error& e) {  // kvforge::error is a std::system_error
        CHECK(e.code() == kvforge::errc::key_too_large);
        CHECK_THAT(e.what(), Catch::Contains("kvforge::max_key_size"));
    }
    CHECK(db.size() == 1);
}

TEST_CASE("opening a store object that is already open is EBUSY in the system category", "[error]") {
    kvforge_test::temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log> db(dir / "db");
    std::error_code ec;
    db.open(dir / "other", ec);
    CHECK(ec.category() == std::system_category());
    CHECK(ec.value() == EBUSY);
    CHECK(ec == std::errc::device_or_resource_busy);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("already open"));
    CHECK(db.is_open());
}

TEST_CASE("a system error's message says what failed and names the error once", "[error]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "missing/db";
    try {
        kvforge::store<std::string, std::string, kvforge::file_log> db(path);
        FAIL("opened under a missing directory");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == std::errc::no_such_file_or_directory);
        const std::string what = e.what();
        const std::string reason = std::error_code(ENOENT, std::system_category()).message();
        CHECK_THAT(what, Catch::Contains(path) && Catch::Contains("parent directory does not exist"));
        CHECK(what.find(reason) != std::string::npos);
        CHECK(what.find(reason) == what.rfind(reason));
    }
}
