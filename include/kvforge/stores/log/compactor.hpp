#pragma once
/// \file compactor.hpp
/// What a compaction job of a log store rewrites: the closed segments with the largest
/// share of dead bytes, as many as the live records of about one segment, and which of
/// their records it copies.
///
/// A put is copied when the index points at it (it is its key's newest record). An
/// erase is copied when its key is absent (no newer put came after it) and some segment
/// that replays before its own is not an input of the job: that segment may hold an
/// older put of the key, which the erase must go on hiding. Otherwise it is dropped, as
/// every other record of the inputs.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "segment.hpp"

namespace kvforge::detail {

/// Bytes of a segment's records that are live (not dead), up to end.
template <class IO>
[[nodiscard]] std::uint64_t live_bytes_of(const segment<IO>& in, std::uint64_t end) noexcept {
    const std::uint64_t records = end - in.records_start();
    return records > in.dead_bytes ? records - in.dead_bytes : 0;
}

/// The share of a closed segment's record bytes that are dead.
template <class IO>
[[nodiscard]] double dead_share(const segment<IO>& in) noexcept {
    const std::uint64_t records = in.size > in.records_start() ? in.size - in.records_start() : 0;
    return records == 0 ? 0.0 : static_cast<double>(in.dead_bytes) / static_cast<double>(records);
}

/// Whether a comes before b among pick_inputs()'s candidates: the higher dead share first,
/// ties in replay order (the order the candidates are gathered in).
template <class IO>
[[nodiscard]] bool more_dead_first(const segment<IO>& a, const segment<IO>& b) noexcept {
    const double a_share = dead_share(a);
    const double b_share = dead_share(b);
    return a_share != b_share ? a_share > b_share : a.replays_before(b);
}

/// The inputs of the next job among the closed segments (every segment but active),
/// highest dead share first, while their live bytes fit in budget (at least one is
/// picked when any has dead bytes). A segment holding a clear record is picked only
/// when nothing replays before it, so that the clear record is dropped rather than
/// moved after records it must not drop.
template <class IO>
[[nodiscard]] std::vector<std::shared_ptr<segment<IO>>> pick_inputs(const segment_set<IO>& segments,
                                                                    const segment<IO>* active, std::uint64_t budget) {
    using pointer = std::shared_ptr<segment<IO>>;
    const std::vector<pointer> ordered = segments.in_replay_order();
    std::vector<pointer> candidates;
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        const pointer& in = ordered[i];
        if (in.get() == active || in->dead_bytes == 0 || (in->holds_clear && i != 0)) continue;
        candidates.push_back(in);
    }
    sort_segments(candidates, &more_dead_first<IO>);
    std::vector<pointer> picked;
    std::uint64_t live = 0;
    for (const pointer& in : candidates) {
        const std::uint64_t more = live_bytes_of(*in, in->size);
        if (!picked.empty() && live + more > budget) break;
        picked.push_back(in);
        live += more;
    }
    return picked;
}

/// Whether an erase record of segment `in` must be copied by a job whose inputs are
/// `inputs` (its key being absent): some segment replaying before `in` is not an input.
template <class IO>
[[nodiscard]] bool older_segment_outside(const segment_set<IO>& segments, const segment<IO>& in,
                                         const std::vector<std::shared_ptr<segment<IO>>>& inputs) {
    for (const auto& other : segments.by_id()) {
        if (!other->replays_before(in)) continue;
        const bool input = std::any_of(inputs.begin(), inputs.end(), [&](const auto& i) { return i == other; });
        if (!input) return true;
    }
    return false;
}

}  // namespace kvforge::detail
