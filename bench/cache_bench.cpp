// kvforge's cache benchmarks: bounded<> and read_cache<> against the figures a cache is
// judged by, all in one run so that ratios between them are comparable.
// tools/bench_cache.py runs it and writes the results into docs/benchmarks/studies.md.
//
//   hit_ratio/TRACE/POLICY   the hits of a bounded store of the same memory budget on the
//                            same trace (get, and put on a miss), for kvforge's eviction
//                            policies; "belady" is the optimum for a cache of as many
//                            entries as the most the kvforge stores held on average
//                            (computed offline, it evicts the entry used farthest ahead),
//                            and "exact_lru" an exact LRU of that many entries.
//   hit_get/ENGINE/THREADS   gets of keys all held, in random order: bounded stores, an
//                            unbounded memory store, absl::flat_hash_map and an LRU built
//                            from std::list and std::unordered_map (under a mutex with two
//                            threads, since a hit moves its entry to the front).
//   zipf_get/STORE           gets with Zipf 0.99 popularity, after a pass that warms the
//                            cache, from a file_log store larger than the read cache, with
//                            and without read_cache<>, and from an
//                            mmap_file store (which takes no read cache: it reads through
//                            the page cache already).
//
// Traces have 1,000,000 keys (KVFORGE_CACHE_BENCH_KEYS) of 16 bytes with 100-byte values,
// and 5,000,000 requests (KVFORGE_CACHE_BENCH_REQUESTS); the memory budget is 16 MiB
// (KVFORGE_CACHE_BENCH_BUDGET, bytes), which holds about a tenth of the keys. Timed reads
// run for KVFORGE_CACHE_BENCH_READ_MS milliseconds (default 500). Stores write under
// KVFORGE_BENCH_DIR (default /var/tmp).

#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <kvforge/kvforge.hpp>

#include "dataset.hpp"
#include "measure.hpp"

#ifdef KVFORGE_BENCH_HAVE_ABSL
#include <absl/container/flat_hash_map.h>
#include <absl/strings/string_view.h>
#endif

namespace {

using kvbench::env_size;

/// CPU seconds the calling thread has used: unlike wall time, barely moved by other
/// processes on a busy machine, so the ratios below are taken of it.
double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

std::size_t key_count() { return env_size("KVFORGE_CACHE_BENCH_KEYS", 1000000, 10); }
std::size_t request_count() { return env_size("KVFORGE_CACHE_BENCH_REQUESTS", 5000000, 10); }
std::uint64_t budget() { return env_size("KVFORGE_CACHE_BENCH_BUDGET", std::size_t{16} << 20, 1 << 16); }
double read_seconds() { return static_cast<double>(env_size("KVFORGE_CACHE_BENCH_READ_MS", 500, 0)) / 1000; }

constexpr std::size_t key_size = 16;
constexpr std::size_t value_size = 100;

/// Key number n as 16 decimal digits, as the main benchmark writes its keys.
class key_text {
public:
    std::string_view operator()(std::uint64_t n) noexcept {
        for (std::size_t at = key_size; at-- > 0; n /= 10) bytes_[at] = static_cast<char>('0' + n % 10);
        return {bytes_, key_size};
    }

private:
    char bytes_[key_size] = {};
};

const std::string& value_bytes() {
    static const std::string value(value_size, 'v');
    return value;
}

/// Ranks 0..n-1 drawn with probability proportional to 1 / (rank + 1)^exponent.
class zipf {
public:
    zipf(std::size_t n, double exponent) : cdf_(n) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) cdf_[i] = sum += 1 / std::pow(static_cast<double>(i + 1), exponent);
        for (double& c : cdf_) c /= sum;
    }
    std::size_t operator()(std::mt19937_64& rng) {
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        return std::min<std::size_t>(static_cast<std::size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()),
                                     cdf_.size() - 1);
    }

private:
    std::vector<double> cdf_;
};

/// Key numbers 0..n-1 in a fixed random order: popularity rank i goes to key shuffled[i],
/// so that popular keys are not neighbours (nor their records in a store's file).
std::vector<std::uint32_t> shuffled_keys(std::size_t n) {
    std::vector<std::uint32_t> shuffled(n);
    for (std::size_t i = 0; i < n; ++i) shuffled[i] = static_cast<std::uint32_t>(i);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(11));
    return shuffled;
}

/// A request trace: key numbers.
struct trace {
    std::string name;
    std::vector<std::uint32_t> keys;
    std::uint32_t key_space = 0;  ///< every key number is below it
};

