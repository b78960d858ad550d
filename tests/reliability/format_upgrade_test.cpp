// Stores written by an earlier release open with every record. tests/fixtures/format1/
// holds stores that kvforge 0.1.0 wrote in format version 1, tests/fixtures/
// table_format1/ a store over tables of table format 1, and tests/fixtures/table_list2/ one
// whose TABLES is of list format 2 (see their READMEs); each test
// opens a copy, requires exactly the contents of the history they were written from, and
// requires them to stay so across writes, compaction and reopening. Their first writable
// open records their composition in a MANIFEST; a read-only open changes no byte. A
// format 1 data file becomes a closed segment, read by format 1's rules, and new records
// go to a format 2 segment (as format 1's bytes, using no flag); compaction rewrites both
// in format 2. A power loss at any I/O call
// of that upgrade leaves a store that opens with every record.

#include <catch2/catch.hpp>

#include <fcntl.h>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <system_error>

#include "../fixtures/format1/script.hpp"
#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;

namespace {

/// A copy of fixture store `name` of tests/fixtures/<set> in dir, so that the fixture
/// itself stays as written.
std::string copy_of_fixture(const temp_dir& dir, const std::string& name, const std::string& set = "format1") {
    const fs::path source = fs::path(KVFORGE_FIXTURES_DIR) / set / name;
    REQUIRE(fs::is_directory(source));
    const fs::path target = dir / name;
    fs::copy(source, target, fs::copy_options::recursive);
    return target.string();
}

template <class Store>
std::map<std::string, std::string> stored_contents(const Store& db) {
    std::map<std::string, std::string> contents;
    db.for_each([&](const std::string& key, const std::string& value) { contents[key] = value; });
    return contents;
}

/// Opens a copy of fixture `name` as Store and checks it holds the history's contents,
/// before and after a write, a compaction and a reopen.
template <class Store>
void check_fixture(const std::string& name, const std::string& set = "format1") {
    INFO("fixture " << name);
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, name, set);
    const std::map<std::string, std::string> expected = kvforge_fixture::expected_contents();
    {
        Store db(path);
        CHECK(db.size() == expected.size());
        CHECK(stored_contents(db) == expected);
        for (const auto& [key, value] : expected) REQUIRE(db.get(key) == std::optional<std::string>(value));
        CHECK(db.verify().ok());
        db.put("written after the upgrade", "yes");
    }
    {
        Store db(path);
        CHECK(db.get("written after the upgrade") == std::optional<std::string>("yes"));
        db.erase("written after the upgrade");
        CHECK(stored_contents(db) == expected);
        db.compact();
        CHECK(stored_contents(db) == expected);
        CHECK(db.verify().ok());
    }
    Store db(path);
    CHECK(stored_contents(db) == expected);
}

}  // namespace

TEST_CASE("format 1 stores written by kvforge 0.1.0 open with every record", "[upgrade]") {
    using namespace kvforge;
    check_fixture<store<std::string, std::string, file_log, hash_index>>("file_log-hint");
    check_fixture<store<std::string, std::string, file_log, sorted_index>>("file_log-no-hint");
    check_fixture<store<std::string, std::string, mmap_file, sorted_index, sync_each>>("mmap_file-compacted");
    // The index and store policies may differ from those that wrote the files.
    check_fixture<store<std::string, std::string, mmap_file, sorted_index>>("file_log-hint");
    check_fixture<store<std::string, std::string, file_log, hash_index, thread_safe>>("mmap_file-compacted");
}

TEST_CASE("a store over tables of table format 1 opens with every record", "[upgrade][table]") {
    using tables_db = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index>;
    check_fixture<tables_db>("disk_index-levels", "table_format1");

    // Its tables are rewritten in table format 2 by a compaction, and record where they
    // belong from then on: a TABLES lost after it is rebuilt from them.
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "disk_index-levels", "table_format1");
    tables_db(path).compact();
    fs::remove(fs::path(path) / "TABLES");
    kvforge::options salvage;
    salvage.salvage = true;
    tables_db db(path, salvage);
    CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
}

