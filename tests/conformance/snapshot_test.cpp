// Snapshots: a read-only view of a store as of snapshot(), which writes, clear(),
// compaction and close() after it do not change, read while writers go on. bounded<>
// stores take no snapshot and skip these.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "../support/numbered_keys.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

template <class Store>
inline constexpr bool takes_snapshots = requires(Store& db) {
    db.snapshot();
};

/// Checks that snap answers every read call as `expected` says.
template <class Snapshot>
void check_reads(const Snapshot& snap, const contents& expected) {
    CHECK(read_all(snap) == expected);
    CHECK(snap.size() == expected.size());
    for (const auto& [key, value] : expected) {
        CHECK(snap.get(key) == std::optional<std::string>(value));
        CHECK(snap.contains(key));
        std::string seen;
        CHECK(snap.visit(key, [&](std::string_view bytes) { seen = bytes; }));
        CHECK(seen == value);
    }
    CHECK_FALSE(snap.get("never written"));
    CHECK_FALSE(snap.contains("never written"));
}

/// Checks the scans of snap against `expected` (ordered indexes only).
template <class Snapshot>
void check_scans(const Snapshot& snap, const contents& expected) {
    contents scanned;
    for (const auto& [key, value] : snap.scan()) scanned.emplace(key, value);
    CHECK(scanned == expected);
    std::vector<std::string> down;
    for (const auto& [key, value] : snap.scan_from(key_of(150), descending)) down.push_back(key);
    std::vector<std::string> wanted;
    for (auto at = expected.upper_bound(key_of(150)); at != expected.begin();) wanted.push_back((--at)->first);
    CHECK(down == wanted);
    std::size_t prefixed = 0;
    for (const auto& [key, value] : snap.scan_prefix("key001")) {
        CHECK(key.rfind("key001", 0) == 0);
        CHECK(expected.at(key) == value);
        ++prefixed;
    }
    std::size_t wanted_prefixed = 0;
    for (const auto& [key, value] : expected) wanted_prefixed += key.rfind("key001", 0) == 0 ? 1 : 0;
    CHECK(prefixed == wanted_prefixed);
}

using expiring_snapshot_configs = concat<expiring_configs, expiring_persistent_configs>;

/// Bytes of the data files (logs and tables) of the store in directory that are unlinked
/// but still open in this process (held by a snapshot): space that is not given back until
/// they are closed.
std::uintmax_t held_unlinked_bytes(const std::string& directory) {
    const std::string canonical = fs::canonical(directory).string();
    std::uintmax_t held = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
        const std::string target = fs::read_symlink(entry.path(), ec).string();
        const bool deleted = target.ends_with(".kvlog (deleted)") || target.ends_with(".kvtable (deleted)");
        if (ec || target.rfind(canonical + "/data-", 0) != 0 || !deleted) continue;
        const std::uintmax_t size = fs::file_size(entry.path(), ec);  // the open file's, through the link
        if (!ec) held += size;
    }
    return held;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a snapshot reads the store as of its cut, whatever is written, cleared or compacted after",
                        "[conformance][snapshot]", all_configs) {
    if constexpr (takes_snapshots<TestType>) {
        test_store<TestType> db;
        contents expected;
        for (int i = 0; i < 300; ++i) {
            expected[key_of(i)] = std::string(i % 50, static_cast<char>('a' + i % 26));
            db->put(key_of(i), expected[key_of(i)]);
        }
        for (int i = 0; i < 300; i += 7) {
            db->erase(key_of(i));
            expected.erase(key_of(i));
        }
        auto snap = db->snapshot();  // not flushed first: the snapshot takes what returned

        for (int i = 0; i < 300; i += 2) db->put(key_of(i), "overwritten");
        for (int i = 1; i < 300; i += 6) db->erase(key_of(i));
        db->put("after", "the cut");
        CHECK(db->get(key_of(2)) == std::optional<std::string>("overwritten"));
        CHECK(db->contains("after"));
        check_reads(snap, expected);
        if constexpr (is_ordered<TestType>) check_scans(snap, expected);

        const auto copy = snap;  // copies share the view
        db->clear();
        CHECK(db->size() == 0);
        check_reads(copy, expected);
        if constexpr (test_store<TestType>::persistent) {
            for (int i = 0; i < 300; ++i) db->put(key_of(i), "after clear");
            db->compact();
            check_reads(snap, expected);
            if constexpr (is_ordered<TestType>) check_scans(snap, expected);
        }
    }
}

TEMPLATE_LIST_TEST_CASE("a snapshot kept across automatic compaction reads every old value", "[conformance][snapshot]",
                        all_configs) {
    if constexpr (takes_snapshots<TestType> && test_store<TestType>::persistent) {
        test_store<TestType> db;
        contents expected;
        for (int i = 0; i < 200; ++i) {
            expected[key_of(i)] = "old " + std::to_string(i) + std::string(100, 'o');
            db->put(key_of(i), expected[key_of(i)]);
        }
        const auto snap = db->snapshot();
        const std::uint64_t compactions = db->stats().compactions;
        // Overwrites make dead bytes until the trigger (64 KiB, small_compaction) compacts
        // the old records away, a bounded number of puts later.
        for (int round = 0; round < 200 && db->stats().compactions == compactions; ++round) {
            for (int i = 0; i < 200; ++i) db->put(key_of(i), "new " + std::to_string(round) + std::string(100, 'n'));
        }
        // With thread_safe the compaction runs on the store's own thread: wait for it,
        // failing after a minute.
        const auto limit = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        while (db->stats().compactions == compactions && std::chrono::steady_clock::now() < limit) {
            std::this_thread::yield();
        }
        REQUIRE(db->stats().compactions > compactions);
        check_reads(snap, expected);
        CHECK(db->get(key_of(0))->rfind("new ", 0) == 0);
    }
}

