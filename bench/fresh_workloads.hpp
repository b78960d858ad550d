#pragma once
// The workloads as users run stores: each in a fresh process that opens the store a
// previous process left, so that nothing a load left in the heap or the index's layout
// flatters the reads. tools/bench_compare.py runs each fresh_ benchmark of an engine in
// a process of its own, in the order they are registered (as below), all on one directory:
//
//   fresh_load        puts of every key in random order into a new engine, then flush()
//                     and close (the engine's destruction), all timed; peak mem is the
//                     load's peak resident memory, disk the files' size after closing
//   fresh_get         open (untimed, but counted as open_ms), then gets of every key in
//                     random order through the plain form, a new std::optional<std::string>
//                     per get; KVFORGE_BENCH_GETS bounds the gets of a pass (the first keys
//                     of the random order), for stores too large to read whole
//   fresh_get_buffer  the same through get(key, buffer), one reused std::string
//   fresh_get_view    the same through visit(key, fn), a view of the stored bytes
//   fresh_get_many    the same through get_many(keys, out), get_many_batch keys a call, into
//                     reused outputs (kvforge; compare with fresh_get_buffer)
//   fresh_scan        open, then full scans in key order through the plain loop: no
//                     compaction since the random-order fill (ordered engines)
//   fresh_scan_descending  the same, largest key first (kvforge; compare with fresh_scan)
//   fresh_overwrite   open, the overwrite workload (a tenth of the keys put ten times with
//                     new values) and flush(), timed; then compact() and close, untimed;
//                     disk_over_live is the files' size after closing over the live bytes
//
// An engine kept in memory only has nothing to open: its fresh_ reads load it first,
// untimed. The directory is KVFORGE_BENCH_STORE_DIR/<engine name>; without that
// variable (a single-process run, as the CTest smoke test) it is a scratch directory
// kept for the life of the process.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "dataset.hpp"
#include "engine.hpp"
#include "measure.hpp"
#include "workloads.hpp"

namespace kvbench {

/// The directory Engine's fresh_ workloads share; emptied first when fresh is true.
template <class Engine>
std::filesystem::path fresh_store_dir(bool fresh) {
    static const scratch_dir fallback;  // a single-process run: one directory for the whole run
    const char* root = std::getenv("KVFORGE_BENCH_STORE_DIR");
    const std::filesystem::path dir =
        ((root != nullptr && *root != '\0') ? std::filesystem::path(root) : fallback.path()) / std::string(Engine::name);
    if (fresh) {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    } else {
        expect(std::filesystem::is_directory(dir) && !std::filesystem::is_empty(dir),
               "no store to open: fresh_load must run first on the same KVFORGE_BENCH_STORE_DIR");
    }
    return dir;
}

/// Closes an engine: its close() where it has one (reporting errors), else its destructor.
template <class Engine>
void close_engine(std::unique_ptr<Engine>& engine) {
    if constexpr (requires { engine->close(); }) engine->close();
    engine.reset();
}

/// Engine opened on the store fresh_load left, the open's time counted as open_ms; an
/// engine kept in memory is loaded instead.
template <class Engine>
std::unique_ptr<Engine> fresh_open(measurement& m) {
    const std::string dir = fresh_store_dir<Engine>(!persistent<Engine>).string();
    const auto opening = std::chrono::steady_clock::now();
    auto engine = std::make_unique<Engine>(engine_config{dir});
    const std::chrono::duration<double, std::milli> opened = std::chrono::steady_clock::now() - opening;
    if constexpr (persistent<Engine>) {
        m.counter("open_ms", opened.count());
    } else {
        load(*engine);
    }
    check_sample(*engine);
    return engine;
}

/// Key's value as a new std::optional<std::string>: the engine's own plain get(key) where
/// it has one, else its get(key, buffer) into a new string.
template <class Engine>
std::optional<std::string> plain_get(Engine& engine, std::string_view key) {
    if constexpr (requires { { engine.get(key) } -> std::same_as<std::optional<std::string>>; }) {
        return engine.get(key);
    } else {
        std::optional<std::string> value(std::in_place);
        if (!engine.get(key, *value)) value.reset();
        return value;
    }
}

template <class Engine>
void fresh_load(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        const std::filesystem::path dir = fresh_store_dir<Engine>(true);
        m.start();
        auto engine = std::make_unique<Engine>(engine_config{dir.string()});
        for (std::size_t i = 0; i < d.count(); ++i) engine->put(d.random_key(i), d.value(d.random_index(i)));
        engine->flush();
        if constexpr (persistent<Engine>) {
            close_engine(engine);
            m.stop(d.count());
            m.counter("disk_bytes", static_cast<double>(disk_bytes(dir)));
        } else {
            m.stop(d.count());  // nothing to close: freeing the memory is not part of a load
            check_sample(*engine);
        }
    });
}

