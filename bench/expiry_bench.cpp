// What kvforge::expiring<> costs: put and get of keys without deadlines in an expiring
// memory store against the same store without the policy, and the time to purge
// 1,000,000 expired keys (KVFORGE_EXPIRY_BENCH_KEYS) from a store that holds as many
// more without deadlines. Keys are 16 bytes, values 100 bytes.
//
//   put/hash/plain, put/hash/expiring    puts of fresh keys into a store (reset per run)
//   get/hash/plain, get/hash/expiring    gets of present keys in random order
//   (and the same with sorted_index)
//   purge/1000000                         purge_expired() of that many keys, whose
//                                         deadline a hand-moved clock has passed

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

/// A clock the purge benchmark moves past every deadline at once.
struct bench_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<bench_clock>;
    static constexpr bool is_steady = false;
    static inline std::atomic<rep> ticks{0};
    static time_point now() noexcept { return time_point(duration(ticks.load(std::memory_order_relaxed))); }
};

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_EXPIRY_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 1'000'000;
}

const std::vector<std::string>& keys() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> k(key_count());
        for (std::size_t i = 0; i < k.size(); ++i) {
            char buffer[17];
            std::snprintf(buffer, sizeof buffer, "key%013llu", static_cast<unsigned long long>(i) * 2654435761ULL % 10'000'000'000'000ULL);
            k[i] = buffer;
        }
        return k;
    }();
    return all;
}

const std::string value(100, 'v');

template <class Store>
void put_bench(benchmark::State& state) {
    const auto& k = keys();
    std::size_t i = 0;
    auto db = std::make_unique<Store>();
    for (auto _ : state) {
        if (i == k.size()) {
            state.PauseTiming();
            db = std::make_unique<Store>();
            i = 0;
            state.ResumeTiming();
        }
        db->put(k[i++], value);
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Store>
void get_bench(benchmark::State& state) {
    const auto& k = keys();
    Store db;
    for (const std::string& key : k) db.put(key, value);
    std::vector<std::uint32_t> order(k.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
    std::size_t i = 0;
    std::string out;
    for (auto _ : state) {
        benchmark::DoNotOptimize(db.get(k[order[i]], out));
        if (++i == order.size()) i = 0;
    }
    state.SetItemsProcessed(state.iterations());
}

template <class Index>
using plain_store = kvforge::store<std::string, std::string, Index>;
template <class Index>
using expiring_store = kvforge::store<std::string, std::string, Index, kvforge::expiring<bench_clock>>;

void purge_bench(benchmark::State& state) {
    const auto& k = keys();
    std::unique_ptr<expiring_store<kvforge::hash_index>> db;
    for (auto _ : state) {
        state.PauseTiming();
        db.reset();  // the last run's store is freed outside the timed part
        bench_clock::ticks = 0;
        db = std::make_unique<expiring_store<kvforge::hash_index>>();
        for (std::size_t i = 0; i < k.size(); ++i) {
            db->put(k[i], value, std::chrono::milliseconds(1 + static_cast<std::int64_t>(i % 1000)));
            db->put(k[i] + "+", value);
        }
        bench_clock::ticks = 10'000;
        state.ResumeTiming();
        if (db->purge_expired() != k.size()) state.SkipWithError("purge_expired did not purge every expired key");
    }
    state.counters["keys"] = static_cast<double>(k.size());
}

BENCHMARK_TEMPLATE(put_bench, plain_store<kvforge::hash_index>)->Name("put/hash/plain");
BENCHMARK_TEMPLATE(put_bench, expiring_store<kvforge::hash_index>)->Name("put/hash/expiring");
BENCHMARK_TEMPLATE(get_bench, plain_store<kvforge::hash_index>)->Name("get/hash/plain");
BENCHMARK_TEMPLATE(get_bench, expiring_store<kvforge::hash_index>)->Name("get/hash/expiring");
BENCHMARK_TEMPLATE(put_bench, plain_store<kvforge::sorted_index>)->Name("put/sorted/plain");
BENCHMARK_TEMPLATE(put_bench, expiring_store<kvforge::sorted_index>)->Name("put/sorted/expiring");
BENCHMARK_TEMPLATE(get_bench, plain_store<kvforge::sorted_index>)->Name("get/sorted/plain");
BENCHMARK_TEMPLATE(get_bench, expiring_store<kvforge::sorted_index>)->Name("get/sorted/expiring");
BENCHMARK(purge_bench)->Name("purge")->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
