// Damage to a store's data and hint files that no crash can cause: a data file shorter
// than its hint proves, a segment deleted, a damaged file header, a stray empty data file.
// Each is an error naming the file (never a silently smaller store); with options::salvage
// every intact record is kept and what is gone is reported. A torn write after the last
// durable point is still cut silently.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

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
using sorted_db =
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::sync_each>;

}  // namespace

TEST_CASE("a data file cut below what its hint proves is damage, not a torn write", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        hash_db db(path);
        for (int i = 0; i < 2000; ++i) db.put(damage_key(i), damage_value(i));
    }
    const std::string data = segment_file(path, 1);
    REQUIRE(fs::exists(segment_file(path, 1, ".kvhint")));
    const std::string bytes = read_file(data);
    write_file(data, bytes.substr(0, bytes.size() / 2));

    // Neither a writable nor a read-only open accepts it, and the file is left as it is.
    for (const bool read_only : {false, true}) {
        hash_db db;
        const std::error_code ec = open_with(db, path, with(false, read_only));
        CHECK(ec == kvforge::errc::corrupt_record);
        CHECK(kvforge::last_error_message().find(data) != std::string::npos);
        CHECK(kvforge::last_error_message().find("records the hint lists past its end are lost") != std::string::npos);
        CHECK(fs::file_size(data) == bytes.size() / 2);
    }
    // A read-only salvaging open serves what is intact and its verify() names the loss.
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true, true)));
        const int kept = intact_keys(db, 2000);
        CHECK(kept > 900);
        CHECK(kept < 1000);
        const kvforge::verify_report report = db.verify();
        CHECK_FALSE(report.ok());
        CHECK(mentions(report, "proves"));
    }
    // Salvage keeps every intact record and leaves a store that verifies.
    int kept = 0;
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true)));
        kept = intact_keys(db, 2000);
        CHECK(db.verify().ok());
    }
    hash_db db(path);
    CHECK(intact_keys(db, 2000) == kept);
    CHECK(db.verify().ok());
}

TEST_CASE("bytes after what a hint proves are still a torn write, cut silently", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        hash_db db(path);
        for (int i = 0; i < 200; ++i) db.put(damage_key(i), damage_value(i));
    }
    const std::string data = segment_file(path, 1);
    const std::string bytes = read_file(data);
    // Half a record appended after the close, as a write that a crash cut short leaves.
    std::string record;
    kvforge::detail::append_put_record(record, "torn", std::string(100, 'x'));
    write_file(data, bytes + record.substr(0, record.size() / 2));
    hash_db db(path);
    CHECK(intact_keys(db, 200) == 200);
    CHECK_FALSE(db.contains("torn"));
    CHECK(db.stats().recovered_bytes_cut == record.size() / 2);
    CHECK(fs::file_size(data) == bytes.size());
    CHECK(db.verify().ok());
}

TEST_CASE("a deleted segment whose hint remains is an error naming it", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    const std::string lost = segment_file(path, 3);
    REQUIRE(fs::exists(segment_file(path, 3, ".kvhint")));
    REQUIRE(fs::exists(segment_file(path, 4)));
    fs::remove(lost);

    for (const bool read_only : {false, true}) {
        hash_db db;
        const std::error_code ec = open_with(db, path, with(false, read_only, 64 << 10));
        CHECK(ec == kvforge::errc::corrupt_record);
        CHECK(kvforge::last_error_message().find(lost + " is missing") != std::string::npos);
    }
    // The hint is not removed as a leftover.
    CHECK(fs::exists(segment_file(path, 3, ".kvhint")));
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true, true, 64 << 10)));
        const kvforge::verify_report report = db.verify();
        CHECK_FALSE(report.ok());
        CHECK(mentions(report, lost));
    }
    int kept = 0;
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true, false, 64 << 10)));
        kept = intact_keys(db, 3000);
        CHECK(kept < 3000);
        CHECK(kept >= 2000);
        CHECK(db.verify().ok());
    }
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, with(false, false, 64 << 10)));
    CHECK(intact_keys(db, 3000) == kept);
}

