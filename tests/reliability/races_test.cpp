// Calls that run at the same time as close(), compaction or the async worker's writes.
// Under ThreadSanitizer (and AddressSanitizer, for a writer used after close freed it)
// these find unsynchronised state; without a sanitizer they check the results.
//
// - close() while other threads write, wait for durability and read durable_seq():
//   each of those calls completes or reports store_closed, and close() reports nothing.
// - stats() while compaction runs.
// - verify() while async_worker's thread writes queued records to the file: verify sees
//   only whole records, so a healthy store verifies; and a damaged last record written
//   by the worker is still reported.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "../conformance/store_configs.hpp"

using kvforge_test::temp_dir;

namespace {

using close_race_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                              kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::buffered<>,
                              kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::async_worker<>,
                              kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                              kvforge::async_worker<>, kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index, kvforge::sync_each,
                              kvforge::thread_safe>>;

/// Waits until done() holds, failing the test after a generous timeout.
template <class Done>
void wait_until_holds(Done&& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(done());
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("close while other threads write and wait for durability", "[races]", close_race_configs) {
    constexpr int rounds = 20;
    constexpr int threads = 3;
    for (int round = 0; round < rounds; ++round) {
        temp_dir dir;
        TestType db(dir / "db");
        std::vector<std::atomic<int>> writes(threads);
        std::atomic<int> unexpected{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                for (int i = 0;; ++i) {
                    std::error_code ec;
                    const std::string key = "t" + std::to_string(t) + "/" + std::to_string(i % 50);
                    if constexpr (TestType::sequenced) {
                        const std::uint64_t sequence = db.put(key, "value", ec);
                        if (!ec) db.wait_durable(sequence, ec);
                        (void)db.durable_seq();
                    } else {
                        db.put(key, "value", ec);
                    }
                    if (!ec) (void)db.get(key, ec);
                    (void)db.stats();
                    (void)db.is_open();
                    if (ec == kvforge::errc::store_closed) return;
                    if (ec) {
                        unexpected.fetch_add(1);
                        return;
                    }
                    writes[t].fetch_add(1);
                }
            });
        }
        // Every thread has written each of its keys before the store closes under it.
        for (const std::atomic<int>& written : writes) wait_until_holds([&] { return written.load() >= 60; });
        std::error_code ec;
        db.close(ec);
        CHECK_FALSE(ec);
        for (std::thread& worker : workers) worker.join();
        CHECK(unexpected.load() == 0);
        CHECK_FALSE(db.is_open());
        // Reopening finds every key the threads wrote before close.
        db.open(dir / "db");
        CHECK(db.size() == threads * 50);
    }
}

TEMPLATE_LIST_TEST_CASE("stats while compaction runs", "[races]", close_race_configs) {
    temp_dir dir;
    TestType db(dir / "db");
    for (int i = 0; i < 200; ++i) db.put("key" + std::to_string(i), std::string(100, 'v'));
    std::atomic<bool> done{false};
    std::thread compactor([&] {
        for (int round = 0; round < 30; ++round) {
            db.put("key" + std::to_string(round), std::string(50, 'w'));
            db.compact();
        }
        done = true;
    });
    std::uint64_t last_compactions = 0;
    std::uint64_t last_syncs = 0;
    while (!done.load()) {
        const kvforge::stats s = db.stats();
        CHECK(s.compactions >= last_compactions);
        CHECK(s.syncs >= last_syncs);
        CHECK(s.live_keys == 200);
        last_compactions = s.compactions;
        last_syncs = s.syncs;
    }
    compactor.join();
    CHECK(db.stats().compactions == 30);
}

namespace {

using async_configs = std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                                kvforge::async_worker<>, kvforge::single_thread>,
                                 kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index,
                                                kvforge::async_worker<>, kvforge::thread_safe>,
                                 kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index,
                                                kvforge::async_worker<>, kvforge::thread_safe>,
                                 kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sorted_index,
                                                kvforge::async_worker<>, kvforge::single_thread>>;

}  // namespace

TEMPLATE_LIST_TEST_CASE("verify while the async worker writes finds a healthy store healthy", "[races]",
                        async_configs) {
    temp_dir dir;
    TestType db(dir / "db");
    const std::string value(64 << 10, 'v');
    for (int round = 0; round < 100; ++round) {
        // Queue writes of many pages, so that the worker is writing while verify reads.
        for (int i = 0; i < 16; ++i) db.put("key" + std::to_string(i), value);
        const kvforge::verify_report report = db.verify();
        INFO("round " << round);
        for (const kvforge::damaged_record& damage : report.damaged) {
            UNSCOPED_INFO(damage.file << " at offset " << damage.offset << ": " << damage.problem);
        }
        REQUIRE(report.ok());
    }
}

TEMPLATE_LIST_TEST_CASE("verify reports damage in the last record the async worker wrote", "[races]", async_configs) {
    temp_dir dir;
    TestType db(dir / "db");
    std::uint64_t last = 0;
    for (int i = 0; i < 8; ++i) last = db.put("key" + std::to_string(i), "value of record " + std::to_string(i));
    db.wait_durable(last);
    // One bit of the last record's value rots under the open store.
    const std::string data = dir / "db/data-0000000001.kvlog";
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    file.seekg(size - 1);
    char byte = 0;
    file.get(byte);
    file.seekp(size - 1);
    file.put(static_cast<char>(byte ^ 0x01));
    file.close();
    const std::uint64_t last_record_size = 7 + 4 + 17;  // header (crc, type, two sizes), "key7", its value
    const kvforge::verify_report report = db.verify();
    REQUIRE(report.damaged.size() == 1);
    CHECK(report.damaged.front().file == data);
    CHECK(report.damaged.front().offset == static_cast<std::uint64_t>(size) - last_record_size);
    CHECK(report.damaged.front().problem == "incomplete record at the end of the file");
    CHECK(report.records_checked == 7);
}
