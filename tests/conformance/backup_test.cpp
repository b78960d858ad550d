// Online backup: what every configuration with files copies, while writers go on, and
// what it refuses. Configurations that keep nothing on disk skip these (a memory store's
// backup() does not compile: tests/compile_fail/backup_on_memory.cpp).

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <kvforge/io/fault_injection.hpp>
#include <kvforge/io/simulated.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
namespace fs = std::filesystem;

namespace {

/// Opens the backup in path as a store of the same composition, checks it, and returns what it holds.
template <class Store>
contents open_backup(const std::string& path) {
    REQUIRE(fs::exists(fs::path(path) / "MANIFEST"));
    Store copy(path);
    const verify_report report = copy.verify();
    CHECK(report.ok());
    CHECK(report.records_checked > 0);
    return read_all(copy);
}

/// The names in a directory.
std::vector<std::string> entries_of(const std::string& directory) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

/// A file's device and inode, and how many names it has.
struct file_identity {
    dev_t device = 0;
    ino_t inode = 0;
    nlink_t names = 0;
};

file_identity identity_of(const std::string& path) {
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    return {info.st_dev, info.st_ino, info.st_nlink};
}

bool same_file(const std::string& a, const std::string& b) {
    const file_identity first = identity_of(a);
    const file_identity second = identity_of(b);
    return first.device == second.device && first.inode == second.inode;
}

/// The segments (data-<id>.kvlog) in a store's directory, oldest first.
std::vector<std::string> segments_in(const std::string& directory) {
    std::vector<std::string> segments;
    for (const std::string& name : entries_of(directory)) {
        if (name.rfind("data-", 0) == 0 && fs::path(name).extension() == ".kvlog") segments.push_back(name);
    }
    return segments;
}

/// The hint file beside a segment.
std::string hint_of(const std::string& segment) { return fs::path(segment).replace_extension(".kvhint").string(); }

/// A store of several closed segments: 2,000 puts of about 230 bytes, in segments of 64 KiB.
template <class Store>
contents fill_segments(Store& db) {
    contents expected;
    for (int i = 0; i < 2000; ++i) {
        expected[key_of(i)] = std::string(200, static_cast<char>('a' + i % 26));
        db.put(key_of(i), expected[key_of(i)]);
    }
    return expected;
}

kvforge::options small_segments() {
    kvforge::options opts;
    opts.segment_bytes = 64 << 10;
    return opts;
}

/// The writer thread's i-th put: keys come round every `keys` puts, so that overwrites
/// make dead bytes and the compaction trigger fires during the copy.
constexpr int rotating_keys = 200;
std::string rotating_key(int i) { return key_of(i % rotating_keys); }
std::string rotating_value(int i) { return std::to_string(i) + std::string(200, 'v'); }

/// What the store holds after the writer's first n puts.
contents after_puts(int n) {
    contents state;
    for (int i = 0; i < n; ++i) state[rotating_key(i)] = rotating_value(i);
    return state;
}

/// How many puts the backup holds: one more than the largest number among its values.
int puts_in(const contents& held) {
    int last = -1;
    for (const auto& [key, value] : held) last = std::max(last, std::stoi(value));
    return last + 1;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a backup opens as a store holding every write made before it", "[conformance][backup]",
                        all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        contents expected;
        for (int i = 0; i < 600; ++i) {
            const std::string key = key_of(i % 250);
            expected[key] = std::string(i % 70, static_cast<char>('a' + i % 26));
            db->put(key, expected[key]);
        }
        for (int i = 0; i < 250; i += 9) {
            db->erase(key_of(i));
            expected.erase(key_of(i));
        }
        typename TestType::batch_type batch;
        batch.put("batched", std::string("\0binary\xff", 8));
        batch.erase(key_of(1));
        db->write(batch);
        expected["batched"] = std::string("\0binary\xff", 8);
        expected.erase(key_of(1));

        temp_dir backups;
        const std::string dest = backups / "users-1";
        db->backup(dest);  // not flushed or synced first: backup() takes what returned
        // A store's files, and no hint: its lock, its MANIFEST, the list of its segments (or,
        // beside a store over tables' tables, the list of them) and one log.
        std::vector<std::string> names = entries_of(dest);
        std::erase_if(names, [](const std::string& name) { return fs::path(name).extension() == ".kvtable"; });
        std::vector<std::string> expected_names{"LOCK", "MANIFEST", keeps_tables<TestType> ? "TABLES" : "SEGMENTS"};
        REQUIRE(names.size() == expected_names.size() + 1);
        CHECK(std::vector<std::string>(names.begin(), names.end() - 1) == expected_names);
        CHECK((names.back().rfind("data-", 0) == 0 && fs::path(names.back()).extension() == ".kvlog"));

        // The source goes on, and its later writes are not in the copy.
        db->put("after", "backup");
        CHECK(db->get("after") == std::optional<std::string>("backup"));
        CHECK(open_backup<TestType>(dest) == expected);

        // The copy is a store of its own: it takes writes, and the source does not see them.
        {
            TestType copy(dest);
            copy.put("only in", "the copy");
        }
        CHECK_FALSE(db->contains("only in"));
        expected["only in"] = "the copy";
        CHECK(open_backup<TestType>(dest) == expected);
    }
}

