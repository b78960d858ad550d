// A disk_index store with compressed<Codec>: the codec compresses its tables' blocks whole,
// so JSON events of 110 bytes, which shrink by a few percent one at a time, take a
// fraction of their bytes once in tables, and get_view() hands out the decompressed
// bytes; and the MANIFEST binds the codec.

#include <catch2/catch.hpp>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"

namespace {

template <class... More>
using event_store = kvforge::store<std::uint64_t, std::string, kvforge::file_log, kvforge::disk_index, More...>;

constexpr std::uint64_t event_count = 50'000;

/// Writes the events, compacts and closes; gives the bytes of the store's files.
template <class Store>
std::uint64_t write_events(const std::string& path) {
    {
        Store store(path);
        for (std::uint64_t i = 0; i < event_count; ++i) store.put(i, kvforge_test::json_like_value(i, 110));
        store.compact();
    }
    std::uint64_t bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(path)) bytes += entry.file_size();
    return bytes;
}

}  // namespace

TEMPLATE_TEST_CASE("disk_index with compressed<Codec> compresses its tables' blocks", "[compression][disk_index]",
                   kvforge::zstd<3>, kvforge::lz4) {
    using compressed_store = event_store<kvforge::compressed<TestType>>;
    kvforge_test::temp_dir dir;
    const std::string plain_path = (dir.path() / "plain").string();
    const std::string path = (dir.path() / "compressed").string();
    const std::uint64_t plain = write_events<event_store<>>(plain_path);
    const std::uint64_t compressed = write_events<compressed_store>(path);
    INFO("plain " << plain << " bytes, compressed " << compressed);
    CHECK(compressed * 2 < plain);

    {
        compressed_store store(path);
        REQUIRE(store.size() == event_count);
        for (std::uint64_t i = 0; i < event_count; i += 13) {
            REQUIRE(store.get(i) == kvforge_test::json_like_value(i, 110));
        }
        std::uint64_t next = 0;
        for (const auto& [key, value] : store.scan(kvforge::ascending)) {
            REQUIRE(key == next);
            REQUIRE(value == kvforge_test::json_like_value(next, 110));
            ++next;
        }
        CHECK(next == event_count);
        CHECK(store.verify().ok());
        // get_view hands out the decompressed bytes, from the block cache's block.
        const auto view = store.get_view(77);
        REQUIRE(view);
        CHECK(view->bytes() == kvforge_test::json_like_value(77, 110));
    }

    // The MANIFEST names the codec: the store opens with it only.
    std::error_code ec;
    event_store<> without;
    without.open(path, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("compression"));
}
