#pragma once
/// \file bounded.hpp
/// kvforge::bounded: a memory store that is a cache, held within a byte budget.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include "../batch.hpp"
#include "../concepts.hpp"
#include "../detail/assign_bytes.hpp"
#include "../detail/write_version.hpp"
#include "../error.hpp"
#include "../options.hpp"
#include "../stats.hpp"
#include "cache_table.hpp"
#include "s3fifo.hpp"

namespace kvforge {

namespace detail {

/// The byte-level store behind store<K, V, memory, bounded<E>, ...>: the memory store's
/// operations over a cache_table, which evicts to stay within options::memory_budget.
template <class Policies, class Eviction>
class bounded_backend {
    using table_type = typename Policies::index::table;
    using cache_type = cache_table<table_type, Eviction>;
    using mutex_type = typename Policies::threading::mutex_type;
    using counter_type = typename Policies::threading::counter_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;

public:
    static constexpr bool sequenced = false;

    /// Takes options::memory_budget; until it succeeds, every write fails.
    void configure(const kvforge::options& opts, std::error_code& ec) {
        const write_lock lock(mutex_);
        cache_.set_budget(opts.memory_budget, "memory_budget", ec);
    }

    /// Keeps a layer's companion structure in step with the entries the cache evicts,
    /// and counts its memory within the budget (cache_companion).
    void set_companion(cache_companion companion) {
        const write_lock lock(mutex_);
        cache_.set_companion(companion);
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        const write_lock lock(mutex_);
        if (!admissible(key, value, ec)) return 0;
        version_.bump();
        cache_.put(key, value);
        version_.bump();
        puts_.add(1);
        return 0;
    }

    bool erase(std::string_view key, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        const bool erased = cache_.erase(key);
        if (erased) {
            version_.bump();
            erases_.add(1);
        }
        return erased;
    }

    /// Applies a batch under one lock, so readers see all of it or none of it, and keeps
    /// it whole: the keys it puts are not evicted to make room for each other, others are.
    /// Refuses the whole batch, changing nothing, with errc::value_too_large, when one of
    /// its entries cannot fit in the budget, or when all the entries it leaves (each key's
    /// last put) could not be held at once by a cache holding nothing else.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        const write_lock lock(mutex_);
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            if (op == batch_op::put && !ec) admissible(key, value, ec);
        });
        if (ec) return 0;
        // Each key's last operation decides what the batch leaves: its value, or none.
        std::unordered_map<std::string_view, std::optional<std::string_view>> last;
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            last.insert_or_assign(key, op == batch_op::put ? std::optional(value) : std::nullopt);
        });
        const auto for_each_put = [&](auto&& on_entry) {
            for (const auto& [key, value] : last) {
                if (value) on_entry(key, *value);
            }
        };
        if (!cache_.holds_whole(for_each_put)) {
            std::uint64_t bytes = 0;
            for_each_put([&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); });
            fail(ec, errc::value_too_large,
                 "a batch leaving " + std::to_string(bytes) + " bytes of keys and values cannot be held whole in a "
                 "bounded store's memory_budget of " + std::to_string(cache_.budget()) +
                     " bytes; nothing was written: split the batch or raise options::memory_budget");
            return 0;
        }
        version_.bump();
        // Erasures first, then the puts under protection; as the operations run in order,
        // only each key's last one shows.
        for (const auto& [key, value] : last) {
            if (!value && cache_.erase(key)) erases_.add(1);
        }
        std::unordered_set<std::string_view> kept;
        for_each_put([&](std::string_view key, std::string_view) { kept.insert(key); });
        cache_.begin_protecting(kept);
        try {
            for_each_put([&](std::string_view key, std::string_view value) { cache_.put(key, value); });
        } catch (...) {
            cache_.end_protecting();
            version_.bump();
            throw;
        }
        cache_.end_protecting();
        ops.for_each([&](batch_op op, std::string_view, std::string_view) {
            if (op == batch_op::put) puts_.add(1);
        });
        version_.bump();
        batches_.add(1);
        return 0;
    }

    /// Calls on_value(value bytes) under the read lock when key is held, marking it read.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        // A hit bumps one counter, as a memory store's get does: hits are the gets that
        // were neither misses nor lookups by contains().
        gets_.add(1);
        const auto value = cache_.read(key);
        if (!value) {
            misses_.add(1);
            return false;
        }
        on_value(*value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        lookups_.add(1);
        return cache_.contains(key);
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.visit_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.visit_down_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return cache_.size();
    }

    /// A number that every change of the contents (evictions included, which only puts
    /// make) moves on, read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    void clear(std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        cache_.clear();
        version_.bump();
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = cache_.size();
        s.live_bytes = cache_.live_bytes();
        s.memory_bytes = cache_.memory_usage();
        s.puts = puts_.load();
        s.gets = gets_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
        s.misses = misses_.load();
        // Readers bump the counters while they are read: keep the difference from wrapping.
        const std::uint64_t not_hits = s.misses + lookups_.load();
        s.hits = s.gets > not_hits ? s.gets - not_hits : 0;
        s.evictions = cache_.evictions();
        return s;
    }

    void flush(std::error_code& /*ec*/) {}
    void sync(std::error_code& /*ec*/) {}
    void compact(std::error_code& /*ec*/) {}

    [[nodiscard]] verify_report verify(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        verify_report report;
        report.records_checked = cache_.size();
        return report;
    }

