#pragma once
/// \file table_engine.hpp
/// A store over sorted tables: the engine of store<K, V, file_log, disk_index>.
///
/// Writes go to a log file (data-<generation>.kvlog, the log format) through a durability
/// writer, then into the write buffer. A full buffer is frozen and flushed into a level 0
/// table, and the compactions due merge tables into the levels below, as jobs
/// (table_engine_jobs.hpp). A read looks in the buffer, the frozen buffer, then the tables
/// newest first. An open reads the MANIFEST (table_composition), TABLES and the logs from
/// the oldest TABLES names, whose records it flushes into a table at once
/// (table_engine_open.hpp); a close flushes buffers whose logs hold more than
/// close_flush_bytes, so that the next open replays little. The log and its writer are
/// table_log's; the counts that stats() reports, live_counts'. What it is opened with:
/// table_engine_options.hpp.
///
/// The engine is not safe on several threads by itself: table_backend puts it behind the
/// threading policy's lock, and runs its jobs on a thread of its own for thread_safe.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../backup_options.hpp"
#include "../../batch.hpp"
#include "../../composition.hpp"
#include "../../compression/codec.hpp"
#include "../../detail/function_ref.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/store_directory.hpp"
#include "../../error.hpp"
#include "../../stats.hpp"
#include "../log/log_scan.hpp"
#include "../log/record_format.hpp"
#include "live_counts.hpp"
#include "table_engine_options.hpp"
#include "table_files.hpp"
#include "table_jobs.hpp"
#include "table_log.hpp"
#include "table_read_view.hpp"
#include "table_store_snapshot.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

/// A job on a store's tables: planned under the store's lock (table_engine::plan_job), run
/// without it (run_job: it writes tables and a new TABLES, and changes nothing a read
/// sees), installed under the lock (install_job); then the files it replaced are removed.
template <class Levels>
struct table_job {
    enum class kind { none, flush, compaction, whole };
    kind what = kind::none;
    Levels current;                              ///< the levels it starts from
    std::shared_ptr<const write_buffer> frozen;  ///< a flush's buffer
    table_compaction compaction;                 ///< a compaction's tables
    std::uint32_t oldest_log = 0;                ///< the oldest log its TABLES leaves to replay
    std::uint64_t dropped_bytes = 0;             ///< the dead versions it takes out of the files
    store_counts counts;                         ///< what its TABLES records as of oldest_log
    Levels next;                                 ///< what it made
};

template <class IO, class Writer, class Codec>
class table_engine {
public:
    using levels_type = table_levels<Codec, data_file<IO>>;
    using job_type = table_job<levels_type>;

    table_engine() = default;
    table_engine(const table_engine&) = delete;
    table_engine& operator=(const table_engine&) = delete;

    /// Opens (or creates, as options.mode allows) the store at path, whose MANIFEST must
    /// agree with wanted; replays the logs TABLES does not cover into a new level 0 table
    /// (table_engine_open.hpp). Calls once_locked() once it holds the directory's lock and
    /// before it changes a file: where a layer above reads the data files as the last
    /// close left them (the expiry layer's deadlines file). An open that fails lets go of
    /// the directory at once, its lock included, so that the store opens elsewhere while
    /// this engine lives on.
    bool open(IO io, const std::string& path, const composition& wanted, const table_engine_options& options,
              std::error_code& ec, function_ref<void()> once_locked = [] {});

    bool put(std::string_view key, std::string_view value, std::error_code& ec);
    /// Erases key; false (ec clear) when the store does not hold it, and nothing is written.
    bool erase(std::string_view key, std::error_code& ec);
    /// Writes ops as one batch record, which an open replays whole or not at all.
    bool write(const batch_buffer& ops, std::error_code& ec);

    /// Safe on many threads at once (each reads with buffers of its own) while no write runs.
    bool get(std::string_view key, std::string& value, std::error_code& ec) const {
        gets_.fetch_add(1, std::memory_order_relaxed);
        return view().find(key, value, ec);
    }

    /// As get, calling on_value(value, block) with a view of the value instead of a copy
    /// (table_read_view::find_with).
    template <class OnValue>
    bool get_with(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        gets_.fetch_add(1, std::memory_order_relaxed);
        return view().find_with(key, on_value, ec);
    }

    /// As get, handing the value out as a pinned_value (table_read_view::find_pinned).
    bool get_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const {
        gets_.fetch_add(1, std::memory_order_relaxed);
        return view().find_pinned(key, out, ec);
    }

