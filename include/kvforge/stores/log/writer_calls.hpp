#pragma once
/// \file writer_calls.hpp
/// A log store's calls of its durability writer beside the writes: flush, sync, drain and
/// close, each under the locks it needs, and the waits for durability.
///
/// Locks (the engine's). flush, sync, drain and close run with write_gate_ held, so no
/// writer appends meanwhile; a writer without a worker changes the buffer readers read,
/// so they take the exclusive lock too, while async_worker's queue has its own lock and
/// readers need not wait for its disk. wait_durable holds no lock while it waits: it is
/// counted (active_calls.hpp), so that close() keeps the writer until it returns.
/// It works on the engine's writer, locks and count of calls, which it reaches through
/// the engine it is part of, and owns nothing.

#include <cstdint>
#include <optional>
#include <system_error>

#include "../../detail/active_calls.hpp"
#include "log_types.hpp"

namespace kvforge::detail {

/// The writer calls part of log_backend (engine.hpp), which it is a friend of.
template <class Policies, class Engine>
class writer_calls {
    using types = log_types<Policies>;
    using threading = typename types::threading;
    using writer_type = typename types::writer_type;
    using read_lock = typename types::read_lock;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;

public:
    explicit writer_calls(Engine& engine) noexcept : engine_(engine) {}

    /// flush or sync: nothing to do for a read-only store, which writes nothing.
    void drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
        const gate_lock gate(engine_.write_gate_);
        if (!engine_.readable(ec) || engine_.options_.read_only || !engine_.writable(ec)) return;
        call_writer(op, ec);
    }

    /// Calls a writer's flush, sync, drain or close, with write_gate_ held. A writer
    /// without a worker changes the buffer readers read, so that takes the exclusive
    /// lock; async_worker's queue has its own lock, and readers need not wait for its disk.
    void call_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) const {
        if constexpr (writer_type::sequenced) {
            ((*engine_.writer_).*op)(ec);
        } else {
            const write_lock lock(engine_.mutex_);
            ((*engine_.writer_).*op)(ec);
        }
    }

    /// Blocks until the write with this sequence number is on disk (async_worker).
    void wait_durable(std::uint64_t sequence, std::error_code& ec) {
        // Counted from while the store is known to be open until done, so that close()
        // keeps the writer until then.
        std::optional<active_call<threading::concurrent>> call;
        {
            const read_lock lock(engine_.mutex_);
            if (!engine_.readable(ec)) return;
            call.emplace(engine_.active_calls_);
        }
        engine_.writer_->wait_durable(sequence, ec);
    }

    [[nodiscard]] std::uint64_t durable_sequence() const {
        const read_lock lock(engine_.mutex_);
        return engine_.open_ ? engine_.writer_->durable_sequence() : 0;
    }

private:
    Engine& engine_;
};

}  // namespace kvforge::detail
