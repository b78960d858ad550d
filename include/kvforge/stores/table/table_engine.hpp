#pragma once
/// \file table_engine.hpp
/// A store over sorted tables: the engine of store<K, V, file_log, disk_index>.
///
/// Writes go to a log file (data-<generation>.kvlog, the log format) through a durability
/// writer, then into the write buffer. A full buffer is frozen and flushed into a level 0
/// table, and the compactions due merge tables into the levels below, as jobs
/// (table_engine_jobs.hpp). A read looks in the buffer, the frozen buffer, then the tables
/// newest first. An open reads the MANIFEST (table_composition), TABLES and the logs from
/// the oldest TABLES names, whose records it flushes into a table at once.
///
/// The engine is not safe on several threads by itself: table_backend puts it behind the
/// threading policy's lock, and runs its jobs on a thread of its own for thread_safe.
/// TABLES records the counts of live keys and bytes as of its oldest log, so that an open
/// takes them and counts only what the logs it replays change.

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../../batch.hpp"
#include "../../backup_options.hpp"
#include "../../composition.hpp"
#include "../../detail/data_file.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "../../stats.hpp"
#include "../log/log_scan.hpp"
#include "../log/record_format.hpp"
#include "table_composition.hpp"
#include "table_files.hpp"
#include "table_jobs.hpp"
#include "table_read_view.hpp"
#include "table_store_snapshot.hpp"
#include "write_buffer.hpp"

namespace kvforge::detail {

struct table_engine_options {
    std::size_t write_buffer_bytes = std::size_t{64} << 20;
    /// Automatic work for space: the log is flushed, and the tables merged whole, once they
    /// hold at least min_bytes of which dead_ratio are versions a newer write hid (0: never).
    std::uint64_t min_bytes = 64ull << 20;
    double dead_ratio = 0.5;
    /// Whether the jobs run on the caller's thread of choice (table_backend's, thread_safe)
    /// rather than in the write that froze the buffer.
    bool background = false;
    /// Writers wait (must_wait) while level 0 holds this many tables, so that reads, which
    /// look in each, stay bounded when writes outrun compaction.
    std::size_t level0_stop_tables = 12;
    /// The block cache's budget (0: none).
    std::uint64_t block_cache_bytes = 0;
    /// What the open may create and must find; a reader changes no file and takes no write.
    directory_mode mode;
    table_layout layout;
    level_limits limits;
};

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
    std::uint64_t dead_bytes = 0;                ///< a whole merge's: the dead bytes it drops
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
    /// agree with wanted; replays the logs TABLES does not cover into a new level 0 table.
    bool open(IO io, const std::string& path, const composition& wanted, const table_engine_options& options,
              std::error_code& ec) {
        io_ = std::move(io);
        options_ = options;
        std::vector<store_file_name> names;
        std::string manifest;
        const table_composition<IO> recorded(io_, directory_, wanted);
        if (!directory_.open(io_, path, options_.mode, ec) || !directory_.list(names, ec) ||
            !recorded.check(names, manifest, ec)) {
            return false;
        }
        composition_ = recorded.wanted();
        if (options_.block_cache_bytes > 0) {
            cache_ = std::make_unique<block_cache>();
            if (!cache_->set_budget(options_.block_cache_bytes, "options::block_cache_bytes", ec)) return false;
        }
        // The MANIFEST comes before the first record, so a store holding records has one.
        if (!options_.mode.reader && !manifest.empty() &&
            !tables_.write_file(store_file_name::manifest(), manifest, ec)) {
            return false;
        }
        store_counts counts;
        if (!tables_.open(cache_.get(), levels_, listed_oldest_log_, counts, ec)) return false;
        set_counts(counts);
        listed_counts_ = counts;
        // Listed again after TABLES was read: a reader's writer may have started the log it
        // names since the first listing.
        if (options_.mode.reader && !directory_.list(names, ec)) return false;
        std::vector<std::uint32_t> logs;
        for (const store_file_name& name : names) {
            if (name.is_temporary()) continue;
            if (name.kind() == store_file_kind::data || name.kind() == store_file_kind::table) {
                next_generation_ = std::max(next_generation_.load(), name.generation() + 1);
            }
            if (name.kind() == store_file_kind::data && name.generation() >= listed_oldest_log_) {
                logs.push_back(name.generation());
            }
        }
        std::sort(logs.begin(), logs.end());
        for (const std::uint32_t generation : logs) {
            if (!replay(generation, ec)) return false;
        }
        if (options_.mode.reader) return true;
        // The replayed entries go into a table at once, so that the new log starts empty.
        levels_type next = levels_;
        if (!buffer_.empty() && !flush_write_buffer(buffer_, levels_, context(), next, ec)) return false;
        if (!start_log(ec) || !tables_.publish(next, log_generation_, counts_now(), ec)) return false;
        levels_ = std::move(next);
        note_levels();
        listed_oldest_log_ = log_generation_;
        listed_counts_ = counts_now();
        buffer_ = write_buffer();
        return remove_logs_before(log_generation_, ec) && tables_.remove_unlisted(levels_, ec) &&
               run_jobs(false, [] { return 0; }, [] { return true; }, ec);
    }

