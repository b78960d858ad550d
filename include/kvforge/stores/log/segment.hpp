#pragma once
/// \file segment.hpp
/// The data files of a log store: one segment (file, id, replay order, size, dead
/// bytes, mapping) and the set of them, looked up by id for reads and walked in replay
/// order for recovery and compaction.
///
/// Records go to the active segment; once it holds options::segment_bytes or more it
/// is closed (never written again) and a new one becomes active. Segments are held by
/// std::shared_ptr, so that a segment taken out of the set (retired by compaction or
/// clear) stays readable by whoever still holds it.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "../../detail/data_file.hpp"
#include "file_mapping.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// One data file of a log store.
template <class IO>
struct segment {
    data_file<IO> file;
    std::uint32_t id = 0;       ///< also in its name, data-<id>.kvlog
    std::uint32_t file_id = 0;  ///< random, repeated in its hint, which is used only for this file
    std::uint64_t order = 0;    ///< where its records stand in replay order (its header's)
    std::uint16_t version = format_version;
    /// Bytes of the file. The active segment's grow with the writer, whose end is the
    /// truth while it is active; this is set when it is closed.
    std::uint64_t size = 0;
    std::uint64_t dead_bytes = 0;    ///< bytes of its records no key's newest record is (and its batch headers)
    std::uint64_t hint_bytes = 0;    ///< the size of its hint file on disk; 0: none
    std::uint64_t hint_covered = 0;  ///< how much of the segment that hint covers
    /// How much of the segment a hint written for it proved durable at the open (even one
    /// not read, or covering more than the file holds): bytes no torn write can end in.
    std::uint64_t proven_end = 0;
    bool holds_clear = false;        ///< a clear record is among its records
    /// Known to hold its records in key order (key_order.hpp): a compaction's output, or
    /// a closed segment found so at open or by a sorting job. False: not known.
    bool in_key_order = false;
    /// The mapping reads view: a closed segment's covers all of it; the active one's,
    /// mmap_file's grows with it, file_log's covers what it held at the open (or none).
    std::shared_ptr<const file_mapping<IO>> mapping;

    /// Where its records start: after its header, whose size is its version's.
    [[nodiscard]] std::uint64_t records_start() const noexcept { return file_header::size_of(version); }
    /// Whether the writer made it (a compaction output's order is that of its inputs,
    /// below its id); only such a segment of the current version may be appended to.
    [[nodiscard]] bool writer_made() const noexcept { return order == id && version == format_version; }
    /// Whether it replays before other.
    [[nodiscard]] bool replays_before(const segment& other) const noexcept {
        return order != other.order ? order < other.order : id < other.id;
    }
    /// replays_before() as a function that sort_segments() takes.
    [[nodiscard]] static bool in_replay_order(const segment& a, const segment& b) noexcept {
        return a.replays_before(b);
    }
};

/// Sorts segments by before, a strict weak order. The order is a function pointer so that
/// every order the engine sorts segments in shares one compiled std::sort.
template <class IO>
void sort_segments(std::vector<std::shared_ptr<segment<IO>>>& segments,
                   bool (*before)(const segment<IO>&, const segment<IO>&)) {
    using pointer = std::shared_ptr<segment<IO>>;
    std::sort(segments.begin(), segments.end(),
              [before](const pointer& x, const pointer& y) { return before(*x, *y); });
}

/// The segments of a store, sorted by id.
template <class IO>
class segment_set {
public:
    using pointer = std::shared_ptr<segment<IO>>;

    /// The segment with this id, or nullptr.
    [[nodiscard]] segment<IO>* find(std::uint32_t id) const noexcept {
        const auto at = lower_bound(id);
        return at != segments_.end() && (*at)->id == id ? at->get() : nullptr;
    }

    void add(pointer added) {
        const auto at = lower_bound(added->id);
        segments_.insert(at, std::move(added));
    }

    /// Takes the segment with this id out of the set; its holders keep it.
    void remove(std::uint32_t id) {
        const auto at = lower_bound(id);
        if (at != segments_.end() && (*at)->id == id) segments_.erase(at);
    }

    void clear() noexcept { segments_.clear(); }
    [[nodiscard]] std::size_t size() const noexcept { return segments_.size(); }
    [[nodiscard]] bool empty() const noexcept { return segments_.empty(); }
    /// Every segment, by id.
    [[nodiscard]] const std::vector<pointer>& by_id() const noexcept { return segments_; }

    /// Every segment in replay order: by order, then by id.
    [[nodiscard]] std::vector<pointer> in_replay_order() const {
        std::vector<pointer> ordered = segments_;
        sort_segments(ordered, &segment<IO>::in_replay_order);
        return ordered;
    }

private:
    [[nodiscard]] typename std::vector<pointer>::const_iterator lower_bound(std::uint32_t id) const noexcept {
        return std::lower_bound(segments_.begin(), segments_.end(), id,
                                [](const pointer& s, std::uint32_t wanted) { return s->id < wanted; });
    }

    std::vector<pointer> segments_;
};

/// Counts bytes of segment `in` as dead, in it and in the store's total.
template <class IO>
void count_dead(segment<IO>& in, std::uint64_t& dead_bytes, std::uint64_t bytes) noexcept {
    in.dead_bytes += bytes;
    dead_bytes += bytes;
}

/// Counts key's record at `old` (its index payload), which a newer record replaced or
/// erased, as dead in its segment (in the total only, when that segment is gone) and
/// no longer live.
template <class IO>
void count_retired(const segment_set<IO>& segments, std::string_view key, std::string_view old,
                   std::uint64_t& live_bytes, std::uint64_t& dead_bytes) noexcept {
    const record_location previous = record_location::decode(old);
    const std::uint64_t size = previous.record_size(key.size());
    if (segment<IO>* const in = segments.find(previous.segment)) {
        count_dead(*in, dead_bytes, size);
    } else {
        dead_bytes += size;
    }
    live_bytes -= key.size() + previous.value_size;
}

}  // namespace kvforge::detail
