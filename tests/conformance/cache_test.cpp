// The cache policies under pressure: bounded memory stores under budgets their workloads
// overflow many times, and read caches smaller than the data behind them. (The rest of
// the conformance suite runs on both with room to spare; see store_configs.hpp.)
//
// KVFORGE_TEST_SEED replays a seed, KVFORGE_TEST_OPS sets the operations per
// configuration of the model tests (default 100,000).

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "../support/env.hpp"
#include "../support/fifo_eviction.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// Bounded stores over every index and threading policy and every eviction policy,
/// including one written by a user from the concept alone.
using bounded_model_configs = std::tuple<bounded_store<hash_index, single_thread>,                //
                                         bounded_store<sorted_index, thread_safe>,                //
                                         bounded_store<hash_index, thread_safe, lru>,             //
                                         bounded_store<sorted_index, single_thread, lru>,         //
                                         bounded_store<hash_index, single_thread, fifo_eviction>,  //
                                         bounded_store<sorted_index, thread_safe, fifo_eviction>>;

using read_cache_model_configs =
    std::tuple<read_cache_store<hash_index, buffered<>, single_thread>,              //
               read_cache_store<sorted_index, sync_each, thread_safe, lru>,           //
               read_cache_store<hash_index, async_worker<>, thread_safe>,             //
               read_cache_store<hash_index, buffered<>, single_thread, fifo_eviction>>;

/// Keys from a space of `keys`, values of 0 to 600 bytes.
class workload {
public:
    workload(std::uint64_t seed, std::uint64_t keys) : rng_(seed), keys_(keys) {}

    std::string key() { return "key/" + std::to_string(pick(keys_)); }
    std::string value() {
        const auto length = pick(4) == 0 ? pick(600) : pick(60);
        return std::string(length, static_cast<char>('a' + pick(26)));
    }
    std::uint64_t pick(std::uint64_t bound) { return std::uniform_int_distribution<std::uint64_t>(0, bound - 1)(rng_); }

private:
    std::mt19937_64 rng_;
    std::uint64_t keys_;
};

/// The last value written to a key, and the evictions counted before it was written: a
/// bounded store may have lost the key only if it has evicted something since.
struct written {
    std::string value;
    std::uint64_t evictions_before = 0;
};

/// Random puts, erases, batches, gets, scans and clears on a bounded store under a
/// budget the workload overflows, checked against a model that tolerates evictions: a
/// hit returns the last value written, a miss is allowed only for a key that may have
/// been evicted since it was written, and the memory held never exceeds the budget.
template <class Store>
void run_bounded_model(std::uint64_t seed, std::uint64_t operations, std::uint64_t budget) {
    // Keys enough that their values would fill about four times the budget.
    workload source(seed, budget / 25);
    Store db{kvforge::options{.memory_budget = budget}};
    std::map<std::string, written> model;
    const auto evictions = [&] { return db.stats().evictions; };
    // Drops model keys the store no longer has, after checking it may have lost them.
    const auto lost = [&](std::map<std::string, written>::iterator it) {
        REQUIRE(evictions() > it->second.evictions_before);
        return model.erase(it);
    };

    for (std::uint64_t step = 0; step < operations; ++step) {
        INFO("seed " << seed << ", operation " << step << " (replay with KVFORGE_TEST_SEED=" << seed << ")");
        const auto dice = source.pick(1000);
        if (dice < 400) {
            const std::string key = source.key();
            const std::string value = source.value();
            const std::uint64_t before = evictions();
            db.put(key, value);
            model[key] = {value, before};
        } else if (dice < 500) {
            const std::string key = source.key();
            const auto it = model.find(key);
            const bool erased = db.erase(key);
            if (it == model.end()) {
                REQUIRE_FALSE(erased);
            } else if (!erased) {
                lost(it);
            } else {
                model.erase(it);
            }
        } else if (dice < 550) {
            typename Store::batch_type batch;
            std::map<std::string, std::optional<std::string>> changes;
            const auto size = 1 + source.pick(20);
            for (std::uint64_t i = 0; i < size; ++i) {
                const std::string key = source.key();
                if (source.pick(3) == 0) {
                    batch.erase(key);
                    changes[key].reset();
                } else {
                    const std::string value = source.value();
                    batch.put(key, value);
                    changes[key] = value;
                }
            }
            const std::uint64_t before = evictions();
            db.write(batch);
            for (auto& [key, value] : changes) {
                if (value) {
                    model[key] = {*value, before};
                } else {
                    model.erase(key);
                }
            }
        } else if (dice < 999) {
            const std::string key = source.key();
            const auto it = model.find(key);
            const std::optional<std::string> actual = db.get(key);
            REQUIRE(db.contains(key) == actual.has_value());
            if (it == model.end()) {
                REQUIRE_FALSE(actual);
            } else if (actual) {
                REQUIRE(*actual == it->second.value);
            } else {
                lost(it);
            }
        } else if (source.pick(20) != 0) {
            std::map<std::string, std::string> seen;
            db.for_each([&](const std::string& k, const std::string& v) { seen.emplace(k, v); });
            REQUIRE(seen.size() == db.size());
            for (const auto& [k, v] : seen) {
                const auto it = model.find(k);
                REQUIRE(it != model.end());
                REQUIRE(v == it->second.value);
            }
            for (auto it = model.begin(); it != model.end();) it = seen.count(it->first) != 0 ? std::next(it) : lost(it);
        } else {
            db.clear();
            model.clear();
        }
        REQUIRE(db.stats().memory_bytes <= budget);
    }
    // Whether the random steps overflowed the budget depends on the seed when the operations
    // are few (KVFORGE_TEST_OPS): new keys of twice the budget's bytes overflow it in every run.
    for (std::uint64_t added = 0, i = 0; added < 2 * budget; ++i) {
        const std::string key = "overflow/" + std::to_string(i);
        db.put(key, std::string(100, 'o'));
        added += key.size() + 100;
        REQUIRE(db.stats().memory_bytes <= budget);
    }
    const kvforge::stats s = db.stats();
    CHECK(s.evictions > 0);
    CHECK(s.hits > 0);
    CHECK(s.misses > 0);
    CHECK(s.hits + s.misses <= s.gets);
}

