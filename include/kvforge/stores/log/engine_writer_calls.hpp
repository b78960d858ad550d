#pragma once
/// \file engine_writer_calls.hpp
/// Members of log_backend (engine.hpp): the store's calls of its durability writer beside
/// the writes: flush, sync, drain and close, each under the locks it needs, and the waits
/// for durability.
///
/// Locks. flush, sync, drain and close run with write_gate_ held, so no writer appends
/// meanwhile; a writer without a worker changes the buffer readers read, so they take the
/// exclusive lock too, while async_worker's queue has its own lock and readers need not
/// wait for its disk. wait_durable holds no lock while it waits: it is counted
/// (active_calls.hpp), so that close() keeps the writer until it returns.

#include <cstdint>
#include <optional>
#include <system_error>

#include "active_calls.hpp"
#include "engine.hpp"

namespace kvforge::detail {

/// flush or sync: nothing to do for a read-only store, which writes nothing.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
    const gate_lock gate(write_gate_);
    if (!readable(ec) || options_.read_only || !writable(ec)) return;
    call_writer(op, ec);
}

/// Calls a writer's flush, sync, drain or close, with write_gate_ held. A writer without
/// a worker changes the buffer readers read, so that takes the exclusive lock;
/// async_worker's queue has its own lock, and readers need not wait for its disk.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::call_writer(void (writer_type::*op)(std::error_code&),
                                                std::error_code& ec) const {
    if constexpr (writer_type::sequenced) {
        ((*writer_).*op)(ec);
    } else {
        const write_lock lock(mutex_);
        ((*writer_).*op)(ec);
    }
}

/// Blocks until the write with this sequence number is on disk (async_worker). The store
/// calls it and durable_sequence() only for a sequenced writer; an explicit instantiation
/// (the compiled mode's) compiles them for the others too, with nothing to wait for.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::wait_durable(std::uint64_t sequence, std::error_code& ec) {
    if constexpr (writer_type::sequenced) {
        // Counted from while the store is known to be open until done, so that close() keeps
        // the writer until then.
        std::optional<active_call<threading::concurrent>> call;
        {
            const read_lock lock(mutex_);
            if (!readable(ec)) return;
            call.emplace(active_calls_);
        }
        writer_->wait_durable(sequence, ec);
    }
}

template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::durable_sequence() const {
    if constexpr (writer_type::sequenced) {
        const read_lock lock(mutex_);
        return open_ ? writer_->durable_sequence() : 0;
    } else {
        return 0;
    }
}

}  // namespace kvforge::detail
