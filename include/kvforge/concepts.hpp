#pragma once
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

#include "detail/data_file.hpp"
#include "detail/log_writer.hpp"

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
/// byte-level operations for a resolved set of policies (see stores/memory.hpp). The
/// library's store policies also state `keeps_files` and `index_in_process`, which the
/// conformance suite reads to skip what a store without them cannot do.
template <class P>
concept store_policy = detail::policy_of_kind<P, policy_kind::store> && requires {
    { P::persistent } -> std::convertible_to<bool>;
    { P::name } -> std::convertible_to<std::string_view>;
};

}  // namespace kvforge
