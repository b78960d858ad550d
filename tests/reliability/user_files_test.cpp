// An existing store's directory (one with a MANIFEST) may hold a user's entries beside
// kvforge's files, as a LevelDB or RocksDB directory may: a notes.txt, a Finder's
// .DS_Store, a directory, a symbolic link. The store opens, reads, writes, compacts and
// reopens with them there, never reads, changes or removes them, and destroy() removes
// kvforge's files alone, leaving the directory with the user's entries in it.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>

#include "../support/directory_tree.hpp"
#include "../support/file_bytes.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;

namespace {

template <class Store>
using string_store = kvforge::store<std::string, std::string, Store, kvforge::sorted_index, kvforge::sync_each>;

/// What a user leaves in a store's directory: name and bytes.
const std::map<std::string, std::string> users_files = {
    {"notes.txt", "the user's notes"},
    {".DS_Store", std::string("\0\0\0\1Bud1", 8)},
    {"data-0000000001.kvlog.bak", "a user's copy, not kvforge's"},
    {"report.docx.tmp", "a user's file being saved"},
};

/// Puts the user's files, a directory holding one and a symbolic link into path.
void add_users_entries(const std::string& path, const fs::path& outside) {
    for (const auto& [name, bytes] : users_files) write_file(path + "/" + name, bytes);
    fs::create_directory(path + "/photos");
    write_file(path + "/photos/cat.jpg", "a cat");
    write_file(outside, "outside the store");
    fs::create_symlink(outside, path + "/link");
}

/// Checks that the user's entries are all there, as add_users_entries made them.
void check_users_entries(const std::string& path, const fs::path& outside) {
    for (const auto& [name, bytes] : users_files) {
        INFO(name);
        CHECK(read_file(path + "/" + name) == bytes);
    }
    CHECK(read_file(path + "/photos/cat.jpg") == "a cat");
    CHECK(fs::is_symlink(path + "/link"));
    CHECK(read_file(outside) == "outside the store");
}

}  // namespace

TEMPLATE_TEST_CASE("an existing store opens with a user's files in its directory and leaves them alone",
                   "[foreign_files]", string_store<kvforge::file_log>, string_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::string(100, 'v'));
    }
    add_users_entries(path, dir / "elsewhere");
    {
        TestType db(path);
        CHECK(db.size() == 100);
        CHECK(db.get("key7") == std::optional<std::string>(std::string(100, 'v')));
        for (int i = 0; i < 100; ++i) db.put("key" + std::to_string(i), std::string(50, 'w'));
        db.compact();
        CHECK(db.verify().damaged.empty());
    }
    {
        kvforge::options ro;
        ro.read_only = true;
        TestType reader(path, ro);
        CHECK(reader.get("key99") == std::optional<std::string>(std::string(50, 'w')));
    }
    {
        kvforge::options salvage;
        salvage.salvage = true;
        TestType repaired(path, salvage);
        CHECK(repaired.size() == 100);
    }
    check_users_entries(path, dir / "elsewhere");
}

TEMPLATE_TEST_CASE("destroy removes a store's files and leaves a user's, with the directory", "[foreign_files]",
                   string_store<kvforge::file_log>, string_store<kvforge::mmap_file>) {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        TestType db(path);
        db.put("key", "value");
    }
    add_users_entries(path, dir / "elsewhere");
    kvforge::destroy(path);
    check_users_entries(path, dir / "elsewhere");
    std::map<std::string, bool> left;
    for (const auto& entry : fs::directory_iterator(path)) left[entry.path().filename().string()] = true;
    CHECK(left.size() == users_files.size() + 2);  // the files, photos and link: nothing of kvforge's
    CHECK_FALSE(left.count("MANIFEST"));
    CHECK_FALSE(left.count("LOCK"));

    // The directory is no store now: a store is not made among the user's files.
    std::error_code ec;
    TestType again;
    again.open(path, ec);
    CHECK(ec == kvforge::errc::not_a_store);
    check_users_entries(path, dir / "elsewhere");
}

TEST_CASE("destroy of a store with nothing but its own files removes the directory", "[foreign_files]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        string_store<kvforge::file_log> db(path);
        db.put("key", "value");
    }
    kvforge::destroy(path);
    CHECK_FALSE(fs::exists(path));
}
