#pragma once
// The engine contract the benchmark workloads are written against, and kvforge's own
// engine: kvforge_engine<Store> drives one kvforge::store configuration through it.
//
// An engine is a class with: static name, ordered, concurrent and settings; a constructor
// from engine_config that opens or creates; put, get, write_batch, scan (ordered engines),
// flush, compact; static version(). Optional: visit (a view of a value during a call),
// get(key) returning std::optional<std::string>, get_many(keys, out) (kvforge),
// scan_descending (kvforge), close() (else the destructor closes).
// Errors throw std::runtime_error. The peers in bench/peers/ implement the same shape for
// other libraries.

#include <kvforge/index/disk_index.hpp>
#include <kvforge/kvforge.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "dataset.hpp"

namespace kvbench {

/// buffered: the engine's own non-syncing mode; sync_each: every put is on disk when it returns.
enum class durability { buffered, sync_each };

struct engine_config {
    std::string directory;  ///< an existing, empty directory the engine owns
    durability mode = durability::buffered;
};

namespace detail {

/// The name of a kvforge configuration, "store.index[.durability].threading", built at
/// compile time so that it can be the engine's static name.
template <class Store>
class config_name {
    static constexpr bool persistent = Store::persistent;
    static constexpr std::array<std::string_view, 4> parts{
        Store::store_policy::name,
        Store::index_policy::short_name,
        persistent ? Store::durability_policy::name : std::string_view(),
        Store::threading_policy::concurrent ? std::string_view("thread_safe") : std::string_view("single")};

    static constexpr std::size_t length = [] {
        std::size_t n = 0;
        for (std::string_view part : parts) n += part.empty() ? 0 : part.size() + 1;
        return n - 1;
    }();

    static constexpr std::array<char, length> text = [] {
        std::array<char, length> out{};
        std::size_t at = 0;
        for (std::string_view part : parts) {
            if (part.empty()) continue;
            if (at != 0) out[at++] = '.';
            for (char c : part) out[at++] = c;
        }
        return out;
    }();

public:
    static constexpr std::string_view value{text.data(), text.size()};
};

}  // namespace detail

/// One kvforge::store<std::string, std::string, ...> configuration as a benchmark engine.
/// Its durability is the store's policy, fixed at compile time: engine_config::mode must
/// agree with it (sync_each for kvforge::sync_each, buffered for every other policy).
template <class Store>
class kvforge_engine {
    static_assert(std::is_same_v<typename Store::key_type, std::string> &&
                  std::is_same_v<typename Store::mapped_type, std::string>);

public:
    static constexpr std::string_view name = detail::config_name<Store>::value;
    static constexpr bool ordered = Store::index_policy::ordered;
    static constexpr bool concurrent = Store::threading_policy::concurrent;
    static constexpr std::string_view settings =
        requires { Store::index_policy::store_format; }
            ? "kvforge::options{} defaults (sorted tables: a write buffer of segment_bytes, 32 MiB; leveled "
              "compaction, 4 level-0 tables, 64 MiB at level 1, ten times more a level; 4 KiB blocks, 10 Bloom "
              "filter bits a key, an 8 MiB block cache unless KVFORGE_BENCH_BLOCK_CACHE_BYTES says otherwise); buffered<> hands writes to the OS every 4 MiB or 1 s and "
              "flush() hands over the rest"
            : "kvforge::options{} defaults (automatic compaction at 30% dead bytes over 4 MiB, "
              "a sorted index's closed segments rewritten in key order, hint file at close); "
              "buffered<> hands writes to the OS every 4 MiB or 1 s and flush() hands over the rest; "
              "async_worker<> flush() waits for the last put to be durable";
    /// The durability mode this configuration runs in.
    static constexpr durability mode =
        std::is_same_v<typename Store::durability_policy, kvforge::sync_each> ? durability::sync_each
                                                                             : durability::buffered;

    explicit kvforge_engine(const engine_config& config) {
        if (config.mode != mode) throw std::runtime_error(std::string(name) + ": durability is fixed by the store type");
        if constexpr (requires { Store::index_policy::store_format; }) {
            kvforge::options opts;
            opts.block_cache_bytes = env_size("KVFORGE_BENCH_BLOCK_CACHE_BYTES", opts.block_cache_bytes, 0);
            store_.open(config.directory, opts);
        } else if constexpr (Store::persistent) {
            store_.open(config.directory);
        }
    }

    void put(std::string_view key, std::string_view value) {
        if constexpr (Store::sequenced) {
            note_written(store_.put(key, value));
        } else {
            store_.put(key, value);
        }
    }

    bool get(std::string_view key, std::string& value) { return store_.get(key, value); }

    /// The plain form users call: a new std::optional<std::string> per get.
    std::optional<std::string> get(std::string_view key) { return store_.get(key); }

    /// Gets every key of keys into out at once; returns how many were found.
    std::size_t get_many(std::span<const std::string_view> keys, std::span<std::optional<std::string>> out) {
        return store_.get_many(keys, out);
    }

    /// Calls fn(std::string_view) with the stored bytes, copying nothing; false when missing.
    template <class Fn>
    bool visit(std::string_view key, Fn&& fn) {
        return store_.visit(key, std::forward<Fn>(fn));
    }

    /// One thread at a time: the batch object is reused.
    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        batch_.clear();
        for (const auto& [key, value] : puts) batch_.put(key, value);
        if constexpr (Store::sequenced) {
            note_written(store_.write(batch_));
        } else {
            store_.write(batch_);
        }
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        return scan_in(kvforge::ascending, visit);
    }

    /// Every record, largest key first.
    template <class Visit>
        requires ordered
    std::size_t scan_descending(Visit&& visit) {
        return scan_in(kvforge::descending, visit);
    }

    void flush() {
        if constexpr (Store::sequenced) {
            store_.wait_durable(last_sequence_.load());
        } else {
            store_.flush();
        }
    }

    void compact() { store_.compact(); }

    /// Closes a persistent store as users do, reporting its errors; a memory store has nothing to close.
    void close() {
        if constexpr (Store::persistent) store_.close();
    }

    static std::string version() {
        return std::to_string(KVFORGE_VERSION_MAJOR) + "." + std::to_string(KVFORGE_VERSION_MINOR) + "." +
               std::to_string(KVFORGE_VERSION_PATCH);
    }

private:
    template <class Visit>
    std::size_t scan_in(kvforge::scan_order order, Visit& visit) {
        std::size_t count = 0;
        for (const auto& [key, value] : store_.scan(order)) {
            visit(std::string_view(key), std::string_view(value));
            ++count;
        }
        return count;
    }

    /// Keeps the highest sequence number written, which flush() waits for under
    /// async_worker; atomic, since concurrent engines put from several threads.
    void note_written(std::uint64_t sequence) {
        std::uint64_t seen = last_sequence_.load();
        while (seen < sequence && !last_sequence_.compare_exchange_weak(seen, sequence)) {
        }
    }

    Store store_;
    typename Store::batch_type batch_;  // reused, so a batch costs no allocation once it has grown
    std::atomic<std::uint64_t> last_sequence_{0};
};

}  // namespace kvbench
