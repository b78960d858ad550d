// A store's tables in its directory (stores/table/table_files.hpp) on the simulated file
// system: tables and their list written, published and opened again; a power loss at
// every call of a compaction leaves the tables before it or those after, whole, and the
// leftovers are removed; a listed table missing or cut short is an error, never left out.

#include <catch2/catch.hpp>

#include <kvforge/error.hpp>
#include <kvforge/io/simulated.hpp>
#include <kvforge/stores/table/table_files.hpp>
#include <kvforge/stores/table/table_merge.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace kd = kvforge::detail;

namespace {

using files_type = kd::table_files<kvforge::simulated_io, kvforge::uncompressed_blocks>;
using file_levels = files_type::levels_type;
using file_table = files_type::table_type;
using sink_file = files_type::source_type;
using entry_map = std::map<std::string, std::string>;

std::string table_key(int i) {
    char key[16];
    std::snprintf(key, sizeof key, "t%05d", i);
    return key;
}

/// A store directory on a simulated file system, with its tables.
struct table_directory {
    explicit table_directory(std::shared_ptr<kvforge::simulated_file_system> file_system)
        : fs(std::move(file_system)), io(fs) {
        std::error_code ec;
        REQUIRE(directory.open(io, "/db", {}, ec));
    }

    /// Writes entries as the table of generation and finishes it.
    bool write(std::uint32_t generation, const entry_map& entries, file_table& out, std::error_code& ec) {
        sink_file file;
        if (!files.create(generation, file, ec)) return false;
        kd::file_header header;
        header.generation = generation;
        kd::table_builder<kvforge::uncompressed_blocks, sink_file> builder(codec, file, header, {512, 10});
        for (const auto& [key, value] : entries) {
            kd::table_entry entry;
            entry.key = key;
            entry.value = value;
            if (!builder.add(entry, ec)) return false;
        }
        return builder.finish(ec) && files.finish(generation, std::move(file), builder.file_size(), nullptr, out, ec);
    }

    std::shared_ptr<kvforge::simulated_file_system> fs;
    kvforge::simulated_io io;
    kd::store_directory<kvforge::simulated_io> directory;
    kvforge::uncompressed_blocks codec;
    files_type files{directory, codec};
};

/// merge_into_tables's outputs: table files of the generations from next on.
struct file_outputs {
    table_directory& dir;
    std::uint32_t next;
    sink_file file;
    std::uint32_t generation = 0;
    std::vector<file_table> tables;

    file_outputs(table_directory& d, std::uint32_t first) : dir(d), next(first) {}

