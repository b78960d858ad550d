// The built-in codecs, their order, and a user codec.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

/// A user type with a string inside: not trivially copyable, so it needs its own codec.
struct user_record {
    std::string name;
    std::uint32_t age = 0;
    bool operator==(const user_record&) const = default;
};

/// Refuses to decode bytes starting with '!', to exercise the decode-failure path.
struct picky {
    std::string text;
    bool operator==(const picky&) const = default;
};

}  // namespace

template <>
struct kvforge::codec<picky> {
    static std::string name() { return "picky.v1"; }
    static std::string_view encode(const picky& p, std::string&) { return p.text; }
    static bool decode(std::string_view bytes, picky& out) {
        if (!bytes.empty() && bytes[0] == '!') return false;
        out.text.assign(bytes);
        return true;
    }
};

template <>
struct kvforge::codec<user_record> {
    static std::string name() { return "user_record.v1"; }
    static std::string_view encode(const user_record& r, std::string& scratch) {
        scratch.assign(reinterpret_cast<const char*>(&r.age), sizeof r.age);
        scratch += r.name;
        return scratch;
    }
    static bool decode(std::string_view bytes, user_record& out) {
        if (bytes.size() < sizeof out.age) return false;
        std::memcpy(&out.age, bytes.data(), sizeof out.age);
        out.name.assign(bytes.substr(sizeof out.age));
        return true;
    }
};

namespace {

template <class T>
std::string encoded(const T& value) {
    std::string scratch;
    return std::string(kvforge::codec<T>::encode(value, scratch));
}

template <class T>
void check_round_trip_and_order(std::vector<T> ascending) {
    for (std::size_t i = 0; i < ascending.size(); ++i) {
        T decoded{};
        REQUIRE(kvforge::codec<T>::decode(encoded(ascending[i]), decoded));
        CHECK(decoded == ascending[i]);
        if (i > 0) CHECK(encoded(ascending[i - 1]) < encoded(ascending[i]));
    }
}

struct pixel {
    std::uint8_t r, g, b, a;
    bool operator==(const pixel&) const = default;
};

}  // namespace

TEST_CASE("integer codecs preserve numeric order in their bytes", "[codec]") {
    check_round_trip_and_order<std::int32_t>({std::numeric_limits<std::int32_t>::min(), -70000, -1, 0, 1, 255, 256,
                                              std::numeric_limits<std::int32_t>::max()});
    check_round_trip_and_order<std::uint64_t>({0, 1, 255, 256, 1ULL << 40, std::numeric_limits<std::uint64_t>::max()});
    check_round_trip_and_order<std::int8_t>({-128, -1, 0, 1, 127});
    CHECK(encoded(std::uint16_t{0x0102}) == std::string("\x01\x02", 2));
}

TEST_CASE("floating-point codecs preserve numeric order in their bytes", "[codec]") {
    check_round_trip_and_order<double>({-std::numeric_limits<double>::infinity(), -1e300, -2.5, -0.0, 0.0, 1e-300,
                                        2.5, std::numeric_limits<double>::infinity()});
    check_round_trip_and_order<float>({-3.5f, -1.0f, 0.0f, 0.25f, 1e30f});
}

TEST_CASE("decoding bytes of the wrong size fails", "[codec]") {
    std::int64_t out = 0;
    CHECK_FALSE(kvforge::codec<std::int64_t>::decode("abc", out));
    pixel p{};
    CHECK_FALSE(kvforge::codec<pixel>::decode("toolong", p));
}

TEST_CASE("the string codec decodes into a string of any size, even from a view of itself", "[codec]") {
    std::string out = "a previous, longer value";
    REQUIRE(kvforge::codec<std::string>::decode("short", out));
    CHECK(out == "short");
    REQUIRE(kvforge::codec<std::string>::decode("a value longer than the one before", out));
    CHECK(out == "a value longer than the one before");
    REQUIRE(kvforge::codec<std::string>::decode(std::string_view(out).substr(2, 5), out));
    CHECK(out == "value");
    REQUIRE(kvforge::codec<std::string>::decode(std::string_view(), out));
    CHECK(out.empty());
}

