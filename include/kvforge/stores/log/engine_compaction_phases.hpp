#pragma once
/// \file engine_compaction_phases.hpp
/// The phases of one compaction job (compaction_job.hpp): the scan of its inputs, the
/// copy of the records it keeps into its outputs, their publishing, the move of index
/// entries to the copies, and the retiring of the inputs and removal of their files.
/// Members of log_backend (engine.hpp), whose compaction (engine_compaction.hpp) runs them a step at a
/// time or on the compaction thread; each says what lock it takes.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "hint.hpp"
#include "log_scan.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"
#include "engine.hpp"

namespace kvforge::detail {

/// The scan phase: notes the live puts and needed erases of the inputs' records,
/// reading about budget bytes (at least one record), and sorts them (a sorted store's),
/// a run of their own (a step sorts only what it read). The inputs are closed, so it
/// reads them with no lock; each look-up in the index takes the shared lock (the
/// compaction thread runs with no gate held). Where the index pipelines look-ups, each
/// put is noted as it is read and checked with others later (check_puts).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    const segment_type& in = *job.inputs[job.scanning];
    const bool keep_erases = job.keep_erases[job.scanning];
    const std::uint64_t begin = job.scan_offset;
    const std::size_t run_begin = job.notes.size();
    std::size_t unchecked = run_begin;  // the first note check_puts has not seen
    std::size_t unchecked_puts = 0;
    const auto check_unchecked = [&] {
        check_puts(job, unchecked);
        unchecked = job.notes.size();
        unchecked_puts = 0;
    };
    log_scan_result scanned;
    // A record may end past the budget: the scan then reads on until it ends.
    for (std::uint64_t span = budget;; span *= 2) {
        const std::uint64_t end = in.size - begin > span ? begin + span : in.size;
        const bool scanned_ok = scan_log(
            in.file, begin, end, in.version, true,
            [&](const log_entry& entry) {
                // After a walk, which noted the puts, only erases are wanted.
                if (job.walks_index && entry.type != record_type::erase) return;
                if (job.sorting && !job.walks_index) job.input_order.next(entry.key);
                if constexpr (pipelined_lookups) {
                    if (entry.type == record_type::put) {
                        job.add_note(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), 0, 0}, false);
                        if (++unchecked_puts == puts_checked_at_once) check_unchecked();
                        return;
                    }
                }
                const read_lock lock(mutex_);
                if (entry.type == record_type::put) {
                    const auto payload = table_.find(entry.key);
                    if (!payload) return;
                    const record_location where = record_location::decode(*payload);
                    if (where.segment != in.id || where.offset != entry.offset) return;
                    job.add_note(entry.key, where, false);
                } else if (entry.type == record_type::erase && keep_erases && !table_.find(entry.key)) {
                    job.add_note(entry.key, {}, true);
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        if (unchecked_puts != 0) check_unchecked();
        for (const damaged_record& damage : scanned.damage) {
            if (!drop_damage(job, damage.offset, end, ec)) return false;
        }
        if (!scanned.torn_tail || scanned.valid_end > begin) break;
        if (end == in.size) {
            fail(ec, errc::corrupt_record,
                 in.file.path() + ": incomplete record at the end of a closed segment, at offset " +
                     std::to_string(scanned.valid_end) + "; open with options::salvage to keep the intact records");
            return false;
        }
        scanned = {};
    }
    const std::uint64_t read = scanned.valid_end - begin;
    budget -= std::min(budget, read);
    if constexpr (ordered_index) {
        const auto run_start = job.notes.begin() + static_cast<std::ptrdiff_t>(run_begin);
        std::sort(run_start, job.notes.end(),
                  [&job](const auto& a, const auto& b) { return job.key_of(a) < job.key_of(b); });
        if (run_begin < job.notes.size()) job.runs.push_back({run_begin, job.notes.size()});
    }
    job.scan_offset = scanned.valid_end;
    if (job.scan_offset < in.size) return true;
    if (++job.scanning < job.inputs.size()) {
        job.scan_offset = job.inputs[job.scanning]->records_start();
        return true;
    }
    end_scan(job);
    return true;
}

/// Looks up the keys of the puts noted from `from` on (the erases among them were checked
/// as they were noted) in one pipeline, with the shared lock held once, and drops the
/// notes of those whose index entry does not point at the record noted (a newer one
/// replaced it, or an erase): the others take the entry's place, as a look-up per put
/// would have noted them.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::check_puts(job_type& job, std::size_t from) {
    if constexpr (pipelined_lookups) {
        std::array<std::string_view, puts_checked_at_once> keys;
        std::array<std::size_t, puts_checked_at_once> noted;  // the note of each key
        std::size_t count = 0;
        for (std::size_t i = from; i < job.notes.size(); ++i) {
            if (job.notes[i].erase) continue;
            keys[count] = job.key_of(job.notes[i]);
            noted[count++] = i;
        }
        std::array<bool, puts_checked_at_once> live{};
        {
            const read_lock lock(mutex_);
            table_.find_many(std::span<const std::string_view>(keys.data(), count),
                             [&](std::size_t i, std::optional<std::string_view> payload) {
                                 if (!payload) return;
                                 auto& n = job.notes[noted[i]];
                                 const record_location where = record_location::decode(*payload);
                                 if (where.segment != n.from.segment || where.offset != n.from.offset) return;
                                 n.from = where;
                                 live[i] = true;
                             });
        }
        std::size_t next = 0;
        job.keep_notes_from(from, [&](std::size_t i) { return job.notes[i].erase || live[next++]; });
    } else {
        static_cast<void>(job);
        static_cast<void>(from);
    }
}