/// How a read workload gets a value.
enum class get_form { plain, buffer, view };

template <class Engine, get_form Form>
void fresh_get(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        const std::unique_ptr<Engine> engine = fresh_open<Engine>(m);
        Engine& db = *engine;
        const std::size_t gets = std::min(d.count(), env_size("KVFORGE_BENCH_GETS", d.count()));
        std::string buffer;
        repeat_timed(m, [&] {
            std::size_t found = 0;
            std::size_t bytes = 0;
            for (std::size_t i = 0; i < gets; ++i) {
                const std::string_view key = d.random_key(i);
                if constexpr (Form == get_form::plain) {
                    const std::optional<std::string> value = plain_get(db, key);
                    if (value) {
                        ++found;
                        bytes += value->size();
                    }
                } else if constexpr (Form == get_form::buffer) {
                    if (db.get(key, buffer)) {
                        ++found;
                        bytes += buffer.size();
                    }
                } else {
                    found += db.visit(key, [&](std::string_view value) { bytes += value.size(); }) ? 1 : 0;
                }
            }
            expect(found == gets && bytes == gets * d.size().value_size, "a stored key is missing");
            return gets;
        });
    });
}

/// Keys per get_many() call in fresh_get_many: what a caller holding a page of requests might pass.
inline constexpr std::size_t get_many_batch = 32;

/// Gets of fresh_get_hot: as many as there are keys, over a hundredth of them.
inline constexpr std::size_t hot_range_share = 100;

/// As fresh_get through a buffer, but over a hot range: a hundredth of the keys, adjacent
/// in key order (recent timestamps, one tenant's rows), each got a hundred times on
/// average in random order. What a block cache serves, and a page cache too.
template <class Engine>
void fresh_get_hot(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        const std::unique_ptr<Engine> engine = fresh_open<Engine>(m);
        const std::size_t hot = std::max<std::size_t>(d.count() / hot_range_share, 1);
        const std::size_t first = (d.count() - hot) / 2;
        std::string buffer;
        repeat_timed(m, [&] {
            std::size_t found = 0;
            for (std::size_t i = 0; i < d.count(); ++i) {
                found += engine->get(d.key(first + scramble(i) % hot), buffer) ? 1 : 0;
            }
            expect(found == d.count(), "a stored key is missing");
            return d.count();
        });
    });
}

template <class Engine>
void fresh_get_many(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        const std::unique_ptr<Engine> engine = fresh_open<Engine>(m);
        std::string_view keys[get_many_batch];
        std::optional<std::string> out[get_many_batch];
        repeat_timed(m, [&] {
            std::size_t found = 0;
            std::size_t bytes = 0;
            for (std::size_t first = 0; first < d.count(); first += get_many_batch) {
                const std::size_t n = std::min(get_many_batch, d.count() - first);
                for (std::size_t i = 0; i < n; ++i) keys[i] = d.random_key(first + i);
                found += engine->get_many({keys, n}, {out, n});
                for (std::size_t i = 0; i < n; ++i) bytes += out[i] ? out[i]->size() : 0;
            }
            expect(found == d.count() && bytes == d.count() * d.size().value_size, "a stored key is missing");
            return d.count();
        });
    });
}

template <class Engine, scan_direction Direction>
void fresh_scan(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const std::unique_ptr<Engine> engine = fresh_open<Engine>(m);
        repeat_timed(m, [&] { return full_scan<Direction>(*engine); });
    });
}

template <class Engine>
void fresh_overwrite(benchmark::State& state) {
    run<Engine>(state, start::fresh, [&](measurement& m) {
        const dataset& d = data();
        std::unique_ptr<Engine> engine = fresh_open<Engine>(m);
        const std::size_t hot = std::max<std::size_t>(d.count() / 10, 1);
        m.start();
        for (std::size_t round = 1; round <= overwrite_rounds; ++round) {
            for (std::size_t i = 0; i < hot; ++i) engine->put(d.random_key(i), d.value(d.random_index(i), round));
        }
        engine->flush();
        m.stop(hot * overwrite_rounds);
        std::string value;
        expect(engine->get(d.random_key(0), value) && value == d.value(d.random_index(0), overwrite_rounds),
               "an overwritten key reads back an old value");
        engine->compact();
        close_engine(engine);
        const double disk = static_cast<double>(disk_bytes(fresh_store_dir<Engine>(false)));
        m.counter("disk_bytes", disk);
        m.counter("disk_over_live", disk / static_cast<double>(d.size().live_bytes()));
    });
}

}  // namespace kvbench
