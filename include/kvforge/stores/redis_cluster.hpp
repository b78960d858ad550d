#pragma once
/// \file redis_cluster.hpp
/// kvforge::redis_cluster: a store whose records live in a Redis Cluster, under a prefix
/// of the store's name, so that one cluster holds many stores. Outside the umbrella
/// header; it needs hiredis (-lhiredis; CMake: kvforge::redis_cluster).
///
///     #include <kvforge/stores/redis_cluster.hpp>
///     kvforge::store<std::string, std::string, kvforge::redis_cluster, kvforge::sync_each> blocks{
///         "redis_cluster:10.0.0.5:7000,10.0.0.6:7000/blocks"};   // seed nodes / store name
///
/// What each call becomes, what survives a failover and the limits: docs/scale-out.md.
/// Its parts, each in stores/redis/: hash_slot.hpp (CRC16 slots and hash tags),
/// reply.hpp (a parsed reply, its redirect), node_connection.hpp (one node, its
/// pipeline, the timeouts), slot_map.hpp (slot to master), cluster_client.hpp (the
/// redirects and the tries again), location.hpp (the store's seeds and name),
/// write_buffer.hpp (a write's SET, and the writes buffered<> and async_worker<> hold),
/// background_writer.hpp (async_worker<>'s numbers and thread).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../backup_options.hpp"
#include "../batch.hpp"
#include "../composition.hpp"
#include "../concepts.hpp"
#include "../detail/write_version.hpp"
#include "../durability/sync_each.hpp"
#include "../error.hpp"
#include "../options.hpp"
#include "../stats.hpp"
#include "redis/background_writer.hpp"
#include "redis/cluster_client.hpp"
#include "redis/hash_slot.hpp"
#include "redis/location.hpp"
#include "redis/node_connection.hpp"
#include "redis/reply.hpp"
#include "redis/write_buffer.hpp"

namespace kvforge {

namespace detail {

/// The byte-level store behind store<K, V, redis_cluster, ...>: each record is the
/// cluster's string key "<name>/<encoded key>" holding the encoded value. One
/// cluster_client serves the store, under one mutex taken exclusive by every call (reads
/// too: a connection carries one pipeline at a time): the threading policy's, or with
/// async_worker<> a std::mutex, which the store's writer thread takes too.
template <class Policies>
class redis_cluster_backend {
    using durability = typename Policies::durability;
    /// async_worker<>: writes wait in the buffer, numbered; a thread of the store's sends
    /// them and waits for a replica (WAIT 1), and wait_durable(n) returns once it has.
    static constexpr bool asynchronous = durability::name == "async_worker";
    using mutex_type = std::conditional_t<asynchronous, std::mutex, typename Policies::threading::mutex_type>;
    using lock_type = std::unique_lock<mutex_type>;
    using command = redis::command;

    static_assert(!Policies::index::ordered,
                  "kvforge: kvforge::redis_cluster spreads keys over hash slots and keeps no order across them, so "
                  "it takes kvforge::hash_index, not sorted_index; docs/scale-out.md gives the design for ordered "
                  "stores beyond one machine");
    static_assert(!Policies::expiry_given ||
                      std::is_same_v<typename Policies::expiry::clock, std::chrono::system_clock>,
                  "kvforge: kvforge::redis_cluster keeps deadlines as the keys' own expiry, in the cluster's Unix "
                  "time, so it takes kvforge::expiring<std::chrono::system_clock> (the default) and no other clock");
    static_assert(!Policies::cache_given,
                  "kvforge: kvforge::redis_cluster takes no cache policy: a cache in this process would serve values "
                  "that other clients of the cluster have replaced; remove kvforge::read_cache<>");
    static_assert(!Policies::compression_given,
                  "kvforge: kvforge::redis_cluster takes no compression policy yet; remove kvforge::compressed<>");
    /// sync_each: every write waits for a replica (WAIT 1); else buffered<Bytes, Millis> or async_worker<>.
    static constexpr bool waits_for_replica = std::is_same_v<durability, sync_each>;

