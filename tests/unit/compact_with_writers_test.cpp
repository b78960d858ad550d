// compact() of a thread_safe store lets writers go on: its job runs on the calling
// thread as the automatic jobs run on theirs, taking the writers' lock only in short
// spells. An I/O policy holds compact() still in the middle of writing its output
// segments (a pwrite of a record the store held before the call); puts, gets and
// contains from another thread must complete meanwhile. Afterwards, every segment that
// existed at the call is rewritten: its dead bytes are gone, and every value is right,
// before and after a reopen.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>

#include "../support/held_call.hpp"
#include "../support/marker_holding_io.hpp"
#include "../support/temp_dir.hpp"

namespace {

constexpr std::string_view marker = "written-before-compact";

/// After the store was filled and synced, only compaction writes the marker (it copies
/// the records the store held), so marker_holding_io holds it in the middle of writing
/// its outputs.
using pausing_io = kvforge_test::marker_holding_io;

using writing_configs = std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                                  kvforge::buffered<>, kvforge::thread_safe, pausing_io>,
                                   kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                                  kvforge::sync_each, kvforge::thread_safe, pausing_io>>;

constexpr int old_keys = 3000;
constexpr int puts_while_paused = 200;

std::string old_value(int i, int round) {
    return std::string(marker) + "-" + std::to_string(i) + "-" + std::to_string(round) + std::string(60, 'o');
}

std::string new_key(int i) { return "during-" + std::to_string(i); }

}  // namespace

TEMPLATE_LIST_TEST_CASE("compact() of a thread_safe store lets writers go on while it works",
                        "[compaction][compact_with_writers]", writing_configs) {
    kvforge_test::temp_dir dir;
    const std::string path = dir / "db";
    kvforge::options opts;
    opts.compact_dead_ratio = 0;  // no automatic job: the dead bytes wait for compact()
    opts.segment_bytes = 128 << 10;
    pausing_io io;
    io.marker = marker;
    const std::shared_ptr<kvforge_test::held_call> point = io.point;
    std::optional<TestType> db(std::in_place, path, opts, io);
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < old_keys; ++i) db->put("key-" + std::to_string(i), old_value(i, round));
    }
    db->sync();
    REQUIRE(db->stats().dead_bytes > 0);
    point->arm();

    std::error_code compact_error;
    std::thread compactor([&] { db->compact(compact_error); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    const bool paused = point->wait_held(std::chrono::seconds(60));

    // Puts from another thread while compact() is held mid-way; a put blocked by it
    // would never finish, so the wait for them has a deadline too.
    std::atomic<int> done{0};
    std::atomic<bool> reads_right{true};
    std::thread writer([&] {
        if (!paused) return;
        for (int i = 0; i < puts_while_paused; ++i) {
            db->put(new_key(i), "new" + std::to_string(i));
            if (db->get("key-" + std::to_string(i)) != old_value(i, 1) || !db->contains(new_key(i))) {
                reads_right = false;
            }
            done.fetch_add(1);
        }
    });
    while (paused && done.load() < puts_while_paused && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    const int done_while_paused = done.load();
    point->release();  // lets compact() go on, whatever happened
    writer.join();
    compactor.join();

    REQUIRE(paused);  // compact() wrote its outputs
    CHECK(done_while_paused == puts_while_paused);
    CHECK(reads_right);
    CHECK_FALSE(compact_error);

    // The dead bytes of the segments there were at the call are gone; the puts made
    // meanwhile overwrote nothing, so none are left.
    const kvforge::stats s = db->stats();
    CHECK(s.dead_bytes == 0);
    CHECK(db->verify().ok());
    for (int reopen = 0; reopen < 2; ++reopen) {
        CHECK(db->size() == static_cast<std::size_t>(old_keys + puts_while_paused));
        for (int i = 0; i < old_keys; ++i) REQUIRE(db->get("key-" + std::to_string(i)) == old_value(i, 1));
        for (int i = 0; i < puts_while_paused; ++i) REQUIRE(db->get(new_key(i)) == "new" + std::to_string(i));
        db.reset();
        db.emplace(path, opts, io);
    }
}
