#pragma once
/// \file engine_cuts.hpp
/// Members of log_backend (engine.hpp): the store taken as it is at a cut: backup()'s
/// copy of its files (backup.hpp), snapshot()'s read-only view (snapshot.hpp), and the
/// thread_safe for_each, which walks a snapshot of its own.
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

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "active_calls.hpp"
#include "backup.hpp"
#include "engine.hpp"
#include "snapshot.hpp"

namespace kvforge::detail {

/// Copies the store as it is at the call into directory dest, which must be missing (it
/// is created; its parent must exist) or empty: every write that returned before the
/// call is in the copy (buffered writes are flushed at the cut, taken under the gate),
/// and writes that start after it are not. The copy, with no lock held while writers go
/// on, and its check are backup.hpp's; no segment is retired meanwhile. how says whether
/// closed segments are copied or linked.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::backup(std::string_view dest, const backup_options& how, std::error_code& ec) {
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
    const bool copied = backup_.copy(cut, target, how, ec);
    cut.segments.clear();
    cut.active.reset();
    backups_.leave();
    if (copied) backup_.template verify<log_backend>(cut, target, ec);
}

/// A read-only view of the store as it is at the call (snapshot.hpp): the cut is
/// backup's (every write that returned before the call is in the files), then the index
/// is copied and the segments held, under the gate and the read lock; reads of the view
/// take no lock of the store.
/// It is const: it changes nothing a reader sees (the buffered records it hands to the OS
/// were readable before), so for_each, which is const, takes one.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::snapshot(std::error_code& ec) const -> log_snapshot<io_type, table_type> {
    const gate_lock gate(write_gate_);
    backup_cut<io_type> cut;
    if (!take_backup_cut(cut, ec)) return {};
    // The gate already keeps writers and compaction out; the read lock makes the copy
    // safe against whatever changes the index or a mapping under the exclusive lock alone.
    const read_lock lock(mutex_);
    return {table_, cut.segments,
            [&](const segment_type& in) { return &in == cut.active.get() ? cut.active_end : in.size; }};
}

/// Calls visitor(key, value) for every record. A thread_safe store walks a snapshot of
/// its own, taken at the call, so that writers go on for the walk's duration and the
/// visitor may call the store; it sees the records as of the call. A single_thread store
/// has no other thread to hold up, so it walks its own index without the cost of a copy.
template <class Policies, bool Mapped>
template <class Visitor>
void log_backend<Policies, Mapped>::for_each(Visitor&& visitor, std::error_code& ec) const {
    if constexpr (threading::concurrent) {
        std::error_code refused;
        const log_snapshot<io_type, table_type> view = snapshot(refused);
        if (!refused) {
            view.for_each(visitor, ec);
            return;
        }
        // A store whose writes failed takes no snapshot (its writer may still hold records
        // the files lack), but its records stay readable under the lock.
        if (!readable(ec)) return;
        if (std::error_code write_failure; writable(write_failure)) {
            ec = refused;
            return;
        }
    }
    reads_.for_each(visitor, ec);
}

/// Takes a backup's cut, with write_gate_ held: flushes what the writer holds and notes
/// the segments and where the active one ends.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const {
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
    cut.live_bytes = index_.live_bytes();
    return true;
}

}  // namespace kvforge::detail
