// The list of a log store's segments (SEGMENTS): a segment lost with its hint, the newest
// one included, is an error naming it, where the store used to open without its records;
// the list follows rollovers, compactions, clear() and backups, and only ever names
// segments that are in place; a damaged list is refused and salvage writes it again; a
// store without one (kvforge 0.1.0's, or a list deleted) opens and gets one.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>
#include <kvforge/stores/log/segment_list.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "../support/file_bytes.hpp"
#include "../support/segmented_store.hpp"
#include "../support/temp_dir.hpp"

namespace fs = std::filesystem;
using kvforge_test::read_file;
using kvforge_test::temp_dir;
using kvforge_test::write_file;
using kvforge_test::damage_key;
using kvforge_test::damage_value;
using kvforge_test::intact_keys;
using kvforge_test::make_segmented_store;
using kvforge_test::mentions;
using kvforge_test::open_with;
using kvforge_test::segment_file;
using kvforge_test::with;

namespace {

using hash_db = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each>;
// ThreadSanitizer: a thread_safe store writes the list on its compaction thread (with the
// closed segments' hints, and as compaction retires segments) while writers roll over.
using sorted_mt_db = kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                    kvforge::buffered<>, kvforge::thread_safe>;

/// Options for the stores here: segments of 64 KiB, as make_segmented_store's.
kvforge::options small(bool salvage, bool read_only = false) { return with(salvage, read_only, 64 << 10); }

/// The generations of the data files in path, ascending.
std::vector<std::uint32_t> data_files(const std::string& path) {
    std::vector<std::uint32_t> ids;
    for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
        const auto name = kvforge::detail::store_file_name::recognise(entry.path().filename().string());
        if (name && name->kind() == kvforge::detail::store_file_kind::data && !name->is_temporary()) {
            ids.push_back(name->generation());
        }
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// What SEGMENTS in path lists, decoded (the test fails on a damaged one).
std::vector<std::uint32_t> listed(const std::string& path) {
    const std::string file = path + "/SEGMENTS";
    REQUIRE(fs::exists(file));
    kvforge::detail::segment_list list;
    std::error_code ec;
    REQUIRE(list.decode(read_file(file), file, ec));
    std::vector<std::uint32_t> ids;
    for (const kvforge::detail::listed_segment& in : list.segments) ids.push_back(in.id);
    return ids;
}

}  // namespace

TEST_CASE("segment list: a segment deleted with its hint is an error naming it", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    REQUIRE(listed(path) == data_files(path));
    REQUIRE(data_files(path).size() >= 4);
    const std::string lost = segment_file(path, 3);
    fs::remove(lost);
    fs::remove(segment_file(path, 3, ".kvhint"));
    const std::string list_before = read_file(path + "/SEGMENTS");

    for (const bool read_only : {false, true}) {
        hash_db db;
        CHECK(open_with(db, path, small(false, read_only)) == kvforge::errc::corrupt_record);
        CHECK(kvforge::last_error_message().find(lost + " is missing, though SEGMENTS lists it") !=
              std::string::npos);
    }
    CHECK(read_file(path + "/SEGMENTS") == list_before);  // a refused open changes nothing
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, small(true, true)));
        const kvforge::verify_report report = db.verify();
        CHECK_FALSE(report.ok());
        CHECK(mentions(report, lost));
    }
    // Salvage keeps the other segments' records and lists what is there.
    int kept = 0;
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, small(true)));
        kept = intact_keys(db, 3000);
        CHECK(kept >= 2000);
        CHECK(kept < 3000);
        CHECK(db.verify().ok());
    }
    CHECK(listed(path) == data_files(path));
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, small(false)));
    CHECK(intact_keys(db, 3000) == kept);
}

TEST_CASE("segment list: the newest segment deleted is an error too", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    const std::uint32_t newest = data_files(path).back();
    REQUIRE(listed(path).back() == newest);
    const std::string lost = segment_file(path, newest);
    fs::remove(lost);
    fs::remove(segment_file(path, newest, ".kvhint"));
    hash_db db;
    CHECK(open_with(db, path, small(false)) == kvforge::errc::corrupt_record);
    CHECK(kvforge::last_error_message().find(lost + " is missing") != std::string::npos);
}

