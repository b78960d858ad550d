#pragma once
// sync_each writers that keep writing, on a disk whose flush is slow: how many syncs their
// writes took. Two writers that share syncs take about one for two writes; two that take
// turns, a sync each, nearly one a write.

#include <kvforge/io/posix.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace kvforge_test {

/// POSIX I/O whose fdatasync takes Millis ms more: by default long beside a put, even under
/// a sanitizer.
template <int Millis = 10>
struct slow_flush_io : kvforge::posix_io {
    int fdatasync(int fd) noexcept {
        std::this_thread::sleep_for(std::chrono::milliseconds(Millis));
        return kvforge::posix_io::fdatasync(fd);
    }
};

/// The syncs that threads writers took in db (a thread_safe sync_each store), each putting
/// writes_each keys of its own.
template <class Store>
std::uint64_t syncs_of_writers(Store& db, int threads, int writes_each) {
    const std::uint64_t before = db.stats().syncs;
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
        writers.emplace_back([&db, t, writes_each] {
            for (int i = 0; i < writes_each; ++i) db.put("t" + std::to_string(t) + "/" + std::to_string(i), "v");
        });
    }
    for (std::thread& writer : writers) writer.join();
    return db.stats().syncs - before;
}

}  // namespace kvforge_test
