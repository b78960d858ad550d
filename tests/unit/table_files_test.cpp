// A store's tables in its directory (stores/table/table_files.hpp) and the jobs that
// write them (table_jobs.hpp), on the simulated file system: write buffers flushed into
// tables, published and opened again; a power loss at every call of a compaction leaves
// the tables before it or those after, whole, and the leftovers are removed, and a
// TABLES lost after it is rebuilt from the tables to one of the two; a listed table
// missing or cut short is an error, never left out.

#include <catch2/catch.hpp>

#include <kvforge/error.hpp>
#include <kvforge/io/simulated.hpp>
#include <kvforge/stores/table/table_files.hpp>
#include <kvforge/stores/table/table_jobs.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>

namespace kd = kvforge::detail;

namespace {

using files_type = kd::table_files<kvforge::simulated_io, kvforge::uncompressed_blocks>;
using file_levels = files_type::levels_type;
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

    /// Flushes entries, as a write buffer, into a level 0 table of current.
    bool flush(const entry_map& entries, const file_levels& current, file_levels& next, std::error_code& ec) {
        kd::write_buffer buffer;
        for (const auto& [key, value] : entries) {
            kd::table_entry entry;
            entry.key = key;
            entry.value = value;
            buffer.add(entry);
        }
        return kd::flush_write_buffer(buffer, current, 0, context(), next, ec);
    }

    /// The jobs' context: small tables, level 0 compacted at two tables.
    [[nodiscard]] kd::table_job_context<kvforge::simulated_io, kvforge::uncompressed_blocks> context() {
        kd::level_limits limits;
        limits.level0_tables = 2;
        limits.table_bytes = 4096;
        return {files, codec, kd::table_layout{512, 10}, limits, nullptr, generations, {}};
    }

    std::shared_ptr<kvforge::simulated_file_system> fs;
    kvforge::simulated_io io;
    kd::store_directory<kvforge::simulated_io> directory;
    kvforge::uncompressed_blocks codec;
    files_type files{directory, codec};
    std::uint32_t next_generation = 1;
    std::function<std::uint32_t()> generations = [this] { return next_generation++; };
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
    file_levels first, second;
    REQUIRE(dir.flush(first_entries(), file_levels(), first, ec));
    REQUIRE(dir.flush(second_entries(), first, second, ec));
    REQUIRE(dir.files.publish(second, 3, ec));
    return fs;
}

/// Compacts level 0 into level 1, publishes with oldest_log and removes the inputs; false
/// at the first error.
bool compact_level0(table_directory& dir, std::error_code& ec, std::uint32_t oldest_log) {
    file_levels levels;
    std::uint32_t listed_log = 0;
    if (!dir.files.open(nullptr, levels, listed_log, ec)) return false;
    dir.next_generation = 10;
    const auto context = dir.context();
    const kd::table_compaction due = levels.due_compaction(context.limits);
    REQUIRE(due.inputs_above.size() == 2);
    file_levels next;
    kd::merge_totals totals;
    return kd::run_table_compaction(levels, due, oldest_log, context, next, totals, ec) &&
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

    REQUIRE(compact_level0(dir, ec, 3));
    REQUIRE(dir.files.open(nullptr, levels, oldest_log, ec));
    REQUIRE(levels.level(0).empty());
    REQUIRE(levels.level(1).size() >= 2);
    REQUIRE(scanned_entries(levels) == expected);
    // The inputs are gone; only the tables listed are left.
    REQUIRE(table_names(*fs).size() == levels.level(1).size());
}

