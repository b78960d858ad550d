#pragma once
/// \file simulated.hpp
/// kvforge::simulated_io: an I/O policy over an in-memory file system that knows what
/// a power loss would keep, for testing crash consistency.
///
/// A kvforge::simulated_file_system holds files and directories in memory and keeps two
/// states of each: the live one, which every call sees, and the durable one, which is
/// what the last fsync or fdatasync recorded. A file's data and size become durable when
/// the file is synced; a directory's entries (files created, renamed or removed in it)
/// become durable only when the directory itself is fsynced, as POSIX promises and as
/// the file systems studied by Pillai et al. ("All File Systems Are Not Created Equal",
/// OSDI 2014) may behave. crash() keeps the durable state only, with a choice of what
/// happens to bytes appended since a file's last sync.
///
/// It records every call in a trace, can refuse every call from the k-th on (so that a
/// store can be stopped at any point of its work and torn down without changing the
/// state any more), and is thread-safe. kvforge::simulated_io is the policy itself: a
/// copyable handle to a shared simulated_file_system. Not included by kvforge.hpp.
///
///     auto fs = std::make_shared<kvforge::simulated_file_system>();
///     using db = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::simulated_io>;
///     { db s("/db", {}, kvforge::simulated_io(fs)); s.put("k", "v"); }
///     fs->crash(kvforge::crash_tail::torn, 42);  // power loss: only what was synced is left

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../concepts.hpp"

namespace kvforge {

/// What a power loss leaves of the bytes appended to a file since its last sync.
enum class crash_tail {
    dropped,      ///< nothing: the file is as it was synced
    torn,         ///< a prefix of them, of a length drawn from the crash's seed
    zero_filled,  ///< the file keeps its length, but they read as zeros
};

/// One entry of a simulated file system's trace: a call, or a note the test made.
struct simulated_call {
    enum class kind {
        open, close, pread, preadv, pwrite, fdatasync, fsync, ftruncate, fstat, stat,
        rename, unlink, mkdir, flock, mmap, munmap, list_directory, rmdir, note
    };

    std::uint64_t number = 0;  ///< 1, 2, 3, ... for calls; for a note, the number of the call before it
    kind call = kind::note;
    std::string path;          ///< the path given (normalised, "/a/b"), the path a descriptor was opened with, or a note's text
    std::string target;        ///< rename's new path
    int fd = -1;
    std::uint64_t file = 0;    ///< the file or directory the call acted on (a number unique in the file system), 0 if none
    bool directory = false;    ///< whether that is a directory
    std::uint64_t offset = 0;
    std::uint64_t size = 0;    ///< bytes asked for (pread, pwrite, mmap), ftruncate's length, entries listed
    int flags = 0;             ///< open's flags, flock's operation
    bool created = false;      ///< open created the file, mkdir the directory
    long long result = 0;      ///< what the call returned (an mmap: 0, or -1 on failure)
    int error = 0;             ///< errno when the call failed
};

/// The in-memory file system behind kvforge::simulated_io. Its members named after
/// POSIX calls behave as those calls do (results, errno), within what a store uses:
/// regular files and directories, no links, no permissions. Paths are absolute from
/// the simulation's root; a relative path is read as if "/" were the working directory.
class simulated_file_system {
public:
    /// Every file may grow to file_capacity bytes: its bytes live in a region reserved at
    /// that size (and committed as written), so that a mapping of it stays put and shows
    /// later writes, as a MAP_SHARED mapping does.
    explicit simulated_file_system(std::size_t file_capacity = std::size_t{64} << 20)
        : capacity_(file_capacity), root_(std::make_shared<node>(next_id_++, true)) {}

    simulated_file_system(const simulated_file_system&) = delete;
    simulated_file_system& operator=(const simulated_file_system&) = delete;

    // ---- The calls of kvforge::io_policy --------------------------------------------