/// The same workload on a file_log store with a read cache much smaller than its data:
/// every read returns exactly the last value written, whatever the cache holds.
template <class Store>
void run_read_cache_model(std::uint64_t seed, std::uint64_t operations) {
    workload source(seed, 3000);
    kvforge::options opts = test_store<Store>::small_compaction();
    opts.cache_budget = 16 << 10;
    test_store<Store> db(opts);
    std::map<std::string, std::string> model;

    for (std::uint64_t step = 0; step < operations; ++step) {
        INFO("seed " << seed << ", operation " << step << " (replay with KVFORGE_TEST_SEED=" << seed << ")");
        const auto dice = source.pick(1000);
        if (dice < 250) {
            const std::string key = source.key();
            const std::string value = source.value();
            db->put(key, value);
            model[key] = value;
        } else if (dice < 300) {
            const std::string key = source.key();
            REQUIRE(db->erase(key) == (model.erase(key) == 1));
        } else if (dice < 330) {
            typename Store::batch_type batch;
            const auto size = 1 + source.pick(20);
            for (std::uint64_t i = 0; i < size; ++i) {
                const std::string key = source.key();
                if (source.pick(3) == 0) {
                    batch.erase(key);
                    model.erase(key);
                } else {
                    const std::string value = source.value();
                    batch.put(key, value);
                    model[key] = value;
                }
            }
            db->write(batch);
        } else if (dice < 995) {
            // Reads favour a fifth of the keys, so that the cache has something to hold.
            const std::string key = source.pick(4) != 0 ? "key/" + std::to_string(source.pick(600)) : source.key();
            const auto it = model.find(key);
            const std::optional<std::string> actual = db->get(key);
            REQUIRE(actual.has_value() == (it != model.end()));
            if (actual) REQUIRE(*actual == it->second);
        } else if (dice < 998) {
            db->compact();
        } else if (source.pick(20) != 0) {
            continue;
        } else if (dice < 999) {
            db->clear();
            model.clear();
        } else {
            db.reopen();
        }
    }
    // Whether the random steps filled the cache depends on the seed when the operations are
    // few (KVFORGE_TEST_OPS): reading back new keys of twice its budget's bytes fills it in
    // every run.
    std::vector<std::string> overflow;
    for (std::uint64_t added = 0; added < 2 * opts.cache_budget;) {
        overflow.push_back("overflow/" + std::to_string(overflow.size()));
        db->put(overflow.back(), std::string(100, 'o'));
        added += overflow.back().size() + 100;
    }
    for (const std::string& key : overflow) REQUIRE(db->get(key) == std::optional<std::string>(std::string(100, 'o')));
    const kvforge::stats s = db->stats();
    CHECK(s.hits > 0);
    CHECK(s.evictions > 0);
}

