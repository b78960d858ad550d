// Files of a store over sorted tables (disk_index) lost in ways no crash loses them: the
// list of tables (TABLES), and the log it names. Each is an error naming the file, never a
// silently smaller store, and the refused open changes no file; with options::salvage a
// lost log's store opens with its tables' records, and a read-only open's verify() names
// the loss.

#include <catch2/catch.hpp>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <filesystem>
#include <string>
#include <system_error>

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

/// Opens path with options, expecting a refusal of errc::corrupt_header that changes no file.
std::string refused_unchanged(const std::string& path, const kvforge::options& options) {
    const auto before = kvforge_test::tree(path);
    damaged_tables_db db;
    std::error_code ec;
    db.open(path, options, ec);
    CHECK(ec == kvforge::errc::corrupt_header);
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

TEST_CASE("a store over tables whose TABLES is lost is refused by every open, and keeps its tables",
          "[table][damage]") {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "store";
    write_tables_and_log(path);
    const fs::path list = fs::path(path) / "TABLES";
    const std::string listed = kvforge_test::read_file(list);
    const fs::path table = only_file(path, ".kvtable");
    fs::remove(list);

    kvforge::options read_only;
    read_only.read_only = true;
    for (const kvforge::options& options : {kvforge::options{}, read_only, salvaging(false), salvaging(true)}) {
        INFO("read_only " << options.read_only << ", salvage " << options.salvage);
        CHECK_THAT(refused_unchanged(path, options),
                   Catch::Contains(list.string() + " is missing") && Catch::Contains(table.string()) &&
                       Catch::Contains("restore it from a backup"));
    }
    // With the list back, every record is there.
    kvforge_test::write_file(list, listed);
    damaged_tables_db db(path);
    CHECK(db.size() == 1010);
    CHECK(db.get("table 500") == "v");
    CHECK(db.get("log 5") == "v");
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