TEMPLATE_LIST_TEST_CASE("releasing a snapshot gives back the space of the files compaction retired",
                        "[conformance][snapshot]", all_configs) {
    if constexpr (takes_snapshots<TestType> && test_store<TestType>::persistent) {
        test_store<TestType> db;
        contents expected;
        for (int i = 0; i < 200; ++i) {
            expected[key_of(i)] = std::string(500, static_cast<char>('a' + i % 26));
            db->put(key_of(i), expected[key_of(i)]);
        }
        // A store over tables keeps recent writes in memory, and the snapshot a copy of them:
        // into a table with them, so that the snapshot holds a file.
        if constexpr (keeps_tables<TestType>) db->compact();
        std::optional<typename TestType::snapshot_type> snap = db->snapshot();
        for (int i = 0; i < 200; ++i) db->put(key_of(i), "short");
        db->compact();
        // The old segment is gone from the directory but held open, so its space is not
        // free yet, and the snapshot still reads it.
        CHECK(held_unlinked_bytes(db.path()) >= 200 * 500);
        check_reads(*snap, expected);

        snap.reset();
        CHECK(held_unlinked_bytes(db.path()) == 0);
        CHECK(db->get(key_of(3)) == std::optional<std::string>("short"));
    }
}

TEMPLATE_LIST_TEST_CASE("a snapshot reads on after its store is closed", "[conformance][snapshot]", all_configs) {
    if constexpr (takes_snapshots<TestType> && test_store<TestType>::persistent) {
        test_store<TestType> db;
        contents expected;
        for (int i = 0; i < 100; ++i) {
            expected[key_of(i)] = std::to_string(i);
            db->put(key_of(i), expected[key_of(i)]);
        }
        const auto snap = db->snapshot();
        db->close();
        check_reads(snap, expected);
    }
}

TEMPLATE_LIST_TEST_CASE("a snapshot is read by one thread while another writes", "[conformance][snapshot]",
                        all_configs) {
    if constexpr (takes_snapshots<TestType> && is_concurrent<TestType>) {
        test_store<TestType> db;
        constexpr int keys = 50;
        constexpr int snapshots = 20;
        // The writer writes every key in one batch, all with the batch's number, so a
        // snapshot, cut between batches, holds one number throughout.
        const auto write_round = [&](int round) {
            typename TestType::batch_type batch;
            for (int i = 0; i < keys; ++i) batch.put(key_of(i), std::to_string(round));
            db->write(batch);
        };
        write_round(0);
        // The writer counts its rounds here; the reader waits for it to move on between
        // two reads of one snapshot, so every snapshot is read across a write.
        std::mutex progress;
        std::condition_variable moved_on;
        int rounds_done = 1;
        bool reader_done = false;
        std::thread writer([&] {
            // Bounded, so that a reader that stopped early cannot leave it running.
            for (int round = 1; round < 1000000; ++round) {
                write_round(round);
                const std::lock_guard lock(progress);
                rounds_done = round + 1;
                moved_on.notify_all();
                if (reader_done) return;
            }
        });
        std::vector<std::string> failures;
        std::thread reader([&] {
            for (int n = 0; n < snapshots && failures.empty(); ++n) {
                const auto snap = db->snapshot();
                const contents first = read_all(snap);
                if (first.size() != static_cast<std::size_t>(keys)) failures.push_back("a snapshot lost keys");
                for (const auto& [key, value] : first) {
                    if (value != first.begin()->second) failures.push_back("a snapshot cut a batch: " + key);
                }
                std::unique_lock lock(progress);
                const int seen = rounds_done;
                if (!moved_on.wait_for(lock, 10s, [&] { return rounds_done > seen + 1; })) {
                    failures.push_back("the writer made no progress for 10 s");
                }
                lock.unlock();
                if (read_all(snap) != first) failures.push_back("a snapshot changed while the writer went on");
            }
            const std::lock_guard lock(progress);
            reader_done = true;
        });
        reader.join();
        writer.join();
        CHECK(failures.empty());
    }
}

TEMPLATE_LIST_TEST_CASE("an expiring store's snapshot hides keys whose deadline has passed",
                        "[conformance][snapshot][expiry]", expiring_snapshot_configs) {
    test_store<TestType> db;
    db->put("forever", "1");
    db->put("short", "2", test_clock::now() + 10s);
    db->put("long", "3", test_clock::now() + 1h);
    const auto snap = db->snapshot();
    db->erase("long");
    CHECK(snap.size() == 3);
    CHECK(snap.get("short") == std::optional<std::string>("2"));

    test_clock::advance(10s);  // at the deadline itself the key is gone, in the store and the snapshot
    CHECK_FALSE(snap.get("short"));
    CHECK_FALSE(snap.contains("short"));
    CHECK(snap.get("long") == std::optional<std::string>("3"));
    CHECK(read_all(snap) == contents{{"forever", "1"}, {"long", "3"}});
    CHECK(snap.size() == 2);
    if constexpr (is_ordered<TestType>) {
        std::vector<std::string> scanned;
        for (const auto& [key, value] : snap.scan()) scanned.push_back(key);
        CHECK(scanned == std::vector<std::string>{"forever", "long"});
    }
}
