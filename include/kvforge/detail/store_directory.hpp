#pragma once
/// \file store_directory.hpp
/// The directory that holds a persistent store: checked to be a store's (it has a
/// MANIFEST) or to hold only kvforge's files, created on first open when allowed, locked
/// by a writer for as long as it holds the store open, and fsynced whenever a file in it
/// appears, is renamed or disappears.
///
/// Only writers lock: two writers exclude each other, while readers (read-only opens)
/// take no lock at all, so that they open beside a writer and a writer opens beside them.
/// A reader changes no file, and reads what the writer published (the segments and hints
/// it renamed into place, and the records it wrote to them); recovery.hpp says how it
/// meets a writer's concurrent changes.
///
/// Every file operation takes a store_file_name (store_files.hpp), so nothing but a
/// file of kvforge's own is ever opened, removed, renamed or truncated here. A store's
/// directory may hold other entries beside its files (a user's notes.txt, a .DS_Store),
/// as LevelDB's and RocksDB's may: an existing store, known by its MANIFEST, opens with
/// them there and never reads, changes or removes them. A directory without a MANIFEST
/// that holds such an entry is refused, so that no store is made among a user's files.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "data_file.hpp"
#include "store_files.hpp"

namespace kvforge::detail {

/// What opening a store's directory may do and must find.
struct directory_mode {
    bool create = true;          ///< create the directory when it is missing
    bool require_store = false;  ///< refuse (store_not_found) a directory without a data file
    bool refuse_store = false;   ///< refuse (store_exists) a directory with a data file
    bool reader = false;         ///< a read-only open: takes no lock and creates nothing
};

/// fsync of the directory at path, so that a file created, renamed or removed in it stays so.
template <class IO>
bool sync_directory(IO& io, const std::string& path, std::error_code& ec) {
    data_file<IO> handle;
    if (!handle.open(io, path, O_RDONLY | O_DIRECTORY, ec)) return false;
    if (retry_on_eintr([&] { return io.fsync(handle.descriptor()); }) != 0) {
        fail_errno(ec, errno, "fsync directory " + path);
        return false;
    }
    return true;
}

/// A store's directory, held open and locked for as long as the store is open.
template <class IO>
class store_directory {
public:
    /// Opens the directory at path as a store's. In this order, so that a refusal
    /// changes nothing: an empty path is refused; a missing directory is created (its
    /// parent must exist) when mode.create, else refused; a directory without a MANIFEST
    /// holding any entry kvforge does not write is refused; mode.require_store and mode.refuse_store are
    /// checked; then a writer takes the lock, creating LOCK.
    bool open(IO& io, std::string_view path, const directory_mode& mode, std::error_code& ec) {
        io_ = &io;
        path_ = std::string(path);
        if (path_.empty()) {
            fail(ec, errc::invalid_argument,
                 "an empty path names no store directory; give the directory's path (\".\" for the current one)");
            return false;
        }
        struct stat info {};
        if (io.stat(path_.c_str(), &info) != 0) {
            const int error = errno;
            if (error != ENOENT) {
                fail_errno(ec, error, "stat " + path_);
                return false;
            }
            if (!mode.create) {
                fail(ec, errc::store_not_found,
                     path_ +
                         " does not exist; nothing was changed (an open creates a store there only with "
                         "options::create_if_missing and without options::read_only)");
                return false;
            }
            if (io.mkdir(path_.c_str(), 0755) != 0) {
                const int failed = errno;
                fail_errno(ec, failed,
                           failed == ENOENT
                               ? "create store directory " + path_ + " (its parent directory does not exist)"
                               : "create store directory " + path_);
                return false;
            }
            // The new directory's entry lives in its parent: sync that too.
            if (!sync_directory(*io_, parent_of(path_), ec)) return false;
            return mode.reader || lock(ec);
        }
        if (!S_ISDIR(info.st_mode)) {
            // In the system category, as the errors of the calls around it are.
            fail(ec, std::error_code(ENOTDIR, std::system_category()),
                 path_ + " is not a directory; a kvforge store is a directory of files (nothing was changed)");
            return false;
        }
        std::vector<store_file_name> names;
        if (!check_entries(names, ec)) return false;
        const bool holds_data = store_directory::holds_data(names);
        if (mode.require_store && !holds_data) {
            fail(ec, errc::store_not_found,
                 path_ +
                     " holds no kvforge data file, and this open may not create a store "
                     "(options::create_if_missing is false, or options::read_only); nothing was created");
            return false;
        }
        if (mode.refuse_store && holds_data) {
            fail(ec, errc::store_exists,
                 path_ + " already holds a store, and options::error_if_exists is set; nothing was changed");
            return false;
        }
        return mode.reader || lock(ec);
    }

    /// Releases the lock (a writer's).
    void close() noexcept { lock_.close(); }

    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    [[nodiscard]] std::string file_path(const store_file_name& name) const { return path_ + "/" + name.str(); }

    /// The names of kvforge's files in the directory. Entries of other names, which a
    /// user may put beside a store's files, are left out: kvforge never touches them.
    bool list(std::vector<store_file_name>& names, std::error_code& ec) const {
        std::vector<std::string> entries;
        if (!list_entries(entries, ec)) return false;
        names.clear();
        for (const std::string& entry : entries) {
            if (std::optional<store_file_name> name = store_file_name::recognise(entry)) names.push_back(*name);
        }
        return true;
    }