    /// The bytes of buffered writes at which a write sends them (buffered<>) or waits for
    /// the writer thread to send them (async_worker<>).
    static constexpr std::size_t buffer_limit() {
        if constexpr (asynchronous) {
            return durability::queue_bytes;
        } else if constexpr (!waits_for_replica) {
            return durability::buffer_bytes;
        } else {
            return 0;
        }
    }

public:
    /// With async_worker<>, writes hand out sequence numbers for wait_durable().
    static constexpr bool sequenced = asynchronous;
    /// With kvforge::expiring<>, deadlines are the keys' own expiry (SET ... PXAT), which the
    /// cluster enforces: expiring<> adds no layer (see expiry/expiring.hpp).
    static constexpr bool keeps_deadlines = Policies::expiry_given;
    /// get_many() hands read_many() this many keys at a time: each call is a network round
    /// trip, so a deeper pipeline than the 32 of a local store pays.
    static constexpr std::size_t read_many_batch = 1024;

    redis_cluster_backend() = default;
    redis_cluster_backend(const redis_cluster_backend&) = delete;
    redis_cluster_backend& operator=(const redis_cluster_backend&) = delete;
    /// Closes as close() does; an error is lost here (close() reports it).
    ~redis_cluster_backend() {
        std::error_code ignored;
        close(ignored);
    }

    /// Connects to the cluster through the location's seeds, and checks the codecs the
    /// store's codec key records (see check_codecs). The I/O policy has nothing to bind:
    /// the store has no files.
    template <class IO>
    void open(std::string_view path, const kvforge::options& opts, IO&& /*io*/, const composition& made_of,
              std::error_code& ec) {
        const lock_type lock(mutex_);
        if (open_) {
            fail(ec, errc::invalid_argument, "redis_cluster: the store is open already; close() it first");
            return;
        }
        redis_location where;
        if (!parse_redis_location(path, where, ec)) return;
        const redis::timeouts limits{.connect = std::chrono::milliseconds(opts.remote_connect_millis),
                                     .command = std::chrono::milliseconds(opts.remote_command_millis)};
        if (!client_.connect(std::move(where.seeds), limits, ec)) return;
        prefix_ = where.name + "/";
        pattern_ = redis_prefix_pattern(prefix_);
        wait_millis_ = std::to_string(std::max<std::uint64_t>(opts.remote_command_millis / 2, 1));
        read_only_ = opts.read_only;
        if (!check_codecs(where.name, made_of, ec)) {
            client_.disconnect();
            return;
        }
        open_ = true;
        if constexpr (asynchronous) {
            writer_.start(
                mutex_, [this] { return !pending_.empty(); },
                [this](std::error_code& failed) {
                    if (send_pending(failed)) replicate(failed);
                });
        }
    }

    /// Sends what the buffer holds (with async_worker<>, stops the writer thread first, and
    /// waits for a replica to have every write) and closes every connection.
    void close(std::error_code& ec) {
        lock_type lock(mutex_);
        if (!open_) return;
        if constexpr (asynchronous) {
            writer_.stop(lock);
            if (send_pending(ec)) replicate(ec);
            if (!ec && writer_.failure()) writer_.report_failure(ec);
        } else {
            send_pending(ec);
        }
        client_.disconnect();
        open_ = false;
        if constexpr (asynchronous) writer_.wake_waiters();
    }

    /// Whether open() succeeded and close() has not run since.
    [[nodiscard]] bool is_open() const noexcept { return open_; }

    /// Writes value under key (SET): at once with sync_each, into the buffer otherwise.
    /// With async_worker<>, returns the write's sequence number.
    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        return store_value(key, value, std::nullopt, ec);
    }

    /// With kvforge::expiring<>: writes value under key to expire at deadline (ticks of the
    /// system clock), in whole milliseconds rounded down (SET ... PXAT), so that the key is
    /// absent from its deadline on. A deadline that has come removes the key.
    std::uint64_t put_until(std::string_view key, std::string_view value, std::int64_t deadline, std::error_code& ec)
        requires keeps_deadlines
    {
        return store_value(key, value, redis::unix_millis(deadline), ec);
    }