/// After the scan passed over a damaged record at offset bad of the input it is in
/// (scan_log with skip_damage, over bytes up to end): counts the bytes up to the next
/// intact record as dropped, when no index entry points into them (walking the whole
/// index, with the shared lock held: damage is rare) and the input's erases need not be
/// kept. Otherwise fails with errc::corrupt_record, as a scan that met the damage did
/// before: the record may be a key's newest, or an erase that hides an older put.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::drop_damage(job_type& job, std::uint64_t bad, std::uint64_t end,
                                                       std::error_code& ec) {
    const segment_type& in = *job.inputs[job.scanning];
    std::uint64_t next = end;
    if (!find_intact_record_after(in.file, bad, end, in.version, next, ec)) return false;
    bool live = false;
    if (!job.keep_erases[job.scanning]) {
        const read_lock lock(mutex_);
        table_.for_each([&](std::string_view, std::string_view payload) {
            const record_location where = record_location::decode(payload);
            if (where.segment == in.id && where.offset >= bad && where.offset < next) live = true;
        });
    }
    if (live || job.keep_erases[job.scanning]) {
        fail(ec, errc::corrupt_record,
             in.file.path() + ": damaged record at offset " + std::to_string(bad) +
                 (live ? " holding a key's newest value" : ", which may be an erase that an older segment needs,") +
                 " with intact records after it; open with options::salvage to keep the intact ones");
        return false;
    }
    job.damaged_bytes += next - bad;
    return true;
}

