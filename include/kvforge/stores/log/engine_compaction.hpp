#pragma once
/// \file engine_compaction.hpp
/// A log store's compaction: compact() of the whole store, and the automatic jobs that
/// rewrite the closed segments with the most dead bytes (compaction_job.hpp says a job's
/// phases, compactor.hpp which segments and records it takes). Members of log_backend
/// (engine.hpp), which holds the job under way, the compaction thread and the compaction
/// counters stats() reports beside the segments, index, locks, reader, writer and
/// directory the jobs work on. This header runs the jobs step by step and counts their
/// failures; the rest is defined in headers of its own:
///
///     engine_compaction_outputs.hpp     a job's output segments: written, synced with their hints, published
///     engine_compaction_choice.hpp      whether a job is due, what it takes, and starting it
///     engine_compaction_phases.hpp      a job's phases: scan, copy, publish, move entries, retire
///     engine_compaction_background.hpp  the jobs on the compaction thread, and the writers' wait for it
///
/// compact() is a job too, over every segment there is at its call (the active one
/// closed first; writes made meanwhile go to the next): with single_thread it runs whole
/// with the gate held; with thread_safe it runs on the calling thread as the automatic
/// jobs run on theirs (below), so writers go on while it works. Either way it drops the
/// damaged bytes it meets in dead records (counted in stats().damaged_bytes_dropped),
/// and fails on damage to a live one. Locks. clear() holds the engine's write gate while
/// it works, so no writer runs, but readers go on; it takes the exclusive lock only to
/// switch segments. An automatic job runs, with single_thread, in bounded steps after writes,
/// each with the gate held; with thread_safe, on the compaction thread
/// (compaction_thread.hpp), which reads the closed segments it rewrites and writes its
/// outputs with no gate held (the shared lock for each look-up in the index), and takes
/// the gate, for about a millisecond each time, to start the job, to move index entries
/// to the outputs in chunks, and to retire the inputs; each time after the writers
/// waiting for it (write_gate.hpp), and it takes the exclusive lock for each chunk after
/// the readers waiting for it, so that its many holds in a row keep no one out for long.
/// A writer that leaves too many dead bytes for it waits, with no lock held, for its
/// progress, a bounded time (wait_for_compaction); close() lets the jobs due finish. No job retires a segment
/// while a backup copies it (backups_running.hpp).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "engine.hpp"
#include "hint.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Asks the compaction thread to write the pending hints and run the jobs due (thread_safe).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::request_compaction() {
    compactor_.request([this] { run_background_job(); });
}

/// Forgets the last failure, at open: automatic compaction may start at once.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_compaction() {
    compaction_retry_end_ = 0;
    all_sorted_at_ = 0;
    last_compaction_error_.clear();
}

/// Adds the compaction counters to s, under the engine's read lock.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::add_compaction_stats(kvforge::stats& s) const {
    s.compactions = compactions_;
    s.compaction_failures = compaction_failures_;
    s.last_compaction_error = last_compaction_error_;
    s.damaged_bytes_dropped = damaged_bytes_dropped_;
    s.write_stalls = compactor_.stalls();
}

/// compact(): a job over every segment there is at the call, the active one closed
/// first. With single_thread it runs whole with write_gate_ held; with thread_safe,
/// on the calling thread as the automatic jobs run on theirs, writers going on
/// (engine_compaction_background.hpp). The failure is counted, as an automatic job's.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compact_whole(std::error_code& ec) {
    const std::unique_lock whole = lock_whole();
    const auto no_jobs = hold_compaction();
    if constexpr (threading::concurrent) {
        {
            const gate_lock gate = gate_without_backups();
            if (!writable(ec)) return;
            abort_job();  // superseded
            if (!start_whole_job(ec)) {
                compaction_failed();
                return;
            }
            if (!job_) return count_empty_compaction();
        }
        whole_under_way_.store(true, std::memory_order_relaxed);
        bool sorted = false;
        bool done = false;
        try {
            done = run_job(false, sorted, ec);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while compacting " + files_.directory().path());
        }
        whole_under_way_.store(false, std::memory_order_relaxed);
        if (!done) {
            const gate_lock gate = gate_after_writers();
            compaction_failed();
        }
    } else {
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        abort_job();  // superseded
        if (!start_whole_job(ec)) return compaction_failed();
        if (!job_) return count_empty_compaction();
        if (!advance_job(ec, 0)) compaction_failed();
    }
}

/// A compact() that found no segment to rewrite (no record since the last one) still
/// completed a compaction: stats().compactions counts every compact() that succeeded.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::count_empty_compaction() {
    const write_lock lock(mutex_);
    ++compactions_;
}

/// Advances the automatic job on the segments with the most dead bytes by one step,
/// starting it when none is under way, with write_gate_ held.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compact_now(std::error_code& ec) {
    if ((job_ || start_job(ec)) && advance_job(ec, options_.compaction_step_bytes)) return;
    compaction_failed();
}