    /// With kvforge::expiring<>: key's deadline (PEXPIRETIME, Redis 7), in ticks of the
    /// system clock, whole milliseconds; nullopt when it has none or is absent.
    std::optional<std::int64_t> deadline(std::string_view key, std::error_code& ec) const
        requires keeps_deadlines
    {
        const lock_type lock(mutex_);
        const std::optional<long long> millis = readable(ec) ? integer_of("PEXPIRETIME", key, ec) : std::nullopt;
        if (!millis || *millis < 0) return std::nullopt;
        using duration = std::chrono::system_clock::duration;
        return std::chrono::duration_cast<duration>(std::chrono::milliseconds(*millis)).count();
    }

    /// With kvforge::expiring<>: nothing to do, as the cluster drops expired keys itself
    /// (when they are read, and by its own sampling); returns 0.
    std::size_t purge_expired(std::error_code& ec)
        requires keeps_deadlines
    {
        ec.clear();
        return 0;
    }

    /// Removes key (DEL); true when it existed. Buffered writes are sent first.
    bool erase(std::string_view key, std::error_code& ec) {
        const lock_type lock(mutex_);
        if (!writable(ec) || !send_pending(ec)) return false;
        version_.bump();
        const std::string k = prefix_ + std::string(key);
        std::vector<redis::reply> replies;
        if (!write_on_slot({command{"DEL", k}}, redis::hash_slot(k), replies, ec)) return false;
        number_sent_write();
        const bool existed = replies[0].is_integer() && replies[0].integer() > 0;
        if (existed) erases_ += 1;
        return existed;
    }

    /// Applies a batch as one MULTI/EXEC on the master of the one slot all its keys hash
    /// to; a batch over several slots is refused, with nothing written.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        const lock_type lock(mutex_);
        if (!writable(ec) || !send_pending(ec)) return 0;
        version_.bump();
        std::vector<std::string> keys;
        std::vector<std::string_view> values;
        std::vector<std::optional<std::string>> deadlines;
        std::vector<bool> erasing;
        ops.for_each_with_deadline(
            [&](batch_op op, std::string_view key, std::string_view value, std::optional<std::int64_t> deadline) {
                keys.push_back(prefix_ + std::string(key));
                values.push_back(value);
                deadlines.push_back(deadline ? std::optional<std::string>(redis::unix_millis(*deadline)) : std::nullopt);
                erasing.push_back(op == batch_op::erase);
            });
        const std::uint16_t slot = redis::hash_slot(keys.front());
        for (const std::string& k : keys) {
            if (redis::hash_slot(k) != slot) {
                fail(ec, errc::invalid_argument,
                     "redis_cluster: a batch is applied all or nothing only when its keys share a hash slot "
                     "(MULTI/EXEC runs on one node), and keys '" + keys.front() + "' and '" + k +
                         "' do not; give the keys of one batch a common hash tag, e.g. '{user42}.name' and "
                         "'{user42}.mail'. Nothing was written");
                return 0;
            }
        }
        std::vector<command> commands{command{"MULTI"}};
        for (std::size_t i = 0; i < keys.size(); ++i) {
            commands.push_back(erasing[i] ? command{"DEL", keys[i]} : redis::set_command(keys[i], values[i], deadlines[i]));
        }
        commands.push_back(command{"EXEC"});
        std::vector<redis::reply> replies;
        if (!write_on_slot(std::move(commands), slot, replies, ec)) return 0;
        const redis::reply& exec = replies[keys.size() + 1];
        if (!exec.is_array()) {
            redis::cluster_client::refused(where(slot), command{"EXEC"}, exec, ec);
            return 0;
        }
        for (std::size_t i = 0; i < keys.size() && i < exec.get().elements; ++i) {
            if (!erasing[i]) {
                puts_ += 1;
            } else if (exec.get().element[i]->type == REDIS_REPLY_INTEGER && exec.get().element[i]->integer > 0) {
                erases_ += 1;
            }
        }
        batches_ += 1;
        return number_sent_write();
    }

