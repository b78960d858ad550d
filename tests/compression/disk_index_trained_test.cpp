// A disk_index store with compressed<zstd_trained<N>>: compact() trains a dictionary from
// samples the size of a block and keeps it only when it makes them smaller, the tables
// written after it compress their blocks with it, and the dictionaries no table needs are
// retired. The tables read back after reopens, from a backup and in a snapshot; a table
// whose dictionary is lost is an error naming the file.

#include <catch2/catch.hpp>

#include <kvforge/compression/zstd.hpp>
#include <kvforge/compression/zstd_trained.hpp>
#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

template <class Compression, class Threading = kvforge::single_thread>
using json_table_store = kvforge::store<std::uint64_t, std::string, kvforge::file_log, kvforge::disk_index,
                                        kvforge::compressed<Compression>, Threading>;

constexpr std::uint64_t json_count = 20'000;

/// Value i of round: JSON-like records of 200 bytes, other ones each round.
std::string json_value(std::uint64_t round, std::uint64_t i) {
    return kvforge_test::json_like_value(round * json_count + i, 200);
}

template <class Store>
void put_round(Store& db, std::uint64_t round) {
    for (std::uint64_t i = 0; i < json_count; ++i) db.put(i, json_value(round, i));
}

template <class Store>
void check_round(const Store& db, std::uint64_t round) {
    REQUIRE(db.size() == json_count);
    std::uint64_t wrong = 0;
    for (std::uint64_t i = 0; i < json_count; ++i) wrong += db.get(i) == json_value(round, i) ? 0 : 1;
    CHECK(wrong == 0);
}

/// The numbers of the dictionary files in path, in order.
std::vector<std::uint32_t> dictionaries_in(const fs::path& path) {
    std::vector<std::uint32_t> numbers;
    for (const auto& entry : fs::directory_iterator(path)) {
        unsigned number = 0;
        if (std::sscanf(entry.path().filename().string().c_str(), "dictionary-%u.zstd", &number) == 1) {
            numbers.push_back(number);
        }
    }
    std::sort(numbers.begin(), numbers.end());
    return numbers;
}

/// The bytes of the store's tables.
std::uint64_t table_bytes(const fs::path& path) {
    std::uint64_t bytes = 0;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvtable") bytes += entry.file_size();
    }
    return bytes;
}

}  // namespace

TEMPLATE_TEST_CASE("disk_index with zstd_trained: tables compressed with a trained dictionary are smaller than "
                   "zstd's, and read back",
                   "[compression][trained][disk_index]", kvforge::single_thread, kvforge::thread_safe) {
    using trained_store = json_table_store<kvforge::zstd_trained<3>, TestType>;
    kvforge_test::temp_dir dir;
    const fs::path plain_path = dir / "zstd";
    const fs::path path = dir / "trained";
    const fs::path copy = dir / "backup";
    {
        json_table_store<kvforge::zstd<3>> db(plain_path.string());
        put_round(db, 0);
        db.compact();
        db.compact();
    }
    {
        trained_store db(path.string());
        put_round(db, 0);
        db.compact();  // trains dictionary 1
        CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{1});
        db.compact();  // the tables compressed with 1; trains 2
        CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{1, 2});
        db.backup(copy.string());
    }
    const std::uint64_t plain = table_bytes(plain_path);
    const std::uint64_t trained = table_bytes(path);
    INFO("tables: " << plain << " bytes with zstd<3>, " << trained << " with a trained dictionary");
    CHECK(trained * 10 < plain * 9);
    CHECK(dictionaries_in(copy) == std::vector<std::uint32_t>{1, 2});
    check_round(trained_store(copy.string()), 0);

    trained_store db(path.string());
    check_round(db, 0);
    {
        // A snapshot keeps reading the tables, and their dictionary, that compact() replaces.
        auto snap = db.snapshot();
        put_round(db, 1);
        db.compact();  // the tables compressed with 2; retires 1, trains 3
        check_round(snap, 0);
    }
    CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{2, 3});
    check_round(db, 1);
    db.close();
    check_round(trained_store(path.string()), 1);
}

TEST_CASE("disk_index with zstd_trained: a table whose dictionary is missing is an error naming the file",
          "[compression][trained][disk_index]") {
    using trained_store = json_table_store<kvforge::zstd_trained<3>>;
    kvforge_test::temp_dir dir;
    const fs::path path = dir / "store";
    {
        trained_store db(path.string());
        put_round(db, 0);
        db.compact();
        db.compact();  // the tables compressed with dictionary 1
    }
    const fs::path file = path / kvforge::detail::store_file_name::dictionary(1).str();
    REQUIRE(fs::remove(file));
    std::string message;
    try {
        trained_store db(path.string());
        for (std::uint64_t i = 0; i < json_count; ++i) (void)db.get(i);
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::corrupt_record);
        message = e.what();
    }
    CHECK_THAT(message, Catch::Contains(file.string()) && Catch::Contains("missing"));
}

TEST_CASE("disk_index with zstd_trained: a dictionary that makes no block smaller is not kept",
          "[compression][trained][disk_index]") {
    // Records alike but for counters: zstd finds their repeats within a block, and a
    // dictionary trained from them only makes the blocks larger.
    using trained_store = json_table_store<kvforge::zstd_trained<3>>;
    kvforge_test::temp_dir dir;
    const fs::path path = dir / "store";
    trained_store db(path.string());
    for (std::uint64_t i = 0; i < 100'000; ++i) {
        char value[200];
        std::snprintf(value, sizeof value,
                      "{\"ts\":%llu,\"user\":\"u%05llu\",\"event\":\"click\",\"page\":\"/p/%llu\",\"ms\":%llu}",
                      static_cast<unsigned long long>(1700000000 + i), static_cast<unsigned long long>(i % 977),
                      static_cast<unsigned long long>(i % 131), static_cast<unsigned long long>(i % 1000));
        db.put(i, value);
    }
    db.compact();
    CHECK(dictionaries_in(path).empty());
    CHECK(db.size() == 100'000);
}
