// Concurrent readers and writers on every thread_safe configuration. Run under
// ThreadSanitizer in CI; here it checks that no read ever goes back in time. Every other
// round writes a batch, where a batch may hold any keys; else every round puts.

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "store_configs.hpp"

using namespace kvforge_test;

TEMPLATE_LIST_TEST_CASE("readers never see a key's value go backwards while writers run",
                        "[conformance][concurrency]", all_configs) {
    if constexpr (is_concurrent<TestType>) {
        test_store<TestType> db;
        constexpr int writers = 2;
        constexpr int keys_per_writer = 64;
        constexpr int rounds = 300;
        auto key_of = [](int writer, int k) { return "w" + std::to_string(writer) + "/" + std::to_string(k); };

        std::atomic<int> writers_done{0};
        std::atomic<long> regressions{0};
        std::atomic<long> reads{0};

        std::vector<std::thread> threads;
        for (int w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                for (int round = 1; round <= rounds; ++round) {
                    if (takes_any_batch<TestType> && round % 2 == 0) {
                        typename TestType::batch_type batch;
                        for (int k = 0; k < keys_per_writer; ++k) batch.put(key_of(w, k), std::to_string(round));
                        db->write(batch);
                    } else {
                        for (int k = 0; k < keys_per_writer; ++k) db->put(key_of(w, k), std::to_string(round));
                    }
                }
                writers_done.fetch_add(1);
            });
        }
        for (int r = 0; r < 2; ++r) {
            threads.emplace_back([&, r] {
                std::vector<int> last(writers * keys_per_writer, 0);
                // Read until a whole pass has run after both writers finished.
                for (;;) {
                    const bool finished = writers_done.load() == writers;
                    for (int w = 0; w < writers; ++w) {
                        for (int k = 0; k < keys_per_writer; ++k) {
                            const auto value = db->get(key_of(w, (k + r * 7) % keys_per_writer));
                            if (!value) continue;
                            const int seen = std::stoi(*value);
                            int& previous = last[w * keys_per_writer + (k + r * 7) % keys_per_writer];
                            if (seen < previous) regressions.fetch_add(1);
                            previous = seen;
                            reads.fetch_add(1);
                        }
                    }
                    if constexpr (is_ordered<TestType>) {
                        std::string previous_key;
                        for (auto&& [key, value] : db->scan()) {
                            if (!previous_key.empty() && key <= previous_key) regressions.fetch_add(1);
                            previous_key = key;
                        }
                    }
                    if (finished) break;
                }
            });
        }
        for (auto& t : threads) t.join();

        CHECK(regressions.load() == 0);
        CHECK(reads.load() > 0);
        CHECK(db->size() == writers * keys_per_writer);
        for (int w = 0; w < writers; ++w) {
            for (int k = 0; k < keys_per_writer; ++k) {
                CHECK(db->get(key_of(w, k)) == std::optional<std::string>(std::to_string(rounds)));
            }
        }
    }
}
