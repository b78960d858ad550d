#pragma once
/// \file striped.hpp
/// A reader-writer lock and a counter that spread readers over separate cache lines.
///
/// std::shared_mutex keeps its readers in one word, so every lock_shared() on one core
/// takes that cache line away from every other core: with two threads reading, each
/// get pays a transfer between cores, which costs as much as the lookup itself. Here
/// each thread has a stripe (its own cache line) for its reader count and its
/// counters, so readers on different cores never write to the same line. A writer
/// pays instead: it raises a flag and waits for every stripe to drain.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "waiter_count.hpp"

namespace kvforge::detail {

/// Stripes per lock or counter: enough that a machine's busy threads rarely share one.
inline constexpr std::size_t stripe_count = 16;

/// The calling thread's stripe, handed out round-robin as threads first ask.
[[nodiscard]] inline std::size_t this_thread_stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % stripe_count;
    return stripe;
}

/// A shared_lockable mutex whose lock_shared() writes only the calling thread's stripe.
/// Writers exclude each other with a plain mutex and prefer themselves over new readers.
class striped_shared_mutex {
public:
    void lock_shared() noexcept {
        std::atomic<std::size_t>& readers = stripes_[this_thread_stripe()].readers;
        bool waited = false;
        for (;;) {
            // Announce the reader, then look for a writer; the writer does the opposite
            // (raise its flag, then count readers). Sequential consistency on both
            // sides means at least one of them sees the other.
            readers.fetch_add(1, std::memory_order_seq_cst);
            if (!writing_.load(std::memory_order_seq_cst)) break;
            leave(readers);
            if (!waited) waiting_readers_.arrive();
            waited = true;
            writing_.wait(true, std::memory_order_acquire);
        }
        if (waited) waiting_readers_.admit();
    }

    void unlock_shared() noexcept { leave(stripes_[this_thread_stripe()].readers); }

    void lock() {
        writers_.lock();
        writing_.store(true, std::memory_order_seq_cst);
        for (stripe& s : stripes_) {
            for (std::size_t n = s.readers.load(std::memory_order_seq_cst); n != 0;
                 n = s.readers.load(std::memory_order_seq_cst)) {
                s.readers.wait(n, std::memory_order_acquire);
            }
        }
    }

    /// lock(), once every reader that a writer keeps waiting now has had the lock: for a
    /// thread that takes the lock for many short holds in a row (the compaction thread
    /// moving index entries), which would otherwise raise its flag again before a woken
    /// reader ran, and keep readers out for as long as it goes on. The caller must hold
    /// nothing such a reader waits for.
    void lock_after_waiters() {
        waiting_readers_.wait_for_those_waiting();
        lock();
    }

    /// The readers that a writer keeps waiting now.
    [[nodiscard]] std::uint64_t waiting_readers() const noexcept { return waiting_readers_.waiting(); }

    void unlock() noexcept {
        writing_.store(false, std::memory_order_release);
        writing_.notify_all();
        writers_.unlock();
    }

private:
    struct alignas(64) stripe {
        std::atomic<std::size_t> readers{0};
    };

    /// Drops one reader from a stripe, waking a writer that waits for it to drain.
    void leave(std::atomic<std::size_t>& readers) noexcept {
        if (readers.fetch_sub(1, std::memory_order_seq_cst) == 1 && writing_.load(std::memory_order_seq_cst)) {
            readers.notify_all();
        }
    }

    stripe stripes_[stripe_count];
    alignas(64) std::atomic<bool> writing_{false};
    std::mutex writers_;
    // Readers that found a writer and waited (lock_after_waiters); touched only by
    // readers that wait.
    alignas(64) waiter_count waiting_readers_;
};

/// A statistics counter that concurrent threads bump on their own stripes; load() adds
/// the stripes up. Relaxed, since statistics order nothing.
class striped_counter {
public:
    void add(std::size_t n) noexcept { stripes_[this_thread_stripe()].value.fetch_add(n, std::memory_order_relaxed); }

    [[nodiscard]] std::size_t load() const noexcept {
        std::size_t total = 0;
        for (const stripe& s : stripes_) total += s.value.load(std::memory_order_relaxed);
        return total;
    }

private:
    struct alignas(64) stripe {
        std::atomic<std::size_t> value{0};
    };
    stripe stripes_[stripe_count];
};

}  // namespace kvforge::detail
