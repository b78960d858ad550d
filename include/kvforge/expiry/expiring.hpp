#pragma once
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

#include "../batch.hpp"
#include "../concepts.hpp"
#include "../detail/assign_bytes.hpp"
#include "../detail/btree.hpp"
#include "../detail/byte_order.hpp"
#include "../detail/cache_companion.hpp"
#include "../detail/clocks.hpp"
#include "../detail/hash.hpp"
#include "../detail/refreshed_keys.hpp"
#include "../error.hpp"
#include "../limits.hpp"
#include "../manifest.hpp"
#include "../options.hpp"
#include "../pinned_value.hpp"
#include "../stats.hpp"
#include "deadline_file.hpp"
#include "key_deadlines.hpp"

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
        // The data files as the last close left them: a store over tables changes them as
        // it opens (its log's records go into a table), so it has them described once it
        // holds the store's lock and before it changes one.
        std::string data_files;
        bool described = false;
        const auto describe = [&] { described = describe_data_files(file_io, directory, data_files); };
        if constexpr (requires { inner_.open(path, opts, std::move(io), wanted, ec, describe); }) {
            inner_.open(path, opts, std::move(io), wanted, ec, describe);
        } else {
            inner_.open(path, opts, std::move(io), wanted, ec);
            if (!ec) describe();
        }
        if (ec) return;
        // Salvage may drop records the file lists: its open reads the values.
        btree_table loaded;
        std::string bytes;
        if (opts.salvage || !described || !read_deadline_file(file_io, directory, bytes) ||
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
            index_bytes = deadlines_.memory_usage() + key_deadlines_.memory_usage();
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

    /// Inner's refresh(). Reads hide what expired by the values' own headers; the deadline
    /// index (for size() and stats()) moves the entry of each key the refresh changed to
    /// the deadline its value holds now. A refresh that read the store anew (or applied a
    /// clear()) has the index built anew from the values, as an open without a deadlines
    /// file builds it.
    std::uint64_t refresh(std::error_code& ec, detail::refreshed_keys* keys = nullptr)
        requires requires(Inner& inner) { inner.refresh(ec, keys); }
    {
        const key_locks locked(*this, every_key);
        detail::refreshed_keys changed;
        const std::uint64_t applied = inner_.refresh(ec, &changed);
        if (keys != nullptr) keys->add_all(changed);
        if (ec || applied == 0) return applied;
        if (changed.everything()) {
            btree_table rebuilt;
            index_stored_deadlines(rebuilt, ec);
            if (ec) return applied;
            const write_lock lock(index_mutex_);
            deadlines_ = std::move(rebuilt);
            key_deadlines_.reset();
            return applied;
        }
        if (!key_deadlines_.built()) {
            const write_lock lock(index_mutex_);
            key_deadlines_.build(deadlines_, &deadline_header::index_deadline);
        }
        for (const std::string& key : changed.keys()) {
            std::int64_t after = 0;
            bool has_after = false;
            read_stored(key, [&](std::string_view stored) {
                if (const auto deadline = deadline_header::deadline_of(stored)) {
                    after = *deadline;
                    has_after = true;
                }
            }, ec);
            if (ec) return applied;
            const write_lock lock(index_mutex_);
            std::int64_t before = 0;
            const bool has_before = key_deadlines_.find(key, before);
            if (has_before == has_after && before == after) continue;
            if (has_before) deadlines_.erase(deadline_header::index_key(before, key), [](std::string_view) {});
            if (has_after) deadlines_.upsert(deadline_header::index_key(after, key), {}, [](std::string_view) {});
            key_deadlines_.set(key, has_after, after);
        }
        return applied;
    }

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
        key_deadlines_.reset();
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
    mutable mutex_type index_mutex_;  // guards deadlines_ and key_deadlines_
    btree_table deadlines_;
    detail::key_deadlines key_deadlines_;  // a read-only store's, from its first refresh()
    deadline_file_access deadline_file_;  // set while a file store is open for writing
    std::string scratch_;  // a put's stored bytes, reused where one key lock orders every writer
    mutable typename Policies::threading::counter_type internal_reads_;
};

/// Whether a store policy's backend keeps deadlines itself (declares `static constexpr bool
/// keeps_deadlines = true`, as kvforge::redis_cluster's does, which maps them to the keys' own
/// expiry): it then provides put_until, deadline and purge_expired, and takes batches with
/// deadlines, and expiring<> adds no layer over it.
template <class Backend>
concept keeps_deadlines = requires {
    { Backend::keeps_deadlines } -> std::convertible_to<bool>;
} && Backend::keeps_deadlines;

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
    /// The layer that keeps deadlines in front of the values (expiring_backend), unless the
    /// store's backend keeps them itself (detail::keeps_deadlines).
    template <class Policies, class Backend>
    using backend =
        std::conditional_t<detail::keeps_deadlines<Backend>, Backend, detail::expiring_backend<Policies, Backend>>;

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
