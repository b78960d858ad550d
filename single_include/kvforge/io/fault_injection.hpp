// kvforge 0.1.0 -- add-on to the single header.
// Generated from include/kvforge/io/fault_injection.hpp by tools/amalgamate.py: do not edit;
// change the headers under include/ and run `python3 tools/amalgamate.py`.
#pragma once
#include "../kvforge.hpp"
// ---- begin kvforge/io/fault_injection.hpp ----
/// \file fault_injection.hpp
/// kvforge::fault_injecting_io: an I/O policy that passes every call on to another one
/// and makes chosen calls fail, for testing what a store does under I/O errors.
///
/// Calls are numbered 1, 2, 3, ... as they are made. A fault names the calls it
/// watches (all, or some kinds such as only fdatasync), which of those it hits first
/// (the k-th), and whether it hits once, every call from then on, or every other call
/// from then on. It either fails the call with an errno (EIO, ENOSPC, EINTR, ...) or,
/// for pread, preadv and pwrite, transfers fewer bytes than were asked (or none at all,
/// returning 0), or, for pwrite, writes some of its bytes and then fails (a torn write). The policy
/// counts the calls of each kind and records every fault it injected.
///
///     kvforge::fault_injecting_io<> io;
///     io.inject({.at = 3, .calls = kvforge::io_call::fdatasync, .error = EIO});
///     kvforge::store<std::string, std::string, kvforge::file_log, kvforge::fault_injecting_io<>> db(path, {}, io);
///
/// The store keeps a copy of the policy and async_worker calls it from its thread, so
/// copies share one state (counters, faults, records) under a mutex. Not included by
/// kvforge.hpp: include it where tests need it.

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace kvforge {

/// The calls of an I/O policy.
enum class io_call : unsigned {
    open,
    close,
    pread,
    preadv,
    pwrite,
    fdatasync,
    fsync,
    ftruncate,
    fstat,
    stat,
    rename,
    unlink,
    mkdir,
    flock,
    mmap,
    munmap,
    list_directory,
    rmdir,
    link,
};

/// How many kinds of io_call there are.
inline constexpr std::size_t io_call_kinds = 19;

/// The name of a call, as in POSIX ("pwrite", "fdatasync", ...).
[[nodiscard]] constexpr std::string_view io_call_name(io_call call) noexcept {
    constexpr std::string_view names[io_call_kinds] = {
        "open",   "close",  "pread", "preadv", "pwrite", "fdatasync", "fsync",          "ftruncate", "fstat", "stat",
        "rename", "unlink", "mkdir", "flock",  "mmap",   "munmap",    "list_directory", "rmdir",     "link"};
    return names[static_cast<std::size_t>(call)];
}

/// A set of io_call kinds.
class io_calls {
public:
    constexpr io_calls() noexcept = default;
    /// The set of one kind (implicit, so that a single kind can be given where a set is asked).
    constexpr io_calls(io_call call) noexcept : bits_(bit(call)) {}

    [[nodiscard]] static constexpr io_calls all() noexcept { return io_calls((1u << io_call_kinds) - 1); }
    /// The calls that move bytes and can move fewer than asked: pread, preadv, pwrite.
    [[nodiscard]] static constexpr io_calls transfers() noexcept {
        return io_calls(bit(io_call::pread) | bit(io_call::preadv) | bit(io_call::pwrite));
    }

    [[nodiscard]] constexpr bool contains(io_call call) const noexcept { return (bits_ & bit(call)) != 0; }
    [[nodiscard]] constexpr bool empty() const noexcept { return bits_ == 0; }

    friend constexpr io_calls operator|(io_calls a, io_calls b) noexcept { return io_calls(a.bits_ | b.bits_); }
    friend constexpr io_calls operator&(io_calls a, io_calls b) noexcept { return io_calls(a.bits_ & b.bits_); }
    friend constexpr bool operator==(io_calls, io_calls) noexcept = default;

private:
    constexpr explicit io_calls(unsigned bits) noexcept : bits_(bits) {}
    static constexpr unsigned bit(io_call call) noexcept { return 1u << static_cast<unsigned>(call); }

    unsigned bits_ = 0;
};

[[nodiscard]] constexpr io_calls operator|(io_call a, io_call b) noexcept { return io_calls(a) | io_calls(b); }

/// Which of the calls a fault watches it hits, from its first one on.
enum class fault_mode {
    once,        ///< only the first
    persistent,  ///< every one from the first on
    alternating  ///< the first, the third, the fifth, ...: a fault that a retry gets past
};

/// What a hit call does.
enum class fault_effect {
    error,           ///< fails with -1 (MAP_FAILED for mmap) and errno = io_fault::error
    short_transfer,  ///< pread, preadv or pwrite transfers half the bytes asked (at least one)
    torn_write,      ///< pwrite writes half the bytes asked, then fails as error says: a device failing mid-write
    no_transfer      ///< pread, preadv or pwrite transfers nothing and returns 0
};

/// A fault to inject. A short transfer watches only the transfer calls among `calls`, a
/// torn write only pwrite, and both only calls asking for two bytes or more (a shorter
/// one could not be cut); no transfer watches the transfer calls asking for a byte or more.
struct io_fault {
    std::uint64_t at = 1;              ///< the first watched call it hits, counting from 1
    io_calls calls = io_calls::all();  ///< the kinds of call it watches
    int error = EIO;                   ///< the errno of a failed call
    fault_mode mode = fault_mode::once;
    fault_effect effect = fault_effect::error;
};

/// One fault that was injected.
struct injected_fault {
    std::uint64_t call_number = 0;  ///< the call's number among all calls made, from 1
    io_call call = io_call::open;
    int error = 0;      ///< the errno returned; 0 for a short transfer or none
    bool torn = false;  ///< a torn write: half of the bytes were written before the error
};

/// I/O policy: Base's calls, some of which fail as the injected faults say. Copies share
/// their counters, faults and records, and may be used from several threads at once.
///
/// close and munmap release their resource before reporting an injected error, as
/// Linux does, so that a failed close leaks no descriptor (and no lock).
template <class Base = posix_io>
class fault_injecting_io {
    static_assert(io_policy<Base>, "kvforge: fault_injecting_io<Base> needs an I/O policy to wrap");

public:
    using policy_kind = kvforge::policy_kind::io;

    fault_injecting_io() = default;
    explicit fault_injecting_io(Base base) : base_(std::move(base)) {}

    /// Adds a fault; the calls it watches are counted from now on.
    void inject(const io_fault& fault) {
        const std::lock_guard lock(state_->mutex);
        state_->faults.push_back({fault, 0});
    }

    /// Removes every fault; calls go through unharmed from now on.
    void clear_faults() {
        const std::lock_guard lock(state_->mutex);
        state_->faults.clear();
    }

    /// How many calls were made, of every kind.
    [[nodiscard]] std::uint64_t calls() const {
        const std::lock_guard lock(state_->mutex);
        return state_->total;
    }

    /// How many calls of one kind were made.
    [[nodiscard]] std::uint64_t calls(io_call call) const {
        const std::lock_guard lock(state_->mutex);
        return state_->per_kind[static_cast<std::size_t>(call)];
    }

    /// Every fault injected so far, in the order of the calls.
    [[nodiscard]] std::vector<injected_fault> injected() const {
        const std::lock_guard lock(state_->mutex);
        return state_->injected;
    }

    /// The wrapped policy.
    [[nodiscard]] Base& base() noexcept { return base_; }

    int open(const char* path, int flags, mode_t mode) noexcept {
        if (const int error = hit_error(io_call::open)) return fail(error);
        return base_.open(path, flags, mode);
    }
    int close(int fd) noexcept {
        const int error = hit_error(io_call::close);
        const int result = base_.close(fd);
        return error != 0 ? fail(error) : result;
    }
    ssize_t pread(int fd, void* buffer, std::size_t size, off_t offset) noexcept {
        const decision fate = hit(io_call::pread, size);
        if (fate.error != 0) return fail(fate.error);
        if (fate.nothing) return 0;
        return base_.pread(fd, buffer, fate.shorten ? size / 2 : size, offset);
    }
    ssize_t preadv(int fd, const iovec* parts, int count, off_t offset) noexcept {
        std::size_t asked = 0;
        for (int i = 0; i < count; ++i) asked += parts[i].iov_len;
        const decision fate = hit(io_call::preadv, asked);
        if (fate.error != 0) return fail(fate.error);
        if (fate.nothing) return 0;
        return fate.shorten ? preadv_half(fd, parts, count, asked, offset) : base_.preadv(fd, parts, count, offset);
    }
    ssize_t pwrite(int fd, const void* data, std::size_t size, off_t offset) noexcept {
        const decision fate = hit(io_call::pwrite, size);
        if (fate.nothing) return 0;
        if (fate.error == 0) return base_.pwrite(fd, data, fate.shorten ? size / 2 : size, offset);
        if (fate.shorten) base_.pwrite(fd, data, size / 2, offset);
        return fail(fate.error);
    }
    int fdatasync(int fd) noexcept {
        if (const int error = hit_error(io_call::fdatasync)) return fail(error);
        return base_.fdatasync(fd);
    }
    int fsync(int fd) noexcept {
        if (const int error = hit_error(io_call::fsync)) return fail(error);
        return base_.fsync(fd);
    }
    int ftruncate(int fd, off_t size) noexcept {
        if (const int error = hit_error(io_call::ftruncate)) return fail(error);
        return base_.ftruncate(fd, size);
    }
    int fstat(int fd, struct stat* info) noexcept {
        if (const int error = hit_error(io_call::fstat)) return fail(error);
        return base_.fstat(fd, info);
    }
    int stat(const char* path, struct stat* info) noexcept {
        if (const int error = hit_error(io_call::stat)) return fail(error);
        return base_.stat(path, info);
    }
    int rename(const char* from, const char* to) noexcept {
        if (const int error = hit_error(io_call::rename)) return fail(error);
        return base_.rename(from, to);
    }
    /// Only when Base has link, so that the wrapper is linkable exactly when Base is.
    int link(const char* from, const char* to) noexcept requires io_policy_with_link<Base> {
        if (const int error = hit_error(io_call::link)) return fail(error);
        return base_.link(from, to);
    }
    int unlink(const char* path) noexcept {
        if (const int error = hit_error(io_call::unlink)) return fail(error);
        return base_.unlink(path);
    }
    int mkdir(const char* path, mode_t mode) noexcept {
        if (const int error = hit_error(io_call::mkdir)) return fail(error);
        return base_.mkdir(path, mode);
    }
    int rmdir(const char* path) noexcept {
        if (const int error = hit_error(io_call::rmdir)) return fail(error);
        return base_.rmdir(path);
    }
    int flock(int fd, int operation) noexcept {
        if (const int error = hit_error(io_call::flock)) return fail(error);
        return base_.flock(fd, operation);
    }
    void* mmap(void* address, std::size_t length, int protection, int flags, int fd, off_t offset) noexcept {
        if (const int error = hit_error(io_call::mmap)) {
            errno = error;
            return MAP_FAILED;
        }
        return base_.mmap(address, length, protection, flags, fd, offset);
    }
    int munmap(void* address, std::size_t length) noexcept {
        const int error = hit_error(io_call::munmap);
        const int result = base_.munmap(address, length);
        return error != 0 ? fail(error) : result;
    }
    int list_directory(const char* path, std::vector<std::string>& names) {
        if (const int error = hit_error(io_call::list_directory)) return fail(error);
        return base_.list_directory(path, names);
    }

private:
    /// What becomes of a call: it is shortened, or fails with error, or both (a torn
    /// write: the first half is written, then the call fails), or it transfers nothing,
    /// or none of these.
    struct decision {
        int error = 0;
        bool shorten = false;
        bool nothing = false;
    };

    struct armed_fault {
        io_fault fault;
        std::uint64_t watched = 0;  // calls it watched so far
    };

    struct state {
        std::mutex mutex;
        std::uint64_t total = 0;
        std::array<std::uint64_t, io_call_kinds> per_kind{};
        std::vector<armed_fault> faults;
        std::vector<injected_fault> injected;
    };

    /// Counts a call and decides its fate; size is what a transfer asks for.
    decision hit(io_call call, std::size_t size = 0) noexcept {
        const std::lock_guard lock(state_->mutex);
        const std::uint64_t number = ++state_->total;
        ++state_->per_kind[static_cast<std::size_t>(call)];
        std::optional<decision> fate;
        for (armed_fault& armed : state_->faults) {
            const io_fault& fault = armed.fault;
            const fault_effect effect = fault.effect;
            const io_calls cuttable =
                effect == fault_effect::torn_write ? io_calls(io_call::pwrite) : io_calls::transfers();
            const std::size_t smallest = effect == fault_effect::no_transfer ? 1 : 2;
            if (!fault.calls.contains(call)) continue;
            if (effect != fault_effect::error && (!cuttable.contains(call) || size < smallest)) continue;
            // Every fault watching the call counts it; the first one to strike decides.
            const std::uint64_t nth = ++armed.watched;
            if (!fate && strikes(fault, nth)) {
                const bool fails = effect == fault_effect::error || effect == fault_effect::torn_write;
                fate = decision{fails ? fault.error : 0,
                                effect == fault_effect::short_transfer || effect == fault_effect::torn_write,
                                effect == fault_effect::no_transfer};
            }
        }
        if (!fate) return {};
        try {
            state_->injected.push_back({number, call, fate->error, fate->shorten && fate->error != 0});
        } catch (...) {
            // Out of memory for the record: the fault still happens.
        }
        return *fate;
    }

    /// The errno for call when a fault fails it, else 0 (only transfers can be cut).
    int hit_error(io_call call) noexcept { return hit(call).error; }

    static bool strikes(const io_fault& fault, std::uint64_t nth) noexcept {
        if (nth < fault.at) return false;
        switch (fault.mode) {
            case fault_mode::once:
                return nth == fault.at;
            case fault_mode::persistent:
                return true;
            case fault_mode::alternating:
                return (nth - fault.at) % 2 == 0;
        }
        return false;
    }

    static int fail(int error) noexcept {
        errno = error;
        return -1;
    }

    /// preadv of the first half of the bytes asked (at least one), from at most eight
    /// of the parts; empty parts are left out.
    ssize_t preadv_half(int fd, const iovec* parts, int count, std::size_t asked, off_t offset) noexcept {
        std::array<iovec, 8> cut{};
        std::size_t used = 0;
        std::size_t left = asked / 2;
        for (int i = 0; i < count && left > 0 && used < cut.size(); ++i) {
            if (parts[i].iov_len == 0) continue;
            iovec& part = cut[used++];
            part = parts[i];
            if (part.iov_len > left) part.iov_len = left;
            left -= part.iov_len;
        }
        return base_.preadv(fd, cut.data(), static_cast<int>(used), offset);
    }

    Base base_{};
    std::shared_ptr<state> state_ = std::make_shared<state>();
};

static_assert(io_policy_with_link<fault_injecting_io<>>);

}  // namespace kvforge
// ---- end kvforge/io/fault_injection.hpp ----
