#pragma once
// The workloads, each a template over an engine (see engine.hpp) and run as one iteration
// with manual timing: setup (a fresh engine, or the loaded one the read workloads share)
// is left out of the time, and so are most checks that the engine returned what was
// stored. Read workloads repeat their pass over the keys for at least read_millis().
//
// Counters besides items_per_second (operations per second of wall time):
//   allocs_per_op   heap allocations during the timed part, per operation
//   peak_mem        peak resident bytes above the resident bytes when the benchmark began,
//                   up to the end of its last timed part
//   disk_bytes      bytes of the engine's files after flush() (reopen: after closing)
//   disk_over_live  disk_bytes over the bytes of the keys and values held (overwrite)
//   fdatasync_limit durable appends per second measured just before (sync workloads)
//   of_limit        the workload's ops/s over that fdatasync_limit

#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "dataset.hpp"
#include "engine.hpp"
#include "measure.hpp"

namespace kvbench {

/// Whether an engine keeps its records in files (false for in-memory references).
/// Engines without files specialise it.
template <class Engine>
inline constexpr bool persistent = true;

template <class Store>
inline constexpr bool persistent<kvforge_engine<Store>> = Store::persistent;

/// The durability modes an engine can run in: both for engines that take it at open,
/// one for a kvforge configuration (its durability policy is part of its type).
template <class Engine>
constexpr bool supports(durability mode) {
    if constexpr (requires { Engine::mode; }) {
        return Engine::mode == mode;
    } else {
        return true;
    }
}

/// Puts per sync_each benchmark: each waits for the disk, so a thousand take seconds.
inline std::size_t sync_puts() { return std::min(env_size("KVFORGE_BENCH_SYNC_PUTS", 1000), data().count()); }

/// The least time a read workload is timed for, repeating its pass over the keys: one pass
/// over a small store is too short to time on a busy machine (KVFORGE_BENCH_READ_MS).
inline std::size_t read_millis() { return env_size("KVFORGE_BENCH_READ_MS", 500, 0); }

/// Rounds of the overwrite workload, each rewriting a tenth of the keys.
constexpr std::size_t overwrite_rounds = 10;

/// An engine open in a directory of its own.
template <class Engine>
class instance {
public:
    explicit instance(durability mode) : config_{dir_.path().string(), mode} { open(); }

    Engine& operator*() { return *engine_; }
    Engine* operator->() { return engine_.get(); }

    void open() { engine_ = std::make_unique<Engine>(config_); }
    void close() { engine_.reset(); }
    [[nodiscard]] std::uint64_t disk_bytes() const { return kvbench::disk_bytes(dir_.path()); }

private:
    scratch_dir dir_;
    engine_config config_;
    std::unique_ptr<Engine> engine_;
};

/// The engine loaded with every key that the read workloads of one engine share, so
/// that each engine is loaded once rather than once per workload.
class shared_slot {
public:
    template <class Engine>
    static instance<Engine>* find() {
        return owner() == &tag<Engine> ? static_cast<instance<Engine>*>(held().get()) : nullptr;
    }
    template <class Engine>
    static void keep(std::unique_ptr<instance<Engine>> loaded) {
        release();
        held() = std::shared_ptr<void>(std::move(loaded));
        owner() = &tag<Engine>;
    }
    /// Drops the shared engine unless it is an Engine, so that it does not weigh on memory figures.
    template <class Engine>
    static void keep_only() {
        if (owner() != &tag<Engine>) release();
    }
    static void release() {
        held().reset();
        owner() = nullptr;
    }

private:
    template <class Engine>
    static constexpr char tag = 0;
    static std::shared_ptr<void>& held() {
        static std::shared_ptr<void> engine;
        return engine;
    }
    static const void*& owner() {
        static const void* which = nullptr;
        return which;
    }
};

/// Times one part of a benchmark and turns what it did into counters.
class measurement {
public:
    explicit measurement(benchmark::State& state) : state_(state) {}

    /// Starts the clock and the allocation count.
    void start() {
        allocations_ = allocation_count();
        cpu_clock_ = cpu_stopwatch();
        clock_ = stopwatch();
    }
    /// Stops them, adding to the benchmark's totals; returns the part's seconds.
    double stop(std::size_t operations) {
        const double seconds = clock_.seconds();
        cpu_seconds_ += cpu_clock_.seconds();
        clocked_seconds_ += seconds;
        allocated_ += allocation_count() - allocations_;
        add(seconds, operations);
        return seconds;
    }
    /// Adds a part timed elsewhere.
    void add(double seconds, std::size_t operations) {
        seconds_ += seconds;
        operations_ += operations;
        // The peak as each part ends: the untimed checks after the last one (a sample of
        // keys read back, which maps pages of a store's files) are not the workload's.
        peak_resident_ = std::max(peak_resident_, peak_resident_bytes());
    }
    void counter(const char* name, double value) { state_.counters[name] = value; }
    /// The process's peak resident bytes (VmHWM) as of the end of the last timed part.
    [[nodiscard]] std::uint64_t peak_resident() const noexcept { return peak_resident_; }

