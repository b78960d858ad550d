#pragma once
/// \file engine.hpp
/// The byte-level store behind file_log: append-only segments of checksummed records
/// with an in-memory index from each key to its record (in the manner of Bitcask), a
/// durability policy's writer, hint files and compaction.
///
/// Locks. A writer takes write_gate_ (which orders writers, rollover and compaction),
/// builds its record, and under the exclusive lock appends it and updates the index; it
/// waits for durability (sync_each) after releasing both, so that writers can share one
/// sync. Readers take the shared lock only. compact() and clear() hold write_gate_ while
/// they work, so no writer runs, but readers go on; they take the exclusive lock only to
/// switch segments. Compaction, whole or by automatic jobs, and the wait of writers that
/// leave too many dead bytes, are segment_compaction.hpp's, which says what locks a job
/// takes; close() lets the jobs due finish.
///
/// Files. The directory holds LOCK, MANIFEST, the segments data-<id>.kvlog and their
/// hints data-<id>.kvhint (names: store_files.hpp; segments: segment.hpp). Records go to
/// the active segment; a write that finds it holding options::segment_bytes or more
/// first closes it: the writer drains (so the closed segment is durable before any byte
/// of the next reaches the OS, and recovery's prefix holds across segments), the next
/// segment is made through a synced .tmp and a rename. The closed one's hint, from the
/// entries gathered as its records were appended, is written after that write returns
/// (write_pending_hint): by the next write (single_thread) or on the compaction thread
/// (thread_safe), at close() when still pending, never for a segment retired first.
/// Recovery replays the
/// segments by (order, id); only the last may end in a torn write. A store opened
/// read-only changes no file.
///
/// Manifest. Every open reads the MANIFEST, when there is one, before anything else and
/// refuses a composition that cannot read the files (manifest.hpp says which fields
/// bind). A writable open then writes it, through MANIFEST.tmp and a rename, when it is
/// missing (a new store, or one of format 1) or records another store, index or
/// durability policy than this open's, so that tools reopen the store as it was last used.
///
/// Backup. backup() takes its cut under the gate (a flush, then the segments and the
/// active one's end); the copy of the bytes before the cut, with no lock held, and its
/// check are backup.hpp's. While a backup runs, no segment may be retired
/// (backups_running.hpp).
///
/// Snapshot. snapshot() takes backup's cut, copies the index and holds the segments
/// (snapshot.hpp); compaction and clear() retire segments as ever, since a retired
/// segment stays readable through the snapshot's hold on it. With thread_safe, for_each
/// walks a snapshot of its own, so it holds no lock while its visitor runs; taking one
/// waits, as a writer does, for a compact() or clear() under way.
///
/// Close. Readers check that the store is open under the shared lock, so close() marks
/// it closed under the exclusive lock before it lets the writer go; writers waiting for
/// their sync and callers of wait_durable, which hold no lock, are counted
/// (active_calls.hpp) and close() waits for them.

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../batch.hpp"
#include "../../concepts.hpp"
#include "../../detail/active_calls.hpp"
#include "../../detail/assign_bytes.hpp"
#include "../../detail/data_file.hpp"
#include "../../detail/file_id.hpp"
#include "../../detail/file_mapping.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/manifest_file.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../../detail/write_version.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "../../pinned_value.hpp"
#include "../../stats.hpp"
#include "backup.hpp"
#include "backups_running.hpp"
#include "hint.hpp"
#include "log_scan.hpp"
#include "log_types.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"
#include "segment.hpp"
#include "segment_compaction.hpp"
#include "snapshot.hpp"

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
    using mutex_type = typename types::mutex_type;
    using gate_type = typename types::gate_type;
    using read_lock = typename types::read_lock;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    friend class segment_compaction<Policies, log_backend>;

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
              std::error_code& ec) {
        const gate_lock gate(write_gate_);
        if (open_) {
            // EBUSY in the system category, as the README says of system errors.
            fail(ec, std::error_code(EBUSY, std::system_category()),
                 "this store object is already open on " + directory_.path() + "; close it first");
            return;
        }
        if (opts.segment_bytes < min_segment_bytes || opts.segment_bytes > max_segment_bytes) {
            fail(ec, errc::invalid_argument,
                 "options::segment_bytes is " + std::to_string(opts.segment_bytes) + "; it must lie between " +
                     std::to_string(min_segment_bytes) + " (64 KiB) and " + std::to_string(max_segment_bytes) +
                     " bytes (nothing was opened)");
            return;
        }
        io_ = std::move(io);
        options_ = opts;
        composition_ = wanted;
        fingerprint_ = wanted.codec_fingerprint;
        reset_state();
        directory_mode mode;
        mode.create = opts.create_if_missing && !opts.read_only;
        mode.require_store = !mode.create;
        mode.refuse_store = opts.error_if_exists;
        mode.shared = opts.read_only;
        if (!directory_.open(io_, path, mode, ec)) return;
        // A salvaged log is rewritten, and the manifest written, before the store counts as
        // open, so that a failure leaves it closed and its lock released.
        const auto salvage_rewrite = [&] { return options_.salvage && !options_.read_only && !salvaged_.empty(); };
        composition on_disk;
        bool has_manifest = false;
        if (!check_manifest(on_disk, has_manifest, ec) || !recover(ec) || (salvage_rewrite() && !compaction_.compact_all(ec)) ||
            (!options_.read_only && !record_composition(on_disk, has_manifest, ec))) {
            directory_.close();
            reset_state();
            return;
        }
        open_ = true;
        compaction_.resume();
    }

    /// Writes everything out, syncs it, writes the active segment's hint and releases the store
    /// (a read-only store only releases it). The store is closed afterwards even when
    /// this reports an error.
    void close(std::error_code& ec) {
        // Before the gate, which the compaction thread takes. The work requested so far
        // runs to its end rather than being dropped, so that the files are left near
        // compact_dead_ratio: it is bounded, since writers slowed down at the stall
        // ceiling keep dead bytes near compaction_stall_ratio times the live bytes, each
        // job must reclaim dead bytes for another to follow, and no job starts once
        // compaction is no longer due.
        compaction_.finish();
        const gate_lock gate(write_gate_);
        if (!open_) return;
        compaction_.abort_job();
        // After a failed write or sync, whatever was not yet on disk is lost: report it.
        if (!options_.read_only && !failure_.check(ec) && !writer_->failed(ec)) {
            call_writer(&writer_type::close, ec);
            if (!ec) {
                try {
                    write_pending_hints_now();
                    write_active_hint(writer_->end());
                } catch (const std::bad_alloc&) {
                    // A hint only speeds up the next open, so failing to write one is no error.
                }
            }
        }
        {
            const write_lock lock(mutex_);
            open_ = false;
        }
        active_calls_.wait_idle();
        writer_.reset();
        active_hint_.reset();
        pending_hints_.clear();
        active_.reset();
        segments_.clear();
        directory_.close();
    }

    [[nodiscard]] bool is_open() const noexcept { return open_; }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
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
                index_put(key, {active_->id, static_cast<std::uint32_t>(appended.offset), value_size});
                note_in_hint({record_type::put, 0, key, value_size, 0, 0, appended.offset, 0});
            });
            cover_writer_end();
        }
        puts_.add(1);
        return finish_write(gate, appended.sequence, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return false;
        // Writers are ordered by the gate, so the index cannot change under this lookup.
        if (!table_.find(key) || !make_room(ec)) return false;
        record_.clear();
        append_erase_record(record_, key);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return false;
            version_.bump();
            update_index([&] {
                index_erase(key, record_.size(), *active_);
                note_in_hint({record_type::erase, 0, key, 0, 0, 0, appended.offset, 0});
            });
            cover_writer_end();
        }
        erases_.add(1);
        finish_write(gate, appended.sequence, ec);
        return !ec;
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
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
        finish_batch_record(record_, start, ops.count());
        // Finishing wrote the real header in front of the body: the body starts after it.
        const std::size_t body_offset = batch_header_size(record_);
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
                    if (op == batch_op::put) {
                        const auto value_size = static_cast<std::uint32_t>(value.size());
                        index_put(key, {active_->id, static_cast<std::uint32_t>(offset), value_size});
                        note_in_hint({record_type::put, 0, key, value_size, 0, 0, offset, 0});
                        puts_.add(1);
                    } else {
                        if (index_erase(key, erase_record_size(key.size()), *active_)) erases_.add(1);
                        note_in_hint({record_type::erase, 0, key, 0, 0, 0, offset, 0});
                    }
                });
            });
            add_dead(*active_, body_offset);  // the batch header holds no data
            cover_writer_end();
        }
        batches_.add(1);
        return finish_write(gate, appended.sequence, ec);
    }

    /// Calls on_value(value bytes) for key's value, read from the file (or the writer's
    /// buffer) and checked against its record's checksum.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        thread_local std::string scratch;
        std::string_view value;
        if (!reader_.read(key, where, scratch, value, ec)) return false;
        on_value(value);
        return true;
    }

    /// Reads key's value straight into out, with no allocation beyond out's own: one
    /// preadv puts the record's header and key in a small buffer and its value in out.
    /// A value that fails its checksum is not left there: out is emptied.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        return reader_.read_value(key, where, out, ec);
    }

    /// Hands out key's value as a pinned_value: a view into the mapping, kept alive by
    /// it, when the record is in the file; a copy when it is still in the writer.
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const requires Mapped {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        auto copy = std::make_shared<std::string>();
        std::string_view value;
        if (!reader_.read(key, where, *copy, value, ec)) return false;
        if (copy->empty()) {
            out = pinned_value(reader_.mapping(where.segment), value);  // the bytes lie in the mapping: share it
        } else {
            out = pinned_value(copy, std::string_view(*copy).substr(
                                         static_cast<std::size_t>(value.data() - copy->data()), value.size()));
        }
        return true;
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return false;
        gets_.add(1);
        return table_.find(key).has_value();
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { table_.visit_from(from, inclusive, read, ahead); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { table_.visit_down_from(from, inclusive, read, ahead); }, visitor,
                      ec);
    }

    /// Calls visitor(key, value) for every record. A thread_safe store walks a snapshot
    /// of its own, taken at the call, so that writers go on for the walk's duration and
    /// the visitor may call the store; it sees the records as of the call. A
    /// single_thread store has no other thread to hold up, so it walks its own index
    /// without the cost of a copy.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        if constexpr (threading::concurrent) {
            std::error_code refused;
            const log_snapshot<io_type, table_type> view = snapshot(refused);
            if (!refused) {
                view.for_each(visitor, ec);
                return;
            }
            // A store whose writes failed takes no snapshot (its writer may still hold
            // records the files lack), but its records stay readable under the lock.
            if (!readable(ec)) return;
            if (std::error_code write_failure; writable(write_failure)) {
                ec = refused;
                return;
            }
        }
        walk_locked(visitor, ec);
    }

    /// Calls visitor(key, value) for every record, in the order the records lie in the
    /// segments, under the read lock. for_each reads them in the index's order, one read
    /// each; going forward through each segment lets the read-ahead window serve many
    /// records per read, which is what rebuilding state from every value at open wants
    /// (expiring<>'s deadlines). It holds a list of the records' places while it runs:
    /// about 32 bytes a key.
    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        using placed = std::pair<record_location, std::string_view>;
        std::vector<placed> records;
        records.reserve(table_.size());
        table_.for_each([&](std::string_view key, std::string_view payload) {
            records.emplace_back(record_location::decode(payload), key);
        });
        std::sort(records.begin(), records.end(), [](const placed& a, const placed& b) {
            return a.first.segment != b.first.segment ? a.first.segment < b.first.segment
                                                      : a.first.offset < b.first.offset;
        });
        std::string scratch;
        read_ahead ahead;
        for (const auto& [where, key] : records) {
            std::string_view value;
            if (!reader_.read(key, where, scratch, value, ec, &ahead)) return;
            visitor(key, value);
        }
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on (put, erase, batch, clear,
    /// compaction), read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// Removes every key: a new active segment starting with a clear record, then the
    /// others retired.
    void clear(std::error_code& ec) {
        const auto no_compaction = compaction_.hold();
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        compaction_.abort_job();
        clear_segments(ec);
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = table_.size();
        s.live_bytes = live_bytes_;
        s.dead_bytes = dead_bytes_;
        s.memory_bytes = table_.memory_usage();
        s.puts = puts_.load();
        s.gets = gets_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
        compaction_.add_stats(s);
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        if (open_) {
            s.segments = segments_.size();
            s.disk_bytes = data_bytes();
            for (const segment_pointer& in : segments_.by_id()) {
                s.disk_bytes += in->hint_bytes;
                if (in->mapping) s.mapped_bytes += in->mapping->length();
            }
            s.syncs = writer_->syncs() + file_syncs_.load();
            s.bytes_written = writer_->bytes_written() + bytes_written_.load(std::memory_order_relaxed);
        }
        return s;
    }

    /// Hands buffered writes to the OS; nothing to do for a read-only store.
    void flush(std::error_code& ec) { drain_writer(&writer_type::flush, ec); }
    /// Makes every write so far durable; nothing to do for a read-only store.
    void sync(std::error_code& ec) { drain_writer(&writer_type::sync, ec); }

    /// Rewrites the live records of every segment into new segments, in index order,
    /// and retires the old ones.
    void compact(std::error_code& ec) {
        const auto no_compaction = compaction_.hold();
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        compaction_.abort_job();  // superseded
        compaction_.compact_now(true, ec);
    }

    /// Blocks until the write with this sequence number is on disk (async_worker).
    void wait_durable(std::uint64_t sequence, std::error_code& ec) {
        // Counted from while the store is known to be open until done, so that close()
        // keeps the writer until then.
        std::optional<active_call<threading::concurrent>> call;
        {
            const read_lock lock(mutex_);
            if (!readable(ec)) return;
            call.emplace(active_calls_);
        }
        writer_->wait_durable(sequence, ec);
    }

    [[nodiscard]] std::uint64_t durable_sequence() const {
        const read_lock lock(mutex_);
        return open_ ? writer_->durable_sequence() : 0;
    }

    /// Copies the store as it is at the call into directory dest, which must be missing
    /// (it is created; its parent must exist) or empty: every write that returned before
    /// the call is in the copy (buffered writes are flushed at the cut, async_worker's
    /// queue is drained), and writes that start after it are not. Writers go on during the
    /// copy. Closed segments and their hints are hard-linked into dest where the I/O
    /// policy has link and the file system allows it (dest on the same file system), and
    /// copied otherwise; the active segment is copied up to the cut. A linked file's disk
    /// space stays shared until both the store (by compaction or clear()) and the copy have
    /// retired the segment. The copy is a store once its MANIFEST exists, which is written
    /// last; it is synced, then opened read-only and verified before backup() returns.
    void backup(std::string_view dest, std::error_code& ec) {
        backup_cut<io_type> cut;
        std::optional<active_call<threading::concurrent>> call;
        {
            const gate_lock gate(write_gate_);
            if (!take_backup_cut(cut, ec)) return;
            // Counted while the store is known to be open, so that close() waits for the copy.
            call.emplace(active_calls_);
            backups_.enter();
        }
        const std::string target(dest);
        const bool copied = backup_.copy(cut, target, ec);
        cut.segments.clear();
        cut.active.reset();
        backups_.leave();
        if (copied) backup_.template verify<log_backend>(cut, target, ec);
    }

    /// A read-only view of the store as it is at the call (snapshot.hpp): the cut is
    /// backup's (every write that returned before the call is in the files), then the
    /// index is copied and the segments held, under the gate and the read lock; reads of
    /// the view take no lock of the store.
    /// It is const: it changes nothing a reader sees (the buffered records it hands to the
    /// OS were readable before), so for_each, which is const, takes one.
    [[nodiscard]] log_snapshot<io_type, table_type> snapshot(std::error_code& ec) const {
        const gate_lock gate(write_gate_);
        backup_cut<io_type> cut;
        if (!take_backup_cut(cut, ec)) return {};
        // The gate already keeps writers and compaction out; the read lock makes the copy
        // safe against whatever changes the index or a mapping under the exclusive lock alone.
        const read_lock lock(mutex_);
        return {table_, cut.segments,
                [&](const segment_type& in) { return &in == cut.active.get() ? cut.active_end : in.size; }};
    }

    /// Reads every record of every segment and checks its checksum; changes nothing.
    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        const gate_lock gate(write_gate_);
        verify_report report;
        if (!readable(ec)) return report;
        for (const segment_pointer& in : segments_.in_replay_order()) {
            std::uint64_t end = in->size;
            if (in == active_) {
                // async_worker's thread may be writing records at the end of the file:
                // check only those wholly written, up to where the writer's first pending
                // record starts (no writer appends while the gate is held). The writer
                // reads that offset under one lock: pieced together from several readings
                // while its thread moved on, it could fall inside a record. The size is
                // read after: once nothing is pending the file no longer grows, and a size
                // read before could end in the middle of a record the worker was writing.
                const std::uint64_t written = writer_->written_end();
                if (!in->file.size(end, ec)) return report;
                if (written < writer_->end()) end = written;
            }
            log_scan_result scanned;
            if (!scan_log(
                    in->file, in->records_start(), end, in->version, true, [](const log_entry&) {}, scanned, ec)) {
                return report;
            }
            report.records_checked += scanned.records;
            report.damaged.insert(report.damaged.end(), scanned.damage.begin(), scanned.damage.end());
            if (scanned.torn_tail) {
                report.damaged.push_back({in->file.path(), scanned.valid_end, std::string(torn_tail_problem)});
            }
        }
        return report;
    }

