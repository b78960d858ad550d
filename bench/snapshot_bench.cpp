// What db.snapshot() costs to take: a log store's copies its index and holds the data
// files, a memory store's copies every key and value. The baseline, in the same run on
// the same store, is one for_each over every record (what a reader of a snapshot pays
// anyway to read it all).
//
// A store of each kind is filled with KVFORGE_BENCH_KEYS records (16-byte keys, 100-byte
// values) once, then the benchmarks take snapshots (snapshot_*) or walks the store (for_each_*),
// releasing each snapshot before the next. Counters: index_mib, the store's
// stats().memory_bytes (what a log store's snapshot copies).
//
//   KVFORGE_BENCH_KEYS  records in the store (default 1,000,000; CTest's smoke run: 1000)
//   KVFORGE_BENCH_DIR   where the stores live (default /var/tmp)

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

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

/// A store of Store, Index filled with key_count() records, in a scratch directory when persistent.
template <class Store, class Index>
struct filled_store {
    using store_t = kvforge::store<std::string, std::string, Store, Index, kvforge::thread_safe>;

    filled_store() {
        if constexpr (store_t::persistent) {
            db = std::make_unique<store_t>((dir.path() / "store").string());
        } else {
            db = std::make_unique<store_t>();
        }
        const std::string value(100, 'v');
        kvforge::batch<std::string, std::string> fill;
        for (std::size_t i = 0; i < key_count(); ++i) {
            fill.put(key_of(i), value);
            if (fill.size() == 1000) {
                db->write(fill);
                fill.clear();
            }
        }
        db->write(fill);
    }

    kvbench::scratch_dir dir;
    std::unique_ptr<store_t> db;
};

/// The one filled store of each kind, shared by its benchmarks (filling takes longer than they do).
template <class Store, class Index>
filled_store<Store, Index>& filled_once() {
    static filled_store<Store, Index> filled;
    return filled;
}

template <class Store, class Index>
void snapshot_create(benchmark::State& state) {
    auto& filled = filled_once<Store, Index>();
    for (auto _ : state) {
        auto snap = filled.db->snapshot();
        benchmark::DoNotOptimize(snap);
    }
    state.counters["index_mib"] = static_cast<double>(filled.db->stats().memory_bytes) / (1 << 20);
}

template <class Store, class Index>
void for_each_baseline(benchmark::State& state) {
    auto& filled = filled_once<Store, Index>();
    for (auto _ : state) {
        std::size_t bytes = 0;
        filled.db->for_each(
            [&](const std::string& key, const std::string& value) { bytes += key.size() + value.size(); });
        benchmark::DoNotOptimize(bytes);
    }
    state.counters["index_mib"] = static_cast<double>(filled.db->stats().memory_bytes) / (1 << 20);
}

BENCHMARK_TEMPLATE(snapshot_create, kvforge::file_log, kvforge::hash_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(for_each_baseline, kvforge::file_log, kvforge::hash_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(snapshot_create, kvforge::file_log, kvforge::sorted_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(for_each_baseline, kvforge::file_log, kvforge::sorted_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(snapshot_create, kvforge::memory, kvforge::hash_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(for_each_baseline, kvforge::memory, kvforge::hash_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(snapshot_create, kvforge::memory, kvforge::sorted_index)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(for_each_baseline, kvforge::memory, kvforge::sorted_index)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
