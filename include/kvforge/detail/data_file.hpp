#pragma once
/// \file data_file.hpp
/// One open file of a persistent store, read and written through the I/O policy.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "../error.hpp"
#include "retry.hpp"

namespace kvforge::detail {

/// Whether an I/O policy can ask the kernel to start writing a range of a file back to
/// disk without waiting for it, as Linux sync_file_range() does (see io_policy_with_writeback).
template <class IO>
concept starts_writeback = requires(IO& io, int fd, off_t offset, unsigned flags) {
    { io.sync_file_range(fd, offset, offset, flags) } -> std::same_as<int>;
};

/// An open file: its descriptor, its path for error messages, and whole-buffer reads
/// and writes that loop over short transfers. Calls a signal interrupts are repeated,
/// whatever the I/O policy does about EINTR.
///
/// When the I/O policy can (starts_writeback), every writeback_piece bytes written ask the
/// kernel to start writing them to disk without waiting, so that a later sync waits only
/// for the bytes written since: a writer's sync of a large file (a segment that closes)
/// then takes about as long as the last piece's write to disk, not the whole file's.
template <class IO>
class data_file {
public:
    data_file() = default;
    data_file(const data_file&) = delete;
    data_file& operator=(const data_file&) = delete;
    data_file(data_file&& other) noexcept { swap(other); }
    data_file& operator=(data_file&& other) noexcept {
        data_file moved(std::move(other));
        swap(moved);
        return *this;
    }
    ~data_file() { close(); }

    /// Bytes written between two requests to start their writeback.
    static constexpr std::uint64_t writeback_piece = std::uint64_t{1} << 20;

    /// Opens path with open(2) flags; false with ec set on failure.
    bool open(IO& io, std::string path, int flags, std::error_code& ec) {
        close();
        io_ = &io;
        path_ = std::move(path);
        fd_ = retry_on_eintr([&] { return io.open(path_.c_str(), flags, 0644); });
        if (fd_ < 0) {
            fail_errno(ec, errno, "open " + path_);
            return false;
        }
        return true;
    }

    /// Closes the file; a failure to close is not reported, since every byte that
    /// matters was synced before.
    void close() noexcept {
        if (fd_ >= 0) io_->close(fd_);
        fd_ = -1;
        forget_unstarted();
    }

    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    /// Records that the file now has another name, for error messages.
    void renamed(std::string path) { path_ = std::move(path); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] int descriptor() const noexcept { return fd_; }

    /// Reads exactly size bytes at offset.
    bool read(std::uint64_t offset, char* into, std::size_t size, std::error_code& ec) const {
        std::size_t got = 0;
        return read_at_least(offset, into, size, size, got, ec);
    }

