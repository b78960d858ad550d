// kvforge::compressed<Codec> on every store policy: values come back as they were through
// every read, the bytes on disk are those docs/format.md describes, the MANIFEST binds the
// codec, and a codec that fails gives an error instead of a value.

#include <catch2/catch.hpp>

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/run_length_codec.hpp"
#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using kvforge_test::decoding;
using kvforge_test::json_like_value;
using kvforge_test::random_value;
using kvforge_test::read_file;
using kvforge_test::run_length;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;
using kvforge_test::tree;
using kvforge_test::write_file;
using namespace std::chrono_literals;

namespace {

static_assert(kvforge::compression_codec<run_length<>>);

/// The bytes of the store's data file (a file store in dir has one after close()).
std::string data_file_of(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".kvlog") return read_file(entry.path());
    }
    return {};
}

std::filesystem::path data_file_path(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".kvlog") return entry.path();
    }
    return {};
}

/// A test's store: a memory store, or a file store in a directory of its own that reopen() reopens.
template <class Store>
class test_store {
public:
    test_store() {
        if constexpr (Store::persistent) {
            db_.emplace(dir_ / "store");
        } else if constexpr (Store::cached) {
            db_.emplace(kvforge::options{.memory_budget = std::uint64_t{64} << 20});
        } else {
            db_.emplace();
        }
    }
    Store* operator->() { return &*db_; }
    Store& operator*() { return *db_; }
    void reopen() {
        if constexpr (Store::persistent) {
            db_.reset();
            db_.emplace(dir_ / "store");
        }
    }
    [[nodiscard]] std::filesystem::path path() const { return dir_.path() / "store"; }

private:
    temp_dir dir_;
    std::optional<Store> db_;
};

using std_string = std::string;
template <class... Ps>
using string_store = kvforge::store<std_string, std_string, Ps...>;

using compressed_configs = std::tuple<
    string_store<kvforge::memory, kvforge::compressed<kvforge::zstd<3>>>,
    string_store<kvforge::memory, kvforge::sorted_index, kvforge::compressed<kvforge::lz4>>,
    string_store<kvforge::memory, kvforge::bounded<>, kvforge::compressed<kvforge::lz4>>,
    string_store<kvforge::file_log, kvforge::sorted_index, kvforge::compressed<kvforge::zstd<3>>>,
    string_store<kvforge::file_log, kvforge::sync_each, kvforge::compressed<kvforge::lz4>>,
    string_store<kvforge::file_log, kvforge::read_cache<>, kvforge::thread_safe, kvforge::compressed<kvforge::zstd<1>>>,
    string_store<kvforge::mmap_file, kvforge::sorted_index, kvforge::compressed<kvforge::lz4>>,
    string_store<kvforge::mmap_file, kvforge::compressed<run_length<>>>,
    string_store<kvforge::mmap_file, kvforge::async_worker<>, kvforge::thread_safe, kvforge::compressed<run_length<>>>,
    string_store<kvforge::file_log, kvforge::sorted_index, kvforge::expiring<test_clock>,
                 kvforge::compressed<kvforge::zstd<3>>>>;

