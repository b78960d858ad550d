#pragma once
/// \file segment_compaction.hpp
/// A log store's compaction: compact() of the whole store, and the automatic jobs that
/// rewrite the closed segments with the most dead bytes (compaction_job.hpp says a job's
/// phases, compactor.hpp which segments and records it takes). It works on the engine's
/// segments, index, locks, reader, writer and directory, which it reaches through the
/// engine it is part of, and owns the job under way, the compaction thread and the
/// compaction counters stats() reports.
///
/// Locks. compact() and clear() hold the engine's write gate while they work, so no
/// writer runs, but readers go on; they take the exclusive lock only to switch
/// segments. An automatic job runs, with single_thread, in bounded steps after writes,
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
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "compaction_job.hpp"
#include "compaction_thread.hpp"
#include "compactor.hpp"
#include "hint.hpp"
#include "log_scan.hpp"
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

    /// The output segments of a compaction job, written one after another up to
    /// segment_bytes each (a sorting job's: up to its input's size, which may pass
    /// segment_bytes by a record, so that it makes one output); each is synced, with its
    /// hint written beside it, before any is renamed into place (publish). Outputs replay
    /// at `order`, the highest of the job's inputs, after them (their ids are higher) and
    /// before every newer segment.
    class output_segments {
    public:
        /// in_key_order: the records come in key order (outputs say so: in_key_order).
        output_segments(Engine& engine, std::uint64_t order, bool in_key_order, std::uint64_t bytes_each) noexcept
            : engine_(engine), order_(order), in_key_order_(in_key_order), bytes_each_(bytes_each) {}

        /// Appends a record, which entry describes (its offset aside); where it went
        /// comes back in where.segment and where.offset.
        bool append(std::string_view record, hint_entry entry, record_location& where, std::error_code& ec) {
            if (outputs_.empty() || end_ + pending_.size() >= bytes_each_) {
                if (!outputs_.empty() && !finish_current(ec)) return false;
                segment_pointer next;
                if (!engine_.files_.start_segment(engine_.new_segment_id(), order_, next, ec)) return false;
                next->in_key_order = in_key_order_;
                outputs_.push_back(std::move(next));
                end_ = file_header::size;
                if (engine_.options_.write_hints) hint_.emplace(engine_.hints_.identity(*outputs_.back()));
            }
            where.segment = outputs_.back()->id;
            where.offset = static_cast<std::uint32_t>(end_ + pending_.size());
            entry.offset = where.offset;
            if (hint_) hint_->add(entry);
            if (entry.type != record_type::put) outputs_.back()->dead_bytes += record.size();  // a tombstone
            pending_.append(record);
            return pending_.size() < (std::size_t{1} << 20) || write_pending(ec);
        }

        /// Writes and syncs what was appended to the newest output: a compaction step
        /// ends with its own writes on disk, so that the sync that ends an output
        /// finds little left to write rather than a whole segment.
        bool write_out(std::error_code& ec) {
            if (pending_.empty()) return true;
            if (!write_pending(ec)) return false;
            if (engine_.files_.sync_file(outputs_.back()->file, ec)) return true;
            engine_.failure_.record(ec);  // a failed sync is never retried
            return false;
        }

        /// Writes and syncs the last output.
        bool finish(std::error_code& ec) { return outputs_.empty() || finish_current(ec); }

        /// Renames the outputs into place and syncs the directory. Once it has begun,
        /// a failure leaves some outputs in place: the store object must write no more.
        bool publish(std::error_code& ec) {
            for (const segment_pointer& output : outputs_) {
                const store_file_name name = store_file_name::data(output->id);
                if (!engine_.files_.directory().rename(name.temporary(), name, ec)) return false;
                output->file.renamed(engine_.files_.directory().file_path(name));
            }
            for (const segment_pointer& output : outputs_) engine_.reader_.map_final(*output, output->size);
            return outputs_.empty() || engine_.files_.sync_directory(ec);
        }

        [[nodiscard]] std::vector<segment_pointer>& segments() noexcept { return outputs_; }

    private:
        bool write_pending(std::error_code& ec) {
            if (!engine_.files_.write_counted(outputs_.back()->file, end_, pending_, ec)) return false;
            end_ += pending_.size();
            pending_.clear();
            return true;
        }

        bool finish_current(std::error_code& ec) {
            segment_type& output = *outputs_.back();
            if (!write_pending(ec)) return false;
            if (!engine_.files_.sync_file(output.file, ec)) {
                engine_.failure_.record(ec);  // a failed sync is never retried
                return false;
            }
            output.size = end_;
            if (hint_) engine_.hints_.write_hint_of(output, *hint_);
            hint_.reset();
            return true;
        }

        Engine& engine_;
        std::uint64_t order_;
        bool in_key_order_;
        std::uint64_t bytes_each_;
        std::vector<segment_pointer> outputs_;
        std::optional<hint_builder> hint_;
        std::string pending_;    // records not yet written to the newest output
        std::uint64_t end_ = 0;  // where pending_ goes in the newest output
    };

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
    }

    /// With thread_safe, after a write, holding no lock: while dead bytes stay above
    /// options::compaction_stall_ratio times the live bytes, waits for the compaction
    /// thread to reclaim some, for at most options::compaction_stall_micros, so that a
    /// burst of writes is slowed down to what the thread keeps up with while no single
    /// write waits for a whole job (as LSM stores delay writes on a compaction backlog
    /// rather than stop them). The wait also ends as soon as the thread has no job
    /// left, fails, or is stopped: it never outlasts the thread's own work.
    void wait_for_compaction() {
        if (engine_.options_.compaction_stall_ratio <= 0 || engine_.options_.compaction_stall_micros == 0) return;
        // Past about twelve days, the deadline would overflow the clock: no wait that long ends by time.
        const std::chrono::microseconds longest(
            std::min(engine_.options_.compaction_stall_micros, std::uint64_t{1} << 40));
        const auto deadline = std::chrono::steady_clock::now() + longest;
        for (;;) {
            const std::uint64_t seen = compactor_.progress();
            if (!over_stall_ceiling() || !compactor_.wait_for_progress(seen, deadline)) return;
        }
    }

    /// Whether automatic compaction is due: dead bytes past compact_dead_ratio of the
    /// data, which holds at least compact_min_bytes and, after a failure, has grown past
    /// where the retry waits; never while a backup runs.
    [[nodiscard]] bool wants_compaction() const {
        if (engine_.options_.compact_dead_ratio <= 0) return false;
        // A backup copies the segments compaction would retire: the trigger waits for it.
        if (engine_.backups_.running()) return false;
        const std::uint64_t data = engine_.data_bytes();
        return data >= engine_.options_.compact_min_bytes && data >= compaction_retry_end_ &&
               static_cast<double>(engine_.index_.dead_bytes()) >
                   engine_.options_.compact_dead_ratio * static_cast<double>(data);
    }

    /// Whether a closed segment waits to be rewritten in key order, with write_gate_ held
    /// (options::sort_closed_segments): a sorted store's, holding at least
    /// compact_min_bytes, unless automatic compaction is off, a backup runs, or a failure
    /// makes it wait as wants_compaction says. It waits too while dead bytes exceed half
    /// of compact_dead_ratio of the data: a store being overwritten has its segments
    /// rewritten, in key order, by the jobs that reclaim them, and sorting them ahead of
    /// those would write them once more.
    [[nodiscard]] bool wants_sorting() {
        if constexpr (!ordered_index) {
            return false;
        } else {
            const kvforge::options& o = engine_.options_;
            if (!o.sort_closed_segments || o.compact_dead_ratio <= 0 || o.read_only) return false;
            if (engine_.backups_.running() || !unsorted_segment()) return false;
            const std::uint64_t data = engine_.data_bytes();
            return data >= o.compact_min_bytes && data >= compaction_retry_end_ &&
                   static_cast<double>(engine_.index_.dead_bytes()) <=
                       o.compact_dead_ratio / 2 * static_cast<double>(data);
        }
    }

    /// Whether an automatic job is due: dead bytes to reclaim, or a segment to sort.
    [[nodiscard]] bool due() { return wants_compaction() || wants_sorting(); }

    /// Compacts all of the store (full) or advances the automatic job on the segments
    /// with the most dead bytes by one step, starting it when none is under way, with
    /// write_gate_ held.
    void compact_now(bool full, std::error_code& ec) {
        if (full ? compact_all(ec) : (job_ || start_job(ec)) && advance_job(ec)) return;
        compaction_failed();
    }

    /// Compaction of the whole store, with write_gate_ held: writes the live records,
    /// in index order (a sorted store's in key order, so scans read them in sequence),
    /// into new segments; publishes them; starts a new active segment; switches the
    /// index to them; and retires every old segment. A crash that leaves outputs and old
    /// segments replays the old first, then the outputs, to the same contents. False
    /// with ec set when it failed.
    bool compact_all(std::error_code& ec) {
        engine_.call_writer(&writer_type::drain, ec);
        if (ec) return false;
        engine_.rollover_.discard_spare();  // it would replay before the active segment made here
        const std::vector<segment_pointer> inputs = engine_.segments_.in_replay_order();
        // A hash index's for_each is in no key order.
        output_segments outputs(engine_, inputs.back()->order, ordered_index, engine_.options_.segment_bytes);
        table_type table;
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
            engine_.rollover_.make_active(std::move(next), file_header::size);
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
            engine_.files_.remove_unpublished_segment(output->id);
            engine_.files_.directory().remove(store_file_name::hint(output->id), ignored);
        }
        job_.reset();
    }

