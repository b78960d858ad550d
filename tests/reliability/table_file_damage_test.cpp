// Files of a store over sorted tables (disk_index) lost in ways no crash loses them: the
// list of tables (TABLES), the log it names, and the end of a log after a clean close. Each
// is an error naming the file, never a silently smaller store, and the refused open changes
// no file; with options::salvage a lost log's store opens with its tables' records (a cut
// log's, with the records before the cut too), and a read-only open's verify() names the
// loss.

#include <catch2/catch.hpp>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

namespace {

using damaged_tables_db = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::disk_index>;

/// A store over tables with 1,000 keys in a table and 10 more in its log.
void write_tables_and_log(const std::string& path) {
    damaged_tables_db db(path);
    for (int i = 0; i < 1000; ++i) db.put("table " + std::to_string(i), "v");
    db.compact();
    for (int i = 0; i < 10; ++i) db.put("log " + std::to_string(i), "v");
}

/// The one file of the store at path with this extension.
fs::path only_file(const std::string& path, const std::string& extension) {
    fs::path found;
    int count = 0;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == extension) {
            found = entry.path();
            ++count;
        }
    }
    REQUIRE(count == 1);
    return found;
}

/// Opens path with options, expecting a refusal of `expected` that changes no file.
std::string refused_unchanged(const std::string& path, const kvforge::options& options,
                              kvforge::errc expected = kvforge::errc::corrupt_header) {
    const auto before = kvforge_test::tree(path);
    damaged_tables_db db;
    std::error_code ec;
    db.open(path, options, ec);
    CHECK(ec == expected);
    CHECK_FALSE(db.is_open());
    CHECK(kvforge_test::tree(path) == before);
    return kvforge::last_error_message();
}

kvforge::options salvaging(bool read_only) {
    kvforge::options options;
    options.salvage = true;
    options.read_only = read_only;
    return options;
}

}  // namespace

TEST_CASE("a store over tables whose TABLES is lost or damaged is refused; salvage rebuilds it from the tables",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path list = fs::path(path) / "TABLES";
    const fs::path table = only_file(path, ".kvtable");
    kvforge::options read_only;
    read_only.read_only = true;
    std::string how_lost;
    SECTION("lost") {
        fs::remove(list);
        how_lost = "missing";
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            INFO("read_only " << options.read_only);
            CHECK_THAT(refused_unchanged(path, options),
                       Catch::Contains(list.string() + " is missing") && Catch::Contains(table.string()) &&
                           Catch::Contains("options::salvage") && Catch::Contains("rebuild it from the tables"));
        }
    }
    SECTION("damaged") {
        std::string bytes = kvforge_test::read_file(list);
        bytes[40] = static_cast<char>(bytes[40] ^ 0x10);  // in its counts
        kvforge_test::write_file(list, bytes);
        how_lost = "unreadable";
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            INFO("read_only " << options.read_only);
            CHECK_THAT(refused_unchanged(path, options), Catch::Contains(list.string() + ": fails its checksum"));
        }
    }
    {
        // A salvaging reader rebuilds the list in memory, changes no file, and names the loss.
        const auto before = kvforge_test::tree(path);
        damaged_tables_db reader(path, salvaging(true));
        CHECK(reader.size() == 1010);
        CHECK(reader.get("table 500") == "v");
        CHECK(reader.get("log 5") == "v");
        const kvforge::verify_report report = reader.verify();
        REQUIRE(report.damaged.size() == 1);
        CHECK(report.damaged[0].file == list.string());
        CHECK_THAT(report.damaged[0].problem,
                   Catch::StartsWith(how_lost) && Catch::Contains("rebuilt from the tables"));
        reader.close();
        CHECK(kvforge_test::tree(path) == before);
    }
    {
        // A salvaging writer writes it again.
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1010);
    }
    CHECK(fs::exists(list));
    damaged_tables_db db(path);
    CHECK(db.verify().ok());
    CHECK(db.size() == 1010);
    CHECK(db.get("table 999") == "v");
    CHECK(db.get("log 9") == "v");
}

