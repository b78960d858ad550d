// Running out of memory in the middle of a write: the k-th allocation made by a short
// workload (a new key that makes a hash table grow, a value that needs a new arena
// chunk, an erase, a batch) fails with std::bad_alloc, for k = 1, 2, ... until the
// workload runs without reaching it. The write that met the failure reports it (not_enough_memory) and the
// store stays whole: every key reads back, size() and stats().live_bytes agree with what
// is there, later writes work, and a persistent store that still takes writes holds the
// same after reopening. Likewise for taking a snapshot, which copies the index: it
// either holds every key or reports not_enough_memory, and the store is unchanged.
//
// The failure comes from replacements of the global operator new (plain and
// over-aligned) in this file, which do nothing until a test arms them. The sanitizers'
// runtimes define operator new themselves (AddressSanitizer then reports the allocations
// it made and this file's operator delete freed as mismatched), so under them the
// workload runs without failures; the g++ and meson builds run it with them.

#include <catch2/catch.hpp>

#include <kvforge/kvforge.hpp>

#include <cstddef>
#include <cstdlib>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "../support/temp_dir.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define KVFORGE_TEST_NO_ALLOCATION_FAILURES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define KVFORGE_TEST_NO_ALLOCATION_FAILURES 1
#endif
#endif

namespace {

/// Allocations on this thread before the one that fails; negative: none fails.
thread_local long long allocations_before_failure = -1;
/// Whether the armed failure struck.
thread_local bool allocation_failed = false;

/// Makes the allocation after `allowed` more ones on this thread fail, once.
void fail_allocation_after(long long allowed) noexcept {
    allocations_before_failure = allowed;
    allocation_failed = false;
}

/// Disarms the failure; returns whether it struck.
bool disarm_allocation_failure() noexcept {
    allocations_before_failure = -1;
    return std::exchange(allocation_failed, false);
}

}  // namespace