TEST_CASE("byte vectors and padding-free structs are stored by their bytes", "[codec]") {
    const std::vector<std::byte> bytes = {std::byte{0}, std::byte{0xff}, std::byte{7}};
    CHECK(encoded(bytes) == std::string("\0\xff\x07", 3));
    CHECK(encoded(pixel{1, 2, 3, 4}) == "\x01\x02\x03\x04");
    CHECK(kvforge::codec<pixel>::name() == "raw4");
    CHECK(kvforge::codec<std::int32_t>::name() == "int32.be");
    CHECK(kvforge::codec<double>::name() == "float64.be");
}

TEST_CASE("which types have a codec", "[codec]") {
    struct padded {
        char c;
        std::int64_t x;
    };
    STATIC_REQUIRE(kvforge::encodable<std::string>);
    STATIC_REQUIRE(kvforge::encodable<std::vector<unsigned char>>);
    STATIC_REQUIRE(kvforge::encodable<pixel>);
    STATIC_REQUIRE(kvforge::encodable<user_record>);
    STATIC_REQUIRE_FALSE(kvforge::encodable<padded>);
    STATIC_REQUIRE_FALSE(kvforge::encodable<std::string_view>);
    STATIC_REQUIRE_FALSE(kvforge::encodable<int*>);
}

TEST_CASE("integer keys scan in numeric order in a sorted store", "[codec][scan]") {
    kvforge::store<std::int64_t, std::string, kvforge::sorted_index> db;
    const std::vector<std::int64_t> keys = {5, -3, 1000000, 0, -1000000, 42, -1, 256, 255};
    for (auto k : keys) db.put(k, std::to_string(k));
    std::vector<std::int64_t> seen;
    for (auto&& [k, v] : db.scan()) {
        CHECK(v == std::to_string(k));
        seen.push_back(k);
    }
    CHECK(seen == std::vector<std::int64_t>{-1000000, -3, -1, 0, 5, 42, 255, 256, 1000000});

    seen.clear();
    for (auto&& [k, v] : db.scan(-3, 42)) seen.push_back(k);
    CHECK(seen == std::vector<std::int64_t>{-3, -1, 0, 5});
}

TEST_CASE("a user codec stores its own type as key or value", "[codec]") {
    kvforge::store<std::uint32_t, user_record, kvforge::sorted_index> db;
    db.put(7, user_record{"alice", 31});
    db.put(3, user_record{"bob", 27});
    CHECK(db.get(7) == std::optional<user_record>(user_record{"alice", 31}));
    std::vector<std::string> names;
    db.for_each([&](std::uint32_t, const user_record& r) { names.push_back(r.name); });
    CHECK(names == std::vector<std::string>{"bob", "alice"});

    kvforge::store<user_record, int> by_record;
    by_record.put(user_record{"carol", 40}, 1);
    CHECK(by_record.get(user_record{"carol", 40}) == std::optional<int>(1));
    CHECK_FALSE(by_record.contains(user_record{"carol", 41}));
}

TEST_CASE("a value whose bytes the codec refuses is reported, not returned", "[codec]") {
    kvforge::store<std::string, picky> db;
    db.put("good", picky{"fine"});
    db.put("bad", picky{"!refused on the way back"});
    CHECK(db.get("good") == std::optional<picky>(picky{"fine"}));

    std::error_code ec;
    CHECK_FALSE(db.get("bad", ec).has_value());
    CHECK(ec == kvforge::errc::value_decode_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("picky.v1"));
    CHECK_THROWS_AS(db.get("bad"), kvforge::error);
    picky out;
    CHECK_FALSE(db.get("bad", out, ec));
    CHECK(ec == kvforge::errc::value_decode_failed);
}
