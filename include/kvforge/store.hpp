#pragma once
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

#include "batch.hpp"
#include "codec.hpp"
#include "detail/assign_bytes.hpp"
#include "detail/checked_encode.hpp"
#include "detail/clocks.hpp"
#include "detail/policy_pack.hpp"
#include "detail/saturating_time.hpp"
#include "error.hpp"
#include "expiry/expiring.hpp"
#include "limits.hpp"
#include "manifest.hpp"
#include "options.hpp"
#include "pinned_value.hpp"
#include "scan_range.hpp"
#include "snapshot.hpp"
#include "stats.hpp"
#include "stores/log/record_format.hpp"

namespace kvforge {

namespace detail {
struct store_access;  // kvforge's own layers above store (open_store.hpp)
/// The shape of callable a backend's read_many() calls: (index of the key, value bytes).
struct indexed_value_visitor {
    void operator()(std::size_t, std::string_view) const noexcept {}
};
/// How many keys get_many() hands a backend's read_many() at a time: the backend's
/// `read_many_batch` when it declares one, else 32.
template <class Backend>
constexpr std::size_t read_many_batch() {
    if constexpr (requires { Backend::read_many_batch; }) {
        return Backend::read_many_batch;
    } else {
        return 32;
    }
}
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
    using cached_backend_type =
        typename policies::cache::template backend<policies, typename policies::store::template backend<policies>>;
    using backend_type = typename policies::compression::template backend<
        policies, typename policies::expiry::template backend<policies, cached_backend_type>>;
    // Whether expiry keeps each deadline in a header in front of the value, rather than the
    // backend keeping deadlines itself (redis_cluster: the keys' own expiry).
    static constexpr bool deadline_headers =
        policies::expiry_given && !detail::keeps_deadlines<cached_backend_type>;
    using key_param = detail::param_t<Key>;
    using value_param = detail::param_t<Value>;
    // Whether get_view() can hand out a value's bytes without a copy: an uncompressed
    // mmap_file store (in the mapping), or a disk_index store (in a block of its cache).
    // A layer of compressed values has no read_pinned.
    static constexpr bool viewable = requires(const backend_type& b, std::string_view k, pinned_value& out,
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
    /// Whether write() applies a batch of any keys. False for a store policy whose batches
    /// hold only keys of one partition (kvforge::redis_cluster: one hash slot).
    [[nodiscard]] static constexpr bool batches_of_any_keys() noexcept {
        if constexpr (requires { store_policy::batches_of_any_keys; }) {
            return store_policy::batches_of_any_keys;
        } else {
            return true;
        }
    }
    /// The longest encoded value this store takes: kvforge::max_value_size, less the
    /// expiry header's 9 bytes with kvforge::expiring<> (so that a value with a deadline
    /// still fits a file store's record; none where the backend keeps deadlines itself, as
    /// redis_cluster's does) and the compression flag's 1 byte with kvforge::compressed<>
    /// (so that a value that does not shrink still fits).
    static constexpr std::size_t max_value_size =
        kvforge::max_value_size - (deadline_headers ? detail::deadline_header::with_deadline_size : 0) -
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
    void open(std::string_view path, const options& opts, std::error_code& ec) noexcept
        requires persistent
    {
        open_files(path, opts, io_policy{}, ec);
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
            // hands the backend enough keys to overlap their lookups: 32, or what a backend
            // asks for (redis_cluster: a pipeline per network round trip holds more).
            constexpr std::size_t batch = detail::read_many_batch<backend_type>();
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

    /// The stored bytes of key's value, without copying them: a view into the mapped file
    /// (mmap_file), or into the block cache's block (disk_index), that stays valid as long
    /// as the returned pinned_value lives. Needs mmap_file or disk_index.
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
                      "kvforge: get_view() needs kvforge::mmap_file or kvforge::disk_index; with other stores use "
                      "visit() for a view during a callback, or get() for a copy");
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

    /// Catches a read-only store (options::read_only) up with the writer beside it, in
    /// this process or another: applies what the writer wrote since the open or the last
    /// refresh and returns how many records that was (see docs/guide.md, "Readers beside a
    /// writer"). A store open for writing fails with errc::invalid_argument.
    std::uint64_t refresh()
        requires persistent
    {
        std::error_code ec;
        const std::uint64_t applied = catch_up(ec);
        detail::throw_if(ec);
        return applied;
    }
    std::uint64_t refresh(std::error_code& ec) noexcept
        requires persistent
    {
        return catch_up(ec);
    }
    template <class... Args>
    void refresh(Args&&...)
        requires(!persistent)
    {
        static_assert(detail::unavailable<Args...>,
                      "kvforge: refresh() catches a read-only persistent store up with its writer; a memory store "
                      "has no writer beside it");
    }

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
    std::uint64_t catch_up(std::error_code& ec) noexcept {
        std::uint64_t applied = 0;
        if constexpr (persistent) guarded(ec, [&] { applied = backend_.refresh(ec); });
        return applied;
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
        // An index that keeps the records in files of its own (disk_index) names their format.
        if constexpr (requires { index_policy::store_format; }) {
            c.format = index_policy::store_format;
        } else {
            c.format = detail::format_version;
        }
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
