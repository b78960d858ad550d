#pragma once
/// \file engine_refresh.hpp
/// Members of log_backend (engine.hpp): refresh(), which catches a read-only store up
/// with the writer that holds the store in another process or object.
///
/// A reader sees the files as the writer published them: segments renamed into place,
/// records written to them. Since the reader's open (or its last refresh) the writer
/// may have appended records to the segment the reader read last, published segments
/// (a rollover's, a clear()'s, a compaction's outputs) and retired some the reader
/// holds (a compaction's inputs). refresh() applies exactly that, under the exclusive
/// lock, at a cost that grows with the segments published and retired, not with the
/// store:
///
///   1. A published segment that replays before the reader's newest one is a
///      compaction's output, every record of which copies one the reader has read. Its
///      record replaces the key's index entry where that entry replays before it (the
///      entry of a retired input, or of an input not yet retired, moves to its copy); a
///      key with no entry was erased by a record the reader read after the copy's source,
///      so the copy is dead. The output's hint lists its records without their values.
///   2. The reader's newest segment, unless retired, is read on from where it stopped.
///   3. The segments published after it replay after everything the reader holds: their
///      records are read in replay order, as recovery reads them.
///   4. An index entry still in a retired segment names a record that no published one
///      copied: the writer replaced or erased it, and compacted that away too. It goes.
///
/// A published segment of any other kind (a writer's segment among older ones, another
/// format version) means a rewrite this does not follow: the store is read anew then, as
/// an open reads it, and swapped in. So is a change that retired more than half of the
/// store (a whole compact(), a clear()): its hints read anew cost no more than that
/// change. A record is taken whole or not at all (its checksum, and a batch's, says so);
/// a record not yet wholly written ends the read there, as a torn tail ends a read-only
/// open's, and is read by the next refresh. The retired segments stay readable to those
/// who hold them (a snapshot, a pinned value) through their open descriptors and
/// mappings. A reader changes no file.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/refreshed_keys.hpp"
#include "../../detail/store_files.hpp"
#include "../../error.hpp"
#include "engine.hpp"
#include "hint.hpp"
#include "hint_checks.hpp"
#include "log_scan.hpp"
#include "recovery.hpp"

namespace kvforge::detail {

/// Applies what the writer made durable since the open or the last refresh; returns how
/// many records (puts, erases, clears, and entries of retired segments dropped) it
/// applied, or, after a rewrite it does not follow, read anew.
template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::refresh(std::error_code& ec, refreshed_keys* keys) {
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
    segment_changes changes;
    if (!changed_segments(listed, changes)) {
        if (keys != nullptr) keys->add_everything();
        return reload(ec);
    }

    refresh_progress progress{.keys = keys};
    const write_lock lock(mutex_);
    for (segment_pointer& copies : changes.before_newest) {
        add_published(copies);
        if (!apply_copies(copies, progress, ec)) return progress.applied;
    }
    const std::uint64_t newest_read_end = refreshed_end_;
    segment_type* reading = changes.retires_newest ? nullptr : active_.get();
    if (reading != nullptr && !read_appended(*reading, refreshed_end_, progress, ec)) return progress.applied;
    for (segment_pointer& next : changes.after_newest) {
        // The one before is closed now: whole, as the writer published the next one after it.
        if (reading != nullptr) reader_.map_final(*reading, refreshed_end_);
        add_published(next);
        reading = next.get();
        if (!read_appended(*reading, reading->records_start(), progress, ec)) return progress.applied;
    }
    const segment_pointer newest = changes.after_newest.empty() ? active_ : changes.after_newest.back();
    for (const segment_pointer& gone : changes.retired) {
        if (!drop_retired(*gone, gone == active_ ? newest_read_end : gone->size, progress, ec)) return progress.applied;
    }
    active_ = newest;
    writer_->attach(active_->file, refreshed_end_);
    reader_.cover(*active_, refreshed_end_);
    if (progress.applied != 0) version_.bump();
    return progress.applied;
}

/// Sorts what changed since the reader last looked, given the data files listed now
/// (ids, ascending), into changes: the segments it holds that are gone, and the new
/// ones, opened, on either side of its newest in replay order. False when a change is
/// not one refresh() follows or is cheaper read anew (see the file's comment), or a new
/// segment cannot be opened (it went again, or is damaged): reload() then reads the
/// store anew, and says what is wrong, if anything.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::changed_segments(const std::vector<std::uint32_t>& listed,
                                                     segment_changes& changes) {
    std::uint64_t held_bytes = 0;
    std::uint64_t retired_bytes = 0;
    for (const segment_pointer& held : segments_.by_id()) {
        held_bytes += held->size;
        if (std::binary_search(listed.begin(), listed.end(), held->id)) continue;
        changes.retired.push_back(held);
        changes.retires_newest = changes.retires_newest || held == active_;
        retired_bytes += held->size;
    }
    // A change that rewrote most of the store is read anew: from the hints, as an open
    // reads it, which costs no more than following the change.
    if (retired_bytes > held_bytes / 2) return false;
    recovery_files<segment_files<io_type, counter_type>, hint_keeper_type> made{.files = files_, .hints = hints_};
    recovered_log<io_type> unused;
    log_recovery recovery(io_, files_.directory(), options_, composition_, table_, reader_, made, unused);
    for (const std::uint32_t id : listed) {
        if (segments_.find(id) != nullptr) continue;
        segment_pointer next;
        std::error_code ignored;
        if (!recovery.open_published(id, next, ignored) || next->version != format_version) return false;
        if (next->replays_before(*active_)) {
            if (next->writer_made()) return false;  // a compaction's outputs are the only ones older
            changes.before_newest.push_back(std::move(next));
        } else {
            changes.after_newest.push_back(std::move(next));
        }
    }
    sort_segments(changes.before_newest, &segment_type::in_replay_order);
    sort_segments(changes.after_newest, &segment_type::in_replay_order);
    // The newest segment is the writer's, appended to; a retired one was closed by a rollover.
    if (!changes.after_newest.empty()) return changes.after_newest.back()->writer_made();
    return !changes.retires_newest;
}