namespace {

/// Applies a pseudo-random history of puts, overwrites and erases to db and to model.
template <class Store>
void write_history(Store& db, std::map<std::string, std::string>& model, int steps, unsigned seed) {
    for (int i = 0; i < steps; ++i) {
        seed = seed * 1103515245u + 12345u;
        const std::string key = "key " + std::to_string((seed >> 8) % 3000);
        if ((seed >> 4) % 8 == 0) {
            db.erase(key);
            model.erase(key);
        } else {
            const std::string value = "value " + std::to_string(i) + std::string((seed >> 12) % 90, 'x');
            db.put(key, value);
            model[key] = value;
        }
    }
}

template <class Store>
std::map<std::string, std::string> contents_of(const Store& db) {
    std::map<std::string, std::string> contents;
    db.for_each([&](const std::string& key, const std::string& value) { contents[key] = value; });
    return contents;
}

/// Every table file of the store at path, by name, with its bytes.
std::map<std::string, std::string> table_files_of(const std::string& path) {
    std::map<std::string, std::string> tables;
    for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.path().extension() == ".kvtable") {
            tables[entry.path().filename().string()] = kvforge_test::read_file(entry.path());
        }
    }
    return tables;
}

/// The tables TABLES of the store at path lists in level, or in all levels.
std::size_t listed_tables(const std::string& path, std::optional<unsigned> level = std::nullopt) {
    kvforge::detail::table_list list;
    std::error_code ec;
    REQUIRE(list.decode(kvforge_test::read_file(fs::path(path) / "TABLES"), "TABLES", ec));
    return static_cast<std::size_t>(std::count_if(list.tables.begin(), list.tables.end(),
                                                  [&](const auto& table) { return !level || table.level == *level; }));
}

}  // namespace

// A single_thread store, so that the tables found before compact() are among the inputs of
// its merge: a thread_safe store's jobs could replace some of them first, leaving tables
// that no crash leaves.
TEST_CASE("a TABLES lost after a merge, its inputs not yet removed, is rebuilt with every newest value",
          "[table][damage]") {
    using db_type = damaged_tables_db;
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    kvforge::options small_buffers;
    small_buffers.segment_bytes = 64 << 10;  // many flushes, and merges into level 1
    std::map<std::string, std::string> model;
    std::map<std::string, std::string> inputs;
    {
        db_type db(path, small_buffers);
        write_history(db, model, 10000, 7);
        db.compact();  // tables in the deepest level
        write_history(db, model, 5000, 11);
        for (unsigned round = 0; round < 100 && listed_tables(path, 0) == 0; ++round) {
            write_history(db, model, 50, 100 + round);
        }
        REQUIRE(listed_tables(path, 0) > 0);
        REQUIRE(listed_tables(path, 1) > 0);
        // The inputs of the merge compact() makes: every table, of levels 0, 1 and 6.
        inputs = table_files_of(path);
        db.compact();
        write_history(db, model, 3000, 13);  // newer tables above its outputs
    }
    // A crash after the merge's TABLES, before its inputs were all removed: with all of
    // them left, the merge is taken as not done (its inputs hold the same records); with
    // one removed, as done, and the others are left out.
    for (const bool all_left : {true, false}) {
        INFO("all inputs left " << all_left);
        const std::string copy = dir / (all_left ? "all inputs left" : "one input removed");
        fs::copy(path, copy);
        for (auto it = inputs.begin(); it != inputs.end(); ++it) {
            if (all_left || it != inputs.begin()) kvforge_test::write_file(fs::path(copy) / it->first, it->second);
        }
        fs::remove(fs::path(copy) / "TABLES");
        kvforge::options salvage = small_buffers;
        salvage.salvage = true;
        {
            db_type db(copy, salvage);
            CHECK(db.size() == model.size());
            CHECK(contents_of(db) == model);
        }
        db_type db(copy, small_buffers);
        CHECK(db.verify().ok());
        CHECK(contents_of(db) == model);
        // Only the tables listed are left.
        CHECK(table_files_of(copy).size() == listed_tables(copy));
    }
}