/// Puts n keys of the given value size.
template <class Store>
void fill(Store& db, int n, std::size_t value_size, const std::string& prefix = "key/") {
    for (int i = 0; i < n; ++i) db.put(prefix + std::to_string(i), std::string(value_size, 'v'));
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("a bounded store under a small budget agrees with a model that tolerates evictions",
                        "[conformance][cache][model]", bounded_model_configs) {
    const std::uint64_t operations = env_or("KVFORGE_TEST_OPS", 100000);
    const std::uint64_t seed = env_or("KVFORGE_TEST_SEED", 20261122);
    SECTION("64 KiB") { run_bounded_model<TestType>(seed, operations, 64 << 10); }
    SECTION("1 MiB") { run_bounded_model<TestType>(seed + 1, operations / 2, 1 << 20); }
}

TEMPLATE_LIST_TEST_CASE("a read cache smaller than its store never serves a stale value",
                        "[conformance][cache][model]", read_cache_model_configs) {
    const std::uint64_t operations = env_or("KVFORGE_TEST_OPS", 100000) / 4;
    const std::uint64_t seed = env_or("KVFORGE_TEST_SEED", 20261123);
    run_read_cache_model<TestType>(seed, operations);
}

TEMPLATE_LIST_TEST_CASE("a bounded store holds its budget and fills it", "[conformance][cache]",
                        bounded_model_configs) {
    constexpr std::uint64_t budget = 4 << 20;
    TestType db{kvforge::options{.memory_budget = budget}};
    std::uint64_t most = 0;
    for (int i = 0; i < 200000; ++i) {
        db.put("key/" + std::to_string(i), std::string(100, 'v'));
        const kvforge::stats s = db.stats();
        REQUIRE(s.memory_bytes <= budget);
        most = std::max(most, s.memory_bytes);
    }
    const kvforge::stats s = db.stats();
    CHECK(s.evictions == 200000 - s.live_keys);
    CHECK(s.live_keys == db.size());
    // The newest entries are held and the budget is used: nearly all of it at its
    // fullest, and at least half of it by the keys and values themselves.
    CHECK(db.contains("key/199999"));
    CHECK(most > budget * 7 / 8);
    CHECK(s.live_bytes > budget / 2);
}

TEMPLATE_LIST_TEST_CASE("a bounded store refuses a budget it cannot keep", "[conformance][cache][errors]",
                        bounded_model_configs) {
    std::error_code ec;
    TestType none{kvforge::options{}, ec};
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("memory_budget is 0"));
    // A store that failed to take its budget refuses writes, and says why.
    none.put("k", "v", ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK(none.size() == 0);

    try {
        TestType tiny{kvforge::options{.memory_budget = 100}};
        FAIL("no exception");
    } catch (const kvforge::error& e) {
        CHECK(e.code() == kvforge::errc::invalid_argument);
        CHECK_THAT(e.what(), Catch::Contains("memory_budget of 100 bytes") && Catch::Contains("raise it"));
    }
}

TEST_CASE("a memory store without bounded<> refuses a memory budget", "[conformance][cache][errors]") {
    using plain = kvforge::store<std::string, std::string, kvforge::memory>;
    std::error_code ec;
    plain db{kvforge::options{.memory_budget = 1 << 20}, ec};
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("kvforge::bounded<>"));
    CHECK_THROWS_AS(plain(kvforge::options{.memory_budget = 1 << 20}), kvforge::error);
    plain fine{kvforge::options{}};
    fine.put("k", "v");
    CHECK(fine.get("k") == std::optional<std::string>("v"));
}