private:
    /// Whether the dead bytes the thread can reclaim, those in closed segments, exceed
    /// the ceiling. The active segment's are left out: no job can take them, and a store
    /// smaller than a segment would otherwise wait on every write.
    [[nodiscard]] bool over_stall_ceiling() const {
        const read_lock lock(engine_.mutex_);
        if (!engine_.open_) return false;
        const std::uint64_t reclaimable = engine_.index_.dead_bytes() - engine_.active_->dead_bytes;
        return static_cast<double>(reclaimable) >
               engine_.options_.compaction_stall_ratio * static_cast<double>(engine_.index_.live_bytes());
    }

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

    /// The closed segment a sorting job takes next, with write_gate_ held: the one
    /// replaying first of those not known to be in key order, leaving out one that holds
    /// a clear record unless nothing replays before it (as pick_inputs does); null when
    /// there is none. Remembers that there is none until a segment closes (the active
    /// one changes) or a job ends.
    segment_pointer unsorted_segment() {
        if (all_sorted_at_ != 0 && all_sorted_at_ == engine_.active_->id) return nullptr;
        const std::vector<segment_pointer>& segments = engine_.segments_.by_id();
        segment_pointer oldest;
        segment_pointer picked;
        for (const segment_pointer& in : segments) {
            if (!oldest || in->replays_before(*oldest)) oldest = in;
        }
        for (const segment_pointer& in : segments) {
            if (in == engine_.active_ || in->in_key_order || (in->holds_clear && in != oldest)) continue;
            if (!picked || in->replays_before(*picked)) picked = in;
        }
        if (!picked) all_sorted_at_ = engine_.active_->id;
        return picked;
    }

    /// Starts an automatic compaction job, with write_gate_ held: the closed segments
    /// with the largest share of dead bytes, as many as hold about one segment of live
    /// records. When the active segment has a larger share than any closed one, it is
    /// closed first, to be one of them. With nothing to gain, automatic compaction waits
    /// for the store to grow by compact_min_bytes (and no job starts). When no dead bytes
    /// make compaction due, a sorting job on one closed segment starts instead, if one
    /// is wanted.
    bool start_job(std::error_code& ec) {
        if (!wants_compaction()) {
            if (wants_sorting()) start_sorting_job();
            return true;
        }
        double closed_share = 0;
        for (const segment_pointer& in : engine_.segments_.by_id()) {
            if (in != engine_.active_) closed_share = std::max(closed_share, dead_share(*in));
        }
        const std::uint64_t active_records = engine_.writer_->end() - engine_.active_->records_start();
        const double active_share = active_records == 0 ? 0.0
                                                        : static_cast<double>(engine_.active_->dead_bytes) /
                                                              static_cast<double>(active_records);
        if (active_share > closed_share && !engine_.rollover_.roll_over(ec)) return false;
        std::vector<segment_pointer> inputs =
            pick_inputs(engine_.segments_, engine_.active_.get(), engine_.options_.segment_bytes);
        if (inputs.empty()) {
            const write_lock lock(engine_.mutex_);
            compaction_retry_end_ = engine_.data_bytes() + engine_.options_.compact_min_bytes;
            return true;
        }
        std::sort(inputs.begin(), inputs.end(),
                  [](const segment_pointer& a, const segment_pointer& b) { return a->replays_before(*b); });
        job_type& job = job_.emplace();
        std::uint64_t order = 0;
        for (const segment_pointer& in : inputs) {
            job.keep_erases.push_back(older_segment_outside(engine_.segments_, *in, inputs));
            order = std::max(order, in->order);
        }
        job.scan_offset = inputs.front()->records_start();
        job.inputs = std::move(inputs);
        // The copy merges the scan's sorted runs.
        job.outputs.emplace(engine_, order, true, engine_.options_.segment_bytes);
        return true;
    }

    /// Starts a job that rewrites the closed segment unsorted_segment() gives in key
    /// order, with write_gate_ held.
    void start_sorting_job() {
        segment_pointer in = unsorted_segment();
        if (!in) return;
        job_type& job = job_.emplace();
        job.sorting = true;
        job.keep_erases.push_back(older_segment_outside(engine_.segments_, *in, {in}));
        job.scan_offset = in->records_start();
        job.outputs.emplace(engine_, in->order, true, std::max(engine_.options_.segment_bytes, in->size));
        job.inputs.push_back(std::move(in));
    }

    /// Whether the job's scan has ended and found its sorting job's input in key order
    /// already.
    [[nodiscard]] static bool input_found_sorted(const job_type& job) noexcept {
        return job.sorting && job.at != job_type::phase::scan && job.input_order.ordered();
    }

    /// Ends a sorting job whose input is in key order already, keeping the input as it
    /// is, with write_gate_ held. Nothing was written.
    void keep_sorted_input() {
        job_->inputs.front()->in_key_order = true;
        job_.reset();
        all_sorted_at_ = 0;
    }

    /// Advances the pending job by one step, with write_gate_ held: phases run one after
    /// another until the step has read and written compaction_step_bytes (0: the whole
    /// job); publishing ends a step, and each chunk of index entries moved is one, as is
    /// retiring the inputs (which waits while a backup runs) and removing each input's files.
    bool advance_job(std::error_code& ec) {
        const std::uint64_t limit = engine_.options_.compaction_step_bytes;
        std::uint64_t budget = limit == 0 ? std::numeric_limits<std::uint64_t>::max() : limit;
        while (job_) {
            if (budget == 0) return true;
            switch (job_->at) {
                case job_type::phase::scan:
                    if (!scan_inputs(*job_, budget, ec)) return false;
                    if (input_found_sorted(*job_)) {
                        keep_sorted_input();
                        return true;
                    }
                    break;
                case job_type::phase::copy:
                    if (!copy_notes(*job_, budget, ec)) return false;
                    break;
                case job_type::phase::publish:
                    // In the step that copied the last record, as the outputs' .tmp files
                    // of a job that fits one step are never seen unsynced by a write.
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

    /// The scan phase: notes the live puts and needed erases of the inputs' records,
    /// reading about budget bytes (at least one record), and sorts them, a run of their
    /// own (a step sorts only what it read). The inputs are closed, so it reads them with
    /// no lock; each look-up in the index takes the shared lock (the compaction thread
    /// runs with no gate held).
    bool scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec) {
        const segment_type& in = *job.inputs[job.scanning];
        const bool keep_erases = job.keep_erases[job.scanning];
        const std::uint64_t begin = job.scan_offset;
        const std::size_t run_begin = job.notes.size();
        log_scan_result scanned;
        // A record may end past the budget: the scan then reads on until it ends.
        for (std::uint64_t span = budget;; span *= 2) {
            const std::uint64_t end = in.size - begin > span ? begin + span : in.size;
            const bool scanned_ok = scan_log(
                in.file, begin, end, in.version, false,
                [&](const log_entry& entry) {
                    if (job.sorting) job.input_order.next(entry.key);
                    const read_lock lock(engine_.mutex_);
                    if (entry.type == record_type::put) {
                        const auto payload = engine_.table_.find(entry.key);
                        if (!payload) return;
                        const record_location where = record_location::decode(*payload);
                        if (where.segment != in.id || where.offset != entry.offset) return;
                        job.notes.push_back({std::string(entry.key), where, {entry.flags, entry.deadline, entry.tag}});
                    } else if (entry.type == record_type::erase && keep_erases && !engine_.table_.find(entry.key)) {
                        job.notes.push_back({std::string(entry.key), {}, {}, true});
                    }
                },
                scanned, ec);
            if (!scanned_ok) return false;
            if (!scanned.torn_tail || scanned.valid_end > begin) break;
            if (end == in.size) {
                fail(ec, errc::corrupt_record,
                     in.file.path() + ": incomplete record at the end of a closed segment, at offset " +
                         std::to_string(scanned.valid_end) + "; open with options::salvage to keep the intact records");
                return false;
            }
            scanned = {};
        }
        const std::uint64_t read = scanned.valid_end - begin;
        budget -= std::min(budget, read);
        const auto run_start = job.notes.begin() + static_cast<std::ptrdiff_t>(run_begin);
        std::sort(run_start, job.notes.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
        if (run_begin < job.notes.size()) job.runs.push_back({run_begin, job.notes.size()});
        job.scan_offset = scanned.valid_end;
        if (job.scan_offset < in.size) return true;
        if (++job.scanning < job.inputs.size()) {
            job.scan_offset = job.inputs[job.scanning]->records_start();
            return true;
        }
        std::make_heap(job.runs.begin(), job.runs.end(), later_run(job));
        job.moved.resize(job.notes.size());
        job.at = job_type::phase::copy;
        return true;
    }

    /// The order of job.runs' heap: a run whose next note's key is greater comes later.
    [[nodiscard]] static auto later_run(const job_type& job) noexcept {
        return [&notes = job.notes](const typename job_type::run& a, const typename job_type::run& b) {
            return notes[b.next].key < notes[a.next].key;
        };
    }

    /// The next note to copy, in key order, taken from job.runs; false when none is left.
    /// A key's put and its erases are never both noted; erases of one key are copied once.
    static bool next_note(job_type& job, std::size_t& at) {
        const auto later = later_run(job);
        while (!job.runs.empty()) {
            std::pop_heap(job.runs.begin(), job.runs.end(), later);
            at = job.runs.back().next++;
            if (job.runs.back().next == job.runs.back().end) {
                job.runs.pop_back();
            } else {
                std::push_heap(job.runs.begin(), job.runs.end(), later);
            }
            if (!job.copied || job.notes[*job.copied].key != job.notes[at].key) return true;
        }
        return false;
    }

    /// The copy phase: copies noted records into the outputs, about budget bytes (at
    /// least one record), reading each put's value where the scan found it (the shared
    /// lock held for each read, for the segments it finds the input in).
    bool copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec) {
        std::string scratch;
        std::string record;  // not record_: on the compaction thread, writers use it meanwhile
        std::size_t at = 0;
        while (budget > 0 && next_note(job, at)) {
            const auto& n = job.notes[at];
            record_location& moved = job.moved[at];
            record.clear();
            hint_entry entry;
            entry.key = n.key;
            if (n.erase) {
                append_erase_record(record, n.key);
                entry.type = record_type::erase;
            } else {
                std::string_view value;
                const read_lock lock(engine_.mutex_);
                if (!engine_.reader_.read(n.key, n.from, scratch, value, ec)) return false;
                append_put_record(record, n.key, value, n.meta);
                entry.flags = n.meta.flags;
                entry.value_size = n.from.value_size;
                entry.deadline = n.meta.deadline;
                entry.tag = n.meta.tag;
                moved.value_size = n.from.value_size;
                moved.flags = n.meta.flags;
            }
            if (!job.outputs->append(record, entry, moved, ec)) return false;
            // Read once and written once.
            budget -= std::min(budget, 2 * record.size());
            job.copied = at;
        }
        if (job.runs.empty()) job.at = job_type::phase::publish;
        return job.outputs->write_out(ec);
    }

    /// Retires the inputs of a job whose index entries have moved, with write_gate_ held
    /// and no backup running: makes the writer's records durable, then takes the inputs
    /// out of the store. Their files go in the steps after, one input's a step
    /// (remove_next_retired): each costs a directory sync, and the kernel frees a
    /// segment's cached pages and blocks when its file goes (7-12 ms for 32 MiB here).
    bool retire_job(std::error_code& ec) {
        // A record is left behind when a newer one of its key exists; that newer one may
        // still sit in the writer's buffer, and must be durable before the older is
        // removed, or a power loss would lose the key.
        engine_.call_writer(&writer_type::drain, ec);
        if (ec) return false;
        job_->retired = retire_inputs();
        job_->at = job_type::phase::remove;
        return true;
    }

    /// Removes the files of the job's next retired input, in replay order, and ends the
    /// job after the last; no other job starts before, so none can drop an erase whose
    /// older record is still in a file of them. Should a removal fail, the rest stay for
    /// the next open, which replays them to the same contents (as remove_segments).
    void remove_next_retired() {
        std::vector<segment_pointer>& retired = job_->retired;
        if (!retired.empty() && engine_.files_.remove_segment(*retired.front())) {
            retired.erase(retired.begin());  // closes its file unless a reader holds it
        } else {
            retired.clear();
        }
        if (retired.empty()) job_.reset();
    }

    /// Writes and syncs the last output, then renames the outputs into place. Once that
    /// has begun, the outputs are segments of the store and never removed unretired: a
    /// published copy of a key erased since would come back at the next open if the
    /// store forgot it. A failure to publish stops the store's writes (some outputs may
    /// be in place).
    bool publish_outputs(std::error_code& ec) {
        if (!job_->outputs->finish(ec)) return false;
        if (job_->outputs->publish(ec)) return true;
        engine_.failure_.record(ec);
        return false;
    }

    /// Adds the published outputs to the segments, with write_gate_ held, so that readers
    /// find the copies index entries move to. Until the inputs are retired, both are
    /// segments of the store: a backup that copies both replays to the same contents.
    void install_outputs() {
        const write_lock lock(engine_.mutex_);
        for (const segment_pointer& output : job_->outputs->segments()) {
            engine_.index_.add_segment(*output);
            engine_.segments_.add(output);
        }
    }

    /// Moves up to count more index entries, each to its copy when the entry still
    /// points where the copy was read from, with write_gate_ held.
    void move_entries(job_type& job, std::size_t count) {
        const write_lock lock = exclusive_after_readers();
        const std::size_t end =
            job.notes.size() - job.moved_entries > count ? job.moved_entries + count : job.notes.size();
        for (; job.moved_entries < end; ++job.moved_entries) {
            const auto& n = job.notes[job.moved_entries];
            if (n.erase) continue;
            const record_location& copy = job.moved[job.moved_entries];
            const auto payload = engine_.table_.find(n.key);
            const record_location where = payload ? record_location::decode(*payload) : record_location{};
            if (!payload || where.segment != n.from.segment || where.offset != n.from.offset) {
                // Written or erased since the scan: the copy is dead.
                if (segment_type* const output = engine_.segments_.find(copy.segment)) {
                    engine_.index_.add_dead(*output, n.from.record_size(n.key.size()));
                }
                continue;
            }
            char encoded[record_location::max_encoded_size];
            engine_.table_.upsert(n.key, {encoded, copy.encode(encoded)}, [](std::string_view) {});
        }
    }

    /// Takes the inputs out of the segments, with write_gate_ held, no backup running
    /// and the writer drained; returns the inputs, whose files the caller removes
    /// (remove_segments, or remove_next_retired a step at a time).
    std::vector<segment_pointer> retire_inputs() {
        std::vector<segment_pointer> retired = std::move(job_->inputs);
        const write_lock lock(engine_.mutex_);
        for (const segment_pointer& in : retired) {
            engine_.index_.remove_segment(*in);
            engine_.segments_.remove(in->id);
        }
        engine_.hints_.drop_retired(engine_.segments_);
        finish_compaction();
        return retired;
    }

    /// The compaction thread's work (thread_safe): the hints of closed segments still
    /// waiting for one, then jobs one after another while compaction is still due and each
    /// job reclaims dead bytes or sorts a segment, and before each the spare segment once
    /// the active one is half full (the writers go on meanwhile, and may need it before
    /// the jobs end). A job takes about one segment's live records, so the writes that
    /// made compaction due may have ended long before the store is back under
    /// compact_dead_ratio: the thread goes on without them. Failures count as the steps' do.
    void run_background_job() {
        while (!compactor_.interrupted() && engine_.write_pending_hint()) {
        }
        for (;;) {
            if (!compactor_.interrupted()) engine_.rollover_.prepare_spare();
            const std::uint64_t dead_before = dead_bytes_under_lock();
            std::error_code ec;
            bool done = false;
            bool sorted = false;
            try {
                done = background_job(sorted, ec);
            } catch (const std::bad_alloc&) {
                fail(ec, std::make_error_code(std::errc::not_enough_memory),
                     "out of memory while compacting " + engine_.files_.directory().path());
            }
            if (!done) {
                const gate_lock gate = gate_after_writers();
                compaction_failed();
                return;
            }
            if (compactor_.interrupted() || (!sorted && dead_bytes_under_lock() >= dead_before)) return;
            const gate_lock gate = gate_after_writers();
            std::error_code closed;
            if (!engine_.writable(closed) || !due()) return;
        }
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

    /// An automatic job on the compaction thread: started with write_gate_ held; scanned,
    /// sorted and copied with no gate, in chunks of compaction_step_bytes between which a
    /// hold or stop() drops it; published with no gate; its index entries moved in
    /// chunks that each hold the gate briefly; its inputs retired under the gate once no
    /// backup runs. False with ec set when it failed; sorted tells whether the job was
    /// a sorting job that ended (its input rewritten, or found in key order).
    bool background_job(bool& sorted, std::error_code& ec) {
        {
            const gate_lock gate = gate_after_writers();
            std::error_code closed;
            if (!engine_.writable(closed) || !due()) return true;
            if (!start_job(ec)) return false;
            if (!job_) return true;
        }
        const bool sorting = job_->sorting;
        const std::uint64_t chunk = engine_.options_.compaction_step_bytes != 0
                                        ? engine_.options_.compaction_step_bytes
                                        : kvforge::options{}.compaction_step_bytes;
        while (job_->at != job_type::phase::publish) {
            if (compactor_.interrupted()) {
                abort_job();
                return true;
            }
            std::uint64_t budget = chunk;
            const bool stepped =
                job_->at == job_type::phase::scan ? scan_inputs(*job_, budget, ec) : copy_notes(*job_, budget, ec);
            if (!stepped) return false;
            if (input_found_sorted(*job_)) {
                const gate_lock gate = gate_after_writers();
                keep_sorted_input();
                sorted = true;
                return true;
            }
        }
        if (compactor_.interrupted()) {
            abort_job();
            return true;
        }
        if (!publish_outputs(ec)) return false;
        {
            const gate_lock gate = gate_after_writers();
            install_outputs();
            job_->at = job_type::phase::move;
        }
        while (job_->moved_entries < job_->notes.size()) {
            const gate_lock gate = gate_after_writers();
            move_entries(*job_, entries_moved_at_once);
        }
        // As in retire_job: the newer records that left older ones behind are durable
        // before the inputs go. They are handed to the OS under the gate, and synced
        // with none held; segments closed meanwhile were drained as they closed.
        segment_pointer written;
        {
            const gate_lock gate = gate_after_writers();
            engine_.call_writer(&writer_type::flush, ec);
            if (ec) return false;
            written = engine_.active_;
        }
        if (!engine_.files_.sync_file(written->file, ec)) {
            engine_.failure_.record(ec);  // a failed sync is never retried
            return false;
        }
        std::vector<segment_pointer> retired;
        {
            const gate_lock gate = engine_.gate_without_backups();
            retired = retire_inputs();
        }
        compactor_.progressed();
        job_.reset();  // its notes are freed with no gate held
        engine_.files_.remove_segments(retired);
        sorted = sorting;
        return true;
    }

    /// How many index entries a compaction moves with the gate held once: well under a
    /// millisecond's work on the compaction thread; with single_thread, where each chunk
    /// is a put's step, four times that, so that fewer puts pay for one (a job moves
    /// some hundred thousand entries).
    static constexpr std::size_t entries_moved_at_once = threading::concurrent ? 1024 : 4096;

    Engine& engine_;
    std::uint64_t compactions_ = 0;
    std::uint64_t compaction_failures_ = 0;
    std::string last_compaction_error_;
    std::uint64_t compaction_retry_end_ = 0;  // automatic compaction waits until the segments hold more than this
    // The active segment's id when every closed segment was last found in key order (0: not known).
    std::uint32_t all_sorted_at_ = 0;
    // The automatic compaction job under way: used under the gate (single_thread) or by
    // the compaction thread, which others hold off or stop before they touch it.
    std::optional<job_type> job_;
    // Runs automatic compaction jobs (thread_safe); last, so that it stops first.
    compaction_thread compactor_;
};

}  // namespace kvforge::detail