/// Values of every kind a store meets: empty, short, compressible, incompressible, large.
std::vector<std::pair<std::string, std::string>> sample_records() {
    std::vector<std::pair<std::string, std::string>> records = {
        {"empty", ""},
        {"short", "x"},
        {"below-minimum", std::string(63, 'a')},
        {"json-200", json_like_value(1, 200)},
        {"json-2k", json_like_value(2, 2048)},
        {"noise", random_value(3, 2048)},
        {"zeros", std::string(std::size_t{1} << 20, '\0')},
    };
    return records;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a compressed store hands back every value as it was, through every read",
                        "[compression][store]", compressed_configs) {
    test_store<TestType> db;
    const auto records = sample_records();
    for (const auto& [key, value] : records) db->put(key, value);
    kvforge::batch<std::string, std::string> b;
    b.put("batched", json_like_value(4, 1000));
    b.erase("short");
    db->write(b);
    std::vector<std::pair<std::string, std::string>> expected(records.begin(), records.end());
    expected.erase(expected.begin() + 1);
    expected.emplace_back("batched", json_like_value(4, 1000));

    const auto check_all = [&] {
        CHECK(db->size() == expected.size());
        CHECK_FALSE(db->contains("short"));
        for (const auto& [key, value] : expected) {
            CHECK(db->get(key) == value);
            std::string out = "left over";
            CHECK(db->get(key, out));
            CHECK(out == value);
            std::string visited;
            CHECK(db->visit(key, [&](std::string_view bytes) { visited = bytes; }));
            CHECK(visited == value);
        }
        std::vector<std::string> keys;
        for (const auto& record : expected) keys.push_back(record.first);
        keys.emplace_back("short");
        std::vector<std::optional<std::string>> out(keys.size());
        CHECK(db->get_many(keys, std::span(out)) == expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) CHECK(out[i] == expected[i].second);
        CHECK_FALSE(out.back().has_value());
        std::size_t seen = 0;
        db->for_each([&](const std::string& key, const std::string& value) {
            ++seen;
            for (const auto& record : expected) {
                if (record.first == key) CHECK(record.second == value);
            }
        });
        CHECK(seen == expected.size());
        if constexpr (TestType::index_policy::ordered) {
            std::vector<std::pair<std::string, std::string>> sorted = expected;
            std::sort(sorted.begin(), sorted.end());
            std::vector<std::pair<std::string, std::string>> up;
            for (auto&& [key, value] : db->scan()) up.emplace_back(key, value);
            CHECK(up == sorted);
            std::vector<std::pair<std::string, std::string>> down;
            for (auto&& [key, value] : db->scan(kvforge::descending)) down.emplace_back(key, value);
            std::reverse(down.begin(), down.end());
            CHECK(down == sorted);
        }
    };
    check_all();
    if constexpr (TestType::persistent) {
        db.reopen();
        check_all();
        db->compact();
        db.reopen();
        check_all();
        CHECK(db->verify().ok());
    }
}

TEST_CASE("values that do not shrink cost one byte, values that do are stored compressed",
          "[compression][store][persistence]") {
    using plain = string_store<kvforge::file_log>;
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    static_assert(compressed::max_value_size == kvforge::max_value_size - 1);
    temp_dir dir;
    constexpr int records = 100;
    const auto fill = [&](auto& db, auto make_value) {
        for (int i = 0; i < records; ++i) db.put("key" + std::to_string(i), make_value(static_cast<std::uint64_t>(i)));
        db.close();
    };
    const auto noise = [](std::uint64_t i) { return random_value(i, 2048); };
    const auto json = [](std::uint64_t i) { return json_like_value(i, 2048); };
    {
        plain a(dir / "plain-noise");
        fill(a, noise);
        compressed b(dir / "lz4-noise");
        fill(b, noise);
        plain c(dir / "plain-json");
        fill(c, json);
        compressed d(dir / "lz4-json");
        fill(d, json);
    }
    const std::size_t plain_noise = data_file_of(dir / "plain-noise").size();
    const std::size_t lz4_noise = data_file_of(dir / "lz4-noise").size();
    CHECK(lz4_noise == plain_noise + records);
    // The noise itself is on disk as it was, behind the raw flag.
    CHECK(data_file_of(dir / "lz4-noise").find('\0' + random_value(7, 2048)) != std::string::npos);
    CHECK(data_file_of(dir / "lz4-json").size() < data_file_of(dir / "plain-json").size() / 2);

    compressed reopened(dir / "lz4-json");
    CHECK(reopened.get("key7") == json_like_value(7, 2048));
    CHECK(reopened.stats().live_bytes < records * 1024);
}

TEST_CASE("values below options::compress_min_bytes are stored raw", "[compression][store][persistence]") {
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::zstd<3>>>;
    static_assert(kvforge::options{}.compress_min_bytes == 64);
    temp_dir dir;
    const std::string short_value(63, 'a');
    const std::string long_value(64, 'b');
    {
        compressed db(dir / "default");
        db.put("short", short_value);
        db.put("long", long_value);
    }
    const std::string data = data_file_of(dir / "default");
    CHECK(data.find("short" + std::string(1, '\0') + short_value) != std::string::npos);
    CHECK(data.find(long_value) == std::string::npos);

    kvforge::options every;
    every.compress_min_bytes = 0;
    {
        compressed db(dir / "every", every);
        db.put("short", short_value);
    }
    CHECK(data_file_of(dir / "every").find(short_value) == std::string::npos);
    compressed db(dir / "every");
    CHECK(db.get("short") == short_value);
    // live_bytes counts each value as stored, without its flag: a compressed one at its
    // compressed size, a raw one as it is.
    CHECK(db.stats().live_bytes < short_value.size() / 2);
    compressed raw(dir / "raw");
    raw.put("short", short_value);
    CHECK(raw.stats().live_bytes == std::string("short").size() + short_value.size());
}

