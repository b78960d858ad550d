#pragma once
/// \file log_verify.hpp
/// A log store's verify(): every record of every segment read and checked against its
/// checksum, the damage found listed; nothing is changed.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../../stats.hpp"
#include "log_scan.hpp"
#include "segment.hpp"

namespace kvforge::detail {

/// How verify() describes a closed segment that ends inside a record: damage, since it was
/// complete on disk before the next segment was made.
inline constexpr std::string_view closed_segment_cut_problem =
    "incomplete record at the end of a closed segment (it was complete on disk before the next one was made)";

/// How verify() describes a segment that ends inside a record before what its hint proves
/// was durable: damage, not a write that a crash cut short.
inline constexpr std::string_view cut_below_hint_problem =
    "incomplete record before the end that the segment's hint proves was durable";

/// Checks the records of `segments`, in replay order, into report; `active` is the one
/// `writer` appends to. The caller holds the engine's write gate, so that no writer
/// appends meanwhile. False with ec set when a segment cannot be read.
template <class IO, class Writer>
bool verify_segments(const std::vector<std::shared_ptr<segment<IO>>>& segments,
                     const std::shared_ptr<segment<IO>>& active, const Writer& writer, verify_report& report,
                     std::error_code& ec) {
    for (const std::shared_ptr<segment<IO>>& in : segments) {
        std::uint64_t end = in->size;
        if (in == active) {
            // async_worker's thread may be writing records at the end of the file:
            // check only those wholly written, up to where the writer's first pending
            // record starts (no writer appends while the gate is held). The writer
            // reads that offset under one lock: pieced together from several readings
            // while its thread moved on, it could fall inside a record. The size is
            // read after: once nothing is pending the file no longer grows, and a size
            // read before could end in the middle of a record the worker was writing.
            const std::uint64_t written = writer.written_end();
            if (!in->file.size(end, ec)) return false;
            if (written < writer.end()) end = written;
        }
        log_scan_result scanned;
        if (!scan_log(
                in->file, in->records_start(), end, in->version, true, [](const log_entry&) {}, scanned, ec)) {
            return false;
        }
        report.records_checked += scanned.records;
        report.damaged.insert(report.damaged.end(), scanned.damage.begin(), scanned.damage.end());
        if (scanned.torn_tail) {
            // Only the segment appended to may end in a write a crash cut short, and only
            // after what its hint proves durable: every other was durable before the next
            // was made.
            const bool proven = scanned.valid_end < std::max(in->hint_covered, in->proven_end);
            const std::string_view problem = in != active ? closed_segment_cut_problem
                                             : proven     ? cut_below_hint_problem
                                                          : torn_tail_problem;
            report.damaged.push_back({in->file.path(), scanned.valid_end, std::string(problem)});
        }
    }
    return true;
}

}  // namespace kvforge::detail