TEST_CASE("segment list: another store's data file in a listed segment's place is an error", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    const std::string other = dir / "other";
    make_segmented_store<hash_db>(path, 3000);
    {
        // The same codecs, the same ids: only the file ids tell the files apart.
        hash_db db(other, small(false));
        for (int i = 0; i < 3000; ++i) db.put(damage_key(i), "other " + damage_value(i));
    }
    const std::string replaced = segment_file(path, 2);
    fs::copy_file(segment_file(other, 2), replaced, fs::copy_options::overwrite_existing);
    fs::remove(segment_file(path, 2, ".kvhint"));
    for (const bool read_only : {false, true}) {
        hash_db db;
        CHECK(open_with(db, path, small(false, read_only)) == kvforge::errc::corrupt_header);
        CHECK(kvforge::last_error_message().find(replaced + " is not the segment SEGMENTS lists") !=
              std::string::npos);
    }
    // A read-only salvaging open's verify() names it; no value of the store is served wrong
    // but those the foreign file holds, which salvage keeps as it keeps every intact record.
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, small(true, true)));
    const kvforge::verify_report report = db.verify();
    CHECK_FALSE(report.ok());
    CHECK(mentions(report, "is not the segment SEGMENTS lists"));
}

TEST_CASE("segment list: an emptied listed segment is an error", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    write_file(segment_file(path, 2), "");
    fs::remove(segment_file(path, 2, ".kvhint"));
    hash_db db;
    CHECK(open_with(db, path, small(false, true)) == kvforge::errc::corrupt_record);
    CHECK(kvforge::last_error_message().find(segment_file(path, 2) + " is empty, though SEGMENTS lists it") !=
          std::string::npos);
}

TEST_CASE("segment list: it names the segments in place after rollovers, compactions, clear() and reopening",
          "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        sorted_mt_db db(path, small(false));
        for (int i = 0; i < 3000; ++i) db.put(damage_key(i), damage_value(i));
        // While open, the list names only segments that are in place.
        db.flush();
        for (const std::uint32_t id : listed(path)) CHECK(fs::exists(segment_file(path, id)));
        for (int i = 0; i < 3000; i += 2) db.erase(damage_key(i));
        db.compact();
        for (const std::uint32_t id : listed(path)) CHECK(fs::exists(segment_file(path, id)));
    }
    CHECK(listed(path) == data_files(path));
    {
        sorted_mt_db db(path, small(false));
        CHECK(intact_keys(db, 3000) == 1500);
        db.clear();
        db.put("after", "clear");
    }
    CHECK(listed(path) == data_files(path));
    sorted_mt_db db(path, small(false));
    CHECK(intact_keys(db, 3000) == 0);
    CHECK(db.get("after") == "clear");
}

TEST_CASE("segment list: a damaged list is refused, and salvage writes it again", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    const std::string list = path + "/SEGMENTS";
    std::string bytes = read_file(list);
    for (std::size_t at = 0; at < bytes.size(); ++at) {
        INFO("byte " << at);
        std::string damaged = bytes;
        damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
        write_file(list, damaged);
        hash_db db;
        const std::error_code ec = open_with(db, path, small(false));
        CHECK(ec);
        CHECK(kvforge::last_error_message().find(list) != std::string::npos);
        CHECK(read_file(list) == damaged);
    }
    write_file(list, bytes.substr(0, bytes.size() - 1));
    {
        hash_db db;
        CHECK(open_with(db, path, small(false, true)) == kvforge::errc::corrupt_header);
    }
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, small(true)));
        CHECK(intact_keys(db, 3000) == 3000);
    }
    CHECK(listed(path) == data_files(path));
}

TEST_CASE("segment list: a store without one opens with every record and gets one; a read-only open writes none",
          "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    fs::remove(path + "/SEGMENTS");
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, small(false, true)));
        CHECK(intact_keys(db, 3000) == 3000);
    }
    CHECK_FALSE(fs::exists(path + "/SEGMENTS"));
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, small(false)));
        CHECK(intact_keys(db, 3000) == 3000);
        // Written by the open itself, before the store counts as open.
        CHECK(listed(path) == data_files(path));
    }
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, small(false)));
    CHECK(intact_keys(db, 3000) == 3000);
}

TEST_CASE("segment list: a backup lists its own segments, so that one lost from it is found", "[segment_list]") {
    temp_dir dir;
    const std::string path = dir / "db";
    const std::string copy = dir / "copy";
    {
        hash_db db(path, small(false));
        for (int i = 0; i < 3000; ++i) db.put(damage_key(i), damage_value(i));
        db.backup(copy);
    }
    REQUIRE(listed(copy) == data_files(copy));
    REQUIRE(data_files(copy).size() >= 3);
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, copy, small(false)));
        CHECK(intact_keys(db, 3000) == 3000);
    }
    fs::remove(segment_file(copy, 2));
    fs::remove(segment_file(copy, 2, ".kvhint"));
    hash_db db;
    CHECK(open_with(db, copy, small(false)) == kvforge::errc::corrupt_record);
    CHECK(kvforge::last_error_message().find(segment_file(copy, 2) + " is missing") != std::string::npos);
}