    /// Reads up to size bytes at offset, fewer only at the end of the file, and at least
    /// min_size (else the file ends where a record should be); got says how many.
    bool read_at_least(std::uint64_t offset, char* into, std::size_t min_size, std::size_t size, std::size_t& got,
                       std::error_code& ec) const {
        got = 0;
        while (got < size) {
            const ssize_t n =
                retry_on_eintr([&] { return io_->pread(fd_, into + got, size - got, static_cast<off_t>(offset + got)); });
            if (n < 0) {
                fail_errno(ec, errno, "read " + path_ + " at offset " + std::to_string(offset + got));
                return false;
            }
            if (n == 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got < min_size) {
            fail(ec, errc::corrupt_record,
                 path_ + ": ends before offset " + std::to_string(offset + min_size) + " where a record should be");
            return false;
        }
        return true;
    }

    /// Reads exactly the bytes of two buffers at offset, in one system call when it can.
    bool read2(std::uint64_t offset, char* first, std::size_t first_size, char* second, std::size_t second_size,
               std::error_code& ec) const {
        iovec parts[2] = {{first, first_size}, {second, second_size}};
        const ssize_t n = retry_on_eintr([&] { return io_->preadv(fd_, parts, 2, static_cast<off_t>(offset)); });
        if (n == static_cast<ssize_t>(first_size + second_size)) return true;
        if (n < 0) {
            fail_errno(ec, errno, "read " + path_ + " at offset " + std::to_string(offset));
            return false;
        }
        // A short read: finish part by part.
        const auto done = static_cast<std::size_t>(n);
        if (done < first_size) {
            return read(offset + done, first + done, first_size - done, ec) &&
                   read(offset + first_size, second, second_size, ec);
        }
        return read(offset + done, second + (done - first_size), second_size - (done - first_size), ec);
    }

    /// Writes all of bytes at offset.
    bool write(std::uint64_t offset, std::string_view bytes, std::error_code& ec) {
        const char* p = bytes.data();
        std::size_t left = bytes.size();
        while (left > 0) {
            const ssize_t n = retry_on_eintr([&] { return io_->pwrite(fd_, p, left, static_cast<off_t>(offset)); });
            if (n < 0) {
                fail_errno(ec, errno, "write " + path_ + " at offset " + std::to_string(offset));
                return false;
            }
            // A regular file takes some bytes or reports why not; repeating a write that took
            // none could go on for ever, so it fails as a device error would.
            if (n == 0) {
                fail_errno(ec, EIO,
                           "write " + path_ + " at offset " + std::to_string(offset) + ": pwrite of " +
                               std::to_string(left) + " bytes wrote nothing");
                return false;
            }
            p += n;
            left -= static_cast<std::size_t>(n);
            offset += static_cast<std::uint64_t>(n);
        }
        if constexpr (starts_writeback<IO>) note_written(offset - bytes.size(), offset);
        return true;
    }

    /// Asks the kernel to start writing back every byte written whose writeback was not
    /// asked for yet, however few (a write asks only once they make a piece): so that a
    /// sync to come waits for none of them. Called by the file's writer, as writes are.
    void start_writeback() noexcept {
        if constexpr (starts_writeback<IO>) request_writeback();
    }

    /// fdatasync: the file's bytes and size are on disk when it returns true.
    bool sync(std::error_code& ec) {
        if (retry_on_eintr([&] { return io_->fdatasync(fd_); }) != 0) {
            fail_errno(ec, errno, "fdatasync " + path_);
            return false;
        }
        return true;
    }

    bool truncate(std::uint64_t size, std::error_code& ec) {
        if (retry_on_eintr([&] { return io_->ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
            fail_errno(ec, errno, "truncate " + path_ + " to " + std::to_string(size) + " bytes");
            return false;
        }
        return true;
    }

    /// The file's size in bytes, or nothing with ec set.
    bool size(std::uint64_t& out, std::error_code& ec) const {
        struct stat info {};
        if (io_->fstat(fd_, &info) != 0) {
            fail_errno(ec, errno, "stat " + path_);
            return false;
        }
        out = static_cast<std::uint64_t>(info.st_size);
        return true;
    }

private:
    void swap(data_file& other) noexcept {
        std::swap(io_, other.io_);
        std::swap(fd_, other.fd_);
        std::swap(path_, other.path_);
        std::swap(unstarted_begin_, other.unstarted_begin_);
        std::swap(unstarted_end_, other.unstarted_end_);
    }

    /// Adds [begin, end) to the bytes whose writeback has not been asked for, and asks for
    /// it once they make a piece. Only writes call it (one thread at a time, as the writers
    /// promise), never sync(), which sync_each runs beside a write: a request may cover
    /// bytes a sync has written since, which costs the kernel a look at clean pages.
    /// Only SYNC_FILE_RANGE_WRITE, never its waiting flags: waiting would take the time
    /// this saves, and a wait would report (and clear) a failed writeback that the next
    /// sync must report. The request is only advice, so a failure of its own is not one
    /// of the file's: the next sync tells.
    void note_written(std::uint64_t begin, std::uint64_t end) noexcept {
        if (begin >= end) return;
        unstarted_begin_ = std::min(unstarted_begin_, begin);
        unstarted_end_ = std::max(unstarted_end_, end);
        if (unstarted_end_ - unstarted_begin_ >= writeback_piece) request_writeback();
    }

    void request_writeback() noexcept {
        if (unstarted_begin_ >= unstarted_end_) return;
        retry_on_eintr([&] {
            return io_->sync_file_range(fd_, static_cast<off_t>(unstarted_begin_),
                                        static_cast<off_t>(unstarted_end_ - unstarted_begin_), sync_file_range_write);
        });
        forget_unstarted();
    }

    void forget_unstarted() noexcept {
        unstarted_begin_ = std::numeric_limits<std::uint64_t>::max();
        unstarted_end_ = 0;
    }

#ifdef SYNC_FILE_RANGE_WRITE
    static constexpr unsigned sync_file_range_write = SYNC_FILE_RANGE_WRITE;
#else
    static constexpr unsigned sync_file_range_write = 2;  // Linux's value, for policies that simulate the call
#endif

    IO* io_ = nullptr;
    int fd_ = -1;
    std::string path_;
    // The bytes written since writeback was last asked for.
    std::uint64_t unstarted_begin_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t unstarted_end_ = 0;
};

}  // namespace kvforge::detail
