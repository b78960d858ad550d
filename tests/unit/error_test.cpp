// Error codes, their category and the two forms of every fallible call.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <string>

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
