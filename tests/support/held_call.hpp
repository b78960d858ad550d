#pragma once
// A point in an I/O policy where a store's calls wait, once the test arms it, until the
// test releases them: a write, sync or compaction held in flight for as long as the
// test needs, with no sleep. The I/O policy calls pass(); the test calls arm(), then
// wait_held() and release().

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kvforge_test {

class held_call {
public:
    /// From now until release(), every call that passes here waits.
    void arm() {
        const std::lock_guard lock(mutex_);
        armed_ = true;
    }

    /// Called by the I/O policy: waits while armed and not yet released.
    void pass() {
        std::unique_lock lock(mutex_);
        if (!armed_ || released_) return;
        held_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return released_; });
    }

    /// Waits until a call is held, at most timeout; whether one is.
    template <class Rep, class Period>
    [[nodiscard]] bool wait_held(std::chrono::duration<Rep, Period> timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return held_; });
    }

    /// Lets every held call, and every later one, go on.
    void release() {
        const std::lock_guard lock(mutex_);
        released_ = true;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool armed_ = false;
    bool held_ = false;
    bool released_ = false;
};

}  // namespace kvforge_test