TEMPLATE_LIST_TEST_CASE("an entry larger than the budget is refused and changes nothing",
                        "[conformance][cache][errors]", bounded_model_configs) {
    constexpr std::uint64_t budget = 256 << 10;
    TestType db{kvforge::options{.memory_budget = budget}};
    fill(db, 100, 100);
    const std::string huge(budget, 'h');

    std::error_code ec;
    db.put("huge", huge, ec);
    CHECK(ec == kvforge::errc::value_too_large);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("memory_budget of 262144 bytes"));
    CHECK_THROWS_AS(db.put("key/0", huge), kvforge::error);

    typename TestType::batch_type batch;
    batch.put("fits", "v");
    batch.erase("key/1");
    batch.put("huge", huge);
    db.write(batch, ec);
    CHECK(ec == kvforge::errc::value_too_large);

    CHECK(db.size() == 100);
    CHECK(db.stats().evictions == 0);
    CHECK(db.get("key/0") == std::optional<std::string>(std::string(100, 'v')));
    CHECK(db.contains("key/1"));
    CHECK_FALSE(db.contains("fits"));
    CHECK_FALSE(db.contains("huge"));
}

TEMPLATE_LIST_TEST_CASE("stats of a bounded store count hits, misses and evictions", "[conformance][cache][stats]",
                        bounded_model_configs) {
    TestType db{kvforge::options{.memory_budget = 1 << 20}};
    db.put("a", "1");
    CHECK(db.get("a") == std::optional<std::string>("1"));
    CHECK_FALSE(db.get("b"));
    std::string out;
    CHECK(db.get("a", out));
    CHECK(db.visit("a", [](std::string_view v) { CHECK(v == "1"); }));
    CHECK(db.contains("a"));  // a lookup, not a read of the value: neither a hit nor a miss
    const kvforge::stats s = db.stats();
    CHECK(s.hits == 3);
    CHECK(s.misses == 1);
    CHECK(s.gets == 5);
    CHECK(s.evictions == 0);
}

TEST_CASE("s3fifo keeps a reused working set through a one-pass scan; lru loses it", "[conformance][cache]") {
    constexpr std::uint64_t budget = 1 << 20;
    constexpr int hot = 500;
    const auto hot_hits_after_scan = [](auto& db) {
        fill(db, hot, 100, "hot/");
        for (int round = 0; round < 3; ++round) {
            for (int i = 0; i < hot; ++i) REQUIRE(db.get("hot/" + std::to_string(i)));
        }
        fill(db, 30000, 100, "scan/");  // each key written once and never read
        REQUIRE(db.stats().evictions > 20000);
        int hits = 0;
        for (int i = 0; i < hot; ++i) hits += db.contains("hot/" + std::to_string(i)) ? 1 : 0;
        return hits;
    };
    bounded_store<hash_index, single_thread, s3fifo> s3{kvforge::options{.memory_budget = budget}};
    bounded_store<hash_index, single_thread, lru> lr{kvforge::options{.memory_budget = budget}};
    CHECK(hot_hits_after_scan(s3) == hot);
    CHECK(hot_hits_after_scan(lr) == 0);
}

TEMPLATE_LIST_TEST_CASE("readers hit while a writer evicts", "[conformance][cache][concurrency]",
                        bounded_model_configs) {
    if constexpr (is_concurrent<TestType>) {
        constexpr std::uint64_t budget = 256 << 10;
        TestType db{kvforge::options{.memory_budget = budget}};
        std::atomic<bool> done{false};
        std::atomic<long> bad{0};
        std::vector<std::thread> readers;
        for (int r = 0; r < 2; ++r) {
            readers.emplace_back([&, r] {
                std::mt19937 rng(r);
                while (!done.load()) {
                    const int k = static_cast<int>(rng() % 4000);
                    const auto value = db.get("key/" + std::to_string(k));
                    // Every value is its key's number repeated: anything else is torn or stale.
                    if (value && *value != std::string(20, static_cast<char>('a' + k % 26))) bad.fetch_add(1);
                }
            });
        }
        std::mt19937 rng(7);
        for (int i = 0; i < 60000; ++i) {
            const int k = static_cast<int>(rng() % 4000);
            db.put("key/" + std::to_string(k), std::string(20, static_cast<char>('a' + k % 26)));
        }
        done = true;
        for (auto& t : readers) t.join();
        const kvforge::stats s = db.stats();
        CHECK(bad.load() == 0);
        CHECK(s.evictions > 0);
        CHECK(s.memory_bytes <= budget);
    }
}

