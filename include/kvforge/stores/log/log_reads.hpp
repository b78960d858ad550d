#pragma once
/// \file log_reads.hpp
/// A log store's reads under its shared lock: a key's value (copied, read into a string
/// or pinned in the mapping), whether a key is there, and visits of every record in key
/// order, in the index's order or in the order the records lie in the segments. The
/// index says where each record is; the record reader (record_reader.hpp) reads it and
/// checks its checksum.
///
/// It refers to the engine's index, reader, lock and open flag, and owns the count of
/// reads stats() reports. A visit holds the shared lock while its visitor runs.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/thread_buffer.hpp"
#include "../../error.hpp"
#include "../../pinned_value.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"

namespace kvforge::detail {

/// The reads of a log store: Table is its index, Reader its record_reader, Mutex its
/// reader-writer lock, Counter the threading policy's counter.
template <class Table, class Reader, class Mutex, class Counter>
class log_reads {
    using read_lock = std::shared_lock<Mutex>;

public:
    log_reads(const Table& table, const Reader& reader, Mutex& mutex, const std::atomic<bool>& open) noexcept
        : table_(table), reader_(reader), mutex_(mutex), open_(open) {}

    /// Whether the store is open; else ec says that it is not.
    bool readable(std::error_code& ec) const {
        if (open_) return true;
        fail(ec, errc::store_closed, "the store is not open; open it first");
        return false;
    }

    /// Point reads and contains() so far (stats().gets).
    [[nodiscard]] std::uint64_t gets() const noexcept { return gets_.load(); }

    /// Calls on_value(value bytes) for key's value, read from the file (or the writer's
    /// buffer) and checked against its record's checksum.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        borrowed_buffer scratch(thread_buffer_use::record);
        std::string_view value;
        if (!reader_.read(key, where, scratch.get(), value, ec)) return false;
        on_value(value);
        return true;
    }

    /// Reads key's value straight into out, with no allocation beyond out's own: one
    /// preadv puts the record's header and key in a small buffer and its value in out.
    /// A value that fails its checksum is not left there: out is emptied.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        return reader_.read_value(key, where, out, ec);
    }

    /// Hands out key's value as a pinned_value: a view into the mapping, kept alive by
    /// it, when the record is in the file; a copy when it is still in the writer. Only
    /// for a store whose segments are all mapped (mmap_file).
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        auto copy = std::make_shared<std::string>();
        std::string_view value;
        if (!reader_.read(key, where, *copy, value, ec)) return false;
        if (copy->empty()) {
            out = pinned_value(reader_.mapping(where.segment), value);  // the bytes lie in the mapping: share it
        } else {
            out = pinned_value(copy, std::string_view(*copy).substr(
                                         static_cast<std::size_t>(value.data() - copy->data()), value.size()));
        }
        return true;
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return false;
        gets_.add(1);
        return table_.find(key).has_value();
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_ordered(
            true, [&](auto&& read, auto&& ahead) { table_.visit_from(from, inclusive, read, ahead); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered(
            false, [&](auto&& read, auto&& ahead) { table_.visit_down_from(from, inclusive, read, ahead); }, visitor,
            ec);
    }

    /// Calls visitor(key, value) for every record, in the index's order.
    template <class Visitor>
    void for_each(Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        table_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (reader_.read(key, record_location::decode(payload), scratch, value, ec)) visitor(key, value);
        });
    }

    /// Calls visitor(key, value) for every record, in the order the records lie in the
    /// segments. for_each reads them in the index's order, one read each; going forward
    /// through each segment lets the read-ahead window serve many records per read,
    /// which is what rebuilding state from every value at open wants (expiring<>'s
    /// deadlines). It holds a list of the records' places while it runs: about 32 bytes
    /// a key.
    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        using placed = std::pair<record_location, std::string_view>;
        std::vector<placed> records;
        records.reserve(table_.size());
        table_.for_each([&](std::string_view key, std::string_view payload) {
            records.emplace_back(record_location::decode(payload), key);
        });
        std::sort(records.begin(), records.end(), [](const placed& a, const placed& b) {
            return a.first.segment != b.first.segment ? a.first.segment < b.first.segment
                                                      : a.first.offset < b.first.offset;
        });
        std::string scratch;
        read_ahead ahead;
        for (const auto& [where, key] : records) {
            std::string_view value;
            if (!reader_.read(key, where, scratch, value, ec, &ahead)) return;
            visitor(key, value);
        }
    }

private:
    /// A point read's first step, under the read lock: counts it and finds where key's
    /// record is; false when the store is closed (ec set) or key is absent.
    bool look_up(std::string_view key, record_location& where, std::error_code& ec) const {
        if (!readable(ec)) return false;
        gets_.add(1);
        const auto payload = table_.find(key);
        if (!payload) return false;
        where = record_location::decode(*payload);
        return true;
    }

    /// Under the read lock, has walk hand its read(key, payload) and prefetch(key, payload)
    /// to the index's ordered visit: read answers by calling visitor(key, value) with the
    /// record's value, prefetch starts loading a record the visit reaches soon. When every
    /// segment holds its records in key order, an ascending visit reads each segment front
    /// to back and gets no prefetch: the reader loads a few records further on in the same
    /// segment instead (Reader::scattered, read_ahead::forward). A descending one keeps
    /// the prefetches, which the processor's prefetching does not replace as well going back.
    template <class Walk, class Visitor>
    void visit_ordered(bool ascending, Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        read_ahead ahead;
        typename Reader::segment_cache recent;
        const auto read = [&](std::string_view key, std::string_view payload) {
            std::string_view value;
            if (!reader_.read(key, record_location::decode(payload), scratch, value, ec, &ahead, &recent)) {
                return false;
            }
            return visitor(key, value);
        };
        if (ascending && !reader_.scattered()) {
            ahead.forward = true;
            walk(read, [](std::string_view, std::string_view) noexcept {});
            return;
        }
        walk(read, [&](std::string_view key, std::string_view payload) noexcept {
            reader_.prefetch(key.size(), record_location::decode(payload), recent);
        });
    }

    const Table& table_;
    const Reader& reader_;
    Mutex& mutex_;
    const std::atomic<bool>& open_;
    mutable Counter gets_;
};

}  // namespace kvforge::detail