#ifndef KVFORGE_TEST_NO_ALLOCATION_FAILURES
[[gnu::noinline]] void* operator new(std::size_t size) {
    if (allocations_before_failure == 0) {
        allocations_before_failure = -1;
        allocation_failed = true;
        throw std::bad_alloc();
    }
    if (allocations_before_failure > 0) --allocations_before_failure;
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
// Not inlined: g++ would see free() meet memory from operator new and warn.
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// The over-aligned forms (hash groups and tree nodes are cache-line aligned) fail alike.
[[gnu::noinline]] void* operator new(std::size_t size, std::align_val_t alignment) {
    if (allocations_before_failure == 0) {
        allocations_before_failure = -1;
        allocation_failed = true;
        throw std::bad_alloc();
    }
    if (allocations_before_failure > 0) --allocations_before_failure;
    const auto align = static_cast<std::size_t>(alignment);
    // aligned_alloc wants a size that is a multiple of the alignment.
    if (void* p = std::aligned_alloc(align, (size + align - 1) / align * align)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif

namespace {

using allocation_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::memory, kvforge::hash_index, kvforge::single_thread>,
               kvforge::store<std::string, std::string, kvforge::memory, kvforge::sorted_index, kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index, kvforge::sync_each,
                              kvforge::single_thread>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sorted_index, kvforge::buffered<>,
                              kvforge::thread_safe>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::hash_index,
                              kvforge::async_worker<>, kvforge::thread_safe>>;

using contents = std::map<std::string, std::string>;

/// What the store holds, read key by key (the keys the workload may have written).
template <class Store>
contents read_back(const Store& db) {
    contents seen;
    for (int i = 0; i < 16; ++i) {
        const std::string key = "key" + std::to_string(i);
        std::error_code ec;
        const std::optional<std::string> value = db.get(key, ec);
        REQUIRE_FALSE(ec);
        if (value) seen[key] = *value;
    }
    return seen;
}

/// Checks what a store says about itself against what it holds.
template <class Store>
void check_whole(const Store& db, const contents& seen) {
    CHECK(db.size() == seen.size());
    std::uint64_t live = 0;
    for (const auto& [key, value] : seen) live += key.size() + value.size();
    CHECK(db.stats().live_bytes == live);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("an allocation failing in the middle of a write leaves the store whole",
                        "[allocation_failure]", allocation_configs) {
    kvforge_test::temp_dir dir;
    int struck = 0;
    for (long long k = 0;; ++k) {
        INFO("allocation " << k << " fails");
        const std::string path = dir / ("db" + std::to_string(k));
        TestType db;
        if constexpr (TestType::persistent) db.open(path);
        // 12 keys fill a 16-slot table to its load limit: the next new key makes it grow.
        for (int i = 0; i < 12; ++i) db.put("key" + std::to_string(i), "v");
        typename TestType::batch_type batch;
        batch.put("key13", "batched");
        batch.erase("key6");
        // Larger than what the index has left in its arena chunk: replacing with it allocates.
        const std::string large(5000, 'l');

        std::vector<std::error_code> results(5);
        fail_allocation_after(k);
        db.put("key12", "new", results[0]);
        db.put("key3", large, results[1]);
        db.put("key4", "w", results[2]);
        db.erase("key5", results[3]);
        db.write(batch, results[4]);
        const bool failed = disarm_allocation_failure();

        for (const std::error_code& ec : results) {
            CHECK((!ec || ec == std::errc::not_enough_memory || ec == kvforge::errc::store_failed));
        }
        const contents seen = read_back(db);
        check_whole(db, seen);
        if constexpr (TestType::persistent) {
            std::error_code ec;
            db.put("key15", "later", ec);
            if (!ec) {
                contents expected = read_back(db);
                db.close();
                db.open(path);
                CHECK(read_back(db) == expected);
                check_whole(db, expected);
            } else {
                // Out of memory after the record reached the log: the store refuses writes
                // until it is reopened, which rebuilds the index from the log.
                CHECK(ec == kvforge::errc::store_failed);
            }
        } else {
            db.put("key15", "later");
            CHECK(db.get("key15") == std::optional<std::string>("later"));
        }
        if (!failed) break;
        ++struck;
    }
#ifndef KVFORGE_TEST_NO_ALLOCATION_FAILURES
    CHECK(struck > 0);
#endif
}

TEMPLATE_LIST_TEST_CASE("an allocation failing while a snapshot copies the index leaves the store whole",
                        "[allocation_failure][snapshot]", allocation_configs) {
    kvforge_test::temp_dir dir;
    // Enough keys for a tree of several leaves under an inner node, and an arena of several chunks.
    constexpr int key_count = 300;
    const auto key_of = [](int i) { return "key" + std::to_string(i); };
    int struck = 0;
    for (long long k = 0;; ++k) {
        INFO("allocation " << k << " fails");
        TestType db;
        if constexpr (TestType::persistent) db.open(dir / ("db" + std::to_string(k)));
        for (int i = 0; i < key_count; ++i) db.put(key_of(i), "value" + std::to_string(i));

        std::error_code ec;
        fail_allocation_after(k);
        std::optional<typename TestType::snapshot_type> snap = db.snapshot(ec);
        const bool failed = disarm_allocation_failure();

        if (ec) {
            CHECK(ec == std::errc::not_enough_memory);
            CHECK_FALSE(snap.has_value());
        } else {
            REQUIRE(snap.has_value());
            CHECK(snap->size() == static_cast<std::size_t>(key_count));
            for (int i = 0; i < key_count; ++i) CHECK(snap->get(key_of(i)) == "value" + std::to_string(i));
        }
        snap.reset();
        CHECK(db.size() == static_cast<std::size_t>(key_count));
        for (int i = 0; i < key_count; ++i) CHECK(db.get(key_of(i)) == "value" + std::to_string(i));
        db.put("later", "written");
        CHECK(db.get("later") == std::optional<std::string>("written"));
        CHECK(db.snapshot().get("later") == std::optional<std::string>("written"));
        if (!failed) break;
        ++struck;
    }
#ifndef KVFORGE_TEST_NO_ALLOCATION_FAILURES
    CHECK(struck > 0);
#endif
}