/// Compaction of the whole store, for a salvaging open, with write_gate_ held: it
/// reads only the records the index points at (salvage dropped the damaged ones from
/// it), and writes them,
/// in index order (a sorted store's in key order, so scans read them in sequence),
/// into new segments; publishes them; starts a new active segment; switches the
/// index to them; and retires every old segment. A crash that leaves outputs and old
/// segments replays the old first, then the outputs, to the same contents. False
/// with ec set when it failed.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::compact_all(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    discard_spare();  // it would replay before the active segment made here
    const std::vector<segment_pointer> inputs = segments_.in_replay_order();
    // A hash index's for_each is in no key order.
    output_segments outputs(*this, inputs.back()->order, ordered_index, options_.segment_bytes);
    table_type table;
    // Sized for every live record at once, rather than grown as they come.
    if constexpr (requires { table.reserve(std::size_t{}); }) table.reserve(table_.size());
    std::uint64_t live = 0;
    std::string scratch;
    bool ok = true;
    table_.for_each([&](std::string_view key, std::string_view payload) {
        if (!ok) return;
        std::string_view value;
        const record_location where = record_location::decode(payload);
        if (!reader_.read(key, where, scratch, value, ec)) {
            ok = false;
            return;
        }
        record_.clear();
        append_put_record(record_, key, value);
        record_location moved{0, 0, where.value_size, 0};
        if (!outputs.append(record_, {record_type::put, 0, key, where.value_size, 0, 0, 0, 0}, moved, ec)) {
            ok = false;
            return;
        }
        char encoded[record_location::max_encoded_size];
        table.upsert(key, {encoded, moved.encode(encoded)}, [](std::string_view) {});
        live += key.size() + value.size();
    });
    if (!ok || !outputs.finish(ec)) return false;
    segment_pointer next;
    if (!outputs.publish(ec) || !create_segment(new_segment_id(), next, ec)) {
        // Some outputs may be in place: this store object must not write on as if
        // nothing had (its next writes would replay before them).
        failure_.record(ec);
        return false;
    }
    {
        const write_lock lock(mutex_);
        table_ = std::move(table);
        segments_.clear();
        for (segment_pointer& output : outputs.segments()) segments_.add(std::move(output));
        segments_.add(next);
        hints_.drop_retired(segments_);
        make_active(std::move(next), file_header::size);
        index_.set_counts(live, 0);
        finish_compaction();
    }
    files_.remove_segments(inputs);
    return true;
}

/// After a compaction, or clear(), is installed (the exclusive lock held).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::finish_compaction() {
    ++compactions_;
    all_sorted_at_ = 0;
    compaction_retry_end_ = 0;
    last_compaction_error_.clear();
    salvaged_.clear();
    file_damage_.clear();
    version_.bump();
}

/// Drops the pending job, if any, and removes its unpublished outputs and their hints.
/// A job that has published its outputs added them to the segments: they stay, with
/// its inputs, and both replay to the same contents; the index finds either.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::abort_job() {
    if (!job_) return;
    if (job_->at == job_type::phase::move) {
        job_.reset();
        return;
    }
    if (job_->at == job_type::phase::remove) {
        // Out of the store already: a later job could drop the erases that shadow
        // their records, so their files go now.
        files_.remove_segments(job_->retired);
        job_.reset();
        return;
    }
    std::error_code ignored;
    for (const segment_pointer& output : job_->outputs->segments()) {
        if (!output) continue;
        // The hint first: one left without its data file's .tmp would name a missing segment.
        if (files_.directory().remove(store_file_name::hint(output->id), ignored)) {
            files_.sync_directory(ignored);
        }
        files_.remove_unpublished_segment(output->id);
    }
    job_.reset();
}

/// After a failed compaction, with write_gate_ held: the job is dropped; the failure
/// is counted and its message kept for stats(), and automatic compaction waits until
/// the store has grown by as much as it held, or by compact_min_bytes if that is
/// more: a failure that persists (a damaged record) then costs a bounded share of the
/// writing, not a rewrite per write.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compaction_failed() {
    abort_job();
    const std::string message = last_error_message();
    const write_lock lock(mutex_);
    ++compaction_failures_;
    last_compaction_error_ = message;
    const std::uint64_t data = data_bytes();
    compaction_retry_end_ = data + std::max(data, options_.compact_min_bytes);
}

/// Whether the job's scan or walk has ended and found its sorting job's input in key
/// order already.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::input_found_sorted(const job_type& job) noexcept {
    const segment_type& in = *job.inputs.front();
    return job.input_in_key_order(in.size - in.records_start());
}