TEMPLATE_LIST_TEST_CASE("a backup of a store that was compacted and reopened holds its records",
                        "[conformance][backup]", all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        contents expected;
        for (int round = 0; round < 4; ++round) {
            for (int i = 0; i < 100; ++i) {
                expected[key_of(i)] = "round " + std::to_string(round) + " " + std::string(i, 'x');
                db->put(key_of(i), expected[key_of(i)]);
            }
        }
        db->erase(key_of(5));
        expected.erase(key_of(5));
        db->compact();
        db.reopen();
        db->put("after reopen", "yes");
        expected["after reopen"] = "yes";

        temp_dir backups;
        const std::string dest = backups / "compacted";
        fs::create_directory(dest);  // an empty directory is as good as a missing one
        db->backup(dest);
        bool newer_generation = false;
        for (const std::string& name : entries_of(dest)) {
            newer_generation = newer_generation || (name.rfind("data-", 0) == 0 && name != "data-0000000001.kvlog");
        }
        CHECK(newer_generation);  // the copy keeps the compacted file's generation
        CHECK(open_backup<TestType>(dest) == expected);
        CHECK(read_all(*db) == expected);
    }
}

TEMPLATE_LIST_TEST_CASE("a backup refuses a destination that is not a missing or empty directory",
                        "[conformance][backup]", all_configs) {
    if constexpr (has_files<TestType>) {
        test_store<TestType> db;
        db->put("k", "v");
        temp_dir backups;

        const std::string occupied = backups / "occupied";
        fs::create_directory(occupied);
        std::ofstream(fs::path(occupied) / "notes.txt") << "mine";
        std::error_code ec;
        db->backup(occupied, ec);
        CHECK(ec == std::errc::directory_not_empty);
        CHECK(last_error_message().find(occupied + " is not empty (it holds 'notes.txt')") != std::string::npos);
        CHECK(entries_of(occupied) == std::vector<std::string>{"notes.txt"});
        std::ifstream kept(fs::path(occupied) / "notes.txt");
        std::string text;
        kept >> text;
        CHECK(text == "mine");

        // A directory holding a backup already is refused too, and the throwing form throws.
        const std::string earlier = backups / "earlier";
        db->backup(earlier);
        const std::vector<std::string> before = entries_of(earlier);
        CHECK_THROWS_AS(db->backup(earlier), kvforge::error);
        CHECK(entries_of(earlier) == before);

        const std::string file = backups / "a-file";
        std::ofstream(file) << "x";
        db->backup(file, ec);
        CHECK(ec == std::errc::not_a_directory);
        CHECK(last_error_message().find(file) != std::string::npos);

        const std::string orphan = backups / "missing-parent/dest";
        db->backup(orphan, ec);
        CHECK(ec == std::errc::no_such_file_or_directory);
        CHECK(last_error_message().find("parent directory does not exist") != std::string::npos);
        CHECK_FALSE(fs::exists(backups / "missing-parent"));

        // Inside the store's directory a backup would be a foreign entry that keeps the
        // store from opening: refused, however the path is spelled.
        for (const std::string& inside : {db.path() + "/backup", db.path() + "/./backup/"}) {
            db->backup(inside, ec);
            CHECK(ec == std::errc::invalid_argument);
            CHECK(last_error_message().find("inside the store's directory") != std::string::npos);
            CHECK_FALSE(fs::exists(fs::path(db.path()) / "backup"));
        }

        // None of that touched the store.
        CHECK(db->get("k") == std::optional<std::string>("v"));
        db->put("k", "w");
        CHECK(db->get("k") == std::optional<std::string>("w"));
    }
}

TEMPLATE_LIST_TEST_CASE("a backup taken while another thread writes holds exactly the writes before its cut",
                        "[conformance][backup][concurrency]", all_configs) {
    if constexpr (has_files<TestType> && is_concurrent<TestType>) {
        test_store<TestType> db;
        std::atomic<int> returned{0};  // puts that returned
        std::atomic<bool> stop{false};
        std::thread writer([&] {
            for (int i = 0; !stop.load(); ++i) {
                db->put(rotating_key(i), rotating_value(i));
                returned.store(i + 1);
            }
        });
        // Compactions asked for during the copy wait for it; they must not spoil it.
        std::atomic<int> compactions{0};
        std::thread compactor([&] {
            while (!stop.load()) {
                db->compact();
                compactions.fetch_add(1);
            }
        });
        const auto wait_for = [&](auto&& condition) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
            while (!condition()) {
                if (std::chrono::steady_clock::now() > deadline) {
                    stop.store(true);
                    writer.join();
                    compactor.join();
                    FAIL("timed out waiting for the writer");
                }
                std::this_thread::yield();
            }
        };
        wait_for([&] { return returned.load() >= 3000; });

        temp_dir backups;
        const int done_before = returned.load();
        db->backup(backups / "live");
        const int started_after = returned.load() + 1;  // the put in progress may have been in the copy
        const int written_meanwhile = started_after - done_before;

        wait_for([&] { return returned.load() >= started_after + 100 && compactions.load() > 0; });
        stop.store(true);
        writer.join();
        compactor.join();

        const contents held = open_backup<TestType>(backups / "live");
        const int puts = puts_in(held);
        INFO("the backup holds " << puts << " puts; " << done_before << " had returned before it, " << written_meanwhile
                                 << " were written during it");
        CHECK(puts >= done_before);
        CHECK(puts <= started_after);
        CHECK(held == after_puts(puts));
    }
}