    int open(const char* path, int flags, mode_t) noexcept {
        simulated_call call = path_call(simulated_call::kind::open, path);
        call.flags = flags;
        return static_cast<int>(perform(call, [&] { return do_open(call); }));
    }

    int close(int fd) noexcept {
        simulated_call call = fd_call(simulated_call::kind::close, fd);
        return static_cast<int>(perform(call, [&]() -> long long {
            const auto open_file = files_.find(fd);
            if (open_file == files_.end()) return failure(call, EBADF);
            files_.erase(open_file);  // its flock goes with it
            return 0;
        }));
    }

    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        const iovec part{buffer, size};
        simulated_call call = fd_call(simulated_call::kind::pread, fd);
        return read_call(call, &part, 1, offset);
    }

    ssize_t preadv(int fd, const iovec* parts, int count, off_t offset) noexcept {
        simulated_call call = fd_call(simulated_call::kind::preadv, fd);
        return read_call(call, parts, count, offset);
    }

    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        simulated_call call = fd_call(simulated_call::kind::pwrite, fd);
        call.offset = static_cast<std::uint64_t>(offset);
        call.size = size;
        return static_cast<ssize_t>(perform(call, [&]() -> long long {
            open_file* file = writable_file(call, EBADF);
            if (file == nullptr) return -1;
            if (offset < 0) return failure(call, EINVAL);
            const auto at = static_cast<std::uint64_t>(offset);
            if (at > capacity_ || size > capacity_ - at) return failure(call, EFBIG);
            if (!file->target->reserve(capacity_)) return failure(call, ENOMEM);
            std::memcpy(file->target->bytes + at, buffer, size);
            file->target->size = std::max<std::size_t>(file->target->size, static_cast<std::size_t>(at + size));
            return static_cast<long long>(size);
        }));
    }

    int fdatasync(int fd) noexcept { return sync_call(simulated_call::kind::fdatasync, fd); }
    int fsync(int fd) noexcept { return sync_call(simulated_call::kind::fsync, fd); }

    int ftruncate(int fd, off_t size) noexcept {
        simulated_call call = fd_call(simulated_call::kind::ftruncate, fd);
        call.size = static_cast<std::uint64_t>(size);
        return static_cast<int>(perform(call, [&]() -> long long {
            open_file* file = writable_file(call, EINVAL);
            if (file == nullptr) return -1;
            if (size < 0) return failure(call, EINVAL);
            if (static_cast<std::uint64_t>(size) > capacity_) return failure(call, EFBIG);
            if (!file->target->reserve(capacity_)) return failure(call, ENOMEM);
            file->target->resize(static_cast<std::size_t>(size));
            return 0;
        }));
    }

    int fstat(int fd, struct stat* info) noexcept {
        simulated_call call = fd_call(simulated_call::kind::fstat, fd);
        return static_cast<int>(perform(call, [&]() -> long long {
            const open_file* file = find_file(call);
            if (file == nullptr) return -1;
            describe(*file->target, info);
            return 0;
        }));
    }

    int stat(const char* path, struct stat* info) noexcept {
        simulated_call call = path_call(simulated_call::kind::stat, path);
        return static_cast<int>(perform(call, [&]() -> long long {
            const lookup found = look_up(call.path);
            if (found.target == nullptr) return failure(call, found.error);
            note_target(call, *found.target);
            describe(*found.target, info);
            return 0;
        }));
    }

    int rename(const char* from, const char* to) noexcept {
        simulated_call call = path_call(simulated_call::kind::rename, from);
        call.target = normalised(to);
        return static_cast<int>(perform(call, [&] { return do_rename(call); }));
    }

    int unlink(const char* path) noexcept {
        simulated_call call = path_call(simulated_call::kind::unlink, path);
        return static_cast<int>(perform(call, [&]() -> long long {
            const lookup found = look_up(call.path);
            if (found.target == nullptr) return failure(call, found.error);
            note_target(call, *found.target);
            if (found.target->directory) return failure(call, EISDIR);
            found.parent->entries.erase(found.name);
            return 0;
        }));
    }

    int mkdir(const char* path, mode_t) noexcept {
        simulated_call call = path_call(simulated_call::kind::mkdir, path);
        return static_cast<int>(perform(call, [&]() -> long long {
            const lookup found = look_up(call.path);
            if (found.parent == nullptr) return failure(call, found.target != nullptr ? EEXIST : found.error);
            if (found.target != nullptr) return failure(call, EEXIST);
            auto created = std::make_shared<node>(next_id_++, true);
            note_target(call, *created);
            call.created = true;
            found.parent->entries.emplace(found.name, std::move(created));
            return 0;
        }));
    }

    int rmdir(const char* path) noexcept {
        simulated_call call = path_call(simulated_call::kind::rmdir, path);
        return static_cast<int>(perform(call, [&]() -> long long {
            const lookup found = look_up(call.path);
            if (found.target == nullptr) return failure(call, found.error);
            note_target(call, *found.target);
            if (!found.target->directory) return failure(call, ENOTDIR);
            if (found.parent == nullptr) return failure(call, EBUSY);  // the root
            if (!found.target->entries.empty()) return failure(call, ENOTEMPTY);
            found.parent->entries.erase(found.name);
            return 0;
        }));
    }

    /// Only read-only mappings, as a store makes; PROT_WRITE fails with ENOTSUP. Reading
    /// past the file's end gives zeros (a real mapping would raise SIGBUS).
    void* mmap(void* address, std::size_t length, int protection, int flags, int fd, off_t offset) noexcept {
        simulated_call call = fd_call(simulated_call::kind::mmap, fd);
        call.offset = static_cast<std::uint64_t>(offset);
        call.size = length;
        void* mapped = MAP_FAILED;
        perform(call, [&]() -> long long {
            const open_file* file = find_file(call);
            if (file == nullptr) return -1;
            if (address != nullptr || (flags & MAP_FIXED) != 0 || (protection & ~PROT_READ) != 0) {
                return failure(call, ENOTSUP);
            }
            if (file->target->directory) return failure(call, ENODEV);
            if (offset < 0 || static_cast<std::uint64_t>(offset) % page_size != 0 || length == 0) {
                return failure(call, EINVAL);
            }
            if (static_cast<std::uint64_t>(offset) + length > capacity_) return failure(call, ENOMEM);
            if (!file->target->reserve(capacity_)) return failure(call, ENOMEM);
            mapped = file->target->bytes + offset;
            mappings_.emplace(mapped, mapping{file->target, length});
            return 0;
        });
        return mapped;
    }

    int munmap(void* address, std::size_t length) noexcept {
        simulated_call call{};
        call.call = simulated_call::kind::munmap;
        call.size = length;
        return static_cast<int>(perform(call, [&]() -> long long {
            auto [first, last] = mappings_.equal_range(address);
            for (auto it = first; it != last; ++it) {
                if (it->second.length != length) continue;
                note_target(call, *it->second.target);
                mappings_.erase(it);  // the file's bytes may go now, if nothing else holds them
                return 0;
            }
            return failure(call, EINVAL);
        }));
    }

    /// Locks belong to the open file description, as flock(2)'s do. A conflicting lock
    /// fails with EWOULDBLOCK even without LOCK_NB: a simulation does not block.
    int flock(int fd, int operation) noexcept {
        simulated_call call = fd_call(simulated_call::kind::flock, fd);
        call.flags = operation;
        return static_cast<int>(perform(call, [&]() -> long long {
            open_file* file = find_file(call);
            if (file == nullptr) return -1;
            const int wanted = operation & ~LOCK_NB;
            if (wanted == LOCK_UN) {
                file->lock = 0;
                return 0;
            }
            if (wanted != LOCK_SH && wanted != LOCK_EX) return failure(call, EINVAL);
            for (const auto& [other_fd, other] : files_) {
                if (other_fd == fd || other.target != file->target || other.lock == 0) continue;
                if (wanted == LOCK_EX || other.lock == LOCK_EX) return failure(call, EWOULDBLOCK);
            }
            file->lock = wanted;
            return 0;
        }));
    }

    int list_directory(const char* path, std::vector<std::string>& names) noexcept {
        simulated_call call = path_call(simulated_call::kind::list_directory, path);
        return static_cast<int>(perform(call, [&]() -> long long {
            const lookup found = look_up(call.path);
            if (found.target == nullptr) return failure(call, found.error);
            note_target(call, *found.target);
            if (!found.target->directory) return failure(call, ENOTDIR);
            names.clear();
            for (const auto& entry : found.target->entries) names.push_back(entry.first);
            call.size = names.size();
            return 0;
        }));
    }

    // ---- Power loss, freezing and the trace ------------------------------------------

    /// A new file system holding what a power loss now would leave: the directory
    /// entries of each directory's last fsync, each file's data and size of its last
    /// sync, and of the bytes appended after that what `tail` says (a torn tail's length
    /// is drawn from seed and the file's number, so a seed replays it). This one is unchanged.
    [[nodiscard]] std::shared_ptr<simulated_file_system> after_crash(crash_tail tail, std::uint64_t seed = 0) const {
        const std::lock_guard lock(mutex_);
        auto after = std::make_shared<simulated_file_system>(capacity_);
        std::map<const node*, std::shared_ptr<node>> survivors;
        after->root_ = survivor(root_, tail, seed, survivors);
        after->next_id_ = next_id_;
        return after;
    }

    /// Power loss: the state becomes what after_crash(tail, seed) describes, every
    /// descriptor is closed and the file system takes calls again after a freeze.
    /// Mappings stay readable (they are the test's memory) and keep their old bytes.
    void crash(crash_tail tail = crash_tail::dropped, std::uint64_t seed = 0) {
        const std::shared_ptr<simulated_file_system> after = after_crash(tail, seed);
        const std::lock_guard lock(mutex_);
        root_ = after->root_;
        files_.clear();
        frozen_from_ = no_freeze;
        record_note("crash");
    }

    /// Call number `call` (counting from 1) and every call after it fail with EIO and
    /// change nothing, as if the machine had stopped just before it. 0 lifts the freeze.
    void freeze_at(std::uint64_t call) {
        const std::lock_guard lock(mutex_);
        frozen_from_ = call == 0 ? no_freeze : call;
    }

    /// How many calls were made, refused ones included.
    [[nodiscard]] std::uint64_t calls() const {
        const std::lock_guard lock(mutex_);
        return calls_;
    }

    /// Adds text to the trace, e.g. "acknowledged put 7".
    void note(std::string_view text) {
        const std::lock_guard lock(mutex_);
        record_note(text);
    }

    /// Every call made and note taken so far, in order.
    [[nodiscard]] std::vector<simulated_call> trace() const {
        const std::lock_guard lock(mutex_);
        return trace_;
    }

    /// Copies the live bytes of the file at path into out; false when there is no such
    /// file. Not a call: it is not traced and works while frozen.
    [[nodiscard]] bool contents(std::string_view path, std::string& out) const {
        const std::lock_guard lock(mutex_);
        const lookup found = look_up(normalised(path));
        if (found.target == nullptr || found.target->directory) return false;
        out.assign(found.target->bytes == nullptr ? "" : std::string_view(found.target->bytes, found.target->size));
        return true;
    }

