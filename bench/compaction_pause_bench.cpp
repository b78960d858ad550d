// What automatic compaction costs the writers: the longest put (and the 99.9th
// percentile) while an overwrite workload keeps compaction busy, with jobs in steps
// (options::compaction_step_bytes at its default, counters *_steps) against whole jobs
// after one put (compaction_step_bytes = 0, as before steps; counters *_whole), in the
// same run, and with no automatic compaction at all (counters *_off: what the writes
// themselves cost, segment rollovers included). With thread_safe both *_steps and
// *_whole run their jobs on the store's compaction thread (compaction_step_bytes then
// only sizes its chunks), so the puts wait only for its short holds of the writers' lock
// and, over the stall ceiling, for the thread's progress, at most
// options::compaction_stall_micros (2 ms). thread_safe also runs *_unbounded: steps with
// that wait unbounded (a write over the ceiling waits for the thread as long as it makes
// progress), and *_nowait: compaction_stall_ratio 0.
//
// puts_during_compact measures compact() itself on a thread_safe store: KVFORGE_BENCH_KEYS
// records, half of them dead (each of half as many keys written twice; automatic
// compaction off), then compact() on one thread while another overwrites the keys,
// timing each put: the longest put that overlapped compact() (max_put_us), the puts
// that completed while it ran (puts_during), and how long compact() took (compact_ms);
// then the same writer for as long again with no compaction, as the baseline of the
// same run (max_put_us_after, puts_after: what the writes cost on their own, segment
// rollovers and waits for a core included). compact_cpu_ms is the CPU time of the thread
// that called compact(). Where the build found LevelDB (KVFORGE_BENCH_HAVE_LEVELDB), the
// same workload runs on it (kvbench::leveldb_engine, its defaults) with CompactRange over
// every key, as the baseline.
//
// Each store is filled with KVFORGE_BENCH_KEYS records (16-byte keys, 100-byte values),
// then one thread overwrites twice as many records, timing each put. Put latencies are
// in microseconds; compactions counts the jobs that ran during the overwrites;
// max_put_cpu_us_* is the most CPU time one put used (its wall time less any wait for a
// core, a lock or the disk).
//
//   KVFORGE_BENCH_KEYS  records in the store (default 1,000,000; CTest's smoke run: 2000)
//   KVFORGE_BENCH_DIR   where the stores live (default /var/tmp)

#include <time.h>

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "engine.hpp"
#include "measure.hpp"
#ifdef KVFORGE_BENCH_HAVE_LEVELDB
#include "peers/leveldb.hpp"
#endif

namespace {

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 1000000;
}

std::string key_of(std::size_t i) {
    char key[24];
    std::snprintf(key, sizeof key, "k%015llu", static_cast<unsigned long long>(i));
    return key;
}

/// CPU time the calling thread has used, in microseconds.
double thread_cpu_micros() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
}

/// Put latencies of one run, in microseconds, the longest CPU time of one put, and the
/// jobs that ran meanwhile. On a loaded machine a put's wall time may include waiting
/// for a core; its CPU time does not, and shows the work one put did (a single_thread
/// compaction step's, for one).
struct pauses {
    std::vector<double> micros;
    double longest_cpu = 0;
    std::uint64_t compactions = 0;

    [[nodiscard]] double longest() const {
        return micros.empty() ? 0 : *std::max_element(micros.begin(), micros.end());
    }
    [[nodiscard]] double percentile(double share) {
        if (micros.empty()) return 0;
        const auto at = micros.begin() + static_cast<std::ptrdiff_t>(share * static_cast<double>(micros.size() - 1));
        std::nth_element(micros.begin(), at, micros.end());
        return *at;
    }
};

