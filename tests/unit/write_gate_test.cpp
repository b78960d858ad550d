// lock_after_waiters, which the compaction thread takes the write gate and the exclusive
// lock with between its many short holds: the threads waiting for the lock when it is
// called have the lock before it returns, rather than finding it taken again each time
// they wake.

#include <catch2/catch.hpp>

#include <kvforge/detail/striped.hpp>
#include <kvforge/stores/log/write_gate.hpp>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace {

/// Waits until waiting() says one thread waits; false after ten seconds.
template <class Waiting>
bool one_waits(Waiting waiting) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waiting() != 1) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::yield();
    }
    return true;
}

/// Who had the lock, in order; each appends under the lock it has.
struct turns {
    std::mutex mutex;
    std::string order;
    void take(char who) {
        const std::lock_guard lock(mutex);
        order += who;
    }
};

}  // namespace

TEST_CASE("lock_after_waiters lets a writer waiting for the write gate have it first", "[threads][locks]") {
    kvforge::detail::write_gate gate;
    turns seen;
    gate.lock();
    std::thread writer([&] {
        gate.lock();
        seen.take('w');
        gate.unlock();
    });
    REQUIRE(one_waits([&] { return gate.waiting(); }));
    gate.unlock();
    gate.lock_after_waiters();
    seen.take('c');
    CHECK(gate.waiting() == 0);
    gate.unlock();
    writer.join();
    CHECK(seen.order == "wc");
}

TEST_CASE("lock_after_waiters returns at once when no thread waits for the write gate", "[threads][locks]") {
    kvforge::detail::write_gate gate;
    gate.lock_after_waiters();
    CHECK_FALSE(gate.try_lock());
    gate.unlock();
    CHECK(gate.waiting() == 0);
}

TEST_CASE("lock_after_waiters lets a reader kept waiting by a writer have the lock first", "[threads][locks]") {
    kvforge::detail::striped_shared_mutex mutex;
    turns seen;
    mutex.lock();
    std::thread reader([&] {
        mutex.lock_shared();
        seen.take('r');
        mutex.unlock_shared();
    });
    REQUIRE(one_waits([&] { return mutex.waiting_readers(); }));
    mutex.unlock();
    mutex.lock_after_waiters();
    seen.take('c');
    CHECK(mutex.waiting_readers() == 0);
    mutex.unlock();
    reader.join();
    CHECK(seen.order == "rc");
}
