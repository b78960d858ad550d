#pragma once
/// \file compaction_job.hpp
/// The state of an automatic compaction job between its steps. The engine advances a
/// job a bounded number of bytes at a time (options::compaction_step_bytes), with its
/// write gate held for one step only, so that writers go on between steps:
///
/// 1. scan: reads the inputs, noting each live put's key and place (not its value) and
///    the erases still needed (compactor.hpp says which);
/// 2. copy: once the scan ends, sorts the notes by key, then copies the records (values
///    read from the inputs by place) into output segments, which stay .tmp files;
/// 3. finish: makes the writer's records durable, publishes the outputs, moves to its
///    copy each index entry that still points where the copy was read from, and
///    retires the inputs. A key written or erased since the scan leaves its copy dead.
///
/// Aborting a job (clear, compact, close, a failed step) removes its .tmp outputs:
/// nothing was published, and the inputs stay as they were.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "record_format.hpp"

namespace kvforge::detail {

template <class Segment, class Outputs>
struct compaction_job {
    enum class phase { scan, copy, finish };

    /// A record the job copies: a put (found at `from` in an input) or an erase.
    struct note {
        std::string key;
        record_location from;
        record_meta meta;
        bool erase = false;
    };

    std::vector<std::shared_ptr<Segment>> inputs;  ///< in replay order
    std::vector<bool> keep_erases;                 ///< per input: whether its needed erases are copied
    phase at = phase::scan;
    std::size_t scanning = 0;            ///< the input the scan is in
    std::uint64_t scan_offset = 0;       ///< where the scan goes on in it
    std::vector<note> notes;             ///< in key order once the scan ended
    std::vector<record_location> moved;  ///< where each note's copy went
    std::size_t copied = 0;              ///< notes copied so far
    std::size_t moved_entries = 0;       ///< notes whose index entries the finish has moved
    std::optional<Outputs> outputs;
};

}  // namespace kvforge::detail
