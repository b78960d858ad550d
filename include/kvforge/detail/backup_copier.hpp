#pragma once
/// \file backup_copier.hpp
/// Writes a backup's directory from a store's files: the checks of the destination, the
/// copy of one file (a reflink where the I/O policy has clone_file and the file system
/// allows it, else a mebibyte at a time), a hard link, a whole file written at once, and
/// the MANIFEST last. Each file goes through a synced .tmp and a rename; the directory is
/// synced before the MANIFEST, so that a destination with a MANIFEST holds every file
/// named before it. Each engine's backup (stores/log/backup.hpp, stores/table/) says
/// which files to copy and why a link is safe for them.

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../composition.hpp"
#include "../concepts.hpp"
#include "../error.hpp"
#include "../manifest.hpp"
#include "data_file.hpp"
#include "retry.hpp"
#include "store_directory.hpp"
#include "store_files.hpp"

namespace kvforge::detail {

template <class IO>
class backup_copier {
public:
    /// source is the store's directory; the copier writes into the destination start() opens.
    backup_copier(IO& io, const store_directory<IO>& source) noexcept : io_(io), source_(source) {}

    /// Refuses (changing nothing) a destination that is not a missing or empty directory,
    /// or that is inside the store's directory; then makes it, locked as a store's.
    bool start(const std::string& dest, std::error_code& ec) {
        if (!check_destination(dest, ec)) return false;
        directory_mode mode;
        mode.refuse_store = true;
        return target_.open(io_, dest, mode, ec);
    }

    [[nodiscard]] const store_directory<IO>& target() const noexcept { return target_; }

    /// Writes the first `end` bytes of from into the backup as name. whole says that from
    /// holds exactly those bytes and never changes, so that a reflink may stand for the copy.
    bool copy(const data_file<IO>& from, const store_file_name& name, std::uint64_t end, [[maybe_unused]] bool whole,
              std::error_code& ec) {
        data_file<IO> copy;
        if (!target_.open_file(copy, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec)) return false;
        bool cloned = false;
        if constexpr (io_policy_with_clone<IO>) {
            std::uint64_t size = 0;
            std::error_code ignored;
            cloned = whole && from.size(size, ignored) && size == end &&
                     retry_on_eintr([&] { return io_.clone_file(from.descriptor(), copy.descriptor()); }) == 0;
        }
        for (std::uint64_t at = 0; !cloned && at < end;) {
            buffer_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(end - at, std::uint64_t{1} << 20)));
            if (!from.read(at, buffer_.data(), buffer_.size(), ec) || !copy.write(at, buffer_, ec)) return false;
            at += buffer_.size();
        }
        return copy.sync(ec) && target_.rename(name.temporary(), name, ec);
    }

    /// Copies the store's file `name` whole (a file written once and never changed).
    bool copy_whole(const store_file_name& name, std::error_code& ec) {
        data_file<IO> from;
        std::uint64_t size = 0;
        return source_.open_file(from, name, O_RDONLY, ec) && from.size(size, ec) && copy(from, name, size, true, ec);
    }

    /// Gives the store's file `name` the same name in the backup; false when the I/O policy
    /// has no link or the link failed (another file system, too many links, ...), which
    /// changes nothing. Only for files kvforge never writes again.
    bool link([[maybe_unused]] const store_file_name& name) {
        if constexpr (io_policy_with_link<IO>) {
            const std::string from = source_.file_path(name);
            const std::string to = target_.file_path(name);
            return retry_on_eintr([&] { return io_.link(from.c_str(), to.c_str()); }) == 0;
        } else {
            return false;
        }
    }

    /// Copies, or links when link_files asks, the store's compression dictionaries
    /// (compression/zstd_trained.hpp) into the backup. A dictionary file is written once,
    /// through a .tmp and a rename, and never changed, so a link is as correct as for a
    /// table or a closed segment. The codec that trains them removes none while a backup
    /// holds its files, so every one the copied records need is here.
    bool copy_dictionaries(bool link_files, std::error_code& ec) {
        std::vector<store_file_name> names;
        if (!source_.list(names, ec)) return false;
        for (const store_file_name& name : names) {
            if (name.kind() != store_file_kind::dictionary || name.is_temporary()) continue;
            if (link_files && link(name)) continue;
            if (!copy_whole(name, ec)) return false;
        }
        return true;
    }

    /// Writes a whole file of bytes into the backup as name.
    bool write(const store_file_name& name, std::string_view bytes, std::error_code& ec) {
        data_file<IO> file;
        return target_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) &&
               file.write(0, bytes, ec) && file.sync(ec) && target_.rename(name.temporary(), name, ec);
    }

    /// Syncs the backup's directory, then writes the MANIFEST that makes it a store, and
    /// closes it. ok says whether every file before it was written; when anything failed,
    /// ec says that the backup is incomplete. A composition whose codec names cannot stand in
    /// a manifest line leaves the copy without one, as the store itself is.
    bool finish(bool ok, const composition& recorded, std::error_code& ec) {
        ok = ok && target_.sync(ec);
        const std::string text = format_manifest(recorded);
        if (ok && !text.empty()) ok = write(store_file_name::manifest(), text, ec) && target_.sync(ec);
        target_.close();
        if (!ok) {
            fail(ec, ec,
                 last_error_detail() + "; the backup in " + target_.path() +
                     " is incomplete (it is no store without its MANIFEST): remove the directory and back up again");
        }
        return ok;
    }

private:
    bool check_destination(const std::string& dest, std::error_code& ec) {
        if (inside_store_directory(dest)) {
            fail(ec, std::error_code(EINVAL, std::system_category()),
                 dest + " is inside the store's directory " + source_.path() +
                     "; a backup kept beside the files it copies is lost with them: give backup a directory "
                     "outside it (nothing was changed)");
            return false;
        }
        struct stat info {};
        if (io_.stat(dest.c_str(), &info) != 0) {
            if (errno == ENOENT) return true;
            fail_errno(ec, errno, "stat " + dest + " (the backup's destination)");
            return false;
        }
        if (!S_ISDIR(info.st_mode)) {
            fail(ec, std::error_code(ENOTDIR, std::system_category()),
                 dest + " is not a directory; give backup a new or empty directory (nothing was changed)");
            return false;
        }
        std::vector<std::string> entries;
        if (io_.list_directory(dest.c_str(), entries) != 0) {
            fail_errno(ec, errno, "list " + dest + " (the backup's destination)");
            return false;
        }
        if (!entries.empty()) {
            fail(ec, std::error_code(ENOTEMPTY, std::system_category()),
                 dest + " is not empty (it holds '" + entries.front() +
                     "'); give backup a new or empty directory, or remove this one first (nothing was changed)");
            return false;
        }
        return true;
    }

    /// Whether dest's parent is the store's directory (compared by device and inode, so
    /// that another spelling of the path is caught too). Deeper is allowed: the
    /// directory between is a user's entry, which the store leaves alone.
    bool inside_store_directory(const std::string& dest) {
        const std::string parent = store_directory<IO>::parent_of(dest);
        struct stat store_info {};
        struct stat parent_info {};
        return io_.stat(source_.path().c_str(), &store_info) == 0 && io_.stat(parent.c_str(), &parent_info) == 0 &&
               store_info.st_dev == parent_info.st_dev && store_info.st_ino == parent_info.st_ino;
    }

    IO& io_;
    const store_directory<IO>& source_;
    store_directory<IO> target_;
    std::string buffer_;  ///< the bytes of a copy in progress, a mebibyte at most
};

}  // namespace kvforge::detail
