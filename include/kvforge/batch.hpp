#pragma once
/// \file batch.hpp
/// kvforge::batch: puts and erases that a store applies all together or not at all.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "codec.hpp"
#include "detail/byte_order.hpp"
#include "detail/checked_encode.hpp"
#include "error.hpp"

namespace kvforge {

namespace detail {

/// What one operation of a batch does.
enum class batch_op : unsigned char { put = 1, erase = 2 };

/// A batch's operations encoded back to back in one buffer: for each, the op byte,
/// the key length and (for a put) the value length as varints, then the bytes.
/// This is also the payload a file-backed store writes as one batch record.
class batch_buffer {
public:
    void add_put(std::string_view key, std::string_view value) {
        append_header(batch_op::put, key.size(), value.size());
        bytes_.append(key).append(value);
        ++count_;
    }

    void add_erase(std::string_view key) {
        append_header(batch_op::erase, key.size(), 0);
        bytes_.append(key);
        ++count_;
    }

    /// Calls f(op, key, value) for each operation in order (value is empty for erases).
    template <class F>
    void for_each(F&& f) const {
        const char* p = bytes_.data();
        const char* const end = p + bytes_.size();
        while (p < end) {
            const auto op = static_cast<batch_op>(*p++);
            std::uint64_t key_size = 0;
            std::uint64_t value_size = 0;
            p = get_varint(p, end, key_size);
            if (op == batch_op::put) p = get_varint(p, end, value_size);
            const std::string_view key(p, key_size);
            const std::string_view value(p + key_size, value_size);
            p += key_size + value_size;
            f(op, key, value);
        }
    }

    [[nodiscard]] std::size_t count() const noexcept { return count_; }
    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }
    void clear() noexcept {
        bytes_.clear();
        count_ = 0;
    }

private:
    void append_header(batch_op op, std::size_t key_size, std::size_t value_size) {
        char header[1 + 2 * max_varint_size];
        char* p = header;
        *p++ = static_cast<char>(op);
        p = put_varint(p, key_size);
        if (op == batch_op::put) p = put_varint(p, value_size);
        bytes_.append(header, static_cast<std::size_t>(p - header));
    }

    std::string bytes_;
    std::size_t count_ = 0;
};

}  // namespace detail

/// A sequence of puts and erases applied by store::write() atomically: after a crash
/// a batch is wholly present or wholly absent, and readers never see part of it.
/// Operations apply in order, so a later one on the same key wins. Oversized keys and
/// values are refused when added, so write() has nothing left to refuse; the one
/// exception to all-or-nothing is a memory store running out of memory midway through
/// applying a batch, which keeps the operations applied before (a persistent store
/// writes the whole batch as one record first, and recovers it whole).
template <class Key, class Value>
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