TEST_CASE("an emptied segment whose hint remains is an error; a stray empty data file is a leftover",
          "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    SECTION("emptied") {
        write_file(segment_file(path, 2), "");
        hash_db db;
        CHECK(open_with(db, path, with(false, true, 64 << 10)) == kvforge::errc::corrupt_record);
        CHECK(kvforge::last_error_message().find(segment_file(path, 2) + " is empty") != std::string::npos);
    }
    SECTION("stray") {
        const std::string stray = segment_file(path, 999);
        write_file(stray, "");
        {
            hash_db db;
            REQUIRE_FALSE(open_with(db, path, with(false, true, 64 << 10)));
            CHECK(intact_keys(db, 3000) == 3000);
            CHECK(db.verify().ok());
        }
        CHECK(fs::exists(stray));  // a read-only open changes nothing
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(false, false, 64 << 10)));
        CHECK(intact_keys(db, 3000) == 3000);
        CHECK_FALSE(fs::exists(stray));
    }
}

TEST_CASE("one damaged header byte: salvage keeps every record of the segment", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    const std::string data = segment_file(path, 2);
    std::string bytes = read_file(data);
    // A byte of each half: the codecs' fingerprint, and the replay order.
    const std::size_t at = GENERATE(std::size_t{20}, std::size_t{33}, std::size_t{50}, std::size_t{61});
    bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
    write_file(data, bytes);

    {
        hash_db db;
        const std::error_code ec = open_with(db, path, with(false, true, 64 << 10));
        CHECK(ec == kvforge::errc::corrupt_header);
        CHECK(kvforge::last_error_message().find(data) != std::string::npos);
    }
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true, true, 64 << 10)));
        CHECK(intact_keys(db, 3000) == 3000);
        const kvforge::verify_report report = db.verify();
        CHECK(report.damaged.size() == 1);
        CHECK(mentions(report, "the file header is damaged"));
        CHECK_FALSE(mentions(report, "could not be read"));
    }
    {
        hash_db db;
        REQUIRE_FALSE(open_with(db, path, with(true, false, 64 << 10)));
        CHECK(intact_keys(db, 3000) == 3000);
        CHECK(db.verify().ok());
    }
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, with(false, false, 64 << 10)));
    CHECK(intact_keys(db, 3000) == 3000);
}

TEST_CASE("a damaged order in a compaction output's header is recovered, not guessed", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    {
        sorted_db db(path, with(false, false, 64 << 10));
        for (int i = 0; i < 1000; ++i) db.put(damage_key(i), "old");
        db.compact();
        // Newer values in segments that replay after the output.
        for (int i = 0; i < 1000; ++i) db.put(damage_key(i), damage_value(i));
    }
    // The output: a segment whose order is below its id.
    std::string data;
    std::string bytes;
    for (const auto& entry : fs::directory_iterator(path)) {
        int id = 0;
        if (std::sscanf(entry.path().filename().c_str(), "data-%d.kvlog", &id) != 1) continue;
        const std::string contents = read_file(entry.path());
        if (kvforge::detail::file_header::get_le64(contents.data() + 32) < static_cast<std::uint64_t>(id)) {
            data = entry.path().string();
            bytes = contents;
        }
    }
    REQUIRE_FALSE(data.empty());
    bytes[32] = static_cast<char>(bytes[32] ^ 0x7f);
    write_file(data, bytes);
    sorted_db db;
    REQUIRE_FALSE(open_with(db, path, with(true, false, 64 << 10)));
    CHECK(intact_keys(db, 1000) == 1000);  // every value the newest, none "old"
}

TEST_CASE("verify names a closed segment cut inside a record as damage", "[file_damage]") {
    temp_dir dir;
    const std::string path = dir / "db";
    make_segmented_store<hash_db>(path, 3000);
    fs::remove(segment_file(path, 2, ".kvhint"));
    const std::string data = segment_file(path, 2);
    const std::string bytes = read_file(data);
    write_file(data, bytes.substr(0, bytes.size() - 10));
    hash_db db;
    REQUIRE_FALSE(open_with(db, path, with(true, true, 64 << 10)));
    const kvforge::verify_report report = db.verify();
    CHECK_FALSE(report.ok());
    CHECK(mentions(report, "at the end of a closed segment"));
    CHECK_FALSE(mentions(report, std::string(kvforge::detail::torn_tail_problem)));
}
