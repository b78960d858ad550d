#pragma once
/// \file table_backend.hpp
/// The backend of store<K, V, file_log, disk_index>: table_engine behind the threading
/// policy's lock: writes take the exclusive lock, reads and scans the shared one. A
/// thread_safe store runs its flushes and compactions on a thread of its own, taking the
/// lock only to plan and install each (table_engine_jobs.hpp); a single_thread store runs
/// them in the write that fills the buffer. backup() and clear() hold the jobs off. A
/// snapshot holds copies of the buffers and the list of tables (table_store_snapshot.hpp).
/// A reader's refresh() opens the store again and takes the new engine's place. Not yet
/// served: a read cache (the block cache serves hot blocks instead) and a codec with
/// dictionaries, which store<> refuses at compile time. compressed<Codec> compresses the
/// tables' blocks whole (the log keeps values as they are). expiring<> keeps its deadline
/// header in front of each value here as on any store (expiring.hpp).

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>

#include "../../batch.hpp"
#include "../../composition.hpp"
#include "../../compression/compressed.hpp"
#include "../../detail/assign_bytes.hpp"
#include "../../detail/function_ref.hpp"
#include "../../detail/refreshed_keys.hpp"
#include "../../detail/write_version.hpp"
#include "../../error.hpp"
#include "../../options.hpp"
#include "../../stats.hpp"
#include "../log/backups_running.hpp"
#include "../log/compaction_thread.hpp"
#include "../log/option_checks.hpp"
#include "table_engine.hpp"

namespace kvforge::detail {

/// The codec of a table store's blocks: its compression policy's, or none.
template <class Compression>
struct table_block_codec {
    using type = uncompressed_blocks;
};
template <class Compression>
    requires requires { typename Compression::codec; }
struct table_block_codec<Compression> {
    using type = typename Compression::codec;
};

template <class Policies>
class table_backend {
    using io_type = typename Policies::io;
    using threading = typename Policies::threading;
    using mutex_type = typename threading::mutex_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;
    using writer_type = typename Policies::durability::template writer<io_type, threading::concurrent>;
    using block_codec = typename table_block_codec<typename Policies::compression>::type;
    using engine_type = table_engine<io_type, writer_type, block_codec>;
    using snapshot_type = table_store_snapshot<typename engine_type::levels_type>;

    static_assert(!Policies::cache_given,
                  "kvforge: kvforge::disk_index takes no kvforge::read_cache<> yet: its block cache will serve hot "
                  "reads; remove read_cache<>");

    /// A thread_safe store runs its jobs (flushes, compactions) on a thread of its own.
    static constexpr bool background = threading::concurrent;

public:
    static constexpr bool sequenced = false;
    /// compressed<Codec> gives its codec to the tables' blocks, not to each value.
    static constexpr bool compresses_blocks = true;

    table_backend() = default;
    table_backend(const table_backend&) = delete;
    table_backend& operator=(const table_backend&) = delete;
    ~table_backend() {
        std::error_code ignored;
        close(ignored);
    }

    /// Calls once_locked() when the store is locked and before the open changes a file
    /// (table_engine::open).
    void open(std::string_view path, const kvforge::options& opts, io_type io, const composition& wanted,
              std::error_code& ec, function_ref<void()> once_locked = [] {}) {
        if (!accepts_options(opts, ec)) return;
        const write_lock lock(mutex_);
        table_engine_options options;
        // The writes since the last flush take segment_bytes at most: with background jobs,
        // two buffers of half that (one fills while the other is flushed); else one.
        options.write_buffer_bytes = background ? opts.segment_bytes / 2 : opts.segment_bytes;
        options.min_bytes = opts.compact_min_bytes;
        options.mode.create = opts.create_if_missing && !opts.read_only;
        options.mode.require_store = !options.mode.create;
        options.mode.refuse_store = opts.error_if_exists;
        options.mode.reader = opts.read_only;
        options.salvage = opts.salvage;
        read_only_ = opts.read_only;
        path_ = std::string(path);
        options.dead_ratio = opts.compact_dead_ratio;
        options.block_cache_bytes = opts.block_cache_bytes;
        options.background = background;
        options.caller_commits = threading::concurrent;
        compactor_.resume();
        io_ = std::move(io);
        wanted_ = wanted;
        options_ = options;
        engine_ = open_engine(ec, once_locked);
        open_ = engine_ != nullptr;
        if (open_ && engine_->take_job_due()) request_jobs();
    }