/// Makes a published segment one of the reader's (the exclusive lock held).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::add_published(const segment_pointer& published) {
    segments_.add(published);
    index_.add_segment(*published);
}

/// Step 1 of refresh() for a compaction's output `copies`, which replays before the
/// reader's newest segment: each record goes into the index where the key's entry
/// replays before it; the others are dead in it. The output's hint lists the records
/// without their values, so they are read from it when the writer wrote one.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::apply_copies(const segment_pointer& copies, refresh_progress& progress,
                                                 std::error_code& ec) {
    segment_type& in = *copies;
    const auto replaces_entry = [&](std::string_view key) {
        const auto payload = table_.find(key);
        if (!payload) return false;
        const segment_type* const holder = segments_.find(record_location::decode(*payload).segment);
        return holder == nullptr || (holder != &in && holder->replays_before(in));
    };
    // put() puts the copy into the index.
    const auto copy = [&](record_type type, std::string_view key, std::uint64_t record_size, const auto& put) {
        if (type == record_type::clear || !replaces_entry(key)) {
            index_.add_dead(in, record_size);
        } else {
            if (type == record_type::put) put();
            if (type == record_type::erase) index_.erase(key, record_size, in);
            progress.changed(key);
        }
    };
    std::uint64_t scan_from = in.records_start();
    hint_checks<io_type> hints(io_, files_.directory(), std::span(&copies, 1),
                               [&](const segment_type& listed) { return hints_.identity(listed); });
    const mapped_hint<io_type> hint = hints.take(0);
    if (hint.check.passed()) {
        read_checked_hint(hint.bytes(), hints_.identity(in), hint.check, [&](const hint_entry& entry) {
            index_.add_dead(in, entry.gap);  // the records it leaves out: batch headers
            copy(entry.type, entry.key, entry.record_size(), [&] {
                index_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            });
        });
        scan_from = hint.check.covered;
        in.hint_bytes = hint.bytes().size();  // for stats().disk_bytes
        in.hint_covered = hint.check.covered;
    }
    log_scan_result scanned;
    const bool scanned_ok = scan_log(
        in.file, scan_from, std::max(in.size, scan_from), in.version, false,
        [&](const log_entry& entry) { copy(entry.type, entry.key, entry.size, [&] { index_.replay(entry, in); }); },
        scanned, ec);
    index_.add_dead(in, scanned.overhead_bytes);
    reader_.map_final(in, in.size);
    return scanned_ok;
}

/// Step 4 of refresh() for retired segment `gone`, read up to end: drops the index
/// entries that still name its records, then the segment (the exclusive lock held).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::drop_retired(segment_type& gone, std::uint64_t end, refresh_progress& progress,
                                                 std::error_code& ec) {
    // Its dead bytes count every record no entry names: when they are all of it (the
    // usual case once the copies have taken the entries), there is nothing to look for.
    const std::uint64_t record_bytes = end > gone.records_start() ? end - gone.records_start() : 0;
    if (gone.dead_bytes < record_bytes) {
        log_scan_result scanned;
        const bool scanned_ok = scan_log(
            gone.file, gone.records_start(), gone.records_start() + record_bytes, gone.version, false,
            [&](const log_entry& entry) {
                if (entry.type != record_type::put) return;
                const auto payload = table_.find(entry.key);
                if (!payload) return;
                const record_location where = record_location::decode(*payload);
                if (where.segment != gone.id || where.offset != entry.offset) return;
                table_.erase(entry.key, [&](std::string_view old) { index_.retire(entry.key, old); });
                progress.changed(entry.key);
            },
            scanned, ec);
        if (!scanned_ok) return false;
    }
    index_.remove_segment(gone);
    segments_.remove(gone.id);
    return true;
}

/// Reads segment `in`'s records from `from` to the end of what the file holds now into
/// the index (the exclusive lock held), adding them to progress; refreshed_end_ becomes
/// where its intact records end. Damage before the end fails the refresh.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::read_appended(segment_type& in, std::uint64_t from, refresh_progress& progress,
                                                  std::error_code& ec) {
    std::uint64_t size = 0;
    if (!in.file.size(size, ec)) return false;
    log_scan_result scanned;
    const bool scanned_ok = scan_log(
        in.file, from, std::max(size, from), in.version, false,
        [&](const log_entry& entry) {
            index_.replay(entry, in);
            if (entry.type == record_type::clear) {
                progress.cleared();
            } else {
                progress.changed(entry.key);
            }
        },
        scanned, ec);
    index_.add_dead(in, scanned.overhead_bytes);
    refreshed_end_ = scanned.valid_end;
    in.size = std::max(in.size, scanned.valid_end);
    return scanned_ok;
}

/// Reads the store anew, as an open does, into an index and segments of their own, and
/// swaps them in under the exclusive lock (readers go on meanwhile): after a rewrite
/// refresh() does not follow, such as a new writer's open. Returns the records read.
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