    sink_file* begin(kd::file_header& header, std::error_code& ec) {
        generation = header.generation = next++;
        return dir.files.create(generation, file, ec) ? &file : nullptr;
    }
    bool end(std::uint64_t size, std::error_code& ec) {
        file_table table;
        if (!dir.files.finish(generation, std::move(file), size, nullptr, table, ec)) return false;
        tables.push_back(std::move(table));
        return true;
    }
};

/// Every put the levels hold, newest first, as a scan gives them.
entry_map scanned_entries(const file_levels& levels) {
    std::vector<std::unique_ptr<kd::entry_cursor>> owned;
    levels.add_cursors(owned);
    std::vector<kd::entry_cursor*> sources;
    for (const auto& source : owned) sources.push_back(source.get());
    kd::merging_cursor scan(sources, kd::erases::skipped);
    entry_map out;
    std::error_code ec;
    for (bool at = scan.seek_first(ec); at; at = scan.next(ec)) out[std::string(scan.entry().key)] = scan.entry().value;
    REQUIRE_FALSE(ec);
    return out;
}

entry_map first_entries() {
    entry_map entries;
    for (int i = 0; i < 300; ++i) entries[table_key(i)] = "first-" + std::to_string(i);
    return entries;
}

entry_map second_entries() {
    entry_map entries;
    for (int i = 200; i < 500; ++i) entries[table_key(i)] = "second-" + std::to_string(i);
    return entries;
}

/// A store with two tables in level 0, published: the state before a compaction.
std::shared_ptr<kvforge::simulated_file_system> two_flushed_tables() {
    auto fs = std::make_shared<kvforge::simulated_file_system>();
    table_directory dir(fs);
    std::error_code ec;
    file_table first, second;
    REQUIRE(dir.write(1, first_entries(), first, ec));
    REQUIRE(dir.write(2, second_entries(), second, ec));
    const file_levels levels = file_levels().with_flushed(first).with_flushed(second);
    REQUIRE(dir.files.publish(levels, 3, ec));
    return fs;
}

/// Compacts level 0 into level 1, publishes and removes the inputs; false at the first error.
bool compact_level0(table_directory& dir, std::error_code& ec) {
    file_levels levels;
    std::uint32_t oldest_log = 0;
    if (!dir.files.open(nullptr, levels, oldest_log, ec)) return false;
    kd::level_limits limits;
    limits.level0_tables = 2;
    limits.table_bytes = 4096;
    const kd::table_compaction due = levels.due_compaction(limits);
    REQUIRE(due.inputs_above.size() == 2);
    std::vector<std::unique_ptr<kd::entry_cursor>> owned;
    levels.add_cursors(due, owned);
    std::vector<kd::entry_cursor*> sources;
    for (const auto& source : owned) sources.push_back(source.get());
    kd::merging_cursor input(sources, kd::erases::skipped);
    file_outputs outputs(dir, 10);
    kd::merge_totals totals;
    file_levels next;
    return kd::merge_into_tables(input, dir.codec, kd::table_layout{512, 10}, limits.table_bytes, outputs, totals, ec) &&
           levels.after_compaction(due, std::move(outputs.tables), next, ec) &&
           dir.files.publish(next, oldest_log, ec) && dir.files.remove_unlisted(next, ec);
}

std::vector<std::string> table_names(kvforge::simulated_file_system& fs) {
    std::vector<std::string> names;
    REQUIRE(fs.list_directory("/db", names) == 0);
    std::vector<std::string> tables;
    for (const std::string& name : names) {
        if (name.find(".kvtable") != std::string::npos) tables.push_back(name);
    }
    return tables;
}

}  // namespace

TEST_CASE("table files: tables published are opened again by level, with the oldest log to replay",
          "[table][files]") {
    auto fs = two_flushed_tables();
    table_directory dir(fs);
    file_levels levels;
    std::uint32_t oldest_log = 0;
    std::error_code ec;
    REQUIRE(dir.files.open(nullptr, levels, oldest_log, ec));
    REQUIRE(oldest_log == 3);
    REQUIRE(levels.level(0).size() == 2);
    REQUIRE(levels.level(0)[0].generation == 2);  // the newest first
    entry_map expected = first_entries();
    for (const auto& [key, value] : second_entries()) expected[key] = value;
    REQUIRE(scanned_entries(levels) == expected);

    REQUIRE(compact_level0(dir, ec));
    REQUIRE(dir.files.open(nullptr, levels, oldest_log, ec));
    REQUIRE(levels.level(0).empty());
    REQUIRE(levels.level(1).size() >= 2);
    REQUIRE(scanned_entries(levels) == expected);
    // The inputs are gone; only the tables listed are left.
    REQUIRE(table_names(*fs).size() == levels.level(1).size());
}

TEST_CASE("table files: a store without a list of tables has none", "[table][files]") {
    table_directory dir(std::make_shared<kvforge::simulated_file_system>());
    file_levels levels;
    std::uint32_t oldest_log = 7;
    std::error_code ec;
    REQUIRE(dir.files.open(nullptr, levels, oldest_log, ec));
    REQUIRE(levels.table_count() == 0);
    REQUIRE(oldest_log == 0);
}

