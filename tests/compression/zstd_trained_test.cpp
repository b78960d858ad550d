// kvforge::compressed<kvforge::zstd_trained<>>: the store trains zstd dictionaries from its
// own values at compact(), keeps them in its directory, and reads every value back across
// retrainings, reopens, snapshots and backups; a damaged or missing dictionary is an error,
// never a wrong value.

#include <catch2/catch.hpp>

#include <kvforge/compression/zstd.hpp>
#include <kvforge/compression/zstd_trained.hpp>
#include <kvforge/kvforge.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/sample_values.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::json_like_value;
using kvforge_test::random_value;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

using trained_store =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::compressed<kvforge::zstd_trained<3>>>;
using plain_zstd_store =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::compressed<kvforge::zstd<3>>>;

/// Enough 200-byte values for a training sample (zstd_trained::training_min_bytes).
constexpr std::size_t value_count = 6000;
constexpr std::size_t value_size = 200;

std::string key_of(std::size_t i) { return "user:" + std::to_string(i); }

/// Puts value_count JSON-like values, each seeded by round and its index.
template <class Store>
void put_all(Store& db, std::uint64_t round) {
    for (std::size_t i = 0; i < value_count; ++i)
        db.put(key_of(i), json_like_value(round * value_count + i, value_size));
}

/// Checks that every key holds the value put_all(round) gave it.
template <class Store>
void check_all(Store& db, std::uint64_t round) {
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < value_count; ++i) {
        if (db.get(key_of(i)) != json_like_value(round * value_count + i, value_size)) ++wrong;
    }
    CHECK(wrong == 0);
}

/// The numbers of the dictionary files in dir, in ascending order.
std::vector<std::uint32_t> dictionaries_in(const std::filesystem::path& dir) {
    std::vector<std::uint32_t> numbers;
    for (std::uint32_t n = 1; n <= 16; ++n) {
        if (std::filesystem::exists(dir / kvforge::detail::store_file_name::dictionary(n).str())) numbers.push_back(n);
    }
    return numbers;
}

}  // namespace

TEST_CASE("zstd_trained: values read back across two retrainings, compactions and reopens", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    {
        trained_store db{path.string()};
        put_all(db, 0);
        check_all(db, 0);
        CHECK(dictionaries_in(path).empty());

        db.compact();  // trains dictionary 1; the values stay compressed without one
        CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{1});
        check_all(db, 0);

        put_all(db, 1);  // compressed with dictionary 1
        check_all(db, 1);
        db.compact();  // trains dictionary 2; 1 was the newest while the values were walked
        CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{1, 2});
        check_all(db, 1);
    }
    {
        trained_store db{path.string()};
        check_all(db, 1);
        db.put("late", json_like_value(99, value_size));  // compressed with dictionary 2, the newest on disk
        put_all(db, 2);
        db.compact();  // no value needs dictionary 1 any more: it goes; trains 3
        CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{2, 3});
        check_all(db, 2);
        CHECK(db.get("late") == json_like_value(99, value_size));
    }
    trained_store db{path.string()};
    check_all(db, 2);
    CHECK(db.get("late") == json_like_value(99, value_size));
    CHECK(db.verify().damaged.empty());
}

TEST_CASE("zstd_trained: a reader's refresh() loads the dictionaries the writer trained since its open",
          "[compression][trained][readers]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    trained_store writer{path.string()};
    put_all(writer, 0);
    writer.sync();
    kvforge::options read_only;
    read_only.read_only = true;
    trained_store reader(path.string(), read_only);
    check_all(reader, 0);

    writer.compact();  // trains dictionary 1
    put_all(writer, 1);  // compressed with it
    writer.sync();
    CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{1});
    CHECK(reader.refresh() > 0);
    check_all(reader, 1);
}

TEST_CASE("zstd_trained: a dictionary makes small JSON-like values smaller than zstd alone", "[compression][trained]") {
    temp_dir dir;
    plain_zstd_store plain{dir / "plain"};
    trained_store trained{dir / "trained"};
    for (auto round : {0, 1}) {
        put_all(plain, static_cast<std::uint64_t>(round));
        put_all(trained, static_cast<std::uint64_t>(round));
        plain.compact();
        trained.compact();
    }
    check_all(trained, 1);
    const std::uint64_t plain_bytes = plain.stats().live_bytes;
    const std::uint64_t trained_bytes = trained.stats().live_bytes;
    INFO("zstd alone: " << plain_bytes << " bytes, with a trained dictionary: " << trained_bytes << " bytes");
    CHECK(trained_bytes * 10 < plain_bytes * 7);
    // On disk too: the data files after compaction, the dictionaries counted.
    const auto bytes_on_disk = [](const std::filesystem::path& store) {
        std::uint64_t total = 0;
        for (const auto& entry : std::filesystem::directory_iterator(store)) total += entry.file_size();
        return total;
    };
    plain.close();
    trained.close();
    CHECK(bytes_on_disk(dir / "trained") < bytes_on_disk(dir / "plain"));
}

