// kvforge 0.1.0 -- single-header edition.
// Generated from include/kvforge/kvforge.hpp by tools/amalgamate.py: do not edit;
// change the headers under include/ and run `python3 tools/amalgamate.py`.
#pragma once
// ---- begin kvforge/kvforge.hpp ----
/// \file kvforge.hpp
/// The whole of kvforge: include this one header.

// ---- begin kvforge/version.hpp ----
/// \file version.hpp
/// The library version, kept equal to the version in CMakeLists.txt and meson.build.

#define KVFORGE_VERSION_MAJOR 0
#define KVFORGE_VERSION_MINOR 1
#define KVFORGE_VERSION_PATCH 0

/// The version as one number: major * 10000 + minor * 100 + patch.
#define KVFORGE_VERSION (KVFORGE_VERSION_MAJOR * 10000 + KVFORGE_VERSION_MINOR * 100 + KVFORGE_VERSION_PATCH)
// ---- end kvforge/version.hpp ----

// ---- begin kvforge/aliases.hpp ----
/// \file aliases.hpp
/// Short names for the store configurations most users want, in the spirit of _st/_mt.

// ---- begin kvforge/index/hash_index.hpp ----
/// \file hash_index.hpp
/// kvforge::hash_index: O(1) point operations, no order.

#include <string_view>

// ---- begin kvforge/concepts.hpp ----
/// \file concepts.hpp
/// The kinds of policy a kvforge::store is forged from, each stated as a concept.
///
/// A policy is a class that names its kind with a member alias
/// `using policy_kind = kvforge::policy_kind::<kind>;` and provides what the concept
/// of that kind asks for. The library's own policies are the reference
/// implementations: kvforge::hash_index (index), kvforge::single_thread (threading),
/// kvforge::memory (store), kvforge::buffered (durability), kvforge::lru (eviction).

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- begin kvforge/detail/data_file.hpp ----
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

// ---- begin kvforge/error.hpp ----
/// \file error.hpp
/// kvforge's error codes, their category, and the exception the throwing calls raise.
///
/// Every fallible call has two forms, as in std::filesystem: one takes a
/// std::error_code& and never throws; the other throws kvforge::error. Both carry
/// the same code; the message of the exception (and kvforge::last_error_message()
/// after an error_code call) says which file, offset or limit was involved.

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace kvforge {

/// kvforge's own refusals. Errors of the system calls a store makes carry their errno in
/// std::system_category() instead.
enum class errc {
    key_too_large = 1,    ///< the encoded key is longer than kvforge::max_key_size
    value_too_large,      ///< the encoded value is longer than kvforge::max_value_size, or a bounded store's budget
    value_decode_failed,  ///< stored bytes could not be decoded by kvforge::codec<Value>
    key_decode_failed,    ///< stored key bytes could not be decoded by kvforge::codec<Key>
    codec_failed,         ///< a codec threw an exception while encoding
    not_a_store,          ///< a file in the store's directory is not a kvforge file (wrong magic)
    unsupported_version,  ///< the file was written by a newer format version; it is left unchanged
    codec_mismatch,       ///< the store was written with other key or value codecs, expiry or compression
    corrupt_header,       ///< a file header is truncated or fails its checksum
    corrupt_record,       ///< a record before the log's tail is damaged (open with salvage to keep the rest)
    store_locked,         ///< another process or store object has the store open
    store_failed,         ///< an earlier write or sync failed; reopen the store to recover from disk
    store_closed,         ///< the store is not open
    store_not_found,      ///< no store at the path, and the open may not create one (create_if_missing, read_only)
    store_exists,         ///< a store is at the path, and options::error_if_exists is set
    read_only,            ///< a write to a store opened with options::read_only
    invalid_argument,     ///< an argument kvforge cannot use: an empty path, an option out of range, a bad spec
    not_supported,        ///< a call the store's composition cannot serve (any_store: a scan on a hash index)
    compression_failed,   ///< a compression codec failed, or gave back other than the recorded number of bytes
};

/// The category of kvforge::errc, named "kvforge".
[[nodiscard]] inline const std::error_category& error_category() noexcept {
    class category final : public std::error_category {
    public:
        [[nodiscard]] const char* name() const noexcept override { return "kvforge"; }
        [[nodiscard]] std::string message(int code) const override { return text(static_cast<errc>(code)); }

    private:
        // One string built from a literal, rather than one per case: the function is
        // compiled into every file that reports an error.
        [[nodiscard]] static const char* text(errc code) noexcept {
            switch (code) {
                case errc::key_too_large: return "key too large";
                case errc::value_too_large: return "value too large";
                case errc::value_decode_failed: return "stored value cannot be decoded as the value type";
                case errc::key_decode_failed: return "stored key cannot be decoded as the key type";
                case errc::codec_failed: return "a codec threw an exception";
                case errc::not_a_store: return "not a kvforge store file";
                case errc::unsupported_version: return "file written by a newer kvforge format version";
                case errc::codec_mismatch: return "store written with other key or value codecs, expiry or compression";
                case errc::corrupt_header: return "damaged file header";
                case errc::corrupt_record: return "damaged record before the end of the log";
                case errc::store_locked: return "store is open elsewhere";
                case errc::store_failed: return "store refuses writes after a failed write or sync";
                case errc::store_closed: return "store is not open";
                case errc::store_not_found: return "no store at this path";
                case errc::store_exists: return "a store already exists at this path";
                case errc::read_only: return "store is open read-only";
                case errc::invalid_argument: return "invalid argument";
                case errc::not_supported: return "not supported by the store's composition";
                case errc::compression_failed: return "a compression codec failed; no value is returned";
            }
            return "unknown kvforge error";
        }
    };
    static const category instance;
    return instance;
}

/// Makes kvforge::errc usable wherever a std::error_code is expected.
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// The exception thrown by the throwing form of every fallible call.
class error : public std::system_error {
public:
    error(std::error_code code, const std::string& detail) : std::system_error(code, detail) {}
};

namespace detail {

/// The last error reported on this thread; one per thread so that concurrent callers
/// never see each other's messages.
struct last_error {
    std::string detail;   ///< what failed and where, without the code's own message
    std::string message;  ///< detail and the code's message, as kvforge::error::what() says them
};

[[nodiscard]] inline last_error& this_thread_last_error() noexcept {
    thread_local last_error error;
    return error;
}

/// The detail of the last error reported on this thread.
[[nodiscard]] inline const std::string& last_error_detail() noexcept { return this_thread_last_error().detail; }

/// Reports an error through ec and records its detail for the message.
inline void fail(std::error_code& ec, std::error_code code, std::string detail) noexcept {
    ec = code;
    last_error& last = this_thread_last_error();
    try {
        last.detail = std::move(detail);
        last.message = last.detail + ": " + code.message();
    } catch (...) {
        // Out of memory while describing an error: the code alone still tells what happened.
        last.detail.clear();
        last.message.clear();
    }
}

/// Reports a failed system call: the errno value as a std::system_category code, and
/// the call and file in the detail, e.g. "open data/users/LOCK", which the message
/// completes with the errno's text: "open data/users/LOCK: Permission denied".
inline void fail_errno(std::error_code& ec, int error_number, std::string what) noexcept {
    fail(ec, std::error_code(error_number, std::system_category()), std::move(what));
}

/// Throws kvforge::error for ec when it holds an error.
inline void throw_if(const std::error_code& ec) {
    if (ec) throw error(ec, last_error_detail());
}

}  // namespace detail

/// What the last failed call on this thread said about its error: what failed, the
/// file, offset or limit involved, and the error code's message, as the what() of the
/// kvforge::error the throwing form throws.
[[nodiscard]] inline const std::string& last_error_message() noexcept { return detail::this_thread_last_error().message; }

}  // namespace kvforge

template <>
struct std::is_error_code_enum<kvforge::errc> : std::true_type {};
// ---- end kvforge/error.hpp ----
// ---- begin kvforge/detail/retry.hpp ----
/// \file retry.hpp
/// Repeating a system call that a signal interrupted.

#include <cerrno>

namespace kvforge::detail {

/// Calls call() until it does not fail with EINTR. A signal that interrupts a call is
/// no error of the store's: the call did nothing that a repeat could not finish, and a
/// write-back error is still reported by the repeated fsync or fdatasync.
template <class Call>
auto retry_on_eintr(Call&& call) noexcept {
    for (;;) {
        const auto result = call();
        if (result != -1 || errno != EINTR) return result;
    }
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/retry.hpp ----

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
// ---- end kvforge/detail/data_file.hpp ----
// ---- begin kvforge/detail/log_writer.hpp ----
/// \file log_writer.hpp
/// What the durability policies' writers share: the result of an append, and the
/// sticky failure that stops a store from writing after a write or sync failed.
///
/// A writer takes whole records from the store (under the store's write lock), puts
/// them at the end of the data file, and makes them durable when its policy says.
/// Every record gets a sequence number, 1, 2, 3, ...; a writer is durable up to a
/// sequence number once every record up to it is on disk.

#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>


namespace kvforge::detail {

/// Where an appended record starts in the data file, and its sequence number.
struct append_result {
    std::uint64_t offset = 0;
    std::uint64_t sequence = 0;
};

/// The first write or sync failure of a store, kept so that every later write reports
/// it: after a failed fdatasync the kernel may have dropped the dirty pages, so a retry
/// that succeeded would claim durability for bytes that are gone.
class sticky_failure {
public:
    /// Records ec (with the message of the failing call) unless a failure is already recorded.
    void record(const std::error_code& ec) {
        const std::lock_guard lock(mutex_);
        if (code_) return;
        code_ = ec;
        message_ = last_error_message();
    }

    /// Reports the recorded failure through ec; false when there is none.
    bool check(std::error_code& ec) const {
        const std::lock_guard lock(mutex_);
        if (!code_) return false;
        fail(ec, errc::store_failed,
             "an earlier write failed (" + message_ + "); the store takes no more writes until it is reopened");
        return true;
    }

    void reset() {
        const std::lock_guard lock(mutex_);
        code_.clear();
        message_.clear();
    }

private:
    mutable std::mutex mutex_;
    std::error_code code_;
    std::string message_;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/log_writer.hpp ----

namespace kvforge {

/// Tags naming the kinds of policy. Each names itself as a store spec's axis does
/// (see kvforge::open_store).
namespace policy_kind {
/// where records live: memory, file_log, ...
struct store {
    static constexpr std::string_view name = "store";
};
/// when written bytes reach the OS and the disk
struct durability {
    static constexpr std::string_view name = "durability";
};
/// how keys are found: hash_index, sorted_index
struct index {
    static constexpr std::string_view name = "index";
};
/// which locks guard the store: single_thread, thread_safe
struct threading {
    static constexpr std::string_view name = "threading";
};
/// how a persistent store reaches the file system: posix_io, or a simulation
struct io {
    static constexpr std::string_view name = "io";
};
/// a memory budget: bounded<> (a memory store) or read_cache<> (a persistent one)
struct cache {
    static constexpr std::string_view name = "cache";
};
/// keys that expire at a deadline: expiring<Clock>
struct expiry {
    static constexpr std::string_view name = "expiry";
};
/// values compressed by a codec: compressed<Codec>
struct compression {
    static constexpr std::string_view name = "compression";
};
}  // namespace policy_kind

namespace detail {

template <class P, class Kind>
concept policy_of_kind = requires {
    typename P::policy_kind;
}
&&std::same_as<typename P::policy_kind, Kind>;

// Callables of the shapes the index concepts pass to a table, named so the concepts need no lambdas.
struct payload_visitor {
    void operator()(std::string_view) const noexcept {}
};
struct record_visitor {
    void operator()(std::string_view, std::string_view) const noexcept {}
};
struct record_predicate {
    bool operator()(std::string_view, std::string_view) const noexcept { return true; }
};
struct record_updater {
    template <class Replace>
    bool operator()(std::string_view, std::string_view, Replace&) const noexcept {
        return true;
    }
};

}  // namespace detail

/// A table from byte-string keys to byte-string payloads, as an index policy provides.
/// Views it returns stay valid until the next non-const call. See detail/hash_table.hpp.
/// The payload bytes find() returns are the table's own and may be written through the
/// view until then: a cache keeps each entry's access mark in its payload's first byte
/// and updates it in place, with an atomic store, under the shared lock.
template <class T>
concept index_table = std::default_initializable<T> && std::movable<T> &&
    requires(T& table, const T& const_table, std::string_view bytes) {
    /// the payload of a key, or nullopt; must not allocate
    { const_table.find(bytes) } -> std::same_as<std::optional<std::string_view>>;
    /// insert or replace (calling back with the old payload once the replacement cannot
    /// fail; an allocation failure leaves the table as it was); true when the key is new
    { table.upsert(bytes, bytes, detail::payload_visitor{}) } -> std::same_as<bool>;
    /// remove (calling back with the old payload); true when the key existed
    { table.erase(bytes, detail::payload_visitor{}) } -> std::same_as<bool>;
    { const_table.size() } -> std::convertible_to<std::size_t>;
    { const_table.memory_usage() } -> std::convertible_to<std::size_t>;
    const_table.for_each(detail::record_visitor{});
    table.clear();
    /// gives back the memory of erased and replaced records now (a cache over its budget asks)
    table.shrink_to_fit();
};

/// An index_table that can also visit records in memcmp order of their keys, ascending
/// from a given key on (visit_from), or descending from a given key or the last one
/// (visit_down_from, which takes nullopt for the last), until the visitor returns false.
template <class T>
concept ordered_index_table = index_table<T> && requires(const T& table, std::string_view bytes) {
    table.visit_from(bytes, true, detail::record_predicate{});
    table.visit_down_from(std::optional<std::string_view>(bytes), true, detail::record_predicate{});
};

/// An index policy: `table`, the index_table type, and `ordered`, whether the
/// table keeps keys sorted (which scan() needs).
template <class P>
concept index_policy = detail::policy_of_kind<P, policy_kind::index> && index_table<typename P::table> && requires {
    { P::ordered } -> std::convertible_to<bool>;
} &&(!P::ordered || ordered_index_table<typename P::table>);

/// What a threading policy's mutex must do: exclusive and shared locking, as std::shared_mutex.
template <class M>
concept shared_lockable = std::default_initializable<M> && requires(M& m) {
    m.lock();
    m.unlock();
    m.lock_shared();
    m.unlock_shared();
};

/// A counter of operations that concurrent readers may bump: add(n) and load().
template <class C>
concept op_counter = std::default_initializable<C> && requires(C& c, const C& const_c) {
    c.add(std::size_t{1});
    { const_c.load() } -> std::convertible_to<std::size_t>;
};

/// A threading policy: `mutex_type` (shared_lockable; writers lock it, readers lock it
/// shared), `counter_type` for statistics bumped under a shared lock, and
/// `concurrent`, whether several threads may use one store at once.
template <class P>
concept threading_policy = detail::policy_of_kind<P, policy_kind::threading> &&
    shared_lockable<typename P::mutex_type> && op_counter<typename P::counter_type> && requires {
    { P::concurrent } -> std::convertible_to<bool>;
};

/// A durability policy: says when written bytes reach the OS and the disk. Only
/// persistent store policies take one; see docs for the contract of each. A persistent
/// store also asks for `P::writer<IO, Concurrent>`, which must be a durability_writer.
template <class P>
concept durability_policy = detail::policy_of_kind<P, policy_kind::durability> && requires {
    { P::name } -> std::convertible_to<std::string_view>;
};

/// The writer of a durability policy, `P::writer<IO, Concurrent>`: what a log store calls.
/// The store hands it whole records with append() under its write lock (one thread at a
/// time), which puts each at the end of the data file (`file.write(offset, bytes, ec)`)
/// or holds it to write later, and numbers it 1, 2, 3, ...; commit(sequence) runs after
/// the store's lock is released (by several threads at once when Concurrent) and returns
/// once the record is as durable as the policy promises. end() is where the next record
/// goes; written_end(), read in one go, where the first record not yet wholly in the file
/// starts; read_pending() copies a record not yet in the file. flush() hands everything
/// to the OS, sync() makes it durable (`file.sync(ec)`), drain() and close() leave nothing
/// held; attach() points the writer at a new file (after compaction or clear), holding
/// end bytes, all durable. A failure is reported by every later call through failed().
/// A `sequenced` writer (async_worker) writes on its own thread; the store then waits
/// with wait_durable(sequence) and reports durable_sequence().
template <class W, class IO>
concept durability_writer = std::default_initializable<W> &&
    requires(W& writer, const W& reading, detail::data_file<IO>& file, std::string_view record, std::uint64_t number,
             char* out, std::error_code& ec) {
    { W::sequenced } -> std::convertible_to<bool>;
    writer.attach(file, number);
    { writer.append(record, ec) } -> std::same_as<detail::append_result>;
    writer.commit(number, ec);
    { reading.end() } -> std::convertible_to<std::uint64_t>;
    { reading.written_end() } -> std::convertible_to<std::uint64_t>;
    { reading.read_pending(number, out, std::size_t{0}) } -> std::convertible_to<bool>;
    { &W::flush } -> std::same_as<void (W::*)(std::error_code&)>;
    { &W::sync } -> std::same_as<void (W::*)(std::error_code&)>;
    { &W::drain } -> std::same_as<void (W::*)(std::error_code&)>;
    { &W::close } -> std::same_as<void (W::*)(std::error_code&)>;
    { reading.syncs() } -> std::convertible_to<std::uint64_t>;
    { reading.bytes_written() } -> std::convertible_to<std::uint64_t>;
    { reading.failed(ec) } -> std::convertible_to<bool>;
} &&(!W::sequenced || requires(W & writer, const W& reading, std::uint64_t number, std::error_code& ec) {
    writer.wait_durable(number, ec);
    { reading.durable_sequence() } -> std::convertible_to<std::uint64_t>;
});

/// An I/O policy: the system calls of a persistent store, as members that take the
/// same arguments as the POSIX calls of the same name, return the same results and
/// set errno on failure (list_directory fills a vector of names). Each store holds
/// its own copy, so a policy object may carry state such as a simulated file system.
template <class P>
concept io_policy = detail::policy_of_kind<P, policy_kind::io> && std::copy_constructible<P> &&
    requires(P& io, const char* path, int fd, void* buffer, const void* data, const iovec* parts, struct stat* info,
             std::vector<std::string>& names) {
    { io.open(path, 0, mode_t{0}) } -> std::same_as<int>;
    { io.close(fd) } -> std::same_as<int>;
    { io.pread(fd, buffer, std::size_t{0}, off_t{0}) } -> std::same_as<ssize_t>;
    { io.preadv(fd, parts, 0, off_t{0}) } -> std::same_as<ssize_t>;
    { io.pwrite(fd, data, std::size_t{0}, off_t{0}) } -> std::same_as<ssize_t>;
    { io.fdatasync(fd) } -> std::same_as<int>;
    { io.fsync(fd) } -> std::same_as<int>;
    { io.ftruncate(fd, off_t{0}) } -> std::same_as<int>;
    { io.fstat(fd, info) } -> std::same_as<int>;
    { io.stat(path, info) } -> std::same_as<int>;
    { io.rename(path, path) } -> std::same_as<int>;
    { io.unlink(path) } -> std::same_as<int>;
    { io.mkdir(path, mode_t{0}) } -> std::same_as<int>;
    { io.rmdir(path) } -> std::same_as<int>;
    { io.flock(fd, 0) } -> std::same_as<int>;
    { io.mmap(buffer, std::size_t{0}, 0, 0, fd, off_t{0}) } -> std::same_as<void*>;
    { io.munmap(buffer, std::size_t{0}) } -> std::same_as<int>;
    { io.list_directory(path, names) } -> std::same_as<int>;
};

/// An I/O policy that can also give a file a second name, as POSIX link() does. Optional:
/// a store's backup links the closed segments into the copy when its policy has link and
/// copies them when it has not (or when the file system refuses the link).
template <class P>
concept io_policy_with_link = io_policy<P> && requires(P& io, const char* path) {
    { io.link(path, path) } -> std::same_as<int>;
};

/// An I/O policy that can also make a file share another's bytes copy-on-write, as Linux's
/// ioctl(FICLONE) does (a reflink): clone_file(from, to) of two descriptors gives to the
/// whole of from's bytes, or fails with -1 and errno (the file system has no reflinks, or
/// the two are on different file systems). Optional: a store's backup clones each file it
/// copies whole when its policy has clone_file and the file system allows it, and copies
/// the bytes otherwise.
template <class P>
concept io_policy_with_clone = io_policy<P> && requires(P& io, int fd) {
    { io.clone_file(fd, fd) } -> std::same_as<int>;
};

/// An I/O policy that can also ask the kernel to start writing a range of a file back to
/// disk without waiting, as Linux sync_file_range() does with SYNC_FILE_RANGE_WRITE (the
/// only flag a store passes). Optional: with it, a store asks for each megabyte it writes
/// to a file as it goes, so that syncing a large file (a segment as it closes, a
/// compaction's output) waits only for the last bytes; without it, the sync writes them all.
template <class P>
concept io_policy_with_writeback = io_policy<P> && detail::starts_writeback<P>;

/// A number a cache gives each entry it admits, so that an eviction policy can tell an
/// entry from a later one under the same key.
using entry_ticket = std::uint32_t;

/// What an eviction policy may ask of the cache whose entries it orders, during the call
/// it is passed to: an entry's mark, found by the key and ticket it was admitted with.
class cache_entries {
public:
    using find_function = std::uint8_t* (*)(const void* cache, std::string_view key, entry_ticket ticket) noexcept;

    cache_entries(const void* cache, find_function find) noexcept : cache_(cache), find_(find) {}

    /// The mark of the entry admitted under key with ticket, which the policy may rewrite;
    /// nullptr when that entry has gone (erased or evicted, even if the key is back since).
    [[nodiscard]] std::uint8_t* mark(std::string_view key, entry_ticket ticket) const noexcept {
        return find_(cache_, key, ticket);
    }

private:
    const void* cache_;
    find_function find_;
};

/// An eviction policy: chooses the entry a bounded store or a read cache drops when it
/// needs room. The cache keeps one byte per entry beside its value, the mark: a read
/// replaces it by touch(mark) with a relaxed atomic store under the shared lock (so
/// touch must be a pure function, and concurrent reads may lose an update), and the
/// policy reads and rewrites marks as it evicts, under the exclusive lock. Everything
/// else it keeps (queues, keys, history) is its own, counted by memory_usage(). See
/// kvforge/cache/lru.hpp, the reference.
template <class E>
concept eviction_policy = std::default_initializable<E> && std::movable<E> &&
    requires(E& policy, const E& const_policy, std::string_view key, entry_ticket ticket, std::uint8_t mark,
             const cache_entries& entries) {
    { E::name } -> std::convertible_to<std::string_view>;
    /// the mark of an entry after a read
    { E::touch(mark) }
    noexcept->std::same_as<std::uint8_t>;
    /// a new entry under key: returns its first mark
    { policy.admit(key, ticket) } -> std::same_as<std::uint8_t>;
    /// an entry with this mark was erased (not evicted)
    policy.forget(mark);
    /// picks an admitted entry that has not gone, forgets it and returns its key, valid
    /// until the next call; the cache calls it only while it holds an entry
    { policy.evict(entries) } -> std::same_as<std::string_view>;
    /// drops what it keeps for entries that have gone and gives back spare memory
    policy.shrink_to_fit(entries);
    /// bytes of memory it holds
    { const_policy.memory_usage() } -> std::convertible_to<std::size_t>;
    policy.clear();
};

/// A cache policy: `eviction`, its eviction policy, and `persistent_store`, whether it
/// keeps values in memory in front of a persistent store (read_cache) or bounds a
/// memory store (bounded); and a class template backend<Policies, StoreBackend> that
/// makes the store's backend of the store policy's (see cache/bounded.hpp).
template <class P>
concept cache_policy =
    detail::policy_of_kind<P, policy_kind::cache> && eviction_policy<typename P::eviction> && requires {
    { P::persistent_store } -> std::convertible_to<bool>;
};

/// A store policy: `persistent`, whether it keeps records on disk (and so takes a
/// durability policy), and a class template `backend<Policies>` that implements the
/// byte-level operations for a resolved set of policies (see stores/memory.hpp).
template <class P>
concept store_policy = detail::policy_of_kind<P, policy_kind::store> && requires {
    { P::persistent } -> std::convertible_to<bool>;
    { P::name } -> std::convertible_to<std::string_view>;
};

}  // namespace kvforge
// ---- end kvforge/concepts.hpp ----
// ---- begin kvforge/detail/hash_table.hpp ----
/// \file hash_table.hpp
/// The open-addressing table behind kvforge::hash_index.
///
/// The table is an array of 64-byte groups, each one cache line holding the probe metadata
/// of 7 slots and the slots themselves (detail/hash_group.hpp): a tag byte per slot (0:
/// empty, else 8 bits of the key's hash), a byte of overflow bits, and 7 slot words, each
/// the 40-bit arena reference of a (key, payload) record with 24 more bits of the key's hash.
///
/// The group count need not be a power of two: a full table grows to half as many groups
/// again (rounded up), so between growths it is 58% to 88% full, where doubling would leave
/// it 44% to 88% full (a million keys take 12.7 MiB of groups rather than 16). A key's home
/// group is the high part of (hash bits) * (group count), "fastrange": the 24 hash bits a
/// slot keeps for tables of up to 2^24 groups, so that growing needs no key, and 32 other
/// bits for larger ones. The tag is the hash's top byte, which neither uses.
///
/// Each table hashes with a seed of its own (drawn from a process-wide count when it is
/// made; clone() and moves keep it). Homes grow with the hash bits, so a table's for_each
/// visits its keys in the order of their hash bits; were every table to hash alike, a
/// table filled in another's order (a compaction, a copy, a replay of what one wrote)
/// would meet its homes in increasing order, and while it grows all its keys so far
/// would home in the first part of its array: one cluster across it, which every insert
/// walks, making the fill quadratic (400,000 keys: 10 s rather than 90 ms). With its own
/// seed, another table's order is a random one to it.
///
/// A lookup hashes the key, loads its home group, compares the 7 tags at once (as one
/// word), and compares the key in the arena only for a slot whose tag and hash bits match:
/// two cache misses for a hit (the group, the record), one for a miss, with no branch on
/// loaded data but "which slot matched". A key that does not fit in its home group goes
/// to the next group (wrapping from the last to the first), which visits every group for
/// any group count; each full group it passes gets the overflow bit of its tag (tag % 8)
/// set, so a lookup stops at the first group without a match whose bit for the key's tag
/// is clear. find_many() runs several lookups as a pipeline, so that their misses overlap,
/// and upsert_many() several inserts. A group array of 2 MiB or more lives on transparent
/// huge pages where the system allows (detail/huge_pages.hpp), so that the group's miss
/// is not also a TLB miss. Such an array takes memory as its pages are first written, and
/// growing gives the old array's pages back as their slots move: homes grow with the hash
/// bits, so the slots of the old array, read in order, land in the new one roughly in order,
/// and a growth holds about the new array's memory at a time, not both arrays'.
///
/// Erase clears the slot's tag and leaves no tombstone. It cannot clear overflow bits (they
/// may stand for other keys), so erases may leave stale bits that make later lookups of
/// absent keys visit a group more; to keep that bounded, each erase from a group with
/// overflow bits lowers the table's load limit by one, and the insert that meets the
/// lowered limit rebuilds the table (at the same size unless it is nearly full), which
/// clears every stale bit. Erases therefore never degrade lookups beyond a bound.
///
/// A hit's record: once a slot's tag and hash bits match, its first two lines are requested
/// together (the key in the first, a payload that does not fit beside it in the second), so
/// the payload a get reads next does not wait for the key comparison; keys of up to 16 bytes
/// are compared inline (detail/same_bytes.hpp).
///
/// Allocation failure: an insert that must grow allocates the new group array before it
/// changes anything, and appends the record before placing it, so a std::bad_alloc leaves
/// the table as it was (possibly already grown). Replacing a payload appends the new record
/// before releasing the old. Shrinking after erases and compacting the arena are only worth
/// doing: when they run out of memory they are skipped, the table keeps its larger array or
/// its garbage, and a later write tries again.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

// ---- begin kvforge/detail/force_inline.hpp ----
/// \file force_inline.hpp
/// KVFORGE_FORCE_INLINE: a function inlined wherever it is called, whatever the compiler's
/// own estimate.
///
/// For the few functions of an in-memory lookup (hash, probe, record header): in a small
/// program the compiler inlines them by itself, but in a large one (many stores, many
/// instantiations) it keeps them out of line once its budget for the translation unit is
/// spent, and a get then makes three calls. Those calls cost a third of a view get at a
/// million keys: every instruction a get takes is one the processor cannot spend running
/// the next gets ahead while this one waits for memory (docs/benchmarks.md, "Memory get:
/// the calls").

#if defined(__GNUC__) || defined(__clang__)
#define KVFORGE_FORCE_INLINE [[gnu::always_inline]] inline
#elif defined(_MSC_VER)
#define KVFORGE_FORCE_INLINE __forceinline
#else
#define KVFORGE_FORCE_INLINE inline
#endif
// ---- end kvforge/detail/force_inline.hpp ----
// ---- begin kvforge/detail/hash.hpp ----
/// \file hash.hpp
/// A fast 64-bit hash of byte strings for the in-memory indexes.
///
/// Built on the multiply-fold step (the 128-bit product of two words, high half
/// xored into the low half), which mixes every input bit into every output bit in
/// one multiplication. Not a cryptographic hash: it needs only to spread keys well.

#include <cstddef>
#include <cstdint>
#include <string_view>

// ---- begin kvforge/detail/byte_order.hpp ----
/// \file byte_order.hpp
/// Unaligned loads and stores, big-endian encodings and LEB128 varints.

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kvforge::detail {

/// Reads a T from possibly unaligned memory.
template <class T>
[[nodiscard]] inline T load_unaligned(const void* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}

/// Writes a T to possibly unaligned memory.
template <class T>
inline void store_unaligned(void* p, T v) noexcept {
    std::memcpy(p, &v, sizeof(T));
}

/// Reverses the bytes of a 1, 2, 4 or 8 byte unsigned integer; one instruction.
template <class U>
[[nodiscard]] constexpr U byteswap(U v) noexcept {
    if constexpr (sizeof(U) == 1) {
        return v;
    } else if constexpr (sizeof(U) == 2) {
        return __builtin_bswap16(v);
    } else if constexpr (sizeof(U) == 4) {
        return __builtin_bswap32(v);
    } else {
        static_assert(sizeof(U) == 8);
        return __builtin_bswap64(v);
    }
}

/// Converts between host order and big-endian (memcmp order).
template <class U>
[[nodiscard]] constexpr U to_big_endian(U v) noexcept {
    if constexpr (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
        return v;
    } else {
        return byteswap(v);
    }
}

/// Converts between host order and little-endian, the byte order of kvforge's files.
template <class U>
[[nodiscard]] constexpr U to_little_endian(U v) noexcept {
    if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
        return v;
    } else {
        return byteswap(v);
    }
}

/// Reads up to 8 bytes as a big-endian number, padding short input with zero bytes,
/// so that comparing the results orders byte strings as memcmp does on their first 8 bytes.
[[nodiscard]] inline std::uint64_t load_prefix_be(const char* p, std::size_t n) noexcept {
    unsigned char buf[8] = {};
    if (n > 0) std::memcpy(buf, p, n < 8 ? n : 8);
    return to_big_endian(load_unaligned<std::uint64_t>(buf));
}

/// The largest encoding of a 64-bit varint.
inline constexpr std::size_t max_varint_size = 10;

/// Writes v as an LEB128 varint; returns the byte past the last one written.
inline char* put_varint(char* out, std::uint64_t v) noexcept {
    while (v >= 0x80) {
        *out++ = static_cast<char>(v | 0x80);
        v >>= 7;
    }
    *out++ = static_cast<char>(v);
    return out;
}

/// The number of bytes put_varint writes for v.
[[nodiscard]] constexpr std::size_t varint_size(std::uint64_t v) noexcept {
    std::size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

/// Reads an LEB128 varint from [p, end); returns nullptr when it is truncated or overlong.
inline const char* get_varint(const char* p, const char* end, std::uint64_t& v) noexcept {
    std::uint64_t result = 0;
    for (unsigned shift = 0; shift < 64 && p < end; shift += 7) {
        const auto byte = static_cast<unsigned char>(*p++);
        result |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            v = result;
            return p;
        }
    }
    return nullptr;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/byte_order.hpp ----

namespace kvforge::detail {

__extension__ using uint128 = unsigned __int128;

/// Multiplies two words and folds the 128-bit product back into 64 bits.
[[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
    const uint128 product = static_cast<uint128>(a) * b;
    return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

/// Hashes a byte string to 64 well-mixed bits. Each seed gives another hash function,
/// whose bits are unrelated to those of the others.
[[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) noexcept {
    // Odd constants with roughly half their bits set, taken from the digits of pi.
    constexpr std::uint64_t k0 = 0x243f6a8885a308d3ULL;
    constexpr std::uint64_t k1 = 0x13198a2e03707345ULL;
    constexpr std::uint64_t k2 = 0xa4093822299f31d1ULL;

    const char* p = bytes.data();
    std::size_t n = bytes.size();
    // The seed enters the state that every later step multiplies, so it changes every bit.
    std::uint64_t h = k0 ^ seed ^ fold_multiply(n ^ k1, k2);

    while (n > 16) {
        h = fold_multiply(load_unaligned<std::uint64_t>(p) ^ k1, load_unaligned<std::uint64_t>(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    // The last 1..16 bytes, read as two possibly overlapping words so no byte loop is needed.
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (n >= 8) {
        a = load_unaligned<std::uint64_t>(p);
        b = load_unaligned<std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
        a = load_unaligned<std::uint32_t>(p);
        b = load_unaligned<std::uint32_t>(p + n - 4);
    } else if (n > 0) {
        const auto c0 = static_cast<unsigned char>(p[0]);
        const auto c1 = static_cast<unsigned char>(p[n / 2]);
        const auto c2 = static_cast<unsigned char>(p[n - 1]);
        a = (std::uint64_t{c0} << 16) | (std::uint64_t{c1} << 8) | c2;
    }
    return fold_multiply(h ^ a ^ k2, fold_multiply(b ^ k1, h ^ k0));
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/hash.hpp ----
// ---- begin kvforge/detail/hash_group.hpp ----
/// \file hash_group.hpp
/// One group of hash_table: the probe metadata of 7 slots and the slots, in one cache line.
///
///   bytes 0..6    tags: 0 for an empty slot, else the top byte of the key's hash (0 taken as 1)
///   byte 7        overflow bits: bit (tag % 8) set once a key with such a tag went on past
///                 this group because it was full
///   bytes 8..63   7 slot words (see hash_table.hpp)
///
/// The metadata and the slots share one line so that one memory access brings both: a
/// lookup waits for the group, then for the record. (Groups of 14 slots in two lines,
/// with both lines requested at once, measured a third slower at a million keys: the
/// matching slot is in the second line half the time, and the extra line per lookup
/// costs more than the longer groups save.)
///
/// The tags are compared as one 64-bit word (SIMD within a register): portable, and
/// measured faster than an SSE2 compare, whose broadcast of the tag GCC builds through a
/// byte store and a wider load from the stack; that failed store forwarding stalled
/// each lookup long enough to halve how many run ahead at once.

#include <bit>
#include <cstdint>
#include <cstring>

namespace kvforge::detail {

struct alignas(64) hash_group {
    static constexpr unsigned width = 7;
    static constexpr std::uint8_t empty = 0;

    std::uint8_t tags[width];
    std::uint8_t overflow;
    std::uint64_t slots[width];

    /// The bit of `overflow` that stands for keys with this tag.
    [[nodiscard]] static std::uint8_t overflow_bit(std::uint8_t tag) noexcept {
        return static_cast<std::uint8_t>(1U << (tag & 7U));
    }

    /// A mask with bit 8i+7 set for each slot i whose tag equals tag (tag 0: the empty
    /// slots); take slots from it with first_slot() and drop_first().
    [[nodiscard]] std::uint64_t match(std::uint8_t tag) const noexcept {
        // The 8 metadata bytes as one word, compared with tag in every byte at once: a
        // byte of x is zero where they are equal, and the usual carry-free test turns
        // exactly those bytes into 0x80 (no false matches, unlike the shorter test).
        constexpr std::uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
        constexpr std::uint64_t tag_bytes = 0x00ffffffffffffffULL;  // the overflow byte is not a tag
        std::uint64_t word = 0;
        std::memcpy(&word, tags, sizeof word);
        const std::uint64_t x = word ^ (0x0101010101010101ULL * tag);
        return ~(((x & low7) + low7) | x | low7) & tag_bytes & 0x8080808080808080ULL;
    }
    /// The slot of the lowest bit of a match() mask (the mask must not be 0).
    [[nodiscard]] static unsigned first_slot(std::uint64_t matches) noexcept {
        return static_cast<unsigned>(std::countr_zero(matches)) / 8;
    }
    /// The mask without its lowest slot.
    [[nodiscard]] static std::uint64_t drop_first(std::uint64_t matches) noexcept { return matches & (matches - 1); }

    /// Asks the processor to start loading the group.
    void prefetch() const noexcept { __builtin_prefetch(this); }
};

static_assert(sizeof(hash_group) == 64, "a group is one cache line");

}  // namespace kvforge::detail
// ---- end kvforge/detail/hash_group.hpp ----
// ---- begin kvforge/detail/huge_pages.hpp ----
/// \file huge_pages.hpp
/// Arrays that ask the kernel to back them with transparent huge pages.
///
/// A hash lookup touches one random line of its table: with 4 KiB pages each of those is
/// also a TLB miss (a table of a million keys spans 4,096 pages, past what the TLB maps),
/// which adds a page walk to every lookup. An array of at least 2 MiB is therefore aligned
/// to 2 MiB and advised MADV_HUGEPAGE, so that where transparent huge pages are enabled
/// ("madvise" or "always"), the kernel maps it with 2 MiB pages. Elsewhere, or when the
/// advice is refused, the array works as any other. The chunks of record_arena.hpp, filled
/// with records as a store loads, take the same memory (make_huge_page_buffer): a huge
/// page is one page fault where 4 KiB pages are 512.
///
/// On Linux such memory is a private anonymous mapping of its own: its pages read as zero
/// without being written, so a page takes memory only once it is first written, and
/// release_pages() gives the memory of a part already read back before the whole array is
/// freed. A table that grows moves its slots from the old array to the new one in order,
/// so with both it holds about one array's worth of memory while it grows, not two.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace kvforge::detail {

/// Frees what make_huge_page_buffer() allocated: a mapping of mapped_bytes, or (when that
/// is 0) memory from operator new with the alignment it used.
struct huge_page_array_deleter {
    std::size_t mapped_bytes = 0;
    std::align_val_t alignment{alignof(std::max_align_t)};

    template <class T>
    void operator()(T* p) const noexcept {
#if defined(__linux__)
        if (mapped_bytes != 0) {
            ::munmap(static_cast<void*>(p), mapped_bytes);
            return;
        }
#endif
        ::operator delete(static_cast<void*>(p), alignment);
    }
};

/// Owns an array that make_huge_page_buffer() or make_huge_page_array() allocated, as
/// std::unique_ptr<T[], huge_page_array_deleter> would (the same member names), in a class
/// of a few members: a unique_ptr with a deleter of its own instantiates a tuple and a
/// dozen helpers for each element type in every file that compiles a store.
template <class T>
class huge_page_array {
public:
    huge_page_array() noexcept = default;
    huge_page_array(T* array, huge_page_array_deleter deleter) noexcept : array_(array), deleter_(deleter) {}
    huge_page_array(huge_page_array&& other) noexcept
        : array_(std::exchange(other.array_, nullptr)), deleter_(other.deleter_) {}
    huge_page_array& operator=(huge_page_array&& other) noexcept {
        if (this != &other) {
            reset();
            array_ = std::exchange(other.array_, nullptr);
            deleter_ = other.deleter_;
        }
        return *this;
    }
    huge_page_array(const huge_page_array&) = delete;
    huge_page_array& operator=(const huge_page_array&) = delete;
    ~huge_page_array() { reset(); }

    [[nodiscard]] T* get() const noexcept { return array_; }
    [[nodiscard]] T& operator[](std::size_t i) const noexcept { return array_[i]; }
    explicit operator bool() const noexcept { return array_ != nullptr; }
    [[nodiscard]] const huge_page_array_deleter& get_deleter() const noexcept { return deleter_; }

    /// Gives up the array without freeing it.
    [[nodiscard]] T* release() noexcept { return std::exchange(array_, nullptr); }

    /// Frees the array, leaving none.
    void reset() noexcept {
        if (array_ != nullptr) deleter_(std::exchange(array_, nullptr));
    }

private:
    T* array_ = nullptr;
    huge_page_array_deleter deleter_;
};

/// The size of a huge page on the platforms where kvforge asks for them.
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

#if defined(__linux__)
/// A private anonymous mapping of bytes (a multiple of the page size) aligned to a huge
/// page, or nullptr. Its pages read as zero until written.
[[nodiscard]] inline void* map_huge_page_aligned(std::size_t bytes) noexcept {
    // Map a huge page more than needed, then unmap what lies outside the aligned part.
    const std::size_t reserved = bytes + huge_page_size;
    void* mapping = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(mapping);
    const std::uintptr_t aligned = (start + huge_page_size - 1) & ~(std::uintptr_t{huge_page_size} - 1);
    if (aligned != start) ::munmap(mapping, aligned - start);
    const std::uintptr_t tail = aligned + bytes;
    if (tail != start + reserved) ::munmap(reinterpret_cast<void*>(tail), start + reserved - tail);
    return reinterpret_cast<void*>(aligned);
}

/// The system's page size.
[[nodiscard]] inline std::size_t system_page_size() noexcept {
    static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}
#endif

/// bytes bytes of memory, on huge pages where they are at least 2 MiB and the system
/// allows it; aligned for any T of alignment up to small_alignment below that. The
/// memory is zero when the deleter's mapped_bytes is not 0, else uninitialised. Throws
/// std::bad_alloc.
[[nodiscard]] inline huge_page_array<char> make_huge_page_buffer(std::size_t bytes, std::size_t small_alignment = 1) {
    if (bytes > ~std::size_t{0} - 2 * huge_page_size) throw std::bad_alloc();
#if defined(__linux__)
    if (bytes >= huge_page_size) {
        const std::size_t page = system_page_size();
        const std::size_t mapped = (bytes + page - 1) / page * page;
        void* memory = map_huge_page_aligned(mapped);
        if (memory == nullptr) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
        // Advice before the first touch, so that the pages are huge from their first fault.
        // Only whole huge pages are advised; a refusal (no THP in this kernel) changes nothing.
        ::madvise(memory, bytes - bytes % huge_page_size, MADV_HUGEPAGE);
#endif
        return huge_page_array<char>(static_cast<char*>(memory),
                                     huge_page_array_deleter{mapped, std::align_val_t{huge_page_size}});
    }
#endif
    const std::size_t alignment = bytes >= huge_page_size ? huge_page_size : small_alignment;
    void* memory = ::operator new (bytes, std::align_val_t{alignment});
    return huge_page_array<char>(static_cast<char*>(memory), huge_page_array_deleter{0, std::align_val_t{alignment}});
}

/// count zero-filled elements of T (trivially copyable), on huge pages where the array is
/// large enough and the system allows it. Throws std::bad_alloc.
template <class T>
[[nodiscard]] huge_page_array<T> make_huge_page_array(std::size_t count) {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_default_constructible_v<T>);
    if (count > ~std::size_t{0} / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = count * sizeof(T);
    huge_page_array<char> memory = make_huge_page_buffer(bytes, alignof(T));
    const huge_page_array_deleter deleter = memory.get_deleter();
    if (deleter.mapped_bytes == 0) std::memset(memory.get(), 0, bytes);  // a mapping reads as zero already
    return huge_page_array<T>(reinterpret_cast<T*>(memory.release()), deleter);
}

/// A growable array of trivially copyable T on huge pages where it is large enough
/// (make_huge_page_array): for an array of millions of elements filled once front to
/// back, such as the entries an open gathers, which in 4 KiB pages would take a page
/// fault every 4 KiB. reserve() first, when the size is known: growing copies the array.
template <class T>
class huge_page_vector {
public:
    [[nodiscard]] T* data() noexcept { return data_.get(); }
    [[nodiscard]] const T* data() const noexcept { return data_.get(); }
    [[nodiscard]] T* begin() noexcept { return data_.get(); }
    [[nodiscard]] T* end() noexcept { return data_.get() + size_; }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Room for n elements without growing.
    void reserve(std::size_t n) {
        if (n > capacity_) reallocate(n);
    }

    void push_back(const T& value) {
        if (size_ == capacity_) grow(1);
        data_[size_++] = value;
    }

    /// Appends the n elements at values.
    void append(const T* values, std::size_t n) {
        if (n > capacity_ - size_) grow(n);
        if (n != 0) std::memcpy(data_.get() + size_, values, n * sizeof(T));
        size_ += n;
    }

    /// Drops the elements, keeping the memory.
    void clear() noexcept { size_ = 0; }

    /// Drops the elements and frees the memory.
    void release() noexcept {
        data_.reset();
        size_ = 0;
        capacity_ = 0;
    }

private:
    void grow(std::size_t more) { reallocate(std::max({2 * capacity_, size_ + more, std::size_t{64}})); }

    void reallocate(std::size_t n) {
        huge_page_array<T> fresh = make_huge_page_array<T>(n);
        if (size_ != 0) std::memcpy(fresh.get(), data_.get(), size_ * sizeof(T));
        data_ = std::move(fresh);
        capacity_ = n;
    }

    huge_page_array<T> data_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

/// Gives back to the system the memory of the whole pages among elements [first, last) of
/// array, which the caller will not read again: where the array is a mapping of its own,
/// they read as zero afterwards; elsewhere nothing changes.
template <class T>
void release_pages(const huge_page_array<T>& array, std::size_t first, std::size_t last) noexcept {
#if defined(__linux__)
    if (array.get_deleter().mapped_bytes == 0 || first >= last) return;
    const std::size_t page = system_page_size();
    const auto base = reinterpret_cast<std::uintptr_t>(array.get());
    const std::uintptr_t from = (base + first * sizeof(T) + page - 1) / page * page;
    const std::uintptr_t to = (base + last * sizeof(T)) / page * page;
    if (from < to) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
#else
    (void)array;
    (void)first;
    (void)last;
#endif
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/huge_pages.hpp ----
// ---- begin kvforge/detail/record_arena.hpp ----
/// \file record_arena.hpp
/// The byte arena in which the in-memory indexes keep their (key, payload) records.
///
/// Records are packed one after another (varint key length, varint payload length,
/// key bytes, payload bytes) in chunks that never move, so a record costs its bytes
/// plus two or three, and the indexes point at records with 40-bit references that
/// fit beside a hash tag in one 64-bit slot. Replaced and erased records become
/// garbage; the owning index calls compact() once garbage outweighs live data, which
/// keeps memory within twice the live bytes at an amortised O(1) cost per write.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// A key and its payload as stored in the arena.
struct record_view {
    std::string_view key;
    std::string_view payload;
};

/// Append-only storage of (key, payload) records addressed by 40-bit references.
class record_arena {
public:
    /// A record's address: chunk index in the high bits, offset in the chunk in the low ones.
    using ref = std::uint64_t;
    static constexpr unsigned ref_bits = 40;

    record_arena() = default;
    record_arena(record_arena&& other) noexcept
        : chunks_(std::move(other.chunks_)),
          used_bytes_(std::exchange(other.used_bytes_, 0)),
          garbage_bytes_(std::exchange(other.garbage_bytes_, 0)),
          allocated_bytes_(std::exchange(other.allocated_bytes_, 0)) {
        other.chunks_.clear();
    }
    record_arena& operator=(record_arena&& other) noexcept {
        record_arena moved(std::move(other));
        std::swap(chunks_, moved.chunks_);
        std::swap(used_bytes_, moved.used_bytes_);
        std::swap(garbage_bytes_, moved.garbage_bytes_);
        std::swap(allocated_bytes_, moved.allocated_bytes_);
        return *this;
    }

    /// A copy of the arena that holds every record at the reference it has here, so an
    /// index copied word for word stays valid over it. Each chunk is copied as one block
    /// of its used bytes (garbage included, so the counters stay true) into a chunk just
    /// that large: a copy's memory is its contents, and it grows again as an arena does.
    [[nodiscard]] record_arena clone() const {
        record_arena copy;
        copy.chunks_.reserve(chunks_.size());
        for (const chunk& c : chunks_) {
            copy.chunks_.push_back({make_huge_page_buffer(c.used), c.used, c.used});
            if (c.used != 0) std::memcpy(copy.chunks_.back().data.get(), c.data.get(), c.used);
            copy.allocated_bytes_ += c.used;
        }
        copy.used_bytes_ = used_bytes_;
        copy.garbage_bytes_ = garbage_bytes_;
        return copy;
    }

    /// Copies a record in and returns its address.
    ref append(std::string_view key, std::string_view payload) {
        const std::size_t size = record_size(key.size(), payload.size());
        chunk& target = chunk_with_room(size);
        char* out = target.data.get() + target.used;
        const ref r = (static_cast<ref>(chunks_.size() - 1) << offset_bits) | target.used;
        out = put_varint(out, key.size());
        out = put_varint(out, payload.size());
        if (!key.empty()) std::memcpy(out, key.data(), key.size());
        if (!payload.empty()) std::memcpy(out + key.size(), payload.data(), payload.size());
        target.used += size;
        used_bytes_ += size;
        return r;
    }

    /// The record at r, which must be a live reference returned by append().
    [[nodiscard]] KVFORGE_FORCE_INLINE record_view view(ref r) const noexcept {
        const char* p = address(r);
        // Both lengths below 128, the usual case, take one byte each: no decoding loop.
        const auto key_byte = static_cast<unsigned char>(p[0]);
        const auto payload_byte = static_cast<unsigned char>(p[1]);
        if (((key_byte | payload_byte) & 0x80) == 0) return {{p + 2, key_byte}, {p + 2 + key_byte, payload_byte}};
        std::uint64_t key_size = 0;
        std::uint64_t payload_size = 0;
        // Lengths were written by append(), so decoding cannot fail; no end bound is needed.
        p = get_varint(p, p + max_varint_size, key_size);
        p = get_varint(p, p + max_varint_size, payload_size);
        return {{p, key_size}, {p + key_size, payload_size}};
    }

    /// Asks the processor to start loading the record at r into the cache: its first two
    /// lines, which hold a short key and the start of its payload.
    KVFORGE_FORCE_INLINE void prefetch(ref r) const noexcept {
        __builtin_prefetch(address(r));
        __builtin_prefetch(address(r) + 64);
    }

    /// Replaces the payload in place when the new one has the same size; returns whether it did.
    bool overwrite_payload(ref r, std::string_view payload) noexcept {
        const record_view old = view(r);
        if (old.payload.size() != payload.size()) return false;
        // memmove: the new payload may be a view of the old one.
        if (!payload.empty()) std::memmove(const_cast<char*>(old.payload.data()), payload.data(), payload.size());
        return true;
    }

    /// Marks the record at r as garbage; its bytes are reclaimed by the next compact().
    void release(ref r) noexcept {
        const record_view v = view(r);
        garbage_bytes_ += record_size(v.key.size(), v.payload.size());
    }

    /// True when garbage exceeds live data and is large enough to be worth a pass.
    [[nodiscard]] bool wants_compaction() const noexcept {
        constexpr std::size_t min_garbage = std::size_t{1} << 16;
        return garbage_bytes_ > min_garbage && garbage_bytes_ > live_bytes();
    }

    /// Moves every live record into fresh chunks and drops the old ones.
    /// for_each_ref(visit) must call visit(ref&) once for every live reference the index
    /// holds, in the same order each time it is called; it is called twice. The first
    /// pass copies the records, the second rewrites the references and cannot throw,
    /// so running out of memory while copying leaves the index as it was.
    template <class ForEachRef>
    void compact(ForEachRef&& for_each_ref) {
        record_arena fresh;
        fresh.reserve_first_chunk(live_bytes());
        std::vector<ref> moved;
        for_each_ref([&](ref& r) {
            const record_view v = view(r);
            moved.push_back(fresh.append(v.key, v.payload));
        });
        std::size_t next = 0;
        for_each_ref([&](ref& r) noexcept { r = moved[next++]; });
        *this = std::move(fresh);
    }

    /// Drops every record.
    void clear() noexcept { *this = record_arena{}; }

    /// Bytes of records that are still referenced.
    [[nodiscard]] std::size_t live_bytes() const noexcept { return used_bytes_ - garbage_bytes_; }
    /// Bytes of replaced or erased records not yet reclaimed.
    [[nodiscard]] std::size_t garbage_bytes() const noexcept { return garbage_bytes_; }
    /// Bytes of memory held by the chunks.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return allocated_bytes_; }

private:
    static constexpr unsigned offset_bits = 22;
    static constexpr std::size_t max_chunk_size = std::size_t{1} << offset_bits;  // 4 MiB
    static constexpr std::size_t first_chunk_size = std::size_t{1} << 12;
    static constexpr std::size_t max_chunks = std::size_t{1} << (ref_bits - offset_bits);

    struct chunk {
        // On huge pages from 2 MiB: filling a chunk (a store's load) takes fewer page
        // faults, and reading its records fewer TLB misses.
        huge_page_array<char> data;
        std::size_t capacity = 0;
        std::size_t used = 0;
    };

    [[nodiscard]] static std::size_t record_size(std::size_t key_size, std::size_t payload_size) noexcept {
        return varint_size(key_size) + varint_size(payload_size) + key_size + payload_size;
    }

    [[nodiscard]] KVFORGE_FORCE_INLINE const char* address(ref r) const noexcept {
        return chunks_[r >> offset_bits].data.get() + (r & (max_chunk_size - 1));
    }

    void reserve_first_chunk(std::size_t bytes) {
        if (bytes > 0) add_chunk(bytes < max_chunk_size ? bytes : max_chunk_size);
    }

    chunk& chunk_with_room(std::size_t size) {
        if (!chunks_.empty() && chunks_.back().capacity - chunks_.back().used >= size) return chunks_.back();
        // Each new chunk is an eighth of the arena (from 4 KiB to 4 MiB), so at most about
        // an eighth of its memory waits unused at its end, and an arena just compacted
        // into one chunk grows by an eighth, not by a doubling: a bounded cache keeps the
        // room for that step free. A record larger than a chunk gets one of its own,
        // addressed at offset 0.
        std::size_t capacity = std::clamp(allocated_bytes_ / 8, first_chunk_size, max_chunk_size);
        if (capacity < size) capacity = size;
        return add_chunk(capacity);
    }

    chunk& add_chunk(std::size_t capacity) {
        if (chunks_.size() >= max_chunks) throw std::length_error("kvforge: in-memory index arena is full");
        chunks_.push_back({make_huge_page_buffer(capacity), capacity, 0});
        allocated_bytes_ += capacity;
        return chunks_.back();
    }

    std::vector<chunk> chunks_;
    std::size_t used_bytes_ = 0;
    std::size_t garbage_bytes_ = 0;
    std::size_t allocated_bytes_ = 0;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/record_arena.hpp ----
// ---- begin kvforge/detail/same_bytes.hpp ----
/// \file same_bytes.hpp
/// Equality of two byte strings, inline for the short keys an index compares on every hit.

#include <cstddef>
#include <cstdint>
#include <string_view>


namespace kvforge::detail {

/// a == b. Strings of 8 to 16 bytes are compared as two words each (overlapping when
/// shorter than 16), with no call to memcmp: a lookup's key comparison is then a few
/// instructions rather than a call with its own dispatch on the size, and the fewer
/// instructions a lookup takes, the more lookups the processor runs ahead while the
/// earlier ones wait for memory.
[[nodiscard]] KVFORGE_FORCE_INLINE bool same_bytes(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8 || n > 16) return a == b;
    const char* x = a.data();
    const char* y = b.data();
    const std::uint64_t head = load_unaligned<std::uint64_t>(x) ^ load_unaligned<std::uint64_t>(y);
    const std::uint64_t tail = load_unaligned<std::uint64_t>(x + n - 8) ^ load_unaligned<std::uint64_t>(y + n - 8);
    return (head | tail) == 0;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/same_bytes.hpp ----

namespace kvforge::detail {

/// An unordered map from byte-string keys to byte-string payloads.
class hash_table {
public:
    hash_table() = default;
    hash_table(hash_table&& other) noexcept
        : groups_(std::move(other.groups_)),
          group_count_(std::exchange(other.group_count_, 0)),
          size_(std::exchange(other.size_, 0)),
          max_load_(std::exchange(other.max_load_, 0)),
          seed_(other.seed_),
          arena_(std::move(other.arena_)) {}
    hash_table& operator=(hash_table&& other) noexcept {
        hash_table moved(std::move(other));
        swap(moved);
        return *this;
    }

    /// A copy of the table, independent of it. The group array and the arena's chunks are
    /// copied as blocks: slot words hold arena references, which stay valid in the copied
    /// arena, so nothing is hashed or placed again. If an allocation throws, nothing leaks.
    [[nodiscard]] hash_table clone() const {
        static_assert(std::is_trivially_copyable_v<hash_group>);
        hash_table copy;
        copy.arena_ = arena_.clone();
        if (groups_) {
            copy.groups_ = make_huge_page_array<hash_group>(group_count());
            std::memcpy(copy.groups_.get(), groups_.get(), group_count() * sizeof(hash_group));
        }
        copy.group_count_ = group_count_;
        copy.size_ = size_;
        copy.max_load_ = max_load_;
        copy.seed_ = seed_;
        return copy;
    }

    /// The payload stored for key, or nullopt. Never allocates.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (size_ == 0) return std::nullopt;
        return payload_at(locate(key, hash_of(key)));
    }

    /// Looks up every key of keys (a random-access range of std::string_view) as find() does,
    /// calling on_result(i, payload or nullopt) for keys[i] in order. The lookups overlap:
    /// each key's group is requested a few keys ahead, and its record once the group names
    /// it, so a batch waits for memory about once per pipeline stage rather than twice per key.
    template <class Keys, class OnResult>
    void find_many(const Keys& keys, OnResult&& on_result) const {
        const std::size_t n = std::size(keys);
        if (size_ == 0) {
            for (std::size_t i = 0; i < n; ++i) on_result(i, std::optional<std::string_view>());
            return;
        }
        // Key i is compared while key i + ahead's record and key i + 2 * ahead's group load.
        constexpr std::size_t ahead = 4;
        constexpr std::size_t ring = 16;  // a power of two above 2 * ahead
        std::uint64_t hashes[ring];
        const auto request_group = [&](std::size_t j) {
            hashes[j % ring] = hash_of(keys[j]);
            groups_[home_of(hashes[j % ring])].prefetch();
        };
        const auto request_record = [&](std::size_t j) { prefetch_candidate(hashes[j % ring]); };
        for (std::size_t j = 0; j < n && j < 2 * ahead; ++j) request_group(j);
        for (std::size_t j = 0; j < n && j < ahead; ++j) request_record(j);
        for (std::size_t i = 0; i < n; ++i) {
            if (i + 2 * ahead < n) request_group(i + 2 * ahead);
            if (i + ahead < n) request_record(i + ahead);
            on_result(i, payload_at(locate(keys[i], hashes[i % ring])));
        }
    }

    /// Inserts key or replaces its payload. When it existed, calls on_replace(old_payload)
    /// once the replacement can no longer fail, before it takes effect. Returns true when
    /// the key is new.
    template <class OnReplace>
    bool upsert(std::string_view key, std::string_view payload, OnReplace&& on_replace) {
        return upsert_hashed(key, hash_of(key), payload, on_replace);
    }

    /// Upserts count records as count upsert() calls in order would (a key given twice ends
    /// with its later payload, the earlier one reported to on_replace), for long runs of
    /// inserts such as loading a store's index. The inserts run as a pipeline: each key's
    /// home group is requested several keys before its insert, so that their cache misses
    /// overlap rather than come one after another. key_of(i) gives key i
    /// as a std::string_view (asked for twice), payload_of(i) its payload (read before the
    /// next call); on_replace(i, old_payload) is called as upsert() calls its on_replace.
    /// Returns how many keys were new. Should an allocation throw, the records before the
    /// one that failed are in, and the table is otherwise as upsert() leaves it.
    template <class KeyOf, class PayloadOf, class OnReplace>
    std::size_t upsert_many(std::size_t count, KeyOf&& key_of, PayloadOf&& payload_of, OnReplace&& on_replace) {
        // Key i is inserted while the groups of the next `ahead` keys load.
        constexpr std::size_t ahead = 16;
        constexpr std::size_t ring = 32;  // a power of two above ahead
        std::uint64_t hashes[ring];
        const auto request_group = [&](std::size_t j) {
            hashes[j % ring] = hash_of(key_of(j));
            if (groups_) groups_[home_of(hashes[j % ring])].prefetch();
        };
        for (std::size_t j = 0; j < count && j < ahead; ++j) request_group(j);
        std::size_t added = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (i + ahead < count) request_group(i + ahead);
            // Growing rehashes into a new array; homes come from the hashes, so they still hold.
            auto replaced = [&](std::string_view old) { on_replace(i, old); };
            if (upsert_hashed(key_of(i), hashes[i % ring], payload_of(i), replaced)) ++added;
        }
        return added;
    }

    /// Removes key, calling on_erase(old_payload) first. Returns whether it existed.
    template <class OnErase>
    bool erase(std::string_view key, OnErase&& on_erase) {
        if (size_ == 0) return false;
        const position at = locate(key, hash_of(key));
        if (at.group == npos) return false;
        hash_group& g = groups_[at.group];
        const record_arena::ref old = g.slots[at.slot] & ref_mask;
        on_erase(at.record.payload);
        arena_.release(old);
        g.tags[at.slot] = hash_group::empty;
        g.slots[at.slot] = 0;
        // Overflow bits of this group may now be stale: see the file comment.
        if (g.overflow != 0 && max_load_ > 0) --max_load_;
        --size_;
        shrink_if_sparse();
        compact_arena_if_worthwhile();
        return true;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// The number of slots; the table grows by half when size() passes 7/8 of it.
    [[nodiscard]] std::size_t capacity() const noexcept { return group_count() * hash_group::width; }

    /// Makes room for count records without growing, e.g. before loading a known number.
    /// The group count is the one growth would reach, so that a table reserved for the
    /// records it is then loaded with is the size of one that grew to hold them.
    void reserve(std::size_t count) {
        std::size_t wanted = 1;
        while (load_limit(wanted) < count && wanted <= max_groups) wanted = grown(wanted);
        if (wanted > group_count()) rehash(wanted);
    }

    /// Drops every record and releases the memory.
    void clear() noexcept { *this = hash_table{}; }

    /// Gives back the memory of erased and replaced records now, rather than once they
    /// outweigh the live ones. If an allocation throws, the table is unchanged.
    void shrink_to_fit() {
        if (arena_.garbage_bytes() != 0) compact_arena();
    }

    /// Calls f(key, payload) for every record, in no particular order.
    template <class F>
    void for_each(F&& f) const {
        for (std::size_t gi = 0; gi < group_count(); ++gi) {
            const hash_group& g = groups_[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const record_view v = arena_.view(g.slots[i] & ref_mask);
                f(v.key, v.payload);
            }
        }
    }

    /// How far lookups of the keys held walk: the groups each visits (its home, and one
    /// more for each group it lies past it), summed over the keys and at most. Inserts walk
    /// about as far, so this is a check on how well homes spread. Reads every slot.
    struct probe_lengths {
        std::size_t total = 0;
        std::size_t longest = 0;
    };
    [[nodiscard]] probe_lengths measure_probes() const noexcept {
        probe_lengths lengths;
        for (std::size_t gi = 0; gi < group_count(); ++gi) {
            const hash_group& g = groups_[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const std::uint64_t slot = g.slots[i];
                const std::uint64_t hash =
                    group_count_ <= kept_home_limit ? kept_hash(slot) : hash_of(arena_.view(slot & ref_mask).key);
                const std::size_t home = home_of(hash);
                const std::size_t visited = (gi >= home ? gi - home : gi + group_count_ - home) + 1;
                lengths.total += visited;
                lengths.longest = std::max(lengths.longest, visited);
            }
        }
        return lengths;
    }

    /// Bytes of heap memory held by the groups and the arena.
    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return group_count() * sizeof(hash_group) + arena_.memory_usage();
    }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    static constexpr std::uint64_t ref_mask = (std::uint64_t{1} << record_arena::ref_bits) - 1;
    /// The hash bits a slot word keeps above its reference: the home group of tables of up
    /// to 2^24 groups (so growing needs no key), and a filter before the key comparison.
    static constexpr unsigned kept_hash_bits = 64 - record_arena::ref_bits;
    static constexpr std::uint64_t kept_hash_mask = (std::uint64_t{1} << kept_hash_bits) - 1;
    /// Tables of up to this many groups take a key's home from its kept hash bits.
    static constexpr std::uint64_t kept_home_limit = std::uint64_t{1} << kept_hash_bits;
    /// Larger tables take it from the 32 hash bits above the kept ones, so a table has at
    /// most 2^32 groups (256 GiB).
    static constexpr unsigned wide_home_bits = 32;
    static constexpr std::uint64_t max_groups = std::uint64_t{1} << wide_home_bits;
    static_assert(kept_hash_bits + wide_home_bits <= 56, "no home bit is a bit of the tag (the top byte)");

    /// Where a key's slot is: a group index (npos when absent) and a slot in it, with the
    /// record the slot refers to, as the key comparison read it (so a get reads the group
    /// and the record once each).
    struct position {
        std::size_t group = npos;
        unsigned slot = 0;
        record_view record;
    };

    /// The table's hash of key: hash_bytes with its seed.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::uint64_t hash_of(std::string_view key) const noexcept {
        return hash_bytes(key, seed_);
    }

    /// A new table's seed: a process-wide count of tables, spread over the word by an odd
    /// multiplier (so that no two tables of a process share one before 2^64 of them).
    [[nodiscard]] static std::uint64_t next_seed() noexcept {
        static std::atomic<std::uint64_t> tables{0};
        return (tables.fetch_add(1, std::memory_order_relaxed) + 1) * 0x9e3779b97f4a7c15ULL;
    }

    // The home group maps the hash bits onto [0, group count) by a multiply and a shift
    // ("fastrange"), growing with them; it never uses the top byte, the tag's, so the two
    // are independent.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::size_t home_of(std::uint64_t hash) const noexcept {
        const std::uint64_t groups = group_count_;
        if (groups <= kept_home_limit)
            return static_cast<std::size_t>(((hash & kept_hash_mask) * groups) >> kept_hash_bits);
        const std::uint64_t wide = (hash >> kept_hash_bits) & (max_groups - 1);
        return static_cast<std::size_t>((wide * groups) >> wide_home_bits);
    }
    /// The group after gi on a key's sequence: the next one, the first after the last.
    [[nodiscard]] KVFORGE_FORCE_INLINE std::size_t next_group(std::size_t gi) const noexcept {
        return gi + 1 == group_count_ ? 0 : gi + 1;
    }
    [[nodiscard]] static std::uint8_t tag_of(std::uint64_t hash) noexcept {
        const auto tag = static_cast<std::uint8_t>(hash >> 56);
        return tag == hash_group::empty ? std::uint8_t{1} : tag;
    }
    [[nodiscard]] static std::uint64_t slot_word(std::uint64_t hash, record_arena::ref r) noexcept {
        return ((hash & kept_hash_mask) << record_arena::ref_bits) | r;
    }
    [[nodiscard]] static std::uint64_t kept_hash(std::uint64_t slot) noexcept { return slot >> record_arena::ref_bits; }

    [[nodiscard]] std::size_t group_count() const noexcept { return group_count_; }

    /// The group count a full table of groups groups grows to: half as many again, rounded up.
    [[nodiscard]] static std::size_t grown(std::size_t groups) noexcept { return groups + (groups + 1) / 2; }

    /// The most records a table of groups groups holds before it grows: 7/8 of its slots.
    [[nodiscard]] static std::size_t load_limit(std::size_t groups) noexcept {
        return groups * hash_group::width / 8 * 7;
    }

    /// upsert() of key, whose hash is given.
    template <class OnReplace>
    bool upsert_hashed(std::string_view key, std::uint64_t hash, std::string_view payload, OnReplace& on_replace) {
        if (size_ != 0) {
            const position at = locate(key, hash);
            if (at.group != npos) {
                replace(at, key, payload, on_replace);
                return false;
            }
        }
        if (size_ + 1 > max_load_) make_room();
        const record_arena::ref r = arena_.append(key, payload);
        place(home_of(hash), tag_of(hash), slot_word(hash, r));
        ++size_;
        return true;
    }

    /// The slot holding key (whose hash is hash), or a position with group npos.
    [[nodiscard]] KVFORGE_FORCE_INLINE position locate(std::string_view key, std::uint64_t hash) const noexcept {
        const std::uint8_t tag = tag_of(hash);
        const std::uint64_t kept = hash & kept_hash_mask;
        std::size_t gi = home_of(hash);
        // The sequence visits every group once within group_count() steps; stale overflow
        // bits could otherwise send a search for an absent key round forever.
        for (std::size_t step = 1; step <= group_count_; ++step) {
            const hash_group& g = groups_[gi];
            for (std::uint64_t matches = g.match(tag); matches != 0; matches = hash_group::drop_first(matches)) {
                const unsigned i = hash_group::first_slot(matches);
                const std::uint64_t slot = g.slots[i];
                if (kept_hash(slot) != kept) continue;
                // Both lines of the record at once: the payload the caller reads next mostly
                // lies in the second, which would otherwise be requested only once the first
                // has arrived and the key in it has compared equal.
                arena_.prefetch(slot & ref_mask);
                const record_view record = arena_.view(slot & ref_mask);
                if (same_bytes(record.key, key)) return {gi, i, record};
            }
            if ((g.overflow & hash_group::overflow_bit(tag)) == 0) break;
            gi = next_group(gi);
        }
        return {};
    }

    [[nodiscard]] static std::optional<std::string_view> payload_at(const position& at) noexcept {
        if (at.group == npos) return std::nullopt;
        return at.record.payload;
    }

    /// Starts loading the record of the first slot of hash's home group whose tag and kept
    /// hash bits match, if any: the record find_many() will most likely compare next.
    void prefetch_candidate(std::uint64_t hash) const noexcept {
        const hash_group& g = groups_[home_of(hash)];
        const std::uint64_t kept = hash & kept_hash_mask;
        for (std::uint64_t matches = g.match(tag_of(hash)); matches != 0; matches = hash_group::drop_first(matches)) {
            const std::uint64_t slot = g.slots[hash_group::first_slot(matches)];
            if (kept_hash(slot) == kept) {
                arena_.prefetch(slot & ref_mask);
                return;
            }
        }
    }

    /// Puts a slot in the first group with room on the sequence from home, marking the
    /// full groups it passes. There is always room: the load limit is below the slot count.
    void place(std::size_t home, std::uint8_t tag, std::uint64_t slot) noexcept {
        for (std::size_t gi = home;; gi = next_group(gi)) {
            hash_group& g = groups_[gi];
            if (const std::uint64_t free = g.match(hash_group::empty); free != 0) {
                const unsigned i = hash_group::first_slot(free);
                g.tags[i] = tag;
                g.slots[i] = slot;
                return;
            }
            g.overflow |= hash_group::overflow_bit(tag);
        }
    }

    template <class OnReplace>
    void replace(position at, std::string_view key, std::string_view payload, OnReplace& on_replace) {
        std::uint64_t& slot = groups_[at.group].slots[at.slot];
        const record_arena::ref old = slot & ref_mask;
        if (arena_.view(old).payload.size() == payload.size()) {
            on_replace(arena_.view(old).payload);
            arena_.overwrite_payload(old, payload);
            return;
        }
        // The new record first: if appending throws, the old one is still in place and untold.
        const record_arena::ref fresh = arena_.append(key, payload);
        on_replace(arena_.view(old).payload);
        arena_.release(old);
        slot = (slot & ~ref_mask) | fresh;
        compact_arena_if_worthwhile();
    }

    /// Before an insert that would pass the load limit: grows the table by half, or rebuilds it at
    /// its size when erases lowered the limit (stale overflow bits) and it is not nearly full.
    void make_room() {
        const std::size_t groups = group_count();
        const std::size_t full = load_limit(groups);
        rehash(groups == 0 ? 1 : size_ + 1 > full - full / 8 ? grown(groups) : groups);
    }

    /// After an erase: a table an eighth full shrinks to a quarter of its groups, giving
    /// memory back after mass erases while leaving room to grow again without thrashing.
    void shrink_if_sparse() noexcept {
        const std::size_t groups = group_count();
        if (groups <= 1 || size_ >= load_limit(groups) / 8) return;
        try {
            rehash(std::max<std::size_t>(groups / 4, 1));
        } catch (const std::bad_alloc&) {
            // Keep the larger array; the next erase tries again.
        }
    }

    /// Moves every slot into a fresh array of new_groups groups, which clears every overflow
    /// bit that no longer stands for a displaced key.
    void rehash(std::size_t new_groups) {
        if (new_groups > max_groups) throw std::length_error("kvforge: hash table too large");
        huge_page_array<hash_group> old = std::move(groups_);
        const std::size_t old_groups = group_count_;
        try {
            groups_ = make_huge_page_array<hash_group>(new_groups);
        } catch (...) {
            groups_ = std::move(old);
            throw;
        }
        group_count_ = new_groups;
        max_load_ = load_limit(new_groups);
        // A slot keeps enough hash bits to find its new home in tables of up to 2^24 groups;
        // past that its key is hashed again from the arena.
        const bool kept_bits_suffice = new_groups <= kept_home_limit;
        // The old array is read once, in order: each huge page of it read goes back at once.
        // Homes grow with the hash bits, so its slots are written to the new array roughly
        // in order too (but for the few that wrapped past the end), and the two arrays
        // together hold about the larger one's memory, not both.
        constexpr std::size_t groups_per_release = huge_page_size / sizeof(hash_group);
        for (std::size_t gi = 0; gi < old_groups; ++gi) {
            if (gi % groups_per_release == 0 && gi != 0) release_pages(old, gi - groups_per_release, gi);
            const hash_group& g = old[gi];
            for (unsigned i = 0; i < hash_group::width; ++i) {
                if (g.tags[i] == hash_group::empty) continue;
                const std::uint64_t slot = g.slots[i];
                const std::uint64_t hash =
                    kept_bits_suffice ? kept_hash(slot) : hash_of(arena_.view(slot & ref_mask).key);
                place(home_of(hash), g.tags[i], slot);
            }
        }
    }

    /// Reclaims the arena's garbage once it outweighs the live records; skipped when it runs
    /// out of memory (the records stay where they are, and a later write tries again).
    void compact_arena_if_worthwhile() noexcept {
        if (!arena_.wants_compaction()) return;
        try {
            compact_arena();
        } catch (const std::bad_alloc&) {
        } catch (const std::length_error&) {
        }
    }

    /// Moves every live record into fresh chunks and drops the garbage; should an
    /// allocation throw, the arena is as it was.
    void compact_arena() {
        arena_.compact([this](auto&& update) {
            for (std::size_t gi = 0; gi < group_count(); ++gi) {
                hash_group& g = groups_[gi];
                for (unsigned i = 0; i < hash_group::width; ++i) {
                    if (g.tags[i] == hash_group::empty) continue;
                    record_arena::ref r = g.slots[i] & ref_mask;
                    update(r);
                    g.slots[i] = (g.slots[i] & ~ref_mask) | r;
                }
            }
        });
    }

    void swap(hash_table& other) noexcept {
        std::swap(groups_, other.groups_);
        std::swap(group_count_, other.group_count_);
        std::swap(size_, other.size_);
        std::swap(max_load_, other.max_load_);
        std::swap(seed_, other.seed_);
        std::swap(arena_, other.arena_);
    }

    huge_page_array<hash_group> groups_;
    std::size_t group_count_ = 0;  // 0 when groups_ is empty
    std::size_t size_ = 0;
    std::size_t max_load_ = 0;  // load_limit() of the group count, lowered by erases from overflowed groups
    std::uint64_t seed_ = next_seed();  // hash_bytes's seed for this table's keys
    record_arena arena_;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/hash_table.hpp ----

namespace kvforge {

/// Index policy: an open-addressing hash table (cache-line groups of 7 slots probed at once, no tombstones).
/// The reference for writing an index policy: name the kind, the table and whether it is ordered.
struct hash_index {
    using policy_kind = kvforge::policy_kind::index;
    static constexpr std::string_view name = "hash_index";
    static constexpr std::string_view short_name = "hash";  ///< also accepted in a store spec
    using table = detail::hash_table;
    static constexpr bool ordered = false;
};

static_assert(index_policy<hash_index>);

}  // namespace kvforge
// ---- end kvforge/index/hash_index.hpp ----
// ---- begin kvforge/index/sorted_index.hpp ----
/// \file sorted_index.hpp
/// kvforge::sorted_index: keys kept in order, for scan() and ordered iteration.

#include <string_view>

// ---- begin kvforge/detail/btree.hpp ----
/// \file btree.hpp
/// btree_table: the ordered in-memory table behind kvforge::sorted_index, a B+tree.
///
/// Records (key and payload bytes) live in a record_arena; the tree holds only their
/// references. Leaves keep, beside each reference, an 8-byte big-endian prefix of the
/// key in a separate array, so the search within a leaf compares integers and reads
/// the arena only when two prefixes tie. Each leaf caches the prefix from `skip`
/// bytes into the key rather than from its start: every key a leaf may hold lies
/// between the two separators that bound it (its fences), so all of them begin with
/// the common prefix of those fences, and skipping those bytes keeps keys such as
/// "user:00001234" apart by their cached prefixes.
///
/// Inner nodes hold separators, which are copies of key prefixes in a second arena of
/// their own (record arenas release records on erase; a separator must outlive the
/// record it was cut from). Separators are the shortest strings that divide two
/// neighbouring leaves, so they are short and inner nodes stay small. Inner nodes
/// cache separator prefixes past their fences' common bytes as leaves do.
///
/// Erase merges an underfull node (below a quarter) into a sibling, or borrows from
/// it when both do not fit into one node; the root is dropped when it is left with a
/// single child, and the whole tree is freed when its last record goes.
///
/// The table's parts: the nodes and the key prefixes they cache (btree_nodes.hpp), the
/// search, insert, erase and rebalancing (here), the bottom-up build from sorted records
/// (btree_build.hpp) and the ordered walks (btree_visits.hpp), which this header includes
/// at its end.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

// ---- begin kvforge/detail/btree_nodes.hpp ----
/// \file btree_nodes.hpp
/// The nodes of btree_table (detail/btree.hpp): their layout, the key prefixes and
/// separators they cache, and their allocation, copy and release. Nothing here knows the
/// tree's records; btree_table builds on these as its private base.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>


namespace kvforge::detail {

struct btree_nodes {
    using ref = record_arena::ref;

    // 63 entries make a leaf exactly sixteen cache lines (a 16-byte header and two arrays
    // of 63 words). Measured against 31, the larger leaves insert, find and scan 10-30%
    // faster: the tree is a level shorter and splits half as often.
    static constexpr std::uint32_t leaf_capacity = 63;
    static constexpr std::uint32_t inner_capacity = 64;  // children
    static constexpr std::uint32_t leaf_min = leaf_capacity / 4;
    static constexpr std::uint32_t inner_min = inner_capacity / 4;
    // Non-root inner nodes keep at least inner_min children, so 32 levels are never reached.
    static constexpr std::uint32_t max_height = 32;
    // A leaf re-reads its keys to skip more of them only when that gains this many bytes.
    static constexpr std::size_t skip_step = 4;

    struct node_base {
        std::uint32_t count;  // entries in a leaf, children in an inner node
    };

    struct alignas(64) leaf_node : node_base {
        std::uint32_t skip;  // bytes every key here shares, not cached in prefixes
        leaf_node* next;     // right neighbour, for ordered visits
        std::array<std::uint64_t, leaf_capacity> prefixes;
        std::array<ref, leaf_capacity> refs;
    };

    // Child i holds the keys k with separators[i - 1] <= k < separators[i].
    struct alignas(64) inner_node : node_base {
        std::uint32_t skip;  // bytes every separator and key below shares, not cached in prefixes
        std::array<std::uint64_t, inner_capacity - 1> prefixes;  // of separators
        std::array<ref, inner_capacity - 1> separators;          // into separators_
        std::array<node_base*, inner_capacity> children;
    };

    // One level of a root-to-leaf path: the inner node and the child taken.
    struct step {
        inner_node* node;
        std::uint32_t index;
    };

    struct leaf_position {
        std::uint32_t index;  // of the first entry not less than the key
        bool found;
    };

    // The range [lo, hi) of keys a node may hold; an absent end is unbounded.
    struct fences {
        std::optional<std::string_view> lo;
        std::optional<std::string_view> hi;
    };

    // The cached prefix of key from byte skip on. Also safe for an empty key whose data() is null.
    [[nodiscard]] static std::uint64_t prefix_at(std::string_view key, std::size_t skip) noexcept {
        return key.size() > skip ? load_prefix_be(key.data() + skip, key.size() - skip) : 0;
    }

    // The length of the longest common prefix of a and b.
    [[nodiscard]] static std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
        const std::size_t n = std::min(a.size(), b.size());
        std::size_t i = 0;
        while (i < n && a[i] == b[i]) ++i;
        return i;
    }

    // Bytes that every key in [f.lo, f.hi) begins with.
    [[nodiscard]] static std::size_t shared_bytes(const fences& f) noexcept {
        return f.lo && f.hi ? common_prefix(*f.lo, *f.hi) : 0;
    }

    // The shortest key s with left < s <= right.
    [[nodiscard]] static std::string_view shortest_separator(std::string_view left, std::string_view right) noexcept {
        return right.substr(0, common_prefix(left, right) + 1);
    }

    // The index of the first of the n values that is not less than v.
    [[nodiscard]] static std::uint32_t lower_bound(const std::uint64_t* values, std::uint32_t n,
                                                   std::uint64_t v) noexcept {
        if (n == 0) return 0;
        const std::uint64_t* base = values;
        // Halving without an early exit lets the compiler use conditional moves.
        while (n > 1) {
            const std::uint32_t half = n / 2;
            base = base[half] < v ? base + half : base;
            n -= half;
        }
        return static_cast<std::uint32_t>(base - values) + (*base < v ? 1 : 0);
    }

    // The end of the run of values equal to values[begin].
    [[nodiscard]] static std::uint32_t tie_end(const std::uint64_t* values, std::uint32_t begin,
                                               std::uint32_t n) noexcept {
        std::uint32_t end = begin + 1;
        while (end < n && values[end] == values[begin]) ++end;
        return end;
    }

    // Nodes are allocated uninitialised; their creators set every field that is read.
    [[nodiscard]] static std::unique_ptr<leaf_node> make_leaf() { return std::unique_ptr<leaf_node>(new leaf_node); }

    [[nodiscard]] static std::unique_ptr<inner_node> make_inner() {
        return std::unique_ptr<inner_node>(new inner_node);
    }

    // Calls update(ref&) on the separators of every inner node in the subtree of node,
    // which stands `levels` levels above the leaves.
    template <class Update>
    static void visit_separators(node_base* node, std::uint32_t levels, Update& update) {
        if (levels == 0) return;
        auto* inner = static_cast<inner_node*>(node);
        for (std::uint32_t i = 0; i + 1 < inner->count; ++i) update(inner->separators[i]);
        for (std::uint32_t i = 0; i < inner->count; ++i) visit_separators(inner->children[i], levels - 1, update);
    }

    // A copy of node alone, which stands `levels` levels above the leaves: a leaf with its
    // entries, appended to the chain of leaves ending at last_leaf; an inner node with its
    // separators but no children yet (count 0, so that destroy() frees no original node
    // should a later allocation throw; fill_children() adds them).
    static node_base* copy_node(const node_base* node, std::uint32_t levels, leaf_node*& last_leaf) {
        if (levels == 0) {
            auto* leaf = new leaf_node(*static_cast<const leaf_node*>(node));
            leaf->next = nullptr;
            if (last_leaf != nullptr) last_leaf->next = leaf;
            last_leaf = leaf;
            return leaf;
        }
        auto* inner = new inner_node(*static_cast<const inner_node*>(node));
        inner->count = 0;
        return inner;
    }

    // Gives copy, the copy_node() of original, copies of original's subtrees, left to right
    // so that the leaves chain in order. Each child counts once attached, so destroy()
    // frees exactly the nodes made.
    static void fill_children(node_base* copy, const node_base* original, std::uint32_t levels, leaf_node*& last_leaf) {
        if (levels == 0) return;
        auto* inner = static_cast<inner_node*>(copy);
        const auto* from = static_cast<const inner_node*>(original);
        for (std::uint32_t i = 0; i < from->count; ++i) {
            inner->children[i] = copy_node(from->children[i], levels - 1, last_leaf);
            inner->count = i + 1;
            fill_children(inner->children[i], from->children[i], levels - 1, last_leaf);
        }
    }

    // Frees the subtree of node, which stands `levels` levels above the leaves.
    static void destroy(node_base* node, std::uint32_t levels) noexcept {
        if (levels == 0) {
            delete static_cast<leaf_node*>(node);
            return;
        }
        auto* inner = static_cast<inner_node*>(node);
        for (std::uint32_t i = 0; i < inner->count; ++i) destroy(inner->children[i], levels - 1);
        delete inner;
    }
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/btree_nodes.hpp ----

namespace kvforge::detail {

/// An ordered table from byte-string keys to byte-string payloads (unsigned bytewise order).
class btree_table : private btree_nodes {
public:
    /// An empty table; allocates nothing until the first insert.
    btree_table() noexcept = default;

    /// Frees every node and record.
    ~btree_table() { clear(); }

    btree_table(const btree_table&) = delete;
    btree_table& operator=(const btree_table&) = delete;

    /// Takes other's records, leaving other empty.
    btree_table(btree_table&& other) noexcept
        : root_(std::exchange(other.root_, nullptr)),
          height_(std::exchange(other.height_, 0)),
          size_(std::exchange(other.size_, 0)),
          leaf_count_(std::exchange(other.leaf_count_, 0)),
          inner_count_(std::exchange(other.inner_count_, 0)),
          // A moved-from record_arena keeps its byte counters, so give other fresh ones.
          records_(std::exchange(other.records_, record_arena{})),
          separators_(std::exchange(other.separators_, record_arena{})) {}

    /// Drops this table's records and takes other's, leaving other empty.
    btree_table& operator=(btree_table&& other) noexcept {
        if (this != &other) {
            clear();
            root_ = std::exchange(other.root_, nullptr);
            height_ = std::exchange(other.height_, 0);
            size_ = std::exchange(other.size_, 0);
            leaf_count_ = std::exchange(other.leaf_count_, 0);
            inner_count_ = std::exchange(other.inner_count_, 0);
            records_ = std::exchange(other.records_, record_arena{});
            separators_ = std::exchange(other.separators_, record_arena{});
        }
        return *this;
    }

    /// A copy of the table, independent of it. Both arenas are copied as blocks and every
    /// node as a whole (nodes hold arena references, which stay valid in the copied arenas),
    /// with only child and next-leaf pointers set anew: nothing is compared or split. If an
    /// allocation throws, the nodes copied so far are freed.
    [[nodiscard]] btree_table clone() const {
        btree_table copy;
        copy.records_ = records_.clone();
        copy.separators_ = separators_.clone();
        if (root_ == nullptr) return copy;
        copy.height_ = height_;
        leaf_node* last_leaf = nullptr;
        copy.root_ = copy_node(root_, height_, last_leaf);
        copy.fill_children(copy.root_, root_, height_, last_leaf);
        copy.size_ = size_;
        copy.leaf_count_ = leaf_count_;
        copy.inner_count_ = inner_count_;
        return copy;
    }

    /// The payload stored for key, or nullopt. Does not allocate.
    [[nodiscard]] std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (root_ == nullptr) return std::nullopt;
        const leaf_node& leaf = *descend(key, nullptr);
        const leaf_position at = locate(leaf, key);
        if (!at.found) return std::nullopt;
        return records_.view(leaf.refs[at.index]).payload;
    }

    /// Inserts or replaces the record for key. If the key existed, calls
    /// on_replace(std::string_view old_payload) once the replacement can no longer fail,
    /// before it takes effect. Returns true when the key was new. Should an allocation
    /// fail, the table is as it was and on_replace was not called.
    template <class OnReplace>
    bool upsert(std::string_view key, std::string_view payload, OnReplace&& on_replace) {
        if (root_ == nullptr) {
            insert_first(key, payload);
            return true;
        }
        std::array<step, max_height> path;
        leaf_node* leaf = descend(key, path.data());
        const leaf_position at = locate(*leaf, key);
        if (!at.found) {
            insert_new(path.data(), *leaf, at.index, key, payload);
            ++size_;
            return true;
        }
        ref& r = leaf->refs[at.index];
        if (records_.view(r).payload.size() == payload.size()) {
            on_replace(records_.view(r).payload);
            records_.overwrite_payload(r, payload);
            return false;
        }
        const ref fresh = records_.append(key, payload);  // may throw; nothing has changed yet
        on_replace(records_.view(r).payload);
        records_.release(r);
        r = fresh;
        compact_if_worthwhile();
        return false;
    }

    /// Entries per leaf for assign_sorted() when inserts are to follow: an eighth of each
    /// leaf left free, so that new keys spread over the key range fill those slots before
    /// leaves split (overwrites need no room), at an eighth more leaves for a scan to walk.
    static constexpr std::uint32_t leaf_entries_with_room = 56;

    /// Replaces the table's records with those next(std::string_view& key,
    /// std::string_view& payload) gives until it returns false, which must come in
    /// strictly ascending key order (the views need last only until the next call). The
    /// tree is built bottom up in one pass, with no search: leaves of leaf_entries each
    /// (full by default), then each level of inner nodes over the one below, the last two
    /// nodes of a level sharing their entries so that neither is underfull. The records
    /// are laid out in the arena in key order. Should an allocation or next throw, the
    /// table is left empty.
    template <class Next>
    void assign_sorted(Next&& next, std::uint32_t leaf_entries = leaf_capacity);

    /// Allocates the leaves that assign_sorted(next, leaf_entries) takes for up to
    /// `records` records, and has their pages mapped, for the build to take ready: a
    /// caller with a thread free while it prepares the records lets that thread take the
    /// page faults. Runs on any thread, but beside no other call on this table; stops
    /// early, without error, once stop is requested or if memory runs out (the build makes
    /// the leaves missing). The leaves unused are freed by the next assign_sorted() or clear().
    void prepare_leaves(std::size_t records, std::uint32_t leaf_entries, const std::stop_token& stop = {}) noexcept;

    /// Removes the record for key, first calling on_erase(std::string_view old_payload).
    /// Returns whether the key existed.
    template <class OnErase>
    bool erase(std::string_view key, OnErase&& on_erase) {
        if (root_ == nullptr) return false;
        std::array<step, max_height> path;
        leaf_node* leaf = descend(key, path.data());
        const leaf_position at = locate(*leaf, key);
        if (!at.found) return false;
        const ref victim = leaf->refs[at.index];
        if (size_ == 1) {
            on_erase(records_.view(victim).payload);
            clear();
            return true;
        }
        // Rebalancing may need a new separator; it is allocated before anything changes,
        // so that an allocation failure leaves the table as it was.
        const bool underflow = height_ > 0 && leaf->count - 1 < leaf_min;
        const rebalance_plan plan = underflow ? plan_rebalance(path[height_ - 1], leaf->count - 1) : rebalance_plan{};
        try {
            on_erase(records_.view(victim).payload);
        } catch (...) {
            if (plan.borrow) separators_.release(plan.separator);
            throw;
        }
        records_.release(victim);
        remove_entry(*leaf, at.index);
        --size_;
        if (underflow) rebalance(path.data(), plan);
        compact_if_worthwhile();
        return true;
    }

    /// The number of records.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }

    /// Whether there are no records.
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Drops every record and frees all nodes and arena memory.
    void clear() noexcept {
        if (root_ != nullptr) destroy(root_, height_);
        root_ = nullptr;
        height_ = 0;
        size_ = 0;
        leaf_count_ = 0;
        inner_count_ = 0;
        records_.clear();
        separators_.clear();
        spare_leaves_.clear();
    }

    /// Gives back the memory of erased and replaced records now, rather than once they
    /// outweigh the live ones. If an allocation throws, the table is unchanged.
    void shrink_to_fit() {
        if (records_.garbage_bytes() != 0) compact_records();
        if (separators_.garbage_bytes() != 0) compact_separators();
    }

    /// Calls f(std::string_view key, std::string_view payload) for every record in ascending key order.
    template <class F>
    void for_each(F&& f) const {
        for (const leaf_node* leaf = leftmost_leaf(); leaf != nullptr; leaf = leaf->next) {
            for (std::uint32_t i = 0; i < leaf->count; ++i) {
                const record_view r = records_.view(leaf->refs[i]);
                f(r.key, r.payload);
            }
        }
    }

    /// Calls f(key, payload) in ascending key order for the records with key >= from
    /// (key > from when !inclusive), stopping as soon as f returns false.
    template <class F>
    void visit_from(std::string_view from, bool inclusive, F&& f) const {
        visit_from(from, inclusive, f, [](std::string_view, std::string_view) noexcept {});
    }

    /// visit_from, also calling ahead(key, payload) for the record visit_distance places
    /// past the one f is given, so that the caller can start loading what f will read
    /// of it (a log store: the record in the file, where a store filled in random key
    /// order has it far from its neighbours in key order).
    template <class F, class Ahead>
    void visit_from(std::string_view from, bool inclusive, F&& f, Ahead&& ahead) const;

    /// Calls f(key, payload) in descending key order for the records with key <= from
    /// (key < from when !inclusive; every record when from is nullopt), stopping as soon
    /// as f returns false.
    template <class F>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f) const {
        visit_down_from(from, inclusive, f, [](std::string_view, std::string_view) noexcept {});
    }

    /// visit_down_from, calling ahead as visit_from does.
    template <class F, class Ahead>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f, Ahead&& ahead) const;

    /// Calls f(key, payload, replace) in ascending key order for the records with key >=
    /// from (key > from when !inclusive), stopping as soon as f returns false; f may call
    /// replace(std::string_view payload) to give the record it was called for a new
    /// payload, in place when the size is the same (else it may throw std::bad_alloc,
    /// leaving that record as it was). Nothing else changes the table meanwhile: a walk
    /// that updates many records in key order costs no search per record, and the arena
    /// entries are prefetched ahead of it as visit_from's are.
    template <class F>
    void update_from(std::string_view from, bool inclusive, F&& f);

    /// Bytes of heap memory held: nodes, records and separators.
    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return leaf_count_ * sizeof(leaf_node) + inner_count_ * sizeof(inner_node) + records_.memory_usage() +
               separators_.memory_usage();
    }

private:
    // How an underfull leaf is fixed: merged with, or refilled from, a sibling.
    struct rebalance_plan {
        bool borrow = false;
        std::uint32_t sibling_index = 0;
        ref separator = 0;  // the new separator between the two, when borrowing
    };

    // The bytes of a separator.
    [[nodiscard]] std::string_view separator_key(ref r) const noexcept { return separators_.view(r).key; }

    // The child of node that holds key.
    [[nodiscard]] std::uint32_t route(const inner_node& node, std::string_view key) const noexcept {
        const std::uint64_t p = prefix_at(key, node.skip);
        const std::uint32_t n = node.count - 1;
        std::uint32_t i = lower_bound(node.prefixes.data(), n, p);
        if (i == n || node.prefixes[i] != p) return i;
        // Separators whose prefix ties with the key's: find the first one greater than the key.
        std::uint32_t end = tie_end(node.prefixes.data(), i, n);
        while (i < end) {
            const std::uint32_t mid = i + (end - i) / 2;
            if (separator_key(node.separators[mid]).compare(key) <= 0) {
                i = mid + 1;
            } else {
                end = mid;
            }
        }
        return i;
    }

    // The leaf that holds key; records the inner nodes passed in path when it is not null.
    [[nodiscard]] leaf_node* descend(std::string_view key, step* path) const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            const std::uint32_t i = route(*inner, key);
            if (path != nullptr) path[depth] = {inner, i};
            node = inner->children[i];
            prefetch_search_lines(node, depth + 1 == height_);
        }
        return static_cast<leaf_node*>(node);
    }

    // Starts loading the lines a search of node reads (header and prefixes), so that
    // their cache misses overlap instead of following one another down the binary search.
    static void prefetch_search_lines(const node_base* node, bool is_leaf) noexcept {
        constexpr std::ptrdiff_t line = 64;
        const char* begin = reinterpret_cast<const char*>(node);
        const void* end = is_leaf ? static_cast<const void*>(static_cast<const leaf_node*>(node)->refs.data())
                                  : static_cast<const void*>(static_cast<const inner_node*>(node)->separators.data());
        for (const char* p = begin; p < static_cast<const char*>(end); p += line) __builtin_prefetch(p);
    }

    // How far an ordered visit runs ahead of its visitor: ahead() is called for the record
    // visit_distance places on, and that record's arena entry is prefetched twice as far
    // ahead, so that ahead() finds it in the cache. Sixteen records cover the latency of
    // a miss at the rate a scan hands out records without holding more lines in flight
    // than the cache can track.
    static constexpr std::uint32_t visit_distance = 16;

    struct ascending_cursor;
    struct descending_cursor;

    template <class Cursor, class F, class Ahead>
    void visit_ahead(const Cursor& start, F& f, Ahead& ahead) const;

    // The first leaf in key order, or null when the table is empty.
    [[nodiscard]] leaf_node* leftmost_leaf() const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; node != nullptr && depth < height_; ++depth) {
            node = static_cast<inner_node*>(node)->children[0];
        }
        return static_cast<leaf_node*>(node);
    }

    // The last leaf in key order (the table is not empty); records the inner nodes passed in path.
    [[nodiscard]] leaf_node* rightmost_leaf(step* path) const noexcept {
        node_base* node = root_;
        for (std::uint32_t depth = 0; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            path[depth] = {inner, inner->count - 1};
            node = inner->children[inner->count - 1];
        }
        return static_cast<leaf_node*>(node);
    }

    // The leaf before the one path leads to, moving path to it; null when that is the first.
    [[nodiscard]] leaf_node* previous_leaf(step* path) const noexcept {
        std::uint32_t depth = height_;
        while (depth > 0 && path[depth - 1].index == 0) --depth;
        if (depth == 0) return nullptr;
        step& turn = path[depth - 1];
        --turn.index;
        node_base* node = turn.node->children[turn.index];
        for (; depth < height_; ++depth) {
            auto* inner = static_cast<inner_node*>(node);
            path[depth] = {inner, inner->count - 1};
            node = inner->children[inner->count - 1];
        }
        return static_cast<leaf_node*>(node);
    }

    // Where key belongs in leaf (which key routes to, so key shares the leaf's skipped bytes).
    [[nodiscard]] leaf_position locate(const leaf_node& leaf, std::string_view key) const noexcept {
        const std::uint64_t p = prefix_at(key, leaf.skip);
        std::uint32_t i = lower_bound(leaf.prefixes.data(), leaf.count, p);
        if (i == leaf.count || leaf.prefixes[i] != p) return {i, false};
        // Tied prefixes: the bytes past them are in the arena.
        const std::string_view rest = key.substr(leaf.skip);
        std::uint32_t end = tie_end(leaf.prefixes.data(), i, leaf.count);
        while (i < end) {
            const std::uint32_t mid = i + (end - i) / 2;
            const int c = records_.view(leaf.refs[mid]).key.substr(leaf.skip).compare(rest);
            if (c == 0) return {mid, true};
            if (c < 0) {
                i = mid + 1;
            } else {
                end = mid;
            }
        }
        return {i, false};
    }

    // The key range of the node below path[0..depth).
    [[nodiscard]] fences fences_of(const step* path, std::uint32_t depth) const noexcept {
        fences f;
        for (std::uint32_t d = depth; d-- > 0 && !(f.lo && f.hi);) {
            const step& s = path[d];
            if (!f.lo && s.index > 0) f.lo = separator_key(s.node->separators[s.index - 1]);
            if (!f.hi && s.index + 1 < s.node->count) f.hi = separator_key(s.node->separators[s.index]);
        }
        return f;
    }

    // The key range of child i of parent, whose own range is pf.
    [[nodiscard]] fences child_fences(const inner_node& parent, const fences& pf, std::uint32_t i) const noexcept {
        fences f = pf;
        if (i > 0) f.lo = separator_key(parent.separators[i - 1]);
        if (i + 1 < parent.count) f.hi = separator_key(parent.separators[i]);
        return f;
    }

    // Recomputes the cached prefixes of entries [begin, end) from their keys.
    void load_prefixes(leaf_node& leaf, std::uint32_t begin, std::uint32_t end) const noexcept {
        for (std::uint32_t i = begin; i < end; ++i) {
            leaf.prefixes[i] = prefix_at(records_.view(leaf.refs[i]).key, leaf.skip);
        }
    }

    // Adapts leaf to new fences that share `shared` bytes. Entries [moved_begin, moved_end)
    // came from a leaf whose prefixes skipped moved_skip bytes.
    void retune(leaf_node& leaf, std::size_t shared, std::uint32_t moved_begin, std::uint32_t moved_end,
                std::uint32_t moved_skip) const noexcept {
        // Skipping more than the fences share would be wrong; skipping a little less only
        // costs some tie-breaks, which is cheaper than re-reading every key on each split.
        if (shared < leaf.skip || shared >= leaf.skip + skip_step) {
            leaf.skip = static_cast<std::uint32_t>(shared);
            load_prefixes(leaf, 0, leaf.count);
        } else if (moved_skip != leaf.skip) {
            load_prefixes(leaf, moved_begin, moved_end);
        }
    }

    // Sets the skip of an inner node whose separators moved or whose fences changed to
    // what its fences f share, and recomputes its prefixes. Inner nodes change rarely,
    // so they always skip all the bytes they can.
    void reload(inner_node& node, const fences& f) const noexcept {
        node.skip = static_cast<std::uint32_t>(shared_bytes(f));
        for (std::uint32_t i = 0; i + 1 < node.count; ++i) {
            node.prefixes[i] = prefix_at(separator_key(node.separators[i]), node.skip);
        }
    }

    // Makes the first record the whole tree: a root leaf holding it.
    void insert_first(std::string_view key, std::string_view payload) {
        std::unique_ptr<leaf_node> leaf = make_leaf();
        leaf->refs[0] = records_.append(key, payload);
        leaf->prefixes[0] = prefix_at(key, 0);
        leaf->count = 1;
        leaf->skip = 0;
        leaf->next = nullptr;
        root_ = leaf.release();
        ++leaf_count_;
        size_ = 1;
    }

    // Inserts a new record at position pos of leaf, the end of path, splitting full nodes.
    void insert_new(const step* path, leaf_node& leaf, std::uint32_t pos, std::string_view key,
                    std::string_view payload) {
        if (leaf.count < leaf_capacity) {
            const ref r = records_.append(key, payload);
            insert_entry(leaf, pos, prefix_at(key, leaf.skip), r);
            return;
        }
        // Allocate everything the split needs first, so a failure changes nothing.
        std::uint32_t inner_splits = 0;
        while (inner_splits < height_ && path[height_ - 1 - inner_splits].node->count == inner_capacity) {
            ++inner_splits;
        }
        std::unique_ptr<leaf_node> right = make_leaf();
        std::array<std::unique_ptr<inner_node>, max_height + 1> spare_inners;
        for (std::uint32_t i = 0; i < inner_splits + (inner_splits == height_ ? 1 : 0); ++i) {
            spare_inners[i] = make_inner();
        }
        // Appending at the right end of the table (ascending loads) leaves the old leaf
        // full and starts the new one with just the new record, so such loads fill leaves.
        const std::uint32_t left_count =
            leaf.next == nullptr && pos == leaf.count ? leaf_capacity : (leaf_capacity + 1) / 2;
        const auto key_at = [&](std::uint32_t i) {
            return i == pos ? key : records_.view(leaf.refs[i < pos ? i : i - 1]).key;
        };
        const ref separator = separators_.append(shortest_separator(key_at(left_count - 1), key_at(left_count)), {});
        ref r = 0;
        try {
            r = records_.append(key, payload);
        } catch (...) {
            separators_.release(separator);
            throw;
        }

        // From here on nothing allocates.
        const fences f =
            height_ > 0 ? child_fences(*path[height_ - 1].node, fences_of(path, height_ - 1), path[height_ - 1].index)
                        : fences{};
        split_leaf(leaf, *right, pos, prefix_at(key, leaf.skip), r, left_count);
        const std::string_view separator_view = separator_key(separator);
        retune(leaf, shared_bytes({f.lo, separator_view}), 0, 0, leaf.skip);
        retune(*right, shared_bytes({separator_view, f.hi}), 0, 0, right->skip);
        ++leaf_count_;

        // Hand the separator and the new node up until a node has room for them.
        ref up_separator = separator;
        node_base* up_child = right.release();
        std::uint32_t spare = 0;
        for (std::uint32_t depth = height_; depth-- > 0;) {
            inner_node& node = *path[depth].node;
            if (node.count < inner_capacity) {
                insert_child(node, path[depth].index, up_separator, up_child);
                return;
            }
            const fences node_fences = fences_of(path, depth);
            inner_node* sibling = spare_inners[spare++].release();
            up_separator = split_inner(node, *sibling, path[depth].index, up_separator, up_child);
            const std::string_view middle = separator_key(up_separator);
            reload(node, {node_fences.lo, middle});
            reload(*sibling, {middle, node_fences.hi});
            ++inner_count_;
            up_child = sibling;
        }
        // The root split: grow a level.
        inner_node* root = spare_inners[spare].release();
        root->count = 2;
        root->skip = 0;
        root->prefixes[0] = prefix_at(separator_key(up_separator), 0);
        root->separators[0] = up_separator;
        root->children[0] = root_;
        root->children[1] = up_child;
        root_ = root;
        ++inner_count_;
        ++height_;
    }

    // Inserts (prefix, r) at pos of a leaf with room.
    static void insert_entry(leaf_node& leaf, std::uint32_t pos, std::uint64_t prefix, ref r) noexcept {
        std::copy_backward(leaf.prefixes.begin() + pos, leaf.prefixes.begin() + leaf.count,
                           leaf.prefixes.begin() + leaf.count + 1);
        std::copy_backward(leaf.refs.begin() + pos, leaf.refs.begin() + leaf.count, leaf.refs.begin() + leaf.count + 1);
        leaf.prefixes[pos] = prefix;
        leaf.refs[pos] = r;
        ++leaf.count;
    }

    // Removes the entry at pos of a leaf.
    static void remove_entry(leaf_node& leaf, std::uint32_t pos) noexcept {
        std::copy(leaf.prefixes.begin() + pos + 1, leaf.prefixes.begin() + leaf.count, leaf.prefixes.begin() + pos);
        std::copy(leaf.refs.begin() + pos + 1, leaf.refs.begin() + leaf.count, leaf.refs.begin() + pos);
        --leaf.count;
    }

    // Spreads the entries of the full leaf `left`, plus (prefix, r) at pos, over left and
    // the fresh leaf `right`, leaving left_count in left. Prefixes keep left's skip.
    static void split_leaf(leaf_node& left, leaf_node& right, std::uint32_t pos, std::uint64_t prefix, ref r,
                           std::uint32_t left_count) noexcept {
        std::array<std::uint64_t, leaf_capacity + 1> prefixes;
        std::array<ref, leaf_capacity + 1> refs;
        std::copy(left.prefixes.begin(), left.prefixes.begin() + pos, prefixes.begin());
        std::copy(left.refs.begin(), left.refs.begin() + pos, refs.begin());
        prefixes[pos] = prefix;
        refs[pos] = r;
        std::copy(left.prefixes.begin() + pos, left.prefixes.end(), prefixes.begin() + pos + 1);
        std::copy(left.refs.begin() + pos, left.refs.end(), refs.begin() + pos + 1);

        std::copy(prefixes.begin(), prefixes.begin() + left_count, left.prefixes.begin());
        std::copy(refs.begin(), refs.begin() + left_count, left.refs.begin());
        std::copy(prefixes.begin() + left_count, prefixes.end(), right.prefixes.begin());
        std::copy(refs.begin() + left_count, refs.end(), right.refs.begin());
        right.count = leaf_capacity + 1 - left_count;
        right.skip = left.skip;
        right.next = left.next;
        left.count = left_count;
        left.next = &right;
    }

    // Adds child right of children[index] in a node with room, with the separator between them.
    void insert_child(inner_node& node, std::uint32_t index, ref separator, node_base* child) const noexcept {
        const std::uint32_t separators = node.count - 1;
        std::copy_backward(node.prefixes.begin() + index, node.prefixes.begin() + separators,
                           node.prefixes.begin() + separators + 1);
        std::copy_backward(node.separators.begin() + index, node.separators.begin() + separators,
                           node.separators.begin() + separators + 1);
        std::copy_backward(node.children.begin() + index + 1, node.children.begin() + node.count,
                           node.children.begin() + node.count + 1);
        node.prefixes[index] = prefix_at(separator_key(separator), node.skip);
        node.separators[index] = separator;
        node.children[index + 1] = child;
        ++node.count;
    }

    // Removes children[index + 1] and the separator left of it.
    static void remove_child(inner_node& node, std::uint32_t index) noexcept {
        const std::uint32_t separators = node.count - 1;
        std::copy(node.prefixes.begin() + index + 1, node.prefixes.begin() + separators, node.prefixes.begin() + index);
        std::copy(node.separators.begin() + index + 1, node.separators.begin() + separators,
                  node.separators.begin() + index);
        std::copy(node.children.begin() + index + 2, node.children.begin() + node.count,
                  node.children.begin() + index + 1);
        --node.count;
    }

    // Like insert_child on the full node `left`, spreading the children over left and the
    // fresh node `right`; returns the middle separator, which moves up to the parent.
    // Prefixes are left for reload().
    static ref split_inner(inner_node& left, inner_node& right, std::uint32_t index, ref separator,
                           node_base* child) noexcept {
        std::array<ref, inner_capacity> separators;
        std::array<node_base*, inner_capacity + 1> children;
        std::copy(left.separators.begin(), left.separators.begin() + index, separators.begin());
        separators[index] = separator;
        std::copy(left.separators.begin() + index, left.separators.end(), separators.begin() + index + 1);
        std::copy(left.children.begin(), left.children.begin() + index + 1, children.begin());
        children[index + 1] = child;
        std::copy(left.children.begin() + index + 1, left.children.end(), children.begin() + index + 2);

        constexpr std::uint32_t left_children = (inner_capacity + 1) / 2;
        left.count = left_children;
        std::copy(separators.begin(), separators.begin() + left_children - 1, left.separators.begin());
        std::copy(children.begin(), children.begin() + left_children, left.children.begin());
        right.count = inner_capacity + 1 - left_children;
        std::copy(separators.begin() + left_children, separators.end(), right.separators.begin());
        std::copy(children.begin() + left_children, children.end(), right.children.begin());
        return separators[left_children - 1];
    }

    // Decides how to fix the leaf at `at` once it holds `remaining` entries, and when
    // borrowing, allocates the separator the two leaves will have afterwards.
    [[nodiscard]] rebalance_plan plan_rebalance(const step& at, std::uint32_t remaining) {
        const inner_node& parent = *at.node;
        rebalance_plan plan;
        // Every inner node has at least two children, so a sibling exists.
        plan.sibling_index = at.index + 1 < parent.count ? at.index + 1 : at.index - 1;
        const auto& sibling = *static_cast<const leaf_node*>(parent.children[plan.sibling_index]);
        if (remaining + sibling.count <= leaf_capacity) return plan;
        plan.borrow = true;
        // The leaves end up with half each; the entries either side of the new boundary
        // are both the sibling's, because the sibling holds far more than half.
        const bool sibling_right = plan.sibling_index > at.index;
        const std::uint32_t left_count = (remaining + sibling.count) / 2;
        const std::uint32_t boundary = sibling_right ? left_count - remaining : left_count;
        plan.separator = separators_.append(shortest_separator(records_.view(sibling.refs[boundary - 1]).key,
                                                               records_.view(sibling.refs[boundary]).key),
                                            {});
        return plan;
    }

    // Carries out plan for the underfull leaf at the end of path, then fixes the inner
    // nodes above it and drops a root left with one child.
    void rebalance(step* path, const rebalance_plan& plan) noexcept {
        const std::uint32_t parent_depth = height_ - 1;
        inner_node& parent = *path[parent_depth].node;
        const std::uint32_t left_index = std::min(path[parent_depth].index, plan.sibling_index);
        auto& left = *static_cast<leaf_node*>(parent.children[left_index]);
        auto& right = *static_cast<leaf_node*>(parent.children[left_index + 1]);
        const fences pf = fences_of(path, parent_depth);
        const fences left_fences = child_fences(parent, pf, left_index);
        const fences right_fences = child_fences(parent, pf, left_index + 1);
        if (plan.borrow) {
            rebalance_leaves(left, right, plan.separator, left_fences.lo, right_fences.hi);
            separators_.release(parent.separators[left_index]);
            parent.separators[left_index] = plan.separator;
            parent.prefixes[left_index] = prefix_at(separator_key(plan.separator), parent.skip);
            return;
        }
        const std::uint32_t old_count = left.count;
        std::copy(right.prefixes.begin(), right.prefixes.begin() + right.count, left.prefixes.begin() + old_count);
        std::copy(right.refs.begin(), right.refs.begin() + right.count, left.refs.begin() + old_count);
        left.count += right.count;
        left.next = right.next;
        retune(left, shared_bytes({left_fences.lo, right_fences.hi}), old_count, left.count, right.skip);
        separators_.release(parent.separators[left_index]);
        remove_child(parent, left_index);
        delete &right;
        --leaf_count_;

        for (std::uint32_t depth = parent_depth; depth > 0 && path[depth].node->count < inner_min; --depth) {
            rebalance_inner(*path[depth - 1].node, fences_of(path, depth - 1), path[depth - 1].index);
        }
        auto* root = static_cast<inner_node*>(root_);
        if (root->count == 1) {
            root_ = root->children[0];
            delete root;
            --inner_count_;
            --height_;
        }
    }

    // Moves entries between neighbouring leaves so each holds half, given the separator
    // that will lie between them and the outer fences of the pair.
    void rebalance_leaves(leaf_node& left, leaf_node& right, ref separator, std::optional<std::string_view> lo,
                          std::optional<std::string_view> hi) const noexcept {
        const std::uint32_t left_count = (left.count + right.count) / 2;
        std::uint32_t left_moved_begin = 0;
        std::uint32_t left_moved_end = 0;
        std::uint32_t right_moved_end = 0;
        if (left.count < left_count) {
            const std::uint32_t moved = left_count - left.count;
            std::copy(right.prefixes.begin(), right.prefixes.begin() + moved, left.prefixes.begin() + left.count);
            std::copy(right.refs.begin(), right.refs.begin() + moved, left.refs.begin() + left.count);
            std::copy(right.prefixes.begin() + moved, right.prefixes.begin() + right.count, right.prefixes.begin());
            std::copy(right.refs.begin() + moved, right.refs.begin() + right.count, right.refs.begin());
            left_moved_begin = left.count;
            left_moved_end = left_count;
            right.count -= moved;
        } else {
            const std::uint32_t moved = left.count - left_count;
            std::copy_backward(right.prefixes.begin(), right.prefixes.begin() + right.count,
                               right.prefixes.begin() + right.count + moved);
            std::copy_backward(right.refs.begin(), right.refs.begin() + right.count,
                               right.refs.begin() + right.count + moved);
            std::copy(left.prefixes.begin() + left_count, left.prefixes.begin() + left.count, right.prefixes.begin());
            std::copy(left.refs.begin() + left_count, left.refs.begin() + left.count, right.refs.begin());
            right_moved_end = moved;
            right.count += moved;
        }
        left.count = left_count;
        const std::uint32_t left_skip = left.skip;
        const std::string_view middle = separator_key(separator);
        retune(left, shared_bytes({lo, middle}), left_moved_begin, left_moved_end, right.skip);
        retune(right, shared_bytes({middle, hi}), 0, right_moved_end, left_skip);
    }

    // Fixes the underfull child i of parent (whose fences are pf) by merging it with a
    // sibling, or by moving children over from the sibling when the two do not fit into one node.
    void rebalance_inner(inner_node& parent, const fences& pf, std::uint32_t i) noexcept {
        const std::uint32_t left_index = i + 1 < parent.count ? i : i - 1;
        auto& left = *static_cast<inner_node*>(parent.children[left_index]);
        auto& right = *static_cast<inner_node*>(parent.children[left_index + 1]);
        const std::optional<std::string_view> lo = child_fences(parent, pf, left_index).lo;
        const std::optional<std::string_view> hi = child_fences(parent, pf, left_index + 1).hi;
        const std::uint32_t l = left.count;
        const std::uint32_t r = right.count;
        if (l + r <= inner_capacity) {
            // The parent's separator comes down between the two halves.
            left.separators[l - 1] = parent.separators[left_index];
            std::copy(right.separators.begin(), right.separators.begin() + (r - 1), left.separators.begin() + l);
            std::copy(right.children.begin(), right.children.begin() + r, left.children.begin() + l);
            left.count = l + r;
            reload(left, {lo, hi});
            remove_child(parent, left_index);
            delete &right;
            --inner_count_;
            return;
        }
        // Rotate children through the parent: its separator goes down on one side and
        // the separator at the new boundary comes up.
        const std::uint32_t target = (l + r) / 2;
        ref& middle = parent.separators[left_index];
        if (l < target) {
            const std::uint32_t m = target - l;
            left.separators[l - 1] = middle;
            std::copy(right.separators.begin(), right.separators.begin() + (m - 1), left.separators.begin() + l);
            std::copy(right.children.begin(), right.children.begin() + m, left.children.begin() + l);
            middle = right.separators[m - 1];
            std::copy(right.separators.begin() + m, right.separators.begin() + (r - 1), right.separators.begin());
            std::copy(right.children.begin() + m, right.children.begin() + r, right.children.begin());
            right.count = r - m;
        } else {
            const std::uint32_t m = l - target;
            std::copy_backward(right.separators.begin(), right.separators.begin() + (r - 1),
                               right.separators.begin() + (r - 1 + m));
            std::copy_backward(right.children.begin(), right.children.begin() + r, right.children.begin() + (r + m));
            std::copy(left.separators.begin() + target, left.separators.begin() + (l - 1), right.separators.begin());
            right.separators[m - 1] = middle;
            std::copy(left.children.begin() + target, left.children.begin() + l, right.children.begin());
            middle = left.separators[target - 1];
            right.count = r + m;
        }
        left.count = target;
        const std::string_view middle_key = separator_key(middle);
        parent.prefixes[left_index] = prefix_at(middle_key, parent.skip);
        reload(left, {lo, middle_key});
        reload(right, {middle_key, hi});
    }

    // Reclaims arena garbage once it outweighs the live data.
    // Called after a change took effect, so it must not fail: without the memory to
    // compact (which leaves an arena as it was), the garbage stays until a later call.
    void compact_if_worthwhile() noexcept {
        try {
            if (records_.wants_compaction()) compact_records();
            if (separators_.wants_compaction()) compact_separators();
        } catch (const std::bad_alloc&) {
        }
    }

    void compact_records() {
        records_.compact([this](auto&& update) {
            for (leaf_node* leaf = leftmost_leaf(); leaf != nullptr; leaf = leaf->next) {
                for (std::uint32_t i = 0; i < leaf->count; ++i) update(leaf->refs[i]);
            }
        });
    }

    void compact_separators() {
        separators_.compact([this](auto&& update) { visit_separators(root_, height_, update); });
    }

    node_base* root_ = nullptr;
    std::uint32_t height_ = 0;  // inner levels above the leaves
    std::size_t size_ = 0;
    std::size_t leaf_count_ = 0;
    std::size_t inner_count_ = 0;
    record_arena records_;                                  // keys and payloads
    record_arena separators_;                               // inner-node separators, as keys with empty payloads
    std::vector<std::unique_ptr<leaf_node>> spare_leaves_;  // prepare_leaves()'s, for assign_sorted()
};

}  // namespace kvforge::detail

// ---- begin kvforge/detail/btree_build.hpp ----
/// \file btree_build.hpp
/// btree_table's bottom-up build from records in key order (assign_sorted), and the
/// leaves made ready for it on another thread (prepare_leaves): how a sorted index is
/// built at open from the hints, with no search and no split.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>


namespace kvforge::detail {

template <class Next>
void btree_table::assign_sorted(Next&& next, std::uint32_t leaf_entries) {
    leaf_entries = std::clamp(leaf_entries, leaf_min, leaf_capacity);
    std::vector<std::unique_ptr<leaf_node>> ready = std::move(spare_leaves_);  // those unused go at the end
    clear();
    std::vector<std::pair<node_base*, bool>> made;  // every node allocated, and whether it is a leaf
    try {
        const auto make = [&](bool leaf) -> node_base* {
            made.emplace_back(nullptr, leaf);
            std::unique_ptr<leaf_node> fresh_leaf;
            if (leaf && !ready.empty()) {
                fresh_leaf = std::move(ready.back());
                ready.pop_back();
            } else if (leaf) {
                fresh_leaf = make_leaf();
            }
            node_base* node = leaf ? static_cast<node_base*>(fresh_leaf.release()) : make_inner().release();
            made.back().first = node;
            return node;
        };
        const auto last_key = [&](const leaf_node& leaf) { return records_.view(leaf.refs[leaf.count - 1]).key; };
        // A leaf's fences are the separators either side of it on its level, so its
        // prefixes are set as soon as the separator after it is known, while its keys
        // are still in the cache.
        const auto set_leaf_prefixes = [&](leaf_node& l, const fences& f) {
            l.skip = static_cast<std::uint32_t>(shared_bytes(f));
            load_prefixes(l, 0, l.count);
        };
        // Level 0: leaves, chained, with the shortest separators between them.
        std::vector<node_base*> level;
        std::vector<ref> separators;  // separators[i] lies between level[i] and level[i + 1]
        leaf_node* leaf = nullptr;
        std::optional<std::string_view> lo;  // the separator before leaf
        std::string_view key;
        std::string_view payload;
        while (next(key, payload)) {
            if (leaf == nullptr || leaf->count == leaf_entries) {
                if (leaf != nullptr) {
                    separators.push_back(separators_.append(shortest_separator(last_key(*leaf), key), {}));
                    const std::string_view hi = separator_key(separators.back());
                    set_leaf_prefixes(*leaf, {lo, hi});
                    lo = hi;
                }
                auto* fresh = static_cast<leaf_node*>(make(true));
                fresh->count = 0;
                fresh->skip = 0;
                fresh->next = nullptr;
                if (leaf != nullptr) leaf->next = fresh;
                level.push_back(fresh);
                leaf = fresh;
            }
            leaf->refs[leaf->count++] = records_.append(key, payload);
            ++size_;
        }
        if (leaf == nullptr) return;
        if (leaf->count < leaf_min && level.size() > 1) {
            // The last leaf takes the back half of the full one before it.
            auto& before = *static_cast<leaf_node*>(level[level.size() - 2]);
            const std::uint32_t moved = (before.count - leaf->count) / 2;
            std::copy_backward(leaf->refs.begin(), leaf->refs.begin() + leaf->count,
                               leaf->refs.begin() + leaf->count + moved);
            std::copy(before.refs.begin() + before.count - moved, before.refs.begin() + before.count,
                      leaf->refs.begin());
            before.count -= moved;
            leaf->count += moved;
            const ref fresh =
                separators_.append(shortest_separator(last_key(before), records_.view(leaf->refs[0]).key), {});
            separators_.release(separators.back());
            separators.back() = fresh;
            lo = separator_key(fresh);
            set_leaf_prefixes(
                before,
                {separators.size() > 1 ? std::optional(separator_key(separators[separators.size() - 2])) : std::nullopt,
                 lo});
        }
        set_leaf_prefixes(*leaf, {lo, std::nullopt});
        // Inner levels, until one node is left: groups of inner_capacity children.
        std::uint32_t height = 0;
        while (level.size() > 1) {
            const std::size_t n = level.size();
            std::vector<std::size_t> ends;  // the end of each group of children
            for (std::size_t end = inner_capacity; end < n; end += inner_capacity) ends.push_back(end);
            ends.push_back(n);
            if (ends.size() > 1 && n - ends[ends.size() - 2] < inner_min) {
                const std::size_t begin = ends.size() > 2 ? ends[ends.size() - 3] : 0;
                ends[ends.size() - 2] = begin + (n - begin) / 2;
            }
            std::vector<node_base*> parents;
            std::vector<ref> up;
            std::size_t begin = 0;
            for (const std::size_t end : ends) {
                auto* inner = static_cast<inner_node*>(make(false));
                inner->count = static_cast<std::uint32_t>(end - begin);
                inner->skip = 0;
                std::copy(level.begin() + begin, level.begin() + end, inner->children.begin());
                std::copy(separators.begin() + begin, separators.begin() + end - 1, inner->separators.begin());
                if (end != n) up.push_back(separators[end - 1]);
                parents.push_back(inner);
                begin = end;
            }
            level = std::move(parents);
            separators = std::move(up);
            ++height;
        }
        // The inner nodes' prefixes from the root down: each node skips the bytes its
        // fences share.
        const auto set_prefixes = [&](const auto& self, node_base* node, std::uint32_t levels,
                                      const fences& f) -> void {
            auto& inner = *static_cast<inner_node*>(node);
            reload(inner, f);
            if (levels == 1) return;
            for (std::uint32_t i = 0; i < inner.count; ++i) {
                self(self, inner.children[i], levels - 1, child_fences(inner, f, i));
            }
        };
        if (height != 0) set_prefixes(set_prefixes, level.front(), height, fences{});
        root_ = level.front();
        height_ = height;
        for (const auto& [node, is_leaf] : made) ++(is_leaf ? leaf_count_ : inner_count_);
    } catch (...) {
        for (const auto& [node, is_leaf] : made) {
            if (is_leaf) {
                delete static_cast<leaf_node*>(node);
            } else {
                delete static_cast<inner_node*>(node);
            }
        }
        root_ = nullptr;
        clear();
        throw;
    }
}

inline void btree_table::prepare_leaves(std::size_t records, std::uint32_t leaf_entries,
                                        const std::stop_token& stop) noexcept {
    leaf_entries = std::clamp(leaf_entries, leaf_min, leaf_capacity);
    try {
        const std::size_t wanted = records / leaf_entries + 1;
        spare_leaves_.reserve(spare_leaves_.size() + wanted);
        for (std::size_t i = 0; i < wanted && !stop.stop_requested(); ++i) {
            std::unique_ptr<leaf_node> leaf = make_leaf();
            leaf->count = 0;  // a write, so that the page is mapped here
            // Taken from the back: the build then takes them in the order they were made.
            spare_leaves_.push_back(std::move(leaf));
        }
        std::reverse(spare_leaves_.begin(), spare_leaves_.end());
    } catch (const std::bad_alloc&) {
    }
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/btree_build.hpp ----
// ---- begin kvforge/detail/btree_visits.hpp ----
/// \file btree_visits.hpp
/// btree_table's ordered walks: ascending and descending visits from a key, the walk that
/// gives records new payloads in key order, and the cursors that run ahead of each,
/// prefetching the records the visitor will read.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>


namespace kvforge::detail {

// A place in an ascending visit: entry index of leaf, or past the end when leaf is null.
struct btree_table::ascending_cursor {
    const leaf_node* leaf = nullptr;
    std::uint32_t index = 0;

    ascending_cursor(const leaf_node* at, std::uint32_t i) noexcept : leaf(at), index(i) {
        if (index == leaf->count) step_leaf();
    }
    [[nodiscard]] bool valid() const noexcept { return leaf != nullptr; }
    [[nodiscard]] ref current() const noexcept { return leaf->refs[index]; }
    void next(const btree_table& /*table*/) noexcept {
        if (++index == leaf->count) step_leaf();
    }

private:
    void step_leaf() noexcept {
        leaf = leaf->next;
        index = 0;
    }
};

// A place in a descending visit: entry end - 1 of leaf, with the path from the root
// that finds the leaf before it; past the end when leaf is null.
struct btree_table::descending_cursor {
    std::array<step, max_height> path;
    const leaf_node* leaf = nullptr;
    std::uint32_t end = 0;

    [[nodiscard]] bool valid() const noexcept { return leaf != nullptr; }
    [[nodiscard]] ref current() const noexcept { return leaf->refs[end - 1]; }
    void next(const btree_table& table) noexcept {
        --end;
        settle(table);
    }
    // Moves on to the leaves on the left while this one has no entry left.
    void settle(const btree_table& table) noexcept {
        while (leaf != nullptr && end == 0) {
            leaf = table.previous_leaf(path.data());
            if (leaf != nullptr) end = leaf->count;
        }
    }
};

// Calls f(key, payload) for the records from start on, in the cursor's order, until
// f returns false; with ahead() and the arena's prefetch running ahead of it.
template <class Cursor, class F, class Ahead>
void btree_table::visit_ahead(const Cursor& start, F& f, Ahead& ahead) const {
    Cursor far = start;   // its arena entry is prefetched
    Cursor near = start;  // ahead() is called for it
    for (std::uint32_t n = 0; n < 2 * visit_distance && far.valid(); ++n, far.next(*this)) {
        records_.prefetch(far.current());
    }
    for (std::uint32_t n = 0; n < visit_distance && near.valid(); ++n, near.next(*this)) {
        const record_view r = records_.view(near.current());
        ahead(r.key, r.payload);
    }
    for (Cursor at = start; at.valid(); at.next(*this)) {
        if (far.valid()) {
            records_.prefetch(far.current());
            far.next(*this);
        }
        if (near.valid()) {
            const record_view r = records_.view(near.current());
            ahead(r.key, r.payload);
            near.next(*this);
        }
        const record_view r = records_.view(at.current());
        if (!f(r.key, r.payload)) return;
    }
}

template <class F, class Ahead>
void btree_table::visit_from(std::string_view from, bool inclusive, F&& f, Ahead&& ahead) const {
    if (root_ == nullptr) return;
    const leaf_node* leaf = descend(from, nullptr);
    const leaf_position at = locate(*leaf, from);
    visit_ahead(ascending_cursor(leaf, at.found && !inclusive ? at.index + 1 : at.index), f, ahead);
}

template <class F, class Ahead>
void btree_table::visit_down_from(std::optional<std::string_view> from, bool inclusive, F&& f, Ahead&& ahead) const {
    if (root_ == nullptr) return;
    // Leaves link only to their right neighbour; the path from the root finds the left one.
    descending_cursor start;
    if (from) {
        start.leaf = descend(*from, start.path.data());
        const leaf_position at = locate(*start.leaf, *from);
        start.end = at.found && inclusive ? at.index + 1 : at.index;
    } else {
        start.leaf = rightmost_leaf(start.path.data());
        start.end = start.leaf->count;
    }
    start.settle(*this);
    visit_ahead(start, f, ahead);
}

template <class F>
void btree_table::update_from(std::string_view from, bool inclusive, F&& f) {
    if (root_ == nullptr) return;
    leaf_node* leaf = descend(from, nullptr);
    const leaf_position at = locate(*leaf, from);
    std::uint32_t index = at.found && !inclusive ? at.index + 1 : at.index;
    ascending_cursor far(leaf, index);  // its arena entry is prefetched
    for (std::uint32_t n = 0; n < 2 * visit_distance && far.valid(); ++n, far.next(*this)) {
        records_.prefetch(far.current());
    }
    for (bool going = true; going && leaf != nullptr; leaf = leaf->next, index = 0) {
        for (; going && index < leaf->count; ++index) {
            if (far.valid()) {
                records_.prefetch(far.current());
                far.next(*this);
            }
            ref& r = leaf->refs[index];
            const record_view record = records_.view(r);
            const auto replace = [&](std::string_view payload) {
                if (records_.overwrite_payload(r, payload)) return;
                const ref fresh = records_.append(record.key, payload);  // may throw; nothing has changed yet
                records_.release(r);
                r = fresh;
            };
            going = f(record.key, record.payload, replace);
        }
    }
    compact_if_worthwhile();
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/btree_visits.hpp ----
// ---- end kvforge/detail/btree.hpp ----

namespace kvforge {

/// Index policy: a B+tree over encoded keys in memcmp order, so integer keys sort numerically.
struct sorted_index {
    using policy_kind = kvforge::policy_kind::index;
    static constexpr std::string_view name = "sorted_index";
    static constexpr std::string_view short_name = "sorted";  ///< also accepted in a store spec
    using table = detail::btree_table;
    static constexpr bool ordered = true;
};

static_assert(index_policy<sorted_index>);

}  // namespace kvforge
// ---- end kvforge/index/sorted_index.hpp ----
// ---- begin kvforge/store.hpp ----
/// \file store.hpp
/// kvforge::store<Key, Value, Policies...>: the key-value store forged from policies.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <exception>
#include <iterator>
#include <new>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

// ---- begin kvforge/batch.hpp ----
/// \file batch.hpp
/// kvforge::batch: puts and erases that a store applies all together or not at all.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

// ---- begin kvforge/codec.hpp ----
/// \file codec.hpp
/// How keys and values become bytes: kvforge::codec<T> and the built-in codecs.
///
/// Stores keep and compare encoded bytes; a sorted index orders keys by memcmp of
/// their encodings. The built-in codecs are chosen so that this order is the
/// natural one: integers and floating-point numbers are stored big-endian with the
/// sign handled, so they sort numerically.
///
/// To store another type, specialise kvforge::codec for it:
///
///     template <> struct kvforge::codec<point> {
///         static std::string name() { return "point.v1"; }  // identifies the encoding in files
///         static std::string_view encode(const point& p, std::string& scratch);  // bytes of p
///         static bool decode(std::string_view bytes, point& out);  // false when bytes are malformed
///     };
///
/// encode may return a view of the object itself or of scratch, which the caller
/// provides empty and keeps alive while it uses the result. decode must give back the
/// value encode was given, and encode the same bytes for equal values: a store finds
/// keys by their bytes, and a scan resumes from the last key it handed out, encoded again.

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

// ---- begin kvforge/detail/assign_bytes.hpp ----
/// \file assign_bytes.hpp
/// Copying a value's bytes into a caller's std::string, the last step of every get.

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace kvforge::detail {

/// Replaces out's contents with bytes, reusing out's storage. std::string::assign
/// takes a general replace path that costs about a fifth of a whole lookup of a
/// 100-byte value; this is one copy, with a resize only when the length changes.
/// bytes may view out itself.
inline void assign_bytes(std::string& out, std::string_view bytes) {
    const std::size_t size = bytes.size();
    if (size > out.size()) {
        // Longer than out, so not a view of it.
        if (out.empty() && size > out.capacity()) {
            // A new string (a plain get's): allocated at its length and copied once, rather
            // than grown, filled with zeros and then copied over.
            out = std::string(bytes);
            return;
        }
        out.resize(size);
        std::memcpy(out.data(), bytes.data(), size);
        return;
    }
    // Copy first: bytes may lie in out, and shrinking writes the terminating NUL.
    if (size != 0) std::memmove(out.data(), bytes.data(), size);
    if (size != out.size()) out.resize(size);
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/assign_bytes.hpp ----

namespace kvforge {

/// The codec for T. Undefined for types kvforge cannot encode; specialise it for your own.
template <class T, class Enable = void>
struct codec;

namespace detail {

template <class T>
concept byte_like = std::same_as<T, char> || std::same_as<T, signed char> || std::same_as<T, unsigned char> ||
                    std::same_as<T, std::byte>;

/// Types encoded as a big-endian number with an order-preserving transform.
template <class T>
concept number_like = std::is_arithmetic_v<T> || std::is_enum_v<T>;

template <class T>
inline constexpr bool is_string_view_v = false;
template <class Char, class Traits>
inline constexpr bool is_string_view_v<std::basic_string_view<Char, Traits>> = true;

/// Types encoded by their object bytes: no padding, so equal values have equal bytes,
/// and no pointers, whose bytes mean nothing once stored.
template <class T>
concept raw_bytes_like = std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T> &&
                         !number_like<T> && !std::is_pointer_v<T> && !std::is_member_pointer_v<T> &&
                         !is_string_view_v<T>;

template <std::size_t Size>
struct unsigned_of_size;
template <>
struct unsigned_of_size<1> { using type = std::uint8_t; };
template <>
struct unsigned_of_size<2> { using type = std::uint16_t; };
template <>
struct unsigned_of_size<4> { using type = std::uint32_t; };
template <>
struct unsigned_of_size<8> { using type = std::uint64_t; };

}  // namespace detail

/// std::string: its bytes as they are. Calls of a std::string store also take std::string_view.
template <>
struct codec<std::string> {
    static std::string name() { return "bytes"; }
    static std::string_view encode(std::string_view value, std::string& /*scratch*/) noexcept { return value; }
    static bool decode(std::string_view bytes, std::string& out) {
        detail::assign_bytes(out, bytes);
        return true;
    }
};

/// Vectors of bytes (char, unsigned char, signed char, std::byte): their bytes as they are.
template <detail::byte_like Byte, class Allocator>
struct codec<std::vector<Byte, Allocator>> {
    static std::string name() { return "bytes"; }
    static std::string_view encode(const std::vector<Byte, Allocator>& value, std::string& /*scratch*/) noexcept {
        return {reinterpret_cast<const char*>(value.data()), value.size()};
    }
    static bool decode(std::string_view bytes, std::vector<Byte, Allocator>& out) {
        const auto* first = reinterpret_cast<const Byte*>(bytes.data());
        out.assign(first, first + bytes.size());
        return true;
    }
};

/// Integers, enums, bool and floating point: big-endian, transformed so that memcmp
/// order is numeric order (sign bit flipped for signed integers; for floating point,
/// all bits flipped when negative, else the sign bit set).
template <detail::number_like T>
struct codec<T> {
private:
    using bits_type = typename detail::unsigned_of_size<sizeof(T)>::type;
    static constexpr bits_type sign_bit = bits_type(bits_type{1} << (sizeof(T) * 8 - 1));

    static constexpr bool is_signed_integer() {
        if constexpr (std::is_enum_v<T>) {
            return std::is_signed_v<std::underlying_type_t<T>>;
        } else {
            return std::is_integral_v<T> && std::is_signed_v<T>;
        }
    }

    static constexpr bits_type to_ordered(bits_type bits) noexcept {
        if constexpr (std::is_floating_point_v<T>) {
            return (bits & sign_bit) ? bits_type(~bits) : bits_type(bits | sign_bit);
        } else if constexpr (is_signed_integer()) {
            return bits_type(bits ^ sign_bit);
        } else {
            return bits;
        }
    }

    static constexpr bits_type from_ordered(bits_type bits) noexcept {
        if constexpr (std::is_floating_point_v<T>) {
            return (bits & sign_bit) ? bits_type(bits & ~sign_bit) : bits_type(~bits);
        } else if constexpr (is_signed_integer()) {
            return bits_type(bits ^ sign_bit);
        } else {
            return bits;
        }
    }

public:
    static std::string name() {
        const char* family = std::is_floating_point_v<T> ? "float" : is_signed_integer() ? "int" : "uint";
        return std::string(family) + std::to_string(sizeof(T) * 8) + ".be";
    }
    static std::string_view encode(const T& value, std::string& scratch) {
        const bits_type ordered = detail::to_big_endian(to_ordered(std::bit_cast<bits_type>(value)));
        scratch.resize(sizeof(T));  // within the small-string buffer: no allocation
        std::memcpy(scratch.data(), &ordered, sizeof(T));
        return scratch;
    }
    static bool decode(std::string_view bytes, T& out) noexcept {
        if (bytes.size() != sizeof(T)) return false;
        const auto stored = detail::load_unaligned<bits_type>(bytes.data());
        out = std::bit_cast<T>(from_ordered(detail::to_big_endian(stored)));
        return true;
    }
};

/// Other trivially copyable types without padding (arrays of bytes, plain structs of
/// integers): their object bytes. Types with padding need a codec of their own, since
/// their padding bytes are indeterminate and equal values could encode differently.
template <detail::raw_bytes_like T>
struct codec<T> {
    static std::string name() { return "raw" + std::to_string(sizeof(T)); }
    static std::string_view encode(const T& value, std::string& /*scratch*/) noexcept {
        return {reinterpret_cast<const char*>(&value), sizeof(T)};
    }
    static bool decode(std::string_view bytes, T& out) noexcept {
        if (bytes.size() != sizeof(T)) return false;
        std::memcpy(&out, bytes.data(), sizeof(T));
        return true;
    }
};

namespace detail {

/// How a call takes a T: std::string as std::string_view (so literals and views need
/// no copy), everything else by const reference.
template <class T>
using param_t = std::conditional_t<std::is_same_v<T, std::string>, std::string_view, const T&>;

}  // namespace detail

/// T has a usable kvforge::codec: a name for the encoding, encode and decode.
template <class T>
concept encodable = requires(detail::param_t<T> value, std::string& scratch, std::string_view bytes, T& out) {
    { codec<T>::name() } -> std::convertible_to<std::string>;
    { codec<T>::encode(value, scratch) } -> std::same_as<std::string_view>;
    { codec<T>::decode(bytes, out) } -> std::same_as<bool>;
};

}  // namespace kvforge
// ---- end kvforge/codec.hpp ----
// ---- begin kvforge/detail/checked_encode.hpp ----
/// \file checked_encode.hpp
/// Encoding of keys and values on the write path, with the size limits enforced.

#include <string>
#include <string_view>
#include <system_error>

// ---- begin kvforge/limits.hpp ----
/// \file limits.hpp
/// Size limits every store enforces on the encoded bytes of keys and values.

#include <cstddef>

namespace kvforge {

/// The largest encoded key, in bytes. The empty key is allowed.
inline constexpr std::size_t max_key_size = std::size_t{1} << 16;

/// The largest encoded value, in bytes. The empty value is allowed.
inline constexpr std::size_t max_value_size = std::size_t{64} << 20;

}  // namespace kvforge
// ---- end kvforge/limits.hpp ----

namespace kvforge::detail {

/// Encodes a key for writing; reports errc::key_too_large (and returns an empty view)
/// when its encoding is longer than max_key_size.
template <class Key>
std::string_view encode_key(param_t<Key> key, std::string& scratch, std::error_code& ec) {
    const std::string_view bytes = codec<Key>::encode(key, scratch);
    if (bytes.size() > max_key_size) {
        fail(ec, errc::key_too_large,
             "key of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                 std::to_string(max_key_size) + " bytes (kvforge::max_key_size); nothing was written");
        return {};
    }
    return bytes;
}

/// Encodes a value for writing; reports errc::value_too_large when it is over max_value_size.
template <class Value>
std::string_view encode_value(param_t<Value> value, std::string& scratch, std::error_code& ec) {
    const std::string_view bytes = codec<Value>::encode(value, scratch);
    if (bytes.size() > max_value_size) {
        fail(ec, errc::value_too_large,
             "value of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                 std::to_string(max_value_size) + " bytes (kvforge::max_value_size); nothing was written");
        return {};
    }
    return bytes;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/checked_encode.hpp ----
// ---- begin kvforge/detail/clocks.hpp ----
/// \file clocks.hpp
/// std::chrono's durations, time points and clocks, for headers that name a deadline and
/// nothing more of <chrono>.
///
/// Since C++20, <chrono> also brings calendars, time zones and their formatting; with
/// libstdc++ that is <sstream> and more, which costs a file more to compile than the
/// <string>, <optional>, <vector> and <map> it includes anyway. libstdc++ keeps the
/// clocks alone in <bits/chrono.h> (from GCC 11), which <chrono> itself includes; other
/// standard libraries get <chrono>.

#include <cstddef>  // defines __GLIBCXX__ under libstdc++

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#include <bits/chrono.h>
#else
#include <chrono>
#endif
// ---- end kvforge/detail/clocks.hpp ----
// ---- begin kvforge/detail/saturating_time.hpp ----
/// \file saturating_time.hpp
/// Deadlines computed without overflow: a time to live or a deadline that lies past
/// what a clock's time_point can hold becomes the clock's largest (or, for one before
/// its range, smallest) time_point, rather than wrapping round to a time in the past.
///
/// std::chrono's own conversions and additions overflow silently (undefined behaviour
/// for signed reps): system_clock::now() + years(300) wraps under libstdc++, whose
/// nanosecond time_point ends in 2262, and a stored deadline that wrapped negative would
/// make the key expire at once.

#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>


namespace kvforge::detail {

/// d converted to To (an integral duration), truncating toward zero as duration_cast
/// does, but clamped to To's range where duration_cast would overflow.
template <class To, class Rep, class Period>
[[nodiscard]] constexpr To saturating_duration_cast(std::chrono::duration<Rep, Period> d) noexcept {
    using to_rep = typename To::rep;
    static_assert(std::is_integral_v<to_rep>, "a deadline's duration counts whole ticks");
    using ratio = std::ratio_divide<Period, typename To::period>;
    constexpr std::intmax_t num = ratio::num;
    constexpr std::intmax_t den = ratio::den;
    constexpr std::intmax_t high = std::numeric_limits<to_rep>::max() < std::numeric_limits<std::intmax_t>::max()
                                       ? static_cast<std::intmax_t>(std::numeric_limits<to_rep>::max())
                                       : std::numeric_limits<std::intmax_t>::max();
    constexpr std::intmax_t low = std::is_signed_v<to_rep> ? static_cast<std::intmax_t>(std::numeric_limits<to_rep>::min())
                                                           : std::intmax_t{0};
    if constexpr (std::is_floating_point_v<Rep>) {
        // long double holds every bound exactly or rounds it outward (to 2^63), so a
        // value below it converts without overflow. NaN compares false: it gives To::max().
        const long double ticks = static_cast<long double>(d.count()) * num / den;
        if (!(ticks < static_cast<long double>(high))) return To(static_cast<to_rep>(high));
        if (ticks <= static_cast<long double>(low)) return To(static_cast<to_rep>(low));
        return To(static_cast<to_rep>(ticks));
    } else {
        if constexpr (std::is_unsigned_v<Rep>) {
            if (d.count() > static_cast<std::make_unsigned_t<std::intmax_t>>(high)) return To(static_cast<to_rep>(high));
        }
        const auto count = static_cast<std::intmax_t>(d.count());
        // count = q * den + r, so count * num / den = q * num + r * num / den (both parts
        // truncate toward zero, as the whole does), each part checked before it is formed.
        const std::intmax_t q = count / den;
        const std::intmax_t r = count % den;
        if (q > high / num) return To(static_cast<to_rep>(high));
        if (q < low / num) return To(static_cast<to_rep>(low));
        const std::intmax_t whole = q * num;
        // |r| < den, and num and den of a reduced ratio rarely are both large: when
        // r * num could overflow, long double gives the (at most one tick off) remainder.
        const std::intmax_t part =
            (r == 0 || (r > 0 ? r : -r) <= std::numeric_limits<std::intmax_t>::max() / num)
                ? r * num / den
                : static_cast<std::intmax_t>(static_cast<long double>(r) * num / den);
        if (part > 0 && whole > high - part) return To(static_cast<to_rep>(high));
        if (part < 0 && whole < low - part) return To(static_cast<to_rep>(low));
        return To(static_cast<to_rep>(whole + part));
    }
}

/// at + by, clamped to the range of TimePoint (the largest time_point past its end, the
/// smallest before its start).
template <class TimePoint>
[[nodiscard]] constexpr TimePoint saturating_add(TimePoint at, typename TimePoint::duration by) noexcept {
    const auto high = TimePoint::max().time_since_epoch().count();
    const auto low = TimePoint::min().time_since_epoch().count();
    const auto start = at.time_since_epoch().count();
    const auto step = by.count();
    if (step > 0 && start > high - step) return TimePoint::max();
    if (step < 0 && start < low - step) return TimePoint::min();
    return at + by;
}

/// The deadline ttl after Clock's now, clamped to Clock's time_point range.
template <class Clock, class Rep, class Period>
[[nodiscard]] typename Clock::time_point deadline_after(std::chrono::duration<Rep, Period> ttl) {
    return saturating_add(Clock::now(), saturating_duration_cast<typename Clock::duration>(ttl));
}

/// deadline as a count of Clock's ticks (what an expiring store keeps), clamped to the
/// range of Clock's duration when deadline's own duration reaches past it.
template <class Clock, class Duration>
[[nodiscard]] constexpr std::int64_t deadline_ticks(std::chrono::time_point<Clock, Duration> deadline) noexcept {
    return static_cast<std::int64_t>(
        saturating_duration_cast<typename Clock::duration>(deadline.time_since_epoch()).count());
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/saturating_time.hpp ----

namespace kvforge {

namespace detail {

/// What one operation of a batch does. put_until (a put with a deadline) reaches only
/// an expiring store's layer, which turns it into a put of the value behind its header.
enum class batch_op : unsigned char { put = 1, erase = 2, put_until = 3 };

/// A batch's operations encoded back to back in one buffer: for each, the op byte,
/// the key length and (for a put) the value length as varints, for a put_until the
/// deadline as a little-endian i64, then the bytes. A buffer without put_until is also
/// the payload a file-backed store writes as one batch record.
class batch_buffer {
public:
    void add_put(std::string_view key, std::string_view value) {
        append_header(batch_op::put, key.size(), value.size());
        bytes_.append(key).append(value);
        ++count_;
    }

    /// A put whose key expires at deadline (a count of the expiring store's clock ticks).
    void add_put_until(std::string_view key, std::string_view value, std::int64_t deadline) {
        append_header(batch_op::put_until, key.size(), value.size());
        char ticks[8];
        store_unaligned(ticks, to_little_endian(static_cast<std::uint64_t>(deadline)));
        bytes_.append(ticks, sizeof ticks).append(key).append(value);
        ++count_;
        ++deadlines_;
    }

    void add_erase(std::string_view key) {
        append_header(batch_op::erase, key.size(), 0);
        bytes_.append(key);
        ++count_;
    }

    /// Calls f(op, key, value) for each operation in order (value is empty for erases).
    template <class F>
    void for_each(F&& f) const {
        for_each_with_deadline([&](batch_op op, std::string_view key, std::string_view value,
                                   std::optional<std::int64_t>) { f(op, key, value); });
    }

    /// Calls f(op, key, value, deadline) for each operation in order; deadline is set
    /// for a put_until only.
    template <class F>
    void for_each_with_deadline(F&& f) const {
        const char* p = bytes_.data();
        const char* const end = p + bytes_.size();
        while (p < end) {
            const auto op = static_cast<batch_op>(*p++);
            std::uint64_t key_size = 0;
            std::uint64_t value_size = 0;
            p = get_varint(p, end, key_size);
            if (op != batch_op::erase) p = get_varint(p, end, value_size);
            std::optional<std::int64_t> deadline;
            if (op == batch_op::put_until) {
                deadline = static_cast<std::int64_t>(to_little_endian(load_unaligned<std::uint64_t>(p)));
                p += 8;
            }
            const std::string_view key(p, key_size);
            const std::string_view value(p + key_size, value_size);
            p += key_size + value_size;
            f(op, key, value, deadline);
        }
    }

    [[nodiscard]] std::size_t count() const noexcept { return count_; }
    /// How many of the operations are put_until.
    [[nodiscard]] std::size_t deadline_count() const noexcept { return deadlines_; }
    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }
    void clear() noexcept {
        bytes_.clear();
        count_ = 0;
        deadlines_ = 0;
    }

private:
    void append_header(batch_op op, std::size_t key_size, std::size_t value_size) {
        char header[1 + 2 * max_varint_size];
        char* p = header;
        *p++ = static_cast<char>(op);
        p = put_varint(p, key_size);
        if (op != batch_op::erase) p = put_varint(p, value_size);
        bytes_.append(header, static_cast<std::size_t>(p - header));
    }

    std::string bytes_;
    std::size_t count_ = 0;
    std::size_t deadlines_ = 0;
};

template <class>
inline constexpr bool batch_without_clock = false;

}  // namespace detail

/// A sequence of puts and erases applied by store::write() atomically: after a crash
/// a batch is wholly present or wholly absent, and readers never see part of it.
/// Operations apply in order, so a later one on the same key wins. Oversized keys and
/// values are refused when added, so write() has nothing left to refuse; the one
/// exception to all-or-nothing is a memory store running out of memory midway through
/// applying a batch, which keeps the operations applied before (a persistent store
/// writes the whole batch as one record first, and recovers it whole). A bounded<>
/// cache keeps a batch whole, evicting other entries for it, never its own; a batch
/// whose entries it could not hold at once is refused (errc::value_too_large) and
/// changes nothing.
///
/// Clock is the clock of an expiring store (store::batch_type of a store with
/// kvforge::expiring<Clock> names it): such a batch also takes puts with a time to live
/// or a deadline, and only that store writes it. With Clock = void it takes none.
template <class Key, class Value, class Clock = void>
class batch {
public:
    /// Adds a put; throws kvforge::error when the key or value is over its size limit.
    void put(detail::param_t<Key> key, detail::param_t<Value> value) {
        std::error_code ec;
        put(key, value, ec);
        detail::throw_if(ec);
    }

    /// Adds a put; reports errc::key_too_large or errc::value_too_large through ec and adds nothing.
    void put(detail::param_t<Key> key, detail::param_t<Value> value, std::error_code& ec) {
        ec.clear();
        std::string key_scratch;
        std::string value_scratch;
        const std::string_view k = detail::encode_key<Key>(key, key_scratch, ec);
        if (ec) return;
        const std::string_view v = detail::encode_value<Value>(value, value_scratch, ec);
        if (ec) return;
        ops_.add_put(k, v);
    }

    /// Adds a put whose key expires ttl after this call, by Clock (at Clock's last
    /// time_point when ttl reaches past it, as store::put); throws kvforge::error when the
    /// key or value is over its size limit. Needs a batch of an expiring store.
    template <class Rep, class Period>
    void put(detail::param_t<Key> key, detail::param_t<Value> value, std::chrono::duration<Rep, Period> ttl) {
        std::error_code ec;
        put(key, value, ttl, ec);
        detail::throw_if(ec);
    }

    /// As put(key, value, ttl); errors through ec.
    template <class Rep, class Period>
    void put(detail::param_t<Key> key, detail::param_t<Value> value, std::chrono::duration<Rep, Period> ttl,
             std::error_code& ec) {
        if constexpr (std::is_void_v<Clock>) {
            static_assert(detail::batch_without_clock<Rep>,
                          "kvforge: a batch's put() with a time to live needs the batch_type of a store with "
                          "kvforge::expiring<> among its policies");
        } else {
            put(key, value, detail::deadline_after<Clock>(ttl), ec);
        }
    }

    /// Adds a put whose key expires at deadline: when the batch is written at or after
    /// it, the put removes the key instead, as store::put with a past deadline does.
    /// Throws kvforge::error when the key or value is over its size limit. Needs a batch
    /// of an expiring store.
    template <class DeadlineClock, class Duration>
    void put(detail::param_t<Key> key, detail::param_t<Value> value,
             std::chrono::time_point<DeadlineClock, Duration> deadline) {
        std::error_code ec;
        put(key, value, deadline, ec);
        detail::throw_if(ec);
    }

    /// As put(key, value, deadline); errors through ec.
    template <class DeadlineClock, class Duration>
    void put(detail::param_t<Key> key, detail::param_t<Value> value,
             std::chrono::time_point<DeadlineClock, Duration> deadline, std::error_code& ec) {
        static_assert(!std::is_void_v<Clock>,
                      "kvforge: a batch's put() with a deadline needs the batch_type of a store with "
                      "kvforge::expiring<> among its policies");
        static_assert(std::is_void_v<Clock> || std::is_same_v<DeadlineClock, Clock>,
                      "kvforge: a deadline must be a time_point of the store's clock");
        if constexpr (std::is_same_v<DeadlineClock, Clock>) {
            ec.clear();
            std::string key_scratch;
            std::string value_scratch;
            const std::string_view k = detail::encode_key<Key>(key, key_scratch, ec);
            if (ec) return;
            const std::string_view v = detail::encode_value<Value>(value, value_scratch, ec);
            if (ec) return;
            ops_.add_put_until(k, v, detail::deadline_ticks(deadline));
        }
    }

    /// Adds an erase; throws kvforge::error when the key is over its size limit.
    void erase(detail::param_t<Key> key) {
        std::error_code ec;
        erase(key, ec);
        detail::throw_if(ec);
    }

    /// Adds an erase; reports errc::key_too_large through ec and adds nothing.
    void erase(detail::param_t<Key> key, std::error_code& ec) {
        ec.clear();
        std::string key_scratch;
        const std::string_view k = detail::encode_key<Key>(key, key_scratch, ec);
        if (ec) return;
        ops_.add_erase(k);
    }

    /// The number of operations added.
    [[nodiscard]] std::size_t size() const noexcept { return ops_.count(); }
    [[nodiscard]] bool empty() const noexcept { return ops_.count() == 0; }
    /// Removes every operation, keeping the buffer for reuse.
    void clear() noexcept { ops_.clear(); }

    /// The encoded operations, as stores apply them.
    [[nodiscard]] const detail::batch_buffer& operations() const noexcept { return ops_; }

private:
    detail::batch_buffer ops_;
};

}  // namespace kvforge
// ---- end kvforge/batch.hpp ----
// ---- begin kvforge/detail/policy_pack.hpp ----
/// \file policy_pack.hpp
/// Resolution of store<Key, Value, Policies...>'s policy list: any order, each kind at
/// most once, defaults for the kinds left out, and a readable error for every misuse.

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

// ---- begin kvforge/compression/compressed.hpp ----
/// \file compression/compressed.hpp
/// kvforge::compressed<Codec>: a store policy that keeps values compressed by a codec.
///
/// A compressed store puts one flag byte in front of each value it hands the layers
/// beneath: value_flag::raw, then the value as it is, or value_flag::compressed, then
/// what compress_value wrote (the value's size as a varint, then the codec's bytes). A
/// value shorter than options::compress_min_bytes, or one the codec does not make
/// shorter, is kept raw, so no value costs more than the one byte.
///
/// The layer sits above expiry: an expiring store's deadline header stays in front of
/// the flag, uncompressed, so deadlines are read (at open, by purge_expired(), by every
/// read) without decompressing anything. A read cache beneath holds the values as they
/// are stored, compressed, so its budget holds more of them and each hit decompresses.
///
/// This header needs no library: the codecs that do (<kvforge/compression/zstd.hpp>,
/// <kvforge/compression/lz4.hpp>) are included by the user, who links their library.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

// ---- begin kvforge/expiry/expiring.hpp ----
/// \file expiring.hpp
/// kvforge::expiring<Clock>: keys that expire at a deadline, and purge_expired().
///
/// An expiring store puts a small header in front of each value it hands the store
/// policy: one tag byte, and when the key has a deadline the deadline as a little-endian
/// i64 count of Clock::duration since Clock's epoch. Every read looks at the tag; only a
/// key with a deadline reads the clock. Beside the store, a B+tree keyed by the deadline
/// (big-endian, so bytes sort as times) followed by the key holds one entry per key with
/// a deadline, so purge_expired() walks exactly the entries whose deadline has passed.
///
/// In a file store the header is written with the value, so deadlines survive a restart:
/// close() writes the deadline index to the store's deadlines file, which the next open()
/// loads without reading a value (deadline_file.hpp), else open() rebuilds the index from
/// the stored values. The MANIFEST's expiry field records the clock and its tick
/// (clock_name), so that no store opens the values under another reading of their first
/// bytes.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

// ---- begin kvforge/detail/cache_companion.hpp ----
/// \file cache_companion.hpp
/// detail::cache_companion: how a bounded cache keeps a layer above it in step with the
/// entries it evicts (expiring.hpp over bounded.hpp).

#include <cstdint>
#include <string_view>

namespace kvforge::detail {

/// What a layer over a cache keeps for the entries the cache holds (the expiry layer's
/// deadline index), which the cache must keep in step: it is told of each entry the
/// cache evicts, with the entry's value, before the entry goes; its memory counts within
/// the cache's budget; and it gives back its spare memory when the cache reclaims its own.
struct cache_companion {
    void* context = nullptr;
    void (*evicted)(void* context, std::string_view key, std::string_view value) = nullptr;
    std::uint64_t (*memory_usage)(const void* context) noexcept = nullptr;
    void (*shrink_to_fit)(void* context) = nullptr;

    explicit operator bool() const noexcept { return context != nullptr; }
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/cache_companion.hpp ----
// ---- begin kvforge/manifest.hpp ----
/// \file manifest.hpp
/// The text of the MANIFEST file in which a persistent store records its
/// kvforge::composition (composition.hpp), so that tools open any store with no flags.
///
/// The manifest is one `name value` line per field, in a fixed order, then a line
/// `crc32c <8 hex digits>` over every byte before it:
///
///     kvforge-manifest 1
///     format 2
///     store file_log
///     index sorted_index
///     durability buffered
///     key_codec bytes
///     value_codec bytes
///     codec_fingerprint 0123456789abcdef
///     expiry none
///     compression none
///
/// Some fields bind: bytes written under one value of them cannot be read under another
/// (the format, the codecs, expiry, compression). The others (store, index, durability)
/// only say how the store was made: file_log and mmap_file read the same files, and any
/// index is rebuilt from the log, so tools take them as defaults and nothing more.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

// ---- begin kvforge/composition.hpp ----
/// \file composition.hpp
/// kvforge::composition: what a store is made of, as any_store::composition() reports it
/// and a store's MANIFEST records it (manifest.hpp).

#include <cstdint>
#include <string>

namespace kvforge {

/// What a store is made of: the policies and codecs that wrote it.
struct composition {
    std::uint32_t format = 0;             ///< format version of the store's files
    std::string store;                    ///< store policy, e.g. "file_log"
    std::string index;                    ///< index policy, e.g. "sorted_index"
    std::string durability;               ///< durability policy, e.g. "buffered"
    std::string key_codec;                ///< codec<Key>::name()
    std::string value_codec;              ///< codec<Value>::name()
    std::uint64_t codec_fingerprint = 0;  ///< the fingerprint of both codecs, as file headers carry it
    std::string expiry = "none";          ///< "none", or the clock of an expiring store
    std::string compression = "none";     ///< "none", or the value codec of a compressed store

    friend bool operator==(const composition&, const composition&) = default;
};

}  // namespace kvforge
// ---- end kvforge/composition.hpp ----
// ---- begin kvforge/detail/crc32c.hpp ----
/// \file crc32c.hpp
/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum of
/// every record and file header.
///
/// On x86-64 CPUs with SSE 4.2 the crc32 instruction computes it eight bytes at a
/// time; elsewhere a slicing-by-8 table does. Both give the same values; the check
/// value of "123456789" is 0xE3069283.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>


// The compilers' builtins for the crc32 instruction rather than <nmmintrin.h>, which
// brings every SSE header with it into each file that includes kvforge.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KVFORGE_CRC32C_HW 1
#endif

namespace kvforge::detail {

/// Eight 256-entry tables: table[k][b] is the CRC of byte b followed by k zero bytes.
inline constexpr auto crc32c_tables = [] {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint32_t crc = b;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        t[0][b] = crc;
    }
    for (std::size_t k = 1; k < 8; ++k) {
        for (std::size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    }
    return t;
}();

/// Continues a CRC-32C over more bytes with the portable tables.
[[nodiscard]] inline std::uint32_t crc32c_extend_portable(std::uint32_t crc, const unsigned char* p,
                                                          std::size_t n) noexcept {
    crc = ~crc;
    for (; n >= 8; n -= 8, p += 8) {
        const std::uint64_t word = load_unaligned<std::uint64_t>(p) ^ crc;
        crc = crc32c_tables[7][word & 0xff] ^ crc32c_tables[6][(word >> 8) & 0xff] ^
              crc32c_tables[5][(word >> 16) & 0xff] ^ crc32c_tables[4][(word >> 24) & 0xff] ^
              crc32c_tables[3][(word >> 32) & 0xff] ^ crc32c_tables[2][(word >> 40) & 0xff] ^
              crc32c_tables[1][(word >> 48) & 0xff] ^ crc32c_tables[0][word >> 56];
    }
    while (n-- > 0) crc = (crc >> 8) ^ crc32c_tables[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#ifdef KVFORGE_CRC32C_HW
/// Continues a CRC-32C with the SSE 4.2 crc32 instruction.
[[gnu::target("sse4.2")]] inline std::uint32_t crc32c_extend_hardware(std::uint32_t crc, const unsigned char* p,
                                                                      std::size_t n) noexcept {
    std::uint64_t state = ~crc;
    for (; n >= 8; n -= 8, p += 8) state = __builtin_ia32_crc32di(state, load_unaligned<std::uint64_t>(p));
    auto state32 = static_cast<std::uint32_t>(state);
    while (n-- > 0) state32 = __builtin_ia32_crc32qi(state32, *p++);
    return ~state32;
}
#endif

/// Continues crc (the CRC-32C of earlier bytes, 0 for none) over bytes.
[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, std::string_view bytes) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
#ifdef KVFORGE_CRC32C_HW
    static const bool hardware = __builtin_cpu_supports("sse4.2");
    if (hardware) return crc32c_extend_hardware(crc, p, bytes.size());
#endif
    return crc32c_extend_portable(crc, p, bytes.size());
}

/// The CRC-32C of bytes.
[[nodiscard]] inline std::uint32_t crc32c(std::string_view bytes) noexcept { return crc32c_extend(0, bytes); }

namespace crc32c_polynomials {

/// a times b modulo the CRC's polynomial, both in the reflected order of a CRC (bit 31
/// is the coefficient of x^0, bit 0 that of x^31).
[[nodiscard]] constexpr std::uint32_t multiply(std::uint32_t a, std::uint32_t b) noexcept {
    std::uint32_t product = 0;
    for (std::uint32_t term = 0x80000000u; term != 0; term >>= 1) {
        if ((a & term) != 0) product ^= b;
        b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1u)));  // b times x, reduced
    }
    return product;
}

/// x^(8 n) modulo the polynomial: what n bytes further on does to a CRC's register.
[[nodiscard]] constexpr std::uint32_t shift_by_bytes(std::uint64_t n) noexcept {
    std::uint32_t result = 0x80000000u;  // x^0
    std::uint32_t power = 0x00800000u;   // x^8
    for (; n != 0; n >>= 1) {
        if ((n & 1u) != 0) result = multiply(result, power);
        power = multiply(power, power);
    }
    return result;
}

}  // namespace crc32c_polynomials

/// The CRC-32C of the bytes of `first` followed by those of `second`, from the CRC of each
/// and the size of the second: for bytes whose start is known only after the rest was
/// checksummed (a hint's counts, written last at the head of its body).
[[nodiscard]] constexpr std::uint32_t crc32c_combine(std::uint32_t first, std::uint32_t second,
                                                     std::uint64_t second_size) noexcept {
    return crc32c_polynomials::multiply(crc32c_polynomials::shift_by_bytes(second_size), first) ^ second;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/crc32c.hpp ----
// ---- begin kvforge/detail/store_files.hpp ----
/// \file store_files.hpp
/// The names of the files kvforge writes in a store's directory, recognised in one place.
///
/// A store's directory holds only these: LOCK, MANIFEST, data-<generation>.kvlog,
/// data-<generation>.kvhint, dictionary-<generation>.zstd (the compression dictionaries a
/// store of kvforge::compressed<kvforge::zstd_trained<>> trains), deadlines (the deadline
/// index an expiring store writes at a clean close), and each name but LOCK
/// followed by .tmp while it is written. <generation> is ten decimal digits, 0000000001 to
/// 4294967295 (a dictionary's is its number). Anything else
/// in the directory is not kvforge's: a store is never opened among such entries, and
/// kvforge removes, renames and truncates only files whose names are recognised here
/// (store_directory's operations take a store_file_name, which only these functions make).

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace kvforge::detail {

/// The manifest's file name in a store's directory (its text: manifest.hpp).
inline constexpr std::string_view manifest_file_name = "MANIFEST";

/// The kinds of file in a store's directory.
enum class store_file_kind {
    lock,        ///< LOCK: holds no data; flock() on it marks the store as open
    manifest,    ///< MANIFEST: the store's composition, as text
    data,        ///< data-<generation>.kvlog: a header and the log of records
    hint,        ///< data-<generation>.kvhint: every live key with the place of its record
    dictionary,  ///< dictionary-<number>.zstd: a zstd dictionary trained from the store's values
    deadlines,   ///< deadlines: an expiring store's deadline index at its last clean close
};

/// The ten digits of a generation as a number, or nothing when they are not ten decimal
/// digits of a generation kvforge can write (1 to UINT32_MAX).
[[nodiscard]] constexpr std::optional<std::uint32_t> parse_generation(std::string_view digits) noexcept {
    if (digits.size() != 10) return std::nullopt;
    std::uint64_t value = 0;  // ten digits fit: at most 9,999,999,999
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value == 0 || value > UINT32_MAX) return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

/// The name of a file kvforge writes in a store's directory. Made only from the parts of
/// such a name, or by recognising one, so that a value of this type is always a name
/// of kvforge's own.
class store_file_name {
public:
    /// The lock file.
    [[nodiscard]] static store_file_name lock() { return {store_file_kind::lock, 0, false}; }
    /// The manifest.
    [[nodiscard]] static store_file_name manifest() { return {store_file_kind::manifest, 0, false}; }
    /// The data file of a generation.
    [[nodiscard]] static store_file_name data(std::uint32_t generation) {
        return {store_file_kind::data, generation, false};
    }
    /// The hint file of a generation.
    [[nodiscard]] static store_file_name hint(std::uint32_t generation) {
        return {store_file_kind::hint, generation, false};
    }

    /// The deadline index of an expiring store (expiry/deadline_file.hpp).
    [[nodiscard]] static store_file_name deadlines() { return {store_file_kind::deadlines, 0, false}; }

    /// The compression dictionary of a number (compression/zstd_trained.hpp).
    [[nodiscard]] static store_file_name dictionary(std::uint32_t number) {
        return {store_file_kind::dictionary, number, false};
    }

    /// The name of an entry of a store's directory, when kvforge writes files of that name.
    [[nodiscard]] static std::optional<store_file_name> recognise(std::string_view name) {
        constexpr std::string_view tmp = ".tmp";
        const bool temporary = name.size() > tmp.size() && name.substr(name.size() - tmp.size()) == tmp;
        const std::string_view base = temporary ? name.substr(0, name.size() - tmp.size()) : name;
        // Names without a generation.
        if (base == "LOCK") {
            if (temporary) return std::nullopt;
            return lock();
        }
        if (base == manifest_file_name) return store_file_name(store_file_kind::manifest, 0, temporary);
        if (base == "deadlines") return store_file_name(store_file_kind::deadlines, 0, temporary);
        // dictionary-<ten digits>.zstd
        constexpr std::string_view dictionary_prefix = "dictionary-";
        constexpr std::string_view dictionary_extension = ".zstd";
        if (base.size() == dictionary_prefix.size() + 10 + dictionary_extension.size() &&
            base.substr(0, dictionary_prefix.size()) == dictionary_prefix &&
            base.substr(dictionary_prefix.size() + 10) == dictionary_extension) {
            const std::optional<std::uint32_t> number = parse_generation(base.substr(dictionary_prefix.size(), 10));
            if (!number) return std::nullopt;
            return store_file_name(store_file_kind::dictionary, *number, temporary);
        }
        // data-<ten digits>.kvlog and data-<ten digits>.kvhint
        constexpr std::string_view prefix = "data-";
        if (base.size() < prefix.size() + 10 || base.substr(0, prefix.size()) != prefix) return std::nullopt;
        const std::optional<std::uint32_t> generation = parse_generation(base.substr(prefix.size(), 10));
        if (!generation) return std::nullopt;
        const std::string_view extension = base.substr(prefix.size() + 10);
        if (extension == ".kvlog") return store_file_name(store_file_kind::data, *generation, temporary);
        if (extension == ".kvhint") return store_file_name(store_file_kind::hint, *generation, temporary);
        return std::nullopt;
    }

    /// The name a file (any but LOCK) has while it is written, before it is renamed into place.
    [[nodiscard]] store_file_name temporary() const { return {kind_, generation_, true}; }

    [[nodiscard]] store_file_kind kind() const noexcept { return kind_; }
    /// The generation of a data or hint file, the number of a dictionary; 0 for LOCK, MANIFEST and deadlines.
    [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }
    /// Whether this is a .tmp name: a file being written, never read.
    [[nodiscard]] bool is_temporary() const noexcept { return temporary_; }
    [[nodiscard]] const std::string& str() const noexcept { return name_; }

    friend bool operator==(const store_file_name& a, const store_file_name& b) noexcept { return a.name_ == b.name_; }

private:
    store_file_name(store_file_kind kind, std::uint32_t generation, bool temporary)
        : kind_(kind), generation_(generation), temporary_(temporary) {
        if (kind == store_file_kind::lock) {
            name_ = "LOCK";
        } else if (kind == store_file_kind::manifest) {
            name_ = manifest_file_name;
        } else if (kind == store_file_kind::deadlines) {
            name_ = "deadlines";
        } else if (kind == store_file_kind::dictionary) {
            char name[32];
            std::snprintf(name, sizeof name, "dictionary-%010u.zstd", static_cast<unsigned>(generation));
            name_ = name;
        } else {
            char name[32];
            std::snprintf(name, sizeof name, "data-%010u.%s", static_cast<unsigned>(generation),
                          kind == store_file_kind::data ? "kvlog" : "kvhint");
            name_ = name;
        }
        if (temporary) name_ += ".tmp";
    }

    store_file_kind kind_;
    std::uint32_t generation_;
    bool temporary_;
    std::string name_;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/store_files.hpp ----

namespace kvforge {

namespace detail {

/// The manifest's fields in file order: each line's name and the member it fills.
/// A field is added with one line here (and, if it binds, one in first_binding_difference).
struct manifest_field {
    std::string_view name;
    std::string composition::*text = nullptr;   ///< for text fields
    bool numeric = false;                       ///< format (decimal) or codec_fingerprint (hex)
};

inline constexpr std::string_view manifest_magic = "kvforge-manifest 1";

inline constexpr manifest_field manifest_fields[] = {
    {"format", nullptr, true},
    {"store", &composition::store},
    {"index", &composition::index},
    {"durability", &composition::durability},
    {"key_codec", &composition::key_codec},
    {"value_codec", &composition::value_codec},
    {"codec_fingerprint", nullptr, true},
    {"expiry", &composition::expiry},
    {"compression", &composition::compression},
};

/// Whether a value can stand in a manifest line: not empty, no spaces, newlines or
/// control bytes (codec names are the users', so this is checked, not assumed).
[[nodiscard]] inline bool manifest_value_ok(std::string_view value) noexcept {
    if (value.empty()) return false;
    for (const char c : value) {
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
    }
    return true;
}

/// The text of a manifest for c; empty when one of its names cannot stand in a line.
[[nodiscard]] inline std::string format_manifest(const composition& c) {
    std::string text(manifest_magic);
    text += '\n';
    for (const manifest_field& field : manifest_fields) {
        std::string value;
        if (field.text != nullptr) {
            value = c.*field.text;
        } else if (field.name == "format") {
            value = std::to_string(c.format);
        } else {
            char hex[17];
            std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(c.codec_fingerprint));
            value = hex;
        }
        if (!manifest_value_ok(value)) return {};
        text.append(field.name).append(1, ' ').append(value).append(1, '\n');
    }
    char crc[24];
    std::snprintf(crc, sizeof crc, "crc32c %08x\n", static_cast<unsigned>(crc32c(text)));
    return text + crc;
}

/// Parses a number of the given base that fills all of text; false otherwise.
[[nodiscard]] inline bool parse_manifest_number(std::string_view text, int base, std::uint64_t& out) noexcept {
    if (text.empty() || text.size() > 20) return false;
    std::uint64_t value = 0;
    for (const char c : text) {
        unsigned digit = 0;
        if (c >= '0' && c <= '9') {
            digit = static_cast<unsigned>(c - '0');
        } else if (base == 16 && c >= 'a' && c <= 'f') {
            digit = static_cast<unsigned>(c - 'a' + 10);
        } else {
            return false;
        }
        if (value > (~std::uint64_t{0} - digit) / static_cast<unsigned>(base)) return false;
        value = value * static_cast<unsigned>(base) + digit;
    }
    out = value;
    return true;
}

/// Reads a manifest's text into out; on failure returns false and says in problem what is
/// wrong (the caller adds the file's name).
[[nodiscard]] inline bool parse_manifest(std::string_view text, composition& out, std::string& problem) {
    const std::size_t crc_line = text.rfind("crc32c ", text.size() < 2 ? 0 : text.size() - 2);
    std::uint64_t stored_crc = 0;
    if (crc_line == std::string_view::npos || (crc_line != 0 && text[crc_line - 1] != '\n') ||
        text.size() != crc_line + 16 || text.back() != '\n' ||
        !parse_manifest_number(text.substr(crc_line + 7, 8), 16, stored_crc)) {
        problem = "does not end in a crc32c line; the file is cut short or is not a kvforge manifest";
        return false;
    }
    if (stored_crc != crc32c(text.substr(0, crc_line))) {
        problem = "fails its checksum";
        return false;
    }
    std::string_view rest = text.substr(0, crc_line);
    auto next_line = [&rest]() {
        const std::size_t end = rest.find('\n');
        const std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        return line;
    };
    if (next_line() != manifest_magic) {
        problem = "does not start with '" + std::string(manifest_magic) +
                  "'; it was written by a newer kvforge, or is not a kvforge manifest";
        return false;
    }
    composition parsed;
    for (const manifest_field& field : manifest_fields) {
        const std::string_view line = next_line();
        const std::size_t space = line.find(' ');
        const std::string_view name = line.substr(0, space);
        const std::string_view value = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        if (name != field.name || !manifest_value_ok(value)) {
            problem = "has '" + std::string(line) + "' where the field '" + std::string(field.name) +
                      "' should be; it was written by another kvforge version";
            return false;
        }
        if (field.text != nullptr) {
            parsed.*field.text = std::string(value);
            continue;
        }
        std::uint64_t number = 0;
        const bool is_format = field.name == "format";
        if (!parse_manifest_number(value, is_format ? 10 : 16, number) || (is_format && number > 0xffffffffU)) {
            problem = "has a malformed " + std::string(field.name) + " '" + std::string(value) + "'";
            return false;
        }
        if (is_format) {
            parsed.format = static_cast<std::uint32_t>(number);
        } else {
            parsed.codec_fingerprint = number;
        }
    }
    if (!rest.empty()) {
        problem = "has fields this kvforge does not know ('" + std::string(next_line()) +
                  "'); it was written by a newer kvforge";
        return false;
    }
    out = std::move(parsed);
    return true;
}

/// The first field that binds the bytes on disk in which `on_disk` and `opening` differ,
/// described with both sides ("value codec: written with 'bytes', opened with
/// 'uint64.be'"); empty when `opening` can read what `on_disk` wrote.
[[nodiscard]] inline std::string first_binding_difference(const composition& on_disk, const composition& opening) {
    auto both = [](std::string_view what, const std::string& written, const std::string& opened) {
        return std::string(what) + ": written with '" + written + "', opened with '" + opened + "'";
    };
    if (on_disk.key_codec != opening.key_codec) return both("key codec", on_disk.key_codec, opening.key_codec);
    if (on_disk.value_codec != opening.value_codec) {
        return both("value codec", on_disk.value_codec, opening.value_codec);
    }
    if (on_disk.codec_fingerprint != opening.codec_fingerprint) {
        return "codec fingerprint: the codec names agree but the fingerprints differ";
    }
    if (on_disk.expiry != opening.expiry) return both("expiry", on_disk.expiry, opening.expiry);
    if (on_disk.compression != opening.compression) {
        return both("compression", on_disk.compression, opening.compression);
    }
    return {};
}

/// What to do about the first binding difference between `on_disk` and `opening`: open
/// with the types, the expiry or the compression the store was written with.
[[nodiscard]] inline std::string binding_remedy(const composition& on_disk, const composition& opening) {
    if (on_disk.key_codec != opening.key_codec || on_disk.value_codec != opening.value_codec ||
        on_disk.codec_fingerprint != opening.codec_fingerprint) {
        return "open the store with the key and value types it was written with";
    }
    if (on_disk.expiry != opening.expiry) {
        return on_disk.expiry == "none" ? "open the store without kvforge::expiring<>"
                                        : "open the store with kvforge::expiring<> of the clock it names";
    }
    return on_disk.compression == "none" ? "open the store without kvforge::compressed<>"
                                         : "open the store with kvforge::compressed<Codec> of a codec whose name is '" +
                                               on_disk.compression + "'";
}

}  // namespace detail

}  // namespace kvforge
// ---- end kvforge/manifest.hpp ----
// ---- begin kvforge/options.hpp ----
/// \file options.hpp
/// kvforge::options: run-time settings of a store, given when it is opened or built.

#include <cstdint>

// ---- begin kvforge/backup_options.hpp ----
/// \file backup_options.hpp
/// kvforge::backup_options: how store::backup() and any_store::backup() make their copy.
/// A header of its own, so that any_store.hpp takes it without the opening options.

namespace kvforge {

/// How store::backup() makes its copy.
struct backup_options {
    /// false (the default): every file is copied, as a reflink (ioctl FICLONE) where the file
    /// system offers one, else byte by byte, so that the backup survives damage to the
    /// store's files. true: the store's closed segments, their hints and its compression
    /// dictionaries are hard links in the backup (where the file system allows them), which
    /// costs no time or space but shares their bytes: a byte damaged in place (a bad
    /// sector, a tool that writes into a file) is damaged in both, and the backup is no
    /// help against it. kvforge itself never writes into a closed segment, so links stay
    /// correct against everything kvforge does.
    bool link_files = false;
};

}  // namespace kvforge
// ---- end kvforge/backup_options.hpp ----

namespace kvforge {

/// Settings of a store. The defaults suit most uses; each field says which stores read it.
struct options {
    /// Automatic compaction starts after a write once dead bytes (replaced and erased
    /// records) exceed this share of the segments' bytes; 0 turns it off (compact() still
    /// works). Lower keeps the files closer to the live bytes and rewrites more: at 0.3,
    /// an overwrite workload keeps its files within about 1.5x the live bytes and writes
    /// about 2.7x the bytes it put.
    double compact_dead_ratio = 0.3;
    /// ...and the segments hold at least this many bytes, so small stores are left alone.
    std::uint64_t compact_min_bytes = std::uint64_t{4} << 20;
    /// With single_thread, an automatic compaction job runs in steps, one after a write,
    /// each reading and writing about this many bytes (a record larger than this is one
    /// step), rather than the whole job after one write; ending each new segment (its
    /// sync and hint), publishing them and each chunk of 4096 index entries moved to
    /// them are steps of their own (each scan step sorts what it read, and copying
    /// merges those runs, so that no step sorts the whole job). 0: the whole job after
    /// one write. With thread_safe, jobs run on the store's compaction thread, which
    /// writers only signal: it reads and writes in chunks of this many bytes (0: the
    /// default) with no lock held, and between chunks gives way to compact(), clear()
    /// and close().
    std::uint64_t compaction_step_bytes = std::uint64_t{1} << 20;
    /// With thread_safe, a write waits for the compaction thread, once its record is
    /// written, while dead bytes exceed this many times the live bytes (keys and values),
    /// until the thread has reclaimed enough or has nothing left to do: a burst of writes
    /// then cannot leave compaction arbitrarily far behind. At 1, the files stay within
    /// about twice the live bytes however fast the writes come. 0: writes never wait.
    double compaction_stall_ratio = 1.0;
    /// ...but each write waits at most this many microseconds, so that a burst of
    /// writes is slowed down to the thread's pace rather than stopped until a whole job
    /// ends (hundreds of milliseconds on a store of a million records). 2 ms keeps every
    /// put within a few milliseconds and still holds a writer over the ceiling to some
    /// hundreds of writes a second, well below what the thread reclaims, so the files
    /// stay as close to the live bytes as with no bound. Larger trades the longest put
    /// for space; std::uint64_t's max waits as long as the thread makes progress. 0:
    /// writes never wait.
    std::uint64_t compaction_stall_micros = 2000;
    /// file_log, mmap_file with sorted_index: automatic compaction also rewrites, in key
    /// order, each closed segment whose records are not in key order (once, dead bytes
    /// or not), so that a scan of a store filled in random order reads a few sorted runs
    /// in sequence rather than a different page per record. A segment filled in key
    /// order is only read, not rewritten. It runs as the rest of automatic compaction
    /// does (thread_safe: on the compaction thread after a segment closes; single_thread:
    /// in steps after writes), and close() ends the job under way, then closes the active
    /// segment too when it holds a sixteenth of segment_bytes or more and sorts the
    /// segments left unsorted, so that the next open scans sorted runs only: at most as
    /// many as this open closed, so that close() does work in proportion to what the open
    /// wrote (those of a store written with sorting off are left to the jobs). It is off
    /// when compact_dead_ratio is 0 or the store holds less than
    /// compact_min_bytes; it waits while dead bytes exceed half of compact_dead_ratio of
    /// the data (the jobs that reclaim them write in key order too). It costs a second
    /// write of each record of a closed segment (a random-order fill writes about twice
    /// its bytes) and the CPU to rewrite it: a job walks the index in key order for the
    /// segment's records rather than sort them, copies each record as it is, and moves
    /// the index entries by a second walk, so that a fill of 300,000 or 1,000,000
    /// records in random order takes about 1.5 times the CPU it takes with sorting off.
    /// Off, only dead bytes make segments rewritten; compact() still writes everything
    /// in key order. A hash_index store never sorts.
    bool sort_closed_segments = true;
    /// file_log, mmap_file: a write that finds the active segment (the data file records
    /// are appended to) holding this many bytes or more first closes it, never to be
    /// written again, and starts a new one. Compaction rewrites closed segments, so
    /// smaller segments make its steps shorter; each closing costs a few syncs. From
    /// 64 KiB to a little under 4 GiB (else errc::invalid_argument at open).
    std::uint64_t segment_bytes = std::uint64_t{32} << 20;
    /// Write a hint file (each key with its record's place) at close and compaction, so
    /// that reopening reads the keys without reading the values.
    bool write_hints = true;
    /// Open a store whose log is damaged before its tail: read the whole log (a hint file
    /// is not trusted then), keep every intact record, drop the damaged ones, and rewrite
    /// the log without them (a read-only open only leaves them out). Without it such a
    /// store fails to open with errc::corrupt_record. If the rewrite fails, so does the
    /// open, and the store is left closed.
    bool salvage = false;
    /// Create the store when the directory is missing or empty (its parent must exist);
    /// false: such an open fails with errc::store_not_found and creates nothing.
    bool create_if_missing = true;
    /// Fail with errc::store_exists, changing nothing, when the directory already holds a store.
    bool error_if_exists = false;
    /// Open for reading only, under a shared lock: any number of read-only opens, in any
    /// processes, may share a store, while an open for writing is refused (and refuses
    /// them) with errc::store_locked. A read-only store changes no file at all (it creates
    /// no directory or LOCK, cuts no torn tail, removes no leftover, writes no hint), and
    /// every write, clear and compact fails with errc::read_only; flush and sync do nothing.
    bool read_only = false;
    /// Bytes a kvforge::bounded memory store may hold, everything counted (keys, values,
    /// index, eviction metadata); it evicts to stay within them. Required by bounded
    /// stores: 0, or less than the store's fixed part, is errc::invalid_argument.
    std::uint64_t memory_budget = 0;
    /// Bytes of values a kvforge::read_cache keeps in memory in front of a persistent
    /// store, counted as memory_budget is; 0 is errc::invalid_argument.
    std::uint64_t cache_budget = std::uint64_t{64} << 20;
    /// A kvforge::compressed store keeps values shorter than this as they are, behind
    /// its one flag byte: below some tens of bytes a codec's own framing outweighs what
    /// it saves, and the call costs more than the copy. Longer values are compressed,
    /// and kept as they are too when that does not make them shorter.
    std::uint64_t compress_min_bytes = 64;
};

}  // namespace kvforge
// ---- end kvforge/options.hpp ----
// ---- begin kvforge/pinned_value.hpp ----
/// \file pinned_value.hpp
/// kvforge::pinned_value: the bytes of a stored value, read without copying, that stay
/// valid for as long as the pinned_value lives.

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

namespace kvforge {

/// A view of a value's stored bytes together with what keeps them alive: for an
/// mmap_file store, the mapping they lie in. The store may grow, compact or close
/// meanwhile; the bytes stay readable and unchanged until this object is destroyed.
/// Holding one keeps its mapping (and the file's old space, after compaction) in use.
class pinned_value {
public:
    pinned_value() = default;
    pinned_value(std::shared_ptr<const void> owner, std::string_view bytes) noexcept
        : owner_(std::move(owner)), bytes_(bytes) {}

    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }
    [[nodiscard]] const char* data() const noexcept { return bytes_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    operator std::string_view() const noexcept { return bytes_; }
    /// Drops the first n bytes from the view (n at most size()); what keeps them alive stays.
    void remove_prefix(std::size_t n) noexcept { bytes_.remove_prefix(n); }

private:
    std::shared_ptr<const void> owner_;
    std::string_view bytes_;
};

}  // namespace kvforge
// ---- end kvforge/pinned_value.hpp ----
// ---- begin kvforge/stats.hpp ----
/// \file stats.hpp
/// What a store reports about itself: kvforge::stats and kvforge::verify_report.

#include <cstdint>
#include <string>
#include <vector>

namespace kvforge {

/// A snapshot of a store's size and activity. Fields that do not apply to a store
/// policy (disk figures for memory) are zero.
struct stats {
    std::uint64_t live_keys = 0;     ///< keys present
    std::uint64_t live_bytes = 0;    ///< encoded bytes of the present keys and values
    std::uint64_t dead_bytes = 0;    ///< bytes of replaced or erased records not yet compacted away
    std::uint64_t disk_bytes = 0;    ///< bytes of the store's segments and hint files
    std::uint64_t memory_bytes = 0;  ///< heap bytes held in memory: the index, and a cache's values and metadata
    std::uint64_t segments = 0;      ///< data files (segments) of an open log-structured store, the active one included
    /// Bytes of the segments mapped for reads: address space, not heap; the pages are
    /// the OS's page cache, shared with every other reader of the files. file_log maps
    /// its closed segments (and what the active one held at the open), mmap_file every
    /// segment with room to grow.
    std::uint64_t mapped_bytes = 0;

    std::uint64_t puts = 0;         ///< keys written, counting each put of a batch
    std::uint64_t gets = 0;         ///< point lookups (get, visit, contains)
    std::uint64_t erases = 0;       ///< erases that removed a key, counting each of a batch
    std::uint64_t batches = 0;      ///< batches written
    std::uint64_t syncs = 0;        ///< fdatasync/fsync calls made
    /// Bytes written to the store's files since it was opened: records appended to the
    /// log (once they reach the file: buffered bytes count when flushed), file headers,
    /// compaction's output, hint files and the MANIFEST. Against the bytes of the keys
    /// and values put, it gives the write amplification.
    std::uint64_t bytes_written = 0;
    std::uint64_t compactions = 0;  ///< compactions completed
    /// Compactions that failed, automatic or explicit. An automatic one that fails does
    /// not fail the write that started it; it is tried again once the segments have grown
    /// by as much as it held (at least options::compact_min_bytes).
    std::uint64_t compaction_failures = 0;
    std::string last_compaction_error;  ///< why the last compaction failed; empty once one succeeds
    /// Bytes of damaged records that compaction dropped with the segments it retired:
    /// records that were no key's newest (dead), so no value was lost. Damage to a live
    /// record fails the compaction instead.
    std::uint64_t damaged_bytes_dropped = 0;

    std::uint64_t hits = 0;       ///< reads of a value a cache held (bounded, read_cache)
    std::uint64_t misses = 0;     ///< reads of a value a cache did not hold
    std::uint64_t evictions = 0;  ///< entries a cache dropped to stay within its budget

    std::uint64_t recovered_records = 0;  ///< records read back at the last open
    std::uint64_t recovered_bytes_cut = 0;  ///< bytes of torn tail cut off at the last open
};

/// One record verify() found damaged.
struct damaged_record {
    std::string file;          ///< the file holding it
    std::uint64_t offset = 0;  ///< where the record starts in that file
    std::string problem;       ///< what is wrong, e.g. "checksum mismatch"
};

/// The result of store::verify(): every record read and checked, nothing changed.
struct verify_report {
    std::uint64_t records_checked = 0;
    std::vector<damaged_record> damaged;

    /// True when no damage was found.
    [[nodiscard]] bool ok() const noexcept { return damaged.empty(); }
};

}  // namespace kvforge
// ---- end kvforge/stats.hpp ----
// ---- begin kvforge/expiry/deadline_file.hpp ----
/// \file deadline_file.hpp
/// The deadlines file: an expiring store's deadline index, written at a clean close so
/// that the next open rebuilds the index without reading a value.
///
/// Layout, integers little-endian (docs/format.md):
///
///     magic "KVFDLINE", u32 format version (1),
///     u64 keys the store held at the close (expired or not),
///     u32 data file count, and for each data file (by generation): u32 generation,
///     u64 size, u64 inode, u64 modification time in nanoseconds,
///     u64 entry count,
///     entries in ascending order, each an index key (the deadline as 8 big-endian
///     bytes with the sign bit flipped, then the key) as a varint of the bytes it shares
///     with the previous entry, a varint of the length of the rest, and the rest,
///     u32 CRC-32C of every byte before it.
///
/// A writable open takes the file and removes it before the store can change, so a file
/// that exists describes the store as its last clean close left it. The data files it
/// names bind it to that state besides: a file whose data files are not the directory's
/// (another store's, or one that a close raced with a writer) is not used, nor one that
/// is damaged, of another version or for another number of keys: the open then reads the
/// deadlines from the stored values instead.

#include <fcntl.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- begin kvforge/detail/std_function.hpp ----
/// \file std_function.hpp
/// std::function, for headers that need it and nothing more of <functional>.
///
/// With libstdc++ in C++20, <functional> also brings std::bind, the searchers and with them
/// <unordered_map> and <array>, which a store's headers otherwise do without. libstdc++
/// keeps std::function alone in <bits/std_function.h> (from GCC 5), which <functional>
/// itself includes; other standard libraries get <functional>.

#include <cstddef>  // defines __GLIBCXX__ under libstdc++

#if defined(__GLIBCXX__) && __has_include(<bits/std_function.h>)
#include <bits/std_function.h>
#else
#include <functional>
#endif
// ---- end kvforge/detail/std_function.hpp ----
// ---- begin kvforge/detail/store_directory.hpp ----
/// \file store_directory.hpp
/// The directory that holds a persistent store: checked to be a store's (it has a
/// MANIFEST) or to hold only kvforge's files, created on first open when allowed, locked (exclusively for writing, shared for
/// reading) for as long as the store is open, and fsynced whenever a file in it appears,
/// is renamed or disappears.
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
#include <vector>


namespace kvforge::detail {

/// What opening a store's directory may do and must find.
struct directory_mode {
    bool create = true;          ///< create the directory when it is missing
    bool require_store = false;  ///< refuse (store_not_found) a directory without a data file
    bool refuse_store = false;   ///< refuse (store_exists) a directory with a data file
    bool shared = false;         ///< take the lock shared (readers) rather than exclusive (a writer)
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
    /// checked; then the lock is taken, creating LOCK unless mode.shared.
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
            return lock(mode.shared, ec);
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
        return lock(mode.shared, ec);
    }

    /// Releases the lock.
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

    /// Whether names hold a data file (a store's, not one half written).
    static bool holds_data(const std::vector<store_file_name>& names) {
        return std::any_of(names.begin(), names.end(), [](const store_file_name& name) {
            return name.kind() == store_file_kind::data && !name.is_temporary();
        });
    }

private:
    /// Takes the lock on LOCK: exclusive for a writer, shared for readers, never waiting.
    bool lock(bool shared, std::error_code& ec) {
        const store_file_name name = store_file_name::lock();
        // A reader creates nothing: without a LOCK file it cannot keep writers out.
        if (!lock_.open(*io_, file_path(name), shared ? O_RDONLY : O_RDWR | O_CREAT, ec)) {
            if (shared && ec == std::errc::no_such_file_or_directory) {
                fail_errno(ec, ENOENT,
                           "open " + file_path(name) +
                               " (a read-only open creates no file; open the store once for writing to make it)");
            }
            return false;
        }
        if (retry_on_eintr([&] { return io_->flock(lock_.descriptor(), (shared ? LOCK_SH : LOCK_EX) | LOCK_NB); }) !=
            0) {
            const int error = errno;
            if (error == EWOULDBLOCK) {
                fail(ec, errc::store_locked,
                     shared ? path_ + " is already open for writing, in this process or another; close it there first"
                            : path_ +
                                  " is already open, in this process or another (for writing or reading); close it "
                                  "there first");
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
                 "kvforge's files: LOCK, MANIFEST, data-*.kvlog, data-*.kvhint, dictionary-*.zstd, deadlines and "
                 "their .tmp); nothing was changed. Give kvforge a directory of its own, or move '" +
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
// ---- end kvforge/detail/store_directory.hpp ----

namespace kvforge::detail {

inline constexpr std::string_view deadline_file_magic = "KVFDLINE";
inline constexpr std::uint32_t deadline_file_version = 1;
/// Magic, version and key count; the data files and the entry count follow.
inline constexpr std::size_t deadline_file_header_size = 8 + 4 + 8;

/// The data files of a store directory as the deadlines file records them: for each, by
/// generation, its generation, size, inode and modification time. Any write to the store
/// changes one of them; a copy of the directory changes the inodes.
template <class IO>
bool describe_data_files(IO& io, const std::string& directory, std::string& out) {
    std::vector<std::string> entries;
    if (io.list_directory(directory.c_str(), entries) != 0) return false;
    std::vector<std::uint32_t> generations;
    for (const std::string& entry : entries) {
        const std::optional<store_file_name> name = store_file_name::recognise(entry);
        if (name && name->kind() == store_file_kind::data && !name->is_temporary()) {
            generations.push_back(name->generation());
        }
    }
    std::sort(generations.begin(), generations.end());
    out.clear();
    const auto put = [&](auto value) {
        char raw[sizeof value];
        store_unaligned(raw, to_little_endian(value));
        out.append(raw, sizeof raw);
    };
    put(static_cast<std::uint32_t>(generations.size()));
    for (const std::uint32_t generation : generations) {
        struct stat info {};
        const std::string path = directory + "/" + store_file_name::data(generation).str();
        if (io.stat(path.c_str(), &info) != 0) return false;
        put(generation);
        put(static_cast<std::uint64_t>(info.st_size));
        put(static_cast<std::uint64_t>(info.st_ino));
        put(static_cast<std::uint64_t>(info.st_mtim.tv_sec) * 1'000'000'000 +
            static_cast<std::uint64_t>(info.st_mtim.tv_nsec));
    }
    return true;
}

/// The bytes of the deadlines file for index, the deadline index of a store of
/// stored_keys keys whose data files describe_data_files() described as data_files.
[[nodiscard]] inline std::string encode_deadline_file(const btree_table& index, std::uint64_t stored_keys,
                                                      std::string_view data_files) {
    std::string bytes;
    const auto put = [&](auto value) {
        char raw[sizeof value];
        store_unaligned(raw, to_little_endian(value));
        bytes.append(raw, sizeof raw);
    };
    const auto put_length = [&](std::size_t value) {
        char raw[max_varint_size];
        bytes.append(raw, static_cast<std::size_t>(put_varint(raw, value) - raw));
    };
    bytes.append(deadline_file_magic);
    put(deadline_file_version);
    put(std::uint64_t{stored_keys});
    bytes.append(data_files);
    put(std::uint64_t{index.size()});
    std::string_view previous;  // a view into index's records, which stay where they are
    index.for_each([&](std::string_view entry, std::string_view) {
        std::size_t shared = 0;
        const std::size_t most = std::min(previous.size(), entry.size());
        while (shared < most && previous[shared] == entry[shared]) ++shared;
        put_length(shared);
        put_length(entry.size() - shared);
        bytes.append(entry.substr(shared));
        previous = entry;
    });
    put(crc32c(bytes));
    return bytes;
}

/// Builds index (empty) from the bytes of a deadlines file, checked whole first: false,
/// with index left empty, when they are not a deadlines file of this version whose
/// checksum holds, with ascending entries, for a store of stored_keys keys and these data_files.
inline bool load_deadline_file(std::string_view bytes, std::uint64_t stored_keys, std::string_view data_files,
                               btree_table& index) {
    if (bytes.size() < deadline_file_header_size + 4 || bytes.substr(0, 8) != deadline_file_magic) return false;
    const std::size_t body = bytes.size() - 4;
    if (to_little_endian(load_unaligned<std::uint32_t>(bytes.data() + body)) != crc32c(bytes.substr(0, body))) {
        return false;
    }
    if (to_little_endian(load_unaligned<std::uint32_t>(bytes.data() + 8)) != deadline_file_version ||
        to_little_endian(load_unaligned<std::uint64_t>(bytes.data() + 12)) != stored_keys ||
        body - deadline_file_header_size < data_files.size() + 8 ||
        bytes.substr(deadline_file_header_size, data_files.size()) != data_files) {
        return false;
    }
    const char* p = bytes.data() + deadline_file_header_size + data_files.size();
    const char* const end = bytes.data() + body;
    const std::uint64_t count = to_little_endian(load_unaligned<std::uint64_t>(p));
    p += 8;
    std::string entry;  // the previous entry, then this one
    std::uint64_t loaded = 0;
    bool damaged = false;
    index.assign_sorted([&](std::string_view& key, std::string_view& payload) {
        if (loaded == count) return false;
        std::uint64_t shared = 0;
        std::uint64_t rest = 0;
        if ((p = get_varint(p, end, shared)) == nullptr || (p = get_varint(p, end, rest)) == nullptr ||
            shared > entry.size() || rest > static_cast<std::uint64_t>(end - p)) {
            damaged = true;
            return false;
        }
        // Entries ascend: this one differs from the previous where the shared bytes end,
        // with a greater byte, or goes on past its end.
        const bool ascends =
            loaded == 0 || (rest != 0 && (shared == entry.size() ||
                                          static_cast<unsigned char>(*p) > static_cast<unsigned char>(entry[shared])));
        entry.resize(static_cast<std::size_t>(shared));
        entry.append(p, static_cast<std::size_t>(rest));
        p += rest;
        if (!ascends || entry.size() < 8) {  // an entry is a deadline and a key
            damaged = true;
            return false;
        }
        key = entry;
        payload = {};
        ++loaded;
        return true;
    });
    if (!damaged && p == end) return true;
    index.clear();
    return false;
}

/// The path of the deadlines file (or its .tmp) in the store directory `directory`.
[[nodiscard]] inline std::string deadline_file_path(const std::string& directory, bool temporary = false) {
    const store_file_name name = store_file_name::deadlines();
    return directory + "/" + (temporary ? name.temporary() : name).str();
}

/// Reads the whole deadlines file of the store in directory into bytes; false when there
/// is none or it cannot be read, which only means the index is rebuilt another way.
template <class IO>
bool read_deadline_file(IO& io, const std::string& directory, std::string& bytes) {
    data_file<IO> file;
    std::error_code ec;
    std::uint64_t size = 0;
    if (!file.open(io, deadline_file_path(directory), O_RDONLY, ec) || !file.size(size, ec)) return false;
    bytes.resize(static_cast<std::size_t>(size));
    return file.read(0, bytes.data(), bytes.size(), ec);
}

/// Writes the deadlines file as the store's other files are written: to its .tmp name,
/// synced, renamed into place, and the directory synced. On failure the .tmp is removed.
template <class IO>
bool write_deadline_file(IO& io, const std::string& directory, std::string_view bytes, std::error_code& ec) {
    const std::string temporary = deadline_file_path(directory, true);
    const std::string final_path = deadline_file_path(directory);
    bool written = false;
    {
        data_file<IO> file;
        written =
            file.open(io, temporary, O_WRONLY | O_CREAT | O_TRUNC, ec) && file.write(0, bytes, ec) && file.sync(ec);
    }
    if (written && retry_on_eintr([&] { return io.rename(temporary.c_str(), final_path.c_str()); }) != 0) {
        fail_errno(ec, errno, "rename " + temporary + " to " + final_path);
        written = false;
    }
    if (!written) {
        io.unlink(temporary.c_str());
        return false;
    }
    return sync_directory(io, directory, ec);
}

/// Removes the deadlines file, when there is one, and syncs the directory, so that no
/// crash can bring the file back once the store has changed.
template <class IO>
bool remove_deadline_file(IO& io, const std::string& directory, std::error_code& ec) {
    const std::string path = deadline_file_path(directory);
    if (retry_on_eintr([&] { return io.unlink(path.c_str()); }) != 0) {
        if (errno == ENOENT) return true;
        fail_errno(ec, errno, "remove " + path);
        return false;
    }
    return sync_directory(io, directory, ec);
}

/// The deadlines file of an open writable store, reached through the store's I/O policy,
/// which this holds behind functions so that its owner need not be a template of it.
class deadline_file_access {
public:
    deadline_file_access() = default;
    template <class IO>
    deadline_file_access(IO io, std::string directory)
        : write_([io, directory](std::string_view bytes) mutable {
              std::error_code ignored;
              return write_deadline_file(io, directory, bytes, ignored);
          }),
          remove_([io, directory]() mutable {
              std::error_code ignored;
              try {
                  remove_deadline_file(io, directory, ignored);
              } catch (const std::bad_alloc&) {
                  // Left in place, a file that does not fit the data files is not used.
              }
          }),
          describe_(
              [io, directory](std::string& out) mutable { return detail::describe_data_files(io, directory, out); }) {}

    /// Whether there is a file to write (the store is open for writing).
    explicit operator bool() const noexcept { return static_cast<bool>(write_); }
    /// Writes the file; false when it could not be written (then there is none).
    bool write(std::string_view bytes) const { return write_(bytes); }
    /// Removes the file, if it can.
    void remove() const noexcept { remove_(); }
    /// describe_data_files() of the store's directory.
    bool describe_data_files(std::string& out) const { return describe_(out); }

private:
    std::function<bool(std::string_view)> write_;
    std::function<void()> remove_;
    std::function<bool(std::string&)> describe_;
};

}  // namespace kvforge::detail
// ---- end kvforge/expiry/deadline_file.hpp ----

namespace kvforge {

namespace detail {

/// The shape of callable an inner backend's read_many() calls: (index of the key, stored bytes).
struct indexed_stored_visitor {
    void operator()(std::size_t, std::string_view) const noexcept {}
};

/// The header an expiring store keeps in front of each value: a tag, then the deadline
/// when the tag says there is one.
struct deadline_header {
    static constexpr char no_deadline = 0;
    static constexpr char has_deadline = 1;
    /// Bytes of the header of a value with a deadline (the tag and an i64).
    static constexpr std::size_t with_deadline_size = 1 + 8;

    /// Whether value leaves room for the longest header within kvforge::max_value_size,
    /// which bounds what a file store's records hold (and reads back); else reports
    /// errc::value_too_large through ec. One limit whether or not the value has a
    /// deadline, so that a value that was stored can always be given one.
    static bool fits(std::string_view value, std::error_code& ec) {
        if (value.size() <= max_value_size - with_deadline_size) return true;
        fail(ec, errc::value_too_large,
             "value of " + std::to_string(value.size()) + " bytes is longer than an expiring store takes, " +
                 std::to_string(max_value_size - with_deadline_size) + " bytes (kvforge::max_value_size less the " +
                 std::to_string(with_deadline_size) + "-byte expiry header); nothing was written");
        return false;
    }

    /// The stored bytes of value with this deadline (or none), built in scratch.
    static std::string_view wrap(std::string_view value, std::optional<std::int64_t> deadline, std::string& scratch) {
        scratch.clear();
        if (deadline) {
            char header[with_deadline_size];
            header[0] = has_deadline;
            store_unaligned(header + 1, to_little_endian(static_cast<std::uint64_t>(*deadline)));
            scratch.append(header, sizeof header);
        } else {
            scratch.push_back(no_deadline);
        }
        scratch.append(value);
        return scratch;
    }

    /// The deadline stored in front of a value, if it has one.
    [[nodiscard]] static std::optional<std::int64_t> deadline_of(std::string_view stored) noexcept {
        if (stored.size() < with_deadline_size || stored[0] != has_deadline) return std::nullopt;
        return static_cast<std::int64_t>(to_little_endian(load_unaligned<std::uint64_t>(stored.data() + 1)));
    }

    /// The value bytes after the header.
    [[nodiscard]] static std::string_view value_of(std::string_view stored) noexcept {
        if (stored.empty()) return stored;
        return stored.substr(stored[0] == has_deadline && stored.size() >= with_deadline_size ? with_deadline_size : 1);
    }

    /// The deadline index's key for key under deadline: the deadline with its sign bit
    /// flipped, big-endian, so that memcmp order is time order, then the key.
    [[nodiscard]] static std::string index_key(std::int64_t deadline, std::string_view key) {
        std::string out(8, '\0');
        store_unaligned(out.data(), to_big_endian(static_cast<std::uint64_t>(deadline) ^ (std::uint64_t{1} << 63)));
        out.append(key);
        return out;
    }

    /// The deadline at the start of a deadline index key.
    [[nodiscard]] static std::int64_t index_deadline(std::string_view index_key) noexcept {
        return static_cast<std::int64_t>(load_prefix_be(index_key.data(), 8) ^ (std::uint64_t{1} << 63));
    }
};

/// The reads of an expiring store, written once for the store and its snapshots: Inner's
/// values behind their deadline_header, a key whose deadline has come treated as absent,
/// judged by Clock when it is read. Inner is the store's inner backend, or its snapshot:
/// an expiring store's snapshot is this layer over the inner snapshot, so a key of a
/// snapshot may expire while the snapshot lives, as it would in the store.
template <class Clock, class Inner>
class expiring_reads {
public:
    static constexpr bool sequenced = Inner::sequenced;

    expiring_reads() = default;
    /// The layer over inner: how a snapshot reads, over Inner's snapshot.
    explicit expiring_reads(Inner inner) noexcept(std::is_nothrow_move_constructible_v<Inner>)
        : inner_(std::move(inner)) {}

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        bool live = false;
        inner_.read(key, [&](std::string_view stored) {
            if (!alive(stored)) return;
            live = true;
            on_value(deadline_header::value_of(stored));
        }, ec);
        return live;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
    }

    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.read_many(keys, indexed_stored_visitor{}, ec); }
    {
        inner_.read_many(keys, [&](std::size_t i, std::string_view stored) {
            if (alive(stored)) on_value(i, deadline_header::value_of(stored));
        }, ec);
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        return read(key, [](std::string_view) {}, ec);
    }

    /// Inner's pinned view of key's stored bytes, narrowed to the value behind the header.
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const
        requires requires(const Inner& inner, pinned_value& pinned) { inner.read_pinned(key, pinned, ec); }
    {
        pinned_value stored;
        if (!inner_.read_pinned(key, stored, ec) || !alive(stored.bytes())) return false;
        stored.remove_prefix(stored.size() - deadline_header::value_of(stored.bytes()).size());
        out = std::move(stored);
        return true;
    }

    /// key's deadline as a count of Clock::duration, when it is there, unexpired, with one.
    std::optional<std::int64_t> deadline(std::string_view key, std::error_code& ec) const {
        std::optional<std::int64_t> found;
        inner_.read(key, [&](std::string_view stored) {
            if (alive(stored)) found = deadline_header::deadline_of(stored);
        }, ec);
        return found;
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        const std::int64_t at = now();
        inner_.visit_from(from, inclusive, [&](std::string_view key, std::string_view stored) {
            return !alive_at(stored, at) || visitor(key, deadline_header::value_of(stored));
        }, ec);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        const std::int64_t at = now();
        inner_.visit_down_from(from, inclusive, [&](std::string_view key, std::string_view stored) {
            return !alive_at(stored, at) || visitor(key, deadline_header::value_of(stored));
        }, ec);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        const std::int64_t at = now();
        inner_.for_each([&](std::string_view key, std::string_view stored) {
            if (alive_at(stored, at)) visitor(key, deadline_header::value_of(stored));
        }, ec);
    }

    /// The keys whose deadline has not come. A snapshot keeps no deadline index, so this
    /// reads every value: it costs a for_each. (The store counts from its index instead.)
    [[nodiscard]] std::size_t size() const {
        std::size_t live = 0;
        std::error_code ignored;
        for_each([&](std::string_view, std::string_view) { ++live; }, ignored);
        return live;
    }

    [[nodiscard]] std::uint64_t write_version() const noexcept { return inner_.write_version(); }

protected:
    [[nodiscard]] static std::int64_t now() { return Clock::now().time_since_epoch().count(); }

    /// Whether a stored value's key is there now: no deadline, or one still to come.
    [[nodiscard]] static bool alive(std::string_view stored) {
        return stored.empty() || stored[0] != deadline_header::has_deadline || alive_at(stored, now());
    }
    [[nodiscard]] static bool alive_at(std::string_view stored, std::int64_t at) noexcept {
        const std::optional<std::int64_t> d = deadline_header::deadline_of(stored);
        return !d || *d > at;
    }

    Inner inner_;
};

/// The store's backend of an expiring store: Inner's (the store policy's, or its cache's)
/// with each value behind a deadline_header, a deadline index beside it, and reads that
/// treat a key whose deadline has come as absent (expiring_reads).
///
/// Locks. A writer takes its key's lock (one of key_lock_count, by the key's hash; a
/// batch takes those of all its keys) before Inner's, and holds it from its read of the
/// key's old deadline until it has moved the key's index entry, after Inner's write has
/// returned: so writes of one key update the index in the order Inner applied them, and
/// the index ends matching the record that won. Writers of keys under different locks go
/// on side by side, through the wait for durability too, so that a sync_each store's
/// concurrent writers still share a sync (group commit); a memory store, which has no
/// such wait, keeps one lock. The deadline index itself is guarded by index_mutex_, taken
/// last and only around changes and walks of the index, never across a call to Inner.
/// open(), close(), clear() and purge_expired() take every key's lock. Readers of single
/// keys and scans take only Inner's lock, as they would without expiry.
template <class Policies, class Inner>
class expiring_backend : public expiring_reads<typename Policies::expiry::clock, Inner> {
    using clock = typename Policies::expiry::clock;
    using reads = expiring_reads<clock, Inner>;
    using mutex_type = typename Policies::threading::mutex_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;
    using reads::inner_;
    using reads::now;

    static constexpr bool persistent = requires(const Inner& inner) { inner.is_open(); };
    /// Whether Inner is a cache that evicts, and counts the deadline index in its budget.
    static constexpr bool shares_cache_budget = requires(Inner& inner) { inner.set_companion(cache_companion{}); };
    /// Key locks: enough that 8 to 16 writers rarely share one, where writes wait for the disk;
    /// few enough that a thread holding every one (open, close, clear) stays within what lock
    /// checkers follow (ThreadSanitizer tracks 64 locks held by one thread).
    static constexpr std::size_t key_lock_count = persistent ? 32 : 1;
    static constexpr std::uint64_t every_key = key_lock_count == 64 ? ~std::uint64_t{0}
                                                                    : (std::uint64_t{1} << key_lock_count) - 1;

    /// The bit of key's lock in a mask of key locks.
    [[nodiscard]] static std::uint64_t key_bit(std::string_view key) noexcept {
        if constexpr (key_lock_count == 1) {
            return 1;
        } else {
            return std::uint64_t{1} << (hash_bytes(key) % key_lock_count);
        }
    }

    /// Holds the key locks a mask names, taken in ascending order, as every holder of
    /// more than one takes them, so that no two wait for each other.
    class key_locks {
    public:
        key_locks(const expiring_backend& backend, std::uint64_t mask) : mutexes_(backend.key_mutexes_), mask_(0) {
            try {
                for (std::size_t i = 0; i < key_lock_count; ++i) {
                    if ((mask >> i & 1) == 0) continue;
                    mutexes_[i].lock();
                    mask_ |= std::uint64_t{1} << i;
                }
            } catch (...) {
                release();
                throw;
            }
        }
        ~key_locks() { release(); }
        key_locks(const key_locks&) = delete;
        key_locks& operator=(const key_locks&) = delete;

    private:
        void release() noexcept {
            for (std::size_t i = key_lock_count; i-- > 0;) {
                if ((mask_ >> i & 1) != 0) mutexes_[i].unlock();
            }
            mask_ = 0;
        }
        std::array<mutex_type, key_lock_count>& mutexes_;
        std::uint64_t mask_;
    };

public:
    void configure(const kvforge::options& opts, std::error_code& ec) { inner_.configure(opts, ec); }

    /// Opens Inner's files, then rebuilds the deadline index: from the deadlines file
    /// the last clean close wrote (deadline_file.hpp), read whole and checked, when there
    /// is one that fits the store; else from the stored values' headers, one read of
    /// every live value (in file order where Inner offers it), sorted and loaded in one
    /// pass. A key whose deadline passed while the store was closed gets its entry too,
    /// so reads hide it and purge_expired() finds it. A writable open then removes the
    /// file, before anything can change the store; a read-only one leaves it.
    template <class Io>
    void open(std::string_view path, const kvforge::options& opts, Io io, const composition& wanted,
              std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        const key_locks locked(*this, every_key);
        clear_index();
        deadline_file_ = {};
        const std::string directory(path);
        Io file_io = io;
        inner_.open(path, opts, std::move(io), wanted, ec);
        if (ec) return;
        // Salvage may drop records the file lists: its open reads the values.
        btree_table loaded;
        std::string bytes;
        std::string data_files;
        if (opts.salvage || !describe_data_files(file_io, directory, data_files) ||
            !read_deadline_file(file_io, directory, bytes) ||
            !load_deadline_file(bytes, inner_.size(), data_files, loaded)) {
            index_stored_deadlines(loaded, ec);
        }
        bytes = std::string();
        if (!ec && !opts.read_only && remove_deadline_file(file_io, directory, ec)) {
            deadline_file_ = deadline_file_access(std::move(file_io), directory);
        }
        if (!ec) {
            const write_lock lock(index_mutex_);
            deadlines_ = std::move(loaded);
            return;
        }
        // A value that cannot be read leaves the index incomplete, a deadlines file that
        // cannot be removed could outlive the writes to come: the open fails whole.
        std::error_code ignored;
        inner_.close(ignored);
    }

    /// Closes Inner. A writable store writes its deadline index to the deadlines file
    /// once Inner has made its last change to the data files (the writes synced, the
    /// active segment rolled and sorted at close, the compactions due run) and before it
    /// releases the store's lock, so that the file describes the data files as they are
    /// left and no other opener comes between. A deadlines file that cannot be written is
    /// no error: the next open reads the values.
    void close(std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        const key_locks locked(*this, every_key);
        inner_.close(ec, [&] {
            if (deadline_file_) save_deadlines();
        });
        deadline_file_ = {};
        clear_index();
    }

    /// A store closed by its destructor writes its deadlines file as close() does.
    ~expiring_backend() {
        if constexpr (requires(const Inner& inner) { inner.is_open(); }) {
            if (!deadline_file_) return;
            std::error_code ignored;
            try {
                close(ignored);
            } catch (...) {
                // Inner's own destructor closes it; only the deadlines file is left unwritten.
            }
        }
    }

    /// Over a cache that evicts (bounded<>), has the cache tell this layer what it evicts
    /// and count the deadline index within its budget.
    expiring_backend() {
        if constexpr (shares_cache_budget) {
            inner_.set_companion(cache_companion{
                .context = this,
                .evicted = [](void* self, std::string_view key, std::string_view stored) {
                    if (const std::optional<std::int64_t> deadline = deadline_header::deadline_of(stored)) {
                        static_cast<expiring_backend*>(self)->move_entry(key, deadline, std::nullopt);
                    }
                },
                .memory_usage = [](const void* self) noexcept -> std::uint64_t {
                    const auto& backend = *static_cast<const expiring_backend*>(self);
                    const read_lock lock(backend.index_mutex_);
                    return backend.deadlines_.memory_usage();
                },
                .shrink_to_fit = [](void* self) {
                    auto& backend = *static_cast<expiring_backend*>(self);
                    const write_lock lock(backend.index_mutex_);
                    backend.deadlines_.shrink_to_fit();
                },
            });
        }
    }
    expiring_backend(const expiring_backend&) = delete;
    expiring_backend& operator=(const expiring_backend&) = delete;

    [[nodiscard]] bool is_open() const noexcept
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        return inner_.is_open();
    }

    void wait_durable(std::uint64_t sequence, std::error_code& ec)
        requires requires(Inner& inner) { inner.wait_durable(sequence, ec); }
    {
        inner_.wait_durable(sequence, ec);
    }

    [[nodiscard]] std::uint64_t durable_sequence() const
        requires requires(const Inner& inner) { inner.durable_sequence(); }
    {
        return inner_.durable_sequence();
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        return put_until(key, value, std::nullopt, ec);
    }

    /// Writes value under key with this deadline (or none); a deadline that has come
    /// already removes the key instead, so nothing is stored that no read could see.
    std::uint64_t put_until(std::string_view key, std::string_view value, std::optional<std::int64_t> deadline,
                            std::error_code& ec) {
        if (!deadline_header::fits(value, ec)) return 0;
        const key_locks locked(*this, key_bit(key));
        if (deadline && *deadline <= now()) {
            remove(key, ec);
            return 0;
        }
        const std::optional<std::int64_t> old = indexed_deadline(key, ec);
        if (ec) return 0;
        // Writers under other key locks build their bytes at once: each its own buffer.
        std::string own_scratch;
        std::string& scratch = key_lock_count == 1 ? scratch_ : own_scratch;
        const std::string_view stored = deadline_header::wrap(value, deadline, scratch);
        // The index entry moves first, so that a cache below counts it in its budget (and
        // removes it should it evict key at once); it moves back if the write fails. If
        // Inner throws, it stays: purge_expired() checks each record before erasing it.
        move_entry(key, old, deadline);
        const std::uint64_t sequence = inner_.put(key, stored, ec);
        if (ec) move_entry(key, deadline, old);
        return sequence;
    }

    /// Removes key; returns whether it was there and had not expired.
    bool erase(std::string_view key, std::error_code& ec) {
        const key_locks locked(*this, key_bit(key));
        return remove(key, ec);
    }

    /// Applies a batch: a plain put clears its key's deadline, a put_until sets it, or,
    /// when the deadline has come, removes the key instead. Inner writes it as one batch.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        bool fit = true;
        ops.for_each([&](batch_op op, std::string_view, std::string_view value) {
            if (fit && op != batch_op::erase) fit = deadline_header::fits(value, ec);
        });
        if (!fit) return 0;
        std::uint64_t mask = 0;
        ops.for_each([&](batch_op, std::string_view key, std::string_view) { mask |= key_bit(key); });
        const key_locks locked(*this, mask);
        const std::int64_t at = now();
        // Each key's deadline before the batch and after its last operation, to move its
        // index entry as the batch is written; no tracking while no key has one.
        deadline_changes changes;
        const bool track = !index_empty() || ops.deadline_count() != 0;
        batch_buffer wrapped;
        std::string scratch;
        ops.for_each_with_deadline([&](batch_op op, std::string_view key, std::string_view value,
                                       std::optional<std::int64_t> deadline) {
            if (ec) return;
            if (deadline && *deadline <= at) {
                op = batch_op::erase;
                deadline.reset();
            }
            if (track) {
                auto [change, first] = changes.try_emplace(std::string(key));
                if (first) change->second.before = indexed_deadline(key, ec);
                change->second.after = deadline;
            }
            if (op == batch_op::erase) {
                wrapped.add_erase(key);
            } else {
                wrapped.add_put(key, deadline_header::wrap(value, deadline, scratch));
            }
        });
        if (ec) return 0;
        // As for a put: the entries move first, and back if the batch is not written.
        for (const auto& [key, change] : changes) move_entry(key, change.before, change.after);
        const std::uint64_t sequence = inner_.write(wrapped, ec);
        if (ec) {
            for (const auto& [key, change] : changes) move_entry(key, change.after, change.before);
        }
        return sequence;
    }

    /// key's deadline as a count of Clock::duration, when it is there, unexpired, with one.
    /// Inner counts the read as a get; stats() leaves it out, as it is not one of get()'s.
    std::optional<std::int64_t> deadline(std::string_view key, std::error_code& ec) const {
        internal_reads_.add(1);
        return reads::deadline(key, ec);
    }

    /// A snapshot of the store: the expiring reads over Inner's snapshot.
    [[nodiscard]] auto snapshot(std::error_code& ec)
        requires requires(Inner& inner) { inner.snapshot(ec); }
    {
        return expiring_reads<clock, decltype(inner_.snapshot(ec))>(inner_.snapshot(ec));
    }

    /// The keys whose deadline has not come: those stored, less the expired ones not yet
    /// purged (counted from the deadline index, in time proportional to them).
    [[nodiscard]] std::size_t size() const {
        std::size_t expired = 0;
        {
            const read_lock lock(index_mutex_);
            visit_expired(now(), [&](std::string_view) { ++expired; });
        }
        const std::size_t stored = inner_.size();
        return stored > expired ? stored - expired : 0;
    }

    [[nodiscard]] std::uint64_t write_version() const noexcept { return inner_.write_version(); }

    void clear(std::error_code& ec) {
        const key_locks locked(*this, every_key);
        inner_.clear(ec);
        if (!ec) clear_index();
    }

    /// Inner's stats, with live_keys and live_bytes counting only unexpired keys (as
    /// size() and get() do) and without the headers, memory_bytes with the deadline index,
    /// and gets without the lookups the layer made itself.
    [[nodiscard]] kvforge::stats stats() const {
        std::vector<std::string> expired;
        std::uint64_t with_deadline = 0;
        std::uint64_t index_bytes = 0;
        {
            const read_lock lock(index_mutex_);
            visit_expired(now(), [&](std::string_view entry) { expired.emplace_back(entry); });
            with_deadline = deadlines_.size();
            index_bytes = deadlines_.memory_usage();
        }
        kvforge::stats s = inner_.stats();
        s.gets -= std::min<std::uint64_t>(s.gets, internal_reads_.load());
        const std::uint64_t headers = s.live_keys + with_deadline * (deadline_header::with_deadline_size - 1);
        std::uint64_t expired_keys = 0;
        std::uint64_t expired_bytes = 0;
        std::error_code ignored;
        for (const std::string& entry : expired) {
            const std::string_view key = std::string_view(entry).substr(8);
            read_stored(key, [&](std::string_view stored) {
                ++expired_keys;
                expired_bytes += key.size() + deadline_header::value_of(stored).size();
            }, ignored);
        }
        s.live_keys -= std::min(s.live_keys, expired_keys);
        s.live_bytes -= std::min(s.live_bytes, headers + expired_bytes);
        if constexpr (!shares_cache_budget) s.memory_bytes += index_bytes;  // else Inner counted it
        return s;
    }

    /// Removes every key whose deadline has come; returns how many. A key is erased only
    /// when its stored record still has the deadline of its index entry: an entry that
    /// outlived its record (one Inner threw while writing) goes, and the key stays.
    std::size_t purge_expired(std::error_code& ec) {
        const key_locks locked(*this, every_key);
        std::vector<std::string> entries;
        {
            const read_lock lock(index_mutex_);
            visit_expired(now(), [&](std::string_view entry) { entries.emplace_back(entry); });
        }
        std::size_t purged = 0;
        for (const std::string& entry : entries) {
            const std::string_view key = std::string_view(entry).substr(8);
            std::optional<std::int64_t> stored_deadline;
            read_stored(key, [&](std::string_view stored) { stored_deadline = deadline_header::deadline_of(stored); },
                        ec);
            if (ec) return purged;
            if (stored_deadline == deadline_header::index_deadline(entry) && inner_.erase(key, ec)) ++purged;
            if (ec) return purged;
            const write_lock lock(index_mutex_);
            deadlines_.erase(entry, [](std::string_view) {});
        }
        const write_lock lock(index_mutex_);
        deadlines_.shrink_to_fit();
        return purged;
    }

    void flush(std::error_code& ec) { inner_.flush(ec); }
    void sync(std::error_code& ec) { inner_.sync(ec); }
    /// Purges the expired keys, then has Inner rewrite its live records: the purge's
    /// erasures make the expired records dead, so the rewrite leaves them behind.
    void compact(std::error_code& ec) {
        purge_expired(ec);
        if (!ec) inner_.compact(ec);
    }
    [[nodiscard]] verify_report verify(std::error_code& ec) const { return inner_.verify(ec); }

    /// Inner's online backup: the deadline headers travel with the values, and the copy's
    /// MANIFEST names this store's expiry. The deadlines file is not copied: a writable
    /// store has none while it is open, and the copy's first open builds its index from
    /// its values (then its close writes the file).
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec)
        requires requires(Inner& inner) { inner.backup(dest, how, ec); }
    {
        inner_.backup(dest, how, ec);
    }

private:
    /// Calls on_stored(stored bytes) for key without looking at its deadline.
    /// Inner counts it as a get; internal_reads_ counts it too, so stats() leaves it out.
    template <class OnStored>
    void read_stored(std::string_view key, OnStored&& on_stored, std::error_code& ec) const {
        internal_reads_.add(1);
        inner_.read(key, on_stored, ec);
    }

    /// The deadline key's index entry is under, read from its stored header; none when
    /// the index is empty, so stores whose keys have no deadlines never look.
    std::optional<std::int64_t> indexed_deadline(std::string_view key, std::error_code& ec) const {
        std::optional<std::int64_t> found;
        if (index_empty()) return found;
        read_stored(key, [&](std::string_view stored) { found = deadline_header::deadline_of(stored); }, ec);
        return found;
    }

    /// Whether no key has an index entry. Only a writer of a key gives it one, and the
    /// caller holds its key's lock, so for that key the answer holds while it does.
    [[nodiscard]] bool index_empty() const {
        const read_lock lock(index_mutex_);
        return deadlines_.empty();
    }

    /// Moves key's index entry from deadline before to deadline after (none: no entry).
    void move_entry(std::string_view key, std::optional<std::int64_t> before, std::optional<std::int64_t> after) {
        if (before == after) return;
        const write_lock lock(index_mutex_);
        if (before) deadlines_.erase(deadline_header::index_key(*before, key), [](std::string_view) {});
        if (after) deadlines_.upsert(deadline_header::index_key(*after, key), {}, [](std::string_view) {});
    }

    void clear_index() noexcept {
        const write_lock lock(index_mutex_);
        deadlines_.clear();
    }

    bool remove(std::string_view key, std::error_code& ec) {
        const std::optional<std::int64_t> old = indexed_deadline(key, ec);
        if (ec) return false;
        const bool erased = inner_.erase(key, ec);
        if (!old) return erased;
        move_entry(key, old, std::nullopt);
        // An expired key was already absent: erasing it removes nothing a read could see.
        return erased && *old > now();
    }

    /// Writes the deadlines file for the data files as they are now (when they can be
    /// described). Inner calls it from its close, once its data files are final.
    void save_deadlines() noexcept {
        try {
            std::string data_files;
            if (deadline_file_.describe_data_files(data_files)) {
                const std::size_t stored = inner_.size();
                std::string bytes;
                {
                    const read_lock lock(index_mutex_);
                    bytes = encode_deadline_file(deadlines_, stored, data_files);
                }
                deadline_file_.write(bytes);
            }
        } catch (const std::bad_alloc&) {
            // The file is a shortcut for the next open; a close never fails for want of it.
        }
    }

    /// Builds the deadline index from the headers of the stored values: the entries are
    /// gathered in one buffer and sorted, and the tree is built from them bottom up in one
    /// pass, rather than by a search and an insert at a random place per key.
    void index_stored_deadlines(btree_table& index, std::error_code& ec) {
        std::string gathered;
        std::vector<std::pair<std::size_t, std::size_t>> places;  // (offset, size) of each entry in gathered
        const auto note_deadline = [&](std::string_view key, std::string_view stored) {
            if (const auto deadline = deadline_header::deadline_of(stored)) {
                places.emplace_back(gathered.size(), 8 + key.size());
                gathered += deadline_header::index_key(*deadline, key);
            }
        };
        // A log store reads its values fastest in the order they lie in its files.
        if constexpr (requires { inner_.for_each_in_file_order(note_deadline, ec); }) {
            inner_.for_each_in_file_order(note_deadline, ec);
        } else {
            inner_.for_each(note_deadline, ec);
        }
        if (ec) return;
        std::vector<std::string_view> entries;
        entries.reserve(places.size());
        for (const auto& [offset, size] : places) entries.emplace_back(gathered.data() + offset, size);
        places = {};
        std::sort(entries.begin(), entries.end());
        std::size_t i = 0;
        index.assign_sorted([&](std::string_view& key, std::string_view& payload) {
            if (i == entries.size()) return false;
            key = entries[i++];
            payload = {};
            return true;
        });
    }

    /// Calls on_entry(index key) for each deadline index entry whose deadline is at or before at.
    template <class OnEntry>
    void visit_expired(std::int64_t at, OnEntry&& on_entry) const {
        deadlines_.visit_from({}, true, [&](std::string_view entry, std::string_view) {
            if (deadline_header::index_deadline(entry) > at) return false;
            on_entry(entry);
            return true;
        });
    }

    /// A key's deadline before a batch and after the batch's last operation on it.
    struct deadline_change {
        std::optional<std::int64_t> before;
        std::optional<std::int64_t> after;
    };
    using deadline_changes = std::map<std::string, deadline_change, std::less<>>;

    mutable std::array<mutex_type, key_lock_count> key_mutexes_;
    mutable mutex_type index_mutex_;  // guards deadlines_
    btree_table deadlines_;
    deadline_file_access deadline_file_;  // set while a file store is open for writing
    std::string scratch_;  // a put's stored bytes, reused where one key lock orders every writer
    mutable typename Policies::threading::counter_type internal_reads_;
};

/// The expiry policy of a store that has none: its backend as it is, and no clock.
struct no_expiry {
    using policy_kind = kvforge::policy_kind::expiry;
    using clock = std::chrono::system_clock;
    static constexpr std::string_view name = "none";
    template <class Policies, class Backend>
    using backend = Backend;
};

}  // namespace detail

/// The name a file store's MANIFEST records its clock under: "system_clock" for
/// std::chrono::system_clock, a clock's own `static constexpr std::string_view name`, or
/// what a specialization's `value` says. A clock with none keys memory stores only.
template <class Clock>
struct clock_name {};
template <class Clock>
    requires requires { std::string_view(Clock::name); }
struct clock_name<Clock> {
    static constexpr std::string_view value = Clock::name;
};
template <>
struct clock_name<std::chrono::system_clock> {
    static constexpr std::string_view value = "system_clock";
};

/// A clock with a name for a MANIFEST (clock_name<Clock>::value).
template <class Clock>
concept named_clock = requires { std::string_view(clock_name<Clock>::value); };

/// A clock an expiring store can keep deadlines by: a std::chrono clock whose ticks are
/// whole numbers that fit an i64, as the deadline header stores them.
template <class C>
concept expiry_clock = std::chrono::is_clock_v<C> && std::integral<typename C::rep> && sizeof(typename C::rep) <= 8;

/// Expiry policy: keys may carry a deadline (put with a time to live or a Clock::time_point),
/// after which they are absent for every read; purge_expired() reclaims them. Clock is a
/// std::chrono clock; tests pass one they move by hand.
template <class Clock = std::chrono::system_clock>
struct expiring {
    static_assert(expiry_clock<Clock>,
                  "kvforge: expiring<Clock> needs a std::chrono clock with an integral rep of at most 64 bits, "
                  "such as std::chrono::system_clock");
    using policy_kind = kvforge::policy_kind::expiry;
    using clock = Clock;
    static constexpr std::string_view name = "expiring";
    template <class Policies, class Backend>
    using backend = detail::expiring_backend<Policies, Backend>;

    /// The MANIFEST's expiry field: the clock's name and its tick in seconds, as
    /// "system_clock:1/1000000000", since a deadline is stored as a count of ticks and
    /// the same clock ticks differently under different standard libraries.
    static std::string manifest_name()
        requires named_clock<Clock>
    {
        using period = typename Clock::period;
        return std::string(clock_name<Clock>::value) + ':' + std::to_string(period::num) + '/' +
               std::to_string(period::den);
    }
};

}  // namespace kvforge
// ---- end kvforge/expiry/expiring.hpp ----
// ---- begin kvforge/compression/codec.hpp ----
/// \file compression/codec.hpp
/// What a compression codec provides (kvforge::compression_codec), and the calls that
/// compress a value with one and check it on the way back.
///
/// This header needs no library; the codecs that do live in headers of their own,
/// outside the umbrella header: <kvforge/compression/zstd.hpp> (-lzstd) and
/// <kvforge/compression/lz4.hpp> (-llz4). A codec of your own is a class like this:
///
///     struct my_codec {
///         static constexpr std::string_view name = "my-codec";  // recorded in the store's files
///         std::size_t max_compressed_size(std::size_t size) const noexcept;
///         std::size_t compress(std::string_view value, char* out, std::size_t capacity) const;
///         std::size_t decompress(std::string_view compressed, char* out, std::size_t size) const;
///     };
///
/// A compressed value is the value's size as an LEB128 varint, then the codec's bytes.
/// The size is kvforge's, not the codec's, so a codec that loses or invents bytes is
/// caught: decompress_value gives back a value only when the codec wrote exactly the
/// recorded number of bytes.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>


namespace kvforge {

/// A compression codec. Its calls are const and may run on many threads at once on one
/// object (a store calls them under a shared lock); a codec reports a failure by throwing
/// any exception, which compress_value and decompress_value turn into
/// errc::compression_failed with the exception's what() in the message.
template <class C>
concept compression_codec = requires(const C& codec, std::string_view input, char* output, std::size_t size) {
    /// The name of the format, recorded in the store's MANIFEST: a store refuses to open with
    /// another codec. It names the format, not the settings: zstd<1> and zstd<19> are both "zstd".
    { C::name } -> std::convertible_to<std::string_view>;
    /// The most bytes compress may write for an input of size bytes.
    { codec.max_compressed_size(size) } noexcept -> std::same_as<std::size_t>;
    /// Compresses input into [output, output + size), size being at least
    /// max_compressed_size(input.size()); returns the number of bytes written.
    { codec.compress(input, output, size) } -> std::same_as<std::size_t>;
    /// Decompresses input, which compress wrote, into [output, output + size), size being
    /// the original size; returns the number of bytes written, which must be size.
    { codec.decompress(input, output, size) } -> std::same_as<std::size_t>;
};

namespace detail {

/// Stops the compilation, naming what is missing, when Codec is not a compression codec.
template <class Codec>
constexpr void require_compression_codec() noexcept {
    static_assert(compression_codec<Codec>,
                  "kvforge: the codec does not satisfy kvforge::compression_codec: give it a static name, "
                  "max_compressed_size(size) noexcept, compress(input, output, capacity) and "
                  "decompress(input, output, size), as kvforge/compression/codec.hpp shows");
}

/// The message of the exception a codec threw, or a fallback for one that is not a std::exception.
inline std::string what_codec_threw(std::exception_ptr thrown) {
    try {
        std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception of an unknown type";
    }
}

}  // namespace detail

/// Compresses value with codec into out (replacing what it held): the value's size as a
/// varint, then the codec's bytes. out keeps its capacity between calls, so a caller that
/// reuses it allocates only when it grows. On failure out is cleared.
template <class Codec>
void compress_value(const Codec& codec, std::string_view value, std::string& out, std::error_code& ec) noexcept {
    detail::require_compression_codec<Codec>();
    ec.clear();
    try {
        const std::size_t bound = codec.max_compressed_size(value.size());
        const std::size_t prefix = detail::varint_size(value.size());
        out.resize(prefix + bound);
        detail::put_varint(out.data(), value.size());
        const std::size_t written = codec.compress(value, out.data() + prefix, bound);
        if (written > bound) {
            out.clear();
            detail::fail(ec, errc::compression_failed,
                         std::string("compressing a value with ") + std::string(Codec::name) + ": the codec says it wrote " +
                             std::to_string(written) + " bytes, more than its bound of " + std::to_string(bound) +
                             "; fix the codec's max_compressed_size");
            return;
        }
        out.resize(prefix + written);
    } catch (...) {
        out.clear();
        std::string why = detail::what_codec_threw(std::current_exception());
        detail::fail(ec, errc::compression_failed,
                     "compressing a value of " + std::to_string(value.size()) + " bytes with " +
                         std::string(Codec::name) + ": " + why);
    }
}

/// Compresses value with codec into out; throws kvforge::error on failure.
template <class Codec>
void compress_value(const Codec& codec, std::string_view value, std::string& out) {
    std::error_code ec;
    compress_value(codec, value, out, ec);
    detail::throw_if(ec);
}

/// The original size recorded at the start of a compressed value, or an error when the
/// record is too short or claims more than kvforge::max_value_size.
[[nodiscard]] inline std::size_t compressed_value_size(std::string_view compressed, std::error_code& ec) noexcept {
    ec.clear();
    std::uint64_t size = 0;
    const char* payload = detail::get_varint(compressed.data(), compressed.data() + compressed.size(), size);
    if (payload == nullptr || size > max_value_size) {
        detail::fail(ec, errc::compression_failed,
                     "a compressed value of " + std::to_string(compressed.size()) +
                         " bytes does not start with a valid size (at most kvforge::max_value_size)");
        return 0;
    }
    return static_cast<std::size_t>(size);
}

/// The original size recorded at the start of a compressed value; throws kvforge::error
/// when there is none.
[[nodiscard]] inline std::size_t compressed_value_size(std::string_view compressed) {
    std::error_code ec;
    const std::size_t size = compressed_value_size(compressed, ec);
    detail::throw_if(ec);
    return size;
}

/// Decompresses what compress_value wrote into out (replacing what it held). Fails with
/// errc::compression_failed, out cleared, when the codec throws or writes other than the
/// recorded number of bytes: a wrong value is never handed out.
template <class Codec>
void decompress_value(const Codec& codec, std::string_view compressed, std::string& out, std::error_code& ec) noexcept {
    detail::require_compression_codec<Codec>();
    const std::size_t size = compressed_value_size(compressed, ec);
    if (ec) {
        out.clear();
        return;
    }
    const std::size_t prefix = detail::varint_size(size);
    try {
        out.resize(size);
        const std::size_t written = codec.decompress(compressed.substr(prefix), out.data(), size);
        if (written != size) {
            out.clear();
            detail::fail(ec, errc::compression_failed,
                         "decompressing a value with " + std::string(Codec::name) + ": the codec gave " +
                             std::to_string(written) + " bytes where " + std::to_string(size) +
                             " were recorded; the value is not returned");
        }
    } catch (...) {
        out.clear();
        std::string why = detail::what_codec_threw(std::current_exception());
        detail::fail(ec, errc::compression_failed,
                     "decompressing a value of " + std::to_string(size) + " bytes with " + std::string(Codec::name) +
                         ": " + why);
    }
}

/// Decompresses what compress_value wrote into out; throws kvforge::error on failure.
template <class Codec>
void decompress_value(const Codec& codec, std::string_view compressed, std::string& out) {
    std::error_code ec;
    decompress_value(codec, compressed, out, ec);
    detail::throw_if(ec);
}

}  // namespace kvforge
// ---- end kvforge/compression/codec.hpp ----

namespace kvforge {

namespace detail {

/// The byte a compressed store keeps in front of each value.
struct value_flag {
    static constexpr char raw = 0;         ///< the value follows as it is
    static constexpr char compressed = 1;  ///< compress_value's output follows
    static constexpr std::size_t size = 1;
};

/// A codec that keeps state in the store's directory, as zstd_trained<> keeps its
/// dictionaries: a compressed store loads it at open (open), tends it at compact()
/// (maintain), encodes each write with what writer() gives, held until the write returns,
/// and keeps its files in place while a backup copies them (hold_files).
template <class C>
concept codec_kept_in_store = requires(const C& codec) {
    codec.writer();
    codec.hold_files();
};

/// What a compressed store whose codec keeps nothing in its directory keeps of the I/O policy.
struct no_codec_io {};

/// The store's backend of a compressed store: Inner's (the expiry layer's, the cache's
/// or the store policy's) with each value behind a value_flag, compressed when that
/// makes it shorter. It has no state of its own but the codec and the minimum size, and
/// no lock: every call encodes or decodes in its own buffers and forwards to Inner. A
/// codec kept in the store (codec_kept_in_store) brings its own state and locks.
template <class Policies, class Inner>
class compressed_backend {
    using codec_type = typename Policies::compression::codec;
    static constexpr bool codec_kept = codec_kept_in_store<codec_type>;
    static_assert(!codec_kept || Policies::store::persistent,
                  "kvforge: this codec keeps its dictionaries in the store's directory: use it with file_log or "
                  "mmap_file, or use kvforge::zstd<> for a memory store");

public:
    static constexpr bool sequenced = Inner::sequenced;
    /// The longest value this layer takes: what Inner takes (kvforge::max_value_size, less
    /// the expiry header when expiring) less the flag byte.
    static constexpr std::size_t max_value_size =
        kvforge::max_value_size - (Policies::expiry_given ? deadline_header::with_deadline_size : 0) - value_flag::size;

    compressed_backend() = default;
    /// The layer over inner with this codec: how a snapshot reads, over Inner's snapshot.
    compressed_backend(Inner inner, const codec_type& codec) : inner_(std::move(inner)), codec_(codec) {}

    void configure(const kvforge::options& opts, std::error_code& ec)
        requires requires(Inner& inner) { inner.configure(opts, ec); }
    {
        min_bytes_ = opts.compress_min_bytes;
        inner_.configure(opts, ec);
    }

    template <class Io>
    void open(std::string_view path, const kvforge::options& opts, Io io, const composition& wanted,
              std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        min_bytes_ = opts.compress_min_bytes;
        if constexpr (codec_kept) io_ = io;
        inner_.open(path, opts, std::move(io), wanted, ec);
        if constexpr (codec_kept) {
            if (ec) return;
            codec_.open(io_, path, ec);
            if (ec) {
                std::error_code ignored;
                inner_.close(ignored);
            }
        }
    }

    void close(std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        inner_.close(ec);
    }

    [[nodiscard]] bool is_open() const noexcept
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        return inner_.is_open();
    }

    void wait_durable(std::uint64_t sequence, std::error_code& ec)
        requires requires(Inner& inner) { inner.wait_durable(sequence, ec); }
    {
        inner_.wait_durable(sequence, ec);
    }

    [[nodiscard]] std::uint64_t durable_sequence() const
        requires requires(const Inner& inner) { inner.durable_sequence(); }
    {
        return inner_.durable_sequence();
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        const auto& with = compressor();
        std::string stored;
        if (!encode(with, value, stored, ec)) return 0;
        return inner_.put(key, stored, ec);
    }

    /// As put, with the deadline the expiry layer beneath keeps in front of the flag.
    std::uint64_t put_until(std::string_view key, std::string_view value, std::optional<std::int64_t> deadline,
                            std::error_code& ec)
        requires requires(Inner& inner) { inner.put_until(key, value, deadline, ec); }
    {
        const auto& with = compressor();
        std::string stored;
        if (!encode(with, value, stored, ec)) return 0;
        return inner_.put_until(key, stored, deadline, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) { return inner_.erase(key, ec); }

    /// Encodes every value of the batch, then hands Inner the whole batch: a value that
    /// does not fit or fails to compress leaves the store unchanged.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        const auto& with = compressor();
        batch_buffer encoded;
        std::string stored;
        ops.for_each_with_deadline([&](batch_op op, std::string_view key, std::string_view value,
                                       std::optional<std::int64_t> deadline) {
            if (ec) return;
            if (op == batch_op::put) {
                if (encode(with, value, stored, ec)) encoded.add_put(key, stored);
            } else if (op == batch_op::put_until) {
                if (encode(with, value, stored, ec)) encoded.add_put_until(key, stored, *deadline);
            } else {
                encoded.add_erase(key);
            }
        });
        if (ec) return 0;
        return inner_.write(encoded, ec);
    }

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        const bool found = inner_.read(
            key,
            [&](std::string_view stored) {
                if (const auto value = decode(stored, scratch, failed)) on_value(*value);
            },
            ec);
        return settle(found, failed, ec);
    }

    /// Decompresses straight into out, or copies a raw value into it.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        std::error_code failed;
        const bool found = inner_.read(
            key, [&](std::string_view stored) { decode_into(stored, out, failed); }, ec);
        return settle(found, failed, ec);
    }

    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.read_many(keys, indexed_stored_visitor{}, ec); }
    {
        std::error_code failed;
        std::string scratch;
        inner_.read_many(
            keys,
            [&](std::size_t i, std::string_view stored) {
                if (failed) return;
                if (const auto value = decode(stored, scratch, failed)) on_value(i, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    bool contains(std::string_view key, std::error_code& ec) const { return inner_.contains(key, ec); }

    std::optional<std::int64_t> deadline(std::string_view key, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.deadline(key, ec); }
    {
        return inner_.deadline(key, ec);
    }

    std::size_t purge_expired(std::error_code& ec)
        requires requires(Inner& inner) { inner.purge_expired(ec); }
    {
        return inner_.purge_expired(ec);
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.visit_from(
            from, inclusive,
            [&](std::string_view key, std::string_view stored) {
                const auto value = decode(stored, scratch, failed);
                return value && visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.visit_down_from(
            from, inclusive,
            [&](std::string_view key, std::string_view stored) {
                const auto value = decode(stored, scratch, failed);
                return value && visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    /// Calls visitor(key, value) for every record until a value fails to decompress.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.for_each(
            [&](std::string_view key, std::string_view stored) {
                if (failed) return;
                if (const auto value = decode(stored, scratch, failed)) visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    [[nodiscard]] std::size_t size() const { return inner_.size(); }
    [[nodiscard]] std::uint64_t write_version() const noexcept { return inner_.write_version(); }
    void clear(std::error_code& ec) { inner_.clear(ec); }
    /// Inner's stats, with live_bytes counting each value as stored (a compressed one at
    /// its compressed size, so it shows what compression saves) less its flag byte: a value
    /// kept raw counts as it is, as in a store without compression.
    [[nodiscard]] kvforge::stats stats() const {
        kvforge::stats s = inner_.stats();
        s.live_bytes -= std::min<std::uint64_t>(s.live_bytes, s.live_keys * value_flag::size);
        return s;
    }
    void flush(std::error_code& ec) { inner_.flush(ec); }
    void sync(std::error_code& ec) { inner_.sync(ec); }
    /// Compacts Inner; a codec kept in the store then tends its state over the live values
    /// (zstd_trained<> retires and trains dictionaries).
    void compact(std::error_code& ec) {
        inner_.compact(ec);
        if constexpr (codec_kept) {
            if (ec) return;
            codec_.maintain(
                io_, inner_.size(), [&](auto&& visitor, std::error_code& walk_ec) { walk_stored(visitor, walk_ec); },
                [&](std::error_code& sync_ec) { inner_.sync(sync_ec); }, ec);
        }
    }
    [[nodiscard]] verify_report verify(std::error_code& ec) const { return inner_.verify(ec); }

    void backup(std::string_view dest, const backup_options& how, std::error_code& ec)
        requires requires(Inner& inner) { inner.backup(dest, how, ec); }
    {
        if constexpr (codec_kept) {
            const auto files_held = codec_.hold_files();
            inner_.backup(dest, how, ec);
        } else {
            inner_.backup(dest, how, ec);
        }
    }

    /// A snapshot of the store: this layer over Inner's snapshot, decompressing as the store does.
    [[nodiscard]] auto snapshot(std::error_code& ec)
        requires requires(Inner& inner) { inner.snapshot(ec); }
    {
        return compressed_backend<Policies, decltype(inner_.snapshot(ec))>(inner_.snapshot(ec), codec_);
    }

private:
    /// What a write encodes its values with: the codec, or what a codec kept in the store
    /// hands out for the write (held until it returns).
    [[nodiscard]] decltype(auto) compressor() const {
        if constexpr (codec_kept) {
            return codec_.writer();
        } else {
            return (codec_);
        }
    }

    /// Calls visitor(compressed, value) for every live value: compressed is what
    /// compress_value wrote (empty for a value kept raw), value() decompresses it.
    template <class Visitor>
    void walk_stored(Visitor& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.for_each(
            [&](std::string_view, std::string_view stored) {
                if (failed) return;
                const bool compressed = !stored.empty() && stored[0] == value_flag::compressed;
                visitor(compressed ? stored.substr(value_flag::size) : std::string_view{}, [&]() -> std::string_view {
                    const auto value = decode(stored, scratch, failed);
                    return value ? *value : std::string_view{};
                });
            },
            ec);
        settle(true, failed, ec);
    }

    /// Writes value's stored bytes into out: the flag, then the value compressed with
    /// `with` when it is long enough and that makes it shorter, else as it is.
    template <class With>
    bool encode(const With& with, std::string_view value, std::string& out, std::error_code& ec) const {
        if (value.size() > max_value_size) {
            fail(ec, errc::value_too_large,
                 "value of " + std::to_string(value.size()) + " bytes is longer than a compressed store takes, " +
                     std::to_string(max_value_size) +
                     " bytes (kvforge::max_value_size less the 1-byte compression flag" +
                     (Policies::expiry_given ? " and the 9-byte expiry header" : "") + "); nothing was written");
            return false;
        }
        if (value.size() >= min_bytes_) {
            compress_value(with, value, out, ec);
            if (ec) return false;
            if (out.size() < value.size()) {
                out.insert(out.begin(), value_flag::compressed);
                return true;
            }
        }
        out.clear();
        out.reserve(value_flag::size + value.size());
        out.push_back(value_flag::raw);
        out.append(value);
        return true;
    }

    /// The value behind stored's flag: a view into stored when raw, into scratch when it
    /// was decompressed there; nullopt, with failed set, when it cannot be read.
    std::optional<std::string_view> decode(std::string_view stored, std::string& scratch,
                                           std::error_code& failed) const {
        if (!stored.empty() && stored[0] == value_flag::raw) return stored.substr(value_flag::size);
        if (!stored.empty() && stored[0] == value_flag::compressed) {
            decompress_value(codec_, stored.substr(value_flag::size), scratch, failed);
            if (failed) {
                if constexpr (codec_kept) codec_.explain_failure(stored.substr(value_flag::size), failed);
                return std::nullopt;
            }
            return std::string_view(scratch);
        }
        fail(failed, errc::compression_failed,
             "a stored value of " + std::to_string(stored.size()) +
                 " bytes does not start with a compression flag (0 or 1); the store was not written compressed "
                 "with " +
                 std::string(codec_type::name) + ", or the value was damaged");
        return std::nullopt;
    }

    /// Writes the value behind stored's flag into out; false, with failed set, when it cannot be read.
    bool decode_into(std::string_view stored, std::string& out, std::error_code& failed) const {
        if (!stored.empty() && stored[0] == value_flag::raw) {
            assign_bytes(out, stored.substr(value_flag::size));
            return true;
        }
        return decode(stored, out, failed).has_value();
    }

    /// Passes on a decoding failure: it comes after Inner's own error, and leaves nothing found.
    static bool settle(bool found, const std::error_code& failed, std::error_code& ec) {
        if (ec) return false;
        if (!failed) return found;
        ec = failed;
        return false;
    }

    Inner inner_;
    [[no_unique_address]] codec_type codec_;
    [[no_unique_address]] std::conditional_t<codec_kept, typename Policies::io, no_codec_io> io_;
    std::uint64_t min_bytes_ = kvforge::options{}.compress_min_bytes;
};

/// The compression policy of a store that has none: its backend as it is.
struct no_compression {
    using policy_kind = kvforge::policy_kind::compression;
    static constexpr std::string_view name = "none";
    template <class Policies, class Backend>
    using backend = Backend;
};

}  // namespace detail

/// Compression policy: values are kept compressed by Codec, any type satisfying
/// kvforge::compression_codec (see compression/codec.hpp for the concept and a codec of
/// one's own): kvforge::zstd<Level> (<kvforge/compression/zstd.hpp>, -lzstd) or
/// kvforge::lz4 (<kvforge/compression/lz4.hpp>, -llz4).
///
///     using docs = kvforge::store<std::string, std::string, kvforge::file_log,
///                                 kvforge::compressed<kvforge::zstd<3>>>;
///
/// Values shorter than options::compress_min_bytes, or that the codec does not shrink,
/// are kept as they are: a value costs at most one byte more. get(), visit(), scans,
/// for_each() and get_many() hand out the decompressed bytes; get_view(), which hands out
/// the stored bytes in place, does not compile. A file store's MANIFEST records Codec::name,
/// and a store written with one codec refuses to open with another, or with none
/// (errc::codec_mismatch). A codec that throws or gives back a value of another size on
/// decompress is errc::compression_failed: a wrong value is never handed out.
template <class Codec>
struct compressed {
    static_assert(compression_codec<Codec>,
                  "kvforge: compressed<Codec> needs a codec satisfying kvforge::compression_codec, such as "
                  "kvforge::zstd<3> from <kvforge/compression/zstd.hpp> or kvforge::lz4 from "
                  "<kvforge/compression/lz4.hpp>");
    using policy_kind = kvforge::policy_kind::compression;
    using codec = Codec;
    /// The codec's name: the word a store spec names it by, and what the MANIFEST records.
    static constexpr std::string_view name = Codec::name;
    template <class Policies, class Backend>
    using backend = detail::compressed_backend<Policies, Backend>;
};

}  // namespace kvforge
// ---- end kvforge/compression/compressed.hpp ----
// ---- begin kvforge/durability/buffered.hpp ----
/// \file buffered.hpp
/// kvforge::buffered: writes gather in the store's buffer and reach the OS in large pieces.

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>


namespace kvforge {

/// Durability policy: a write is copied into the store's buffer, which goes to the OS
/// when it holds Bytes, when a write comes Millis milliseconds or more after the
/// oldest buffered one, and on flush() or close(); it is on disk after sync() or
/// close(). The default for persistent stores, and the reference for writing a
/// durability policy: a policy provides writer<IO, Concurrent> with the members below.
template <std::size_t Bytes = std::size_t{4} << 20, unsigned Millis = 1000>
struct buffered {
    static_assert(Bytes > 0, "kvforge: buffered<Bytes, Millis> needs a buffer of at least one byte");
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "buffered";
    static constexpr std::size_t buffer_bytes = Bytes;
    static constexpr unsigned flush_millis = Millis;

    /// Every member is called under the store's write lock, except read_pending,
    /// written_end and end, which readers call under the shared lock; so the buffer needs
    /// no lock of its own.
    template <class IO, bool Concurrent>
    class writer {
    public:
        /// Whether put() hands out sequence numbers for wait_durable().
        static constexpr bool sequenced = false;

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            file_ = &file;
            file_end_ = end;
            buffer_.clear();
        }

        /// Takes a whole record; returns where it will sit in the file.
        detail::append_result append(std::string_view record, std::error_code& ec) {
            const std::chrono::nanoseconds now = writer::now();
            if (buffer_.empty()) {
                oldest_ = now;
                if (buffer_.capacity() < Bytes) buffer_.reserve(Bytes);
            }
            const detail::append_result result{file_end_ + buffer_.size(), ++appended_};
            buffer_.append(record);
            if (buffer_.size() >= Bytes || now - oldest_ >= std::chrono::milliseconds(Millis)) flush(ec);
            return result;
        }

        /// Nothing to wait for: a buffered write is acknowledged once it is in the buffer.
        void commit(std::uint64_t, std::error_code&) {}

        /// The end of the data, buffered bytes included.
        [[nodiscard]] std::uint64_t end() const noexcept { return file_end_ + buffer_.size(); }

        /// The end of the records in the file; those from it on are still in the buffer.
        /// In every writer it is where a record starts, read in one piece (async_worker,
        /// whose thread moves it, reads it under its lock), and it only grows until the
        /// next attach: readers rely on that to read ahead of a record, and verify()
        /// checks the file up to it.
        [[nodiscard]] std::uint64_t written_end() const noexcept { return file_end_; }

        /// Copies bytes that are still in the buffer; false when they are in the file.
        bool read_pending(std::uint64_t offset, char* into, std::size_t size) const noexcept {
            if (offset < file_end_) return false;
            std::memcpy(into, buffer_.data() + (offset - file_end_), size);
            return true;
        }

        /// Writes the buffer to the OS.
        void flush(std::error_code& ec) {
            if (buffer_.empty()) return;
            if (!file_->write(file_end_, buffer_, ec)) {
                failure_.record(ec);
                return;
            }
            file_end_ += buffer_.size();
            bytes_written_ += buffer_.size();
            buffer_.clear();
        }

        /// Writes the buffer and syncs the file.
        void sync(std::error_code& ec) {
            flush(ec);
            if (ec) return;
            syncs_ += 1;
            if (!file_->sync(ec)) failure_.record(ec);
        }

        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) {
            sync(ec);
            // Nothing is appended after close: the buffer's memory goes back before the hint is written.
            if (!ec) std::string().swap(buffer_);
        }
        [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_; }
        /// Bytes written to the file so far (buffered bytes are not, until flushed).
        [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
        /// Reports an earlier failure through ec; false when there was none.
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        /// The monotonic clock. For bounds of 100 ms and more, at the kernel tick's
        /// resolution (a few milliseconds, a small error at that scale): that read costs a
        /// fraction of a precise one, which matters since every write reads the clock.
        static std::chrono::nanoseconds now() noexcept {
#ifdef CLOCK_MONOTONIC_COARSE
            constexpr clockid_t clock = Millis >= 100 ? CLOCK_MONOTONIC_COARSE : CLOCK_MONOTONIC;
#else
            constexpr clockid_t clock = CLOCK_MONOTONIC;
#endif
            timespec time{};
            ::clock_gettime(clock, &time);
            return std::chrono::seconds(time.tv_sec) + std::chrono::nanoseconds(time.tv_nsec);
        }

        detail::data_file<IO>* file_ = nullptr;
        std::uint64_t file_end_ = 0;
        std::string buffer_;
        std::chrono::nanoseconds oldest_{};
        std::uint64_t appended_ = 0;
        std::uint64_t syncs_ = 0;
        std::uint64_t bytes_written_ = 0;
        detail::sticky_failure failure_;
    };
};

static_assert(durability_policy<buffered<>>);

}  // namespace kvforge
// ---- end kvforge/durability/buffered.hpp ----
// ---- begin kvforge/io/posix.hpp ----
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
// ---- end kvforge/io/posix.hpp ----
// ---- begin kvforge/stores/memory.hpp ----
/// \file memory.hpp
/// kvforge::memory: records live in the index itself, in memory only.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <system_error>

// ---- begin kvforge/detail/table_snapshot.hpp ----
/// \file table_snapshot.hpp
/// Copies of an index table, for snapshots: copy_table() (a log store's snapshot copies
/// its index of record places) and table_snapshot, a memory store's snapshot, whose
/// table holds the values themselves. A snapshot's table is never changed once made, so
/// it is read with no lock.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>


namespace kvforge::detail {

/// A copy of table: every key with its payload. Tables are move-only (a copy costs
/// memory and time in proportion to the table, which callers should spend knowingly), so
/// this is the one way to copy one. The library's tables copy their arrays as blocks
/// (clone()); any other table is copied by inserting each of its keys into a new one.
template <class Table>
[[nodiscard]] Table copy_table(const Table& table) {
    if constexpr (requires {
                      { table.clone() } -> std::same_as<Table>;
                  }) {
        return table.clone();
    } else {
        Table copy;
        if constexpr (requires { copy.reserve(table.size()); }) copy.reserve(table.size());
        table.for_each([&](std::string_view key, std::string_view payload) {
            copy.upsert(key, payload, [](std::string_view) {});
        });
        return copy;
    }
}

/// A memory store's snapshot: its own copy of the store's table, read with the calls a
/// store backend answers reads with.
template <class Table>
class table_snapshot {
public:
    /// A snapshot takes no writes, so it hands out no sequence numbers.
    static constexpr bool sequenced = false;

    table_snapshot() = default;
    explicit table_snapshot(Table table) noexcept : table_(std::move(table)) {}

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const auto value = table_.find(key);
        if (!value) return false;
        on_value(*value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(
            key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const { return table_.find(key).has_value(); }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        table_.visit_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        table_.visit_down_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        table_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
    /// A snapshot never changes, so a scan over it never reads a chunk again.
    [[nodiscard]] static constexpr std::uint64_t write_version() noexcept { return 0; }

private:
    Table table_;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/table_snapshot.hpp ----
// ---- begin kvforge/detail/write_version.hpp ----
/// \file write_version.hpp
/// A store's write version: a number that every change of its contents moves on, so
/// that a scan can tell whether the records it read ahead may be stale.

#include <atomic>
#include <cstdint>

namespace kvforge::detail {

/// The write version of a store; bumped under the store's exclusive lock, read without
/// any lock. Concurrent stores publish it with release and read it with acquire, so a
/// reader that sees an unchanged version read its records after the last change before it.
template <bool Concurrent>
class write_version {
public:
    void bump() noexcept { value_.fetch_add(1, std::memory_order_release); }
    [[nodiscard]] std::uint64_t load() const noexcept { return value_.load(std::memory_order_acquire); }

private:
    std::atomic<std::uint64_t> value_{0};
};

/// A store used by one thread at a time needs no atomic.
template <>
class write_version<false> {
public:
    void bump() noexcept { ++value_; }
    [[nodiscard]] std::uint64_t load() const noexcept { return value_; }

private:
    std::uint64_t value_ = 0;
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/write_version.hpp ----

namespace kvforge {

namespace detail {

/// The shape of callable an index table's find_many() calls: (index of the key, payload or nullopt).
struct indexed_payload_visitor {
    void operator()(std::size_t, std::optional<std::string_view>) const noexcept {}
};

/// The byte-level store behind store<K, V, memory, ...>: the index table maps each key
/// straight to its value bytes, guarded by the threading policy's mutex.
///
/// This is also the reference for what a store policy's backend provides: the
/// operations below on encoded keys and values, each reporting failure through ec.
template <class Policies>
class memory_backend {
    using table_type = typename Policies::index::table;
    using mutex_type = typename Policies::threading::mutex_type;
    using counter_type = typename Policies::threading::counter_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;

public:
    /// Writes do not hand out sequence numbers.
    static constexpr bool sequenced = false;

    /// Checks the options a memory store is built with: it has no budget to keep.
    void configure(const kvforge::options& opts, std::error_code& ec) {
        if (opts.memory_budget != 0) {
            fail(ec, errc::invalid_argument,
                 "options::memory_budget needs a bounded store: add kvforge::bounded<> to the store's policies");
        }
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        upsert(key, value);
        return 0;
    }

    bool erase(std::string_view key, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        return remove(key);
    }

    /// Applies a batch under one lock, so readers see all of it or none of it.
    std::uint64_t write(const batch_buffer& ops, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        ops.for_each([this](batch_op op, std::string_view key, std::string_view value) {
            if (op == batch_op::put) {
                upsert(key, value);
            } else {
                remove(key);
            }
        });
        batches_.add(1);
        return 0;
    }

    /// Calls on_value(value bytes) under the read lock when key exists; returns whether it did.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        const auto value = table_.find(key);
        if (!value) return false;
        on_value(*value);
        return true;
    }

    /// Calls on_value(i, value bytes) for each keys[i] that exists, under one read lock,
    /// overlapping the lookups where the table can (find_many).
    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(keys.size());
        if constexpr (requires(const table_type& t) { t.find_many(keys, detail::indexed_payload_visitor{}); }) {
            table_.find_many(keys, [&](std::size_t i, std::optional<std::string_view> value) {
                if (value) on_value(i, *value);
            });
        } else {
            for (std::size_t i = 0; i < keys.size(); ++i) {
                if (const auto value = table_.find(keys[i])) on_value(i, *value);
            }
        }
    }

    /// Copies key's value into out; returns whether key exists.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { detail::assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        return table_.find(key).has_value();
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.visit_from(from, inclusive, visitor);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.visit_down_from(from, inclusive, visitor);
    }

    /// Calls visitor(key, value) for every record, under the read lock: with thread_safe,
    /// writers wait for the walk and the visitor must not write to the store. It walks no
    /// snapshot, as a log store does, since a memory store's snapshot copies every value.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        table_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on, read without a lock: a scan
    /// re-reads what it read ahead once it moved (see scan_range.hpp).
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// A read-only copy of the store as it is now: a copy of every key and value, made
    /// under the read lock (writers wait for it; readers go on).
    [[nodiscard]] table_snapshot<table_type> snapshot(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        return table_snapshot<table_type>(copy_table(table_));
    }

    void clear(std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        table_.clear();
        live_bytes_ = 0;
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = table_.size();
        s.live_bytes = live_bytes_;
        s.memory_bytes = table_.memory_usage();
        s.puts = puts_.load();
        s.gets = gets_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
        return s;
    }

    /// Nothing to write out: a memory store has no files.
    void flush(std::error_code& /*ec*/) {}
    void sync(std::error_code& /*ec*/) {}
    /// The index reclaims its own garbage as it goes, so there is nothing to compact.
    void compact(std::error_code& /*ec*/) {}

    /// Walks every record; a memory store has no checksums, so it reports the count.
    [[nodiscard]] verify_report verify(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        verify_report report;
        table_.for_each([&](std::string_view, std::string_view) { ++report.records_checked; });
        return report;
    }

private:
    void upsert(std::string_view key, std::string_view value) {
        table_.upsert(key, value, [&](std::string_view old) { live_bytes_ -= key.size() + old.size(); });
        live_bytes_ += key.size() + value.size();
        puts_.add(1);
    }

    bool remove(std::string_view key) {
        const bool removed =
            table_.erase(key, [&](std::string_view old) { live_bytes_ -= key.size() + old.size(); });
        if (removed) erases_.add(1);
        return removed;
    }

    mutable mutex_type mutex_;
    table_type table_;
    detail::write_version<Policies::threading::concurrent> version_;
    std::size_t live_bytes_ = 0;
    counter_type puts_;
    mutable counter_type gets_;
    counter_type erases_;
    counter_type batches_;
};

}  // namespace detail

/// Store policy: everything in memory, nothing on disk; takes no durability policy.
/// The reference for writing a store policy: name the kind, say whether it is
/// persistent, and provide backend<Policies>.
struct memory {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = false;
    static constexpr std::string_view name = "memory";
    template <class Policies>
    using backend = detail::memory_backend<Policies>;
};

static_assert(store_policy<memory>);

}  // namespace kvforge
// ---- end kvforge/stores/memory.hpp ----
// ---- begin kvforge/threading/single_thread.hpp ----
/// \file single_thread.hpp
/// kvforge::single_thread: no locks at all, for stores used by one thread at a time.

#include <cstddef>
#include <string_view>


namespace kvforge {

namespace detail {

/// A mutex that does nothing; every call compiles away.
struct null_shared_mutex {
    void lock() noexcept {}
    void unlock() noexcept {}
    void lock_shared() noexcept {}
    void unlock_shared() noexcept {}
};

/// A plain counter for a store that only one thread touches.
class plain_counter {
public:
    void add(std::size_t n) noexcept { value_ += n; }
    [[nodiscard]] std::size_t load() const noexcept { return value_; }

private:
    std::size_t value_ = 0;
};

}  // namespace detail

/// Threading policy: no synchronisation. The reference for writing a threading policy.
struct single_thread {
    using policy_kind = kvforge::policy_kind::threading;
    static constexpr std::string_view name = "single_thread";
    static constexpr std::string_view short_name = "st";  ///< also accepted in a store spec
    using mutex_type = detail::null_shared_mutex;
    using counter_type = detail::plain_counter;
    static constexpr bool concurrent = false;
};

static_assert(threading_policy<single_thread>);

}  // namespace kvforge
// ---- end kvforge/threading/single_thread.hpp ----

namespace kvforge::detail {

/// The durability of a store that keeps nothing on disk.
struct no_durability {
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "none";
};

/// The cache policy of a store that has none: its store policy's backend as it is.
struct no_cache {
    using policy_kind = kvforge::policy_kind::cache;
    template <class Policies, class StoreBackend>
    using backend = StoreBackend;
};

template <class P>
concept any_policy = policy_of_kind<P, policy_kind::store> || policy_of_kind<P, policy_kind::durability> ||
                     policy_of_kind<P, policy_kind::index> || policy_of_kind<P, policy_kind::threading> ||
                     policy_of_kind<P, policy_kind::io> || policy_of_kind<P, policy_kind::cache> ||
                     policy_of_kind<P, policy_kind::expiry> || policy_of_kind<P, policy_kind::compression>;

template <class Kind, class... Ps>
inline constexpr std::size_t count_of_kind = (std::size_t{0} + ... + (policy_of_kind<Ps, Kind> ? 1 : 0));

/// The first of Ps whose kind is Kind, or Default.
template <class Kind, class Default, class... Ps>
struct find_policy {
    using type = Default;
};
template <class Kind, class Default, class P, class... Rest>
struct find_policy<Kind, Default, P, Rest...> {
    using type = std::conditional_t<policy_of_kind<P, Kind>, P, typename find_policy<Kind, Default, Rest...>::type>;
};

/// The policy of each kind for a list given in any order.
template <class... Ps>
struct resolved_policies {
    using store = typename find_policy<policy_kind::store, memory, Ps...>::type;
    using index = typename find_policy<policy_kind::index, hash_index, Ps...>::type;
    using threading = typename find_policy<policy_kind::threading, single_thread, Ps...>::type;
    using io = typename find_policy<policy_kind::io, posix_io, Ps...>::type;
    static constexpr bool durability_given = count_of_kind<policy_kind::durability, Ps...> != 0;
    static constexpr bool io_given = count_of_kind<policy_kind::io, Ps...> != 0;
    using cache = typename find_policy<policy_kind::cache, no_cache, Ps...>::type;
    static constexpr bool cache_given = count_of_kind<policy_kind::cache, Ps...> != 0;
    using expiry = typename find_policy<policy_kind::expiry, no_expiry, Ps...>::type;
    static constexpr bool expiry_given = count_of_kind<policy_kind::expiry, Ps...> != 0;
    using compression = typename find_policy<policy_kind::compression, no_compression, Ps...>::type;
    static constexpr bool compression_given = count_of_kind<policy_kind::compression, Ps...> != 0;
    using durability = typename find_policy<policy_kind::durability,
                                            std::conditional_t<store::persistent, buffered<>, no_durability>,
                                            Ps...>::type;
};

template <class T>
inline constexpr bool is_view_type = is_string_view_v<T>;

/// Whether a store policy reads through a memory mapping (declares `mapped = true`).
template <class Store>
inline constexpr bool mapped_store = requires { requires Store::mapped; };

/// Checks a store's template arguments; each failure is a static_assert naming the fix.
/// Returns true so it can sit inside a static_assert of its own.
template <class Key, class Value, class... Ps>
consteval bool check_store_arguments() {
    static_assert((any_policy<Ps> && ...),
                  "kvforge: every argument after Key and Value must be a kvforge policy: a store "
                  "(memory, file_log, mmap_file), durability (sync_each, buffered<>, async_worker<>), index (hash_index, "
                  "sorted_index), threading (single_thread, thread_safe), I/O (posix_io), cache (bounded<>, "
                  "read_cache<>), expiry (expiring<>) or compression (compressed<Codec>) policy");
    static_assert(count_of_kind<policy_kind::store, Ps...> <= 1,
                  "kvforge: two store policies given; keep one of kvforge::memory, kvforge::file_log, "
                  "kvforge::mmap_file");
    static_assert(count_of_kind<policy_kind::durability, Ps...> <= 1,
                  "kvforge: two durability policies given; keep one of kvforge::sync_each, "
                  "kvforge::buffered<>, kvforge::async_worker<>");
    static_assert(count_of_kind<policy_kind::index, Ps...> <= 1,
                  "kvforge: two index policies given; keep one of kvforge::hash_index, kvforge::sorted_index");
    static_assert(count_of_kind<policy_kind::threading, Ps...> <= 1,
                  "kvforge: two threading policies given; keep one of kvforge::single_thread, "
                  "kvforge::thread_safe");

    static_assert(count_of_kind<policy_kind::io, Ps...> <= 1, "kvforge: two I/O policies given; keep one");
    static_assert(count_of_kind<policy_kind::cache, Ps...> <= 1,
                  "kvforge: two cache policies given; keep one: kvforge::bounded<> for a memory store, "
                  "kvforge::read_cache<> for a persistent one");

    static_assert(count_of_kind<policy_kind::expiry, Ps...> <= 1,
                  "kvforge: two expiry policies given; keep one kvforge::expiring<Clock>");
    static_assert(count_of_kind<policy_kind::compression, Ps...> <= 1,
                  "kvforge: two compression policies given; keep one kvforge::compressed<Codec>");

    using policies = resolved_policies<Ps...>;
    // A file store keeps each deadline as a count of the clock's ticks since its epoch,
    // read back after a restart: the epoch must outlive the process and the machine's uptime.
    static_assert(!policies::expiry_given || !policies::store::persistent ||
                      !std::is_same_v<typename policies::expiry::clock, std::chrono::steady_clock>,
                  "kvforge: a file store keeps its deadlines across restarts, but std::chrono::steady_clock counts "
                  "from the machine's boot, so a deadline read after a reboot would mean another time; use "
                  "kvforge::expiring<std::chrono::system_clock>");
    static_assert(!policies::expiry_given || !policies::store::persistent ||
                      named_clock<typename policies::expiry::clock>,
                  "kvforge: a file store records the clock of its deadlines in its MANIFEST, and this clock has no "
                  "name: give it a member `static constexpr std::string_view name`, or specialize "
                  "kvforge::clock_name<Clock>");
    static_assert(store_policy<typename policies::store>,
                  "kvforge: the store policy does not satisfy the concept kvforge::store_policy, which lists what it must provide");
    static_assert(index_policy<typename policies::index>,
                  "kvforge: the index policy does not satisfy the concept kvforge::index_policy, which lists what it must provide");
    static_assert(threading_policy<typename policies::threading>,
                  "kvforge: the threading policy does not satisfy the concept kvforge::threading_policy, which lists what it must provide");
    static_assert(durability_policy<typename policies::durability>,
                  "kvforge: the durability policy does not satisfy the concept kvforge::durability_policy, which lists what it must provide");
    static_assert(policies::store::persistent || !policies::durability_given,
                  "kvforge: kvforge::memory keeps nothing on disk, so it takes no durability policy; remove the "
                  "durability policy or choose a persistent store such as kvforge::file_log");
    static_assert(policies::store::persistent || !policies::io_given,
                  "kvforge: kvforge::memory does no I/O, so it takes no I/O policy; remove it or choose a "
                  "persistent store such as kvforge::file_log");
    static_assert(io_policy<typename policies::io>,
                  "kvforge: the I/O policy does not satisfy the concept kvforge::io_policy, which lists what it must provide");
                      if constexpr (policies::cache_given) {
        using cache = typename policies::cache;
        static_assert(cache_policy<cache>,
                      "kvforge: the cache policy does not satisfy the concept kvforge::cache_policy, which lists what it must provide");
        static_assert(cache::persistent_store || !policies::store::persistent,
                      "kvforge: kvforge::bounded<> bounds a kvforge::memory store; to keep a persistent store's "
                      "values in memory use kvforge::read_cache<>");
        static_assert(!cache::persistent_store || policies::store::persistent,
                      "kvforge: kvforge::read_cache<> caches a persistent store's values, and a kvforge::memory "
                      "store holds them in memory already; to bound its size use kvforge::bounded<>");
        // Measured (bench/cache_bench.cpp, zipf_get): a mapped store's get copies from the
        // page cache and is faster alone than behind a read cache, whose hits save little
        // and whose misses add an insert.
        static_assert(!cache::persistent_store || !mapped_store<typename policies::store>,
                      "kvforge: kvforge::read_cache<> cannot speed up kvforge::mmap_file, whose gets already copy "
                      "from the page cache through its mapping; use mmap_file alone, or kvforge::file_log with "
                      "read_cache<>");
    }

    static_assert(!is_view_type<Key> && !is_view_type<Value>,
                  "kvforge: use std::string, not std::string_view, as the key or value type: a view cannot own "
                  "the bytes a store returns; every call of a std::string store accepts std::string_view");
    static_assert(encodable<Key>,
                  "kvforge: no codec for the key type; specialise kvforge::codec<Key> with static "
                  "std::string name(), std::string_view encode(const Key&, std::string& scratch) and "
                  "bool decode(std::string_view, Key&)");
    static_assert(encodable<Value>,
                  "kvforge: no codec for the value type; specialise kvforge::codec<Value> with static "
                  "std::string name(), std::string_view encode(const Value&, std::string& scratch) and "
                  "bool decode(std::string_view, Value&)");
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/policy_pack.hpp ----
// ---- begin kvforge/scan_range.hpp ----
/// \file scan_range.hpp
/// kvforge::scan_range: the ordered range store::scan() returns.

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge {

namespace detail {

/// The first key after every key that starts with prefix, in upper: prefix with its
/// trailing 0xff bytes dropped and the last byte left incremented. Returns false when no
/// byte is left (the prefix is empty or all 0xff), so nothing bounds the range.
inline bool prefix_end(std::string_view prefix, std::string& upper) {
    upper.assign(prefix);
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
    if (upper.empty()) return false;
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    return true;
}

}  // namespace detail

/// The order in which a scan hands out keys.
enum class scan_order { ascending, descending };
/// Smallest key first (the default).
inline constexpr scan_order ascending = scan_order::ascending;
/// Largest key first.
inline constexpr scan_order descending = scan_order::descending;

namespace detail {

/// Where a scan starts and where it stops, as encoded keys, in the scan's order.
struct scan_bounds {
    scan_order order = scan_order::ascending;
    std::string start;            // the first key the scan may hand out (or, when !inclusive, just past it)
    bool inclusive = true;        // whether a record at start itself is handed out
    bool from_last = false;       // descending from the largest key (start unused)
    std::string limit;            // the scan stops at a key >= limit (ascending), < limit (descending)
    bool limited = false;         // whether limit applies

    /// The keys in [from, to), in order.
    static scan_bounds between(std::string from, std::string to, scan_order order) {
        scan_bounds b;
        b.order = order;
        b.limited = true;
        if (order == scan_order::ascending) {
            b.start = std::move(from);
            b.limit = std::move(to);
        } else {
            b.start = std::move(to);
            b.inclusive = false;
            b.limit = std::move(from);
        }
        return b;
    }

    /// The keys from `from` (included) to the end the order leads to: the largest key
    /// when ascending, the smallest when descending.
    static scan_bounds starting_at(std::string from, scan_order order) {
        scan_bounds b;
        b.order = order;
        b.start = std::move(from);
        return b;
    }

    /// Every key, in order.
    static scan_bounds everything(scan_order order) {
        scan_bounds b;
        b.order = order;
        b.from_last = order == scan_order::descending;
        return b;
    }

    /// The keys that start with prefix, in order.
    static scan_bounds with_prefix(std::string prefix, scan_order order) {
        std::string upper;
        const bool bounded = prefix_end(prefix, upper);
        scan_bounds b;
        b.order = order;
        if (order == scan_order::ascending) {
            b.start = std::move(prefix);
            b.limit = std::move(upper);
            b.limited = bounded;
        } else {
            b.start = std::move(upper);
            b.inclusive = false;
            b.from_last = !bounded;
            b.limit = std::move(prefix);
            b.limited = true;
        }
        return b;
    }
};

}  // namespace detail

/// The keys in [from, to) (or all, or from a key on, or those with a prefix) with their
/// values, in ascending or descending key order, read from the store a chunk at a time.
///
/// Each chunk is read under the store's read lock, which is released between chunks,
/// so a long scan never blocks writers for long, and the loop body (or another thread)
/// may write to the store. The contract:
/// - each key is seen at most once, in the scan's order;
/// - a key written while the scan runs is seen if it comes after the scan's position
///   (the last key handed out) in the scan's order, and not if it comes before;
/// - every record handed out holds the value its key had at some moment after the scan
///   reached it, and a key erased before the scan reached it is not handed out.
/// The chunk read ahead keeps this by its store's write version (moved on by every put,
/// erase, batch, clear and compaction): when the version has moved since the chunk was
/// read, the scan reads again from just past the last key it handed out. It is not a
/// snapshot: keys the scan has passed may change behind it. Iterate a range once.
template <class Backend, class Key, class Value>
class scan_range {
public:
    using value_type = std::pair<Key, Value>;

    /// Reads from backend the keys within bounds, in their order. Errors are reported
    /// through *ec when ec is given, else thrown.
    scan_range(const Backend& backend, detail::scan_bounds bounds, std::error_code* ec)
        : backend_(&backend), bounds_(std::move(bounds)), ec_(ec) {
        if (ec_ != nullptr) ec_->clear();
    }

    /// An input iterator over the range.
    class iterator {
    public:
        using value_type = std::pair<Key, Value>;
        using difference_type = std::ptrdiff_t;

        iterator() = default;
        explicit iterator(scan_range* range) : range_(range) {}

        const value_type& operator*() const { return range_->chunk_[range_->position_]; }
        const value_type* operator->() const { return &range_->chunk_[range_->position_]; }
        iterator& operator++() {
            range_->advance();
            return *this;
        }
        void operator++(int) { range_->advance(); }
        friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

    private:
        [[nodiscard]] bool at_end() const noexcept { return range_->done(); }

        scan_range* range_ = nullptr;
    };

    /// Reads the first chunk; call once.
    iterator begin() {
        fetch();
        return iterator(this);
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    // A chunk ends at whichever limit comes first; both keep the read lock short.
    static constexpr std::size_t chunk_records = 256;
    static constexpr std::size_t chunk_bytes = std::size_t{1} << 20;

    [[nodiscard]] bool done() const noexcept { return position_ >= filled_; }

    void advance() {
        ++position_;
        // When the store changed since the chunk was read, what was read ahead may be
        // stale, and keys may have come in after the last one handed out: read again.
        if ((position_ == filled_ && more_) || backend_->write_version() != version_) refetch();
    }

    /// Reads again from just past the last key handed out, encoded again: a codec's
    /// decode gives back what its encode was given, so these are the stored bytes. (A copy
    /// of every key's bytes, kept in case, would cost scans a third of their speed.)
    void refetch() {
        std::string scratch;
        bounds_.start.assign(codec<Key>::encode(chunk_[position_ - 1].first, scratch));
        bounds_.inclusive = false;
        bounds_.from_last = false;
        fetch();
    }

    /// Decodes the next chunk into chunk_, reusing its elements' storage.
    void fetch() {
        filled_ = 0;
        position_ = 0;
        more_ = false;
        // Read before the chunk: a write that lands while it is read moves the version on
        // past this value, so at worst the chunk is read once more.
        version_ = backend_->write_version();
        std::error_code ec;
        std::size_t bytes = 0;
        const auto take = [&](std::string_view key, std::string_view value) {
            if (bounds_.limited && past_limit(key)) return false;
            if (filled_ == chunk_records || bytes >= chunk_bytes) {
                more_ = true;
                return false;
            }
            if (filled_ == chunk_.size()) chunk_.emplace_back();
            value_type& slot = chunk_[filled_];
            if (!codec<Key>::decode(key, slot.first)) {
                detail::fail(ec, errc::key_decode_failed, "scan: a stored key cannot be decoded as the key type");
                return false;
            }
            if (!codec<Value>::decode(value, slot.second)) {
                detail::fail(ec, errc::value_decode_failed,
                             "scan: a stored value cannot be decoded as the value type");
                return false;
            }
            ++filled_;
            bytes += key.size() + value.size();
            return true;
        };
        if (bounds_.order == scan_order::ascending) {
            backend_->visit_from(bounds_.start, bounds_.inclusive, take, ec);
        } else {
            backend_->visit_down_from(bounds_.from_last ? std::nullopt : std::optional<std::string_view>(bounds_.start),
                                      bounds_.inclusive, take, ec);
        }
        if (ec) {
            filled_ = 0;
            more_ = false;
            if (ec_ == nullptr) throw error(ec, detail::last_error_detail());
            *ec_ = ec;
        }
    }

    /// Whether key lies past the scan's limit, where it ends.
    [[nodiscard]] bool past_limit(std::string_view key) const noexcept {
        return bounds_.order == scan_order::ascending ? key >= bounds_.limit : key < bounds_.limit;
    }

    const Backend* backend_;
    detail::scan_bounds bounds_;  // its start moves on to the last key handed out at each refetch
    bool more_ = false;
    std::error_code* ec_;
    std::vector<value_type> chunk_;
    std::uint64_t version_ = 0;      // the store's write version when chunk_ was read
    std::size_t filled_ = 0;
    std::size_t position_ = 0;
};

}  // namespace kvforge
// ---- end kvforge/scan_range.hpp ----
// ---- begin kvforge/snapshot.hpp ----
/// \file snapshot.hpp
/// kvforge::snapshot: a read-only view of a store as it was when store::snapshot() was
/// called, while writers go on.
///
/// What a snapshot costs depends on the store. A log store's (file_log, mmap_file)
/// copies its index (about what stats().memory_bytes says the index takes) and holds
/// the data files it names; the files are not copied, and segments that compaction or
/// clear() retires meanwhile keep their disk space until the last snapshot holding them
/// goes. A memory store's copies every key and value. Reads of a snapshot take no lock
/// of the store, so they never hold writers up.

#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>


namespace kvforge {

namespace detail {
struct store_access;  // kvforge's own layers above store (open_store.hpp)

/// Whether a store backend takes snapshots: snapshot(ec) returns its snapshot's state.
template <class Backend>
concept takes_snapshots = requires(Backend& backend, std::error_code& ec) {
    backend.snapshot(ec);
};

/// What snapshot_view_of names for a backend that takes no snapshots: no snapshot is ever
/// made of it, but a store's snapshot_type stays a class (its constrained-away snapshot()
/// members still compile where a compiler instantiates them; see store).
struct no_snapshot_view {};

/// The state Backend's snapshot() returns; no_snapshot_view for a backend that takes none.
template <class Backend>
struct snapshot_view_of {
    using type = no_snapshot_view;
};
template <takes_snapshots Backend>
struct snapshot_view_of<Backend> {
    using type = decltype(std::declval<Backend&>().snapshot(std::declval<std::error_code&>()));
};
}  // namespace detail

/// What a store's snapshot() returns: the read calls of a store (get, contains, visit,
/// scan, scan_from, scan_prefix, for_each, size), answered as of the snapshot. View is
/// the store's own snapshot state; Ordered says whether its index is (scans need it).
/// Copies share one view, which is released, with what it holds, when the last goes.
/// A snapshot may outlive its store's close(), but not the store object itself; a range
/// must not outlive the snapshot it came from.
template <class View, class Key, class Value, bool Ordered>
class snapshot {
    using key_param = detail::param_t<Key>;

public:
    using key_type = Key;
    using mapped_type = Value;
    using range_type = scan_range<View, Key, Value>;
    /// Whether the store's index is ordered, so that the scans work.
    static constexpr bool ordered = Ordered;

    /// Takes over a store's snapshot state.
    explicit snapshot(View view) : view_(std::make_shared<const View>(std::move(view))) {}

    /// The value key had, or nullopt.
    [[nodiscard]] std::optional<Value> get(key_param key) const {
        std::error_code ec;
        std::optional<Value> value = get(key, ec);
        detail::throw_if(ec);
        return value;
    }
    /// As get(key); nullopt with ec set on failure.
    [[nodiscard]] std::optional<Value> get(key_param key, std::error_code& ec) const noexcept {
        std::optional<Value> result;
        guarded(ec, [&] {
            Value value{};
            if (read_decoded(key, value, ec)) result = std::move(value);
        });
        return result;
    }
    /// Decodes the value key had into out, reusing out's storage; returns whether key existed.
    bool get(key_param key, Value& out) const {
        std::error_code ec;
        const bool found = get(key, out, ec);
        detail::throw_if(ec);
        return found;
    }
    /// As get(key, out); false with ec set on failure.
    bool get(key_param key, Value& out, std::error_code& ec) const noexcept {
        bool found = false;
        guarded(ec, [&] { found = read_decoded(key, out, ec); });
        return found;
    }

    /// Whether key existed.
    [[nodiscard]] bool contains(key_param key) const {
        std::error_code ec;
        const bool found = contains(key, ec);
        detail::throw_if(ec);
        return found;
    }
    [[nodiscard]] bool contains(key_param key, std::error_code& ec) const noexcept {
        bool found = false;
        guarded(ec, [&] {
            std::string scratch;
            const std::string_view k = codec<Key>::encode(key, scratch);
            found = k.size() <= max_key_size && view_->contains(k, ec);
        });
        return found;
    }

    /// Calls fn(std::string_view) with the stored bytes of key's value, without copying
    /// them; returns whether key existed. The view is valid only during the call.
    template <class Fn>
    bool visit(key_param key, Fn&& fn) const {
        std::error_code ec;
        const bool found = visit(key, std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
        return found;
    }
    /// As visit(key, fn); false with ec set on failure. Exceptions from fn propagate.
    template <class Fn>
    bool visit(key_param key, Fn&& fn, std::error_code& ec) const {
        ec.clear();
        std::string scratch;
        const std::string_view k = codec<Key>::encode(key, scratch);
        return k.size() <= max_key_size && view_->read(k, fn, ec);
    }

    /// The keys in [from, to) with their values, in ascending key order, or in descending
    /// order with kvforge::descending. Needs an ordered index.
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order = ascending) const {
        return range(detail::scan_bounds::between(encoded(from), encoded(to), order), nullptr);
    }
    /// As scan(from, to, order); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order, std::error_code& ec) const {
        return range(detail::scan_bounds::between(encoded(from), encoded(to), order), &ec);
    }
    /// Every key with its value, in ascending (or descending) key order. Needs an ordered index.
    [[nodiscard]] range_type scan(scan_order order = ascending) const {
        return range(detail::scan_bounds::everything(order), nullptr);
    }
    [[nodiscard]] range_type scan(scan_order order, std::error_code& ec) const {
        return range(detail::scan_bounds::everything(order), &ec);
    }
    /// The keys >= from in ascending order, or with kvforge::descending the keys <= from,
    /// largest first. Needs an ordered index.
    [[nodiscard]] range_type scan_from(key_param from, scan_order order = ascending) const {
        return range(detail::scan_bounds::starting_at(encoded(from), order), nullptr);
    }
    [[nodiscard]] range_type scan_from(key_param from, scan_order order, std::error_code& ec) const {
        return range(detail::scan_bounds::starting_at(encoded(from), order), &ec);
    }
    /// The keys that start with prefix (compared as encoded bytes) with their values.
    /// Needs an ordered index.
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order = ascending) const {
        return range(detail::scan_bounds::with_prefix(encoded(prefix), order), nullptr);
    }
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order, std::error_code& ec) const {
        return range(detail::scan_bounds::with_prefix(encoded(prefix), order), &ec);
    }

    /// Calls fn(const Key&, const Value&) for every record: in key order with an ordered
    /// index, else in no particular order.
    template <class Fn>
    void for_each(Fn&& fn) const {
        std::error_code ec;
        for_each(std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
    }
    template <class Fn>
    void for_each(Fn&& fn, std::error_code& ec) const {
        ec.clear();
        std::pair<Key, Value> record;
        view_->for_each(
            [&](std::string_view k, std::string_view v) {
                if (ec) return;
                if (!codec<Key>::decode(k, record.first)) {
                    detail::fail(ec, errc::key_decode_failed, "for_each: a stored key cannot be decoded");
                } else if (decode_value(v, record.second, ec)) {
                    fn(std::as_const(record.first), std::as_const(record.second));
                }
            },
            ec);
    }

    /// The number of keys (with kvforge::expiring<>, those whose deadline has not come
    /// when it is called, which reads every value).
    [[nodiscard]] std::size_t size() const { return view_->size(); }
    [[nodiscard]] bool empty() const { return size() == 0; }

private:
    friend struct detail::store_access;

    template <class F>
    static void guarded(std::error_code& ec, F&& f) noexcept {
        ec.clear();
        try {
            f();
        } catch (const std::bad_alloc&) {
            detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
        } catch (const std::exception& e) {
            detail::fail(ec, errc::codec_failed, e.what());
        }
    }

    bool read_decoded(key_param key, Value& out, std::error_code& ec) const {
        std::string scratch;
        const std::string_view k = codec<Key>::encode(key, scratch);
        // A key over the limit can never have been written, so it is simply absent.
        if (k.size() > max_key_size) return false;
        if constexpr (std::is_same_v<Value, std::string>) {
            return view_->read_value(k, out, ec);
        } else {
            bool found = false;
            view_->read(
                k, [&](std::string_view bytes) { found = decode_value(bytes, out, ec); }, ec);
            return found;
        }
    }

    static bool decode_value(std::string_view bytes, Value& out, std::error_code& ec) {
        if (codec<Value>::decode(bytes, out)) return true;
        detail::fail(ec, errc::value_decode_failed,
                     "stored value of " + std::to_string(bytes.size()) + " bytes cannot be decoded by codec<Value> ('" +
                         codec<Value>::name() + "')");
        return false;
    }

    static std::string encoded(key_param key) {
        std::string scratch;
        return std::string(codec<Key>::encode(key, scratch));
    }

    range_type range(detail::scan_bounds bounds, std::error_code* ec) const {
        static_assert(Ordered, "kvforge: scanning a snapshot needs an ordered index; use kvforge::sorted_index");
        return range_type(*view_, std::move(bounds), ec);
    }

    std::shared_ptr<const View> view_;
};

}  // namespace kvforge
// ---- end kvforge/snapshot.hpp ----
// ---- begin kvforge/stores/log/record_format.hpp ----
/// \file record_format.hpp
/// The bytes of a log-structured store's files: file headers and records, in format
/// versions 1 and 2. Every size, encoding and parse is here, so that writers, readers,
/// recovery, compaction and hints agree. docs/format.md describes the same layout for
/// readers of the files.
///
/// A data file is a header (32 bytes in version 1, 64 in version 2) followed by
/// records. Each record is
///
///     crc32c   u32 little-endian, over every byte of the record after it
///     type     u8: low 3 bits the kind (1 put, 2 erase, 3 batch, 4 clear); in version 2
///              a put's bit 0x08 says a deadline follows the sizes, bit 0x10 a value tag
///     put:     varint key size, varint value size, [deadline i64], [tag u8], key, value
///     erase:   varint key size, key
///     batch:   varint operation count, varint body size, body
///     clear:   nothing more (version 2): every record before it is dropped
///
/// where a batch body is a sequence of complete put and erase records, each with its
/// own checksum (so that a point read can check the one record it reads), and the
/// batch's checksum covers the whole body (so that recovery takes all of it or none).
/// A record without flag bits is the same bytes in both versions.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>


namespace kvforge::detail {

/// The format version this code writes; it reads this one and every earlier one.
inline constexpr std::uint16_t format_version = 2;

/// What a file holds, told by the last byte of its magic.
enum class file_kind : char { data = 'L', hint = 'H' };

/// The fixed header at the start of every data and hint file.
///
///     0  magic     8 bytes: "kvforge" then the file kind
///     8  version   u16: format version of the file
///     10 flags     u16: zero; a reader refuses unknown flags
///     12 file id   u32: a data file's random id, repeated in its hint; 0 in files of
///                  releases before it was written (which readers of those ignore)
///     16 codecs    u64: fingerprint of the key and value codecs
///     24 sequence  u32: the file's generation, also in its name
///     28 crc32c    u32: over bytes 0 to 27
///
/// and from version 2 on (after the first half, so that a version 1 reader, which
/// checks only that, reports a newer version rather than damage):
///
///     32 order     u64: where the file's records stand in replay order
///     40 layers    u64: fingerprint of the store's expiry and compression (layers_fingerprint),
///                  so that a lost MANIFEST can be rebuilt from the data files; 0 in files
///                  written before it was recorded, and in hint files
///     48 reserved  12 bytes: zero; a reader refuses others
///     60 crc32c    u32: over bytes 32 to 59
struct file_header {
    /// The header's size in the version this code writes.
    static constexpr std::size_t size = 64;
    /// The header's size in version 1 files.
    static constexpr std::size_t v1_size = 32;

    file_kind kind = file_kind::data;
    std::uint16_t version = format_version;
    std::uint64_t codec_fingerprint = 0;
    std::uint32_t generation = 0;
    /// Tells a data file from an earlier one of the same generation, so that a hint is
    /// used only for the file it was written for.
    std::uint32_t file_id = 0;
    /// Where the file's records stand in replay order; a version 1 file's is its generation.
    std::uint64_t order = 0;
    /// The store's expiry and compression, as layers_fingerprint gives them; 0 when not recorded.
    std::uint64_t layers = 0;

    /// The size of a header of this version.
    [[nodiscard]] static constexpr std::size_t size_of(std::uint16_t version) noexcept {
        return version < 2 ? v1_size : size;
    }
    /// The size of this header, by its version.
    [[nodiscard]] std::size_t bytes() const noexcept { return size_of(version); }

    /// Writes the header's bytes() bytes at out.
    void encode(char* out) const noexcept {
        std::memcpy(out, "kvforge", 7);
        out[7] = static_cast<char>(kind);
        put_le16(out + 8, version);
        put_le16(out + 10, 0);
        put_le32(out + 12, file_id);
        put_le64(out + 16, codec_fingerprint);
        put_le32(out + 24, generation);
        put_le32(out + 28, crc32c({out, 28}));
        if (version < 2) return;
        put_le64(out + 32, order);
        put_le64(out + 40, layers);
        std::memset(out + 48, 0, 12);
        put_le32(out + 60, crc32c({out + 32, 28}));
    }

    /// Why a header could not be read.
    enum class problem { none, truncated, bad_magic, bad_checksum, newer_version, unknown_flags };

    /// Reads a header from the first bytes of a file.
    [[nodiscard]] static problem decode(std::string_view bytes, file_kind expected, file_header& out) noexcept {
        if (bytes.size() < v1_size) return problem::truncated;
        const char* p = bytes.data();
        if (std::memcmp(p, "kvforge", 7) != 0 || p[7] != static_cast<char>(expected)) return problem::bad_magic;
        if (get_le32(p + 28) != crc32c({p, 28})) return problem::bad_checksum;
        out.kind = expected;
        out.version = get_le16(p + 8);
        if (out.version > format_version) return problem::newer_version;
        if (get_le16(p + 10) != 0) return problem::unknown_flags;
        out.file_id = get_le32(p + 12);
        out.codec_fingerprint = get_le64(p + 16);
        out.generation = get_le32(p + 24);
        out.order = out.generation;
        if (out.version < 2) return problem::none;
        if (bytes.size() < size) return problem::truncated;
        if (get_le32(p + 60) != crc32c({p + 32, 28})) return problem::bad_checksum;
        for (std::size_t i = 48; i < 60; ++i) {
            if (p[i] != 0) return problem::unknown_flags;
        }
        out.order = get_le64(p + 32);
        out.layers = get_le64(p + 40);
        return problem::none;
    }

    static void put_le16(char* p, std::uint16_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le32(char* p, std::uint32_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static void put_le64(char* p, std::uint64_t v) noexcept { store_unaligned(p, to_little_endian(v)); }
    static std::uint16_t get_le16(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint16_t>(p)); }
    static std::uint32_t get_le32(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint32_t>(p)); }
    static std::uint64_t get_le64(const char* p) noexcept { return to_little_endian(load_unaligned<std::uint64_t>(p)); }
};

/// The kinds of record in a data file: the low 3 bits of a record's type byte.
enum class record_type : unsigned char { put = 1, erase = 2, batch = 3, clear = 4 };

/// The flag bits of a put record's type byte (version 2).
namespace record_flag {
/// A deadline (i64 little-endian) follows the sizes.
inline constexpr unsigned char deadline = 0x08;
/// A tag byte about the value's encoding follows the sizes (and the deadline).
inline constexpr unsigned char tag = 0x10;
/// Every flag bit this code knows.
inline constexpr unsigned char known = deadline | tag;
}  // namespace record_flag

/// The bytes the flags add to a put record's header.
[[nodiscard]] constexpr std::size_t flag_fields_size(unsigned char flags) noexcept {
    return ((flags & record_flag::deadline) != 0 ? 8 : 0) + ((flags & record_flag::tag) != 0 ? 1 : 0);
}

/// The largest record header: crc, type, two 10-byte varints, a deadline and a tag.
inline constexpr std::size_t max_record_header = 4 + 1 + 2 * max_varint_size + 9;

/// The size of a put record's header for these sizes and flags.
[[nodiscard]] constexpr std::size_t put_header_size(std::size_t key_size, std::size_t value_size,
                                                    unsigned char flags = 0) noexcept {
    return 4 + 1 + varint_size(key_size) + varint_size(value_size) + flag_fields_size(flags);
}

/// The size of an erase record (a tombstone) for a key of this size.
[[nodiscard]] constexpr std::size_t erase_record_size(std::size_t key_size) noexcept {
    return 4 + 1 + varint_size(key_size) + key_size;
}

/// What a put record carries beside its key and value (format 2): flags say which of
/// the deadline and the tag are there. With no flags the record is format 1's.
struct record_meta {
    unsigned char flags = 0;    ///< record_flag bits
    std::int64_t deadline = 0;  ///< with record_flag::deadline
    unsigned char tag = 0;      ///< with record_flag::tag
};

/// Appends a put record to out.
inline void append_put_record(std::string& out, std::string_view key, std::string_view value,
                              const record_meta& meta = {}) {
    const std::size_t start = out.size();
    out.resize(start + put_header_size(key.size(), value.size(), meta.flags));
    char* p = out.data() + start + 4;
    *p++ = static_cast<char>(static_cast<unsigned char>(record_type::put) | meta.flags);
    p = put_varint(p, key.size());
    p = put_varint(p, value.size());
    if ((meta.flags & record_flag::deadline) != 0) {
        file_header::put_le64(p, static_cast<std::uint64_t>(meta.deadline));
        p += 8;
    }
    if ((meta.flags & record_flag::tag) != 0) *p = static_cast<char>(meta.tag);
    out.append(key).append(value);
    const std::uint32_t crc = crc32c({out.data() + start + 4, out.size() - start - 4});
    file_header::put_le32(out.data() + start, crc);
}

/// Appends an erase record (a tombstone) to out.
inline void append_erase_record(std::string& out, std::string_view key) {
    const std::size_t start = out.size();
    char header[4 + 1 + max_varint_size];
    char* p = header + 4;
    *p++ = static_cast<char>(record_type::erase);
    p = put_varint(p, key.size());
    out.append(header, static_cast<std::size_t>(p - header)).append(key);
    const std::uint32_t crc = crc32c({out.data() + start + 4, out.size() - start - 4});
    file_header::put_le32(out.data() + start, crc);
}

/// Appends a clear record (format 2): replay drops every record before it.
inline void append_clear_record(std::string& out) {
    const std::size_t start = out.size();
    out.append(4, '\0');
    out.push_back(static_cast<char>(record_type::clear));
    file_header::put_le32(out.data() + start, crc32c({out.data() + start + 4, 1}));
}

/// Starts a batch record in out; returns where it starts, for finish_batch_record.
/// The caller appends the operations' records and then calls finish_batch_record.
[[nodiscard]] inline std::size_t begin_batch_record(std::string& out) {
    const std::size_t start = out.size();
    out.append(4 + 1 + 2 * max_varint_size, '\0');  // room for the widest header; compacted on finish
    return start;
}

/// Writes the header of a batch record begun at start, holding count operations;
/// returns the header's size, where the operations' records start.
inline std::size_t finish_batch_record(std::string& out, std::size_t start, std::size_t count) {
    const std::size_t reserved = 4 + 1 + 2 * max_varint_size;
    const std::size_t body_size = out.size() - start - reserved;
    char header[4 + 1 + 2 * max_varint_size];
    char* p = header + 4;
    *p++ = static_cast<char>(record_type::batch);
    p = put_varint(p, count);
    p = put_varint(p, body_size);
    const auto header_size = static_cast<std::size_t>(p - header);
    // Slide the body back against the real header, then checksum header and body.
    out.replace(start, reserved, header, header_size);
    const std::uint32_t crc = crc32c({out.data() + start + 4, header_size - 4 + body_size});
    file_header::put_le32(out.data() + start, crc);
    return header_size;
}

/// A record read from bytes: where its parts are, as offsets from the record's start.
struct record_info {
    record_type type = record_type::put;
    unsigned char flags = 0;       ///< put: its record_flag bits
    std::int64_t deadline = 0;     ///< put with record_flag::deadline
    unsigned char tag = 0;         ///< put with record_flag::tag
    std::size_t size = 0;          ///< bytes of the whole record (claimed, when parse_record finds it incomplete)
    std::size_t key_offset = 0;    ///< put, erase
    std::size_t key_size = 0;      ///< put, erase
    std::size_t value_offset = 0;  ///< put: the value; batch: the body
    std::size_t value_size = 0;    ///< put: the value; batch: the body
    std::size_t count = 0;         ///< batch: operations in the body
};

/// What parse_record found.
enum class parse_status {
    ok,          ///< a whole record with a good checksum
    incomplete,  ///< the bytes end inside the record's header or body
    bad,         ///< not a valid record: unknown type or flags, impossible sizes or a checksum mismatch
};

/// Reads a put record's deadline and tag, as its flags say, from p on; returns the end of them.
inline const char* parse_flag_fields(const char* p, record_info& info) noexcept {
    info.deadline = 0;
    info.tag = 0;
    if ((info.flags & record_flag::deadline) != 0) {
        info.deadline = static_cast<std::int64_t>(file_header::get_le64(p));
        p += 8;
    }
    if ((info.flags & record_flag::tag) != 0) info.tag = static_cast<unsigned char>(*p++);
    return p;
}

/// Reads the record at the start of bytes, checking its sizes and checksum, by the rules
/// of a file of this format version (version 1 has no flags and no clear records).
[[nodiscard]] inline parse_status parse_record(std::string_view bytes, record_info& info,
                                               std::uint16_t version = format_version) noexcept {
    const char* const begin = bytes.data();
    const char* const end = begin + bytes.size();
    if (bytes.size() < 5) return parse_status::incomplete;
    const auto type_byte = static_cast<unsigned char>(begin[4]);
    info.type = static_cast<record_type>(type_byte & 0x07);
    info.flags = static_cast<unsigned char>(type_byte & ~0x07);
    if ((info.flags & ~record_flag::known) != 0 || (info.flags != 0 && info.type != record_type::put)) {
        return parse_status::bad;
    }
    if (version < 2 && (info.flags != 0 || info.type == record_type::clear)) return parse_status::bad;
    const char* p = begin + 5;
    std::uint64_t first = 0;
    std::uint64_t second = 0;
    // A varint cut off by the end of the bytes is incomplete; an overlong one is bad.
    auto read_varint = [&](std::uint64_t& v) {
        const char* next = get_varint(p, end, v);
        if (next == nullptr) return end - p < static_cast<std::ptrdiff_t>(max_varint_size) ? parse_status::incomplete
                                                                                           : parse_status::bad;
        p = next;
        return parse_status::ok;
    };
    std::size_t shortest = 5;
    switch (info.type) {
        case record_type::put:
        case record_type::batch:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            if (auto s = read_varint(second); s != parse_status::ok) return s;
            shortest += varint_size(first) + varint_size(second);
            break;
        case record_type::erase:
            if (auto s = read_varint(first); s != parse_status::ok) return s;
            shortest += varint_size(first);
            break;
        case record_type::clear:
            break;
        default:
            return parse_status::bad;
    }
    // Sizes are written in their shortest form; a longer one is no record of ours, and
    // point reads, which work the record's size out from the sizes, would disagree on it.
    if (static_cast<std::size_t>(p - begin) != shortest) return parse_status::bad;
    if (static_cast<std::size_t>(end - p) < flag_fields_size(info.flags)) return parse_status::incomplete;
    p = parse_flag_fields(p, info);
    const auto header_size = static_cast<std::size_t>(p - begin);
    std::uint64_t body_size = 0;
    info.key_offset = header_size;
    info.key_size = 0;
    info.value_offset = header_size;
    info.value_size = 0;
    if (info.type == record_type::batch) {
        // A batch body holds at least one 6-byte record per operation, and no more than the files can.
        if (second > (std::uint64_t{1} << 40) || first == 0 || first > second / 6) return parse_status::bad;
        info.count = first;
        body_size = second;
        info.value_size = second;
    } else if (info.type != record_type::clear) {
        if (first > max_key_size || second > max_value_size) return parse_status::bad;
        info.key_size = first;
        info.value_offset = header_size + first;
        info.value_size = info.type == record_type::put ? second : 0;
        body_size = first + info.value_size;
    }
    // Set before the bytes are known to hold it all: an incomplete record says how long it claims to be.
    info.size = header_size + body_size;
    if (body_size > bytes.size() - header_size) return parse_status::incomplete;
    if (file_header::get_le32(begin) != crc32c({begin + 4, info.size - 4})) return parse_status::bad;
    return parse_status::ok;
}

/// Checks the header and key of a put record whose value (value_size bytes) is held
/// elsewhere: head holds exactly the header and the key.
[[nodiscard]] inline bool parse_record_header(std::string_view head, std::size_t value_size,
                                              record_info& info) noexcept {
    if (head.size() < 5) return false;
    const auto type_byte = static_cast<unsigned char>(head[4]);
    info.type = static_cast<record_type>(type_byte & 0x07);
    info.flags = static_cast<unsigned char>(type_byte & ~0x07);
    if (info.type != record_type::put || (info.flags & ~record_flag::known) != 0) return false;
    const char* const end = head.data() + head.size();
    std::uint64_t key_size = 0;
    std::uint64_t stored_value_size = 0;
    const char* p = get_varint(head.data() + 5, end, key_size);
    if (p != nullptr) p = get_varint(p, end, stored_value_size);
    if (p == nullptr || stored_value_size != value_size ||
        static_cast<std::size_t>(end - p) < flag_fields_size(info.flags)) {
        return false;
    }
    p = parse_flag_fields(p, info);
    info.key_offset = static_cast<std::size_t>(p - head.data());
    info.key_size = key_size;
    info.value_size = value_size;
    return info.key_offset + key_size == head.size();
}

/// Where a key's record is: the index payload of a log-structured store, as three
/// varints: the segment's id, the record's offset in it (segments stay below 4 GiB: see
/// max_segment_bytes), and the value's size shifted left by 5 with the record's flag
/// bits (bits 3 to 7 of the type byte, which tell the record's size with the sizes) in
/// the low 5 bits. Usually 7 bytes (a 100-byte value in a 32 MiB segment): the index
/// keeps one per key in memory, so every byte counts a megabyte per million keys.
struct record_location {
    std::uint32_t segment = 0;     ///< the id of the segment holding the record
    std::uint32_t offset = 0;      ///< the record's start in that segment
    std::uint32_t value_size = 0;  ///< the value's size
    unsigned char flags = 0;       ///< the record's record_flag bits

    /// The longest encoding: three varints of 32 bits.
    static constexpr std::size_t max_encoded_size = 15;
    static constexpr unsigned flag_shift = 3;  // record_flag bits 3 to 7 are the low 5 bits of the last varint
    static_assert(max_value_size <= (std::uint64_t{1} << 26), "a value's size and the flags must fit 32 bits");

    /// Writes the location to out (max_encoded_size bytes of room); returns its length.
    std::size_t encode(char* out) const noexcept {
        char* p = put_varint(out, segment);
        p = put_varint(p, offset);
        p = put_varint(p, (std::uint64_t{value_size} << 5) | (flags >> flag_shift));
        return static_cast<std::size_t>(p - out);
    }
    /// Reads a location encode() wrote (index payloads only: the bytes are trusted).
    [[nodiscard]] static record_location decode(std::string_view bytes) noexcept {
        const char* p = bytes.data();
        const char* const end = p + bytes.size();
        std::uint64_t segment = 0;
        std::uint64_t offset = 0;
        std::uint64_t sized = 0;
        p = get_varint(p, end, segment);
        p = get_varint(p, end, offset);
        get_varint(p, end, sized);
        return {static_cast<std::uint32_t>(segment), static_cast<std::uint32_t>(offset),
                static_cast<std::uint32_t>(sized >> 5), static_cast<unsigned char>((sized & 0x1f) << flag_shift)};
    }
    [[nodiscard]] std::uint64_t record_size(std::size_t key_size) const noexcept {
        return put_header_size(key_size, value_size, flags) + key_size + value_size;
    }
};

/// The largest a segment may grow: its offsets must fit the 32 bits of a record_location,
/// with room for one more record of the largest size after the threshold is reached.
inline constexpr std::uint64_t max_segment_bytes = (std::uint64_t{1} << 32) - (std::uint64_t{1} << 28);

/// The fingerprint of a key codec and a value codec, as data files record it.
[[nodiscard]] inline std::uint64_t codec_fingerprint(const std::string& key_codec, const std::string& value_codec) {
    std::string both = key_codec;
    both.push_back('\0');
    both += value_codec;
    const std::uint64_t low = crc32c(both);
    const std::uint64_t high = crc32c_extend(0x6b76666fU, both);  // a second, independent CRC
    return (high << 32) | low;
}

/// The fingerprint of a store's expiry and compression (the MANIFEST's `expiry` and
/// `compression` fields), as data file headers record it: never 0, which stands for
/// "not recorded". Together with the codec fingerprint it says how a data file's values
/// are read, so that a MANIFEST lost from a store can be rebuilt from its data files.
[[nodiscard]] inline std::uint64_t layers_fingerprint(const std::string& expiry, const std::string& compression) {
    const std::uint64_t fingerprint = codec_fingerprint("expiry " + expiry, "compression " + compression);
    return fingerprint == 0 ? 1 : fingerprint;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/record_format.hpp ----

namespace kvforge {

namespace detail {
struct store_access;  // kvforge's own layers above store (open_store.hpp)
/// The shape of callable a backend's read_many() calls: (index of the key, value bytes).
struct indexed_value_visitor {
    void operator()(std::size_t, std::string_view) const noexcept {}
};
/// False for any arguments: the condition of the static_assert in a member template that
/// only says why a call does not compile, so that it fails when called and not before.
template <class...>
inline constexpr bool unavailable = false;
}  // namespace detail

/// A key-value store of Key to Value, built from policies given in any order, each kind
/// at most once: a store policy (default kvforge::memory), an index policy (default
/// kvforge::hash_index), a threading policy (default kvforge::single_thread), for
/// persistent stores a durability policy (default kvforge::buffered<>) and an I/O
/// policy (default kvforge::posix_io), and optionally a cache policy
/// (kvforge::bounded<> for memory, kvforge::read_cache<> for persistent stores), an
/// expiry policy (kvforge::expiring<Clock>) and a compression policy
/// (kvforge::compressed<Codec>).
///
/// Every fallible call has a throwing form (kvforge::error) and a form taking a
/// std::error_code& that never throws. Keys and values go through kvforge::codec.
///
/// A member that a configuration lacks (open() on memory, scan() on hash_index, ...) is
/// constrained away, and a member template of the same name, left when the constraint
/// fails, says what is missing. So a call to it fails with that message, while an explicit
/// instantiation, `template class kvforge::store<...>;`, compiles for every configuration:
/// it instantiates the members whose constraints hold and no member template (docs/guide.md,
/// "Compiling a store once"). Clang before 15 instantiates the constrained-away members
/// too, so their bodies still compile there: `if constexpr` keeps out what the
/// configuration lacks.
template <class Key, class Value, class... Policies>
class store {
    static_assert(detail::check_store_arguments<Key, Value, Policies...>());
    using policies = detail::resolved_policies<Policies...>;
    // From the outside in: compression, then expiry, then the cache, then the store
    // policy. On disk a value reads in the opposite order: the deadline header, the
    // compression flag, then the (compressed) value.
    using backend_type = typename policies::compression::template backend<
        policies, typename policies::expiry::template backend<
                      policies, typename policies::cache::template backend<
                                    policies, typename policies::store::template backend<policies>>>>;
    using key_param = detail::param_t<Key>;
    using value_param = detail::param_t<Value>;
    // Whether get_view() can hand out a value's bytes in place: an uncompressed mmap_file store.
    static constexpr bool viewable =
        !policies::compression_given && requires(const backend_type& b, std::string_view k, pinned_value& out,
                                                 std::error_code& e) { b.read_pinned(k, out, e); };

public:
    using key_type = Key;
    using mapped_type = Value;
    using store_policy = typename policies::store;
    using index_policy = typename policies::index;
    using threading_policy = typename policies::threading;
    using durability_policy = typename policies::durability;
    using io_policy = typename policies::io;
    /// The cache policy, when one is given (bounded<> or read_cache<>).
    using cache_policy = typename policies::cache;
    /// The expiry policy: kvforge::expiring<Clock>, or none.
    using expiry_policy = typename policies::expiry;
    /// The clock deadlines are kept by (expiring<Clock>'s Clock).
    using clock = typename expiry_policy::clock;
    /// A deadline: a point in time of the store's clock.
    using time_point = typename clock::time_point;
    /// A batch this store writes; with kvforge::expiring<Clock> it takes deadlines too.
    using batch_type = batch<Key, Value, std::conditional_t<policies::expiry_given, clock, void>>;
    using range_type = scan_range<backend_type, Key, Value>;

    /// Whether the store keeps its records on disk.
    static constexpr bool persistent = store_policy::persistent;
    /// Whether a cache policy holds the store (bounded) or its values (read_cache) within a memory budget.
    static constexpr bool cached = policies::cache_given;
    /// Whether keys may carry deadlines (kvforge::expiring<>).
    static constexpr bool expiring = policies::expiry_given;
    /// Whether values are kept compressed (kvforge::compressed<Codec>).
    static constexpr bool compressed = policies::compression_given;
    /// The compression policy: kvforge::compressed<Codec>, or none.
    using compression_policy = typename policies::compression;
    /// Whether writes return a sequence number for wait_durable() (async_worker).
    static constexpr bool sequenced = backend_type::sequenced;
    /// The longest encoded value this store takes: kvforge::max_value_size, less the
    /// expiry header's 9 bytes with kvforge::expiring<> (so that a value with a deadline
    /// still fits a file store's record) and the compression flag's 1 byte with
    /// kvforge::compressed<> (so that a value that does not shrink still fits).
    static constexpr std::size_t max_value_size =
        kvforge::max_value_size - (expiring ? detail::deadline_header::with_deadline_size : 0) -
        (compressed ? detail::value_flag::size : 0);
    /// What put() and write() return: the write's sequence number when sequenced, else nothing.
    using write_result = std::conditional_t<sequenced, std::uint64_t, void>;

    /// An in-memory store is empty and ready; a persistent one is closed until open().
    store()
        requires(persistent || !cached)
    {}
    template <class... Unused>
    store()
        requires(!persistent && cached)
    {
        static_assert(detail::unavailable<Unused...>,
                      "kvforge: a bounded store needs its memory budget: construct it with "
                      "kvforge::options{.memory_budget = bytes}");
    }

    /// An in-memory store with these options (a bounded store's memory_budget); throws
    /// kvforge::error with errc::invalid_argument when they cannot be used.
    explicit store(const options& opts)
        requires(!persistent)
    {
        std::error_code ec;
        configure(opts, ec);
        detail::throw_if(ec);
    }
    /// As store(opts); on failure ec is set, and a bounded store refuses every write.
    store(const options& opts, std::error_code& ec) noexcept
        requires(!persistent)
    {
        guarded(ec, [&] { configure(opts, ec); });
    }
    store(const store&) = delete;
    store& operator=(const store&) = delete;

    /// Opens the persistent store in directory path, creating it if needed (its parent
    /// must exist); throws kvforge::error on failure.
    explicit store(std::string_view path, const options& opts = {}, io_policy io = {})
        requires persistent
    {
        std::error_code ec;
        open_files(path, opts, std::move(io), ec);
        detail::throw_if(ec);
    }
    template <class... Args>
    explicit store(std::string_view, Args&&...)
        requires(!persistent)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: kvforge::memory keeps nothing on disk, so a memory store takes no path; construct it "
                      "with no arguments, or choose kvforge::file_log");
    }

    /// Closes a persistent store (as close(), ignoring errors: call close() to see them).
    ~store() = default;

    /// Opens the persistent store in directory path, creating it if needed.
    void open(std::string_view path, const options& opts = {}, io_policy io = {})
        requires persistent
    {
        std::error_code ec;
        open_files(path, opts, std::move(io), ec);
        detail::throw_if(ec);
    }
    void open(std::string_view path, std::error_code& ec) noexcept
        requires persistent
    {
        open_files(path, options{}, io_policy{}, ec);
    }
    void open(std::string_view path, const options& opts, io_policy io, std::error_code& ec) noexcept
        requires persistent
    {
        open_files(path, opts, std::move(io), ec);
    }
    template <class... Args>
    void open(std::string_view, Args&&...)
        requires(!persistent)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: kvforge::memory has no files to open; choose kvforge::file_log");
    }

    /// Writes out and syncs everything, writes the hint file and releases the store's lock.
    void close()
        requires persistent
    {
        std::error_code ec;
        close_files(ec);
        detail::throw_if(ec);
    }
    void close(std::error_code& ec) noexcept
        requires persistent
    {
        close_files(ec);
    }
    template <class... Args>
    void close(Args&&...)
        requires(!persistent)
    {
        static_assert(detail::unavailable<Args...>, "kvforge: kvforge::memory has no files to close");
    }

    /// Whether the store can be used: always for memory, after open() for persistent stores.
    [[nodiscard]] bool is_open() const noexcept {
        if constexpr (persistent) {
            return backend_.is_open();
        } else {
            return true;
        }
    }

    /// Writes value under key, replacing any value it had. Returns when the durability
    /// policy says; with async_worker, returns the write's sequence number.
    write_result put(key_param key, value_param value) {
        std::error_code ec;
        if constexpr (sequenced) {
            const std::uint64_t sequence = put(key, value, ec);
            detail::throw_if(ec);
            return sequence;
        } else {
            put(key, value, ec);
            detail::throw_if(ec);
        }
    }
    /// As put(key, value); errc::key_too_large / errc::value_too_large leave the store unchanged.
    write_result put(key_param key, value_param value, std::error_code& ec) noexcept {
        std::uint64_t sequence = 0;
        guarded(ec, [&] {
            std::string key_scratch;
            std::string value_scratch;
            const std::string_view k = detail::encode_key<Key>(key, key_scratch, ec);
            if (ec) return;
            const std::string_view v = detail::encode_value<Value>(value, value_scratch, ec);
            if (ec) return;
            sequence = backend_.put(k, v, ec);
        });
        if constexpr (sequenced) return sequence;
    }

    /// Writes value under key, to expire after ttl (from the clock's now). A ttl that
    /// reaches past the end of the clock's range gives the clock's last time_point,
    /// time_point::max() (for libstdc++'s system_clock, in 2262), rather than
    /// overflowing; so does a deadline below. Needs kvforge::expiring<>.
    template <class Rep, class Period>
    write_result put(key_param key, value_param value, std::chrono::duration<Rep, Period> ttl) {
        static_assert(expiring, "kvforge: put() with a time to live needs kvforge::expiring<> among the store's policies");
        return put(key, value, deadline_after(ttl));
    }
    /// As put(key, value, ttl); errors through ec.
    template <class Rep, class Period>
    write_result put(key_param key, value_param value, std::chrono::duration<Rep, Period> ttl, std::error_code& ec) noexcept {
        static_assert(expiring, "kvforge: put() with a time to live needs kvforge::expiring<> among the store's policies");
        return put(key, value, deadline_after(ttl), ec);
    }
    /// Writes value under key, to expire at deadline: from then on every read finds it
    /// absent. A deadline that has come already stores nothing and removes key. One whose
    /// Duration reaches past the clock's range is kept as time_point::max(). Needs
    /// kvforge::expiring<>.
    template <class Duration>
    write_result put(key_param key, value_param value, std::chrono::time_point<clock, Duration> deadline) {
        static_assert(expiring, "kvforge: put() with a deadline needs kvforge::expiring<> among the store's policies");
        std::error_code ec;
        if constexpr (sequenced) {
            const std::uint64_t sequence = put(key, value, deadline, ec);
            detail::throw_if(ec);
            return sequence;
        } else {
            put(key, value, deadline, ec);
            detail::throw_if(ec);
        }
    }
    /// As put(key, value, deadline); errors through ec.
    template <class Duration>
    write_result put(key_param key, value_param value, std::chrono::time_point<clock, Duration> deadline,
                     std::error_code& ec) noexcept {
        static_assert(expiring, "kvforge: put() with a deadline needs kvforge::expiring<> among the store's policies");
        std::uint64_t sequence = 0;
        if constexpr (expiring) {
            guarded(ec, [&] {
                std::string key_scratch;
                std::string value_scratch;
                const std::string_view k = detail::encode_key<Key>(key, key_scratch, ec);
                if (ec) return;
                const std::string_view v = detail::encode_value<Value>(value, value_scratch, ec);
                if (ec) return;
                sequence = backend_.put_until(k, v, ticks_of(deadline), ec);
            });
        }
        if constexpr (sequenced) return sequence;
    }

    /// key's deadline, or nullopt when it has none (or is absent). Needs kvforge::expiring<>.
    [[nodiscard]] std::optional<time_point> expiry(key_param key) const
        requires expiring
    {
        std::error_code ec;
        std::optional<time_point> deadline = deadline_of(key, ec);
        detail::throw_if(ec);
        return deadline;
    }
    [[nodiscard]] std::optional<time_point> expiry(key_param key, std::error_code& ec) const noexcept
        requires expiring
    {
        return deadline_of(key, ec);
    }
    template <class... Args>
    std::optional<time_point> expiry(Args&&...) const
        requires(!expiring)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: expiry() needs kvforge::expiring<> among the store's policies");
        return std::nullopt;
    }

    /// Removes every key whose deadline has come, in time proportional to their number;
    /// returns how many. Needs kvforge::expiring<>.
    std::size_t purge_expired()
        requires expiring
    {
        std::error_code ec;
        const std::size_t purged = purge(ec);
        detail::throw_if(ec);
        return purged;
    }
    std::size_t purge_expired(std::error_code& ec) noexcept
        requires expiring
    {
        return purge(ec);
    }
    template <class... Args>
    std::size_t purge_expired(Args&&...)
        requires(!expiring)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: purge_expired() needs kvforge::expiring<> among the store's policies");
        return 0;
    }

    /// The value under key, or nullopt.
    [[nodiscard]] std::optional<Value> get(key_param key) const {
        std::error_code ec;
        std::optional<Value> value = get(key, ec);
        detail::throw_if(ec);
        return value;
    }
    /// As get(key); nullopt with ec set on failure.
    [[nodiscard]] std::optional<Value> get(key_param key, std::error_code& ec) const noexcept {
        std::optional<Value> result;
        guarded(ec, [&] {
            if constexpr (std::is_same_v<Value, std::string>) {
                // Read the stored bytes straight into the returned string.
                result.emplace();
                if (!read_string(key, *result, ec)) result.reset();
            } else {
                read_into(key, [&](std::string_view bytes) {
                    result.emplace();
                    if (!decode_value(bytes, *result, ec)) result.reset();
                }, ec);
            }
        });
        return result;
    }

    /// Decodes the value under key into out, reusing out's storage; returns whether key exists.
    bool get(key_param key, Value& out) const {
        std::error_code ec;
        const bool found = get(key, out, ec);
        detail::throw_if(ec);
        return found;
    }
    /// As get(key, out); false with ec set on failure.
    bool get(key_param key, Value& out, std::error_code& ec) const noexcept {
        bool found = false;
        guarded(ec, [&] {
            if constexpr (std::is_same_v<Value, std::string>) {
                found = read_string(key, out, ec);
            } else {
                read_into(key, [&](std::string_view bytes) { found = decode_value(bytes, out, ec); }, ec);
            }
        });
        return found;
    }

    /// Gets many values at once: out[i] becomes the value of keys[i], or nullopt when it is
    /// absent (a value already in out[i] has its storage reused). Returns how many were found.
    /// keys is a random-access range of anything a key converts from (std::vector<std::string>,
    /// std::span<const std::string_view>, ...); out needs one element per key. Where the store
    /// can (memory with hash_index), the lookups overlap their memory accesses, so a batch of
    /// keys runs faster than a loop of get(); elsewhere it is that loop.
    template <class Keys>
    std::size_t get_many(const Keys& keys, std::span<std::optional<Value>> out) const {
        std::error_code ec;
        const std::size_t found = get_many(keys, out, ec);
        detail::throw_if(ec);
        return found;
    }
    /// As get_many(keys, out); on failure ec is set and the outputs from the failing key on are unspecified.
    template <class Keys>
    std::size_t get_many(const Keys& keys, std::span<std::optional<Value>> out, std::error_code& ec) const noexcept {
        static_assert(requires(const Keys& k) {
                          { k[std::size_t{0}] } -> std::convertible_to<key_param>;
                          std::size(k);
                      },
                      "kvforge: get_many() takes an indexable range of keys with a size, e.g. std::vector<Key> "
                      "or std::span<const Key>");
        std::size_t found = 0;
        guarded(ec, [&] {
            const auto count = static_cast<std::size_t>(std::size(keys));
            if (out.size() != count) {
                detail::fail(ec, std::make_error_code(std::errc::invalid_argument),
                             "get_many: out has " + std::to_string(out.size()) + " elements for " +
                                 std::to_string(count) + " keys; give it one per key");
                return;
            }
            // Keys are encoded a batch at a time, which bounds the scratch space and still
            // hands the backend enough keys to overlap their lookups.
            constexpr std::size_t batch = 32;
            std::string scratch[batch];
            std::string_view encoded[batch];
            bool present[batch];
            for (std::size_t first = 0; first < count && !ec; first += batch) {
                const std::size_t n = std::min(batch, count - first);
                for (std::size_t i = 0; i < n; ++i) encoded[i] = codec<Key>::encode(keys[first + i], scratch[i]);
                std::fill_n(present, n, false);
                read_batch({encoded, n}, out.subspan(first, n), present, ec);
                for (std::size_t i = 0; i < n; ++i) {
                    if (present[i]) {
                        ++found;
                    } else {
                        out[first + i].reset();
                    }
                }
            }
        });
        return found;
    }

    /// Calls fn(std::string_view) with the stored bytes of key's value, without copying
    /// them; returns whether key exists. The view is valid only during the call, and fn
    /// must not call the store (under thread_safe it runs under the read lock).
    template <class Fn>
    bool visit(key_param key, Fn&& fn) const {
        std::error_code ec;
        const bool found = visit(key, std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
        return found;
    }
    /// As visit(key, fn); false with ec set on failure. Exceptions from fn propagate.
    template <class Fn>
    bool visit(key_param key, Fn&& fn, std::error_code& ec) const {
        ec.clear();
        return read_into(key, fn, ec);
    }

    /// The stored bytes of key's value, without copying them: a view into the mapped
    /// file that stays valid as long as the returned pinned_value lives. Needs mmap_file.
    [[nodiscard]] std::optional<pinned_value> get_view(key_param key) const
        requires viewable
    {
        std::error_code ec;
        std::optional<pinned_value> view = view_of(key, ec);
        detail::throw_if(ec);
        return view;
    }
    [[nodiscard]] std::optional<pinned_value> get_view(key_param key, std::error_code& ec) const noexcept
        requires viewable
    {
        return view_of(key, ec);
    }
    template <class... Args>
    std::optional<pinned_value> get_view(Args&&...) const
        requires(!viewable)
    {
        static_assert(detail::unavailable<Args...> || !compressed,
                      "kvforge: get_view() hands out a value's bytes in place in the file, and a compressed store "
                      "keeps them compressed there; use get() for a decompressed copy, or visit() for a view of "
                      "the decompressed bytes during a callback");
        static_assert(detail::unavailable<Args...> || compressed,
                      "kvforge: get_view() needs kvforge::mmap_file; with other stores use visit() for a view "
                      "during a callback, or get() for a copy");
        return std::nullopt;
    }

    /// Whether key exists.
    [[nodiscard]] bool contains(key_param key) const {
        std::error_code ec;
        const bool found = contains(key, ec);
        detail::throw_if(ec);
        return found;
    }
    [[nodiscard]] bool contains(key_param key, std::error_code& ec) const noexcept {
        bool found = false;
        guarded(ec, [&] {
            std::string scratch;
            const std::string_view k = codec<Key>::encode(key, scratch);
            found = k.size() <= max_key_size && backend_.contains(k, ec);
        });
        return found;
    }

    /// Removes key; returns whether it existed.
    bool erase(key_param key) {
        std::error_code ec;
        const bool erased = erase(key, ec);
        detail::throw_if(ec);
        return erased;
    }
    bool erase(key_param key, std::error_code& ec) noexcept {
        bool erased = false;
        guarded(ec, [&] {
            std::string scratch;
            const std::string_view k = codec<Key>::encode(key, scratch);
            erased = k.size() <= max_key_size && backend_.erase(k, ec);
        });
        return erased;
    }

    /// Applies every operation of b, all or none; with async_worker, returns the batch's
    /// sequence number (0 for an empty batch). b is a batch<Key, Value>, or this store's
    /// batch_type when it is an expiring store's, whose puts may carry deadlines.
    template <class BatchClock>
        requires(std::is_void_v<BatchClock> || std::is_same_v<batch<Key, Value, BatchClock>, batch_type>)
    write_result write(const batch<Key, Value, BatchClock>& b) {
        std::error_code ec;
        if constexpr (sequenced) {
            const std::uint64_t sequence = write(b, ec);
            detail::throw_if(ec);
            return sequence;
        } else {
            write(b, ec);
            detail::throw_if(ec);
        }
    }
    template <class BatchClock>
        requires(std::is_void_v<BatchClock> || std::is_same_v<batch<Key, Value, BatchClock>, batch_type>)
    write_result write(const batch<Key, Value, BatchClock>& b, std::error_code& ec) noexcept {
        const std::uint64_t sequence = write_operations(b.operations(), ec);
        if constexpr (sequenced) return sequence;
    }

    /// Blocks until the write with this sequence number is on disk. Needs async_worker.
    void wait_durable(std::uint64_t sequence)
        requires sequenced
    {
        std::error_code ec;
        wait_for(sequence, ec);
        detail::throw_if(ec);
    }
    void wait_durable(std::uint64_t sequence, std::error_code& ec) noexcept
        requires sequenced
    {
        wait_for(sequence, ec);
    }
    template <class... Args>
    void wait_durable(Args&&...)
        requires(!sequenced)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: wait_durable() needs kvforge::async_worker; with sync_each a write is durable when "
                      "it returns, with buffered<> call sync()");
    }
    /// The sequence number up to which every write is on disk. Needs async_worker.
    [[nodiscard]] std::uint64_t durable_seq() const
        requires sequenced
    {
        if constexpr (sequenced) {
            return backend_.durable_sequence();
        } else {
            return 0;
        }
    }
    template <class... Args>
    std::uint64_t durable_seq(Args&&...) const
        requires(!sequenced)
    {
        static_assert(detail::unavailable<Args...>, "kvforge: durable_seq() needs kvforge::async_worker");
        return 0;
    }

    /// The keys in [from, to) with their values, in ascending key order, or in descending
    /// order (the same keys, largest first) with kvforge::descending. Needs an ordered index.
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order = ascending) const
        requires index_policy::ordered
    {
        return make_range(from, to, order, nullptr);
    }
    /// As scan(from, to); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan(key_param from, key_param to, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_range(from, to, ascending, &ec);
    }
    /// As scan(from, to, order); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_range(from, to, order, &ec);
    }
    /// Every key with its value, in ascending (or, with kvforge::descending, descending) key
    /// order. Needs an ordered index.
    [[nodiscard]] range_type scan(scan_order order = ascending) const
        requires index_policy::ordered
    {
        return make_full_range(order, nullptr);
    }
    /// As scan(order); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan(scan_order order, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_full_range(order, &ec);
    }
    /// The keys from `from` (included) to the end with their values: the keys >= from in
    /// ascending order, or with kvforge::descending the keys <= from, largest first.
    /// Needs an ordered index.
    [[nodiscard]] range_type scan_from(key_param from, scan_order order = ascending) const
        requires index_policy::ordered
    {
        return make_open_range(from, order, nullptr);
    }
    /// As scan_from(from); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan_from(key_param from, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_open_range(from, ascending, &ec);
    }
    /// As scan_from(from, order); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan_from(key_param from, scan_order order, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_open_range(from, order, &ec);
    }
    /// The keys that start with prefix (compared as encoded bytes) with their values, in
    /// ascending (or, with kvforge::descending, descending) key order.
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order = ascending) const
        requires index_policy::ordered
    {
        return make_prefix_range(prefix, order, nullptr);
    }
    /// As scan_prefix(prefix); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan_prefix(key_param prefix, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_prefix_range(prefix, ascending, &ec);
    }
    /// As scan_prefix(prefix, order); an error ends the iteration and is stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order, std::error_code& ec) const
        requires index_policy::ordered
    {
        return make_prefix_range(prefix, order, &ec);
    }
    template <class... Args>
    range_type scan(Args&&...) const
        requires(!index_policy::ordered)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: scan() needs an ordered index; use kvforge::sorted_index");
    }
    template <class... Args>
    range_type scan_from(Args&&...) const
        requires(!index_policy::ordered)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: scan_from() needs an ordered index; use kvforge::sorted_index");
    }
    template <class... Args>
    range_type scan_prefix(Args&&...) const
        requires(!index_policy::ordered)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: scan_prefix() needs an ordered index; use kvforge::sorted_index");
    }

    /// Calls fn(const Key&, const Value&) for every record: in key order with an ordered
    /// index, read a chunk at a time as scan() reads, else in no particular order. With
    /// an unordered index, a thread_safe file_log or mmap_file store walks a snapshot
    /// taken at the call (about 10 ms a million keys: a copy of the index), so writers go
    /// on, fn may call the store, and fn sees the records as of the call; other stores
    /// walk their index under the read lock, and fn must not write to the store.
    template <class Fn>
    void for_each(Fn&& fn) const {
        std::error_code ec;
        for_each(std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
    }
    template <class Fn>
    void for_each(Fn&& fn, std::error_code& ec) const {
        ec.clear();
        if constexpr (index_policy::ordered) {
            for (const auto& [key, value] : range_type(backend_, detail::scan_bounds::everything(ascending), &ec)) {
                fn(key, value);
            }
        } else {
            std::pair<Key, Value> record;
            backend_.for_each([&](std::string_view k, std::string_view v) {
                if (ec) return;
                if (!codec<Key>::decode(k, record.first)) {
                    detail::fail(ec, errc::key_decode_failed, "for_each: a stored key cannot be decoded");
                } else if (decode_value(v, record.second, ec)) {
                    fn(std::as_const(record.first), std::as_const(record.second));
                }
            }, ec);
        }
    }

    /// The number of keys (with kvforge::expiring<>, those whose deadline has not come,
    /// purged or not, as get() sees them).
    [[nodiscard]] std::size_t size() const { return backend_.size(); }
    [[nodiscard]] bool empty() const { return size() == 0; }

    /// Removes every key.
    void clear() {
        std::error_code ec;
        clear(ec);
        detail::throw_if(ec);
    }
    void clear(std::error_code& ec) noexcept {
        guarded(ec, [&] { backend_.clear(ec); });
    }

    /// Counters and sizes; see kvforge::stats.
    [[nodiscard]] kvforge::stats stats() const { return backend_.stats(); }

    /// Hands buffered writes to the OS (no-op for stores with nothing buffered).
    void flush() { call(&backend_type::flush); }
    void flush(std::error_code& ec) noexcept { call(&backend_type::flush, ec); }
    /// Makes every write so far durable (no-op for memory).
    void sync() { call(&backend_type::sync); }
    void sync(std::error_code& ec) noexcept { call(&backend_type::sync, ec); }
    /// Rewrites live records to reclaim the space of dead ones (no-op for memory).
    void compact() { call(&backend_type::compact); }
    void compact(std::error_code& ec) noexcept { call(&backend_type::compact, ec); }

    /// Reads and checks every record without changing anything. A record damaged at
    /// the end of the log is reported as incomplete (a read_only store reports the torn
    /// tail it left in place).
    [[nodiscard]] verify_report verify() const {
        std::error_code ec;
        verify_report report = verify(ec);
        detail::throw_if(ec);
        return report;
    }
    [[nodiscard]] verify_report verify(std::error_code& ec) const noexcept {
        verify_report report;
        guarded(ec, [&] { report = backend_.verify(ec); });
        return report;
    }

    /// Copies the store, while writers go on, into directory dest (missing or empty):
    /// a store holding every write that returned before the call, verified before this
    /// returns (see docs/guide.md, "Online backup"). Every file is copied, so that the backup
    /// survives damage to the store's; backup_options::link_files shares closed segments
    /// by hard links instead. Throws kvforge::error on failure.
    void backup(std::string_view dest, const backup_options& how = {})
        requires persistent
    {
        std::error_code ec;
        copy_files(dest, how, ec);
        detail::throw_if(ec);
    }
    void backup(std::string_view dest, std::error_code& ec) noexcept
        requires persistent
    {
        copy_files(dest, {}, ec);
    }
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) noexcept
        requires persistent
    {
        copy_files(dest, how, ec);
    }
    template <class... Args>
    void backup(Args&&...)
        requires(!persistent)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: a memory store has no files to back up; copy it into a file_log store with "
                      "kvforge::copy(src, dst)");
    }

    /// What snapshot() returns: a read-only view of the store as of the call.
    using snapshot_type =
        kvforge::snapshot<typename detail::snapshot_view_of<backend_type>::type, Key, Value, index_policy::ordered>;

    /// A read-only view of the store as it is now, with get, contains, visit, scans,
    /// for_each and size; writers go on, and what they do later is not seen through it
    /// (kvforge::snapshot; see docs/guide.md, "Snapshots"). Every write that returned before the
    /// call is in it. Throws kvforge::error on failure.
    [[nodiscard]] snapshot_type snapshot()
        requires detail::takes_snapshots<backend_type>
    {
        std::error_code ec;
        std::optional<snapshot_type> taken = take_snapshot(ec);
        detail::throw_if(ec);
        return std::move(*taken);
    }
    /// As snapshot(); nullopt with ec set on failure.
    [[nodiscard]] std::optional<snapshot_type> snapshot(std::error_code& ec) noexcept
        requires detail::takes_snapshots<backend_type>
    {
        return take_snapshot(ec);
    }

private:
    friend struct detail::store_access;

    /// Applies a batch's operations, all or none: what write() does, and what an any_store's
    /// write() does once it has checked that the store takes the batch's deadlines.
    std::uint64_t write_operations(const detail::batch_buffer& ops, std::error_code& ec) noexcept {
        std::uint64_t sequence = 0;
        guarded(ec, [&] {
            if (ops.count() != 0) sequence = backend_.write(ops, ec);
        });
        return sequenced ? sequence : 0;
    }

    /// A deadline as the i64 count of the clock's ticks the store keeps; one past the
    /// clock's range is its last tick (detail/saturating_time.hpp).
    template <class Duration>
    static std::int64_t ticks_of(std::chrono::time_point<clock, Duration> deadline) {
        return detail::deadline_ticks(deadline);
    }
    /// The clock's now plus ttl; past the end of the clock's range, time_point::max().
    template <class Rep, class Period>
    static time_point deadline_after(std::chrono::duration<Rep, Period> ttl) {
        return detail::deadline_after<clock>(ttl);
    }

    /// Opens as open() does, but takes the codecs the files must have been written with
    /// (their names and fingerprint) as given instead of Key's and Value's: how kvforge's
    /// own tool reads a store's bytes whatever codecs wrote them. Only detail::store_access
    /// reaches it, so users' stores always check their codecs.
    void open_with_codecs(std::string_view path, const options& opts, const std::string& key_codec,
                          const std::string& value_codec, std::uint64_t fingerprint, std::error_code& ec) noexcept
        requires persistent
    {
        if constexpr (persistent) {
            guarded(ec,
                    [&] { backend_.open(path, opts, io_policy{}, made_of(key_codec, value_codec, fingerprint), ec); });
        }
    }

    // What the members a configuration may lack do, unconstrained, with `if constexpr` around
    // what it lacks (see the class comment).
    void open_files(std::string_view path, const options& opts, io_policy io, std::error_code& ec) noexcept {
        if constexpr (persistent) {
            guarded(ec, [&] {
                const std::string key_codec = codec<Key>::name();
                const std::string value_codec = codec<Value>::name();
                backend_.open(path, opts, std::move(io),
                              made_of(key_codec, value_codec, detail::codec_fingerprint(key_codec, value_codec)), ec);
            });
        }
    }
    void close_files(std::error_code& ec) noexcept {
        if constexpr (persistent) guarded(ec, [&] { backend_.close(ec); });
    }
    void copy_files(std::string_view dest, const backup_options& how, std::error_code& ec) noexcept {
        if constexpr (persistent) guarded(ec, [&] { backend_.backup(dest, how, ec); });
    }
    std::optional<time_point> deadline_of(key_param key, std::error_code& ec) const noexcept {
        std::optional<time_point> result;
        if constexpr (expiring) {
            guarded(ec, [&] {
                std::string scratch;
                const std::string_view k = codec<Key>::encode(key, scratch);
                if (k.size() > max_key_size) return;
                if (const auto ticks = backend_.deadline(k, ec)) {
                    result = time_point(typename clock::duration(static_cast<typename clock::rep>(*ticks)));
                }
            });
        }
        return result;
    }
    std::size_t purge(std::error_code& ec) noexcept {
        std::size_t purged = 0;
        if constexpr (expiring) guarded(ec, [&] { purged = backend_.purge_expired(ec); });
        return purged;
    }
    std::optional<pinned_value> view_of(key_param key, std::error_code& ec) const noexcept {
        std::optional<pinned_value> result;
        if constexpr (viewable) {
            guarded(ec, [&] {
                std::string scratch;
                const std::string_view k = codec<Key>::encode(key, scratch);
                pinned_value view;
                if (k.size() <= max_key_size && backend_.read_pinned(k, view, ec)) result = std::move(view);
            });
        }
        return result;
    }
    void wait_for(std::uint64_t sequence, std::error_code& ec) noexcept {
        if constexpr (sequenced) guarded(ec, [&] { backend_.wait_durable(sequence, ec); });
    }
    void configure(const options& opts, std::error_code& ec) {
        if constexpr (!persistent) backend_.configure(opts, ec);
    }
    std::optional<snapshot_type> take_snapshot(std::error_code& ec) noexcept {
        std::optional<snapshot_type> taken;
        if constexpr (detail::takes_snapshots<backend_type>) {
            guarded(ec, [&] {
                auto view = backend_.snapshot(ec);
                if (!ec) taken.emplace(std::move(view));
            });
        }
        return taken;
    }

    /// This store's composition with these codecs, as its MANIFEST records it.
    static composition made_of(const std::string& key_codec, const std::string& value_codec,
                               std::uint64_t fingerprint) {
        composition c;
        c.format = detail::format_version;
        c.store = std::string(store_policy::name);
        c.index = std::string(index_policy::name);
        c.durability = std::string(durability_policy::name);
        c.key_codec = key_codec;
        c.value_codec = value_codec;
        c.codec_fingerprint = fingerprint;
        if constexpr (expiring) c.expiry = expiry_policy::manifest_name();
        if constexpr (compressed) c.compression = std::string(compression_policy::name);
        return c;
    }

    /// Runs f with ec cleared, turning exceptions (allocation failure, a throwing codec)
    /// into error codes so that the error_code forms never throw.
    template <class F>
    static void guarded(std::error_code& ec, F&& f) noexcept {
        ec.clear();
        try {
            f();
        } catch (const std::bad_alloc&) {
            detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
        } catch (const std::length_error&) {
            detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "in-memory index is full");
        } catch (const std::exception& e) {
            detail::fail(ec, errc::codec_failed, e.what());
        }
    }

    template <class OnValue>
    bool read_into(key_param key, OnValue&& on_value, std::error_code& ec) const {
        std::string scratch;
        const std::string_view k = codec<Key>::encode(key, scratch);
        // A key over the limit can never have been written, so it is simply absent.
        return k.size() <= max_key_size && backend_.read(k, on_value, ec);
    }

    bool read_string(key_param key, std::string& out, std::error_code& ec) const {
        std::string scratch;
        const std::string_view k = codec<Key>::encode(key, scratch);
        return k.size() <= max_key_size && backend_.read_value(k, out, ec);
    }

    /// Reads the values of encoded keys into out, setting present[i] for each key found:
    /// through the backend's read_many where it has one (it overlaps the lookups), else key by key.
    void read_batch(std::span<const std::string_view> keys, std::span<std::optional<Value>> out, bool* present,
                    std::error_code& ec) const {
        const auto store_value = [&](std::size_t i, std::string_view bytes) {
            if constexpr (std::is_same_v<Value, std::string>) {
                if (!out[i]) out[i].emplace();
                detail::assign_bytes(*out[i], bytes);
                present[i] = true;
            } else {
                if (!out[i]) out[i].emplace();
                present[i] = decode_value(bytes, *out[i], ec);
            }
        };
        if constexpr (requires(const backend_type& b, std::error_code& e) {
                          b.read_many(keys, detail::indexed_value_visitor{}, e);
                      }) {
            backend_.read_many(keys, store_value, ec);
            return;
        }
        for (std::size_t i = 0; i < keys.size() && !ec; ++i) {
            // A key over the limit can never have been written, so it is simply absent.
            if (keys[i].size() > max_key_size) continue;
            if constexpr (std::is_same_v<Value, std::string>) {
                if (!out[i]) out[i].emplace();
                present[i] = backend_.read_value(keys[i], *out[i], ec);
            } else {
                backend_.read(keys[i], [&](std::string_view bytes) { store_value(i, bytes); }, ec);
            }
        }
    }

    static bool decode_value(std::string_view bytes, Value& out, std::error_code& ec) {
        if (codec<Value>::decode(bytes, out)) return true;
        detail::fail(ec, errc::value_decode_failed,
                     "stored value of " + std::to_string(bytes.size()) + " bytes cannot be decoded by codec<Value> ('" +
                         codec<Value>::name() + "')");
        return false;
    }

    static std::string encoded(key_param key) {
        std::string scratch;
        return std::string(codec<Key>::encode(key, scratch));
    }

    range_type make_range(key_param from, key_param to, scan_order order, std::error_code* ec) const {
        return range_type(backend_, detail::scan_bounds::between(encoded(from), encoded(to), order), ec);
    }

    range_type make_full_range(scan_order order, std::error_code* ec) const {
        return range_type(backend_, detail::scan_bounds::everything(order), ec);
    }

    range_type make_open_range(key_param from, scan_order order, std::error_code* ec) const {
        return range_type(backend_, detail::scan_bounds::starting_at(encoded(from), order), ec);
    }

    range_type make_prefix_range(key_param prefix, scan_order order, std::error_code* ec) const {
        return range_type(backend_, detail::scan_bounds::with_prefix(encoded(prefix), order), ec);
    }

    void call(void (backend_type::*op)(std::error_code&)) {
        std::error_code ec;
        call(op, ec);
        detail::throw_if(ec);
    }
    void call(void (backend_type::*op)(std::error_code&), std::error_code& ec) noexcept {
        guarded(ec, [&] { (backend_.*op)(ec); });
    }

    backend_type backend_;
};

}  // namespace kvforge
// ---- end kvforge/store.hpp ----
// ---- begin kvforge/threading/thread_safe.hpp ----
/// \file thread_safe.hpp
/// kvforge::thread_safe: concurrent readers and writers on one store.

#include <string_view>

// ---- begin kvforge/detail/striped.hpp ----
/// \file striped.hpp
/// A reader-writer lock and a counter that spread readers over separate cache lines.
///
/// std::shared_mutex keeps its readers in one word, so every lock_shared() on one core
/// takes that cache line away from every other core: with two threads reading, each
/// get pays a transfer between cores, which costs as much as the lookup itself. Here
/// each thread has a stripe (its own cache line) for its reader count and its
/// counters, so readers on different cores never write to the same line. A writer
/// pays instead: it raises a flag and waits for every stripe to drain.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

// ---- begin kvforge/detail/waiter_count.hpp ----
/// \file waiter_count.hpp
/// The threads that had to wait for a lock, and those of them that have had it since:
/// what lets a thread that takes the lock again and again (the compaction thread) let
/// the threads already waiting go first (write_gate.hpp, striped.hpp).

#include <atomic>
#include <cstdint>

namespace kvforge::detail {

class waiter_count {
public:
    /// A thread found the lock taken and waits for it; counted once per acquisition.
    void arrive() noexcept { arrived_.fetch_add(1, std::memory_order_seq_cst); }

    /// A thread counted by arrive() has the lock now.
    void admit() noexcept {
        admitted_.fetch_add(1, std::memory_order_seq_cst);
        admitted_.notify_all();
    }

    /// The threads waiting now.
    [[nodiscard]] std::uint64_t waiting() const noexcept {
        // Admitted first: no count of arrivals read after it is below it.
        const std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst);
        return arrived_.load(std::memory_order_seq_cst) - admitted;
    }

    /// Returns once every thread waiting at the call has had the lock.
    void wait_for_those_waiting() const noexcept {
        const std::uint64_t arrived = arrived_.load(std::memory_order_seq_cst);
        // Each thread counted in arrived is admitted once: the count reaches it.
        for (std::uint64_t admitted = admitted_.load(std::memory_order_seq_cst); admitted < arrived;
             admitted = admitted_.load(std::memory_order_seq_cst)) {
            admitted_.wait(admitted, std::memory_order_seq_cst);
        }
    }

private:
    std::atomic<std::uint64_t> arrived_{0};
    std::atomic<std::uint64_t> admitted_{0};
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/waiter_count.hpp ----

namespace kvforge::detail {

/// Stripes per lock or counter: enough that a machine's busy threads rarely share one.
inline constexpr std::size_t stripe_count = 16;

/// The calling thread's stripe, handed out round-robin as threads first ask.
[[nodiscard]] inline std::size_t this_thread_stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % stripe_count;
    return stripe;
}

/// A shared_lockable mutex whose lock_shared() writes only the calling thread's stripe.
/// Writers exclude each other with a plain mutex and prefer themselves over new readers.
class striped_shared_mutex {
public:
    void lock_shared() noexcept {
        std::atomic<std::size_t>& readers = stripes_[this_thread_stripe()].readers;
        bool waited = false;
        for (;;) {
            // Announce the reader, then look for a writer; the writer does the opposite
            // (raise its flag, then count readers). Sequential consistency on both
            // sides means at least one of them sees the other.
            readers.fetch_add(1, std::memory_order_seq_cst);
            if (!writing_.load(std::memory_order_seq_cst)) break;
            leave(readers);
            if (!waited) waiting_readers_.arrive();
            waited = true;
            writing_.wait(true, std::memory_order_acquire);
        }
        if (waited) waiting_readers_.admit();
    }

    void unlock_shared() noexcept { leave(stripes_[this_thread_stripe()].readers); }

    void lock() {
        writers_.lock();
        writing_.store(true, std::memory_order_seq_cst);
        for (stripe& s : stripes_) {
            for (std::size_t n = s.readers.load(std::memory_order_seq_cst); n != 0;
                 n = s.readers.load(std::memory_order_seq_cst)) {
                s.readers.wait(n, std::memory_order_acquire);
            }
        }
    }

    /// lock(), once every reader that a writer keeps waiting now has had the lock: for a
    /// thread that takes the lock for many short holds in a row (the compaction thread
    /// moving index entries), which would otherwise raise its flag again before a woken
    /// reader ran, and keep readers out for as long as it goes on. The caller must hold
    /// nothing such a reader waits for.
    void lock_after_waiters() {
        waiting_readers_.wait_for_those_waiting();
        lock();
    }

    /// The readers that a writer keeps waiting now.
    [[nodiscard]] std::uint64_t waiting_readers() const noexcept { return waiting_readers_.waiting(); }

    void unlock() noexcept {
        writing_.store(false, std::memory_order_release);
        writing_.notify_all();
        writers_.unlock();
    }

private:
    struct alignas(64) stripe {
        std::atomic<std::size_t> readers{0};
    };

    /// Drops one reader from a stripe, waking a writer that waits for it to drain.
    void leave(std::atomic<std::size_t>& readers) noexcept {
        if (readers.fetch_sub(1, std::memory_order_seq_cst) == 1 && writing_.load(std::memory_order_seq_cst)) {
            readers.notify_all();
        }
    }

    stripe stripes_[stripe_count];
    alignas(64) std::atomic<bool> writing_{false};
    std::mutex writers_;
    // Readers that found a writer and waited (lock_after_waiters); touched only by
    // readers that wait.
    alignas(64) waiter_count waiting_readers_;
};

/// A statistics counter that concurrent threads bump on their own stripes; load() adds
/// the stripes up. Relaxed, since statistics order nothing.
class striped_counter {
public:
    void add(std::size_t n) noexcept { stripes_[this_thread_stripe()].value.fetch_add(n, std::memory_order_relaxed); }

    [[nodiscard]] std::size_t load() const noexcept {
        std::size_t total = 0;
        for (const stripe& s : stripes_) total += s.value.load(std::memory_order_relaxed);
        return total;
    }

private:
    struct alignas(64) stripe {
        std::atomic<std::size_t> value{0};
    };
    stripe stripes_[stripe_count];
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/striped.hpp ----

namespace kvforge {

/// Threading policy: readers share the lock and run in parallel; writers take it alone.
/// Readers on different cores touch different cache lines (see detail/striped.hpp),
/// so reads scale with the cores instead of queueing for one lock word.
struct thread_safe {
    using policy_kind = kvforge::policy_kind::threading;
    static constexpr std::string_view name = "thread_safe";
    static constexpr std::string_view short_name = "mt";  ///< also accepted in a store spec
    using mutex_type = detail::striped_shared_mutex;
    using counter_type = detail::striped_counter;
    static constexpr bool concurrent = true;
};

static_assert(threading_policy<thread_safe>);

}  // namespace kvforge
// ---- end kvforge/threading/thread_safe.hpp ----

namespace kvforge {

/// In-memory hash store for one thread.
template <class Key, class Value>
using memory_store = store<Key, Value, memory, hash_index, single_thread>;
/// In-memory hash store shared by threads.
template <class Key, class Value>
using memory_store_mt = store<Key, Value, memory, hash_index, thread_safe>;
/// In-memory ordered store (scan, scan_prefix) for one thread.
template <class Key, class Value>
using sorted_memory_store = store<Key, Value, memory, sorted_index, single_thread>;
/// In-memory ordered store shared by threads.
template <class Key, class Value>
using sorted_memory_store_mt = store<Key, Value, memory, sorted_index, thread_safe>;

}  // namespace kvforge
// ---- end kvforge/aliases.hpp ----
// ---- begin kvforge/any_store.hpp ----
/// \file any_store.hpp
/// kvforge::any_store<Key, Value>: a store whose composition is chosen at run time
/// (kvforge::open_store), with the calls of kvforge::store.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

// ---- begin kvforge/detail/function_ref.hpp ----
/// \file function_ref.hpp
/// detail::function_ref: a non-owning reference to a callable, so that a virtual call can
/// take any lambda without allocating (the shape of C++26's std::function_ref).

#include <type_traits>
#include <utility>

namespace kvforge::detail {

template <class Signature>
class function_ref;

/// Refers to a callable that outlives it; calling it calls the callable. Cheap to copy.
template <class R, class... Args>
class function_ref<R(Args...)> {
public:
    /// Implicit, as a function pointer converts: callers pass lambdas where one is expected.
    /// (__builtin_addressof is std::addressof, in gcc, clang and msvc alike, without the
    /// <memory> that any_store.hpp keeps out.)
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, function_ref> && std::is_invocable_r_v<R, F&, Args...>)
    function_ref(F&& f) noexcept
        : object_(const_cast<void*>(static_cast<const void*>(__builtin_addressof(f)))),
          call_([](void* object, Args... args) -> R {
              auto& callable = *static_cast<std::remove_reference_t<F>*>(object);
              if constexpr (std::is_void_v<R>) {
                  callable(std::forward<Args>(args)...);
              } else {
                  return callable(std::forward<Args>(args)...);
              }
          }) {}

    R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
    void* object_;
    R (*call_)(void*, Args...);
};

}  // namespace kvforge::detail
// ---- end kvforge/detail/function_ref.hpp ----

namespace kvforge {

// Named here, defined in pinned_value.hpp, which get_view() needs (open_store.hpp and
// kvforge.hpp include it): it brings <memory>, which costs a file that only reads and
// writes a store more to compile than the rest of this header.
class pinned_value;

template <class Key, class Value>
class any_store;

namespace detail {

struct store_access;

/// T, named so that it depends on Dependent: a member of a class template that uses a type
/// declared here but defined in another header is checked only where it is used.
template <class T, class Dependent>
struct completed_where_used {
    using type = T;
};

/// What an open any_store is: its composition and what it can do, fixed when it opens.
struct erased_description {
    kvforge::composition composition;  ///< store, index, durability and codecs
    std::string threading;             ///< the threading policy's name
    std::string spec;                  ///< the spec that names exactly this store, path included
    bool persistent = false;           ///< keeps its records on disk
    bool ordered = false;              ///< scan() and scan_prefix() work
    bool sequenced = false;            ///< writes return sequence numbers for wait_durable()
};

/// Reports a call that the store's composition cannot serve: kvforge::errc::not_supported,
/// with a message naming what the call needs, what the store has, and the fix.
inline void fail_unsupported(std::error_code& ec, std::string_view call, std::string_view needs,
                             const erased_description& store, std::string_view has, std::string_view fix) noexcept {
    const std::error_code code = make_error_code(errc::not_supported);
    try {
        fail(ec, code,
             std::string(call) + " needs " + std::string(needs) + ", and this store (" + store.spec + ") has " +
                 std::string(has) + "; " + std::string(fix));
    } catch (...) {
        ec = code;  // out of memory for the message: the code alone still says what happened
    }
}

/// scan(), scan_from() and scan_prefix() on a store with an unordered index.
inline void fail_unordered(std::error_code& ec, const erased_description& store) noexcept {
    fail_unsupported(ec, "scan()", "an ordered index ('sorted' in the spec)", store, store.composition.index,
                     store.persistent ? "the index is rebuilt when a store opens, so reopen it with 'sorted' in its spec"
                                      : "create the memory store with 'memory,sorted'");
}

/// What every call of an any_store that holds no store reports.
inline void fail_not_open(std::error_code& ec) {
    fail(ec, errc::store_closed, "the any_store holds no store; open one with kvforge::open_store");
}

/// The description of no store: what an empty any_store reports.
inline const erased_description& no_description() noexcept {
    static const erased_description none;
    return none;
}

/// The calls of a store as virtual functions, one override per composition
/// (open_store.hpp). What a call has no override for reports errc::store_closed.
template <class Key, class Value>
class erased_store {
public:
    using key_param = param_t<Key>;
    using value_param = param_t<Value>;
    using record_visitor = function_ref<bool(std::string_view, std::string_view)>;

    erased_store() = default;
    erased_store(const erased_store&) = delete;
    erased_store& operator=(const erased_store&) = delete;
    virtual ~erased_store() = default;

    [[nodiscard]] const erased_description& description() const noexcept { return description_; }

    virtual std::uint64_t put(key_param, value_param, std::error_code& ec) noexcept { return closed(ec, 0); }
    virtual std::optional<Value> get(key_param, std::error_code& ec) const noexcept {
        return closed(ec, std::optional<Value>{});
    }
    virtual bool get_into(key_param, Value&, std::error_code& ec) const noexcept { return closed(ec, false); }
    virtual bool visit(key_param, function_ref<void(std::string_view)>, std::error_code& ec) const {
        return closed(ec, false);
    }
    /// Pins the stored bytes of key's value into out; returns whether key exists.
    virtual bool get_view(key_param, pinned_value&, std::error_code& ec) const noexcept { return closed(ec, false); }
    virtual bool contains(key_param, std::error_code& ec) const noexcept { return closed(ec, false); }
    virtual bool erase(key_param, std::error_code& ec) noexcept { return closed(ec, false); }
    virtual std::uint64_t put_until(key_param, value_param, std::chrono::system_clock::time_point,
                                    std::error_code& ec) noexcept {
        return closed(ec, 0);
    }
    virtual std::optional<std::chrono::system_clock::time_point> expiry(key_param, std::error_code& ec) const noexcept {
        return closed(ec, std::optional<std::chrono::system_clock::time_point>{});
    }
    virtual std::size_t purge_expired(std::error_code& ec) noexcept { return closed(ec, std::size_t{0}); }
    /// Applies a batch's operations (those of a batch<Key, Value, std::chrono::system_clock>).
    virtual std::uint64_t write(const batch_buffer&, std::error_code& ec) noexcept { return closed(ec, 0); }
    virtual void wait_durable(std::uint64_t, std::error_code& ec) noexcept { closed(ec, 0); }
    virtual std::uint64_t durable_seq(std::error_code& ec) const noexcept { return closed(ec, 0); }
    /// Calls visitor(key, value) in key order from `from` on until it returns false (ordered stores).
    virtual void visit_records(std::string_view, bool, record_visitor, std::error_code& ec) const { closed(ec, 0); }
    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on until it returns false (ordered stores).
    virtual void visit_records_down(std::optional<std::string_view>, bool, record_visitor, std::error_code& ec) const {
        closed(ec, 0);
    }
    /// What scan_range checks its read-ahead against: moves on with every change to the store.
    [[nodiscard]] virtual std::uint64_t write_version() const noexcept { return 0; }
    virtual void for_each(function_ref<void(const Key&, const Value&)>, std::error_code& ec) const { closed(ec, 0); }
    [[nodiscard]] virtual std::size_t size() const { return 0; }
    virtual void clear(std::error_code& ec) noexcept { closed(ec, 0); }
    [[nodiscard]] virtual kvforge::stats stats() const { return {}; }
    virtual void flush(std::error_code& ec) noexcept { closed(ec, 0); }
    virtual void sync(std::error_code& ec) noexcept { closed(ec, 0); }
    virtual void compact(std::error_code& ec) noexcept { closed(ec, 0); }
    virtual void backup(std::string_view, const backup_options&, std::error_code& ec) noexcept { closed(ec, 0); }
    virtual verify_report verify(std::error_code& ec) const noexcept { return closed(ec, verify_report{}); }
    /// A read-only store of the calls above, as of now (store::snapshot), which the caller
    /// owns (an any_store takes it); nullptr on failure.
    virtual erased_store* snapshot(std::error_code& ec) noexcept {
        return closed(ec, static_cast<erased_store*>(nullptr));
    }
    virtual void close(std::error_code& ec) noexcept { ec.clear(); }
    // Pure, so that no object is of this very type: a compiler that devirtualizes an
    // any_store's delete would otherwise compile every body above into each file using it.
    [[nodiscard]] virtual bool is_open() const noexcept = 0;

    /// What scan_range calls: visit_records with any visitor.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_records(from, inclusive, record_visitor(visitor), ec);
    }
    /// What a descending scan_range calls: visit_records_down with any visitor.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_records_down(from, inclusive, record_visitor(visitor), ec);
    }

protected:
    erased_description description_;

private:
    template <class Result>
    static Result closed(std::error_code& ec, Result result) noexcept {
        fail_not_open(ec);
        return result;
    }
};

/// What a scan of an empty any_store reads from: a store whose every call reports
/// errc::store_closed. (The other calls of an empty any_store report it themselves, so
/// that a file using any_store compiles none of erased_store's bodies.) It has no state,
/// so one serves all.
template <class Key, class Value>
class not_open_store final : public erased_store<Key, Value> {
public:
    [[nodiscard]] bool is_open() const noexcept override { return false; }

    static const not_open_store& instance() noexcept {
        static const not_open_store store;
        return store;
    }
};

}  // namespace detail

/// A store opened from a spec at run time (kvforge::open_store), with the calls of
/// kvforge::store: each is one virtual call to the store the spec named. A call that
/// composition cannot serve (scan() on a hash index, wait_durable() without
/// async_worker, get_view() without mmap_file) fails at run time with
/// kvforge::errc::not_supported and a message naming the spec word it needs.
///
/// Every fallible call has a throwing form (kvforge::error) and a std::error_code& form
/// that never throws. A default-constructed or moved-from any_store holds no store:
/// its calls report errc::store_closed. Under thread_safe, one any_store may be used by
/// many threads at once, as its store may.
template <class Key, class Value>
class any_store {
    using erased = detail::erased_store<Key, Value>;
    using key_param = detail::param_t<Key>;
    using value_param = detail::param_t<Value>;
    using pinned = typename detail::completed_where_used<pinned_value, Key>::type;

public:
    using key_type = Key;
    using mapped_type = Value;
    /// The clock of the deadlines an any_store takes: that of expiring<> ("expiring" in a spec).
    using clock = std::chrono::system_clock;
    using time_point = clock::time_point;
    /// A batch for write(): its puts may carry a time to live or a deadline, as an expiring
    /// store's batch_type does; only an expiring store writes a batch with one.
    using batch_type = batch<Key, Value, clock>;
    using range_type = scan_range<erased, Key, Value>;

    /// Holds no store until one is moved in from open_store.
    any_store() noexcept = default;
    any_store(any_store&& other) noexcept : impl_(std::exchange(other.impl_, nullptr)) {}
    any_store& operator=(any_store&& other) noexcept {
        if (this != &other) {
            delete impl_;
            impl_ = std::exchange(other.impl_, nullptr);
        }
        return *this;
    }
    /// Closes the store, ignoring errors: call close() to see them.
    ~any_store() { delete impl_; }

    /// Whether a store is open: always for memory, until close() for persistent ones.
    [[nodiscard]] bool is_open() const noexcept { return impl_ != nullptr && impl_->is_open(); }
    /// Whether the store keeps its records on disk.
    [[nodiscard]] bool persistent() const noexcept { return description().persistent; }
    /// Whether the index is ordered, so that scan() and scan_prefix() work.
    [[nodiscard]] bool ordered() const noexcept { return description().ordered; }
    /// Whether writes return sequence numbers for wait_durable() (async_worker).
    [[nodiscard]] bool sequenced() const noexcept { return description().sequenced; }
    /// The composition opened: store, index and durability policies, and the codecs.
    [[nodiscard]] const kvforge::composition& composition() const noexcept { return description().composition; }
    /// The spec that names exactly this store, every kind spelled out, e.g.
    /// "file_log,sorted_index,buffered,single_thread:data/users".
    [[nodiscard]] const std::string& spec() const noexcept { return description().spec; }

    /// Writes value under key. Returns the write's sequence number with async_worker, else 0.
    std::uint64_t put(key_param key, value_param value) { return thrown(&erased::put, key, value); }
    std::uint64_t put(key_param key, value_param value, std::error_code& ec) noexcept {
        return call(&erased::put, ec, key, value);
    }

    /// The value under key, or nullopt.
    [[nodiscard]] std::optional<Value> get(key_param key) const { return thrown(&erased::get, key); }
    [[nodiscard]] std::optional<Value> get(key_param key, std::error_code& ec) const noexcept {
        return call(&erased::get, ec, key);
    }
    /// Decodes the value under key into out, reusing its storage; returns whether key exists.
    bool get(key_param key, Value& out) const { return thrown(&erased::get_into, key, out); }
    bool get(key_param key, Value& out, std::error_code& ec) const noexcept {
        return call(&erased::get_into, ec, key, out);
    }

    /// Calls fn(std::string_view) with the stored bytes of key's value; returns whether
    /// key exists. As store::visit: the view lives during the call, fn must not call the store.
    template <class Fn>
    bool visit(key_param key, Fn&& fn) const {
        std::error_code ec;
        const bool found = visit(key, std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
        return found;
    }
    template <class Fn>
    bool visit(key_param key, Fn&& fn, std::error_code& ec) const {
        return call(&erased::visit, ec, key, function_ref_to<void(std::string_view)>(fn));
    }

    /// The stored bytes of key's value without copying (mmap_file only; see store::get_view).
    /// Needs <kvforge/pinned_value.hpp>.
    [[nodiscard]] std::optional<pinned> get_view(key_param key) const {
        std::error_code ec;
        std::optional<pinned> view = get_view(key, ec);
        detail::throw_if(ec);
        return view;
    }
    [[nodiscard]] std::optional<pinned> get_view(key_param key, std::error_code& ec) const noexcept {
        std::optional<pinned> view(std::in_place);
        if (!call(&erased::get_view, ec, key, *view)) view.reset();
        return view;
    }

    /// Whether key exists.
    [[nodiscard]] bool contains(key_param key) const { return thrown(&erased::contains, key); }
    [[nodiscard]] bool contains(key_param key, std::error_code& ec) const noexcept {
        return call(&erased::contains, ec, key);
    }

    /// Removes key; returns whether it existed.
    bool erase(key_param key) { return thrown(&erased::erase, key); }
    bool erase(key_param key, std::error_code& ec) noexcept { return call(&erased::erase, ec, key); }

    /// Writes value under key, to expire after ttl or at deadline (store::put with a
    /// deadline). Needs a store opened with "expiring" in its spec (expiring<> of
    /// std::chrono::system_clock); any other fails with errc::not_supported. A ttl that
    /// reaches past the clock's range gives its last time_point, as in store::put.
    template <class Rep, class Period>
    std::uint64_t put(key_param key, value_param value, std::chrono::duration<Rep, Period> ttl) {
        return put(key, value, detail::deadline_after<clock>(ttl));
    }
    template <class Rep, class Period>
    std::uint64_t put(key_param key, value_param value, std::chrono::duration<Rep, Period> ttl,
                      std::error_code& ec) noexcept {
        return put(key, value, detail::deadline_after<clock>(ttl), ec);
    }
    std::uint64_t put(key_param key, value_param value, time_point deadline) {
        return thrown(&erased::put_until, key, value, deadline);
    }
    std::uint64_t put(key_param key, value_param value, time_point deadline, std::error_code& ec) noexcept {
        return call(&erased::put_until, ec, key, value, deadline);
    }
    /// key's deadline, or nullopt when it has none or is absent (expiring stores only).
    [[nodiscard]] std::optional<time_point> expiry(key_param key) const { return thrown(&erased::expiry, key); }
    [[nodiscard]] std::optional<time_point> expiry(key_param key, std::error_code& ec) const noexcept {
        return call(&erased::expiry, ec, key);
    }
    /// Removes every key whose deadline has come; returns how many (expiring stores only).
    std::size_t purge_expired() { return thrown(&erased::purge_expired); }
    std::size_t purge_expired(std::error_code& ec) noexcept { return call(&erased::purge_expired, ec); }

    /// Applies every operation of b, all or none. Returns its sequence number with async_worker, else 0.
    /// b is a batch_type, or a batch<Key, Value> (which takes no deadlines). A batch with a
    /// put() that carries a deadline needs a store opened with "expiring" in its spec; any
    /// other fails with errc::not_supported and writes none of the batch.
    template <class BatchClock>
        requires(std::is_void_v<BatchClock> || std::is_same_v<BatchClock, clock>)
    std::uint64_t write(const batch<Key, Value, BatchClock>& b) {
        return thrown(&erased::write, b.operations());
    }
    template <class BatchClock>
        requires(std::is_void_v<BatchClock> || std::is_same_v<BatchClock, clock>)
    std::uint64_t write(const batch<Key, Value, BatchClock>& b, std::error_code& ec) noexcept {
        return call(&erased::write, ec, b.operations());
    }

    /// Blocks until the write with this sequence number is on disk (async_worker only).
    void wait_durable(std::uint64_t sequence) { thrown(&erased::wait_durable, sequence); }
    void wait_durable(std::uint64_t sequence, std::error_code& ec) noexcept {
        call(&erased::wait_durable, ec, sequence);
    }
    /// The sequence number up to which every write is on disk (async_worker only).
    [[nodiscard]] std::uint64_t durable_seq() const { return thrown(&erased::durable_seq); }
    [[nodiscard]] std::uint64_t durable_seq(std::error_code& ec) const noexcept {
        return call(&erased::durable_seq, ec);
    }

    /// The keys in [from, to) with their values, in ascending key order, or in descending
    /// order (the same keys, largest first) with kvforge::descending (ordered index only:
    /// else this throws at once).
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order = ascending) const {
        require_ordered();
        return range_type(scanned(), detail::scan_bounds::between(encoded(from), encoded(to), order), nullptr);
    }
    /// As scan(from, to); errors, including an unordered index, end the iteration and are
    /// stored in ec, which must outlive the range.
    [[nodiscard]] range_type scan(key_param from, key_param to, std::error_code& ec) const {
        return scan(from, to, ascending, ec);
    }
    /// As scan(from, to, order), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan(key_param from, key_param to, scan_order order, std::error_code& ec) const {
        return range_type(scanned(), detail::scan_bounds::between(encoded(from), encoded(to), order), &ec);
    }
    /// Every key with its value, in ascending (or descending) key order (ordered index only).
    [[nodiscard]] range_type scan(scan_order order = ascending) const {
        require_ordered();
        return range_type(scanned(), detail::scan_bounds::everything(order), nullptr);
    }
    /// As scan(order), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan(scan_order order, std::error_code& ec) const {
        return range_type(scanned(), detail::scan_bounds::everything(order), &ec);
    }
    /// The keys from `from` (included) to the end with their values: the keys >= from in
    /// ascending order, or with kvforge::descending the keys <= from, largest first
    /// (ordered index only).
    [[nodiscard]] range_type scan_from(key_param from, scan_order order = ascending) const {
        require_ordered();
        return range_type(scanned(), detail::scan_bounds::starting_at(encoded(from), order), nullptr);
    }
    /// As scan_from(from), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan_from(key_param from, std::error_code& ec) const {
        return scan_from(from, ascending, ec);
    }
    /// As scan_from(from, order), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan_from(key_param from, scan_order order, std::error_code& ec) const {
        return range_type(scanned(), detail::scan_bounds::starting_at(encoded(from), order), &ec);
    }
    /// The keys that start with prefix (compared as encoded bytes), in ascending (or
    /// descending) key order (ordered index only).
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order = ascending) const {
        require_ordered();
        return range_type(scanned(), detail::scan_bounds::with_prefix(encoded(prefix), order), nullptr);
    }
    /// As scan_prefix(prefix), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan_prefix(key_param prefix, std::error_code& ec) const {
        return scan_prefix(prefix, ascending, ec);
    }
    /// As scan_prefix(prefix, order), with errors stored in ec as scan(from, to, ec) does.
    [[nodiscard]] range_type scan_prefix(key_param prefix, scan_order order, std::error_code& ec) const {
        return range_type(scanned(), detail::scan_bounds::with_prefix(encoded(prefix), order), &ec);
    }

    /// Calls fn(const Key&, const Value&) for every record: in key order with an ordered
    /// index, else in no particular order; as the store's for_each does, so with a hash
    /// index a thread_safe file_log or mmap_file store walks a snapshot taken at the call
    /// (fn may call the store), and other stores walk under the read lock (fn must not
    /// write to the store).
    template <class Fn>
    void for_each(Fn&& fn) const {
        std::error_code ec;
        for_each(std::forward<Fn>(fn), ec);
        detail::throw_if(ec);
    }
    template <class Fn>
    void for_each(Fn&& fn, std::error_code& ec) const {
        call(&erased::for_each, ec, function_ref_to<void(const Key&, const Value&)>(fn));
    }

    /// The number of keys.
    [[nodiscard]] std::size_t size() const { return impl_ != nullptr ? impl_->size() : 0; }
    [[nodiscard]] bool empty() const { return size() == 0; }

    /// Removes every key.
    void clear() { thrown(&erased::clear); }
    void clear(std::error_code& ec) noexcept { call(&erased::clear, ec); }

    /// Counters and sizes; see kvforge::stats.
    [[nodiscard]] kvforge::stats stats() const { return impl_ != nullptr ? impl_->stats() : kvforge::stats{}; }

    /// Hands buffered writes to the OS.
    void flush() { thrown(&erased::flush); }
    void flush(std::error_code& ec) noexcept { call(&erased::flush, ec); }
    /// Makes every write so far durable (no-op for memory).
    void sync() { thrown(&erased::sync); }
    void sync(std::error_code& ec) noexcept { call(&erased::sync, ec); }
    /// Rewrites live records to reclaim the space of dead ones (no-op for memory).
    void compact() { thrown(&erased::compact); }
    void compact(std::error_code& ec) noexcept { call(&erased::compact, ec); }
    /// Copies a persistent store into directory dest while writers go on (store::backup);
    /// a memory store fails with errc::not_supported. Every file is copied unless how
    /// asks for links (backup_options::link_files).
    void backup(std::string_view dest, const backup_options& how = {}) { thrown(&erased::backup, dest, how); }
    void backup(std::string_view dest, std::error_code& ec) noexcept {
        call(&erased::backup, ec, dest, backup_options{});
    }
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) noexcept {
        call(&erased::backup, ec, dest, how);
    }

    /// A read-only view of the store as it is now (store::snapshot), itself an any_store:
    /// its reads and scans answer as of the call, its writes fail with errc::read_only. A
    /// bounded cache fails with errc::not_supported. Moving it releases nothing; destroying
    /// it does (see docs/guide.md, "Snapshots").
    [[nodiscard]] any_store snapshot() const {
        std::error_code ec;
        any_store taken = snapshot(ec);
        detail::throw_if(ec);
        return taken;
    }
    /// As snapshot(); an any_store holding no store, with ec set, on failure.
    [[nodiscard]] any_store snapshot(std::error_code& ec) const noexcept {
        return any_store(call(&erased::snapshot, ec));
    }

    /// Reads and checks every record without changing anything.
    [[nodiscard]] verify_report verify() const { return thrown(&erased::verify); }
    [[nodiscard]] verify_report verify(std::error_code& ec) const noexcept { return call(&erased::verify, ec); }

    /// Writes out and syncs everything and releases a persistent store; nothing for memory.
    void close() { thrown(&erased::close); }
    void close(std::error_code& ec) noexcept {
        if (impl_ != nullptr) {
            impl_->close(ec);
        } else {
            ec.clear();
        }
    }

private:
    friend struct detail::store_access;

    /// Takes ownership of opened (nullptr: no store).
    explicit any_store(erased* opened) noexcept : impl_(opened) {}

    [[nodiscard]] const detail::erased_description& description() const noexcept {
        return impl_ != nullptr ? impl_->description() : detail::no_description();
    }
    /// What a scan reads from: the store, or one that reports errc::store_closed.
    [[nodiscard]] const erased& scanned() const noexcept {
        if (impl_ != nullptr) return *impl_;
        return detail::not_open_store<Key, Value>::instance();
    }

    /// Calls a member of the store with ec, or reports errc::store_closed when there is none.
    template <class Member, class... Args>
    decltype(auto) call(Member member, std::error_code& ec, Args&&... args) const {
        using result = decltype((impl_->*member)(std::forward<Args>(args)..., ec));
        if (impl_ == nullptr) {
            detail::fail_not_open(ec);
            return result();
        }
        return (impl_->*member)(std::forward<Args>(args)..., ec);
    }

    template <class Signature, class Fn>
    static detail::function_ref<Signature> function_ref_to(Fn& fn) noexcept {
        return detail::function_ref<Signature>(fn);
    }

    /// Calls a member of the erased store with a std::error_code and throws what it reports.
    template <class Member, class... Args>
    decltype(auto) thrown(Member member, Args&&... args) const {
        std::error_code ec;
        if constexpr (std::is_void_v<decltype(call(member, ec, std::forward<Args>(args)...))>) {
            call(member, ec, std::forward<Args>(args)...);
            detail::throw_if(ec);
        } else {
            auto result = call(member, ec, std::forward<Args>(args)...);
            detail::throw_if(ec);
            return result;
        }
    }

    /// Throws at once when the store is open and its index unordered, rather than at the
    /// first step of the range (a closed store reports that at the first step).
    void require_ordered() const {
        if (!is_open() || ordered()) return;
        std::error_code ec;
        detail::fail_unordered(ec, description());
        detail::throw_if(ec);
    }

    static std::string encoded(key_param key) {
        std::string scratch;
        return std::string(codec<Key>::encode(key, scratch));
    }

    erased* impl_ = nullptr;  // owned; a unique_ptr would cost every file that includes this <memory>
};

}  // namespace kvforge
// ---- end kvforge/any_store.hpp ----
// ---- begin kvforge/cache/bounded.hpp ----
/// \file bounded.hpp
/// kvforge::bounded: a memory store that is a cache, held within a byte budget.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

// ---- begin kvforge/cache/cache_table.hpp ----
/// \file cache_table.hpp
/// An index table held within a memory budget by an eviction policy: the heart of
/// kvforge::bounded (where it is the whole store) and kvforge::read_cache (where it
/// keeps values in front of the files).
///
/// Each entry's payload in the table is a header, the policy's one-byte mark and the
/// entry's 4-byte ticket, followed by the value. A read finds the payload and changes
/// the mark in place with a relaxed atomic store, so reads need only the shared lock;
/// everything else runs under the exclusive lock.
///
/// The budget counts every byte held: the table's memory (slots, nodes, arena chunks,
/// the garbage of erased and replaced records), the policy's, and the buffer a payload
/// is built in. Two facts shape how it is kept:
///
/// - Erasing from an index table frees little at once: its arena keeps the bytes of
///   erased records until it compacts itself. So evicting cannot pay for an insert byte
///   for byte. Instead the entries' own bytes (keys and values) are kept within a limit,
///   one eviction per insert as in any full cache, and when the memory held passes the
///   budget the table is asked to give back its garbage (shrink_to_fit), which brings it
///   back down.
/// - Tables grow in steps (a doubled slot array, a new arena chunk twice the last), so
///   how many entries fit is not a linear function of the budget. The limit is found by
///   feedback instead: a reclaim that comes after less than a sixteenth of the budget
///   was put or erased since the last one lowers the limit by an eighth (the garbage had
///   too little room), one that comes after more than an eighth raises it by a
///   sixteenth. So the store settles where each pass, which copies the live entries
///   once, is paid for by at least a sixteenth of the budget written. A put that finds
///   a sixteenth of the budget unused, more than an eighth of it written since the last
///   pass, raises the limit by a sixteenth as well: the limit a phase of small entries
///   left would otherwise hold larger ones to a fraction of the budget for good.
///
/// Memory therefore never exceeds the budget once an operation returns. While the arena
/// compacts, it briefly holds the old chunks and the new ones.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <vector>


namespace kvforge::detail {

template <class Table, class Eviction>
class cache_table {
public:
    /// Bytes in front of each value in its payload: the mark, then the ticket.
    static constexpr std::size_t header_size = 1 + sizeof(entry_ticket);

    /// A cache with no budget holds nothing; set_budget() before the first put().
    cache_table() = default;

    /// Takes budget bytes as the limit, or fails with errc::invalid_argument (naming
    /// option, the options field it came from) when it is 0 or cannot hold one entry.
    bool set_budget(std::uint64_t budget, std::string_view option, std::error_code& ec) {
        if (budget == 0) {
            fail(ec, errc::invalid_argument,
                 "options::" + std::string(option) + " is 0; give the bytes the cache may hold");
            return false;
        }
        // What a cache holding one empty entry holds: the smallest table, queue, history.
        cache_table probe;
        probe.budget_ = ~std::uint64_t{0};
        probe.population_limit_ = ~std::uint64_t{0};
        probe.put({}, {});
        const std::uint64_t fixed = probe.memory_usage();
        if (budget < fixed) {
            fail(ec, errc::invalid_argument,
                 "options::" + std::string(option) + " of " + std::to_string(budget) + " bytes is less than the " +
                     std::to_string(fixed) + " bytes a cache holding one entry needs; raise it");
            return false;
        }
        budget_ = budget;
        fixed_bytes_ = fixed;
        population_limit_ = budget;
        churn_ = 0;
        return true;
    }

    [[nodiscard]] std::uint64_t budget() const noexcept { return budget_; }

    /// Keeps companion in step with the entries from now on (see cache_companion).
    void set_companion(cache_companion companion) noexcept { companion_ = companion; }

    /// Whether a cache holding nothing else could hold this key and value: its bytes, a
    /// copy of the key for the policy, and the fixed part.
    [[nodiscard]] bool fits(std::size_t key_size, std::size_t value_size) const noexcept {
        return fixed_bytes_ + 2 * std::uint64_t{key_size} + value_size <= budget_;
    }

    /// The value under key, marking the entry as read. Safe under the shared lock.
    [[nodiscard]] std::optional<std::string_view> read(std::string_view key) const noexcept {
        const std::optional<std::string_view> payload = table_.find(key);
        if (!payload) return std::nullopt;
        std::atomic_ref<std::uint8_t> mark(*writable_mark(*payload));
        const std::uint8_t old = mark.load(std::memory_order_relaxed);
        const std::uint8_t now = Eviction::touch(old);
        // Storing only on a change keeps a hot entry's cache line shared among readers.
        if (now != old) mark.store(now, std::memory_order_relaxed);
        return payload->substr(header_size);
    }

    /// Whether key has an entry; does not mark it.
    [[nodiscard]] bool contains(std::string_view key) const noexcept { return table_.find(key).has_value(); }

    /// Inserts key with value, or replaces its value (keeping its mark), then evicts as
    /// the budget needs; fits(key, value) must hold. The new entry may itself be evicted
    /// when the budget is tight. If an allocation throws while the entry is stored, key
    /// keeps its old value or none; if one throws while reclaiming memory afterwards, the
    /// entry is stored and the memory held may stay above the budget until the next put.
    void put(std::string_view key, std::string_view value) {
        if (const std::optional<std::string_view> old = table_.find(key)) {
            char header[header_size];
            std::memcpy(header, old->data(), header_size);
            std::size_t previous_size = 0;
            table_.upsert(key, build_payload(header, value),
                          [&](std::string_view previous) { previous_size = previous.size() - header_size; });
            live_bytes_ -= key.size() + previous_size;
        } else {
            const entry_ticket ticket = next_ticket_++;
            const std::uint8_t mark = policy_.admit(key, ticket);
            try {
                char header[header_size];
                header[0] = static_cast<char>(mark);
                std::memcpy(header + 1, &ticket, sizeof ticket);
                table_.upsert(key, build_payload(header, value), [](std::string_view) {});
            } catch (...) {
                // The policy's record of the entry is left behind and dropped as gone.
                policy_.forget(mark);
                release_payload_buffer();
                throw;
            }
        }
        live_bytes_ += key.size() + value.size();
        churn_ += key.size() + value.size();
        release_payload_buffer();
        enforce_budget();
    }

    /// Whether a cache holding nothing but these entries would stay within the budget:
    /// for_each(on_entry) calls on_entry(key, value) for each of them, each key once. (A
    /// cache of the same kind is filled with them, without a budget, and measured.)
    template <class ForEach>
    [[nodiscard]] bool holds_whole(ForEach&& for_each) const {
        std::uint64_t bytes = fixed_bytes_;
        for_each([&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); });
        if (bytes > budget_) return false;
        cache_table probe;
        probe.budget_ = ~std::uint64_t{0};
        probe.population_limit_ = ~std::uint64_t{0};
        for_each([&](std::string_view key, std::string_view value) { probe.put(key, value); });
        probe.table_.shrink_to_fit();
        probe.policy_.shrink_to_fit(probe.entries());
        return probe.memory_usage() <= budget_;
    }

    /// From now until end_protecting(), evicts no entry under these keys (views that must
    /// stay valid meanwhile): how a batch that holds_whole() stays whole, evicting others.
    void begin_protecting(const std::unordered_set<std::string_view>& keys) noexcept { protected_ = &keys; }

    /// Ends begin_protecting(): the protected entries the policy picked meanwhile, which it
    /// then forgot, are admitted again as new entries.
    void end_protecting() {
        protected_ = nullptr;
        while (!skipped_.empty()) {
            const std::string& key = skipped_.back();
            if (const std::optional<std::string_view> payload = table_.find(key)) {
                const entry_ticket ticket = next_ticket_++;
                std::uint8_t* const header = writable_mark(*payload);
                try {
                    header[0] = policy_.admit(key, ticket);
                } catch (...) {
                    // An entry the policy does not know could never be evicted: it goes.
                    table_.erase(key, [&](std::string_view gone) { live_bytes_ -= key.size() + gone.size() - header_size; });
                    skipped_.pop_back();
                    throw;
                }
                std::memcpy(header + 1, &ticket, sizeof ticket);
            }
            skipped_.pop_back();
        }
    }

    /// Removes key's entry; returns whether it had one.
    bool erase(std::string_view key) {
        std::uint8_t mark = 0;
        const bool erased = table_.erase(key, [&](std::string_view payload) {
            mark = static_cast<std::uint8_t>(payload[0]);
            live_bytes_ -= key.size() + payload.size() - header_size;
            churn_ += key.size() + payload.size() - header_size;
        });
        if (!erased) return false;
        policy_.forget(mark);
        // The policy keeps the records of erased entries until it meets them; have it
        // drop them once they outnumber the entries, so they cannot pile up. Without
        // the memory to do so now, it is tried again at the next erase.
        if (++forgotten_ > table_.size() + forgotten_slack) {
            try {
                policy_.shrink_to_fit(entries());
                forgotten_ = 0;
            } catch (const std::bad_alloc&) {
            }
        }
        return true;
    }

    /// Drops every entry and frees the memory.
    void clear() noexcept {
        table_.clear();
        policy_.clear();
        live_bytes_ = 0;
        forgotten_ = 0;
    }

    /// Calls visitor(key, value) for every entry, as the table orders them.
    template <class Visitor>
    void for_each(Visitor&& visitor) const {
        table_.for_each([&](std::string_view key, std::string_view payload) { visitor(key, payload.substr(header_size)); });
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false (ordered tables).
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor) const {
        table_.visit_from(from, inclusive, [&](std::string_view key, std::string_view payload) {
            return visitor(key, payload.substr(header_size));
        });
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false (ordered tables).
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor) const {
        table_.visit_down_from(from, inclusive, [&](std::string_view key, std::string_view payload) {
            return visitor(key, payload.substr(header_size));
        });
    }

    [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
    /// Bytes of the keys and values held.
    [[nodiscard]] std::uint64_t live_bytes() const noexcept { return live_bytes_; }
    [[nodiscard]] std::uint64_t evictions() const noexcept { return evictions_; }

    /// Every byte held: the table's, the policy's, the payload buffer's and the companion's.
    [[nodiscard]] std::uint64_t memory_usage() const noexcept {
        return table_.memory_usage() + policy_.memory_usage() + payload_capacity_ +
               (companion_ ? companion_.memory_usage(companion_.context) : 0);
    }

private:
    /// Erased entries the policy may still keep records of, beyond the entries held,
    /// before it is asked to drop them.
    static constexpr std::size_t forgotten_slack = 1024;
    /// A payload buffer larger than this is freed after each put.
    static constexpr std::size_t payload_buffer_keep = std::size_t{64} << 10;

    [[nodiscard]] static std::uint8_t* writable_mark(std::string_view payload) noexcept {
        // The table's payload bytes are its own and writable (see kvforge::index_table).
        return reinterpret_cast<std::uint8_t*>(const_cast<char*>(payload.data()));
    }

    [[nodiscard]] static entry_ticket ticket_of(std::string_view payload) noexcept {
        entry_ticket ticket = 0;
        std::memcpy(&ticket, payload.data() + 1, sizeof ticket);
        return ticket;
    }

    static std::uint8_t* find_mark(const void* self, std::string_view key, entry_ticket ticket) noexcept {
        const std::optional<std::string_view> payload = static_cast<const cache_table*>(self)->table_.find(key);
        if (!payload || ticket_of(*payload) != ticket) return nullptr;
        return writable_mark(*payload);
    }

    [[nodiscard]] cache_entries entries() const noexcept { return {this, &find_mark}; }

    std::string_view build_payload(const char* header, std::string_view value) {
        const std::size_t size = header_size + value.size();
        if (payload_capacity_ < size) {
            payload_buffer_.reset();
            payload_capacity_ = 0;
            payload_buffer_ = std::make_unique_for_overwrite<char[]>(size);
            payload_capacity_ = size;
        }
        std::memcpy(payload_buffer_.get(), header, header_size);
        if (!value.empty()) std::memcpy(payload_buffer_.get() + header_size, value.data(), value.size());
        return {payload_buffer_.get(), size};
    }

    void release_payload_buffer() noexcept {
        if (payload_capacity_ > payload_buffer_keep) {
            payload_buffer_.reset();
            payload_capacity_ = 0;
        }
    }

    /// Evicts the entry the policy picks; false if the policy named no entry held.
    bool evict_one() {
        std::string_view key;
        for (;;) {
            // Every entry has the policy's record but those it picked while protected.
            if (table_.size() == skipped_.size()) return false;
            key = policy_.evict(entries());
            if (protected_ == nullptr || !protected_->contains(key)) break;
            skipped_.emplace_back(key);
        }
        if (companion_) {
            if (const std::optional<std::string_view> payload = table_.find(key)) {
                companion_.evicted(companion_.context, key, payload->substr(header_size));
            }
        }
        const bool erased = table_.erase(key, [&](std::string_view payload) {
            live_bytes_ -= key.size() + payload.size() - header_size;
        });
        if (erased) ++evictions_;
        return erased;
    }

    /// Evicts until the entries' bytes are within limit.
    void evict_to(std::uint64_t limit) {
        while (live_bytes_ > limit && table_.size() > 0) {
            if (!evict_one()) return;
        }
    }

    void enforce_budget() {
        evict_to(population_limit_);
        const std::uint64_t used = memory_usage();
        if (used > budget_) {
            reclaim();
        } else if (churn_ > budget_ / 8 && used + budget_ / 16 <= budget_) {
            raise_limit();
        }
    }

    /// Lets the entries' bytes grow by a sixteenth again. reclaim() raises the limit too,
    /// but it runs only once memory passes the budget, which may never happen again once
    /// the limit is low: a limit lowered while entries were small (their slots weighing
    /// more per byte of entries) would then hold larger ones to a fraction of the budget,
    /// the table's arena giving back its garbage by itself before the budget is reached.
    /// So a put that finds a sixteenth of the budget unused, after more than an eighth of
    /// it was written since the last reclaim, raises it; a reclaim lowers it again if it
    /// rose too far.
    void raise_limit() noexcept {
        population_limit_ = std::min<std::uint64_t>(budget_, std::max(population_limit_, live_bytes_ + live_bytes_ / 16));
    }

    /// Has the table and the policy give back their garbage; while the memory is still
    /// over the budget, lowers the limit in proportion and evicts down to it. Then plans
    /// the limit from the bytes put or erased (which leave garbage) since the last reclaim.
    void reclaim() {
        const std::uint64_t room = budget_ / 16;
        bool measured = false;
        for (;;) {
            table_.shrink_to_fit();
            policy_.shrink_to_fit(entries());
            if (companion_) companion_.shrink_to_fit(companion_.context);
            forgotten_ = 0;
            const std::uint64_t used = memory_usage();
            if (used <= budget_ || table_.size() == 0) break;
            population_limit_ = std::min(population_limit_, scale(live_bytes_, budget_ - room, used));
            measured = true;
            const std::size_t held = table_.size();
            evict_to(population_limit_);
            if (table_.size() == held && !evict_one()) break;
        }
        if (!measured && churn_ < room) {
            population_limit_ = std::min(population_limit_, live_bytes_ - live_bytes_ / 8);
        } else if (!measured && churn_ > 2 * room) {
            raise_limit();
        }
        churn_ = 0;
    }

    /// value * numerator / denominator without overflow.
    [[nodiscard]] static std::uint64_t scale(std::uint64_t value, std::uint64_t numerator, std::uint64_t denominator) noexcept {
        return static_cast<std::uint64_t>(static_cast<long double>(value) * static_cast<long double>(numerator) /
                                          static_cast<long double>(denominator));
    }

    Table table_;
    Eviction policy_;
    std::uint64_t budget_ = 0;
    std::uint64_t fixed_bytes_ = 0;
    std::uint64_t population_limit_ = 0;  ///< the most key and value bytes held before evicting
    std::uint64_t churn_ = 0;             ///< bytes of keys and values put or erased since the last reclaim
    std::uint64_t live_bytes_ = 0;
    std::uint64_t evictions_ = 0;
    std::size_t forgotten_ = 0;           ///< entries erased since the policy last dropped their records
    entry_ticket next_ticket_ = 0;
    std::unique_ptr<char[]> payload_buffer_;
    std::size_t payload_capacity_ = 0;
    cache_companion companion_;
    const std::unordered_set<std::string_view>* protected_ = nullptr;  ///< keys not to evict, while set
    std::vector<std::string> skipped_;  ///< protected keys the policy picked (and forgot) meanwhile
};

}  // namespace kvforge::detail
// ---- end kvforge/cache/cache_table.hpp ----
// ---- begin kvforge/cache/s3fifo.hpp ----
/// \file s3fifo.hpp
/// kvforge::s3fifo: the scan-resistant eviction policy of "FIFO queues are all you need
/// for cache eviction" (Yang et al., SOSP 2023), kvforge's default.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>
#include <utility>

// ---- begin kvforge/cache/key_queue.hpp ----
/// \file key_queue.hpp
/// A first-in first-out queue of (ticket, key) records: the queues of kvforge's eviction
/// policies, which must name the entry they evict by its key.
///
/// Records lie one after another in a ring buffer: the ticket (4 bytes), the key's length
/// (4 bytes), the key's bytes. A record never wraps
/// around the buffer's end: when it does not fit before the end, the bytes up to the end
/// are skipped (marked by a length of ~0 when a header fits there; fewer bytes than a
/// header are skipped without a mark) and the record starts at offset 0. Space freed at
/// the front is reused at the back, so a queue whose records come and go at the same pace
/// keeps its size; it grows by half when full, and shrink_to_fit() and retain() pack it
/// into a buffer its records fill but for an eighth.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>


namespace kvforge::detail {

class key_queue {
public:
    /// One queued record; the key points into the queue.
    struct record {
        entry_ticket ticket = 0;
        std::string_view key;
    };

    key_queue() = default;
    key_queue(key_queue&& other) noexcept { swap(other); }
    key_queue& operator=(key_queue&& other) noexcept {
        key_queue moved(std::move(other));
        swap(moved);
        return *this;
    }

    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return count_; }

    /// Appends a record. key may be the key of the record pop() returned last: it is read
    /// before the bytes it lies in are reused or freed. If growing the buffer throws, the
    /// queue is unchanged.
    void push(entry_ticket ticket, std::string_view key) {
        const std::size_t size = header_size + key.size();
        std::size_t at = tail_;
        std::size_t skipped = 0;
        if (capacity_ - at < size) {
            skipped = capacity_ - at;
            at = 0;
        }
        if (capacity_ == 0 || used_ + skipped + size > capacity_) {
            grow(ticket, key);
            return;
        }
        // The key first, with memmove: it may overlap the popped record it comes from,
        // which the header and the skip mark written next may then overwrite.
        if (!key.empty()) std::memmove(buffer_.get() + at + header_size, key.data(), key.size());
        if (skipped >= header_size) write_u32(tail_ + 4, skip_mark);
        write_header(at, ticket, key.size());
        tail_ = at + size;
        used_ += skipped + size;
        ++count_;
    }

    /// Removes the oldest record and returns it; its key stays valid until the next push().
    /// The queue must not be empty.
    record pop() noexcept {
        skip_to_record();
        record r;
        r.ticket = read_u32(head_);
        const std::size_t length = read_u32(head_ + 4);
        r.key = {buffer_.get() + head_ + header_size, length};
        head_ += header_size + length;
        used_ -= header_size + length;
        --count_;
        return r;
    }

    /// Keeps the records for which keep(ticket, key) is true, in their order, in a buffer
    /// sized for them (with an eighth to spare); the rest are dropped. keep is called once
    /// per record. If allocating throws, the queue is unchanged.
    template <class Keep>
    void retain(Keep&& keep) {
        std::vector<bool> kept(count_);
        std::size_t kept_bytes = 0;
        visit([&](std::size_t i, entry_ticket ticket, std::string_view key) {
            kept[i] = keep(ticket, key);
            if (kept[i]) kept_bytes += header_size + key.size();
        });
        key_queue packed;
        packed.allocate(fitting_capacity(kept_bytes));
        visit([&](std::size_t i, entry_ticket ticket, std::string_view key) {
            if (kept[i]) packed.append_unchecked(ticket, key);
        });
        swap(packed);
    }

    /// Packs the records into a buffer sized for them when the one held is more than half
    /// as large again. If allocating throws, the queue is unchanged.
    void shrink_to_fit() {
        if (capacity_ > min_capacity && capacity_ > used_ + used_ / 2) {
            retain([](entry_ticket, std::string_view) { return true; });
        }
    }

    /// Bytes of memory the queue holds.
    [[nodiscard]] std::size_t memory_usage() const noexcept { return capacity_; }

    /// Drops every record and frees the buffer.
    void clear() noexcept { *this = key_queue{}; }

private:
    static constexpr std::size_t header_size = 8;
    static constexpr std::uint32_t skip_mark = ~std::uint32_t{0};
    static constexpr std::size_t min_capacity = 256;

    void swap(key_queue& other) noexcept {
        std::swap(buffer_, other.buffer_);
        std::swap(capacity_, other.capacity_);
        std::swap(head_, other.head_);
        std::swap(tail_, other.tail_);
        std::swap(used_, other.used_);
        std::swap(count_, other.count_);
    }

    /// A capacity that holds bytes of records with an eighth to spare.
    [[nodiscard]] static std::size_t fitting_capacity(std::size_t bytes) noexcept {
        return std::max(min_capacity, bytes + bytes / 8);
    }

    void allocate(std::size_t capacity) {
        buffer_ = std::make_unique_for_overwrite<char[]>(capacity);
        capacity_ = capacity;
    }

    /// Moves head_ past the skipped bytes at the buffer's end, if it stands before them.
    void skip_to_record() noexcept {
        if (capacity_ - head_ >= header_size && read_u32(head_ + 4) != skip_mark) return;
        used_ -= capacity_ - head_;
        head_ = 0;
    }

    /// Calls f(index, ticket, key) for each record, oldest first, without removing any.
    template <class F>
    void visit(F&& f) const {
        std::size_t at = head_;
        for (std::size_t i = 0; i < count_; ++i) {
            if (capacity_ - at < header_size || read_u32(at + 4) == skip_mark) at = 0;
            const std::size_t length = read_u32(at + 4);
            f(i, read_u32(at), std::string_view(buffer_.get() + at + header_size, length));
            at += header_size + length;
        }
    }

    /// Grows the buffer by half (or more, until the records and the new one fit), copies
    /// the records to its start, then appends the new one; the old buffer, which key may
    /// point into, is freed last.
    void grow(entry_ticket ticket, std::string_view key) {
        std::size_t live = 0;
        visit([&](std::size_t, entry_ticket, std::string_view k) { live += header_size + k.size(); });
        const std::size_t capacity =
            std::max(fitting_capacity(live + header_size + key.size()), capacity_ + capacity_ / 2);
        key_queue bigger;
        bigger.allocate(capacity);
        visit([&](std::size_t, entry_ticket t, std::string_view k) { bigger.append_unchecked(t, k); });
        bigger.append_unchecked(ticket, key);
        swap(bigger);
    }

    /// Appends a record to a queue that has never wrapped and has room for it.
    void append_unchecked(entry_ticket ticket, std::string_view key) noexcept {
        if (!key.empty()) std::memcpy(buffer_.get() + tail_ + header_size, key.data(), key.size());
        write_header(tail_, ticket, key.size());
        tail_ += header_size + key.size();
        used_ += header_size + key.size();
        ++count_;
    }

    void write_header(std::size_t at, entry_ticket ticket, std::size_t length) noexcept {
        write_u32(at, ticket);
        write_u32(at + 4, static_cast<std::uint32_t>(length));
    }
    void write_u32(std::size_t at, std::uint32_t value) noexcept { std::memcpy(buffer_.get() + at, &value, 4); }
    [[nodiscard]] std::uint32_t read_u32(std::size_t at) const noexcept {
        std::uint32_t value = 0;
        std::memcpy(&value, buffer_.get() + at, 4);
        return value;
    }

    std::unique_ptr<char[]> buffer_;
    std::size_t capacity_ = 0;  ///< 0 before the first push
    std::size_t head_ = 0;      ///< where the oldest record (or the skipped bytes before it) starts
    std::size_t tail_ = 0;      ///< where the next record goes
    std::size_t used_ = 0;      ///< bytes from head_ to tail_, skipped ones included
    std::size_t count_ = 0;     ///< records queued
};

}  // namespace kvforge::detail
// ---- end kvforge/cache/key_queue.hpp ----

namespace kvforge {

/// Eviction policy: S3-FIFO. Most entries of a skewed workload are read once, if ever,
/// after they come in; S3-FIFO drops those quickly and keeps the others long:
///
/// - a new entry goes to a small queue (a tenth of the entries), or straight to the
///   main queue when its key is in the ghost history (evicted from the small queue
///   recently, so it came back soon);
/// - a read raises the entry's mark, a frequency counter that stops at 3 (one relaxed
///   store, no lock);
/// - evicting from the small queue, while it holds a tenth of the entries or more: its
///   oldest entry moves to the main queue if it was read there, else it is evicted and
///   its key's fingerprint goes into the ghost history;
/// - evicting from the main queue: its oldest entry goes to the back with its counter
///   lowered by one if it was read, else it is evicted.
///
/// A one-pass scan thus passes through the small queue without displacing the main
/// queue's entries, which LRU would all evict in turn.
///
/// Metadata per entry: the mark and a 4-byte ticket in the index (5 bytes, which every
/// eviction policy pays), a queue record of 8 bytes plus a copy of the key, and the
/// ghost history: 2-byte fingerprints in a table of at least as many slots as entries
/// and at most twice as many (2 to 4 bytes per entry). The history is direct-mapped: a
/// fingerprint stays until another lands on its slot, so it remembers about as many
/// keys as the cache holds entries, the paper's size for it.
class s3fifo {
public:
    static constexpr std::string_view name = "s3fifo";

    /// A read raises the frequency, up to 3; the bit for "in the main queue" is kept.
    [[nodiscard]] static constexpr std::uint8_t touch(std::uint8_t mark) noexcept {
        return (mark & frequency_mask) == frequency_mask ? mark : static_cast<std::uint8_t>(mark + 1);
    }

    /// A new entry goes to the main queue when the ghost history remembers its key, else
    /// to the small queue.
    std::uint8_t admit(std::string_view key, entry_ticket ticket) {
        fit_ghost(small_count_ + main_count_ + 1);
        const std::uint64_t hash = detail::hash_bytes(key);
        if (ghost_remove(hash)) {
            main_.push(ticket, key);
            ++main_count_;
            return in_main;
        }
        small_.push(ticket, key);
        ++small_count_;
        return 0;
    }

    /// An erased entry leaves its queue's count now, and its record when it reaches the front.
    void forget(std::uint8_t mark) noexcept { --((mark & in_main) != 0 ? main_count_ : small_count_); }

    std::string_view evict(const cache_entries& entries) {
        for (;;) {
            // Each pass either evicts, moves an entry from the small queue to the main
            // one, or lowers a main entry's counter: it ends within four turns of the queues.
            const bool from_small = small_count_ > 0 && (main_count_ == 0 || small_count_ * 10 >= small_count_ + main_count_);
            detail::key_queue& queue = from_small ? small_ : main_;
            const detail::key_queue::record front = queue.pop();
            std::uint8_t* mark = entries.mark(front.key, front.ticket);
            if (mark == nullptr) continue;  // erased since it was queued
            const std::uint8_t frequency = *mark & frequency_mask;
            if (from_small) {
                if (frequency == 0) {
                    --small_count_;
                    ghost_add(detail::hash_bytes(front.key));
                    return front.key;
                }
                if (!requeue(main_, front)) {
                    --small_count_;
                    return front.key;
                }
                --small_count_;
                ++main_count_;
                *mark = static_cast<std::uint8_t>(in_main | (frequency - 1));
            } else {
                if (frequency == 0 || !requeue(main_, front)) {
                    --main_count_;
                    return front.key;
                }
                *mark = static_cast<std::uint8_t>(in_main | (frequency - 1));
            }
        }
    }

    /// Drops the records of erased entries, packs the queues and sizes the ghost history
    /// to the entries held.
    void shrink_to_fit(const cache_entries& entries) {
        const auto live = [&](entry_ticket ticket, std::string_view key) { return entries.mark(key, ticket) != nullptr; };
        for (auto [queue, count] : {std::pair{&small_, small_count_}, std::pair{&main_, main_count_}}) {
            if (queue->size() > count) {
                queue->retain(live);
            } else {
                queue->shrink_to_fit();
            }
        }
        const std::size_t wanted = ghost_slots_for(small_count_ + main_count_);
        if (wanted < ghost_slots_) resize_ghost(wanted);
    }

    [[nodiscard]] std::size_t memory_usage() const noexcept {
        return small_.memory_usage() + main_.memory_usage() + ghost_slots_ * sizeof(std::uint16_t);
    }

    void clear() noexcept { *this = s3fifo{}; }

private:
    static constexpr std::uint8_t frequency_mask = 3;
    static constexpr std::uint8_t in_main = 0x80;
    static constexpr std::size_t min_ghost_slots = 64;

    /// Moves a popped record to the back of queue; false when there is no memory for it.
    static bool requeue(detail::key_queue& queue, const detail::key_queue::record& r) noexcept {
        try {
            queue.push(r.ticket, r.key);
            return true;
        } catch (const std::bad_alloc&) {
            return false;
        }
    }

    // The ghost history: a direct-mapped table of 16-bit fingerprints, 0 for an empty
    // slot. The slot comes from bits 16..47 of the key's hash and the fingerprint from
    // its top 16 bits, so the two are independent (the index tables use the low bits).
    [[nodiscard]] std::size_t ghost_slot(std::uint64_t hash) const noexcept { return (hash >> 16) & (ghost_slots_ - 1); }
    [[nodiscard]] static std::uint16_t fingerprint(std::uint64_t hash) noexcept {
        const auto f = static_cast<std::uint16_t>(hash >> 48);
        return f == 0 ? 1 : f;
    }

    void ghost_add(std::uint64_t hash) noexcept {
        if (ghost_slots_ != 0) ghost_[ghost_slot(hash)] = fingerprint(hash);
    }

    /// Whether the history remembers hash; forgets it if so.
    bool ghost_remove(std::uint64_t hash) noexcept {
        if (ghost_slots_ == 0) return false;
        std::uint16_t& slot = ghost_[ghost_slot(hash)];
        if (slot != fingerprint(hash)) return false;
        slot = 0;
        return true;
    }

    [[nodiscard]] static std::size_t ghost_slots_for(std::size_t entries) noexcept {
        std::size_t slots = min_ghost_slots;
        while (slots < entries) slots *= 2;
        return slots;
    }

    /// Grows the history (forgetting it: a slot's place depends on the table's size)
    /// when the cache holds more entries than it has slots.
    void fit_ghost(std::size_t entries) {
        if (entries > ghost_slots_) resize_ghost(ghost_slots_for(entries));
    }

    void resize_ghost(std::size_t slots) {
        ghost_ = std::make_unique<std::uint16_t[]>(slots);
        ghost_slots_ = slots;
    }

    detail::key_queue small_;
    detail::key_queue main_;
    std::size_t small_count_ = 0;  ///< entries in the small queue that have not gone
    std::size_t main_count_ = 0;   ///< entries in the main queue that have not gone
    std::unique_ptr<std::uint16_t[]> ghost_;
    std::size_t ghost_slots_ = 0;
};

static_assert(eviction_policy<s3fifo>);

}  // namespace kvforge
// ---- end kvforge/cache/s3fifo.hpp ----

namespace kvforge {

namespace detail {

/// The byte-level store behind store<K, V, memory, bounded<E>, ...>: the memory store's
/// operations over a cache_table, which evicts to stay within options::memory_budget.
template <class Policies, class Eviction>
class bounded_backend {
    using table_type = typename Policies::index::table;
    using cache_type = cache_table<table_type, Eviction>;
    using mutex_type = typename Policies::threading::mutex_type;
    using counter_type = typename Policies::threading::counter_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;

public:
    static constexpr bool sequenced = false;

    /// Takes options::memory_budget; until it succeeds, every write fails.
    void configure(const kvforge::options& opts, std::error_code& ec) {
        const write_lock lock(mutex_);
        cache_.set_budget(opts.memory_budget, "memory_budget", ec);
    }

    /// Keeps a layer's companion structure in step with the entries the cache evicts,
    /// and counts its memory within the budget (cache_companion).
    void set_companion(cache_companion companion) {
        const write_lock lock(mutex_);
        cache_.set_companion(companion);
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        const write_lock lock(mutex_);
        if (!admissible(key, value, ec)) return 0;
        version_.bump();
        cache_.put(key, value);
        version_.bump();
        puts_.add(1);
        return 0;
    }

    bool erase(std::string_view key, std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        const bool erased = cache_.erase(key);
        if (erased) {
            version_.bump();
            erases_.add(1);
        }
        return erased;
    }

    /// Applies a batch under one lock, so readers see all of it or none of it, and keeps
    /// it whole: the keys it puts are not evicted to make room for each other, others are.
    /// Refuses the whole batch, changing nothing, with errc::value_too_large, when one of
    /// its entries cannot fit in the budget, or when all the entries it leaves (each key's
    /// last put) could not be held at once by a cache holding nothing else.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        const write_lock lock(mutex_);
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            if (op == batch_op::put && !ec) admissible(key, value, ec);
        });
        if (ec) return 0;
        // Each key's last operation decides what the batch leaves: its value, or none.
        std::unordered_map<std::string_view, std::optional<std::string_view>> last;
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            last.insert_or_assign(key, op == batch_op::put ? std::optional(value) : std::nullopt);
        });
        const auto for_each_put = [&](auto&& on_entry) {
            for (const auto& [key, value] : last) {
                if (value) on_entry(key, *value);
            }
        };
        if (!cache_.holds_whole(for_each_put)) {
            std::uint64_t bytes = 0;
            for_each_put([&](std::string_view key, std::string_view value) { bytes += key.size() + value.size(); });
            fail(ec, errc::value_too_large,
                 "a batch leaving " + std::to_string(bytes) + " bytes of keys and values cannot be held whole in a "
                 "bounded store's memory_budget of " + std::to_string(cache_.budget()) +
                     " bytes; nothing was written: split the batch or raise options::memory_budget");
            return 0;
        }
        version_.bump();
        // Erasures first, then the puts under protection; as the operations run in order,
        // only each key's last one shows.
        for (const auto& [key, value] : last) {
            if (!value && cache_.erase(key)) erases_.add(1);
        }
        std::unordered_set<std::string_view> kept;
        for_each_put([&](std::string_view key, std::string_view) { kept.insert(key); });
        cache_.begin_protecting(kept);
        try {
            for_each_put([&](std::string_view key, std::string_view value) { cache_.put(key, value); });
        } catch (...) {
            cache_.end_protecting();
            version_.bump();
            throw;
        }
        cache_.end_protecting();
        ops.for_each([&](batch_op op, std::string_view, std::string_view) {
            if (op == batch_op::put) puts_.add(1);
        });
        version_.bump();
        batches_.add(1);
        return 0;
    }

    /// Calls on_value(value bytes) under the read lock when key is held, marking it read.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        // A hit bumps one counter, as a memory store's get does: hits are the gets that
        // were neither misses nor lookups by contains().
        gets_.add(1);
        const auto value = cache_.read(key);
        if (!value) {
            misses_.add(1);
            return false;
        }
        on_value(*value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        gets_.add(1);
        lookups_.add(1);
        return cache_.contains(key);
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.visit_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.visit_down_from(from, inclusive, visitor);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        cache_.for_each(visitor);
    }

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return cache_.size();
    }

    /// A number that every change of the contents (evictions included, which only puts
    /// make) moves on, read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    void clear(std::error_code& /*ec*/) {
        const write_lock lock(mutex_);
        version_.bump();
        cache_.clear();
        version_.bump();
    }

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = cache_.size();
        s.live_bytes = cache_.live_bytes();
        s.memory_bytes = cache_.memory_usage();
        s.puts = puts_.load();
        s.gets = gets_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
        s.misses = misses_.load();
        // Readers bump the counters while they are read: keep the difference from wrapping.
        const std::uint64_t not_hits = s.misses + lookups_.load();
        s.hits = s.gets > not_hits ? s.gets - not_hits : 0;
        s.evictions = cache_.evictions();
        return s;
    }

    void flush(std::error_code& /*ec*/) {}
    void sync(std::error_code& /*ec*/) {}
    void compact(std::error_code& /*ec*/) {}

    [[nodiscard]] verify_report verify(std::error_code& /*ec*/) const {
        const read_lock lock(mutex_);
        verify_report report;
        report.records_checked = cache_.size();
        return report;
    }

private:
    /// Whether key and value may be put: the store has a budget and the entry fits in it.
    bool admissible(std::string_view key, std::string_view value, std::error_code& ec) const {
        if (cache_.budget() == 0) {
            fail(ec, errc::invalid_argument,
                 "this bounded store has no memory budget; construct it with kvforge::options::memory_budget");
            return false;
        }
        if (cache_.fits(key.size(), value.size())) return true;
        fail(ec, errc::value_too_large,
             "a key of " + std::to_string(key.size()) + " bytes and a value of " + std::to_string(value.size()) +
                 " bytes do not fit in a bounded store's memory_budget of " + std::to_string(cache_.budget()) +
                 " bytes; raise options::memory_budget");
        return false;
    }

    mutable mutex_type mutex_;
    cache_type cache_;
    counter_type puts_;
    mutable counter_type gets_;
    mutable counter_type misses_;
    mutable counter_type lookups_;  ///< gets by contains(), which read no value
    counter_type erases_;
    counter_type batches_;
    detail::write_version<Policies::threading::concurrent> version_;
};

}  // namespace detail

/// Cache policy for a kvforge::memory store: the store becomes a cache that holds at
/// most options::memory_budget bytes, every byte counted (keys, values, index slots and
/// nodes, arena chunks and their garbage, eviction metadata, and with kvforge::expiring<>
/// the deadline index, which each eviction keeps in step), and evicts the entries
/// Eviction picks to stay within it. A put never fails for want of room, except for one
/// entry too large for the budget on its own (errc::value_too_large, nothing changed).
/// Reads that hit take only the shared lock. stats() adds hits, misses and evictions.
///
///     kvforge::store<std::string, std::string, kvforge::memory, kvforge::bounded<>>
///         cache{kvforge::options{.memory_budget = 64 << 20}};
template <class Eviction = s3fifo>
struct bounded {
    static_assert(eviction_policy<Eviction>,
                  "kvforge: the eviction policy given to bounded<> does not satisfy kvforge::eviction_policy (see "
                  "kvforge/concepts.hpp)");
    using policy_kind = kvforge::policy_kind::cache;
    using eviction = Eviction;
    static constexpr bool persistent_store = false;
    /// Replaces the memory store's backend: the cache holds the records itself.
    template <class Policies, class StoreBackend>
    using backend = detail::bounded_backend<Policies, Eviction>;
};

}  // namespace kvforge
// ---- end kvforge/cache/bounded.hpp ----
// ---- begin kvforge/cache/lru.hpp ----
/// \file lru.hpp
/// kvforge::lru: least recently used eviction with lazy promotion (CLOCK).

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>


namespace kvforge {

/// Eviction policy: LRU with lazy promotion, as CLOCK does it. Entries wait in one queue
/// in the order they came; a read only sets the entry's mark to 1 (one relaxed store, no
/// lock, no list surgery). When room is needed the oldest entry is looked at: if it was
/// read since it was last looked at, its mark is cleared and it goes to the back of the
/// queue; otherwise it is evicted. So an entry read once in a full turn of the queue
/// stays, and the evicted entry is one not read for a whole turn: the classic
/// approximation of LRU, which reorders entries only when evicting.
///
/// Metadata per entry: the mark and a 4-byte ticket in the index (5 bytes, which every
/// eviction policy pays), and a queue record of 8 bytes plus a copy of the key, since the
/// queue must name the entry it evicts. This is also the reference for writing an
/// eviction policy (see kvforge::eviction_policy).
class lru {
public:
    static constexpr std::string_view name = "lru";

    /// A read marks the entry as read since it was last looked at.
    [[nodiscard]] static constexpr std::uint8_t touch(std::uint8_t) noexcept { return 1; }

    /// A new entry goes to the back of the queue, not yet read.
    std::uint8_t admit(std::string_view key, entry_ticket ticket) {
        queue_.push(ticket, key);
        ++live_;
        return 0;
    }

    /// An erased entry's record stays queued until it reaches the front (or
    /// shrink_to_fit), where it is recognised as gone and dropped.
    void forget(std::uint8_t) noexcept { --live_; }

    /// Gives a second chance to the front entries read since they were last looked at,
    /// and evicts the first that was not. Ends within one turn of the queue, since every
    /// entry it passes over has its mark cleared.
    std::string_view evict(const cache_entries& entries) {
        for (;;) {
            const detail::key_queue::record front = queue_.pop();
            std::uint8_t* mark = entries.mark(front.key, front.ticket);
            if (mark == nullptr) continue;  // erased since it was queued
            if (*mark != 0 && requeue(front)) {
                *mark = 0;
                continue;
            }
            --live_;
            return front.key;
        }
    }

    /// Drops the records of erased entries, if any, and packs the queue.
    void shrink_to_fit(const cache_entries& entries) {
        if (queue_.size() > live_) {
            queue_.retain([&](entry_ticket ticket, std::string_view key) { return entries.mark(key, ticket) != nullptr; });
        } else {
            queue_.shrink_to_fit();
        }
    }

    [[nodiscard]] std::size_t memory_usage() const noexcept { return queue_.memory_usage(); }

    void clear() noexcept {
        queue_.clear();
        live_ = 0;
    }

private:
    /// Moves a popped record to the back; false when there is no memory for it, and the
    /// entry is evicted instead, which keeps every entry held queued.
    bool requeue(const detail::key_queue::record& r) noexcept {
        try {
            queue_.push(r.ticket, r.key);
            return true;
        } catch (const std::bad_alloc&) {
            return false;
        }
    }

    detail::key_queue queue_;
    std::size_t live_ = 0;  ///< entries admitted and not yet gone; the queue may hold more records
};

static_assert(eviction_policy<lru>);

}  // namespace kvforge
// ---- end kvforge/cache/lru.hpp ----
// ---- begin kvforge/cache/read_cache.hpp ----
/// \file read_cache.hpp
/// kvforge::read_cache: recently read values of a persistent store kept in memory.

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

// ---- begin kvforge/detail/thread_buffer.hpp ----
/// \file thread_buffer.hpp
/// A thread's reusable buffers for reads, which give their memory back after a large read.
///
/// A read that copies a record (pread, or out of the writer's buffer) needs a buffer as
/// large as the record. Keeping one per thread saves an allocation per read; but a buffer
/// that kept its largest size would hold, for the thread's life, the memory of the largest
/// value it ever read, outside every budget (eight threads that read a 32 MiB value once
/// each: 256 MiB held). So a buffer is lent for one read, and one that grew past
/// thread_buffer_keep bytes is freed when it comes back: a thread holds at most
/// thread_buffer_keep bytes per use between reads.

#include <cstddef>
#include <string>

namespace kvforge::detail {

/// What a thread's buffer is for: one buffer per use, as a read may hold two at once (a
/// read cache copies the value out of the record buffer the store's read fills).
enum class thread_buffer_use : unsigned {
    record,      ///< a record a store's read copies (stores/log/log_reads.hpp)
    value_head,  ///< a record's header and key that read_value reads beside the value (record_reader.hpp)
    cache_fill,  ///< a value a read cache keeps a copy of (cache/read_cache.hpp)
};

/// The capacity a thread's buffer may keep between reads; a larger one is freed.
inline constexpr std::size_t thread_buffer_keep = std::size_t{256} << 10;

/// The calling thread's buffer for use.
[[nodiscard]] inline std::string& thread_buffer_of(thread_buffer_use use) noexcept {
    thread_local std::string buffers[3];
    return buffers[static_cast<unsigned>(use)];
}

/// The calling thread's buffer for use, lent for one read: empty when lent, freed when
/// given back if it grew past thread_buffer_keep. One borrower per use at a time.
class borrowed_buffer {
public:
    explicit borrowed_buffer(thread_buffer_use use) noexcept : buffer_(thread_buffer_of(use)) { buffer_.clear(); }
    ~borrowed_buffer() {
        if (buffer_.capacity() > thread_buffer_keep) std::string().swap(buffer_);
    }
    borrowed_buffer(const borrowed_buffer&) = delete;
    borrowed_buffer& operator=(const borrowed_buffer&) = delete;

    [[nodiscard]] std::string& get() noexcept { return buffer_; }

private:
    std::string& buffer_;
};

/// Bytes the calling thread's read buffers hold: at most thread_buffer_keep each between reads.
[[nodiscard]] inline std::size_t thread_buffers_capacity() noexcept {
    return thread_buffer_of(thread_buffer_use::record).capacity() +
           thread_buffer_of(thread_buffer_use::value_head).capacity() +
           thread_buffer_of(thread_buffer_use::cache_fill).capacity();
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/thread_buffer.hpp ----

namespace kvforge {

namespace detail {

/// A persistent store's backend with a cache of values in front of it. It knows nothing
/// of the store beneath but its calls: reads try the cache first and remember what they
/// read from the store; every write, batch and clear passes through and then drops the
/// keys it touched from the cache (compaction moves records but changes no value).
///
/// The cache has its own lock, so a read that hits takes only the cache's shared lock
/// and never the store's. Two rules keep it from serving a stale value when writers and
/// readers race:
///
/// - A write drops its keys from the cache before the store applies it, rather than
///   storing the new value (two writers of one key may reach the cache in the other
///   order than the store), and counts itself in flight until the store has applied it.
///   While it is in flight every read of its keys goes to the store.
/// - A read that missed remembers the value it read only if no write was in flight when
///   it looked in the cache and none has begun since (a version, bumped by each write
///   under the cache's lock): otherwise the value it holds may be one a write has since
///   replaced, and a reader that already saw the new value would see the old one again.
///
/// Both are kept per shard of keys (by hash, fill_shard_count of them), not for the whole
/// store: a write holds back the fills of its own keys' shards only, so a steady stream
/// of writes to some keys does not keep every other key out of the cache.
template <class Policies, class Inner, class Eviction>
class read_cache_backend {
    using cache_type = cache_table<hash_table, Eviction>;
    using mutex_type = typename Policies::threading::mutex_type;
    using counter_type = typename Policies::threading::counter_type;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;

public:
    static constexpr bool sequenced = Inner::sequenced;

    template <class Io>
    void open(std::string_view path, const kvforge::options& opts, Io io, const composition& wanted,
              std::error_code& ec) {
        {
            const write_lock lock(mutex_);
            cache_.clear();
            bump_versions(every_shard);
            if (!cache_.set_budget(opts.cache_budget, "cache_budget", ec)) return;
        }
        inner_.open(path, opts, std::move(io), wanted, ec);
    }

    void close(std::error_code& ec) {
        inner_.close(ec);
        const write_lock lock(mutex_);
        cache_.clear();
        bump_versions(every_shard);
    }
    /// As close(ec), with Inner calling before_release() once its data files are final.
    void close(std::error_code& ec, function_ref<void()> before_release)
        requires requires(Inner& inner) { inner.close(ec, before_release); }
    {
        inner_.close(ec, before_release);
        const write_lock lock(mutex_);
        cache_.clear();
        bump_versions(every_shard);
    }

    [[nodiscard]] bool is_open() const noexcept { return inner_.is_open(); }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        const write_in_flight writing(*this, shard_bit(key), [&] { cache_.erase(key); });
        return inner_.put(key, value, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) {
        const write_in_flight writing(*this, shard_bit(key), [&] { cache_.erase(key); });
        return inner_.erase(key, ec);
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        std::uint64_t shards = 0;
        ops.for_each([&](batch_op, std::string_view key, std::string_view) { shards |= shard_bit(key); });
        const write_in_flight writing(*this, shards, [&] {
            ops.for_each([&](batch_op, std::string_view key, std::string_view) { cache_.erase(key); });
        });
        return inner_.write(ops, ec);
    }

    /// Calls on_value(value bytes) with key's value: from the cache under its read lock
    /// when it holds it, else from the store, remembering it.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        std::optional<std::uint64_t> version;
        {
            const read_lock lock(mutex_);
            if (const auto value = cache_.read(key)) {
                hits_.add(1);
                on_value(*value);
                return true;
            }
            version = fill_version(key);
        }
        misses_.add(1);
        // The copy kept for the cache, in a buffer lent for this read; none for a value
        // the cache could not keep.
        borrowed_buffer copy(thread_buffer_use::cache_fill);
        bool keep = false;
        const bool found = inner_.read(key, [&](std::string_view value) {
            keep = version && cache_.fits(key.size(), value.size());
            if (keep) copy.get().assign(value);
            on_value(value);
        }, ec);
        if (found && keep) remember(key, copy.get(), version);
        return found;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        std::optional<std::uint64_t> version;
        {
            const read_lock lock(mutex_);
            if (const auto value = cache_.read(key)) {
                hits_.add(1);
                assign_bytes(out, *value);
                return true;
            }
            version = fill_version(key);
        }
        misses_.add(1);
        const bool found = inner_.read_value(key, out, ec);
        if (found) remember(key, out, version);
        return found;
    }

    /// The index answers without reading a value, so the cache is not asked.
    bool contains(std::string_view key, std::error_code& ec) const { return inner_.contains(key, ec); }

    /// Scans read the store itself: a scan would otherwise flush the cache of what is hot.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        inner_.visit_from(from, inclusive, std::forward<Visitor>(visitor), ec);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        inner_.visit_down_from(from, inclusive, std::forward<Visitor>(visitor), ec);
    }

    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        inner_.for_each(std::forward<Visitor>(visitor), ec);
    }

    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.for_each_in_file_order(visitor, ec); }
    {
        inner_.for_each_in_file_order(std::forward<Visitor>(visitor), ec);
    }

    /// The store's write version: scans read through to the store, so its version is theirs.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return inner_.write_version(); }

    [[nodiscard]] std::size_t size() const { return inner_.size(); }

    void clear(std::error_code& ec) {
        const write_in_flight writing(*this, every_shard, [&] { cache_.clear(); });
        inner_.clear(ec);
    }

    /// The store's figures, with the cache's memory, hits, misses and evictions; reads
    /// the cache served count as gets.
    [[nodiscard]] kvforge::stats stats() const {
        kvforge::stats s = inner_.stats();
        const read_lock lock(mutex_);
        s.memory_bytes += cache_.memory_usage();
        s.hits = hits_.load();
        s.misses = misses_.load();
        s.evictions = cache_.evictions();
        s.gets += s.hits;
        return s;
    }

    void flush(std::error_code& ec) { inner_.flush(ec); }
    void sync(std::error_code& ec) { inner_.sync(ec); }
    void compact(std::error_code& ec) { inner_.compact(ec); }
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) {
        inner_.backup(dest, how, ec);
    }
    /// The store's snapshot: it reads the files as of its cut, which the cache cannot
    /// answer for, so it goes without the cache.
    [[nodiscard]] auto snapshot(std::error_code& ec)
        requires requires(Inner& inner) { inner.snapshot(ec); }
    {
        return inner_.snapshot(ec);
    }
    [[nodiscard]] verify_report verify(std::error_code& ec) const { return inner_.verify(ec); }
    void wait_durable(std::uint64_t sequence, std::error_code& ec) { inner_.wait_durable(sequence, ec); }
    [[nodiscard]] std::uint64_t durable_sequence() const { return inner_.durable_sequence(); }

private:
    /// The shards of keys whose writes and fills are told apart: one bit each in a word.
    static constexpr unsigned fill_shard_count = 64;
    static constexpr std::uint64_t every_shard = ~std::uint64_t{0};

    /// The version and the writes in flight of one shard of keys.
    struct fill_shard {
        std::uint64_t version = 0;           ///< bumped under the exclusive lock by every write of its keys as it begins
        std::uint64_t writes_in_flight = 0;  ///< writes of its keys begun and not yet applied by the store
    };

    /// The bit of key's shard, which its top 6 hash bits name.
    [[nodiscard]] static std::uint64_t shard_bit(std::string_view key) noexcept {
        return std::uint64_t{1} << (hash_bytes(key) >> 58);
    }
    [[nodiscard]] static unsigned shard_of(std::string_view key) noexcept {
        return static_cast<unsigned>(hash_bytes(key) >> 58);
    }
    static_assert(fill_shard_count == 64, "a shard is a bit of a word and the top 6 bits of a hash");

    /// Under the exclusive lock: bumps the version of every shard in shards (one bit each).
    void bump_versions(std::uint64_t shards) noexcept {
        for (unsigned i = 0; i < fill_shard_count; ++i) {
            if ((shards >> i) & 1) ++shards_[i].version;
        }
    }

    /// A write from before the store applies it until after: drop(), under the cache's
    /// lock, removes what the write replaces, and no read of a key in its shards (one
    /// bit each) fills the cache meanwhile.
    class write_in_flight {
    public:
        template <class Drop>
        write_in_flight(read_cache_backend& backend, std::uint64_t shards, Drop&& drop)
            : backend_(backend), shards_(shards) {
            const write_lock lock(backend_.mutex_);
            drop();
            backend_.bump_versions(shards_);
            for (unsigned i = 0; i < fill_shard_count; ++i) {
                if ((shards_ >> i) & 1) ++backend_.shards_[i].writes_in_flight;
            }
        }
        ~write_in_flight() {
            const write_lock lock(backend_.mutex_);
            for (unsigned i = 0; i < fill_shard_count; ++i) {
                if ((shards_ >> i) & 1) --backend_.shards_[i].writes_in_flight;
            }
        }
        write_in_flight(const write_in_flight&) = delete;
        write_in_flight& operator=(const write_in_flight&) = delete;

    private:
        read_cache_backend& backend_;
        std::uint64_t shards_;
    };

    /// Under the cache's lock, after a miss of key: the version of its shard that a read
    /// must find unchanged to keep what it reads from the store, or nothing when a write
    /// of a key in that shard is in flight.
    [[nodiscard]] std::optional<std::uint64_t> fill_version(std::string_view key) const noexcept {
        const fill_shard& shard = shards_[shard_of(key)];
        if (shard.writes_in_flight != 0) return std::nullopt;
        return shard.version;
    }

    /// Keeps a value just read from the store, unless a write may have replaced it since.
    /// Without the memory to keep it, the read still succeeds: the value is not cached.
    void remember(std::string_view key, std::string_view value, std::optional<std::uint64_t> version) const {
        if (!version) return;
        const write_lock lock(mutex_);
        if (*version != shards_[shard_of(key)].version || !cache_.fits(key.size(), value.size())) return;
        try {
            cache_.put(key, value);
        } catch (const std::bad_alloc&) {
        }
    }

    Inner inner_;
    mutable mutex_type mutex_;
    mutable cache_type cache_;
    std::array<fill_shard, fill_shard_count> shards_{};
    mutable counter_type hits_;
    mutable counter_type misses_;
};

}  // namespace detail

/// Cache policy for a persistent store (kvforge::file_log): values read from the files
/// are kept in memory, within options::cache_budget bytes (every byte counted, as for
/// bounded), and served from there until evicted. Writes go to the store as before and
/// drop the keys they touch from the cache, so a cached value is never stale. Reads that
/// hit take only the cache's shared lock. stats() adds the cache's memory to
/// memory_bytes, and hits, misses and evictions.
template <class Eviction = s3fifo>
struct read_cache {
    static_assert(eviction_policy<Eviction>,
                  "kvforge: the eviction policy given to read_cache<> does not satisfy kvforge::eviction_policy (see "
                  "kvforge/concepts.hpp)");
    using policy_kind = kvforge::policy_kind::cache;
    using eviction = Eviction;
    static constexpr bool persistent_store = true;
    template <class Policies, class StoreBackend>
    using backend = detail::read_cache_backend<Policies, StoreBackend, Eviction>;
};

}  // namespace kvforge
// ---- end kvforge/cache/read_cache.hpp ----
// ---- begin kvforge/compositions.hpp ----
/// \file compositions.hpp
/// The compositions kvforge::open_store may open: a list of policy sets, each of which
/// becomes one store type when open_store is instantiated. Nothing outside the list is
/// compiled, so a program pays in build time for exactly the stores its configuration
/// may name.
///
///     // every store, index, durability and threading policy kvforge has (the default)
///     kvforge::open_store<std::string, std::string>("file_log,sorted:data/users");
///
///     // only what this program's configuration can name
///     using my_stores = kvforge::composition_list<
///         kvforge::policies<kvforge::memory, kvforge::hash_index>,
///         kvforge::policies<kvforge::file_log, kvforge::sorted_index, kvforge::sync_each, kvforge::thread_safe>>;
///     kvforge::open_store<std::string, std::string, my_stores>("file_log,sorted,sync_each,mt:data/users");
///
/// A policy joins the words of a spec by its `name` (and `short_name`, if it has one);
/// policies of a new kind (expiry, compression) join as a new axis, named by their kind:
/// "file_log,hash,expiring:data/sessions" names expiring<std::chrono::system_clock>.

#include <type_traits>

// ---- begin kvforge/durability/async_worker.hpp ----
/// \file async_worker.hpp
/// kvforge::async_worker: a background thread writes and syncs in groups.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>


namespace kvforge {

/// Durability policy: a write is queued and put() returns its sequence number; a
/// background thread writes whatever is queued in one piece and syncs it, then
/// advances durable_seq(); wait_durable(seq) blocks until that write is on disk.
/// Writers wait while QueueBytes are queued and not yet written, so memory stays bounded.
template <std::size_t QueueBytes = std::size_t{64} << 20>
struct async_worker {
    static_assert(QueueBytes > 0, "kvforge: async_worker<QueueBytes> needs a queue of at least one byte");
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "async_worker";
    static constexpr std::string_view short_name = "async";  ///< also accepted in a store spec
    static constexpr std::size_t queue_bytes = QueueBytes;

    /// The queue has its own mutex, whatever the store's threading policy, since the
    /// worker thread and the store's callers always run concurrently.
    template <class IO, bool Concurrent>
    class writer {
    public:
        static constexpr bool sequenced = true;

        writer() = default;
        writer(const writer&) = delete;
        writer& operator=(const writer&) = delete;
        ~writer() { stop(); }

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        /// The queue must be empty (drain() first).
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            const std::lock_guard lock(mutex_);
            file_ = &file;
            queue_offset_ = end;
        }

        /// Queues a record. The worker starts with the first one, so that a store that
        /// never writes (opened read-only) runs no thread.
        detail::append_result append(std::string_view record, std::error_code& ec) {
            if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
            std::unique_lock lock(mutex_);
            // Backpressure: wait for the worker to take the queue once it is full.
            written_.wait(lock, [&] { return queue_.size() + record.size() <= QueueBytes || queue_.empty() || failed_; });
            if (failed_ && failure_.check(ec)) return {};
            const detail::append_result result{queue_offset_ + queue_.size(), ++appended_};
            queue_.append(record);
            lock.unlock();
            queued_.notify_one();
            return result;
        }

        /// Nothing to wait for: the caller decides with wait_durable().
        void commit(std::uint64_t, std::error_code&) {}

        /// Blocks until every record up to sequence is on disk, or the worker failed.
        void wait_durable(std::uint64_t sequence, std::error_code& ec) {
            std::unique_lock lock(mutex_);
            written_.wait(lock, [&] { return durable_ >= sequence || failed_; });
            if (durable_ < sequence) failure_.check(ec);
        }

        [[nodiscard]] std::uint64_t durable_sequence() const {
            const std::lock_guard lock(mutex_);
            return durable_;
        }

        [[nodiscard]] std::uint64_t end() const {
            const std::lock_guard lock(mutex_);
            return queue_offset_ + queue_.size();
        }

        /// The end of the records wholly in the file: those from it on are queued or being
        /// written. Taken in one reading under the queue's lock, so it is always where a
        /// record starts, whatever the worker does meanwhile.
        [[nodiscard]] std::uint64_t written_end() const {
            const std::lock_guard lock(mutex_);
            return in_flight_.empty() ? queue_offset_ : in_flight_offset_;
        }

        /// Copies bytes still queued or being written; false when they are in the file.
        bool read_pending(std::uint64_t offset, char* into, std::size_t size) const {
            const std::lock_guard lock(mutex_);
            if (offset >= queue_offset_) {
                std::memcpy(into, queue_.data() + (offset - queue_offset_), size);
                return true;
            }
            if (!in_flight_.empty() && offset >= in_flight_offset_) {
                std::memcpy(into, in_flight_.data() + (offset - in_flight_offset_), size);
                return true;
            }
            return false;
        }

        /// Waits until everything queued is written and synced.
        void flush(std::error_code& ec) { drain(ec); }
        void sync(std::error_code& ec) { drain(ec); }
        void drain(std::error_code& ec) {
            std::uint64_t last = 0;
            {
                const std::lock_guard lock(mutex_);
                last = appended_;
            }
            wait_durable(last, ec);
        }

        /// Drains the queue and stops the worker.
        void close(std::error_code& ec) {
            drain(ec);
            stop();
        }

        [[nodiscard]] std::uint64_t syncs() const {
            const std::lock_guard lock(mutex_);
            return syncs_;
        }
        /// Bytes the worker wrote to the file so far.
        [[nodiscard]] std::uint64_t bytes_written() const {
            const std::lock_guard lock(mutex_);
            return bytes_written_;
        }
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        void stop() noexcept {
            {
                const std::lock_guard lock(mutex_);
                stopping_ = true;
            }
            queued_.notify_one();
            if (worker_.joinable()) worker_.join();
        }

        /// The worker: take the whole queue, write it with one pwrite, sync it, publish.
        void run() {
            std::unique_lock lock(mutex_);
            for (;;) {
                queued_.wait(lock, [&] { return (!queue_.empty() && !failed_) || stopping_; });
                if (queue_.empty() || failed_) return;  // stopping, with nothing left that can be written
                in_flight_.swap(queue_);
                in_flight_offset_ = queue_offset_;
                queue_offset_ += in_flight_.size();
                const std::uint64_t target = appended_;
                detail::data_file<IO>* file = file_;
                lock.unlock();
                written_.notify_all();  // the queue has room again

                std::error_code ec;
                const bool ok = file->write(in_flight_offset_, in_flight_, ec) && file->sync(ec);
                if (!ok) failure_.record(ec);

                lock.lock();
                ++syncs_;
                if (ok) {
                    bytes_written_ += in_flight_.size();
                    durable_ = target;
                    in_flight_.clear();
                } else {
                    // Nothing more can be written in order. The unwritten records stay queued
                    // and in flight, where reads of them still find their bytes.
                    failed_ = true;
                }
                written_.notify_all();
            }
        }

        mutable std::mutex mutex_;
        std::condition_variable queued_;   // the worker waits for records
        std::condition_variable written_;  // writers wait for room, waiters for durability
        detail::data_file<IO>* file_ = nullptr;
        std::string queue_;
        std::string in_flight_;
        std::uint64_t queue_offset_ = 0;
        std::uint64_t in_flight_offset_ = 0;
        std::uint64_t appended_ = 0;
        std::uint64_t durable_ = 0;
        std::uint64_t syncs_ = 0;
        std::uint64_t bytes_written_ = 0;
        bool failed_ = false;
        bool stopping_ = false;
        detail::sticky_failure failure_;
        std::thread worker_;
    };
};

static_assert(durability_policy<async_worker<>>);

}  // namespace kvforge
// ---- end kvforge/durability/async_worker.hpp ----
// ---- begin kvforge/durability/sync_each.hpp ----
/// \file sync_each.hpp
/// kvforge::sync_each: every write is on disk before the call returns.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <system_error>


namespace kvforge {

/// Durability policy: put/erase/write return after fdatasync of the appended bytes
/// (and an fsync of the directory when a file was created or renamed). Concurrent
/// writers under kvforge::thread_safe share one sync (group commit).
struct sync_each {
    using policy_kind = kvforge::policy_kind::durability;
    static constexpr std::string_view name = "sync_each";
    static constexpr std::string_view short_name = "sync";  ///< also accepted in a store spec

    /// Writes each record to the file at once (under the store's write lock) and syncs
    /// in commit(), after the store's lock is released, so that while one thread waits
    /// for fdatasync others can append, and the next fdatasync covers them all.
    template <class IO, bool Concurrent>
    class writer {
    public:
        static constexpr bool sequenced = false;

        /// Writes from now on go to the end of file, which holds end bytes, all durable.
        /// Called with no sync running (after drain(), under the store's write gate);
        /// committers read file_ and synced_ under sync_mutex_, so it is taken here too.
        void attach(detail::data_file<IO>& file, std::uint64_t end) {
            const std::lock_guard lock(sync_mutex_);
            file_ = &file;
            end_ = end;
            synced_ = appended_.load();
        }

        detail::append_result append(std::string_view record, std::error_code& ec) {
            const std::uint64_t offset = end_;
            if (!file_->write(offset, record, ec)) {
                failure_.record(ec);
                return {};
            }
            end_ += record.size();
            bytes_written_ += record.size();
            return {offset, appended_.fetch_add(1, std::memory_order_release) + 1};
        }

        /// Blocks until the record with this sequence number is on disk.
        void commit(std::uint64_t sequence, std::error_code& ec) {
            std::unique_lock lock(sync_mutex_);
            while (synced_ < sequence) {
                if (failure_.check(ec)) return;
                if (syncing_) {
                    synced_changed_.wait(lock);
                    continue;
                }
                // Lead a group: every record appended so far was written before its
                // sequence number was published, so one fdatasync covers them all.
                syncing_ = true;
                const std::uint64_t target = appended_.load(std::memory_order_acquire);
                detail::data_file<IO>* const file = file_;
                if constexpr (Concurrent) lock.unlock();
                const bool ok = file->sync(ec);
                if constexpr (Concurrent) lock.lock();
                syncing_ = false;
                syncs_.fetch_add(1, std::memory_order_relaxed);
                if (ok) {
                    if (target > synced_) synced_ = target;
                } else {
                    failure_.record(ec);
                }
                synced_changed_.notify_all();
                if (!ok) return;
            }
        }

        [[nodiscard]] std::uint64_t end() const noexcept { return end_; }
        /// Every record is in the file as soon as it is appended.
        [[nodiscard]] std::uint64_t written_end() const noexcept { return end_; }
        bool read_pending(std::uint64_t, char*, std::size_t) const noexcept { return false; }
        void flush(std::error_code&) {}
        void sync(std::error_code& ec) { commit(appended_.load(), ec); }
        void drain(std::error_code& ec) { sync(ec); }
        void close(std::error_code& ec) { sync(ec); }
        [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(std::memory_order_relaxed); }
        /// Bytes written to the file so far; read under the store's shared lock, written under its exclusive one.
        [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
        /// Reports an earlier failure through ec; false when there was none.
        bool failed(std::error_code& ec) const { return failure_.check(ec); }

    private:
        detail::data_file<IO>* file_ = nullptr;
        std::uint64_t end_ = 0;
        std::uint64_t bytes_written_ = 0;
        std::atomic<std::uint64_t> appended_{0};
        std::atomic<std::uint64_t> syncs_{0};
        std::mutex sync_mutex_;
        std::condition_variable synced_changed_;
        std::uint64_t synced_ = 0;
        bool syncing_ = false;
        detail::sticky_failure failure_;
    };
};

static_assert(durability_policy<sync_each>);

}  // namespace kvforge
// ---- end kvforge/durability/sync_each.hpp ----
// ---- begin kvforge/stores/file_log.hpp ----
/// \file file_log.hpp
/// kvforge::file_log: an append-only log of checksummed records on disk, with the
/// index in memory.

#include <string_view>

// ---- begin kvforge/stores/log/engine.hpp ----
/// \file engine.hpp
/// The byte-level store behind file_log and mmap_file: append-only segments of
/// checksummed records with an in-memory index from each key to its record (in the
/// manner of Bitcask), a durability policy's writer, hint files and compaction. The
/// engine holds the state and the locks. Its member functions that work on many of its
/// members are defined in files named engine_*.hpp; parts that own state of their own are
/// classes, each with one job, given what they use:
///
///     engine_lifetime.hpp     open() and close(): what recovery found installed; at the end,
///                             the last bytes and hints written out and everything released
///     segment_files.hpp       the directory and the files made in it, their syncs and bytes
///     recovery.hpp            open: the segments found, checked and replayed into the index
///     store_composition.hpp   the MANIFEST, checked at every open and written when due
///     engine_rollover.hpp     the active segment closed when full and the next one put in
///                             its place, from a spare made ahead of need
///     hint_keeper.hpp         the active segment's hint entries, and the hints still to write
///     log_writes.hpp          a put, erase or batch appended, then indexed and noted for the hint
///     engine_after_write.hpp  after a write: the wait for durability, then a step of the work
///                             due (a hint, the spare, compaction) or the compaction thread asked
///     engine_writer_calls.hpp the writer's flush, sync, drain and close, and wait_durable
///     index_updates.hpp       the index's changes and the live and dead bytes, for writes and replay
///     log_reads.hpp           point reads and visits in key order, under the shared lock
///     record_reader.hpp       a record's value, from a mapping, the file or the writer's buffer
///     engine_clear.hpp        clear(): a new segment starting with a clear record, the others retired
///     engine_compaction.hpp   compact() and the automatic compaction jobs, run a step at a
///                             time or on the compaction thread; the rest of it:
///       engine_compaction_choice.hpp      whether a job is due, what it takes, and starting it
///       engine_compaction_phases.hpp      a job's phases: scan, copy, publish, move entries, retire
///       engine_compaction_outputs.hpp     a job's output segments: written, synced with their hints, published
///       engine_compaction_background.hpp  the jobs on the compaction thread, and the writers' wait for it
///     engine_cuts.hpp         the store taken at a cut, for backup(), snapshot() and for_each
///     backup.hpp              backup()'s copy of the files at a cut, and its check
///     snapshot.hpp            a read-only view: the index copied, the segments held
///     log_verify.hpp          verify(): every record checked against its checksum
///
/// Beside them, what this engine alone uses: write_gate.hpp (the gate's mutex, which lets
/// waiting writers go first), active_calls.hpp (the calls close() waits for), file_id.hpp
/// (the random id a data file and its hint share) and file_mapping.hpp (a read-only
/// shared mapping of a data file).
///
/// Locks. A writer takes write_gate_ (which orders writers, rollover and compaction),
/// builds its record, and under the exclusive lock appends it and updates the index
/// (log_writes.hpp); it waits for durability (sync_each) after releasing both, so that
/// writers can share one sync (engine_after_write.hpp). Readers take the shared lock only.
/// clear() holds write_gate_ while it works, so no writer runs, but readers go on; it
/// takes the exclusive lock only to switch segments. Compaction, whole (compact(): with
/// thread_safe, writers go on meanwhile) or by automatic jobs, and the wait of writers
/// that leave too many dead bytes, are engine_compaction.hpp's, which says what locks a
/// job takes; compact(), clear() and close() run one at a time. close() lets the jobs due
/// finish and waits for the calls that hold no lock (engine_lifetime.hpp). With
/// thread_safe, for_each walks a snapshot of its own, so it holds no lock while its
/// visitor runs (engine_cuts.hpp).
///
/// Files. The directory holds LOCK, MANIFEST, the segments data-<id>.kvlog and their
/// hints data-<id>.kvhint (names: store_files.hpp; segments: segment.hpp). Records go to
/// the active segment, which a write closes when full (engine_rollover.hpp; its spare
/// is prepared off the writers' path as the hint is). The closed one's hint, from the
/// entries gathered as its records were appended, is written after that write returns
/// (engine_after_write.hpp, hint_keeper.hpp): by the next write (single_thread) or on the
/// compaction thread (thread_safe), at close() when still pending, never for a segment
/// retired first. A store opened read-only changes no file.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/active_calls.hpp ----
/// \file active_calls.hpp
/// A count of the calls that use a store's writer without holding its locks (a writer
/// waiting for its sync, a caller of wait_durable), so that close() can wait for them
/// to finish before it destroys the writer.

#include <atomic>

namespace kvforge::detail {

/// The calls in progress that close() must wait for. Calls enter while the store is
/// known to be open (under one of its locks) and leave when done with the writer.
template <bool Concurrent>
class active_calls {
public:
    void enter() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }
    /// The release pairs with wait_idle's acquire: whatever a call did with the writer
    /// happens before close() destroys it.
    void leave() noexcept {
        if (count_.fetch_sub(1, std::memory_order_release) == 1) count_.notify_all();
    }
    /// Blocks until no call is in progress; no call may enter meanwhile.
    void wait_idle() const noexcept {
        for (int n = count_.load(std::memory_order_acquire); n != 0; n = count_.load(std::memory_order_acquire)) {
            count_.wait(n, std::memory_order_acquire);
        }
    }

private:
    std::atomic<int> count_{0};
};

/// With one thread at a time, no call can be in progress while close() runs.
template <>
class active_calls<false> {
public:
    void enter() noexcept {}
    void leave() noexcept {}
    void wait_idle() const noexcept {}
};

/// One call in progress, from construction to destruction (also when it throws).
template <bool Concurrent>
class active_call {
public:
    explicit active_call(active_calls<Concurrent>& calls) noexcept : calls_(calls) { calls_.enter(); }
    active_call(const active_call&) = delete;
    active_call& operator=(const active_call&) = delete;
    ~active_call() { calls_.leave(); }

private:
    active_calls<Concurrent>& calls_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/active_calls.hpp ----
// ---- begin kvforge/stores/log/backup.hpp ----
/// \file backup.hpp
/// A log store's backup: the copy of its files as they are at a cut, and its check.
///
/// The engine's backup() takes the cut under the gate (a flush, then the segments and
/// the active one's end); the copy here reads the bytes before the cut with no lock held,
/// so writers go on; a rollover meanwhile only closes the active segment, which the copy
/// still reads to the cut. While a backup runs, no segment may be retired
/// (backups_running.hpp). The copy is written as a store's directory is: the directory
/// synced once every segment (and compression dictionary) is in place, the MANIFEST
/// last; a destination without a MANIFEST is no backup. Every file is copied by default
/// (backup_options): a closed segment with its hint, and each compression dictionary,
/// whole, as a reflink where the I/O policy has clone_file and the file system allows it,
/// else byte by byte; the active segment byte by byte to the cut. Each copy goes through
/// a synced .tmp and a rename. The copy is then opened read-only and verified.
///
/// A copy shares nothing with the store, so damage to the store's files afterwards (a
/// byte changed in place) leaves the backup whole; a reflink shares blocks copy-on-write,
/// so a write into either file gives it blocks of its own. With
/// backup_options::link_files, closed segments, their hints and dictionaries are hard
/// links instead (when the I/O policy has link and the file system allows it; else
/// copied), which share the bytes themselves: damage in place reaches both.
///
/// Why a link is still correct against kvforge's own writes: a closed segment's file is
/// never written again. The writer appends to the active segment only; an open appends
/// to, or cuts a torn tail off, only the last segment in replay order, which in the
/// store and in the copy is the active one (copied); compaction, clear() and salvage
/// write new segments through .tmp files and remove the old names; hints and the
/// MANIFEST are replaced through a rename, never rewritten. So neither the store nor the
/// copy can change the other's bytes through a shared file.

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

// ---- begin kvforge/stores/log/segment.hpp ----
/// \file segment.hpp
/// The data files of a log store: one segment (file, id, replay order, size, dead
/// bytes, mapping) and the set of them, looked up by id for reads and walked in replay
/// order for recovery and compaction.
///
/// Records go to the active segment; once it holds options::segment_bytes or more it
/// is closed (never written again) and a new one becomes active. Segments are held by
/// std::shared_ptr, so that a segment taken out of the set (retired by compaction or
/// clear) stays readable by whoever still holds it.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/file_mapping.hpp ----
/// \file file_mapping.hpp
/// A read-only shared mapping of a data file, unmapped when its last owner lets go.
///
/// mmap_file stores read records through such a mapping. It is created longer than
/// the file, so appends land inside it without remapping; when the file outgrows it,
/// a longer mapping replaces it for new reads, while views handed out earlier keep
/// the old one (and so their bytes) alive through their shared_ptr.

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <utility>


namespace kvforge::detail {

template <class IO>
class file_mapping {
public:
    /// Maps length bytes of the file fd from its start; nullptr with ec set on failure.
    static std::shared_ptr<const file_mapping> map(const IO& io, int fd, std::size_t length, const std::string& path,
                                                   std::error_code& ec) {
        IO copy = io;
        void* address = copy.mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
        if (address == MAP_FAILED) {
            fail_errno(ec, errno, "map " + path + " (" + std::to_string(length) + " bytes)");
            return nullptr;
        }
        return std::shared_ptr<const file_mapping>(new file_mapping(std::move(copy), address, length));
    }

    file_mapping(const file_mapping&) = delete;
    file_mapping& operator=(const file_mapping&) = delete;
    ~file_mapping() { io_.munmap(address_, length_); }

    [[nodiscard]] const char* data() const noexcept { return static_cast<const char*>(address_); }
    [[nodiscard]] std::size_t length() const noexcept { return length_; }

private:
    file_mapping(IO io, void* address, std::size_t length) : io_(std::move(io)), address_(address), length_(length) {}

    IO io_;  // a copy, since a view may outlive the store that made it
    void* address_;
    std::size_t length_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/file_mapping.hpp ----

namespace kvforge::detail {

/// One data file of a log store.
template <class IO>
struct segment {
    data_file<IO> file;
    std::uint32_t id = 0;       ///< also in its name, data-<id>.kvlog
    std::uint32_t file_id = 0;  ///< random, repeated in its hint, which is used only for this file
    std::uint64_t order = 0;    ///< where its records stand in replay order (its header's)
    std::uint16_t version = format_version;
    /// Bytes of the file. The active segment's grow with the writer, whose end is the
    /// truth while it is active; this is set when it is closed.
    std::uint64_t size = 0;
    std::uint64_t dead_bytes = 0;    ///< bytes of its records no key's newest record is (and its batch headers)
    std::uint64_t hint_bytes = 0;    ///< the size of its hint file on disk; 0: none
    std::uint64_t hint_covered = 0;  ///< how much of the segment that hint covers
    /// How much of the segment a hint written for it proved durable at the open (even one
    /// not read, or covering more than the file holds): bytes no torn write can end in.
    std::uint64_t proven_end = 0;
    bool holds_clear = false;        ///< a clear record is among its records
    /// Known to hold its records in key order (key_order.hpp): a compaction's output, or
    /// a closed segment found so at open or by a sorting job. False: not known.
    bool in_key_order = false;
    /// The mapping reads view: a closed segment's covers all of it; the active one's,
    /// mmap_file's grows with it, file_log's covers what it held at the open (or none).
    std::shared_ptr<const file_mapping<IO>> mapping;

    /// Where its records start: after its header, whose size is its version's.
    [[nodiscard]] std::uint64_t records_start() const noexcept { return file_header::size_of(version); }
    /// Whether the writer made it (a compaction output's order is that of its inputs,
    /// below its id); only such a segment of the current version may be appended to.
    [[nodiscard]] bool writer_made() const noexcept { return order == id && version == format_version; }
    /// Whether it replays before other.
    [[nodiscard]] bool replays_before(const segment& other) const noexcept {
        return order != other.order ? order < other.order : id < other.id;
    }
    /// replays_before() as a function that sort_segments() takes.
    [[nodiscard]] static bool in_replay_order(const segment& a, const segment& b) noexcept {
        return a.replays_before(b);
    }
};

/// Sorts segments by before, a strict weak order. The order is a function pointer so that
/// every order the engine sorts segments in shares one compiled std::sort.
template <class IO>
void sort_segments(std::vector<std::shared_ptr<segment<IO>>>& segments,
                   bool (*before)(const segment<IO>&, const segment<IO>&)) {
    using pointer = std::shared_ptr<segment<IO>>;
    std::sort(segments.begin(), segments.end(),
              [before](const pointer& x, const pointer& y) { return before(*x, *y); });
}

/// The segments of a store, sorted by id.
template <class IO>
class segment_set {
public:
    using pointer = std::shared_ptr<segment<IO>>;

    /// The segment with this id, or nullptr.
    [[nodiscard]] segment<IO>* find(std::uint32_t id) const noexcept {
        const auto at = lower_bound(id);
        return at != segments_.end() && (*at)->id == id ? at->get() : nullptr;
    }

    void add(pointer added) {
        const auto at = lower_bound(added->id);
        segments_.insert(at, std::move(added));
    }

    /// Takes the segment with this id out of the set; its holders keep it.
    void remove(std::uint32_t id) {
        const auto at = lower_bound(id);
        if (at != segments_.end() && (*at)->id == id) segments_.erase(at);
    }

    void clear() noexcept { segments_.clear(); }
    [[nodiscard]] std::size_t size() const noexcept { return segments_.size(); }
    [[nodiscard]] bool empty() const noexcept { return segments_.empty(); }
    /// Every segment, by id.
    [[nodiscard]] const std::vector<pointer>& by_id() const noexcept { return segments_; }

    /// Every segment in replay order: by order, then by id.
    [[nodiscard]] std::vector<pointer> in_replay_order() const {
        std::vector<pointer> ordered = segments_;
        sort_segments(ordered, &segment<IO>::in_replay_order);
        return ordered;
    }

private:
    [[nodiscard]] typename std::vector<pointer>::const_iterator lower_bound(std::uint32_t id) const noexcept {
        return std::lower_bound(segments_.begin(), segments_.end(), id,
                                [](const pointer& s, std::uint32_t wanted) { return s->id < wanted; });
    }

    std::vector<pointer> segments_;
};

/// Counts bytes of segment `in` as dead, in it and in the store's total.
template <class IO>
void count_dead(segment<IO>& in, std::uint64_t& dead_bytes, std::uint64_t bytes) noexcept {
    in.dead_bytes += bytes;
    dead_bytes += bytes;
}

/// Counts key's record at `old` (its index payload), which a newer record replaced or
/// erased, as dead in its segment (in the total only, when that segment is gone) and
/// no longer live.
template <class IO>
void count_retired(const segment_set<IO>& segments, std::string_view key, std::string_view old,
                   std::uint64_t& live_bytes, std::uint64_t& dead_bytes) noexcept {
    const record_location previous = record_location::decode(old);
    const std::uint64_t size = previous.record_size(key.size());
    if (segment<IO>* const in = segments.find(previous.segment)) {
        count_dead(*in, dead_bytes, size);
    } else {
        dead_bytes += size;
    }
    live_bytes -= key.size() + previous.value_size;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/segment.hpp ----

namespace kvforge::detail {

/// What a backup copies: every segment (held, so that none is closed under the copy),
/// the active one up to active_end, and what the store held at that point, to check
/// the copy against.
template <class IO>
struct backup_cut {
    std::vector<std::shared_ptr<segment<IO>>> segments;
    std::shared_ptr<segment<IO>> active;
    std::uint64_t active_end = 0;
    std::size_t live_keys = 0;
    std::uint64_t live_bytes = 0;

    /// How much of in the copy takes: a closed segment whole, the active one to the cut.
    [[nodiscard]] std::uint64_t end_of(const std::shared_ptr<segment<IO>>& in) const noexcept {
        return in == active ? active_end : in->size;
    }
};

/// Copies a store's files at a cut into a backup directory and checks the copy. It
/// refers to the engine's I/O policy, directory and composition, which do not change
/// while the store is open; the cut holds the segments it copies.
template <class IO>
class log_backup {
public:
    log_backup(IO& io, const store_directory<IO>& directory, const composition& recorded) noexcept
        : io_(io), directory_(directory), composition_(recorded) {}

    /// Writes the backup's files into dest: each closed segment whole with its hint, the
    /// active one up to the cut (it is written only past it), the compression
    /// dictionaries, then the MANIFEST; copied, or linked where how.link_files asks and
    /// the file system allows it. A failure after dest was made says that the copy there
    /// is incomplete.
    bool copy(const backup_cut<IO>& cut, const std::string& dest, const backup_options& how, std::error_code& ec) {
        if (!check_destination(dest, ec)) return false;
        store_directory<IO> target;
        directory_mode mode;
        mode.refuse_store = true;
        if (!target.open(io_, dest, mode, ec)) return false;
        bool ok = true;
        std::string buffer;
        for (const std::shared_ptr<segment<IO>>& in : cut.segments) {
            if (!ok) break;
            if (in == cut.active) {
                ok = copy_through_temporary(in->file, store_file_name::data(in->id), cut.active_end, false, target,
                                            buffer, ec);
                continue;
            }
            if (how.link_files && link_closed_segment(*in, target)) continue;
            ok = copy_through_temporary(in->file, store_file_name::data(in->id), in->size, true, target, buffer, ec) &&
                 copy_hint(in->id, target, buffer, ec);
        }
        ok = ok && copy_dictionaries(target, how, buffer, ec) && target.sync(ec);
        // Only once the segments' names (links included) are durable may the MANIFEST make
        // the copy a store.
        // A composition whose codec names cannot stand in a manifest line leaves the copy
        // without one, as the engine's record_composition leaves the store itself.
        const std::string text = format_manifest(composition_);
        if (ok && !text.empty()) {
            const store_file_name manifest = store_file_name::manifest();
            data_file<IO> file;
            ok = target.open_file(file, manifest.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec) &&
                 file.write(0, text, ec) && file.sync(ec) && target.rename(manifest.temporary(), manifest, ec) &&
                 target.sync(ec);
        }
        target.close();
        if (!ok) {
            fail(ec, ec,
                 last_error_detail() + "; the backup in " + dest +
                     " is incomplete (it is no store without its MANIFEST): remove the directory and back up again");
        }
        return ok;
    }

    /// Opens the finished backup read-only and checks every record, and that it holds
    /// the keys and bytes the store held at the cut. Store is the engine's own type.
    template <class Store>
    void verify(const backup_cut<IO>& cut, const std::string& dest, std::error_code& ec) {
        Store copy;
        kvforge::options read_only;
        read_only.read_only = true;
        copy.open(dest, read_only, io_, composition_, ec);
        if (ec) return;
        const verify_report report = copy.verify(ec);
        if (ec) return;
        const kvforge::stats held = copy.stats();
        copy.close(ec);
        if (ec) return;
        if (!report.damaged.empty()) {
            fail(ec, errc::corrupt_record,
                 report.damaged.front().file + " (the backup in " + dest + "): " + report.damaged.front().problem +
                     " at offset " + std::to_string(report.damaged.front().offset) +
                     "; the copy does not match the store: remove it and back up again");
        } else if (held.live_keys != cut.live_keys || held.live_bytes != cut.live_bytes) {
            fail(ec, errc::corrupt_record,
                 dest + ": the backup holds " + std::to_string(held.live_keys) + " keys (" +
                     std::to_string(held.live_bytes) + " bytes) where the store held " + std::to_string(cut.live_keys) +
                     " (" + std::to_string(cut.live_bytes) +
                     " bytes) at the cut; the copy does not match the store: remove it and back up again");
        }
    }

private:
    /// Refuses a destination that is not a missing or empty directory, changing nothing.
    bool check_destination(const std::string& dest, std::error_code& ec) {
        if (inside_store_directory(dest)) {
            fail(ec, std::error_code(EINVAL, std::system_category()),
                 dest + " is inside the store's directory " + directory_.path() +
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
        return io_.stat(directory_.path().c_str(), &store_info) == 0 && io_.stat(parent.c_str(), &parent_info) == 0 &&
               store_info.st_dev == parent_info.st_dev && store_info.st_ino == parent_info.st_ino;
    }

    /// Copies, or links when how.link_files asks, the store's compression dictionaries
    /// (compression/zstd_trained.hpp) into the backup. A dictionary file is written once,
    /// through a .tmp and a rename, and never changed, so a link is as correct as for a
    /// closed segment. The layer that trains them removes none while a backup runs, so
    /// every one the cut's records need is here.
    bool copy_dictionaries(const store_directory<IO>& target, const backup_options& how, std::string& buffer,
                           std::error_code& ec) {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        for (const store_file_name& name : names) {
            if (name.kind() != store_file_kind::dictionary || name.is_temporary()) continue;
            if constexpr (io_policy_with_link<IO>) {
                if (how.link_files && link_into(name, target)) continue;
            }
            data_file<IO> from;
            std::uint64_t size = 0;
            if (!directory_.open_file(from, name, O_RDONLY, ec) || !from.size(size, ec) ||
                !copy_through_temporary(from, name, size, true, target, buffer, ec)) {
                return false;
            }
        }
        return true;
    }

    /// Copies closed segment id's hint, when it has one, into the backup. A hint is
    /// replaced only through a rename, so the file opened here is whole; one that is gone
    /// (the segment was never given one, or its next hint is being written) is left out:
    /// a hint only spares the copy's first open a replay.
    bool copy_hint(std::uint32_t id, const store_directory<IO>& target, std::string& buffer, std::error_code& ec) {
        const store_file_name name = store_file_name::hint(id);
        data_file<IO> from;
        std::error_code missing;
        if (!directory_.open_file(from, name, O_RDONLY, missing)) {
            if (missing == std::errc::no_such_file_or_directory) return true;
            ec = missing;
            return false;
        }
        std::uint64_t size = 0;
        return from.size(size, ec) && copy_through_temporary(from, name, size, true, target, buffer, ec);
    }

    /// Writes the first `end` bytes of from into target as name: into name's .tmp, synced,
    /// then renamed. whole says that from holds exactly those bytes and never changes, so
    /// that a reflink may stand for the copy; otherwise (and when the clone is refused)
    /// the bytes are read and written a mebibyte at a time, which costs that much memory
    /// whatever the store's size.
    bool copy_through_temporary(const data_file<IO>& from, const store_file_name& name, std::uint64_t end,
                                [[maybe_unused]] bool whole, const store_directory<IO>& target, std::string& buffer,
                                std::error_code& ec) {
        data_file<IO> copy;
        if (!target.open_file(copy, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec)) return false;
        bool cloned = false;
        if constexpr (io_policy_with_clone<IO>) {
            std::uint64_t size = 0;
            std::error_code ignored;
            cloned = whole && from.size(size, ignored) && size == end &&
                     detail::retry_on_eintr([&] { return io_.clone_file(from.descriptor(), copy.descriptor()); }) == 0;
        }
        for (std::uint64_t at = 0; !cloned && at < end;) {
            buffer.resize(static_cast<std::size_t>(std::min<std::uint64_t>(end - at, std::uint64_t{1} << 20)));
            if (!from.read(at, buffer.data(), buffer.size(), ec) || !copy.write(at, buffer, ec)) return false;
            at += buffer.size();
        }
        return copy.sync(ec) && target.rename(name.temporary(), name, ec);
    }

    /// Links closed segment `in`, and its hint when it has one, into the backup's directory
    /// under their own names (backup_options::link_files); false when the segment must be
    /// copied instead: the I/O policy
    /// has no link, the file system refuses it (another file system, no hard links, too
    /// many links, ...), or the file holds bytes past the segment's end, which a link would
    /// take and a copy does not. The linked bytes are durable already: a segment is synced
    /// before it closes (rollover) or is published (compaction), and a hint before its
    /// rename; the directory sync that precedes the MANIFEST makes the new names durable.
    /// A hint only spares the copy's first open a replay, so one that cannot be linked
    /// (there is none, or the link fails) is left out.
    bool link_closed_segment([[maybe_unused]] const segment<IO>& in,
                             [[maybe_unused]] const store_directory<IO>& target) {
        if constexpr (io_policy_with_link<IO>) {
            std::error_code ignored;
            std::uint64_t file_size = 0;
            if (!in.file.size(file_size, ignored) || file_size != in.size) return false;
            if (!link_into(store_file_name::data(in.id), target)) return false;
            link_into(store_file_name::hint(in.id), target);
            return true;
        } else {
            return false;
        }
    }

    /// Gives the store's file `name` the same name in target; false when the link failed,
    /// which changes nothing. Instantiated only for an I/O policy with link.
    bool link_into(const store_file_name& name, const store_directory<IO>& target) {
        const std::string from = directory_.file_path(name);
        const std::string to = target.file_path(name);
        return detail::retry_on_eintr([&] { return io_.link(from.c_str(), to.c_str()); }) == 0;
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const composition& composition_;  // written into the copy's MANIFEST
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/backup.hpp ----
// ---- begin kvforge/stores/log/backups_running.hpp ----
/// \file backups_running.hpp
/// The count of backups copying a log store's segments, and the gate that callers which
/// retire segments (compaction, clear) take only once no backup runs. A backup copies
/// closed segments with no lock held, so while one runs no segment may be retired: the
/// automatic compaction trigger asks running() and waits, and compact() and clear()
/// wait in lock_gate() without holding the gate, so that writers go on meanwhile.

#include <atomic>
#include <mutex>

namespace kvforge::detail {

class backups_running {
public:
    /// A backup took its cut (with the gate held) and starts copying.
    void enter() noexcept { count_.fetch_add(1, std::memory_order_relaxed); }

    /// The backup has read every segment it copies. The release pairs with
    /// lock_gate's acquire: the copy's reads of the segments happen before a
    /// compaction or clear() retires them.
    void leave() noexcept {
        if (count_.fetch_sub(1, std::memory_order_release) == 1) count_.notify_all();
    }

    /// Whether a backup copies the segments now; a hint unless the gate is held.
    [[nodiscard]] bool running() const noexcept { return count_.load(std::memory_order_acquire) != 0; }

    /// Takes `gate` once no backup runs, waiting for backups without holding it.
    template <class Gate>
    [[nodiscard]] std::unique_lock<Gate> lock_gate(Gate& gate) {
        std::unique_lock<Gate> lock(gate);
        for (int running = count_.load(std::memory_order_acquire); running != 0;
             running = count_.load(std::memory_order_acquire)) {
            lock.unlock();
            count_.wait(running, std::memory_order_acquire);
            lock.lock();
        }
        return lock;
    }

private:
    std::atomic<int> count_{0};  // changed by backup() alone
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/backups_running.hpp ----
// ---- begin kvforge/stores/log/compaction_job.hpp ----
/// \file compaction_job.hpp
/// The state of an automatic compaction job between its steps. With single_thread, the
/// engine advances a job a bounded number of bytes at a time
/// (options::compaction_step_bytes), with its write gate held for one step only, so that
/// writers go on between steps; with thread_safe, the compaction thread runs the job,
/// taking the gate only where this says (compaction_thread.hpp, engine.hpp):
///
/// 1. scan: reads the inputs, noting each live put's key and place (not its value) and
///    the erases still needed (compactor.hpp says which); closed segments do not change,
///    so only the look-ups in the index lock (shared). A sorting job on a sorted index
///    whose input holds a fair share of the store walks the index in key order instead
///    (phase walk), noting the entries that point into its input, already in key order
///    and with no look-up; it scans its input then only when the input may hold erases
///    to keep (bytes the walk did not note), noting those alone;
/// 2. copy: copies the records (read from the inputs by place, checked, and written as
///    they are) into output segments, which stay .tmp files, in key order: each scan
///    step sorts the notes it made, a run (a walk's notes are one run, sorted already),
///    and the copy merges the runs, so that no step sorts the whole job;
/// 3. publish (one step; thread_safe: no gate but to add the outputs): writes and syncs
///    the last output and its hint, renames the outputs into place, syncs the
///    directory, and adds the outputs to the store's segments. Inputs and outputs now
///    replay to the same contents, so from here on the job is never dropped unfinished
///    with its outputs removed;
/// 4. move (a step, or the gate held, for each chunk of entries): moves to its copy each
///    index entry that still points where the copy was read from (a key written or
///    erased since the scan leaves its copy dead), by a look-up per note, or, after a
///    walk, by a walk over the same keys in key order; then makes the writer's records
///    durable and retires the inputs, once no backup runs (their files removed last).
///
/// The scan goes on past a damaged record when no index entry points into its bytes
/// (they hold no key's newest record) and no erase of the input must be kept: the
/// damaged bytes go with the input, counted (stats().damaged_bytes_dropped). Damage to
/// a live record fails the job, as does damage where an erase may have to be kept.
///
/// Aborting a job before it publishes (clear, compact, close, a failed step) removes its
/// .tmp outputs: nothing was published, and the inputs stay as they were. Aborting it
/// while it moves entries leaves inputs and outputs both in the store.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// ---- begin kvforge/stores/log/key_order.hpp ----
/// \file key_order.hpp
/// Whether the records of a segment, read front to back, come in key order (each key
/// greater than the one before, in memcmp order, the sorted index's). A scan of a
/// sorted store reads such a segment in sequence; one filled in random key order
/// costs it a different page per record, so automatic compaction rewrites it
/// (options::sort_closed_segments).

#include <string>
#include <string_view>

namespace kvforge::detail {

/// Follows the keys of one segment's records as they are read, in file order.
class key_order_check {
public:
    /// Not wanted: no key is followed (nor copied), and ordered() says false, not known.
    explicit key_order_check(bool wanted = true) noexcept : ordered_(wanted) {}

    void next(std::string_view key) {
        if (!ordered_) return;
        if (seen_ && !(std::string_view(last_) < key)) {
            ordered_ = false;
            last_.clear();
            last_.shrink_to_fit();
            return;
        }
        last_.assign(key);
        seen_ = true;
    }

    /// Whether every key so far was greater than the one before.
    [[nodiscard]] bool ordered() const noexcept { return ordered_; }

private:
    std::string last_;
    bool seen_ = false;
    bool ordered_ = true;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/key_order.hpp ----

namespace kvforge::detail {

template <class Segment, class Outputs>
struct compaction_job {
    enum class phase { walk, scan, copy, publish, move, remove };

    /// A record the job copies: a put (found at `from` in an input) or an erase of the
    /// key key_size bytes at key_at in keys.
    struct note {
        std::size_t key_at;
        std::size_t key_size;
        record_location from;
        bool erase = false;
    };

    std::vector<std::shared_ptr<Segment>> inputs;  ///< in replay order
    /// Per input: 1 when its needed erases are copied, else 0. Words, as in vectors the
    /// engine compiles anyway: std::vector<bool> would compile some 80 functions more.
    std::vector<std::uint64_t> keep_erases;
    /// A job that rewrites one closed segment in key order (options::sort_closed_segments)
    /// rather than reclaiming dead bytes: its scan follows the input's keys, and when
    /// they turn out to be in key order already the job ends there, the input kept.
    bool sorting = false;
    key_order_check input_order;
    phase at = phase::scan;
    /// A walk of the index in key order takes the place of the scan's puts (phase walk).
    bool walks_index = false;
    std::string walk_from;             ///< the key the walk goes on at
    std::uint64_t walked_bytes = 0;    ///< of the input's records the walk noted
    std::uint64_t walked_end = 0;      ///< where the record the walk noted last ends
    bool walked_in_file_order = true;  ///< each record the walk noted lies after the one before
    std::size_t walked_notes = 0;      ///< the walk's notes come first, an erase scan's after
    std::size_t scanning = 0;          ///< the input the scan is in
    std::uint64_t scan_offset = 0;     ///< where the scan goes on in it
    /// Notes of one scan step, sorted by key: those from next to end are still to copy.
    struct run {
        std::size_t next;
        std::size_t end;
    };

    std::vector<note> notes;             ///< in runs, in the order the scan made them
    std::string keys;                    ///< the notes' keys, one after another (no allocation per note)
    std::vector<run> runs;               ///< a heap (the run with the least next key first) once the scan ended
    std::vector<record_location> moved;  ///< where each note's copy went
    std::optional<std::size_t> copied;   ///< the note copied last
    std::size_t moved_entries = 0;       ///< notes whose index entries have moved
    /// Bytes of damaged dead records the scan passed over, dropped with the inputs.
    std::uint64_t damaged_bytes = 0;
    std::optional<Outputs> outputs;
    /// The inputs, once taken out of the store, whose files are still to remove (phase
    /// remove, one a step with single_thread), in replay order.
    std::vector<std::shared_ptr<Segment>> retired;

    [[nodiscard]] std::string_view key_of(const note& n) const noexcept {
        return std::string_view(keys).substr(n.key_at, n.key_size);
    }

    /// Notes a put of key at from, or an erase of key.
    void add_note(std::string_view key, const record_location& from, bool erase) {
        notes.push_back({keys.size(), key.size(), from, erase});
        keys.append(key);
    }

    /// Whether the scan or walk has ended and found a sorting job's input in key order:
    /// the scan read its keys ascending; the walk noted every byte of it (no erase, no
    /// dead record, no batch), each record after the one before.
    [[nodiscard]] bool input_in_key_order(std::uint64_t records_bytes) const noexcept {
        if (!sorting || at == phase::walk || at == phase::scan) return false;
        return walks_index ? walked_in_file_order && walked_bytes == records_bytes : input_order.ordered();
    }
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/compaction_job.hpp ----
// ---- begin kvforge/stores/log/compaction_thread.hpp ----
/// \file compaction_thread.hpp
/// The thread on which a thread_safe log store runs its automatic compaction jobs, one
/// at a time. Writers only request a job; the thread starts at the first request and
/// runs until stop(). Callers that change the segments wholesale (compact, clear) hold
/// it off: hold() waits for the job under way to end (the job sees interrupted() and
/// stops at its next chunk, or runs to its end once it has published its outputs), and
/// no job starts until the hold is released. A request made meanwhile runs afterwards.
///
/// Writers that find the thread too far behind wait for its progress (wait_for_progress),
/// holding no lock the job needs; they are let go as soon as the job reports progress,
/// the thread has nothing left to do, it is stopped, or the time they were given is up. finish() ends the thread as
/// stop() does, but lets the work requested so far run to its end first.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>


namespace kvforge::detail {

class compaction_thread {
public:
    compaction_thread() = default;
    compaction_thread(const compaction_thread&) = delete;
    compaction_thread& operator=(const compaction_thread&) = delete;
    ~compaction_thread() { stop(); }

    /// Asks for a job, which runs `job` on the thread (started now if none runs). Cheap
    /// while a job is requested; a request made while a job is under way runs it again
    /// afterwards (that job may have chosen its segments before the writes that made
    /// this request). Ignored once stopped, until resume().
    void request(const std::function<void()>& job) {
        if (pending_.load(std::memory_order_relaxed)) return;
        const std::lock_guard lock(mutex_);
        if (stopped_) return;
        if (!thread_.joinable()) {
            job_ = job;
            try {
                thread_ = std::thread([this] { loop(); });
            } catch (const std::system_error&) {
                return;  // no thread to be had now: a later write asks again
            }
        }
        pending_.store(true, std::memory_order_relaxed);
        wake_.notify_all();
    }

    /// Whether the job under way should stop at its next chunk: a hold or stop() waits.
    [[nodiscard]] bool interrupted() const noexcept {
        return holds_.load(std::memory_order_relaxed) != 0 || stopping_.load(std::memory_order_relaxed);
    }

    /// Keeps jobs off until the guard it returns is destroyed; waits for the one under way.
    class hold_guard {
    public:
        explicit hold_guard(compaction_thread& owner) : owner_(owner) {}
        hold_guard(const hold_guard&) = delete;
        hold_guard& operator=(const hold_guard&) = delete;
        ~hold_guard() { owner_.release(); }

    private:
        compaction_thread& owner_;
    };
    [[nodiscard]] hold_guard hold() {
        std::unique_lock lock(mutex_);
        holds_.fetch_add(1, std::memory_order_relaxed);
        idle_.wait(lock, [&] { return !running_.load(std::memory_order_relaxed); });
        return hold_guard(*this);
    }

    /// A count that rises each time the job reports progress (progressed()) or ends;
    /// read it before checking whether to wait, and pass it to wait_for_progress.
    [[nodiscard]] std::uint64_t progress() {
        const std::lock_guard lock(mutex_);
        return progress_;
    }

    /// Called by the job when it has reclaimed something: wakes the writers waiting for it.
    void progressed() {
        const std::lock_guard lock(mutex_);
        ++progress_;
        progress_made_.notify_all();
    }

    /// Waits until progress() has moved past `seen`, or the thread has no job under way
    /// or requested, or it is stopped, or `deadline` has passed. False unless progress
    /// was made: the caller then waits no more.
    bool wait_for_progress(std::uint64_t seen, std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        progress_made_.wait_until(lock, deadline, [&] { return progress_ != seen || stopped_ || !busy(); });
        return progress_ != seen;
    }

    /// Ends the thread once the job under way, and any requested before this call, have
    /// run to their end; requests are ignored from now until resume(). A hold in effect
    /// delays it until released. Never call it from the job.
    void finish() {
        {
            std::unique_lock lock(mutex_);
            stopped_ = true;
            progress_made_.notify_all();
            idle_.wait(lock, [&] { return !busy() || !thread_.joinable(); });
        }
        stop();
    }

    /// Ends the thread once the job under way, if any, has stopped; requests are ignored
    /// afterwards until resume(). Never call it from the job.
    void stop() {
        std::thread ending;
        {
            const std::lock_guard lock(mutex_);
            stopped_ = true;
            progress_made_.notify_all();
            stopping_.store(true, std::memory_order_relaxed);
            ending = std::move(thread_);
            wake_.notify_all();
        }
        if (ending.joinable()) ending.join();
        const std::lock_guard lock(mutex_);
        stopping_.store(false, std::memory_order_relaxed);
        pending_.store(false, std::memory_order_relaxed);
    }

    /// Takes requests again after stop() (the store was opened again).
    void resume() {
        const std::lock_guard lock(mutex_);
        stopped_ = false;
    }

private:
    /// Whether a job runs or waits to run; with mutex_ held.
    [[nodiscard]] bool busy() const noexcept {
        return running_.load(std::memory_order_relaxed) || pending_.load(std::memory_order_relaxed);
    }

    void release() {
        const std::lock_guard lock(mutex_);
        if (holds_.fetch_sub(1, std::memory_order_relaxed) == 1) wake_.notify_all();
    }

    void loop() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] {
                return stopping_.load(std::memory_order_relaxed) ||
                       (pending_.load(std::memory_order_relaxed) && holds_.load(std::memory_order_relaxed) == 0);
            });
            if (stopping_.load(std::memory_order_relaxed)) return;
            pending_.store(false, std::memory_order_relaxed);
            running_.store(true, std::memory_order_relaxed);
            lock.unlock();
            job_();
            lock.lock();
            running_.store(false, std::memory_order_relaxed);
            ++progress_;
            idle_.notify_all();
            progress_made_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;           // the thread waits here for a request or stop()
    std::condition_variable idle_;           // hold() and finish() wait here for the job under way to end
    std::condition_variable progress_made_;  // writers wait here for the job's progress
    std::uint64_t progress_ = 0;
    std::function<void()> job_;
    std::thread thread_;
    bool stopped_ = false;
    // Changed under mutex_; read without it as hints (request's fast path, interrupted()).
    std::atomic<bool> pending_{false};
    std::atomic<bool> running_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<int> holds_{0};
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/compaction_thread.hpp ----
// ---- begin kvforge/stores/log/hint.hpp ----
/// \file hint.hpp
/// Hint files: the records of a data file without their values, so that reopening a
/// store reads the keys without reading the values.
///
/// A hint file (format version 2) is a file header (kind 'H', the generation, codecs
/// and file id of the data file it describes), then a body: how many bytes of the data
/// file it covers (u64), how many entries follow (u64), and per record, in file order,
///
///     u8      the record's type byte (kind and flags, as in the record)
///     varint  bytes the key shares with the previous entry's key
///     varint  length of the rest of the key, then those bytes
///     put:    varint value size, [deadline i64], [tag u8] as the flags say
///     varint  gap: bytes between the previous entry's record's end (or the data
///             file's header) and this record's start
///
/// then a CRC-32C of the body. Offsets follow from the sizes and gaps, so a hint may
/// leave records out (a hint written at close lists the live puts only: the gaps hold
/// the rest). A hint that fails any check, or of format version 1, is ignored and the
/// log is read instead.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// Which data file a hint describes: its generation, codecs and file id, as its header
/// says, and where its records start (the size of its header).
struct hint_identity {
    std::uint32_t generation = 0;
    std::uint64_t fingerprint = 0;
    std::uint32_t file_id = 0;
    std::uint64_t records_start = file_header::size;
};

/// One record a hint lists; key views the hint's bytes during the callback only.
struct hint_entry {
    record_type type = record_type::put;
    unsigned char flags = 0;  ///< a put's record_flag bits
    std::string_view key;
    std::uint32_t value_size = 0;  ///< put
    std::int64_t deadline = 0;     ///< put with record_flag::deadline
    unsigned char tag = 0;         ///< put with record_flag::tag
    std::uint64_t offset = 0;      ///< where the record starts in the data file
    std::uint64_t gap = 0;         ///< bytes between the previous listed record and this one

    /// The bytes of the record in the data file.
    [[nodiscard]] std::uint64_t record_size() const noexcept { return record_size_with_key(key.size()); }

    /// The same for a key of key_size bytes, whatever key views.
    [[nodiscard]] std::uint64_t record_size_with_key(std::size_t key_size) const noexcept {
        switch (type) {
            case record_type::put:
                return put_header_size(key_size, value_size, flags) + key_size + value_size;
            case record_type::erase:
                return erase_record_size(key_size);
            default:
                return 5;
        }
    }
};

/// Appends a hint file's header for data, with room for the body's two counts after it.
inline void append_hint_header(std::string& out, const hint_identity& data) {
    file_header header;
    header.kind = file_kind::hint;
    header.generation = data.generation;
    header.order = data.generation;
    header.codec_fingerprint = data.fingerprint;
    header.file_id = data.file_id;
    const std::size_t at = out.size();
    out.resize(at + file_header::size + 16);
    header.encode(out.data() + at);
}

/// Writes the body's counts (bytes covered, entries) at `at`, the 16 bytes after the header.
inline void put_hint_counts(char* at, std::uint64_t covered_end, std::uint64_t entries) noexcept {
    file_header::put_le64(at, covered_end);
    file_header::put_le64(at + 8, entries);
}

/// Appends a hint's trailer: the CRC-32C of the body, given as crc.
inline void append_hint_trailer(std::string& out, std::uint32_t crc) {
    char trailer[4];
    file_header::put_le32(trailer, crc);
    out.append(trailer, 4);
}

/// Encodes hint entries one after another, in file order: each shares its key's prefix
/// with the entry before and gives its offset as the gap after that entry's record.
class hint_entry_encoder {
public:
    explicit hint_entry_encoder(std::uint64_t records_start) noexcept : end_(records_start) {}

    /// Appends the entry of the record entry describes (its offset at or after the previous one's end).
    void append(std::string& out, const hint_entry& entry) {
        std::size_t shared = 0;
        const std::size_t most = std::min(entry.key.size(), previous_key_.size());
        while (shared < most && entry.key[shared] == previous_key_[shared]) ++shared;
        char fields[1 + 3 * max_varint_size + 9];
        char* p = fields;
        *p++ = static_cast<char>(static_cast<unsigned char>(entry.type) | entry.flags);
        p = put_varint(p, shared);
        p = put_varint(p, entry.key.size() - shared);
        out.append(fields, static_cast<std::size_t>(p - fields));
        out.append(entry.key.substr(shared));
        p = fields;
        if (entry.type == record_type::put) {
            p = put_varint(p, entry.value_size);
            if ((entry.flags & record_flag::deadline) != 0) {
                file_header::put_le64(p, static_cast<std::uint64_t>(entry.deadline));
                p += 8;
            }
            if ((entry.flags & record_flag::tag) != 0) *p++ = static_cast<char>(entry.tag);
        }
        p = put_varint(p, entry.offset - end_);
        out.append(fields, static_cast<std::size_t>(p - fields));
        resume_after(entry);
    }

    /// Goes on from entry, the last one listed so far (entries listed without append()).
    void resume_after(const hint_entry& entry) {
        previous_key_.assign(entry.key);
        end_ = entry.offset + entry.record_size();
    }

private:
    std::string previous_key_;
    std::uint64_t end_;  // the end of the previous record listed
};

/// Builds a hint file's bytes: add() records in file order, then finish(). For a data
/// file whose entry count is known only at the end (compaction's output), and the active
/// segment's, whose entries are gathered as its records are appended.
///
/// The bytes go in blocks of block_size rather than one buffer: one that grew by doubling
/// would copy itself at each step and leave the smaller buffers behind as free heap the
/// process still holds, several megabytes at a segment of 32 MiB, at the size where a
/// load's peak memory is counted. A full block may be handed out to be written to the
/// file (full_block, release_full_block), and its buffer is reused for the next: so
/// the active segment's hint holds a block or two in memory, whatever the segment's size.
class hint_builder {
public:
    static constexpr std::size_t block_size = std::size_t{64} << 10;

    explicit hint_builder(const hint_identity& data) : encoder_(data.records_start) {
        append_hint_header(entry_bytes_, data);
        append_bytes(entry_bytes_);
    }

    /// Lists the record entry describes (its offset at or after the previous one's end).
    void add(const hint_entry& entry) {
        entry_bytes_.clear();
        encoder_.append(entry_bytes_, entry);
        append_bytes(entry_bytes_);
        ++entries_;
    }

    /// Lists `count` entries already encoded one after another (the entries of a hint
    /// read_hint accepted, as it holds them), the last of them `last`: a copy of their
    /// bytes, where add() would decode and encode each again. Only before any add().
    void add_encoded(std::string_view encoded, std::uint64_t count, const hint_entry& last) {
        if (count == 0) return;
        append_bytes(encoded);
        entries_ += count;
        encoder_.resume_after(last);
    }

    /// Whether the oldest block held is full and followed by another, so that it can be
    /// handed out.
    [[nodiscard]] bool has_full_block() const noexcept { return blocks_.size() > 1; }

    /// The oldest block held, full (has_full_block()): the file's bytes from handed_out().
    /// The first block's counts are left zero; finish() gives them.
    [[nodiscard]] std::string_view full_block() const noexcept { return blocks_.front(); }

    /// Forgets the oldest block, written out by the caller; its buffer takes the next bytes.
    void release_full_block() {
        std::string& block = blocks_.front();
        entries_crc_ = crc32c_extend(entries_crc_, entries_in(block));
        handed_out_ += block.size();
        spare_ = std::move(block);
        spare_.clear();
        blocks_.erase(blocks_.begin());
    }

    /// How many bytes of the file were handed out in full blocks.
    [[nodiscard]] std::uint64_t handed_out() const noexcept { return handed_out_; }

    /// The finished file, covering the data file up to covered_end: the pieces to write one
    /// after another from offset handed_out(), views of the builder's blocks; when blocks
    /// were handed out, counts() to write over the zeros at file_header::size. Called once.
    [[nodiscard]] std::vector<std::string_view> finish(std::uint64_t covered_end) {
        put_hint_counts(counts_.data(), covered_end, entries_);
        if (handed_out_ == 0) std::copy(counts_.begin(), counts_.end(), blocks_.front().data() + file_header::size);
        // The body is the counts then the entries: the entries' CRC is known before the counts are.
        std::uint32_t crc = entries_crc_;
        std::uint64_t entries_size = handed_out_ == 0 ? 0 : handed_out_ - file_header::size - counts_.size();
        for (const std::string& block : blocks_) {
            const std::string_view entries = entries_in(block);
            crc = crc32c_extend(crc, entries);
            entries_size += entries.size();
        }
        crc = crc32c_combine(crc32c(std::string_view(counts_.data(), counts_.size())), crc, entries_size);
        entry_bytes_.clear();
        append_hint_trailer(entry_bytes_, crc);
        append_bytes(entry_bytes_);
        return {blocks_.begin(), blocks_.end()};
    }

    /// The body's counts (bytes covered, entries), once finish() gave them.
    [[nodiscard]] std::string_view counts() const noexcept { return {counts_.data(), counts_.size()}; }

private:
    void append_bytes(std::string_view bytes) {
        while (!bytes.empty()) {
            if (blocks_.empty() || blocks_.back().size() == block_size) {
                blocks_.push_back(std::exchange(spare_, {}));
                blocks_.back().reserve(block_size);
            }
            std::string& last = blocks_.back();
            const std::size_t part = std::min(bytes.size(), block_size - last.size());
            last.append(bytes.substr(0, part));
            bytes.remove_prefix(part);
        }
    }

    /// The entries' bytes in a block, the oldest held: the first block of the file begins
    /// with the header and the counts, which it is never smaller than.
    [[nodiscard]] std::string_view entries_in(const std::string& block) const noexcept {
        const bool first = handed_out_ == 0 && &block == &blocks_.front();
        return std::string_view(block).substr(first ? file_header::size + counts_.size() : 0);
    }

    std::vector<std::string> blocks_;  // each full but the last
    std::string spare_;                // a block handed out, its buffer kept for the next
    std::string entry_bytes_;          // the bytes of the entry being added, reused
    hint_entry_encoder encoder_;
    std::uint64_t entries_ = 0;
    std::uint64_t handed_out_ = 0;   // bytes in the blocks handed out
    std::uint32_t entries_crc_ = 0;  // the CRC-32C of the entries in those blocks
    std::array<char, 16> counts_{};
};

/// The entry count in the head of a hint file (its header and the body's two counts, or
/// more) written for data, or 0 when the head does not match. Only a bound for sizing
/// the index before the hint is read in full: no count above what a file of hint_size
/// bytes can list (an entry takes at least 4 bytes) is returned.
[[nodiscard]] inline std::uint64_t hint_entry_count(std::string_view head, std::uint64_t hint_size,
                                                    const hint_identity& data) noexcept {
    file_header header;
    if (head.size() < file_header::size + 16 || hint_size < file_header::size + 16 + 4 ||
        file_header::decode(head, file_kind::hint, header) != file_header::problem::none ||
        header.version != format_version || header.generation != data.generation ||
        header.codec_fingerprint != data.fingerprint || header.file_id != data.file_id) {
        return 0;
    }
    const std::uint64_t most = (hint_size - file_header::size - 16 - 4) / 4;
    return std::min(file_header::get_le64(head.data() + file_header::size + 8), most);
}

/// The encoded entries of a hint file whose bytes read_hint accepted: what lies between
/// the body's counts and the CRC.
[[nodiscard]] inline std::string_view hint_encoded_entries(std::string_view hint) noexcept {
    return hint.substr(file_header::size + 16, hint.size() - file_header::size - 16 - 4);
}

/// Gathers a hint's puts into runs of up to `capacity`, each entry with a copy of its key,
/// so that whoever receives a run can insert its keys together (hash_table::upsert_many
/// overlaps their cache misses). An entry that is not a put ends the run before it and is
/// handed on alone, so entries are handed on in the order they came.
class hint_put_batch {
public:
    static constexpr std::size_t capacity = 128;

    /// Takes entry: a put joins the run (handed to apply_puts(std::span<const hint_entry>)
    /// once full); anything else goes to apply_other(entry) after the run is handed on.
    template <class ApplyPuts, class ApplyOther>
    void push(const hint_entry& entry, ApplyPuts&& apply_puts, ApplyOther&& apply_other) {
        if (entry.type != record_type::put) {
            flush(apply_puts);
            apply_other(entry);
            return;
        }
        // Field by field: a copy of the whole entry, just written by the parser, was
        // measured to stall on the stores it reads from.
        hint_entry& held = entries_[size_];
        keys_[size_].assign(entry.key);
        held.key = keys_[size_];
        held.type = entry.type;
        held.flags = entry.flags;
        held.value_size = entry.value_size;
        held.deadline = entry.deadline;
        held.tag = entry.tag;
        held.offset = entry.offset;
        held.gap = entry.gap;
        if (++size_ == capacity) flush(apply_puts);
    }

    /// Hands on the puts still held.
    template <class ApplyPuts>
    void flush(ApplyPuts&& apply_puts) {
        if (size_ == 0) return;
        const std::span<const hint_entry> run(entries_.data(), size_);
        size_ = 0;
        apply_puts(run);
    }

private:
    std::array<hint_entry, capacity> entries_;
    std::array<std::string, capacity> keys_;  // reused: each grows to the longest key, then stays
    std::size_t size_ = 0;
};

/// What check_hint() found in a hint file: the bytes of its data file it covers (0 when
/// the hint was not written for that data file or fails a check) and how many entries it lists.
struct hint_check {
    std::uint64_t covered = 0;
    std::uint64_t entries = 0;
    /// When the hint was written for that data file and passes its checks but covers
    /// more bytes than the file holds: those bytes (covered stays 0). A hint is written only
    /// once the bytes it covers are durable, so the file lost bytes it had: damage, not a
    /// torn write.
    std::uint64_t proven_end = 0;
    /// With proven_end: the entries whose records lie wholly or partly past the file's end.
    std::uint64_t entries_beyond = 0;

    [[nodiscard]] bool passed() const noexcept { return covered != 0; }
};

namespace hint_parse {

/// Walks the entries of a hint body (after the header: the two counts, the entries; no
/// CRC), which lists `entries` entries covering the data file up to covered, checking
/// each; with Deliver, calls on_entry(const hint_entry&) for each, its key rebuilt.
/// False at the first entry that fails a check.
template <bool Deliver, class OnEntry>
bool walk(std::string_view body, std::uint64_t records_start, std::uint64_t covered, std::uint64_t entries,
          OnEntry&& on_entry) {
    const char* const end = body.data() + body.size();
    const char* p = body.data() + 16;
    std::uint64_t record_end = records_start;
    std::uint64_t key_size = 0;
    std::string key;
    for (std::uint64_t i = 0; i < entries; ++i) {
        if (p == end) return false;
        hint_entry entry;
        const auto type_byte = static_cast<unsigned char>(*p++);
        entry.type = static_cast<record_type>(type_byte & 0x07);
        entry.flags = static_cast<unsigned char>(type_byte & ~0x07);
        const bool put = entry.type == record_type::put;
        if ((!put && entry.type != record_type::erase && entry.type != record_type::clear) ||
            (entry.flags & ~record_flag::known) != 0 || (!put && entry.flags != 0)) {
            return false;
        }
        std::uint64_t shared = 0;
        std::uint64_t rest = 0;
        p = get_varint(p, end, shared);
        if (p != nullptr) p = get_varint(p, end, rest);
        if (p == nullptr || shared > key_size || rest > static_cast<std::uint64_t>(end - p) ||
            shared + rest > max_key_size || (entry.type == record_type::clear && shared + rest != 0)) {
            return false;
        }
        key_size = shared + rest;
        if constexpr (Deliver) {
            key.resize(static_cast<std::size_t>(shared));
            key.append(p, static_cast<std::size_t>(rest));
        }
        p += rest;
        if (put) {
            std::uint64_t value_size = 0;
            p = get_varint(p, end, value_size);
            if (p == nullptr || value_size > max_value_size ||
                static_cast<std::size_t>(end - p) < flag_fields_size(entry.flags)) {
                return false;
            }
            entry.value_size = static_cast<std::uint32_t>(value_size);
            if ((entry.flags & record_flag::deadline) != 0) {
                entry.deadline = static_cast<std::int64_t>(file_header::get_le64(p));
                p += 8;
            }
            if ((entry.flags & record_flag::tag) != 0) entry.tag = static_cast<unsigned char>(*p++);
        }
        p = get_varint(p, end, entry.gap);
        // Every record must lie in the covered part of the data file: else a read
        // would go past its end (SIGBUS through a mapping).
        if (p == nullptr || entry.gap > covered - record_end) return false;
        entry.key = key;
        entry.offset = record_end + entry.gap;
        const std::uint64_t record_size = entry.record_size_with_key(static_cast<std::size_t>(key_size));
        if (record_size > covered - entry.offset) return false;
        record_end = entry.offset + record_size;
        if constexpr (Deliver) on_entry(std::as_const(entry));
    }
    return p == end;
}

/// The body of a hint file of at least its header, the counts and the CRC.
[[nodiscard]] inline std::string_view body_of(std::string_view bytes) noexcept {
    return bytes.substr(file_header::size, bytes.size() - file_header::size - 4);
}

}  // namespace hint_parse

/// Checks a hint file's bytes against its data file (identity, and data_size bytes
/// long): its header, CRC and counts, and the structure of every entry, so that a hint
/// that passes delivers all its entries (read_checked_hint) and a bad one changes nothing.
/// Needs only the keys' lengths, not the keys. Reads nothing but bytes, so it may run on
/// any thread.
[[nodiscard]] inline hint_check check_hint(std::string_view bytes, const hint_identity& data, std::uint64_t data_size) {
    file_header header;
    if (file_header::decode(bytes, file_kind::hint, header) != file_header::problem::none ||
        header.version != format_version) {
        return {};
    }
    if (header.generation != data.generation || header.codec_fingerprint != data.fingerprint ||
        header.file_id != data.file_id) {
        return {};
    }
    if (bytes.size() < file_header::size + 16 + 4) return {};
    const std::string_view body = hint_parse::body_of(bytes);
    if (file_header::get_le32(bytes.data() + bytes.size() - 4) != crc32c(body)) return {};
    const std::uint64_t covered = file_header::get_le64(body.data());
    const std::uint64_t entries = file_header::get_le64(body.data() + 8);
    if (covered < data.records_start) return {};
    if (covered > data_size) {
        std::uint64_t beyond = 0;
        const auto count_beyond = [&](const hint_entry& entry) {
            if (entry.offset + entry.record_size() > data_size) ++beyond;
        };
        if (!hint_parse::walk<true>(body, data.records_start, covered, entries, count_beyond)) return {};
        return {.proven_end = covered, .entries_beyond = beyond};
    }
    if (!hint_parse::walk<false>(body, data.records_start, covered, entries, [](const hint_entry&) {})) return {};
    return {.covered = covered, .entries = entries};
}

/// Calls on_entry(const hint_entry&) for each entry of a hint file's bytes that
/// check_hint() passed as `checked` for data.
template <class OnEntry>
void read_checked_hint(std::string_view bytes, const hint_identity& data, const hint_check& checked,
                       OnEntry&& on_entry) {
    hint_parse::walk<true>(hint_parse::body_of(bytes), data.records_start, checked.covered, checked.entries, on_entry);
}

/// Checks a hint file's bytes against its data file (check_hint), then calls
/// on_start(entry count, bytes covered) once and on_entry(const hint_entry&) for each
/// entry; returns the data file's bytes it covers, or 0 (having called nothing) when the
/// hint was not written for this data file or fails a check.
template <class OnStart, class OnEntry>
std::uint64_t read_hint(std::string_view bytes, const hint_identity& data, std::uint64_t data_size, OnStart&& on_start,
                        OnEntry&& on_entry) {
    const hint_check checked = check_hint(bytes, data, data_size);
    if (!checked.passed()) return 0;
    on_start(checked.entries, checked.covered);
    read_checked_hint(bytes, data, checked, on_entry);
    return checked.covered;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/hint.hpp ----
// ---- begin kvforge/stores/log/hint_keeper.hpp ----
/// \file hint_keeper.hpp
/// A log store's hints kept up to date: the entries of the active segment, gathered as
/// its records are appended and written to its hint's .tmp a block at a time as they
/// fill, and the closed segments whose hints are still to be finished, each finished
/// (hint.hpp's format) through segment_files.hpp.
///
/// Finishing a closed segment's hint is left out of the write that closed it: syncing
/// it takes longer than the rest of a rollover, and a segment without one is only read
/// whole at the next open. The engine says when each is finished: after a later write
/// (single_thread), on the compaction thread (thread_safe), at close() when still
/// pending, never for a segment retired first (its .tmp is removed). A hint only speeds
/// up the next open, so failing to write one is no error: that segment goes without.
///
/// Its callers hold the engine's write gate; it takes the engine's exclusive lock to
/// set a segment's hint_bytes and hint_covered, which stats() reads under the shared one.
/// The active segment's full blocks are written after a write, under the gate only.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/segment_files.hpp ----
/// \file segment_files.hpp
/// The files a log store makes in its directory: new segments (started as a .tmp,
/// published by a rename), files written safely, at once or piece by piece (hints, the
/// manifest), segments removed once retired, and the syncs and bytes all of that costs,
/// which stats() reports beside the writer's.
///
/// It owns the store's directory. The engine, its recovery and its compaction make
/// every file through it, so that every sync and byte is counted, from whichever thread.

#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/file_id.hpp ----
/// \file file_id.hpp
/// The random id written into the header of each new data file and repeated in its
/// hint file, so that a hint is used only for the exact file it describes.

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>


namespace kvforge::detail {

/// A new file id: never 0, which marks files of releases that wrote no id. The id
/// needs to differ from the ids of earlier files of the same store, not to be secret, so
/// it hashes the time, the process and a counter rather than paying for <random>.
[[nodiscard]] inline std::uint32_t new_file_id() noexcept {
    static std::atomic<std::uint64_t> counter{0};
    timespec wall{};
    timespec steady{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    ::clock_gettime(CLOCK_MONOTONIC, &steady);
    const std::uint64_t parts[] = {static_cast<std::uint64_t>(wall.tv_sec), static_cast<std::uint64_t>(wall.tv_nsec),
                                   static_cast<std::uint64_t>(steady.tv_nsec), static_cast<std::uint64_t>(::getpid()),
                                   counter.fetch_add(1, std::memory_order_relaxed)};
    char bytes[sizeof parts];
    std::memcpy(bytes, parts, sizeof parts);
    const std::uint64_t hash = hash_bytes({bytes, sizeof bytes});
    const auto id = static_cast<std::uint32_t>(hash ^ (hash >> 32));
    return id != 0 ? id : 1;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/file_id.hpp ----

namespace kvforge::detail {

/// The directory of a log store and the files it makes there. Counter is the threading
/// policy's counter for the syncs.
template <class IO, class Counter>
class segment_files {
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;

public:
    /// failure is the store's: a segment that could not be published stops its writes.
    explicit segment_files(sticky_failure& failure) noexcept : failure_(failure) {}

    /// Opens the directory as mode says, for a store whose records are encoded as
    /// codec_fingerprint says and whose values as layers says (layers_fingerprint), both
    /// written into each new segment's header.
    bool open(IO& io, std::string_view path, const directory_mode& mode, std::uint64_t codec_fingerprint,
              std::uint64_t layers, std::error_code& ec) {
        fingerprint_ = codec_fingerprint;
        layers_ = layers;
        bytes_written_.store(0, std::memory_order_relaxed);
        return directory_.open(io, path, mode, ec);
    }

    /// Releases the directory's lock.
    void close() noexcept { directory_.close(); }

    /// How the records of the segments it makes are encoded (their headers' codec_fingerprint).
    [[nodiscard]] std::uint64_t codec_fingerprint() const noexcept { return fingerprint_; }

    [[nodiscard]] store_directory<IO>& directory() noexcept { return directory_; }
    [[nodiscard]] const store_directory<IO>& directory() const noexcept { return directory_; }

    /// Syncs of files and of the directory made through this, ever (stats().syncs adds the writer's).
    [[nodiscard]] std::uint64_t syncs() const noexcept { return syncs_.load(); }
    /// Bytes written through this since open (stats().bytes_written adds the writer's).
    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return bytes_written_.load(std::memory_order_relaxed);
    }

    bool sync_directory(std::error_code& ec) {
        syncs_.add(1);
        return directory_.sync(ec);
    }

    /// Syncs a file of the store's own (a segment, a hint, the manifest).
    bool sync_file(data_file<IO>& file, std::error_code& ec) {
        syncs_.add(1);
        return file.sync(ec);
    }

    /// Writes bytes the store's writer does not (headers, compaction output, hints, the manifest).
    bool write_counted(data_file<IO>& file, std::uint64_t offset, std::string_view bytes, std::error_code& ec) {
        if (!file.write(offset, bytes, ec)) return false;
        bytes_written_.fetch_add(bytes.size(), std::memory_order_relaxed);
        return true;
    }

    /// Writes a whole file safely: .tmp, sync, rename, sync the directory.
    bool write_file(const store_file_name& name, std::string_view bytes, std::error_code& ec) {
        return write_file(name, std::span<const std::string_view>(&bytes, 1), ec);
    }

    /// The same for a file given as pieces written one after another.
    bool write_file(const store_file_name& name, std::span<const std::string_view> pieces, std::error_code& ec) {
        data_file<IO> file;
        std::uint64_t at = 0;
        return start_file(name, file, ec) && write_pieces(file, at, pieces, ec) && finish_file(name, file, ec);
    }

    /// Writes pieces one after another from offset `at`, counted; `at` ends past the last
    /// one written.
    bool write_pieces(data_file<IO>& file, std::uint64_t& at, std::span<const std::string_view> pieces,
                      std::error_code& ec) {
        for (const std::string_view piece : pieces) {
            if (!write_counted(file, at, piece, ec)) return false;
            at += piece.size();
        }
        return true;
    }

    /// Opens the .tmp of a file written safely but not at once (write_counted, as its
    /// bytes come; then finish_file, or remove_unfinished).
    bool start_file(const store_file_name& name, data_file<IO>& file, std::error_code& ec) {
        return directory_.open_file(file, name.temporary(), O_WRONLY | O_CREAT | O_TRUNC, ec);
    }

    /// Syncs a file opened by start_file, renames its .tmp to name and syncs the directory.
    bool finish_file(const store_file_name& name, data_file<IO>& file, std::error_code& ec) {
        return sync_file(file, ec) && directory_.rename(name.temporary(), name, ec) && sync_directory(ec);
    }

    /// Removes the .tmp of a file started but given up. A failure leaves it to the next
    /// open, which removes every .tmp.
    void remove_unfinished(const store_file_name& name) {
        std::error_code ignored;
        directory_.remove(name.temporary(), ignored);
    }

    /// Starts segment `id` as a .tmp holding its header, with a new file id. No hint of
    /// that id exists: ids are above every id on disk at open, where hints without their
    /// segment were removed.
    bool start_segment(std::uint32_t id, std::uint64_t order, segment_pointer& out, std::error_code& ec) {
        auto created = std::make_shared<segment_type>();
        created->id = id;
        created->order = order;
        created->file_id = new_file_id();
        const store_file_name tmp = store_file_name::data(id).temporary();
        if (!directory_.open_file(created->file, tmp, O_RDWR | O_CREAT | O_TRUNC, ec)) return false;
        file_header header;
        header.codec_fingerprint = fingerprint_;
        header.layers = layers_;
        header.generation = id;
        header.order = order;
        header.file_id = created->file_id;
        char bytes[file_header::size];
        header.encode(bytes);
        if (!write_counted(created->file, 0, {bytes, sizeof bytes}, ec)) return false;
        created->size = file_header::size;
        out = std::move(created);
        return true;
    }

    /// Syncs a finished .tmp segment, renames it into place and syncs the directory. A
    /// failure stops the store's writes: a failed sync is never retried (the kernel may
    /// have dropped the pages), and after the rename the next open may find the segment.
    bool publish_segment(segment_type& in, std::error_code& ec) {
        if (!sync_file(in.file, ec)) {
            failure_.record(ec);
            return false;
        }
        return place_segment(in, ec);
    }

    /// Creates segment `id`, the next one the writer appends to, holding only its header,
    /// through a synced .tmp and a rename; it replays after every earlier one (its order is
    /// its id, the highest yet).
    bool create_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        return start_segment(id, id, out, ec) && publish_segment(*out, ec);
    }

    /// Renames a synced .tmp segment into place and syncs the directory (publish_segment;
    /// a rollover's spare segment, synced when it was prepared).
    bool place_segment(segment_type& in, std::error_code& ec) {
        const store_file_name name = store_file_name::data(in.id);
        if (directory_.rename(name.temporary(), name, ec)) {
            in.file.renamed(directory_.file_path(name));
            if (sync_directory(ec)) return true;
        }
        failure_.record(ec);
        return false;
    }

    /// Removes the .tmp of segment `id`, started but never published (a spare segment no
    /// longer wanted, a dropped compaction's output). A failure leaves it to the next open,
    /// which removes every .tmp.
    void remove_unpublished_segment(std::uint32_t id) { remove_unfinished(store_file_name::data(id)); }

    /// Makes and publishes segment `id` holding only a clear record (clear()): replayed
    /// after every earlier segment, it drops what they hold.
    bool publish_cleared_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        segment_pointer next;
        if (!start_segment(id, id, next, ec)) return false;
        std::string record;
        append_clear_record(record);
        if (!write_counted(next->file, next->size, record, ec)) return false;
        next->size += record.size();
        next->holds_clear = true;
        if (!publish_segment(*next, ec)) return false;
        out = std::move(next);
        return true;
    }

    /// Removes the files of segments taken out of the store, in their replay order, the
    /// directory synced after each: should a crash leave some, they are the last ones in
    /// replay order, whose tombstones are still there for their older records. A removal
    /// that fails stops it; the next open replays what is left, to the same contents.
    void remove_segments(const std::vector<segment_pointer>& retired) {
        for (const segment_pointer& in : retired) {
            if (!remove_segment(*in)) return;
        }
    }

    /// Removes one segment taken out of the store: its hint, a sync of the directory, its
    /// data file, a sync of the directory. The hint goes first and for good, since a hint
    /// left without its data file names a segment that was lost (recovery.hpp). False when
    /// a removal failed (what is left replays at the next open).
    bool remove_segment(const segment_type& retired) {
        std::error_code ignored;
        return directory_.remove(store_file_name::hint(retired.id), ignored) && sync_directory(ignored) &&
               directory_.remove(store_file_name::data(retired.id), ignored) && sync_directory(ignored);
    }

private:
    store_directory<IO> directory_;
    sticky_failure& failure_;
    std::uint64_t fingerprint_ = 0;
    std::uint64_t layers_ = 0;
    Counter syncs_;  // bumped outside the lock stats() reads under
    std::atomic<std::uint64_t> bytes_written_{0};
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/segment_files.hpp ----

namespace kvforge::detail {

/// The hints of a log store's segments, written through files; Mutex is the engine's
/// reader-writer lock.
template <class IO, class Counter, class Mutex>
class hint_keeper {
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;
    using write_lock = std::unique_lock<Mutex>;

public:
    /// The hint of one segment on its way to disk: the entries gathered, and the .tmp
    /// their full blocks went to (open once the first did).
    struct gathered_hint {
        std::uint32_t id = 0;
        hint_builder entries;
        data_file<IO> file;
    };

    /// A closed segment waiting for its hint to be finished.
    struct pending_hint {
        segment_pointer in;
        gathered_hint hint;
    };

    hint_keeper(segment_files<IO, Counter>& files, Mutex& mutex) noexcept : files_(files), mutex_(mutex) {}

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, files_.codec_fingerprint(), in.file_id, in.records_start()};
    }

    /// Starts gathering the entries of `active`, the segment the writer now appends to.
    void start_active(const segment_type& active) {
        stop_active();
        active_.emplace(gathered_hint{active.id, hint_builder(identity(active)), {}});
    }
    /// Gathers nothing for the active segment (no options::write_hints, or read-only).
    void stop_active() noexcept {
        if (active_) give_up(*active_);
        active_.reset();
    }
    /// Goes on with the entries recovery gathered for `active`, the recovered active segment.
    void adopt_active(const segment_type& active, std::optional<hint_builder> recovered) {
        stop_active();
        if (recovered) active_.emplace(gathered_hint{active.id, std::move(*recovered), {}});
    }

    /// Lists a record of the active segment.
    void note(const hint_entry& entry) {
        if (active_) active_->entries.add(entry);
    }

    /// Writes the active segment's full blocks of entries to its hint's .tmp, after a
    /// write: a write() of a block into the page cache now and then, rather than the
    /// whole hint in memory until the segment closes. Should one fail, the segment goes
    /// without a hint.
    void write_full_blocks() noexcept {
        if (!active_ || !active_->entries.has_full_block()) return;
        bool written = false;
        try {
            written = write_blocks(*active_);
        } catch (const std::bad_alloc&) {
            // The write that called this succeeded all the same.
        }
        if (!written) stop_active();
    }

    /// Makes room for one more pending hint, so that close_active cannot throw.
    void reserve_pending() { pending_.reserve(pending_.size() + 1); }

    /// The active segment was closed: its entries, if any were gathered, wait for write_pending.
    void close_active(segment_pointer closed) {
        if (!active_) return;
        pending_.push_back({std::move(closed), std::move(*active_)});
        active_.reset();
    }

    /// How many closed segments wait for their hints.
    [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }

    /// Takes the oldest closed segment waiting for its hint (one waits), to write it
    /// with no lock held.
    [[nodiscard]] pending_hint take_oldest() {
        pending_hint taken = std::move(pending_.front());
        pending_.erase(pending_.begin());
        return taken;
    }

    /// Finishes a hint taken by take_oldest (best effort).
    void write_pending(pending_hint& taken) {
        try {
            finish_hint(*taken.in, taken.hint, taken.in->size);
        } catch (const std::bad_alloc&) {
            // Without a hint the segment is read whole at the next open.
            give_up(taken.hint);
        }
    }

    /// Finishes every hint still pending (close()).
    void write_pending_now() {
        for (pending_hint& waiting : pending_) write_pending(waiting);
        pending_.clear();
    }

    /// Forgets the pending hints of segments no longer in `segments` (compaction,
    /// clear): a retired segment gets no hint.
    void drop_retired(const segment_set<IO>& segments) {
        const auto retired = [&](const pending_hint& p) { return segments.find(p.in->id) != p.in.get(); };
        for (pending_hint& p : pending_) {
            if (retired(p)) give_up(p.hint);
        }
        std::erase_if(pending_, retired);
    }

    /// Finishes the hint of `active`, covering it up to end, unless the hint on disk
    /// already does; at close. The gathered entries are used up.
    void write_active(segment_type& active, std::uint64_t end) {
        if (!active_) return;
        gathered_hint hint = std::move(*active_);
        active_.reset();
        if (active.hint_covered == end) {
            give_up(hint);
            return;
        }
        try {
            finish_hint(active, hint, end);
        } catch (const std::bad_alloc&) {
            give_up(hint);
        }
    }

    /// Writes the hint of closed segment `in` from its gathered entries (best effort;
    /// compaction's outputs, whose hints are built in memory).
    void write_hint_of(segment_type& in, hint_builder& hint) {
        const std::vector<std::string_view> pieces = hint.finish(in.size);
        std::error_code ignored;
        if (!files_.write_file(store_file_name::hint(in.id), pieces, ignored)) return;
        const write_lock lock(mutex_);
        in.hint_bytes = total_size(pieces);
        in.hint_covered = in.size;
    }

    /// Forgets every entry gathered and every hint pending, and removes their .tmp files.
    void clear() noexcept {
        stop_active();
        for (pending_hint& p : pending_) give_up(p.hint);
        pending_.clear();
    }

private:
    [[nodiscard]] static std::uint64_t total_size(std::span<const std::string_view> pieces) noexcept {
        std::uint64_t total = 0;
        for (const std::string_view piece : pieces) total += piece.size();
        return total;
    }

    /// Writes the full blocks of hint's entries to its .tmp, which the first opens.
    bool write_blocks(gathered_hint& hint) {
        std::error_code ignored;
        if (!hint.file.is_open() && !files_.start_file(store_file_name::hint(hint.id), hint.file, ignored)) {
            return false;
        }
        while (hint.entries.has_full_block()) {
            if (!files_.write_counted(hint.file, hint.entries.handed_out(), hint.entries.full_block(), ignored)) {
                return false;
            }
            hint.entries.release_full_block();
        }
        return true;
    }

    /// Writes the rest of the hint of `in`, covering it up to end: its last blocks, the
    /// counts at the head of its body (its first block went out without them), then
    /// sync and rename. On failure its .tmp is removed.
    void finish_hint(segment_type& in, gathered_hint& hint, std::uint64_t end) {
        const std::vector<std::string_view> rest = hint.entries.finish(end);
        std::error_code ignored;
        const store_file_name name = store_file_name::hint(hint.id);
        std::uint64_t at = hint.entries.handed_out();
        bool written = (hint.file.is_open() || files_.start_file(name, hint.file, ignored)) &&
                       files_.write_pieces(hint.file, at, rest, ignored);
        if (hint.entries.handed_out() > 0) {
            written = written && files_.write_counted(hint.file, file_header::size, hint.entries.counts(), ignored);
        }
        written = written && files_.finish_file(name, hint.file, ignored);
        if (!written) {
            give_up(hint);
            return;
        }
        hint.file.close();
        const write_lock lock(mutex_);
        in.hint_bytes = at;
        in.hint_covered = end;
    }

    /// Closes and removes the .tmp of a hint given up, if one was started.
    void give_up(gathered_hint& hint) noexcept {
        if (!hint.file.is_open()) return;
        hint.file.close();
        try {
            files_.remove_unfinished(store_file_name::hint(hint.id));
        } catch (const std::bad_alloc&) {
            // Its name could not be made: the next open removes it, as every .tmp.
        }
    }

    segment_files<IO, Counter>& files_;
    Mutex& mutex_;
    // Empty without options::write_hints (and once the hint was written from them).
    std::optional<gathered_hint> active_;
    std::vector<pending_hint> pending_;  // oldest first
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/hint_keeper.hpp ----
// ---- begin kvforge/stores/log/index_updates.hpp ----
/// \file index_updates.hpp
/// A log store's index kept in step with its records, and the live and dead bytes they
/// add up to: each put, erase or clear, whether written now (log_writes.hpp) or replayed
/// at open (recovery.hpp), goes into the index through here, so that both count bytes
/// alike.
///
/// A record is live while the index points to it; a record the index no longer points
/// to (replaced, erased, or before a clear), a tombstone and a batch's header are dead,
/// counted in their segment's dead_bytes and in the total. Compaction reads the counts
/// to choose and retire segments (engine_compaction.hpp); stats() reports them.
///
/// It refers to the index and to the segments the index points into, and owns the
/// counts; its callers hold whatever lock keeps readers of the two out.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>


namespace kvforge::detail {

/// The updates of index `Table` for the records of segments of I/O policy IO.
template <class IO, class Table>
class index_updates {
    using segment_type = segment<IO>;

public:
    index_updates(Table& table, const segment_set<IO>& segments) noexcept : table_(table), segments_(segments) {}
    index_updates(const index_updates&) = delete;
    index_updates& operator=(const index_updates&) = delete;

    /// The bytes of the records the index points to: their keys and values.
    [[nodiscard]] std::uint64_t live_bytes() const noexcept { return live_bytes_; }
    /// The sum of the segments' dead bytes.
    [[nodiscard]] std::uint64_t dead_bytes() const noexcept { return dead_bytes_; }

    /// Sets both counts: a store recovered, cleared or compacted whole.
    void set_counts(std::uint64_t live, std::uint64_t dead) noexcept {
        live_bytes_ = live;
        dead_bytes_ = dead;
    }

    /// Counts bytes of segment `in` as dead.
    void add_dead(segment_type& in, std::uint64_t bytes) noexcept { count_dead(in, dead_bytes_, bytes); }
    /// Counts a segment's dead bytes into the total as it joins the store.
    void add_segment(const segment_type& in) noexcept { dead_bytes_ += in.dead_bytes; }
    /// Takes a retired segment's dead bytes off the total.
    void remove_segment(const segment_type& in) noexcept { dead_bytes_ -= in.dead_bytes; }

    /// Counts a put that went into the index by other means (an index built at once) as live.
    void add_live(std::uint64_t bytes) noexcept { live_bytes_ += bytes; }
    /// Counts key's record at `old` (its index payload), which a newer record replaced or
    /// erased, as dead and no longer live.
    void retire(std::string_view key, std::string_view old) noexcept {
        count_retired(segments_, key, old, live_bytes_, dead_bytes_);
    }

    /// A put of key at `where`: its record becomes live, the one it replaces dead.
    void put(std::string_view key, const record_location& where) {
        char payload[record_location::max_encoded_size];
        table_.upsert(key, {payload, where.encode(payload)}, [&](std::string_view old) { retire(key, old); });
        live_bytes_ += key.size() + where.value_size;
    }

    /// put() of a run of puts a hint of segment `id` lists, inserted together where the
    /// index can (overlapping their cache misses).
    void put_many(std::span<const hint_entry> puts, std::uint32_t id) {
        const auto location_of = [id](const hint_entry& put) {
            return record_location{id, static_cast<std::uint32_t>(put.offset), put.value_size, put.flags};
        };
        char payload[record_location::max_encoded_size];
        const auto key_of = [&](std::size_t i) { return puts[i].key; };
        const auto payload_of = [&](std::size_t i) {
            return std::string_view(payload, location_of(puts[i]).encode(payload));
        };
        const auto on_replace = [&](std::size_t i, std::string_view old) { retire(puts[i].key, old); };
        if constexpr (requires { table_.upsert_many(puts.size(), key_of, payload_of, on_replace); }) {
            table_.upsert_many(puts.size(), key_of, payload_of, on_replace);
            for (const hint_entry& put : puts) live_bytes_ += put.key.size() + put.value_size;
        } else {
            for (const hint_entry& put : puts) this->put(put.key, location_of(put));
        }
    }

    /// An erase of key whose tombstone (tombstone_size bytes) lies in segment `holder`:
    /// the tombstone is dead from the start, and so is the record it erases. False when
    /// the index did not hold key.
    bool erase(std::string_view key, std::size_t tombstone_size, segment_type& holder) {
        add_dead(holder, tombstone_size);
        return table_.erase(key, [&](std::string_view old) { retire(key, old); });
    }

    /// A clear record of segment `holder` ending at end, met in replay: every record
    /// before it is dead, in the segments replayed before (all of them) and in holder.
    void replay_clear(segment_type& holder, std::uint64_t end) {
        table_.clear();
        live_bytes_ = 0;
        dead_bytes_ = 0;
        holder.holds_clear = true;
        for (const auto& in : segments_.by_id()) {
            if (in->replays_before(holder)) in->dead_bytes = in->size - in->records_start();
            if (in.get() == &holder) in->dead_bytes = end - in->records_start();
            dead_bytes_ += in->dead_bytes;
        }
    }

private:
    Table& table_;
    const segment_set<IO>& segments_;
    std::uint64_t live_bytes_ = 0;
    std::uint64_t dead_bytes_ = 0;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/index_updates.hpp ----
// ---- begin kvforge/stores/log/log_reads.hpp ----
/// \file log_reads.hpp
/// A log store's reads under its shared lock: a key's value (copied, read into a string
/// or pinned in the mapping), whether a key is there, and visits of every record in key
/// order, in the index's order or in the order the records lie in the segments. The
/// index says where each record is; the record reader (record_reader.hpp) reads it and
/// checks its checksum.
///
/// It refers to the engine's index, reader, lock and open flag, and owns the count of
/// reads stats() reports. A visit holds the shared lock while its visitor runs.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/record_reader.hpp ----
/// \file record_reader.hpp
/// The one read path of a log store: given where a key's record is (segment and
/// offset), read the record from the writer's pending bytes (active segment), from the
/// segment's mapping (every segment of mmap_file; file_log's closed segments and the
/// part of its active one written before the open) or with pread (with a read-ahead
/// window for scans), check its checksum and its key, and hand out the value.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>


namespace kvforge::detail {

/// The bytes a scan read from the file beyond the record it asked for. After a
/// compaction a sorted store's records lie in key order, one after another, so a
/// scan that finds its next record right where the window ends doubles the window
/// (as an OS read-ahead does) and one pread serves many records; a scan whose
/// records lie scattered keeps reading one record at a time.
struct read_ahead {
    static constexpr std::size_t max_window = std::size_t{256} << 10;
    std::string bytes;
    std::uint32_t segment = 0;  // the id of the segment the bytes are from
    std::uint64_t start = 0;
    /// The scan goes forward through segments in key order: a mapped record's reader loads
    /// the lines a few records further on (record_reader::prefetch_further).
    bool forward = false;

    [[nodiscard]] bool holds(std::uint32_t id, std::uint64_t offset, std::size_t size) const noexcept {
        return id == segment && offset >= start && offset + size <= start + bytes.size();
    }
    [[nodiscard]] std::string_view view(std::uint64_t offset, std::size_t size) const noexcept {
        return std::string_view(bytes).substr(static_cast<std::size_t>(offset - start), size);
    }
};

/// Whether the size bytes at offset of segment `in` lie inside its mapping (it has one),
/// to be read there.
template <class Segment>
[[nodiscard]] bool mapped(const Segment& in, std::uint64_t offset, std::size_t size) noexcept {
    return in.mapping && offset + size <= in.mapping->length();
}

/// Asks the processor to start loading the size bytes at record, a record a scan reads
/// soon: in a store filled in random key order the next records in key order lie far
/// apart in the file, and loading several at once overlaps their cache misses.
inline void prefetch_record(const char* record, std::size_t size) noexcept {
    constexpr std::uintptr_t line = 64;
    const std::uintptr_t first = reinterpret_cast<std::uintptr_t>(record) & ~(line - 1);
    const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(record) + size;
    for (std::uintptr_t at = first; at < end; at += line) __builtin_prefetch(reinterpret_cast<const char*>(at));
}

/// The segments a scan looked up last, by id. A scan asks for the segment of each record
/// twice (to load it ahead and to read it); once a store holds several segments, their
/// order from one record to the next is not one a binary search's branches can predict,
/// and the lookups took a seventh of a scan of four segments, three of them sorted. Valid
/// while the segment set does not change: for one visit under the read lock.
template <class Segment>
class recent_segments {
public:
    /// The segment with this id in set, or nullptr.
    template <class Set>
    const Segment* find(const Set& set, std::uint32_t id) noexcept {
        const Segment*& slot = slots_[id % slots_.size()];
        if (slot == nullptr || slot->id != id) slot = set.find(id);
        return slot;
    }

private:
    std::array<const Segment*, 8> slots_{};
};

/// Reads records of the engine's segments. It refers to the engine's segment set,
/// active segment and writer, which the engine changes under its exclusive lock
/// (rollover, compaction, clear); the segments own their mappings, whose records are
/// viewed where they lie, so a view stays valid while its segment is held (under the
/// read lock, or by a snapshot) even after compaction retired the segment.
template <class IO, class Writer, bool Mapped>
class record_reader {
public:
    using segment_type = segment<IO>;
    using segment_cache = recent_segments<segment_type>;

    record_reader(const IO& io, const segment_set<IO>& segments, const std::shared_ptr<segment_type>& active,
                  const std::optional<Writer>& writer) noexcept
        : io_(io), segments_(segments), active_(active), writer_(writer) {}

    /// Reads and checks the record at where; value views its value. A record inside its
    /// segment's mapping is viewed where it lies, leaving scratch empty; otherwise it is
    /// copied into scratch (from the writer, or from the file with pread).
    bool read(std::string_view key, const record_location& where, std::string& scratch, std::string_view& value,
              std::error_code& ec, read_ahead* ahead = nullptr, segment_cache* recent = nullptr) const {
        std::string_view record;
        record_info info;
        if (!read_record(key, where, scratch, record, info, ec, ahead, recent)) return false;
        value = record.substr(info.value_offset, info.value_size);
        return true;
    }

    /// read(), handing out the whole record, which info describes: a compaction copies
    /// it as it is, its checksum checked once and kept.
    bool read_record(std::string_view key, const record_location& where, std::string& scratch, std::string_view& record,
                     record_info& info, std::error_code& ec, read_ahead* ahead = nullptr,
                     segment_cache* recent = nullptr) const {
        const segment_type* const in = find(where, ec, recent);
        if (in == nullptr) return false;
        const auto size = static_cast<std::size_t>(where.record_size(key.size()));
        const bool pending = with_writer(*in, where.offset);
        record = {};
        scratch.clear();
        if (!pending && mapped(*in, where.offset, size)) {
            record = std::string_view(in->mapping->data() + where.offset, size);
            if (ahead != nullptr && ahead->forward && in->in_key_order) prefetch_further(*in, where.offset);
        } else if (!Mapped && ahead != nullptr && !pending) {
            if (!ahead->holds(in->id, where.offset, size) && !fill(*ahead, *in, where.offset, size, ec)) {
                return false;
            }
            record = ahead->view(where.offset, size);
        }
        if (record.empty()) {
            scratch.resize(size);
            if (!(pending && writer_->read_pending(where.offset, scratch.data(), size)) &&
                !in->file.read(where.offset, scratch.data(), size, ec)) {
                return false;
            }
            record = scratch;
        }
        // The index says how long the record and its value are, and its flags: the header
        // need only agree (a size written longer than its shortest form would move the
        // key), and the checksum match.
        const std::size_t value_offset = size - where.value_size;
        if (!parse_record_header(record.substr(0, value_offset), where.value_size, info) || info.flags != where.flags ||
            file_header::get_le32(record.data()) != crc32c(record.substr(4)) ||
            record.substr(info.key_offset, info.key_size) != key) {
            report_damage(*in, where.offset, ec);
            return false;
        }
        info.value_offset = value_offset;
        info.size = size;
        return true;
    }

    /// Starts loading the record at where into the cache when its segment is mapped,
    /// for a scan that reads it soon; a record read with pread has nothing to load.
    void prefetch(std::size_t key_size, const record_location& where, segment_cache& recent) const noexcept {
        const segment_type* const in = recent.find(segments_, where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key_size));
        if (in != nullptr && mapped(*in, where.offset, size)) prefetch_record(in->mapping->data() + where.offset, size);
    }

    /// Whether some record in a file may lie away from its neighbours in key order: a
    /// segment holds records without being known to hold them in key order (the active
    /// one, or a closed one not sorted yet); those still with the writer are read from it.
    /// When none does, a scan in key order reads each segment front to back, which the
    /// processor's own prefetching follows: loading records ahead of the scan then only
    /// costs it (a fifth of a scan of 1,000,000 records, every segment sorted).
    [[nodiscard]] bool scattered() const {
        for (const auto& in : segments_.by_id()) {
            const std::uint64_t end = in == active_ ? writer_->written_end() : in->size;
            if (!in->in_key_order && end > in->records_start()) return true;
        }
        return false;
    }

    /// Reads key's value straight into out, with no allocation beyond out's own: copied
    /// from the mapping, or one preadv puts the record's header and key in a small
    /// buffer and its value in out. A value that fails its checksum is not left there:
    /// out is emptied.
    bool read_value(std::string_view key, const record_location& where, std::string& out, std::error_code& ec) const {
        const std::size_t head_size = put_header_size(key.size(), where.value_size) + key.size();
        borrowed_buffer scratch(thread_buffer_use::value_head);
        const segment_type* const in = find(where, ec);
        if (in == nullptr) {
            out.clear();
            return false;
        }
        if (Mapped || with_writer(*in, where.offset) ||
            mapped(*in, where.offset, static_cast<std::size_t>(where.record_size(key.size())))) {
            // A mapped record is checked where it lies, and one not yet in the file is
            // copied from the writer in one piece.
            std::string_view value;
            if (!read(key, where, scratch.get(), value, ec)) {
                out.clear();
                return false;
            }
            assign_bytes(out, value);
            return true;
        }
        char small[256];
        char* head = small;
        if (head_size > sizeof small) {
            scratch.get().resize(head_size);
            head = scratch.get().data();
        }
        out.resize(where.value_size);
        // Whatever happens from here, out holds no byte of a value that failed its checks.
        if (!in->file.read2(where.offset, head, head_size, out.data(), out.size(), ec)) {
            out.clear();
            return false;
        }
        record_info info;
        const std::uint32_t crc = crc32c_extend(crc32c({head + 4, head_size - 4}), out);
        const std::string_view head_bytes(head, head_size);
        // The header parses on its own once the value's size is known to be in out.
        const bool header_ok = parse_record_header(head_bytes, where.value_size, info);
        if (!header_ok || crc != file_header::get_le32(head) || head_bytes.substr(info.key_offset) != key) {
            out.clear();
            report_damage(*in, where.offset, ec);
            return false;
        }
        return true;
    }

    /// The mapping that views handed out by read() of a record in this segment point
    /// into (mmap_file).
    [[nodiscard]] std::shared_ptr<const file_mapping<IO>> mapping(std::uint32_t segment_id) const noexcept {
        const segment_type* const in = segments_.find(segment_id);
        return in != nullptr ? in->mapping : nullptr;
    }

    /// Maps segment `in` for reads up to end, below which its bytes never change again:
    /// a closed segment whole, or the part of the active one written before the store
    /// was opened. file_log reads the records there through the mapping, with no system
    /// call, and the others with pread; mmap_file's mapping grows further (cover). Best
    /// effort: without a mapping, records are read with pread.
    void map_final(segment_type& in, std::uint64_t end) const {
        if constexpr (Mapped) {
            cover(in, end);
        } else {
            if (end <= in.records_start() || (in.mapping && in.mapping->length() >= end)) return;
            std::error_code ignored;
            if (auto whole = file_mapping<IO>::map(io_, in.file.descriptor(), static_cast<std::size_t>(end),
                                                   in.file.path(), ignored)) {
                in.mapping = std::move(whole);
            }
        }
    }

    /// Makes the mapping of segment `in` cover it up to end (mmap_file), so that records
    /// reaching the file later are inside it. Best effort: a record outside the mapping
    /// is read with pread instead.
    void cover(segment_type& in, std::uint64_t end) const {
        if constexpr (Mapped) {
            if (in.mapping && in.mapping->length() >= end) return;
            // Double, so remapping is rare; at least 1 MiB, so small stores map once.
            std::uint64_t length = in.mapping ? in.mapping->length() : std::uint64_t{1} << 20;
            while (length < end) length *= 2;
            std::error_code ignored;
            if (auto grown = file_mapping<IO>::map(io_, in.file.descriptor(), static_cast<std::size_t>(length),
                                                   in.file.path(), ignored)) {
                in.mapping = std::move(grown);
            }
        }
    }

    /// Fails with corrupt_record for the record at offset in segment `in`.
    static void report_damage(const segment_type& in, std::uint64_t offset, std::error_code& ec) {
        fail(ec, errc::corrupt_record,
             in.file.path() + ": the record at offset " + std::to_string(offset) +
                 " fails its checksum; its value is not returned (run verify() for a full report)");
    }

private:
    /// The segment where points into; nullptr with corrupt_record when there is none
    /// (an index entry that does not match the files).
    const segment_type* find(const record_location& where, std::error_code& ec, segment_cache* recent = nullptr) const {
        const segment_type* const in =
            recent != nullptr ? recent->find(segments_, where.segment) : segments_.find(where.segment);
        if (in == nullptr) {
            fail(ec, errc::corrupt_record,
                 "the index points at segment " + std::to_string(where.segment) + ", which the store does not hold");
        }
        return in;
    }

    /// For a scan reading segment `in`, known to be in key order, at offset: starts loading
    /// the lines a few records further on, which it reads next when it goes forward. A
    /// scan of a sorted store interleaves its segments, several streams of records, which
    /// the processor's own prefetching follows too late (1,000,000 records in five sorted
    /// segments: a scan took 7% less time with this).
    static void prefetch_further(const segment_type& in, std::uint64_t offset) noexcept {
        constexpr std::uint64_t distance = 512;
        constexpr std::size_t two_lines = 128;
        if (offset + distance + two_lines <= in.mapping->length()) {
            prefetch_record(in.mapping->data() + offset + distance, two_lines);
        }
    }

    /// Whether the record at offset of segment `in` is still with the writer (buffered,
    /// queued, or being written by async_worker's thread) rather than wholly in the file.
    [[nodiscard]] bool with_writer(const segment_type& in, std::uint64_t offset) const {
        return &in == active_.get() && offset >= writer_->written_end();
    }

    /// Reads the record at offset into the window, with as many bytes after it as the
    /// pattern of the scan so far suggests and the file already holds; or, when the scan
    /// reads records back to front (a descending scan of records written in key order),
    /// with as many bytes before it.
    bool fill(read_ahead& ahead, const segment_type& in, std::uint64_t offset, std::size_t size,
              std::error_code& ec) const {
        const bool sequential = !ahead.bytes.empty() && offset == ahead.start + ahead.bytes.size();
        const bool backward = !ahead.bytes.empty() && offset + size == ahead.start;
        std::size_t length = sequential || backward ? std::min(ahead.bytes.size() * 2, read_ahead::max_window) : size;
        length = std::max(length, size);
        std::size_t needed = size;
        if (backward) {
            // The window ends with the record, below the writer's records as the record is.
            length = static_cast<std::size_t>(std::min<std::uint64_t>(length, offset + size));
            offset = offset + size - length;
            needed = length;
        } else {
            // Records still with the writer lie from its written end on: read only below it.
            // The record at offset is below it (the caller checked), and that end only grows.
            // A closed segment ends where it ends.
            const std::uint64_t written = &in == active_.get() ? writer_->written_end() : in.size;
            const std::uint64_t room = written > offset ? written - offset : 0;
            length = std::max(size, static_cast<std::size_t>(std::min<std::uint64_t>(length, room)));
        }
        ahead.bytes.resize(length);
        std::size_t got = 0;
        if (!in.file.read_at_least(offset, ahead.bytes.data(), needed, length, got, ec)) return false;
        ahead.bytes.resize(got);
        ahead.segment = in.id;
        ahead.start = offset;
        return true;
    }

    const IO& io_;
    const segment_set<IO>& segments_;
    const std::shared_ptr<segment_type>& active_;
    const std::optional<Writer>& writer_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/record_reader.hpp ----

namespace kvforge::detail {

/// The reads of a log store: Table is its index, Reader its record_reader, Mutex its
/// reader-writer lock, Counter the threading policy's counter.
template <class Table, class Reader, class Mutex, class Counter>
class log_reads {
    using read_lock = std::shared_lock<Mutex>;

public:
    log_reads(const Table& table, const Reader& reader, Mutex& mutex, const std::atomic<bool>& open) noexcept
        : table_(table), reader_(reader), mutex_(mutex), open_(open) {}

    /// Whether the store is open; else ec says that it is not.
    bool readable(std::error_code& ec) const {
        if (open_) return true;
        fail(ec, errc::store_closed, "the store is not open; open it first");
        return false;
    }

    /// Point reads and contains() so far (stats().gets).
    [[nodiscard]] std::uint64_t gets() const noexcept { return gets_.load(); }

    /// Calls on_value(value bytes) for key's value, read from the file (or the writer's
    /// buffer) and checked against its record's checksum.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        borrowed_buffer scratch(thread_buffer_use::record);
        std::string_view value;
        if (!reader_.read(key, where, scratch.get(), value, ec)) return false;
        on_value(value);
        return true;
    }

    /// Reads key's value straight into out, with no allocation beyond out's own: one
    /// preadv puts the record's header and key in a small buffer and its value in out.
    /// A value that fails its checksum is not left there: out is emptied.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        return reader_.read_value(key, where, out, ec);
    }

    /// Hands out key's value as a pinned_value: a view into the mapping, kept alive by
    /// it, when the record is in the file; a copy when it is still in the writer. Only
    /// for a store whose segments are all mapped (mmap_file).
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const {
        const read_lock lock(mutex_);
        record_location where;
        if (!look_up(key, where, ec)) return false;
        auto copy = std::make_shared<std::string>();
        std::string_view value;
        if (!reader_.read(key, where, *copy, value, ec)) return false;
        if (copy->empty()) {
            out = pinned_value(reader_.mapping(where.segment), value);  // the bytes lie in the mapping: share it
        } else {
            out = pinned_value(copy, std::string_view(*copy).substr(
                                         static_cast<std::size_t>(value.data() - copy->data()), value.size()));
        }
        return true;
    }

    bool contains(std::string_view key, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return false;
        gets_.add(1);
        return table_.find(key).has_value();
    }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_ordered(
            true, [&](auto&& read, auto&& ahead) { table_.visit_from(from, inclusive, read, ahead); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered(
            false, [&](auto&& read, auto&& ahead) { table_.visit_down_from(from, inclusive, read, ahead); }, visitor,
            ec);
    }

    /// Calls visitor(key, value) for every record, in the index's order.
    template <class Visitor>
    void for_each(Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        table_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (reader_.read(key, record_location::decode(payload), scratch, value, ec)) visitor(key, value);
        });
    }

    /// Calls visitor(key, value) for every record, in the order the records lie in the
    /// segments. for_each reads them in the index's order, one read each; going forward
    /// through each segment lets the read-ahead window serve many records per read,
    /// which is what rebuilding state from every value at open wants (expiring<>'s
    /// deadlines). It holds a list of the records' places while it runs: about 32 bytes
    /// a key.
    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        using placed = std::pair<record_location, std::string_view>;
        std::vector<placed> records;
        records.reserve(table_.size());
        table_.for_each([&](std::string_view key, std::string_view payload) {
            records.emplace_back(record_location::decode(payload), key);
        });
        std::sort(records.begin(), records.end(), [](const placed& a, const placed& b) {
            return a.first.segment != b.first.segment ? a.first.segment < b.first.segment
                                                      : a.first.offset < b.first.offset;
        });
        std::string scratch;
        read_ahead ahead;
        for (const auto& [where, key] : records) {
            std::string_view value;
            if (!reader_.read(key, where, scratch, value, ec, &ahead)) return;
            visitor(key, value);
        }
    }

private:
    /// A point read's first step, under the read lock: counts it and finds where key's
    /// record is; false when the store is closed (ec set) or key is absent.
    bool look_up(std::string_view key, record_location& where, std::error_code& ec) const {
        if (!readable(ec)) return false;
        gets_.add(1);
        const auto payload = table_.find(key);
        if (!payload) return false;
        where = record_location::decode(*payload);
        return true;
    }

    /// Under the read lock, has walk hand its read(key, payload) and prefetch(key, payload)
    /// to the index's ordered visit: read answers by calling visitor(key, value) with the
    /// record's value, prefetch starts loading a record the visit reaches soon. When every
    /// segment holds its records in key order, an ascending visit reads each segment front
    /// to back and gets no prefetch: the reader loads a few records further on in the same
    /// segment instead (Reader::scattered, read_ahead::forward). A descending one keeps
    /// the prefetches, which the processor's prefetching does not replace as well going back.
    template <class Walk, class Visitor>
    void visit_ordered(bool ascending, Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        std::string scratch;
        read_ahead ahead;
        typename Reader::segment_cache recent;
        const auto read = [&](std::string_view key, std::string_view payload) {
            std::string_view value;
            if (!reader_.read(key, record_location::decode(payload), scratch, value, ec, &ahead, &recent)) {
                return false;
            }
            return visitor(key, value);
        };
        if (ascending && !reader_.scattered()) {
            ahead.forward = true;
            walk(read, [](std::string_view, std::string_view) noexcept {});
            return;
        }
        walk(read, [&](std::string_view key, std::string_view payload) noexcept {
            reader_.prefetch(key.size(), record_location::decode(payload), recent);
        });
    }

    const Table& table_;
    const Reader& reader_;
    Mutex& mutex_;
    const std::atomic<bool>& open_;
    mutable Counter gets_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/log_reads.hpp ----
// ---- begin kvforge/stores/log/log_types.hpp ----
/// \file log_types.hpp
/// The types a log store's engine and the classes beside it (log_writes.hpp) name alike,
/// from the store's policies: its I/O, index, threading and durability writer, the
/// locks they take and the segments they share.

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <type_traits>

// ---- begin kvforge/stores/log/write_gate.hpp ----
/// \file write_gate.hpp
/// The mutex that orders a concurrent log store's writers, rollovers and compaction
/// (engine.hpp's write_gate_), with a way for a thread that takes it again and again to
/// let the threads waiting for it go first.
///
/// A mutex is not fair: unlock() wakes a waiter, but the thread that unlocked, if it
/// locks again at once, has it back long before the woken thread runs. The compaction
/// thread takes the gate for a few hundred short holds in a row (moving a job's index
/// entries in chunks), and a writer that came to the gate meanwhile found it taken each
/// time it woke: it waited for all of them, 20 ms and more on a 1,000,000-record store,
/// rather than for one. lock_after_waiters() takes the gate only once the threads
/// already waiting for it have had it.

#include <cstdint>
#include <mutex>


namespace kvforge::detail {

class write_gate {
public:
    void lock() {
        if (mutex_.try_lock()) return;
        // Counted only when the gate is taken: a lock that finds it free costs what
        // std::mutex's does.
        waiters_.arrive();
        mutex_.lock();
        waiters_.admit();
    }

    bool try_lock() { return mutex_.try_lock(); }
    void unlock() { mutex_.unlock(); }

    /// The threads waiting for the gate now.
    [[nodiscard]] std::uint64_t waiting() const noexcept { return waiters_.waiting(); }

    /// Locks once every thread that waits for the gate now has had it. The caller must
    /// hold no lock that they need, and no thread may hold the gate while it waits for
    /// the caller (true of the compaction thread, whose own holds would otherwise never
    /// end), or this never returns.
    void lock_after_waiters() {
        waiters_.wait_for_those_waiting();
        lock();
    }

private:
    std::mutex mutex_;
    waiter_count waiters_;  // locks that found the gate taken and waited
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/write_gate.hpp ----

namespace kvforge::detail {

template <class Policies>
struct log_types {
    using io_type = typename Policies::io;
    using table_type = typename Policies::index::table;
    using threading = typename Policies::threading;
    using mutex_type = typename threading::mutex_type;
    using counter_type = typename threading::counter_type;
    using writer_type = typename Policies::durability::template writer<io_type, threading::concurrent>;
    /// Orders writers, rollover and compaction; single_thread has nothing to order.
    using gate_type = std::conditional_t<threading::concurrent, write_gate, null_shared_mutex>;
    using read_lock = std::shared_lock<mutex_type>;
    using write_lock = std::unique_lock<mutex_type>;
    using gate_lock = std::unique_lock<gate_type>;
    using segment_type = segment<io_type>;
    using segment_pointer = std::shared_ptr<segment_type>;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/log_types.hpp ----
// ---- begin kvforge/stores/log/log_verify.hpp ----
/// \file log_verify.hpp
/// A log store's verify(): every record of every segment read and checked against its
/// checksum, the damage found listed; nothing is changed.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- begin kvforge/stores/log/log_scan.hpp ----
/// \file log_scan.hpp
/// Reading a data file's records in order: recovery on open, compaction's checks and
/// verify() all walk the log this way.
///
/// A record that does not parse is the start of a torn tail when no intact record
/// follows it anywhere in the file (a crash cut an append short, or the file system
/// zero-filled its end); it is damage when an intact record follows, since then bytes
/// that were once written whole have changed.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>


namespace kvforge::detail {

/// One put, erase or clear found in the log; views are valid during the callback only.
struct log_entry {
    record_type type = record_type::put;
    unsigned char flags = 0;  ///< a put's record_flag bits
    std::uint64_t offset = 0;  ///< where the record starts in the file
    std::uint64_t size = 0;    ///< bytes of the record
    std::string_view key;
    std::string_view value;
    std::int64_t deadline = 0;  ///< a put's, with record_flag::deadline
    unsigned char tag = 0;      ///< a put's, with record_flag::tag
};

/// How verify() describes bytes at a log's end that hold no whole record: a write that a
/// crash cut short, which a writable open cuts off and a read-only open leaves in place.
inline constexpr std::string_view torn_tail_problem = "incomplete record at the end of the file";

/// What a scan found besides the records it delivered.
struct log_scan_result {
    std::uint64_t records = 0;        ///< puts, erases and clears delivered
    std::uint64_t overhead_bytes = 0;  ///< bytes of batch headers, which hold no key or value
    std::uint64_t valid_end = 0;      ///< the end of the last intact record
    bool torn_tail = false;           ///< bytes after valid_end hold no intact record
    std::vector<damaged_record> damage;
};

/// Bytes of a data file read a piece at a time, for the search after damage: a view of
/// the bytes from an offset on, with at least as many as asked for (fewer only where the
/// file ends), from a buffer that holds about one chunk.
template <class IO>
class file_window {
public:
    static constexpr std::size_t chunk = std::size_t{1} << 20;

    file_window(const data_file<IO>& file, std::uint64_t end) : file_(file), end_(end) {}

    /// The bytes from offset to the end of the window, at least min(wanted, end - offset) of them.
    bool view(std::uint64_t offset, std::size_t wanted, std::string_view& out, std::error_code& ec) {
        const std::uint64_t available = end_ - offset;
        const auto needed = static_cast<std::size_t>(std::min<std::uint64_t>(wanted, available));
        if (offset < start_ || offset + needed > start_ + bytes_.size()) {
            const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(needed, chunk), available));
            bytes_.resize(length);
            if (!file_.read(offset, bytes_.data(), length, ec)) return false;
            start_ = offset;
        }
        out = std::string_view(bytes_).substr(static_cast<std::size_t>(offset - start_));
        return true;
    }

private:
    const data_file<IO>& file_;
    std::uint64_t end_;
    std::string bytes_;
    std::uint64_t start_ = 0;
};

/// Whether a record of this type may stand in a batch's body: puts and erases only.
[[nodiscard]] constexpr bool inner_record_type(record_type type) noexcept {
    return type == record_type::put || type == record_type::erase;
}

/// Whether the `size` bytes at offset hold a record that matches its checksum, read a
/// chunk at a time: a record that claims to be huge costs no memory to check.
template <class IO>
bool checksum_matches(const data_file<IO>& file, std::uint64_t offset, std::uint64_t size, bool& matches,
                      std::error_code& ec) {
    std::string piece(static_cast<std::size_t>(std::min<std::uint64_t>(size, file_window<IO>::chunk)), '\0');
    if (!file.read(offset, piece.data(), 4, ec)) return false;
    const std::uint32_t stored = file_header::get_le32(piece.data());
    std::uint32_t crc = 0;
    for (std::uint64_t at = offset + 4; at < offset + size;) {
        const auto length = static_cast<std::size_t>(std::min<std::uint64_t>(offset + size - at, piece.size()));
        if (!file.read(at, piece.data(), length, ec)) return false;
        crc = crc32c_extend(crc, std::string_view(piece).substr(0, length));
        at += length;
    }
    matches = crc == stored;
    return true;
}

/// Whether an intact record starts at offset: a whole put, erase or batch record (within
/// the file) whose checksum matches. Small ones are checked in the window, larger ones
/// with checksum_matches.
template <class IO>
bool intact_record_at(file_window<IO>& window, const data_file<IO>& file, std::uint64_t offset, std::uint64_t end,
                      std::uint16_t version, bool& intact, std::error_code& ec) {
    intact = false;
    std::string_view bytes;
    if (!window.view(offset, max_record_header, bytes, ec)) return false;
    record_info info;
    const parse_status status = parse_record(bytes, info, version);
    if (status != parse_status::incomplete || info.size == 0) {
        intact = status == parse_status::ok;
        return true;
    }
    if (info.size > end - offset) return true;  // it would run past the end of the file
    if (info.size <= file_window<IO>::chunk) {
        if (!window.view(offset, info.size, bytes, ec)) return false;
        intact = parse_record(bytes, info, version) == parse_status::ok;
        return true;
    }
    return checksum_matches(file, offset, info.size, intact, ec);
}

/// Where to look for intact records after the bad record at offset bad. A batch cut
/// short by the end of the file begins with complete records of its own; those follow
/// nothing, so the search starts after them, and the cut batch is a torn tail.
template <class IO>
bool search_start_after(file_window<IO>& window, std::uint64_t bad, std::uint64_t end, std::uint16_t version,
                        std::uint64_t& from, std::error_code& ec) {
    from = bad + 1;
    std::string_view bytes;
    if (!window.view(bad, max_record_header, bytes, ec)) return false;
    record_info batch;
    const parse_status status = parse_record(bytes, batch, version);
    // Only a batch running past the end of the file can have been cut short; a complete
    // one that fails its checksum is damage, and its count may be what the damage changed.
    if (status != parse_status::incomplete || batch.type != record_type::batch || batch.value_offset == 0 ||
        batch.size <= end - bad) {
        return true;
    }
    std::uint64_t at = bad + batch.value_offset;
    for (std::size_t operations = 0; operations < batch.count; ++operations) {
        record_info inner;
        if (!window.view(at, max_record_header, bytes, ec)) return false;
        if (parse_record(bytes, inner, version) == parse_status::incomplete && inner.size != 0 && inner.size <= end - at &&
            !window.view(at, inner.size, bytes, ec)) {
            return false;
        }
        if (parse_record(bytes, inner, version) != parse_status::ok || !inner_record_type(inner.type)) {
            // With no complete operation the "batch" may be garbage; a record may start in its header.
            if (operations != 0) from = at;
            return true;
        }
        at += inner.size;
    }
    return true;  // every operation is there, so the batch did not end short: damage
}

/// The offset of the first intact record after the bad record at offset bad, or end
/// when there is none (the bad record starts a torn tail). Reads the file a window at a
/// time, never all of the rest of it at once.
template <class IO>
bool find_intact_record_after(const data_file<IO>& file, std::uint64_t bad, std::uint64_t end, std::uint16_t version,
                              std::uint64_t& found, std::error_code& ec) {
    file_window<IO> window(file, end);
    std::uint64_t at = 0;
    if (!search_start_after(window, bad, end, version, at, ec)) return false;
    for (; at + 5 <= end; ++at) {
        bool intact = false;
        if (!intact_record_at(window, file, at, end, version, intact, ec)) return false;
        if (intact) {
            found = at;
            return true;
        }
    }
    found = end;
    return true;
}

/// Calls on_entry(const log_entry&) for every put, erase and clear of the file's bytes
/// in [begin, end), in order, read by the rules of format `version`; a batch's entries
/// come together, after its checksum passed. Damage before the tail fails the scan with
/// errc::corrupt_record naming the file and offset, unless skip_damage, which records it
/// in result.damage and goes on after it.
template <class IO, class OnEntry>
bool scan_log(const data_file<IO>& file, std::uint64_t begin, std::uint64_t end, std::uint16_t version,
              bool skip_damage, OnEntry&& on_entry, log_scan_result& result, std::error_code& ec) {
    constexpr std::size_t chunk = file_window<IO>::chunk;
    std::string buffer;
    std::uint64_t buffer_start = begin;  // file offset of buffer[0]
    std::size_t position = 0;            // parse position in buffer
    result.valid_end = begin;

    // Keeps the unparsed bytes and appends at least `wanted` more from the file.
    auto read_more = [&](std::size_t wanted) {
        buffer.erase(0, position);
        buffer_start += position;
        position = 0;
        const std::uint64_t available = end - (buffer_start + buffer.size());
        const auto amount = static_cast<std::size_t>(std::min<std::uint64_t>(available, std::max(wanted, chunk)));
        const std::size_t old_size = buffer.size();
        buffer.resize(old_size + amount);
        return file.read(buffer_start + old_size, buffer.data() + old_size, amount, ec);
    };

    while (buffer_start + position < end) {
        record_info info;
        const std::string_view rest = std::string_view(buffer).substr(position);
        parse_status status = parse_record(rest, info, version);
        const bool more_in_file = buffer_start + buffer.size() < end;
        const std::uint64_t offset = buffer_start + position;
        if (status == parse_status::incomplete && more_in_file) {
            if (info.size == 0) {
                if (!read_more(chunk)) return false;  // not even the header is here yet
                continue;
            }
            // A record longer than the window is loaded only once its checksum is known to
            // match: damage to its size must not make the scan read the rest of the file.
            bool whole = info.size <= end - offset;
            if (whole && info.size > chunk && !checksum_matches(file, offset, info.size, whole, ec)) return false;
            if (whole) {
                if (!read_more(info.size - rest.size())) return false;
                continue;
            }
            status = parse_status::bad;
        }
        if (status == parse_status::ok) {
            bool intact = true;
            if (info.type == record_type::batch) {
                // The batch's checksum passed; its inner records must all parse too.
                std::vector<log_entry> entries;
                std::string_view body = rest.substr(info.value_offset, info.value_size);
                std::uint64_t inner_offset = offset + info.value_offset;
                while (!body.empty() && intact) {
                    record_info inner;
                    intact = parse_record(body, inner, version) == parse_status::ok && inner_record_type(inner.type);
                    if (!intact) break;
                    entries.push_back({inner.type, inner.flags, inner_offset, inner.size,
                                       body.substr(inner.key_offset, inner.key_size),
                                       body.substr(inner.value_offset, inner.value_size), inner.deadline, inner.tag});
                    body.remove_prefix(inner.size);
                    inner_offset += inner.size;
                }
                intact = intact && entries.size() == info.count;
                if (intact) {
                    for (const log_entry& entry : entries) on_entry(entry);
                    result.records += entries.size();
                    result.overhead_bytes += info.value_offset;
                }
            } else {
                on_entry(log_entry{info.type, info.flags, offset, info.size, rest.substr(info.key_offset, info.key_size),
                                   rest.substr(info.value_offset, info.value_size), info.deadline, info.tag});
                ++result.records;
            }
            if (intact) {
                position += info.size;
                result.valid_end = offset + info.size;
                continue;
            }
        }
        // A bad record, or one cut off by the end of the file: is anything intact after it?
        std::uint64_t next = end;
        if (!find_intact_record_after(file, offset, end, version, next, ec)) return false;
        if (next == end) {
            result.torn_tail = true;
            return true;
        }
        result.damage.push_back({file.path(), offset, "damaged record (checksum or structure), intact records follow"});
        if (!skip_damage) {
            fail(ec, errc::corrupt_record,
                 file.path() + ": damaged record at offset " + std::to_string(offset) +
                     " with intact records after it; open with options::salvage to keep the intact ones");
            return false;
        }
        buffer.clear();
        buffer_start = next;
        position = 0;
    }
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/log_scan.hpp ----

namespace kvforge::detail {

/// How verify() describes a closed segment that ends inside a record: damage, since it was
/// complete on disk before the next segment was made.
inline constexpr std::string_view closed_segment_cut_problem =
    "incomplete record at the end of a closed segment (it was complete on disk before the next one was made)";

/// How verify() describes a segment that ends inside a record before what its hint proves
/// was durable: damage, not a write that a crash cut short.
inline constexpr std::string_view cut_below_hint_problem =
    "incomplete record before the end that the segment's hint proves was durable";

/// Checks the records of `segments`, in replay order, into report; `active` is the one
/// `writer` appends to. The caller holds the engine's write gate, so that no writer
/// appends meanwhile. False with ec set when a segment cannot be read.
template <class IO, class Writer>
bool verify_segments(const std::vector<std::shared_ptr<segment<IO>>>& segments,
                     const std::shared_ptr<segment<IO>>& active, const Writer& writer, verify_report& report,
                     std::error_code& ec) {
    for (const std::shared_ptr<segment<IO>>& in : segments) {
        std::uint64_t end = in->size;
        if (in == active) {
            // async_worker's thread may be writing records at the end of the file:
            // check only those wholly written, up to where the writer's first pending
            // record starts (no writer appends while the gate is held). The writer
            // reads that offset under one lock: pieced together from several readings
            // while its thread moved on, it could fall inside a record. The size is
            // read after: once nothing is pending the file no longer grows, and a size
            // read before could end in the middle of a record the worker was writing.
            const std::uint64_t written = writer.written_end();
            if (!in->file.size(end, ec)) return false;
            if (written < writer.end()) end = written;
        }
        log_scan_result scanned;
        if (!scan_log(
                in->file, in->records_start(), end, in->version, true, [](const log_entry&) {}, scanned, ec)) {
            return false;
        }
        report.records_checked += scanned.records;
        report.damaged.insert(report.damaged.end(), scanned.damage.begin(), scanned.damage.end());
        if (scanned.torn_tail) {
            // Only the segment appended to may end in a write a crash cut short, and only
            // after what its hint proves durable: every other was durable before the next
            // was made.
            const bool proven = scanned.valid_end < std::max(in->hint_covered, in->proven_end);
            const std::string_view problem = in != active ? closed_segment_cut_problem
                                             : proven     ? cut_below_hint_problem
                                                          : torn_tail_problem;
            report.damaged.push_back({in->file.path(), scanned.valid_end, std::string(problem)});
        }
    }
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/log_verify.hpp ----
// ---- begin kvforge/stores/log/log_writes.hpp ----
/// \file log_writes.hpp
/// A log store's writes: a put, an erase or a batch built into one record, appended by
/// the durability policy's writer under the exclusive lock, and then entered in the
/// index (index_updates.hpp) and in the active segment's hint entries (hint_keeper.hpp),
/// whose full blocks are written out once the lock is released: readers need not wait
/// for that write.
///
/// Its callers hold the engine's write gate, which orders writers, and have made room in
/// the active segment; what follows an append (the wait for durability, a hint, the
/// spare segment or compaction) is the engine's. It refers to the engine's writer, active
/// segment, index updates, hints, reader, lock and write version, and owns the counts of
/// writes stats() reports.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>


namespace kvforge::detail {

/// The writes of a log store of policies Policies, whose records Reader reads.
template <class Policies, class Reader>
class log_writes {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using writer_type = typename types::writer_type;
    using counter_type = typename types::counter_type;
    using write_lock = typename types::write_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    using index_type = index_updates<io_type, typename types::table_type>;
    using hints_type = hint_keeper<io_type, counter_type, typename types::mutex_type>;
    using version_type = write_version<types::threading::concurrent>;

public:
    log_writes(std::optional<writer_type>& writer, const segment_pointer& active, index_type& index, hints_type& hints,
               const Reader& reader, typename types::mutex_type& mutex, sticky_failure& failure, version_type& version,
               std::string& record) noexcept
        : writer_(writer),
          active_(active),
          index_(index),
          hints_(hints),
          reader_(reader),
          mutex_(mutex),
          failure_(failure),
          version_(version),
          record_(record) {}

    /// Appends a put of key; returns its sequence number (async_worker), or 0 with ec set.
    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        record_.clear();
        append_put_record(record_, key, value);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            const auto value_size = static_cast<std::uint32_t>(value.size());
            update_index([&] {
                index_.put(key, {active_->id, static_cast<std::uint32_t>(appended.offset), value_size});
                hints_.note({record_type::put, 0, key, value_size, 0, 0, appended.offset, 0});
            });
            cover_writer_end();
        }
        hints_.write_full_blocks();
        puts_.add(1);
        return appended.sequence;
    }

    /// Appends an erase of key, which the index holds; returns its sequence number, or 0
    /// with ec set.
    std::uint64_t erase(std::string_view key, std::error_code& ec) {
        record_.clear();
        append_erase_record(record_, key);
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            update_index([&] {
                index_.erase(key, record_.size(), *active_);
                hints_.note({record_type::erase, 0, key, 0, 0, 0, appended.offset, 0});
            });
            cover_writer_end();
        }
        hints_.write_full_blocks();
        erases_.add(1);
        return appended.sequence;
    }

    /// Appends the operations of a batch as one record, which recovery replays whole or
    /// not at all; returns its sequence number, or 0 with ec set.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        record_.clear();
        const std::size_t start = begin_batch_record(record_);
        std::vector<std::size_t>& inner = batch_offsets_;
        inner.clear();
        const std::size_t body_start = record_.size();
        ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
            inner.push_back(record_.size() - body_start);
            if (op == batch_op::put) {
                append_put_record(record_, key, value);
            } else {
                append_erase_record(record_, key);
            }
        });
        // Finishing wrote the real header in front of the body: the body starts after it.
        const std::size_t body_offset = start + finish_batch_record(record_, start, ops.count());
        append_result appended;
        {
            const write_lock lock(mutex_);
            appended = writer_->append(record_, ec);
            if (ec) return 0;
            version_.bump();
            update_index([&] {
                std::size_t i = 0;
                ops.for_each([&](batch_op op, std::string_view key, std::string_view value) {
                    const std::uint64_t offset = appended.offset + body_offset + inner[i++];
                    if (op == batch_op::put) {
                        const auto value_size = static_cast<std::uint32_t>(value.size());
                        index_.put(key, {active_->id, static_cast<std::uint32_t>(offset), value_size});
                        hints_.note({record_type::put, 0, key, value_size, 0, 0, offset, 0});
                        puts_.add(1);
                    } else {
                        if (index_.erase(key, erase_record_size(key.size()), *active_)) erases_.add(1);
                        hints_.note({record_type::erase, 0, key, 0, 0, 0, offset, 0});
                    }
                });
            });
            index_.add_dead(*active_, body_offset);  // the batch header holds no data
            cover_writer_end();
        }
        hints_.write_full_blocks();
        batches_.add(1);
        return appended.sequence;
    }

    /// Adds the counts of writes so far to s.
    void add_stats(kvforge::stats& s) const noexcept {
        s.puts = puts_.load();
        s.erases = erases_.load();
        s.batches = batches_.load();
    }

private:
    /// Runs an update of the index for a record the writer has taken. Should it run out
    /// of memory, the index no longer matches the log: the store takes no more writes
    /// until it is reopened, which rebuilds the index from the log.
    template <class Update>
    void update_index(Update&& update) {
        try {
            update();
        } catch (...) {
            std::error_code ec;
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while indexing a record already written to " + active_->file.path());
            failure_.record(ec);
            throw;
        }
    }

    /// Makes the active segment's mapping cover everything written so far (mmap_file).
    void cover_writer_end() { reader_.cover(*active_, writer_->end()); }

    std::optional<writer_type>& writer_;
    const segment_pointer& active_;
    index_type& index_;
    hints_type& hints_;
    const Reader& reader_;
    typename types::mutex_type& mutex_;
    sticky_failure& failure_;
    version_type& version_;
    std::string& record_;                     // the record being written; reused under the gate
    std::vector<std::size_t> batch_offsets_;  // offsets of a batch's records in its body
    counter_type puts_;
    counter_type erases_;
    counter_type batches_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/log_writes.hpp ----
// ---- begin kvforge/stores/log/recovery.hpp ----
/// \file recovery.hpp
/// A log store's open: the segments found in its directory, checked, and replayed into
/// the index.
///
/// Recovery replays the segments by (order, id), each from its hint (hint.hpp, checked
/// ahead on a second thread: hint_checks.hpp) and then its records after what the hint
/// covers (log_scan.hpp); only the last may end in a torn write, which a writable open
/// cuts off. A hint that does not match its segment is ignored, and with
/// options::salvage none is trusted. Leftovers (.tmp files, hints without their segment,
/// the older data file of a format 1 store) are removed, and appending goes on in the
/// last segment when the writer made it and it has room, else in a new one. A store
/// opened read-only changes no file.

#include <fcntl.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

// ---- begin kvforge/stores/log/hint_checks.hpp ----
/// \file hint_checks.hpp
/// The hints an open replays, mapped at once and checked (check_hint) on a second thread
/// ahead of the replay, so that the opening thread only reads their entries.
///
/// A hint is read twice: once to check all of it (its CRC and every entry's structure),
/// so that a bad hint changes nothing, and once to deliver its entries. The check needs
/// no state but the hint's bytes and its segment's identity and size, so while the
/// opening thread reads the entries of one hint, a second thread checks the next ones; a
/// store opens before its users' threads use it, whatever its threading policy, so the
/// second core is free. Either thread checks a hint the other has not begun: when no
/// second thread runs (or it is slow to start), the opening thread checks each hint
/// itself as it comes to it.
///
/// Only the opening thread calls the I/O policy (opens and maps); the second thread reads
/// the mappings' bytes only.

#include <fcntl.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>


namespace kvforge::detail {

/// A segment's hint as the open replays it: its bytes, mapped, and what check_hint found.
template <class IO>
struct mapped_hint {
    std::shared_ptr<const file_mapping<IO>> mapping;  ///< null when the segment has no hint to read
    hint_check check;                                 ///< passed() only when mapping is set

    [[nodiscard]] std::string_view bytes() const noexcept {
        return mapping ? std::string_view(mapping->data(), mapping->length()) : std::string_view();
    }
};

/// The hints of the segments an open replays, in replay order, checked ahead of it.
template <class IO>
class hint_checks {
public:
    /// Maps the hint of each segment of ordered (an empty hint, or one that cannot be
    /// opened or mapped, counts as none); identity(segment) tells which segment a hint
    /// must describe.
    template <class Identity>
    hint_checks(const IO& io, const store_directory<IO>& directory,
                std::span<const std::shared_ptr<segment<IO>>> ordered, Identity&& identity)
        : count_(ordered.size()), slots_(std::make_unique<slot[]>(ordered.size())) {
        for (std::size_t i = 0; i < count_; ++i) {
            slot& s = slots_[i];
            s.identity = identity(*ordered[i]);
            s.data_size = ordered[i]->size;
            data_file<IO> file;
            std::error_code ignored;
            std::uint64_t size = 0;
            if (!directory.open_file(file, store_file_name::hint(ordered[i]->id), O_RDONLY, ignored) ||
                !file.size(size, ignored) || size == 0) {
                continue;
            }
            // Mapped rather than read: each is parsed front to back, and a copy would
            // cost a buffer as large as the file.
            s.hint.mapping =
                file_mapping<IO>::map(io, file.descriptor(), static_cast<std::size_t>(size), file.path(), ignored);
            if (s.hint.mapping) ++mapped_;
        }
    }

    hint_checks(const hint_checks&) = delete;
    hint_checks& operator=(const hint_checks&) = delete;

    /// Stops the checks not yet begun and waits for the one under way.
    ~hint_checks() {
        if (!checker_.joinable()) return;
        stop_.store(true, std::memory_order_relaxed);
        checker_.join();
    }

    /// The entries the mapped hints list, from their heads: only a bound, for sizing what
    /// is filled from them (a hint may fail its check later).
    [[nodiscard]] std::uint64_t listed_entries() const noexcept {
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            const std::string_view bytes = slots_[i].hint.bytes();
            total += hint_entry_count(bytes, bytes.size(), slots_[i].identity);
        }
        return total;
    }

    /// Starts checking the hints on a second thread, when there are two or more: the
    /// first is usually checked by the opening thread, which comes to it at once.
    void start_ahead() noexcept {
        if (mapped_ < 2) return;
        try {
            // A plain thread and a flag rather than std::jthread, whose stop token would
            // compile a few dozen more functions into every file that opens a store.
            checker_ = std::thread([this] {
                for (std::size_t i = 0; i < count_ && !stop_.load(std::memory_order_relaxed); ++i) {
                    check_unclaimed(slots_[i]);
                }
            });
        } catch (const std::system_error&) {
            // No thread to be had: take() checks each hint.
        }
    }

    /// The hint of the i-th segment in replay order, checked, handed over (each is taken
    /// once, in order): waits for its check if the second thread is making it, or makes
    /// it here if no thread has begun it.
    [[nodiscard]] mapped_hint<IO> take(std::size_t i) noexcept {
        slot& s = slots_[i];
        if (!check_unclaimed(s)) {
            for (std::uint8_t state = s.state.load(std::memory_order_acquire); state != done;
                 state = s.state.load(std::memory_order_acquire)) {
                s.state.wait(state, std::memory_order_acquire);
            }
        }
        return std::move(s.hint);
    }

private:
    static constexpr std::uint8_t unclaimed = 0;
    static constexpr std::uint8_t claimed = 1;
    static constexpr std::uint8_t done = 2;

    struct slot {
        mapped_hint<IO> hint;
        hint_identity identity;
        std::uint64_t data_size = 0;
        std::atomic<std::uint8_t> state{unclaimed};
    };

    // Checks s's hint if no thread has begun it; false when one had.
    static bool check_unclaimed(slot& s) noexcept {
        std::uint8_t expected = unclaimed;
        if (!s.state.compare_exchange_strong(expected, claimed, std::memory_order_acq_rel)) return false;
        if (s.hint.mapping) s.hint.check = check_hint(s.hint.bytes(), s.identity, s.data_size);
        s.state.store(done, std::memory_order_release);
        s.state.notify_all();
        return true;
    }

    std::size_t count_;
    std::size_t mapped_ = 0;
    std::unique_ptr<slot[]> slots_;
    std::atomic<bool> stop_{false};  // set when the checks not yet begun are no longer wanted
    std::thread checker_;            // last: joined before the slots go
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/hint_checks.hpp ----
// ---- begin kvforge/stores/log/hinted_entries.hpp ----
/// \file hinted_entries.hpp
/// The puts and erases a log store's hints list, gathered at open while its ordered index
/// is empty, and built into that index in one pass.
///
/// Inserting a million hinted keys one by one into a B+tree descends the tree for each and
/// leaves its records in the arena in the hints' order, which a store filled in random key
/// order makes random: a later scan then jumps across the arena for every entry. Gathered,
/// the entries are sorted by key and the index is built bottom up
/// (btree_table::assign_sorted), its records laid out in key order. For each key the last
/// entry in replay order wins, as it would have inserted one by one.
///
/// The sort moves whole entries, their location included, so that the build reads them
/// front to back rather than one cache miss each. It is a stable radix sort on the 8 bytes
/// of each key after those all keys share, of which only the bits that differ between
/// keys are sorted on (decimal digits vary in 4 bits of 8); ties are settled by the whole
/// key. When those 8 bytes hold the rest of every key, as they do for keys such as
/// "user:00001234", the build makes the keys from them and never reads the gathered keys.
///
/// From 65,536 entries a second thread works beside the opening one (a store opens before
/// its users' threads run, so a second core is free): it makes the tree's leaves while
/// the entries are ranked and spread (btree_table::prepare_leaves: their page faults are
/// then its own), then sorts the buckets in order while the build takes each. The opening
/// thread never waits for work the other has not begun: it makes the leaves still missing
/// and sorts the next bucket itself when the one it needs is not ready.

#include <algorithm>
#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// A table that can be built from records in ascending key order, with a given number of
/// entries in each leaf: what hinted_entries::build() needs.
template <class Table>
concept sorted_buildable = requires(Table& table, bool (&next)(std::string_view&, std::string_view&)) {
    table.assign_sorted(next, Table::leaf_entries_with_room);
    { table.empty() } -> std::same_as<bool>;
};

/// Puts and erases in replay order, for one bottom-up build of an empty ordered table.
class hinted_entries {
public:
    /// Room for `entries` entries without growing (a hint's head tells how many it lists),
    /// and for their keys if they are about as long as the first.
    void reserve(std::size_t entries) { entries_.reserve(entries); }

    /// A put of key's record at `where`, later than every entry gathered so far.
    void put(std::string_view key, const record_location& where) { add(key, where, false); }

    /// An erase of key, later than every entry gathered so far.
    void erase(std::string_view key) { add(key, {}, true); }

    /// A clear record: every entry gathered so far is dropped.
    void clear() noexcept {
        entries_.clear();
        keys_.clear();
    }

    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

    /// Fills table, which must be empty, with the live records the entries leave: per key
    /// the last entry, unless that is an erase. Calls retired(std::string_view key,
    /// std::string_view old_payload) for every put that a later entry of its key replaces
    /// or erases, as upserts and erases one by one would have. Then frees the entries.
    template <sorted_buildable Table, class Retired>
    void build(Table& table, Retired&& retired) {
        const std::size_t n = entries_.size();
        // The table's leaves are made beside the ranking and the spread, on a thread of
        // their own (a store opens before its users' threads run), their page faults with them.
        std::jthread leaf_maker;
        if constexpr (requires { table.prepare_leaves(n, Table::leaf_entries_with_room, std::stop_token()); }) {
            if (n >= sort_beside_least) {
                try {
                    leaf_maker = std::jthread([&](const std::stop_token& stop) noexcept {
                        table.prepare_leaves(n, Table::leaf_entries_with_room, stop);
                    });
                } catch (const std::system_error&) {
                    // No thread to be had: the build makes its leaves as it goes.
                }
            }
        }
        const key_layout layout = rank_keys();
        const std::vector<std::size_t> starts = spread(layout);
        // The build makes whatever leaves are not made yet itself, rather than wait for a
        // thread that may get no core.
        leaf_maker.request_stop();
        if (leaf_maker.joinable()) leaf_maker.join();
        entry* const order = entries_.data();
        const std::size_t buckets = starts.size() - 1;
        std::size_t largest = 0;
        for (std::size_t b = 0; b < buckets; ++b) largest = std::max(largest, starts[b + 1] - starts[b]);
        // Each thread that sorts buckets has its own scratch room and counters.
        struct sort_room {
            std::vector<entry> scratch;
            std::vector<std::size_t> counts;
        };
        const auto make_room = [&] {
            return sort_room{std::vector<entry>(layout.rank_bits > max_digit_bits ? largest : 0),
                             std::vector<std::size_t>(lsd_counters(layout.rank_bits - spread_bits(layout.rank_bits)))};
        };
        // The buckets are sorted beside the build when there are many (a store opens before
        // its users' threads run): a second thread takes them in order, and the build, when
        // the bucket it needs is not sorted yet, sorts the next one no thread has taken, so
        // that it waits only for a bucket under way.
        std::atomic<std::size_t> next_bucket{0};
        const auto sorted = std::make_unique<std::atomic<bool>[]>(buckets);
        const auto sort_next = [&](sort_room& room) noexcept {
            const std::size_t b = next_bucket.fetch_add(1, std::memory_order_relaxed);
            if (b >= buckets) return false;
            finish_bucket(starts[b], starts[b + 1], layout, room.scratch, room.counts);
            sorted[b].store(true, std::memory_order_release);
            sorted[b].notify_one();
            return true;
        };
        sort_room own = make_room();
        std::jthread sorter;
        if (n >= sort_beside_least) {
            try {
                sorter = std::jthread([&sort_next, room = make_room()]() mutable noexcept {
                    while (sort_next(room)) {
                    }
                });
            } catch (const std::system_error&) {
                // No thread to be had: the build sorts every bucket.
            }
        }
        std::size_t ready = 0;          // entries known to be sorted
        std::size_t ready_buckets = 0;  // the buckets they make up
        const auto wait_for = [&](std::size_t i) {
            while (i >= ready) {
                if (sorted[ready_buckets].load(std::memory_order_acquire)) {
                    ready = starts[++ready_buckets];
                } else if (!sort_next(own)) {
                    sorted[ready_buckets].wait(false, std::memory_order_acquire);
                }
            }
        };

        // Keys made from their rank, or read from keys_ in key order, which is at random:
        // each is requested ahead of its turn.
        std::string made(layout.shared + sizeof(std::uint64_t), '\0');
        if (layout.shared != 0) std::memcpy(made.data(), keys_.data(), layout.shared);
        const auto key_of = [&](const entry& e) {
            if (!layout.ranks_hold_keys) return std::string_view(keys_.data() + e.key_at, e.key_size());
            store_unaligned(made.data() + layout.shared, to_big_endian(e.rank));  // the bytes, by finish_bucket()
            return std::string_view(made.data(), e.key_size());
        };
        const auto request = [&](std::size_t i) {
            if (!layout.ranks_hold_keys && i < ready) __builtin_prefetch(keys_.data() + order[i].key_at);
        };
        char payload[record_location::max_encoded_size];
        std::size_t i = 0;
        // The next key that is live at the end, retiring the puts it supersedes on the way.
        table.assign_sorted(
            [&](std::string_view& key, std::string_view& out) {
                while (i < n) {
                    wait_for(i);
                    const entry* last = &order[i];
                    key = key_of(*last);
                    request(lookahead + i++);
                    // Later entries of the same key: each retires the put before it.
                    while (i < n) {
                        wait_for(i);
                        if (!same_key(order[i], *last, layout)) break;
                        if (!last->erased()) retired(key, std::string_view(payload, last->where().encode(payload)));
                        last = &order[i];
                        request(lookahead + i++);
                    }
                    if (!last->erased()) {
                        out = std::string_view(payload, last->where().encode(payload));
                        return true;
                    }
                }
                return false;
            },
            Table::leaf_entries_with_room);
        if (sorter.joinable()) sorter.join();
        entries_.release();
        keys_.release();
    }

private:
    // How many entries ahead of the build their keys are requested.
    static constexpr std::size_t lookahead = 16;
    // The most bytes per key reserve() makes room for in keys_ (after the first key).
    static constexpr std::size_t reserved_key_bytes = 64;
    static constexpr std::uint32_t erased_bit = std::uint32_t{1} << 31;
    static constexpr unsigned size_bits = 27;  // value sizes up to max_value_size (2^26)
    static_assert(max_value_size < (std::uint64_t{1} << size_bits));

    // An entry: its key's rank (set by rank_keys() and spread(); where ranks hold the keys,
    // the 8 bytes it stands for once finish_bucket() sorted it), where in keys_ its key
    // is, and its record.
    struct entry {
        std::uint64_t rank;
        std::uint64_t key_at;
        std::uint32_t sized_key;  // the key's size, and erased_bit for an erase
        std::uint32_t segment;
        std::uint32_t offset;
        std::uint32_t sized_value;  // the value's size, and the record_flag bits above it

        [[nodiscard]] std::size_t key_size() const noexcept { return sized_key & ~erased_bit; }
        [[nodiscard]] bool erased() const noexcept { return (sized_key & erased_bit) != 0; }
        [[nodiscard]] record_location where() const noexcept {
            return {segment, offset, sized_value & ((std::uint32_t{1} << size_bits) - 1),
                    static_cast<unsigned char>((sized_value >> size_bits) << record_location::flag_shift)};
        }
    };

    // The bits of the 8 bytes after the `shared` bytes all keys begin with (zero past a
    // key's end) that differ between keys: a key's rank is those bits of it, in order,
    // so ranks order keys as their 8 bytes do and are equal when those are.
    struct key_layout {
        std::size_t shared = 0;
        std::uint64_t common = 0;         // the bits that never differ, as every key has them
        std::vector<unsigned> run_shift;  // runs of differing bits, highest first: lowest bit
        std::vector<unsigned> run_width;  // and width of each
        unsigned rank_bits = 0;
        bool ranks_hold_keys = false;  // no key goes on past those 8 bytes

        [[nodiscard]] std::uint64_t rank_of(std::uint64_t prefix) const noexcept {
            std::uint64_t rank = 0;
            for (std::size_t r = 0; r < run_shift.size(); ++r)
                rank = shift_left(rank, run_width[r]) | ((prefix >> run_shift[r]) & low_bits(run_width[r]));
            return rank;
        }

        [[nodiscard]] std::uint64_t prefix_of(std::uint64_t rank) const noexcept {
            std::uint64_t prefix = common;
            for (std::size_t r = run_shift.size(); r-- > 0;) {
                prefix |= (rank & low_bits(run_width[r])) << run_shift[r];
                rank = shift_right(rank, run_width[r]);
            }
            return prefix;
        }
    };

    static constexpr std::uint64_t low_bits(unsigned n) noexcept {
        return n >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
    }
    static constexpr std::uint64_t shift_left(std::uint64_t v, unsigned n) noexcept { return n >= 64 ? 0 : v << n; }
    static constexpr std::uint64_t shift_right(std::uint64_t v, unsigned n) noexcept { return n >= 64 ? 0 : v >> n; }

    void add(std::string_view key, const record_location& where, bool erased) {
        // The first key sizes keys_ for every entry reserved, as if each were as long (up
        // to a bound): grown by doubling, keys_ would copy itself at each step.
        if (keys_.capacity() < entries_.capacity() && entries_.empty()) {
            keys_.reserve(entries_.capacity() * std::clamp<std::size_t>(key.size(), 1, reserved_key_bytes));
        }
        // The bytes every key begins with, counted while the key is at hand.
        shared_ = entries_.empty() ? key.size() : common_prefix(std::string_view(keys_.data(), shared_), key);
        entries_.push_back(
            {0, keys_.size(), static_cast<std::uint32_t>(key.size()) | (erased ? erased_bit : 0), where.segment,
             where.offset,
             where.value_size | (std::uint32_t{where.flags} >> record_location::flag_shift) << size_bits});
        keys_.append(key.data(), key.size());
        // The empty key takes a byte of its own, unread: entries of one key keep their
        // replay order by where their keys lie in keys_, which must grow with each.
        if (key.empty()) keys_.push_back('\0');
    }

    // How many bytes a and b begin with alike.
    [[nodiscard]] static std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
        const std::size_t n = std::min(a.size(), b.size());
        if (std::memcmp(a.data(), b.data(), n) == 0) return n;
        return static_cast<std::size_t>(
            std::mismatch(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n), b.begin()).first - a.begin());
    }

    [[nodiscard]] std::string_view key_at(const entry& e) const noexcept {
        return {keys_.data() + e.key_at, e.key_size()};
    }

    [[nodiscard]] bool same_key(const entry& a, const entry& b, const key_layout& layout) const noexcept {
        if (a.rank != b.rank || a.key_size() != b.key_size()) return false;
        return layout.ranks_hold_keys || key_at(a) == key_at(b);
    }

    // Works out the key layout of the gathered keys, leaving each entry's 8 bytes after
    // the shared ones in its rank field for spread().
    key_layout rank_keys() {
        key_layout layout;
        if (entries_.empty()) return layout;
        // The bytes every key begins with are skipped, so that the ranks tell keys such as
        // "user:00001234" apart.
        const std::size_t shared = shared_;
        const std::string_view first = key_at(entries_[0]);
        layout.shared = shared;
        std::uint64_t differing = 0;
        std::size_t longest = 0;
        const std::uint64_t first_prefix = load_prefix_be(first.data() + shared, first.size() - shared);
        for (entry& e : entries_) {
            const std::string_view key = key_at(e);
            e.rank = load_prefix_be(key.data() + shared, key.size() - shared);
            differing |= e.rank ^ first_prefix;
            longest = std::max(longest, key.size());
        }
        layout.common = first_prefix & ~differing;
        layout.ranks_hold_keys = longest - shared <= sizeof(std::uint64_t);
        for (unsigned bit = 64; bit-- > 0;) {
            if ((differing >> bit & 1) == 0) continue;
            unsigned low = bit;
            while (low > 0 && (differing >> (low - 1) & 1) != 0) --low;
            layout.run_shift.push_back(low);
            layout.run_width.push_back(bit - low + 1);
            bit = low;
        }
        layout.rank_bits = static_cast<unsigned>(std::popcount(differing));
        return layout;
    }

    // How many of a rank's top bits spread() buckets by.
    static constexpr unsigned spread_bits(unsigned rank_bits) noexcept { return std::min(rank_bits, max_digit_bits); }

    // Sets each entry's rank, then moves the entries, in place, bucket by bucket: the
    // buckets by their ranks' top bits in ascending order (an American flag sort, which
    // needs no second array of entries); returns where each bucket starts, and the end.
    // That is the whole sort by rank when ranks have at most 11 bits; else the buckets are
    // small enough to stay in the cache while finish_bucket() sorts each.
    std::vector<std::size_t> spread(const key_layout& layout) {
        const unsigned top = spread_bits(layout.rank_bits);
        const unsigned low = layout.rank_bits - top;
        std::vector<std::size_t> starts((std::size_t{1} << top) + 1);
        for (entry& e : entries_) {
            e.rank = layout.rank_of(e.rank);
            ++starts[(e.rank >> low) + 1];
        }
        for (std::size_t b = 1; b < starts.size(); ++b) starts[b] += starts[b - 1];
        std::vector<std::size_t> next(starts.begin(), starts.end() - 1);
        for (std::size_t b = 0; b + 1 < starts.size(); ++b) {
            while (next[b] < starts[b + 1]) {
                // Each entry taken out is swapped into its bucket's next free place until
                // one that belongs in bucket b comes back.
                entry e = entries_[next[b]];
                for (std::size_t to = e.rank >> low; to != b; to = e.rank >> low) std::swap(e, entries_[next[to]++]);
                entries_[next[b]++] = e;
            }
        }
        return starts;
    }

    // Sorts bucket [begin, end) of entries_ by the ranks' low bits (spread() sorted by the
    // top ones), with scratch room for the bucket. Entries of equal rank are then put in
    // key order, those of one key in replay order, which is the order of their keys in
    // keys_ (the spread did not keep it). Where the ranks hold the keys, each rank then
    // becomes the 8 bytes it was cut from (layout.prefix_of).
    void finish_bucket(std::size_t begin, std::size_t end, const key_layout& layout, std::vector<entry>& scratch,
                       std::vector<std::size_t>& counts) noexcept {
        entry* const order = entries_.data();
        const unsigned low = layout.rank_bits - spread_bits(layout.rank_bits);
        lsd_sort(order + begin, scratch.data(), end - begin, low, counts);
        for (std::size_t first = begin; first < end;) {
            std::size_t last = first + 1;
            while (last < end && order[last].rank == order[first].rank) ++last;
            if (last - first > 1) {
                // Equal ranks of keys the ranks hold whole: equal keys, or the shorter a
                // prefix of the longer (the ranks' bytes past a key's end are zero).
                std::sort(order + first, order + last, [&](const entry& a, const entry& b) {
                    if (layout.ranks_hold_keys) {
                        if (a.key_size() != b.key_size()) return a.key_size() < b.key_size();
                    } else if (const int c = key_at(a).compare(key_at(b)); c != 0) {
                        return c < 0;
                    }
                    return a.key_at < b.key_at;
                });
            }
            first = last;
        }
        // The build makes each key from these 8 bytes: they are worked out here, on the
        // sorting thread, rather than by the build. The order and the ties stay as they were.
        if (layout.ranks_hold_keys) {
            for (std::size_t i = begin; i < end; ++i) order[i].rank = layout.prefix_of(order[i].rank);
        }
    }

    // The counters lsd_sort() needs for ranks of `bits` bits.
    static std::size_t lsd_counters(unsigned bits) noexcept {
        if (bits == 0) return 0;
        const unsigned passes = (bits + max_digit_bits - 1) / max_digit_bits;
        return passes << ((bits + passes - 1) / passes);
    }

    // Sorts items[0, n) by the low `bits` bits of their rank, stably, with scratch room
    // for n entries and lsd_counters(bits) counters: insertion for a few entries, else
    // least-significant digit first in as few passes of at most 11 bits as cover them
    // (2,048 counters stay in the L1 cache).
    static void lsd_sort(entry* items, entry* scratch, std::size_t n, unsigned bits,
                         std::vector<std::size_t>& counts) noexcept {
        if (bits == 0 || n < 2) return;
        const std::uint64_t all = low_bits(bits);
        if (n <= insertion_most) {
            for (std::size_t i = 1; i < n; ++i) {
                const entry e = items[i];
                std::size_t j = i;
                for (; j > 0 && (items[j - 1].rank & all) > (e.rank & all); --j) items[j] = items[j - 1];
                items[j] = e;
            }
            return;
        }
        const unsigned passes = (bits + max_digit_bits - 1) / max_digit_bits;
        const unsigned digit_bits = (bits + passes - 1) / passes;
        const std::size_t buckets = std::size_t{1} << digit_bits;
        const std::uint64_t mask = buckets - 1;
        std::fill(counts.begin(), counts.end(), 0);
        for (const entry& e : std::span<const entry>(items, n)) {
            for (unsigned d = 0; d < passes; ++d) ++counts[d * buckets + ((e.rank >> (d * digit_bits)) & mask)];
        }
        // The passes go back and forth between items and scratch.
        entry* from = items;
        for (unsigned d = 0; d < passes; ++d) {
            const std::span<std::size_t> count(counts.data() + d * buckets, buckets);
            if (std::find(count.begin(), count.end(), n) != count.end()) continue;
            entry* const to = from == items ? scratch : items;
            std::size_t start = 0;
            for (std::size_t& c : count) start += std::exchange(c, start);
            const unsigned shift = d * digit_bits;
            for (const entry& e : std::span<const entry>(from, n)) to[count[(e.rank >> shift) & mask]++] = e;
            from = to;
        }
        if (from != items) std::copy(from, from + n, items);
    }

    static constexpr std::size_t insertion_most = 24;
    // From how many entries the buckets are sorted on a thread of their own.
    static constexpr std::size_t sort_beside_least = 1 << 16;
    static constexpr unsigned max_digit_bits = 11;

    // On huge pages: a million entries and their keys, written once each, would take a
    // page fault every 4 KiB.
    huge_page_vector<entry> entries_;  // in replay order until build() sorts them
    huge_page_vector<char> keys_;      // the entries' keys, one after another
    std::size_t shared_ = 0;           // the bytes every key in keys_ begins with
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/hinted_entries.hpp ----

namespace kvforge::detail {

/// What recovery found, for the engine to install: the segments, the one the writer
/// appends to and where its records end, and what was read, cut and dropped (the live
/// and dead bytes the index's records add up to are log_recovery::index()'s).
template <class IO>
struct recovered_log {
    segment_set<IO> segments;
    std::shared_ptr<segment<IO>> active;  ///< appended to (read-only: the last in replay order)
    std::uint64_t active_end = 0;         ///< where the active segment's records end
    /// The active segment's records so far, for its hint; empty without
    /// options::write_hints and for a read-only store.
    std::optional<hint_builder> active_hint;
    std::uint32_t next_id = 1;             ///< the id of the next segment made
    std::uint64_t records = 0;             ///< records read from hints and segments (stats().recovered_records)
    std::uint64_t bytes_cut = 0;           ///< the torn tail cut off the last segment (stats().recovered_bytes_cut)
    std::vector<damaged_record> salvaged;  ///< what salvage dropped
    /// The damage to the store's files that salvage found and a scan of the segments it
    /// kept cannot find again (a missing segment, a data file shorter than its hint
    /// proves, a damaged header), for verify() of a read-only store.
    std::vector<damaged_record> file_damage;

    /// Records damage of that kind that the salvaged log's rewrite removes.
    void note_file_damage(damaged_record damage) {
        salvaged.push_back(damage);
        file_damage.push_back(std::move(damage));
    }
};

/// The files recovery makes, through the store's own (segment_files.hpp) and its hints
/// (hint_keeper.hpp), so that stats() counts their syncs and bytes as it counts the rest.
template <class SegmentFiles, class Hints>
struct recovery_files {
    SegmentFiles& files;
    Hints& hints;

    template <class Pointer>
    bool create_segment(std::uint32_t id, Pointer& out, std::error_code& ec) {
        return files.create_segment(id, out, ec);
    }
    template <class Segment>
    void write_hint_of(Segment& in, hint_builder& hint) {
        hints.write_hint_of(in, hint);
    }
    template <class File>
    bool sync_file(File& file, std::error_code& ec) {
        return files.sync_file(file, ec);
    }
    bool sync_directory(std::error_code& ec) { return files.sync_directory(ec); }
};

/// Opens a log store's segments and rebuilds its index (table) from them, into `into`,
/// through index updates of its own (index_updates.hpp), which count the live and dead
/// bytes as the engine's writes do. It refers to the engine's I/O policy, directory,
/// options and composition, and to its reader, which maps the segments it reads. Files
/// makes files for recovery as the store makes all of its files (recovery_files, above),
/// so that stats() counts their syncs and bytes: create_segment, write_hint_of, sync_file
/// and sync_directory.
template <class IO, class Table, class Reader, class Files>
class log_recovery {
    using io_type = IO;
    using segment_type = segment<IO>;
    using segment_pointer = std::shared_ptr<segment_type>;

public:
    log_recovery(IO& io, const store_directory<IO>& directory, const kvforge::options& opts, const composition& wanted,
                 Table& table, const Reader& reader, Files& files, recovered_log<IO>& into) noexcept
        : io_(io),
          directory_(directory),
          options_(opts),
          composition_(wanted),
          fingerprint_(wanted.codec_fingerprint),
          table_(table),
          reader_(reader),
          files_(files),
          state_(&into),
          index_(table, into.segments) {}

    /// The live and dead bytes of the records replayed so far.
    [[nodiscard]] const index_updates<IO, Table>& index() const noexcept { return index_; }

    /// Opens every segment (or creates the first), removes leftovers, and rebuilds the
    /// index from the segments in replay order, each from its hint and its records after
    /// what the hint covers. A read-only store removes, creates and cuts nothing: it
    /// serves the intact records and leaves the files as they are. With salvage no hint
    /// is trusted: every record is read, so that every damaged one is found and dropped.
    /// Returns what it found in `into`, whose segments the table's entries point into.
    /// False with ec set when the store cannot be opened: `into` then holds the segments
    /// opened so far, and the caller releases them, as the rest of its state, once it has
    /// closed the directory.
    bool recover(std::error_code& ec) {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::vector<std::uint32_t> ids;
        for (const store_file_name& name : names) {
            if (name.kind() == store_file_kind::data && !name.is_temporary()) ids.push_back(name.generation());
        }
        std::sort(ids.begin(), ids.end());
        if (!check_hinted_segments(names, ids, ec)) return false;
        const int flags = options_.read_only ? O_RDONLY : O_RDWR;
        std::vector<segment_pointer> found;
        std::uint32_t newest_v1 = 0;
        for (const std::uint32_t id : ids) {
            auto in = std::make_shared<segment_type>();
            in->id = id;
            if (!directory_.open_file(in->file, store_file_name::data(id), flags, ec) || !in->file.size(in->size, ec)) {
                return false;
            }
            // An empty data file holds no record: a leftover, removed below as the others
            // are (check_hinted_segments failed the open if a hint lists records of it).
            if (in->size == 0) {
                if (!holds(names, store_file_name::hint(id))) continue;
                if (!missing_segment(id, " is empty", ec)) return false;
                continue;
            }
            if (!check_header(*in, ec)) return false;
            if (in->version < 2) newest_v1 = id;
            found.push_back(std::move(in));
        }
        // Format 1 kept one data file: an older one beside its newest is the leftover of
        // a compaction that a crash interrupted (removed below, as other leftovers are).
        for (segment_pointer& in : found) {
            if (in->version == format_version || in->id == newest_v1) state_->segments.add(std::move(in));
        }
        found.clear();

        if (!options_.read_only) {
            // Nothing is changed before every data file proved to be a store of ours.
            // A hint whose segment is gone goes too, so that no later segment of its id
            // meets it: first, and for good, since one left without its segment's .tmp
            // would name a lost segment.
            bool removed = false;
            for (const bool hints : {true, false}) {
                for (const store_file_name& other : names) {
                    const bool segment_file =
                        other.kind() == store_file_kind::data || other.kind() == store_file_kind::hint;
                    if ((other.kind() == store_file_kind::hint && !other.is_temporary()) != hints) continue;
                    if (other.is_temporary() ||
                        (segment_file && state_->segments.find(other.generation()) == nullptr)) {
                        if (!directory_.remove(other, ec)) return false;
                        removed = true;
                    }
                }
                if (hints && removed && !files_.sync_directory(ec)) return false;
            }
            // Synced even when nothing was removed: the open that created or renamed these
            // files may have failed to sync the directory, and what this store acknowledges
            // from now on rests on those entries.
            if ((removed || !ids.empty()) && !files_.sync_directory(ec)) return false;
        }
        // The directory refused a missing store unless this open may create one.
        if (state_->segments.empty()) {
            segment_pointer first;
            if (!files_.create_segment(state_->next_id++, first, ec)) return false;
            state_->segments.add(first);
            make_active(std::move(first));
            return true;
        }
        state_->next_id = ids.back() + 1;

        const std::vector<segment_pointer> ordered = state_->segments.in_replay_order();
        // With salvage no hint's entries are read, but what a hint proves of its data
        // file's length still tells a truncated file from a torn write.
        hint_checks<io_type> hints(io_, directory_, std::span(ordered),
                                   [&](const segment_type& in) { return identity(in); });
        // Sized once for every record the hints list: growing while replaying would move every slot again.
        const std::uint64_t hinted = hints.listed_entries();
        if constexpr (requires { table_.reserve(std::size_t{}); }) {
            if (hinted != 0) table_.reserve(static_cast<std::size_t>(hinted));
        }
        // An ordered index empty at open is built from the hints in one pass.
        if constexpr (sorted_buildable<Table>) {
            gathering_ = !options_.salvage && table_.empty();
            if (gathering_) gathered_.reserve(static_cast<std::size_t>(hinted));
        }
        hints.start_ahead();
        std::optional<hint_builder> last_hint;
        for (std::size_t i = 0; i < ordered.size(); ++i) {
            const mapped_hint<io_type> hint = hints.take(i);
            if (!replay(*ordered[i], hint, i + 1 == ordered.size(), last_hint, ec)) return false;
        }
        build_gathered();
        const segment_pointer& last = ordered.back();
        if (options_.read_only) {
            // Nothing is appended: the writer only tells readers where the records end.
            state_->active = last;
            state_->active_end = last->size;
            return true;
        }
        // Appending goes on in the last segment if the writer made it and it has room.
        if (last->writer_made() && last->size < options_.segment_bytes) {
            state_->active = last;
            state_->active_end = last->size;
            state_->active_hint = std::move(last_hint);
            reader_.cover(*last, last->size);
            return true;
        }
        if (last_hint && last->hint_covered != last->size) {
            // A hint proves its bytes durable (a later open that finds fewer reports damage,
            // not a torn write): after a crash, the last segment's may be in the page cache only.
            if (!files_.sync_file(last->file, ec)) return false;
            files_.write_hint_of(*last, *last_hint);
        }
        segment_pointer next;
        if (!files_.create_segment(state_->next_id++, next, ec)) return false;
        state_->segments.add(next);
        make_active(std::move(next));
        return true;
    }

private:
    /// Replays segment `in` into the index: its hint (in_hint, unless it has none or
    /// failed its check), then its records after what the hint covers. Only the last
    /// segment may end in a torn write (every other was durable before the next was made);
    /// a writable open cuts it off. The entries of the last segment are gathered in
    /// last_hint (it may become the active one); a segment without a hint covering it
    /// whole gets one written.
    bool replay(segment_type& in, const mapped_hint<io_type>& in_hint, bool last,
                std::optional<hint_builder>& last_hint, std::error_code& ec) {
        if (in.size > max_segment_bytes) {
            fail(ec, errc::not_a_store,
                 in.file.path() + ": " + std::to_string(in.size) + " bytes, more than a segment may hold (" +
                     std::to_string(max_segment_bytes) + ")");
            return false;
        }
        const bool build = options_.write_hints && !options_.read_only;
        std::optional<hint_builder> local;
        std::optional<hint_builder>& hint = last ? last_hint : local;
        std::uint64_t scan_from = in.records_start();
        // Followed only where a sorting job would use it: each key is copied as it passes.
        key_order_check order(sorted_buildable<Table> && options_.sort_closed_segments);
        in.proven_end = std::max(in_hint.check.covered, in_hint.check.proven_end);
        if (in_hint.check.proven_end != 0 && !report_cut_below_hint(in, in_hint.check, ec)) return false;
        if (!options_.salvage && in_hint.check.passed()) load_hint(in, in_hint, scan_from, build && last, hint, order);
        if (build && !hint && in.hint_covered != in.size) hint.emplace(identity(in));
        log_scan_result scanned;
        const bool scanned_ok = scan_log(
            in.file, scan_from, in.size, in.version, options_.salvage,
            [&](const log_entry& entry) {
                build_gathered();  // records come after the hints gathered so far
                order.next(entry.key);
                if (entry.type == record_type::put) {
                    index_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset),
                                           static_cast<std::uint32_t>(entry.value.size()), entry.flags});
                } else if (entry.type == record_type::erase) {
                    index_.erase(entry.key, entry.size, in);
                } else {
                    index_.replay_clear(in, entry.offset + entry.size);
                }
                if (hint) {
                    hint->add({entry.type, entry.flags, entry.key, static_cast<std::uint32_t>(entry.value.size()),
                               entry.deadline, entry.tag, entry.offset, 0});
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        // The last segment may become the active one, appended to: its order is not kept.
        in.in_key_order = !last && order.ordered();
        index_.add_dead(in, scanned.overhead_bytes);
        state_->records += scanned.records;
        state_->salvaged.insert(state_->salvaged.end(), scanned.damage.begin(), scanned.damage.end());
        if (scanned.torn_tail) {
            // Only a salvaging open reads the records a hint covers: one of them that does
            // not parse, with no intact record after it, is damage, not a torn write
            // (cut off all the same when it ends the last segment).
            const bool below_hint = in_hint.check.passed() && scanned.valid_end < in_hint.check.covered;
            if (below_hint) {
                state_->note_file_damage({in.file.path(), scanned.valid_end,
                                          "damaged record (checksum or structure) that its hint " +
                                              store_file_name::hint(in.id).str() +
                                              " proves was durable; no intact record follows it"});
            } else if (!last) {
                const std::string problem = "incomplete record at the end of a closed segment";
                if (!options_.salvage) {
                    fail(ec, errc::corrupt_record,
                         in.file.path() + ": " + problem + " at offset " + std::to_string(scanned.valid_end) +
                             " (a closed segment was complete on disk before the next one was made); open with "
                             "options::salvage to keep the intact records");
                    return false;
                }
                state_->salvaged.push_back({in.file.path(), scanned.valid_end, problem});
            }
            if (last && !options_.read_only) {
                // Cut the torn tail before anything is appended after it, and make the cut durable.
                state_->bytes_cut = in.size - scanned.valid_end;
                if (!in.file.truncate(scanned.valid_end, ec) || !files_.sync_file(in.file, ec)) return false;
                in.size = scanned.valid_end;
            }
        }
        reader_.map_final(in, in.size);
        if (!last && local && in.hint_covered != in.size) files_.write_hint_of(in, *local);
        return true;
    }

    /// Whether names holds name.
    [[nodiscard]] static bool holds(const std::vector<store_file_name>& names, const store_file_name& name) {
        return std::any_of(names.begin(), names.end(),
                           [&](const store_file_name& other) { return other == name; });
    }

    /// Fails the open with errc::corrupt_record, or with salvage records the loss, when a
    /// hint names a segment whose data file is missing. Segments are removed hint first
    /// (segment_files.hpp), so such a hint means the data file was lost, unless it is the
    /// hint of a compaction's output that a crash left unpublished beside its .tmp.
    bool check_hinted_segments(const std::vector<store_file_name>& names, const std::vector<std::uint32_t>& ids,
                               std::error_code& ec) {
        for (const store_file_name& name : names) {
            if (name.kind() != store_file_kind::hint || name.is_temporary()) continue;
            const std::uint32_t id = name.generation();
            if (std::binary_search(ids.begin(), ids.end(), id) ||
                holds(names, store_file_name::data(id).temporary())) {
                continue;
            }
            if (!missing_segment(id, " is missing", ec)) return false;
        }
        return true;
    }

    /// Reports that the records of segment `id`, whose hint is there, are gone: its data
    /// file is missing or empty (what says how). With salvage, recorded; else the open fails.
    bool missing_segment(std::uint32_t id, std::string_view what, std::error_code& ec) {
        const std::string data = directory_.file_path(store_file_name::data(id));
        const std::string problem = std::string(what) + ", though its hint " + store_file_name::hint(id).str() +
                                    " lists its records: a segment of the store was lost (deleted, moved or "
                                    "truncated), and its records with it";
        if (!options_.salvage) {
            fail(ec, errc::corrupt_record,
                 data + problem +
                     "; put the file back or restore the store from a backup, or open with options::salvage "
                     "(kvforge repair) to keep the other segments' records");
            return false;
        }
        // Nothing to rewrite: a writable open removes the hint, and the rest of the store is whole.
        state_->file_damage.push_back({data, 0, problem.substr(1)});
        return true;
    }

    /// Reports that segment `in` is shorter than its hint proves it was (check, whose
    /// proven_end is set): a cut below bytes once durable is damage, never a torn write.
    /// With salvage, recorded (its intact records are kept); else the open fails.
    bool report_cut_below_hint(const segment_type& in, const hint_check& check, std::error_code& ec) {
        const std::string problem =
            "the file ends at " + std::to_string(in.size) + " bytes, but its hint " +
            store_file_name::hint(in.id).str() + " proves " + std::to_string(check.proven_end) +
            " bytes were durable: the file was truncated, and " + std::to_string(check.entries_beyond) +
            " records the hint lists past its end are lost";
        if (!options_.salvage) {
            fail(ec, errc::corrupt_record,
                 in.file.path() + ": " + problem +
                     "; restore it from a backup, or open with options::salvage (kvforge repair) to keep the "
                     "intact records");
            return false;
        }
        state_->note_file_damage({in.file.path(), in.size, problem});
        return true;
    }

    /// Salvage of segment `in`, whose header (the first `bytes` of the file) is damaged:
    /// what its intact half tells (kvforge-written headers have two, each with its own
    /// CRC), the rest assumed, so that its records are found and checked one by one. A
    /// replay order that neither half gives intact is recovered when a single byte of its
    /// half was changed, else taken from the file's id, as the writer gives it.
    bool salvage_header(segment_type& in, std::string_view bytes) {
        const char* p = bytes.data();
        const bool first_half = bytes.size() >= file_header::v1_size && std::memcmp(p, "kvforge", 7) == 0 &&
                                p[7] == static_cast<char>(file_kind::data) &&
                                file_header::get_le32(p + 28) == crc32c({p, 28}) &&
                                file_header::get_le16(p + 8) <= format_version && file_header::get_le16(p + 10) == 0;
        in.version = first_half ? file_header::get_le16(p + 8) : format_version;
        in.file_id = first_half ? file_header::get_le32(p + 12) : 0;
        in.order = in.id;
        bool order_known = in.version < 2;
        if (!order_known && bytes.size() >= file_header::size) {
            const std::optional<std::uint64_t> order = damaged_order(p + 32, in.id);
            if (order) {
                in.order = *order;
                in.version = format_version;
                order_known = true;
            }
        }
        std::string problem = "the file header is damaged; its records were read one by one";
        if (!order_known) problem += ", replayed as if the writer had made it (its replay order could not be read)";
        state_->note_file_damage({in.file.path(), 0, std::move(problem)});
        return true;
    }

    /// The replay order in a header's second half (`half`, 32 bytes: order, layers,
    /// reserved zeros, CRC) of a file of id `id`, read when it passes its CRC or when one
    /// byte changed makes it pass in one way only (the changed byte may be in any field);
    /// nullopt when it cannot be told.
    [[nodiscard]] static std::optional<std::uint64_t> damaged_order(const char* half, std::uint32_t id) {
        std::optional<std::uint64_t> found;
        int matches = 0;
        char candidate[32];
        const auto consider = [&] {
            bool zeros = true;
            for (std::size_t i = 16; i < 28; ++i) zeros = zeros && candidate[i] == 0;  // after order and layers
            const std::uint64_t order = file_header::get_le64(candidate);
            if (!zeros || order > id || file_header::get_le32(candidate + 28) != crc32c({candidate, 28})) return;
            if (!found || *found != order) ++matches;
            found = order;
        };
        std::memcpy(candidate, half, sizeof candidate);
        consider();
        if (matches == 1) return found;
        for (std::size_t at = 0; at < sizeof candidate; ++at) {
            for (int value = 0; value < 256; ++value) {
                if (static_cast<char>(value) == half[at]) continue;
                candidate[at] = static_cast<char>(value);
                consider();
            }
            candidate[at] = half[at];
        }
        return matches == 1 ? found : std::nullopt;
    }

    /// Reads segment `in`'s header: a data file of ours, of a version this code reads,
    /// written with this store's codecs.
    bool check_header(segment_type& in, std::error_code& ec) {
        char bytes[file_header::size];
        const std::size_t available = static_cast<std::size_t>(std::min<std::uint64_t>(in.size, sizeof bytes));
        if (!in.file.read(0, bytes, available, ec)) return false;
        file_header header;
        const std::string& path = in.file.path();
        const file_header::problem problem = file_header::decode({bytes, available}, file_kind::data, header);
        const bool damaged = problem == file_header::problem::truncated || problem == file_header::problem::bad_magic ||
                             problem == file_header::problem::bad_checksum;
        // The name is a data file's: with salvage its records are found and checked one by one.
        if (damaged && options_.salvage) return salvage_header(in, {bytes, available});
        constexpr std::string_view way_out =
            "; restore it from a backup, or open with options::salvage (kvforge repair) to keep every intact record";
        switch (problem) {
            case file_header::problem::none:
                break;
            case file_header::problem::truncated:
                fail(ec, errc::corrupt_header,
                     path + ": " + std::to_string(in.size) + " bytes, shorter than its file header" +
                         std::string(way_out));
                return false;
            case file_header::problem::bad_magic:
                fail(ec, errc::not_a_store,
                     path + ": does not start with a kvforge data file's magic bytes" + std::string(way_out));
                return false;
            case file_header::problem::bad_checksum:
                fail(ec, errc::corrupt_header, path + ": the file header fails its checksum" + std::string(way_out));
                return false;
            case file_header::problem::newer_version:
                fail(ec, errc::unsupported_version,
                     path + ": written in format version " + std::to_string(header.version) +
                         "; this kvforge reads up to version " + std::to_string(format_version) +
                         " (the file was not changed)");
                return false;
            case file_header::problem::unknown_flags:
                fail(ec, errc::unsupported_version,
                     path + ": the file header has flags or reserved fields this kvforge does not know");
                return false;
        }
        if (header.codec_fingerprint != fingerprint_) {
            fail(ec, errc::codec_mismatch,
                 path + ": written with other key or value codecs than this store's ('" + composition_.key_codec +
                     "' and '" + composition_.value_codec +
                     "'); open it with the types it was written with (nothing was changed)");
            return false;
        }
        // A data file records the expiry and compression its values were written with
        // (0 in files written before it did): a MANIFEST that says otherwise is another
        // store's, and the values would be read under another reading of their first bytes.
        if (header.layers != 0 && header.layers != layers_fingerprint(composition_.expiry, composition_.compression)) {
            fail(ec, errc::codec_mismatch,
                 path + ": written with another expiry or compression than this store's (expiry '" +
                     composition_.expiry + "', compression '" + composition_.compression +
                     "'), which its MANIFEST records; the MANIFEST is not this store's: restore the store's own from "
                     "a backup, or remove it and rebuild it with `kvforge repair` (nothing was changed)");
            return false;
        }
        in.file_id = header.file_id;
        in.version = header.version;
        in.order = header.order;
        return true;
    }

    /// Loads segment `in`'s hint, which passed its check; scan_from becomes the first byte
    /// of the segment it does not cover. With gather, or when the hint covers only part of
    /// the segment, its entries are gathered in hint too, for the segment's next hint. Each
    /// entry's key goes to order.
    void load_hint(segment_type& in, const mapped_hint<io_type>& in_hint, std::uint64_t& scan_from, bool gather,
                   std::optional<hint_builder>& hint, key_order_check& order) {
        const bool build = options_.write_hints && !options_.read_only;
        // When the entries are gathered, they go in as the hint's bytes at the end; only
        // the last is kept from the way, for the entries added after it.
        std::uint64_t listed = 0;
        std::uint64_t to_list = 0;
        hint_entry last;
        std::string last_key;
        const auto apply_listing = [&](const hint_entry& entry) {
            order.next(entry.key);
            index_.add_dead(in, entry.gap);  // records the hint leaves out: batch headers, or all but live puts
            if (++listed == to_list && hint) {
                last = entry;
                last_key.assign(entry.key);
                last.key = last_key;
            }
        };
        const auto apply = [&](const hint_entry& entry) {
            apply_listing(entry);
            if (entry.type == record_type::put) {
                index_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            } else if (entry.type == record_type::erase) {
                index_.erase(entry.key, entry.record_size(), in);
            } else {
                index_.replay_clear(in, entry.offset + entry.record_size());
            }
        };
        const auto apply_puts = [&](std::span<const hint_entry> puts) {
            for (const hint_entry& entry : puts) apply_listing(entry);
            index_.put_many(puts, in.id);
        };
        const std::uint64_t covered = in_hint.check.covered;
        if constexpr (requires { table_.reserve(std::size_t{}); }) {
            if (table_.size() == 0) table_.reserve(static_cast<std::size_t>(in_hint.check.entries));
        }
        state_->records += in_hint.check.entries;
        to_list = in_hint.check.entries;
        if (gather || (build && covered < in.size)) hint.emplace(identity(in));
        hint_put_batch batch;
        read_checked_hint(in_hint.bytes(), identity(in), in_hint.check, [&](const hint_entry& entry) {
            if (gathering_) {
                apply_listing(entry);
                gather_for_build(entry, in);
            } else {
                batch.push(entry, apply_puts, apply);
            }
        });
        batch.flush(apply_puts);
        if (hint) hint->add_encoded(hint_encoded_entries(in_hint.bytes()), to_list, last);
        in.hint_bytes = in_hint.bytes().size();
        in.hint_covered = covered;
        scan_from = covered;
    }

    /// Gathers a hint entry of segment `in` for build_gathered(), counting its bytes as
    /// index_updates' put(), erase() and replay_clear() do.
    void gather_for_build(const hint_entry& entry, segment_type& in) {
        if (entry.type == record_type::put) {
            gathered_.put(entry.key, {in.id, static_cast<std::uint32_t>(entry.offset), entry.value_size, entry.flags});
            index_.add_live(entry.key.size() + entry.value_size);
        } else if (entry.type == record_type::erase) {
            index_.add_dead(in, entry.record_size());
            gathered_.erase(entry.key);
        } else {
            gathered_.clear();
            index_.replay_clear(in, entry.offset + entry.record_size());
        }
    }

    /// Builds the index from the entries gathered so far; from then on entries go into
    /// the index one by one.
    void build_gathered() {
        if (!gathering_) return;
        gathering_ = false;
        if constexpr (sorted_buildable<Table>) {
            gathered_.build(table_, [&](std::string_view key, std::string_view old) { index_.retire(key, old); });
        }
    }

    /// Makes `next`, which holds only its header, the segment the writer appends to.
    void make_active(segment_pointer next) {
        if (options_.write_hints && !options_.read_only) state_->active_hint.emplace(identity(*next));
        state_->active_end = file_header::size;
        reader_.cover(*next, state_->active_end);
        state_->active = std::move(next);
    }

    /// Which segment a hint describes.
    [[nodiscard]] hint_identity identity(const segment_type& in) const noexcept {
        return {in.id, fingerprint_, in.file_id, in.records_start()};
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const kvforge::options& options_;
    const composition& composition_;
    std::uint64_t fingerprint_;
    Table& table_;
    const Reader& reader_;
    Files& files_;
    recovered_log<IO>* state_;  // what recover() fills
    index_updates<IO, Table> index_;
    bool gathering_ = false;  // hint entries go to gathered_, not to the index
    hinted_entries gathered_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/recovery.hpp ----
// ---- begin kvforge/stores/log/snapshot.hpp ----
/// \file snapshot.hpp
/// A log store's snapshot: a copy of its index as of a cut, and the segments that index
/// names, held.
///
/// The cut is taken under the store's write gate once the writer's buffered records are
/// in the files (log_backend::snapshot), so every record the copied index names is
/// readable from a file, and records appended after the cut are named by no entry of it.
/// Closed segments are never written again, and the active one only past the cut, so
/// the bytes the snapshot reads never change. A segment that compaction or clear()
/// retires is unlinked but stays readable through its open descriptor while a snapshot
/// holds it; its space comes back when the last holder lets it go.
///
/// Reads take no lock: the snapshot's index and its list of segments never change once
/// made. mmap_file's snapshot holds each segment's mapping as it was at the cut and
/// reads records in place through it, as the store does; a record past a mapping's end
/// is read with pread. A snapshot may outlive the store's close(), but not the store
/// object: its segments' files read through the store's I/O policy object.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge::detail {

template <class IO, class Table>
class log_snapshot {
public:
    using segment_pointer = std::shared_ptr<segment<IO>>;

    /// A segment as the snapshot reads it: held, with where its records end at the cut
    /// and, for mmap_file, its mapping then.
    struct held_segment {
        segment_pointer file;
        std::uint64_t end = 0;
        std::shared_ptr<const file_mapping<IO>> mapping;
    };

    /// A snapshot takes no writes, so it hands out no sequence numbers.
    static constexpr bool sequenced = false;

    log_snapshot() = default;

    /// Takes the state at a cut: a copy of index, and segments (sorted by id), each
    /// readable up to end_of(segment). The caller holds the store's write gate.
    template <class EndOf>
    log_snapshot(const Table& index, const std::vector<segment_pointer>& segments, EndOf&& end_of)
        : index_(copy_table(index)) {
        segments_.reserve(segments.size());
        for (const segment_pointer& in : segments) {
            segments_.push_back({in, end_of(*in), in->mapping});
        }
    }

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const auto payload = index_.find(key);
        if (!payload) return false;
        std::string scratch;
        std::string_view value;
        if (!read_record(key, record_location::decode(*payload), scratch, value, ec, nullptr)) return false;
        on_value(value);
        return true;
    }

    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        const bool found = read(
            key, [&](std::string_view value) { assign_bytes(out, value); }, ec);
        if (!found) out.clear();
        return found;
    }

    bool contains(std::string_view key, std::error_code& /*ec*/) const { return index_.find(key).has_value(); }

    /// Calls visitor(key, value) in key order from `from` on, until it returns false.
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { index_.visit_from(from, inclusive, read, ahead); }, visitor, ec);
    }

    /// Calls visitor(key, value) in descending key order from `from` (the last key when
    /// nullopt) on, until it returns false.
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        visit_ordered([&](auto&& read, auto&& ahead) { index_.visit_down_from(from, inclusive, read, ahead); }, visitor,
                      ec);
    }

    /// Calls visitor(key, value) for every record, in the index's order.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        std::string scratch;
        read_ahead ahead;
        index_.for_each([&](std::string_view key, std::string_view payload) {
            if (ec) return;
            std::string_view value;
            if (read_record(key, record_location::decode(payload), scratch, value, ec, &ahead)) visitor(key, value);
        });
    }

    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    /// A snapshot never changes, so a scan over it never reads a chunk again.
    [[nodiscard]] static constexpr std::uint64_t write_version() noexcept { return 0; }

private:
    template <class Walk, class Visitor>
    void visit_ordered(Walk&& walk, Visitor& visitor, std::error_code& ec) const {
        std::string scratch;
        read_ahead ahead;
        walk(
            [&](std::string_view key, std::string_view payload) {
                std::string_view value;
                if (!read_record(key, record_location::decode(payload), scratch, value, ec, &ahead)) return false;
                return visitor(key, value);
            },
            [&](std::string_view key, std::string_view payload) noexcept {
                prefetch(key.size(), record_location::decode(payload));
            });
    }

    /// Starts loading the record at where into the cache when it lies in a mapping, for
    /// a scan that reads it soon.
    void prefetch(std::size_t key_size, const record_location& where) const noexcept {
        const held_segment* const in = find(where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key_size));
        if (in != nullptr && mapped(*in, where.offset, size)) prefetch_record(in->mapping->data() + where.offset, size);
    }

    /// Reads and checks the record at where; value views its value, in the mapping
    /// (mmap_file), in the read-ahead window (scans) or in scratch.
    bool read_record(std::string_view key, const record_location& where, std::string& scratch, std::string_view& value,
                     std::error_code& ec, read_ahead* ahead) const {
        const held_segment* const in = find(where.segment);
        const auto size = static_cast<std::size_t>(where.record_size(key.size()));
        if (in == nullptr || where.offset + size > in->end) {
            fail(ec, errc::corrupt_record,
                 "the snapshot's index points at segment " + std::to_string(where.segment) + " offset " +
                     std::to_string(where.offset) + ", which the snapshot does not hold");
            return false;
        }
        std::string_view record;
        if (mapped(*in, where.offset, size)) {
            record = std::string_view(in->mapping->data() + where.offset, size);
        } else if (ahead != nullptr) {
            if (!ahead->holds(in->file->id, where.offset, size) && !fill(*ahead, *in, where.offset, size, ec)) {
                return false;
            }
            record = ahead->view(where.offset, size);
        } else {
            scratch.resize(size);
            if (!in->file->file.read(where.offset, scratch.data(), size, ec)) return false;
            record = scratch;
        }
        record_info info;
        if (parse_record(record, info) != parse_status::ok || info.type != record_type::put || info.size != size ||
            record.substr(info.key_offset, info.key_size) != key) {
            fail(ec, errc::corrupt_record,
                 in->file->file.path() + ": the record at offset " + std::to_string(where.offset) +
                     " fails its checksum; its value is not returned (run verify() for a full report)");
            return false;
        }
        value = record.substr(info.value_offset, info.value_size);
        return true;
    }

    /// Reads the record at offset into the window, with as many bytes after it as the
    /// scan's pattern suggests (doubling while records follow one another, as after a
    /// compaction of a sorted store), up to the segment's end at the cut.
    static bool fill(read_ahead& ahead, const held_segment& in, std::uint64_t offset, std::size_t size,
                     std::error_code& ec) {
        const bool sequential =
            !ahead.bytes.empty() && ahead.segment == in.file->id && offset == ahead.start + ahead.bytes.size();
        std::size_t length = sequential ? std::min(ahead.bytes.size() * 2, read_ahead::max_window) : size;
        length = std::max(size, static_cast<std::size_t>(std::min<std::uint64_t>(length, in.end - offset)));
        ahead.bytes.resize(length);
        std::size_t got = 0;
        if (!in.file->file.read_at_least(offset, ahead.bytes.data(), size, length, got, ec)) return false;
        ahead.bytes.resize(got);
        ahead.segment = in.file->id;
        ahead.start = offset;
        return true;
    }

    [[nodiscard]] const held_segment* find(std::uint32_t id) const noexcept {
        const auto at =
            std::lower_bound(segments_.begin(), segments_.end(), id,
                             [](const held_segment& s, std::uint32_t wanted) { return s.file->id < wanted; });
        return at != segments_.end() && at->file->id == id ? &*at : nullptr;
    }

    Table index_;
    std::vector<held_segment> segments_;  // by id
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/snapshot.hpp ----
// ---- begin kvforge/stores/log/store_composition.hpp ----
/// \file store_composition.hpp
/// A log store's MANIFEST against the composition of the store<> that opens it.
///
/// Every open reads the MANIFEST, when there is one, before anything else and refuses a
/// composition that cannot read the files (manifest.hpp says which fields bind). A store
/// without one whose data files are of format 2 and hold records has lost it: the
/// MANIFEST alone says whether each value starts with an expiry header or a compression
/// flag, so such a store is refused, never read under a guessed composition (`kvforge
/// repair` rebuilds the file from what the data files' headers record). A
/// writable open then writes it, through MANIFEST.tmp and a rename, when it is missing
/// (a new store, or one of format 1) or records another store, index or durability
/// policy than this open's, so that tools reopen the store as it was last used.

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

// ---- begin kvforge/detail/manifest_file.hpp ----
/// \file manifest_file.hpp
/// Reading a store directory's MANIFEST file (its text is manifest.hpp's).

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>


namespace kvforge::detail {

/// A manifest is a dozen short lines; a file much larger is not one.
inline constexpr std::uint64_t max_manifest_bytes = 64 << 10;

/// Reads the MANIFEST of the store in directory into out. A directory (or store) with no
/// manifest is no error: found is false and out unchanged. A manifest that cannot be
/// read, or is damaged, fails with errc::corrupt_header naming the file.
template <class IO>
bool read_manifest_file(IO& io, const std::string& directory, composition& out, bool& found, std::error_code& ec) {
    found = false;
    const std::string path = directory + "/" + std::string(manifest_file_name);
    data_file<IO> file;
    std::error_code open_error;
    if (!file.open(io, path, O_RDONLY, open_error)) {
        if (open_error == std::errc::no_such_file_or_directory || open_error == std::errc::not_a_directory) {
            return true;
        }
        ec = open_error;
        return false;
    }
    std::uint64_t size = 0;
    if (!file.size(size, ec)) return false;
    if (size > max_manifest_bytes) {
        fail(ec, errc::corrupt_header,
             path + ": " + std::to_string(size) + " bytes, far more than a manifest holds; the file is not a kvforge "
                                                  "manifest (move it away if it does not belong to the store)");
        return false;
    }
    std::string text(static_cast<std::size_t>(size), '\0');
    if (!file.read(0, text.data(), text.size(), ec)) return false;
    std::string problem;
    if (!parse_manifest(text, out, problem)) {
        fail(ec, errc::corrupt_header,
             path + ": " + problem + "; the store's composition cannot be read (restore the file from a backup)");
        return false;
    }
    found = true;
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/manifest_file.hpp ----

namespace kvforge::detail {

/// Checks a store's MANIFEST against the composition wanted, and says what to record.
/// It refers to the engine's I/O policy, directory and composition, which do not change
/// while the store is open.
template <class IO>
class store_composition {
public:
    store_composition(IO& io, const store_directory<IO>& directory, const composition& wanted) noexcept
        : io_(io), directory_(directory), composition_(wanted) {}

    /// Reads the MANIFEST, when the store has one, and refuses (changing nothing) a
    /// store written in a newer format or with a composition this open cannot read.
    bool check(composition& on_disk, bool& found, std::error_code& ec) const {
        if (!read_manifest_file(io_, directory_.path(), on_disk, found, ec)) return false;
        if (!found) return check_without_manifest(ec);
        const std::string path = directory_.file_path(store_file_name::manifest());
        if (on_disk.format > format_version) {
            fail(ec, errc::unsupported_version,
                 path + ": written in format version " + std::to_string(on_disk.format) +
                     "; this kvforge reads up to version " + std::to_string(format_version) + " (nothing was changed)");
            return false;
        }
        const std::string difference = first_binding_difference(on_disk, composition_);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 path + ": " + difference + "; " + binding_remedy(on_disk, composition_) + " (nothing was changed)");
            return false;
        }
        return true;
    }

    /// The MANIFEST to write when the store has none or it records another composition
    /// (only store, index or durability can differ here: check() refused the rest);
    /// empty when there is none to write. Codec names that cannot stand in a manifest
    /// line (spaces, control bytes) leave the store without one, as a format 1 store is:
    /// the data file's header still binds its codecs.
    [[nodiscard]] std::string manifest_to_write(const composition& on_disk, bool found) const {
        if (found && on_disk == composition_) return {};
        return format_manifest(composition_);
    }

    /// Writes the MANIFEST when manifest_to_write says that it is due, through files (the
    /// engine's segment_files, which counts its syncs and bytes).
    template <class Files>
    bool record(Files& files, const composition& on_disk, bool found, std::error_code& ec) const {
        const std::string text = manifest_to_write(on_disk, found);
        return text.empty() || files.write_file(store_file_name::manifest(), text, ec);
    }

private:
    /// What the data files of a store without a MANIFEST say: the first of each format
    /// that holds a record (its header is followed by more bytes), or empty. A file
    /// holding its header alone is what a crash while a store was made leaves (the
    /// MANIFEST follows its first data file), and holds nothing to misread.
    struct unrecorded_files {
        std::string format1_records;
        std::string format2_records;
        /// Whether every format 2 file holding records was written with these expiry and
        /// compression (its header's layers are the open's; 0, not recorded, passes for none).
        bool layers_agree = true;
    };

    bool find_data_files(unrecorded_files& found, std::error_code& ec) const {
        std::vector<store_file_name> names;
        if (!directory_.list(names, ec)) return false;
        std::sort(names.begin(), names.end(),
                  [](const store_file_name& a, const store_file_name& b) { return a.generation() < b.generation(); });
        for (const store_file_name& name : names) {
            if (name.kind() != store_file_kind::data || name.is_temporary()) continue;
            data_file<IO> file;
            std::uint64_t size = 0;
            char bytes[file_header::size];
            file_header header;
            // A file that cannot be read or has a damaged header is recovery's to report.
            std::error_code ignored;
            if (!directory_.open_file(file, name, O_RDONLY, ignored) || !file.size(size, ignored)) continue;
            const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(size, sizeof bytes));
            if (!file.read(0, bytes, available, ignored) ||
                file_header::decode({bytes, available}, file_kind::data, header) != file_header::problem::none ||
                size <= header.bytes()) {
                continue;
            }
            std::string& first = header.version < 2 ? found.format1_records : found.format2_records;
            if (first.empty()) first = directory_.file_path(name);
            const bool plain = composition_.expiry == "none" && composition_.compression == "none";
            if (header.version >= 2 && header.layers != layers_fingerprint(composition_.expiry, composition_.compression) &&
                !(header.layers == 0 && plain)) {
                found.layers_agree = false;
            }
        }
        return true;
    }

    /// A store without a MANIFEST: refused when a format 2 data file holds records (the
    /// MANIFEST was lost), or when a format 1 one does and this open has expiry or
    /// compression (refuse_unrecorded_layers). A composition whose codec names no
    /// manifest line can hold never had one: it opens when the data files' headers
    /// record its expiry and compression.
    bool check_without_manifest(std::error_code& ec) const {
        unrecorded_files found;
        if (!find_data_files(found, ec)) return false;
        const bool never_recorded = format_manifest(composition_).empty() && found.layers_agree;
        if (!found.format2_records.empty() && !never_recorded) {
            const std::string manifest = directory_.file_path(store_file_name::manifest());
            fail(ec, errc::corrupt_header,
                 manifest + " is missing, and " + found.format2_records +
                     " holds records of format 2, whose values are read as the MANIFEST says (with or without an "
                     "expiry header, compressed or not); the store is not opened under a guess (nothing was "
                     "changed). Restore the MANIFEST from a backup, or rebuild it from the data files with "
                     "`kvforge repair " +
                     directory_.path() + "`");
            return false;
        }
        return found.format1_records.empty() || refuse_unrecorded_layers(ec);
    }

    /// A store without a MANIFEST (format 1, or codec names no manifest line can hold)
    /// records neither expiry nor compression, so its values have no deadline header and
    /// no compression flag: an expiring or compressed open would read each value's first
    /// byte as one. Refused, since the store holds records.
    bool refuse_unrecorded_layers(std::error_code& ec) const {
        if (composition_.expiry == "none" && composition_.compression == "none") return true;
        if (composition_.expiry != "none") {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without expiry, and this store opens "
                     "it with expiry (" +
                     composition_.expiry +
                     "); open it without kvforge::expiring<>, or copy it into an expiring store with kvforge::copy "
                     "(nothing was changed)");
        } else {
            fail(ec, errc::codec_mismatch,
                 directory_.path() +
                     ": a store without a MANIFEST was written without compression, and this store "
                     "opens it with compression (" +
                     composition_.compression +
                     "); open it without kvforge::compressed<>, or copy it into a compressed store with "
                     "kvforge::copy (nothing was changed)");
        }
        return false;
    }

    IO& io_;
    const store_directory<IO>& directory_;
    const composition& composition_;
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/store_composition.hpp ----

namespace kvforge::detail {

/// The store behind file_log (Mapped = false: records of closed segments, and of the
/// part of the active one written before the open, are read through read-only mappings
/// of exactly those bytes, which never change again; the records appended since, with
/// pread) and mmap_file (Mapped = true: records in every segment are read through shared
/// read-only mappings that grow with the active one, and views into them are handed
/// out). Writes go through the writer and pwrite in both, so both stores have the same
/// durability and crash behaviour.
template <class Policies, bool Mapped = false>
class log_backend {
    using types = log_types<Policies>;
    using io_type = typename types::io_type;
    using table_type = typename types::table_type;
    using threading = typename types::threading;
    using counter_type = typename types::counter_type;
    using writer_type = typename types::writer_type;
    static_assert(durability_writer<writer_type, io_type>,
                  "kvforge: the durability policy's writer<IO, Concurrent> does not satisfy the concept "
                  "kvforge::durability_writer (concepts.hpp), which lists what a log store calls");
    using mutex_type = typename types::mutex_type;
    using gate_type = typename types::gate_type;
    using read_lock = typename types::read_lock;
    using write_lock = typename types::write_lock;
    using gate_lock = typename types::gate_lock;
    using segment_type = typename types::segment_type;
    using segment_pointer = typename types::segment_pointer;
    using hint_keeper_type = hint_keeper<io_type, counter_type, mutex_type>;
    static constexpr bool ordered_index = Policies::index::ordered;
    /// Whether a sorting job can walk the index to find its input's records, and walk it
    /// again to move their entries (btree_table::update_from).
    static constexpr bool walkable_index =
        ordered_index && requires(table_type& table, std::string_view key) {
            table.update_from(key, true, kvforge::detail::record_updater{});
        };
    /// A compaction job's output segments (engine_compaction_outputs.hpp).
    class output_segments;
    using job_type = compaction_job<segment_type, output_segments>;

public:
    /// Whether writes hand out sequence numbers (async_worker).
    static constexpr bool sequenced = writer_type::sequenced;

    log_backend() = default;
    log_backend(const log_backend&) = delete;
    log_backend& operator=(const log_backend&) = delete;
    /// Closes the store; never throws (call close() first to see its errors).
    ~log_backend() {
        try {
            std::error_code ignored;
            close(ignored);
        } catch (...) {
            // Out of memory while writing the hint: the log alone still holds everything.
        }
    }

    /// Opens or creates the store in directory path, as opts says (create_if_missing,
    /// error_if_exists, read_only, salvage), for the store<> whose composition is wanted.
    void open(std::string_view path, const kvforge::options& opts, io_type io, const composition& wanted,
              std::error_code& ec);

    /// Writes everything out, syncs it, writes the active segment's hint and releases the store
    /// (a read-only store only releases it). The store is closed afterwards even when
    /// this reports an error.
    void close(std::error_code& ec) { close(ec, [] {}); }
    /// As close(ec), calling before_release() once the data files are final, before the
    /// store's lock is released (engine_lifetime.hpp).
    void close(std::error_code& ec, function_ref<void()> before_release);

    [[nodiscard]] bool is_open() const noexcept { return open_; }

    // Writes (log_writes.hpp), each followed by the steps engine_after_write.hpp runs.
    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
        const std::uint64_t sequence = writes_.put(key, value, ec);
        return ec ? 0 : finish_write(gate, sequence, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec)) return false;
        // Writers are ordered by the gate, so the index cannot change under this lookup.
        if (!table_.find(key) || !make_room(ec)) return false;
        const std::uint64_t sequence = writes_.erase(key, ec);
        if (ec) return false;
        finish_write(gate, sequence, ec);
        return !ec;
    }

    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        gate_lock gate(write_gate_);
        if (!writable(ec) || !make_room(ec)) return 0;
        const std::uint64_t sequence = writes_.write(ops, ec);
        return ec ? 0 : finish_write(gate, sequence, ec);
    }

    // Reads (log_reads.hpp).
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        return reads_.read(key, on_value, ec);
    }
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return reads_.read_value(key, out, ec);
    }
    bool read_pinned(std::string_view key, pinned_value& out, std::error_code& ec) const requires Mapped {
        return reads_.read_pinned(key, out, ec);
    }
    bool contains(std::string_view key, std::error_code& ec) const { return reads_.contains(key, ec); }
    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        reads_.visit_from(from, inclusive, visitor, ec);
    }
    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        reads_.visit_down_from(from, inclusive, visitor, ec);
    }
    template <class Visitor>
    void for_each_in_file_order(Visitor&& visitor, std::error_code& ec) const {
        reads_.for_each_in_file_order(visitor, ec);
    }

    /// Calls visitor(key, value) for every record; a thread_safe store walks a snapshot of
    /// its own (engine_cuts.hpp).
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const;

    [[nodiscard]] std::size_t size() const {
        const read_lock lock(mutex_);
        return table_.size();
    }

    /// A number that every change of the contents moves on (put, erase, batch, clear,
    /// compaction), read without a lock: a scan re-reads what it read ahead once it moved.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// Removes every key: a new active segment starting with a clear record, then the
    /// others retired (engine_clear.hpp).
    void clear(std::error_code& ec);

    [[nodiscard]] kvforge::stats stats() const {
        const read_lock lock(mutex_);
        kvforge::stats s;
        s.live_keys = table_.size();
        s.live_bytes = index_.live_bytes();
        s.dead_bytes = index_.dead_bytes();
        s.memory_bytes = table_.memory_usage();
        writes_.add_stats(s);
        s.gets = reads_.gets();
        add_compaction_stats(s);
        s.recovered_records = recovered_records_;
        s.recovered_bytes_cut = recovered_bytes_cut_;
        if (open_) {
            s.segments = segments_.size();
            s.disk_bytes = data_bytes();
            for (const segment_pointer& in : segments_.by_id()) {
                s.disk_bytes += in->hint_bytes;
                if (in->mapping) s.mapped_bytes += in->mapping->length();
            }
            s.syncs = writer_->syncs() + files_.syncs();
            s.bytes_written = writer_->bytes_written() + files_.bytes_written();
        }
        return s;
    }

    /// Hands buffered writes to the OS; nothing to do for a read-only store.
    void flush(std::error_code& ec) { drain_writer(&writer_type::flush, ec); }
    /// Makes every write so far durable; nothing to do for a read-only store.
    void sync(std::error_code& ec) { drain_writer(&writer_type::sync, ec); }

    /// Rewrites the live records of every segment there is at the call into new
    /// segments, in key order, and retires the old ones; with thread_safe, writers go on
    /// meanwhile, into a new active segment (engine_compaction.hpp).
    void compact(std::error_code& ec) { compact_whole(ec); }

    /// Blocks until the write with this sequence number is on disk (async_worker).
    void wait_durable(std::uint64_t sequence, std::error_code& ec);
    /// The sequence number of the last write on disk (async_worker; 0 when closed).
    [[nodiscard]] std::uint64_t durable_sequence() const;

    /// Copies the store as it is at the call into directory dest, which must be missing
    /// or empty: every write that returned before the call is in the copy, and writes
    /// that start after it are not (engine_cuts.hpp).
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec);

    /// A read-only view of the store as it is at the call (engine_cuts.hpp, snapshot.hpp).
    [[nodiscard]] log_snapshot<io_type, table_type> snapshot(std::error_code& ec) const;

    /// Reads every record of every segment and checks its checksum; changes nothing.
    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        const gate_lock gate(write_gate_);
        verify_report report;
        if (!readable(ec)) return report;
        // A store opened with salvage (read-only, or before its rewrite) also lists what its open found.
        report.damaged = file_damage_;
        verify_segments(segments_.in_replay_order(), active_, *writer_, report, ec);
        return report;
    }

private:
    /// Takes write_gate_ for a call that retires segments (compact, clear) once no
    /// backup copies them (backups_running.hpp).
    gate_lock gate_without_backups() { return backups_.lock_gate(write_gate_); }

    bool writable(std::error_code& ec) const {
        if (!readable(ec)) return false;
        if (options_.read_only) {
            fail(ec, errc::read_only,
                 files_.directory().path() +
                     " was opened read-only (options::read_only); nothing was written. Open it "
                     "without read_only to write");
            return false;
        }
        if (failure_.check(ec)) return false;
        return !writer_->failed(ec);
    }

    bool readable(std::error_code& ec) const { return reads_.readable(ec); }

    /// The bytes of every segment, the active one's buffered bytes included.
    [[nodiscard]] std::uint64_t data_bytes() const {
        std::uint64_t total = 0;
        for (const segment_pointer& in : segments_.by_id()) total += in == active_ ? writer_->end() : in->size;
        return total;
    }

    // open() and close(), and what they share (engine_lifetime.hpp).
    bool recover(recovered_log<io_type>& recovered, std::error_code& ec);
    void reset_state();

    // After a write (engine_after_write.hpp).
    std::uint64_t finish_write(gate_lock& gate, std::uint64_t sequence, std::error_code& ec);
    bool write_pending_hint();

    // The writer's calls beside the writes (engine_writer_calls.hpp).
    void drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec);
    void call_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) const;

    // clear()'s work with the gate held (engine_clear.hpp).
    bool clear_segments(std::error_code& ec);

    // The rollover (engine_rollover.hpp), with write_gate_ held but for prepare_spare,
    // which takes it itself.
    void reset_rollover(bool wanted = false) noexcept;
    [[nodiscard]] static bool accepts_segment_bytes(std::uint64_t segment_bytes, std::error_code& ec);
    bool make_room(std::error_code& ec);
    /// Whether the write under way closed a segment: that write paid for the rollover's
    /// syncs already, so single_thread runs no step after it (the segment's hint, a
    /// spare, compaction): the next write does.
    [[nodiscard]] bool closed_by_this_write() const noexcept { return closed_by_this_write_; }
    /// How many segments rollovers have closed since the store opened.
    [[nodiscard]] std::uint64_t segments_closed() const noexcept { return segments_closed_; }
    bool roll_over(std::error_code& ec);
    void make_active(segment_pointer next, std::uint64_t end);
    [[nodiscard]] bool spare_due() const noexcept;
    void prepare_spare();
    void discard_spare();
    bool flush_ahead(std::error_code& ec);
    segment_pointer take_spare();
    /// Segments may be no smaller: below this, rollover's syncs would cost more than the writes.
    static constexpr std::uint64_t min_segment_bytes = std::uint64_t{64} << 10;
    /// The most a rollover writes and syncs of a buffering writer's bytes: a write that
    /// finds the active segment this close to full flushes ahead (a quarter of the
    /// smallest segments).
    static constexpr std::uint64_t final_stretch(std::uint64_t segment_bytes) noexcept {
        return std::min(std::uint64_t{512} << 10, segment_bytes / 4);
    }

    // The cut that backup() and snapshot() take, with the gate held (engine_cuts.hpp).
    bool take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const;

    bool create_segment(std::uint32_t id, segment_pointer& out, std::error_code& ec) {
        return files_.create_segment(id, out, ec);
    }

    /// The id of a new segment, taken by writers (under the gate) and by the compaction thread.
    [[nodiscard]] std::uint32_t new_segment_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

    // Compaction (engine_compaction.hpp, which says what locks each part takes).
    /// Whether an automatic job is under way (single_thread: between its steps).
    [[nodiscard]] bool compaction_job_under_way() const noexcept { return job_.has_value(); }
    void request_compaction();
    /// Keeps automatic jobs off until the guard is destroyed (compact, clear).
    [[nodiscard]] compaction_thread::hold_guard hold_compaction() { return compactor_.hold(); }
    /// Lets jobs be requested again, once the store is open.
    void resume_compaction() { compactor_.resume(); }
    /// Lets the work requested so far run to its end, then stops the thread (close).
    void finish_compaction_thread() { compactor_.finish(); }
    void reset_compaction();
    void add_compaction_stats(kvforge::stats& s) const;
    /// Lets one whole-store change at a time run (compact, clear, close): compact() of a
    /// thread_safe store runs with no gate held but for short spells, and the others
    /// would drop its job meanwhile. Taken before hold_compaction() and the gate.
    [[nodiscard]] std::unique_lock<std::mutex> lock_whole() { return std::unique_lock(whole_); }
    void compact_whole(std::error_code& ec);
    void count_empty_compaction();
    void compact_now(std::error_code& ec);
    bool compact_all(std::error_code& ec);
    void finish_compaction();
    void abort_job();
    void compaction_failed();
    bool start_whole_job(std::error_code& ec);
    bool advance_job(std::error_code& ec, std::uint64_t limit);
    [[nodiscard]] static bool input_found_sorted(const job_type& job) noexcept;
    void keep_sorted_input();
    [[nodiscard]] gate_lock gate_after_writers();
    [[nodiscard]] write_lock exclusive_after_readers() const;
    [[nodiscard]] std::uint64_t dead_bytes_under_lock() const;
    // Whether a job is due, what it takes, and starting it (engine_compaction_choice.hpp).
    [[nodiscard]] bool wants_compaction() const;
    [[nodiscard]] bool wants_sorting();
    [[nodiscard]] bool sorting_allowed() const;
    /// Whether an automatic job is due: dead bytes to reclaim, or a segment to sort.
    [[nodiscard]] bool compaction_due() { return wants_compaction() || wants_sorting(); }
    void sort_before_close();
    segment_pointer unsorted_segment();
    bool start_job(std::error_code& ec);
    void start_sorting_job();
    // A job's phases (engine_compaction_phases.hpp).
    bool scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec);
    bool drop_damage(job_type& job, std::uint64_t bad, std::uint64_t end, std::error_code& ec);
    void walk_index(job_type& job, std::uint64_t& budget);
    static void end_scan(job_type& job);
    [[nodiscard]] static auto later_run(const job_type& job) noexcept;
    static bool next_note(job_type& job, std::size_t& at, std::size_t& ahead);
    bool copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec);
    bool publish_outputs(std::error_code& ec);
    void install_outputs();
    void move_entries(job_type& job, std::size_t count);
    void move_walked_entries(job_type& job, std::size_t count);
    void copy_is_dead(job_type& job, std::size_t at);
    bool retire_job(std::error_code& ec);
    std::vector<segment_pointer> retire_inputs();
    void remove_next_retired();
    // The jobs on the compaction thread, and the writers' wait for it
    // (engine_compaction_background.hpp).
    void wait_for_compaction();
    [[nodiscard]] bool over_stall_ceiling() const;
    void run_background_job();
    bool background_job(bool& sorted, std::error_code& ec);
    bool run_job(bool interruptible, bool& sorted, std::error_code& ec);
    /// How many index entries a compaction moves with the gate held once: well under a
    /// millisecond's work on the compaction thread; with single_thread, where each chunk
    /// is a put's step, four times that, so that fewer puts pay for one (a job moves
    /// some hundred thousand entries).
    static constexpr std::size_t entries_moved_at_once = threading::concurrent ? 1024 : 4096;
    /// How many index entries a sorting job's walk visits with the shared lock held once
    /// (the writers' exclusive lock waits meanwhile): a visit is a few nanoseconds.
    static constexpr std::size_t entries_walked_at_once = 4096;
    /// How many index entries the walk that moves a sorting job's entries visits for
    /// each it may move (move_walked_entries): the input's entries lie among the other
    /// segments', a walk_share_limit-th of the store or more.
    static constexpr std::size_t walk_visits_per_note = 8;
    /// How many notes ahead of its copy a record starts loading (copy_notes).
    static constexpr std::size_t copy_distance = 16;

    // The engine's state, grouped by the lock that guards it. A member some of whose
    // calls take a lock of their own says so; the parts at the end say what they take.

    // Set by open() with write_gate_ held, while the store is closed and no other call
    // can reach it; read with no lock while it is open.
    io_type io_{};
    kvforge::options options_{};
    composition composition_;  // what this open's store<> is made of, as the manifest records it
    std::uint64_t recovered_records_ = 0;
    std::uint64_t recovered_bytes_cut_ = 0;
    std::vector<damaged_record> salvaged_;
    // What a read-only salvaging open found that a scan of the segments cannot find again
    // (recovered_log::file_damage), for verify().
    std::vector<damaged_record> file_damage_;

    // The locks. write_gate_ orders writers, rollover, clear, close and compaction's
    // changes; mutex_ is taken shared by readers and exclusive to change what they read.
    mutable gate_type write_gate_;
    mutable mutex_type mutex_;

    // Guarded by nothing of the engine's: atomics, or members with a lock of their own.
    // Read with no lock by is_open(); changed with write_gate_ and mutex_ (exclusive) held.
    std::atomic<bool> open_{false};
    // The id of the next segment made, one counter for every kind; taken by writers and
    // by the compaction thread.
    std::atomic<std::uint32_t> next_id_{1};
    detail::write_version<threading::concurrent> version_;
    active_calls<threading::concurrent> active_calls_;  // calls that hold no lock, which close() waits for
    backups_running backups_;
    sticky_failure failure_;
    // The directory and the files made in it; opened and closed with write_gate_ held,
    // its counts of syncs and bytes its own.
    segment_files<io_type, counter_type> files_{failure_};

    // Guarded by write_gate_ and mutex_: changed with both held (mutex_ exclusive), read
    // under either; readers find records' segments here.
    segment_set<io_type> segments_;
    segment_pointer active_;  // the segment the writer appends to (read-only: the last in replay order)
    table_type table_;
    // The index's changes and the live and dead bytes.
    index_updates<io_type, table_type> index_{table_, segments_};
    // Called with write_gate_ held; a writer without a worker changes the buffer readers
    // read, so it is called with mutex_ exclusive too (call_writer). Mutable for
    // snapshot(), which is const: a flush hands the writer's buffered records to the OS,
    // under the gate, and changes nothing a reader sees.
    mutable std::optional<writer_type> writer_;

    // The readers' views of the state above, used under mutex_ shared.
    record_reader<io_type, writer_type, Mapped> reader_{io_, segments_, active_, writer_};
    log_reads<table_type, record_reader<io_type, writer_type, Mapped>, mutex_type, counter_type> reads_{table_, reader_,
                                                                                                        mutex_, open_};

    // Guarded by write_gate_: used by writers, rollover, clear, close and compaction's
    // changes, which take mutex_ exclusive for what readers see (hint_keeper.hpp).
    hint_keeper_type hints_{files_, mutex_};
    std::string record_;  // the record being written (writes_, compact()), reused
    log_writes<Policies, record_reader<io_type, writer_type, Mapped>> writes_{
        writer_, active_, index_, hints_, reader_, mutex_, failure_, version_, record_};
    // The rollover's (engine_rollover.hpp): the next segment the writer appends to,
    // prepared ahead of need as a synced .tmp, and whether the active segment still wants one.
    segment_pointer spare_;
    bool spare_wanted_ = false;
    bool closed_by_this_write_ = false;
    bool flushed_ahead_ = false;  // for the active segment
    std::uint64_t segments_closed_ = 0;
    store_composition<io_type> manifest_{io_, files_.directory(), composition_};

    // backup()'s copier, used with no lock held once the cut is taken (engine_cuts.hpp);
    // it refers to the I/O policy, directory and composition above.
    log_backup<io_type> backup_{io_, files_.directory(), composition_};

    // Compaction's (engine_compaction.hpp). Its counters are changed with mutex_
    // exclusive and read under it shared (stats); the others, under write_gate_ but for
    // what the comments say.
    std::uint64_t compactions_ = 0;
    std::uint64_t compaction_failures_ = 0;
    std::string last_compaction_error_;
    std::uint64_t damaged_bytes_dropped_ = 0;  // of dead records in the inputs of the jobs that retired them
    std::uint64_t compaction_retry_end_ = 0;  // automatic compaction waits until the segments hold more than this
    // The active segment's id when every closed segment was last found in key order (0: not known).
    std::uint32_t all_sorted_at_ = 0;
    // The automatic compaction job under way: used under the gate (single_thread) or by
    // the compaction thread, which others hold off or stop before they touch it.
    std::optional<job_type> job_;
    std::mutex whole_;  // held by compact(), clear() and close() while they run (lock_whole)
    // compact() runs its job (thread_safe): writers do not wait for the compaction
    // thread meanwhile, which the hold keeps idle.
    std::atomic<bool> whole_under_way_{false};
    // Runs automatic compaction jobs (thread_safe); last, so that its thread stops first.
    compaction_thread compactor_;
};

}  // namespace kvforge::detail

// The engine's member definitions kept in files of their own (each includes this header first).
// ---- begin kvforge/stores/log/engine_after_write.hpp ----
/// \file engine_after_write.hpp
/// Members of log_backend (engine.hpp): what runs after the store's writes: the gate
/// released, the wait for durability the policy asks for, and then the work the write
/// left due, one step of it run by the writer (single_thread) or asked of the compaction
/// thread (thread_safe).
///
/// The work due is, in that order: the hint of a closed segment (hint_keeper.hpp), handed
/// over here (write_pending_hint) to the writer's step or to the compaction thread; the
/// spare segment (engine_rollover.hpp); an automatic compaction job
/// (engine_compaction.hpp). A writer waits for its sync after releasing the gate, so
/// that writers can share one sync, and with thread_safe it then waits, with no lock
/// held and a bounded time, while the dead bytes stay past the stall ceiling
/// (engine_compaction.hpp, wait_for_compaction).

#include <cstdint>
#include <optional>
#include <system_error>


namespace kvforge::detail {

/// After a write: releases the gate, waits for durability as the policy says, and, when
/// a closed segment waits for its hint, the spare segment is due (the active one half
/// full: engine_rollover.hpp), a job is under way or one is due (dead bytes past the
/// configured share, or a closed segment to sort: engine_compaction.hpp), runs a step
/// (single_thread: the hint's, else the spare's, else automatic compaction's; none after
/// a write that closed a segment) or asks the compaction thread for a job (thread_safe).
/// The write's result is its own: a failed compaction shows in stats() and is not
/// retried before the store has grown (engine_compaction.hpp, compaction_failed).
template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::finish_write(gate_lock& gate, std::uint64_t sequence,
                                                          std::error_code& ec) {
    bool compaction_step = false;
    bool hint_step = false;
    bool spare_step = false;
    if constexpr (threading::concurrent) {
        if (hints_.pending() > 0 || spare_due() || compaction_due()) request_compaction();
    } else {
        // No step after a write that closed a segment: it paid for the rollover's syncs.
        const bool closed = closed_by_this_write();
        hint_step = !closed && hints_.pending() > 0;
        spare_step = !closed && !hint_step && spare_due();
        compaction_step = !closed && !hint_step && !spare_step && (compaction_job_under_way() || compaction_due());
    }
    {
        const active_call<threading::concurrent> call(active_calls_);
        gate.unlock();
        writer_->commit(sequence, ec);
        if constexpr (threading::concurrent) {
            if (!ec) wait_for_compaction();
        }
    }
    if (!ec && hint_step) write_pending_hint();
    if (!ec && spare_step) prepare_spare();
    if (!ec && compaction_step) {
        const gate_lock again(write_gate_);
        std::error_code compaction_error;
        // Another thread may have closed the store, or compacted it, meanwhile.
        if (writable(compaction_error) && (compaction_job_under_way() || compaction_due())) {
            // The caller's last error message describes its own calls, not this one.
            const last_error saved = this_thread_last_error();
            compact_now(compaction_error);
            this_thread_last_error() = saved;
        }
    }
    return sequence;
}

/// Writes the hint of the oldest closed segment still waiting for one, taken under
/// write_gate_ and written with no lock held (the writers go on meanwhile); false when
/// none waits. Only the compaction thread, or a caller holding it off, retires segments,
/// so the segment taken stays in the store until its hint is in place.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::write_pending_hint() {
    std::optional<typename hint_keeper_type::pending_hint> taken;
    {
        const gate_lock gate(write_gate_);
        if (!open_ || hints_.pending() == 0) return false;
        taken.emplace(hints_.take_oldest());
    }
    hints_.write_pending(*taken);
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_after_write.hpp ----
// ---- begin kvforge/stores/log/engine_clear.hpp ----
/// \file engine_clear.hpp
/// Members of log_backend (engine.hpp): clear(), a new active segment whose first record
/// is a clear record, published, and then every other segment retired.
///
/// Should a crash come before all are removed, the clear record drops what they hold
/// when they replay. Like compact(), it keeps automatic compaction off, waits until no
/// backup copies the segments (backups_running.hpp) and holds write_gate_ while it
/// works, so no writer runs, but readers go on; it takes the exclusive lock only to
/// switch segments. A snapshot still reads the retired segments through its hold on them.

#include <mutex>
#include <system_error>
#include <vector>


namespace kvforge::detail {

/// Removes every key: a new active segment starting with a clear record, then the
/// others retired.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::clear(std::error_code& ec) {
    const auto whole = lock_whole();  // after a compact() under way
    const auto no_compaction = hold_compaction();
    const gate_lock gate = gate_without_backups();
    if (!writable(ec)) return;
    abort_job();
    clear_segments(ec);
}

/// clear(), with write_gate_ held: a new active segment whose first record is a clear
/// record, published, and then every other segment retired. Should a crash come before
/// all are removed, the clear record drops what they hold when they replay.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::clear_segments(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    discard_spare();  // it would replay before the segment made here
    segment_pointer next;
    if (!files_.publish_cleared_segment(new_segment_id(), next, ec)) return false;
    const std::vector<segment_pointer> retired = segments_.in_replay_order();
    {
        const write_lock lock(mutex_);
        table_.clear();
        segments_.clear();
        segments_.add(next);
        hints_.drop_retired(segments_);
        make_active(next, next->size);
        hints_.note({record_type::clear, 0, {}, 0, 0, 0, file_header::size, 0});
        index_.set_counts(0, 0);
        index_.add_dead(*next, next->size - file_header::size);  // the clear record
        finish_compaction();
    }
    files_.remove_segments(retired);
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_clear.hpp ----
// ---- begin kvforge/stores/log/engine_compaction.hpp ----
/// \file engine_compaction.hpp
/// A log store's compaction: compact() of the whole store, and the automatic jobs that
/// rewrite the closed segments with the most dead bytes (compaction_job.hpp says a job's
/// phases, compactor.hpp which segments and records it takes). Members of log_backend
/// (engine.hpp), which holds the job under way, the compaction thread and the compaction
/// counters stats() reports beside the segments, index, locks, reader, writer and
/// directory the jobs work on. This header runs the jobs step by step and counts their
/// failures; the rest is defined in headers of its own:
///
///     engine_compaction_outputs.hpp     a job's output segments: written, synced with their hints, published
///     engine_compaction_choice.hpp      whether a job is due, what it takes, and starting it
///     engine_compaction_phases.hpp      a job's phases: scan, copy, publish, move entries, retire
///     engine_compaction_background.hpp  the jobs on the compaction thread, and the writers' wait for it
///
/// compact() is a job too, over every segment there is at its call (the active one
/// closed first; writes made meanwhile go to the next): with single_thread it runs whole
/// with the gate held; with thread_safe it runs on the calling thread as the automatic
/// jobs run on theirs (below), so writers go on while it works. Either way it drops the
/// damaged bytes it meets in dead records (counted in stats().damaged_bytes_dropped),
/// and fails on damage to a live one. Locks. clear() holds the engine's write gate while
/// it works, so no writer runs, but readers go on; it takes the exclusive lock only to
/// switch segments. An automatic job runs, with single_thread, in bounded steps after writes,
/// each with the gate held; with thread_safe, on the compaction thread
/// (compaction_thread.hpp), which reads the closed segments it rewrites and writes its
/// outputs with no gate held (the shared lock for each look-up in the index), and takes
/// the gate, for about a millisecond each time, to start the job, to move index entries
/// to the outputs in chunks, and to retire the inputs; each time after the writers
/// waiting for it (write_gate.hpp), and it takes the exclusive lock for each chunk after
/// the readers waiting for it, so that its many holds in a row keep no one out for long.
/// A writer that leaves too many dead bytes for it waits, with no lock held, for its
/// progress, a bounded time (wait_for_compaction); close() lets the jobs due finish. No job retires a segment
/// while a backup copies it (backups_running.hpp).

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// Asks the compaction thread to write the pending hints and run the jobs due (thread_safe).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::request_compaction() {
    compactor_.request([this] { run_background_job(); });
}

/// Forgets the last failure, at open: automatic compaction may start at once.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_compaction() {
    compaction_retry_end_ = 0;
    all_sorted_at_ = 0;
    last_compaction_error_.clear();
}

/// Adds the compaction counters to s, under the engine's read lock.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::add_compaction_stats(kvforge::stats& s) const {
    s.compactions = compactions_;
    s.compaction_failures = compaction_failures_;
    s.last_compaction_error = last_compaction_error_;
    s.damaged_bytes_dropped = damaged_bytes_dropped_;
}

/// compact(): a job over every segment there is at the call, the active one closed
/// first. With single_thread it runs whole with write_gate_ held; with thread_safe,
/// on the calling thread as the automatic jobs run on theirs, writers going on
/// (engine_compaction_background.hpp). The failure is counted, as an automatic job's.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compact_whole(std::error_code& ec) {
    const std::unique_lock whole = lock_whole();
    const auto no_jobs = hold_compaction();
    if constexpr (threading::concurrent) {
        {
            const gate_lock gate = gate_without_backups();
            if (!writable(ec)) return;
            abort_job();  // superseded
            if (!start_whole_job(ec)) {
                compaction_failed();
                return;
            }
            if (!job_) return count_empty_compaction();
        }
        whole_under_way_.store(true, std::memory_order_relaxed);
        bool sorted = false;
        bool done = false;
        try {
            done = run_job(false, sorted, ec);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while compacting " + files_.directory().path());
        }
        whole_under_way_.store(false, std::memory_order_relaxed);
        if (!done) {
            const gate_lock gate = gate_after_writers();
            compaction_failed();
        }
    } else {
        const gate_lock gate = gate_without_backups();
        if (!writable(ec)) return;
        abort_job();  // superseded
        if (!start_whole_job(ec)) return compaction_failed();
        if (!job_) return count_empty_compaction();
        if (!advance_job(ec, 0)) compaction_failed();
    }
}

/// A compact() that found no segment to rewrite (no record since the last one) still
/// completed a compaction: stats().compactions counts every compact() that succeeded.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::count_empty_compaction() {
    const write_lock lock(mutex_);
    ++compactions_;
}

/// Advances the automatic job on the segments with the most dead bytes by one step,
/// starting it when none is under way, with write_gate_ held.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compact_now(std::error_code& ec) {
    if ((job_ || start_job(ec)) && advance_job(ec, options_.compaction_step_bytes)) return;
    compaction_failed();
}

/// Compaction of the whole store, for a salvaging open, with write_gate_ held: it
/// reads only the records the index points at (salvage dropped the damaged ones from
/// it), and writes them,
/// in index order (a sorted store's in key order, so scans read them in sequence),
/// into new segments; publishes them; starts a new active segment; switches the
/// index to them; and retires every old segment. A crash that leaves outputs and old
/// segments replays the old first, then the outputs, to the same contents. False
/// with ec set when it failed.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::compact_all(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    discard_spare();  // it would replay before the active segment made here
    const std::vector<segment_pointer> inputs = segments_.in_replay_order();
    // A hash index's for_each is in no key order.
    output_segments outputs(*this, inputs.back()->order, ordered_index, options_.segment_bytes);
    table_type table;
    // Sized for every live record at once, rather than grown as they come.
    if constexpr (requires { table.reserve(std::size_t{}); }) table.reserve(table_.size());
    std::uint64_t live = 0;
    std::string scratch;
    bool ok = true;
    table_.for_each([&](std::string_view key, std::string_view payload) {
        if (!ok) return;
        std::string_view value;
        const record_location where = record_location::decode(payload);
        if (!reader_.read(key, where, scratch, value, ec)) {
            ok = false;
            return;
        }
        record_.clear();
        append_put_record(record_, key, value);
        record_location moved{0, 0, where.value_size, 0};
        if (!outputs.append(record_, {record_type::put, 0, key, where.value_size, 0, 0, 0, 0}, moved, ec)) {
            ok = false;
            return;
        }
        char encoded[record_location::max_encoded_size];
        table.upsert(key, {encoded, moved.encode(encoded)}, [](std::string_view) {});
        live += key.size() + value.size();
    });
    if (!ok || !outputs.finish(ec)) return false;
    segment_pointer next;
    if (!outputs.publish(ec) || !create_segment(new_segment_id(), next, ec)) {
        // Some outputs may be in place: this store object must not write on as if
        // nothing had (its next writes would replay before them).
        failure_.record(ec);
        return false;
    }
    {
        const write_lock lock(mutex_);
        table_ = std::move(table);
        segments_.clear();
        for (segment_pointer& output : outputs.segments()) segments_.add(std::move(output));
        segments_.add(next);
        hints_.drop_retired(segments_);
        make_active(std::move(next), file_header::size);
        index_.set_counts(live, 0);
        finish_compaction();
    }
    files_.remove_segments(inputs);
    return true;
}

/// After a compaction, or clear(), is installed (the exclusive lock held).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::finish_compaction() {
    ++compactions_;
    all_sorted_at_ = 0;
    compaction_retry_end_ = 0;
    last_compaction_error_.clear();
    salvaged_.clear();
    file_damage_.clear();
    version_.bump();
}

/// Drops the pending job, if any, and removes its unpublished outputs and their hints.
/// A job that has published its outputs added them to the segments: they stay, with
/// its inputs, and both replay to the same contents; the index finds either.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::abort_job() {
    if (!job_) return;
    if (job_->at == job_type::phase::move) {
        job_.reset();
        return;
    }
    if (job_->at == job_type::phase::remove) {
        // Out of the store already: a later job could drop the erases that shadow
        // their records, so their files go now.
        files_.remove_segments(job_->retired);
        job_.reset();
        return;
    }
    std::error_code ignored;
    for (const segment_pointer& output : job_->outputs->segments()) {
        if (!output) continue;
        // The hint first: one left without its data file's .tmp would name a missing segment.
        if (files_.directory().remove(store_file_name::hint(output->id), ignored)) {
            files_.sync_directory(ignored);
        }
        files_.remove_unpublished_segment(output->id);
    }
    job_.reset();
}

/// After a failed compaction, with write_gate_ held: the job is dropped; the failure
/// is counted and its message kept for stats(), and automatic compaction waits until
/// the store has grown by as much as it held, or by compact_min_bytes if that is
/// more: a failure that persists (a damaged record) then costs a bounded share of the
/// writing, not a rewrite per write.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::compaction_failed() {
    abort_job();
    const std::string message = last_error_message();
    const write_lock lock(mutex_);
    ++compaction_failures_;
    last_compaction_error_ = message;
    const std::uint64_t data = data_bytes();
    compaction_retry_end_ = data + std::max(data, options_.compact_min_bytes);
}

/// Whether the job's scan or walk has ended and found its sorting job's input in key
/// order already.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::input_found_sorted(const job_type& job) noexcept {
    const segment_type& in = *job.inputs.front();
    return job.input_in_key_order(in.size - in.records_start());
}

/// Ends a sorting job whose input is in key order already, keeping the input as it
/// is, with write_gate_ held. Nothing was written.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::keep_sorted_input() {
    {
        const write_lock lock(mutex_);  // scans read it under the shared lock
        job_->inputs.front()->in_key_order = true;
    }
    job_.reset();
    all_sorted_at_ = 0;
}

/// Advances the pending job by one step, with write_gate_ held: phases run one after
/// another until the step has read and written limit bytes (0: the whole job); ending an output (its sync and hint) and publishing the outputs are steps
/// of their own, as is each chunk of index entries moved, retiring the inputs (which
/// waits while a backup runs) and removing each input's files.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::advance_job(std::error_code& ec, std::uint64_t limit) {
    std::uint64_t budget = limit == 0 ? std::numeric_limits<std::uint64_t>::max() : limit;
    while (job_) {
        if (budget == 0) return true;
        switch (job_->at) {
            case job_type::phase::walk:
                walk_index(*job_, budget);
                if (input_found_sorted(*job_)) {
                    keep_sorted_input();
                    return true;
                }
                break;
            case job_type::phase::scan:
                if (!scan_inputs(*job_, budget, ec)) return false;
                if (input_found_sorted(*job_)) {
                    keep_sorted_input();
                    return true;
                }
                break;
            case job_type::phase::copy:
                // An output the step before filled ends in a step of its own: its
                // sync (which that step's write_out made) and its hint, with a sync
                // of its own and the directory's.
                if (job_->outputs->full()) {
                    if (budget < limit) return true;
                    if (!job_->outputs->finish(ec)) return false;
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (!copy_notes(*job_, budget, ec)) return false;
                break;
            case job_type::phase::publish:
                // After the step that copied the last record: the last output ends,
                // as above, then the outputs are renamed into place, each in a step
                // of its own.
                if (budget < limit) return true;
                if (!job_->outputs->finished()) {
                    if (!job_->outputs->finish(ec)) return false;
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (!publish_outputs(ec)) return false;
                install_outputs();
                job_->at = job_type::phase::move;
                budget = limit == 0 ? budget : 0;
                break;
            case job_type::phase::move:
                if (job_->moved_entries < job_->notes.size()) {
                    if (budget < limit) return true;
                    move_entries(*job_, limit == 0 ? job_->notes.size() : entries_moved_at_once);
                    budget = limit == 0 ? budget : 0;
                    break;
                }
                if (backups_.running()) return true;
                if (!retire_job(ec)) return false;
                budget = limit == 0 ? budget : 0;
                break;
            case job_type::phase::remove:
                if (budget < limit) return true;
                remove_next_retired();
                budget = limit == 0 ? budget : 0;
                break;
        }
    }
    return true;
}

/// Starts compact()'s job, with write_gate_ held: closes the active segment unless it
/// holds no record, and takes every closed segment. They are all its inputs, so no
/// erase needs copying (no older segment outside the job holds a put it must hide).
/// No job starts when there is no closed segment.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::start_whole_job(std::error_code& ec) {
    if (writer_->end() != active_->records_start() && !roll_over(ec)) {
        return false;
    }
    std::vector<segment_pointer> inputs;
    for (const segment_pointer& in : segments_.in_replay_order()) {
        if (in != active_) inputs.push_back(in);
    }
    if (inputs.empty()) return true;
    job_type& job = job_.emplace();
    std::uint64_t order = 0;
    for (const segment_pointer& in : inputs) order = std::max(order, in->order);
    job.keep_erases.assign(inputs.size(), 0);
    job.scan_offset = inputs.front()->records_start();
    job.inputs = std::move(inputs);
    job.outputs.emplace(*this, order, true, options_.segment_bytes);
    return true;
}

/// Takes write_gate_ on the compaction thread once the writers waiting for it have
/// had it (write_gate.hpp): the thread takes it many times in a row, and would
/// otherwise take it back each time before a woken writer ran.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::gate_after_writers() -> gate_lock {
    write_gate_.lock_after_waiters();
    return gate_lock(write_gate_, std::adopt_lock);
}

/// Takes the exclusive lock as gate_after_writers takes the gate, after the readers
/// that a holder of it kept waiting, when the threading policy's mutex can
/// (striped.hpp): the compaction thread moves index entries in many short holds.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::exclusive_after_readers() const -> write_lock {
    if constexpr (requires { mutex_.lock_after_waiters(); }) {
        mutex_.lock_after_waiters();
        return write_lock(mutex_, std::adopt_lock);
    } else {
        return write_lock(mutex_);
    }
}

template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::dead_bytes_under_lock() const {
    const read_lock lock(mutex_);
    return index_.dead_bytes();
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_compaction.hpp ----
// ---- begin kvforge/stores/log/engine_compaction_background.hpp ----
/// \file engine_compaction_background.hpp
/// Automatic compaction on the compaction thread (thread_safe): the thread's work (the
/// pending hints, the spare segment, then jobs one after another while compaction is
/// due), each job holding the gate in short spells only, and the wait of writers that
/// leave too many dead bytes for it. Members of log_backend
/// (engine.hpp), part of its compaction (engine_compaction.hpp); each says what lock it takes.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <new>
#include <system_error>
#include <vector>


namespace kvforge::detail {

/// With thread_safe, after a write, holding no lock: while dead bytes stay above
/// options::compaction_stall_ratio times the live bytes, waits for the compaction
/// thread to reclaim some, for at most options::compaction_stall_micros, so that a
/// burst of writes is slowed down to what the thread keeps up with while no single
/// write waits for a whole job (as LSM stores delay writes on a compaction backlog
/// rather than stop them). The wait also ends as soon as the thread has no job
/// left, fails, or is stopped: it never outlasts the thread's own work.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::wait_for_compaction() {
    if (options_.compaction_stall_ratio <= 0 || options_.compaction_stall_micros == 0) return;
    // compact() reclaims every closed segment's dead bytes, with the thread held.
    if (whole_under_way_.load(std::memory_order_relaxed)) return;
    // Past about twelve days, the deadline would overflow the clock: no wait that long ends by time.
    const std::chrono::microseconds longest(std::min(options_.compaction_stall_micros, std::uint64_t{1} << 40));
    const auto deadline = std::chrono::steady_clock::now() + longest;
    for (;;) {
        const std::uint64_t seen = compactor_.progress();
        if (!over_stall_ceiling() || !compactor_.wait_for_progress(seen, deadline)) return;
    }
}

/// Whether the dead bytes the thread can reclaim, those in closed segments, exceed
/// the ceiling. The active segment's are left out: no job can take them, and a store
/// smaller than a segment would otherwise wait on every write.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::over_stall_ceiling() const {
    const read_lock lock(mutex_);
    if (!open_) return false;
    const std::uint64_t reclaimable = index_.dead_bytes() - active_->dead_bytes;
    return static_cast<double>(reclaimable) >
           options_.compaction_stall_ratio * static_cast<double>(index_.live_bytes());
}

/// The compaction thread's work (thread_safe): the hints of closed segments still
/// waiting for one, then jobs one after another while compaction is still due and each
/// job reclaims dead bytes or sorts a segment, and before each the spare segment once
/// the active one is half full (the writers go on meanwhile, and may need it before
/// the jobs end). A job takes about one segment's live records, so the writes that
/// made compaction due may have ended long before the store is back under
/// compact_dead_ratio: the thread goes on without them. Failures count as the steps' do.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::run_background_job() {
    while (!compactor_.interrupted() && write_pending_hint()) {
    }
    for (;;) {
        if (!compactor_.interrupted()) prepare_spare();
        const std::uint64_t dead_before = dead_bytes_under_lock();
        std::error_code ec;
        bool done = false;
        bool sorted = false;
        try {
            done = background_job(sorted, ec);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory),
                 "out of memory while compacting " + files_.directory().path());
        }
        if (!done) {
            const gate_lock gate = gate_after_writers();
            compaction_failed();
            return;
        }
        if (compactor_.interrupted() || (!sorted && dead_bytes_under_lock() >= dead_before)) return;
        const gate_lock gate = gate_after_writers();
        std::error_code closed;
        if (!writable(closed) || !compaction_due()) return;
    }
}

/// An automatic job on the compaction thread: started with write_gate_ held, then run
/// (run_job), a hold or stop() dropping it between its chunks until it publishes. False
/// with ec set when it failed; sorted tells whether the job was a sorting job that
/// ended (its input rewritten, or found in key order).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::background_job(bool& sorted, std::error_code& ec) {
    {
        const gate_lock gate = gate_after_writers();
        std::error_code closed;
        if (!writable(closed) || !compaction_due()) return true;
        if (!start_job(ec)) return false;
        if (!job_) return true;
    }
    return run_job(true, sorted, ec);
}

/// Runs the job started (an automatic one on the compaction thread, compact()'s on its
/// caller's): scanned, sorted and copied with no gate, in chunks of
/// compaction_step_bytes between which, when interruptible, a hold or stop() drops it;
/// published with no gate; its index entries moved in chunks that each hold the gate
/// briefly; its inputs retired under the gate once no backup runs. False with ec set
/// when it failed; sorted as background_job says.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::run_job(bool interruptible, bool& sorted, std::error_code& ec) {
    const bool sorting = job_->sorting;
    const std::uint64_t chunk = options_.compaction_step_bytes != 0 ? options_.compaction_step_bytes
                                                                            : kvforge::options{}.compaction_step_bytes;
    while (job_->at != job_type::phase::publish) {
        if (interruptible && compactor_.interrupted()) {
            abort_job();
            return true;
        }
        std::uint64_t budget = chunk;
        if (job_->at == job_type::phase::walk) {
            walk_index(*job_, budget);
        } else if (!(job_->at == job_type::phase::scan ? scan_inputs(*job_, budget, ec)
                                                       : copy_notes(*job_, budget, ec))) {
            return false;
        }
        if (input_found_sorted(*job_)) {
            const gate_lock gate = gate_after_writers();
            keep_sorted_input();
            sorted = true;
            return true;
        }
    }
    if (interruptible && compactor_.interrupted()) {
        abort_job();
        return true;
    }
    if (!publish_outputs(ec)) return false;
    {
        const gate_lock gate = gate_after_writers();
        install_outputs();
        job_->at = job_type::phase::move;
    }
    while (job_->moved_entries < job_->notes.size()) {
        const gate_lock gate = gate_after_writers();
        move_entries(*job_, entries_moved_at_once);
    }
    // As in retire_job: the newer records that left older ones behind are durable
    // before the inputs go. They are handed to the OS under the gate, and synced
    // with none held; segments closed meanwhile were drained as they closed.
    segment_pointer written;
    {
        const gate_lock gate = gate_after_writers();
        call_writer(&writer_type::flush, ec);
        if (ec) return false;
        written = active_;
    }
    if (!files_.sync_file(written->file, ec)) {
        failure_.record(ec);  // a failed sync is never retried
        return false;
    }
    std::vector<segment_pointer> retired;
    {
        const gate_lock gate = gate_without_backups();
        retired = retire_inputs();
    }
    compactor_.progressed();
    job_.reset();  // its notes are freed with no gate held
    files_.remove_segments(retired);
    sorted = sorting;
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_compaction_background.hpp ----
// ---- begin kvforge/stores/log/engine_compaction_choice.hpp ----
/// \file engine_compaction_choice.hpp
/// What an automatic compaction job takes: whether one is due (dead bytes to reclaim, or
/// a closed segment to sort), the closed segments it rewrites (compactor.hpp picks them)
/// or the one it sorts, and the job started on them. Members of log_backend
/// (engine.hpp), part of its compaction (engine_compaction.hpp), called with the write gate held.

#include <algorithm>
#include <cstdint>
#include <system_error>
#include <utility>
#include <vector>

// ---- begin kvforge/stores/log/compactor.hpp ----
/// \file compactor.hpp
/// What a compaction job of a log store rewrites: the closed segments with the largest
/// share of dead bytes, as many as the live records of about one segment, and which of
/// their records it copies.
///
/// A put is copied when the index points at it (it is its key's newest record). An
/// erase is copied when its key is absent (no newer put came after it) and some segment
/// that replays before its own is not an input of the job: that segment may hold an
/// older put of the key, which the erase must go on hiding. Otherwise it is dropped, as
/// every other record of the inputs.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>


namespace kvforge::detail {

/// Bytes of a segment's records that are live (not dead), up to end.
template <class IO>
[[nodiscard]] std::uint64_t live_bytes_of(const segment<IO>& in, std::uint64_t end) noexcept {
    const std::uint64_t records = end - in.records_start();
    return records > in.dead_bytes ? records - in.dead_bytes : 0;
}

/// The share of a closed segment's record bytes that are dead.
template <class IO>
[[nodiscard]] double dead_share(const segment<IO>& in) noexcept {
    const std::uint64_t records = in.size > in.records_start() ? in.size - in.records_start() : 0;
    return records == 0 ? 0.0 : static_cast<double>(in.dead_bytes) / static_cast<double>(records);
}

/// Whether a comes before b among pick_inputs()'s candidates: the higher dead share first,
/// ties in replay order (the order the candidates are gathered in).
template <class IO>
[[nodiscard]] bool more_dead_first(const segment<IO>& a, const segment<IO>& b) noexcept {
    const double a_share = dead_share(a);
    const double b_share = dead_share(b);
    return a_share != b_share ? a_share > b_share : a.replays_before(b);
}

/// The inputs of the next job among the closed segments (every segment but active),
/// highest dead share first, while their live bytes fit in budget (at least one is
/// picked when any has dead bytes). A segment holding a clear record is picked only
/// when nothing replays before it, so that the clear record is dropped rather than
/// moved after records it must not drop.
template <class IO>
[[nodiscard]] std::vector<std::shared_ptr<segment<IO>>> pick_inputs(const segment_set<IO>& segments,
                                                                    const segment<IO>* active, std::uint64_t budget) {
    using pointer = std::shared_ptr<segment<IO>>;
    const std::vector<pointer> ordered = segments.in_replay_order();
    std::vector<pointer> candidates;
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        const pointer& in = ordered[i];
        if (in.get() == active || in->dead_bytes == 0 || (in->holds_clear && i != 0)) continue;
        candidates.push_back(in);
    }
    sort_segments(candidates, &more_dead_first<IO>);
    std::vector<pointer> picked;
    std::uint64_t live = 0;
    for (const pointer& in : candidates) {
        const std::uint64_t more = live_bytes_of(*in, in->size);
        if (!picked.empty() && live + more > budget) break;
        picked.push_back(in);
        live += more;
    }
    return picked;
}

/// Whether an erase record of segment `in` must be copied by a job whose inputs are
/// `inputs` (its key being absent): some segment replaying before `in` is not an input.
template <class IO>
[[nodiscard]] bool older_segment_outside(const segment_set<IO>& segments, const segment<IO>& in,
                                         const std::vector<std::shared_ptr<segment<IO>>>& inputs) {
    for (const auto& other : segments.by_id()) {
        if (!other->replays_before(in)) continue;
        const bool input = std::any_of(inputs.begin(), inputs.end(), [&](const auto& i) { return i == other; });
        if (!input) return true;
    }
    return false;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/compactor.hpp ----

namespace kvforge::detail {

/// Whether automatic compaction is due: dead bytes past compact_dead_ratio of the
/// data, which holds at least compact_min_bytes and, after a failure, has grown past
/// where the retry waits; never while a backup runs.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::wants_compaction() const {
    if (options_.compact_dead_ratio <= 0) return false;
    // A backup copies the segments compaction would retire: the trigger waits for it.
    if (backups_.running()) return false;
    const std::uint64_t data = data_bytes();
    return data >= options_.compact_min_bytes && data >= compaction_retry_end_ &&
           static_cast<double>(index_.dead_bytes()) >
               options_.compact_dead_ratio * static_cast<double>(data);
}

/// Whether a closed segment waits to be rewritten in key order, with write_gate_ held
/// (options::sort_closed_segments): a sorted store's, holding at least
/// compact_min_bytes, unless automatic compaction is off, a backup runs, or a failure
/// makes it wait as wants_compaction says. It waits too while dead bytes exceed half
/// of compact_dead_ratio of the data: a store being overwritten has its segments
/// rewritten, in key order, by the jobs that reclaim them, and sorting them ahead of
/// those would write them once more.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::wants_sorting() {
    return sorting_allowed() && unsorted_segment();
}

/// wants_sorting() but for the segment to sort: whether sorting jobs may run now.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::sorting_allowed() const {
    if constexpr (!ordered_index) {
        return false;
    } else {
        const kvforge::options& o = options_;
        if (!o.sort_closed_segments || o.compact_dead_ratio <= 0 || o.read_only) return false;
        if (backups_.running()) return false;
        const std::uint64_t data = data_bytes();
        return data >= o.compact_min_bytes && data >= compaction_retry_end_ &&
               static_cast<double>(index_.dead_bytes()) <= o.compact_dead_ratio / 2 * static_cast<double>(data);
    }
}

/// At close, with write_gate_ held (options::sort_closed_segments): closes the active
/// segment when it holds records of at least 1/active_share_at_close of segment_bytes,
/// then ends the job under way and sorts closed segments not in key order, so that the
/// next open finds each segment in key order and a scan reads each front to back (the
/// active segment of a store filled in random order holds up to a segment of scattered
/// records). It sorts at most as many segments as rollovers closed since the store
/// opened, so that close() does work in proportion to what this open wrote: the
/// unsorted segments of a store written before sorting was on are left to the jobs
/// that follow writes. A smaller active segment stays as it is: a store written a
/// little between closes would otherwise gain a segment at each. A rollover or job that
/// fails counts as a failed compaction and leaves the segments as they are (what a
/// failed write left unwritten, the close reports).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::sort_before_close() {
    if constexpr (ordered_index) {
        constexpr std::uint64_t active_share_at_close = 16;
        std::error_code ec;
        if (!writable(ec) || !sorting_allowed()) return;
        const std::uint64_t records = writer_->end() - active_->records_start();
        if (records != 0 && records >= options_.segment_bytes / active_share_at_close &&
            !roll_over(ec)) {
            compaction_failed();
            return;
        }
        std::uint64_t sorts_left = segments_closed();
        while ((job_ || (sorts_left != 0 && wants_sorting())) && !backups_.running()) {
            if (!job_) {
                start_sorting_job();
                --sorts_left;
            }
            if (!advance_job(ec, options_.compaction_step_bytes)) {
                compaction_failed();
                return;
            }
        }
    }
}

/// The closed segment a sorting job takes next, with write_gate_ held: the one
/// replaying first of those not known to be in key order, leaving out one that holds
/// a clear record unless nothing replays before it (as pick_inputs does); null when
/// there is none. Remembers that there is none until a segment closes (the active
/// one changes) or a job ends.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::unsorted_segment() -> segment_pointer {
    if (all_sorted_at_ != 0 && all_sorted_at_ == active_->id) return nullptr;
    const std::vector<segment_pointer>& segments = segments_.by_id();
    segment_pointer oldest;
    segment_pointer picked;
    for (const segment_pointer& in : segments) {
        if (!oldest || in->replays_before(*oldest)) oldest = in;
    }
    for (const segment_pointer& in : segments) {
        if (in == active_ || in->in_key_order || (in->holds_clear && in != oldest)) continue;
        if (!picked || in->replays_before(*picked)) picked = in;
    }
    if (!picked) all_sorted_at_ = active_->id;
    return picked;
}

/// Starts an automatic compaction job, with write_gate_ held: the closed segments
/// with the largest share of dead bytes, as many as hold about one segment of live
/// records. When the active segment has a larger share than any closed one, it is
/// closed first, to be one of them. With nothing to gain, automatic compaction waits
/// for the store to grow by compact_min_bytes (and no job starts). When no dead bytes
/// make compaction due, a sorting job on one closed segment starts instead, if one
/// is wanted.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::start_job(std::error_code& ec) {
    if (!wants_compaction()) {
        if (wants_sorting()) start_sorting_job();
        return true;
    }
    double closed_share = 0;
    for (const segment_pointer& in : segments_.by_id()) {
        if (in != active_) closed_share = std::max(closed_share, dead_share(*in));
    }
    const std::uint64_t active_records = writer_->end() - active_->records_start();
    const double active_share =
        active_records == 0 ? 0.0
                            : static_cast<double>(active_->dead_bytes) / static_cast<double>(active_records);
    if (active_share > closed_share && !roll_over(ec)) return false;
    std::vector<segment_pointer> inputs =
        pick_inputs(segments_, active_.get(), options_.segment_bytes);
    if (inputs.empty()) {
        const write_lock lock(mutex_);
        compaction_retry_end_ = data_bytes() + options_.compact_min_bytes;
        return true;
    }
    sort_segments(inputs, &segment_type::in_replay_order);
    job_type& job = job_.emplace();
    std::uint64_t order = 0;
    for (const segment_pointer& in : inputs) {
        job.keep_erases.push_back(older_segment_outside(segments_, *in, inputs));
        order = std::max(order, in->order);
    }
    job.scan_offset = inputs.front()->records_start();
    job.inputs = std::move(inputs);
    // The copy merges the scan's sorted runs.
    job.outputs.emplace(*this, order, true, options_.segment_bytes);
    return true;
}

/// Starts a job that rewrites the closed segment unsorted_segment() gives in key
/// order, with write_gate_ held. It walks the index rather than scan the segment when
/// the segment holds at least 1/walk_share_limit of the store's live bytes: a walk
/// visits every entry of the index, at a small fraction of the cost of a look-up, sort
/// and merge per record of the input, so with a store of many segments it would cost
/// more than it saves (and jobs over all of them would cost the square of its size).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::start_sorting_job() {
    segment_pointer in = unsorted_segment();
    if (!in) return;
    job_type& job = job_.emplace();
    job.sorting = true;
    if constexpr (walkable_index) {
        constexpr std::uint64_t walk_share_limit = 32;
        const std::uint64_t records = in->size - in->records_start();
        const std::uint64_t held = records - std::min(in->dead_bytes, records);
        if (index_.live_bytes() <= walk_share_limit * held) {
            job.walks_index = true;
            job.at = job_type::phase::walk;
        }
    }
    job.keep_erases.push_back(older_segment_outside(segments_, *in, {in}));
    job.scan_offset = in->records_start();
    job.outputs.emplace(*this, in->order, true, std::max(options_.segment_bytes, in->size));
    job.inputs.push_back(std::move(in));
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_compaction_choice.hpp ----
// ---- begin kvforge/stores/log/engine_compaction_outputs.hpp ----
/// \file engine_compaction_outputs.hpp
/// A compaction job's output segments: written one after another up to segment_bytes
/// each, synced with their hints beside them, then published (renamed into place). A
/// member class of log_backend (engine.hpp), used by its compaction (engine_compaction.hpp);
/// it reaches the engine's files, hints and reader. An output that is full may be finished on its own
/// (finish), so that a job in steps ends each output in a step of its own.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// The output segments of a compaction job, written one after another up to
/// segment_bytes each (a sorting job's: up to its input's size, which may pass
/// segment_bytes by a record, so that it makes one output); each is synced, with its
/// hint written beside it, before any is renamed into place (publish). Outputs replay
/// at `order`, the highest of the job's inputs, after them (their ids are higher) and
/// before every newer segment.
template <class Policies, bool Mapped>
class log_backend<Policies, Mapped>::output_segments {
public:
    /// in_key_order: the records come in key order (outputs say so: in_key_order).
    output_segments(log_backend& engine, std::uint64_t order, bool in_key_order, std::uint64_t bytes_each) noexcept
        : engine_(engine), order_(order), in_key_order_(in_key_order), bytes_each_(bytes_each) {}

    /// Appends a record, which entry describes (its offset aside); where it went
    /// comes back in where.segment and where.offset.
    bool append(std::string_view record, hint_entry entry, record_location& where, std::error_code& ec) {
        if (outputs_.empty() || finished_ || full()) {
            if (!finish(ec)) return false;
            segment_pointer next;
            if (!engine_.files_.start_segment(engine_.new_segment_id(), order_, next, ec)) return false;
            next->in_key_order = in_key_order_;
            outputs_.push_back(std::move(next));
            end_ = file_header::size;
            synced_end_ = 0;
            finished_ = false;
            if (engine_.options_.write_hints) hint_.emplace(engine_.hints_.identity(*outputs_.back()));
        }
        where.segment = outputs_.back()->id;
        where.offset = static_cast<std::uint32_t>(end_ + pending_.size());
        entry.offset = where.offset;
        if (hint_) hint_->add(entry);
        if (entry.type != record_type::put) outputs_.back()->dead_bytes += record.size();  // a tombstone
        pending_.append(record);
        return pending_.size() < (std::size_t{1} << 20) || write_pending(ec);
    }

    /// Whether the newest output holds segment_bytes and waits to be finished: the next
    /// record goes to a new one.
    [[nodiscard]] bool full() const noexcept {
        return !outputs_.empty() && !finished_ && end_ + pending_.size() >= bytes_each_;
    }

    /// Writes and syncs what was appended to the newest output: a compaction step
    /// ends with its own writes on disk, so that the sync that ends an output
    /// finds little left to write rather than a whole segment.
    bool write_out(std::error_code& ec) {
        if (pending_.empty()) return true;
        return write_pending(ec) && sync_newest(ec);
    }

    /// Whether the newest output is finished (or none was started): publish has
    /// nothing left to write.
    [[nodiscard]] bool finished() const noexcept { return outputs_.empty() || finished_; }

    /// Finishes the newest output, once: writes and syncs what it still lacks, and
    /// writes its hint beside it.
    bool finish(std::error_code& ec) { return finished() || finish_current(ec); }

    /// Renames the outputs into place and syncs the directory. Once it has begun,
    /// a failure leaves some outputs in place: the store object must write no more.
    bool publish(std::error_code& ec) {
        for (const segment_pointer& output : outputs_) {
            const store_file_name name = store_file_name::data(output->id);
            if (!engine_.files_.directory().rename(name.temporary(), name, ec)) return false;
            output->file.renamed(engine_.files_.directory().file_path(name));
        }
        for (const segment_pointer& output : outputs_) engine_.reader_.map_final(*output, output->size);
        return outputs_.empty() || engine_.files_.sync_directory(ec);
    }

    [[nodiscard]] std::vector<segment_pointer>& segments() noexcept { return outputs_; }

private:
    bool write_pending(std::error_code& ec) {
        if (!engine_.files_.write_counted(outputs_.back()->file, end_, pending_, ec)) return false;
        end_ += pending_.size();
        pending_.clear();
        return true;
    }

    /// Syncs the newest output up to end_, unless a step's write_out synced it so far.
    bool sync_newest(std::error_code& ec) {
        if (synced_end_ == end_) return true;
        if (!engine_.files_.sync_file(outputs_.back()->file, ec)) {
            engine_.failure_.record(ec);  // a failed sync is never retried
            return false;
        }
        synced_end_ = end_;
        return true;
    }

    bool finish_current(std::error_code& ec) {
        segment_type& output = *outputs_.back();
        if (!write_pending(ec) || !sync_newest(ec)) return false;
        output.size = end_;
        if (hint_) engine_.hints_.write_hint_of(output, *hint_);
        hint_.reset();
        finished_ = true;
        return true;
    }

    log_backend& engine_;
    std::uint64_t order_;
    bool in_key_order_;
    std::uint64_t bytes_each_;
    std::vector<segment_pointer> outputs_;
    std::optional<hint_builder> hint_;
    std::string pending_;           // records not yet written to the newest output
    std::uint64_t end_ = 0;         // where pending_ goes in the newest output
    std::uint64_t synced_end_ = 0;  // how much of the newest output is synced
    bool finished_ = false;         // the newest output synced, with its hint written
};

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_compaction_outputs.hpp ----
// ---- begin kvforge/stores/log/engine_compaction_phases.hpp ----
/// \file engine_compaction_phases.hpp
/// The phases of one compaction job (compaction_job.hpp): the scan of its inputs, the
/// copy of the records it keeps into its outputs, their publishing, the move of index
/// entries to the copies, and the retiring of the inputs and removal of their files.
/// Members of log_backend (engine.hpp), whose compaction (engine_compaction.hpp) runs them a step at a
/// time or on the compaction thread; each says what lock it takes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// The scan phase: notes the live puts and needed erases of the inputs' records,
/// reading about budget bytes (at least one record), and sorts them, a run of their
/// own (a step sorts only what it read). The inputs are closed, so it reads them with
/// no lock; each look-up in the index takes the shared lock (the compaction thread
/// runs with no gate held).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::scan_inputs(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    const segment_type& in = *job.inputs[job.scanning];
    const bool keep_erases = job.keep_erases[job.scanning];
    const std::uint64_t begin = job.scan_offset;
    const std::size_t run_begin = job.notes.size();
    log_scan_result scanned;
    // A record may end past the budget: the scan then reads on until it ends.
    for (std::uint64_t span = budget;; span *= 2) {
        const std::uint64_t end = in.size - begin > span ? begin + span : in.size;
        const bool scanned_ok = scan_log(
            in.file, begin, end, in.version, true,
            [&](const log_entry& entry) {
                // After a walk, which noted the puts, only erases are wanted.
                if (job.walks_index && entry.type != record_type::erase) return;
                if (job.sorting && !job.walks_index) job.input_order.next(entry.key);
                const read_lock lock(mutex_);
                if (entry.type == record_type::put) {
                    const auto payload = table_.find(entry.key);
                    if (!payload) return;
                    const record_location where = record_location::decode(*payload);
                    if (where.segment != in.id || where.offset != entry.offset) return;
                    job.add_note(entry.key, where, false);
                } else if (entry.type == record_type::erase && keep_erases && !table_.find(entry.key)) {
                    job.add_note(entry.key, {}, true);
                }
            },
            scanned, ec);
        if (!scanned_ok) return false;
        for (const damaged_record& damage : scanned.damage) {
            if (!drop_damage(job, damage.offset, end, ec)) return false;
        }
        if (!scanned.torn_tail || scanned.valid_end > begin) break;
        if (end == in.size) {
            fail(ec, errc::corrupt_record,
                 in.file.path() + ": incomplete record at the end of a closed segment, at offset " +
                     std::to_string(scanned.valid_end) + "; open with options::salvage to keep the intact records");
            return false;
        }
        scanned = {};
    }
    const std::uint64_t read = scanned.valid_end - begin;
    budget -= std::min(budget, read);
    const auto run_start = job.notes.begin() + static_cast<std::ptrdiff_t>(run_begin);
    std::sort(run_start, job.notes.end(),
              [&job](const auto& a, const auto& b) { return job.key_of(a) < job.key_of(b); });
    if (run_begin < job.notes.size()) job.runs.push_back({run_begin, job.notes.size()});
    job.scan_offset = scanned.valid_end;
    if (job.scan_offset < in.size) return true;
    if (++job.scanning < job.inputs.size()) {
        job.scan_offset = job.inputs[job.scanning]->records_start();
        return true;
    }
    end_scan(job);
    return true;
}

/// After the scan passed over a damaged record at offset bad of the input it is in
/// (scan_log with skip_damage, over bytes up to end): counts the bytes up to the next
/// intact record as dropped, when no index entry points into them (walking the whole
/// index, with the shared lock held: damage is rare) and the input's erases need not be
/// kept. Otherwise fails with errc::corrupt_record, as a scan that met the damage did
/// before: the record may be a key's newest, or an erase that hides an older put.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::drop_damage(job_type& job, std::uint64_t bad, std::uint64_t end,
                                                       std::error_code& ec) {
    const segment_type& in = *job.inputs[job.scanning];
    std::uint64_t next = end;
    if (!find_intact_record_after(in.file, bad, end, in.version, next, ec)) return false;
    bool live = false;
    if (!job.keep_erases[job.scanning]) {
        const read_lock lock(mutex_);
        table_.for_each([&](std::string_view, std::string_view payload) {
            const record_location where = record_location::decode(payload);
            if (where.segment == in.id && where.offset >= bad && where.offset < next) live = true;
        });
    }
    if (live || job.keep_erases[job.scanning]) {
        fail(ec, errc::corrupt_record,
             in.file.path() + ": damaged record at offset " + std::to_string(bad) +
                 (live ? " holding a key's newest value" : ", which may be an erase that an older segment needs,") +
                 " with intact records after it; open with options::salvage to keep the intact ones");
        return false;
    }
    job.damaged_bytes += next - bad;
    return true;
}

/// The walk phase of a sorting job whose index is ordered (compaction_job.hpp): visits
/// index entries in key order from job.walk_from on, noting those that point into the
/// input, about budget bytes (those records' sizes, and the other entries' keys and
/// payloads), the shared lock held for entries_walked_at_once at most. The notes come
/// in key order: one run. Once the index ends, the input is scanned for its erases when
/// some may be needed (the walk did not note all of its bytes), else the copy begins.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::walk_index(job_type& job, std::uint64_t& budget) {
    if constexpr (walkable_index) {
        const segment_type& in = *job.inputs.front();
        bool ended = false;
        while (budget > 0 && !ended) {
            const read_lock lock(mutex_);
            std::size_t visited = 0;
            ended = true;
            table_.visit_from(job.walk_from, true, [&](std::string_view key, std::string_view payload) {
                if (visited == entries_walked_at_once || budget == 0) {
                    job.walk_from.assign(key);  // not visited: the next walk begins with it
                    ended = false;
                    return false;
                }
                ++visited;
                const record_location where = record_location::decode(payload);
                if (where.segment != in.id) {
                    budget -= std::min<std::uint64_t>(budget, key.size() + payload.size());
                    return true;
                }
                const std::uint64_t size = where.record_size(key.size());
                if (where.offset < job.walked_end) job.walked_in_file_order = false;
                job.walked_end = where.offset + size;
                job.walked_bytes += size;
                job.add_note(key, where, false);
                budget -= std::min(budget, size);
                return true;
            });
        }
        if (!ended) return;
        job.walked_notes = job.notes.size();
        if (!job.notes.empty()) job.runs.push_back({0, job.notes.size()});
        if (job.keep_erases.front() && job.walked_bytes != in.size - in.records_start()) {
            job.at = job_type::phase::scan;
        } else {
            end_scan(job);
        }
    } else {
        static_cast<void>(job);
        static_cast<void>(budget);
    }
}

/// Ends the scan (or walk): the runs become a heap, and the copy begins.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::end_scan(job_type& job) {
    std::make_heap(job.runs.begin(), job.runs.end(), later_run(job));
    job.moved.resize(job.notes.size());
    job.at = job_type::phase::copy;
}

/// The order of job.runs' heap: a run whose next note's key is greater comes later, and
/// of two notes of one key, an erase after a put.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::later_run(const job_type& job) noexcept {
    return [&job](const typename job_type::run& a, const typename job_type::run& b) {
        const auto& first = job.notes[a.next];
        const auto& second = job.notes[b.next];
        const std::string_view first_key = job.key_of(first);
        const std::string_view second_key = job.key_of(second);
        return second_key < first_key || (second_key == first_key && !second.erase && first.erase);
    };
}

/// The next note to copy, in key order, taken from job.runs; false when none is left.
/// Erases of one key are copied once. A scan never notes both a put of a key and an
/// erase of it; a walk and the scan after it may (the key erased in between), and then
/// the put is copied, which replays as the input did (it came after the erase there).
/// ahead is the note copy_distance places after it in its run (at itself if none).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::next_note(job_type& job, std::size_t& at, std::size_t& ahead) {
    const auto later = later_run(job);
    while (!job.runs.empty()) {
        std::pop_heap(job.runs.begin(), job.runs.end(), later);
        typename job_type::run& run = job.runs.back();
        at = run.next++;
        ahead = run.end - at > copy_distance ? at + copy_distance : at;
        if (run.next == run.end) {
            job.runs.pop_back();
        } else {
            std::push_heap(job.runs.begin(), job.runs.end(), later);
        }
        if (!job.copied || job.key_of(job.notes[*job.copied]) != job.key_of(job.notes[at])) return true;
    }
    return false;
}

/// The copy phase: copies noted records into the outputs, about budget bytes (at
/// least one record) or up to the record that fills an output, which the next call
/// finishes (append) before it copies on: each put's record as it lies where the scan
/// found it, its checksum checked (the shared lock held for each read, for the
/// segments it finds the input in). Notes in key order are records far apart in an
/// input filled in random order: each read starts loading the record its run copies
/// copy_distance notes later.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::copy_notes(job_type& job, std::uint64_t& budget, std::error_code& ec) {
    std::string scratch;
    std::string erase;                     // not record_: on the compaction thread, writers use it meanwhile
    recent_segments<segment_type> recent;  // finds only the inputs, which the job holds
    std::size_t at = 0;
    std::size_t ahead = 0;
    while (budget > 0 && next_note(job, at, ahead)) {
        const auto& n = job.notes[at];
        const std::string_view key = job.key_of(n);
        record_location& moved = job.moved[at];
        hint_entry entry;
        entry.key = key;
        std::string_view record;
        if (n.erase) {
            erase.clear();
            append_erase_record(erase, key);
            record = erase;
            entry.type = record_type::erase;
        } else {
            record_info info;
            const read_lock lock(mutex_);
            if (ahead != at) {
                const auto& later = job.notes[ahead];
                if (!later.erase) reader_.prefetch(later.key_size, later.from, recent);
            }
            if (!reader_.read_record(key, n.from, scratch, record, info, ec, nullptr, &recent)) return false;
            entry.flags = info.flags;
            entry.value_size = n.from.value_size;
            entry.deadline = info.deadline;
            entry.tag = info.tag;
            moved.value_size = n.from.value_size;
            moved.flags = info.flags;
        }
        if (!job.outputs->append(record, entry, moved, ec)) return false;
        // Read once and written once.
        budget -= std::min(budget, 2 * record.size());
        job.copied = at;
        if (job.outputs->full()) break;  // ended before the next record (single_thread: a step of its own)
    }
    if (job.runs.empty()) job.at = job_type::phase::publish;
    return job.outputs->write_out(ec);
}

/// Retires the inputs of a job whose index entries have moved, with write_gate_ held
/// and no backup running: makes the writer's records durable, then takes the inputs
/// out of the store. Their files go in the steps after, one input's a step
/// (remove_next_retired): each costs a directory sync, and the kernel frees a
/// segment's cached pages and blocks when its file goes (7-12 ms for 32 MiB here).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::retire_job(std::error_code& ec) {
    // A record is left behind when a newer one of its key exists; that newer one may
    // still sit in the writer's buffer, and must be durable before the older is
    // removed, or a power loss would lose the key.
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    job_->retired = retire_inputs();
    job_->at = job_type::phase::remove;
    return true;
}

/// Removes the files of the job's next retired input, in replay order, and ends the
/// job after the last; no other job starts before, so none can drop an erase whose
/// older record is still in a file of them. Should a removal fail, the rest stay for
/// the next open, which replays them to the same contents (as remove_segments).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::remove_next_retired() {
    std::vector<segment_pointer>& retired = job_->retired;
    if (!retired.empty() && files_.remove_segment(*retired.front())) {
        retired.erase(retired.begin());  // closes its file unless a reader holds it
    } else {
        retired.clear();
    }
    if (retired.empty()) job_.reset();
}

/// Writes and syncs the last output, then renames the outputs into place. Once that
/// has begun, the outputs are segments of the store and never removed unretired: a
/// published copy of a key erased since would come back at the next open if the
/// store forgot it. A failure to publish stops the store's writes (some outputs may
/// be in place).
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::publish_outputs(std::error_code& ec) {
    if (!job_->outputs->finish(ec)) return false;
    if (job_->outputs->publish(ec)) return true;
    failure_.record(ec);
    return false;
}

/// Adds the published outputs to the segments, with write_gate_ held, so that readers
/// find the copies index entries move to. Until the inputs are retired, both are
/// segments of the store: a backup that copies both replays to the same contents.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::install_outputs() {
    const write_lock lock(mutex_);
    for (const segment_pointer& output : job_->outputs->segments()) {
        index_.add_segment(*output);
        segments_.add(output);
    }
}

/// Moves up to count more index entries, each to its copy when the entry still
/// points where the copy was read from, with write_gate_ held.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::move_entries(job_type& job, std::size_t count) {
    const write_lock lock = exclusive_after_readers();
    if (job.walks_index) {
        move_walked_entries(job, count);
        return;
    }
    const std::size_t end = job.notes.size() - job.moved_entries > count ? job.moved_entries + count : job.notes.size();
    for (; job.moved_entries < end; ++job.moved_entries) {
        const auto& n = job.notes[job.moved_entries];
        if (n.erase) continue;
        const record_location& copy = job.moved[job.moved_entries];
        const std::string_view key = job.key_of(n);
        const auto payload = table_.find(key);
        const record_location where = payload ? record_location::decode(*payload) : record_location{};
        if (!payload || where.segment != n.from.segment || where.offset != n.from.offset) {
            copy_is_dead(job, job.moved_entries);  // written or erased since the scan
            continue;
        }
        char encoded[record_location::max_encoded_size];
        table_.upsert(key, {encoded, copy.encode(encoded)}, [](std::string_view) {});
    }
}

/// move_entries of a job that walked the index, the exclusive lock held: walks the
/// index again from the next note's key, in key order, visiting walk_visits_per_note
/// entries a note at most. The entries that still point into the input are some of the
/// walk's notes, in the same order (a key written since points elsewhere, and no entry
/// comes to point into a closed segment), so each such entry moves to the copy of the
/// note with its offset; the notes passed over on the way, those of keys the walk has
/// gone past, and those past the index's end, are copies of keys written or erased since.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::move_walked_entries(job_type& job, std::size_t count) {
    if constexpr (walkable_index) {
        const std::uint32_t input = job.inputs.front()->id;
        const std::size_t end = std::min(job.walked_notes, job.moved_entries + count);
        std::size_t& next = job.moved_entries;
        std::size_t visits_left = walk_visits_per_note * count;
        bool index_ended = true;
        const auto move = [&](std::string_view key, std::string_view payload, auto& replace) {
            if (visits_left-- == 0) {
                // Not visited: the notes of keys before it have no entry in the input.
                while (next < end && job.key_of(job.notes[next]) < key) copy_is_dead(job, next++);
                index_ended = false;
                return false;
            }
            const record_location where = record_location::decode(payload);
            if (where.segment != input) return true;
            while (next < end && job.notes[next].from.offset != where.offset) copy_is_dead(job, next++);
            if (next == end) return false;
            char encoded[record_location::max_encoded_size];
            replace(std::string_view(encoded, job.moved[next].encode(encoded)));
            return ++next < end;
        };
        if (next < end) table_.update_from(job.key_of(job.notes[next]), true, move);
        if (index_ended) {
            while (next < end) copy_is_dead(job, next++);
        }
        // The erases the scan noted after the walk have no entries.
        if (next == job.walked_notes) next = job.notes.size();
    } else {
        static_cast<void>(job);
        static_cast<void>(count);
    }
}

/// Counts the copy of note `at`, whose key was written or erased since the scan, as
/// dead in its output.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::copy_is_dead(job_type& job, std::size_t at) {
    const auto& n = job.notes[at];
    if (segment_type* const output = segments_.find(job.moved[at].segment)) {
        index_.add_dead(*output, n.from.record_size(n.key_size));
    }
}

/// Takes the inputs out of the segments, with write_gate_ held, no backup running
/// and the writer drained; returns the inputs, whose files the caller removes
/// (remove_segments, or remove_next_retired a step at a time).
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::retire_inputs() -> std::vector<segment_pointer> {
    std::vector<segment_pointer> retired = std::move(job_->inputs);
    const write_lock lock(mutex_);
    damaged_bytes_dropped_ += job_->damaged_bytes;
    for (const segment_pointer& in : retired) {
        index_.remove_segment(*in);
        segments_.remove(in->id);
    }
    hints_.drop_retired(segments_);
    finish_compaction();
    return retired;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_compaction_phases.hpp ----
// ---- begin kvforge/stores/log/engine_cuts.hpp ----
/// \file engine_cuts.hpp
/// Members of log_backend (engine.hpp): the store taken as it is at a cut: backup()'s
/// copy of its files (backup.hpp), snapshot()'s read-only view (snapshot.hpp), and the
/// thread_safe for_each, which walks a snapshot of its own.
///
/// The cut is taken under write_gate_: the writer's buffered records are flushed to the
/// files, then the segments are held and the active one's end noted, so every write that
/// returned before the call is in the files up to the cut, and writes that start after
/// it are not. A backup then copies with no lock held while writers go on, counted
/// (active_calls.hpp) so that close() waits for it, and no segment is retired meanwhile
/// (backups_running.hpp). A snapshot copies the index under the read lock as well;
/// compaction and clear() retire segments as ever, since a retired segment stays
/// readable through the snapshot's hold on it. With thread_safe, for_each walks a
/// snapshot of its own, so it holds no lock while its visitor runs; taking one waits, as
/// a writer does, for a compact() or clear() under way.

#include <optional>
#include <string>
#include <string_view>
#include <system_error>


namespace kvforge::detail {

/// Copies the store as it is at the call into directory dest, which must be missing (it
/// is created; its parent must exist) or empty: every write that returned before the
/// call is in the copy (buffered writes are flushed at the cut, taken under the gate),
/// and writes that start after it are not. The copy, with no lock held while writers go
/// on, and its check are backup.hpp's; no segment is retired meanwhile. how says whether
/// closed segments are copied or linked.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::backup(std::string_view dest, const backup_options& how, std::error_code& ec) {
    backup_cut<io_type> cut;
    std::optional<active_call<threading::concurrent>> call;
    {
        const gate_lock gate(write_gate_);
        if (!take_backup_cut(cut, ec)) return;
        // Counted while the store is known to be open, so that close() waits for the copy.
        call.emplace(active_calls_);
        backups_.enter();
    }
    const std::string target(dest);
    const bool copied = backup_.copy(cut, target, how, ec);
    cut.segments.clear();
    cut.active.reset();
    backups_.leave();
    if (copied) backup_.template verify<log_backend>(cut, target, ec);
}

/// A read-only view of the store as it is at the call (snapshot.hpp): the cut is
/// backup's (every write that returned before the call is in the files), then the index
/// is copied and the segments held, under the gate and the read lock; reads of the view
/// take no lock of the store.
/// It is const: it changes nothing a reader sees (the buffered records it hands to the OS
/// were readable before), so for_each, which is const, takes one.
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::snapshot(std::error_code& ec) const -> log_snapshot<io_type, table_type> {
    const gate_lock gate(write_gate_);
    backup_cut<io_type> cut;
    if (!take_backup_cut(cut, ec)) return {};
    // The gate already keeps writers and compaction out; the read lock makes the copy
    // safe against whatever changes the index or a mapping under the exclusive lock alone.
    const read_lock lock(mutex_);
    return {table_, cut.segments,
            [&](const segment_type& in) { return &in == cut.active.get() ? cut.active_end : in.size; }};
}

/// Calls visitor(key, value) for every record. A thread_safe store walks a snapshot of
/// its own, taken at the call, so that writers go on for the walk's duration and the
/// visitor may call the store; it sees the records as of the call. A single_thread store
/// has no other thread to hold up, so it walks its own index without the cost of a copy.
template <class Policies, bool Mapped>
template <class Visitor>
void log_backend<Policies, Mapped>::for_each(Visitor&& visitor, std::error_code& ec) const {
    if constexpr (threading::concurrent) {
        std::error_code refused;
        const log_snapshot<io_type, table_type> view = snapshot(refused);
        if (!refused) {
            view.for_each(visitor, ec);
            return;
        }
        // A store whose writes failed takes no snapshot (its writer may still hold records
        // the files lack), but its records stay readable under the lock.
        if (!readable(ec)) return;
        if (std::error_code write_failure; writable(write_failure)) {
            ec = refused;
            return;
        }
    }
    reads_.for_each(visitor, ec);
}

/// Takes a backup's cut, with write_gate_ held: flushes what the writer holds and notes
/// the segments and where the active one ends.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::take_backup_cut(backup_cut<io_type>& cut, std::error_code& ec) const {
    if (!readable(ec)) return false;
    if (!options_.read_only) {
        if (!writable(ec)) return false;
        call_writer(&writer_type::flush, ec);
        if (ec) return false;
    }
    cut.segments = segments_.by_id();
    cut.active = active_;
    cut.active_end = active_ ? writer_->end() : 0;
    cut.live_keys = table_.size();
    cut.live_bytes = index_.live_bytes();
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_cuts.hpp ----
// ---- begin kvforge/stores/log/engine_lifetime.hpp ----
/// \file engine_lifetime.hpp
/// Members of log_backend (engine.hpp): the store's open() and close(): the directory
/// taken, the segments recovered and installed, and, at the end, the writer's last bytes
/// and the hints written out and everything released.
///
/// Open. The directory is opened and locked (segment_files.hpp), the MANIFEST checked
/// (store_composition.hpp), and recovery (recovery.hpp) finds the segments and rebuilds
/// the index; what it returns is installed before the store counts as open, so no reader
/// sees it meanwhile. A salvaged log is rewritten, and the MANIFEST written, before then
/// too, so that a failure leaves the store closed and its lock released. A store opened
/// read-only changes no file.
///
/// Close. The compaction jobs due run to their end first. Readers check that the store
/// is open under the shared lock, so close() marks it closed under the exclusive lock
/// before it lets the writer go; writers waiting for their sync, callers of
/// wait_durable and backups, which hold no lock, are counted (active_calls.hpp) and
/// close() waits for them.

#include <atomic>
#include <cerrno>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>


namespace kvforge::detail {

/// Opens or creates the store in directory path, as opts says (create_if_missing,
/// error_if_exists, read_only, salvage), for the store<> whose composition is wanted.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::open(std::string_view path, const kvforge::options& opts, io_type io,
                                         const composition& wanted, std::error_code& ec) {
    const gate_lock gate(write_gate_);
    if (open_) {
        // EBUSY in the system category, as docs/guide.md says of system errors.
        fail(ec, std::error_code(EBUSY, std::system_category()),
             "this store object is already open on " + files_.directory().path() + "; close it first");
        return;
    }
    if (!accepts_segment_bytes(opts.segment_bytes, ec)) return;
    io_ = std::move(io);
    options_ = opts;
    composition_ = wanted;
    reset_state();
    directory_mode mode;
    mode.create = opts.create_if_missing && !opts.read_only;
    mode.require_store = !mode.create;
    mode.refuse_store = opts.error_if_exists;
    mode.shared = opts.read_only;
    if (!files_.open(io_, path, mode, wanted.codec_fingerprint, layers_fingerprint(wanted.expiry, wanted.compression),
                     ec)) {
        return;
    }
    // A salvaged log is rewritten, and the manifest written, before the store counts as
    // open, so that a failure leaves it closed and its lock released.
    const auto salvage_rewrite = [&] { return options_.salvage && !options_.read_only && !salvaged_.empty(); };
    composition on_disk;
    bool has_manifest = false;
    // What recovery found; when the open fails, its segments are closed after the
    // directory, as the rest of the state is.
    recovered_log<io_type> recovered;
    if (!manifest_.check(on_disk, has_manifest, ec) || !recover(recovered, ec) ||
        (salvage_rewrite() && !compact_all(ec)) ||
        (!options_.read_only && !manifest_.record(files_, on_disk, has_manifest, ec))) {
        files_.close();
        reset_state();
        return;
    }
    open_ = true;
    resume_compaction();
}

/// Writes everything out, syncs it, writes the active segment's hint and releases the
/// store (a read-only store only releases it). The store is closed afterwards even when
/// this reports an error. A writable store that closed its files without an error calls
/// before_release() then, after the last change to its data files and while it still
/// holds the directory's lock: where a layer above writes a file that must describe the
/// data files as they are left (the expiry layer's deadlines file).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::close(std::error_code& ec, function_ref<void()> before_release) {
    // Before the gate, which the compaction thread takes. The work requested so far runs
    // to its end rather than being dropped, so that the files are left near
    // compact_dead_ratio: it is bounded, since writers slowed down at the stall ceiling
    // keep dead bytes near compaction_stall_ratio times the live bytes, each job must
    // reclaim dead bytes for another to follow, and no job starts once compaction is no
    // longer due.
    const auto whole = lock_whole();  // after a compact() under way
    finish_compaction_thread();
    const gate_lock gate(write_gate_);
    if (!open_) return;
    sort_before_close();
    abort_job();
    discard_spare();
    // After a failed write or sync, whatever was not yet on disk is lost: report it.
    if (!options_.read_only && !failure_.check(ec) && !writer_->failed(ec)) {
        call_writer(&writer_type::close, ec);
        if (!ec) {
            try {
                hints_.write_pending_now();
                hints_.write_active(*active_, writer_->end());
            } catch (const std::bad_alloc&) {
                // A hint only speeds up the next open, so failing to write one is no error.
            }
            before_release();
        }
    }
    {
        const write_lock lock(mutex_);
        open_ = false;
    }
    active_calls_.wait_idle();
    writer_.reset();
    hints_.clear();
    active_.reset();
    segments_.clear();
    reset_rollover();
    files_.close();
}

/// Opens the segments and rebuilds the index (recovery.hpp), then installs what was
/// found: the store is not open yet, so no reader sees it meanwhile.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::recover(recovered_log<io_type>& recovered, std::error_code& ec) {
    recovery_files<segment_files<io_type, counter_type>, hint_keeper_type> made{.files = files_, .hints = hints_};
    log_recovery recovery(io_, files_.directory(), options_, composition_, table_, reader_, made, recovered);
    if (!recovery.recover(ec)) return false;
    segments_ = std::move(recovered.segments);
    active_ = std::move(recovered.active);
    writer_.emplace();
    writer_->attach(active_->file, recovered.active_end);
    hints_.adopt_active(*active_, std::move(recovered.active_hint));
    reset_rollover(!options_.read_only);
    next_id_.store(recovered.next_id, std::memory_order_relaxed);
    index_.set_counts(recovery.index().live_bytes(), recovery.index().dead_bytes());
    recovered_records_ = recovered.records;
    recovered_bytes_cut_ = recovered.bytes_cut;
    salvaged_ = std::move(recovered.salvaged);
    // A writable salvaging open repairs what it found (the salvaged log is rewritten, a
    // lost segment's hint removed); a read-only one changes nothing, so verify() lists it.
    if (options_.read_only) file_damage_ = std::move(recovered.file_damage);
    return true;
}

/// Back to the state of a closed store: no segment, writer or index.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_state() {
    writer_.reset();
    hints_.clear();
    active_.reset();
    segments_.clear();
    reset_rollover();
    table_.clear();
    next_id_.store(1, std::memory_order_relaxed);
    index_.set_counts(0, 0);
    recovered_records_ = 0;
    recovered_bytes_cut_ = 0;
    reset_compaction();
    salvaged_.clear();
    file_damage_.clear();
    failure_.reset();
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_lifetime.hpp ----
// ---- begin kvforge/stores/log/engine_rollover.hpp ----
/// \file engine_rollover.hpp
/// Members of log_backend (engine.hpp): the store's rollover: the active segment closed when full and the next one put in
/// its place, from a spare made ahead of need.
///
/// A write that finds the active segment holding options::segment_bytes or more first
/// closes it (make_room): the writer drains, so that the closed segment is durable before
/// any byte of the next reaches the OS and a power loss leaves a prefix of the writes
/// across segments too; then the next segment, made through a synced .tmp and a rename,
/// becomes the active one. Its .tmp is made ahead of need, once the active segment is
/// half full (the spare segment, prepare_spare), off the writers' path as the closed
/// segment's hint is, so that the rollover only renames it into place and syncs the
/// directory.
///
/// What the rollover still writes and syncs is kept small too: the writer's buffer
/// (buffered) may hold megabytes when the segment fills, whose write and sync would fall
/// on the write that closes it. So once the active segment enters its last stretch
/// (final_stretch), one write flushes that buffer to the OS ahead and asks for its
/// writeback without waiting for it; the rollover then writes and syncs at most the
/// stretch's bytes. Bytes reaching the OS early change no guarantee: they are the active
/// segment's, written in order, and buffered's durability comes only from sync().
///
/// Locks. make_room, roll_over and discard_spare run with write_gate_
/// held, so no writer appends meanwhile; roll_over takes the exclusive lock only to switch
/// segments, and make_active runs under it. prepare_spare takes the gate only to pick the
/// spare's id and to hand the spare over, and makes and syncs its file with no lock held.

#include <algorithm>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>


namespace kvforge::detail {

/// Back to no spare, as at close(); wanted says whether the active segment, once half
/// full, wants one (an open that can write).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::reset_rollover(bool wanted) noexcept {
    spare_.reset();
    spare_wanted_ = wanted;
    closed_by_this_write_ = false;
    flushed_ahead_ = false;
    segments_closed_ = 0;
}

/// Whether segments of segment_bytes can be rolled over, which open() asks first; else
/// false with ec set.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::accepts_segment_bytes(std::uint64_t segment_bytes, std::error_code& ec) {
    if (segment_bytes >= min_segment_bytes && segment_bytes <= max_segment_bytes) return true;
    fail(ec, errc::invalid_argument,
         "options::segment_bytes is " + std::to_string(segment_bytes) + "; it must lie between " +
             std::to_string(min_segment_bytes) + " (64 KiB) and " + std::to_string(max_segment_bytes) +
             " bytes (nothing was opened)");
    return false;
}

/// Before a write (write_gate_ held): closes the active segment when it is full, and
/// flushes the writer ahead as it enters its last stretch.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::make_room(std::error_code& ec) {
    closed_by_this_write_ = false;
    const std::uint64_t end = writer_->end();
    const std::uint64_t segment_bytes = options_.segment_bytes;
    if (end >= segment_bytes) return roll_over(ec);
    if (!flushed_ahead_ && end >= segment_bytes - final_stretch(segment_bytes)) return flush_ahead(ec);
    return true;
}

/// Closes the active segment and starts the next (write_gate_ held): by a write, or by a
/// compaction job that would rewrite the active segment. The writer drains first: the
/// closed segment is durable before any byte of the next reaches the OS. The next segment
/// is the spare when one is ready (only renamed into place), else made here. On failure
/// nothing was appended anywhere and the next write tries again. The closed segment's
/// hint is left to write_pending_hint, after this write: building and syncing it takes
/// longer than everything else here, and a segment without a hint is only read whole at
/// the next open.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::roll_over(std::error_code& ec) {
    call_writer(&writer_type::drain, ec);
    if (ec) return false;
    segment_pointer next = take_spare();
    if (next ? !files_.place_segment(*next, ec) : !files_.create_segment(new_segment_id(), next, ec)) return false;
    hints_.reserve_pending();  // so that nothing below throws
    const std::uint64_t end = writer_->end();
    const write_lock lock(mutex_);
    active_->size = end;
    reader_.map_final(*active_, end);
    hints_.close_active(active_);
    closed_by_this_write_ = true;
    ++segments_closed_;
    segments_.add(next);
    make_active(std::move(next), file_header::size);
    return true;
}

/// Makes `next` the active segment, its records starting at end (write_gate_ and the
/// exclusive lock held): after a rollover, and for the writer segment compact() and
/// clear() make. It wants a spare once half full.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::make_active(segment_pointer next, std::uint64_t end) {
    active_ = std::move(next);
    writer_->attach(active_->file, end);
    if (options_.write_hints && !options_.read_only) {
        hints_.start_active(*active_);
    } else {
        hints_.stop_active();
    }
    reader_.cover(*active_, end);  // mmap_file's mapping
    spare_wanted_ = !options_.read_only;
    flushed_ahead_ = false;
}

/// Whether the spare segment is due (write_gate_ held): the active segment wants one and
/// holds half of segment_bytes. Not sooner, so that a store filled and closed soon after
/// a rollover does not make, sync and remove a spare it never uses; not later, so that
/// half a segment of writes lies between the request and the rollover that needs the
/// spare, which takes one file made and synced.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::spare_due() const noexcept {
    return spare_wanted_ && writer_->end() >= options_.segment_bytes / 2;
}

/// Prepares the spare segment when due: the next segment the writer appends to, made as
/// a .tmp holding its synced header. Runs with no lock held (the writers go on
/// meanwhile): on the compaction thread (thread_safe) or as a step after a later write
/// (single_thread). Best effort, tried once for each active segment: should it fail, the
/// rollover makes its segment itself. A spare left by a crash is a .tmp, which the next
/// open removes.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::prepare_spare() {
    std::uint32_t id = 0;
    {
        const gate_lock gate(write_gate_);
        if (!open_ || spare_ || !spare_due()) return;
        spare_wanted_ = false;
        id = new_segment_id();
    }
    segment_pointer spare;
    std::error_code ec;
    const bool ready = files_.start_segment(id, id, spare, ec) && files_.sync_file(spare->file, ec);
    const gate_lock gate(write_gate_);
    if (!open_) return;  // closed meanwhile: the next open removes the .tmp
    // A rollover made its own segment meanwhile: this one could no longer follow it.
    if (ready && !spare_ && id > active_->id) {
        spare_ = std::move(spare);
    } else {
        files_.remove_unpublished_segment(id);
    }
}

/// Removes an unused spare segment's .tmp (write_gate_ held): at close(), and when
/// compact() or clear() make a writer segment of their own, which the spare may no longer
/// follow. A failure leaves it to the next open.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::discard_spare() {
    if (!spare_) return;
    const std::uint32_t id = spare_->id;
    spare_.reset();  // closes its file
    files_.remove_unpublished_segment(id);
}

/// Flushes the writer's buffer to the OS and asks for its writeback, once for each active
/// segment (write_gate_ held), so that the rollover ahead finds those bytes on their way
/// to disk. Only for a writer that holds bytes in a buffer of its own (buffered;
/// sync_each holds none): async_worker's thread writes and syncs its queue ahead already,
/// and its flush would wait for that sync.
template <class Policies, bool Mapped>
bool log_backend<Policies, Mapped>::flush_ahead(std::error_code& ec) {
    flushed_ahead_ = true;
    if constexpr (!writer_type::sequenced) {
        if (writer_->end() == writer_->written_end()) return true;
        call_writer(&writer_type::flush, ec);
        if (ec) return false;
        active_->file.start_writeback();
    }
    return true;
}

/// Takes the spare segment for a rollover (write_gate_ held): null when there is none, or
/// when its id is below the active segment's, as the new active segment must replay last
/// (a guard: compact() and clear() discard the spare as they make a writer segment of
/// their own).
template <class Policies, bool Mapped>
auto log_backend<Policies, Mapped>::take_spare() -> segment_pointer {
    if (spare_ && spare_->id < active_->id) discard_spare();
    return std::move(spare_);
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_rollover.hpp ----
// ---- begin kvforge/stores/log/engine_writer_calls.hpp ----
/// \file engine_writer_calls.hpp
/// Members of log_backend (engine.hpp): the store's calls of its durability writer beside
/// the writes: flush, sync, drain and close, each under the locks it needs, and the waits
/// for durability.
///
/// Locks. flush, sync, drain and close run with write_gate_ held, so no writer appends
/// meanwhile; a writer without a worker changes the buffer readers read, so they take the
/// exclusive lock too, while async_worker's queue has its own lock and readers need not
/// wait for its disk. wait_durable holds no lock while it waits: it is counted
/// (active_calls.hpp), so that close() keeps the writer until it returns.

#include <cstdint>
#include <optional>
#include <system_error>


namespace kvforge::detail {

/// flush or sync: nothing to do for a read-only store, which writes nothing.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::drain_writer(void (writer_type::*op)(std::error_code&), std::error_code& ec) {
    const gate_lock gate(write_gate_);
    if (!readable(ec) || options_.read_only || !writable(ec)) return;
    call_writer(op, ec);
}

/// Calls a writer's flush, sync, drain or close, with write_gate_ held. A writer without
/// a worker changes the buffer readers read, so that takes the exclusive lock;
/// async_worker's queue has its own lock, and readers need not wait for its disk.
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::call_writer(void (writer_type::*op)(std::error_code&),
                                                std::error_code& ec) const {
    if constexpr (writer_type::sequenced) {
        ((*writer_).*op)(ec);
    } else {
        const write_lock lock(mutex_);
        ((*writer_).*op)(ec);
    }
}

/// Blocks until the write with this sequence number is on disk (async_worker).
template <class Policies, bool Mapped>
void log_backend<Policies, Mapped>::wait_durable(std::uint64_t sequence, std::error_code& ec) {
    // Counted from while the store is known to be open until done, so that close() keeps
    // the writer until then.
    std::optional<active_call<threading::concurrent>> call;
    {
        const read_lock lock(mutex_);
        if (!readable(ec)) return;
        call.emplace(active_calls_);
    }
    writer_->wait_durable(sequence, ec);
}

template <class Policies, bool Mapped>
std::uint64_t log_backend<Policies, Mapped>::durable_sequence() const {
    const read_lock lock(mutex_);
    return open_ ? writer_->durable_sequence() : 0;
}

}  // namespace kvforge::detail
// ---- end kvforge/stores/log/engine_writer_calls.hpp ----
// ---- end kvforge/stores/log/engine.hpp ----

namespace kvforge {

/// Store policy: records appended to segment files in the store's directory; the index
/// maps each key to its record, which get() reads and checks against its checksum. A
/// record of a closed segment (or one the active segment held when the store was
/// opened) is copied from a read-only mapping of those bytes, which never change again;
/// a record appended since is read with one pread. Takes a durability policy (default
/// kvforge::buffered<>). See docs/format.md for the files and docs/guide.md for the
/// guarantees and what sets it apart from kvforge::mmap_file.
struct file_log {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = true;
    static constexpr std::string_view name = "file_log";
    template <class Policies>
    using backend = detail::log_backend<Policies>;
};

static_assert(store_policy<file_log>);

}  // namespace kvforge
// ---- end kvforge/stores/file_log.hpp ----
// ---- begin kvforge/stores/mmap_file.hpp ----
/// \file mmap_file.hpp
/// kvforge::mmap_file: file_log's files and guarantees, with reads served from a
/// memory mapping of the data file instead of pread.

#include <string_view>


namespace kvforge {

/// Store policy: the same directory, records, recovery, compaction and durability as
/// kvforge::file_log (the files of one open as the other), but records are read through
/// a shared read-only mapping of the data file: get() copies straight from it, visit()
/// and scan() hand out views into it, and get_view() returns a kvforge::pinned_value
/// that keeps its bytes valid whatever the store does meanwhile.
///
/// Writes go through the durability policy's writer with pwrite, never through the
/// mapping, so no page is dirtied by the mapping and msync is never needed: sync_each,
/// buffered and async_worker promise exactly what they promise for file_log. The
/// mapping is reserved longer than the file (doubling, from 1 MiB) so that appends land
/// inside it; when the file outgrows it a longer one replaces it for new reads, and
/// views taken before keep the old one alive.
///
/// If another program truncates the data file while it is mapped, reading a record
/// beyond the new end raises SIGBUS and the process dies; the lock file keeps other
/// kvforge stores away, but not programs that ignore it.
struct mmap_file {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = true;
    static constexpr std::string_view name = "mmap_file";
    static constexpr std::string_view short_name = "mmap";  ///< also accepted in a store spec
    /// Reads copy from a mapping of the files, which the page cache serves: a
    /// kvforge::read_cache<> in front would only add work (see policy_pack.hpp).
    static constexpr bool mapped = true;
    template <class Policies>
    using backend = detail::log_backend<Policies, true>;
};

static_assert(store_policy<mmap_file>);

}  // namespace kvforge
// ---- end kvforge/stores/mmap_file.hpp ----

namespace kvforge {

/// One composition: policies as kvforge::store takes them (any order, kinds left out
/// take their defaults).
template <class... Policies>
struct policies {};

/// The compositions open_store may open; only these are instantiated. Where a spec
/// leaves a kind out, open_store takes the store's manifest's policy or kvforge's
/// default; when the list has neither, the first composition in list order that fits.
template <class... Compositions>
struct composition_list {};

/// The alternatives for one kind of policy in a composition_product.
template <class... Policies>
struct one_of {};

namespace detail {

template <class Pack, class... More>
struct concat_packs {
    using type = Pack;
};
template <class... A, class... B, class... More>
struct concat_packs<policies<A...>, policies<B...>, More...> {
    using type = typename concat_packs<policies<A..., B...>, More...>::type;
};

template <class List, class... More>
struct concat_lists {
    using type = List;
};
template <class... A, class... B, class... More>
struct concat_lists<composition_list<A...>, composition_list<B...>, More...> {
    using type = typename concat_lists<composition_list<A..., B...>, More...>::type;
};

/// A pack whose store keeps nothing on disk takes no durability policy: drop it.
template <class Pack>
struct without_needless_durability;
template <class... Ps>
struct without_needless_durability<policies<Ps...>> {
    static constexpr bool persistent = resolved_policies<Ps...>::store::persistent;
    using type = typename concat_packs<
        policies<>, std::conditional_t<persistent || !policy_of_kind<Ps, policy_kind::durability>, policies<Ps>,
                                       policies<>>...>::type;
};

template <class List, class Pack>
struct append_unique;
template <class... Packs, class Pack>
struct append_unique<composition_list<Packs...>, Pack> {
    using type = std::conditional_t<(std::is_same_v<Packs, Pack> || ...), composition_list<Packs...>,
                                    composition_list<Packs..., Pack>>;
};

template <class List, class... Packs>
struct unique_packs {
    using type = List;
};
template <class List, class Pack, class... Rest>
struct unique_packs<List, Pack, Rest...> {
    using type = typename unique_packs<typename append_unique<List, Pack>::type, Rest...>::type;
};

/// Every pack of List extended by each policy of Axis.
template <class List, class Axis>
struct extend_by;
template <class Pack, class Axis>
struct extend_pack;
template <class... Ps, class... Choices>
struct extend_pack<policies<Ps...>, one_of<Choices...>> {
    using type = composition_list<policies<Ps..., Choices>...>;
};
template <class... Packs, class Axis>
struct extend_by<composition_list<Packs...>, Axis> {
    using type = typename concat_lists<composition_list<>, typename extend_pack<Packs, Axis>::type...>::type;
};

template <class List, class... Axes>
struct product_of {
    using type = List;
};
template <class List, class Axis, class... Rest>
struct product_of<List, Axis, Rest...> {
    using type = typename product_of<typename extend_by<List, Axis>::type, Rest...>::type;
};

template <class List>
struct normalised_list;
template <class... Packs>
struct normalised_list<composition_list<Packs...>> {
    using type = typename unique_packs<composition_list<>, typename without_needless_durability<Packs>::type...>::type;
};

}  // namespace detail

/// Every combination of one policy from each one_of, as a composition_list, in order
/// (the first one_of varies slowest). A store that keeps nothing on disk takes none of
/// the durability policies, so its combinations appear once, without one.
template <class... Axes>
using composition_product =
    typename detail::normalised_list<typename detail::product_of<composition_list<policies<>>, Axes...>::type>::type;

/// What open_store instantiates unless told otherwise: every store, index, durability
/// and threading policy of kvforge, 28 compositions; and, so that every expiring file
/// store opens (a spec word `expiring`), file_log with either index and
/// expiring<std::chrono::system_clock>, 2 more. A store's durability, threading and
/// store policy (file_log or mmap_file) bind nothing on disk, so these two read every
/// store written with expiring<>; a program that needs another expiring composition
/// names it in its own list.
using default_compositions = typename detail::concat_lists<
    composition_product<one_of<memory, file_log, mmap_file>, one_of<hash_index, sorted_index>,
                        one_of<buffered<>, sync_each, async_worker<>>, one_of<single_thread, thread_safe>>,
    composition_list<policies<file_log, hash_index, expiring<>>, policies<file_log, sorted_index, expiring<>>>>::type;

}  // namespace kvforge
// ---- end kvforge/compositions.hpp ----
// ---- begin kvforge/copy.hpp ----
/// \file copy.hpp
/// kvforge::copy: every record of one store into another, of any two compositions.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <type_traits>


namespace kvforge {

/// How far a copy has got.
struct copy_progress {
    std::uint64_t done = 0;   ///< records written to the destination so far
    std::uint64_t total = 0;  ///< records the source held when the copy began
};

/// Settings of kvforge::copy.
struct copy_options {
    /// Records per batch written to the destination; with batch_bytes, this bounds the
    /// memory a copy holds, whatever the size of the stores.
    std::size_t batch_records = 4096;
    /// A batch is written once its keys and values reach this many bytes, if sooner.
    std::size_t batch_bytes = std::size_t{4} << 20;
    /// Called after each batch is written; exceptions it throws end the copy and propagate.
    std::function<void(const copy_progress&)> on_progress;
};

/// Writes every record of source into destination, batch by batch (each batch all or
/// nothing), then syncs destination; returns the records written. Both are stores or
/// any_stores of the same key and value types, of any compositions. Records already in
/// destination stay unless source overwrites them.
///
/// Source is read as for_each reads it: with an ordered index a chunk at a time, so its
/// writers wait at most for one chunk; with a hash index, a thread_safe file_log or
/// mmap_file source from a snapshot taken at the start (its writers wait only for the
/// copy of its index, and the copy holds no lock of it after that), a thread_safe memory
/// source under its read lock for the whole copy. A snapshot is a source too:
/// copy(db.snapshot(), destination) copies the store as of one moment and holds no lock
/// of it while it copies. On failure ec says which side failed; the batches written
/// before stay.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, const copy_options& opts, std::error_code& ec) {
    using key_type = typename Source::key_type;
    using mapped_type = typename Source::mapped_type;
    static_assert(std::is_same_v<key_type, typename Destination::key_type> &&
                      std::is_same_v<mapped_type, typename Destination::mapped_type>,
                  "kvforge: copy() needs two stores of the same key and value types; convert the records with "
                  "for_each() and put() instead");
    ec.clear();
    if constexpr (std::is_same_v<Source, Destination>) {
        if (&source == &destination) {
            detail::fail(ec, errc::invalid_argument,
                         "copy: the source and the destination are the same store");
            return 0;
        }
    }
    copy_progress progress{0, source.size()};
    batch<key_type, mapped_type> pending;
    std::error_code write_error;
    auto write_pending = [&] {
        if (pending.empty() || write_error) return;
        destination.write(pending, write_error);
        if (write_error) return;
        progress.done += pending.size();
        pending.clear();
        if (opts.on_progress) opts.on_progress(progress);
    };
    // for_each cannot be stopped midway: after a failed write the rest of the records are
    // passed over, which costs a read of each and writes nothing.
    source.for_each(
        [&](const key_type& key, const mapped_type& value) {
            if (write_error) return;
            pending.put(key, value, write_error);
            if (pending.size() >= opts.batch_records || pending.operations().bytes().size() >= opts.batch_bytes) {
                write_pending();
            }
        },
        ec);
    if (ec) {
        detail::fail(ec, ec, "copy: reading the source failed: " + detail::last_error_detail());
        return progress.done;
    }
    write_pending();
    if (!write_error) destination.sync(write_error);
    if (write_error) {
        detail::fail(ec, write_error,
                     "copy: writing the destination failed after " + std::to_string(progress.done) +
                         " records: " + detail::last_error_detail());
    }
    return progress.done;
}

/// As copy(source, destination, opts, ec) with default options.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, std::error_code& ec) {
    return copy(source, destination, copy_options{}, ec);
}

/// As copy(source, destination, opts, ec), throwing kvforge::error on failure.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, const copy_options& opts = {}) {
    std::error_code ec;
    const std::uint64_t written = copy(source, destination, opts, ec);
    detail::throw_if(ec);
    return written;
}

}  // namespace kvforge
// ---- end kvforge/copy.hpp ----
// ---- begin kvforge/destroy.hpp ----
/// \file destroy.hpp
/// kvforge::destroy: removes a closed store's files, and then its directory.

#include <algorithm>
#include <cstdint>
#include <new>
#include <string_view>
#include <system_error>
#include <vector>


namespace kvforge {

/// Removes the persistent store in directory path through the I/O policy io: every file
/// of kvforge's own in it, then the directory when that leaves it empty. Entries kvforge
/// did not write, which a store's directory (one with a MANIFEST) may hold beside its
/// files, are left where they are, with the directory. Refuses, with nothing removed, an
/// empty path (errc::invalid_argument), a missing directory (errc::store_not_found), a
/// directory without a MANIFEST holding anything kvforge did not write
/// (errc::not_a_store) and a store that is open, in this process or another
/// (errc::store_locked); it holds the store's lock while it works.
template <io_policy IO>
void destroy(std::string_view path, IO io, std::error_code& ec) noexcept {
    ec.clear();
    try {
        detail::store_directory<IO> directory;
        detail::directory_mode mode;
        mode.create = false;
        if (!directory.open(io, path, mode, ec)) return;
        std::vector<detail::store_file_name> names;
        if (!directory.list(names, ec)) return;
        // The newest data file goes last, after the leftovers, hints and older segments:
        // a destroy cut short leaves a directory that still opens as a store (holding
        // what the segments left hold), and can be run again. Compression dictionaries go
        // after it, so that no store is ever left without the dictionaries its values
        // need, and the MANIFEST after them, so that no data file is ever left without
        // the composition it is read by, and a directory that also holds a user's files
        // stays a store's until the last of kvforge's data is gone.
        std::uint32_t newest = 0;
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::data && !name.is_temporary()) {
                newest = std::max(newest, name.generation());
            }
        }
        const auto last = newest != 0 ? detail::store_file_name::data(newest) : detail::store_file_name::lock();
        // Hints before their data files: one left without its data file names a lost segment.
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::hint && !directory.remove(name, ec)) return;
        }
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::lock || name == last) continue;
            if (name.kind() == detail::store_file_kind::dictionary && !name.is_temporary()) continue;
            if (name == detail::store_file_name::manifest()) continue;
            if (!directory.remove(name, ec)) return;
        }
        if (newest != 0 && !directory.remove(last, ec)) return;
        for (const detail::store_file_name& name : names) {
            if (name.kind() == detail::store_file_kind::dictionary && !directory.remove(name, ec)) return;
        }
        if (!directory.remove(detail::store_file_name::manifest(), ec)) return;
        // LOCK is removed while it is held; an opener that comes now finds no store.
        if (!directory.remove(detail::store_file_name::lock(), ec) || !directory.sync(ec)) return;
        directory.close();
        directory.remove_directory(ec);
    } catch (const std::bad_alloc&) {
        detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "destroy: out of memory");
    }
}

/// As destroy(path, io, ec) with the default I/O policy, kvforge::posix_io.
inline void destroy(std::string_view path, std::error_code& ec) noexcept { destroy(path, posix_io{}, ec); }

/// As destroy(path, ec); throws kvforge::error on failure.
inline void destroy(std::string_view path) {
    std::error_code ec;
    destroy(path, ec);
    detail::throw_if(ec);
}

}  // namespace kvforge
// ---- end kvforge/destroy.hpp ----
// ---- begin kvforge/open_store.hpp ----
/// \file open_store.hpp
/// kvforge::open_store: opens the store a spec names, as a kvforge::any_store.
///
///     auto users = kvforge::open_store<std::string, std::string>("file_log,sorted,sync_each:data/users");
///     auto cache = kvforge::open_store<std::string, std::string>("memory,hash");
///     auto again = kvforge::open_store<std::string, std::string>("data/users");  // from its MANIFEST
///
/// The spec's words are read as detail/store_spec.hpp says. A kind the spec leaves out is
/// taken from the store's MANIFEST when it has one, else it is kvforge's default
/// (file_log for a path, memory without; hash_index; buffered; single_thread). The fields
/// of a manifest that bind the bytes on disk (codecs, expiry, compression) must match
/// what opens the store; store, index and durability need not (file_log and mmap_file
/// read the same files, and the index is rebuilt at open).
///
/// Its parts: runtime/erased_store.hpp (a composition behind any_store's erased calls)
/// and runtime/composition_match.hpp (the spec vocabulary, and which composition a spec
/// names).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

// ---- begin kvforge/detail/store_spec.hpp ----
/// \file store_spec.hpp
/// Reading a store spec, the text that names a composition and a path at run time:
///
///     words[:path]     e.g. "file_log,sorted,sync_each:data/users", "memory,hash", ":data/users"
///     path             a bare path (no ':', no ','), e.g. "data/users"
///
/// Words are separated by commas (spaces around them are ignored); each names a policy
/// by its name or short name, and so the kind (axis) it chooses. Everything after the
/// first ':' is the path, as it is, so a path may hold ':' and ','. A spec without ':'
/// is words when it holds a ',' or is one known word, and a bare path otherwise.
///
/// Errors are kvforge::errc::invalid_argument with a message that quotes the spec and names
/// the fix; nothing here touches the file system.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// A word a spec may use: a policy's name and short name, and the axis (its kind) it chooses.
struct spec_word {
    std::string_view axis;        ///< e.g. "index"
    std::string_view name;        ///< e.g. "sorted_index"
    std::string_view short_name;  ///< e.g. "sorted"; empty when the policy has none
    bool persistent = false;      ///< for store words: whether the store keeps its records on disk
};

/// What a spec says: the policy named on each axis it names (views into the vocabulary),
/// and the path.
struct parsed_spec {
    std::vector<std::pair<std::string_view, std::string_view>> chosen;  ///< axis, policy name
    std::string path;
    bool has_path = false;

    /// The policy named on axis, or empty when the spec leaves that kind out.
    [[nodiscard]] std::string_view choice(std::string_view axis) const noexcept {
        for (const auto& [chosen_axis, name] : chosen) {
            if (chosen_axis == axis) return name;
        }
        return {};
    }
};

/// "store: memory, file_log, mmap_file (or mmap); index: ..." for error messages.
[[nodiscard]] inline std::string describe_vocabulary(const std::vector<spec_word>& vocabulary) {
    std::string text;
    std::string_view axis;
    for (const spec_word& word : vocabulary) {
        if (word.axis != axis) {
            if (!axis.empty()) text += "; ";
            axis = word.axis;
            text.append(axis).append(": ");
        } else {
            text += ", ";
        }
        text.append(word.name);
        if (!word.short_name.empty()) text.append(" (or ").append(word.short_name).append(")");
    }
    return text;
}

/// The word of the vocabulary that text names, or nullptr.
[[nodiscard]] inline const spec_word* find_spec_word(const std::vector<spec_word>& vocabulary,
                                                     std::string_view text) noexcept {
    for (const spec_word& word : vocabulary) {
        if (word.name == text || (!word.short_name.empty() && word.short_name == text)) return &word;
    }
    return nullptr;
}

/// The Levenshtein distance between a and b, for "did you mean" hints on short words.
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// The word of the vocabulary text is a likely misspelling of, or nullptr. Only names of
/// six letters or more are considered, so that short directory names ("db") stay paths.
[[nodiscard]] inline const spec_word* near_spec_word(const std::vector<spec_word>& vocabulary, std::string_view text) {
    for (const spec_word& word : vocabulary) {
        for (const std::string_view candidate : {word.name, word.short_name}) {
            if (candidate.size() >= 6 && edit_distance(text, candidate) <= 2) return &word;
        }
    }
    return nullptr;
}

/// Reads spec into out; on failure sets ec (kvforge::errc::invalid_argument) with a message
/// naming the word or the contradiction and what to write instead.
inline bool parse_store_spec(std::string_view spec, const std::vector<spec_word>& vocabulary, parsed_spec& out,
                             std::error_code& ec) {
    out = parsed_spec{};
    const std::string quoted = "store spec '" + std::string(spec) + "'";
    auto refuse = [&](const std::string& why) {
        fail(ec, errc::invalid_argument, quoted + ": " + why);
        return false;
    };
    auto trimmed = [](std::string_view text) {
        const auto first = text.find_first_not_of(' ');
        if (first == std::string_view::npos) return std::string_view{};
        return text.substr(first, text.find_last_not_of(' ') - first + 1);
    };
    if (trimmed(spec).empty()) {
        return refuse("empty; name a store and a path, e.g. 'file_log,sorted:data/users', or 'memory'");
    }

    std::string_view words = spec;
    const std::size_t colon = spec.find(':');
    if (colon != std::string_view::npos) {
        words = spec.substr(0, colon);
        out.path = std::string(spec.substr(colon + 1));
        out.has_path = true;
        if (out.path.empty()) return refuse("nothing after ':'; give the store's directory, e.g. 'file_log:data/users'");
    } else if (spec.find(',') == std::string_view::npos && find_spec_word(vocabulary, trimmed(spec)) == nullptr) {
        // A bare path. One that looks like a misspelt word is refused rather than made a store.
        if (spec.find('/') == std::string_view::npos) {
            if (const spec_word* near = near_spec_word(vocabulary, spec)) {
                return refuse("'" + std::string(spec) + "' is not a word kvforge knows (did you mean '" +
                              std::string(near->name) + "'?); for a directory of that name write './" +
                              std::string(spec) + "'");
            }
        }
        out.path = std::string(spec);
        out.has_path = true;
        return true;
    }

    const spec_word* store_word = nullptr;
    std::string_view durability_name;
    for (std::size_t start = 0; !trimmed(words).empty();) {
        const std::size_t comma = std::min(words.find(',', start), words.size());
        const std::string_view text = trimmed(words.substr(start, comma - start));
        if (text.empty()) return refuse("an empty word between commas");
        const spec_word* word = find_spec_word(vocabulary, text);
        if (word == nullptr) {
            std::string why = "unknown word '" + std::string(text) + "'";
            if (const spec_word* near = near_spec_word(vocabulary, text)) {
                why += " (did you mean '" + std::string(near->name) + "'?)";
            }
            return refuse(why + "; the words kvforge knows are " + describe_vocabulary(vocabulary));
        }
        const std::string_view earlier = out.choice(word->axis);
        if (!earlier.empty() && earlier != word->name) {
            return refuse("names two " + std::string(word->axis) + " policies, '" + std::string(earlier) + "' and '" +
                          std::string(word->name) + "'; keep one");
        }
        if (earlier.empty()) out.chosen.emplace_back(word->axis, word->name);
        if (word->axis == policy_kind::store::name) store_word = word;
        if (word->axis == policy_kind::durability::name) durability_name = word->name;
        if (comma == words.size()) break;
        start = comma + 1;
    }

    if (store_word != nullptr && !store_word->persistent) {
        const std::string store_name(store_word->name);
        if (!durability_name.empty()) {
            return refuse(store_name + " keeps nothing on disk, so it takes no durability policy; remove '" +
                          std::string(durability_name) + "' or choose a persistent store such as file_log");
        }
        if (out.has_path) {
            return refuse(store_name + " has no files, so it takes no path; remove ':" + out.path +
                          "' or choose a persistent store such as file_log");
        }
    }
    if (store_word != nullptr && store_word->persistent && !out.has_path) {
        return refuse("incomplete: " + std::string(store_word->name) + " keeps its records in a directory; add it, e.g. '" +
                      std::string(words) + ":data/users'");
    }
    if (store_word == nullptr && !durability_name.empty() && !out.has_path) {
        return refuse("incomplete: '" + std::string(durability_name) +
                      "' is a durability policy, for a store on disk; add the store's directory, e.g. '" +
                      std::string(words) + ":data/users'");
    }
    return true;
}

}  // namespace kvforge::detail
// ---- end kvforge/detail/store_spec.hpp ----
// ---- begin kvforge/runtime/composition_match.hpp ----
/// \file composition_match.hpp
/// The spec vocabulary and the choice among compositions: the words each composition of a
/// list answers to, the composition a parsed spec names (or why none fits), and the
/// advice when a store's MANIFEST binds it to another; and how each composition opens
/// behind the erased calls (erased_store.hpp). open_store.hpp asks it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

// ---- begin kvforge/runtime/erased_store.hpp ----
/// \file erased_store.hpp
/// One store composition behind any_store's type-erased calls: the store itself
/// (erased_store_impl), one of its snapshots (erased_snapshot), and the codecs it is
/// opened to read (codec_choice). open_store.hpp makes these; any_store.hpp calls them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>


namespace kvforge::detail {

/// The codecs whose bytes a store is opened to read: those of Key and Value, or, for
/// kvforge's own tool, those the store's files say (see open_store_adopting).
struct codec_choice {
    std::string key_codec;
    std::string value_codec;
    std::uint64_t fingerprint = 0;
    /// False when only the fingerprint is known (a format 1 store of codecs the tool does
    /// not know): the names are placeholders, and no MANIFEST records them.
    bool names_known = true;
};

/// The one door from kvforge's own layers into store and any_store internals.
struct store_access {
    template <class Store>
    static const auto& backend(const Store& s) noexcept {
        return s.backend_;
    }
    template <class Store>
    static void open_with_codecs(Store& s, std::string_view path, const options& opts, const codec_choice& codecs,
                                 std::error_code& ec) noexcept {
        const std::string unknown;
        s.open_with_codecs(path, opts, codecs.names_known ? codecs.key_codec : unknown,
                           codecs.names_known ? codecs.value_codec : unknown, codecs.fingerprint, ec);
    }
    template <class View, class Key, class Value, bool Ordered>
    static const View& view(const kvforge::snapshot<View, Key, Value, Ordered>& s) noexcept {
        return *s.view_;
    }
    template <class Store>
    static std::uint64_t write_operations(Store& s, const batch_buffer& ops, std::error_code& ec) noexcept {
        return s.write_operations(ops, ec);
    }
    template <class Key, class Value>
    static any_store<Key, Value> make_any(std::unique_ptr<erased_store<Key, Value>> opened) noexcept {
        return any_store<Key, Value>(opened.release());
    }
};

/// A store's snapshot behind the erased calls: reads as of its cut, writes refused.
template <class Snapshot>
class erased_snapshot final : public erased_store<typename Snapshot::key_type, typename Snapshot::mapped_type> {
    using Key = typename Snapshot::key_type;
    using Value = typename Snapshot::mapped_type;
    using base = erased_store<Key, Value>;
    using key_param = typename base::key_param;
    using value_param = typename base::value_param;
    using record_visitor = typename base::record_visitor;

public:
    erased_snapshot(erased_description description, Snapshot snapshot) : snapshot_(std::move(snapshot)) {
        this->description_ = std::move(description);
    }

    std::uint64_t put(key_param, value_param, std::error_code& ec) noexcept override { return refused(ec, 0); }
    std::optional<Value> get(key_param key, std::error_code& ec) const noexcept override {
        return snapshot_.get(key, ec);
    }
    bool get_into(key_param key, Value& out, std::error_code& ec) const noexcept override {
        return snapshot_.get(key, out, ec);
    }
    bool visit(key_param key, function_ref<void(std::string_view)> fn, std::error_code& ec) const override {
        return snapshot_.visit(key, fn, ec);
    }
    bool get_view(key_param, pinned_value&, std::error_code& ec) const noexcept override {
        fail_unsupported(ec, "get_view()", "a store rather than a snapshot", this->description_, "a snapshot",
                         "use visit() for a view during a callback or get() for a copy");
        return false;
    }
    bool contains(key_param key, std::error_code& ec) const noexcept override { return snapshot_.contains(key, ec); }
    bool erase(key_param, std::error_code& ec) noexcept override { return refused(ec, false); }
    std::uint64_t write(const batch_buffer&, std::error_code& ec) noexcept override { return refused(ec, 0); }
    void visit_records(std::string_view from, bool inclusive, record_visitor visitor,
                       std::error_code& ec) const override {
        if constexpr (Snapshot::ordered) {
            ec.clear();
            store_access::view(snapshot_).visit_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void visit_records_down(std::optional<std::string_view> from, bool inclusive, record_visitor visitor,
                            std::error_code& ec) const override {
        if constexpr (Snapshot::ordered) {
            ec.clear();
            store_access::view(snapshot_).visit_down_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void for_each(function_ref<void(const Key&, const Value&)> fn, std::error_code& ec) const override {
        snapshot_.for_each(fn, ec);
    }
    [[nodiscard]] std::size_t size() const override { return snapshot_.size(); }
    void clear(std::error_code& ec) noexcept override { refused(ec, 0); }
    void flush(std::error_code& ec) noexcept override { ec.clear(); }
    void sync(std::error_code& ec) noexcept override { ec.clear(); }
    void compact(std::error_code& ec) noexcept override { refused(ec, 0); }
    void backup(std::string_view, const backup_options&, std::error_code& ec) noexcept override { refused(ec, 0); }
    void wait_durable(std::uint64_t, std::error_code& ec) noexcept override { refused(ec, 0); }
    std::uint64_t durable_seq(std::error_code& ec) const noexcept override { return refused(ec, 0); }
    verify_report verify(std::error_code& ec) const noexcept override {
        fail_unsupported(ec, "verify()", "a store rather than a snapshot", this->description_, "a snapshot",
                         "verify the store it came from");
        return {};
    }
    base* snapshot(std::error_code& ec) noexcept override {
        ec.clear();
        try {
            return new erased_snapshot(this->description_, snapshot_);
        } catch (const std::bad_alloc&) {
            fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
            return nullptr;
        }
    }
    void close(std::error_code& ec) noexcept override { ec.clear(); }
    [[nodiscard]] bool is_open() const noexcept override { return true; }

private:
    template <class Result>
    static Result refused(std::error_code& ec, Result result) noexcept {
        fail(ec, errc::read_only, "this any_store is a snapshot, which is read-only; write to the store it came from");
        return result;
    }

    Snapshot snapshot_;
};

/// One composition's store behind the erased calls.
template <class Store>
class erased_store_impl final : public erased_store<typename Store::key_type, typename Store::mapped_type> {
    using Key = typename Store::key_type;
    using Value = typename Store::mapped_type;
    using base = erased_store<Key, Value>;
    using key_param = typename base::key_param;
    using value_param = typename base::value_param;
    using record_visitor = typename base::record_visitor;
    using backend_type = std::remove_cvref_t<decltype(store_access::backend(std::declval<const Store&>()))>;

    static constexpr bool ordered = Store::index_policy::ordered;
    static constexpr bool expires = Store::expiring && std::is_same_v<typename Store::clock, std::chrono::system_clock>;
    static constexpr bool mapped =
        requires(const backend_type& b, std::string_view k, pinned_value& out, std::error_code& e) {
            b.read_pinned(k, out, e);
        };

public:
    explicit erased_store_impl(erased_description description) { this->description_ = std::move(description); }

    /// Opens the store's files (persistent stores), expecting bytes of these codecs.
    void open(std::string_view path, const options& opts, const codec_choice& codecs, std::error_code& ec) noexcept {
        if constexpr (Store::persistent) {
            store_access::open_with_codecs(store_, path, opts, codecs, ec);
        } else {
            ec.clear();
        }
    }

    std::uint64_t put(key_param key, value_param value, std::error_code& ec) noexcept override {
        if constexpr (Store::sequenced) {
            return store_.put(key, value, ec);
        } else {
            store_.put(key, value, ec);
            return 0;
        }
    }
    std::optional<Value> get(key_param key, std::error_code& ec) const noexcept override { return store_.get(key, ec); }
    bool get_into(key_param key, Value& out, std::error_code& ec) const noexcept override {
        return store_.get(key, out, ec);
    }
    bool visit(key_param key, function_ref<void(std::string_view)> fn, std::error_code& ec) const override {
        return store_.visit(key, fn, ec);
    }
    bool get_view(key_param key, pinned_value& out, std::error_code& ec) const noexcept override {
        if constexpr (mapped) {
            std::optional<pinned_value> view = store_.get_view(key, ec);
            if (!view) return false;
            out = std::move(*view);
            return true;
        } else {
            fail_unsupported(ec, "get_view()", "mmap_file", this->description_, this->description_.composition.store,
                             "use visit() for a view during a callback or get() for a copy, or open the store with "
                             "'mmap_file' in its spec (it reads file_log's files)");
            return false;
        }
    }
    bool contains(key_param key, std::error_code& ec) const noexcept override { return store_.contains(key, ec); }
    bool erase(key_param key, std::error_code& ec) noexcept override { return store_.erase(key, ec); }
    std::uint64_t put_until(key_param key, value_param value, std::chrono::system_clock::time_point deadline,
                            std::error_code& ec) noexcept override {
        if constexpr (!expires) {
            fail_not_expiring(ec, "put() with a deadline");
        } else if constexpr (Store::sequenced) {
            return store_.put(key, value, deadline, ec);
        } else {
            store_.put(key, value, deadline, ec);
        }
        return 0;
    }
    std::optional<std::chrono::system_clock::time_point> expiry(key_param key,
                                                                std::error_code& ec) const noexcept override {
        if constexpr (expires) {
            return store_.expiry(key, ec);
        } else {
            fail_not_expiring(ec, "expiry()");
            return std::nullopt;
        }
    }
    std::size_t purge_expired(std::error_code& ec) noexcept override {
        if constexpr (expires) {
            return store_.purge_expired(ec);
        } else {
            fail_not_expiring(ec, "purge_expired()");
            return 0;
        }
    }
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) noexcept override {
        // A batch's deadlines are system_clock ticks: only a store that keeps those takes them.
        if (!expires && ops.deadline_count() != 0) {
            fail_not_expiring(ec, "a batch's put() with a deadline");
            return 0;
        }
        return store_access::write_operations(store_, ops, ec);
    }
    void wait_durable(std::uint64_t sequence, std::error_code& ec) noexcept override {
        if constexpr (Store::sequenced) {
            store_.wait_durable(sequence, ec);
        } else {
            fail_not_sequenced(ec, "wait_durable()");
        }
    }
    std::uint64_t durable_seq(std::error_code& ec) const noexcept override {
        if constexpr (Store::sequenced) {
            ec.clear();
            return store_.durable_seq();
        } else {
            fail_not_sequenced(ec, "durable_seq()");
            return 0;
        }
    }
    void visit_records(std::string_view from, bool inclusive, record_visitor visitor,
                       std::error_code& ec) const override {
        if constexpr (ordered) {
            ec.clear();
            store_access::backend(store_).visit_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    void visit_records_down(std::optional<std::string_view> from, bool inclusive, record_visitor visitor,
                            std::error_code& ec) const override {
        if constexpr (ordered) {
            ec.clear();
            store_access::backend(store_).visit_down_from(from, inclusive, visitor, ec);
        } else {
            fail_unordered(ec, this->description_);
        }
    }
    [[nodiscard]] std::uint64_t write_version() const noexcept override {
        return store_access::backend(store_).write_version();
    }
    void for_each(function_ref<void(const Key&, const Value&)> fn, std::error_code& ec) const override {
        store_.for_each(fn, ec);
    }
    [[nodiscard]] std::size_t size() const override { return store_.size(); }
    void clear(std::error_code& ec) noexcept override { store_.clear(ec); }
    [[nodiscard]] kvforge::stats stats() const override { return store_.stats(); }
    void flush(std::error_code& ec) noexcept override { store_.flush(ec); }
    void sync(std::error_code& ec) noexcept override { store_.sync(ec); }
    void compact(std::error_code& ec) noexcept override { store_.compact(ec); }
    void backup(std::string_view dest, const backup_options& how, std::error_code& ec) noexcept override {
        if constexpr (Store::persistent) {
            store_.backup(dest, how, ec);
        } else {
            fail_unsupported(ec, "backup()", "a persistent store", this->description_,
                             this->description_.composition.store,
                             "copy the records into a file_log store with kvforge::copy(src, dst)");
        }
    }
    verify_report verify(std::error_code& ec) const noexcept override { return store_.verify(ec); }
    base* snapshot(std::error_code& ec) noexcept override {
        if constexpr (requires { store_.snapshot(ec); }) {
            try {
                std::optional<typename Store::snapshot_type> taken = store_.snapshot(ec);
                if (!taken) return nullptr;
                return new erased_snapshot<typename Store::snapshot_type>(this->description_, std::move(*taken));
            } catch (const std::bad_alloc&) {
                fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory");
                return nullptr;
            }
        } else {
            fail_unsupported(ec, "snapshot()", "a store that is not a bounded cache", this->description_, "a bounded cache",
                             "copy the records into another store with kvforge::copy(src, dst)");
            return nullptr;
        }
    }
    void close(std::error_code& ec) noexcept override {
        if constexpr (Store::persistent) {
            store_.close(ec);
        } else {
            ec.clear();
        }
    }
    [[nodiscard]] bool is_open() const noexcept override { return store_.is_open(); }

private:
    void fail_not_expiring(std::error_code& ec, std::string_view call) const noexcept {
        fail_unsupported(ec, call, "expiring<std::chrono::system_clock>", this->description_,
                         this->description_.composition.expiry == "none" ? std::string_view("no expiry")
                                                                          : this->description_.composition.expiry,
                         "create the store with 'expiring' in its spec (its deadlines are part of its files, so an "
                         "existing store keeps the expiry it was written with)");
    }

    void fail_not_sequenced(std::error_code& ec, std::string_view call) const noexcept {
        fail_unsupported(ec, call, "async_worker", this->description_, this->description_.composition.durability,
                         "with sync_each a write is durable when it returns, with buffered call sync(); or open the "
                         "store with 'async_worker' in its spec");
    }

    Store store_;
};

}  // namespace kvforge::detail
// ---- end kvforge/runtime/erased_store.hpp ----

namespace kvforge::detail {

/// The policy a composition names on each axis (spec kinds), for matching a spec.
struct composition_words {
    std::vector<std::pair<std::string_view, std::string_view>> axes;  ///< axis, policy name
    /// axis, MANIFEST field: for a policy whose manifest field is not its name, as
    /// expiring<Clock> records its clock ("system_clock:1/1000000000").
    std::vector<std::pair<std::string_view, std::string>> recorded_as;
    bool persistent = false;

    [[nodiscard]] std::string_view on(std::string_view axis) const noexcept {
        for (const auto& [name_of_axis, policy] : axes) {
            if (name_of_axis == axis) return policy;
        }
        return "none";
    }

    /// What a store of this composition records in its MANIFEST for axis.
    [[nodiscard]] std::string_view recorded(std::string_view axis) const noexcept {
        for (const auto& [name_of_axis, field] : recorded_as) {
            if (name_of_axis == axis) return field;
        }
        return on(axis);
    }
};

template <class P>
inline constexpr bool named_policy = requires {
    { P::name } -> std::convertible_to<std::string_view>;
};

template <class P>
[[nodiscard]] constexpr std::string_view short_name_of() noexcept {
    if constexpr (requires { P::short_name; }) {
        return P::short_name;
    } else {
        return {};
    }
}

/// A kind beyond the four every store has (expiry, compression): a spec axis of its own.
template <class P>
inline constexpr bool extra_axis_policy =
    !policy_of_kind<P, policy_kind::store> && !policy_of_kind<P, policy_kind::index> &&
    !policy_of_kind<P, policy_kind::durability> && !policy_of_kind<P, policy_kind::threading> &&
    !policy_of_kind<P, policy_kind::io>;

/// What open_store needs of one composition of the list.
template <class Pack>
struct composition_traits;
template <class... Ps>
struct composition_traits<policies<Ps...>> {
    using resolved = resolved_policies<Ps...>;
    static_assert(!(policy_of_kind<Ps, policy_kind::io> || ...),
                  "kvforge: open_store opens stores with kvforge::posix_io; remove the I/O policy from the "
                  "composition list");
    static_assert(named_policy<typename resolved::index> && named_policy<typename resolved::threading> &&
                      ((named_policy<Ps> || policy_of_kind<Ps, policy_kind::io>) && ...),
                  "kvforge: every policy of a composition list needs a name, the word a store spec names it by; "
                  "add `static constexpr std::string_view name = \"...\";` to the policy");

    template <class Key, class Value>
    using store_type = store<Key, Value, Ps...>;

    template <class P>
    static constexpr spec_word word_of() noexcept {
        bool persistent = false;
        if constexpr (policy_of_kind<P, policy_kind::store>) persistent = P::persistent;
        return {P::policy_kind::name, P::name, short_name_of<P>(), persistent};
    }

    /// Every policy of the composition, as spec words, the four core kinds first.
    static void add_words(std::vector<spec_word>& words) {
        words.push_back(word_of<typename resolved::store>());
        words.push_back(word_of<typename resolved::index>());
        if constexpr (resolved::store::persistent) words.push_back(word_of<typename resolved::durability>());
        words.push_back(word_of<typename resolved::threading>());
        (
            [&] {
                if constexpr (extra_axis_policy<Ps>) words.push_back(word_of<Ps>());
            }(),
            ...);
    }

    static composition_words describe() {
        composition_words described;
        std::vector<spec_word> words;
        add_words(words);
        for (const spec_word& word : words) described.axes.emplace_back(word.axis, word.name);
        if constexpr (!resolved::store::persistent) {
            described.axes.emplace_back(policy_kind::durability::name, resolved::durability::name);
        }
        (
            [&] {
                if constexpr (extra_axis_policy<Ps> && requires { Ps::manifest_name(); }) {
                    described.recorded_as.emplace_back(Ps::policy_kind::name, Ps::manifest_name());
                }
            }(),
            ...);
        described.persistent = resolved::store::persistent;
        return described;
    }

    template <class Key, class Value>
    static std::unique_ptr<erased_store<Key, Value>> open(erased_description description, std::string_view path,
                                                          const options& opts, const codec_choice& codecs,
                                                          std::error_code& ec) {
        using erased_type = erased_store_impl<store_type<Key, Value>>;
        description.ordered = resolved::index::ordered;
        description.sequenced = store_type<Key, Value>::sequenced;
        auto opened = std::make_unique<erased_type>(std::move(description));
        opened->open(path, opts, codecs, ec);
        if (ec) return nullptr;
        return opened;
    }
};

/// The spec words of kvforge's own policies and of every policy in List, grouped by axis
/// (store, index, durability, threading, then other kinds in the order met), each once.
template <class List>
struct vocabulary_of;
template <class... Packs>
struct vocabulary_of<composition_list<Packs...>> {
    template <class... Defaults>
    static void add_packs(std::vector<spec_word>& words, composition_list<Defaults...>) {
        (composition_traits<Defaults>::add_words(words), ...);
    }

    static std::vector<spec_word> get() {
        std::vector<spec_word> met;
        add_packs(met, default_compositions{});
        (composition_traits<Packs>::add_words(met), ...);
        std::vector<std::string_view> axes = {policy_kind::store::name, policy_kind::index::name,
                                              policy_kind::durability::name, policy_kind::threading::name};
        for (const spec_word& word : met) {
            if (std::find(axes.begin(), axes.end(), word.axis) == axes.end()) axes.push_back(word.axis);
        }
        std::vector<spec_word> words;
        for (const std::string_view axis : axes) {
            for (const spec_word& word : met) {
                const bool seen = std::any_of(words.begin(), words.end(), [&](const spec_word& w) {
                    return w.axis == word.axis && w.name == word.name;
                });
                if (word.axis == axis && !seen) words.push_back(word);
            }
        }
        return words;
    }
};

/// The composition each entry of List names, in list order.
template <class List>
struct entries_of;
template <class... Packs>
struct entries_of<composition_list<Packs...>> {
    static std::vector<composition_words> get() { return {composition_traits<Packs>::describe()...}; }

    template <class Key, class Value>
    static std::unique_ptr<erased_store<Key, Value>> open(std::size_t index, erased_description description,
                                                          std::string_view path, const options& opts,
                                                          const codec_choice& codecs, std::error_code& ec) {
        using opener = std::unique_ptr<erased_store<Key, Value>> (*)(erased_description, std::string_view,
                                                                     const options&, const codec_choice&,
                                                                     std::error_code&);
        static constexpr opener openers[] = {&composition_traits<Packs>::template open<Key, Value>...};
        return openers[index](std::move(description), path, opts, codecs, ec);
    }
};

/// "file_log,sorted_index,buffered,single_thread": a composition's words, every kind spelled out.
[[nodiscard]] inline std::string words_of(const composition_words& entry) {
    std::string text;
    for (const auto& [axis, name] : entry.axes) {
        if (name == "none") continue;
        if (!text.empty()) text += ',';
        text.append(name);
    }
    return text;
}

/// Why no candidate fits a spec: the word that no composition has beside the spec's other
/// words, and the compositions that have those others, so that the message names what to
/// change rather than listing every composition.
[[nodiscard]] inline std::string no_composition_fits(std::string_view spec, const parsed_spec& parsed,
                                                     const std::vector<composition_words>& candidates) {
    const std::string start = "store spec '" + std::string(spec) + "': no composition this program was built with has ";
    const std::string extend =
        "; or add a composition to the list the program passes to kvforge::open_store (see kvforge/compositions.hpp)";
    // A word without which some composition fits: name it, and what goes with the others.
    for (const auto& [axis, name] : parsed.chosen) {
        std::string others;
        std::string listed;
        for (const auto& [other_axis, other_name] : parsed.chosen) {
            if (other_axis == axis) continue;
            others += others.empty() ? "" : ",";
            others.append(other_name);
        }
        for (const composition_words& candidate : candidates) {
            if (candidate.persistent != parsed.has_path) continue;
            bool fits = true;
            for (const auto& [other_axis, other_name] : parsed.chosen) {
                fits = fits && (other_axis == axis || candidate.on(other_axis) == other_name);
            }
            if (!fits) continue;
            listed += listed.empty() ? "" : "; ";
            listed += words_of(candidate);
        }
        if (listed.empty()) continue;
        return start + std::string(axis) + " '" + std::string(name) + "'" +
               (others.empty() ? std::string() : " together with " + others) + "; drop '" + std::string(name) +
               "' or name one of: " + listed + extend;
    }
    std::size_t fitting_kind = 0;
    for (const composition_words& candidate : candidates) fitting_kind += candidate.persistent == parsed.has_path;
    return start + (parsed.has_path ? "files" : "no files") + " and these words (of its " +
           std::to_string(fitting_kind) + " compositions for this kind of store, none has two of them together)" +
           extend;
}

/// Picks the composition of candidates a spec names. The spec's words must match; a kind
/// it leaves out prefers the manifest's policy (when a manifest was found), else kvforge's
/// default; ties go to the earlier candidate. Expiry and compression weigh most (they bind
/// the bytes on disk), then store, index, durability and threading.
[[nodiscard]] inline std::size_t choose_composition(std::string_view spec, const parsed_spec& parsed,
                                                    const std::vector<composition_words>& candidates,
                                                    const std::vector<std::pair<std::string_view, std::string_view>>& preferred,
                                                    std::error_code& ec) {
    auto weight = [](std::string_view axis) -> unsigned {
        if (axis == policy_kind::store::name) return 8;
        if (axis == policy_kind::index::name) return 4;
        if (axis == policy_kind::durability::name) return 2;
        if (axis == policy_kind::threading::name) return 1;
        return 16;
    };
    std::size_t best = candidates.size();
    unsigned best_score = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
        const composition_words& candidate = candidates[i];
        if (candidate.persistent != parsed.has_path) continue;
        bool fits = true;
        for (const auto& [axis, name] : parsed.chosen) fits = fits && candidate.on(axis) == name;
        if (!fits) continue;
        unsigned score = 0;
        for (const auto& [axis, name] : preferred) {
            if (parsed.choice(axis).empty() && candidate.recorded(axis) == name) score += weight(axis);
        }
        if (best == candidates.size() || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    if (best == candidates.size()) {
        fail(ec, errc::invalid_argument, no_composition_fits(spec, parsed, candidates));
    }
    return best;
}

/// What to do when open_store cannot read a store: a compressed one needs a composition
/// with its codec, which the default list has not (it links no compression library).
[[nodiscard]] inline std::string open_store_remedy(const composition& on_disk, const composition& opening) {
    if (first_binding_difference(on_disk, opening).starts_with("compression") && on_disk.compression != "none") {
        return "pass open_store a composition list with kvforge::compressed<Codec> of a codec whose name is '" +
               on_disk.compression +
               "' (kvforge::compressed_compositions of <kvforge/compression/compositions.hpp> has kvforge's "
               "codecs), or open it as a kvforge::store with that codec";
    }
    return binding_remedy(on_disk, opening) + " (and the spec words that name them)";
}

}  // namespace kvforge::detail
// ---- end kvforge/runtime/composition_match.hpp ----

namespace kvforge {

namespace detail {

/// open_store's work: parse, read the manifest, choose, check what binds, open.
template <class Key, class Value, class List>
any_store<Key, Value> open_any_store(std::string_view spec, const options& opts, const codec_choice& codecs,
                                     std::error_code& ec) {
    ec.clear();
    const std::vector<spec_word> vocabulary = vocabulary_of<List>::get();
    parsed_spec parsed;
    if (!parse_store_spec(spec, vocabulary, parsed, ec)) return {};

    composition manifest;
    bool has_manifest = false;
    if (parsed.has_path) {
        posix_io io;
        if (!read_manifest_file(io, parsed.path, manifest, has_manifest, ec)) return {};
    }
    using preference = std::pair<std::string_view, std::string_view>;
    std::vector<preference> preferred = {
        {policy_kind::store::name, has_manifest ? std::string_view(manifest.store) : file_log::name},
        {policy_kind::index::name, has_manifest ? std::string_view(manifest.index) : resolved_policies<>::index::name},
        {policy_kind::durability::name,
         has_manifest ? std::string_view(manifest.durability) : resolved_policies<file_log>::durability::name},
        {policy_kind::threading::name, resolved_policies<>::threading::name},
        // Kinds beyond the four are named as the manifest fields that record them.
        {"expiry", manifest.expiry},
        {"compression", manifest.compression}};
    if (!parsed.has_path) preferred.front().second = resolved_policies<>::store::name;

    const std::vector<composition_words> candidates = entries_of<List>::get();
    const std::size_t chosen = choose_composition(spec, parsed, candidates, preferred, ec);
    if (ec) return {};
    const composition_words& words = candidates[chosen];

    erased_description description;
    composition& opening = description.composition;
    opening.format = has_manifest ? manifest.format : format_version;
    opening.store = std::string(words.on(policy_kind::store::name));
    opening.index = std::string(words.on(policy_kind::index::name));
    opening.durability = std::string(words.on(policy_kind::durability::name));
    opening.key_codec = codecs.key_codec;
    opening.value_codec = codecs.value_codec;
    opening.codec_fingerprint = codecs.fingerprint;
    opening.expiry = std::string(words.recorded("expiry"));
    opening.compression = std::string(words.recorded("compression"));
    if (has_manifest) {
        const std::string difference = first_binding_difference(manifest, opening);
        if (!difference.empty()) {
            fail(ec, errc::codec_mismatch,
                 parsed.path + "/" + std::string(manifest_file_name) + ": " + difference +
                     "; " + open_store_remedy(manifest, opening));
            return {};
        }
    }
    description.threading = std::string(words.on(policy_kind::threading::name));
    description.persistent = words.persistent;
    description.spec = words_of(words) + (parsed.has_path ? ":" + parsed.path : std::string());
    auto opened =
        entries_of<List>::template open<Key, Value>(chosen, std::move(description), parsed.path, opts, codecs, ec);
    if (!opened) return {};
    return store_access::make_any<Key, Value>(std::move(opened));
}

/// Runs f, turning an exception (out of memory) into ec, for the error_code forms.
template <class F>
auto without_exceptions(std::error_code& ec, F&& f) noexcept -> decltype(f()) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        fail(ec, std::make_error_code(std::errc::not_enough_memory), "out of memory opening a store");
    } catch (const std::exception& e) {
        fail(ec, errc::codec_failed, e.what());
    }
    return {};
}

/// Opens the store a spec names to read the bytes its files hold, whatever codecs wrote
/// them: the codecs named here stand for Key's and Value's (with Key = Value =
/// std::string, the raw bytes). For kvforge's own tool, which shows and copies any
/// store; users go through open_store, which checks their codecs.
template <class Key, class Value, class List = default_compositions>
any_store<Key, Value> open_store_adopting(std::string_view spec, const options& opts, const codec_choice& codecs,
                                          std::error_code& ec) noexcept {
    return without_exceptions(ec, [&] { return open_any_store<Key, Value, List>(spec, opts, codecs, ec); });
}

}  // namespace detail

/// Opens the store a spec names, e.g. "file_log,sorted,sync_each:data/users" or
/// "memory,hash", or a bare path that opens a store from its MANIFEST. Only the
/// compositions of List are compiled (default: every policy of kvforge). Fails with
/// kvforge::errc::invalid_argument for a spec that names a word kvforge does not know, leaves
/// out what it needs, or contradicts itself, and errc::codec_mismatch when the store's
/// manifest binds it to other codecs; opening errors are those of kvforge::store.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, const options& opts, std::error_code& ec) noexcept {
    return detail::without_exceptions(ec, [&] {
        const detail::codec_choice own{codec<Key>::name(), codec<Value>::name(),
                                       detail::codec_fingerprint(codec<Key>::name(), codec<Value>::name())};
        return detail::open_any_store<Key, Value, List>(spec, opts, own, ec);
    });
}

/// As open_store(spec, opts, ec) with default options.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, std::error_code& ec) noexcept {
    return open_store<Key, Value, List>(spec, options{}, ec);
}

/// As open_store(spec, opts, ec), throwing kvforge::error on failure.
template <class Key, class Value, class List = default_compositions>
[[nodiscard]] any_store<Key, Value> open_store(std::string_view spec, const options& opts = {}) {
    std::error_code ec;
    any_store<Key, Value> opened = open_store<Key, Value, List>(spec, opts, ec);
    detail::throw_if(ec);
    return opened;
}

}  // namespace kvforge
// ---- end kvforge/open_store.hpp ----

// Compiled mode: what the library kvforge::compiled holds is declared, not compiled here.
#ifdef KVFORGE_COMPILED_LIB
// ---- begin kvforge/compiled.hpp ----
/// \file compiled.hpp
/// kvforge's compiled mode: what the library kvforge::compiled holds compiled, declared
/// here as explicit instantiations. kvforge.hpp includes this header when
/// KVFORGE_COMPILED_LIB is defined (linking kvforge::compiled defines it), so that a
/// program compiles only its own code for these, and links the library's:
///
///   - open_store<std::string, std::string> over the default compositions, which
///     compiles every store kvforge has (a store chosen at run time needs them all);
///   - any_store<std::string, std::string>;
///   - the common store types below.
///
/// Anything else (other key and value types, other store types, an open_store narrowed
/// to a composition_list) compiles in the program as it does in header-only mode. The
/// library's sources (src/) define KVFORGE_INSTANTIATE_OPEN_STORE or
/// KVFORGE_INSTANTIATE_STORES before including this header, which turns these
/// declarations into the definitions.

#include <string>
#include <string_view>
#include <system_error>


#ifdef KVFORGE_INSTANTIATE_OPEN_STORE
#define KVFORGE_OPEN_STORE_INSTANTIATION template
#else
#define KVFORGE_OPEN_STORE_INSTANTIATION extern template
#endif
#ifdef KVFORGE_INSTANTIATE_STORES
#define KVFORGE_STORE_INSTANTIATION template
#else
#define KVFORGE_STORE_INSTANTIATION extern template
#endif

namespace kvforge {

namespace detail {
KVFORGE_OPEN_STORE_INSTANTIATION any_store<std::string, std::string>
open_any_store<std::string, std::string, default_compositions>(std::string_view, const options&, const codec_choice&,
                                                               std::error_code&);
}  // namespace detail

KVFORGE_OPEN_STORE_INSTANTIATION class any_store<std::string, std::string>;

KVFORGE_STORE_INSTANTIATION class store<std::string, std::string>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log, sorted_index>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, file_log, thread_safe>;
KVFORGE_STORE_INSTANTIATION class store<std::string, std::string, mmap_file>;

}  // namespace kvforge

#undef KVFORGE_OPEN_STORE_INSTANTIATION
#undef KVFORGE_STORE_INSTANTIATION
// ---- end kvforge/compiled.hpp ----
#endif
// ---- end kvforge/kvforge.hpp ----
