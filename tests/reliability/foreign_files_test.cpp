// kvforge's files in a store's directory are recognised by their exact names: LOCK,
// MANIFEST, data-<10 digits>.kvlog, data-<10 digits>.kvhint, data-<10 digits>.kvtable,
// TABLES, dictionary-<10 digits>.zstd, deadlines, and all but LOCK with .tmp after them. A directory that is no store yet (it
// has no MANIFEST) and holds anything else (a user's file, a directory, a symbolic link,
// a name that only looks like one of ours) is refused before anything in it is created,
// locked or removed. An existing store opens with such entries beside its files
// (user_files_test.cpp), and no file kvforge did not write is ever removed, renamed or
// truncated. An empty path is an error, not the current directory.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::tree;
using kvforge_test::write_file;

namespace {

template <class Store>
using sorted_sync_store = kvforge::store<std::string, std::string, Store, kvforge::sorted_index, kvforge::sync_each>;

/// Makes a store at path holding one record, and closes it.
template <class Store>
void make_one_record_store(const std::string& path) {
    Store db(path);
    db.put("key", "value");
}

/// Opens path both ways and checks that both are refused with not_a_store, naming
/// `foreign`, and that nothing under root changed.
template <class Store>
void check_refused(const fs::path& root, const std::string& path, const std::string& foreign) {
    const auto before = tree(root);
    Store db;
    std::error_code ec;
    db.open(path, ec);
    CHECK(ec == kvforge::errc::not_a_store);
    CHECK_FALSE(db.is_open());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains(path) && Catch::Contains("'" + foreign + "'") &&
                                                   Catch::Contains("nothing was changed"));
    try {
        Store again(path);
        FAIL("a directory holding " << foreign << " was opened");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::not_a_store);
        CHECK_THAT(e.what(), Catch::Contains("'" + foreign + "'"));
    }
    CHECK(tree(root) == before);
}

/// Names that look like a store's files but are not names kvforge writes.
const std::vector<std::string> near_misses = {
    "data-1.kvlog",                    // the generation is not ten digits
    "data-00000000x1.kvlog",           // not a number
    "data-0000000000.kvlog",           // generations start at 1
    "data-4294967296.kvlog",           // above UINT32_MAX: not a generation kvforge can write
    "data-9999999999.kvlog",           // the largest ten-digit number
    "data-0000000001.kvlog.bak",       // a user's copy
    "deadlines.bak",                   // a user's copy of an expiring store's deadline index
    "data-0000000001.kvhint.tmp.tmp",  // .tmp once only
    "LOCK.tmp",                        // only data and hint files are written through .tmp
    "lock",                            // names are case-sensitive
    "tables",                          // the list of sorted tables is TABLES
    "data-1.kvtable",                  // a sorted table's generation is ten digits too
    "report.docx.tmp",                 // a user's file being saved
};

}  // namespace

TEMPLATE_TEST_CASE("a directory holding a file kvforge did not write is refused and left as it was",
                   "[foreign_files]", sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";

    SECTION("a user's files, and no store yet") {
        fs::create_directory(path);
        write_file(path + "/report.docx.tmp", "the user's report");
        write_file(path + "/notes.txt", "the user's notes");
        // The first foreign entry in sorted order is named.
        check_refused<TestType>(dir.path(), path, "notes.txt");
        CHECK_FALSE(fs::exists(path + "/LOCK"));
    }
    SECTION("a name that only looks like one of kvforge's, and no store yet") {
        for (const std::string& name : near_misses) {
            INFO("foreign name: " << name);
            temp_dir each;
            const std::string store_path = each / "db";
            fs::create_directory(store_path);
            write_file(store_path + "/" + name, "not kvforge's");
            check_refused<TestType>(each.path(), store_path, name);
        }
    }
    SECTION("a format 1 store (no MANIFEST) beside a user's file") {
        make_one_record_store<TestType>(path);
        fs::remove(path + "/MANIFEST");
        write_file(path + "/notes.txt", "the user's notes");
        check_refused<TestType>(dir.path(), path, "notes.txt");
    }
}

TEMPLATE_TEST_CASE("kvforge's own leftovers are recognised by their exact names and removed on open",
                   "[foreign_files]", sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";
    make_one_record_store<TestType>(path);
    // What an interrupted compaction, hint write or expiring store's close leaves behind.
    const std::vector<std::string> leftovers = {"data-0000000002.kvlog.tmp", "data-0000000002.kvhint.tmp",
                                                "data-0000000001.kvhint.tmp", "deadlines.tmp"};
    for (const std::string& name : leftovers) write_file(path + "/" + name, "half written");

    TestType db(path);
    CHECK(db.get("key") == std::optional<std::string>("value"));
    for (const std::string& name : leftovers) CHECK_FALSE(fs::exists(path + "/" + name));
}

TEMPLATE_TEST_CASE("an empty directory, or one holding only kvforge's lock file, becomes a store", "[foreign_files]",
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";
    fs::create_directory(path);
    SECTION("empty") {}
    SECTION("only LOCK") { write_file(path + "/LOCK", ""); }
    {
        TestType db(path);
        db.put("key", "value");
    }
    CHECK(TestType(path).get("key") == std::optional<std::string>("value"));
}

TEMPLATE_TEST_CASE("a file a user adds to an open store is never removed, renamed or truncated", "[foreign_files]",
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";
    const std::map<std::string, std::string> added = {{"report.docx.tmp", "the user's report"},
                                                      {"data-0000000001.kvlog.bak", "a user's copy"},
                                                      {"data-0000000001.kvhint.tmp.tmp", "odd"}};
    {
        TestType db(path);
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::string(100, 'v'));
        for (const auto& [name, bytes] : added) write_file(path + "/" + name, bytes);
        db.compact();  // recovery of generations and leftovers, and the switch to a new generation
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::string(50, 'w'));
        db.clear();
        db.put("after", "clear");
    }  // close writes a hint
    for (const auto& [name, bytes] : added) CHECK(read_file(path + "/" + name) == bytes);

    // The store reopens with them beside its files, and leaves them as they are.
    {
        TestType db(path);
        CHECK(db.get("after") == std::optional<std::string>("clear"));
        CHECK(db.size() == 1);
    }
    for (const auto& [name, bytes] : added) CHECK(read_file(path + "/" + name) == bytes);
}

namespace {

/// Makes a directory the working directory for its lifetime.
class working_directory {
public:
    explicit working_directory(const fs::path& path) : previous_(fs::current_path()) { fs::current_path(path); }
    working_directory(const working_directory&) = delete;
    working_directory& operator=(const working_directory&) = delete;
    ~working_directory() { fs::current_path(previous_); }

private:
    fs::path previous_;
};

}  // namespace

TEMPLATE_TEST_CASE("an empty path is an error, not the current directory", "[foreign_files]",
                   sorted_sync_store<kvforge::file_log>, sorted_sync_store<kvforge::mmap_file>) {
    temp_dir dir;
    const working_directory inside(dir.path());
    TestType db;
    std::error_code ec;
    db.open("", ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_FALSE(db.is_open());
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("empty path"));
    CHECK_THROWS_MATCHES(TestType(""), kvforge::error, Catch::Predicate<kvforge::error>([](const kvforge::error& e) {
                             return e.code() == kvforge::errc::invalid_argument;
                         }));
    CHECK(tree(dir.path()).empty());  // nothing was created in the working directory
}