TEST_CASE("a TABLES lost after a clear(), its tables not yet removed, is rebuilt without them", "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    std::map<std::string, std::string> tables;
    write_tables_and_log(path);
    {
        damaged_tables_db db(path);
        tables = table_files_of(path);
        REQUIRE_FALSE(tables.empty());
        db.clear();
        db.put("after the clear", "v");
    }
    // A crash after clear()'s TABLES, before its tables were removed; then TABLES lost.
    for (const auto& [name, bytes] : tables) kvforge_test::write_file(fs::path(path) / name, bytes);
    fs::remove(fs::path(path) / "TABLES");
    kvforge::options salvage;
    salvage.salvage = true;
    {
        damaged_tables_db db(path, salvage);
        CHECK(db.size() == 1);
        CHECK(db.get("after the clear") == "v");
        CHECK_FALSE(db.contains("table 1"));
    }
    damaged_tables_db db(path);
    CHECK(db.size() == 1);
    CHECK(table_files_of(path).size() <= 1);
}

TEST_CASE("a TABLES lost from a store whose tables are of table format 1 is refused, even by salvage",
          "[table][damage][upgrade]") {
    kvforge_test::temp_dir dir;
    const fs::path path = dir / "disk_index-levels";
    fs::copy(fs::path(KVFORGE_FIXTURES_DIR) / "table_format1" / "disk_index-levels", path);
    fs::remove(path / "TABLES");
    const std::string message = refused_unchanged(path.string(), salvaging(false));
    CHECK_THAT(message, Catch::Contains("TABLES is missing, and cannot be rebuilt") &&
                            Catch::Contains("is a table of format 1") && Catch::Contains("restore it from a backup"));
}

TEST_CASE("a store over tables whose latest log is lost is refused; salvage keeps the tables' records",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path log = only_file(path, ".kvlog");
    fs::remove(log);

    kvforge::options read_only;
    read_only.read_only = true;
    for (const kvforge::options& options : {kvforge::options{}, read_only}) {
        CHECK_THAT(refused_unchanged(path, options),
                   Catch::Contains(log.string() + " is missing, though") && Catch::Contains("TABLES names it") &&
                       Catch::Contains("options::salvage"));
    }
    {
        // Tables without a log are still a store: one that may not be there is refused.
        kvforge::options fresh_only;
        fresh_only.error_if_exists = true;
        const auto before = kvforge_test::tree(path);
        damaged_tables_db db;
        std::error_code ec;
        db.open(path, fresh_only, ec);
        CHECK(ec == kvforge::errc::store_exists);
        CHECK(kvforge_test::tree(path) == before);
    }
    {
        // A salvaging reader opens with the tables' records, changes no file, and names the loss.
        const auto before = kvforge_test::tree(path);
        damaged_tables_db reader(path, salvaging(true));
        CHECK(reader.size() == 1000);
        const kvforge::verify_report report = reader.verify();
        REQUIRE(report.damaged.size() == 1);
        CHECK(report.damaged[0].file == log.string());
        CHECK_THAT(report.damaged[0].problem, Catch::Contains("records written since the tables were last flushed"));
        CHECK(report.records_checked == 1000);
        reader.close();
        CHECK(kvforge_test::tree(path) == before);
    }
    {
        // A salvaging writer keeps them and starts a new log: the store is whole again.
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1000);
        writer.put("after", "v");
    }
    damaged_tables_db db(path);
    CHECK(db.verify().ok());
    CHECK(db.size() == 1001);
    CHECK(db.get("table 999") == "v");
    CHECK_FALSE(db.contains("log 0"));
    CHECK(db.get("after") == "v");
}