TEST_CASE("table files: a power loss at any call of a compaction leaves the tables before it or after it",
          "[table][files][power_loss]") {
    const auto before = two_flushed_tables();
    entry_map expected = first_entries();
    for (const auto& [key, value] : second_entries()) expected[key] = value;

    // How many calls a whole compaction takes.
    std::uint64_t calls = 0;
    {
        table_directory dir(before->after_crash(kvforge::crash_tail::dropped));
        const std::uint64_t start = dir.fs->calls();
        std::error_code ec;
        REQUIRE(compact_level0(dir, ec));
        calls = dir.fs->calls() - start;
    }
    REQUIRE(calls > 10);
    int old_lists = 0, new_lists = 0;
    for (std::uint64_t k = 1; k <= calls + 1; ++k) {
        CAPTURE(k);
        auto fs = before->after_crash(kvforge::crash_tail::dropped);
        {
            table_directory dir(fs);
            fs->freeze_at(fs->calls() + k);
            std::error_code ec;
            (void)compact_level0(dir, ec);
        }
        for (const auto tail : {kvforge::crash_tail::dropped, kvforge::crash_tail::torn}) {
            table_directory after(fs->after_crash(tail, k));
            file_levels levels;
            std::uint32_t oldest_log = 0;
            std::error_code ec;
            REQUIRE(after.files.open(nullptr, levels, oldest_log, ec));
            REQUIRE(oldest_log == 3);
            REQUIRE(scanned_entries(levels) == expected);
            if (tail == kvforge::crash_tail::dropped) (levels.level(0).empty() ? new_lists : old_lists) += 1;
            // What the cut left beside the listed tables is removed, and they still read.
            REQUIRE(after.files.remove_unlisted(levels, ec));
            REQUIRE(table_names(*after.fs).size() == levels.table_count());
            REQUIRE(scanned_entries(levels) == expected);
        }
    }
    // Cuts before the rename left the old list, and cuts after it the new one.
    CHECK(old_lists > 0);
    CHECK(new_lists > 0);
}

TEST_CASE("table files: a listed table missing, cut short or damaged is an error naming it", "[table][files]") {
    std::error_code ec;
    std::uint32_t oldest_log = 0;
    file_levels levels;  // stays empty: an open that fails leaves it as it was
    SECTION("missing") {
        auto fs = two_flushed_tables();
        REQUIRE(fs->unlink("/db/data-0000000001.kvtable") == 0);
        table_directory dir(fs);
        REQUIRE_FALSE(dir.files.open(nullptr, levels, oldest_log, ec));
        REQUIRE(levels.table_count() == 0);
        REQUIRE(ec == kvforge::errc::corrupt_header);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("data-0000000001.kvtable is missing"));
    }
    SECTION("cut short") {
        auto fs = two_flushed_tables();
        const int fd = fs->open("/db/data-0000000002.kvtable", O_RDWR, 0);
        REQUIRE(fd >= 0);
        REQUIRE(fs->ftruncate(fd, 100) == 0);
        fs->close(fd);
        table_directory dir(fs);
        REQUIRE_FALSE(dir.files.open(nullptr, levels, oldest_log, ec));
        REQUIRE(levels.table_count() == 0);
        REQUIRE(ec == kvforge::errc::corrupt_header);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("cut short"));
    }
    SECTION("a damaged index or meta block") {
        auto fs = two_flushed_tables();
        std::string bytes;
        REQUIRE(fs->contents("/db/data-0000000002.kvtable", bytes));
        const int fd = fs->open("/db/data-0000000002.kvtable", O_RDWR, 0);
        const char flipped = static_cast<char>(bytes[bytes.size() - 100] ^ 0x20);
        REQUIRE(fs->pwrite(fd, &flipped, 1, static_cast<off_t>(bytes.size() - 100)) == 1);
        fs->close(fd);
        table_directory dir(fs);
        REQUIRE_FALSE(dir.files.open(nullptr, levels, oldest_log, ec));
        REQUIRE(levels.table_count() == 0);
        REQUIRE(ec == kvforge::errc::corrupt_record);
    }
    SECTION("a damaged list") {
        auto fs = two_flushed_tables();
        const int fd = fs->open("/db/TABLES", O_RDWR, 0);
        const char zero = 0x7f;
        REQUIRE(fs->pwrite(fd, &zero, 1, 22) == 1);
        fs->close(fd);
        table_directory dir(fs);
        REQUIRE_FALSE(dir.files.open(nullptr, levels, oldest_log, ec));
        REQUIRE(levels.table_count() == 0);
        REQUIRE(ec == kvforge::errc::corrupt_header);
        CHECK_THAT(kvforge::last_error_message(), Catch::Contains("TABLES"));
    }
}
