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
//   reopen/file_log/plain, .../expiring   open() of a closed file_log store of that many
//   reopen/mmap_file/plain, .../expiring  keys (every one with a deadline when expiring),
//                                         under the system's temporary directory
//                                         (KVFORGE_BENCH_DIR)
//   reopen/file_log/sorted                the plain one with sorted_index for hash_index
//   .../expiring_half                     the same with every other key without a deadline
//   .../expiring_scan                     the same as .../expiring with the deadlines file
//                                         removed before each open, so the index is
//                                         rebuilt from the stored values
//   group_commit/plain, .../expiring      8 threads of 150 puts each (fresh keys, one-hour
//                                         deadlines when expiring) into a thread_safe
//                                         sync_each file_log store: puts/s and the syncs
//                                         it took (concurrent puts share one sync)

#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../tests/support/sync_counting_io.hpp"

namespace {

/// A clock the purge benchmark moves past every deadline at once.
struct bench_clock {
    using rep = std::int64_t;
    using period = std::milli;
    using duration = std::chrono::duration<rep, period>;
    using time_point = std::chrono::time_point<bench_clock>;
    static constexpr bool is_steady = false;
    static constexpr std::string_view name = "bench_clock";
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

template <class Store>
using persistent_plain = kvforge::store<std::string, std::string, Store>;
template <class Store>
using persistent_expiring = kvforge::store<std::string, std::string, Store, kvforge::expiring<bench_clock>>;
template <class Store>
using persistent_sorted = kvforge::store<std::string, std::string, Store, kvforge::sorted_index>;

/// How a reopen benchmark's keys get deadlines, and whether its open finds the deadlines
/// file its last close wrote.
enum class reopen_case { all_deadlines, half_deadlines, all_deadlines_without_file };

template <class Store, reopen_case Case = reopen_case::all_deadlines>
void reopen_bench(benchmark::State& state) {
    const auto& k = keys();
    const char* base = std::getenv("KVFORGE_BENCH_DIR");
    std::string directory =
        (base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path()) /
        "kvforge-expiry-bench-XXXXXX";
    if (::mkdtemp(directory.data()) == nullptr) {
        state.SkipWithError("cannot make a directory for the store");
        return;
    }
    {
        Store db(directory + "/store");
        const bench_clock::time_point deadline(bench_clock::duration(1'000'000'000));
        for (std::size_t i = 0; i < k.size(); ++i) {
            const std::string& key = k[i];
            if constexpr (Store::expiring) {
                if (Case == reopen_case::half_deadlines && i % 2 == 1) {
                    db.put(key, value);
                } else {
                    db.put(key, value, deadline);
                }
            } else {
                db.put(key, value);
            }
        }
        db.close();
    }
    std::uintmax_t disk_bytes = 0;
    for (const auto& file : std::filesystem::directory_iterator(directory + "/store")) disk_bytes += file.file_size();
    state.counters["disk_bytes"] = static_cast<double>(disk_bytes);
    Store db;
    for (auto _ : state) {
        if (Case == reopen_case::all_deadlines_without_file) {
            state.PauseTiming();
            std::filesystem::remove(directory + "/store/deadlines");
            state.ResumeTiming();
        }
        db.open(directory + "/store");
        state.PauseTiming();
        if (db.size() != k.size()) state.SkipWithError("the reopened store lost keys");
        db.close();
        state.ResumeTiming();
    }
    state.counters["keys"] = static_cast<double>(k.size());
    std::filesystem::remove_all(directory);
}

using kvforge_test::sync_counting_io;

template <class... Policies>
using synced_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each,
                                    kvforge::thread_safe, sync_counting_io, Policies...>;

template <class Store>
void group_commit_bench(benchmark::State& state) {
    constexpr int threads = 8;
    constexpr int puts_per_thread = 150;
    const char* base = std::getenv("KVFORGE_BENCH_DIR");
    std::uint64_t syncs = 0;
    std::uint64_t puts = 0;
    for (auto _ : state) {
        state.PauseTiming();
        std::string directory =
            (base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path()) /
            "kvforge-group-commit-bench-XXXXXX";
        if (::mkdtemp(directory.data()) == nullptr) {
            state.SkipWithError("cannot make a directory for the store");
            return;
        }
        sync_counting_io io;
        {
            Store db(directory + "/store", kvforge::options{}, io);
            const std::uint64_t syncs_before = io.syncs->load();
            state.ResumeTiming();
            std::vector<std::thread> writers;
            for (int t = 0; t < threads; ++t) {
                writers.emplace_back([&db, t] {
                    for (int i = 0; i < puts_per_thread; ++i) {
                        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
                        if constexpr (Store::expiring) {
                            db.put(key, value, std::chrono::hours(1));
                        } else {
                            db.put(key, value);
                        }
                    }
                });
            }
            for (std::thread& writer : writers) writer.join();
            state.PauseTiming();
            syncs += io.syncs->load() - syncs_before;
            puts += threads * puts_per_thread;
        }
        std::filesystem::remove_all(directory);
        state.ResumeTiming();
    }
    state.counters["puts_per_s"] = benchmark::Counter(static_cast<double>(puts), benchmark::Counter::kIsRate);
    state.counters["syncs_per_run"] = static_cast<double>(syncs) / static_cast<double>(state.iterations());
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
BENCHMARK_TEMPLATE(reopen_bench, persistent_plain<kvforge::file_log>)
    ->Name("reopen/file_log/plain")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_sorted<kvforge::file_log>)
    ->Name("reopen/file_log/sorted")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_expiring<kvforge::file_log>)
    ->Name("reopen/file_log/expiring")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_expiring<kvforge::file_log>, reopen_case::half_deadlines)
    ->Name("reopen/file_log/expiring_half")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_expiring<kvforge::file_log>, reopen_case::all_deadlines_without_file)
    ->Name("reopen/file_log/expiring_scan")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_plain<kvforge::mmap_file>)
    ->Name("reopen/mmap_file/plain")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();
BENCHMARK_TEMPLATE(reopen_bench, persistent_expiring<kvforge::mmap_file>)
    ->Name("reopen/mmap_file/expiring")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

}  // namespace

BENCHMARK_TEMPLATE(group_commit_bench, synced_store<>)->Name("group_commit/plain")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(group_commit_bench, synced_store<kvforge::expiring<>>)
    ->Name("group_commit/expiring")
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
