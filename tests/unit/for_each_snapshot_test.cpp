// for_each of a thread_safe file_log or mmap_file store with a hash index walks a
// snapshot taken at the call: writers go on while it runs, its fn may write to the same
// store, and it sees the records as they were when it started. The same holds through
// read_cache<>, expiring<>, compressed<>, any_store and kvforge::copy.
//
// Before, such a for_each held the store's read lock for the whole walk, so a put from
// fn deadlocked. Each walk runs on its own thread with a deadline; a walk that misses it
// fails the run at once, since its thread, blocked on the store's lock, can be neither
// joined nor abandoned.

#include <catch2/catch.hpp>

#include <kvforge/io/fault_injection.hpp>
#include <kvforge/kvforge.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "../support/open_store_once.hpp"
#include "../support/run_length_codec.hpp"
#include "../support/temp_dir.hpp"

using kvforge_test::temp_dir;
using namespace std::chrono_literals;

namespace {

using contents = std::map<std::string, std::string>;

/// Far more than any walk here takes, even under a sanitizer on a loaded machine.
constexpr auto walk_deadline = 60s;

/// Returns what running returns; ends the run, failed, when it does not finish within
/// the deadline (a deadlock on the store's lock).
template <class T>
T in_time(const char* what, std::future<T>& running) {
    if (running.wait_for(walk_deadline) != std::future_status::ready) {
        std::fprintf(stderr, "FAILED: %s did not finish within %lld s: it waits on a lock of the store\n", what,
                     static_cast<long long>(walk_deadline.count()));
        std::fflush(stderr);
        std::_Exit(EXIT_FAILURE);
    }
    return running.get();
}

/// Runs walk on a thread of its own and returns what it returns, as in_time says.
template <class Walk>
auto finished_in_time(const char* what, Walk&& walk) {
    auto running = std::async(std::launch::async, std::forward<Walk>(walk));
    return in_time(what, running);
}

std::string walk_key(int i) { return "key-" + std::to_string(i); }
std::string walk_value(int i) { return "value-" + std::to_string(i); }

template <class Store>
contents put_keys(Store& db, int count) {
    contents written;
    for (int i = 0; i < count; ++i) {
        db.put(walk_key(i), walk_value(i));
        written.emplace(walk_key(i), walk_value(i));
    }
    return written;
}

template <class Store>
contents walked_contents(const Store& db) {
    contents out;
    db.for_each([&](const std::string& key, const std::string& value) { out.emplace(key, value); });
    return out;
}

/// Walks db with for_each while fn overwrites, erases and adds keys of the same store,
/// and another thread writes too; checks that the walk saw exactly `before`, and that
/// the writes all landed.
template <class Store>
void check_walk_writing_to_itself(Store& db, const contents& before) {
    // Assertions stay on the test's thread: the walk only records what it saw.
    bool other_writer_finished = false;
    const contents seen = finished_in_time("for_each writing to its own store", [&] {
        contents walked;
        bool first = true;
        db.for_each([&](const std::string& key, const std::string& value) {
            walked.emplace(key, value);
            if (first) {
                first = false;
                // Another thread's write completes while the walk is under way.
                auto other = std::async(std::launch::async, [&] { db.put("from-another-thread", "x"); });
                in_time("a write from another thread during for_each", other);
                other_writer_finished = true;
            }
            db.put(key, "overwritten");
            db.put("added-" + key, "new");
            db.erase("added-" + key);
            db.put("added-" + key, "again");
        });
        return walked;
    });
    CHECK(other_writer_finished);
    CHECK(seen == before);

    contents after;
    for (const auto& [key, value] : before) {
        after.emplace(key, "overwritten");
        after.emplace("added-" + key, "again");
    }
    after.emplace("from-another-thread", "x");
    CHECK(db.size() == after.size());
    CHECK(walked_contents(db) == after);
}

}  // namespace

