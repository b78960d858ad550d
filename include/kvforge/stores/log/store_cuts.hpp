#pragma once
/// \file store_cuts.hpp
/// A log store taken as it is at a cut: backup()'s copy of its files (backup.hpp),
/// snapshot()'s read-only view (snapshot.hpp), and the thread_safe for_each, which
/// walks a snapshot of its own.
///
/// The cut is taken under write_gate_: the writer's buffered records are flushed to the
/// files, then the segments are held and the active one's end noted, so every write that
/// returned before the call is in the files up to the cut, and writes that start after
/// it are not. A backup then copies with no lock held while writers go on, counted
/// (active_calls.hpp) so that close() waits for it, and no segment is retired meanwhile
/// (backups_running.hpp). A snapshot copies the index under the read lock as well;
/// compaction and clear() retire segments as ever, since a retired segment stays
/// readable through the snapshot's hold on it. With thread_safe, for_each walks a
/// snapshot of its own, so it holds no lock while its visitor runs; taking one waits, as
/// a writer does, for a compact() or clear() under way.
/// It works on the engine's gate, locks, writer, segments and index, which it reaches
/// through the engine it is part of, and owns the backup's copier.

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "active_calls.hpp"
#include "backup.hpp"
#include "log_types.hpp"
#include "snapshot.hpp"

namespace kvforge::detail {

/// The cuts part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class store_cuts {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using table_type = typename types::table_type;
    using threading = typename types::threading;
    using writer_type = typename types::writer_type;
    using read_lock = typename types::read_lock;
    using gate_lock = typename types::gate_lock;
    using segment_type = typename types::segment_type;

public:
    /// Refers to the engine's I/O policy, directory and composition, made before it.
    explicit store_cuts(Engine& engine) noexcept
        : engine_(engine), backup_{engine.io_, engine.files_.directory(), engine.composition_} {}

    /// Copies the store as it is at the call into directory dest, which must be missing
    /// (it is created; its parent must exist) or empty: every write that returned before
    /// the call is in the copy (buffered writes are flushed at the cut, taken under the
    /// gate), and writes that start after it are not. The copy, with no lock held while
    /// writers go on, and its check are backup.hpp's; no segment is retired meanwhile.
    /// how says whether closed segments are copied or linked.
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) {
        backup_cut<io_type> cut;
        std::optional<active_call<threading::concurrent>> call;
        {
            const gate_lock gate(engine_.write_gate_);
            if (!take_backup_cut(cut, ec)) return;
            // Counted while the store is known to be open, so that close() waits for the copy.
            call.emplace(engine_.active_calls_);
            engine_.backups_.enter();
        }
        const std::string target(dest);
        const bool copied = backup_.copy(cut, target, how, ec);
        cut.segments.clear();
        cut.active.reset();
        engine_.backups_.leave();
        if (copied) backup_.template verify<Engine>(cut, target, ec);
    }

    /// A read-only view of the store as it is at the call (snapshot.hpp): the cut is
    /// backup's (every write that returned before the call is in the files), then the
    /// index is copied and the segments held, under the gate and the read lock; reads of
    /// the view take no lock of the store.
    /// It is const: it changes nothing a reader sees (the buffered records it hands to the
    /// OS were readable before), so for_each, which is const, takes one.
    [[nodiscard]] log_snapshot<io_type, table_type> snapshot(std::error_code& ec) const {
        const gate_lock gate(engine_.write_gate_);
        backup_cut<io_type> cut;
        if (!take_backup_cut(cut, ec)) return {};
        // The gate already keeps writers and compaction out; the read lock makes the copy
        // safe against whatever changes the index or a mapping under the exclusive lock alone.
        const read_lock lock(engine_.mutex_);
        return {engine_.table_, cut.segments,
                [&](const segment_type& in) { return &in == cut.active.get() ? cut.active_end : in.size; }};
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
            if (!engine_.readable(ec)) return;
            if (std::error_code write_failure; engine_.writable(write_failure)) {
                ec = refused;
                return;
            }
        }
        engine_.reads_.for_each(visitor, ec);
    }

private:
    /// Takes a backup's cut, with write_gate_ held: flushes what the writer holds and
    /// notes the segments and where the active one ends.
    bool take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const {
        if (!engine_.readable(ec)) return false;
        if (!engine_.options_.read_only) {
            if (!engine_.writable(ec)) return false;
            engine_.call_writer(&writer_type::flush, ec);
            if (ec) return false;
        }
        cut.segments = engine_.segments_.by_id();
        cut.active = engine_.active_;
        cut.active_end = engine_.active_ ? engine_.writer_->end() : 0;
        cut.live_keys = engine_.table_.size();
        cut.live_bytes = engine_.index_.live_bytes();
        return true;
    }

    Engine& engine_;
    log_backup<io_type> backup_;
};

}  // namespace kvforge::detail
