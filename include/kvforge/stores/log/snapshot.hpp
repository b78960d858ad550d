#pragma once
/// \file snapshot.hpp
/// A log store's snapshot: a copy of its index as of a cut, and the segments that index
/// names, held.
///
/// The cut is taken under the store's write gate once the writer's buffered records are
/// in the files (log_backend::snapshot), so every record the copied index names is
/// readable from a file, and records appended after the cut are named by no entry of it.
/// Closed segments are never written again, and the active one only past the cut, so
/// the bytes the snapshot reads never change. A segment that compaction or clear()
/// retires is unlinked but stays readable through its open descriptor while a snapshot
/// holds it; its space comes back when the last holder lets it go.
///
/// Reads take no lock: the snapshot's index and its list of segments never change once
/// made. mmap_file's snapshot holds each segment's mapping as it was at the cut and
/// reads records in place through it, as the store does; a record past a mapping's end
/// is read with pread. A snapshot may outlive the store's close(), but not the store
/// object: its segments' files read through the store's I/O policy object.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../../detail/assign_bytes.hpp"
#include "../../detail/table_snapshot.hpp"
#include "../../error.hpp"
#include "file_mapping.hpp"
#include "record_format.hpp"
#include "record_reader.hpp"
#include "segment.hpp"

namespace kvforge::detail {

template <class IO, class Table>
class log_snapshot {
public:
    using segment_pointer = std::shared_ptr<segment<IO>>;

    /// A segment as the snapshot reads it: held, with where its records end at the cut
    /// and, for mmap_file, its mapping then.
    struct held_segment {
        segment_pointer file;
        std::uint64_t end = 0;
        std::shared_ptr<const file_mapping<IO>> mapping;
    };

    /// A snapshot takes no writes, so it hands out no sequence numbers.
    static constexpr bool sequenced = false;

    log_snapshot() = default;

    /// Takes the state at a cut: a copy of index, and segments (sorted by id), each
    /// readable up to end_of(segment). The caller holds the store's write gate.
    template <class EndOf>
    log_snapshot(const Table& index, const std::vector<segment_pointer>& segments, EndOf&& end_of)
        : index_(copy_table(index)) {
        segments_.reserve(segments.size());
        for (const segment_pointer& in : segments) {
            segments_.push_back({in, end_of(*in), in->mapping});
        }
    }

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const auto payload = index_.find(key);
        if (!payload) return false;
        std::string scratch;
        std::string_view value;
        if (!read_record(key, record_location::decode(*payload), scratch, value, ec, nullptr)) return false;
        on_value(value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const bool found = read(
            key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
        if (!found) out.clear();
        return found;
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const { return index_.find(key).has_value(); }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { index_.visit_from(from, inclusive, read, ahead); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { index_.visit_down_from(from, inclusive, read, ahead); }, visitor,
                      ec);
    }

    /// Calls visitor(key, value) for every record, in the index's order.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        std::string scratch;
        read_ahead ahead;
        index_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (read_record(key, record_location::decode(payload), scratch, value, ec, &ahead)) visitor(key, value);
        });
    }

    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    /// A snapshot never changes, so a scan over it never reads a chunk again.
    [[nodiscard]] static constexpr std::uint64_t write_version() noexcept { return 0; }

private:
    template <class Walk, class Visitor>
    void visit_ordered(Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        std::string scratch;
        read_ahead ahead;
        walk(
            [&](std::string_view key, std::string_view payload) {
                std::string_view value;
                if (!read_record(key, record_location::decode(payload), scratch, value, ec, &ahead)) return false;
                return visitor(key, value);
            },
            [&](std::string_view key, std::string_view payload) noexcept {
                prefetch(key.size(), record_location::decode(payload));
            });
    }

    /// Starts loading the record at where into the cache when it lies in a mapping, for
    /// a scan that reads it soon.
    void prefetch(std::size_t key_size, const record_location& where) const noexcept {
        const held_segment* const in = find(where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key_size));
        if (in != nullptr && mapped(*in, where.offset, size)) prefetch_record(in->mapping->data() + where.offset, size);
    }

    /// Reads and checks the record at where; value views its value, in the mapping
    /// (mmap_file), in the read-ahead window (scans) or in scratch.
    bool read_record(std::string_view key, const record_location& where, std::string& scratch, std::string_view& value,
                     std::error_code& ec, read_ahead* ahead) const {
        const held_segment* const in = find(where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key.size()));
        if (in == nullptr || where.offset + size > in->end) {
            fail(ec, errc::corrupt_record,
                 "the snapshot's index points at segment " + std::to_string(where.segment) + " offset " +
                     std::to_string(where.offset) + ", which the snapshot does not hold");
            return false;
        }
        std::string_view record;
        if (mapped(*in, where.offset, size)) {
            record = std::string_view(in->mapping->data() + where.offset, size);
        } else if (ahead != nullptr) {
            if (!ahead->holds(in->file->id, where.offset, size) && !fill(*ahead, *in, where.offset, size, ec)) {
                return false;
            }
            record = ahead->view(where.offset, size);
        } else {
            scratch.resize(size);
            if (!in->file->file.read(where.offset, scratch.data(), size, ec)) return false;
            record = scratch;
        }
        record_info info;
        if (parse_record(record, info) != parse_status::ok || info.type != record_type::put || info.size != size ||
            record.substr(info.key_offset, info.key_size) != key) {
            fail(ec, errc::corrupt_record,
                 in->file->file.path() + ": the record at offset " + std::to_string(where.offset) +
                     " fails its checksum; its value is not returned (run verify() for a full report)");
            return false;
        }
        value = record.substr(info.value_offset, info.value_size);
        return true;
    }

    /// Reads the record at offset into the window, with as many bytes after it as the
    /// scan's pattern suggests (doubling while records follow one another, as after a
    /// compaction of a sorted store), up to the segment's end at the cut.
    static bool fill(read_ahead& ahead, const held_segment& in, std::uint64_t offset, std::size_t size,
                     std::error_code& ec) {
        const bool sequential =
            !ahead.bytes.empty() && ahead.segment == in.file->id && offset == ahead.start + ahead.bytes.size();
        std::size_t length = sequential ? std::min(ahead.bytes.size() * 2, read_ahead::max_window) : size;
        length = std::max(size, static_cast<std::size_t>(std::min<std::uint64_t>(length, in.end - offset)));
        ahead.bytes.resize(length);
        std::size_t got = 0;
        if (!in.file->file.read_at_least(offset, ahead.bytes.data(), size, length, got, ec)) return false;
        ahead.bytes.resize(got);
        ahead.segment = in.file->id;
        ahead.start = offset;
        return true;
    }

    [[nodiscard]] const held_segment* find(std::uint32_t id) const noexcept {
        const auto at =
            std::lower_bound(segments_.begin(), segments_.end(), id,
                             [](const held_segment& s, std::uint32_t wanted) { return s.file->id < wanted; });
        return at != segments_.end() && at->file->id == id ? &*at : nullptr;
    }

    Table index_;
    std::vector<held_segment> segments_;  // by id
};

}  // namespace kvforge::detail