    /// Sets the iteration time and the per-operation counters.
    void finish() {
        state_.SetIterationTime(seconds_);
        state_.SetItemsProcessed(static_cast<std::int64_t>(operations_));
        counter("allocs_per_op", static_cast<double>(allocated_) / static_cast<double>(operations_));
        // The process's CPU time over the wall time of its timed parts. Well below 1 for a
        // single-threaded workload in memory, the process waited for a core that others held
        // (a busy machine), and its wall-clock figure says more about them than about it.
        if (clocked_seconds_ > 0) counter("cpu_per_wall", cpu_seconds_ / clocked_seconds_);
    }

private:
    benchmark::State& state_;
    stopwatch clock_;
    cpu_stopwatch cpu_clock_;
    double seconds_ = 0;
    double cpu_seconds_ = 0;      // CPU time of the parts timed by start() and stop()
    double clocked_seconds_ = 0;  // and their wall time (seconds_ also counts add()ed parts)
    std::uint64_t allocations_ = 0;
    std::uint64_t allocated_ = 0;
    std::size_t operations_ = 0;
    std::uint64_t peak_resident_ = 0;
};

/// Times pass(), which returns how many operations it did, over and over until
/// read_millis() have been timed (at least once).
template <class Pass>
void repeat_timed(measurement& m, Pass&& pass) {
    double timed = 0;
    do {
        m.start();
        const std::size_t operations = pass();
        timed += m.stop(operations);
    } while (timed * 1000 < static_cast<double>(read_millis()));
}

/// Benchmarks that failed so far; the binary's exit status reports them.
inline std::size_t failed_benchmarks = 0;

/// Whether a workload starts from a fresh engine or uses the shared loaded one.
enum class start { fresh, shared };

/// Runs body(measurement&) as the benchmark's one iteration, after dropping every shared
/// engine it does not use and resetting the peak memory; an exception fails the benchmark.
template <class Engine, class Body>
void run(benchmark::State& state, start from, Body&& body) {
    if (from == start::fresh) {
        shared_slot::release();
    } else {
        shared_slot::keep_only<Engine>();
    }
    ::malloc_trim(0);
    reset_peak_memory();
    const std::uint64_t resident_at_start = resident_bytes();
    for (auto _ : state) {
        measurement m(state);
        try {
            body(m);
        } catch (const std::exception& e) {
            shared_slot::release();  // it may be left closed or half written
            ++failed_benchmarks;
            state.SkipWithError(e.what());
            break;
        }
        m.finish();
        // The kernel's resident counts are updated lazily, so the peak can read a page or two low.
        const std::uint64_t peak = std::max(m.peak_resident(), resident_at_start);
        m.counter("peak_mem", static_cast<double>(peak - resident_at_start));
    }
}

inline void expect(bool condition, const char* what) {
    if (!condition) throw std::runtime_error(what);
}

/// Puts every key in random order (the load the read workloads share) and flushes.
template <class Engine>
void load(Engine& engine) {
    const dataset& d = data();
    for (std::size_t i = 0; i < d.count(); ++i) engine.put(d.random_key(i), d.value(d.random_index(i)));
    engine.flush();
}

/// The shared loaded engine, loading it first when an earlier workload has not.
template <class Engine>
instance<Engine>& loaded() {
    if (instance<Engine>* found = shared_slot::find<Engine>()) return *found;
    auto fresh = std::make_unique<instance<Engine>>(durability::buffered);
    load(**fresh);
    shared_slot::keep(std::move(fresh));
    return *shared_slot::find<Engine>();
}

/// Checks, untimed, that a sample of keys reads back with the values they were given.
template <class Engine>
void check_sample(Engine& engine) {
    const dataset& d = data();
    std::string value;
    const std::size_t step = d.count() / 1000 + 1;
    for (std::size_t i = 0; i < d.count(); i += step) {
        expect(engine.get(d.key(i), value), "a stored key is missing");
        expect(value == d.value(i), "a stored key reads back a wrong value");
    }
}

/// Puts every key, in key order or in random order, then flushes; after the random
/// order the engine is shared with the read workloads.
template <class Engine, bool Random>
void put_all(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        auto db = std::make_unique<instance<Engine>>(durability::buffered);
        m.start();
        for (std::size_t i = 0; i < d.count(); ++i) {
            const std::size_t n = Random ? d.random_index(i) : i;
            (*db)->put(d.key(n), d.value(n));
        }
        (*db)->flush();
        m.stop(d.count());
        if constexpr (persistent<Engine>) m.counter("disk_bytes", static_cast<double>(db->disk_bytes()));
        check_sample(**db);
        if (Random) shared_slot::keep(std::move(db));
    });
}

