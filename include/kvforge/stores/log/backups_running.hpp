#pragma once
/// \file backups_running.hpp
/// The count of backups copying a log store's segments, and the gate that callers which
/// retire segments (compaction, clear) take only once no backup runs. A backup copies
/// closed segments with no lock held, so while one runs no segment may be retired: the
/// automatic compaction trigger asks running() and waits, and compact() and clear()
/// wait in lock_gate() without holding the gate, so that writers go on meanwhile. A store
/// over sorted tables copies from files its backup holds open, so only its close() waits
/// (stores/table/table_backend.hpp).

#include <atomic>
#include <mutex>

namespace kvforge::detail {

class backups_running {
public:
    /// A backup took its cut (with the gate held) and starts copying.
    void enter() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }

    /// The backup has read every segment it copies. The release pairs with
    /// lock_gate's acquire: the copy's reads of the segments happen before a
    /// compaction or clear() retires them.
    void leave() noexcept {
        if (count_.fetch_sub(1, std::memory_order_release) == 1) count_.notify_all();
    }

    /// Whether a backup copies the segments now; a hint unless the gate is held.
    [[nodiscard]] bool running() const noexcept { return count_.load(std::memory_order_acquire) != 0; }

    /// Takes `gate` once no backup runs, waiting for backups without holding it.
    template <class Gate>
    [[nodiscard]] std::unique_lock<Gate> lock_gate(Gate& gate) {
        std::unique_lock<Gate> lock(gate);
        for (int running = count_.load(std::memory_order_acquire); running != 0;
             running = count_.load(std::memory_order_acquire)) {
            lock.unlock();
            count_.wait(running, std::memory_order_acquire);
            lock.lock();
        }
        return lock;
    }

private:
    std::atomic<int> count_{0};  // changed by backup() alone
};

}  // namespace kvforge::detail
