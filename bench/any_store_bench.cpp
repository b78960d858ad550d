// What the type erasure of kvforge::any_store costs per call: the same store used
// directly (kvforge::store<...>) and through open_store's any_store, side by side, for
// point reads, overwrites, lookups of absent keys and scans. Each pair is named
// call/direct/config and call/any/config; the difference of their times is the cost of
// the virtual call (and, for scans, of the callback behind each chunk's records).
//
//   KVFORGE_BENCH_KEYS  keys in each store (default 100,000; CTest's smoke run: 1000)
//   KVFORGE_BENCH_DIR   where the file_log store lives (default /var/tmp)

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>
#include <string>
#include <vector>

namespace {

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 100000;
}

/// 16-byte keys in an order that spreads over the index, and 100-byte values.
const std::vector<std::string>& keys() {
    static const std::vector<std::string> all = [] {
        std::vector<std::string> made;
        const std::size_t n = key_count();
        for (std::size_t i = 0; i < n; ++i) {
            char key[24];  // room for any 64-bit number; the keys use the first 16 bytes
            std::snprintf(key, sizeof key, "k%015llu",
                          static_cast<unsigned long long>((i * 2654435761U) % (n * 10)));
            made.emplace_back(key, 16);
        }
        return made;
    }();
    return all;
}

const std::string value(100, 'v');

/// A directory for a persistent store, removed when the benchmark binary ends.
class bench_dir {
public:
    explicit bench_dir(const char* name) {
        const char* base = std::getenv("KVFORGE_BENCH_DIR");
        path_ = std::filesystem::path(base != nullptr ? base : "/var/tmp") /
                ("kvforge-any-store-bench-" + std::to_string(::getpid()) + "-" + name);
        std::filesystem::remove_all(path_);
    }
    ~bench_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

template <class Db>
void fill(Db& db) {
    for (const std::string& key : keys()) db.put(key, value);
}

// The same calls on either kind of store: Db is a kvforge::store or a kvforge::any_store.

template <class Db>
void get_hit(benchmark::State& state, Db& db) {
    const auto& all = keys();
    std::string out;
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(db.get(all[i], out));
        if (++i == all.size()) i = 0;
    }
}

template <class Db>
void contains_miss(benchmark::State& state, Db& db) {
    std::string absent = "absent-key-00000";
    std::size_t i = 0;
    for (auto _ : state) {
        absent[15] = static_cast<char>('0' + i++ % 10);
        benchmark::DoNotOptimize(db.contains(absent));
    }
}

template <class Db>
void put_overwrite(benchmark::State& state, Db& db) {
    const auto& all = keys();
    std::size_t i = 0;
    for (auto _ : state) {
        db.put(all[i], value);
        if (++i == all.size()) i = 0;
    }
}

template <class Db>
void scan_1000(benchmark::State& state, Db& db) {
    for (auto _ : state) {
        std::size_t n = 0;
        for (const auto& record : db.scan_prefix("k")) {
            benchmark::DoNotOptimize(record.second.data());
            if (++n == 1000) break;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 1000);
}

using memory_hash = kvforge::store<std::string, std::string, kvforge::memory, kvforge::hash_index>;
using memory_sorted = kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index>;
using log_hash = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::buffered<>>;

// The any_stores: only these three compositions are compiled in.
using bench_list = kvforge::composition_list<kvforge::policies<kvforge::memory, kvforge::hash_index>,
                                             kvforge::policies<kvforge::memory, kvforge::sorted_index>,
                                             kvforge::policies<kvforge::file_log, kvforge::hash_index>>;
using any_strings = kvforge::any_store<std::string, std::string>;

/// Each store is made and filled on first use and kept for every benchmark of the run.
memory_hash& direct_memory_hash() {
    static memory_hash db;
    [[maybe_unused]] static const bool filled = (fill(db), true);
    return db;
}
memory_sorted& direct_memory_sorted() {
    static memory_sorted db;
    [[maybe_unused]] static const bool filled = (fill(db), true);
    return db;
}
log_hash& direct_log_hash() {
    static const bench_dir dir("direct");
    static log_hash db(dir.path());
    [[maybe_unused]] static const bool filled = (fill(db), db.flush(), true);
    return db;
}

any_strings& any_memory_hash() {
    static any_strings db = kvforge::open_store<std::string, std::string, bench_list>("memory,hash");
    [[maybe_unused]] static const bool filled = (fill(db), true);
    return db;
}
any_strings& any_memory_sorted() {
    static any_strings db = kvforge::open_store<std::string, std::string, bench_list>("memory,sorted");
    [[maybe_unused]] static const bool filled = (fill(db), true);
    return db;
}
any_strings& any_log_hash() {
    static const bench_dir dir("any");
    static any_strings db = kvforge::open_store<std::string, std::string, bench_list>("file_log,hash:" + dir.path());
    [[maybe_unused]] static const bool filled = (fill(db), db.flush(), true);
    return db;
}

}  // namespace

// Named so that each pair sorts together: call/direct/config, call/any/config.
BENCHMARK_CAPTURE(get_hit, direct/memory.hash, direct_memory_hash());
BENCHMARK_CAPTURE(get_hit, any/memory.hash, any_memory_hash());
BENCHMARK_CAPTURE(contains_miss, direct/memory.hash, direct_memory_hash());
BENCHMARK_CAPTURE(contains_miss, any/memory.hash, any_memory_hash());
BENCHMARK_CAPTURE(put_overwrite, direct/memory.hash, direct_memory_hash());
BENCHMARK_CAPTURE(put_overwrite, any/memory.hash, any_memory_hash());
BENCHMARK_CAPTURE(get_hit, direct/memory.sorted, direct_memory_sorted());
BENCHMARK_CAPTURE(get_hit, any/memory.sorted, any_memory_sorted());
BENCHMARK_CAPTURE(scan_1000, direct/memory.sorted, direct_memory_sorted());
BENCHMARK_CAPTURE(scan_1000, any/memory.sorted, any_memory_sorted());
BENCHMARK_CAPTURE(get_hit, direct/file_log.hash.buffered, direct_log_hash());
BENCHMARK_CAPTURE(get_hit, any/file_log.hash.buffered, any_log_hash());

BENCHMARK_MAIN();