/// Fills a new store, then overwrites every key twice in a scattered order, timing each put.
template <class Threading>
pauses overwrite(std::uint64_t step_bytes, bool compaction = true, kvforge::options opts = {}) {
    using store_t = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                   kvforge::buffered<>, Threading>;
    const kvbench::scratch_dir dir;
    opts.compaction_step_bytes = step_bytes;
    if (!compaction) opts.compact_dead_ratio = 0;
    if (key_count() < 100000) {
        // The smoke run's store is too small for the default thresholds.
        opts.segment_bytes = std::uint64_t{64} << 10;
        opts.compact_min_bytes = std::uint64_t{64} << 10;
    }
    store_t db((dir.path() / "store").string(), opts);
    const std::string value(100, 'v');
    kvforge::batch<std::string, std::string> fill;
    for (std::size_t i = 0; i < key_count(); ++i) {
        fill.put(key_of(i), value);
        if (fill.size() == 1000) {
            db.write(fill);
            fill.clear();
        }
    }
    db.write(fill);
    db.sync();

    pauses out;
    const std::uint64_t before = db.stats().compactions;
    const std::string newer(100, 'w');
    out.micros.reserve(2 * key_count());
    for (std::size_t i = 0; i < 2 * key_count(); ++i) {
        const std::string key = key_of((i * 7919) % key_count());
        const double cpu_start = thread_cpu_micros();
        const auto start = std::chrono::steady_clock::now();
        db.put(key, newer);
        out.micros.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
        out.longest_cpu = std::max(out.longest_cpu, thread_cpu_micros() - cpu_start);
    }
    out.compactions = db.stats().compactions - before;
    return out;
}

template <class Threading>
void longest_put_during_compaction(benchmark::State& state) {
    pauses whole;
    pauses steps;
    pauses off;
    for (auto _ : state) {
        whole = overwrite<Threading>(0);
        steps = overwrite<Threading>(kvforge::options{}.compaction_step_bytes);
        off = overwrite<Threading>(0, false);
    }
    state.counters["compactions_whole"] = static_cast<double>(whole.compactions);
    state.counters["compactions_steps"] = static_cast<double>(steps.compactions);
    state.counters["max_put_us_whole"] = whole.longest();
    state.counters["max_put_us_steps"] = steps.longest();
    state.counters["p999_put_us_whole"] = whole.percentile(0.999);
    state.counters["p999_put_us_steps"] = steps.percentile(0.999);
    state.counters["max_put_us_off"] = off.longest();
    state.counters["p999_put_us_off"] = off.percentile(0.999);
    state.counters["max_put_cpu_us_whole"] = whole.longest_cpu;
    state.counters["max_put_cpu_us_steps"] = steps.longest_cpu;
    state.counters["max_put_cpu_us_off"] = off.longest_cpu;
    state.counters["max_put_ratio"] = steps.longest() > 0 ? whole.longest() / steps.longest() : 0;
    if constexpr (Threading::concurrent) {
        pauses unbounded;
        pauses nowait;
        kvforge::options waits;
        waits.compaction_stall_micros = std::numeric_limits<std::uint64_t>::max();
        kvforge::options never;
        never.compaction_stall_ratio = 0;
        const std::uint64_t step = kvforge::options{}.compaction_step_bytes;
        unbounded = overwrite<Threading>(step, true, waits);
        nowait = overwrite<Threading>(step, true, never);
        state.counters["max_put_us_unbounded"] = unbounded.longest();
        state.counters["p999_put_us_unbounded"] = unbounded.percentile(0.999);
        state.counters["max_put_us_nowait"] = nowait.longest();
        state.counters["p999_put_us_nowait"] = nowait.percentile(0.999);
    }
}

/// The thread_safe kvforge store that puts_during_compact compacts, with the members of
/// the benchmark engine contract it uses (bench/engine.hpp): automatic compaction off, so
/// that the dead records stay for compact(), which kvforge_engine's default options
/// would not leave.
class kvforge_target {
public:
    explicit kvforge_target(const kvbench::engine_config& config) : db_(config.directory, options()) {}

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        kvforge::batch<std::string, std::string> fill;
        for (const auto& [key, value] : puts) fill.put(key, value);
        db_.write(fill);
    }
    void flush() { db_.sync(); }
    void put(std::string_view key, std::string_view value) { db_.put(key, value); }
    void compact() { db_.compact(); }

