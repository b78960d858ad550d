#pragma once
/// \file store_lifetime.hpp
/// A log store's open() and close(): the directory taken, the segments recovered and
/// installed, and, at the end, the writer's last bytes and the hints written out and
/// everything released.
///
/// Open. The directory is opened and locked (segment_files.hpp), the MANIFEST checked
/// (store_composition.hpp), and recovery (recovery.hpp) finds the segments and rebuilds
/// the index; what it returns is installed before the store counts as open, so no reader
/// sees it meanwhile. A salvaged log is rewritten, and the MANIFEST written, before then
/// too, so that a failure leaves the store closed and its lock released. A store opened
/// read-only changes no file.
///
/// Close. The compaction jobs due run to their end first. Readers check that the store
/// is open under the shared lock, so close() marks it closed under the exclusive lock
/// before it lets the writer go; writers waiting for their sync, callers of
/// wait_durable and backups, which hold no lock, are counted (active_calls.hpp) and
/// close() waits for them.
/// It works on all of the engine's state, which it reaches through the engine it is part
/// of, and owns nothing.

#include <atomic>
#include <cerrno>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../../detail/function_ref.hpp"
#include "../../detail/store_directory.hpp"
#include "../../error.hpp"
#include "../../manifest.hpp"
#include "../../options.hpp"
#include "log_types.hpp"
#include "recovery.hpp"

namespace kvforge::detail {

/// The open and close part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class store_lifetime {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using writer_type = typename types::writer_type;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;

public:
    explicit store_lifetime(Engine& engine) noexcept : engine_(engine) {}

    /// Opens or creates the store in directory path, as opts says (create_if_missing,
    /// error_if_exists, read_only, salvage), for the store<> whose composition is wanted.
    void open(std::string_view path, const kvforge::options& opts, io_type io, const composition& wanted,
              std::error_code& ec) {
        const gate_lock gate(engine_.write_gate_);
        if (engine_.open_) {
            // EBUSY in the system category, as the README says of system errors.
            fail(ec, std::error_code(EBUSY, std::system_category()),
                 "this store object is already open on " + engine_.files_.directory().path() + "; close it first");
            return;
        }
        if (!engine_.rollover_.accepts(opts.segment_bytes, ec)) return;
        engine_.io_ = std::move(io);
        engine_.options_ = opts;
        engine_.composition_ = wanted;
        reset_state();
        directory_mode mode;
        mode.create = opts.create_if_missing && !opts.read_only;
        mode.require_store = !mode.create;
        mode.refuse_store = opts.error_if_exists;
        mode.shared = opts.read_only;
        if (!engine_.files_.open(engine_.io_, path, mode, wanted.codec_fingerprint,
                                 layers_fingerprint(wanted.expiry, wanted.compression), ec)) {
            return;
        }
        // A salvaged log is rewritten, and the manifest written, before the store counts as
        // open, so that a failure leaves it closed and its lock released.
        const auto salvage_rewrite = [&] {
            return engine_.options_.salvage && !engine_.options_.read_only && !engine_.salvaged_.empty();
        };
        composition on_disk;
        bool has_manifest = false;
        // What recovery found; when the open fails, its segments are closed after the
        // directory, as the rest of the state is.
        recovered_log<io_type> recovered;
        if (!engine_.manifest_.check(on_disk, has_manifest, ec) || !recover(recovered, ec) ||
            (salvage_rewrite() && !engine_.compaction_.compact_all(ec)) ||
            (!engine_.options_.read_only && !engine_.manifest_.record(engine_.files_, on_disk, has_manifest, ec))) {
            engine_.files_.close();
            reset_state();
            return;
        }
        engine_.open_ = true;
        engine_.compaction_.resume();
    }

