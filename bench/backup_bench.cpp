// What an online backup costs the writers: the longest put (and the 99.9th percentile)
// while db.backup() copies a store, against the same in the same run with no backup.
//
// Each run fills a store with KVFORGE_BENCH_KEYS records (16-byte keys, 100-byte values),
// then one thread overwrites records as fast as it can while the main thread backs the
// store up (counters *_backup), then goes on writing for as long again with no backup
// (counters *_quiet). Put latencies are in microseconds; backup_s is the backup's time.
//
//   KVFORGE_BENCH_KEYS  records in the store (default 1,000,000; CTest's smoke run: 2000)
//   KVFORGE_BENCH_DIR   where the store and its backup live (default /var/tmp)

#include <benchmark/benchmark.h>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "measure.hpp"

namespace {

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 1000000;
}

std::string key_of(std::size_t i) {
    char key[24];
    std::snprintf(key, sizeof key, "k%015llu", static_cast<unsigned long long>(i));
    return key;
}

/// Put latencies of one phase, in microseconds.
struct latencies {
    std::vector<double> micros;

    [[nodiscard]] double longest() const {
        return micros.empty() ? 0 : *std::max_element(micros.begin(), micros.end());
    }
    [[nodiscard]] double percentile(double share) {
        if (micros.empty()) return 0;
        const auto at = micros.begin() + static_cast<std::ptrdiff_t>(share * static_cast<double>(micros.size() - 1));
        std::nth_element(micros.begin(), at, micros.end());
        return *at;
    }
};

/// Overwrites records of db until stop is set, timing each put.
template <class Store>
void write_until(Store& db, const std::atomic<bool>& stop, std::size_t& next, latencies& out) {
    const std::string value(100, 'w');
    const std::size_t keys = key_count();
    while (!stop.load(std::memory_order_relaxed)) {
        const std::string key = key_of((next++ * 7919) % keys);
        const auto start = std::chrono::steady_clock::now();
        db.put(key, value);
        out.micros.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
}

template <class Index, class Durability>
void backup_while_writing(benchmark::State& state) {
    using store_t = kvforge::store<std::string, std::string, kvforge::file_log, Index, Durability, kvforge::thread_safe>;
    const kvbench::scratch_dir dir;
    kvforge::options opts;
    opts.compact_dead_ratio = 0;  // compaction is not what this measures
    store_t db((dir.path() / "store").string(), opts);
    const std::string value(100, 'v');
    kvforge::batch<std::string, std::string> fill;
    for (std::size_t i = 0; i < key_count(); ++i) {
        fill.put(key_of(i), value);
        if (fill.size() == 1000) {
            db.write(fill);
            fill.clear();
        }
    }
    db.write(fill);
    db.sync();

    latencies during;
    latencies quiet;
    double backup_seconds = 0;
    int run = 0;
    for (auto _ : state) {
        std::size_t next = 0;
        std::atomic<bool> stop{false};
        std::thread writer([&] { write_until(db, stop, next, during); });
        const kvbench::stopwatch backup_time;
        db.backup((dir.path() / ("backup-" + std::to_string(run++))).string());
        backup_seconds = backup_time.seconds();
        stop.store(true);
        writer.join();

        // As long again with no backup, on the same store.
        stop.store(false);
        std::thread quiet_writer([&] { write_until(db, stop, next, quiet); });
        std::this_thread::sleep_for(std::chrono::duration<double>(backup_seconds));
        stop.store(true);
        quiet_writer.join();
    }
    state.counters["backup_s"] = backup_seconds;
    state.counters["puts_backup"] = static_cast<double>(during.micros.size());
    state.counters["puts_quiet"] = static_cast<double>(quiet.micros.size());
    state.counters["max_put_us_backup"] = during.longest();
    state.counters["max_put_us_quiet"] = quiet.longest();
    state.counters["p999_put_us_backup"] = during.percentile(0.999);
    state.counters["p999_put_us_quiet"] = quiet.percentile(0.999);
}

BENCHMARK_TEMPLATE(backup_while_writing, kvforge::hash_index, kvforge::buffered<>)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(backup_while_writing, kvforge::hash_index, kvforge::sync_each)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
// A store over tables copies its tables and logs from files its backup holds open.
BENCHMARK_TEMPLATE(backup_while_writing, kvforge::disk_index, kvforge::buffered<>)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
