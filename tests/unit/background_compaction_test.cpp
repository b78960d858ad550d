// Automatic compaction with thread_safe: jobs run on the store's compaction thread while
// writers and readers go on; compact() and clear() stop a job under way and close() lets
// it finish; writers wait for the thread when dead bytes pass compaction_stall_ratio.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>

#include "../support/marker_holding_io.hpp"
#include "../support/sync_counting_io.hpp"
#include "../support/temp_dir.hpp"
#include "../support/temporary_files.hpp"

using kvforge_test::outputs_being_written;
using kvforge_test::sync_counting_io;
using kvforge_test::temp_dir;
using kvforge_test::temporary_files;

namespace {

kvforge::options background_segments() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_min_bytes = std::uint64_t{64} << 10;
    opts.compaction_step_bytes = std::uint64_t{4} << 10;
    return opts;
}

constexpr std::string_view held_marker = "held-by-the-test";

/// Fails the test when a background job has not done what the test waits for by then.
struct job_deadline {
    std::chrono::steady_clock::time_point end = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    [[nodiscard]] bool passed() const { return std::chrono::steady_clock::now() > end; }
};

/// Overwrites, erases and reads random keys of 400, keeping model in step, until the
/// compaction thread has finished `jobs` more jobs.
template <class Store>
void churn_until_jobs(Store& db, std::map<std::string, std::string>& model, std::mt19937& random, std::uint64_t jobs) {
    const std::uint64_t target = db.stats().compactions + jobs;
    const job_deadline limit;
    for (int i = 0; db.stats().compactions < target; ++i) {
        REQUIRE_FALSE(limit.passed());
        const std::string key = "key" + std::to_string(random() % 400);
        if (random() % 8 == 0) {
            db.erase(key);
            model.erase(key);
        } else {
            const std::string value = std::to_string(i) + std::string(100 + random() % 100, 'v');
            db.put(key, value);
            model[key] = value;
        }
        const std::string read = "key" + std::to_string(random() % 400);
        const auto found = model.find(read);
        REQUIRE(db.get(read) == (found == model.end() ? std::nullopt : std::optional<std::string>(found->second)));
    }
}

}  // namespace

TEMPLATE_TEST_CASE("with thread_safe, compaction runs on its own thread while writers and readers go on",
                   "[compaction][threads]", kvforge::file_log, kvforge::mmap_file) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::sorted_index, kvforge::thread_safe,
                                      sync_counting_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::mt19937 random(21);
    kvforge::stats before;
    {
        sync_counting_io io;
        store_type db(path, background_segments(), io);
        const std::uint64_t syncs_at_open = db.stats().syncs;
        const std::uint64_t calls_at_open = io.syncs->load();
        // Keys no write changes, which a second thread reads throughout.
        for (int i = 0; i < 50; ++i) db.put("fixed" + std::to_string(i), "value " + std::to_string(i));
        std::atomic<bool> done{false};
        std::atomic<int> wrong{0};
        std::thread reader([&] {
            while (!done.load()) {
                for (int i = 0; i < 50; ++i) {
                    wrong +=
                        db.get("fixed" + std::to_string(i)) != std::optional<std::string>("value " + std::to_string(i));
                }
            }
        });
        churn_until_jobs(db, model, random, 10);
        done = true;
        reader.join();
        CHECK(wrong == 0);
        CHECK(db.stats().compaction_failures == 0);
        for (int i = 0; i < 50; ++i) model["fixed" + std::to_string(i)] = "value " + std::to_string(i);
        CHECK(db.size() == model.size());
        for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
        // stats().syncs counts every sync: the writers', rollovers', and the compaction
        // thread's. compact() waits for the job under way and leaves none due.
        db.compact();
        CHECK(db.stats().syncs - syncs_at_open == io.syncs->load() - calls_at_open);
        // Closing lets the work requested so far finish.
        db.close();
        before = db.stats();
    }
    store_type db(path, background_segments());
    const kvforge::stats after = db.stats();
    // A reopen counts live and dead bytes from the records: the jobs kept them exact.
    CHECK(after.live_bytes == before.live_bytes);
    CHECK(after.dead_bytes == before.dead_bytes);
    CHECK(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    CHECK(db.verify().ok());
}

