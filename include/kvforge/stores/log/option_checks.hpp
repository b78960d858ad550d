#pragma once
/// \file option_checks.hpp
/// The values of kvforge::options that a file store (log or disk_index) refuses before its
/// open touches a file, so that a value no store can work with is an error at open, not a
/// store that never compacts, or one that freezes at every write.

#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>

#include "../../error.hpp"
#include "../../options.hpp"
#include "record_format.hpp"

namespace kvforge::detail {

/// Segments may be no smaller: below this, a rollover's syncs (a disk_index flush's table)
/// would cost more than the writes between them.
inline constexpr std::uint64_t min_segment_bytes = std::uint64_t{64} << 10;

/// The value as a user would write it: "0.25", "-1", "nan".
[[nodiscard]] inline std::string option_value(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

/// Whether a file store can open with opts; else false, with ec (errc::invalid_argument)
/// naming the option, its value and the values it takes.
[[nodiscard]] inline bool accepts_options(const options& opts, std::error_code& ec) {
    if (opts.segment_bytes < min_segment_bytes || opts.segment_bytes > max_segment_bytes) {
        fail(ec, errc::invalid_argument,
             "options::segment_bytes is " + std::to_string(opts.segment_bytes) + "; it must lie between " +
                 std::to_string(min_segment_bytes) + " (64 KiB) and " + std::to_string(max_segment_bytes) +
                 " bytes (nothing was opened)");
        return false;
    }
    // A share of the files' bytes: written as !(in range) so that NaN is refused too.
    if (!(opts.compact_dead_ratio >= 0 && opts.compact_dead_ratio <= 1)) {
        fail(ec, errc::invalid_argument,
             "options::compact_dead_ratio is " + option_value(opts.compact_dead_ratio) +
                 "; it is a share of the files' bytes, from 0 (no automatic compaction) to 1 (nothing was opened)");
        return false;
    }
    if (!(opts.compaction_stall_ratio >= 0)) {
        fail(ec, errc::invalid_argument,
             "options::compaction_stall_ratio is " + option_value(opts.compaction_stall_ratio) +
                 "; it must be 0 (writes never wait) or more (nothing was opened)");
        return false;
    }
    return true;
}

}  // namespace kvforge::detail
