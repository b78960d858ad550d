#pragma once
/// \file segment_compaction.hpp
/// A log store's compaction: compact() of the whole store, and the automatic jobs that
/// rewrite the closed segments with the most dead bytes (compaction_job.hpp says a job's
/// phases, compactor.hpp which segments and records it takes). It works on the engine's
/// segments, index, locks, reader, writer and directory, which it reaches through the
/// engine it is part of, and owns the job under way, the compaction thread and the
/// compaction counters stats() reports. This header runs the jobs step by step and
/// counts their failures; its parts, each defining members of segment_compaction in a
/// header of its own:
///
///     compaction_outputs.hpp     a job's output segments: written, synced with their hints, published
///     compaction_choice.hpp      whether a job is due, what it takes, and starting it
///     compaction_phases.hpp      a job's phases: scan, copy, publish, move entries, retire
///     compaction_background.hpp  the jobs on the compaction thread, and the writers' wait for it
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
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../concepts.hpp"
#include "../../detail/clocks.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "compaction_job.hpp"
#include "compaction_thread.hpp"
#include "hint.hpp"
#include "log_types.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// The compaction part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class segment_compaction {
    using types = log_types<Policies>;
    using table_type = typename types::table_type;
    using threading = typename types::threading;
    using writer_type = typename types::writer_type;
    using read_lock = typename types::read_lock;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    static constexpr bool ordered_index = Policies::index::ordered;
    /// Whether a sorting job can walk the index to find its input's records, and walk it
    /// again to move their entries (btree_table::update_from).
    static constexpr bool walkable_index =
        ordered_index && requires(table_type& table, std::string_view key) {
            table.update_from(key, true, kvforge::detail::record_updater{});
        };

    /// A job's output segments (compaction_outputs.hpp).
    class output_segments;

    using job_type = compaction_job<segment_type, output_segments>;