TEST_CASE(
    "with thread_safe, compact and clear stop a background job, close lets it finish, none leaves "
    "temporary files",
    "[compaction][threads]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::mt19937 random(5);
    kvforge::options opts = background_segments();
    // Chunks so small that a job spends most of its time between them.
    opts.compaction_step_bytes = 256;
    // Writers that never wait for the thread, so that they find a job under way.
    opts.compaction_stall_ratio = 0;
    const auto check_contents = [&](store_type& db) {
        CHECK(db.size() == model.size());
        for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    };
    const auto during_a_job = [&](store_type& db) {
        churn_until_jobs(db, model, random, 1);
        // The next job copies into a .tmp output while the writes go on.
        const job_deadline limit;
        for (int i = 0; outputs_being_written(path) == 0; ++i) {
            REQUIRE_FALSE(limit.passed());
            const std::string key = "key" + std::to_string(random() % 400);
            db.put(key, "a newer value " + std::to_string(i));
            model[key] = "a newer value " + std::to_string(i);
        }
    };
    {
        store_type db(path, opts);
        during_a_job(db);
        db.compact();
        // No output of the job is left. The thread may be preparing the next spare segment,
        // a .tmp holding only its header, at any time; close() removes it.
        CHECK(outputs_being_written(path) == 0);
        check_contents(db);
        CHECK(db.stats().dead_bytes == 0);

        during_a_job(db);
        db.clear();
        model.clear();
        CHECK(outputs_being_written(path) == 0);
        check_contents(db);

        during_a_job(db);
    }
    CHECK(temporary_files(path) == 0);
    store_type db(path, opts);
    check_contents(db);
    CHECK(db.verify().ok());
}

TEST_CASE("with thread_safe and an unbounded wait, overwrites wait for the compaction thread at the stall ceiling",
          "[compaction][threads][stall]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::thread_safe>;
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts = background_segments();
    REQUIRE(opts.compaction_stall_ratio == 1.0);  // the default
    opts.compaction_stall_micros = std::numeric_limits<std::uint64_t>::max();
    constexpr int keys = 400;
    const std::string value(1000, 'v');
    // Dead bytes the thread cannot reclaim yet: those in the active segment, and one
    // record that a write adds before it waits.
    const auto slack = static_cast<double>(opts.segment_bytes + 2 * value.size());
    kvforge::stats closed;
    {
        store_type db(path, opts);
        for (int round = 0; round < 40; ++round) {
            for (int k = 0; k < keys; ++k) {
                db.put("key" + std::to_string(k), std::to_string(round) + value);
                const kvforge::stats s = db.stats();
                REQUIRE(static_cast<double>(s.dead_bytes) <=
                        opts.compaction_stall_ratio * static_cast<double>(s.live_bytes) + slack);
            }
        }
        CHECK(db.stats().compactions > 0);
        CHECK(db.stats().compaction_failures == 0);
        db.close();
        closed = db.stats();
    }
    // The bytes on disk, counted again from the records by a reopen.
    store_type db(path, opts);
    const kvforge::stats s = db.stats();
    CHECK(s.live_bytes == closed.live_bytes);
    CHECK(s.dead_bytes == closed.dead_bytes);
    CHECK(static_cast<double>(s.dead_bytes) <= opts.compaction_stall_ratio * static_cast<double>(s.live_bytes));
    // close() let the jobs due finish: the files are back near compact_dead_ratio.
    CHECK(static_cast<double>(s.dead_bytes) <= opts.compact_dead_ratio * static_cast<double>(s.disk_bytes) + slack);
    CHECK(db.size() == keys);
    CHECK(db.get("key7") == std::optional<std::string>("39" + value));
}

TEST_CASE("with thread_safe, each wait of a writer for the compaction thread counts in stats().write_stalls",
          "[compaction][threads][stall]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>,
                                      kvforge::thread_safe, kvforge_test::marker_holding_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts = background_segments();
    opts.compaction_stall_micros = std::numeric_limits<std::uint64_t>::max();  // waits end by the job alone
    kvforge_test::marker_holding_io io;
    io.marker = held_marker;
    const std::shared_ptr<kvforge_test::held_call> point = io.point;
    const std::string value(200, 'v');
    {
        store_type db(path, opts, io);
        // Keys that stay live in the first segments: the job that compacts them copies
        // their records, and is held there.
        for (int k = 0; k < 100; ++k) db.put("pinned" + std::to_string(k), std::string(held_marker) + value);
        db.flush();  // from now on, only a job writes the marker
        point->arm();
        std::atomic<bool> stop{false};
        std::atomic<int> last_round_of_key0{-1};
        std::thread writer([&] {
            for (int round = 0; !stop.load(); ++round) {
                last_round_of_key0.store(round);
                for (int k = 0; k < 100; ++k) db.put("key" + std::to_string(k), std::to_string(round) + value);
            }
        });
        const bool held = point->wait_held(std::chrono::seconds(60));
        // Held, the job makes no progress: overwrites pile dead bytes up to the ceiling,
        // where the writer waits.
        const job_deadline limit;
        while (held && db.stats().write_stalls == 0 && !limit.passed()) std::this_thread::yield();
        const kvforge::stats during = db.stats();
        stop.store(true);
        point->release();
        writer.join();
        REQUIRE(held);
        CHECK(during.write_stalls >= 1);
        CHECK(static_cast<double>(during.dead_bytes) >
              opts.compaction_stall_ratio * static_cast<double>(during.live_bytes));
        CHECK(db.get("pinned99") == std::string(held_marker) + value);
        CHECK(db.get("key0") == std::to_string(last_round_of_key0.load()) + value);
    }
    // Counted since the open.
    store_type db(path, opts, io);
    CHECK(db.stats().write_stalls == 0);
    CHECK(db.size() == 200);
}
