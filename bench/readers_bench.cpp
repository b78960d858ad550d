// Readers beside a writer (docs/guide.md, "Readers beside a writer"), on a file_log
// store of KVFORGE_BENCH_KEYS records (16-byte keys, 100-byte values), each figure beside
// its baseline of the same run:
//
//   reader_open/idle               a read-only open (and close) with no writer
//   reader_open/writer_running     the same while a writer process overwrites keys
//   refresh_after_compaction       refresh() after the writer's automatic compaction
//                                  rewrote the segments of 2% of the keys, overwritten
//                                  since; applied: the records the refresh applied
//   refresh_after_1000             refresh() of a reader after the writer put 1,000 new
//                                  records (flushed); their putting is not timed
//   reopen_after_1000              what a reader pays without refresh(): a new open
//   expiring_refresh_after_1000,   the same two of an expiring store, the new records
//   expiring_reopen_after_1000     with a time to live: refresh() also moves their
//                                  entries in the deadline index
//   writer_puts/readers:0, :4      the writer's puts with no reader, and with four
//                                  reader processes refreshing in a loop: puts per second
//                                  (items_per_second) and the longest put (max_put_us)
//   rocksdb_open_read_only         RocksDB's DB::OpenForReadOnly of the same records
//   rocksdb_catch_up_after_1000    a RocksDB secondary's TryCatchUpWithPrimary() after
//                                  its primary put 1,000 records
//
//   KVFORGE_BENCH_KEYS  records in the stores (default 1,000,000; CTest's smoke run: 2000)
//   KVFORGE_BENCH_DIR   where the stores live (default /var/tmp)

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <kvforge/kvforge.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#if defined(KVFORGE_BENCH_HAVE_ROCKSDB)
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#endif

#include "measure.hpp"