private:
    static constexpr std::uint64_t no_freeze = std::numeric_limits<std::uint64_t>::max();
    static constexpr std::size_t page_size = 4096;

    /// A file or a directory.
    struct node {
        node(std::uint64_t number, bool is_directory) : id(number), directory(is_directory) {}
        node(const node&) = delete;
        node& operator=(const node&) = delete;
        ~node() {
            if (bytes != nullptr) ::munmap(bytes, capacity);
        }

        /// Reserves the region that holds the file's bytes, once; its pages cost memory
        /// only when written, and read as zeros until then.
        bool reserve(std::size_t size) {
            if (bytes != nullptr) return true;
            void* region = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                  -1, 0);
            if (region == MAP_FAILED) return false;
            bytes = static_cast<char*>(region);
            capacity = size;
            return true;
        }

        /// Sets the size; bytes beyond the size are kept zero, so growing shows zeros.
        void resize(std::size_t new_size) {
            if (new_size < size) std::memset(bytes + new_size, 0, size - new_size);
            size = new_size;
        }

        std::uint64_t id;
        bool directory;
        // A file: its live bytes [bytes, bytes + size), and what its last sync recorded.
        char* bytes = nullptr;
        std::size_t capacity = 0;
        std::size_t size = 0;
        std::string synced;
        // A directory: its live entries, and those its last fsync recorded.
        std::map<std::string, std::shared_ptr<node>, std::less<>> entries;
        std::map<std::string, std::shared_ptr<node>, std::less<>> synced_entries;
    };

    struct open_file {
        std::shared_ptr<node> target;
        std::string path;
        int flags = 0;
        int lock = 0;  // 0, LOCK_SH or LOCK_EX
    };

    struct mapping {
        std::shared_ptr<node> target;  // keeps the bytes alive after unlink, until munmap
        std::size_t length = 0;
    };

    /// Where a path leads: its directory and last name (when it has a directory that
    /// exists), and what the name holds (when it exists); error says why not.
    struct lookup {
        node* parent = nullptr;
        std::string name;
        std::shared_ptr<node> target;
        int error = 0;
    };

    /// "/a/b" for "a/b", "/a/./b/", "//a/c/../b"; "/" for the root.
    static std::string normalised(std::string_view path) {
        std::vector<std::string_view> names;
        while (!path.empty()) {
            const std::size_t slash = path.find('/');
            const std::string_view name = path.substr(0, slash);
            path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
            if (name.empty() || name == ".") continue;
            if (name == "..") {
                if (!names.empty()) names.pop_back();
                continue;
            }
            names.push_back(name);
        }
        std::string joined;
        for (const std::string_view name : names) (joined += '/') += name;
        return joined.empty() ? "/" : joined;
    }

    static std::string parent_path(const std::string& path) {
        const std::size_t slash = path.rfind('/');
        return slash == 0 ? "/" : path.substr(0, slash);
    }

    /// Walks a normalised path through the live entries.
    lookup look_up(const std::string& path) const {
        lookup found;
        if (path == "/") {
            found.target = root_;
            return found;
        }
        node* directory = root_.get();
        std::size_t start = 1;
        for (;;) {
            const std::size_t slash = path.find('/', start);
            const std::string_view name = std::string_view(path).substr(start, slash - start);
            const auto entry = directory->entries.find(name);
            if (slash == std::string::npos) {
                found.parent = directory;
                found.name = std::string(name);
                if (entry != directory->entries.end()) {
                    found.target = entry->second;
                } else {
                    found.error = ENOENT;
                }
                return found;
            }
            if (entry == directory->entries.end()) {
                found.error = ENOENT;
                return found;
            }
            if (!entry->second->directory) {
                found.error = ENOTDIR;
                return found;
            }
            directory = entry->second.get();
            start = slash + 1;
        }
    }

    static simulated_call path_call(simulated_call::kind kind, const char* path) {
        simulated_call call{};
        call.call = kind;
        call.path = normalised(path);
        return call;
    }

    static simulated_call fd_call(simulated_call::kind kind, int fd) {
        simulated_call call{};
        call.call = kind;
        call.fd = fd;
        return call;
    }

    static long long failure(simulated_call& call, int error) {
        call.error = error;
        return -1;
    }

    static void note_target(simulated_call& call, const node& target) {
        call.file = target.id;
        call.directory = target.directory;
    }

    static void describe(const node& target, struct stat* info) {
        *info = {};
        info->st_ino = static_cast<ino_t>(target.id);
        info->st_mode = target.directory ? (S_IFDIR | 0755) : (S_IFREG | 0644);
        info->st_nlink = 1;
        info->st_size = static_cast<off_t>(target.directory ? 0 : target.size);
        info->st_blksize = static_cast<blksize_t>(page_size);
        info->st_blocks = static_cast<blkcnt_t>((info->st_size + 511) / 512);
    }

    /// Runs a call under the lock: numbers it, refuses it when frozen, traces it, and
    /// sets errno from call.error when act returns -1.
    template <class Act>
    long long perform(simulated_call& call, Act&& act) noexcept {
        long long result = -1;
        int error = 0;
        try {
            const std::lock_guard lock(mutex_);
            call.number = ++calls_;
            if (call.fd >= 0) {
                if (const auto open_file = files_.find(call.fd); open_file != files_.end()) {
                    call.path = open_file->second.path;
                    note_target(call, *open_file->second.target);
                }
            }
            if (call.number >= frozen_from_) {
                call.error = EIO;
            } else {
                result = act();
            }
            call.result = result;
            error = call.error;
            trace_.push_back(std::move(call));
        } catch (const std::bad_alloc&) {
            result = -1;
            error = ENOMEM;
        }
        if (result == -1) errno = error;
        return result;
    }

    open_file* find_file(simulated_call& call) {
        const auto found = files_.find(call.fd);
        if (found == files_.end()) {
            failure(call, EBADF);
            return nullptr;
        }
        return &found->second;
    }

    /// The open file of call.fd when it is a regular file open for writing, else
    /// nullptr with `error` (EISDIR for a directory).
    open_file* writable_file(simulated_call& call, int error) {
        open_file* file = find_file(call);
        if (file == nullptr) return nullptr;
        if (file->target->directory) {
            failure(call, EISDIR);
            return nullptr;
        }
        if ((file->flags & O_ACCMODE) == O_RDONLY) {
            failure(call, error);
            return nullptr;
        }
        return file;
    }

    long long do_open(simulated_call& call) {
        const int flags = call.flags;
        const int access = flags & O_ACCMODE;
        lookup found = look_up(call.path);
        if (found.target == nullptr) {
            if ((flags & O_CREAT) == 0 || found.parent == nullptr) return failure(call, found.error);
            if ((flags & O_DIRECTORY) != 0) return failure(call, EINVAL);
            found.target = std::make_shared<node>(next_id_++, false);
            found.parent->entries.emplace(found.name, found.target);
            call.created = true;
        } else if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) {
            return failure(call, EEXIST);
        }
        note_target(call, *found.target);
        if (found.target->directory) {
            if (access != O_RDONLY || (flags & O_CREAT) != 0) return failure(call, EISDIR);
        } else {
            if ((flags & O_DIRECTORY) != 0) return failure(call, ENOTDIR);
            if ((flags & O_TRUNC) != 0 && access != O_RDONLY && found.target->bytes != nullptr) {
                found.target->resize(0);
            }
        }
        int fd = 3;
        while (files_.count(fd) != 0) ++fd;
        files_.emplace(fd, open_file{found.target, call.path, flags, 0});
        call.fd = fd;
        return fd;
    }

    long long do_rename(simulated_call& call) {
        const lookup from = look_up(call.path);
        if (from.target == nullptr) return failure(call, from.error);
        if (from.parent == nullptr) return failure(call, EBUSY);  // the root
        note_target(call, *from.target);
        const lookup to = look_up(call.target);
        if (to.parent == nullptr) return failure(call, to.target != nullptr ? EBUSY : to.error);
        if (to.target == from.target) return 0;
        if (from.target->directory && call.target.compare(0, call.path.size() + 1, call.path + "/") == 0) {
            return failure(call, EINVAL);  // into its own subtree
        }
        if (to.target != nullptr) {
            if (to.target->directory && !from.target->directory) return failure(call, EISDIR);
            if (!to.target->directory && from.target->directory) return failure(call, ENOTDIR);
            if (to.target->directory && !to.target->entries.empty()) return failure(call, ENOTEMPTY);
        }
        std::shared_ptr<node> moved = from.target;
        from.parent->entries.erase(from.name);
        to.parent->entries.insert_or_assign(to.name, std::move(moved));
        return 0;
    }

    /// pread and preadv: fills the parts in order from offset, up to the file's end.
    ssize_t read_call(simulated_call& call, const iovec* parts, int count, off_t offset) {
        call.offset = static_cast<std::uint64_t>(offset);
        for (int i = 0; i < count; ++i) call.size += parts[i].iov_len;
        return static_cast<ssize_t>(perform(call, [&]() -> long long {
            const open_file* file = find_file(call);
            if (file == nullptr) return -1;
            if (file->target->directory) return failure(call, EISDIR);
            if ((file->flags & O_ACCMODE) == O_WRONLY) return failure(call, EBADF);
            if (offset < 0 || count < 0) return failure(call, EINVAL);
            const node& target = *file->target;
            std::size_t at = static_cast<std::size_t>(offset);
            long long done = 0;
            for (int i = 0; i < count && at < target.size; ++i) {
                const std::size_t n = std::min(parts[i].iov_len, target.size - at);
                std::memcpy(parts[i].iov_base, target.bytes + at, n);
                at += n;
                done += static_cast<long long>(n);
            }
            return done;
        }));
    }

    /// fsync and fdatasync: a file's bytes and size, or a directory's entries, become durable.
    int sync_call(simulated_call::kind kind, int fd) noexcept {
        simulated_call call = fd_call(kind, fd);
        return static_cast<int>(perform(call, [&]() -> long long {
            const open_file* file = find_file(call);
            if (file == nullptr) return -1;
            node& target = *file->target;
            if (target.directory) {
                target.synced_entries = target.entries;
            } else {
                target.synced.assign(target.bytes == nullptr ? "" : std::string_view(target.bytes, target.size));
            }
            return 0;
        }));
    }

    void record_note(std::string_view text) {
        simulated_call call{};
        call.number = calls_;
        call.call = simulated_call::kind::note;
        call.path = std::string(text);
        trace_.push_back(std::move(call));
    }

    /// The node that stands for `before` after a power loss (one per node, so that a
    /// file reachable under two durable names stays one file).
    std::shared_ptr<node> survivor(const std::shared_ptr<node>& before, crash_tail tail, std::uint64_t seed,
                                   std::map<const node*, std::shared_ptr<node>>& survivors) const {
        if (const auto done = survivors.find(before.get()); done != survivors.end()) return done->second;
        auto after = std::make_shared<node>(before->id, before->directory);
        survivors.emplace(before.get(), after);
        if (before->directory) {
            for (const auto& [name, child] : before->synced_entries) {
                after->entries.emplace(name, survivor(child, tail, seed, survivors));
            }
            after->synced_entries = after->entries;
            return after;
        }
        std::string kept = before->synced;
        // Bytes written since the sync inside the synced length are lost in every mode;
        // `tail` decides about the ones past it.
        if (before->size > kept.size()) {
            const std::size_t appended = before->size - kept.size();
            switch (tail) {
                case crash_tail::dropped:
                    break;
                case crash_tail::torn:
                    kept.append(before->bytes + kept.size(),
                                static_cast<std::size_t>(mix(seed ^ (before->id * 0x9e3779b97f4a7c15ULL)) %
                                                         (appended + 1)));
                    break;
                case crash_tail::zero_filled:
                    kept.append(appended, '\0');
                    break;
            }
        }
        if (!kept.empty()) {
            if (!after->reserve(capacity_)) throw std::bad_alloc();
            std::memcpy(after->bytes, kept.data(), kept.size());
            after->size = kept.size();
        }
        after->synced = std::move(kept);
        return after;
    }

    /// splitmix64's finaliser: a well-spread number from any seed.
    static std::uint64_t mix(std::uint64_t x) noexcept {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }

    mutable std::mutex mutex_;
    std::size_t capacity_;
    std::uint64_t next_id_ = 1;
    std::shared_ptr<node> root_;
    std::map<int, open_file> files_;
    std::multimap<const void*, mapping> mappings_;
    std::uint64_t calls_ = 0;
    std::uint64_t frozen_from_ = no_freeze;
    std::vector<simulated_call> trace_;
};

