#pragma once
/// \file engine_lifetime.hpp
/// Members of log_backend (engine.hpp): the store's open() and close(): the directory
/// taken, the segments recovered and installed, and, at the end, the writer's last bytes
/// and the hints written out and everything released.
///
/// Open. The directory is opened and locked (segment_files.hpp), the MANIFEST checked
/// (store_composition.hpp), and recovery (recovery.hpp) finds the segments and rebuilds
/// the index; what it returns is installed before the store counts as open, so no reader
/// sees it meanwhile. A salvaged log is rewritten, and the MANIFEST and the list of
/// segments written, before then too, so that a failure leaves the store closed and its
/// lock released. A store opened read-only changes no file.
///
/// Close. The compaction jobs due run to their end first. Readers check that the store
/// is open under the shared lock, so close() marks it closed under the exclusive lock
/// before it lets the writer go; writers waiting for their sync, callers of
/// wait_durable and backups, which hold no lock, are counted (active_calls.hpp) and
/// close() waits for them.

#include <atomic>
#include <cerrno>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/function_ref.hpp"
#include "../../detail/store_directory.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "engine.hpp"
#include "recovery.hpp"

namespace kvforge::detail {

/// Opens or creates the store in directory path, as opts says (create_if_missing,
/// error_if_exists, read_only, salvage), for the store<> whose composition is wanted.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::open(std::string_view path, const kvforge::options& opts, io_type io,
                                         const composition& wanted, std::error_code& ec) {
    const gate_lock gate(write_gate_);
    if (open_) {
        // EBUSY in the system category, as docs/guide.md says of system errors.
        fail(ec, std::error_code(EBUSY, std::system_category()),
             "this store object is already open on " + files_.directory().path() + "; close it first");
        return;
    }
    if (!accepts_options(opts, ec)) return;
    io_ = std::move(io);
    options_ = opts;
    composition_ = wanted;
    reset_state();
    directory_mode mode;
    mode.create = opts.create_if_missing && !opts.read_only;
    mode.require_store = !mode.create;
    mode.refuse_store = opts.error_if_exists;
    mode.reader = opts.read_only;
    if (!files_.open(io_, path, mode, wanted.codec_fingerprint, layers_fingerprint(wanted.expiry, wanted.compression),
                     ec)) {
        return;
    }
    // A salvaged log is rewritten, and the manifest written, before the store counts as
    // open, so that a failure leaves it closed and its lock released.
    const auto salvage_rewrite = [&] { return options_.salvage && !options_.read_only && !salvaged_.empty(); };
    composition on_disk;
    bool has_manifest = false;
    // What recovery found; when the open fails, its segments are closed after the
    // directory, as the rest of the state is.
    recovered_log<io_type> recovered;
    if (!manifest_.check(on_disk, has_manifest, ec) || !recover(recovered, ec) ||
        (salvage_rewrite() && !compact_all(ec)) ||
        (!options_.read_only && (!manifest_.record(files_, on_disk, has_manifest, ec) || !files_.write_list(ec)))) {
        files_.close();
        reset_state();
        return;
    }
    open_ = true;
    resume_compaction();
}

/// Writes everything out, syncs it, writes the active segment's hint and releases the
/// store (a read-only store only releases it). The store is closed afterwards even when
/// this reports an error. A writable store that closed its files without an error calls
/// before_release() then, after the last change to its data files and while it still
/// holds the directory's lock: where a layer above writes a file that must describe the
/// data files as they are left (the expiry layer's deadlines file).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::close(std::error_code& ec, function_ref<void()> before_release) {
    // Before the gate, which the compaction thread takes. The work requested so far runs
    // to its end rather than being dropped, so that the files are left near
    // compact_dead_ratio: it is bounded, since writers slowed down at the stall ceiling
    // keep dead bytes near compaction_stall_ratio times the live bytes, each job must
    // reclaim dead bytes for another to follow, and no job starts once compaction is no
    // longer due.
    const auto whole = lock_whole();  // after a compact() under way
    finish_compaction_thread();
    const gate_lock gate(write_gate_);
    if (!open_) return;
    sort_before_close();
    abort_job();
    discard_spare();
    // After a failed write or sync, whatever was not yet on disk is lost: report it.
    if (!options_.read_only && !failure_.check(ec) && !writer_->failed(ec)) {
        call_writer(&writer_type::close, ec);
        if (!ec) {
            try {
                hints_.write_pending_now();
                hints_.write_active(*active_, writer_->end());
            } catch (const std::bad_alloc&) {
                // A hint only speeds up the next open, so failing to write one is no error.
            }
            // Nor is failing to list the newest segments: the list on disk names none
            // that is not in place, and the next writable open writes it again.
            std::error_code unlisted;
            files_.write_list(unlisted);
            before_release();
        }
    }
    {
        const write_lock lock(mutex_);
        open_ = false;
    }
    active_calls_.wait_idle();
    writer_.reset();
    hints_.clear();
    active_.reset();
    segments_.clear();
    reset_rollover();
    files_.close();
}