TEST_CASE("a store over tables whose TABLES is of list format 2 opens with every record, its log's too",
          "[upgrade][table]") {
    using tables_db = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index>;
    check_fixture<tables_db>("disk_index-log", "table_list2");

    // Its first close writes TABLES in list format 3, which records the log's size.
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "disk_index-log", "table_list2");
    CHECK(kvforge_test::read_file(fs::path(path) / "TABLES")[8] == 2);
    tables_db(path).put("written after the upgrade", "yes");
    CHECK(kvforge_test::read_file(fs::path(path) / "TABLES")[8] == 3);
}

TEST_CASE("a format 1 log with a torn tail opens with every complete record", "[upgrade]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "file_log-torn-tail");
    store_type db(path);
    CHECK(db.stats().recovered_bytes_cut == 10);
    CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
    CHECK(db.verify().ok());
}

TEST_CASE("a format 1 store with integer keys opens with every record", "[upgrade]") {
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "integer-keys");
    kvforge::store<std::uint64_t, std::string, kvforge::file_log> db(path);
    CHECK(db.size() == kvforge_fixture::integer_keys);
    for (std::uint64_t i = 0; i < kvforge_fixture::integer_keys; ++i) {
        REQUIRE(db.get(i) == std::optional<std::string>("value " + std::to_string(i)));
    }
}

TEST_CASE("a format 1 store gets a MANIFEST at its first writable open, and none at a read-only one", "[upgrade]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index>;
    temp_dir dir;
    for (const char* name : {"file_log-hint", "file_log-no-hint", "file_log-torn-tail", "mmap_file-compacted"}) {
        INFO("fixture " << name);
        const std::string path = copy_of_fixture(dir, name);
        const fs::path manifest = fs::path(path) / "MANIFEST";
        REQUIRE_FALSE(fs::exists(manifest));
        const auto before = kvforge_test::tree(path);
        {
            kvforge::options read_only;
            read_only.read_only = true;
            store_type db(path, read_only);
            CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
        }
        CHECK(kvforge_test::tree(path) == before);  // not a byte changed, no MANIFEST written

        {
            store_type db(path);
            CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
        }
        kvforge::composition recorded;
        std::string problem;
        REQUIRE(kvforge::detail::parse_manifest(kvforge_test::read_file(manifest), recorded, problem));
        CHECK(recorded.format == 2);  // the files may still be format 1's, but a format 1 reader must not write on
        CHECK(recorded.store == "mmap_file");
        CHECK(recorded.index == "sorted_index");
        CHECK(recorded.durability == "buffered");
        CHECK(recorded.key_codec == "bytes");
        CHECK(recorded.value_codec == "bytes");
        CHECK(recorded.codec_fingerprint == kvforge::detail::codec_fingerprint("bytes", "bytes"));
        CHECK(recorded.expiry == "none");
        CHECK(recorded.compression == "none");

        // Upgraded, the store opens as before, and the MANIFEST now binds its codecs.
        store_type db(path);
        CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
        db.close();
        kvforge::store<std::string, std::uint64_t, kvforge::file_log> other;
        std::error_code ec;
        other.open(path, {}, {}, ec);
        CHECK(ec == kvforge::errc::codec_mismatch);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("written with 'bytes', opened with 'uint64.be'"));
    }
}

TEST_CASE("a format 1 store with integer keys records its codecs at the upgrade", "[upgrade]") {
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "integer-keys");
    { kvforge::store<std::uint64_t, std::string, kvforge::file_log> db(path); }
    kvforge::composition recorded;
    std::string problem;
    REQUIRE(kvforge::detail::parse_manifest(kvforge_test::read_file(fs::path(path) / "MANIFEST"), recorded, problem));
    CHECK(recorded.key_codec == "uint64.be");
    CHECK(recorded.value_codec == "bytes");
}

