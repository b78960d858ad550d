#pragma once
// The store configurations every conformance test runs on. A new policy joins the
// whole suite by adding its configurations to all_configs. What a store cannot do is
// skipped by what its policies state (has_files, takes_any_batch, ...), never by name:
// the redis build (KVFORGE_TEST_REDIS_CONFIGS, tools/test.sh redis) runs the suite's
// files that apply to a store without files on kvforge::redis_cluster over a live cluster.

#include <kvforge/kvforge.hpp>
#if KVFORGE_TEST_DISK_INDEX_CONFIGS
#include <kvforge/index/disk_index.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>

#include "../support/run_length_codec.hpp"
#include "../support/sync_every.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

#if KVFORGE_TEST_REDIS_CONFIGS
#include <kvforge/stores/redis_cluster.hpp>

#include "../redis/cluster.hpp"
#endif

namespace kvforge_test {

using namespace kvforge;

template <class Store, class Index, class Threading>
using file_configs = std::tuple<store<std::string, std::string, Store, Index, sync_each, Threading>,
                                store<std::string, std::string, Store, Index, buffered<>, Threading>,
                                store<std::string, std::string, Store, Index, async_worker<>, Threading>>;

/// A durability policy written outside the library from its concepts alone
/// (tests/support/sync_every.hpp): the whole suite runs on it as on the library's own.
#if KVFORGE_TEST_DISK_INDEX_CONFIGS
using user_durability_configs = std::tuple<store<std::string, std::string, file_log, disk_index, sync_every<3>>>;
#else
using user_durability_configs =
    std::tuple<store<std::string, std::string, file_log, sorted_index, sync_every<3>, thread_safe>,
               store<std::string, std::string, mmap_file, hash_index, sync_every<3>, single_thread>>;
#endif

template <class... Tuples>
using concat = decltype(std::tuple_cat(std::declval<Tuples>()...));

using memory_configs = std::tuple<                                         //
    store<std::string, std::string, memory, hash_index, single_thread>,    //
    store<std::string, std::string, memory, hash_index, thread_safe>,      //
    store<std::string, std::string, memory, sorted_index, single_thread>,  //
    store<std::string, std::string, memory, sorted_index, thread_safe>>;

/// Memory stores made caches by bounded<>; test_store gives them a budget the suite's
/// workloads never fill, so they behave as plain stores (cache_test.cpp fills them).
template <class Index, class Threading, class Eviction = s3fifo>
using bounded_store = store<std::string, std::string, memory, Index, Threading, bounded<Eviction>>;
using bounded_configs = std::tuple<bounded_store<hash_index, single_thread>,    //
                                   bounded_store<hash_index, thread_safe>,      //
                                   bounded_store<sorted_index, single_thread>,  //
                                   bounded_store<sorted_index, thread_safe>,    //
                                   bounded_store<hash_index, thread_safe, lru>>;

/// file_log stores with a read cache, over each index, threading and durability policy.
template <class Index, class Durability, class Threading, class Eviction = s3fifo>
using read_cache_store = store<std::string, std::string, file_log, Index, Durability, Threading, read_cache<Eviction>>;
using read_cache_configs = std::tuple<read_cache_store<hash_index, buffered<>, single_thread>,         //
                                      read_cache_store<sorted_index, sync_each, thread_safe>,          //
                                      read_cache_store<hash_index, async_worker<>, thread_safe, lru>,  //
                                      read_cache_store<sorted_index, buffered<>, single_thread, lru>>;

/// Memory stores whose keys may expire, by a clock the tests move (test_clock); with no
/// deadlines given they must behave as plain stores, so they run the whole suite too.
template <class Index, class Threading, class... More>
using expiring_store = store<std::string, std::string, memory, Index, Threading, expiring<test_clock>, More...>;
#if !KVFORGE_TEST_DISK_INDEX_CONFIGS
using expiring_configs = std::tuple<expiring_store<hash_index, single_thread>,  //
                                    expiring_store<sorted_index, thread_safe>,  //
                                    expiring_store<hash_index, thread_safe>,    //
                                    expiring_store<sorted_index, single_thread>>;
#endif
/// File stores whose keys may expire: each deadline is kept on disk in its value's
/// header. Two join the whole suite (CI's time budget allows no more); expiry tests run
/// on expiring_persistent_configs, which adds async_worker, the read cache and compression.
template <class Store, class Index, class Durability, class Threading, class... More>
using expiring_file_store =
    store<std::string, std::string, Store, Index, Durability, Threading, expiring<test_clock>, More...>;
#if KVFORGE_TEST_DISK_INDEX_CONFIGS
/// The disk_index build runs the expiry tests on stores over tables alone, the others on
/// the rest. One compresses its tables' blocks, which then hold the deadline headers; the
/// sanitizer stages (KVFORGE_TEST_EACH_CONFIGS) run the other only.
using expiring_configs = std::tuple<>;
using expiring_file_configs = std::tuple<expiring_file_store<file_log, disk_index, buffered<>, thread_safe>>;
#if KVFORGE_TEST_EACH_CONFIGS
using expiring_persistent_configs = expiring_file_configs;
#else
using expiring_persistent_configs =
    concat<expiring_file_configs,
           std::tuple<expiring_file_store<file_log, disk_index, sync_each, single_thread, compressed<run_length<>>>>>;
#endif
using expiring_ordered_configs = expiring_persistent_configs;
#else
using expiring_file_configs = std::tuple<expiring_file_store<file_log, sorted_index, buffered<>, thread_safe>,  //
                                         expiring_file_store<mmap_file, hash_index, sync_each, single_thread>>;
using expiring_persistent_configs =
    concat<expiring_file_configs,                                                                 //
           std::tuple<expiring_file_store<file_log, hash_index, async_worker<>, single_thread>,   //
                      expiring_file_store<mmap_file, sorted_index, buffered<>, thread_safe>,      //
                      expiring_file_store<file_log, sorted_index, sync_each, thread_safe, read_cache<>>,
                      // With compression too: the flag byte behind the deadline header.
                      expiring_file_store<file_log, sorted_index, buffered<>, single_thread,
                                          compressed<run_length<>>>>>;
/// The expiring configurations with an ordered index, for scans.
using expiring_ordered_configs = std::tuple<expiring_store<sorted_index, thread_safe>,  //
                                            expiring_store<sorted_index, single_thread>,
                                            expiring_file_store<file_log, sorted_index, buffered<>, thread_safe>>;
#endif

#if KVFORGE_TEST_REDIS_CONFIGS
/// kvforge::redis_cluster on the cluster KVFORGE_REDIS_SEEDS names: each durability policy
/// once, both threading policies, and expiry by the system clock (the only one it takes).
/// The tests that need files, batches across hash slots or test_clock skip these.
using all_configs = std::tuple<
    store<std::string, std::string, redis_cluster, sync_each, single_thread>,
    store<std::string, std::string, redis_cluster, buffered<>, thread_safe>,
    store<std::string, std::string, redis_cluster, async_worker<>, thread_safe>,
    store<std::string, std::string, redis_cluster, buffered<>, single_thread, expiring<std::chrono::system_clock>>>;
#elif KVFORGE_TEST_DISK_INDEX_CONFIGS
/// kvforge::disk_index (outside the umbrella header) over each durability policy and both
/// threading policies; with KVFORGE_TEST_EACH_CONFIGS (the sanitizer stages), the one that
/// starts the most threads. kvforge_table_conformance_tests (cmake/tests.cmake) runs the
/// suite's files whose promises it keeps, and says which it does not keep yet.
#if KVFORGE_TEST_EACH_CONFIGS
using all_configs = std::tuple<store<std::string, std::string, file_log, disk_index, async_worker<>, thread_safe>>;
#else
using all_configs = std::tuple<store<std::string, std::string, file_log, disk_index, buffered<>, single_thread>,
                               store<std::string, std::string, file_log, disk_index, sync_each, thread_safe>,
                               store<std::string, std::string, file_log, disk_index, async_worker<>, thread_safe>>;
#endif
#elif KVFORGE_TEST_EACH_CONFIGS
/// Each policy choice once: every store, index, durability and threading policy, the
/// bounded cache, the read cache and expiry appear in one of these 5 stores. The sanitizer
/// stages of tools/test.sh and the meson build use it (KVFORGE_CONFORMANCE=each); the pairs
/// of policy choices, by the covering set below.
using all_configs = std::tuple<                                                          //
    expiring_store<hash_index, single_thread>,                                           //
    bounded_store<sorted_index, thread_safe>,                                            //
    read_cache_store<hash_index, async_worker<>, thread_safe, lru>,                      //
    store<std::string, std::string, file_log, sorted_index, buffered<>, single_thread>,  //
    store<std::string, std::string, mmap_file, hash_index, sync_each, thread_safe>>;
#elif KVFORGE_TEST_PAIRWISE_CONFIGS
/// The covering set: every pair of policy choices (store and index, store and durability,
/// durability and threading, ...) appears in some configuration, in 17 stores instead of
/// the product's 45; its expiring store is a file_log one (expiry_test runs the expiring
/// memory stores). The g++ stage of tools/test.sh checks it (KVFORGE_CONFORMANCE=pairwise),
/// and runs it with KVFORGE_GCC_TESTS=run; a build without KVFORGE_CONFORMANCE runs the
/// whole product.
using all_configs = std::tuple<                                                               //
    store<std::string, std::string, memory, hash_index, single_thread>,                       //
    store<std::string, std::string, memory, hash_index, thread_safe>,                         //
    store<std::string, std::string, memory, sorted_index, single_thread>,                     //
    store<std::string, std::string, memory, sorted_index, thread_safe>,                       //
    bounded_store<sorted_index, single_thread>,                                               //
    bounded_store<hash_index, thread_safe, lru>,                                              //
    expiring_file_store<file_log, sorted_index, buffered<>, thread_safe>,                     //
    read_cache_store<hash_index, buffered<>, single_thread>,                                  //
    read_cache_store<sorted_index, sync_each, thread_safe>,                                   //
    read_cache_store<hash_index, async_worker<>, thread_safe, lru>,                           //
    store<std::string, std::string, file_log, hash_index, sync_each, single_thread>,          //
    store<std::string, std::string, mmap_file, sorted_index, sync_each, thread_safe>,         //
    store<std::string, std::string, file_log, sorted_index, buffered<>, thread_safe>,         //
    store<std::string, std::string, mmap_file, hash_index, buffered<>, single_thread>,        //
    store<std::string, std::string, file_log, hash_index, async_worker<>, thread_safe>,       //
    store<std::string, std::string, mmap_file, sorted_index, async_worker<>, single_thread>,  //
    std::tuple_element_t<0, user_durability_configs>>;
#else
using all_configs =
    concat<memory_configs, bounded_configs, expiring_configs, expiring_file_configs, read_cache_configs,  //
           user_durability_configs,                                                                      //
           file_configs<file_log, hash_index, single_thread>,                                               //
           file_configs<file_log, hash_index, thread_safe>,                                                 //
           file_configs<file_log, sorted_index, single_thread>,                                             //
           file_configs<file_log, sorted_index, thread_safe>,                                               //
           file_configs<mmap_file, hash_index, single_thread>,                                              //
           file_configs<mmap_file, hash_index, thread_safe>,                                                //
           file_configs<mmap_file, sorted_index, single_thread>,                                            //
           file_configs<mmap_file, sorted_index, thread_safe>>;
#endif

/// Whether the store's records are files in its directory: what tests of its files, their
/// bytes, recovery from damage and compaction need.
template <class Store>
inline constexpr bool has_files = Store::store_policy::keeps_files;

/// Whether the store keeps its records in sorted tables (disk_index), listed in TABLES.
template <class Store>
inline constexpr bool keeps_tables = requires { Store::index_policy::store_format; };

/// Whether the store keeps its index in this process (stats().memory_bytes counts it).
template <class Store>
inline constexpr bool has_index_in_process = Store::store_policy::index_in_process;

/// Whether a batch may hold any keys; redis_cluster's hold keys of one hash slot only.
template <class Store>
inline constexpr bool takes_any_batch = Store::batches_of_any_keys();

/// Whether the store's deadlines follow test_clock, which the tests move.
template <class Store>
inline constexpr bool expires_by_test_clock = Store::expiring && std::is_same_v<typename Store::clock, test_clock>;

/// Owns a store under test (in a fresh directory when it keeps files, at a fresh location
/// on the test cluster when it is persistent without files) and can close and reopen it.
template <class Store>
class test_store {
public:
    /// Whether the store keeps its contents across reopen.
    static constexpr bool persistent = Store::persistent;
    /// Persistent without files: the store lives on a server (redis_cluster).
    static constexpr bool remote = persistent && !has_files<Store>;