TEST_CASE("a compressed value must fit max_value_size with its flag; a longer one writes nothing",
          "[compression][store][persistence]") {
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    using both = string_store<kvforge::file_log, kvforge::expiring<test_clock>, kvforge::compressed<kvforge::lz4>>;
    static_assert(both::max_value_size == kvforge::max_value_size - 10);
    temp_dir dir;
    // Incompressible, so that the largest value is stored raw and fills a record.
    const std::string largest = random_value(11, compressed::max_value_size);
    {
        compressed db(dir / "store");
        std::error_code ec;
        db.put("k", largest + "x", ec);
        CHECK(ec == kvforge::errc::value_too_large);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("1-byte compression flag"));
        kvforge::batch<std::string, std::string> b;
        b.put("k", largest + "x");
        db.write(b, ec);
        CHECK(ec == kvforge::errc::value_too_large);
        CHECK(db.size() == 0);
        db.put("k", largest);
    }
    {
        compressed db(dir / "store");
        CHECK(db.get("k") == largest);
        CHECK(db.verify().ok());
    }
    both db(dir / "both");
    std::error_code ec;
    db.put("k", largest, 1h, ec);
    CHECK(ec == kvforge::errc::value_too_large);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("9-byte expiry header"));
}

namespace {

/// Opens path as Store and returns the error it fails with, and its message.
template <class Store>
std::error_code open_error(const std::string& path, std::string& message) {
    Store db;
    std::error_code ec;
    db.open(path, kvforge::options{}, {}, ec);
    message = kvforge::last_error_message();
    CHECK_FALSE(db.is_open());
    return ec;
}

}  // namespace

