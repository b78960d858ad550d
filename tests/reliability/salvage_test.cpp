// options::salvage: a log damaged before its tail is opened by reading all of it (a
// hint file is not trusted then), dropping exactly the damaged records and rewriting the
// rest, so that the store verifies and compacts afterwards; a rewrite that fails leaves
// the store closed and unlocked. Looking for intact records after damage reads the file
// a piece at a time, never the whole rest of it at once.

#include <catch2/catch.hpp>

#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

template <class Store, class Index, class IO = kvforge::posix_io>
using sync_store = kvforge::store<std::string, std::string, Store, Index, kvforge::sync_each, IO>;

constexpr const char* salvaged_data_name = "data-0000000001.kvlog";
constexpr const char* salvaged_hint_name = "data-0000000001.kvhint";

std::string salvage_key(int i) {
    char key[16];
    std::snprintf(key, sizeof key, "key%03d", i);
    return key;
}

std::string salvage_value(int i) { return "value of " + salvage_key(i) + std::string(40, '.'); }

/// Makes a store of 100 keys at path and closes it (which writes a hint covering the
/// whole log); then flips one bit in the value of key042 in the data file.
template <class Store>
void make_damaged_store(const std::string& path) {
    {
        Store db(path);
        for (int i = 0; i < 100; ++i) db.put(salvage_key(i), salvage_value(i));
    }
    REQUIRE(fs::exists(path + "/" + salvaged_hint_name));
    std::string bytes = read_file(path + "/" + salvaged_data_name);
    const std::size_t at = bytes.find(salvage_value(42));
    REQUIRE(at != std::string::npos);
    bytes[at + 3] ^= 0x08;
    write_file(path + "/" + salvaged_data_name, bytes);
}

kvforge::options salvaging() {
    kvforge::options opts;
    opts.salvage = true;
    return opts;
}

}  // namespace

TEMPLATE_TEST_CASE("salvage reads the whole log even when a hint covers the damage, and leaves a store that verifies",
                   "[salvage]", (sync_store<kvforge::file_log, kvforge::hash_index>),
                   (sync_store<kvforge::file_log, kvforge::sorted_index>),
                   (sync_store<kvforge::mmap_file, kvforge::hash_index>),
                   (sync_store<kvforge::mmap_file, kvforge::sorted_index>)) {
    temp_dir dir;
    const std::string path = dir / "db";
    make_damaged_store<TestType>(path);
    {
        TestType db(path, salvaging());
        std::error_code ec;
        // The damaged record is dropped: key042 had no other record, so it is gone.
        CHECK_FALSE(db.get(salvage_key(42), ec).has_value());
        CHECK_FALSE(ec);
        CHECK_FALSE(db.contains(salvage_key(42)));
        CHECK(db.size() == 99);
        for (int i = 0; i < 100; ++i) {
            if (i != 42) REQUIRE(db.get(salvage_key(i)) == std::optional<std::string>(salvage_value(i)));
        }
        const kvforge::verify_report report = db.verify();
        CHECK(report.ok());
        CHECK(report.records_checked == 99);
        db.compact(ec);
        CHECK_FALSE(ec);
        db.put(salvage_key(42), "written again");
    }
    // Without salvage now: nothing damaged is left.
    TestType db(path);
    CHECK(db.size() == 100);
    CHECK(db.get(salvage_key(42)) == std::optional<std::string>("written again"));
    CHECK(db.verify().ok());
}

TEMPLATE_TEST_CASE("a salvage whose rewrite fails leaves the store closed and unlocked", "[salvage]",
                   (sync_store<kvforge::file_log, kvforge::hash_index, kvforge::fault_injecting_io<>>),
                   (sync_store<kvforge::mmap_file, kvforge::sorted_index, kvforge::fault_injecting_io<>>)) {
    temp_dir dir;
    const std::string path = dir / "db";
    make_damaged_store<TestType>(path);
    fs::remove(path + "/" + salvaged_hint_name);  // so that the damage is found whether hints are trusted or not

    kvforge::fault_injecting_io<> io;
    // Every write fails: the salvaged log cannot be rewritten.
    io.inject({.at = 1, .calls = kvforge::io_call::pwrite, .error = ENOSPC, .mode = kvforge::fault_mode::persistent});
    TestType db;
    std::error_code ec;
    db.open(path, salvaging(), io, ec);
    CHECK(ec == std::errc::no_space_on_device);
    CHECK_FALSE(db.is_open());
    db.put("after", "a failed open", ec);
    CHECK(ec == kvforge::errc::store_closed);

    // Nothing holds the lock: another store object opens it, and salvage now succeeds.
    TestType other;
    other.open(path, salvaging(), {}, ec);
    REQUIRE_FALSE(ec);
    CHECK(other.size() == 99);
    CHECK(other.verify().ok());
}

namespace {

/// POSIX I/O that remembers the largest single read asked for.
struct read_size_recording_io : kvforge::posix_io {
    std::shared_ptr<std::size_t> largest_read = std::make_shared<std::size_t>(0);

    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        if (size > *largest_read) *largest_read = size;
        return kvforge::posix_io::pread(fd, buffer, size, offset);
    }
};

}  // namespace

TEMPLATE_TEST_CASE("after damage, the search for intact records reads the file a piece at a time", "[salvage]",
                   (sync_store<kvforge::file_log, kvforge::hash_index, read_size_recording_io>),
                   (sync_store<kvforge::mmap_file, kvforge::sorted_index, read_size_recording_io>)) {
    temp_dir dir;
    const std::string path = dir / "db";
    // About 40 MiB of small records after the damage.
    {
        kvforge::store<std::string, std::string, typename TestType::store_policy, kvforge::buffered<>> db(path);
        const std::string value(1000, 'v');
        for (int i = 0; i < 40000; ++i) db.put("key" + std::to_string(i), value);
    }
    fs::remove(path + "/" + salvaged_hint_name);
    std::string bytes = read_file(path + "/" + salvaged_data_name);
    REQUIRE(bytes.size() > (std::size_t{32} << 20));
    bytes[32 + 100] ^= 0x01;  // in the first record's value
    write_file(path + "/" + salvaged_data_name, bytes);
    bytes.clear();
    bytes.shrink_to_fit();

    read_size_recording_io io;
    TestType db;
    std::error_code ec;
    db.open(path, kvforge::options{}, io, ec);
    CHECK(ec == kvforge::errc::corrupt_record);
    CHECK(*io.largest_read <= (std::size_t{4} << 20));

    *io.largest_read = 0;
    db.open(path, salvaging(), io, ec);
    REQUIRE_FALSE(ec);
    CHECK(db.size() == 39999);
    CHECK(*io.largest_read <= (std::size_t{4} << 20));
}
