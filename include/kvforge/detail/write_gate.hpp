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

#include <atomic>
#include <cstdint>
#include <mutex>

namespace kvforge::detail {

class write_gate {
public:
    void lock() {
        if (mutex_.try_lock()) return;
        // Counted only when the gate is taken: a lock that finds it free costs what
        // std::mutex's does.
        arrived_.fetch_add(1, std::memory_order_seq_cst);
        mutex_.lock();
        admitted_.fetch_add(1, std::memory_order_seq_cst);
        admitted_.notify_all();
    }

    bool try_lock() { return mutex_.try_lock(); }
    void unlock() { mutex_.unlock(); }

    /// The threads waiting for the gate now.
    [[nodiscard]] std::uint64_t waiting() const noexcept {
        // Admitted first: no count of arrivals read after it is below it.
        const std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst);
        return arrived_.load(std::memory_order_seq_cst) - admitted;
    }

    /// Locks once every thread that waits for the gate now has had it. The caller must
    /// hold no lock that they need, and no thread may hold the gate while it waits for
    /// the caller (true of the compaction thread, whose own holds would otherwise never
    /// end), or this never returns.
    void lock_after_waiters() {
        const std::uint64_t arrived = arrived_.load(std::memory_order_seq_cst);
        // Each thread counted in arrived is admitted once: the count reaches it.
        for (std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst); admitted < arrived;
             admitted = admitted_.load(std::memory_order_seq_cst)) {
            admitted_.wait(admitted, std::memory_order_seq_cst);
        }
        lock();
    }

private:
    std::mutex mutex_;
    std::atomic<std::uint64_t> arrived_{0};   // locks that found the gate taken and waited
    std::atomic<std::uint64_t> admitted_{0};  // of those, the ones that have had it
};

}  // namespace kvforge::detail
