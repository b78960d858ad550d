#pragma once
/// \file engine.hpp
/// The byte-level store behind file_log and mmap_file: append-only segments of
/// checksummed records with an in-memory index from each key to its record (in the
/// manner of Bitcask), a durability policy's writer, hint files and compaction. The
/// engine holds the state and the locks. Its member functions that work on many of its
/// members are defined in files named engine_*.hpp; parts that own state of their own are
/// classes, each with one job, given what they use:
///
///     engine_lifetime.hpp     open() and close(): what recovery found installed; at the end,
///                             the last bytes and hints written out and everything released
///     segment_files.hpp       the directory and the files made in it, their syncs and bytes
///     recovery.hpp            open: the segments found, checked and replayed into the index
///     store_composition.hpp   the MANIFEST, checked at every open and written when due
///     engine_rollover.hpp     the active segment closed when full and the next one put in
///                             its place, from a spare made ahead of need
///     hint_keeper.hpp         the active segment's hint entries, and the hints still to write
///     log_writes.hpp          a put, erase or batch appended, then indexed and noted for the hint
///     engine_after_write.hpp  after a write: the wait for durability, then a step of the work
///                             due (a hint, the spare, compaction) or the compaction thread asked
///     engine_writer_calls.hpp the writer's flush, sync, drain and close, and wait_durable
///     index_updates.hpp       the index's changes and the live and dead bytes, for writes and replay
///     log_reads.hpp           point reads and visits in key order, under the shared lock
///     record_reader.hpp       a record's value, from a mapping, the file or the writer's buffer
///     engine_clear.hpp        clear(): a new segment starting with a clear record, the others retired
///     engine_compaction.hpp   compact() and the automatic compaction jobs, run a step at a
///                             time or on the compaction thread; the rest of it:
///       engine_compaction_choice.hpp      whether a job is due, what it takes, and starting it
///       engine_compaction_phases.hpp      a job's phases: scan, copy, publish, move entries, retire
///       engine_compaction_outputs.hpp     a job's output segments: written, synced with their hints, published
///       engine_compaction_background.hpp  the jobs on the compaction thread, and the writers' wait for it
///     engine_cuts.hpp         the store taken at a cut, for backup(), snapshot() and for_each
///     engine_refresh.hpp      refresh(): a read-only store caught up with the writer beside it
///     backup.hpp              backup()'s copy of the files at a cut, and its check
///     snapshot.hpp            a read-only view: the index copied, the segments held
///     log_verify.hpp          verify(): every record checked against its checksum
///
/// Beside them, what this engine alone uses: write_gate.hpp (the gate's mutex, which lets
/// waiting writers go first), active_calls.hpp (the calls close() waits for), file_id.hpp
/// (the random id a data file and its hint share) and file_mapping.hpp (a read-only
/// shared mapping of a data file).
///
/// Locks. A writer takes write_gate_ (which orders writers, rollover and compaction),
/// builds its record, and under the exclusive lock appends it and updates the index
/// (log_writes.hpp); it waits for durability (sync_each) after releasing both, so that
/// writers can share one sync (engine_after_write.hpp). Readers take the shared lock only.
/// clear() holds write_gate_ while it works, so no writer runs, but readers go on; it
/// takes the exclusive lock only to switch segments. Compaction, whole (compact(): with
/// thread_safe, writers go on meanwhile) or by automatic jobs, and the wait of writers
/// that leave too many dead bytes, are engine_compaction.hpp's, which says what locks a
/// job takes; compact(), clear() and close() run one at a time. close() lets the jobs due
/// finish and waits for the calls that hold no lock (engine_lifetime.hpp). With
/// thread_safe, for_each walks a snapshot of its own, so it holds no lock while its
/// visitor runs (engine_cuts.hpp).
///
/// Files. The directory holds LOCK, MANIFEST, the segments data-<id>.kvlog and their
/// hints data-<id>.kvhint (names: store_files.hpp; segments: segment.hpp). Records go to
/// the active segment, which a write closes when full (engine_rollover.hpp; its spare
/// is prepared off the writers' path as the hint is). The closed one's hint, from the
/// entries gathered as its records were appended, is written after that write returns
/// (engine_after_write.hpp, hint_keeper.hpp): by the next write (single_thread) or on the
/// compaction thread (thread_safe), at close() when still pending, never for a segment
/// retired first. A store opened read-only changes no file.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../batch.hpp"
#include "../../concepts.hpp"
#include "../../detail/function_ref.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/refreshed_keys.hpp"
#include "../../detail/write_version.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "../../pinned_value.hpp"
#include "../../stats.hpp"
#include "active_calls.hpp"
#include "backup.hpp"
#include "backups_running.hpp"
#include "compaction_job.hpp"
#include "compaction_thread.hpp"
#include "file_mapping.hpp"
#include "hint.hpp"
#include "hint_keeper.hpp"
#include "index_updates.hpp"
#include "log_reads.hpp"
#include "log_types.hpp"
#include "log_verify.hpp"
#include "log_writes.hpp"
#include "option_checks.hpp"
#include "record_reader.hpp"
#include "recovery.hpp"
#include "segment.hpp"
#include "segment_files.hpp"
#include "snapshot.hpp"
#include "store_composition.hpp"

