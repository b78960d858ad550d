#pragma once
/// \file store_directory.hpp
/// The directory that holds a persistent store: created on first open, locked against a
/// second opener, listed on recovery, and fsynced whenever a file in it appears, is
/// renamed or disappears.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../error.hpp"
#include "data_file.hpp"

namespace kvforge::detail {

/// A store's directory, held open and locked for as long as the store is open.
template <class IO>
class store_directory {
public:
    /// The lock file's name. It holds no data; flock() on it marks the store as open.
    static constexpr std::string_view lock_name = "LOCK";

    /// Creates the directory if it is missing (its parent must exist) and takes the lock.
    bool open(IO& io, std::string_view path, std::error_code& ec) {
        io_ = &io;
        path_ = std::string(path.empty() ? "." : path);
        struct stat info {};
        if (io.stat(path_.c_str(), &info) != 0) {
            if (errno != ENOENT) {
                fail_errno(ec, errno, "stat " + path_);
                return false;
            }
            if (io.mkdir(path_.c_str(), 0755) != 0) {
                const int error = errno;
                fail_errno(ec, error,
                           error == ENOENT ? "create store directory " + path_ + " (its parent directory does not exist)"
                                           : "create store directory " + path_);
                return false;
            }
            // The new directory's entry lives in its parent: sync that too.
            if (!sync_path(parent_of(path_), ec)) return false;
        } else if (!S_ISDIR(info.st_mode)) {
            // In the system category, as the errors of the calls around it are.
            fail(ec, std::error_code(ENOTDIR, std::system_category()),
                 path_ + " is not a directory; a kvforge store is a directory of files (nothing was changed)");
            return false;
        }
        if (!lock_.open(io, file_path(lock_name), O_RDWR | O_CREAT, ec)) return false;
        if (retry_on_eintr([&] { return io.flock(lock_.descriptor(), LOCK_EX | LOCK_NB); }) != 0) {
            const int error = errno;
            if (error == EWOULDBLOCK) {
                fail(ec, errc::store_locked,
                     path_ + " is already open, in this process or another; close it there first");
            } else {
                fail_errno(ec, error, "lock " + lock_.path());
            }
            lock_.close();
            return false;
        }
        return true;
    }

    /// Releases the lock.
    void close() noexcept { lock_.close(); }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::string file_path(std::string_view name) const { return path_ + "/" + std::string(name); }

    /// The names of the directory's entries.
    bool list(std::vector<std::string>& names, std::error_code& ec) const {
        if (io_->list_directory(path_.c_str(), names) != 0) {
            fail_errno(ec, errno, "list " + path_);
            return false;
        }
        return true;
    }

    /// Makes the directory's entries durable: after a file was created, renamed or removed.
    bool sync(std::error_code& ec) const { return sync_path(path_, ec); }

    bool rename(std::string_view from, std::string_view to, std::error_code& ec) const {
        const std::string from_path = file_path(from);
        const std::string to_path = file_path(to);
        if (io_->rename(from_path.c_str(), to_path.c_str()) != 0) {
            fail_errno(ec, errno, "rename " + from_path + " to " + to_path);
            return false;
        }
        return true;
    }

    bool remove(std::string_view name, std::error_code& ec) const {
        const std::string target = file_path(name);
        if (io_->unlink(target.c_str()) != 0 && errno != ENOENT) {
            fail_errno(ec, errno, "remove " + target);
            return false;
        }
        return true;
    }

private:
    static std::string parent_of(const std::string& path) {
        const auto slash = path.find_last_not_of('/') == std::string::npos ? std::string::npos
                                                                            : path.rfind('/', path.find_last_not_of('/'));
        if (slash == std::string::npos) return ".";
        return slash == 0 ? "/" : path.substr(0, slash);
    }

    bool sync_path(const std::string& directory, std::error_code& ec) const {
        data_file<IO> handle;
        if (!handle.open(*io_, directory, O_RDONLY | O_DIRECTORY, ec)) return false;
        if (retry_on_eintr([&] { return io_->fsync(handle.descriptor()); }) != 0) {
            fail_errno(ec, errno, "fsync directory " + directory);
            return false;
        }
        return true;
    }

    IO* io_ = nullptr;
    std::string path_;
    data_file<IO> lock_;
};

}  // namespace kvforge::detail