TEST_CASE("the MANIFEST binds the codec: a store opens only with the codec it was written with",
          "[compression][store][persistence][manifest]") {
    using plain = string_store<kvforge::file_log>;
    using zstd_store = string_store<kvforge::file_log, kvforge::compressed<kvforge::zstd<3>>>;
    using zstd_19 = string_store<kvforge::mmap_file, kvforge::compressed<kvforge::zstd<19>>>;
    using lz4_store = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    temp_dir dir;
    {
        zstd_store db(dir / "zstd");
        db.put("k", json_like_value(1, 500));
        plain p(dir / "plain");
        p.put("k", "v");
    }
    CHECK(read_file(dir / "zstd/MANIFEST").find("\ncompression zstd\n") != std::string::npos);
    const auto zstd_files = tree(dir / "zstd");
    const auto plain_files = tree(dir / "plain");
    std::string message;
    CHECK(open_error<plain>(dir / "zstd", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("compression: written with 'zstd', opened with 'none'"));
    CHECK_THAT(message, Catch::Contains("kvforge::compressed<Codec> of a codec whose name is 'zstd'"));
    CHECK(open_error<lz4_store>(dir / "zstd", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("compression: written with 'zstd', opened with 'lz4'"));
    CHECK(open_error<lz4_store>(dir / "plain", message) == kvforge::errc::codec_mismatch);
    CHECK_THAT(message, Catch::Contains("compression: written with 'none', opened with 'lz4'"));
    CHECK_THAT(message, Catch::Contains("without kvforge::compressed<>"));
    CHECK(tree(dir / "zstd") == zstd_files);
    CHECK(tree(dir / "plain") == plain_files);

    // The level is a setting, not a format: any zstd level reads what another wrote.
    zstd_19 other_level(dir / "zstd");
    CHECK(other_level.get("k") == json_like_value(1, 500));
}

TEST_CASE("a store without a MANIFEST is refused unchanged by a compressed open", "[compression][store][persistence]") {
    using plain = string_store<kvforge::file_log>;
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    temp_dir dir;
    {
        plain db(dir / "store");
        db.put("k", "value");
    }
    std::filesystem::remove(dir / "store/MANIFEST");
    const auto files = tree(dir / "store");
    std::string message;
    // A format 2 store without its MANIFEST lost it: no open guesses what it was.
    CHECK(open_error<compressed>(dir / "store", message) == kvforge::errc::corrupt_header);
    CHECK_THAT(message, Catch::Contains("MANIFEST is missing"));
    CHECK(open_error<plain>(dir / "store", message) == kvforge::errc::corrupt_header);
    CHECK(tree(dir / "store") == files);
    // An empty directory becomes a compressed store.
    compressed fresh(dir / "fresh");
    fresh.put("k", "value");
    CHECK(fresh.get("k") == "value");
}

TEST_CASE("kvforge::copy moves a plain store's records into a compressed one and back",
          "[compression][store][persistence]") {
    using plain = string_store<kvforge::file_log, kvforge::sorted_index>;
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::zstd<3>>>;
    temp_dir dir;
    plain source(dir / "plain");
    for (int i = 0; i < 50; ++i)
        source.put("k" + std::to_string(i), json_like_value(static_cast<std::uint64_t>(i), 800));
    compressed packed(dir / "packed");
    CHECK(kvforge::copy(source, packed) == 50);
    plain back(dir / "back");
    CHECK(kvforge::copy(packed, back) == 50);
    for (auto&& [key, value] : source.scan()) CHECK(back.get(key) == value);
    CHECK(packed.stats().live_bytes < source.stats().live_bytes / 2);
}

TEST_CASE("open_store refuses a compressed store it has no codec for", "[compression][store][manifest]") {
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::zstd<3>>>;
    temp_dir dir;
    {
        compressed db(dir / "store");
        db.put("k", json_like_value(1, 500));
    }
    const auto files = tree(dir / "store");
    std::error_code ec;
    auto any = kvforge::open_store<std::string, std::string>(dir / "store", ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("compression: written with 'zstd', opened with 'none'"));
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("kvforge::compressed_compositions"));
    CHECK(tree(dir / "store") == files);
}

TEST_CASE("open_store opens a compressed store when its composition list names the codec",
          "[compression][store][manifest]") {
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    using with_lz4 = kvforge::composition_list<kvforge::policies<kvforge::file_log, kvforge::compressed<kvforge::lz4>>,
                                               kvforge::policies<kvforge::file_log>>;
    temp_dir dir;
    {
        compressed db(dir / "store");
        db.put("k", json_like_value(1, 500));
    }
    auto any = kvforge::open_store<std::string, std::string, with_lz4>(dir / "store");
    CHECK(any.get("k") == json_like_value(1, 500));
    any.put("j", json_like_value(2, 500));
    any.close();
    compressed db(dir / "store");
    CHECK(db.get("j") == json_like_value(2, 500));
}

TEST_CASE("an expiring compressed store keeps the deadline header in front of the flag",
          "[compression][store][expiry][persistence]") {
    using both = string_store<kvforge::file_log, kvforge::expiring<test_clock>, kvforge::compressed<kvforge::zstd<3>>>;
    temp_dir dir;
    const std::string value = json_like_value(5, 2048);
    const auto deadline = test_clock::now() + 1h;
    {
        both db(dir / "store");
        db.put("timed", value, deadline);
        db.put("plain", value);
        db.put("short", "abc", 2h);
    }
    const std::string data = data_file_of(dir / "store");
    CHECK(data.find(value) == std::string::npos);
    // The tag and the deadline (little-endian ticks), then the compressed flag.
    std::string header = "timed\x01";
    const auto ticks = static_cast<std::uint64_t>(deadline.time_since_epoch().count());
    for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>(ticks >> (8 * i)));
    header.push_back('\x01');
    CHECK(data.find(header) != std::string::npos);
    CHECK(data.find(std::string("plain\x00\x01", 7)) != std::string::npos);
    CHECK(data.find(std::string("\x00"
                                "abc",
                                4)) != std::string::npos);

    both db(dir / "store");
    CHECK(db.get("timed") == value);
    CHECK(db.expiry("timed") == deadline);
    CHECK(db.get("short") == "abc");
    test_clock::advance(1h);
    CHECK_FALSE(db.get("timed").has_value());
    CHECK(db.get("plain") == value);
    CHECK(db.purge_expired() == 1);
    CHECK(db.size() == 2);
    test_clock::advance(1h);
    CHECK(db.size() == 1);
}

