#pragma once
/// \file engine_refresh.hpp
/// Members of log_backend (engine.hpp): refresh(), which catches a read-only store up
/// with the writer that holds the store in another process or object.
///
/// A reader sees the files as the writer published them: segments renamed into place,
/// records written to them. What the writer did since the reader's open (or its last
/// refresh) is one of two kinds:
///
///   - it appended: records after where the reader's newest segment ended, and segments
///     a rollover published after it (or a clear(), whose segment starts with its clear
///     record). These are read from where the reader stopped, in order, into the index:
///     the cost is that of what is new. A record not yet wholly written ends the read
///     there, as a torn tail ends a read-only open's: it is read by the next refresh.
///   - it rewrote: a compaction published segments that replay before the newest and
///     retired the ones it copied, a clear() or a new writer's open removed some. The
///     reader's index names records by segment and offset, so it is rebuilt from the
///     files as an open builds it (from the hints, then each segment's records after
///     what its hint covers), and swapped in under the exclusive lock.
///
/// Either way a record is taken whole or not at all (its checksum, and a batch's, says
/// so), and the retired segments stay readable to those who hold them (a snapshot, a
/// pinned value) through their open descriptors and mappings. A reader changes no file.

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "engine.hpp"
#include "log_scan.hpp"
#include "recovery.hpp"

namespace kvforge::detail {

/// Applies what the writer made durable since the open or the last refresh; returns how
/// many records (puts, erases, clears) it applied, or, after a rewrite, read anew.
template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::refresh(std::error_code& ec) {
    const gate_lock gate(write_gate_);
    if (!readable(ec)) return 0;
    if (!options_.read_only) {
        fail(ec, errc::invalid_argument,
             files_.directory().path() +
                 " is open for writing: refresh() catches a read-only store (options::read_only) up with the "
                 "writer beside it, and a writable store sees its own writes already");
        return 0;
    }
    // Listed before the newest segment is read on: a segment published after it means the
    // writer finished writing the newest one before.
    std::vector<store_file_name> names;
    if (!files_.directory().list(names, ec)) return 0;
    std::vector<std::uint32_t> listed;
    for (const store_file_name& name : names) {
        if (name.kind() == store_file_kind::data && !name.is_temporary()) listed.push_back(name.generation());
    }
    std::sort(listed.begin(), listed.end());
    std::vector<segment_pointer> appended;
    if (!appended_segments(listed, appended)) return reload(ec);
    std::uint64_t applied = 0;
    const write_lock lock(mutex_);
    if (!read_appended(*active_, refreshed_end_, applied, ec)) return applied;
    for (segment_pointer& next : appended) {
        // The one before is closed now: whole, as the writer published the next one after it.
        reader_.map_final(*active_, refreshed_end_);
        segments_.add(next);
        index_.add_segment(*next);
        active_ = std::move(next);
        if (!read_appended(*active_, active_->records_start(), applied, ec)) return applied;
    }
    writer_->attach(active_->file, refreshed_end_);
    reader_.cover(*active_, refreshed_end_);
    if (applied != 0) version_.bump();
    return applied;
}

/// Whether the writer only appended since the reader last looked, given the data files
/// listed now (ids, ascending): every segment the reader holds is still there, and every
/// other one is newer than its newest and was made by a rollover or clear() (a
/// compaction's output replays among older ones). appended gets those, opened, in order.
/// False otherwise, or when one cannot be opened (it went again, or is damaged): reload()
/// then reads the store anew, and says what is wrong, if anything.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::appended_segments(const std::vector<std::uint32_t>& listed,
                                                      std::vector<segment_pointer>& appended) {
    for (const segment_pointer& held : segments_.by_id()) {
        if (!std::binary_search(listed.begin(), listed.end(), held->id)) return false;
    }
    recovery_files<segment_files<io_type, counter_type>, hint_keeper_type> made{.files = files_, .hints = hints_};
    recovered_log<io_type> unused;
    log_recovery recovery(io_, files_.directory(), options_, composition_, table_, reader_, made, unused);
    for (const std::uint32_t id : listed) {
        if (segments_.find(id) != nullptr) continue;
        segment_pointer next;
        std::error_code ignored;
        if (id < active_->id || !recovery.open_published(id, next, ignored) || !next->writer_made()) return false;
        appended.push_back(std::move(next));
    }
    return true;
}

/// Reads segment `in`'s records from `from` to the end of what the file holds now into
/// the index (the exclusive lock held), adding them to applied; refreshed_end_ becomes
/// where its intact records end. Damage before the end fails the refresh.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::read_appended(segment_type& in, std::uint64_t from, std::uint64_t& applied,
                                                  std::error_code& ec) {
    std::uint64_t size = 0;
    if (!in.file.size(size, ec)) return false;
    log_scan_result scanned;
    const bool scanned_ok = scan_log(
        in.file, from, std::max(size, from), in.version, false,
        [&](const log_entry& entry) { index_.replay(entry, in); },
        scanned, ec);
    applied += scanned.records;
    index_.add_dead(in, scanned.overhead_bytes);
    refreshed_end_ = scanned.valid_end;
    in.size = std::max(in.size, scanned.valid_end);
    return scanned_ok;
}

/// Reads the store anew, as an open does, into an index and segments of their own, and
/// swaps them in under the exclusive lock (readers go on meanwhile): after a compaction,
/// a clear() or a new writer's open. Returns the records read.
template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::reload(std::error_code& ec) {
    recovered_log<io_type> recovered;
    table_type table;
    std::uint64_t live_bytes = 0;
    std::uint64_t dead_bytes = 0;
    if (!read_files(table, recovered, live_bytes, dead_bytes, ec)) return 0;
    // Let go of after the lock: the retired segments' mappings and descriptors.
    segment_set<io_type> retired;
    const write_lock lock(mutex_);
    table_ = std::move(table);
    retired = std::exchange(segments_, std::move(recovered.segments));
    active_ = std::move(recovered.active);
    refreshed_end_ = recovered.active_end;
    writer_->attach(active_->file, refreshed_end_);
    index_.set_counts(live_bytes, dead_bytes);
    version_.bump();
    return recovered.records;
}

}  // namespace kvforge::detail
