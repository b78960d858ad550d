// Automatic compaction in steps: a job advances a bounded number of bytes after each
// write, writers change the keys it is copying between its steps, and clear(),
// compact() and close() drop a job under way without leaving files behind.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <sys/types.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "../support/temp_dir.hpp"
#include "../support/temporary_files.hpp"

using kvforge_test::outputs_being_written;
using kvforge_test::temp_dir;
using kvforge_test::temporary_files;

namespace {

kvforge::options small_steps() {
    kvforge::options opts;
    opts.segment_bytes = std::uint64_t{64} << 10;
    opts.compact_min_bytes = std::uint64_t{64} << 10;
    opts.compaction_step_bytes = std::uint64_t{4} << 10;
    return opts;
}

/// The POSIX calls, counting the bytes read and written and the segments removed; copies
/// share the counts.
struct counting_io : kvforge::posix_io {
    std::shared_ptr<std::atomic<std::uint64_t>> moved = std::make_shared<std::atomic<std::uint64_t>>(0);
    std::shared_ptr<std::atomic<std::uint64_t>> removed_segments = std::make_shared<std::atomic<std::uint64_t>>(0);

    int unlink(const char* path) noexcept {
        if (std::string_view(path).ends_with(".kvlog")) ++*removed_segments;
        return kvforge::posix_io::unlink(path);
    }

    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        return count(kvforge::posix_io::pread(fd, buffer, size, offset));
    }
    ssize_t preadv(int fd, const iovec* parts, int n, off_t offset) noexcept {
        return count(kvforge::posix_io::preadv(fd, parts, n, offset));
    }
    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        return count(kvforge::posix_io::pwrite(fd, buffer, size, offset));
    }

private:
    ssize_t count(ssize_t done) noexcept {
        if (done > 0) moved->fetch_add(static_cast<std::uint64_t>(done));
        return done;
    }
};

