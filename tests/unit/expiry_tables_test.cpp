// An expiring store over sorted tables (disk_index): its deadlines file lists the tables
// beside the log, and its open, which flushes the log's records into a table and starts a
// new log, checks the file against the data files as the last close left them. So the
// open loads the file instead of reading every value, whether the close left records in
// the log or not.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

using namespace std::chrono_literals;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::test_clock;
using kvforge_test::write_file;
namespace fs = std::filesystem;

namespace {

using expiring_tables =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, kvforge::expiring<test_clock>>;
using plain_tables = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index>;

/// Whether the directory at path holds a file ending in extension.
bool holds_file(const std::string& path, const std::string& extension) {
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == extension) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("an expiring store over tables loads its deadlines file though its open rewrites its log",
          "[expiry][reopen][disk_index]") {
    temp_dir dir;
    const std::string path = dir / "store";
    const std::string deadlines = path + "/deadlines";
    const test_clock::time_point deadline = test_clock::now() + 1h;
    {
        expiring_tables db(path);
        db.put("flushed", "in a table", deadline);
        db.flush();
        db.compact();  // the write buffer into a table
        db.put("logged", "in the log", deadline + 1h);
        db.put("plain", "no deadline");
        db.close();
    }
    REQUIRE(holds_file(path, ".kvtable"));
    REQUIRE(fs::exists(deadlines));

    // The file lists the table as well as the log.
    kvforge::posix_io io;
    std::string data_files;
    REQUIRE(kvforge::detail::describe_data_files(io, path, data_files));
    kvforge::detail::btree_table index;
    REQUIRE(kvforge::detail::load_deadline_file(read_file(deadlines), 3, data_files, index));
    CHECK(index.size() == 2);

    SECTION("the open loads the file the close wrote; every deadline holds") {
        expiring_tables db(path);
        CHECK_FALSE(fs::exists(deadlines));
        CHECK(db.expiry("flushed") == deadline);
        CHECK(db.expiry("logged") == deadline + 1h);
        CHECK_FALSE(db.expiry("plain").has_value());
        test_clock::set(deadline);
        CHECK(db.purge_expired() == 1);
        CHECK_FALSE(db.contains("flushed"));
        CHECK(db.get("logged") == "in the log");
        CHECK(db.get("plain") == "no deadline");
    }
    SECTION("the open trusts a file that fits, and reads no value") {
        // A file that lists no key, though two have deadlines: purge_expired() then finds
        // none, as it would had the open read the values.
        write_file(deadlines, kvforge::detail::encode_deadline_file(kvforge::detail::btree_table{}, 3, data_files));
        expiring_tables db(path);
        test_clock::set(deadline + 1h);
        CHECK_FALSE(db.contains("flushed"));  // reads still see the headers
        CHECK(db.purge_expired() == 0);
    }
    SECTION("a file that does not fit the data files is not used") {
        // The same list with the first file's size changed by one byte.
        std::string other = data_files;
        other[4 + 4] = static_cast<char>(other[4 + 4] + 1);
        write_file(deadlines, kvforge::detail::encode_deadline_file(kvforge::detail::btree_table{}, 3, other));
        expiring_tables db(path);
        test_clock::set(deadline + 1h);
        CHECK(db.purge_expired() == 2);
    }
}

TEST_CASE("the MANIFEST binds expiry on a store over tables: a refused open changes no file",
          "[expiry][manifest][disk_index]") {
    using system_tables =
        kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index, kvforge::expiring<>>;
    temp_dir dir;
    const std::string expiring_path = dir / "expiring";
    const std::string plain_path = dir / "plain";
    {
        expiring_tables db(expiring_path);
        db.put("k", "v", 1h);
        db.compact();           // a table
        db.put("logged", "v");  // and a record in the log, which a writable open flushes
    }
    {
        plain_tables db(plain_path);
        db.put("k", "v");
        db.compact();
        db.put("logged", "v");
    }
    const auto refused = []<class Store>(std::type_identity<Store>, const std::string& path,
                                         const std::string& expected) {
        const auto before = kvforge_test::tree(path);
        Store db;
        std::error_code ec;
        db.open(path, kvforge::options{}, {}, ec);
        CHECK(ec == kvforge::errc::codec_mismatch);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(expected));
        CHECK_FALSE(db.is_open());
        CHECK(kvforge_test::tree(path) == before);
    };
    refused(std::type_identity<plain_tables>{}, expiring_path,
            "expiry: written with 'test_clock:1/1000', opened with 'none'");
    refused(std::type_identity<system_tables>{}, expiring_path, "opened with 'system_clock:");
    refused(std::type_identity<expiring_tables>{}, plain_path,
            "expiry: written with 'none', opened with 'test_clock:1/1000'");
    // Both still open as they were written, with every record.
    expiring_tables expiring(expiring_path);
    CHECK(expiring.get("k") == "v");
    CHECK(expiring.get("logged") == "v");
    plain_tables plain(plain_path);
    CHECK(plain.get("k") == "v");
    CHECK(plain.get("logged") == "v");
}