    /// Buffers whose logs hold more than 1 MiB go into tables first (table_engine::close),
    /// so that the next open replays little.
    /// A writer that closed without an error calls before_release() as its last change to
    /// the files is made and the store still locked (table_engine::close).
    void close(std::error_code& ec, function_ref<void()> before_release = [] {}) {
        compactor_.stop();
        auto lock = backups_.lock_gate(mutex_);  // a backup on another thread copies from the files
        if (!open_) return;
        open_ = false;  // writes fail from here (writable), while before_release may read
        engine_->close(ec, [&] {
            lock.unlock();
            before_release();
            lock.lock();
        });
        engine_.reset();
    }

    [[nodiscard]] bool is_open() const noexcept { return open_; }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        apply_write(ec, [&] { engine_->put(key, value, ec); });
        return 0;
    }

    bool erase(std::string_view key, std::error_code& ec) {
        bool erased = false;
        apply_write(ec, [&] { erased = engine_->erase(key, ec); });
        return erased;
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        apply_write(ec, [&] {
            if (engine_->write(ops, ec)) ++batches_;
        });
        return 0;
    }

    /// Calls on_value with a view of the value where it lies, under the shared lock.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const read_lock lock(mutex_);
        return opened(ec) &&
               engine_->get_with(key, [&](std::string_view value, const shared_block*) { on_value(value); }, ec);
    }

    /// The value without a copy where it lies in a block the cache holds: the pinned_value
    /// keeps that block alive, outside the cache's budget, however the store changes.
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        return opened(ec) && engine_->get_pinned(key, out, ec);
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        return opened(ec) && engine_->get(key, out, ec);
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        return read(key, [](std::string_view) {}, ec);
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (opened(ec)) engine_->visit(from, inclusive, true, visitor, ec);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!opened(ec)) return;
        if (from) {
            engine_->visit(*from, inclusive, false, visitor, ec);
        } else {
            engine_->visit_from_last(visitor, ec);
        }
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!opened(ec)) return;
        engine_->visit({}, true, true, [&](std::string_view k, std::string_view v) {
            visitor(k, v);
            return true;
        }, ec);
    }

    /// A read-only view of the store as it is (table_store_snapshot.hpp); an empty one,
    /// with ec set, when no store is open.
    [[nodiscard]] snapshot_type snapshot(std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!opened(ec)) return {};
        return engine_->snapshot(engine_);
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return engine_ ? engine_->size() : 0;
    }

    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    void clear(std::error_code& ec) {
        const auto hold = compactor_.hold();
        const write_lock lock(mutex_);
        if (!writable(ec)) return;
        version_.bump();
        engine_->clear(ec);
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        if (engine_) engine_->add_stats(s);
        s.batches = batches_;
        s.write_stalls = compactor_.stalls();
        return s;
    }

    void flush(std::error_code& ec) {
        const write_lock lock(mutex_);
        if (opened(ec)) engine_->flush(ec);
    }
    void sync(std::error_code& ec) {
        const write_lock lock(mutex_);
        if (opened(ec)) engine_->sync(ec);
    }
    /// Merges every table, and the writes made before the call, into the deepest level; then
    /// a codec kept in the store (zstd_trained<>) retires and trains its dictionaries.
    /// thread_safe: writers go on meanwhile, and wait only if they fill the write buffer
    /// twice before it ends.
    void compact(std::error_code& ec) {
        if constexpr (background) {
            const auto hold = compactor_.hold();
            {
                const read_lock lock(mutex_);
                if (!writable(ec)) return;
            }
            engine_->run_jobs(
                true, [this] { return write_lock(mutex_); },
                [this] {
                    compactor_.progressed();  // wakes the writers that wait for a flush
                    return true;
                },
                ec);
            if (!ec) tend_codec(ec);  // before the thread runs a job again
        } else {
            const write_lock lock(mutex_);
            if (!writable(ec)) return;
            engine_->run_jobs(true, [] { return 0; }, [] { return true; }, ec);
            if (!ec) tend_codec(ec);
        }
    }

    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        const read_lock lock(mutex_);
        verify_report report;
        if (opened(ec)) engine_->verify(report, ec);
        return report;
    }

    /// Writers wait only while the backup takes its cut (table_engine_backup.hpp); the bytes
    /// are copied with no lock held, while writes and jobs go on, and close() waits for them.
    /// A table is copied by a reflink where the file system offers one, or linked
    /// (backup_options::link_files).
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) {
        write_lock lock(mutex_);
        if (!opened(ec)) return;
        const std::shared_ptr<engine_type> engine = engine_;
        backups_.enter();
        struct leaving {
            backups_running& backups;
            ~leaving() { backups.leave(); }
        } const left{backups_};
        engine->backup(std::string(dest), how, [&] { lock.unlock(); }, ec);
    }

    /// Opens the store anew, so keys (when given) is told that everything may have changed.
    std::uint64_t refresh(std::error_code& ec, refreshed_keys* keys = nullptr) {
        if (!opened(ec)) return 0;
        if (!read_only_) {
            fail(ec, errc::invalid_argument,
                 path_ + " is open for writing: refresh() catches a read-only store (options::read_only) up with the "
                         "writer beside it, and a writable store sees its own writes already");
            return 0;
        }
        // A new engine opened on the store as it is now takes this one's place; snapshots
        // keep the one they hold.
        std::shared_ptr<engine_type> next = open_engine(ec);
        if (!next) return 0;
        const write_lock lock(mutex_);
        const std::uint64_t applied = next->applied_since(*engine_);
        engine_ = std::move(next);
        version_.bump();
        if (keys != nullptr && applied > 0) keys->add_everything();
        return applied;
    }