namespace kvforge::detail {

/// The store behind file_log (Mapped = false: records of closed segments, and of the
/// part of the active one written before the open, are read through read-only mappings
/// of exactly those bytes, which never change again; the records appended since, with
/// pread) and mmap_file (Mapped = true: records in every segment are read through shared
/// read-only mappings that grow with the active one, and views into them are handed
/// out). Writes go through the writer and pwrite in both, so both stores have the same
/// durability and crash behaviour.
template <class Policies, bool Mapped = false>
class log_backend {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using table_type = typename types::table_type;
    using threading = typename types::threading;
    using counter_type = typename types::counter_type;
    using writer_type = typename types::writer_type;
    static_assert(durability_writer<writer_type, io_type>,
                  "kvforge: the durability policy's writer<IO, Concurrent> does not satisfy the concept "
                  "kvforge::durability_writer (concepts.hpp), which lists what a log store calls");
    static_assert(!requires { typename Policies::index::template store_backend<Policies>; },
                  "kvforge: this index keeps the records in files of its own (kvforge::disk_index: sorted tables), "
                  "which kvforge::file_log writes; use it with file_log, not mmap_file");
    using mutex_type = typename types::mutex_type;
    using gate_type = typename types::gate_type;
    using read_lock = typename types::read_lock;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    using hint_keeper_type = hint_keeper<io_type, counter_type, mutex_type>;
    static constexpr bool ordered_index = Policies::index::ordered;
    /// Whether a sorting job can walk the index to find its input's records, and walk it
    /// again to move their entries (btree_table::update_from).
    static constexpr bool walkable_index =
        ordered_index && requires(table_type& table, std::string_view key) {
            table.update_from(key, true, kvforge::detail::record_updater{});
        };
    /// A compaction job's output segments (engine_compaction_outputs.hpp).
    class output_segments;
    using job_type = compaction_job<segment_type, output_segments>;

public:
    /// Whether writes hand out sequence numbers (async_worker).
    static constexpr bool sequenced = writer_type::sequenced;

    log_backend() = default;
    log_backend(const log_backend&) = delete;
    log_backend& operator=(const log_backend&) = delete;
    /// Closes the store; never throws (call close() first to see its errors).
    ~log_backend() {
        try {
            std::error_code ignored;
            close(ignored);
        } catch (...) {
            // Out of memory while writing the hint: the log alone still holds everything.
        }
    }

    /// Opens or creates the store in directory path, as opts says (create_if_missing,
    /// error_if_exists, read_only, salvage), for the store<> whose composition is wanted.
    void open(std::string_view path, const kvforge::options& opts, io_type io, const composition& wanted,
              std::error_code& ec);

    /// Writes everything out, syncs it, writes the active segment's hint and releases the store
    /// (a read-only store only releases it). The store is closed afterwards even when
    /// this reports an error.
    void close(std::error_code& ec) { close(ec, [] {}); }
    /// As close(ec), calling before_release() once the data files are final, before the
    /// store's lock is released (engine_lifetime.hpp).
    void close(std::error_code& ec, function_ref<void()> before_release);

    [[nodiscard]] bool is_open() const noexcept { return open_; }

