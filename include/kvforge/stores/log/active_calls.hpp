#pragma once
/// \file active_calls.hpp
/// A count of the calls that use a store's writer without holding its locks (a writer
/// waiting for its sync, a caller of wait_durable), so that close() can wait for them
/// to finish before it destroys the writer.

#include <atomic>

namespace kvforge::detail {

/// The calls in progress that close() must wait for. Calls enter while the store is
/// known to be open (under one of its locks) and leave when done with the writer.
template <bool Concurrent>
class active_calls {
public:
    void enter() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }
    /// The release pairs with wait_idle's acquire: whatever a call did with the writer
    /// happens before close() destroys it.
    void leave() noexcept {
        if (count_.fetch_sub(1, std::memory_order_release) == 1) count_.notify_all();
    }
    /// Blocks until no call is in progress; no call may enter meanwhile.
    void wait_idle() const noexcept {
        for (int n = count_.load(std::memory_order_acquire); n != 0; n = count_.load(std::memory_order_acquire)) {
            count_.wait(n, std::memory_order_acquire);
        }
    }

private:
    std::atomic<int> count_{0};
};

/// With one thread at a time, no call can be in progress while close() runs.
template <>
class active_calls<false> {
public:
    void enter() noexcept {}
    void leave() noexcept {}
    void wait_idle() const noexcept {}
};

/// One call in progress, from construction to destruction (also when it throws).
template <bool Concurrent>
class active_call {
public:
    explicit active_call(active_calls<Concurrent>& calls) noexcept : calls_(calls) { calls_.enter(); }
    active_call(const active_call&) = delete;
    active_call& operator=(const active_call&) = delete;
    ~active_call() { calls_.leave(); }

private:
    active_calls<Concurrent>& calls_;
};

}  // namespace kvforge::detail