/// Atomic batches of 1,000 puts covering every key in random order.
template <class Engine>
void batch_put(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        instance<Engine> db(durability::buffered);
        std::vector<std::pair<std::string, std::string>> batch;
        for (std::size_t first = 0; first < d.count(); first += 1000) {
            batch.clear();
            for (std::size_t i = first; i < std::min(first + 1000, d.count()); ++i) {
                batch.emplace_back(d.random_key(i), d.value(d.random_index(i)));
            }
            m.start();
            db->write_batch(batch);
            m.stop(batch.size());
        }
        m.start();
        db->flush();
        m.stop(0);
        check_sample(*db);
    });
}

/// Gets of every stored key, in random order or in key order; reads into one reused string.
template <class Engine, bool Random>
void get_all(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        Engine& db = *loaded<Engine>();
        std::string value;
        repeat_timed(m, [&] {
            std::size_t found = 0;
            for (std::size_t i = 0; i < d.count(); ++i) {
                found += db.get(Random ? d.random_key(i) : d.key(i), value) ? 1 : 0;
            }
            expect(found == d.count(), "a stored key is missing");
            return d.count();
        });
    });
}

/// Gets of every stored key in random order through the engine's zero-copy visit().
template <class Engine>
void view_get(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        Engine& db = *loaded<Engine>();
        repeat_timed(m, [&] {
            std::size_t bytes = 0;
            std::size_t found = 0;
            for (std::size_t i = 0; i < d.count(); ++i) {
                found += db.visit(d.random_key(i), [&](std::string_view value) { bytes += value.size(); }) ? 1 : 0;
            }
            expect(found == d.count() && bytes == d.count() * d.size().value_size, "a stored key is missing");
            return d.count();
        });
    });
}

/// Gets of as many keys that were never stored.
template <class Engine>
void missing_get(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        Engine& db = *loaded<Engine>();
        std::string value;
        repeat_timed(m, [&] {
            std::size_t found = 0;
            for (std::size_t i = 0; i < d.count(); ++i) found += db.get(d.missing_key(i), value) ? 1 : 0;
            expect(found == 0, "a key never stored was found");
            return d.count();
        });
    });
}

/// The order of a full scan: ascending (every ordered engine) or descending (scan_descending).
enum class scan_direction { ascending, descending };

/// One full scan of engine in Direction, checked to return every record once; returns the count.
template <scan_direction Direction, class Engine>
std::size_t full_scan(Engine& engine) {
    const dataset& d = data();
    std::size_t bytes = 0;
    const auto visit = [&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); };
    std::size_t count = 0;
    if constexpr (Direction == scan_direction::ascending) {
        count = engine.scan(visit);
    } else {
        count = engine.scan_descending(visit);
    }
    expect(count == d.count() && bytes == d.size().live_bytes(), "the scan did not return every record once");
    return count;
}

/// A full scan in key order, after a full compaction (untimed) where the engine has one.
template <class Engine, scan_direction Direction>
void ordered_scan(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        Engine& db = *loaded<Engine>();
        db.compact();
        repeat_timed(m, [&] { return full_scan<Direction>(db); });
    });
}

/// Closes the loaded engine (untimed) and opens it again from its files.
template <class Engine>
void reopen(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        instance<Engine>& db = loaded<Engine>();
        db.close();
        m.counter("disk_bytes", static_cast<double>(db.disk_bytes()));
        m.start();
        db.open();
        m.stop(d.count());
        check_sample(*db);
    });
}

/// Rewrites a tenth of the keys overwrite_rounds times with new values, then flushes;
/// compares the bytes on disk, after whatever compaction the engine did by itself, with
/// the bytes of the live keys and values.
template <class Engine>
void overwrite(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        Engine& db = *loaded<Engine>();
        const std::size_t hot = std::max<std::size_t>(d.count() / 10, 1);
        m.start();
        for (std::size_t round = 1; round <= overwrite_rounds; ++round) {
            for (std::size_t i = 0; i < hot; ++i) db.put(d.random_key(i), d.value(d.random_index(i), round));
        }
        db.flush();
        m.stop(hot * overwrite_rounds);
        if constexpr (persistent<Engine>) {
            const double disk = static_cast<double>(loaded<Engine>().disk_bytes());
            m.counter("disk_bytes", disk);
            m.counter("disk_over_live", disk / static_cast<double>(d.size().live_bytes()));
        }
        std::string value;
        expect(db.get(d.random_key(0), value) && value == d.value(d.random_index(0), overwrite_rounds),
               "an overwritten key reads back an old value");
    });
}

