// Power loss at every I/O call of a backup, on a simulated file system.
//
// A store is filled and synced, then backed up with the file system frozen at the
// backup's k-th call, for k = 1, 2, ... until the backup finishes without reaching call
// k (as in power_loss_test.cpp). The power then fails, in each of three ways for the
// bytes appended since their file's last sync, and what is left must be: the source
// store as it was (it opens, passes verify() and holds every record), and at the
// destination either no backup (no MANIFEST; backing up there again is refused when it
// holds anything, and succeeds when it does not) or a complete one (it opens, passes
// verify() and holds exactly the source's records). A backup that reported success
// left a complete one in every crash state; one that was not stopped reports success.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>

#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

namespace {

using contents = std::map<std::string, std::string>;

constexpr const char* source_path = "/db";
constexpr const char* backup_path = "/backup";

kvforge::options self_compacting() {
    kvforge::options opts;
    opts.compact_min_bytes = 1024;  // low enough that the overwrites compact on their own
    return opts;
}

/// Fills the store with overwritten, erased and batched records, syncs it, and returns what it holds.
template <class Store>
contents fill_source(Store& db) {
    contents expected;
    for (int i = 0; i < 120; ++i) {
        const std::string key = "key" + std::to_string(i % 40);
        expected[key] = std::string(static_cast<std::size_t>(i % 90), static_cast<char>('a' + i % 26));
        db.put(key, expected[key]);
    }
    for (int i = 0; i < 40; i += 7) {
        db.erase("key" + std::to_string(i));
        expected.erase("key" + std::to_string(i));
    }
    typename Store::batch_type b;
    b.put("batched", "value");
    b.erase("key1");
    db.write(b);
    expected["batched"] = "value";
    expected.erase("key1");
    db.sync();
    return expected;
}

template <class Store>
bool read_contents(const Store& db, contents& out, std::error_code& ec) {
    out.clear();
    db.for_each([&](const std::string& key, const std::string& value) { out.emplace(key, value); }, ec);
    return !ec;
}

/// Opens the store at path on fs and checks that it verifies and holds expected; an
/// empty string when it does, else what went wrong.
template <class Store>
std::string check_store(const std::shared_ptr<kvforge::simulated_file_system>& fs, const std::string& path,
                        const contents& expected) {
    Store db;
    std::error_code ec;
    db.open(path, self_compacting(), typename Store::io_policy(fs), ec);
    if (ec) return path + " does not open: " + kvforge::last_error_message();
    const kvforge::verify_report report = db.verify(ec);
    if (ec) return path + ": verify failed: " + kvforge::last_error_message();
    if (!report.ok()) return path + ": verify found damage: " + report.damaged.front().problem;
    contents found;
    if (!read_contents(db, found, ec)) return path + ": reading failed: " + kvforge::last_error_message();
    if (found != expected) {
        return path + " holds " + std::to_string(found.size()) + " keys, not the " + std::to_string(expected.size()) +
               " expected";
    }
    return {};
}

/// Checks what a power loss left; an empty string when all is well.
template <class Store>
std::string check_after_crash(const std::shared_ptr<kvforge::simulated_file_system>& fs, const contents& expected) {
    if (std::string problem = check_store<Store>(fs, source_path, expected); !problem.empty()) {
        return "the source was harmed: " + problem;
    }
    kvforge::simulated_io io(fs);
    struct stat info {};
    const std::string manifest = std::string(backup_path) + "/MANIFEST";
    if (io.stat(manifest.c_str(), &info) == 0) {
        if (std::string problem = check_store<Store>(fs, backup_path, expected); !problem.empty()) {
            return "a backup with a MANIFEST is incomplete: " + problem;
        }
        return {};
    }
    // No backup: backing up again is refused when the destination holds anything, and
    // makes a complete backup when it holds nothing.
    std::vector<std::string> left;
    const bool exists = io.list_directory(backup_path, left) == 0;
    Store db;
    std::error_code ec;
    db.open(source_path, self_compacting(), typename Store::io_policy(fs), ec);
    if (ec) return "the source does not open again: " + kvforge::last_error_message();
    db.backup(backup_path, ec);
    if (exists && !left.empty()) {
        if (ec != std::errc::directory_not_empty) return "a backup over a partial one was not refused";
        return {};
    }
    if (ec) return "a backup after the crash failed: " + kvforge::last_error_message();
    db.close();
    return check_store<Store>(fs, backup_path, expected);
}

/// What exploring every crash point of a backup found.
struct backup_exploration {
    std::size_t crash_points = 0;
    std::size_t crash_states = 0;
    std::size_t complete_backups = 0;  // crash states that held a complete backup
    std::string first_problem;
};

template <class Store>
backup_exploration explore_backup(std::uint64_t seed) {
    backup_exploration found;
    for (std::uint64_t k = 1;; ++k) {
        auto fs = std::make_shared<kvforge::simulated_file_system>();
        contents expected;
        std::error_code ec;
        bool stopped = false;
        {
            Store db(source_path, self_compacting(), typename Store::io_policy(fs));
            expected = fill_source(db);
            const std::uint64_t stop_at = fs->calls() + k;
            fs->freeze_at(stop_at);
            db.backup(backup_path, ec);
            stopped = fs->calls() >= stop_at;
            // Torn down as it is, like a process at a power loss.
        }
        ++found.crash_points;
        if (!stopped && ec && found.first_problem.empty()) {
            found.first_problem = "a backup that was not stopped failed: " + kvforge::last_error_message();
        }
        for (const kvforge::crash_tail tail :
             {kvforge::crash_tail::dropped, kvforge::crash_tail::torn, kvforge::crash_tail::zero_filled}) {
            const auto crashed = fs->after_crash(tail, seed ^ k);
            kvforge::simulated_io io(crashed);
            struct stat info {};
            const bool complete = io.stat((std::string(backup_path) + "/MANIFEST").c_str(), &info) == 0;
            if (complete) ++found.complete_backups;
            // A stop at a call whose failure does not matter (closing a file) may still report success.
            if (!ec && !complete && found.first_problem.empty()) {
                found.first_problem = "a backup stopped before call " + std::to_string(k) +
                                      " reported success, and a power loss left no backup";
            }
            const std::string problem = check_after_crash<Store>(crashed, expected);
            ++found.crash_states;
            if (!problem.empty() && found.first_problem.empty()) {
                found.first_problem = "power loss before call " + std::to_string(k) + " of the backup (tail " +
                                      std::to_string(static_cast<int>(tail)) + "): " + problem;
            }
        }
        if (!stopped) return found;
    }
}

template <class Store>
std::string backup_config_name() {
    return std::string(Store::store_policy::name) + "/" + std::string(Store::durability_policy::name) + "/" +
           (Store::index_policy::ordered ? "sorted_index" : "hash_index") + "/" +
           (Store::threading_policy::concurrent ? "thread_safe" : "single_thread");
}

using backup_power_loss_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>, kvforge::sorted_index,
                              kvforge::thread_safe, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sync_each, kvforge::sorted_index,
                              kvforge::single_thread, kvforge::simulated_io>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("power loss at every I/O call of a backup leaves no backup or a complete one",
                        "[reliability][power_loss][backup]", backup_power_loss_configs) {
    const std::string name = backup_config_name<TestType>();
    INFO(name);
    const backup_exploration found = explore_backup<TestType>(20140101);
    CHECK(found.first_problem == "");
    CHECK(found.crash_points > 10);
    CHECK(found.complete_backups > 0);  // the last crash points fall after the MANIFEST
    CHECK(found.complete_backups < found.crash_states);
    std::cout << "backup power loss: " << name << ": " << found.crash_points << " crash points, "
              << found.crash_states << " crash states checked, " << found.complete_backups
              << " of them with a complete backup\n";
}
