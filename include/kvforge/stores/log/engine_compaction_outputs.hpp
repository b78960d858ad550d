#pragma once
/// \file engine_compaction_outputs.hpp
/// A compaction job's output segments: written one after another up to segment_bytes
/// each, synced with their hints beside them, then published (renamed into place). A
/// member class of log_backend (engine.hpp), used by its compaction (engine_compaction.hpp);
/// it reaches the engine's files, hints and reader. An output that is full may be finished on its own
/// (finish), so that a job in steps ends each output in a step of its own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/store_files.hpp"
#include "hint.hpp"
#include "record_format.hpp"
#include "engine.hpp"

namespace kvforge::detail {

/// The output segments of a compaction job, written one after another up to
/// segment_bytes each (a sorting job's: up to its input's size, which may pass
/// segment_bytes by a record, so that it makes one output); each is synced, with its
/// hint written beside it, before any is renamed into place (publish). Outputs replay
/// at `order`, the highest of the job's inputs, after them (their ids are higher) and
/// before every newer segment.
template <class Policies, bool Mapped>
class log_backend<Policies, Mapped>::output_segments {
public:
    /// in_key_order: the records come in key order (outputs say so: in_key_order).
    output_segments(log_backend& engine, std::uint64_t order, bool in_key_order, std::uint64_t bytes_each) noexcept
        : engine_(engine), order_(order), in_key_order_(in_key_order), bytes_each_(bytes_each) {}

    /// Appends a record, which entry describes (its offset aside); where it went
    /// comes back in where.segment and where.offset.
    bool append(std::string_view record, hint_entry entry, record_location& where, std::error_code& ec) {
        if (outputs_.empty() || finished_ || full()) {
            if (!finish(ec)) return false;
            segment_pointer next;
            if (!engine_.files_.start_segment(engine_.new_segment_id(), order_, next, ec)) return false;
            next->in_key_order = in_key_order_;
            outputs_.push_back(std::move(next));
            end_ = file_header::size;
            synced_end_ = 0;
            finished_ = false;
            if (engine_.options_.write_hints) hint_.emplace(engine_.hints_.identity(*outputs_.back()));
        }
        where.segment = outputs_.back()->id;
        where.offset = static_cast<std::uint32_t>(end_ + pending_.size());
        entry.offset = where.offset;
        if (hint_) hint_->add(entry);
        if (entry.type != record_type::put) outputs_.back()->dead_bytes += record.size();  // a tombstone
        pending_.append(record);
        return pending_.size() < (std::size_t{1} << 20) || write_pending(ec);
    }

    /// Whether the newest output holds segment_bytes and waits to be finished: the next
    /// record goes to a new one.
    [[nodiscard]] bool full() const noexcept {
        return !outputs_.empty() && !finished_ && end_ + pending_.size() >= bytes_each_;
    }

    /// Writes and syncs what was appended to the newest output: a compaction step
    /// ends with its own writes on disk, so that the sync that ends an output
    /// finds little left to write rather than a whole segment.
    bool write_out(std::error_code& ec) {
        if (pending_.empty()) return true;
        return write_pending(ec) && sync_newest(ec);
    }

    /// Whether the newest output is finished (or none was started): publish has
    /// nothing left to write.
    [[nodiscard]] bool finished() const noexcept { return outputs_.empty() || finished_; }

    /// Finishes the newest output, once: writes and syncs what it still lacks, and
    /// writes its hint beside it.
    bool finish(std::error_code& ec) { return finished() || finish_current(ec); }

    /// Renames the outputs into place and syncs the directory. Once it has begun,
    /// a failure leaves some outputs in place: the store object must write no more.
    bool publish(std::error_code& ec) {
        for (const segment_pointer& output : outputs_) {
            const store_file_name name = store_file_name::data(output->id);
            if (!engine_.files_.directory().rename(name.temporary(), name, ec)) return false;
            output->file.renamed(engine_.files_.directory().file_path(name));
        }
        for (const segment_pointer& output : outputs_) engine_.reader_.map_final(*output, output->size);
        if (outputs_.empty()) return true;
        if (!engine_.files_.sync_directory(ec)) return false;
        for (const segment_pointer& output : outputs_) engine_.files_.note_published(*output);
        return true;
    }

    [[nodiscard]] std::vector<segment_pointer>& segments() noexcept { return outputs_; }

private:
    bool write_pending(std::error_code& ec) {
        if (!engine_.files_.write_counted(outputs_.back()->file, end_, pending_, ec)) return false;
        end_ += pending_.size();
        pending_.clear();
        return true;
    }

    /// Syncs the newest output up to end_, unless a step's write_out synced it so far.
    bool sync_newest(std::error_code& ec) {
        if (synced_end_ == end_) return true;
        if (!engine_.files_.sync_file(outputs_.back()->file, ec)) {
            engine_.failure_.record(ec);  // a failed sync is never retried
            return false;
        }
        synced_end_ = end_;
        return true;
    }

    bool finish_current(std::error_code& ec) {
        segment_type& output = *outputs_.back();
        if (!write_pending(ec) || !sync_newest(ec)) return false;
        output.size = end_;
        if (hint_) engine_.hints_.write_hint_of(output, *hint_);
        hint_.reset();
        finished_ = true;
        return true;
    }

    log_backend& engine_;
    std::uint64_t order_;
    bool in_key_order_;
    std::uint64_t bytes_each_;
    std::vector<segment_pointer> outputs_;
    std::optional<hint_builder> hint_;
    std::string pending_;           // records not yet written to the newest output
    std::uint64_t end_ = 0;         // where pending_ goes in the newest output
    std::uint64_t synced_end_ = 0;  // how much of the newest output is synced
    bool finished_ = false;         // the newest output synced, with its hint written
};

}  // namespace kvforge::detail
