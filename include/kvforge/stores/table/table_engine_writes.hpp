#pragma once
/// \file table_engine_writes.hpp
/// Members of table_engine (table_engine.hpp): its writes. Each looks up the versions it
/// hides before anything is written (live_counts::account), so that a lookup that fails
/// leaves the store as it was; appends one record to the log and commits it; adds its
/// entries to the write buffer; then freezes the buffer when it is due and runs the jobs,
/// or marks them due for the thread that runs them (table_engine_jobs.hpp).
///
/// A write's result is its own: once its record is in the log, the write succeeded, and a
/// freeze or job it started that fails is counted in stats() (compaction_failures) and
/// tried again later, as the log store does with its compactions. An error therefore means
/// that nothing was applied. An I/O error, in the log or in a lookup, stops the writes
/// until the store is opened again (failed()): the disk is failing, and a later write that
/// succeeded would leave the store holding no prefix of its writes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "../../batch.hpp"
#include "../../error.hpp"
#include "../log/record_format.hpp"
#include "live_counts.hpp"
#include "table_engine.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::put(std::string_view key, std::string_view value, std::error_code& ec) {
    live_counts::change change;
    if (!make_room(ec) || !account(key, &value, false, change, ec)) return false;
    record_.clear();
    append_put_record(record_, key, value);
    if (!append_to_log(ec)) return false;
    add_to_buffer(key, record_type::put, value);
    counts_.apply(change);
    ++puts_;
    after_write();
    return true;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::erase(std::string_view key, std::error_code& ec) {
    live_counts::change change;
    if (!make_room(ec) || !account(key, nullptr, false, change, ec) || change.keys == 0) return false;
    record_.clear();
    append_erase_record(record_, key);
    if (!append_to_log(ec)) return false;
    add_to_buffer(key, record_type::erase, {}, change.erased_bytes);
    counts_.apply(change);
    ++erases_;
    after_write();
    return true;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::write(const batch_buffer& ops, std::error_code& ec) {
    // What each operation changes, found before anything is written; an operation sees
    // the ones before it in the batch.
    if (!make_room(ec)) return false;
    live_counts::change change;
    counts_.begin_batch();
    batch_hidden_.clear();
    bool read = true;
    ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
        const std::uint64_t erased_before = change.erased_bytes;
        if (read) read = account(key, op == batch_op::put ? &value : nullptr, true, change, ec);
        batch_hidden_.push_back(change.erased_bytes - erased_before);
    });
    if (!read) return false;
    record_.clear();
    const std::size_t start = begin_batch_record(record_);
    ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
        if (op == batch_op::put) {
            append_put_record(record_, key, value);
        } else {
            append_erase_record(record_, key);
        }
    });
    finish_batch_record(record_, start, ops.count());
    if (!append_to_log(ec)) return false;
    std::size_t index = 0;
    ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
        add_to_buffer(key, op == batch_op::put ? record_type::put : record_type::erase,
                      op == batch_op::put ? value : std::string_view{}, batch_hidden_[index++]);
        if (op == batch_op::put) ++puts_;
    });
    counts_.apply(change);
    erases_ += change.erased;
    after_write();
    return true;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::account(std::string_view key, const std::string_view* value, bool in_batch,
                                              live_counts::change& change, std::error_code& ec) {
    const auto hidden_version = [this](std::string_view k, std::string& v, std::error_code& e) {
        if (find_hidden(k, v, e)) return true;
        // A salvaging open counts a version in a damaged block as none (salvage_tables
        // counts the store again once it dropped the block).
        if (options_.salvage && e == errc::corrupt_record) e.clear();
        return false;
    };
    if (counts_.account(key, value, in_batch, change, hidden_version, ec)) return true;
    // Damage found in a table (kvforge's own errors) fails this write alone.
    if (ec.category() != error_category()) failure_.record(ec);
    return false;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::make_room(std::error_code& ec) {
    if (options_.background) {
        // The writer waited for the jobs (must_wait) until one failed: past the bound, the
        // write is refused rather than waiting for jobs that fail each time, and asks for
        // them again, so that once they succeed writes go on.
        if (!jobs_failing() || !must_wait()) return true;  // the flag first: every write asks
        job_due_ = true;
        fail(ec, job_failure_,
             "the write buffers are full and the store's flush or merge failed (" + last_job_error_ +
                 "); the write was not applied");
        return false;
    }
    // Past the bound the jobs keep: one buffer full beside a frozen one, or twice full
    // when a freeze failed (after_write tries at each write until then).
    const std::uint64_t bound = options_.write_buffer_bytes * (frozen_ ? 1 : 2);
    if (buffer_.memory_usage() < bound) return true;
    return run_jobs(
        false, [] { return 0; }, [] { return true; }, ec);
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::append_to_log(std::error_code& ec) {
    const std::uint64_t sequence = log_.append(record_, ec);
    if (ec) return false;
    if (!options_.caller_commits) return log_.commit(sequence, ec);
    uncommitted_ = sequence;
    return true;
}

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::add_to_buffer(std::string_view key, record_type kind, std::string_view value,
                                                    std::uint64_t hidden) {
    table_entry entry;
    entry.key = key;
    entry.kind = kind;
    entry.value = value;
    buffer_.add(entry, hidden);
}

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::after_write() {
    if (frozen_ || !(freeze_due() || whole_merge_due())) return;
    // The caller's last error message describes its own calls, not these.
    const last_error saved = this_thread_last_error();
    std::error_code ec;
    if (freeze_due() && !freeze(ec)) {
        note_job_failure(ec);  // tried again at the next write, as the buffer stays due
    } else if (options_.background) {
        job_due_ = true;
    } else {
        run_jobs(
            false, [] { return 0; }, [] { return true; }, ec);  // a failure is counted there
    }
    this_thread_last_error() = saved;
}

}  // namespace kvforge::detail