namespace {

/// The format version in a data or hint file's header.
unsigned header_version(const std::string& bytes) {
    REQUIRE(bytes.size() >= kvforge::detail::file_header::v1_size);
    return static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned>(static_cast<unsigned char>(bytes[9])) << 8);
}

/// Whether a data file's records, after its header, all parse by format 1's rules.
bool records_are_format1(const std::string& bytes, std::size_t header_size) {
    namespace kd = kvforge::detail;
    std::size_t records = 0;
    for (std::size_t at = header_size; at < bytes.size(); ++records) {
        kd::record_info info;
        if (kd::parse_record(std::string_view(bytes).substr(at), info, 1) != kd::parse_status::ok) return false;
        at += info.size;
    }
    return records > 0;
}

/// A simulated file system holding fixture `name` at /db, all of it durable.
std::shared_ptr<kvforge::simulated_file_system> fixture_on_simulated_disk(const std::string& name) {
    auto disk = std::make_shared<kvforge::simulated_file_system>();
    REQUIRE(disk->mkdir("/db", 0755) == 0);
    for (const auto& entry : fs::directory_iterator(fs::path(KVFORGE_FIXTURES_DIR) / "format1" / name)) {
        const std::string bytes = kvforge_test::read_file(entry.path());
        const std::string path = "/db/" + entry.path().filename().string();
        const int fd = disk->open(path.c_str(), O_CREAT | O_RDWR, 0644);
        REQUIRE(fd >= 0);
        REQUIRE(disk->pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
        REQUIRE(disk->fsync(fd) == 0);
        REQUIRE(disk->close(fd) == 0);
    }
    for (const char* directory : {"/", "/db"}) {
        const int fd = disk->open(directory, O_RDONLY, 0);
        REQUIRE(fd >= 0);
        REQUIRE(disk->fsync(fd) == 0);
        REQUIRE(disk->close(fd) == 0);
    }
    return disk;
}

/// Upgrades fixture `name` on a simulated disk (open, compact, close) with a power
/// loss before each of its I/O calls in turn, and requires every crash state to open
/// with the fixture's records and pass verify(). The finished upgrade leaves data file
/// `upgraded` in format 2.
template <class Store>
void check_upgrade_under_power_loss(const std::string& name, const std::string& upgraded) {
    INFO("fixture " << name);
    const std::map<std::string, std::string> expected = kvforge_fixture::expected_contents();
    std::uint64_t states = 0;
    for (std::uint64_t k = 1;; ++k) {
        INFO("power lost before I/O call " << k << " of the upgrade");
        const auto disk = fixture_on_simulated_disk(name);
        const std::uint64_t first = disk->calls() + 1;
        disk->freeze_at(first + k - 1);
        {
            Store db;
            std::error_code ec;
            db.open("/db", {}, kvforge::simulated_io(disk), ec);
            if (!ec) db.compact(ec);
            if (!ec) db.close(ec);
        }
        const bool finished = disk->calls() < first + k - 1;
        for (const auto tail :
             {kvforge::crash_tail::dropped, kvforge::crash_tail::torn, kvforge::crash_tail::zero_filled}) {
            INFO("crash tail " << static_cast<int>(tail));
            const auto after = disk->after_crash(tail, k);
            Store db;
            std::error_code ec;
            db.open("/db", {}, kvforge::simulated_io(after), ec);
            REQUIRE_FALSE(ec);
            CHECK(stored_contents(db) == expected);
            CHECK(db.verify().ok());
            ++states;
        }
        if (finished) {
            std::string bytes;
            REQUIRE(disk->contents("/db/" + upgraded, bytes));
            CHECK(header_version(bytes) == 2);
            break;
        }
    }
    CHECK(states > 30);
}

}  // namespace