/// I/O policy: a copyable handle to a shared simulated_file_system, so that a store's
/// copies of it (and a reopened store's) all reach the same files. A default-constructed
/// handle reaches none: its calls fail with ENODEV.
class simulated_io {
public:
    using policy_kind = kvforge::policy_kind::io;

    simulated_io() = default;
    explicit simulated_io(std::shared_ptr<simulated_file_system> file_system) : fs_(std::move(file_system)) {}

    [[nodiscard]] const std::shared_ptr<simulated_file_system>& file_system() const noexcept { return fs_; }

    int open(const char* path, int flags, mode_t mode) noexcept { return forward(&fs::open, path, flags, mode); }
    int close(int fd) noexcept { return forward(&fs::close, fd); }
    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        return forward(&fs::pread, fd, buffer, size, offset);
    }
    ssize_t preadv(int fd, const iovec* parts, int count, off_t offset) noexcept {
        return forward(&fs::preadv, fd, parts, count, offset);
    }
    ssize_t pwrite(int fd, const void* buffer, std::size_t size, off_t offset) noexcept {
        return forward(&fs::pwrite, fd, buffer, size, offset);
    }
    int fdatasync(int fd) noexcept { return forward(&fs::fdatasync, fd); }
    int fsync(int fd) noexcept { return forward(&fs::fsync, fd); }
    int ftruncate(int fd, off_t size) noexcept { return forward(&fs::ftruncate, fd, size); }
    int fstat(int fd, struct stat* info) noexcept { return forward(&fs::fstat, fd, info); }
    int stat(const char* path, struct stat* info) noexcept { return forward(&fs::stat, path, info); }
    int rename(const char* from, const char* to) noexcept { return forward(&fs::rename, from, to); }
    int unlink(const char* path) noexcept { return forward(&fs::unlink, path); }
    int mkdir(const char* path, mode_t mode) noexcept { return forward(&fs::mkdir, path, mode); }
    int rmdir(const char* path) noexcept { return forward(&fs::rmdir, path); }
    void* mmap(void* address, std::size_t length, int protection, int flags, int fd, off_t offset) noexcept {
        if (!fs_) {
            errno = ENODEV;
            return MAP_FAILED;
        }
        return fs_->mmap(address, length, protection, flags, fd, offset);
    }
    int munmap(void* address, std::size_t length) noexcept { return forward(&fs::munmap, address, length); }
    int flock(int fd, int operation) noexcept { return forward(&fs::flock, fd, operation); }
    int list_directory(const char* path, std::vector<std::string>& names) noexcept {
        return forward(&fs::list_directory, path, names);
    }

private:
    using fs = simulated_file_system;

    template <class Result, class... Params, class... Args>
    Result forward(Result (fs::*call)(Params...) noexcept, Args&&... args) const noexcept {
        if (!fs_) {
            errno = ENODEV;
            return -1;
        }
        return ((*fs_).*call)(std::forward<Args>(args)...);
    }

    std::shared_ptr<simulated_file_system> fs_;
};

static_assert(io_policy<simulated_io>);

}  // namespace kvforge