TEMPLATE_LIST_TEST_CASE("a read cache is never stale after put, erase, batch, clear or compaction",
                        "[conformance][cache]", read_cache_model_configs) {
    test_store<TestType> db;
    const auto cached_read = [&](const std::string& key) {
        // Two reads: the first fills the cache, the second must be served by it.
        const auto first = db->get(key);
        const auto hits = db->stats().hits;
        const auto second = db->get(key);
        REQUIRE(first == second);
        if (first) REQUIRE(db->stats().hits == hits + 1);
        return second;
    };
    db->put("k", "one");
    db->put("other", "x");
    CHECK(cached_read("k") == std::optional<std::string>("one"));

    SECTION("put") {
        db->put("k", "two");
        CHECK(db->get("k") == std::optional<std::string>("two"));
    }
    SECTION("erase") {
        CHECK(db->erase("k"));
        CHECK_FALSE(db->get("k"));
    }
    SECTION("batch") {
        typename TestType::batch_type batch;
        batch.put("k", "batched");
        db->write(batch);
        CHECK(db->get("k") == std::optional<std::string>("batched"));
        CHECK(cached_read("k") == std::optional<std::string>("batched"));
        batch.clear();
        batch.erase("k");
        db->write(batch);
        CHECK_FALSE(db->get("k"));
    }
    SECTION("clear") {
        db->clear();
        CHECK_FALSE(db->get("k"));
        CHECK_FALSE(db->get("other"));
        db->put("other", "x");
        db->put("k", "after clear");
        CHECK(db->get("k") == std::optional<std::string>("after clear"));
    }
    SECTION("compaction") {
        for (int i = 0; i < 200; ++i) db->put("filler", std::string(1000, 'f'));
        db->compact();
        CHECK(db->get("k") == std::optional<std::string>("one"));
        db->put("k", "after compaction");
        db->compact();
        CHECK(db->get("k") == std::optional<std::string>("after compaction"));
    }
    SECTION("reopen") {
        db->put("k", "before reopen");
        CHECK(cached_read("k") == std::optional<std::string>("before reopen"));
        db.reopen();
        CHECK(db->get("k") == std::optional<std::string>("before reopen"));
    }
    CHECK(db->get("other") == std::optional<std::string>("x"));
}

TEMPLATE_LIST_TEST_CASE("a read cache holds no more than its budget", "[conformance][cache]",
                        read_cache_model_configs) {
    // The same writes into a store without the cache: the index is the same, so the
    // difference in memory is the cache's.
    using plain = kvforge::store<std::string, std::string, kvforge::file_log, typename TestType::index_policy,
                                 typename TestType::durability_policy, typename TestType::threading_policy>;
    constexpr std::uint64_t cache_budget = 64 << 10;
    kvforge::options opts = test_store<TestType>::small_compaction();
    opts.cache_budget = cache_budget;
    test_store<TestType> db(opts);
    test_store<plain> reference;
    for (int i = 0; i < 2000; ++i) {
        db->put("key/" + std::to_string(i), std::string(100 + i % 50, 'v'));
        reference->put("key/" + std::to_string(i), std::string(100 + i % 50, 'v'));
    }
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 2000; ++i) {
            REQUIRE(db->get("key/" + std::to_string(i))->size() == std::size_t(100 + i % 50));
            REQUIRE(db->stats().memory_bytes <= reference->stats().memory_bytes + cache_budget);
        }
    }
    const kvforge::stats s = db->stats();
    CHECK(s.evictions > 0);
    CHECK(s.misses > 0);
    CHECK(s.memory_bytes > reference->stats().memory_bytes);
    // A value too large for the cache is read from the store every time.
    db->put("large", std::string(cache_budget, 'L'));
    const auto misses = db->stats().misses;
    CHECK(db->get("large")->size() == cache_budget);
    CHECK(db->get("large")->size() == cache_budget);
    CHECK(db->stats().misses == misses + 2);
}

TEMPLATE_LIST_TEST_CASE("a read cache refuses a cache budget of 0", "[conformance][cache][errors]",
                        read_cache_model_configs) {
    temp_dir dir;
    kvforge::options opts;
    opts.cache_budget = 0;
    std::error_code ec;
    TestType db;
    db.open(dir / "store", opts, {}, ec);
    CHECK(ec == kvforge::errc::invalid_argument);
    CHECK_THAT(kvforge::last_error_message(), Catch::Contains("cache_budget is 0"));
    CHECK_FALSE(db.is_open());
}
