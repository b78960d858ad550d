// Space and write amplification of an overwrite workload, kvforge beside LevelDB and
// RocksDB (each where installed), all with their default options: a store is filled with
// KVFORGE_BENCH_KEYS records (16-byte keys, 100-byte values of random bytes, which
// LevelDB's and RocksDB's default Snappy compression cannot shrink), then every key is
// overwritten KVFORGE_BENCH_ROUNDS times, each round in a new shuffled order. Counters:
//
//   disk_per_live   bytes of the store's files after the workload (the store closed, its
//                   own automatic compaction done as it chose) / live bytes (keys and values)
//   write_amp       bytes the process handed write(2)/pwrite(2) during the workload
//                   (/proc/self/io wchar: every thread, WAL, flushes and compactions
//                   alike) / user bytes (keys and values put)
//   own_write_amp   the same by the store's own counter, where it has one: kvforge's
//                   stats().bytes_written; RocksDB's statistics (WAL, flush and compaction
//                   bytes written); LevelDB has none (0)
//   longest_put_ms  the longest single put of the workload
//   p999_put_us     its 99.9th percentile, in microseconds
//
// kvforge_file_log_disk_index_st and _mt are the store over sorted tables (disk_index).
// kvforge_file_log_hash_mt_unbounded_wait is the thread_safe store with
// options::compaction_stall_micros at its maximum: a write over the stall ceiling waits
// for the compaction thread as long as it makes progress, rather than 2 ms at most.
//
//   KVFORGE_BENCH_KEYS    records (default 1,000,000; CTest's smoke run: 2000)
//   KVFORGE_BENCH_ROUNDS  overwrites of each key (default 3)
//   KVFORGE_BENCH_DIR     where the stores live (default /var/tmp)

#include <benchmark/benchmark.h>

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#ifdef KVFORGE_BENCH_HAVE_LEVELDB
#include <leveldb/db.h>
#endif
#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#endif

#include "measure.hpp"

// measure.hpp's allocation counter, unused here: this benchmark counts bytes, not allocations.
std::uint64_t kvbench::allocation_count() noexcept { return 0; }

namespace {

std::size_t setting(const char* name, std::size_t otherwise) {
    const char* configured = std::getenv(name);
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : otherwise;
}

std::size_t key_count() { return setting("KVFORGE_BENCH_KEYS", 1000000); }
std::size_t rounds() { return setting("KVFORGE_BENCH_ROUNDS", 3); }

constexpr std::size_t key_size = 16;
constexpr std::size_t value_size = 100;

std::string key_of(std::size_t i) {
    char key[key_size + 1];
    std::snprintf(key, sizeof key, "k%015llu", static_cast<unsigned long long>(i));
    return key;
}

/// Bytes this process has handed write-like system calls so far, every thread included.
std::uint64_t bytes_handed_to_write() {
    std::ifstream io("/proc/self/io");
    std::string label;
    std::uint64_t value = 0;
    while (io >> label >> value) {
        if (label == "wchar:") return value;
    }
    throw std::runtime_error("/proc/self/io has no wchar line");
}

/// Bytes of the regular files under dir (their sizes, as a user lists them).
std::uint64_t file_bytes(const std::filesystem::path& dir) {
    std::uint64_t total = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        if (entry.is_regular_file()) total += entry.file_size();
    }
    return total;
}

/// The order of each pass: the fill in key order, then every overwrite round shuffled anew.
std::vector<std::size_t> pass_order(std::size_t pass, std::mt19937_64& rng) {
    std::vector<std::size_t> order(key_count());
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (pass > 0) std::shuffle(order.begin(), order.end(), rng);
    return order;
}

/// Random bytes that values are cut from, each put at another offset.
class value_source {
public:
    value_source() : bytes_(std::size_t{1} << 20, '\0') {
        std::mt19937_64 rng(7);
        for (char& c : bytes_) c = static_cast<char>(rng());
    }
    [[nodiscard]] std::string_view value(std::size_t key, std::size_t pass) const noexcept {
        const std::size_t offset = (key * 7919 + pass * 104729) % (bytes_.size() - value_size);
        return std::string_view(bytes_).substr(offset, value_size);
    }

private:
    std::string bytes_;
};

