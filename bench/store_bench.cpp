// Throughput of kvforge's stores on the basic workloads: random puts, random gets of
// existing and of missing keys, and a full ordered scan. 16-byte keys, 100-byte values.
//
//   KVFORGE_BENCH_KEYS   keys per store (default 1,000,000; CI runs with a tiny number)
//   KVFORGE_BENCH_DIR    where file-backed stores are written (default: the temp directory)
//
// Counters: items_per_second, and allocs_per_op (heap allocations per operation,
// counted by the replaced global operator new below).

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace {

std::atomic<std::size_t> allocations{0};

}  // namespace

// The replacements below pair malloc with free, as they must; GCC 12 sees the inlined
// standard allocator's delete meet a malloc'd pointer and wrongly calls them mismatched.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

std::size_t key_count() {
    const char* text = std::getenv("KVFORGE_BENCH_KEYS");
    return text != nullptr ? std::strtoull(text, nullptr, 10) : 1000000;
}

/// The benchmark's keys: 16 random bytes each, from a fixed seed.
const std::vector<std::string>& keys() {
    static const std::vector<std::string> all = [] {
        std::mt19937_64 rng(42);
        std::vector<std::string> out(key_count());
        for (auto& key : out) {
            key.resize(16);
            for (char& c : key) c = static_cast<char>('a' + rng() % 26);
        }
        return out;
    }();
    return all;
}

const std::string value(100, 'v');

/// A store of the given type with every key, in a fresh directory when it is persistent.
template <class Store>
class loaded_store {
public:
    explicit loaded_store(bool fill = true, kvforge::options opts = {}) : options_(opts) {
        if constexpr (Store::persistent) {
            const char* base = std::getenv("KVFORGE_BENCH_DIR");
            directory_ = std::filesystem::path(base != nullptr ? base : std::filesystem::temp_directory_path().string()) /
                         ("kvforge-bench-" + std::to_string(std::random_device{}()));
            std::filesystem::remove_all(directory_);
            store_ = std::make_unique<Store>(directory_.string(), options_);
        } else {
            store_ = std::make_unique<Store>();
        }
        if (fill) {
            for (const auto& key : keys()) store_->put(key, value);
        }
    }
    ~loaded_store() {
        store_.reset();
        if (!directory_.empty()) std::filesystem::remove_all(directory_);
    }
    Store& operator*() { return *store_; }
    Store* operator->() { return store_.get(); }

    /// Closes the store and opens it again from its files.
    void reopen() {
        store_.reset();
        store_ = std::make_unique<Store>(directory_.string(), options_);
    }
    void close() { store_.reset(); }

private:
    kvforge::options options_;
    std::filesystem::path directory_;
    std::unique_ptr<Store> store_;
};

void report(benchmark::State& state, std::size_t operations, std::size_t allocations_before) {
    state.SetItemsProcessed(static_cast<std::int64_t>(operations));
    state.counters["allocs_per_op"] = benchmark::Counter(
        static_cast<double>(allocations.load() - allocations_before) / static_cast<double>(operations));
}

template <class Store>
void random_put(benchmark::State& state) {
    std::size_t operations = 0;
    std::size_t before = 0;
    for (auto _ : state) {
        state.PauseTiming();
        loaded_store<Store> db(false);
        before = allocations.load();
        state.ResumeTiming();
        for (const auto& key : keys()) db->put(key, value);
        operations += keys().size();
    }
    report(state, operations, before);
}

template <class Store>
void random_get(benchmark::State& state) {
    loaded_store<Store> db;
    std::string out;
    std::size_t operations = 0;
    const std::size_t before = allocations.load();
    for (auto _ : state) {
        for (const auto& key : keys()) benchmark::DoNotOptimize(db->get(key, out));
        operations += keys().size();
    }
    report(state, operations, before);
}

template <class Store>
void random_get_view(benchmark::State& state) {
    loaded_store<Store> db;
    std::size_t operations = 0;
    const std::size_t before = allocations.load();
    for (auto _ : state) {
        for (const auto& key : keys()) db->visit(key, [](std::string_view bytes) { benchmark::DoNotOptimize(bytes); });
        operations += keys().size();
    }
    report(state, operations, before);
}

template <class Store>
void missing_get(benchmark::State& state) {
    loaded_store<Store> db;
    std::vector<std::string> missing = keys();
    for (auto& key : missing) key[0] = 'A';  // upper case: never stored
    std::size_t operations = 0;
    const std::size_t before = allocations.load();
    for (auto _ : state) {
        for (const auto& key : missing) benchmark::DoNotOptimize(db->contains(key));
        operations += missing.size();
    }
    report(state, operations, before);
}

template <class Store>
void ordered_scan(benchmark::State& state) {
    loaded_store<Store> db;
    std::size_t operations = 0;
    const std::size_t before = allocations.load();
    for (auto _ : state) {
        for (auto&& [k, v] : db->scan()) benchmark::DoNotOptimize(v.data());
        operations += keys().size();
    }
    report(state, operations, before);
}

/// Reopening a store of every key: from the hint file written at close, or (without
/// hints) by reading the whole log.
template <class Store>
void reopen(benchmark::State& state) {
    kvforge::options opts;
    opts.write_hints = state.range(0) != 0;
    loaded_store<Store> db(true, opts);
    std::size_t opens = 0;
    for (auto _ : state) {
        state.PauseTiming();
        db.close();
        state.ResumeTiming();
        db.reopen();
        ++opens;
    }
    state.counters["keys"] = static_cast<double>(db->size());
    state.SetItemsProcessed(static_cast<std::int64_t>(opens * keys().size()));
}

using namespace kvforge;
using memory_hash = store<std::string, std::string, memory, hash_index>;
using memory_sorted = store<std::string, std::string, memory, sorted_index>;
using log_hash = store<std::string, std::string, file_log, hash_index, buffered<>>;
using log_sorted = store<std::string, std::string, file_log, sorted_index, buffered<>>;
using mapped_hash = store<std::string, std::string, mmap_file, hash_index, buffered<>>;

}  // namespace

BENCHMARK_TEMPLATE(random_put, memory_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_put, memory_sorted)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_put, log_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_put, log_sorted)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get, memory_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get, memory_sorted)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get, log_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get, mapped_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get_view, memory_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(random_get_view, mapped_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(missing_get, memory_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(missing_get, log_hash)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(ordered_scan, memory_sorted)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(ordered_scan, log_sorted)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(reopen, log_hash)->Arg(1)->Arg(0)->ArgName("hint")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