    /// What stats() reports of the engine.
    void add_stats(kvforge::stats& s) const {
        s.live_keys = counts_.live_keys();
        s.live_bytes = counts_.live_bytes();
        s.puts = puts_;
        s.gets = gets_.load(std::memory_order_relaxed);
        s.erases = erases_;
        s.compactions = compactions_;
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        s.memory_bytes = buffer_.memory_usage() + (frozen_ ? frozen_->memory_usage() : 0);
        s.disk_bytes = log_.end() + frozen_log_bytes_;
        for (const replayed_log& log : replayed_logs_) s.disk_bytes += log.valid_end;
        for (std::size_t i = 0; i < level_limits::levels; ++i) {
            for (const auto& table : levels_.level(i)) {
                s.disk_bytes += table.file_size;
                s.memory_bytes += table.reader->memory_bytes();
            }
        }
        if (cache_) {
            s.memory_bytes += cache_->memory_usage();
            s.hits = cache_->hits();
            s.misses = cache_->misses();
            s.evictions = cache_->evictions();
        }
        s.dead_bytes = counts_.dead_bytes();
        s.segments = (log_.writing() ? 1 : replayed_logs_.size()) + (frozen_ ? 1 : 0) + levels_.table_count();
        s.compaction_failures = job_failures_;
        s.last_compaction_error = last_job_error_;
        s.bytes_written = log_.bytes_written() + tables_.bytes_written();
        s.syncs = log_.syncs() + tables_.syncs();
    }

    /// Checks every block of every table and counts the entries of the store it holds. A
    /// store with damaged blocks has each listed, and the intact entries of its tables
    /// counted.
    bool verify(verify_report& report, std::error_code& ec) const {
        report = {};
        report.damaged = found_damage_;
        const auto count = [&](std::string_view, std::string_view) { return ++report.records_checked > 0; };
        const table_read_view<levels_type> stopping_at_damage{buffer_, frozen_.get(), levels_};
        if (stopping_at_damage.walk(std::string_view{}, true, true, count, ec) || ec != errc::corrupt_record) {
            return !ec;
        }
        report.records_checked = 0;
        return levels_.check_blocks(report.damaged, report.records_checked, ec);
    }

    // The jobs (table_engine_jobs.hpp). run_jobs runs them until none is due (whole: until
    // the writes made before the call and every table are merged into the deepest level,
    // as compact() asks), taking exclusive() (a lock guard, or nothing) to plan and install
    // each, and asking go_on() before each whether to go on (it may wake waiting writers).
    template <class Exclusive, class GoOn>
    bool run_jobs(bool whole, Exclusive&& exclusive, GoOn&& go_on, std::error_code& ec);
    bool freeze(std::error_code& ec);
    /// Flushes the frozen buffer, then the write buffer, each into a table of its own,
    /// leaving the writer on an empty log: a close's last jobs.
    bool flush_buffers(std::error_code& ec);
    [[nodiscard]] job_type plan_job(bool whole) const;
    bool run_job(job_type& job, std::error_code& ec) const;
    void install_job(const job_type& job);
    bool remove_replaced(const job_type& job, std::error_code& ec) const;
    /// Has the block cache drop the blocks of the tables before holds and after does not.
    void forget_blocks(const levels_type& before, const levels_type& after) const;
    /// Whether a write must wait for the jobs: a second buffer is full before the first is
    /// flushed, the one buffer is twice full (its freeze failed), or level 0 holds
    /// level0_stop_tables.
    [[nodiscard]] bool must_wait() const noexcept {
        const std::size_t buffered = buffer_.memory_usage();
        return (frozen_ && buffered >= options_.write_buffer_bytes) || buffered >= 2 * options_.write_buffer_bytes ||
               levels_.level(0).size() >= options_.level0_stop_tables;
    }
    /// Whether the last run of the jobs failed (a freeze, flush or merge), so that waiting
    /// for them again makes no room.
    [[nodiscard]] bool jobs_failing() const noexcept { return static_cast<bool>(job_failure_); }
    /// The jobs that failed since the open (stats().compaction_failures).
    [[nodiscard]] std::uint64_t job_failures() const noexcept { return job_failures_; }
    /// Whether a write froze the buffer since the last call, so that the jobs are due.
    [[nodiscard]] bool take_job_due() noexcept { return std::exchange(job_due_, false); }

    // Copies the store into a backup (table_engine_backup.hpp). cut() is called once the
    // files copied are held, after which the store may change: the caller's lock goes.
    bool backup(const std::string& dest, const backup_options& how, function_ref<void()> cut, std::error_code& ec);