/// Zipf requests over key_count() keys; with scan, every third request is instead the
/// next key of a one-pass scan over keys never requested before or after; with shifts,
/// the popularity ranking moves to other keys ten times along the trace.
trace make_trace(std::string name, double exponent, bool scan, bool shifts) {
    const std::size_t n = key_count();
    const std::size_t requests = request_count();
    const std::vector<std::uint32_t> shuffled = shuffled_keys(n);
    zipf ranks(n, exponent);
    std::mt19937_64 rng(12);
    trace t{std::move(name), {}, static_cast<std::uint32_t>(n)};
    t.keys.reserve(requests);
    const std::size_t phase = requests / 10 + 1;
    for (std::size_t i = 0; i < requests; ++i) {
        if (scan && i % 3 == 2) {
            t.keys.push_back(t.key_space++);
            continue;
        }
        std::size_t rank = ranks(rng);
        if (shifts) rank = (rank + (i / phase) * (n / 10)) % n;
        t.keys.push_back(shuffled[rank]);
    }
    return t;
}

const std::vector<trace>& traces() {
    static const std::vector<trace> all = [] {
        std::vector<trace> t;
        t.push_back(make_trace("zipf_0.99", 0.99, false, false));
        t.push_back(make_trace("zipf_0.8", 0.8, false, false));
        t.push_back(make_trace("zipf_0.99_scan", 0.99, true, false));
        t.push_back(make_trace("zipf_0.8_scan", 0.8, true, false));
        t.push_back(make_trace("shifting_0.99", 0.99, false, true));
        return t;
    }();
    return all;
}

/// The entries the kvforge stores held on each trace, on average, once full: the size
/// of the count-based references (Belady, exact LRU) on that trace.
std::vector<double>& held_entries() {
    static std::vector<double> held(traces().size(), 0);
    return held;
}

template <class Store>
void hit_ratio(benchmark::State& state, std::size_t trace_index) {
    const trace& t = traces()[trace_index];
    Store cache{kvforge::options{.memory_budget = budget()}};
    key_text key;
    std::string out;
    std::uint64_t hits = 0;
    double held = 0;
    std::uint64_t samples = 0;
    std::uint64_t most_memory = 0;
    const kvbench::stopwatch clock;
    for (std::size_t i = 0; i < t.keys.size(); ++i) {
        const std::string_view k = key(t.keys[i]);
        if (cache.get(k, out)) {
            ++hits;
        } else {
            cache.put(k, value_bytes());
        }
        if (i % 4096 == 0 && i >= t.keys.size() / 5) {
            const kvforge::stats s = cache.stats();
            held += static_cast<double>(s.live_keys);
            ++samples;
            most_memory = std::max<std::uint64_t>(most_memory, s.memory_bytes);
        }
    }
    for (auto _ : state) state.SetIterationTime(clock.seconds());
    const double average_held = samples == 0 ? static_cast<double>(cache.size()) : held / static_cast<double>(samples);
    held_entries()[trace_index] = std::max(held_entries()[trace_index], average_held);
    const kvforge::stats s = cache.stats();
    state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(t.keys.size());
    state.counters["entries"] = average_held;
    state.counters["memory_bytes"] = static_cast<double>(std::max(most_memory, s.memory_bytes));
    state.counters["budget"] = static_cast<double>(budget());
    state.counters["evictions"] = static_cast<double>(s.evictions);
    state.counters["requests_per_second"] = static_cast<double>(t.keys.size()) / clock.seconds();
}

/// Belady's MIN for a cache of `capacity` entries: on a miss with the cache full, the
/// entry (the requested one included) whose next request is farthest ahead is left out.
double belady_hit_ratio(const trace& t, std::size_t capacity) {
    constexpr std::uint32_t never = ~std::uint32_t{0};
    const std::size_t n = t.keys.size();
    std::vector<std::uint32_t> next(n);
    std::vector<std::uint32_t> upcoming(t.key_space, never);
    for (std::size_t i = n; i-- > 0;) {
        next[i] = upcoming[t.keys[i]];
        upcoming[t.keys[i]] = static_cast<std::uint32_t>(i);
    }
    std::vector<std::uint32_t> held_until(t.key_space, 0);  // next request of a held key, 0 if not held
    std::vector<bool> held(t.key_space, false);
    std::priority_queue<std::pair<std::uint32_t, std::uint32_t>> farthest;  // (next request, key), stale ones skipped
    std::size_t size = 0;
    std::uint64_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t k = t.keys[i];
        if (held[k]) {
            ++hits;
        } else if (size < capacity) {
            held[k] = true;
            ++size;
        } else {
            while (!held[farthest.top().second] || held_until[farthest.top().second] != farthest.top().first) farthest.pop();
            const auto [victim_next, victim] = farthest.top();
            if (next[i] >= victim_next) continue;  // the request itself is the one used farthest ahead
            farthest.pop();
            held[victim] = false;
            held[k] = true;
        }
        held_until[k] = next[i];
        farthest.emplace(next[i], k);
    }
    return static_cast<double>(hits) / static_cast<double>(n);
}