TEST_CASE("zstd_trained: a damaged dictionary fails the open, naming the file", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    {
        trained_store db{path.string()};
        put_all(db, 0);
        db.compact();
        put_all(db, 1);
    }
    const std::filesystem::path file = path / kvforge::detail::store_file_name::dictionary(1).str();
    std::string bytes = read_file(file);
    REQUIRE(bytes.size() > 100);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
    write_file(file, bytes);

    trained_store db;
    std::error_code ec;
    db.open(path.string(), ec);
    CHECK(ec == kvforge::errc::corrupt_header);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains(file.string()));
    CHECK_FALSE(db.is_open());
}

TEST_CASE("zstd_trained: a value whose dictionary is missing is an error naming the file", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    {
        trained_store db{path.string()};
        put_all(db, 0);
        db.compact();
        put_all(db, 1);
    }
    const std::filesystem::path file = path / kvforge::detail::store_file_name::dictionary(1).str();
    std::filesystem::remove(file);

    trained_store db{path.string()};
    std::error_code ec;
    const std::optional<std::string> value = db.get(key_of(0), ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK_FALSE(value.has_value());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains(file.string()));
}

TEST_CASE("zstd_trained: backup copies the dictionaries, and the copy reads every value", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    const std::filesystem::path copy = dir / "backup";
    {
        trained_store db{path.string()};
        put_all(db, 0);
        db.compact();
        put_all(db, 1);
        db.backup(copy.string());
    }
    CHECK(dictionaries_in(copy) == std::vector<std::uint32_t>{1});
    trained_store restored{copy.string()};
    check_all(restored, 1);
}

TEST_CASE("zstd_trained: a snapshot reads values whose dictionary compact() retired", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    trained_store db{path.string()};
    put_all(db, 0);
    db.compact();
    put_all(db, 1);  // dictionary 1
    {
        auto snap = db.snapshot();
        put_all(db, 2);
        db.compact();
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < value_count; ++i) {
            if (snap.get(key_of(i)) != json_like_value(value_count + i, value_size)) ++wrong;
        }
        CHECK(wrong == 0);
    }
    put_all(db, 3);  // dictionary 2
    db.compact();    // retires 1, trains 3
    CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{2, 3});
    check_all(db, 3);
}

TEST_CASE("zstd_trained: the MANIFEST binds the codec", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    {
        trained_store db{path.string()};
        db.put("k", json_like_value(1, value_size));
    }
    CHECK_THAT(read_file(path / "MANIFEST"), Catch::Contains("compression zstd-trained"));
    plain_zstd_store other;
    std::error_code ec;
    other.open(path.string(), ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("zstd-trained"));
}

TEST_CASE("zstd_trained: destroy removes the dictionaries with the store", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    {
        trained_store db{path.string()};
        put_all(db, 0);
        db.compact();
    }
    REQUIRE(dictionaries_in(path) == std::vector<std::uint32_t>{1});
    kvforge::destroy(path.string());
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("zstd_trained: clear() and compact() leave only the newest dictionary", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    trained_store db{path.string()};
    put_all(db, 0);
    db.compact();
    put_all(db, 1);
    db.compact();
    REQUIRE(dictionaries_in(path) == std::vector<std::uint32_t>{1, 2});
    db.clear();
    db.compact();  // nothing needs dictionary 1; too few values to train
    CHECK(dictionaries_in(path) == std::vector<std::uint32_t>{2});
    db.put("k", json_like_value(7, value_size));
    db.close();
    db.open(path.string());
    CHECK(db.get("k") == json_like_value(7, value_size));
}

TEST_CASE("zstd_trained: writers go on while compact() trains and retires dictionaries", "[compression][trained]") {
    using shared_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe,
                                        kvforge::compressed<kvforge::zstd_trained<3>>>;
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    constexpr std::size_t writer_keys = 2000;
    const auto writer_value = [](std::uint64_t round, std::size_t i) {
        return json_like_value(1'000'000 + round * writer_keys + i, value_size);
    };
    std::uint64_t last_round = 0;
    {
        shared_store db{path.string()};
        put_all(db, 0);
        std::atomic<bool> done{false};
        std::atomic<std::uint64_t> rounds{0};
        std::thread writer([&] {
            std::uint64_t round = 0;
            do {  // at least one whole round, whatever the main thread does meanwhile
                for (std::size_t i = 0; i < writer_keys; ++i) db.put("w:" + std::to_string(i), writer_value(round, i));
                rounds.store(++round);
            } while (!done.load());
        });
        for (std::uint64_t round = 1; round <= 3; ++round) {
            put_all(db, round);
            db.compact();
        }
        done.store(true);
        writer.join();
        last_round = rounds.load() - 1;
        check_all(db, 3);
    }
    shared_store db{path.string()};
    check_all(db, 3);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < writer_keys; ++i) {
        if (db.get("w:" + std::to_string(i)) != writer_value(last_round, i)) ++wrong;
    }
    CHECK(wrong == 0);
    CHECK(db.verify().damaged.empty());
}

TEST_CASE("zstd_trained: values that share nothing get no dictionary", "[compression][trained]") {
    temp_dir dir;
    const std::filesystem::path path = dir / "store";
    trained_store db{path.string()};
    for (std::size_t i = 0; i < value_count; ++i) db.put(key_of(i), random_value(i, value_size));
    db.compact();
    CHECK(dictionaries_in(path).empty());
    for (std::size_t i = 0; i < value_count; i += 97) CHECK(db.get(key_of(i)) == random_value(i, value_size));
}