TEST_CASE("a backup with link_files links the closed segments with their hints and copies the active one",
          "[conformance][backup]") {
    using file_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                      kvforge::buffered<>, kvforge::single_thread>;
    temp_dir directory;  // the store and its backup on one file system, where links are possible
    const std::string source = directory / "source";
    const std::string dest = directory / "backup";
    file_store db(source, small_segments());
    const contents expected = fill_segments(db);
    db.backup(dest, kvforge::backup_options{.link_files = true});

    const std::vector<std::string> segments = segments_in(dest);
    REQUIRE(segments.size() >= 4);
    CHECK(segments == segments_in(source));
    for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
        INFO("closed segment " << segments[i]);
        CHECK(same_file(fs::path(source) / segments[i], fs::path(dest) / segments[i]));
        CHECK(identity_of(fs::path(dest) / segments[i]).names == 2);
        CHECK(same_file(fs::path(source) / hint_of(segments[i]), fs::path(dest) / hint_of(segments[i])));
    }
    const std::string active = segments.back();
    CHECK_FALSE(same_file(fs::path(source) / active, fs::path(dest) / active));
    CHECK(identity_of(fs::path(dest) / active).names == 1);
    CHECK_FALSE(fs::exists(fs::path(dest) / hint_of(active)));

    CHECK(open_backup<file_store>(dest) == expected);

    // Compaction and clear() retire the source's segments: the copy keeps its own names.
    for (int i = 0; i < 2000; i += 2) db.put(key_of(i), "newer");
    db.compact();
    CHECK(identity_of(fs::path(dest) / segments.front()).names == 1);
    CHECK(open_backup<file_store>(dest) == expected);
    db.clear();
    db.put("after", "clear");
    db.close();
    CHECK(open_backup<file_store>(dest) == expected);

    // Writes to the copy change only the copy.
    {
        file_store copy(dest, small_segments());
        for (int i = 0; i < 2000; i += 3) copy.put(key_of(i), "copy");
        copy.compact();
    }
    file_store reopened(source);
    CHECK(read_all(reopened) == contents{{"after", "clear"}});
}

// Backup links, when asked, where the I/O policy has link: posix_io and a fault-injecting
// wrapper of it; the simulated file system and a wrapper of it have none, and copy every segment.
static_assert(kvforge::io_policy_with_link<kvforge::posix_io>);
static_assert(kvforge::io_policy_with_link<kvforge::fault_injecting_io<>>);
static_assert(!kvforge::io_policy_with_link<kvforge::simulated_io>);
static_assert(!kvforge::io_policy_with_link<kvforge::fault_injecting_io<kvforge::simulated_io>>);

TEST_CASE("a backup with link_files copies the closed segments where the file system refuses links",
          "[conformance][backup]") {
    using faulty_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                        kvforge::buffered<>, kvforge::single_thread, kvforge::fault_injecting_io<>>;
    for (const int refusal : {EXDEV, EPERM, EMLINK}) {
        INFO("link fails with errno " << refusal);
        temp_dir directory;
        const std::string source = directory / "source";
        const std::string dest = directory / "backup";
        kvforge::fault_injecting_io<> io;
        faulty_store db(source, small_segments(), io);
        const contents expected = fill_segments(db);
        io.inject({.calls = kvforge::io_call::link, .error = refusal, .mode = kvforge::fault_mode::persistent});
        db.backup(dest, kvforge::backup_options{.link_files = true});

        const std::vector<std::string> segments = segments_in(dest);
        REQUIRE(segments.size() >= 4);
        CHECK(io.calls(kvforge::io_call::link) == segments.size() - 1);  // each closed segment tried once
        for (const std::string& segment : segments) {
            CHECK_FALSE(same_file(fs::path(source) / segment, fs::path(dest) / segment));
            // A copied closed segment takes a copy of its hint along; the active one has none.
            CHECK(fs::exists(fs::path(dest) / hint_of(segment)) == (segment != segments.back()));
        }
        CHECK(open_backup<faulty_store>(dest) == expected);
    }
}