private:
    using store_t = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::hash_index,
                                   kvforge::buffered<>, kvforge::thread_safe>;
    static kvforge::options options() {
        kvforge::options opts;
        opts.compact_dead_ratio = 0;
        if (key_count() < 100000) opts.segment_bytes = std::uint64_t{64} << 10;
        return opts;
    }
    store_t db_;
};

/// compact() of a store whose records are half dead, while another thread puts new keys
/// (see the top of this file).
template <class Target>
void puts_during_compact(benchmark::State& state) {
    double longest = 0;
    std::uint64_t during = 0;
    double compact_ms = 0;
    double compact_cpu_ms = 0;
    double longest_after = 0;
    std::uint64_t puts_after = 0;
    for (auto _ : state) {
        const kvbench::scratch_dir dir;
        const std::filesystem::path path = dir.path() / "store";
        std::filesystem::create_directory(path);
        Target db(kvbench::engine_config{path.string()});
        const std::size_t keys = std::max<std::size_t>(key_count() / 2, 1);
        const std::string value(100, 'v');
        std::vector<std::pair<std::string, std::string>> fill;
        for (std::size_t round = 0; round < 2; ++round) {
            for (std::size_t i = 0; i < keys; ++i) {
                fill.emplace_back(key_of((i * 7919) % keys), value);
                if (fill.size() == 1000) {
                    db.write_batch(fill);
                    fill.clear();
                }
            }
            db.write_batch(fill);
            fill.clear();
        }
        db.flush();

        // 0: before compact(), 1: while it runs, 2: as long again after it, 3: done.
        std::atomic<int> phase{0};
        std::atomic<bool> writing{false};
        std::vector<double> overlapping;  // latencies of the puts that overlapped compact()
        std::vector<double> after;        // latencies of the puts made after it
        std::uint64_t completed = 0;      // puts that started and ended while compact() ran
        std::thread writer([&] {
            const std::string newer(100, 'w');
            for (std::size_t i = 0;; ++i) {
                const int before = phase.load();
                if (before == 3) break;
                const auto start = std::chrono::steady_clock::now();
                db.put(key_of((i * 7919) % keys), newer);
                const double micros =
                    std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
                const int now = phase.load();
                writing.store(true);
                if (before == 1 || now == 1) overlapping.push_back(micros);
                if (before == 1 && now == 1) ++completed;
                if (before == 2 && now == 2) after.push_back(micros);
            }
        });
        while (!writing.load()) std::this_thread::yield();  // the writer is going before compact() starts
        phase.store(1);
        const double cpu_start = thread_cpu_micros();
        const auto start = std::chrono::steady_clock::now();
        db.compact();
        const auto took = std::chrono::steady_clock::now() - start;
        compact_cpu_ms = (thread_cpu_micros() - cpu_start) / 1000;
        phase.store(2);
        std::this_thread::sleep_for(took);
        phase.store(3);
        writer.join();
        compact_ms = std::chrono::duration<double, std::milli>(took).count();
        longest = overlapping.empty() ? 0 : *std::max_element(overlapping.begin(), overlapping.end());
        longest_after = after.empty() ? 0 : *std::max_element(after.begin(), after.end());
        during = completed;
        puts_after = after.size();
    }
    state.counters["max_put_us"] = longest;
    state.counters["puts_during"] = static_cast<double>(during);
    state.counters["compact_ms"] = compact_ms;
    // The calling thread's CPU time in compact(): LevelDB's compaction runs on its own
    // background thread, so there this is only the wait's.
    state.counters["compact_cpu_ms"] = compact_cpu_ms;
    state.counters["max_put_us_after"] = longest_after;
    state.counters["puts_after"] = static_cast<double>(puts_after);
}

BENCHMARK_TEMPLATE(puts_during_compact, kvforge_target)->Iterations(1)->Unit(benchmark::kMillisecond);
#ifdef KVFORGE_BENCH_HAVE_LEVELDB
BENCHMARK_TEMPLATE(puts_during_compact, kvbench::leveldb_engine)->Iterations(1)->Unit(benchmark::kMillisecond);
#endif
BENCHMARK_TEMPLATE(longest_put_during_compaction, kvforge::single_thread)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(longest_put_during_compaction, kvforge::thread_safe)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