    explicit test_store(options opts = small_compaction()) : options_(opts) {
        if constexpr (remote) location_ = fresh_remote_location();
        open();
    }
    test_store(const test_store&) = delete;
    test_store& operator=(const test_store&) = delete;
    /// A store on a server is cleared, so that the tests leave no keys behind.
    ~test_store() {
        if constexpr (remote) {
            std::error_code ignored;
            if (store_ && store_->is_open()) store_->clear(ignored);
        }
    }

    Store& operator*() const noexcept { return *store_; }
    Store* operator->() const noexcept { return store_.get(); }

    /// Closes the store and opens it again from its files (persistent stores only).
    void reopen() {
        store_->close();
        store_.reset();
        open();
    }

    /// The store's directory, or its location on the server.
    [[nodiscard]] std::string path() const {
        if constexpr (remote) {
            return location_;
        } else {
            return directory_ / "store";
        }
    }

    /// Compaction thresholds low enough that the suite's workloads trigger it, a memory
    /// budget (for bounded stores) they never fill, and for a store on a server a reply
    /// timeout long enough for a replica to take a 64 MiB value on a busy machine (sync_each
    /// waits for a replica half as long).
    static options small_compaction() {
        options opts;
        opts.compact_min_bytes = 64 << 10;
        if constexpr (Store::cached && !persistent) opts.memory_budget = std::uint64_t{256} << 20;
        if constexpr (remote) opts.remote_command_millis = 20000;
        return opts;
    }

private:
    /// A location no other test uses, on the cluster of the redis build.
    static std::string fresh_remote_location() {
#if KVFORGE_TEST_REDIS_CONFIGS
        return fresh_location("conformance");
#else
        static_assert(!remote, "a store without files runs in the build that starts its server");
        return {};
#endif
    }

    void open() {
        if constexpr (persistent) {
            store_ = std::make_unique<Store>(path(), options_);
        } else if constexpr (Store::cached) {
            store_ = std::make_unique<Store>(options_);
        } else {
            store_ = std::make_unique<Store>();
        }
    }

    temp_dir directory_;
    std::string location_;
    options options_;
    std::unique_ptr<Store> store_;
};

template <class Store>
inline constexpr bool is_ordered = Store::index_policy::ordered;

template <class Store>
inline constexpr bool is_concurrent = Store::threading_policy::concurrent;

/// What a store or a snapshot holds, read by for_each.
using contents = std::map<std::string, std::string>;
template <class Readable>
contents read_all(const Readable& db) {
    contents out;
    db.for_each([&](const std::string& key, const std::string& value) { out.emplace(key, value); });
    return out;
}

/// Runs write now: on this thread, or on another one that is joined (thread_safe
/// stores), so that the write happens between two steps of a scan either way.
template <class Store, class Write>
void write_during_scan(Write&& write) {
    if constexpr (is_concurrent<Store>) {
        std::thread writer(write);
        writer.join();
    } else {
        write();
    }
}

}  // namespace kvforge_test