    /// The key's newest value, for a write's lookup of the version it hides: it counts no
    /// get and leaves no block in the cache (cache_fill).
    bool find_hidden(std::string_view key, std::string& value, std::error_code& ec) const {
        return view().find(key, value, ec, cache_fill::no);
    }

    /// A snapshot of the store as it is; engine is this engine's owner, which the snapshot
    /// holds (table_store_snapshot.hpp). No write may run meanwhile.
    [[nodiscard]] table_store_snapshot<levels_type> snapshot(std::shared_ptr<const void> engine) const {
        return {std::move(engine), std::make_shared<const write_buffer>(buffer_.copy()), frozen_, levels_,
                counts_.live_keys()};
    }

    /// Calls visitor(key, value) for the keys from `from` (past it unless inclusive), up
    /// (ascending) or down, until it returns false.
    template <class Visitor>
    bool visit(std::string_view from, bool inclusive, bool ascending, Visitor&& visitor, std::error_code& ec) const {
        return view().walk(std::optional<std::string_view>(from), inclusive, ascending, visitor, ec);
    }

    /// Calls visitor(key, value) from the last key down, until it returns false.
    template <class Visitor>
    bool visit_from_last(Visitor&& visitor, std::error_code& ec) const {
        return view().walk(std::nullopt, true, false, visitor, ec);
    }

    [[nodiscard]] std::size_t size() const noexcept { return counts_.live_keys(); }

    void flush(std::error_code& ec) { log_.flush(ec); }
    void sync(std::error_code& ec) { log_.sync(ec); }

    /// The last write's record, which it appended but did not commit (caller_commits): its
    /// sequence number for commit(), taken once (0: none).
    [[nodiscard]] std::uint64_t take_uncommitted() noexcept { return std::exchange(uncommitted_, 0); }

    /// Returns once the record of this sequence number is as durable as the durability
    /// policy promises; other writes may append meanwhile, and share its sync.
    bool commit(std::uint64_t sequence, std::error_code& ec) { return log_.commit(sequence, ec); }

    /// Empties the store: every table and log replaced by a new log that starts with a
    /// clear record. No job may run. The record is synced before TABLES names the log, so
    /// that an open that replays the log empties the store even when TABLES was then lost
    /// and rebuilt from tables whose removal a crash cut short.
    bool clear(std::error_code& ec) {
        const levels_type empty;
        if (!start_log(ec)) return false;
        record_.clear();
        append_clear_record(record_);
        if ((log_.append(record_, ec), ec) || (log_.sync(ec), ec) || !tables_.publish(empty, log_.generation(), ec)) {
            return false;
        }
        forget_blocks(levels_, empty);
        levels_ = empty;
        note_levels();
        listed_oldest_log_ = log_.generation();
        listed_counts_ = {};
        buffer_ = write_buffer();
        frozen_.reset();
        frozen_log_bytes_ = 0;
        counts_.set({});
        return remove_logs_before(log_.generation(), ec) && tables_.remove_unlisted(levels_, ec);
    }

    /// Calls f(key, value) for every key in order.
    template <class F>
    bool scan(F&& f, std::error_code& ec) const {
        return visit(
            {}, true, true,
            [&](std::string_view key, std::string_view value) {
                f(key, value);
                return true;
            },
            ec);
    }

    /// Closes the logs and releases the store. A writer whose logs hold more than
    /// close_flush_bytes first writes its buffers into tables (flush_buffers), so that the
    /// next open has no log records to replay. A writer that closed its logs without an
    /// error records their sizes in TABLES, so that the next open tells a log cut short
    /// from one a crash ended, and calls before_release() then, after the last change to
    /// its files and while it still holds the directory's lock (as the log store's close
    /// does). A flush that failed is reported last: its records stay in the logs, recorded
    /// so, for the next open to replay.
    bool close(std::error_code& ec, function_ref<void()> before_release = [] {}) {
        std::error_code flushed;  // the flush's error, or the earlier one that kept it from running
        if (!options_.mode.reader && unflushed_log_bytes() > options_.close_flush_bytes && !failed(flushed)) {
            flush_buffers(flushed);
        }
        std::error_code closed;
        log_.close_all(closed);
        // After a write's I/O error the close reports that one, as every call that writes does.
        if (!failure_.check(ec)) ec = closed;
        if (!ec && !options_.mode.reader && tables_.record_closed_logs(ec)) before_release();
        if (!ec) ec = flushed;
        levels_ = levels_type();
        directory_.close();
        return !ec;
    }

    [[nodiscard]] const levels_type& levels() const noexcept { return levels_; }

