// kvforge::compressed_compositions opens, from its path alone or from a spec that names
// its codec, every store kvforge's codecs write: zstd (at any level), lz4, a trained
// dictionary, each with and without expiry, whatever store, index or durability wrote it.

// GCC 12 at -O1 reports a jthread's stop_source as maybe used uninitialized when it
// inlines the many compositions open_store instantiates here (a false positive of the
// standard library's header, not of kvforge's code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <catch2/catch.hpp>

#include <kvforge/compression/compositions.hpp>
#include <kvforge/kvforge.hpp>
#include <kvforge/open_store.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <system_error>

#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::json_like_value;
using kvforge_test::temp_dir;

namespace {

template <class... Policies>
using string_store = kvforge::store<std::string, std::string, Policies...>;
using any_t = kvforge::any_store<std::string, std::string>;

constexpr std::size_t count = 200;

/// Writes count JSON-like values (and, when expiring, a deadline on the first) into a new store at path.
template <class Store>
void fill(const std::string& path) {
    Store db(path);
    for (std::size_t i = 0; i < count; ++i) db.put("k" + std::to_string(i), json_like_value(i, 300));
    if constexpr (Store::expiring) {
        db.put("k0", json_like_value(0, 300), std::chrono::hours(1));
        db.put("gone", "past", std::chrono::system_clock::now() - std::chrono::hours(1));
    }
}

/// Every value of any is the one fill wrote.
void check(any_t& any) {
    for (std::size_t i = 0; i < count; ++i) {
        INFO(i);
        CHECK(any.get("k" + std::to_string(i)) == std::optional<std::string>(json_like_value(i, 300)));
    }
    CHECK_FALSE(any.contains("gone"));
}

template <class Store>
void opens_from_path_and_spec(const std::string& compression_word) {
    temp_dir dir;
    const std::string path = dir / "store";
    fill<Store>(path);
    {
        any_t any = kvforge::open_store<std::string, std::string, kvforge::compressed_compositions>(path);
        CHECK(any.composition().compression == compression_word);
        check(any);
        any.put("added", json_like_value(999, 300));
        CHECK(any.verify().damaged.empty());
    }
    any_t named = kvforge::open_store<std::string, std::string, kvforge::compressed_compositions>(
        "file_log,sorted," + compression_word + ":" + path);
    check(named);
    CHECK(named.get("added") == std::optional<std::string>(json_like_value(999, 300)));
}

}  // namespace

TEST_CASE("compressed_compositions opens stores of every codec of kvforge's", "[compression][open_store]") {
    SECTION("zstd, written at another level, a hash index and mmap_file") {
        opens_from_path_and_spec<
            string_store<kvforge::mmap_file, kvforge::hash_index, kvforge::compressed<kvforge::zstd<19>>>>("zstd");
    }
    SECTION("lz4, sync_each") {
        opens_from_path_and_spec<string_store<kvforge::file_log, kvforge::sync_each, kvforge::compressed<kvforge::lz4>>>(
            "lz4");
    }
    SECTION("zstd_trained") {
        opens_from_path_and_spec<string_store<kvforge::file_log, kvforge::compressed<kvforge::zstd_trained<>>>>(
            "zstd-trained");
    }
    SECTION("zstd, expiring") {
        opens_from_path_and_spec<
            string_store<kvforge::file_log, kvforge::expiring<>, kvforge::compressed<kvforge::zstd<3>>>>("zstd");
    }
    SECTION("lz4, expiring, thread_safe") {
        opens_from_path_and_spec<string_store<kvforge::file_log, kvforge::thread_safe, kvforge::expiring<>,
                                              kvforge::compressed<kvforge::lz4>>>("lz4");
    }
}

TEST_CASE("a spec naming a codec other than the store's is refused", "[compression][open_store]") {
    temp_dir dir;
    const std::string path = dir / "store";
    fill<string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>>(path);
    std::error_code ec;
    auto any =
        kvforge::open_store<std::string, std::string, kvforge::compressed_compositions>("file_log,zstd:" + path, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("compression: written with 'lz4', opened with 'zstd'"));
}
