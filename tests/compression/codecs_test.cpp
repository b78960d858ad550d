// zstd and lz4 through compress_value and decompress_value: values of every kind come back
// as they were, and damaged or mislabelled bytes give an error instead of a value.

#include <catch2/catch.hpp>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support/sample_values.hpp"

using kvforge_test::json_like_value;
using kvforge_test::random_value;

static_assert(kvforge::compression_codec<kvforge::zstd<>>);
static_assert(kvforge::compression_codec<kvforge::zstd<22>>);
static_assert(kvforge::compression_codec<kvforge::lz4>);
static_assert(kvforge::zstd<>::level == 3);

TEMPLATE_TEST_CASE("codecs round-trip empty, small, large, incompressible and repetitive values", "[compression]",
                   kvforge::zstd<1>, kvforge::zstd<3>, kvforge::zstd<19>, kvforge::lz4) {
    const TestType codec;
    std::string compressed;
    std::string back = "left over";
    const auto round_trip = [&](const std::string& value) {
        kvforge::compress_value(codec, value, compressed);
        kvforge::decompress_value(codec, compressed, back);
        return back == value;
    };
    CHECK(round_trip(""));
    CHECK(round_trip("x"));
    CHECK(round_trip(json_like_value(1, 200)));
    CHECK(round_trip(json_like_value(2, 2048)));

    std::string large;
    for (std::uint64_t i = 0; large.size() < (std::size_t{1} << 20); ++i) large += json_like_value(i, 2048);
    CHECK(round_trip(large));
    CHECK(compressed.size() < large.size() / 2);

    const std::string noise = random_value(3, 65536);
    CHECK(round_trip(noise));
    CHECK(compressed.size() <= codec.max_compressed_size(noise.size()) + 3);

    const std::string zeros(std::size_t{4} << 20, '\0');
    CHECK(round_trip(zeros));
    CHECK(compressed.size() < zeros.size() / 200);
}

TEMPLATE_TEST_CASE("damaged compressed values give errc::compression_failed, never a value", "[compression]",
                   kvforge::zstd<3>, kvforge::lz4) {
    const TestType codec;
    const std::string value = json_like_value(7, 2048);
    std::string compressed;
    kvforge::compress_value(codec, value, compressed);
    const std::size_t prefix = 2;  // 2048 as a varint
    REQUIRE(kvforge::compressed_value_size(compressed) == value.size());

    std::string back;
    std::error_code ec;
    const auto refused = [&](const std::string& damaged) {
        back = "left over";
        kvforge::decompress_value(codec, damaged, back, ec);
        return ec == kvforge::errc::compression_failed && back.empty();
    };
    SECTION("cut short") { CHECK(refused(compressed.substr(0, compressed.size() - 1))); }
    SECTION("cut to the size alone") { CHECK(refused(compressed.substr(0, prefix))); }
    SECTION("a larger size recorded") {
        std::string damaged = compressed;
        damaged[0] = static_cast<char>(damaged[0] + 1);  // 2049
        CHECK(refused(damaged));
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(std::string(TestType::name)));
    }
    SECTION("a smaller size recorded") {
        std::string damaged = compressed;
        damaged[0] = static_cast<char>(damaged[0] - 1);  // 2047
        CHECK(refused(damaged));
    }
    SECTION("every byte of the codec's output overwritten") {
        std::string damaged = compressed;
        for (std::size_t i = prefix; i < damaged.size(); ++i) damaged[i] = '\xa5';
        CHECK(refused(damaged));
    }
}

TEST_CASE("zstd refuses lz4's bytes", "[compression]") {
    std::string compressed;
    kvforge::compress_value(kvforge::lz4{}, json_like_value(8, 200), compressed);
    std::string back;
    std::error_code ec;
    kvforge::decompress_value(kvforge::zstd<>{}, compressed, back, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("zstd decompress"));
}

TEMPLATE_TEST_CASE("codecs serve many threads at once, each with its own context", "[compression]", kvforge::zstd<3>,
                   kvforge::lz4) {
    const TestType codec;
    std::vector<int> failures(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < failures.size(); ++t) {
        threads.emplace_back([&codec, &failures, t] {
            std::string compressed;
            std::string back;
            for (std::uint64_t i = 0; i < 300; ++i) {
                const std::string value = json_like_value(t * 1000 + i, 200 + 10 * i);
                kvforge::compress_value(codec, value, compressed);
                kvforge::decompress_value(codec, compressed, back);
                if (back != value) ++failures[t];
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    CHECK(failures == std::vector<int>(4, 0));
}
