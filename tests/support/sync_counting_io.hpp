#pragma once
// POSIX I/O that counts a store's fdatasync and fsync calls, from every thread; copies
// share the count, so a test keeps one copy and hands the store another.

#include <kvforge/io/posix.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace kvforge_test {

struct sync_counting_io : kvforge::posix_io {
    std::shared_ptr<std::atomic<std::uint64_t>> syncs = std::make_shared<std::atomic<std::uint64_t>>(0);
    int fdatasync(int fd) noexcept {
        ++*syncs;
        return kvforge::posix_io::fdatasync(fd);
    }
    int fsync(int fd) noexcept {
        ++*syncs;
        return kvforge::posix_io::fsync(fd);
    }
};

}  // namespace kvforge_test
