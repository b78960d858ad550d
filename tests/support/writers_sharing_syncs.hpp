#pragma once
// Two sync_each writers that keep writing, on a disk whose flush is slow: how many syncs
// their writes took. A store that makes them share syncs takes about one for two writes;
// one whose writers take turns, a sync each, takes nearly one a write.

#include <kvforge/io/posix.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace kvforge_test {

/// POSIX I/O whose fdatasync takes 10 ms more: long beside a put, even under a sanitizer.
struct slow_flush_io : kvforge::posix_io {
    int fdatasync(int fd) noexcept {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return kvforge::posix_io::fdatasync(fd);
    }
};

/// The syncs that writes puts, half from each of two threads, took in db (a thread_safe
/// sync_each store over slow_flush_io).
template <class Store>
std::uint64_t syncs_of_two_writers(Store& db, int writes) {
    const std::uint64_t before = db.stats().syncs;
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
        writers.emplace_back([&db, t, writes] {
            for (int i = 0; i < writes / 2; ++i) db.put("t" + std::to_string(t) + "/" + std::to_string(i), "v");
        });
    }
    for (std::thread& writer : writers) writer.join();
    return db.stats().syncs - before;
}

}  // namespace kvforge_test