    /// Calls on_value(value bytes) when key exists (GET); returns whether it did.
    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        const lock_type lock(mutex_);
        if (!readable(ec)) return false;
        const std::string k = prefix_ + std::string(key);
        const command get{"GET", k};
        std::vector<redis::reply> replies;
        gets_ += 1;
        if (!client_.run({.slot = redis::hash_slot(k), .commands = {&get, 1}}, replies, ec)) return false;
        if (!value_reply(replies[0], k, ec)) return false;
        on_value(replies[0].text());
        return true;
    }

    /// Copies key's value into out; returns whether key exists.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        return read(key, [&](std::string_view value) { out.assign(value); }, ec);
    }

    /// Calls on_value(i, value bytes) for each keys[i] that exists: one pipeline of GETs per master.
    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& ec) const {
        const lock_type lock(mutex_);
        if (!readable(ec)) return;
        std::vector<std::string> full;
        full.reserve(keys.size());
        for (const std::string_view key : keys) full.push_back(prefix_ + std::string(key));
        gets_ += keys.size();
        get_each(full, [&](std::size_t i, const redis::reply& value) { on_value(i, value.text()); }, ec);
    }

    /// Whether key exists (EXISTS).
    bool contains(std::string_view key, std::error_code& ec) const {
        const lock_type lock(mutex_);
        if (!readable(ec)) return false;
        gets_ += 1;
        const std::optional<long long> count = integer_of("EXISTS", key, ec);
        return count && *count > 0;
    }

    /// Calls visitor(key, value) for every record of the store: SCAN of the store's prefix
    /// on every master, then a pipeline of GETs for each page of keys. The store's mutex is
    /// held while a page is read, not while the visitor runs, so the visitor may call the
    /// store. A key written or erased during the walk may be visited or not; no key is
    /// visited twice.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        key_walk walk;
        {
            const lock_type lock(mutex_);
            if (!readable(ec)) return;
            walk.masters = client_.masters();
        }
        std::vector<std::string> page;
        std::vector<std::pair<std::size_t, std::string>> values;  // index in page, value
        while (!walk.done()) {
            values.clear();
            {
                const lock_type lock(mutex_);
                if (!readable(ec) || !next_page(walk, page, ec)) return;
                if (!get_each(page, [&](std::size_t i, const redis::reply& value) {
                        values.emplace_back(i, std::string(value.text()));
                    }, ec)) {
                    return;
                }
            }
            for (const auto& [i, value] : values) {
                visitor(std::string_view(page[i]).substr(prefix_.size()), std::string_view(value));
            }
        }
    }

    /// The store's keys, counted by a SCAN of its prefix on every master: exact when no
    /// write runs meanwhile. Throws kvforge::error when the cluster cannot be read.
    [[nodiscard]] std::size_t size() const {
        const lock_type lock(mutex_);
        std::error_code ec;
        const std::size_t count = count_keys(ec);
        throw_if(ec);
        return count;
    }

    /// Removes the store's keys, and no other: SCAN of its prefix on every master, UNLINK
    /// of each key found. Keys written meanwhile may stay.
    void clear(std::error_code& ec) {
        const lock_type lock(mutex_);
        if (!writable(ec)) return;
        version_.bump();
        pending_.clear();
        scan_keys([&](const std::vector<std::string>& page) {
            return run_per_key("UNLINK", page, [](std::size_t, const redis::reply&) {}, ec);
        }, ec);
    }

    /// live_keys by SCAN (as size()) and live_bytes by a pipeline of STRLEN for each page
    /// of keys: exact when no write runs meanwhile; puts, gets, erases, batches and syncs
    /// (WAIT commands) as this process counted them since the open. Throws kvforge::error
    /// when the cluster cannot be read.
    [[nodiscard]] kvforge::stats stats() const {
        const lock_type lock(mutex_);
        std::error_code ec;
        kvforge::stats s;
        if (readable(ec)) {
            scan_keys([&](const std::vector<std::string>& page) {
                for (const std::string& k : page) s.live_bytes += k.size() - prefix_.size();
                s.live_keys += page.size();
                return run_per_key("STRLEN", page, [&](std::size_t, const redis::reply& length) {
                    if (length.is_integer()) s.live_bytes += static_cast<std::uint64_t>(length.integer());
                }, ec);
            }, ec);
        }
        throw_if(ec);
        s.puts = puts_;
        s.gets = gets_;
        s.erases = erases_;
        s.batches = batches_;
        s.syncs = syncs_;
        return s;
    }

    /// Sends the buffered writes, one pipeline per master.
    void flush(std::error_code& ec) {
        const lock_type lock(mutex_);
        send_pending(ec);
    }

    /// Sends the buffered writes and waits until each master has passed every write it
    /// took on this store's connection to a replica (WAIT 1 on each).
    void sync(std::error_code& ec) {
        const lock_type lock(mutex_);
        if (open_ && send_pending(ec)) replicate(ec);
    }

    /// With async_worker<>: blocks until a replica has every write up to sequence, or the
    /// writer thread failed (then ec says why).
    void wait_durable(std::uint64_t sequence, std::error_code& ec)
        requires asynchronous
    {
        lock_type lock(mutex_);
        writer_.wait(lock, [&] { return writer_.durable() >= sequence || writer_.failure() || !open_; });
        if (writer_.durable() >= sequence) {
            ec.clear();
        } else if (writer_.failure()) {
            writer_.report_failure(ec);
        } else {
            fail(ec, errc::store_closed, "redis_cluster: the store was closed while wait_durable() waited");
        }
    }

    /// With async_worker<>: every write up to this sequence number is on a replica.
    [[nodiscard]] std::uint64_t durable_sequence() const noexcept
        requires asynchronous
    {
        return writer_.durable();
    }

    /// Nothing to do: the cluster's nodes reclaim their own memory.
    void compact(std::error_code& /*ec*/) {}

    /// Reads every record of the store (as for_each does) and counts them: the cluster
    /// keeps no checksums a client could check.
    [[nodiscard]] verify_report verify(std::error_code& ec) const {
        verify_report report;
        for_each([&](std::string_view, std::string_view) { ++report.records_checked; }, ec);
        return report;
    }

    /// A number that every write through this store object moves on (writes of other
    /// clients do not): what any_store asks of a backend, for the scans a hash index has not.
    [[nodiscard]] std::uint64_t write_version() const noexcept { return version_.load(); }

    /// Reads go to the cluster, so there is nothing to catch up with.
    std::uint64_t refresh(std::error_code& ec) {
        ec.clear();
        return 0;
    }

    /// Refused: the store has no files; kvforge::copy copies it into any other store.
    void backup(std::string_view /*dest*/, const backup_options& /*how*/, std::error_code& ec) {
        fail(ec, errc::not_supported,
             "redis_cluster: a store in a cluster has no files to back up; copy it with kvforge::copy(src, dst)");
    }