public:
    explicit segment_compaction(Engine& engine) noexcept : engine_(engine) {}
    segment_compaction(const segment_compaction&) = delete;
    segment_compaction& operator=(const segment_compaction&) = delete;

    /// Whether an automatic job is under way (single_thread: between its steps).
    [[nodiscard]] bool job_under_way() const noexcept { return job_.has_value(); }

    /// Asks the compaction thread to write the pending hints and run the jobs due (thread_safe).
    void request() {
        compactor_.request([this] { run_background_job(); });
    }

    /// Keeps automatic jobs off until the guard is destroyed (compact, clear).
    [[nodiscard]] compaction_thread::hold_guard hold() { return compactor_.hold(); }
    /// Lets jobs be requested again, once the store is open.
    void resume() { compactor_.resume(); }
    /// Lets the work requested so far run to its end, then stops the thread (close).
    void finish() { compactor_.finish(); }

    /// Forgets the last failure, at open: automatic compaction may start at once.
    void reset() {
        compaction_retry_end_ = 0;
        all_sorted_at_ = 0;
        last_compaction_error_.clear();
    }

    /// Adds the compaction counters to s, under the engine's read lock.
    void add_stats(kvforge::stats& s) const {
        s.compactions = compactions_;
        s.compaction_failures = compaction_failures_;
        s.last_compaction_error = last_compaction_error_;
        s.damaged_bytes_dropped = damaged_bytes_dropped_;
    }

    /// Lets one whole-store change at a time run (compact, clear, close): compact() of a
    /// thread_safe store runs with no gate held but for short spells, and the others
    /// would drop its job meanwhile. Taken before hold() and the gate.
    [[nodiscard]] std::unique_lock<std::mutex> lock_whole() { return std::unique_lock(whole_); }

    /// compact(): a job over every segment there is at the call, the active one closed
    /// first. With single_thread it runs whole with write_gate_ held; with thread_safe,
    /// on the calling thread as the automatic jobs run on theirs, writers going on
    /// (compaction_background.hpp). The failure is counted, as an automatic job's.
    void compact_whole(std::error_code& ec) {
        const std::unique_lock whole = lock_whole();
        const auto no_jobs = hold();
        if constexpr (threading::concurrent) {
            {
                const gate_lock gate = engine_.gate_without_backups();
                if (!engine_.writable(ec)) return;
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
                     "out of memory while compacting " + engine_.files_.directory().path());
            }
            whole_under_way_.store(false, std::memory_order_relaxed);
            if (!done) {
                const gate_lock gate = gate_after_writers();
                compaction_failed();
            }
        } else {
            const gate_lock gate = engine_.gate_without_backups();
            if (!engine_.writable(ec)) return;
            abort_job();  // superseded
            if (!start_whole_job(ec)) return compaction_failed();
            if (!job_) return count_empty_compaction();
            if (!advance_job(ec, 0)) compaction_failed();
        }
    }

    /// A compact() that found no segment to rewrite (no record since the last one) still
    /// completed a compaction: stats().compactions counts every compact() that succeeded.
    void count_empty_compaction() {
        const write_lock lock(engine_.mutex_);
        ++compactions_;
    }

    /// With thread_safe, after a write, holding no lock: waits, a bounded time, while dead
    /// bytes stay above the stall ceiling (compaction_background.hpp).
    void wait_for_compaction();

    /// Whether automatic compaction is due, or a closed segment waits to be sorted
    /// (compaction_choice.hpp).
    [[nodiscard]] bool wants_compaction() const;
    [[nodiscard]] bool wants_sorting();
    [[nodiscard]] bool sorting_allowed() const;
    /// Sorts the segments not in key order at close, the active one too (compaction_choice.hpp).
    void sort_before_close();

    /// Whether an automatic job is due: dead bytes to reclaim, or a segment to sort.
    [[nodiscard]] bool due() { return wants_compaction() || wants_sorting(); }

    /// Advances the automatic job on the segments with the most dead bytes by one step,
    /// starting it when none is under way, with write_gate_ held.
    void compact_now(std::error_code& ec) {
        if ((job_ || start_job(ec)) && advance_job(ec, engine_.options_.compaction_step_bytes)) return;
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
    bool compact_all(std::error_code& ec) {
        engine_.call_writer(&writer_type::drain, ec);
        if (ec) return false;
        engine_.discard_spare();  // it would replay before the active segment made here
        const std::vector<segment_pointer> inputs = engine_.segments_.in_replay_order();
        // A hash index's for_each is in no key order.
        output_segments outputs(engine_, inputs.back()->order, ordered_index, engine_.options_.segment_bytes);
        table_type table;
        // Sized for every live record at once, rather than grown as they come.
        if constexpr (requires { table.reserve(std::size_t{}); }) table.reserve(engine_.table_.size());
        std::uint64_t live = 0;
        std::string scratch;
        bool ok = true;
        engine_.table_.for_each([&](std::string_view key, std::string_view payload) {
            if (!ok) return;
            std::string_view value;
            const record_location where = record_location::decode(payload);
            if (!engine_.reader_.read(key, where, scratch, value, ec)) {
                ok = false;
                return;
            }
            engine_.record_.clear();
            append_put_record(engine_.record_, key, value);
            record_location moved{0, 0, where.value_size, 0};
            if (!outputs.append(engine_.record_, {record_type::put, 0, key, where.value_size, 0, 0, 0, 0}, moved, ec)) {
                ok = false;
                return;
            }
            char encoded[record_location::max_encoded_size];
            table.upsert(key, {encoded, moved.encode(encoded)}, [](std::string_view) {});
            live += key.size() + value.size();
        });
        if (!ok || !outputs.finish(ec)) return false;
        segment_pointer next;
        if (!outputs.publish(ec) || !engine_.create_segment(engine_.new_segment_id(), next, ec)) {
            // Some outputs may be in place: this store object must not write on as if
            // nothing had (its next writes would replay before them).
            engine_.failure_.record(ec);
            return false;
        }
        {
            const write_lock lock(engine_.mutex_);
            engine_.table_ = std::move(table);
            engine_.segments_.clear();
            for (segment_pointer& output : outputs.segments()) engine_.segments_.add(std::move(output));
            engine_.segments_.add(next);
            engine_.hints_.drop_retired(engine_.segments_);
            engine_.make_active(std::move(next), file_header::size);
            engine_.index_.set_counts(live, 0);
            finish_compaction();
        }
        engine_.files_.remove_segments(inputs);
        return true;
    }

    /// After a compaction, or clear(), is installed (the exclusive lock held).
    void finish_compaction() {
        ++compactions_;
        all_sorted_at_ = 0;
        compaction_retry_end_ = 0;
        last_compaction_error_.clear();
        engine_.salvaged_.clear();
        engine_.file_damage_.clear();
        engine_.version_.bump();
    }

    /// Drops the pending job, if any, and removes its unpublished outputs and their hints.
    /// A job that has published its outputs added them to the segments: they stay, with
    /// its inputs, and both replay to the same contents; the index finds either.
    void abort_job() {
        if (!job_) return;
        if (job_->at == job_type::phase::move) {
            job_.reset();
            return;
        }
        if (job_->at == job_type::phase::remove) {
            // Out of the store already: a later job could drop the erases that shadow
            // their records, so their files go now.
            engine_.files_.remove_segments(job_->retired);
            job_.reset();
            return;
        }
        std::error_code ignored;
        for (const segment_pointer& output : job_->outputs->segments()) {
            if (!output) continue;
            // The hint first: one left without its data file's .tmp would name a missing segment.
            if (engine_.files_.directory().remove(store_file_name::hint(output->id), ignored)) {
                engine_.files_.sync_directory(ignored);
            }
            engine_.files_.remove_unpublished_segment(output->id);
        }
        job_.reset();
    }

private:
    /// Whether the dead bytes in closed segments exceed the stall ceiling
    /// (compaction_background.hpp).
    [[nodiscard]] bool over_stall_ceiling() const;

    /// After a failed compaction, with write_gate_ held: the job is dropped; the failure
    /// is counted and its message kept for stats(), and automatic compaction waits until
    /// the store has grown by as much as it held, or by compact_min_bytes if that is
    /// more: a failure that persists (a damaged record) then costs a bounded share of the
    /// writing, not a rewrite per write.
    void compaction_failed() {
        abort_job();
        const std::string message = last_error_message();
        const write_lock lock(engine_.mutex_);
        ++compaction_failures_;
        last_compaction_error_ = message;
        const std::uint64_t data = engine_.data_bytes();
        compaction_retry_end_ = data + std::max(data, engine_.options_.compact_min_bytes);
    }

    /// What an automatic job takes, and starting it (compaction_choice.hpp).
    segment_pointer unsorted_segment();
    bool start_job(std::error_code& ec);
    void start_sorting_job();

    /// Whether the job's scan or walk has ended and found its sorting job's input in key
    /// order already.
    [[nodiscard]] static bool input_found_sorted(const job_type& job) noexcept {
        const segment_type& in = *job.inputs.front();
        return job.input_in_key_order(in.size - in.records_start());
    }

    /// Ends a sorting job whose input is in key order already, keeping the input as it
    /// is, with write_gate_ held. Nothing was written.
    void keep_sorted_input() {
        {
            const write_lock lock(engine_.mutex_);  // scans read it under the shared lock
            job_->inputs.front()->in_key_order = true;
        }
        job_.reset();
        all_sorted_at_ = 0;
    }

    /// Advances the pending job by one step, with write_gate_ held: phases run one after
    /// another until the step has read and written limit bytes (0: the whole job); ending an output (its sync and hint) and publishing the outputs are steps
    /// of their own, as is each chunk of index entries moved, retiring the inputs (which
    /// waits while a backup runs) and removing each input's files.
    bool advance_job(std::error_code& ec, std::uint64_t limit) {
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
                    if (engine_.backups_.running()) return true;
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

    /// A job's phases: scan, copy, publish, move entries, retire, remove the inputs'
    /// files (compaction_phases.hpp).
    bool scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec);
    bool drop_damage(job_type& job, std::uint64_t bad, std::uint64_t end, std::error_code& ec);
    void walk_index(job_type& job, std::uint64_t& budget);
    static void end_scan(job_type& job);
    [[nodiscard]] static auto later_run(const job_type& job) noexcept;
    static bool next_note(job_type& job, std::size_t& at, std::size_t& ahead);
    bool copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec);
    bool publish_outputs(std::error_code& ec);
    void install_outputs();
    void move_entries(job_type& job, std::size_t count);
    void move_walked_entries(job_type& job, std::size_t count);
    void copy_is_dead(job_type& job, std::size_t at);
    bool retire_job(std::error_code& ec);
    std::vector<segment_pointer> retire_inputs();
    void remove_next_retired();

    /// The compaction thread's work, and one automatic job run on it
    /// (compaction_background.hpp).
    void run_background_job();
    bool background_job(bool& sorted, std::error_code& ec);
    bool run_job(bool interruptible, bool& sorted, std::error_code& ec);

    /// Starts compact()'s job, with write_gate_ held: closes the active segment unless it
    /// holds no record, and takes every closed segment. They are all its inputs, so no
    /// erase needs copying (no older segment outside the job holds a put it must hide).
    /// No job starts when there is no closed segment.
    bool start_whole_job(std::error_code& ec) {
        if (engine_.writer_->end() != engine_.active_->records_start() && !engine_.roll_over(ec)) {
            return false;
        }
        std::vector<segment_pointer> inputs;
        for (const segment_pointer& in : engine_.segments_.in_replay_order()) {
            if (in != engine_.active_) inputs.push_back(in);
        }
        if (inputs.empty()) return true;
        job_type& job = job_.emplace();
        std::uint64_t order = 0;
        for (const segment_pointer& in : inputs) order = std::max(order, in->order);
        job.keep_erases.assign(inputs.size(), 0);
        job.scan_offset = inputs.front()->records_start();
        job.inputs = std::move(inputs);
        job.outputs.emplace(engine_, order, true, engine_.options_.segment_bytes);
        return true;
    }

    /// Takes write_gate_ on the compaction thread once the writers waiting for it have
    /// had it (write_gate.hpp): the thread takes it many times in a row, and would
    /// otherwise take it back each time before a woken writer ran.
    [[nodiscard]] gate_lock gate_after_writers() {
        engine_.write_gate_.lock_after_waiters();
        return gate_lock(engine_.write_gate_, std::adopt_lock);
    }

    /// Takes the exclusive lock as gate_after_writers takes the gate, after the readers
    /// that a holder of it kept waiting, when the threading policy's mutex can
    /// (striped.hpp): the compaction thread moves index entries in many short holds.
    [[nodiscard]] write_lock exclusive_after_readers() const {
        if constexpr (requires { engine_.mutex_.lock_after_waiters(); }) {
            engine_.mutex_.lock_after_waiters();
            return write_lock(engine_.mutex_, std::adopt_lock);
        } else {
            return write_lock(engine_.mutex_);
        }
    }

    [[nodiscard]] std::uint64_t dead_bytes_under_lock() const {
        const read_lock lock(engine_.mutex_);
        return engine_.index_.dead_bytes();
    }

    /// How many index entries a compaction moves with the gate held once: well under a
    /// millisecond's work on the compaction thread; with single_thread, where each chunk
    /// is a put's step, four times that, so that fewer puts pay for one (a job moves
    /// some hundred thousand entries).
    static constexpr std::size_t entries_moved_at_once = threading::concurrent ? 1024 : 4096;
    /// How many index entries a sorting job's walk visits with the shared lock held once
    /// (the writers' exclusive lock waits meanwhile): a visit is a few nanoseconds.
    static constexpr std::size_t entries_walked_at_once = 4096;
    /// How many index entries the walk that moves a sorting job's entries visits for
    /// each it may move (move_walked_entries): the input's entries lie among the other
    /// segments', a walk_share_limit-th of the store or more.
    static constexpr std::size_t walk_visits_per_note = 8;
    /// How many notes ahead of its copy a record starts loading (copy_notes).
    static constexpr std::size_t copy_distance = 16;

    Engine& engine_;
    std::uint64_t compactions_ = 0;
    std::uint64_t compaction_failures_ = 0;
    std::string last_compaction_error_;
    std::uint64_t damaged_bytes_dropped_ = 0;  // of dead records in the inputs of the jobs that retired them
    std::uint64_t compaction_retry_end_ = 0;  // automatic compaction waits until the segments hold more than this
    // The active segment's id when every closed segment was last found in key order (0: not known).
    std::uint32_t all_sorted_at_ = 0;
    // The automatic compaction job under way: used under the gate (single_thread) or by
    // the compaction thread, which others hold off or stop before they touch it.
    std::optional<job_type> job_;
    std::mutex whole_;  // held by compact(), clear() and close() while they run (lock_whole)
    // compact() runs its job (thread_safe): writers do not wait for the compaction
    // thread meanwhile, which the hold keeps idle.
    std::atomic<bool> whole_under_way_{false};
    // Runs automatic compaction jobs (thread_safe); last, so that it stops first.
    compaction_thread compactor_;
};

}  // namespace kvforge::detail

// The parts' definitions (each includes this header first).
#include "compaction_background.hpp"
#include "compaction_choice.hpp"
#include "compaction_outputs.hpp"
#include "compaction_phases.hpp"
