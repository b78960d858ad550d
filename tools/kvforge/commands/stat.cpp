// kvforge stat DIR: what a store holds and what it is made of.

#include <kvforge/stores/table/table_list.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <utility>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../exit_codes.hpp"
#include "../progress.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// stat of a store in a Redis Cluster: no files to measure; the keys counted by SCAN.
int print_cluster_store(const std::string& location, const tool_store& db) {
    const kvforge::composition& c = db.composition();
    std::printf("location     %s\n", location.c_str());
    std::printf("composition  %s,%s (a store in a Redis Cluster: no files)\n", c.store.c_str(),
                c.index.c_str());
    std::printf("key codec    %s\n", c.key_codec.c_str());
    std::printf("value codec  %s\n", c.value_codec.c_str());
    std::printf("keys         %llu\n", static_cast<unsigned long long>(db.stats().live_keys));
    return exit_ok;
}

/// The tables of a disk_index store by level, as its TABLES file lists them, the empty
/// levels left out: "7 (level 0: 3, 1.2 MiB; level 1: 4, 50.0 MiB)".
std::string tables_by_level(const std::string& dir) {
    const std::string path = dir + "/TABLES";
    std::ifstream in(path, std::ios::binary);
    if (!in) return "? (" + path + " cannot be read)";
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    kvforge::detail::table_list list;
    std::error_code ec;
    if (!list.decode(bytes, path, ec)) return "? (" + ec.message() + ")";
    std::map<unsigned, std::pair<std::uint64_t, std::uint64_t>> levels;  // level: tables, bytes
    for (const kvforge::detail::listed_table& table : list.tables) {
        ++levels[table.level].first;
        levels[table.level].second += table.file_size;
    }
    std::string text = std::to_string(list.tables.size());
    for (const auto& [level, held] : levels) {
        text += (level == levels.begin()->first ? " (" : "; ") + std::string("level ") + std::to_string(level) + ": " +
                std::to_string(held.first) + ", " + human_bytes(held.second);
    }
    return text + (levels.empty() ? "" : ")");
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {});
    parsed.expect_positionals(1, 1, "DIR");
    const std::string& dir = parsed.positional()[0];
    const opened_store store = open_existing(dir, access::as_is, read_only_options());
    if (store.in_cluster) return print_cluster_store(dir, store.db);
    // The MANIFEST's composition when there is one: the store is open as it says.
    const kvforge::composition& c = store.disk.has_manifest ? store.disk.composition : store.db.composition();
    const kvforge::stats s = store.db.stats();
    std::string made_of = c.store + "," + c.index + "," + c.durability;
    made_of += store.disk.has_manifest ? " (as its MANIFEST says)"
                                       : " (not recorded: a format 1 store has no MANIFEST; opened with the defaults)";
    std::printf("directory    %s\n", dir.c_str());
    std::printf("composition  %s\n", made_of.c_str());
    std::printf("format       %u\n", static_cast<unsigned>(store.disk.composition.format));
    std::printf("key codec    %s\n", c.key_codec.c_str());
    std::printf("value codec  %s\n", c.value_codec.c_str());
    std::printf("expiry       %s\n", c.expiry.c_str());
    std::printf("keys         %llu\n", static_cast<unsigned long long>(s.live_keys));
    std::printf("live bytes   %llu (%s)\n", static_cast<unsigned long long>(s.live_bytes), human_bytes(s.live_bytes).c_str());
    std::printf("dead bytes   %llu (%s)\n", static_cast<unsigned long long>(s.dead_bytes), human_bytes(s.dead_bytes).c_str());
    std::printf("disk bytes   %llu (%s)\n", static_cast<unsigned long long>(s.disk_bytes), human_bytes(s.disk_bytes).c_str());
    std::printf("segments     %llu\n", static_cast<unsigned long long>(s.segments));
    if (c.index == "disk_index") std::printf("tables       %s\n", tables_by_level(dir).c_str());
    return exit_ok;
}

}  // namespace

const command stat_command = {
    "stat", "stat DIR                    keys, bytes live/dead/on disk, composition, format",
    "usage: kvforge stat DIR\n"
    "\n"
    "Prints what the store in DIR holds and what it is made of: its composition (store,\n"
    "index and durability policies, from its MANIFEST), format version, key and value\n"
    "codecs, expiry (the clock deadlines are kept by, or none), number of keys (less those\n"
    "whose deadline has come), and bytes live, dead (replaced or erased, until compaction)\n"
    "and on disk; for a disk_index store, its tables by level. For a store in a Redis Cluster (DIR is redis_cluster:HOST:PORT,.../NAME):\n"
    "its composition, codecs and number of keys.\n",
    run};

}  // namespace kvforge_tool
