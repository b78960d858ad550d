#pragma once
/// \file posix.hpp
/// kvforge::posix_io: the default I/O policy, plain POSIX system calls.
///
/// Every system call a file-backed store makes goes through its I/O policy, whose
/// members mirror the POSIX calls they stand for: same arguments, same results, and
/// errno set on failure. A policy that simulates a file system, or fails on purpose,
/// replaces this one to test what a store does under crashes and I/O errors; this one
/// adds nothing, and inlines to the bare calls. A policy need not repeat calls a signal
/// interrupts: the store repeats every call that fails with EINTR.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#if defined(__linux__) && __has_include(<linux/fs.h>)
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif

#include <cerrno>
#include <cstddef>
#include <string>
#include <vector>

#include "../concepts.hpp"

namespace kvforge {

/// I/O policy: the operating system's calls. The reference for writing an I/O policy.
struct posix_io {
    using policy_kind = kvforge::policy_kind::io;

    int open(const char* path, int flags, mode_t mode) noexcept { return ::open(path, flags | O_CLOEXEC, mode); }
    int close(int fd) noexcept { return ::close(fd); }
    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        return ::pread(fd, buffer, size, offset);
    }
    ssize_t preadv(int fd, const iovec* parts, int count, off_t offset) noexcept {
        return ::preadv(fd, parts, count, offset);
    }
    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        return ::pwrite(fd, buffer, size, offset);
    }
    int fdatasync(int fd) noexcept { return ::fdatasync(fd); }
#ifdef SYNC_FILE_RANGE_WRITE
    /// Optional (io_policy_with_writeback), Linux only: without it, a sync writes every
    /// byte written since the last one.
    int sync_file_range(int fd, off_t offset, off_t length, unsigned flags) noexcept {
        return ::sync_file_range(fd, offset, length, flags);
    }
#endif
    int fsync(int fd) noexcept { return ::fsync(fd); }
    int ftruncate(int fd, off_t size) noexcept { return ::ftruncate(fd, size); }
    int fstat(int fd, struct stat* info) noexcept { return ::fstat(fd, info); }
    int stat(const char* path, struct stat* info) noexcept { return ::stat(path, info); }
    int rename(const char* from, const char* to) noexcept { return ::rename(from, to); }
    /// Optional (io_policy_with_link): without it, backup copies every segment.
    int link(const char* from, const char* to) noexcept { return ::link(from, to); }
#ifdef FICLONE
    /// Optional (io_policy_with_clone), Linux only: without it, backup copies the bytes
    /// of every file it does not link.
    int clone_file(int from, int to) noexcept { return ::ioctl(to, FICLONE, from); }
#endif
    int unlink(const char* path) noexcept { return ::unlink(path); }
    int mkdir(const char* path, mode_t mode) noexcept { return ::mkdir(path, mode); }
    int rmdir(const char* path) noexcept { return ::rmdir(path); }
    void* mmap(void* address, std::size_t length, int protection, int flags, int fd, off_t offset) noexcept {
        return ::mmap(address, length, protection, flags, fd, offset);
    }
    int munmap(void* address, std::size_t length) noexcept { return ::munmap(address, length); }
    int flock(int fd, int operation) noexcept { return ::flock(fd, operation); }

    /// Fills names with the entries of a directory (without "." and ".."); 0 or -1 with errno.
    int list_directory(const char* path, std::vector<std::string>& names) {
        DIR* dir = ::opendir(path);
        if (dir == nullptr) return -1;
        names.clear();
        errno = 0;
        while (const dirent* entry = ::readdir(dir)) {
            const std::string name = entry->d_name;
            if (name != "." && name != "..") names.push_back(name);
        }
        const int error = errno;
        ::closedir(dir);
        errno = error;
        return error == 0 ? 0 : -1;
    }
};

static_assert(io_policy_with_link<posix_io>);
#ifdef FICLONE
static_assert(io_policy_with_clone<posix_io>);
#endif
#ifdef SYNC_FILE_RANGE_WRITE
static_assert(io_policy_with_writeback<posix_io>);
#endif

}  // namespace kvforge