TEST_CASE("table files: the tables a job replaced are removed, but not a TABLES.tmp a writer may be writing",
          "[table][files]") {
    // A thread_safe store's jobs remove the tables they replaced while a writer may be
    // between writing TABLES.tmp and renaming it (name_newest_log): removing the
    // temporary there failed the writer's rename. Only an open removes it.
    auto fs = two_flushed_tables();
    table_directory dir(fs);
    std::error_code ec;
    REQUIRE(compact_level0(dir, ec, 3));
    const int fd = fs->open("/db/TABLES.tmp", O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(fs->close(fd) == 0);
    const auto has_temporary = [&] {
        std::vector<std::string> names;
        REQUIRE(fs->list_directory("/db", names) == 0);
        return std::find(names.begin(), names.end(), "TABLES.tmp") != names.end();
    };
    file_levels levels;
    std::uint32_t oldest_log = 0;
    REQUIRE(dir.files.open(nullptr, levels, oldest_log, ec));
    REQUIRE(dir.files.remove_unlisted(levels, ec));
    REQUIRE(has_temporary());
    REQUIRE(dir.files.remove_leftovers(levels, ec));
    REQUIRE_FALSE(has_temporary());
    REQUIRE(table_names(*fs).size() == levels.table_count());
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

/// What a change leaves at a power loss at each of its calls: the store opens, with the
/// entries of before or those of after; the list before (level 0 still holds
/// old_level0_tables) at some cuts and the one after at others; and once the leftovers are
/// removed, only listed tables.
template <class Change>
void check_every_cut(const std::shared_ptr<kvforge::simulated_file_system>& before, Change&& change,
                     const entry_map& entries_before, const entry_map& entries_after, std::size_t old_level0_tables) {
    std::uint64_t calls = 0;
    {
        table_directory dir(before->after_crash(kvforge::crash_tail::dropped));
        const std::uint64_t start = dir.fs->calls();
        std::error_code ec;
        REQUIRE(change(dir, ec));
        calls = dir.fs->calls() - start;
    }
    REQUIRE(calls > 10);
    int old_lists = 0, new_lists = 0, rebuilt_lists = 0;
    for (std::uint64_t k = 1; k <= calls + 1; ++k) {
        CAPTURE(k);
        auto fs = before->after_crash(kvforge::crash_tail::dropped);
        {
            table_directory dir(fs);
            fs->freeze_at(fs->calls() + k);
            std::error_code ec;
            (void)change(dir, ec);
        }
        for (const auto tail : {kvforge::crash_tail::dropped, kvforge::crash_tail::torn}) {
            table_directory after(fs->after_crash(tail, k));
            file_levels levels;
            std::uint32_t oldest_log = 0;
            std::error_code ec;
            REQUIRE(after.files.open(nullptr, levels, oldest_log, ec));
            const bool old_list = levels.level(0).size() == old_level0_tables;
            REQUIRE(oldest_log == (old_list ? 3u : 4u));
            REQUIRE(scanned_entries(levels) == (old_list ? entries_before : entries_after));
            if (tail == kvforge::crash_tail::dropped) (old_list ? old_lists : new_lists) += 1;
            // What the cut left beside the listed tables is removed, and they still read.
            REQUIRE(after.files.remove_leftovers(levels, ec));
            REQUIRE(table_names(*after.fs).size() == levels.table_count());
            REQUIRE(scanned_entries(levels) == (old_list ? entries_before : entries_after));
        }
        // With TABLES lost after the cut, the list rebuilt from the tables reads the
        // entries of before or those of after, counted, and leaves out a table cut short.
        table_directory lost(fs->after_crash(kvforge::crash_tail::dropped, k));
        REQUIRE(lost.fs->unlink("/db/TABLES") == 0);
        file_levels rebuilt;
        std::uint32_t rebuilt_log = 0;
        kd::store_counts counts;
        std::vector<std::pair<std::string, std::string>> left_out;
        std::error_code ec;
        REQUIRE(lost.files.rebuild_list(nullptr, rebuilt, rebuilt_log, counts, left_out, ec));
        const entry_map entries = scanned_entries(rebuilt);
        REQUIRE((entries == entries_before || entries == entries_after));
        REQUIRE(counts.live_keys == entries.size());
        rebuilt_lists += 1;
    }
    // Cuts before the rename left the old list, and cuts after it the new one.
    CHECK(old_lists > 0);
    CHECK(rebuilt_lists > 0);
    CHECK(new_lists > 0);
}

TEST_CASE("table files: a lost list is rebuilt from the tables' placements, a merge done or undone whole",
          "[table][files]") {
    const auto placed = [](std::uint32_t level, std::vector<std::uint32_t> replaced) {
        kd::table_placement placement;
        placement.level = level;
        placement.replaced = std::move(replaced);
        return placement;
    };
    using kept_list = std::vector<bool>;
    // Flushes only: every table.
    CHECK(kd::tables_kept({1, 2}, {placed(0, {}), placed(0, {})}) == kept_list{true, true});
    // A merge whose inputs are all there may never have been listed: its inputs are kept,
    // its outputs (perhaps cut short) left out.
    CHECK(kd::tables_kept({1, 2, 5, 6}, {placed(0, {}), placed(0, {}), placed(1, {1, 2}), placed(1, {1, 2})}) ==
          kept_list{true, true, false, false});
    // A merge one of whose inputs is gone was listed: the inputs left are leftovers.
    CHECK(kd::tables_kept({2, 5, 6}, {placed(0, {}), placed(1, {1, 2}), placed(1, {1, 2})}) ==
          kept_list{false, true, true});
    // A merge whose output a listed merge replaced was listed too, though its inputs are all there.
    CHECK(kd::tables_kept({1, 2, 5, 9}, {placed(0, {}), placed(0, {}), placed(1, {1, 2}), placed(2, {5, 7})}) ==
          kept_list{false, false, false, true});
}

TEST_CASE("table files: a power loss at any call of a compaction leaves the tables before it or after it",
          "[table][files][power_loss]") {
    entry_map expected = first_entries();
    for (const auto& [key, value] : second_entries()) expected[key] = value;
    check_every_cut(
        two_flushed_tables(),
        [](table_directory& dir, std::error_code& ec) { return compact_level0(dir, ec, 4); }, expected, expected, 2);
}

TEST_CASE("table files: a power loss at any call of a flush leaves the tables before it or after it",
          "[table][files][power_loss]") {
    entry_map before = first_entries();
    for (const auto& [key, value] : second_entries()) before[key] = value;
    entry_map third;
    for (int i = 100; i < 700; i += 3) third[table_key(i)] = "third-" + std::to_string(i);
    entry_map after = before;
    for (const auto& [key, value] : third) after[key] = value;
    check_every_cut(
        two_flushed_tables(),
        [&](table_directory& dir, std::error_code& ec) {
            file_levels levels, next;
            std::uint32_t oldest_log = 0;
            dir.next_generation = 10;
            return dir.files.open(nullptr, levels, oldest_log, ec) && dir.flush(third, levels, next, ec) &&
                   dir.files.publish(next, 4, ec);
        },
        before, after, 2);
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