private:
    /// Runs write under the exclusive lock, after waiting (thread_safe) while the engine
    /// asks writers to; then (thread_safe), the lock released, commits its record, so that
    /// writers waiting for a sync_each sync share it (the engine is held until then: a
    /// close may drop it meanwhile); and starts the jobs the write made due.
    template <class Write>
    void apply_write(std::error_code& ec, Write&& write) {
        if constexpr (background) wait_for_jobs();
        bool due = false;
        std::shared_ptr<engine_type> engine;
        std::uint64_t uncommitted = 0;
        {
            const write_lock lock(mutex_);
            if (!writable(ec)) return;
            version_.bump();
            write();
            due = engine_->take_job_due();
            // Zero unless the engine left the commit to this call (caller_commits).
            uncommitted = engine_->take_uncommitted();
            if (uncommitted != 0) engine = engine_;
        }
        if (uncommitted != 0) {
            std::error_code committed;
            engine->commit(uncommitted, committed);
            if (committed && !ec) ec = committed;
        }
        if (due) request_jobs();
    }

    /// Waits while the engine asks writers to (table_engine::must_wait), as long as the
    /// jobs make progress. Once a job fails while this writer waits, it waits no more:
    /// the write that follows is refused while the buffers stay full
    /// (table_engine::make_room), rather than waiting for jobs that fail each time.
    void wait_for_jobs() {
        std::optional<std::uint64_t> failures_before;
        for (;;) {
            const std::uint64_t seen = compactor_.progress();
            {
                const read_lock lock(mutex_);
                if (!engine_ || !engine_->must_wait()) return;
                const std::uint64_t failures = engine_->job_failures();
                if (failures_before && failures != *failures_before) return;
                failures_before = failures;
            }
            request_jobs();
            if (!compactor_.wait_for_progress(seen, std::chrono::steady_clock::now() + std::chrono::seconds(10))) {
                return;
            }
        }
    }

    /// Runs the jobs due on the compaction thread, waking waiting writers after each.
    void request_jobs() {
        compactor_.request([this] {
            std::error_code ignored;  // counted in stats(); the next buffer frozen asks again
            engine_->run_jobs(
                false, [this] { return write_lock(mutex_); },
                [this] {
                    compactor_.progressed();
                    return !compactor_.interrupted();
                },
                ignored);
        });
    }

    /// Opens an engine on the store; null, with ec set, when it cannot. A reader's open
    /// during which its writer changed TABLES (a flush or compaction may have removed a
    /// table or log it lists, or flushed a log it found no more) tries again, up to
    /// open_attempts times: one that read TABLES the same before and after saw the store
    /// as it was at one moment.
    std::shared_ptr<engine_type> open_engine(std::error_code& ec, function_ref<void()> once_locked = [] {}) const {
        for (int attempt = 1; attempt <= open_attempts; ++attempt) {
            auto engine = std::make_shared<engine_type>();
            const bool opened = engine->open(io_, path_, wanted_, options_, ec, once_locked);
            if (!read_only_ || !engine->tables_changed()) return opened ? engine : nullptr;
        }
        fail(ec, std::make_error_code(std::errc::resource_unavailable_try_again),
             path_ + ": its writer changed the list of tables " + std::to_string(open_attempts) +
                 " times while this read-only store opened; try again");
        return nullptr;
    }

    /// False, with errc::store_closed, when no store is open.
    bool opened(std::error_code& ec) const {
        if (engine_) return true;
        fail(ec, errc::store_closed, "the store is not open; open it first");
        return false;
    }

    /// compact()'s last step for a codec kept in the store (table_engine::tend_codec), over
    /// the tables the merge left, read without the lock: writers go on meanwhile. A
    /// single_thread store's compact() holds its lock, a null one, over it.
    void tend_codec(std::error_code& ec) {
        if constexpr (codec_kept_in_store<block_codec>) {
            typename engine_type::levels_type tables;
            {
                const read_lock lock(mutex_);
                tables = engine_->levels();
            }
            engine_->tend_codec(tables, ec);
        }
    }

    bool writable(std::error_code& ec) const {
        if (!open_ && engine_) {
            fail(ec, errc::store_closed, path_ + " is closing; nothing was written");
            return false;
        }
        if (!opened(ec)) return false;
        if (!read_only_) return !engine_->failed(ec);
        fail(ec, errc::read_only,
             path_ + " was opened read-only (options::read_only); nothing was written. Open it without read_only "
                     "to write");
        return false;
    }

    /// A reader's open tries this many times while its writer changes the tables.
    static constexpr int open_attempts = 20;

    mutable mutex_type mutex_;
    bool read_only_ = false;
    std::string path_;
    // What open() was given, for a reader's refresh(), which opens the store again.
    io_type io_{};
    composition wanted_;
    table_engine_options options_;
    /// Made anew by each open, so that nothing of a store closed before reaches the next.
    /// Shared with the snapshots taken of it, which read through its I/O object, codec
    /// and block cache after the store is closed.
    std::shared_ptr<engine_type> engine_;
    kvforge::detail::write_version<threading::concurrent> version_;
    bool open_ = false;
    std::uint64_t batches_ = 0;
    // Runs the jobs of a thread_safe store; last, so that its thread stops first.
    compaction_thread compactor_;
    backups_running backups_;
};

}  // namespace kvforge::detail
