#pragma once
/// \file table_engine_jobs.hpp
/// Members of table_engine (table_engine.hpp): the work on its tables, as jobs.
///
/// When the write buffer is full, or the log holds mostly versions it no longer does, a
/// write freezes the buffer: the writer moves to a new log, and the buffer, read-only now,
/// waits to be flushed. A job is planned under the store's lock (a flush of the frozen
/// buffer first, then the compaction table_levels says is due, then a merge of the whole
/// store when its tables hold mostly hidden versions), run without it (its tables and a new
/// TABLES are written, and nothing a read sees changes), and installed under it; the files
/// it replaced are removed after. A thread_safe store runs the jobs on a thread of its own
/// (table_backend), so writers wait only when a second buffer fills before the first is
/// flushed, or level 0 holds level0_stop_tables; a single_thread store runs them in the
/// write that froze the buffer.
///
/// Only one runner makes jobs at a time (the thread, or compact() while it holds the thread
/// off), so the levels a job starts from are the store's until it installs its own.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "table_engine.hpp"
#include "table_jobs.hpp"

namespace kvforge::detail {

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::freeze(std::error_code& ec) {
    const std::uint64_t log = log_.end();
    const std::uint32_t generation = log_.generation();
    if (!start_log(ec)) return false;
    frozen_ = std::make_shared<const write_buffer>(std::move(buffer_));
    frozen_log_ = generation;
    frozen_log_bytes_ = log;
    frozen_counts_ = counts_.now();
    buffer_ = write_buffer();
    // With jobs beside the writers, writes go to the new log while the frozen one waits for
    // its flush: TABLES names it at once, so that an open that misses it fails. A store that
    // runs its jobs in the write that froze flushes before any write reaches the new log.
    return !options_.background || tables_.name_newest_log(log_.generation(), ec);
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::flush_buffers(std::error_code& ec) {
    while (frozen_ || !buffer_.empty()) {
        if (!frozen_ && !freeze(ec)) return false;
        job_type job = plan_job(false);  // a flush, as one is frozen
        if (!run_job(job, ec)) return false;
        install_job(job);
        if (!remove_replaced(job, ec)) return false;
    }
    return true;
}

template <class IO, class Writer, class Codec>
typename table_engine<IO, Writer, Codec>::job_type table_engine<IO, Writer, Codec>::plan_job(bool whole) const {
    job_type job;
    job.current = levels_;
    // The log the writer appends to is the oldest to replay after a flush of the frozen
    // buffer, whose log is older; and after any other job, which is planned with no
    // frozen buffer: a buffer frozen while it runs has that log's writes.
    job.oldest_log = log_.generation();
    // TABLES keeps the counts as of its oldest log: a flush's are those when the buffer
    // froze; a merge drops dead versions only.
    job.counts = listed_counts_;
    // Their dead bytes are those of the tables: a flush leaves out the versions its buffer
    // replaced, a merge of every table leaves none (a compaction's are known once it ran).
    if (frozen_) {
        job.what = job_type::kind::flush;
        job.frozen = frozen_;
        job.counts = frozen_counts_;
        job.dropped_bytes = std::min(job.counts.dead_bytes, frozen_->replaced_bytes());
    } else if (whole) {
        job.what = job_type::kind::whole;
        job.dropped_bytes = job.counts.dead_bytes;
    } else {
        job.compaction = levels_.due_compaction(options_.limits);
        if (!job.compaction.empty()) job.what = job_type::kind::compaction;
    }
    return job;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::run_job(job_type& job, std::error_code& ec) const {
    merge_totals totals;
    bool made = false;
    switch (job.what) {
        case job_type::kind::none: return true;
        case job_type::kind::flush:
            made = flush_write_buffer(*job.frozen, job.current, job.oldest_log, context(), job.next, ec);
            break;
        case job_type::kind::compaction:
            made = run_table_compaction(job.current, job.compaction, job.oldest_log, context(), job.next, totals, ec);
            break;
        case job_type::kind::whole:
            made = run_full_compaction(job.current, job.oldest_log, context(), job.next, totals, ec);
            break;
    }
    if (!made) return false;
    if (job.what == job_type::kind::compaction) {
        job.dropped_bytes = std::min(job.counts.dead_bytes, totals.dropped_bytes);
    }
    job.counts.dead_bytes -= job.dropped_bytes;
    return tables_.publish(job.next, job.oldest_log, job.counts, ec);
}

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::install_job(const job_type& job) {
    levels_ = job.next;
    note_levels();
    listed_oldest_log_ = job.oldest_log;
    listed_counts_ = job.counts;
    if (job.what == job_type::kind::flush) {
        frozen_.reset();
        frozen_log_bytes_ = 0;
    } else {
        ++compactions_;
    }
    counts_.drop_dead(job.dropped_bytes);
    // A buffer frozen while a merge ran counted the versions the merge dropped.
    if (frozen_ && job.what != job_type::kind::flush) {
        frozen_counts_.drop_dead(job.dropped_bytes);
    }
    // A flush may leave the tables holding mostly hidden versions; a whole merge ends that
    // (whole_merge_due).
    if (job.what == job_type::kind::flush) dead_check_due_ = true;
    if (job.what == job_type::kind::whole) dead_check_due_ = false;
    last_job_error_.clear();
    job_failure_.clear();
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::remove_replaced(const job_type& job, std::error_code& ec) const {
    if (job.what == job_type::kind::flush && !remove_logs_before(job.oldest_log, ec)) return false;
    forget_blocks(job.current, job.next);
    return tables_.remove_unlisted(job.next, ec);
}

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::forget_blocks(const levels_type& before, const levels_type& after) const {
    if (!cache_) return;
    std::vector<std::uint32_t> kept;
    for (std::size_t i = 0; i < level_limits::levels; ++i) {
        for (const auto& table : after.level(i)) kept.push_back(table.generation);
    }
    std::sort(kept.begin(), kept.end());
    std::vector<std::uint64_t> gone;
    for (std::size_t i = 0; i < level_limits::levels; ++i) {
        for (const auto& table : before.level(i)) {
            if (!std::binary_search(kept.begin(), kept.end(), table.generation)) {
                gone.push_back(table.reader->cache_identity());
            }
        }
    }
    cache_->forget(std::move(gone));
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::remove_logs_before(std::uint32_t generation, std::error_code& ec) const {
    std::vector<store_file_name> names;
    if (!directory_.list(names, ec)) return false;
    for (const store_file_name& name : names) {
        if (name.kind() == store_file_kind::data && name.generation() < generation && !directory_.remove(name, ec)) {
            return false;
        }
    }
    return true;
}

template <class IO, class Writer, class Codec>
template <class Exclusive, class GoOn>
bool table_engine<IO, Writer, Codec>::run_jobs(bool whole, Exclusive&& exclusive, GoOn&& go_on, std::error_code& ec) {
    // Every failure is counted in stats(), under the exclusive lock, whoever asked.
    const auto failed = [&] {
        note_job_failure(ec);
        return false;
    };
    // compact() freezes the writes made before it once an earlier frozen buffer is flushed.
    bool froze = !whole;
    while (go_on()) {
        job_type job;
        {
            [[maybe_unused]] const auto guard = exclusive();
            // A buffer that came due while the last one was flushed, which no write froze
            // (a write freezes none while one is frozen): frozen now, so that the store
            // reaches its bounds after the last write too.
            if (!frozen_ && freeze_due() && !freeze(ec)) return failed();
            if (!froze && !frozen_) {
                froze = true;
                if (!buffer_.empty() && !freeze(ec)) return failed();
            }
            job = plan_job(whole && froze);
            if (job.what == job_type::kind::none && whole_merge_due()) job = plan_job(true);
            if (job.what == job_type::kind::none) job_failure_.clear();  // the run is done
        }
        if (job.what == job_type::kind::none) return true;
        if (!run_job(job, ec)) {
            [[maybe_unused]] const auto guard = exclusive();
            // A merge that failed is not tried at every write; the next flush asks again.
            if (job.what == job_type::kind::whole) dead_check_due_ = false;
            return failed();
        }
        {
            [[maybe_unused]] const auto guard = exclusive();
            install_job(job);
        }
        if (!remove_replaced(job, ec)) {
            [[maybe_unused]] const auto guard = exclusive();
            return failed();  // the next job or open removes them
        }
        if (job.what == job_type::kind::whole && whole) return true;
    }
    return true;
}

template <class IO, class Writer, class Codec>
bool table_engine<IO, Writer, Codec>::tables_mostly_dead() const {
    // min_bytes counts every file, as compact_min_bytes says: a few tables of a small store
    // beside its log are worth a merge once the files together reach it. The share dead is
    // of the keys and values TABLES counts in the tables (live or dead), not of their files'
    // bytes, which framing, filters and compression make larger or smaller than those.
    const store_counts& tables = listed_counts_;
    return options_.dead_ratio > 0 && table_bytes_ + log_.end() >= options_.min_bytes && tables.dead_bytes > 0 &&
           static_cast<double>(tables.dead_bytes) >=
               options_.dead_ratio * static_cast<double>(tables.live_bytes + tables.dead_bytes);
}

template <class IO, class Writer, class Codec>
void table_engine<IO, Writer, Codec>::note_job_failure(const std::error_code& ec) {
    ++job_failures_;
    job_failure_ = ec;
    last_job_error_ = last_error_detail();
    if (last_job_error_.empty()) last_job_error_ = ec.message();
}

}  // namespace kvforge::detail