/// The walk phase of a sorting job whose index is ordered (compaction_job.hpp): visits
/// index entries in key order from job.walk_from on, noting those that point into the
/// input, about budget bytes (those records' sizes, and the other entries' keys and
/// payloads), the shared lock held for entries_walked_at_once at most. The notes come
/// in key order: one run. Once the index ends, the input is scanned for its erases when
/// some may be needed (the walk did not note all of its bytes), else the copy begins.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::walk_index(job_type& job, std::uint64_t& budget) {
    if constexpr (walkable_index) {
        const segment_type& in = *job.inputs.front();
        bool ended = false;
        while (budget > 0 && !ended) {
            const read_lock lock(mutex_);
            std::size_t visited = 0;
            ended = true;
            table_.visit_from(job.walk_from, true, [&](std::string_view key, std::string_view payload) {
                if (visited == entries_walked_at_once || budget == 0) {
                    job.walk_from.assign(key);  // not visited: the next walk begins with it
                    ended = false;
                    return false;
                }
                ++visited;
                const record_location where = record_location::decode(payload);
                if (where.segment != in.id) {
                    budget -= std::min<std::uint64_t>(budget, key.size() + payload.size());
                    return true;
                }
                const std::uint64_t size = where.record_size(key.size());
                if (where.offset < job.walked_end) job.walked_in_file_order = false;
                job.walked_end = where.offset + size;
                job.walked_bytes += size;
                job.add_note(key, where, false);
                budget -= std::min(budget, size);
                return true;
            });
        }
        if (!ended) return;
        job.walked_notes = job.notes.size();
        if (!job.notes.empty()) job.runs.push_back({0, job.notes.size()});
        if (job.keep_erases.front() && job.walked_bytes != in.size - in.records_start()) {
            job.at = job_type::phase::scan;
        } else {
            end_scan(job);
        }
    } else {
        static_cast<void>(job);
        static_cast<void>(budget);
    }
}

/// Ends the scan (or walk): the runs become a heap, and the copy begins. A hash index
/// gains nothing from outputs in key order, so its job copies the puts in the order the
/// scan found them, reading each input front to back, then the erases, sorted so that
/// next_note copies each key's once (several inputs may hold one): one run. No key has
/// both: a put is noted while the key's newest record is in the input, so no input
/// after it holds an erase of the key, and an erase once the key is gone from the index,
/// after which no entry comes to point into a closed segment.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::end_scan(job_type& job) {
    if constexpr (!ordered_index) {
        const auto erases = std::stable_partition(job.notes.begin(), job.notes.end(),
                                                  [](const auto& n) { return !n.erase; });
        std::sort(erases, job.notes.end(),
                  [&job](const auto& a, const auto& b) { return job.key_of(a) < job.key_of(b); });
        if (!job.notes.empty()) job.runs.push_back({0, job.notes.size()});
    }
    std::make_heap(job.runs.begin(), job.runs.end(), later_run(job));
    job.moved.resize(job.notes.size());
    job.at = job_type::phase::copy;
}

/// The order of job.runs' heap: a run whose next note's key is greater comes later, and
/// of two notes of one key, an erase after a put.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::later_run(const job_type& job) noexcept {
    return [&job](const typename job_type::run& a, const typename job_type::run& b) {
        const auto& first = job.notes[a.next];
        const auto& second = job.notes[b.next];
        const std::string_view first_key = job.key_of(first);
        const std::string_view second_key = job.key_of(second);
        return second_key < first_key || (second_key == first_key && !second.erase && first.erase);
    };
}

/// The next note to copy, in the order end_scan set (a sorted store's in key order),
/// taken from job.runs; false when none is left. Erases of one key are copied once. A
/// scan never notes both a put of a key and an erase of it; a walk and the scan after
/// it may (the key erased in between), and then the put is copied, which replays as the
/// input did (it came after the erase there).
/// ahead is the note copy_distance places after it in its run (at itself if none).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::next_note(job_type& job, std::size_t& at, std::size_t& ahead) {
    const auto later = later_run(job);
    while (!job.runs.empty()) {
        std::pop_heap(job.runs.begin(), job.runs.end(), later);
        typename job_type::run& run = job.runs.back();
        at = run.next++;
        ahead = run.end - at > copy_distance ? at + copy_distance : at;
        if (run.next == run.end) {
            job.runs.pop_back();
        } else {
            std::push_heap(job.runs.begin(), job.runs.end(), later);
        }
        if (!job.copied || job.key_of(job.notes[*job.copied]) != job.key_of(job.notes[at])) return true;
    }
    return false;
}