    bool put(std::string_view key, std::string_view value, std::error_code& ec) {
        live_change change;
        if (!account(key, &value, nullptr, change, ec)) return false;
        record_.clear();
        append_put_record(record_, key, value);
        if (!append(ec)) return false;
        add_to_buffer(key, record_type::put, value);
        apply(change);
        ++puts_;
        return after_write(ec);
    }

    /// Erases key; false (ec clear) when the store does not hold it, and nothing is written.
    bool erase(std::string_view key, std::error_code& ec) {
        live_change change;
        if (!account(key, nullptr, nullptr, change, ec) || change.keys == 0) return false;
        record_.clear();
        append_erase_record(record_, key);
        if (!append(ec)) return false;
        add_to_buffer(key, record_type::erase, {});
        apply(change);
        ++erases_;
        return after_write(ec);
    }

    /// Writes ops as one batch record, which an open replays whole or not at all.
    bool write(const batch_buffer& ops, std::error_code& ec) {
        // What each operation changes, found before anything is written; an operation sees
        // the ones before it in the batch.
        live_change change;
        batch_sizes_.clear();
        bool read = true;
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            if (read) read = account(key, op == batch_op::put ? &value : nullptr, &batch_sizes_, change, ec);
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
        if (!append(ec)) return false;
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            add_to_buffer(key, op == batch_op::put ? record_type::put : record_type::erase,
                          op == batch_op::put ? value : std::string_view{});
            if (op == batch_op::put) ++puts_;
        });
        apply(change);
        erases_ += change.erased;
        return after_write(ec);
    }

    /// Safe on many threads at once (each reads with buffers of its own) while no write runs.
    bool get(std::string_view key, std::string& value, std::error_code& ec) const {
        gets_.fetch_add(1, std::memory_order_relaxed);
        return find(key, value, ec);
    }

    /// What stats() reports of the engine.
    void add_stats(kvforge::stats& s) const {
        s.live_keys = live_keys_;
        s.live_bytes = live_bytes_;
        s.puts = puts_;
        s.gets = gets_.load(std::memory_order_relaxed);
        s.erases = erases_;
        s.compactions = compactions_;
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        s.memory_bytes = buffer_.memory_usage() + (frozen_ ? frozen_->memory_usage() : 0);
        s.disk_bytes = log_bytes() + frozen_log_bytes_;
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
        s.dead_bytes = dead_bytes_;
        s.segments = (writer_ ? 1 : replayed_logs_.size()) + (frozen_ ? 1 : 0) + levels_.table_count();
        s.compaction_failures = job_failures_;
        s.last_compaction_error = last_job_error_;
        // A new log's header is synced with the log file and the directory.
        s.bytes_written = retired_bytes_written_ + log_headers_written_ + tables_.bytes_written() +
                          (writer_ ? writer_->bytes_written() : 0);
        s.syncs = retired_syncs_ + 2 * logs_started_ + tables_.syncs() + (writer_ ? writer_->syncs() : 0);
    }

    /// Checks every block of every table and counts the entries of the store it holds.
    bool verify(verify_report& report, std::error_code& ec) const {
        report = {};
        report.damaged = torn_tails_;
        return visit({}, true, true, [&](std::string_view, std::string_view) { return ++report.records_checked > 0; }, ec);
    }

    // The jobs (table_engine_jobs.hpp). run_jobs runs them until none is due (whole: until
    // the writes made before the call and every table are merged into the deepest level,
    // as compact() asks), taking exclusive() (a lock guard, or nothing) to plan and install
    // each, and asking go_on() before each whether to go on (it may wake waiting writers).
    template <class Exclusive, class GoOn>
    bool run_jobs(bool whole, Exclusive&& exclusive, GoOn&& go_on, std::error_code& ec);
    bool freeze(std::error_code& ec);
    [[nodiscard]] job_type plan_job(bool whole) const;
    bool run_job(job_type& job, std::error_code& ec) const;
    void install_job(const job_type& job);
    bool remove_replaced(const job_type& job, std::error_code& ec) const;
    /// Whether a write must wait for the jobs: a second buffer is full before the first is
    /// flushed, or level 0 holds level0_stop_tables.
    [[nodiscard]] bool must_wait() const noexcept {
        return (frozen_ && buffer_.memory_usage() >= options_.write_buffer_bytes) ||
               levels_.level(0).size() >= options_.level0_stop_tables;
    }
    /// Whether a write froze the buffer since the last call, so that the jobs are due.
    [[nodiscard]] bool take_job_due() noexcept { return std::exchange(job_due_, false); }

    // Copies the store into a backup (table_engine_backup.hpp).
    bool backup(const std::string& dest, const backup_options& how, std::error_code& ec);

    /// The key's newest value, counting no get.
    bool find(std::string_view key, std::string& value, std::error_code& ec) const {
        return view().find(key, value, ec);
    }

    /// A snapshot of the store as it is; engine is this engine's owner, which the snapshot
    /// holds (table_store_snapshot.hpp). No write may run meanwhile.
    [[nodiscard]] table_store_snapshot<levels_type> snapshot(std::shared_ptr<const void> engine) const {
        return {std::move(engine), std::make_shared<const write_buffer>(buffer_.copy()), frozen_, levels_,
                live_keys_};
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

    [[nodiscard]] std::size_t size() const noexcept { return live_keys_; }

    /// Nothing to flush or sync in a store opened read-only, which has no writer.
    void flush(std::error_code& ec) {
        if (writer_) writer_->flush(ec);
    }
    void sync(std::error_code& ec) {
        if (writer_) writer_->sync(ec);
    }

    /// Empties the store: every table and log replaced by a new, empty log. No job may run.
    bool clear(std::error_code& ec) {
        const levels_type empty;
        if (!start_log(ec) || !tables_.publish(empty, log_generation_, ec)) return false;
        levels_ = empty;
        note_levels();
        listed_oldest_log_ = log_generation_;
        listed_counts_ = {};
        buffer_ = write_buffer();
        frozen_.reset();
        frozen_log_bytes_ = 0;
        buffer_live_ = 0;
        live_keys_ = 0;
        live_bytes_ = 0;
        dead_bytes_ = 0;
        return remove_logs_before(log_generation_, ec) && tables_.remove_unlisted(levels_, ec);
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

    bool close(std::error_code& ec) {
        close_writer(ec);
        log_.close();
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

private:
    [[nodiscard]] table_read_view<levels_type> view() const noexcept { return {buffer_, frozen_.get(), levels_}; }

    bool check_backup(const std::string& dest, std::error_code& ec) const;

    [[nodiscard]] table_job_context<IO, Codec> context() const {
        return {tables_, codec_, options_.layout, options_.limits, cache_.get(), generations_};
    }

    /// What a write changes in the live and dead counts; found before its record is
    /// appended, so that a read that fails leaves the store as it was.
    struct live_change {
        std::int64_t keys = 0;
        std::int64_t bytes = 0;
        std::uint64_t dead = 0;
        std::uint64_t erased = 0;  ///< erases of keys the store held
    };

    /// Adds to change what writing value (an erase when null) under key changes. seen, when
    /// given, holds the value sizes (-1: erased) earlier operations of a batch wrote.
    bool account(std::string_view key, const std::string_view* value,
                 std::unordered_map<std::string, std::int64_t>* seen, live_change& change, std::error_code& ec) {
        std::int64_t old_size = -1;
        const auto earlier = seen ? seen->find(std::string(key)) : std::unordered_map<std::string, std::int64_t>::iterator{};
        if (seen && earlier != seen->end()) {
            old_size = earlier->second;
        } else if (find(key, old_value_, ec)) {
            old_size = static_cast<std::int64_t>(old_value_.size());
        } else if (ec) {
            return false;
        }
        const auto key_size = static_cast<std::int64_t>(key.size());
        if (old_size >= 0) {
            change.keys -= 1;
            change.bytes -= key_size + old_size;
            change.dead += static_cast<std::uint64_t>(key_size + old_size);
        }
        if (value) {
            change.keys += 1;
            change.bytes += key_size + static_cast<std::int64_t>(value->size());
        } else {
            change.dead += key.size();  // the erase itself, until a merge drops it
            change.erased += old_size >= 0 ? 1 : 0;
        }
        if (seen) (*seen)[std::string(key)] = value ? static_cast<std::int64_t>(value->size()) : -1;
        return true;
    }

    void apply(const live_change& change) noexcept {
        live_keys_ = static_cast<std::size_t>(static_cast<std::int64_t>(live_keys_) + change.keys);
        live_bytes_ = static_cast<std::uint64_t>(static_cast<std::int64_t>(live_bytes_) + change.bytes);
        dead_bytes_ += change.dead;
    }

    /// Appends record_ to the log and commits it, as the durability policy does.
    bool append(std::error_code& ec) {
        const append_result appended = writer_->append(record_, ec);
        if (ec) return false;
        writer_->commit(appended.sequence, ec);
        return !ec;
    }

    void add_to_buffer(std::string_view key, record_type kind, std::string_view value) {
        table_entry older;
        if (buffer_.find(key, older)) buffer_live_ -= older.key.size() + older.value.size();
        buffer_live_ += key.size() + value.size();
        table_entry entry;
        entry.key = key;
        entry.kind = kind;
        entry.value = value;
        buffer_.add(entry);
    }

    /// Freezes the buffer when it is full, or when the log holds mostly versions it no
    /// longer does, unless one is frozen already; then runs the jobs, or marks them due for
    /// the thread that runs them.
    bool after_write(std::error_code& ec) {
        if (frozen_) return true;
        if (freeze_due()) {
            if (!freeze(ec)) return false;
        } else if (!whole_merge_due()) {
            return true;
        }
        if (options_.background) {
            job_due_ = true;
            return true;
        }
        return run_jobs(false, [] { return 0; }, [] { return true; }, ec);
    }

    /// Whether the buffer is due to be frozen: it is full, or its log holds mostly versions
    /// it no longer does.
    [[nodiscard]] bool freeze_due() const noexcept {
        const std::uint64_t log = log_bytes();
        const bool log_mostly_dead = options_.dead_ratio > 0 && log >= options_.min_bytes &&
                                     static_cast<double>(log - std::min<std::uint64_t>(log, buffer_live_)) >=
                                         options_.dead_ratio * static_cast<double>(log);
        return buffer_.memory_usage() >= options_.write_buffer_bytes || log_mostly_dead;
    }

    [[nodiscard]] store_counts counts_now() const noexcept { return {live_keys_, live_bytes_, dead_bytes_}; }
    void set_counts(const store_counts& counts) noexcept {
        live_keys_ = static_cast<std::size_t>(counts.live_keys);
        live_bytes_ = counts.live_bytes;
        dead_bytes_ = counts.dead_bytes;
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

    bool replay(std::uint32_t generation, std::error_code& ec) {
        data_file<IO> file;
        std::uint64_t size = 0;
        if (!directory_.open_file(file, store_file_name::data(generation), O_RDONLY, ec) || !file.size(size, ec)) {
            return false;
        }
        char bytes[file_header::size];
        file_header header;
        if (size < file_header::size || !file.read(0, bytes, sizeof bytes, ec) ||
            file_header::decode({bytes, sizeof bytes}, file_kind::data, header) != file_header::problem::none) {
            return !ec;  // a log whose header never became durable holds no record
        }
        log_scan_result result;
        return scan_log(
            file, header.bytes(), size, header.version, false,
            [&](const log_entry& found) {
                if (ec) return;  // a lookup failed: the open fails with it
                ++recovered_records_;
                if (found.type == record_type::clear) {
                    // The logs replayed are newer than every table: a clear empties both.
                    buffer_ = write_buffer();
                    levels_ = levels_type();
                    set_counts({});
                    return;
                }
                // What the entry changes in the counts TABLES gave, as its write did.
                live_change change;
                const std::string_view value = found.value;
                if (!account(found.key, found.type == record_type::erase ? nullptr : &value, nullptr, change, ec)) {
                    return;
                }
                apply(change);
                table_entry entry;
                entry.key = found.key;
                entry.kind = found.type == record_type::erase ? record_type::erase : record_type::put;
                entry.meta.flags = found.flags;
                entry.meta.deadline = found.deadline;
                entry.meta.tag = found.tag;
                entry.value = found.value;
                buffer_.add(entry);
            },
            result, ec) && !ec && (note_tail(generation, result, size), true);
    }

    /// A writer's open cuts a torn tail (its records go into a table, and the log is
    /// removed); a reader's leaves it in place, and verify() names it.
    void note_tail(std::uint32_t generation, const log_scan_result& result, std::uint64_t size) {
        const std::uint64_t valid_end = result.valid_end;
        if (options_.mode.reader) replayed_logs_.push_back({generation, valid_end, result.records});
        if (valid_end == size) return;
        if (!options_.mode.reader) {
            recovered_bytes_cut_ += size - valid_end;
            return;
        }
        torn_tails_.push_back({directory_.file_path(store_file_name::data(generation)), valid_end,
                               std::string(torn_tail_problem)});
    }

    /// Closes the active log's writer, keeping what it wrote and synced for stats().
    bool close_writer(std::error_code& ec) {
        if (!writer_) return true;
        writer_->close(ec);
        retired_bytes_written_ += writer_->bytes_written();
        retired_syncs_ += writer_->syncs();
        writer_.reset();
        return !ec;
    }

    /// The bytes of the active log, its buffered ones included.
    [[nodiscard]] std::uint64_t log_bytes() const noexcept { return writer_ ? writer_->end() : 0; }

    bool start_log(std::error_code& ec) {
        // The old log's buffered records reach the file before the new log exists, so that a
        // reader that finds the new log finds every record of the old one: what it reads
        // is a prefix of the writes.
        if (writer_ && (writer_->flush(ec), ec)) return false;
        const std::uint32_t generation = next_generation_.fetch_add(1);
        data_file<IO> file;
        if (!directory_.open_file(file, store_file_name::data(generation), O_RDWR | O_CREAT | O_TRUNC, ec)) {
            return false;
        }
        file_header header;
        header.generation = generation;
        char bytes[file_header::size];
        header.encode(bytes);
        if (!file.write(0, {bytes, sizeof bytes}, ec) || !file.sync(ec) || !directory_.sync(ec)) return false;
        log_headers_written_ += sizeof bytes;
        ++logs_started_;
        if (!close_writer(ec)) return false;
        log_ = std::move(file);
        log_generation_ = generation;
        writer_.emplace();
        writer_->attach(log_, file_header::size);
        return true;
    }

    IO io_{};
    table_engine_options options_;
    store_directory<IO> directory_;
    Codec codec_{};
    /// Blocks read recently, shared by every table (none when options.block_cache_bytes is 0).
    std::unique_ptr<block_cache> cache_;
    table_files<IO, Codec> tables_{directory_, codec_};
    levels_type levels_;
    write_buffer buffer_;
    data_file<IO> log_;
    std::uint32_t log_generation_ = 0;
    std::optional<Writer> writer_;
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
    std::string record_;
    std::string old_value_;
    std::size_t live_keys_ = 0;
    std::uint64_t live_bytes_ = 0;
    std::uint64_t buffer_live_ = 0;  ///< keys and values of the write buffer's entries
    /// Bytes of versions a newer write hid, not yet merged away; at open, the tables'
    /// bytes over the live ones.
    std::uint64_t dead_bytes_ = 0;
    std::unordered_map<std::string, std::int64_t> batch_sizes_;  ///< account()'s for a batch
    std::uint64_t puts_ = 0;
    mutable std::atomic<std::uint64_t> gets_{0};
    std::uint64_t erases_ = 0;
    std::uint64_t compactions_ = 0;
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    std::uint64_t retired_bytes_written_ = 0;  ///< by the writers of logs since closed
    std::uint64_t retired_syncs_ = 0;
    std::uint64_t log_headers_written_ = 0;
    std::uint64_t logs_started_ = 0;
    std::vector<damaged_record> torn_tails_;  ///< left in place by a read-only open
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
};

}  // namespace kvforge::detail

// The engine's member definitions kept in files of their own (each includes this header first).
#include "table_engine_backup.hpp"
#include "table_engine_jobs.hpp"