    /// What this engine, a reader, holds that before (an earlier open of the same store)
    /// did not: the tables it lists that before did not, and the log records past those
    /// before read. What refresh() applied.
    [[nodiscard]] std::uint64_t applied_since(const table_engine& before) const {
        std::vector<std::uint32_t> held;
        for (std::size_t i = 0; i < level_limits::levels; ++i) {
            for (const auto& table : before.levels_.level(i)) held.push_back(table.generation);
        }
        std::uint64_t applied = 0;
        for (std::size_t i = 0; i < level_limits::levels; ++i) {
            for (const auto& table : levels_.level(i)) {
                applied += std::find(held.begin(), held.end(), table.generation) == held.end() ? 1 : 0;
            }
        }
        for (const replayed_log& log : replayed_logs_) {
            std::uint64_t seen = 0;
            for (const replayed_log& earlier : before.replayed_logs_) {
                if (earlier.generation == log.generation) seen = earlier.records;
            }
            applied += log.records - std::min(seen, log.records);  // a log only grows
        }
        return applied;
    }

    /// Whether TABLES changed since this engine read it at open (table_files::list_changed).
    [[nodiscard]] bool tables_changed() const { return tables_.list_changed(); }
    /// Whether a write met an I/O error (in the log, or looking up what it hides), after
    /// which the store takes no more: errc::store_failed through ec.
    bool failed(std::error_code& ec) const { return failure_.check(ec) || log_.failed(ec); }

    /// compact()'s part for a codec kept in the store (table_engine_codec.hpp).
    void tend_codec(const levels_type& tables, std::error_code& ec)
        requires codec_kept_in_store<Codec>;

private:
    [[nodiscard]] table_read_view<levels_type> view() const noexcept {
        return {buffer_, frozen_.get(), levels_, options_.salvage && options_.mode.reader};
    }

    bool backup_files(const std::string& dest, const backup_options& how, function_ref<void()> cut,
                      std::error_code& ec);
    bool check_backup(const std::string& dest, const store_counts& live, std::error_code& ec) const;

    [[nodiscard]] table_job_context<IO, Codec> context() const {
        return {tables_, codec_, options_.layout, options_.limits, cache_.get(), generations_, header_};
    }

    /// What a write changes in the counts (live_counts::account), looking up the version
    /// it hides.
    bool account(std::string_view key, const std::string_view* value, bool in_batch, live_counts::change& change,
                 std::error_code& ec);
    /// Appends record_ to the log and commits it, or leaves that to the caller
    /// (table_engine_options::caller_commits).
    bool append_to_log(std::error_code& ec);
    /// Adds a write to the buffer; hidden is the key and value of the version in the tables
    /// an erase hides (0: none).
    void add_to_buffer(std::string_view key, record_type kind, std::string_view value, std::uint64_t hidden = 0);
    /// A store that runs its jobs in its writes (single_thread), whose buffer filled again
    /// after a flush failed (one is still frozen), or twice over after freezes failed, runs
    /// them before it takes a write; a write that cannot make room that way fails with
    /// nothing applied, so that the buffers' memory stays bounded by two.
    bool make_room(std::error_code& ec);
    /// Freezes the buffer when it is full, or when the log holds mostly versions it no
    /// longer does, unless one is frozen already; then runs the jobs, or marks them due for
    /// the thread that runs them. What fails here is counted (note_job_failure), not
    /// reported to the write, which is applied.
    void after_write();

    /// The bytes of the logs the buffers' records are in: what an open would replay.
    [[nodiscard]] std::uint64_t unflushed_log_bytes() const noexcept { return log_.end() + frozen_log_bytes_; }

    /// Whether the buffer is due to be frozen: it is full, or mostly dead
    /// (write_buffer::mostly_dead).
    [[nodiscard]] bool freeze_due() const noexcept {
        return buffer_.memory_usage() >= options_.write_buffer_bytes ||
               (options_.dead_ratio > 0 && log_.end() >= options_.min_bytes &&
                buffer_.mostly_dead(options_.dead_ratio));
    }

    bool tables_mostly_dead() const;
    /// Keeps table_bytes_ in step with levels_, after each change of them a writer makes.
    void note_levels() noexcept {
        table_bytes_ = 0;
        for (std::size_t i = 0; i < level_limits::levels; ++i) table_bytes_ += levels_.level_file_bytes(i);
    }
    /// Whether the tables hold mostly versions a newer write hid (overwrites of a few keys)
    /// since the last flush, so that a merge of them all is due: checked after each flush
    /// and each write until one merge runs, so that a store whose log grows after the flush
    /// gets it too, and at most one a flush, as a merge cannot drop what the buffer hides.
    [[nodiscard]] bool whole_merge_due() const { return dead_check_due_ && tables_mostly_dead(); }
    void note_job_failure(const std::error_code& ec);
    bool remove_logs_before(std::uint32_t generation, std::error_code& ec) const;