private:
    /// Whether key and value may be put: the store has a budget and the entry fits in it.
    bool admissible(std::string_view key, std::string_view value, std::error_code& ec) const {
        if (cache_.budget() == 0) {
            fail(ec, errc::invalid_argument,
                 "this bounded store has no memory budget; construct it with kvforge::options::memory_budget");
            return false;
        }
        if (cache_.fits(key.size(), value.size())) return true;
        fail(ec, errc::value_too_large,
             "a key of " + std::to_string(key.size()) + " bytes and a value of " + std::to_string(value.size()) +
                 " bytes do not fit in a bounded store's memory_budget of " + std::to_string(cache_.budget()) +
                 " bytes; raise options::memory_budget");
        return false;
    }

    mutable mutex_type mutex_;
    cache_type cache_;
    counter_type puts_;
    mutable counter_type gets_;
    mutable counter_type misses_;
    mutable counter_type lookups_;  ///< gets by contains(), which read no value
    counter_type erases_;
    counter_type batches_;
    detail::write_version<Policies::threading::concurrent> version_;
};

}  // namespace detail

/// Cache policy for a kvforge::memory store: the store becomes a cache that holds at
/// most options::memory_budget bytes, every byte counted (keys, values, index slots and
/// nodes, arena chunks and their garbage, eviction metadata, and with kvforge::expiring<>
/// the deadline index, which each eviction keeps in step), and evicts the entries
/// Eviction picks to stay within it. A put never fails for want of room, except for one
/// entry too large for the budget on its own (errc::value_too_large, nothing changed).
/// Reads that hit take only the shared lock. stats() adds hits, misses and evictions.
///
///     kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>
///         cache{kvforge::options{.memory_budget = 64 << 20}};
template <class Eviction = s3fifo>
struct bounded {
    static_assert(eviction_policy<Eviction>,
                  "kvforge: the eviction policy given to bounded<> does not satisfy kvforge::eviction_policy (see "
                  "kvforge/concepts.hpp)");
    using policy_kind = kvforge::policy_kind::cache;
    using eviction = Eviction;
    static constexpr bool persistent_store = false;
    /// Replaces the memory store's backend: the cache holds the records itself.
    template <class Policies, class StoreBackend>
    using backend = detail::bounded_backend<Policies, Eviction>;
};

}  // namespace kvforge