TEMPLATE_TEST_CASE(
    "for_each of a thread_safe log store with a hash index sees the records as of its start, while "
    "its fn and other threads write to the store",
    "[for_each][snapshot]",
    (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>,
                    kvforge::thread_safe>),
    (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                    kvforge::thread_safe>),
    (kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index, kvforge::async_worker<>,
                    kvforge::thread_safe>),
    (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>,
                    kvforge::thread_safe, kvforge::read_cache<>>),
    (kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>,
                    kvforge::thread_safe, kvforge::expiring<>, kvforge::compressed<kvforge_test::run_length<>>>)) {
    temp_dir dir;
    TestType db(dir / "db");
    // The last records are still in the writer's buffer (buffered<>) or queue
    // (async_worker<>) when the walk starts: the snapshot's cut hands them to the files.
    const contents before = put_keys(db, 500);
    check_walk_writing_to_itself(db, before);
}

TEST_CASE("for_each of a thread_safe hash store through any_store lets its fn write to the store",
          "[for_each][snapshot][any_store]") {
    temp_dir dir;
    auto db = kvforge::open_store<std::string, std::string>("file_log,hash,thread_safe:" + dir / "db");
    const contents before = put_keys(db, 300);
    check_walk_writing_to_itself(db, before);
}

TEST_CASE("copy holds no lock of a thread_safe hash source: the source takes writes while the copy runs",
          "[for_each][snapshot][copy]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>,
                   kvforge::thread_safe>
        source(dir / "source");
    const contents before = put_keys(source, 1000);
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index> destination(dir / "dest");

    kvforge::copy_options opts;
    opts.batch_records = 100;
    int progress_calls = 0;
    // Called from within the walk of the source, after each batch.
    opts.on_progress = [&](const kvforge::copy_progress& progress) {
        ++progress_calls;
        source.put("written-during-copy-" + std::to_string(progress.done), "x");
    };
    const std::uint64_t copied =
        finished_in_time("copy writing to its source", [&] { return kvforge::copy(source, destination, opts); });

    CHECK(copied == before.size());
    CHECK(progress_calls == 10);
    CHECK(walked_contents(destination) == before);
    CHECK(source.size() == before.size() + 10);
    CHECK(source.get("written-during-copy-1000") == std::optional<std::string>("x"));
}

TEST_CASE("for_each of a closed thread_safe hash store fails as before", "[for_each][snapshot]") {
    temp_dir dir;
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>,
                   kvforge::thread_safe>
        db(dir / "db");
    put_keys(db, 3);
    db.close();
    std::error_code ec;
    bool called = false;
    db.for_each([&](const std::string&, const std::string&) { called = true; }, ec);
    CHECK(ec == kvforge::errc::store_closed);
    CHECK_FALSE(called);
}

TEST_CASE("for_each of a thread_safe hash store whose writes failed still reads its records", "[for_each][snapshot]") {
    // Such a store takes no snapshot; for_each walks it under the read lock, as before.
    temp_dir dir;
    kvforge::fault_injecting_io<> io;
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                   kvforge::thread_safe, kvforge::fault_injecting_io<>>
        db(dir / "db", {}, io);
    put_keys(db, 20);
    io.inject({.at = 1, .calls = kvforge::io_call::fdatasync, .error = EIO});
    std::error_code ec;
    db.put("after the failure", "x", ec);
    REQUIRE(ec);
    std::error_code snapshot_error;
    CHECK_FALSE(db.snapshot(snapshot_error).has_value());
    CHECK(snapshot_error);

    contents expected;
    for (int i = 0; i < 20; ++i) expected.emplace(walk_key(i), walk_value(i));
    if (const auto value = db.get("after the failure")) expected.emplace("after the failure", *value);
    std::error_code walk_error;
    const contents seen = finished_in_time("for_each of a failed store", [&] {
        contents walked;
        db.for_each([&](const std::string& key, const std::string& value) { walked.emplace(key, value); }, walk_error);
        return walked;
    });
    CHECK_FALSE(walk_error);
    CHECK(seen == expected);
}