TEST_CASE("a format 1 data file becomes a closed segment, and compaction rewrites it in format 2", "[upgrade]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "file_log-no-hint");
    const std::string fixture_file = kvforge_test::read_file(fs::path(path) / "data-0000000001.kvlog");
    std::map<std::string, std::string> expected = kvforge_fixture::expected_contents();
    {
        store_type db(path);
        CHECK(db.stats().segments == 2);
        db.put("written after the upgrade", "yes");
        expected["written after the upgrade"] = "yes";
    }
    // The format 1 file is closed: not a byte of it changed. Its hint, written at the
    // upgrade, is format 2's.
    CHECK(kvforge_test::read_file(fs::path(path) / "data-0000000001.kvlog") == fixture_file);
    CHECK(header_version(kvforge_test::read_file(fs::path(path) / "data-0000000001.kvhint")) == 2);
    const std::string second = kvforge_test::read_file(fs::path(path) / "data-0000000002.kvlog");
    CHECK(header_version(second) == 2);
    CHECK(records_are_format1(second, 64));
    {
        store_type db(path);
        CHECK(db.stats().segments == 2);
        CHECK(stored_contents(db) == expected);
        db.compact();
    }
    CHECK_FALSE(fs::exists(fs::path(path) / "data-0000000001.kvlog"));
    CHECK_FALSE(fs::exists(fs::path(path) / "data-0000000002.kvlog"));
    // compact()'s output: the largest segment (the new active one beside it is empty).
    std::string third;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() != ".kvlog") continue;
        std::string bytes = kvforge_test::read_file(entry.path());
        if (bytes.size() > third.size()) third = std::move(bytes);
    }
    CHECK(header_version(third) == 2);
    // No record uses a flag: each is format 1's bytes behind the 64-byte header.
    CHECK(records_are_format1(third, 64));

    // The upgraded store reopens, from its hints and from its segments alone.
    {
        store_type db(path);
        CHECK(stored_contents(db) == expected);
        CHECK(db.verify().ok());
    }
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvhint") fs::remove(entry.path());
    }
    store_type db(path);
    CHECK(stored_contents(db) == expected);
    CHECK(db.verify().ok());
}

TEST_CASE("a read-only open of a format 1 store changes no byte", "[upgrade]") {
    temp_dir dir;
    for (const char* name : {"file_log-hint", "file_log-no-hint", "file_log-torn-tail", "mmap_file-compacted"}) {
        INFO("fixture " << name);
        const std::string path = copy_of_fixture(dir, name);
        const auto before = kvforge_test::tree(path);
        kvforge::options read_only;
        read_only.read_only = true;
        {
            kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index> db(path, read_only);
            CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
            for (const auto& [key, value] : kvforge_fixture::expected_contents()) CHECK(db.get(key) == value);
            (void)db.verify();
        }
        {
            kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index> db(path, read_only);
            CHECK(stored_contents(db) == kvforge_fixture::expected_contents());
        }
        CHECK(kvforge_test::tree(path) == before);
    }
}

TEST_CASE("a power loss at any I/O call of the upgrade leaves a store with every record", "[upgrade][power_loss]") {
    using namespace kvforge;
    check_upgrade_under_power_loss<store<std::string, std::string, file_log, hash_index, simulated_io>>(
        "file_log-hint", "data-0000000003.kvlog");
    check_upgrade_under_power_loss<store<std::string, std::string, mmap_file, sorted_index, sync_each, simulated_io>>(
        "mmap_file-compacted", "data-0000000004.kvlog");
}

TEST_CASE("a format 1 store opened with expiry is refused unchanged, naming both sides", "[upgrade]") {
    using expiring_store =
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::expiring<>>;
    temp_dir dir;
    const std::string path = copy_of_fixture(dir, "file_log-hint");
    const auto before = kvforge_test::tree(path);
    expiring_store db;
    std::error_code ec;
    db.open(path, ec);
    CHECK(ec == kvforge::errc::codec_mismatch);
    CHECK_FALSE(db.is_open());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("without expiry") && Catch::Contains("system_clock") &&
                                                  Catch::Contains("nothing was changed"));
    CHECK(kvforge_test::tree(path) == before);
    // Without expiry it still opens with every record.
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index> plain(path);
    CHECK(stored_contents(plain) == kvforge_fixture::expected_contents());
}