/// An exact LRU of `capacity` entries: std::list in recency order and an index into it.
class list_lru {
public:
    explicit list_lru(std::size_t capacity) : capacity_(capacity) {}

    bool get(std::string_view key, std::string& out) {
        const auto it = index_.find(std::string(key));
        if (it == index_.end()) return false;
        order_.splice(order_.begin(), order_, it->second);
        out = it->second->second;
        return true;
    }

    void put(std::string_view key, std::string_view value) {
        std::string k(key);
        if (const auto it = index_.find(k); it != index_.end()) {
            it->second->second = value;
            order_.splice(order_.begin(), order_, it->second);
            return;
        }
        if (index_.size() >= capacity_) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
        order_.emplace_front(k, std::string(value));
        index_.emplace(std::move(k), order_.begin());
    }

private:
    std::size_t capacity_;
    std::list<std::pair<std::string, std::string>> order_;
    std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

/// The entries a default bounded store holds on the trace, measured if no benchmark
/// has run it yet (when a filter left it out).
std::size_t reference_capacity(std::size_t trace_index) {
    if (held_entries()[trace_index] == 0) {
        using store = kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>;
        store cache{kvforge::options{.memory_budget = budget()}};
        key_text key;
        std::string out;
        double held = 0;
        std::uint64_t samples = 0;
        const trace& t = traces()[trace_index];
        for (std::size_t i = 0; i < t.keys.size(); ++i) {
            if (!cache.get(key(t.keys[i]), out)) cache.put(key(t.keys[i]), value_bytes());
            if (i % 4096 == 0 && i >= t.keys.size() / 5) {
                held += static_cast<double>(cache.size());
                ++samples;
            }
        }
        held_entries()[trace_index] = samples == 0 ? static_cast<double>(cache.size()) : held / static_cast<double>(samples);
    }
    return std::max<std::size_t>(1, static_cast<std::size_t>(held_entries()[trace_index]));
}

void reference_hit_ratio(benchmark::State& state, std::size_t trace_index, bool belady) {
    const trace& t = traces()[trace_index];
    const std::size_t capacity = reference_capacity(trace_index);
    const kvbench::stopwatch clock;
    double ratio = 0;
    if (belady) {
        ratio = belady_hit_ratio(t, capacity);
    } else {
        list_lru lru(capacity);
        key_text key;
        std::string out;
        std::uint64_t hits = 0;
        for (const std::uint32_t k : t.keys) {
            if (lru.get(key(k), out)) {
                ++hits;
            } else {
                lru.put(key(k), value_bytes());
            }
        }
        ratio = static_cast<double>(hits) / static_cast<double>(t.keys.size());
    }
    for (auto _ : state) state.SetIterationTime(clock.seconds());
    state.counters["hit_ratio"] = ratio;
    state.counters["entries"] = static_cast<double>(capacity);
}

// ---- gets that hit ----

/// Keys all held: a tenth of key_count(), read in a fixed random order.
std::size_t hot_count() { return std::max<std::size_t>(key_count() / 10, 10); }

std::vector<std::uint32_t> hot_order() {
    std::vector<std::uint32_t> order(std::max<std::size_t>(hot_count(), 1 << 20));
    std::mt19937_64 rng(21);
    for (auto& k : order) k = static_cast<std::uint32_t>(rng() % hot_count());
    return order;
}

/// The hot keys' text, one after another, so that timed loops do not format keys.
const std::string& hot_keys() {
    static const std::string keys = [] {
        std::string all;
        key_text key;
        for (std::size_t i = 0; i < hot_count(); ++i) all += key(i);
        return all;
    }();
    return keys;
}

/// Runs get(key, out) over the hot keys on `threads` threads for read_seconds() (at least
/// one pass), and reports gets per second of all threads together.
template <class Get>
void timed_gets(benchmark::State& state, int threads, Get&& get) {
    static const std::vector<std::uint32_t> order = hot_order();
    const std::string_view keys = hot_keys();
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> missing{0};
    std::atomic<std::uint64_t> cpu_nanoseconds{0};
    const kvbench::stopwatch clock;
    std::vector<std::thread> workers;
    for (int w = 0; w < threads; ++w) {
        workers.emplace_back([&, w] {
            const double cpu_start = thread_cpu_seconds();
            std::string out;
            std::uint64_t done = 0;
            std::size_t at = static_cast<std::size_t>(w) * (order.size() / 2);
            do {
                for (int i = 0; i < 4096; ++i, ++done, at = (at + 1) % order.size()) {
                    if (!get(keys.substr(order[at] * key_size, key_size), out)) {
                        missing.fetch_add(1, std::memory_order_relaxed);
                    }
                }
            } while (clock.seconds() < read_seconds() || done < order.size() / static_cast<std::size_t>(threads));
            total.fetch_add(done);
            cpu_nanoseconds.fetch_add(static_cast<std::uint64_t>((thread_cpu_seconds() - cpu_start) * 1e9));
        });
    }
    for (auto& t : workers) t.join();
    const double seconds = clock.seconds();
    for (auto _ : state) state.SetIterationTime(seconds);
    if (missing.load() != 0) state.SkipWithError("a get that should hit missed");
    state.counters["gets_per_second"] = static_cast<double>(total.load()) / seconds;
    state.counters["cpu_ns_per_get"] = static_cast<double>(cpu_nanoseconds.load()) / static_cast<double>(total.load());
    state.counters["threads"] = threads;
}

template <class Store>
void fill_hot(Store& db) {
    key_text key;
    for (std::size_t i = 0; i < hot_count(); ++i) db.put(key(i), value_bytes());
}

/// Enough for the hot keys with room to spare: every get hits.
std::uint64_t hot_budget() { return std::uint64_t{hot_count()} * 1024 + (std::uint64_t{16} << 20); }

template <class Store>
void kvforge_hit_get(benchmark::State& state, int threads) {
    std::unique_ptr<Store> db;
    if constexpr (Store::cached) {
        db = std::make_unique<Store>(kvforge::options{.memory_budget = hot_budget()});
    } else {
        db = std::make_unique<Store>();
    }
    fill_hot(*db);
    timed_gets(state, threads, [&](std::string_view k, std::string& out) { return db->get(k, out); });
    if constexpr (Store::cached) {
        if (db->stats().evictions != 0) state.SkipWithError("the store evicted: the budget is too small");
    }
}

#ifdef KVFORGE_BENCH_HAVE_ABSL
void absl_hit_get(benchmark::State& state, int threads) {
    absl::flat_hash_map<std::string, std::string> map;
    key_text key;
    for (std::size_t i = 0; i < hot_count(); ++i) map.insert_or_assign(std::string(key(i)), value_bytes());
    timed_gets(state, threads, [&](std::string_view k, std::string& out) {
        const auto it = map.find(absl::string_view(k.data(), k.size()));
        if (it == map.end()) return false;
        out = it->second;
        return true;
    });
}
#endif

void list_lru_hit_get(benchmark::State& state, int threads) {
    list_lru lru(hot_count());
    key_text key;
    for (std::size_t i = 0; i < hot_count(); ++i) lru.put(key(i), value_bytes());
    std::mutex mutex;
    timed_gets(state, threads, [&](std::string_view k, std::string& out) {
        if (threads == 1) return lru.get(k, out);
        const std::lock_guard<std::mutex> lock(mutex);
        return lru.get(k, out);
    });
}

// ---- a persistent store with and without a read cache ----

template <class Store>
void zipf_get(benchmark::State& state) {
    const kvbench::scratch_dir dir;
    kvforge::options opts;
    opts.cache_budget = budget();
    Store db((dir.path() / "store").string(), opts);
    key_text key;
    for (std::size_t i = 0; i < key_count(); ++i) db.put(key(i), value_bytes());
    db.flush();
    static const std::vector<std::uint32_t> order = [] {
        std::vector<std::uint32_t> keys(std::max<std::size_t>(request_count() / 2, 1));
        const std::vector<std::uint32_t> shuffled = shuffled_keys(key_count());
        zipf ranks(key_count(), 0.99);
        std::mt19937_64 rng(31);
        for (auto& k : keys) k = shuffled[ranks(rng)];
        return keys;
    }();
    std::string out;
    // One pass untimed, so that the timed ones see the cache as it stays once warm.
    for (const std::uint32_t k : order) db.get(key(k), out);
    const kvforge::stats warm = db.stats();
    std::uint64_t done = 0;
    const kvbench::stopwatch clock;
    const double cpu_start = thread_cpu_seconds();
    do {
        for (const std::uint32_t k : order) {
            if (!db.get(key(k), out)) state.SkipWithError("a stored key was not found");
        }
        done += order.size();
    } while (clock.seconds() < read_seconds());
    const double seconds = clock.seconds();
    const double cpu_seconds = thread_cpu_seconds() - cpu_start;
    for (auto _ : state) state.SetIterationTime(seconds);
    const kvforge::stats s = db.stats();
    state.counters["gets_per_second"] = static_cast<double>(done) / seconds;
    state.counters["cpu_ns_per_get"] = cpu_seconds * 1e9 / static_cast<double>(done);
    const std::uint64_t hits = s.hits - warm.hits;
    const std::uint64_t misses = s.misses - warm.misses;
    state.counters["hit_ratio"] = hits + misses == 0 ? 0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
    state.counters["memory_bytes"] = static_cast<double>(s.memory_bytes);
    state.counters["disk_bytes"] = static_cast<double>(s.disk_bytes);
}

// ---- registration ----

template <class Fn>
void add(const std::string& name, Fn&& fn) {
    benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))
        ->Iterations(1)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
}

