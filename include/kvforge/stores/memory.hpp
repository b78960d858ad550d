#pragma once
/// \file memory.hpp
/// kvforge::memory: records live in the index itself, in memory only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <system_error>

#include "../batch.hpp"
#include "../concepts.hpp"
#include "../detail/assign_bytes.hpp"
#include "../detail/table_snapshot.hpp"
#include "../detail/write_version.hpp"
#include "../error.hpp"
#include "../options.hpp"
#include "../stats.hpp"

namespace kvforge {

namespace detail {

/// The shape of callable an index table's find_many() calls: (index of the key, payload or nullopt).
struct indexed_payload_visitor {
    void operator()(std::size_t, std::optional<std::string_view>) const noexcept {}
};

/// The byte-level store behind store<K, V, memory, ...>: the index table maps each key
/// straight to its value bytes, guarded by the threading policy's mutex.
///
/// This is also the reference for what a store policy's backend provides: the
/// operations below on encoded keys and values, each reporting failure through ec.
template <class Policies>
class memory_backend {
    using table_type = typename Policies::index::table;
    using mutex_type = typename Policies::threading::mutex_type;
    using counter_type = typename Policies::threading::counter_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;

public:
    /// Writes do not hand out sequence numbers.
    static constexpr bool sequenced = false;

    /// Checks the options a memory store is built with: it has no budget to keep.
    void configure(const kvforge::options& opts, std::error_code& ec) {
        if (opts.memory_budget != 0) {
            fail(ec, errc::invalid_argument,
                 "options::memory_budget needs a bounded store: add kvforge::bounded<> to the store's policies");
        }
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        upsert(key, value);
        return 0;
    }

    bool erase(std::string_view key, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        return remove(key);
    }

    /// Applies a batch under one lock, so readers see all of it or none of it.
    std::uint64_t write(const batch_buffer& ops, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        ops.for_each([this](batch_op op, std::string_view key, std::string_view value) {
            if (op == batch_op::put) {
                upsert(key, value);
            } else {
                remove(key);
            }
        });
        batches_.add(1);
        return 0;
    }

    /// Calls on_value(value bytes) under the read lock when key exists; returns whether it did.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        const auto value = table_.find(key);
        if (!value) return false;
        on_value(*value);
        return true;
    }

    /// Calls on_value(i, value bytes) for each keys[i] that exists, under one read lock,
    /// overlapping the lookups where the table can (find_many).
    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(keys.size());
        if constexpr (requires(const table_type& t) { t.find_many(keys, detail::indexed_payload_visitor{}); }) {
            table_.find_many(keys, [&](std::size_t i, std::optional<std::string_view> value) {
                if (value) on_value(i, *value);
            });
        } else {
            for (std::size_t i = 0; i < keys.size(); ++i) {
                if (const auto value = table_.find(keys[i])) on_value(i, *value);
            }
        }
    }

    /// Copies key's value into out; returns whether key exists.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { detail::assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        return table_.find(key).has_value();
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.visit_from(from, inclusive, visitor);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.visit_down_from(from, inclusive, visitor);
    }

    /// Calls visitor(key, value) for every record, under the read lock: with thread_safe,
    /// writers wait for the walk and the visitor must not write to the store. It walks no
    /// snapshot, as a log store does, since a memory store's snapshot copies every value.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on, read without a lock: a scan
    /// re-reads what it read ahead once it moved (see scan_range.hpp).
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// A read-only copy of the store as it is now: a copy of every key and value, made
    /// under the read lock (writers wait for it; readers go on).
    [[nodiscard]] table_snapshot<table_type> snapshot(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        return table_snapshot<table_type>(copy_table(table_));
    }

    void clear(std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        table_.clear();
        live_bytes_ = 0;
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = table_.size();
        s.live_bytes = live_bytes_;
        s.memory_bytes = table_.memory_usage();
        s.puts = puts_.load();
        s.gets = gets_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
        return s;
    }

    /// Nothing to write out: a memory store has no files.
    void flush(std::error_code& /*ec*/) {}
    void sync(std::error_code& /*ec*/) {}
    /// The index reclaims its own garbage as it goes, so there is nothing to compact.
    void compact(std::error_code& /*ec*/) {}

    /// Walks every record; a memory store has no checksums, so it reports the count.
    [[nodiscard]] verify_report verify(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        verify_report report;
        table_.for_each([&](std::string_view, std::string_view) { ++report.records_checked; });
        return report;
    }

private:
    void upsert(std::string_view key, std::string_view value) {
        table_.upsert(key, value, [&](std::string_view old) { live_bytes_ -= key.size() + old.size(); });
        live_bytes_ += key.size() + value.size();
        puts_.add(1);
    }

    bool remove(std::string_view key) {
        const bool removed =
            table_.erase(key, [&](std::string_view old) { live_bytes_ -= key.size() + old.size(); });
        if (removed) erases_.add(1);
        return removed;
    }

    mutable mutex_type mutex_;
    table_type table_;
    detail::write_version<Policies::threading::concurrent> version_;
    std::size_t live_bytes_ = 0;
    counter_type puts_;
    mutable counter_type gets_;
    counter_type erases_;
    counter_type batches_;
};

}  // namespace detail

/// Store policy: everything in memory, nothing on disk; takes no durability policy.
/// The reference for writing a store policy: name the kind, say whether it is
/// persistent, whether it keeps files in a directory and its index in this process, and
/// provide backend<Policies>.
struct memory {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = false;
    static constexpr std::string_view name = "memory";
    static constexpr bool keeps_files = false;      ///< no directory, no files
    static constexpr bool index_in_process = true;  ///< the index (and the records) in this process's heap
    template <class Policies>
    using backend = detail::memory_backend<Policies>;
};

static_assert(store_policy<memory>);

}  // namespace kvforge