/// Runs the workload through put(key, value), then close(), which closes the store and
/// returns its own count of bytes written (0 for none), and reports the counters.
template <class Put, class Close>
void run_workload(benchmark::State& state, const std::filesystem::path& dir, Put&& put, Close&& close) {
    std::mt19937_64 rng(42);
    const value_source values;
    std::string value;
    std::vector<double> micros;
    micros.reserve(key_count() * (rounds() + 1));
    const std::uint64_t written_before = bytes_handed_to_write();
    for (std::size_t pass = 0; pass <= rounds(); ++pass) {
        for (const std::size_t i : pass_order(pass, rng)) {
            value = values.value(i, pass);
            const std::string key = key_of(i);
            const auto start = std::chrono::steady_clock::now();
            put(key, value);
            micros.push_back(
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        }
    }
    const double own = static_cast<double>(close());
    const double written = static_cast<double>(bytes_handed_to_write() - written_before);
    const double live = static_cast<double>(key_count() * (key_size + value_size));
    const double user = live * static_cast<double>(rounds() + 1);
    state.counters["disk_per_live"] = static_cast<double>(file_bytes(dir)) / live;
    state.counters["write_amp"] = written / user;
    state.counters["own_write_amp"] = own / user;
    const auto p999 = micros.begin() + static_cast<std::ptrdiff_t>(0.999 * static_cast<double>(micros.size() - 1));
    std::nth_element(micros.begin(), p999, micros.end());
    state.counters["p999_put_us"] = *p999;
    state.counters["longest_put_ms"] = *std::max_element(p999, micros.end()) / 1000;
}

template <class Threading, bool UnboundedWait = false, class Index = kvforge::hash_index>
void kvforge_file_log(benchmark::State& state) {
    using store_t = kvforge::store<std::string, std::string, kvforge::file_log, Index, kvforge::buffered<>, Threading>;
    kvforge::options opts;
    if (UnboundedWait) opts.compaction_stall_micros = std::numeric_limits<std::uint64_t>::max();
    for (auto _ : state) {
        const kvbench::scratch_dir dir;
        store_t db((dir.path() / "store").string(), opts);
        run_workload(
            state, dir.path(), [&](const std::string& k, const std::string& v) { db.put(k, v); },
            [&] {
                db.sync();
                const std::uint64_t written = db.stats().bytes_written;
                db.close();
                return written;
            });
    }
}
BENCHMARK(kvforge_file_log<kvforge::single_thread>)
    ->Name("kvforge_file_log_hash_st")
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(kvforge_file_log<kvforge::thread_safe>)
    ->Name("kvforge_file_log_hash_mt")
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(kvforge_file_log<kvforge::thread_safe, true>)
    ->Name("kvforge_file_log_hash_mt_unbounded_wait")
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
// The store over sorted tables, leveled as LevelDB and RocksDB are.
BENCHMARK(kvforge_file_log<kvforge::single_thread, false, kvforge::disk_index>)
    ->Name("kvforge_file_log_disk_index_st")
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK(kvforge_file_log<kvforge::thread_safe, false, kvforge::disk_index>)
    ->Name("kvforge_file_log_disk_index_mt")
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

#ifdef KVFORGE_BENCH_HAVE_LEVELDB
void leveldb_defaults(benchmark::State& state) {
    for (auto _ : state) {
        const kvbench::scratch_dir dir;
        leveldb::Options options;
        options.create_if_missing = true;
        leveldb::DB* opened = nullptr;
        if (!leveldb::DB::Open(options, (dir.path() / "store").string(), &opened).ok()) {
            state.SkipWithError("LevelDB failed to open");
            return;
        }
        std::unique_ptr<leveldb::DB> db(opened);
        const leveldb::WriteOptions write;
        run_workload(
            state, dir.path(), [&](const std::string& k, const std::string& v) { db->Put(write, k, v); },
            [&] {
                db.reset();
                return std::uint64_t{0};
            });
    }
}
BENCHMARK(leveldb_defaults)->Name("leveldb")->Iterations(1)->Unit(benchmark::kSecond);
#endif

#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
void rocksdb_defaults(benchmark::State& state) {
    for (auto _ : state) {
        const kvbench::scratch_dir dir;
        rocksdb::Options options;
        options.create_if_missing = true;
        options.statistics = rocksdb::CreateDBStatistics();
        rocksdb::DB* opened = nullptr;
        if (!rocksdb::DB::Open(options, (dir.path() / "store").string(), &opened).ok()) {
            state.SkipWithError("RocksDB failed to open");
            return;
        }
        std::unique_ptr<rocksdb::DB> db(opened);
        const rocksdb::WriteOptions write;
        run_workload(
            state, dir.path(), [&](const std::string& k, const std::string& v) { db->Put(write, k, v); },
            [&] {
                db.reset();  // the statistics outlive the store, and count what closing wrote
                const rocksdb::Statistics& s = *options.statistics;
                return s.getTickerCount(rocksdb::WAL_FILE_BYTES) + s.getTickerCount(rocksdb::FLUSH_WRITE_BYTES) +
                       s.getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
            });
    }
}
BENCHMARK(rocksdb_defaults)->Name("rocksdb")->Iterations(1)->Unit(benchmark::kSecond);
#endif

}  // namespace

BENCHMARK_MAIN();
