// read_cache<> fills for a key while writes to other keys are in flight.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "../support/held_call.hpp"
#include "../support/temp_dir.hpp"

namespace {

/// POSIX I/O whose fdatasync, once armed, waits until the test releases it: a write held
/// in flight for as long as the test needs.
struct gated_sync_io : kvforge::posix_io {
    std::shared_ptr<kvforge_test::held_call> sync = std::make_shared<kvforge_test::held_call>();

    int fdatasync(int fd) noexcept {
        sync->pass();
        return kvforge::posix_io::fdatasync(fd);
    }
};

}  // namespace

TEST_CASE("read_cache fills for a key while a write of another key is in flight", "[cache][read_cache][threads]") {
    using store_type = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each,
                                      kvforge::thread_safe, kvforge::read_cache<>, gated_sync_io>;
    kvforge_test::temp_dir dir;
    gated_sync_io io;
    store_type db(dir / "db", kvforge::options{.cache_budget = 1 << 20}, io);
    for (int i = 0; i < 100; ++i) db.put("hot/" + std::to_string(i), "value " + std::to_string(i));

    io.sync->arm();
    std::thread writer([&] { db.put("other", "written meanwhile"); });
    const bool holding = io.sync->wait_held(std::chrono::seconds(30));
    if (!holding) {
        io.sync->release();
        writer.join();
        FAIL("the write never reached its sync");
    }

    // The write of "other" is in flight: reads of the hot keys still fill the cache.
    // (Checked once the writer is joined, so that a failure cannot leave it waiting.)
    const std::uint64_t hits_before = db.stats().hits;
    int wrong = 0;
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 100; ++i) {
            wrong += db.get("hot/" + std::to_string(i)) != std::optional<std::string>("value " + std::to_string(i));
        }
    }
    const kvforge::stats during = db.stats();
    io.sync->release();
    writer.join();
    CHECK(wrong == 0);
    // The second read of each hot key hit, but for the one or two keys (of 100) that share
    // a shard of the cache's bookkeeping with "other": those wait for its write to end.
    CHECK(during.hits - hits_before >= 95);
    CHECK(db.get("other") == std::optional<std::string>("written meanwhile"));
}