/// The copy phase: copies noted records into the outputs, about budget bytes (at
/// least one record) or up to the record that fills an output, which the next call
/// finishes (append) before it copies on: each put's record as it lies where the scan
/// found it, its checksum checked (the shared lock held for each read, for the
/// segments it finds the input in). A sorted store's notes, in key order, are records
/// far apart in an input filled in random order: each read starts loading the record its
/// run copies copy_distance notes later.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    std::string scratch;
    std::string erase;                     // not record_: on the compaction thread, writers use it meanwhile
    recent_segments<segment_type> recent;  // finds only the inputs, which the job holds
    std::size_t at = 0;
    std::size_t ahead = 0;
    while (budget > 0 && next_note(job, at, ahead)) {
        const auto& n = job.notes[at];
        const std::string_view key = job.key_of(n);
        record_location& moved = job.moved[at];
        hint_entry entry;
        entry.key = key;
        std::string_view record;
        if (n.erase) {
            erase.clear();
            append_erase_record(erase, key);
            record = erase;
            entry.type = record_type::erase;
        } else {
            record_info info;
            const read_lock lock(mutex_);
            if (ahead != at) {
                const auto& later = job.notes[ahead];
                if (!later.erase) reader_.prefetch(later.key_size, later.from, recent);
            }
            if (!reader_.read_record(key, n.from, scratch, record, info, ec, nullptr, &recent)) return false;
            entry.flags = info.flags;
            entry.value_size = n.from.value_size;
            entry.deadline = info.deadline;
            entry.tag = info.tag;
            moved.value_size = n.from.value_size;
            moved.flags = info.flags;
        }
        if (!job.outputs->append(record, entry, moved, ec)) return false;
        // Read once and written once.
        budget -= std::min(budget, 2 * record.size());
        job.copied = at;
        if (job.outputs->full()) break;  // ended before the next record (single_thread: a step of its own)
    }
    if (job.runs.empty()) job.at = job_type::phase::publish;
    return job.outputs->write_out(ec);
}

/// Retires the inputs of a job whose index entries have moved, with write_gate_ held
/// and no backup running: makes the writer's records durable, then takes the inputs
/// out of the store. Their files go in the steps after, one input's a step
/// (remove_next_retired): each costs a directory sync, and the kernel frees a
/// segment's cached pages and blocks when its file goes (7-12 ms for 32 MiB here).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::retire_job(std::error_code& ec) {
    // A record is left behind when a newer one of its key exists; that newer one may
    // still sit in the writer's buffer, and must be durable before the older is
    // removed, or a power loss would lose the key.
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    job_->retired = retire_inputs();
    job_->at = job_type::phase::remove;
    return true;
}

/// Removes the files of the job's next retired input, in replay order, and ends the
/// job after the last; no other job starts before, so none can drop an erase whose
/// older record is still in a file of them. Should a removal fail, the rest stay for
/// the next open, which replays them to the same contents (as remove_segments).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::remove_next_retired() {
    std::vector<segment_pointer>& retired = job_->retired;
    if (!job_->retired_unlisted) {
        // The first step takes them all off the list of segments, in one write of it (a
        // sync of the list and one of the directory, as a removal costs); should that
        // fail, their files stay, as after a failed removal.
        job_->retired_unlisted = true;
        if (!files_.forget(retired)) retired.clear();
        if (retired.empty()) job_.reset();
        return;
    }
    if (!retired.empty() && files_.remove_segment(*retired.front())) {
        retired.erase(retired.begin());  // closes its file unless a reader holds it
    } else {
        retired.clear();
    }
    if (retired.empty()) job_.reset();
}

/// Writes and syncs the last output, then renames the outputs into place. Once that
/// has begun, the outputs are segments of the store and never removed unretired: a
/// published copy of a key erased since would come back at the next open if the
/// store forgot it. A failure to publish stops the store's writes (some outputs may
/// be in place).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::publish_outputs(std::error_code& ec) {
    if (!job_->outputs->finish(ec)) return false;
    if (job_->outputs->publish(ec)) return true;
    failure_.record(ec);
    return false;
}

/// Adds the published outputs to the segments, with write_gate_ held, so that readers
/// find the copies index entries move to. Until the inputs are retired, both are
/// segments of the store: a backup that copies both replays to the same contents.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::install_outputs() {
    const write_lock lock(mutex_);
    for (const segment_pointer& output : job_->outputs->segments()) {
        index_.add_segment(*output);
        segments_.add(output);
    }
}

