// kvforge's benchmark suite: every workload of workloads.hpp against every kvforge
// configuration that makes sense and against the peer engines found at build time
// (KVFORGE_BENCH_HAVE_<PEER>), all in one run so that their ratios are comparable.
// Benchmarks are named workload/engine, e.g. random_put/file_log.hash.buffered.single
// or random_put/leveldb; tools/bench_compare.py runs them and writes docs/benchmarks.md.
//
//   KVFORGE_BENCH_KEYS        keys per engine (default 1,000,000; CI smoke test: 1000)
//   KVFORGE_BENCH_KEY_SIZE    bytes per key (default 16)
//   KVFORGE_BENCH_VALUE_SIZE  bytes per value (default 100)
//   KVFORGE_BENCH_SYNC_PUTS   puts of the sync_each workloads and appends of fdatasync_limit (default 1000)
//   KVFORGE_BENCH_READ_MS     least time each read workload is timed for, in passes over the keys (default 500)
//   KVFORGE_BENCH_DIR         where engines write (default /var/tmp; must be a real disk for sync figures)
//   KVFORGE_BENCH_BLOCK_CACHE_BYTES  options::block_cache_bytes of the disk_index stores (default 8 MiB; 0: none)
//   KVFORGE_BENCH_GETS        gets of a fresh_get pass (default: every key), for stores too large to read whole
//   KVFORGE_BENCH_STORE_DIR   the directory the fresh_ workloads' processes share (fresh_workloads.hpp)
//
// The run's sizes, each engine's version and settings go into the JSON context.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine.hpp"
#include "fresh_workloads.hpp"
#include "workloads.hpp"

#ifdef KVFORGE_BENCH_HAVE_LEVELDB
#include "peers/leveldb.hpp"
#endif
#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
#include "peers/rocksdb.hpp"
#endif
#ifdef KVFORGE_BENCH_HAVE_LMDB
#include "peers/lmdb.hpp"
#endif
#ifdef KVFORGE_BENCH_HAVE_SQLITE
#include "peers/sqlite.hpp"
#endif
#ifdef KVFORGE_BENCH_HAVE_TKRZW
#include "peers/tkrzw.hpp"
#endif
#ifdef KVFORGE_BENCH_HAVE_ABSL
#include "peers/absl.hpp"
template <>
inline constexpr bool kvbench::persistent<kvbench::absl_engine> = false;  // a hash map in memory
#endif

// Heap allocations are counted by interposing the C allocator's entry points, which
// operator new and the C peers (LMDB, SQLite) both go through; each forwards to glibc's
// own allocator, so free() needs no replacement. Sanitizers interpose them themselves,
// so under a sanitizer nothing is counted and allocs_per_op reads 0.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KVFORGE_BENCH_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KVFORGE_BENCH_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef KVFORGE_BENCH_COUNT_ALLOCATIONS
#define KVFORGE_BENCH_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<std::uint64_t> allocations{0};
}  // namespace

std::uint64_t kvbench::allocation_count() noexcept { return allocations.load(std::memory_order_relaxed); }

#if KVFORGE_BENCH_COUNT_ALLOCATIONS
extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* p, std::size_t size);
void* __libc_memalign(std::size_t alignment, std::size_t size);

void* malloc(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_realloc(p, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    return __libc_memalign(alignment, size);
}
void* memalign(std::size_t alignment, std::size_t size) { return aligned_alloc(alignment, size); }
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    void* p = aligned_alloc(alignment, size);
    if (p == nullptr) return 12;  // ENOMEM
    *out = p;
    return 0;
}
}
#endif