    // Writes (log_writes.hpp), each followed by the steps engine_after_write.hpp runs.
    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
        const std::uint64_t sequence = writes_.put(key, value, ec);
        return ec ? 0 : finish_write(gate, sequence, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return false;
        // Writers are ordered by the gate, so the index cannot change under this lookup.
        if (!table_.find(key) || !make_room(ec)) return false;
        const std::uint64_t sequence = writes_.erase(key, ec);
        if (ec) return false;
        finish_write(gate, sequence, ec);
        return !ec;
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
        const std::uint64_t sequence = writes_.write(ops, ec);
        return ec ? 0 : finish_write(gate, sequence, ec);
    }

    // Reads (log_reads.hpp).
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        return reads_.read(key, on_value, ec);
    }
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return reads_.read_value(key, out, ec);
    }
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const requires Mapped {
        return reads_.read_pinned(key, out, ec);
    }
    bool contains(std::string_view key, std::error_code& ec) const { return reads_.contains(key, ec); }
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        reads_.visit_from(from, inclusive, visitor, ec);
    }
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        reads_.visit_down_from(from, inclusive, visitor, ec);
    }
    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const {
        reads_.for_each_in_file_order(visitor, ec);
    }

    /// Calls visitor(key, value) for every record; a thread_safe store walks a snapshot of
    /// its own (engine_cuts.hpp).
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const;

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on (put, erase, batch, clear,
    /// compaction), read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// Removes every key: a new active segment starting with a clear record, then the
    /// others retired (engine_clear.hpp).
    void clear(std::error_code& ec);

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = table_.size();
        s.live_bytes = index_.live_bytes();
        s.dead_bytes = index_.dead_bytes();
        s.memory_bytes = table_.memory_usage();
        writes_.add_stats(s);
        s.gets = reads_.gets();
        add_compaction_stats(s);
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        if (open_) {
            s.segments = segments_.size();
            s.disk_bytes = data_bytes();
            for (const segment_pointer& in : segments_.by_id()) {
                s.disk_bytes += in->hint_bytes;
                if (in->mapping) s.mapped_bytes += in->mapping->length();
            }
            s.syncs = writer_->syncs() + files_.syncs();
            s.bytes_written = writer_->bytes_written() + files_.bytes_written();
        }
        return s;
    }

    /// Hands buffered writes to the OS; nothing to do for a read-only store.
    void flush(std::error_code& ec) { drain_writer(&writer_type::flush, ec); }
    /// Makes every write so far durable; nothing to do for a read-only store.
    void sync(std::error_code& ec) { drain_writer(&writer_type::sync, ec); }

    /// Rewrites the live records of every segment there is at the call into new
    /// segments, in key order, and retires the old ones; with thread_safe, writers go on
    /// meanwhile, into a new active segment (engine_compaction.hpp).
    void compact(std::error_code& ec) { compact_whole(ec); }

    /// Blocks until the write with this sequence number is on disk (async_worker).
    void wait_durable(std::uint64_t sequence, std::error_code& ec);
    /// The sequence number of the last write on disk (async_worker; 0 when closed).
    [[nodiscard]] std::uint64_t durable_sequence() const;

    /// Copies the store as it is at the call into directory dest, which must be missing
    /// or empty: every write that returned before the call is in the copy, and writes
    /// that start after it are not (engine_cuts.hpp).
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec);

    /// A read-only view of the store as it is at the call (engine_cuts.hpp, snapshot.hpp).
    [[nodiscard]] log_snapshot<io_type, table_type> snapshot(std::error_code& ec) const;

    /// Catches a read-only store up with the writer beside it: applies the records and
    /// segments it published and the segments it retired since the open or the last
    /// refresh (engine_refresh.hpp). Returns how many records that applied; a writable
    /// store fails with errc::invalid_argument. keys, when given, learns which keys changed.
    std::uint64_t refresh(std::error_code& ec, refreshed_keys* keys = nullptr);

    /// Reads every record of every segment and checks its checksum; changes nothing.
    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        const gate_lock gate(write_gate_);
        verify_report report;
        if (!readable(ec)) return report;
        // A store opened with salvage (read-only, or before its rewrite) also lists what its open found.
        report.damaged = file_damage_;
        verify_segments(segments_.in_replay_order(), active_, *writer_, report, ec);
        return report;
    }