TEST_CASE("a read cache over a compressed store serves the latest value", "[compression][store][cache]") {
    using cached = string_store<kvforge::file_log, kvforge::read_cache<>, kvforge::compressed<kvforge::lz4>>;
    temp_dir dir;
    cached db(dir / "store");
    db.put("k", json_like_value(1, 2048));
    CHECK(db.get("k") == json_like_value(1, 2048));
    CHECK(db.get("k") == json_like_value(1, 2048));
    CHECK(db.stats().hits >= 1);
    db.put("k", json_like_value(2, 2048));
    CHECK(db.get("k") == json_like_value(2, 2048));
    db.close();
    db.open(dir / "store");
    CHECK(db.get("k") == json_like_value(2, 2048));
}

TEMPLATE_TEST_CASE("a codec that fails to decompress gives errc::compression_failed, never a value",
                   "[compression][store]", run_length<decoding::throws>, run_length<decoding::short_by_one>) {
    using broken = string_store<kvforge::memory, kvforge::sorted_index, kvforge::compressed<TestType>>;
    broken db;
    db.put("raw", "tiny");
    db.put("packed", std::string(100, 'z'));
    CHECK(db.get("raw") == "tiny");
    std::error_code ec;
    CHECK_FALSE(db.get("packed", ec).has_value());
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_THROWS_AS(db.get("packed"), kvforge::error);
    std::string out;
    CHECK_FALSE(db.get("packed", out, ec));
    CHECK(ec == kvforge::errc::compression_failed);
    bool called = false;
    CHECK_FALSE(db.visit(
        "packed", [&](std::string_view) { called = true; }, ec));
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK_FALSE(called);
    std::vector<std::string> keys = {"raw", "packed"};
    std::vector<std::optional<std::string>> values(2);
    db.get_many(keys, std::span(values), ec);
    CHECK(ec == kvforge::errc::compression_failed);
    std::size_t scanned = 0;
    for (auto&& record : db.scan(kvforge::ascending, ec)) {
        (void)record;
        ++scanned;
    }
    CHECK(ec == kvforge::errc::compression_failed);
    CHECK(scanned == 0);  // "packed" sorts first, and the scan stops there
    CHECK_THROWS_AS(db.for_each([](const std::string&, const std::string&) {}), kvforge::error);
}

TEST_CASE("a damaged compressed record is caught by its checksum, not handed out",
          "[compression][store][persistence]") {
    using compressed = string_store<kvforge::file_log, kvforge::compressed<kvforge::lz4>>;
    temp_dir dir;
    const std::string value = json_like_value(9, 2048);
    {
        compressed db(dir / "store");
        db.put("damaged", value);
        db.put("intact", json_like_value(10, 2048));
    }
    const std::filesystem::path data_path = data_file_path(dir / "store");
    std::string data = read_file(data_path);
    // The flag and the varint size of 2048 (0x80 0x10) start the first record's stored value.
    const std::size_t at = data.find(std::string("damaged\x01\x80\x10", 10));
    REQUIRE(at != std::string::npos);
    data[at + 20] = static_cast<char>(data[at + 20] ^ 0x5a);
    write_file(data_path, data);

    {
        // The hint file lets the open skip the values; the read checks the record's CRC.
        compressed db(dir / "store");
        std::error_code ec;
        CHECK_FALSE(db.get("damaged", ec).has_value());
        CHECK(ec == kvforge::errc::corrupt_record);
        CHECK(db.get("intact") == json_like_value(10, 2048));
    }
    // Without the hint file the open reads every record and stops at the damaged one.
    for (const auto& entry : std::filesystem::directory_iterator(dir / "store")) {
        if (entry.path().extension() == ".kvhint") std::filesystem::remove(entry.path());
    }
    std::string message;
    CHECK(open_error<compressed>(dir / "store", message) == kvforge::errc::corrupt_record);
    kvforge::options salvage;
    salvage.salvage = true;
    compressed salvaged(dir / "store", salvage);
    CHECK_FALSE(salvaged.contains("damaged"));
    CHECK(salvaged.get("intact") == json_like_value(10, 2048));
}