/// Ends a sorting job whose input is in key order already, keeping the input as it
/// is, with write_gate_ held. Nothing was written.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::keep_sorted_input() {
    {
        const write_lock lock(mutex_);  // scans read it under the shared lock
        job_->inputs.front()->in_key_order = true;
    }
    job_.reset();
    all_sorted_at_ = 0;
}

/// Advances the pending job by one step, with write_gate_ held: phases run one after
/// another until the step has read and written limit bytes (0: the whole job); ending an output (its sync and hint) and publishing the outputs are steps
/// of their own, as is each chunk of index entries moved, retiring the inputs (which
/// waits while a backup runs) and removing each input's files.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::advance_job(std::error_code& ec, std::uint64_t limit) {
    std::uint64_t budget = limit == 0 ? std::numeric_limits<std::uint64_t>::max() : limit;
    while (job_) {
        if (budget == 0) return true;
        switch (job_->at) {
            case job_type::phase::walk:
                walk_index(*job_, budget);
                if (input_found_sorted(*job_)) {
                    keep_sorted_input();
                    return true;
                }
                break;
            case job_type::phase::scan:
                if (!scan_inputs(*job_, budget, ec)) return false;
                if (input_found_sorted(*job_)) {
                    keep_sorted_input();
                    return true;
                }
                break;
            case job_type::phase::copy:
                // An output the step before filled ends in a step of its own: its
                // sync (which that step's write_out made) and its hint, with a sync
                // of its own and the directory's.
                if (job_->outputs->full()) {
                    if (budget < limit) return true;
                    if (!job_->outputs->finish(ec)) return false;
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (!copy_notes(*job_, budget, ec)) return false;
                break;
            case job_type::phase::publish:
                // After the step that copied the last record: the last output ends,
                // as above, then the outputs are renamed into place, each in a step
                // of its own.
                if (budget < limit) return true;
                if (!job_->outputs->finished()) {
                    if (!job_->outputs->finish(ec)) return false;
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (!publish_outputs(ec)) return false;
                install_outputs();
                job_->at = job_type::phase::move;
                budget = limit == 0 ? budget : 0;
                break;
            case job_type::phase::move:
                if (job_->moved_entries < job_->notes.size()) {
                    if (budget < limit) return true;
                    move_entries(*job_, limit == 0 ? job_->notes.size() : entries_moved_at_once);
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (backups_.running()) return true;
                if (!retire_job(ec)) return false;
                budget = limit == 0 ? budget : 0;
                break;
            case job_type::phase::remove:
                if (budget < limit) return true;
                remove_next_retired();
                budget = limit == 0 ? budget : 0;
                break;
        }
    }
    return true;
}

/// Starts compact()'s job, with write_gate_ held: closes the active segment unless it
/// holds no record, and takes every closed segment. They are all its inputs, so no
/// erase needs copying (no older segment outside the job holds a put it must hide).
/// No job starts when there is no closed segment.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::start_whole_job(std::error_code& ec) {
    if (writer_->end() != active_->records_start() && !roll_over(ec)) {
        return false;
    }
    std::vector<segment_pointer> inputs;
    for (const segment_pointer& in : segments_.in_replay_order()) {
        if (in != active_) inputs.push_back(in);
    }
    if (inputs.empty()) return true;
    job_type& job = job_.emplace();
    std::uint64_t order = 0;
    for (const segment_pointer& in : inputs) order = std::max(order, in->order);
    job.keep_erases.assign(inputs.size(), 0);
    job.scan_offset = inputs.front()->records_start();
    job.inputs = std::move(inputs);
    job.outputs.emplace(*this, order, true, options_.segment_bytes);
    return true;
}

/// Takes write_gate_ on the compaction thread once the writers waiting for it have
/// had it (write_gate.hpp): the thread takes it many times in a row, and would
/// otherwise take it back each time before a woken writer ran. A store without that
/// thread (single_thread) never calls it; its explicit instantiation compiles a plain lock.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::gate_after_writers() -> gate_lock {
    if constexpr (requires { write_gate_.lock_after_waiters(); }) {
        write_gate_.lock_after_waiters();
        return gate_lock(write_gate_, std::adopt_lock);
    } else {
        return gate_lock(write_gate_);
    }
}

/// Takes the exclusive lock as gate_after_writers takes the gate, after the readers
/// that a holder of it kept waiting, when the threading policy's mutex can
/// (striped.hpp): the compaction thread moves index entries in many short holds.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::exclusive_after_readers() const -> write_lock {
    if constexpr (requires { mutex_.lock_after_waiters(); }) {
        mutex_.lock_after_waiters();
        return write_lock(mutex_, std::adopt_lock);
    } else {
        return write_lock(mutex_);
    }
}

template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::dead_bytes_under_lock() const {
    const read_lock lock(mutex_);
    return index_.dead_bytes();
}

}  // namespace kvforge::detail