namespace {

using namespace kvbench;

/// Configurations whose writes go through a queue (async_worker) read exactly as their
/// buffered twins do, so only the write workloads run on them.
template <class Engine>
constexpr bool writes_only = false;
template <class Store>
constexpr bool writes_only<kvforge_engine<Store>> = Store::sequenced;

/// The configurations the fresh-process workloads run on: one thread, buffered; the
/// other policies read and load as these do (their own workloads above show how). A store
/// over sorted tables runs them thread_safe too, since its flushes and merges then leave
/// the writer's thread, as LevelDB's and RocksDB's do.
template <class Engine>
constexpr bool runs_fresh = true;
template <class Store>
constexpr bool runs_fresh<kvforge_engine<Store>> =
    (!Store::threading_policy::concurrent || requires { Store::index_policy::store_format; }) && !Store::sequenced &&
    kvforge_engine<Store>::mode == durability::buffered;

void add(std::string_view workload, std::string_view engine, void (*fn)(benchmark::State&)) {
    const std::string name = std::string(workload) + "/" + std::string(engine);
    benchmark::RegisterBenchmark(name.c_str(), fn)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
}

/// Registers the fresh-process workloads that apply to Engine, in the order their processes run.
template <class Engine>
void register_fresh() {
    constexpr std::string_view name = Engine::name;
    add("fresh_load", name, fresh_load<Engine>);
    add("fresh_get", name, fresh_get<Engine, get_form::plain>);
    add("fresh_get_buffer", name, fresh_get<Engine, get_form::buffer>);
    add("fresh_get_hot", name, fresh_get_hot<Engine>);
    if constexpr (requires(Engine& e) { e.visit(std::string_view(), [](std::string_view) {}); }) {
        add("fresh_get_view", name, fresh_get<Engine, get_form::view>);
    }
    if constexpr (requires(Engine& e, std::span<const std::string_view> k, std::span<std::optional<std::string>> o) {
                      e.get_many(k, o);
                  }) {
        add("fresh_get_many", name, fresh_get_many<Engine>);
    }
    if constexpr (Engine::ordered) add("fresh_scan", name, fresh_scan<Engine, scan_direction::ascending>);
    if constexpr (requires(Engine& e) { e.scan_descending([](std::string_view, std::string_view) {}); }) {
        add("fresh_scan_descending", name, fresh_scan<Engine, scan_direction::descending>);
    }
    if constexpr (persistent<Engine>) add("fresh_overwrite", name, fresh_overwrite<Engine>);
}

/// Registers the workloads that apply to Engine, in an order that lets the read
/// workloads share the engine random_put loaded.
template <class Engine>
void register_engine() {
    constexpr std::string_view name = Engine::name;
    benchmark::AddCustomContext("version." + std::string(name), Engine::version());
    benchmark::AddCustomContext("settings." + std::string(name), std::string(Engine::settings));

    if constexpr (supports<Engine>(durability::buffered)) {
        if constexpr (!writes_only<Engine>) add("seq_put", name, put_all<Engine, false>);
        add("random_put", name, put_all<Engine, true>);
        if constexpr (!writes_only<Engine>) {
            add("random_get", name, get_all<Engine, true>);
            add("seq_get", name, get_all<Engine, false>);
            if constexpr (requires(Engine& e) { e.visit(std::string_view(), [](std::string_view) {}); }) {
                add("view_get", name, view_get<Engine>);
            }
            add("missing_get", name, missing_get<Engine>);
            if constexpr (persistent<Engine>) add("reopen", name, reopen<Engine>);
            add("overwrite", name, overwrite<Engine>);
            if constexpr (Engine::ordered) add("ordered_scan", name, ordered_scan<Engine, scan_direction::ascending>);
            if constexpr (requires(Engine& e) { e.scan_descending([](std::string_view, std::string_view) {}); }) {
                add("ordered_scan_descending", name, ordered_scan<Engine, scan_direction::descending>);
            }
        }
        add("batch_put", name, batch_put<Engine>);
        if constexpr (Engine::concurrent) {
            add("two_thread_put", name, two_thread_put<Engine>);
            if constexpr (!writes_only<Engine>) add("two_thread_get", name, two_thread_get<Engine>);
        }
    }
    if constexpr (runs_fresh<Engine> && supports<Engine>(durability::buffered)) register_fresh<Engine>();
    if constexpr (persistent<Engine> && supports<Engine>(durability::sync_each)) {
        add("sync_put", name, sync_put<Engine, 1>);
        if constexpr (Engine::concurrent) add("two_thread_sync_put", name, sync_put<Engine, 2>);
    }
}

template <class... Engines>
void register_engines() {
    (register_engine<Engines>(), ...);
}

template <class... Policies>
using kv = kvforge_engine<kvforge::store<std::string, std::string, Policies...>>;

/// Every durability and threading policy of one persistent store and index.
template <class Store, class Index>
void register_persistent() {
    using namespace kvforge;
    register_engines<kv<Store, Index, buffered<>, single_thread>, kv<Store, Index, buffered<>, thread_safe>,
                     kv<Store, Index, async_worker<>, single_thread>, kv<Store, Index, async_worker<>, thread_safe>,
                     kv<Store, Index, sync_each, single_thread>, kv<Store, Index, sync_each, thread_safe>>();
}

void register_all() {
    using namespace kvforge;
    add("fdatasync_limit", "append", fdatasync_limit<false>);
    add("fdatasync_limit", "preallocated", fdatasync_limit<true>);

    register_engines<kv<memory, hash_index, single_thread>, kv<memory, hash_index, thread_safe>,
                     kv<memory, sorted_index, single_thread>, kv<memory, sorted_index, thread_safe>>();
    register_persistent<file_log, hash_index>();
    register_persistent<file_log, sorted_index>();
    register_persistent<mmap_file, hash_index>();
    register_persistent<mmap_file, sorted_index>();
    // The store over sorted tables: its loads and reads as users run them, its jobs on a
    // thread of their own, and its durable writes from two threads.
    register_engines<kv<file_log, disk_index, buffered<>, single_thread>,
                     kv<file_log, disk_index, buffered<>, thread_safe>,
                     kv<file_log, disk_index, sync_each, thread_safe>>();

#ifdef KVFORGE_BENCH_HAVE_ABSL
    register_engine<absl_engine>();
#endif
#ifdef KVFORGE_BENCH_HAVE_LEVELDB
    register_engine<leveldb_engine>();
#endif
#ifdef KVFORGE_BENCH_HAVE_ROCKSDB
    register_engine<rocksdb_engine>();
#endif
#ifdef KVFORGE_BENCH_HAVE_LMDB
    register_engine<lmdb_engine>();
#endif
#ifdef KVFORGE_BENCH_HAVE_SQLITE
    register_engine<sqlite_engine>();
#endif
#ifdef KVFORGE_BENCH_HAVE_TKRZW
    register_engine<tkrzw_hash_engine>();
    register_engine<tkrzw_tree_engine>();
#endif

    const sizes& s = data().size();
    benchmark::AddCustomContext("keys", std::to_string(s.keys));
    benchmark::AddCustomContext("key_size", std::to_string(s.key_size));
    benchmark::AddCustomContext("value_size", std::to_string(s.value_size));
    benchmark::AddCustomContext("sync_puts", std::to_string(sync_puts()));
    benchmark::AddCustomContext("read_ms", std::to_string(read_millis()));
    benchmark::AddCustomContext("bench_dir", bench_root().string());
#ifdef __clang__
    benchmark::AddCustomContext("compiler", "clang " __clang_version__);
#else
    benchmark::AddCustomContext("compiler", "g++ " __VERSION__);
#endif
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return kvbench::failed_benchmarks == 0 ? 0 : 1;
}