namespace {

using log_store = kvforge::store<std::string, std::string, kvforge::file_log>;
/// The same with expiry: its refresh() also keeps the deadline index in step.
using expiring_log_store = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::expiring<>>;

std::size_t key_count() {
    const char* configured = std::getenv("KVFORGE_BENCH_KEYS");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 1000000;
}

std::string key_of(std::size_t i) {
    char key[24];
    std::snprintf(key, sizeof key, "k%015llu", static_cast<unsigned long long>(i));
    return key;
}

const std::string& value_of() {
    static const std::string value(100, 'v');
    return value;
}

kvforge::options read_only() {
    kvforge::options opts;
    opts.read_only = true;
    return opts;
}

/// A store of type Store, filled once with key_count() records and closed; shared by
/// the benchmarks.
template <class Store = log_store>
const std::string& filled_store() {
    static kvbench::scratch_dir dir;
    static const std::string path = [] {
        const std::string at = (dir.path() / "store").string();
        Store db(at);
        typename Store::batch_type fill;
        for (std::size_t i = 0; i < key_count(); ++i) {
            fill.put(key_of(i), value_of());
            if (fill.size() == 1000) {
                db.write(fill);
                fill.clear();
            }
        }
        db.write(fill);
        return at;
    }();
    return path;
}

/// Child processes, each running body until the benchmark ends them with SIGKILL (a
/// killed writer leaves at most a torn tail, which the next writer's open cuts).
class children {
public:
    template <class Body>
    void start(Body&& body) {
        const pid_t child = ::fork();
        if (child == 0) {
            body();
            std::_Exit(0);
        }
        pids_.push_back(child);
    }
    ~children() {
        for (const pid_t pid : pids_) ::kill(pid, SIGKILL);
        for (const pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
    }

private:
    std::vector<pid_t> pids_;
};

/// A flag shared with child processes: set once they have started their loop.
std::atomic<int>* shared_counter() {
    void* memory = ::mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return new (memory) std::atomic<int>(0);
}

/// Waits until count child processes have said they started.
void wait_started(const std::atomic<int>& started, int count) {
    while (started.load() < count) ::sched_yield();
}

/// A writer process overwriting keys in a loop.
void start_writer(children& processes, const std::string& path, std::atomic<int>& started) {
    processes.start([&] {
        log_store db(path);
        started.fetch_add(1);
        for (std::size_t i = 0;; ++i) db.put(key_of(i % key_count()), value_of());
    });
}

void reader_open(benchmark::State& state) {
    const std::string& path = filled_store();
    children processes;
    std::atomic<int>& started = *shared_counter();
    if (state.range(0) != 0) {
        start_writer(processes, path, started);
        wait_started(started, 1);
    }
    for (auto _ : state) {
        log_store reader(path, read_only());
        benchmark::DoNotOptimize(reader.size());
    }
    state.counters["keys"] = static_cast<double>(key_count());
}
BENCHMARK(reader_open)->ArgName("writer_running")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

/// refresh() after the writer's automatic compaction rewrote part of the store: the
/// writer overwrites the first overwritten_keys keys 1,000 at a time (in 4 MiB segments,
/// the reader refreshing untimed after each 1,000), until a compaction job completes;
/// the refresh after that job is timed. applied: the records it applied. It runs before
/// the benchmarks that erase keys: their tombstones would be in its compactions' outputs.
void refresh_after_compaction(benchmark::State& state) {
    const std::string& path = filled_store();
    const std::size_t overwritten_keys = std::max<std::size_t>(key_count() / 50, 1000);
    kvforge::options small_segments;
    small_segments.segment_bytes = std::uint64_t{4} << 20;
    small_segments.compact_min_bytes = 0;
    log_store writer(path, small_segments);
    log_store reader(path, read_only());
    std::size_t next = 0;
    std::uint64_t applied = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const std::uint64_t compactions = writer.stats().compactions;
        // Each segment of overwrites is dead once the next is written: a compaction
        // comes within a few segments, or something is wrong.
        for (std::size_t round = 0; writer.stats().compactions == compactions; ++round) {
            if (round == 1000) {
                state.SkipWithError("no automatic compaction after 1,000,000 overwrites");
                return;
            }
            reader.refresh();
            for (int i = 0; i < 1000; ++i) writer.put(key_of(next++ % overwritten_keys), value_of());
            writer.flush();
        }
        state.ResumeTiming();
        applied += reader.refresh();
    }
    state.counters["applied"] = static_cast<double>(applied) / static_cast<double>(state.iterations());
    state.counters["keys"] = static_cast<double>(key_count());
}
BENCHMARK(refresh_after_compaction)->Iterations(3)->Unit(benchmark::kMillisecond);

/// refresh() (or, with reopen, a new open) after the writer put 1,000 new records (with
/// an expiring store, each with a time to live of an hour).
template <class Store>
void after_1000(benchmark::State& state, bool reopen) {
    const std::string& path = filled_store<Store>();
    Store writer(path);
    auto reader = std::make_unique<Store>(path, read_only());
    std::size_t next = key_count();
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < 1000; ++i) {
            if constexpr (std::is_same_v<Store, expiring_log_store>) {
                writer.put(key_of(next++), value_of(), std::chrono::hours(1));
            } else {
                writer.put(key_of(next++), value_of());
            }
        }
        writer.flush();
        state.ResumeTiming();
        if (reopen) {
            reader = std::make_unique<Store>(path, read_only());
        } else {
            benchmark::DoNotOptimize(reader->refresh());
        }
    }
    // The store goes back to key_count() records for the benchmarks after this one.
    for (std::size_t i = key_count(); i < next; ++i) writer.erase(key_of(i));
}
void plain_after_1000(benchmark::State& state, bool reopen) { after_1000<log_store>(state, reopen); }
void expiring_after_1000(benchmark::State& state, bool reopen) { after_1000<expiring_log_store>(state, reopen); }
BENCHMARK_CAPTURE(plain_after_1000, refresh, false)->Name("refresh_after_1000")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(plain_after_1000, reopen, true)->Name("reopen_after_1000")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(expiring_after_1000, refresh, false)
    ->Name("expiring_refresh_after_1000")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(expiring_after_1000, reopen, true)
    ->Name("expiring_reopen_after_1000")
    ->Unit(benchmark::kMillisecond);

