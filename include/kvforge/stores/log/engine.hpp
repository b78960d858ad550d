#pragma once
/// \file engine.hpp
/// The byte-level store behind file_log: an append-only data file of checksummed
/// records with an in-memory index from each key to its record (in the manner of
/// Bitcask), a durability policy's writer, hint files and compaction.
///
/// Locks. A writer takes write_gate_ (which orders writers and compaction), builds its
/// record, and under the exclusive lock appends it and updates the index; it waits for
/// durability (sync_each) after releasing both, so that writers can share one sync.
/// Readers take the shared lock only. Compaction holds write_gate_ throughout, so no
/// writer runs, but readers go on; it takes the exclusive lock only to switch files.
///
/// Files. The directory holds LOCK, MANIFEST, one data file data-<generation>.kvlog and
/// its hint data-<generation>.kvhint (names: store_files.hpp). Compaction (and clear) writes
/// generation + 1 beside it as a .tmp file, syncs it, renames it into place and syncs the
/// directory before the old generation is removed; on open the newest generation wins
/// and leftovers are removed. A store opened read-only changes no file.
///
/// Manifest. Every open reads the MANIFEST, when there is one, before anything else and
/// refuses a composition that cannot read the files (manifest.hpp says which fields
/// bind). A writable open then writes it, through MANIFEST.tmp and a rename, when it is
/// missing (a new store, or one of format 1) or records another store, index or
/// durability policy than this open's, so that tools reopen the store as it was last used.
///
/// Backup. backup() takes its cut under the gate (a flush, then the data file's end and a
/// descriptor of its own on the file) and copies the bytes before the cut with no lock
/// held, so writers go on. While a backup runs, the data file must stay the one it reads:
/// the automatic compaction trigger waits, and compact() and clear() wait for the backup
/// without holding the gate. The copy is written as a store's directory is: the data file
/// through a synced .tmp and a rename, the MANIFEST last, the directory synced after each;
/// a destination without a MANIFEST is no backup. It is then opened read-only and verified.
///
/// Close. Readers check that the store is open under the shared lock, so close() marks
/// it closed under the exclusive lock before it lets the writer go; writers waiting for
/// their sync and callers of wait_durable, which hold no lock, are counted
/// (active_calls.hpp) and close() waits for them.

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
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
#include "../../threading/single_thread.hpp"
#include "hint.hpp"
#include "log_scan.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"

namespace kvforge::detail {

/// The store behind file_log (Mapped = false: records are read with pread) and
/// mmap_file (Mapped = true: records in the file are read through a shared read-only
/// mapping, without copying; writes still go through the writer and pwrite, so both
/// stores have the same durability and crash behaviour).
template <class Policies, bool Mapped = false>
class log_backend {
    using io_type = typename Policies::io;
    using table_type = typename Policies::index::table;
    using threading = typename Policies::threading;
    using mutex_type = typename threading::mutex_type;
    using counter_type = typename threading::counter_type;
    using writer_type = typename Policies::durability::template writer<io_type, threading::concurrent>;
    static_assert(durability_writer<writer_type, io_type>,
                  "kvforge: the durability policy's writer<IO, Concurrent> does not satisfy the concept "
                  "kvforge::durability_writer (concepts.hpp), which lists what a log store calls");
    using gate_type = std::conditional_t<threading::concurrent, std::mutex, null_shared_mutex>;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;
    using gate_lock = std::unique_lock<gate_type>;

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
        if (!check_manifest(on_disk, has_manifest, ec) || !recover(ec) || (salvage_rewrite() && !rewrite(true, ec)) ||
            (!options_.read_only && !record_composition(on_disk, has_manifest, ec))) {
            writer_.reset();
            reader_.release();
            file_.close();
            directory_.close();
            reset_state();
            return;
        }
        open_ = true;
    }

    /// Writes everything out, syncs it, writes the hint file and releases the store
    /// (a read-only store only releases it). The store is closed afterwards even when
    /// this reports an error.
    void close(std::error_code& ec) {
        const gate_lock gate(write_gate_);
        if (!open_) return;
        // After a failed write or sync, whatever was not yet on disk is lost: report it.
        if (!options_.read_only && !failure_.check(ec) && !writer_->failed(ec)) {
            call_writer(&writer_type::close, ec);
            if (!ec && options_.write_hints && hint_covered_bytes_ != writer_->end()) {
                // A hint only speeds up the next open, so failing to write one is no error.
                std::error_code hint_error;
                try {
                    write_hint(hint_error);
                } catch (const std::bad_alloc&) {
                }
            }
        }
        {
            const write_lock lock(mutex_);
            open_ = false;
        }
        active_calls_.wait_idle();
        writer_.reset();
        reader_.release();
        file_.close();
        directory_.close();
    }

