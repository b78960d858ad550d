#pragma once
/// \file compaction_phases.hpp
/// The phases of one compaction job (compaction_job.hpp): the scan of its inputs, the
/// copy of the records it keeps into its outputs, their publishing, the move of index
/// entries to the copies, and the retiring of the inputs and removal of their files.
/// Members of segment_compaction (segment_compaction.hpp), which runs them a step at a
/// time or on the compaction thread; each says what lock it takes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../error.hpp"
#include "hint.hpp"
#include "log_scan.hpp"
#include "record_format.hpp"
#include "segment_compaction.hpp"

namespace kvforge::detail {

/// The scan phase: notes the live puts and needed erases of the inputs' records,
/// reading about budget bytes (at least one record), and sorts them, a run of their
/// own (a step sorts only what it read). The inputs are closed, so it reads them with
/// no lock; each look-up in the index takes the shared lock (the compaction thread
/// runs with no gate held).
template <class Policies, class Engine>
bool segment_compaction<Policies, Engine>::scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    const segment_type& in = *job.inputs[job.scanning];
    const bool keep_erases = job.keep_erases[job.scanning];
    const std::uint64_t begin = job.scan_offset;
    const std::size_t run_begin = job.notes.size();
    log_scan_result scanned;
    // A record may end past the budget: the scan then reads on until it ends.
    for (std::uint64_t span = budget;; span *= 2) {
        const std::uint64_t end = in.size - begin > span ? begin + span : in.size;
        const bool scanned_ok = scan_log(
            in.file, begin, end, in.version, false,
            [&](const log_entry& entry) {
                if (job.sorting) job.input_order.next(entry.key);
                const read_lock lock(engine_.mutex_);
                if (entry.type == record_type::put) {
                    const auto payload = engine_.table_.find(entry.key);
                    if (!payload) return;
                    const record_location where = record_location::decode(*payload);
                    if (where.segment != in.id || where.offset != entry.offset) return;
                    job.notes.push_back({std::string(entry.key), where, {entry.flags, entry.deadline, entry.tag}});
                } else if (entry.type == record_type::erase && keep_erases && !engine_.table_.find(entry.key)) {
                    job.notes.push_back({std::string(entry.key), {}, {}, true});
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
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
    const auto run_start = job.notes.begin() + static_cast<std::ptrdiff_t>(run_begin);
    std::sort(run_start, job.notes.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    if (run_begin < job.notes.size()) job.runs.push_back({run_begin, job.notes.size()});
    job.scan_offset = scanned.valid_end;
    if (job.scan_offset < in.size) return true;
    if (++job.scanning < job.inputs.size()) {
        job.scan_offset = job.inputs[job.scanning]->records_start();
        return true;
    }
    std::make_heap(job.runs.begin(), job.runs.end(), later_run(job));
    job.moved.resize(job.notes.size());
    job.at = job_type::phase::copy;
    return true;
}

/// The order of job.runs' heap: a run whose next note's key is greater comes later.
template <class Policies, class Engine>
auto segment_compaction<Policies, Engine>::later_run(const job_type& job) noexcept {
    return [&notes = job.notes](const typename job_type::run& a, const typename job_type::run& b) {
        return notes[b.next].key < notes[a.next].key;
    };
}

/// The next note to copy, in key order, taken from job.runs; false when none is left.
/// A key's put and its erases are never both noted; erases of one key are copied once.
template <class Policies, class Engine>
bool segment_compaction<Policies, Engine>::next_note(job_type& job, std::size_t& at) {
    const auto later = later_run(job);
    while (!job.runs.empty()) {
        std::pop_heap(job.runs.begin(), job.runs.end(), later);
        at = job.runs.back().next++;
        if (job.runs.back().next == job.runs.back().end) {
            job.runs.pop_back();
        } else {
            std::push_heap(job.runs.begin(), job.runs.end(), later);
        }
        if (!job.copied || job.notes[*job.copied].key != job.notes[at].key) return true;
    }
    return false;
}

/// The copy phase: copies noted records into the outputs, about budget bytes (at
/// least one record), reading each put's value where the scan found it (the shared
/// lock held for each read, for the segments it finds the input in).
template <class Policies, class Engine>
bool segment_compaction<Policies, Engine>::copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    std::string scratch;
    std::string record;  // not record_: on the compaction thread, writers use it meanwhile
    std::size_t at = 0;
    while (budget > 0 && next_note(job, at)) {
        const auto& n = job.notes[at];
        record_location& moved = job.moved[at];
        record.clear();
        hint_entry entry;
        entry.key = n.key;
        if (n.erase) {
            append_erase_record(record, n.key);
            entry.type = record_type::erase;
        } else {
            std::string_view value;
            const read_lock lock(engine_.mutex_);
            if (!engine_.reader_.read(n.key, n.from, scratch, value, ec)) return false;
            append_put_record(record, n.key, value, n.meta);
            entry.flags = n.meta.flags;
            entry.value_size = n.from.value_size;
            entry.deadline = n.meta.deadline;
            entry.tag = n.meta.tag;
            moved.value_size = n.from.value_size;
            moved.flags = n.meta.flags;
        }
        if (!job.outputs->append(record, entry, moved, ec)) return false;
        // Read once and written once.
        budget -= std::min(budget, 2 * record.size());
        job.copied = at;
    }
    if (job.runs.empty()) job.at = job_type::phase::publish;
    return job.outputs->write_out(ec);
}

/// Retires the inputs of a job whose index entries have moved, with write_gate_ held
/// and no backup running: makes the writer's records durable, then takes the inputs
/// out of the store. Their files go in the steps after, one input's a step
/// (remove_next_retired): each costs a directory sync, and the kernel frees a
/// segment's cached pages and blocks when its file goes (7-12 ms for 32 MiB here).
template <class Policies, class Engine>
bool segment_compaction<Policies, Engine>::retire_job(std::error_code& ec) {
    // A record is left behind when a newer one of its key exists; that newer one may
    // still sit in the writer's buffer, and must be durable before the older is
    // removed, or a power loss would lose the key.
    engine_.call_writer(&writer_type::drain, ec);
    if (ec) return false;
    job_->retired = retire_inputs();
    job_->at = job_type::phase::remove;
    return true;
}

/// Removes the files of the job's next retired input, in replay order, and ends the
/// job after the last; no other job starts before, so none can drop an erase whose
/// older record is still in a file of them. Should a removal fail, the rest stay for
/// the next open, which replays them to the same contents (as remove_segments).
template <class Policies, class Engine>
void segment_compaction<Policies, Engine>::remove_next_retired() {
    std::vector<segment_pointer>& retired = job_->retired;
    if (!retired.empty() && engine_.files_.remove_segment(*retired.front())) {
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
template <class Policies, class Engine>
bool segment_compaction<Policies, Engine>::publish_outputs(std::error_code& ec) {
    if (!job_->outputs->finish(ec)) return false;
    if (job_->outputs->publish(ec)) return true;
    engine_.failure_.record(ec);
    return false;
}

/// Adds the published outputs to the segments, with write_gate_ held, so that readers
/// find the copies index entries move to. Until the inputs are retired, both are
/// segments of the store: a backup that copies both replays to the same contents.
template <class Policies, class Engine>
void segment_compaction<Policies, Engine>::install_outputs() {
    const write_lock lock(engine_.mutex_);
    for (const segment_pointer& output : job_->outputs->segments()) {
        engine_.index_.add_segment(*output);
        engine_.segments_.add(output);
    }
}

/// Moves up to count more index entries, each to its copy when the entry still
/// points where the copy was read from, with write_gate_ held.
template <class Policies, class Engine>
void segment_compaction<Policies, Engine>::move_entries(job_type& job, std::size_t count) {
    const write_lock lock = exclusive_after_readers();
    const std::size_t end = job.notes.size() - job.moved_entries > count ? job.moved_entries + count : job.notes.size();
    for (; job.moved_entries < end; ++job.moved_entries) {
        const auto& n = job.notes[job.moved_entries];
        if (n.erase) continue;
        const record_location& copy = job.moved[job.moved_entries];
        const auto payload = engine_.table_.find(n.key);
        const record_location where = payload ? record_location::decode(*payload) : record_location{};
        if (!payload || where.segment != n.from.segment || where.offset != n.from.offset) {
            // Written or erased since the scan: the copy is dead.
            if (segment_type* const output = engine_.segments_.find(copy.segment)) {
                engine_.index_.add_dead(*output, n.from.record_size(n.key.size()));
            }
            continue;
        }
        char encoded[record_location::max_encoded_size];
        engine_.table_.upsert(n.key, {encoded, copy.encode(encoded)}, [](std::string_view) {});
    }
}

/// Takes the inputs out of the segments, with write_gate_ held, no backup running
/// and the writer drained; returns the inputs, whose files the caller removes
/// (remove_segments, or remove_next_retired a step at a time).
template <class Policies, class Engine>
auto segment_compaction<Policies, Engine>::retire_inputs() -> std::vector<segment_pointer> {
    std::vector<segment_pointer> retired = std::move(job_->inputs);
    const write_lock lock(engine_.mutex_);
    for (const segment_pointer& in : retired) {
        engine_.index_.remove_segment(*in);
        engine_.segments_.remove(in->id);
    }
    engine_.hints_.drop_retired(engine_.segments_);
    finish_compaction();
    return retired;
}

}  // namespace kvforge::detail
