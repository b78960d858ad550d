// Concurrency stress on every thread_safe configuration: two writers, two readers, a
// compactor (persistent stores) and a durability waiter (async_worker) all at once.
//
// Each writer owns its keys and gives every write a higher version, which the value
// carries (key@version|filler), so a reader can check, key by key, that every value it
// sees is well formed for its key and that versions never go back in time, whether read
// by get, get into a buffer, visit, get_view (mmap_file) or scan (sorted_index). At the
// end the store holds each writer's last write per key, and so does the reopened store.
// Run it under ThreadSanitizer to find data races.
//
// KVFORGE_TEST_STRESS_OPS sets the operations per writer (default 4000) for a longer run.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "store_configs.hpp"

using namespace kvforge_test;

namespace {

/// The configurations of all_configs whose threading policy allows concurrent use.
template <class Tuple>
struct concurrent_only;
template <class... Stores>
struct concurrent_only<std::tuple<Stores...>> {
    using type = concat<std::conditional_t<is_concurrent<Stores>, std::tuple<Stores>, std::tuple<>>...>;
};
using concurrent_configs = concurrent_only<all_configs>::type;

constexpr int writer_count = 2;
constexpr int keys_per_writer = 40;
constexpr int owned_keys = writer_count * keys_per_writer;

int operations_per_writer() {
    const char* text = std::getenv("KVFORGE_TEST_STRESS_OPS");
    return text != nullptr ? std::max(1, std::atoi(text)) : 4000;
}

/// The key with this index, owned by writer index / keys_per_writer.
std::string owned_key(int index) {
    return "w" + std::to_string(index / keys_per_writer) + "/" + std::to_string(index % keys_per_writer);
}

/// The index of owned_key(index), or -1 for a key no writer owns.
int index_of(std::string_view key) {
    for (int index = 0; index < owned_keys; ++index) {
        if (key == owned_key(index)) return index;
    }
    return -1;
}

/// The value written as version `version` of key: it names both, and its length varies.
std::string versioned_value(std::string_view key, std::uint64_t version) {
    std::string value(key);
    value += '@';
    value += std::to_string(version);
    value += '|';
    value.append(version % 37, static_cast<char>('a' + version % 26));
    return value;
}

/// The version value holds for key, or 0 when it is not a value written for key.
std::uint64_t version_in(std::string_view key, std::string_view value) {
    if (value.size() <= key.size() + 1 || value.substr(0, key.size()) != key || value[key.size()] != '@') return 0;
    std::uint64_t version = 0;
    for (std::size_t i = key.size() + 1; i < value.size() && value[i] != '|'; ++i) {
        if (value[i] < '0' || value[i] > '9') return 0;
        version = version * 10 + static_cast<std::uint64_t>(value[i] - '0');
    }
    return version != 0 && value == versioned_value(key, version) ? version : 0;
}

/// What went wrong in any thread. Catch2's assertions belong to the main thread, so the
/// other threads report here and the test checks the report after joining them.
class failure_log {
public:
    void add(const std::string& what) {
        const std::lock_guard lock(mutex_);
        if (count_++ == 0) first_ = what;
    }
    void check(const std::error_code& ec, const char* call) {
        if (ec) add(std::string(call) + ": " + ec.message() + " (" + kvforge::last_error_message() + ")");
    }
    [[nodiscard]] std::string summary() const {
        const std::lock_guard lock(mutex_);
        return count_ == 0 ? std::string() : std::to_string(count_) + " failures, the first: " + first_;
    }

private:
    mutable std::mutex mutex_;
    long count_ = 0;
    std::string first_;
};

/// What the threads share besides the store.
struct shared_state {
    explicit shared_state(std::ptrdiff_t threads) : start(threads) {}

    failure_log failures;
    /// Every thread starts at once, so that the writers' whole run overlaps the others'.
    std::latch start;
    std::atomic<int> writers_done{0};
    /// Bumped every few writes and when a writer finishes: the compactor and the
    /// durability waiter block on it instead of spinning.
    std::atomic<std::uint64_t> progress{0};
    std::atomic<std::uint64_t> latest_sequence{0};

