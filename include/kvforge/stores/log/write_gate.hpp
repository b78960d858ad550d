#pragma once
/// \file write_gate.hpp
/// The mutex that orders a concurrent log store's writers, rollovers and compaction
/// (engine.hpp's write_gate_), with a way for a thread that takes it again and again to
/// let the threads waiting for it go first.
///
/// A mutex is not fair: unlock() wakes a waiter, but the thread that unlocked, if it
/// locks again at once, has it back long before the woken thread runs. The compaction
/// thread takes the gate for a few hundred short holds in a row (moving a job's index
/// entries in chunks), and a writer that came to the gate meanwhile found it taken each
/// time it woke: it waited for all of them, 20 ms and more on a 1,000,000-record store,
/// rather than for one. lock_after_waiters() takes the gate only once the threads
/// already waiting for it have had it.

#include <cstdint>
#include <mutex>

#include "../../detail/waiter_count.hpp"

namespace kvforge::detail {

class write_gate {
public:
    void lock() {
        if (mutex_.try_lock()) return;
        // Counted only when the gate is taken: a lock that finds it free costs what
        // std::mutex's does.
        waiters_.arrive();
        mutex_.lock();
        waiters_.admit();
    }

    bool try_lock() { return mutex_.try_lock(); }
    void unlock() { mutex_.unlock(); }

    /// The threads waiting for the gate now.
    [[nodiscard]] std::uint64_t waiting() const noexcept { return waiters_.waiting(); }

    /// Locks once every thread that waits for the gate now has had it. The caller must
    /// hold no lock that they need, and no thread may hold the gate while it waits for
    /// the caller (true of the compaction thread, whose own holds would otherwise never
    /// end), or this never returns.
    void lock_after_waiters() {
        waiters_.wait_for_those_waiting();
        lock();
    }

private:
    std::mutex mutex_;
    waiter_count waiters_;  // locks that found the gate taken and waited
};

}  // namespace kvforge::detail