TEST_CASE("a log cut short after a clean close is refused, even at a record boundary; salvage keeps the rest",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path log = only_file(path, ".kvlog");
    const std::uint64_t size = fs::file_size(log);
    // The last record, a put of "log 9" and "v": a checksum, a type, two sizes, the bytes.
    const std::uint64_t last_record = 4 + 1 + 1 + 1 + 5 + 1;
    kvforge::options read_only;
    read_only.read_only = true;

    SECTION("a cut inside the last record is no torn write after a clean close") {
        fs::resize_file(log, size - 3);
        CHECK_THAT(refused_unchanged(path, {}, kvforge::errc::corrupt_record),
                   Catch::Contains(log.string() + " is cut short: it holds " + std::to_string(size - 3) + " bytes") &&
                       Catch::Contains(std::to_string(size) + " at the store's last close"));
        // A salvaging reader names the cut once: the record it ends inside is part of it,
        // no torn write that a crash left.
        damaged_tables_db reader(path, salvaging(true));
        const kvforge::verify_report report = reader.verify();
        REQUIRE(report.damaged.size() == 1);
        CHECK_THAT(report.damaged[0].problem, Catch::Contains("cut short"));
    }
    SECTION("a cut at a record boundary is found, by a reader too") {
        fs::resize_file(log, size - last_record);
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            CHECK_THAT(refused_unchanged(path, options, kvforge::errc::corrupt_record),
                       Catch::Contains(log.string() + " is cut short") && Catch::Contains("options::salvage"));
        }
        {
            // A salvaging reader opens with every record before the cut and names the loss.
            const auto before = kvforge_test::tree(path);
            damaged_tables_db reader(path, salvaging(true));
            CHECK(reader.size() == 1009);
            CHECK(reader.get("log 8") == "v");
            CHECK_FALSE(reader.contains("log 9"));
            const kvforge::verify_report report = reader.verify();
            REQUIRE(report.damaged.size() == 1);
            CHECK(report.damaged[0].file == log.string());
            CHECK(report.damaged[0].offset == size - last_record);
            CHECK_THAT(report.damaged[0].problem, Catch::Contains("records written past its end are lost"));
            reader.close();
            CHECK(kvforge_test::tree(path) == before);
        }
        {
            damaged_tables_db writer(path, salvaging(false));
            CHECK(writer.size() == 1009);
        }
        damaged_tables_db db(path);
        CHECK(db.verify().ok());
        CHECK(db.size() == 1009);
    }
    SECTION("a cut below the log's header loses every record of it") {
        fs::resize_file(log, 10);
        CHECK_THAT(refused_unchanged(path, {}, kvforge::errc::corrupt_record),
                   Catch::Contains(log.string() + " is cut short: it holds 10 bytes"));
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1000);
    }
}

TEST_CASE("a bit flipped in a log's header or records after a clean close is refused; salvage keeps the rest",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path log = only_file(path, ".kvlog");
    const std::string bytes = kvforge_test::read_file(log);
    const std::uint64_t last_record = 4 + 1 + 1 + 1 + 5 + 1;  // the put of "log 9" and "v"
    const auto flip_bit_at = [&](std::size_t offset) {
        std::string damaged = bytes;
        damaged[offset] = static_cast<char>(damaged[offset] ^ 0x04);
        kvforge_test::write_file(log, damaged);
    };
    kvforge::options read_only;
    read_only.read_only = true;

    SECTION("a header that fails its checksum, with records after it, is damage, not a log cut in its start") {
        // Its records were the only copy of ten keys: the open used to drop them, and a
        // writer's open then removed the log.
        flip_bit_at(10);
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            CHECK_THAT(refused_unchanged(path, options, kvforge::errc::corrupt_header),
                       Catch::Contains(log.string() + ": the file header fails its checksum") &&
                           Catch::Contains("options::salvage"));
        }
        {
            const auto before = kvforge_test::tree(path);
            damaged_tables_db reader(path, salvaging(true));
            CHECK(reader.size() == 1010);
            CHECK(reader.get("log 9") == "v");
            const kvforge::verify_report report = reader.verify();
            REQUIRE(report.damaged.size() == 1);
            CHECK(report.damaged[0].file == log.string());
            CHECK_THAT(report.damaged[0].problem, Catch::Contains("read one by one"));
            reader.close();
            CHECK(kvforge_test::tree(path) == before);
        }
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1010);
    }
    SECTION("a damaged last record is no torn write after a clean close") {
        const std::uint64_t record = bytes.size() - last_record;
        flip_bit_at(bytes.size() - 3);
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            CHECK_THAT(refused_unchanged(path, options, kvforge::errc::corrupt_record),
                       Catch::Contains(log.string() + " holds a damaged record at byte " + std::to_string(record)) &&
                           Catch::Contains(std::to_string(bytes.size()) + " bytes"));
        }
        {
            damaged_tables_db reader(path, salvaging(true));
            CHECK(reader.size() == 1009);
            CHECK_FALSE(reader.contains("log 9"));
            const kvforge::verify_report report = reader.verify();
            REQUIRE(report.damaged.size() == 1);
            CHECK(report.damaged[0].offset == record);
            CHECK_THAT(report.damaged[0].problem, Catch::Contains("a damaged record at byte"));
        }
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1009);
        CHECK(writer.stats().recovered_bytes_cut == last_record);
    }
    SECTION("a damaged record with intact ones after it: salvage drops that record alone") {
        // The log holds its header, then the ten puts, each last_record bytes long.
        const std::uint64_t fifth = bytes.size() - 6 * last_record;  // the put of "log 4"
        flip_bit_at(fifth + 9);
        for (const kvforge::options& options : {kvforge::options{}, read_only}) {
            CHECK_THAT(refused_unchanged(path, options, kvforge::errc::corrupt_record),
                       Catch::Contains(log.string() + ": damaged record at offset " + std::to_string(fifth)));
        }
        {
            damaged_tables_db reader(path, salvaging(true));
            CHECK(reader.size() == 1009);
            CHECK_FALSE(reader.contains("log 4"));
            CHECK(reader.get("log 9") == "v");
            const kvforge::verify_report report = reader.verify();
            REQUIRE(report.damaged.size() == 1);
            CHECK(report.damaged[0].file == log.string());
            CHECK(report.damaged[0].offset == fifth);
        }
        {
            damaged_tables_db writer(path, salvaging(false));
            CHECK(writer.size() == 1009);
            CHECK(writer.get("log 5") == "v");
        }
        damaged_tables_db reopened(path);  // the salvaged records went into a table
        CHECK(reopened.size() == 1009);
        CHECK(reopened.verify().damaged.empty());
    }
}

