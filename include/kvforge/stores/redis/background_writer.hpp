#pragma once
/// \file background_writer.hpp
/// async_worker<>'s part of a redis_cluster store: the numbers its writes get, the thread
/// that sends the buffered ones and waits for a replica to have them, and the waits of
/// writers and of wait_durable(). Everything but durable() runs under the store's mutex:
/// the thread takes it, and callers pass their lock of it.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "../../error.hpp"

namespace kvforge::detail::redis {

class background_writer {
public:
    using lock_type = std::unique_lock<std::mutex>;

    /// Starts the thread. It waits, holding mutex, until has_work() or a sent write still
    /// waits for a replica, then calls send(ec), which sends the buffer and waits for a
    /// replica (WAIT); a failure stops it for good (failure() says which).
    void start(std::mutex& mutex, std::function<bool()> has_work, std::function<void(std::error_code&)> send) {
        stopping_ = false;
        failure_.clear();
        thread_ = std::thread([this, &mutex, has_work = std::move(has_work), send = std::move(send)] {
            lock_type lock(mutex);
            while (true) {
                work_ready_.wait(lock, [&] { return stopping_ || (!failure_ && (has_work() || sent_ > durable_.load())); });
                if (stopping_) return;
                std::error_code ec;
                send(ec);
                if (ec) {
                    failure_ = ec;
                    failure_message_ = last_error_detail();
                }
                progress_.notify_all();
            }
        });
    }

    /// Stops the thread, releasing lock while it ends; the caller sends what is left.
    void stop(lock_type& lock) {
        stopping_ = true;
        work_ready_.notify_all();
        lock.unlock();
        thread_.join();
        lock.lock();
    }

    /// Numbers a write just put in the buffer, and wakes the thread; returns its number.
    std::uint64_t number_buffered() {
        work_ready_.notify_one();
        return ++appended_;
    }

    /// Numbers a write just sent at once (an erase, a batch), after every write before it
    /// was sent; returns its number.
    std::uint64_t number_sent() {
        ++appended_;
        mark_sent();
        return appended_;
    }

    /// Records that every write numbered so far is on its master, so that the thread
    /// waits for a replica to have them.
    void mark_sent() {
        sent_ = appended_;
        work_ready_.notify_one();
        progress_.notify_all();
    }

    /// The last write on its master: what a WAIT that starts now makes durable.
    [[nodiscard]] std::uint64_t sent() const noexcept { return sent_; }

    /// Records that a replica has every write up to sent (a WAIT that started at sent()).
    void mark_durable(std::uint64_t sent) {
        if (sent > durable_.load()) durable_.store(sent);
        progress_.notify_all();
    }

    /// Every write up to this number is on a replica; read without the lock.
    [[nodiscard]] std::uint64_t durable() const noexcept { return durable_.load(); }

    /// Waits, releasing lock, until done() holds after the thread made progress or the
    /// store changed (wake_waiters()). The thread is woken first, for work it may not know of.
    template <class Done>
    void wait(lock_type& lock, Done&& done) {
        work_ready_.notify_one();
        progress_.wait(lock, done);
    }

    /// Wakes every writer and wait_durable() waiting, to look again (the store closed).
    void wake_waiters() { progress_.notify_all(); }

    /// The thread's failure, if it failed; every later write and wait fails with it.
    [[nodiscard]] const std::error_code& failure() const noexcept { return failure_; }
    /// Reports failure() in ec: errc::store_failed, with what the thread met.
    void report_failure(std::error_code& ec) const {
        fail(ec, errc::store_failed,
             "redis_cluster: a write sent in the background failed (" + failure_message_ +
                 "); writes made since may be lost: close and open the store again");
    }

private:
    // Every write up to appended_ was handed a number, up to sent_ is on its master, up
    // to durable_ on a replica.
    std::uint64_t appended_ = 0;
    std::uint64_t sent_ = 0;
    std::atomic<std::uint64_t> durable_{0};
    std::condition_variable work_ready_;  ///< the thread waits on it
    std::condition_variable progress_;    ///< writers and wait_durable() wait on it
    std::error_code failure_;
    std::string failure_message_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace kvforge::detail::redis
