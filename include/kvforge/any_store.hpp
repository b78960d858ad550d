#pragma once
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

#include "backup_options.hpp"
#include "batch.hpp"
#include "codec.hpp"
#include "composition.hpp"
#include "detail/clocks.hpp"
#include "detail/function_ref.hpp"
#include "detail/saturating_time.hpp"
#include "error.hpp"
#include "scan_range.hpp"
#include "stats.hpp"

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
    bool batches_of_any_keys = true;   ///< write() applies a batch of any keys, not only one partition's
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
    /// Catches a read-only persistent store up with its writer (store::refresh).
    virtual std::uint64_t refresh(std::error_code& ec) noexcept { return closed(ec, std::uint64_t{0}); }
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
    /// Whether write() applies a batch of any keys; false for a store whose batches hold only
    /// keys of one partition (kvforge::redis_cluster: one hash slot).
    [[nodiscard]] bool batches_of_any_keys() const noexcept { return description().batches_of_any_keys; }
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

    /// The stored bytes of key's value without copying (mmap_file and disk_index only; see
    /// store::get_view).
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

    /// Catches a store opened with options::read_only up with the writer beside it and
    /// returns how many records that applied (store::refresh). A writable store fails with
    /// errc::invalid_argument, a memory store and a snapshot with errc::not_supported.
    std::uint64_t refresh() { return thrown(&erased::refresh); }
    std::uint64_t refresh(std::error_code& ec) noexcept { return call(&erased::refresh, ec); }

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