/// Runs fn(first, last) on threads threads at once, splitting [0, count) between them.
template <class Fn>
void on_threads(std::size_t threads, std::size_t count, Fn&& fn) {
    std::vector<std::thread> running;
    std::vector<std::exception_ptr> failures(threads);
    for (std::size_t t = 0; t < threads; ++t) {
        running.emplace_back([&, t] {
            try {
                fn(count * t / threads, count * (t + 1) / threads);
            } catch (...) {
                failures[t] = std::current_exception();
            }
        });
    }
    for (auto& thread : running) thread.join();
    for (const auto& failure : failures) {
        if (failure) std::rethrow_exception(failure);
    }
}

/// Every key put in random order by two threads at once, each taking half; the engine is
/// then shared with two_thread_get.
template <class Engine>
void two_thread_put(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        auto db = std::make_unique<instance<Engine>>(durability::buffered);
        Engine& engine = **db;
        m.start();
        on_threads(2, d.count(), [&](std::size_t first, std::size_t last) {
            for (std::size_t i = first; i < last; ++i) engine.put(d.random_key(i), d.value(d.random_index(i)));
        });
        engine.flush();
        m.stop(d.count());
        check_sample(engine);
        shared_slot::keep(std::move(db));
    });
}

/// Every key got in random order by two threads at once, each taking half.
template <class Engine>
void two_thread_get(benchmark::State& state) {
    run<Engine>(state, start::shared, [&](measurement& m) {
        const dataset& d = data();
        Engine& db = *loaded<Engine>();
        repeat_timed(m, [&] {
            std::atomic<std::size_t> found{0};
            on_threads(2, d.count(), [&](std::size_t first, std::size_t last) {
                std::string value;
                std::size_t mine = 0;
                for (std::size_t i = first; i < last; ++i) mine += db.get(d.random_key(i), value) ? 1 : 0;
                found += mine;
            });
            expect(found == d.count(), "a stored key is missing");
            return d.count();
        });
    });
}

/// Seconds taken to write count records of a key and a value each, one after the other
/// with pwrite, each made durable with fdatasync, into a new file at path. Appending grows
/// the file, so each fdatasync also commits its new size; with preallocated the file's
/// space is allocated first (fallocate), so only data is flushed, as in engines that
/// preallocate their logs.
inline double durable_appends(const std::filesystem::path& path, std::size_t count, bool preallocated) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    expect(fd >= 0, "cannot create the fdatasync test file");
    const std::string record(data().size().key_size + data().size().value_size, 'r');
    bool ok = !preallocated ||
              (::fallocate(fd, 0, 0, static_cast<off_t>(count * record.size())) == 0 && ::fsync(fd) == 0);
    const stopwatch clock;
    for (std::size_t i = 0; i < count && ok; ++i) {
        const auto offset = static_cast<off_t>(i * record.size());
        ok = ::pwrite(fd, record.data(), record.size(), offset) == static_cast<ssize_t>(record.size()) &&
             ::fdatasync(fd) == 0;
    }
    const double seconds = clock.seconds();
    ::close(fd);
    expect(ok, "fallocate, pwrite or fdatasync failed");
    return seconds;
}

/// sync_puts() puts in sync_each mode, each on disk when it returns, from Threads threads.
/// The disk's speed drifts (more so on shared virtual disks), so the fdatasync limit is
/// measured again just before, untimed, and the puts' rate is also given as its share of it.
template <class Engine, std::size_t Threads>
void sync_put(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        const std::size_t puts = sync_puts();
        double limit = 0;
        {
            const scratch_dir probe;
            limit = static_cast<double>(puts) / durable_appends(probe.path() / "append", puts, false);
        }
        instance<Engine> db(durability::sync_each);
        Engine& engine = *db;
        m.start();
        on_threads(Threads, puts, [&](std::size_t first, std::size_t last) {
            for (std::size_t i = first; i < last; ++i) engine.put(d.random_key(i), d.value(d.random_index(i)));
        });
        const double seconds = m.stop(puts);
        m.counter("fdatasync_limit", limit);
        m.counter("of_limit", static_cast<double>(puts) / seconds / limit);
        db.close();
        db.open();
        std::string value;
        expect(db->get(d.random_key(puts - 1), value), "a synced put is missing after reopening");
    });
}

/// The physical limit of durable writes: sync_puts() durable_appends() to a file in the bench directory.
template <bool Preallocated>
void fdatasync_limit(benchmark::State& state) {
    run<void>(state, start::fresh, [&](measurement& m) {
        const scratch_dir dir;
        m.add(durable_appends(dir.path() / "append", sync_puts(), Preallocated), sync_puts());
    });
}

}  // namespace kvbench
