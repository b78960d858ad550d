// The compression codec concept and the framing around it, with codecs written here:
// one that works (run-length encoding) and some that fail in each way a codec can.

#include <catch2/catch.hpp>

#include <kvforge/compression/codec.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace {

/// Run-length encoding: each run of up to 255 equal bytes becomes (count, byte).
struct run_length {
    static constexpr std::string_view name = "run-length";

    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept { return 2 * size; }

    std::size_t compress(std::string_view input, char* output, std::size_t /*capacity*/) const {
        std::size_t written = 0;
        for (std::size_t i = 0; i < input.size();) {
            std::size_t run = 1;
            while (i + run < input.size() && run < 255 && input[i + run] == input[i]) ++run;
            output[written++] = static_cast<char>(run);
            output[written++] = input[i];
            i += run;
        }
        return written;
    }

    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        if (input.size() % 2 != 0) throw std::runtime_error("run-length: odd number of bytes");
        std::size_t written = 0;
        for (std::size_t i = 0; i < input.size(); i += 2) {
            const auto run = static_cast<unsigned char>(input[i]);
            if (run > size - written) throw std::runtime_error("run-length: more bytes than recorded");
            for (unsigned j = 0; j < run; ++j) output[written++] = input[i + 1];
        }
        return written;
    }
};

/// Decompresses one byte short: garbage of the wrong size.
struct short_by_one : run_length {
    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        return run_length::decompress(input, output, size) - 1;
    }
};

/// Throws from both calls.
struct throwing {
    static constexpr std::string_view name = "throwing";
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept { return size; }
    std::size_t compress(std::string_view, char*, std::size_t) const { throw std::runtime_error("no compress today"); }
    std::size_t decompress(std::string_view, char*, std::size_t) const { throw 42; }
};

/// Says it wrote more than the bound it gave.
struct over_bound : run_length {
    std::size_t compress(std::string_view, char*, std::size_t capacity) const { return capacity + 1; }
};

struct no_name {
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept { return size; }
    std::size_t compress(std::string_view, char*, std::size_t) const { return 0; }
    std::size_t decompress(std::string_view, char*, std::size_t) const { return 0; }
};

struct bound_may_throw : run_length {
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const { return size; }
};

}  // namespace

static_assert(kvforge::compression_codec<run_length>);
static_assert(kvforge::compression_codec<throwing>);
static_assert(!kvforge::compression_codec<no_name>);
static_assert(!kvforge::compression_codec<bound_may_throw>);
static_assert(!kvforge::compression_codec<int>);

TEST_CASE("a codec of the user's own round-trips values through compress_value", "[compression]") {
    const run_length codec;
    std::string compressed;
    std::string back;
    for (const std::string& value : {std::string(), std::string("a"), std::string(1000, 'x'), std::string("abcabc")}) {
        kvforge::compress_value(codec, value, compressed);
        kvforge::decompress_value(codec, compressed, back);
        CHECK(back == value);
    }
    kvforge::compress_value(codec, std::string(1000, 'x'), compressed);
    CHECK(compressed.size() == 2 + 2 * 4);  // the size 1000 as a varint, then four runs
    CHECK(kvforge::compressed_value_size(compressed) == 1000);
}

TEST_CASE("a codec that gives back another number of bytes than recorded gives an error, not the value",
          "[compression]") {
    std::string compressed;
    kvforge::compress_value(short_by_one{}, "hello, world", compressed);
    std::string back = "left over";
    std::error_code ec;
    kvforge::decompress_value(short_by_one{}, compressed, back, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(back.empty());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("gave 11 bytes where 12 were recorded"));
    CHECK_THROWS_AS(kvforge::decompress_value(short_by_one{}, compressed, back), kvforge::error);
}

TEST_CASE("a codec that throws gives errc::compression_failed naming the codec and its reason", "[compression]") {
    std::string out = "left over";
    std::error_code ec;
    kvforge::compress_value(throwing{}, "value", out, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(out.empty());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("with throwing: no compress today"));

    kvforge::decompress_value(throwing{}, std::string_view("\x05xxxxx", 6), out, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("an exception of an unknown type"));
    try {
        kvforge::compress_value(throwing{}, "value", out);
        FAIL("compress_value did not throw");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::compression_failed);
        CHECK_THAT(e.what(), Catch::Contains("no compress today"));
    }
}

TEST_CASE("a codec that writes past its bound is refused", "[compression]") {
    std::string out;
    std::error_code ec;
    kvforge::compress_value(over_bound{}, "value", out, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(out.empty());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("more than its bound"));
}

TEST_CASE("a compressed value without a valid size is refused before the codec runs", "[compression]") {
    std::string out;
    std::error_code ec;
    kvforge::decompress_value(throwing{}, "", out, ec);  // the codec would throw another message
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("does not start with a valid size"));
    // A size over kvforge::max_value_size: garbage must not make a store allocate gigabytes.
    std::string huge(10, '\xff');
    huge[9] = '\x01';
    kvforge::decompress_value(throwing{}, huge, out, ec);
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("does not start with a valid size"));
}
