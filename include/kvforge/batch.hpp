#pragma once
/// \file batch.hpp
/// kvforge::batch: puts and erases that a store applies all together or not at all.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "codec.hpp"
#include "detail/byte_order.hpp"
#include "detail/checked_encode.hpp"
#include "detail/clocks.hpp"
#include "detail/saturating_time.hpp"
#include "error.hpp"

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