/// Moves up to count more index entries, each to its copy when the entry still
/// points where the copy was read from, with write_gate_ held.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::move_entries(job_type& job, std::size_t count) {
    const write_lock lock = exclusive_after_readers();
    if (job.walks_index) {
        move_walked_entries(job, count);
        return;
    }
    const std::size_t end = job.notes.size() - job.moved_entries > count ? job.moved_entries + count : job.notes.size();
    for (; job.moved_entries < end; ++job.moved_entries) {
        const auto& n = job.notes[job.moved_entries];
        if (n.erase) continue;
        const record_location& copy = job.moved[job.moved_entries];
        const std::string_view key = job.key_of(n);
        const auto payload = table_.find(key);
        const record_location where = payload ? record_location::decode(*payload) : record_location{};
        if (!payload || where.segment != n.from.segment || where.offset != n.from.offset) {
            copy_is_dead(job, job.moved_entries);  // written or erased since the scan
            continue;
        }
        char encoded[record_location::max_encoded_size];
        table_.upsert(key, {encoded, copy.encode(encoded)}, [](std::string_view) {});
    }
}

/// move_entries of a job that walked the index, the exclusive lock held: walks the
/// index again from the next note's key, in key order, visiting walk_visits_per_note
/// entries a note at most. The entries that still point into the input are some of the
/// walk's notes, in the same order (a key written since points elsewhere, and no entry
/// comes to point into a closed segment), so each such entry moves to the copy of the
/// note with its offset; the notes passed over on the way, those of keys the walk has
/// gone past, and those past the index's end, are copies of keys written or erased since.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::move_walked_entries(job_type& job, std::size_t count) {
    if constexpr (walkable_index) {
        const std::uint32_t input = job.inputs.front()->id;
        const std::size_t end = std::min(job.walked_notes, job.moved_entries + count);
        std::size_t& next = job.moved_entries;
        std::size_t visits_left = walk_visits_per_note * count;
        bool index_ended = true;
        const auto move = [&](std::string_view key, std::string_view payload, auto& replace) {
            if (visits_left-- == 0) {
                // Not visited: the notes of keys before it have no entry in the input.
                while (next < end && job.key_of(job.notes[next]) < key) copy_is_dead(job, next++);
                index_ended = false;
                return false;
            }
            const record_location where = record_location::decode(payload);
            if (where.segment != input) return true;
            while (next < end && job.notes[next].from.offset != where.offset) copy_is_dead(job, next++);
            if (next == end) return false;
            char encoded[record_location::max_encoded_size];
            replace(std::string_view(encoded, job.moved[next].encode(encoded)));
            return ++next < end;
        };
        if (next < end) table_.update_from(job.key_of(job.notes[next]), true, move);
        if (index_ended) {
            while (next < end) copy_is_dead(job, next++);
        }
        // The erases the scan noted after the walk have no entries.
        if (next == job.walked_notes) next = job.notes.size();
    } else {
        static_cast<void>(job);
        static_cast<void>(count);
    }
}

/// Counts the copy of note `at`, whose key was written or erased since the scan, as
/// dead in its output.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::copy_is_dead(job_type& job, std::size_t at) {
    const auto& n = job.notes[at];
    if (segment_type* const output = segments_.find(job.moved[at].segment)) {
        index_.add_dead(*output, n.from.record_size(n.key_size));
    }
}

/// Takes the inputs out of the segments, with write_gate_ held, no backup running
/// and the writer drained; returns the inputs, whose files the caller removes
/// (remove_segments, or remove_next_retired a step at a time).
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::retire_inputs() -> std::vector<segment_pointer> {
    std::vector<segment_pointer> retired = std::move(job_->inputs);
    const write_lock lock(mutex_);
    damaged_bytes_dropped_ += job_->damaged_bytes;
    for (const segment_pointer& in : retired) {
        index_.remove_segment(*in);
        segments_.remove(in->id);
    }
    hints_.drop_retired(segments_);
    finish_compaction();
    return retired;
}

}  // namespace kvforge::detail