    void advance() {
        progress.fetch_add(1);
        progress.notify_all();
    }
    void publish_sequence(std::uint64_t sequence) {
        std::uint64_t known = latest_sequence.load();
        while (known < sequence && !latest_sequence.compare_exchange_weak(known, sequence)) {
        }
    }
};

/// One writer: puts, batches (puts and an erase), erases with and without a re-put, each
/// write of a key with a higher version than the last. Returns its keys' final values. A
/// store whose batches hold keys of one hash slot only gets batches of one put.
template <class Store>
std::vector<std::optional<std::string>> run_writer(Store& db, shared_state& shared, int writer, int operations) {
    std::vector<std::optional<std::string>> last(keys_per_writer);
    std::minstd_rand random(static_cast<std::uint32_t>(writer + 1));
    std::uint64_t version = 0;
    std::error_code ec;
    shared.start.arrive_and_wait();
    // With async_worker, put and write hand their sequence numbers to the durability waiter.
    auto write = [&](const typename Store::batch_type& batch) {
        if constexpr (Store::sequenced) {
            shared.publish_sequence(db.write(batch, ec));
        } else {
            db.write(batch, ec);
        }
        shared.failures.check(ec, "write");
    };
    auto put = [&](int k) {
        const std::string key = owned_key(writer * keys_per_writer + k);
        std::string value = versioned_value(key, ++version);
        if constexpr (Store::sequenced) {
            shared.publish_sequence(db.put(key, value, ec));
        } else {
            db.put(key, value, ec);
        }
        shared.failures.check(ec, "put");
        last[k] = std::move(value);
    };
    auto erase = [&](int k) {
        db.erase(owned_key(writer * keys_per_writer + k), ec);
        shared.failures.check(ec, "erase");
        last[k].reset();
    };
    for (int op = 0; op < operations; ++op) {
        const int k = static_cast<int>(random() % keys_per_writer);
        const unsigned choice = random() % 10;
        if (choice < 6) {
            put(k);
        } else if (choice < 8) {
            typename Store::batch_type batch;
            for (int i = 0; i < (takes_any_batch<Store> ? 3 : 1); ++i) {
                const int target = (k + i) % keys_per_writer;
                const std::string key = owned_key(writer * keys_per_writer + target);
                last[target] = versioned_value(key, ++version);
                batch.put(key, *last[target]);
            }
            if constexpr (takes_any_batch<Store>) {
                const int erased = (k + 3) % keys_per_writer;
                batch.erase(owned_key(writer * keys_per_writer + erased));
                last[erased].reset();
            }
            write(batch);
        } else if (choice < 9) {
            erase(k);
            put(k);
        } else {
            erase(k);
        }
        if (op % 16 == 0) shared.advance();
    }
    shared.writers_done.fetch_add(1);
    shared.advance();
    return last;
}

/// One reader: reads every key in every way the store offers until a whole pass has run
/// after the writers finished, checking each value and that its version never decreases.
template <class Store>
long run_reader(const Store& db, shared_state& shared, int reader) {
    std::vector<std::uint64_t> newest(owned_keys, 0);
    long reads = 0;
    auto observe = [&](std::string_view key, std::string_view value, const char* how) {
        const int index = index_of(key);
        const std::uint64_t version = index < 0 ? 0 : version_in(key, value);
        if (version == 0) {
            shared.failures.add(std::string(how) + " returned '" + std::string(value) + "' for key '" +
                                std::string(key) + "'");
        } else if (version < newest[index]) {
            shared.failures.add(std::string(how) + " went back in time on " + std::string(key) + ": version " +
                                std::to_string(version) + " after " + std::to_string(newest[index]));
        } else {
            newest[index] = version;
        }
        ++reads;
    };
    std::error_code ec;
    std::string buffer;
    shared.start.arrive_and_wait();
    for (int pass = 0;; ++pass) {
        const bool finished = shared.writers_done.load() == writer_count;
        for (int i = 0; i < owned_keys; ++i) {
            const int index = (i + reader * 17) % owned_keys;
            const std::string key = owned_key(index);
            switch ((i + pass) % 5) {
                case 0:
                    if (const auto value = db.get(key, ec)) observe(key, *value, "get");
                    shared.failures.check(ec, "get");
                    break;
                case 1:
                    if (db.get(key, buffer, ec)) observe(key, buffer, "get into a buffer");
                    shared.failures.check(ec, "get into a buffer");
                    break;
                case 2:
                    db.visit(
                        key, [&](std::string_view bytes) { observe(key, bytes, "visit"); }, ec);
                    shared.failures.check(ec, "visit");
                    break;
                case 3:
                    if constexpr (std::is_same_v<typename Store::store_policy, kvforge::mmap_file>) {
                        if (const auto view = db.get_view(key, ec)) observe(key, view->bytes(), "get_view");
                        shared.failures.check(ec, "get_view");
                    } else {
                        if (const auto value = db.get(key, ec)) observe(key, *value, "get");
                        shared.failures.check(ec, "get");
                    }
                    break;
                default:
                    (void)db.contains(key, ec);
                    shared.failures.check(ec, "contains");
                    break;
            }
        }
        if constexpr (is_ordered<Store>) {
            std::string previous;
            for (auto&& [key, value] : db.scan(pass % 2 == 0 ? "" : "w1/", "x", ec)) {
                if (!previous.empty() && key <= previous) shared.failures.add("scan out of order at " + key);
                observe(key, value, "scan");
                previous = key;
            }
            shared.failures.check(ec, "scan");
        }
        if (finished) return reads;
    }
}

/// Calls step() until the writers are done, once more after each batch of their
/// progress, and once after they finished.
template <class Step>
void repeat_while_writing(shared_state& shared, Step step) {
    shared.start.arrive_and_wait();
    for (;;) {
        // Progress first: a writer bumps it after counting itself done, so either the
        // wait below returns or the done count read next is already final.
        const std::uint64_t seen = shared.progress.load();
        const bool finished = shared.writers_done.load() == writer_count;
        step();
        if (finished) return;
        shared.progress.wait(seen);
    }
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("writers, readers, compaction and the durability worker together: no read goes back in time",
                        "[conformance][concurrency][stress]", concurrent_configs) {
    test_store<TestType> db;
    constexpr int thread_count = writer_count + 2 + (TestType::persistent ? 1 : 0) + (TestType::sequenced ? 1 : 0);
    shared_state shared(thread_count);
    const int operations = operations_per_writer();

    std::vector<std::vector<std::optional<std::string>>> final_values(writer_count);
    std::vector<long> reads(2, 0);
    long compactions = 0;
    std::uint64_t durable_seen = 0;
    std::vector<std::thread> threads;
    for (int w = 0; w < writer_count; ++w) {
        threads.emplace_back([&, w] { final_values[w] = run_writer(*db, shared, w, operations); });
    }
    for (int r = 0; r < 2; ++r) {
        threads.emplace_back([&, r] { reads[r] = run_reader(std::as_const(*db), shared, r); });
    }
    if constexpr (TestType::persistent) {
        threads.emplace_back([&] {
            repeat_while_writing(shared, [&] {
                std::error_code ec;
                db->compact(ec);
                shared.failures.check(ec, "compact");
                ++compactions;
            });
        });
    }
    if constexpr (TestType::sequenced) {
        threads.emplace_back([&] {
            repeat_while_writing(shared, [&] {
                const std::uint64_t target = shared.latest_sequence.load();
                std::error_code ec;
                db->wait_durable(target, ec);
                shared.failures.check(ec, "wait_durable");
                const std::uint64_t durable = db->durable_seq();
                if (durable < target) {
                    shared.failures.add("wait_durable(" + std::to_string(target) + ") returned at durable_seq() " +
                                        std::to_string(durable));
                }
                if (durable < durable_seen) {
                    shared.failures.add("durable_seq() went back from " + std::to_string(durable_seen) + " to " +
                                        std::to_string(durable));
                }
                durable_seen = durable;
            });
        });
    }
    for (auto& thread : threads) thread.join();

    CHECK(shared.failures.summary() == "");
    CHECK(reads[0] > 0);
    CHECK(reads[1] > 0);
    if constexpr (TestType::persistent) CHECK(compactions > 0);
    if constexpr (has_files<TestType>) CHECK(db->stats().compactions >= static_cast<std::uint64_t>(compactions));
    if constexpr (TestType::sequenced) CHECK(durable_seen >= shared.latest_sequence.load());

    std::map<std::string, std::string> expected;
    for (int index = 0; index < owned_keys; ++index) {
        const auto& value = final_values[index / keys_per_writer][index % keys_per_writer];
        if (value) expected.emplace(owned_key(index), *value);
    }
    auto check_contents = [&] {
        CHECK(db->size() == expected.size());
        for (int index = 0; index < owned_keys; ++index) {
            INFO("key " << owned_key(index));
            CHECK(db->get(owned_key(index)) == final_values[index / keys_per_writer][index % keys_per_writer]);
        }
        if constexpr (is_ordered<TestType>) {
            std::map<std::string, std::string> scanned;
            for (auto&& [key, value] : db->scan()) scanned.emplace(key, value);
            CHECK(scanned == expected);
        }
    };
    check_contents();
    if constexpr (TestType::persistent) {
        db.reopen();
        check_contents();
    }
}