TEST_CASE("while a writer has a store over tables open, TABLES records no log size; its close records them",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path list = fs::path(path) / "TABLES";
    // The oldest and the newest log's sizes, at offsets 48 and 56 (docs/format.md).
    const auto recorded_sizes = [&] { return kvforge_test::read_file(list).substr(48, 16); };
    const std::string none(16, '\0');
    CHECK(recorded_sizes() != none);
    std::string list_while_open;
    {
        damaged_tables_db writer(path);
        CHECK(recorded_sizes() == none);
        writer.put("more", "v");
        list_while_open = kvforge_test::read_file(list);
    }
    CHECK(recorded_sizes() != none);
    // What a crash before the close leaves: the list as the open wrote it, and a torn
    // tail, which an open cuts silently.
    kvforge_test::write_file(list, list_while_open);
    const fs::path log = only_file(path, ".kvlog");
    fs::resize_file(log, fs::file_size(log) - 1);
    damaged_tables_db db(path);
    CHECK(db.size() == 1010);
    CHECK_FALSE(db.contains("more"));
    CHECK(db.stats().recovered_bytes_cut > 0);
}

TEST_CASE("a backup of a store over tables records its logs' sizes: one of them cut short is found",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    const std::string copy = dir / "backup";
    write_tables_and_log(path);
    {
        damaged_tables_db db(path);
        db.put("after the open", "v");
        db.backup(copy);
    }
    const fs::path log = only_file(copy, ".kvlog");
    fs::resize_file(log, fs::file_size(log) - (4 + 1 + 1 + 1 + 14 + 1));
    CHECK_THAT(refused_unchanged(copy, {}, kvforge::errc::corrupt_record),
               Catch::Contains(log.string() + " is cut short"));
}

namespace {

std::string numbered_key(int i) { return "key " + std::to_string(1000 + i); }

/// A store over tables whose 1,000 keys are "first" in a table of the deepest level and
/// "second" in a newer table above it; the newer table's file.
fs::path write_two_tables(const std::string& path) {
    {
        damaged_tables_db db(path);
        for (int i = 0; i < 1000; ++i) db.put(numbered_key(i), "first");
        db.compact();
        for (int i = 0; i < 1000; ++i) db.put(numbered_key(i), "second");
    }
    { damaged_tables_db flushed(path); }  // the open flushes the log into a table
    const std::map<std::string, std::string> tables = table_files_of(path);
    REQUIRE(tables.size() == 2);
    return fs::path(path) / tables.rbegin()->first;
}

void flip_byte(const fs::path& file, std::size_t offset) {
    std::string bytes = kvforge_test::read_file(file);
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x20);
    kvforge_test::write_file(file, bytes);
}

}  // namespace

