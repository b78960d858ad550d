// Model-based randomized test: seeded sequences of operations on each store
// configuration, checked step by step against std::map; persistent stores are also
// closed and reopened from their files now and then. On stores expiring by test_clock
// some puts carry a time to live and the clock moves on now and then: the model drops a
// key when its deadline comes, and the store must agree. A store whose batches hold keys
// of one hash slot only (redis_cluster) gets batches of one key.
//
// The seed comes from KVFORGE_TEST_SEED when set (to replay a failure), else a fixed
// list; every failure prints the seed and the operation number. KVFORGE_TEST_OPS sets
// the number of operations per configuration (default 100,000).

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../support/env.hpp"
#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// Draws keys from a bounded space so that operations often hit existing keys, with
/// lengths from 0 to about 40 bytes and shared prefixes longer than 8 bytes.
class key_source {
public:
    explicit key_source(std::mt19937_64& rng) : rng_(rng) {}

    std::string key() {
        const auto id = pick(key_space);
        switch (id % 4) {
            case 0: return std::to_string(id);
            case 1: return "shared/prefix/longer/than/eight/" + std::to_string(id);
            case 2: return id == 2 ? std::string() : std::string(1 + id % 3, static_cast<char>(id % 256));
            default: return std::string("bin\0\xff", 5) + std::to_string(id);
        }
    }

    std::string value() {
        const auto length = pick(4) == 0 ? pick(600) : pick(40);
        return std::string(length, static_cast<char>('a' + pick(26)));
    }

    std::uint64_t pick(std::uint64_t bound) { return std::uniform_int_distribution<std::uint64_t>(0, bound - 1)(rng_); }

private:
    static constexpr std::uint64_t key_space = 3000;
    std::mt19937_64& rng_;
};

template <class Store>
void check_contents_equal(const Store& db, const std::map<std::string, std::string>& model) {
    REQUIRE(db.size() == model.size());
    std::map<std::string, std::string> seen;
    db.for_each([&](const std::string& k, const std::string& v) { seen.emplace(k, v); });
    REQUIRE(seen == model);
}

template <class Store>
void run_model(std::uint64_t seed, std::uint64_t operations) {
    std::mt19937_64 rng(seed);
    key_source source(rng);
    test_store<Store> db;
    std::map<std::string, std::string> model;
    std::map<std::string, test_clock::time_point> deadlines;  // of the model's keys that have one

    for (std::uint64_t step = 0; step < operations; ++step) {
        INFO("seed " << seed << ", operation " << step << " (replay with KVFORGE_TEST_SEED=" << seed << ")");
        if constexpr (expires_by_test_clock<Store>) {
            if (source.pick(100) == 0) {
                test_clock::advance(std::chrono::milliseconds(source.pick(1000)));
                for (auto it = deadlines.begin(); it != deadlines.end();) {
                    if (it->second <= test_clock::now()) {
                        model.erase(it->first);
                        it = deadlines.erase(it);
                    } else {
                        ++it;
                    }
                }
            }
        }
        const auto dice = source.pick(1000);
        if (dice < 400) {
            const std::string key = source.key();
            const std::string value = source.value();
            deadlines.erase(key);
            if constexpr (expires_by_test_clock<Store>) {
                if (source.pick(3) == 0) {
                    // From half a second in the past (stores nothing) to 4.5 seconds ahead.
                    const auto ttl = std::chrono::milliseconds(static_cast<std::int64_t>(source.pick(5000)) - 500);
                    db->put(key, value, ttl);
                    if (ttl.count() > 0) {
                        model[key] = value;
                        deadlines[key] = test_clock::now() + ttl;
                    } else {
                        model.erase(key);
                    }
                    continue;
                }
            }
            db->put(key, value);
            model[key] = value;
        } else if (dice < 550) {
            const std::string key = source.key();
            deadlines.erase(key);
            REQUIRE(db->erase(key) == (model.erase(key) == 1));
        } else if (dice < 600) {
            typename Store::batch_type batch;
            const auto size = takes_any_batch<Store> ? 1 + source.pick(20) : 1;
            for (std::uint64_t i = 0; i < size; ++i) {
                const std::string key = source.key();
                deadlines.erase(key);
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
        } else if (dice < 950) {
            const std::string key = source.key();
            const auto expected = model.find(key);
            const std::optional<std::string> actual = db->get(key);
            REQUIRE(actual.has_value() == (expected != model.end()));
            if (actual) REQUIRE(*actual == expected->second);
            REQUIRE(db->contains(key) == actual.has_value());
            if constexpr (expires_by_test_clock<Store>) {
                const auto deadline = deadlines.find(key);
                REQUIRE(db->expiry(key) == (deadline == deadlines.end() ? std::optional<test_clock::time_point>()
                                                                        : std::optional(deadline->second)));
            }
        } else if (dice < 999) {
            if constexpr (is_ordered<Store>) {
                std::string from = source.key();
                std::string to = source.key();
                if (to < from) std::swap(from, to);
                // Every other scan runs descending, over the same keys last to first.
                if (step % 2 == 0) {
                    auto expected = model.lower_bound(from);
                    const auto expected_end = model.lower_bound(to);
                    for (auto&& [k, v] : db->scan(from, to)) {
                        REQUIRE(expected != expected_end);
                        REQUIRE(k == expected->first);
                        REQUIRE(v == expected->second);
                        ++expected;
                    }
                    REQUIRE(expected == expected_end);
                } else {
                    auto expected = std::make_reverse_iterator(model.lower_bound(to));
                    const auto expected_end = std::make_reverse_iterator(model.lower_bound(from));
                    for (auto&& [k, v] : db->scan(from, to, kvforge::descending)) {
                        REQUIRE(expected != expected_end);
                        REQUIRE(k == expected->first);
                        REQUIRE(v == expected->second);
                        ++expected;
                    }
                    REQUIRE(expected == expected_end);
                }
            } else if (dice == 998) {
                check_contents_equal(*db, model);
            }
        } else if (source.pick(20) == 0) {
            db->clear();
            model.clear();
            deadlines.clear();
        } else if constexpr (Store::expiring) {
            // Purging changes nothing a read can see.
            db->purge_expired();
            check_contents_equal(*db, model);
        } else if constexpr (test_store<Store>::persistent) {
            // Close and recover from the files: the contents must be exactly the model's.
            db.reopen();
            check_contents_equal(*db, model);
        }
    }
    check_contents_equal(*db, model);
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("random operations agree with std::map", "[conformance][model]", all_configs) {
    const std::uint64_t operations = env_or("KVFORGE_TEST_OPS", 100000);
    const std::uint64_t seed = env_or("KVFORGE_TEST_SEED", 20261121);
    run_model<TestType>(seed, operations);
}
