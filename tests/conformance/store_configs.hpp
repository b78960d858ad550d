#pragma once
// The store configurations every conformance test runs on. A new policy joins the
// whole suite by adding its configurations to all_configs.

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>

#include "../support/run_length_codec.hpp"
#include "../support/sync_every.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_clock.hpp"

namespace kvforge_test {

using namespace kvforge;

template <class Store, class Index, class Threading>
using file_configs = std::tuple<store<std::string, std::string, Store, Index, sync_each, Threading>,
                                store<std::string, std::string, Store, Index, buffered<>, Threading>,
                                store<std::string, std::string, Store, Index, async_worker<>, Threading>>;

/// A durability policy written outside the library from its concepts alone
/// (tests/support/sync_every.hpp): the whole suite runs on it as on the library's own.
using user_durability_configs =
    std::tuple<store<std::string, std::string, file_log, sorted_index, sync_every<3>, thread_safe>,
               store<std::string, std::string, mmap_file, hash_index, sync_every<3>, single_thread>>;

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
using expiring_configs = std::tuple<expiring_store<hash_index, single_thread>,  //
                                    expiring_store<sorted_index, thread_safe>,  //
                                    expiring_store<hash_index, thread_safe>,    //
                                    expiring_store<sorted_index, single_thread>>;
/// File stores whose keys may expire: each deadline is kept on disk in its value's
/// header. Two join the whole suite (CI's time budget allows no more); expiry tests run
/// on expiring_persistent_configs, which adds async_worker, the read cache and compression.
template <class Store, class Index, class Durability, class Threading, class... More>
using expiring_file_store =
    store<std::string, std::string, Store, Index, Durability, Threading, expiring<test_clock>, More...>;
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

#if KVFORGE_TEST_EACH_CONFIGS
/// Each policy choice once: every store, index, durability and threading policy, the
/// bounded cache, the read cache and expiry appear in one of these 5 stores. The sanitizer
/// stages of tools/test.sh and the meson build use it (KVFORGE_CONFORMANCE=each); the pairs
/// of policy choices are covered by the g++ stage.
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
/// memory stores). The g++ stage of tools/test.sh uses it (KVFORGE_CONFORMANCE=pairwise);
/// a build without KVFORGE_CONFORMANCE runs the whole product.
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

/// Owns a store under test (in a fresh directory when it is persistent) and can
/// close and reopen it.
template <class Store>
class test_store {
public:
    /// Whether the store keeps its contents across reopen.
    static constexpr bool persistent = Store::persistent;

    explicit test_store(options opts = small_compaction()) : options_(opts) { open(); }

    Store& operator*() const noexcept { return *store_; }
    Store* operator->() const noexcept { return store_.get(); }

    /// Closes the store and opens it again from its files (persistent stores only).
    void reopen() {
        store_->close();
        store_.reset();
        open();
    }

    /// The store's directory.
    [[nodiscard]] std::string path() const { return directory_ / "store"; }

    /// Compaction thresholds low enough that the suite's workloads trigger it, and a
    /// memory budget (for bounded stores) they never fill.
    static options small_compaction() {
        options opts;
        opts.compact_min_bytes = 64 << 10;
        if constexpr (Store::cached && !persistent) opts.memory_budget = std::uint64_t{256} << 20;
        return opts;
    }

private:
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
