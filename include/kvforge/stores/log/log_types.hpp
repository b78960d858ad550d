#pragma once
/// \file log_types.hpp
/// The types a log store's engine and the classes beside it (log_writes.hpp) name alike,
/// from the store's policies: its I/O, index, threading and durability writer, the
/// locks they take and the segments they share.

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <type_traits>

#include "../../threading/single_thread.hpp"
#include "segment.hpp"
#include "write_gate.hpp"

namespace kvforge::detail {

template <class Policies>
struct log_types {
    using io_type = typename Policies::io;
    using table_type = typename Policies::index::table;
    using threading = typename Policies::threading;
    using mutex_type = typename threading::mutex_type;
    using counter_type = typename threading::counter_type;
    using writer_type = typename Policies::durability::template writer<io_type, threading::concurrent>;
    /// Orders writers, rollover and compaction; single_thread has nothing to order.
    using gate_type = std::conditional_t<threading::concurrent, write_gate, null_shared_mutex>;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;
    using gate_lock = std::unique_lock<gate_type>;
    using segment_type = segment<io_type>;
    using segment_pointer = std::shared_ptr<segment_type>;
};

}  // namespace kvforge::detail