    [[nodiscard]] bool is_open() const noexcept { return open_; }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return 0;
        record_.clear();
        append_put_record(record_, key, value);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            update_index([&] { index_put(key, {appended.offset, static_cast<std::uint32_t>(value.size())}); });
            cover_writer_end();
        }
        puts_.add(1);
        return finish_write(gate, appended.sequence, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return false;
        // Writers are ordered by the gate, so the index cannot change under this lookup.
        if (!table_.find(key)) return false;
        record_.clear();
        append_erase_record(record_, key);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return false;
            version_.bump();
            update_index([&] { index_erase(key, record_.size()); });
            cover_writer_end();
        }
        erases_.add(1);
        finish_write(gate, appended.sequence, ec);
        return !ec;
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return 0;
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
                        index_put(key, {offset, static_cast<std::uint32_t>(value.size())});
                        puts_.add(1);
                    } else {
                        if (index_erase(key, erase_record_size(key.size()))) erases_.add(1);
                    }
                });
            });
            dead_bytes_ += body_offset;  // the batch header holds no data
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
            out = pinned_value(reader_.mapping(), value);  // the bytes lie in the mapping: share it
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
        visit_ordered([&](auto&& read) { table_.visit_from(from, inclusive, read); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered([&](auto&& read) { table_.visit_down_from(from, inclusive, read); }, visitor, ec);
    }

    /// Calls visitor(key, value) for every record, under the read lock.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        table_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (reader_.read(key, record_location::decode(payload), scratch, value, ec)) visitor(key, value);
        });
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on (put, erase, batch, clear,
    /// compaction), read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// Removes every key by switching to a new, empty generation.
    void clear(std::error_code& ec) {
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        rewrite(false, ec);
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
        s.compactions = compactions_;
        s.compaction_failures = compaction_failures_;
        s.last_compaction_error = last_compaction_error_;
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        if (open_) {
            s.segments = 1;  // one data file: compaction replaces it whole
            s.disk_bytes = writer_->end() + hint_bytes_;
            s.syncs = writer_->syncs() + directory_syncs_.load();
            s.bytes_written = writer_->bytes_written() + bytes_written_.load(std::memory_order_relaxed);
        }
        return s;
    }

    /// Hands buffered writes to the OS; nothing to do for a read-only store.
    void flush(std::error_code& ec) { drain_writer(&writer_type::flush, ec); }
    /// Makes every write so far durable; nothing to do for a read-only store.
    void sync(std::error_code& ec) { drain_writer(&writer_type::sync, ec); }

    /// Rewrites the live records into a new generation and drops the old one.
    void compact(std::error_code& ec) {
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        compact_now(ec);
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
    /// copy. The copy is a store once its MANIFEST exists, which is written last; it is
    /// synced, then opened read-only and verified before backup() returns.
    void backup(std::string_view dest, std::error_code& ec) {
        backup_cut cut;
        std::optional<active_call<threading::concurrent>> call;
        {
            const gate_lock gate(write_gate_);
            if (!take_backup_cut(cut, ec)) return;
            // Counted while the store is known to be open, so that close() waits for the copy.
            call.emplace(active_calls_);
            backups_running_.fetch_add(1, std::memory_order_relaxed);
        }
        const std::string target(dest);
        const bool copied = copy_backup(cut, target, ec);
        cut.source.close();
        // The release pairs with gate_without_backups' acquire: the copy's reads of the data
        // file happen before a compaction replaces it.
        if (backups_running_.fetch_sub(1, std::memory_order_release) == 1) backups_running_.notify_all();
        if (copied) verify_backup(cut, target, ec);
    }

    /// Reads every record in the data file and checks its checksum; changes nothing.
    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        const gate_lock gate(write_gate_);
        verify_report report;
        if (!readable(ec)) return report;
        // async_worker's thread may be writing records at the end of the file: check
        // only those wholly written, up to where the writer's first pending record starts
        // (no writer appends while the gate is held). The writer reads that offset under
        // one lock: pieced together from several readings while its thread moved on, it
        // could fall inside a record. The size is read after: once nothing is pending the
        // file no longer grows, and a size read before could end in the middle of a record
        // the worker was writing.
        const std::uint64_t written = writer_->written_end();
        std::uint64_t file_size = 0;
        if (!file_.size(file_size, ec)) return report;
        const std::uint64_t end = written < writer_->end() ? written : file_size;
        log_scan_result scanned;
        if (!scan_log(
                file_, records_start(), end, data_version_, true, [](const log_entry&) {}, scanned, ec)) {
            return report;
        }
        report.records_checked = scanned.records;
        report.damaged = std::move(scanned.damage);
        if (scanned.torn_tail) {
            report.damaged.push_back({file_.path(), scanned.valid_end, std::string(torn_tail_problem)});
        }
        return report;
    }

private:
    /// What a backup copies: the data file (through a descriptor of its own) up to end,
    /// and what the store held at that point, to check the copy against.
    struct backup_cut {
        data_file<io_type> source;
        std::uint32_t generation = 0;
        std::uint64_t end = 0;
        std::size_t live_keys = 0;
        std::uint64_t live_bytes = 0;
    };

    /// Takes a backup's cut, with write_gate_ held: flushes what the writer holds and
    /// notes where the data file ends.
    bool take_backup_cut(backup_cut& cut, std::error_code& ec) {
        if (!readable(ec)) return false;
        if (!options_.read_only) {
            if (!writable(ec)) return false;
            call_writer(&writer_type::flush, ec);
            if (ec) return false;
        }
        if (!directory_.open_file(cut.source, store_file_name::data(generation_), O_RDONLY, ec)) return false;
        cut.generation = generation_;
        cut.end = writer_->end();
        cut.live_keys = table_.size();
        cut.live_bytes = live_bytes_;
        return true;
    }

    /// Refuses a destination that is not a missing or empty directory, changing nothing.
    bool check_backup_destination(const std::string& dest, std::error_code& ec) {
        if (inside_store_directory(dest)) {
            fail(ec, std::error_code(EINVAL, std::system_category()),
                 dest + " is inside the store's directory " + directory_.path() +
                     ", which holds only the store's own files (another entry there keeps the store from opening); "
                     "give backup a directory outside it (nothing was changed)");
            return false;
        }
        struct stat info {};
        if (io_.stat(dest.c_str(), &info) != 0) {
            if (errno == ENOENT) return true;
            fail_errno(ec, errno, "stat " + dest + " (the backup's destination)");
            return false;
        }
        if (!S_ISDIR(info.st_mode)) {
            fail(ec, std::error_code(ENOTDIR, std::system_category()),
                 dest + " is not a directory; give backup a new or empty directory (nothing was changed)");
            return false;
        }
        std::vector<std::string> entries;
        if (io_.list_directory(dest.c_str(), entries) != 0) {
            fail_errno(ec, errno, "list " + dest + " (the backup's destination)");
            return false;
        }
        if (!entries.empty()) {
            fail(ec, std::error_code(ENOTEMPTY, std::system_category()),
                 dest + " is not empty (it holds '" + entries.front() +
                     "'); give backup a new or empty directory, or remove this one first (nothing was changed)");
            return false;
        }
        return true;
    }

    /// Whether dest's parent is the store's directory (compared by device and inode, so
    /// that another spelling of the path is caught too). Deeper is impossible: the
    /// directory between would be a foreign entry of the store's directory already.
    bool inside_store_directory(const std::string& dest) {
        const std::string parent = store_directory<io_type>::parent_of(dest);
        struct stat store_info {};
        struct stat parent_info {};
        return io_.stat(directory_.path().c_str(), &store_info) == 0 && io_.stat(parent.c_str(), &parent_info) == 0 &&
               store_info.st_dev == parent_info.st_dev && store_info.st_ino == parent_info.st_ino;
    }

    /// Writes the backup's files into dest: the data file up to the cut, then the
    /// MANIFEST. A failure after dest was made says that the copy there is incomplete.
    bool copy_backup(backup_cut& cut, const std::string& dest, std::error_code& ec) {
        if (!check_backup_destination(dest, ec)) return false;
        store_directory<io_type> target;
        directory_mode mode;
        mode.refuse_store = true;
        if (!target.open(io_, dest, mode, ec)) return false;
        const store_file_name data = store_file_name::data(cut.generation);
        data_file<io_type> copy;
        bool ok = target.open_file(copy, data.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec);
        std::string buffer;
        for (std::uint64_t at = 0; ok && at < cut.end;) {
            // A mebibyte at a time: a copy costs that much memory, whatever the store's size.
            buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(cut.end - at, std::uint64_t{1} << 20)));
            ok = cut.source.read(at, buffer.data(), buffer.size(), ec) && copy.write(at, buffer, ec);
            at += buffer.size();
        }
        ok = ok && copy.sync(ec) && target.rename(data.temporary(), data, ec) && target.sync(ec);
        // Only once the data file's name is durable may the MANIFEST make the copy a store.
        // A composition whose codec names cannot stand in a manifest line leaves the copy
        // without one, as record_composition leaves the store itself.
        const std::string text = format_manifest(composition_);
        if (ok && !text.empty()) {
            const store_file_name manifest = store_file_name::manifest();
            data_file<io_type> file;
            ok = target.open_file(file, manifest.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) &&
                 file.write(0, text, ec) && file.sync(ec) && target.rename(manifest.temporary(), manifest, ec) &&
                 target.sync(ec);
        }
        target.close();
        if (!ok) {
            fail(ec, ec,
                 last_error_detail() + "; the backup in " + dest +
                     " is incomplete (it is no store without its MANIFEST): remove the directory and back up again");
        }
        return ok;
    }

    /// Opens the finished backup read-only and checks every record, and that it holds
    /// the keys and bytes the store held at the cut.
    void verify_backup(const backup_cut& cut, const std::string& dest, std::error_code& ec) {
        log_backend copy;
        kvforge::options read_only;
        read_only.read_only = true;
        copy.open(dest, read_only, io_, composition_, ec);
        if (ec) return;
        const verify_report report = copy.verify(ec);
        if (ec) return;
        const kvforge::stats held = copy.stats();
        copy.close(ec);
        if (ec) return;
        if (!report.damaged.empty()) {
            fail(ec, errc::corrupt_record,
                 report.damaged.front().file + " (the backup in " + dest + "): " + report.damaged.front().problem +
                     " at offset " + std::to_string(report.damaged.front().offset) +
                     "; the copy does not match the store: remove it and back up again");
        } else if (held.live_keys != cut.live_keys || held.live_bytes != cut.live_bytes) {
            fail(ec, errc::corrupt_record,
                 dest + ": the backup holds " + std::to_string(held.live_keys) + " keys (" +
                     std::to_string(held.live_bytes) + " bytes) where the store held " + std::to_string(cut.live_keys) +
                     " (" + std::to_string(cut.live_bytes) +
                     " bytes) at the cut; the copy does not match the store: remove it and back up again");
        }
    }

    /// Takes write_gate_ for a call that replaces the data file (compact, clear) once no
    /// backup copies it, waiting for backups without holding the gate, so writers go on.
    gate_lock gate_without_backups() {
        gate_lock gate(write_gate_);
        for (int running = backups_running_.load(std::memory_order_acquire); running != 0;
             running = backups_running_.load(std::memory_order_acquire)) {
            gate.unlock();
            backups_running_.wait(running, std::memory_order_acquire);
            gate.lock();
        }
        return gate;
    }

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

    void reset_state() {
        table_.clear();
        bytes_written_.store(0, std::memory_order_relaxed);
        live_bytes_ = 0;
        dead_bytes_ = 0;
        hint_bytes_ = 0;
        hint_covered_bytes_ = 0;
        recovered_records_ = 0;
        recovered_bytes_cut_ = 0;
        compaction_retry_end_ = 0;
        last_compaction_error_.clear();
        salvaged_.clear();
        failure_.reset();
        writer_.reset();
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

    /// After a write: releases the gate, waits for durability as the policy says, and
    /// compacts when dead bytes have grown past the configured share. The write's result
    /// is its own: a failed compaction shows in stats() and is not retried before the
    /// data file has grown (see compact_now).
    std::uint64_t finish_write(gate_lock& gate, std::uint64_t sequence, std::error_code& ec) {
        const bool compaction_due = wants_compaction();
        {
            const active_call<threading::concurrent> call(active_calls_);
            gate.unlock();
            writer_->commit(sequence, ec);
        }
        if (!ec && compaction_due) {
            const gate_lock again(write_gate_);
            std::error_code compaction_error;
            // Another thread may have closed the store, or compacted it, meanwhile.
            if (writable(compaction_error) && wants_compaction()) {
                // The caller's last error message describes its own calls, not this one.
                const last_error saved = this_thread_last_error();
                compact_now(compaction_error);
                this_thread_last_error() = saved;
            }
        }
        return sequence;
    }

    [[nodiscard]] bool wants_compaction() const {
        if (options_.compact_dead_ratio <= 0) return false;
        // A backup copies the data file compaction would replace: the trigger waits for it.
        if (backups_running_.load(std::memory_order_relaxed) != 0) return false;
        const std::uint64_t data = writer_->end();
        return data >= options_.compact_min_bytes && data >= compaction_retry_end_ &&
               static_cast<double>(dead_bytes_) > options_.compact_dead_ratio * static_cast<double>(data);
    }

    /// Compacts, with write_gate_ held. A failure is counted and its message kept for
    /// stats(), and automatic compaction waits until the data file has grown by as much
    /// as it held, or by compact_min_bytes if that is more: a failure that persists (a
    /// damaged record) then costs a bounded share of the writing, not a rewrite per write.
    void compact_now(std::error_code& ec) {
        if (rewrite(true, ec)) return;
        const std::string message = last_error_message();
        const write_lock lock(mutex_);
        ++compaction_failures_;
        last_compaction_error_ = message;
        const std::uint64_t data = writer_->end();
        compaction_retry_end_ = data + std::max(data, options_.compact_min_bytes);
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
                 "out of memory while indexing a record already written to " + file_.path());
            failure_.record(ec);
            throw;
        }
    }

    /// Where the data file's records start: after its header, whose size is its version's.
    [[nodiscard]] std::uint64_t records_start() const noexcept { return file_header::size_of(data_version_); }

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

    void index_put(std::string_view key, const record_location& where) {
        char payload[record_location::encoded_size];
        where.encode(payload);
        table_.upsert(key, {payload, sizeof payload}, [&](std::string_view old) {
            const record_location previous = record_location::decode(old);
            dead_bytes_ += previous.record_size(key.size());
            live_bytes_ -= key.size() + previous.value_size;
        });
        live_bytes_ += key.size() + where.value_size;
    }

    bool index_erase(std::string_view key, std::size_t tombstone_size) {
        dead_bytes_ += tombstone_size;
        return table_.erase(key, [&](std::string_view old) {
            const record_location previous = record_location::decode(old);
            dead_bytes_ += previous.record_size(key.size());
            live_bytes_ -= key.size() + previous.value_size;
        });
    }

    /// Under the read lock, has walk hand its read(key, payload) to the index's ordered
    /// visit, which read answers by calling visitor(key, value) with the record's value.
    template <class Walk, class Visitor>
    void visit_ordered(Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        read_ahead ahead;
        walk([&](std::string_view key, std::string_view payload) {
            std::string_view value;
            if (!reader_.read(key, record_location::decode(payload), scratch, value, ec, &ahead)) return false;
            return visitor(key, value);
        });
    }

    /// A clear record ending at end: every record before it is dead.
    void index_clear(std::uint64_t end) {
        table_.clear();
        live_bytes_ = 0;
        dead_bytes_ = end - records_start();
    }

    /// Makes the mapping cover everything written so far (mmap_file).
    void cover_writer_end() { reader_.cover(writer_->end()); }

    /// flush or sync: nothing to do for a read-only store, which writes nothing.
    void drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
        const gate_lock gate(write_gate_);
        if (!readable(ec) || options_.read_only || !writable(ec)) return;
        call_writer(op, ec);
    }

    /// Calls a writer's flush, sync, drain or close, with write_gate_ held. A writer
    /// without a worker changes the buffer readers read, so that takes the exclusive
    /// lock; async_worker's queue has its own lock, and readers need not wait for its disk.
    void call_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
        if constexpr (sequenced) {
            ((*writer_).*op)(ec);
        } else {
            const write_lock lock(mutex_);
            ((*writer_).*op)(ec);
        }
    }

    /// Opens the newest generation (or creates the first), removes leftovers, and
    /// rebuilds the index from the hint file and the log. A read-only store removes,
    /// creates and cuts nothing: it serves the intact records and leaves the files as
    /// they are. With salvage the hint is not trusted: the whole log is read, so that
    /// every damaged record is found and dropped.
    bool recover(std::error_code& ec) {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::uint32_t newest = 0;
        for (const store_file_name& name : names) {
            if (name.kind() == store_file_kind::data && !name.is_temporary()) {
                newest = std::max(newest, name.generation());
            }
        }
        // The directory refused a missing store unless this open may create one.
        if (newest == 0) return create_generation(1, ec) && attach_writer(records_start());

        generation_ = newest;
        const int flags = options_.read_only ? O_RDONLY : O_RDWR;
        if (!directory_.open_file(file_, store_file_name::data(newest), flags, ec)) return false;
        std::uint64_t file_size = 0;
        if (!file_.size(file_size, ec) || !check_header(file_size, ec)) return false;

        if (!options_.read_only) {
            // Nothing is changed before the newest file proved to be a store of ours.
            for (const store_file_name& other : names) {
                const bool leftover = other.is_temporary();
                const bool older = (other.kind() == store_file_kind::data && other.generation() < newest) ||
                                   (other.kind() == store_file_kind::hint && other.generation() != newest);
                if ((leftover || older) && !directory_.remove(other, ec)) return false;
            }
            // Synced even when nothing was removed: the open that created or renamed these
            // files may have failed to sync the directory, and what this store acknowledges
            // from now on rests on those entries.
            if (!sync_directory(ec)) return false;
        }

        std::uint64_t scan_from = records_start();
        if (!options_.salvage) load_hint(file_size, scan_from);
        log_scan_result scanned;
        const bool scanned_ok = scan_log(
            file_, scan_from, file_size, data_version_, options_.salvage,
            [&](const log_entry& entry) {
                if (entry.type == record_type::put) {
                    index_put(entry.key, {entry.offset, static_cast<std::uint32_t>(entry.value.size()), entry.flags});
                } else if (entry.type == record_type::erase) {
                    index_erase(entry.key, entry.size);
                } else {
                    index_clear(entry.offset + entry.size);
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        dead_bytes_ += scanned.overhead_bytes;
        recovered_records_ += scanned.records;
        salvaged_ = std::move(scanned.damage);
        if (scanned.torn_tail && !options_.read_only) {
            // Cut the torn tail before anything is appended after it, and make the cut durable.
            recovered_bytes_cut_ = file_size - scanned.valid_end;
            if (!file_.truncate(scanned.valid_end, ec) || !file_.sync(ec)) return false;
        }
        return attach_writer(scanned.valid_end);
    }

    bool check_header(std::uint64_t file_size, std::error_code& ec) {
        char bytes[file_header::size];
        const std::size_t available = static_cast<std::size_t>(std::min<std::uint64_t>(file_size, sizeof bytes));
        if (!file_.read(0, bytes, available, ec)) return false;
        file_header header;
        const std::string& path = file_.path();
        switch (file_header::decode({bytes, available}, file_kind::data, header)) {
            case file_header::problem::none:
                break;
            case file_header::problem::truncated:
                fail(ec, errc::corrupt_header,
                     path + ": " + std::to_string(file_size) + " bytes, shorter than its file header");
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
        file_id_ = header.file_id;
        data_version_ = header.version;
        return true;
    }

    /// Loads the hint file of the current generation if it is valid; scan_from becomes
    /// the first byte of the log it does not cover.
    void load_hint(std::uint64_t file_size, std::uint64_t& scan_from) {
        data_file<io_type> hint;
        std::error_code ignored;
        if (!directory_.open_file(hint, store_file_name::hint(generation_), O_RDONLY, ignored)) return;
        std::uint64_t size = 0;
        if (!hint.size(size, ignored) || size == 0) return;
        // Mapped rather than read: the hint is parsed once, front to back, and a copy would
        // cost a buffer as large as the file.
        const auto mapping =
            file_mapping<io_type>::map(io_, hint.descriptor(), static_cast<std::size_t>(size), hint.path(), ignored);
        if (!mapping) return;
        // Entries come only once the whole hint has passed its checks; the index is empty.
        const std::uint64_t covered = read_hint(
            {mapping->data(), mapping->length()}, {generation_, fingerprint_, file_id_, records_start()}, file_size,
            [&](std::uint64_t entries) {
                if constexpr (requires { table_.reserve(std::size_t{}); }) {
                    table_.reserve(static_cast<std::size_t>(entries));
                }
                recovered_records_ = entries;
            },
            [&](const hint_entry& entry) {
                dead_bytes_ += entry.gap;  // records the hint leaves out: overwritten, erased, batch headers
                if (entry.type == record_type::put) {
                    index_put(entry.key, {entry.offset, entry.value_size, entry.flags});
                } else if (entry.type == record_type::erase) {
                    index_erase(entry.key, entry.record_size());
                } else {
                    index_clear(entry.offset + entry.record_size());
                }
            });
        if (covered == 0) return;
        hint_bytes_ = size;
        hint_covered_bytes_ = covered;
        scan_from = covered;
    }

    bool attach_writer(std::uint64_t end) {
        writer_.emplace();
        writer_->attach(file_, end);
        cover_writer_end();
        return true;
    }

    bool sync_directory(std::error_code& ec) {
        directory_syncs_.add(1);
        return directory_.sync(ec);
    }

    /// Creates data file `generation` holding only its header, through a synced .tmp and a rename.
    bool create_generation(std::uint32_t generation, std::error_code& ec) {
        data_file<io_type> created;
        std::uint32_t id = 0;
        if (!start_generation(generation, created, id, ec)) return false;
        if (!publish_generation(generation, created, ec)) return false;
        file_ = std::move(created);
        generation_ = generation;
        file_id_ = id;
        data_version_ = format_version;
        return true;
    }

    /// Starts data file `generation` as a .tmp holding its header, with a new file id.
    /// A hint of that generation can only describe an earlier data file (one that was
    /// lost, or the leftover of an interrupted switch): it is removed first.
    bool start_generation(std::uint32_t generation, data_file<io_type>& file, std::uint32_t& id, std::error_code& ec) {
        if (!directory_.remove(store_file_name::hint(generation), ec)) return false;
        const store_file_name tmp = store_file_name::data(generation).temporary();
        if (!directory_.open_file(file, tmp, O_RDWR | O_CREAT | O_TRUNC, ec)) return false;
        id = new_file_id();
        file_header header;
        header.codec_fingerprint = fingerprint_;
        header.generation = generation;
        header.order = generation;  // a file the writer starts replays after every earlier one
        header.file_id = id;
        char bytes[file_header::size];
        header.encode(bytes);
        return write_counted(file, 0, {bytes, sizeof bytes}, ec);
    }

    /// Syncs a finished .tmp generation, renames it into place and syncs the directory.
    bool publish_generation(std::uint32_t generation, data_file<io_type>& file, std::error_code& ec) {
        const store_file_name name = store_file_name::data(generation);
        if (!file.sync(ec) || !directory_.rename(name.temporary(), name, ec)) return false;
        file.renamed(directory_.file_path(name));
        return sync_directory(ec);
    }

    /// Compaction (keep = true) or clear (keep = false): writes generation + 1 with the
    /// live records (or none), switches to it, and removes the old generation; false
    /// with ec set when it failed. Called with write_gate_ held, so the index changes
    /// only here.
    bool rewrite(bool keep, std::error_code& ec) {
        call_writer(&writer_type::drain, ec);
        if (ec) return false;
        const std::uint32_t next = generation_ + 1;
        data_file<io_type> file;
        std::uint32_t id = 0;
        if (!start_generation(next, file, id, ec)) return false;

        table_type table;
        hint_builder hint({next, fingerprint_, id});
        std::uint64_t end = file_header::size;
        std::uint64_t live = 0;
        if (keep) {
            std::string out;
            std::string scratch;
            bool ok = true;
            // In index order, so a sorted store's file is in key order and scans read it in sequence.
            table_.for_each([&](std::string_view key, std::string_view payload) {
                if (!ok) return;
                std::string_view value;
                const record_location where = record_location::decode(payload);
                if (!reader_.read(key, where, scratch, value, ec)) {
                    ok = false;
                    return;
                }
                const record_location moved{end + out.size(), where.value_size};
                append_put_record(out, key, value);
                char encoded[record_location::encoded_size];
                moved.encode(encoded);
                table.upsert(key, {encoded, sizeof encoded}, [](std::string_view) {});
                hint.add({record_type::put, 0, key, moved.value_size, 0, 0, moved.offset, 0});
                live += key.size() + value.size();
                if (out.size() >= (std::size_t{1} << 20)) {
                    ok = write_counted(file, end, out, ec);
                    end += out.size();
                    out.clear();
                }
            });
            if (!ok || !write_counted(file, end, out, ec)) return false;
            end += out.size();
        }
        if (!publish_generation(next, file, ec)) {
            // The rename may have happened: the next open could pick either generation,
            // so this store object must not write on as if nothing had.
            failure_.record(ec);
            return false;
        }
        std::uint64_t hint_size = 0;
        std::uint64_t hint_covered = 0;
        if (options_.write_hints) {
            std::string& bytes = hint.finish(end);
            hint_size = bytes.size();
            // A missing hint only slows the next open down.
            std::error_code hint_error;
            if (!write_file(store_file_name::hint(next), bytes, hint_error)) hint_size = 0;
            hint_covered = hint_size == 0 ? 0 : end;
        }

        const std::uint32_t previous = generation_;
        {
            const write_lock lock(mutex_);
            table_ = std::move(table);
            file_ = std::move(file);
            writer_->attach(file_, end);
            // Views handed out before keep the old mapping; new reads use the new file's.
            reader_.release();
            cover_writer_end();
            generation_ = next;
            file_id_ = id;
            data_version_ = format_version;
            live_bytes_ = live;
            dead_bytes_ = 0;
            hint_bytes_ = hint_size;
            hint_covered_bytes_ = hint_covered;
            ++compactions_;
            compaction_retry_end_ = 0;
            last_compaction_error_.clear();
            salvaged_.clear();
            version_.bump();
        }
        // The old generation is obsolete now; should removing it fail, the next open removes it.
        std::error_code cleanup_error;
        if (directory_.remove(store_file_name::data(previous), cleanup_error) &&
            directory_.remove(store_file_name::hint(previous), cleanup_error)) {
            sync_directory(cleanup_error);
        }
        return true;
    }

    /// Writes the hint of the current generation, covering the whole log: its live
    /// records in file order, the gaps between them holding the rest.
    bool write_hint(std::error_code& ec) {
        // Streamed a block at a time, as write_file would write it whole: .tmp, sync, rename, sync the directory.
        const store_file_name name = store_file_name::hint(generation_);
        data_file<io_type> file;
        if (!directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec)) return false;
        std::uint64_t size = 0;
        auto sink = [&](std::string_view block) {
            if (!write_counted(file, size, block, ec)) return false;
            size += block.size();
            return true;
        };
        hint_writer hint({generation_, fingerprint_, file_id_, records_start()}, writer_->end(), table_.size(), sink);
        // The keys stay where the index holds them: no writer runs while the gate is held.
        const auto walk = [&](auto&& fn) {
            table_.for_each(
                [&](std::string_view key, std::string_view payload) { fn(key, record_location::decode(payload)); });
        };
        const bool listed = visit_in_file_order(
            walk, table_.size(), records_start(), writer_->end(),
            [&](std::string_view key, const record_location& where) {
                return hint.add({record_type::put, where.flags, key, where.value_size, 0, 0, where.offset, 0});
            });
        if (!listed) return false;
        if (!hint.finish() || !file.sync(ec) || !directory_.rename(name.temporary(), name, ec) || !sync_directory(ec)) {
            return false;
        }
        const write_lock lock(mutex_);  // stats() reads these under the read lock
        hint_bytes_ = size;
        hint_covered_bytes_ = writer_->end();
        return true;
    }

    /// Writes a whole file safely: .tmp, sync, rename, sync the directory.
    bool write_file(const store_file_name& name, std::string_view bytes, std::error_code& ec) {
        data_file<io_type> file;
        return directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) &&
               write_counted(file, 0, bytes, ec) && file.sync(ec) && directory_.rename(name.temporary(), name, ec) &&
               sync_directory(ec);
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
    data_file<io_type> file_;
    std::optional<writer_type> writer_;
    record_reader<io_type, writer_type, Mapped> reader_{io_, file_, writer_};
    std::uint32_t generation_ = 0;
    std::uint32_t file_id_ = 0;                    // the data file's id, which its hint repeats
    std::uint16_t data_version_ = format_version;  // the data file's format version, which its records follow
    table_type table_;
    std::string record_;                      // the record being written; reused under the gate
    std::vector<std::size_t> batch_offsets_;  // offsets of a batch's records in its body
    detail::write_version<threading::concurrent> version_;
    active_calls<threading::concurrent> active_calls_;
    std::atomic<int> backups_running_{0};  // backups copying the data file; changed by backup() alone

    std::uint64_t live_bytes_ = 0;
    std::uint64_t dead_bytes_ = 0;
    std::uint64_t hint_bytes_ = 0;
    std::uint64_t hint_covered_bytes_ = 0;  // how much of the log the hint file on disk covers; 0: no hint
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    std::uint64_t compactions_ = 0;
    std::uint64_t compaction_failures_ = 0;
    std::string last_compaction_error_;
    std::uint64_t compaction_retry_end_ = 0;  // automatic compaction waits until the data file ends past this
    counter_type directory_syncs_;            // bumped outside the lock stats() reads under
    // Bytes the store wrote beside its writer's, since open; bumped outside the lock stats() reads under.
    std::atomic<std::uint64_t> bytes_written_{0};
    std::vector<damaged_record> salvaged_;
    sticky_failure failure_;
    counter_type puts_;
    mutable counter_type gets_;
    counter_type erases_;
    counter_type batches_;
};

}  // namespace kvforge::detail