private:
    /// Takes write_gate_ for a call that retires segments (compact, clear) once no
    /// backup copies them (backups_running.hpp).
    gate_lock gate_without_backups() { return backups_.lock_gate(write_gate_); }

    bool writable(std::error_code& ec) const {
        if (!readable(ec)) return false;
        if (options_.read_only) {
            fail(ec, errc::read_only,
                 files_.directory().path() +
                     " was opened read-only (options::read_only); nothing was written. Open it "
                     "without read_only to write");
            return false;
        }
        if (failure_.check(ec)) return false;
        return !writer_->failed(ec);
    }

    bool readable(std::error_code& ec) const { return reads_.readable(ec); }

    /// The bytes of every segment, the active one's buffered bytes included.
    [[nodiscard]] std::uint64_t data_bytes() const {
        std::uint64_t total = 0;
        for (const segment_pointer& in : segments_.by_id()) total += in == active_ ? writer_->end() : in->size;
        return total;
    }

    // open() and close(), and what they share (engine_lifetime.hpp).
    bool recover(recovered_log<io_type>& recovered, std::error_code& ec);
    bool read_files(table_type& table, recovered_log<io_type>& recovered, std::uint64_t& live_bytes,
                    std::uint64_t& dead_bytes, std::error_code& ec);
    void reset_state();
    /// How often a read-only open (or refresh) reads the files while a writer changes them.
    static constexpr int reader_open_tries = 8;

    // refresh()'s parts (engine_refresh.hpp).
    /// The segments a refresh finds changed: retired, and published on either side of
    /// the reader's newest in replay order (each in replay order).
    struct segment_changes {
        std::vector<segment_pointer> retired;
        std::vector<segment_pointer> before_newest;
        std::vector<segment_pointer> after_newest;
        bool retires_newest = false;
    };
    bool changed_segments(const std::vector<std::uint32_t>& listed, segment_changes& changes);
    void add_published(const segment_pointer& published);
    /// What a refresh applied: the records, and the keys they changed when a layer asked.
    struct refresh_progress {
        std::uint64_t applied = 0;
        refreshed_keys* keys = nullptr;

        void changed(std::string_view key) {
            ++applied;
            if (keys != nullptr) keys->add(key);
        }
        /// A clear record: any key may have changed.
        void cleared() {
            ++applied;
            if (keys != nullptr) keys->add_everything();
        }
    };
    bool apply_copies(const segment_pointer& copies, refresh_progress& progress, std::error_code& ec);
    bool drop_retired(segment_type& gone, std::uint64_t end, refresh_progress& progress, std::error_code& ec);
    bool read_appended(segment_type& in, std::uint64_t from, refresh_progress& progress, std::error_code& ec);
    std::uint64_t reload(std::error_code& ec);

    // After a write (engine_after_write.hpp).
    std::uint64_t finish_write(gate_lock& gate, std::uint64_t sequence, std::error_code& ec);
    bool write_pending_hint();

    // The writer's calls beside the writes (engine_writer_calls.hpp).
    void drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec);
    void call_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) const;

    // clear()'s work with the gate held (engine_clear.hpp).
    bool clear_segments(std::error_code& ec);

    // The rollover (engine_rollover.hpp), with write_gate_ held but for prepare_spare,
    // which takes it itself.
    void reset_rollover(bool wanted = false) noexcept;
    bool make_room(std::error_code& ec);
    /// Whether the write under way closed a segment: that write paid for the rollover's
    /// syncs already, so single_thread runs no step after it (the segment's hint, a
    /// spare, compaction): the next write does.
    [[nodiscard]] bool closed_by_this_write() const noexcept { return closed_by_this_write_; }
    /// How many segments rollovers have closed since the store opened.
    [[nodiscard]] std::uint64_t segments_closed() const noexcept { return segments_closed_; }
    bool roll_over(std::error_code& ec);
    void make_active(segment_pointer next, std::uint64_t end);
    [[nodiscard]] bool spare_due() const noexcept;
    void prepare_spare();
    void discard_spare();
    bool flush_ahead(std::error_code& ec);
    segment_pointer take_spare();
    /// The most a rollover writes and syncs of a buffering writer's bytes: a write that
    /// finds the active segment this close to full flushes ahead (a quarter of the
    /// smallest segments).
    static constexpr std::uint64_t final_stretch(std::uint64_t segment_bytes) noexcept {
        return std::min(std::uint64_t{512} << 10, segment_bytes / 4);
    }

    // The cut that backup() and snapshot() take, with the gate held (engine_cuts.hpp).
    bool take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const;

    bool create_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        return files_.create_segment(id, out, ec);
    }

    /// The id of a new segment, taken by writers (under the gate) and by the compaction thread.
    [[nodiscard]] std::uint32_t new_segment_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    // Compaction (engine_compaction.hpp, which says what locks each part takes).
    /// Whether an automatic job is under way (single_thread: between its steps).
    [[nodiscard]] bool compaction_job_under_way() const noexcept { return job_.has_value(); }
    void request_compaction();
    /// Keeps automatic jobs off until the guard is destroyed (compact, clear).
    [[nodiscard]] compaction_thread::hold_guard hold_compaction() { return compactor_.hold(); }
    /// Lets jobs be requested again, once the store is open.
    void resume_compaction() { compactor_.resume(); }
    /// Lets the work requested so far run to its end, then stops the thread (close).
    void finish_compaction_thread() { compactor_.finish(); }
    void reset_compaction();
    void add_compaction_stats(kvforge::stats& s) const;
    /// Lets one whole-store change at a time run (compact, clear, close): compact() of a
    /// thread_safe store runs with no gate held but for short spells, and the others
    /// would drop its job meanwhile. Taken before hold_compaction() and the gate.
    [[nodiscard]] std::unique_lock<std::mutex> lock_whole() { return std::unique_lock(whole_); }
    void compact_whole(std::error_code& ec);
    void count_empty_compaction();
    void compact_now(std::error_code& ec);
    bool compact_all(std::error_code& ec);
    void finish_compaction();
    void abort_job();
    void compaction_failed();
    bool start_whole_job(std::error_code& ec);
    bool advance_job(std::error_code& ec, std::uint64_t limit);
    [[nodiscard]] static bool input_found_sorted(const job_type& job) noexcept;
    void keep_sorted_input();
    [[nodiscard]] gate_lock gate_after_writers();
    [[nodiscard]] write_lock exclusive_after_readers() const;
    [[nodiscard]] std::uint64_t dead_bytes_under_lock() const;
    // Whether a job is due, what it takes, and starting it (engine_compaction_choice.hpp).
    [[nodiscard]] bool wants_compaction() const;
    [[nodiscard]] bool wants_sorting();
    [[nodiscard]] bool sorting_allowed() const;
    /// Whether an automatic job is due: dead bytes to reclaim, or a segment to sort.
    [[nodiscard]] bool compaction_due() { return wants_compaction() || wants_sorting(); }
    void sort_before_close();
    segment_pointer unsorted_segment();
    bool start_job(std::error_code& ec);
    void start_sorting_job();
    // A job's phases (engine_compaction_phases.hpp).
    bool scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec);
    void check_puts(job_type& job, std::size_t from);
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
    // The jobs on the compaction thread, and the writers' wait for it
    // (engine_compaction_background.hpp).
    void wait_for_compaction();
    [[nodiscard]] bool over_stall_ceiling() const;
    void run_background_job();
    bool background_job(bool& sorted, std::error_code& ec);
    bool run_job(bool interruptible, bool& sorted, std::error_code& ec);
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
    /// How many puts a scan looks up in the index at once, with the shared lock held
    /// once, where the index runs look-ups as a pipeline (find_many): their cache misses
    /// overlap, and the lock is taken once for them all (check_puts).
    static constexpr std::size_t puts_checked_at_once = 32;
    static constexpr bool pipelined_lookups = requires(const table_type& table, std::span<const std::string_view> keys) {
        table.find_many(keys, [](std::size_t, std::optional<std::string_view>) {});
    };

    // The engine's state, grouped by the lock that guards it. A member some of whose
    // calls take a lock of their own says so; the parts at the end say what they take.

    // Set by open() with write_gate_ held, while the store is closed and no other call
    // can reach it; read with no lock while it is open.
    io_type io_{};
    kvforge::options options_{};
    composition composition_;  // what this open's store<> is made of, as the manifest records it
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    std::vector<damaged_record> salvaged_;
    // What a read-only salvaging open found that a scan of the segments cannot find again
    // (recovered_log::file_damage), for verify().
    std::vector<damaged_record> file_damage_;

    // The locks. write_gate_ orders writers, rollover, clear, close and compaction's
    // changes; mutex_ is taken shared by readers and exclusive to change what they read.
    mutable gate_type write_gate_;
    mutable mutex_type mutex_;

    // Guarded by nothing of the engine's: atomics, or members with a lock of their own.
    // Read with no lock by is_open(); changed with write_gate_ and mutex_ (exclusive) held.
    std::atomic<bool> open_{false};
    // The id of the next segment made, one counter for every kind; taken by writers and
    // by the compaction thread.
    std::atomic<std::uint32_t> next_id_{1};
    detail::write_version<threading::concurrent> version_;
    active_calls<threading::concurrent> active_calls_;  // calls that hold no lock, which close() waits for
    backups_running backups_;
    sticky_failure failure_;
    // The directory and the files made in it; opened and closed with write_gate_ held,
    // its counts of syncs and bytes its own.
    segment_files<io_type, counter_type> files_{failure_};

    // Guarded by write_gate_ and mutex_: changed with both held (mutex_ exclusive), read
    // under either; readers find records' segments here.
    segment_set<io_type> segments_;
    segment_pointer active_;  // the segment the writer appends to (read-only: the last in replay order)
    std::uint64_t refreshed_end_ = 0;  // read-only: where active_'s intact records end, as last read
    table_type table_;
    // The index's changes and the live and dead bytes.
    index_updates<io_type, table_type> index_{table_, segments_};
    // Called with write_gate_ held; a writer without a worker changes the buffer readers
    // read, so it is called with mutex_ exclusive too (call_writer). Mutable for
    // snapshot(), which is const: a flush hands the writer's buffered records to the OS,
    // under the gate, and changes nothing a reader sees.
    mutable std::optional<writer_type> writer_;

    // The readers' views of the state above, used under mutex_ shared.
    record_reader<io_type, writer_type, Mapped> reader_{io_, segments_, active_, writer_};
    log_reads<table_type, record_reader<io_type, writer_type, Mapped>, mutex_type, counter_type> reads_{table_, reader_,
                                                                                                        mutex_, open_};

    // Guarded by write_gate_: used by writers, rollover, clear, close and compaction's
    // changes, which take mutex_ exclusive for what readers see (hint_keeper.hpp).
    hint_keeper_type hints_{files_, mutex_};
    std::string record_;  // the record being written (writes_, compact()), reused
    log_writes<Policies, record_reader<io_type, writer_type, Mapped>> writes_{
        writer_, active_, index_, hints_, reader_, mutex_, failure_, version_, record_};
    // The rollover's (engine_rollover.hpp): the next segment the writer appends to,
    // prepared ahead of need as a synced .tmp, and whether the active segment still wants one.
    segment_pointer spare_;
    bool spare_wanted_ = false;
    bool closed_by_this_write_ = false;
    bool flushed_ahead_ = false;  // for the active segment
    std::uint64_t segments_closed_ = 0;
    store_composition<io_type> manifest_{io_, files_.directory(), composition_};

    // backup()'s copier, used with no lock held once the cut is taken (engine_cuts.hpp);
    // it refers to the I/O policy, directory and composition above.
    log_backup<io_type> backup_{io_, files_.directory(), composition_};

    // Compaction's (engine_compaction.hpp). Its counters are changed with mutex_
    // exclusive and read under it shared (stats); the others, under write_gate_ but for
    // what the comments say.
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
    // Runs automatic compaction jobs (thread_safe); last, so that its thread stops first.
    compaction_thread compactor_;
};

}  // namespace kvforge::detail

// The engine's member definitions kept in files of their own (each includes this header first).
#include "engine_after_write.hpp"
#include "engine_clear.hpp"
#include "engine_compaction.hpp"
#include "engine_compaction_background.hpp"
#include "engine_compaction_choice.hpp"
#include "engine_compaction_outputs.hpp"
#include "engine_compaction_phases.hpp"
#include "engine_cuts.hpp"
#include "engine_lifetime.hpp"
#include "engine_refresh.hpp"
#include "engine_rollover.hpp"
#include "engine_writer_calls.hpp"
