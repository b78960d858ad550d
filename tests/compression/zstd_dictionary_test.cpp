// zstd with a trained dictionary: it round-trips, gains on small values, survives being
// saved and loaded, and refuses frames written with another dictionary or none.

#include <catch2/catch.hpp>

#include <kvforge/compression/zstd_dictionary.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "../support/sample_values.hpp"

using kvforge_test::json_like_value;
using dictionary_t = kvforge::zstd_dictionary<3>;

static_assert(kvforge::compression_codec<dictionary_t>);

namespace {

std::vector<std::string> json_samples(std::uint64_t first, std::size_t count, std::size_t size) {
    std::vector<std::string> samples;
    for (std::uint64_t i = first; i < first + count; ++i) samples.push_back(json_like_value(i, size));
    return samples;
}

template <class Codec>
std::size_t compressed_bytes(const Codec& codec, const std::vector<std::string>& values) {
    std::size_t total = 0;
    std::string compressed;
    for (const std::string& value : values) {
        kvforge::compress_value(codec, value, compressed);
        total += compressed.size();
    }
    return total;
}

}  // namespace

TEST_CASE("a trained dictionary round-trips small values and makes them smaller than zstd alone", "[compression]") {
    const dictionary_t dictionary = dictionary_t::train(json_samples(0, 2000, 200), 8192);
    CHECK(dictionary.id() != 0);
    CHECK(!dictionary.bytes().empty());
    CHECK(dictionary.bytes().size() <= 8192);

    const std::vector<std::string> values = json_samples(100000, 200, 200);  // not among the samples
    std::string compressed;
    std::string back;
    for (const std::string& value : values) {
        kvforge::compress_value(dictionary, value, compressed);
        kvforge::decompress_value(dictionary, compressed, back);
        REQUIRE(back == value);
    }
    const std::size_t with_dictionary = compressed_bytes(dictionary, values);
    const std::size_t without = compressed_bytes(kvforge::zstd<3>{}, values);
    INFO("200 values of 200 bytes: " << with_dictionary << " bytes with the dictionary, " << without << " without");
    CHECK(with_dictionary * 3 < without * 2);

    kvforge::compress_value(dictionary, "", compressed);
    kvforge::decompress_value(dictionary, compressed, back);
    CHECK(back.empty());
}

TEST_CASE("a dictionary loaded from its bytes reads what the trained one wrote", "[compression]") {
    const dictionary_t trained = dictionary_t::train(json_samples(0, 1000, 200), 4096);
    const dictionary_t loaded = dictionary_t::load(std::string(trained.bytes()));
    CHECK(loaded.id() == trained.id());
    const std::string value = json_like_value(5000, 200);
    std::string compressed;
    std::string back;
    kvforge::compress_value(trained, value, compressed);
    kvforge::decompress_value(loaded, compressed, back);
    CHECK(back == value);
}

TEST_CASE("a frame written with another dictionary, or none, is refused naming the ids", "[compression]") {
    const dictionary_t first = dictionary_t::train(json_samples(0, 1000, 200), 4096);
    const dictionary_t second = dictionary_t::train(json_samples(50000, 1000, 300), 4096);
    REQUIRE(first.id() != second.id());
    const std::string value = json_like_value(9, 200);
    std::string compressed;
    std::string back = "left over";
    std::error_code ec;

    kvforge::compress_value(first, value, compressed);
    kvforge::decompress_value(second, compressed, back, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(back.empty());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("compressed with dictionary " + std::to_string(first.id()) +
                                                              ", not with dictionary " + std::to_string(second.id())));

    kvforge::decompress_value(kvforge::zstd<3>{}, compressed, back, ec);  // zstd without the dictionary
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(back.empty());

    kvforge::compress_value(kvforge::zstd<3>{}, value, compressed);
    kvforge::decompress_value(first, compressed, back, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("compressed with no dictionary"));
}

TEST_CASE("training from too few samples and loading bytes that are no dictionary fail with invalid_argument",
          "[compression]") {
    std::error_code ec;
    const std::vector<std::string> few = json_samples(0, 3, 20);
    CHECK(!dictionary_t::train(few, 4096, ec));
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("give more samples"));
    CHECK_THROWS_AS(dictionary_t::train(few), kvforge::error);

    CHECK(!dictionary_t::load("not a dictionary", ec));
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("not a trained zstd dictionary"));
}