TEST_CASE("a damaged block of a table is never served; verify lists it; salvage keeps every other entry",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    const fs::path newer = write_two_tables(path);
    flip_byte(newer, static_cast<std::size_t>(fs::file_size(newer) / 3));  // in a data block

    std::vector<int> unreadable;
    {
        damaged_tables_db db(path);
        for (int i = 0; i < 1000; ++i) {
            std::error_code ec;
            const std::optional<std::string> value = db.get(numbered_key(i), ec);
            if (ec) {
                CHECK(ec == kvforge::errc::corrupt_record);
                unreadable.push_back(i);
            } else {
                CHECK(value == "second");
            }
        }
        const kvforge::verify_report report = db.verify();
        REQUIRE(report.damaged.size() == 1);
        CHECK(report.damaged[0].file == newer.string());
        CHECK_THAT(report.damaged[0].problem, Catch::Contains("fails its checksum"));
    }
    REQUIRE_FALSE(unreadable.empty());
    REQUIRE(unreadable.size() < 500);
    {
        // A salvaging reader's scan goes on past the block, to the versions before it.
        damaged_tables_db reader(path, salvaging(true));
        const std::map<std::string, std::string> contents = contents_of(reader);
        CHECK(contents.size() == 1000);
        for (const int i : unreadable) CHECK(contents.at(numbered_key(i)) == "first");
        CHECK(contents.at(numbered_key(unreadable.back() + 1)) == "second");
        // So does a scan down, with the same entries, largest key first.
        std::vector<std::pair<std::string, std::string>> down;
        for (auto&& [key, value] : reader.scan(kvforge::descending)) down.emplace_back(key, value);
        CHECK(down == std::vector<std::pair<std::string, std::string>>(contents.rbegin(), contents.rend()));
        CHECK(reader.verify().damaged.size() == 1);
    }
    {
        // The salvage merges the tables without the block: its keys keep the version before.
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1000);
        CHECK(writer.verify().ok());
    }
    damaged_tables_db db(path);
    CHECK(db.verify().ok());
    CHECK(table_files_of(path).size() == 1);
    for (int i = 0; i < 1000; ++i) {
        const bool lost = std::find(unreadable.begin(), unreadable.end(), i) != unreadable.end();
        REQUIRE(db.get(numbered_key(i)) == (lost ? "first" : "second"));
    }
}

TEST_CASE("a salvaging reader's scans go on past a damaged first block, in either order", "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    const fs::path newer = write_two_tables(path);
    flip_byte(newer, 64 + 100);  // in the first data block, past the 64-byte header
    damaged_tables_db reader(path, salvaging(true));
    const std::map<std::string, std::string> up = contents_of(reader);
    CHECK(up.size() == 1000);
    CHECK(up.at(numbered_key(0)) == "first");  // in the damaged block: the older table's version
    CHECK(up.at(numbered_key(999)) == "second");
    std::vector<std::pair<std::string, std::string>> down;
    for (auto&& [key, value] : reader.scan(kvforge::descending)) down.emplace_back(key, value);
    CHECK(down == std::vector<std::pair<std::string, std::string>>(up.rbegin(), up.rend()));
    CHECK(reader.verify().damaged.size() == 1);
}

TEST_CASE("a table that cannot be opened is refused; salvage lists the tables again without it", "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    const fs::path newer = write_two_tables(path);
    flip_byte(newer, static_cast<std::size_t>(fs::file_size(newer) - 10));  // in its footer
    kvforge::options read_only;
    read_only.read_only = true;
    for (const kvforge::options& options : {kvforge::options{}, read_only}) {
        const auto before = kvforge_test::tree(path);
        damaged_tables_db db;
        std::error_code ec;
        db.open(path, options, ec);
        CHECK(ec);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains(newer.string()));
        CHECK(kvforge_test::tree(path) == before);
    }
    {
        damaged_tables_db reader(path, salvaging(true));
        const kvforge::verify_report report = reader.verify();
        REQUIRE(report.damaged.size() == 2);  // the list, rebuilt, and the table left out
        CHECK_THAT(report.damaged[0].problem, Catch::StartsWith("unreadable"));
        CHECK(report.damaged[1].file == newer.string());
    }
    {
        damaged_tables_db writer(path, salvaging(false));
        CHECK(writer.size() == 1000);
    }
    damaged_tables_db db(path);
    CHECK(db.verify().ok());
    for (int i = 0; i < 1000; ++i) REQUIRE(db.get(numbered_key(i)) == "first");
}
