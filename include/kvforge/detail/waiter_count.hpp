#pragma once
/// \file waiter_count.hpp
/// The threads that had to wait for a lock, and those of them that have had it since:
/// what lets a thread that takes the lock again and again (the compaction thread) let
/// the threads already waiting go first (write_gate.hpp, striped.hpp).

#include <atomic>
#include <cstdint>

namespace kvforge::detail {

class waiter_count {
public:
    /// A thread found the lock taken and waits for it; counted once per acquisition.
    void arrive() noexcept { arrived_.fetch_add(1, std::memory_order_seq_cst); }

    /// A thread counted by arrive() has the lock now.
    void admit() noexcept {
        admitted_.fetch_add(1, std::memory_order_seq_cst);
        admitted_.notify_all();
    }

    /// The threads waiting now.
    [[nodiscard]] std::uint64_t waiting() const noexcept {
        // Admitted first: no count of arrivals read after it is below it.
        const std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst);
        return arrived_.load(std::memory_order_seq_cst) - admitted;
    }

    /// Returns once every thread waiting at the call has had the lock.
    void wait_for_those_waiting() const noexcept {
        const std::uint64_t arrived = arrived_.load(std::memory_order_seq_cst);
        // Each thread counted in arrived is admitted once: the count reaches it.
        for (std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst); admitted < arrived;
             admitted = admitted_.load(std::memory_order_seq_cst)) {
            admitted_.wait(admitted, std::memory_order_seq_cst);
        }
    }

private:
    std::atomic<std::uint64_t> arrived_{0};
    std::atomic<std::uint64_t> admitted_{0};
};

}  // namespace kvforge::detail
