#pragma once
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

#include "codec.hpp"
#include "detail/assign_bytes.hpp"
#include "error.hpp"
#include "limits.hpp"
#include "scan_range.hpp"

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
