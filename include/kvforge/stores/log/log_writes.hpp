#pragma once
/// \file log_writes.hpp
/// A log store's writes: a put, an erase or a batch built into one record, appended by
/// the durability policy's writer under the exclusive lock, and then entered in the
/// index (index_updates.hpp) and in the active segment's hint entries (hint_keeper.hpp),
/// whose full blocks are written out once the lock is released: readers need not wait
/// for that write.
///
/// Its callers hold the engine's write gate, which orders writers, and have made room in
/// the active segment; what follows an append (the wait for durability, a hint, the
/// spare segment or compaction) is the engine's. It refers to the engine's writer, active
/// segment, index updates, hints, reader, lock and write version, and owns the counts of
/// writes stats() reports.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../batch.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/write_version.hpp"
#include "../../error.hpp"
#include "../../stats.hpp"
#include "hint.hpp"
#include "hint_keeper.hpp"
#include "index_updates.hpp"
#include "key_order.hpp"
#include "log_types.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"

namespace kvforge::detail {

/// The writes of a log store of policies Policies, whose records Reader reads.
template <class Policies, class Reader>
class log_writes {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using writer_type = typename types::writer_type;
    using counter_type = typename types::counter_type;
    using write_lock = typename types::write_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    using index_type = index_updates<io_type, typename types::table_type>;
    using hints_type = hint_keeper<io_type, counter_type, typename types::mutex_type>;
    using version_type = write_version<types::threading::concurrent>;

public:
    log_writes(std::optional<writer_type>& writer, const segment_pointer& active, index_type& index, hints_type& hints,
               const Reader& reader, typename types::mutex_type& mutex, sticky_failure& failure, version_type& version,
               std::string& record) noexcept
        : writer_(writer),
          active_(active),
          index_(index),
          hints_(hints),
          reader_(reader),
          mutex_(mutex),
          failure_(failure),
          version_(version),
          record_(record) {}

    /// Appends a put of key; returns its sequence number (async_worker), or 0 with ec set.
    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        record_.clear();
        append_put_record(record_, key, value);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            const auto value_size = static_cast<std::uint32_t>(value.size());
            update_index([&] {
                index_.put(key, {active_->id, static_cast<std::uint32_t>(appended.offset), value_size});
                hints_.note({record_type::put, 0, key, value_size, 0, 0, appended.offset, 0});
            });
            order_.next(key);
            cover_writer_end();
        }
        hints_.write_full_blocks();
        puts_.add(1);
        return appended.sequence;
    }

    /// Appends an erase of key, which the index holds; returns its sequence number, or 0
    /// with ec set.
    std::uint64_t erase(std::string_view key, std::error_code& ec) {
        record_.clear();
        append_erase_record(record_, key);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            update_index([&] {
                index_.erase(key, record_.size(), *active_);
                hints_.note({record_type::erase, 0, key, 0, 0, 0, appended.offset, 0});
            });
            order_.next(key);
            cover_writer_end();
        }
        hints_.write_full_blocks();
        erases_.add(1);
        return appended.sequence;
    }

    /// Appends the operations of a batch as one record, which recovery replays whole or
    /// not at all; returns its sequence number, or 0 with ec set.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        record_.clear();
        const std::size_t start = begin_batch_record(record_);
        std::vector<std::size_t>& inner = batch_offsets_;
        inner.clear();
        const std::size_t body_start = record_.size();
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            inner.push_back(record_.size() - body_start);
            if (op == batch_op::put) {
                append_put_record(record_, key, value);
            } else {
                append_erase_record(record_, key);
            }
        });
        // Finishing wrote the real header in front of the body: the body starts after it.
        const std::size_t body_offset = start + finish_batch_record(record_, start, ops.count());
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            update_index([&] {
                std::size_t i = 0;
                ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
                    const std::uint64_t offset = appended.offset + body_offset + inner[i++];
                    order_.next(key);
                    if (op == batch_op::put) {
                        const auto value_size = static_cast<std::uint32_t>(value.size());
                        index_.put(key, {active_->id, static_cast<std::uint32_t>(offset), value_size});
                        hints_.note({record_type::put, 0, key, value_size, 0, 0, offset, 0});
                        puts_.add(1);
                    } else {
                        if (index_.erase(key, erase_record_size(key.size()), *active_)) erases_.add(1);
                        hints_.note({record_type::erase, 0, key, 0, 0, 0, offset, 0});
                    }
                });
            });
            index_.add_dead(*active_, body_offset);  // the batch header holds no data
            cover_writer_end();
        }
        hints_.write_full_blocks();
        batches_.add(1);
        return appended.sequence;
    }

    /// Starts following the key order of the active segment's records from its first
    /// (wanted), or stops: for a segment that holds records already, or a store that does
    /// not sort its closed segments (a hash index, options::sort_closed_segments off).
    void follow_key_order(bool wanted) noexcept { order_ = key_order_check(wanted); }

    /// Follows on from the order recovery found in the active segment's records.
    void follow_key_order_from(key_order_check&& found) noexcept { order_ = std::move(found); }

    /// Whether every record written to the active segment since follow_key_order(true)
    /// came after the one before, in the order recovery reads them (key_order.hpp).
    [[nodiscard]] bool wrote_in_key_order() const noexcept { return order_.ordered(); }

    /// Adds the counts of writes so far to s.
    void add_stats(kvforge::stats& s) const noexcept {
        s.puts = puts_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
    }

private:
    /// Runs an update of the index for a record the writer has taken. Should it run out
    /// of memory, the index no longer matches the log: the store takes no more writes
    /// until it is reopened, which rebuilds the index from the log.
    template <class Update>
    void update_index(Update&& update) {
        try {
            update();
        } catch (...) {
            std::error_code ec;
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while indexing a record already written to " + active_->file.path());
            failure_.record(ec);
            throw;
        }
    }

    /// Makes the active segment's mapping cover everything written so far (mmap_file).
    void cover_writer_end() { reader_.cover(*active_, writer_->end()); }

    std::optional<writer_type>& writer_;
    const segment_pointer& active_;
    index_type& index_;
    hints_type& hints_;
    const Reader& reader_;
    typename types::mutex_type& mutex_;
    sticky_failure& failure_;
    version_type& version_;
    std::string& record_;                     // the record being written; reused under the gate
    std::vector<std::size_t> batch_offsets_;  // offsets of a batch's records in its body
    key_order_check order_{false};             // of the active segment's records
    counter_type puts_;
    counter_type erases_;
    counter_type batches_;
};

}  // namespace kvforge::detail
