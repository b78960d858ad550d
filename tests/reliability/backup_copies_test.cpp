// A backup is a copy: damage done in place to the store's files after backup() returns
// (a byte flipped inside a closed segment, as a bad sector or a stray write does it)
// leaves the backup whole, so that it can restore what the store lost. Hard links, which
// share the bytes, are made only when backup_options::link_files asks for them.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::temp_dir;

namespace {

using store_t = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index>;

constexpr int backup_record_count = 3000;

std::string backup_key(int i) { return "key" + std::to_string(i); }
std::string backup_value(int i) { return "value of " + std::to_string(i) + std::string(40, 'v'); }

/// Makes a store of backup_record_count records at path in small segments, so that several are closed.
void fill_store(const std::string& path, kvforge::options& opts) {
    opts.segment_bytes = 64 << 10;
    opts.compact_dead_ratio = 0;
    store_t db(path, opts);
    for (int i = 0; i < backup_record_count; ++i) db.put(backup_key(i), backup_value(i));
}

/// The closed segments of the store at path: every data file but the newest.
std::vector<fs::path> closed_segments(const std::string& path) {
    std::vector<fs::path> data;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvlog") data.push_back(entry.path());
    }
    std::sort(data.begin(), data.end());
    if (!data.empty()) data.pop_back();
    return data;
}

/// Flips one byte of the file at path in place (the same inode, as damage on disk is).
void flip_in_place(const fs::path& path, std::uint64_t offset) {
    const int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    char byte = 0;
    REQUIRE(::pread(fd, &byte, 1, static_cast<off_t>(offset)) == 1);
    byte = static_cast<char>(byte ^ 0x40);
    REQUIRE(::pwrite(fd, &byte, 1, static_cast<off_t>(offset)) == 1);
    ::close(fd);
}

/// The number of names the file at path has.
std::uint64_t links_of(const fs::path& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return info.st_nlink;
}

/// Whether verify() of the store at path finds it whole and it reads every value back.
bool whole(const std::string& path) {
    kvforge::options ro;
    ro.read_only = true;
    store_t db(path, ro);
    if (!db.verify().damaged.empty()) return false;
    for (int i = 0; i < backup_record_count; ++i) {
        if (db.get(backup_key(i)) != backup_value(i)) return false;
    }
    return db.size() == backup_record_count;
}

}  // namespace

TEST_CASE("a backup survives a byte flipped in place in the store's closed segment", "[backup][reliability]") {
    temp_dir dir;
    kvforge::options opts;
    fill_store(dir / "store", opts);
    {
        store_t db(dir / "store", opts);
        db.backup(dir / "backup");
    }
    const std::vector<fs::path> closed = closed_segments(dir / "store");
    REQUIRE(closed.size() >= 2);
    // The backup shares no file with the store.
    for (const fs::path& segment : closed) CHECK(links_of(segment) == 1);

    flip_in_place(closed.front(), fs::file_size(closed.front()) / 2);
    {
        kvforge::options ro;
        ro.read_only = true;
        store_t damaged(dir / "store", ro);
        CHECK_FALSE(damaged.verify().damaged.empty());
    }
    CHECK(whole(dir / "backup"));
}

TEST_CASE("a backup with link_files shares the closed segments, and their damage", "[backup][reliability]") {
    temp_dir dir;
    kvforge::options opts;
    fill_store(dir / "store", opts);
    {
        store_t db(dir / "store", opts);
        db.backup(dir / "backup", kvforge::backup_options{.link_files = true});
    }
    const std::vector<fs::path> closed = closed_segments(dir / "store");
    REQUIRE(closed.size() >= 2);
    for (const fs::path& segment : closed) CHECK(links_of(segment) == 2);
    CHECK(whole(dir / "backup"));
    // What the option risks: a byte damaged in place is damaged in both.
    flip_in_place(closed.front(), fs::file_size(closed.front()) / 2);
    CHECK_FALSE(whole(dir / "backup"));
}

TEST_CASE("a copied backup keeps the closed segments' hints", "[backup][reliability]") {
    temp_dir dir;
    kvforge::options opts;
    fill_store(dir / "store", opts);
    {
        store_t db(dir / "store", opts);
        db.backup(dir / "backup");
    }
    for (const fs::path& segment : closed_segments(dir / "store")) {
        fs::path hint = segment;
        hint.replace_extension(".kvhint");
        if (!fs::exists(hint)) continue;
        const fs::path copied = fs::path(dir / "backup") / hint.filename();
        CHECK(fs::exists(copied));
        CHECK(links_of(copied) == 1);
    }
    CHECK(whole(dir / "backup"));
}
