#pragma once
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

#include "../batch.hpp"
#include "../concepts.hpp"
#include "../detail/assign_bytes.hpp"
#include "../detail/function_ref.hpp"
#include "../detail/hash.hpp"
#include "../detail/hash_table.hpp"
#include "../detail/refreshed_keys.hpp"
#include "../detail/thread_buffer.hpp"
#include "../manifest.hpp"
#include "../options.hpp"
#include "../stats.hpp"
#include "cache_table.hpp"
#include "s3fifo.hpp"

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

    /// Inner's refresh(); the values cached may be older than what it applied, so they go.
    std::uint64_t refresh(std::error_code& ec, detail::refreshed_keys* keys = nullptr)
        requires requires(Inner& inner) { inner.refresh(ec, keys); }
    {
        const write_in_flight writing(*this, every_shard, [&] { cache_.clear(); });
        return inner_.refresh(ec, keys);
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