template <class... Policies>
using kv = kvforge::store<std::string, std::string, Policies...>;

void register_all() {
    using namespace kvforge;
    for (std::size_t i = 0; i < traces().size(); ++i) {
        const std::string& t = traces()[i].name;
        add("hit_ratio/" + t + "/s3fifo", [i](benchmark::State& s) { hit_ratio<kv<memory, bounded<s3fifo>>>(s, i); });
        add("hit_ratio/" + t + "/lru", [i](benchmark::State& s) { hit_ratio<kv<memory, bounded<lru>>>(s, i); });
        add("hit_ratio/" + t + "/exact_lru", [i](benchmark::State& s) { reference_hit_ratio(s, i, false); });
        add("hit_ratio/" + t + "/belady", [i](benchmark::State& s) { reference_hit_ratio(s, i, true); });
    }
    for (const int threads : {1, 2}) {
        const std::string n = "/" + std::to_string(threads);
        if (threads == 1) {
            add("hit_get/bounded_s3fifo" + n, [=](benchmark::State& s) {
                kvforge_hit_get<kv<memory, single_thread, bounded<s3fifo>>>(s, threads);
            });
            add("hit_get/bounded_lru" + n, [=](benchmark::State& s) {
                kvforge_hit_get<kv<memory, single_thread, bounded<lru>>>(s, threads);
            });
            add("hit_get/memory" + n, [=](benchmark::State& s) { kvforge_hit_get<kv<memory, single_thread>>(s, threads); });
        }
        add("hit_get/bounded_s3fifo_mt" + n, [=](benchmark::State& s) {
            kvforge_hit_get<kv<memory, thread_safe, bounded<s3fifo>>>(s, threads);
        });
        add("hit_get/bounded_lru_mt" + n, [=](benchmark::State& s) {
            kvforge_hit_get<kv<memory, thread_safe, bounded<lru>>>(s, threads);
        });
        add("hit_get/memory_mt" + n, [=](benchmark::State& s) { kvforge_hit_get<kv<memory, thread_safe>>(s, threads); });
#ifdef KVFORGE_BENCH_HAVE_ABSL
        add("hit_get/absl_flat_hash_map" + n, [=](benchmark::State& s) { absl_hit_get(s, threads); });
#endif
        add("hit_get/std_list_lru" + n, [=](benchmark::State& s) { list_lru_hit_get(s, threads); });
    }
    add("zipf_get/file_log", zipf_get<kv<file_log, buffered<>>>);
    add("zipf_get/file_log_read_cache", zipf_get<kv<file_log, buffered<>, read_cache<>>>);
    add("zipf_get/mmap_file", zipf_get<kv<mmap_file, buffered<>>>);

    benchmark::AddCustomContext("keys", std::to_string(key_count()));
    benchmark::AddCustomContext("requests", std::to_string(request_count()));
    benchmark::AddCustomContext("budget", std::to_string(budget()));
    benchmark::AddCustomContext("key_size", std::to_string(key_size));
    benchmark::AddCustomContext("value_size", std::to_string(value_size));
    benchmark::AddCustomContext("hot_keys", std::to_string(hot_count()));
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    register_all();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