/// Opens the segments and rebuilds the index (recovery.hpp), then installs what was
/// found: the store is not open yet, so no reader sees it meanwhile.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::recover(recovered_log<io_type>& recovered, std::error_code& ec) {
    std::uint64_t live_bytes = 0;
    std::uint64_t dead_bytes = 0;
    if (!read_files(table_, recovered, live_bytes, dead_bytes, ec)) return false;
    index_.set_counts(live_bytes, dead_bytes);
    refreshed_end_ = recovered.active_end;
    segments_ = std::move(recovered.segments);
    if (!options_.read_only) {
        // Written at the end of the open, when it differs from the list on disk.
        std::vector<listed_segment> found;
        found.reserve(segments_.size());
        for (const segment_pointer& in : segments_.by_id()) found.push_back({in->id, in->file_id});
        files_.adopt_segments(std::move(found), recovered.listed);
    }
    active_ = std::move(recovered.active);
    writer_.emplace();
    writer_->attach(active_->file, recovered.active_end);
    hints_.adopt_active(*active_, std::move(recovered.active_hint));
    writes_.follow_key_order_from(std::move(recovered.active_order));
    reset_rollover(!options_.read_only);
    next_id_.store(recovered.next_id, std::memory_order_relaxed);
    recovered_records_ = recovered.records;
    recovered_bytes_cut_ = recovered.bytes_cut;
    salvaged_ = std::move(recovered.salvaged);
    // A writable salvaging open repairs what it found (the salvaged log is rewritten, a
    // lost segment's hint removed); a read-only one changes nothing, so verify() lists it.
    if (options_.read_only) file_damage_ = std::move(recovered.file_damage);
    return true;
}

/// Runs recovery into table and recovered; live_bytes and dead_bytes get what the
/// records it indexed add up to. A reader may meet a writer's change under way: a
/// segment it listed retired by a compaction before it opened it, a hint published
/// before its segment. It tries again while the files change between its tries; damage
/// stays as it is, and fails it.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::read_files(table_type& table, recovered_log<io_type>& recovered,
                                               std::uint64_t& live_bytes, std::uint64_t& dead_bytes,
                                               std::error_code& ec) {
    recovery_files<segment_files<io_type, counter_type>, hint_keeper_type> made{.files = files_, .hints = hints_};
    std::vector<std::pair<std::string, std::uint64_t>> before;
    std::vector<std::pair<std::string, std::uint64_t>> after;
    for (int tries = 1;; ++tries) {
        if (options_.read_only && !files_.directory().list_sizes(before, ec)) return false;
        log_recovery recovery(io_, files_.directory(), options_, composition_, table, reader_, made, recovered);
        if (recovery.recover(ec)) {
            live_bytes = recovery.index().live_bytes();
            dead_bytes = recovery.index().dead_bytes();
            return true;
        }
        std::error_code listing;
        if (!options_.read_only || tries == reader_open_tries || !files_.directory().list_sizes(after, listing) ||
            after == before) {
            return false;
        }
        ec.clear();
        recovered = recovered_log<io_type>{};
        table.clear();
    }
}

/// Back to the state of a closed store: no segment, writer or index.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_state() {
    writer_.reset();
    hints_.clear();
    active_.reset();
    segments_.clear();
    reset_rollover();
    table_.clear();
    next_id_.store(1, std::memory_order_relaxed);
    index_.set_counts(0, 0);
    recovered_records_ = 0;
    recovered_bytes_cut_ = 0;
    reset_compaction();
    salvaged_.clear();
    file_damage_.clear();
    failure_.reset();
}

}  // namespace kvforge::detail
