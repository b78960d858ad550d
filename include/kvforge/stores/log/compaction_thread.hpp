#pragma once
/// \file compaction_thread.hpp
/// The thread on which a thread_safe log store runs its automatic compaction jobs, one
/// at a time. Writers only request a job; the thread starts at the first request and
/// runs until stop(). Callers that change the segments wholesale (compact, clear) hold
/// it off: hold() waits for the job under way to end (the job sees interrupted() and
/// stops at its next chunk, or runs to its end once it has published its outputs), and
/// no job starts until the hold is released. A request made meanwhile runs afterwards.
///
/// Writers that find the thread too far behind wait for its progress (wait_for_progress),
/// holding no lock the job needs; they are let go as soon as the job reports progress,
/// the thread has nothing left to do, it is stopped, or the time they were given is up. finish() ends the thread as
/// stop() does, but lets the work requested so far run to its end first.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "../../detail/clocks.hpp"
#include "../../detail/std_function.hpp"

namespace kvforge::detail {

class compaction_thread {
public:
    compaction_thread() = default;
    compaction_thread(const compaction_thread&) = delete;
    compaction_thread& operator=(const compaction_thread&) = delete;
    ~compaction_thread() { stop(); }

    /// Asks for a job, which runs `job` on the thread (started now if none runs). Cheap
    /// while a job is requested; a request made while a job is under way runs it again
    /// afterwards (that job may have chosen its segments before the writes that made
    /// this request). Ignored once stopped, until resume().
    void request(const std::function<void()>& job) {
        if (pending_.load(std::memory_order_relaxed)) return;
        const std::lock_guard lock(mutex_);
        if (stopped_) return;
        if (!thread_.joinable()) {
            job_ = job;
            try {
                thread_ = std::thread([this] { loop(); });
            } catch (const std::system_error&) {
                return;  // no thread to be had now: a later write asks again
            }
        }
        pending_.store(true, std::memory_order_relaxed);
        wake_.notify_all();
    }

    /// Whether the job under way should stop at its next chunk: a hold or stop() waits.
    [[nodiscard]] bool interrupted() const noexcept {
        return holds_.load(std::memory_order_relaxed) != 0 || stopping_.load(std::memory_order_relaxed);
    }

    /// Keeps jobs off until the guard it returns is destroyed; waits for the one under way.
    class hold_guard {
    public:
        explicit hold_guard(compaction_thread& owner) : owner_(owner) {}
        hold_guard(const hold_guard&) = delete;
        hold_guard& operator=(const hold_guard&) = delete;
        ~hold_guard() { owner_.release(); }

    private:
        compaction_thread& owner_;
    };
    [[nodiscard]] hold_guard hold() {
        std::unique_lock lock(mutex_);
        holds_.fetch_add(1, std::memory_order_relaxed);
        idle_.wait(lock, [&] { return !running_.load(std::memory_order_relaxed); });
        return hold_guard(*this);
    }

    /// A count that rises each time the job reports progress (progressed()) or ends;
    /// read it before checking whether to wait, and pass it to wait_for_progress.
    [[nodiscard]] std::uint64_t progress() {
        const std::lock_guard lock(mutex_);
        return progress_;
    }

    /// Called by the job when it has reclaimed something: wakes the writers waiting for it.
    void progressed() {
        const std::lock_guard lock(mutex_);
        ++progress_;
        progress_made_.notify_all();
    }

    /// Waits until progress() has moved past `seen`, or the thread has no job under way
    /// or requested, or it is stopped, or `deadline` has passed. False unless progress
    /// was made: the caller then waits no more.
    bool wait_for_progress(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        const auto done = [&] { return progress_ != seen || stopped_ || !busy(); };
        if (!done()) {
            stalls_.fetch_add(1, std::memory_order_relaxed);
            progress_made_.wait_until(lock, deadline, done);
        }
        return progress_ != seen;
    }

    /// The calls to wait_for_progress() that waited, since the last resume(): writers
    /// the jobs held back (stats().write_stalls).
    [[nodiscard]] std::uint64_t stalls() const noexcept { return stalls_.load(std::memory_order_relaxed); }

    /// Ends the thread once the job under way, and any requested before this call, have
    /// run to their end; requests are ignored from now until resume(). A hold in effect
    /// delays it until released. Never call it from the job.
    void finish() {
        {
            std::unique_lock lock(mutex_);
            stopped_ = true;
            progress_made_.notify_all();
            idle_.wait(lock, [&] { return !busy() || !thread_.joinable(); });
        }
        stop();
    }

    /// Ends the thread once the job under way, if any, has stopped; requests are ignored
    /// afterwards until resume(). Never call it from the job.
    void stop() {
        std::thread ending;
        {
            const std::lock_guard lock(mutex_);
            stopped_ = true;
            progress_made_.notify_all();
            stopping_.store(true, std::memory_order_relaxed);
            ending = std::move(thread_);
            wake_.notify_all();
        }
        if (ending.joinable()) ending.join();
        const std::lock_guard lock(mutex_);
        stopping_.store(false, std::memory_order_relaxed);
        pending_.store(false, std::memory_order_relaxed);
    }

    /// Takes requests again after stop() (the store was opened again).
    void resume() {
        const std::lock_guard lock(mutex_);
        stopped_ = false;
        stalls_.store(0, std::memory_order_relaxed);
    }

private:
    /// Whether a job runs or waits to run; with mutex_ held.
    [[nodiscard]] bool busy() const noexcept {
        return running_.load(std::memory_order_relaxed) || pending_.load(std::memory_order_relaxed);
    }

    void release() {
        const std::lock_guard lock(mutex_);
        if (holds_.fetch_sub(1, std::memory_order_relaxed) == 1) wake_.notify_all();
    }

    void loop() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] {
                return stopping_.load(std::memory_order_relaxed) ||
                       (pending_.load(std::memory_order_relaxed) && holds_.load(std::memory_order_relaxed) == 0);
            });
            if (stopping_.load(std::memory_order_relaxed)) return;
            pending_.store(false, std::memory_order_relaxed);
            running_.store(true, std::memory_order_relaxed);
            lock.unlock();
            job_();
            lock.lock();
            running_.store(false, std::memory_order_relaxed);
            ++progress_;
            idle_.notify_all();
            progress_made_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;           // the thread waits here for a request or stop()
    std::condition_variable idle_;           // hold() and finish() wait here for the job under way to end
    std::condition_variable progress_made_;  // writers wait here for the job's progress
    std::uint64_t progress_ = 0;
    std::function<void()> job_;
    std::thread thread_;
    bool stopped_ = false;
    // Changed under mutex_; read without it as hints (request's fast path, interrupted()).
    std::atomic<bool> pending_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<int> holds_{0};
    std::atomic<std::uint64_t> stalls_{0};  // changed under mutex_; read without it by stats()
};

}  // namespace kvforge::detail