TEST_CASE("a MANIFEST copied in from another store over tables is refused by the tables' and logs' headers",
          "[expiry][manifest][disk_index]") {
    temp_dir dir;
    const std::string plain_path = dir / "plain";
    {
        plain_tables db(plain_path);
        db.put("k", "v");
    }
    // Expiring stores with the same codecs: one whose record is in a table, one whose
    // record is in its log.
    const test_clock::time_point deadline = test_clock::now() + 1h;
    const std::string in_table = dir / "in_table";
    const std::string in_log = dir / "in_log";
    {
        expiring_tables db(in_table);
        db.put("k", "v", deadline);
        db.compact();
    }
    {
        expiring_tables db(in_log);
        db.put("k", "v", deadline);
    }
    const std::string plain_manifest = read_file(fs::path(plain_path) / "MANIFEST");
    const auto refused = [&](const std::string& path, const kvforge::options& options, const std::string& names) {
        const std::string own = read_file(fs::path(path) / "MANIFEST");
        write_file(fs::path(path) / "MANIFEST", plain_manifest);
        const auto before = kvforge_test::tree(path);
        plain_tables db;
        std::error_code ec;
        db.open(path, options, {}, ec);
        CHECK(ec == kvforge::errc::codec_mismatch);
        CHECK_THAT(kvforge::last_error_message(),
                   Catch::Contains(names) && Catch::Contains("written with another expiry or compression") &&
                       Catch::Contains("the MANIFEST is not this store's"));
        CHECK_FALSE(db.is_open());
        CHECK(kvforge_test::tree(path) == before);
        // With its own MANIFEST back, the store opens with its record and its deadline.
        write_file(fs::path(path) / "MANIFEST", own);
        expiring_tables expiring(path, options);
        CHECK(expiring.get("k") == "v");
        CHECK(expiring.expiry("k") == deadline);
    };
    kvforge::options read_only;
    read_only.read_only = true;
    for (const kvforge::options& options : {read_only, kvforge::options{}}) {  // a writer's open flushes the log
        refused(in_table, options, ".kvtable");
        refused(in_log, options, ".kvlog");
    }
}

TEST_CASE("a store over tables whose headers record no fingerprints, as earlier releases wrote them, opens",
          "[manifest][disk_index]") {
    temp_dir dir;
    const std::string path = dir / "store";
    {
        plain_tables db(path);
        db.put("in a table", "v1");
        db.compact();
        db.put("in the log", "v2");
    }
    // Each header's fingerprints zeroed, its checksums made again: the bytes earlier
    // releases wrote.
    int zeroed = 0;
    for (const auto& entry : fs::directory_iterator(path)) {
        const bool table = entry.path().extension() == ".kvtable";
        if (!table && entry.path().extension() != ".kvlog") continue;
        std::string bytes = read_file(entry.path());
        kvforge::detail::file_header header;
        REQUIRE(kvforge::detail::file_header::decode(
                    bytes, table ? kvforge::detail::file_kind::table : kvforge::detail::file_kind::data, header) ==
                kvforge::detail::file_header::problem::none);
        header.codec_fingerprint = 0;
        header.layers = 0;
        header.encode(bytes.data());
        write_file(entry.path(), bytes);
        ++zeroed;
    }
    CHECK(zeroed == 2);
    plain_tables db(path);
    CHECK(db.get("in a table") == "v1");
    CHECK(db.get("in the log") == "v2");
    CHECK(db.size() == 2);
}