/// Overwrites and erases random keys of 400, keeping model in step, until automatic
/// compaction has run `jobs` more times.
template <class Store>
void churn_until_compacted(Store& db, std::map<std::string, std::string>& model, std::mt19937& random,
                           std::uint64_t jobs) {
    const std::uint64_t target = db.stats().compactions + jobs;
    for (int i = 0; db.stats().compactions < target; ++i) {
        REQUIRE(i < 200000);
        const std::string key = "key" + std::to_string(random() % 400);
        if (random() % 8 == 0) {
            db.erase(key);
            model.erase(key);
        } else {
            const std::string value = std::to_string(i) + std::string(100 + random() % 100, 'v');
            db.put(key, value);
            model[key] = value;
        }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("writes between a job's steps leave the newest values and exact dead bytes",
                   "[compaction][segments]", kvforge::file_log, kvforge::mmap_file) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::sorted_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::mt19937 random(12);
    kvforge::stats before;
    {
        store_type db(path, small_steps());
        churn_until_compacted(db, model, random, 20);
        before = db.stats();
        CHECK(before.compaction_failures == 0);
        CHECK(db.size() == model.size());
        for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    }
    store_type db(path, small_steps());
    const kvforge::stats after = db.stats();
    // A reopen counts live and dead bytes from the records: the job kept them exact.
    CHECK(after.live_bytes == before.live_bytes);
    CHECK(after.dead_bytes == before.dead_bytes);
    CHECK(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    CHECK(db.verify().ok());
}

TEST_CASE("no write pays for more than one bounded compaction step", "[compaction][segments]") {
    // sync_each: each put writes its own record, so a put's bytes are its record's and
    // compaction's (a buffering writer would add the buffer it hands to the OS).
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each, counting_io>;
    // The most bytes one put read and wrote, while jobs ran after puts.
    auto longest_put = [](std::uint64_t step_bytes) {
        temp_dir dir;
        kvforge::options opts = small_steps();
        opts.compaction_step_bytes = step_bytes;
        counting_io io;
        store_type db(dir / "db", opts, io);
        std::uint64_t longest = 0;
        std::mt19937 random(7);
        while (db.stats().compactions < 10) {
            const std::uint64_t moved = io.moved->load();
            db.put("key" + std::to_string(random() % 400), std::string(150, 'v'));
            longest = std::max(longest, io.moved->load() - moved);
        }
        return longest;
    };
    const std::uint64_t whole_jobs = longest_put(0);
    const std::uint64_t steps = longest_put(std::uint64_t{4} << 10);
    // A whole job reads and writes its inputs (tens of KiB); a step reads and writes
    // about 4 KiB, plus the put's own record, a rollover's header and hint, or at the
    // end of a job the hints of its outputs (about 30 bytes a key).
    CHECK(whole_jobs > (std::uint64_t{40} << 10));
    CHECK(steps < (std::uint64_t{16} << 10));
    CHECK(steps * 3 < whole_jobs);
}

TEST_CASE("no put syncs more for a compaction step than a rollover does", "[compaction][segments]") {
    // buffered: a put syncs nothing of its own, so its syncs are a rollover's (the closed
    // segment, the directory), or a step's after it: a hint's (the hint, the directory),
    // a spare's, or a compaction job's. A job ends each output (its sync and hint) and
    // publishes its outputs (the directory) in steps of their own, and no step follows
    // the put that closed a segment.
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>>;
    // The most syncs one put made in the first 20000 puts, and the jobs they ran.
    auto most_syncs_in_a_put = [](bool compaction, std::uint64_t& jobs) {
        temp_dir dir;
        kvforge::options opts = small_steps();
        if (!compaction) opts.compact_dead_ratio = 0;
        store_type db(dir / "db", opts);
        std::uint64_t most = 0;
        std::mt19937 random(11);
        for (int i = 0; i < 20000; ++i) {
            const std::uint64_t before = db.stats().syncs;
            db.put("key" + std::to_string(random() % 400), std::string(150, 'v'));
            most = std::max(most, db.stats().syncs - before);
        }
        jobs = db.stats().compactions;
        return most;
    };
    std::uint64_t jobs = 0;
    const std::uint64_t without_compaction = most_syncs_in_a_put(false, jobs);
    CHECK(jobs == 0);
    const std::uint64_t with_jobs = most_syncs_in_a_put(true, jobs);
    CHECK(jobs > 10);
    CHECK(without_compaction == 2);
    CHECK(with_jobs == without_compaction);
}

TEST_CASE("a job's inputs leave the directory one a step after it retires them", "[compaction][segments]") {
    // Removing a segment's file costs a directory sync and the freeing of its pages and
    // blocks: a job of several inputs spreads them over as many steps.
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, counting_io>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::mt19937 random(5);
    std::uint64_t in_store = 0;
    {
        counting_io io;
        store_type db(path, small_steps(), io);
        std::uint64_t most_in_one_put = 0;
        for (int i = 0; db.stats().compactions < 10; ++i) {
            REQUIRE(i < 200000);
            const std::string key = "key" + std::to_string(random() % 400);
            const std::string value = std::to_string(i) + std::string(100 + random() % 100, 'v');
            const std::uint64_t removed = io.removed_segments->load();
            db.put(key, value);
            model[key] = value;
            most_in_one_put = std::max(most_in_one_put, io.removed_segments->load() - removed);
        }
        INFO(io.removed_segments->load() << " segments removed by " << db.stats().compactions << " jobs");
        CHECK(io.removed_segments->load() > db.stats().compactions);  // jobs of several inputs
        CHECK(most_in_one_put == 1);
        // Closing with a job's removals under way removes the rest: no file is left of a
        // segment the store no longer has.
        in_store = db.stats().segments;
        db.close();
    }
    const auto on_disk = std::count_if(std::filesystem::directory_iterator(path), std::filesystem::directory_iterator(),
                                       [](const auto& entry) { return entry.path().extension() == ".kvlog"; });
    CHECK(static_cast<std::uint64_t>(on_disk) == in_store);
    store_type db(path, small_steps());
    CHECK(db.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
}

TEMPLATE_TEST_CASE("clear, compact and close drop a job under way and leave no temporary files",
                   "[compaction][segments]", kvforge::file_log, kvforge::mmap_file) {
    using store_type = kvforge::store<std::string, std::string, TestType, kvforge::hash_index>;
    temp_dir dir;
    const std::string path = dir / "db";
    std::map<std::string, std::string> model;
    std::mt19937 random(3);
    kvforge::options opts = small_steps();
    // Steps so small that a job is under way after most writes.
    opts.compaction_step_bytes = 256;
    const auto check_contents = [&](store_type& db) {
        CHECK(db.size() == model.size());
        for (const auto& [key, value] : model) REQUIRE(db.get(key) == std::optional<std::string>(value));
    };
    const auto during_a_job = [&](store_type& db) {
        churn_until_compacted(db, model, random, 2);
        // The next job starts and copies into a .tmp output within a few hundred writes.
        for (int i = 0; outputs_being_written(path) == 0; ++i) {
            REQUIRE(i < 20000);
            const std::string key = "key" + std::to_string(random() % 400);
            db.put(key, "a newer value");
            model[key] = "a newer value";
        }
    };
    {
        store_type db(path, opts);
        during_a_job(db);
        db.compact();
        CHECK(temporary_files(path) == 0);
        check_contents(db);
        CHECK(db.stats().dead_bytes == 0);

        during_a_job(db);
        db.clear();
        model.clear();
        CHECK(temporary_files(path) == 0);
        check_contents(db);

        during_a_job(db);
    }
    CHECK(temporary_files(path) == 0);
    store_type db(path, opts);
    check_contents(db);
    CHECK(db.verify().ok());
}
