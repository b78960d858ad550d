// The compaction thread's waits for progress: a writer over the stall ceiling is let go
// when the job reports progress or ends, and, when it does neither, once the time it was
// given is up, not when the job ends.

#include <catch2/catch.hpp>

#include <kvforge/stores/log/compaction_thread.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace {

/// A job that blocks until released, saying when it has started.
struct blocked_job {
    std::mutex mutex;
    std::condition_variable changed;
    bool started = false;
    bool released = false;

    void run() {
        std::unique_lock lock(mutex);
        started = true;
        changed.notify_all();
        changed.wait(lock, [&] { return released; });
    }
    bool wait_started() {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, std::chrono::seconds(10), [&] { return started; });
    }
    void release() {
        const std::lock_guard lock(mutex);
        released = true;
        changed.notify_all();
    }
};

}  // namespace

TEST_CASE("a wait for the compaction thread's progress ends at its deadline while the job makes none",
          "[compaction][threads][stall]") {
    kvforge::detail::compaction_thread thread;
    blocked_job job;
    thread.request([&] { job.run(); });
    REQUIRE(job.wait_started());

    const std::uint64_t seen = thread.progress();
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + std::chrono::milliseconds(20);
    CHECK_FALSE(thread.wait_for_progress(seen, deadline));
    CHECK(std::chrono::steady_clock::now() >= deadline);
    CHECK(thread.progress() == seen);  // the job is still under way

    job.release();
    // The job's end counts as progress.
    CHECK(thread.wait_for_progress(seen, std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    CHECK(thread.progress() != seen);
    thread.stop();
}

TEST_CASE("a wait for the compaction thread's progress ends when the job reports it, before the deadline",
          "[compaction][threads][stall]") {
    kvforge::detail::compaction_thread thread;
    blocked_job job;
    bool reported = false;
    thread.request([&] {
        thread.progressed();
        reported = true;  // read by the test only after the job ended (stop() joins)
        job.run();
    });
    REQUIRE(job.wait_started());
    // The job reported progress before it blocked: a wait from before it ends at once.
    CHECK(thread.wait_for_progress(0, std::chrono::steady_clock::now() + std::chrono::seconds(10)));
    const std::uint64_t seen = thread.progress();
    CHECK(seen == 1);
    CHECK_FALSE(thread.wait_for_progress(seen, std::chrono::steady_clock::now() + std::chrono::milliseconds(1)));
    job.release();
    thread.stop();
    CHECK(reported);
}