private:
    /// What put and put_until do: SET, with PXAT when the key has a deadline.
    std::uint64_t store_value(std::string_view key, std::string_view value, std::optional<std::string> pxat,
                              std::error_code& ec) {
        lock_type lock(mutex_);
        if (!writable(ec)) return 0;
        version_.bump();
        if constexpr (waits_for_replica) {
            const std::string k = prefix_ + std::string(key);
            std::vector<redis::reply> replies;
            if (write_on_slot({redis::set_command(k, value, pxat)}, redis::hash_slot(k), replies, ec)) puts_ += 1;
            return 0;
        } else {
            pending_.add(prefix_ + std::string(key), value, std::move(pxat));
            puts_ += 1;
            if constexpr (asynchronous) {
                const std::uint64_t sequence = writer_.number_buffered();
                // A full buffer holds the writer back until the writer thread has sent it.
                writer_.wait(lock, [&] { return pending_.bytes() < buffer_limit() || writer_.failure(); });
                return sequence;
            } else {
                if (pending_.bytes() >= buffer_limit() ||
                    pending_.age() >= std::chrono::milliseconds(durability::flush_millis)) {
                    send_pending(ec);
                }
                return 0;
            }
        }
    }


    bool readable(std::error_code& ec) const {
        if (open_) return send_pending(ec);
        fail(ec, errc::store_closed, "redis_cluster: the store is not open");
        return false;
    }

    bool writable(std::error_code& ec) const {
        if (!open_) {
            fail(ec, errc::store_closed, "redis_cluster: the store is not open");
        } else if (read_only_) {
            fail(ec, errc::read_only, "redis_cluster: the store " + prefix_ + " was opened with options::read_only");
        } else if constexpr (asynchronous) {
            if (writer_.failure()) writer_.report_failure(ec);
        }
        return !ec;
    }

    /// The integer reply of `verb NAME/key` (EXISTS, PEXPIRETIME), or nullopt with ec set.
    std::optional<long long> integer_of(std::string_view verb, std::string_view key, std::error_code& ec) const {
        const std::string k = prefix_ + std::string(key);
        const command c{verb, k};
        std::vector<redis::reply> replies;
        if (!client_.run({.slot = redis::hash_slot(k), .commands = {&c, 1}}, replies, ec)) return std::nullopt;
        if (!replies[0].is_integer()) {
            redis::cluster_client::refused(where(redis::hash_slot(k)), c, replies[0], ec);
            return std::nullopt;
        }
        return replies[0].integer();
    }

    /// The store's codec key, "NAME" (no record's key: each holds '/' after the name, and a
    /// name holds none), records the codecs of the store's keys and values, as a MANIFEST
    /// does for a store on disk: an open with other codecs fails with errc::codec_mismatch
    /// rather than serve bytes the program would misread. A store without the key (new, or
    /// written before stores had it) gets it at its first open for writing.
    bool check_codecs(const std::string& name, const composition& made_of, std::error_code& ec) {
        const std::string recorded =
            "kvforge redis_cluster store\nkey codec " + made_of.key_codec + "\nvalue codec " + made_of.value_codec;
        const std::uint16_t slot = redis::hash_slot(name);
        // SET NX then GET: whichever open sets the key first, each compares with what it holds.
        const command set{"SET", name, recorded, "NX"};
        const command get{"GET", name};
        const std::vector<command> commands = read_only_ ? std::vector<command>{get} : std::vector<command>{set, get};
        std::vector<redis::reply> replies;
        if (!client_.run({.slot = slot, .commands = commands}, replies, ec)) return false;
        for (std::size_t i = 0; i < commands.size(); ++i) {
            if (replies[i].is_error()) {
                redis::cluster_client::refused(where(slot), commands[i], replies[i], ec);
                return false;
            }
        }
        if (replies.back().is_nil()) return true;  // read-only, and no writer has opened it yet
        if (replies.back().text() == recorded) return true;
        std::string says(replies.back().text());
        std::replace(says.begin(), says.end(), '\n', ';');
        fail(ec, errc::codec_mismatch,
             "redis_cluster: the store " + name + " holds keys and values of other codecs (its key '" + name +
                 "' says: " + says + "), not '" + made_of.key_codec + "' and '" + made_of.value_codec +
                 "'; open it with the types that wrote it");
        return false;
    }

    /// The node serving slot, for an error's message.
    std::string where(std::uint16_t slot) const { return client_.master_of(slot); }

    /// Runs commands on slot's master, with WAIT 1 after them under sync_each; checks no
    /// reply is an error and, under sync_each, that a replica took the writes.
    bool write_on_slot(std::vector<command> commands, std::uint16_t slot, std::vector<redis::reply>& replies,
                       std::error_code& ec) const {
        if constexpr (waits_for_replica) commands.push_back(command{"WAIT", "1", wait_millis_});
        if (!client_.run({.slot = slot, .commands = commands}, replies, ec)) return false;
        for (std::size_t i = 0; i < replies.size(); ++i) {
            if (replies[i].is_error()) {
                redis::cluster_client::refused(where(slot), commands[i], replies[i], ec);
                return false;
            }
        }
        if constexpr (waits_for_replica) {
            syncs_ += 1;
            return replicated(replies.back(), where(slot), ec);
        }
        return true;
    }

    /// Whether a WAIT reply says a replica has the writes; else ec says that none had them in time.
    bool replicated(const redis::reply& wait, const std::string& node, std::error_code& ec) const {
        if (wait.is_integer() && wait.integer() >= 1) return true;
        fail(ec, std::make_error_code(std::errc::timed_out),
             "redis_cluster: the master " + node + " passed the write to no replica within " + wait_millis_ +
                 " ms (WAIT 1); it is on the master only, and lost if the master fails before a replica has it");
        return false;
    }

    /// Whether a GET reply holds a value: false for nil, and false with ec set for an error.
    bool value_reply(const redis::reply& value, const std::string& key, std::error_code& ec) const {
        if (value.is_nil()) return false;
        if (value.is_error()) {
            redis::cluster_client::refused(where(redis::hash_slot(key)), command{"GET", key}, value, ec);
            return false;
        }
        return true;
    }

    /// GETs keys, one pipeline per master, calling on_value(i, reply) for each that exists.
    template <class OnValue>
    bool get_each(const std::vector<std::string>& keys, OnValue&& on_value, std::error_code& ec) const {
        std::error_code refusal;
        const bool ran = run_per_key("GET", keys, [&](std::size_t i, const redis::reply& value) {
            if (!refusal && value_reply(value, keys[i], refusal)) on_value(i, value);
        }, ec);
        if (refusal) ec = refusal;
        return ran && !ec;
    }

    /// Runs `verb key` for each of keys (full cluster keys), one pipeline per master,
    /// calling on_reply(i, reply) for keys[i]; false with ec set when a node failed.
    template <class OnReply>
    bool run_per_key(std::string_view verb, const std::vector<std::string>& keys, OnReply&& on_reply,
                     std::error_code& ec) const {
        std::vector<command> commands;
        std::vector<std::uint16_t> slots;
        commands.reserve(keys.size());
        slots.reserve(keys.size());
        for (const std::string& k : keys) {
            commands.push_back(command{verb, k});
            slots.push_back(redis::hash_slot(k));
        }
        return client_.run_each(commands, slots, on_reply, ec);
    }

    /// A walk over the store's keys, a SCAN page at a time, master by master.
    struct key_walk {
        std::vector<std::string> masters;
        std::size_t master = 0;            ///< the master SCAN runs on
        std::string cursor = "0";          ///< where its SCAN goes on
        std::unordered_set<std::string> seen;  ///< its keys given so far: SCAN may give a key twice
        [[nodiscard]] bool done() const noexcept { return master == masters.size(); }
    };

    /// Calls on_page(keys) with each page of the store's keys that SCAN on each master
    /// gives (each key once), until it returns false.
    template <class OnPage>
    void scan_keys(OnPage&& on_page, std::error_code& ec) const {
        key_walk walk;
        walk.masters = client_.masters();
        std::vector<std::string> page;
        while (!walk.done()) {
            if (!next_page(walk, page, ec)) return;
            if (!page.empty() && !on_page(page)) return;
        }
    }

    /// One SCAN of the store's prefix where walk stands: page gets the keys it has not given
    /// yet (maybe none), and walk moves on; false with ec set when the node failed.
    bool next_page(key_walk& walk, std::vector<std::string>& page, std::error_code& ec) const {
        const std::string& master = walk.masters[walk.master];
        std::vector<redis::reply> replies;
        const command scan{"SCAN", walk.cursor, "MATCH", pattern_, "COUNT", "1000"};
        if (!client_.run_on(master, {&scan, 1}, replies, ec)) return false;
        const redis::reply& r = replies[0];
        if (!r.is_array() || r.get().elements != 2 || r.get().element[1]->type != REDIS_REPLY_ARRAY) {
            redis::cluster_client::refused(master, scan, r, ec);
            return false;
        }
        page.clear();
        const redisReply& keys = *r.get().element[1];
        for (std::size_t i = 0; i < keys.elements; ++i) {
            std::string k(redis::reply::text_of(*keys.element[i]));
            if (walk.seen.insert(k).second) page.push_back(std::move(k));
        }
        walk.cursor = std::string(redis::reply::text_of(*r.get().element[0]));
        if (walk.cursor == "0") {
            ++walk.master;
            walk.seen.clear();
        }
        return true;
    }

    std::size_t count_keys(std::error_code& ec) const {
        std::size_t count = 0;
        if (!readable(ec)) return 0;
        scan_keys([&](const std::vector<std::string>& page) {
            count += page.size();
            return true;
        }, ec);
        return count;
    }

    /// Sends the buffered writes (SET each, one pipeline per master) and empties the
    /// buffer; false with ec set when a write failed (the others may have been applied).
    bool send_pending(std::error_code& ec) const {
        if (pending_.empty()) return true;
        std::vector<command> sets;
        std::vector<std::uint16_t> slots;
        pending_.commands(sets, slots);
        std::error_code refusal;
        client_.run_each(sets, slots, [&](std::size_t i, const redis::reply& r) {
            if (!refusal && r.is_error()) redis::cluster_client::refused(where(slots[i]), sets[i], r, refusal);
        }, ec);
        if (refusal && !ec) ec = refusal;
        pending_.clear();
        if (ec) return false;
        mark_sent();
        return true;
    }

    /// Waits until each master has passed every write it took on this store's connection
    /// to a replica (WAIT 1 on each); with async_worker<>, then every write sent so far is
    /// durable.
    void replicate(std::error_code& ec) const {
        std::uint64_t sent = 0;
        if constexpr (asynchronous) sent = writer_.sent();
        const command wait{"WAIT", "1", wait_millis_};
        std::vector<redis::reply> replies;
        for (const std::string& master : client_.masters()) {
            syncs_ += 1;
            if (!client_.run_on(master, {&wait, 1}, replies, ec) || !replicated(replies[0], master, ec)) return;
        }
        if constexpr (asynchronous) writer_.mark_durable(sent);
    }

    /// With async_worker<>: records that every write numbered so far is on its master.
    void mark_sent() const {
        if constexpr (asynchronous) writer_.mark_sent();
    }

    /// With async_worker<>: numbers a write just sent at once (an erase, a batch); returns
    /// its number (0 without async_worker<>).
    std::uint64_t number_sent_write() const {
        if constexpr (asynchronous) {
            return writer_.number_sent();
        } else {
            return 0;
        }
    }

    mutable mutex_type mutex_;
    mutable redis::cluster_client client_;
    // Buffered writes; reads send them first, so a read sees every write before it.
    mutable redis::write_buffer pending_;
    std::string prefix_;
    std::string pattern_;
    std::string wait_millis_ = "1000";
    bool read_only_ = false;
    bool open_ = false;
    std::uint64_t puts_ = 0;
    mutable std::uint64_t gets_ = 0;
    std::uint64_t erases_ = 0;
    std::uint64_t batches_ = 0;
    mutable std::uint64_t syncs_ = 0;
    detail::write_version<Policies::threading::concurrent || asynchronous> version_;
    // async_worker<>'s numbering and thread; nothing for the other durabilities.
    struct no_background_writer {};
    [[no_unique_address]] mutable std::conditional_t<asynchronous, redis::background_writer, no_background_writer>
        writer_;
};

}  // namespace detail

/// Store policy: records live in a Redis Cluster, under "<name>/" in the keyspace the
/// store's location names ("redis_cluster:HOST:PORT,.../NAME"); hash_index only. Takes
/// kvforge::sync_each (each write waits for a replica: WAIT 1) or kvforge::buffered<>
/// (writes pipelined, sent at flush(), when the buffer holds Bytes, or at the first write
/// after Millis). See docs/scale-out.md.
struct redis_cluster {
    using policy_kind = kvforge::policy_kind::store;
    static constexpr bool persistent = true;
    static constexpr std::string_view name = "redis_cluster";
    static constexpr bool keeps_files = false;       ///< records in the cluster: no directory, no files
    static constexpr bool index_in_process = false;  ///< the cluster's nodes hold the keys; this process holds none
    /// A batch holds keys of one hash slot only; kvforge::copy puts into it record by record.
    static constexpr bool batches_of_any_keys = false;
    template <class Policies>
    using backend = detail::redis_cluster_backend<Policies>;
};

static_assert(store_policy<redis_cluster>);

}  // namespace kvforge