    /// Each of kvforge's files in the directory with its size (~0 when it went between the
    /// listing and its stat): a reader compares them before and after a failed open, to
    /// tell a writer's change under way (a compaction retiring a segment it listed) from
    /// damage, which stays as it is.
    bool list_sizes(std::vector<std::pair<std::string, std::uint64_t>>& out, std::error_code& ec) const {
        std::vector<store_file_name> names;
        if (!list(names, ec)) return false;
        out.clear();
        for (const store_file_name& name : names) {
            struct stat info {};
            const bool there = io_->stat(file_path(name).c_str(), &info) == 0;
            out.emplace_back(name.str(), there ? static_cast<std::uint64_t>(info.st_size) : ~std::uint64_t{0});
        }
        std::sort(out.begin(), out.end());
        return true;
    }

    /// Opens one of the store's files with open(2) flags.
    bool open_file(data_file<IO>& file, const store_file_name& name, int flags, std::error_code& ec) const {
        return file.open(*io_, file_path(name), flags, ec);
    }

    /// Makes the directory's entries durable: after a file was created, renamed or removed.
    bool sync(std::error_code& ec) const { return sync_directory(*io_, path_, ec); }

    bool rename(const store_file_name& from, const store_file_name& to, std::error_code& ec) const {
        const std::string from_path = file_path(from);
        const std::string to_path = file_path(to);
        if (io_->rename(from_path.c_str(), to_path.c_str()) != 0) {
            fail_errno(ec, errno, "rename " + from_path + " to " + to_path);
            return false;
        }
        return true;
    }

    /// Removes one of the store's files; one that is already gone is no error.
    bool remove(const store_file_name& name, std::error_code& ec) const {
        const std::string target = file_path(name);
        if (io_->unlink(target.c_str()) != 0 && errno != ENOENT) {
            fail_errno(ec, errno, "remove " + target);
            return false;
        }
        return true;
    }

    /// Removes the directory itself when it is empty (for destroy, after every file of
    /// the store is gone); one that holds something again is left as it is.
    bool remove_directory(std::error_code& ec) const {
        if (io_->rmdir(path_.c_str()) == 0) return sync_directory(*io_, parent_of(path_), ec);
        if (errno == ENOTEMPTY || errno == EEXIST) return true;
        fail_errno(ec, errno, "remove directory " + path_);
        return false;
    }

    /// The directory that holds path's last component ("." for a bare name).
    static std::string parent_of(const std::string& path) {
        const auto slash = path.find_last_not_of('/') == std::string::npos
                               ? std::string::npos
                               : path.rfind('/', path.find_last_not_of('/'));
        if (slash == std::string::npos) return ".";
        return slash == 0 ? "/" : path.substr(0, slash);
    }

    /// Whether names hold a data file, a table or a list of tables (a store's, not one half
    /// written).
    static bool holds_data(const std::vector<store_file_name>& names) {
        return std::any_of(names.begin(), names.end(), [](const store_file_name& name) {
            const bool data = name.kind() == store_file_kind::data || name.kind() == store_file_kind::table ||
                              name.kind() == store_file_kind::table_list;
            return data && !name.is_temporary();
        });
    }

private:
    /// Takes a writer's lock on LOCK (exclusive, never waiting), creating the file.
    bool lock(std::error_code& ec) {
        if (!lock_.open(*io_, file_path(store_file_name::lock()), O_RDWR | O_CREAT, ec)) return false;
        if (retry_on_eintr([&] { return io_->flock(lock_.descriptor(), LOCK_EX | LOCK_NB); }) != 0) {
            const int error = errno;
            if (error == EWOULDBLOCK) {
                fail(ec, errc::store_locked,
                     path_ +
                         " is already open for writing, in this process or another; close it there first (read-only "
                         "opens may share it with that writer)");
            } else {
                fail_errno(ec, error, "lock " + lock_.path());
            }
            lock_.close();
            return false;
        }
        return true;
    }

    /// Lists the directory; names gets the entries that are kvforge's. A directory with a
    /// MANIFEST is a store's, and the entries of other names in it are the user's, left
    /// alone; one without a MANIFEST that holds such an entry is refused.
    bool check_entries(std::vector<store_file_name>& names, std::error_code& ec) const {
        std::vector<std::string> entries;
        if (!list_entries(entries, ec)) return false;
        std::sort(entries.begin(), entries.end());
        names.clear();
        const std::string* foreign = nullptr;
        for (const std::string& entry : entries) {
            if (std::optional<store_file_name> name = store_file_name::recognise(entry)) {
                names.push_back(*name);
            } else if (foreign == nullptr) {
                foreign = &entry;
            }
        }
        if (foreign == nullptr || std::find(names.begin(), names.end(), store_file_name::manifest()) != names.end()) {
            return true;
        }
        fail(ec, errc::not_a_store,
             path_ + " holds '" + *foreign +
                 "', which kvforge did not write, and no MANIFEST, so it is no store's directory (a store's "
                 "directory has a MANIFEST; a new store is made only in a directory that holds nothing but "
                 "kvforge's files: LOCK, MANIFEST, data-*.kvlog, data-*.kvhint, data-*.kvtable, TABLES, "
                 "dictionary-*.zstd, deadlines and their .tmp); nothing was changed. Give kvforge a directory of its own, or move '" +
                 *foreign + "' out of this one");
        return false;
    }

    bool list_entries(std::vector<std::string>& entries, std::error_code& ec) const {
        if (io_->list_directory(path_.c_str(), entries) != 0) {
            fail_errno(ec, errno, "list " + path_);
            return false;
        }
        return true;
    }

    IO* io_ = nullptr;
    std::string path_;
    data_file<IO> lock_;
};

}  // namespace kvforge::detail