private:
    /// Segments may be no smaller: below this, rollover's syncs would cost more than the writes.
    static constexpr std::uint64_t min_segment_bytes = std::uint64_t{64} << 10;

    /// Takes a backup's cut, with write_gate_ held: flushes what the writer holds and
    /// notes the segments and where the active one ends.
    bool take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const {
        if (!readable(ec)) return false;
        if (!options_.read_only) {
            if (!writable(ec)) return false;
            call_writer(&writer_type::flush, ec);
            if (ec) return false;
        }
        cut.segments = segments_.by_id();
        cut.active = active_;
        cut.active_end = active_ ? writer_->end() : 0;
        cut.live_keys = table_.size();
        cut.live_bytes = live_bytes_;
        return true;
    }

    /// Takes write_gate_ for a call that retires segments (compact, clear) once no
    /// backup copies them (backups_running.hpp).
    gate_lock gate_without_backups() { return backups_.lock_gate(write_gate_); }

    /// A point read's first step, under the read lock: counts it and finds where key's
    /// record is; false when the store is closed (ec set) or key is absent.
    bool look_up(std::string_view key, record_location& where, std::error_code& ec) const {
        if (!readable(ec)) return false;
        gets_.add(1);
        const auto payload = table_.find(key);
        if (!payload) return false;
        where = record_location::decode(*payload);
        return true;
    }

    /// Back to the state of a closed store: no segment, writer or index.
    void reset_state() {
        writer_.reset();
        active_hint_.reset();
        pending_hints_.clear();
        active_.reset();
        segments_.clear();
        table_.clear();
        next_id_.store(1, std::memory_order_relaxed);
        bytes_written_.store(0, std::memory_order_relaxed);
        live_bytes_ = 0;
        dead_bytes_ = 0;
        recovered_records_ = 0;
        recovered_bytes_cut_ = 0;
        compaction_.reset();
        salvaged_.clear();
        failure_.reset();
    }

    bool writable(std::error_code& ec) const {
        if (!readable(ec)) return false;
        if (options_.read_only) {
            fail(ec, errc::read_only,
                 directory_.path() +
                     " was opened read-only (options::read_only); nothing was written. Open it "
                     "without read_only to write");
            return false;
        }
        if (failure_.check(ec)) return false;
        return !writer_->failed(ec);
    }

    bool readable(std::error_code& ec) const {
        if (open_) return true;
        fail(ec, errc::store_closed, "the store is not open; open it first");
        return false;
    }

    /// After a write: releases the gate, waits for durability as the policy says, and,
    /// when a closed segment waits for its hint, a job is under way or dead bytes have
    /// grown past the configured share, runs a step (single_thread: the hint's, else
    /// automatic compaction's) or asks the compaction thread for a job (thread_safe).
    /// The write's result is its own: a failed compaction shows in stats() and is not
    /// retried before the store has grown (segment_compaction.hpp, compaction_failed).
    std::uint64_t finish_write(gate_lock& gate, std::uint64_t sequence, std::error_code& ec) {
        bool compaction_due = false;
        bool hint_due = false;
        if constexpr (threading::concurrent) {
            if (hints_pending() || compaction_.wants_compaction()) compaction_.request();
        } else {
            // Not the hint of the segment this write closed: the write that closed it
            // paid for its sync already.
            hint_due = pending_hints_.size() > (closed_by_this_write_ ? 1U : 0U);
            compaction_due = !hint_due && (compaction_.job_under_way() || compaction_.wants_compaction());
        }
        {
            const active_call<threading::concurrent> call(active_calls_);
            gate.unlock();
            writer_->commit(sequence, ec);
            if constexpr (threading::concurrent) {
                if (!ec) compaction_.wait_for_compaction();
            }
        }
        if (!ec && hint_due) write_pending_hint();
        if (!ec && compaction_due) {
            const gate_lock again(write_gate_);
            std::error_code compaction_error;
            // Another thread may have closed the store, or compacted it, meanwhile.
            if (writable(compaction_error) && (compaction_.job_under_way() || compaction_.wants_compaction())) {
                // The caller's last error message describes its own calls, not this one.
                const last_error saved = this_thread_last_error();
                compaction_.compact_now(false, compaction_error);
                this_thread_last_error() = saved;
            }
        }
        return sequence;
    }

    /// The bytes of every segment, the active one's buffered bytes included.
    [[nodiscard]] std::uint64_t data_bytes() const {
        std::uint64_t total = 0;
        for (const segment_pointer& in : segments_.by_id()) total += in == active_ ? writer_->end() : in->size;
        return total;
    }

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

    /// The size of the header a finished batch record starts with.
    static std::size_t batch_header_size(const std::string& record) noexcept {
        std::uint64_t count = 0;
        std::uint64_t body = 0;
        const char* p = record.data() + 5;
        const char* end = record.data() + record.size();
        p = get_varint(p, end, count);
        p = get_varint(p, end, body);
        return static_cast<std::size_t>(p - record.data());
    }

    /// Counts bytes of segment `in` as dead.
    void add_dead(segment_type& in, std::uint64_t bytes) noexcept {
        in.dead_bytes += bytes;
        dead_bytes_ += bytes;
    }

    /// Counts the record at old (key's, replaced or erased) as dead in its segment.
    void retire_record(std::string_view key, std::string_view old) {
        const record_location previous = record_location::decode(old);
        const std::uint64_t size = previous.record_size(key.size());
        if (segment_type* const in = segments_.find(previous.segment)) {
            add_dead(*in, size);
        } else {
            dead_bytes_ += size;
        }
        live_bytes_ -= key.size() + previous.value_size;
    }

    void index_put(std::string_view key, const record_location& where) {
        char payload[record_location::max_encoded_size];
        table_.upsert(key, {payload, where.encode(payload)}, [&](std::string_view old) { retire_record(key, old); });
        live_bytes_ += key.size() + where.value_size;
    }

    /// index_put() of a run of puts a hint of segment `id` lists, inserted together where
    /// the index can (overlapping their cache misses).
    void index_put_many(std::span<const hint_entry> puts, std::uint32_t id) {
        const auto location_of = [id](const hint_entry& put) {
            return record_location{id, static_cast<std::uint32_t>(put.offset), put.value_size, put.flags};
        };
        char payload[record_location::max_encoded_size];
        const auto key_of = [&](std::size_t i) { return puts[i].key; };
        const auto payload_of = [&](std::size_t i) {
            return std::string_view(payload, location_of(puts[i]).encode(payload));
        };
        const auto on_replace = [&](std::size_t i, std::string_view old) { retire_record(puts[i].key, old); };
        if constexpr (requires { table_.upsert_many(puts.size(), key_of, payload_of, on_replace); }) {
            table_.upsert_many(puts.size(), key_of, payload_of, on_replace);
            for (const hint_entry& put : puts) live_bytes_ += put.key.size() + put.value_size;
        } else {
            for (const hint_entry& put : puts) index_put(put.key, location_of(put));
        }
    }

    /// An erase of key whose tombstone (tombstone_size bytes) lies in segment `holder`.
    bool index_erase(std::string_view key, std::size_t tombstone_size, segment_type& holder) {
        add_dead(holder, tombstone_size);
        return table_.erase(key, [&](std::string_view old) { retire_record(key, old); });
    }

    /// A clear record of segment `holder` ending at end, met in replay: every record
    /// before it is dead, in the segments replayed before (all of them) and in holder.
    void index_clear(segment_type& holder, std::uint64_t end) {
        table_.clear();
        live_bytes_ = 0;
        dead_bytes_ = 0;
        holder.holds_clear = true;
        for (const segment_pointer& in : segments_.by_id()) {
            if (in->replays_before(holder)) in->dead_bytes = in->size - in->records_start();
            if (in.get() == &holder) in->dead_bytes = end - in->records_start();
            dead_bytes_ += in->dead_bytes;
        }
    }

    /// Lists a record of the active segment for its hint.
    void note_in_hint(const hint_entry& entry) {
        if (active_hint_) active_hint_->add(entry);
    }

    /// Under the read lock, has walk hand its read(key, payload) and prefetch(key, payload)
    /// to the index's ordered visit: read answers by calling visitor(key, value) with the
    /// record's value, prefetch starts loading a record the visit reaches soon.
    template <class Walk, class Visitor>
    void visit_ordered(Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        read_ahead ahead;
        walk(
            [&](std::string_view key, std::string_view payload) {
                std::string_view value;
                if (!reader_.read(key, record_location::decode(payload), scratch, value, ec, &ahead)) return false;
                return visitor(key, value);
            },
            [&](std::string_view key, std::string_view payload) noexcept {
                reader_.prefetch(key.size(), record_location::decode(payload));
            });
    }

    /// Calls visitor(key, value) for every record, under the read lock.
    template <class Visitor>
    void walk_locked(Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        table_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (reader_.read(key, record_location::decode(payload), scratch, value, ec)) visitor(key, value);
        });
    }

    /// Makes the active segment's mapping cover everything written so far (mmap_file).
    void cover_writer_end() { reader_.cover(*active_, writer_->end()); }

    /// flush or sync: nothing to do for a read-only store, which writes nothing.
    void drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
        const gate_lock gate(write_gate_);
        if (!readable(ec) || options_.read_only || !writable(ec)) return;
        call_writer(op, ec);
    }

    /// Calls a writer's flush, sync, drain or close, with write_gate_ held. A writer
    /// without a worker changes the buffer readers read, so that takes the exclusive
    /// lock; async_worker's queue has its own lock, and readers need not wait for its disk.
    void call_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) const {
        if constexpr (sequenced) {
            ((*writer_).*op)(ec);
        } else {
            const write_lock lock(mutex_);
            ((*writer_).*op)(ec);
        }
    }

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, fingerprint_, in.file_id, in.records_start()};
    }

    /// Makes `next` the active segment, its records starting at end (the exclusive lock held).
    void make_active(segment_pointer next, std::uint64_t end) {
        active_ = std::move(next);
        writer_->attach(active_->file, end);
        if (options_.write_hints && !options_.read_only) {
            active_hint_.emplace(identity(*active_));
        } else {
            active_hint_.reset();
        }
        cover_writer_end();
    }

    /// Before a write (write_gate_ held): closes the active segment when it is full.
    bool make_room(std::error_code& ec) {
        closed_by_this_write_ = false;
        return writer_->end() < options_.segment_bytes || roll_over(ec);
    }

    /// Closes the active segment and starts the next. The writer drains first: the
    /// closed segment is durable before any byte of the next reaches the OS, so a power
    /// loss leaves a prefix of the writes across segments too. On failure nothing was
    /// appended anywhere and the next write tries again. The closed segment's hint is
    /// left to write_pending_hint, after this write: building and syncing it takes longer
    /// than everything else here, and a segment without one is only read whole at the
    /// next open.
    bool roll_over(std::error_code& ec) {
        call_writer(&writer_type::drain, ec);
        if (ec) return false;
        segment_pointer next;
        if (!create_segment(next, ec)) return false;
        pending_hints_.reserve(pending_hints_.size() + 1);  // so that nothing below throws
        const std::uint64_t end = writer_->end();
        const write_lock lock(mutex_);
        active_->size = end;
        reader_.map_final(*active_, end);
        if (active_hint_) {
            pending_hints_.push_back({active_, std::move(*active_hint_)});
            active_hint_.reset();
            closed_by_this_write_ = true;
        }
        segments_.add(next);
        make_active(std::move(next), file_header::size);
        return true;
    }

    /// Whether a closed segment waits for its hint; with write_gate_ held.
    [[nodiscard]] bool hints_pending() const noexcept { return !pending_hints_.empty(); }

    /// Writes the hint of the oldest closed segment still waiting for one, taken under
    /// write_gate_ and written with no lock held (the writers go on meanwhile); false when
    /// none waits. Only the compaction thread, or a caller holding it off, retires
    /// segments, so the segment taken stays in the store until its hint is in place.
    bool write_pending_hint() {
        std::optional<pending_hint> taken;
        {
            const gate_lock gate(write_gate_);
            if (!open_ || pending_hints_.empty()) return false;
            taken.emplace(std::move(pending_hints_.front()));
            pending_hints_.erase(pending_hints_.begin());
        }
        try {
            write_hint_of(*taken->in, taken->entries);
        } catch (const std::bad_alloc&) {
            // Without a hint the segment is read whole at the next open.
        }
        return true;
    }

    /// Writes every hint still pending, with write_gate_ held (close()).
    void write_pending_hints_now() {
        for (pending_hint& pending : pending_hints_) write_hint_of(*pending.in, pending.entries);
        pending_hints_.clear();
    }

    /// Forgets the pending hints of segments taken out of the store (compaction, clear),
    /// with write_gate_ held: a retired segment gets no hint.
    void drop_retired_hints() {
        std::erase_if(pending_hints_, [&](const pending_hint& p) { return segments_.find(p.in->id) != p.in.get(); });
    }

    /// Writes the active segment's hint, covering it up to end, unless the hint on disk
    /// already does; at close.
    void write_active_hint(std::uint64_t end) {
        if (active_->hint_covered == end) return;
        const std::uint64_t size = write_active_hint_file(end);
        if (size == 0) return;
        const write_lock lock(mutex_);  // stats() reads these under the read lock
        active_->hint_bytes = size;
        active_->hint_covered = end;
    }

    /// Writes the hint of the active segment from the entries gathered as its records
    /// were appended; returns its size, 0 when there is none (a hint only speeds up the
    /// next open, so failing to write one is no error). The gathered entries are used up.
    std::uint64_t write_active_hint_file(std::uint64_t end) {
        if (!active_hint_) return 0;
        const std::vector<std::string_view> pieces = active_hint_->finish(end);
        std::error_code ignored;
        const bool written = write_file(store_file_name::hint(active_->id), pieces, ignored);
        const std::uint64_t size = written ? total_size(pieces) : 0;
        active_hint_.reset();
        return size;
    }

    /// Opens every segment (or creates the first), removes leftovers, and rebuilds the
    /// index from the segments in replay order, each from its hint and its records after
    /// what the hint covers. A read-only store removes, creates and cuts nothing: it
    /// serves the intact records and leaves the files as they are. With salvage no hint
    /// is trusted: every record is read, so that every damaged one is found and dropped.
    bool recover(std::error_code& ec) {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::vector<std::uint32_t> ids;
        for (const store_file_name& name : names) {
            if (name.kind() == store_file_kind::data && !name.is_temporary()) ids.push_back(name.generation());
        }
        std::sort(ids.begin(), ids.end());
        writer_.emplace();
        const int flags = options_.read_only ? O_RDONLY : O_RDWR;
        std::vector<segment_pointer> found;
        std::uint32_t newest_v1 = 0;
        for (const std::uint32_t id : ids) {
            auto in = std::make_shared<segment_type>();
            in->id = id;
            if (!directory_.open_file(in->file, store_file_name::data(id), flags, ec) || !in->file.size(in->size, ec) ||
                !check_header(*in, ec)) {
                return false;
            }
            if (in->version < 2) newest_v1 = id;
            found.push_back(std::move(in));
        }
        // Format 1 kept one data file: an older one beside its newest is the leftover of
        // a compaction that a crash interrupted (removed below, as other leftovers are).
        for (segment_pointer& in : found) {
            if (in->version == format_version || in->id == newest_v1) segments_.add(std::move(in));
        }
        found.clear();

        if (!options_.read_only) {
            // Nothing is changed before every data file proved to be a store of ours.
            // A hint whose segment is gone goes too, so that no later segment of its id meets it.
            bool removed = false;
            for (const store_file_name& other : names) {
                const bool segment_file =
                    other.kind() == store_file_kind::data || other.kind() == store_file_kind::hint;
                if (other.is_temporary() || (segment_file && segments_.find(other.generation()) == nullptr)) {
                    if (!directory_.remove(other, ec)) return false;
                    removed = true;
                }
            }
            // Synced even when nothing was removed: the open that created or renamed these
            // files may have failed to sync the directory, and what this store acknowledges
            // from now on rests on those entries.
            if ((removed || !ids.empty()) && !sync_directory(ec)) return false;
        }
        // The directory refused a missing store unless this open may create one.
        if (segments_.empty()) {
            segment_pointer first;
            if (!create_segment(first, ec)) return false;
            segments_.add(first);
            make_active(std::move(first), file_header::size);
            return true;
        }
        next_id_.store(ids.back() + 1, std::memory_order_relaxed);

        const std::vector<segment_pointer> ordered = segments_.in_replay_order();
        if constexpr (requires { table_.reserve(std::size_t{}); }) {
            // Sized once for every record the hints list: growing while replaying would move every slot again.
            const std::uint64_t hinted = options_.salvage ? 0 : hinted_records(ordered);
            if (hinted != 0) table_.reserve(static_cast<std::size_t>(hinted));
        }
        std::optional<hint_builder> last_hint;
        for (std::size_t i = 0; i < ordered.size(); ++i) {
            if (!replay(*ordered[i], i + 1 == ordered.size(), last_hint, ec)) return false;
        }
        const segment_pointer& last = ordered.back();
        if (options_.read_only) {
            // Nothing is appended: the writer only tells readers where the records end.
            active_ = last;
            writer_->attach(active_->file, last->size);
            return true;
        }
        // Appending goes on in the last segment if the writer made it and it has room.
        if (last->writer_made() && last->size < options_.segment_bytes) {
            active_ = last;
            writer_->attach(active_->file, last->size);
            active_hint_ = std::move(last_hint);
            cover_writer_end();
            return true;
        }
        if (last_hint && last->hint_covered != last->size) write_hint_of(*last, *last_hint);
        segment_pointer next;
        if (!create_segment(next, ec)) return false;
        segments_.add(next);
        make_active(std::move(next), file_header::size);
        return true;
    }

    /// Replays segment `in` into the index: its hint, then its records after what the
    /// hint covers. Only the last segment may end in a torn write (every other was
    /// durable before the next was made); a writable open cuts it off. The entries of
    /// the last segment are gathered in last_hint (it may become the active one); a
    /// segment without a hint covering it whole gets one written.
    bool replay(segment_type& in, bool last, std::optional<hint_builder>& last_hint, std::error_code& ec) {
        if (in.size > max_segment_bytes) {
            fail(ec, errc::not_a_store,
                 in.file.path() + ": " + std::to_string(in.size) + " bytes, more than a segment may hold (" +
                     std::to_string(max_segment_bytes) + ")");
            return false;
        }
        const bool build = options_.write_hints && !options_.read_only;
        std::optional<hint_builder> local;
        std::optional<hint_builder>& hint = last ? last_hint : local;
        std::uint64_t scan_from = in.records_start();
        if (!options_.salvage) load_hint(in, scan_from, build && last, hint);
        if (build && !hint && in.hint_covered != in.size) hint.emplace(identity(in));
        log_scan_result scanned;
        const bool scanned_ok = scan_log(
            in.file, scan_from, in.size, in.version, options_.salvage,
            [&](const log_entry& entry) {
                if (entry.type == record_type::put) {
                    index_put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset),
                                          static_cast<std::uint32_t>(entry.value.size()), entry.flags});
                } else if (entry.type == record_type::erase) {
                    index_erase(entry.key, entry.size, in);
                } else {
                    index_clear(in, entry.offset + entry.size);
                }
                if (hint) {
                    hint->add({entry.type, entry.flags, entry.key, static_cast<std::uint32_t>(entry.value.size()),
                               entry.deadline, entry.tag, entry.offset, 0});
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        add_dead(in, scanned.overhead_bytes);
        recovered_records_ += scanned.records;
        salvaged_.insert(salvaged_.end(), scanned.damage.begin(), scanned.damage.end());
        if (scanned.torn_tail) {
            if (!last) {
                const std::string problem = "incomplete record at the end of a closed segment";
                if (!options_.salvage) {
                    fail(ec, errc::corrupt_record,
                         in.file.path() + ": " + problem + " at offset " + std::to_string(scanned.valid_end) +
                             " (a closed segment was complete on disk before the next one was made); open with "
                             "options::salvage to keep the intact records");
                    return false;
                }
                salvaged_.push_back({in.file.path(), scanned.valid_end, problem});
            } else if (!options_.read_only) {
                // Cut the torn tail before anything is appended after it, and make the cut durable.
                recovered_bytes_cut_ = in.size - scanned.valid_end;
                if (!in.file.truncate(scanned.valid_end, ec) || !in.file.sync(ec)) return false;
                in.size = scanned.valid_end;
            }
        }
        reader_.map_final(in, in.size);
        if (!last && local && in.hint_covered != in.size) write_hint_of(in, *local);
        return true;
    }

    /// Writes the hint of closed segment `in` from its gathered entries (best effort).
    void write_hint_of(segment_type& in, hint_builder& hint) {
        const std::vector<std::string_view> pieces = hint.finish(in.size);
        std::error_code ignored;
        if (!write_file(store_file_name::hint(in.id), pieces, ignored)) return;
        const write_lock lock(mutex_);  // stats() reads these under the read lock
        in.hint_bytes = total_size(pieces);
        in.hint_covered = in.size;
    }

    /// Reads segment `in`'s header: a data file of ours, of a version this code reads,
    /// written with this store's codecs.
    bool check_header(segment_type& in, std::error_code& ec) {
        char bytes[file_header::size];
        const std::size_t available = static_cast<std::size_t>(std::min<std::uint64_t>(in.size, sizeof bytes));
        if (!in.file.read(0, bytes, available, ec)) return false;
        file_header header;
        const std::string& path = in.file.path();
        switch (file_header::decode({bytes, available}, file_kind::data, header)) {
            case file_header::problem::none:
                break;
            case file_header::problem::truncated:
                fail(ec, errc::corrupt_header,
                     path + ": " + std::to_string(in.size) + " bytes, shorter than its file header");
                return false;
            case file_header::problem::bad_magic:
                fail(ec, errc::not_a_store, path + ": does not start with a kvforge data file's magic bytes");
                return false;
            case file_header::problem::bad_checksum:
                fail(ec, errc::corrupt_header, path + ": the file header fails its checksum");
                return false;
            case file_header::problem::newer_version:
                fail(ec, errc::unsupported_version,
                     path + ": written in format version " + std::to_string(header.version) +
                         "; this kvforge reads up to version " + std::to_string(format_version) +
                         " (the file was not changed)");
                return false;
            case file_header::problem::unknown_flags:
                fail(ec, errc::unsupported_version,
                     path + ": the file header has flags or reserved fields this kvforge does not know");
                return false;
        }
        if (header.codec_fingerprint != fingerprint_) {
            fail(ec, errc::codec_mismatch,
                 path + ": written with other key or value codecs than this store's ('" + composition_.key_codec +
                     "' and '" + composition_.value_codec +
                     "'); open it with the types it was written with (nothing was changed)");
            return false;
        }
        in.file_id = header.file_id;
        in.version = header.version;
        in.order = header.order;
        return true;
    }

    /// The entries the hints of these segments list, from their heads (a hint that turns
    /// out not to match is ignored later; this only sizes the index).
    std::uint64_t hinted_records(const std::vector<segment_pointer>& ordered) {
        std::uint64_t total = 0;
        for (const segment_pointer& in : ordered) {
            data_file<io_type> file;
            std::error_code ignored;
            std::uint64_t size = 0;
            char head[file_header::size + 16];
            if (directory_.open_file(file, store_file_name::hint(in->id), O_RDONLY, ignored) &&
                file.size(size, ignored) && size >= sizeof head && file.read(0, head, sizeof head, ignored)) {
                total += hint_entry_count({head, sizeof head}, size, identity(*in));
            }
        }
        return total;
    }

    /// Loads segment `in`'s hint if it is valid; scan_from becomes the first byte of the
    /// segment it does not cover. With gather, or when the hint covers only part of the
    /// segment, its entries are gathered in hint too, for the segment's next hint.
    void load_hint(segment_type& in, std::uint64_t& scan_from, bool gather, std::optional<hint_builder>& hint) {
        data_file<io_type> file;
        std::error_code ignored;
        if (!directory_.open_file(file, store_file_name::hint(in.id), O_RDONLY, ignored)) return;
        std::uint64_t size = 0;
        if (!file.size(size, ignored) || size == 0) return;
        // Mapped rather than read: the hint is parsed once, front to back, and a copy would
        // cost a buffer as large as the file.
        const auto mapping =
            file_mapping<io_type>::map(io_, file.descriptor(), static_cast<std::size_t>(size), file.path(), ignored);
        if (!mapping) return;
        const bool build = options_.write_hints && !options_.read_only;
        const auto apply_listing = [&](const hint_entry& entry) {
            add_dead(in, entry.gap);  // records the hint leaves out: batch headers, or all but live puts
            if (hint) hint->add(entry);
        };
        const auto apply = [&](const hint_entry& entry) {
            apply_listing(entry);
            if (entry.type == record_type::put) {
                index_put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            } else if (entry.type == record_type::erase) {
                index_erase(entry.key, entry.record_size(), in);
            } else {
                index_clear(in, entry.offset + entry.record_size());
            }
        };
        const auto apply_puts = [&](std::span<const hint_entry> puts) {
            for (const hint_entry& entry : puts) apply_listing(entry);
            index_put_many(puts, in.id);
        };
        hint_put_batch batch;
        // Entries come only once the whole hint has passed its checks.
        const std::uint64_t covered = read_hint(
            {mapping->data(), mapping->length()}, identity(in), in.size,
            [&](std::uint64_t entries, std::uint64_t covered_end) {
                if constexpr (requires { table_.reserve(std::size_t{}); }) {
                    if (table_.size() == 0) table_.reserve(static_cast<std::size_t>(entries));
                }
                recovered_records_ += entries;
                if (gather || (build && covered_end < in.size)) {
                    hint.emplace(identity(in));
                    hint->reserve(static_cast<std::size_t>(size));  // the new hint lists as much at least
                }
            },
            [&](const hint_entry& entry) { batch.push(entry, apply_puts, apply); });
        batch.flush(apply_puts);
        if (covered == 0) return;
        in.hint_bytes = size;
        in.hint_covered = covered;
        scan_from = covered;
    }

    bool sync_directory(std::error_code& ec) {
        file_syncs_.add(1);
        return directory_.sync(ec);
    }

    /// Syncs a file of the store's own (a segment, a hint, the manifest), counted in
    /// stats().syncs from whichever thread calls it.
    bool sync_file(data_file<io_type>& file, std::error_code& ec) {
        file_syncs_.add(1);
        return file.sync(ec);
    }

    /// Creates the next segment the writer appends to, holding only its header, through
    /// a synced .tmp and a rename.
    bool create_segment(segment_pointer& out, std::error_code& ec) {
        // A segment the writer starts replays after every earlier one.
        const std::uint32_t id = new_segment_id();
        return start_segment(id, id, out, ec) && publish_segment(*out, ec);
    }

    /// The id of a new segment, taken by writers (under the gate) and by the compaction thread.
    [[nodiscard]] std::uint32_t new_segment_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    /// Starts segment `id` as a .tmp holding its header, with a new file id. No hint of
    /// that id exists: ids are above every id on disk at open, where hints without their
    /// segment were removed.
    bool start_segment(std::uint32_t id, std::uint64_t order, segment_pointer& out, std::error_code& ec) {
        auto created = std::make_shared<segment_type>();
        created->id = id;
        created->order = order;
        created->file_id = new_file_id();
        const store_file_name tmp = store_file_name::data(id).temporary();
        if (!directory_.open_file(created->file, tmp, O_RDWR | O_CREAT | O_TRUNC, ec)) return false;
        file_header header;
        header.codec_fingerprint = fingerprint_;
        header.generation = id;
        header.order = order;
        header.file_id = created->file_id;
        char bytes[file_header::size];
        header.encode(bytes);
        if (!write_counted(created->file, 0, {bytes, sizeof bytes}, ec)) return false;
        created->size = file_header::size;
        out = std::move(created);
        return true;
    }

    /// Syncs a finished .tmp segment, renames it into place and syncs the directory. A
    /// failure stops the store's writes: a failed sync is never retried (the kernel may
    /// have dropped the pages), and after the rename the next open may find the segment.
    bool publish_segment(segment_type& in, std::error_code& ec) {
        const store_file_name name = store_file_name::data(in.id);
        if (sync_file(in.file, ec) && directory_.rename(name.temporary(), name, ec)) {
            in.file.renamed(directory_.file_path(name));
            if (sync_directory(ec)) return true;
        }
        failure_.record(ec);
        return false;
    }

    /// Removes the files of segments taken out of the store, in their replay order, the
    /// directory synced after each: should a crash leave some, they are the last ones in
    /// replay order, whose tombstones are still there for their older records. A removal
    /// that fails stops it; the next open replays what is left, to the same contents.
    void remove_segments(const std::vector<segment_pointer>& retired) {
        std::error_code ignored;
        for (const segment_pointer& in : retired) {
            if (!directory_.remove(store_file_name::data(in->id), ignored) ||
                !directory_.remove(store_file_name::hint(in->id), ignored) || !sync_directory(ignored)) {
                return;
            }
        }
    }

    /// clear(), with write_gate_ held: a new active segment whose first record is a
    /// clear record, published, and then every other segment retired. Should a crash come
    /// before all are removed, the clear record drops what they hold when they replay.
    bool clear_segments(std::error_code& ec) {
        call_writer(&writer_type::drain, ec);
        if (ec) return false;
        segment_pointer next;
        const std::uint32_t id = new_segment_id();
        if (!start_segment(id, id, next, ec)) return false;
        std::string record;
        append_clear_record(record);
        if (!write_counted(next->file, next->size, record, ec)) return false;
        next->size += record.size();
        next->holds_clear = true;
        if (!publish_segment(*next, ec)) return false;
        const std::vector<segment_pointer> retired = segments_.in_replay_order();
        {
            const write_lock lock(mutex_);
            table_.clear();
            segments_.clear();
            segments_.add(next);
            drop_retired_hints();
            make_active(next, next->size);
            note_in_hint({record_type::clear, 0, {}, 0, 0, 0, file_header::size, 0});
            live_bytes_ = 0;
            dead_bytes_ = 0;
            add_dead(*next, record.size());
            compaction_.finish_compaction();
        }
        remove_segments(retired);
        return true;
    }

    /// Writes a whole file safely: .tmp, sync, rename, sync the directory.
    bool write_file(const store_file_name& name, std::string_view bytes, std::error_code& ec) {
        return write_file(name, std::span<const std::string_view>(&bytes, 1), ec);
    }

    /// The same for a file given as pieces written one after another.
    bool write_file(const store_file_name& name, std::span<const std::string_view> pieces, std::error_code& ec) {
        data_file<io_type> file;
        if (!directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec)) return false;
        std::uint64_t at = 0;
        for (const std::string_view piece : pieces) {
            if (!write_counted(file, at, piece, ec)) return false;
            at += piece.size();
        }
        return sync_file(file, ec) && directory_.rename(name.temporary(), name, ec) && sync_directory(ec);
    }

    /// The bytes of a file given as pieces.
    [[nodiscard]] static std::uint64_t total_size(std::span<const std::string_view> pieces) noexcept {
        std::uint64_t total = 0;
        for (const std::string_view piece : pieces) total += piece.size();
        return total;
    }

    /// Writes bytes the store's writer does not (headers, compaction output, hints, the
    /// manifest) and counts them in stats().bytes_written.
    bool write_counted(data_file<io_type>& file, std::uint64_t offset, std::string_view bytes, std::error_code& ec) {
        if (!file.write(offset, bytes, ec)) return false;
        bytes_written_.fetch_add(bytes.size(), std::memory_order_relaxed);
        return true;
    }

    /// Reads the MANIFEST, when the store has one, and refuses (changing nothing) a
    /// store written in a newer format or with a composition this open cannot read.
    bool check_manifest(composition& on_disk, bool& found, std::error_code& ec) {
        if (!read_manifest_file(io_, directory_.path(), on_disk, found, ec)) return false;
        if (!found) return refuse_unrecorded_layers(ec);
        const std::string path = directory_.file_path(store_file_name::manifest());
        if (on_disk.format > format_version) {
            fail(ec, errc::unsupported_version,
                 path + ": written in format version " + std::to_string(on_disk.format) +
                     "; this kvforge reads up to version " + std::to_string(format_version) + " (nothing was changed)");
            return false;
        }
        const std::string difference = first_binding_difference(on_disk, composition_);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 path + ": " + difference + "; " + binding_remedy(on_disk, composition_) + " (nothing was changed)");
            return false;
        }
        return true;
    }

    /// A store without a MANIFEST (format 1, or codec names no manifest line can hold)
    /// records neither expiry nor compression, so its values have no deadline header and
    /// no compression flag: an expiring or compressed open would read each value's first
    /// byte as one. Refused when the store holds data.
    bool refuse_unrecorded_layers(std::error_code& ec) const {
        if (composition_.expiry == "none" && composition_.compression == "none") return true;
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        if (!store_directory<io_type>::holds_data(names)) return true;
        if (composition_.expiry != "none") {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without expiry, and this store opens "
                     "it with expiry (" +
                     composition_.expiry +
                     "); open it without kvforge::expiring<>, or copy it into an expiring store with kvforge::copy "
                     "(nothing was changed)");
        } else {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without compression, and this store "
                     "opens it with compression (" +
                     composition_.compression +
                     "); open it without kvforge::compressed<>, or copy it into a compressed store with "
                     "kvforge::copy (nothing was changed)");
        }
        return false;
    }

    /// Writes the MANIFEST when the store has none or it records another composition
    /// (only store, index or durability can differ here: check_manifest refused the
    /// rest). Codec names that cannot stand in a manifest line (spaces, control bytes)
    /// leave the store without one, as a format 1 store is: the data file's header still
    /// binds its codecs.
    bool record_composition(const composition& on_disk, bool found, std::error_code& ec) {
        if (found && on_disk == composition_) return true;
        const std::string text = format_manifest(composition_);
        return text.empty() || write_file(store_file_name::manifest(), text, ec);
    }

    io_type io_{};
    kvforge::options options_{};
    composition composition_;  // what this open's store<> is made of, as the manifest records it
    std::uint64_t fingerprint_ = 0;
    // Read without a lock by is_open(); changed under the gate and the exclusive lock.
    std::atomic<bool> open_{false};

    mutable gate_type write_gate_;
    mutable mutex_type mutex_;
    store_directory<io_type> directory_;
    // Changed under the gate and the exclusive lock; readers find records' segments here.
    segment_set<io_type> segments_;
    segment_pointer active_;  // the segment the writer appends to (read-only: the last in replay order)
    // Mutable for snapshot(), which is const: a flush hands the writer's buffered records
    // to the OS, under the gate, and changes nothing a reader sees.
    mutable std::optional<writer_type> writer_;
    record_reader<io_type, writer_type, Mapped> reader_{io_, segments_, active_, writer_};
    // The active segment's records, listed as they are appended, for its hint; empty
    // without options::write_hints (and once the hint was written from them).
    std::optional<hint_builder> active_hint_;
    // Closed segments whose hints are still to be written (write_pending_hint), oldest
    // first, with the entries gathered for them; changed under write_gate_.
    struct pending_hint {
        segment_pointer in;
        hint_builder entries;
    };
    std::vector<pending_hint> pending_hints_;
    bool closed_by_this_write_ = false;  // the write under way closed a segment (single_thread's hint step)
    // The id of the next segment made, one counter for every kind; taken by writers and
    // by the compaction thread.
    std::atomic<std::uint32_t> next_id_{1};
    table_type table_;
    std::string record_;                      // the record being written; reused under the gate
    std::vector<std::size_t> batch_offsets_;  // offsets of a batch's records in its body
    detail::write_version<threading::concurrent> version_;
    active_calls<threading::concurrent> active_calls_;
    backups_running backups_;
    log_backup<io_type> backup_{io_, directory_, composition_};

    std::uint64_t live_bytes_ = 0;
    std::uint64_t dead_bytes_ = 0;  // the sum of the segments' dead bytes
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    counter_type file_syncs_;  // segments, hints, manifest and directory; bumped outside the lock stats() reads under
    // Bytes the store wrote beside its writer's, since open; bumped outside the lock stats() reads under.
    std::atomic<std::uint64_t> bytes_written_{0};
    std::vector<damaged_record> salvaged_;
    sticky_failure failure_;
    counter_type puts_;
    mutable counter_type gets_;
    counter_type erases_;
    counter_type batches_;
    // compact(), and automatic compaction on its thread (thread_safe); last, so that
    // its thread stops first.
    segment_compaction<Policies, log_backend> compaction_{*this};
};

}  // namespace kvforge::detail