/// The writer's puts beside state.range(0) reader processes refreshing in a loop.
void writer_puts(benchmark::State& state) {
    const std::string& path = filled_store();
    const auto readers = static_cast<int>(state.range(0));
    children processes;
    std::atomic<int>& started = *shared_counter();
    // The readers are forked before the writer opens, so that they hold none of its files.
    for (int r = 0; r < readers; ++r) {
        processes.start([&] {
            log_store reader(path, read_only());
            started.fetch_add(1);
            for (;;) reader.refresh();
        });
    }
    wait_started(started, readers);
    log_store writer(path);
    double longest = 0;
    std::size_t i = 0;
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        writer.put(key_of(i++ % key_count()), value_of());
        longest = std::max(longest, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["max_put_us"] = longest;
}
BENCHMARK(writer_puts)->ArgName("readers")->Arg(0)->Arg(4)->Iterations(200000);

#if defined(KVFORGE_BENCH_HAVE_ROCKSDB)
/// RocksDB holding the same records, filled once.
const std::string& filled_rocksdb() {
    static kvbench::scratch_dir dir;
    static const std::string path = [] {
        const std::string at = (dir.path() / "rocksdb").string();
        rocksdb::Options options;
        options.create_if_missing = true;
        rocksdb::DB* opened = nullptr;
        if (!rocksdb::DB::Open(options, at, &opened).ok()) std::abort();
        std::unique_ptr<rocksdb::DB> db(opened);
        rocksdb::WriteBatch fill;
        for (std::size_t i = 0; i < key_count(); ++i) {
            fill.Put(key_of(i), value_of());
            if (fill.Count() == 1000) {
                db->Write(rocksdb::WriteOptions(), &fill);
                fill.Clear();
            }
        }
        db->Write(rocksdb::WriteOptions(), &fill);
        return at;
    }();
    return path;
}

void rocksdb_open_read_only(benchmark::State& state) {
    const std::string& path = filled_rocksdb();
    for (auto _ : state) {
        rocksdb::DB* opened = nullptr;
        if (!rocksdb::DB::OpenForReadOnly(rocksdb::Options(), path, &opened).ok()) {
            state.SkipWithError("OpenForReadOnly failed");
            break;
        }
        delete opened;
    }
}
BENCHMARK(rocksdb_open_read_only)->Unit(benchmark::kMillisecond);

void rocksdb_catch_up_after_1000(benchmark::State& state) {
    const std::string& path = filled_rocksdb();
    kvbench::scratch_dir secondary_dir;
    rocksdb::DB* opened = nullptr;
    if (!rocksdb::DB::Open(rocksdb::Options(), path, &opened).ok()) {
        state.SkipWithError("Open failed");
        return;
    }
    std::unique_ptr<rocksdb::DB> primary(opened);
    rocksdb::Options secondary_options;
    secondary_options.max_open_files = -1;
    if (!rocksdb::DB::OpenAsSecondary(secondary_options, path, secondary_dir.path().string(), &opened).ok()) {
        state.SkipWithError("OpenAsSecondary failed");
        return;
    }
    std::unique_ptr<rocksdb::DB> secondary(opened);
    std::size_t next = key_count();
    for (auto _ : state) {
        state.PauseTiming();
        for (int i = 0; i < 1000; ++i) primary->Put(rocksdb::WriteOptions(), key_of(next++), value_of());
        primary->FlushWAL(false);
        state.ResumeTiming();
        if (!secondary->TryCatchUpWithPrimary().ok()) {
            state.SkipWithError("TryCatchUpWithPrimary failed");
            break;
        }
    }
}
BENCHMARK(rocksdb_catch_up_after_1000)->Unit(benchmark::kMicrosecond);
#endif

}  // namespace

BENCHMARK_MAIN();