    /// Writes everything out, syncs it, writes the active segment's hint and releases the store
    /// (a read-only store only releases it). The store is closed afterwards even when
    /// this reports an error. A writable store that closed its files without an error
    /// calls before_release() then, after the last change to its data files and while it
    /// still holds the directory's lock: where a layer above writes a file that must
    /// describe the data files as they are left (the expiry layer's deadlines file).
    void close(std::error_code& ec, function_ref<void()> before_release = [] {}) {
        // Before the gate, which the compaction thread takes. The work requested so far
        // runs to its end rather than being dropped, so that the files are left near
        // compact_dead_ratio: it is bounded, since writers slowed down at the stall
        // ceiling keep dead bytes near compaction_stall_ratio times the live bytes, each
        // job must reclaim dead bytes for another to follow, and no job starts once
        // compaction is no longer due.
        const auto whole = engine_.compaction_.lock_whole();  // after a compact() under way
        engine_.compaction_.finish();
        const gate_lock gate(engine_.write_gate_);
        if (!engine_.open_) return;
        engine_.compaction_.sort_before_close();
        engine_.compaction_.abort_job();
        engine_.rollover_.discard_spare();
        // After a failed write or sync, whatever was not yet on disk is lost: report it.
        if (!engine_.options_.read_only && !engine_.failure_.check(ec) && !engine_.writer_->failed(ec)) {
            engine_.call_writer(&writer_type::close, ec);
            if (!ec) {
                try {
                    engine_.hints_.write_pending_now();
                    engine_.hints_.write_active(*engine_.active_, engine_.writer_->end());
                } catch (const std::bad_alloc&) {
                    // A hint only speeds up the next open, so failing to write one is no error.
                }
                before_release();
            }
        }
        {
            const write_lock lock(engine_.mutex_);
            engine_.open_ = false;
        }
        engine_.active_calls_.wait_idle();
        engine_.writer_.reset();
        engine_.hints_.clear();
        engine_.active_.reset();
        engine_.segments_.clear();
        engine_.rollover_.reset();
        engine_.files_.close();
    }

private:
    /// Opens the segments and rebuilds the index (recovery.hpp), then installs what was
    /// found: the store is not open yet, so no reader sees it meanwhile.
    bool recover(recovered_log<io_type>& recovered, std::error_code& ec) {
        log_recovery recovery(engine_.io_, engine_.files_.directory(), engine_.options_, engine_.composition_,
                              engine_.table_, engine_.reader_, engine_, recovered);
        if (!recovery.recover(ec)) return false;
        engine_.segments_ = std::move(recovered.segments);
        engine_.active_ = std::move(recovered.active);
        engine_.writer_.emplace();
        engine_.writer_->attach(engine_.active_->file, recovered.active_end);
        engine_.hints_.adopt_active(*engine_.active_, std::move(recovered.active_hint));
        engine_.rollover_.reset(!engine_.options_.read_only);
        engine_.next_id_.store(recovered.next_id, std::memory_order_relaxed);
        engine_.index_.set_counts(recovery.index().live_bytes(), recovery.index().dead_bytes());
        engine_.recovered_records_ = recovered.records;
        engine_.recovered_bytes_cut_ = recovered.bytes_cut;
        engine_.salvaged_ = std::move(recovered.salvaged);
        // A writable salvaging open repairs what it found (the salvaged log is rewritten,
        // a lost segment's hint removed); a read-only one changes nothing, so verify() lists it.
        if (engine_.options_.read_only) engine_.file_damage_ = std::move(recovered.file_damage);
        return true;
    }

    /// Back to the state of a closed store: no segment, writer or index.
    void reset_state() {
        engine_.writer_.reset();
        engine_.hints_.clear();
        engine_.active_.reset();
        engine_.segments_.clear();
        engine_.rollover_.reset();
        engine_.table_.clear();
        engine_.next_id_.store(1, std::memory_order_relaxed);
        engine_.index_.set_counts(0, 0);
        engine_.recovered_records_ = 0;
        engine_.recovered_bytes_cut_ = 0;
        engine_.compaction_.reset();
        engine_.salvaged_.clear();
        engine_.file_damage_.clear();
        engine_.failure_.reset();
    }

    Engine& engine_;
};

}  // namespace kvforge::detail