    bool open_files(IO io, const std::string& path, const composition& wanted, const table_engine_options& options,
                    std::error_code& ec, function_ref<void()> once_locked);
    bool replay(std::uint32_t generation, std::uint64_t closed_end, std::error_code& ec);
    bool written_here(const file_header& header, const std::string& path, std::error_code& ec) const;
    bool tables_listed(const std::vector<store_file_name>& names, std::string& list_lost, std::error_code& ec) const;
    bool rebuild_table_list(const std::string& list_lost, table_list& listed, std::error_code& ec);
    bool salvage_tables(std::error_code& ec);
    bool damaged_log_header(const std::string& path, std::uint64_t size, file_header::problem problem,
                            file_header& header, std::error_code& ec);
    bool note_tail(std::uint32_t generation, const log_scan_result& result, std::uint64_t size,
                   std::uint64_t closed_end, std::error_code& ec);

    /// Moves the writer to a new log of the next generation.
    bool start_log(std::error_code& ec) { return log_.start(directory_, header_, next_generation_.fetch_add(1), ec); }

    IO io_{};
    table_engine_options options_;
    store_directory<IO> directory_;
    Codec codec_{};
    /// Blocks read recently, shared by every table (none when options.block_cache_bytes is 0).
    std::unique_ptr<block_cache> cache_;
    table_files<IO, Codec> tables_{directory_, codec_};
    levels_type levels_;
    write_buffer buffer_;
    table_log<IO, Writer> log_;
    std::uint64_t uncommitted_ = 0;  ///< the last write's record's sequence number, until taken
    /// Logs and tables take their generations from one counter, which writers (a new log)
    /// and jobs (their tables) draw on at once.
    std::atomic<std::uint32_t> next_generation_{1};
    std::function<std::uint32_t()> generations_ = [this] { return next_generation_.fetch_add(1); };
    /// The buffer frozen for a flush, which reads look in after buffer_; and its log's bytes.
    std::shared_ptr<const write_buffer> frozen_;
    std::uint32_t frozen_log_ = 0;
    std::uint64_t frozen_log_bytes_ = 0;
    bool job_due_ = false;
    bool dead_check_due_ = false;  ///< a flush installed since the last merge of every table
    std::uint64_t table_bytes_ = 0;  ///< the bytes of every table's file (a writer's)
    std::uint64_t job_failures_ = 0;
    std::string last_job_error_;
    std::error_code job_failure_;  // the last run's, until a run succeeds
    sticky_failure failure_;  ///< an I/O error a lookup of a write met (the log keeps its own)
    std::string record_;
    live_counts counts_;
    std::vector<std::uint64_t> batch_hidden_;  ///< for each operation of a batch, what it hides
    std::uint64_t puts_ = 0;
    mutable std::atomic<std::uint64_t> gets_{0};
    std::uint64_t erases_ = 0;
    std::uint64_t compactions_ = 0;
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    /// What a read-only open found and left for verify() to name: torn tails, and a log
    /// TABLES names that a salvaging open found missing.
    std::vector<damaged_record> found_damage_;
    /// A read-only open's logs, each with the end of its last whole record and the records
    /// before it; a writer's open flushes them into a table instead.
    struct replayed_log {
        std::uint32_t generation = 0;
        std::uint64_t valid_end = 0;
        std::uint64_t records = 0;
    };
    std::vector<replayed_log> replayed_logs_;
    /// What TABLES records: the oldest log to replay, and the counts as of it.
    std::uint32_t listed_oldest_log_ = 0;
    store_counts listed_counts_;
    /// The counts when the buffer was frozen: its flush's TABLES records them.
    store_counts frozen_counts_;
    composition composition_;      ///< what the MANIFEST records
    /// What every new log's and table's header records of composition_: the codecs' and
    /// the layers' fingerprints, from which a lost MANIFEST is rebuilt.
    file_header header_;
};

}  // namespace kvforge::detail

// The engine's member definitions kept in files of their own (each includes this header first).
#include "table_engine_backup.hpp"
#include "table_engine_codec.hpp"
#include "table_engine_jobs.hpp"
#include "table_engine_open.hpp"
#include "table_engine_writes.hpp"
