// detail::assign_bytes, the copy that ends every get into a caller's std::string.

#include <catch2/catch.hpp>

#include <kvforge/detail/assign_bytes.hpp>

#include <cstddef>
#include <string>
#include <string_view>

using kvforge::detail::assign_bytes;

TEST_CASE("assign_bytes into a new string copies the bytes into storage of their length", "[assign_bytes]") {
    const std::string value(100, 'v');
    std::string out;
    assign_bytes(out, value);
    CHECK(out == value);
    CHECK(out.capacity() >= value.size());
    CHECK(out.c_str()[value.size()] == '\0');
}

TEST_CASE("assign_bytes reuses out's storage for a value that fits", "[assign_bytes]") {
    std::string out(200, 'x');
    const char* storage = out.data();
    SECTION("the same length") {
        const std::string value(200, 'a');
        assign_bytes(out, value);
        CHECK(out == value);
    }
    SECTION("shorter") {
        assign_bytes(out, "short value");
        CHECK(out == "short value");
        CHECK(out.c_str()[out.size()] == '\0');
    }
    SECTION("longer than out, within its capacity") {
        out.resize(10);
        const std::string value(150, 'b');
        assign_bytes(out, value);
        CHECK(out == value);
    }
    SECTION("empty") {
        assign_bytes(out, {});
        CHECK(out.empty());
    }
    CHECK(out.data() == storage);
}

TEST_CASE("assign_bytes grows a non-empty string past its capacity", "[assign_bytes]") {
    std::string out = "a short value";
    const std::string value(1000, 'c');
    assign_bytes(out, value);
    CHECK(out == value);
}

TEST_CASE("assign_bytes takes a view of out itself", "[assign_bytes]") {
    std::string out = "0123456789abcdefghijklmnopqrstuvwxyz";
    SECTION("a later part, overlapping the start") {
        assign_bytes(out, std::string_view(out).substr(4, 20));
        CHECK(out == "456789abcdefghijklmn");
    }
    SECTION("the whole of it") {
        assign_bytes(out, out);
        CHECK(out == "0123456789abcdefghijklmnopqrstuvwxyz");
    }
}
